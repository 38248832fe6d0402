/* tests/registry/test_registry_manager.c - registry scenarios that need block managers
 * (spec 20 §2.5, §5.1; 10-core §5.5).
 *
 * Presence markers follow allocations, evictions, duplicates and resets; resurrection under
 * Allow and Reject; one registry shared by a G1 and a G2 manager (a hash present in both,
 * independent per-tier counts, one registration); the exact tracker-touch accounting per
 * public manager call, with a metered tracker.
 */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "support/metered_tracker.h"
#include "kvbm/manager.h"
#include "kvbm/registry.h"
#include "registry/registry_int.h"

#define BS 16u

static kvbm_manager *new_manager(kvbm_registry *r, uint64_t blocks, kvbm_tier tier,
                                 kvbm_dup_policy policy)
{
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = r;
    cfg.block_count = blocks;
    cfg.block_size = BS;
    cfg.tier_key = tier;
    cfg.duplication_policy = policy;
    kvbm_manager *m = NULL;
    if (kvbm_manager_create(&cfg, &m) != KVBM_OK) return NULL;
    return m;
}

/* presence count of @h for @tier as the registry sees it (0 if not registered) */
static uint32_t presence(kvbm_registry *r, kvbm_plh h, kvbm_tier tier)
{
    kvbm_handle *hd = NULL;
    if (kvbm_registry_match(r, h, false, &hd) != KVBM_OK) return 0;
    uint32_t c = kvbm_handle_presence(hd, tier);
    kvbm_handle_release(hd);
    return c;
}

static bool has_block(kvbm_registry *r, kvbm_plh h, kvbm_tier tier)
{
    bool out = false;
    if (kvbm_registry_check_presence(r, tier, &h, 1, &out) != KVBM_OK) return false;
    return out;
}

/* drop @n blocks of @m's inactive pool by allocating (and releasing) fresh blocks */
static kvbm_status allocate_all(kvbm_manager *m, size_t n, kvbm_plh *evicted, size_t *n_evicted)
{
    kvbm_mutable **mb = calloc(n, sizeof *mb);
    if (mb == NULL) return KVBM_ENOMEM;
    kvbm_status st = kvbm_manager_allocate(m, n, mb, evicted, n_evicted);
    if (st == KVBM_OK)
        for (size_t i = 0; i < n; i++) (void)kvbm_mutable_release(mb[i]);
    free(mb);
    return st;
}

#define REQUIRE_MANAGER(m) do { if ((m) == NULL) {                                          \
        kvbm_test_fail(__FILE__, __LINE__, "kvbm_manager_create failed: %s", kvbm_last_error()); \
        return; } } while (0)

KVBM_TEST(presence_tracking_lifecycle)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = new_manager(r, 2, KVBM_G1, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(m);
    kvbm_plh h = tm_hash_n(1);
    EXPECT_FALSE(has_block(r, h, KVBM_G1));
    kvbm_block *b = tm_try_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    EXPECT_TRUE(has_block(r, h, KVBM_G1));
    kvbm_handle *hd = NULL;
    ASSERT_OK(kvbm_block_registration_handle(b, &hd));
    EXPECT_TRUE(kvbm_handle_has_block(hd, KVBM_G1));
    kvbm_handle_release(hd);
    ASSERT_OK(kvbm_block_release(b));            /* inactive: still present */
    EXPECT_TRUE(has_block(r, h, KVBM_G1));
    EXPECT_TRUE(kvbm_registry_is_registered(r, h));
    kvbm_plh ev[2];
    size_t nev = 0;
    ASSERT_OK(allocate_all(m, 2, ev, &nev));     /* 2 of 2: evicts it */
    ASSERT_EQ(nev, 1);
    EXPECT_TRUE(kvbm_plh_eq(ev[0], h));
    EXPECT_FALSE(has_block(r, h, KVBM_G1));
    EXPECT_FALSE(kvbm_registry_is_registered(r, h)); /* no holder left anywhere */
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(presence_tracking_different_tiers)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *a = new_manager(r, 4, KVBM_G1, KVBM_DUP_ALLOW);
    kvbm_manager *b = new_manager(r, 4, KVBM_G2, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(a);
    REQUIRE_MANAGER(b);
    kvbm_plh h = tm_hash_n(2);
    kvbm_block *ba = tm_try_register_hash(a, h);
    ASSERT_TRUE(ba != NULL);
    EXPECT_TRUE(has_block(r, h, KVBM_G1));
    EXPECT_FALSE(has_block(r, h, KVBM_G2));
    kvbm_block *bb = tm_try_register_hash(b, h);
    ASSERT_TRUE(bb != NULL);
    EXPECT_TRUE(has_block(r, h, KVBM_G1));
    EXPECT_TRUE(has_block(r, h, KVBM_G2));
    kvbm_tier g1g2[2] = { KVBM_G1, KVBM_G2 }, g3[1] = { KVBM_G3 };
    bool out = false;
    ASSERT_OK(kvbm_registry_check_presence_any(r, &h, 1, g1g2, 2, &out));
    EXPECT_TRUE(out);
    ASSERT_OK(kvbm_registry_check_presence_any(r, &h, 1, g3, 1, &out));
    EXPECT_FALSE(out);
    ASSERT_OK(kvbm_block_release(ba));
    ASSERT_OK(kvbm_block_release(bb));
    kvbm_manager_destroy(a);
    kvbm_manager_destroy(b);
    kvbm_registry_release(r);
}

KVBM_TEST(check_presence_with_a_manager)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = new_manager(r, 4, KVBM_G1, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(m);
    kvbm_block *b1 = tm_try_register_hash(m, tm_hash_n(10)), *b3 = tm_try_register_hash(m, tm_hash_n(12));
    ASSERT_TRUE(b1 != NULL && b3 != NULL);
    kvbm_plh hs[3] = { tm_hash_n(10), tm_hash_n(11), tm_hash_n(12) };
    bool out[3];
    ASSERT_OK(kvbm_registry_check_presence(r, KVBM_G1, hs, 3, out));
    EXPECT_TRUE(out[0]);
    EXPECT_FALSE(out[1]);
    EXPECT_TRUE(out[2]);
    ASSERT_OK(kvbm_block_release(b1));
    ASSERT_OK(kvbm_block_release(b3));
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(resurrect_promotes_inactive_block_under_allow_policy)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = new_manager(r, 4, KVBM_G1, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(m);
    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(20));
    ASSERT_TRUE(b != NULL);
    uint32_t id = kvbm_block_id(b);
    kvbm_weak *w = NULL;
    ASSERT_OK(kvbm_block_downgrade(b, &w));
    ASSERT_OK(kvbm_block_release(b));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    kvbm_block *u = NULL;
    ASSERT_OK(kvbm_weak_upgrade(w, &u));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(u), tm_hash_n(20)));
    EXPECT_EQ(kvbm_block_id(u), id);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(presence(r, tm_hash_n(20), KVBM_G1), 1); /* resurrection does not change presence */
    ASSERT_OK(kvbm_block_release(u));
    kvbm_weak_release(w);
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(resurrect_via_register_returns_existing_under_reject_policy)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = new_manager(r, 4, KVBM_G1, KVBM_DUP_REJECT);
    REQUIRE_MANAGER(m);
    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(21));
    ASSERT_TRUE(b != NULL);
    uint32_t id = kvbm_block_id(b);
    kvbm_weak *w = NULL;
    ASSERT_OK(kvbm_block_downgrade(b, &w));
    ASSERT_OK(kvbm_block_release(b));             /* inactive */
    kvbm_block *b2 = tm_try_register_hash(m, tm_hash_n(21));      /* Reject: the existing primary */
    ASSERT_TRUE(b2 != NULL);
    EXPECT_EQ(kvbm_block_id(b2), id);
    EXPECT_FALSE(kvbm_block_is_duplicate(b2));
    EXPECT_EQ(presence(r, tm_hash_n(21), KVBM_G1), 1);    /* unchanged on Reject */
    kvbm_block *u = NULL;
    ASSERT_OK(kvbm_weak_upgrade(w, &u));
    EXPECT_EQ(kvbm_block_id(u), id);
    ASSERT_OK(kvbm_block_release(u));
    ASSERT_OK(kvbm_block_release(b2));
    kvbm_weak_release(w);
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(duplicate_drop_preserves_presence)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = new_manager(r, 4, KVBM_G1, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(m);
    kvbm_block *p = tm_try_register_hash(m, tm_hash_n(30)), *d = tm_try_register_hash(m, tm_hash_n(30));
    ASSERT_TRUE(p != NULL && d != NULL);
    EXPECT_TRUE(kvbm_block_is_duplicate(d));
    EXPECT_EQ(presence(r, tm_hash_n(30), KVBM_G1), 2);
    ASSERT_OK(kvbm_block_release(d));             /* Duplicate -> Reset */
    EXPECT_EQ(presence(r, tm_hash_n(30), KVBM_G1), 1);
    EXPECT_TRUE(has_block(r, tm_hash_n(30), KVBM_G1));
    ASSERT_OK(kvbm_block_release(p));             /* inactive */
    EXPECT_EQ(presence(r, tm_hash_n(30), KVBM_G1), 1);
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(presence_follows_allocations_and_evictions)
{
    enum { N = 8 };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = new_manager(r, N, KVBM_G1, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(m);
    for (uint64_t i = 0; i < N; i++) {
        kvbm_block *b = tm_try_register_hash(m, tm_hash_n(100 + i));
        ASSERT_TRUE(b != NULL);
        ASSERT_OK(kvbm_block_release(b));
    }
    for (uint64_t i = 0; i < N; i++) EXPECT_EQ(presence(r, tm_hash_n(100 + i), KVBM_G1), 1);
    EXPECT_EQ(kvbm_registry_registered_count(r), N);
    kvbm_plh ev[3];
    size_t nev = 0;
    ASSERT_OK(allocate_all(m, 3, ev, &nev));
    ASSERT_EQ(nev, 3);
    size_t gone = 0;
    for (uint64_t i = 0; i < N; i++) {
        bool evicted = false;
        for (size_t k = 0; k < nev; k++) evicted |= kvbm_plh_eq(ev[k], tm_hash_n(100 + i));
        EXPECT_EQ(has_block(r, tm_hash_n(100 + i), KVBM_G1), !evicted);
        EXPECT_EQ(kvbm_registry_is_registered(r, tm_hash_n(100 + i)), !evicted);
        gone += evicted;
    }
    EXPECT_EQ(gone, 3);
    EXPECT_EQ(kvbm_registry_registered_count(r), N - 3);
    kvbm_manager_destroy(m);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0); /* the last handle frees the store */
    kvbm_registry_release(r);
}

/* one registry, G1 and G2: a hash present in both; presence follows each tier */
KVBM_TEST(multi_tier_presence_g1_g2)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *g1 = new_manager(r, 2, KVBM_G1, KVBM_DUP_ALLOW);
    kvbm_manager *g2 = new_manager(r, 4, KVBM_G2, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(g1);
    REQUIRE_MANAGER(g2);
    kvbm_plh h = tm_hash_n(200);
    kvbm_block *b1 = tm_try_register_hash(g1, h), *b2 = tm_try_register_hash(g2, h);
    ASSERT_TRUE(b1 != NULL && b2 != NULL);
    EXPECT_EQ(kvbm_registry_registered_count(r), 1); /* one registration, two tiers */
    kvbm_handle *x = NULL, *y = NULL;
    ASSERT_OK(kvbm_block_registration_handle(b1, &x));
    ASSERT_OK(kvbm_block_registration_handle(b2, &y));
    EXPECT_TRUE(x == y);
    kvbm_handle_release(x);
    kvbm_handle_release(y);
    EXPECT_EQ(presence(r, h, KVBM_G1), 1);
    EXPECT_EQ(presence(r, h, KVBM_G2), 1);
    ASSERT_OK(kvbm_block_release(b1));
    ASSERT_OK(kvbm_block_release(b2));
    /* evict from G1 only */
    ASSERT_OK(allocate_all(g1, 2, NULL, NULL));
    EXPECT_FALSE(has_block(r, h, KVBM_G1));
    EXPECT_TRUE(has_block(r, h, KVBM_G2));
    EXPECT_TRUE(kvbm_registry_is_registered(r, h)); /* G2's inactive copy holds it */
    /* register again in G1: presence back, same registration */
    kvbm_block *b3 = tm_try_register_hash(g1, h);
    ASSERT_TRUE(b3 != NULL);
    EXPECT_EQ(presence(r, h, KVBM_G1), 1);
    ASSERT_OK(kvbm_block_release(b3));
    /* reset G2's inactive pool: G2 presence cleared, G1 unaffected */
    uint64_t exp = 0, act = 0;
    ASSERT_OK(kvbm_manager_reset_inactive_pool(g2, &exp, &act));
    EXPECT_FALSE(has_block(r, h, KVBM_G2));
    EXPECT_TRUE(has_block(r, h, KVBM_G1));
    ASSERT_OK(kvbm_manager_reset_inactive_pool(g1, &exp, &act));
    EXPECT_FALSE(has_block(r, h, KVBM_G1));
    EXPECT_FALSE(kvbm_registry_is_registered(r, h));
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_manager_destroy(g1);
    kvbm_manager_destroy(g2);
    kvbm_registry_release(r);
}

KVBM_TEST(multi_tier_presence_counts_many_hashes)
{
    enum { N = 6 };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *g1 = new_manager(r, N, KVBM_G1, KVBM_DUP_ALLOW);
    kvbm_manager *g2 = new_manager(r, N, KVBM_G2, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(g1);
    REQUIRE_MANAGER(g2);
    /* G1 holds hashes 0..N-1, G2 holds the even ones */
    for (uint64_t i = 0; i < N; i++) {
        kvbm_block *b = tm_try_register_hash(g1, tm_hash_n(300 + i));
        ASSERT_TRUE(b != NULL);
        ASSERT_OK(kvbm_block_release(b));
        if (i % 2 == 0) {
            b = tm_try_register_hash(g2, tm_hash_n(300 + i));
            ASSERT_TRUE(b != NULL);
            ASSERT_OK(kvbm_block_release(b));
        }
    }
    kvbm_plh hs[N];
    bool out[N];
    for (uint64_t i = 0; i < N; i++) hs[i] = tm_hash_n(300 + i);
    ASSERT_OK(kvbm_registry_check_presence(r, KVBM_G2, hs, N, out));
    for (int i = 0; i < N; i++) EXPECT_EQ(out[i], i % 2 == 0);
    ASSERT_OK(allocate_all(g1, N, NULL, NULL)); /* evict everything from G1 */
    ASSERT_OK(kvbm_registry_check_presence(r, KVBM_G1, hs, N, out));
    for (int i = 0; i < N; i++) EXPECT_FALSE(out[i]);
    for (uint64_t i = 0; i < N; i++)
        EXPECT_EQ(kvbm_registry_is_registered(r, tm_hash_n(300 + i)), i % 2 == 0);
    EXPECT_EQ(kvbm_registry_registered_count(r), N / 2);
    kvbm_manager_destroy(g1);
    kvbm_manager_destroy(g2);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_registry_release(r);
}

/* 10-core §5.5: tracker touches per public call */
KVBM_TEST(manager_touch_accounting_is_exact)
{
    metered_tracker *mt = metered_tracker_new();
    kvbm_registry *r = tm_registry_create(metered_tracker_get(mt));
    kvbm_manager *m = new_manager(r, 8, KVBM_G1, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(m);
    kvbm_block *a = tm_try_register_hash(m, tm_hash_n(400));      /* new handle: 1 */
    ASSERT_TRUE(a != NULL);
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    kvbm_block *d = tm_try_register_hash(m, tm_hash_n(400));      /* handle existed: 0 */
    ASSERT_TRUE(d != NULL);
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(401));
    ASSERT_TRUE(b != NULL);
    EXPECT_EQ(metered_tracker_touches(mt), 2);
    ASSERT_OK(kvbm_block_release(b));             /* 401 inactive; releases: 0 */
    EXPECT_EQ(metered_tracker_touches(mt), 2);
    metered_tracker_reset(mt);

    kvbm_plh q[3] = { tm_hash_n(400), tm_hash_n(401), tm_hash_n(402) };
    kvbm_block *out[3];
    size_t matched = 0;
    ASSERT_OK(kvbm_manager_match_blocks(m, q, 3, out, &matched)); /* active + inactive: 2 */
    ASSERT_EQ(matched, 2);
    EXPECT_EQ(metered_tracker_touches(mt), 2);
    for (size_t i = 0; i < matched; i++) ASSERT_OK(kvbm_block_release(out[i]));
    ASSERT_OK(kvbm_manager_match_blocks(m, &q[2], 1, out, &matched)); /* miss: 0 */
    EXPECT_EQ(matched, 0);
    ASSERT_OK(kvbm_manager_match_blocks(m, q, 0, out, &matched));     /* empty: 0 */
    EXPECT_EQ(metered_tracker_touches(mt), 2);

    kvbm_plh fh[3];
    kvbm_block *fb[3];
    size_t found = 0;
    ASSERT_OK(kvbm_manager_scan_matches(m, &q[1], 1, true, fh, fb, &found)); /* 1 */
    ASSERT_EQ(found, 1);
    EXPECT_EQ(metered_tracker_touches(mt), 3);
    ASSERT_OK(kvbm_block_release(fb[0]));
    ASSERT_OK(kvbm_manager_scan_matches(m, &q[1], 1, false, fh, fb, &found)); /* 0 */
    ASSERT_EQ(found, 1);
    EXPECT_EQ(metered_tracker_touches(mt), 3);
    ASSERT_OK(kvbm_block_release(fb[0]));

    kvbm_weak *w = NULL;
    ASSERT_OK(kvbm_block_downgrade(a, &w));
    kvbm_block *u = NULL;
    ASSERT_OK(kvbm_weak_upgrade(w, &u));          /* 0 */
    ASSERT_OK(kvbm_block_release(u));
    kvbm_weak_release(w);
    ASSERT_OK(allocate_all(m, 2, NULL, NULL));    /* 0 */
    EXPECT_EQ(metered_tracker_touches(mt), 3);
    EXPECT_EQ(metered_tracker_counts(mt), 0);     /* no MultiLRU: no count() */

    ASSERT_OK(kvbm_block_release(a));
    ASSERT_OK(kvbm_block_release(d));
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
    metered_tracker_release(mt);
}

/* kvbm addition (up-front allocation): creating a manager reserves room in the registry's
 * tables for its blocks, so registering block_count distinct hashes grows no table under a
 * shard lock; registrations beyond the reservation still grow the tables on demand. */
KVBM_TEST(manager_reserves_registry_tables_for_its_blocks)
{
    enum { N = 2048 };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = new_manager(r, N, KVBM_G1, KVBM_DUP_ALLOW);
    REQUIRE_MANAGER(m);
    kvbm_block **held = calloc(N, sizeof *held);
    ASSERT_TRUE(held != NULL);
    for (uint64_t i = 0; i < N; i++) {
        held[i] = tm_try_register_hash(m, tm_hash_n(i));
        ASSERT_TRUE(held[i] != NULL);
    }
    EXPECT_EQ(kvbm_registry_registered_count(r), (size_t)N);
    EXPECT_EQ(kvbm__registry_table_grows(r), 0u);

    /* beyond the reservation: three times as many plain registrations still succeed */
    kvbm_handle **extra = calloc(3 * N, sizeof *extra);
    ASSERT_TRUE(extra != NULL);
    for (uint64_t i = 0; i < 3 * N; i++) ASSERT_OK(kvbm_registry_register(r, tm_hash_n(N + i), &extra[i]));
    EXPECT_EQ(kvbm_registry_registered_count(r), (size_t)(4 * N));
    EXPECT_TRUE(kvbm__registry_table_grows(r) > 0);
    for (uint64_t i = 0; i < 3 * N; i++) {
        kvbm_handle *again = NULL;
        ASSERT_OK(kvbm_registry_match(r, tm_hash_n(N + i), false, &again));
        EXPECT_TRUE(again == extra[i]);
        kvbm_handle_release(again);
        kvbm_handle_release(extra[i]);
    }
    for (size_t i = 0; i < N; i++) ASSERT_OK(kvbm_block_release(held[i]));
    free(extra);
    free(held);
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}
