/* tests/support/events_helpers.c - see events_helpers.h. */
#include "support/events_helpers.h"
#include "kvbm/tokens.h"

kvbm_plh test_plh_at(uint64_t position)
{
    uint32_t tok[4];
    kvbm_plh h = { 0, 0 };
    for (uint64_t b = 0; b <= position; b++) {
        for (uint32_t i = 0; i < 4; i++) tok[i] = (uint32_t)(4 * b + i);
        uint64_t bh = kvbm_tokens_block_hash(tok, 4, 1337);
        if (b == 0) {
            h = kvbm_plh_root(bh);
        } else {
            kvbm_plh next;
            if (kvbm_plh_extend(&h, bh, &next) != KVBM_OK) break;
            h = next;
        }
    }
    return h;
}

kvbm_status test_next(kvbm_events_sub *sub, kvbm_event *ev)
{
    return kvbm_events_next(sub, 10000, ev, NULL);
}

bool test_events_counts(kvbm_events_manager *m, uint64_t created, uint64_t removed)
{
    kvbm_events_stats s;
    return kvbm_events_manager_get_stats(m, &s) == KVBM_OK && s.created == created &&
           s.removed == removed;
}
