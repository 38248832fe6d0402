/* tests/ext/nats/test_nats.c - the NATS publisher against a real nats-server, checked by an
 * independent Python subscriber speaking the plain-text protocol (nats_sub.py). */
#include "harness.h"
#include "internal.h" /* kvbm__alloc_fail_set */
#include "nats_test_env.h"

KVBM_TEST(nats_bad_urls_and_subjects_name_the_value)
{
    static const char *bad[] = { "http://127.0.0.1:4222", "nats://", "nats://127.0.0.1:0", "nats://127.0.0.1:99999",
                                 "nats://127.0.0.1:42x", "nats:/127.0.0.1", "nats://a b:1", "nats://*:4222" };
    kvbm_publisher *p = (kvbm_publisher *)1;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kvbm_nats_config cfg = KVBM_NATS_CONFIG_INIT;
        cfg.url = bad[i];
        EXPECT_STATUS(kvbm_nats_publisher_create(&cfg, &p), KVBM_EINVAL);
        EXPECT_TRUE(p == NULL);
        EXPECT_STR_CONTAINS(kvbm_last_error(), bad[i]);
    }
    static const char *subjects[] = { "", "a..b", ".a", "a.", "a b", "kvbm.*", ">", "tab\there" };
    for (size_t i = 0; i < sizeof subjects / sizeof *subjects; i++) {
        EXPECT_STATUS(kvbm_nats_subject_check(subjects[i]), KVBM_EINVAL);
        EXPECT_STR_CONTAINS(kvbm_last_error(), subjects[i]);
    }
    EXPECT_OK(kvbm_nats_subject_check("kvbm.events"));
    EXPECT_OK(kvbm_nats_subject_check("a.b*c.>d"));
    kvbm_nats_config cfg = KVBM_NATS_CONFIG_INIT;
    cfg.url = "nats://127.0.0.1:4222";
    cfg.subject = "kvbm..events";
    EXPECT_STATUS(kvbm_nats_publisher_create(&cfg, &p), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "kvbm..events");
    EXPECT_STATUS(kvbm_nats_publisher_create(NULL, &p), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_nats_publisher_create(&cfg, NULL), KVBM_EINVAL);
}

KVBM_TEST(nats_server_down_at_start_is_econnect_naming_the_url)
{
    int port = test_free_port();
    ASSERT_GT(port, 0);
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    kvbm_nats_config cfg = KVBM_NATS_CONFIG_INIT;
    cfg.url = url;
    cfg.connect_timeout_ms = 500;
    kvbm_publisher *p = NULL;
    EXPECT_STATUS(kvbm_nats_publisher_create(&cfg, &p), KVBM_ECONNECT);
    EXPECT_TRUE(p == NULL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), url);
}

KVBM_TEST(nats_stream_reaches_an_independent_subscriber_byte_for_byte)
{
    NATS_ENV_START(e, false);
    kvbm_publisher *p = NULL;
    kvbm_status st = kvbm_nats_publisher_create(&cfg, &p);
    EXPECT_OK(st);
    if (st == KVBM_OK) {
        /* "" = the configured subject (default kvbm.events); a foreign one is not received */
        EXPECT_EQ(publish_range(p, "", 0, 300, 1, true), 0);
        EXPECT_EQ(publish_range(p, "kvbm.events", 300, 600, 1, false), 0);
        uint8_t one[64];
        size_t n1 = test_wire_message(600, one, sizeof one);
        EXPECT_OK(kvbm_publisher_publish(p, "other.subject", one, n1));
        EXPECT_STATUS(kvbm_publisher_publish(p, "bad subject", one, n1), KVBM_EINVAL);
        EXPECT_STR_CONTAINS(kvbm_last_error(), "bad subject");
        /* over the server's max_payload (1 MiB by default): refused at publish, named */
        size_t big = (size_t)2 << 20;
        uint8_t *huge = calloc(1, big);
        EXPECT_STATUS(kvbm_publisher_publish(p, "", huge, big), KVBM_ERANGE);
        EXPECT_STR_CONTAINS(kvbm_last_error(), "max_payload");
        free(huge);
        EXPECT_OK(kvbm_publisher_flush(p, 20000));
        kvbm_nats_stats s;
        ASSERT_OK(kvbm_nats_publisher_get_stats(p, &s));
        EXPECT_EQ(s.accepted, 604);
        EXPECT_EQ(s.confirmed, 604);
        EXPECT_EQ(s.queued, 0);
        EXPECT_EQ(s.dropped, 0);
        EXPECT_EQ(s.resent, 0);
        EXPECT_TRUE(s.connected);
        EXPECT_GT(s.bytes_sent, 604 * 40);
        kvbm_publisher_stats ws;
        ASSERT_OK(kvbm_publisher_get_stats(p, &ws));
        EXPECT_EQ(ws.published, 604);
        EXPECT_EQ(ws.errors, 2);
        sub_result r;
        EXPECT_TRUE(sub_result_read(&e.sub, "END\n", &r));
        EXPECT_EQ(r.vectors, 3);
        EXPECT_EQ(r.unique, 600); /* message 600 went to another subject */
        EXPECT_EQ(r.max, 599);
        EXPECT_EQ(r.dups, 0);
        EXPECT_EQ(r.bad, 0);
        EXPECT_EQ(r.inorder, 1);
        kvbm_nats_stats other;
        EXPECT_STATUS(kvbm_nats_publisher_get_stats(NULL, &other), KVBM_EINVAL);
        kvbm_publisher_release(p);
    }
    nats_env_stop(&e);
}

KVBM_TEST(nats_every_allocation_failure_is_enomem_and_leaks_nothing)
{
    NATS_ENV_START(e, false);
    int ok_runs = 0;
    for (long nth = 1; nth < 12; nth++) { /* see the ZeroMQ twin; libnats' own allocations are not hooked */
        kvbm_publisher *p = NULL;
        kvbm__alloc_fail_set(nth);
        kvbm_status st = kvbm_nats_publisher_create(&cfg, &p);
        if (st == KVBM_OK) {
            uint8_t buf[64];
            size_t n = test_wire_message(0, buf, sizeof buf);
            kvbm_status ps = kvbm_publisher_publish(p, "", buf, n);
            EXPECT_TRUE(ps == KVBM_OK || ps == KVBM_ENOMEM);
            ok_runs++;
            kvbm_publisher_release(p);
        } else {
            EXPECT_STATUS(st, KVBM_ENOMEM);
            EXPECT_TRUE(p == NULL);
            EXPECT_STR_CONTAINS(kvbm_last_error(), "out of memory");
        }
        kvbm__alloc_fail_set(0);
    }
    EXPECT_GT(ok_runs, 0);
    nats_env_stop(&e);
}
