/* tools/kvbm/util.h - small helpers shared by the kvbm command-line tool (not installed).
 *
 * Error convention inside the tool: functions return 0 on success and -1 on failure, and
 * on failure write a one-line message (no trailing newline) into a caller buffer
 * `char *err, size_t errlen` (err may be NULL). main() prints "kvbm: <message>" and exits
 * with a non-zero status; nothing below main() calls exit() or prints errors itself.
 */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds. */
uint64_t cli_now_ns(void);
/* CPU time consumed by the calling thread, in nanoseconds (excludes time spent descheduled:
 * the robust measure on a loaded machine). */
uint64_t cli_thread_cpu_ns(void);

/* snprintf into err/errlen (no-op when err is NULL); always returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int cli_fail(char *err, size_t errlen, const char *fmt, ...);

/* Strict unsigned decimal parse of the whole string (no sign, no spaces, no suffix).
 * Returns 0 and *out on success; -1 on empty/garbage/overflow or value > max. */
int cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Parse "A,B,C" or "A..B" (doubling) or "A..B:S" (step S) into a malloc'd, sorted,
 * de-duplicated array of values in [1, max]. At most 4096 values. */
int cli_parse_capacity_list(const char *s, uint64_t max, uint64_t **out, size_t *n,
                                  char *err, size_t errlen);

/* Growable byte/element arrays: cli_grow(&p, &cap, need, elem) ensures cap >= need. */
int cli_grow(void **p, size_t *cap, size_t need, size_t elem);

#endif /* CLI_UTIL_H */
