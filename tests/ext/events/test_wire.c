/* tests/ext/events/test_wire.c - the msgpack wire (spec 20 §3.6 byte vectors, tolerated
 * forms, malformed input) and the JSON rendering (spec 20 §5.2 protocol.rs round trips). */
#include <stdlib.h>

#include "harness.h"
#include "kvbm/events_wire.h"

static const kvbm_plh H0 = { 0x0000000000000000ull, 0xcb38e4d7fb2dca5cull };
static const kvbm_plh H1 = { 0x0078e4d7fb2dca5cull, 0x44a2b2379d6d3c3dull };
static const kvbm_u128 IID = { 0, 12345 };

static const char *CREATE_HEX =
    "9281a643726561746592c4100000000000000000cb38e4d7fb2dca5cc4100078e4d7fb2dca5c44a2b2379d6d3c3dc41000000000000000000000000000003039";
static const char *REMOVE_HEX =
    "9281a652656d6f766592c4100078e4d7fb2dca5c44a2b2379d6d3c3dc4100000000000000000cb38e4d7fb2dca5cc41000000000000000000000000000003039";
static const char *SHUTDOWN_HEX = "92a853687574646f776ec41000000000000000000000000000003039";

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void tohex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static bool eq(kvbm_plh a, kvbm_plh b) { return a.hi == b.hi && a.lo == b.lo; }

KVBM_TEST(msgpack_bytes_match_the_spec_vectors)
{
    uint8_t buf[256];
    char hex[600];
    size_t len;
    kvbm_plh asc[2] = { H0, H1 }, desc[2] = { H1, H0 };
    kvbm_event_batch c = { KVBM_EVENT_CREATE, asc, 2, IID };
    ASSERT_OK(kvbm_events_wire_encode(&c, buf, sizeof buf, &len));
    tohex(buf, len, hex);
    EXPECT_STR_EQ(hex, CREATE_HEX);
    kvbm_event_batch r = { KVBM_EVENT_REMOVE, desc, 2, IID };
    ASSERT_OK(kvbm_events_wire_encode(&r, buf, sizeof buf, &len));
    tohex(buf, len, hex);
    EXPECT_STR_EQ(hex, REMOVE_HEX);
    kvbm_event_batch s = { KVBM_EVENT_SHUTDOWN, NULL, 0, IID };
    ASSERT_OK(kvbm_events_wire_encode(&s, buf, sizeof buf, &len));
    tohex(buf, len, hex);
    EXPECT_STR_EQ(hex, SHUTDOWN_HEX);
}

KVBM_TEST(msgpack_encode_reports_the_size_needed)
{
    kvbm_plh asc[2] = { H0, H1 };
    kvbm_event_batch c = { KVBM_EVENT_CREATE, asc, 2, IID };
    uint8_t buf[64];
    size_t len = 0;
    EXPECT_STATUS(kvbm_events_wire_encode(&c, buf, 10, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(len, 64);
    EXPECT_OK(kvbm_events_wire_encode(&c, buf, len, &len)); /* exactly enough */
    EXPECT_STATUS(kvbm_events_wire_encode(&c, NULL, 0, &len), KVBM_EOVERFLOW);
    kvbm_event_batch bad = { KVBM_EVENT_SHUTDOWN, asc, 2, IID };
    EXPECT_STATUS(kvbm_events_wire_encode(&bad, buf, sizeof buf, &len), KVBM_EINVAL);
    kvbm_event_batch empty = { KVBM_EVENT_CREATE, asc, 0, IID };
    EXPECT_STATUS(kvbm_events_wire_encode(&empty, buf, sizeof buf, &len), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_events_wire_encode(NULL, buf, sizeof buf, &len), KVBM_EINVAL);
}

/* test_msgpack_serialization: decode(encode(x)) == x, and the vectors decode */
KVBM_TEST(msgpack_round_trip_and_vector_decode)
{
    uint8_t buf[256];
    size_t n;
    kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT;
    n = unhex(CREATE_HEX, buf);
    ASSERT_OK(kvbm_events_wire_decode(buf, n, &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_CREATE);
    ASSERT_EQ(d.batch.n, 2);
    EXPECT_TRUE(eq(d.batch.hashes[0], H0));
    EXPECT_TRUE(eq(d.batch.hashes[1], H1));
    EXPECT_EQ_U64(d.batch.instance_id.lo, 12345);
    n = unhex(REMOVE_HEX, buf);
    ASSERT_OK(kvbm_events_wire_decode(buf, n, &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_REMOVE);
    EXPECT_TRUE(eq(d.batch.hashes[0], H1));
    n = unhex(SHUTDOWN_HEX, buf);
    ASSERT_OK(kvbm_events_wire_decode(buf, n, &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_SHUTDOWN);
    EXPECT_EQ(d.batch.n, 0);

    /* random batches: encode -> decode -> encode gives the same bytes */
    uint64_t s = test_seed() | 1;
    static kvbm_plh hs[300];
    static uint8_t big[300 * 18 + 64], big2[300 * 18 + 64];
    for (int round = 0; round < 100; round++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        size_t k = 1 + s % 300;
        for (size_t i = 0; i < k; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            kvbm_plh h;
            if (kvbm_plh_new(s, true, s >> 7, 1 + s % 70000, &h) != KVBM_OK) h = H0;
            hs[i] = h;
        }
        kvbm_u128 iid = { s, ~s };
        kvbm_event_batch b = { (round & 1) ? KVBM_EVENT_REMOVE : KVBM_EVENT_CREATE, hs, k, iid };
        size_t l1, l2;
        ASSERT_OK(kvbm_events_wire_encode(&b, big, sizeof big, &l1));
        ASSERT_OK(kvbm_events_wire_decode(big, l1, &d));
        ASSERT_EQ(d.batch.n, k);
        for (size_t i = 0; i < k; i++) EXPECT_TRUE(eq(d.batch.hashes[i], hs[i]));
        EXPECT_EQ_U64(d.batch.instance_id.hi, iid.hi);
        EXPECT_EQ_U64(d.batch.instance_id.lo, iid.lo);
        ASSERT_OK(kvbm_events_wire_encode(&d.batch, big2, sizeof big2, &l2));
        EXPECT_EQ(l1, l2);
        EXPECT_TRUE(memcmp(big, big2, l1) == 0);
    }
    kvbm_events_decoded_free(&d);
    kvbm_events_decoded_free(&d); /* reset: safe twice */
}

KVBM_TEST(msgpack_decoder_accepts_the_tolerated_forms)
{
    uint8_t buf[256];
    size_t n;
    kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT;
    /* map-form struct, keys in either order; integer instance id; integer PLH */
    n = unhex("82a66576656e7473a853687574646f776eab696e7374616e63655f6964cd3039", buf);
    ASSERT_OK(kvbm_events_wire_decode(buf, n, &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_SHUTDOWN);
    EXPECT_EQ_U64(d.batch.instance_id.lo, 12345);
    n = unhex("82ab696e7374616e63655f696401a66576656e747381a643726561746591cf00000000000000ff", buf);
    ASSERT_OK(kvbm_events_wire_decode(buf, n, &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_CREATE);
    ASSERT_EQ(d.batch.n, 1);
    EXPECT_EQ_U64(d.batch.hashes[0].lo, 255);
    EXPECT_EQ_U64(d.batch.hashes[0].hi, 0);
    EXPECT_EQ_U64(d.batch.instance_id.lo, 1);
    /* bin16 holding 16 bytes counts as a u128; empty Create array decodes */
    n = unhex("9281a652656d6f766590c5001000000000000000000000000000003039", buf);
    ASSERT_OK(kvbm_events_wire_decode(buf, n, &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_REMOVE);
    EXPECT_EQ(d.batch.n, 0);
    kvbm_events_decoded_free(&d);
}

static void expect_proto(const char *hex, const char *what)
{
    uint8_t buf[256];
    size_t n = unhex(hex, buf);
    kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT;
    kvbm_status st = kvbm_events_wire_decode(buf, n, &d);
    if (st != KVBM_EPROTO) kvbm_test_fail(__FILE__, __LINE__, "%s: status %d, expected EPROTO", what, (int)st);
    else if (strstr(kvbm_last_error(), "events wire") == NULL) kvbm_test_fail(__FILE__, __LINE__, "%s: no detail", what);
    kvbm_events_decoded_free(&d);
}

KVBM_TEST(msgpack_decoder_rejects_malformed_input_with_a_clear_status)
{
    expect_proto("", "empty");
    expect_proto("c1", "invalid type byte");
    expect_proto("93a853687574646f776ec41000000000000000000000000000003039c0", "3-array");
    expect_proto("92a853687574646f776ec41000000000000000000000000000003039c0", "trailing byte");
    expect_proto("92a853687574646f776dc41000000000000000000000000000003039", "unknown unit variant");
    expect_proto("92a853687574646f776ec40f000000000000000000000000003039", "instance_id of 15 bytes");
    expect_proto("92a853687574646f776eff", "negative instance id");
    expect_proto("9281a64372656174659192c41000000000000000000000000000003039", "hash of wrong type");
    expect_proto("9281a6437265617465c0c41000000000000000000000000000003039", "Create value not an array");
    expect_proto("9282a64372656174659000a6437265617465900001", "events map of 2");
    expect_proto("82a66576656e7473a853687574646f776e", "map form without instance_id");
    expect_proto("83a66576656e7473a853687574646f776eab696e7374616e63655f696401a178c0", "unknown key");
    expect_proto("82a66576656e7473a853687574646f776ea66576656e7473a853687574646f776e", "duplicate key");
    /* huge claimed lengths on tiny inputs: refused before any allocation */
    expect_proto("ddffffffff", "array32 of 2^32-1");
    expect_proto("dfffffffff", "map32 of 2^32-1");
    expect_proto("c6ffffffff00", "bin32 of 4 GiB");
    expect_proto("dbffffffff", "str32 of 4 GiB");
    expect_proto("9281a6437265617465dc7fff", "array16 longer than the input");
    /* a non-canonical PLH (mode 3) */
    expect_proto("9281a643726561746591c410c0000000000000000000000000000001c41000000000000000000000000000003039", "bad PLH");
}

KVBM_TEST(msgpack_decoder_rejects_every_truncation)
{
    uint8_t buf[256];
    const char *vec[3] = { CREATE_HEX, REMOVE_HEX, SHUTDOWN_HEX };
    kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT;
    for (int v = 0; v < 3; v++) {
        size_t n = unhex(vec[v], buf);
        for (size_t k = 0; k < n; k++) EXPECT_STATUS(kvbm_events_wire_decode(buf, k, &d), KVBM_EPROTO);
        EXPECT_OK(kvbm_events_wire_decode(buf, n, &d));
    }
    EXPECT_STATUS(kvbm_events_wire_decode(NULL, 3, &d), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_events_wire_decode(buf, 3, NULL), KVBM_EINVAL);
    kvbm_events_decoded_free(&d);
}

KVBM_TEST(msgpack_decoder_survives_random_mutations)
{
    uint8_t orig[256], buf[256];
    size_t n = unhex(CREATE_HEX, orig);
    uint64_t s = test_seed() | 1;
    kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT;
    int ok = 0;
    for (int i = 0; i < 20000; i++) {
        memcpy(buf, orig, n);
        for (int m = 0; m < 3; m++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            buf[s % n] = (uint8_t)(s >> 40);
        }
        kvbm_status st = kvbm_events_wire_decode(buf, n, &d);
        if (st == KVBM_OK) ok++;
        else EXPECT_STATUS(st, KVBM_EPROTO);
    }
    printf("    %d of 20000 mutants decoded\n", ok);
    kvbm_events_decoded_free(&d);
}

/* ---- JSON ------------------------------------------------------------------------------ */

/* protocol.rs test_event_serialization */
KVBM_TEST(json_event_round_trip)
{
    char buf[128];
    size_t len;
    kvbm_event e = { KVBM_EVENT_CREATE, H0 };
    ASSERT_OK(kvbm_events_event_to_json(&e, buf, sizeof buf, &len));
    EXPECT_STR_EQ(buf, "{\"Create\":14643705804678351452}");
    EXPECT_EQ(len, strlen(buf));
    kvbm_event back;
    ASSERT_OK(kvbm_events_event_from_json(buf, len, &back));
    EXPECT_EQ(back.kind, KVBM_EVENT_CREATE);
    EXPECT_TRUE(eq(back.hash, H0));
    e.kind = KVBM_EVENT_REMOVE;
    e.hash = H1;
    ASSERT_OK(kvbm_events_event_to_json(&e, buf, sizeof buf, &len));
    EXPECT_STR_EQ(buf, "{\"Remove\":627717124204847210228878449883036733}");
    ASSERT_OK(kvbm_events_event_from_json(buf, len, &back));
    EXPECT_EQ(back.kind, KVBM_EVENT_REMOVE);
    EXPECT_TRUE(eq(back.hash, H1));
    const char *spaced = " { \"Create\" : 0 } ";
    ASSERT_OK(kvbm_events_event_from_json(spaced, strlen(spaced), &back));
    EXPECT_EQ_U64(back.hash.lo, 0);
}

/* protocol.rs test_batch_events_serialization */
KVBM_TEST(json_batch_round_trip_and_shapes)
{
    char buf[256];
    size_t len;
    kvbm_plh asc[2] = { H0, H1 };
    kvbm_event_batch b = { KVBM_EVENT_CREATE, asc, 2, IID };
    ASSERT_OK(kvbm_events_batch_to_json(&b, buf, sizeof buf, &len));
    EXPECT_STR_EQ(buf, "{\"events\":{\"Create\":[14643705804678351452,627717124204847210228878449883036733]},\"instance_id\":12345}");
    kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT;
    ASSERT_OK(kvbm_events_batch_from_json(buf, len, &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_CREATE);
    ASSERT_EQ(d.batch.n, 2);
    EXPECT_TRUE(eq(d.batch.hashes[0], H0));
    EXPECT_TRUE(eq(d.batch.hashes[1], H1));
    EXPECT_EQ_U64(d.batch.instance_id.lo, 12345);
    kvbm_event_batch s = { KVBM_EVENT_SHUTDOWN, NULL, 0, IID };
    ASSERT_OK(kvbm_events_batch_to_json(&s, buf, sizeof buf, &len));
    EXPECT_STR_EQ(buf, "{\"events\":\"Shutdown\",\"instance_id\":12345}");
    ASSERT_OK(kvbm_events_batch_from_json(buf, len, &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_SHUTDOWN);
    const char *swapped = "{\"instance_id\": 340282366920938463463374607431768211455, \"events\": {\"Remove\": [ ]}}";
    ASSERT_OK(kvbm_events_batch_from_json(swapped, strlen(swapped), &d));
    EXPECT_EQ(d.batch.kind, KVBM_EVENT_REMOVE);
    EXPECT_EQ(d.batch.n, 0);
    EXPECT_EQ_U64(d.batch.instance_id.hi, UINT64_MAX);
    EXPECT_EQ_U64(d.batch.instance_id.lo, UINT64_MAX);
    /* too small a buffer: the size needed */
    EXPECT_STATUS(kvbm_events_batch_to_json(&b, buf, 10, &len), KVBM_EOVERFLOW);
    EXPECT_EQ(len, 101);
    kvbm_events_decoded_free(&d);
}

KVBM_TEST(json_parser_rejects_malformed_input)
{
    const char *bad[] = {
        "", "{", "{}", "[]", "{\"events\":\"Shutdown\"}", "{\"instance_id\":1}",
        "{\"events\":\"Stop\",\"instance_id\":1}", "{\"events\":\"Shutdown\",\"instance_id\":-1}",
        "{\"events\":\"Shutdown\",\"instance_id\":340282366920938463463374607431768211456}",
        "{\"events\":\"Shutdown\",\"instance_id\":01}", "{\"events\":{\"Create\":[1,]},\"instance_id\":1}",
        "{\"events\":{\"Create\":[1]},\"instance_id\":1} x", "{\"events\":{\"Grow\":[1]},\"instance_id\":1}",
        "{\"events\":\"Shutdown\",\"events\":\"Shutdown\",\"instance_id\":1}",
        "{\"events\":\"Shutdown\",\"instance_id\":1,\"x\":2}",
    };
    kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvbm_status st = kvbm_events_batch_from_json(bad[i], strlen(bad[i]), &d);
        if (st != KVBM_EPROTO) kvbm_test_fail(__FILE__, __LINE__, "'%s' gave %d", bad[i], (int)st);
    }
    kvbm_event e;
    EXPECT_STATUS(kvbm_events_event_from_json("{\"Create\":}", 11, &e), KVBM_EPROTO);
    kvbm_events_decoded_free(&d);
}
