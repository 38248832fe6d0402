/* tools/kvbm/sweep.h - `kvbm replay --sweep`: every backend at every capacity, written as
 * a miss-ratio-curve CSV and an SVG plot (hit rate against capacity, one line per backend). */
#ifndef CLI_SWEEP_H
#define CLI_SWEEP_H

#include <stdbool.h>
#include <stdio.h>

#include "replay.h"

/**
 * cli_sweep_run() - results for backends[b] at caps[c] land in out[b * ncaps + c]
 * (@out: nb * ncaps entries). @progress: draw a progress bar on @tty (stderr) as runs finish.
 * Returns 0, or the first failing cli_replay_run()'s -1 / -2.
 */
int cli_sweep_run(const cli_replay_hashed *h, const uint64_t *caps, size_t ncaps,
                   const cli_backend *backends, size_t nb, cli_release_order order,
                   uint32_t repeat, cli_tracker tracker, bool breakdown, FILE *tty, cli_replay_result *out, char *err, size_t errlen);

/* The miss-ratio-curve CSV: trace,backend,capacity,hit_rate,miss_ratio,... one row per run. */
int cli_sweep_write_csv(const char *path, const char *trace, const cli_replay_result *r,
                         size_t n, char *err, size_t errlen);

/**
 * cli_svg_write_mrc() - a self-contained SVG line chart: x = capacity (log2 axis when the
 * capacities span 8x or more, else linear), y = hit rate; one coloured line per backend with
 * point markers and a legend; a dashed line at the infinite-cache hit rate @bound (skipped
 * when < 0).
 */
int cli_svg_write_mrc(const char *path, const char *title, const cli_replay_result *r, size_t n,
                       double bound, char *err, size_t errlen);

#endif /* CLI_SWEEP_H */
