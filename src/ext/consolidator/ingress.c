/* src/ext/consolidator/ingress.c - decoded vLLM KV-event batches -> tracker calls (spec 20
 * §4.3.1). The ZMQ subscriber and the daemon loop live elsewhere (kvbm/vllm_sub.h). */
#include "cons_int.h"

#include <inttypes.h>

#include "kvbm/consolidator_vllm.h"

static bool has_mm(const kvbm_vllm_event *e)
{
    for (size_t i = 0; i < e->n_block_mm; i++)
        if (e->block_mm[i].n_objects != 0) return true;
    return false;
}

/* One BlockStored: false = skipped whole. */
static kvbm_status apply_stored(kvbm_cons_tracker *t, kvbm_cons_source src, const kvbm_vllm_event *e,
                                kvbm_cons_apply_stats *s)
{
    size_t bs = e->block_size;
    if (e->ignored || bs == 0 || e->is_eagle || has_mm(e) ||
        (e->n_token_ids + bs - 1) / bs != e->n_block_hashes) {
        s->skipped++;
        return KVBM_OK;
    }
    for (size_t i = 0; i < e->n_block_hashes; i++) {
        const uint64_t *parent = i > 0 ? &e->block_hashes[i - 1] : e->has_parent ? &e->parent_block_hash : NULL;
        size_t off = i * bs, n = e->n_token_ids - off < bs ? e->n_token_ids - off : bs;
        kvbm_status st = kvbm_cons_tracker_handle_store(t, src, e->block_hashes[i], parent, e->token_ids + off, n,
                                                        e->block_size, e->lora_name);
        if (st == KVBM_OK) s->blocks_stored++;
        else if (st == KVBM_ENOMEM) return st;
        else s->blocks_rejected++; /* logged by the tracker */
    }
    return KVBM_OK;
}

kvbm_status kvbm_cons_tracker_apply_vllm(kvbm_cons_tracker *t, kvbm_cons_source source,
                                         const kvbm_vllm_batch *batch, kvbm_cons_apply_stats *stats)
{
    if (t == NULL || batch == NULL || (batch->events == NULL && batch->n_events != 0) ||
        (source != KVBM_CONS_SOURCE_VLLM && source != KVBM_CONS_SOURCE_TRTLLM))
        return KVBM_FAIL(KVBM_EINVAL, "%s: NULL argument or not an engine source", __func__);
    kvbm_cons_apply_stats local = {0}, *s = stats ? stats : &local;
    for (size_t k = 0; k < batch->n_events; k++) {
        const kvbm_vllm_event *e = &batch->events[k];
        s->events++;
        kvbm_status st = KVBM_OK;
        switch (e->type) {
        case KVBM_VLLM_BLOCK_STORED:
            st = apply_stored(t, source, e, s);
            break;
        case KVBM_VLLM_BLOCK_REMOVED:
            if (e->ignored) {
                s->skipped++;
                break;
            }
            for (size_t i = 0; i < e->n_block_hashes && st == KVBM_OK; i++) {
                st = kvbm_cons_tracker_handle_remove(t, source, e->block_hashes[i]);
                if (st == KVBM_OK) s->blocks_removed++;
                else if (st == KVBM_ENOENT) {
                    s->unknown_removes++;
                    st = KVBM_OK;
                }
            }
            break;
        case KVBM_VLLM_ALL_BLOCKS_CLEARED:
            if (e->ignored) {
                s->skipped++;
                break;
            }
            st = kvbm_cons_tracker_clear_all(t);
            if (st == KVBM_OK) s->clears++;
            break;
        default:
            return KVBM_FAIL(KVBM_EINVAL, "%s: event %zu: type %d outside the enum", __func__, k, (int)e->type);
        }
        if (st != KVBM_OK) return st;
    }
    return KVBM_OK;
}
