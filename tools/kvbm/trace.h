/* tools/kvbm/trace.h - request traces: the Mooncake JSON-lines reader and a builder.
 *
 * A trace is a list of requests; each request is a list of block ids (Mooncake
 * `hash_ids`: one id per 512-token block of the prompt, equal ids at equal positions
 * mean a shared prefix). All ids live in one array; request r is
 * ids[offsets[r] .. offsets[r + 1]). Ids are token values (the replay turns id h into the
 * token block [h, h, ..., h]), so they must fit in 32 bits.
 */
#ifndef CLI_TRACE_H
#define CLI_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cli_trace {
    char     *name;        /* file name or "synthetic(seed=N)"; owned */
    size_t    n_requests;
    size_t   *offsets;     /* n_requests + 1 entries */
    uint32_t *ids;         /* offsets[n_requests] entries */
    size_t    max_len;     /* longest request, in blocks */
    size_t    skipped;     /* malformed lines skipped (on_error = skip) */
    /* builder state */
    size_t    cap_requests, cap_ids;
} cli_trace;

typedef enum cli_trace_on_error {
    CLI_TRACE_STOP = 0, /* a malformed line ends the load with an error (default) */
    CLI_TRACE_SKIP = 1  /* a malformed line is reported on the diag stream and skipped */
} cli_trace_on_error;

/* Builder. init: empty trace named @name (copied). push: append one request. */
int  cli_trace_init(cli_trace *t, const char *name);
int  cli_trace_push(cli_trace *t, const uint32_t *ids, size_t n);
void cli_trace_free(cli_trace *t); /* NULL-safe; leaves *t zeroed */

/* Total number of block references (sum of request lengths). */
static inline size_t cli_trace_blocks(const cli_trace *t) { return t->offsets[t->n_requests]; }

/**
 * cli_trace_load() - read a Mooncake trace (one JSON object per line; blank lines are
 * ignored; "-" reads stdin). Each object must have "hash_ids": an array of integers in
 * 0..4294967295; other keys are ignored. Errors are reported as "FILE:LINE: message".
 * With CLI_TRACE_SKIP, malformed lines are written to @diag (may be NULL) and counted in
 * t->skipped. A trace without requests is an error. On error *t is left freed.
 */
int cli_trace_load(const char *path, cli_trace_on_error on_error, FILE *diag, cli_trace *t,
                    char *err, size_t errlen);

/* Same, from an in-memory buffer (tests); @name is used in messages. */
int cli_trace_parse(const char *name, const char *buf, size_t len, cli_trace_on_error on_error,
                     FILE *diag, cli_trace *t, char *err, size_t errlen);

#endif /* CLI_TRACE_H */
