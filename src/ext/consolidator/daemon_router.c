/* src/ext/consolidator/daemon_router.c - the daemon's optional second output: every
 * published event as a Dynamo RouterEvent (kvbm/router_events.h) on a kvbm_publisher
 * (e.g. NATS), one message per event, in the egress order. Block hash = the PLH's router
 * projection (§4.3.3), the same number the vLLM-format output carries; tokens_hash =
 * kvbm_router_tokens_hashes over the block's tokens with its LoRA (§4.1.4), what the router
 * computes from a request. Runs on the thread doing the egress tick (under egress_mu). */
#include "daemon_int.h"

#include <stdio.h>

#include "kvbm/router_events.h"
#include "kvbm/tokens.h"

typedef struct kvbm__drouter {
    kvbm_publisher        *pub;
    char                  *subject;
    uint64_t               worker_id;
    kvbm_router_event_ids *ids;
    uint8_t               *buf;
    size_t                 cap;
} kvbm__drouter;

kvbm_status kvbm__drouter_open(kvbm_consolidator *c, const kvbm_consolidator_config *cfg)
{
    kvbm__drouter *r = kvbm__calloc(1, sizeof *r);
    const char *subj = cfg->router_subject ? cfg->router_subject : KVBM_ROUTER_EVENT_SUBJECT;
    size_t n = strlen(subj) + 1;
    if (!r || !(r->subject = kvbm__malloc(n))) {
        kvbm__free(r);
        kvbm__set_error("consolidator: out of memory for the router output");
        return KVBM_ENOMEM;
    }
    memcpy(r->subject, subj, n);
    r->worker_id = cfg->router_worker_id;
    r->pub = kvbm_publisher_acquire(cfg->router_publisher);
    c->router = r;
    return kvbm_router_event_ids_create(&r->ids);
}

void kvbm__drouter_free(kvbm_consolidator *c)
{
    kvbm__drouter *r = c->router;
    if (!r) return;
    kvbm_publisher_release(r->pub);
    kvbm_router_event_ids_destroy(r->ids);
    kvbm__free(r->subject);
    kvbm__free(r->buf);
    kvbm__free(r);
    c->router = NULL;
}

void kvbm__drouter_flush(kvbm_consolidator *c)
{
    if (c->router && kvbm_publisher_flush(c->router->pub, 500) != KVBM_OK)
        kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "router output: flush at stop: %s", kvbm_last_error());
}

/* tracker event -> RouterEvent (arrays in @blk / @hash). */
static kvbm_status convert(const kvbm__drouter *r, const kvbm_cons_event *e, kvbm_router_event *out,
                           kvbm_router_stored_block *blk, uint64_t *hash)
{
    memset(out, 0, sizeof *out);
    out->worker_id = r->worker_id;
    out->storage_tier = KVBM_ROUTER_TIER_DEVICE;
    switch (e->kind) {
    case KVBM_CONS_STORE: {
        size_t windows = 0;
        memset(blk, 0, sizeof *blk);
        KVBM_TRY(kvbm_router_tokens_hashes(e->tokens, e->n_tokens, e->block_size, e->lora_name, false, NULL, 0,
                                           &blk->tokens_hash, 1, &windows));
        if (windows != 1) {
            kvbm__set_error("consolidator: stored block of %zu tokens with block size %u has no tokens_hash",
                            e->n_tokens, e->block_size);
            return KVBM_EINCOMPLETE;
        }
        blk->block_hash = kvbm_plh_router_block_hash(e->plh);
        out->kind = KVBM_ROUTER_STORED;
        out->has_parent_hash = kvbm_plh_router_parent_hash(e->plh, &out->parent_hash);
        out->blocks = blk;
        out->n_blocks = 1;
        return KVBM_OK;
    }
    case KVBM_CONS_REMOVE:
        *hash = kvbm_plh_router_block_hash(e->plh);
        out->kind = KVBM_ROUTER_REMOVED;
        out->block_hashes = hash;
        out->n_block_hashes = 1;
        return KVBM_OK;
    case KVBM_CONS_CLEAR_ALL: out->kind = KVBM_ROUTER_CLEARED; return KVBM_OK;
    }
    return KVBM_EINVAL;
}

static kvbm_status encode(kvbm__drouter *r, const kvbm_router_event *ev, size_t *len)
{
    for (;;) {
        kvbm_status st = kvbm_router_event_encode(ev, r->buf, r->cap, len);
        if (st != KVBM_EOVERFLOW) return st;
        uint8_t *b = kvbm__realloc(r->buf, *len);
        if (!b) {
            kvbm__set_error("consolidator: out of memory for a router event of %zu bytes", *len);
            return KVBM_ENOMEM;
        }
        r->buf = b;
        r->cap = *len;
    }
}

void kvbm__drouter_publish(kvbm_consolidator *c, const kvbm_cons_events *ev)
{
    kvbm__drouter *r = c->router;
    size_t n = kvbm_cons_events_count(ev), errors = 0;
    for (size_t i = 0; i < n; i++) {
        kvbm_router_event re;
        kvbm_router_stored_block blk;
        uint64_t hash;
        size_t sz = 0;
        kvbm_status st = convert(r, kvbm_cons_events_get(ev, i), &re, &blk, &hash);
        if (st == KVBM_OK) st = kvbm_router_event_ids_next(r->ids, r->worker_id, 0, &re.event_id);
        if (st == KVBM_OK) st = encode(r, &re, &sz);
        if (st == KVBM_OK) st = kvbm_publisher_publish(r->pub, r->subject, r->buf, sz);
        if (st != KVBM_OK && errors++ == 0)
            kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "router output: event %zu of %zu not published: %s", i, n,
                      kvbm_last_error());
    }
    KVBM__DINC(&c->router_events_out, n - errors);
    KVBM__DINC(&c->router_errors, errors);
}
