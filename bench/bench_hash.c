/* bench/bench_hash.c - token hashing throughput (issue 3).
 *
 * usage: bench_hash [ROUNDS]   (default 2000 prompts per measurement; best of 7 runs)
 *
 * Measures, for a 4096-token prompt at block sizes 16 and 64:
 *   xxh3_prompt  XXH3_64 over the prompt's 16 KiB in one call      (absolute floor)
 *   xxh3_blocks  XXH3_64 over each block's bytes, no chaining       (per-block floor)
 *   bulk         kvbm_tokens_hash_blocks: block hash + seq64 + PLH for every block
 *   seq_create   kvbm_token_seq_create (sequence object, copies tokens, same hashes)
 *   seq_append   kvbm_token_seq_append one token at a time on a reset sequence
 * and ns per kvbm_plh_extend (one chain step + PLH packing) and per kvbm_tokens_chain_hash.
 * Prints ns/token and the ratio to both floors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xxhash.h>

#include "kvbm/tokens.h"
#include "bench_clock.h"

#define PROMPT 4096
#define RUNS   7


static volatile uint64_t sink;
static uint32_t toks[PROMPT];
static uint64_t bh[PROMPT], sq[PROMPT];
static kvbm_plh plh[PROMPT];

enum { K_XXH_PROMPT, K_XXH_BLOCKS, K_BULK, K_SEQ_CREATE, K_SEQ_APPEND, K_COUNT };
static const char *const knames[K_COUNT] = { "xxh3_prompt", "xxh3_blocks", "bulk", "seq_create",
                                             "seq_append" };

static double run_once(int kind, uint32_t bs, int rounds, kvbm_token_seq *seq)
{
    double t0 = now_ns();
    for (int r = 0; r < rounds; r++) {
        toks[0] = (uint32_t)r; /* defeat hoisting */
        switch (kind) {
        case K_XXH_PROMPT:
            sink += XXH3_64bits_withSeed(toks, sizeof toks, 1337);
            break;
        case K_XXH_BLOCKS:
            for (uint32_t i = 0; i < PROMPT; i += bs)
                sink += XXH3_64bits_withSeed(toks + i, bs * sizeof(uint32_t), 1337);
            break;
        case K_BULK: {
            size_t nb;
            if (kvbm_tokens_hash_blocks(toks, PROMPT, bs, 1337, NULL, bh, sq, plh, PROMPT, &nb) != KVBM_OK)
                abort();
            sink += plh[nb - 1].lo;
            break;
        }
        case K_SEQ_CREATE: {
            kvbm_token_seq *s;
            if (kvbm_token_seq_create(toks, PROMPT, bs, 1337, &s) != KVBM_OK) abort();
            sink += kvbm_token_block_seq_hash(kvbm_token_seq_last_block(s));
            kvbm_token_seq_destroy(s);
            break;
        }
        case K_SEQ_APPEND:
            (void)kvbm_token_seq_reset(seq);
            for (uint32_t i = 0; i < PROMPT; i++)
                if (kvbm_token_seq_append(seq, toks[i], NULL, NULL) != KVBM_OK) abort();
            sink += kvbm_token_block_seq_hash(kvbm_token_seq_last_block(seq));
            break;
        }
    }
    return (now_ns() - t0) / ((double)rounds * PROMPT);
}

static double best(int kind, uint32_t bs, int rounds, kvbm_token_seq *seq)
{
    double b = 1e30;
    for (int i = 0; i < RUNS; i++) {
        double v = run_once(kind, bs, rounds, seq);
        if (v < b) b = v;
    }
    return b;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 2000;
    if (rounds <= 0) rounds = 2000;
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < PROMPT; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        toks[i] = (uint32_t)x % 128000u; /* realistic vocabulary ids */
    }
    printf("bench_hash: %d prompts of %d tokens per run, best of %d runs\n", rounds, PROMPT, RUNS);
    static const uint32_t sizes[2] = { 16, 64 };
    for (int si = 0; si < 2; si++) {
        uint32_t bs = sizes[si];
        kvbm_token_seq *seq;
        if (kvbm_token_seq_create(NULL, 0, bs, 1337, &seq) != KVBM_OK) return 1;
        double v[K_COUNT];
        for (int k = 0; k < K_COUNT; k++) v[k] = best(k, bs, rounds, seq);
        kvbm_token_seq_destroy(seq);
        printf("block_size=%u\n", bs);
        for (int k = 0; k < K_COUNT; k++)
            printf("  %-12s %7.3f ns/token  %6.2fx xxh3_prompt  %6.2fx xxh3_blocks\n", knames[k], v[k],
                   v[k] / v[K_XXH_PROMPT], v[k] / v[K_XXH_BLOCKS]);
    }
    /* chain step and PLH extend */
    int n = rounds * 1000 > (1 << 24) - 2 ? (1 << 24) - 2 : rounds * 1000;
    double b_ext = 1e30, b_chain = 1e30;
    for (int r = 0; r < RUNS; r++) {
        /* chain of extends, in place (out may alias parent); n < 2^24 so no cap */
        kvbm_plh p = kvbm_plh_root(1);
        double t0 = now_ns();
        for (int i = 0; i < n; i++)
            if (kvbm_plh_extend(&p, (uint64_t)i, &p) != KVBM_OK) abort();
        double t = (now_ns() - t0) / n;
        sink += p.lo;
        if (t < b_ext) b_ext = t;
        uint64_t h = 1;
        t0 = now_ns();
        for (int i = 0; i < n; i++) h = kvbm_tokens_chain_hash(h, (uint64_t)i);
        t = (now_ns() - t0) / n;
        sink += h;
        if (t < b_chain) b_chain = t;
    }
    printf("plh_extend   %7.3f ns/extend\nchain_hash   %7.3f ns/step\n", b_ext, b_chain);
    return 0;
}
