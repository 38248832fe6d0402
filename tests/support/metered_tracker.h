/* tests/support/metered_tracker.h - a frequency tracker that meters its calls.
 *
 * Built on kvbm_tracker_create_custom(). It keeps an exact per-key touch count (so
 * kvbm_tracker_count() / kvbm_registry_count() return the number of touches of that key)
 * and two global meters: the number of touch() and count() calls it received. Tests use it
 * to assert the exact touch accounting of spec 10 §5.5 / 20 §2.7.
 *
 * Lifetime: metered_tracker_new() returns an object holding one tracker reference;
 * metered_tracker_release() drops it. The object itself is freed when the last tracker
 * reference goes (e.g. when the registry that cloned it dies), so read the meters before
 * releasing everything. Thread-safe (one mutex per tracker; meters are atomics).
 */
#ifndef KVBM_TEST_METERED_TRACKER_H
#define KVBM_TEST_METERED_TRACKER_H

#include <stdint.h>

#include "kvbm/plh.h"
#include "kvbm/tracker.h"

typedef struct metered_tracker metered_tracker;

/* New metered tracker; aborts on allocation failure (test code). */
metered_tracker *metered_tracker_new(void);
/* The kvbm tracker (borrowed; pass it to KVBM_REGISTRY_CONFIG.tracker, which clones it). */
kvbm_tracker *metered_tracker_get(metered_tracker *m);
/* Number of touch() / count() calls since creation or the last reset. */
uint64_t metered_tracker_touches(metered_tracker *m);
uint64_t metered_tracker_counts(metered_tracker *m);
/* Touches of one key since creation (not reset by metered_tracker_reset). */
uint32_t metered_tracker_key_touches(metered_tracker *m, kvbm_plh h);
/* Zero both call meters. */
void metered_tracker_reset(metered_tracker *m);
/* Drop the reference returned by metered_tracker_new(). NULL: no-op. */
void metered_tracker_release(metered_tracker *m);

#endif
