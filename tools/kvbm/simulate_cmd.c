/* tools/kvbm/simulate_cmd.c - `kvbm simulate`: options and report (engine: simulate.c). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "simulate.h"
#include "util.h"

void cli_usage_simulate(void)
{
    fputs("usage: kvbm simulate [TRACE.jsonl | -] [options]\n"
          "\n"
          "Drives the SchedulableSequence layer like a continuous-batching scheduler: admit\n"
          "requests (prefix match), prefill in chunks, decode to each request's output length,\n"
          "preempt the newest request when blocks run out (release, later reacquire). TRACE is\n"
          "Mooncake JSON lines (input_length, output_length, hash_ids); without it a seeded\n"
          "synthetic workload is used.\n"
          "\n"
          "  --capacity BLOCKS      manager size (default 4096)\n"
          "  --block-size N         tokens per block, power of 2 in 1..1024 (default 16)\n"
          "  --chunk N              prefill chunk in tokens (default 512)\n"
          "  --token-budget N       tokens per scheduler step (default 2048)\n"
          "  --max-running N        concurrent requests (default 64)\n"
          "  --id-block-tokens N    prompt tokens per hash id (default 512, Mooncake)\n"
          "  --seed N, --requests N synthetic workload (default seed 42, 200 requests)\n"
          "  --format FMT           table (default) | json\n", stdout);
}

static int opt_u64(const char *name, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    if (v == NULL || cli_parse_u64(v, max, out) != 0 || *out < min)
        return cli_errorf(-1, "%s needs an integer in %llu..%llu", name, (unsigned long long)min,
                          (unsigned long long)max);
    return 0;
}

static void report(const cli_sim_workload *w, const cli_sim_config *c, const cli_sim_result *r,
                   bool json)
{
    double hit = r->prompt_tokens ? 100.0 * (double)r->cached_tokens / (double)r->prompt_tokens : 0.0;
    double tps = r->steps ? (double)(r->prefill_tokens + r->decode_tokens) / (double)r->steps : 0.0;
    if (json) {
        printf("{\"workload\":\"%s\",\"requests\":%zu,\"capacity\":%llu,\"block_size\":%u,"
               "\"chunk\":%zu,\"token_budget\":%zu,\"max_running\":%zu,\"steps\":%llu,"
               "\"finished\":%llu,\"rejected\":%llu,\"prompt_tokens\":%llu,\"cached_tokens\":%llu,"
               "\"prefix_hit_rate\":%.4f,\"prefill_tokens\":%llu,\"decode_tokens\":%llu,"
               "\"tokens_per_step\":%.2f,\"preemptions\":%llu,\"resumed\":%llu,"
               "\"recompute_tokens\":%llu,\"peak_blocks_in_use\":%llu,\"wall_ms\":%.3f}\n",
               w->name, w->n, (unsigned long long)c->capacity, c->block_size, c->chunk, c->token_budget,
               c->max_running, (unsigned long long)r->steps, (unsigned long long)r->finished,
               (unsigned long long)r->rejected, (unsigned long long)r->prompt_tokens,
               (unsigned long long)r->cached_tokens, hit / 100.0, (unsigned long long)r->prefill_tokens,
               (unsigned long long)r->decode_tokens, tps, (unsigned long long)r->preemptions,
               (unsigned long long)r->resumed, (unsigned long long)r->recompute_tokens,
               (unsigned long long)r->peak_blocks_in_use, r->wall_ms);
        return;
    }
    printf("workload            %s, %zu requests\n", w->name, w->n);
    printf("manager             %llu blocks x %u tokens; chunk %zu, token budget %zu, max running %zu\n",
           (unsigned long long)c->capacity, c->block_size, c->chunk, c->token_budget, c->max_running);
    printf("scheduler steps     %llu (%.1f tokens/step)\n", (unsigned long long)r->steps, tps);
    printf("requests            %llu finished, %llu rejected (larger than the manager)\n",
           (unsigned long long)r->finished, (unsigned long long)r->rejected);
    printf("prefix hits         %llu of %llu prompt tokens (%.1f%%)\n", (unsigned long long)r->cached_tokens,
           (unsigned long long)r->prompt_tokens, hit);
    printf("tokens computed     %llu prefill, %llu decode\n", (unsigned long long)r->prefill_tokens,
           (unsigned long long)r->decode_tokens);
    printf("preemptions         %llu (%llu resumed; %llu tokens to recompute after reacquire)\n",
           (unsigned long long)r->preemptions, (unsigned long long)r->resumed,
           (unsigned long long)r->recompute_tokens);
    printf("peak blocks in use  %llu of %llu\n", (unsigned long long)r->peak_blocks_in_use,
           (unsigned long long)r->capacity);
    printf("wall time           %.1f ms (%.0f steps/s)\n", r->wall_ms,
           r->wall_ms > 0 ? (double)r->steps * 1e3 / r->wall_ms : 0.0);
}

int cli_cmd_simulate(int argc, char **argv)
{
    cli_sim_config c = CLI_SIM_CONFIG_INIT;
    uint64_t seed = 42, requests = 200, v;
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        int rc = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_usage_simulate();
            return CLI_EXIT_OK;
        } else if (cli_opt_value(argv, argc, &i, "--capacity", &val)) {
            rc = opt_u64("--capacity", val, 1, UINT32_MAX - 1, &c.capacity);
        } else if (cli_opt_value(argv, argc, &i, "--block-size", &val)) {
            rc = opt_u64("--block-size", val, 1, 1024, &v);
            if (rc == 0 && (v & (v - 1)) != 0) rc = cli_errorf(-1, "--block-size must be a power of 2");
            c.block_size = (uint32_t)v;
        } else if (cli_opt_value(argv, argc, &i, "--chunk", &val)) {
            rc = opt_u64("--chunk", val, 1, 1u << 24, &v);
            c.chunk = (size_t)v;
        } else if (cli_opt_value(argv, argc, &i, "--token-budget", &val)) {
            rc = opt_u64("--token-budget", val, 1, 1u << 24, &v);
            c.token_budget = (size_t)v;
        } else if (cli_opt_value(argv, argc, &i, "--max-running", &val)) {
            rc = opt_u64("--max-running", val, 1, 1u << 20, &v);
            c.max_running = (size_t)v;
        } else if (cli_opt_value(argv, argc, &i, "--id-block-tokens", &val)) {
            rc = opt_u64("--id-block-tokens", val, 1, 1u << 20, &v);
            c.id_block_tokens = (size_t)v;
        } else if (cli_opt_value(argv, argc, &i, "--seed", &val)) {
            rc = opt_u64("--seed", val, 0, UINT64_MAX, &seed);
        } else if (cli_opt_value(argv, argc, &i, "--requests", &val)) {
            rc = opt_u64("--requests", val, 1, 1u << 24, &requests);
        } else if (cli_opt_value(argv, argc, &i, "--format", &val)) {
            if (val && strcmp(val, "json") == 0) json = true;
            else if (!val || strcmp(val, "table") != 0) rc = cli_errorf(-1, "--format is table or json");
        } else if (a[0] == '-' && a[1] != '\0') {
            rc = cli_errorf(-1, "unknown option '%s' (kvbm help simulate)", a);
        } else if (path == NULL) {
            path = a;
        } else {
            rc = cli_errorf(-1, "more than one trace given");
        }
        if (rc != 0) return CLI_EXIT_USAGE;
    }
    char err[512];
    cli_sim_workload w;
    int rc = path ? cli_sim_load(path, &w, err, sizeof err)
                  : cli_sim_synthetic(seed, (size_t)requests, &w, err, sizeof err);
    if (rc != 0) return cli_errorf(CLI_EXIT_ERROR, "%s", err);
    cli_sim_result r;
    rc = cli_sim_run(&w, &c, &r, err, sizeof err);
    if (rc == 0) report(&w, &c, &r, json);
    cli_sim_workload_free(&w);
    return rc == 0 ? CLI_EXIT_OK : cli_errorf(CLI_EXIT_ERROR, "%s", err);
}
