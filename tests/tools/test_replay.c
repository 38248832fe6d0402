/* tests/tools/test_replay.c - the replay engine against hand-computed counts.
 *
 * Trace T1 (capacity 4, block size 4): X = id 1.., blocks named by their id prefix:
 *   R1 [1,2,3]        A AB ABC        cold start: 3 allocations from reset
 *   R2 [4,5]          D DE            1 from reset + 1 eviction
 *   R3 [1,2,3]        A AB ABC        re-use after eviction (ABC was evicted)
 *   R4 [6,7,8,9,10]   5 blocks        longer than the capacity: no room
 *   R5 [1,2,3]                        full hit
 *   R6 [4,5,6]        D DE DEF        partial hit, two evictions
 *   R7 [1,2,3,11,12]                  prefix hit, but the remainder does not fit: no room
 * Walk-throughs (I = inactive pool, oldest first; F = reset blocks):
 *   LRU, reverse release (tail first):
 *     R1 F=1 I=[ABC AB A]; R2 evicts ABC, I=[AB A DE D]; R3 hits A AB, evicts DE,
 *     I=[D ABC AB A]; R4 no room (5 > 4); R5 hits 3; R6 hits D, evicts ABC AB,
 *     I=[A DEF DE D]; R7 hits A, needs 4 > 3 available: no room (4 blocks).
 *     hits 2+3+1+1 = 7, evictions 4, allocations 3+2+1+2 = 8, no room 2 requests / 5+4 blocks.
 *   Lineage (Tick), reverse: the oldest LRU entry is always a leaf here, so every step
 *     picks the same victim as LRU: same counts.
 *   LRU, forward release (head first): R1 I=[A AB ABC]; R2 evicts A (AB, ABC orphaned);
 *     R3 misses at A, allocates 3 and evicts AB ABC D (the orphans are the oldest, so they
 *     go before they could be registered again); R5 hits 3; R6 misses at D (evicted),
 *     evicts DE A AB; R7 misses at A: no room (5 blocks).
 *     hits 3, evictions 1+3+3 = 7, allocations 3+2+3+3 = 11, no room 2 / 10.
 *   Lineage, forward: leaves only, so no orphan: R1 leaves {ABC}; R2 evicts ABC;
 *     R3 hits A AB, evicts DE; R6 hits D, evicts ABC then AB; same counts as reverse.
 *
 * Trace T2 (capacity 4) for the duplicate path, MultiLRU (levels by TinyLFU count:
 * cold < 3 <= warm < 8):
 *   R1 [1,2] A AB registered (count 1); R2, R3 [1,2] full hits (counts 2, 3);
 *   R4 [3,4,5] 2 from reset + evicts 1 from the lowest non-empty level (warm);
 *   R5 [1,2]; R6 [6].
 *   forward: R3 parks A then AB in warm; R4 evicts A (AB orphaned, still cached);
 *     C CD CDE are cold; R5 misses at A, allocates 2 (evicts cold C CD), registers A fresh
 *     and AB -> AB is still cached: resurrected, the new block becomes a duplicate
 *     (duplicate_blocks 1); releasing the duplicate returns its slot to the reset pool,
 *     so R6 allocates from reset again (allocations_from_reset 5).
 *     hits 4, evictions 3, allocations 8, registrations 8, duplicates 1.
 *   reverse: R4 evicts AB (the older warm entry, a leaf); R5 hits A, evicts CDE,
 *     registers AB fresh; R6 evicts CD.
 *     hits 5, evictions 3, allocations 7, from reset 4, duplicates 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "replay.h"
#include "synth.h"
#include "trace.h"

static const char T1[] =
    "{\"timestamp\": 0, \"input_length\": 1536, \"output_length\": 10, \"hash_ids\": [1, 2, 3]}\n"
    "{\"hash_ids\": [4, 5]}\n"
    "{\"hash_ids\": [1, 2, 3], \"extra\": {\"ignored\": [1.5, \"x\"]}}\n"
    "\n"
    "{\"hash_ids\": [6, 7, 8, 9, 10]}\n"
    "{\"hash_ids\": [1, 2, 3]}\n"
    "{\"hash_ids\": [4, 5, 6]}\n"
    "{\"hash_ids\": [1, 2, 3, 11, 12]}\n";

static const char T2[] =
    "{\"hash_ids\": [1, 2]}\n"
    "{\"hash_ids\": [1, 2]}\n"
    "{\"hash_ids\": [1, 2]}\n"
    "{\"hash_ids\": [3, 4, 5]}\n"
    "{\"hash_ids\": [1, 2]}\n"
    "{\"hash_ids\": [6]}\n";

typedef struct expect {
    uint64_t requests, blocks, hits, nr_req, nr_blocks, evictions, allocations, from_reset,
             registrations, duplicates;
} expect;

static int run(const char *text, cli_backend b, uint64_t cap, cli_release_order o,
               cli_replay_result *res)
{
    cli_trace t;
    cli_replay_hashed h;
    char err[512];
    if (cli_trace_parse("t.jsonl", text, strlen(text), CLI_TRACE_STOP, NULL, &t, err, sizeof err) != 0) {
        fprintf(stderr, "parse: %s\n", err);
        return -1;
    }
    int rc = cli_replay_hash(&t, 4, &h, err, sizeof err);
    if (rc == 0) {
        cli_replay_config cfg = { b, cap, o, 2, CLI_TRACKER_MEDIUM, false };
        rc = cli_replay_run(&h, &cfg, res, err, sizeof err);
        if (rc != 0) fprintf(stderr, "run: %s\n", err);
        cli_replay_hashed_free(&h);
    }
    cli_trace_free(&t);
    return rc;
}

static void check(const cli_replay_result *r, const expect *e)
{
    EXPECT_EQ(r->requests, e->requests);
    EXPECT_EQ(r->blocks_requested, e->blocks);
    EXPECT_EQ(r->blocks_hit, e->hits);
    EXPECT_EQ(r->no_room_requests, e->nr_req);
    EXPECT_EQ(r->no_room_blocks, e->nr_blocks);
    EXPECT_EQ(r->evictions, e->evictions);
    EXPECT_EQ(r->allocations, e->allocations);
    EXPECT_EQ(r->allocations_from_reset, e->from_reset);
    EXPECT_EQ(r->registrations, e->registrations);
    EXPECT_EQ(r->duplicate_blocks, e->duplicates);
    EXPECT_TRUE(r->pool_restored);
    EXPECT_EQ(r->blocks_requested, r->blocks_hit + r->allocations + r->no_room_blocks);
}

static const expect T1_PREFIX_KEEPING = { 7, 24, 7, 2, 9, 4, 8, 4, 8, 0 };

KVBM_TEST(t1_lru_reverse)
{
    cli_replay_result r;
    ASSERT_OK(run(T1, CLI_LRU, 4, CLI_RELEASE_REVERSE, &r));
    check(&r, &T1_PREFIX_KEEPING);
    EXPECT_EQ(r.unique_blocks, 13); /* A AB ABC D DE DEF + 5 (R4) + ABC11 ABC11,12 */
}

KVBM_TEST(t1_lineage_reverse)
{
    cli_replay_result r;
    ASSERT_OK(run(T1, CLI_LINEAGE, 4, CLI_RELEASE_REVERSE, &r));
    check(&r, &T1_PREFIX_KEEPING);
}

KVBM_TEST(t1_lineage_forward)
{
    cli_replay_result r;
    ASSERT_OK(run(T1, CLI_LINEAGE, 4, CLI_RELEASE_FORWARD, &r));
    check(&r, &T1_PREFIX_KEEPING);
    ASSERT_OK(run(T1, CLI_LINEAGE_FIFO, 4, CLI_RELEASE_FORWARD, &r));
    check(&r, &T1_PREFIX_KEEPING);
}

KVBM_TEST(t1_lru_forward_orphans)
{
    cli_replay_result r;
    const expect e = { 7, 24, 3, 2, 10, 7, 11, 4, 11, 0 };
    ASSERT_OK(run(T1, CLI_LRU, 4, CLI_RELEASE_FORWARD, &r));
    check(&r, &e);
}

KVBM_TEST(t1_hashmap_matches_lru)
{
    /* HashMap + FIFO reuse evicts in insertion order, like LRU without refresh-in-pool. */
    cli_replay_result r;
    ASSERT_OK(run(T1, CLI_HASHMAP, 4, CLI_RELEASE_REVERSE, &r));
    check(&r, &T1_PREFIX_KEEPING);
}

KVBM_TEST(t1_large_capacity_only_cold_misses)
{
    /* capacity 64: nothing is evicted; only R4 (ids 6..10) and R7's tail are new. */
    cli_replay_result r;
    const expect e = { 7, 24, 11, 0, 0, 0, 13, 13, 13, 0 };
    ASSERT_OK(run(T1, CLI_LRU, 64, CLI_RELEASE_REVERSE, &r));
    check(&r, &e);
    EXPECT_EQ(r.blocks_requested - r.unique_blocks, r.blocks_hit); /* infinite-cache bound met */
}

KVBM_TEST(t2_multi_lru_forward_duplicate)
{
    cli_replay_result r;
    const expect e = { 6, 12, 4, 0, 0, 3, 8, 5, 8, 1 };
    ASSERT_OK(run(T2, CLI_MULTI_LRU, 4, CLI_RELEASE_FORWARD, &r));
    check(&r, &e);
}

KVBM_TEST(t2_multi_lru_reverse_no_duplicate)
{
    cli_replay_result r;
    const expect e = { 6, 12, 5, 0, 0, 3, 7, 4, 7, 0 };
    ASSERT_OK(run(T2, CLI_MULTI_LRU, 4, CLI_RELEASE_REVERSE, &r));
    check(&r, &e);
}

KVBM_TEST(capacity_zero_is_an_error)
{
    cli_trace t;
    cli_replay_hashed h;
    cli_replay_result r;
    char err[256] = "";
    ASSERT_OK(cli_trace_parse("t", T2, strlen(T2), CLI_TRACE_STOP, NULL, &t, err, sizeof err));
    ASSERT_OK(cli_replay_hash(&t, 4, &h, err, sizeof err));
    cli_replay_config cfg = { CLI_LRU, 0, CLI_RELEASE_REVERSE, 1, CLI_TRACKER_MEDIUM, false };
    EXPECT_EQ(cli_replay_run(&h, &cfg, &r, err, sizeof err), -1);
    EXPECT_STR_CONTAINS(err, "capacity");
    cli_replay_hashed_free(&h);
    EXPECT_EQ(cli_replay_hash(&t, 3, &h, err, sizeof err), -1); /* not a power of two */
    EXPECT_STR_CONTAINS(err, "power of 2");
    cli_trace_free(&t);
}

KVBM_TEST(fast_hashing_equals_token_sequence)
{
    cli_synth_config sc = CLI_SYNTH_CONFIG_INIT;
    sc.requests = 300;
    cli_trace t;
    char err[256];
    ASSERT_OK(cli_synth_generate(&sc, &t, err, sizeof err));
    for (uint32_t bs = 1; bs <= 16; bs *= 4) {
        cli_replay_hashed h;
        ASSERT_OK(cli_replay_hash(&t, bs, &h, err, sizeof err));
        kvbm_plh *ref = malloc(t.max_len * sizeof *ref);
        ASSERT_TRUE(ref != NULL);
        size_t bad = 0;
        for (size_t r = 0; r < t.n_requests; r++) {
            size_t n = t.offsets[r + 1] - t.offsets[r];
            if (cli_replay_hash_request_ref(t.ids + t.offsets[r], n, bs, ref) != 0) { bad++; continue; }
            for (size_t i = 0; i < n; i++)
                bad += !kvbm_plh_eq(ref[i], h.hashes[t.offsets[r] + i]);
        }
        EXPECT_EQ(bad, 0);
        free(ref);
        cli_replay_hashed_free(&h);
    }
    cli_trace_free(&t);
}

KVBM_TEST(prefix_sharing_gives_equal_hashes)
{
    static const char txt[] = "{\"hash_ids\":[7,8,9]}\n{\"hash_ids\":[7,8,1]}\n{\"hash_ids\":[8,8,9]}\n";
    cli_trace t;
    cli_replay_hashed h;
    char err[256];
    ASSERT_OK(cli_trace_parse("t", txt, strlen(txt), CLI_TRACE_STOP, NULL, &t, err, sizeof err));
    ASSERT_OK(cli_replay_hash(&t, 4, &h, err, sizeof err));
    EXPECT_TRUE(kvbm_plh_eq(h.hashes[0], h.hashes[3]));
    EXPECT_TRUE(kvbm_plh_eq(h.hashes[1], h.hashes[4]));
    EXPECT_FALSE(kvbm_plh_eq(h.hashes[2], h.hashes[5]));
    EXPECT_FALSE(kvbm_plh_eq(h.hashes[1], h.hashes[7])); /* same id, different prefix */
    EXPECT_EQ(kvbm_plh_position(h.hashes[8]), 2);
    EXPECT_EQ(h.unique, 7);
    cli_replay_hashed_free(&h);
    cli_trace_free(&t);
}

KVBM_TEST(synthetic_replay_is_deterministic)
{
    cli_synth_config sc = CLI_SYNTH_CONFIG_INIT;
    sc.requests = test_under_sanitizer() ? 500 : 2000;
    cli_replay_result res[2][CLI_BACKEND_COUNT];
    for (int k = 0; k < 2; k++) {
        cli_trace t;
        cli_replay_hashed h;
        char err[256];
        ASSERT_OK(cli_synth_generate(&sc, &t, err, sizeof err));
        ASSERT_OK(cli_replay_hash(&t, 4, &h, err, sizeof err));
        for (int b = 0; b < CLI_BACKEND_COUNT; b++) {
            cli_replay_config cfg = { (cli_backend)b, 512, CLI_RELEASE_REVERSE, 1,
                                       CLI_TRACKER_MEDIUM, false };
            int rc = cli_replay_run(&h, &cfg, &res[k][b], err, sizeof err);
            if (rc != 0) fprintf(stderr, "%s: %s\n", cli_backend_name((cli_backend)b), err);
            ASSERT_OK(rc);
            EXPECT_TRUE(res[k][b].evictions > 0);
            EXPECT_TRUE(res[k][b].blocks_hit > 0);
        }
        cli_replay_hashed_free(&h);
        cli_trace_free(&t);
    }
    for (int b = 0; b < CLI_BACKEND_COUNT; b++) {
        EXPECT_EQ(res[0][b].blocks_hit, res[1][b].blocks_hit);
        EXPECT_EQ(res[0][b].evictions, res[1][b].evictions);
        EXPECT_EQ(res[0][b].duplicate_blocks, res[1][b].duplicate_blocks);
        EXPECT_EQ(res[0][b].no_room_blocks, res[1][b].no_room_blocks);
    }
    /* reverse release keeps prefixes: LRU and lineage/Tick choose the same victims */
    EXPECT_EQ(res[0][CLI_LRU].blocks_hit, res[0][CLI_LINEAGE].blocks_hit);
}
