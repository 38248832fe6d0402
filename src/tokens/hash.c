/* src/tokens/hash.c - XXH3-64 over LE32 tokens and the 16-byte chain step (spec 20 §1.2).
 *
 * The system xxhash.h (libxxhash-dev) is included with XXH_INLINE_ALL: the implementation
 * is compiled into this file as static functions (namespaced, no symbol clash with the
 * shared libxxhash), which lets the compiler inline XXH3's short-input paths. The chain
 * step hashes 16 bytes and the common block sizes 16..64 tokens are 64..256 bytes, where
 * call and dispatch overhead of the shared library is a large share of the cost. */
#define XXH_INLINE_ALL /* also exposes XXH3_state_t for stack allocation */
#include <xxhash.h>

#include "kvbm/plh.h"
#include "tokens_int.h"

/* -DKVBM__HOST_LE=0 forces the portable (big-endian) path on any host: used to test it. */
#ifndef KVBM__HOST_LE
#  if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
      __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#    define KVBM__HOST_LE 1
#  else
#    define KVBM__HOST_LE 0
#  endif
#endif

/* Feed LE32(tokens) into a streaming state through a 1 KiB stack buffer. */
static void feed_tokens(XXH3_state_t *st, const uint32_t *tokens, size_t n)
{
#if KVBM__HOST_LE
    if (n != 0) (void)XXH3_64bits_update(st, tokens, n * sizeof(uint32_t));
#else
    uint8_t buf[1024];
    while (n != 0) {
        size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
        for (size_t i = 0; i < k; i++) kvbm__store_le32(buf + 4 * i, tokens[i]);
        (void)XXH3_64bits_update(st, buf, 4 * k);
        tokens += k;
        n -= k;
    }
#endif
}

uint64_t kvbm__hash_tokens(const uint32_t *tokens, size_t n, uint64_t seed)
{
#if KVBM__HOST_LE
    /* in-memory u32 array == LE32 byte string; one-shot XXH3 is the fastest path */
    static const uint32_t empty = 0;
    return XXH3_64bits_withSeed(n ? (const void *)tokens : (const void *)&empty,
                                n * sizeof(uint32_t), seed);
#else
    XXH3_state_t st;
    XXH3_INITSTATE(&st); /* reset_withSeed reads st.seed and st.extSecret */
    (void)XXH3_64bits_reset_withSeed(&st, seed);
    feed_tokens(&st, tokens, n);
    return XXH3_64bits_digest(&st);
#endif
}

uint64_t kvbm__hash_tokens_extra(const uint32_t *tokens, size_t n, const uint64_t *extra,
                                 size_t m, uint64_t seed)
{
    if (m == 0) return kvbm__hash_tokens(tokens, n, seed);
    XXH3_state_t st;
    XXH3_INITSTATE(&st); /* reset_withSeed reads st.seed and st.extSecret */
    (void)XXH3_64bits_reset_withSeed(&st, seed);
    feed_tokens(&st, tokens, n);
    for (size_t i = 0; i < m; i++) {
        uint8_t b[8];
        kvbm__store_le64(b, extra[i]);
        (void)XXH3_64bits_update(&st, b, sizeof b);
    }
    return XXH3_64bits_digest(&st);
}

uint64_t kvbm__chain_hash(uint64_t parent, uint64_t child_block_hash)
{
#if KVBM__HOST_LE
    /* whole-word stores: byte-wise stores followed by XXH3's 64-bit loads would defeat
     * store-to-load forwarding (measured ~3x slower on this latency-bound step) */
    uint64_t buf[2] = { parent, child_block_hash };
#else
    uint8_t buf[16];
    kvbm__store_le64(buf, parent);
    kvbm__store_le64(buf + 8, child_block_hash);
#endif
    return XXH3_64bits_withSeed(buf, sizeof buf, KVBM_CHAIN_XXH3_SEED);
}

/* ---- the bulk chain ------------------------------------------------------------------ */

#include "plh_int.h"

/* One block of kvbm__hash_run: its block hash and (when @has_prev) the chain step. */
XXH_FORCE_INLINE uint64_t run_block(const uint32_t *tok, const uint32_t bs, uint64_t salt,
                                    bool has_prev, uint64_t prev, uint64_t *bh_out)
{
#if KVBM__HOST_LE
    uint64_t bh = XXH3_64bits_withSeed(tok, (size_t)bs * sizeof(uint32_t), salt);
    *bh_out = bh;
    if (!has_prev) return bh;
    uint64_t buf[2] = { prev, bh };
    return XXH3_64bits_withSeed(buf, sizeof buf, KVBM_CHAIN_XXH3_SEED);
#else
    uint64_t bh = kvbm__hash_tokens(tok, bs, salt);
    *bh_out = bh;
    return has_prev ? kvbm__chain_hash(prev, bh) : bh;
#endif
}

/* One loop of kvbm__hash_run, forced inline so that @bs (and, at the call sites that pass
 * NULL, the absent outputs) are constants in each copy; the root block is peeled off. */
XXH_FORCE_INLINE void hash_run_bs(const uint32_t *tokens, size_t nb, const uint32_t bs,
                                  uint64_t salt, bool has_prev, uint64_t prev, uint64_t pos0,
                                  uint64_t *block_hashes, uint64_t *seq64, kvbm_plh *plhs)
{
    size_t i = 0;
    if (!has_prev && nb != 0) {
        uint64_t bh;
        prev = run_block(tokens, bs, salt, false, 0, &bh);
        if (block_hashes) block_hashes[0] = bh;
        if (seq64) seq64[0] = prev;
        if (plhs) plhs[0] = kvbm__plh_make(prev, 0, pos0);
        i = 1;
    }
    for (; i < nb; i++) {
        uint64_t bh, seq = run_block(tokens + i * bs, bs, salt, true, prev, &bh);
        if (block_hashes) block_hashes[i] = bh;
        if (seq64) seq64[i] = seq;
        if (plhs) plhs[i] = kvbm__plh_make(seq, prev, pos0 + i);
        prev = seq;
    }
}

void kvbm__hash_run(const uint32_t *tokens, size_t nb, uint32_t bs, uint64_t salt,
                    bool has_prev, uint64_t prev, uint64_t pos0, uint64_t *block_hashes,
                    uint64_t *seq64, kvbm_plh *plhs)
{
#define RUN(B, BH, SQ) hash_run_bs(tokens, nb, B, salt, has_prev, prev, pos0, BH, SQ, plhs)
    if (block_hashes == NULL && seq64 == NULL) { /* PLHs only: what the binding asks for */
        switch (bs) {
        case 4: RUN(4, NULL, NULL); return;
        case 8: RUN(8, NULL, NULL); return;
        case 16: RUN(16, NULL, NULL); return;
        case 32: RUN(32, NULL, NULL); return;
        default: break;
        }
    }
    switch (bs) {
    case 4: RUN(4, block_hashes, seq64); break;
    case 16: RUN(16, block_hashes, seq64); break;
    default: RUN(bs, block_hashes, seq64); break;
    }
#undef RUN
}
