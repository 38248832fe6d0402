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

/* Non-temporal slot stores (x86-64): the subscriber on the other core holds the ring's lines
 * it read; a plain store to such a line waits for its ownership (a cross-core round trip per
 * line), a streaming store is posted to a write-combining buffer and invalidates the reader's
 * copy without the sender waiting. Streaming stores are weakly ordered: sfence after `claimed`
 * (the seqlock's guard must be visible before any overwritten slot) and before `published`.
 * Not under TSan, which cannot see them. */
#if defined(__SSE2__) && defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#  if defined(__has_feature)
#    if __has_feature(thread_sanitizer)
#      define KVBM__NO_STREAM 1
#    endif
#  endif
#  ifndef KVBM__NO_STREAM
#    include <emmintrin.h>
#    define KVBM__STREAM 1
#  endif
#endif

static inline void slot_put(kvbm__chan *c, uint64_t k, const kvbm__pending_event *e)
{
    atomic_store_explicit(&c->kind[k], (uint8_t)e->kind, memory_order_relaxed);
#ifdef KVBM__STREAM
    _mm_stream_si64((long long *)(void *)&c->hash[k].hi, (long long)e->hash.hi);
    _mm_stream_si64((long long *)(void *)&c->hash[k].lo, (long long)e->hash.lo);
#else
    atomic_store_explicit(&c->hash[k].hi, e->hash.hi, memory_order_relaxed);
    atomic_store_explicit(&c->hash[k].lo, e->hash.lo, memory_order_relaxed);
#endif
}

static inline void stream_fence(void)
{
#ifdef KVBM__STREAM
    _mm_sfence();
#endif
}

kvbm_status kvbm__chan_create(size_t capacity, kvbm__chan **out)
{
    kvbm__chan *c = kvbm__aligned_alloc(64, sizeof *c);
    if (c == NULL) return KVBM_ENOMEM;
    memset(c, 0, sizeof *c);
    c->hash = kvbm__aligned_alloc(64, capacity * sizeof *c->hash);
    c->kind = kvbm__aligned_alloc(64, (capacity + 63) / 64 * 64);
    if (c->hash == NULL || c->kind == NULL) {
        kvbm__free(c->hash);
        kvbm__free(c->kind);
        kvbm__free(c);
        return KVBM_ENOMEM;
    }
    for (size_t i = 0; i < capacity; i++) {
        atomic_init(&c->hash[i].hi, 0);
        atomic_init(&c->hash[i].lo, 0);
        atomic_init(&c->kind[i], 0);
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

void kvbm__chan_send_many(kvbm__chan *c, const kvbm__pending_event *ev, size_t n)
{
    if (n == 0) return;
    kvbm__lock(&c->wlock);
    if (KVBM_UNLIKELY(atomic_load_explicit(&c->closed, memory_order_relaxed))) {
        kvbm__unlock(&c->wlock);
        atomic_fetch_add_explicit(&c->dropped_closed, n, memory_order_relaxed);
        return;
    }
    uint64_t pos = atomic_load_explicit(&c->claimed, memory_order_relaxed), mask = c->mask;
    atomic_store_explicit(&c->claimed, pos + n, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* `claimed` before any slot is overwritten */
    stream_fence();
    /* the kind bytes are plain stores: ask for their lines (held by a reader) first, so the
     * ownership requests overlap the slot stores instead of queueing behind them */
    for (uint64_t q = pos & ~(uint64_t)63; q < pos + n; q += 64) __builtin_prefetch(&c->kind[q & mask], 1);
    uint64_t removes = 0;
    for (size_t i = 0; i < n; i++) {
        slot_put(c, (pos + i) & mask, &ev[i]);
        removes += ev[i].kind == KVBM_EVENT_REMOVE;
    }
    stream_fence(); /* every slot before `published` */
    atomic_store_explicit(&c->published, pos + n, memory_order_release);
    if (removes < n) add_relaxed(&c->sent[0], n - removes);
    if (removes > 0) add_relaxed(&c->sent[1], removes);
    kvbm__unlock(&c->wlock);
    atomic_thread_fence(memory_order_seq_cst);
    if (KVBM_UNLIKELY(pos + n >= atomic_load_explicit(&c->wake_at, memory_order_relaxed))) wake_all(c);
}

void kvbm__chan_send(kvbm__chan *c, kvbm_event_kind kind, kvbm_plh h)
{
    kvbm__pending_event e = { (uint64_t)kind, h };
    kvbm__chan_send_many(c, &e, 1);
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
    kvbm__free(c->kind);
    kvbm__free(c);
}

void kvbm__chan_unref(kvbm__chan *c) { kvbm__chan_unref_n(c, 1); }

kvbm_status kvbm__chan_subscribe(kvbm__chan *c, kvbm_events_sub **out)
{
    kvbm_events_sub *s = kvbm__calloc(1, sizeof *s);
    if (s == NULL) {
        kvbm__set_error("kvbm_events_subscribe: out of memory");
        return KVBM_ENOMEM;
    }
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->subscribers, 1, memory_order_relaxed);
    s->chan = c;
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

/* Copy up to @max events at the cursor into @out and validate them. Returns the number
 * copied (0: nothing published yet); on lag returns 0 with *@lagn set (the cursor moved to
 * the oldest position still available; counted). */
static size_t ring_copy(kvbm_events_sub *sub, kvbm_event *out, size_t max, uint64_t *lagn)
{
    kvbm__chan *c = sub->chan;
    uint64_t pos = sub->cursor, cap = c->mask + 1;
    if (pos >= sub->avail) {
        sub->avail = atomic_load_explicit(&c->published, memory_order_acquire);
        if (pos >= sub->avail) return 0;
    }
    uint64_t end = sub->avail - pos > max ? pos + max : sub->avail;
    for (uint64_t q = pos; q < end; q++) {
        uint64_t k = q & c->mask;
        kvbm_event *e = &out[q - pos];
        e->kind = (kvbm_event_kind)atomic_load_explicit(&c->kind[k], memory_order_relaxed);
        e->hash.hi = atomic_load_explicit(&c->hash[k].hi, memory_order_relaxed);
        e->hash.lo = atomic_load_explicit(&c->hash[k].lo, memory_order_relaxed);
    }
    atomic_thread_fence(memory_order_acquire); /* the copies before `claimed` */
    uint64_t claimed = atomic_load_explicit(&c->claimed, memory_order_relaxed);
    if (KVBM_UNLIKELY(claimed > pos + cap)) { /* slot pos (at least) was overwritten */
        uint64_t n = claimed - cap - pos;
        sub->cursor = claimed - cap;
        sub->lost += n;
        atomic_fetch_add_explicit(&c->lost, n, memory_order_relaxed);
        *lagn = n;
        return 0;
    }
    sub->cursor = end;
    return (size_t)(end - pos);
}

size_t kvbm__events_next_many(kvbm_events_sub *sub, kvbm_event *out, size_t max, uint64_t *lost,
                              kvbm_status *st)
{
    size_t n = 0;
    *st = KVBM_OK;
    if (atomic_load_explicit(&sub->interrupted, memory_order_acquire)) {
        *st = KVBM_ECLOSED;
        return 0;
    }
    while (n < max) {
        uint64_t lagn = 0;
        size_t k = ring_copy(sub, out + n, max - n, &lagn);
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

kvbm_status kvbm_events_next(kvbm_events_sub *sub, int timeout_ms, kvbm_event *out, uint64_t *lost)
{
    if (sub == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_next: %s is NULL", sub == NULL ? "sub" : "out");
        return KVBM_EINVAL;
    }
    uint64_t deadline = timeout_ms > 0 ? kvbm__now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    uint64_t idle_since = 0;
    for (;;) {
        if (atomic_load_explicit(&sub->interrupted, memory_order_acquire)) return KVBM_ECLOSED;
        uint64_t lagn = 0;
        kvbm_event e; /* *out stays untouched on lag */
        if (ring_copy(sub, &e, 1, &lagn) == 1) {
            *out = e;
            return KVBM_OK;
        }
        if (lagn > 0) {
            if (lost != NULL) *lost = lagn;
            return KVBM_ELAGGED;
        }
        if (drained_closed(sub)) return KVBM_ECLOSED;
        if (timeout_ms == 0) return KVBM_ETIMEDOUT;
        uint64_t now = kvbm__now_ns();
        if (timeout_ms > 0 && now >= deadline) return KVBM_ETIMEDOUT;
        if (idle_since == 0) idle_since = now;
        if (now - idle_since < SPIN_NS) {
            sched_yield();
            continue;
        }
        idle_since = 0;
        (void)kvbm__events_wait(sub, 1, timeout_ms < 0 ? 0 : deadline);
    }
}
