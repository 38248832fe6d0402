/* src/events/channel.c - the broadcast ring of the events manager (see events_int.h).
 *
 * Ordering. Positions are handed out by one fetch_add, so every subscriber sees the
 * events in position order. Decision 6 needs no more than that: the Remove of a dying
 * registration takes its position before the registry entry is removed (under the shard
 * lock), and the next Create of the hash is sent after the registrar observed that
 * removal under the same lock, so it gets a later position.
 *
 * Waking. A subscriber that finds nothing sets need_wake under wmu, re-checks (seq_cst
 * fence), then sleeps on wcv. A sender publishes its slot, fences, and only if need_wake
 * was set exchanges it to 0 and broadcasts under wmu: at least one of the two sees the
 * other (Dekker), and a burst of sends costs one wake, not one per event.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "events/events_int.h"

uint64_t kvbm__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

kvbm_status kvbm__chan_create(size_t capacity, kvbm__chan **out)
{
    kvbm__chan *c = kvbm__aligned_alloc(64, sizeof *c);
    if (c == NULL) return KVBM_ENOMEM;
    memset(c, 0, sizeof *c);
    c->ring = kvbm__aligned_alloc(64, capacity * sizeof *c->ring);
    if (c->ring == NULL) {
        kvbm__free(c);
        return KVBM_ENOMEM;
    }
    for (size_t i = 0; i < capacity; i++) {
        atomic_init(&c->ring[i].stamp, 0);
        atomic_init(&c->ring[i].kind, 0);
        atomic_init(&c->ring[i].hi, 0);
        atomic_init(&c->ring[i].lo, 0);
    }
    c->mask = capacity - 1;
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
    pthread_cond_broadcast(&c->wcv);
    pthread_mutex_unlock(&c->wmu);
}

/* Write the event of position @pos (claimed by the caller's fetch_add on tail). */
static inline void slot_write(kvbm__chan *c, uint64_t pos, uint64_t kind, kvbm_plh h)
{
    struct kvbm__evslot *s = &c->ring[pos & c->mask];
    uint64_t mine = 2 * pos + 2;
    uint64_t cur = atomic_load_explicit(&s->stamp, memory_order_relaxed);
    for (;;) {
        if (KVBM_UNLIKELY(cur & 1)) { /* a writer a lap away is mid-write: let it finish */
            sched_yield();
            cur = atomic_load_explicit(&s->stamp, memory_order_relaxed);
            continue;
        }
        if (KVBM_UNLIKELY(cur >= mine)) return; /* a later lap already overwrote us */
        if (atomic_compare_exchange_weak_explicit(&s->stamp, &cur, mine - 1, memory_order_acquire,
                                                  memory_order_relaxed))
            break;
    }
    atomic_thread_fence(memory_order_release); /* the odd stamp before the data */
    atomic_store_explicit(&s->kind, kind, memory_order_relaxed);
    atomic_store_explicit(&s->hi, h.hi, memory_order_relaxed);
    atomic_store_explicit(&s->lo, h.lo, memory_order_relaxed);
    atomic_store_explicit(&s->stamp, mine, memory_order_release);
}

void kvbm__chan_send_many(kvbm__chan *c, const kvbm__pending_event *ev, size_t n)
{
    if (n == 0) return;
    if (KVBM_UNLIKELY(atomic_load_explicit(&c->closed, memory_order_relaxed))) {
        atomic_fetch_add_explicit(&c->dropped_closed, n, memory_order_relaxed);
        return;
    }
    uint64_t pos = atomic_fetch_add_explicit(&c->tail, n, memory_order_relaxed);
    uint64_t removes = 0;
    for (size_t i = 0; i < n; i++) {
        slot_write(c, pos + i, ev[i].kind, ev[i].hash);
        removes += ev[i].kind == KVBM_EVENT_REMOVE;
    }
    if (removes < n) atomic_fetch_add_explicit(&c->sent[0], n - removes, memory_order_relaxed);
    if (removes > 0) atomic_fetch_add_explicit(&c->sent[1], removes, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&c->need_wake, memory_order_relaxed) &&
        atomic_exchange_explicit(&c->need_wake, 0, memory_order_relaxed))
        wake_all(c);
}

void kvbm__chan_send(kvbm__chan *c, kvbm_event_kind kind, kvbm_plh h)
{
    kvbm__pending_event e = { (uint64_t)kind, h };
    kvbm__chan_send_many(c, &e, 1);
}

void kvbm__chan_close(kvbm__chan *c)
{
    atomic_store_explicit(&c->closed, 1, memory_order_seq_cst);
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
    kvbm__free(c->ring);
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
    s->cursor = atomic_load_explicit(&c->tail, memory_order_seq_cst);
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

enum { RD_OK, RD_LAG, RD_NOTREADY };

#define SPIN_YIELDS 16

/* One attempt to read the event at the cursor. */
static int try_read(kvbm_events_sub *sub, kvbm_event *out, uint64_t *lost)
{
    kvbm__chan *c = sub->chan;
    uint64_t pos = sub->cursor, want = 2 * pos + 2;
    struct kvbm__evslot *s = &c->ring[pos & c->mask];
    uint64_t s1 = atomic_load_explicit(&s->stamp, memory_order_acquire);
    if (s1 == want) {
        uint64_t k = atomic_load_explicit(&s->kind, memory_order_relaxed);
        kvbm_plh h = { atomic_load_explicit(&s->hi, memory_order_relaxed),
                       atomic_load_explicit(&s->lo, memory_order_relaxed) };
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->stamp, memory_order_relaxed) == want) {
            out->kind = (kvbm_event_kind)k;
            out->hash = h;
            sub->cursor = pos + 1;
            return RD_OK;
        }
        s1 = want + 1; /* overwritten while we read */
    }
    if (s1 < want) return RD_NOTREADY; /* not written yet (or being written) */
    /* overwritten by a later lap: skip to the oldest position still available */
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
    uint64_t oldest = t > c->mask + 1 ? t - (c->mask + 1) : 0;
    if (oldest <= pos) oldest = pos + 1;
    uint64_t n = oldest - pos;
    sub->cursor = oldest;
    sub->lost += n;
    atomic_fetch_add_explicit(&c->lost, n, memory_order_relaxed);
    if (lost != NULL) *lost = n;
    return RD_LAG;
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
        int r = try_read(sub, &out[n], lost);
        if (r == RD_OK) {
            n++;
            continue;
        }
        if (r == RD_LAG) *st = KVBM_ELAGGED;
        break;
    }
    return n;
}

static bool ready_or_done(kvbm_events_sub *sub)
{
    kvbm__chan *c = sub->chan;
    uint64_t pos = sub->cursor;
    uint64_t st = atomic_load_explicit(&c->ring[pos & c->mask].stamp, memory_order_seq_cst);
    return st >= 2 * pos + 2 || atomic_load_explicit(&c->closed, memory_order_seq_cst) ||
           atomic_load_explicit(&sub->interrupted, memory_order_seq_cst);
}

kvbm_status kvbm_events_next(kvbm_events_sub *sub, int timeout_ms, kvbm_event *out, uint64_t *lost)
{
    if (sub == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_next: %s is NULL", sub == NULL ? "sub" : "out");
        return KVBM_EINVAL;
    }
    kvbm__chan *c = sub->chan;
    uint64_t deadline = timeout_ms > 0 ? kvbm__now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    int spins = 0;
    for (;;) {
        if (atomic_load_explicit(&sub->interrupted, memory_order_acquire)) return KVBM_ECLOSED;
        int r = try_read(sub, out, lost);
        if (r == RD_OK) return KVBM_OK;
        if (r == RD_LAG) return KVBM_ELAGGED;
        if (atomic_load_explicit(&c->closed, memory_order_seq_cst) &&
            sub->cursor >= atomic_load_explicit(&c->tail, memory_order_seq_cst))
            return KVBM_ECLOSED;
        if (timeout_ms == 0) return KVBM_ETIMEDOUT;
        uint64_t now = 0;
        if (timeout_ms > 0 && (now = kvbm__now_ns()) >= deadline) return KVBM_ETIMEDOUT;
        /* Before sleeping, yield a few times: a producer in the middle of a burst usually
         * publishes again within microseconds, and a sleeping subscriber costs it a
         * wake-up syscall per batch. */
        if (spins < SPIN_YIELDS) {
            spins++;
            sched_yield();
            continue;
        }
        spins = 0;

        pthread_mutex_lock(&c->wmu);
        atomic_store_explicit(&c->need_wake, 1, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
        if (!ready_or_done(sub)) {
            if (timeout_ms < 0) {
                pthread_cond_wait(&c->wcv, &c->wmu);
            } else {
                struct timespec ts;
                kvbm__deadline_after_ns(&ts, deadline - now);
                (void)pthread_cond_timedwait(&c->wcv, &c->wmu, &ts);
            }
        }
        pthread_mutex_unlock(&c->wmu);
    }
}
