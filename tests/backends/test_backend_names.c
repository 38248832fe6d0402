/* tests/backends/test_backend_names.c - kvbm_backend_parse / kvbm_backend_name (kvbm/config.h):
 * the one table of backend names the CLI, the benchmarks and the Python binding use. */
#include "harness.h"
#include "kvbm/config.h"

static const struct {
    const char           *name;
    kvbm_backend          backend;
    kvbm_lineage_eviction eviction;
} canonical[] = {
    { "lineage",      KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_TICK },
    { "lineage-fifo", KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_FIFO },
    { "lru",          KVBM_BACKEND_LRU,       KVBM_LINEAGE_TICK },
    { "multi-lru",    KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK },
    { "hashmap",      KVBM_BACKEND_HASHMAP,   KVBM_LINEAGE_TICK },
};

KVBM_TEST(canonical_names_round_trip)
{
    for (size_t i = 0; i < sizeof canonical / sizeof canonical[0]; i++) {
        kvbm_backend b = (kvbm_backend)99;
        kvbm_lineage_eviction e = (kvbm_lineage_eviction)99;
        ASSERT_OK(kvbm_backend_parse(canonical[i].name, &b, &e));
        EXPECT_EQ(b, canonical[i].backend);
        EXPECT_EQ(e, canonical[i].eviction);
        EXPECT_STR_EQ(kvbm_backend_name(b, e), canonical[i].name);
    }
}

KVBM_TEST(old_spellings_are_aliases)
{
    static const struct { const char *alias, *canon; } a[] = {
        { "lineage-tick", "lineage" }, { "lineage_tick", "lineage" },
        { "lineage_fifo", "lineage-fifo" }, { "multi_lru", "multi-lru" }, { "multilru", "multi-lru" },
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        kvbm_backend b;
        kvbm_lineage_eviction e;
        ASSERT_OK(kvbm_backend_parse(a[i].alias, &b, &e));
        EXPECT_STR_EQ(kvbm_backend_name(b, e), a[i].canon);
    }
}

KVBM_TEST(eviction_matters_only_for_lineage)
{
    EXPECT_STR_EQ(kvbm_backend_name(KVBM_BACKEND_LRU, KVBM_LINEAGE_FIFO), "lru");
    EXPECT_STR_EQ(kvbm_backend_name(KVBM_BACKEND_HASHMAP, KVBM_LINEAGE_FIFO), "hashmap");
    EXPECT_STR_EQ(kvbm_backend_name(KVBM_BACKEND_LINEAGE, KVBM_LINEAGE_FIFO), "lineage-fifo");
}

KVBM_TEST(values_outside_the_enums_have_no_name)
{
    EXPECT_TRUE(kvbm_backend_name((kvbm_backend)4, KVBM_LINEAGE_TICK) == NULL);
    EXPECT_TRUE(kvbm_backend_name((kvbm_backend)-1, KVBM_LINEAGE_TICK) == NULL);
    EXPECT_TRUE(kvbm_backend_name(KVBM_BACKEND_LINEAGE, (kvbm_lineage_eviction)2) == NULL);
}

KVBM_TEST(unknown_name_is_einval_with_the_name_and_the_valid_list)
{
    kvbm_backend b = KVBM_BACKEND_HASHMAP;
    kvbm_lineage_eviction e = KVBM_LINEAGE_FIFO;
    EXPECT_STATUS(kvbm_backend_parse("LRU", &b, &e), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "\"LRU\"");
    EXPECT_STR_CONTAINS(kvbm_last_error(), "valid: lineage, lineage-fifo, lru, multi-lru, hashmap");
    EXPECT_STATUS(kvbm_backend_parse("", &b, &e), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_backend_parse("lru ", &b, &e), KVBM_EINVAL);
    EXPECT_EQ(b, KVBM_BACKEND_HASHMAP); /* outputs untouched on error */
    EXPECT_EQ(e, KVBM_LINEAGE_FIFO);
}

KVBM_TEST(null_arguments_are_einval)
{
    kvbm_backend b;
    kvbm_lineage_eviction e;
    EXPECT_STATUS(kvbm_backend_parse(NULL, &b, &e), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "name");
    EXPECT_STATUS(kvbm_backend_parse("lru", NULL, &e), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_backend_parse("lru", &b, NULL), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "eviction");
}
