/* src/ext/consolidator/daemon_ingest.c - engine batches and kvbm events into the tracker
 * (spec 20 §4.3.1; kvbm/consolidator.h). */
#include "daemon_int.h"

#include <stdio.h>

#define RECV_MS 100

/* Add @d to the count of (@k0, @k1) in @m; returns the new count (0: erased). On
 * KVBM_ENOMEM returns UINT32_MAX and changes nothing. */
static uint32_t count_add(kvbm__cmap *m, uint64_t k0, uint64_t k1, int d)
{
    kvbm__cmap_slot *sl = kvbm__cmap_find(m, k0, k1);
    if (!sl) {
        if (d <= 0) return 0;
        if (kvbm__cmap_reserve(m, 1) != KVBM_OK) return UINT32_MAX;
        sl = kvbm__cmap_insert(m, k0, k1);
    }
    uint32_t v = (uint32_t)((int64_t)sl->refs[0] + d);
    if (!v) kvbm__cmap_erase(m, sl);
    else sl->refs[0] = (uint16_t)v;
    return v;
}

/* Several inputs: one engine block held by @in from now on, remembered per input (for its
 * AllBlocksCleared and repeats) and counted per kind when inputs share the kind (the first
 * holder stores it in the tracker). A single input goes straight to the tracker
 * (kvbm_cons_tracker_apply_vllm), whose (source, hash) mapping makes repeats no-ops. */
static void store_block(kvbm__dinput *in, uint64_t hash, const uint64_t *parent, const uint32_t *tok,
                        size_t n_tok, uint32_t bs, const char *lora)
{
    kvbm_consolidator *c = in->c;
    if (kvbm__cmap_find(&in->held, hash, 0)) { /* a repeat from this input */
        KVBM__DINC(&in->dups, 1);
        return;
    }
    uint32_t now = in->shared_kind ? count_add(&c->refs, hash, in->source, 1) : 1;
    if (now == UINT32_MAX || count_add(&in->held, hash, 0, 1) == UINT32_MAX) {
        if (now != UINT32_MAX && in->shared_kind) count_add(&c->refs, hash, in->source, -1);
        kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "%s: block %llu dropped: out of memory", in->name,
                  (unsigned long long)hash);
        return;
    }
    KVBM__DINC(&in->stores, 1);
    if (now > 1) { /* another input of this kind holds it: already in the tracker */
        KVBM__DINC(&in->dups, 1);
        return;
    }
    if (kvbm_cons_tracker_handle_store(c->tracker, in->source, hash, parent, tok, n_tok, bs, lora) != KVBM_OK) {
        /* logged by the tracker (short block, ...): nothing recorded, forget it here too */
        count_add(&in->held, hash, 0, -1);
        if (in->shared_kind) count_add(&c->refs, hash, in->source, -1);
    }
}

/* @in lets @hash go (it held it): the last holder of its kind removes it from the tracker. */
static void release_block(kvbm__dinput *in, uint64_t hash)
{
    if (in->shared_kind && count_add(&in->c->refs, hash, in->source, -1) != 0) {
        KVBM__DINC(&in->removes, 1);
        return;
    }
    KVBM__DIGNORE(kvbm_cons_tracker_handle_remove(in->c->tracker, in->source, hash));
    KVBM__DINC(&in->removes, 1);
}

static void remove_block(kvbm__dinput *in, uint64_t hash)
{
    kvbm__cmap_slot *sl = kvbm__cmap_find(&in->held, hash, 0);
    if (!sl) {
        KVBM__DINC(&in->unknown_removes, 1);
        return;
    }
    kvbm__cmap_erase(&in->held, sl);
    release_block(in, hash);
}

/* AllBlocksCleared of one of several inputs: what it held goes (a single input uses the
 * tracker's clear_all through kvbm_cons_tracker_apply_vllm). */
static void clear_input(kvbm__dinput *in)
{
    for (size_t i = 0; i < in->held.cap; i++)
        if (kvbm__cmap_used(&in->held.slots[i])) release_block(in, in->held.slots[i].k0);
    kvbm__cmap_clear(&in->held);
}

static bool has_mm(const kvbm_vllm_event *e)
{
    for (size_t i = 0; i < e->n_block_mm; i++)
        if (e->block_mm[i].n_objects) return true;
    return false;
}

/* BlockStored with the §4.3.1 skip rules and chunking of kvbm_cons_tracker_apply_vllm,
 * each block through store_block (the per-kind holder counts of several inputs). */
static void apply_stored(kvbm__dinput *in, const kvbm_vllm_event *e)
{
    uint32_t bs = e->block_size;
    size_t nb = e->n_block_hashes;
    size_t chunks = bs ? (e->n_token_ids + bs - 1) / bs : 0;
    if (!bs || e->is_eagle || has_mm(e) || chunks != nb) {
        KVBM__DINC(&in->skipped, 1);
        return;
    }
    for (size_t i = 0; i < nb; i++) {
        const uint64_t *parent = i ? &e->block_hashes[i - 1] : e->has_parent ? &e->parent_block_hash : NULL;
        size_t off = i * bs, n = e->n_token_ids - off < bs ? e->n_token_ids - off : bs;
        store_block(in, e->block_hashes[i], parent, e->token_ids + off, n, bs, e->lora_name);
    }
}

/* More tracker events waiting than the egress should hold: publish them now, on this
 * thread, so ingest slows to the egress' pace instead of the queue growing unbounded. */
static void backpressure(kvbm_consolidator *c)
{
    kvbm_cons_tracker_stats ts;
    kvbm_cons_tracker_get_stats(c->tracker, &ts);
    if (ts.queued > KVBM__DBACKLOG) kvbm_consolidator_flush(c);
}

static void apply_batch(kvbm__dinput *in, const kvbm_vllm_batch *b, const kvbm_vllm_sub_msg *m)
{
    kvbm_consolidator *c = in->c;
    if (b->n_events && kvbm__log_enabled(KVBM_LOG_DEBUG))
        kvbm__log(KVBM_LOG_DEBUG, KVBM__DMOD, "event=ingress_zmq input=%s source=%s seq=%llu events=%zu",
                  in->name, kvbm_cons_source_name(in->source), (unsigned long long)m->seq, b->n_events);
    if (!in->track_held) { /* the only input: the tracker's own ingress rules */
        kvbm_cons_apply_stats as = { 0 };
        if (kvbm_cons_tracker_apply_vllm(c->tracker, in->source, b, &as) != KVBM_OK)
            kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "%s: batch %llu applied in part: %s", in->name,
                      (unsigned long long)m->seq, kvbm_last_error());
        KVBM__DINC(&in->stores, as.blocks_stored);
        KVBM__DINC(&in->removes, as.blocks_removed);
        KVBM__DINC(&in->skipped, as.skipped);
        KVBM__DINC(&in->unknown_removes, as.unknown_removes);
        backpressure(c);
        KVBM__DINC(&in->batches, 1);
        return;
    }
    pthread_mutex_lock(&c->ingest_mu);
    for (size_t i = 0; i < b->n_events; i++) {
        const kvbm_vllm_event *e = &b->events[i];
        if (e->ignored) {
            KVBM__DINC(&in->skipped, 1);
            continue;
        }
        switch (e->type) {
        case KVBM_VLLM_BLOCK_STORED: apply_stored(in, e); break;
        case KVBM_VLLM_BLOCK_REMOVED:
            for (size_t k = 0; k < e->n_block_hashes; k++) remove_block(in, e->block_hashes[k]);
            break;
        case KVBM_VLLM_ALL_BLOCKS_CLEARED: clear_input(in); break;
        }
    }
    pthread_mutex_unlock(&c->ingest_mu);
    backpressure(c);
    KVBM__DINC(&in->batches, 1);
}

void *kvbm__dinput_thread(void *arg)
{
    kvbm__dinput *in = arg;
    while (!kvbm__dstopping(in->c)) {
        kvbm_vllm_batch b;
        kvbm_vllm_sub_msg m;
        if (kvbm_vllm_sub_recv_batch(in->sub, RECV_MS, NULL, &b, &m) == KVBM_OK) apply_batch(in, &b, &m);
    }
    return NULL;
}

void *kvbm__dkvbm_thread(void *arg)
{
    kvbm_consolidator *c = arg;
    while (!kvbm__dstopping(c)) {
        kvbm_event ev;
        uint64_t lost = 0;
        kvbm_status st = kvbm_events_next(c->ksub, RECV_MS, &ev, &lost);
        if (st == KVBM_ELAGGED) {
            KVBM__DINC(&c->kvbm_lost, lost);
            kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "kvbm stream: %llu events lost (subscription lagged)",
                      (unsigned long long)lost);
            continue;
        }
        if (st == KVBM_ECLOSED) break;
        if (st != KVBM_OK) continue;
        bool store = ev.kind == KVBM_EVENT_CREATE;
        if (kvbm__log_enabled(KVBM_LOG_DEBUG))
            kvbm__log(KVBM_LOG_DEBUG, KVBM__DMOD, "event=ingress_kvbm op=%s position=%llu",
                      store ? "store" : "remove", (unsigned long long)kvbm_plh_position(ev.hash));
        if (store) KVBM__DIGNORE(kvbm_cons_tracker_handle_kvbm_store(c->tracker, ev.hash, NULL, 0, 0, NULL));
        else if (ev.kind == KVBM_EVENT_REMOVE) KVBM__DIGNORE(kvbm_cons_tracker_handle_kvbm_remove(c->tracker, ev.hash));
        KVBM__DINC(&c->kvbm_events, 1);
    }
    return NULL;
}
