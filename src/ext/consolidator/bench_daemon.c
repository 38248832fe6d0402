/* src/ext/consolidator/bench_daemon.c - ingest throughput of the consolidator daemon
 * (kvbm/consolidator.h): engines publish pre-encoded vLLM batches over loopback ZeroMQ, the
 * consolidator decodes them, dedups every block through the tracker and publishes its
 * egress (no subscriber: the output PUB discards).
 *
 *   bench_cons_daemon [--sources 1] [--blocks 64] [--block-size 16] [--batches 20000]
 *                      [--reps 5] [--shared]
 *
 * Workload per source: pairs of batches, BlockStored of a chain of --blocks blocks (one
 * event, hashes and tokens distinct per chain), then BlockRemoved of the same hashes; 256
 * distinct chains per source, cycled. --shared: all sources publish the SAME chains (the
 * dedup case: only the first holder reaches the tracker). A block event = one block stored
 * or removed by an engine. The sender keeps at most WINDOW batches per source ahead of what
 * the consolidator applied (closed loop: no queue drops). One repetition = --batches batches
 * per source; the time runs from the first send until the consolidator applied the last.
 * Prints per repetition and the median: block events/s (and batches/s), and block events
 * per CPU-second of the whole process (all threads, sender included: a load-independent
 * measure on a shared machine).
 */
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bench_clock.h"
#include "kvbm/consolidator.h"
#include "kvbm/log.h"

#define CHAINS 256
#define WINDOW 512
#define MAX_SRC 8

typedef struct src {
    void    *pub;
    char     ep[64];
    uint8_t *enc[2 * CHAINS];
    size_t   len[2 * CHAINS];
    uint64_t seq;
} src;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void encode_chains(src *s, int si, size_t blocks, uint32_t bs, bool shared)
{
    uint64_t *h = malloc(blocks * sizeof *h);
    uint32_t *tok = malloc(blocks * bs * sizeof *tok);
    size_t cap = 64 + blocks * 10 + blocks * bs * 5;
    for (int c = 0; c < CHAINS; c++) {
        uint64_t base = ((uint64_t)(shared ? 0 : si) << 40) | ((uint64_t)c << 20);
        for (size_t b = 0; b < blocks; b++) h[b] = base + b + 1;
        for (size_t t = 0; t < blocks * bs; t++) tok[t] = (uint32_t)(base >> 8) + (uint32_t)t;
        kvbm_vllm_event st = { .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = blocks,
                               .token_ids = tok, .n_token_ids = blocks * bs, .block_size = bs };
        kvbm_vllm_event rm = { .type = KVBM_VLLM_BLOCK_REMOVED, .block_hashes = h, .n_block_hashes = blocks };
        for (int k = 0; k < 2; k++) {
            kvbm_vllm_batch b = { .ts = 1.0, .events = k ? &rm : &st, .n_events = 1, .has_dp_rank = true };
            s->enc[2 * c + k] = malloc(cap);
            if (kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_ARRAY, s->enc[2 * c + k], cap, &s->len[2 * c + k]) != KVBM_OK) {
                fprintf(stderr, "encode: %s\n", kvbm_last_error());
                exit(1);
            }
        }
    }
    free(h);
    free(tok);
}

static void nap(void)
{
    struct timespec ts = { 0, 100000 };
    nanosleep(&ts, NULL);
}

/* CPU time of the whole process (every thread: sender, ZeroMQ I/O, consolidator). */
static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static uint64_t applied(kvbm_consolidator *c)
{
    kvbm_consolidator_stats st;
    kvbm_consolidator_get_stats(c, &st);
    return st.batches_in;
}

int main(int argc, char **argv)
{
    int n_src = 1, reps = 5;
    size_t blocks = 64, batches = 20000;
    uint32_t bs = 16;
    bool shared = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--shared")) { shared = true; continue; }
        if (!v) goto usage;
        if (!strcmp(a, "--sources")) n_src = atoi(v);
        else if (!strcmp(a, "--blocks")) blocks = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--block-size")) bs = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--batches")) batches = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else goto usage;
        i++;
    }
    if (n_src < 1 || n_src > MAX_SRC || blocks == 0 || bs == 0 || batches == 0 || reps < 1 || reps > 99) goto usage;

    kvbm_set_log_fn(NULL, NULL, KVBM_LOG_ERROR); /* the warm-up removes unknown blocks */
    void *zctx = zmq_ctx_new();
    static src s[MAX_SRC];
    kvbm_consolidator_input in[MAX_SRC];
    static const char *kinds[] = { "vllm", "trtllm", "sglang", "vllm" };
    for (int i = 0; i < n_src; i++) {
        s[i].pub = zmq_socket(zctx, ZMQ_PUB);
        int zero = 0;
        zmq_setsockopt(s[i].pub, ZMQ_SNDHWM, &zero, sizeof zero);
        zmq_setsockopt(s[i].pub, ZMQ_LINGER, &zero, sizeof zero);
        size_t n = sizeof s[i].ep;
        if (zmq_bind(s[i].pub, "tcp://127.0.0.1:*") != 0) return 1;
        zmq_getsockopt(s[i].pub, ZMQ_LAST_ENDPOINT, s[i].ep, &n);
        encode_chains(&s[i], i, blocks, bs, shared);
        in[i] = (kvbm_consolidator_input){ kinds[i % 4], s[i].ep, NULL, NULL, false, 0 };
    }
    printf("bench_cons_daemon: %d source(s)%s, batches of %zu blocks x %u tokens, %zu batches per "
           "source per repetition\n", n_src, shared ? " (shared chains)" : "", blocks, bs, batches);
    double rate[100], cpu_rate[100];
    kvbm_consolidator_config cfg = KVBM_CONSOLIDATOR_CONFIG_INIT;
    cfg.inputs = in;
    cfg.n_inputs = (size_t)n_src;
    cfg.out_endpoint = "tcp://127.0.0.1:0";
    kvbm_consolidator *c = NULL;
    if (kvbm_consolidator_create(&cfg, &c) != KVBM_OK) {
        fprintf(stderr, "consolidator: %s\n", kvbm_last_error());
        return 1;
    }
    for (int r = -1; r < reps; r++) {
        /* until every input is connected: send a removal of unknown hashes (harmless) */
        for (uint64_t want = (uint64_t)n_src;;) {
            for (int i = 0; i < n_src; i++) {
                zmq_send(s[i].pub, "", 0, ZMQ_SNDMORE);
                zmq_send(s[i].pub, s[i].enc[1], s[i].len[1], 0); /* 2 frames, no seq */
            }
            uint64_t a = applied(c);
            kvbm_vllm_sub_stats st;
            bool all = true;
            for (int i = 0; i < n_src; i++) all = all && kvbm_consolidator_input_stats(c, (size_t)i, &st) == KVBM_OK && st.batches > 0;
            if (all && a >= want) break;
            struct timespec ts = { 0, 2000000 };
            nanosleep(&ts, NULL);
        }
        while (1) { /* drain the warm-up */
            uint64_t a = applied(c);
            struct timespec ts = { 0, 50000000 };
            nanosleep(&ts, NULL);
            if (applied(c) == a) break;
        }
        uint64_t base = applied(c), total = batches * (uint64_t)n_src;
        uint64_t sent = 0;
        double t0 = now_ns(), c0 = cpu_s();
        size_t k = 0;
        while (sent < total) {
            if (sent - (applied(c) - base) >= (uint64_t)WINDOW * (uint64_t)n_src) {
                nap(); /* a spinning sender would steal a core from the consolidator */
                continue;
            }
            for (int i = 0; i < n_src; i++) {
                uint8_t be[8];
                for (int b = 0; b < 8; b++) be[b] = (uint8_t)(s[i].seq >> (56 - 8 * b));
                s[i].seq++;
                zmq_send(s[i].pub, "", 0, ZMQ_SNDMORE);
                zmq_send(s[i].pub, be, 8, ZMQ_SNDMORE);
                zmq_send(s[i].pub, s[i].enc[k % (2 * CHAINS)], s[i].len[k % (2 * CHAINS)], 0);
            }
            k++;
            sent += (uint64_t)n_src;
        }
        while (applied(c) - base < total) nap();
        double dt = (now_ns() - t0) / 1e9, cpu = cpu_s() - c0;
        kvbm_consolidator_stats st;
        kvbm_consolidator_get_stats(c, &st);
        double ev = (double)total * (double)blocks;
        if (r < 0) continue; /* warm-up */
        rate[r] = ev / dt;
        cpu_rate[r] = ev / cpu;
        printf("  rep %d: %.0f block events/s (%.0f batches/s, %.3f s, %.2f CPUs; %.0f per CPU-second; out %llu events, dup %llu, gaps %llu, dropped %llu)\n",
               r + 1, rate[r], (double)total / dt, dt, cpu / dt, cpu_rate[r], (unsigned long long)st.events_out,
               (unsigned long long)st.duplicates, (unsigned long long)st.gaps, (unsigned long long)st.dropped);
    }
    kvbm_consolidator_destroy(c);
    qsort(rate, (size_t)reps, sizeof rate[0], cmp_double);
    qsort(cpu_rate, (size_t)reps, sizeof cpu_rate[0], cmp_double);
    printf("median: %.0f block events/s (%.0f per CPU-second of the whole process)\n", rate[reps / 2],
           cpu_rate[reps / 2]);
    for (int i = 0; i < n_src; i++) {
        zmq_close(s[i].pub);
        for (int k2 = 0; k2 < 2 * CHAINS; k2++) free(s[i].enc[k2]);
    }
    zmq_ctx_term(zctx);
    return 0;
usage:
    fprintf(stderr, "usage: %s [--sources N] [--blocks N] [--block-size N] [--batches N] [--reps N] [--shared]\n", argv[0]);
    return 2;
}
