/* tests/ext/consolidator/test_daemon_soak.c - multi-source dedup soak: 4 engines (two vLLM,
 * one TRT-LLM, one SGLang) store and remove random blocks of a 10k-block catalogue for a
 * bounded time, one clears everything once; the consolidator's output applied to an empty
 * index must equal the union of the engines' live sets at the end, and must never store a
 * live block or remove a dead one. */
#include <stdlib.h>
#include <time.h>

#include "daemon_env.h"
#include "harness.h"
#include "kvbm/tokens.h"

enum { CAT = 10000, ENG = 4, OPS_PER_BATCH = 8 };

typedef struct cat_entry {
    uint64_t rhash; /* router hash of the block's PLH */
    uint32_t index;
} cat_entry;

static int cmp_entry(const void *a, const void *b)
{
    uint64_t x = ((const cat_entry *)a)->rhash, y = ((const cat_entry *)b)->rhash;
    return x < y ? -1 : x > y;
}

static long find(const cat_entry *cat, uint64_t rhash)
{
    size_t lo = 0, hi = CAT;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cat[mid].rhash < rhash) lo = mid + 1;
        else hi = mid;
    }
    return lo < CAT && cat[lo].rhash == rhash ? (long)cat[lo].index : -1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

KVBM_TEST(daemon_multi_source_dedup_soak)
{
    uint64_t seed = test_seed();
    printf("    seed %llu\n", (unsigned long long)seed);
    srand((unsigned)seed);
    static cat_entry cat[CAT];
    static uint32_t tok[CAT][4];
    for (uint32_t i = 0; i < CAT; i++) {
        for (uint32_t k = 0; k < 4; k++) tok[i][k] = 4 * i + k;
        kvbm_plh plh;
        ASSERT_OK(kvbm_cons_block_plh(tok[i], 4, 4, NULL, NULL, &plh));
        cat[i] = (cat_entry){ kvbm_plh_router_block_hash(plh), i };
    }
    qsort(cat, CAT, sizeof cat[0], cmp_entry);

    static fpub eng[ENG];
    static bool live[ENG][CAT];
    memset(live, 0, sizeof live);
    for (int e = 0; e < ENG; e++) ASSERT_TRUE(fpub_start(&eng[e], true, NULL));
    const char *src[ENG] = { "vllm", "vllm", "trtllm", "sglang" };
    kvbm_consolidator *c = denv_open(eng, ENG, src, 0, NULL);
    ASSERT_TRUE(c != NULL);

    double budget = test_under_sanitizer() ? 1.0 : 2.0, t0 = now_s();
    int max_batches = test_under_sanitizer() ? 4000 : 16000;
    uint8_t buf[4096];
    kvbm_vllm_event ev[OPS_PER_BATCH];
    uint64_t hashes[OPS_PER_BATCH];
    int batches = 0;
    bool cleared = false;
    while (batches < max_batches && now_s() - t0 < budget) {
        int e = batches % ENG;
        size_t n = 0;
        if (e == 3 && !cleared && batches > max_batches / 8) { /* one AllBlocksCleared */
            cleared = true;
            memset(&ev[0], 0, sizeof ev[0]);
            ev[0].type = KVBM_VLLM_ALL_BLOCKS_CLEARED;
            memset(live[e], 0, sizeof live[e]);
            n = 1;
        } else {
            for (; n < OPS_PER_BATCH; n++) {
                uint32_t i = (uint32_t)rand() % CAT;
                bool dup = false;
                for (size_t k = 0; k < n; k++) dup = dup || hashes[k] == (uint64_t)i + 1;
                if (dup) break;
                hashes[n] = (uint64_t)i + 1; /* engines agree on a block's hash */
                memset(&ev[n], 0, sizeof ev[n]);
                ev[n].block_hashes = &hashes[n];
                ev[n].n_block_hashes = 1;
                if (live[e][i]) {
                    ev[n].type = KVBM_VLLM_BLOCK_REMOVED;
                } else {
                    ev[n].type = KVBM_VLLM_BLOCK_STORED;
                    ev[n].token_ids = tok[i];
                    ev[n].n_token_ids = 4;
                    ev[n].block_size = 4;
                }
                live[e][i] = !live[e][i];
            }
        }
        kvbm_vllm_batch b = { .ts = 1.0, .events = ev, .n_events = n, .has_dp_rank = true, .dp_rank = 0 };
        size_t len = 0;
        ASSERT_OK(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_MAP, buf, sizeof buf, &len));
        fpub_send(&eng[e], buf, len, false);
        batches++;
    }
    printf("    %d engine batches in %.2f s\n", batches, now_s() - t0);
    EXPECT_TRUE(denv_wait_inputs(c, eng, ENG));
    kvbm_consolidator_flush(c);

    kvbm_consolidator_stats st;
    ASSERT_OK(kvbm_consolidator_get_stats(c, &st));
    kvbm_vllm_sub *r = denv_reader(c);
    ASSERT_TRUE(r != NULL);
    static bool index[CAT];
    memset(index, 0, sizeof index);
    size_t bad_store = 0, bad_remove = 0, unknown = 0, clears = 0;
    for (uint64_t k = 0; k < st.batches_out; k++) {
        kvbm_vllm_batch b;
        kvbm_vllm_sub_msg m;
        ASSERT_OK(kvbm_vllm_sub_recv_batch(r, 10000, NULL, &b, &m));
        EXPECT_EQ_U64(m.seq, k);
        for (size_t i = 0; i < b.n_events; i++) {
            const kvbm_vllm_event *x = &b.events[i];
            if (x->type == KVBM_VLLM_ALL_BLOCKS_CLEARED) {
                memset(index, 0, sizeof index);
                clears++;
                continue;
            }
            long j = find(cat, x->block_hashes[0]);
            if (j < 0) {
                unknown++;
                continue;
            }
            if (x->type == KVBM_VLLM_BLOCK_STORED) {
                bad_store += index[j];
                index[j] = true;
            } else {
                bad_remove += !index[j];
                index[j] = false;
            }
        }
    }
    size_t mismatch = 0, n_live = 0;
    for (uint32_t i = 0; i < CAT; i++) {
        bool want = live[0][i] || live[1][i] || live[2][i] || live[3][i];
        n_live += want;
        mismatch += want != index[i];
    }
    printf("    %zu live blocks, %llu events out in %llu batches, %llu duplicates suppressed\n", n_live,
           (unsigned long long)st.events_out, (unsigned long long)st.batches_out,
           (unsigned long long)st.duplicates);
    EXPECT_EQ(mismatch, 0);
    EXPECT_EQ(bad_store, 0);
    EXPECT_EQ(bad_remove, 0);
    EXPECT_EQ(unknown, 0);
    EXPECT_EQ(clears, 0); /* several engines: a clear removes that engine's blocks only */
    EXPECT_EQ_U64(st.live_blocks, n_live);
    EXPECT_EQ_U64(st.unrecoverable, 0); /* gaps at start-up are recovered by replay */
    EXPECT_GT(st.duplicates, 0);
    kvbm_vllm_sub_destroy(r);
    kvbm_consolidator_destroy(c);
    for (int e = 0; e < ENG; e++) fpub_stop(&eng[e]);
}
