/* tests/backends/backends_test.h - helpers shared by the backend tests (header-only). */
#ifndef KVBM_BACKENDS_TEST_H
#define KVBM_BACKENDS_TEST_H

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "harness.h"
#include "backends/backend.h"
#include "kvbm/tracker.h"

/* Backend kinds exercised by the parameterised tests. */
enum tb_kind { TB_HASHMAP, TB_LRU, TB_MULTI_LRU, TB_LINEAGE_TICK, TB_LINEAGE_FIFO, TB_NKINDS };

static inline const char *tb_name(enum tb_kind k)
{
    static const char *const names[] = { "hashmap", "lru", "multi_lru", "lineage_tick", "lineage_fifo" };
    return names[k];
}

/* Build backend @k of @cap blocks. MultiLRU gets a fresh TinyLFU(100) tracker and the
 * test thresholds [2, 6, 15]; *tracker (optional) receives a borrowed pointer to it. */
static inline kvbm_status tb_create(enum tb_kind k, size_t cap, kvbm__inactive *out, kvbm_tracker **tracker)
{
    static const uint8_t thr[3] = { 2, 6, 15 };
    kvbm_status st;
    kvbm_tracker *t = NULL;
    switch (k) {
    case TB_HASHMAP: return kvbm__hashmap_create(cap, out);
    case TB_LRU: return kvbm__lru_create(cap, out);
    case TB_MULTI_LRU:
        st = kvbm_tinylfu_create(100, NULL, &t);
        if (st != KVBM_OK) return st;
        st = kvbm__multi_lru_create(cap, thr, t, out);
        if (tracker != NULL) *tracker = t;
        kvbm_tracker_release(t); /* the backend holds its own reference */
        return st;
    case TB_LINEAGE_TICK: return kvbm__lineage_create(cap, KVBM_LINEAGE_TICK, out);
    case TB_LINEAGE_FIFO: return kvbm__lineage_create(cap, KVBM_LINEAGE_FIFO, out);
    default: return KVBM_EINVAL;
    }
}

/* The reference's block_id_and_hash(i, tokens_for_id(i)): an unrelated root PLH per id
 * (local hash = XXH3 of the tokens [i, i+1, i+2, i+3] as u32 LE, seed 0). */
static inline kvbm_plh tb_hash_for_id(uint32_t i)
{
    uint8_t buf[16];
    for (int k = 0; k < 4; k++) {
        uint32_t v = i + (uint32_t)k;
        for (int b = 0; b < 4; b++) buf[4 * k + b] = (uint8_t)(v >> (8 * b));
    }
    return kvbm_plh_root(XXH3_64bits(buf, sizeof buf));
}

/* A chain of n PLHs with local hashes derived from tokens offset..offset+n (block size 1). */
static inline void tb_chain(size_t n, uint64_t offset, kvbm_plh *out)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t tok = offset + i;
        uint64_t local = XXH3_64bits(&tok, sizeof tok);
        if (i == 0) out[0] = kvbm_plh_root(local);
        else if (kvbm_plh_extend(&out[i - 1], local, &out[i]) != KVBM_OK) abort();
    }
}

static inline bool tb_check(const kvbm__inactive *b)
{
    return b->ops->check == NULL || b->ops->check(b->ctx);
}

/* List models of an eviction order (the ring compaction tests): the smallest id not in
 * model[0..len), and removal of model[i] keeping the order. */
static inline uint32_t tb_smallest_absent(const uint32_t *model, size_t len)
{
    for (uint32_t id = 0;; id++) {
        bool present = false;
        for (size_t i = 0; i < len; i++) present |= model[i] == id;
        if (!present) return id;
    }
}

static inline void tb_model_remove(uint32_t *model, size_t *len, size_t i)
{
    memmove(&model[i], &model[i + 1], (*len - i - 1) * sizeof *model);
    (*len)--;
}

/* A Lineage backend of @cap blocks (aborts on failure) and its structure counts. */
static inline kvbm__inactive tb_lineage(size_t cap, kvbm_lineage_eviction ev)
{
    kvbm__inactive b = { NULL, NULL, NULL };
    if (kvbm__lineage_create(cap, ev, &b) != KVBM_OK) abort();
    return b;
}

static inline kvbm__lineage_info tb_lineage_info(const kvbm__inactive *b)
{
    kvbm__lineage_info s;
    memset(&s, 0, sizeof s);
    if (!kvbm__lineage_stats(b, &s)) abort();
    return s;
}

/* xorshift64 step of the seeded differential loops (seed odd, from test_seed()). */
static inline uint64_t tb_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Differential loops: the cached prefix of c[0..len) comes back (consumed) from two
 * backends driven alike; its block ids into ids[]. Returns the prefix length, SIZE_MAX if
 * the two disagree (length or an id). pa, pb: scratch of >= len pairs. */
static inline size_t tb_match_both(kvbm__inactive *a, kvbm__inactive *b, const kvbm_plh *c, size_t len,
                                   kvbm__pair *pa, kvbm__pair *pb, uint32_t *ids)
{
    size_t ha = a->ops->find_matches(a->ctx, c, len, false, pa);
    size_t hb = b->ops->find_matches(b->ctx, c, len, false, pb);
    if (ha != hb) return SIZE_MAX;
    for (size_t i = 0; i < ha; i++) {
        if (pa[i].block_id != pb[i].block_id) return SIZE_MAX;
        ids[i] = pa[i].block_id;
    }
    return ha;
}

#endif
