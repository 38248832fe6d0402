/* src/ext/nats/bench_nats.c - throughput of the NATS publisher: pre-encoded batches of
 * Create events (spec 20 §3.6 layout) published to a local nats-server and confirmed by it.
 *
 *   bench_nats [--url nats://127.0.0.1:4222] [--batch 1024] [--batches 4000] [--reps 5]
 *
 * Without --url it starts its own nats-server on a free loopback port (and stops it).
 * One repetition = publish --batches batches (retrying, after a yield, any call refused
 * because the queue is full), then flush: the time until the server confirmed the last one.
 * Prints per repetition and the median: block events/s, batches/s, MB/s.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "kvbm/nats.h"
#include "support/proc.h"
#include "support/wire_vectors.h"

#define DISTINCT 64 /* distinct pre-encoded batches, cycled */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    size_t batch = 1024, batches = 4000;
    int reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--url")) url = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) batch = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--batches")) batches = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--url URL] [--batch N] [--batches N] [--reps N]\n", argv[0]);
            return 2;
        }
    }
    if (batch == 0 || batches == 0 || reps < 1 || reps > 99) return 2;
    test_proc server = { 0 };
    char own[64];
    if (!url) {
        int port = test_free_port();
        if (!port || !test_nats_server_start(&server, port, 10000)) {
            fprintf(stderr, "cannot start nats-server\n");
            return 1;
        }
        snprintf(own, sizeof own, "nats://127.0.0.1:%d", port);
        url = own;
    }
    /* pre-encode DISTINCT batches of `batch` Create events */
    size_t cap = 64 + batch * 18;
    uint8_t (*h)[16] = malloc(batch * 16);
    uint8_t *enc = malloc(DISTINCT * cap);
    size_t len[DISTINCT];
    for (size_t b = 0; b < DISTINCT; b++) {
        for (size_t j = 0; j < batch; j++) test_wire_hash(b, j, h[j]);
        len[b] = test_wire_batch(enc + b * cap, cap, true, (const uint8_t(*)[16])h, batch, 12345);
    }
    kvbm_nats_config cfg = KVBM_NATS_CONFIG_INIT;
    cfg.url = url;
    kvbm_publisher *p = NULL;
    if (kvbm_nats_publisher_create(&cfg, &p) != KVBM_OK) {
        fprintf(stderr, "%s\n", kvbm_last_error());
        test_proc_stop(&server, SIGTERM, 5000);
        return 1;
    }
    printf("bench_nats: %s, batch %zu Create events (%zu bytes), %zu batches per repetition\n", url, batch,
           len[0], batches);
    double evs[99];
    uint64_t retries = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < batches; i++) {
            size_t b = i % DISTINCT;
            kvbm_status st;
            while ((st = kvbm_publisher_publish(p, "", enc + b * cap, len[b])) == KVBM_EFULL) {
                retries++;
                sched_yield();
            }
            if (st != KVBM_OK) {
                fprintf(stderr, "publish: %s\n", kvbm_last_error());
                return 1;
            }
        }
        if (kvbm_publisher_flush(p, 60000) != KVBM_OK) {
            fprintf(stderr, "flush: %s\n", kvbm_last_error());
            return 1;
        }
        double s = (now_ns() - t0) / 1e9;
        evs[r] = (double)(batches * batch) / s;
        printf("  rep %d: %.2f M block events/s, %.0f batches/s, %.1f MB/s\n", r + 1, evs[r] / 1e6,
               (double)batches / s, (double)batches * (double)len[0] / s / 1e6);
    }
    qsort(evs, (size_t)reps, sizeof *evs, cmp_double);
    kvbm_nats_stats ns;
    (void)kvbm_nats_publisher_get_stats(p, &ns);
    printf("median: %.2f M block events/s (confirmed %llu batches, resent %llu, full-queue retries %llu)\n",
           evs[reps / 2] / 1e6, (unsigned long long)ns.confirmed, (unsigned long long)ns.resent,
           (unsigned long long)retries);
    kvbm_publisher_release(p);
    test_proc_stop(&server, SIGTERM, 5000);
    free(h);
    free(enc);
    return 0;
}
