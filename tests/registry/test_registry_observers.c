/* tests/registry/test_registry_observers.c - several observers per registry: order,
 * add/remove, the creation-time hook as observer 1, failures logged (not fatal). */
#include "harness.h"
#include "kvbm/registry.h"
#include "support/log_capture.h"

typedef struct trace {
    char log[64];
    int  n;
} trace;

typedef struct obs_ctx {
    trace      *t;
    char        tag;
    kvbm_status ret;
} obs_ctx;

static kvbm_status on_reg(void *ctx, kvbm_handle *h)
{
    obs_ctx *o = ctx;
    (void)h;
    if (o->t->n < (int)sizeof o->t->log - 1) o->t->log[o->t->n++] = o->tag;
    return o->ret;
}

static kvbm_plh plh(uint64_t x) { return kvbm_plh_root(x); }

static void reg_once(kvbm_registry *r, uint64_t x)
{
    kvbm_handle *h = NULL;
    EXPECT_OK(kvbm_registry_register(r, plh(x), &h));
    kvbm_handle_release(h);
}

KVBM_TEST(observers_run_in_order_once_per_creation)
{
    trace t = { { 0 }, 0 };
    obs_ctx a = { &t, 'a', KVBM_OK }, b = { &t, 'b', KVBM_OK }, hk = { &t, 'h', KVBM_OK };
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.hooks.on_registered = on_reg;
    cfg.hooks.ctx = &hk;
    kvbm_registry *r;
    ASSERT_OK(kvbm_registry_create(&cfg, &r));
    kvbm_registry_observer oa = { on_reg, &a, "a" }, ob = { on_reg, &b, "b" };
    uint32_t ia, ib;
    ASSERT_OK(kvbm_registry_add_observer(r, &oa, &ia));
    ASSERT_OK(kvbm_registry_add_observer(r, &ob, &ib));
    EXPECT_NE(ia, ib);
    EXPECT_NE(ia, 1u); /* 1 is the hook */

    kvbm_handle *h1, *h2;
    ASSERT_OK(kvbm_registry_register(r, plh(1), &h1));
    ASSERT_OK(kvbm_registry_register(r, plh(1), &h2)); /* reuse: no observer */
    EXPECT_STR_EQ(t.log, "hab");
    kvbm_handle *ht;
    ASSERT_OK(kvbm_registry_transfer(r, plh(2), &ht)); /* transfer: none */
    EXPECT_STR_EQ(t.log, "hab");
    kvbm_handle_release(ht);

    ASSERT_OK(kvbm_registry_remove_observer(r, ia));
    ASSERT_OK(kvbm_registry_remove_observer(r, 1)); /* the hook */
    EXPECT_STATUS(kvbm_registry_remove_observer(r, ia), KVBM_ENOENT);
    EXPECT_STATUS(kvbm_registry_remove_observer(r, 0), KVBM_ENOENT);
    EXPECT_STATUS(kvbm_registry_remove_observer(r, 99), KVBM_ENOENT);
    reg_once(r, 3);
    EXPECT_STR_EQ(t.log, "habb");
    kvbm_handle_release(h1);
    kvbm_handle_release(h2);
    kvbm_registry_release(r);
}

KVBM_TEST(observer_slots_are_bounded_and_reused)
{
    trace t = { { 0 }, 0 };
    obs_ctx a = { &t, 'x', KVBM_OK };
    kvbm_registry *r;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_registry_observer o = { on_reg, &a, NULL };
    uint32_t ids[KVBM_REGISTRY_MAX_OBSERVERS], extra;
    for (unsigned i = 0; i < KVBM_REGISTRY_MAX_OBSERVERS; i++) ASSERT_OK(kvbm_registry_add_observer(r, &o, &ids[i]));
    EXPECT_STATUS(kvbm_registry_add_observer(r, &o, &extra), KVBM_EFULL);
    EXPECT_TRUE(strstr(kvbm_last_error(), "maximum") != NULL);
    reg_once(r, 7);
    EXPECT_EQ(t.n, KVBM_REGISTRY_MAX_OBSERVERS);
    ASSERT_OK(kvbm_registry_remove_observer(r, ids[3]));
    ASSERT_OK(kvbm_registry_add_observer(r, &o, &extra));
    EXPECT_EQ(extra, ids[3]);
    kvbm_registry_observer bad = { NULL, NULL, NULL };
    EXPECT_STATUS(kvbm_registry_add_observer(r, &bad, &extra), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_add_observer(NULL, &o, &extra), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_add_observer(r, NULL, &extra), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_add_observer(r, &o, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_remove_observer(NULL, 1), KVBM_EINVAL);
    kvbm_registry_release(r);
}

static kvbm_status failing(void *ctx, kvbm_handle *h)
{
    (void)ctx; (void)h;
    return KVBM_EATTACH_IS_MULTIPLE;
}

KVBM_TEST(failing_observer_is_logged_and_the_registration_stands)
{
    log_capture c;
    log_capture_start(&c);
    trace t = { { 0 }, 0 };
    obs_ctx after = { &t, 'z', KVBM_OK };
    kvbm_registry *r;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_registry_observer f = { failing, NULL, "events" }, z = { on_reg, &after, "z" };
    uint32_t id;
    ASSERT_OK(kvbm_registry_add_observer(r, &f, &id));
    ASSERT_OK(kvbm_registry_add_observer(r, &z, &id));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, plh(42), &h));
    EXPECT_TRUE(kvbm_registry_is_registered(r, plh(42)));
    EXPECT_STR_EQ(t.log, "z"); /* the next observer still ran */
    EXPECT_EQ(log_capture_count(&c), 1);
    EXPECT_EQ(c.level, KVBM_LOG_WARN);
    EXPECT_STR_EQ(c.module, "registry");
    EXPECT_TRUE(strstr(c.last, "observer 'events' failed") != NULL);
    EXPECT_TRUE(strstr(c.last, "KVBM_EATTACH_IS_MULTIPLE") != NULL);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
    log_capture_stop(&c);
}

/* The one-observer branch of the notification (its own status path since session 14):
 * a lone failing observer is logged once per creation, by name, with its status, for a
 * single and for a batched registration, the registrations stand, and a reuse calls
 * nobody. */
KVBM_TEST(a_lone_failing_observer_is_logged_per_creation)
{
    log_capture c;
    log_capture_start(&c);
    trace t = { { 0 }, 0 };
    obs_ctx bad = { &t, 'b', KVBM_EATTACH_IS_MULTIPLE };
    kvbm_registry *r;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_registry_observer o = { on_reg, &bad, "lone" };
    uint32_t id;
    ASSERT_OK(kvbm_registry_add_observer(r, &o, &id));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, plh(7), &h));
    EXPECT_TRUE(kvbm_registry_is_registered(r, plh(7)));
    EXPECT_EQ(log_capture_count(&c), 1);
    EXPECT_EQ(c.level, KVBM_LOG_WARN);
    EXPECT_TRUE(strstr(c.last, "observer 'lone' failed") != NULL);
    EXPECT_TRUE(strstr(c.last, "KVBM_EATTACH_IS_MULTIPLE") != NULL);
    kvbm_plh keys[3] = { plh(7), plh(8), plh(9) };
    kvbm_handle *hs[3];
    ASSERT_OK(kvbm_registry_register_many(r, keys, 3, hs));
    EXPECT_EQ(log_capture_count(&c), 3); /* 8 and 9 created, 7 reused */
    EXPECT_STR_EQ(t.log, "bbb");
    EXPECT_TRUE(hs[0] == h);
    for (int i = 0; i < 3; i++) kvbm_handle_release(hs[i]);
    kvbm_handle_release(h);
    bad.ret = KVBM_OK; /* a succeeding lone observer logs nothing */
    reg_once(r, 10);
    EXPECT_EQ(log_capture_count(&c), 3);
    EXPECT_STR_EQ(t.log, "bbbb");
    kvbm_registry_release(r);
    log_capture_stop(&c);
}
