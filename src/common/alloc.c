/* src/common/alloc.c - the library's one allocator entry point.
 *
 * Every allocation made by libkvbm (and by its optional targets) goes through
 * kvbm__malloc / kvbm__calloc / kvbm__realloc / kvbm__aligned_alloc and is returned with
 * kvbm__free. Today they forward to the C library; the single entry point is what the
 * allocation-failure injection of the test suite hooks (see kvbm__alloc_fail_set in
 * internal.h). Never on a per-block hot path: hot paths allocate up front.
 */
#include "internal.h"

#include <stdlib.h>

/* Test hook: when > 0, the countdown-th allocation from now fails (1 = the next one).
 * 0 = off. Relaxed atomics: the hook is for single-threaded fault-injection tests, and
 * only has to be race-free, not ordered, when other threads allocate too. */
static _Atomic long kvbm__alloc_countdown;
static _Atomic unsigned long kvbm__alloc_calls;

void kvbm__alloc_fail_set(long nth)
{
    atomic_store_explicit(&kvbm__alloc_countdown, nth > 0 ? nth : 0, memory_order_relaxed);
}

long kvbm__alloc_fail_pending(void)
{
    return atomic_load_explicit(&kvbm__alloc_countdown, memory_order_relaxed);
}

unsigned long kvbm__alloc_count(void)
{
    return atomic_load_explicit(&kvbm__alloc_calls, memory_order_relaxed);
}

static inline bool alloc_should_fail(void)
{
    atomic_fetch_add_explicit(&kvbm__alloc_calls, 1, memory_order_relaxed);
    long c = atomic_load_explicit(&kvbm__alloc_countdown, memory_order_relaxed);
    if (KVBM_LIKELY(c == 0)) return false;
    /* the thread whose decrement reaches 0 fails; later calls see 0 and succeed */
    while (c > 0) {
        if (atomic_compare_exchange_weak_explicit(&kvbm__alloc_countdown, &c, c - 1,
                                                  memory_order_relaxed, memory_order_relaxed))
            return c == 1;
    }
    return false;
}

/* Every failed allocation leaves its detail message, so that each KVBM_ENOMEM a caller
 * sees comes with one (kvbm_last_error) without a message at every call site. */
static __attribute__((cold, noinline)) void *oom(size_t n)
{
    kvbm__set_error("kvbm: out of memory (an allocation of %zu bytes failed)", n);
    return NULL;
}

void *kvbm__malloc(size_t n)
{
    void *p = alloc_should_fail() ? NULL : malloc(n);
    return KVBM_LIKELY(p != NULL) ? p : oom(n);
}

void *kvbm__calloc(size_t count, size_t size)
{
    void *p = alloc_should_fail() ? NULL : calloc(count, size);
    return KVBM_LIKELY(p != NULL) ? p : oom(count * size);
}

void *kvbm__realloc(void *p, size_t n)
{
    void *q = alloc_should_fail() ? NULL : realloc(p, n);
    return KVBM_LIKELY(q != NULL) ? q : oom(n);
}

void *kvbm__aligned_alloc(size_t align, size_t n)
{
    void *p = NULL;
    if (alloc_should_fail() ||
        posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, n) != 0)
        return oom(n);
    return p;
}

void kvbm__free(void *p)
{
    free(p);
}
