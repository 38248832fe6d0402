/* tools/kvbm/bench_cmd.c - `kvbm bench`: the core benchmark matrix (the library
 * bench_matrix, bench/matrix/). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"
#include "util.h"

#include "matrix.h"

static void on_cell(void *ctx, const bench_cell *c)
{
    size_t *done = ctx;
    (*done)++;
    fprintf(stderr, "\r\033[K[%zu] %s %s n=%u", *done, c->group, c->backend, c->n);
    fflush(stderr);
}

typedef struct bench_cmd_opts {
    bench_options opt;
    uint32_t      sizes[16];
    int           csv;
    int           progress;   /* -1 auto, 0 off, 1 on */
    int           quick;
    uint64_t      samples;    /* 0: the matrix default */
} bench_cmd_opts;

#define B (&cli_bench_command)

static int set_format(void *opts, const char *v)
{
    bench_cmd_opts *o = opts;
    if (strcmp(v, "csv") == 0) o->csv = 1;
    else if (strcmp(v, "table") == 0) o->csv = 0;
    else return cli_usage_error(B, "--format must be table or csv, got '%s'", v);
    return 0;
}

static int set_groups(void *opts, const char *v)
{
    if (!bench_parse_list(v, false, &((bench_cmd_opts *)opts)->opt.groups))
        return cli_usage_error(B, "unknown group in '%s'", v);
    return 0;
}

static int set_backends(void *opts, const char *v)
{
    if (!bench_parse_list(v, true, &((bench_cmd_opts *)opts)->opt.backends))
        return cli_usage_error(B, "unknown backend in '%s' (lineage, lineage-fifo, lru, multi-lru, "
                               "hashmap, all)", v);
    return 0;
}

static int set_sizes(void *opts, const char *v)
{
    bench_cmd_opts *o = opts;
    uint64_t *caps = NULL;
    size_t n = 0;
    char err[256];
    if (cli_parse_capacity_list(v, 1u << 20, &caps, &n, err, sizeof err) != 0)
        return cli_usage_error(B, "--sizes: %s", err);
    if (n > 16) { free(caps); return cli_usage_error(B, "--sizes: at most 16 sizes, got %zu", n); }
    for (size_t k = 0; k < n; k++) o->sizes[k] = (uint32_t)caps[k];
    free(caps);
    o->opt.sizes = o->sizes;
    o->opt.n_sizes = n;
    return 0;
}

static int set_tracker(void *opts, const char *v)
{
    bench_cmd_opts *o = opts;
    if (strcmp(v, "auto") == 0) o->opt.tracker = BENCH_TRACKER_AUTO;
    else if (strcmp(v, "always") == 0) o->opt.tracker = BENCH_TRACKER_ALWAYS;
    else if (strcmp(v, "never") == 0) o->opt.tracker = BENCH_TRACKER_NEVER;
    else return cli_usage_error(B, "--tracker must be auto, always or never, got '%s'", v);
    return 0;
}

#define OFF(f) offsetof(bench_cmd_opts, f)
static const cli_option bench_cmd_options[] = {
    { "--format", NULL, "FMT", "table (default, with the Rust reference medians) | csv\n"
      "(group,backend,n,median_ns; backend '-' where none applies)",
      CLI_OPT_FN, 0, 0, 0, set_format },
    { "--groups", NULL, "LIST", "comma list of groups or all (default all):\n" BENCH_GROUP_LIST,
      CLI_OPT_FN, 0, 0, 0, set_groups },
    { "--backends", "--backend", "LIST", "comma list of lineage, lineage-fifo, lru, multi-lru,\nhashmap or all (default all)",
      CLI_OPT_FN, 0, 0, 0, set_backends },
    { "--sizes", NULL, "LIST", "blocks per iteration: A,B,C or A..B (default 8,32,128)",
      CLI_OPT_FN, 0, 0, 0, set_sizes },
    { "--samples", NULL, "N", "samples per cell, the median is reported (default 31)",
      CLI_OPT_U64, OFF(samples), 1, 100000, NULL },
    { "--tracker", NULL, "MODE", "auto (TinyLFU for multi-lru only, default), always, never",
      CLI_OPT_FN, 0, 0, 0, set_tracker },
    { "--quick", NULL, NULL, "5 short samples per cell (a smoke run, noisy numbers)",
      CLI_OPT_FLAG, OFF(quick), 1, 0, NULL },
    { "--progress", NULL, NULL, "progress line on stderr (default: on a terminal)",
      CLI_OPT_FLAG, OFF(progress), 1, 0, NULL },
    { "--no-progress", NULL, NULL, "no progress line",
      CLI_OPT_FLAG, OFF(progress), 0, 0, NULL },
};
#undef OFF

const cli_command cli_bench_command = {
    "bench", "[options]",
    "the core benchmark matrix (match, drop, alloc/register cycle)",
    "Runs the core benchmark matrix: every group for n = 8, 32, 128 per backend\n"
    "(match_blocks_active_hit does not depend on the backend: one row, backend '-').\n"
    "Every cell builds its own registry and manager; cells run one after another.",
    bench_cmd_options, sizeof bench_cmd_options / sizeof bench_cmd_options[0], NULL, cli_cmd_bench,
};

int cli_cmd_bench(int argc, char **argv)
{
    bench_cmd_opts o = { BENCH_OPTIONS_INIT, { 0 }, 0, -1, 0, 0 };
    bench_options opt;
    bool help;
    int rc = cli_parse_options(B, argc, argv, &o, &help);
    if (rc != 0) return rc;
    if (help) { cli_print_help(B, stdout); return CLI_EXIT_OK; }
    opt = o.opt;
    bool csv = o.csv != 0;
    int progress = o.progress;
    if (o.quick) {
        opt.samples = 5;
        opt.min_sample_ns = 50000;
    }
    if (o.samples != 0) opt.samples = (uint32_t)o.samples;
    size_t done = 0;
    if (progress == 1 || (progress == -1 && isatty(STDERR_FILENO))) {
        opt.on_cell = on_cell;
        opt.ctx = &done;
    }
    size_t cap = bench_cell_count(&opt), n = 0;
    bench_cell *cells = calloc(cap ? cap : 1, sizeof *cells);
    if (cells == NULL) return cli_errorf(CLI_EXIT_ERROR, "out of memory");
    kvbm_status st = bench_run(&opt, cells, cap, &n);
    if (opt.on_cell != NULL) fputs("\r\033[K", stderr);
    if (st != KVBM_OK) {
        free(cells);
        return cli_errorf(CLI_EXIT_ERROR, "bench: %s", kvbm_strerror(st));
    }
    int failed = 0;
    if (csv) {
        puts("group,backend,n,median_ns");
        for (size_t i = 0; i < n; i++)
            if (cells[i].status == KVBM_OK)
                printf("%s,%s,%u,%.1f\n", cells[i].group, cells[i].backend, cells[i].n, cells[i].median_ns);
    } else {
        printf("%-26s %-13s %5s %12s %12s %12s %13s %8s\n", "group", "backend", "n", "median ns",
               "p10 ns", "p90 ns", "reference ns", "speedup");
        for (size_t i = 0; i < n; i++) {
            const bench_cell *c = &cells[i];
            if (c->status != KVBM_OK) {
                printf("%-26s %-13s %5u   unavailable: %s\n", c->group, c->backend, c->n,
                       kvbm_strerror(c->status));
                continue;
            }
            double ref = bench_reference_ns(c->group, c->backend, c->n);
            char refs[32] = "-", spd[32] = "-";
            if (ref > 0) {
                snprintf(refs, sizeof refs, "%.0f", ref);
                snprintf(spd, sizeof spd, "%.1fx", c->median_ns > 0 ? ref / c->median_ns : 0.0);
            }
            printf("%-26s %-13s %5u %12.1f %12.1f %12.1f %13s %8s\n", c->group, c->backend, c->n,
                   c->median_ns, c->p10_ns, c->p90_ns, refs, spd);
        }
        puts("\nreference: Rust kvbm-logical criterion medians (spec issues 2 and 4); speedup = reference / median");
    }
    for (size_t i = 0; i < n; i++) {
        if (cells[i].status != KVBM_OK) {
            failed++;
            cli_errorf(0, "bench: %s %s n=%u unavailable: %s", cells[i].group,
                       cells[i].backend, cells[i].n, kvbm_strerror(cells[i].status));
        }
    }
    free(cells);
    if (fflush(stdout) != 0) return cli_errorf(CLI_EXIT_ERROR, "cannot write output");
    return failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
