/* src/ext/router/feed.c - a manager's registrations as Dynamo router events (the contract
 * is in kvbm/router_events.h, "router feed"; design in docs/design/router.md).
 *
 * An events pipeline does the batching. Its encoder only copies the batch (kind + PLHs)
 * into the pipeline buffer - it may be called again after KVBM_EOVERFLOW, so it must not
 * consume event ids - and the feed's own publisher (the shim below, called once per batch
 * right after) converts that copy into RouterEvents, numbers them and hands each to the
 * transport publisher. Everything here runs on the pipeline's worker thread. */
#include <stdatomic.h>

#include "internal.h"
#include "router_int.h"
#include "kvbm/tokens.h"

/* Header of the copied batch; the PLHs follow. */
struct batch_copy {
    uint32_t kind;
    uint32_t pad_;
    uint64_t n;
};

#define OPEN_CHAINS 16 /* chains a Create batch keeps open while grouping */

struct kvbm_router_feed {
    kvbm_events_pipeline *pipe;
    kvbm_publisher       *transport;
    kvbm_registry        *registry;
    kvbm_router_event_ids *ids;
    uint64_t              worker_id;
    uint32_t              dp_rank;
    kvbm_router_tier      tier;
    /* per-batch scratch, grown to the largest batch */
    size_t                    cap;
    kvbm_router_stored_block *blocks;   /* stored block of each batch index */
    kvbm_router_stored_block *chain;    /* the blocks of one stored event, in order */
    uint64_t                 *hashes;   /* removed hashes */
    uint32_t                 *next;     /* chain links (block index), UINT32_MAX ends */
    uint8_t                  *out;      /* encoded event */
    size_t                    out_cap;
    _Atomic uint64_t events, stored_blocks, removed_hashes, stale, no_th, errors;
};

static void bump(_Atomic uint64_t *c, uint64_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }

static kvbm_status copy_encode(void *ctx, const kvbm_event_batch *b, uint8_t *buf, size_t cap, size_t *len)
{
    (void)ctx;
    *len = sizeof(struct batch_copy) + b->n * sizeof(kvbm_plh);
    if (*len > cap) return KVBM_EOVERFLOW;
    struct batch_copy h = { (uint32_t)b->kind, 0, b->n };
    memcpy(buf, &h, sizeof h);
    if (b->n) memcpy(buf + sizeof h, b->hashes, b->n * sizeof(kvbm_plh));
    return KVBM_OK;
}

static kvbm_status grow(struct kvbm_router_feed *f, size_t n)
{
    if (n <= f->cap) return KVBM_OK;
    size_t c = f->cap ? f->cap : 64;
    while (c < n) c *= 2;
    kvbm_router_stored_block *b = kvbm__realloc(f->blocks, c * sizeof *b);
    if (b != NULL) f->blocks = b;
    uint64_t *h = kvbm__realloc(f->hashes, c * sizeof *h);
    if (h != NULL) f->hashes = h;
    uint32_t *x = kvbm__realloc(f->next, c * sizeof *x);
    if (x != NULL) f->next = x;
    kvbm_router_stored_block *ch = kvbm__realloc(f->chain, c * sizeof *ch);
    if (ch != NULL) f->chain = ch;
    if (b == NULL || h == NULL || x == NULL || ch == NULL)
        return KVBM_FAIL(KVBM_ENOMEM, "router feed: out of memory for a batch of %zu", n);
    f->cap = c;
    return KVBM_OK;
}

/* Encode @ev (event_id assigned here) and publish it; errors counted. */
static kvbm_status send_event(struct kvbm_router_feed *f, kvbm_router_event *ev, const char *subject)
{
    kvbm_status st = kvbm_router_event_ids_next(f->ids, f->worker_id, f->dp_rank, &ev->event_id);
    size_t len = 0;
    if (st == KVBM_OK) st = kvbm_router_event_encode(ev, f->out, f->out_cap, &len);
    if (st == KVBM_EOVERFLOW) {
        uint8_t *o = kvbm__realloc(f->out, len);
        if (o == NULL) {
            st = KVBM_FAIL(KVBM_ENOMEM, "router feed: out of memory for a %zu-byte event", len);
        } else {
            f->out = o;
            f->out_cap = len;
            st = kvbm_router_event_encode(ev, f->out, f->out_cap, &len);
        }
    }
    if (st == KVBM_OK) st = kvbm_publisher_publish(f->transport, subject, f->out, len);
    if (st != KVBM_OK) {
        bump(&f->errors, 1);
        return st;
    }
    bump(&f->events, 1);
    if (ev->kind == KVBM_ROUTER_STORED) bump(&f->stored_blocks, ev->n_blocks);
    else bump(&f->removed_hashes, ev->n_block_hashes);
    return KVBM_OK;
}

static kvbm_router_event base_event(const struct kvbm_router_feed *f, kvbm_router_event_kind k)
{
    kvbm_router_event ev;
    memset(&ev, 0, sizeof ev);
    ev.worker_id = f->worker_id;
    ev.storage_tier = f->tier;
    ev.dp_rank = f->dp_rank;
    ev.kind = k;
    return ev;
}

static kvbm_status send_removed(struct kvbm_router_feed *f, const kvbm_plh *plh, size_t n, const char *subject)
{
    for (size_t i = 0; i < n; i++) f->hashes[i] = kvbm_plh_router_block_hash(plh[i]);
    kvbm_router_event ev = base_event(f, KVBM_ROUTER_REMOVED);
    ev.block_hashes = f->hashes;
    ev.n_block_hashes = n;
    return send_event(f, &ev, subject);
}

/* tokens_hash of the live registration of @h; false when @h is no longer registered. */
static bool lookup(struct kvbm_router_feed *f, kvbm_plh h, uint64_t block_hash, uint64_t *th)
{
    kvbm_handle *reg = NULL;
    if (kvbm_registry_match(f->registry, h, false, &reg) != KVBM_OK) return false;
    if (!kvbm_handle_router_tokens_hash(reg, th)) {
        *th = block_hash;
        bump(&f->no_th, 1);
    }
    kvbm_handle_release(reg);
    return true;
}

static kvbm_status send_stored(struct kvbm_router_feed *f, const kvbm_plh *plh, size_t n, const char *subject)
{
    /* group into chains: block i joins the open chain whose tail is its router parent at
     * the previous position; heads[] / tails[] are block indexes, in order of first block */
    uint32_t heads[OPEN_CHAINS], tails[OPEN_CHAINS];
    size_t nopen = 0;
    kvbm_status first_err = KVBM_OK;
    for (size_t i = 0; i <= n; i++) {
        size_t c = OPEN_CHAINS;
        uint64_t bh = 0, th = 0;
        bool live = false;
        if (i < n) {
            bh = kvbm_plh_router_block_hash(plh[i]);
            live = lookup(f, plh[i], bh, &th);
            if (!live) bump(&f->stale, 1);
        }
        if (live) {
            uint64_t parent;
            f->blocks[i] = (kvbm_router_stored_block){ bh, th, false, NULL, 0 };
            f->next[i] = UINT32_MAX;
            if (kvbm_plh_router_parent_hash(plh[i], &parent))
                for (c = 0; c < nopen; c++) {
                    kvbm_plh t = plh[tails[c]];
                    if (f->blocks[tails[c]].block_hash == parent &&
                        kvbm_plh_position(t) + 1 == kvbm_plh_position(plh[i]))
                        break;
                }
            if (c < nopen) {
                f->next[tails[c]] = (uint32_t)i;
                tails[c] = (uint32_t)i;
                continue;
            }
        }
        /* a new chain (or the end): when the table is full (or at the end) send it all */
        if (i == n || (live && nopen == OPEN_CHAINS)) {
            for (size_t k = 0; k < nopen; k++) {
                size_t m = 0;
                for (uint32_t j = heads[k]; j != UINT32_MAX; j = f->next[j]) f->chain[m++] = f->blocks[j];
                kvbm_router_event ev = base_event(f, KVBM_ROUTER_STORED);
                ev.has_parent_hash = kvbm_plh_router_parent_hash(plh[heads[k]], &ev.parent_hash);
                ev.blocks = f->chain;
                ev.n_blocks = m;
                kvbm_status st = send_event(f, &ev, subject);
                if (st != KVBM_OK && first_err == KVBM_OK) first_err = st;
            }
            nopen = 0;
        }
        if (live) {
            heads[nopen] = tails[nopen] = (uint32_t)i;
            nopen++;
        }
    }
    return first_err;
}

static kvbm_status shim_publish(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    struct kvbm_router_feed *f = ctx;
    struct batch_copy h;
    if (len < sizeof h) return KVBM_FAIL(KVBM_EINVAL, "router feed: short batch");
    memcpy(&h, buf, sizeof h);
    if (h.kind == KVBM_EVENT_SHUTDOWN || h.n == 0) return KVBM_OK;
    KVBM_TRY(grow(f, h.n));
    const kvbm_plh *plh = (const kvbm_plh *)(const void *)(buf + sizeof h); /* pipeline buffer: malloc-aligned */
    return h.kind == KVBM_EVENT_CREATE ? send_stored(f, plh, h.n, subject) : send_removed(f, plh, h.n, subject);
}

static kvbm_status shim_flush(void *ctx, int timeout_ms)
{
    struct kvbm_router_feed *f = ctx;
    return kvbm_publisher_flush(f->transport, timeout_ms);
}

static void feed_free(struct kvbm_router_feed *f)
{
    kvbm_publisher_release(f->transport);
    kvbm_registry_release(f->registry);
    kvbm_router_event_ids_destroy(f->ids);
    kvbm__free(f->blocks);
    kvbm__free(f->chain);
    kvbm__free(f->hashes);
    kvbm__free(f->next);
    kvbm__free(f->out);
    kvbm__free(f);
}

static void shim_destroy(void *ctx) { (void)ctx; } /* the feed frees itself */

kvbm_status kvbm_router_feed_start(const kvbm_router_feed_config *cfg, kvbm_router_feed **out)
{
    if (cfg == NULL || out == NULL || cfg->struct_size != sizeof *cfg)
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_feed_start: %s", cfg == NULL ? "config is NULL"
                         : out == NULL ? "out is NULL" : "bad struct_size");
    if (cfg->events == NULL) return KVBM_FAIL(KVBM_ECONFIG, "kvbm_router_feed_start: events is required");
    if (cfg->manager == NULL) return KVBM_FAIL(KVBM_ECONFIG, "kvbm_router_feed_start: manager is required");
    if (cfg->publisher == NULL) return KVBM_FAIL(KVBM_ECONFIG, "kvbm_router_feed_start: publisher is required");
    kvbm_router_tier tier;
    kvbm_tier key = kvbm_manager_tier(cfg->manager);
    if (key > KVBM_G4)
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_feed_start: the manager's tier_key %llu is not G1..G4",
                         (unsigned long long)key);
    KVBM_TRY(kvbm_router_tier_from_layout((kvbm_layout)key, &tier));

    struct kvbm_router_feed *f = kvbm__calloc(1, sizeof *f);
    if (f == NULL) return KVBM_FAIL(KVBM_ENOMEM, "kvbm_router_feed_start: out of memory");
    f->worker_id = cfg->worker_id;
    f->dp_rank = cfg->dp_rank;
    f->tier = tier;
    f->registry = kvbm_registry_clone(kvbm_manager_registry(cfg->manager));
    f->transport = kvbm_publisher_acquire(cfg->publisher);
    kvbm_status st = kvbm_router_event_ids_create(&f->ids);
    kvbm_publisher *shim = NULL;
    kvbm_events_sub *sub = NULL;
    if (st == KVBM_OK) {
        kvbm_publisher_ops ops = { shim_publish, shim_flush, shim_destroy };
        st = kvbm_publisher_create(&ops, f, &shim);
    }
    if (st == KVBM_OK) st = kvbm_events_subscribe(cfg->events, &sub);
    if (st == KVBM_OK) {
        kvbm_u128 instance = { 0, cfg->worker_id };
        kvbm_events_pipeline_config pc = KVBM_EVENTS_PIPELINE_CONFIG_INIT;
        pc.instance_id = &instance;
        pc.event_stream = sub;
        pc.publisher = shim;
        pc.encoder.encode = copy_encode;
        pc.encoder.ctx = f;
        pc.window_ms = cfg->window_ms;
        pc.max_batch_size = cfg->max_batch_size;
        pc.subject = cfg->subject != NULL ? cfg->subject : KVBM_ROUTER_EVENT_SUBJECT;
        st = kvbm_events_pipeline_start(&pc, &f->pipe);
    }
    kvbm_publisher_release(shim); /* the pipeline holds its own reference */
    if (st != KVBM_OK) {
        kvbm_events_unsubscribe(sub);
        feed_free(f);
        return st;
    }
    *out = f;
    return KVBM_OK;
}

kvbm_status kvbm_router_feed_join(kvbm_router_feed *f)
{
    if (f == NULL) return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_feed_join: feed is NULL");
    return kvbm_events_pipeline_join(f->pipe);
}

kvbm_status kvbm_router_feed_get_stats(kvbm_router_feed *f, kvbm_router_feed_stats *out)
{
    if (f == NULL || out == NULL) return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_feed_get_stats: NULL argument");
    out->events = atomic_load_explicit(&f->events, memory_order_relaxed);
    out->stored_blocks = atomic_load_explicit(&f->stored_blocks, memory_order_relaxed);
    out->removed_hashes = atomic_load_explicit(&f->removed_hashes, memory_order_relaxed);
    out->stale = atomic_load_explicit(&f->stale, memory_order_relaxed);
    out->no_tokens_hash = atomic_load_explicit(&f->no_th, memory_order_relaxed);
    out->errors = atomic_load_explicit(&f->errors, memory_order_relaxed);
    return KVBM_OK;
}

void kvbm_router_feed_destroy(kvbm_router_feed *f)
{
    if (f == NULL) return;
    kvbm_events_pipeline_destroy(f->pipe); /* drops the shim's last reference: no more calls */
    feed_free(f);
}
