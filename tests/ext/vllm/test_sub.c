/* tests/ext/vllm/test_sub.c - the vLLM ingress subscriber (kvbm/vllm_sub.h) against a raw
 * libzmq engine stand-in (tests/support/vllm_fake_pub.h): frames, gaps, replay recovery, resume, unrecoverable
 * gaps, bounded queue, reconnect. The catch-up after a connect: test_sub_catchup.c. */
#include "harness.h"
#include "sub_test.h"

KVBM_TEST(vllm_sub_config_errors)
{
    kvbm_vllm_sub *s = NULL;
    kvbm_vllm_sub_config c = KVBM_VLLM_SUB_CONFIG_INIT;
    EXPECT_STATUS(kvbm_vllm_sub_create(NULL, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_sub_create(&c, &s), KVBM_EINVAL);
    c.endpoint = "udp://127.0.0.1:5557";
    EXPECT_STATUS(kvbm_vllm_sub_create(&c, &s), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "udp://127.0.0.1:5557");
    c.endpoint = "tcp://127.0.0.1:5557";
    c.replay_endpoint = "tcp://127.0.0.1";
    EXPECT_STATUS(kvbm_vllm_sub_create(&c, &s), KVBM_EINVAL);
    c.replay_endpoint = NULL;
    c.resume = true;
    EXPECT_STATUS(kvbm_vllm_sub_create(&c, &s), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "replay endpoint");
    EXPECT_TRUE(s == NULL);
    kvbm_vllm_sub_stats st;
    EXPECT_STATUS(kvbm_vllm_sub_get_stats(NULL, &st), KVBM_EINVAL);
    kvbm_vllm_sub_destroy(NULL);
}

/* A peer that is not there is not an error; recv times out. */
KVBM_TEST(vllm_sub_no_peer_times_out)
{
    fpub f;
    ASSERT_TRUE(fpub_start(&f, false, NULL));
    char ep[64];
    snprintf(ep, sizeof ep, "%s", f.pub_ep);
    fpub_stop(&f); /* the port is free again */
    kvbm_vllm_sub_config c = KVBM_VLLM_SUB_CONFIG_INIT;
    c.endpoint = ep;
    kvbm_vllm_sub *s = NULL;
    ASSERT_OK(kvbm_vllm_sub_create(&c, &s));
    kvbm_vllm_sub_msg m;
    EXPECT_STATUS(kvbm_vllm_sub_recv(s, 50, &m), KVBM_ETIMEDOUT);
    EXPECT_STATUS(kvbm_vllm_sub_recv(s, 0, &m), KVBM_ETIMEDOUT);
    EXPECT_STR_EQ(kvbm_vllm_sub_name(s), ep);
    kvbm_vllm_sub_destroy(s);
}

/* §5.5 zmq_multipart_parsing: 2 and 3 frames accepted, 1 and 4 dropped and counted;
 * payloads that are not msgpack reach the consumer untouched (it decodes). */
KVBM_TEST(vllm_sub_frames_2_3_accepted_1_4_dropped)
{
    fpub f;
    kvbm_vllm_sub *s = setup(&f, false, 0);
    ASSERT_TRUE(s != NULL);
    fpub_frames(&f, 1, "one");
    fpub_frames(&f, 2, "two");
    fpub_frames(&f, 4, "four");
    fpub_send(&f, "\xc1garbage", 8, false); /* 3 frames, seq 0 */
    fpub_frames(&f, 2, "end");
    kvbm_vllm_sub_msg m;
    ASSERT_OK(kvbm_vllm_sub_recv(s, 5000, &m));
    EXPECT_FALSE(m.has_seq);
    EXPECT_TRUE(m.len == 3 && !memcmp(m.payload, "two", 3));
    ASSERT_OK(kvbm_vllm_sub_recv(s, 5000, &m));
    EXPECT_TRUE(m.has_seq);
    EXPECT_EQ_U64(m.seq, 0);
    EXPECT_TRUE(m.len == 8 && !memcmp(m.payload, "\xc1garbage", 8));
    ASSERT_OK(kvbm_vllm_sub_recv(s, 5000, &m));
    EXPECT_TRUE(m.len == 3 && !memcmp(m.payload, "end", 3));
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.frame_errors, 2);
    EXPECT_EQ_U64(st.gaps, 0);
    EXPECT_TRUE(st.has_next_seq);
    EXPECT_EQ_U64(st.next_seq, 1);
    teardown(&f, s);
}

KVBM_TEST(vllm_sub_seq_be_short_frames)
{
    /* §4.3.1: read big-endian from up to 8 bytes */
    fpub f;
    kvbm_vllm_sub *s = setup(&f, false, 0);
    ASSERT_TRUE(s != NULL);
    zmq_send(f.pub, "", 0, ZMQ_SNDMORE);
    zmq_send(f.pub, "\x01\x02", 2, ZMQ_SNDMORE);
    zmq_send(f.pub, "p", 1, 0);
    kvbm_vllm_sub_msg m;
    ASSERT_OK(kvbm_vllm_sub_recv(s, 5000, &m));
    EXPECT_TRUE(m.has_seq);
    EXPECT_EQ_U64(m.seq, 0x0102);
    teardown(&f, s);
}

/* A gap recovered through the replay socket: nothing lost, nothing duplicated. */
KVBM_TEST(vllm_sub_gap_recovered_by_replay)
{
    fpub f;
    kvbm_vllm_sub *s = setup(&f, true, 0);
    ASSERT_TRUE(s != NULL);
    fpub_send_n(&f, false);               /* 0 */
    fpub_send_n(&f, false);               /* 1 */
    for (int i = 0; i < 3; i++) fpub_send_n(&f, true); /* 2..4: lost on the live stream */
    fpub_send_n(&f, false);               /* 5: reveals the gap */
    fpub_send_n(&f, false);               /* 6 */
    EXPECT_EQ(expect_run(s, 0, 7), 7);
    kvbm_vllm_sub_msg m;
    EXPECT_STATUS(kvbm_vllm_sub_recv(s, 200, &m), KVBM_ETIMEDOUT); /* no duplicates */
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.gaps, 1);
    /* 2..4, plus 5 (and maybe 6) because the replay answers up to the newest batch; each
     * of those has a live copy that was skipped */
    EXPECT_TRUE(st.recovered >= 4);
    EXPECT_EQ_U64(st.duplicates, st.recovered - 3);
    EXPECT_EQ_U64(st.unrecoverable, 0);
    EXPECT_EQ_U64(st.unrecoverable_gaps, 0);
    EXPECT_GE(atomic_load(&f.replays), 1u);
    /* no resume: no start to catch up from before the first live batch, which ends it */
    EXPECT_EQ_U64(st.catchups, 0);
    EXPECT_EQ_U64(st.replays, 1);
    teardown(&f, s);
}

/* A subscriber stops; the engine sends N batches; a new subscriber resuming at the next
 * number recovers them through the replay socket, then follows the live stream. */
KVBM_TEST(vllm_sub_restart_resumes_through_replay)
{
    fpub f;
    kvbm_vllm_sub *s = setup(&f, true, 0);
    ASSERT_TRUE(s != NULL);
    for (int i = 0; i < 5; i++) fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, 0, 5), 5);
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.next_seq, 5);
    uint64_t resume_at = st.next_seq;
    kvbm_vllm_sub_destroy(s);

    enum { N = 40 };
    for (int i = 0; i < N; i++) fpub_send_n(&f, false); /* nobody listens */
    s = sub_open(&f, true, 0, true, resume_at);
    ASSERT_TRUE(s != NULL);
    EXPECT_EQ(expect_run(s, 5, N), N);
    EXPECT_TRUE(fpub_sync(&f, s));
    fpub_send_n(&f, false);
    fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, 5 + N, 2), 2);
    kvbm_vllm_sub_msg m;
    EXPECT_STATUS(kvbm_vllm_sub_recv(s, 200, &m), KVBM_ETIMEDOUT);
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.recovered, N);
    EXPECT_EQ_U64(st.unrecoverable, 0);
    EXPECT_EQ_U64(st.next_seq, 5 + N + 2);
    teardown(&f, s);
}

/* Without a replay socket a gap is unrecoverable: counted, the stream continues. */
KVBM_TEST(vllm_sub_gap_unrecoverable_without_replay)
{
    fpub f;
    kvbm_vllm_sub *s = setup(&f, false, 0);
    ASSERT_TRUE(s != NULL);
    fpub_send_n(&f, false);  /* 0 */
    fpub_send_n(&f, true);   /* 1 lost */
    fpub_send_n(&f, true);   /* 2 lost */
    fpub_send_n(&f, false);  /* 3 */
    EXPECT_EQ(expect_run(s, 0, 1), 1);
    EXPECT_EQ(expect_run(s, 3, 1), 1);
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.gaps, 1);
    EXPECT_EQ_U64(st.unrecoverable_gaps, 1);
    EXPECT_EQ_U64(st.unrecoverable, 2);
    EXPECT_EQ_U64(st.recovered, 0);
    teardown(&f, s);
}

/* The engine's replay buffer no longer holds the start of the gap: what it has is
 * recovered, the rest counted as lost. */
KVBM_TEST(vllm_sub_gap_partly_evicted_from_replay_buffer)
{
    fpub f;
    kvbm_vllm_sub *s = setup(&f, true, 0);
    ASSERT_TRUE(s != NULL);
    fpub_send_n(&f, false);                            /* 0 */
    for (int i = 0; i < 4; i++) fpub_send_n(&f, true); /* 1..4 withheld */
    fpub_forget(&f, 3);                                /* 1, 2 evicted */
    fpub_send_n(&f, false);                            /* 5 */
    EXPECT_EQ(expect_run(s, 0, 1), 1);
    EXPECT_EQ(expect_run(s, 3, 3), 3);
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.gaps, 1);
    EXPECT_EQ_U64(st.unrecoverable, 2);
    EXPECT_EQ_U64(st.recovered, 3); /* 3, 4 and 5 */
    teardown(&f, s);
}

/* A replay socket that does not answer: the gap is counted as unrecoverable. */
KVBM_TEST(vllm_sub_replay_silent_counts_unrecoverable)
{
    fpub f, dead;
    kvbm_vllm_sub *s = setup_dead_replay(&f, &dead, 200, false);
    ASSERT_TRUE(s != NULL);
    EXPECT_TRUE(fpub_sync(&f, s));
    fpub_send_n(&f, false);
    fpub_send_n(&f, true);
    fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, 0, 1), 1);
    EXPECT_EQ(expect_run(s, 2, 1), 1);
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.replay_failures, 1);
    EXPECT_EQ_U64(st.unrecoverable, 1);
    EXPECT_EQ_U64(st.unrecoverable_gaps, 1);
    kvbm_vllm_sub_destroy(s);
    fpub_stop(&dead);
    fpub_stop(&f);
}

/* A flooding source fills the bounded queue: the newest batches are dropped and counted,
 * memory stays bounded, the consumer then gets the oldest ones in order. */
KVBM_TEST(vllm_sub_flood_bounded)
{
    fpub f;
    kvbm_vllm_sub *s = setup(&f, false, 8);
    ASSERT_TRUE(s != NULL);
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    ASSERT_EQ_U64(st.queued, 0);
    uint64_t b0 = st.batches;
    enum { N = 1000 };
    for (int i = 0; i < N; i++) fpub_send_n(&f, false);
    FPUB_WAIT_STATS(s, st, st.batches - b0 + st.dropped >= N);
    EXPECT_EQ_U64(st.batches - b0, 8);
    EXPECT_EQ_U64(st.dropped, N - 8);
    EXPECT_EQ_U64(st.queued, 8);
    EXPECT_EQ(expect_run(s, 0, 8), 8);
    teardown(&f, s);
}

/* The engine goes away and comes back on the same port: the disconnect is counted (and
 * logged), ZeroMQ reconnects, the restarted engine's sequence (from 0 again) is followed. */
KVBM_TEST(vllm_sub_engine_restart_reconnects)
{
    fpub f;
    ASSERT_TRUE(fpub_start(&f, false, NULL));
    char ep[64];
    snprintf(ep, sizeof ep, "%s", f.pub_ep);
    kvbm_vllm_sub *s = sub_open(&f, false, 0, false, 0);
    ASSERT_TRUE(s != NULL);
    EXPECT_TRUE(fpub_sync(&f, s));
    for (int i = 0; i < 3; i++) fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, 0, 3), 3);
    fpub_stop(&f);
    kvbm_vllm_sub_stats st;
    FPUB_WAIT_STATS(s, st, st.disconnects >= 1);
    EXPECT_EQ_U64(st.disconnects, 1);
    ASSERT_TRUE(fpub_start(&f, false, ep));
    EXPECT_TRUE(fpub_sync(&f, s));
    fpub_send_n(&f, false); /* seq 0 again */
    fpub_send_n(&f, false);
    EXPECT_EQ(expect_run(s, 0, 2), 2);
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.restarts, 1);
    EXPECT_EQ_U64(st.gaps, 0);
    EXPECT_GE(st.connects, 2);
    EXPECT_EQ_U64(st.catchups, 0); /* no replay endpoint */
    EXPECT_EQ_U64(st.replays, 0);
    teardown(&f, s);
}

/* §5.5 malformed_msgpack_is_logged_not_fatal: garbage is counted and skipped, the batches
 * around it decode (the §4.4 fixture payloads). */
KVBM_TEST(vllm_sub_recv_batch_skips_garbage)
{
    static const char *fixture[] = {
        "93cb408f4000000000009195ab426c6f636b53746f7265649101c0940a141e280400",
        "93cb409f4000000000009195ab426c6f636b53746f72656491020194323c46500400",
    };
    uint8_t p[2][64];
    size_t pl[2];
    for (int i = 0; i < 2; i++) {
        pl[i] = strlen(fixture[i]) / 2;
        for (size_t k = 0; k < pl[i]; k++) sscanf(fixture[i] + 2 * k, "%2hhx", &p[i][k]);
    }
    fpub f;
    kvbm_vllm_sub *s = setup(&f, false, 0);
    ASSERT_TRUE(s != NULL);
    fpub_send(&f, p[0], pl[0], false);
    fpub_send(&f, "\xc1\xc1 not msgpack", 14, false);
    fpub_send(&f, "\x93", 1, false); /* truncated */
    fpub_send(&f, p[1], pl[1], false);
    kvbm_vllm_batch b;
    kvbm_vllm_sub_msg m;
    ASSERT_OK(kvbm_vllm_sub_recv_batch(s, 5000, NULL, &b, &m));
    EXPECT_EQ_U64(m.seq, 0);
    ASSERT_EQ(b.n_events, 1);
    EXPECT_EQ(b.events[0].type, KVBM_VLLM_BLOCK_STORED);
    EXPECT_EQ_U64(b.events[0].block_hashes[0], 1);
    EXPECT_FALSE(b.events[0].has_parent);
    ASSERT_OK(kvbm_vllm_sub_recv_batch(s, 5000, NULL, &b, &m));
    EXPECT_EQ_U64(m.seq, 3);
    ASSERT_EQ(b.n_events, 1);
    EXPECT_EQ_U64(b.events[0].block_hashes[0], 2);
    EXPECT_EQ_U64(b.events[0].parent_block_hash, 1);
    EXPECT_EQ(b.events[0].n_token_ids, 4);
    EXPECT_EQ(b.events[0].token_ids[3], 80);
    kvbm_vllm_sub_stats st;
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.decode_errors, 2);
    EXPECT_EQ_U64(st.gaps, 0);
    EXPECT_STATUS(kvbm_vllm_sub_recv_batch(s, 0, NULL, &b, NULL), KVBM_ETIMEDOUT);
    EXPECT_STATUS(kvbm_vllm_sub_recv_batch(NULL, 0, NULL, &b, NULL), KVBM_EINVAL);
    teardown(&f, s);
}
