/* tests/ext/consolidator/cons_test.h - helpers shared by the consolidator tests (included
 * by each test file; static inline, no separate object). */
#ifndef KVBM_CONS_TEST_H
#define KVBM_CONS_TEST_H

#include "harness.h"
#include "kvbm/consolidator_tracker.h"
#include "kvbm/tokens.h"

/* Store one 4-token block [a, a+1, a+2, a+3]; parent: engine hash or 0 for none. */
static inline kvbm_status cons_store4(kvbm_cons_tracker *t, kvbm_cons_source s, uint64_t ext,
                                      uint64_t parent, uint32_t a, const char *lora)
{
    uint32_t tok[4] = {a, a + 1, a + 2, a + 3};
    return kvbm_cons_tracker_handle_store(t, s, ext, parent ? &parent : NULL, tok, 4, 4, lora);
}

/* The PLH of the chain of 4-token blocks starting at a0, a0+4, ... (n blocks), salt 1337
 * (+ lora), computed independently through kvbm/tokens.h. */
static inline kvbm_plh cons_chain_plh(uint32_t a0, size_t n, const char *lora)
{
    uint32_t tok[64];
    for (size_t i = 0; i < 4 * n && i < 64; i++) tok[i] = a0 + (uint32_t)i;
    kvbm_plh plhs[16];
    size_t nb = 0;
    if (kvbm_tokens_hash_blocks(tok, 4 * n, 4, kvbm_router_seed(lora), NULL, NULL, NULL, plhs, 16, &nb) != KVBM_OK ||
        nb != n)
        return (kvbm_plh){0, 0};
    return plhs[n - 1];
}

/* Drain @t into @ev (created on first use) and return the count. */
static inline size_t cons_drain(kvbm_cons_tracker *t, kvbm_cons_events **ev)
{
    if (*ev == NULL && kvbm_cons_events_create(ev) != KVBM_OK) return (size_t)-1;
    if (kvbm_cons_tracker_drain(t, *ev) != KVBM_OK) return (size_t)-1;
    return kvbm_cons_events_count(*ev);
}

static inline bool cons_is(const kvbm_cons_events *ev, size_t i, kvbm_cons_event_kind k, kvbm_plh plh)
{
    const kvbm_cons_event *e = kvbm_cons_events_get(ev, i);
    return e != NULL && e->kind == k && (k == KVBM_CONS_CLEAR_ALL || kvbm_plh_eq(e->plh, plh));
}

#endif /* KVBM_CONS_TEST_H */
