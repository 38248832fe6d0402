/* tests/harness.h - the kvbm test harness.
 *
 * KVBM_TEST(name) { ... } defines a named case, registered at load time. Each test binary
 * links tests/harness.c, whose main() runs every case (or those named by --only NAME,
 * repeatable; --list prints names), prints one line per case and closes with
 * "N passed, N failed". Exit status 0 iff nothing failed.
 * EXPECT_* record a failure and continue; ASSERT_* record and end the case.
 * Test seeds: test_seed() returns $KVBM_TEST_SEED if set, else a time-based seed; tests
 * print the seed they use so a failure can be replayed.
 */
#ifndef KVBM_TEST_HARNESS_H
#define KVBM_TEST_HARNESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*kvbm_test_fn)(void);
void kvbm_test_register(const char *name, kvbm_test_fn fn, const char *file);
void kvbm_test_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
extern _Thread_local int kvbm_test_failed_flag;
uint64_t test_seed(void);
/* true when built with a sanitizer (tests scale iterations down) */
bool test_under_sanitizer(void);

#define KVBM_TEST(name)                                                              \
    static void kvbm_test_##name(void);                                              \
    __attribute__((constructor)) static void kvbm_test_reg_##name(void)              \
    { kvbm_test_register(#name, kvbm_test_##name, __FILE__); }                       \
    static void kvbm_test_##name(void)

#define EXPECT_TRUE(c) do { if (!(c)) kvbm_test_fail(__FILE__, __LINE__, "expected true: %s", #c); } while (0)
#define EXPECT_FALSE(c) do { if (c) kvbm_test_fail(__FILE__, __LINE__, "expected false: %s", #c); } while (0)
#define ASSERT_TRUE(c) do { if (!(c)) { kvbm_test_fail(__FILE__, __LINE__, "assertion: %s", #c); return; } } while (0)
#define ASSERT_FALSE(c) do { if (c) { kvbm_test_fail(__FILE__, __LINE__, "assertion (false): %s", #c); return; } } while (0)

#define KVBM__CMP(a, b, op, fatal) do {                                                       \
        long long kvbm__a = (long long)(a), kvbm__b = (long long)(b);                          \
        if (!(kvbm__a op kvbm__b)) {                                                           \
            kvbm_test_fail(__FILE__, __LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b,         \
                           kvbm__a, kvbm__b);                                                  \
            if (fatal) return;                                                                 \
        } } while (0)
#define KVBM__CMPU(a, b, op, fatal) do {                                                      \
        unsigned long long kvbm__a = (unsigned long long)(a), kvbm__b = (unsigned long long)(b); \
        if (!(kvbm__a op kvbm__b)) {                                                           \
            kvbm_test_fail(__FILE__, __LINE__, "%s %s %s (%llu vs %llu)", #a, #op, #b,         \
                           kvbm__a, kvbm__b);                                                  \
            if (fatal) return;                                                                 \
        } } while (0)

#define EXPECT_EQ(a, b) KVBM__CMP(a, b, ==, 0)
#define EXPECT_NE(a, b) KVBM__CMP(a, b, !=, 0)
#define EXPECT_LT(a, b) KVBM__CMP(a, b, <, 0)
#define EXPECT_LE(a, b) KVBM__CMP(a, b, <=, 0)
#define EXPECT_GT(a, b) KVBM__CMP(a, b, >, 0)
#define EXPECT_GE(a, b) KVBM__CMP(a, b, >=, 0)
#define ASSERT_EQ(a, b) KVBM__CMP(a, b, ==, 1)
#define ASSERT_NE(a, b) KVBM__CMP(a, b, !=, 1)
#define ASSERT_LT(a, b) KVBM__CMP(a, b, <, 1)
#define ASSERT_LE(a, b) KVBM__CMP(a, b, <=, 1)
#define ASSERT_GT(a, b) KVBM__CMP(a, b, >, 1)
#define ASSERT_GE(a, b) KVBM__CMP(a, b, >=, 1)
/* unsigned 64-bit comparisons (hash values) */
#define EXPECT_EQ_U64(a, b) KVBM__CMPU(a, b, ==, 0)
#define EXPECT_NE_U64(a, b) KVBM__CMPU(a, b, !=, 0)
#define ASSERT_EQ_U64(a, b) KVBM__CMPU(a, b, ==, 1)

#define EXPECT_OK(e) do { int kvbm__s = (int)(e); if (kvbm__s != 0)                               \
        kvbm_test_fail(__FILE__, __LINE__, "expected KVBM_OK from %s, got %d", #e, kvbm__s); } while (0)
#define ASSERT_OK(e) do { int kvbm__s = (int)(e); if (kvbm__s != 0) {                             \
        kvbm_test_fail(__FILE__, __LINE__, "expected KVBM_OK from %s, got %d", #e, kvbm__s); return; } } while (0)
#define EXPECT_STATUS(e, st) EXPECT_EQ((int)(e), (int)(st))
#define ASSERT_STATUS(e, st) ASSERT_EQ((int)(e), (int)(st))

#define EXPECT_STR_CONTAINS(hay, needle) do { const char *kvbm__h = (hay);                       \
        if (kvbm__h == NULL || strstr(kvbm__h, (needle)) == NULL)                                 \
            kvbm_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",                   \
                           kvbm__h ? kvbm__h : "(null)", (needle)); } while (0)
#define EXPECT_STR_EQ(a, b) do { const char *kvbm__x = (a), *kvbm__y = (b);                       \
        if (kvbm__x == NULL || kvbm__y == NULL || strcmp(kvbm__x, kvbm__y) != 0)                  \
            kvbm_test_fail(__FILE__, __LINE__, "\"%s\" != \"%s\"", kvbm__x ? kvbm__x : "(null)",   \
                           kvbm__y ? kvbm__y : "(null)"); } while (0)

#endif
