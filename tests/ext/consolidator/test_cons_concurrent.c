/* tests/ext/consolidator/test_cons_concurrent.c - the tracker under concurrent engines, a
 * KVBM bridge and a drainer (TSan build runs it). The concatenated drained stream must obey
 * the lifecycle model (cons_model.h) and end balanced; the registry path (register outside
 * the lock, then retry) runs concurrently with removes. */
#include "cons_model.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kvbm/registry.h"

#define BLOCKS 16

typedef struct shared {
    kvbm_cons_tracker *t;
    kvbm_plh           chain[BLOCKS];
    int                rounds;
    atomic_int         writers_left;
    atomic_int         errors;
} shared;

typedef struct writer {
    shared          *sh;
    kvbm_cons_source src; /* KVBM: the bridge */
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    shared *sh = w->sh;
    for (int r = 0; r < sh->rounds; r++) {
        for (uint32_t i = 0; i < BLOCKS; i++) {
            uint32_t tok[4] = {4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4};
            uint64_t parent = 1000 * (uint64_t)w->src + i; /* ext hash of block i - 1 */
            kvbm_status st = w->src == KVBM_CONS_SOURCE_KVBM
                                 ? kvbm_cons_tracker_handle_kvbm_store(sh->t, sh->chain[i], tok, 4, 4, NULL)
                                 : kvbm_cons_tracker_handle_store(sh->t, w->src, 1000 * (uint64_t)w->src + i + 1,
                                                                  i ? &parent : NULL, tok, 4, 4, NULL);
            if (st != KVBM_OK) atomic_fetch_add(&sh->errors, 1);
        }
        for (uint32_t k = BLOCKS; k-- > 0;) {
            kvbm_status st = w->src == KVBM_CONS_SOURCE_KVBM
                                 ? kvbm_cons_tracker_handle_kvbm_remove(sh->t, sh->chain[k])
                                 : kvbm_cons_tracker_handle_remove(sh->t, w->src, 1000 * (uint64_t)w->src + k + 1);
            if (st != KVBM_OK) atomic_fetch_add(&sh->errors, 1);
        }
    }
    atomic_fetch_sub(&sh->writers_left, 1);
    return NULL;
}

KVBM_TEST(concurrent_sources_keep_the_lifecycle)
{
    kvbm_registry *reg = NULL;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    shared *sh = calloc(1, sizeof *sh);
    ASSERT_TRUE(sh != NULL);
    kvbm_cons_tracker_config cfg = {.registry = reg};
    ASSERT_OK(kvbm_cons_tracker_create(&cfg, &sh->t));
    sh->rounds = test_under_sanitizer() ? 40 : 200;
    for (size_t i = 0; i < BLOCKS; i++) sh->chain[i] = cons_chain_plh(1, i + 1, NULL);
    writer w[3] = {{sh, KVBM_CONS_SOURCE_VLLM}, {sh, KVBM_CONS_SOURCE_TRTLLM}, {sh, KVBM_CONS_SOURCE_KVBM}};
    atomic_store(&sh->writers_left, 3);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) ASSERT_TRUE(pthread_create(&th[i], NULL, write_loop, &w[i]) == 0);
    model *m = calloc(1, sizeof *m);
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(kvbm_cons_events_create(&ev));
    bool ok = m != NULL;
    for (;;) { /* the drainer */
        bool last = atomic_load(&sh->writers_left) == 0;
        ok = ok && kvbm_cons_tracker_drain(sh->t, ev) == KVBM_OK && model_apply(m, ev);
        if (last) break;
        sched_yield();
    }
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    ok = ok && kvbm_cons_tracker_drain(sh->t, ev) == KVBM_OK && model_apply(m, ev);
    EXPECT_TRUE(ok);
    EXPECT_EQ(atomic_load(&sh->errors), 0);
    EXPECT_EQ(m ? m->n_live : 1, 0); /* every block was removed by every source */
    EXPECT_GT(m ? m->stores : 0, 0);
    EXPECT_EQ(m ? m->stores : 0, m ? m->removes : 1);
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(sh->t, &st);
    EXPECT_EQ(st.live_blocks, 0);
    EXPECT_EQ(st.mappings, 0);
    EXPECT_OK(kvbm_cons_tracker_check(sh->t));
    EXPECT_EQ(kvbm_registry_registered_count(reg), 0); /* every handle released */
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(sh->t);
    kvbm_registry_release(reg);
    free(m);
    free(sh);
}
