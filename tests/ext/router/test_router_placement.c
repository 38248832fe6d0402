/* tests/ext/router/test_router_placement.c - the remaining §4.1.1 types: WorkerWithDpRank,
 * KvCacheEvents (router batch: events + shutdown), Placement / PlacementEvent with
 * into_router_event (only LocalWorker placements). Encodings equal python3-msgpack's bytes
 * (fixtures_types.h) and round-trip through the decoders. */
#include <string.h>

#include "fixtures_types.h"
#include "harness.h"
#include "kvbm/router_events.h"

static const uint64_t H45[2] = { 4, 5 };

static kvbm_router_event kv_removed(uint64_t id, uint32_t dp)
{
    kvbm_router_event e;
    memset(&e, 0, sizeof e);
    e.event_id = id;
    e.dp_rank = dp;
    e.kind = KVBM_ROUTER_REMOVED;
    e.block_hashes = H45;
    e.n_block_hashes = 2;
    return e;
}

KVBM_TEST(worker_with_dp_rank_codec)
{
    kvbm_router_worker w = { 7, 2 }, back = { 0, 0 };
    uint8_t buf[64];
    size_t len = 0;
    ASSERT_OK(kvbm_router_worker_encode(&w, buf, sizeof buf, &len));
    ASSERT_EQ(len, sizeof FX_WORKER);
    EXPECT_TRUE(memcmp(buf, FX_WORKER, len) == 0);
    ASSERT_OK(kvbm_router_worker_decode(FX_WORKER, sizeof FX_WORKER, &back));
    EXPECT_EQ(back.worker_id, 7);
    EXPECT_EQ(back.dp_rank, 2);
    EXPECT_STATUS(kvbm_router_worker_encode(&w, buf, 3, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(len, sizeof FX_WORKER);
    EXPECT_STATUS(kvbm_router_worker_decode(FX_WORKER, sizeof FX_WORKER - 1, &back), KVBM_EPROTO);
    static const uint8_t no_id[] = { 0x81, 0xa7, 'd', 'p', '_', 'r', 'a', 'n', 'k', 0x01 };
    EXPECT_STATUS(kvbm_router_worker_decode(no_id, sizeof no_id, &back), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "kvbm_router_worker_decode");
    EXPECT_STATUS(kvbm_router_worker_decode(FX_WORKER, sizeof FX_WORKER, NULL), KVBM_EINVAL);
}

KVBM_TEST(kv_cache_events_batch_codec)
{
    kvbm_router_event ev[2] = { kv_removed(1, 0), kv_removed(2, 0) };
    ev[0].kind = KVBM_ROUTER_CLEARED;
    ev[0].worker_id = 99; /* ignored: a KvCacheEvent has no worker */
    uint8_t buf[256];
    size_t len = 0;
    ASSERT_OK(kvbm_router_batch_encode(ev, 2, true, buf, sizeof buf, &len));
    ASSERT_EQ(len, sizeof FX_BATCH);
    EXPECT_TRUE(memcmp(buf, FX_BATCH, len) == 0);
    kvbm_router_event back[4];
    uint64_t u64[8];
    kvbm_router_decode_space sp = { NULL, 0, NULL, 0, u64, 8 };
    size_t n = 0;
    bool shutdown = false;
    ASSERT_OK(kvbm_router_batch_decode(FX_BATCH, sizeof FX_BATCH, back, 4, &n, &shutdown, &sp));
    ASSERT_EQ(n, 2);
    EXPECT_TRUE(shutdown);
    EXPECT_EQ(back[0].kind, KVBM_ROUTER_CLEARED);
    EXPECT_EQ(back[0].event_id, 1);
    EXPECT_EQ(back[0].worker_id, 0);
    EXPECT_EQ(back[1].kind, KVBM_ROUTER_REMOVED);
    ASSERT_EQ(back[1].n_block_hashes, 2);
    EXPECT_EQ(back[1].block_hashes[1], 5);
    /* re-encode: same bytes; empty batch without shutdown */
    size_t len2 = 0;
    ASSERT_OK(kvbm_router_batch_encode(back, n, shutdown, buf, sizeof buf, &len2));
    EXPECT_TRUE(len2 == sizeof FX_BATCH && memcmp(buf, FX_BATCH, len2) == 0);
    ASSERT_OK(kvbm_router_batch_encode(NULL, 0, false, buf, sizeof buf, &len));
    ASSERT_OK(kvbm_router_batch_decode(buf, len, back, 4, &n, &shutdown, NULL));
    EXPECT_EQ(n, 0);
    EXPECT_FALSE(shutdown);
    /* bounds: too many events for the array, pool too small, missing events */
    EXPECT_STATUS(kvbm_router_batch_decode(FX_BATCH, sizeof FX_BATCH, back, 1, &n, &shutdown, &sp), KVBM_EOVERFLOW);
    EXPECT_STATUS(kvbm_router_batch_decode(FX_BATCH, sizeof FX_BATCH, back, 4, &n, &shutdown, NULL), KVBM_EOVERFLOW);
    static const uint8_t only_shutdown[] = { 0x81, 0xa8, 's', 'h', 'u', 't', 'd', 'o', 'w', 'n', 0xc2 };
    EXPECT_STATUS(kvbm_router_batch_decode(only_shutdown, sizeof only_shutdown, back, 4, &n, &shutdown, &sp),
                  KVBM_EPROTO);
    for (size_t cut = 1; cut < sizeof FX_BATCH; cut++) /* every truncation */
        EXPECT_STATUS(kvbm_router_batch_decode(FX_BATCH, cut, back, 4, &n, &shutdown, &sp), KVBM_EPROTO);
}

KVBM_TEST(placement_event_codec_and_into_router_event)
{
    kvbm_router_placement_event pe;
    memset(&pe, 0, sizeof pe);
    pe.placement.owner = KVBM_ROUTER_OWNER_LOCAL_WORKER;
    pe.placement.worker = (kvbm_router_worker){ 7, 1 };
    pe.placement.tier = KVBM_ROUTER_TIER_DISK;
    pe.event = kv_removed(3, 1);
    uint8_t buf[256];
    size_t len = 0;
    ASSERT_OK(kvbm_router_placement_event_encode(&pe, buf, sizeof buf, &len));
    ASSERT_EQ(len, sizeof FX_PLACEMENT_LOCAL);
    EXPECT_TRUE(memcmp(buf, FX_PLACEMENT_LOCAL, len) == 0);
    uint64_t u64[8];
    kvbm_router_decode_space sp = { NULL, 0, NULL, 0, u64, 8 };
    kvbm_router_placement_event back;
    ASSERT_OK(kvbm_router_placement_event_decode(FX_PLACEMENT_LOCAL, sizeof FX_PLACEMENT_LOCAL, &back, &sp));
    EXPECT_EQ(back.placement.owner, KVBM_ROUTER_OWNER_LOCAL_WORKER);
    EXPECT_EQ(back.placement.worker.worker_id, 7);
    EXPECT_EQ(back.placement.worker.dp_rank, 1);
    EXPECT_EQ(back.placement.tier, KVBM_ROUTER_TIER_DISK);
    kvbm_router_event re;
    ASSERT_OK(kvbm_router_placement_event_into_router_event(&back, &re));
    EXPECT_EQ(re.worker_id, 7);
    EXPECT_EQ(re.storage_tier, KVBM_ROUTER_TIER_DISK);
    EXPECT_EQ(re.event_id, 3);
    EXPECT_EQ(re.dp_rank, 1);
    ASSERT_EQ(re.kind, KVBM_ROUTER_REMOVED);
    EXPECT_EQ(re.n_block_hashes, 2);
    char js[512];
    ASSERT_OK(kvbm_router_event_to_json(&re, js, sizeof js, &len));
    EXPECT_STR_EQ(js, "{\"worker_id\":7,\"storage_tier\":\"disk\",\"event\":{\"event_id\":3,\"data\":{\"removed\":"
                      "{\"block_hashes\":[4,5]}},\"dp_rank\":1}}");

    /* Shared: encodes, decodes, but has no router event */
    pe.placement.owner = KVBM_ROUTER_OWNER_SHARED;
    pe.placement.tier = KVBM_ROUTER_TIER_EXTERNAL;
    memset(&pe.event, 0, sizeof pe.event);
    pe.event.kind = KVBM_ROUTER_CLEARED;
    ASSERT_OK(kvbm_router_placement_event_encode(&pe, buf, sizeof buf, &len));
    ASSERT_EQ(len, sizeof FX_PLACEMENT_SHARED);
    EXPECT_TRUE(memcmp(buf, FX_PLACEMENT_SHARED, len) == 0);
    ASSERT_OK(kvbm_router_placement_event_decode(FX_PLACEMENT_SHARED, sizeof FX_PLACEMENT_SHARED, &back, &sp));
    EXPECT_EQ(back.placement.owner, KVBM_ROUTER_OWNER_SHARED);
    EXPECT_EQ(back.placement.tier, KVBM_ROUTER_TIER_EXTERNAL);
    EXPECT_STATUS(kvbm_router_placement_event_into_router_event(&back, &re), KVBM_ENOENT);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Shared");
    /* bad input */
    pe.placement.owner = (kvbm_router_owner)5;
    EXPECT_STATUS(kvbm_router_placement_event_encode(&pe, buf, sizeof buf, &len), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_placement_event_into_router_event(NULL, &re), KVBM_EINVAL);
    for (size_t cut = 1; cut < sizeof FX_PLACEMENT_LOCAL; cut++)
        EXPECT_STATUS(kvbm_router_placement_event_decode(FX_PLACEMENT_LOCAL, cut, &back, &sp), KVBM_EPROTO);
    uint8_t bad[sizeof FX_PLACEMENT_SHARED];
    memcpy(bad, FX_PLACEMENT_SHARED, sizeof bad);
    bad[19] = 'X'; /* "Shared" -> "Xhared" */
    EXPECT_STATUS(kvbm_router_placement_event_decode(bad, sizeof bad, &back, &sp), KVBM_EPROTO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "owner");
}
