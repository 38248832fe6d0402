/* tests/registry/test_registry_reserve.c - the table sizing of kvbm__registry_reserve:
 * a reservation leaves every shard's table at a load of at most 1/4 for its share (short
 * probes on the per-block paths, session 14 round 2), and registering the reserved number
 * of hashes afterwards neither grows a table nor changes what the registry answers.
 */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "registry/registry_int.h"

/* The reserved share of a shard for n entries, as kvbm__registry_reserve computes it:
 * the mean of n / 64 shards plus four square roots of the mean plus 8. */
static size_t share_of(size_t n)
{
    size_t mean = n / 64, x = 0;
    while ((x + 1) * (x + 1) <= mean) x++;
    return mean + 4 * x + 8;
}

KVBM_TEST(reserve_sizes_tables_at_a_quarter_load)
{
    enum { N = 16384 };
    kvbm_registry *r = tm_registry_create(NULL);
    ASSERT_TRUE(r != NULL);
    EXPECT_EQ(kvbm__registry_table_slots_min(r), 0u); /* no table before the first entry */

    ASSERT_OK(kvbm__registry_reserve(r, N));
    /* every shard: room for 4 x its share (a load of 1/2 would fit in half of it) */
    size_t slots = kvbm__registry_table_slots_min(r);
    EXPECT_TRUE(slots >= 4 * share_of(N));

    kvbm_plh *hs = malloc(N * sizeof *hs);
    kvbm_handle **a = malloc(N * sizeof *a);
    ASSERT_TRUE(hs != NULL && a != NULL);
    for (size_t i = 0; i < N; i++) hs[i] = tm_hash_n(9100000 + i);
    ASSERT_OK(kvbm_registry_register_many(r, hs, N, a));
    EXPECT_EQ(kvbm__registry_table_grows(r), 0u);
    EXPECT_EQ(kvbm__registry_table_slots_min(r), slots); /* nothing resized */
    for (size_t i = 0; i < N; i++) EXPECT_TRUE(kvbm_registry_is_registered(r, hs[i]));

    /* a second reservation on top of the live entries sizes for count + share: again at a
     * quarter load at most (every shard holds some of the N entries) */
    ASSERT_OK(kvbm__registry_reserve(r, N));
    EXPECT_TRUE(kvbm__registry_table_slots_min(r) > 4 * share_of(N));
    for (size_t i = 0; i < N; i++) EXPECT_TRUE(kvbm_registry_is_registered(r, hs[i]));

    /* deaths (backward-shift deletions) in the larger table leave the rest reachable */
    for (size_t i = 0; i < N; i += 2) kvbm_handle_release(a[i]);
    for (size_t i = 0; i < N; i++) EXPECT_EQ(kvbm_registry_is_registered(r, hs[i]), (i & 1) != 0);
    for (size_t i = 1; i < N; i += 2) kvbm_handle_release(a[i]);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0u);

    kvbm_registry_release(r);
    free(a);
    free(hs);
}
