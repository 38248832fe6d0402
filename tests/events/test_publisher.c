/* tests/events/test_publisher.c - the publisher wrapper: ops, counters, refcount. */
#include "harness.h"
#include "kvbm/publisher.h"

typedef struct rec {
    int published, flushed, destroyed;
    size_t bytes;
    char subject[32];
    kvbm_status next;
} rec;

static kvbm_status rec_publish(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    rec *r = ctx;
    (void)buf;
    snprintf(r->subject, sizeof r->subject, "%s", subject);
    if (r->next != KVBM_OK) return r->next;
    r->published++;
    r->bytes += len;
    return KVBM_OK;
}
static kvbm_status rec_flush(void *ctx, int timeout_ms) { (void)timeout_ms; ((rec *)ctx)->flushed++; return KVBM_OK; }
static void rec_destroy(void *ctx) { ((rec *)ctx)->destroyed++; }

KVBM_TEST(publisher_forwards_and_counts)
{
    rec r = { 0 };
    kvbm_publisher_ops ops = { rec_publish, rec_flush, rec_destroy };
    kvbm_publisher *p;
    ASSERT_OK(kvbm_publisher_create(&ops, &r, &p));
    const uint8_t msg[5] = { 1, 2, 3, 4, 5 };
    EXPECT_OK(kvbm_publisher_publish(p, "kvbm.events", msg, sizeof msg));
    EXPECT_STR_EQ(r.subject, "kvbm.events");
    r.next = KVBM_EIO;
    EXPECT_STATUS(kvbm_publisher_publish(p, "s", msg, 2), KVBM_EIO);
    EXPECT_OK(kvbm_publisher_flush(p, 100));
    kvbm_publisher_stats s;
    ASSERT_OK(kvbm_publisher_get_stats(p, &s));
    EXPECT_EQ(s.published, 1);
    EXPECT_EQ(s.bytes, 5);
    EXPECT_EQ(s.errors, 1);
    EXPECT_EQ(s.flushes, 1);
    EXPECT_EQ(r.flushed, 1);
    EXPECT_EQ(kvbm_publisher_acquire(p), p);
    kvbm_publisher_release(p);
    EXPECT_EQ(r.destroyed, 0);
    kvbm_publisher_release(p);
    EXPECT_EQ(r.destroyed, 1);
}

KVBM_TEST(publisher_rejects_bad_arguments_with_a_message)
{
    kvbm_publisher *p = (kvbm_publisher *)1;
    kvbm_publisher_ops none = { 0 };
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_publisher_create(&none, NULL, &p), KVBM_EINVAL);
    EXPECT_TRUE(p == NULL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "ops->publish");
    EXPECT_STATUS(kvbm_publisher_create(NULL, NULL, NULL), KVBM_EINVAL);
    rec r = { 0 };
    kvbm_publisher_ops ops = { rec_publish, NULL, NULL };
    ASSERT_OK(kvbm_publisher_create(&ops, &r, &p));
    EXPECT_STATUS(kvbm_publisher_publish(p, NULL, NULL, 0), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_publisher_publish(p, "s", NULL, 3), KVBM_EINVAL);
    EXPECT_OK(kvbm_publisher_publish(p, "s", NULL, 0));
    EXPECT_OK(kvbm_publisher_flush(p, 0)); /* no flush op: nothing to wait for */
    kvbm_publisher_release(p);
    kvbm_publisher_release(NULL);
}

KVBM_TEST(publisher_context_only_for_its_own_ops)
{
    rec r = { 0 };
    kvbm_publisher_ops ops = { rec_publish, NULL, NULL };
    kvbm_publisher *p;
    ASSERT_OK(kvbm_publisher_create(&ops, &r, &p));
    EXPECT_TRUE(kvbm_publisher_context(p, rec_publish) == &r);
    EXPECT_TRUE(kvbm_publisher_context(p, NULL) == NULL);
    EXPECT_TRUE(kvbm_publisher_context(NULL, rec_publish) == NULL);
    kvbm_publisher_release(p);
}
