/* src/ext/nats/bench_pipeline_nats.c - the whole event pipeline into a local nats-server:
 * registrations on a registry -> events manager -> pipeline (batch, msgpack encode with
 * libkvbm_events) -> NATS publisher -> server confirmation (issue 18 performance bar:
 * >= 2 M block events/s).
 *
 *   bench_pipeline_nats [--chunks 2000] [--reps 5]
 *
 * Starts its own nats-server on a free loopback port. One repetition: --chunks times,
 * register 1024 new hashes in one call (1024 Creates) and release them (1024 Removes); the
 * producer waits while more than half the ring is unread, so nothing is lost to lag. The
 * time runs until the pipeline has published every event and the server confirmed the
 * last batch (kvbm_publisher_flush). Prints per repetition and the median.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "kvbm/events_wire.h"
#include "kvbm/kvbm.h"
#include "kvbm/nats.h"
#include "support/proc.h"

#define CHUNK 1024
#define RING  (1u << 20)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t taken(kvbm_events_pipeline *pl, bool published)
{
    kvbm_events_pipeline_stats s;
    (void)kvbm_events_pipeline_get_stats(pl, &s);
    return published ? s.events_published : s.events;
}

int main(int argc, char **argv)
{
    size_t chunks = 2000;
    int reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--chunks")) chunks = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--chunks N] [--reps N]\n", argv[0]);
            return 2;
        }
    }
    if (chunks == 0 || reps < 1 || reps > 99) return 2;
    test_proc server = { 0 };
    char url[64];
    int port = test_free_port();
    if (!port || !test_nats_server_start(&server, port, 10000)) {
        fprintf(stderr, "cannot start nats-server\n");
        return 1;
    }
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    kvbm_registry *reg = NULL;
    kvbm_events_manager *em = NULL;
    kvbm_events_sub *sub = NULL;
    kvbm_publisher *pub = NULL;
    kvbm_events_pipeline *pl = NULL;
    kvbm_events_config ec = KVBM_EVENTS_CONFIG_INIT;
    ec.channel_capacity = RING;
    kvbm_nats_config nc = KVBM_NATS_CONFIG_INIT;
    nc.url = url;
    nc.queue_capacity = 1u << 14;
    kvbm_u128 iid = { 0, 12345 };
    kvbm_events_pipeline_config pc = KVBM_EVENTS_PIPELINE_CONFIG_INIT;
    if (kvbm_registry_create(NULL, &reg) != KVBM_OK || kvbm_events_manager_create(&ec, &em) != KVBM_OK ||
        kvbm_events_manager_attach(em, reg) != KVBM_OK || kvbm_events_subscribe(em, &sub) != KVBM_OK ||
        kvbm_nats_publisher_create(&nc, &pub) != KVBM_OK) {
        fprintf(stderr, "setup: %s\n", kvbm_last_error());
        test_proc_stop(&server, SIGTERM, 5000);
        return 1;
    }
    pc.instance_id = &iid;
    pc.event_stream = sub;
    pc.publisher = pub;
    pc.encoder = kvbm_events_wire_encoder();
    if (kvbm_events_pipeline_start(&pc, &pl) != KVBM_OK) {
        fprintf(stderr, "pipeline: %s\n", kvbm_last_error());
        return 1;
    }
    printf("bench_pipeline_nats: %s, %zu x (register %d + release %d) per repetition\n", url, chunks, CHUNK, CHUNK);
    kvbm_plh *h = malloc(CHUNK * sizeof *h);
    kvbm_handle **hs = malloc(CHUNK * sizeof *hs);
    double evs[99];
    uint64_t produced = 0, next_hash = 1;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (size_t c = 0; c < chunks; c++) {
            while (produced - taken(pl, false) > RING / 2) sched_yield();
            for (int j = 0; j < CHUNK; j++) h[j] = kvbm_plh_root(next_hash++);
            if (kvbm_registry_register_many(reg, h, CHUNK, hs) != KVBM_OK) {
                fprintf(stderr, "register: %s\n", kvbm_last_error());
                return 1;
            }
            for (int j = 0; j < CHUNK; j++) kvbm_handle_release(hs[j]);
            produced += 2 * CHUNK;
        }
        while (taken(pl, true) < produced) sched_yield();
        if (kvbm_publisher_flush(pub, 60000) != KVBM_OK) {
            fprintf(stderr, "flush: %s\n", kvbm_last_error());
            return 1;
        }
        double s = (now_ns() - t0) / 1e9;
        evs[r] = (double)(chunks * 2 * CHUNK) / s;
        printf("  rep %d: %.2f M block events/s\n", r + 1, evs[r] / 1e6);
    }
    kvbm_events_manager_close(em);
    (void)kvbm_events_pipeline_join(pl);
    kvbm_events_pipeline_stats ps;
    kvbm_events_stats es;
    (void)kvbm_events_pipeline_get_stats(pl, &ps);
    (void)kvbm_events_manager_get_stats(em, &es);
    qsort(evs, (size_t)reps, sizeof *evs, cmp_double);
    printf("median: %.2f M block events/s (%llu batches, %.1f events/batch, %llu bytes; lost %llu, publish errors %llu)\n",
           evs[reps / 2] / 1e6, (unsigned long long)ps.batches,
           ps.batches ? (double)ps.events_published / (double)ps.batches : 0.0, (unsigned long long)ps.bytes,
           (unsigned long long)es.lost, (unsigned long long)ps.publish_errors);
    kvbm_events_pipeline_destroy(pl);
    kvbm_publisher_release(pub);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
    test_proc_stop(&server, SIGTERM, 5000);
    free(h);
    free(hs);
    return 0;
}
