/* src/tokens/token_block.c - TokenBlock, PartialTokenBlock and the bulk block hasher
 * (spec 20 §1.4, §1.8). */
#include <stdlib.h>
#include <string.h>

#include "tokens_int.h"

kvbm_status kvbm__bad_block_size(const char *who, uint64_t bs)
{
    kvbm__set_error("%s: block size %llu is invalid (must be a power of two in [1, %u])", who,
                    (unsigned long long)bs, KVBM_TOKENS_MAX_BLOCK_SIZE);
    return KVBM_EINVAL;
}

uint64_t kvbm_tokens_block_hash(const uint32_t *tokens, size_t n, uint64_t salt)
{
    return kvbm__hash_tokens(tokens, tokens ? n : 0, salt);
}

uint64_t kvbm_tokens_chain_hash(uint64_t parent_seq64, uint64_t child_block_hash)
{
    return kvbm__chain_hash(parent_seq64, child_block_hash);
}

kvbm_status kvbm__token_block_fill(struct kvbm_token_block *tb, bool has_parent,
                                   uint64_t parent_seq64, uint64_t position)
{
    uint64_t bh = kvbm__hash_tokens(tb->tokens, tb->n, tb->salt);
    uint64_t seq = has_parent ? kvbm__chain_hash(parent_seq64, bh) : bh;
    kvbm_plh plh;
    KVBM_TRY(kvbm_plh_new(seq, has_parent, parent_seq64, position, &plh));
    tb->block_hash = bh;
    tb->has_parent = has_parent;
    tb->parent = has_parent ? parent_seq64 : 0;
    tb->plh = plh;
    return KVBM_OK;
}

kvbm_status kvbm_tokens_hash_blocks(const uint32_t *tokens, size_t n, uint32_t block_size,
                                    uint64_t salt, const kvbm_plh *parent,
                                    uint64_t *block_hashes, uint64_t *seq64, kvbm_plh *plhs,
                                    size_t cap, size_t *n_blocks)
{
    if (tokens == NULL || n == 0) {
        kvbm__set_error("kvbm_tokens_hash_blocks: %s token array", tokens ? "empty" : "NULL");
        return KVBM_EINVAL;
    }
    if (!kvbm__block_size_ok(block_size))
        return kvbm__bad_block_size("kvbm_tokens_hash_blocks", block_size);
    size_t nb = n / block_size;
    if ((block_hashes || seq64 || plhs) && cap < nb) {
        kvbm__set_error("kvbm_tokens_hash_blocks: output capacity %zu < %zu blocks", cap, nb);
        return KVBM_EINVAL;
    }
    uint64_t pos0 = parent ? kvbm_plh_position(*parent) + 1 : 0;
    if (nb != 0 && (pos0 > KVBM_PLH_MAX_POSITION || nb - 1 > KVBM_PLH_MAX_POSITION - pos0)) {
        kvbm__set_error("kvbm_tokens_hash_blocks: block positions %llu..%llu exceed the PLH "
                        "limit %llu", (unsigned long long)pos0,
                        (unsigned long long)(pos0 + nb - 1),
                        (unsigned long long)KVBM_PLH_MAX_POSITION);
        return KVBM_ERANGE;
    }
    kvbm__hash_run(tokens, nb, block_size, salt, parent != NULL, parent ? parent->lo : 0, pos0,
                   block_hashes, seq64, plhs);
    if (n_blocks) *n_blocks = nb;
    return KVBM_OK;
}

/* ---- standalone token blocks ------------------------------------------------------ */

static kvbm_status block_alloc(const uint32_t *tokens, uint32_t n, uint64_t salt,
                               bool has_parent, uint64_t parent_seq, uint64_t position,
                               kvbm_token_block **out)
{
    struct kvbm_token_block *tb = kvbm__malloc(sizeof *tb + (size_t)n * sizeof(uint32_t));
    if (tb == NULL) return KVBM_ENOMEM;
    uint32_t *copy = (uint32_t *)(void *)(tb + 1);
    memcpy(copy, tokens, (size_t)n * sizeof(uint32_t));
    tb->tokens = copy;
    tb->n = n;
    tb->owned = true;
    tb->salt = salt;
    kvbm_status st = kvbm__token_block_fill(tb, has_parent, parent_seq, position);
    if (st != KVBM_OK) {
        kvbm__free(tb);
        return st;
    }
    *out = tb;
    return KVBM_OK;
}

kvbm_status kvbm_token_block_create(const uint32_t *tokens, uint32_t n, uint64_t salt,
                                    const kvbm_token_block *parent, kvbm_token_block **out)
{
    if (out == NULL || tokens == NULL || n == 0) {
        kvbm__set_error("kvbm_token_block_create: %s", out == NULL ? "NULL out" :
                        tokens == NULL ? "NULL token array" : "empty token array");
        return KVBM_EINVAL;
    }
    if (!kvbm__block_size_ok(n)) return kvbm__bad_block_size("kvbm_token_block_create", n);
    uint64_t pos = parent ? kvbm_plh_position(parent->plh) + 1 : 0;
    return block_alloc(tokens, n, salt, parent != NULL, parent ? parent->plh.lo : 0, pos, out);
}

kvbm_status kvbm_token_block_destroy(kvbm_token_block *tb)
{
    if (tb == NULL) return KVBM_OK;
    if (!tb->owned) {
        kvbm__set_error("kvbm_token_block_destroy: block is borrowed from a sequence");
        return KVBM_EINVAL;
    }
    kvbm__free(tb);
    return KVBM_OK;
}

kvbm_plh kvbm_token_block_plh(const kvbm_token_block *tb) { return tb->plh; }
uint32_t kvbm_token_block_size(const kvbm_token_block *tb) { return tb->n; }
const uint32_t *kvbm_token_block_tokens(const kvbm_token_block *tb) { return tb->tokens; }
uint64_t kvbm_token_block_salt(const kvbm_token_block *tb) { return tb->salt; }
uint64_t kvbm_token_block_hash(const kvbm_token_block *tb) { return tb->block_hash; }
uint64_t kvbm_token_block_seq_hash(const kvbm_token_block *tb) { return tb->plh.lo; }
uint64_t kvbm_token_block_position(const kvbm_token_block *tb) { return kvbm_plh_position(tb->plh); }

bool kvbm_token_block_parent_seq_hash(const kvbm_token_block *tb, uint64_t *parent)
{
    if (!tb->has_parent) return false;
    if (parent) *parent = tb->parent;
    return true;
}

/* ---- partial block ---------------------------------------------------------------- */

struct kvbm_partial_block {
    uint32_t block_size;
    uint32_t len;
    bool     has_parent;
    uint64_t parent;   /* parent seq64 */
    uint64_t position; /* position the block gets when committed */
    uint64_t salt;
    uint32_t tokens[]; /* block_size slots */
};

static kvbm_status partial_alloc(uint32_t bs, uint64_t salt, bool has_parent, uint64_t parent,
                                 uint64_t position, kvbm_partial_block **out)
{
    kvbm_partial_block *pb = kvbm__malloc(sizeof *pb + (size_t)bs * sizeof(uint32_t));
    if (pb == NULL) return KVBM_ENOMEM;
    pb->block_size = bs;
    pb->len = 0;
    pb->has_parent = has_parent;
    pb->parent = parent;
    pb->position = position;
    pb->salt = salt;
    *out = pb;
    return KVBM_OK;
}

kvbm_status kvbm_partial_block_create(uint32_t block_size, uint64_t salt, kvbm_partial_block **out)
{
    if (out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (out == NULL)", __func__);
    if (!kvbm__block_size_ok(block_size))
        return kvbm__bad_block_size("kvbm_partial_block_create", block_size);
    return partial_alloc(block_size, salt, false, 0, 0, out);
}

kvbm_status kvbm_token_block_next(const kvbm_token_block *tb, kvbm_partial_block **out)
{
    if (tb == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (tb == NULL || out == NULL)", __func__);
    uint64_t pos = kvbm_plh_position(tb->plh) + 1;
    if (pos > KVBM_PLH_MAX_POSITION) {
        kvbm__set_error("kvbm_token_block_next: position %llu exceeds the PLH limit",
                        (unsigned long long)pos);
        return KVBM_ERANGE;
    }
    return partial_alloc(tb->n, tb->salt, true, tb->plh.lo, pos, out);
}

void kvbm_partial_block_destroy(kvbm_partial_block *pb) { kvbm__free(pb); }

kvbm_status kvbm_partial_block_push_tokens(kvbm_partial_block *pb, const uint32_t *tokens,
                                           size_t n, size_t *consumed)
{
    if (pb == NULL || (tokens == NULL && n != 0))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (pb == NULL || (tokens == NULL && n != 0))", __func__);
    size_t room = pb->block_size - pb->len;
    size_t k = n < room ? n : room;
    if (k) memcpy(pb->tokens + pb->len, tokens, k * sizeof(uint32_t));
    pb->len += (uint32_t)k;
    if (consumed) *consumed = k;
    return KVBM_OK;
}

kvbm_status kvbm_partial_block_push_token(kvbm_partial_block *pb, uint32_t token)
{
    if (pb == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (pb == NULL)", __func__);
    if (pb->len == pb->block_size)
        return KVBM_FAIL(KVBM_EFULL, "%s: full (pb->len == pb->block_size)", __func__);
    pb->tokens[pb->len++] = token;
    return KVBM_OK;
}

kvbm_status kvbm_partial_block_pop_tokens(kvbm_partial_block *pb, size_t n)
{
    if (pb == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (pb == NULL)", __func__);
    if (n > pb->len) {
        kvbm__set_error("pop_tokens: %zu requested, %u present", n, pb->len);
        return KVBM_EINSUFFICIENT;
    }
    pb->len -= (uint32_t)n;
    return KVBM_OK;
}

kvbm_status kvbm_partial_block_pop_token(kvbm_partial_block *pb, uint32_t *token)
{
    if (pb == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (pb == NULL)", __func__);
    if (pb->len == 0)
        return KVBM_FAIL(KVBM_EEMPTY, "%s: empty (pb->len == 0)", __func__);
    pb->len--;
    if (token) *token = pb->tokens[pb->len];
    return KVBM_OK;
}

kvbm_status kvbm_partial_block_commit(kvbm_partial_block *pb, kvbm_token_block **out)
{
    if (pb == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (pb == NULL || out == NULL)", __func__);
    if (pb->len != pb->block_size) {
        kvbm__set_error("commit: block has %u of %u tokens", pb->len, pb->block_size);
        return KVBM_EINCOMPLETE;
    }
    kvbm_token_block *tb;
    KVBM_TRY(block_alloc(pb->tokens, pb->len, pb->salt, pb->has_parent, pb->parent,
                         pb->position, &tb));
    pb->len = 0;
    pb->has_parent = true;
    pb->parent = tb->plh.lo;
    pb->position++;
    *out = tb;
    return KVBM_OK;
}

size_t kvbm_partial_block_len(const kvbm_partial_block *pb) { return pb->len; }
size_t kvbm_partial_block_remaining(const kvbm_partial_block *pb) { return pb->block_size - pb->len; }
uint32_t kvbm_partial_block_block_size(const kvbm_partial_block *pb) { return pb->block_size; }
uint64_t kvbm_partial_block_position(const kvbm_partial_block *pb) { return pb->position; }

const uint32_t *kvbm_partial_block_tokens(const kvbm_partial_block *pb, size_t *n)
{
    if (n) *n = pb->len;
    return pb->tokens;
}

bool kvbm_partial_block_parent_seq_hash(const kvbm_partial_block *pb, uint64_t *parent)
{
    if (!pb->has_parent) return false;
    if (parent) *parent = pb->parent;
    return true;
}
