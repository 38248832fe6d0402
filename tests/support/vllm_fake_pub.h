/* tests/support/vllm_fake_pub.h - a raw libzmq stand-in for a vLLM engine's KV-event sockets
 * (spec 20 §4.2.1), for the subscriber tests: a PUB and a ROUTER replay socket, both bound
 * to a free loopback port; the replay socket is served by a thread from a buffer of every
 * batch "sent" (also those the test withholds from the live stream, to make gaps). */
#ifndef KVBM_TEST_SUPPORT_VLLM_FAKE_PUB_H
#define KVBM_TEST_SUPPORT_VLLM_FAKE_PUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "kvbm/vllm_sub.h"

#define FPUB_MAX 20000

typedef struct fpub {
    void       *ctx, *pub, *router;
    char        pub_ep[64], rep_ep[64];
    pthread_t   th;
    bool        th_started;
    atomic_bool stop;
    pthread_mutex_t mu;
    uint8_t    *buf[FPUB_MAX];
    size_t      len[FPUB_MAX];
    uint64_t    n;        /* next sequence number */
    uint64_t    oldest;   /* the replay buffer starts here (fpub_forget) */
    atomic_uint replays;
    /* fpub_hold: replay answers end at held_from until one has been answered */
    bool        hold;
    uint64_t    held_from;
} fpub;

static inline void fpub_be8(uint8_t b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void *fpub_replay_thread(void *arg)
{
    fpub *f = arg;
    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t it = { f->router, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 20) <= 0) continue;
        zmq_msg_t fr[3];
        int k = 0, more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, f->router, 0) < 0) { zmq_msg_close(&m); break; }
            more = zmq_msg_more(&m);
            if (k < 3) fr[k++] = m;
            else zmq_msg_close(&m);
        }
        if (k == 3 && zmq_msg_size(&fr[2]) == 8) {
            atomic_fetch_add(&f->replays, 1);
            const uint8_t *p = zmq_msg_data(&fr[2]);
            uint64_t from = 0;
            for (int i = 0; i < 8; i++) from = (from << 8) | p[i];
            pthread_mutex_lock(&f->mu);
            uint64_t upto = f->hold ? f->held_from : f->n;
            f->hold = false;
            for (uint64_t s = from < f->oldest ? f->oldest : from; s < upto; s++) {
                uint8_t be[8];
                fpub_be8(be, s);
                zmq_send(f->router, zmq_msg_data(&fr[0]), zmq_msg_size(&fr[0]), ZMQ_SNDMORE);
                zmq_send(f->router, "", 0, ZMQ_SNDMORE);
                zmq_send(f->router, be, 8, ZMQ_SNDMORE);
                zmq_send(f->router, f->buf[s], f->len[s], 0);
            }
            pthread_mutex_unlock(&f->mu);
            uint8_t end[8];
            fpub_be8(end, UINT64_MAX);
            zmq_send(f->router, zmq_msg_data(&fr[0]), zmq_msg_size(&fr[0]), ZMQ_SNDMORE);
            zmq_send(f->router, "", 0, ZMQ_SNDMORE);
            zmq_send(f->router, end, 8, ZMQ_SNDMORE);
            zmq_send(f->router, "", 0, 0);
        }
        for (int i = 0; i < k; i++) zmq_msg_close(&fr[i]);
    }
    return NULL;
}

static inline bool fpub_bind(void *sock, const char *want, char *ep, size_t n)
{
    if (zmq_bind(sock, want) != 0) return false;
    size_t l = n;
    return zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &l) == 0;
}

/* Start on free ports (@pub_ep NULL) or on the given endpoint (a restart). */
static inline bool fpub_start(fpub *f, bool replay, const char *pub_ep)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->ctx = zmq_ctx_new();
    f->pub = zmq_socket(f->ctx, ZMQ_PUB);
    int zero = 0;
    zmq_setsockopt(f->pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(f->pub, ZMQ_SNDHWM, &zero, sizeof zero); /* unlimited: tests count exactly */
    if (!fpub_bind(f->pub, pub_ep ? pub_ep : "tcp://127.0.0.1:*", f->pub_ep, sizeof f->pub_ep))
        return false;
    if (replay) {
        f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
        zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(f->router, ZMQ_SNDHWM, &zero, sizeof zero);
        if (!fpub_bind(f->router, "tcp://127.0.0.1:*", f->rep_ep, sizeof f->rep_ep)) return false;
        if (pthread_create(&f->th, NULL, fpub_replay_thread, f) != 0) return false;
        f->th_started = true;
    }
    return true;
}

static inline void fpub_stop(fpub *f)
{
    atomic_store(&f->stop, true);
    if (f->th_started) pthread_join(f->th, NULL);
    if (f->router) zmq_close(f->router);
    if (f->pub) zmq_close(f->pub);
    if (f->ctx) zmq_ctx_term(f->ctx);
    for (uint64_t i = 0; i < f->n && i < FPUB_MAX; i++) free(f->buf[i]);
    pthread_mutex_destroy(&f->mu);
    memset(f, 0, sizeof *f);
}

/* Record the next batch (seq = f->n) in the replay buffer; send it live unless @withhold. */
static inline uint64_t fpub_send(fpub *f, const void *payload, size_t len, bool withhold)
{
    pthread_mutex_lock(&f->mu);
    uint64_t s = f->n++;
    f->buf[s] = malloc(len ? len : 1);
    memcpy(f->buf[s], payload, len);
    f->len[s] = len;
    pthread_mutex_unlock(&f->mu);
    if (!withhold && f->pub) {
        uint8_t be[8];
        fpub_be8(be, s);
        zmq_send(f->pub, "", 0, ZMQ_SNDMORE);
        zmq_send(f->pub, be, 8, ZMQ_SNDMORE);
        zmq_send(f->pub, payload, len, 0);
    }
    return s;
}

/* A batch whose payload is "batch-<seq>". */
static inline uint64_t fpub_send_n(fpub *f, bool withhold)
{
    char p[32];
    int l = snprintf(p, sizeof p, "batch-%llu", (unsigned long long)f->n);
    return fpub_send(f, p, (size_t)l, withhold);
}

/* Batches recorded from now on count as sent just AFTER the next replay answer: that
 * answer does not include them, later ones do. Recorded with withhold = true, they are
 * what an engine sends before a new subscription reaches its PUB (dropped there). */
static inline void fpub_hold(fpub *f)
{
    pthread_mutex_lock(&f->mu);
    f->hold = true;
    f->held_from = f->n;
    pthread_mutex_unlock(&f->mu);
}

/* Close the PUB socket (subscribers see a disconnect); the replay socket and the sequence
 * stay. While it is down, fpub_send records batches without sending them. */
static inline void fpub_pub_down(fpub *f)
{
    zmq_close(f->pub);
    f->pub = NULL;
}

/* A new PUB socket on the same endpoint (retried ~5 s while the old listener closes). */
static inline bool fpub_pub_up(fpub *f)
{
    int zero = 0;
    char ep[64];
    for (int i = 0; i < 500; i++) {
        void *p = zmq_socket(f->ctx, ZMQ_PUB);
        zmq_setsockopt(p, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(p, ZMQ_SNDHWM, &zero, sizeof zero);
        if (fpub_bind(p, f->pub_ep, ep, sizeof ep)) {
            f->pub = p;
            return true;
        }
        zmq_close(p);
        usleep(10000);
    }
    return false;
}

/* The replay buffer no longer holds batches below @upto. */
static inline void fpub_forget(fpub *f, uint64_t upto)
{
    pthread_mutex_lock(&f->mu);
    f->oldest = upto;
    pthread_mutex_unlock(&f->mu);
}

/* A raw message of @n frames (the last one @payload, the others empty). */
static inline void fpub_frames(fpub *f, int n, const char *payload)
{
    for (int i = 0; i < n - 1; i++) zmq_send(f->pub, "", 0, ZMQ_SNDMORE);
    zmq_send(f->pub, payload, strlen(payload), 0);
}

/* Until the subscriber is connected: send 2-frame "sync" messages until one arrives, then
 * drain them. false after ~10 s. */
static inline bool fpub_sync(fpub *f, kvbm_vllm_sub *s)
{
    for (int i = 0; i < 1000; i++) {
        fpub_frames(f, 2, "sync");
        kvbm_vllm_sub_msg m;
        if (kvbm_vllm_sub_recv(s, 10, &m) == KVBM_OK) {
            while (kvbm_vllm_sub_recv(s, 50, &m) == KVBM_OK) {
            }
            return true;
        }
    }
    return false;
}

/* Receive until a batch with a sequence number arrives (skipping sync messages). */
static inline kvbm_status fpub_recv_seq(kvbm_vllm_sub *s, int timeout_ms, kvbm_vllm_sub_msg *m)
{
    kvbm_status st;
    while ((st = kvbm_vllm_sub_recv(s, timeout_ms, m)) == KVBM_OK && !m->has_seq) {
    }
    return st;
}

/* Wait (bounded) until @pred over the subscriber's stats holds. */
#define FPUB_WAIT_STATS(sub, st, pred)                                                    \
    do {                                                                                  \
        for (int fpub_i = 0; fpub_i < 2000; fpub_i++) {                                   \
            kvbm_vllm_sub_get_stats((sub), &(st));                                        \
            if (pred) break;                                                              \
            usleep(5000);                                                                 \
        }                                                                                 \
    } while (0)

#endif
