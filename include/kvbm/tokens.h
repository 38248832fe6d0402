/* kvbm/tokens.h - token hashing compatible with Dynamo's dynamo-tokens (spec 20 §1).
 *
 * Hashes (spec 20 §1.2-1.4), for block i of a token sequence with salt S:
 *   block_hash[i] = XXH3_64(LE32(tokens of block i), seed = S)
 *   seq64[0]      = block_hash[0]
 *   seq64[i]      = XXH3_64(LE64(seq64[i-1]) || LE64(block_hash[i]), seed = 1337)
 *   plh[i]        = kvbm_plh_new(seq64[i], i > 0, seq64[i-1], i)    (kvbm/plh.h)
 * Tokens are serialised little-endian on every host.
 *
 * Objects:
 *   kvbm_token_block    an immutable complete block: tokens, salt, hashes, PLH, position.
 *   kvbm_partial_block  the block being filled (push/pop/commit).
 *   kvbm_token_seq      TokenBlockSequence: complete blocks + one partial block.
 * Plus allocation-free bulk hashers (kvbm_tokens_hash_blocks) and the Dynamo KV-router
 * hashes (spec 20 §4.1.4, §4.3.3).
 *
 * Block sizes: a power of two in [1, KVBM_TOKENS_MAX_BLOCK_SIZE] everywhere except the
 * router hasher, which accepts any non-zero size (the router does). Bad input (NULL, zero
 * or invalid block size, position past the 24-bit PLH limit) returns a status, records a
 * message for kvbm_last_error() and changes nothing.
 *
 * Threads: objects are not internally synchronised; one object may be read concurrently
 * by many threads, but mutated by one thread with no concurrent readers. Free functions
 * are pure and thread-safe.
 */
#ifndef KVBM_TOKENS_H
#define KVBM_TOKENS_H

#include "kvbm/common.h"
#include "kvbm/plh.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVBM_TOKENS_MAX_BLOCK_SIZE 1024u
#define KVBM_ROUTER_XXH3_SEED      UINT64_C(1337)

typedef struct kvbm_token_block   kvbm_token_block;
typedef struct kvbm_partial_block kvbm_partial_block;
typedef struct kvbm_token_seq     kvbm_token_seq;

/* ---- raw hashing ------------------------------------------------------------------ */

/** kvbm_tokens_block_hash() - XXH3_64(LE32(@tokens[0..@n)), @salt). @tokens may be NULL
 *  only when @n is 0. Pure, any thread, never allocates. */
KVBM_API uint64_t kvbm_tokens_block_hash(const uint32_t *tokens, size_t n, uint64_t salt);

/** kvbm_tokens_chain_hash() - one chain step: XXH3_64(LE64(@parent_seq64) ||
 *  LE64(@child_block_hash), KVBM_CHAIN_XXH3_SEED). Pure, any thread. */
KVBM_API uint64_t kvbm_tokens_chain_hash(uint64_t parent_seq64, uint64_t child_block_hash);

/**
 * kvbm_tokens_hash_blocks() - hash every complete block of a token array without building
 * a sequence object (the trailing partial block, if any, is ignored).
 * @tokens, @n:     borrowed for the call; n >= 1.
 * @block_size:     power of two in [1, 1024].
 * @salt:           seed of the block hashes.
 * @parent:         NULL: the first block is the root (position 0). Otherwise the first
 *                  block continues @parent's chain at position(parent) + 1.
 * @block_hashes, @seq64, @plhs: each optional (NULL = not wanted); when given, arrays of at
 *                  least @cap entries, filled with all n / block_size blocks.
 * @n_blocks:       out: number of complete blocks, n / block_size (may be NULL).
 * Never allocates. Returns KVBM_OK, KVBM_EINVAL (NULL tokens, n = 0, bad block size, an
 * output array given with cap < n / block_size: nothing written), KVBM_ERANGE (a position
 * would exceed KVBM_PLH_MAX_POSITION: nothing written).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_tokens_hash_blocks(const uint32_t *tokens, size_t n, uint32_t block_size, uint64_t salt,
                        const kvbm_plh *parent, uint64_t *block_hashes, uint64_t *seq64,
                        kvbm_plh *plhs, size_t cap, size_t *n_blocks);

/* ---- token blocks ----------------------------------------------------------------- */

/**
 * kvbm_token_block_create() - a standalone complete block (a copy of @tokens).
 * @tokens, @n:  borrowed; n must be a power of two in [1, 1024] (the block size).
 * @salt:        block-hash seed.
 * @parent:      NULL for a root block (position 0); else the previous block of the same
 *               sequence (the new block is at parent position + 1 and chains from it).
 * @out:         new object owned by the caller; free with kvbm_token_block_destroy().
 * Returns KVBM_OK, KVBM_EINVAL, KVBM_ERANGE (position cap), KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_token_block_create(const uint32_t *tokens, uint32_t n, uint64_t salt,
                        const kvbm_token_block *parent, kvbm_token_block **out);

/** kvbm_token_block_destroy() - free a block from kvbm_token_block_create() or
 *  kvbm_partial_block_commit(). NULL: no-op. KVBM_EINVAL for a block borrowed from a
 *  kvbm_token_seq (those belong to the sequence). */
KVBM_API kvbm_status kvbm_token_block_destroy(kvbm_token_block *tb);

/** The block's PLH (kvbm's sequence hash). Required by kvbm_mutable_complete(). */
KVBM_API kvbm_plh kvbm_token_block_plh(const kvbm_token_block *tb);
/** The block's token count (= its block size). Required by kvbm_mutable_complete(). */
KVBM_API uint32_t kvbm_token_block_size(const kvbm_token_block *tb);
/** Borrowed pointer to the block's kvbm_token_block_size() tokens; valid as long as @tb. */
KVBM_API const uint32_t *kvbm_token_block_tokens(const kvbm_token_block *tb);
KVBM_API uint64_t kvbm_token_block_salt(const kvbm_token_block *tb);
KVBM_API uint64_t kvbm_token_block_hash(const kvbm_token_block *tb);     /* local block hash */
KVBM_API uint64_t kvbm_token_block_seq_hash(const kvbm_token_block *tb); /* chained seq64 */
KVBM_API uint64_t kvbm_token_block_position(const kvbm_token_block *tb);
/** Parent seq64; returns false (and leaves *@parent alone) for a root block. */
KVBM_API bool kvbm_token_block_parent_seq_hash(const kvbm_token_block *tb, uint64_t *parent);

/* ---- partial block ---------------------------------------------------------------- */

/** kvbm_partial_block_create() - empty root partial block (position 0, no parent).
 *  @block_size: power of two in [1, 1024]. Free with kvbm_partial_block_destroy(). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_partial_block_create(uint32_t block_size, uint64_t salt, kvbm_partial_block **out);

/** kvbm_token_block_next() - empty partial block that follows @tb: block size = @tb's token
 *  count, same salt, parent = @tb's seq64, position + 1. KVBM_ERANGE at the position cap. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_token_block_next(const kvbm_token_block *tb, kvbm_partial_block **out);

/** NULL: no-op. */
KVBM_API void kvbm_partial_block_destroy(kvbm_partial_block *pb);

/** kvbm_partial_block_push_tokens() - append as many of @tokens as fit; *@consumed (may be
 *  NULL) receives how many were taken (0 when already full; n - consumed are left over). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_partial_block_push_tokens(kvbm_partial_block *pb, const uint32_t *tokens, size_t n,
                               size_t *consumed);
/** Append one token; KVBM_EFULL when full (unchanged). */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_partial_block_push_token(kvbm_partial_block *pb, uint32_t token);
/** Remove the last @n tokens; KVBM_EINSUFFICIENT if @n > len (unchanged). */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_partial_block_pop_tokens(kvbm_partial_block *pb, size_t n);
/** Remove the last token into *@token (may be NULL); KVBM_EEMPTY when empty. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_partial_block_pop_token(kvbm_partial_block *pb, uint32_t *token);
/**
 * kvbm_partial_block_commit() - turn a full partial block into a kvbm_token_block (caller
 * owns it; kvbm_token_block_destroy()); the partial block then becomes the next one: empty,
 * parent := the new block's seq64, position + 1.
 * Returns KVBM_EINCOMPLETE unless len == block size (unchanged), KVBM_ERANGE when the next
 * position would pass the PLH cap, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_partial_block_commit(kvbm_partial_block *pb, kvbm_token_block **out);
KVBM_API size_t   kvbm_partial_block_len(const kvbm_partial_block *pb);
KVBM_API size_t   kvbm_partial_block_remaining(const kvbm_partial_block *pb);
KVBM_API uint32_t kvbm_partial_block_block_size(const kvbm_partial_block *pb);
KVBM_API uint64_t kvbm_partial_block_position(const kvbm_partial_block *pb);
/** Borrowed; valid until the next mutation of @pb. *@n receives the length. */
KVBM_API const uint32_t *kvbm_partial_block_tokens(const kvbm_partial_block *pb, size_t *n);
/** Parent seq64 of the block being filled; false for the root. */
KVBM_API bool kvbm_partial_block_parent_seq_hash(const kvbm_partial_block *pb, uint64_t *parent);

/* ---- token block sequence --------------------------------------------------------- */

/**
 * kvbm_token_seq_create() - TokenBlockSequence::new(tokens, block_size, salt).
 * @tokens, @n: initial tokens (copied); @tokens may be NULL when @n is 0.
 * @block_size: power of two in [1, 1024].  @salt: block-hash seed (the reference's
 * "no salt" is 0).  Every complete chunk becomes a block (positions 0, 1, ...); the
 * remainder is the partial block.  @out: caller owns; kvbm_token_seq_destroy().
 * Returns KVBM_OK, KVBM_EINVAL, KVBM_ERANGE (more than 2^24 blocks), KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_token_seq_create(const uint32_t *tokens, size_t n, uint32_t block_size, uint64_t salt,
                      kvbm_token_seq **out);

/** NULL: no-op. Invalidates every pointer borrowed from @seq. */
KVBM_API void kvbm_token_seq_destroy(kvbm_token_seq *seq);

/**
 * kvbm_token_seq_extend() - append @n tokens, committing each block as it fills.
 * On KVBM_OK the blocks completed by this call are [*@first, *@end) (both optional; an
 * empty range, first == end, means none, e.g. when @n is 0). Afterwards the partial block
 * always holds fewer than block_size tokens. On error nothing changes (KVBM_EINVAL for NULL
 * with n > 0, KVBM_ERANGE at the position cap, KVBM_ENOMEM). @tokens may point into this
 * sequence's own tokens (kvbm_token_seq_tokens()). Borrowed block/token pointers are
 * invalidated.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_token_seq_extend(kvbm_token_seq *seq, const uint32_t *tokens, size_t n, size_t *first,
                      size_t *end);

/** kvbm_token_seq_append() - extend with one token; *@completed (optional) says whether a
 *  block was completed, and then *@index (optional) is its index. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_token_seq_append(kvbm_token_seq *seq, uint32_t token, bool *completed, size_t *index);

/** kvbm_token_seq_truncate() - keep the first @len tokens (no-op if len >= total). Earlier
 *  blocks keep their exact hashes. Never fails for a valid @seq. */
KVBM_API kvbm_status kvbm_token_seq_truncate(kvbm_token_seq *seq, size_t len);

/** kvbm_token_seq_unwind() - drop the last @count tokens; KVBM_EINSUFFICIENT if
 *  count > total (unchanged); count == total empties the sequence. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_token_seq_unwind(kvbm_token_seq *seq, size_t count);

/** kvbm_token_seq_pop() - remove the last token into *@token (optional); KVBM_EEMPTY when
 *  the sequence is empty. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_token_seq_pop(kvbm_token_seq *seq, uint32_t *token);

/** kvbm_token_seq_reset() - drop all tokens; same salt and block size; keeps capacity. */
KVBM_API kvbm_status kvbm_token_seq_reset(kvbm_token_seq *seq);

KVBM_API size_t   kvbm_token_seq_total_tokens(const kvbm_token_seq *seq);
KVBM_API size_t   kvbm_token_seq_block_count(const kvbm_token_seq *seq);
KVBM_API uint32_t kvbm_token_seq_block_size(const kvbm_token_seq *seq);
KVBM_API uint64_t kvbm_token_seq_salt(const kvbm_token_seq *seq);
/** Complete block @i (NULL when out of range). Borrowed: valid until the next mutation or
 *  destruction of @seq; must not be passed to kvbm_token_block_destroy(). */
KVBM_API const kvbm_token_block *kvbm_token_seq_block(const kvbm_token_seq *seq, size_t i);
/** Last complete block, or NULL when there is none. Borrowed as above. */
KVBM_API const kvbm_token_block *kvbm_token_seq_last_block(const kvbm_token_seq *seq);
/** Tokens of the partial (current) block; borrowed as above. *@n receives the count. */
KVBM_API const uint32_t *kvbm_token_seq_partial_tokens(const kvbm_token_seq *seq, size_t *n);
/** Position the partial block will have when committed (= block count). */
KVBM_API uint64_t kvbm_token_seq_partial_position(const kvbm_token_seq *seq);
/** Parent seq64 of the partial block (= last block's seq64); false when there is no block. */
KVBM_API bool kvbm_token_seq_partial_parent(const kvbm_token_seq *seq, uint64_t *parent);
/** All tokens [0, total); borrowed as above. */
KVBM_API const uint32_t *kvbm_token_seq_tokens(const kvbm_token_seq *seq);

/**
 * kvbm_token_seq_tokens_at() - copy tokens [@start, @end) into @out (cap entries).
 * An empty, reversed or out-of-range request yields *@n = 0 and KVBM_OK (the reference
 * returns an empty list). KVBM_EINVAL if @out is too small for a valid range.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_token_seq_tokens_at(const kvbm_token_seq *seq, size_t start, size_t end, uint32_t *out,
                         size_t cap, size_t *n);

/** Copy the PLHs of all complete blocks (root first) into @out (cap >= block count, else
 *  KVBM_EINVAL). *@n receives the count. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_token_seq_plhs(const kvbm_token_seq *seq, kvbm_plh *out, size_t cap, size_t *n);

/* ---- Dynamo KV router hashes (spec 20 §4.1.4, §4.3.3) ------------------------------ */

/** Multimodal objects of one block: their mm_hash values (any order; hashed sorted). */
typedef struct kvbm_router_block_mm {
    const uint64_t *mm_hashes;
    size_t          n_mm_hashes; /* 0: no multimodal info for this block */
} kvbm_router_block_mm;

/** kvbm_router_seed() - tokens_hash seed: 1337, or 1337 + XXH3_64(lora_name, 0) (wrapping)
 *  for a non-empty @lora_name (NULL or "" = no LoRA). Also the kv-hashing request salt. */
KVBM_API uint64_t kvbm_router_seed(const char *lora_name);

/**
 * kvbm_router_tokens_hashes() - compute_block_hash_for_seq: one tokens_hash per complete
 * window. stride = @block_size, window = block_size (+1 when @is_eagle); trailing partial
 * tokens are ignored. Block i's bytes are LE32(window) followed, when @mm has an entry for
 * block i with objects, by LE64 of its mm hashes in ascending order.
 * @mm, @n_mm: optional per-block multimodal info indexed by block (blocks >= n_mm: none).
 * @out, @cap: caller array; *@n_out receives the window count.
 * Returns KVBM_OK (also with 0 windows), KVBM_EINVAL (block_size 0, NULL with n > 0, cap too
 * small: nothing written), KVBM_ENOMEM (more than 64 mm objects in a block and no memory).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_tokens_hashes(const uint32_t *tokens, size_t n, uint32_t block_size,
                          const char *lora_name, bool is_eagle, const kvbm_router_block_mm *mm,
                          size_t n_mm, uint64_t *out, size_t cap, size_t *n_out);

/** kvbm_router_seq_hashes() - router sequence hashes: out[0] = h[0],
 *  out[i] = XXH3_64(LE64(out[i-1]) || LE64(h[i]), 1337). @out may alias @h. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_seq_hashes(const uint64_t *h, size_t n, uint64_t *out);

/** Router projection of a PLH (spec 20 §4.3.3): its current hash masked to the parent
 *  fragment width of position + 1. */
KVBM_API uint64_t kvbm_plh_router_block_hash(kvbm_plh h);
/** Router parent hash: false at position 0, else the stored parent fragment. */
KVBM_API bool kvbm_plh_router_parent_hash(kvbm_plh h, uint64_t *parent);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_TOKENS_H */
