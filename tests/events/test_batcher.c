/* tests/events/test_batcher.c - the §3.4 batcher state machine (spec 20 §5.2 batcher.rs,
 * driven directly, no clock) and the stable position sort. */
#include "harness.h"
#include "events/batcher.h"

typedef struct out {
    int             nb;
    kvbm_event_kind kind[16];
    size_t          n[16];
    uint64_t        pos[16][8];
    uint64_t        cur[16][8];
    kvbm_u128       iid[16];
} out;

static void emit(void *ctx, const kvbm_event_batch *b)
{
    out *o = ctx;
    if (o->nb >= 16) return;
    o->kind[o->nb] = b->kind;
    o->n[o->nb] = b->n;
    o->iid[o->nb] = b->instance_id;
    for (size_t i = 0; i < b->n && i < 8; i++) {
        o->pos[o->nb][i] = kvbm_plh_position(b->hashes[i]);
        o->cur[o->nb][i] = kvbm_plh_current(b->hashes[i]);
    }
    o->nb++;
}

static kvbm_plh at(uint64_t pos, uint64_t cur)
{
    kvbm_plh h;
    if (kvbm_plh_new(cur, pos > 0, 7, pos, &h) != KVBM_OK) h = kvbm_plh_root(cur);
    return h;
}

static const kvbm_u128 IID = { 0, 12345 };

KVBM_TEST(batcher_batches_creates_ascending)
{
    kvbm__batcher b;
    out o = { 0 };
    ASSERT_OK(kvbm__batcher_init(&b, 1024, IID, emit, &o));
    EXPECT_FALSE(kvbm__batcher_push(&b, KVBM_EVENT_CREATE, at(3, 1)));
    EXPECT_FALSE(kvbm__batcher_push(&b, KVBM_EVENT_CREATE, at(1, 2)));
    EXPECT_FALSE(kvbm__batcher_push(&b, KVBM_EVENT_CREATE, at(2, 3)));
    EXPECT_EQ(o.nb, 0);
    kvbm__batcher_tick(&b);
    ASSERT_EQ(o.nb, 1);
    EXPECT_EQ(o.kind[0], KVBM_EVENT_CREATE);
    EXPECT_EQ(o.n[0], 3);
    EXPECT_EQ(o.pos[0][0], 1);
    EXPECT_EQ(o.pos[0][1], 2);
    EXPECT_EQ(o.pos[0][2], 3);
    EXPECT_EQ_U64(o.iid[0].lo, 12345);
    EXPECT_EQ_U64(o.iid[0].hi, 0);
    kvbm__batcher_tick(&b); /* nothing pending: nothing emitted */
    EXPECT_EQ(o.nb, 1);
    kvbm__batcher_fini(&b);
}

KVBM_TEST(batcher_batches_removes_descending)
{
    kvbm__batcher b;
    out o = { 0 };
    ASSERT_OK(kvbm__batcher_init(&b, 1024, IID, emit, &o));
    kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(1, 1));
    kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(3, 2));
    kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(2, 3));
    kvbm__batcher_end(&b);
    ASSERT_EQ(o.nb, 1);
    EXPECT_EQ(o.kind[0], KVBM_EVENT_REMOVE);
    EXPECT_EQ(o.pos[0][0], 3);
    EXPECT_EQ(o.pos[0][1], 2);
    EXPECT_EQ(o.pos[0][2], 1);
    kvbm__batcher_fini(&b);
}

KVBM_TEST(batcher_flushes_on_type_switch)
{
    kvbm__batcher b;
    out o = { 0 };
    ASSERT_OK(kvbm__batcher_init(&b, 1024, IID, emit, &o));
    EXPECT_FALSE(kvbm__batcher_push(&b, KVBM_EVENT_CREATE, at(1, 1)));
    EXPECT_FALSE(kvbm__batcher_push(&b, KVBM_EVENT_CREATE, at(2, 2)));
    EXPECT_TRUE(kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(1, 1)));
    EXPECT_TRUE(kvbm__batcher_push(&b, KVBM_EVENT_CREATE, at(3, 3)));
    kvbm__batcher_end(&b);
    ASSERT_EQ(o.nb, 3);
    EXPECT_EQ(o.kind[0], KVBM_EVENT_CREATE); EXPECT_EQ(o.n[0], 2);
    EXPECT_EQ(o.kind[1], KVBM_EVENT_REMOVE); EXPECT_EQ(o.n[1], 1);
    EXPECT_EQ(o.kind[2], KVBM_EVENT_CREATE); EXPECT_EQ(o.n[2], 1);
    kvbm__batcher_fini(&b);
}

KVBM_TEST(batcher_flushes_on_max_size)
{
    kvbm__batcher b;
    out o = { 0 };
    ASSERT_OK(kvbm__batcher_init(&b, 3, IID, emit, &o));
    for (uint64_t i = 0; i < 5; i++) kvbm__batcher_push(&b, KVBM_EVENT_CREATE, at(i + 1, i));
    EXPECT_EQ(o.nb, 1);
    kvbm__batcher_end(&b);
    ASSERT_EQ(o.nb, 2);
    EXPECT_EQ(o.n[0], 3);
    EXPECT_EQ(o.n[1], 2);
    kvbm__batcher_fini(&b);
}

KVBM_TEST(batcher_keeps_duplicates_and_sorts_stably)
{
    kvbm__batcher b;
    out o = { 0 };
    ASSERT_OK(kvbm__batcher_init(&b, 1024, IID, emit, &o));
    /* ties (same position) keep their arrival order, for both directions */
    kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(2, 10));
    kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(5, 11));
    kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(2, 12));
    kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(5, 13));
    kvbm__batcher_push(&b, KVBM_EVENT_REMOVE, at(5, 13)); /* duplicate kept */
    kvbm__batcher_end(&b);
    ASSERT_EQ(o.nb, 1);
    ASSERT_EQ(o.n[0], 5);
    const uint64_t want[5] = { 11, 13, 13, 10, 12 };
    for (int i = 0; i < 5; i++) EXPECT_EQ_U64(o.cur[0][i], want[i]);
    kvbm__batcher_fini(&b);
}

/* The batcher's output order (sorted only when a push broke it) against a stable
 * insertion sort, on random batches with many ties, both kinds. */
static kvbm_plh got[300];
static size_t ngot;
static void emit_all(void *ctx, const kvbm_event_batch *b)
{
    (void)ctx;
    ngot = b->n;
    memcpy(got, b->hashes, b->n * sizeof *got);
}

KVBM_TEST(batch_order_matches_stable_insertion_sort_on_random_input)
{
    uint64_t s = test_seed() | 1;
    kvbm_plh v[300], w[300];
    kvbm__batcher b;
    ASSERT_OK(kvbm__batcher_init(&b, 300, IID, emit_all, NULL));
    for (int round = 0; round < 200; round++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        size_t n = 1 + (size_t)(s % 299);
        bool sorted_input = round % 4 == 2; /* the no-sort path */
        for (size_t i = 0; i < n; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            v[i] = at(sorted_input ? i / 3 : s % 8, i); /* many ties; current = arrival index */
        }
        bool desc = round & 1;
        if (sorted_input && desc)
            for (size_t i = 0; i < n; i++) v[i] = at((n - i) / 3, i);
        memcpy(w, v, n * sizeof *v);
        for (size_t i = 1; i < n; i++) { /* reference: stable insertion sort */
            kvbm_plh x = w[i];
            size_t j = i;
            uint64_t px = kvbm_plh_position(x);
            while (j > 0 && (desc ? kvbm_plh_position(w[j - 1]) < px : kvbm_plh_position(w[j - 1]) > px)) {
                w[j] = w[j - 1];
                j--;
            }
            w[j] = x;
        }
        ngot = 0;
        kvbm_event_kind k = desc ? KVBM_EVENT_REMOVE : KVBM_EVENT_CREATE;
        for (size_t i = 0; i < n; i++) kvbm__batcher_push(&b, k, v[i]);
        kvbm__batcher_end(&b);
        ASSERT_EQ(ngot, n);
        for (size_t i = 0; i < n; i++) {
            EXPECT_EQ_U64(got[i].hi, w[i].hi);
            EXPECT_EQ_U64(got[i].lo, w[i].lo);
        }
    }
    kvbm__batcher_fini(&b);
}
