/* tests/ext/vllm/test_vllm_pub.c - the vLLM publisher (kvbm/vllm_pub.h, spec 20 §4.2.1):
 * 3 frames, seq from 0, topic, replay answers and end marker, replay buffer bound, bad
 * requests, DP port shift, bind errors; and the independent Python consumer (vllm_sub.py,
 * python3-zmq + python3-msgpack) decoding both payload forms and the replay. Loopback only,
 * ports chosen by the OS or free a moment ago. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <zmq.h>

#include "harness.h"
#include "support/net.h"
#include "support/proc.h"
#include "vllm_test_util.h"
#include "kvbm/vllm_pub.h"

static uint64_t be_read(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return v;
}

static int port_of(const char *ep) { return atoi(strrchr(ep, ':') + 1); }

/* test batches: i-th batch has a stored event (with lora/medium/eagle/MM variants), a
 * removed and, every third, a cleared event */
static const uint32_t TOK[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const kvbm_router_mm_object MMO[2] = { { 11, NULL, 0 }, { 12, NULL, 0 } };
static const kvbm_vllm_block_mm BMM[2] = { { NULL, 0 }, { MMO, 2 } };

typedef struct tbatch {
    uint64_t        h[2];
    kvbm_vllm_event ev[3];
    kvbm_vllm_batch b;
} tbatch;

static void make_batch(tbatch *t, int i)
{
    memset(t, 0, sizeof *t);
    t->h[0] = UINT64_C(0x8000000000000000) + (uint64_t)i;
    t->h[1] = (uint64_t)i * 1000 + 1;
    t->ev[0] = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = t->h, .n_block_hashes = 2,
                                  .has_parent = i % 2, .parent_block_hash = 77, .token_ids = TOK,
                                  .n_token_ids = i % 4 == 1 ? 9 : 8, .is_eagle = i % 4 == 1, .block_size = 4,
                                  .lora_name = i % 3 == 0 ? "lora-a" : NULL, .medium = i % 2 ? "GPU" : NULL,
                                  .block_mm = i % 5 == 2 ? BMM : NULL, .n_block_mm = i % 5 == 2 ? 2 : 0 };
    t->ev[1] = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_REMOVED, .block_hashes = t->h + 1, .n_block_hashes = 1,
                                  .medium = i % 2 ? NULL : "CPU_TIER1" };
    t->ev[2] = (kvbm_vllm_event){ .type = KVBM_VLLM_ALL_BLOCKS_CLEARED };
    t->b = (kvbm_vllm_batch){ 1000.0 + i, t->ev, i % 3 == 0 ? 3 : 2, i % 2 == 0, (uint32_t)i % 4 };
}

static void cat(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

/* the canonical text vllm_sub.py prints for a batch (see its docstring) */
static void canon(const kvbm_vllm_batch *b, char *out, size_t cap)
{
    out[0] = '\0';
    cat(out, cap, "%.3f ", b->ts);
    if (b->has_dp_rank) cat(out, cap, "%u", b->dp_rank);
    else cat(out, cap, "-");
    for (size_t i = 0; i < b->n_events; i++) {
        const kvbm_vllm_event *e = &b->events[i];
        cat(out, cap, " %s", kvbm_vllm_event_type_name(e->type));
        if (e->type == KVBM_VLLM_ALL_BLOCKS_CLEARED) continue;
        cat(out, cap, "|h=");
        for (size_t k = 0; k < e->n_block_hashes; k++) cat(out, cap, "%s%" PRIu64, k ? "," : "", e->block_hashes[k]);
        if (e->type == KVBM_VLLM_BLOCK_REMOVED) {
            cat(out, cap, "|medium=%s|g=-", e->medium ? e->medium : "-");
            continue;
        }
        if (e->has_parent) cat(out, cap, "|p=%" PRIu64 "|t=", e->parent_block_hash);
        else cat(out, cap, "|p=-|t=");
        for (size_t k = 0; k < e->n_token_ids; k++) cat(out, cap, "%s%u", k ? "," : "", e->token_ids[k]);
        cat(out, cap, "|e=%d|bs=%u|lora=%s|medium=%s|mm=", e->is_eagle, e->block_size, e->lora_name ? e->lora_name : "-",
            e->medium ? e->medium : "-");
        if (e->n_block_mm == 0) cat(out, cap, "-");
        for (size_t k = 0; k < e->n_block_mm; k++) {
            cat(out, cap, "%s", k ? ";" : "");
            for (size_t o = 0; o < e->block_mm[k].n_objects; o++)
                cat(out, cap, "%s%" PRIu64, o ? "+" : "", e->block_mm[k].objects[o].mm_hash);
        }
        cat(out, cap, "|g=-");
    }
}

/* a C SUB socket; publish probe batches until one arrives (ZeroMQ subscribes in the
 * background), bounded at 20 s */
static const kvbm_vllm_event PROBE_EV = { .type = KVBM_VLLM_ALL_BLOCKS_CLEARED };
static const kvbm_vllm_batch PROBE = { -1.0, &PROBE_EV, 1, false, 0 };

static int recv_frames(void *s, zmq_msg_t *f, int max, int timeout_ms)
{
    zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return 0;
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t tmp, *m = n < max ? &f[n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, s, 0) < 0) return -1;
        more = zmq_msg_more(m);
        if (m == &tmp) zmq_msg_close(m);
        n++;
    }
    return n;
}

static void close_frames(zmq_msg_t *f, int n)
{
    for (int i = 0; i < n && i < 4; i++) zmq_msg_close(&f[i]);
}

static bool sync_sub(kvbm_vllm_pub *p, void *sub, uint64_t *last_probe_seq)
{
    for (int i = 0; i < 400; i++) {
        if (kvbm_vllm_pub_send(p, &PROBE, last_probe_seq) != KVBM_OK) return false;
        zmq_msg_t f[4];
        int n = recv_frames(sub, f, 4, 50);
        close_frames(f, n);
        if (n > 0) { /* drain the probes still in flight */
            while ((n = recv_frames(sub, f, 4, 200)) > 0) close_frames(f, n);
            return true;
        }
    }
    return false;
}

KVBM_TEST(three_frames_seq_and_replay)
{
    kvbm_vllm_pub_config c = KVBM_VLLM_PUB_CONFIG_INIT;
    c.endpoint = "tcp://127.0.0.1:*";
    c.replay_endpoint = "tcp://127.0.0.1:*";
    c.topic = "kv@0";
    kvbm_vllm_pub *p = NULL;
    ASSERT_OK(kvbm_vllm_pub_create(&c, &p));
    char ep[256], rep[256];
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, false, ep, sizeof ep));
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, true, rep, sizeof rep));
    EXPECT_TRUE(strncmp(ep, "tcp://127.0.0.1:", 16) == 0 && port_of(ep) > 0);
    EXPECT_STATUS(kvbm_vllm_pub_endpoint(p, false, ep, 5), KVBM_EOVERFLOW);
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, false, ep, sizeof ep));
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    EXPECT_EQ(zmq_connect(sub, ep), 0);
    EXPECT_EQ(zmq_connect(dealer, rep), 0);
    uint64_t seq = 99, first = 99;
    EXPECT_OK(kvbm_vllm_pub_send(p, &PROBE, &first));
    EXPECT_EQ(first, 0); /* numbering starts at 0 */
    ASSERT_TRUE(sync_sub(p, sub, &seq));
    uint64_t base = seq + 1;
    enum { N = 6 };
    tbatch tb[N];
    for (int i = 0; i < N; i++) {
        make_batch(&tb[i], i);
        EXPECT_OK(kvbm_vllm_pub_send(p, &tb[i].b, &seq));
        EXPECT_EQ(seq, base + (uint64_t)i);
    }
    vsp *s = vsp_new();
    for (int i = 0; i < N; i++) {
        zmq_msg_t f[4];
        int n = recv_frames(sub, f, 4, 10000);
        EXPECT_EQ(n, 3);
        if (n != 3) {
            close_frames(f, n);
            break;
        }
        EXPECT_TRUE(zmq_msg_size(&f[0]) == 4 && memcmp(zmq_msg_data(&f[0]), "kv@0", 4) == 0);
        EXPECT_EQ(zmq_msg_size(&f[1]), 8);
        EXPECT_EQ(be_read(zmq_msg_data(&f[1])), base + (uint64_t)i);
        kvbm_vllm_batch d;
        EXPECT_OK(kvbm_vllm_batch_decode(zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), NULL, &d, &s->sp));
        EXPECT_TRUE(d.ts == tb[i].b.ts && d.n_events == tb[i].b.n_events);
        EXPECT_TRUE(((const uint8_t *)zmq_msg_data(&f[2]))[11] >> 4 == 0x8); /* map form by default */
        close_frames(f, 3);
    }
    /* replay from base + 2: answers base+2 .. base+N-1, then the end marker */
    uint8_t req[8];
    for (int i = 0; i < 8; i++) req[i] = (uint8_t)((base + 2) >> (56 - 8 * i));
    EXPECT_EQ(zmq_send(dealer, "", 0, ZMQ_SNDMORE), 0);
    EXPECT_EQ(zmq_send(dealer, req, 8, 0), 8);
    for (uint64_t want = base + 2;; want++) {
        zmq_msg_t f[4];
        int n = recv_frames(dealer, f, 4, 10000);
        ASSERT_EQ(n, 3);
        EXPECT_EQ(zmq_msg_size(&f[0]), 0);
        uint64_t got = be_read(zmq_msg_data(&f[1]));
        if (got == KVBM_VLLM_REPLAY_END) {
            EXPECT_EQ(want, base + N);
            EXPECT_EQ(zmq_msg_size(&f[2]), 0);
            close_frames(f, 3);
            break;
        }
        EXPECT_EQ(got, want);
        kvbm_vllm_batch d;
        EXPECT_OK(kvbm_vllm_batch_decode(zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), NULL, &d, &s->sp));
        EXPECT_TRUE(d.ts == tb[want - base].b.ts);
        close_frames(f, 3);
        ASSERT_TRUE(want < base + N);
    }
    /* a malformed request is dropped and counted */
    EXPECT_EQ(zmq_send(dealer, "x", 1, 0), 1);
    kvbm_vllm_pub_stats st = { 0 };
    for (int i = 0; i < 200 && st.bad_requests == 0; i++) {
        sleep_ms(10);
        EXPECT_OK(kvbm_vllm_pub_get_stats(p, &st));
    }
    EXPECT_EQ(st.bad_requests, 1);
    EXPECT_EQ(st.replays, 1);
    EXPECT_EQ(st.replayed_batches, N - 2);
    EXPECT_EQ(st.batches, base + N);
    EXPECT_EQ(st.send_errors, 0);
    EXPECT_TRUE(st.bytes > 0);
    /* an unencodable batch uses no number */
    kvbm_vllm_event bad = { .type = (kvbm_vllm_event_type)9 };
    kvbm_vllm_batch bb = { 0, &bad, 1, false, 0 };
    EXPECT_STATUS(kvbm_vllm_pub_send(p, &bb, &seq), KVBM_EINVAL);
    EXPECT_OK(kvbm_vllm_pub_send_payload(p, (const uint8_t *)"\x93\x00\x90\xc0", 4, &seq));
    EXPECT_EQ(seq, base + N);
    EXPECT_OK(kvbm_vllm_pub_get_stats(p, &st));
    EXPECT_EQ(st.encode_errors, 1);
    zmq_close(sub);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    kvbm_vllm_pub_destroy(p);
    free(s);
}

/* the replay buffer keeps only the last replay_buffer batches */
KVBM_TEST(replay_buffer_bound)
{
    kvbm_vllm_pub_config c = KVBM_VLLM_PUB_CONFIG_INIT;
    c.endpoint = "tcp://127.0.0.1:*";
    c.replay_endpoint = "tcp://127.0.0.1:*";
    c.replay_buffer = 4;
    c.form = KVBM_VLLM_FORM_ARRAY;
    kvbm_vllm_pub *p = NULL;
    ASSERT_OK(kvbm_vllm_pub_create(&c, &p));
    tbatch tb;
    for (int i = 0; i < 10; i++) {
        make_batch(&tb, i);
        EXPECT_OK(kvbm_vllm_pub_send(p, &tb.b, NULL));
    }
    char rep[256];
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, true, rep, sizeof rep));
    void *ctx = zmq_ctx_new(), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    EXPECT_EQ(zmq_connect(dealer, rep), 0);
    static const uint8_t from0[8] = { 0 };
    zmq_send(dealer, "", 0, ZMQ_SNDMORE);
    zmq_send(dealer, from0, 8, 0);
    uint64_t seqs[8];
    int n_seqs = 0;
    vsp *s = vsp_new();
    for (;;) {
        zmq_msg_t f[4];
        int n = recv_frames(dealer, f, 4, 10000);
        ASSERT_EQ(n, 3);
        uint64_t got = be_read(zmq_msg_data(&f[1]));
        if (got != KVBM_VLLM_REPLAY_END && n_seqs < 8) {
            seqs[n_seqs++] = got;
            kvbm_vllm_batch d;
            EXPECT_OK(kvbm_vllm_batch_decode(zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), NULL, &d, &s->sp));
            EXPECT_TRUE(d.ts == 1000.0 + (double)got);
            EXPECT_TRUE(((const uint8_t *)zmq_msg_data(&f[2]))[11] >> 4 == 0x9); /* array form */
        }
        close_frames(f, 3);
        if (got == KVBM_VLLM_REPLAY_END) break;
        ASSERT_TRUE(n_seqs < 8);
    }
    EXPECT_EQ(n_seqs, 4);
    for (int i = 0; i < n_seqs; i++) EXPECT_EQ(seqs[i], 6 + (uint64_t)i);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    kvbm_vllm_pub_destroy(p);
    free(s);
}

/* DP rank r shifts the TCP port of both endpoints by r */
KVBM_TEST(dp_rank_shifts_ports)
{
    kvbm_vllm_pub *p = NULL;
    kvbm_status st = KVBM_EADDRINUSE;
    int port = 0, rport = 0;
    for (int attempt = 0; attempt < 20 && st == KVBM_EADDRINUSE; attempt++) {
        port = test_free_port();
        rport = test_free_port();
        char e1[64], e2[64];
        snprintf(e1, sizeof e1, "tcp://127.0.0.1:%d", port);
        snprintf(e2, sizeof e2, "tcp://127.0.0.1:%d", rport);
        kvbm_vllm_pub_config c = KVBM_VLLM_PUB_CONFIG_INIT;
        c.endpoint = e1;
        c.replay_endpoint = e2;
        c.dp_rank = 3;
        if (port > 0 && rport > 0 && port + 3 <= 65535 && rport + 3 <= 65535 && abs(port - rport) != 3)
            st = kvbm_vllm_pub_create(&c, &p);
    }
    ASSERT_OK(st);
    char ep[256], rep[256];
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, false, ep, sizeof ep));
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, true, rep, sizeof rep));
    EXPECT_EQ(port_of(ep), port + 3);
    EXPECT_EQ(port_of(rep), rport + 3);
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    char conn[64];
    snprintf(conn, sizeof conn, "tcp://127.0.0.1:%d", port + 3);
    EXPECT_EQ(zmq_connect(sub, conn), 0);
    uint64_t seq;
    EXPECT_TRUE(sync_sub(p, sub, &seq));
    zmq_close(sub);
    zmq_ctx_term(ctx);
    kvbm_vllm_pub_destroy(p);
}

KVBM_TEST(create_errors)
{
    kvbm_vllm_pub *p = NULL, *q = NULL;
    kvbm_vllm_pub_config c = KVBM_VLLM_PUB_CONFIG_INIT;
    c.endpoint = "tcp://127.0.0.1:*";
    c.dp_rank = 1; /* a wildcard port cannot be shifted */
    EXPECT_STATUS(kvbm_vllm_pub_create(&c, &p), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "tcp://127.0.0.1:*");
    c.endpoint = "tcp://127.0.0.1:65535";
    EXPECT_STATUS(kvbm_vllm_pub_create(&c, &p), KVBM_EINVAL);
    c.endpoint = "bogus://x";
    c.dp_rank = 0;
    EXPECT_STATUS(kvbm_vllm_pub_create(&c, &p), KVBM_EINVAL);
    c.endpoint = "tcp://127.0.0.1:*";
    c.hwm = -1;
    EXPECT_STATUS(kvbm_vllm_pub_create(&c, &p), KVBM_EINVAL);
    c.hwm = 0;
    ASSERT_OK(kvbm_vllm_pub_create(&c, &p));
    char ep[256];
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, false, ep, sizeof ep));
    EXPECT_STATUS(kvbm_vllm_pub_endpoint(p, true, ep, sizeof ep), KVBM_ENOENT);
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, false, ep, sizeof ep));
    c.endpoint = ep; /* the same address again */
    EXPECT_STATUS(kvbm_vllm_pub_create(&c, &q), KVBM_EADDRINUSE);
    EXPECT_TRUE(q == NULL);
    EXPECT_STATUS(kvbm_vllm_pub_create(&c, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_pub_send(p, NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_pub_send_payload(p, NULL, 3, NULL), KVBM_EINVAL);
    kvbm_vllm_pub_destroy(p);
    kvbm_vllm_pub_destroy(NULL);
}

/* ---- the independent Python consumer --------------------------------------------- */

static void python_consumer(kvbm_vllm_form form)
{
    kvbm_vllm_pub_config c = KVBM_VLLM_PUB_CONFIG_INIT;
    c.endpoint = "tcp://127.0.0.1:*";
    c.replay_endpoint = "tcp://127.0.0.1:*";
    c.form = form;
    kvbm_vllm_pub *p = NULL;
    ASSERT_OK(kvbm_vllm_pub_create(&c, &p));
    char ep[256], rep[256], script[512], ps[16], line[4096], want[4096];
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, false, ep, sizeof ep));
    ASSERT_OK(kvbm_vllm_pub_endpoint(p, true, rep, sizeof rep));
    snprintf(script, sizeof script, "%s/tests/ext/vllm/vllm_sub.py", KVBM_SOURCE_DIR);
    snprintf(ps, sizeof ps, "%d", port_of(ep));
    char *argv[] = { TEST_PYTHON, script, ps, NULL };
    test_proc sub;
    memset(&sub, 0, sizeof sub);
    bool up = test_proc_spawn(&sub, argv) && test_proc_expect(&sub, "READY", line, sizeof line, 20000);
    EXPECT_TRUE(up);
    /* probes until the consumer has one (it subscribes in the background) */
    uint64_t seq = 0;
    bool synced = false;
    for (int i = 0; up && i < 200 && !synced; i++) {
        EXPECT_OK(kvbm_vllm_pub_send(p, &PROBE, &seq));
        synced = test_proc_readline(&sub, line, sizeof line, 100) && strncmp(line, "MSG ", 4) == 0;
    }
    EXPECT_TRUE(synced);
    enum { N = 10 };
    tbatch tb[N];
    for (int i = 0; synced && i < N; i++) {
        make_batch(&tb[i], i);
        EXPECT_OK(kvbm_vllm_pub_send(p, &tb[i].b, NULL));
    }
    for (int i = 0; synced && i < N;) { /* skip the probes still in flight */
        if (!test_proc_readline(&sub, line, sizeof line, 20000)) {
            kvbm_test_fail(__FILE__, __LINE__, "consumer: no line for batch %d", i);
            break;
        }
        if (strstr(line, " -1.000 ") != NULL) continue;
        char c2[3500];
        canon(&tb[i].b, c2, sizeof c2);
        snprintf(want, sizeof want, "MSG %" PRIu64 " - %s", seq + 1 + (uint64_t)i, c2);
        EXPECT_STR_EQ(line, want);
        i++;
    }
    /* the consumer's own replay client: from real batch 7 on (3 batches, then the marker) */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "REPLAY %d %" PRIu64 "\n", port_of(rep), seq + 8);
    EXPECT_TRUE(synced && test_proc_write(&sub, cmd));
    for (int i = 7; synced && i <= N; i++) {
        ASSERT_TRUE(test_proc_readline(&sub, line, sizeof line, 20000));
        if (i == N) {
            EXPECT_STR_EQ(line, "REPLAYEND 3 0");
            break;
        }
        char c2[3500];
        canon(&tb[i].b, c2, sizeof c2);
        snprintf(want, sizeof want, "REPLAY %" PRIu64 " %s", seq + 1 + (uint64_t)i, c2);
        EXPECT_STR_EQ(line, want);
    }
    test_proc_write(&sub, "END\n");
    test_proc_stop(&sub, SIGTERM, 5000);
    kvbm_vllm_pub_destroy(p);
}

KVBM_TEST(python_consumer_map_form) { python_consumer(KVBM_VLLM_FORM_MAP); }
KVBM_TEST(python_consumer_array_form) { python_consumer(KVBM_VLLM_FORM_ARRAY); }
