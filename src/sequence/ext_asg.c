/* src/sequence/ext_asg.c - ExternalBlockAssignments (spec 30 §1.4) and the zip planners
 * (§1.5): plain ids and hashes at a fixed position offset; never touches a manager. */
#include <stdio.h>

#include "seq_int.h"

kvbm_status kvbm_ext_asg_create(size_t offset, kvbm_ext_asg **out)
{
    if (out == NULL)
        return kvbm__seq_fail_simple(NULL, KVBM_SEQERR_BAD_ARGUMENT, "NULL out", KVBM_EINVAL);
    kvbm_ext_asg *a = kvbm__calloc(1, sizeof *a);
    if (a == NULL) return KVBM_ENOMEM;
    a->offset = offset;
    *out = a;
    return KVBM_OK;
}

void kvbm_ext_asg_destroy(kvbm_ext_asg *a)
{
    if (a == NULL) return;
    kvbm__lcs_free(&a->s);
    kvbm__free(a);
}

size_t kvbm_ext_asg_offset(const kvbm_ext_asg *a) { return a->offset; }
size_t kvbm_ext_asg_assigned_count(const kvbm_ext_asg *a) { return a->s.asg.len; }
size_t kvbm_ext_asg_staged_count(const kvbm_ext_asg *a) { return a->s.stg.len; }
size_t kvbm_ext_asg_unassigned_count(const kvbm_ext_asg *a) { return a->s.una.len; }
size_t kvbm_ext_asg_next_position(const kvbm_ext_asg *a) { return a->offset + a->s.asg.len + a->s.stg.len; }
bool kvbm_ext_asg_contains(const kvbm_ext_asg *a, uint64_t id) { return kvbm__idset_has(&a->s.ids, id); }

kvbm_range kvbm_ext_asg_assigned_positions(const kvbm_ext_asg *a)
{
    return (kvbm_range){ a->offset, a->offset + a->s.asg.len };
}

kvbm_range kvbm_ext_asg_staged_positions(const kvbm_ext_asg *a)
{
    size_t s = a->offset + a->s.asg.len;
    return (kvbm_range){ s, s + a->s.stg.len };
}

kvbm_range kvbm_ext_asg_pending_positions(const kvbm_ext_asg *a)
{
    size_t s = kvbm_ext_asg_next_position(a);
    return (kvbm_range){ s, s + a->s.una.len };
}

static bool get_entry(const kvbm__lc_deque *d, size_t i, uint64_t *id, kvbm_plh *hash)
{
    if (i >= d->len) return false;
    const kvbm__lc_entry *e = kvbm__dq_at(d, i);
    if (id) *id = e->id;
    if (hash) *hash = e->hash;
    return true;
}

bool kvbm_ext_asg_get_assigned(const kvbm_ext_asg *a, size_t i, uint64_t *id, kvbm_plh *hash)
{
    return get_entry(&a->s.asg, i, id, hash);
}

bool kvbm_ext_asg_get_staged(const kvbm_ext_asg *a, size_t i, uint64_t *id, kvbm_plh *hash)
{
    return get_entry(&a->s.stg, i, id, hash);
}

bool kvbm_ext_asg_get_unassigned(const kvbm_ext_asg *a, size_t i, uint64_t *id)
{
    return get_entry(&a->s.una, i, id, NULL);
}

bool kvbm_ext_asg_get_at_position(const kvbm_ext_asg *a, size_t p, uint64_t *id, kvbm_plh *hash)
{
    return p >= a->offset && get_entry(&a->s.asg, p - a->offset, id, hash);
}

bool kvbm_ext_asg_get_pending_at_position(const kvbm_ext_asg *a, size_t p, uint64_t *id)
{
    size_t next = kvbm_ext_asg_next_position(a);
    return p >= next && get_entry(&a->s.una, p - next, id, NULL);
}

kvbm_status kvbm_ext_asg_extend_block_ids(kvbm_ext_asg *a, const uint64_t *ids, size_t n,
                                          kvbm_seq_error *err)
{
    if (a == NULL || (ids == NULL && n))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL tracker or id array",
                                     KVBM_EINVAL);
    if (kvbm__lcs_reserve(&a->s, &a->s.una, n) != KVBM_OK) return KVBM_ENOMEM;
    /* Check by tentative insertion: ids found in the set before the first new id are known
     * (skipped); after it every id must be new. */
    size_t first_new = SIZE_MAX, i = 0;
    kvbm_seq_error e = { 0 };
    for (; i < n; i++) {
        bool fresh = kvbm__idset_add(&a->s.ids, ids[i]);
        if (fresh) {
            if (first_new == SIZE_MAX) first_new = i;
            continue;
        }
        if (first_new == SIZE_MAX) continue; /* known prefix */
        bool dup_new = false;
        for (size_t k = first_new; k < i && !dup_new; k++) dup_new = ids[k] == ids[i];
        if (dup_new) {
            e.kind = KVBM_SEQERR_DUPLICATE_BLOCK_ID;
            e.block_id = ids[i];
        } else {
            e.kind = KVBM_SEQERR_ORDERING_VIOLATION;
            e.known_id = ids[i];
            e.new_id = ids[first_new];
            e.known_index = i;
            e.first_new_index = first_new;
        }
        break;
    }
    if (e.kind != KVBM_SEQERR_NONE) {
        for (size_t k = first_new; k < i; k++) kvbm__idset_del(&a->s.ids, ids[k]);
        return kvbm__seq_fail(err, &e, KVBM_EINVAL);
    }
    if (first_new != SIZE_MAX)
        for (size_t k = first_new; k < n; k++)
            kvbm__dq_push(&a->s.una, (kvbm__lc_entry){ .id = ids[k] });
    return KVBM_OK;
}

kvbm_status kvbm_ext_asg_extend_assigned(kvbm_ext_asg *a, const uint64_t *ids,
                                         const kvbm_plh *hashes, size_t n, size_t *count,
                                         kvbm_seq_error *err)
{
    if (a == NULL || ((ids == NULL || hashes == NULL) && n))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL tracker or input array",
                                     KVBM_EINVAL);
    if (kvbm__lcs_reserve(&a->s, &a->s.asg, n) != KVBM_OK) return KVBM_ENOMEM;
    uint64_t dup;
    if (!kvbm__lcs_claim(&a->s, ids, n, &dup)) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_DUPLICATE_BLOCK_ID, .block_id = dup };
        return kvbm__seq_fail(err, &e, KVBM_EINVAL);
    }
    for (size_t i = 0; i < n; i++)
        kvbm__dq_push(&a->s.asg, (kvbm__lc_entry){ .id = ids[i], .hash = hashes[i] });
    if (count) *count = n;
    return KVBM_OK;
}

kvbm_status kvbm_ext_asg_stage_pending(kvbm_ext_asg *a, const kvbm_block_seq *seq, size_t begin,
                                       size_t end, kvbm_range *range, kvbm_seq_error *err)
{
    if (a == NULL || seq == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL tracker or sequence",
                                     KVBM_EINVAL);
    size_t len = kvbm__view_len(seq, begin, end);
    size_t start = kvbm_ext_asg_next_position(a), staged_start = a->s.stg.len;
    size_t avail = len > start ? len - start : 0;
    size_t k, m = avail < a->s.una.len ? avail : a->s.una.len;
    for (k = 0; k < m; k++) {
        size_t p = start + k;
        uint64_t pos = kvbm_token_block_position(kvbm_block_seq_block(seq, begin + p));
        if (pos != p) {
            kvbm_seq_error e = { .kind = KVBM_SEQERR_POSITION_MISMATCH, .expected = p,
                                 .actual = (size_t)pos, .block_id = kvbm__dq_at(&a->s.una, k)->id };
            return kvbm__seq_fail(err, &e, KVBM_EINVAL);
        }
    }
    if (kvbm__dq_reserve(&a->s.stg, m) != KVBM_OK) return KVBM_ENOMEM;
    for (k = 0; k < m; k++) {
        kvbm__lc_entry e = kvbm__dq_shift(&a->s.una);
        e.hash = kvbm_token_block_plh(kvbm_block_seq_block(seq, begin + start + k));
        kvbm__dq_push(&a->s.stg, e);
    }
    if (range) *range = (kvbm_range){ staged_start, a->s.stg.len };
    return KVBM_OK;
}

kvbm_range kvbm_ext_asg_commit_staged(kvbm_ext_asg *a)
{
    size_t before = a->s.asg.len;
    if (a->s.stg.len && kvbm__dq_reserve(&a->s.asg, a->s.stg.len) != KVBM_OK)
        return (kvbm_range){ before, before }; /* out of memory: nothing moves */
    kvbm__lcs_move_all(&a->s.stg, &a->s.asg);
    return (kvbm_range){ before, a->s.asg.len };
}

kvbm_status kvbm_ext_asg_assign_pending(kvbm_ext_asg *a, const kvbm_block_seq *seq, size_t begin,
                                        size_t end, kvbm_range *range, kvbm_seq_error *err)
{
    KVBM_TRY(kvbm_ext_asg_stage_pending(a, seq, begin, end, NULL, err));
    /* reserve before committing so the commit cannot fail half-way */
    if (kvbm__dq_reserve(&a->s.asg, a->s.stg.len) != KVBM_OK) return KVBM_ENOMEM;
    kvbm_range r = kvbm_ext_asg_commit_staged(a);
    if (range) *range = r;
    return KVBM_OK;
}

void kvbm_ext_asg_clear(kvbm_ext_asg *a)
{
    a->s.asg.len = a->s.stg.len = a->s.una.len = 0;
    a->s.asg.head = a->s.stg.head = a->s.una.head = 0;
    kvbm__idset_clear(&a->s.ids);
}

kvbm_status kvbm_ext_asg_take_staged(kvbm_ext_asg *a, uint64_t *ids, kvbm_plh *hashes, size_t cap,
                                     size_t *n)
{
    if (a == NULL || n == NULL) return KVBM_EINVAL;
    size_t m = a->s.stg.len;
    *n = m;
    if (cap < m) {
        kvbm__set_error("take_staged: capacity %zu < %zu entries", cap, m);
        return KVBM_ERANGE;
    }
    for (size_t i = 0; i < m; i++) {
        kvbm__lc_entry e = kvbm__dq_shift(&a->s.stg);
        if (ids) ids[i] = e.id;
        if (hashes) hashes[i] = e.hash;
        kvbm__idset_del(&a->s.ids, e.id);
    }
    return KVBM_OK;
}

int kvbm_ext_asg_describe(const kvbm_ext_asg *a, char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "ExternalBlockAssignments { assigned_count: %zu, staged_count: %zu, "
                    "unassigned_count: %zu, offset: %zu }",
                    a->s.asg.len, a->s.stg.len, a->s.una.len, a->offset);
}

/* ---- zip ------------------------------------------------------------------------------- */

static kvbm_status zip(const kvbm_ext_asg *a, const kvbm_ext_asg *b, bool pending,
                       kvbm_zip_entry *out, size_t cap, size_t *n)
{
    if (a == NULL || b == NULL || n == NULL) return KVBM_EINVAL;
    kvbm_range ra = kvbm_ext_asg_assigned_positions(a);
    kvbm_range rb = pending ? kvbm_ext_asg_pending_positions(b) : kvbm_ext_asg_assigned_positions(b);
    size_t lo = ra.start > rb.start ? ra.start : rb.start;
    size_t hi = ra.end < rb.end ? ra.end : rb.end;
    size_t m = hi > lo ? hi - lo : 0;
    *n = m;
    if (cap < m || (out == NULL && m)) {
        kvbm__set_error("zip: capacity %zu < %zu entries", cap, m);
        return KVBM_ERANGE;
    }
    for (size_t i = 0; i < m; i++) {
        size_t p = lo + i;
        out[i].position = p;
        kvbm_ext_asg_get_at_position(a, p, &out[i].first, NULL);
        if (pending)
            kvbm_ext_asg_get_pending_at_position(b, p, &out[i].second);
        else
            kvbm_ext_asg_get_at_position(b, p, &out[i].second, NULL);
    }
    return KVBM_OK;
}

kvbm_status kvbm_zip_assigned(const kvbm_ext_asg *a, const kvbm_ext_asg *b, kvbm_zip_entry *out,
                              size_t cap, size_t *n)
{
    return zip(a, b, false, out, cap, n);
}

kvbm_status kvbm_zip_assigned_pending(const kvbm_ext_asg *src, const kvbm_ext_asg *dst,
                                      kvbm_zip_entry *out, size_t cap, size_t *n)
{
    return zip(src, dst, true, out, cap, n);
}
