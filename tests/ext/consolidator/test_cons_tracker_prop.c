/* tests/ext/consolidator/test_cons_tracker_prop.c - property tests of the tracker over
 * seeded random operation sequences (spec 20 §4.3.2 invariants; §5.5 "tracker proptests"
 * and "chaos_properties"). Every drained stream is replayed through a model that checks:
 *   - no STORE for a PLH that is live (published and not removed since);
 *   - every REMOVE matches a live PLH;
 *   - CLEAR_ALL empties the live set;
 *   - every STORE at position p > 0 has a parent among the PLHs stored since the last
 *     CLEAR_ALL: position p - 1 and parent_fragment_for_child_position(parent, p) equal to
 *     the child's parent fragment (kvbm_plh_parent_fragment).
 * and after each drain that every PLH the model holds live is tracked and published, and
 * that kvbm_cons_tracker_check() passes. The seed is printed (KVBM_TEST_SEED replays it). */
#include "cons_model.h"

#include <stdlib.h>

/* Drain, replay, and cross-check the tracker. */
static bool drain_check(kvbm_cons_tracker *t, kvbm_cons_events *ev, model *m)
{
    if (kvbm_cons_tracker_drain(t, ev) != KVBM_OK || !model_apply(m, ev)) return false;
    for (size_t i = 0; i < m->n_live; i++) {
        bool pub = false;
        if (!kvbm_cons_tracker_lookup(t, m->live[i], NULL, &pub) || !pub) {
            printf("    model-live block not tracked+published in the tracker\n");
            return false;
        }
    }
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    if (st.live_blocks < m->n_live || st.queued != 0) return false;
    if (kvbm_cons_tracker_check(t) != KVBM_OK) {
        printf("    %s\n", kvbm_last_error());
        return false;
    }
    return true;
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13; *x ^= *x >> 7; *x ^= *x << 17;
    return *x;
}

/* ---- tracker proptests: 12-block single-token catalogue ---------------------------- */

typedef struct catalogue {
    uint32_t tokens[12];
    int      parent[12]; /* index or -1 */
    kvbm_plh plh[12];    /* the PLH when the whole ancestry is known */
} catalogue;

static void catalogue_build(catalogue *c, const int *parent)
{
    for (int i = 0; i < 12; i++) {
        c->parent[i] = parent[i];
        c->tokens[i] = (uint32_t)(i % 5); /* repeated tokens: same content at other positions */
        const kvbm_plh *pp = parent[i] >= 0 ? &c->plh[parent[i]] : NULL;
        if (kvbm_cons_block_plh(&c->tokens[i], 1, 1, NULL, pp, &c->plh[i]) != KVBM_OK) abort();
    }
}

static bool run_sequence(const catalogue *c, uint64_t *x, size_t n_ops, model *m)
{
    kvbm_cons_tracker *t = NULL;
    kvbm_cons_events *ev = NULL;
    if (kvbm_cons_tracker_create(NULL, &t) != KVBM_OK || kvbm_cons_events_create(&ev) != KVBM_OK) return false;
    bool ok = true;
    for (size_t op = 0; op < n_ops && ok; op++) {
        uint64_t r = rnd(x);
        int i = (int)((r >> 8) % 12);
        kvbm_cons_source s = (r >> 20) & 1 ? KVBM_CONS_SOURCE_TRTLLM : KVBM_CONS_SOURCE_VLLM;
        uint64_t ext = (uint64_t)s * 1000 + (uint64_t)i, pext = (uint64_t)s * 1000 + (uint64_t)c->parent[i];
        kvbm_status st = KVBM_OK;
        unsigned d = (unsigned)(r % 100);
        if (d < 40) {
            st = kvbm_cons_tracker_handle_store(t, s, ext, c->parent[i] >= 0 ? &pext : NULL, &c->tokens[i], 1, 1, NULL);
        } else if (d < 65) {
            st = kvbm_cons_tracker_handle_remove(t, s, ext);
            if (st == KVBM_ENOENT) st = KVBM_OK;
        } else if (d < 75) {
            st = kvbm_cons_tracker_handle_kvbm_store(t, c->plh[i], NULL, 0, 0, NULL);
        } else if (d < 80) { /* publishable kvbm stores only for roots (parent trivially ok) */
            if (c->parent[i] < 0) st = kvbm_cons_tracker_handle_kvbm_store(t, c->plh[i], &c->tokens[i], 1, 1, NULL);
        } else if (d < 90) {
            st = kvbm_cons_tracker_handle_kvbm_remove(t, c->plh[i]);
            if (st == KVBM_ENOENT) st = KVBM_OK;
        } else if (d < 93) {
            st = kvbm_cons_tracker_clear_all(t);
        } else {
            ok = drain_check(t, ev, m);
        }
        if (st != KVBM_OK) {
            printf("    op %zu failed: %s\n", op, kvbm_last_error());
            ok = false;
        }
    }
    ok = ok && drain_check(t, ev, m);
    /* a final clear empties everything */
    ok = ok && kvbm_cons_tracker_clear_all(t) == KVBM_OK && drain_check(t, ev, m) && m->n_live == 0;
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
    return ok;
}

static void proptest(const int *parent, uint64_t salt)
{
    catalogue c;
    catalogue_build(&c, parent);
    uint64_t seed = test_seed();
    printf("    seed %llu\n", (unsigned long long)seed);
    size_t stores = 0, removes = 0;
    for (int seq = 0; seq < 256; seq++) {
        uint64_t x = (seed ^ salt) + 0x9e3779b97f4a7c15ull * (uint64_t)(seq + 1);
        x |= 1;
        model *m = calloc(1, sizeof *m);
        ASSERT_TRUE(m != NULL);
        bool ok = run_sequence(&c, &x, 80, m);
        stores += m->stores;
        removes += m->removes;
        free(m);
        if (!ok) {
            kvbm_test_fail(__FILE__, __LINE__, "sequence %d of seed %llu violates an invariant", seq,
                           (unsigned long long)seed);
            return;
        }
    }
    /* the sequences exercised both directions (a generator that never stores would pass) */
    EXPECT_GT(stores, 256);
    EXPECT_GT(removes, 64);
}

KVBM_TEST(dedup_invariant_random_interleaving)
{
    /* two chains and a branch; block 10 repeats block 0's content at the root */
    static const int parent[12] = {-1, 0, 1, 2, 3, -1, 5, 6, 1, 8, -1, 10};
    proptest(parent, 0);
}

KVBM_TEST(parent_chain_integrity)
{
    static const int parent[12] = {-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; /* one deep chain */
    proptest(parent, 0x5bd1e995);
}

/* ---- chaos: 8 PLHs, block hash XXH3(LE32(i), 1337), chain seed 1337 ----------------- */

static void chaos_catalogue(kvbm_plh plh[8])
{
    uint64_t prev = 0;
    for (uint32_t i = 0; i < 8; i++) {
        uint64_t h = kvbm_tokens_block_hash(&i, 1, 1337);
        uint64_t cur = i == 0 ? h : kvbm_tokens_chain_hash(prev, h);
        if (kvbm_plh_new(cur, i > 0, prev, i, &plh[i]) != KVBM_OK) abort();
        prev = cur;
    }
}

/* One chaos op on @t: store a prefix, remove one block, clear; never drains. */
static kvbm_status chaos_op(kvbm_cons_tracker *t, const kvbm_plh plh[8], uint64_t r)
{
    uint32_t k = (uint32_t)((r >> 8) % 8);
    unsigned d = (unsigned)(r % 10);
    if (d < 5) {
        for (uint32_t i = 0; i <= k; i++) {
            kvbm_status st = kvbm_cons_tracker_handle_kvbm_store(t, plh[i], &i, 1, 1, NULL);
            if (st != KVBM_OK) return st;
        }
        return KVBM_OK;
    }
    if (d < 9) {
        kvbm_status st = kvbm_cons_tracker_handle_kvbm_remove(t, plh[k]);
        return st == KVBM_ENOENT ? KVBM_OK : st;
    }
    return kvbm_cons_tracker_clear_all(t);
}

static void chaos_run(bool drain_every_op)
{
    kvbm_plh plh[8];
    chaos_catalogue(plh);
    uint64_t seed = test_seed();
    printf("    seed %llu\n", (unsigned long long)seed);
    for (int seq = 0; seq < 64; seq++) {
        kvbm_cons_tracker *t = NULL;
        kvbm_cons_events *ev = NULL;
        ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
        ASSERT_OK(kvbm_cons_events_create(&ev));
        model *m = calloc(1, sizeof *m);
        ASSERT_TRUE(m != NULL);
        uint64_t x = (seed + (uint64_t)seq * 0x2545F4914F6CDD1Dull) | 1;
        bool ok = true;
        for (int op = 0; op < 100 && ok; op++) {
            ok = chaos_op(t, plh, rnd(&x)) == KVBM_OK;
            if (ok && (drain_every_op || op % 17 == 16)) ok = drain_check(t, ev, m);
        }
        ok = ok && drain_check(t, ev, m);
        free(m);
        kvbm_cons_events_destroy(ev);
        kvbm_cons_tracker_destroy(t);
        if (!ok) {
            kvbm_test_fail(__FILE__, __LINE__, "chaos sequence %d of seed %llu failed", seq, (unsigned long long)seed);
            return;
        }
    }
}

KVBM_TEST(chaos_invariants_hold) { chaos_run(false); }

KVBM_TEST(chaos_parent_chain_integrity) { chaos_run(true); }

KVBM_TEST(chaos_drain_is_idempotent)
{
    /* draining after every op, once at the end, or twice in a row gives one stream */
    kvbm_plh plh[8];
    chaos_catalogue(plh);
    uint64_t seed = test_seed();
    printf("    seed %llu\n", (unsigned long long)seed);
    for (int seq = 0; seq < 32; seq++) {
        kvbm_cons_tracker *a = NULL, *b = NULL;
        kvbm_cons_events *ea = NULL, *eb = NULL;
        ASSERT_OK(kvbm_cons_tracker_create(NULL, &a));
        ASSERT_OK(kvbm_cons_tracker_create(NULL, &b));
        ASSERT_OK(kvbm_cons_events_create(&ea));
        ASSERT_OK(kvbm_cons_events_create(&eb));
        kvbm_cons_event_kind kinds[4096];
        kvbm_plh plhs[4096];
        size_t n = 0;
        uint64_t x = (seed + (uint64_t)seq * 0x9E3779B97F4A7C15ull) | 1;
        for (int op = 0; op < 60; op++) {
            uint64_t r = rnd(&x);
            ASSERT_OK(chaos_op(a, plh, r));
            ASSERT_OK(chaos_op(b, plh, r));
            ASSERT_OK(kvbm_cons_tracker_drain(a, ea));
            for (size_t i = 0; i < kvbm_cons_events_count(ea) && n < 4096; i++) {
                kinds[n] = kvbm_cons_events_get(ea, i)->kind;
                plhs[n++] = kvbm_cons_events_get(ea, i)->plh;
            }
            ASSERT_OK(kvbm_cons_tracker_drain(a, ea));
            ASSERT_EQ(kvbm_cons_events_count(ea), 0); /* a second drain finds nothing */
        }
        ASSERT_OK(kvbm_cons_tracker_drain(b, eb));
        ASSERT_EQ(kvbm_cons_events_count(eb), n);
        for (size_t i = 0; i < n; i++) {
            const kvbm_cons_event *e = kvbm_cons_events_get(eb, i);
            ASSERT_EQ(e->kind, kinds[i]);
            ASSERT_TRUE(e->kind == KVBM_CONS_CLEAR_ALL || kvbm_plh_eq(e->plh, plhs[i]));
        }
        ASSERT_OK(kvbm_cons_tracker_drain(b, eb));
        ASSERT_EQ(kvbm_cons_events_count(eb), 0);
        kvbm_cons_events_destroy(ea);
        kvbm_cons_events_destroy(eb);
        kvbm_cons_tracker_destroy(a);
        kvbm_cons_tracker_destroy(b);
    }
}
