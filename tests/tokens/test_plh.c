/* tests/tokens/test_plh.c - PositionalLineageHash schema B: layout vectors (spec 20 §1.10,
 * §5.6), accessors, mode boundaries, order/equality/hash, wire and text forms, bad input. */
#include <stdlib.h>

#include "harness.h"
#include "kvbm/plh.h"

#define U128(h, l) ((kvbm_plh){ (uint64_t)(h##u), (uint64_t)(l##u) })

static bool plh_is(kvbm_plh got, uint64_t hi, uint64_t lo)
{
    if (got.hi == hi && got.lo == lo) return true;
    fprintf(stderr, "    PLH 0x%016llx%016llx != expected 0x%016llx%016llx\n",
            (unsigned long long)got.hi, (unsigned long long)got.lo, (unsigned long long)hi,
            (unsigned long long)lo);
    return false;
}

static kvbm_plh mk(uint64_t cur, bool hp, uint64_t par, uint64_t pos)
{
    kvbm_plh h = { 0, 0 };
    kvbm_status st = kvbm_plh_new(cur, hp, par, pos, &h);
    if (st != KVBM_OK) fprintf(stderr, "    kvbm_plh_new(pos %llu) failed %d\n",
                               (unsigned long long)pos, (int)st);
    return h;
}

/* §1.10.5 new() examples, including the lo^hi fold column */
KVBM_TEST(new_examples_1_10_5)
{
    kvbm_plh h = mk(0xAA, true, 0x11, 5);
    EXPECT_TRUE(plh_is(h, UINT64_C(0x0140000000000011), UINT64_C(0x00000000000000aa)));
    EXPECT_EQ_U64(kvbm_plh_fold(h), UINT64_C(0x1400000000000bb));
    h = mk(0xAA, true, 0x22, 5);
    EXPECT_TRUE(plh_is(h, UINT64_C(0x0140000000000022), UINT64_C(0x00000000000000aa)));
    EXPECT_EQ_U64(kvbm_plh_fold(h), UINT64_C(0x140000000000088));
    h = mk(0x1234, false, 0x9999, 0); /* parent ignored without has_parent */
    EXPECT_TRUE(plh_is(h, 0, 0x1234));
    EXPECT_EQ_U64(kvbm_plh_fold(h), 0x1234);
    h = mk(0x1234, true, 0x1234, 1);
    EXPECT_TRUE(plh_is(h, UINT64_C(0x0040000000001234), UINT64_C(0x1234)));
    EXPECT_EQ_U64(kvbm_plh_fold(h), UINT64_C(0x40000000000000));
    h = mk(0xdeadbeef, true, 0x5678, 3);
    EXPECT_TRUE(plh_is(h, UINT64_C(0x00c0000000005678), UINT64_C(0xdeadbeef)));
    h = mk(UINT64_MAX, true, 0xdeadbeef, 255);
    EXPECT_TRUE(plh_is(h, UINT64_C(0x3fc00000deadbeef), UINT64_MAX));
    h = mk(UINT64_C(0x1234567890ABCDEF), true, UINT64_C(0xFEDCBA9876543210), 100);
    EXPECT_TRUE(plh_is(h, UINT64_C(0x191cba9876543210), UINT64_C(0x1234567890abcdef)));
    EXPECT_EQ(kvbm_plh_mode(h), 0);
    EXPECT_EQ_U64(kvbm_plh_position(h), 100);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(h), UINT64_C(0xFEDCBA9876543210) & ((UINT64_C(1) << 54) - 1));
    h = mk(UINT64_C(0x1234567890ABCDEF), true, UINT64_C(0xFEDCBA9876543210), 1000);
    EXPECT_TRUE(plh_is(h, UINT64_C(0x40fa3a9876543210), UINT64_C(0x1234567890abcdef)));
    EXPECT_EQ(kvbm_plh_mode(h), 1);
    EXPECT_EQ_U64(kvbm_plh_position(h), 1000);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(h), UINT64_C(0xFEDCBA9876543210) & ((UINT64_C(1) << 46) - 1));
    h = mk(UINT64_C(0x1234567890ABCDEF), true, UINT64_C(0xFEDCBA9876543210), 100000);
    EXPECT_TRUE(plh_is(h, UINT64_C(0x8061a81876543210), UINT64_C(0x1234567890abcdef)));
    EXPECT_EQ(kvbm_plh_mode(h), 2);
    EXPECT_EQ_U64(kvbm_plh_position(h), 100000);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(h), UINT64_C(0xFEDCBA9876543210) & ((UINT64_C(1) << 38) - 1));
    EXPECT_EQ_U64(kvbm_plh_current(h), UINT64_C(0x1234567890ABCDEF));
}

/* §1.10.1 rows via root/extend (vector #11): block hashes are §5.6 #1, #2, #4 */
KVBM_TEST(root_extend_rows_1_10_1)
{
    kvbm_plh r = kvbm_plh_root(UINT64_C(14643705804678351452)), c1, c2;
    EXPECT_TRUE(plh_is(r, 0, UINT64_C(0xcb38e4d7fb2dca5c)));
    ASSERT_OK(kvbm_plh_extend(&r, UINT64_C(16777012769546811212), &c1));
    EXPECT_TRUE(plh_is(c1, UINT64_C(0x0078e4d7fb2dca5c), UINT64_C(0x44a2b2379d6d3c3d)));
    EXPECT_EQ_U64(kvbm_plh_current(c1), UINT64_C(4945711292740353085)); /* #3 */
    EXPECT_EQ(kvbm_plh_mode(c1), 0);
    EXPECT_EQ_U64(kvbm_plh_position(c1), 1);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(c1), UINT64_C(0x38e4d7fb2dca5c));
    ASSERT_OK(kvbm_plh_extend(&c1, UINT64_C(483935686894639516), &c2));
    EXPECT_TRUE(plh_is(c2, UINT64_C(0x00a2b2379d6d3c3d), UINT64_C(0xaea1e67a6c80cf84)));
    EXPECT_EQ_U64(kvbm_plh_current(c2), UINT64_C(12583592247330656132)); /* #5 */
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(r), 0); /* root parent 0 */
    EXPECT_EQ_U64(kvbm_plh_position(r), 0);
}

/* §1.10.2 + §5.6 #7, #8, #10: router projection of the consolidator vector */
KVBM_TEST(consolidator_vector_1_10_2)
{
    kvbm_plh r = kvbm_plh_root(UINT64_C(16324159493528209483)), c;
    EXPECT_TRUE(plh_is(r, 0, UINT64_C(0xe28b1091fc91c84b)));
    ASSERT_OK(kvbm_plh_extend(&r, UINT64_C(6032772817189548200), &c));
    EXPECT_TRUE(plh_is(c, UINT64_C(0x004b1091fc91c84b), UINT64_C(0xe9d314e0aef99641)));
    EXPECT_EQ_U64(kvbm_plh_current(c), UINT64_C(16848833586163979841));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment_for_child_position(r, 1), UINT64_C(3114443937531979));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment_for_child_position(c, 2), UINT64_C(5370979798324801));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(c), UINT64_C(3114443937531979));
}

/* §1.10.3: the 254/255/256 rows (chain of single-token blocks, built here from new()) */
KVBM_TEST(mode_boundary_rows_1_10_3)
{
    kvbm_plh p254 = U128(0x3fba473a20a2bfcc, 0xf6ae8a4555e9f42d);
    kvbm_plh p255 = U128(0x3fee8a4555e9f42d, 0x739dcdd18d0a0f0f);
    kvbm_plh p256 = U128(0x40400dd18d0a0f0f, 0xf915185cd5a208c3);
    EXPECT_EQ_U64(kvbm_plh_position(p254), 254);
    EXPECT_EQ_U64(kvbm_plh_position(p255), 255);
    EXPECT_EQ_U64(kvbm_plh_position(p256), 256);
    EXPECT_EQ(kvbm_plh_mode(p255), 0);
    EXPECT_EQ(kvbm_plh_mode(p256), 1);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(p254), UINT64_C(0x3a473a20a2bfcc));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(p255), UINT64_C(0x2e8a4555e9f42d));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(p256), UINT64_C(0xdd18d0a0f0f));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment_for_child_position(p254, 255), UINT64_C(0x2e8a4555e9f42d));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment_for_child_position(p255, 256), UINT64_C(0xdd18d0a0f0f));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment_for_child_position(p256, 257), UINT64_C(0x185cd5a208c3));
    /* rebuilding each row with new() from (current, parent current, position) */
    EXPECT_TRUE(kvbm_plh_eq(mk(p255.lo, true, p254.lo, 255), p255));
    EXPECT_TRUE(kvbm_plh_eq(mk(p256.lo, true, p255.lo, 256), p256));
    for (int i = 0; i < 3; i++) EXPECT_OK(kvbm_plh_validate(i == 0 ? p254 : i == 1 ? p255 : p256));
}

/* chain invariant at 65535 -> 65536 (mode 1 -> 2) and 255 -> 256, via extend */
KVBM_TEST(mode_boundary_extend_65535)
{
    static const uint64_t starts[] = { 253, 65533, KVBM_PLH_MAX_POSITION - 3 };
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        kvbm_plh p = mk(UINT64_C(0x1111222233334444) + s, true, UINT64_C(0xFEDCBA9876543210), starts[s]);
        for (int i = 0; i < 3; i++) {
            kvbm_plh c;
            ASSERT_OK(kvbm_plh_extend(&p, UINT64_C(0x5555666677778888) + (uint64_t)i, &c));
            EXPECT_EQ_U64(kvbm_plh_position(c), kvbm_plh_position(p) + 1);
            EXPECT_EQ_U64(kvbm_plh_parent_fragment(c),
                          kvbm_plh_parent_fragment_for_child_position(p, kvbm_plh_position(c)));
            EXPECT_OK(kvbm_plh_validate(c));
            p = c;
        }
    }
    kvbm_plh a = mk(1, true, UINT64_MAX, 65535), b = mk(1, true, UINT64_MAX, 65536);
    EXPECT_EQ(kvbm_plh_mode(a), 1);
    EXPECT_EQ(kvbm_plh_mode(b), 2);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(a), (UINT64_C(1) << 46) - 1);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(b), (UINT64_C(1) << 38) - 1);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment_for_child_position(mk(UINT64_MAX, false, 0, 0), 65536),
                  (UINT64_C(1) << 38) - 1);
    EXPECT_EQ_U64(kvbm_plh_current_fragment(a), 1);
    EXPECT_EQ_U64(kvbm_plh_current_fragment(mk(UINT64_MAX, false, 0, 7)), (UINT64_C(1) << 54) - 1);
}

/* test_positional_lineage_hash_panic_on_large_position -> a status, output untouched */
KVBM_TEST(position_limit)
{
    kvbm_plh h = U128(0x77, 0x77), top;
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_plh_new(1, false, 0, UINT64_C(1) << 24, &h), KVBM_ERANGE);
    EXPECT_TRUE(plh_is(h, 0x77, 0x77));
    EXPECT_STR_CONTAINS(kvbm_last_error(), "exceeds maximum supported value");
    EXPECT_STATUS(kvbm_plh_new(1, false, 0, UINT64_MAX, &h), KVBM_ERANGE);
    ASSERT_OK(kvbm_plh_new(9, true, 8, KVBM_PLH_MAX_POSITION, &top));
    EXPECT_EQ_U64(kvbm_plh_position(top), KVBM_PLH_MAX_POSITION);
    EXPECT_STATUS(kvbm_plh_extend(&top, 5, &h), KVBM_ERANGE);
    EXPECT_TRUE(plh_is(h, 0x77, 0x77));
    EXPECT_STATUS(kvbm_plh_new(1, false, 0, 0, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_plh_extend(NULL, 5, &h), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_plh_extend(&top, 5, NULL), KVBM_EINVAL);
}

/* positions round-trip in every mode; fragments keep the low bits of the parent */
KVBM_TEST(positions_roundtrip_all_modes)
{
    uint64_t seed = test_seed();
    printf("  seed=%" PRIu64 "\n", seed);
    uint64_t x = seed | 1;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t pos = (i < 3) ? (uint64_t)i : x % (KVBM_PLH_MAX_POSITION + 1);
        if (i % 3 == 0) pos &= 0xFF; else if (i % 3 == 1) pos &= 0xFFFF;
        uint64_t par = x * UINT64_C(0x9e3779b97f4a7c15), cur = ~x;
        kvbm_plh h = mk(cur, pos != 0, par, pos);
        ASSERT_EQ_U64(kvbm_plh_position(h), pos);
        unsigned bits = pos < 256 ? 54 : pos < 65536 ? 46 : 38;
        ASSERT_EQ_U64(kvbm_plh_parent_fragment(h), pos ? (par & ((UINT64_C(1) << bits) - 1)) : 0);
        ASSERT_EQ_U64(kvbm_plh_current(h), cur);
        ASSERT_OK(kvbm_plh_validate(h));
    }
}

/* test_positional_lineage_hash_as_u128 + identity: equality, total order, hashing */
KVBM_TEST(equality_order_hash)
{
    kvbm_plh a = mk(0xAA, true, 0x11, 5), b = mk(0xAA, true, 0x22, 5);
    EXPECT_FALSE(kvbm_plh_eq(a, b)); /* same position+current, different parent: impostor */
    EXPECT_TRUE(kvbm_plh_eq(a, mk(0xAA, true, 0x11, 5))); /* deterministic */
    EXPECT_NE_U64(kvbm_plh_hash64(a), kvbm_plh_hash64(b));
    EXPECT_FALSE(kvbm_plh_eq(mk(0xAA, true, 0x11, 5), mk(0xAA, true, 0x11, 6)));
    /* order: position first, even when hi/lo would say otherwise */
    kvbm_plh low = mk(UINT64_MAX, true, UINT64_MAX, 3), high = mk(0, false, 0, 300);
    EXPECT_LT(kvbm_plh_cmp(low, high), 0);
    EXPECT_GT(kvbm_plh_cmp(high, low), 0);
    EXPECT_EQ(kvbm_plh_cmp(a, a), 0);
    EXPECT_LT(kvbm_plh_cmp(a, b), 0); /* same position: hi decides */
    EXPECT_LT(kvbm_plh_cmp(mk(1, true, 7, 9), mk(2, true, 7, 9)), 0); /* then lo */
    /* cmp is antisymmetric and transitive-consistent with sorting */
    kvbm_plh v[64];
    for (int i = 0; i < 64; i++) v[i] = mk((uint64_t)(i * 7919) % 13, true, (uint64_t)i % 5, (uint64_t)((i * 31) % 70000));
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++) {
            int c1 = kvbm_plh_cmp(v[i], v[j]), c2 = kvbm_plh_cmp(v[j], v[i]);
            EXPECT_TRUE((c1 > 0) == (c2 < 0) && (c1 == 0) == kvbm_plh_eq(v[i], v[j]));
            if (c1 < 0) EXPECT_LE(kvbm_plh_position(v[i]), kvbm_plh_position(v[j]));
        }
}

KVBM_TEST(wire_forms)
{
    kvbm_plh h = mk(0xAA, true, 0x11, 5);
    uint8_t be[16], le[16];
    kvbm_plh_to_be16(h, be);
    static const uint8_t want_be[16] = { 0x01, 0x40, 0, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0, 0, 0, 0xaa };
    EXPECT_EQ(memcmp(be, want_be, 16), 0);
    EXPECT_TRUE(kvbm_plh_eq(kvbm_plh_from_be16(be), h));
    kvbm_plh_to_le16(h, le);
    for (int i = 0; i < 16; i++) EXPECT_EQ(le[i], be[15 - i]); /* LE u128 = reversed BE */
    EXPECT_EQ(le[0], 0xaa);
    EXPECT_EQ(le[15], 0x01);
}

KVBM_TEST(hex_text_form)
{
    char buf[KVBM_PLH_HEX_LEN];
    kvbm_plh h = U128(0x0078e4d7fb2dca5c, 0x44a2b2379d6d3c3d), back;
    EXPECT_STR_EQ(kvbm_plh_to_hex(h, buf), "0078e4d7fb2dca5c44a2b2379d6d3c3d");
    ASSERT_OK(kvbm_plh_from_hex(buf, &back));
    EXPECT_TRUE(kvbm_plh_eq(back, h));
    ASSERT_OK(kvbm_plh_from_hex("0x0078E4D7FB2DCA5C44A2B2379D6D3C3D", &back));
    EXPECT_TRUE(kvbm_plh_eq(back, h));
    back = U128(1, 2);
    EXPECT_STATUS(kvbm_plh_from_hex("0078e4d7fb2dca5c44a2b2379d6d3c3", &back), KVBM_EPROTO);
    EXPECT_STATUS(kvbm_plh_from_hex("0078e4d7fb2dca5c44a2b2379d6d3c3d0", &back), KVBM_EPROTO);
    EXPECT_STATUS(kvbm_plh_from_hex("0078e4d7fb2dca5c44a2b2379d6d3cgd", &back), KVBM_EPROTO);
    EXPECT_STATUS(kvbm_plh_from_hex("", &back), KVBM_EPROTO);
    EXPECT_STATUS(kvbm_plh_from_hex(NULL, &back), KVBM_EINVAL);
    EXPECT_TRUE(plh_is(back, 1, 2));
    EXPECT_TRUE(kvbm_plh_to_hex(h, NULL) == NULL);
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

/* test_positional_lineage_hash_debug_and_display + base58 vectors of §1.10.1 */
KVBM_TEST(display_form)
{
    char buf[KVBM_PLH_DISPLAY_LEN];
    kvbm_plh r = kvbm_plh_root(UINT64_C(0xcb38e4d7fb2dca5c));
    EXPECT_STR_EQ(kvbm_plh_display(r, buf), "0:azWbh91idkf"); /* b58 of the full root hash */
    EXPECT_EQ(count_char(buf, ':'), 1);
    /* base58 vectors of the A display column (values that fit any 64-bit word) */
    EXPECT_STR_EQ(kvbm_plh_display(kvbm_plh_root(UINT64_C(0x0338e4d7fb2dca5c)), buf), "0:YG4uhF52FD");
    /* non-root: "pos:b58(current):b58(stored parent fragment)" (54 bits in mode 0) */
    char frag[KVBM_PLH_DISPLAY_LEN], want[2 * KVBM_PLH_DISPLAY_LEN];
    kvbm_plh_display(kvbm_plh_root(UINT64_C(0x0338e4d7fb2dca5c) & ((UINT64_C(1) << 54) - 1)), frag);
    snprintf(want, sizeof want, "1:myHeYrDr4U:%s", frag + 2);
    EXPECT_STR_EQ(kvbm_plh_display(mk(UINT64_C(0x04a2b2379d6d3c3d), true, UINT64_C(0x0338e4d7fb2dca5c), 1), buf),
                  want);
    kvbm_plh h = mk(0xAA, true, 0x11, 5);
    kvbm_plh_display(h, buf);
    EXPECT_TRUE(strncmp(buf, "5:", 2) == 0);
    EXPECT_EQ(count_char(buf, ':'), 2);
    /* leading zero bytes become '1's; zero is eight '1's */
    EXPECT_STR_EQ(kvbm_plh_display(kvbm_plh_root(0), buf), "0:11111111");
    kvbm_plh big = mk(UINT64_MAX, true, UINT64_MAX, KVBM_PLH_MAX_POSITION);
    kvbm_plh_display(big, buf);
    EXPECT_LT(strlen(buf), KVBM_PLH_DISPLAY_LEN);
    EXPECT_TRUE(strncmp(buf, "16777215:", 9) == 0);
}

KVBM_TEST(validate_rejects_noncanonical)
{
    EXPECT_OK(kvbm_plh_validate(U128(0, 0))); /* default value: root, position 0, current 0 */
    EXPECT_STATUS(kvbm_plh_validate(U128(0xC000000000000000, 1)), KVBM_EPROTO); /* mode 3 */
    /* position 5 encoded in mode 1 */
    EXPECT_STATUS(kvbm_plh_validate(((kvbm_plh){ UINT64_C(0x4000000000000000) | (UINT64_C(5) << 46), 1 })), KVBM_EPROTO);
    /* position 0 with a parent fragment */
    EXPECT_STATUS(kvbm_plh_validate(U128(0x0000000000000001, 1)), KVBM_EPROTO);
    EXPECT_OK(kvbm_plh_validate(mk(3, true, 4, 70000)));
}

#if defined(__SIZEOF_INT128__) && !defined(KVBM_NO_INT128)
KVBM_TEST(as_u128)
{
    kvbm_plh h = mk(0xAA, true, 0x11, 5);
    kvbm_plh_u128 v = kvbm_plh_as_u128(h);
    EXPECT_EQ_U64((uint64_t)(v >> 64), UINT64_C(0x0140000000000011));
    EXPECT_EQ_U64((uint64_t)v, UINT64_C(0xaa));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_plh_from_u128(v), h));
    /* position changes the value; equal inputs give equal values */
    EXPECT_TRUE(kvbm_plh_as_u128(mk(0xAA, true, 0x11, 6)) != v);
    EXPECT_TRUE(kvbm_plh_as_u128(mk(0xAA, true, 0x11, 5)) == v);
}
#endif
