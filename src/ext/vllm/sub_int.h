/* src/ext/vllm/sub_int.h - the ingress subscriber's internals (kvbm/vllm_sub.h).
 *
 * sub.c        lifecycle, the socket thread (SUB + monitor), frame parsing
 * sub_seq.c    sequence tracking: gaps, replay recovery, duplicates, restarts
 * sub_queue.c  the bounded queue between the socket thread and the consumer
 *
 * Catch-up rule (sub_seq.c, docs/design/vllm_sub.md "Catch-up after a connect"): after
 * every connect the subscriber replays from `expected`, with backoff, until the first
 * live message received after that connect proves its subscription active.
 *
 * Lock: the queue mutex only (unranked leaf; no kvbm lock is ever held with it, nothing is
 * called under it). The sequence state belongs to the socket thread alone.
 */
#ifndef KVBM_EXT_VLLM_SUB_INT_H
#define KVBM_EXT_VLLM_SUB_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <zmq.h>

#include "internal.h"
#include "kvbm/vllm_sub.h"

#define KVBM__VSUB_MOD "vllm_sub"
#define KVBM__VSUB_END UINT64_MAX /* the replay end marker, -1 as signed BE8 */

typedef struct kvbm__vsub_item {
    uint64_t  seq;
    bool      has_seq, recovered;
    zmq_msg_t msg; /* the payload frame, moved in */
} kvbm__vsub_item;

typedef struct kvbm__vsub_queue {
    pthread_mutex_t  mu;
    pthread_cond_t   cv;    /* CLOCK_MONOTONIC; signalled on push and wake */
    kvbm__vsub_item *ring;
    uint64_t         cap, head, tail;
    uint64_t         wakes;
} kvbm__vsub_queue;

kvbm_status kvbm__vsub_queue_init(kvbm__vsub_queue *q, uint64_t cap);
void kvbm__vsub_queue_destroy(kvbm__vsub_queue *q);
/* Move *@it in (its msg is taken over). false when full: @it is left to the caller. */
bool kvbm__vsub_queue_push(kvbm__vsub_queue *q, kvbm__vsub_item *it);
/* Take the oldest item into *@it (its msg now owned by the caller), waiting up to
 * @timeout_ms (< 0 forever). false on timeout or wake. */
bool kvbm__vsub_queue_pop(kvbm__vsub_queue *q, int timeout_ms, kvbm__vsub_item *it);
void kvbm__vsub_queue_wake(kvbm__vsub_queue *q);
uint64_t kvbm__vsub_queue_len(kvbm__vsub_queue *q);

typedef struct kvbm__vsub_counters {
    _Atomic uint64_t batches, consumed, gaps, recovered, unrecoverable, unrecoverable_gaps,
        duplicates, decode_errors, frame_errors, dropped, restarts, disconnects, connects,
        replays, replay_failures, catchups, next_seq;
    atomic_bool has_next_seq;
} kvbm__vsub_counters;

struct kvbm_vllm_sub {
    char            *endpoint, *replay_endpoint, *name;
    int              replay_timeout_ms;
    uint64_t         drain_max;   /* messages read at most when a connect drains the SUB */
    void            *zctx, *sock, *mon;
    pthread_t        thread;
    bool             thread_started;
    atomic_bool      stop;
    kvbm__vsub_queue q;
    kvbm__vsub_counters n;
    zmq_msg_t        cur;     /* the payload last handed to the consumer */
    kvbm_vllm_decode_space space; /* sub_decode.c; consumer thread only */
    size_t           space_cap;   /* the capacity of every pool of space */
    bool             cur_set;
    /* sequence state: socket thread only */
    bool             have_expected, have_live;
    uint64_t         expected, live_last;
    bool             disconnected;  /* monitor: lost, not reconnected yet */
    /* catch-up (socket thread only): armed at each connect, cleared by a live message */
    bool             catchup, catchup_failed;
    int              catchup_ivl_ms;
    uint64_t         catchup_at_ns;  /* CLOCK_MONOTONIC */
};

#define KVBM__VSUB_INC(s, field, v) atomic_fetch_add_explicit(&(s)->n.field, (v), memory_order_relaxed)

/* sub.c: queue one batch (moves *@msg; on a full queue it is closed and counted). */
void kvbm__vsub_deliver(kvbm_vllm_sub *s, uint64_t seq, bool has_seq, bool recovered, zmq_msg_t *msg);
/* sub_seq.c: a live 3-frame batch; decides deliver / recover / skip. */
void kvbm__vsub_on_live(kvbm_vllm_sub *s, uint64_t seq, zmq_msg_t *payload);
/* sub_seq.c: the resume request at start (config resume): replay from s->expected. */
void kvbm__vsub_resume(kvbm_vllm_sub *s);
/* sub_seq.c: a connect was seen and every message that arrived before it was read: arm
 * the catch-up (a no-op without a replay endpoint). */
void kvbm__vsub_catchup_arm(kvbm_vllm_sub *s);
/* sub_seq.c: how long the socket thread may wait before the next catch-up is due (at
 * most @max_ms). */
int kvbm__vsub_catchup_wait_ms(const kvbm_vllm_sub *s, int max_ms);
/* sub_seq.c: run the catch-up replay if it is armed, due and has a start (expected). */
void kvbm__vsub_catchup_tick(kvbm_vllm_sub *s);
/* sub_decode.c: free the decode space. */
void kvbm__vsub_space_free(kvbm_vllm_sub *s);
/* Big-endian u64 from up to 8 bytes (more: the first 8). */
uint64_t kvbm__vsub_be64(const uint8_t *p, size_t n);

#endif /* KVBM_EXT_VLLM_SUB_INT_H */
