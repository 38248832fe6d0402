/* tests/store/test_store_premark.c - presence of a newly created registration counted before
 * its handle is published (issue 16, session 10: kvbm__registry_register_many_present),
 * and every path on which the store must undo that premark: the registry's own rollback,
 * a later chunk's failure (of register_blocks and of stage_register_blocks), poisoning
 * part-way through the locked pass, and a Reject dedup of a premarked handle (another
 * registration of the hash got into the store between the registry call and the locked
 * pass).
 */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "manager/manager_int.h"
#include "registry/registry_int.h"
#include "store/store_int.h"

#define BS 16u

/* A manager of @blocks on registry @r (G1, block size BS, LRU); destroy with
 * tm_manager_destroy (invariants checked). */
static kvbm_manager *mgr(kvbm_registry *r, uint64_t blocks, kvbm_dup_policy policy)
{
    tm_opts o = TM_OPTS_INIT(blocks);
    o.block_size = BS;
    o.policy = policy;
    o.registry = r;
    return tm_manager_create(&o);
}

/* The registry's presence count of @h in G1 (0 if not registered). */
static uint32_t presence(kvbm_registry *r, kvbm_plh h)
{
    kvbm_handle *hd = NULL;
    if (kvbm_registry_match(r, h, false, &hd) != KVBM_OK) return 0;
    uint32_t c = kvbm_handle_presence(hd, KVBM_G1);
    kvbm_handle_release(hd);
    return c;
}

/* n complete blocks of hashes hs[0..n) (allocate + stage); false if the pool is short. */
static bool completes(kvbm_manager *m, const kvbm_plh *hs, size_t n, kvbm_complete **out)
{
    kvbm_mutable **mu = calloc(n, sizeof *mu);
    if (mu == NULL) return false;
    bool ok = kvbm_manager_allocate(m, n, mu, NULL, NULL) == KVBM_OK;
    if (ok && kvbm_mutable_stage_many(mu, hs, n, BS, out) != KVBM_OK) {
        for (size_t i = 0; i < n; i++) (void)kvbm_mutable_release(mu[i]);
        ok = false;
    }
    free(mu);
    return ok;
}

/* An observer that keeps a reference to every handle created (so that a rolled-back
 * registration's handle survives and its presence can be read). */
struct keeper { kvbm_handle *h[4096]; size_t n; };
static kvbm_status keep(void *ctx, kvbm_handle *h)
{
    struct keeper *k = ctx;
    if (k->n < 4096) k->h[k->n++] = kvbm_handle_clone(h);
    return KVBM_OK;
}
static void keeper_drop(struct keeper *k)
{
    for (size_t i = 0; i < k->n; i++) kvbm_handle_release(k->h[i]);
    k->n = 0;
}

/* Fresh, duplicate (same hash twice in one call, Allow) and rejected (Reject) registrations
 * count exactly as with mark_present after the store lock. */
KVBM_TEST(premarked_presence_counts_like_mark_present)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = mgr(r, 8, KVBM_DUP_ALLOW);
    ASSERT_TRUE(m != NULL);
    kvbm_plh hs[3] = { tm_hash_n(1), tm_hash_n(2), tm_hash_n(2) };
    kvbm_complete *c[3];
    ASSERT_TRUE(completes(m, hs, 3, c));
    kvbm_block *b[3];
    ASSERT_OK(kvbm_manager_register_blocks(m, c, 3, b));
    EXPECT_EQ(presence(r, hs[0]), 1u);
    EXPECT_EQ(presence(r, hs[1]), 2u); /* primary + duplicate */
    for (int i = 0; i < 3; i++) ASSERT_OK(kvbm_block_release(b[i]));
    EXPECT_EQ(presence(r, hs[0]), 1u); /* inactive */
    EXPECT_EQ(presence(r, hs[1]), 1u);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    tm_manager_destroy(m);
    EXPECT_EQ(presence(r, hs[0]), 0u);

    kvbm_manager *m2 = mgr(r, 8, KVBM_DUP_REJECT);
    ASSERT_TRUE(m2 != NULL);
    ASSERT_TRUE(completes(m2, hs, 3, c));
    ASSERT_OK(kvbm_manager_register_blocks(m2, c, 3, b));
    EXPECT_EQ(presence(r, hs[0]), 1u);
    EXPECT_EQ(presence(r, hs[1]), 1u); /* the second is the first block */
    EXPECT_EQ(kvbm_block_id(b[1]), kvbm_block_id(b[2]));
    for (int i = 0; i < 3; i++) ASSERT_OK(kvbm_block_release(b[i]));
    EXPECT_OK(kvbm_manager_check_invariants(m2));
    tm_manager_destroy(m2);
    kvbm_registry_release(r);
}

/* Allocation failures at every point of a 16-chunk registration (1000 blocks; the registry's
 * tables and free lists are used up first, so the registrations allocate): each attempt
 * fails all or nothing until one succeeds, and after each failure no handle the call
 * created - kept alive by an observer - is left present (the registry's rollback of the
 * failing chunk and the store's rollback of the earlier chunks undo their premarks).
 * @stage: the same through kvbm_manager_stage_register_blocks, retried with the SAME
 * mutable blocks - which are refused as "passed twice" unless the failure cleared the
 * validation marks of the failing chunk and of every later one (session 14: staging
 * keeps them until each chunk's handles are stored) - and reporting done = 0. */
static void premarks_undone_part_way(bool stage)
{
    enum { N = 1000, FILL = 3000 };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = mgr(r, N + 8, KVBM_DUP_ALLOW);
    ASSERT_TRUE(m != NULL);
    kvbm_plh *fill = malloc(FILL * sizeof *fill);
    kvbm_handle **fh = malloc(FILL * sizeof *fh);
    struct keeper *k = calloc(1, sizeof *k);
    ASSERT_TRUE(fill != NULL && fh != NULL && k != NULL);
    for (size_t i = 0; i < FILL; i++) fill[i] = tm_hash_n(500000 + i);
    ASSERT_OK(kvbm_registry_register_many(r, fill, FILL, fh));
    kvbm_registry_observer obs = { keep, k, "keeper" };
    uint32_t id = 0;
    ASSERT_OK(kvbm_registry_add_observer(r, &obs, &id));

    kvbm_plh *hs = malloc(N * sizeof *hs);
    kvbm_complete **c = malloc(N * sizeof *c);
    kvbm_mutable **mu = malloc(N * sizeof *mu);
    kvbm_block **b = malloc(N * sizeof *b);
    ASSERT_TRUE(hs != NULL && c != NULL && mu != NULL && b != NULL);
    for (size_t i = 0; i < N; i++) hs[i] = tm_hash_n(900000 + i);
    if (stage) ASSERT_OK(kvbm_manager_allocate(m, N, mu, NULL, NULL));
    else ASSERT_TRUE(completes(m, hs, N, c));
    int failures = 0;
    kvbm_status st = KVBM_ENOMEM;
    for (long nth = 1; nth < 2000 && st != KVBM_OK; nth++) {
        size_t done = 99;
        kvbm__alloc_fail_set(nth);
        st = stage ? kvbm_manager_stage_register_blocks(m, mu, hs, N, BS, b, &done)
                   : kvbm_manager_register_blocks(m, c, N, b);
        kvbm__alloc_fail_set(0);
        if (st == KVBM_OK) break;
        ASSERT_STATUS(st, KVBM_ENOMEM);
        if (stage) EXPECT_EQ(done, 0u);
        failures++;
        for (size_t i = 0; i < k->n; i++) EXPECT_EQ(kvbm_handle_presence(k->h[i], KVBM_G1), 0u);
        keeper_drop(k);
        for (size_t i = 0; i < N; i++) EXPECT_FALSE(kvbm_registry_is_registered(r, hs[i]));
        EXPECT_OK(kvbm_manager_check_invariants(m));
    }
    ASSERT_OK(st);
    printf("%d failed attempts\n", failures);
    EXPECT_TRUE(failures >= 2); /* release build: 9 (slabs and tables of several chunks) */
    for (size_t i = 0; i < N; i++) EXPECT_EQ(presence(r, hs[i]), 1u);
    keeper_drop(k);
    ASSERT_OK(kvbm_registry_remove_observer(r, id));
    for (size_t i = 0; i < N; i++) ASSERT_OK(kvbm_block_release(b[i]));
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm__handle_release_many(fh, FILL);
    tm_manager_destroy(m);
    kvbm_registry_release(r);
    free(fill);
    free(fh);
    free(k);
    free(hs);
    free(c);
    free(mu);
    free(b);
}

KVBM_TEST(premarks_are_undone_when_a_registration_fails_part_way)
{
    premarks_undone_part_way(false);
}

KVBM_TEST(stage_register_failure_part_way_undoes_premarks_and_leaves_the_inputs_reusable)
{
    premarks_undone_part_way(true);
}

/* Poisoning part-way through the locked pass (the first input's lookup finds a corrupt
 * slot): the later inputs are not registered, and the premark of the one whose handle
 * this call created is undone (its complete block keeps the handle). Release builds only:
 * debug builds abort at the poisoning itself. */
KVBM_TEST(premarks_of_unregistered_inputs_are_undone_on_poison)
{
#if KVBM_DEBUG == 0
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_manager *m = mgr(r, 8, KVBM_DUP_ALLOW);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h1 = tm_hash_n(11), h2 = tm_hash_n(12);
    kvbm_block *p = tm_try_register_hash(m, h1);
    ASSERT_TRUE(p != NULL);
    EXPECT_EQ(presence(r, h1), 1u);
    kvbm_plh hs[2] = { h1, h2 };
    kvbm_complete *c[2];
    ASSERT_TRUE(completes(m, hs, 2, c));
    struct kvbm__store *s = kvbm__manager_store(m);
    struct kvbm__slot *ps = &s->slots[kvbm_block_id(p)];
    uint8_t saved = ps->state;
    ps->state = KVBM__RESET; /* the index now points at a slot that is not primary */
    kvbm_block *b[2];
    EXPECT_STATUS(kvbm_manager_register_blocks(m, c, 2, b), KVBM_EPOISONED);
    EXPECT_TRUE(kvbm_registry_is_registered(r, h2)); /* its complete block holds it */
    EXPECT_EQ(presence(r, h2), 0u);                   /* ... but it is in no tier */
    EXPECT_EQ(presence(r, h1), 1u);
    ps->state = saved;
    atomic_store(&s->poisoned, false); /* repaired: the last invariant check may pass */
    for (int i = 0; i < 2; i++) (void)kvbm_complete_release(c[i]);
    (void)kvbm_block_release(p);
    tm_manager_destroy(m);
    kvbm_registry_release(r);
#endif
}

/* A custom tracker whose touch - called by register_many after the shard locks, before
 * the store's locked pass - registers the same hash into the same Reject manager once:
 * the interleaving of a second thread that finds the just-created handle and registers
 * first, made deterministic. */
struct racer { kvbm_manager *m; kvbm_plh h; kvbm_block *won; bool armed; };
static void racer_touch(void *ctx, const uint8_t key[16])
{
    (void)key;
    struct racer *rc = ctx;
    if (!rc->armed) return;
    rc->armed = false;
    rc->won = tm_try_register_hash(rc->m, rc->h);
}
static uint32_t racer_count(void *ctx, const uint8_t key[16])
{
    (void)ctx; (void)key;
    return 0;
}

/* The premarked registration loses to the one that got in first: its block is dropped for
 * the winner's and its premark with it (presence 1, not 2); the winner's counts. */
KVBM_TEST(premark_of_a_rejected_duplicate_is_undone)
{
    struct racer rc = { NULL, tm_hash_n(77), NULL, false };
    kvbm_tracker_ops ops = { racer_touch, racer_count, NULL };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tracker_create_custom(&ops, &rc, &t));
    kvbm_registry *r = tm_registry_create(t);
    kvbm_manager *m = mgr(r, 8, KVBM_DUP_REJECT);
    ASSERT_TRUE(m != NULL);
    rc.m = m;
    kvbm_complete *c;
    ASSERT_TRUE(completes(m, &rc.h, 1, &c));
    rc.armed = true;
    kvbm_block *b = NULL;
    ASSERT_OK(kvbm_manager_register_blocks(m, &c, 1, &b));
    ASSERT_TRUE(rc.won != NULL);
    EXPECT_EQ(kvbm_block_id(b), kvbm_block_id(rc.won)); /* deduplicated to the winner */
    EXPECT_EQ(MET(m, registration_dedup), 1);
    EXPECT_EQ(presence(r, rc.h), 1u);
    ASSERT_OK(kvbm_block_release(b));
    ASSERT_OK(kvbm_block_release(rc.won));
    EXPECT_EQ(presence(r, rc.h), 1u); /* inactive */
    EXPECT_OK(kvbm_manager_check_invariants(m));
    tm_manager_destroy(m);
    EXPECT_EQ(presence(r, rc.h), 0u);
    kvbm_registry_release(r);
    kvbm_tracker_release(t);
}
