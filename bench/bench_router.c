/* bench/bench_router.c - Dynamo RouterEvent codec (src/ext/router): msgpack encode, decode,
 * JSON rendering and JSON decoding of a stored event with 16 blocks (no mm info), and of a
 * removed event with 16 hashes. Prints the median ns per operation over 7 rounds.
 *   build/rel/bench/bench_router [iterations per round, default 200000]
 * Feed mode: a manager (block size 16) feeding a router (kvbm_router_feed, a publisher
 * that drops the bytes): cycles of allocate 64 / complete from token blocks / register /
 * wait until the feed published their stored events / release / reset the inactive pool
 * (64 removed). `off`: the same cycles without the option, the events manager or the feed
 * (the manager's own cost). Prints ns per block (wall clock, all threads; use callgrind
 * for instruction counts).
 *   build/rel/bench/bench_router feed on|off [cycles, default 2000] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sched.h>

#include "bench_clock.h"
#include "kvbm/router_events.h"
#include "kvbm/tokens.h"

#define ROUNDS 7

static kvbm_router_stored_block blocks[16], out_blocks[16];
static uint64_t                 hashes[16], out_u64[64];
static volatile size_t          sink;

enum op { ENCODE, DECODE, JSON, JSON_DECODE };

static double run(enum op op, const kvbm_router_event *ev, long iters)
{
    static uint8_t buf[4096];
    static char js[8192];
    size_t len = 0;
    if (kvbm_router_event_encode(ev, buf, sizeof buf, &len) != KVBM_OK) abort();
    size_t jlen = 0;
    if (kvbm_router_event_to_json(ev, js, sizeof js, &jlen) != KVBM_OK) abort();
    kvbm_router_decode_space sp = { out_blocks, 16, NULL, 0, out_u64, 64 };
    double t[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            kvbm_router_event d;
            size_t n = 0;
            kvbm_status st = op == ENCODE   ? kvbm_router_event_encode(ev, buf, sizeof buf, &n)
                             : op == DECODE ? kvbm_router_event_decode(buf, len, &d, &sp)
                             : op == JSON   ? kvbm_router_event_to_json(ev, js, sizeof js, &n)
                                            : kvbm_router_event_from_json(js, jlen, &d, &sp);
            if (st != KVBM_OK) abort();
            sink += n;
        }
        t[r] = (now_ns() - t0) / (double)iters;
    }
    return bench_median(t, ROUNDS);
}

static kvbm_status drop(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    (void)ctx; (void)subject; (void)buf;
    sink += len;
    return KVBM_OK;
}

#define FEED_N 64

static int feed_bench(bool on, long cycles)
{
    uint32_t tokens[FEED_N * 16];
    for (uint32_t i = 0; i < FEED_N * 16; i++) tokens[i] = i * 7 + 1;
    kvbm_token_block *tb[FEED_N];
    for (int i = 0; i < FEED_N; i++)
        if (kvbm_token_block_create(tokens + 16 * i, 16, 42, i ? tb[i - 1] : NULL, &tb[i]) != KVBM_OK) abort();
    kvbm_registry *reg;
    if (kvbm_registry_create(NULL, &reg) != KVBM_OK) abort();
    kvbm_manager_config mc = KVBM_MANAGER_CONFIG_INIT;
    mc.registry = reg;
    mc.block_count = FEED_N;
    mc.router_tokens_hash = on;
    kvbm_manager *m;
    if (kvbm_manager_create(&mc, &m) != KVBM_OK) abort();
    kvbm_events_manager *em = NULL;
    kvbm_publisher *pub = NULL;
    kvbm_router_feed *f = NULL;
    if (on) {
        kvbm_publisher_ops ops = { drop, NULL, NULL };
        kvbm_router_feed_config fc = KVBM_ROUTER_FEED_CONFIG_INIT;
        if (kvbm_events_manager_create(NULL, &em) != KVBM_OK || kvbm_events_manager_attach(em, reg) != KVBM_OK ||
            kvbm_publisher_create(&ops, NULL, &pub) != KVBM_OK)
            abort();
        fc.events = em;
        fc.manager = m;
        fc.publisher = pub;
        fc.max_batch_size = FEED_N; /* flush each register / reset at once */
        if (kvbm_router_feed_start(&fc, &f) != KVBM_OK) abort();
    }
    kvbm_mutable *mu[FEED_N];
    kvbm_complete *c[FEED_N];
    kvbm_block *b[FEED_N];
    double t0 = now_ns();
    for (long k = 0; k < cycles; k++) {
        if (kvbm_manager_allocate(m, FEED_N, mu, NULL, NULL) != KVBM_OK) abort();
        for (int i = 0; i < FEED_N; i++)
            if (kvbm_mutable_complete(mu[i], tb[i], &c[i], NULL, NULL) != KVBM_OK) abort();
        if (kvbm_manager_register_blocks(m, c, FEED_N, b) != KVBM_OK) abort();
        if (on) { /* keep the blocks until their stored events are out (else: stale) */
            kvbm_router_feed_stats s;
            do {
                if (kvbm_router_feed_get_stats(f, &s) != KVBM_OK) abort();
                if (s.stored_blocks < (uint64_t)(k + 1) * FEED_N) sched_yield();
            } while (s.stored_blocks < (uint64_t)(k + 1) * FEED_N);
        }
        if (kvbm_block_release_many(b, FEED_N) != KVBM_OK) abort();
        if (kvbm_manager_reset_inactive_pool(m, NULL, NULL) != KVBM_OK) abort();
    }
    if (on) {
        kvbm_events_manager_close(em);
        if (kvbm_router_feed_join(f) != KVBM_OK) abort();
    }
    double ns = (now_ns() - t0) / (double)(cycles * FEED_N);
    kvbm_router_feed_stats s = { 0 };
    if (f != NULL && kvbm_router_feed_get_stats(f, &s) != KVBM_OK) abort();
    printf("feed %s: %ld cycles x %d blocks: %.0f ns/block (events %llu, stored %llu, removed %llu, stale %llu)\n",
           on ? "on" : "off", cycles, FEED_N, ns, (unsigned long long)s.events, (unsigned long long)s.stored_blocks,
           (unsigned long long)s.removed_hashes, (unsigned long long)s.stale);
    kvbm_router_feed_destroy(f);
    kvbm_publisher_release(pub);
    kvbm_events_manager_release(em);
    kvbm_manager_destroy(m);
    kvbm_registry_release(reg);
    for (int i = 0; i < FEED_N; i++) kvbm_token_block_destroy(tb[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "feed") == 0)
        return feed_bench(strcmp(argv[2], "on") == 0, argc > 3 ? atol(argv[3]) : 2000);
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
    printf("stored 16 blocks: encode %.0f  decode %.0f  json %.0f  json decode %.0f\n", run(ENCODE, &st, iters),
           run(DECODE, &st, iters), run(JSON, &st, iters), run(JSON_DECODE, &st, iters));
    printf("removed 16 hashes: encode %.0f  decode %.0f  json %.0f  json decode %.0f\n", run(ENCODE, &rm, iters),
           run(DECODE, &rm, iters), run(JSON, &rm, iters), run(JSON_DECODE, &rm, iters));
    return 0;
}
