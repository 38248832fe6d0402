/* src/tokens/tokens_int.h - hashing primitives shared by the tokens module (not installed).
 *
 * The two hash steps of dynamo-tokens (spec 20 §1.2-1.4):
 *   block hash  = XXH3_64(LE32(tokens), seed = salt)
 *   chain step  = XXH3_64(LE64(parent seq64) || LE64(child block hash), seed = 1337)
 * Both are allocation-free. On little-endian hosts the token array is hashed in place (its
 * memory already is the LE32 byte string); on big-endian hosts tokens are serialised through
 * a small stack buffer into an XXH3 streaming state.
 */
#ifndef KVBM_TOKENS_INT_H
#define KVBM_TOKENS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kvbm/plh.h"
#include "kvbm/tokens.h"

/* XXH3_64(LE32(tokens[0..n)), seed). n may be 0 (tokens may then be NULL). */
uint64_t kvbm__hash_tokens(const uint32_t *tokens, size_t n, uint64_t seed);

/* XXH3_64(LE32(tokens[0..n)) || LE64(extra[0..m)), seed): the router's multimodal form. */
uint64_t kvbm__hash_tokens_extra(const uint32_t *tokens, size_t n, const uint64_t *extra,
                                 size_t m, uint64_t seed);

/* XXH3_64(LE64(parent) || LE64(child_block_hash), KVBM_CHAIN_XXH3_SEED). */
uint64_t kvbm__chain_hash(uint64_t parent, uint64_t child_block_hash);

/* The bulk chain of kvbm_tokens_hash_blocks (arguments checked there): for blocks
 * i = 0..nb-1 of @bs tokens at @tokens, block hash bh = XXH3_64(block, salt), seq64 =
 * chain(prev, bh) (bh for the first block when !has_prev), PLH at position pos0 + i with
 * the previous seq64 as parent. Writes each non-NULL output array. Common block sizes get a
 * loop with the size a constant, so that XXH3's short-input paths inline. */
void kvbm__hash_run(const uint32_t *tokens, size_t nb, uint32_t bs, uint64_t salt,
                    bool has_prev, uint64_t prev, uint64_t pos0, uint64_t *block_hashes,
                    uint64_t *seq64, kvbm_plh *plhs);

/* Block size rule shared by sequences and the bulk hashers: power of two in [1, 1024]. */
static inline bool kvbm__block_size_ok(uint32_t bs)
{
    return bs != 0 && bs <= KVBM_TOKENS_MAX_BLOCK_SIZE && (bs & (bs - 1)) == 0;
}

/* Sets the last-error message for an invalid block size and returns KVBM_EINVAL. */
kvbm_status kvbm__bad_block_size(const char *who, uint64_t bs);

/* A complete block. Standalone blocks (create/commit) are one allocation with the tokens
 * right after the struct (owned = true); sequence blocks live in the sequence's block array
 * and point into its token array (owned = false). */
struct kvbm_token_block {
    const uint32_t *tokens;
    uint32_t        n;          /* token count = block size */
    bool            has_parent;
    bool            owned;
    uint64_t        salt;
    uint64_t        block_hash;
    uint64_t        parent;     /* parent seq64 (0 at the root) */
    kvbm_plh        plh;        /* lo = seq64; position inside */
};

/* Fill @tb's hashes from its tokens, salt and parent link at @position.
 * KVBM_ERANGE when position > KVBM_PLH_MAX_POSITION. */
kvbm_status kvbm__token_block_fill(struct kvbm_token_block *tb, bool has_parent,
                                   uint64_t parent_seq64, uint64_t position);

/* Grow @seq's storage so that @ntok tokens (and their blocks) fit without reallocating
 * (the sequence layer reserves input + output budget up front). Nothing else changes.
 * KVBM_ERANGE past the PLH position cap, KVBM_ENOMEM. */
kvbm_status kvbm__token_seq_reserve(kvbm_token_seq *seq, size_t ntok);

#endif /* KVBM_TOKENS_INT_H */
