/* tests/ext/vllm/test_vllm_convert.c - vLLM event -> router event (spec 20 §4.2.3) and the
 * §5.4 zmq_wire conversion test (Eagle windows), on the §4.1.4 hash vectors. */
#include "harness.h"
#include "kvbm/tokens.h"
#include "vllm_test_util.h"

static kvbm_router_stored_block g_blocks[256];

static kvbm_status conv(const kvbm_vllm_event *ev, uint32_t kv_bs, kvbm_router_event *out, bool *emitted,
                        size_t *dropped)
{
    return kvbm_vllm_event_to_router(ev, 7, 2, 42, kv_bs, out, g_blocks, 256, emitted, dropped);
}

static uint64_t win_hash(const uint32_t *t, size_t n) { return kvbm_tokens_block_hash(t, n, 1337); }

/* §5.4 test_convert_event_bigram_emits_eagle_windows: tokens 0..5 sent as bigrams, block 2:
 * windows [0,1,2] and [2,3,4]; a third block has no complete window and is dropped */
KVBM_TEST(bigram_event_converts_to_eagle_windows)
{
    mb m;
    mb_init(&m);
    mb_batch(&m, 1);
    mb_map(&m, 4);
    mb_str(&m, "type");
    mb_str(&m, "BlockStored");
    mb_str(&m, "block_hashes");
    mb_us(&m, (const uint64_t[]){ 100, 101, 102 }, 3);
    mb_str(&m, "token_ids");
    mb_arr(&m, 5);
    for (uint64_t a = 0; a < 5; a++) mb_us(&m, (const uint64_t[]){ a, a + 1 }, 2);
    mb_str(&m, "block_size");
    mb_u(&m, 2);
    mb_u(&m, 0);
    vsp *s = vsp_new();
    kvbm_vllm_batch b;
    ASSERT_OK(kvbm_vllm_batch_decode((const uint8_t *)m.sb.data, m.sb.size, NULL, &b, &s->sp));
    mb_free(&m);
    kvbm_router_event r;
    bool emitted;
    size_t dropped = 99;
    ASSERT_OK(conv(&b.events[0], 2, &r, &emitted, &dropped));
    EXPECT_TRUE(emitted);
    EXPECT_EQ(dropped, 1);
    EXPECT_EQ(r.kind, KVBM_ROUTER_STORED);
    EXPECT_EQ(r.worker_id, 7);
    EXPECT_EQ(r.dp_rank, 2);
    EXPECT_EQ(r.event_id, 42);
    EXPECT_EQ(r.storage_tier, KVBM_ROUTER_TIER_DEVICE);
    EXPECT_FALSE(r.has_parent_hash);
    EXPECT_FALSE(r.has_start_position);
    ASSERT_EQ(r.n_blocks, 2);
    static const uint32_t w0[] = { 0, 1, 2 }, w1[] = { 2, 3, 4 };
    EXPECT_EQ(r.blocks[0].block_hash, 100);
    EXPECT_TRUE(r.blocks[0].tokens_hash == win_hash(w0, 3));
    EXPECT_EQ(r.blocks[1].block_hash, 101);
    EXPECT_TRUE(r.blocks[1].tokens_hash == win_hash(w1, 3));
    EXPECT_TRUE(r.blocks[0].tokens_hash != win_hash(w0, 2)); /* not the plain window */
    EXPECT_FALSE(r.blocks[0].has_mm_extra_info);
    free(s);
}

/* §4.1.4 vectors through the conversion: plain, LoRA, MM (hashes appended sorted) */
KVBM_TEST(tokens_hash_vectors)
{
    static const uint32_t t[] = { 10, 20, 30, 40 }, t1[] = { 1, 2, 3, 4 };
    static const uint64_t h[] = { 555 };
    kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 1,
                           .has_parent = true, .parent_block_hash = 554, .token_ids = t, .n_token_ids = 4,
                           .block_size = 4, .medium = "CPU_TIER1" };
    kvbm_router_event r;
    bool emitted;
    ASSERT_OK(conv(&ev, 0, &r, &emitted, NULL));
    ASSERT_EQ(r.n_blocks, 1);
    EXPECT_TRUE(r.blocks[0].tokens_hash == UINT64_C(16324159493528209483));
    EXPECT_TRUE(r.has_parent_hash && r.parent_hash == 554);
    EXPECT_EQ(r.storage_tier, KVBM_ROUTER_TIER_HOST_PINNED);
    ev.lora_name = "adapter-x";
    ASSERT_OK(conv(&ev, 0, &r, &emitted, NULL));
    EXPECT_TRUE(r.blocks[0].tokens_hash == UINT64_C(6685748347521229854));
    ev.lora_name = ""; /* empty = no LoRA */
    ASSERT_OK(conv(&ev, 0, &r, &emitted, NULL));
    EXPECT_TRUE(r.blocks[0].tokens_hash == UINT64_C(16324159493528209483));
    static const kvbm_router_mm_object mm[2] = { { 5, NULL, 0 }, { 3, NULL, 0 } };
    static const kvbm_vllm_block_mm bmm[1] = { { mm, 2 } };
    ev = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 1,
                            .token_ids = t1, .n_token_ids = 4, .block_size = 4, .block_mm = bmm, .n_block_mm = 1 };
    ASSERT_OK(conv(&ev, 4, &r, &emitted, NULL));
    ASSERT_EQ(r.n_blocks, 1);
    EXPECT_TRUE(r.blocks[0].tokens_hash == UINT64_C(11530720033157309043));
    EXPECT_TRUE(r.blocks[0].has_mm_extra_info);
    EXPECT_TRUE(r.blocks[0].mm_objects == mm && r.blocks[0].n_mm_objects == 2);
}

/* a block with more MM objects than the stack buffer (the allocating path) */
KVBM_TEST(many_mm_objects_in_a_block)
{
    static kvbm_router_mm_object mm[100];
    uint64_t hashes[100];
    for (int i = 0; i < 100; i++) hashes[i] = mm[i].mm_hash = (uint64_t)(1000 - i);
    static const uint32_t t[] = { 1, 2 };
    static const uint64_t h[] = { 1 };
    kvbm_vllm_block_mm bmm = { mm, 100 };
    kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 1,
                           .token_ids = t, .n_token_ids = 2, .block_size = 2, .block_mm = &bmm, .n_block_mm = 1 };
    kvbm_router_block_mm rm = { hashes, 100 };
    uint64_t want;
    size_t n;
    ASSERT_OK(kvbm_router_tokens_hashes(t, 2, 2, NULL, false, &rm, 1, &want, 1, &n));
    kvbm_router_event r;
    bool emitted;
    ASSERT_OK(conv(&ev, 0, &r, &emitted, NULL));
    EXPECT_TRUE(r.blocks[0].tokens_hash == want);
}

/* a hash repeated within parent + block_hashes: an empty removed event */
KVBM_TEST(duplicate_hash_gives_empty_removed)
{
    static const uint32_t t[8] = { 0 };
    uint64_t h[100];
    for (int i = 0; i < 100; i++) h[i] = (uint64_t)i * 7919;
    kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 2,
                           .has_parent = true, .parent_block_hash = 7919, .token_ids = t, .n_token_ids = 8,
                           .block_size = 4 };
    kvbm_router_event r;
    bool emitted;
    size_t dropped = 9;
    ASSERT_OK(conv(&ev, 0, &r, &emitted, &dropped));
    EXPECT_TRUE(emitted);
    EXPECT_EQ(r.kind, KVBM_ROUTER_REMOVED);
    EXPECT_EQ(r.n_block_hashes, 0);
    EXPECT_EQ(dropped, 0);
    ev.has_parent = false; /* no repeat now */
    ASSERT_OK(conv(&ev, 0, &r, &emitted, &dropped));
    EXPECT_EQ(r.kind, KVBM_ROUTER_STORED);
    EXPECT_EQ(r.n_blocks, 2);
    /* a long list (the sorted path): repeat within the list, then none */
    ev.n_block_hashes = 100;
    h[99] = h[3];
    ASSERT_OK(conv(&ev, 0, &r, &emitted, &dropped));
    EXPECT_EQ(r.kind, KVBM_ROUTER_REMOVED);
    h[99] = 1;
    ASSERT_OK(conv(&ev, 0, &r, &emitted, &dropped));
    EXPECT_EQ(r.kind, KVBM_ROUTER_STORED);
    EXPECT_EQ(r.n_blocks, 2); /* 8 tokens: two blocks, 98 dropped */
    EXPECT_EQ(dropped, 98);
}

/* block-size violations stop the loop */
KVBM_TEST(block_size_violations_stop_the_loop)
{
    static const uint32_t t[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    static const uint64_t h[3] = { 1, 2, 3 };
    kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 3,
                           .token_ids = t, .n_token_ids = 10, .block_size = 4 };
    kvbm_router_event r;
    bool emitted;
    size_t dropped;
    ASSERT_OK(conv(&ev, 0, &r, &emitted, &dropped)); /* 10 tokens: 2 blocks of 4 */
    EXPECT_EQ(r.n_blocks, 2);
    EXPECT_EQ(dropped, 1);
    ASSERT_OK(conv(&ev, 8, &r, &emitted, &dropped)); /* the worker's block size is 8 */
    EXPECT_TRUE(emitted);
    EXPECT_EQ(r.kind, KVBM_ROUTER_STORED);
    EXPECT_EQ(r.n_blocks, 0);
    EXPECT_EQ(dropped, 3);
    ev.block_size = 0;
    ASSERT_OK(conv(&ev, 0, &r, &emitted, &dropped));
    EXPECT_EQ(r.n_blocks, 0);
    ev.block_size = 3; /* blocks_cap too small */
    EXPECT_STATUS(kvbm_vllm_event_to_router(&ev, 0, 0, 0, 0, &r, g_blocks, 2, &emitted, NULL), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "storage too small");
}

KVBM_TEST(removed_cleared_ignored)
{
    static const uint64_t h[2] = { 8, 9 };
    kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_REMOVED, .block_hashes = h, .n_block_hashes = 2, .medium = "nvme" };
    kvbm_router_event r;
    bool emitted;
    ASSERT_OK(conv(&ev, 0, &r, &emitted, NULL));
    EXPECT_TRUE(emitted);
    EXPECT_EQ(r.kind, KVBM_ROUTER_REMOVED);
    EXPECT_EQ(r.storage_tier, KVBM_ROUTER_TIER_DISK);
    EXPECT_TRUE(r.block_hashes == h && r.n_block_hashes == 2);
    ev = (kvbm_vllm_event){ .type = KVBM_VLLM_ALL_BLOCKS_CLEARED, .medium = "DISK" };
    ASSERT_OK(conv(&ev, 0, &r, &emitted, NULL));
    EXPECT_EQ(r.kind, KVBM_ROUTER_CLEARED);
    EXPECT_EQ(r.storage_tier, KVBM_ROUTER_TIER_DEVICE);
    ev.ignored = true;
    r.worker_id = 1234;
    ASSERT_OK(conv(&ev, 0, &r, &emitted, NULL));
    EXPECT_FALSE(emitted);
    EXPECT_EQ(r.worker_id, 1234); /* untouched */
    EXPECT_STATUS(kvbm_vllm_event_to_router(NULL, 0, 0, 0, 0, &r, NULL, 0, &emitted, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_event_to_router(&ev, 0, 0, 0, 0, &r, NULL, 0, NULL, NULL), KVBM_EINVAL);
    ev.type = (kvbm_vllm_event_type)5;
    EXPECT_STATUS(kvbm_vllm_event_to_router(&ev, 0, 0, 0, 0, &r, NULL, 0, &emitted, NULL), KVBM_EINVAL);
}

/* decode -> convert -> router encode: the router event of fixture 1 */
KVBM_TEST(fixture_converts_and_encodes)
{
    uint8_t in[64], out[256];
    size_t n = unhex("93cb409f4000000000009195ab426c6f636b53746f72656491020194323c46500400", in, sizeof in), len;
    vsp *s = vsp_new();
    kvbm_vllm_batch b;
    ASSERT_OK(kvbm_vllm_batch_decode(in, n, NULL, &b, &s->sp));
    kvbm_router_event r;
    bool emitted;
    ASSERT_OK(conv(&b.events[0], 4, &r, &emitted, NULL));
    ASSERT_OK(kvbm_router_event_encode(&r, out, sizeof out, &len));
    char json[512];
    ASSERT_OK(kvbm_router_event_to_json(&r, json, sizeof json, &len));
    static const uint32_t t[] = { 50, 60, 70, 80 };
    char want[512];
    snprintf(want, sizeof want,
             "{\"worker_id\":7,\"storage_tier\":\"device\",\"event\":{\"event_id\":42,\"data\":{\"stored\":"
             "{\"parent_hash\":1,\"start_position\":null,\"blocks\":[{\"block_hash\":2,\"tokens_hash\":%" PRIu64
             ",\"mm_extra_info\":null}]}},\"dp_rank\":2}}",
             win_hash(t, 4));
    EXPECT_STR_EQ(json, want);
    free(s);
}
