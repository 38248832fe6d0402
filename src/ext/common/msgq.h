/* src/ext/common/msgq.h - the bounded message queue behind the transport publishers.
 *
 * Compiled into each transport library (kvbm_nats, kvbm_zmq); not part of the core.
 *
 * A ring of owned messages (subject + payload, copied at push) between any number of
 * publishing threads and ONE sender thread. Three cursors, head <= next <= tail:
 *   [head, next)  handed to the transport, not yet done (NATS: not yet confirmed by a
 *                 server round trip; ZeroMQ: empty, done as soon as handed to the socket)
 *   [next, tail)  waiting for the sender thread
 * push() never blocks: when tail - head == capacity the NEW message is dropped and counted
 * (KVBM_EFULL). rewind() moves next back to head after a lost connection, so everything
 * not confirmed is sent again, in order (at-least-once). done() frees [head, upto).
 *
 * Lock: one pthread mutex per queue (unranked leaf: nothing else is locked under it, and
 * the transport is never called under it). The condition variable wakes the sender (work,
 * stop, kvbm__msgq_wake) and the flush waiters (progress of head).
 */
#ifndef KVBM_EXT_MSGQ_H
#define KVBM_EXT_MSGQ_H

#include <pthread.h>

#include "internal.h"

typedef struct kvbm__msg {
    uint8_t *data;      /* subject, NUL, payload (one allocation of `size` bytes) */
    size_t   len;       /* payload length */
    size_t   subj_len;  /* strlen(subject) */
    size_t   size;      /* bytes allocated at data (>= subj_len + 1 + len) */
} kvbm__msg;

static inline const char *kvbm__msg_subject(const kvbm__msg *m) { return (const char *)m->data; }
static inline const uint8_t *kvbm__msg_payload(const kvbm__msg *m) { return m->data + m->subj_len + 1; }

typedef struct kvbm__msgq_counts {
    uint64_t accepted;  /* pushes that were queued */
    uint64_t dropped;   /* pushes refused because the queue was full (the newest message) */
    uint64_t done;      /* messages completed (confirmed / handed over) */
    uint64_t resent;    /* messages handed to the transport again after a rewind */
    uint64_t lost;      /* messages still queued when the queue was stopped (see stop) */
    uint64_t queued;    /* tail - head now */
} kvbm__msgq_counts;

/* Spare buffers a queue keeps (see kvbm__msgq.spare): at most this many (and at most its
 * capacity), of at most KVBM__MSGQ_SPARE_SIZE bytes each, KVBM__MSGQ_SPARE_BYTES in all. */
#define KVBM__MSGQ_SPARE       1024
#define KVBM__MSGQ_SPARE_SIZE  ((size_t)64 << 10)
#define KVBM__MSGQ_SPARE_BYTES ((size_t)4 << 20)

typedef struct kvbm__msgq {
    pthread_mutex_t mu;
    pthread_cond_t  cv;          /* CLOCK_MONOTONIC */
    kvbm__msg      *ring;
    uint64_t        cap;
    uint64_t        head, next, tail;
    uint64_t        resend_until; /* takes below this sequence are re-sends */
    bool            stop;
    uint64_t        wakes;       /* bumped by kvbm__msgq_wake */
    kvbm__msgq_counts n;
    /* Buffers of done messages kept for the next pushes, a stack (the last one kept is
     * offered first): a replay's pipeline pushes ~20,000 small messages a run, confirmed
     * (done) a chunk of up to 1024 at a time, and a malloc per push with its free on the
     * sender thread cost as much as the copy and the queueing together (docs/perf/
     * events.md). */
    kvbm__msg      *spare;       /* nspare_max entries (data, size) */
    size_t          nspare, nspare_max, spare_bytes;
} kvbm__msgq;


/* Allocate a ring of @cap messages (> 0). KVBM_OK or KVBM_ENOMEM (detail set). */
kvbm_status kvbm__msgq_init(kvbm__msgq *q, uint64_t cap);
/* Free every message still queued and the ring. No thread may use @q any more. */
void kvbm__msgq_destroy(kvbm__msgq *q);

/* Copy @subject and @buf[0..len) in. KVBM_OK; KVBM_EFULL when full (newest dropped,
 * counted); KVBM_ECLOSED after stop; KVBM_ENOMEM. @who names the caller in the detail. */
kvbm_status kvbm__msgq_push(kvbm__msgq *q, const char *who, const char *subject,
                            const uint8_t *buf, size_t len);

/* Sender side. Wait up to @timeout_ms (< 0: no limit) for a message at next; on success
 * *@m is that message (valid until it is done) and *@seq its sequence number, and next
 * is advanced. Returns false on timeout, on kvbm__msgq_wake, or once stopped. */
bool kvbm__msgq_take(kvbm__msgq *q, int timeout_ms, kvbm__msg *m, uint64_t *seq);
/* Non-blocking take (false when nothing waits or stopped). */
bool kvbm__msgq_try_take(kvbm__msgq *q, kvbm__msg *m, uint64_t *seq);
/* Non-blocking take of up to @max messages at once (one lock hold), taking another only
 * while the payload bytes taken are below @max_bytes. Fills @m[0, k), sequence numbers
 * *@seq .. *@seq + k - 1; returns k (0 when nothing waits or stopped). The same as k
 * kvbm__msgq_try_take calls. */
size_t kvbm__msgq_try_take_many(kvbm__msgq *q, kvbm__msg *m, size_t max, size_t max_bytes, uint64_t *seq);
/* Messages below sequence @upto are done: free them, advance head, wake flush waiters. */
void kvbm__msgq_done(kvbm__msgq *q, uint64_t upto);
/* Hand [head, next) out again (after a lost connection); counted as resent when taken. */
void kvbm__msgq_rewind(kvbm__msgq *q);
/* Sequence number next (the sender's "everything before this was handed out" mark). */
uint64_t kvbm__msgq_next(kvbm__msgq *q);
/* Wait up to @timeout_ms (< 0: no limit) or until stop/wake; returns false once stopped. */
bool kvbm__msgq_sleep(kvbm__msgq *q, int timeout_ms);
/* Wake the sender out of take/sleep (e.g. the transport reconnected). */
void kvbm__msgq_wake(kvbm__msgq *q);
/* Stop: pushes fail with KVBM_ECLOSED, take/sleep return false; what is queued is counted
 * as lost. Idempotent. */
void kvbm__msgq_stop(kvbm__msgq *q);

/* Flush: wait until every message accepted before the call is done. KVBM_OK, KVBM_ETIMEDOUT
 * after @timeout_ms (< 0: no limit), KVBM_ECLOSED if stopped first. @who names the caller. */
kvbm_status kvbm__msgq_wait_done(kvbm__msgq *q, const char *who, int timeout_ms);
/* Snapshot of the counters. */
void kvbm__msgq_counts_get(kvbm__msgq *q, kvbm__msgq_counts *out);

#endif /* KVBM_EXT_MSGQ_H */
