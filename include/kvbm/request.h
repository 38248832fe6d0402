/* kvbm/request.h - RequestSequence (spec 30 §2.1): the low-level per-request primitive.
 *
 * A request owns its tokens (input first, then generated), the block handles it holds
 * (a kvbm_logical_asg), and the identities of registered blocks it detached. The manager
 * is BORROWED for each call and never stored; it must be the same manager every time and
 * its block size must equal the request's (H7: checked at every manager-touching call ->
 * KVBM_EINVAL BLOCK_SIZE_MISMATCH with both sizes, nothing changed).
 *
 * Block table (R1): detached ++ assigned ++ staged hold positions 0, 1, 2, ... in order;
 * kvbm_request_seq_page_indices() lists detached, assigned, staged, then unassigned ids.
 *
 * Hazards for integrators (also docs/design/sequence.md):
 *  H3  reacquire() registers the non-matched complete blocks at once, before any KV is
 *      recomputed: recompute num_blocks - prefix_matched blocks plus the tail first.
 *  H6  Reject duplication policy: register keys a block by the id actually returned
 *      (decision 7), so page indices never name a slot the manager reset.
 *  Detach: the request keeps mapping positions to detached ids it no longer holds; if the
 *      outside owner drops them and the slot is reused, page_indices() names a stale slot.
 *
 * Threads: single owner (see kvbm/sequence.h). Errors: see kvbm/sequence.h.
 */
#ifndef KVBM_REQUEST_H
#define KVBM_REQUEST_H

#include "kvbm/sequence.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_request_seq kvbm_request_seq;

/**
 * kvbm_request_seq_create() - RequestSequence::new(tokens, max_output_tokens, block_size).
 * @salt: NULL = salt 0 (hashes identical to the reference); otherwise a per-sequence salt
 * (tenant / LoRA isolation, a kvbm extension). Touches no manager. Token storage for
 * n + max_output tokens is reserved up front (no allocation while decoding).
 * Returns KVBM_OK, KVBM_EINVAL (BAD_ARGUMENT: block size 0 or not a power of two <= 1024),
 * KVBM_ERANGE, KVBM_ENOMEM. *@out: caller owns; kvbm_request_seq_destroy().
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_create(const kvbm_token *tokens, size_t n, size_t max_output_tokens,
                        uint32_t block_size, const uint64_t *salt, kvbm_request_seq **out);
/** Release everything (as kvbm_request_seq_release) and free. NULL: no-op. */
KVBM_API void kvbm_request_seq_destroy(kvbm_request_seq *r);

/**
 * kvbm_request_seq_match_and_add_prefix() - match the hashes of every complete block
 * against @m and make the hits the first assigned blocks; prefix_matched += *@count.
 * KVBM_ESTATE PRECONDITION if blocks or detached identities are held; KVBM_EINVAL
 * BLOCK_SIZE_MISMATCH; manager failures pass through (MANAGER). Nothing changes on error.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_match_and_add_prefix(kvbm_request_seq *r, kvbm_manager *m, size_t *count,
                                      kvbm_seq_error *err);

/** Allocate @n blocks (all or nothing) onto the unassigned queue. n == 0: KVBM_OK.
 *  KVBM_EEXHAUSTED (ALLOCATION_FAILED) when the manager has too few; nothing changes. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_allocate_blocks(kvbm_request_seq *r, size_t n, kvbm_manager *m, kvbm_seq_error *err);

/** Pair complete token blocks that have no block yet with queued blocks (FIFO) and stage
 *  them; staged blocks are not visible to matching. *@staged optional. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_stage_pending(kvbm_request_seq *r, size_t *staged, kvbm_seq_error *err);
/** Register every staged block (visible for prefix reuse from now on). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_register_staged(kvbm_request_seq *r, kvbm_manager *m, size_t *registered,
                                 kvbm_seq_error *err);
/** stage_pending then register_staged. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_complete_and_register_pending(kvbm_request_seq *r, kvbm_manager *m,
                                               size_t *registered, kvbm_seq_error *err);
/** LIFO-release queued blocks while more than @keep are queued; returns how many. */
KVBM_API size_t kvbm_request_seq_drop_excess_unassigned(kvbm_request_seq *r, size_t keep);

/**
 * kvbm_request_seq_detach_registered_blocks() - move every assigned handle (in order) to
 * the caller; their (id, hash) stay in the block table as detached identities. Two-call
 * pattern (nothing moves when cap < *n). The caller releases each handle.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_detach_registered_blocks(kvbm_request_seq *r, kvbm_block **out, size_t cap,
                                          size_t *n);

/**
 * kvbm_request_seq_append_token() - append a generated token; *@completed (optional) says
 * whether block *@index (optional) just completed. Stages nothing, allocates nothing.
 * KVBM_ERANGE PRECONDITION "Cannot generate more tokens: reached max_output_tokens limit".
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_append_token(kvbm_request_seq *r, kvbm_token token, bool *completed,
                              size_t *index, kvbm_seq_error *err);

/** Release every held handle (assigned, staged, unassigned); forget detached ids. Tokens
 *  and counters stay. Idempotent. Registered primaries enter the inactive pool in
 *  ascending position order. */
KVBM_API kvbm_status kvbm_request_seq_release(kvbm_request_seq *r);

/**
 * kvbm_request_seq_reacquire() - after release: match the whole current sequence, allocate
 * and register the rest (H3). *@success = false (KVBM_OK) when the manager has too few
 * blocks; then nothing is held. KVBM_ESTATE PRECONDITION if anything is still held.
 * prefix_matched := matched on success, unchanged on failure.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_reacquire(kvbm_request_seq *r, kvbm_manager *m, bool *success, kvbm_seq_error *err);

/** Block table (uint32 ids): detached, assigned, staged, unassigned (two-call pattern). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_request_seq_page_indices(const kvbm_request_seq *r, uint32_t *out, size_t cap, size_t *n);

KVBM_API size_t   kvbm_request_seq_generated_tokens(const kvbm_request_seq *r);
KVBM_API size_t   kvbm_request_seq_max_output_tokens(const kvbm_request_seq *r);
KVBM_API size_t   kvbm_request_seq_num_input_tokens(const kvbm_request_seq *r);
KVBM_API size_t   kvbm_request_seq_total_tokens(const kvbm_request_seq *r);
KVBM_API size_t   kvbm_request_seq_remaining_tokens(const kvbm_request_seq *r);
KVBM_API bool     kvbm_request_seq_is_complete(const kvbm_request_seq *r);
/** Complete token blocks (complete_sequence_blocks). */
KVBM_API size_t   kvbm_request_seq_num_blocks(const kvbm_request_seq *r);
/** Detached + assigned. */
KVBM_API size_t   kvbm_request_seq_assigned_blocks(const kvbm_request_seq *r);
KVBM_API size_t   kvbm_request_seq_detached_blocks(const kvbm_request_seq *r);
KVBM_API size_t   kvbm_request_seq_staged_blocks(const kvbm_request_seq *r);
KVBM_API size_t   kvbm_request_seq_unassigned_blocks(const kvbm_request_seq *r);
KVBM_API size_t   kvbm_request_seq_prefix_matched_blocks(const kvbm_request_seq *r);
/** max(0, total_tokens - prefix_matched * block_size). */
KVBM_API size_t   kvbm_request_seq_new_tokens_for_prefill(const kvbm_request_seq *r);
KVBM_API uint32_t kvbm_request_seq_block_size(const kvbm_request_seq *r);
KVBM_API uint64_t kvbm_request_seq_salt(const kvbm_request_seq *r);
/** Borrowed read access (valid until the next mutation / destruction of @r). */
KVBM_API const kvbm_block_seq   *kvbm_request_seq_sequence(const kvbm_request_seq *r);
KVBM_API const kvbm_logical_asg *kvbm_request_seq_assignments(const kvbm_request_seq *r);
/** "RequestSequence { total_tokens: .., num_blocks: .., ... }" (snprintf rules). */
KVBM_API int kvbm_request_seq_describe(const kvbm_request_seq *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_REQUEST_H */
