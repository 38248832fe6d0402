/* tools/kvbm/replay_cmd.c - `kvbm replay`: options, trace or synthetic workload, single
 * runs or a --sweep, output in the chosen format. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"
#include "format.h"
#include "events_out.h"
#include "observe.h"
#include "replay.h"
#include "replay_mt.h"
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
    cli_backend        backend;
    uint64_t           block_size;
    cli_release_order  order;
    uint64_t           repeat;
    cli_format         format;
    cli_trace_on_error on_error;
    cli_synth_config   synth;
    uint64_t           requests;      /* --requests, copied into synth */
    const char        *sweep;
    const char        *out_prefix;    /* NULL: a sweep writes no files */
    int                progress;      /* -1 auto, 0 off, 1 on */
    cli_tracker        tracker;
    int                breakdown;
    uint64_t           threads;       /* 1, or 2: the two-thread replay (replay_mt.c) */
    cli_observe_opts   observe;       /* --metrics-port, --metrics-hold, --stats */
} replay_opts;

#define R (&cli_replay_command)

static int set_backend(void *opts, const char *v)
{
    replay_opts *o = opts;
    o->all_backends = strcmp(v, "all") == 0;
    if (!o->all_backends && cli_backend_parse(v, &o->backend) != 0)
        return cli_usage_error(R, "--backend: %s, or all", kvbm_last_error());
    return 0;
}

static int set_block_size(void *opts, const char *v)
{
    replay_opts *o = opts;
    if (cli_parse_u64(v, 1024, &o->block_size) != 0 || o->block_size == 0 ||
        (o->block_size & (o->block_size - 1)) != 0)
        return cli_usage_error(R, "--block-size must be a power of 2 between 1 and 1024, got '%s'", v);
    return 0;
}

static int set_order(void *opts, const char *v)
{
    replay_opts *o = opts;
    if (strcmp(v, "reverse") == 0) o->order = CLI_RELEASE_REVERSE;
    else if (strcmp(v, "forward") == 0) o->order = CLI_RELEASE_FORWARD;
    else return cli_usage_error(R, "--release-order must be reverse or forward, got '%s'", v);
    return 0;
}

static int set_format(void *opts, const char *v)
{
    if (cli_format_parse(v, &((replay_opts *)opts)->format) != 0)
        return cli_usage_error(R, "--format must be table, json or csv, got '%s'", v);
    return 0;
}

static int set_on_error(void *opts, const char *v)
{
    replay_opts *o = opts;
    if (strcmp(v, "stop") == 0) o->on_error = CLI_TRACE_STOP;
    else if (strcmp(v, "skip") == 0) o->on_error = CLI_TRACE_SKIP;
    else return cli_usage_error(R, "--on-error must be stop or skip, got '%s'", v);
    return 0;
}

static int set_tracker(void *opts, const char *v)
{
    if (cli_tracker_parse(v, &((replay_opts *)opts)->tracker) != 0)
        return cli_usage_error(R, "--tracker must be medium, small, large or none, got '%s'", v);
    return 0;
}

static int set_trace(void *opts, const char *v)
{
    replay_opts *o = opts;
    if (o->trace != NULL) return cli_usage_error(R, "at most one trace file (extra argument '%s')", v);
    o->trace = v;
    return 0;
}

#define OFF(f) offsetof(replay_opts, f)
static const cli_option replay_options[] = {
    { "--capacity", NULL, "BLOCKS", "manager size (default 512 synthetic, 4096 with a trace)",
      CLI_OPT_U64, OFF(capacity), 1, CLI_REPLAY_MAX_CAPACITY, NULL },
    { "--backend", NULL, "NAME", "lineage | lineage-fifo | lru | multi-lru | hashmap | all\n(default all)",
      CLI_OPT_FN, 0, 0, 0, set_backend },
    { "--block-size", NULL, "N", "tokens per block, power of 2 in 1..1024 (default 4)",
      CLI_OPT_FN, 0, 0, 0, set_block_size },
    { "--release-order", NULL, "ORDER", "reverse (tail first, default) | forward",
      CLI_OPT_FN, 0, 0, 0, set_order },
    { "--repeat", NULL, "K", "K runs per configuration, median time (default 1)",
      CLI_OPT_U64, OFF(repeat), 1, 1000, NULL },
    { "--format", NULL, "FMT", "table (default) | json (one object per run) | csv",
      CLI_OPT_FN, 0, 0, 0, set_format },
    { "--on-error", NULL, "MODE", "malformed trace line: stop (default) or skip (warn)",
      CLI_OPT_FN, 0, 0, 0, set_on_error },
    { "--seed", NULL, "N", "synthetic workload seed (default 42)",
      CLI_OPT_U64, OFF(synth) + offsetof(cli_synth_config, seed), 0, UINT64_MAX, NULL },
    { "--requests", NULL, "N", "synthetic workload size (default 4000 requests)",
      CLI_OPT_U64, OFF(requests), 1, 10000000, NULL },
    { "--tracker", NULL, "T", "registry frequency tracker: medium (default, the\nmodel's), small, large, none (not with multi-lru)",
      CLI_OPT_FN, 0, 0, 0, set_tracker },
    { "--breakdown", NULL, NULL, "also time match/allocate/stage/register/release",
      CLI_OPT_FLAG, OFF(breakdown), 1, 0, NULL },
    { "--threads", NULL, "N", "1 (default) or 2: the two halves of the trace on one manager\n"
      "and on two managers (capacity/2 each) sharing a registry,\n"
      "two threads against one thread doing both halves",
      CLI_OPT_U64, OFF(threads), 1, 2, NULL },
    { "--sweep", NULL, "LIST", "capacities: A,B,C or A..B (doubling) or A..B:STEP;\nruns every backend (or --backend) at each capacity",
      CLI_OPT_STR, OFF(sweep), 0, 0, NULL },
    { "--out", NULL, "PREFIX", "with --sweep: also write PREFIX.csv and PREFIX.svg",
      CLI_OPT_STR, OFF(out_prefix), 0, 0, NULL },
    { "--progress", NULL, NULL, "progress bar on stderr (default: sweeps on a terminal)",
      CLI_OPT_FLAG, OFF(progress), 1, 0, NULL },
    { "--no-progress", NULL, NULL, "no progress bar",
      CLI_OPT_FLAG, OFF(progress), 0, 0, NULL },
    { "--metrics-port", NULL, "PORT", "serve the manager's Prometheus metrics on\nhttp://127.0.0.1:PORT/metrics during the replay (0: any\nfree port; also KVBM_METRICS=1, KVBM_METRICS_PORT)",
      CLI_OPT_U64, OFF(observe) + offsetof(cli_observe_opts, metrics_port), 0, 65535, NULL },
    { "--metrics-hold", NULL, "SECONDS", "keep the endpoint up this long after the replay",
      CLI_OPT_U64, OFF(observe) + offsetof(cli_observe_opts, hold_s), 0, 86400, NULL },
    { "--stats", NULL, NULL, "print allocation/eviction rates and hit ratios on stderr\nevery interval and at the end of each run",
      CLI_OPT_FLAG, OFF(observe) + offsetof(cli_observe_opts, stats), 1, 0, NULL },
    { "--stats-interval", NULL, "MS", "--stats interval in milliseconds (default 1000)",
      CLI_OPT_U64, OFF(observe) + offsetof(cli_observe_opts, stats_interval_ms), 1, 3600000, NULL },
    { "--events", NULL, "URL", "publish the replay's KV events (batched, msgpack) to\n"
      "nats://HOST[:PORT][/SUBJECT] or zmq+tcp://HOST:PORT[?bind]",
      CLI_OPT_STR, OFF(observe) + offsetof(cli_observe_opts, events_url), 0, 0, NULL },
};
#undef OFF

const cli_command cli_replay_command = {
    "replay", "[TRACE.jsonl | -] [options]",
    "replay a Mooncake request trace (or the built-in synthetic\n"
    "workload) against kvbm managers: hit rates, evictions, throughput;\n"
    "with --sweep: miss-ratio curves for every backend",
    "Replays each request in file order: match its prefix, allocate and register the\n"
    "rest, release everything (tail first). Without TRACE a seeded synthetic workload\n"
    "is used (shared system prompts, multi-turn conversations, one-off requests).",
    replay_options, sizeof replay_options / sizeof replay_options[0], set_trace, cli_cmd_replay,
};

/* Before a sweep runs: can PREFIX.csv / PREFIX.svg be written? (No file is created.) */
static int check_writable(const char *prefix, const char *ext)
{
    char path[4096], dir[4096];
    if (snprintf(path, sizeof path, "%s.%s", prefix, ext) >= (int)sizeof path)
        return cli_usage_error(R, "--out %s: path too long", prefix);
    if (access(path, F_OK) == 0) {
        if (access(path, W_OK) != 0) return cli_usage_error(R, "--out: cannot write '%s'", path);
        return 0;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    if (access(dir, W_OK) != 0) return cli_usage_error(R, "--out: cannot write '%s' (directory '%s')", path, dir);
    return 0;
}

static int parse_opts(int argc, char **argv, replay_opts *o, bool *help)
{
    int rc = cli_parse_options(R, argc, argv, o, help);
    if (rc != 0 || *help) return rc;
    if (o->requests != 0) o->synth.requests = (uint32_t)o->requests;
    if (o->tracker == CLI_TRACKER_NONE && !o->all_backends && o->backend == CLI_MULTI_LRU)
        return cli_usage_error(R, "multi-lru needs a frequency tracker (not --tracker none)");
    if (o->out_prefix != NULL && o->sweep == NULL) return cli_usage_error(R, "--out needs --sweep");
    if (o->threads == 2 && (o->sweep != NULL || o->format != CLI_FORMAT_TABLE || o->breakdown))
        return cli_usage_error(R, "--threads 2 prints its own table: no --sweep, --format or --breakdown");
    if (o->observe.events_url != NULL) {
        char err[512];
        cli_events_url u;
        if (o->threads == 2) return cli_usage_error(R, "--events needs --threads 1");
        if (cli_events_url_parse(o->observe.events_url, &u, err, sizeof err) != 0) return cli_usage_error(R, "--events: %s", err);
    }
    if (o->observe.hold_s > 0 && o->observe.metrics_port == CLI_OBSERVE_PORT_OFF && getenv("KVBM_METRICS") == NULL)
        return cli_usage_error(R, "--metrics-hold needs --metrics-port");
    if ((rc = cli_observe_apply_env(&o->observe)) != 0) return rc;
    if (o->out_prefix != NULL) {
        if ((rc = check_writable(o->out_prefix, "csv")) != 0) return rc;
        if ((rc = check_writable(o->out_prefix, "svg")) != 0) return rc;
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
                      CLI_FORMAT_TABLE, CLI_TRACE_STOP, CLI_SYNTH_CONFIG_INIT, 0, NULL,
                      NULL, -1, CLI_TRACKER_MEDIUM, 0, 1,
                      { CLI_OBSERVE_PORT_OFF, 0, 0, 1000, NULL } };
    bool help = false;
    int rc = parse_opts(argc, argv, &o, &help);
    if (rc != 0) return rc;
    if (help) { cli_print_help(R, stdout); return CLI_EXIT_OK; }

    char err[512];
    cli_trace t;
    cli_replay_hashed h;
    cli_replay_result *res = NULL;
    uint64_t *caps = NULL;
    size_t ncaps = 1;
    if (o.sweep != NULL) {
        if (cli_parse_capacity_list(o.sweep, CLI_REPLAY_MAX_CAPACITY, &caps, &ncaps, err,
                                          sizeof err) != 0)
            return cli_usage_error(R, "--sweep: %s", err);
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
            cli_errorf(0, "%s: %zu malformed line%s skipped", t.name, t.skipped,
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
                cli_errorf(0, "note: multi-lru skipped (it needs a frequency tracker)");
                continue;
            }
            backends[nb++] = (cli_backend)b;
        }
    } else {
        backends[nb++] = o.backend;
    }

    res = calloc(nb * ncaps, sizeof *res);
    if (res == NULL) { cli_errorf(0, "out of memory"); goto out; }
    if (o.threads == 2) {
        for (size_t b = 0; b < nb; b++) {
            cli_replay_config cfg = { backends[b], caps[0], o.order, (uint32_t)o.repeat, o.tracker, false };
            cli_replay_mt_result mt[CLI_REPLAY_MT_CONFIGS];
            int mrc = cli_replay_run_mt(&h, &cfg, mt, err, sizeof err);
            if (mrc != 0) {
                rc = cli_errorf(mrc == -2 ? CLI_EXIT_USAGE : CLI_EXIT_ERROR, "%s", err);
                goto out;
            }
            cli_replay_mt_print(stdout, t.name, &cfg, mt);
        }
        rc = fflush(stdout) == 0 ? CLI_EXIT_OK : cli_errorf(CLI_EXIT_ERROR, "cannot write output");
        goto out;
    }
    if ((rc = cli_observe_start(&o.observe)) != 0) goto out;
    rc = CLI_EXIT_ERROR;
    bool show = o.progress == 1 || (o.progress == -1 && o.sweep != NULL && isatty(STDERR_FILENO));
    int srun = cli_sweep_run(&h, caps, ncaps, backends, nb, o.order, (uint32_t)o.repeat, o.tracker,
                             o.breakdown != 0, show ? stderr : NULL, res, err, sizeof err);
    if (srun != 0) {
        /* -2: the library rejected the configuration the options describe (a usage error) */
        rc = cli_errorf(srun == -2 ? CLI_EXIT_USAGE : CLI_EXIT_ERROR, "%s", err);
        goto out;
    }
    emit(&o, &t, res, nb * ncaps);
    if (o.out_prefix != NULL) {
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
            if (wrc == 0) cli_errorf(0, "wrote %s and %s", csv, svg);
            else cli_errorf(0, "%s", err);
        } else {
            cli_errorf(0, "out of memory");
        }
        free(csv);
        free(svg);
        if (wrc != 0) goto out;
    }
    rc = fflush(stdout) == 0 ? CLI_EXIT_OK : cli_errorf(CLI_EXIT_ERROR, "cannot write output");
out:;
    int erc = cli_events_out_finish(); /* Shutdown, flush; before the hold: final counters */
    if (rc == CLI_EXIT_OK) rc = erc;
    cli_observe_finish(); /* --metrics-hold, then stop */
    free(res);
    free(caps);
    cli_replay_hashed_free(&h);
    cli_trace_free(&t);
    return rc;
}
