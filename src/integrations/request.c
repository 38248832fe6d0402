/* src/integrations/request.c - RequestSequence (spec 30 §2.1): tokens + the block handles a
 * request holds (kvbm_logical_asg) + detached identities. The manager is borrowed per call. */
#include <stdio.h>

#include "sequence/seq_int.h"

#define RQ_STACK 64 /* hashes / handles on the stack before a heap buffer is used */
#define RQ_RESERVE_MAX ((size_t)4096) /* output tokens reserved up front at most */

static size_t rq_nb(const kvbm_request_seq *r) { return kvbm_block_seq_num_blocks(&r->seq); }
static size_t rq_bs(const kvbm_request_seq *r) { return kvbm_block_seq_block_size(&r->seq); }

kvbm_status kvbm__request_seq_init(kvbm_request_seq *r, const kvbm_token *tokens, size_t n,
                                   size_t max_output, uint32_t bs, uint64_t salt,
                                   kvbm_seq_error *err)
{
    memset(r, 0, sizeof *r);
    KVBM_TRY(kvbm__block_seq_init(&r->seq, tokens, n, bs, salt, err));
    size_t extra = max_output < RQ_RESERVE_MAX ? max_output : RQ_RESERVE_MAX;
    if (kvbm__block_seq_reserve(&r->seq, n + extra) != KVBM_OK) {
        kvbm_token_seq_destroy(r->seq.ts);
        r->seq.ts = NULL;
        return KVBM_ENOMEM;
    }
    /* room for every block of the reserved tokens (+1 generation block): no allocation at
     * block boundaries while decoding within the reservation */
    size_t nblk = (n + extra) / bs + 2;
    if (kvbm__lcs_reserve(&r->asg.s, &r->asg.s.asg, nblk) != KVBM_OK ||
        kvbm__dq_reserve(&r->asg.s.una, 2) != KVBM_OK) {
        kvbm__lcs_free(&r->asg.s);
        kvbm_token_seq_destroy(r->seq.ts);
        r->seq.ts = NULL;
        return KVBM_ENOMEM;
    }
    r->max_output = max_output;
    r->num_input = n;
    r->salt = salt;
    return KVBM_OK;
}

void kvbm__request_seq_fini(kvbm_request_seq *r)
{
    kvbm_logical_asg_clear(&r->asg);
    kvbm__lcs_free(&r->asg.s);
    kvbm__free(r->det);
    kvbm_token_seq_destroy(r->seq.ts);
    memset(r, 0, sizeof *r);
}

kvbm_status kvbm_request_seq_create(const kvbm_token *tokens, size_t n, size_t max_output_tokens,
                                    uint32_t block_size, const uint64_t *salt,
                                    kvbm_request_seq **out)
{
    if (out == NULL)
        return kvbm__seq_fail_simple(NULL, KVBM_SEQERR_BAD_ARGUMENT, "NULL out", KVBM_EINVAL);
    kvbm_request_seq *r = kvbm__malloc(sizeof *r);
    if (r == NULL) return KVBM_ENOMEM;
    kvbm_status st = kvbm__request_seq_init(r, tokens, n, max_output_tokens, block_size,
                                            salt ? *salt : 0, NULL);
    if (st != KVBM_OK) {
        kvbm__free(r);
        return st;
    }
    *out = r;
    return KVBM_OK;
}

void kvbm_request_seq_destroy(kvbm_request_seq *r)
{
    if (r == NULL) return;
    kvbm__request_seq_fini(r);
    kvbm__free(r);
}

kvbm_status kvbm__request_check_manager(const kvbm_request_seq *r, kvbm_manager *m,
                                        kvbm_seq_error *err)
{
    if (m == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL manager", KVBM_EINVAL);
    uint32_t mbs = kvbm_manager_block_size(m);
    if (KVBM_UNLIKELY(mbs != rq_bs(r)))
        return kvbm__seq_block_size_mismatch(err, mbs, rq_bs(r));
    return KVBM_OK;
}

static bool rq_holds_nothing(const kvbm_request_seq *r)
{
    return kvbm_logical_asg_is_empty(&r->asg) && r->ndet == 0;
}

kvbm_status kvbm__request_seq_add_matched_blocks(kvbm_request_seq *r, kvbm_block *const *matched,
                                                 size_t n, size_t *count, kvbm_seq_error *err)
{
    size_t start = r->ndet + r->asg.s.asg.len, end = start + n;
    if (end > rq_nb(r))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_PRECONDITION,
                                     "matched blocks exceed completed sequence blocks", KVBM_ERANGE);
    for (size_t i = 0; i < n; i++) {
        kvbm_plh want = kvbm_token_block_plh(kvbm_block_seq_block(&r->seq, start + i));
        kvbm_plh got = kvbm_block_seq_hash(matched[i]);
        if (!kvbm_plh_eq(want, got)) {
            kvbm_seq_error e = { .kind = KVBM_SEQERR_SEQUENCE_HASH_MISMATCH, .position = start + i,
                                 .expected_hash = want, .actual_hash = got };
            return kvbm__seq_fail(err, &e, KVBM_EINVAL);
        }
    }
    KVBM_TRY(kvbm_logical_asg_extend_assigned(&r->asg, matched, n, NULL, err));
    r->prefix_matched += n;
    if (count) *count = n;
    return KVBM_OK;
}

/* Match every complete block's hash; *@blocks (caller frees unless == @small) holds the
 * *@nmatched new handles. */
static kvbm_status rq_match(kvbm_request_seq *r, kvbm_manager *m, kvbm_block **small,
                            kvbm_block ***blocks, size_t *nmatched, kvbm_seq_error *err)
{
    size_t nb = rq_nb(r);
    kvbm_plh hsmall[RQ_STACK];
    kvbm_plh *hs = hsmall;
    *blocks = small;
    *nmatched = 0;
    if (nb == 0) return KVBM_OK;
    if (nb > RQ_STACK) {
        hs = kvbm__malloc(nb * sizeof *hs);
        *blocks = kvbm__malloc(nb * sizeof **blocks);
        if (hs == NULL || *blocks == NULL) {
            kvbm__free(hs);
            kvbm__free(*blocks);
            *blocks = small;
            return KVBM_ENOMEM;
        }
    }
    for (size_t i = 0; i < nb; i++) hs[i] = kvbm_token_block_plh(kvbm_block_seq_block(&r->seq, i));
    kvbm_status st = kvbm_manager_match_blocks(m, hs, nb, *blocks, nmatched);
    if (hs != hsmall) kvbm__free(hs);
    if (st != KVBM_OK) {
        if (*blocks != small) kvbm__free(*blocks);
        *blocks = small;
        *nmatched = 0;
        return kvbm__seq_fail_manager(err, "match_blocks", st);
    }
    return KVBM_OK;
}

static void rq_drop_blocks(kvbm_block **b, size_t n, kvbm_block **small)
{
    (void)kvbm_block_release_many(b, n);
    if (b != small) kvbm__free(b);
}

kvbm_status kvbm_request_seq_match_and_add_prefix(kvbm_request_seq *r, kvbm_manager *m,
                                                  size_t *count, kvbm_seq_error *err)
{
    if (r == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    KVBM_TRY(kvbm__request_check_manager(r, m, err));
    if (!rq_holds_nothing(r))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_PRECONDITION,
                                     "match_and_add_prefix called on sequence with existing assignments",
                                     KVBM_ESTATE);
    kvbm_block *small[RQ_STACK], **blocks;
    size_t nm;
    KVBM_TRY(rq_match(r, m, small, &blocks, &nm, err));
    if (nm == 0) {
        if (blocks != small) kvbm__free(blocks);
        if (count) *count = 0;
        return KVBM_OK;
    }
    kvbm_status st = kvbm__request_seq_add_matched_blocks(r, blocks, nm, count, err);
    if (st != KVBM_OK) {
        rq_drop_blocks(blocks, nm, small);
        return st;
    }
    if (blocks != small) kvbm__free(blocks);
    return KVBM_OK;
}

/* Allocate @n blocks onto the queue. Used after the manager check. */
static kvbm_status rq_allocate(kvbm_request_seq *r, size_t n, kvbm_manager *m, kvbm_seq_error *err)
{
    if (n == 0) return KVBM_OK;
    kvbm_mutable *small[RQ_STACK];
    kvbm_mutable **mb = n > RQ_STACK ? kvbm__malloc(n * sizeof *mb) : small;
    if (mb == NULL) return KVBM_ENOMEM;
    kvbm_status st = kvbm_manager_allocate(m, n, mb, NULL, NULL);
    if (st == KVBM_EEXHAUSTED) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_ALLOCATION_FAILED, .needed = n };
        st = kvbm__seq_fail(err, &e, KVBM_EEXHAUSTED);
    } else if (st != KVBM_OK) {
        st = kvbm__seq_fail_manager(err, "allocate", st);
    } else {
        st = kvbm_logical_asg_extend_blocks(&r->asg, mb, n, NULL, err);
        if (st != KVBM_OK)
            for (size_t i = 0; i < n; i++) (void)kvbm_mutable_release(mb[i]);
    }
    if (mb != small) kvbm__free(mb);
    return st;
}

kvbm_status kvbm_request_seq_allocate_blocks(kvbm_request_seq *r, size_t n, kvbm_manager *m,
                                             kvbm_seq_error *err)
{
    if (r == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    if (n == 0) return KVBM_OK;
    KVBM_TRY(kvbm__request_check_manager(r, m, err));
    return rq_allocate(r, n, m, err);
}

kvbm_status kvbm_request_seq_stage_pending(kvbm_request_seq *r, size_t *staged, kvbm_seq_error *err)
{
    if (staged) *staged = 0;
    if (r == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    size_t start = r->ndet + r->asg.s.asg.len + r->asg.s.stg.len, nb = rq_nb(r);
    if (start >= nb || r->asg.s.una.len == 0) return KVBM_OK;
    /* the reference panics on a size mismatch half-way; check every block first (H7) */
    size_t n = nb - start < r->asg.s.una.len ? nb - start : r->asg.s.una.len;
    for (size_t i = 0; i < n; i++) {
        uint32_t gbs = kvbm_mutable_block_size(kvbm__dq_at(&r->asg.s.una, i)->ptr);
        if (gbs != rq_bs(r)) return kvbm__seq_block_size_mismatch(err, gbs, rq_bs(r));
    }
    return kvbm_logical_asg_stage(&r->asg, &r->seq, start, nb, staged, NULL, err);
}

/* register_staged after its checks (the caller checked @r and @m) */
static kvbm_status rq_register_staged(kvbm_request_seq *r, kvbm_manager *m, size_t *registered,
                                      kvbm_seq_error *err)
{
    kvbm_status st = kvbm_logical_asg_register(&r->asg, m, registered);
    return st == KVBM_OK ? KVBM_OK : kvbm__seq_fail_manager(err, "register", st);
}

kvbm_status kvbm_request_seq_register_staged(kvbm_request_seq *r, kvbm_manager *m,
                                             size_t *registered, kvbm_seq_error *err)
{
    if (registered) *registered = 0;
    if (r == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    KVBM_TRY(kvbm__request_check_manager(r, m, err));
    return rq_register_staged(r, m, registered, err);
}

kvbm_status kvbm_request_seq_complete_and_register_pending(kvbm_request_seq *r, kvbm_manager *m,
                                                           size_t *registered, kvbm_seq_error *err)
{
    if (registered) *registered = 0;
    if (r == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    KVBM_TRY(kvbm__request_check_manager(r, m, err));
    /* Nothing staged: stage and register in one manager call (one store-lock section).
     * Any failure leaves the two-step path below to do (and report) what is left. */
    size_t start = r->ndet + r->asg.s.asg.len, done = 0;
    kvbm_status fst;
    if (r->asg.s.stg.len == 0 && start < rq_nb(r) && r->asg.s.una.len != 0 &&
        kvbm__logical_asg_stage_register(&r->asg, &r->seq, start, rq_nb(r), m, &done, &fst)) {
        if (registered) *registered = done;
        return KVBM_OK;
    }
    KVBM_TRY(kvbm_request_seq_stage_pending(r, NULL, err));
    if (r->asg.s.stg.len == 0) {
        if (registered) *registered = done;
        return KVBM_OK;
    }
    kvbm_status st = rq_register_staged(r, m, registered, err); /* r and m checked above */
    if (registered) *registered += done;
    return st;
}

size_t kvbm_request_seq_drop_excess_unassigned(kvbm_request_seq *r, size_t keep)
{
    size_t n = 0;
    kvbm_mutable *mb;
    while (r->asg.s.una.len > keep &&
           kvbm_logical_asg_pop_last_unassigned(&r->asg, NULL, &mb) == KVBM_OK) {
        (void)kvbm_mutable_release(mb);
        n++;
    }
    return n;
}

kvbm_status kvbm_request_seq_detach_registered_blocks(kvbm_request_seq *r, kvbm_block **out,
                                                      size_t cap, size_t *n)
{
    if (r == NULL || n == NULL) return KVBM_EINVAL;
    size_t m = r->asg.s.asg.len;
    *n = m;
    if (cap < m || (out == NULL && m)) {
        kvbm__set_error("detach_registered_blocks: capacity %zu < %zu blocks", cap, m);
        return KVBM_ERANGE;
    }
    if (r->ndet + m > r->capdet) {
        size_t c = r->capdet ? r->capdet : 8;
        while (c < r->ndet + m) c *= 2;
        kvbm__detached *d = kvbm__realloc(r->det, c * sizeof *d);
        if (d == NULL) return KVBM_ENOMEM;
        r->det = d;
        r->capdet = c;
    }
    for (size_t i = 0; i < m; i++) {
        const kvbm__lc_entry *e = kvbm__dq_at(&r->asg.s.asg, i);
        r->det[r->ndet + i] = (kvbm__detached){ (uint32_t)e->id, e->hash };
    }
    kvbm_status st = kvbm_logical_asg_take_assigned(&r->asg, NULL, out, cap, n);
    if (st == KVBM_OK) r->ndet += m;
    return st;
}

kvbm_status kvbm_request_seq_append_token(kvbm_request_seq *r, kvbm_token token, bool *completed,
                                          size_t *index, kvbm_seq_error *err)
{
    if (r == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    if (r->generated >= r->max_output)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_PRECONDITION,
                                     "Cannot generate more tokens: reached max_output_tokens limit",
                                     KVBM_ERANGE);
    KVBM_TRY(kvbm_block_seq_append_token(&r->seq, token, completed, index, err));
    r->generated++;
    return KVBM_OK;
}

kvbm_status kvbm_request_seq_release(kvbm_request_seq *r)
{
    if (r == NULL) return KVBM_EINVAL;
    kvbm_logical_asg_clear(&r->asg);
    r->ndet = 0;
    return KVBM_OK;
}

kvbm_status kvbm_request_seq_reacquire(kvbm_request_seq *r, kvbm_manager *m, bool *success,
                                       kvbm_seq_error *err)
{
    if (success) *success = false;
    if (r == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    KVBM_TRY(kvbm__request_check_manager(r, m, err));
    if (!rq_holds_nothing(r))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_PRECONDITION,
                                     "reacquire called with existing assignments", KVBM_ESTATE);
    size_t completed = rq_nb(r), nm;
    kvbm_block *small[RQ_STACK], **blocks;
    KVBM_TRY(rq_match(r, m, small, &blocks, &nm, err));
    kvbm_status st = kvbm_logical_asg_extend_assigned(&r->asg, blocks, nm, NULL, NULL);
    if (st != KVBM_OK) {
        rq_drop_blocks(blocks, nm, small);
        return KVBM_OK; /* *success = false, nothing held */
    }
    if (blocks != small) kvbm__free(blocks);
    size_t rest = completed - nm;
    if (rest > 0) {
        st = rq_allocate(r, rest, m, NULL);
        if (st == KVBM_OK) st = kvbm_logical_asg_stage(&r->asg, &r->seq, nm, completed, NULL, NULL, NULL);
        if (st == KVBM_OK) st = kvbm_logical_asg_register(&r->asg, m, NULL);
        if (st != KVBM_OK) {
            kvbm_logical_asg_clear(&r->asg);
            return KVBM_OK;
        }
    }
    r->prefix_matched = nm;
    if (success) *success = true;
    return KVBM_OK;
}

kvbm_status kvbm_request_seq_page_indices(const kvbm_request_seq *r, uint32_t *out, size_t cap,
                                          size_t *n)
{
    if (r == NULL || n == NULL) return KVBM_EINVAL;
    size_t m = r->ndet + r->asg.s.asg.len + r->asg.s.stg.len + r->asg.s.una.len;
    *n = m;
    if (cap < m || (out == NULL && m)) {
        kvbm__set_error("page_indices: capacity %zu < %zu blocks", cap, m);
        return KVBM_ERANGE;
    }
    for (size_t i = 0; i < r->ndet; i++) out[i] = r->det[i].id;
    size_t rest;
    return kvbm_logical_asg_all_block_ids(&r->asg, out + r->ndet, cap - r->ndet, &rest);
}

size_t kvbm_request_seq_generated_tokens(const kvbm_request_seq *r) { return r->generated; }
size_t kvbm_request_seq_max_output_tokens(const kvbm_request_seq *r) { return r->max_output; }
size_t kvbm_request_seq_num_input_tokens(const kvbm_request_seq *r) { return r->num_input; }
size_t kvbm_request_seq_total_tokens(const kvbm_request_seq *r) { return kvbm_block_seq_total_tokens(&r->seq); }
size_t kvbm_request_seq_remaining_tokens(const kvbm_request_seq *r)
{
    return r->max_output > r->generated ? r->max_output - r->generated : 0;
}
bool kvbm_request_seq_is_complete(const kvbm_request_seq *r) { return r->generated >= r->max_output; }
size_t kvbm_request_seq_num_blocks(const kvbm_request_seq *r) { return rq_nb(r); }
size_t kvbm_request_seq_assigned_blocks(const kvbm_request_seq *r) { return r->ndet + r->asg.s.asg.len; }
size_t kvbm_request_seq_detached_blocks(const kvbm_request_seq *r) { return r->ndet; }
size_t kvbm_request_seq_staged_blocks(const kvbm_request_seq *r) { return r->asg.s.stg.len; }
size_t kvbm_request_seq_unassigned_blocks(const kvbm_request_seq *r) { return r->asg.s.una.len; }
size_t kvbm_request_seq_prefix_matched_blocks(const kvbm_request_seq *r) { return r->prefix_matched; }
size_t kvbm_request_seq_new_tokens_for_prefill(const kvbm_request_seq *r)
{
    size_t total = kvbm_request_seq_total_tokens(r), cached = r->prefix_matched * rq_bs(r);
    return total > cached ? total - cached : 0;
}
uint32_t kvbm_request_seq_block_size(const kvbm_request_seq *r) { return (uint32_t)rq_bs(r); }
uint64_t kvbm_request_seq_salt(const kvbm_request_seq *r) { return r->salt; }
const kvbm_block_seq *kvbm_request_seq_sequence(const kvbm_request_seq *r) { return &r->seq; }
const kvbm_logical_asg *kvbm_request_seq_assignments(const kvbm_request_seq *r) { return &r->asg; }

int kvbm_request_seq_describe(const kvbm_request_seq *r, char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "RequestSequence { total_tokens: %zu, num_blocks: %zu, generated_tokens: %zu, "
                    "max_output_tokens: %zu, num_input_tokens: %zu, prefix_matched_blocks: %zu, "
                    "assigned: %zu, detached_assigned: %zu, staged: %zu, unassigned: %zu }",
                    kvbm_request_seq_total_tokens(r), rq_nb(r), r->generated, r->max_output,
                    r->num_input, r->prefix_matched, kvbm_request_seq_assigned_blocks(r), r->ndet,
                    r->asg.s.stg.len, r->asg.s.una.len);
}
