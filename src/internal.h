/* src/internal.h - utilities shared by every kvbm module (not installed).
 *
 * Module map (lower modules first; a module includes only headers of modules above it).
 * Every internal type and cross-file helper is named kvbm__* (macros KVBM_* / KVBM__*);
 * "private" headers are included only inside their own directory.
 *
 *   module         sources                                    internal headers (users)
 *   src/common/    alloc.c error.c lockrank.c status.c       internal.h (everyone)
 *   src/tokens/    hash.c plh.c router.c seq.c token_block.c  tokens_int.h (private),
 *                                                             plh_int.h (backends/lineage.c)
 *   src/tinylfu/   tinylfu.c                                  tinylfu_int.h (registry, store,
 *                                                             backends/lru.c)
 *   src/metrics/   metrics.c                                  metrics_int.h (store)
 *   src/events/    publisher.c                                - (kvbm/publisher.h only)
 *   src/registry/  registry.c handle.c attach_type.c          registry_int.h (store, manager)
 *   src/backends/  backend.c lru.c hashmap.c lineage.c        backend.h (store, manager);
 *                  leaf_policy.c                              index.h lazy_ring.h
 *                                                             leaf_policy.h (private)
 *   src/store/     store.c ops.c handles.c                    store_int.h (manager);
 *                                                             post.h locked.h
 *                                                             handle_check.h (private)
 *   src/manager/   manager.c                                  manager_int.h (tests)
 *   src/ext/<name>/  optional libraries (own CMakeLists.txt), on top of the core
 *   src/ext/common/  msgq.c url.c, compiled into each transport  msgq.h url.h (ext/nats,
 *                    library (kvbm_ext_library COMMON)          ext/zmq)
 */
#ifndef KVBM_INTERNAL_H
#define KVBM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "kvbm/common.h"

#ifndef KVBM_DEBUG
#  define KVBM_DEBUG 0
#endif

#define KVBM_LIKELY(x)   __builtin_expect(!!(x), 1)
#define KVBM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define KVBM_UNUSED(x)   ((void)(x))

#define kvbm__container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

/* ---- assertions -------------------------------------------------------------------
 * kvbm__assert: checked when KVBM_DEBUG >= 1 (abort with file:line).
 * kvbm__assert_internal: KVBM_DEBUG >= 2.  kvbm__assert_expensive: KVBM_DEBUG >= 3 (O(n)).
 * Release builds turn invariant failures into poison (see store), never into silent
 * corruption: code that detects a broken invariant must handle it, not only assert it. */
_Noreturn void kvbm__assert_fail(const char *expr, const char *file, int line, const char *func);
#if KVBM_DEBUG >= 1
#  define kvbm__assert(e) ((e) ? (void)0 : kvbm__assert_fail(#e, __FILE__, __LINE__, __func__))
#else
#  define kvbm__assert(e) ((void)0)
#endif
#if KVBM_DEBUG >= 2
#  define kvbm__assert_internal(e) kvbm__assert(e)
#else
#  define kvbm__assert_internal(e) ((void)0)
#endif
#if KVBM_DEBUG >= 3
#  define kvbm__assert_expensive(e) kvbm__assert(e)
#else
#  define kvbm__assert_expensive(e) ((void)0)
#endif

/* ---- exported internals -----------------------------------------------------------
 * The optional libraries (src/ext/<name>/, e.g. libkvbm_nats.so) link libkvbm.so and must
 * reach the one error buffer and the one allocator of the core: those entry points keep
 * default visibility (they are still not part of the public API: no installed header). */
#define KVBM__EXT_API __attribute__((visibility("default")))

/* ---- last error (thread-local message, see kvbm_last_error) ----------------------- */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), cold))
#endif
KVBM__EXT_API void kvbm__set_error(const char *fmt, ...);

/* Set the detail message and yield @st, for one-line error paths:
 *   if (out == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: out is NULL", __func__);
 * Every error a public function returns comes with its message (kvbm_last_error). */
#define KVBM_FAIL(st, ...) kvbm__fail((st), __VA_ARGS__)
/* kvbm__set_error(fmt, ...) and return @st: out of line and cold, so that the hot path of
 * a function with a one-line error check needs no frame (a tail call). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), cold))
#endif
KVBM__EXT_API kvbm_status kvbm__fail(kvbm_status st, const char *fmt, ...);

/* ---- allocation (src/common/alloc.c) ----------------------------------------------
 * Every library allocation goes through these, so that one test hook can fail the N-th
 * allocation. Same contracts as malloc/calloc/realloc/free; kvbm__aligned_alloc accepts
 * any power-of-2 alignment and any size (posix_memalign), memory freed with kvbm__free. */
KVBM__EXT_API void *kvbm__malloc(size_t n);
KVBM__EXT_API void *kvbm__calloc(size_t count, size_t size);
KVBM__EXT_API void *kvbm__realloc(void *p, size_t n);
KVBM__EXT_API void *kvbm__aligned_alloc(size_t align, size_t n);
KVBM__EXT_API void  kvbm__free(void *p);
/* Test-only: make the nth allocation from now fail (1 = the next one), 0 = off; and the
 * number of allocation calls so far (to walk n over every allocation site of an operation). */
KVBM__EXT_API void kvbm__alloc_fail_set(long nth);
KVBM__EXT_API unsigned long kvbm__alloc_count(void);
/* Test-only: allocations still to go before the armed failure (0: it fired, or none armed). */
KVBM__EXT_API long kvbm__alloc_fail_pending(void);

/* ---- monotonic waits ---------------------------------------------------------------
 * Every timed wait in the library runs on CLOCK_MONOTONIC: kvbm__cond_init_monotonic()
 * initialises a condition variable on that clock (0 or an errno value), and
 * kvbm__deadline_after_ns() sets *@ts to now + @ns on it, for pthread_cond_timedwait. */
static inline int kvbm__cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc != 0) return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

static inline void kvbm__timespec_add_ns(struct timespec *ts, uint64_t ns)
{
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec += (long)(ns % 1000000000u);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static inline void kvbm__deadline_after_ns(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    kvbm__timespec_add_ns(ts, ns);
}

/* CLOCK_MONOTONIC in nanoseconds (deadlines, schedules, windows). */
static inline uint64_t kvbm__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Name the calling thread (shown by top -H, /proc/PID/task/TID/comm; <= 15 chars) - the
 * library's own threads, so their CPU time can be told apart. Linux only, else no-op. */
static inline void kvbm__thread_name(const char *name)
{
#ifdef __linux__
    (void)prctl(PR_SET_NAME, (unsigned long)name, 0ul, 0ul, 0ul);
#else
    (void)name;
#endif
}

/* Propagate a non-OK status in one line. */
#define KVBM_TRY(expr) do { kvbm_status kvbm__st = (expr); \
        if (kvbm__st != KVBM_OK) return kvbm__st; } while (0)

/* ---- logging (src/common/log.c, sink in kvbm/log.h) -------------------------------
 * kvbm__log(level, module, fmt, ...) formats one line and hands it to the sink. Never
 * call it while holding a kvbm lock (debug builds abort): collect what to say and log
 * after unlocking. kvbm__log_enabled() lets a caller skip building expensive arguments.
 * Levels are kvbm_log_level values (0 error, 1 warn, 2 info, 3 debug). */
#include "kvbm/log.h"
KVBM__EXT_API bool kvbm__log_enabled(kvbm_log_level level);
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
KVBM__EXT_API void kvbm__log(kvbm_log_level level, const char *module, const char *fmt, ...);

/* ---- deferred per-thread work (src/common/defer.c) -----------------------------------
 * A module that buffers work on the calling thread (the events manager batches its
 * broadcasts) sets kvbm__deferred to its flush function; the registry calls
 * kvbm__defer_run() where that work must have become visible: at the end of every
 * registration call, and after the destructors of dying handles ran but before their
 * entries are removed. No kvbm lock may be held. Cost when nothing is pending: one
 * thread-local load. */
typedef void (*kvbm__defer_fn)(void);
extern _Thread_local kvbm__defer_fn kvbm__deferred;
static inline void kvbm__defer_run(void)
{
    kvbm__defer_fn f = kvbm__deferred;
    if (__builtin_expect(f != NULL, 0)) {
        kvbm__deferred = NULL;
        f();
    }
}

/* ---- ranked mutexes ---------------------------------------------------------------
 * Global order (outermost first). A thread may only acquire a lock of strictly higher
 * rank than every ranked lock it holds. With KVBM_DEBUG >= 1 (or KVBM_LOCK_RANK_CHECK)
 * an inversion aborts with a message naming both ranks. */
enum kvbm__lock_rank {
    KVBM_RANK_NONE     = 0, /* unranked: not checked */
    KVBM_RANK_REGISTRY = 1, /* registry shard (bucket) locks */
    KVBM_RANK_ATTACH   = 2, /* per-handle attachments/presence lock */
    KVBM_RANK_STORE    = 3, /* the block store lock (one per manager) */
    KVBM_RANK_TRACKER  = 4, /* frequency tracker (leaf) */
    KVBM_RANK_EVENTS   = 5, /* event channel (leaf) */
    KVBM_RANK_METRICS  = 6  /* aggregator / stats locks (leaf) */
};

#if KVBM_DEBUG >= 1 && !defined(KVBM_LOCK_RANK_CHECK)
#  define KVBM_LOCK_RANK_CHECK 1
#endif

/* A ranked mutex: a futex-based lock (Drepper, "Futexes Are Tricky", mutex take 3):
 *
 *   state 0 = free, 1 = held, 2 = held and maybe waiters
 *   lock  : CAS 0 -> 1 (one atomic); else spin briefly, then exchange 2 until it was 0,
 *           sleeping on the futex while it is not
 *   unlock: exchange 0 (one atomic); wake one sleeper if it was 2
 *
 * 8 bytes instead of pthread_mutex_t's 40, and the uncontended pair is two atomic
 * instructions and a dozen others (glibc's pthread_mutex_lock/unlock took ~50 more: type,
 * owner and elision checks) - the store, registry-shard and tracker locks are taken once
 * or twice per block operation. Linux futexes; elsewhere sleeping degrades to yielding. */
typedef struct kvbm__mutex {
    _Atomic uint32_t state;
    uint8_t          rank;
    uint8_t          fast_unlock; /* kvbm__mutex_init_fast_unlock: sleeps are bounded */
} kvbm__mutex;

/* A condition variable for kvbm__mutex: a futex on a sequence number, bumped by broadcast. */
typedef struct kvbm__cond {
    _Atomic uint32_t seq;
} kvbm__cond;

void kvbm__mutex_init(kvbm__mutex *m, enum kvbm__lock_rank rank); /* cannot fail */
/* kvbm__mutex_init for a mutex that may be released with kvbm__unlock_fast: its waiters'
 * futex sleeps are bounded (KVBM__MUTEX_NAP_NS in lockrank.c). */
void kvbm__mutex_init_fast_unlock(kvbm__mutex *m, enum kvbm__lock_rank rank);
void kvbm__mutex_destroy(kvbm__mutex *m);
void kvbm__mutex_lock_slow(kvbm__mutex *m);  /* contended path of kvbm__lock */
void kvbm__mutex_wake(kvbm__mutex *m);       /* wake one sleeper (kvbm__unlock saw 2) */
void kvbm__cond_init(kvbm__cond *c);
/* Called with @m held: release it, sleep until a broadcast (or spuriously), reacquire it.
 * Callers re-check their condition in a loop. */
void kvbm__cond_wait(kvbm__cond *c, kvbm__mutex *m);
/* Wake every waiter of @c. Call with the mutex the waiters use held (no lost wakeups). */
void kvbm__cond_broadcast(kvbm__cond *c);

#ifdef KVBM_LOCK_RANK_CHECK
void kvbm__rank_acquire(uint8_t rank); /* aborts on inversion */
void kvbm__rank_release(uint8_t rank);
void kvbm__rank_assert_none(void);     /* aborts if this thread holds any ranked lock */
#else
static inline void kvbm__rank_assert_none(void) {}
static inline void kvbm__rank_acquire(uint8_t rank) { (void)rank; }
static inline void kvbm__rank_release(uint8_t rank) { (void)rank; }
#endif

static inline void kvbm__lock(kvbm__mutex *m)
{
    kvbm__rank_acquire(m->rank);
    uint32_t free_ = 0;
    if (KVBM_UNLIKELY(!atomic_compare_exchange_strong_explicit(&m->state, &free_, 1, memory_order_acquire,
                                                               memory_order_relaxed)))
        kvbm__mutex_lock_slow(m);
}
static inline void kvbm__unlock(kvbm__mutex *m)
{
    if (KVBM_UNLIKELY(atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2)) kvbm__mutex_wake(m);
    kvbm__rank_release(m->rank);
}
/* kvbm__unlock without a locked instruction when no waiter has announced itself (state
 * 1): a relaxed load and a release store instead of the exchange - for locks taken for a
 * few dozen instructions per block (the registry's shard locks: the exchange was ~5 % of
 * the replay, docs/perf/registry.md session 13). Only for a mutex initialised with
 * kvbm__mutex_init_fast_unlock: a waiter that marks the lock contended (1 -> 2) between
 * our load and our store is not woken by us; it wakes by itself, because its futex sleeps
 * are bounded (KVBM__MUTEX_NAP_NS in lockrank.c), and re-tries - such a lost wakeup delays
 * that waiter by at most one nap, it never blocks it. kvbm__unlock works on such a mutex
 * too. */
static inline void kvbm__unlock_fast(kvbm__mutex *m)
{
    kvbm__assert(m->fast_unlock);
    if (KVBM_LIKELY(atomic_load_explicit(&m->state, memory_order_relaxed) == 1)) {
        atomic_store_explicit(&m->state, 0, memory_order_release);
        kvbm__rank_release(m->rank);
    } else {
        kvbm__unlock(m); /* a waiter announced itself: exchange and wake */
    }
}

/* ---- overflow-checked sizes ---------------------------------------------------------
 * Every size computed from user input (capacities, counts, lengths) goes through these:
 * *@out = a op b, or false (and *@out unspecified) if the result does not fit in size_t. */
static inline bool kvbm__size_mul(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool kvbm__size_add(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }
/* @x rounded up to a multiple of the power of two @align, or false on overflow. */
static inline bool kvbm__size_align_up(size_t x, size_t align, size_t *out)
{
    if (!kvbm__size_add(x, align - 1, out)) return false;
    *out &= ~(align - 1);
    return true;
}

/* ---- small helpers ---------------------------------------------------------------- */
static inline bool kvbm__is_pow2_u64(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }
static inline uint64_t kvbm__next_pow2_u64(uint64_t x)
{
    uint64_t p = 1;
    while (p < x) p <<= 1;
    return p;
}
static inline uint64_t kvbm__mix64(uint64_t x)
{
    x ^= x >> 33; x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33; x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}
/* Little-endian stores. On little-endian hosts one memcpy (a single word store): byte-wise
 * stores read back by a later 64-bit load defeat store-to-load forwarding. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#  define KVBM__LE_HOST 1
#else
#  define KVBM__LE_HOST 0
#endif
static inline void kvbm__store_le64(uint8_t *p, uint64_t v)
{
#if KVBM__LE_HOST
    memcpy(p, &v, sizeof v);
#else
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
#endif
}
static inline void kvbm__store_le32(uint8_t *p, uint32_t v)
{
#if KVBM__LE_HOST
    memcpy(p, &v, sizeof v);
#else
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
#endif
}

#endif /* KVBM_INTERNAL_H */
