/* tests/ext/router/test_router_codec.c - RouterEvent msgpack encode/decode and JSON
 * (spec 20 §4.1.1, §4.1.2; §5.4 serialisation tests). Byte fixtures: fixtures.h. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "fixtures.h"
#include "kvbm/router_events.h"
#include "support/wire_vectors.h"

/* hex to bytes (tests/support/wire_vectors); aborts on a bad string */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = test_wire_unhex(hex, out, cap);
    if (n == 0 && hex[0] != '\0') abort();
    return n;
}

/* decode space large enough for every fixture */
static kvbm_router_stored_block g_blocks[8];
static kvbm_router_mm_object    g_mm[8];
static uint64_t                 g_u64[32];
static const kvbm_router_decode_space g_space = { g_blocks, 8, g_mm, 8, g_u64, 32 };

static kvbm_router_event base_event(kvbm_router_event_kind kind)
{
    kvbm_router_event ev;
    memset(&ev, 0, sizeof ev);
    ev.worker_id = 7;
    ev.event_id = 42;
    ev.kind = kind;
    return ev;
}

static void expect_encodes_to(const kvbm_router_event *ev, const char *hex)
{
    uint8_t want[512], got[512];
    size_t n = unhex(hex, want, sizeof want), len = 0;
    EXPECT_OK(kvbm_router_event_encode(ev, got, sizeof got, &len));
    EXPECT_EQ(len, n);
    EXPECT_TRUE(len == n && memcmp(got, want, n) == 0);
}

static const kvbm_router_stored_block B123 = { 123, 456, false, NULL, 0 };
static const uint64_t                 RM45[2] = { 4, 5 };

/* §4.1.2: maps with the field names in spec order, nil options, mm_extra_info always
 * written (as nil), smallest integer forms - byte-identical to python3-msgpack */
KVBM_TEST(encode_matches_independent_msgpack)
{
    kvbm_router_event st = base_event(KVBM_ROUTER_STORED), rm = base_event(KVBM_ROUTER_REMOVED),
                      cl = base_event(KVBM_ROUTER_CLEARED);
    st.blocks = &B123;
    st.n_blocks = 1;
    rm.block_hashes = RM45;
    rm.n_block_hashes = 2;
    expect_encodes_to(&st, FIX_STORED);
    expect_encodes_to(&rm, FIX_REMOVED);
    expect_encodes_to(&cl, FIX_CLEARED);
}

static const uint64_t              OFF_A[2] = { 0, 2 }, OFF_B[4] = { 2, 4, 0, 1 };
static const kvbm_router_mm_object MM[2] = { { 3, OFF_A, 1 }, { 5, OFF_B, 2 } };
static const kvbm_router_stored_block FULL_BLOCKS[2] = {
    { UINT64_C(16324159493528209483), UINT64_C(11530720033157309043), true, MM, 2 },
    { 1, 2, true, NULL, 0 },
};

static kvbm_router_event full_event(void)
{
    kvbm_router_event ev = base_event(KVBM_ROUTER_STORED);
    ev.worker_id = UINT64_C(1) << 40;
    ev.storage_tier = KVBM_ROUTER_TIER_HOST_PINNED;
    ev.event_id = 70000;
    ev.dp_rank = 3;
    ev.has_parent_hash = true;
    ev.parent_hash = UINT64_MAX;
    ev.has_start_position = true;
    ev.start_position = 64;
    ev.blocks = FULL_BLOCKS;
    ev.n_blocks = 2;
    return ev;
}

KVBM_TEST(encode_full_event_with_mm_info)
{
    kvbm_router_event ev = full_event();
    expect_encodes_to(&ev, FIX_FULL);
}

static void expect_same_event(const kvbm_router_event *a, const kvbm_router_event *b)
{
    EXPECT_EQ_U64(a->worker_id, b->worker_id);
    EXPECT_EQ(a->storage_tier, b->storage_tier);
    EXPECT_EQ_U64(a->event_id, b->event_id);
    EXPECT_EQ(a->dp_rank, b->dp_rank);
    ASSERT_EQ(a->kind, b->kind);
    if (a->kind == KVBM_ROUTER_REMOVED) {
        ASSERT_EQ(a->n_block_hashes, b->n_block_hashes);
        for (size_t i = 0; i < a->n_block_hashes; i++) EXPECT_EQ_U64(a->block_hashes[i], b->block_hashes[i]);
    }
    if (a->kind != KVBM_ROUTER_STORED) return;
    EXPECT_EQ(a->has_parent_hash, b->has_parent_hash);
    if (a->has_parent_hash) EXPECT_EQ_U64(a->parent_hash, b->parent_hash);
    EXPECT_EQ(a->has_start_position, b->has_start_position);
    if (a->has_start_position) EXPECT_EQ(a->start_position, b->start_position);
    ASSERT_EQ(a->n_blocks, b->n_blocks);
    for (size_t i = 0; i < a->n_blocks; i++) {
        const kvbm_router_stored_block *x = &a->blocks[i], *y = &b->blocks[i];
        EXPECT_EQ_U64(x->block_hash, y->block_hash);
        EXPECT_EQ_U64(x->tokens_hash, y->tokens_hash);
        ASSERT_EQ(x->has_mm_extra_info, y->has_mm_extra_info);
        ASSERT_EQ(x->n_mm_objects, y->n_mm_objects);
        for (size_t j = 0; j < x->n_mm_objects; j++) {
            EXPECT_EQ_U64(x->mm_objects[j].mm_hash, y->mm_objects[j].mm_hash);
            ASSERT_EQ(x->mm_objects[j].n_offsets, y->mm_objects[j].n_offsets);
            for (size_t k = 0; k < 2 * x->mm_objects[j].n_offsets; k++)
                EXPECT_EQ_U64(x->mm_objects[j].offsets[k], y->mm_objects[j].offsets[k]);
        }
    }
}

/* test_kv_cache_events_serialization / test_kv_cache_remove_data_serialization: round trips */
KVBM_TEST(decode_round_trips_every_variant)
{
    kvbm_router_event want[4] = { base_event(KVBM_ROUTER_STORED), base_event(KVBM_ROUTER_REMOVED),
                                  base_event(KVBM_ROUTER_CLEARED), full_event() };
    want[0].blocks = &B123;
    want[0].n_blocks = 1;
    want[1].block_hashes = RM45;
    want[1].n_block_hashes = 2;
    const char *fx[4] = { FIX_STORED, FIX_REMOVED, FIX_CLEARED, FIX_FULL };
    for (int i = 0; i < 4; i++) {
        uint8_t in[512], again[512];
        size_t n = unhex(fx[i], in, sizeof in), len = 0;
        kvbm_router_event got;
        ASSERT_OK(kvbm_router_event_decode(in, n, &got, &g_space));
        expect_same_event(&want[i], &got);
        ASSERT_OK(kvbm_router_event_encode(&got, again, sizeof again, &len));
        EXPECT_TRUE(len == n && memcmp(in, again, n) == 0);
    }
}

/* peers.md additions (residency_domain, state_source) and any other unknown key are
 * skipped at every level; i64 hashes are reinterpreted; absent fields take their defaults */
KVBM_TEST(decode_ignores_unknown_keys_and_reinterprets_i64)
{
    uint8_t in[512];
    size_t n = unhex(FIX_ODD, in, sizeof in);
    kvbm_router_event ev;
    ASSERT_OK(kvbm_router_event_decode(in, n, &ev, &g_space));
    EXPECT_EQ_U64(ev.worker_id, 9);
    EXPECT_EQ(ev.storage_tier, KVBM_ROUTER_TIER_DEVICE);
    EXPECT_EQ_U64(ev.event_id, 5);
    EXPECT_EQ(ev.dp_rank, 0);
    ASSERT_EQ(ev.kind, KVBM_ROUTER_STORED);
    EXPECT_TRUE(ev.has_parent_hash);
    EXPECT_EQ_U64(ev.parent_hash, UINT64_C(0x8000000000000000));
    EXPECT_FALSE(ev.has_start_position);
    ASSERT_EQ(ev.n_blocks, 1);
    EXPECT_EQ_U64(ev.blocks[0].block_hash, UINT64_MAX);
    EXPECT_EQ_U64(ev.blocks[0].tokens_hash, UINT64_MAX - 1);
    EXPECT_FALSE(ev.blocks[0].has_mm_extra_info);

    n = unhex(FIX_ODD2, in, sizeof in);
    ASSERT_OK(kvbm_router_event_decode(in, n, &ev, &g_space));
    ASSERT_EQ(ev.kind, KVBM_ROUTER_REMOVED);
    ASSERT_EQ(ev.n_block_hashes, 4);
    EXPECT_EQ_U64(ev.block_hashes[0], UINT64_MAX);
    EXPECT_EQ_U64(ev.block_hashes[1], 0);
    EXPECT_EQ_U64(ev.block_hashes[2], UINT64_MAX);
    EXPECT_EQ_U64(ev.block_hashes[3], UINT64_C(0xFFFFFFFF80000000));
}

static kvbm_status decode_hex(const char *hex)
{
    uint8_t in[512];
    size_t n = unhex(hex, in, sizeof in);
    kvbm_router_event ev;
    kvbm_clear_last_error();
    return kvbm_router_event_decode(in, n, &ev, &g_space);
}

KVBM_TEST(decode_rejects_malformed_input)
{
    static const char *const bad[] = {
        "c1",                                   /* reserved type byte */
        "80",                                   /* {} - lacks worker_id and event */
        "91" "07",                              /* an array, not a map */
        "82a9776f726b65725f6964ff" "a56576656e7480", /* worker_id -1 */
        /* {"worker_id": 1, "worker_id": 2, ...}: duplicate key */
        "83a9776f726b65725f696401a9776f726b65725f696402a56576656e7480",
        /* {"worker_id":1,"storage_tier":"gpu","event":{}}: unknown tier */
        "83a9776f726b65725f696401ac73746f726167655f74696572a3677075a56576656e7480",
        /* {"worker_id":1,"event":{"event_id":0,"data":"flushed"}}: unknown unit variant */
        "82a9776f726b65725f696401a56576656e7482a86576656e745f696400a464617461a7666c7573686564",
        /* {"worker_id":1,"event":{"event_id":0,"data":{"moved":{}}}}: unknown variant */
        "82a9776f726b65725f696401a56576656e7482a86576656e745f696400a46461746181a56d6f76656480",
        /* {"worker_id":1,"event":{"event_id":0,"data":"cleared","dp_rank":2^32}}: dp_rank > u32 */
        "82a9776f726b65725f696401a56576656e7483a86576656e745f696400a464617461a7636c6561726564a764705f72616e6bcf0000000100000000",
        /* {"worker_id":1,"event":{"event_id":0,"data":{"stored":{}}}}: stored lacks blocks */
        "82a9776f726b65725f696401a56576656e7482a86576656e745f696400a46461746181a673746f72656480",
        /* {"worker_id":1,"event":{"event_id":0,"data":{"removed":{"block_hashes":["x"]}}}} */
        "82a9776f726b65725f696401a56576656e7482a86576656e745f696400a46461746181a772656d6f76656481ac626c6f636b5f68617368657391a178",
        /* {"worker_id": 1, "event": ... array32 of 0xffffffff elements (hostile length) */
        "82a9776f726b65725f696401a56576656e74ddffffffff",
        /* map32 with 0x7fffffff entries */
        "dfffffff7f",
        /* str32 claiming 4 GiB */
        "81dbffffffff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT_STATUS(decode_hex(bad[i]), KVBM_EPROTO);
        EXPECT_TRUE(strlen(kvbm_last_error()) > 0);
    }
    /* trailing byte after a valid event */
    char trailing[sizeof FIX_CLEARED + 2];
    snprintf(trailing, sizeof trailing, "%s00", FIX_CLEARED);
    EXPECT_STATUS(decode_hex(trailing), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "trailing");
    /* empty input */
    kvbm_router_event ev;
    EXPECT_STATUS(kvbm_router_event_decode((const uint8_t *)"", 0, &ev, &g_space), KVBM_EPROTO);
}

/* an unknown key whose value nests deeper than KVBM_ROUTER_MAX_DEPTH is refused; a
 * shallower one is skipped */
KVBM_TEST(decode_bounds_nesting)
{
    for (int depth = KVBM_ROUTER_MAX_DEPTH - 4; depth <= KVBM_ROUTER_MAX_DEPTH + 4; depth += 8) {
        uint8_t in[256];
        size_t n = 0;
        in[n++] = 0x83;
        in[n++] = 0xa1; /* "z": [[[...]]] */
        in[n++] = 'z';
        for (int i = 0; i < depth; i++) in[n++] = 0x91;
        in[n++] = 0xc0;
        uint8_t cl[256];
        size_t m = unhex(FIX_CLEARED, cl, sizeof cl);
        /* FIX_CLEARED is a 3-entry map: take its 3 entries, drop storage_tier -> 2 + "z" */
        ASSERT_EQ(cl[0], 0x83);
        /* keep worker_id (bytes 1..11) and event...dp_rank (from the "event" key on) */
        memcpy(in + n, cl + 1, 11);
        n += 11;
        const uint8_t *ekey = memchr(cl + 12, 0xa5, m - 12); /* "event" */
        ASSERT_TRUE(ekey != NULL);
        memcpy(in + n, ekey, (size_t)(cl + m - ekey));
        n += (size_t)(cl + m - ekey);
        kvbm_router_event ev;
        kvbm_status st = kvbm_router_event_decode(in, n, &ev, &g_space);
        if (depth < KVBM_ROUTER_MAX_DEPTH) {
            EXPECT_OK(st);
            EXPECT_EQ(ev.kind, KVBM_ROUTER_CLEARED);
        } else {
            EXPECT_STATUS(st, KVBM_EPROTO);
            EXPECT_STR_CONTAINS(kvbm_last_error(), "nesting");
        }
    }
}

/* every prefix of a valid message is rejected (never read past the end, never OK) */
KVBM_TEST(decode_rejects_every_truncation)
{
    uint8_t in[512];
    size_t n = unhex(FIX_FULL, in, sizeof in);
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1); /* exact-size copy: ASan catches any over-read */
        ASSERT_TRUE(cut != NULL);
        memcpy(cut, in, k);
        kvbm_router_event ev;
        EXPECT_STATUS(kvbm_router_event_decode(cut, k, &ev, &g_space), KVBM_EPROTO);
        free(cut);
    }
}

/* the caller's space bounds what a message can claim: too small -> EOVERFLOW, pool named */
KVBM_TEST(decode_space_too_small)
{
    uint8_t in[512];
    size_t n = unhex(FIX_FULL, in, sizeof in);
    kvbm_router_event ev;
    kvbm_router_stored_block b[2];
    kvbm_router_mm_object mm[2];
    uint64_t u[6];
    kvbm_router_decode_space sp = { b, 1, mm, 2, u, 6 };
    EXPECT_STATUS(kvbm_router_event_decode(in, n, &ev, &sp), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "blocks");
    sp = (kvbm_router_decode_space){ b, 2, mm, 1, u, 6 };
    EXPECT_STATUS(kvbm_router_event_decode(in, n, &ev, &sp), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "mm_objects");
    sp = (kvbm_router_decode_space){ b, 2, mm, 2, u, 5 }; /* 3 offset pairs need 6 */
    EXPECT_STATUS(kvbm_router_event_decode(in, n, &ev, &sp), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "u64");
    sp = (kvbm_router_decode_space){ b, 2, mm, 2, u, 6 }; /* exactly enough */
    ASSERT_OK(kvbm_router_event_decode(in, n, &ev, &sp));
    kvbm_router_event want = full_event();
    expect_same_event(&want, &ev);
    /* a removed event with no space for its hashes */
    n = unhex(FIX_REMOVED, in, sizeof in);
    sp = (kvbm_router_decode_space){ NULL, 0, NULL, 0, u, 1 };
    EXPECT_STATUS(kvbm_router_event_decode(in, n, &ev, &sp), KVBM_EOVERFLOW);
    sp = (kvbm_router_decode_space){ NULL, 0, NULL, 0, NULL, 3 };
    EXPECT_STATUS(kvbm_router_event_decode(in, n, &ev, &sp), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_event_decode(in, n, NULL, &g_space), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_event_decode(in, n, &ev, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_event_decode(NULL, 3, &ev, &g_space), KVBM_EINVAL);
}

KVBM_TEST(encode_errors_and_sizing)
{
    kvbm_router_event ev = full_event();
    uint8_t buf[512];
    size_t need = 0, len = 0;
    EXPECT_STATUS(kvbm_router_event_encode(&ev, NULL, 0, &need), KVBM_EOVERFLOW);
    EXPECT_EQ(need, strlen(FIX_FULL) / 2);
    EXPECT_STATUS(kvbm_router_event_encode(&ev, buf, need - 1, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(len, need);
    EXPECT_OK(kvbm_router_event_encode(&ev, buf, need, &len));
    EXPECT_STATUS(kvbm_router_event_encode(NULL, buf, sizeof buf, &len), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_event_encode(&ev, buf, sizeof buf, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_event_encode(&ev, NULL, 8, &len), KVBM_EINVAL);
    kvbm_router_event bad = ev;
    bad.kind = (kvbm_router_event_kind)7;
    EXPECT_STATUS(kvbm_router_event_encode(&bad, buf, sizeof buf, &len), KVBM_EINVAL);
    bad = ev;
    bad.storage_tier = (kvbm_router_tier)4;
    EXPECT_STATUS(kvbm_router_event_encode(&bad, buf, sizeof buf, &len), KVBM_EINVAL);
    bad = ev;
    bad.blocks = NULL;
    EXPECT_STATUS(kvbm_router_event_encode(&bad, buf, sizeof buf, &len), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "blocks");
    bad = base_event(KVBM_ROUTER_REMOVED);
    bad.n_block_hashes = 1;
    EXPECT_STATUS(kvbm_router_event_to_json(&bad, (char *)buf, sizeof buf, &len), KVBM_EINVAL);
}

/* §4.1.2 canonical JSON; test_local_block_hash_serialization /
 * test_external_sequence_block_hash_serialization: hashes are bare numbers */
KVBM_TEST(json_canonical_forms)
{
    char js[1024];
    size_t len = 0;
    kvbm_router_event st = base_event(KVBM_ROUTER_STORED), rm = base_event(KVBM_ROUTER_REMOVED),
                      cl = base_event(KVBM_ROUTER_CLEARED);
    st.blocks = &B123;
    st.n_blocks = 1;
    ASSERT_OK(kvbm_router_event_to_json(&st, js, sizeof js, &len));
    EXPECT_STR_EQ(js, "{\"worker_id\":7,\"storage_tier\":\"device\",\"event\":{\"event_id\":42,\"data\":{\"stored\":"
                      "{\"parent_hash\":null,\"start_position\":null,\"blocks\":[{\"block_hash\":123,\"tokens_hash\":456,"
                      "\"mm_extra_info\":null}]}},\"dp_rank\":0}}");
    EXPECT_EQ(len, strlen(js));
    static const uint64_t h[2] = { 12345, 67890 };
    rm.block_hashes = h;
    rm.n_block_hashes = 2;
    ASSERT_OK(kvbm_router_event_to_json(&rm, js, sizeof js, &len));
    EXPECT_STR_CONTAINS(js, "\"data\":{\"removed\":{\"block_hashes\":[12345,67890]}}");
    ASSERT_OK(kvbm_router_event_to_json(&cl, js, sizeof js, &len));
    EXPECT_STR_CONTAINS(js, "\"data\":\"cleared\",\"dp_rank\":0}}");

    kvbm_router_event full = full_event();
    ASSERT_OK(kvbm_router_event_to_json(&full, js, sizeof js, &len));
    EXPECT_STR_EQ(js, "{\"worker_id\":1099511627776,\"storage_tier\":\"host_pinned\",\"event\":{\"event_id\":70000,"
                      "\"data\":{\"stored\":{\"parent_hash\":18446744073709551615,\"start_position\":64,\"blocks\":["
                      "{\"block_hash\":16324159493528209483,\"tokens_hash\":11530720033157309043,\"mm_extra_info\":"
                      "{\"mm_objects\":[{\"mm_hash\":3,\"offsets\":[[0,2]]},{\"mm_hash\":5,\"offsets\":[[2,4],[0,1]]}]}},"
                      "{\"block_hash\":1,\"tokens_hash\":2,\"mm_extra_info\":{\"mm_objects\":[]}}]}},\"dp_rank\":3}}");
    /* too small: truncated, terminated, full length reported */
    size_t full_len = len;
    char small[16];
    EXPECT_STATUS(kvbm_router_event_to_json(&full, small, sizeof small, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(len, full_len);
    EXPECT_EQ(strlen(small), sizeof small - 1);
    EXPECT_STATUS(kvbm_router_event_to_json(&full, js, full_len, &len), KVBM_EOVERFLOW); /* no room for NUL */
    EXPECT_STATUS(kvbm_router_event_to_json(&full, NULL, 0, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(len, full_len);
}
