/* tests/manager/test_stress_random.c - multi-threaded random-operation stress (issue 2
 * item 9): 4+ threads, seeded (printed; KVBM_TEST_SEED replays), invariants checked at every
 * round barrier, and every block back in the reset pool at the end. LRU and HashMap
 * backends; the Lineage/MultiLRU runs are in test_backends_stress.c. See stress_engine.h. */
#include "stress_engine.h"

static int se_threads(void) { return 4; }
static int se_rounds(void) { return test_under_sanitizer() ? 250 : 1000; }
static int se_ops(void) { return 100; }

KVBM_TEST(stress_random_lru_allow)
{
    tm_opts o = TM_OPTS_INIT(32);
    stress_run("stress_random_lru_allow", o, se_threads(), se_rounds(), se_ops());
}

KVBM_TEST(stress_random_lru_reject_default_reset)
{
    tm_opts o = TM_OPTS_INIT(32);
    o.policy = KVBM_DUP_REJECT;
    o.default_reset = true;
    stress_run("stress_random_lru_reject_default_reset", o, se_threads(), se_rounds(), se_ops());
}

KVBM_TEST(stress_random_hashmap_allow_6_threads)
{
    tm_opts o = TM_OPTS_INIT(24);
    o.backend = KVBM_BACKEND_HASHMAP;
    o.tracker_kind = TM_TRACKER_NONE;
    stress_run("stress_random_hashmap_allow_6_threads", o, 6, se_rounds(), se_ops());
}
