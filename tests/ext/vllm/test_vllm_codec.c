/* tests/ext/vllm/test_vllm_codec.c - vLLM KVEventBatch encode (map/array form), decode
 * round trips, the spec's byte vectors (§4.3.4 egress, sync sentinel, §4.4 fixtures),
 * JSON rendering, encoder argument errors. */
#include "harness.h"
#include "vllm_test_util.h"

#define H1 UINT64_C(0x000b1091fc91c84b)
#define H2 UINT64_C(0x001314e0aef99641)

static const char EGRESS_HEX[] =
    "93cb408f4000000000009395ab426c6f636b53746f72656491cf000b1091fc91c84bc0940a141e280495ab426c6f636b53746f"
    "72656491cf001314e0aef99641cf000b1091fc91c84b94323c46500492ac426c6f636b52656d6f76656491cf000b1091fc91c8"
    "4b00";
static const char SENTINEL_HEX[] = "93cb00000000000000009191b0416c6c426c6f636b73436c6561726564c0";
static const char *const FIXTURES[3] = {
    "93cb408f4000000000009195ab426c6f636b53746f7265649101c0940a141e280400",
    "93cb409f4000000000009195ab426c6f636b53746f72656491020194323c46500400",
    "93cb40a77000000000009192ac426c6f636b52656d6f766564910100",
};

static void expect_hex(const kvbm_vllm_batch *b, kvbm_vllm_form form, const char *hex)
{
    uint8_t want[1024], got[1024];
    size_t n = unhex(hex, want, sizeof want), len = 0;
    EXPECT_OK(kvbm_vllm_batch_encode(b, form, got, sizeof got, &len));
    EXPECT_EQ(len, n);
    if (len != n || memcmp(got, want, n) != 0) {
        char h[2100];
        tohex(got, len < 1000 ? len : 1000, h);
        kvbm_test_fail(__FILE__, __LINE__, "encoded %s", h);
    }
}

/* §4.3.4: the consolidator's e2e egress batch is what the array form writes */
KVBM_TEST(array_form_matches_egress_vector)
{
    static const uint32_t t1[] = { 10, 20, 30, 40 }, t2[] = { 50, 60, 70, 80 };
    static const uint64_t h1[] = { H1 }, h2[] = { H2 };
    kvbm_vllm_event ev[3];
    memset(ev, 0, sizeof ev);
    ev[0] = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h1, .n_block_hashes = 1,
                               .token_ids = t1, .n_token_ids = 4, .block_size = 4 };
    ev[1] = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h2, .n_block_hashes = 1,
                               .has_parent = true, .parent_block_hash = H1, .token_ids = t2, .n_token_ids = 4,
                               .block_size = 4 };
    ev[2] = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_REMOVED, .block_hashes = h1, .n_block_hashes = 1 };
    kvbm_vllm_batch b = { 1000.0, ev, 3, true, 0 };
    expect_hex(&b, KVBM_VLLM_FORM_ARRAY, EGRESS_HEX);
}

KVBM_TEST(array_form_matches_sync_sentinel)
{
    kvbm_vllm_event ev = { .type = KVBM_VLLM_ALL_BLOCKS_CLEARED };
    kvbm_vllm_batch b = { 0.0, &ev, 1, false, 0 };
    expect_hex(&b, KVBM_VLLM_FORM_ARRAY, SENTINEL_HEX);
}

/* §4.4: the three fixture payloads decode as tabled and re-encode byte for byte */
KVBM_TEST(fixture_payloads_decode)
{
    vsp *s = vsp_new();
    static const double ts[3] = { 1000.0, 2000.0, 3000.0 };
    for (int i = 0; i < 3; i++) {
        uint8_t in[64], out[64];
        size_t n = unhex(FIXTURES[i], in, sizeof in), len = 0;
        kvbm_vllm_batch b;
        ASSERT_OK(kvbm_vllm_batch_decode(in, n, NULL, &b, &s->sp));
        EXPECT_TRUE(b.ts == ts[i]);
        EXPECT_TRUE(b.has_dp_rank);
        EXPECT_EQ(b.dp_rank, 0);
        ASSERT_EQ(b.n_events, 1);
        const kvbm_vllm_event *e = &b.events[0];
        EXPECT_FALSE(e->ignored);
        ASSERT_EQ(e->n_block_hashes, 1);
        if (i < 2) {
            EXPECT_EQ(e->type, KVBM_VLLM_BLOCK_STORED);
            EXPECT_EQ(e->block_hashes[0], (uint64_t)i + 1);
            EXPECT_EQ(e->has_parent, i == 1);
            if (i == 1) EXPECT_EQ(e->parent_block_hash, 1);
            ASSERT_EQ(e->n_token_ids, 4);
            for (int k = 0; k < 4; k++) EXPECT_EQ(e->token_ids[k], (uint32_t)(10 * (k + 1) + 40 * i));
            EXPECT_EQ(e->block_size, 4);
            EXPECT_TRUE(e->lora_name == NULL && e->medium == NULL && e->n_block_mm == 0 && !e->has_lora_id);
        } else {
            EXPECT_EQ(e->type, KVBM_VLLM_BLOCK_REMOVED);
            EXPECT_EQ(e->block_hashes[0], 1);
        }
        EXPECT_OK(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_ARRAY, out, sizeof out, &len));
        EXPECT_TRUE(len == n && memcmp(in, out, n) == 0);
    }
    free(s);
}

/* a rich batch: every optional field of both event types */
static const uint64_t RH[3] = { UINT64_C(0xfedcba9876543210), 2, 3 };
static const uint32_t RT[13] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 4000000000u };
static const uint64_t ROFF[4] = { 0, 2, 1, 3 };
static const kvbm_router_mm_object RMM[2] = { { 77, ROFF, 2 }, { UINT64_C(0x8000000000000001), ROFF + 2, 1 } };
static const kvbm_vllm_block_mm RBMM[2] = { { NULL, 0 }, { RMM, 2 } };

static void rich_events(kvbm_vllm_event ev[4], bool group)
{
    memset(ev, 0, 4 * sizeof *ev);
    ev[0] = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = RH, .n_block_hashes = 3,
                               .has_parent = true, .parent_block_hash = 99, .token_ids = RT, .n_token_ids = 13,
                               .block_size = 4, .lora_name = "adapter-x", .medium = "CPU_TIER1",
                               .block_mm = RBMM, .n_block_mm = 2 };
    ev[1] = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = RH + 1, .n_block_hashes = 1,
                               .token_ids = RT, .n_token_ids = 5, .is_eagle = true, .block_size = 4,
                               .has_group_idx = group, .kv_cache_spec_kind = group ? "full_attention" : NULL,
                               .has_sliding_window = group, .sliding_window = group ? 128 : 0 };
    ev[2] = (kvbm_vllm_event){ .type = KVBM_VLLM_BLOCK_REMOVED, .block_hashes = RH, .n_block_hashes = 2,
                               .medium = "GPU", .has_group_idx = group, .group_idx = 0 };
    ev[3] = (kvbm_vllm_event){ .type = KVBM_VLLM_ALL_BLOCKS_CLEARED };
}

static bool same_str(const char *a, const char *b) { return (a == NULL && b == NULL) || (a && b && !strcmp(a, b)); }

static void expect_same_event(const kvbm_vllm_event *a, const kvbm_vllm_event *b)
{
    EXPECT_EQ(a->type, b->type);
    ASSERT_EQ(a->n_block_hashes, b->n_block_hashes);
    for (size_t i = 0; i < a->n_block_hashes; i++) EXPECT_EQ(a->block_hashes[i], b->block_hashes[i]);
    EXPECT_TRUE(same_str(a->medium, b->medium));
    EXPECT_EQ(a->has_group_idx, b->has_group_idx);
    EXPECT_EQ(a->group_idx, b->group_idx);
    EXPECT_TRUE(same_str(a->kv_cache_spec_kind, b->kv_cache_spec_kind));
    EXPECT_EQ(a->has_sliding_window, b->has_sliding_window);
    EXPECT_EQ(a->sliding_window, b->sliding_window);
    if (a->type != KVBM_VLLM_BLOCK_STORED) return;
    EXPECT_EQ(a->has_parent, b->has_parent);
    EXPECT_EQ(a->parent_block_hash, b->parent_block_hash);
    ASSERT_EQ(a->n_token_ids, b->n_token_ids);
    for (size_t i = 0; i < a->n_token_ids; i++) EXPECT_EQ(a->token_ids[i], b->token_ids[i]);
    EXPECT_EQ(a->is_eagle, b->is_eagle);
    EXPECT_EQ(a->block_size, b->block_size);
    EXPECT_TRUE(same_str(a->lora_name, b->lora_name));
    ASSERT_EQ(a->n_block_mm, b->n_block_mm);
    for (size_t i = 0; i < a->n_block_mm; i++) {
        ASSERT_EQ(a->block_mm[i].n_objects, b->block_mm[i].n_objects);
        for (size_t o = 0; o < a->block_mm[i].n_objects; o++) {
            const kvbm_router_mm_object *x = &a->block_mm[i].objects[o], *y = &b->block_mm[i].objects[o];
            EXPECT_EQ(x->mm_hash, y->mm_hash);
            ASSERT_EQ(x->n_offsets, y->n_offsets);
            EXPECT_TRUE(memcmp(x->offsets, y->offsets, 2 * x->n_offsets * sizeof *x->offsets) == 0);
        }
    }
}

static void round_trip(kvbm_vllm_form form, bool group)
{
    kvbm_vllm_event ev[4];
    rich_events(ev, group);
    kvbm_vllm_batch b = { 1733472000.25, ev, 4, true, 3 }, d;
    uint8_t buf[2048];
    size_t len = 0, need = 0;
    vsp *s = vsp_new();
    EXPECT_STATUS(kvbm_vllm_batch_encode(&b, form, NULL, 0, &need), KVBM_EOVERFLOW);
    EXPECT_STATUS(kvbm_vllm_batch_encode(&b, form, buf, need - 1, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(len, need);
    ASSERT_OK(kvbm_vllm_batch_encode(&b, form, buf, sizeof buf, &len));
    EXPECT_EQ(len, need);
    EXPECT_TRUE(form == KVBM_VLLM_FORM_MAP ? (buf[11] & 0xf0) == 0x80 : (buf[11] & 0xf0) == 0x90);
    ASSERT_OK(kvbm_vllm_batch_decode(buf, len, NULL, &d, &s->sp));
    EXPECT_TRUE(d.ts == b.ts);
    EXPECT_TRUE(d.has_dp_rank);
    EXPECT_EQ(d.dp_rank, 3);
    ASSERT_EQ(d.n_events, 4);
    for (int i = 0; i < 4; i++) expect_same_event(&ev[i], &d.events[i]);
    free(s);
}

KVBM_TEST(map_form_round_trip) { round_trip(KVBM_VLLM_FORM_MAP, true); }
KVBM_TEST(array_form_round_trip) { round_trip(KVBM_VLLM_FORM_ARRAY, false); }
KVBM_TEST(array_form_round_trip_group_fields)
{
    kvbm_vllm_event ev[4];
    rich_events(ev, true);
    ev[0].n_block_mm = 0; /* group fields use index 9..11 */
    kvbm_vllm_batch b = { 2.0, ev, 4, false, 0 }, d;
    uint8_t buf[2048];
    size_t len;
    vsp *s = vsp_new();
    ASSERT_OK(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_ARRAY, buf, sizeof buf, &len));
    ASSERT_OK(kvbm_vllm_batch_decode(buf, len, NULL, &d, &s->sp));
    EXPECT_FALSE(d.has_dp_rank);
    ASSERT_EQ(d.n_events, 4);
    for (int i = 0; i < 4; i++) expect_same_event(&ev[i], &d.events[i]);
    /* MM info and a group both want index 9 */
    ev[0].n_block_mm = 2;
    ev[0].has_group_idx = true;
    EXPECT_STATUS(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_ARRAY, buf, sizeof buf, &len), KVBM_EUNSUPPORTED);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "index 9");
    EXPECT_OK(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_MAP, buf, sizeof buf, &len));
    free(s);
}

/* The wire decision (docs/DESIGN.md "Interop"): lora_id always nil at 5, medium at 6,
 * lora_name at 7, trailing nils omitted; map form writes type first, nil options omitted
 * (parent_block_hash always). */
KVBM_TEST(array_form_layout_with_lora_name)
{
    static const uint64_t h[] = { 5 };
    static const uint32_t t[] = { 1, 2 };
    kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 1,
                           .token_ids = t, .n_token_ids = 2, .block_size = 2, .lora_name = "L" };
    kvbm_vllm_batch b = { 0.0, &ev, 1, true, 1 };
    /* [0.0, [["BlockStored", [5], nil, [1,2], 2, nil, nil, "L"]], 1] */
    expect_hex(&b, KVBM_VLLM_FORM_ARRAY, "93cb00000000000000009198ab426c6f636b53746f7265649105c092010202c0c0a14c01");
    ev.lora_name = NULL;
    ev.medium = "GPU";
    expect_hex(&b, KVBM_VLLM_FORM_ARRAY, "93cb00000000000000009197ab426c6f636b53746f7265649105c092010202c0a347505501");
    /* map: {"type": "BlockStored", "block_hashes": [5], "parent_block_hash": nil,
     *       "token_ids": [1,2], "block_size": 2, "medium": "GPU"} */
    expect_hex(&b, KVBM_VLLM_FORM_MAP,
               "93cb00000000000000009186a474797065ab426c6f636b53746f726564ac626c6f636b5f686173686573910"
               "5b1706172656e745f626c6f636b5f68617368c0a9746f6b656e5f696473920102aa626c6f636b5f73697a65"
               "02a66d656469756da347505501");
}

KVBM_TEST(json_rendering)
{
    vsp *s = vsp_new();
    uint8_t in[64];
    size_t n = unhex(FIXTURES[1], in, sizeof in), len = 0;
    kvbm_vllm_batch b;
    char buf[512];
    ASSERT_OK(kvbm_vllm_batch_decode(in, n, NULL, &b, &s->sp));
    ASSERT_OK(kvbm_vllm_batch_to_json(&b, buf, sizeof buf, &len));
    EXPECT_STR_EQ(buf, "{\"ts\":2000.000000,\"dp_rank\":0,\"events\":[{\"type\":\"BlockStored\",\"block_hashes\":[2],"
                       "\"parent_block_hash\":1,\"token_ids\":[50,60,70,80],\"block_size\":4}]}");
    EXPECT_EQ(len, strlen(buf));
    EXPECT_STATUS(kvbm_vllm_batch_to_json(&b, buf, 10, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(strlen(buf), 9);
    kvbm_vllm_event ev[4];
    rich_events(ev, true);
    ev[0].lora_name = "a\"b\\c\n";
    kvbm_vllm_batch r = { 1.0, ev, 4, false, 0 };
    char big[2048];
    ASSERT_OK(kvbm_vllm_batch_to_json(&r, big, sizeof big, &len));
    EXPECT_STR_CONTAINS(big, "\"lora_name\":\"a\\\"b\\\\c\\u000a\"");
    EXPECT_STR_CONTAINS(big, "\"block_mm_infos\":[[],[{\"mm_hash\":77,\"offsets\":[[0,2],[1,3]]}");
    EXPECT_STR_CONTAINS(big, "\"is_eagle\":true");
    EXPECT_STR_CONTAINS(big, "\"type\":\"AllBlocksCleared\"}");
    EXPECT_STR_CONTAINS(big, "\"dp_rank\":null");
    free(s);
}

KVBM_TEST(encode_argument_errors)
{
    uint8_t buf[64];
    size_t len;
    static const uint32_t one[] = { 7 };
    kvbm_vllm_event ev = { .type = KVBM_VLLM_BLOCK_STORED, .token_ids = one, .n_token_ids = 1, .is_eagle = true };
    kvbm_vllm_batch b = { 0.0, &ev, 1, false, 0 };
    EXPECT_STATUS(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_MAP, buf, sizeof buf, &len), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "single token");
    ev.is_eagle = false;
    ev.n_block_hashes = 2; /* NULL array with a length */
    EXPECT_STATUS(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_MAP, buf, sizeof buf, &len), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "block_hashes");
    ev.n_block_hashes = 0;
    ev.type = (kvbm_vllm_event_type)7;
    EXPECT_STATUS(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_MAP, buf, sizeof buf, &len), KVBM_EINVAL);
    ev.type = KVBM_VLLM_BLOCK_STORED;
    EXPECT_STATUS(kvbm_vllm_batch_encode(&b, (kvbm_vllm_form)2, buf, sizeof buf, &len), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_batch_encode(NULL, KVBM_VLLM_FORM_MAP, buf, sizeof buf, &len), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_MAP, NULL, 4, &len), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_batch_to_json(&b, NULL, 4, &len), KVBM_EINVAL);
    EXPECT_TRUE(kvbm_vllm_event_type_name((kvbm_vllm_event_type)3) == NULL);
    EXPECT_STR_EQ(kvbm_vllm_event_type_name(KVBM_VLLM_BLOCK_REMOVED), "BlockRemoved");
}
