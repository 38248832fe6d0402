/* tests/ext/events/test_wire_encode_ref.c - the encoder writes its hash arrays straight
 * into the buffer (not through msgpack-c's packer): its bytes must equal a plain msgpack-c
 * encoding of the same batch for every size, across the array-header boundaries (fixarray
 * up to 15, array16 up to 65535, array32), and for every buffer size that cuts it. */
#include <msgpack.h>
#include <stdlib.h>

#include "harness.h"
#include "kvbm/events_wire.h"

static void ref_u128(msgpack_packer *pk, uint64_t hi, uint64_t lo)
{
    uint8_t be[16];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(hi >> (56 - 8 * i));
        be[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    msgpack_pack_bin(pk, 16);
    msgpack_pack_bin_body(pk, be, 16);
}

/* spec 20 §3.6 with msgpack-c alone */
static void ref_encode(const kvbm_event_batch *b, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    if (b->kind == KVBM_EVENT_SHUTDOWN) {
        msgpack_pack_str(&pk, 8);
        msgpack_pack_str_body(&pk, "Shutdown", 8);
    } else {
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str(&pk, 6);
        msgpack_pack_str_body(&pk, b->kind == KVBM_EVENT_CREATE ? "Create" : "Remove", 6);
        msgpack_pack_array(&pk, b->n);
        for (size_t i = 0; i < b->n; i++) ref_u128(&pk, b->hashes[i].hi, b->hashes[i].lo);
    }
    ref_u128(&pk, b->instance_id.hi, b->instance_id.lo);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

KVBM_TEST(encoder_bytes_equal_plain_msgpack_c_for_every_size)
{
    static const size_t sizes[] = { 1, 2, 3, 14, 15, 16, 17, 22, 64, 255, 256, 1024, 65535, 65536, 70000 };
    uint64_t s = test_seed() | 1;
    size_t nmax = 70000;
    kvbm_plh *v = malloc(nmax * sizeof *v);
    uint8_t *buf = malloc(18 * nmax + 64);
    ASSERT_TRUE(v != NULL && buf != NULL);
    for (size_t i = 0; i < nmax; i++) {
        v[i].hi = rnd(&s);
        v[i].lo = rnd(&s);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int kind = KVBM_EVENT_CREATE; kind <= KVBM_EVENT_SHUTDOWN; kind++) {
            bool sd = kind == KVBM_EVENT_SHUTDOWN;
            kvbm_u128 iid = { rnd(&s), rnd(&s) };
            kvbm_event_batch b = { (kvbm_event_kind)kind, sd ? NULL : v, sd ? 0 : sizes[k], iid };
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            ref_encode(&b, &sb);
            size_t len = 0;
            EXPECT_OK(kvbm_events_wire_encode(&b, buf, 18 * nmax + 64, &len));
            EXPECT_EQ(len, sb.size);
            EXPECT_TRUE(len == sb.size && memcmp(buf, sb.data, len) == 0);
            msgpack_sbuffer_destroy(&sb);
        }
    }
    free(v);
    free(buf);
}

KVBM_TEST(encoder_reports_the_full_size_for_every_short_buffer)
{
    kvbm_plh v[20];
    uint64_t s = test_seed() | 1;
    for (size_t i = 0; i < 20; i++) {
        v[i].hi = rnd(&s);
        v[i].lo = rnd(&s);
    }
    kvbm_u128 iid = { 1, 2 };
    kvbm_event_batch b = { KVBM_EVENT_REMOVE, v, 20, iid };
    uint8_t full[512], buf[512];
    size_t want = 0;
    ASSERT_OK(kvbm_events_wire_encode(&b, full, sizeof full, &want));
    for (size_t cap = 0; cap < want; cap++) {
        size_t len = 0;
        memset(buf, 0xee, sizeof buf);
        EXPECT_STATUS(kvbm_events_wire_encode(&b, buf, cap, &len), KVBM_EOVERFLOW);
        EXPECT_EQ(len, want);
        EXPECT_EQ(buf[cap], 0xee); /* nothing written past the buffer */
    }
    size_t len = 0;
    ASSERT_OK(kvbm_events_wire_encode(&b, buf, want, &len));
    EXPECT_TRUE(len == want && memcmp(buf, full, want) == 0);
}
