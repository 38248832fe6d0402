/* tools/kvbm/replay_cmd.c - `kvbm replay`: options, trace or synthetic workload, single
 * runs or a --sweep, output in the chosen format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "format.h"
#include "replay.h"
#include "sweep.h"
#include "synth.h"
#include "trace.h"
#include "util.h"

/* Default capacities: the synthetic workload's working set is ~29k blocks, so 512 shows
 * plenty of evictions and runs in a few milliseconds; for a file, 4096 (a mid-size cache
 * on the Mooncake traces; see docs/perf/cli.md). */
#define DEFAULT_CAPACITY_SYNTH 512
#define DEFAULT_CAPACITY_TRACE 4096

typedef struct replay_opts {
    const char        *trace;         /* NULL: synthetic */
    uint64_t           capacity;      /* 0: default */
    bool               all_backends;
    cli_backend  backend;
    uint64_t           block_size;
    cli_release_order order;
    uint64_t           repeat;
    cli_format   format;
    cli_trace_on_error on_error;
    cli_synth_config  synth;
    const char        *sweep;
    const char        *out_prefix;
    int                progress;      /* -1 auto, 0 off, 1 on */
    cli_tracker  tracker;
    bool               breakdown;
} replay_opts;

static int usage_error(const char *fmt, const char *arg)
{
    fputs("kvbm: ", stderr);
    fprintf(stderr, fmt, arg ? arg : "");
    fputs(" (see 'kvbm help replay')\n", stderr);
    return CLI_EXIT_USAGE;
}

static int parse_opts(int argc, char **argv, replay_opts *o, bool *help)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        uint64_t u;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { *help = true; return 0; }
        if (cli_opt_value(argv, argc, &i, "--capacity", &v)) {
            if (v == NULL || cli_parse_u64(v, UINT64_MAX, &o->capacity) != 0)
                return usage_error("--capacity needs a number of blocks, got '%s'", v);
            if (o->capacity == 0) return usage_error("--capacity must be at least 1 block%s", NULL);
            if (o->capacity > CLI_REPLAY_MAX_CAPACITY)
                return usage_error("--capacity %s is too large (at most 67108864 blocks)", v);
        } else if (cli_opt_value(argv, argc, &i, "--backend", &v)) {
            if (v != NULL && strcmp(v, "all") == 0) o->all_backends = true;
            else if (v == NULL) return usage_error("--backend needs a name%s", NULL);
            else if (cli_backend_parse(v, &o->backend) != 0)
                return usage_error("--backend: %s, or all", kvbm_last_error());
            else o->all_backends = false;
        } else if (cli_opt_value(argv, argc, &i, "--block-size", &v)) {
            if (v == NULL || cli_parse_u64(v, 1024, &o->block_size) != 0 || o->block_size == 0 ||
                (o->block_size & (o->block_size - 1)) != 0)
                return usage_error("--block-size must be a power of 2 between 1 and 1024, got '%s'", v);
        } else if (cli_opt_value(argv, argc, &i, "--release-order", &v)) {
            if (v != NULL && strcmp(v, "reverse") == 0) o->order = CLI_RELEASE_REVERSE;
            else if (v != NULL && strcmp(v, "forward") == 0) o->order = CLI_RELEASE_FORWARD;
            else return usage_error("--release-order must be reverse or forward, got '%s'", v);
        } else if (cli_opt_value(argv, argc, &i, "--repeat", &v)) {
            if (v == NULL || cli_parse_u64(v, 1000, &o->repeat) != 0 || o->repeat == 0)
                return usage_error("--repeat must be between 1 and 1000, got '%s'", v);
        } else if (cli_opt_value(argv, argc, &i, "--format", &v)) {
            if (v == NULL || cli_format_parse(v, &o->format) != 0)
                return usage_error("--format must be table, json or csv, got '%s'", v);
        } else if (cli_opt_value(argv, argc, &i, "--on-error", &v)) {
            if (v != NULL && strcmp(v, "stop") == 0) o->on_error = CLI_TRACE_STOP;
            else if (v != NULL && strcmp(v, "skip") == 0) o->on_error = CLI_TRACE_SKIP;
            else return usage_error("--on-error must be stop or skip, got '%s'", v);
        } else if (cli_opt_value(argv, argc, &i, "--seed", &v)) {
            if (v == NULL || cli_parse_u64(v, UINT64_MAX, &o->synth.seed) != 0)
                return usage_error("--seed needs an unsigned integer, got '%s'", v);
        } else if (cli_opt_value(argv, argc, &i, "--requests", &v)) {
            if (v == NULL || cli_parse_u64(v, 10000000, &u) != 0 || u == 0)
                return usage_error("--requests must be between 1 and 10000000, got '%s'", v);
            o->synth.requests = (uint32_t)u;
        } else if (cli_opt_value(argv, argc, &i, "--sweep", &v)) {
            if (v == NULL || v[0] == '\0') return usage_error("--sweep needs a capacity list%s", NULL);
            o->sweep = v;
        } else if (cli_opt_value(argv, argc, &i, "--out", &v)) {
            if (v == NULL || v[0] == '\0') return usage_error("--out needs a file prefix%s", NULL);
            o->out_prefix = v;
        } else if (cli_opt_value(argv, argc, &i, "--tracker", &v)) {
            if (v == NULL || cli_tracker_parse(v, &o->tracker) != 0)
                return usage_error("--tracker must be medium, small, large or none, got '%s'", v);
        } else if (strcmp(a, "--breakdown") == 0) {
            o->breakdown = true;
        } else if (strcmp(a, "--progress") == 0) {
            o->progress = 1;
        } else if (strcmp(a, "--no-progress") == 0) {
            o->progress = 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("replay: unknown option '%s'", a);
        } else if (o->trace != NULL) {
            return usage_error("replay takes at most one trace file (extra argument '%s')", a);
        } else {
            o->trace = a;
        }
    }
    return 0;
}

static void emit(const replay_opts *o, const cli_trace *t, const cli_replay_result *r, size_t n)
{
    switch (o->format) {
    case CLI_FORMAT_TABLE:
        cli_format_table(stdout, t->name, t->n_requests, cli_trace_blocks(t), r, n);
        break;
    case CLI_FORMAT_JSON:
        for (size_t i = 0; i < n; i++) cli_format_json(stdout, t->name, &r[i]);
        break;
    case CLI_FORMAT_CSV:
        cli_format_csv_header(stdout);
        for (size_t i = 0; i < n; i++) cli_format_csv_row(stdout, t->name, &r[i]);
        break;
    }
}

int cli_cmd_replay(int argc, char **argv)
{
    replay_opts o = { NULL, 0, true, CLI_LINEAGE, 4, CLI_RELEASE_REVERSE, 1,
                      CLI_FORMAT_TABLE, CLI_TRACE_STOP, CLI_SYNTH_CONFIG_INIT, NULL,
                      "kvbm-mrc", -1, CLI_TRACKER_MEDIUM, false };
    bool help = false;
    int rc = parse_opts(argc, argv, &o, &help);
    if (rc != 0) return rc;
    if (help) { cli_usage_replay(); return CLI_EXIT_OK; }

    char err[512];
    cli_trace t;
    cli_replay_hashed h;
    cli_replay_result *res = NULL;
    uint64_t *caps = NULL;
    size_t ncaps = 1;
    if (o.sweep != NULL) {
        if (cli_parse_capacity_list(o.sweep, CLI_REPLAY_MAX_CAPACITY, &caps, &ncaps, err,
                                          sizeof err) != 0)
            return cli_errorf(CLI_EXIT_USAGE, "%s", err);
    } else {
        caps = malloc(sizeof *caps);
        if (caps == NULL) return cli_errorf(CLI_EXIT_ERROR, "out of memory");
        caps[0] = o.capacity ? o.capacity : o.trace ? DEFAULT_CAPACITY_TRACE : DEFAULT_CAPACITY_SYNTH;
    }
    if (o.trace != NULL) {
        if (cli_trace_load(o.trace, o.on_error, stderr, &t, err, sizeof err) != 0) {
            free(caps);
            return cli_errorf(CLI_EXIT_ERROR, "%s", err);
        }
        if (t.skipped)
            fprintf(stderr, "kvbm: %s: %zu malformed line%s skipped\n", t.name, t.skipped,
                    t.skipped == 1 ? "" : "s");
    } else if (cli_synth_generate(&o.synth, &t, err, sizeof err) != 0) {
        free(caps);
        return cli_errorf(CLI_EXIT_ERROR, "%s", err);
    }
    if (cli_replay_hash(&t, (uint32_t)o.block_size, &h, err, sizeof err) != 0) {
        cli_trace_free(&t);
        free(caps);
        return cli_errorf(CLI_EXIT_ERROR, "%s", err);
    }
    rc = CLI_EXIT_ERROR;
    cli_backend backends[CLI_BACKEND_COUNT];
    size_t nb = 0;
    if (o.all_backends) {
        for (int b = 0; b < CLI_BACKEND_COUNT; b++) {
            if (b == CLI_MULTI_LRU && o.tracker == CLI_TRACKER_NONE) {
                fprintf(stderr, "kvbm: note: multi-lru skipped (it needs a frequency tracker)\n");
                continue;
            }
            backends[nb++] = (cli_backend)b;
        }
    } else {
        backends[nb++] = o.backend;
    }

    res = calloc(nb * ncaps, sizeof *res);
    if (res == NULL) { cli_errorf(0, "out of memory"); goto out; }
    bool show = o.progress == 1 || (o.progress == -1 && o.sweep != NULL && isatty(STDERR_FILENO));
    if (cli_sweep_run(&h, caps, ncaps, backends, nb, o.order, (uint32_t)o.repeat, o.tracker,
                       o.breakdown, show ? stderr : NULL, res, err, sizeof err) != 0) {
        cli_errorf(0, "%s", err);
        goto out;
    }
    emit(&o, &t, res, nb * ncaps);
    if (o.sweep != NULL) {
        size_t pl = strlen(o.out_prefix) + 8;
        char *csv = malloc(pl), *svg = malloc(pl);
        int wrc = -1;
        if (csv != NULL && svg != NULL) {
            snprintf(csv, pl, "%s.csv", o.out_prefix);
            snprintf(svg, pl, "%s.svg", o.out_prefix);
            uint64_t refs = cli_trace_blocks(&t);
            double bound = refs ? (double)(refs - h.unique) / (double)refs : -1.0;
            wrc = cli_sweep_write_csv(csv, t.name, res, nb * ncaps, err, sizeof err);
            if (wrc == 0) wrc = cli_svg_write_mrc(svg, t.name, res, nb * ncaps, bound, err, sizeof err);
            if (wrc == 0) fprintf(stderr, "kvbm: wrote %s and %s\n", csv, svg);
            else cli_errorf(0, "%s", err);
        } else {
            cli_errorf(0, "out of memory");
        }
        free(csv);
        free(svg);
        if (wrc != 0) goto out;
    }
    rc = fflush(stdout) == 0 ? CLI_EXIT_OK : cli_errorf(CLI_EXIT_ERROR, "cannot write output");
out:
    free(res);
    free(caps);
    cli_replay_hashed_free(&h);
    cli_trace_free(&t);
    return rc;
}
