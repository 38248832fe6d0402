/* tests/ext/consolidator/test_daemon.c - the consolidator daemon (kvbm/consolidator.h)
 * end to end through ZeroMQ: spec 20 §4.4 fixture, §5.5 zmq_ingress, lifecycle, fan-out. */
#include <time.h>

#include "daemon_env.h"
#include "harness.h"
#include "kvbm/router_events.h"
#include "kvbm/tokens.h"

static size_t unhex_to(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t k = 0; k < n; k++) sscanf(hex + 2 * k, "%2hhx", &out[k]);
    return n;
}

static const char *const FIXTURE[3] = {
    "93cb408f4000000000009195ab426c6f636b53746f7265649101c0940a141e280400",
    "93cb409f4000000000009195ab426c6f636b53746f72656491020194323c46500400",
    "93cb40a77000000000009192ac426c6f636b52656d6f766564910100",
};
/* §4.3.4 egress example with ts zeroed */
static const char *const E2E_OUT =
    "93cb00000000000000009395ab426c6f636b53746f72656491cf000b1091fc91c84bc0940a141e280495ab426c"
    "6f636b53746f72656491cf001314e0aef99641cf000b1091fc91c84b94323c46500492ac426c6f636b52656d6f"
    "76656491cf000b1091fc91c84b00";

/* §4.4 e2e_full_vllm_replay / e2e_full_trtllm_replay, through ZMQ: the three fixture
 * payloads in as 3-frame messages (seq 0, 1, 2), exactly one batch out, byte for byte
 * after zeroing ts. */
static void fixture_e2e(const char *source)
{
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    uint8_t p[64];
    for (int i = 0; i < 3; i++) fpub_send(&eng, p, unhex_to(FIXTURE[i], p), false);
    kvbm_consolidator *c = denv_open(&eng, 1, &source, DENV_HOUR_MS, NULL);
    ASSERT_TRUE(c != NULL);
    EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
    EXPECT_TRUE(kvbm_consolidator_flush(c));
    EXPECT_FALSE(kvbm_consolidator_flush(c)); /* nothing more */
    kvbm_vllm_sub *r = denv_reader(c);
    ASSERT_TRUE(r != NULL);
    kvbm_vllm_sub_msg m;
    ASSERT_OK(kvbm_vllm_sub_recv(r, 10000, &m));
    EXPECT_EQ_U64(m.seq, 0);
    uint8_t want[256], got[256];
    size_t wl = unhex_to(E2E_OUT, want);
    ASSERT_EQ(m.len, wl);
    memcpy(got, m.payload, m.len);
    EXPECT_EQ(got[1], 0xcb);
    memset(got + 2, 0, 8); /* ts */
    EXPECT_TRUE(memcmp(got, want, wl) == 0);
    EXPECT_STATUS(kvbm_vllm_sub_recv(r, 200, &m), KVBM_ETIMEDOUT);
    kvbm_consolidator_stats st;
    ASSERT_OK(kvbm_consolidator_get_stats(c, &st));
    EXPECT_EQ_U64(st.batches_in, 3);
    EXPECT_EQ_U64(st.batches_out, 1);
    EXPECT_EQ_U64(st.events_out, 3);
    EXPECT_EQ_U64(st.live_blocks, 1);
    EXPECT_EQ_U64(st.gaps, 0);
    kvbm_vllm_sub_destroy(r);
    kvbm_consolidator_destroy(c);
    fpub_stop(&eng);
}

KVBM_TEST(daemon_e2e_fixture_vllm_through_zmq) { fixture_e2e("vllm"); }
KVBM_TEST(daemon_e2e_fixture_trtllm_through_zmq) { fixture_e2e("TensorRT-LLM"); }

KVBM_TEST(daemon_config_errors)
{
    kvbm_consolidator *c = NULL;
    kvbm_consolidator_config cfg = KVBM_CONSOLIDATOR_CONFIG_INIT;
    EXPECT_STATUS(kvbm_consolidator_create(NULL, &c), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_consolidator_create(&cfg, &c), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "out_endpoint");
    kvbm_consolidator_input in = { "ollama", "tcp://127.0.0.1:1", NULL, NULL, false, 0 };
    cfg.inputs = &in;
    cfg.n_inputs = 1;
    cfg.out_endpoint = "tcp://127.0.0.1:0";
    EXPECT_STATUS(kvbm_consolidator_create(&cfg, &c), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Unknown event source: ollama");
    in.source = "kvbm";
    EXPECT_STATUS(kvbm_consolidator_create(&cfg, &c), KVBM_EINVAL);
    in.source = "vllm";
    in.endpoint = "ipc:///tmp/x";
    EXPECT_STATUS(kvbm_consolidator_create(&cfg, &c), KVBM_EINVAL);
    EXPECT_TRUE(c == NULL);
    cfg.n_inputs = 0;
    cfg.out_endpoint = "tcp://256.1.1.1:1";
    EXPECT_NE(kvbm_consolidator_create(&cfg, &c), KVBM_OK);
    kvbm_consolidator_destroy(NULL);
}

/* §5.5 zmq_ingress_roundtrip: 3 chained stores in one engine batch give 3 stores out, each
 * child's router parent = its parent's router hash. */
KVBM_TEST(daemon_zmq_ingress_roundtrip_chain)
{
    /* [ts, [["BlockStored", [11, 12, 13], nil, [1..12], 4]], 0] */
    static const char *batch =
        "93cb00000000000000009195ab426c6f636b53746f726564930b0c0dc09c0102030405060708090a0b0c0400";
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    uint8_t p[128];
    fpub_send(&eng, p, unhex_to(batch, p), false);
    const char *src = "vllm";
    kvbm_consolidator *c = denv_open(&eng, 1, &src, DENV_HOUR_MS, NULL);
    ASSERT_TRUE(c != NULL);
    EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
    EXPECT_TRUE(kvbm_consolidator_flush(c));
    kvbm_vllm_sub *r = denv_reader(c);
    ASSERT_TRUE(r != NULL);
    kvbm_vllm_batch b;
    ASSERT_OK(kvbm_vllm_sub_recv_batch(r, 10000, NULL, &b, NULL));
    ASSERT_EQ(b.n_events, 3);
    EXPECT_TRUE(b.has_dp_rank && b.dp_rank == 0);
    kvbm_plh prev = { 0, 0 };
    for (size_t i = 0; i < 3; i++) {
        const kvbm_vllm_event *e = &b.events[i];
        EXPECT_EQ(e->type, KVBM_VLLM_BLOCK_STORED);
        ASSERT_EQ(e->n_block_hashes, 1);
        kvbm_plh plh;
        uint32_t tok[4];
        for (int k = 0; k < 4; k++) tok[k] = (uint32_t)(4 * i + (size_t)k + 1);
        ASSERT_OK(kvbm_cons_block_plh(tok, 4, 4, NULL, i ? &prev : NULL, &plh));
        EXPECT_EQ_U64(e->block_hashes[0], kvbm_plh_router_block_hash(plh));
        EXPECT_EQ(e->has_parent, i > 0);
        if (i) EXPECT_EQ_U64(e->parent_block_hash, kvbm_plh_router_block_hash(prev));
        EXPECT_EQ(e->n_token_ids, 4);
        EXPECT_EQ(e->block_size, 4);
        prev = plh;
    }
    kvbm_vllm_sub_destroy(r);
    kvbm_consolidator_destroy(c);
    fpub_stop(&eng);
}

/* ---- the RouterEvent output, captured by an in-process publisher ------------------------ */

typedef struct capture {
    pthread_mutex_t mu;
    uint8_t         msg[16][256];
    size_t          len[16];
    char            subject[64];
    int             n;
} capture;

static kvbm_status cap_publish(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    capture *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (c->n < 16 && len <= sizeof c->msg[0]) {
        memcpy(c->msg[c->n], buf, len);
        c->len[c->n++] = len;
        snprintf(c->subject, sizeof c->subject, "%s", subject);
    }
    pthread_mutex_unlock(&c->mu);
    return KVBM_OK;
}

/* The §4.4 fixture as RouterEvents: stored root, stored child (parent = root's router hash),
 * removed root; block hashes = the router projection, tokens_hash = the router's local
 * hash of the block's tokens (§1.10.2), event_id 0, 1, 2 for the configured worker. */
KVBM_TEST(daemon_router_output_fixture)
{
    static capture cap;
    memset(&cap, 0, sizeof cap);
    pthread_mutex_init(&cap.mu, NULL);
    static const kvbm_publisher_ops ops = { cap_publish, NULL, NULL };
    kvbm_publisher *pub = NULL;
    ASSERT_OK(kvbm_publisher_create(&ops, &cap, &pub));
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    uint8_t p[64];
    for (int i = 0; i < 3; i++) fpub_send(&eng, p, unhex_to(FIXTURE[i], p), false);
    kvbm_consolidator_input in = { "vllm", eng.pub_ep, eng.rep_ep, NULL, true, 0 };
    kvbm_consolidator_config cfg = KVBM_CONSOLIDATOR_CONFIG_INIT;
    cfg.inputs = &in;
    cfg.n_inputs = 1;
    cfg.out_endpoint = "tcp://127.0.0.1:0";
    cfg.poll_interval_ms = DENV_HOUR_MS;
    cfg.router_publisher = pub;
    cfg.router_worker_id = 42;
    kvbm_consolidator *c = NULL;
    ASSERT_OK(kvbm_consolidator_create(&cfg, &c));
    kvbm_publisher_release(pub); /* the consolidator holds its own reference */
    EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
    EXPECT_TRUE(kvbm_consolidator_flush(c));
    kvbm_consolidator_stats st;
    ASSERT_OK(kvbm_consolidator_get_stats(c, &st));
    EXPECT_EQ_U64(st.router_events_out, 3);
    EXPECT_EQ_U64(st.router_errors, 0);
    kvbm_consolidator_destroy(c);
    fpub_stop(&eng);

    ASSERT_EQ(cap.n, 3);
    EXPECT_STR_EQ(cap.subject, "kv-events");
    kvbm_router_stored_block blocks[4];
    uint64_t u64[8];
    kvbm_router_decode_space sp = { blocks, 4, NULL, 0, u64, 8 };
    kvbm_router_event ev;
    ASSERT_OK(kvbm_router_event_decode(cap.msg[0], cap.len[0], &ev, &sp));
    EXPECT_EQ(ev.kind, KVBM_ROUTER_STORED);
    EXPECT_EQ_U64(ev.worker_id, 42);
    EXPECT_EQ_U64(ev.event_id, 0);
    EXPECT_FALSE(ev.has_parent_hash);
    ASSERT_EQ(ev.n_blocks, 1);
    EXPECT_EQ_U64(ev.blocks[0].block_hash, 3114443937531979ull);
    EXPECT_EQ_U64(ev.blocks[0].tokens_hash, 16324159493528209483ull);
    ASSERT_OK(kvbm_router_event_decode(cap.msg[1], cap.len[1], &ev, &sp));
    EXPECT_EQ(ev.kind, KVBM_ROUTER_STORED);
    EXPECT_EQ_U64(ev.event_id, 1);
    EXPECT_TRUE(ev.has_parent_hash);
    EXPECT_EQ_U64(ev.parent_hash, 3114443937531979ull);
    ASSERT_EQ(ev.n_blocks, 1);
    EXPECT_EQ_U64(ev.blocks[0].block_hash, 5370979798324801ull);
    EXPECT_EQ_U64(ev.blocks[0].tokens_hash, 6032772817189548200ull);
    ASSERT_OK(kvbm_router_event_decode(cap.msg[2], cap.len[2], &ev, &sp));
    EXPECT_EQ(ev.kind, KVBM_ROUTER_REMOVED);
    EXPECT_EQ_U64(ev.event_id, 2);
    ASSERT_EQ(ev.n_block_hashes, 1);
    EXPECT_EQ_U64(ev.block_hashes[0], 3114443937531979ull);
    pthread_mutex_destroy(&cap.mu);
}
