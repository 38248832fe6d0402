/* tools/kvbm/events_cmd.c - `kvbm events listen URL`: subscribe (NATS subject or ZeroMQ SUB)
 * and print every message decoded (events_dialects.h), one line each with a running count,
 * until SIGINT/SIGTERM, --count N or --timeout S. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "events_dialects.h"
#include "events_out.h"
#include "format.h"
#include "options.h"
#include "util.h"
#ifdef KVBM_CLI_HAVE_NATS
#  include <nats/nats.h>
#endif
#ifdef KVBM_CLI_HAVE_ZMQ
#  include <zmq.h>
#endif

typedef struct listen_opts {
    const char *verb, *url;
    int         json;
    uint64_t    count;     /* 0: no limit */
    uint64_t    timeout_s; /* 0: no limit */
} listen_opts;

#define E (&cli_events_command)
#define POLL_MS 100

static int set_positional(void *opts, const char *a)
{
    listen_opts *o = opts;
    if (o->verb == NULL) {
        if (strcmp(a, "listen") != 0) return cli_usage_error(E, "unknown subcommand '%s' (expected listen)", a);
        o->verb = a;
    } else if (o->url == NULL) {
        o->url = a;
    } else {
        return cli_usage_error(E, "unexpected argument '%s'", a);
    }
    return 0;
}

static int set_format(void *opts, const char *v)
{
    if (strcmp(v, "table") != 0 && strcmp(v, "json") != 0)
        return cli_usage_error(E, "--format is table or json, got '%s'", v);
    ((listen_opts *)opts)->json = strcmp(v, "json") == 0;
    return 0;
}

#define OFF(f) offsetof(listen_opts, f)
static const cli_option events_options[] = {
    { "--format", NULL, "FMT", "table (default): count, dialect, source, kind, size, details;\n"
      "json: one object per message {\"n\",\"dialect\",\"source\",\"event\"}",
      CLI_OPT_FN, 0, 0, 0, set_format },
    { "--count", NULL, "N", "stop after N messages", CLI_OPT_U64, OFF(count), 1, UINT64_MAX, NULL },
    { "--timeout", NULL, "S", "stop after S seconds", CLI_OPT_U64, OFF(timeout_s), 1, 86400 * 365, NULL },
};
#undef OFF

const cli_command cli_events_command = {
    "events", "listen URL [options]",
    "print the KV events a worker publishes (NATS or ZeroMQ), one\n"
    "decoded message per line",
    "Subscribes to URL - nats://HOST[:PORT][/SUBJECT] (subject default kvbm.events) or\n"
    "zmq+tcp://HOST:PORT[?bind] (a SUB socket; connects unless ?bind) - and prints each\n"
    "message with a running count until SIGINT/SIGTERM, --count or --timeout. Each message\n"
    "is decoded by the first dialect that accepts it: kvbm event batches (spec 20 3.6)\n"
    "or Dynamo KV-router events; anything else is printed as undecodable.",
    events_options, sizeof events_options / sizeof events_options[0], set_positional, cli_cmd_events,
};

#if defined(KVBM_CLI_HAVE_NATS) || defined(KVBM_CLI_HAVE_ZMQ)
#  define HAVE_LISTEN 1
static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

typedef struct listener {
    const listen_opts *o;
    uint64_t           n, undecodable;
    uint64_t           deadline_ns; /* 0: none */
} listener;

static bool done(const listener *l)
{
    return stop_signal != 0 || (l->o->count && l->n >= l->o->count) ||
           (l->deadline_ns && cli_now_ns() >= l->deadline_ns);
}

/* One received message from @source (subject or topic). */
static void show(listener *l, const char *source, const uint8_t *buf, size_t len)
{
    char *text = NULL;
    const cli_dialect *d = cli_dialect_render(buf, len, l->o->json, &text);
    l->n++;
    if (d == NULL) l->undecodable++;
    if (l->o->json) {
        printf("{\"n\":%llu,\"dialect\":\"%s\",\"source\":", (unsigned long long)l->n, d ? d->name : "undecodable");
        cli_format_json_string(stdout, source);
        if (d != NULL) printf(",\"event\":%s}\n", text);
        else printf(",\"bytes\":%zu}\n", len);
    } else if (d != NULL) {
        printf("%6llu %-7s %-16s %s\n", (unsigned long long)l->n, d->name, source, text);
    } else {
        printf("%6llu %-7s %-16s %zu bytes\n", (unsigned long long)l->n, "?", source, len);
    }
    fflush(stdout);
    free(text);
}

#endif

#ifdef KVBM_CLI_HAVE_NATS
static int listen_nats(listener *l, const cli_events_url *u)
{
    natsOptions *opts = NULL;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetURL(opts, u->server);
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
    if (s != NATS_OK) {
        natsOptions_Destroy(opts);
        return cli_errorf(CLI_EXIT_ERROR, "events listen: cannot connect to %s: %s", l->o->url, natsStatus_GetText(s));
    }
    s = natsConnection_SubscribeSync(&sub, nc, u->subject);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, 2000);
    int rc = CLI_EXIT_OK;
    if (s != NATS_OK) {
        rc = cli_errorf(CLI_EXIT_ERROR, "events listen: cannot subscribe to '%s' on %s: %s", u->subject, u->server,
                        natsStatus_GetText(s));
    } else {
        cli_errorf(0, "listening on %s subject %s", u->server, u->subject);
        while (!done(l)) {
            natsMsg *m = NULL;
            s = natsSubscription_NextMsg(&m, sub, POLL_MS);
            if (s == NATS_OK) {
                show(l, natsMsg_GetSubject(m), (const uint8_t *)natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
                natsMsg_Destroy(m);
            } else if (s != NATS_TIMEOUT && natsConnection_IsClosed(nc)) {
                rc = cli_errorf(CLI_EXIT_ERROR, "events listen: connection to %s closed", u->server);
                break;
            }
        }
    }
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    return rc;
}
#endif

#ifdef KVBM_CLI_HAVE_ZMQ
static int listen_zmq(listener *l, const cli_events_url *u)
{
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    int linger = 0, rc = CLI_EXIT_OK;
    if (sock == NULL || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        (u->bind ? zmq_bind(sock, u->endpoint) : zmq_connect(sock, u->endpoint)) != 0) {
        rc = cli_errorf(CLI_EXIT_ERROR, "events listen: cannot %s %s: %s", u->bind ? "bind" : "connect to",
                        l->o->url, zmq_strerror(zmq_errno()));
        goto out;
    }
    cli_errorf(0, "listening on %s (%s)", u->endpoint, u->bind ? "bound" : "connected");
    zmq_msg_t part;
    zmq_msg_init(&part);
    char topic[256];
    while (!done(l)) {
        zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, POLL_MS) <= 0) continue;
        /* frames [topic, ..., payload]: the first names the source, the last is decoded */
        topic[0] = '\0';
        for (int i = 0;; i++) {
            if (zmq_msg_recv(&part, sock, 0) < 0) break;
            int more = zmq_msg_more(&part);
            if (i == 0 && more) {
                size_t tl = zmq_msg_size(&part) < sizeof topic - 1 ? zmq_msg_size(&part) : sizeof topic - 1;
                memcpy(topic, zmq_msg_data(&part), tl);
                topic[tl] = '\0';
            }
            if (!more) {
                show(l, topic[0] ? topic : "-", zmq_msg_data(&part), zmq_msg_size(&part));
                break;
            }
        }
    }
    zmq_msg_close(&part);
out:
    if (sock) zmq_close(sock);
    if (ctx) zmq_ctx_term(ctx);
    return rc;
}
#endif

int cli_cmd_events(int argc, char **argv)
{
    listen_opts o = { NULL, NULL, 0, 0, 0 };
    bool help = false;
    int rc = cli_parse_options(E, argc, argv, &o, &help);
    if (rc != 0) return rc;
    if (help) { cli_print_help(E, stdout); return CLI_EXIT_OK; }
    if (o.verb == NULL || o.url == NULL) return cli_usage_error(E, "usage: kvbm events listen URL");
    char err[512];
    cli_events_url u;
    if (cli_events_url_parse(o.url, &u, err, sizeof err) != 0) return cli_usage_error(E, "%s", err);
    if (cli_n_dialects == 0)
        return cli_errorf(CLI_EXIT_ERROR, "events listen: this kvbm was built without any event decoder "
                                          "(KVBM_WITH_EVENTS=OFF and KVBM_WITH_ROUTER=OFF)");
#ifndef HAVE_LISTEN
    return cli_errorf(CLI_EXIT_ERROR, "events listen %s: this kvbm was built without NATS and ZeroMQ "
                                      "(KVBM_WITH_NATS=OFF, KVBM_WITH_ZMQ=OFF)", o.url);
#else
    listener l = { &o, 0, 0, o.timeout_s ? cli_now_ns() + o.timeout_s * 1000000000ull : 0 };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (u.zmq) {
#  ifdef KVBM_CLI_HAVE_ZMQ
        rc = listen_zmq(&l, &u);
#  else
        return cli_errorf(CLI_EXIT_ERROR, "events listen %s: this kvbm was built without ZeroMQ (KVBM_WITH_ZMQ=OFF)", o.url);
#  endif
    } else {
#  ifdef KVBM_CLI_HAVE_NATS
        rc = listen_nats(&l, &u);
#  else
        return cli_errorf(CLI_EXIT_ERROR, "events listen %s: this kvbm was built without NATS (KVBM_WITH_NATS=OFF)", o.url);
#  endif
    }
    cli_errorf(0, "events listen: %llu message%s (%llu undecodable)%s", (unsigned long long)l.n, l.n == 1 ? "" : "s",
               (unsigned long long)l.undecodable, stop_signal ? ", interrupted" : "");
    return rc;
#endif
}
