/* src/ext/vllm/sub.c - the vLLM ZMQ ingress subscriber (kvbm/vllm_sub.h): lifecycle, the
 * socket thread (SUB socket + its connection monitor), frame parsing, the consumer side. */
#include "sub_int.h"

#include <errno.h>
#include <stdio.h>

#define WHO          "vllm subscriber"
#define RECV_MS      100  /* receive timeout: the socket thread re-checks stop this often */
#define RECONNECT_MS 100
#define RECONNECT_MAX_MS 5000
#define BURST        256  /* messages read per wake before the monitor is looked at */

void kvbm__vsub_deliver(kvbm_vllm_sub *s, uint64_t seq, bool has_seq, bool recovered, zmq_msg_t *msg)
{
    kvbm__vsub_item it = { .seq = seq, .has_seq = has_seq, .recovered = recovered };
    zmq_msg_init(&it.msg);
    zmq_msg_move(&it.msg, msg);
    /* counted before the push, so a consumer that sees the batch sees the counters */
    KVBM__VSUB_INC(s, batches, 1);
    if (recovered) KVBM__VSUB_INC(s, recovered, 1);
    if (!kvbm__vsub_queue_push(&s->q, &it)) {
        KVBM__VSUB_INC(s, batches, (uint64_t)-1);
        if (recovered) KVBM__VSUB_INC(s, recovered, (uint64_t)-1);
        zmq_msg_close(&it.msg);
        if (KVBM__VSUB_INC(s, dropped, 1) == 0)
            kvbm__log(KVBM_LOG_WARN, KVBM__VSUB_MOD,
                      "%s: consumer queue full (%llu batches): dropping the newest (counted)",
                      s->name, (unsigned long long)s->q.cap);
    }
}

/* One message from the SUB socket: 3 frames [topic, seq, payload], 2 frames [topic,
 * payload]; anything else is dropped and counted. */
static void on_message(kvbm_vllm_sub *s)
{
    zmq_msg_t f[3];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->sock, 0) < 0) { /* cannot happen mid-message; be safe */
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 3) f[n] = m;
        else zmq_msg_close(&m);
        n++;
    }
    if (n == 3) {
        uint64_t seq = kvbm__vsub_be64(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]));
        kvbm__vsub_on_live(s, seq, &f[2]);
    } else if (n == 2) {
        kvbm__vsub_deliver(s, 0, false, false, &f[1]);
    } else if (KVBM__VSUB_INC(s, frame_errors, 1) == 0) {
        kvbm__log(KVBM_LOG_WARN, KVBM__VSUB_MOD,
                  "%s: dropped a message of %d frames (expected 2 or 3; counted from now on)", s->name, n);
    }
    for (int i = 0; i < n && i < 3; i++) zmq_msg_close(&f[i]);
    s->catchup = false; /* any message proves the subscription active (sub_seq.c) */
}

/* Read every message that is readable now (at most drain_max). The SUB socket has one
 * inbound pipe per connect endpoint, kept across reconnects: what the previous connection
 * delivered precedes what the new one delivers, and the I/O thread wrote it before it
 * reported the new connection. So after a connect event and this drain, every message
 * read came over the new connection. */
static void drain(kvbm_vllm_sub *s)
{
    for (uint64_t i = 0; i < s->drain_max && !atomic_load_explicit(&s->stop, memory_order_relaxed); i++) {
        zmq_pollitem_t one = { s->sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&one, 1, 0) <= 0) break;
        on_message(s);
    }
}

/* A monitor event: [u16 event, u32 value][endpoint]. */
static void on_monitor(kvbm_vllm_sub *s)
{
    zmq_msg_t a, b;
    zmq_msg_init(&a);
    zmq_msg_init(&b);
    if (zmq_msg_recv(&a, s->mon, ZMQ_DONTWAIT) < 0) goto out;
    if (zmq_msg_more(&a)) zmq_msg_recv(&b, s->mon, 0);
    if (zmq_msg_size(&a) < 2) goto out;
    uint16_t ev;
    memcpy(&ev, zmq_msg_data(&a), 2);
    if (ev == ZMQ_EVENT_CONNECTED) {
        KVBM__VSUB_INC(s, connects, 1);
        if (s->disconnected)
            kvbm__log(KVBM_LOG_INFO, KVBM__VSUB_MOD, "%s: reconnected to %s", s->name, s->endpoint);
        s->disconnected = false;
        drain(s);
        kvbm__vsub_catchup_arm(s);
    } else if (ev == ZMQ_EVENT_DISCONNECTED) {
        KVBM__VSUB_INC(s, disconnects, 1);
        s->disconnected = true;
        kvbm__log(KVBM_LOG_WARN, KVBM__VSUB_MOD,
                  "%s: ingress %s disconnected; retrying every %d-%d ms", s->name, s->endpoint,
                  RECONNECT_MS, RECONNECT_MAX_MS);
    }
out:
    zmq_msg_close(&a);
    zmq_msg_close(&b);
}

static void *socket_thread(void *arg)
{
    kvbm_vllm_sub *s = arg;
    if (s->have_expected && s->replay_endpoint) kvbm__vsub_resume(s);
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        zmq_pollitem_t it[2] = { { s->sock, 0, ZMQ_POLLIN, 0 }, { s->mon, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll(it, 2, kvbm__vsub_catchup_wait_ms(s, RECV_MS)) > 0) {
            if (it[1].revents & ZMQ_POLLIN) on_monitor(s);
            for (int i = 0; i < BURST && !atomic_load_explicit(&s->stop, memory_order_relaxed); i++) {
                zmq_pollitem_t one = { s->sock, 0, ZMQ_POLLIN, 0 };
                if (i > 0 && zmq_poll(&one, 1, 0) <= 0) break;
                if (i == 0 && !(it[0].revents & ZMQ_POLLIN)) break;
                on_message(s);
            }
        }
        kvbm__vsub_catchup_tick(s);
    }
    return NULL;
}

static bool tcp_endpoint_ok(const char *ep)
{
    const char *c = ep && !strncmp(ep, "tcp://", 6) ? strrchr(ep + 6, ':') : NULL;
    return c && c > ep + 6 && c[1] >= '0' && c[1] <= '9';
}

static char *dup_str(const char *v)
{
    size_t n = strlen(v) + 1;
    char *d = kvbm__malloc(n);
    if (d) memcpy(d, v, n);
    return d;
}

static kvbm_status zfail(const char *what, const char *ep)
{
    int e = zmq_errno();
    kvbm__set_error("%s: %s %s failed: %s", WHO, what, ep, zmq_strerror(e));
    return e == ENOMEM ? KVBM_ENOMEM : KVBM_ECONNECT;
}

static kvbm_status open_sockets(kvbm_vllm_sub *s)
{
    if (!(s->zctx = zmq_ctx_new())) return zfail("zmq_ctx_new for", s->endpoint);
    if (!(s->sock = zmq_socket(s->zctx, ZMQ_SUB))) return zfail("zmq_socket for", s->endpoint);
    int zero = 0, one = 1, rcv = RECV_MS, ivl = RECONNECT_MS, ivl_max = RECONNECT_MAX_MS;
    int hwm = (int)(s->q.cap < 100000 ? 100000 : s->q.cap);
    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s->sock, ZMQ_RCVTIMEO, &rcv, sizeof rcv);
    zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    zmq_setsockopt(s->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one);
    zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    s->drain_max = 2 * (uint64_t)hwm; /* more than the pipe can hold */
    zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "", 0);
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://kvbm-vllm-sub-%p", (void *)s);
    if (zmq_socket_monitor(s->sock, mon, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return zfail("zmq_socket_monitor for", s->endpoint);
    if (!(s->mon = zmq_socket(s->zctx, ZMQ_PAIR))) return zfail("zmq_socket (monitor) for", s->endpoint);
    zmq_setsockopt(s->mon, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s->mon, mon) != 0) return zfail("monitor connect for", s->endpoint);
    if (zmq_connect(s->sock, s->endpoint) != 0) return zfail("connect to", s->endpoint);
    return KVBM_OK;
}

kvbm_status kvbm_vllm_sub_create(const kvbm_vllm_sub_config *cfg, kvbm_vllm_sub **out)
{
    if (!cfg || !out) {
        kvbm__set_error("%s: NULL %s", WHO, !cfg ? "config" : "out");
        return KVBM_EINVAL;
    }
    *out = NULL;
    if (!tcp_endpoint_ok(cfg->endpoint)) {
        kvbm__set_error("%s: bad endpoint \"%s\" (expected tcp://HOST:PORT)", WHO,
                        cfg->endpoint ? cfg->endpoint : "(null)");
        return KVBM_EINVAL;
    }
    if (cfg->replay_endpoint && !tcp_endpoint_ok(cfg->replay_endpoint)) {
        kvbm__set_error("%s: bad replay endpoint \"%s\" (expected tcp://HOST:PORT)", WHO,
                        cfg->replay_endpoint);
        return KVBM_EINVAL;
    }
    if (cfg->resume && !cfg->replay_endpoint) {
        kvbm__set_error("%s: resume from %llu needs a replay endpoint (%s)", WHO,
                        (unsigned long long)cfg->start_seq, cfg->endpoint);
        return KVBM_EINVAL;
    }
    kvbm_vllm_sub *s = kvbm__calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->replay_timeout_ms = cfg->replay_timeout_ms > 0 ? cfg->replay_timeout_ms : 2000;
    if (!(s->endpoint = dup_str(cfg->endpoint)) ||
        (cfg->replay_endpoint && !(s->replay_endpoint = dup_str(cfg->replay_endpoint))) ||
        !(s->name = dup_str(cfg->name ? cfg->name : cfg->endpoint)))
        goto nomem;
    kvbm_status st = kvbm__vsub_queue_init(&s->q, cfg->queue_capacity ? cfg->queue_capacity : 4096);
    if (st != KVBM_OK) {
        kvbm_vllm_sub_destroy(s);
        return st;
    }
    if (cfg->resume) {
        s->expected = cfg->start_seq;
        s->have_expected = true;
        atomic_store(&s->n.next_seq, cfg->start_seq);
        atomic_store(&s->n.has_next_seq, true);
    }
    if ((st = open_sockets(s)) != KVBM_OK) {
        kvbm_vllm_sub_destroy(s);
        return st;
    }
    if (pthread_create(&s->thread, NULL, socket_thread, s) != 0) {
        kvbm_vllm_sub_destroy(s);
        kvbm__set_error("%s: cannot start the socket thread for %s", WHO, cfg->endpoint);
        return KVBM_EIO;
    }
    s->thread_started = true;
    *out = s;
    return KVBM_OK;
nomem:
    kvbm_vllm_sub_destroy(s);
    kvbm__set_error("%s: out of memory for %s", WHO, cfg->endpoint);
    return KVBM_ENOMEM;
}

void kvbm_vllm_sub_destroy(kvbm_vllm_sub *s)
{
    if (!s) return;
    atomic_store(&s->stop, true);
    if (s->thread_started) pthread_join(s->thread, NULL);
    if (s->sock) {
        zmq_socket_monitor(s->sock, NULL, 0);
        zmq_close(s->sock);
    }
    if (s->mon) zmq_close(s->mon);
    if (s->zctx) zmq_ctx_term(s->zctx);
    kvbm__vsub_queue_destroy(&s->q);
    if (s->cur_set) zmq_msg_close(&s->cur);
    kvbm__vsub_space_free(s);
    kvbm__free(s->endpoint);
    kvbm__free(s->replay_endpoint);
    kvbm__free(s->name);
    kvbm__free(s);
}

kvbm_status kvbm_vllm_sub_recv(kvbm_vllm_sub *s, int timeout_ms, kvbm_vllm_sub_msg *out)
{
    if (!s || !out) {
        kvbm__set_error("%s: NULL %s", WHO, !s ? "subscriber" : "out");
        return KVBM_EINVAL;
    }
    if (s->cur_set) {
        zmq_msg_close(&s->cur);
        s->cur_set = false;
    }
    kvbm__vsub_item it;
    if (!kvbm__vsub_queue_pop(&s->q, timeout_ms, &it)) {
        kvbm__set_error("%s: no batch from %s within %d ms", WHO, s->name, timeout_ms);
        return KVBM_ETIMEDOUT;
    }
    zmq_msg_init(&s->cur);
    zmq_msg_move(&s->cur, &it.msg);
    zmq_msg_close(&it.msg);
    s->cur_set = true;
    KVBM__VSUB_INC(s, consumed, 1);
    *out = (kvbm_vllm_sub_msg){ .seq = it.seq, .has_seq = it.has_seq, .recovered = it.recovered,
                                .payload = zmq_msg_data(&s->cur), .len = zmq_msg_size(&s->cur) };
    return KVBM_OK;
}

void kvbm_vllm_sub_wake(kvbm_vllm_sub *s)
{
    if (s) kvbm__vsub_queue_wake(&s->q);
}

void kvbm_vllm_sub_count_decode_error(kvbm_vllm_sub *s)
{
    if (s) KVBM__VSUB_INC(s, decode_errors, 1);
}

const char *kvbm_vllm_sub_name(const kvbm_vllm_sub *s)
{
    return s ? s->name : "";
}

kvbm_status kvbm_vllm_sub_get_stats(const kvbm_vllm_sub *cs, kvbm_vllm_sub_stats *out)
{
    if (!cs || !out) {
        kvbm__set_error("%s: NULL %s", WHO, !cs ? "subscriber" : "out");
        return KVBM_EINVAL;
    }
    kvbm_vllm_sub *s = (kvbm_vllm_sub *)cs; /* atomics and the queue lock only */
#define LD(f) atomic_load_explicit(&s->n.f, memory_order_relaxed)
    *out = (kvbm_vllm_sub_stats){
        .batches = LD(batches), .consumed = LD(consumed), .gaps = LD(gaps),
        .recovered = LD(recovered), .unrecoverable = LD(unrecoverable),
        .unrecoverable_gaps = LD(unrecoverable_gaps), .duplicates = LD(duplicates),
        .decode_errors = LD(decode_errors), .frame_errors = LD(frame_errors),
        .dropped = LD(dropped), .restarts = LD(restarts), .disconnects = LD(disconnects),
        .connects = LD(connects), .replays = LD(replays), .replay_failures = LD(replay_failures),
        .catchups = LD(catchups),
        .queued = kvbm__vsub_queue_len(&s->q), .next_seq = LD(next_seq),
        .has_next_seq = LD(has_next_seq),
    };
#undef LD
    return KVBM_OK;
}
