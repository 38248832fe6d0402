/* tools/kvbm/events_dialects.h - `kvbm events listen`: what a received message is.
 *
 * Each dialect is one table entry (events_dialects.c): a name and a strict decoder that
 * renders the message as one JSON object or one table line. The listener tries them in
 * table order on every message, so a stream may mix dialects; the decoders are strict
 * (kvbm batches are 2-arrays, Dynamo router events are maps with worker_id and event,
 * vLLM KV-event batches are [ts, events, dp_rank] 3-arrays or maps with ts and events), so
 * at most one accepts a message. A dialect whose optional library is not built
 * (KVBM_CLI_HAVE_EVENTS, KVBM_CLI_HAVE_ROUTER, KVBM_CLI_HAVE_VLLM) is absent from the
 * table. Adding one: a render function and a table line. */
#ifndef CLI_EVENTS_DIALECTS_H
#define CLI_EVENTS_DIALECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cli_dialect {
    const char *name; /* "kvbm", "router", "vllm" */
    /* Decode @buf[0..len); on success write the rendering (JSON value if @json, else the
     * table fields, no newline) to @f and return 0; -1: not this dialect (@f untouched
     * or partially written: the caller discards it). */
    int (*render)(const uint8_t *buf, size_t len, bool json, FILE *f);
} cli_dialect;

extern const cli_dialect cli_dialects[];
extern const size_t cli_n_dialects;

/* The first dialect that decodes @buf, its rendering in *@out (malloc'd, NUL-terminated,
 * the caller frees it); NULL if none does (*@out NULL). */
const cli_dialect *cli_dialect_render(const uint8_t *buf, size_t len, bool json, char **out);

#endif
