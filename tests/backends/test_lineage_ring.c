/* tests/backends/test_lineage_ring.c - the Lineage/Tick tick ring (lineage.c) is a hint only.
 *
 * A Tick backend whose index reaches the insert hint's size (capacity >= 8192) records the
 * cell of every tick in a ring and prefetches, per eviction, the cell LIN_TRING_LEAD ticks
 * ahead. It runs its own ops table (lin_*_tickr); smaller ones run the plain Tick ops. Both
 * must take exactly the same decisions: the replay's pattern (match a chain's prefix, evict
 * for the rest, release the whole chain tail first) is driven through a ring backend and a
 * plain one side by side, every result compared, for more inserts than the ring has entries
 * (so its entries wrap and name recycled cells).
 */
#include "backends_test.h"

#define RING_CAP  16384u /* index 65536 slots: the ring variant */
#define PLAIN_CAP 4096u  /* index 16384 slots: the plain Tick ops */
#define LIVE      4000u  /* block ids in use by both (<= PLAIN_CAP) */
#define MAXLEN    48u

KVBM_TEST(tick_ring_backend_evicts_exactly_like_plain_tick)
{
    kvbm__inactive a = { NULL, NULL, NULL }, b = { NULL, NULL, NULL };
    ASSERT_OK(kvbm__lineage_create(RING_CAP, KVBM_LINEAGE_TICK, &a));
    ASSERT_OK(kvbm__lineage_create(PLAIN_CAP, KVBM_LINEAGE_TICK, &b));
    /* two variants of one policy: different ops, one name, both known to the stats */
    EXPECT_TRUE(a.ops != b.ops);
    EXPECT_TRUE(strcmp(a.ops->name, b.ops->name) == 0);
    kvbm__lineage_info ia, ib;
    ASSERT_TRUE(kvbm__lineage_stats(&a, &ia));
    ASSERT_TRUE(kvbm__lineage_stats(&b, &ib));

    static uint32_t free_ids[LIVE];
    size_t nfree = 0;
    for (uint32_t i = LIVE; i-- > 0;) free_ids[nfree++] = i;
    uint64_t seed = test_seed() | 1, s = seed;
    printf("tick_ring: seed=%" PRIu64 " (KVBM_TEST_SEED to replay)\n", seed);
    size_t inserts = 0, evictions = 0, hits = 0;
    const size_t want = test_under_sanitizer() ? 40000 : 80000; /* > 32768 ring entries */
    kvbm_plh c[MAXLEN];
    kvbm__pair pa[MAXLEN], pb[MAXLEN];
    uint32_t ids[MAXLEN];
    for (size_t round = 0; inserts < want; round++) {
        size_t len = 1 + (size_t)(tb_rng(&s) % MAXLEN);
        tb_chain(len, 1000 * (tb_rng(&s) % 256), c); /* 256 prompts: shared prefixes */
        /* match: the cached prefix comes back (consumed) */
        size_t ha = tb_match_both(&a, &b, c, len, pa, pb, ids);
        ASSERT_TRUE(ha != SIZE_MAX);
        hits += ha;
        /* allocate the rest, evicting when no id is free */
        size_t need = len - ha;
        if (nfree < need) {
            size_t k = need - nfree;
            size_t ea = a.ops->allocate(a.ctx, k, pa);
            size_t eb = b.ops->allocate(b.ctx, k, pb);
            ASSERT_EQ(ea, k);
            ASSERT_EQ(eb, k);
            for (size_t i = 0; i < k; i++) {
                ASSERT_EQ(pa[i].block_id, pb[i].block_id);
                ASSERT_TRUE(kvbm_plh_eq(pa[i].hash, pb[i].hash));
                free_ids[nfree++] = pa[i].block_id;
            }
            evictions += k;
        }
        for (size_t i = ha; i < len; i++) ids[i] = free_ids[--nfree];
        /* release: the whole chain, tail first */
        for (size_t i = len; i-- > 0;) {
            ASSERT_OK(a.ops->insert(a.ctx, c[i], ids[i]));
            ASSERT_OK(b.ops->insert(b.ctx, c[i], ids[i]));
        }
        inserts += len;
        ASSERT_EQ(a.ops->len(a.ctx), b.ops->len(b.ctx));
        if (round % 256 == 0) {
            ASSERT_TRUE(tb_check(&a));
            ASSERT_TRUE(tb_check(&b));
        }
    }
    ASSERT_TRUE(tb_check(&a));
    ASSERT_TRUE(tb_check(&b));
    ASSERT_TRUE(kvbm__lineage_stats(&a, &ia));
    ASSERT_TRUE(kvbm__lineage_stats(&b, &ib));
    EXPECT_EQ(ia.real, ib.real);
    EXPECT_EQ(ia.ghosts, ib.ghosts);
    EXPECT_EQ(ia.leaves, ib.leaves);
    /* the workload exercised what it is about: evictions up chains, and hits */
    printf("tick_ring: %zu inserts, %zu evictions, %zu hits\n", inserts, evictions, hits);
    EXPECT_TRUE(evictions > inserts / 4);
    EXPECT_TRUE(hits > 0);
    /* drain: the same order to the last block */
    size_t n = a.ops->len(a.ctx);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(a.ops->allocate(a.ctx, 1, pa), 1u);
        ASSERT_EQ(b.ops->allocate(b.ctx, 1, pb), 1u);
        ASSERT_EQ(pa[0].block_id, pb[0].block_id);
    }
    EXPECT_EQ(a.ops->len(a.ctx), 0u);
    EXPECT_TRUE(tb_check(&a));
    kvbm__inactive_destroy(&a);
    kvbm__inactive_destroy(&b);
}

/* Fifo has no ticks: one ops table whatever the capacity. */
KVBM_TEST(tick_ring_only_for_large_tick_backends)
{
    kvbm__inactive f1 = { NULL, NULL, NULL }, f2 = { NULL, NULL, NULL };
    kvbm__inactive t1 = { NULL, NULL, NULL }, t2 = { NULL, NULL, NULL };
    ASSERT_OK(kvbm__lineage_create(RING_CAP, KVBM_LINEAGE_FIFO, &f1));
    ASSERT_OK(kvbm__lineage_create(16, KVBM_LINEAGE_FIFO, &f2));
    ASSERT_OK(kvbm__lineage_create(8191, KVBM_LINEAGE_TICK, &t1)); /* 32768 index slots */
    ASSERT_OK(kvbm__lineage_create(16, KVBM_LINEAGE_TICK, &t2));
    EXPECT_TRUE(f1.ops == f2.ops);
    EXPECT_TRUE(t1.ops != t2.ops); /* 8191 rounds up to the hint's 2^15 slots */
    kvbm__inactive_destroy(&f1);
    kvbm__inactive_destroy(&f2);
    kvbm__inactive_destroy(&t1);
    kvbm__inactive_destroy(&t2);
}
