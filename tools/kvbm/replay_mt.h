/* tools/kvbm/replay_mt.h - `kvbm replay --threads 2` (replay_mt.c; internal API). */
#ifndef KVBM_TOOL_REPLAY_MT_H
#define KVBM_TOOL_REPLAY_MT_H

#include <stdio.h>

#include "replay.h"

/* Configurations, in this order: one-manager x {1, 2} threads, two-managers x {1, 2}. */
#define CLI_REPLAY_MT_CONFIGS 4

typedef struct cli_replay_mt_sample {
    uint64_t wall_ns;              /* first thread's start to the last thread's end */
    uint64_t blocks_requested, blocks_hit, no_room_blocks;
} cli_replay_mt_sample;

typedef struct cli_replay_mt_result {
    bool     two_managers;
    uint32_t threads;
    uint32_t runs;
    double   best_blocks_per_s, median_blocks_per_s;
    cli_replay_mt_sample last;    /* the last run (hit counts vary with two threads) */
} cli_replay_mt_result;

/* Run the four configurations cfg->repeat times each, interleaved (replay_mt.c). Uses
 * cfg->backend, capacity (>= 2), release_order, repeat and tracker. 0, or -1 with @err. */
int  cli_replay_run_mt(const cli_replay_hashed *h, const cli_replay_config *cfg,
                        cli_replay_mt_result res[CLI_REPLAY_MT_CONFIGS], char *err, size_t errlen);
void cli_replay_mt_print(FILE *f, const char *trace, const cli_replay_config *cfg,
                          const cli_replay_mt_result res[CLI_REPLAY_MT_CONFIGS]);

#endif /* KVBM_TOOL_REPLAY_MT_H */
