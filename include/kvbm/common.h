/* kvbm/common.h - export macros, the status enum, last-error message, version.
 *
 * Every kvbm function that can fail returns a kvbm_status. KVBM_OK is 0; errors are
 * negative. Values are append-only: never renumbered, never reused.
 */
#ifndef KVBM_COMMON_H
#define KVBM_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "kvbm/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#  define KVBM_API       __attribute__((visibility("default")))
#  define KVBM_NODISCARD __attribute__((warn_unused_result))
#else
#  define KVBM_API
#  define KVBM_NODISCARD
#endif

/* X(name, value, message). Append only. */
#define KVBM_STATUS_MAP(X)                                                              \
    X(OK,             0, "success")                                                     \
    X(EINVAL,        -1, "invalid argument (NULL, wrong handle kind, foreign block, bad count)") \
    X(ENOMEM,        -2, "out of memory")                                               \
    X(ENOENT,        -3, "no block or entry for that hash")                             \
    X(EBUSY,         -4, "object still has outstanding users")                          \
    X(EEXHAUSTED,    -5, "not enough reset and inactive blocks for the allocation")     \
    X(EPOISONED,     -6, "manager unusable after an internal invariant violation")      \
    X(EPROTO,        -7, "malformed or non-canonical encoded data")                     \
    X(ESIZE,         -8, "block size mismatch (see expected/actual out-parameters)")    \
    X(ECONFIG,       -9, "invalid configuration (see kvbm_last_error())")               \
    X(EBACKEND,     -10, "inactive backend construction failed")                       \
    X(ERESET_MISMATCH, -11, "reset pool count mismatch after draining the inactive pool") \
    X(EATTACH_IS_MULTIPLE, -12, "attachment type is already registered as multiple")    \
    X(EATTACH_IS_UNIQUE,   -13, "attachment type is already registered as unique")      \
    X(ERANGE,       -14, "value out of the supported range")                            \
    X(EFULL,        -15, "container is full")                                           \
    X(EEMPTY,       -16, "container is empty")                                          \
    X(EINCOMPLETE,  -17, "block is not complete")                                       \
    X(EINSUFFICIENT, -18, "not enough tokens")                                          \
    X(EIO,          -19, "I/O error")                                                   \
    X(ETIMEDOUT,    -20, "timed out")                                                   \
    X(ECLOSED,      -21, "stream or channel closed")                                   \
    X(EOVERFLOW,    -22, "count or size would overflow")                               \
    X(EADDRINUSE,   -23, "address already in use")                                     \
    X(ESTATE,       -24, "operation not valid in the object's current state")          \
    X(ECONNECT,     -25, "cannot connect to the server or peer")                       \
    X(EUNSUPPORTED, -26, "unsupported format, option or feature")                      \
    X(ELAGGED,      -27, "subscriber lagged behind; events were lost")
/* append only; never renumber, never reuse a retired value */

#define KVBM__STATUS_ENUM(name, val, msg) KVBM_##name = (val),
typedef enum kvbm_status { KVBM_STATUS_MAP(KVBM__STATUS_ENUM) } kvbm_status;
#undef KVBM__STATUS_ENUM

/**
 * kvbm_strerror() - human-readable text of a status code.
 * Returns static storage, never NULL ("unknown kvbm status" for values not in the table).
 * Threads: any.
 */
KVBM_API const char *kvbm_strerror(kvbm_status s);

/**
 * kvbm_status_name() - symbolic name of a status code, e.g. "KVBM_EBUSY".
 * Returns static storage, never NULL ("KVBM_UNKNOWN" for values not in the table).
 */
KVBM_API const char *kvbm_status_name(kvbm_status s);

/**
 * kvbm_last_error() - detail message of the last failed kvbm call on this thread that
 * recorded one (configuration validation, misuse, size mismatch). Empty string if none.
 * Returns thread-local storage valid until the next kvbm call on this thread.
 * Successful calls do not clear it; call kvbm_clear_last_error() to reset.
 */
KVBM_API const char *kvbm_last_error(void);

/** kvbm_clear_last_error() - reset this thread's last-error message to "". */
KVBM_API void kvbm_clear_last_error(void);

/** kvbm_version_number() - KVBM_VERSION_NUMBER of the library actually loaded. */
KVBM_API unsigned kvbm_version_number(void);

/** kvbm_version_string() - KVBM_VERSION_STRING of the library actually loaded (static). */
KVBM_API const char *kvbm_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_COMMON_H */
