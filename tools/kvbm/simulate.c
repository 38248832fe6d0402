/* tools/kvbm/simulate.c - the `kvbm simulate` scheduler loop (see simulate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvbm/schedulable.h"
#include "kvbm/tracker.h"
#include "simulate.h"
#include "util.h"

enum { SIM_WAITING, SIM_RUNNING, SIM_PREEMPTED, SIM_DONE, SIM_REJECTED };

typedef struct sim {
    const cli_sim_workload *w;
    const cli_sim_config   *c;
    cli_sim_result         *res;
    kvbm_manager           *m;
    kvbm_sched_seq        **seq;
    int                    *st;
    size_t *running, nrun;  /* request indices, admission order */
    size_t *preempted, npre; /* FIFO */
    size_t  next_wait;
    bool   *scheduled;
    char   *err;
    size_t  errlen;
} sim;

static kvbm_manager *make_manager(const cli_sim_config *c)
{
    kvbm_tracker *t = NULL;
    kvbm_registry *r = NULL;
    kvbm_registry_config rc = KVBM_REGISTRY_CONFIG_INIT;
    if (kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &t) != KVBM_OK) return NULL;
    rc.tracker = t;
    kvbm_status st = kvbm_registry_create(&rc, &r);
    kvbm_tracker_release(t);
    if (st != KVBM_OK) return NULL;
    kvbm_manager_config mc = KVBM_MANAGER_CONFIG_INIT;
    mc.registry = r;
    mc.block_count = c->capacity;
    mc.block_size = c->block_size;
    kvbm_manager *m = NULL;
    st = kvbm_manager_create(&mc, &m);
    kvbm_registry_release(r);
    return st == KVBM_OK ? m : NULL;
}

static int fail_seq(sim *x, const char *what, size_t r)
{
    return cli_fail(x->err, x->errlen, "request %zu: %s: %s", r, what, kvbm_last_error());
}

static void run_remove(sim *x, size_t pos)
{
    memmove(&x->running[pos], &x->running[pos + 1], (x->nrun - pos - 1) * sizeof *x->running);
    x->nrun--;
}

static size_t blocks_needed(const sim *x, const cli_sim_request *q)
{
    size_t bs = x->c->block_size;
    return (q->input_len + q->output_len + bs - 1) / bs + 1;
}

static int admit(sim *x, size_t r)
{
    const cli_sim_request *q = &x->w->req[r];
    if (blocks_needed(x, q) > x->c->capacity) {
        x->st[r] = SIM_REJECTED;
        x->res->rejected++;
        return 0;
    }
    kvbm_token *t = malloc((q->input_len ? q->input_len : 1) * sizeof *t);
    if (t == NULL) return cli_fail(x->err, x->errlen, "out of memory");
    for (size_t k = 0; k < q->input_len; k++) {
        size_t b = k / x->c->id_block_tokens;
        t[k] = b < q->n_ids ? q->ids[b] : (kvbm_token)(0x80000000u | (uint32_t)(r * 65537u + k));
    }
    kvbm_sched_seq_config sc = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&sc, t, q->input_len);
    kvbm_sched_seq_config_set_max_output(&sc, q->output_len);
    kvbm_sched_seq_config_set_block_size(&sc, x->c->block_size);
    sc.manager = x->m;
    size_t hit = 0;
    kvbm_status st = kvbm_sched_seq_create(&sc, &x->seq[r], NULL);
    free(t);
    if (st != KVBM_OK) return fail_seq(x, "create", r);
    if (kvbm_sched_seq_match_prefix(x->seq[r], x->m, &hit, NULL) != KVBM_OK) return fail_seq(x, "match", r);
    x->res->prompt_tokens += q->input_len;
    x->res->cached_tokens += hit * x->c->block_size;
    x->st[r] = SIM_RUNNING;
    x->running[x->nrun++] = r;
    return 0;
}

/* Preempt the most recently admitted running request other than @keep (reverting its
 * schedule first). Returns false when there is none. */
static bool preempt(sim *x, size_t keep)
{
    for (size_t k = x->nrun; k-- > 0;) {
        size_t j = x->running[k];
        if (j == keep) continue;
        if (x->scheduled[j] && kvbm_sched_seq_revert(x->seq[j], NULL) != KVBM_OK) return false;
        x->scheduled[j] = false;
        if (kvbm_sched_seq_release(x->seq[j], NULL) != KVBM_OK) return false;
        run_remove(x, k);
        x->st[j] = SIM_PREEMPTED;
        x->preempted[x->npre++] = j;
        x->res->preemptions++;
        return true;
    }
    return false;
}

/* Schedule request @r within *@budget; 1 = scheduled, 0 = not this step, -1 = error. */
static int schedule(sim *x, size_t r, size_t *budget)
{
    kvbm_sched_seq *s = x->seq[r];
    for (;;) {
        kvbm_sched_seq_info in = KVBM_SCHED_SEQ_INFO_INIT;
        (void)kvbm_sched_seq_info_get(s, &in);
        kvbm_status st;
        size_t cost;
        if (!in.is_prefill_complete) {
            size_t left = in.num_input - in.prefill_position;
            cost = left < x->c->chunk ? left : x->c->chunk;
            if (cost > *budget) cost = *budget;
            if (cost == 0) return 0;
            st = kvbm_sched_seq_schedule_prefill(s, cost, x->m, NULL);
        } else if (in.is_complete || *budget == 0) {
            return 0;
        } else if (in.tail_tokens == 0) { /* H4: the whole prompt was cached */
            kvbm_token t = (kvbm_token)(r * 2654435761u);
            if (kvbm_sched_seq_append_tokens(s, &t, 1, NULL) != KVBM_OK) return fail_seq(x, "append", r);
            x->res->decode_tokens++;
            continue;
        } else {
            cost = 1;
            st = kvbm_sched_seq_schedule_decode(s, x->m, NULL);
        }
        if (st == KVBM_OK) {
            *budget -= cost;
            return 1;
        }
        if (st != KVBM_EEXHAUSTED) return fail_seq(x, "schedule", r);
        if (!preempt(x, r)) return 0;
    }
}

static int apply(sim *x, size_t r)
{
    kvbm_sched_seq *s = x->seq[r];
    kvbm_sched_seq_info in = KVBM_SCHED_SEQ_INFO_INIT;
    (void)kvbm_sched_seq_info_get(s, &in);
    kvbm_token tok = (kvbm_token)(r * 2654435761u + in.generated + 1);
    kvbm_status st;
    if (in.state.kind == KVBM_SCHED_PREFILL) {
        bool final = in.prefill_position + in.state.num_tokens >= in.num_input;
        st = kvbm_sched_seq_apply_prefill(s, final && in.max_output > 0 ? &tok : NULL, x->m, NULL);
        x->res->prefill_tokens += in.state.num_tokens;
        if (final && in.max_output > 0) x->res->decode_tokens++;
    } else {
        st = kvbm_sched_seq_apply_decode(s, tok, x->m, NULL, NULL);
        x->res->decode_tokens++;
    }
    return st == KVBM_OK ? 0 : fail_seq(x, "apply", r);
}

static int resume(sim *x)
{
    while (x->npre > 0 && x->nrun < x->c->max_running) {
        size_t r = x->preempted[0];
        bool ok = false;
        if (kvbm_sched_seq_reacquire(x->seq[r], x->m, &ok, NULL) != KVBM_OK) return fail_seq(x, "reacquire", r);
        if (!ok) break;
        kvbm_sched_seq_info in = KVBM_SCHED_SEQ_INFO_INIT;
        (void)kvbm_sched_seq_info_get(x->seq[r], &in);
        size_t cached = in.prefix_matched * x->c->block_size; /* H3: computed KV not cached */
        x->res->recompute_tokens += in.kv_position > cached ? in.kv_position - cached : 0;
        memmove(&x->preempted[0], &x->preempted[1], (x->npre - 1) * sizeof *x->preempted);
        x->npre--;
        x->st[r] = SIM_RUNNING;
        x->running[x->nrun++] = r;
        x->res->resumed++;
    }
    return 0;
}

static int step(sim *x, bool *progress)
{
    size_t before_run = x->nrun, before_pre = x->npre, before_wait = x->next_wait;
    if (resume(x) != 0) return -1;
    while (x->npre == 0 && x->nrun < x->c->max_running && x->next_wait < x->w->n)
        if (admit(x, x->next_wait++) != 0) return -1;
    size_t budget = x->c->token_budget, nsched = 0;
    for (size_t k = 0; k < x->nrun; k++) {
        size_t r = x->running[k];
        int rc = schedule(x, r, &budget);
        if (rc < 0) return -1;
        x->scheduled[r] = rc == 1;
        nsched += rc == 1;
        /* a preemption may have removed entries before k: find r again */
        while (k < x->nrun && x->running[k] != r) k--;
    }
    uint64_t in_use = x->c->capacity - kvbm_manager_available_blocks(x->m);
    if (in_use > x->res->peak_blocks_in_use) x->res->peak_blocks_in_use = in_use;
    size_t finished = 0;
    for (size_t k = 0; k < x->nrun; k++) {
        size_t r = x->running[k];
        if (x->scheduled[r] && apply(x, r) != 0) return -1;
        x->scheduled[r] = false;
    }
    for (size_t k = x->nrun; k-- > 0;) {
        size_t r = x->running[k];
        kvbm_sched_seq_info in = KVBM_SCHED_SEQ_INFO_INIT;
        (void)kvbm_sched_seq_info_get(x->seq[r], &in);
        if (in.is_prefill_complete && in.is_complete) {
            kvbm_sched_seq_destroy(x->seq[r]);
            x->seq[r] = NULL;
            x->st[r] = SIM_DONE;
            run_remove(x, k);
            x->res->finished++;
            finished++;
        }
    }
    *progress = nsched || finished || x->nrun != before_run || x->npre != before_pre ||
                x->next_wait != before_wait;
    return 0;
}

int cli_sim_run(const cli_sim_workload *w, const cli_sim_config *cfg, cli_sim_result *out,
                char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->capacity = cfg->capacity;
    if (cfg->chunk == 0 || cfg->token_budget == 0 || cfg->max_running == 0 || cfg->id_block_tokens == 0)
        return cli_fail(err, errlen, "chunk, token budget, max running and id block tokens must be > 0");
    sim x = { .w = w, .c = cfg, .res = out, .err = err, .errlen = errlen };
    x.m = make_manager(cfg);
    if (x.m == NULL) return cli_fail(err, errlen, "cannot build the manager: %s", kvbm_last_error());
    x.seq = calloc(w->n, sizeof *x.seq);
    x.st = calloc(w->n, sizeof *x.st);
    x.running = malloc(w->n * sizeof *x.running);
    x.preempted = malloc(w->n * sizeof *x.preempted);
    x.scheduled = calloc(w->n, sizeof *x.scheduled);
    int rc = 0;
    if (!x.seq || !x.st || !x.running || !x.preempted || !x.scheduled) rc = cli_fail(err, errlen, "out of memory");
    uint64_t t0 = cli_now_ns();
    while (rc == 0 && (x.nrun || x.npre || x.next_wait < w->n)) {
        if (out->steps >= cfg->max_steps) {
            rc = cli_fail(err, errlen, "stopped after %llu steps", (unsigned long long)out->steps);
            break;
        }
        bool progress = false;
        out->steps++;
        rc = step(&x, &progress);
        if (rc == 0 && !progress) rc = cli_fail(err, errlen, "no progress at step %llu", (unsigned long long)out->steps);
    }
    out->wall_ms = (double)(cli_now_ns() - t0) / 1e6;
    for (size_t r = 0; x.seq && r < w->n; r++) kvbm_sched_seq_destroy(x.seq[r]);
    if (rc == 0 && (kvbm_manager_available_blocks(x.m) != cfg->capacity ||
                    kvbm_manager_check_invariants(x.m) != KVBM_OK))
        rc = cli_fail(err, errlen, "blocks not back in the pool after the run (%llu of %llu available)",
                      (unsigned long long)kvbm_manager_available_blocks(x.m), (unsigned long long)cfg->capacity);
    kvbm_manager_destroy(x.m);
    free(x.seq);
    free(x.st);
    free(x.running);
    free(x.preempted);
    free(x.scheduled);
    return rc;
}
