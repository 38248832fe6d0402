/* tests/ext/vllm/test_vllm_decode_rules.c - every decoder rule of spec 20 §4.2.2 on
 * hand-built inputs (msgpack-c), plus the §5.4 zmq_wire bigram test and the decoder's
 * bounds (pools, hostile lengths, nesting, trailing bytes). */
#include "harness.h"
#include "vllm_test_util.h"

static kvbm_status dec(mb *m, kvbm_vllm_batch *b, uint32_t flags)
{
    static vsp storage; /* one space for the binary's lifetime (static: no leak report) */
    static vsp *s;
    if (s == NULL) s = vsp_init(&storage);
    kvbm_vllm_decode_options o = { flags };
    return kvbm_vllm_batch_decode((const uint8_t *)m->sb.data, m->sb.size, &o, b, &s->sp);
}

/* [tag, hashes, parent, tokens, bs] with the listed extra positional elements to follow */
static void stored_head(mb *m, size_t n_elems, const uint64_t *h, size_t nh)
{
    static const uint64_t t[4] = { 10, 20, 30, 40 };
    mb_arr(m, n_elems);
    mb_str(m, "BlockStored");
    mb_us(m, h, nh);
    mb_nil(m);
    mb_us(m, t, 4);
    mb_u(m, 4);
}

/* §5.4 test_deserialize_bigram_block_stored_sequence: an 8-tuple with bigram pairs */
KVBM_TEST(bigram_block_stored_decodes_as_eagle)
{
    mb m;
    kvbm_vllm_batch b;
    mb_init(&m);
    mb_batch(&m, 1);
    mb_arr(&m, 8);
    mb_str(&m, "BlockStored");
    mb_us(&m, (const uint64_t[]){ 1, 2 }, 2);
    mb_nil(&m);
    mb_arr(&m, 4);
    for (uint64_t a = 10; a < 14; a++) mb_us(&m, (const uint64_t[]){ a, a + 1 }, 2);
    mb_u(&m, 2);
    mb_nil(&m);
    mb_nil(&m);
    mb_nil(&m);
    mb_nil(&m);
    ASSERT_OK(dec(&m, &b, 0));
    const kvbm_vllm_event *e = &b.events[0];
    EXPECT_TRUE(e->is_eagle);
    ASSERT_EQ(e->n_token_ids, 5);
    for (uint32_t i = 0; i < 5; i++) EXPECT_EQ(e->token_ids[i], 10 + i);
    EXPECT_FALSE(b.has_dp_rank);
    mb_free(&m);
    /* a list mixing pairs and tokens is malformed */
    mb_init(&m);
    mb_batch(&m, 1);
    stored_head(&m, 5, (const uint64_t[]){ 1 }, 1);
    m.sb.size -= 6; /* drop tokens [10,20,30,40] (5 bytes) and bs (1) */
    mb_arr(&m, 2);
    mb_us(&m, (const uint64_t[]){ 1, 2 }, 2);
    mb_u(&m, 3);
    mb_u(&m, 4);
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "token_ids");
    mb_free(&m);
}

KVBM_TEST(hashes_signed_unsigned_and_digests)
{
    mb m;
    kvbm_vllm_batch b;
    mb_init(&m);
    mb_batch(&m, 1);
    mb_arr(&m, 2);
    mb_str(&m, "BlockRemoved");
    mb_arr(&m, 3);
    mb_i(&m, -1);
    mb_i(&m, INT64_MIN);
    mb_u(&m, UINT64_MAX - 1);
    mb_u(&m, 0);
    ASSERT_OK(dec(&m, &b, 0));
    const kvbm_vllm_event *e = &b.events[0];
    EXPECT_EQ(e->type, KVBM_VLLM_BLOCK_REMOVED);
    ASSERT_EQ(e->n_block_hashes, 3);
    EXPECT_TRUE(e->block_hashes[0] == UINT64_MAX);
    EXPECT_TRUE(e->block_hashes[1] == UINT64_C(0x8000000000000000));
    EXPECT_TRUE(e->block_hashes[2] == UINT64_MAX - 1);
    EXPECT_TRUE(b.has_dp_rank);
    mb_free(&m);
    /* a 32-byte bin digest: rejected unless configured; then its last 8 bytes, big-endian */
    uint8_t dig[32];
    for (int i = 0; i < 32; i++) dig[i] = (uint8_t)i;
    mb_init(&m);
    mb_batch(&m, 1);
    mb_arr(&m, 2);
    mb_str(&m, "BlockRemoved");
    mb_arr(&m, 1);
    msgpack_pack_bin(&m.pk, 32);
    msgpack_pack_bin_body(&m.pk, dig, 32);
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EUNSUPPORTED);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "event 0: block_hashes[0]");
    EXPECT_STR_CONTAINS(kvbm_last_error(), "KVBM_VLLM_DECODE_DIGEST_LOW64");
    ASSERT_OK(dec(&m, &b, KVBM_VLLM_DECODE_DIGEST_LOW64));
    EXPECT_TRUE(b.events[0].block_hashes[0] == UINT64_C(0x18191a1b1c1d1e1f));
    mb_free(&m);
}

/* map batch form with either dp key; map events in any key order, unknown keys ignored */
KVBM_TEST(map_forms_and_unknown_keys)
{
    mb m;
    kvbm_vllm_batch b;
    for (int k = 0; k < 2; k++) {
        mb_init(&m);
        mb_map(&m, 4);
        mb_str(&m, "future");
        mb_map(&m, 1);
        mb_str(&m, "x");
        mb_arr(&m, 0);
        mb_str(&m, k ? "dp_rank" : "data_parallel_rank");
        mb_u(&m, 5);
        mb_str(&m, "events");
        mb_arr(&m, 2);
        mb_map(&m, 6);
        mb_str(&m, "token_ids");
        mb_us(&m, (const uint64_t[]){ 1, 2 }, 2);
        mb_str(&m, "unknown");
        mb_arr(&m, 1);
        mb_nil(&m);
        mb_str(&m, "block_size");
        mb_u(&m, 2);
        mb_str(&m, "type");
        mb_str(&m, "BlockStored");
        mb_str(&m, "block_hashes");
        mb_us(&m, (const uint64_t[]){ 9 }, 1);
        mb_str(&m, "lora_id");
        mb_i(&m, -3);
        mb_map(&m, 1);
        mb_str(&m, "type");
        mb_str(&m, "AllBlocksCleared");
        mb_str(&m, "ts");
        mb_u(&m, 12);
        ASSERT_OK(dec(&m, &b, 0));
        EXPECT_TRUE(b.ts == 12.0);
        EXPECT_TRUE(b.has_dp_rank);
        EXPECT_EQ(b.dp_rank, 5);
        ASSERT_EQ(b.n_events, 2);
        const kvbm_vllm_event *e = &b.events[0];
        EXPECT_EQ(e->type, KVBM_VLLM_BLOCK_STORED);
        EXPECT_FALSE(e->has_parent); /* absent = nil */
        EXPECT_EQ(e->n_token_ids, 2);
        EXPECT_TRUE(e->has_lora_id && e->lora_id == -3);
        EXPECT_EQ(b.events[1].type, KVBM_VLLM_ALL_BLOCKS_CLEARED);
        mb_free(&m);
    }
}

/* array events: extra trailing elements ignored, missing trailing optionals nil, required
 * positions 1-4 required */
KVBM_TEST(array_trailing_elements)
{
    mb m;
    kvbm_vllm_batch b;
    mb_init(&m);
    mb_arr(&m, 4); /* batch with an extra trailing element */
    msgpack_pack_float(&m.pk, 2.5f);
    mb_arr(&m, 2);
    stored_head(&m, 15, (const uint64_t[]){ 1 }, 1);
    mb_nil(&m);          /* 5 lora_id */
    mb_str(&m, "DISK");  /* 6 medium */
    mb_str(&m, "lo");    /* 7 lora_name */
    mb_nil(&m);          /* 8 extra_keys */
    mb_u(&m, 0);         /* 9 group_idx */
    mb_str(&m, "FullAttentionSpec");
    mb_u(&m, 64);        /* 11 window */
    mb_str(&m, "x");     /* 12.. ignored */
    mb_arr(&m, 1);
    mb_u(&m, 1);
    mb_map(&m, 0);
    mb_arr(&m, 3);
    mb_str(&m, "BlockRemoved");
    mb_us(&m, (const uint64_t[]){ 4 }, 1);
    mb_nil(&m);
    mb_nil(&m); /* dp_rank nil */
    mb_str(&m, "extra");
    ASSERT_OK(dec(&m, &b, 0));
    EXPECT_TRUE(b.ts == 2.5);
    EXPECT_FALSE(b.has_dp_rank);
    const kvbm_vllm_event *e = &b.events[0];
    EXPECT_STR_EQ(e->medium, "DISK");
    EXPECT_STR_EQ(e->lora_name, "lo");
    EXPECT_TRUE(e->has_group_idx && e->group_idx == 0);
    EXPECT_STR_EQ(e->kv_cache_spec_kind, "FullAttentionSpec");
    EXPECT_TRUE(e->has_sliding_window && e->sliding_window == 64);
    EXPECT_FALSE(e->ignored);
    EXPECT_TRUE(b.events[1].medium == NULL);
    mb_free(&m);
    /* [tag, hashes, parent, tokens] lacks block_size */
    mb_init(&m);
    mb_batch(&m, 1);
    stored_head(&m, 4, (const uint64_t[]){ 1 }, 1);
    m.sb.size -= 1; /* drop the block size */
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "block_size: missing");
    mb_free(&m);
}

KVBM_TEST(type_missing_or_unknown)
{
    static const char *const bad[] = { "BlockEvicted", "blockstored", "" };
    mb m;
    kvbm_vllm_batch b;
    for (int i = 0; i < 3; i++) {
        mb_init(&m);
        mb_batch(&m, 1);
        mb_map(&m, 1);
        mb_str(&m, "type");
        mb_str(&m, bad[i]);
        mb_nil(&m);
        EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
        EXPECT_STR_CONTAINS(kvbm_last_error(), "unknown event type");
        mb_free(&m);
    }
    mb_init(&m); /* map without type */
    mb_batch(&m, 1);
    mb_map(&m, 1);
    mb_str(&m, "block_hashes");
    mb_arr(&m, 0);
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "type: missing");
    mb_free(&m);
    mb_init(&m); /* empty array event, and a non-string tag */
    mb_batch(&m, 1);
    mb_arr(&m, 0);
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
    mb_free(&m);
    mb_init(&m);
    mb_batch(&m, 1);
    mb_arr(&m, 1);
    mb_u(&m, 1);
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "type: not a string");
    mb_free(&m);
}

static const char HEXA[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char HEXB[] = "FEDCBA9876543210000000000000000000000000000000000000000000000000";

/* extra_keys: 64-hex strings and [64-hex, offset] pairs are MM ids, the rest is ignored */
static void pack_extra_keys(mb *m)
{
    mb_arr(m, 3);
    mb_arr(m, 4); /* block 0: a LoRA name, an int, a short hex, a salt list */
    mb_str(m, "adapter");
    mb_u(m, 5);
    mb_str(m, "0123456789abcdef");
    mb_arr(m, 3);
    mb_str(m, HEXA);
    mb_u(m, 1);
    mb_u(m, 2);
    mb_nil(m);    /* block 1 */
    mb_arr(m, 3); /* block 2 */
    mb_str(m, HEXA);
    mb_arr(m, 2);
    mb_str(m, HEXB);
    mb_u(m, 7);
    msgpack_pack_true(&m->pk);
}

KVBM_TEST(extra_keys_mm_identifiers)
{
    mb m;
    kvbm_vllm_batch b;
    mb_init(&m);
    mb_batch(&m, 1);
    stored_head(&m, 9, (const uint64_t[]){ 1, 2, 3 }, 3);
    mb_nil(&m);
    mb_nil(&m);
    mb_nil(&m);
    pack_extra_keys(&m);
    mb_nil(&m);
    ASSERT_OK(dec(&m, &b, 0));
    const kvbm_vllm_event *e = &b.events[0];
    ASSERT_EQ(e->n_block_mm, 3);
    EXPECT_EQ(e->block_mm[0].n_objects, 0);
    EXPECT_EQ(e->block_mm[1].n_objects, 0);
    ASSERT_EQ(e->block_mm[2].n_objects, 2);
    EXPECT_TRUE(e->block_mm[2].objects[0].mm_hash == UINT64_C(0x0123456789abcdef));
    EXPECT_TRUE(e->block_mm[2].objects[1].mm_hash == UINT64_C(0xfedcba9876543210));
    EXPECT_EQ(e->block_mm[2].objects[1].n_offsets, 0);
    mb_free(&m);
    /* no MM anywhere: none */
    mb_init(&m);
    mb_batch(&m, 1);
    stored_head(&m, 9, (const uint64_t[]){ 1 }, 1);
    mb_nil(&m);
    mb_nil(&m);
    mb_nil(&m);
    mb_arr(&m, 1);
    mb_arr(&m, 2);
    mb_str(&m, "salt");
    mb_u(&m, 3);
    mb_nil(&m);
    ASSERT_OK(dec(&m, &b, 0));
    EXPECT_EQ(b.events[0].n_block_mm, 0);
    EXPECT_TRUE(b.events[0].block_mm == NULL);
    mb_free(&m);
}

static void pack_mm_infos(mb *m, bool named)
{
    mb_arr(m, 2);
    mb_nil(m);
    if (named) {
        mb_map(m, 1);
        mb_str(m, "mm_objects");
    } else {
        mb_arr(m, 1);
    }
    mb_arr(m, 1);
    if (named) {
        mb_map(m, 2);
        mb_str(m, "offsets");
    } else {
        mb_arr(m, 2);
        mb_u(m, 42);
    }
    mb_arr(m, 1);
    mb_us(m, (const uint64_t[]){ 0, 3 }, 2);
    if (named) {
        mb_str(m, "mm_hash");
        mb_u(m, 42);
    }
}

/* block_mm_infos wins over extra_keys in both orders; index 9 is type-dispatched */
KVBM_TEST(block_mm_infos_win_and_index9_dispatch)
{
    for (int order = 0; order < 2; order++) {
        mb m;
        kvbm_vllm_batch b;
        mb_init(&m);
        mb_batch(&m, 1);
        mb_map(&m, 6);
        mb_str(&m, "type");
        mb_str(&m, "BlockStored");
        mb_str(&m, "block_hashes");
        mb_us(&m, (const uint64_t[]){ 1, 2 }, 2);
        mb_str(&m, "token_ids");
        mb_arr(&m, 0);
        mb_str(&m, "block_size");
        mb_u(&m, 1);
        mb_str(&m, order ? "extra_keys" : "block_mm_infos");
        if (order) pack_extra_keys(&m);
        else pack_mm_infos(&m, true);
        mb_str(&m, order ? "block_mm_infos" : "extra_keys");
        if (order) pack_mm_infos(&m, true);
        else pack_extra_keys(&m);
        mb_nil(&m);
        ASSERT_OK(dec(&m, &b, 0));
        const kvbm_vllm_event *e = &b.events[0];
        ASSERT_EQ(e->n_block_mm, 2);
        EXPECT_EQ(e->block_mm[0].n_objects, 0);
        ASSERT_EQ(e->block_mm[1].n_objects, 1);
        EXPECT_EQ(e->block_mm[1].objects[0].mm_hash, 42);
        ASSERT_EQ(e->block_mm[1].objects[0].n_offsets, 1);
        EXPECT_EQ(e->block_mm[1].objects[0].offsets[1], 3);
        mb_free(&m);
    }
    /* array form: index 9 a list -> MM infos (positional objects), an int -> group_idx */
    for (int k = 0; k < 2; k++) {
        mb m;
        kvbm_vllm_batch b;
        mb_init(&m);
        mb_batch(&m, 1);
        stored_head(&m, 12, (const uint64_t[]){ 1, 2 }, 2);
        mb_nil(&m);
        mb_nil(&m);
        mb_nil(&m);
        pack_extra_keys(&m);
        if (k == 0) pack_mm_infos(&m, false);
        else mb_u(&m, 3);
        mb_str(&m, "SlidingWindowSpec");
        mb_u(&m, 1024);
        mb_nil(&m);
        ASSERT_OK(dec(&m, &b, 0));
        const kvbm_vllm_event *e = &b.events[0];
        EXPECT_TRUE(e->has_sliding_window && e->sliding_window == 1024);
        EXPECT_TRUE(e->ignored); /* sliding window spec, and group 3 */
        if (k == 0) {
            EXPECT_FALSE(e->has_group_idx);
            ASSERT_EQ(e->n_block_mm, 2);
            EXPECT_EQ(e->block_mm[1].objects[0].mm_hash, 42);
        } else {
            EXPECT_TRUE(e->has_group_idx && e->group_idx == 3);
            EXPECT_EQ(e->n_block_mm, 3); /* from extra_keys */
        }
        mb_free(&m);
    }
}

KVBM_TEST(non_main_groups_are_ignored)
{
    static const struct { bool has; uint32_t g; const char *kind; bool ignored; } c[] = {
        { false, 0, NULL, false },          { true, 0, NULL, false },
        { true, 1, NULL, true },            { false, 0, "full_attention", false },
        { false, 0, "MLAAttentionSpec", false }, { false, 0, "sliding_window", true },
        { true, 2, "full_attention", true }, { false, 0, "mamba", true },
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        mb m;
        kvbm_vllm_batch b;
        mb_init(&m);
        mb_batch(&m, 1);
        mb_map(&m, 1 + c[i].has + (c[i].kind != NULL));
        mb_str(&m, "type");
        mb_str(&m, "AllBlocksCleared");
        if (c[i].has) {
            mb_str(&m, "group_idx");
            mb_u(&m, c[i].g);
        }
        if (c[i].kind) {
            mb_str(&m, "kv_cache_spec_kind");
            mb_str(&m, c[i].kind);
        }
        mb_nil(&m);
        ASSERT_OK(dec(&m, &b, 0));
        EXPECT_EQ(b.events[0].ignored, c[i].ignored);
        mb_free(&m);
    }
}

/* field type errors name the event and the field */
KVBM_TEST(field_type_errors)
{
    mb m;
    kvbm_vllm_batch b;
    mb_init(&m);
    mb_batch(&m, 2);
    mb_arr(&m, 1);
    mb_str(&m, "AllBlocksCleared");
    stored_head(&m, 5, (const uint64_t[]){ 1 }, 1);
    m.sb.size -= 1;
    mb_i(&m, -4); /* block_size negative */
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "event 1: block_size");
    mb_free(&m);
    mb_init(&m);
    mb_batch(&m, 1);
    stored_head(&m, 7, (const uint64_t[]){ 1 }, 1);
    mb_nil(&m);
    mb_u(&m, 3); /* medium not a string */
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "event 0: medium");
    mb_free(&m);
    mb_init(&m);
    mb_batch(&m, 1);
    stored_head(&m, 8, (const uint64_t[]){ 1 }, 1);
    mb_nil(&m);
    mb_nil(&m);
    msgpack_pack_str(&m.pk, 3);
    msgpack_pack_str_body(&m.pk, "a\0b", 3); /* embedded NUL */
    mb_nil(&m);
    EXPECT_STATUS(dec(&m, &b, 0), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "lora_name");
    mb_free(&m);
}

/* pools too small, hostile lengths, nesting, trailing bytes, bad arguments */
KVBM_TEST(decoder_bounds)
{
    uint8_t in[64];
    size_t n = unhex("93cb408f4000000000009195ab426c6f636b53746f7265649101c0940a141e280400", in, sizeof in);
    kvbm_vllm_event ev[1];
    uint64_t u[1];
    uint32_t tok[4];
    kvbm_vllm_decode_space sp = { ev, 1, u, 1, tok, 3, NULL, 0, NULL, 0, NULL, 0 };
    kvbm_vllm_batch b;
    EXPECT_STATUS(kvbm_vllm_batch_decode(in, n, NULL, &b, &sp), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "tokens pool");
    sp.tokens_cap = 4;
    EXPECT_OK(kvbm_vllm_batch_decode(in, n, NULL, &b, &sp));
    sp.events_cap = 0;
    EXPECT_STATUS(kvbm_vllm_batch_decode(in, n, NULL, &b, &sp), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "events pool");
    sp.events_cap = 1;
    /* trailing byte, truncation */
    in[n] = 0xc0;
    EXPECT_STATUS(kvbm_vllm_batch_decode(in, n + 1, NULL, &b, &sp), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "trailing");
    for (size_t k = 0; k < n; k++) EXPECT_STATUS(kvbm_vllm_batch_decode(in, k, NULL, &b, &sp), KVBM_EPROTO);
    /* a hostile array32 length fails before anything is written */
    uint8_t hostile[] = { 0x93, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 };
    vsp *s = vsp_new();
    EXPECT_STATUS(kvbm_vllm_batch_decode(hostile, sizeof hostile, NULL, &b, &s->sp), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "container length");
    /* nesting beyond the bound inside an ignored key */
    mb m;
    mb_init(&m);
    mb_batch(&m, 1);
    mb_map(&m, 2);
    mb_str(&m, "type");
    mb_str(&m, "AllBlocksCleared");
    mb_str(&m, "deep");
    for (int i = 0; i < KVBM_VLLM_MAX_DEPTH + 4; i++) mb_arr(&m, 1);
    mb_nil(&m);
    mb_nil(&m);
    EXPECT_STATUS(kvbm_vllm_batch_decode((const uint8_t *)m.sb.data, m.sb.size, NULL, &b, &s->sp), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "nesting too deep");
    mb_free(&m);
    EXPECT_STATUS(kvbm_vllm_batch_decode(in, 0, NULL, &b, &s->sp), KVBM_EPROTO);
    EXPECT_STATUS(kvbm_vllm_batch_decode(NULL, 3, NULL, &b, &s->sp), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_batch_decode(in, n, NULL, NULL, &s->sp), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_vllm_batch_decode(in, n, NULL, &b, NULL), KVBM_EINVAL);
    sp.chars = NULL;
    sp.chars_cap = 5;
    EXPECT_STATUS(kvbm_vllm_batch_decode(in, n, NULL, &b, &sp), KVBM_EINVAL);
    /* not a batch at all */
    uint8_t str[] = { 0xa1, 'x' };
    EXPECT_STATUS(kvbm_vllm_batch_decode(str, 2, NULL, &b, &s->sp), KVBM_EPROTO);
    free(s);
}
