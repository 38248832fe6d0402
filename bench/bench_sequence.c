/* bench/bench_sequence.c - the SchedulableSequence layer (issue 19 item 8).
 *
 * 1. Decode: one scheduler step = schedule_decode + apply_decode for each of 256 running
 *    sequences (block size 16, 64-token prompts, Lineage manager with a TinyLFU registry).
 *    Steps are classified by what they do: plain (no block boundary), completing (the
 *    appended token completes a block, which is staged and registered - H1) and
 *    allocating (the step after: schedule_decode allocates the next generation block).
 *    Reported: median ns per sequence-step of each class, and library heap allocations
 *    per class (kvbm__alloc_count()).
 * 2. Prefill: a 4096-token prompt whose first 2048 tokens are cached, matched and then
 *    prefilled in 512-token chunks (schedule_prefill + apply_prefill), then destroyed.
 *    Reported: median ns per prompt, per prompt token and per computed token.
 *
 * Usage: bench_sequence [rounds (default 5)] [decode steps per round (default 256)]
 *                       [--no-tracker] [--no-defer] [--decode-only] [--warm-registry]
 * --no-tracker builds the registry without the TinyLFU tracker (attributes the cost of the
 * tracker touches on registration); --no-defer keeps the tracker but applies every touch at
 * once (kvbm__tracker_set_defer: the A/B of the deferred touches); --ab-defer runs 2 x rounds
 * decode rounds in one process, deferred and immediate touches alternately (ABBA order),
 * and reports both and their ratio (an A/B free of binary layout and of the VM's slow
 * phases, which shift whole runs); --decode-only skips part 2 (for callgrind runs).
 * --warm-registry keeps one registry for every decode round and runs one untimed round
 * first: registrations then reuse recycled handle objects, as in a server that has run for
 * a while, instead of growing the registry (slab allocation and first-touch page faults of
 * fresh handle memory inside the timed completing steps - the cold default).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "internal.h"
#include "kvbm/schedulable.h"
#include "kvbm/tracker.h"
#include "tinylfu/tinylfu_int.h"

#define NSEQ   256
#define BS     16u
#define PROMPT 64

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool use_tracker = true;
static bool defer_touches = true;
static kvbm_registry *warm_reg; /* --warm-registry: shared by every decode round */

static kvbm_registry *make_registry(void)
{
    kvbm_tracker *t = NULL;
    kvbm_registry *r = NULL;
    kvbm_registry_config rc = KVBM_REGISTRY_CONFIG_INIT;
    if (use_tracker && kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &t) != KVBM_OK) return NULL;
    if (t != NULL && !defer_touches) kvbm__tracker_set_defer(t, false);
    rc.tracker = t;
    kvbm_status st = kvbm_registry_create(&rc, &r);
    if (t) kvbm_tracker_release(t);
    return st == KVBM_OK ? r : NULL;
}

static kvbm_manager *make_manager(uint64_t blocks)
{
    kvbm_registry *r = warm_reg != NULL ? kvbm_registry_clone(warm_reg) : make_registry();
    if (r == NULL) return NULL;
    kvbm_manager_config c = KVBM_MANAGER_CONFIG_INIT;
    c.registry = r;
    c.block_count = blocks;
    c.block_size = BS;
    kvbm_manager *m = NULL;
    kvbm_status st = kvbm_manager_create(&c, &m);
    kvbm_registry_release(r);
    return st == KVBM_OK ? m : NULL;
}

static kvbm_sched_seq *make_seq(const kvbm_token *t, size_t n, size_t max_out, kvbm_manager *m)
{
    kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&c, t, n);
    kvbm_sched_seq_config_set_max_output(&c, max_out);
    kvbm_sched_seq_config_set_block_size(&c, BS);
    c.manager = m;
    kvbm_sched_seq *s = NULL;
    if (kvbm_sched_seq_create(&c, &s, NULL) != KVBM_OK) {
        fprintf(stderr, "create: %s\n", kvbm_last_error());
        exit(1);
    }
    return s;
}

#define CHECK(e) do { if ((e) != KVBM_OK) { fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #e, \
        kvbm_last_error()); exit(1); } } while (0)

typedef struct cls { double *ns; size_t n; unsigned long allocs, steps; } cls;

static void decode_round(size_t steps, cls *plain, cls *completing, cls *allocating)
{
    kvbm_manager *m = make_manager((uint64_t)NSEQ * (PROMPT / BS + steps / BS + 4));
    if (m == NULL) exit(1);
    kvbm_sched_seq **s = malloc(NSEQ * sizeof *s);
    kvbm_token prompt[PROMPT];
    for (int i = 0; i < NSEQ; i++) {
        for (int k = 0; k < PROMPT; k++) prompt[k] = (kvbm_token)(i * 7919 + k * 31 + 1);
        s[i] = make_seq(prompt, PROMPT, steps + 1, m);
        kvbm_token first = 1;
        CHECK(kvbm_sched_seq_schedule_prefill(s[i], PROMPT, m, NULL));
        CHECK(kvbm_sched_seq_apply_prefill(s[i], &first, m, NULL));
    }
    /* after prefill each sequence has 65 tokens: step k appends token 66 + k */
    bool prev_completed = true; /* the first schedule allocates the generation block */
    for (size_t k = 0; k < steps; k++) {
        unsigned long a0 = kvbm__alloc_count();
        double t0 = now_ns();
        bool completed = false;
        for (int i = 0; i < NSEQ; i++) {
            kvbm_decode_outcome o;
            CHECK(kvbm_sched_seq_schedule_decode(s[i], m, NULL));
            CHECK(kvbm_sched_seq_apply_decode(s[i], (kvbm_token)(k + 2), m, &o, NULL));
            completed = o & KVBM_DECODE_BLOCK_COMPLETED;
        }
        double per = (now_ns() - t0) / NSEQ;
        unsigned long a = kvbm__alloc_count() - a0;
        cls *c = completed ? completing : prev_completed ? allocating : plain;
        c->ns[c->n++] = per;
        c->allocs += a;
        c->steps++;
        prev_completed = completed;
    }
    for (int i = 0; i < NSEQ; i++) kvbm_sched_seq_destroy(s[i]);
    free(s);
    kvbm_manager_destroy(m);
}

static void prefill_round(int prompts, double *ns_prompt)
{
    kvbm_manager *m = make_manager(4096);
    if (m == NULL) exit(1);
    kvbm_token *t = malloc(4096 * sizeof *t);
    for (int k = 0; k < 4096; k++) t[k] = (kvbm_token)(k * 13 + 5);
    kvbm_sched_seq *warm = make_seq(t, 2048, 0, m); /* cache the shared half */
    CHECK(kvbm_sched_seq_schedule_prefill(warm, 2048, m, NULL));
    CHECK(kvbm_sched_seq_apply_prefill(warm, NULL, m, NULL));
    kvbm_sched_seq_destroy(warm);
    for (int p = 0; p < prompts; p++) {
        for (int k = 2048; k < 4096; k++) t[k] = (kvbm_token)(p * 100003 + k);
        double t0 = now_ns();
        kvbm_sched_seq *s = make_seq(t, 4096, 16, m);
        size_t hit = 0;
        CHECK(kvbm_sched_seq_match_prefix(s, m, &hit, NULL));
        if (hit != 2048 / BS) {
            fprintf(stderr, "prefill: %zu blocks matched, expected %u\n", hit, 2048 / BS);
            exit(1);
        }
        for (int c = 0; c < 4; c++) {
            kvbm_token first = 7;
            CHECK(kvbm_sched_seq_schedule_prefill(s, 512, m, NULL));
            CHECK(kvbm_sched_seq_apply_prefill(s, c == 3 ? &first : NULL, m, NULL));
        }
        kvbm_sched_seq_destroy(s);
        ns_prompt[p] = now_ns() - t0;
    }
    free(t);
    kvbm_manager_destroy(m);
}

static void cls_init(cls *c, size_t cap)
{
    for (int i = 0; i < 3; i++) {
        c[i].ns = malloc(cap * sizeof(double));
        c[i].n = 0;
        c[i].allocs = c[i].steps = 0;
    }
}

/* --ab-defer: rounds pairs of decode rounds, deferred (A) and immediate (B) touches in ABBA
 * order; medians of each and the ratio A/B of the completing step. */
static int ab_defer(int rounds, size_t steps, bool warm)
{
    cls a[3], b[3];
    cls_init(a, (size_t)rounds * steps);
    cls_init(b, (size_t)rounds * steps);
    if (!use_tracker) return 2;
    if (warm) {
        if ((warm_reg = make_registry()) == NULL) return 1;
        decode_round(steps, &a[0], &a[1], &a[2]); /* untimed: grows the registry */
        for (int i = 0; i < 3; i++) a[i].n = 0, a[i].allocs = a[i].steps = 0;
    }
    for (int r = 0; r < 2 * rounds; r++) {
        bool on = r % 4 == 0 || r % 4 == 3;
        if (warm) kvbm__tracker_set_defer(kvbm_registry_tracker(warm_reg), on);
        else defer_touches = on;
        cls *c = on ? a : b;
        decode_round(steps, &c[0], &c[1], &c[2]);
    }
    kvbm_registry_release(warm_reg);
    warm_reg = NULL;
    double ma[3], mb[3];
    for (int i = 0; i < 3; i++) {
        ma[i] = median(a[i].ns, a[i].n);
        mb[i] = median(b[i].ns, b[i].n);
    }
    printf("ab-defer: %d + %d rounds x %zu steps, %s registry; ns per sequence-step (median)\n", rounds,
           rounds, steps, warm ? "warm" : "cold");
    printf("  plain      deferred %7.1f  immediate %7.1f\n", ma[0], mb[0]);
    printf("  completing deferred %7.1f  immediate %7.1f  ratio %.3f\n", ma[1], mb[1], ma[1] / mb[1]);
    printf("  allocating deferred %7.1f  immediate %7.1f\n", ma[2], mb[2]);
    for (int i = 0; i < 3; i++) free(a[i].ns), free(b[i].ns);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    size_t steps = argc > 2 ? (size_t)atoi(argv[2]) : 256;
    bool decode_only = false, warm = false, ab = false;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--no-tracker") == 0) use_tracker = false;
        else if (strcmp(argv[i], "--no-defer") == 0) defer_touches = false;
        else if (strcmp(argv[i], "--decode-only") == 0) decode_only = true;
        else if (strcmp(argv[i], "--ab-defer") == 0) ab = decode_only = true;
        else if (strcmp(argv[i], "--warm-registry") == 0) warm = true;
        else rounds = 0;
    }
    if (rounds < 1 || steps < 1) {
        fprintf(stderr, "usage: bench_sequence [rounds >= 1] [steps >= 1] [--no-tracker] [--no-defer] [--ab-defer] [--decode-only] [--warm-registry]\n");
        return 2;
    }
    if (ab) return ab_defer(rounds, steps, warm);
    cls c[3];
    for (int i = 0; i < 3; i++) {
        c[i].ns = malloc((size_t)rounds * steps * sizeof(double));
        c[i].n = 0;
        c[i].allocs = c[i].steps = 0;
    }
    if (warm) {
        if ((warm_reg = make_registry()) == NULL) return 1;
        decode_round(steps, &c[0], &c[1], &c[2]); /* untimed: grows the registry */
        for (int i = 0; i < 3; i++) c[i].n = 0, c[i].allocs = c[i].steps = 0;
    }
    for (int r = 0; r < rounds; r++) decode_round(steps, &c[0], &c[1], &c[2]);
    kvbm_registry_release(warm_reg);
    warm_reg = NULL;
    const char *names[3] = { "plain (no block boundary)", "completing (register, H1)",
                             "allocating (new gen block)" };
    printf("decode: %d sequences, block size %u, %d rounds x %zu steps, %s, %s\n", NSEQ, BS, rounds,
           steps, use_tracker ? "TinyLFU (Medium) registry" : "registry without tracker",
           warm ? "warm registry (recycled handle objects)" : "cold registry (grows in the timed steps)");
    printf("  %-28s %12s %8s %14s\n", "step kind", "ns/seq-step", "steps", "allocs/seq-step");
    double med[3];
    for (int i = 0; i < 3; i++) {
        unsigned long steps_i = c[i].steps;
        med[i] = median(c[i].ns, c[i].n);
        printf("  %-28s %12.1f %8lu %14.3f\n", names[i], med[i], steps_i,
               steps_i ? (double)c[i].allocs / (double)(steps_i * NSEQ) : 0.0);
    }
    printf("  block boundary cost (completing + allocating - plain): %.1f ns/seq\n",
           med[1] + med[2] - med[0]);
    printf("  ratios: completing/plain %.2f, allocating/plain %.2f\n", med[1] / med[0], med[2] / med[0]);

    if (decode_only) {
        for (int i = 0; i < 3; i++) free(c[i].ns);
        return 0;
    }
    int prompts = 32;
    double *pn = malloc((size_t)rounds * prompts * sizeof(double));
    for (int r = 0; r < rounds; r++) prefill_round(prompts, pn + (size_t)r * prompts);
    double pm = median(pn, (size_t)rounds * prompts);
    printf("prefill: 4096-token prompt, 2048 cached (128 blocks matched), 4 chunks of 512, block size %u\n", BS);
    printf("  %.1f us/prompt, %.1f ns/prompt token, %.1f ns/computed token (%d prompts)\n", pm / 1e3,
           pm / 4096, pm / 2048, rounds * prompts);
    for (int i = 0; i < 3; i++) free(c[i].ns);
    free(pn);
    return 0;
}
