/* kvbm/sequence.h - the sequence layer (spec 30 §1): BlockSequence, the identity-level
 * ExternalBlockAssignments with its zip planners, the guard-level LogicalBlockAssignments,
 * and the error record shared by the whole sequence layer (also kvbm/request.h and
 * kvbm/schedulable.h).
 *
 * Errors: every fallible function returns a kvbm_status and takes an optional
 * kvbm_seq_error *err (NULL = not wanted). On failure err->kind and the payload fields of
 * that kind are set, kvbm_last_error() holds the same text as kvbm_seq_error_format()
 * (the reference's Display strings), and the object is unchanged (the one documented
 * exception is kvbm_logical_asg_stage, which keeps the blocks staged before the failure).
 * Variable-length outputs use the two-call pattern: *n always receives the required count;
 * when cap < *n the call returns KVBM_ERANGE and writes or moves nothing.
 *
 * Threads (spec 30 §6.6): these objects are single-owner and not internally synchronised.
 * Concurrent read-only accessors are fine; a mutator needs exclusive access; an object may
 * move between threads given a happens-before edge. Manager calls made on the caller's
 * behalf take the store lock internally; no kvbm lock is held when a function returns.
 */
#ifndef KVBM_SEQUENCE_H
#define KVBM_SEQUENCE_H

#include "kvbm/common.h"
#include "kvbm/plh.h"
#include "kvbm/tokens.h"
#include "kvbm/manager.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t kvbm_token;

/** Half-open range [start, end). */
typedef struct kvbm_range {
    size_t start, end;
} kvbm_range;

/* ---- errors ------------------------------------------------------------------------ */

typedef enum kvbm_seq_error_kind {
    KVBM_SEQERR_NONE = 0,
    KVBM_SEQERR_ORDERING_VIOLATION,          /* known_id new_id known_index first_new_index */
    KVBM_SEQERR_POSITION_MISMATCH,           /* expected actual block_id */
    KVBM_SEQERR_DUPLICATE_BLOCK_ID,          /* block_id */
    KVBM_SEQERR_DUPLICATE_ASSIGNED_BLOCK_ID, /* block_id */
    KVBM_SEQERR_SEQUENCE_HASH_MISMATCH,      /* position expected_hash actual_hash */
    KVBM_SEQERR_BLOCK_SIZE_MISMATCH,         /* expected actual */
    KVBM_SEQERR_TOKEN_EXTENSION,             /* token_status */
    KVBM_SEQERR_NOT_IDLE,                    /* state */
    KVBM_SEQERR_PREFILL_OVERRUN,             /* position num_tokens num_input_tokens */
    KVBM_SEQERR_PREFILL_COMPLETE,
    KVBM_SEQERR_PREFILL_NOT_COMPLETE,        /* position num_input_tokens */
    KVBM_SEQERR_ALLOCATION_FAILED,           /* needed */
    KVBM_SEQERR_GENERATION_COMPLETE,         /* generated max_output */
    KVBM_SEQERR_WRONG_DANGLING_COUNT,        /* expected (1) actual */
    KVBM_SEQERR_WRONG_STATE,                 /* expected_state state */
    KVBM_SEQERR_TOKEN_ON_NON_FINAL_CHUNK,
    KVBM_SEQERR_ACCEPTED_EXCEEDS_SCHEDULED,  /* accepted scheduled */
    KVBM_SEQERR_MISSING_TOKEN_ON_FINAL_CHUNK,
    KVBM_SEQERR_APPEND_EXCEEDS_REMAINING,    /* requested remaining */
    KVBM_SEQERR_MISSING_FIELD,               /* field */
    KVBM_SEQERR_BAD_ARGUMENT,                /* detail */
    KVBM_SEQERR_PRECONDITION,                /* detail (a reference panic, see §6.4) */
    KVBM_SEQERR_MANAGER                      /* token_status: a manager call failed */
} kvbm_seq_error_kind;

/** State of a SchedulableSequence (kvbm/schedulable.h); part of two error payloads. */
typedef enum kvbm_sched_state_kind {
    KVBM_SCHED_IDLE = 0,
    KVBM_SCHED_PREFILL,     /* PrefillScheduled{num_tokens, blocks_allocated} */
    KVBM_SCHED_DECODE,      /* DecodeScheduled{blocks_allocated} */
    KVBM_SCHED_SPECULATIVE  /* SpeculativeScheduled{num_tokens, blocks_allocated} */
} kvbm_sched_state_kind;

typedef struct kvbm_sched_state {
    kvbm_sched_state_kind kind;
    size_t num_tokens;       /* 0 for IDLE and DECODE */
    size_t blocks_allocated; /* blocks the schedule call allocated (a revert gives them back) */
} kvbm_sched_state;

/** Error record: kind plus the payload of that kind (other fields are 0/NULL). */
typedef struct kvbm_seq_error {
    kvbm_seq_error_kind kind;
    uint64_t    block_id, known_id, new_id;
    size_t      known_index, first_new_index;
    size_t      expected, actual;       /* positions, block sizes, dangling counts */
    size_t      position, num_tokens, num_input_tokens, needed;
    size_t      generated, max_output, accepted, scheduled, requested, remaining;
    kvbm_plh    expected_hash, actual_hash;
    const char *expected_state;         /* static: "PrefillScheduled", "Idle", ... */
    kvbm_sched_state state;
    const char *field;                  /* static: MISSING_FIELD */
    const char *detail;                 /* static: BAD_ARGUMENT, PRECONDITION */
    kvbm_status token_status;           /* TOKEN_EXTENSION, MANAGER */
} kvbm_seq_error;

/** Name of a kind, e.g. "ORDERING_VIOLATION"; static, never NULL. */
KVBM_API const char *kvbm_seq_error_kind_name(kvbm_seq_error_kind k);

/**
 * kvbm_seq_error_format() - the reference's Display text of @err (spec 30 §1.2, §1.6.3,
 * §2.2.5), e.g. "duplicate block_id 7 already present", into @buf (snprintf rules).
 * Returns the length snprintf would have written. Pure, any thread.
 */
KVBM_API int kvbm_seq_error_format(const kvbm_seq_error *err, char *buf, size_t cap);

/** Debug rendering of a state: "Idle", "PrefillScheduled { num_tokens: 7, blocks_allocated: 2 }". */
KVBM_API int kvbm_sched_state_format(kvbm_sched_state s, char *buf, size_t cap);

/* ---- BlockSequence (§1.1) ------------------------------------------------------------ */

typedef struct kvbm_block_seq kvbm_block_seq;

/**
 * kvbm_block_seq_create() - BlockSequence::new(tokens, block_size, salt).
 * @tokens, @n: copied (@tokens may be NULL when n == 0). @block_size: power of two in
 * [1, 1024] (the token library's rule; 0 is the reference's panic). @salt: NULL = no salt
 * (hashes identical to salt 0). *@out: caller owns; kvbm_block_seq_destroy().
 * Returns KVBM_OK, KVBM_EINVAL (BAD_ARGUMENT), KVBM_ERANGE (PLH position cap), KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_block_seq_create(const kvbm_token *tokens, size_t n, uint32_t block_size,
                      const uint64_t *salt, kvbm_block_seq **out);
/** NULL: no-op. Invalidates every pointer borrowed from @s. */
KVBM_API void kvbm_block_seq_destroy(kvbm_block_seq *s);

KVBM_API size_t   kvbm_block_seq_num_blocks(const kvbm_block_seq *s);
KVBM_API uint32_t kvbm_block_seq_block_size(const kvbm_block_seq *s);
KVBM_API size_t   kvbm_block_seq_total_tokens(const kvbm_block_seq *s);
/** Complete block @i, or NULL past the end. Borrowed until the next mutation of @s. */
KVBM_API const kvbm_token_block *kvbm_block_seq_block(const kvbm_block_seq *s, size_t i);
/** The underlying token sequence (read access; borrowed for @s's lifetime). */
KVBM_API const kvbm_token_seq *kvbm_block_seq_tokens(const kvbm_block_seq *s);

/** all_sequence_hashes(): the PLH of every complete block into @out (two-call pattern). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_block_seq_all_hashes(const kvbm_block_seq *s, kvbm_plh *out, size_t cap, size_t *n);

/**
 * kvbm_block_seq_extend_tokens() - append @n tokens. *@completed = whether any block
 * completed; then [*@first, *@end) are the completed block indices (all three optional).
 * A token-library error is TOKEN_EXTENSION (status passed through); nothing changes.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_block_seq_extend_tokens(kvbm_block_seq *s, const kvbm_token *tokens, size_t n,
                             bool *completed, size_t *first, size_t *end, kvbm_seq_error *err);

/** kvbm_block_seq_append_token() - append one token; *@completed / *@index as Some(i). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_block_seq_append_token(kvbm_block_seq *s, kvbm_token token, bool *completed,
                            size_t *index, kvbm_seq_error *err);

/* ---- ExternalBlockAssignments (§1.3-1.4) ---------------------------------------------- */

/* Identity-level three-phase store (assigned / staged / unassigned) of plain block ids
 * (any uint64_t) and hashes, for blocks owned elsewhere. It never touches a manager. */
typedef struct kvbm_ext_asg kvbm_ext_asg;

/** New empty tracker covering positions from @offset. KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_ext_asg_create(size_t offset, kvbm_ext_asg **out);
KVBM_API void kvbm_ext_asg_destroy(kvbm_ext_asg *a); /* NULL: no-op */

KVBM_API size_t kvbm_ext_asg_offset(const kvbm_ext_asg *a);
KVBM_API size_t kvbm_ext_asg_assigned_count(const kvbm_ext_asg *a);
KVBM_API size_t kvbm_ext_asg_staged_count(const kvbm_ext_asg *a);
KVBM_API size_t kvbm_ext_asg_unassigned_count(const kvbm_ext_asg *a);
/** offset + assigned + staged. */
KVBM_API size_t kvbm_ext_asg_next_position(const kvbm_ext_asg *a);
KVBM_API kvbm_range kvbm_ext_asg_assigned_positions(const kvbm_ext_asg *a);
KVBM_API kvbm_range kvbm_ext_asg_staged_positions(const kvbm_ext_asg *a);
KVBM_API kvbm_range kvbm_ext_asg_pending_positions(const kvbm_ext_asg *a);
KVBM_API bool kvbm_ext_asg_contains(const kvbm_ext_asg *a, uint64_t id);

/** Index access in insertion order (also the iterators); false when out of range.
 *  @id / @hash optional. */
KVBM_API bool kvbm_ext_asg_get_assigned(const kvbm_ext_asg *a, size_t i, uint64_t *id, kvbm_plh *hash);
KVBM_API bool kvbm_ext_asg_get_staged(const kvbm_ext_asg *a, size_t i, uint64_t *id, kvbm_plh *hash);
KVBM_API bool kvbm_ext_asg_get_unassigned(const kvbm_ext_asg *a, size_t i, uint64_t *id);
/** get_assigned(p - offset); false if p < offset or past the assigned range. */
KVBM_API bool kvbm_ext_asg_get_at_position(const kvbm_ext_asg *a, size_t p, uint64_t *id, kvbm_plh *hash);
/** The queued id that will get position @p; false outside pending_positions(). */
KVBM_API bool kvbm_ext_asg_get_pending_at_position(const kvbm_ext_asg *a, size_t p, uint64_t *id);

/**
 * kvbm_ext_asg_extend_block_ids() - @ids is the full ordered id list given so far: known
 * ids (any order, repeats allowed) must all precede the first new id; new ids are queued
 * FIFO. Checked before applied: KVBM_EINVAL ORDERING_VIOLATION or DUPLICATE_BLOCK_ID (a
 * new id twice), first failure in list order; KVBM_ENOMEM. Nothing changes on error.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_ext_asg_extend_block_ids(kvbm_ext_asg *a, const uint64_t *ids, size_t n, kvbm_seq_error *err);

/**
 * kvbm_ext_asg_extend_assigned() - append known (id, hash) pairs to assigned (cache hits).
 * Positions and the staged set are not checked (caller's responsibility, as in the
 * reference). KVBM_EINVAL DUPLICATE_BLOCK_ID (first id already known or repeated), nothing
 * changed. *@count (optional) = n on success.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_ext_asg_extend_assigned(kvbm_ext_asg *a, const uint64_t *ids, const kvbm_plh *hashes,
                             size_t n, size_t *count, kvbm_seq_error *err);

/**
 * kvbm_ext_asg_stage_pending() - pair queued ids FIFO with the token blocks of the view
 * @seq[@begin, @end) - view element k is block begin + k and must be at position k (a view
 * starting at 0). Stages min(view length - next_position, queued) blocks; *@range (optional)
 * = the new indices in the staged list. KVBM_EINVAL POSITION_MISMATCH (nothing changed).
 * A view shorter than next_position() stages nothing.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_ext_asg_stage_pending(kvbm_ext_asg *a, const kvbm_block_seq *seq, size_t begin, size_t end,
                           kvbm_range *range, kvbm_seq_error *err);

/** Move every staged entry to assigned; returns the new assigned indices. Cannot fail. */
KVBM_API kvbm_range kvbm_ext_asg_commit_staged(kvbm_ext_asg *a);

/** stage_pending then commit_staged; *@range = the commit range. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_ext_asg_assign_pending(kvbm_ext_asg *a, const kvbm_block_seq *seq, size_t begin, size_t end,
                            kvbm_range *range, kvbm_seq_error *err);

/** Empty all three lists; the offset is kept. */
KVBM_API void kvbm_ext_asg_clear(kvbm_ext_asg *a);

/** Remove and return the staged pairs in order (two-call pattern; @ids/@hashes may be NULL
 *  when cap is 0). The ids become unknown again. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_ext_asg_take_staged(kvbm_ext_asg *a, uint64_t *ids, kvbm_plh *hashes, size_t cap, size_t *n);

/** "ExternalBlockAssignments { assigned_count: A, staged_count: S, unassigned_count: U, offset: O }". */
KVBM_API int kvbm_ext_asg_describe(const kvbm_ext_asg *a, char *buf, size_t cap);

/* ---- zip planners (§1.5) --------------------------------------------------------------- */

typedef struct kvbm_zip_entry {
    size_t   position;
    uint64_t first;  /* id in the first tracker (the source) */
    uint64_t second; /* id in the second tracker (the destination) */
} kvbm_zip_entry;

/** Positions in both trackers' assigned ranges, ascending (two-call pattern). Pure. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_zip_assigned(const kvbm_ext_asg *a, const kvbm_ext_asg *b, kvbm_zip_entry *out, size_t cap,
                  size_t *n);
/** Positions in @src's assigned range and @dst's pending range: the onboard/offload plan. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_zip_assigned_pending(const kvbm_ext_asg *src, const kvbm_ext_asg *dst, kvbm_zip_entry *out,
                          size_t cap, size_t *n);

/* ---- LogicalBlockAssignments (§1.6) ------------------------------------------------------ */

/* The same three phases holding the block handles themselves: unassigned = kvbm_mutable,
 * staged = kvbm_complete, assigned = kvbm_block, keyed by block id. Destroying (or
 * clearing) releases assigned front to back, then staged, then unassigned - the order in
 * which registered blocks enter the inactive pool (the prefix root first). */
typedef struct kvbm_logical_asg kvbm_logical_asg;

KVBM_API KVBM_NODISCARD kvbm_status kvbm_logical_asg_create(kvbm_logical_asg **out);
/** clear() then free. NULL: no-op. */
KVBM_API void kvbm_logical_asg_destroy(kvbm_logical_asg *a);

KVBM_API size_t kvbm_logical_asg_assigned_count(const kvbm_logical_asg *a);
KVBM_API size_t kvbm_logical_asg_staged_count(const kvbm_logical_asg *a);
KVBM_API size_t kvbm_logical_asg_unassigned_count(const kvbm_logical_asg *a);
KVBM_API bool   kvbm_logical_asg_is_empty(const kvbm_logical_asg *a);
KVBM_API bool   kvbm_logical_asg_contains(const kvbm_logical_asg *a, uint32_t id);
/** Index access; the handles are borrowed (valid while they stay in the tracker). */
KVBM_API bool kvbm_logical_asg_get_assigned(const kvbm_logical_asg *a, size_t i, uint32_t *id,
                                            kvbm_block **block);
KVBM_API bool kvbm_logical_asg_get_staged(const kvbm_logical_asg *a, size_t i, uint32_t *id,
                                          kvbm_complete **block);
KVBM_API bool kvbm_logical_asg_get_unassigned(const kvbm_logical_asg *a, size_t i, uint32_t *id,
                                              kvbm_mutable **block);
/** Ids: assigned, then staged, then unassigned (two-call pattern). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_all_block_ids(const kvbm_logical_asg *a, uint32_t *out, size_t cap, size_t *n);

/**
 * kvbm_logical_asg_extend_blocks() - queue mutable blocks (takes ownership of ALL on
 * KVBM_OK, of NONE on error). KVBM_EINVAL DUPLICATE_BLOCK_ID (an id already held or
 * repeated; the caller still owns its array), KVBM_EINVAL for a NULL handle, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_extend_blocks(kvbm_logical_asg *a, kvbm_mutable *const *blocks, size_t n,
                               size_t *count, kvbm_seq_error *err);
/** Append registered blocks (e.g. match results) to assigned; same ownership and checks,
 *  kind DUPLICATE_ASSIGNED_BLOCK_ID. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_extend_assigned(kvbm_logical_asg *a, kvbm_block *const *blocks, size_t n,
                                 size_t *count, kvbm_seq_error *err);

/**
 * kvbm_logical_asg_stage() - complete the first min(view length, unassigned) queued blocks
 * with the token blocks of the RELATIVE, unchecked view @seq[@begin, @end) (element k goes
 * to the k-th queued block). *@staged (optional) = blocks staged by this call.
 * A token block whose size differs from the block's: KVBM_EINVAL BLOCK_SIZE_MISMATCH
 * (expected = block's size, actual = token block's); the blocks staged before it STAY
 * staged (*@staged counts them), the failed block - already removed from the queue - is
 * handed to the caller through *@failed_out (must be released; NULL = released here), the
 * rest stay queued. Other failures (KVBM_ENOMEM, KVBM_EPOISONED) change nothing.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_stage(kvbm_logical_asg *a, const kvbm_block_seq *seq, size_t begin, size_t end,
                       size_t *staged, kvbm_mutable **failed_out, kvbm_seq_error *err);

/**
 * kvbm_logical_asg_register() - register every staged block with @m (FIFO) and append the
 * returned immutable blocks to assigned. Decision 7: the entry is keyed by the id of the
 * block actually returned (under the Reject policy the existing primary, not the staged
 * slot, which the manager resets). *@n (optional) = blocks registered. Batches of up to 64
 * blocks per store-lock acquisition. KVBM_ENOMEM / KVBM_EPOISONED / KVBM_EINVAL (foreign
 * blocks) from the manager leave the staged blocks staged.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_register(kvbm_logical_asg *a, kvbm_manager *m, size_t *n);

/** LIFO removal of one queued block into *@out (caller owns); KVBM_EEMPTY when none. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_pop_last_unassigned(kvbm_logical_asg *a, uint32_t *id, kvbm_mutable **out);

/** Release every handle (assigned in order, then staged, then unassigned). */
KVBM_API void kvbm_logical_asg_clear(kvbm_logical_asg *a);

/** Move all (id, handle) pairs of one list out, in order (two-call pattern; nothing moves
 *  when cap < *n). The caller releases each handle. @ids may be NULL. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_take_assigned(kvbm_logical_asg *a, uint32_t *ids, kvbm_block **out, size_t cap, size_t *n);
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_take_staged(kvbm_logical_asg *a, uint32_t *ids, kvbm_complete **out, size_t cap, size_t *n);
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_logical_asg_take_unassigned(kvbm_logical_asg *a, uint32_t *ids, kvbm_mutable **out, size_t cap, size_t *n);

/** "LogicalBlockAssignments { assigned_count: A, staged_count: S, unassigned_count: U }". */
KVBM_API int kvbm_logical_asg_describe(const kvbm_logical_asg *a, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_SEQUENCE_H */
