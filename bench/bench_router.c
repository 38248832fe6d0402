/* bench/bench_router.c - Dynamo RouterEvent codec (src/ext/router): msgpack encode, decode
 * and JSON rendering of a stored event with 16 blocks (no mm info), and of a removed event
 * with 16 hashes. Prints the median ns per operation over 7 rounds.
 *   build/rel/bench/bench_router [iterations per round, default 200000] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "kvbm/router_events.h"

#define ROUNDS 7

static kvbm_router_stored_block blocks[16], out_blocks[16];
static uint64_t                 hashes[16], out_u64[64];
static volatile size_t          sink;

enum op { ENCODE, DECODE, JSON };

static double run(enum op op, const kvbm_router_event *ev, long iters)
{
    static uint8_t buf[4096];
    static char js[8192];
    size_t len = 0;
    if (kvbm_router_event_encode(ev, buf, sizeof buf, &len) != KVBM_OK) abort();
    kvbm_router_decode_space sp = { out_blocks, 16, NULL, 0, out_u64, 64 };
    double t[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            kvbm_router_event d;
            size_t n = 0;
            kvbm_status st = op == ENCODE ? kvbm_router_event_encode(ev, buf, sizeof buf, &n)
                             : op == DECODE ? kvbm_router_event_decode(buf, len, &d, &sp)
                                            : kvbm_router_event_to_json(ev, js, sizeof js, &n);
            if (st != KVBM_OK) abort();
            sink += n;
        }
        t[r] = (now_ns() - t0) / (double)iters;
    }
    return bench_median(t, ROUNDS);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    if (iters <= 0) iters = 1;
    for (int i = 0; i < 16; i++) {
        blocks[i] = (kvbm_router_stored_block){ UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1),
                                                UINT64_C(0xC2B2AE3D27D4EB4F) * (uint64_t)(i + 7), false, NULL, 0 };
        hashes[i] = blocks[i].block_hash;
    }
    kvbm_router_event st, rm;
    memset(&st, 0, sizeof st);
    st.worker_id = 12345;
    st.event_id = 1000000;
    st.kind = KVBM_ROUTER_STORED;
    st.has_parent_hash = true;
    st.parent_hash = UINT64_C(0xFEDCBA9876543210);
    st.blocks = blocks;
    st.n_blocks = 16;
    rm = st;
    rm.kind = KVBM_ROUTER_REMOVED;
    rm.block_hashes = hashes;
    rm.n_block_hashes = 16;
    printf("router codec, median of %d rounds x %ld iterations (ns/op)\n", ROUNDS, iters);
    printf("stored 16 blocks: encode %.0f  decode %.0f  json %.0f\n", run(ENCODE, &st, iters),
           run(DECODE, &st, iters), run(JSON, &st, iters));
    printf("removed 16 hashes: encode %.0f  decode %.0f  json %.0f\n", run(ENCODE, &rm, iters),
           run(DECODE, &rm, iters), run(JSON, &rm, iters));
    return 0;
}
