/* tools/kvbm/synth.c - synthetic multi-turn / shared-prompt / long-tail workload. */
#include "synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* splitmix64: tiny, portable, good enough for workload shapes. */
typedef struct rng { uint64_t s; } rng;
static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}
/* uniform in [lo, hi] */
static uint32_t rng_range(rng *r, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(rng_next(r) % ((uint64_t)hi - lo + 1));
}
/* uniform double in [0, 1) */
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

enum {
    MAX_OPEN      = 48,   /* conversations open at once */
    MAX_CONV_LEN  = 160,  /* a conversation ends once its prompt reaches this many blocks */
    MAX_SYS_LEN   = 24
};

typedef struct conv {
    uint32_t *ids;
    size_t    len, cap;
    uint32_t  turns_left;
} conv;

static int conv_append_fresh(conv *c, uint32_t k, uint32_t *next_id)
{
    if (cli_grow((void **)&c->ids, &c->cap, c->len + k, sizeof *c->ids) != 0) return -1;
    for (uint32_t i = 0; i < k; i++) c->ids[c->len++] = (*next_id)++;
    return 0;
}

int cli_synth_generate(const cli_synth_config *cfg, cli_trace *t, char *err, size_t errlen)
{
    char name[96];
    snprintf(name, sizeof name, "synthetic(seed=%llu,requests=%u)", (unsigned long long)cfg->seed,
             cfg->requests);
    if (cli_trace_init(t, name) != 0) return cli_fail(err, errlen, "out of memory");
    rng r = { cfg->seed ^ UINT64_C(0x6b76626d73796e74) };
    uint32_t next_id = 0;
    uint32_t nsys = cfg->system_prompts ? cfg->system_prompts : 1;
    conv *sys = calloc(nsys, sizeof *sys);
    conv open[MAX_OPEN];
    size_t n_open = 0;
    conv tmp = { 0 };
    int rc = -1;
    memset(open, 0, sizeof open);
    if (sys == NULL) goto oom;
    for (uint32_t i = 0; i < nsys; i++)
        if (conv_append_fresh(&sys[i], rng_range(&r, 4, MAX_SYS_LEN), &next_id) != 0) goto oom;

    for (uint32_t q = 0; q < cfg->requests; q++) {
        double u = rng_unit(&r);
        /* popular system prompts first: index ~ nsys * u^2 */
        double us = rng_unit(&r);
        uint32_t si = (uint32_t)((double)nsys * us * us);
        if (si >= nsys) si = nsys - 1;
        if (u < 0.55 && n_open > 0) {
            /* next turn of an open conversation: previous prompt + answer + new user turn */
            size_t ci = (size_t)(rng_next(&r) % n_open);
            conv *c = &open[ci];
            if (conv_append_fresh(c, rng_range(&r, 1, 2) + rng_range(&r, 1, 3), &next_id) != 0)
                goto oom;
            if (cli_trace_push(t, c->ids, c->len) != 0) goto oom;
            if (--c->turns_left == 0 || c->len >= MAX_CONV_LEN) {
                free(c->ids);
                open[ci] = open[--n_open];
                memset(&open[n_open], 0, sizeof open[n_open]);
            }
        } else if (u < 0.80) {
            /* new conversation: system prompt + first user turn */
            conv c = { 0 };
            if (cli_grow((void **)&c.ids, &c.cap, sys[si].len, sizeof *c.ids) != 0) goto oom;
            memcpy(c.ids, sys[si].ids, sys[si].len * sizeof *c.ids);
            c.len = sys[si].len;
            if (conv_append_fresh(&c, rng_range(&r, 1, 6), &next_id) != 0) { free(c.ids); goto oom; }
            c.turns_left = 1 + (uint32_t)(rng_next(&r) % 8);
            if (cli_trace_push(t, c.ids, c.len) != 0) { free(c.ids); goto oom; }
            if (n_open < MAX_OPEN) {
                open[n_open++] = c;
            } else {
                /* replace a random open conversation (it simply never comes back) */
                size_t vi = (size_t)(rng_next(&r) % n_open);
                free(open[vi].ids);
                open[vi] = c;
            }
        } else {
            /* one-off request: fresh ids, short mostly, sometimes long; half behind a prompt */
            tmp.len = 0;
            if (rng_unit(&r) < 0.5) {
                if (cli_grow((void **)&tmp.ids, &tmp.cap, sys[si].len, sizeof *tmp.ids) != 0)
                    goto oom;
                memcpy(tmp.ids, sys[si].ids, sys[si].len * sizeof *tmp.ids);
                tmp.len = sys[si].len;
            }
            uint32_t k = rng_unit(&r) < 0.9 ? rng_range(&r, 1, 16) : rng_range(&r, 32, 200);
            if (conv_append_fresh(&tmp, k, &next_id) != 0) goto oom;
            if (cli_trace_push(t, tmp.ids, tmp.len) != 0) goto oom;
        }
    }
    rc = 0;
    goto out;
oom:
    cli_fail(err, errlen, "out of memory generating the synthetic workload");
    cli_trace_free(t);
out:
    for (size_t i = 0; i < n_open; i++) free(open[i].ids);
    if (sys != NULL)
        for (uint32_t i = 0; i < nsys; i++) free(sys[i].ids);
    free(sys);
    free(tmp.ids);
    return rc;
}
