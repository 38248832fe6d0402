/* tests/registry/test_registry_hotpath.c - the registry's per-block paths after the
 * session-10 performance work (issue 16): reservation of handle objects, and the
 * equivalence of the fast paths with the general ones.
 */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "registry/registry_int.h"

enum { TIER_A = 100 };

/* kvbm__registry_reserve(n) also puts handle objects for every shard's share of n on its
 * free list: registering n distinct hashes afterwards allocates nothing (the manager
 * reserves its block_count at creation, so the replay's registrations never allocate);
 * registrations beyond the reservation still get objects on demand; a failed reservation
 * reports ENOMEM and leaves a usable registry. */
KVBM_TEST(reserve_puts_handle_objects_on_the_free_lists)
{
    enum { N = 4096 };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_plh *hs = malloc(4 * N * sizeof *hs);
    kvbm_handle **a = malloc(4 * N * sizeof *a);
    ASSERT_TRUE(hs != NULL && a != NULL);
    for (size_t i = 0; i < 4 * N; i++) hs[i] = tm_hash_n(7000000 + i);

    ASSERT_OK(kvbm__registry_reserve(r, N));
    unsigned long before = kvbm__alloc_count();
    ASSERT_OK(kvbm_registry_register_many(r, hs, N, a));
    EXPECT_EQ(kvbm__alloc_count(), before); /* no slab, no table growth */
    EXPECT_EQ(kvbm__registry_table_grows(r), 0u);
    EXPECT_EQ(kvbm_registry_registered_count(r), (size_t)N);

    /* beyond the share: objects (and tables) come on demand */
    ASSERT_OK(kvbm_registry_register_many(r, hs + N, 3 * N, a + N));
    EXPECT_TRUE(kvbm__alloc_count() > before);
    EXPECT_EQ(kvbm_registry_registered_count(r), (size_t)(4 * N));
    for (size_t i = 0; i < 4 * N; i++) {
        EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(a[i]), hs[i]));
        EXPECT_EQ((uintptr_t)a[i] % 64, 0);
    }
    /* a second reservation with every object live allocates again; with them free, not */
    before = kvbm__alloc_count();
    ASSERT_OK(kvbm__registry_reserve(r, N));
    EXPECT_TRUE(kvbm__alloc_count() > before);
    kvbm__handle_release_many(a, 4 * N);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0u);
    before = kvbm__alloc_count();
    ASSERT_OK(kvbm__registry_reserve(r, 4 * N));
    EXPECT_EQ(kvbm__alloc_count(), before);

    /* an allocation failure during a reservation: ENOMEM with a detail, registry usable */
    kvbm_registry *r2 = tm_registry_create(NULL);
    kvbm__alloc_fail_set(3);
    EXPECT_EQ(kvbm__registry_reserve(r2, N), KVBM_ENOMEM);
    kvbm__alloc_fail_set(0);
    ASSERT_OK(kvbm_registry_register_many(r2, hs, N, a));
    EXPECT_EQ(kvbm_registry_registered_count(r2), (size_t)N);
    kvbm__handle_release_many(a, N);
    kvbm_registry_release(r2);

    kvbm_registry_release(r);
    free(hs);
    free(a);
}
