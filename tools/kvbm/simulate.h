/* tools/kvbm/simulate.h - `kvbm simulate`: a continuous-batching scheduler driving the
 * SchedulableSequence layer (kvbm/schedulable.h) over a request workload.
 *
 * Workload: requests with an input length, an output length and Mooncake hash_ids (one id
 * per `id_block_tokens` prompt tokens; equal ids at equal positions = shared prefix). Token
 * k of a prompt is hash_ids[k / id_block_tokens], or a request-unique value past the ids.
 *
 * Scheduler (one step = one forward pass): resume preempted requests (reacquire, oldest
 * first), admit waiting ones (FIFO; create + prefix match) while fewer than max_running
 * run, then schedule every running request - a prefill chunk of at most `chunk` tokens
 * within the step's `token_budget`, else one decode token. When the manager is out of
 * blocks, the most recently admitted idle request is preempted (released) and the
 * schedule retried. Then every scheduled request is applied (a sampled token on the final
 * prefill chunk and per decode); finished requests release their blocks (cached for reuse).
 * A request that could never fit the manager is rejected at admission.
 */
#ifndef CLI_SIMULATE_H
#define CLI_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_sim_request {
    size_t    input_len, output_len;
    uint32_t *ids;  /* hash_ids (owned by the workload) */
    size_t    n_ids;
} cli_sim_request;

typedef struct cli_sim_workload {
    char            *name; /* owned */
    cli_sim_request *req;
    size_t           n, cap;
} cli_sim_workload;

typedef struct cli_sim_config {
    uint64_t capacity;        /* manager blocks (default 4096) */
    uint32_t block_size;      /* tokens per block (default 16) */
    size_t   chunk;           /* prefill chunk, tokens (default 512) */
    size_t   token_budget;    /* tokens per step (default 2048) */
    size_t   max_running;     /* concurrent requests (default 64) */
    size_t   id_block_tokens; /* prompt tokens per hash id (default 512, Mooncake) */
    uint64_t max_steps;       /* safety stop (default 10,000,000) */
} cli_sim_config;
#define CLI_SIM_CONFIG_INIT { 4096, 16, 512, 2048, 64, 512, 10000000 }

typedef struct cli_sim_result {
    uint64_t steps, finished, rejected, preemptions, resumed;
    uint64_t prompt_tokens, cached_tokens, prefill_tokens, decode_tokens, recompute_tokens;
    uint64_t peak_blocks_in_use, capacity;
    double   wall_ms;
} cli_sim_result;

/* Workload builders: 0 / -1 with a message. cli_sim_workload_free is NULL-safe. */
int  cli_sim_synthetic(uint64_t seed, size_t n_requests, cli_sim_workload *w, char *err, size_t errlen);
/* Mooncake JSON lines: "input_length", "output_length" (integers) and "hash_ids" (array of
 * 0..2^32-1) per object; other keys ignored; "-" = stdin. */
int  cli_sim_load(const char *path, cli_sim_workload *w, char *err, size_t errlen);
int  cli_sim_parse(const char *name, const char *buf, size_t len, cli_sim_workload *w, char *err,
                   size_t errlen);
void cli_sim_workload_free(cli_sim_workload *w);

/* Run the workload to completion; every block must be back in the pool at the end. */
int cli_sim_run(const cli_sim_workload *w, const cli_sim_config *cfg, cli_sim_result *out,
                char *err, size_t errlen);

#endif /* CLI_SIMULATE_H */
