/* tests/store/test_release_pairs.c - kvbm_block_release_many into a backend with its own
 * hash index (Lineage): a run of plain final releases is unindexed, set Inactive and handed
 * to the backend with one insert_pairs call (handles.c, kvbm__pairs_flush); any other drop
 * in the batch (a duplicate, a block evicted on reset) flushes the run first. The batch
 * must leave exactly what one kvbm_block_release per handle leaves: pools, gauges and the
 * eviction order. (A refused pair: test_store.c.) */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "store/store_int.h"
#include "manager/manager_int.h"

#define NCHAIN 100u /* > 64 (RM_INS): the run is flushed when full, too */
#define NB     160u

struct outcome {
    uint64_t inactive, reset;
    int64_t  g_inactive, g_reset;
    kvbm_plh ev[NB];
    size_t   nev;
};

/* Register a chain (released tail first, as the replay does), three unrelated roots, a
 * duplicate of root 1 (its primary released first: kept by the keepalive), a chain block
 * evicted on reset and a clone of another; release them all in one batch (@batch) or one
 * handle at a time, then evict everything. */
static void run(kvbm_lineage_eviction ev, bool batch, struct outcome *o)
{
    tm_opts opt = TM_OPTS_INIT(NB);
    opt.backend = KVBM_BACKEND_LINEAGE;
    opt.eviction = ev;
    opt.policy = KVBM_DUP_ALLOW;
    kvbm_manager *m = tm_manager_create(&opt);
    ASSERT_TRUE(m != NULL);
    struct kvbm__store *s = kvbm__manager_store(m);
    ASSERT_TRUE(!s->byid && s->inactive.ops->insert_pairs != NULL);
    uint32_t tok[NCHAIN * DEFAULT_TEST_BLOCK_SIZE];
    tm_iota(77, NCHAIN * DEFAULT_TEST_BLOCK_SIZE, tok);
    kvbm_plh h[NCHAIN], r[3];
    size_t nh = tm_chain_hashes(tok, NCHAIN * DEFAULT_TEST_BLOCK_SIZE, DEFAULT_TEST_BLOCK_SIZE, 0, h);
    ASSERT_EQ(nh, (size_t)NCHAIN);
    kvbm_block *b[NCHAIN] = { 0 }, *p[3] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, NCHAIN, b));
    for (uint32_t i = 0; i < 3; i++) {
        r[i] = tm_hash_for_id(700 + i);
        p[i] = tm_register_hash(m, r[i]);
        ASSERT_TRUE(p[i] != NULL);
    }
    kvbm_block *d = tm_register_hash(m, r[1]);
    ASSERT_TRUE(d != NULL && kvbm_block_is_duplicate(d));
    tm_release_blocks(&p[1], 1);
    ASSERT_OK(kvbm_block_set_evict_on_reset(b[50], true));
    kvbm_block *c20 = NULL;
    ASSERT_OK(kvbm_block_clone(b[20], &c20));
    kvbm_block *all[NCHAIN + 8];
    size_t n = 0;
    for (uint32_t i = NCHAIN; i-- > 0;) {
        all[n++] = b[i];
        if (i == 70) all[n++] = d;     /* its keepalive drop sends P1 Inactive */
        if (i == 40) all[n++] = NULL;
        if (i == 20) all[n++] = c20;   /* the final release of block 20 */
        if (i == 10) all[n++] = p[0];
    }
    all[n++] = p[2];
    if (batch) {
        ASSERT_OK(CK(kvbm_block_release_many(all, n)));
    } else {
        for (size_t i = 0; i < n; i++) ASSERT_OK(CK(kvbm_block_release(all[i])));
    }
    o->inactive = kvbm_manager_inactive_len(m);
    o->reset = kvbm_manager_reset_len(m);
    o->g_inactive = MET(m, inactive_pool_size);
    o->g_reset = MET(m, reset_pool_size);
    size_t want = (size_t)(o->inactive + o->reset);
    kvbm_mutable *mb[NB];
    o->nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, want, mb, o->ev, &o->nev)));
    tm_release_mutables(mb, want);
    tm_manager_destroy(m);
}

static void batch_equals_single_releases(kvbm_lineage_eviction ev)
{
    static struct outcome a, one;
    run(ev, true, &a);
    run(ev, false, &one);
    EXPECT_EQ(a.inactive, (uint64_t)NCHAIN + 3 - 1); /* block 50 went to the reset pool */
    EXPECT_EQ(a.inactive, one.inactive);
    EXPECT_EQ(a.reset, one.reset);
    EXPECT_EQ(a.g_inactive, one.g_inactive);
    EXPECT_EQ(a.g_inactive, (int64_t)a.inactive);
    EXPECT_EQ(a.g_reset, one.g_reset);
    ASSERT_EQ(a.nev, one.nev);
    EXPECT_EQ(a.nev, (size_t)a.inactive);
    for (size_t i = 0; i < a.nev; i++) EXPECT_TRUE(kvbm_plh_eq(a.ev[i], one.ev[i]));
}

KVBM_TEST(release_many_lineage_tick_equals_single_releases)
{
    batch_equals_single_releases(KVBM_LINEAGE_TICK);
}

KVBM_TEST(release_many_lineage_fifo_equals_single_releases)
{
    batch_equals_single_releases(KVBM_LINEAGE_FIFO);
}
