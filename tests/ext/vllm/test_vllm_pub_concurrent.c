/* tests/ext/vllm/test_vllm_pub_concurrent.c - kvbm_vllm_pub_send from several threads while
 * the replay thread answers requests (run under TSan by scripts/test.sh): every batch gets a
 * distinct number, numbers are dense from 0, replays are ordered and end with the marker,
 * and the final replay maps each number to the batch its sender was told.
 * libzmq is not instrumented: the hand-offs between application threads and its I/O thread
 * are invisible to TSan, which then reports libzmq's own memcpy/recv as races (as in
 * tests/ext/zmq/test_zmq_concurrent.c). Suppress reports with libzmq in a stack. */
#include <pthread.h>
#include <stdlib.h>
#include <zmq.h>

#include "harness.h"
#include "vllm_test_util.h"
#include "kvbm/vllm_pub.h"

const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) { return "race:libzmq.so\n"; }

enum { THREADS = 4, PER = 150, TOTAL = THREADS * PER };

static kvbm_vllm_pub *g_pub;
static uint64_t       g_seq_of[TOTAL]; /* batch id (thread * PER + i) -> its number */
static int            g_fail;

static void *sender(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER; i++) {
        int id = t * PER + i;
        uint64_t h = (uint64_t)id;
        kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_REMOVED, .block_hashes = &h, .n_block_hashes = 1 };
        kvbm_vllm_batch b = { (double)id, &ev, 1, true, (uint32_t)t };
        if (kvbm_vllm_pub_send(g_pub, &b, &g_seq_of[id]) != KVBM_OK) __atomic_add_fetch(&g_fail, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static uint64_t be_read(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return v;
}

/* one replay from @start: the numbers answered, in order, into @seqs/@ids (count returned,
 * -1 on a protocol error) */
static int replay(void *dealer, uint64_t start, uint64_t *seqs, int *ids, int cap, vsp *s)
{
    uint8_t req[8];
    for (int i = 0; i < 8; i++) req[i] = (uint8_t)(start >> (56 - 8 * i));
    zmq_send(dealer, "", 0, ZMQ_SNDMORE);
    zmq_send(dealer, req, 8, 0);
    for (int n = 0;;) {
        zmq_pollitem_t it = { dealer, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 20000) <= 0) return -1;
        zmq_msg_t f[3];
        int k = 0, more = 1;
        while (more) {
            zmq_msg_t tmp, *m = k < 3 ? &f[k] : &tmp;
            zmq_msg_init(m);
            zmq_msg_recv(m, dealer, 0);
            more = zmq_msg_more(m);
            if (m == &tmp) zmq_msg_close(m);
            k++;
        }
        if (k != 3) return -1;
        uint64_t seq = be_read(zmq_msg_data(&f[1]));
        bool end = seq == KVBM_VLLM_REPLAY_END, ok = true;
        if (!end && n < cap) {
            kvbm_vllm_batch b;
            ok = kvbm_vllm_batch_decode(zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), NULL, &b, &s->sp) == KVBM_OK &&
                 b.n_events == 1;
            seqs[n] = seq;
            ids[n] = ok ? (int)b.ts : -1;
            n++;
        }
        for (int i = 0; i < 3; i++) zmq_msg_close(&f[i]);
        if (!ok || (!end && n >= cap)) return -1;
        if (end) return n;
    }
}

KVBM_TEST(concurrent_senders_and_replays)
{
    kvbm_vllm_pub_config c = KVBM_VLLM_PUB_CONFIG_INIT;
    c.endpoint = "tcp://127.0.0.1:*";
    c.replay_endpoint = "tcp://127.0.0.1:*";
    c.replay_buffer = TOTAL;
    ASSERT_OK(kvbm_vllm_pub_create(&c, &g_pub));
    char rep[256];
    ASSERT_OK(kvbm_vllm_pub_endpoint(g_pub, true, rep, sizeof rep));
    void *ctx = zmq_ctx_new(), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    EXPECT_EQ(zmq_connect(dealer, rep), 0);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) ASSERT_EQ(pthread_create(&th[t], NULL, sender, (void *)(intptr_t)t), 0);
    static uint64_t seqs[TOTAL + 1];
    static int ids[TOTAL + 1];
    vsp *s = vsp_new();
    for (int r = 0; r < 5; r++) { /* replays racing the senders: ordered, consecutive */
        int n = replay(dealer, 0, seqs, ids, TOTAL + 1, s);
        EXPECT_TRUE(n >= 0);
        for (int i = 1; i < n; i++) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
        if (n > 0) EXPECT_EQ(seqs[0], 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    EXPECT_EQ(g_fail, 0);
    static bool seen[TOTAL];
    for (int i = 0; i < TOTAL; i++) {
        ASSERT_TRUE(g_seq_of[i] < TOTAL);
        EXPECT_FALSE(seen[g_seq_of[i]]);
        seen[g_seq_of[i]] = true;
    }
    int n = replay(dealer, 0, seqs, ids, TOTAL + 1, s);
    EXPECT_EQ(n, TOTAL);
    for (int i = 0; i < n; i++) {
        EXPECT_EQ(seqs[i], (uint64_t)i);
        ASSERT_TRUE(ids[i] >= 0 && ids[i] < TOTAL);
        EXPECT_EQ(g_seq_of[ids[i]], seqs[i]); /* the number its sender was told */
    }
    kvbm_vllm_pub_stats st;
    EXPECT_OK(kvbm_vllm_pub_get_stats(g_pub, &st));
    EXPECT_EQ(st.batches, TOTAL);
    EXPECT_EQ(st.replays, 6);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    kvbm_vllm_pub_destroy(g_pub);
    free(s);
}
