/* src/common/lockrank.c - ranked mutexes (futex lock and condition, see internal.h) and
 * the debug lock-rank checker.
 *
 * Each thread keeps a small stack of the ranks it holds. Acquiring a lock whose rank is
 * not strictly greater than the highest held rank is an inversion of the global order
 * (registry shard < attachments < store < tracker < events < metrics): the checker prints
 * both ranks and aborts, so a test can provoke it in a child process. */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "internal.h"

/* ---- futex mutex and condition (see internal.h) ------------------------------------ */

/* Sleep while *@word == @expected: until a wake, spuriously, or - with @nap_ns > 0 -
 * after at most @nap_ns (0: no bound). */
static void futex_wait_for(_Atomic uint32_t *word, uint32_t expected, long nap_ns)
{
#ifdef __linux__
    /* returns at once if *word != expected (EAGAIN), on a wake, or spuriously (EINTR) */
    struct timespec ts = { 0, nap_ns };
    (void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected,
                  nap_ns > 0 ? &ts : NULL, NULL, 0);
#else
    (void)nap_ns;
    (void)word;
    (void)expected;
    sched_yield();
#endif
}

static void futex_wait(_Atomic uint32_t *word, uint32_t expected) { futex_wait_for(word, expected, 0); }

static void futex_wake(_Atomic uint32_t *word, int n)
{
#ifdef __linux__
    (void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
#else
    (void)word;
    (void)n;
#endif
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void kvbm__mutex_init(kvbm__mutex *m, enum kvbm__lock_rank rank)
{
    atomic_init(&m->state, 0);
    m->rank = (uint8_t)rank;
    m->fast_unlock = 0;
}

void kvbm__mutex_init_fast_unlock(kvbm__mutex *m, enum kvbm__lock_rank rank)
{
    kvbm__mutex_init(m, rank);
    m->fast_unlock = 1;
}

void kvbm__mutex_destroy(kvbm__mutex *m) { kvbm__assert(atomic_load(&m->state) == 0); (void)m; }

/* Critical sections are short (a batch of block operations): spin a little before
 * sleeping. Once a thread has marked the lock contended (2) it keeps doing so until it
 * gets it, so kvbm__unlock never misses a sleeper (kvbm__unlock_fast may: hence the
 * bounded sleeps). */
#define KVBM__SPIN 100
/* Longest sleep of a waiter on a fast-unlock mutex before it re-tries on its own (a
 * wakeup lost to kvbm__unlock_fast costs it at most this). */
#define KVBM__MUTEX_NAP_NS 200000L

void kvbm__mutex_lock_slow(kvbm__mutex *m)
{
    for (int i = 0; i < KVBM__SPIN; i++) {
        cpu_relax();
        uint32_t free_ = 0;
        if (atomic_load_explicit(&m->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&m->state, &free_, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    /* bounded sleeps if kvbm__unlock_fast may miss our 1 -> 2 (see internal.h) */
    long nap_ns = m->fast_unlock ? KVBM__MUTEX_NAP_NS : 0;
    while (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) != 0)
        futex_wait_for(&m->state, 2, nap_ns);
}

void kvbm__mutex_wake(kvbm__mutex *m) { futex_wake(&m->state, 1); }

void kvbm__cond_init(kvbm__cond *c) { atomic_init(&c->seq, 0); }

void kvbm__cond_wait(kvbm__cond *c, kvbm__mutex *m)
{
    /* read under the mutex: a broadcast after our unlock changes seq, so the futex wait
     * returns at once instead of missing it */
    uint32_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
    kvbm__unlock(m);
    futex_wait(&c->seq, seq);
    kvbm__lock(m);
}

void kvbm__cond_broadcast(kvbm__cond *c)
{
    atomic_fetch_add_explicit(&c->seq, 1, memory_order_relaxed);
    futex_wake(&c->seq, INT_MAX);
}

#ifdef KVBM_LOCK_RANK_CHECK
#define KVBM_RANK_STACK 32
static _Thread_local uint8_t rank_stack[KVBM_RANK_STACK];
static _Thread_local int     rank_depth;

static const char *rank_name(uint8_t r)
{
    static const char *names[] = { "none", "registry", "attachments", "store", "tracker",
                                   "events", "metrics" };
    return r < sizeof names / sizeof names[0] ? names[r] : "?";
}

void kvbm__rank_acquire(uint8_t rank)
{
    if (rank == KVBM_RANK_NONE) return;
    for (int i = 0; i < rank_depth; i++) {
        if (rank_stack[i] >= rank) {
            fprintf(stderr, "kvbm: lock order violation: acquiring %s (rank %u) while holding "
                    "%s (rank %u)\n", rank_name(rank), rank, rank_name(rank_stack[i]), rank_stack[i]);
            fflush(stderr);
            abort();
        }
    }
    if (rank_depth < KVBM_RANK_STACK) rank_stack[rank_depth] = rank;
    rank_depth++;
}

void kvbm__rank_release(uint8_t rank)
{
    if (rank == KVBM_RANK_NONE) return;
    /* locks may be released out of order: remove the topmost entry with this rank */
    for (int i = (rank_depth < KVBM_RANK_STACK ? rank_depth : KVBM_RANK_STACK) - 1; i >= 0; i--) {
        if (rank_stack[i] == rank) {
            for (int j = i; j + 1 < rank_depth && j + 1 < KVBM_RANK_STACK; j++)
                rank_stack[j] = rank_stack[j + 1];
            rank_depth--;
            return;
        }
    }
    fprintf(stderr, "kvbm: lock rank release of %s without acquire\n", rank_name(rank));
    abort();
}

void kvbm__rank_assert_none(void)
{
    if (rank_depth == 0) return;
    fprintf(stderr, "kvbm: user callback (log sink) reached while holding a %s lock\n",
            rank_name(rank_stack[rank_depth - 1 < KVBM_RANK_STACK ? rank_depth - 1 : KVBM_RANK_STACK - 1]));
    abort();
}
#endif
