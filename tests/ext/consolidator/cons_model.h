/* tests/ext/consolidator/cons_model.h - the lifecycle model the property and concurrency
 * tests replay drained streams through (see test_cons_tracker_prop.c for the rules). */
#ifndef KVBM_CONS_MODEL_H
#define KVBM_CONS_MODEL_H

#include "cons_test.h"

#define MAXP 1024

typedef struct model {
    kvbm_plh live[MAXP];
    size_t   n_live;
    kvbm_plh stored[MAXP]; /* stored since the last CLEAR_ALL */
    size_t   n_stored;
    size_t   stores, removes, clears;
} model;

static inline size_t find(const kvbm_plh *v, size_t n, kvbm_plh p)
{
    for (size_t i = 0; i < n; i++)
        if (kvbm_plh_eq(v[i], p)) return i;
    return n;
}

/* Replay @ev into @m; false (with a message) on the first violation. */
static inline bool model_apply(model *m, const kvbm_cons_events *ev)
{
    for (size_t i = 0; i < kvbm_cons_events_count(ev); i++) {
        const kvbm_cons_event *e = kvbm_cons_events_get(ev, i);
        if (e->kind == KVBM_CONS_CLEAR_ALL) {
            m->n_live = m->n_stored = 0;
            m->clears++;
        } else if (e->kind == KVBM_CONS_STORE) {
            if (find(m->live, m->n_live, e->plh) != m->n_live) {
                printf("    STORE of a live block (event %zu)\n", i);
                return false;
            }
            uint64_t pos = kvbm_plh_position(e->plh);
            if (pos > 0) {
                bool ok = false;
                for (size_t j = 0; j < m->n_stored && !ok; j++)
                    ok = kvbm_plh_position(m->stored[j]) == pos - 1 &&
                         kvbm_plh_parent_fragment_for_child_position(m->stored[j], pos) ==
                             kvbm_plh_parent_fragment(e->plh);
                if (!ok) {
                    printf("    STORE at position %llu without a stored parent (event %zu)\n",
                           (unsigned long long)pos, i);
                    return false;
                }
            }
            if (m->n_live == MAXP || m->n_stored == MAXP) return false;
            m->live[m->n_live++] = e->plh;
            if (find(m->stored, m->n_stored, e->plh) == m->n_stored) m->stored[m->n_stored++] = e->plh;
            m->stores++;
        } else {
            size_t k = find(m->live, m->n_live, e->plh);
            if (k == m->n_live) {
                printf("    REMOVE of a block that is not live (event %zu)\n", i);
                return false;
            }
            m->live[k] = m->live[--m->n_live];
            m->removes++;
        }
    }
    return true;
}

#endif /* KVBM_CONS_MODEL_H */
