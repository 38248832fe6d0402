/* tools/kvbm/consolidate_cmd.c - `kvbm consolidate`: the consolidator daemon
 * (kvbm/consolidator.h) as a process: engines' vLLM-format KV-event streams in, one
 * deduplicated vLLM-format stream out, counters every --log-interval seconds, Prometheus
 * metrics with --metrics-port, clean stop on SIGINT/SIGTERM. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "options.h"
#include "util.h"

#ifdef KVBM_CLI_HAVE_CONSOLIDATOR
#  include "kvbm/consolidator.h"
#endif
#ifdef KVBM_CLI_HAVE_HTTP
#  include "kvbm/metrics_server.h"
#endif
#ifdef KVBM_CLI_HAVE_NATS
#  include "kvbm/nats.h"
#endif

#define MAX_IN 64
#define URL_MAX 256

typedef struct cons_in {
    char source[32];
    char endpoint[URL_MAX];
    char replay[URL_MAX]; /* "" = none */
} cons_in;

typedef struct cons_opts {
    cons_in     in[MAX_IN];
    size_t      n_in;
    const char *out, *out_replay, *router_nats, *router_subject;
    uint64_t    poll_ms, log_interval_s, metrics_port, queue, worker_id;
} cons_opts;

#define K (&cli_consolidate_command)
#define PORT_OFF UINT64_MAX

/* --in SOURCE=tcp://HOST:PORT[,replay=tcp://HOST:PORT] */
static int set_in(void *opts, const char *v)
{
    cons_opts *o = opts;
    if (o->n_in == MAX_IN) return cli_usage_error(K, "at most %d --in streams", MAX_IN);
    cons_in *in = &o->in[o->n_in];
    memset(in, 0, sizeof *in);
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || (size_t)(eq - v) >= sizeof in->source)
        return cli_usage_error(K, "--in wants SOURCE=tcp://HOST:PORT[,replay=tcp://HOST:PORT], got '%s'", v);
    memcpy(in->source, v, (size_t)(eq - v));
    const char *ep = eq + 1, *comma = strchr(ep, ',');
    size_t el = comma ? (size_t)(comma - ep) : strlen(ep);
    if (el == 0 || el >= URL_MAX) return cli_usage_error(K, "--in '%s': bad endpoint", v);
    memcpy(in->endpoint, ep, el);
    if (comma) {
        const char *r = comma + 1;
        if (strncmp(r, "replay=", 7) != 0 || strlen(r + 7) == 0 || strlen(r + 7) >= URL_MAX)
            return cli_usage_error(K, "--in '%s': after the endpoint only ',replay=tcp://HOST:PORT'", v);
        snprintf(in->replay, sizeof in->replay, "%s", r + 7);
    }
    o->n_in++;
    return 0;
}

static const cli_option consolidate_options[] = {
    { "--in", NULL, "SRC=URL[,replay=URL]",
      "an engine's KV-event PUB to follow (repeatable); SRC is vllm,\ntrtllm or sglang; replay= its "
      "replay socket, used to\nrecover sequence gaps",
      CLI_OPT_FN, 0, 0, 0, set_in },
    { "--out", NULL, "URL", "where the output PUB binds (default tcp://*:5560)",
      CLI_OPT_STR, offsetof(cons_opts, out), 0, 0, NULL },
    { "--out-replay", NULL, "URL", "where the output's replay ROUTER binds (default: none)",
      CLI_OPT_STR, offsetof(cons_opts, out_replay), 0, 0, NULL },
    { "--poll-ms", NULL, "MS", "egress interval (default 50)",
      CLI_OPT_U64, offsetof(cons_opts, poll_ms), 1, 60000, NULL },
    { "--queue", NULL, "BATCHES", "per-input queue before the newest batch is dropped\n(default 4096)",
      CLI_OPT_U64, offsetof(cons_opts, queue), 1, 1u << 24, NULL },
    { "--log-interval", NULL, "SECONDS", "print the counters this often (default 60)",
      CLI_OPT_U64, offsetof(cons_opts, log_interval_s), 1, 86400, NULL },
    { "--metrics-port", NULL, "PORT", "serve Prometheus metrics on\nhttp://127.0.0.1:PORT/metrics "
      "(0: any free port)",
      CLI_OPT_U64, offsetof(cons_opts, metrics_port), 0, 65535, NULL },
    { "--router-nats", NULL, "URL", "also publish every event as a Dynamo RouterEvent on this\nNATS "
      "server (nats://HOST:PORT)",
      CLI_OPT_STR, offsetof(cons_opts, router_nats), 0, 0, NULL },
    { "--router-subject", NULL, "SUBJECT", "NATS subject of the RouterEvents (default kv-events)",
      CLI_OPT_STR, offsetof(cons_opts, router_subject), 0, 0, NULL },
    { "--worker-id", NULL, "N", "worker_id of the RouterEvents (default 0)",
      CLI_OPT_U64, offsetof(cons_opts, worker_id), 0, UINT64_MAX, NULL },
};

const cli_command cli_consolidate_command = {
    "consolidate", "--in SRC=URL[,replay=URL]... [options]",
    "merge engines' KV-event streams into one deduplicated vLLM-format stream",
    "Follows the KV-event PUB sockets of inference engines (vLLM, TensorRT-LLM, SGLang:\n"
    "the vLLM ZMQ format), maps every engine block to kvbm's positional lineage hash,\n"
    "publishes ONE store per distinct block and ONE remove when the last engine lets it\n"
    "go, as vLLM-format batches on --out (what a Dynamo KV router consumes). Sequence gaps\n"
    "are recovered through the engines' replay sockets. Prints the output endpoints, then\n"
    "the counters every --log-interval seconds; stops cleanly on SIGINT/SIGTERM.",
    consolidate_options, sizeof consolidate_options / sizeof consolidate_options[0], NULL,
    cli_cmd_consolidate,
};

#ifdef KVBM_CLI_HAVE_CONSOLIDATOR
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void print_stats(kvbm_consolidator *c, const char *when)
{
    kvbm_consolidator_stats st;
    if (kvbm_consolidator_get_stats(c, &st) != KVBM_OK) return;
    char line[512];
    kvbm_consolidator_format_stats(&st, line, sizeof line);
    printf("consolidate %s: %s\n", when, line);
    fflush(stdout);
}

static int serve(const cons_opts *o)
{
    kvbm_consolidator_input in[MAX_IN];
    for (size_t i = 0; i < o->n_in; i++)
        in[i] = (kvbm_consolidator_input){ o->in[i].source, o->in[i].endpoint,
                                           o->in[i].replay[0] ? o->in[i].replay : NULL, NULL, false, 0 };
    kvbm_consolidator_config cfg = KVBM_CONSOLIDATOR_CONFIG_INIT;
    cfg.inputs = in;
    cfg.n_inputs = o->n_in;
    cfg.out_endpoint = o->out;
    cfg.out_replay_endpoint = o->out_replay;
    cfg.poll_interval_ms = (int)o->poll_ms;
    cfg.ingress_queue = (uint32_t)o->queue;
    cfg.router_subject = o->router_subject;
    cfg.router_worker_id = o->worker_id;
    if (o->router_nats) {
#ifdef KVBM_CLI_HAVE_NATS
        kvbm_nats_config nc = KVBM_NATS_CONFIG_INIT;
        nc.url = o->router_nats;
        if (kvbm_nats_publisher_create(&nc, &cfg.router_publisher) != KVBM_OK)
            return cli_errorf(CLI_EXIT_ERROR, "consolidate: --router-nats: %s", kvbm_last_error());
#else
        return cli_errorf(CLI_EXIT_ERROR, "this kvbm was built without the NATS transport (KVBM_WITH_NATS=OFF)");
#endif
    }
    kvbm_consolidator *c = NULL;
    kvbm_status st = kvbm_consolidator_create(&cfg, &c);
#ifdef KVBM_CLI_HAVE_NATS
    kvbm_publisher_release(cfg.router_publisher); /* the consolidator holds its own */
#endif
    if (st == KVBM_EINVAL) return cli_usage_error(K, "%s", kvbm_last_error());
    if (st != KVBM_OK) return cli_errorf(CLI_EXIT_ERROR, "consolidate: %s", kvbm_last_error());
    int rc = CLI_EXIT_OK;
#ifdef KVBM_CLI_HAVE_HTTP
    kvbm_aggregator *agg = NULL;
    kvbm_metrics_server *srv = NULL;
#endif
    if (o->metrics_port != PORT_OFF) {
#ifdef KVBM_CLI_HAVE_HTTP
        kvbm_metrics_server_config mc = KVBM_METRICS_SERVER_CONFIG_INIT;
        mc.port = (uint16_t)o->metrics_port;
        if (kvbm_aggregator_create(&agg) != KVBM_OK || kvbm_consolidator_add_metrics(c, agg) != KVBM_OK ||
            kvbm_metrics_server_start(agg, &mc, &srv) != KVBM_OK) {
            rc = cli_errorf(CLI_EXIT_ERROR, "cannot serve metrics: %s", kvbm_last_error());
            goto out;
        }
        printf("metrics on http://127.0.0.1:%u/metrics\n", (unsigned)kvbm_metrics_server_port(srv));
#else
        rc = cli_errorf(CLI_EXIT_ERROR, "this kvbm was built without the HTTP endpoint (KVBM_WITH_HTTP=OFF)");
        goto out;
#endif
    }
    const char *rep = kvbm_consolidator_out_replay_endpoint(c);
    printf("output %s replay %s inputs %zu router %s\n", kvbm_consolidator_out_endpoint(c), rep ? rep : "-",
           o->n_in, o->router_nats ? o->router_nats : "-");
    fflush(stdout);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    uint64_t next_log = cli_now_ns() + o->log_interval_s * 1000000000ull;
    while (!stop_signal) {
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
        if (cli_now_ns() >= next_log) {
            print_stats(c, "stats");
            next_log += o->log_interval_s * 1000000000ull;
        }
    }
    kvbm_consolidator_stop(c);
    print_stats(c, "stopped");
out:
#ifdef KVBM_CLI_HAVE_HTTP
    kvbm_metrics_server_stop(srv);
#endif
    kvbm_consolidator_destroy(c);
#ifdef KVBM_CLI_HAVE_HTTP
    kvbm_aggregator_release(agg);
#endif
    return rc;
}
#endif

int cli_cmd_consolidate(int argc, char **argv)
{
    static cons_opts o;
    memset(&o, 0, sizeof o);
    o.out = "tcp://*:5560";
    o.poll_ms = 50;
    o.log_interval_s = 60;
    o.metrics_port = PORT_OFF;
    o.queue = 4096;
    bool help;
    int rc = cli_parse_options(K, argc, argv, &o, &help);
    if (rc != 0 || help) {
        if (help) cli_print_help(K, stdout);
        return rc;
    }
    if (o.n_in == 0) return cli_usage_error(K, "at least one --in stream is needed");
#ifdef KVBM_CLI_HAVE_CONSOLIDATOR
    return serve(&o);
#else
    return cli_errorf(CLI_EXIT_ERROR, "this kvbm was built without libkvbm_consolidator "
                                      "(KVBM_WITH_CONSOLIDATOR=OFF or one of its dependencies)");
#endif
}
