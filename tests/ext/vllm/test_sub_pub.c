/* tests/ext/vllm/test_sub_pub.c - the ingress subscriber against the library's own vLLM
 * publisher (kvbm/vllm_pub.h) as the engine: live batches decode in order, and a
 * subscriber that stops, misses N batches and starts again resuming at the next number
 * recovers them through the publisher's replay socket - nothing lost, nothing duplicated. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kvbm/vllm_pub.h"
#include "kvbm/vllm_sub.h"

/* Batch i: one BlockRemoved of hash 1000 + i (map form, the publisher's default). */
static kvbm_status send_n(kvbm_vllm_pub *p, uint64_t i)
{
    uint64_t h = 1000 + i;
    kvbm_vllm_event e = { .type = KVBM_VLLM_BLOCK_REMOVED, .block_hashes = &h, .n_block_hashes = 1 };
    kvbm_vllm_batch b = { .ts = 1.0, .events = &e, .n_events = 1, .has_dp_rank = true };
    return kvbm_vllm_pub_send(p, &b, NULL);
}

static kvbm_vllm_sub *open_sub(const char *ep, const char *rep, bool resume, uint64_t from)
{
    kvbm_vllm_sub_config c = KVBM_VLLM_SUB_CONFIG_INIT;
    c.endpoint = ep;
    c.replay_endpoint = rep;
    c.resume = resume;
    c.start_seq = from;
    kvbm_vllm_sub *s = NULL;
    if (kvbm_vllm_sub_create(&c, &s) != KVBM_OK) fprintf(stderr, "sub: %s\n", kvbm_last_error());
    return s;
}

/* Receive @n batches and check they are first, first+1, ... (seq and content). */
static int expect_run(kvbm_vllm_sub *s, uint64_t first, int n)
{
    for (int i = 0; i < n; i++) {
        kvbm_vllm_batch b;
        kvbm_vllm_sub_msg m;
        if (kvbm_vllm_sub_recv_batch(s, 10000, NULL, &b, &m) != KVBM_OK) return i;
        uint64_t want = first + (uint64_t)i;
        if (m.seq != want || b.n_events != 1 || b.events[0].block_hashes[0] != 1000 + want) return i;
    }
    return n;
}

KVBM_TEST(vllm_sub_resumes_from_kvbm_vllm_pub_replay)
{
    kvbm_vllm_pub_config pc = KVBM_VLLM_PUB_CONFIG_INIT;
    pc.endpoint = "tcp://127.0.0.1:*";
    pc.replay_endpoint = "tcp://127.0.0.1:*";
    kvbm_vllm_pub *p = NULL;
    ASSERT_OK(kvbm_vllm_pub_create(&pc, &p));
    char ep[128], rep[128];
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, false, ep, sizeof ep));
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, true, rep, sizeof rep));

    /* batches 0..4 before anyone listens: a subscriber resuming at 0 gets them by replay */
    for (uint64_t i = 0; i < 5; i++) ASSERT_OK(send_n(p, i));
    kvbm_vllm_sub *s = open_sub(ep, rep, true, 0);
    ASSERT_TRUE(s != NULL);
    EXPECT_EQ(expect_run(s, 0, 5), 5);
    /* live: keep sending until one arrives live (the SUB connects in the background);
     * whatever the live stream misses meanwhile is a gap, recovered by replay */
    uint64_t next = 5;
    kvbm_vllm_sub_stats st;
    for (int k = 0; k < 500; k++) {
        ASSERT_OK(send_n(p, next++));
        usleep(10000);
        ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
        if (st.batches > st.recovered) break;
    }
    EXPECT_EQ(expect_run(s, 5, (int)(next - 5)), (int)(next - 5));
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    uint64_t resume_at = st.next_seq;
    EXPECT_EQ_U64(resume_at, next);
    kvbm_vllm_sub_destroy(s);

    enum { N = 25 };
    for (int i = 0; i < N; i++) ASSERT_OK(send_n(p, next++)); /* nobody listens */
    s = open_sub(ep, rep, true, resume_at);
    ASSERT_TRUE(s != NULL);
    EXPECT_EQ(expect_run(s, resume_at, N), N);
    kvbm_vllm_batch b;
    EXPECT_STATUS(kvbm_vllm_sub_recv_batch(s, 200, NULL, &b, NULL), KVBM_ETIMEDOUT);
    ASSERT_OK(kvbm_vllm_sub_get_stats(s, &st));
    EXPECT_EQ_U64(st.recovered, N);
    EXPECT_EQ_U64(st.unrecoverable, 0);
    EXPECT_EQ_U64(st.decode_errors, 0);
    kvbm_vllm_sub_destroy(s);
    kvbm_vllm_pub_destroy(p);
}
