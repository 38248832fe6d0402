/* tools/kvbm/observe.c - see observe.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvbm/kvbm.h"
#ifdef KVBM_CLI_HAVE_HTTP
#  include "kvbm/metrics_server.h"
#endif
#include "events_out.h"
#include "observe.h"
#include "replay.h"
#include "commands.h"
#include "util.h"

static struct {
    cli_observe_opts     o;
    bool                 started;
    kvbm_aggregator     *agg;
#ifdef KVBM_CLI_HAVE_HTTP
    kvbm_metrics_server *srv;
#endif
    kvbm_source_id       src;     /* the current manager's source, 0: none */
    /* stats printer */
    pthread_mutex_t      lock;    /* stats, what, stop */
    pthread_cond_t       cond;
    pthread_t            printer;
    bool                 printer_running, stop;
    kvbm_stats          *stats;   /* over the current manager's metrics */
    char                 what[64];
} ob = { .lock = PTHREAD_MUTEX_INITIALIZER };

int cli_observe_apply_env(cli_observe_opts *o)
{
#ifdef KVBM_CLI_HAVE_HTTP
    if (o->metrics_port != CLI_OBSERVE_PORT_OFF) return 0; /* the option wins */
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    bool on = false;
    if (kvbm_metrics_server_config_from_env(&c, &on) != KVBM_OK)
        return cli_errorf(CLI_EXIT_USAGE, "%s", kvbm_last_error());
    if (on) o->metrics_port = c.port;
#else
    (void)o;
#endif
    return 0;
}

/* one line: the latest sample of the current run (lock held) */
static void print_stats_locked(void)
{
    kvbm_stats_snapshot s;
    if (ob.stats == NULL || kvbm_stats_sample(ob.stats) != KVBM_OK || kvbm_stats_latest(ob.stats, &s) != KVBM_OK)
        return;
    fprintf(stderr, "kvbm: stats %s: %.0f alloc/s, %.0f evict/s, match hit %.3f, scan hit %.3f, "
                    "inflight %lld/%lld, reset %lld, inactive %lld\n",
            ob.what, s.allocation_rate, s.eviction_rate, s.match_hit_rate, s.scan_hit_rate,
            (long long)s.inflight_mutable, (long long)s.inflight_immutable, (long long)s.reset_pool_size,
            (long long)s.inactive_pool_size);
}

static void *printer(void *arg)
{
    (void)arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&ob.lock);
    while (!ob.stop) {
        uint64_t ns = (uint64_t)next.tv_nsec + ob.o.stats_interval_ms * 1000000u;
        next.tv_sec += (time_t)(ns / 1000000000u);
        next.tv_nsec = (long)(ns % 1000000000u);
        while (!ob.stop && pthread_cond_timedwait(&ob.cond, &ob.lock, &next) != ETIMEDOUT) {}
        if (!ob.stop) print_stats_locked();
    }
    pthread_mutex_unlock(&ob.lock);
    return NULL;
}

static void on_start(void *ctx, kvbm_manager *m, const cli_replay_config *cfg)
{
    (void)ctx;
    cli_events_out_attach(m);
    kvbm_metrics *met = kvbm_manager_metrics(m);
    if (ob.agg != NULL) {
        if (ob.src != 0) (void)kvbm_aggregator_remove_source(ob.agg, ob.src);
        ob.src = 0;
        if (kvbm_aggregator_add_metrics(ob.agg, met, &ob.src) != KVBM_OK)
            cli_errorf(0, "warning: the manager's metrics are not exported: %s", kvbm_last_error());
    }
    if (ob.o.stats) {
        kvbm_stats *s = NULL;
        if (kvbm_stats_create(met, NULL, &s) == KVBM_OK) {
            kvbm_stats_set_enabled(s, true);
            (void)kvbm_stats_sample(s); /* the baseline of the first interval */
        }
        pthread_mutex_lock(&ob.lock);
        kvbm_stats_release(ob.stats);
        ob.stats = s;
        snprintf(ob.what, sizeof ob.what, "%s capacity %llu", cli_backend_name(cfg->backend),
                 (unsigned long long)cfg->capacity);
        pthread_mutex_unlock(&ob.lock);
    }
}

static void on_done(void *ctx, kvbm_manager *m)
{
    (void)ctx;
    cli_events_out_detach(m);
    if (!ob.o.stats) return;
    pthread_mutex_lock(&ob.lock);
    print_stats_locked(); /* every run prints at least its last interval */
    kvbm_stats_release(ob.stats);
    ob.stats = NULL;
    pthread_mutex_unlock(&ob.lock);
}

static const cli_replay_observer observer = { on_start, on_done, NULL };

int cli_observe_start(const cli_observe_opts *o)
{
    ob.o = *o;
    if (o->events_url != NULL) {
        int rc = cli_events_out_start(o->events_url);
        if (rc != 0) return rc;
    }
    if (o->metrics_port != CLI_OBSERVE_PORT_OFF) {
#ifdef KVBM_CLI_HAVE_HTTP
        if (kvbm_aggregator_create(&ob.agg) != KVBM_OK)
            return cli_errorf(CLI_EXIT_ERROR, "cannot create the metrics aggregator: %s", kvbm_last_error());
        kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
        c.port = (uint16_t)o->metrics_port;
        if (kvbm_metrics_server_start(ob.agg, &c, &ob.srv) != KVBM_OK) {
            int rc = cli_errorf(CLI_EXIT_ERROR, "cannot serve metrics: %s", kvbm_last_error());
            kvbm_aggregator_release(ob.agg);
            ob.agg = NULL;
            return rc;
        }
        cli_events_out_export(ob.agg);
        cli_errorf(0, "metrics on http://127.0.0.1:%u/metrics", (unsigned)kvbm_metrics_server_port(ob.srv));
#else
        return cli_errorf(CLI_EXIT_ERROR, "this kvbm was built without the HTTP endpoint (KVBM_WITH_HTTP=OFF)");
#endif
    }
    if (o->stats) {
        ob.stop = false;
        pthread_condattr_t ca; /* the printer's deadlines are CLOCK_MONOTONIC */
        if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
            pthread_cond_init(&ob.cond, &ca) != 0) {
            cli_observe_finish();
            return cli_errorf(CLI_EXIT_ERROR, "cannot start the stats thread");
        }
        pthread_condattr_destroy(&ca);
        if (pthread_create(&ob.printer, NULL, printer, NULL) != 0) {
            pthread_cond_destroy(&ob.cond);
            cli_observe_finish();
            return cli_errorf(CLI_EXIT_ERROR, "cannot start the stats thread");
        }
        ob.printer_running = true;
    }
    ob.started = true;
    cli_replay_set_observer(&observer);
    return 0;
}

void cli_observe_finish(void)
{
    cli_replay_set_observer(NULL);
    if (ob.printer_running) {
        pthread_mutex_lock(&ob.lock);
        ob.stop = true;
        pthread_cond_broadcast(&ob.cond);
        pthread_mutex_unlock(&ob.lock);
        pthread_join(ob.printer, NULL);
        pthread_cond_destroy(&ob.cond);
        ob.printer_running = false;
    }
    kvbm_stats_release(ob.stats);
    ob.stats = NULL;
#ifdef KVBM_CLI_HAVE_HTTP
    if (ob.srv != NULL && ob.started && ob.o.hold_s > 0) {
        cli_errorf(0, "holding http://127.0.0.1:%u/metrics for %llu s", (unsigned)kvbm_metrics_server_port(ob.srv),
                   (unsigned long long)ob.o.hold_s);
        struct timespec ts = { (time_t)ob.o.hold_s, 0 };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    kvbm_metrics_server_stop(ob.srv);
    ob.srv = NULL;
#endif
    kvbm_aggregator_release(ob.agg);
    ob.agg = NULL;
    ob.src = 0;
    ob.started = false;
}
