/* src/ext/consolidator/bench_consolidator.c - single-thread throughput of the consolidator
 * core: the dedup tracker (engine stores that publish, duplicate stores from a second
 * engine, removes) and the egress (drain + sort + convert + encode). One round = 4096
 * chains x 16 blocks of 16 tokens: vLLM stores them (publish), TRT-LLM stores the same
 * content (silent), drain + encode, vLLM removes (silent), TRT-LLM removes (publish),
 * drain + encode. The tracker is reused across rounds (steady state: tables and event
 * storage already grown). Prints the median over 7 rounds per phase, in ns per block
 * event and million block events per second.
 *   build/rel/bench/bench_consolidator [chains per round, default 4096] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "kvbm/consolidator_vllm.h"

#define ROUNDS 7
#define CHAIN  16
#define BS     16

enum { STORE_NEW, STORE_DUP, EGRESS_STORES, REMOVE_SILENT, REMOVE_PUB, EGRESS_REMOVES, N_PHASES };
static const char *names[N_PHASES] = {"store (publishes)", "store (duplicate, 2nd engine)", "egress: drain+encode stores",
                                      "remove (silent, 1st engine)", "remove (publishes, last engine)",
                                      "egress: drain+encode removes"};

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_consolidator: %s: %s\n", what, kvbm_last_error());
    exit(1);
}

static uint32_t *tokens; /* chains * CHAIN * BS */
static long      chains;

static void stores(kvbm_cons_tracker *t, kvbm_cons_source s, uint64_t base)
{
    for (long c = 0; c < chains; c++)
        for (uint64_t i = 0; i < CHAIN; i++) {
            uint64_t id = base + (uint64_t)c * CHAIN + i, parent = id - 1;
            const uint32_t *tok = tokens + ((size_t)c * CHAIN + i) * BS;
            if (kvbm_cons_tracker_handle_store(t, s, id, i ? &parent : NULL, tok, BS, BS, NULL) != KVBM_OK) die("store");
        }
}

static void removes(kvbm_cons_tracker *t, kvbm_cons_source s, uint64_t base)
{
    for (long c = 0; c < chains; c++)
        for (uint64_t i = CHAIN; i-- > 0;)
            if (kvbm_cons_tracker_handle_remove(t, s, base + (uint64_t)c * CHAIN + i) != KVBM_OK) die("remove");
}

static bool no_encoder; /* libkvbm_vllm built without its codec: drain + sort only */

static size_t egress(kvbm_cons_egress *eg, kvbm_cons_tracker *t)
{
    const uint8_t *p;
    size_t len = 0;
    kvbm_status st = kvbm_cons_egress_drain(eg, t, -1.0, &p, &len, NULL);
    if (st == KVBM_EUNSUPPORTED) no_encoder = true;
    else if (st != KVBM_OK) die("egress");
    return len;
}

int main(int argc, char **argv)
{
    chains = argc > 1 ? atol(argv[1]) : 4096;
    if (chains <= 0) chains = 1;
    size_t nblocks = (size_t)chains * CHAIN;
    tokens = malloc(nblocks * BS * sizeof *tokens);
    if (tokens == NULL) return 1;
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < nblocks * BS; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        tokens[i] = (uint32_t)(x % 128000);
    }
    kvbm_cons_tracker *t = NULL;
    kvbm_cons_egress *eg = NULL;
    if (kvbm_cons_tracker_create(NULL, &t) != KVBM_OK || kvbm_cons_egress_create(&eg) != KVBM_OK) die("create");
    /* logging of the egress is off the measured path; silence nothing: no warnings expected */
    double ns[N_PHASES][ROUNDS];
    size_t bytes = 0;
    for (int r = -1; r < ROUNDS; r++) { /* round -1 warms the tables and buffers */
        double t0 = now_ns();
        stores(t, KVBM_CONS_SOURCE_VLLM, 1);
        double t1 = now_ns();
        stores(t, KVBM_CONS_SOURCE_TRTLLM, 1u << 30);
        double t2 = now_ns();
        bytes = egress(eg, t);
        double t3 = now_ns();
        removes(t, KVBM_CONS_SOURCE_VLLM, 1);
        double t4 = now_ns();
        removes(t, KVBM_CONS_SOURCE_TRTLLM, 1u << 30);
        double t5 = now_ns();
        egress(eg, t);
        double t6 = now_ns();
        if (r < 0) continue;
        double d[N_PHASES] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5};
        for (int p = 0; p < N_PHASES; p++) ns[p][r] = d[p] / (double)nblocks;
    }
    printf("bench_consolidator: %ld chains x %d blocks of %d tokens per round, median of %d rounds\n", chains,
           CHAIN, BS, ROUNDS);
    double total = 0;
    for (int p = 0; p < N_PHASES; p++) {
        qsort(ns[p], ROUNDS, sizeof ns[p][0], cmp);
        double m = ns[p][ROUNDS / 2];
        total += m;
        printf("  %-34s %8.1f ns/block  %7.2f M blocks/s\n", names[p], m, 1e3 / m);
    }
    printf("  %-34s %8.1f ns/block  (publishing store + its egress: %.2f M blocks/s)\n", "one full cycle (6 phases)",
           total, 1e3 / (ns[STORE_NEW][ROUNDS / 2] + ns[EGRESS_STORES][ROUNDS / 2]));
    if (no_encoder) printf("  (egress rows: drain + sort + convert only, the vLLM encoder is not available)\n");
    printf("  egress payload of the store batch: %zu bytes (%.1f bytes/block)\n", bytes, (double)bytes / (double)nblocks);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
    free(tokens);
    return 0;
}
