/* tests/hardening/test_defects.c - regression tests for the defects of issue 15 found by
 * attacking the API (defect 1, the concurrent check, is in test_check_race.c). Each test
 * failed before its fix. Where reaching a state honestly takes 2^31..2^32 calls (reference
 * counts, generations), the test writes the slot field the calls would have produced
 * (through the store internals) and says so. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "store/store_int.h"
#include "manager/manager_int.h"
#include "kvbm/tracker.h"

/* Sizes beyond the address space must fail with ENOMEM, not abort the ASan build. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static struct kvbm__slot *slot_of(kvbm_manager *m, uint32_t id) { return &kvbm__manager_store(m)->slots[id]; }

/* A test manager of @n blocks holding one registered block (hash tm_hash_for_id(id)). */
static kvbm_manager *manager_with_block(uint64_t n, uint32_t id, kvbm_block **b)
{
    kvbm_manager *m = create_test_manager(n);
    *b = m != NULL ? tm_register_hash(m, tm_hash_for_id(id)) : NULL;
    if (*b == NULL) {
        tm_manager_destroy(m);
        return NULL;
    }
    return m;
}

/* ---- defect 2: TinyLFU capacities near 2^63 ------------------------------------------- */

KVBM_TEST(tinylfu_create_rejects_capacities_whose_table_size_overflows)
{
    const uint64_t caps[] = {
        (UINT64_C(1) << 63) - (UINT64_C(1) << 20), (UINT64_C(1) << 63) - (UINT64_C(1) << 19),
        (UINT64_C(1) << 63) - 1, UINT64_C(1) << 63, (UINT64_C(1) << 63) + 3, UINT64_MAX,
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        kvbm_tracker *t = NULL;
        kvbm_clear_last_error();
        EXPECT_STATUS(kvbm_tinylfu_create(caps[i], NULL, &t), KVBM_ENOMEM);
        EXPECT_TRUE(t == NULL);
        EXPECT_TRUE(kvbm_last_error()[0] != '\0');
        kvbm_tracker_release(t);
    }
    kvbm_tracker *ok = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1000, NULL, &ok));
    kvbm_tracker_release(ok);
}

/* ---- defect 3: a weak handle must not upgrade to a later block in its slot --------------- */

KVBM_TEST(weak_upgrade_after_generation_wraparound_does_not_return_another_block)
{
    kvbm_manager *m = create_test_manager(1); /* one slot: h1 reuses h0's */
    ASSERT_TRUE(m != NULL);
    kvbm_plh h0 = tm_hash_for_id(10), h1 = tm_hash_for_id(20);
    kvbm_block *b0 = tm_register_hash(m, h0);
    ASSERT_TRUE(b0 != NULL);
    kvbm_weak *w = NULL;
    ASSERT_OK(kvbm_block_downgrade(b0, &w));
    ASSERT_OK(CK(kvbm_block_release(b0)));           /* h0 cached ... */
    kvbm_block *b1 = tm_register_hash(m, h1);         /* ... evicted: h1 in the same slot */
    ASSERT_TRUE(b1 != NULL);
    ASSERT_EQ(kvbm_block_id(b1), 0);
    /* a few real resurrections of h1 ... */
    const int real = 5;
    for (int i = 0; i < real; i++) {
        ASSERT_OK(CK(kvbm_block_release(b1)));
        size_t got = 0;
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h1, 1, &b1, &got)));
        ASSERT_EQ(got, 1);
    }
    /* ... and the generation the remaining 2^32 - 1 - real ones would have produced: with
     * a 32-bit generation this equals the weak handle's again (the defect). */
    struct kvbm__slot *sl = slot_of(m, 0);
    __typeof__(sl->gen) saved = sl->gen;
    sl->gen += (uint32_t)(UINT32_MAX - (uint32_t)real);
    kvbm_block *up = NULL;
    kvbm_status st = kvbm_weak_upgrade(w, &up);
    sl->gen = saved; /* (checked builds validate b1 against the slot generation) */
    if (st == KVBM_OK) {
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(up), h0)); /* never h1's block */
        CK(kvbm_block_release(up));
    } else {
        EXPECT_STATUS(st, KVBM_ENOENT);
    }
    CK(kvbm_block_release(b1));
    kvbm_weak_release(w);
    tm_manager_destroy(m);
}

/* ---- defect 4: release_many with a handle repeated beyond its references ----------------- */

KVBM_TEST(release_many_rejects_repeats_beyond_the_reference_count)
{
    kvbm_block *b = NULL;
    kvbm_manager *m = manager_with_block(4, 1, &b);
    ASSERT_TRUE(m != NULL);
    int64_t inflight = MET(m, inflight_immutable);
    kvbm_clear_last_error();
    kvbm_block *twice[2] = { b, b };
    EXPECT_STATUS(CK(kvbm_block_release_many(twice, 2)), KVBM_EINVAL);
    EXPECT_TRUE(strstr(kvbm_last_error(), "handle 1") != NULL);
    EXPECT_EQ(kvbm_block_use_count(b), 1);                 /* nothing changed */
    EXPECT_EQ(MET(m, inflight_immutable), inflight);
    /* with two references the pair is legal (release builds: clones are the same pointer) */
    kvbm_block *c = NULL;
    ASSERT_OK(CK(kvbm_block_clone(b, &c)));
    kvbm_block *thrice[3] = { b, c, b };                   /* three for two references */
    EXPECT_STATUS(CK(kvbm_block_release_many(thrice, 3)), KVBM_EINVAL);
    EXPECT_TRUE(strstr(kvbm_last_error(), "handle 2") != NULL);
    EXPECT_EQ(kvbm_block_use_count(b), 2);
    kvbm_block *pair[3] = { b, NULL, c };
    EXPECT_OK(CK(kvbm_block_release_many(pair, 3)));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    tm_manager_destroy(m);
}

KVBM_TEST(release_many_repeat_check_covers_large_batches)
{
    enum { N = 300 }; /* beyond the on-stack table */
    kvbm_manager *m = create_test_manager(N);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[N];
    kvbm_block *b[N + 1];
    for (uint32_t i = 0; i < N; i++) h[i] = tm_hash_for_id(100 + i);
    ASSERT_TRUE(tm_register_hashes(m, h, N, b));
    b[N] = b[N / 2];
    EXPECT_STATUS(kvbm_block_release_many(b, N + 1), KVBM_EINVAL);
    EXPECT_TRUE(strstr(kvbm_last_error(), "handle 300") != NULL);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_OK(kvbm_block_release_many(b, N));
    EXPECT_EQ(kvbm_manager_inactive_len(m), N);
    tm_manager_destroy(m);
}

/* ---- defect 5: releasing a weak handle twice -------------------------------------------- */

KVBM_TEST(weak_release_twice_is_detected_and_spares_another_owners_handle)
{
    kvbm_block *b = NULL;
    kvbm_manager *m = manager_with_block(4, 7, &b);
    ASSERT_TRUE(m != NULL);
    kvbm_weak *w1 = NULL, *w2 = NULL;
    ASSERT_OK(kvbm_block_downgrade(b, &w1));
    kvbm_weak_release(w1);
    ASSERT_OK(kvbm_block_downgrade(b, &w2)); /* may reuse w1's storage */
    kvbm_clear_last_error();
    kvbm_weak_release(w1);                   /* stale: reported, no effect */
    EXPECT_TRUE(kvbm_last_error()[0] != '\0');
    kvbm_block *up = NULL;
    EXPECT_STATUS(kvbm_weak_upgrade(w1, &up), KVBM_EINVAL);
    kvbm_weak *cl = NULL;
    EXPECT_STATUS(kvbm_weak_clone(w1, &cl), KVBM_EINVAL);
    ASSERT_OK(kvbm_weak_upgrade(w2, &up));   /* the other owner's handle still works */
    EXPECT_EQ(kvbm_block_id(up), kvbm_block_id(b));
    CK(kvbm_block_release(up));
    CK(kvbm_block_release(b));
    ASSERT_OK(kvbm_weak_upgrade(w2, &up));   /* resurrects from the inactive pool */
    CK(kvbm_block_release(up));
    kvbm_weak_release(w2);
    tm_manager_destroy(m);
}

KVBM_TEST(stale_weak_handles_stay_invalid_across_many_reuses)
{
    kvbm_block *b = NULL;
    kvbm_manager *m = manager_with_block(2, 3, &b);
    ASSERT_TRUE(m != NULL);
    kvbm_weak *stale[8];
    for (int i = 0; i < 8; i++) {
        ASSERT_OK(kvbm_block_downgrade(b, &stale[i]));
        kvbm_weak_release(stale[i]);
    }
    for (int r = 0; r < 20000; r++) { /* churn the storage the stale handles named */
        kvbm_weak *w = NULL;
        ASSERT_OK(kvbm_block_downgrade(b, &w));
        for (int i = 0; i < 8; i++) EXPECT_TRUE(kvbm_plh_eq(kvbm_weak_seq_hash(stale[i]), (kvbm_plh){ 0, 0 }));
        kvbm_weak_release(w);
        if (kvbm_test_failed_flag) break;
    }
    CK(kvbm_block_release(b));
    tm_manager_destroy(m);
}

/* ---- defect 6: block_count limits are configuration errors ------------------------------ */

static kvbm_status create_with(kvbm_registry *r, kvbm_backend be, uint64_t n)
{
    kvbm_manager_config c = KVBM_MANAGER_CONFIG_INIT;
    c.registry = r;
    c.block_count = n;
    c.backend = be;
    kvbm_manager *m = NULL;
    kvbm_status st = kvbm_manager_create(&c, &m);
    kvbm_manager_destroy(m);
    return st;
}

KVBM_TEST(block_count_beyond_a_backends_limit_is_econfig)
{
    kvbm_registry *r = NULL;
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1024, NULL, &t));
    kvbm_registry_config rc = KVBM_REGISTRY_CONFIG_INIT;
    rc.tracker = t;
    ASSERT_OK(kvbm_registry_create(&rc, &r));
    kvbm_tracker_release(t);
    const kvbm_backend ring[] = { KVBM_BACKEND_LRU, KVBM_BACKEND_MULTI_LRU, KVBM_BACKEND_HASHMAP };
    for (int i = 0; i < 3; i++) {
        EXPECT_STATUS(create_with(r, ring[i], (UINT64_C(1) << 30) + 1), KVBM_ECONFIG);
        EXPECT_TRUE(strstr(kvbm_last_error(), "block_count must be at most") != NULL);
        EXPECT_STATUS(create_with(r, ring[i], UINT64_C(1) << 31), KVBM_ECONFIG);
    }
    EXPECT_STATUS(create_with(r, KVBM_BACKEND_LINEAGE, UINT64_C(1) << 31), KVBM_ECONFIG);
    EXPECT_TRUE(strstr(kvbm_last_error(), "block_count must be at most") != NULL);
    EXPECT_STATUS(create_with(r, KVBM_BACKEND_LINEAGE, UINT64_C(4294967294)), KVBM_ECONFIG);
    EXPECT_STATUS(create_with(r, KVBM_BACKEND_LINEAGE, UINT64_C(4294967295)), KVBM_ECONFIG);
    EXPECT_OK(create_with(r, KVBM_BACKEND_LRU, 64));
    kvbm_registry_release(r);
}

/* ---- defect 7: every error path leaves its own message --------------------------------- */

static void noop_dtor(void *v) { (void)v; }

KVBM_TEST(error_paths_named_in_the_issue_set_their_message)
{
    kvbm_registry *r = NULL;
    kvbm__set_error("stale");
    EXPECT_STATUS(kvbm_registry_create(NULL, NULL), KVBM_EINVAL);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "stale") != 0 && kvbm_last_error()[0] != '\0');

    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_handle *h = NULL;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_for_id(1), &h));
    int v = 0;
    kvbm__set_error("stale");
    EXPECT_STATUS(kvbm_handle_attach_unique(h, 0, &v), KVBM_EINVAL);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "stale") != 0 && kvbm_last_error()[0] != '\0');
    kvbm__set_error("stale");
    EXPECT_STATUS(kvbm_handle_attach(h, 0, &v), KVBM_EINVAL);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "stale") != 0);
    kvbm_attach_type ty = 0;
    ASSERT_OK(kvbm_attach_type_register("hardening.noop", noop_dtor, &ty));
    kvbm_handle_release(h);

    kvbm_tracker_ops empty;
    memset(&empty, 0, sizeof empty);
    kvbm_tracker *t = NULL;
    kvbm__set_error("stale");
    EXPECT_STATUS(kvbm_tracker_create_custom(&empty, NULL, &t), KVBM_EINVAL);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "stale") != 0 && kvbm_last_error()[0] != '\0');
    kvbm_registry_release(r);
}

/* ---- defect 8: the strong count must not wrap -------------------------------------------- */

KVBM_TEST(clone_fails_with_eoverflow_instead_of_wrapping_the_count)
{
    kvbm_block *b = NULL;
    kvbm_manager *m = manager_with_block(2, 5, &b);
    ASSERT_TRUE(m != NULL);
    struct kvbm__slot *sl = slot_of(m, kvbm_block_id(b));
    /* the count 2^32 - 1 clones would have produced */
    atomic_store(&sl->strong, UINT32_MAX);
    kvbm_block *c = NULL;
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_block_clone(b, &c), KVBM_EOVERFLOW);
    EXPECT_TRUE(kvbm_last_error()[0] != '\0');
    EXPECT_EQ_U64(kvbm_block_use_count(b), UINT32_MAX);
    kvbm_pin *p = NULL;
    EXPECT_STATUS(kvbm_block_pin(b, &p), KVBM_EOVERFLOW);
    EXPECT_EQ_U64(kvbm_block_use_count(b), UINT32_MAX);
    atomic_store(&sl->strong, 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    CK(kvbm_block_release(b));
    tm_manager_destroy(m);
}

KVBM_TEST(match_and_weak_upgrade_stop_at_the_reference_limit)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[3] = { tm_plh(71, false, 0, 0), tm_plh(72, true, 71, 1), tm_plh(73, true, 72, 2) };
    kvbm_block *b[3];
    ASSERT_TRUE(tm_register_hashes(m, h, 3, b));
    ASSERT_OK(CK(kvbm_block_release(b[2])));          /* h[2] cached, h[0], h[1] held */
    kvbm_weak *w = NULL;
    ASSERT_OK(kvbm_block_downgrade(b[1], &w));
    struct kvbm__slot *sl = slot_of(m, kvbm_block_id(b[1]));
    atomic_store(&sl->strong, KVBM__STRONG_MAX);     /* what 2^31 references leave */
    kvbm_block *out[3] = { 0 };
    size_t got = 9;
    /* h[0] matches, h[1] is at the limit: the match ends there, and h[2] (resurrected by
     * the lookup pass) goes back to the inactive pool */
    ASSERT_OK(kvbm_manager_match_blocks(m, h, 3, out, &got));
    EXPECT_EQ(got, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ_U64(kvbm_block_use_count(b[1]), KVBM__STRONG_MAX);
    kvbm_block *up = NULL;
    EXPECT_STATUS(kvbm_weak_upgrade(w, &up), KVBM_EOVERFLOW);
    atomic_store(&sl->strong, 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    CK(kvbm_block_release_many(out, got));
    ASSERT_OK(kvbm_manager_match_blocks(m, h, 3, out, &got)); /* and all three without the limit */
    EXPECT_EQ(got, 3);
    CK(kvbm_block_release_many(out, got));
    CK(kvbm_block_release_many(b, 2));
    kvbm_weak_release(w);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 3);
    tm_manager_destroy(m);
}
