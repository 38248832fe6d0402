/* tests/integrations/test_simulation.c - a seeded scheduler simulation over the
 * SchedulableSequence layer (issue 19 item 7): 64 requests on a manager far too small for
 * all of them; random admission with shared prompt prefixes, prefill chunks, decode and
 * speculative steps, aborted batches (revert), aborted requests and preemptions
 * (release / reacquire). After every phase every block must be accounted for: each
 * queued or staged block held by exactly one sequence, registered blocks possibly shared,
 * and total = distinct held + available (= reset + inactive) + primaries kept alive only
 * by a held Allow-policy duplicate of their hash. At the end every block is
 * back in the pool. Replay a failure with KVBM_TEST_SEED=<seed printed>. */
#include <stdio.h>
#include <stdlib.h>

#include "support/seq_helpers.h"

#define NSEQ   64
#define NBLK   96u
#define BS     4u

enum { WAITING, RUNNING, PREEMPTED, DONE };

typedef struct sim {
    kvbm_manager   *m;
    kvbm_sched_seq *s[NSEQ];
    int             st[NSEQ];
    kvbm_token      prompt[NSEQ][96];
    size_t          plen[NSEQ], maxout[NSEQ];
    uint64_t        rng;
    uint8_t        *mark; /* per block id: 0 free, 1 queued/staged, 2+ registered holders */
    size_t          preemptions, aborts, reverts, finished, steps;
} sim;

static uint64_t rnd(sim *x, uint64_t n) { return tm_rand_below(&x->rng, n); }

/* The accounting check (see the file comment). Returns false after recording a failure. */
static bool account(sim *x, const char *where)
{
    memset(x->mark, 0, NBLK);
    size_t distinct = 0, ndup = 0, nprim = 0;
    kvbm_plh dup[NBLK], prim[NBLK];
    for (int i = 0; i < NSEQ; i++) {
        if (x->s[i] == NULL) continue;
        const kvbm_logical_asg *a = kvbm_request_seq_assignments(kvbm_sched_seq_request(x->s[i]));
        uint32_t id;
        kvbm_block *b;
        for (size_t k = 0; kvbm_logical_asg_get_assigned(a, k, &id, &b); k++) {
            if (id >= NBLK || x->mark[id] == 1 || kvbm_block_id(b) != id) goto bad;
            if (x->mark[id] == 0) {
                if (kvbm_block_is_duplicate(b)) dup[ndup++] = kvbm_block_seq_hash(b);
                else prim[nprim++] = kvbm_block_seq_hash(b);
            }
            if (x->mark[id] == 0) distinct++;
            x->mark[id] = x->mark[id] ? x->mark[id] + 1 : 2;
        }
        for (int q = 0; q < 2; q++)
            for (size_t k = 0; q ? kvbm_logical_asg_get_staged(a, k, &id, NULL)
                                 : kvbm_logical_asg_get_unassigned(a, k, &id, NULL);
                 k++) {
                if (id >= NBLK || x->mark[id] != 0) goto bad;
                x->mark[id] = 1;
                distinct++;
            }
    }
    /* primaries held only through duplicates: distinct duplicate hashes with no held primary */
    size_t hidden = 0;
    for (size_t i = 0; i < ndup; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) seen = kvbm_plh_eq(dup[j], dup[i]);
        for (size_t j = 0; j < nprim && !seen; j++) seen = kvbm_plh_eq(prim[j], dup[i]);
        hidden += !seen;
    }
    uint64_t avail = kvbm_manager_available_blocks(x->m);
    if (avail != NBLK - distinct - hidden ||
        kvbm_manager_reset_len(x->m) + kvbm_manager_inactive_len(x->m) != avail) {
        kvbm_test_fail(__FILE__, __LINE__, "%s step %zu: held %zu (+%zu via duplicates), available %llu, "
                       "total %u", where, x->steps, distinct, hidden, (unsigned long long)avail, NBLK);
        return false;
    }
    if (kvbm_manager_check_invariants(x->m) != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "%s: invariants: %s", where, kvbm_last_error());
        return false;
    }
    return true;
bad:
    kvbm_test_fail(__FILE__, __LINE__, "%s step %zu: a block is held twice or unknown", where, x->steps);
    return false;
}

static bool preempt_one(sim *x, int except)
{
    int start = (int)rnd(x, NSEQ);
    for (int k = 0; k < NSEQ; k++) {
        int j = (start + k) % NSEQ;
        if (j == except || x->st[j] != RUNNING) continue;
        if (kvbm_sched_seq_state(x->s[j]).kind != KVBM_SCHED_IDLE) continue;
        if (kvbm_sched_seq_release(x->s[j], NULL) != KVBM_OK) return false;
        x->st[j] = PREEMPTED;
        x->preemptions++;
        return true;
    }
    return false;
}

/* Schedule one step for sequence i; returns whether it is now scheduled. */
static bool schedule(sim *x, int i)
{
    kvbm_sched_seq *s = x->s[i];
    kvbm_sched_seq_info in = sinfo(s);
    for (int attempt = 0; attempt < 2; attempt++) {
        kvbm_status st;
        if (!in.is_prefill_complete) {
            size_t left = in.num_input - in.prefill_position;
            st = kvbm_sched_seq_schedule_prefill(s, 1 + rnd(x, left), x->m, NULL);
        } else if (in.is_complete) {
            return false;
        } else if (in.tail_tokens == 0) { /* H4: the whole prompt was a cache hit */
            kvbm_token t = (kvbm_token)rnd(x, 50000);
            if (kvbm_sched_seq_append_tokens(s, &t, 1, NULL) != KVBM_OK) return false;
            in = sinfo(s);
            continue;
        } else if (rnd(x, 3) == 0) {
            st = kvbm_sched_seq_schedule_speculative(s, 1 + rnd(x, 6), x->m, NULL);
        } else {
            st = kvbm_sched_seq_schedule_decode(s, x->m, NULL);
        }
        if (st == KVBM_OK) return true;
        if (st != KVBM_EEXHAUSTED) {
            kvbm_test_fail(__FILE__, __LINE__, "schedule: %s", kvbm_last_error());
            return false;
        }
        if (!preempt_one(x, i)) return false;
    }
    return false;
}

static void apply(sim *x, int i)
{
    kvbm_sched_seq *s = x->s[i];
    kvbm_sched_state st = kvbm_sched_seq_state(s);
    kvbm_sched_seq_info in = sinfo(s);
    kvbm_token tok = (kvbm_token)rnd(x, 50000), acc[8];
    kvbm_status rc = KVBM_OK;
    if (st.kind == KVBM_SCHED_PREFILL) {
        bool final = in.prefill_position + st.num_tokens >= in.num_input;
        rc = kvbm_sched_seq_apply_prefill(s, final && in.max_output > 0 ? &tok : NULL, x->m, NULL);
    } else if (st.kind == KVBM_SCHED_DECODE) {
        rc = kvbm_sched_seq_apply_decode(s, tok, x->m, NULL, NULL);
    } else if (st.kind == KVBM_SCHED_SPECULATIVE) {
        size_t n = rnd(x, st.num_tokens + 1);
        for (size_t k = 0; k < n; k++) acc[k] = (kvbm_token)rnd(x, 50000);
        rc = kvbm_sched_seq_apply_speculative(s, acc, n, x->m, NULL, NULL);
    }
    if (rc != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "apply: %s", kvbm_last_error());
}

static void admit(sim *x, int i)
{
    kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&c, x->prompt[i], x->plen[i]);
    kvbm_sched_seq_config_set_max_output(&c, x->maxout[i]);
    kvbm_sched_seq_config_set_block_size(&c, BS);
    c.manager = x->m;
    if (kvbm_sched_seq_create(&c, &x->s[i], NULL) != KVBM_OK ||
        kvbm_sched_seq_match_prefix(x->s[i], x->m, NULL, NULL) != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "admit: %s", kvbm_last_error());
        return;
    }
    x->st[i] = RUNNING;
}

static void finish(sim *x, int i)
{
    kvbm_sched_seq_destroy(x->s[i]);
    x->s[i] = NULL;
    x->st[i] = DONE;
}

static void run_sim(uint64_t seed)
{
    static sim x;
    memset(&x, 0, sizeof x);
    printf("    seeded_scheduler_simulation seed %llu\n", (unsigned long long)seed);
    x.rng = seed;
    tm_opts o = TM_OPTS_INIT(NBLK);
    o.backend = (kvbm_backend)(seed % 4); /* Lineage, LRU, MultiLRU, HashMap */
    x.m = tm_manager_create(&o);
    ASSERT_TRUE(x.m != NULL);
    tm_auto_check(false);
    x.mark = malloc(NBLK);
    kvbm_token prefixes[4][32];
    for (int p = 0; p < 4; p++)
        for (int k = 0; k < 32; k++) prefixes[p][k] = (kvbm_token)rnd(&x, 50000);
    for (int i = 0; i < NSEQ; i++) {
        x.plen[i] = 4 + rnd(&x, 88);
        x.maxout[i] = rnd(&x, 40);
        size_t shared = rnd(&x, 2) ? rnd(&x, 33) : 0;
        const kvbm_token *pre = prefixes[rnd(&x, 4)];
        for (size_t k = 0; k < x.plen[i]; k++)
            x.prompt[i][k] = k < shared ? pre[k] : (kvbm_token)rnd(&x, 50000);
    }
    size_t max_steps = test_under_sanitizer() ? 1500 : 4000;
    while (x.steps < max_steps) {
        x.steps++;
        int done = 0;
        for (int i = 0; i < NSEQ; i++) done += x.st[i] == DONE;
        if (done == NSEQ) break;
        /* admit and resume */
        for (int k = 0; k < 3; k++) {
            int i = (int)rnd(&x, NSEQ);
            if (x.st[i] == WAITING) admit(&x, i);
            else if (x.st[i] == PREEMPTED) {
                bool ok = false;
                ASSERT_OK(kvbm_sched_seq_reacquire(x.s[i], x.m, &ok, NULL));
                if (ok) x.st[i] = RUNNING;
            }
        }
        ASSERT_TRUE(account(&x, "admit"));
        /* schedule a batch */
        bool sched[NSEQ] = { false };
        for (int i = 0; i < NSEQ; i++)
            if (x.st[i] == RUNNING) sched[i] = schedule(&x, i);
        ASSERT_TRUE(account(&x, "schedule"));
        if (rnd(&x, 20) == 0) { /* the batch is cancelled */
            for (int i = 0; i < NSEQ; i++)
                if (sched[i]) ASSERT_OK(kvbm_sched_seq_revert(x.s[i], NULL));
            x.reverts++;
        } else {
            for (int i = 0; i < NSEQ; i++)
                if (sched[i] && x.st[i] == RUNNING) apply(&x, i);
        }
        ASSERT_TRUE(account(&x, "apply"));
        /* finished and aborted requests leave; some waiting ones give up */
        for (int i = 0; i < NSEQ; i++) {
            if (x.s[i] == NULL) continue;
            kvbm_sched_seq_info in = sinfo(x.s[i]);
            if (in.state.kind != KVBM_SCHED_IDLE) continue;
            if (x.st[i] == RUNNING && in.is_prefill_complete && in.is_complete) {
                finish(&x, i);
                x.finished++;
            } else if (rnd(&x, 400) == 0) {
                finish(&x, i);
                x.aborts++;
            }
        }
        ASSERT_TRUE(account(&x, "finish"));
    }
    for (int i = 0; i < NSEQ; i++)
        if (x.s[i]) finish(&x, i);
    ASSERT_TRUE(account(&x, "end"));
    EXPECT_EQ(kvbm_manager_available_blocks(x.m), NBLK);
    EXPECT_EQ(kvbm_manager_reset_len(x.m) + kvbm_manager_inactive_len(x.m), NBLK);
    EXPECT_GT(x.finished, NSEQ / 4);
    EXPECT_GT(x.preemptions, 0);
    printf("    %zu steps, %zu finished, %zu aborted, %zu preemptions, %zu reverted batches\n", x.steps,
           x.finished, x.aborts, x.preemptions, x.reverts);
    free(x.mark);
    tm_auto_check(true);
    tm_manager_destroy(x.m);
}

/* Eight runs (seed, seed + 1, ...): every backend twice. */
KVBM_TEST(seeded_scheduler_simulation)
{
    uint64_t seed = test_seed();
    for (uint64_t r = 0; r < 8 && !kvbm_test_failed_flag; r++) run_sim(seed + r);
}
