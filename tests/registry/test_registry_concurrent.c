/* tests/registry/test_registry_concurrent.c - register / match / clone / drop racing on the
 * same hashes (run under ThreadSanitizer in CI).
 *
 * A hook plays the events module: on_registered logs Create(h) and attaches a release value
 * whose destructor logs Remove(h). Per hash the log must alternate Create, Remove, Create,
 * ... (binding decision 6: a Remove is never delivered after a later Create), every handle
 * a thread holds must stay registered and carry its hash, presence markers must follow the
 * holders, and the frequency tracker must see exactly creations + touching matches.
 * Seeded: KVBM_TEST_SEED replays the operation mix (not the interleaving).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "support/metered_tracker.h"
#include "registry/registry_int.h"

#define NHASH 8
#define MAXT  8

static int hash_index(kvbm_plh h)
{
    for (int i = 0; i < NHASH; i++)
        if (kvbm_plh_eq(tm_hash_n((uint64_t)i), h)) return i;
    return -1;
}

/* ---- the fake events module --------------------------------------------------------- */

struct ev_state {
    pthread_mutex_t  mu;
    int              live[NHASH];   /* 1 between Create and Remove */
    long             creates[NHASH];
    long             removes[NHASH];
    long             violations;
    kvbm_attach_type rel_t;
};
static struct ev_state ev;

struct rel { int idx; };

static void rel_dtor(void *p)
{
    struct rel *v = p;
    /* widen the window between "last reference dropped" and "Remove delivered": a
     * registry that let a new registration through before this destructor finished would
     * be caught by the Create check in on_registered */
    sched_yield();
    pthread_mutex_lock(&ev.mu);
    if (ev.live[v->idx] != 1) ev.violations++; /* Remove without a pending Create */
    ev.live[v->idx] = 0;
    ev.removes[v->idx]++;
    pthread_mutex_unlock(&ev.mu);
    free(v);
}

static kvbm_status on_registered(void *ctx, kvbm_handle *h)
{
    (void)ctx;
    int idx = hash_index(kvbm_handle_seq_hash(h));
    pthread_mutex_lock(&ev.mu);
    if (idx < 0 || ev.live[idx] != 0) ev.violations++; /* Create while the old one lives */
    if (idx >= 0) { ev.live[idx] = 1; ev.creates[idx]++; }
    pthread_mutex_unlock(&ev.mu);
    struct rel *v = malloc(sizeof *v);
    if (v == NULL) return KVBM_ENOMEM;
    v->idx = idx < 0 ? 0 : idx;
    kvbm_status st = kvbm_handle_attach_unique(h, ev.rel_t, v);
    if (st != KVBM_OK) rel_dtor(v);
    return st;
}

static void ev_reset(void)
{
    static bool type_done;
    pthread_mutex_init(&ev.mu, NULL);
    memset(ev.live, 0, sizeof ev.live);
    memset(ev.creates, 0, sizeof ev.creates);
    memset(ev.removes, 0, sizeof ev.removes);
    ev.violations = 0;
    if (!type_done) {
        if (kvbm_attach_type_register("test-release-handle", rel_dtor, &ev.rel_t) != KVBM_OK) abort();
        type_done = true;
    }
}

/* ---- workers ---------------------------------------------------------------------- */

struct worker {
    kvbm_registry  *r;
    uint64_t        seed;
    int             iters;
    int             nhash;
    int             id;
    long            touched_matches;
    long            failures;
};

#define FAILIF(c) do { if (c) { w->failures++; } } while (0)

static void *worker_main(void *p)
{
    struct worker *w = p;
    kvbm_handle *held[NHASH][2] = { { NULL } };
    uint64_t s = w->seed | 1;
    kvbm_tier my_tier = (kvbm_tier)(1000 + w->id);
    for (int it = 0; it < w->iters; it++) {
        int k = (int)(tm_rand(&s) % (uint64_t)w->nhash);
        int slot = (int)(tm_rand(&s) % 2);
        unsigned op = (unsigned)(tm_rand(&s) % 8);
        kvbm_handle **hp = &held[k][slot];
        kvbm_handle *other = held[k][1 - slot];
        if (*hp != NULL) {
            if (op < 5) {
                /* use it, then drop it */
                FAILIF(!kvbm_plh_eq(kvbm_handle_seq_hash(*hp), tm_hash_n((uint64_t)k)));
                FAILIF(!kvbm_registry_is_registered(w->r, tm_hash_n((uint64_t)k)));
                kvbm__handle_mark_present(*hp, my_tier);
                FAILIF(!kvbm_handle_has_block(*hp, my_tier));
                kvbm_plh q = tm_hash_n((uint64_t)k);
                bool pres = false;
                FAILIF(kvbm_registry_check_presence(w->r, my_tier, &q, 1, &pres) != KVBM_OK || !pres);
                kvbm__handle_mark_absent(*hp, my_tier);
                kvbm_handle_release(*hp);
                *hp = NULL;
            } else if (other == NULL) {
                held[k][1 - slot] = kvbm_handle_clone(*hp);
            }
            continue;
        }
        kvbm_handle *h = NULL;
        if (op < 4) {
            FAILIF(kvbm_registry_register(w->r, tm_hash_n((uint64_t)k), &h) != KVBM_OK);
        } else {
            bool touch = op & 1;
            kvbm_status st = kvbm_registry_match(w->r, tm_hash_n((uint64_t)k), touch, &h);
            FAILIF(st != KVBM_OK && st != KVBM_ENOENT);
            if (st != KVBM_OK) h = NULL;
            else if (touch) w->touched_matches++;
        }
        if (h != NULL) {
            FAILIF(!kvbm_plh_eq(kvbm_handle_seq_hash(h), tm_hash_n((uint64_t)k)));
            FAILIF(other != NULL && other != h); /* one live handle per hash */
            FAILIF(!kvbm_handle_is_from_registry(h, w->r));
            *hp = h;
        }
    }
    for (int k = 0; k < NHASH; k++) {
        kvbm_handle_release(held[k][0]);
        kvbm_handle_release(held[k][1]);
    }
    return NULL;
}

static void run_race(int nthreads, int nhash, int iters)
{
    uint64_t seed = test_seed();
    printf("    seed=%" PRIu64 " threads=%d hashes=%d iters=%d (KVBM_TEST_SEED to replay)\n",
           seed, nthreads, nhash, iters);
    ev_reset();
    metered_tracker *mt = metered_tracker_new();
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.tracker = metered_tracker_get(mt);
    cfg.hooks.on_registered = on_registered;
    kvbm_registry *r = NULL;
    ASSERT_OK(kvbm_registry_create(&cfg, &r));

    struct worker w[MAXT];
    pthread_t th[MAXT];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){ r, seed + (uint64_t)i * 0x9e3779b97f4a7c15u, iters, nhash, i, 0, 0 };
        ASSERT_EQ(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    long touched = 0, failures = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        touched += w[i].touched_matches;
        failures += w[i].failures;
    }
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    long creates = 0;
    for (int k = 0; k < NHASH; k++) {
        EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n((uint64_t)k)));
        EXPECT_EQ(ev.live[k], 0);
        EXPECT_EQ(ev.creates[k], ev.removes[k]);
        creates += ev.creates[k];
    }
    EXPECT_EQ(ev.violations, 0);
    EXPECT_GT(creates, 0);
    /* exact touch accounting: one per creation, one per touching match that found a handle */
    EXPECT_EQ((long)metered_tracker_touches(mt), creates + touched);
    EXPECT_EQ(metered_tracker_counts(mt), 0);
    printf("    creations=%ld, registrations that waited for a dying entry=%" PRIu64 "\n",
           creates, kvbm__registry_dying_waits(r));
    kvbm_registry_release(r);
    metered_tracker_release(mt);
    pthread_mutex_destroy(&ev.mu);
}

KVBM_TEST(register_match_drop_race_on_shared_hashes)
{
    bool san = test_under_sanitizer();
    run_race(san ? 4 : 8, NHASH, san ? 20000 : 200000);
}

/* one hash, maximal churn: the last release and the next registration collide constantly,
 * which exercises the wait-for-dying-entry path */
KVBM_TEST(create_remove_order_under_churn_single_hash)
{
    bool san = test_under_sanitizer();
    run_race(san ? 4 : 8, 1, san ? 20000 : 200000);
}

/* matchers never create: a matched handle is always live and registered while held */
struct matcher { kvbm_registry *r; _Atomic int *stop; long hits, failures; };

static void *matcher_main(void *p)
{
    struct matcher *m = p;
    while (!atomic_load(m->stop)) {
        kvbm_handle *h = NULL;
        if (kvbm_registry_match(m->r, tm_hash_n(0), false, &h) == KVBM_OK) {
            m->hits++;
            if (!kvbm_registry_is_registered(m->r, tm_hash_n(0))) m->failures++;
            kvbm_handle *c = NULL;
            if (kvbm_registry_register(m->r, tm_hash_n(0), &c) != KVBM_OK || c != h) m->failures++;
            kvbm_handle_release(c);
            kvbm_handle_release(h);
        }
    }
    return NULL;
}

KVBM_TEST(last_drop_versus_match)
{
    ev_reset();
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.hooks.on_registered = on_registered;
    kvbm_registry *r = NULL;
    ASSERT_OK(kvbm_registry_create(&cfg, &r));
    _Atomic int stop = 0;
    struct matcher m[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        m[i] = (struct matcher){ r, &stop, 0, 0 };
        ASSERT_EQ(pthread_create(&th[i], NULL, matcher_main, &m[i]), 0);
    }
    int iters = test_under_sanitizer() ? 20000 : 200000;
    for (int i = 0; i < iters; i++) {
        kvbm_handle *h;
        ASSERT_OK(kvbm_registry_register(r, tm_hash_n(0), &h));
        kvbm_handle_release(h);
    }
    atomic_store(&stop, 1);
    long failures = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        failures += m[i].failures;
    }
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(ev.violations, 0);
    EXPECT_EQ(ev.creates[0], ev.removes[0]);
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(0)));
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_registry_release(r);
    pthread_mutex_destroy(&ev.mu);
}

/* ---- lock-free presence: has_any_block is linearizable ------------------------------
 * A writer moves one presence marker back and forth between two tiers, always adding
 * the new one before removing the old, so at every instant at least one of the two
 * counts is > 0. Readers must never see has_any_block() == false. Handle 1 keeps both
 * tiers in inline slots; on handle 2 the inline slots are taken first, so one tier of
 * the pair lives in the locked overflow array (the mixed double collect). */

enum { PRES_ITERS = 20000 };

struct pres_ctx {
    kvbm_handle  *h;
    kvbm_tier     a, b;
    atomic_bool   stop;
    atomic_long   false_seen;
};

static void *pres_writer(void *p)
{
    struct pres_ctx *c = p;
    for (int i = 0; i < PRES_ITERS; i++) {
        kvbm__handle_mark_present(c->h, c->b);
        kvbm__handle_mark_absent(c->h, c->a);
        kvbm__handle_mark_present(c->h, c->a);
        kvbm__handle_mark_absent(c->h, c->b);
    }
    atomic_store(&c->stop, true);
    return NULL;
}

static void *pres_reader(void *p)
{
    struct pres_ctx *c = p;
    kvbm_tier pair[2] = { c->a, c->b };
    while (!atomic_load(&c->stop))
        if (!kvbm_handle_has_any_block(c->h, pair, 2)) atomic_fetch_add(&c->false_seen, 1);
    return NULL;
}

static void presence_pair_race(kvbm_handle *h, kvbm_tier a, kvbm_tier b)
{
    struct pres_ctx c = { .h = h, .a = a, .b = b };
    atomic_init(&c.stop, false);
    atomic_init(&c.false_seen, 0);
    kvbm__handle_mark_present(h, a);
    pthread_t w, r;
    ASSERT_EQ(pthread_create(&w, NULL, pres_writer, &c), 0);
    ASSERT_EQ(pthread_create(&r, NULL, pres_reader, &c), 0);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    EXPECT_EQ(atomic_load(&c.false_seen), 0);
    EXPECT_EQ(kvbm_handle_presence(h, a), 1u);
    EXPECT_EQ(kvbm_handle_presence(h, b), 0u);
    kvbm__handle_mark_absent(h, a);
}

KVBM_TEST(has_any_block_is_linearizable_under_moving_presence)
{
    kvbm_registry *r = NULL;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_handle *h1, *h2;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(40), &h1));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(41), &h2));
    presence_pair_race(h1, 7, 8);                       /* both inline */
    for (kvbm_tier t = 1; t <= KVBM__PRESENCE_INLINE; t++) kvbm__handle_mark_present(h2, t);
    kvbm__handle_mark_absent(h2, 1);
    presence_pair_race(h2, 1, 9);                       /* inline + overflow */
    presence_pair_race(h2, 10, 11);                     /* both overflow */
    for (kvbm_tier t = 2; t <= KVBM__PRESENCE_INLINE; t++) kvbm__handle_mark_absent(h2, t);
    kvbm_handle_release(h1);
    kvbm_handle_release(h2);
    kvbm_registry_release(r);
}
