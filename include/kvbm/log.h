/* kvbm/log.h - the library's log sink: where kvbm's warnings go.
 *
 * kvbm logs rarely and never on a hot path: a warning when something the caller did not
 * ask about went wrong and was carried on (an events observer that failed to attach its
 * release handle, a batch that could not be encoded or published, ...). Every message
 * goes through one process-wide sink.
 *
 * Default: messages of level KVBM_LOG_WARN and more severe go to stderr as
 * "kvbm[<level>] <module>: <message>". The environment variable KVBM_LOG (off, error,
 * warn, info, debug), read once at the first log call, changes the default level.
 *
 * The sink is never called while a kvbm lock is held (no store, registry or handle
 * lock; debug builds assert it), so it may call back into kvbm. It may be called from
 * any thread, concurrently: it must be thread-safe.
 */
#ifndef KVBM_LOG_H
#define KVBM_LOG_H

#include "kvbm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kvbm_log_level {
    KVBM_LOG_OFF   = -1, /* as a maximum level: log nothing */
    KVBM_LOG_ERROR = 0,
    KVBM_LOG_WARN  = 1,
    KVBM_LOG_INFO  = 2,
    KVBM_LOG_DEBUG = 3
} kvbm_log_level;

/* A sink: @module is a short static name ("registry", "events", ...), @msg one line
 * without a trailing newline; both valid only during the call. */
typedef void (*kvbm_log_fn)(void *ctx, kvbm_log_level level, const char *module, const char *msg);

/**
 * kvbm_set_log_fn() - route messages of level <= @max_level to @fn(@ctx, ...); @fn NULL
 * restores the stderr sink. @max_level KVBM_LOG_OFF silences the library.
 * Threads: any; a message being logged concurrently may still reach the previous sink.
 * The caller keeps @ctx alive until the sink is replaced and concurrent calls are over.
 */
KVBM_API void kvbm_set_log_fn(kvbm_log_fn fn, void *ctx, kvbm_log_level max_level);

/** kvbm_log_level_name() - "error", "warn", "info", "debug" or "off" (static). */
KVBM_API const char *kvbm_log_level_name(kvbm_log_level level);

/** kvbm_log_stderr() - the default sink (@ctx unused); usable as a kvbm_log_fn. */
KVBM_API void kvbm_log_stderr(void *ctx, kvbm_log_level level, const char *module, const char *msg);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_LOG_H */
