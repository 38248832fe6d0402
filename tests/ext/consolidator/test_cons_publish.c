/* tests/ext/consolidator/test_cons_publish.c - kvbm_cons_egress_publish through a
 * kvbm_vllm_pub (spec 20 §4.3.4 frames). The batches are read back deterministically
 * through the publisher's replay socket with a plain libzmq DEALER (no subscriber timing):
 * [empty, seq BE8, payload] per batch, then the end marker. Loopback, OS-chosen ports. */
#include <stdlib.h>
#include <zmq.h>

#include "cons_vllm_test.h"

static uint64_t be_read(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return v;
}

/* Receive one multipart message into frames (max 4); returns the frame count or -1. */
static int recv_msg(void *s, uint8_t fr[4][512], size_t len[4])
{
    int n = 0, more = 0;
    size_t ms = sizeof more;
    do {
        int r = zmq_recv(s, n < 4 ? fr[n] : fr[3], 512, 0);
        if (r < 0) return -1;
        if (n < 4) len[n] = (size_t)r;
        n++;
        zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ms);
    } while (more);
    return n;
}

KVBM_TEST(egress_publishes_through_vllm_pub)
{
    kvbm_vllm_pub_config cfg = KVBM_VLLM_PUB_CONFIG_INIT;
    cfg.endpoint = "tcp://127.0.0.1:*";
    cfg.replay_endpoint = "tcp://127.0.0.1:*";
    cfg.form = KVBM_VLLM_FORM_ARRAY;
    kvbm_vllm_pub *pub = NULL;
    ASSERT_OK(kvbm_vllm_pub_create(&cfg, &pub));
    char rep[128];
    ASSERT_OK(kvbm_vllm_pub_endpoint(pub, true, rep, sizeof rep));

    kvbm_cons_tracker *t = NULL;
    kvbm_cons_egress *eg = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    ASSERT_OK(kvbm_cons_egress_create(&eg));
    bool sent = true;
    uint64_t seq = 99;
    ASSERT_OK(kvbm_cons_egress_publish(eg, t, pub, 1000.0, &sent, &seq)); /* nothing queued */
    EXPECT_FALSE(sent);
    EXPECT_EQ(seq, 99);
    for (int round = 0; round < 2; round++) { /* the e2e batch twice: seq 0 and 1 */
        uint32_t a[4] = {10, 20, 30, 40}, b[4] = {50, 60, 70, 80};
        uint64_t p1 = 1;
        ASSERT_OK(kvbm_cons_tracker_handle_store(t, KVBM_CONS_SOURCE_VLLM, 1, NULL, a, 4, 4, NULL));
        ASSERT_OK(kvbm_cons_tracker_handle_store(t, KVBM_CONS_SOURCE_VLLM, 2, &p1, b, 4, 4, NULL));
        ASSERT_OK(kvbm_cons_tracker_handle_remove(t, KVBM_CONS_SOURCE_VLLM, 1));
        ASSERT_OK(kvbm_cons_tracker_handle_remove(t, KVBM_CONS_SOURCE_VLLM, 2));
        ASSERT_OK(kvbm_cons_egress_publish(eg, t, pub, 1000.0, &sent, &seq));
        EXPECT_TRUE(sent);
        EXPECT_EQ(seq, (uint64_t)round);
    }

    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int timeout = 5000, linger = 0;
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    ASSERT_EQ(zmq_connect(d, rep), 0);
    uint8_t start[8] = {0};
    zmq_send(d, "", 0, ZMQ_SNDMORE);
    zmq_send(d, start, 8, 0);
    static uint8_t fr[4][512];
    size_t len[4];
    /* the egress vector with a Remove of the child appended: [.., Stored, Stored, Removed(child), Removed(root)] */
    for (uint64_t k = 0; k < 2; k++) {
        ASSERT_EQ(recv_msg(d, fr, len), 3);
        EXPECT_EQ(len[0], 0);
        ASSERT_EQ(len[1], 8);
        EXPECT_EQ_U64(be_read(fr[1]), k);
        char hex[1100];
        cons_hex(fr[2], len[2], hex);
        /* ts 1000.0, 4 events: two stores, then removes child (pos 1) before root (pos 0) */
        EXPECT_TRUE(strncmp(hex, "93cb408f4000000000009495ab426c6f636b53746f726564", 48) == 0);
        EXPECT_TRUE(strstr(hex, "92ac426c6f636b52656d6f76656491cf001314e0aef99641"
                                "92ac426c6f636b52656d6f76656491cf000b1091fc91c84b00") != NULL);
    }
    ASSERT_EQ(recv_msg(d, fr, len), 3); /* end marker */
    EXPECT_EQ_U64(be_read(fr[1]), UINT64_MAX);
    zmq_close(d);
    zmq_ctx_term(ctx);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
    kvbm_vllm_pub_destroy(pub);
}
