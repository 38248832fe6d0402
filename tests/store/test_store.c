/* tests/store/test_store.c - store-internal unit tests: slot size, reset FIFO ring, active
 * index, atomic-allocation rollback with under-allocating backends, handle checks (double
 * release, wrong kind, foreign blocks), poisoning, lifetime and presence bookkeeping. */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "fake_backend.h"
#include "store/store_int.h"
#include "manager/manager_int.h"
#include "kvbm/registry.h"

/* ---- helpers ------------------------------------------------------------------------- */

static kvbm_manager *mk_full(uint32_t n, kvbm_dup_policy pol, bool def_reset, kvbm_registry **reg,
                             struct fake_be **fb, long claim_len, long alloc_limit, bool gauges)
{
    struct fake_be *f = NULL;
    kvbm_manager *m = fake_manager(n, pol, def_reset, -1, gauges, reg, &f);
    if (m == NULL) f = NULL; /* the backend went with the failed manager */
    if (f != NULL) {
        f->claim_len = claim_len;
        f->alloc_limit = alloc_limit;
    }
    if (fb != NULL) *fb = f;
    return m;
}

static kvbm_manager *mk(uint32_t n, kvbm_dup_policy pol, bool def_reset, kvbm_registry **reg)
{
    return mk_full(n, pol, def_reset, reg, NULL, -1, -1, true);
}

static bool present(kvbm_registry *r, kvbm_plh h)
{
    bool out = false;
    if (kvbm_registry_check_presence(r, KVBM_G1, &h, 1, &out) != KVBM_OK) return false;
    return out;
}

/* ---- layout ---------------------------------------------------------------------------- */

KVBM_TEST(slot_is_at_most_48_bytes_and_metadata_under_64_per_block)
{
    EXPECT_LE(sizeof(struct kvbm__slot), 48);
    /* slot + reset ring (4) + index buckets (<= 8 per block: next_pow2(n) u32) */
    size_t worst = sizeof(struct kvbm__slot) + 4 + 8;
    printf("    slot %zu B, worst-case store metadata %zu B/block\n", sizeof(struct kvbm__slot), worst);
    EXPECT_LE(worst, 64);
}

KVBM_TEST(ring_buffer_fifo_wraps_and_push_front_restores_order)
{
    uint32_t buf[5];
    struct kvbm__ring r = { buf, 5, 0, 0 };
    for (uint32_t i = 0; i < 5; i++) kvbm__ring_push_back(&r, i);
    EXPECT_EQ(r.len, 5);
    EXPECT_EQ(kvbm__ring_pop_front(&r), 0);
    EXPECT_EQ(kvbm__ring_pop_front(&r), 1);
    kvbm__ring_push_back(&r, 10);  /* wraps */
    kvbm__ring_push_back(&r, 11);
    EXPECT_EQ(kvbm__ring_at(&r, 0), 2);
    EXPECT_EQ(kvbm__ring_at(&r, 3), 10);
    EXPECT_EQ(kvbm__ring_at(&r, 4), 11);
    uint32_t a = kvbm__ring_pop_front(&r), b = kvbm__ring_pop_front(&r), c = kvbm__ring_pop_front(&r);
    EXPECT_EQ(a, 2); EXPECT_EQ(b, 3); EXPECT_EQ(c, 4);
    kvbm__ring_push_front(&r, c);  /* exact rollback: reverse order */
    kvbm__ring_push_front(&r, b);
    kvbm__ring_push_front(&r, a);
    uint32_t want[] = { 2, 3, 4, 10, 11 };
    for (uint32_t i = 0; i < 5; i++) EXPECT_EQ(kvbm__ring_pop_front(&r), want[i]);
    EXPECT_EQ(r.len, 0);
    kvbm__ring_push_front(&r, 7);  /* push_front on empty at head 0 wraps to the end */
    EXPECT_EQ(kvbm__ring_pop_front(&r), 7);
}

KVBM_TEST(active_index_insert_find_remove_with_collisions)
{
    enum { N = 64 };
    struct kvbm__slot slots[N];
    uint32_t buckets[4], next[N];
    struct kvbm__active_index ix = { buckets, next, 3, 0 };
    for (int i = 0; i < 4; i++) buckets[i] = KVBM__NIL;
    memset(slots, 0, sizeof slots);
    for (uint32_t i = 0; i < N; i++) { slots[i].id = i; slots[i].hash = tm_hash_n(i); next[i] = KVBM__NIL; }
    for (uint32_t i = 0; i < N; i += 2) kvbm__active_index_insert(&ix, slots, i);
    EXPECT_EQ(ix.len, N / 2);
    for (uint32_t i = 0; i < N; i++)
        EXPECT_EQ(kvbm__active_index_find(&ix, slots, tm_hash_n(i)), (i % 2 == 0) ? i : KVBM__NIL);
    EXPECT_FALSE(kvbm__active_index_remove(&ix, slots, 1));
    for (uint32_t i = 0; i < N; i += 4) EXPECT_TRUE(kvbm__active_index_remove(&ix, slots, i));
    EXPECT_EQ(ix.len, N / 4);
    for (uint32_t i = 0; i < N; i++)
        EXPECT_EQ(kvbm__active_index_find(&ix, slots, tm_hash_n(i)), (i % 4 == 2) ? i : KVBM__NIL);
}

/* ---- atomic allocation rollback (spec 10 §7.1 audit tests) ------------------------------ */

KVBM_TEST(allocate_atomic_rollback_counter_ticks_with_under_allocating_backend)
{
    struct fake_be *f;
    /* bare store (gauges not initialised), 4 blocks; index claims 2 entries, allocates none */
    kvbm_manager *m = mk_full(4, KVBM_DUP_ALLOW, false, NULL, &f, 2, 0, false);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *out[5] = { NULL };
    EXPECT_STATUS(kvbm_manager_allocate(m, 5, out, NULL, NULL), KVBM_EEXHAUSTED);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_allocate_atomic_rollback), 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 4);
    for (int i = 0; i < 5; i++) EXPECT_TRUE(out[i] == NULL);
    /* the FIFO order is intact: the next allocation gets 0, 1, 2, 3 */
    f->claim_len = -1;
    ASSERT_OK(kvbm_manager_allocate(m, 4, out, NULL, NULL));
    for (uint32_t i = 0; i < 4; i++) EXPECT_EQ(kvbm_mutable_block_id(out[i]), i);
    for (int i = 0; i < 4; i++) EXPECT_OK(kvbm_mutable_release(out[i]));
    kvbm_manager_destroy(m);
}

KVBM_TEST(allocate_atomic_rollback_handles_partial_under_allocation)
{
    struct fake_be *f;
    kvbm_manager *m = mk_full(4, KVBM_DUP_ALLOW, false, NULL, &f, -1, 2, false);
    ASSERT_TRUE(m != NULL);
    /* pre-fill the index with 4 pairs (it claims len 4) but allocate() returns at most 2 */
    for (uint32_t i = 0; i < 4; i++) ASSERT_OK(fake_insert(f, tm_hash_n(100 + i), i));
    f->inserts = 0;
    kvbm_mutable *out[7] = { NULL };
    EXPECT_STATUS(kvbm_manager_allocate(m, 7, out, NULL, NULL), KVBM_EEXHAUSTED);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_allocate_atomic_rollback), 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 4);
    EXPECT_EQ(f->n, 4);        /* the 2 returned pairs were re-inserted */
    EXPECT_EQ(f->inserts, 2);
    for (uint32_t i = 0; i < 4; i++) EXPECT_TRUE(fake_has(f, tm_hash_n(100 + i)));
    /* clean up the fake entries so teardown does not treat them as cached slots */
    f->n = 0;
    kvbm_manager_destroy(m);
}

KVBM_TEST(allocate_rollback_across_chunks_restores_everything)
{
    struct fake_be *f;
    kvbm_registry *r;
    kvbm_manager *m = mk_full(200, KVBM_DUP_ALLOW, false, &r, &f, -1, -1, true);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b[200];
    for (uint32_t i = 0; i < 200; i++) ASSERT_TRUE((b[i] = tm_try_register_hash(m, tm_hash_n(i))) != NULL);
    for (uint32_t i = 0; i < 200; i++) ASSERT_OK(kvbm_block_release(b[i]));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 200);
    /* allocate 150: chunks of 64; make the third chunk short */
    f->alloc_limit = 64;
    f->claim_len = -1;
    /* 64 + 64 + 22: all fine -> succeeds; instead ask the backend to stop after 100 */
    f->alloc_limit = 40;  /* each call returns at most 40 < 64 -> rollback on the first chunk */
    kvbm_mutable *out[150];
    EXPECT_STATUS(kvbm_manager_allocate(m, 150, out, NULL, NULL), KVBM_EEXHAUSTED);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 200);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    f->alloc_limit = -1;
    kvbm_plh ev[150];
    size_t nev = 0;
    ASSERT_OK(kvbm_manager_allocate(m, 150, out, ev, &nev));
    EXPECT_EQ(nev, 150);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 50);
    EXPECT_FALSE(present(r, ev[0]));
    EXPECT_TRUE(present(r, tm_hash_n(199)));
    EXPECT_OK(kvbm_manager_check_invariants(m));
    for (int i = 0; i < 150; i++) EXPECT_OK(kvbm_mutable_release(out[i]));
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
    EXPECT_FALSE(present(r, tm_hash_n(199)));  /* the store's cached blocks vanished with it */
    kvbm_registry_release(r);
}

/* ---- handle checks ----------------------------------------------------------------------- */

KVBM_TEST(double_release_of_mutable_is_rejected_and_changes_nothing)
{
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *a[2];
    ASSERT_OK(kvbm_manager_allocate(m, 2, a, NULL, NULL));
    ASSERT_OK(kvbm_mutable_release(a[0]));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    EXPECT_STATUS(kvbm_mutable_release(a[0]), KVBM_EINVAL);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_mutable), 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_OK(kvbm_mutable_release(a[1]));
    EXPECT_OK(kvbm_mutable_release(NULL));
    kvbm_manager_destroy(m);
}

KVBM_TEST(double_release_of_complete_and_block_is_rejected)
{
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *a;
    kvbm_complete *c;
    ASSERT_OK(kvbm_manager_allocate(m, 1, &a, NULL, NULL));
    ASSERT_OK(kvbm_mutable_stage(a, tm_hash_n(1), 4, &c, NULL, NULL));
#if KVBM_DEBUG >= 1
    /* the consumed mutable handle is dead (checked builds; in release builds it aliases c) */
    EXPECT_STATUS(kvbm_mutable_release(a), KVBM_EINVAL);
#endif
    ASSERT_OK(kvbm_complete_release(c));
    EXPECT_STATUS(kvbm_complete_release(c), KVBM_EINVAL);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);

    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(2));
    ASSERT_TRUE(b != NULL);
    ASSERT_OK(kvbm_block_release(b));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_STATUS(kvbm_block_release(b), KVBM_EINVAL);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_immutable), 0);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
}

KVBM_TEST(wrong_handle_kind_is_rejected)
{
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(3));
    ASSERT_TRUE(b != NULL);
    kvbm_mutable *mb;
    ASSERT_OK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL));
    EXPECT_STATUS(kvbm_mutable_release((kvbm_mutable *)b), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_complete_release((kvbm_complete *)b), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_block_release((kvbm_block *)mb), KVBM_EINVAL);
    kvbm_block *out;
    EXPECT_STATUS(kvbm_manager_register_block(m, (kvbm_complete *)mb, &out), KVBM_EINVAL);
    kvbm_complete *c;
    EXPECT_STATUS(kvbm_mutable_stage((kvbm_mutable *)b, tm_hash_n(9), 4, &c, NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_mutable_stage(NULL, tm_hash_n(9), 4, &c, NULL, NULL), KVBM_EINVAL);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 2);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_OK(kvbm_mutable_release(mb));
    EXPECT_OK(kvbm_block_release(b));
    kvbm_manager_destroy(m);
}

KVBM_TEST(foreign_block_registration_is_rejected_and_nothing_consumed)
{
    kvbm_registry *r;
    kvbm_manager *m1 = mk(4, KVBM_DUP_ALLOW, false, &r);
    kvbm_manager *m2 = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m1 != NULL && m2 != NULL);
    kvbm_mutable *a[2];
    kvbm_complete *c[2];
    ASSERT_OK(kvbm_manager_allocate(m1, 1, &a[0], NULL, NULL));
    ASSERT_OK(kvbm_manager_allocate(m2, 1, &a[1], NULL, NULL));
    ASSERT_OK(kvbm_mutable_stage(a[0], tm_hash_n(5), 4, &c[0], NULL, NULL));
    ASSERT_OK(kvbm_mutable_stage(a[1], tm_hash_n(6), 4, &c[1], NULL, NULL));
    kvbm_block *out[2] = { NULL, NULL };
    /* batch with one foreign block: nothing consumed, nothing registered */
    EXPECT_STATUS(kvbm_manager_register_blocks(m1, c, 2, out), KVBM_EINVAL);
    EXPECT_TRUE(out[0] == NULL);
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(5)));
    EXPECT_EQ(tm_metric(m1, KVBM_METRIC_registrations), 0);
    /* same block twice in one batch */
    kvbm_complete *twice[2] = { c[0], c[0] };
    EXPECT_STATUS(kvbm_manager_register_blocks(m1, twice, 2, out), KVBM_EINVAL);
    EXPECT_OK(kvbm_manager_check_invariants(m1));
    EXPECT_OK(kvbm_manager_check_invariants(m2));
    /* the inputs are still usable */
    ASSERT_OK(kvbm_manager_register_block(m1, c[0], &out[0]));
    ASSERT_OK(kvbm_manager_register_block(m2, c[1], &out[1]));
    EXPECT_NE(kvbm_block_manager_id(out[0]), kvbm_block_manager_id(out[1]));
    EXPECT_OK(kvbm_block_release_many(out, 2));
    EXPECT_EQ(kvbm_manager_inactive_len(m1), 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m2), 1);
    kvbm_manager_destroy(m1);
    kvbm_manager_destroy(m2);
    kvbm_registry_release(r);
}

KVBM_TEST(release_many_validates_everything_first)
{
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b[3];
    for (int i = 0; i < 3; i++) ASSERT_TRUE((b[i] = tm_try_register_hash(m, tm_hash_n(20 + (uint64_t)i))) != NULL);
    kvbm_block *bad[3] = { b[0], (kvbm_block *)NULL, b[0] };
#if KVBM_DEBUG >= 1
    EXPECT_STATUS(kvbm_block_release_many(bad, 3), KVBM_EINVAL);  /* same handle twice */
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
#else
    (void)bad;
#endif
    ASSERT_OK(kvbm_block_release(b[1]));
    kvbm_block *stale[2] = { b[0], b[1] };
    EXPECT_STATUS(kvbm_block_release_many(stale, 2), KVBM_EINVAL);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_immutable), 2);
    kvbm_block *ok[3] = { b[0], NULL, b[2] };
    EXPECT_OK(kvbm_block_release_many(ok, 3));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 3);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_immutable), 0);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
}

/* One batch naming blocks of two managers, interleaved and with NULLs: each store's run is
 * released under its own lock with its own gauge (the release loop's one-store shortcut
 * must not apply), and a batch of one store with NULLs still counts only live handles. */
KVBM_TEST(release_many_across_two_managers_and_nulls)
{
    kvbm_manager *m1 = mk(4, KVBM_DUP_ALLOW, false, NULL);
    kvbm_manager *m2 = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m1 != NULL && m2 != NULL);
    kvbm_block *a0 = tm_register_hash(m1, tm_hash_n(80)), *a1 = tm_register_hash(m1, tm_hash_n(81));
    kvbm_block *b0 = tm_register_hash(m2, tm_hash_n(82)), *b1 = tm_register_hash(m2, tm_hash_n(83));
    kvbm_block *a2 = tm_register_hash(m1, tm_hash_n(84));
    ASSERT_TRUE(a0 != NULL && a1 != NULL && b0 != NULL && b1 != NULL && a2 != NULL);
    EXPECT_EQ(tm_metric(m1, KVBM_METRIC_inflight_immutable), 3);
    EXPECT_EQ(tm_metric(m2, KVBM_METRIC_inflight_immutable), 2);
    kvbm_block *mixed[6] = { a0, NULL, b0, a1, b1, NULL };
    EXPECT_OK(kvbm_block_release_many(mixed, 6));
    EXPECT_EQ(kvbm_manager_inactive_len(m1), 2);
    EXPECT_EQ(kvbm_manager_inactive_len(m2), 2);
    EXPECT_EQ(tm_metric(m1, KVBM_METRIC_inflight_immutable), 1);
    EXPECT_EQ(tm_metric(m2, KVBM_METRIC_inflight_immutable), 0);
    EXPECT_OK(kvbm_manager_check_invariants(m1));
    EXPECT_OK(kvbm_manager_check_invariants(m2));
    kvbm_block *one[3] = { NULL, a2, NULL };
    EXPECT_OK(kvbm_block_release_many(one, 3));
    EXPECT_EQ(kvbm_manager_inactive_len(m1), 3);
    EXPECT_EQ(tm_metric(m1, KVBM_METRIC_inflight_immutable), 0);
    EXPECT_OK(kvbm_manager_check_invariants(m1));
    kvbm_manager_destroy(m1);
    kvbm_manager_destroy(m2);
}

/* ---- poisoning ----------------------------------------------------------------------------- */

KVBM_TEST(corrupted_store_is_detected_and_poisons_the_manager)
{
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    struct kvbm__store *s = kvbm__manager_store(m);
    uint8_t saved = s->slots[2].state;
    s->slots[2].state = KVBM__INACTIVE;   /* a reset slot claims to be cached */
    EXPECT_STATUS(kvbm_manager_check_invariants(m), KVBM_EPOISONED);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "invariant");
    kvbm_mutable *a;
    EXPECT_STATUS(kvbm_manager_allocate(m, 1, &a, NULL, NULL), KVBM_EPOISONED);
    size_t k;
    kvbm_plh h = tm_hash_n(1);
    kvbm_block *out;
    EXPECT_STATUS(kvbm_manager_match_blocks(m, &h, 1, &out, &k), KVBM_EPOISONED);
    s->slots[2].state = saved;
    kvbm_manager_destroy(m);
}

/* The final release's Primary -> Inactive transition (inline in release and release_many,
 * locked.h kvbm__drop_locked) poisons the store, with the same message as before, when the
 * backend rejects the insert or the slot is missing from the index. k = 0: one
 * kvbm_block_release per block; k = 1: one kvbm_block_release_many. */
#if KVBM_DEBUG == 0
static void release_both_ways(kvbm_block **b, size_t n, int k)
{
    if (k == 0) {
        for (size_t i = 0; i < n; i++) EXPECT_OK(kvbm_block_release(b[i]));
    } else {
        EXPECT_OK(kvbm_block_release_many(b, n));
    }
}

/* A manager over the fake backend (*@f), for the poisoning tests. */
static kvbm_manager *poison_subject(struct fake_be **f)
{
    *f = NULL;
    return mk_full(4, KVBM_DUP_ALLOW, false, NULL, f, -1, -1, true);
}

/* @m is poisoned by @why (the first violation), then destroyed. */
static void expect_poisoned_by(kvbm_manager *m, const char *why)
{
    EXPECT_STATUS(kvbm_manager_check_invariants(m), KVBM_EPOISONED);
    EXPECT_STR_CONTAINS(kvbm_last_error(), why);
    kvbm_mutable *a;
    EXPECT_STATUS(kvbm_manager_allocate(m, 1, &a, NULL, NULL), KVBM_EPOISONED);
    kvbm_manager_destroy(m);
}
#endif

KVBM_TEST(final_release_poisons_when_the_backend_rejects_the_insert)
{
#if KVBM_DEBUG == 0 /* debug builds assert at the first violation (kvbm__store_poison) */
    for (int k = 0; k < 2; k++) {
        struct fake_be *f;
        kvbm_manager *m = poison_subject(&f);
        ASSERT_TRUE(m != NULL && f != NULL);
        kvbm_block *b[2] = { tm_register_hash(m, tm_hash_n(1)), tm_register_hash(m, tm_hash_n(2)) };
        ASSERT_TRUE(b[0] != NULL && b[1] != NULL);
        f->cap = f->n; /* the next insert fails with KVBM_EFULL */
        release_both_ways(b, 2, k);
        EXPECT_EQ(f->inserts, 2u); /* both tried, both refused: the first poisons */
        EXPECT_EQ(f->n, 0u);
        expect_poisoned_by(m, "inactive backend rejected an insert");
    }
#endif
}

/* The batch release hands a run of plain final releases to the backend in one call - by id
 * (LRU: insert_ids, the slots stay indexed) or as (hash, id) pairs (Lineage: insert_pairs,
 * the slots unindexed first). A refusal poisons the store with the same message, the rest
 * of the run is still inserted. The refusal is provoked by inserting b[0] (its id, or its
 * hash under a spare id) while the block is still Primary. */
#if KVBM_DEBUG == 0
static void run_refusal_poisons(kvbm_backend backend)
{
    kvbm_registry *r;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_manager_config c = KVBM_MANAGER_CONFIG_INIT; /* untracked by the helpers: poisoned */
    c.registry = r;
    c.block_count = 4;
    c.block_size = DEFAULT_TEST_BLOCK_SIZE;
    c.backend = backend;
    kvbm_manager *m = NULL;
    ASSERT_OK(kvbm_manager_create(&c, &m));
    kvbm_block *b[2] = { tm_register_hash(m, tm_hash_n(5)), tm_register_hash(m, tm_hash_n(6)) };
    ASSERT_TRUE(b[0] != NULL && b[1] != NULL);
    struct kvbm__store *s = kvbm__manager_store(m);
    const kvbm__inactive_ops *ops = s->inactive.ops;
    const uint32_t id0 = kvbm_block_id(b[0]), id1 = kvbm_block_id(b[1]);
    if (s->byid) {
        ASSERT_TRUE(ops->insert_ids != NULL);
        ASSERT_EQ(ops->insert_ids(s->inactive.ctx, &id0, 1), 1u); /* the sabotage */
    } else {
        ASSERT_TRUE(ops->insert_pairs != NULL);
        uint32_t spare = 0; /* an id neither block holds */
        while (spare == id0 || spare == id1) spare++;
        const kvbm__pair sab = { tm_hash_n(5), spare };
        ASSERT_EQ(ops->insert_pairs(s->inactive.ctx, &sab, 1), 1u); /* the sabotage */
    }
    EXPECT_OK(kvbm_block_release_many(b, 2));
    /* the rest went in */
    EXPECT_TRUE(s->byid ? ops->has_id(s->inactive.ctx, id1) : ops->has(s->inactive.ctx, tm_hash_n(6)));
    EXPECT_EQ(ops->len(s->inactive.ctx), 2u);
    expect_poisoned_by(m, "inactive backend rejected an insert");
    kvbm_registry_release(r);
}
#endif

KVBM_TEST(final_release_poisons_when_insert_ids_refuses_an_id)
{
#if KVBM_DEBUG == 0 /* debug builds assert at the first violation (kvbm__store_poison) */
    run_refusal_poisons(KVBM_BACKEND_LRU);
#endif
}

KVBM_TEST(final_release_poisons_when_insert_pairs_refuses_a_pair)
{
#if KVBM_DEBUG == 0
    run_refusal_poisons(KVBM_BACKEND_LINEAGE);
#endif
}

KVBM_TEST(final_release_poisons_when_a_primary_is_missing_from_the_index)
{
#if KVBM_DEBUG == 0 /* debug builds assert at the first violation (kvbm__store_poison) */
    for (int k = 0; k < 2; k++) {
        struct fake_be *f;
        kvbm_manager *m = poison_subject(&f);
        ASSERT_TRUE(m != NULL && f != NULL);
        kvbm_block *b = tm_register_hash(m, tm_hash_n(3));
        ASSERT_TRUE(b != NULL);
        struct kvbm__store *s = kvbm__manager_store(m);
        ASSERT_TRUE(!s->byid); /* the fake backend has no by-id ops: release unindexes */
        ASSERT_TRUE(kvbm__active_index_remove(&s->index, s->slots, kvbm_block_id(b)));
        release_both_ways(&b, 1, k);
        EXPECT_EQ(f->inserts, 0u);
        expect_poisoned_by(m, "primary slot missing from the active index");
    }
#endif
}

/* ---- lifecycle details ------------------------------------------------------------------------ */

KVBM_TEST(handles_keep_the_store_alive_after_manager_destroy)
{
    kvbm_registry *r;
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, &r);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(40));
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w;
    ASSERT_OK(kvbm_block_downgrade(b, &w));
    kvbm_mutable *mb;
    ASSERT_OK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL));
    kvbm_manager_destroy(m);
    EXPECT_EQ(kvbm_block_id(b), 0);
    EXPECT_OK(kvbm_block_release(b));           /* -> inactive in the orphaned store */
    EXPECT_TRUE(present(r, tm_hash_n(40)));
    kvbm_block *u;
    ASSERT_OK(kvbm_weak_upgrade(w, &u));        /* resurrected */
    EXPECT_EQ(kvbm_block_id(u), 0);
    EXPECT_OK(kvbm_block_release(u));
    EXPECT_OK(kvbm_mutable_release(mb));
    kvbm_weak_release(w);                       /* last ref: store freed, cache dropped */
    EXPECT_FALSE(present(r, tm_hash_n(40)));
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(40)));
    kvbm_registry_release(r);
}

KVBM_TEST(duplicate_keeps_primary_alive_and_release_cascades)
{
    kvbm_registry *r;
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, &r);
    ASSERT_TRUE(m != NULL);
    kvbm_block *p = tm_try_register_hash(m, tm_hash_n(50));
    kvbm_block *d = tm_try_register_hash(m, tm_hash_n(50));
    ASSERT_TRUE(p != NULL && d != NULL);
    EXPECT_TRUE(kvbm_block_is_duplicate(d));
    EXPECT_FALSE(kvbm_block_is_duplicate(p));
    EXPECT_EQ(kvbm_block_use_count(p), 2);     /* handle + duplicate keepalive */
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_duplicate_blocks), 1);
    kvbm_handle *hd;
    ASSERT_OK(kvbm_block_registration_handle(p, &hd));
    EXPECT_EQ(kvbm_handle_presence(hd, KVBM_G1), 2);
    ASSERT_OK(kvbm_block_release(p));           /* primary stays: the duplicate holds it */
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 2);
    ASSERT_OK(kvbm_block_release(d));           /* dup -> reset, then primary -> inactive */
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 3);
    EXPECT_EQ(kvbm_handle_presence(hd, KVBM_G1), 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_handle_release(hd);
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(reject_returns_existing_and_frees_input_slot)
{
    kvbm_registry *r;
    kvbm_manager *m = mk(2, KVBM_DUP_REJECT, false, &r);
    ASSERT_TRUE(m != NULL);
    kvbm_block *p = tm_try_register_hash(m, tm_hash_n(60));
    kvbm_block *q = tm_try_register_hash(m, tm_hash_n(60));
    ASSERT_TRUE(p != NULL && q != NULL);
    EXPECT_EQ(kvbm_block_id(p), kvbm_block_id(q));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 1);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_registration_dedup), 1);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_reset_pool_size), 1);
    kvbm_handle *hd;
    ASSERT_OK(kvbm_block_registration_handle(p, &hd));
    EXPECT_EQ(kvbm_handle_presence(hd, KVBM_G1), 1);
    kvbm_handle_release(hd);
    kvbm_block *both[2] = { p, q };
    EXPECT_OK(kvbm_block_release_many(both, 2));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(reset_on_release_and_reset_inactive_pool)
{
    kvbm_registry *r;
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, &r);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b[4];
    for (int i = 0; i < 4; i++) ASSERT_TRUE((b[i] = tm_try_register_hash(m, tm_hash_n(70 + (uint64_t)i))) != NULL);
    ASSERT_OK(kvbm_block_set_evict_on_reset(b[0], true));
    EXPECT_OK(kvbm_block_release_many(b, 4));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 3);
    EXPECT_EQ(kvbm_manager_reset_len(m), 1);
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(70)));
    kvbm_mutable *held;
    ASSERT_OK(kvbm_manager_allocate(m, 1, &held, NULL, NULL));   /* the reset one */
    uint64_t e = 0, a = 0;
    EXPECT_STATUS(kvbm_manager_reset_inactive_pool(m, &e, &a), KVBM_ERESET_MISMATCH);
    EXPECT_EQ(e, 4);
    EXPECT_EQ(a, 3);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_FALSE(present(r, tm_hash_n(71)));
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_evictions), 0);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_OK(kvbm_mutable_release(held));
    EXPECT_OK(kvbm_manager_reset_inactive_pool(m, NULL, NULL));
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(weak_upgrade_falls_back_to_hash_on_another_slot)
{
    kvbm_manager *m = mk(2, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(80));
    ASSERT_TRUE(b != NULL);
    EXPECT_EQ(kvbm_block_id(b), 0);
    kvbm_weak *w;
    ASSERT_OK(kvbm_block_downgrade(b, &w));
    ASSERT_OK(kvbm_block_release(b));
    kvbm_mutable *mb[2];
    kvbm_plh ev[2];
    size_t nev;
    ASSERT_OK(kvbm_manager_allocate(m, 2, mb, ev, &nev));   /* 1 from reset, evicts slot 0 */
    EXPECT_EQ(nev, 1);
    EXPECT_TRUE(kvbm_plh_eq(ev[0], tm_hash_n(80)));
    kvbm_block *u;
    EXPECT_STATUS(kvbm_weak_upgrade(w, &u), KVBM_ENOENT);
    /* re-register the hash on slot 1 */
    EXPECT_EQ(kvbm_mutable_block_id(mb[0]), 1);
    kvbm_complete *c;
    ASSERT_OK(kvbm_mutable_stage(mb[0], tm_hash_n(80), 4, &c, NULL, NULL));
    kvbm_block *nb;
    ASSERT_OK(kvbm_manager_register_block(m, c, &nb));
    ASSERT_OK(kvbm_weak_upgrade(w, &u));
    EXPECT_EQ(kvbm_block_id(u), 1);
    EXPECT_EQ(kvbm_block_use_count(nb), 2);
    kvbm_weak *w2;
    ASSERT_OK(kvbm_weak_clone(w, &w2));
    kvbm_weak_release(w);
    EXPECT_TRUE(kvbm_plh_eq(kvbm_weak_seq_hash(w2), tm_hash_n(80)));
    kvbm_weak_release(w2);
    EXPECT_OK(kvbm_block_release(u));
    EXPECT_OK(kvbm_block_release(nb));
    EXPECT_OK(kvbm_mutable_release(mb[1]));
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
}

KVBM_TEST(pin_keeps_slot_primary_and_counts_no_gauge)
{
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(90));
    kvbm_pin *p, *p2;
    ASSERT_OK(kvbm_block_pin(b, &p));
    EXPECT_EQ(kvbm_pin_use_count(p), 2);
    ASSERT_OK(kvbm_pin_clone(p, &p2));
    EXPECT_EQ(kvbm_pin_use_count(p), 3);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_immutable), 1);
    EXPECT_EQ(kvbm_pin_manager_id(p), kvbm_manager_id(m));
    ASSERT_OK(kvbm_block_release(b));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
#if KVBM_DEBUG >= 1
    EXPECT_STATUS(kvbm_block_release((kvbm_block *)p), KVBM_EINVAL);  /* a pin is not a block */
#endif
    ASSERT_OK(kvbm_pin_release(p));
    ASSERT_OK(kvbm_pin_release(p2));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
}

KVBM_TEST(size_mismatch_keeps_the_mutable_block)
{
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, NULL);
    kvbm_mutable *a;
    ASSERT_OK(kvbm_manager_allocate(m, 1, &a, NULL, NULL));
    kvbm_complete *c = NULL;
    uint32_t e = 0, g = 0;
    EXPECT_STATUS(kvbm_mutable_stage(a, tm_hash_n(1), 8, &c, &e, &g), KVBM_ESIZE);
    EXPECT_EQ(e, 4);
    EXPECT_EQ(g, 8);
    EXPECT_STR_EQ(kvbm_last_error(), "Block size mismatch: expected 4 tokens, got 8");
    EXPECT_TRUE(c == NULL);
    EXPECT_EQ(kvbm_mutable_block_id(a), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_stagings), 0);
    EXPECT_OK(kvbm_mutable_release(a));
    kvbm_manager_destroy(m);
}

KVBM_TEST(config_validation_messages)
{
    kvbm_manager_config c = KVBM_MANAGER_CONFIG_INIT;
    kvbm_manager *m = NULL;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_EQ(kvbm_last_error(), "Builder validation failed: registry is required");
    kvbm_registry *r;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    c.registry = r;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_EQ(kvbm_last_error(), "Builder validation failed: block_count is required");
    c.block_count = 0;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "block_count must be greater than 0");
    c.block_count = 8;
    c.block_size = 2048;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "block_size must be between 1 and 1024, got 2048");
    c.block_size = 0;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "block_size must be between 1 and 1024, got 0");
    c.block_size = 15;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "block_size must be a power of 2, got 15");
    c.block_size = 4;
    c.backend = KVBM_BACKEND_MULTI_LRU;
    c.multi_lru_thresholds[0] = 6; c.multi_lru_thresholds[1] = 2; c.multi_lru_thresholds[2] = 10;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Thresholds must be in ascending order: 6 < 2 < 10 failed");
    c.multi_lru_thresholds[0] = 2; c.multi_lru_thresholds[1] = 6; c.multi_lru_thresholds[2] = 20;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "must be <= 15");
    c.multi_lru_thresholds[0] = 0; c.multi_lru_thresholds[2] = 12;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "cold_to_warm threshold must be >= 1");
    c.multi_lru_thresholds[0] = 2;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "frequency tracking");
    c.backend = (kvbm_backend)9;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_EINVAL);
    c.backend = KVBM_BACKEND_LRU;
    c.struct_size = 3;
    EXPECT_STATUS(kvbm_manager_create(&c, &m), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_manager_create(NULL, &m), KVBM_EINVAL);
    EXPECT_TRUE(m == NULL);
    kvbm_registry_release(r);
}

/* ---- batch paths that split their critical section (post buffer full) ------------------ */

KVBM_TEST(large_batches_split_cleanly_reject_reset_and_duplicates)
{
    enum { N = 200 };
    kvbm_registry *r;
    kvbm_manager *m = mk_full(2 * N, KVBM_DUP_REJECT, false, &r, NULL, -1, -1, true);
    ASSERT_TRUE(m != NULL);
    static kvbm_block *first[N], *second[N];
    static kvbm_mutable *mb[N];
    static kvbm_complete *cb[N];
    for (uint32_t i = 0; i < N; i++) ASSERT_TRUE((first[i] = tm_try_register_hash(m, tm_hash_n(1000 + i))) != NULL);
    /* N rejected registrations in one call: > 32 handle drops, several critical sections */
    ASSERT_OK(kvbm_manager_allocate(m, N, mb, NULL, NULL));
    for (uint32_t i = 0; i < N; i++) ASSERT_OK(kvbm_mutable_stage(mb[i], tm_hash_n(1000 + i), 4, &cb[i], NULL, NULL));
    ASSERT_OK(kvbm_manager_register_blocks(m, cb, N, second));
    for (uint32_t i = 0; i < N; i++) EXPECT_EQ(kvbm_block_id(second[i]), kvbm_block_id(first[i]));
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_registration_dedup), N);
    EXPECT_EQ(kvbm_manager_reset_len(m), N);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    /* flag half of them, release everything in one call: > 16 reset transitions */
    for (uint32_t i = 0; i < N; i += 2) ASSERT_OK(kvbm_block_set_evict_on_reset(first[i], true));
    ASSERT_OK(kvbm_block_release_many(second, N));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    ASSERT_OK(kvbm_block_release_many(first, N));
    EXPECT_EQ(kvbm_manager_inactive_len(m), N / 2);
    EXPECT_EQ(kvbm_manager_reset_len(m), 2 * N - N / 2);
    for (uint32_t i = 0; i < N; i++) {
        bool p = false;
        kvbm_plh h = tm_hash_n(1000 + i);
        ASSERT_OK(kvbm_registry_check_presence(r, KVBM_G1, &h, 1, &p));
        EXPECT_EQ(p, i % 2 == 1);
        EXPECT_EQ(kvbm_registry_is_registered(r, h), i % 2 == 1);
    }
    EXPECT_OK(kvbm_manager_check_invariants(m));
    /* drain > 32 inactive blocks */
    ASSERT_OK(kvbm_manager_reset_inactive_pool(m, NULL, NULL));
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_reset_pool_size), 2 * N);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inactive_pool_size), 0);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(many_duplicates_released_in_one_call)
{
    enum { N = 60 };
    kvbm_registry *r;
    kvbm_manager *m = mk_full(N + 1, KVBM_DUP_ALLOW, false, &r, NULL, -1, -1, true);
    ASSERT_TRUE(m != NULL);
    static kvbm_block *d[N + 1];
    for (uint32_t i = 0; i <= N; i++) ASSERT_TRUE((d[i] = tm_try_register_hash(m, tm_hash_n(7))) != NULL);
    EXPECT_FALSE(kvbm_block_is_duplicate(d[0]));
    EXPECT_EQ(kvbm_block_use_count(d[0]), N + 1);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_duplicate_blocks), N);
    kvbm_handle *hd;
    ASSERT_OK(kvbm_block_registration_handle(d[0], &hd));
    EXPECT_EQ(kvbm_handle_presence(hd, KVBM_G1), N + 1);
    /* primary first in the batch: it stays until the last duplicate is gone */
    ASSERT_OK(kvbm_block_release_many(d, N + 1));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), N);
    EXPECT_EQ(kvbm_handle_presence(hd, KVBM_G1), 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_handle_release(hd);
    kvbm_manager_destroy(m);
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(7)));
    kvbm_registry_release(r);
}

KVBM_TEST(scan_dedups_repeats_and_skips_misses)
{
    kvbm_manager *m = mk(8, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b[3];
    for (int i = 0; i < 3; i++) ASSERT_TRUE((b[i] = tm_try_register_hash(m, tm_hash_n(300 + (uint64_t)i))) != NULL);
    ASSERT_OK(kvbm_block_release(b[1]));  /* inactive */
    kvbm_plh in[6] = { tm_hash_n(301), tm_hash_n(999), tm_hash_n(300), tm_hash_n(301), tm_hash_n(302), tm_hash_n(300) };
    kvbm_plh oh[6];
    kvbm_block *ob[6];
    size_t f = 0;
    ASSERT_OK(kvbm_manager_scan_matches(m, in, 6, false, oh, ob, &f));
    EXPECT_EQ(f, 3);
    EXPECT_TRUE(kvbm_plh_eq(oh[0], tm_hash_n(301)));
    EXPECT_TRUE(kvbm_plh_eq(oh[1], tm_hash_n(300)));
    EXPECT_TRUE(kvbm_plh_eq(oh[2], tm_hash_n(302)));
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_scan_hashes_requested), 6);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_scan_blocks_returned), 3);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_immutable), 2 + 3);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_OK(kvbm_block_release_many(ob, f));
    EXPECT_OK(kvbm_block_release(b[0]));
    EXPECT_OK(kvbm_block_release(b[2]));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 3);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
}

KVBM_TEST(match_same_hash_twice_and_resurrection_in_one_call)
{
    kvbm_manager *m = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b = tm_try_register_hash(m, tm_hash_n(400));
    ASSERT_OK(kvbm_block_release(b));
    kvbm_plh in[3] = { tm_hash_n(400), tm_hash_n(400), tm_hash_n(401) };
    kvbm_block *out[3];
    size_t k = 0;
    ASSERT_OK(kvbm_manager_match_blocks(m, in, 3, out, &k));
    EXPECT_EQ(k, 2);
    EXPECT_EQ(kvbm_block_use_count(out[0]), 2);
    EXPECT_EQ(kvbm_block_id(out[0]), kvbm_block_id(out[1]));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inactive_pool_size), 0);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_OK(kvbm_block_release(out[0]));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_OK(kvbm_block_release(out[1]));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
}

/* ---- batch staging -------------------------------------------------------------------------- */

KVBM_TEST(stage_many_equals_stage_one_by_one)
{
    kvbm_registry *r;
    kvbm_manager *m = mk(6, KVBM_DUP_ALLOW, false, &r);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *a[4];
    kvbm_complete *c[4];
    kvbm_plh h[4] = { tm_hash_n(700), tm_hash_n(701), tm_hash_n(702), tm_hash_n(703) };
    uint32_t ids[4];
    ASSERT_OK(kvbm_manager_allocate(m, 4, a, NULL, NULL));
    for (int i = 0; i < 4; i++) ids[i] = kvbm_mutable_block_id(a[i]);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_mutable), 4);
    EXPECT_OK(kvbm_mutable_stage_many(a, h, 0, 4, c)); /* n = 0: nothing read */
    ASSERT_OK(kvbm_mutable_stage_many(a, h, 4, 4, c));
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(kvbm_complete_block_id(c[i]), ids[i]);
        EXPECT_TRUE(kvbm_plh_eq(kvbm_complete_seq_hash(c[i]), h[i]));
        EXPECT_EQ(kvbm_complete_block_size(c[i]), 4);
    }
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_mutable), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_stagings), 4);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    /* a consumed input is rejected afterwards (checked builds: the wrapper is dead;
     * release builds: the slot is Staged, not Mutable) */
    kvbm_complete *c2[1];
    EXPECT_STATUS(kvbm_mutable_stage_many(a, h, 1, 4, c2), KVBM_EINVAL);
    kvbm_block *b[4];
    ASSERT_OK(kvbm_manager_register_blocks(m, c, 4, b));
    for (int i = 0; i < 4; i++) EXPECT_TRUE(present(r, h[i]));
    EXPECT_OK(kvbm_block_release_many(b, 4));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 4);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}

KVBM_TEST(stage_many_validates_everything_first)
{
    kvbm_manager *m1 = mk(4, KVBM_DUP_ALLOW, false, NULL);
    kvbm_manager *m2 = mk(4, KVBM_DUP_ALLOW, false, NULL);
    ASSERT_TRUE(m1 != NULL && m2 != NULL);
    kvbm_mutable *a[3], *x;
    kvbm_complete *c[3] = { NULL, NULL, NULL };
    kvbm_plh h[3] = { tm_hash_n(710), tm_hash_n(711), tm_hash_n(712) };
    ASSERT_OK(kvbm_manager_allocate(m1, 3, a, NULL, NULL));
    ASSERT_OK(kvbm_manager_allocate(m2, 1, &x, NULL, NULL));

    EXPECT_STATUS(kvbm_mutable_stage_many(NULL, h, 3, 4, c), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_mutable_stage_many(a, NULL, 3, 4, c), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_mutable_stage_many(a, h, 3, 4, NULL), KVBM_EINVAL);
    kvbm_mutable *with_null[3] = { a[0], NULL, a[2] };
    EXPECT_STATUS(kvbm_mutable_stage_many(with_null, h, 3, 4, c), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "input 1");
    kvbm_mutable *twice[3] = { a[0], a[1], a[0] };
    EXPECT_STATUS(kvbm_mutable_stage_many(twice, h, 3, 4, c), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "input 2");
    kvbm_mutable *mixed[3] = { a[0], x, a[2] };
    EXPECT_STATUS(kvbm_mutable_stage_many(mixed, h, 3, 4, c), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "different managers");
    EXPECT_STATUS(kvbm_mutable_stage_many(a, h, 3, 8, c), KVBM_ESIZE);
    EXPECT_STR_EQ(kvbm_last_error(), "Block size mismatch: expected 4 tokens, got 8");

    /* nothing was consumed or changed */
    EXPECT_TRUE(c[0] == NULL && c[1] == NULL && c[2] == NULL);
    EXPECT_EQ(tm_metric(m1, KVBM_METRIC_stagings), 0);
    EXPECT_EQ(tm_metric(m1, KVBM_METRIC_inflight_mutable), 3);
    EXPECT_OK(kvbm_manager_check_invariants(m1));
    EXPECT_OK(kvbm_manager_check_invariants(m2));
    ASSERT_OK(kvbm_mutable_stage_many(a, h, 3, 4, c)); /* the inputs are still usable */
    EXPECT_EQ(tm_metric(m1, KVBM_METRIC_stagings), 3);
    for (int i = 0; i < 3; i++) EXPECT_OK(kvbm_complete_release(c[i]));
    EXPECT_OK(kvbm_mutable_release(x));
    EXPECT_EQ(kvbm_manager_reset_len(m1), 4);
    EXPECT_OK(kvbm_manager_check_invariants(m1));
    EXPECT_OK(kvbm_manager_check_invariants(m2));
    kvbm_manager_destroy(m1);
    kvbm_manager_destroy(m2);
}

/* register_blocks skips the store lookup when the staged slot holds the only reference to
 * the hash's registry handle; every case where another holder exists must still find the
 * existing primary / inactive block. */
KVBM_TEST(register_fresh_handle_shortcut_keeps_duplicates_exact)
{
    kvbm_registry *r;
    kvbm_manager *m = mk(8, KVBM_DUP_ALLOW, false, &r);
    ASSERT_TRUE(m != NULL);
    /* inactive block holds the handle: a new registration resurrects it -> duplicate */
    kvbm_block *p = tm_try_register_hash(m, tm_hash_n(720));
    ASSERT_TRUE(p != NULL);
    ASSERT_OK(kvbm_block_release(p));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    kvbm_block *d = tm_try_register_hash(m, tm_hash_n(720));
    ASSERT_TRUE(d != NULL);
    EXPECT_TRUE(kvbm_block_is_duplicate(d));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_duplicate_blocks), 1);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_OK(kvbm_block_release(d));
    /* the same hash twice in one batch: the second is a duplicate of the first */
    kvbm_mutable *a[2];
    kvbm_complete *c[2];
    kvbm_plh hh[2] = { tm_hash_n(721), tm_hash_n(721) };
    kvbm_block *b[2];
    ASSERT_OK(kvbm_manager_allocate(m, 2, a, NULL, NULL));
    ASSERT_OK(kvbm_mutable_stage_many(a, hh, 2, 4, c));
    ASSERT_OK(kvbm_manager_register_blocks(m, c, 2, b));
    EXPECT_FALSE(kvbm_block_is_duplicate(b[0]));
    EXPECT_TRUE(kvbm_block_is_duplicate(b[1]));
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_duplicate_blocks), 2);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_OK(kvbm_block_release_many(b, 2));
    /* an outside holder of the handle (no block anywhere): still a fresh primary */
    kvbm_handle *ext = NULL;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(722), &ext));
    kvbm_block *q = tm_try_register_hash(m, tm_hash_n(722));
    ASSERT_TRUE(q != NULL);
    EXPECT_FALSE(kvbm_block_is_duplicate(q));
    EXPECT_TRUE(present(r, tm_hash_n(722)));
    kvbm_handle_release(ext);
    EXPECT_OK(kvbm_block_release(q));
    EXPECT_OK(kvbm_manager_check_invariants(m));
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
}
