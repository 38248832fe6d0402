/* src/ext/vllm/convert.c - vLLM event -> Dynamo router event (spec 20 §4.2.3), the event
 * type names, and the checks shared by the encoders. */
#include <stdlib.h>

#include "internal.h"
#include "kvbm/tokens.h"
#include "vllm_int.h"

#define MM_STACK 64 /* MM objects per block hashed without allocating */
#define BULK     64 /* blocks per bulk tokens_hash call */

const char *kvbm_vllm_event_type_name(kvbm_vllm_event_type t)
{
    switch (t) {
    case KVBM_VLLM_BLOCK_STORED: return "BlockStored";
    case KVBM_VLLM_BLOCK_REMOVED: return "BlockRemoved";
    case KVBM_VLLM_ALL_BLOCKS_CLEARED: return "AllBlocksCleared";
    }
    return NULL;
}

/* ASCII case-insensitive substring test */
static bool contains_ci(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && (s[i] | 0x20) == w[i]) i++;
        if (i == n) return true;
    }
    return false;
}

bool kvbm__vllm_ignored(const kvbm_vllm_event *ev)
{
    if (ev->has_group_idx && ev->group_idx != 0) return true;
    const char *k = ev->kv_cache_spec_kind;
    return k != NULL && !contains_ci(k, "full") && !contains_ci(k, "mla");
}

kvbm_status kvbm__vllm_event_check(const kvbm_vllm_event *ev, size_t i, const char *fn)
{
    const char *bad = NULL;
    if ((unsigned)ev->type > KVBM_VLLM_ALL_BLOCKS_CLEARED) bad = "type outside its enum";
    else if (ev->n_block_hashes > 0 && ev->block_hashes == NULL) bad = "block_hashes NULL with a length";
    else if (ev->n_token_ids > 0 && ev->token_ids == NULL) bad = "token_ids NULL with a length";
    else if (ev->n_block_mm > 0 && ev->block_mm == NULL) bad = "block_mm NULL with a length";
    for (size_t b = 0; bad == NULL && b < ev->n_block_mm; b++) {
        const kvbm_vllm_block_mm *m = &ev->block_mm[b];
        if (m->n_objects > 0 && m->objects == NULL) bad = "block_mm objects NULL with a length";
        for (size_t o = 0; bad == NULL && o < m->n_objects; o++)
            if (m->objects[o].n_offsets > 0 && m->objects[o].offsets == NULL) bad = "mm offsets NULL with a length";
    }
    if (bad == NULL) return KVBM_OK;
    kvbm__set_error("%s: event %zu: %s", fn, i, bad);
    return KVBM_EINVAL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* any hash repeated within parent + block_hashes? (quadratic for short lists, else a
 * sorted copy; *@st = KVBM_ENOMEM if that copy cannot be made) */
static bool has_duplicate(const kvbm_vllm_event *ev, kvbm_status *st)
{
    size_t n = ev->n_block_hashes;
    const uint64_t *h = ev->block_hashes;
    if (n <= 64) {
        for (size_t i = 0; i < n; i++) {
            if (ev->has_parent && h[i] == ev->parent_block_hash) return true;
            for (size_t j = i + 1; j < n; j++)
                if (h[i] == h[j]) return true;
        }
        return false;
    }
    uint64_t *c = kvbm__malloc((n + 1) * sizeof *c);
    if (c == NULL) {
        *st = KVBM_ENOMEM;
        kvbm__set_error("kvbm_vllm_event_to_router: no memory for the duplicate check of %zu hashes", n);
        return false;
    }
    memcpy(c, h, n * sizeof *c);
    if (ev->has_parent) c[n++] = ev->parent_block_hash;
    qsort(c, n, sizeof *c, cmp_u64);
    bool dup = false;
    for (size_t i = 1; i < n && !dup; i++) dup = c[i] == c[i - 1];
    kvbm__free(c);
    return dup;
}

/* tokens_hash of one block window with the block's MM hashes */
static kvbm_status block_hash(const kvbm_vllm_event *ev, size_t i, size_t start, size_t window, uint64_t *out)
{
    uint64_t stack[MM_STACK], *mh = stack;
    kvbm_router_block_mm bm = { NULL, 0 };
    const kvbm_vllm_block_mm *m = i < ev->n_block_mm ? &ev->block_mm[i] : NULL;
    if (m != NULL && m->n_objects > 0) {
        if (m->n_objects > MM_STACK && (mh = kvbm__malloc(m->n_objects * sizeof *mh)) == NULL) {
            kvbm__set_error("kvbm_vllm_event_to_router: no memory for %zu mm hashes", m->n_objects);
            return KVBM_ENOMEM;
        }
        for (size_t o = 0; o < m->n_objects; o++) mh[o] = m->objects[o].mm_hash;
        bm = (kvbm_router_block_mm){ mh, m->n_objects };
    }
    size_t n_out = 0;
    kvbm_status st = kvbm_router_tokens_hashes(ev->token_ids + start, window, ev->block_size, ev->lora_name,
                                               ev->is_eagle, bm.n_mm_hashes ? &bm : NULL, bm.n_mm_hashes ? 1 : 0,
                                               out, 1, &n_out);
    if (mh != stack) kvbm__free(mh);
    return st;
}

static kvbm_status convert_stored(const kvbm_vllm_event *ev, uint32_t kv_block_size, kvbm_router_event *out,
                                  kvbm_router_stored_block *blocks, size_t cap, size_t *done)
{
    kvbm_status st = KVBM_OK;
    if (has_duplicate(ev, &st)) {
        out->kind = KVBM_ROUTER_REMOVED; /* an empty removed, not cleared (§4.2.3) */
        *done = ev->n_block_hashes;
        return KVBM_OK;
    }
    KVBM_TRY(st);
    out->kind = KVBM_ROUTER_STORED;
    out->has_parent_hash = ev->has_parent;
    out->parent_hash = ev->parent_block_hash;
    out->blocks = blocks;
    /* blocks convertible: the loop of §4.2.3 stops at the first block-size violation or
     * the first block without a complete token window */
    size_t bs = ev->block_size, window = bs + (ev->is_eagle ? 1 : 0), nb = 0;
    if (bs != 0 && (kv_block_size == 0 || bs == kv_block_size) && ev->n_token_ids >= window)
        nb = (ev->n_token_ids - window) / bs + 1;
    if (nb > ev->n_block_hashes) nb = ev->n_block_hashes;
    if (nb > cap) {
        kvbm__set_error("kvbm_vllm_event_to_router: %zu blocks storage too small for %zu blocks", cap, nb);
        return KVBM_EOVERFLOW;
    }
    for (size_t i = 0; i < nb; i++) {
        kvbm_router_stored_block *b = &blocks[i];
        const kvbm_vllm_block_mm *m = i < ev->n_block_mm ? &ev->block_mm[i] : NULL;
        b->block_hash = ev->block_hashes[i];
        b->has_mm_extra_info = m != NULL && m->n_objects > 0;
        b->mm_objects = b->has_mm_extra_info ? m->objects : NULL;
        b->n_mm_objects = b->has_mm_extra_info ? m->n_objects : 0;
        if (ev->n_block_mm > 0) KVBM_TRY(block_hash(ev, i, i * bs, window, &b->tokens_hash));
    }
    /* without MM info: one bulk hash call per BULK blocks */
    for (size_t c = 0; ev->n_block_mm == 0 && c < nb; c += BULK) {
        uint64_t h[BULK];
        size_t k = nb - c < BULK ? nb - c : BULK, n_out = 0;
        KVBM_TRY(kvbm_router_tokens_hashes(ev->token_ids + c * bs, (k - 1) * bs + window, ev->block_size,
                                           ev->lora_name, ev->is_eagle, NULL, 0, h, BULK, &n_out));
        for (size_t j = 0; j < k; j++) blocks[c + j].tokens_hash = h[j];
    }
    out->n_blocks = nb;
    *done = nb;
    return KVBM_OK;
}

kvbm_status kvbm_vllm_event_to_router(const kvbm_vllm_event *ev, uint64_t worker_id, uint32_t dp_rank, uint64_t event_id,
                                      uint32_t kv_block_size, kvbm_router_event *out, kvbm_router_stored_block *blocks,
                                      size_t blocks_cap, bool *emitted, size_t *dropped)
{
    static const char fn[] = "kvbm_vllm_event_to_router";
    if (ev == NULL || out == NULL || emitted == NULL || (blocks == NULL && blocks_cap > 0)) {
        kvbm__set_error("%s: %s is NULL", fn, ev == NULL ? "ev" : out == NULL ? "out" : emitted == NULL ? "emitted" : "blocks");
        return KVBM_EINVAL;
    }
    KVBM_TRY(kvbm__vllm_event_check(ev, 0, fn));
    *emitted = false;
    if (dropped) *dropped = 0;
    if (ev->ignored) return KVBM_OK;
    memset(out, 0, sizeof *out);
    out->worker_id = worker_id;
    out->dp_rank = dp_rank;
    out->event_id = event_id;
    out->storage_tier = ev->type == KVBM_VLLM_ALL_BLOCKS_CLEARED ? KVBM_ROUTER_TIER_DEVICE
                                                                : kvbm_router_tier_from_medium(ev->medium);
    switch (ev->type) {
    case KVBM_VLLM_BLOCK_STORED: {
        size_t done = 0;
        KVBM_TRY(convert_stored(ev, kv_block_size, out, blocks, blocks_cap, &done));
        if (dropped) *dropped = ev->n_block_hashes - done;
        break;
    }
    case KVBM_VLLM_BLOCK_REMOVED:
        out->kind = KVBM_ROUTER_REMOVED;
        out->block_hashes = ev->block_hashes;
        out->n_block_hashes = ev->n_block_hashes;
        break;
    case KVBM_VLLM_ALL_BLOCKS_CLEARED: out->kind = KVBM_ROUTER_CLEARED; break;
    }
    *emitted = true;
    return KVBM_OK;
}
