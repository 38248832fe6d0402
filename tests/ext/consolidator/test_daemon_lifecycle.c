/* tests/ext/consolidator/test_daemon_lifecycle.c - the consolidator daemon's lifecycle
 * (§5.5 lifecycle: backpressure, shutdown), audit lines (§5.5 audit), malformed input
 * (§5.5 zmq_multipart_parsing, malformed_msgpack_is_logged_not_fatal), kvbm's own stream
 * (§5.5 kvbm_bridge through the daemon) and fan-out (multiple_subscribers_receive_same_output). */
#include <time.h>

#include "daemon_env.h"
#include "harness.h"
#include "kvbm/log.h"
#include "kvbm/registry.h"
#include "kvbm/tokens.h"
#include "support/events_helpers.h"

/* [ts, [["BlockStored", [hash], nil, [tok0..tok3], 4]], 0] for a root block. */
static size_t store_batch_tok(uint8_t *p, uint64_t hash, const uint32_t tok[4])
{
    size_t n = 0;
    static const uint8_t head[] = { 0x93, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0x91, 0x95, 0xab };
    memcpy(p, head, sizeof head);
    n += sizeof head;
    memcpy(p + n, "BlockStored", 11);
    n += 11;
    p[n++] = 0x91;
    p[n++] = 0xcf;
    for (int i = 0; i < 8; i++) p[n++] = (uint8_t)(hash >> (56 - 8 * i));
    p[n++] = 0xc0;
    p[n++] = 0x94;
    for (uint32_t k = 0; k < 4; k++) {
        p[n++] = 0xce;
        uint32_t t = tok[k];
        for (int i = 0; i < 4; i++) p[n++] = (uint8_t)(t >> (24 - 8 * i));
    }
    p[n++] = 0x04;
    p[n++] = 0x00;
    return n;
}

static size_t store_batch(uint8_t *p, uint64_t hash, uint32_t t0)
{
    const uint32_t tok[4] = { t0, t0 + 1, t0 + 2, t0 + 3 };
    return store_batch_tok(p, hash, tok);
}

/* Read output batches from @r until @n events arrived (bounded); the events' first token
 * (STORE) is appended to @first. Returns the number of events read. */
static size_t read_events(kvbm_vllm_sub *r, size_t n, uint32_t *first, size_t *n_batches)
{
    size_t got = 0;
    *n_batches = 0;
    while (got < n) {
        kvbm_vllm_batch b;
        if (kvbm_vllm_sub_recv_batch(r, 10000, NULL, &b, NULL) != KVBM_OK) break;
        (*n_batches)++;
        for (size_t i = 0; i < b.n_events && got < n; i++, got++)
            first[got] = b.events[i].n_token_ids ? b.events[i].token_ids[0] : UINT32_MAX;
    }
    return got;
}

/* Flush @c and read its whole output from sequence 0: exactly the @n stores of
 * store_batch(1000 + i, 4 * i), in order, in the batches the consolidator counted. */
static void expect_stores_out(kvbm_consolidator *c, uint32_t n)
{
    static uint32_t first[1000];
    ASSERT_TRUE(n <= 1000);
    kvbm_consolidator_flush(c);
    kvbm_vllm_sub *r = denv_reader(c);
    ASSERT_TRUE(r != NULL);
    size_t nb = 0;
    EXPECT_EQ(read_events(r, n, first, &nb), n);
    for (uint32_t i = 0; i < n; i++)
        if (first[i] != 4 * i) {
            EXPECT_EQ(first[i], 4 * i);
            break;
        }
    kvbm_consolidator_stats st;
    EXPECT_OK(kvbm_consolidator_get_stats(c, &st));
    EXPECT_EQ_U64(st.events_out, n);
    EXPECT_EQ_U64(st.batches_out, nb);
    EXPECT_EQ_U64(st.live_blocks, n);
    kvbm_vllm_sub_destroy(r);
}

/* §5.5 lifecycle backpressure_ingress: 1000 stores arrive, in order, with the egress
 * running at its default interval while they stream in. */
KVBM_TEST(daemon_backpressure_1000_stores_in_order)
{
    enum { N = 1000 };
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    const char *src = "vllm";
    kvbm_consolidator *c = denv_open(&eng, 1, &src, 0, NULL);
    ASSERT_TRUE(c != NULL);
    uint8_t p[128];
    for (uint32_t i = 0; i < N; i++) fpub_send(&eng, p, store_batch(p, 1000 + i, 4 * i), false);
    EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
    expect_stores_out(c, N);
    kvbm_consolidator_destroy(c);
    fpub_stop(&eng);
}

/* The CI failure of session 9 (docs/notes/test-failures.md), staged: the consolidator's
 * input resumes from 0, its start-up replay answers 0..K-1, and the engine's last M batches
 * are sent after that answer but before the subscription reached its PUB (dropped there),
 * then the engine goes silent. The input's catch-up recovers them: all stores come out. */
KVBM_TEST(daemon_trailing_batches_sent_before_subscription)
{
    enum { K = 922, M = 78, N = K + M };
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    uint8_t p[128];
    for (uint32_t i = 0; i < N; i++) {
        if (i == K) fpub_hold(&eng);
        fpub_send(&eng, p, store_batch(p, 1000 + i, 4 * i), true);
    }
    const char *src = "vllm";
    kvbm_consolidator *c = denv_open(&eng, 1, &src, 0, NULL);
    ASSERT_TRUE(c != NULL);
    EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
    kvbm_vllm_sub_stats in;
    ASSERT_OK(kvbm_consolidator_input_stats(c, 0, &in));
    EXPECT_EQ_U64(in.recovered, N);
    EXPECT_EQ_U64(in.unrecoverable, 0);
    EXPECT_GE(in.catchups, 1);
    expect_stores_out(c, N);
    kvbm_consolidator_destroy(c);
    fpub_stop(&eng);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* §5.5 shutdown_cancellation: stop returns promptly with inputs connected and busy (the
 * spec's < 1 s is a timing goal; asserted only within a generous bound here). */
KVBM_TEST(daemon_shutdown_is_prompt)
{
    fpub eng[2];
    ASSERT_TRUE(fpub_start(&eng[0], true, NULL));
    ASSERT_TRUE(fpub_start(&eng[1], false, NULL));
    const char *src[2] = { "vllm", "trtllm" };
    kvbm_consolidator_input in[2] = {
        { src[0], eng[0].pub_ep, eng[0].rep_ep, "a", false, 0 },
        { src[1], eng[1].pub_ep, NULL, "b", false, 0 },
    };
    kvbm_consolidator_config cfg = KVBM_CONSOLIDATOR_CONFIG_INIT;
    cfg.inputs = in;
    cfg.n_inputs = 2;
    cfg.out_endpoint = "tcp://127.0.0.1:0";
    cfg.out_replay_endpoint = "tcp://127.0.0.1:0";
    kvbm_consolidator *c = NULL;
    ASSERT_OK(kvbm_consolidator_create(&cfg, &c));
    uint8_t p[128];
    for (uint32_t i = 0; i < 200; i++) fpub_send(&eng[i % 2], p, store_batch(p, 1 + i, 4 * i), false);
    double t0 = now_s();
    kvbm_consolidator_stop(c);
    double dt = now_s() - t0;
    printf("    stop took %.3f s\n", dt);
    EXPECT_TRUE(dt < 10.0);
    kvbm_consolidator_stop(c); /* idempotent */
    kvbm_consolidator_stats st;
    EXPECT_OK(kvbm_consolidator_get_stats(c, &st));
    kvbm_consolidator_destroy(c);
    fpub_stop(&eng[0]);
    fpub_stop(&eng[1]);
}

/* ---- audit lines ------------------------------------------------------------------------- */

typedef struct audit {
    pthread_mutex_t mu;
    int ingress_zmq, ingress_kvbm_store, ingress_kvbm_remove, egress;
    char last_zmq[256];
} audit;

static void audit_sink(void *ctx, kvbm_log_level level, const char *module, const char *msg)
{
    audit *a = ctx;
    (void)level;
    if (strcmp(module, "consolidator") != 0) return;
    pthread_mutex_lock(&a->mu);
    if (strstr(msg, "event=ingress_zmq")) {
        a->ingress_zmq++;
        snprintf(a->last_zmq, sizeof a->last_zmq, "%s", msg);
    }
    if (strstr(msg, "event=ingress_kvbm op=store")) a->ingress_kvbm_store++;
    if (strstr(msg, "event=ingress_kvbm op=remove")) a->ingress_kvbm_remove++;
    if (strstr(msg, "event=egress")) a->egress++;
    pthread_mutex_unlock(&a->mu);
}

/* §5.5 audit_ingress_zmq_fires, _skips_empty, audit_egress_fires_roundtrip,
 * audit_ingress_kvbm_store/remove - and kvbm_bridge through the daemon: a kvbm Create
 * alone publishes nothing, the engine's store of the same block publishes it once. */
KVBM_TEST(daemon_audit_lines_and_kvbm_bridge)
{
    audit a;
    memset(&a, 0, sizeof a);
    pthread_mutex_init(&a.mu, NULL);
    kvbm_set_log_fn(audit_sink, &a, KVBM_LOG_DEBUG);

    kvbm_registry *reg = NULL;
    kvbm_events_manager *em = NULL;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    const char *src = "vllm";
    kvbm_consolidator *c = denv_open(&eng, 1, &src, DENV_HOUR_MS, em);
    ASSERT_TRUE(c != NULL);

    /* kvbm registers the PLH of the root block [10,20,30,40] */
    static const uint32_t tok[4] = { 10, 20, 30, 40 };
    kvbm_plh plh;
    ASSERT_OK(kvbm_cons_block_plh(tok, 4, 4, NULL, NULL, &plh));
    kvbm_handle *h = NULL;
    ASSERT_OK(kvbm_registry_register(reg, plh, &h));
    kvbm_consolidator_stats st;
    for (int i = 0; i < 2000; i++) {
        kvbm_consolidator_get_stats(c, &st);
        if (st.kvbm_events >= 1) break;
        usleep(5000);
    }
    EXPECT_EQ_U64(st.kvbm_events, 1);
    EXPECT_FALSE(kvbm_consolidator_flush(c)); /* Create alone: nothing published */

    uint8_t p[128];
    static const uint8_t empty[] = { 0x93, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00 };
    fpub_send(&eng, empty, sizeof empty, false); /* no audit line */
    fpub_send(&eng, p, store_batch_tok(p, 77, tok), false);
    EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
    EXPECT_TRUE(kvbm_consolidator_flush(c));
    kvbm_handle_release(h); /* kvbm lets it go: Remove; the engine still holds it */
    for (int i = 0; i < 2000; i++) {
        kvbm_consolidator_get_stats(c, &st);
        if (st.kvbm_events >= 2) break;
        usleep(5000);
    }
    EXPECT_EQ_U64(st.kvbm_events, 2);
    EXPECT_FALSE(kvbm_consolidator_flush(c)); /* still live through vllm */
    EXPECT_EQ_U64(st.live_blocks, 1);

    kvbm_vllm_sub *r = denv_reader(c);
    ASSERT_TRUE(r != NULL);
    kvbm_vllm_batch b;
    ASSERT_OK(kvbm_vllm_sub_recv_batch(r, 10000, NULL, &b, NULL));
    ASSERT_EQ(b.n_events, 1);
    EXPECT_EQ_U64(b.events[0].block_hashes[0], kvbm_plh_router_block_hash(plh));
    kvbm_vllm_sub_destroy(r);
    kvbm_consolidator_destroy(c);
    kvbm_set_log_fn(NULL, NULL, KVBM_LOG_WARN);
    EXPECT_EQ(a.ingress_zmq, 1); /* the empty batch has none */
    EXPECT_STR_CONTAINS(a.last_zmq, "source=vllm");
    EXPECT_STR_CONTAINS(a.last_zmq, "seq=1");
    EXPECT_STR_CONTAINS(a.last_zmq, "events=1");
    EXPECT_EQ(a.ingress_kvbm_store, 1);
    EXPECT_EQ(a.ingress_kvbm_remove, 1);
    EXPECT_EQ(a.egress, 1);
    pthread_mutex_destroy(&a.mu);
    fpub_stop(&eng);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
}

/* §5.5 zmq_multipart_parsing / malformed_msgpack_is_logged_not_fatal through the daemon. */
KVBM_TEST(daemon_malformed_input_survives)
{
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    const char *src = "vllm";
    kvbm_consolidator *c = denv_open(&eng, 1, &src, DENV_HOUR_MS, NULL);
    ASSERT_TRUE(c != NULL);
    uint8_t p[128];
    fpub_send(&eng, p, store_batch(p, 5, 100), false);
    EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
    fpub_frames(&eng, 1, "x");
    fpub_frames(&eng, 4, "x");
    fpub_send(&eng, "\xc1 garbage", 9, false);
    fpub_send(&eng, p, store_batch(p, 6, 200), false);
    EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
    kvbm_consolidator_stats st;
    ASSERT_OK(kvbm_consolidator_get_stats(c, &st));
    EXPECT_EQ_U64(st.decode_errors, 1);
    EXPECT_EQ_U64(st.frame_errors, 2);
    EXPECT_EQ_U64(st.batches_in, 2);
    EXPECT_EQ_U64(st.live_blocks, 2);
    kvbm_consolidator_destroy(c);
    fpub_stop(&eng);
}

/* §5.5 multiple_subscribers_receive_same_output. */
KVBM_TEST(daemon_multiple_subscribers_same_output)
{
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    const char *src = "vllm";
    kvbm_consolidator *c = denv_open(&eng, 1, &src, DENV_HOUR_MS, NULL);
    ASSERT_TRUE(c != NULL);
    kvbm_vllm_sub *r[2] = { denv_reader(c), denv_reader(c) };
    ASSERT_TRUE(r[0] && r[1]);
    uint8_t p[128];
    for (uint32_t i = 0; i < 5; i++) {
        fpub_send(&eng, p, store_batch(p, 50 + i, 8 * i), false);
        EXPECT_TRUE(denv_wait_inputs(c, &eng, 1));
        EXPECT_TRUE(kvbm_consolidator_flush(c));
    }
    uint8_t first[5][128];
    size_t first_len[5];
    for (int k = 0; k < 2; k++)
        for (uint64_t i = 0; i < 5; i++) {
            kvbm_vllm_sub_msg m;
            ASSERT_OK(kvbm_vllm_sub_recv(r[k], 10000, &m));
            EXPECT_EQ_U64(m.seq, i);
            if (k == 0) {
                ASSERT_TRUE(m.len <= sizeof first[i]);
                memcpy(first[i], m.payload, m.len);
                first_len[i] = m.len;
            } else {
                EXPECT_TRUE(m.len == first_len[i] && !memcmp(m.payload, first[i], m.len));
            }
        }
    kvbm_vllm_sub_destroy(r[0]);
    kvbm_vllm_sub_destroy(r[1]);
    kvbm_consolidator_destroy(c);
    fpub_stop(&eng);
}
