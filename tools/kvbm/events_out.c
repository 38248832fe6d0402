/* tools/kvbm/events_out.c - see events_out.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "events_out.h"
#include "util.h"
#ifdef KVBM_CLI_HAVE_EVENTS
#  include "kvbm/events_wire.h"
#endif
#ifdef KVBM_CLI_HAVE_NATS
#  include "kvbm/nats.h"
#endif
#ifdef KVBM_CLI_HAVE_ZMQ
#  include "kvbm/zmq.h"
#endif

int cli_events_url_parse(const char *url, cli_events_url *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    const char *rest;
    if (strncmp(url, "nats://", 7) == 0) {
        rest = url + 7;
    } else if (strncmp(url, "zmq+tcp://", 10) == 0) {
        rest = url + 10;
        o->zmq = true;
    } else {
        return cli_fail(err, errlen, "events URL '%s': expected nats://HOST[:PORT][/SUBJECT] or zmq+tcp://HOST:PORT[?bind]", url);
    }
    size_t hl = strcspn(rest, o->zmq ? "?" : "/");
    const char *tail = rest + hl;
    if (hl == 0 || hl >= 256) return cli_fail(err, errlen, "events URL '%s': no host", url);
    if (o->zmq) {
        if (*tail && strcmp(tail, "?bind") != 0)
            return cli_fail(err, errlen, "events URL '%s': the only option is ?bind", url);
        o->bind = *tail != '\0';
        const char *colon = memchr(rest, ':', hl);
        if (colon == NULL || colon + 1 == rest + hl)
            return cli_fail(err, errlen, "events URL '%s': zmq+tcp needs HOST:PORT", url);
        snprintf(o->server, sizeof o->server, "%s", url);
        snprintf(o->endpoint, sizeof o->endpoint, "tcp://%.*s", (int)hl, rest);
        return 0;
    }
    snprintf(o->server, sizeof o->server, "nats://%.*s", (int)hl, rest);
    const char *subj = *tail ? tail + 1 : "";
    if (strlen(subj) >= sizeof o->subject) return cli_fail(err, errlen, "events URL '%s': subject too long", url);
    snprintf(o->subject, sizeof o->subject, "%s", *subj ? subj : "kvbm.events");
    return 0;
}

#if defined(KVBM_CLI_HAVE_EVENTS) && (defined(KVBM_CLI_HAVE_NATS) || defined(KVBM_CLI_HAVE_ZMQ))
#  define HAVE_OUT 1
static struct {
    kvbm_events_manager  *em;
    kvbm_events_pipeline *pl;
    kvbm_publisher       *pub;
    kvbm_registry        *attached; /* the registry of the current run */
    char                  url[512];
} ev;
#endif

int cli_events_out_start(const char *url)
{
    char err[512];
    cli_events_url u;
    if (cli_events_url_parse(url, &u, err, sizeof err) != 0) return cli_errorf(CLI_EXIT_USAGE, "--events: %s", err);
#ifndef HAVE_OUT
    return cli_errorf(CLI_EXIT_ERROR, "--events: this kvbm was built without %s",
#  ifndef KVBM_CLI_HAVE_EVENTS
                      "the event wire library (KVBM_WITH_EVENTS=OFF)"
#  else
                      "the NATS and ZeroMQ transports (KVBM_WITH_NATS=OFF, KVBM_WITH_ZMQ=OFF)"
#  endif
    );
#else
    kvbm_status st = KVBM_EUNSUPPORTED;
    if (u.zmq) {
#  ifdef KVBM_CLI_HAVE_ZMQ
        kvbm_zmq_config c = KVBM_ZMQ_CONFIG_INIT;
        c.url = u.server;
        c.queue_capacity = 1u << 16;
        st = kvbm_zmq_publisher_create(&c, &ev.pub);
#  else
        return cli_errorf(CLI_EXIT_ERROR, "--events %s: this kvbm was built without ZeroMQ (KVBM_WITH_ZMQ=OFF)", url);
#  endif
    } else {
#  ifdef KVBM_CLI_HAVE_NATS
        kvbm_nats_config c = KVBM_NATS_CONFIG_INIT;
        c.url = u.server;
        c.subject = u.subject;
        c.queue_capacity = 1u << 16;
        st = kvbm_nats_publisher_create(&c, &ev.pub);
#  else
        return cli_errorf(CLI_EXIT_ERROR, "--events %s: this kvbm was built without NATS (KVBM_WITH_NATS=OFF)", url);
#  endif
    }
    if (st != KVBM_OK) return cli_errorf(CLI_EXIT_ERROR, "--events: %s", kvbm_last_error());
    snprintf(ev.url, sizeof ev.url, "%s", url);
    kvbm_events_config ec = KVBM_EVENTS_CONFIG_INIT;
    ec.channel_capacity = 1u << 20; /* the maximum: an idle 2-core machine replays ~14 M events/s, faster than the pipeline and nats-server drain them (2^18 overran, PERFORMANCE §18) */
    kvbm_events_sub *sub = NULL;
    kvbm_u128 iid = { 0, (uint64_t)getpid() };
    kvbm_events_pipeline_config pc = KVBM_EVENTS_PIPELINE_CONFIG_INIT;
    pc.instance_id = &iid;
    pc.publisher = ev.pub;
    pc.encoder = kvbm_events_wire_encoder();
    pc.subject = u.zmq ? NULL : u.subject;
    pc.flush_timeout_ms = 30000;
    if ((st = kvbm_events_manager_create(&ec, &ev.em)) != KVBM_OK || (st = kvbm_events_subscribe(ev.em, &sub)) != KVBM_OK) {
        cli_errorf(0, "--events: %s", kvbm_last_error());
        cli_events_out_finish();
        return CLI_EXIT_ERROR;
    }
    pc.event_stream = sub;
    if ((st = kvbm_events_pipeline_start(&pc, &ev.pl)) != KVBM_OK) {
        cli_errorf(0, "--events: %s", kvbm_last_error());
        kvbm_events_unsubscribe(sub);
        cli_events_out_finish();
        return CLI_EXIT_ERROR;
    }
    cli_errorf(0, "publishing events to %s", url);
    return 0;
#endif
}

void cli_events_out_attach(kvbm_manager *m)
{
#ifdef HAVE_OUT
    if (ev.em == NULL) return;
    kvbm_registry *r = kvbm_manager_registry(m);
    if (kvbm_events_manager_attach(ev.em, r) == KVBM_OK) ev.attached = r;
    else cli_errorf(0, "warning: this run's events are not published: %s", kvbm_last_error());
#else
    (void)m;
#endif
}

void cli_events_out_detach(kvbm_manager *m)
{
    (void)m;
#ifdef HAVE_OUT
    if (ev.em != NULL && ev.attached != NULL) (void)kvbm_events_manager_detach(ev.em, ev.attached);
    ev.attached = NULL;
#endif
}

void cli_events_out_export(kvbm_aggregator *a)
{
#ifdef HAVE_OUT
    if (a != NULL && ev.em != NULL && kvbm_events_add_to_aggregator(a, ev.em, ev.pl, NULL) != KVBM_OK)
        cli_errorf(0, "warning: the event counters are not exported: %s", kvbm_last_error());
#else
    (void)a;
#endif
}

int cli_events_out_finish(void)
{
    int rc = 0;
#ifdef HAVE_OUT
    if (ev.em != NULL) kvbm_events_manager_close(ev.em); /* the worker sends Shutdown, flushes */
    if (ev.pl != NULL) {
        (void)kvbm_events_pipeline_join(ev.pl);
        kvbm_events_stats es = { 0 };
        kvbm_events_pipeline_stats ps;
        (void)kvbm_events_manager_get_stats(ev.em, &es);
        if (kvbm_events_pipeline_get_stats(ev.pl, &ps) == KVBM_OK) {
            cli_errorf(0, "events: %llu created, %llu removed, %llu published in %llu batches (%llu bytes) to %s;"
                          " lost %llu, publish errors %llu, flush errors %llu",
                       (unsigned long long)es.created, (unsigned long long)es.removed,
                       (unsigned long long)ps.events_published, (unsigned long long)ps.batches,
                       (unsigned long long)ps.bytes, ev.url, (unsigned long long)es.lost,
                       (unsigned long long)ps.publish_errors, (unsigned long long)ps.flush_errors);
            if (es.lost || ps.publish_errors || ps.encode_errors || ps.flush_errors) rc = CLI_EXIT_ERROR;
        }
    }
    kvbm_events_pipeline_destroy(ev.pl);
    kvbm_publisher_release(ev.pub);
    kvbm_events_manager_release(ev.em);
    memset(&ev, 0, sizeof ev);
#endif
    return rc;
}
