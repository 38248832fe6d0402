/* src/events/channel.c - the broadcast ring of the events manager (see events_int.h).
 *
 * Ordering. Batches are copied into the ring under the writer lock, in the order the
 * senders take it, and published in that order, so every subscriber sees the events in
 * position order. Decision 6 needs no more than that: the Remove of a dying registration
 * is published before the registry entry is removed (kvbm__defer_run), and the next
 * Create of the hash is sent after the registrar observed that removal under the shard
 * lock, so it gets a later position.
 *
 * Validation. A writer stores `claimed` (release fence) before it overwrites any slot, so
 * a subscriber that copied slots and then (acquire fence) reads `claimed` <= q + capacity
 * knows slot q was not overwritten while it copied (a seqlock over the whole ring; the
 * slot words are relaxed atomics).
 *
 * Waking. A subscriber about to sleep lowers wake_at to the position it waits for under
 * wmu, re-checks (seq_cst fence), then sleeps on wcv. A sender publishes, fences, and
 * only if `published` reached wake_at resets it and broadcasts under wmu: at least one of
 * the two sees the other (Dekker), and a burst of sends costs one wake, not one per batch.
 * Sleepers woken for another's lower position re-register theirs.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "events/events_int.h"

/* Ownership. A subscriber on the other core holds the ring lines it read; a sender's
 * store to such a line waits for an ownership round trip, and the unlock's locked
 * instruction right after the batch waits for every such store. So a sender asks for the
 * lines two batches ahead (own_ahead: prefetchw of the slots of one lap ago, read long
 * since) and writes hashes and kind words with plain stores to lines it mostly owns by
 * then. (Session 10 wrote the hashes with streaming stores instead: no ownership wait, but
 * the locked instruction then waited for the write-combining buffers to reach memory,
 * ~4 % of the producer's time even without a subscriber; PERFORMANCE §33.) */
static inline void slot_store(_Atomic uint64_t *p, uint64_t v)
{
    atomic_store_explicit(p, v, memory_order_relaxed);
}

/* prefetchw (0F 0D /1; a no-op on x86-64 processors without it): __builtin_prefetch(p, 1)
 * is a plain prefetcht0 unless the whole build targets prfchw. */
static inline void prefetch_w(const void *p)
{
#if defined(__x86_64__)
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1);
#endif
}

/* Slots a batch asks ownership for ahead of itself (a quarter of smaller rings). */
#define AHEAD 128

/* Ask for the lines of positions up to @from + 2 * AHEAD not asked for yet (from +
 * AHEAD at least): with batches of up to AHEAD events, every line is asked for at least
 * one batch before it is written, and none that a subscriber less than a lap behind may
 * still read. Writer lock held. */
static inline void own_ahead(kvbm__chan *c, uint64_t from)
{
    uint64_t mask = c->mask, d = mask + 1 >= 4 * AHEAD ? AHEAD : (mask + 1) / 4;
    uint64_t a = c->ahead > from + d ? c->ahead : from + d, end = from + 2 * d;
    for (uint64_t q = a & ~(uint64_t)3; q < end; q += 4) prefetch_w(&c->hash[q & mask]);
    for (uint64_t q = a & ~(uint64_t)511; q < end; q += 512) prefetch_w(&c->kbits[(q & mask) >> 6]);
    c->ahead = end;
}

/* Store @n hashes into the slots from @slot. */
static inline void put_run(kvbm__evhash *slot, const kvbm_plh *h, uint64_t n)
{
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (uint64_t j = 0; j < n; j++) {
        slot_store(&slot[j].hi, h[j].hi);
        slot_store(&slot[j].lo, h[j].lo);
    }
}

/* Write @n events (n <= 64; kind of event i: bit i of @kinds) from ring position @pos:
 * the hashes slot by slot, the kinds a word of 64 at a time, completed from the senders'
 * copy (kshadow) when the batch covers part of it. Writer lock held. */
static void put_events(kvbm__chan *c, uint64_t pos, const kvbm_plh *h, uint64_t kinds, uint64_t n)
{
    uint64_t mask = c->mask, cap = mask + 1;
    kvbm__evhash *hash = c->hash; /* locals: the atomic stores may alias *c */
    uint64_t *shadow = c->kshadow;
    _Atomic uint64_t *kbits = c->kbits;
    while (n > 0) {
        uint64_t k = pos & mask, b = k & 63;
        uint64_t run = 64 - b;
        if (run > cap - k) run = cap - k; /* a ring under 64 slots wraps inside the word */
        if (run > n) run = n;
        put_run(&hash[k], h, run);
        uint64_t low = run == 64 ? ~(uint64_t)0 : ((uint64_t)1 << run) - 1;
        uint64_t word = (shadow[k >> 6] & ~(low << b)) | (kinds & low) << b;
        shadow[k >> 6] = word;
        slot_store(&kbits[k >> 6], word);
        kinds = run == 64 ? 0 : kinds >> run;
        pos += run;
        h += run;
        n -= run;
    }
}

kvbm_status kvbm__chan_create(size_t capacity, kvbm__chan **out)
{
    kvbm__chan *c = kvbm__aligned_alloc(64, sizeof *c);
    if (c == NULL) return KVBM_ENOMEM;
    memset(c, 0, sizeof *c);
    size_t words = (capacity + 63) / 64, kbytes = (words * 8 + 63) / 64 * 64;
    c->hash = kvbm__aligned_alloc(64, capacity * sizeof *c->hash);
    c->kbits = kvbm__aligned_alloc(64, kbytes);
    c->kshadow = kvbm__aligned_alloc(64, kbytes);
    if (c->hash == NULL || c->kbits == NULL || c->kshadow == NULL) {
        kvbm__free(c->hash);
        kvbm__free(c->kbits);
        kvbm__free(c->kshadow);
        kvbm__free(c);
        return KVBM_ENOMEM;
    }
    for (size_t i = 0; i < capacity; i++) {
        atomic_init(&c->hash[i].hi, 0);
        atomic_init(&c->hash[i].lo, 0);
    }
    for (size_t i = 0; i < words; i++) {
        atomic_init(&c->kbits[i], 0);
        c->kshadow[i] = 0;
    }
    c->mask = capacity - 1;
    kvbm__mutex_init(&c->wlock, KVBM_RANK_EVENTS);
    atomic_init(&c->wake_at, UINT64_MAX);
    atomic_init(&c->senders, 1);
    atomic_init(&c->refs, 1);
    kvbm__cond_init_monotonic(&c->wcv);
    pthread_mutex_init(&c->wmu, NULL);
    *out = c;
    return KVBM_OK;
}

static void wake_all(kvbm__chan *c)
{
    pthread_mutex_lock(&c->wmu);
    atomic_store_explicit(&c->wake_at, UINT64_MAX, memory_order_relaxed);
    pthread_cond_broadcast(&c->wcv);
    pthread_mutex_unlock(&c->wmu);
}

static inline void add_relaxed(_Atomic uint64_t *v, uint64_t n) /* single writer */
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n, memory_order_relaxed);
}

void kvbm__chan_send_bits(kvbm__chan *c, const kvbm_plh *h, uint64_t kinds, size_t n, size_t removes)
{
    kvbm__assert_internal(removes == (size_t)__builtin_popcountll(kinds) && removes <= n);
    if (n == 0) return;
    kvbm__lock(&c->wlock);
    if (KVBM_UNLIKELY(atomic_load_explicit(&c->closed, memory_order_relaxed))) {
        kvbm__unlock(&c->wlock);
        atomic_fetch_add_explicit(&c->dropped_closed, n, memory_order_relaxed);
        return;
    }
    uint64_t pos = atomic_load_explicit(&c->claimed, memory_order_relaxed);
    atomic_store_explicit(&c->claimed, pos + n, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* `claimed` before any slot is overwritten */
    own_ahead(c, pos + n);
    put_events(c, pos, h, kinds, n);
    atomic_store_explicit(&c->published, pos + n, memory_order_release);
    if (removes < n) add_relaxed(&c->sent[0], n - removes);
    if (removes > 0) add_relaxed(&c->sent[1], removes);
    kvbm__unlock(&c->wlock);
    atomic_thread_fence(memory_order_seq_cst);
    if (KVBM_UNLIKELY(pos + n >= atomic_load_explicit(&c->wake_at, memory_order_relaxed))) wake_all(c);
}

void kvbm__chan_send_many(kvbm__chan *c, const kvbm__pending_event *ev, size_t n)
{
    kvbm_plh h[64];
    while (n > 0) {
        size_t k = n < 64 ? n : 64, removes = 0;
        uint64_t kinds = 0;
        for (size_t i = 0; i < k; i++) {
            h[i] = ev[i].hash;
            kinds |= (ev[i].kind & 1) << i; /* Create 0, Remove 1 */
            removes += ev[i].kind & 1;
        }
        kvbm__chan_send_bits(c, h, kinds, k, removes);
        ev += k;
        n -= k;
    }
}

void kvbm__chan_send(kvbm__chan *c, kvbm_event_kind kind, kvbm_plh h)
{
    kvbm__chan_send_bits(c, &h, (uint64_t)kind & 1, 1, (size_t)kind & 1);
}

void kvbm__chan_close(kvbm__chan *c)
{
    kvbm__lock(&c->wlock); /* after it, no batch is published */
    atomic_store_explicit(&c->closed, 1, memory_order_seq_cst);
    kvbm__unlock(&c->wlock);
    wake_all(c);
}

void kvbm__chan_senders_add(kvbm__chan *c, int64_t delta)
{
    if (delta == 0) return;
    size_t old = atomic_fetch_add_explicit(&c->senders, (size_t)delta, memory_order_acq_rel);
    if (old + (size_t)delta != 0) return;
    /* the last sender is gone: end the stream, once (a late +1 - a registration racing
     * with the manager's release - can revive the count; its events are then dropped) */
    if (atomic_exchange_explicit(&c->ended, 1, memory_order_acq_rel) == 0) kvbm__chan_close(c);
}

void kvbm__events_type_put(kvbm_attach_type t); /* manager.c: the release-type pool */

void kvbm__chan_unref_n(kvbm__chan *c, size_t n)
{
    if (atomic_fetch_sub_explicit(&c->refs, n, memory_order_acq_rel) != n) return;
    if (c->att_type != 0) kvbm__events_type_put(c->att_type);
    pthread_mutex_destroy(&c->wmu);
    pthread_cond_destroy(&c->wcv);
    kvbm__mutex_destroy(&c->wlock);
    kvbm__free(c->hash);
    kvbm__free(c->kbits);
    kvbm__free(c->kshadow);
    kvbm__free(c);
}

void kvbm__chan_unref(kvbm__chan *c) { kvbm__chan_unref_n(c, 1); }

kvbm_status kvbm__chan_subscribe(kvbm__chan *c, kvbm_events_sub **out)
{
    kvbm_events_sub *s = kvbm__aligned_alloc(64, sizeof *s);
    if (s == NULL) {
        kvbm__set_error("kvbm_events_subscribe: out of memory");
        return KVBM_ENOMEM;
    }
    memset(s, 0, sizeof *s);
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->subscribers, 1, memory_order_relaxed);
    s->chan = c;
    s->mask = c->mask;
    s->hash = c->hash;
    s->kbits = c->kbits;
    s->hold = c->mask + 1 >= 8 * KVBM__SUB_HOLD ? KVBM__SUB_HOLD : (c->mask + 1) / 8;
    s->cursor = s->avail = atomic_load_explicit(&c->published, memory_order_seq_cst);
    *out = s;
    return KVBM_OK;
}

void kvbm_events_unsubscribe(kvbm_events_sub *sub)
{
    if (sub == NULL) return;
    atomic_fetch_sub_explicit(&sub->chan->subscribers, 1, memory_order_relaxed);
    kvbm__chan_unref(sub->chan);
    kvbm__free(sub);
}

uint64_t kvbm_events_sub_lost(const kvbm_events_sub *sub) { return sub != NULL ? sub->lost : 0; }

void kvbm__events_sub_interrupt(kvbm_events_sub *sub)
{
    atomic_store_explicit(&sub->interrupted, 1, memory_order_seq_cst);
    wake_all(sub->chan);
}

/* The copy-out formats of ring_copy: events (kvbm_events_next's buffer), or hashes and
 * kind bits (the pipeline worker: bit j % 64 of kinds[j / 64] is the kind of event j). */
typedef struct ring_out {
    kvbm_event *ev;     /* non-NULL: events */
    kvbm_plh   *h;      /* else hashes ... */
    uint64_t   *kinds;  /* ... and kinds, (max + 63) / 64 words, zeroed here */
    size_t      at;     /* index of the first event copied */
} ring_out;

/* Copy up to @max events at the cursor into @o and validate them, leaving the last @hold
 * published events in the ring. Returns the number copied (0: nothing published yet, or
 * only held events: sub->avail > sub->cursor then); on lag returns 0 with *@lagn set
 * (the cursor moved to the oldest position still available; counted). */
static size_t ring_copy(kvbm_events_sub *sub, const ring_out *o, size_t max, uint64_t *lagn, uint64_t hold)
{
    kvbm__chan *c = sub->chan;
    uint64_t pos = sub->cursor, mask = sub->mask;
    if (pos + hold >= sub->avail) {
        sub->avail = atomic_load_explicit(&c->published, memory_order_acquire);
        if (pos + hold >= sub->avail) return 0;
    }
    uint64_t ready = sub->avail - hold;
    uint64_t end = ready - pos > max ? pos + max : ready;
    /* a kind word at a time: up to 64 slots share one load of it (and a ring under 64
     * slots wraps inside the word) */
    for (uint64_t q = pos; q < end;) {
        uint64_t k = q & mask, run = 64 - (k & 63);
        if (run > mask + 1 - k) run = mask + 1 - k;
        if (run > end - q) run = end - q;
        uint64_t bits = atomic_load_explicit(&sub->kbits[k >> 6], memory_order_relaxed) >> (k & 63);
        const kvbm__evhash *src = &sub->hash[k];
        size_t j0 = o->at + (size_t)(q - pos);
        if (o->ev != NULL) {
            kvbm_event *e = &o->ev[j0];
            for (uint64_t j = 0; j < run; j++, bits >>= 1) {
                e[j].kind = (kvbm_event_kind)(bits & 1);
                e[j].hash.hi = atomic_load_explicit(&src[j].hi, memory_order_relaxed);
                e[j].hash.lo = atomic_load_explicit(&src[j].lo, memory_order_relaxed);
            }
        } else {
            kvbm_plh *h = &o->h[j0];
            for (uint64_t j = 0; j < run; j++) {
                h[j].hi = atomic_load_explicit(&src[j].hi, memory_order_relaxed);
                h[j].lo = atomic_load_explicit(&src[j].lo, memory_order_relaxed);
            }
            if (run < 64) bits &= ((uint64_t)1 << run) - 1;
            size_t w = j0 >> 6, b = j0 & 63; /* run <= 64: at most two output words */
            o->kinds[w] |= bits << b;
            if (b > 0 && b + run > 64) o->kinds[w + 1] |= bits >> (64 - b);
        }
        q += run;
    }
    atomic_thread_fence(memory_order_acquire); /* the copies before `claimed` */
    uint64_t claimed = atomic_load_explicit(&c->claimed, memory_order_relaxed);
    if (KVBM_UNLIKELY(claimed > pos + mask + 1)) { /* slot pos (at least) was overwritten */
        uint64_t n = claimed - (mask + 1) - pos;
        sub->cursor = claimed - (mask + 1);
        sub->lost += n;
        atomic_fetch_add_explicit(&c->lost, n, memory_order_relaxed);
        *lagn = n;
        return 0;
    }
    sub->cursor = end;
    return (size_t)(end - pos);
}

/* Move up to @max events of @sub's buffer to @h and @kinds (zeroed). */
static inline size_t buf_take(kvbm_events_sub *sub, kvbm_plh *h, uint64_t *kinds, size_t max)
{
    size_t k = sub->count < max ? sub->count : max;
    const kvbm_event *e = &sub->buf[sub->head];
    for (size_t i = 0; i < k; i++) {
        h[i] = e[i].hash;
        kinds[i >> 6] |= (uint64_t)(e[i].kind & 1) << (i & 63);
    }
    sub->head += (uint32_t)k;
    sub->count -= (uint32_t)k;
    return k;
}

/* kvbm_events_next's copy: refill the empty buffer from the ring. */
static inline bool buf_ready(kvbm_events_sub *sub, uint64_t *lagn, uint64_t hold)
{
    if (sub->count > 0) return true;
    sub->head = 0;
    ring_out o = { sub->buf, NULL, NULL, 0 };
    sub->count = (uint32_t)ring_copy(sub, &o, KVBM__SUB_BUF, lagn, hold);
    return sub->count > 0;
}

size_t kvbm__events_next_bits(kvbm_events_sub *sub, kvbm_plh *h, uint64_t *kinds, size_t max,
                              uint64_t *lost, kvbm_status *st)
{
    *st = KVBM_OK;
    if (atomic_load_explicit(&sub->interrupted, memory_order_acquire)) {
        *st = KVBM_ECLOSED;
        return 0;
    }
    memset(kinds, 0, (max + 63) / 64 * sizeof *kinds);
    size_t n = sub->count > 0 ? buf_take(sub, h, kinds, max) : 0; /* kvbm_events_next's copies first */
    while (n < max) {
        uint64_t lagn = 0;
        ring_out o = { NULL, h, kinds, n };
        size_t k = ring_copy(sub, &o, max - n, &lagn, 0);
        if (lagn > 0) {
            if (lost != NULL) *lost = lagn;
            *st = KVBM_ELAGGED;
            break;
        }
        if (k == 0) break;
        n += k;
    }
    return n;
}

static bool drained_closed(kvbm_events_sub *sub)
{
    /* closed is set under the writer lock after the last publish: seeing it, a reload of
     * `published` is final */
    kvbm__chan *c = sub->chan;
    return atomic_load_explicit(&c->closed, memory_order_seq_cst) &&
           sub->cursor >= atomic_load_explicit(&c->published, memory_order_seq_cst);
}

kvbm_status kvbm__events_wait(kvbm_events_sub *sub, uint64_t n, uint64_t deadline_ns)
{
    kvbm__chan *c = sub->chan;
    if (sub->count > 0) return KVBM_OK; /* copied events are ready */
    uint64_t want = sub->cursor + (n > 0 ? n : 1);
    pthread_mutex_lock(&c->wmu);
    if (want < atomic_load_explicit(&c->wake_at, memory_order_relaxed))
        atomic_store_explicit(&c->wake_at, want, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&c->published, memory_order_seq_cst) < want &&
        !atomic_load_explicit(&c->closed, memory_order_seq_cst) &&
        !atomic_load_explicit(&sub->interrupted, memory_order_seq_cst)) {
        uint64_t now;
        if (deadline_ns == 0) {
            pthread_cond_wait(&c->wcv, &c->wmu);
        } else if ((now = kvbm__now_ns()) < deadline_ns) {
            struct timespec ts;
            kvbm__deadline_after_ns(&ts, deadline_ns - now);
            (void)pthread_cond_timedwait(&c->wcv, &c->wmu, &ts);
        }
    }
    pthread_mutex_unlock(&c->wmu);
    if (atomic_load_explicit(&sub->interrupted, memory_order_acquire)) return KVBM_ECLOSED;
    return drained_closed(sub) ? KVBM_ECLOSED : KVBM_OK;
}

/* Idle time kvbm_events_next spends yielding before it sleeps: a producer in the middle
 * of a burst publishes again within microseconds, and a sleeping subscriber costs it a
 * wake-up syscall per batch. */
#define SPIN_NS 50000u
/* While yielding, the subscriber looks at the ring at most this often: each look takes the
 * shared line into its cache, and the sender's next store to it then waits for the line
 * to come back (an ownership round trip, and the sender's next locked instruction waits
 * for that store). Looking once per few batches instead of several times per batch lets
 * most publications hit the line in the sender's cache; the events wait a few
 * microseconds longer. (Sleeping POLL_NS with nanosleep instead of yielding was tried in
 * session 12: the producer's CPU time per block rose by ~25 % on a loaded machine - the
 * woken subscriber shared the producer's core; PERFORMANCE §39.) */
#define POLL_NS 10000u

/* Wait POLL_NS (less if @deadline, when non-zero, comes first) with `pause`, then yield
 * once. Session 11 called sched_yield in a loop for it: a system call every microsecond or
 * so, 40 % of the subscriber's samples in the guest kernel on this VM (pvm_irq_enable),
 * where a `pause` loop leaves the core's shared resources to the other hardware thread. */
static void pause_poll(uint64_t now, uint64_t deadline)
{
    uint64_t t = now;
    do {
        for (int i = 0; i < 32; i++) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    } while ((now = kvbm__now_ns()) - t < POLL_NS && (deadline == 0 || now < deadline));
    sched_yield();
}

/* Hold-back (KVBM__SUB_HOLD). A waiting call copies only events sub->hold behind
 * `published`: the ring lines the senders write next, and own ahead (own_ahead), stay in
 * their cache instead of travelling to the subscriber's core and back once per batch.
 * Held events are delivered once `published` stood still for one look (POLL_NS: the
 * producer paused or the stream closed), once they waited KVBM__SUB_HOLD_NS, or at the
 * call's deadline; kvbm_events_next(sub, 0, ...) holds nothing back. */
kvbm_status kvbm_events_next(kvbm_events_sub *sub, int timeout_ms, kvbm_event *out, uint64_t *lost)
{
    if (sub == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_next: %s is NULL", sub == NULL ? "sub" : "out");
        return KVBM_EINVAL;
    }
    uint64_t deadline = timeout_ms > 0 ? kvbm__now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    uint64_t idle_since = 0, held_since = 0, seen = 0, hold = timeout_ms != 0 ? sub->hold : 0;
    for (;;) {
        if (atomic_load_explicit(&sub->interrupted, memory_order_acquire)) return KVBM_ECLOSED;
        uint64_t lagn = 0; /* *out stays untouched on lag */
        if (buf_ready(sub, &lagn, hold)) {
            *out = sub->buf[sub->head++];
            sub->count--;
            return KVBM_OK;
        }
        if (lagn > 0) {
            if (lost != NULL) *lost = lagn;
            return KVBM_ELAGGED;
        }
        uint64_t now = kvbm__now_ns();
        if (sub->avail > sub->cursor) { /* events held back (hold > 0) */
            if (held_since == 0) {
                held_since = now;
            } else if (sub->avail == seen || now - held_since >= KVBM__SUB_HOLD_NS ||
                       (timeout_ms > 0 && now >= deadline)) {
                hold = 0; /* deliver them */
                continue;
            }
            seen = sub->avail;
            pause_poll(now, deadline);
            continue;
        }
        if (drained_closed(sub)) return KVBM_ECLOSED;
        if (timeout_ms == 0) return KVBM_ETIMEDOUT;
        if (timeout_ms > 0 && now >= deadline) return KVBM_ETIMEDOUT;
        if (idle_since == 0) idle_since = now;
        if (now - idle_since < SPIN_NS) {
            pause_poll(now, deadline);
            continue;
        }
        idle_since = 0;
        (void)kvbm__events_wait(sub, 1, timeout_ms < 0 ? 0 : deadline);
    }
}
