/* tests/integrations/test_sequence_concurrent.c - the thread-safety contract of spec 30 §6.6:
 * sequences are single-owner, the manager and one delegate are shared by threads. Each
 * thread drives its own SchedulableSequences (prefill, decode, speculative, revert,
 * release/reacquire) on one manager; every sequence reports to one shared delegate, which
 * itself calls into the manager (available_blocks, check_invariants take the store lock: a
 * delegate run under a kvbm lock would deadlock or trip the lock-rank checker). */
#include <pthread.h>
#include <stdatomic.h>

#include "support/seq_helpers.h"

#define THREADS 4
#define PER     8

typedef struct shared_sink {
    atomic_ulong events, created, released, manager_calls;
    kvbm_manager *m;
} shared_sink;

static void sink_on_event(void *user, const kvbm_seq_event *ev)
{
    shared_sink *k = user;
    atomic_fetch_add(&k->events, 1);
    if (ev->kind == KVBM_SEQ_EV_CREATED) atomic_fetch_add(&k->created, 1);
    if (ev->kind == KVBM_SEQ_EV_RELEASED) atomic_fetch_add(&k->released, 1);
    if (ev->kind == KVBM_SEQ_EV_DECODE_APPLIED || ev->kind == KVBM_SEQ_EV_PREFILL_APPLIED) {
        (void)kvbm_manager_available_blocks(k->m); /* the store lock must be free here */
        atomic_fetch_add(&k->manager_calls, 1);
    }
}

typedef struct worker { shared_sink *sink; int id; int failures; } worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    kvbm_manager *m = w->sink->m;
    uint64_t rng = (uint64_t)w->id * 7919 + 1;
    for (int round = 0; round < 20; round++) {
        kvbm_sched_seq *s[PER];
        for (int i = 0; i < PER; i++) {
            kvbm_token t[24];
            for (int k = 0; k < 24; k++) t[k] = (kvbm_token)(k < 8 ? k : w->id * 1000 + round * 50 + i * 3 + k);
            kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
            kvbm_sched_seq_config_set_tokens(&c, t, 24);
            kvbm_sched_seq_config_set_max_output(&c, 12);
            kvbm_sched_seq_config_set_block_size(&c, 4);
            c.delegate.on_event = sink_on_event;
            c.delegate.user = w->sink;
            c.manager = m;
            if (kvbm_sched_seq_create(&c, &s[i], NULL) != KVBM_OK) { w->failures++; return NULL; }
            if (kvbm_sched_seq_match_prefix(s[i], m, NULL, NULL) != KVBM_OK) w->failures++;
        }
        for (int step = 0; step < 30; step++) {
            for (int i = 0; i < PER; i++) {
                kvbm_sched_seq_info in = sinfo(s[i]);
                kvbm_status st;
                if (!in.is_prefill_complete)
                    st = kvbm_sched_seq_schedule_prefill(s[i], in.num_input - in.prefill_position, m, NULL);
                else if (in.is_complete)
                    continue;
                else if (in.tail_tokens == 0)
                    st = kvbm_sched_seq_append_tokens(s[i], &T1000, 1, NULL);
                else if (tm_rand_below(&rng, 3) == 0)
                    st = kvbm_sched_seq_schedule_speculative(s[i], 3, m, NULL);
                else
                    st = kvbm_sched_seq_schedule_decode(s[i], m, NULL);
                if (st == KVBM_EEXHAUSTED) continue;
                if (st != KVBM_OK) { w->failures++; continue; }
                kvbm_sched_state ss = kvbm_sched_seq_state(s[i]);
                kvbm_token acc[2] = { 5, 6 };
                if (ss.kind == KVBM_SCHED_IDLE) continue;
                if (tm_rand_below(&rng, 10) == 0) st = kvbm_sched_seq_revert(s[i], NULL);
                else if (ss.kind == KVBM_SCHED_PREFILL) st = kvbm_sched_seq_apply_prefill(s[i], &T1000, m, NULL);
                else if (ss.kind == KVBM_SCHED_DECODE) st = kvbm_sched_seq_apply_decode(s[i], 7, m, NULL, NULL);
                else st = kvbm_sched_seq_apply_speculative(s[i], acc, ss.num_tokens < 2 ? ss.num_tokens : 2, m, NULL, NULL);
                if (st != KVBM_OK) w->failures++;
                if (tm_rand_below(&rng, 15) == 0) { /* preempt and resume */
                    bool ok;
                    if (kvbm_sched_seq_release(s[i], NULL) != KVBM_OK ||
                        kvbm_sched_seq_reacquire(s[i], m, &ok, NULL) != KVBM_OK)
                        w->failures++;
                }
            }
        }
        for (int i = 0; i < PER; i++) {
            if (kvbm_sched_seq_state(s[i]).kind != KVBM_SCHED_IDLE && kvbm_sched_seq_revert(s[i], NULL) != KVBM_OK)
                w->failures++;
            if (kvbm_sched_seq_release(s[i], NULL) != KVBM_OK) w->failures++;
            kvbm_sched_seq_destroy(s[i]);
        }
    }
    return NULL;
}

KVBM_TEST(shared_manager_and_delegate_across_threads)
{
    shared_sink sink = { 0 };
    sink.m = create_test_manager(THREADS * PER * 4);
    ASSERT_TRUE(sink.m != NULL);
    tm_auto_check(false);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ &sink, i, 0 };
        ASSERT_EQ(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    tm_auto_check(true);
    for (int i = 0; i < THREADS; i++) EXPECT_EQ(w[i].failures, 0);
    EXPECT_EQ(atomic_load(&sink.created), THREADS * 20 * PER);
    EXPECT_GE(atomic_load(&sink.released), THREADS * 20 * PER);
    EXPECT_GT(atomic_load(&sink.manager_calls), 0);
    EXPECT_EQ(kvbm_manager_available_blocks(sink.m), THREADS * PER * 4);
    CHECK_INVARIANTS(sink.m);
    tm_manager_destroy(sink.m);
}
