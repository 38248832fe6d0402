/* tests/events/test_events_death_hook.c - the events manager's release handle in a
 * handle's death slot (registry_int.h, struct kvbm__death_hook) instead of a per-handle
 * attachment: exactly one Remove per announced registration, none for a registration
 * that was never announced, and the attachment fallback whenever the slot cannot be used
 * (another manager holds it, an earlier observer attached something, an explicit
 * kvbm_events_manager_on_registered). */
#include "harness.h"
#include "kvbm/events.h"
#include "events/events_int.h"
#include "support/events_helpers.h"

static kvbm_plh at(uint64_t pos)
{
    kvbm_plh h;
    if (kvbm_plh_new(0x4242 + pos, pos > 0, 0x77, pos, &h) != KVBM_OK) h = kvbm_plh_root(0);
    return h;
}

/* Next event must be @kind for position @pos. */
static bool expect_event(kvbm_events_sub *sub, kvbm_event_kind kind, uint64_t pos)
{
    kvbm_event ev;
    if (test_next(sub, &ev) != KVBM_OK) return false;
    return ev.kind == kind && kvbm_plh_position(ev.hash) == pos;
}

static bool nothing_pending(kvbm_events_sub *sub)
{
    kvbm_event ev;
    return kvbm_events_next(sub, 0, &ev, NULL) == KVBM_ETIMEDOUT;
}

typedef struct env {
    kvbm_registry       *reg;
    kvbm_events_manager *em;
    kvbm_events_sub     *sub;
} env;

static bool env_open(env *e, bool attach)
{
    if (kvbm_registry_create(NULL, &e->reg) != KVBM_OK) return false;
    if (kvbm_events_manager_create(NULL, &e->em) != KVBM_OK) return false;
    if (attach && kvbm_events_manager_attach(e->em, e->reg) != KVBM_OK) return false;
    return kvbm_events_subscribe(e->em, &e->sub) == KVBM_OK;
}

static void env_close(env *e)
{
    kvbm_events_unsubscribe(e->sub);
    kvbm_events_manager_release(e->em);
    kvbm_registry_release(e->reg);
}

/* A registration made before the manager was attached was never announced: its death
 * sends no Remove (its handle has no release handle). An explicit on_registered
 * announces it (attachment path): then its death sends exactly one Remove. */
KVBM_TEST(registered_before_attach_dies_without_remove)
{
    env e;
    ASSERT_TRUE(env_open(&e, false));
    kvbm_handle *early, *early2, *late;
    ASSERT_OK(kvbm_registry_register(e.reg, at(1), &early));
    ASSERT_OK(kvbm_registry_register(e.reg, at(2), &early2));
    ASSERT_OK(kvbm_events_manager_attach(e.em, e.reg));
    ASSERT_OK(kvbm_registry_register(e.reg, at(3), &late));
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_CREATE, 3));
    kvbm_handle_release(early); /* never announced */
    EXPECT_TRUE(nothing_pending(e.sub));
    ASSERT_OK(kvbm_events_manager_on_registered(e.em, early2));
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_CREATE, 2));
    kvbm_handle_release(early2);
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_REMOVE, 2));
    kvbm_handle_release(late);
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_REMOVE, 3));
    EXPECT_TRUE(nothing_pending(e.sub));
    EXPECT_TRUE(test_events_counts(e.em, 2, 2));
    env_close(&e);
}

/* Detach stops the announcements of new registrations; the ones announced while attached
 * still send their Remove when they die after the detach. */
KVBM_TEST(announced_registrations_send_remove_after_detach)
{
    env e;
    ASSERT_TRUE(env_open(&e, true));
    kvbm_handle *a, *b;
    ASSERT_OK(kvbm_registry_register(e.reg, at(5), &a));
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_CREATE, 5));
    ASSERT_OK(kvbm_events_manager_detach(e.em, e.reg));
    ASSERT_OK(kvbm_registry_register(e.reg, at(6), &b));
    kvbm_handle_release(b); /* not announced: nothing */
    EXPECT_TRUE(nothing_pending(e.sub));
    kvbm_handle_release(a);
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_REMOVE, 5));
    EXPECT_TRUE(nothing_pending(e.sub));
    env_close(&e);
}

/* ---- attachments next to the death slot --------------------------------------------- */

static int dtor_calls;
static void count_dtor(void *v)
{
    (void)v;
    dtor_calls++;
}

/* A user attachment added to an announced handle: at its death both the user's
 * destructor and the Remove run, once each (the general finalize path). */
KVBM_TEST(user_attachment_and_release_handle_both_run_once)
{
    env e;
    ASSERT_TRUE(env_open(&e, true));
    kvbm_attach_type t;
    ASSERT_OK(kvbm_attach_type_register("test.death.user", count_dtor, &t));
    dtor_calls = 0;
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(e.reg, at(7), &h));
    ASSERT_OK(kvbm_handle_attach_unique(h, t, &dtor_calls));
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_CREATE, 7));
    kvbm_handle_release(h);
    EXPECT_EQ(dtor_calls, 1);
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_REMOVE, 7));
    EXPECT_TRUE(nothing_pending(e.sub));
    /* the recycled object starts its next life clean: a plain registration after the
     * manager is gone from the registry sends nothing and runs no destructor */
    ASSERT_OK(kvbm_events_manager_detach(e.em, e.reg));
    for (int i = 0; i < 8; i++) {
        ASSERT_OK(kvbm_registry_register(e.reg, at(7), &h));
        kvbm_handle_release(h);
    }
    EXPECT_EQ(dtor_calls, 1);
    EXPECT_TRUE(nothing_pending(e.sub));
    env_close(&e);
}

/* An earlier observer that attaches a value (flags != 0 when the events observer runs):
 * the events manager still announces and retracts the registration exactly once. */
static kvbm_attach_type pre_type;
static kvbm_status pre_attach(void *ctx, kvbm_handle *h)
{
    (void)ctx;
    return kvbm_handle_attach_unique(h, pre_type, &dtor_calls);
}

KVBM_TEST(earlier_observer_attachment_keeps_one_create_one_remove)
{
    env e;
    ASSERT_TRUE(env_open(&e, false));
    ASSERT_OK(kvbm_attach_type_register("test.death.pre", count_dtor, &pre_type));
    kvbm_registry_observer pre = { pre_attach, NULL, "pre" };
    uint32_t id;
    ASSERT_OK(kvbm_registry_add_observer(e.reg, &pre, &id));
    ASSERT_OK(kvbm_events_manager_attach(e.em, e.reg));
    dtor_calls = 0;
    for (uint64_t p = 10; p < 14; p++) {
        kvbm_handle *h;
        ASSERT_OK(kvbm_registry_register(e.reg, at(p), &h));
        EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_CREATE, p));
        kvbm_handle_release(h);
        EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_REMOVE, p));
    }
    EXPECT_EQ(dtor_calls, 4);
    EXPECT_TRUE(nothing_pending(e.sub));
    env_close(&e);
}

/* Two managers on one registry: the first takes the death slot, the second falls back to
 * its attachment; an explicit on_registered of either replaces its own release handle
 * (Create, then the replaced one's Remove), never the other's. */
KVBM_TEST(second_manager_uses_the_attachment_and_both_replace_their_own)
{
    env e;
    ASSERT_TRUE(env_open(&e, true));
    kvbm_events_manager *b;
    kvbm_events_sub *sb;
    ASSERT_OK(kvbm_events_manager_create(NULL, &b));
    ASSERT_OK(kvbm_events_manager_attach(b, e.reg));
    ASSERT_OK(kvbm_events_subscribe(b, &sb));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(e.reg, at(20), &h));
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_CREATE, 20));
    EXPECT_TRUE(expect_event(sb, KVBM_EVENT_CREATE, 20));
    ASSERT_OK(kvbm_events_manager_on_registered(e.em, h));
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_CREATE, 20));
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_REMOVE, 20));
    ASSERT_OK(kvbm_events_manager_on_registered(b, h));
    EXPECT_TRUE(expect_event(sb, KVBM_EVENT_CREATE, 20));
    EXPECT_TRUE(expect_event(sb, KVBM_EVENT_REMOVE, 20));
    EXPECT_TRUE(nothing_pending(e.sub));
    EXPECT_TRUE(nothing_pending(sb));
    kvbm_handle_release(h);
    EXPECT_TRUE(expect_event(e.sub, KVBM_EVENT_REMOVE, 20));
    EXPECT_TRUE(expect_event(sb, KVBM_EVENT_REMOVE, 20));
    EXPECT_TRUE(nothing_pending(e.sub));
    EXPECT_TRUE(nothing_pending(sb));
    kvbm_events_unsubscribe(sb);
    kvbm_events_manager_release(b);
    env_close(&e);
}

/* A registry names the death hooks of its handles through a small table (15 entries,
 * registry_int.h): managers beyond it - here 20 attached one after the other, each
 * keeping an announced registration alive while the next ones come - fall back to the
 * attachment, and every registration still gets one Create and one Remove, from its own
 * manager. */
#define NMGR 20
KVBM_TEST(more_managers_than_hook_ids_keep_one_create_one_remove_each)
{
    kvbm_registry *r;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_events_manager *m[NMGR];
    kvbm_events_sub *s[NMGR];
    kvbm_handle *h[NMGR];
    for (int i = 0; i < NMGR; i++) {
        ASSERT_OK(kvbm_events_manager_create(NULL, &m[i]));
        ASSERT_OK(kvbm_events_subscribe(m[i], &s[i]));
        ASSERT_OK(kvbm_events_manager_attach(m[i], r));
        ASSERT_OK(kvbm_registry_register(r, at(100 + (uint64_t)i), &h[i]));
        ASSERT_OK(kvbm_events_manager_detach(m[i], r));
        EXPECT_TRUE(expect_event(s[i], KVBM_EVENT_CREATE, 100 + (uint64_t)i));
    }
    for (int i = 0; i < NMGR; i++) {
        kvbm_handle_release(h[i]);
        EXPECT_TRUE(expect_event(s[i], KVBM_EVENT_REMOVE, 100 + (uint64_t)i));
        EXPECT_TRUE(nothing_pending(s[i]));
        EXPECT_TRUE(test_events_counts(m[i], 1, 1));
        kvbm_events_unsubscribe(s[i]);
        kvbm_events_manager_release(m[i]);
    }
    kvbm_registry_release(r);
}
