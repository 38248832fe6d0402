/* tests/store/test_store_allocate.c - kvbm__store_allocate's evictions from a backend not
 * driven by id (ops.c): up to PAIRS_MAX (256) victims they stay in the pairs the backend
 * returned (allocate_pairs), beyond it they are chained through index.next (in chunks of
 * 64). Both
 * paths check every victim before anything changes - a victim that is out of range, not
 * Inactive, or whose hash is not its slot's poisons the store and nothing is written to the
 * caller's arrays - and both hand out, record and unregister the victims in eviction order.
 */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "fake_backend.h"
#include "store/store_int.h"
#include "manager/manager_int.h"
#include "kvbm/registry.h"

enum { NB = 300 };

static bool present(kvbm_registry *r, kvbm_plh h)
{
    bool out = false;
    if (kvbm_registry_check_presence(r, KVBM_G1, &h, 1, &out) != KVBM_OK) return false;
    return out;
}

#if KVBM_DEBUG == 0 /* the poisoning test's helpers (debug builds assert at a poisoning) */
/* A manager of NB blocks over the fake backend: blocks tm_hash_n(0..NB) registered, all but
 * the last released (their pairs are in the fake backend in release order, the FIFO's
 * eviction order); *held: the last one, still Primary. */
static kvbm_manager *subject(struct fake_be **f, kvbm_registry **r, kvbm_block **held)
{
    kvbm_manager *m = fake_manager(NB, KVBM_DUP_ALLOW, false, -1, true, r, f);
    if (m == NULL) abort();
    kvbm_block *b[NB];
    for (uint32_t i = 0; i < NB; i++)
        if ((b[i] = tm_try_register_hash(m, tm_hash_n(i))) == NULL) abort();
    for (uint32_t i = 0; i + 1 < NB; i++)
        if (kvbm_block_release(b[i]) != KVBM_OK) abort();
    *held = b[NB - 1];
    return m;
}

enum sabotage { HELD_SLOT, WRONG_HASH, ID_OUT_OF_RANGE };

/* The fake backend's pair at @pos (in eviction order) becomes a bad victim. */
static void sabotage(struct fake_be *f, size_t pos, enum sabotage how, const kvbm_block *held)
{
    switch (how) {
    case HELD_SLOT: /* the Primary block's pair, inserted before pos */
        memmove(&f->v[pos + 1], &f->v[pos], (f->n - pos) * sizeof f->v[0]);
        f->v[pos].hash = tm_hash_n(NB - 1);
        f->v[pos].block_id = kvbm_block_id(held);
        f->n++;
        break;
    case WRONG_HASH: f->v[pos].hash = tm_hash_n(1000); break;
    case ID_OUT_OF_RANGE: f->v[pos].block_id = NB + 3; break;
    }
}
#endif

KVBM_TEST(allocate_poisons_on_a_bad_victim_and_writes_nothing_on_both_paths)
{
#if KVBM_DEBUG == 0 /* debug builds assert at the first violation (kvbm__store_poison) */
    /* (count, bad victim's position): kept in pairs (the first and the 200th of 210), and
     * the second and the fifth chunk of a chained allocate */
    const size_t cases[4][2] = { { 4, 0 }, { 210, 199 }, { 290, 70 }, { 290, 270 } };
    for (int c = 0; c < 4; c++)
        for (int how = HELD_SLOT; how <= ID_OUT_OF_RANGE; how++) {
            struct fake_be *f;
            kvbm_registry *r;
            kvbm_block *held;
            kvbm_manager *m = subject(&f, &r, &held);
            sabotage(f, cases[c][1], (enum sabotage)how, held);
            kvbm_mutable *out[NB] = { NULL };
            kvbm_plh ev[NB];
            memset(ev, 0, sizeof ev);
            size_t nev = 12345;
            EXPECT_STATUS(kvbm_manager_allocate(m, cases[c][0], out, ev, &nev), KVBM_EPOISONED);
            EXPECT_STR_CONTAINS(kvbm_last_error(), "inactive backend evicted a slot that is not inactive");
            for (size_t i = 0; i < NB; i++) EXPECT_TRUE(out[i] == NULL && ev[i].hi == 0 && ev[i].lo == 0);
            EXPECT_EQ(nev, 12345u);
            EXPECT_TRUE(present(r, tm_hash_n(0))); /* no registry work either */
            EXPECT_STATUS(kvbm_manager_check_invariants(m), KVBM_EPOISONED);
            kvbm_mutable *a;
            EXPECT_STATUS(kvbm_manager_allocate(m, 1, &a, NULL, NULL), KVBM_EPOISONED);
            (void)kvbm_block_release(held);
            f->n = 0; /* teardown must not treat the fake entries as cached slots */
            kvbm_manager_destroy(m);
            kvbm_registry_release(r);
        }
#endif
}

/* The victims come out in the backend's order, as MUTABLE handles after the reset blocks,
 * with their hashes in evicted[] and their registry presence gone - one chunk or chained,
 * over the fake backend and over Lineage (whose Tick order here is the release order). */
KVBM_TEST(allocate_hands_out_records_and_unregisters_victims_in_eviction_order)
{
    const size_t counts[] = { 1, 3, 64, 65, 256, 257, NB - 2 };
    for (int be = 0; be < 2; be++)
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
            size_t count = counts[ci];
            kvbm_registry *r;
            struct fake_be *f = NULL;
            kvbm_manager *m = fake_manager(NB, KVBM_DUP_ALLOW, false, be == 0 ? -1 : (int)KVBM_BACKEND_LINEAGE,
                                           true, &r, &f);
            ASSERT_TRUE(m != NULL);
            /* NB - 2 blocks cached (released in order), 2 back in the reset pool */
            kvbm_block *b[NB - 2];
            uint32_t id[NB - 2];
            for (uint32_t i = 0; i < NB - 2; i++) {
                ASSERT_TRUE((b[i] = tm_try_register_hash(m, tm_hash_n(i))) != NULL);
                id[i] = kvbm_block_id(b[i]);
            }
            kvbm_mutable *spare[2];
            ASSERT_OK(kvbm_manager_allocate(m, 2, spare, NULL, NULL));
            uint32_t sid[2] = { kvbm_mutable_block_id(spare[0]), kvbm_mutable_block_id(spare[1]) };
            for (int k = 0; k < 2; k++) ASSERT_OK(kvbm_mutable_release(spare[k]));
            for (uint32_t i = 0; i < NB - 2; i++) ASSERT_OK(kvbm_block_release(b[i]));
            ASSERT_EQ(kvbm_manager_reset_len(m), 2u);
            kvbm_mutable *out[NB];
            kvbm_plh ev[NB];
            size_t nev = 0;
            ASSERT_OK(kvbm_manager_allocate(m, count + 2, out, ev, &nev));
            ASSERT_EQ(nev, count);
            EXPECT_EQ(kvbm_mutable_block_id(out[0]), sid[0]); /* the reset FIFO's order */
            EXPECT_EQ(kvbm_mutable_block_id(out[1]), sid[1]);
            for (size_t k = 0; k < count; k++) {
                EXPECT_EQ(kvbm_mutable_block_id(out[2 + k]), id[k]);
                EXPECT_TRUE(kvbm_plh_eq(ev[k], tm_hash_n(k)));
                EXPECT_FALSE(present(r, tm_hash_n(k)));
            }
            if (count < NB - 2) EXPECT_TRUE(present(r, tm_hash_n(count)));
            EXPECT_EQ(kvbm_manager_inactive_len(m), NB - 2 - count);
            EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_mutable), (int64_t)(count + 2));
            EXPECT_OK(kvbm_manager_check_invariants(m));
            for (size_t k = 0; k < count + 2; k++) EXPECT_OK(kvbm_mutable_release(out[k]));
            EXPECT_OK(kvbm_manager_check_invariants(m));
            kvbm_manager_destroy(m);
            kvbm_registry_release(r);
        }
}
