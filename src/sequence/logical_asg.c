/* src/sequence/logical_asg.c - LogicalBlockAssignments (spec 30 §1.6): the three-phase
 * store holding the block handles themselves (mutable -> complete -> immutable). */
#include <stdio.h>

#include "seq_int.h"
#include "manager/manager_int.h"

#define LA_BATCH 64 /* handles per manager batch call (stack arrays, no allocation) */

kvbm_status kvbm_logical_asg_create(kvbm_logical_asg **out)
{
    if (out == NULL)
        return kvbm__seq_fail_simple(NULL, KVBM_SEQERR_BAD_ARGUMENT, "NULL out", KVBM_EINVAL);
    *out = kvbm__calloc(1, sizeof **out);
    return *out ? KVBM_OK : KVBM_ENOMEM;
}

void kvbm_logical_asg_destroy(kvbm_logical_asg *a)
{
    if (a == NULL) return;
    kvbm_logical_asg_clear(a);
    kvbm__lcs_free(&a->s);
    kvbm__free(a);
}

size_t kvbm_logical_asg_assigned_count(const kvbm_logical_asg *a) { return a->s.asg.len; }
size_t kvbm_logical_asg_staged_count(const kvbm_logical_asg *a) { return a->s.stg.len; }
size_t kvbm_logical_asg_unassigned_count(const kvbm_logical_asg *a) { return a->s.una.len; }
bool kvbm_logical_asg_is_empty(const kvbm_logical_asg *a)
{
    return a->s.asg.len + a->s.stg.len + a->s.una.len == 0;
}
bool kvbm_logical_asg_contains(const kvbm_logical_asg *a, uint32_t id)
{
    return kvbm__idset_has(&a->s.ids, id);
}

static bool get_ptr(const kvbm__lc_deque *d, size_t i, uint32_t *id, void **p)
{
    if (i >= d->len) return false;
    const kvbm__lc_entry *e = kvbm__dq_at(d, i);
    if (id) *id = (uint32_t)e->id;
    if (p) *p = e->ptr;
    return true;
}

bool kvbm_logical_asg_get_assigned(const kvbm_logical_asg *a, size_t i, uint32_t *id, kvbm_block **b)
{
    void *p = NULL;
    bool ok = get_ptr(&a->s.asg, i, id, &p);
    if (b) *b = p;
    return ok;
}

bool kvbm_logical_asg_get_staged(const kvbm_logical_asg *a, size_t i, uint32_t *id, kvbm_complete **b)
{
    void *p = NULL;
    bool ok = get_ptr(&a->s.stg, i, id, &p);
    if (b) *b = p;
    return ok;
}

bool kvbm_logical_asg_get_unassigned(const kvbm_logical_asg *a, size_t i, uint32_t *id, kvbm_mutable **b)
{
    void *p = NULL;
    bool ok = get_ptr(&a->s.una, i, id, &p);
    if (b) *b = p;
    return ok;
}

kvbm_status kvbm_logical_asg_all_block_ids(const kvbm_logical_asg *a, uint32_t *out, size_t cap, size_t *n)
{
    if (a == NULL || n == NULL) return KVBM_EINVAL;
    const kvbm__lc_deque *ds[3] = { &a->s.asg, &a->s.stg, &a->s.una };
    size_t m = ds[0]->len + ds[1]->len + ds[2]->len, k = 0;
    *n = m;
    if (cap < m || (out == NULL && m)) {
        kvbm__set_error("all_block_ids: capacity %zu < %zu ids", cap, m);
        return KVBM_ERANGE;
    }
    for (int d = 0; d < 3; d++)
        for (size_t i = 0; i < ds[d]->len; i++) out[k++] = (uint32_t)kvbm__dq_at(ds[d], i)->id;
    return KVBM_OK;
}

/* Shared body of extend_blocks / extend_assigned: @ids[i] is the id of @ptrs[i]. */
static kvbm_status extend(kvbm_logical_asg *a, kvbm__lc_deque *dq, void *const *ptrs,
                          const uint64_t *ids, size_t n, kvbm_seq_error_kind dup_kind,
                          const kvbm_plh *hashes, size_t *count, kvbm_seq_error *err)
{
    if (kvbm__lcs_reserve(&a->s, dq, n) != KVBM_OK) return KVBM_ENOMEM;
    uint64_t dup;
    if (!kvbm__lcs_claim(&a->s, ids, n, &dup)) {
        kvbm_seq_error e = { .kind = dup_kind, .block_id = dup };
        return kvbm__seq_fail(err, &e, KVBM_EINVAL);
    }
    for (size_t i = 0; i < n; i++) {
        kvbm__lc_entry e = { .id = ids[i], .ptr = ptrs[i] };
        if (hashes) e.hash = hashes[i];
        kvbm__dq_push(dq, e);
    }
    if (count) *count = n;
    return KVBM_OK;
}

kvbm_status kvbm_logical_asg_extend_blocks(kvbm_logical_asg *a, kvbm_mutable *const *blocks,
                                           size_t n, size_t *count, kvbm_seq_error *err)
{
    if (a == NULL || (blocks == NULL && n))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL tracker or block array",
                                     KVBM_EINVAL);
    uint64_t ids_small[LA_BATCH];
    uint64_t *ids = n > LA_BATCH ? kvbm__malloc(n * sizeof *ids) : ids_small;
    if (ids == NULL) return KVBM_ENOMEM;
    kvbm_status st = KVBM_OK;
    for (size_t i = 0; i < n && st == KVBM_OK; i++) {
        if (blocks[i] == NULL)
            st = kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL block handle", KVBM_EINVAL);
        else
            ids[i] = kvbm_mutable_block_id(blocks[i]);
    }
    if (st == KVBM_OK)
        st = extend(a, &a->s.una, (void *const *)blocks, ids, n, KVBM_SEQERR_DUPLICATE_BLOCK_ID,
                    NULL, count, err);
    if (ids != ids_small) kvbm__free(ids);
    return st;
}

kvbm_status kvbm_logical_asg_extend_assigned(kvbm_logical_asg *a, kvbm_block *const *blocks,
                                             size_t n, size_t *count, kvbm_seq_error *err)
{
    if (a == NULL || (blocks == NULL && n))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL tracker or block array",
                                     KVBM_EINVAL);
    uint64_t ids_small[LA_BATCH];
    kvbm_plh h_small[LA_BATCH];
    uint64_t *ids = ids_small;
    kvbm_plh *hs = h_small;
    if (n > LA_BATCH) {
        ids = kvbm__malloc(n * sizeof *ids);
        hs = kvbm__malloc(n * sizeof *hs);
        if (ids == NULL || hs == NULL) {
            kvbm__free(ids);
            kvbm__free(hs);
            return KVBM_ENOMEM;
        }
    }
    kvbm_status st = KVBM_OK;
    for (size_t i = 0; i < n && st == KVBM_OK; i++) {
        if (blocks[i] == NULL) {
            st = kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL block handle", KVBM_EINVAL);
            break;
        }
        ids[i] = kvbm_block_id(blocks[i]);
        hs[i] = kvbm_block_seq_hash(blocks[i]);
    }
    if (st == KVBM_OK)
        st = extend(a, &a->s.asg, (void *const *)blocks, ids, n,
                    KVBM_SEQERR_DUPLICATE_ASSIGNED_BLOCK_ID, hs, count, err);
    if (ids != ids_small) {
        kvbm__free(ids);
        kvbm__free(hs);
    }
    return st;
}

kvbm_status kvbm_logical_asg_stage(kvbm_logical_asg *a, const kvbm_block_seq *seq, size_t begin,
                                   size_t end, size_t *staged, kvbm_mutable **failed_out,
                                   kvbm_seq_error *err)
{
    if (staged) *staged = 0;
    if (failed_out) *failed_out = NULL;
    if (a == NULL || seq == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL tracker or sequence",
                                     KVBM_EINVAL);
    size_t len = kvbm__view_len(seq, begin, end);
    size_t n = len < a->s.una.len ? len : a->s.una.len;
    if (n == 0) return KVBM_OK;
    if (kvbm__dq_reserve(&a->s.stg, n) != KVBM_OK) return KVBM_ENOMEM;
    uint32_t tbs = kvbm_block_seq_block_size(seq);
    size_t done = 0;
    while (done < n) {
        /* one run: blocks of one manager whose size matches, up to LA_BATCH */
        kvbm_mutable *in[LA_BATCH];
        kvbm_plh hs[LA_BATCH];
        kvbm_complete *outc[LA_BATCH];
        kvbm__lc_entry *e0 = kvbm__dq_at(&a->s.una, 0);
        kvbm_mutable *m0 = e0->ptr;
        uint32_t gbs = kvbm_mutable_block_size(m0);
        if (gbs != tbs) {
            /* the reference's complete() failure: the guard leaves the queue with the error */
            kvbm__lc_entry e = kvbm__dq_shift(&a->s.una);
            kvbm__idset_del(&a->s.ids, e.id);
            if (failed_out)
                *failed_out = e.ptr;
            else
                kvbm_mutable_release(e.ptr);
            if (staged) *staged = done;
            return kvbm__seq_block_size_mismatch(err, gbs, tbs);
        }
        kvbm_mgr_id mid = kvbm_mutable_manager_id(m0);
        in[0] = m0; /* checked above */
        hs[0] = kvbm_token_block_plh(kvbm_block_seq_block(seq, begin + done));
        size_t run = 1;
        while (done + run < n && run < LA_BATCH) {
            kvbm_mutable *mb = kvbm__dq_at(&a->s.una, run)->ptr;
            if (kvbm_mutable_manager_id(mb) != mid || kvbm_mutable_block_size(mb) != tbs) break;
            in[run] = mb;
            hs[run] = kvbm_token_block_plh(kvbm_block_seq_block(seq, begin + done + run));
            run++;
        }
        kvbm_status st = kvbm_mutable_stage_many(in, hs, run, tbs, outc);
        if (st != KVBM_OK) {
            if (staged) *staged = done;
            return kvbm__seq_fail_manager(err, "stage", st);
        }
        for (size_t k = 0; k < run; k++) {
            kvbm__lc_entry e = kvbm__dq_shift(&a->s.una);
            e.ptr = outc[k];
            e.hash = hs[k];
            kvbm__dq_push(&a->s.stg, e);
        }
        done += run;
    }
    if (staged) *staged = done;
    return KVBM_OK;
}

/* Append the registered block @b of queue entry @e (removed from its queue) to the
 * assigned blocks (space reserved). */
static void push_registered(kvbm_logical_asg *a, kvbm__lc_entry e, kvbm_block *b)
{
    uint32_t rid = kvbm_block_id(b);
    if (rid != e.id) { /* Reject policy returned the existing primary (decision 7) */
        kvbm__idset_del(&a->s.ids, e.id);
        e.id = rid;
        kvbm__idset_add(&a->s.ids, rid); /* false if already held: kept once */
    }
    e.ptr = b;
    e.hash = kvbm_block_seq_hash(b);
    kvbm__dq_push(&a->s.asg, e);
}

kvbm_status kvbm_logical_asg_register(kvbm_logical_asg *a, kvbm_manager *m, size_t *n)
{
    if (n) *n = 0;
    if (a == NULL || m == NULL) return KVBM_EINVAL;
    size_t total = a->s.stg.len, done = 0;
    if (total == 0) return KVBM_OK;
    if (kvbm__lcs_reserve(&a->s, &a->s.asg, total) != KVBM_OK) return KVBM_ENOMEM;
    while (done < total) {
        kvbm_complete *in[LA_BATCH];
        kvbm_block *outb[LA_BATCH];
        size_t run = total - done < LA_BATCH ? total - done : LA_BATCH;
        for (size_t k = 0; k < run; k++) in[k] = kvbm__dq_at(&a->s.stg, k)->ptr;
        kvbm_status st = kvbm_manager_register_blocks(m, in, run, outb);
        if (st != KVBM_OK) {
            if (n) *n = done;
            return st;
        }
        for (size_t k = 0; k < run; k++) push_registered(a, kvbm__dq_shift(&a->s.stg), outb[k]);
        done += run;
    }
    if (n) *n = done;
    return KVBM_OK;
}

kvbm_status kvbm_logical_asg_pop_last_unassigned(kvbm_logical_asg *a, uint32_t *id, kvbm_mutable **out)
{
    if (a == NULL || out == NULL) return KVBM_EINVAL;
    if (a->s.una.len == 0) return KVBM_EEMPTY;
    kvbm__lc_entry e = kvbm__dq_pop(&a->s.una);
    kvbm__idset_del(&a->s.ids, e.id);
    if (id) *id = (uint32_t)e.id;
    *out = e.ptr;
    return KVBM_OK;
}

void kvbm_logical_asg_clear(kvbm_logical_asg *a)
{
    if (a == NULL) return;
    while (a->s.asg.len) {
        /* release runs of assigned blocks in order, one batch call per run */
        kvbm_block *b[LA_BATCH];
        size_t run = 0;
        while (a->s.asg.len && run < LA_BATCH) b[run++] = kvbm__dq_shift(&a->s.asg).ptr;
        (void)kvbm_block_release_many(b, run);
    }
    while (a->s.stg.len) (void)kvbm_complete_release(kvbm__dq_shift(&a->s.stg).ptr);
    while (a->s.una.len) (void)kvbm_mutable_release(kvbm__dq_shift(&a->s.una).ptr);
    a->s.asg.head = a->s.stg.head = a->s.una.head = 0;
    kvbm__idset_clear(&a->s.ids);
}

static kvbm_status take(kvbm_logical_asg *a, kvbm__lc_deque *d, uint32_t *ids, void **out,
                        size_t cap, size_t *n)
{
    if (a == NULL || n == NULL) return KVBM_EINVAL;
    size_t m = d->len;
    *n = m;
    if (cap < m || (out == NULL && m)) {
        kvbm__set_error("take: capacity %zu < %zu entries", cap, m);
        return KVBM_ERANGE;
    }
    for (size_t i = 0; i < m; i++) {
        kvbm__lc_entry e = kvbm__dq_shift(d);
        kvbm__idset_del(&a->s.ids, e.id);
        if (ids) ids[i] = (uint32_t)e.id;
        out[i] = e.ptr;
    }
    return KVBM_OK;
}

kvbm_status kvbm_logical_asg_take_assigned(kvbm_logical_asg *a, uint32_t *ids, kvbm_block **out,
                                           size_t cap, size_t *n)
{
    return take(a, a ? &a->s.asg : NULL, ids, (void **)out, cap, n);
}

kvbm_status kvbm_logical_asg_take_staged(kvbm_logical_asg *a, uint32_t *ids, kvbm_complete **out,
                                         size_t cap, size_t *n)
{
    return take(a, a ? &a->s.stg : NULL, ids, (void **)out, cap, n);
}

kvbm_status kvbm_logical_asg_take_unassigned(kvbm_logical_asg *a, uint32_t *ids, kvbm_mutable **out,
                                             size_t cap, size_t *n)
{
    return take(a, a ? &a->s.una : NULL, ids, (void **)out, cap, n);
}

int kvbm_logical_asg_describe(const kvbm_logical_asg *a, char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "LogicalBlockAssignments { assigned_count: %zu, staged_count: %zu, "
                    "unassigned_count: %zu }",
                    a->s.asg.len, a->s.stg.len, a->s.una.len);
}

bool kvbm__logical_asg_stage_register(kvbm_logical_asg *a, const kvbm_block_seq *seq, size_t begin,
                                      size_t end, kvbm_manager *m, size_t *registered,
                                      kvbm_status *st)
{
    *registered = 0;
    *st = KVBM_OK;
    size_t len = kvbm__view_len(seq, begin, end);
    size_t n = len < a->s.una.len ? len : a->s.una.len;
    if (a->s.stg.len != 0 || n == 0 || n > LA_BATCH) return false;
    if (kvbm__lcs_reserve(&a->s, &a->s.asg, n) != KVBM_OK) return false;
    kvbm_mutable *in[LA_BATCH];
    kvbm_plh hs[LA_BATCH];
    kvbm_block *outb[LA_BATCH];
    for (size_t k = 0; k < n; k++) {
        in[k] = kvbm__dq_at(&a->s.una, k)->ptr;
        hs[k] = kvbm_token_block_plh(kvbm_block_seq_block(seq, begin + k));
    }
    size_t done = 0;
    kvbm_status r = kvbm_manager_stage_register_blocks(m, in, hs, n, kvbm_block_seq_block_size(seq),
                                                       outb, &done);
    for (size_t k = 0; k < done; k++) push_registered(a, kvbm__dq_shift(&a->s.una), outb[k]);
    *registered = done;
    *st = r;
    return r == KVBM_OK;
}
