/* tests/ext/vllm/test_sub_catchup.c - the ingress subscriber's catch-up after a connect
 * (docs/design/vllm_sub.md "Catch-up after a connect"): batches an engine sends before the
 * subscription reaches its PUB, followed by silence, are recovered through the replay
 * socket - at start-up and after a reconnect - each delivered once, in order. The engine
 * stand-in (tests/support/vllm_fake_pub.h) makes the PUB's drops deterministic: such
 * batches are recorded for replay but never sent live. */
#include "harness.h"
#include "sub_test.h"

/* Nothing more arrives within 300 ms: no duplicate, no stray batch. */
static bool quiet_after(kvbm_vllm_sub *s)
{
    kvbm_vllm_sub_msg m;
    return fpub_recv_seq(s, 300, &m) == KVBM_ETIMEDOUT;
}

/* Hole (a), start-up: a subscriber resuming at 0 gets 0..K-1 from its start-up replay; the
 * engine then sends M more before the subscription is active (dropped by the PUB) and goes
 * silent. Before the catch-up those M were never seen missing. */
KVBM_TEST(vllm_sub_catchup_startup_trailing_batches)
{
    enum { K = 5, M = 7 };
    fpub f;
    ASSERT_TRUE(fpub_start(&f, true, NULL));
    for (int i = 0; i < K; i++) fpub_send_n(&f, false); /* nobody subscribed: dropped */
    fpub_hold(&f); /* the next M: sent after the start-up replay answer, dropped by the PUB */
    for (int i = 0; i < M; i++) fpub_send_n(&f, true);
    kvbm_vllm_sub *s = sub_open(&f, true, 0, true, 0);
    ASSERT_TRUE(s != NULL);
    EXPECT_EQ(expect_run(s, 0, K + M), K + M);
    EXPECT_TRUE(quiet_after(s));
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    /* no live message at all: every count is exact */
    EXPECT_EQ_U64(st.batches, K + M);
    EXPECT_EQ_U64(st.recovered, K + M);
    EXPECT_EQ_U64(st.duplicates, 0);
    EXPECT_EQ_U64(st.gaps, 0);
    EXPECT_EQ_U64(st.unrecoverable, 0);
    EXPECT_EQ_U64(st.next_seq, K + M);
    EXPECT_GE(st.catchups, 1);
    EXPECT_GE(st.replays, 2); /* the start-up replay and at least one catch-up */
    EXPECT_GE(atomic_load(&f.replays), 2u);
    /* the engine speaks again: delivered once, live or by the catch-up still running */
    fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, K + M, 1), 1);
    EXPECT_TRUE(quiet_after(s));
    teardown(&f, s);
}

/* The race itself, not staged: an engine sends N batches right after the subscriber is
 * created and then nothing. Whatever the PUB dropped, all N arrive exactly once, in
 * order (the counts of live vs recovered vary from run to run; the invariant does not). */
KVBM_TEST(vllm_sub_catchup_startup_race_delivers_all_once)
{
    enum { N = 40, ROUNDS = 4 };
    for (int r = 0; r < ROUNDS; r++) {
        fpub f;
        ASSERT_TRUE(fpub_start(&f, true, NULL));
        kvbm_vllm_sub *s = sub_open(&f, true, 0, true, 0);
        ASSERT_TRUE(s != NULL);
        for (int i = 0; i < N; i++) fpub_send_n(&f, false);
        EXPECT_EQ(expect_run(s, 0, N), N);
        EXPECT_TRUE(quiet_after(s));
        kvbm_vllm_sub_stats st;
        ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
        EXPECT_EQ_U64(st.batches, N);
        EXPECT_EQ_U64(st.unrecoverable, 0);
        EXPECT_EQ_U64(st.next_seq, N);
        teardown(&f, s);
    }
}

/* Hole (b), reconnect: the engine's PUB goes away (the subscriber sees the disconnect),
 * the engine sends batches while nobody can receive them, the PUB comes back on the same
 * port and the engine stays silent. The catch-up after the reconnect recovers them. */
KVBM_TEST(vllm_sub_catchup_after_reconnect)
{
    enum { AWAY = 7 };
    fpub f;
    kvbm_vllm_sub *s = setup(&f, true, 0);
    ASSERT_TRUE(s != NULL);
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    uint64_t b0 = st.batches; /* the sync messages of setup */
    for (int i = 0; i < 3; i++) fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, 0, 3), 3);
    fpub_pub_down(&f);
    FPUB_WAIT_STATS(s, st, st.disconnects >= 1);
    ASSERT_EQ_U64(st.disconnects, 1);
    for (int i = 0; i < AWAY; i++) fpub_send_n(&f, false); /* PUB down: recorded only */
    ASSERT_TRUE(fpub_pub_up(&f));
    EXPECT_EQ(expect_run(s, 3, AWAY), AWAY);
    EXPECT_TRUE(quiet_after(s));
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.recovered, AWAY);
    EXPECT_EQ_U64(st.batches - b0, 3 + AWAY);
    EXPECT_EQ_U64(st.duplicates, 0);
    EXPECT_EQ_U64(st.gaps, 0);
    EXPECT_EQ_U64(st.unrecoverable, 0);
    EXPECT_EQ_U64(st.restarts, 0);
    EXPECT_GE(st.connects, 2);
    EXPECT_GE(st.catchups, 1);
    /* and the stream goes on: one more batch, delivered once */
    fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, 3 + AWAY, 1), 1);
    EXPECT_TRUE(quiet_after(s));
    teardown(&f, s);
}

/* The catch-up runs while no live message has arrived since the connect, and stops at the
 * first one. (A correct subscriber passes whatever the timing: it never replays again.) */
KVBM_TEST(vllm_sub_catchup_stops_at_first_live_message)
{
    fpub f;
    ASSERT_TRUE(fpub_start(&f, true, NULL));
    kvbm_vllm_sub *s = sub_open(&f, true, 0, true, 0);
    ASSERT_TRUE(s != NULL);
    kvbm_vllm_sub_stats st;
    FPUB_WAIT_STATS(s, st, st.catchups >= 2);
    ASSERT_GE(st.catchups, 2);
    ASSERT_TRUE(fpub_sync(&f, s)); /* a live message: the subscription is active */
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    uint64_t c0 = st.catchups;
    usleep(1500000); /* longer than the next few catch-up intervals (400, 800 ms) */
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.catchups, c0);
    EXPECT_EQ_U64(st.replays, c0 + 1);
    EXPECT_EQ_U64(st.recovered, 0);
    EXPECT_EQ_U64(st.replay_failures, 0);
    teardown(&f, s);
}

/* A replay socket that never answers: the catch-up fails (counted), the live stream is
 * still followed, and destroy stays prompt. */
KVBM_TEST(vllm_sub_catchup_dead_replay_socket_is_not_fatal)
{
    fpub f, dead;
    kvbm_vllm_sub *s = setup_dead_replay(&f, &dead, 100, true);
    ASSERT_TRUE(s != NULL);
    kvbm_vllm_sub_stats st;
    FPUB_WAIT_STATS(s, st, st.catchups >= 2);
    ASSERT_GE(st.catchups, 2);
    EXPECT_TRUE(fpub_sync(&f, s));
    fpub_send_n(&f, false); /* 0: expected */
    fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, 0, 2), 2);
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.replay_failures, st.replays); /* the start-up replay and every catch-up */
    EXPECT_EQ_U64(st.gaps, 0);
    EXPECT_EQ_U64(st.unrecoverable, 0);
    kvbm_vllm_sub_destroy(s);
    fpub_stop(&dead);
    fpub_stop(&f);
}
