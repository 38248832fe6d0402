/* tests/backends/test_index.c - the open-addressing index shared by the backends (index.h).
 *
 * index_del_nobp_equals_del: kvbm__idx_del_nobp (Lineage's recycling) does its first steps
 * with masks instead of branches and goes on in a loop for longer runs. It must leave
 * exactly the table kvbm__idx_del leaves and return the same hole: two tables receive the
 * same random puts and deletions - homes clustered around the wrap-around so runs of every
 * length up to 8 occur, with entries displaced past the deleted slot and entries at home -
 * and are compared slot by slot after every step.
 */
#include "backends_test.h"

#include "backends/index.h"

/* index_backward_shift_matches_model (moved from test_lineage.c): the index under random
 * puts and deletes on a 16-slot table whose homes cluster around the wrap-around (slots
 * 12..15, 0..1): after every step each present value is found in its slot, sits in the run
 * that reaches it from its home without an empty slot, and its back-pointer names that
 * slot; absent values are not found. */
typedef struct idx_model_ctx {
    uint32_t want;
} idx_model_ctx;

static bool idx_model_eq(const void *ctx, uint32_t val)
{
    return ((const idx_model_ctx *)ctx)->want == val;
}

KVBM_TEST(index_backward_shift_matches_model)
{
    enum { NV = 8 };
    kvbm__idxtab t;
    ASSERT_OK(kvbm__idx_init(&t, 4)); /* 16 slots, the minimum (filled to 1/2 below) */
    ASSERT_EQ(t.mask, 15u);
    uint32_t where[NV];
    t.where_base = (char *)where;
    t.where_stride = sizeof where[0];
    static const uint32_t homes[6] = { 12, 13, 14, 15, 0, 1 };
    uint32_t h32[NV];
    bool present[NV] = { false };
    uint64_t rng = UINT64_C(0x9E3779B97F4A7C15);
    for (uint32_t v = 0; v < NV; v++) h32[v] = (v << 8) | homes[v % 6]; /* same home, other h32 */
    for (int step = 0; step < 4000; step++) {
        rng = rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        uint32_t v = (uint32_t)(rng >> 33) % NV;
        idx_model_ctx k = { v };
        size_t slot;
        bool found = kvbm__idx_find_or_empty(&t, h32[v], idx_model_eq, &k, &slot);
        ASSERT_EQ(found, present[v]);
        if (found) {
            ASSERT_EQ(where[v], (uint32_t)slot);
            kvbm__idx_del(&t, kvbm__idx_slot_of(&t, v));
        } else {
            kvbm__idx_put_at(&t, slot, h32[v], v);
        }
        present[v] = !found;
        size_t n = 0;
        for (uint32_t u = 0; u < NV; u++) {
            idx_model_ctx ku = { u };
            size_t s = kvbm__idx_find(&t, h32[u], idx_model_eq, &ku);
            if (!present[u]) {
                ASSERT_EQ(s, KVBM_IDX_NONE);
                continue;
            }
            n++;
            ASSERT_NE(s, KVBM_IDX_NONE);
            ASSERT_EQ(where[u], (uint32_t)s);
            for (size_t i = h32[u] & t.mask; i != s; i = (i + 1) & t.mask)
                ASSERT_NE(t.slots[i].val, KVBM_IDX_EMPTY);
        }
        ASSERT_EQ(t.count, n);
    }
    kvbm__idx_fini(&t);
}

KVBM_TEST(index_del_nobp_equals_del)
{
    enum { NV = 8 };
    kvbm__idxtab a, b;
    ASSERT_OK(kvbm__idx_init(&a, 4)); /* 16 slots (filled to 1/2 below: runs up to 8) */
    ASSERT_OK(kvbm__idx_init(&b, 4));
    ASSERT_EQ(a.mask, 15u);
    static const uint32_t homes[5] = { 13, 14, 15, 0, 14 };
    uint32_t h32[NV];
    bool present[NV] = { false };
    size_t long_runs = 0, moves = 0;
    uint64_t rng = UINT64_C(0x2545F4914F6CDD1D);
    for (uint32_t v = 0; v < NV; v++) h32[v] = (v << 8) | homes[v % 5];
    for (int step = 0; step < 20000; step++) {
        rng = rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        uint32_t v = (uint32_t)(rng >> 33) % NV;
        idx_model_ctx k = { v };
        size_t sa, sb;
        bool fa = kvbm__idx_find_or_empty(&a, h32[v], idx_model_eq, &k, &sa);
        bool fb = kvbm__idx_find_or_empty(&b, h32[v], idx_model_eq, &k, &sb);
        ASSERT_EQ(fa, present[v]);
        ASSERT_EQ(fb, fa);
        ASSERT_EQ(sb, sa);
        if (fa) {
            size_t run = 0;
            while (a.slots[(sa + run + 1) & a.mask].val != KVBM_IDX_EMPTY) run++;
            if (run > KVBM_IDX_DEL_STEPS) long_runs++;
            size_t ha = kvbm__idx_del(&a, sa);
            size_t hb = kvbm__idx_del_nobp(&b, sb);
            ASSERT_EQ(hb, ha);
            if (ha != sa) moves++;
        } else {
            kvbm__idx_put_at(&a, sa, h32[v], v);
            kvbm__idx_put_at(&b, sb, h32[v], v);
        }
        present[v] = !fa;
        ASSERT_EQ(b.count, a.count);
        for (size_t i = 0; i <= a.mask; i++) {
            ASSERT_EQ(b.slots[i].val, a.slots[i].val);
            if (a.slots[i].val != KVBM_IDX_EMPTY) ASSERT_EQ(b.slots[i].h32, a.slots[i].h32);
        }
    }
    /* both paths of the deletion ran, and the shift moved entries */
    EXPECT_TRUE(long_runs > 100);
    EXPECT_TRUE(moves > 1000);
    kvbm__idx_fini(&a);
    kvbm__idx_fini(&b);
}
