/* tools/kvbm/events_dialects.c - see events_dialects.h. */
#include <stdlib.h>

#include "events_dialects.h"
#include "kvbm/kvbm.h"
#ifdef KVBM_CLI_HAVE_EVENTS
#  include "kvbm/events_wire.h"
#endif
#ifdef KVBM_CLI_HAVE_ROUTER
#  include "kvbm/router_events.h"
#endif
#ifdef KVBM_CLI_HAVE_VLLM
#  include "kvbm/vllm_events.h"
#endif

#define SHOW_MAX 4 /* hashes shown per table line */

#ifdef KVBM_CLI_HAVE_EVENTS
/* kvbm native batch (spec 20 §3.6, libkvbm_events). Table: kind, count, instance, the first
 * hashes as position:hash (kvbm_plh_display). */
static int render_kvbm(const uint8_t *buf, size_t len, bool json, FILE *f)
{
    kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT;
    int rc = -1;
    if (kvbm_events_wire_decode(buf, len, &d) != KVBM_OK) goto out;
    const kvbm_event_batch *b = &d.batch;
    if (json) {
        char small[512], *big = NULL, *s = small;
        size_t n = 0;
        kvbm_status st = kvbm_events_batch_to_json(b, small, sizeof small, &n);
        if (st == KVBM_EOVERFLOW && (big = malloc(n + 1)) != NULL)
            st = kvbm_events_batch_to_json(b, s = big, n + 1, &n);
        if (st == KVBM_OK) {
            fputs(s, f);
            rc = 0;
        }
        free(big);
        goto out;
    }
    const char *kind = b->kind == KVBM_EVENT_CREATE ? "Create" : b->kind == KVBM_EVENT_REMOVE ? "Remove" : "Shutdown";
    if (b->instance_id.hi == 0)
        fprintf(f, "%-8s %5zu  instance %llu", kind, b->n, (unsigned long long)b->instance_id.lo);
    else
        fprintf(f, "%-8s %5zu  instance 0x%llx%016llx", kind, b->n, (unsigned long long)b->instance_id.hi,
                (unsigned long long)b->instance_id.lo);
    for (size_t i = 0; i < b->n && i < SHOW_MAX; i++) {
        char disp[KVBM_PLH_DISPLAY_LEN];
        fprintf(f, "%s%s", i ? " " : "  ", kvbm_plh_display(b->hashes[i], disp));
    }
    if (b->n > SHOW_MAX) fputs(" ...", f);
    rc = 0;
out:
    kvbm_events_decoded_free(&d);
    return rc;
}
#endif

#ifdef KVBM_CLI_HAVE_ROUTER
/* Dynamo KV-router event (spec 20 §4.1, libkvbm_router). */
static int render_router(const uint8_t *buf, size_t len, bool json, FILE *f)
{
    /* a message cannot hold more blocks than bytes: bounded by the input */
    size_t cap = len + 1;
    kvbm_router_decode_space sp = { calloc(cap, sizeof(kvbm_router_stored_block)), cap,
                                    calloc(cap, sizeof(kvbm_router_mm_object)), cap,
                                    calloc(cap, sizeof(uint64_t)), cap };
    kvbm_router_event ev;
    int rc = -1;
    if (sp.blocks == NULL || sp.mm_objects == NULL || sp.u64 == NULL ||
        kvbm_router_event_decode(buf, len, &ev, &sp) != KVBM_OK)
        goto out;
    if (json) {
        size_t n = 0;
        char *s = NULL;
        if (kvbm_router_event_to_json(&ev, NULL, 0, &n) == KVBM_EOVERFLOW && (s = malloc(n + 1)) != NULL &&
            kvbm_router_event_to_json(&ev, s, n + 1, &n) == KVBM_OK) {
            fputs(s, f);
            rc = 0;
        }
        free(s);
        goto out;
    }
    static const char *const kinds[] = { "stored", "removed", "cleared" };
    fprintf(f, "%-8s %5zu  worker %llu dp %u tier %s id %llu", kinds[ev.kind],
            ev.kind == KVBM_ROUTER_STORED ? ev.n_blocks : ev.n_block_hashes, (unsigned long long)ev.worker_id,
            ev.dp_rank, kvbm_router_tier_name(ev.storage_tier), (unsigned long long)ev.event_id);
    if (ev.kind == KVBM_ROUTER_STORED && ev.has_parent_hash)
        fprintf(f, " parent %016llx", (unsigned long long)ev.parent_hash);
    size_t n = ev.kind == KVBM_ROUTER_STORED ? ev.n_blocks : ev.kind == KVBM_ROUTER_REMOVED ? ev.n_block_hashes : 0;
    for (size_t i = 0; i < n && i < SHOW_MAX; i++)
        fprintf(f, "%s%016llx", i ? " " : "  ",
                (unsigned long long)(ev.kind == KVBM_ROUTER_STORED ? ev.blocks[i].block_hash : ev.block_hashes[i]));
    if (n > SHOW_MAX) fputs(" ...", f);
    rc = 0;
out:
    free(sp.blocks);
    free(sp.mm_objects);
    free(sp.u64);
    return rc;
}
#endif

#ifdef KVBM_CLI_HAVE_VLLM
/* vLLM ZeroMQ KV-event batch (spec 20 §4.2, libkvbm_vllm): [ts, events, dp_rank] (or its
 * map form). Table: per batch the event count and dp rank, then per event its type, block
 * count and first hashes. Every pool is sized by the input length, which the decoder
 * guarantees is always enough (kvbm_vllm_decode_space). */
static int render_vllm(const uint8_t *buf, size_t len, bool json, FILE *f)
{
    size_t cap = len + 1;
    kvbm_vllm_decode_space sp = { calloc(cap, sizeof(kvbm_vllm_event)), cap, calloc(cap, sizeof(uint64_t)), cap,
                                  calloc(cap, sizeof(uint32_t)), cap, calloc(cap, sizeof(kvbm_vllm_block_mm)), cap,
                                  calloc(cap, sizeof(kvbm_router_mm_object)), cap, calloc(cap, 1), cap };
    kvbm_vllm_batch b;
    int rc = -1;
    if (sp.events == NULL || sp.u64 == NULL || sp.tokens == NULL || sp.block_mm == NULL || sp.mm_objects == NULL ||
        sp.chars == NULL || kvbm_vllm_batch_decode(buf, len, NULL, &b, &sp) != KVBM_OK)
        goto out;
    if (json) {
        size_t n = 0;
        char *s = NULL;
        if (kvbm_vllm_batch_to_json(&b, NULL, 0, &n) == KVBM_EOVERFLOW && (s = malloc(n + 1)) != NULL &&
            kvbm_vllm_batch_to_json(&b, s, n + 1, &n) == KVBM_OK) {
            fputs(s, f);
            rc = 0;
        }
        free(s);
        goto out;
    }
    fprintf(f, "batch    %5zu  ts %.3f dp %s", b.n_events, b.ts, b.has_dp_rank ? "" : "nil");
    if (b.has_dp_rank) fprintf(f, "%u", b.dp_rank);
    for (size_t e = 0; e < b.n_events; e++) {
        const kvbm_vllm_event *ev = &b.events[e];
        fprintf(f, " | %s %zu%s", kvbm_vllm_event_type_name(ev->type), ev->n_block_hashes,
                ev->ignored ? " (ignored group)" : "");
        if (ev->type == KVBM_VLLM_BLOCK_STORED && ev->has_parent)
            fprintf(f, " parent %016llx", (unsigned long long)ev->parent_block_hash);
        for (size_t i = 0; i < ev->n_block_hashes && i < SHOW_MAX; i++)
            fprintf(f, " %016llx", (unsigned long long)ev->block_hashes[i]);
        if (ev->n_block_hashes > SHOW_MAX) fputs(" ...", f);
    }
    rc = 0;
out:
    free(sp.events);
    free(sp.u64);
    free(sp.tokens);
    free(sp.block_mm);
    free(sp.mm_objects);
    free(sp.chars);
    return rc;
}
#endif

const cli_dialect cli_dialects[] = {
#ifdef KVBM_CLI_HAVE_EVENTS
    { "kvbm", render_kvbm },
#endif
#ifdef KVBM_CLI_HAVE_ROUTER
    { "router", render_router },
#endif
#ifdef KVBM_CLI_HAVE_VLLM
    { "vllm", render_vllm },
#endif
    { NULL, NULL } /* keeps the array non-empty */
};
const size_t cli_n_dialects = sizeof cli_dialects / sizeof cli_dialects[0] - 1;

const cli_dialect *cli_dialect_render(const uint8_t *buf, size_t len, bool json, char **out)
{
    *out = NULL;
    for (size_t i = 0; i < cli_n_dialects; i++) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        if (f == NULL) return NULL;
        int rc = cli_dialects[i].render(buf, len, json, f);
        if (fclose(f) == 0 && rc == 0) {
            *out = s;
            return &cli_dialects[i];
        }
        free(s);
    }
    return NULL;
}
