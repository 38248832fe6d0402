/* src/sequence/block_seq.c - BlockSequence (spec 30 §1.1): a token sequence and its
 * complete blocks; no block ids, no handles. A thin layer over kvbm_token_seq. */
#include <stdio.h>

#include "seq_int.h"
#include "tokens/tokens_int.h"

kvbm_status kvbm__block_seq_init(kvbm_block_seq *s, const kvbm_token *tokens, size_t n,
                                 uint32_t bs, uint64_t salt, kvbm_seq_error *err)
{
    s->ts = NULL;
    if (tokens == NULL && n != 0)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL token array", KVBM_EINVAL);
    if (!kvbm__block_size_ok(bs))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT,
                                     bs == 0 ? "block_size must be non-zero"
                                             : "block_size must be a power of two in [1, 1024]",
                                     KVBM_EINVAL);
    kvbm_status st = kvbm_token_seq_create(tokens, n, bs, salt, &s->ts);
    if (st != KVBM_OK) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_TOKEN_EXTENSION, .token_status = st };
        return kvbm__seq_fail(err, &e, st);
    }
    return KVBM_OK;
}

kvbm_status kvbm__block_seq_reserve(kvbm_block_seq *s, size_t ntok)
{
    return kvbm__token_seq_reserve(s->ts, ntok);
}

kvbm_status kvbm_block_seq_create(const kvbm_token *tokens, size_t n, uint32_t block_size,
                                  const uint64_t *salt, kvbm_block_seq **out)
{
    if (out == NULL)
        return kvbm__seq_fail_simple(NULL, KVBM_SEQERR_BAD_ARGUMENT, "NULL out", KVBM_EINVAL);
    kvbm_block_seq *s = kvbm__malloc(sizeof *s);
    if (s == NULL) return KVBM_ENOMEM;
    kvbm_status st = kvbm__block_seq_init(s, tokens, n, block_size, salt ? *salt : 0, NULL);
    if (st != KVBM_OK) {
        kvbm__free(s);
        return st;
    }
    *out = s;
    return KVBM_OK;
}

void kvbm_block_seq_destroy(kvbm_block_seq *s)
{
    if (s == NULL) return;
    kvbm_token_seq_destroy(s->ts);
    kvbm__free(s);
}

size_t kvbm_block_seq_num_blocks(const kvbm_block_seq *s) { return kvbm_token_seq_block_count(s->ts); }
uint32_t kvbm_block_seq_block_size(const kvbm_block_seq *s) { return kvbm_token_seq_block_size(s->ts); }
size_t kvbm_block_seq_total_tokens(const kvbm_block_seq *s) { return kvbm_token_seq_total_tokens(s->ts); }
const kvbm_token_seq *kvbm_block_seq_tokens(const kvbm_block_seq *s) { return s->ts; }

const kvbm_token_block *kvbm_block_seq_block(const kvbm_block_seq *s, size_t i)
{
    return kvbm_token_seq_block(s->ts, i);
}

kvbm_status kvbm_block_seq_all_hashes(const kvbm_block_seq *s, kvbm_plh *out, size_t cap, size_t *n)
{
    if (s == NULL || n == NULL) return KVBM_EINVAL;
    size_t nb = kvbm_token_seq_block_count(s->ts);
    *n = nb;
    if (cap < nb || (out == NULL && nb)) {
        kvbm__set_error("all_sequence_hashes: capacity %zu < %zu blocks", cap, nb);
        return KVBM_ERANGE;
    }
    for (size_t i = 0; i < nb; i++) out[i] = kvbm_token_seq_block(s->ts, i)->plh;
    return KVBM_OK;
}

kvbm_status kvbm_block_seq_extend_tokens(kvbm_block_seq *s, const kvbm_token *tokens, size_t n,
                                         bool *completed, size_t *first, size_t *end,
                                         kvbm_seq_error *err)
{
    if (s == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    size_t a = 0, b = 0;
    kvbm_status st = kvbm_token_seq_extend(s->ts, tokens, n, &a, &b);
    if (st != KVBM_OK) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_TOKEN_EXTENSION, .token_status = st };
        return kvbm__seq_fail(err, &e, st);
    }
    if (completed) *completed = b > a;
    if (first) *first = a;
    if (end) *end = b;
    return KVBM_OK;
}

kvbm_status kvbm_block_seq_append_token(kvbm_block_seq *s, kvbm_token token, bool *completed,
                                        size_t *index, kvbm_seq_error *err)
{
    if (s == NULL)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    kvbm_status st = kvbm_token_seq_append(s->ts, token, completed, index);
    if (st != KVBM_OK) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_TOKEN_EXTENSION, .token_status = st };
        return kvbm__seq_fail(err, &e, st);
    }
    return KVBM_OK;
}
