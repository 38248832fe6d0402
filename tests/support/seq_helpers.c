/* tests/support/seq_helpers.c - see seq_helpers.h. */
#include "support/seq_helpers.h"

#include <stdlib.h>

kvbm_token *iota_tokens(uint32_t start, size_t n)
{
    kvbm_token *t = malloc((n ? n : 1) * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = start + (uint32_t)i;
    return t;
}

kvbm_block_seq *mkseq_bs(size_t ntokens, uint32_t bs)
{
    kvbm_token *t = iota_tokens(0, ntokens);
    kvbm_block_seq *s = NULL;
    if (kvbm_block_seq_create(t, ntokens, bs, NULL, &s) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "kvbm_block_seq_create failed: %s", kvbm_last_error());
    free(t);
    return s;
}

kvbm_block_seq *mkseq(size_t complete, size_t partial) { return mkseq_bs(complete * 4 + partial, 4); }

kvbm_plh seq_hash(const kvbm_block_seq *s, size_t i)
{
    return kvbm_token_block_plh(kvbm_block_seq_block(s, i));
}

void cache_prefix(kvbm_manager *m, size_t ntokens)
{
    kvbm_token *t = iota_tokens(0, ntokens);
    kvbm_plh h[256];
    size_t nb = tm_chain_hashes(t, ntokens - ntokens % 4, 4, 0, h);
    for (size_t i = 0; i < nb; i++) tm_register_and_drop(m, h[i]);
    free(t);
}

void ev_log_on_event(void *user, const kvbm_seq_event *ev)
{
    ev_log *l = user;
    if (l->n < 64) l->ev[l->n] = *ev;
    l->n++;
}

void ev_log_release(void *user) { ((ev_log *)user)->released++; }

kvbm_seq_delegate ev_log_delegate(ev_log *log)
{
    kvbm_seq_delegate d = { ev_log_on_event, log, ev_log_release };
    return d;
}

kvbm_sched_seq *mksched(size_t n, size_t max_output, ev_log *log)
{
    kvbm_token *t = iota_tokens(0, n);
    kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&c, t, n);
    kvbm_sched_seq_config_set_max_output(&c, max_output);
    kvbm_sched_seq_config_set_block_size(&c, 4);
    if (log) c.delegate = ev_log_delegate(log);
    kvbm_sched_seq *s = NULL;
    if (kvbm_sched_seq_create(&c, &s, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "kvbm_sched_seq_create failed: %s", kvbm_last_error());
    free(t);
    return s;
}

kvbm_sched_seq *prefilled_seq(size_t n, size_t max_output, kvbm_manager *m, ev_log *log)
{
    kvbm_sched_seq *s = mksched(n, max_output, log);
    if (s == NULL || n == 0) return s;
    kvbm_token tok = 1000;
    if (kvbm_sched_seq_schedule_prefill(s, n, m, NULL) != KVBM_OK ||
        kvbm_sched_seq_apply_prefill(s, &tok, m, NULL) != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "prefilled_seq failed: %s", kvbm_last_error());
        kvbm_sched_seq_destroy(s);
        return NULL;
    }
    return s;
}

kvbm_sched_seq_info sinfo(const kvbm_sched_seq *s)
{
    kvbm_sched_seq_info i = KVBM_SCHED_SEQ_INFO_INIT;
    (void)kvbm_sched_seq_info_get(s, &i);
    return i;
}

const kvbm_token T1000 = 1000;

kvbm_ext_asg *mkasg(size_t offset)
{
    kvbm_ext_asg *a = NULL;
    if (kvbm_ext_asg_create(offset, &a) != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "create");
    return a;
}

void ext(kvbm_ext_asg *a, const uint64_t *ids, size_t n)
{
    if (kvbm_ext_asg_extend_block_ids(a, ids, n, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "extend_block_ids: %s", kvbm_last_error());
}

kvbm_range assign_all(kvbm_ext_asg *a, const kvbm_block_seq *s)
{
    kvbm_range r = { 999, 999 };
    if (kvbm_ext_asg_assign_pending(a, s, 0, kvbm_block_seq_num_blocks(s), &r, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "assign_pending: %s", kvbm_last_error());
    return r;
}

kvbm_ext_asg *assigned_at(size_t offset, const uint64_t *ids, size_t n, const kvbm_block_seq *s)
{
    kvbm_ext_asg *a = mkasg(offset);
    ext(a, ids, n);
    assign_all(a, s);
    return a;
}

static bool entry_is(bool staged, const kvbm_ext_asg *a, size_t i, uint64_t id, const kvbm_block_seq *s,
                     size_t pos)
{
    uint64_t gid;
    kvbm_plh h;
    bool ok = staged ? kvbm_ext_asg_get_staged(a, i, &gid, &h) : kvbm_ext_asg_get_assigned(a, i, &gid, &h);
    return ok && gid == id && kvbm_plh_eq(h, seq_hash(s, pos));
}

bool asg_is(const kvbm_ext_asg *a, size_t i, uint64_t id, const kvbm_block_seq *s, size_t pos)
{
    return entry_is(false, a, i, id, s, pos);
}

bool stg_is(const kvbm_ext_asg *a, size_t i, uint64_t id, const kvbm_block_seq *s, size_t pos)
{
    return entry_is(true, a, i, id, s, pos);
}

kvbm_decode_outcome decode(kvbm_sched_seq *s, kvbm_token t, kvbm_manager *m)
{
    kvbm_decode_outcome o = (kvbm_decode_outcome)-1;
    if (kvbm_sched_seq_schedule_decode(s, m, NULL) != KVBM_OK ||
        kvbm_sched_seq_apply_decode(s, t, m, &o, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "decode: %s", kvbm_last_error());
    return o;
}
