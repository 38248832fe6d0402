/* tests/common/test_status.c - status table, last error, version, lock-rank checker. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "support/child.h"
#include "internal.h"
#include "kvbm/common.h"

KVBM_TEST(status_names_and_messages)
{
    EXPECT_STR_EQ(kvbm_status_name(KVBM_OK), "KVBM_OK");
    EXPECT_STR_EQ(kvbm_status_name(KVBM_EBUSY), "KVBM_EBUSY");
    EXPECT_STR_EQ(kvbm_status_name(KVBM_ESIZE), "KVBM_ESIZE");
    EXPECT_STR_EQ(kvbm_status_name((kvbm_status)12345), "KVBM_UNKNOWN");
    EXPECT_STR_EQ(kvbm_strerror(KVBM_OK), "success");
    EXPECT_STR_CONTAINS(kvbm_strerror(KVBM_EEXHAUSTED), "not enough");
    EXPECT_STR_EQ(kvbm_strerror((kvbm_status)-999), "unknown kvbm status");
    /* values are part of the ABI */
    EXPECT_EQ(KVBM_EINVAL, -1);
    EXPECT_EQ(KVBM_EPOISONED, -6);
    EXPECT_EQ(KVBM_ECLOSED, -21);
    EXPECT_EQ(KVBM_EOVERFLOW, -22);
    EXPECT_EQ(KVBM_ELAGGED, -27);
}

KVBM_TEST(status_values_are_unique)
{
    static const int vals[] = {
#define V(name, val, msg) val,
        KVBM_STATUS_MAP(V)
#undef V
    };
    size_t n = sizeof vals / sizeof vals[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) EXPECT_NE(vals[i], vals[j]);
}

KVBM_TEST(last_error_is_thread_local_and_clearable)
{
    kvbm_clear_last_error();
    EXPECT_STR_EQ(kvbm_last_error(), "");
    kvbm__set_error("block_size must be a power of 2, got %d", 15);
    EXPECT_STR_EQ(kvbm_last_error(), "block_size must be a power of 2, got 15");
    kvbm_clear_last_error();
    EXPECT_STR_EQ(kvbm_last_error(), "");
}

KVBM_TEST(version_matches_header)
{
    EXPECT_EQ(kvbm_version_number(), KVBM_VERSION_NUMBER);
    EXPECT_STR_EQ(kvbm_version_string(), KVBM_VERSION_STRING);
}

static void invert_store_then_registry(void)
{
    kvbm__mutex store, shard;
    kvbm__mutex_init(&store, KVBM_RANK_STORE);
    kvbm__mutex_init(&shard, KVBM_RANK_REGISTRY);
    kvbm__lock(&store);
    kvbm__lock(&shard); /* inversion: registry shard under the store lock */
    kvbm__unlock(&shard);
    kvbm__unlock(&store);
}

static void correct_order(void)
{
    kvbm__mutex shard, attach, store, tracker;
    kvbm__mutex_init(&shard, KVBM_RANK_REGISTRY);
    kvbm__mutex_init(&attach, KVBM_RANK_ATTACH);
    kvbm__mutex_init(&store, KVBM_RANK_STORE);
    kvbm__mutex_init(&tracker, KVBM_RANK_TRACKER);
    kvbm__lock(&shard); kvbm__lock(&attach); kvbm__lock(&store); kvbm__lock(&tracker);
    kvbm__unlock(&attach); /* out-of-order release is allowed */
    kvbm__unlock(&tracker); kvbm__unlock(&store); kvbm__unlock(&shard);
    kvbm__lock(&store); kvbm__unlock(&store);
}

KVBM_TEST(lock_rank_checker_aborts_on_inversion)
{
#ifdef KVBM_LOCK_RANK_CHECK
    int st = test_run_in_child(invert_store_then_registry);
    EXPECT_TRUE(WIFSIGNALED(st));
    if (WIFSIGNALED(st)) EXPECT_EQ(WTERMSIG(st), SIGABRT);
    st = test_run_in_child(correct_order);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#else
    /* release build: the checker is compiled out; the correct order still works */
    int st = test_run_in_child(correct_order);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    (void)invert_store_then_registry;
#endif
}
