/* tests/ext/consolidator/test_cons_source.c - event sources and aliases (spec 20 §4.3.1;
 * §5.5 source.rs). */
#include "harness.h"
#include "kvbm/consolidator_tracker.h"

KVBM_TEST(roundtrip_known_aliases)
{
    static const struct { const char *alias; kvbm_cons_source s; } cases[] = {
        {"vllm", KVBM_CONS_SOURCE_VLLM},       {"VLLM", KVBM_CONS_SOURCE_VLLM},
        {"GPU", KVBM_CONS_SOURCE_VLLM},        {"trtllm", KVBM_CONS_SOURCE_TRTLLM},
        {"TRTLLM", KVBM_CONS_SOURCE_TRTLLM},   {"TensorRT-LLM", KVBM_CONS_SOURCE_TRTLLM},
        {"kvbm", KVBM_CONS_SOURCE_KVBM},       {"KVBM", KVBM_CONS_SOURCE_KVBM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvbm_cons_source s = (kvbm_cons_source)99;
        ASSERT_OK(kvbm_cons_source_parse(cases[i].alias, &s));
        EXPECT_EQ(s, cases[i].s);
        /* the canonical name parses back to the same source */
        kvbm_cons_source back = (kvbm_cons_source)99;
        ASSERT_OK(kvbm_cons_source_parse(kvbm_cons_source_name(s), &back));
        EXPECT_EQ(back, s);
    }
}

KVBM_TEST(unknown_source_errors)
{
    static const char *bad[] = {"sglang", "", "Vllm", "gpu", "trt-llm", "kvbm "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvbm_cons_source s = KVBM_CONS_SOURCE_TRTLLM;
        EXPECT_STATUS(kvbm_cons_source_parse(bad[i], &s), KVBM_EINVAL);
        EXPECT_EQ(s, KVBM_CONS_SOURCE_TRTLLM); /* unchanged */
        char want[64];
        snprintf(want, sizeof want, "Unknown event source: %s", bad[i]);
        EXPECT_TRUE(strstr(kvbm_last_error(), want) != NULL);
    }
    kvbm_cons_source s;
    EXPECT_STATUS(kvbm_cons_source_parse(NULL, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_cons_source_parse("vllm", NULL), KVBM_EINVAL);
}

KVBM_TEST(as_str_is_stable)
{
    EXPECT_TRUE(strcmp(kvbm_cons_source_name(KVBM_CONS_SOURCE_VLLM), "vllm") == 0);
    EXPECT_TRUE(strcmp(kvbm_cons_source_name(KVBM_CONS_SOURCE_TRTLLM), "trtllm") == 0);
    EXPECT_TRUE(strcmp(kvbm_cons_source_name(KVBM_CONS_SOURCE_KVBM), "kvbm") == 0);
    EXPECT_TRUE(kvbm_cons_source_name((kvbm_cons_source)3) == NULL);
    /* the same pointer every time: static storage */
    EXPECT_TRUE(kvbm_cons_source_name(KVBM_CONS_SOURCE_VLLM) == kvbm_cons_source_name(KVBM_CONS_SOURCE_VLLM));
}
