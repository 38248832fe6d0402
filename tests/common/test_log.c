/* tests/common/test_log.c - the log sink (kvbm/log.h): routing, levels, default. */
#include "harness.h"
#include "internal.h"
#include "support/child.h"
#include "support/log_capture.h"

KVBM_TEST(log_sink_receives_level_module_and_text)
{
    log_capture c;
    log_capture_start(&c);
    kvbm__log(KVBM_LOG_WARN, "events", "lost %d events of %s", 3, "sub");
    EXPECT_EQ(c.count, 1);
    EXPECT_EQ(c.level, KVBM_LOG_WARN);
    EXPECT_STR_EQ(c.module, "events");
    EXPECT_STR_EQ(c.last, "lost 3 events of sub");
    log_capture_stop(&c);
}

static int calls;
static void counting(void *ctx, kvbm_log_level level, const char *module, const char *msg)
{
    (void)ctx; (void)level; (void)module; (void)msg;
    calls++;
}

KVBM_TEST(log_max_level_filters_and_off_silences)
{
    calls = 0;
    kvbm_set_log_fn(counting, NULL, KVBM_LOG_WARN);
    EXPECT_TRUE(kvbm__log_enabled(KVBM_LOG_ERROR));
    EXPECT_TRUE(kvbm__log_enabled(KVBM_LOG_WARN));
    EXPECT_FALSE(kvbm__log_enabled(KVBM_LOG_INFO));
    kvbm__log(KVBM_LOG_ERROR, "t", "e");
    kvbm__log(KVBM_LOG_WARN, "t", "w");
    kvbm__log(KVBM_LOG_INFO, "t", "i");
    kvbm__log(KVBM_LOG_DEBUG, "t", "d");
    EXPECT_EQ(calls, 2);
    kvbm_set_log_fn(counting, NULL, KVBM_LOG_OFF);
    kvbm__log(KVBM_LOG_ERROR, "t", "e");
    EXPECT_EQ(calls, 2);
    kvbm_set_log_fn(NULL, NULL, KVBM_LOG_WARN);
}

KVBM_TEST(log_level_names)
{
    EXPECT_STR_EQ(kvbm_log_level_name(KVBM_LOG_ERROR), "error");
    EXPECT_STR_EQ(kvbm_log_level_name(KVBM_LOG_WARN), "warn");
    EXPECT_STR_EQ(kvbm_log_level_name(KVBM_LOG_INFO), "info");
    EXPECT_STR_EQ(kvbm_log_level_name(KVBM_LOG_DEBUG), "debug");
    EXPECT_STR_EQ(kvbm_log_level_name(KVBM_LOG_OFF), "off");
}

/* a sink may call back into kvbm, including replacing itself */
static void reentrant(void *ctx, kvbm_log_level level, const char *module, const char *msg)
{
    (void)level; (void)module; (void)msg;
    (*(int *)ctx)++;
    kvbm_set_log_fn(counting, NULL, KVBM_LOG_DEBUG);
}

KVBM_TEST(log_sink_may_reenter_the_library)
{
    int n = 0;
    calls = 0;
    kvbm_set_log_fn(reentrant, &n, KVBM_LOG_DEBUG);
    kvbm__log(KVBM_LOG_WARN, "t", "first");
    kvbm__log(KVBM_LOG_WARN, "t", "second");
    EXPECT_EQ(n, 1);
    EXPECT_EQ(calls, 1);
    kvbm_set_log_fn(NULL, NULL, KVBM_LOG_WARN);
}

#if KVBM_DEBUG >= 1
static void log_under_lock(void)
{
    kvbm__mutex m;
    kvbm__mutex_init(&m, KVBM_RANK_STORE);
    kvbm__lock(&m);
    kvbm__log(KVBM_LOG_WARN, "t", "never under a lock");
    kvbm__unlock(&m);
}

KVBM_TEST(log_under_a_kvbm_lock_aborts_in_debug_builds)
{
    EXPECT_NE(test_run_in_child(log_under_lock), 0);
}
#endif
