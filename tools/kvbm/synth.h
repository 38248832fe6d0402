/* tools/kvbm/synth.h - the built-in synthetic workload (seeded, deterministic).
 *
 * Three kinds of requests, interleaved:
 *   - conversations: a shared system prompt (a few popular ones, Zipf-like choice) plus
 *     a user turn; every later turn re-sends the whole previous prompt, extended by the
 *     answer and the next user message (multi-turn prefix reuse);
 *   - new conversations starting from a system prompt;
 *   - a long tail of one-off requests with fresh ids (some behind a system prompt, some
 *     with none; lengths mostly short, occasionally long).
 * The same config always yields the same trace, on every platform (own PRNG).
 */
#ifndef CLI_SYNTH_H
#define CLI_SYNTH_H

#include <stdint.h>

#include "trace.h"

typedef struct cli_synth_config {
    uint64_t seed;           /* default 42 */
    uint32_t requests;       /* default 4000 */
    uint32_t system_prompts; /* default 8 */
} cli_synth_config;
#define CLI_SYNTH_CONFIG_INIT { 42, 4000, 8 }

/* Build the workload into *t (named "synthetic(seed=N,requests=M)"). 0 / -1 (ENOMEM). */
int cli_synth_generate(const cli_synth_config *cfg, cli_trace *t, char *err, size_t errlen);

#endif /* CLI_SYNTH_H */
