/* src/sequence/seq_int.h - internals of the sequence layer (not installed).
 *
 * The lifecycle store (spec 30 §1.3): three lists of entries (assigned, staged,
 * unassigned), each a power-of-two ring deque (FIFO shift, LIFO pop and index access in
 * O(1)), plus one open-addressing id set over all three for contains / duplicate checks.
 * One entry type serves both trackers: External uses (id, hash), Logical (id, handle).
 * Growth happens only when entries are added (block boundaries), never on lookups.
 */
#ifndef KVBM_SEQ_INT_H
#define KVBM_SEQ_INT_H

#include "internal.h"
#include "kvbm/sequence.h"
#include "kvbm/request.h"

typedef struct kvbm__lc_entry {
    uint64_t id;
    kvbm_plh hash;
    void    *ptr;  /* Logical: kvbm_mutable / kvbm_complete / kvbm_block */
} kvbm__lc_entry;

typedef struct kvbm__lc_deque {
    kvbm__lc_entry *v;
    size_t head, len, cap; /* cap: 0 or a power of two */
} kvbm__lc_deque;

static inline kvbm__lc_entry *kvbm__dq_at(const kvbm__lc_deque *d, size_t i)
{
    return &d->v[(d->head + i) & (d->cap - 1)];
}
/* Room for @extra more entries; KVBM_ENOMEM (unchanged) on failure. */
kvbm_status kvbm__dq_reserve(kvbm__lc_deque *d, size_t extra);
static inline void kvbm__dq_push(kvbm__lc_deque *d, kvbm__lc_entry e) /* reserved */
{
    *kvbm__dq_at(d, d->len) = e;
    d->len++;
}
static inline kvbm__lc_entry kvbm__dq_shift(kvbm__lc_deque *d) /* len > 0 */
{
    kvbm__lc_entry e = d->v[d->head];
    d->head = (d->head + 1) & (d->cap - 1);
    d->len--;
    return e;
}
static inline kvbm__lc_entry kvbm__dq_pop(kvbm__lc_deque *d) /* len > 0 */
{
    d->len--;
    return *kvbm__dq_at(d, d->len);
}
void kvbm__dq_free(kvbm__lc_deque *d);

/* Set of uint64 ids: linear probing, backward-shift deletion, load <= 1/2. */
typedef struct kvbm__idset {
    uint64_t *keys; /* KVBM__ID_EMPTY = free */
    size_t    cap, len;
    bool      has_empty_key; /* the id equal to KVBM__ID_EMPTY, kept out of band */
} kvbm__idset;
#define KVBM__ID_EMPTY UINT64_MAX

bool        kvbm__idset_has(const kvbm__idset *s, uint64_t id);
kvbm_status kvbm__idset_reserve(kvbm__idset *s, size_t extra);
bool        kvbm__idset_add(kvbm__idset *s, uint64_t id); /* reserved; false if present */
void        kvbm__idset_del(kvbm__idset *s, uint64_t id);
void        kvbm__idset_clear(kvbm__idset *s);
void        kvbm__idset_free(kvbm__idset *s);

typedef struct kvbm__lcs {
    kvbm__lc_deque asg, stg, una;
    kvbm__idset    ids;
} kvbm__lcs;

/* Reserve room for @n more ids (set and @dq). */
kvbm_status kvbm__lcs_reserve(kvbm__lcs *s, kvbm__lc_deque *dq, size_t n);
/* validate_no_duplicates by tentative insertion: add every id to the set; on the first id
 * already present (held, or earlier in @ids) undo and return false with *@dup. Call after
 * kvbm__lcs_reserve(n). */
bool kvbm__lcs_claim(kvbm__lcs *s, const uint64_t *ids, size_t n, uint64_t *dup);
/* Move every entry of @from to the end of @to (@to reserved). */
void kvbm__lcs_move_all(kvbm__lc_deque *from, kvbm__lc_deque *to);
void kvbm__lcs_free(kvbm__lcs *s);

/* ---- errors ----------------------------------------------------------------------- */
/* Record @e (kind + payload) in *@err (if given) and in kvbm_last_error(); returns @st. */
kvbm_status kvbm__seq_fail(kvbm_seq_error *err, const kvbm_seq_error *e, kvbm_status st);
kvbm_status kvbm__seq_fail_simple(kvbm_seq_error *err, kvbm_seq_error_kind kind,
                                  const char *detail, kvbm_status st);
/* A manager call failed with @st: MANAGER kind, message includes kvbm_last_error(). */
kvbm_status kvbm__seq_fail_manager(kvbm_seq_error *err, const char *what, kvbm_status st);
kvbm_status kvbm__seq_block_size_mismatch(kvbm_seq_error *err, size_t expected, size_t actual);

/* ---- objects ------------------------------------------------------------------------ */
struct kvbm_block_seq {
    kvbm_token_seq *ts;
};
/* Length of the view @seq[@begin, @end), @end clamped to the complete blocks. */
static inline size_t kvbm__view_len(const kvbm_block_seq *seq, size_t begin, size_t end)
{
    size_t nb = kvbm_block_seq_num_blocks(seq);
    if (end > nb) end = nb;
    return begin < end ? end - begin : 0;
}
/* The block-completing fast path of complete_and_register_pending: when nothing is
 * staged, stage and register the first min(view length, unassigned) queued blocks
 * (at most 64) with one manager call (kvbm_manager_stage_register_blocks) and append them to
 * the assigned blocks, as kvbm_logical_asg_stage + kvbm_logical_asg_register would.
 * Returns true when all of them were registered (*@registered = their number). False:
 * the caller takes the two-step path for what is left; nothing changed, except after a
 * poisoned store (*@st) the blocks registered before it (*@registered of them) are
 * assigned already. */
bool kvbm__logical_asg_stage_register(kvbm_logical_asg *a, const kvbm_block_seq *seq,
                                      size_t begin, size_t end, kvbm_manager *m,
                                      size_t *registered, kvbm_status *st);
/* Reserve token storage so that @ntok tokens fit without reallocation. */
kvbm_status kvbm__block_seq_reserve(kvbm_block_seq *s, size_t ntok);
kvbm_status kvbm__block_seq_init(kvbm_block_seq *s, const kvbm_token *tokens, size_t n,
                                 uint32_t bs, uint64_t salt, kvbm_seq_error *err);

struct kvbm_ext_asg {
    kvbm__lcs s;
    size_t    offset;
};

struct kvbm_logical_asg {
    kvbm__lcs s;
};

/* RequestSequence internals used by SchedulableSequence. */
typedef struct kvbm__detached {
    uint32_t id;
    kvbm_plh hash;
} kvbm__detached;

struct kvbm_request_seq {
    kvbm_block_seq   seq;
    kvbm_logical_asg asg;
    kvbm__detached  *det;
    size_t           ndet, capdet;
    size_t           generated, max_output, num_input, prefix_matched;
    uint64_t         salt;
};

kvbm_status kvbm__request_seq_init(kvbm_request_seq *r, const kvbm_token *tokens, size_t n,
                                   size_t max_output, uint32_t bs, uint64_t salt,
                                   kvbm_seq_error *err);
void kvbm__request_seq_fini(kvbm_request_seq *r);
/* H7 check for a manager-touching call. */
kvbm_status kvbm__request_check_manager(const kvbm_request_seq *r, kvbm_manager *m,
                                        kvbm_seq_error *err);
/* add_matched_blocks (internal in the reference; tested through this): takes ownership of
 * @matched on KVBM_OK only. KVBM_ERANGE PRECONDITION "matched blocks exceed completed
 * sequence blocks", KVBM_EINVAL SEQUENCE_HASH_MISMATCH / DUPLICATE_ASSIGNED_BLOCK_ID. */
kvbm_status kvbm__request_seq_add_matched_blocks(kvbm_request_seq *r, kvbm_block *const *matched,
                                                 size_t n, size_t *count, kvbm_seq_error *err);

#endif /* KVBM_SEQ_INT_H */
