/* tests/manager/test_backends_stress.c - the random-operation stress of
 * test_stress_random.c on the Lineage (Tick, FIFO) and MultiLRU backends. Seeded (printed;
 * KVBM_TEST_SEED replays); invariants checked at every round; see stress_engine.h. */
#include "stress_engine.h"

static int se_rounds(void) { return test_under_sanitizer() ? 250 : 1000; }
static int se_ops(void) { return 100; }

KVBM_TEST(stress_random_lineage_tick_allow)
{
    tm_opts o = TM_OPTS_INIT(32);
    o.backend = KVBM_BACKEND_LINEAGE;
    stress_run("stress_random_lineage_tick_allow", o, 4, se_rounds(), se_ops());
}

KVBM_TEST(stress_random_lineage_fifo_reject)
{
    tm_opts o = TM_OPTS_INIT(32);
    o.backend = KVBM_BACKEND_LINEAGE;
    o.eviction = KVBM_LINEAGE_FIFO;
    o.policy = KVBM_DUP_REJECT;
    stress_run("stress_random_lineage_fifo_reject", o, 4, se_rounds(), se_ops());
}

KVBM_TEST(stress_random_multi_lru_allow)
{
    tm_opts o = TM_OPTS_INIT(32);
    o.backend = KVBM_BACKEND_MULTI_LRU;
    stress_run("stress_random_multi_lru_allow", o, 4, se_rounds(), se_ops());
}
