/* tests/support/wire_vectors.c - see wire_vectors.h. */
#include "wire_vectors.h"

#include <string.h>

const char *const test_wire_spec_hex[3] = {
    "9281a643726561746592c4100000000000000000cb38e4d7fb2dca5cc4100078e4d7fb2dca5c44a2b2379d6d3c3d"
    "c41000000000000000000000000000003039",
    "9281a652656d6f766592c4100078e4d7fb2dca5c44a2b2379d6d3c3dc4100000000000000000cb38e4d7fb2dca5c"
    "c41000000000000000000000000000003039",
    "92a853687574646f776ec41000000000000000000000000000003039",
};

size_t test_wire_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap) return 0;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 99;
            if (d > 15) return 0;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

size_t test_wire_batch(uint8_t *out, size_t cap, bool create, const uint8_t (*h)[16], size_t n,
                       uint64_t instance)
{
    size_t need = 3 + 6 + 5 + n * 18 + 18;
    if (cap < need || n > UINT32_MAX) return 0;
    uint8_t *p = out;
    *p++ = 0x92; /* [events, instance_id] */
    *p++ = 0x81; /* {"Create"|"Remove": [...]} */
    *p++ = 0xa6;
    memcpy(p, create ? "Create" : "Remove", 6);
    p += 6;
    if (n < 16) {
        *p++ = (uint8_t)(0x90 | n);
    } else if (n < 65536) {
        *p++ = 0xdc;
        *p++ = (uint8_t)(n >> 8);
        *p++ = (uint8_t)n;
    } else {
        *p++ = 0xdd;
        for (int s = 24; s >= 0; s -= 8) *p++ = (uint8_t)(n >> s);
    }
    for (size_t i = 0; i < n; i++) {
        *p++ = 0xc4;
        *p++ = 16;
        memcpy(p, h[i], 16);
        p += 16;
    }
    *p++ = 0xc4; /* u128 instance id: bin8 of 16 big-endian bytes */
    *p++ = 16;
    be64(p, 0);
    be64(p + 8, instance);
    return (size_t)(p + 16 - out);
}

void test_wire_hash(uint64_t i, uint64_t j, uint8_t out[16])
{
    be64(out, i);
    be64(out + 8, ((j + 1) * UINT64_C(0x9E3779B97F4A7C15)) ^ i);
}

size_t test_wire_message(uint64_t i, uint8_t *out, size_t cap)
{
    uint8_t h[3][16];
    size_t n = 1 + (size_t)(i % 3);
    for (size_t j = 0; j < n; j++) test_wire_hash(i, j, h[j]);
    return test_wire_batch(out, cap, i % 2 == 0, (const uint8_t(*)[16])h, n, TEST_WIRE_INSTANCE0 + i);
}
