/* tools/kvbm/bench_cmd.c - `kvbm bench`: the core benchmark matrix (the library
 * bench_matrix, bench/matrix/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

#include "matrix.h"

static void on_cell(void *ctx, const bench_cell *c)
{
    size_t *done = ctx;
    (*done)++;
    fprintf(stderr, "\r\033[K[%zu] %s %s n=%u", *done, c->group, c->backend, c->n);
    fflush(stderr);
}

int cli_cmd_bench(int argc, char **argv)
{
    bench_options opt = BENCH_OPTIONS_INIT;
    uint32_t sizes[16];
    bool csv = false;
    int progress = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        uint64_t u;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_usage_bench();
            return CLI_EXIT_OK;
        } else if (cli_opt_value(argv, argc, &i, "--format", &v)) {
            if (v != NULL && strcmp(v, "csv") == 0) csv = true;
            else if (v != NULL && strcmp(v, "table") == 0) csv = false;
            else return cli_errorf(CLI_EXIT_USAGE, "bench: --format must be table or csv, got '%s'", v ? v : "");
        } else if (cli_opt_value(argv, argc, &i, "--groups", &v)) {
            if (v == NULL || !bench_parse_list(v, false, &opt.groups))
                return cli_errorf(CLI_EXIT_USAGE, "bench: unknown group in '%s'", v ? v : "");
        } else if (cli_opt_value(argv, argc, &i, "--backends", &v) ||
                   cli_opt_value(argv, argc, &i, "--backend", &v)) {
            if (v == NULL || !bench_parse_list(v, true, &opt.backends))
                return cli_errorf(CLI_EXIT_USAGE, "bench: unknown backend in '%s' (lineage, "
                                   "lineage-fifo, lru, multi-lru, hashmap, all)", v ? v : "");
        } else if (cli_opt_value(argv, argc, &i, "--sizes", &v)) {
            uint64_t *caps = NULL;
            size_t n = 0;
            char err[256];
            if (v == NULL || cli_parse_capacity_list(v, 1u << 20, &caps, &n, err, sizeof err) != 0)
                return cli_errorf(CLI_EXIT_USAGE, "bench: --sizes: %s", v ? err : "missing value");
            if (n > 16) { free(caps); return cli_errorf(CLI_EXIT_USAGE, "bench: at most 16 sizes"); }
            for (size_t k = 0; k < n; k++) sizes[k] = (uint32_t)caps[k];
            free(caps);
            opt.sizes = sizes;
            opt.n_sizes = n;
        } else if (cli_opt_value(argv, argc, &i, "--samples", &v)) {
            if (v == NULL || cli_parse_u64(v, 100000, &u) != 0 || u == 0)
                return cli_errorf(CLI_EXIT_USAGE, "bench: --samples must be 1..100000");
            opt.samples = (uint32_t)u;
        } else if (cli_opt_value(argv, argc, &i, "--tracker", &v)) {
            if (v != NULL && strcmp(v, "auto") == 0) opt.tracker = BENCH_TRACKER_AUTO;
            else if (v != NULL && strcmp(v, "always") == 0) opt.tracker = BENCH_TRACKER_ALWAYS;
            else if (v != NULL && strcmp(v, "never") == 0) opt.tracker = BENCH_TRACKER_NEVER;
            else return cli_errorf(CLI_EXIT_USAGE, "bench: --tracker must be auto, always or never");
        } else if (strcmp(a, "--quick") == 0) {
            opt.samples = 5;
            opt.min_sample_ns = 50000;
        } else if (strcmp(a, "--progress") == 0) {
            progress = 1;
        } else if (strcmp(a, "--no-progress") == 0) {
            progress = 0;
        } else {
            return cli_errorf(CLI_EXIT_USAGE, "bench: unknown argument '%s' (see 'kvbm help bench')", a);
        }
    }
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
            fprintf(stderr, "kvbm: bench: %s %s n=%u unavailable: %s\n", cells[i].group,
                    cells[i].backend, cells[i].n, kvbm_strerror(cells[i].status));
        }
    }
    free(cells);
    if (fflush(stdout) != 0) return cli_errorf(CLI_EXIT_ERROR, "cannot write output");
    return failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
