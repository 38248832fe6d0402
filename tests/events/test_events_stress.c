/* tests/events/test_events_stress.c - binding decision 6 under concurrency: 4 threads
 * register, drop and re-register the same hashes (several holders per hash, so the last
 * release and the next registration race); a subscriber drains concurrently. Per hash the
 * delivered stream must alternate Create, Remove, Create, ... and end consistent with
 * the registry (last event Create iff the hash is still registered). The ring is larger
 * than the total number of events, so no event can be lost to lag. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "kvbm/events.h"
#include "kvbm/manager.h"

#define NHASH    32
#define NTHREADS 4

static kvbm_registry *reg;
static kvbm_plh       hashes[NHASH];
static int            iters;

typedef struct worker {
    uint64_t     seed;
    kvbm_handle *held[NHASH];
} worker;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < iters; i++) {
        unsigned k = (unsigned)(rnd(&w->seed) % NHASH);
        if (w->held[k] != NULL) {
            kvbm_handle_release(w->held[k]);
            w->held[k] = NULL;
        } else if (kvbm_registry_register(reg, hashes[k], &w->held[k]) != KVBM_OK) {
            w->held[k] = NULL;
        }
    }
    return NULL;
}

typedef struct drain {
    kvbm_events_sub *sub;
    int      last[NHASH];  /* -1 none, else kvbm_event_kind */
    long     bad, total, lagged;
} drain;

static int index_of(kvbm_plh h)
{
    for (int i = 0; i < NHASH; i++)
        if (hashes[i].hi == h.hi && hashes[i].lo == h.lo) return i;
    return -1;
}

static void *drainer(void *arg)
{
    drain *d = arg;
    for (;;) {
        kvbm_event ev;
        kvbm_status st = kvbm_events_next(d->sub, -1, &ev, NULL);
        if (st == KVBM_ECLOSED) break;
        if (st == KVBM_ELAGGED) { d->lagged++; continue; }
        if (st != KVBM_OK) { d->bad++; break; }
        int i = index_of(ev.hash);
        if (i < 0) { d->bad++; continue; }
        int expect = d->last[i] == KVBM_EVENT_CREATE ? KVBM_EVENT_REMOVE : KVBM_EVENT_CREATE;
        if ((int)ev.kind != expect) d->bad++;
        d->last[i] = (int)ev.kind;
        d->total++;
    }
    return NULL;
}

/* Run NTHREADS workers @fn on the set-up registry/manager @em with a concurrent drainer,
 * then check the per-hash alternation, the final consistency with the registry and the
 * totals; *@out receives the manager's stats. The workers' handles are released afterwards. */
static void run_and_check(kvbm_events_manager *em, void *(*fn)(void *), uint64_t seed,
                          kvbm_events_stats *out)
{
    kvbm_events_stats s;
    memset(&s, 0, sizeof s);
    *out = s;
    drain d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < NHASH; i++) d.last[i] = -1;
    ASSERT_OK(kvbm_events_subscribe(em, &d.sub));
    pthread_t dt, th[NTHREADS];
    static worker w[NTHREADS];
    memset(w, 0, sizeof w);
    if (pthread_create(&dt, NULL, drainer, &d) != 0) abort();
    for (int t = 0; t < NTHREADS; t++) {
        w[t].seed = seed * 2654435761u + (uint64_t)t + 1;
        if (pthread_create(&th[t], NULL, fn, &w[t]) != 0) abort();
    }
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);

    /* every thread keeps what it holds: the registry state at the end */
    bool registered[NHASH];
    for (int i = 0; i < NHASH; i++) registered[i] = kvbm_registry_is_registered(reg, hashes[i]);
    (void)kvbm_events_manager_get_stats(em, &s);
    kvbm_events_manager_close(em); /* the drainer gets everything sent so far, then ECLOSED */
    pthread_join(dt, NULL);
    EXPECT_EQ(d.bad, 0);
    EXPECT_EQ(d.lagged, 0);
    EXPECT_EQ((uint64_t)d.total, s.created + s.removed);
    for (int i = 0; i < NHASH; i++)
        EXPECT_EQ(d.last[i] == KVBM_EVENT_CREATE, registered[i]);
    for (int t = 0; t < NTHREADS; t++)
        for (int k = 0; k < NHASH; k++) kvbm_handle_release(w[t].held[k]);
    kvbm_events_unsubscribe(d.sub);
    *out = s;
}

KVBM_TEST(create_remove_alternate_per_hash_under_4_threads)
{
    iters = test_under_sanitizer() ? 20000 : 100000;
    uint64_t seed = test_seed();
    printf("    seed %llu\n", (unsigned long long)seed);
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    for (int i = 0; i < NHASH; i++) hashes[i] = kvbm_plh_root(0xabc000 + (uint64_t)i);
    kvbm_events_manager *em;
    kvbm_events_config cfg = KVBM_EVENTS_CONFIG_INIT;
    cfg.channel_capacity = 1u << 20; /* > 2 * NTHREADS * iters: no lag possible */
    ASSERT_OK(kvbm_events_manager_create(&cfg, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    kvbm_events_stats s;
    run_and_check(em, work, seed, &s);
    EXPECT_GT(s.created, (uint64_t)NHASH);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
}

/* The same invariant through block managers: eviction releases registrations in batches
 * (kvbm__handle_mark_absent_release_many defers the Removes of a chunk and broadcasts them
 * before removing the entries). 4 threads allocate (evicting), register random hashes of
 * a small set and release them, on one manager of few blocks. */
static kvbm_manager *mgr;

static void *mgr_work(void *arg)
{
    worker *w = arg;
    kvbm_mutable *mut[4];
    kvbm_complete *cmp[4];
    kvbm_block *out[4];
    for (int i = 0; i < iters / 10; i++) {
        size_t n = 1 + rnd(&w->seed) % 4;
        if (kvbm_manager_allocate(mgr, n, mut, NULL, NULL) != KVBM_OK) continue;
        for (size_t k = 0; k < n; k++) {
            unsigned h = (unsigned)(rnd(&w->seed) % NHASH);
            if (kvbm_mutable_stage(mut[k], hashes[h], 16, &cmp[k], NULL, NULL) != KVBM_OK) abort();
        }
        if (kvbm_manager_register_blocks(mgr, cmp, n, out) != KVBM_OK) abort();
        for (size_t k = 0; k < n; k++) (void)kvbm_block_release(out[k]);
    }
    return NULL;
}

KVBM_TEST(create_remove_alternate_through_managers_with_eviction_stress)
{
    iters = test_under_sanitizer() ? 20000 : 100000;
    uint64_t seed = test_seed();
    printf("    seed %llu\n", (unsigned long long)seed);
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    for (int i = 0; i < NHASH; i++) hashes[i] = kvbm_plh_root(0xdef000 + (uint64_t)i);
    kvbm_events_manager *em;
    kvbm_events_config cfg = KVBM_EVENTS_CONFIG_INIT;
    cfg.channel_capacity = 1u << 20;
    ASSERT_OK(kvbm_events_manager_create(&cfg, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    kvbm_manager_config mc = KVBM_MANAGER_CONFIG_INIT;
    mc.registry = reg;
    mc.block_count = 24; /* < NHASH: hashes are evicted and registered again */
    mc.block_size = 16;
    ASSERT_OK(kvbm_manager_create(&mc, &mgr));
    kvbm_events_stats s;
    run_and_check(em, mgr_work, seed, &s);
    EXPECT_GT(s.removed, (uint64_t)NHASH); /* evictions happened */
    kvbm_manager_destroy(mgr);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
}
