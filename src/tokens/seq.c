/* src/tokens/seq.c - TokenBlockSequence (spec 20 §1.8).
 *
 * Representation: one contiguous token array (all tokens, committed blocks first, then the
 * partial block) and one array of kvbm_token_block records whose token pointers point into
 * it. Invariants:
 *   nblocks == ntok / bs                 (the partial block always holds < bs tokens)
 *   blocks[i].tokens == tokens + i * bs  (fixed up whenever the token array moves)
 *   blocks[i] chains from blocks[i-1] at position i (blocks[0] is the root)
 * Because blocks are a pure function of the token prefix, truncate/unwind/pop only lower
 * ntok and nblocks: earlier blocks keep their exact hashes, and no rehashing happens.
 */
#include <stdlib.h>
#include <string.h>

#include "tokens_int.h"

struct kvbm_token_seq {
    uint32_t                 bs;
    unsigned                 shift;  /* log2(bs): block index = token index >> shift */
    uint64_t                 salt;
    uint32_t                *tokens;
    size_t                   ntok, captok;
    struct kvbm_token_block *blocks;
    size_t                   nblocks, capblocks;
};

#if KVBM_DEBUG >= 3
static bool seq_valid(const kvbm_token_seq *s)
{
    if (s->nblocks != s->ntok >> s->shift) return false;
    for (size_t i = 0; i < s->nblocks; i++)
        if (s->blocks[i].tokens != s->tokens + i * s->bs) return false;
    return true;
}
#endif

/* Grow both arrays so that @ntok tokens fit; nothing changes on failure. */
static kvbm_status seq_reserve(kvbm_token_seq *s, size_t ntok)
{
    size_t nb = ntok >> s->shift;
    if (nb > s->capblocks) {
        size_t cap = s->capblocks ? s->capblocks : 4;
        while (cap < nb) cap *= 2;
        struct kvbm_token_block *b = kvbm__realloc(s->blocks, cap * sizeof *b);
        if (b == NULL) return KVBM_ENOMEM;
        s->blocks = b;
        s->capblocks = cap;
    }
    if (ntok > s->captok) {
        size_t cap = s->captok ? s->captok : s->bs;
        while (cap < ntok) {
            if (cap > SIZE_MAX / 2 / sizeof(uint32_t)) return KVBM_ENOMEM;
            cap *= 2;
        }
        uint32_t *t = kvbm__realloc(s->tokens, cap * sizeof *t);
        if (t == NULL) return KVBM_ENOMEM;
        s->tokens = t;
        s->captok = cap;
        for (size_t i = 0; i < s->nblocks; i++) s->blocks[i].tokens = t + i * s->bs;
    }
    return KVBM_OK;
}

static kvbm_status seq_check_positions(const kvbm_token_seq *s, size_t ntok)
{
    /* block positions 0 .. ntok/bs - 1 must fit the PLH (<= KVBM_PLH_MAX_POSITION) */
    if ((ntok >> s->shift) > (size_t)KVBM_PLH_MAX_POSITION + 1) {
        kvbm__set_error("token sequence: %zu blocks exceed the PLH position limit %llu",
                        ntok >> s->shift, (unsigned long long)KVBM_PLH_MAX_POSITION);
        return KVBM_ERANGE;
    }
    return KVBM_OK;
}

/* Append @n tokens (capacity and range already checked) and commit the filled blocks. */
static void seq_append_reserved(kvbm_token_seq *s, const uint32_t *tokens, size_t n)
{
    if (n) memcpy(s->tokens + s->ntok, tokens, n * sizeof(uint32_t));
    s->ntok += n;
    size_t nb = s->ntok >> s->shift;
    for (size_t i = s->nblocks; i < nb; i++) {
        struct kvbm_token_block *b = &s->blocks[i];
        b->tokens = s->tokens + i * s->bs;
        b->n = s->bs;
        b->owned = false;
        b->salt = s->salt;
        bool hp = i > 0;
        kvbm_status st = kvbm__token_block_fill(b, hp, hp ? s->blocks[i - 1].plh.lo : 0, i);
        kvbm__assert(st == KVBM_OK); /* positions checked by seq_check_positions */
        (void)st;
    }
    s->nblocks = nb;
    kvbm__assert_expensive(seq_valid(s));
}

kvbm_status kvbm_token_seq_create(const uint32_t *tokens, size_t n, uint32_t block_size,
                                  uint64_t salt, kvbm_token_seq **out)
{
    if (out == NULL || (tokens == NULL && n != 0)) {
        kvbm__set_error("kvbm_token_seq_create: %s", out ? "NULL token array" : "NULL out");
        return KVBM_EINVAL;
    }
    if (!kvbm__block_size_ok(block_size))
        return kvbm__bad_block_size("kvbm_token_seq_create", block_size);
    kvbm_token_seq *s = kvbm__calloc(1, sizeof *s);
    if (s == NULL) return KVBM_ENOMEM;
    s->bs = block_size;
    while ((1u << s->shift) < block_size) s->shift++;
    s->salt = salt;
    kvbm_status st = seq_check_positions(s, n);
    if (st == KVBM_OK) st = seq_reserve(s, n ? n : block_size);
    if (st != KVBM_OK) {
        kvbm_token_seq_destroy(s);
        return st;
    }
    seq_append_reserved(s, tokens, n);
    *out = s;
    return KVBM_OK;
}

void kvbm_token_seq_destroy(kvbm_token_seq *seq)
{
    if (seq == NULL) return;
    kvbm__free(seq->tokens);
    kvbm__free(seq->blocks);
    kvbm__free(seq);
}

kvbm_status kvbm_token_seq_extend(kvbm_token_seq *seq, const uint32_t *tokens, size_t n,
                                  size_t *first, size_t *end)
{
    if (seq == NULL || (tokens == NULL && n != 0)) {
        kvbm__set_error("kvbm_token_seq_extend: %s", seq ? "NULL token array" : "NULL sequence");
        return KVBM_EINVAL;
    }
    if (n > SIZE_MAX - seq->ntok)
        return KVBM_FAIL(KVBM_ERANGE, "%s: value out of range (n > SIZE_MAX - seq->ntok)", __func__);
    size_t before = seq->nblocks;
    KVBM_TRY(seq_check_positions(seq, seq->ntok + n));
    /* @tokens may point into our own array (e.g. replaying a prefix): re-derive it after a
     * reallocation. The source [off, off + n) lies below ntok, so it never overlaps the
     * destination [ntok, ntok + n). */
    bool self = n != 0 && seq->tokens != NULL && (uintptr_t)tokens >= (uintptr_t)seq->tokens &&
                (uintptr_t)tokens < (uintptr_t)(seq->tokens + seq->ntok);
    size_t off = self ? (size_t)(tokens - seq->tokens) : 0;
    KVBM_TRY(seq_reserve(seq, seq->ntok + n));
    if (self) tokens = seq->tokens + off;
    seq_append_reserved(seq, tokens, n);
    if (first) *first = before;
    if (end) *end = seq->nblocks;
    return KVBM_OK;
}

kvbm_status kvbm_token_seq_append(kvbm_token_seq *seq, uint32_t token, bool *completed,
                                  size_t *index)
{
    /* fast path: room in the token array and the token does not complete a block */
    if (seq != NULL && seq->ntok < seq->captok && ((seq->ntok + 1) & (seq->bs - 1)) != 0) {
        seq->tokens[seq->ntok++] = token;
        if (completed) *completed = false;
        return KVBM_OK;
    }
    size_t first = 0, end = 0;
    KVBM_TRY(kvbm_token_seq_extend(seq, &token, 1, &first, &end));
    if (completed) *completed = end > first;
    if (index && end > first) *index = first;
    return KVBM_OK;
}

kvbm_status kvbm_token_seq_truncate(kvbm_token_seq *seq, size_t len)
{
    if (seq == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (seq == NULL)", __func__);
    if (len >= seq->ntok) return KVBM_OK;
    /* spec §1.8's block arithmetic reduces to: keep len tokens, len / bs complete blocks */
    seq->ntok = len;
    seq->nblocks = len >> seq->shift;
    kvbm__assert_expensive(seq_valid(seq));
    return KVBM_OK;
}

kvbm_status kvbm_token_seq_unwind(kvbm_token_seq *seq, size_t count)
{
    if (seq == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (seq == NULL)", __func__);
    if (count > seq->ntok) {
        kvbm__set_error("unwind: %zu tokens requested, sequence has %zu", count, seq->ntok);
        return KVBM_EINSUFFICIENT;
    }
    return kvbm_token_seq_truncate(seq, seq->ntok - count);
}

kvbm_status kvbm_token_seq_pop(kvbm_token_seq *seq, uint32_t *token)
{
    if (seq == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (seq == NULL)", __func__);
    if (seq->ntok == 0)
        return KVBM_FAIL(KVBM_EEMPTY, "%s: empty (seq->ntok == 0)", __func__);
    if (token) *token = seq->tokens[seq->ntok - 1];
    return kvbm_token_seq_truncate(seq, seq->ntok - 1);
}

kvbm_status kvbm_token_seq_reset(kvbm_token_seq *seq)
{
    if (seq == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (seq == NULL)", __func__);
    seq->ntok = 0;
    seq->nblocks = 0;
    return KVBM_OK;
}

size_t kvbm_token_seq_total_tokens(const kvbm_token_seq *seq) { return seq->ntok; }
size_t kvbm_token_seq_block_count(const kvbm_token_seq *seq) { return seq->nblocks; }
uint32_t kvbm_token_seq_block_size(const kvbm_token_seq *seq) { return seq->bs; }
uint64_t kvbm_token_seq_salt(const kvbm_token_seq *seq) { return seq->salt; }

const kvbm_token_block *kvbm_token_seq_block(const kvbm_token_seq *seq, size_t i)
{
    return i < seq->nblocks ? &seq->blocks[i] : NULL;
}

const kvbm_token_block *kvbm_token_seq_last_block(const kvbm_token_seq *seq)
{
    return seq->nblocks ? &seq->blocks[seq->nblocks - 1] : NULL;
}

const uint32_t *kvbm_token_seq_partial_tokens(const kvbm_token_seq *seq, size_t *n)
{
    size_t off = seq->nblocks * seq->bs;
    if (n) *n = seq->ntok - off;
    return seq->tokens + off;
}

uint64_t kvbm_token_seq_partial_position(const kvbm_token_seq *seq) { return seq->nblocks; }

bool kvbm_token_seq_partial_parent(const kvbm_token_seq *seq, uint64_t *parent)
{
    if (seq->nblocks == 0) return false;
    if (parent) *parent = seq->blocks[seq->nblocks - 1].plh.lo;
    return true;
}

const uint32_t *kvbm_token_seq_tokens(const kvbm_token_seq *seq) { return seq->tokens; }

kvbm_status kvbm_token_seq_tokens_at(const kvbm_token_seq *seq, size_t start, size_t end,
                                     uint32_t *out, size_t cap, size_t *n)
{
    if (seq == NULL || n == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (seq == NULL || n == NULL)", __func__);
    if (start >= end || end > seq->ntok) {
        *n = 0;
        return KVBM_OK;
    }
    size_t k = end - start;
    if (out == NULL || cap < k) {
        kvbm__set_error("tokens_at: output capacity %zu < %zu tokens", out ? cap : 0, k);
        return KVBM_EINVAL;
    }
    memcpy(out, seq->tokens + start, k * sizeof(uint32_t));
    *n = k;
    return KVBM_OK;
}

kvbm_status kvbm_token_seq_plhs(const kvbm_token_seq *seq, kvbm_plh *out, size_t cap, size_t *n)
{
    if (seq == NULL || (out == NULL && seq->nblocks != 0))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (seq == NULL || (out == NULL && seq->nblocks != 0))", __func__);
    if (cap < seq->nblocks) {
        kvbm__set_error("kvbm_token_seq_plhs: capacity %zu < %zu blocks", cap, seq->nblocks);
        return KVBM_EINVAL;
    }
    for (size_t i = 0; i < seq->nblocks; i++) out[i] = seq->blocks[i].plh;
    if (n) *n = seq->nblocks;
    return KVBM_OK;
}

kvbm_status kvbm__token_seq_reserve(kvbm_token_seq *seq, size_t ntok)
{
    if (seq == NULL) return KVBM_EINVAL;
    KVBM_TRY(seq_check_positions(seq, ntok));
    return seq_reserve(seq, ntok);
}
