/* tests/manager/stress_engine.h - multi-threaded random-operation stress engine, included by
 * test_stress_random.c (LRU / HashMap) and test_backends_stress.c (Lineage / MultiLRU).
 *
 * N worker threads (>= 4) share one manager and a universe of chained hashes. Each worker
 * owns bounded sets of mutable, complete, immutable, weak and pin handles and applies seeded
 * random operations (allocate, stage (also with a wrong size), reset, register, match, scan,
 * clone, release, set_evict_on_reset, downgrade, upgrade, pin, reset_inactive_pool). After
 * every round all workers park on a barrier and the main thread runs the §2.2 invariant
 * checker and compares the gauges with the handles the workers actually hold. At the end
 * every worker releases everything; then the pool must be whole (available == total, both
 * inflight gauges 0), reset_inactive_pool must bring every block back to the reset pool, the
 * counters must equal the workers' tallies, and the Option-B audit counters must be 0.
 * The seed is printed; KVBM_TEST_SEED replays a run (thread interleaving aside).
 */
#ifndef KVBM_TEST_STRESS_ENGINE_H
#define KVBM_TEST_STRESS_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"

#define SE_MAXH    8   /* per-worker bound for each handle kind */
#define SE_CHAINS  8
#define SE_CHAIN_LEN 6
#define SE_UNIVERSE (SE_CHAINS * SE_CHAIN_LEN)

struct se_shared;

struct se_worker {
    struct se_shared *s;
    pthread_t         th;
    int               tid;
    uint64_t          rng;
    kvbm_mutable     *mut[SE_MAXH];
    int               nmut;
    kvbm_complete    *comp[SE_MAXH];
    int               ncomp;
    kvbm_block       *blk[SE_MAXH];
    int               nblk;
    kvbm_weak        *weak[SE_MAXH];
    int               nweak;
    kvbm_pin         *pin[SE_MAXH];
    int               npin;
    /* tallies of what the library must have counted */
    uint64_t allocs, stagings, registrations, match_req, match_ret, scan_req, scan_ret;
};

struct se_shared {
    kvbm_manager     *m;
    uint32_t          block_size;
    int               threads, rounds, ops;
    pthread_barrier_t round_done, round_go;
    kvbm_plh          universe[SE_UNIVERSE];
    struct se_worker  w[16];
};

static kvbm_plh se_hash(struct se_worker *w)
{
    return w->s->universe[tm_rand_below(&w->rng, SE_UNIVERSE)];
}

#define SE_FAIL(...) kvbm_test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SE_OKST(st, what) do { if ((st) != KVBM_OK) SE_FAIL("%s: %s", (what), kvbm_status_name(st)); } while (0)

static void se_add_block(struct se_worker *w, kvbm_block *b)
{
    if (w->nblk < SE_MAXH) w->blk[w->nblk++] = b;
    else SE_OKST(kvbm_block_release(b), "release overflow block");
}

static kvbm_block *se_take_block(struct se_worker *w, int i)
{
    kvbm_block *b = w->blk[i];
    w->blk[i] = w->blk[--w->nblk];
    return b;
}

static void se_op(struct se_worker *w)
{
    kvbm_manager *m = w->s->m;
    kvbm_status st;
    switch (tm_rand_below(&w->rng, 18)) {
    case 0: { /* allocate */
        size_t k = 1 + (size_t)tm_rand_below(&w->rng, 3);
        if (w->nmut + (int)k > SE_MAXH) break;
        kvbm_mutable *mb[3] = { 0 };
        st = kvbm_manager_allocate(m, k, mb, NULL, NULL);
        if (st == KVBM_OK) {
            for (size_t i = 0; i < k; i++) {
                if (kvbm_mutable_block_size(mb[i]) != w->s->block_size) SE_FAIL("block size");
                w->mut[w->nmut++] = mb[i];
            }
            w->allocs += k;
        } else if (st != KVBM_EEXHAUSTED) {
            SE_FAIL("allocate: %s", kvbm_status_name(st));
        }
        break;
    }
    case 1:
    case 2: { /* stage (sometimes with a wrong size) */
        if (w->nmut == 0 || w->ncomp >= SE_MAXH) break;
        int i = (int)tm_rand_below(&w->rng, (uint64_t)w->nmut);
        kvbm_plh h = se_hash(w);
        bool wrong = tm_rand_below(&w->rng, 8) == 0;
        uint32_t bs = wrong ? w->s->block_size * 2 : w->s->block_size;
        kvbm_complete *cb = NULL;
        uint32_t exp = 0, act = 0;
        st = kvbm_mutable_stage(w->mut[i], h, bs, &cb, &exp, &act);
        if (wrong) {
            if (st != KVBM_ESIZE || exp != w->s->block_size || act != bs || cb != NULL)
                SE_FAIL("wrong-size stage: %s exp %u act %u", kvbm_status_name(st), exp, act);
            break;
        }
        SE_OKST(st, "stage");
        if (st != KVBM_OK) break;
        if (!kvbm_plh_eq(kvbm_complete_seq_hash(cb), h)) SE_FAIL("staged hash");
        w->stagings++;
        w->comp[w->ncomp++] = cb;
        w->mut[i] = w->mut[--w->nmut];
        break;
    }
    case 3: { /* complete -> reset -> mutable */
        if (w->ncomp == 0 || w->nmut >= SE_MAXH) break;
        int i = (int)tm_rand_below(&w->rng, (uint64_t)w->ncomp);
        uint32_t id = kvbm_complete_block_id(w->comp[i]);
        kvbm_mutable *mb = NULL;
        st = kvbm_complete_reset(w->comp[i], &mb);
        SE_OKST(st, "complete reset");
        if (st != KVBM_OK) break;
        if (kvbm_mutable_block_id(mb) != id) SE_FAIL("reset changed the block id");
        w->mut[w->nmut++] = mb;
        w->comp[i] = w->comp[--w->ncomp];
        break;
    }
    case 4: /* release a mutable */
        if (w->nmut == 0) break;
        {
            int i = (int)tm_rand_below(&w->rng, (uint64_t)w->nmut);
            SE_OKST(kvbm_mutable_release(w->mut[i]), "mutable release");
            w->mut[i] = w->mut[--w->nmut];
        }
        break;
    case 5: /* release a complete */
        if (w->ncomp == 0) break;
        {
            int i = (int)tm_rand_below(&w->rng, (uint64_t)w->ncomp);
            SE_OKST(kvbm_complete_release(w->comp[i]), "complete release");
            w->comp[i] = w->comp[--w->ncomp];
        }
        break;
    case 6:
    case 7: { /* register all completes in one call */
        if (w->ncomp == 0 || w->nblk + w->ncomp > SE_MAXH) break;
        kvbm_block *out[SE_MAXH] = { 0 };
        kvbm_plh hs[SE_MAXH];
        int n = w->ncomp;
        for (int i = 0; i < n; i++) hs[i] = kvbm_complete_seq_hash(w->comp[i]);
        st = kvbm_manager_register_blocks(m, w->comp, (size_t)n, out);
        SE_OKST(st, "register");
        if (st != KVBM_OK) break;
        w->registrations += (uint64_t)n;
        w->ncomp = 0;
        for (int i = 0; i < n; i++) {
            if (!kvbm_plh_eq(kvbm_block_seq_hash(out[i]), hs[i])) SE_FAIL("registered hash");
            se_add_block(w, out[i]);
        }
        break;
    }
    case 8: { /* match a chain prefix */
        int c = (int)tm_rand_below(&w->rng, SE_CHAINS);
        size_t len = 1 + (size_t)tm_rand_below(&w->rng, SE_CHAIN_LEN);
        const kvbm_plh *hs = &w->s->universe[c * SE_CHAIN_LEN];
        kvbm_block *out[SE_CHAIN_LEN] = { 0 };
        size_t n = 0;
        st = kvbm_manager_match_blocks(m, hs, len, out, &n);
        SE_OKST(st, "match");
        if (st != KVBM_OK) break;
        if (n > len) SE_FAIL("match returned %zu > %zu", n, len);
        w->match_req += len;
        w->match_ret += n;
        for (size_t i = 0; i < n && i < len; i++) {
            if (!kvbm_plh_eq(kvbm_block_seq_hash(out[i]), hs[i])) SE_FAIL("match order");
            se_add_block(w, out[i]);
        }
        break;
    }
    case 9: { /* scan random hashes */
        size_t len = 1 + (size_t)tm_rand_below(&w->rng, 4);
        kvbm_plh hs[4], oh[4];
        kvbm_block *ob[4] = { 0 };
        for (size_t i = 0; i < len; i++) hs[i] = se_hash(w);
        size_t found = 0;
        st = kvbm_manager_scan_matches(m, hs, len, tm_rand_below(&w->rng, 2) == 0, oh, ob, &found);
        SE_OKST(st, "scan");
        if (st != KVBM_OK) break;
        w->scan_req += len;
        w->scan_ret += found;
        for (size_t i = 0; i < found; i++) {
            bool in = false;
            for (size_t j = 0; j < len; j++) in = in || kvbm_plh_eq(oh[i], hs[j]);
            for (size_t j = 0; j < i; j++)
                if (kvbm_plh_eq(oh[i], oh[j])) SE_FAIL("scan returned a hash twice");
            if (!in || !kvbm_plh_eq(kvbm_block_seq_hash(ob[i]), oh[i])) SE_FAIL("scan result");
            se_add_block(w, ob[i]);
        }
        break;
    }
    case 10: /* clone */
        if (w->nblk == 0 || w->nblk >= SE_MAXH) break;
        {
            kvbm_block *c = NULL;
            kvbm_block *b = w->blk[tm_rand_below(&w->rng, (uint64_t)w->nblk)];
            st = kvbm_block_clone(b, &c);
            SE_OKST(st, "clone");
            if (st == KVBM_OK) {
                if (kvbm_block_id(c) != kvbm_block_id(b)) SE_FAIL("clone id");
                w->blk[w->nblk++] = c;
            }
        }
        break;
    case 11:
    case 12: /* release a block */
        if (w->nblk == 0) break;
        SE_OKST(kvbm_block_release(se_take_block(w, (int)tm_rand_below(&w->rng, (uint64_t)w->nblk))),
                "block release");
        break;
    case 13: /* evict-on-reset flag */
        if (w->nblk == 0) break;
        SE_OKST(kvbm_block_set_evict_on_reset(w->blk[tm_rand_below(&w->rng, (uint64_t)w->nblk)],
                                              tm_rand_below(&w->rng, 2) == 0),
                "set_evict_on_reset");
        break;
    case 14: /* downgrade or drop a weak */
        if (w->nweak > 0 && (w->nblk == 0 || w->nweak >= SE_MAXH || tm_rand_below(&w->rng, 2))) {
            int i = (int)tm_rand_below(&w->rng, (uint64_t)w->nweak);
            kvbm_weak_release(w->weak[i]);
            w->weak[i] = w->weak[--w->nweak];
        } else if (w->nblk > 0 && w->nweak < SE_MAXH) {
            kvbm_weak *wk = NULL;
            st = kvbm_block_downgrade(w->blk[tm_rand_below(&w->rng, (uint64_t)w->nblk)], &wk);
            SE_OKST(st, "downgrade");
            if (st == KVBM_OK) w->weak[w->nweak++] = wk;
        }
        break;
    case 15: { /* upgrade a weak */
        if (w->nweak == 0 || w->nblk >= SE_MAXH) break;
        kvbm_weak *wk = w->weak[tm_rand_below(&w->rng, (uint64_t)w->nweak)];
        kvbm_block *b = NULL;
        st = kvbm_weak_upgrade(wk, &b);
        if (st == KVBM_OK) {
            if (!kvbm_plh_eq(kvbm_block_seq_hash(b), kvbm_weak_seq_hash(wk))) SE_FAIL("upgrade hash");
            w->blk[w->nblk++] = b;
        } else if (st != KVBM_ENOENT) {
            SE_FAIL("upgrade: %s", kvbm_status_name(st));
        }
        break;
    }
    case 16: /* pin or unpin */
        if (w->npin > 0 && (w->nblk == 0 || w->npin >= SE_MAXH || tm_rand_below(&w->rng, 2))) {
            int i = (int)tm_rand_below(&w->rng, (uint64_t)w->npin);
            if (kvbm_pin_use_count(w->pin[i]) < 1) SE_FAIL("pin use count");
            SE_OKST(kvbm_pin_release(w->pin[i]), "pin release");
            w->pin[i] = w->pin[--w->npin];
        } else if (w->nblk > 0 && w->npin < SE_MAXH) {
            kvbm_pin *p = NULL;
            kvbm_block *b = w->blk[tm_rand_below(&w->rng, (uint64_t)w->nblk)];
            st = kvbm_block_pin(b, &p);
            SE_OKST(st, "pin");
            if (st == KVBM_OK) {
                if (kvbm_pin_block_id(p) != kvbm_block_id(b)) SE_FAIL("pin id");
                w->pin[w->npin++] = p;
            }
        }
        break;
    default: { /* rare: drain the inactive pool; reads */
        if (tm_rand_below(&w->rng, 8) == 0) {
            st = kvbm_manager_reset_inactive_pool(m, NULL, NULL);
            if (st != KVBM_OK && st != KVBM_ERESET_MISMATCH) SE_FAIL("reset_inactive_pool: %s", kvbm_status_name(st));
        }
        if (kvbm_manager_available_blocks(m) > kvbm_manager_total_blocks(m)) SE_FAIL("available > total");
        break;
    }
    }
}

static void se_release_all(struct se_worker *w)
{
    while (w->nblk > 0) SE_OKST(kvbm_block_release(se_take_block(w, w->nblk - 1)), "release");
    while (w->npin > 0) SE_OKST(kvbm_pin_release(w->pin[--w->npin]), "pin release");
    while (w->nweak > 0) kvbm_weak_release(w->weak[--w->nweak]);
    while (w->ncomp > 0) SE_OKST(kvbm_complete_release(w->comp[--w->ncomp]), "complete release");
    while (w->nmut > 0) SE_OKST(kvbm_mutable_release(w->mut[--w->nmut]), "mutable release");
}

static void *se_worker_main(void *p)
{
    struct se_worker *w = p;
    struct se_shared *s = w->s;
    for (int r = 0; r < s->rounds; r++) {
        for (int k = 0; k < s->ops; k++) se_op(w);
        if (r == s->rounds - 1) se_release_all(w);
        pthread_barrier_wait(&s->round_done);
        pthread_barrier_wait(&s->round_go);
    }
    return NULL;
}

/* Run the stress on a manager built from @o. */
static void stress_run(const char *name, tm_opts o, int threads, int rounds, int ops)
{
    uint64_t seed = test_seed();
    printf("    %s: seed=%" PRIu64 " threads=%d rounds=%d ops=%d (KVBM_TEST_SEED=%" PRIu64 " to replay)\n",
           name, seed, threads, rounds, ops, seed);
    struct se_shared *s = calloc(1, sizeof *s);
    if (s == NULL) { SE_FAIL("calloc"); return; }
    s->m = tm_manager_create(&o);
    if (s->m == NULL) { free(s); return; }
    s->block_size = o.block_size;
    s->threads = threads;
    s->rounds = rounds;
    s->ops = ops;
    for (int c = 0; c < SE_CHAINS; c++) {
        uint32_t toks[SE_CHAIN_LEN * 4];
        tm_iota((uint32_t)(c * 100000), SE_CHAIN_LEN * 4, toks);
        uint32_t *tk = toks;
        /* block size 4 hashing independent of the manager's block size: hashes are opaque */
        tm_chain_hashes(tk, SE_CHAIN_LEN * 4, 4, TEST_SALT, &s->universe[c * SE_CHAIN_LEN]);
    }
    pthread_barrier_init(&s->round_done, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&s->round_go, NULL, (unsigned)threads + 1);
    tm_auto_check(false);
    int started = 0;
    for (int t = 0; t < threads; t++) {
        struct se_worker *w = &s->w[t];
        w->s = s;
        w->tid = t;
        w->rng = seed ^ (UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(t + 1));
        if (pthread_create(&w->th, NULL, se_worker_main, w) != 0) break;
        started++;
    }
    if (started != threads) {
        SE_FAIL("pthread_create");
        abort(); /* the barrier would deadlock */
    }
    kvbm_manager *m = s->m;
    for (int r = 0; r < rounds; r++) {
        pthread_barrier_wait(&s->round_done);
        /* quiescent: every worker is parked */
        if (!tm_check(m, __FILE__, __LINE__)) printf("    (after round %d)\n", r);
        int64_t held_mut = 0, held_blk = 0;
        for (int t = 0; t < threads; t++) {
            held_mut += s->w[t].nmut;
            held_blk += s->w[t].nblk;
        }
        EXPECT_EQ(MET(m, inflight_mutable), held_mut);
        EXPECT_EQ(MET(m, inflight_immutable), held_blk);
        EXPECT_EQ(MET(m, reset_pool_size), (int64_t)kvbm_manager_reset_len(m));
        EXPECT_EQ(MET(m, inactive_pool_size), (int64_t)kvbm_manager_inactive_len(m));
        EXPECT_EQ(kvbm_manager_available_blocks(m),
                  kvbm_manager_reset_len(m) + kvbm_manager_inactive_len(m));
        pthread_barrier_wait(&s->round_go);
    }
    for (int t = 0; t < threads; t++) pthread_join(s->w[t].th, NULL);
    tm_auto_check(true);

    /* everything was released */
    uint64_t total = kvbm_manager_total_blocks(m);
    CHECK_INVARIANTS(m);
    EXPECT_EQ(kvbm_manager_available_blocks(m), total);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    uint64_t allocs = 0, stag = 0, regs = 0, mreq = 0, mret = 0, sreq = 0, sret = 0;
    for (int t = 0; t < threads; t++) {
        allocs += s->w[t].allocs;
        stag += s->w[t].stagings;
        regs += s->w[t].registrations;
        mreq += s->w[t].match_req;
        mret += s->w[t].match_ret;
        sreq += s->w[t].scan_req;
        sret += s->w[t].scan_ret;
    }
    EXPECT_EQ(MET(m, allocations), (int64_t)allocs);
    EXPECT_EQ(MET(m, allocations), MET(m, allocations_from_reset) + MET(m, evictions));
    EXPECT_EQ(MET(m, stagings), (int64_t)stag);
    EXPECT_EQ(MET(m, registrations), (int64_t)regs);
    EXPECT_EQ(MET(m, match_hashes_requested), (int64_t)mreq);
    EXPECT_EQ(MET(m, match_blocks_returned), (int64_t)mret);
    EXPECT_EQ(MET(m, scan_hashes_requested), (int64_t)sreq);
    EXPECT_EQ(MET(m, scan_blocks_returned), (int64_t)sret);
    EXPECT_EQ(MET(m, eager_primary_to_inactive), 0);
    EXPECT_EQ(MET(m, release_primary_noop), 0);
    EXPECT_EQ(MET(m, release_duplicate_noop), 0);
    EXPECT_EQ(MET(m, allocate_atomic_rollback), 0);
    if (o.policy == KVBM_DUP_REJECT) EXPECT_EQ(MET(m, duplicate_blocks), 0);
    else EXPECT_EQ(MET(m, registration_dedup), 0);
    printf("    %s: allocations=%" PRIu64 " registrations=%" PRIu64 " matched=%" PRIu64
           " evictions=%" PRId64 " duplicates=%" PRId64 " dedup=%" PRId64 "\n",
           name, allocs, regs, mret, MET(m, evictions), MET(m, duplicate_blocks),
           MET(m, registration_dedup));
    /* presence mirrors the cache: with no handle left, a hash is present iff cached */
    for (int i = 0; i < SE_UNIVERSE; i++)
        EXPECT_EQ(tm_has_presence(m, s->universe[i]), kvbm_manager_has_inactive(m, s->universe[i]));
    /* every block returns to the reset pool */
    uint64_t exp = 0, act = 0;
    EXPECT_OK(CK(kvbm_manager_reset_inactive_pool(m, &exp, &act)));
    EXPECT_EQ(kvbm_manager_reset_len(m), total);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(MET(m, reset_pool_size), (int64_t)total);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    for (int i = 0; i < SE_UNIVERSE; i++) {
        EXPECT_FALSE(tm_has_presence(m, s->universe[i]));
        EXPECT_FALSE(tm_is_registered(m, s->universe[i]));
    }
    pthread_barrier_destroy(&s->round_done);
    pthread_barrier_destroy(&s->round_go);
    tm_manager_destroy(m);
    free(s);
}

#endif /* KVBM_TEST_STRESS_ENGINE_H */
