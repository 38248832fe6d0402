/* tests/events/test_batcher.c - the §3.4 batcher state machine (spec 20 §5.2 batcher.rs,
 * driven directly, no clock) and the stable position sort. */
#include <stdlib.h>

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

/* ---- kvbm__batcher_push_bits and the key sort (session 14) ---- */

/* Every emitted batch, flattened: kind, n, hashes. */
typedef struct rec {
    size_t          nb, nh;
    kvbm_event_kind kind[8192];
    size_t          n[8192];
    kvbm_plh        h[8192];
} rec;

static void emit_rec(void *ctx, const kvbm_event_batch *b)
{
    rec *r = ctx;
    if (r->nb >= 8192 || r->nh + b->n > 8192) return;
    r->kind[r->nb] = b->kind;
    r->n[r->nb++] = b->n;
    memcpy(&r->h[r->nh], b->hashes, b->n * sizeof *b->hashes);
    r->nh += b->n;
}

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A PLH at @pos (any mode, 0 .. KVBM_PLH_MAX_POSITION) with a raw hi that may carry the
 * invalid stored mode 3 (decoded with the mode-2 widths). */
static kvbm_plh at_any(uint64_t pos, uint64_t cur, bool mode3)
{
    kvbm_plh h = at(pos, cur);
    if (mode3 && pos >= 65536) h.hi |= (uint64_t)3 << 62;
    return h;
}

/* Reference: stable insertion sort of v[0, n) by position (descending if @desc). */
static void ref_sort(kvbm_plh *v, size_t n, bool desc)
{
    for (size_t i = 1; i < n; i++) {
        kvbm_plh x = v[i];
        uint64_t px = kvbm_plh_position(x);
        size_t j = i;
        while (j > 0 && (desc ? kvbm_plh_position(v[j - 1]) < px : kvbm_plh_position(v[j - 1]) > px)) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* push_bits in random chunks emits exactly what push does event by event (batches, kinds,
 * order), and every batch is the stable sort of its arrival order: on streams of
 * alternating runs (eviction-like descending chains, ascending sequences, ties, random
 * positions up to the maximum, mode-3 hashes) and sizes up to and beyond max. */
KVBM_TEST(batcher_push_bits_matches_push_on_random_streams)
{
    static rec ra, rb;
    static kvbm_event ev[6000];
    uint64_t s = test_seed() | 1;
    for (int round = 0; round < 60; round++) {
        size_t max = 1 + (size_t)(xs(&s) % (round % 3 == 0 ? 4 : 300));
        size_t n = 0;
        while (n < 5000) { /* runs of one kind */
            kvbm_event_kind k = (xs(&s) & 1) ? KVBM_EVENT_REMOVE : KVBM_EVENT_CREATE;
            size_t len = 1 + (size_t)(xs(&s) % 80), shape = (size_t)(xs(&s) % 4);
            uint64_t base = xs(&s) % 100;
            for (size_t j = 0; j < len && n < 6000; j++, n++) {
                uint64_t pos = shape == 0   ? base + len - j                 /* a chain, tail first */
                             : shape == 1 ? base + j                         /* a sequence */
                             : shape == 2 ? xs(&s) % 4                        /* ties */
                                          : xs(&s) % (KVBM_PLH_MAX_POSITION + 1); /* any mode */
                ev[n].kind = k;
                ev[n].hash = at_any(pos, n, (xs(&s) & 7) == 0);
            }
        }
        kvbm__batcher a, b;
        memset(&ra, 0, sizeof ra);
        memset(&rb, 0, sizeof rb);
        ASSERT_OK(kvbm__batcher_init(&a, max, IID, emit_rec, &ra));
        ASSERT_OK(kvbm__batcher_init(&b, max, IID, emit_rec, &rb));
        for (size_t i = 0; i < n; i++) kvbm__batcher_push(&a, ev[i].kind, ev[i].hash);
        for (size_t i = 0; i < n;) { /* in chunks, in kvbm__events_next_bits' format */
            static kvbm_plh hs[700];
            uint64_t kinds[11] = { 0 };
            size_t c = 1 + (size_t)(xs(&s) % 700);
            if (c > n - i) c = n - i;
            for (size_t j = 0; j < c; j++) {
                hs[j] = ev[i + j].hash;
                kinds[j / 64] |= (uint64_t)ev[i + j].kind << (j % 64);
            }
            kvbm__batcher_push_bits(&b, hs, kinds, c);
            i += c;
        }
        kvbm__batcher_end(&a);
        kvbm__batcher_end(&b);
        ASSERT_EQ(ra.nb, rb.nb);
        ASSERT_EQ(ra.nh, n);
        ASSERT_EQ(rb.nh, n);
        size_t off = 0;
        for (size_t k = 0; k < ra.nb; k++) {
            ASSERT_EQ(ra.kind[k], rb.kind[k]);
            ASSERT_EQ(ra.n[k], rb.n[k]);
            ASSERT_TRUE(ra.n[k] <= max);
            kvbm_plh want[300];
            for (size_t i = 0; i < ra.n[k]; i++) { /* arrival order: the stream's */
                ASSERT_EQ(ev[off + i].kind, ra.kind[k]);
                want[i] = ev[off + i].hash;
            }
            ref_sort(want, ra.n[k], ra.kind[k] == KVBM_EVENT_REMOVE);
            for (size_t i = 0; i < ra.n[k]; i++) {
                EXPECT_EQ_U64(ra.h[off + i].hi, want[i].hi);
                EXPECT_EQ_U64(ra.h[off + i].lo, want[i].lo);
                EXPECT_EQ_U64(rb.h[off + i].hi, want[i].hi);
                EXPECT_EQ_U64(rb.h[off + i].lo, want[i].lo);
            }
            off += ra.n[k];
        }
        kvbm__batcher_fini(&a);
        kvbm__batcher_fini(&b);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The natural merge sort against qsort: sorted, reversed, a few runs, many runs, odd run
 * counts, n = 1 and 2. */
KVBM_TEST(batcher_sort_keys_matches_qsort)
{
    static uint64_t key[1024], tmp[1024], want[1024];
    static uint32_t runs[1025];
    uint64_t s = test_seed() | 1;
    for (int round = 0; round < 400; round++) {
        size_t n = round < 8 ? (size_t)round % 3 + 1 : 1 + (size_t)(xs(&s) % 1024);
        size_t nruns = 1 + (size_t)(xs(&s) % (round % 2 ? 7 : n));
        for (size_t i = 0; i < n; i++) {
            uint64_t v = round % 5 == 0 ? n - i : (i * nruns) % n * 1000 + xs(&s) % 1000;
            key[i] = v << KVBM__BATCH_IDX_BITS | i; /* distinct, as the batcher's */
        }
        memcpy(want, key, n * sizeof *key);
        qsort(want, n, sizeof *want, cmp_u64);
        const uint64_t *res = kvbm__batcher_sort_keys(key, tmp, runs, n);
        ASSERT_TRUE(res == key || res == tmp);
        for (size_t i = 0; i < n; i++) ASSERT_EQ_U64(res[i], want[i]);
    }
}
