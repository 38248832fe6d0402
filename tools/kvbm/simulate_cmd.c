/* tools/kvbm/simulate_cmd.c - `kvbm simulate`: options and report (engine: simulate.c). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "simulate.h"
#include "util.h"

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

typedef struct sim_opts {
    uint64_t    capacity, block_size, chunk, token_budget, max_running, id_block_tokens;
    uint64_t    seed, requests;
    int         json;
    const char *trace;
} sim_opts;

#define S (&cli_simulate_command)

static int set_block_size(void *opts, const char *v)
{
    uint64_t *bs = &((sim_opts *)opts)->block_size;
    if (cli_parse_u64(v, 1024, bs) != 0 || *bs == 0 || (*bs & (*bs - 1)) != 0)
        return cli_usage_error(S, "--block-size must be a power of 2 between 1 and 1024, got '%s'", v);
    return 0;
}

static int set_format(void *opts, const char *v)
{
    if (strcmp(v, "table") != 0 && strcmp(v, "json") != 0)
        return cli_usage_error(S, "--format is table or json, got '%s'", v);
    ((sim_opts *)opts)->json = strcmp(v, "json") == 0;
    return 0;
}

static int set_trace(void *opts, const char *a)
{
    sim_opts *o = opts;
    if (o->trace != NULL) return cli_usage_error(S, "more than one trace given ('%s')", a);
    o->trace = a;
    return 0;
}

static const cli_option simulate_options[] = {
    { "--capacity", NULL, "BLOCKS", "manager size (default 4096)",
      CLI_OPT_U64, offsetof(sim_opts, capacity), 1, UINT32_MAX - 1, NULL },
    { "--block-size", NULL, "N", "tokens per block, power of 2 in 1..1024 (default 16)",
      CLI_OPT_FN, 0, 0, 0, set_block_size },
    { "--chunk", NULL, "N", "prefill chunk in tokens (default 512)",
      CLI_OPT_U64, offsetof(sim_opts, chunk), 1, 1u << 24, NULL },
    { "--token-budget", NULL, "N", "tokens per scheduler step (default 2048)",
      CLI_OPT_U64, offsetof(sim_opts, token_budget), 1, 1u << 24, NULL },
    { "--max-running", NULL, "N", "concurrent requests (default 64)",
      CLI_OPT_U64, offsetof(sim_opts, max_running), 1, 1u << 20, NULL },
    { "--id-block-tokens", NULL, "N", "prompt tokens per hash id (default 512, Mooncake)",
      CLI_OPT_U64, offsetof(sim_opts, id_block_tokens), 1, 1u << 20, NULL },
    { "--seed", NULL, "N", "synthetic workload seed (default 42)",
      CLI_OPT_U64, offsetof(sim_opts, seed), 0, UINT64_MAX, NULL },
    { "--requests", NULL, "N", "synthetic workload size (default 200)",
      CLI_OPT_U64, offsetof(sim_opts, requests), 1, 1u << 24, NULL },
    { "--format", NULL, "FMT", "table (default) | json (one object)",
      CLI_OPT_FN, 0, 0, 0, set_format },
};

const cli_command cli_simulate_command = {
    "simulate", "[TRACE.jsonl | -] [options]",
    "drive the sequence layer like a scheduler (prefill, decode, preemption)",
    "Drives the SchedulableSequence layer like a continuous-batching scheduler: admit\n"
    "requests (prefix match), prefill in chunks, decode to each request's output length,\n"
    "preempt the newest request when blocks run out (release, later reacquire). TRACE is\n"
    "Mooncake JSON lines (input_length, output_length, hash_ids); without it a seeded\n"
    "synthetic workload is used. Reports scheduler steps, prefix-hit rate, preemptions and\n"
    "the peak of blocks in use.",
    simulate_options, sizeof simulate_options / sizeof simulate_options[0], set_trace, cli_cmd_simulate,
};

int cli_cmd_simulate(int argc, char **argv)
{
    cli_sim_config c = CLI_SIM_CONFIG_INIT;
    sim_opts o = { c.capacity, c.block_size, c.chunk, c.token_budget, c.max_running,
                   c.id_block_tokens, 42, 200, 0, NULL };
    bool help;
    int rc = cli_parse_options(S, argc, argv, &o, &help);
    if (rc != 0 || help) {
        if (help) cli_print_help(S, stdout);
        return rc;
    }
    c.capacity = o.capacity;
    c.block_size = (uint32_t)o.block_size;
    c.chunk = (size_t)o.chunk;
    c.token_budget = (size_t)o.token_budget;
    c.max_running = (size_t)o.max_running;
    c.id_block_tokens = (size_t)o.id_block_tokens;
    char err[512];
    cli_sim_workload w;
    rc = o.trace ? cli_sim_load(o.trace, &w, err, sizeof err)
                 : cli_sim_synthetic(o.seed, (size_t)o.requests, &w, err, sizeof err);
    if (rc != 0) return cli_errorf(CLI_EXIT_ERROR, "%s", err);
    cli_sim_result r;
    rc = cli_sim_run(&w, &c, &r, err, sizeof err);
    if (rc == 0) report(&w, &c, &r, o.json != 0);
    cli_sim_workload_free(&w);
    return rc == 0 ? CLI_EXIT_OK : cli_errorf(CLI_EXIT_ERROR, "%s", err);
}
