/* tests/ext/router/test_router_json.c - the JSON decoder (kvbm_router_event_from_json):
 * round trips with the JSON encoder and the msgpack codec for every variant (spec 20 §5.4
 * test_kv_cache_events_serialization / test_kv_cache_remove_data_serialization), serde
 * defaults, unknown keys, i64 hashes, and malformed or hostile input. */
#include <string.h>

#include "harness.h"
#include "kvbm/router_events.h"

static kvbm_router_stored_block blocks[8];
static kvbm_router_mm_object    mms[8];
static uint64_t                 u64[64];
static const kvbm_router_decode_space SP = { blocks, 8, mms, 8, u64, 64 };

static kvbm_status from(const char *js, kvbm_router_event *ev)
{
    return kvbm_router_event_from_json(js, strlen(js), ev, &SP);
}

/* JSON -> event -> JSON is the identity on canonical JSON, and the event survives the
 * msgpack codec unchanged. */
static void round_trip(const char *js)
{
    kvbm_router_event ev;
    ASSERT_OK(from(js, &ev));
    char out[2048];
    size_t len;
    ASSERT_OK(kvbm_router_event_to_json(&ev, out, sizeof out, &len));
    EXPECT_STR_EQ(out, js);
    uint8_t mp[2048];
    ASSERT_OK(kvbm_router_event_encode(&ev, mp, sizeof mp, &len));
    kvbm_router_stored_block b2[8];
    kvbm_router_mm_object m2[8];
    uint64_t x2[64];
    kvbm_router_decode_space sp2 = { b2, 8, m2, 8, x2, 64 };
    kvbm_router_event back;
    ASSERT_OK(kvbm_router_event_decode(mp, len, &back, &sp2));
    ASSERT_OK(kvbm_router_event_to_json(&back, out, sizeof out, &len));
    EXPECT_STR_EQ(out, js);
}

KVBM_TEST(json_round_trips_every_variant)
{
    /* the §4.1.2 forms */
    round_trip("{\"worker_id\":7,\"storage_tier\":\"device\",\"event\":{\"event_id\":42,\"data\":{\"stored\":"
               "{\"parent_hash\":null,\"start_position\":null,\"blocks\":[{\"block_hash\":123,\"tokens_hash\":456,"
               "\"mm_extra_info\":null}]}},\"dp_rank\":0}}");
    round_trip("{\"worker_id\":7,\"storage_tier\":\"disk\",\"event\":{\"event_id\":0,\"data\":{\"removed\":"
               "{\"block_hashes\":[12345,67890]}},\"dp_rank\":0}}");
    round_trip("{\"worker_id\":0,\"storage_tier\":\"external\",\"event\":{\"event_id\":1,\"data\":\"cleared\","
               "\"dp_rank\":4294967295}}");
    /* every field set, u64 extremes, multimodal objects (also an empty list) */
    round_trip("{\"worker_id\":18446744073709551615,\"storage_tier\":\"host_pinned\",\"event\":{\"event_id\":70000,"
               "\"data\":{\"stored\":{\"parent_hash\":18446744073709551615,\"start_position\":64,\"blocks\":["
               "{\"block_hash\":16324159493528209483,\"tokens_hash\":11530720033157309043,\"mm_extra_info\":"
               "{\"mm_objects\":[{\"mm_hash\":3,\"offsets\":[[0,2]]},{\"mm_hash\":5,\"offsets\":[[2,4],[0,1]]}]}},"
               "{\"block_hash\":1,\"tokens_hash\":2,\"mm_extra_info\":{\"mm_objects\":[]}}]}},\"dp_rank\":3}}");
}

KVBM_TEST(json_defaults_unknown_keys_any_order_and_i64)
{
    kvbm_router_event ev;
    /* serde defaults: storage_tier device, dp_rank 0, parent_hash / start_position /
     * mm_extra_info null; keys in another order; unknown keys of any type ignored;
     * negative hashes reinterpreted as u64; whitespace around */
    ASSERT_OK(from(" {\"residency_domain\":\"worker\",\"event\":{\"data\":{\"stored\":{\"blocks\":[{\"tokens_hash\":-1,"
                   "\"block_hash\":-2,\"x\":[1,{\"y\":null}]}]}},\"event_id\":9,\"z\":1.5},\"worker_id\":3,"
                   "\"state_source\":{\"a\":[true]}}\n", &ev));
    EXPECT_EQ(ev.worker_id, 3);
    EXPECT_EQ(ev.storage_tier, KVBM_ROUTER_TIER_DEVICE);
    EXPECT_EQ(ev.event_id, 9);
    EXPECT_EQ(ev.dp_rank, 0);
    ASSERT_EQ(ev.kind, KVBM_ROUTER_STORED);
    EXPECT_FALSE(ev.has_parent_hash);
    EXPECT_FALSE(ev.has_start_position);
    ASSERT_EQ(ev.n_blocks, 1);
    EXPECT_EQ(ev.blocks[0].block_hash, UINT64_MAX - 1);
    EXPECT_EQ(ev.blocks[0].tokens_hash, UINT64_MAX);
    EXPECT_FALSE(ev.blocks[0].has_mm_extra_info);
    ASSERT_OK(from("{\"worker_id\":1,\"event\":{\"event_id\":2,\"data\":{\"cleared\":null}}}", &ev));
    EXPECT_EQ(ev.kind, KVBM_ROUTER_CLEARED);
    ASSERT_OK(from("{\"worker_id\":1,\"event\":{\"event_id\":2,\"data\":{\"removed\":{\"block_hashes\":[]}}}}", &ev));
    EXPECT_EQ(ev.kind, KVBM_ROUTER_REMOVED);
    EXPECT_EQ(ev.n_block_hashes, 0);
    ASSERT_OK(from("{\"worker_id\":1,\"event\":{\"event_id\":2,\"data\":{\"stored\":{\"parent_hash\":-9223372036854775808,"
                   "\"blocks\":[]}}}}", &ev));
    EXPECT_TRUE(ev.has_parent_hash);
    EXPECT_EQ(ev.parent_hash, UINT64_C(1) << 63);
}

KVBM_TEST(json_rejects_malformed_input)
{
    static const char *bad[] = {
        "",                                   /* empty */
        "{",                                  /* truncated */
        "[]",                                 /* not an object */
        "{\"worker_id\":1}",                  /* no event */
        "{\"event\":{\"event_id\":1,\"data\":\"cleared\"}}", /* no worker_id */
        "{\"worker_id\":-1,\"event\":{\"event_id\":1,\"data\":\"cleared\"}}",
        "{\"worker_id\":1.5,\"event\":{\"event_id\":1,\"data\":\"cleared\"}}",
        "{\"worker_id\":\"1\",\"event\":{\"event_id\":1,\"data\":\"cleared\"}}",
        "{\"worker_id\":1,\"event\":{\"data\":\"cleared\"}}",                         /* no event_id */
        "{\"worker_id\":1,\"event\":{\"event_id\":1}}",                                /* no data */
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":\"cleared\",\"dp_rank\":4294967296}}",
        "{\"worker_id\":1,\"storage_tier\":\"gpu\",\"event\":{\"event_id\":1,\"data\":\"cleared\"}}",
        "{\"worker_id\":1,\"storage_tier\":3,\"event\":{\"event_id\":1,\"data\":\"cleared\"}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":\"flushed\"}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"stored\":{},\"removed\":{}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"moved\":{}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"cleared\":1}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"stored\":{}}}}",        /* no blocks */
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"stored\":{\"blocks\":[{\"block_hash\":1}]}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"stored\":{\"blocks\":[1]}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"stored\":{\"start_position\":-1,\"blocks\":[]}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"removed\":{}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"removed\":{\"block_hashes\":[\"1\"]}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"stored\":{\"blocks\":[{\"block_hash\":1,\"tokens_hash\":2,"
        "\"mm_extra_info\":{\"mm_objects\":[{\"mm_hash\":1,\"offsets\":[[1]]}]}}]}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"stored\":{\"blocks\":[{\"block_hash\":1,\"tokens_hash\":2,"
        "\"mm_extra_info\":{}}]}}}}",
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":\"cleared\"}} x",      /* trailing bytes */
        "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":\"cleared\"},}",       /* strict: trailing comma */
    };
    kvbm_router_event ev;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kvbm_status st = from(bad[i], &ev);
        if (st != KVBM_EPROTO) kvbm_test_fail(__FILE__, __LINE__, "case %zu: %s accepted (%d)", i, bad[i], (int)st);
        EXPECT_STR_CONTAINS(kvbm_last_error(), "kvbm_router_event_from_json");
    }
    /* nesting beyond the bound inside an unknown key */
    char deep[256];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "{\"worker_id\":1,\"x\":");
    for (int i = 0; i < 40; i++) deep[n++] = '[';
    for (int i = 0; i < 40; i++) deep[n++] = ']';
    n += (size_t)snprintf(deep + n, sizeof deep - n, ",\"event\":{\"event_id\":1,\"data\":\"cleared\"}}");
    EXPECT_STATUS(kvbm_router_event_from_json(deep, n, &ev, &SP), KVBM_EPROTO);
    /* arguments and space */
    EXPECT_STATUS(kvbm_router_event_from_json(NULL, 1, &ev, &SP), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_event_from_json("{}", 2, NULL, &SP), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_event_from_json("{}", 2, &ev, NULL), KVBM_EINVAL);
    kvbm_router_decode_space none = { NULL, 0, NULL, 0, NULL, 0 };
    const char *js = "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"removed\":{\"block_hashes\":[1]}}}}";
    EXPECT_STATUS(kvbm_router_event_from_json(js, strlen(js), &ev, &none), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "u64 pool");
    js = "{\"worker_id\":1,\"event\":{\"event_id\":1,\"data\":{\"stored\":{\"blocks\":[{\"block_hash\":1,\"tokens_hash\":2}]}}}}";
    EXPECT_STATUS(kvbm_router_event_from_json(js, strlen(js), &ev, &none), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "blocks pool");
    /* a length shorter than the text: truncated */
    EXPECT_STATUS(kvbm_router_event_from_json(js, 10, &ev, &SP), KVBM_EPROTO);
}

/* §5.4 test_router_request_mark_free_serialization_with_request_id */
KVBM_TEST(router_request_mark_free_serialization_with_request_id)
{
    char js[128];
    size_t len = 0;
    ASSERT_OK(kvbm_router_request_mark_free_to_json("req-123", js, sizeof js, &len));
    EXPECT_STR_EQ(js, "{\"method\":\"mark_free\",\"request_id\":\"req-123\"}");
    EXPECT_EQ(len, strlen(js));
    ASSERT_OK(kvbm_router_request_mark_free_to_json(NULL, js, sizeof js, &len));
    EXPECT_STR_EQ(js, "{\"method\":\"mark_free\"}");
    ASSERT_OK(kvbm_router_request_mark_free_to_json("a\"b\\c\n", js, sizeof js, &len));
    EXPECT_STR_EQ(js, "{\"method\":\"mark_free\",\"request_id\":\"a\\\"b\\\\c\\u000a\"}");
    EXPECT_STATUS(kvbm_router_request_mark_free_to_json("req-123", js, 10, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(len, 45);
    EXPECT_STATUS(kvbm_router_request_mark_free_to_json("x", NULL, 1, &len), KVBM_EINVAL);
}
