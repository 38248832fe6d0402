/* src/events/events_int.h - events module internals (not installed): the broadcast
 * channel, the batcher and the test hooks. */
#ifndef KVBM_EVENTS_INT_H
#define KVBM_EVENTS_INT_H

#include "internal.h"
#include "kvbm/events.h"
#include "kvbm/events_pipeline.h"
#include "registry/registry_int.h"

/* ---- channel (channel.c) -------------------------------------------------------------
 * A multi-producer broadcast ring of 2^k event slots, written a batch at a time. A sender
 * takes the writer lock (a leaf kvbm__mutex, held only to copy one batch), moves `claimed`
 * past the batch, writes the events with plain stores (relaxed atomics: 16-byte hashes,
 * kinds one bit each, a 64-bit word at a time, to lines it asked ownership of two batches
 * earlier, channel.c) and publishes the batch with one release store of `published`. No
 * per-slot stamp, no atomic RMW per event: the ring lines travel to the subscriber's core
 * once, whole, and the producer's stores to them retire through the store buffer instead
 * of stalling on a locked instruction.
 * A subscriber reads [cursor, published) like a seqlock over the whole ring: it copies
 * the events (up to KVBM__SUB_BUF at once into its own buffer for kvbm_events_next), then
 * (acquire fence) reads `claimed`; a slot of position q was overwritten
 * iff claimed > q + capacity, and then the subscriber skips to the oldest available
 * position (claimed - capacity) and reports the loss. Events copied before they were
 * overwritten are delivered. Wakes: one check per batch - a
 * sender wakes the sleepers only once `published` reaches the lowest position one of them
 * waits for (`wake_at`: the next event for kvbm_events_next, a quarter of the ring for
 * the pipeline worker). Senders never wait for subscribers and never allocate. */
typedef struct kvbm__evhash {
    _Atomic uint64_t hi, lo;
} kvbm__evhash;

typedef struct kvbm__chan {
    /* writer line: touched by senders only */
    _Alignas(64) kvbm__mutex wlock;
    _Atomic uint64_t sent[2];    /* per kind (written under wlock) */
    uint64_t         ahead;      /* positions below it were prefetched for writing */
    uint64_t        *kshadow;    /* the senders' copy of `kbits` (under wlock): a partial
                                    word is completed without reading a reader's line */
    /* shared line: written once per batch, read by subscribers */
    _Alignas(64) _Atomic uint64_t claimed; /* positions handed out (under wlock) */
    _Atomic uint64_t published;  /* every event below it is written */
    _Atomic uint64_t wake_at;    /* lowest `published` a sleeping subscriber waits for
                                    (UINT64_MAX: none); reset by the wake */
    _Atomic uint32_t closed;     /* set under wlock: no event is published after it */
    /* read-only after creation: read by senders (the death hook) and subscribers, written
     * by nobody, so no line the subscribers read is invalidated by a sender's counters */
    _Alignas(64) uint64_t mask;
    kvbm__evhash        *hash;       /* capacity slots (4 per cache line) */
    _Atomic uint64_t    *kbits;      /* kinds: bit q & 63 of word (q & mask) / 64 is set
                                        iff position q is a Remove (512 per cache line) */
    struct kvbm__death_hook death;  /* the release handle in a handle's death slot */
    kvbm_attach_type     att_type;   /* release-handle attachment type (pooled) */
    struct kvbm__att_dtor att_dtor;  /* its destructor (looked up once) */
    /* sender counters: atomic RMWs once per thread-buffer flush, by senders only */
    _Alignas(64) _Atomic size_t refs; /* manager + subscribers + live release handles +
                                          thread-local buffers holding events */
    _Atomic size_t   senders;    /* the manager's unit + live release handles */
    _Atomic uint32_t ended;      /* senders reached 0 once: stream closed, its ref dropped */
    _Atomic uint64_t filtered, attach_failures, dropped_closed;
    /* subscriber side: lag counter, subscription count, sleeping subscribers */
    _Alignas(64) _Atomic uint64_t lost, subscribers;
    pthread_mutex_t      wmu;        /* sleeping subscribers only */
    pthread_cond_t       wcv;
} kvbm__chan;

/* The ring's capacity when the configuration leaves it 0 (DESIGN.md §9): 16 bytes (and
 * two bits) per slot, 4 MiB in all; ~11 ms of events of one producer thread in full flow
 * (~23 M/s), several scheduler time slices or wake-ups of a sleeping subscriber on a
 * shared VM (65536 slots, ~3 ms, still lost events in some runs; PERFORMANCE §39). */
#define KVBM__EVENTS_DEFAULT_CAPACITY 262144

/* Events a subscription copies out of the ring at once (kvbm_events_next): one read of
 * `claimed` (the line the senders write per batch) per copy instead of per event. */
#define KVBM__SUB_BUF 256

/* Hold-back of kvbm_events_next (channel.c): while the senders keep publishing, a waiting
 * subscriber copies only events at least this many positions behind `published` (an
 * eighth of smaller rings), so that it never reads - nor its hardware prefetcher pulls -
 * the lines the senders are writing or own ahead. 2048 slots: 32 KiB of hashes, 4 lines
 * of kind words. */
#define KVBM__SUB_HOLD 2048
/* ... and delivers held events at the latest after this long, or as soon as `published`
 * stood still for one look (the producer paused). */
#define KVBM__SUB_HOLD_NS 100000u

struct kvbm_events_sub {
    /* the owner thread's line (and `interrupted`, written once by another thread) */
    _Alignas(64) kvbm__chan *chan;
    uint64_t         mask;        /* the channel's, copied: no read of its lines per copy */
    const kvbm__evhash *hash;
    const _Atomic uint64_t *kbits;
    uint64_t         cursor;      /* next ring position to copy */
    uint64_t         avail;       /* `published` as last read */
    uint64_t         hold;        /* KVBM__SUB_HOLD, or an eighth of a smaller ring */
    uint64_t         lost;
    uint32_t         head, count; /* copied, not yet delivered: buf[head, head + count) */
    _Atomic uint32_t interrupted; /* kvbm__events_sub_interrupt */
    kvbm_event       buf[KVBM__SUB_BUF];
};

typedef struct kvbm__pending_event {
    uint64_t kind;
    kvbm_plh hash;
} kvbm__pending_event;

kvbm_status kvbm__chan_create(size_t capacity, kvbm__chan **out);
/* Broadcast @n <= 64 events at consecutive positions: hashes @h, the kind of event i in
 * bit i of @kinds (Create 0, Remove 1), @removes of them Removes (the bits set in @kinds,
 * which the callers know: counted once per thread-buffer flush instead of twice). One
 * writer-lock hold, one publish, one wake check; dropped (counted) after close. Any thread
 * holding no lock of rank >= KVBM_RANK_EVENTS; waits only for another sender's copy,
 * never for a subscriber. */
void kvbm__chan_send_bits(kvbm__chan *c, const kvbm_plh *h, uint64_t kinds, size_t n, size_t removes);
/* The same for any @n, as pending events: a send per 64. */
void kvbm__chan_send_many(kvbm__chan *c, const kvbm__pending_event *ev, size_t n);
void kvbm__chan_send(kvbm__chan *c, kvbm_event_kind kind, kvbm_plh h);
void kvbm__chan_close(kvbm__chan *c);
static inline void kvbm__chan_ref_n(kvbm__chan *c, size_t n)
{
    atomic_fetch_add_explicit(&c->refs, n, memory_order_relaxed);
}
static inline void kvbm__chan_ref(kvbm__chan *c) { kvbm__chan_ref_n(c, 1); }
void kvbm__chan_unref_n(kvbm__chan *c, size_t n); /* the last one frees */
void kvbm__chan_unref(kvbm__chan *c);
/* Sender accounting (the manager's unit, release handles): the first time the count
 * reaches 0 the stream ends. Memory is separate: every sender also holds a reference. */
void kvbm__chan_senders_add(kvbm__chan *c, int64_t delta);
kvbm_status kvbm__chan_subscribe(kvbm__chan *c, kvbm_events_sub **out);

/* Read up to @max events that are ready at @sub's cursor without waiting (the pipeline
 * worker's sweep: no clock read, no wake-up logic per event): their hashes into @h and
 * their kinds into @kinds, (max + 63) / 64 words (zeroed here), bit j % 64 of word j / 64
 * set iff event j is a Remove - the ring's own layout, so the copy is the hashes' plus a
 * shift per 64 events. Returns the number read; *@st is KVBM_OK, or KVBM_ELAGGED after
 * the events read (the cursor skipped, *@lost set, counted as in kvbm_events_next), or
 * KVBM_ECLOSED if the subscription was interrupted. A closed, drained stream is not
 * reported here: the caller falls back to kvbm__events_wait when this returns 0. The
 * subscription's owner thread only. */
size_t kvbm__events_next_bits(kvbm_events_sub *sub, kvbm_plh *h, uint64_t *kinds, size_t max,
                              uint64_t *lost, kvbm_status *st);

/* Sleep until @n events (>= 1) are ready at @sub's cursor, the stream is closed, the
 * subscription is interrupted, or CLOCK_MONOTONIC reaches @deadline_ns (0: no limit); no
 * spinning. Returns KVBM_ECLOSED if interrupted or closed and drained, else KVBM_OK (the
 * caller sweeps again: events may or may not be ready). The owner thread only. */
kvbm_status kvbm__events_wait(kvbm_events_sub *sub, uint64_t n, uint64_t deadline_ns);

/* Make a blocked kvbm_events_next() on @sub return KVBM_ECLOSED (now and from then on);
 * used by kvbm_events_pipeline_abort. Any thread. */
void kvbm__events_sub_interrupt(kvbm_events_sub *sub);

/* Keep @p's memory (its counters) alive past kvbm_events_pipeline_destroy, which stops the
 * worker and drops the stream at once either way; the last unref frees (and releases the
 * publisher). Used by the metrics source of export.c. Any thread. */
kvbm_events_pipeline *kvbm__events_pipeline_ref(kvbm_events_pipeline *p);
void kvbm__events_pipeline_unref(kvbm_events_pipeline *p);


/* Test hook: the release-handle attachment type of @m (attaching a NULL value of this type
 * in Multiple mode reproduces the attach-failure case of spec 20 §3.2). */
kvbm_attach_type kvbm__events_manager_attach_type(kvbm_events_manager *m);

#endif /* KVBM_EVENTS_INT_H */
