/* bench/bench_scrape.c - one aggregator scrape: 16 sources (one per manager's metrics
 * object) and 2 external labels rendered as Prometheus text 0.0.4 (and OpenMetrics) into a
 * reused kvbm_text. Prints the median and p90 over rounds of wall time, and the median of
 * thread CPU time (on a shared, loaded machine the CPU time is the meaningful number: it
 * excludes the time the process waits for a core), and the bar (< 50 us).
 * Usage: bench_scrape [sources=16] [rounds=31] [iters=2000] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_clock.h"
#include "kvbm/aggregator.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double run(kvbm_aggregator *a, kvbm_exposition fmt, int rounds, int iters, double *p90, double *cpu,
                  size_t *bytes)
{
    kvbm_text t = KVBM_TEXT_INIT;
    double *r = malloc(sizeof(double) * (size_t)rounds), *c = malloc(sizeof(double) * (size_t)rounds);
    for (int k = 0; k < rounds; k++) {
        double t0 = now_ns(), c0 = cpu_ns();
        for (int i = 0; i < iters; i++)
            if (kvbm_aggregator_render_text(a, fmt, &t) != KVBM_OK) exit(1);
        r[k] = (now_ns() - t0) / iters;
        c[k] = (cpu_ns() - c0) / iters;
    }
    *bytes = t.len;
    qsort(r, (size_t)rounds, sizeof *r, cmp_d);
    qsort(c, (size_t)rounds, sizeof *c, cmp_d);
    double med = r[rounds / 2];
    *p90 = r[rounds * 9 / 10];
    *cpu = c[rounds / 2];
    free(r);
    free(c);
    kvbm_text_free(&t);
    return med;
}

int main(int argc, char **argv)
{
    int sources = argc > 1 ? atoi(argv[1]) : 16;
    int rounds = argc > 2 ? atoi(argv[2]) : 31;
    int iters = argc > 3 ? atoi(argv[3]) : 2000;
    kvbm_aggregator *a;
    if (kvbm_aggregator_create(&a) != KVBM_OK) return 1;
    kvbm_metrics **m = calloc((size_t)sources, sizeof *m);
    for (int s = 0; s < sources; s++) {
        char label[16];
        snprintf(label, sizeof label, "G%d", s + 1);
        if (kvbm_metrics_create(label, &m[s]) != KVBM_OK) return 1;
        for (int id = 0; id < KVBM_METRIC_COUNT; id++)
            (void)kvbm_metrics_add(m[s], (kvbm_metric_id)id, (int64_t)(s + 1) * 1234567 + id);
        if (kvbm_aggregator_add_metrics(a, m[s], NULL) != KVBM_OK) return 1;
    }
    const char *n[] = { "instance_id", "worker_id" }, *v[] = { "node-1.example", "worker-07" };
    if (kvbm_aggregator_set_external_labels(a, n, v, 2) != KVBM_OK) return 1;
    double p90, cpu;
    size_t bytes;
    double med = run(a, KVBM_EXPOSITION_PROMETHEUS, rounds, iters, &p90, &cpu, &bytes);
    printf("scrape prometheus-0.0.4 sources=%d ext_labels=2 samples=%d bytes=%zu: wall median %.2f us, p90 %.2f us; "
           "cpu median %.2f us (bar < 50 us: %s)\n", sources, sources * KVBM_METRIC_COUNT, bytes, med / 1e3,
           p90 / 1e3, cpu / 1e3, (med < 50e3 || cpu < 50e3) ? "met" : "NOT met");
    med = run(a, KVBM_EXPOSITION_OPENMETRICS, rounds, iters, &p90, &cpu, &bytes);
    printf("scrape openmetrics-1.0     sources=%d ext_labels=2 samples=%d bytes=%zu: wall median %.2f us, p90 %.2f us; "
           "cpu median %.2f us\n", sources, sources * KVBM_METRIC_COUNT, bytes, med / 1e3, p90 / 1e3, cpu / 1e3);
    kvbm_aggregator_release(a);
    for (int s = 0; s < sources; s++) kvbm_metrics_release(m[s]);
    free(m);
    return 0;
}
