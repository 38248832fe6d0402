/* bench/bench_vllm.c - vLLM KV-event codec (src/ext/vllm): decode + convert-to-router of a
 * batch holding one 16-block BlockStored (block size 16, 256 tokens, no LoRA / MM), in the
 * map and the array form, and encode of that batch per form. Prints the median ns per
 * operation over 7 rounds and the ratio to the 2 us bar for decode + convert.
 *   build/rel/bench/bench_vllm [iterations per round, default 200000] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "kvbm/vllm_events.h"

#define ROUNDS 7
#define BLOCKS 16
#define BS     16

static uint64_t                 hashes[BLOCKS];
static uint32_t                 tokens[BLOCKS * BS];
static kvbm_vllm_event          d_ev[4];
static uint64_t                 d_u64[64];
static uint32_t                 d_tok[BLOCKS * BS + 8];
static char                     d_chars[64];
static kvbm_router_stored_block rblocks[BLOCKS];
static volatile uint64_t        sink;

enum op { DECODE_CONVERT, DECODE, ENCODE };

static double run(enum op op, const kvbm_vllm_batch *b, kvbm_vllm_form form, long iters)
{
    static uint8_t buf[4096];
    size_t len = 0;
    if (kvbm_vllm_batch_encode(b, form, buf, sizeof buf, &len) != KVBM_OK) abort();
    kvbm_vllm_decode_space sp = { d_ev, 4, d_u64, 64, d_tok, BLOCKS * BS + 8, NULL, 0, NULL, 0, d_chars, 64 };
    double t[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            if (op == ENCODE) {
                size_t n;
                if (kvbm_vllm_batch_encode(b, form, buf, sizeof buf, &n) != KVBM_OK) abort();
                sink += n;
                continue;
            }
            kvbm_vllm_batch d;
            if (kvbm_vllm_batch_decode(buf, len, NULL, &d, &sp) != KVBM_OK) abort();
            if (op == DECODE) {
                sink += d.n_events;
                continue;
            }
            kvbm_router_event re;
            bool emitted;
            if (kvbm_vllm_event_to_router(&d.events[0], 1, 0, (uint64_t)i, BS, &re, rblocks, BLOCKS, &emitted, NULL) !=
                    KVBM_OK ||
                re.n_blocks != BLOCKS)
                abort();
            sink += re.blocks[BLOCKS - 1].tokens_hash;
        }
        t[r] = (now_ns() - t0) / (double)iters;
    }
    return bench_median(t, ROUNDS);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    if (iters <= 0) iters = 1;
    for (int i = 0; i < BLOCKS; i++) hashes[i] = UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1);
    for (int i = 0; i < BLOCKS * BS; i++) tokens[i] = (uint32_t)(i * 7919 % 150000);
    kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = hashes, .n_block_hashes = BLOCKS,
                           .has_parent = true, .parent_block_hash = UINT64_C(0xFEDCBA9876543210),
                           .token_ids = tokens, .n_token_ids = BLOCKS * BS, .block_size = BS, .medium = "GPU" };
    kvbm_vllm_batch b = { 1733472000.5, &ev, 1, true, 0 };
    printf("vllm codec, BlockStored %d blocks x %d tokens, median of %d rounds x %ld iterations (ns/op)\n", BLOCKS,
           BS, ROUNDS, iters);
    for (int f = 0; f < 2; f++) {
        kvbm_vllm_form form = f ? KVBM_VLLM_FORM_ARRAY : KVBM_VLLM_FORM_MAP;
        double dc = run(DECODE_CONVERT, &b, form, iters), d = run(DECODE, &b, form, iters),
               e = run(ENCODE, &b, form, iters);
        printf("%s form: decode+convert %.0f (%.2fx the 2000 ns bar)  decode %.0f  convert %.0f  encode %.0f\n",
               f ? "array" : "map", dc, dc / 2000.0, d, dc - d, e);
    }
    return 0;
}
