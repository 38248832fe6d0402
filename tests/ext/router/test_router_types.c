/* tests/ext/router/test_router_types.c - storage tiers (spec 20 §4.1.3), the event_id
 * generator (§4.1.5) and router events carrying tokens_hash values (§4.1.4, §5.4
 * test_router_event_new and the hashing vectors, through an encode/decode round trip). */
#include <string.h>
#include <xxhash.h>

#include "harness.h"
#include "internal.h"
#include "kvbm/router_events.h"
#include "kvbm/tokens.h"

KVBM_TEST(tier_from_medium_every_listed_name)
{
    static const struct { const char *m; kvbm_router_tier t; } cases[] = {
        { "GPU", KVBM_ROUTER_TIER_DEVICE },           { "DEVICE", KVBM_ROUTER_TIER_DEVICE },
        { "CPU_PINNED", KVBM_ROUTER_TIER_HOST_PINNED }, { "CPU_TIER1", KVBM_ROUTER_TIER_HOST_PINNED },
        { "CPU", KVBM_ROUTER_TIER_HOST_PINNED },       { "CPU_TIER2", KVBM_ROUTER_TIER_DISK },
        { "DISK", KVBM_ROUTER_TIER_DISK },             { "NVME", KVBM_ROUTER_TIER_DISK },
        { "STORAGE", KVBM_ROUTER_TIER_DISK },          { "EXTERNAL", KVBM_ROUTER_TIER_EXTERNAL },
        { "NETWORK", KVBM_ROUTER_TIER_EXTERNAL },      { "REMOTE", KVBM_ROUTER_TIER_EXTERNAL },
        { "SHARED", KVBM_ROUTER_TIER_EXTERNAL },       { "nvme", KVBM_ROUTER_TIER_DISK },
        { "Cpu_Pinned", KVBM_ROUTER_TIER_HOST_PINNED }, { "TAPE", KVBM_ROUTER_TIER_DEVICE },
        { "", KVBM_ROUTER_TIER_DEVICE },               { "DISK ", KVBM_ROUTER_TIER_DEVICE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECT_EQ(kvbm_router_tier_from_medium(cases[i].m), cases[i].t);
    EXPECT_EQ(kvbm_router_tier_from_medium(NULL), KVBM_ROUTER_TIER_DEVICE);
}

KVBM_TEST(tier_names_and_kvbm_layouts)
{
    EXPECT_STR_EQ(kvbm_router_tier_name(KVBM_ROUTER_TIER_DEVICE), "device");
    EXPECT_STR_EQ(kvbm_router_tier_name(KVBM_ROUTER_TIER_HOST_PINNED), "host_pinned");
    EXPECT_STR_EQ(kvbm_router_tier_name(KVBM_ROUTER_TIER_DISK), "disk");
    EXPECT_STR_EQ(kvbm_router_tier_name(KVBM_ROUTER_TIER_EXTERNAL), "external");
    EXPECT_TRUE(kvbm_router_tier_name((kvbm_router_tier)4) == NULL);
    static const kvbm_router_tier want[4] = { KVBM_ROUTER_TIER_DEVICE, KVBM_ROUTER_TIER_HOST_PINNED,
                                              KVBM_ROUTER_TIER_DISK, KVBM_ROUTER_TIER_EXTERNAL };
    static const kvbm_layout g[4] = { KVBM_G1, KVBM_G2, KVBM_G3, KVBM_G4 };
    for (int i = 0; i < 4; i++) {
        kvbm_router_tier t = (kvbm_router_tier)99;
        EXPECT_OK(kvbm_router_tier_from_layout(g[i], &t));
        EXPECT_EQ(t, want[i]);
    }
    kvbm_router_tier t = KVBM_ROUTER_TIER_DISK;
    EXPECT_STATUS(kvbm_router_tier_from_layout((kvbm_layout)4, &t), KVBM_EINVAL);
    EXPECT_EQ(t, KVBM_ROUTER_TIER_DISK);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "G1..G4");
    EXPECT_STATUS(kvbm_router_tier_from_layout(KVBM_G1, NULL), KVBM_EINVAL);
}

/* event_id: from 0, +1 per event, independent per (worker, dp_rank) */
KVBM_TEST(event_ids_monotonic_per_worker_and_rank)
{
    kvbm_router_event_ids *g = NULL;
    ASSERT_OK(kvbm_router_event_ids_create(&g));
    uint64_t id = 99;
    for (uint64_t k = 0; k < 5; k++) {
        ASSERT_OK(kvbm_router_event_ids_next(g, 7, 0, &id));
        EXPECT_EQ_U64(id, k);
    }
    ASSERT_OK(kvbm_router_event_ids_next(g, 7, 1, &id)); /* other dp_rank */
    EXPECT_EQ_U64(id, 0);
    ASSERT_OK(kvbm_router_event_ids_next(g, 8, 0, &id)); /* other worker */
    EXPECT_EQ_U64(id, 0);
    ASSERT_OK(kvbm_router_event_ids_next(g, 7, 0, &id));
    EXPECT_EQ_U64(id, 5);
    /* many pairs (the table grows several times); each keeps its own counter */
    for (uint64_t w = 0; w < 300; w++)
        for (uint32_t r = 0; r < 3; r++)
            for (uint64_t k = 0; k <= w % 4; k++) {
                ASSERT_OK(kvbm_router_event_ids_next(g, UINT64_C(1) << 40 | w, r, &id));
                EXPECT_EQ_U64(id, k);
            }
    ASSERT_OK(kvbm_router_event_ids_next(g, 7, 1, &id));
    EXPECT_EQ_U64(id, 1);
    EXPECT_STATUS(kvbm_router_event_ids_next(NULL, 7, 0, &id), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_event_ids_next(g, 7, 0, NULL), KVBM_EINVAL);
    kvbm_router_event_ids_destroy(g);
    kvbm_router_event_ids_destroy(NULL);
    EXPECT_STATUS(kvbm_router_event_ids_create(NULL), KVBM_EINVAL);
}

/* a failed allocation (create, or growth for a new pair) reports ENOMEM and changes nothing */
KVBM_TEST(event_ids_allocation_failure)
{
    kvbm_router_event_ids *g = NULL;
    for (long n = 1; n <= 2; n++) {
        kvbm__alloc_fail_set(n);
        EXPECT_STATUS(kvbm_router_event_ids_create(&g), KVBM_ENOMEM);
        kvbm__alloc_fail_set(0);
    }
    ASSERT_OK(kvbm_router_event_ids_create(&g));
    uint64_t id;
    for (uint64_t w = 0; w < 4; w++) ASSERT_OK(kvbm_router_event_ids_next(g, w, 0, &id)); /* 4 of 8 slots */
    kvbm__alloc_fail_set(1);
    EXPECT_STATUS(kvbm_router_event_ids_next(g, 4, 0, &id), KVBM_ENOMEM); /* needs growth */
    kvbm__alloc_fail_set(0);
    for (uint64_t w = 0; w < 4; w++) {
        ASSERT_OK(kvbm_router_event_ids_next(g, w, 0, &id));
        EXPECT_EQ_U64(id, 1);
    }
    ASSERT_OK(kvbm_router_event_ids_next(g, 4, 0, &id));
    EXPECT_EQ_U64(id, 0);
    kvbm_router_event_ids_destroy(g);
}

/* encode then decode @n blocks carrying @th as tokens_hash; the decoded values must match */
static void round_trip_hashes(const uint64_t *th, size_t n)
{
    kvbm_router_stored_block b[8];
    ASSERT_TRUE(n <= 8);
    for (size_t i = 0; i < n; i++) b[i] = (kvbm_router_stored_block){ 1000 + i, th[i], false, NULL, 0 };
    kvbm_router_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = KVBM_ROUTER_STORED;
    ev.blocks = b;
    ev.n_blocks = n;
    uint8_t buf[1024];
    size_t len;
    ASSERT_OK(kvbm_router_event_encode(&ev, buf, sizeof buf, &len));
    kvbm_router_stored_block ob[8];
    kvbm_router_decode_space sp = { ob, 8, NULL, 0, NULL, 0 };
    kvbm_router_event out;
    ASSERT_OK(kvbm_router_event_decode(buf, len, &out, &sp));
    ASSERT_EQ(out.n_blocks, n);
    for (size_t i = 0; i < n; i++) EXPECT_EQ_U64(out.blocks[i].tokens_hash, th[i]);
}

/* test_router_event_new: a stored event whose tokens_hash is compute_block_hash("test data") */
KVBM_TEST(router_event_new_test_data_hash)
{
    uint64_t h = XXH3_64bits_withSeed("test data", 9, KVBM_ROUTER_XXH3_SEED);
    EXPECT_EQ_U64(h, UINT64_C(13226331709069118873));
    round_trip_hashes(&h, 1);
}

/* every §4.1.4 vector, computed with kvbm_router_tokens_hashes and carried by an event */
KVBM_TEST(tokens_hash_spec_vectors_in_events)
{
    static const uint32_t t[4] = { 10, 20, 30, 40 }, z[4] = { 0, 1, 2, 3 }, one[4] = { 1, 2, 3, 4 };
    static const uint32_t six[6] = { 0, 1, 2, 3, 4, 5 };
    static const uint64_t mmh[2] = { 5, 3 };
    kvbm_router_block_mm mm = { mmh, 2 };
    uint64_t h[8];
    size_t n = 0;
    EXPECT_EQ_U64(kvbm_router_seed("adapter-x"), UINT64_C(18075064641689012588));
    ASSERT_OK(kvbm_router_tokens_hashes(t, 4, 4, NULL, false, NULL, 0, &h[0], 1, &n));
    ASSERT_OK(kvbm_router_tokens_hashes(t, 4, 4, "adapter-x", false, NULL, 0, &h[1], 1, &n));
    ASSERT_OK(kvbm_router_tokens_hashes(z, 4, 4, "", false, NULL, 0, &h[2], 1, &n));
    ASSERT_OK(kvbm_router_tokens_hashes(one, 4, 4, NULL, false, &mm, 1, &h[3], 1, &n));
    EXPECT_EQ_U64(h[0], UINT64_C(16324159493528209483));
    EXPECT_EQ_U64(h[1], UINT64_C(6685748347521229854));
    EXPECT_EQ_U64(h[2], UINT64_C(9143094415614847814));
    EXPECT_EQ_U64(h[3], UINT64_C(11530720033157309043));
    round_trip_hashes(h, 4);
    /* Eagle: tokens 0..5, block 2 -> windows [0,1,2], [2,3,4] (2 hashes instead of 3) */
    uint64_t e[4];
    ASSERT_OK(kvbm_router_tokens_hashes(six, 6, 2, NULL, true, NULL, 0, e, 4, &n));
    ASSERT_EQ(n, 2);
    EXPECT_EQ_U64(e[0], kvbm_tokens_block_hash(six, 3, KVBM_ROUTER_XXH3_SEED));
    EXPECT_EQ_U64(e[1], kvbm_tokens_block_hash(six + 2, 3, KVBM_ROUTER_XXH3_SEED));
    ASSERT_OK(kvbm_router_tokens_hashes(six, 6, 2, NULL, false, NULL, 0, h, 4, &n));
    EXPECT_EQ(n, 3);
    round_trip_hashes(e, 2);
}
