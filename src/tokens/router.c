/* src/tokens/router.c - Dynamo KV-router hashes (spec 20 §4.1.4) and the PLH -> router
 * projection (§4.3.3), so kvbm can fill Dynamo `stored` events itself. */
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "tokens_int.h"

uint64_t kvbm_router_seed(const char *lora_name)
{
    if (lora_name == NULL || lora_name[0] == '\0') return KVBM_ROUTER_XXH3_SEED;
    return KVBM_ROUTER_XXH3_SEED + XXH3_64bits(lora_name, strlen(lora_name)); /* wrapping */
}

static void sort_u64(uint64_t *a, size_t n) /* insertion sort: a handful of mm objects */
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
        a[j] = v;
    }
}

#define ROUTER_MM_STACK 64

kvbm_status kvbm_router_tokens_hashes(const uint32_t *tokens, size_t n, uint32_t block_size,
                                      const char *lora_name, bool is_eagle,
                                      const kvbm_router_block_mm *mm, size_t n_mm,
                                      uint64_t *out, size_t cap, size_t *n_out)
{
    if (block_size == 0) {
        kvbm__set_error("kvbm_router_tokens_hashes: block size 0");
        return KVBM_EINVAL;
    }
    if ((tokens == NULL && n != 0) || n_out == NULL || (mm == NULL && n_mm != 0)) {
        kvbm__set_error("kvbm_router_tokens_hashes: NULL argument");
        return KVBM_EINVAL;
    }
    size_t window = (size_t)block_size + (is_eagle ? 1 : 0);
    size_t count = n >= window ? (n - window) / block_size + 1 : 0;
    if (count != 0 && (out == NULL || cap < count)) {
        kvbm__set_error("kvbm_router_tokens_hashes: output capacity %zu < %zu blocks",
                        out ? cap : 0, count);
        return KVBM_EINVAL;
    }
    uint64_t seed = kvbm_router_seed(lora_name);
    /* one scratch buffer for sorting mm hashes, sized up front: no failure mid-way */
    size_t max_m = 0;
    for (size_t i = 0; i < count && i < n_mm; i++)
        if (mm[i].mm_hashes != NULL && mm[i].n_mm_hashes > max_m) max_m = mm[i].n_mm_hashes;
    uint64_t stackbuf[ROUTER_MM_STACK];
    uint64_t *sorted = stackbuf;
    if (max_m > ROUTER_MM_STACK) {
        sorted = kvbm__malloc(max_m * sizeof *sorted);
        if (sorted == NULL) return KVBM_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        const uint32_t *w = tokens + i * block_size;
        const kvbm_router_block_mm *bm = i < n_mm ? &mm[i] : NULL;
        if (bm == NULL || bm->n_mm_hashes == 0 || bm->mm_hashes == NULL) {
            out[i] = kvbm__hash_tokens(w, window, seed);
            continue;
        }
        size_t m = bm->n_mm_hashes;
        memcpy(sorted, bm->mm_hashes, m * sizeof *sorted);
        sort_u64(sorted, m);
        out[i] = kvbm__hash_tokens_extra(w, window, sorted, m, seed);
    }
    if (sorted != stackbuf) kvbm__free(sorted);
    *n_out = count;
    return KVBM_OK;
}

kvbm_status kvbm_router_seq_hashes(const uint64_t *h, size_t n, uint64_t *out)
{
    if (n != 0 && (h == NULL || out == NULL))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (n != 0 && (h == NULL || out == NULL))", __func__);
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = i == 0 ? h[0] : kvbm__chain_hash(prev, h[i]);
        out[i] = s;
        prev = s;
    }
    return KVBM_OK;
}

uint64_t kvbm_plh_router_block_hash(kvbm_plh h)
{
    return kvbm_plh_parent_fragment_for_child_position(h, kvbm_plh_position(h) + 1);
}

bool kvbm_plh_router_parent_hash(kvbm_plh h, uint64_t *parent)
{
    if (kvbm_plh_position(h) == 0) return false;
    if (parent) *parent = kvbm_plh_parent_fragment(h);
    return true;
}
