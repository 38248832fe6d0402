/* tools/kvbm/main.c - the kvbm command-line tool: subcommand dispatch, help, version. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kvbm/common.h"
#include "commands.h"

int cli_errorf(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kvbm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

bool cli_opt_value(char **argv, int argc, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t nl = strlen(name);
    if (strncmp(a, name, nl) != 0) return false;
    if (a[nl] == '=') { *val = a + nl + 1; return true; }
    if (a[nl] != '\0') return false;
    if (*i + 1 < argc) { *val = argv[++*i]; return true; }
    *val = NULL;
    return true;
}

static void usage_main(FILE *f)
{
    fputs("usage: kvbm <command> [options]\n"
          "\n"
          "commands:\n"
          "  replay [TRACE.jsonl]   replay a Mooncake request trace (or the built-in synthetic\n"
          "                         workload) against kvbm managers: hit rates, evictions, throughput\n"
          "  replay --sweep CAPS    miss-ratio curves for every backend: CSV + SVG plot\n"
          "  bench                  the core benchmark matrix (match, drop, alloc/register cycle)\n"
          "  hash                   hashes of token blocks (block hash, sequence hash, PLH)\n"
          "  simulate [TRACE.jsonl] drive the sequence layer like a scheduler: chunked prefill,\n"
          "                         decode, preemption; steps, prefix hits, peak blocks\n"
          "  help [COMMAND]         this text, or a command's options\n"
          "  --version              print the version\n"
          "\n"
          "Start here:  kvbm replay\n"
          "Manual:      man kvbm\n", f);
}

void cli_usage_replay(void)
{
    fputs("usage: kvbm replay [TRACE.jsonl | -] [options]\n"
          "\n"
          "Replays each request in file order: match its prefix, allocate and register the\n"
          "rest, release everything (tail first). Without TRACE a seeded synthetic workload\n"
          "is used (shared system prompts, multi-turn conversations, one-off requests).\n"
          "\n"
          "  --capacity BLOCKS          manager size (default 512 synthetic, 4096 with a trace)\n"
          "  --backend NAME             lineage | lineage-fifo | lru | multi-lru | hashmap | all\n"
          "                             (default all)\n"
          "  --block-size N             tokens per block, power of 2 in 1..1024 (default 4)\n"
          "  --release-order ORDER      reverse (tail first, default) | forward\n"
          "  --repeat K                 K runs per configuration, median time (default 1)\n"
          "  --format FMT               table (default) | json (one object per run) | csv\n"
          "  --on-error stop|skip       malformed trace line: stop (default) or warn and skip\n"
          "  --seed N, --requests N     synthetic workload (default seed 42, 4000 requests)\n"
          "  --tracker T                registry frequency tracker: medium (default, the\n"
          "                             model's), small, large, none (not with multi-lru)\n"
          "  --breakdown                also time match/allocate/stage/register/release\n"
          "  --sweep LIST               capacities: A,B,C or A..B (doubling) or A..B:STEP;\n"
          "                             runs every backend (or --backend) at each capacity\n"
          "  --out PREFIX               sweep output files PREFIX.csv, PREFIX.svg (default kvbm-mrc)\n"
          "  --progress, --no-progress  progress bar on stderr (default: sweeps on a terminal)\n", stdout);
}

void cli_usage_hash(void)
{
    fputs("usage: kvbm hash [--block-size N] [--salt S] TOKEN...\n"
          "\n"
          "Prints one line per complete block: position block_hash sequence_hash plh\n"
          "(hashes as unsigned decimal, the PLH as 32 hex digits). Trailing tokens that do not\n"
          "fill a block are ignored. Without TOKEN arguments tokens are read from stdin.\n"
          "\n"
          "  --block-size N   tokens per block, power of 2 in 1..1024 (default 16)\n"
          "  --salt S         block-hash seed, unsigned 64-bit (default 0)\n", stdout);
}

void cli_usage_bench(void)
{
    fputs("usage: kvbm bench [--format table|csv] [options]\n"
          "\n"
          "Runs the core benchmark matrix: match_blocks_active_hit, match_blocks_inactive_hit\n"
          "and bulk_drop for n = 8, 32, 128 per backend, alloc_register_cycle and an\n"
          "eviction-heavy cell. --format csv prints 'group,backend,n,median_ns' rows\n"
          "(backend '-' where none applies).\n", stdout);
}

int main(int argc, char **argv)
{
    if (kvbm_version_number() / 100 != KVBM_VERSION_NUMBER / 100)
        return cli_errorf(CLI_EXIT_ERROR, "library version %s does not match this tool (%s)",
                           kvbm_version_string(), KVBM_VERSION_STRING);
    if (argc < 2) {
        usage_main(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("kvbm %s (library %s)\n", KVBM_VERSION_STRING, kvbm_version_string());
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        const char *topic = argc > 2 ? argv[2] : NULL;
        if (topic == NULL) usage_main(stdout);
        else if (strcmp(topic, "replay") == 0) cli_usage_replay();
        else if (strcmp(topic, "hash") == 0) cli_usage_hash();
        else if (strcmp(topic, "bench") == 0) cli_usage_bench();
        else if (strcmp(topic, "simulate") == 0) cli_usage_simulate();
        else return cli_errorf(CLI_EXIT_USAGE, "no help for unknown command '%s'", topic);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "replay") == 0) return cli_cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "hash") == 0) return cli_cmd_hash(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cli_cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "simulate") == 0) return cli_cmd_simulate(argc - 1, argv + 1);
    cli_errorf(0, "unknown command '%s'", cmd);
    usage_main(stderr);
    return CLI_EXIT_USAGE;
}
