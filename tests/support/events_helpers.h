/* tests/support/events_helpers.h - shared helpers of the events tests. */
#ifndef KVBM_TEST_EVENTS_HELPERS_H
#define KVBM_TEST_EVENTS_HELPERS_H

#include "kvbm/events.h"

/* The spec's create_seq_hash_at_position(p) (20 §5.2): the PLH of block p of the token
 * sequence 0, 1, 2, ... with block size 4 and salt 1337. */
kvbm_plh test_plh_at(uint64_t position);

/* Next event of @sub within a generous bound (10 s; a missing event fails the test, a
 * slow machine does not). Returns the status of kvbm_events_next. */
kvbm_status test_next(kvbm_events_sub *sub, kvbm_event *ev);

/* True if @m's stats count exactly @created Creates and @removed Removes. */
bool test_events_counts(kvbm_events_manager *m, uint64_t created, uint64_t removed);

#endif
