/* src/ext/vllm/sub_seq.c - sequence tracking of the ingress subscriber: gaps, recovery
 * through the engine's replay socket, duplicates, restarts (kvbm/vllm_sub.h).
 *
 * State (socket thread only): `expected` = the next sequence number to deliver (once
 * known); `live_last` = the last number seen on the live stream. A live batch s:
 *   s <= live_last      the engine restarted (its counter went back): start over at s
 *   s <  expected       delivered already (by a replay that ran ahead of the live stream)
 *   s >  expected       a gap: replay [expected, ...) first, then s if still needed
 * A replay answers every buffered batch from the requested number on, also those newer
 * than s; they are delivered at once and their live copies later skipped as duplicates.
 *
 * Catch-up: a gap is only seen when a LATER number arrives, so batches the engine sends
 * before this subscriber's subscription is active at its PUB (at start, or after a
 * reconnect), followed by silence, would never be seen missing. Hence: at every connect
 * the catch-up is armed; while armed, a replay from `expected` runs every
 * CATCHUP_FIRST_MS, doubling up to CATCHUP_MAX_MS; any live message disarms it (the
 * subscription is active, so every later batch arrives live or shows up as a gap).
 */
#include "sub_int.h"

#include <stdio.h>

#define CATCHUP_FIRST_MS 100
#define CATCHUP_MAX_MS   5000

uint64_t kvbm__vsub_be64(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    if (n > 8) n = 8;
    for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

static void set_expected(kvbm_vllm_sub *s, uint64_t v)
{
    s->expected = v;
    s->have_expected = true;
    atomic_store_explicit(&s->n.next_seq, v, memory_order_relaxed);
    atomic_store_explicit(&s->n.has_next_seq, true, memory_order_relaxed);
}

/* Batches [expected, upto) are lost for good. */
static void lose(kvbm_vllm_sub *s, uint64_t upto, const char *why)
{
    KVBM__VSUB_INC(s, unrecoverable, upto - s->expected);
    kvbm__log(KVBM_LOG_WARN, KVBM__VSUB_MOD, "%s: batches %llu..%llu lost (%s)", s->name,
              (unsigned long long)s->expected, (unsigned long long)(upto - 1), why);
}

/* Receive one multipart replay answer into @f (up to 3 frames kept), waiting up to the
 * replay timeout in slices of 100 ms (stop is checked between them). Returns the frame
 * count (more are discarded), 0 on timeout/error/stop. */
static int recv_answer(kvbm_vllm_sub *s, void *d, zmq_msg_t f[3])
{
    for (int waited = 0;; waited += 100) {
        if (atomic_load_explicit(&s->stop, memory_order_relaxed) || waited >= s->replay_timeout_ms)
            return 0;
        zmq_pollitem_t it = { d, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 100) > 0) break;
    }
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d, 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < n && i < 3; i++) zmq_msg_close(&f[i]);
            return 0;
        }
        more = zmq_msg_more(&m);
        if (n < 3) f[n] = m;
        else zmq_msg_close(&m);
        n++;
    }
    return n;
}

/* Ask the replay socket for everything from s->expected on and deliver what is new, in
 * order. Returns true if the answer was complete (end marker seen). An incomplete answer
 * is counted and logged (at debug when @quiet). */
static bool replay_from(kvbm_vllm_sub *s, bool quiet)
{
    KVBM__VSUB_INC(s, replays, 1);
    uint64_t from = s->expected;
    void *d = zmq_socket(s->zctx, ZMQ_DEALER);
    bool done = false;
    if (!d) goto out;
    int zero = 0, tmo = s->replay_timeout_ms;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_SNDTIMEO, &tmo, sizeof tmo);
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)(s->expected >> (56 - 8 * i));
    if (zmq_connect(d, s->replay_endpoint) != 0 || zmq_send(d, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(d, be, 8, 0) < 0)
        goto out;
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        zmq_msg_t f[3];
        int n = recv_answer(s, d, f);
        if (n == 0) break;
        /* [empty, seq, payload] (DEALER keeps the delimiter); tolerate [seq, payload] */
        int k = (n == 3 && zmq_msg_size(&f[0]) == 0) ? 1 : 0;
        bool ok = n - k == 2 && n <= 3;
        uint64_t seq = ok ? kvbm__vsub_be64(zmq_msg_data(&f[k]), zmq_msg_size(&f[k])) : 0;
        if (ok && seq == KVBM__VSUB_END) {
            done = true;
        } else if (!ok) {
            KVBM__VSUB_INC(s, frame_errors, 1);
        } else if (seq < s->expected) {
            KVBM__VSUB_INC(s, duplicates, 1);
        } else {
            if (seq > s->expected) lose(s, seq, "no longer in the engine's replay buffer");
            set_expected(s, seq + 1); /* before the consumer can see the batch */
            kvbm__vsub_deliver(s, seq, true, true, &f[k + 1]);
        }
        for (int i = 0; i < n && i < 3; i++) zmq_msg_close(&f[i]);
        if (done) break;
    }
out:
    if (!done && !atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        KVBM__VSUB_INC(s, replay_failures, 1);
        kvbm__log(quiet ? KVBM_LOG_DEBUG : KVBM_LOG_WARN, KVBM__VSUB_MOD,
                  "%s: replay from %llu at %s got no complete answer",
                  s->name, (unsigned long long)from, s->replay_endpoint);
    }
    if (d) zmq_close(d);
    return done;
}

void kvbm__vsub_resume(kvbm_vllm_sub *s)
{
    replay_from(s, false);
}

void kvbm__vsub_catchup_arm(kvbm_vllm_sub *s)
{
    if (!s->replay_endpoint) return;
    s->catchup = true;
    s->catchup_failed = false;
    s->catchup_ivl_ms = CATCHUP_FIRST_MS;
    s->catchup_at_ns = kvbm__now_ns() + (uint64_t)CATCHUP_FIRST_MS * 1000000u;
}

int kvbm__vsub_catchup_wait_ms(const kvbm_vllm_sub *s, int max_ms)
{
    if (!s->catchup || !s->have_expected) return max_ms;
    uint64_t now = kvbm__now_ns();
    if (now >= s->catchup_at_ns) return 0;
    uint64_t ms = (s->catchup_at_ns - now + 999999u) / 1000000u;
    return ms < (uint64_t)max_ms ? (int)ms : max_ms;
}

void kvbm__vsub_catchup_tick(kvbm_vllm_sub *s)
{
    /* without a start (no resume, nothing live yet) the first live batch defines it */
    if (!s->catchup || !s->have_expected || kvbm__now_ns() < s->catchup_at_ns) return;
    uint64_t from = s->expected;
    KVBM__VSUB_INC(s, catchups, 1);
    /* the first failure after a connect is a warning, repeats of it are debug */
    if (!replay_from(s, s->catchup_failed)) s->catchup_failed = true;
    if (s->expected > from)
        kvbm__log(KVBM_LOG_INFO, KVBM__VSUB_MOD,
                  "%s: caught up batches %llu..%llu through the replay socket (sent while the "
                  "subscription was not active yet)", s->name, (unsigned long long)from,
                  (unsigned long long)(s->expected - 1));
    s->catchup_ivl_ms = s->catchup_ivl_ms >= CATCHUP_MAX_MS / 2 ? CATCHUP_MAX_MS : 2 * s->catchup_ivl_ms;
    s->catchup_at_ns = kvbm__now_ns() + (uint64_t)s->catchup_ivl_ms * 1000000u;
}

void kvbm__vsub_on_live(kvbm_vllm_sub *s, uint64_t seq, zmq_msg_t *payload)
{
    if (s->have_live && seq <= s->live_last) {
        KVBM__VSUB_INC(s, restarts, 1);
        kvbm__log(KVBM_LOG_WARN, KVBM__VSUB_MOD,
                  "%s: sequence went back from %llu to %llu: the engine restarted", s->name,
                  (unsigned long long)s->live_last, (unsigned long long)seq);
        s->have_expected = false;
    }
    s->have_live = true;
    s->live_last = seq;
    if (s->have_expected && seq < s->expected) {
        KVBM__VSUB_INC(s, duplicates, 1);
        zmq_msg_close(payload);
        return;
    }
    if (s->have_expected && seq > s->expected) {
        KVBM__VSUB_INC(s, gaps, 1);
        if (s->replay_endpoint) replay_from(s, false);
        if (seq < s->expected) { /* the replay delivered it */
            KVBM__VSUB_INC(s, duplicates, 1);
            zmq_msg_close(payload);
            return;
        }
        if (seq > s->expected) {
            KVBM__VSUB_INC(s, unrecoverable_gaps, 1);
            lose(s, seq, s->replay_endpoint ? "the replay could not supply them" : "no replay endpoint");
        }
    }
    set_expected(s, seq + 1);
    kvbm__vsub_deliver(s, seq, true, false, payload);
}
