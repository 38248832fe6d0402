/* tests/manager/test_backends_lifecycle.c - 10-core §7.1 scenarios that need the Lineage,
 * MultiLRU or TinyLFU implementations: builder_tests (default Lineage backend, MultiLRU and
 * its threshold validation), capacity_lifecycle_tests over lru/multi_lru/lineage,
 * test_multiple_blocks_different_backends, test_shared_registry_across_managers,
 * duplicate_drop_preserves_presence (default Lineage), plus manager-level checks of the
 * Lineage Tick/FIFO and MultiLRU eviction orders (§3.3, §3.4.4). Every state change goes
 * through CK(), which runs the §2.2 invariant checker. */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"

static const kvbm_backend capacity_backends[3] = { KVBM_BACKEND_LRU, KVBM_BACKEND_MULTI_LRU,
                                                   KVBM_BACKEND_LINEAGE };

/* create_backend_manager(n, cfg): always with a (Medium) tracker */
static kvbm_manager *create_backend_manager(uint64_t n, kvbm_backend backend)
{
    tm_opts o = TM_OPTS_INIT(n);
    o.backend = backend;
    return tm_manager_create(&o);
}

static void expect_config_error(kvbm_manager_config *cfg, const char *needle)
{
    kvbm_manager *m = NULL;
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_manager_create(cfg, &m), KVBM_ECONFIG);
    EXPECT_TRUE(m == NULL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), needle);
    if (m != NULL) kvbm_manager_destroy(m);
}

static kvbm_registry *registry_with(tm_tracker_kind kind)
{
    kvbm_registry_config rc = KVBM_REGISTRY_CONFIG_INIT;
    kvbm_tracker *tr = NULL;
    if (kind == TM_TRACKER_MEDIUM && kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &tr) != KVBM_OK)
        return NULL;
    if (kind == TM_TRACKER_SMALL && kvbm_tinylfu_create_preset(KVBM_TRACKER_SMALL, &tr) != KVBM_OK)
        return NULL;
    rc.tracker = tr;
    kvbm_registry *r = NULL;
    kvbm_status st = kvbm_registry_create(&rc, &r);
    kvbm_tracker_release(tr);
    return st == KVBM_OK ? r : NULL;
}

/* ---- builder_tests ------------------------------------------------------------------ */

KVBM_TEST(test_builder_default)
{
    kvbm_registry *r = registry_with(TM_TRACKER_NONE);
    ASSERT_TRUE(r != NULL);
    tm_opts o = TM_OPTS_INIT(100);
    o.registry = r;
    o.backend = KVBM_BACKEND_LINEAGE; /* == the config default */
    kvbm_manager_config d = KVBM_MANAGER_CONFIG_INIT;
    EXPECT_EQ(d.backend, KVBM_BACKEND_LINEAGE);
    EXPECT_EQ(d.block_size, 16);
    EXPECT_EQ(d.duplication_policy, KVBM_DUP_ALLOW);
    EXPECT_FALSE(d.default_reset_on_release);
    EXPECT_EQ(d.multi_lru_thresholds[0], 3);
    EXPECT_EQ(d.multi_lru_thresholds[1], 8);
    EXPECT_EQ(d.multi_lru_thresholds[2], 15);
    o.block_size = 16;
    kvbm_manager *m = tm_manager_create(&o);
    kvbm_registry_release(r);
    ASSERT_TRUE(m != NULL);
    EXPECT_EQ(kvbm_manager_backend(m), KVBM_BACKEND_LINEAGE);
    EXPECT_EQ(kvbm_manager_block_size(m), 16);
    EXPECT_EQ(MET(m, reset_pool_size), 100);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    kvbm_mutable *mb[5];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 5, mb, NULL, NULL)));
    tm_release_mutables(mb, 5);
    tm_manager_destroy(m);
}

KVBM_TEST(test_builder_with_multi_lru_backend)
{
    tm_opts o = TM_OPTS_INIT(100);
    o.tracker_kind = TM_TRACKER_SMALL;
    o.backend = KVBM_BACKEND_MULTI_LRU;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    EXPECT_EQ(kvbm_manager_backend(m), KVBM_BACKEND_MULTI_LRU);
    kvbm_mutable *mb[8];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 8, mb, NULL, NULL)));
    tm_release_mutables(mb, 8);
    tm_manager_destroy(m);
}

KVBM_TEST(test_builder_with_custom_multi_lru_thresholds)
{
    tm_opts o = TM_OPTS_INIT(100);
    o.backend = KVBM_BACKEND_MULTI_LRU;
    o.thresholds[0] = 2;
    o.thresholds[1] = 6;
    o.thresholds[2] = 12;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[4];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 4, mb, NULL, NULL)));
    tm_release_mutables(mb, 4);
    tm_manager_destroy(m);
}

static void expect_threshold_error(uint8_t a, uint8_t b, uint8_t c, tm_tracker_kind kind,
                                   const char *needle)
{
    kvbm_registry *r = registry_with(kind);
    if (r == NULL) { kvbm_test_fail(__FILE__, __LINE__, "registry"); return; }
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = r;
    cfg.block_count = 10;
    cfg.backend = KVBM_BACKEND_MULTI_LRU;
    cfg.multi_lru_thresholds[0] = a;
    cfg.multi_lru_thresholds[1] = b;
    cfg.multi_lru_thresholds[2] = c;
    expect_config_error(&cfg, needle);
    kvbm_registry_release(r);
}

KVBM_TEST(test_builder_invalid_threshold_too_high)
{
    expect_threshold_error(2, 6, 20, TM_TRACKER_MEDIUM, "must be <= 15");
    expect_threshold_error(2, 6, 20, TM_TRACKER_MEDIUM, "hot_to_very_hot threshold (20)");
}

KVBM_TEST(test_builder_invalid_threshold_order)
{
    expect_threshold_error(6, 2, 10, TM_TRACKER_MEDIUM, "must be in ascending order");
    expect_threshold_error(6, 2, 10, TM_TRACKER_MEDIUM, "6 < 2 < 10 failed");
}

KVBM_TEST(test_builder_invalid_threshold_zero)
{
    expect_threshold_error(0, 6, 12, TM_TRACKER_MEDIUM, "cold_to_warm threshold must be >= 1");
}

KVBM_TEST(test_builder_multi_lru_requires_frequency_tracking)
{
    expect_threshold_error(3, 8, 15, TM_TRACKER_NONE, "frequency tracking");
}

/* thresholds are only validated for MultiLRU */
KVBM_TEST(test_builder_thresholds_ignored_for_lru)
{
    tm_opts o = TM_OPTS_INIT(8);
    o.thresholds[0] = 9;
    o.thresholds[1] = 2;
    o.thresholds[2] = 40;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    tm_manager_destroy(m);
}

/* ---- integration_tests ---------------------------------------------------------------- */

KVBM_TEST(test_multiple_blocks_different_backends)
{
    const kvbm_backend bk[2] = { KVBM_BACKEND_LRU, KVBM_BACKEND_MULTI_LRU };
    for (int k = 0; k < 2; k++) {
        kvbm_manager *m = create_backend_manager(20, bk[k]);
        ASSERT_TRUE(m != NULL);
        uint32_t toks[20];
        tm_iota(1000, 20, toks);
        kvbm_plh h[5];
        ASSERT_EQ(tm_chain_hashes(toks, 20, 4, TEST_SALT, h), 5);
        kvbm_block *b[5] = { 0 };
        ASSERT_TRUE(tm_register_hashes(m, h, 5, b));
        kvbm_block *out[5] = { 0 };
        size_t n = 0;
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 5, out, &n)));
        EXPECT_EQ(n, 5);
        for (size_t i = 0; i < n; i++) EXPECT_EQ(kvbm_block_id(out[i]), kvbm_block_id(b[i]));
        tm_release_blocks(out, n);
        tm_release_blocks(b, 5);
        EXPECT_EQ(kvbm_manager_inactive_len(m), 5);
        tm_manager_destroy(m);
    }
}

KVBM_TEST(test_shared_registry_across_managers)
{
    kvbm_registry *r = registry_with(TM_TRACKER_MEDIUM);
    ASSERT_TRUE(r != NULL);
    tm_opts o1 = TM_OPTS_INIT(100), o2 = TM_OPTS_INIT(100);
    o1.registry = r;
    o1.backend = KVBM_BACKEND_MULTI_LRU;
    o1.policy = KVBM_DUP_ALLOW;
    o1.tier = KVBM_G1;
    o2.registry = r;
    o2.backend = KVBM_BACKEND_MULTI_LRU;
    o2.policy = KVBM_DUP_REJECT;
    o2.tier = KVBM_G2;
    kvbm_manager *m1 = tm_manager_create(&o1), *m2 = tm_manager_create(&o2);
    ASSERT_TRUE(m1 != NULL && m2 != NULL);
    EXPECT_TRUE(kvbm_manager_registry(m1) == r);
    EXPECT_TRUE(kvbm_manager_registry(m2) == r);
    EXPECT_EQ(kvbm_manager_total_blocks(m1), 100);
    EXPECT_EQ(kvbm_manager_total_blocks(m2), 100);
    EXPECT_NE_U64(tm_manager_id(m1), tm_manager_id(m2));
    EXPECT_STR_EQ(kvbm_metrics_label(kvbm_manager_metrics(m1)), "G1");
    EXPECT_STR_EQ(kvbm_metrics_label(kvbm_manager_metrics(m2)), "G2");
    kvbm_plh h = tm_hash_for_id(4242);
    EXPECT_FALSE(kvbm_registry_is_registered(r, h));
    kvbm_block *b = tm_register_hash(m1, h);
    ASSERT_TRUE(b != NULL);
    EXPECT_TRUE(kvbm_registry_is_registered(r, h));
    bool g1 = false, g2 = true;
    EXPECT_OK(kvbm_registry_check_presence(r, KVBM_G1, &h, 1, &g1));
    EXPECT_OK(kvbm_registry_check_presence(r, KVBM_G2, &h, 1, &g2));
    EXPECT_TRUE(g1);
    EXPECT_FALSE(g2);
    /* the same hash in tier 2: one registry entry, presence in both tiers */
    kvbm_block *b2 = tm_register_hash(m2, h);
    ASSERT_TRUE(b2 != NULL);
    EXPECT_OK(kvbm_registry_check_presence(r, KVBM_G2, &h, 1, &g2));
    EXPECT_TRUE(g2);
    kvbm_handle *hd = NULL;
    ASSERT_OK(kvbm_registry_match(r, h, false, &hd));
    EXPECT_EQ(kvbm_handle_presence(hd, KVBM_G1), 1);
    EXPECT_EQ(kvbm_handle_presence(hd, KVBM_G2), 1);
    kvbm_handle_release(hd);
    tm_release_blocks(&b, 1);
    tm_release_blocks(&b2, 1);
    EXPECT_TRUE(kvbm_registry_is_registered(r, h)); /* both cached */
    kvbm_registry_release(r);
    tm_manager_destroy(m1);
    tm_manager_destroy(m2);
}

/* ---- capacity_lifecycle_tests ----------------------------------------------------------- */

/* n chained hashes (tokens base.., block size 4) */
static void chain(uint32_t base, size_t n, kvbm_plh *out)
{
    uint32_t *t = malloc(sizeof(uint32_t) * 4 * n);
    if (t == NULL) return;
    tm_iota(base, 4 * n, t);
    if (tm_chain_hashes(t, 4 * n, 4, 0, out) != n) kvbm_test_fail(__FILE__, __LINE__, "chain");
    free(t);
}

KVBM_TEST(test_full_capacity_register_and_return_to_inactive)
{
    for (int k = 0; k < 3; k++) {
        kvbm_manager *m = create_backend_manager(32, capacity_backends[k]);
        ASSERT_TRUE(m != NULL);
        kvbm_plh h[32];
        chain(0, 32, h);
        kvbm_block *b[32] = { 0 };
        ASSERT_TRUE(tm_register_hashes(m, h, 32, b));
        EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
        EXPECT_EQ(kvbm_manager_reset_len(m), 0);
        EXPECT_EQ(MET(m, inactive_pool_size), 0);
        EXPECT_EQ(MET(m, reset_pool_size), 0);
        tm_release_blocks(b, 32);
        EXPECT_EQ(kvbm_manager_inactive_len(m), 32);
        EXPECT_EQ(kvbm_manager_reset_len(m), 0);
        EXPECT_EQ(MET(m, allocations), 32);
        EXPECT_EQ(MET(m, registrations), 32);
        EXPECT_EQ(MET(m, inflight_mutable), 0);
        EXPECT_EQ(MET(m, inflight_immutable), 0);
        EXPECT_EQ(MET(m, inactive_pool_size), 32);
        EXPECT_EQ(MET(m, reset_pool_size), 0);
        EXPECT_EQ(kvbm_manager_available_blocks(m), 32);
        if (kvbm_test_failed_flag) printf("    backend %s\n", kvbm_backend_name(capacity_backends[k], KVBM_LINEAGE_TICK));
        tm_manager_destroy(m);
    }
}

KVBM_TEST(test_full_capacity_eviction_cycle)
{
    for (int k = 0; k < 3; k++) {
        kvbm_manager *m = create_backend_manager(16, capacity_backends[k]);
        ASSERT_TRUE(m != NULL);
        kvbm_plh h[16];
        chain(100, 16, h);
        kvbm_block *b[16] = { 0 };
        ASSERT_TRUE(tm_register_hashes(m, h, 16, b));
        tm_release_blocks(b, 16);
        EXPECT_EQ(kvbm_manager_inactive_len(m), 16);
        kvbm_mutable *mb[16];
        kvbm_plh ev[16];
        size_t nev = 0;
        ASSERT_OK(CK(kvbm_manager_allocate(m, 16, mb, ev, &nev)));
        EXPECT_EQ(nev, 16);
        /* every cached hash was evicted exactly once */
        for (int i = 0; i < 16; i++) {
            int seen = 0;
            for (size_t j = 0; j < nev; j++) seen += kvbm_plh_eq(ev[j], h[i]);
            EXPECT_EQ(seen, 1);
            EXPECT_FALSE(tm_is_registered(m, h[i]));
        }
        EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
        EXPECT_EQ(kvbm_manager_reset_len(m), 0);
        EXPECT_EQ(MET(m, inactive_pool_size), 0);
        EXPECT_EQ(MET(m, reset_pool_size), 0);
        tm_release_mutables(mb, 16);
        EXPECT_EQ(kvbm_manager_reset_len(m), 16);
        EXPECT_EQ(MET(m, reset_pool_size), 16);
        EXPECT_EQ(MET(m, evictions), 16);
        EXPECT_EQ(MET(m, allocations), 32);
        EXPECT_EQ(MET(m, allocations_from_reset), 16);
        if (kvbm_test_failed_flag) printf("    backend %s\n", kvbm_backend_name(capacity_backends[k], KVBM_LINEAGE_TICK));
        tm_manager_destroy(m);
    }
}

KVBM_TEST(test_mixed_return_paths)
{
    for (int k = 0; k < 3; k++) {
        kvbm_manager *m = create_backend_manager(24, capacity_backends[k]);
        ASSERT_TRUE(m != NULL);
        kvbm_mutable *mb[24];
        ASSERT_OK(CK(kvbm_manager_allocate(m, 24, mb, NULL, NULL)));
        tm_release_mutables(mb, 8);
        EXPECT_EQ(kvbm_manager_reset_len(m), 8);
        kvbm_complete *cb[16] = { 0 };
        kvbm_plh h[16];
        chain(5000, 16, h);
        for (int i = 0; i < 16; i++) {
            ASSERT_OK(CK(kvbm_mutable_stage(mb[8 + i], h[i], 4, &cb[i], NULL, NULL)));
            mb[8 + i] = NULL;
        }
        tm_release_completes(cb, 8);
        EXPECT_EQ(kvbm_manager_reset_len(m), 16);
        kvbm_block *b[8] = { 0 };
        ASSERT_OK(CK(kvbm_manager_register_blocks(m, cb + 8, 8, b)));
        tm_release_blocks(b, 8);
        EXPECT_EQ(kvbm_manager_inactive_len(m), 8);
        EXPECT_EQ(kvbm_manager_available_blocks(m), 24);
        EXPECT_EQ(MET(m, allocations), 24);
        EXPECT_EQ(MET(m, stagings), 16);
        EXPECT_EQ(MET(m, registrations), 8);
        EXPECT_EQ(MET(m, inflight_mutable), 0);
        EXPECT_EQ(MET(m, inflight_immutable), 0);
        EXPECT_EQ(MET(m, inactive_pool_size), 8);
        EXPECT_EQ(MET(m, reset_pool_size), 16);
        if (kvbm_test_failed_flag) printf("    backend %s\n", kvbm_backend_name(capacity_backends[k], KVBM_LINEAGE_TICK));
        tm_manager_destroy(m);
    }
}

KVBM_TEST(test_multi_lru_all_cold_blocks_at_capacity)
{
    kvbm_manager *m = create_backend_manager(64, KVBM_BACKEND_MULTI_LRU);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[64];
    for (uint32_t i = 0; i < 64; i++) h[i] = tm_hash_for_id(i * 10);
    kvbm_block *b[64] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, 64, b));
    tm_release_blocks(b, 64);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 64);
    EXPECT_EQ(MET(m, evictions), 0);
    EXPECT_EQ(MET(m, allocations), 64);
    tm_manager_destroy(m);
}

KVBM_TEST(test_multi_lru_mixed_frequency_levels)
{
    kvbm_manager *m = create_backend_manager(32, KVBM_BACKEND_MULTI_LRU); /* [3, 8, 15] */
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[32];
    for (uint32_t i = 0; i < 32; i++) h[i] = tm_hash_for_id(50000 + i * 10);
    kvbm_block *b[32] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, 32, b));
    static const int touches[4] = { 0, 3, 8, 15 };
    kvbm_registry *r = kvbm_manager_registry(m);
    for (int i = 0; i < 32; i++) {
        int q = (int)kvbm_block_id(b[i]) / 8;
        for (int t = 0; t < touches[q]; t++) kvbm_registry_touch(r, h[i]);
    }
    /* release in reverse id order so that recency alone would evict the hot ones first */
    for (int i = 31; i >= 0; i--) tm_release_blocks(&b[i], 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 32);
    kvbm_mutable *mb[32];
    kvbm_plh ev[32];
    size_t nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 32, mb, ev, &nev)));
    EXPECT_EQ(nev, 32);
    /* cold level first, then warm, hot, very hot (§3.3): registration order = id order */
    for (size_t j = 0; j < nev; j++) {
        int idx = -1;
        for (int i = 0; i < 32; i++) if (kvbm_plh_eq(ev[j], h[i])) idx = i;
        EXPECT_EQ(idx / 8, (int)j / 8);
    }
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(MET(m, evictions), 32);
    EXPECT_EQ(MET(m, allocations), 64);
    tm_release_mutables(mb, 32);
    tm_manager_destroy(m);
}

/* Frequency touches of a long match (more than one 64-key chunk) through the store: every
 * matched block is touched once, exactly as kvbm_tracker_touch would - with the cells the
 * store cached at staging (MultiLRU) and with hashing (LRU). A shadow Medium tracker
 * replays the same touches; both sketches must agree key by key. */
KVBM_TEST(test_long_match_touches_every_block_once)
{
    const kvbm_backend bk[2] = { KVBM_BACKEND_MULTI_LRU, KVBM_BACKEND_LRU };
    enum { N = 150 };
    for (int k = 0; k < 2; k++) {
        kvbm_manager *m = create_backend_manager(N + 8, bk[k]);
        ASSERT_TRUE(m != NULL);
        kvbm_tracker *shadow = NULL;
        ASSERT_OK(kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &shadow));
        kvbm_plh h[N];
        for (uint32_t i = 0; i < N; i++) h[i] = tm_hash_for_id(70000 + i * 10);
        kvbm_block *b[N] = { 0 };
        ASSERT_TRUE(tm_register_hashes(m, h, N, b));
        kvbm_tracker_touch_many(shadow, h, N); /* the creation touches */
        tm_release_blocks(b, N);
        for (int round = 0; round < 3; round++) {
            size_t got = 0;
            ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, N, b, &got)));
            ASSERT_EQ(got, (size_t)N);
            kvbm_tracker_touch_many(shadow, h, N);
            tm_release_blocks(b, N);
        }
        kvbm_tracker *t = kvbm_registry_tracker(kvbm_manager_registry(m));
        ASSERT_TRUE(t != NULL);
        for (uint32_t i = 0; i < N; i++) {
            EXPECT_EQ(kvbm_tracker_count(t, h[i]), kvbm_tracker_count(shadow, h[i]));
            EXPECT_GE(kvbm_tracker_count(t, h[i]), 4u);
        }
        EXPECT_EQ(kvbm_manager_inactive_len(m), (uint64_t)N);
        kvbm_tracker_release(shadow);
        tm_manager_destroy(m);
    }
}

KVBM_TEST(test_double_lifecycle_cycle)
{
    for (int k = 0; k < 3; k++) {
        kvbm_manager *m = create_backend_manager(16, capacity_backends[k]);
        ASSERT_TRUE(m != NULL);
        kvbm_plh h1[16], h2[16];
        chain(0, 16, h1);
        chain(90000, 16, h2);
        kvbm_block *b[16] = { 0 };
        ASSERT_TRUE(tm_register_hashes(m, h1, 16, b));
        tm_release_blocks(b, 16);
        EXPECT_EQ(MET(m, inactive_pool_size), 16);
        EXPECT_EQ(MET(m, reset_pool_size), 0);
        kvbm_mutable *mb[16];
        ASSERT_OK(CK(kvbm_manager_allocate(m, 16, mb, NULL, NULL)));
        EXPECT_EQ(MET(m, inactive_pool_size), 0);
        EXPECT_EQ(MET(m, reset_pool_size), 0);
        tm_release_mutables(mb, 16);
        EXPECT_EQ(kvbm_manager_reset_len(m), 16);
        ASSERT_TRUE(tm_register_hashes(m, h2, 16, b));
        tm_release_blocks(b, 16);
        EXPECT_EQ(kvbm_manager_inactive_len(m), 16);
        EXPECT_EQ(MET(m, allocations), 48);
        EXPECT_EQ(MET(m, registrations), 32);
        EXPECT_EQ(MET(m, evictions), 16);
        EXPECT_EQ(MET(m, inactive_pool_size), 16);
        EXPECT_EQ(MET(m, reset_pool_size), 0);
        EXPECT_EQ(kvbm_manager_available_blocks(m), 16);
        if (kvbm_test_failed_flag) printf("    backend %s\n", kvbm_backend_name(capacity_backends[k], KVBM_LINEAGE_TICK));
        tm_manager_destroy(m);
    }
}

/* ---- race_regression_tests: duplicate_drop_preserves_presence -------------------------- */

KVBM_TEST(duplicate_drop_preserves_presence)
{
    /* build_manager_with_policy(4, Allow): plain registry, default (Lineage) backend */
    tm_opts o = TM_OPTS_INIT(4);
    o.tracker_kind = TM_TRACKER_NONE;
    o.backend = KVBM_BACKEND_LINEAGE;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(3);
    kvbm_block *p = tm_register_hash(m, h), *d = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL && d != NULL);
    EXPECT_TRUE(kvbm_block_is_duplicate(d));
    EXPECT_TRUE(tm_has_presence(m, h));
    tm_release_blocks(&d, 1);
    EXPECT_TRUE(tm_has_presence(m, h));
    tm_release_blocks(&p, 1);
    EXPECT_TRUE(tm_has_presence(m, h));
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
    tm_manager_destroy(m);
}

/* ---- eviction order through the manager ------------------------------------------------- */

/* Register chains A->B and X->Y, release A, B, X, Y; allocate 4 and compare the evicted
 * hashes with §3.4.4's worked example. */
static void lineage_order(kvbm_lineage_eviction ev, const int want[4])
{
    tm_opts o = TM_OPTS_INIT(4);
    o.backend = KVBM_BACKEND_LINEAGE;
    o.eviction = ev;
    kvbm_manager *m = tm_manager_create(&o);
    if (m == NULL) return;
    kvbm_plh ab[2], xy[2];
    chain(0, 2, ab);
    chain(5000, 2, xy);
    kvbm_plh all[4] = { ab[0], ab[1], xy[0], xy[1] };
    kvbm_block *b[4] = { 0 };
    if (!tm_register_hashes(m, all, 4, b)) { tm_manager_destroy(m); return; }
    tm_release_blocks(b, 4);
    kvbm_mutable *mb[4];
    kvbm_plh evd[4];
    size_t nev = 0;
    if (CK(kvbm_manager_allocate(m, 4, mb, evd, &nev)) != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "allocate");
        tm_manager_destroy(m);
        return;
    }
    EXPECT_EQ(nev, 4);
    for (size_t j = 0; j < nev && j < 4; j++) EXPECT_TRUE(kvbm_plh_eq(evd[j], all[want[j]]));
    tm_release_mutables(mb, 4);
    tm_manager_destroy(m);
}

KVBM_TEST(lineage_tick_eviction_order_through_manager)
{
    static const int want[4] = { 1, 0, 3, 2 }; /* B, A, Y, X */
    lineage_order(KVBM_LINEAGE_TICK, want);
}

KVBM_TEST(lineage_fifo_eviction_order_through_manager)
{
    static const int want[4] = { 1, 3, 0, 2 }; /* B, Y, A, X */
    lineage_order(KVBM_LINEAGE_FIFO, want);
}

/* Lineage never breaks a cached prefix from the root side: a 4-chain evicts leaf first. */
KVBM_TEST(lineage_evicts_leaf_first)
{
    tm_opts o = TM_OPTS_INIT(5);
    o.backend = KVBM_BACKEND_LINEAGE;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[4];
    chain(7, 4, h);
    kvbm_block *b[4] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, 4, b));
    tm_release_blocks(b, 4); /* root released first */
    kvbm_mutable *mb[3];
    kvbm_plh ev[3];
    size_t nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 3, mb, ev, &nev))); /* 1 from reset, 2 evicted */
    ASSERT_EQ(nev, 2);
    EXPECT_TRUE(kvbm_plh_eq(ev[0], h[3]));
    EXPECT_TRUE(kvbm_plh_eq(ev[1], h[2]));
    kvbm_block *out[4] = { 0 };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 4, out, &n)));
    EXPECT_EQ(n, 2);
    tm_release_blocks(out, n);
    tm_release_mutables(mb, 3);
    tm_manager_destroy(m);
}

/* HashMap backend: FIFO over release time */
KVBM_TEST(hashmap_eviction_is_fifo_over_release)
{
    kvbm_manager *m = create_test_manager_with_backend(3, KVBM_BACKEND_HASHMAP);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[3] = { tm_hash_for_id(1), tm_hash_for_id(11), tm_hash_for_id(21) };
    kvbm_block *b[3] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, 3, b));
    tm_release_blocks(&b[2], 1);
    tm_release_blocks(&b[0], 1);
    tm_release_blocks(&b[1], 1);
    kvbm_mutable *mb[3];
    kvbm_plh ev[3];
    size_t nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 3, mb, ev, &nev)));
    ASSERT_EQ(nev, 3);
    EXPECT_TRUE(kvbm_plh_eq(ev[0], h[2]));
    EXPECT_TRUE(kvbm_plh_eq(ev[1], h[0]));
    EXPECT_TRUE(kvbm_plh_eq(ev[2], h[1]));
    tm_release_mutables(mb, 3);
    tm_manager_destroy(m);
}

/* LRU is FIFO over release time too; a resurrected-then-released block re-enters as newest */
KVBM_TEST(lru_resurrected_block_reenters_as_newest)
{
    kvbm_manager *m = create_test_manager(3);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[3] = { tm_hash_for_id(1), tm_hash_for_id(11), tm_hash_for_id(21) };
    for (int i = 0; i < 3; i++) tm_register_and_drop(m, h[i]);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h[0], 1, out, &n)));
    ASSERT_EQ(n, 1);
    tm_release_blocks(out, 1);
    kvbm_mutable *mb[3];
    kvbm_plh ev[3];
    size_t nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 3, mb, ev, &nev)));
    ASSERT_EQ(nev, 3);
    EXPECT_TRUE(kvbm_plh_eq(ev[0], h[1]));
    EXPECT_TRUE(kvbm_plh_eq(ev[1], h[2]));
    EXPECT_TRUE(kvbm_plh_eq(ev[2], h[0]));
    tm_release_mutables(mb, 3);
    tm_manager_destroy(m);
}
