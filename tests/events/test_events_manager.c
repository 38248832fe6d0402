/* tests/events/test_events_manager.c - the events manager and its policies (spec 20 §5.2
 * manager.rs, policy.rs, protocol.rs release handle), plus what C adds: several
 * managers on one registry, several registries, the attach-failure case, stream end,
 * close, errors. */
#include "harness.h"
#include "kvbm/events.h"
#include "events/events_int.h"
#include "support/events_helpers.h"
#include "support/log_capture.h"

typedef struct fixture {
    kvbm_registry       *reg;
    kvbm_events_manager *em;
    kvbm_events_sub     *sub;
} fixture;

static bool fx_open(fixture *f, const kvbm_events_policy *pol)
{
    kvbm_events_config cfg = KVBM_EVENTS_CONFIG_INIT;
    if (pol != NULL) cfg.policy = *pol;
    if (kvbm_registry_create(NULL, &f->reg) != KVBM_OK) return false;
    if (kvbm_events_manager_create(&cfg, &f->em) != KVBM_OK) return false;
    if (kvbm_events_manager_attach(f->em, f->reg) != KVBM_OK) return false;
    return kvbm_events_subscribe(f->em, &f->sub) == KVBM_OK;
}

static void fx_close(fixture *f)
{
    kvbm_events_unsubscribe(f->sub);
    kvbm_events_manager_release(f->em);
    kvbm_registry_release(f->reg);
}

static bool plh_eq(kvbm_plh a, kvbm_plh b) { return a.hi == b.hi && a.lo == b.lo; }

KVBM_TEST(spec_hash_at_position_16)
{
    kvbm_plh h = test_plh_at(16);
    EXPECT_EQ_U64(h.hi, 0x040699a78fce6afdull);
    EXPECT_EQ_U64(h.lo, 0x52907f748e11e96cull);
    EXPECT_EQ(kvbm_plh_position(h), 16);
}

/* ---- policy.rs ------------------------------------------------------------------------ */

static kvbm_plh at(uint64_t pos)
{
    kvbm_plh h;
    if (kvbm_plh_new(0x1234 + pos, pos > 0, 0x99, pos, &h) != KVBM_OK) h = kvbm_plh_root(0);
    return h;
}

KVBM_TEST(power_of_two_policy_accepts_valid_positions)
{
    kvbm_events_policy p = kvbm_events_policy_power_of_two();
    int n = 0;
    for (uint64_t pos = 16; pos <= 65536; pos *= 2, n++) EXPECT_TRUE(kvbm_events_policy_should_emit(&p, at(pos)));
    EXPECT_EQ(n, 13);
}

KVBM_TEST(power_of_two_policy_rejects_non_power_of_two)
{
    kvbm_events_policy p = kvbm_events_policy_power_of_two();
    const uint64_t bad[] = { 15, 17, 31, 33, 63, 65, 100, 1000, 10000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_FALSE(kvbm_events_policy_should_emit(&p, at(bad[i])));
}

KVBM_TEST(power_of_two_policy_rejects_out_of_range)
{
    kvbm_events_policy p = kvbm_events_policy_power_of_two();
    const uint64_t bad[] = { 0, 1, 2, 4, 8, 131072 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_FALSE(kvbm_events_policy_should_emit(&p, at(bad[i])));
}

KVBM_TEST(power_of_two_policy_custom_range)
{
    kvbm_events_policy p = kvbm_events_policy_power_of_two_range(32, 128);
    EXPECT_TRUE(kvbm_events_policy_should_emit(&p, at(32)));
    EXPECT_TRUE(kvbm_events_policy_should_emit(&p, at(64)));
    EXPECT_TRUE(kvbm_events_policy_should_emit(&p, at(128)));
    EXPECT_FALSE(kvbm_events_policy_should_emit(&p, at(16)));
    EXPECT_FALSE(kvbm_events_policy_should_emit(&p, at(256)));
    kvbm_events_policy z = kvbm_events_policy_power_of_two_range(0, 8);
    EXPECT_FALSE(kvbm_events_policy_should_emit(&z, at(0))); /* 0 is not a power of two */
    EXPECT_TRUE(kvbm_events_policy_should_emit(&z, at(1)));
}

static bool odd_only(void *ctx, kvbm_plh h)
{
    (*(int *)ctx)++;
    return kvbm_plh_position(h) % 2 == 1;
}

KVBM_TEST(custom_and_all_policies)
{
    int calls = 0;
    kvbm_events_policy p = kvbm_events_policy_custom(odd_only, &calls);
    EXPECT_TRUE(kvbm_events_policy_should_emit(&p, at(3)));
    EXPECT_FALSE(kvbm_events_policy_should_emit(&p, at(4)));
    EXPECT_EQ(calls, 2);
    kvbm_events_policy none = kvbm_events_policy_custom(NULL, NULL);
    EXPECT_FALSE(kvbm_events_policy_should_emit(&none, at(3)));
    kvbm_events_policy all = kvbm_events_policy_all();
    EXPECT_TRUE(kvbm_events_policy_should_emit(&all, at(17)));
    EXPECT_TRUE(kvbm_events_policy_should_emit(NULL, at(0)));
}

/* ---- manager.rs ------------------------------------------------------------------------ */

KVBM_TEST(events_manager_emits_create_for_power_of_two)
{
    fixture f;
    kvbm_events_policy p = kvbm_events_policy_power_of_two();
    ASSERT_TRUE(fx_open(&f, &p));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, test_plh_at(16), &h));
    kvbm_event ev;
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    EXPECT_TRUE(plh_eq(ev.hash, test_plh_at(16)));
    kvbm_handle_release(h);
    fx_close(&f);
}

KVBM_TEST(events_manager_skips_non_power_of_two)
{
    fixture f;
    kvbm_events_policy p = kvbm_events_policy_power_of_two();
    ASSERT_TRUE(fx_open(&f, &p));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, test_plh_at(17), &h));
    kvbm_handle_release(h); /* filtered: no Remove either */
    kvbm_event ev;
    EXPECT_STATUS(kvbm_events_next(f.sub, 50, &ev, NULL), KVBM_ETIMEDOUT);
    kvbm_events_stats s;
    ASSERT_OK(kvbm_events_manager_get_stats(f.em, &s));
    EXPECT_EQ(s.filtered, 1);
    EXPECT_EQ(s.created, 0);
    EXPECT_EQ(s.removed, 0);
    fx_close(&f);
}

KVBM_TEST(events_manager_emits_remove_on_drop)
{
    fixture f;
    kvbm_events_policy p = kvbm_events_policy_power_of_two();
    ASSERT_TRUE(fx_open(&f, &p));
    kvbm_handle *h, *h2;
    ASSERT_OK(kvbm_registry_register(f.reg, test_plh_at(32), &h));
    ASSERT_OK(kvbm_registry_register(f.reg, test_plh_at(32), &h2)); /* same registration */
    kvbm_event ev;
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    kvbm_handle_release(h);
    EXPECT_STATUS(kvbm_events_next(f.sub, 0, &ev, NULL), KVBM_ETIMEDOUT); /* still registered */
    kvbm_handle_release(h2);
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    EXPECT_TRUE(plh_eq(ev.hash, test_plh_at(32)));
    kvbm_events_stats s;
    ASSERT_OK(kvbm_events_manager_get_stats(f.em, &s));
    EXPECT_EQ(s.created, 1);
    EXPECT_EQ(s.removed, 1);
    fx_close(&f);
}

KVBM_TEST(events_manager_multiple_subscribers)
{
    fixture f;
    ASSERT_TRUE(fx_open(&f, NULL));
    kvbm_events_sub *s2;
    ASSERT_OK(kvbm_events_subscribe(f.em, &s2));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, test_plh_at(16), &h));
    kvbm_event a, b;
    ASSERT_OK(test_next(f.sub, &a));
    ASSERT_OK(test_next(s2, &b));
    EXPECT_EQ(a.kind, KVBM_EVENT_CREATE);
    EXPECT_EQ(b.kind, KVBM_EVENT_CREATE);
    EXPECT_TRUE(plh_eq(a.hash, b.hash));
    kvbm_events_stats st;
    ASSERT_OK(kvbm_events_manager_get_stats(f.em, &st));
    EXPECT_EQ(st.subscribers, 2);
    kvbm_handle_release(h);
    kvbm_events_unsubscribe(s2);
    fx_close(&f);
}

KVBM_TEST(events_manager_default_policy_is_all_events)
{
    fixture f;
    ASSERT_TRUE(fx_open(&f, NULL));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, test_plh_at(17), &h));
    kvbm_event ev;
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    EXPECT_EQ(kvbm_plh_position(ev.hash), 17);
    EXPECT_EQ(kvbm_events_manager_capacity(f.em), 262144);
    kvbm_handle_release(h);
    fx_close(&f);
}

/* protocol.rs test_release_handle_drop: the release handle's destruction sends Remove,
 * here through a second on_registered on the same handle (replaces the release handle) */
KVBM_TEST(release_handle_drop_broadcasts_remove)
{
    fixture f;
    ASSERT_TRUE(fx_open(&f, NULL));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, at(5), &h));
    ASSERT_OK(kvbm_events_manager_on_registered(f.em, h));
    kvbm_event ev;
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE); /* registration */
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE); /* the explicit call */
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE); /* the replaced release handle */
    EXPECT_TRUE(plh_eq(ev.hash, at(5)));
    kvbm_handle_release(h);
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    fx_close(&f);
}

/* §3.2: attach fails (type in Multiple mode) -> Create, then Remove at once, a warning */
static kvbm_attach_type multi_type;
static kvbm_status pre_attach_multiple(void *ctx, kvbm_handle *h)
{
    (void)ctx;
    return kvbm_handle_attach(h, multi_type, NULL);
}

KVBM_TEST(attach_failure_sends_remove_right_after_create_and_warns)
{
    log_capture lc;
    log_capture_start(&lc);
    kvbm_registry *reg;
    kvbm_events_manager *em;
    kvbm_events_sub *sub;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    multi_type = kvbm__events_manager_attach_type(em);
    kvbm_registry_observer pre = { pre_attach_multiple, NULL, "pre" };
    uint32_t id;
    ASSERT_OK(kvbm_registry_add_observer(reg, &pre, &id));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    ASSERT_OK(kvbm_events_subscribe(em, &sub));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(reg, at(9), &h));
    EXPECT_TRUE(kvbm_registry_is_registered(reg, at(9)));
    kvbm_event ev;
    ASSERT_OK(test_next(sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    ASSERT_OK(test_next(sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    EXPECT_EQ(log_capture_count(&lc), 1);
    EXPECT_TRUE(strstr(lc.last, "observer 'events' failed") != NULL);
    EXPECT_TRUE(strstr(lc.last, "release handle") != NULL);
    kvbm_events_stats s;
    ASSERT_OK(kvbm_events_manager_get_stats(em, &s));
    EXPECT_EQ(s.attach_failures, 1);
    kvbm_handle_release(h); /* no second Remove */
    EXPECT_STATUS(kvbm_events_next(sub, 0, &ev, NULL), KVBM_ETIMEDOUT);
    kvbm_events_unsubscribe(sub);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
    log_capture_stop(&lc);
}

/* two managers on one registry each keep their own release handle */
KVBM_TEST(two_managers_on_one_registry_are_independent)
{
    kvbm_registry *reg;
    kvbm_events_manager *a, *b;
    kvbm_events_sub *sa, *sb;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    kvbm_events_config pc = KVBM_EVENTS_CONFIG_INIT;
    pc.policy = kvbm_events_policy_power_of_two();
    ASSERT_OK(kvbm_events_manager_create(NULL, &a));
    ASSERT_OK(kvbm_events_manager_create(&pc, &b));
    ASSERT_OK(kvbm_events_manager_attach(a, reg));
    ASSERT_OK(kvbm_events_manager_attach(b, reg));
    EXPECT_STATUS(kvbm_events_manager_attach(a, reg), KVBM_EBUSY);
    ASSERT_OK(kvbm_events_subscribe(a, &sa));
    ASSERT_OK(kvbm_events_subscribe(b, &sb));
    kvbm_handle *h16, *h17;
    ASSERT_OK(kvbm_registry_register(reg, at(16), &h16));
    ASSERT_OK(kvbm_registry_register(reg, at(17), &h17));
    kvbm_event ev;
    ASSERT_OK(test_next(sa, &ev)); EXPECT_EQ(kvbm_plh_position(ev.hash), 16);
    ASSERT_OK(test_next(sa, &ev)); EXPECT_EQ(kvbm_plh_position(ev.hash), 17);
    ASSERT_OK(test_next(sb, &ev)); EXPECT_EQ(kvbm_plh_position(ev.hash), 16);
    EXPECT_STATUS(kvbm_events_next(sa, 0, &ev, NULL), KVBM_ETIMEDOUT); /* no early Remove */
    EXPECT_STATUS(kvbm_events_next(sb, 0, &ev, NULL), KVBM_ETIMEDOUT);
    kvbm_handle_release(h16);
    kvbm_handle_release(h17);
    ASSERT_OK(test_next(sa, &ev)); EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    ASSERT_OK(test_next(sa, &ev)); EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    ASSERT_OK(test_next(sb, &ev)); EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    EXPECT_EQ(kvbm_plh_position(ev.hash), 16);
    /* detach: no more events from new registrations */
    ASSERT_OK(kvbm_events_manager_detach(a, reg));
    EXPECT_STATUS(kvbm_events_manager_detach(a, reg), KVBM_ENOENT);
    ASSERT_OK(kvbm_registry_register(reg, at(18), &h17));
    EXPECT_STATUS(kvbm_events_next(sa, 0, &ev, NULL), KVBM_ETIMEDOUT);
    kvbm_handle_release(h17);
    kvbm_events_unsubscribe(sa);
    kvbm_events_unsubscribe(sb);
    kvbm_events_manager_release(a);
    kvbm_events_manager_release(b);
    kvbm_registry_release(reg);
}

/* one manager, two registries (two tiers not sharing a registry): one stream */
KVBM_TEST(one_manager_feeds_one_stream_from_two_registries)
{
    kvbm_registry *r1, *r2;
    kvbm_events_manager *em;
    kvbm_events_sub *sub;
    ASSERT_OK(kvbm_registry_create(NULL, &r1));
    ASSERT_OK(kvbm_registry_create(NULL, &r2));
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, r1));
    ASSERT_OK(kvbm_events_manager_attach(em, r2));
    ASSERT_OK(kvbm_events_subscribe(em, &sub));
    kvbm_handle *a, *b;
    ASSERT_OK(kvbm_registry_register(r1, at(1), &a));
    ASSERT_OK(kvbm_registry_register(r2, at(1), &b)); /* a separate registration */
    kvbm_event ev;
    ASSERT_OK(test_next(sub, &ev)); EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    ASSERT_OK(test_next(sub, &ev)); EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    kvbm_handle_release(a);
    kvbm_handle_release(b);
    ASSERT_OK(test_next(sub, &ev)); EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    ASSERT_OK(test_next(sub, &ev)); EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    kvbm_events_unsubscribe(sub);
    kvbm_events_manager_release(em); /* detaches from both */
    kvbm_registry_release(r1);
    kvbm_registry_release(r2);
}

/* ---- stream end and close ----------------------------------------------------------------- */

KVBM_TEST(stream_ends_when_manager_and_release_handles_are_gone)
{
    fixture f;
    ASSERT_TRUE(fx_open(&f, NULL));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, at(3), &h));
    kvbm_events_manager_release(f.em); /* a release handle still holds the stream open */
    kvbm_event ev;
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    EXPECT_STATUS(kvbm_events_next(f.sub, 0, &ev, NULL), KVBM_ETIMEDOUT);
    kvbm_handle *h2;
    ASSERT_OK(kvbm_registry_register(f.reg, at(4), &h2)); /* detached: not announced */
    kvbm_handle_release(h2);
    kvbm_handle_release(h); /* the last sender */
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    EXPECT_EQ(kvbm_plh_position(ev.hash), 3);
    EXPECT_STATUS(kvbm_events_next(f.sub, -1, &ev, NULL), KVBM_ECLOSED);
    EXPECT_STATUS(kvbm_events_next(f.sub, 0, &ev, NULL), KVBM_ECLOSED);
    kvbm_events_unsubscribe(f.sub);
    kvbm_registry_release(f.reg);
}

KVBM_TEST(close_delivers_the_backlog_then_ends_and_drops_later_events)
{
    fixture f;
    ASSERT_TRUE(fx_open(&f, NULL));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, at(3), &h));
    kvbm_events_manager_close(f.em);
    kvbm_events_manager_close(f.em); /* idempotent */
    kvbm_handle_release(h);          /* Remove after close: dropped */
    kvbm_event ev;
    ASSERT_OK(test_next(f.sub, &ev));
    EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    EXPECT_STATUS(kvbm_events_next(f.sub, 1000, &ev, NULL), KVBM_ECLOSED);
    kvbm_events_stats s;
    ASSERT_OK(kvbm_events_manager_get_stats(f.em, &s));
    EXPECT_EQ(s.dropped_closed, 1);
    fx_close(&f);
}

/* ---- lag ---------------------------------------------------------------------------------- */

KVBM_TEST(lagging_subscriber_is_told_how_many_it_lost)
{
    kvbm_registry *reg;
    kvbm_events_manager *em;
    kvbm_events_sub *slow, *fresh;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    kvbm_events_config cfg = KVBM_EVENTS_CONFIG_INIT;
    cfg.channel_capacity = 10; /* rounded up to 16 */
    ASSERT_OK(kvbm_events_manager_create(&cfg, &em));
    EXPECT_EQ(kvbm_events_manager_capacity(em), 16);
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    ASSERT_OK(kvbm_events_subscribe(em, &slow));
    kvbm_handle *hs[40];
    for (int i = 0; i < 40; i++) ASSERT_OK(kvbm_registry_register(reg, at((uint64_t)i + 1), &hs[i]));
    ASSERT_OK(kvbm_events_subscribe(em, &fresh)); /* sees only later events */
    kvbm_event ev;
    uint64_t lost = 0;
    EXPECT_STATUS(kvbm_events_next(slow, 0, &ev, &lost), KVBM_ELAGGED);
    EXPECT_EQ(lost, 24); /* 40 sent, the last 16 kept */
    EXPECT_EQ(kvbm_events_sub_lost(slow), 24);
    for (int i = 24; i < 40; i++) {
        ASSERT_OK(kvbm_events_next(slow, 0, &ev, NULL));
        EXPECT_EQ(kvbm_plh_position(ev.hash), (uint64_t)i + 1); /* oldest first, in order */
    }
    EXPECT_STATUS(kvbm_events_next(slow, 0, &ev, NULL), KVBM_ETIMEDOUT);
    EXPECT_STATUS(kvbm_events_next(fresh, 0, &ev, NULL), KVBM_ETIMEDOUT);
    kvbm_events_stats s;
    ASSERT_OK(kvbm_events_manager_get_stats(em, &s));
    EXPECT_EQ(s.lost, 24);
    EXPECT_EQ(s.created, 40);
    for (int i = 0; i < 10; i++) kvbm_handle_release(hs[i]);
    ASSERT_OK(kvbm_events_next(fresh, 0, &ev, NULL));
    EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    EXPECT_EQ(kvbm_plh_position(ev.hash), 1);
    for (int i = 10; i < 40; i++) kvbm_handle_release(hs[i]);
    /* the first call copied the 10 Removes then in the ring: the other 9 are still
     * delivered, in order, before the lag is reported */
    for (int i = 1; i < 10; i++) {
        ASSERT_OK(kvbm_events_next(fresh, 0, &ev, NULL));
        EXPECT_EQ(kvbm_plh_position(ev.hash), (uint64_t)i + 1);
    }
    EXPECT_STATUS(kvbm_events_next(fresh, 0, &ev, &lost), KVBM_ELAGGED);
    EXPECT_EQ(lost, 30 - 16); /* 30 Removes not copied, the last 16 kept */
    for (int i = 24; i < 40; i++) {
        ASSERT_OK(kvbm_events_next(fresh, 0, &ev, NULL));
        EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
        EXPECT_EQ(kvbm_plh_position(ev.hash), (uint64_t)i + 1);
    }
    EXPECT_STATUS(kvbm_events_next(fresh, 0, &ev, NULL), KVBM_ETIMEDOUT);
    ASSERT_OK(kvbm_events_manager_get_stats(em, &s));
    EXPECT_EQ(s.lost, 24 + 14);
    kvbm_events_unsubscribe(slow);
    kvbm_events_unsubscribe(fresh);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
}

/* ---- errors ------------------------------------------------------------------------------- */

KVBM_TEST(events_manager_argument_errors)
{
    kvbm_events_manager *em;
    EXPECT_STATUS(kvbm_events_manager_create(NULL, NULL), KVBM_EINVAL);
    kvbm_events_config bad = KVBM_EVENTS_CONFIG_INIT;
    bad.struct_size = 3;
    EXPECT_STATUS(kvbm_events_manager_create(&bad, &em), KVBM_EINVAL);
    EXPECT_TRUE(strstr(kvbm_last_error(), "struct_size") != NULL);
    kvbm_events_config big = KVBM_EVENTS_CONFIG_INIT;
    big.channel_capacity = (1u << 20) + 1;
    EXPECT_STATUS(kvbm_events_manager_create(&big, &em), KVBM_ECONFIG);
    EXPECT_TRUE(strstr(kvbm_last_error(), "channel_capacity") != NULL);
    kvbm_events_config kind = KVBM_EVENTS_CONFIG_INIT;
    kind.policy.kind = (kvbm_events_policy_kind)7;
    EXPECT_STATUS(kvbm_events_manager_create(&kind, &em), KVBM_ECONFIG);
    EXPECT_STATUS(kvbm_events_manager_attach(NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_events_subscribe(NULL, NULL), KVBM_EINVAL);
    kvbm_event ev;
    EXPECT_STATUS(kvbm_events_next(NULL, 0, &ev, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_events_manager_get_stats(NULL, NULL), KVBM_EINVAL);
    kvbm_events_manager_release(NULL);
    kvbm_events_unsubscribe(NULL);
}

KVBM_TEST(events_manager_survives_allocation_failures)
{
    for (long n = 1; n <= 4; n++) {
        kvbm_events_manager *em = NULL;
        kvbm__alloc_fail_set(n);
        kvbm_status st = kvbm_events_manager_create(NULL, &em);
        kvbm__alloc_fail_set(0);
        if (st == KVBM_OK) {
            kvbm_events_sub *s = NULL;
            kvbm__alloc_fail_set(1);
            EXPECT_STATUS(kvbm_events_subscribe(em, &s), KVBM_ENOMEM);
            kvbm__alloc_fail_set(0);
            kvbm_events_manager_release(em);
        } else {
            EXPECT_STATUS(st, KVBM_ENOMEM);
            EXPECT_TRUE(em == NULL);
        }
    }
}

/* release handles keep the channel's memory: the manager and every subscriber may be gone
 * before the registrations die (ASan checks the late Removes touch live memory) */
KVBM_TEST(release_handles_outlive_manager_and_subscribers)
{
    kvbm_registry *reg;
    kvbm_events_manager *em;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    kvbm_handle *hs[100];
    for (int i = 0; i < 100; i++) ASSERT_OK(kvbm_registry_register(reg, at((uint64_t)i + 1), &hs[i]));
    kvbm_events_manager_release(em);
    for (int i = 0; i < 100; i++) kvbm_handle_release(hs[i]);
    kvbm_registry_release(reg);
}
