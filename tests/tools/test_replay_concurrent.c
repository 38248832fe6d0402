/* tests/tools/test_replay_concurrent.c - the two-thread replay (tools/kvbm/replay_mt.c, issue
 * 16 item 4) on the synthetic workload: two threads on one manager and on two managers
 * sharing a registry (and its TinyLFU tracker). Runs under TSan (file name). Every run
 * checks pool restoration and invariants itself; here: it succeeds for each backend, every
 * configuration accounts for every block, and one thread on one manager - both halves in
 * order - matches the plain single-threaded replay exactly. */
#include <string.h>

#include "harness.h"
#include "replay.h"
#include "replay_mt.h"
#include "synth.h"

KVBM_TEST(two_threads_on_one_manager_and_on_two_sharing_a_registry)
{
    cli_synth_config sc = CLI_SYNTH_CONFIG_INIT;
    sc.requests = 600;
    cli_trace t;
    cli_replay_hashed h;
    char err[512];
    ASSERT_EQ(cli_synth_generate(&sc, &t, err, sizeof err), 0);
    ASSERT_EQ(cli_replay_hash(&t, 4, &h, err, sizeof err), 0);
    const cli_backend backends[] = { CLI_LRU, CLI_LINEAGE, CLI_MULTI_LRU };
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        cli_replay_config cfg = { backends[b], 256, CLI_RELEASE_REVERSE, 2, CLI_TRACKER_MEDIUM, false };
        cli_replay_result plain;
        ASSERT_EQ(cli_replay_run(&h, &cfg, &plain, err, sizeof err), 0);
        cli_replay_mt_result r[CLI_REPLAY_MT_CONFIGS];
        int rc = cli_replay_run_mt(&h, &cfg, r, err, sizeof err);
        if (rc != 0) printf("%s: %s\n", cli_backend_name(backends[b]), err);
        ASSERT_EQ(rc, 0);
        for (int c = 0; c < CLI_REPLAY_MT_CONFIGS; c++) {
            EXPECT_EQ(r[c].runs, 2u);
            EXPECT_EQ(r[c].threads, c % 2 ? 2u : 1u);
            EXPECT_EQ(r[c].two_managers, c >= 2);
            EXPECT_EQ_U64(r[c].last.blocks_requested, plain.blocks_requested);
            EXPECT_TRUE(r[c].last.blocks_hit + r[c].last.no_room_blocks <= plain.blocks_requested);
            EXPECT_TRUE(r[c].best_blocks_per_s >= r[c].median_blocks_per_s);
        }
        EXPECT_EQ_U64(r[0].last.blocks_hit, plain.blocks_hit);
        EXPECT_EQ_U64(r[0].last.no_room_blocks, plain.no_room_blocks);
    }
    cli_replay_hashed_free(&h);
    cli_trace_free(&t);
}
