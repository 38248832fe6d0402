/* tools/kvbm/replay_mt.c - `kvbm replay --threads 2`: what a second thread buys (issue 16).
 *
 * The trace's requests are split into two disjoint halves (the first and the second half of
 * the request list, in file order). Two layouts, each run with one thread and with two:
 *   one-manager   one registry, one manager of `capacity` blocks; both halves replay on it;
 *   two-managers  one registry shared by two managers of capacity/2 blocks each (the same
 *                 block budget); half h replays on manager h.
 * One thread replays half 0 and then half 1 (the same calls, sequentially); two threads
 * replay one half each, started together by a barrier. The figure is blocks requested per
 * second of wall time from the start to the last thread's end; the speedup is the
 * one-thread time over the two-thread time of the same layout. Every configuration runs
 * `repeat` times on fresh managers, interleaved (round r runs all four), and reports its
 * best and median. With two threads on one manager the interleaving of the halves is up to
 * the scheduler, so hit counts vary between runs (they are printed, not checked); every run
 * still ends with every block back in its pool and the invariants intact (checked).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "replay_mt.h"
#include "util.h"

typedef struct mt_thread {
    kvbm_manager      *m[2];    /* the manager of each part */
    cli_replay_hashed part[2]; /* the halves this thread replays, in order */
    int                n_parts;
    cli_release_order order;
    cli_replay_work   w;
    cli_replay_counts c;        /* summed over its parts */
    pthread_barrier_t *start;
    uint64_t           t_start, t_end;
    int                rc;
    char               err[256];
} mt_thread;

static void *mt_main(void *arg)
{
    mt_thread *t = arg;
    if (t->start != NULL) pthread_barrier_wait(t->start);
    t->t_start = cli_now_ns();
    memset(&t->c, 0, sizeof t->c);
    for (int i = 0; i < t->n_parts && t->rc == 0; i++) {
        cli_replay_counts c;
        uint64_t ns, cpu;
        t->rc = cli_replay_once(t->m[i], &t->part[i], t->order, &t->w, &c, &ns, &cpu, NULL,
                                 t->err, sizeof t->err);
        t->c.blocks_requested += c.blocks_requested;
        t->c.blocks_hit += c.blocks_hit;
        t->c.no_room_blocks += c.no_room_blocks;
    }
    t->t_end = cli_now_ns();
    return NULL;
}

/* The half @i (0 or 1) of @h as a view (offsets are absolute into h->hashes). */
static cli_replay_hashed half_of(const cli_replay_hashed *h, int i)
{
    cli_replay_hashed v = *h;
    size_t mid = h->n_requests / 2;
    v.n_requests = i == 0 ? mid : h->n_requests - mid;
    v.offsets = h->offsets + (i == 0 ? 0 : mid);
    return v;
}

/* One run of layout @two_managers with @threads (1 or 2). */
static int mt_run_once(const cli_replay_hashed *h, const cli_replay_config *cfg,
                       bool two_managers, int threads, cli_replay_mt_sample *out, char *err,
                       size_t errlen)
{
    kvbm_registry *reg = NULL;
    kvbm_manager *m[2] = { NULL, NULL };
    mt_thread t[2];
    pthread_barrier_t bar;
    bool bar_ok = false;
    int rc = -1, nm = two_managers ? 2 : 1;
    memset(t, 0, sizeof t);
    if (cli_replay_make_registry(cfg, &reg, err, errlen) != 0) return -1;
    uint64_t cap = two_managers ? cfg->capacity / 2 : cfg->capacity;
    for (int i = 0; i < nm; i++)
        if (cli_replay_make_manager(cfg, cap, h->block_size, reg, &m[i], err, errlen) != 0) goto out;
    size_t ml = h->max_len ? h->max_len : 1;
    for (int i = 0; i < threads; i++) {
        cli_replay_work *w = &t[i].w;
        w->blocks = malloc(ml * sizeof *w->blocks);
        w->rev = malloc(ml * sizeof *w->rev);
        w->muts = malloc(ml * sizeof *w->muts);
        w->comps = malloc(ml * sizeof *w->comps);
        if (!w->blocks || !w->rev || !w->muts || !w->comps) {
            cli_fail(err, errlen, "out of memory");
            goto out;
        }
        t[i].order = cfg->release_order;
    }
    if (threads == 1) {
        /* both halves in order on this thread, each on its layout's manager */
        t[0].m[0] = m[0];
        t[0].m[1] = m[nm - 1];
        t[0].part[0] = half_of(h, 0);
        t[0].part[1] = half_of(h, 1);
        t[0].n_parts = 2;
        mt_main(&t[0]);
    } else {
        if (pthread_barrier_init(&bar, NULL, 2) != 0) {
            cli_fail(err, errlen, "pthread_barrier_init failed");
            goto out;
        }
        bar_ok = true;
        pthread_t tid;
        for (int i = 0; i < 2; i++) {
            t[i].m[0] = m[two_managers ? i : 0];
            t[i].part[0] = half_of(h, i);
            t[i].n_parts = 1;
            t[i].start = &bar;
        }
        if (pthread_create(&tid, NULL, mt_main, &t[1]) != 0) {
            cli_fail(err, errlen, "pthread_create failed");
            goto out;
        }
        mt_main(&t[0]);
        pthread_join(tid, NULL);
    }
    uint64_t t0 = t[0].t_start, t1 = t[0].t_end;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < threads; i++) {        if (t[i].rc != 0) {
            cli_fail(err, errlen, "thread %d: %s", i, t[i].err);
            goto out;
        }
        if (t[i].t_start < t0) t0 = t[i].t_start;
        if (t[i].t_end > t1) t1 = t[i].t_end;
        out->blocks_requested += t[i].c.blocks_requested;
        out->blocks_hit += t[i].c.blocks_hit;
        out->no_room_blocks += t[i].c.no_room_blocks;
    }
    out->wall_ns = t1 - t0;
    for (int i = 0; i < nm; i++) {
        kvbm_status inv = kvbm_manager_check_invariants(m[i]);
        if (kvbm_manager_available_blocks(m[i]) != cap || inv != KVBM_OK) {
            cli_fail(err, errlen, "pool check failed after the two-thread replay (manager %d): %s",
                           i, kvbm_strerror(inv));
            goto out;
        }
    }
    rc = 0;
out:
    if (bar_ok) pthread_barrier_destroy(&bar);
    for (int i = 0; i < 2; i++) {
        free(t[i].w.blocks);
        free(t[i].w.rev);
        free(t[i].w.muts);
        free(t[i].w.comps);
        kvbm_manager_destroy(m[i]);
    }
    kvbm_registry_release(reg);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cli_replay_run_mt(const cli_replay_hashed *h, const cli_replay_config *cfg,
                       cli_replay_mt_result res[CLI_REPLAY_MT_CONFIGS], char *err, size_t errlen)
{
    if (cfg->capacity < 2)
        return cli_fail(err, errlen, "--threads 2 needs a capacity of at least 2 blocks");
    uint32_t repeat = cfg->repeat ? cfg->repeat : 1;
    double *rate = malloc((size_t)repeat * CLI_REPLAY_MT_CONFIGS * sizeof *rate);
    if (rate == NULL) return cli_fail(err, errlen, "out of memory");
    memset(res, 0, CLI_REPLAY_MT_CONFIGS * sizeof *res);
    for (uint32_t r = 0; r < repeat; r++) {
        for (int k = 0; k < CLI_REPLAY_MT_CONFIGS; k++) {
            /* alternate the order between rounds: a slow phase of the VM hits all alike */
            int c = r % 2 ? CLI_REPLAY_MT_CONFIGS - 1 - k : k;
            cli_replay_mt_sample s;
            if (mt_run_once(h, cfg, c >= 2, c % 2 ? 2 : 1, &s, err, errlen) != 0) {
                free(rate);
                return -1;
            }
            cli_replay_mt_result *o = &res[c];
            o->two_managers = c >= 2;
            o->threads = c % 2 ? 2 : 1;
            o->runs++;
            o->last = s;
            rate[(size_t)c * repeat + r] = (double)s.blocks_requested / ((double)s.wall_ns / 1e9);
        }
    }
    for (int c = 0; c < CLI_REPLAY_MT_CONFIGS; c++) {
        double *v = rate + (size_t)c * repeat;
        qsort(v, repeat, sizeof *v, cmp_double);
        res[c].best_blocks_per_s = v[repeat - 1];
        res[c].median_blocks_per_s = repeat % 2 ? v[repeat / 2] : (v[repeat / 2 - 1] + v[repeat / 2]) / 2;
    }
    free(rate);
    return 0;
}

void cli_replay_mt_print(FILE *f, const char *trace, const cli_replay_config *cfg,
                          const cli_replay_mt_result res[CLI_REPLAY_MT_CONFIGS])
{
    fprintf(f, "two-thread replay: %s, backend %s, capacity %llu (two-managers: %llu each, one "
            "shared registry), %u runs per row, halves = first / second half of the requests\n",
            trace, cli_backend_name(cfg->backend), (unsigned long long)cfg->capacity,
            (unsigned long long)(cfg->capacity / 2), res[0].runs);
    fprintf(f, "%-13s %7s %14s %14s %9s %10s %10s\n", "layout", "threads", "Mblocks/s med",
            "Mblocks/s best", "speedup", "hit rate", "no-room");
    for (int c = 0; c < CLI_REPLAY_MT_CONFIGS; c++) {
        const cli_replay_mt_result *r = &res[c];
        const cli_replay_mt_result *one = &res[c & ~1];
        double sp = one->median_blocks_per_s > 0 ? r->median_blocks_per_s / one->median_blocks_per_s : 0;
        double hr = r->last.blocks_requested ? (double)r->last.blocks_hit / (double)r->last.blocks_requested : 0;
        fprintf(f, "%-13s %7u %14.2f %14.2f %8.2fx %9.2f%% %10llu\n",
                r->two_managers ? "two-managers" : "one-manager", r->threads,
                r->median_blocks_per_s / 1e6, r->best_blocks_per_s / 1e6, sp, 100 * hr,
                (unsigned long long)r->last.no_room_blocks);
    }
    fputs("speedup = median two-thread rate / median one-thread rate of the same layout; hit rate "
          "and no-room from the last run\n", f);
}
