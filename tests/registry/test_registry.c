/* tests/registry/test_registry.c - registry and handle semantics (spec 20 §2, §5.1).
 *
 * Registry-level scenarios of §5.1 (attachments, presence, touch, lifetime), the exact
 * frequency-touch accounting of 10-core §5.5 with a metered tracker, the Create/Remove
 * ordering of a re-registration racing a dying handle (binding decision 6), a seeded
 * model check of the sharded hash table, and the lock-rank checker on registry misuse.
 * The manager-level scenarios of §5.1 are in test_registry_manager.c.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "support/child.h"
#include "support/metered_tracker.h"
#include "registry/registry_int.h"
#include "tinylfu/tinylfu_int.h"

static kvbm_attach_type new_type(const char *name, kvbm_attach_dtor dtor)
{
    kvbm_attach_type t = 0;
    if (kvbm_attach_type_register(name, dtor, &t) != KVBM_OK) abort();
    return t;
}

/* ---- attachments ------------------------------------------------------------------- */

KVBM_TEST(type_tracking_enforcement)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type str_t = new_type("String", NULL), i32_t = new_type("i32", NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(1), &h));
    static char s1[] = "a", s2[] = "b";
    static int v = 7;
    EXPECT_OK(kvbm_handle_attach_unique(h, str_t, s1));
    EXPECT_STATUS(kvbm_handle_attach(h, str_t, s2), KVBM_EATTACH_IS_UNIQUE);
    EXPECT_OK(kvbm_handle_attach(h, i32_t, &v));
    EXPECT_STATUS(kvbm_handle_attach_unique(h, i32_t, &v), KVBM_EATTACH_IS_MULTIPLE);
    /* the mode sticks: still unique / multiple afterwards */
    EXPECT_OK(kvbm_handle_attach_unique(h, str_t, s2));
    EXPECT_OK(kvbm_handle_attach(h, i32_t, &v));
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

KVBM_TEST(attachment_error_display)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type a = new_type("EventPublisher", NULL), b = new_type("EventListener", NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(2), &h));
    static int x;
    ASSERT_OK(kvbm_handle_attach(h, a, &x));
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_handle_attach_unique(h, a, &x), KVBM_EATTACH_IS_MULTIPLE);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "already registered as multiple");
    EXPECT_STR_CONTAINS(kvbm_last_error(), "EventPublisher");
    EXPECT_STR_CONTAINS(kvbm_strerror(KVBM_EATTACH_IS_MULTIPLE), "already registered as multiple");
    ASSERT_OK(kvbm_handle_attach_unique(h, b, &x));
    EXPECT_STATUS(kvbm_handle_attach(h, b, &x), KVBM_EATTACH_IS_UNIQUE);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "already registered as unique");
    EXPECT_STR_CONTAINS(kvbm_strerror(KVBM_EATTACH_IS_UNIQUE), "already registered as unique");
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

KVBM_TEST(attach_type_registry)
{
    kvbm_attach_type a = new_type("alpha", NULL), b = new_type("beta", NULL);
    EXPECT_NE(a, 0);
    EXPECT_GT(b, a);
    EXPECT_STR_EQ(kvbm_attach_type_name(a), "alpha");
    EXPECT_STR_EQ(kvbm_attach_type_name(b), "beta");
    EXPECT_TRUE(kvbm_attach_type_name(0) == NULL);
    EXPECT_TRUE(kvbm_attach_type_name(b + 100000) == NULL);
    EXPECT_STATUS(kvbm_attach_type_register("x", NULL, NULL), KVBM_EINVAL);

    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(3), &h));
    static int x;
    EXPECT_STATUS(kvbm_handle_attach(h, 0, &x), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_handle_attach_unique(h, b + 100000, &x), KVBM_EINVAL);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

struct collect { void *unique; void *vals[8]; size_t n; int calls; };

static void grab_unique(void *ctx, void *value)
{
    struct collect *c = ctx;
    c->unique = value;
    c->calls++;
}

static void grab_multiple(void *ctx, void **values, size_t n)
{
    struct collect *c = ctx;
    c->n = n;
    for (size_t i = 0; i < n && i < 8; i++) c->vals[i] = values[i];
    c->calls++;
}

static void grab_all(void *ctx, void *unique, void **values, size_t n)
{
    struct collect *c = ctx;
    c->unique = unique;
    c->n = n;
    for (size_t i = 0; i < n && i < 8; i++) c->vals[i] = values[i];
    c->calls++;
}

KVBM_TEST(different_types_usage)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type pub_t = new_type("EventPublisher", NULL);
    kvbm_attach_type lis_t = new_type("EventListener", NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(4), &h));
    static int pub, l1, l2;
    ASSERT_OK(kvbm_handle_attach_unique(h, pub_t, &pub));
    ASSERT_OK(kvbm_handle_attach(h, lis_t, &l1));
    ASSERT_OK(kvbm_handle_attach(h, lis_t, &l2));

    struct collect c = { 0 };
    EXPECT_TRUE(kvbm_handle_with_unique(h, pub_t, grab_unique, &c));
    EXPECT_TRUE(c.unique == &pub);
    memset(&c, 0, sizeof c);
    kvbm_handle_with_multiple(h, lis_t, grab_multiple, &c);
    EXPECT_EQ(c.calls, 1);
    ASSERT_EQ(c.n, 2);
    EXPECT_TRUE(c.vals[0] == &l1 && c.vals[1] == &l2); /* insertion order */
    /* cross lookups: a unique type has no list, a multiple type has no unique value */
    memset(&c, 0, sizeof c);
    EXPECT_FALSE(kvbm_handle_with_unique(h, lis_t, grab_unique, &c));
    EXPECT_EQ(c.calls, 0);
    kvbm_handle_with_multiple(h, pub_t, grab_multiple, &c);
    EXPECT_EQ(c.calls, 1);
    EXPECT_EQ(c.n, 0);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

static void incr_unique(void *ctx, void *value) { (void)ctx; (*(int *)value)++; }
static void incr_multiple(void *ctx, void **values, size_t n)
{
    int *sum = ctx;
    for (size_t i = 0; i < n; i++) { (*(int *)values[i])++; *sum += *(int *)values[i]; }
}

KVBM_TEST(mutable_access)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type u = new_type("counter", NULL), m = new_type("values", NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(5), &h));
    int counter = 1, v10 = 10, v20 = 20, sum = 0;
    ASSERT_OK(kvbm_handle_attach_unique(h, u, &counter));
    EXPECT_TRUE(kvbm_handle_with_unique(h, u, incr_unique, NULL));
    EXPECT_EQ(counter, 2);
    ASSERT_OK(kvbm_handle_attach(h, m, &v10));
    ASSERT_OK(kvbm_handle_attach(h, m, &v20));
    kvbm_handle_with_multiple(h, m, incr_multiple, &sum);
    EXPECT_EQ(sum, 32);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

static void all_mut_incr(void *ctx, void *unique, void **values, size_t n)
{
    struct collect *c = ctx;
    c->calls++;
    c->unique = unique;
    c->n = n;
    if (unique != NULL) (*(int *)unique)++;
    for (size_t i = 0; i < n; i++) (*(int *)values[i])++;
}

KVBM_TEST(with_all_mut_unique)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type u = new_type("u", NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(6), &h));
    int v = 10;
    ASSERT_OK(kvbm_handle_attach_unique(h, u, &v));
    struct collect c = { 0 };
    kvbm_handle_with_all_mut(h, u, all_mut_incr, &c);
    EXPECT_EQ(c.calls, 1);
    EXPECT_TRUE(c.unique == &v);
    EXPECT_EQ(c.n, 0);
    EXPECT_EQ(v, 11);
    memset(&c, 0, sizeof c);
    kvbm_handle_with_all(h, u, grab_all, &c);
    EXPECT_TRUE(c.unique == &v);
    EXPECT_EQ(c.n, 0);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

KVBM_TEST(with_all_mut_multiple)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type m = new_type("m", NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(7), &h));
    int a = 1, b = 2;
    ASSERT_OK(kvbm_handle_attach(h, m, &a));
    ASSERT_OK(kvbm_handle_attach(h, m, &b));
    struct collect c = { 0 };
    kvbm_handle_with_all_mut(h, m, all_mut_incr, &c);
    EXPECT_EQ(c.calls, 1);
    EXPECT_TRUE(c.unique == NULL);
    EXPECT_EQ(c.n, 2);
    EXPECT_EQ(a + b, 5);
    memset(&c, 0, sizeof c);
    kvbm_handle_with_all(h, m, grab_all, &c);
    EXPECT_TRUE(c.unique == NULL);
    EXPECT_EQ(c.n, 2);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

static void all_mut_result(void *ctx, void *unique, void **values, size_t n)
{
    int *result = ctx;
    *result = (unique == NULL && n == 0) ? 42 : -1;
    (void)values;
}

KVBM_TEST(with_all_mut_no_attachments)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type t = new_type("never-attached", NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(8), &h));
    int result = 0;
    kvbm_handle_with_all_mut(h, t, all_mut_result, &result);
    EXPECT_EQ(result, 42);
    result = 0;
    kvbm_handle_with_all(h, t, all_mut_result, &result);
    EXPECT_EQ(result, 42);
    struct collect c = { 0 };
    EXPECT_FALSE(kvbm_handle_with_unique(h, t, grab_unique, &c));
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

/* Destructor bookkeeping: values are `struct dval`, destroyed into a log. */
struct dval { int id; int *log; int *nlog; };
static void dval_dtor(void *p)
{
    struct dval *v = p;
    v->log[(*v->nlog)++] = v->id;
}

KVBM_TEST(attachment_destructors_run_once_when_the_handle_dies)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type u = new_type("du", dval_dtor), m = new_type("dm", dval_dtor);
    int log[16] = { 0 }, nlog = 0;
    struct dval v1 = { 1, log, &nlog }, v2 = { 2, log, &nlog }, v3 = { 3, log, &nlog },
                v4 = { 4, log, &nlog };
    kvbm_handle *h, *h2;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(9), &h));
    ASSERT_OK(kvbm_handle_attach_unique(h, u, &v1));
    ASSERT_OK(kvbm_handle_attach_unique(h, u, &v2)); /* replaces v1: destroyed now */
    EXPECT_EQ(nlog, 1);
    EXPECT_EQ(log[0], 1);
    ASSERT_OK(kvbm_handle_attach(h, m, &v3));
    ASSERT_OK(kvbm_handle_attach(h, m, &v4));
    /* a failed attach leaves ownership with the caller: nothing destroyed */
    EXPECT_STATUS(kvbm_handle_attach(h, u, &v3), KVBM_EATTACH_IS_UNIQUE);
    EXPECT_EQ(nlog, 1);
    h2 = kvbm_handle_clone(h);
    kvbm_handle_release(h);
    EXPECT_EQ(nlog, 1); /* still alive through h2 */
    kvbm_handle_release(h2);
    ASSERT_EQ(nlog, 4);
    EXPECT_EQ(log[1], 2);
    EXPECT_EQ(log[2], 3); /* multiple values in insertion order */
    EXPECT_EQ(log[3], 4);
    kvbm_registry_release(r);
}

/* ---- presence --------------------------------------------------------------------- */

enum { TIER_A = 100, TIER_B = 200, TIER_C = 300 };

KVBM_TEST(presence_markers_count_per_tier)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(10), &h));
    EXPECT_FALSE(kvbm_handle_has_block(h, TIER_A));
    kvbm__handle_mark_present(h, TIER_A);
    EXPECT_TRUE(kvbm_handle_has_block(h, TIER_A));
    EXPECT_FALSE(kvbm_handle_has_block(h, TIER_B)); /* tiers are independent */
    kvbm__handle_mark_present(h, TIER_A);
    kvbm__handle_mark_present(h, TIER_B);
    EXPECT_EQ(kvbm_handle_presence(h, TIER_A), 2);
    EXPECT_EQ(kvbm_handle_presence(h, TIER_B), 1);
    kvbm__handle_mark_absent(h, TIER_A);
    EXPECT_TRUE(kvbm_handle_has_block(h, TIER_A)); /* refcounted shadow */
    kvbm__handle_mark_absent(h, TIER_A);
    EXPECT_FALSE(kvbm_handle_has_block(h, TIER_A));
    EXPECT_EQ(kvbm_handle_presence(h, TIER_A), 0);
    EXPECT_TRUE(kvbm_handle_has_block(h, TIER_B));
    kvbm__handle_mark_absent(h, TIER_B);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

KVBM_TEST(presence_many_tiers_spill_to_the_heap)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(11), &h));
    for (kvbm_tier t = 0; t < 20; t++)
        for (kvbm_tier k = 0; k <= t; k++) kvbm__handle_mark_present(h, t);
    for (kvbm_tier t = 0; t < 20; t++) EXPECT_EQ(kvbm_handle_presence(h, t), t + 1);
    for (kvbm_tier t = 0; t < 20; t += 2)
        for (kvbm_tier k = 0; k <= t; k++) kvbm__handle_mark_absent(h, t);
    for (kvbm_tier t = 0; t < 20; t++)
        EXPECT_EQ(kvbm_handle_presence(h, t), t % 2 ? t + 1 : 0);
    kvbm_handle_release(h); /* presence left behind is simply dropped */
    kvbm_registry_release(r);
}

KVBM_TEST(check_presence_api)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h1, *h3;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(20), &h1));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(22), &h3));
    kvbm__handle_mark_present(h1, TIER_A);
    kvbm__handle_mark_present(h3, TIER_A);
    kvbm_plh hs[4] = { tm_hash_n(20), tm_hash_n(21), tm_hash_n(22), tm_hash_n(20) };
    bool out[4] = { false, true, false, false };
    ASSERT_OK(kvbm_registry_check_presence(r, TIER_A, hs, 3, out));
    EXPECT_TRUE(out[0]);
    EXPECT_FALSE(out[1]);
    EXPECT_TRUE(out[2]);
    ASSERT_OK(kvbm_registry_check_presence(r, TIER_B, hs, 4, out));
    EXPECT_FALSE(out[0] || out[1] || out[2] || out[3]);
    ASSERT_OK(kvbm_registry_check_presence(r, TIER_A, hs, 0, NULL));
    EXPECT_STATUS(kvbm_registry_check_presence(r, TIER_A, NULL, 1, out), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_check_presence(NULL, TIER_A, hs, 1, out), KVBM_EINVAL);
    kvbm__handle_mark_absent(h1, TIER_A);
    kvbm__handle_mark_absent(h3, TIER_A);
    kvbm_handle_release(h1);
    kvbm_handle_release(h3);
    kvbm_registry_release(r);
}

KVBM_TEST(has_any_block)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(30), &h));
    kvbm_tier ab[2] = { TIER_A, TIER_B }, ac[2] = { TIER_A, TIER_C };
    EXPECT_FALSE(kvbm_handle_has_any_block(h, ab, 2));
    kvbm__handle_mark_present(h, TIER_B);
    EXPECT_TRUE(kvbm_handle_has_any_block(h, ab, 2));
    EXPECT_FALSE(kvbm_handle_has_any_block(h, ac, 2));
    EXPECT_FALSE(kvbm_handle_has_any_block(h, ab, 0));
    kvbm__handle_mark_absent(h, TIER_B);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

KVBM_TEST(check_presence_any)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h1, *h3;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(40), &h1));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(42), &h3));
    kvbm__handle_mark_present(h1, TIER_A);
    kvbm__handle_mark_present(h3, TIER_B);
    kvbm_plh hs[3] = { tm_hash_n(40), tm_hash_n(41), tm_hash_n(42) };
    kvbm_tier ab[2] = { TIER_A, TIER_B }, a[1] = { TIER_A };
    bool out[3];
    ASSERT_OK(kvbm_registry_check_presence_any(r, hs, 3, ab, 2, out));
    EXPECT_TRUE(out[0]);
    EXPECT_FALSE(out[1]);
    EXPECT_TRUE(out[2]);
    ASSERT_OK(kvbm_registry_check_presence_any(r, hs, 3, a, 1, out));
    EXPECT_TRUE(out[0]);
    EXPECT_FALSE(out[1]);
    EXPECT_FALSE(out[2]);
    kvbm__handle_mark_absent(h1, TIER_A);
    kvbm__handle_mark_absent(h3, TIER_B);
    kvbm_handle_release(h1);
    kvbm_handle_release(h3);
    kvbm_registry_release(r);
}

/* ---- lifetime ---------------------------------------------------------------------- */

KVBM_TEST(handle_drop_removes_registration)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(50), &h));
    EXPECT_TRUE(kvbm_registry_is_registered(r, tm_hash_n(50)));
    EXPECT_EQ(kvbm_registry_registered_count(r), 1);
    kvbm_handle_release(h);
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(50)));
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_handle *m = NULL;
    EXPECT_STATUS(kvbm_registry_match(r, tm_hash_n(50), false, &m), KVBM_ENOENT);
    EXPECT_TRUE(m == NULL);
    kvbm_registry_release(r);
}

KVBM_TEST(multiple_handles_same_sequence)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h1, *h2, *h3;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(51), &h1));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(51), &h2));
    EXPECT_TRUE(h1 == h2); /* one live handle per hash */
    h3 = kvbm_handle_clone(h1);
    EXPECT_EQ(kvbm_registry_registered_count(r), 1);
    kvbm_handle_release(h1);
    EXPECT_TRUE(kvbm_registry_is_registered(r, tm_hash_n(51)));
    kvbm_handle_release(h2);
    EXPECT_TRUE(kvbm_registry_is_registered(r, tm_hash_n(51)));
    kvbm_handle_release(h3);
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(51)));
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_registry_release(r);
}

KVBM_TEST(is_from_registry_and_seq_hash)
{
    kvbm_registry *r1 = tm_registry_create(NULL), *r2 = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r1, tm_hash_n(52), &h));
    EXPECT_TRUE(kvbm_handle_is_from_registry(h, r1));
    EXPECT_FALSE(kvbm_handle_is_from_registry(h, r2));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(h), tm_hash_n(52)));
    EXPECT_FALSE(kvbm_registry_is_registered(r2, tm_hash_n(52))); /* registries are independent */
    kvbm_registry_release(r2);
    kvbm_handle_release(h);
    kvbm_registry_release(r1);
}

KVBM_TEST(handles_outlive_their_registry)
{
    kvbm_attach_type t = new_type("outlive", dval_dtor);
    int log[4], nlog = 0;
    struct dval v = { 9, log, &nlog };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h, *g;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(53), &h));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(54), &g));
    ASSERT_OK(kvbm_handle_attach_unique(h, t, &v));
    kvbm_registry *r2 = kvbm_registry_clone(r);
    kvbm_registry_release(r);
    EXPECT_TRUE(kvbm_handle_is_from_registry(h, r2)); /* one reference left */
    kvbm_registry_release(r2);
    /* the registry is dead; its handles still work and clean up (ASan checks the rest) */
    EXPECT_FALSE(kvbm_handle_is_from_registry(h, r2));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(h), tm_hash_n(53)));
    kvbm__handle_mark_present(h, TIER_A);
    EXPECT_TRUE(kvbm_handle_has_block(h, TIER_A));
    kvbm__handle_mark_absent(h, TIER_A);
    kvbm_handle_release(g);
    EXPECT_EQ(nlog, 0);
    kvbm_handle_release(h);
    EXPECT_EQ(nlog, 1);
}

KVBM_TEST(create_arguments)
{
    kvbm_registry *r = NULL;
    EXPECT_STATUS(kvbm_registry_create(NULL, NULL), KVBM_EINVAL);
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.struct_size = 8;
    EXPECT_STATUS(kvbm_registry_create(&cfg, &r), KVBM_EINVAL);
    EXPECT_TRUE(r == NULL);
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    EXPECT_FALSE(kvbm_registry_has_frequency_tracking(r));
    EXPECT_TRUE(kvbm_registry_tracker(r) == NULL);
    EXPECT_EQ(kvbm_registry_count(r, tm_hash_n(1)), 0);
    kvbm_registry_touch(r, tm_hash_n(1)); /* no tracker: no-op */
    kvbm_handle *h = NULL;
    EXPECT_STATUS(kvbm_registry_register(r, tm_hash_n(1), NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_register(NULL, tm_hash_n(1), &h), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_match(r, tm_hash_n(1), true, NULL), KVBM_EINVAL);
    kvbm_handle_release(NULL);
    kvbm_registry_release(NULL);
    EXPECT_TRUE(kvbm_handle_clone(NULL) == NULL);
    kvbm_registry_release(r);
}

/* ---- frequency touch accounting (10-core §5.5, 20 §2.7) ---------------------------- */

KVBM_TEST(transfer_registration_no_tracking)
{
    metered_tracker *mt = metered_tracker_new();
    kvbm_registry *r = tm_registry_create(metered_tracker_get(mt));
    EXPECT_TRUE(kvbm_registry_has_frequency_tracking(r));
    EXPECT_TRUE(kvbm_registry_tracker(r) == metered_tracker_get(mt));
    kvbm_handle *h, *h2;
    ASSERT_OK(kvbm_registry_transfer(r, tm_hash_n(60), &h));
    EXPECT_EQ(kvbm_registry_count(r, tm_hash_n(60)), 0);
    kvbm_handle_release(h);
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(60), &h));
    EXPECT_EQ(kvbm_registry_count(r, tm_hash_n(60)), 1);
    /* transfer of an existing registration returns it, untouched */
    ASSERT_OK(kvbm_registry_transfer(r, tm_hash_n(60), &h2));
    EXPECT_TRUE(h == h2);
    EXPECT_EQ(kvbm_registry_count(r, tm_hash_n(60)), 1);
    kvbm_handle_release(h2);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
    metered_tracker_release(mt);
}

KVBM_TEST(touch_accounting_is_exact)
{
    metered_tracker *mt = metered_tracker_new();
    kvbm_registry *r = tm_registry_create(metered_tracker_get(mt));
    kvbm_handle *h, *h2, *m;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(61), &h));      /* creation: 1 */
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(61), &h2));     /* reuse: 0 */
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    ASSERT_OK(kvbm_registry_match(r, tm_hash_n(61), true, &m));   /* match touch=true: 1 */
    EXPECT_EQ(metered_tracker_touches(mt), 2);
    kvbm_handle_release(m);
    ASSERT_OK(kvbm_registry_match(r, tm_hash_n(61), false, &m));  /* touch=false: 0 */
    EXPECT_EQ(metered_tracker_touches(mt), 2);
    kvbm_handle_release(m);
    EXPECT_STATUS(kvbm_registry_match(r, tm_hash_n(62), true, &m), KVBM_ENOENT); /* miss: 0 */
    EXPECT_EQ(metered_tracker_touches(mt), 2);
    kvbm_registry_touch(r, tm_hash_n(62));                        /* explicit: 1, even if absent */
    EXPECT_EQ(metered_tracker_touches(mt), 3);
    bool out[2];
    kvbm_plh hs[2] = { tm_hash_n(61), tm_hash_n(62) };
    ASSERT_OK(kvbm_registry_check_presence(r, TIER_A, hs, 2, out)); /* never touches */
    EXPECT_EQ(metered_tracker_touches(mt), 3);
    kvbm_handle_touch(h);                                 /* callbacks only */
    EXPECT_EQ(metered_tracker_touches(mt), 3);
    EXPECT_EQ(metered_tracker_counts(mt), 0);
    EXPECT_EQ(kvbm_registry_count(r, tm_hash_n(61)), 2);
    EXPECT_EQ(kvbm_registry_count(r, tm_hash_n(62)), 1);
    EXPECT_EQ(metered_tracker_counts(mt), 2);
    kvbm_handle_release(h);
    kvbm_handle_release(h2);
    EXPECT_EQ(metered_tracker_touches(mt), 3);             /* releases: 0 */
    kvbm_registry_release(r);
    metered_tracker_release(mt);
}

/* ---- handle touch callbacks -------------------------------------------------------- */

struct touch_rec { int calls; kvbm_plh last; kvbm_handle *h; kvbm_registry *r; };

static void on_touch_rec(void *ctx, kvbm_plh h)
{
    struct touch_rec *t = ctx;
    t->calls++;
    t->last = h;
}

KVBM_TEST(touch_callback_fires)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(70), &h));
    struct touch_rec t = { 0 };
    ASSERT_OK(kvbm_handle_on_touch(h, on_touch_rec, &t));
    kvbm_handle_touch(h);
    EXPECT_EQ(t.calls, 1);
    EXPECT_TRUE(kvbm_plh_eq(t.last, tm_hash_n(70)));
    kvbm_handle_touch(h);
    kvbm_handle_touch(h);
    EXPECT_EQ(t.calls, 3);
    EXPECT_STATUS(kvbm_handle_on_touch(h, NULL, &t), KVBM_EINVAL);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

KVBM_TEST(touch_multiple_callbacks)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(71), &h));
    struct touch_rec a = { 0 }, b = { 0 };
    ASSERT_OK(kvbm_handle_on_touch(h, on_touch_rec, &a));
    ASSERT_OK(kvbm_handle_on_touch(h, on_touch_rec, &b));
    kvbm_handle_touch(h);
    EXPECT_EQ(a.calls, 1);
    EXPECT_EQ(b.calls, 1);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

KVBM_TEST(touch_no_callbacks_is_noop)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(72), &h));
    kvbm_handle_touch(h);
    kvbm_handle_touch(NULL);
    EXPECT_TRUE(kvbm_registry_is_registered(r, tm_hash_n(72)));
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

KVBM_TEST(touch_callback_receives_correct_hash)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h1, *h2;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(73), &h1));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(74), &h2));
    struct touch_rec t1 = { 0 }, t2 = { 0 };
    ASSERT_OK(kvbm_handle_on_touch(h1, on_touch_rec, &t1));
    ASSERT_OK(kvbm_handle_on_touch(h2, on_touch_rec, &t2));
    kvbm_handle_touch(h2);
    EXPECT_EQ(t1.calls, 0);
    EXPECT_TRUE(kvbm_plh_eq(t2.last, kvbm_handle_seq_hash(h2)));
    kvbm_handle_touch(h1);
    EXPECT_TRUE(kvbm_plh_eq(t1.last, tm_hash_n(73)));
    kvbm_handle_release(h1);
    kvbm_handle_release(h2);
    kvbm_registry_release(r);
}

/* A callback runs with no kvbm lock held: it may use the registry and the same handle,
 * including attaching another callback (which fires from the next touch on). */
static void reentrant_cb(void *ctx, kvbm_plh h)
{
    struct touch_rec *t = ctx;
    t->calls++;
    kvbm_handle *m = NULL;
    if (kvbm_registry_match(t->r, h, false, &m) == KVBM_OK) kvbm_handle_release(m);
    kvbm__handle_mark_present(t->h, TIER_A);
    kvbm__handle_mark_absent(t->h, TIER_A);
    if (t->calls == 1) (void)kvbm_handle_on_touch(t->h, on_touch_rec, t);
}

KVBM_TEST(touch_callbacks_run_without_locks)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(75), &h));
    struct touch_rec t = { 0 };
    t.h = h;
    t.r = r;
    ASSERT_OK(kvbm_handle_on_touch(h, reentrant_cb, &t));
    kvbm_handle_touch(h);
    EXPECT_EQ(t.calls, 1); /* the callback added during this touch did not fire yet */
    kvbm_handle_touch(h);
    EXPECT_EQ(t.calls, 3);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

/* ---- on_registered hook and the Create/Remove order --------------------------------- */

struct evlog {
    pthread_mutex_t mu;
    char            kind[64];
    kvbm_plh        hash[64];
    int             n;
    kvbm_attach_type rel_t;
    kvbm_status     hook_status;
};
struct release_val { struct evlog *log; kvbm_plh h; };

static void ev_append(struct evlog *l, char kind, kvbm_plh h)
{
    pthread_mutex_lock(&l->mu);
    if (l->n < 64) { l->kind[l->n] = kind; l->hash[l->n] = h; l->n++; }
    pthread_mutex_unlock(&l->mu);
}

static void release_dtor(void *p)
{
    struct release_val *v = p;
    ev_append(v->log, 'R', v->h);
    free(v);
}

static kvbm_status hook_create(void *ctx, kvbm_handle *h)
{
    struct evlog *l = ctx;
    ev_append(l, 'C', kvbm_handle_seq_hash(h));
    struct release_val *v = malloc(sizeof *v);
    if (v == NULL) return KVBM_ENOMEM;
    v->log = l;
    v->h = kvbm_handle_seq_hash(h);
    kvbm_status st = kvbm_handle_attach_unique(h, l->rel_t, v);
    if (st != KVBM_OK) release_dtor(v);
    return l->hook_status != KVBM_OK ? l->hook_status : st;
}

static kvbm_registry *new_hooked_registry(struct evlog *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->rel_t = new_type("release-handle", release_dtor);
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.hooks.on_registered = hook_create;
    cfg.hooks.ctx = l;
    kvbm_registry *r = NULL;
    if (kvbm_registry_create(&cfg, &r) != KVBM_OK) abort();
    return r;
}

KVBM_TEST(hook_runs_once_per_registration_lifetime)
{
    struct evlog l;
    kvbm_registry *r = new_hooked_registry(&l);
    kvbm_handle *h, *h2, *t;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(80), &h));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(80), &h2)); /* reuse: no hook */
    EXPECT_EQ(l.n, 1);
    ASSERT_OK(kvbm_registry_transfer(r, tm_hash_n(81), &t));  /* transfer: no hook */
    EXPECT_EQ(l.n, 1);
    kvbm_handle_release(h);
    EXPECT_EQ(l.n, 1);
    kvbm_handle_release(h2);                           /* entry dies: Remove */
    ASSERT_EQ(l.n, 2);
    EXPECT_EQ(l.kind[0], 'C');
    EXPECT_EQ(l.kind[1], 'R');
    /* a hook error is not fatal: the handle is still returned */
    l.hook_status = KVBM_EINVAL;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(80), &h));
    EXPECT_TRUE(kvbm_registry_is_registered(r, tm_hash_n(80)));
    kvbm_handle_release(h);
    kvbm_handle_release(t);
    ASSERT_EQ(l.n, 4);
    EXPECT_EQ(l.kind[2], 'C');
    EXPECT_EQ(l.kind[3], 'R');
    kvbm_registry_release(r);
    pthread_mutex_destroy(&l.mu);
}

/* drop_does_not_remove_entry_when_replaced_by_newer_registration, in kvbm's form: while
 * the last reference of h1 is being destroyed (its destructors running), a registration of
 * the same hash from another thread must wait, then install a newer handle; h1's death must
 * not remove the newer entry; Remove(h1) precedes Create(h2). */
struct rereg { kvbm_registry *r; kvbm_plh h; kvbm_handle *out; kvbm_status st; pthread_t th;
               bool started; struct evlog *log; bool absent_while_dying; };
static struct rereg *g_rereg;

static void *rereg_thread(void *p)
{
    struct rereg *x = p;
    x->st = kvbm_registry_register(x->r, x->h, &x->out);
    return NULL;
}

static void racing_dtor(void *p)
{
    struct rereg *x = g_rereg;
    /* the dying entry is already absent for lookups */
    kvbm_handle *m = NULL;
    x->absent_while_dying = !kvbm_registry_is_registered(x->r, x->h) &&
                            kvbm_registry_match(x->r, x->h, false, &m) == KVBM_ENOENT;
    if (pthread_create(&x->th, NULL, rereg_thread, x) == 0) {
        x->started = true;
        /* wait (bounded) until the registrar blocks on the dying entry */
        for (int i = 0; i < 2000000 && kvbm__registry_waiters(x->r, x->h) == 0; i++) sched_yield();
    }
    release_dtor(p); /* logs Remove(h1) */
}

/* ---- batched registration (kvbm_registry_register_many) ---------------------------- */

/* Same handles, hooks (in input order) and touches (one per creation) as n sequential
 * registrations; a hash repeated in the batch gets the same handle, one ref each. */
KVBM_TEST(register_many_is_sequential_registration)
{
    metered_tracker *mt = metered_tracker_new();
    struct evlog l;
    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.mu, NULL);
    l.rel_t = new_type("release-handle-many", release_dtor);
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.tracker = metered_tracker_get(mt);
    cfg.hooks.on_registered = hook_create;
    cfg.hooks.ctx = &l;
    kvbm_registry *r = NULL;
    ASSERT_OK(kvbm_registry_create(&cfg, &r));

    kvbm_handle *old;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(95), &old));   /* existing: reused below */
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    kvbm_plh hs[5] = { tm_hash_n(93), tm_hash_n(94), tm_hash_n(93), tm_hash_n(95), tm_hash_n(96) };
    kvbm_handle *out[5];
    ASSERT_OK(kvbm_registry_register_many(r, hs, 5, out));
    EXPECT_TRUE(out[0] == out[2]);
    EXPECT_TRUE(out[3] == old);
    EXPECT_TRUE(out[0] != out[1] && out[1] != out[4]);
    for (int i = 0; i < 5; i++) EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(out[i]), hs[i]));
    EXPECT_EQ(metered_tracker_touches(mt), 4);           /* 93, 94, 96 created */
    EXPECT_EQ(metered_tracker_key_touches(mt, tm_hash_n(93)), 1u);
    EXPECT_EQ(metered_tracker_key_touches(mt, tm_hash_n(94)), 1u);
    EXPECT_EQ(metered_tracker_key_touches(mt, tm_hash_n(95)), 1u);
    EXPECT_EQ(metered_tracker_key_touches(mt, tm_hash_n(96)), 1u);
    ASSERT_EQ(l.n, 4);                                    /* Create 95, then 93, 94, 96 */
    EXPECT_TRUE(kvbm_plh_eq(l.hash[1], tm_hash_n(93)));
    EXPECT_TRUE(kvbm_plh_eq(l.hash[2], tm_hash_n(94)));
    EXPECT_TRUE(kvbm_plh_eq(l.hash[3], tm_hash_n(96)));
    EXPECT_EQ(kvbm_registry_registered_count(r), 4);
    /* one reference per occurrence */
    kvbm_handle_release(out[0]);
    EXPECT_TRUE(kvbm_registry_is_registered(r, tm_hash_n(93)));
    kvbm_handle_release(out[2]);
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(93)));
    for (int i = 1; i < 5; i++)
        if (i != 2) kvbm_handle_release(out[i]);
    EXPECT_TRUE(kvbm_registry_is_registered(r, tm_hash_n(95)));  /* `old` still holds it */
    kvbm_handle_release(old);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    EXPECT_EQ(l.n, 8);

    /* arguments */
    EXPECT_OK(kvbm_registry_register_many(r, NULL, 0, NULL));
    EXPECT_STATUS(kvbm_registry_register_many(NULL, hs, 1, out), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_register_many(r, NULL, 1, out), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_registry_register_many(r, hs, 1, NULL), KVBM_EINVAL);
    EXPECT_EQ(metered_tracker_touches(mt), 4);
    kvbm_registry_release(r);
    metered_tracker_release(mt);
    pthread_mutex_destroy(&l.mu);
}

/* With a TinyLFU tracker the sketch ends bit-identical to sequential registrations
 * (decays included: capacity 16 decays every 160 effective increments). Batches span
 * several internal touch chunks (64). */
KVBM_TEST(register_many_tinylfu_state_equals_sequential)
{
    kvbm_tracker *ts = NULL, *tb = NULL;
    ASSERT_OK(kvbm_tinylfu_create(16, NULL, &ts));
    ASSERT_OK(kvbm_tinylfu_create(16, NULL, &tb));
    kvbm_registry *rs = tm_registry_create(ts), *rb = tm_registry_create(tb);
    enum { N = 150 };
    static kvbm_plh hs[N];
    static kvbm_handle *os[N], *ob[N];
    for (int round = 0; round < 12; round++) {
        for (int i = 0; i < N; i++) hs[i] = tm_hash_n((uint64_t)(1000 + (i * 7 + round * 31) % 200));
        for (int i = 0; i < N; i++) ASSERT_OK(kvbm_registry_register(rs, hs[i], &os[i]));
        ASSERT_OK(kvbm_registry_register_many(rb, hs, N, ob));
        uint32_t ss = 0, sb = 0;
        ASSERT_TRUE(kvbm__tracker_sketch_info(ts, NULL, &ss, NULL));
        ASSERT_TRUE(kvbm__tracker_sketch_info(tb, NULL, &sb, NULL));
        EXPECT_EQ(ss, sb);
        for (int k = 0; k < 200; k++)
            EXPECT_EQ(kvbm_registry_count(rs, tm_hash_n((uint64_t)(1000 + k))),
                      kvbm_registry_count(rb, tm_hash_n((uint64_t)(1000 + k))));
        for (int i = 0; i < N; i++) {
            kvbm_handle_release(os[i]);
            kvbm_handle_release(ob[i]);
        }
    }
    EXPECT_EQ(kvbm_registry_registered_count(rs), 0);
    EXPECT_EQ(kvbm_registry_registered_count(rb), 0);
    kvbm_registry_release(rs);
    kvbm_registry_release(rb);
    kvbm_tracker_release(ts);
    kvbm_tracker_release(tb);
}

/* The eviction epilogue: presence -1 then release, for each handle in order. */
KVBM_TEST(mark_absent_release_many)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *a, *b, *b2, *c;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(97), &a));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(98), &b));
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(99), &c));
    b2 = kvbm_handle_clone(b);
    kvbm__handle_mark_present(a, TIER_A);
    kvbm__handle_mark_present(b, TIER_A);
    kvbm__handle_mark_present(b, TIER_A);
    kvbm__handle_mark_present(c, TIER_B);
    kvbm__handle_mark_present(c, TIER_A);
    kvbm_handle *hs[3] = { a, b, c };
    kvbm__handle_mark_absent_release_many(hs, 3, TIER_A);
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(97)));  /* last ref: gone */
    EXPECT_FALSE(kvbm_registry_is_registered(r, tm_hash_n(99)));
    EXPECT_TRUE(kvbm_registry_is_registered(r, tm_hash_n(98)));   /* b2 still holds it */
    EXPECT_EQ(kvbm_handle_presence(b2, TIER_A), 1u);
    kvbm_handle *again;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(99), &again));  /* a new life starts clean */
    EXPECT_EQ(kvbm_handle_presence(again, TIER_A), 0u);
    EXPECT_EQ(kvbm_handle_presence(again, TIER_B), 0u);
    kvbm_handle *hs2[2] = { b2, again };
    kvbm__handle_release_many(hs2, 2);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm__handle_mark_absent_release_many(hs, 0, TIER_A);
    kvbm_registry_release(r);
}

/* The eviction epilogue's two death paths in one chunk, handles of two registries mixed:
 * last references without extras die in one shard-lock section, a last reference with an
 * attachment still runs its destructor (once, before its entry goes), a shared one only
 * loses its presence and a reference. Every hash can be registered again afterwards. */
static int mixed_dtor_runs;
static void mixed_dtor(void *v) { (void)v; mixed_dtor_runs++; }

KVBM_TEST(mark_absent_release_many_mixed_paths_and_registries)
{
    kvbm_registry *r1 = tm_registry_create(NULL), *r2 = tm_registry_create(NULL);
    kvbm_attach_type t = new_type("mixed_release", mixed_dtor);
    kvbm_handle *hs[6];
    for (int i = 0; i < 6; i++) {
        ASSERT_OK(kvbm_registry_register(i % 2 ? r2 : r1, tm_hash_n(700 + (uint64_t)i), &hs[i]));
        kvbm__handle_mark_present(hs[i], TIER_A);
    }
    static int val;
    ASSERT_OK(kvbm_handle_attach_unique(hs[2], t, &val));  /* extras: the general path */
    kvbm_handle *keep = kvbm_handle_clone(hs[3]);           /* shared: not the last ref */
    mixed_dtor_runs = 0;
    kvbm__handle_mark_absent_release_many(hs, 6, TIER_A);
    EXPECT_EQ(mixed_dtor_runs, 1);
    EXPECT_EQ(kvbm_registry_registered_count(r1), 0);
    EXPECT_EQ(kvbm_registry_registered_count(r2), 1);
    EXPECT_TRUE(kvbm_registry_is_registered(r2, tm_hash_n(703)));
    EXPECT_EQ(kvbm_handle_presence(keep, TIER_A), 0u);
    for (int i = 0; i < 6; i++) {
        if (i == 3) continue;
        EXPECT_FALSE(kvbm_registry_is_registered(i % 2 ? r2 : r1, tm_hash_n(700 + (uint64_t)i)));
        kvbm_handle *again;
        ASSERT_OK(kvbm_registry_register(i % 2 ? r2 : r1, tm_hash_n(700 + (uint64_t)i), &again));
        EXPECT_EQ(kvbm_handle_presence(again, TIER_A), 0u);
        kvbm_handle_release(again);
    }
    kvbm_handle_release(keep);
    EXPECT_EQ(kvbm_registry_registered_count(r2), 0);
    kvbm_registry_release(r1);
    kvbm_registry_release(r2);
}

/* Presence across the inline slots and the locked overflow, including the reserved tier
 * value (always in the overflow) and has_any_block over a mix of both. */
KVBM_TEST(presence_inline_and_overflow_tiers)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(90), &h));
    const kvbm_tier big = UINT64_MAX;
    kvbm__handle_mark_present(h, big);
    EXPECT_EQ(kvbm_handle_presence(h, big), 1u);
    EXPECT_FALSE(kvbm_handle_has_block(h, 0));
    for (kvbm_tier t = 0; t < 6; t++) kvbm__handle_mark_present(h, t);   /* 4 inline, 2 spill */
    kvbm_tier none[2] = { 50, 51 }, mix[3] = { 50, 5, 51 }, inl[2] = { 50, 1 };
    EXPECT_FALSE(kvbm_handle_has_any_block(h, none, 2));
    EXPECT_TRUE(kvbm_handle_has_any_block(h, mix, 3));
    EXPECT_TRUE(kvbm_handle_has_any_block(h, inl, 2));
    for (kvbm_tier t = 0; t < 6; t++) kvbm__handle_mark_absent(h, t);
    EXPECT_FALSE(kvbm_handle_has_any_block(h, mix, 3));
    EXPECT_FALSE(kvbm_handle_has_any_block(h, inl, 2));
    EXPECT_TRUE(kvbm_handle_has_any_block(h, &big, 1));
    for (kvbm_tier t = 0; t < 6; t++) EXPECT_EQ(kvbm_handle_presence(h, t), 0u);
    kvbm__handle_mark_present(h, 5);   /* a zero count is reused, not duplicated */
    EXPECT_EQ(kvbm_handle_presence(h, 5), 1u);
    kvbm__handle_mark_present(h, 2);
    EXPECT_EQ(kvbm_handle_presence(h, 2), 1u);
    kvbm__handle_mark_absent(h, 5);
    kvbm__handle_mark_absent(h, 2);
    kvbm__handle_mark_absent(h, big);
    EXPECT_FALSE(kvbm_handle_has_block(h, big));
    bool out[1];
    kvbm_plh hh = tm_hash_n(90);
    ASSERT_OK(kvbm_registry_check_presence_any(r, &hh, 1, mix, 3, out));
    EXPECT_FALSE(out[0]);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}


/* A recycled handle object keeps the tier of its first presence slot (count 0) from its
 * previous life. That must be invisible: no presence for it, the same tier counts from 0,
 * four other tiers still fit (one of them in the overflow array), and the eviction
 * epilogue's folded decrement works on the recycled slot. */
KVBM_TEST(recycled_handle_presence_starts_empty)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *a;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(300), &a));
    kvbm__handle_mark_present(a, TIER_A);
    kvbm__handle_mark_present(a, TIER_B);
    kvbm__handle_mark_present(a, TIER_A);
    kvbm__handle_mark_absent_release_many(&a, 1, TIER_B); /* last reference: dies */
    kvbm_handle *b;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(300), &b));
    EXPECT_TRUE(b == a); /* the shard's free list is LIFO: the same object */
    kvbm_tier ab[2] = { TIER_A, TIER_B };
    EXPECT_EQ(kvbm_handle_presence(b, TIER_A), 0u);
    EXPECT_EQ(kvbm_handle_presence(b, TIER_B), 0u);
    EXPECT_FALSE(kvbm_handle_has_any_block(b, ab, 2));
    bool out[1];
    kvbm_plh hh = tm_hash_n(300);
    ASSERT_OK(kvbm_registry_check_presence(r, TIER_A, &hh, 1, out));
    EXPECT_FALSE(out[0]);
    /* four other tiers: every count exact, the stale slot's tier still counts from 0 */
    for (kvbm_tier t = 1; t <= 4; t++) kvbm__handle_mark_present(b, t);
    for (kvbm_tier t = 1; t <= 4; t++) EXPECT_EQ(kvbm_handle_presence(b, t), 1u);
    EXPECT_EQ(kvbm_handle_presence(b, TIER_A), 0u);
    kvbm__handle_mark_present(b, TIER_A);
    EXPECT_EQ(kvbm_handle_presence(b, TIER_A), 1u);
    for (kvbm_tier t = 1; t <= 4; t++) kvbm__handle_mark_absent(b, t);
    EXPECT_FALSE(kvbm_handle_has_any_block(b, (kvbm_tier[]){ 1, 2, 3, 4 }, 4));
    kvbm__handle_mark_absent_release_many(&b, 1, TIER_A);
    /* a third life of the object: nothing left of the second */
    kvbm_handle *c;
    ASSERT_OK(kvbm_registry_register(r, tm_hash_n(300), &c));
    for (kvbm_tier t = 1; t <= 4; t++) EXPECT_EQ(kvbm_handle_presence(c, t), 0u);
    EXPECT_EQ(kvbm_handle_presence(c, TIER_A), 0u);
    kvbm_handle_release(c);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_registry_release(r);
}

KVBM_TEST(drop_does_not_remove_entry_when_replaced_by_newer_registration)
{
    struct evlog l;
    kvbm_registry *r = new_hooked_registry(&l);
    kvbm_attach_type racing_t = new_type("racing", racing_dtor);
    struct rereg x = { 0 };
    x.r = r;
    x.h = tm_hash_n(90);
    x.log = &l;
    g_rereg = &x;
    kvbm_handle *h1;
    ASSERT_OK(kvbm_registry_register(r, x.h, &h1)); /* Create(h1) + release handle */
    struct release_val *v = malloc(sizeof *v);
    ASSERT_TRUE(v != NULL);
    v->log = &l;
    v->h = x.h;
    ASSERT_OK(kvbm_handle_attach_unique(h1, racing_t, v));
    kvbm_handle_release(h1); /* runs racing_dtor, which starts the re-registration */
    ASSERT_TRUE(x.started);
    pthread_join(x.th, NULL);
    ASSERT_OK(x.st);
    EXPECT_TRUE(x.absent_while_dying);
    EXPECT_TRUE(kvbm_registry_is_registered(r, x.h)); /* the newer entry survived */
    EXPECT_EQ(kvbm_registry_registered_count(r), 1);
    ASSERT_EQ(l.n, 4);
    EXPECT_EQ(l.kind[0], 'C');
    EXPECT_EQ(l.kind[1], 'R'); /* release handle of h1 */
    EXPECT_EQ(l.kind[2], 'R'); /* racing value of h1 */
    EXPECT_EQ(l.kind[3], 'C'); /* Create(h2) only after every Remove of h1 */
    kvbm_handle_release(x.out);
    EXPECT_FALSE(kvbm_registry_is_registered(r, x.h));
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    EXPECT_EQ(l.n, 5);
    EXPECT_EQ(l.kind[4], 'R');
    kvbm_registry_release(r);
    pthread_mutex_destroy(&l.mu);
}

/* ---- the table against a model (growth, backward-shift deletion) -------------------- */

KVBM_TEST(table_matches_model_seeded)
{
    uint64_t seed = test_seed();
    printf("    table_matches_model_seeded: seed=%" PRIu64 " (KVBM_TEST_SEED to replay)\n", seed);
    uint64_t s = seed | 1;
    enum { N = 3000 };
    int ops = test_under_sanitizer() ? 60000 : 300000;
    static kvbm_handle *held[N][2]; /* model: up to two references per hash */
    memset(held, 0, sizeof held);
    kvbm_registry *r = tm_registry_create(NULL);
    size_t live = 0;
    for (int op = 0; op < ops; op++) {
        uint64_t id = tm_rand(&s) % N;
        int k = (int)(tm_rand(&s) % 2);
        if (held[id][k] == NULL) {
            bool was_live = held[id][0] != NULL || held[id][1] != NULL;
            kvbm_handle *h;
            ASSERT_OK(kvbm_registry_register(r, tm_hash_n(id), &h));
            if (was_live) ASSERT_TRUE(h == held[id][1 - k]);
            else live++;
            held[id][k] = h;
        } else {
            kvbm_handle_release(held[id][k]);
            held[id][k] = NULL;
            if (held[id][1 - k] == NULL) live--;
        }
        if (op % 997 == 0) {
            ASSERT_EQ(kvbm_registry_registered_count(r), live);
            for (uint64_t j = 0; j < N; j += 37) {
                bool model = held[j][0] != NULL || held[j][1] != NULL;
                ASSERT_EQ(kvbm_registry_is_registered(r, tm_hash_n(j)), model);
            }
        }
    }
    for (uint64_t j = 0; j < N; j++) {
        kvbm_handle *m = NULL;
        bool model = held[j][0] != NULL || held[j][1] != NULL;
        kvbm_status st = kvbm_registry_match(r, tm_hash_n(j), false, &m);
        ASSERT_EQ(st == KVBM_OK, model);
        if (model) {
            ASSERT_TRUE(m == (held[j][0] ? held[j][0] : held[j][1]));
            kvbm_handle_release(m);
        }
        kvbm_handle_release(held[j][0]);
        kvbm_handle_release(held[j][1]);
    }
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_registry_release(r);
}

/* The per-block paths of the replay against the same kind of model: register_many of
 * random batches (repeats inside a batch included) + mark_present, then batched
 * mark_absent_release_many of random held references (last and non-last ones). Few
 * hundred keys per shard at the table's load limit: deaths remove entries from the
 * middle of probe runs (backward shift) and must find theirs by identity. */
KVBM_TEST(batched_register_and_deaths_match_model_seeded)
{
    uint64_t seed = test_seed();
    printf("    batched_register_and_deaths_match_model_seeded: seed=%" PRIu64 "\n", seed);
    uint64_t s = seed | 1;
    enum { N = 20000, MAXHELD = 30000, B = 64 };
    int rounds = test_under_sanitizer() ? 1500 : 6000;
    static uint32_t refs[N];
    static kvbm_handle *model[N];
    static uint32_t held_id[MAXHELD];
    static kvbm_handle *held_h[MAXHELD];
    memset(refs, 0, sizeof refs);
    memset(model, 0, sizeof model);
    size_t nheld = 0, live = 0;
    kvbm_registry *r = tm_registry_create(NULL);
    for (int round = 0; round < rounds; round++) {
        size_t b = 1 + (size_t)(tm_rand(&s) % B);
        if (nheld + b <= MAXHELD) {
            kvbm_plh hs[B];
            uint32_t ids[B];
            kvbm_handle *out[B];
            for (size_t k = 0; k < b; k++) {
                /* a repeat of an earlier key of the batch now and then */
                ids[k] = k > 0 && tm_rand(&s) % 8 == 0 ? ids[tm_rand(&s) % k]
                                                        : (uint32_t)(tm_rand(&s) % N);
                hs[k] = tm_hash_n(ids[k]);
            }
            ASSERT_OK(kvbm_registry_register_many(r, hs, b, out));
            for (size_t k = 0; k < b; k++) {
                uint32_t id = ids[k];
                if (refs[id] > 0) ASSERT_TRUE(out[k] == model[id]);
                else live++;
                model[id] = out[k];
                refs[id]++;
                kvbm__handle_mark_present(out[k], TIER_A);
                held_id[nheld] = id;
                held_h[nheld++] = out[k];
            }
        }
        /* release about as many as were registered, in one batch, random order */
        size_t d = (size_t)(tm_rand(&s) % (B + 1));
        if (d > nheld) d = nheld;
        kvbm_handle *dead[B + 1];
        for (size_t k = 0; k < d; k++) {
            size_t j = (size_t)(tm_rand(&s) % nheld);
            uint32_t id = held_id[j];
            dead[k] = held_h[j];
            held_id[j] = held_id[nheld - 1];
            held_h[j] = held_h[nheld - 1];
            nheld--;
            if (--refs[id] == 0) live--;
        }
        kvbm__handle_mark_absent_release_many(dead, d, TIER_A);
        if (round % 97 == 0) {
            ASSERT_EQ(kvbm_registry_registered_count(r), live);
            for (uint32_t j = (uint32_t)(tm_rand(&s) % 53); j < N; j += 53) {
                kvbm_handle *m = NULL;
                kvbm_status st = kvbm_registry_match(r, tm_hash_n(j), false, &m);
                ASSERT_EQ(st == KVBM_OK, refs[j] > 0);
                if (st == KVBM_OK) {
                    ASSERT_TRUE(m == model[j]);
                    ASSERT_EQ(kvbm_handle_presence(m, TIER_A), refs[j]);
                    kvbm_handle_release(m);
                }
            }
        }
    }
    kvbm__handle_mark_absent_release_many(held_h, nheld, TIER_A);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_registry_release(r);
}

/* ---- lock order (spec 20 §2.8, 10-core §8.4) ---------------------------------------- */

static kvbm__mutex *child_store_lock(void)
{
    static kvbm__mutex store;
    kvbm__mutex_init(&store, KVBM_RANK_STORE);
    return &store;
}

/* the last release of a handle under the store lock: a forbidden order */
static void release_last_under_store_lock(void)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    if (kvbm_registry_register(r, tm_hash_n(100), &h) != KVBM_OK) _exit(3);
    kvbm__mutex *store = child_store_lock();
    kvbm__lock(store);
    kvbm_handle_release(h);
    kvbm__unlock(store);
}

static void register_under_store_lock(void)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm__mutex *store = child_store_lock();
    kvbm_handle *h;
    kvbm__lock(store);
    if (kvbm_registry_register(r, tm_hash_n(101), &h) == KVBM_OK) kvbm_handle_release(h);
    kvbm__unlock(store);
}

static void mark_present_under_store_lock(void)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    if (kvbm_registry_register(r, tm_hash_n(102), &h) != KVBM_OK) _exit(3);
    kvbm__mutex *store = child_store_lock();
    kvbm__lock(store);
    kvbm__handle_mark_present(h, TIER_A);
    kvbm__unlock(store);
}

/* allowed: a non-final release and presence updates after the store lock is dropped */
static void correct_registry_order(void)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    if (kvbm_registry_register(r, tm_hash_n(103), &h) != KVBM_OK) _exit(3);
    kvbm_handle *c = kvbm_handle_clone(h);
    kvbm__mutex *store = child_store_lock();
    kvbm__lock(store);
    kvbm_handle_release(c); /* not the last reference: lock-free */
    kvbm__unlock(store);
    kvbm__handle_mark_present(h, TIER_A);
    kvbm__handle_mark_absent(h, TIER_A);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

static void mark_absent_missing(void)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *h;
    if (kvbm_registry_register(r, tm_hash_n(104), &h) != KVBM_OK) _exit(3);
    kvbm__handle_mark_absent(h, TIER_B);
    kvbm_handle_release(h);
    kvbm_registry_release(r);
}

/* the on_registered hook runs under the shard lock: calling back into the registry is a
 * same-rank acquisition (and could self-deadlock); the checker aborts */
static kvbm_registry *g_reentrant_reg;
static kvbm_status reentrant_hook(void *ctx, kvbm_handle *h)
{
    (void)ctx;
    return kvbm_registry_is_registered(g_reentrant_reg, kvbm_handle_seq_hash(h)) ? KVBM_OK
                                                                               : KVBM_ENOENT;
}

static void hook_reenters_registry(void)
{
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.hooks.on_registered = reentrant_hook;
    kvbm_registry *r = NULL;
    if (kvbm_registry_create(&cfg, &r) != KVBM_OK) _exit(3);
    g_reentrant_reg = r;
    kvbm_handle *h;
    if (kvbm_registry_register(r, tm_hash_n(105), &h) == KVBM_OK) kvbm_handle_release(h);
}

/* accessor callbacks run under the handle lock: re-entering the handle's presence path
 * is forbidden (non-reentrant mutex); the checker aborts instead of deadlocking */
static void reenter_presence(void *ctx, void *value)
{
    (void)value;
    kvbm__handle_mark_present((kvbm_handle *)ctx, TIER_A);
}

static void accessor_reenters_handle(void)
{
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_attach_type t = new_type("reenter", NULL);
    kvbm_handle *h;
    static int v;
    if (kvbm_registry_register(r, tm_hash_n(106), &h) != KVBM_OK) _exit(3);
    if (kvbm_handle_attach_unique(h, t, &v) != KVBM_OK) _exit(3);
    (void)kvbm_handle_with_unique(h, t, reenter_presence, h);
}

static bool aborted(int st) { return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT; }
static bool exited_ok(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; }

KVBM_TEST(lock_rank_checker_catches_registry_misuse)
{
#ifdef KVBM_LOCK_RANK_CHECK
    EXPECT_TRUE(aborted(test_run_in_child(release_last_under_store_lock)));
    EXPECT_TRUE(aborted(test_run_in_child(register_under_store_lock)));
    EXPECT_TRUE(aborted(test_run_in_child(mark_present_under_store_lock)));
    EXPECT_TRUE(aborted(test_run_in_child(hook_reenters_registry)));
    EXPECT_TRUE(aborted(test_run_in_child(accessor_reenters_handle)));
#else
    (void)hook_reenters_registry;
    (void)accessor_reenters_handle;
    (void)release_last_under_store_lock;
    (void)register_under_store_lock;
    (void)mark_present_under_store_lock;
    (void)aborted;
#endif
    EXPECT_TRUE(exited_ok(test_run_in_child(correct_registry_order)));
}

KVBM_TEST(mark_absent_of_missing_tier)
{
    int st = test_run_in_child(mark_absent_missing);
#if KVBM_DEBUG >= 1
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT); /* debug assertion */
#else
    EXPECT_TRUE(exited_ok(st)); /* release: no-op */
#endif
}

/* full 128-bit identity: same position and current hash, different parent fragment */
KVBM_TEST(registrations_are_keyed_by_the_full_plh)
{
    kvbm_plh a, b;
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x11, 5, &a));
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x22, 5, &b));
    ASSERT_FALSE(kvbm_plh_eq(a, b));
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_handle *ha, *hb, *m = NULL;
    ASSERT_OK(kvbm_registry_register(r, a, &ha));
    EXPECT_FALSE(kvbm_registry_is_registered(r, b));
    EXPECT_STATUS(kvbm_registry_match(r, b, false, &m), KVBM_ENOENT);
    ASSERT_OK(kvbm_registry_register(r, b, &hb));
    EXPECT_TRUE(ha != hb);
    EXPECT_EQ(kvbm_registry_registered_count(r), 2);
    kvbm_handle_release(ha);
    EXPECT_TRUE(kvbm_registry_is_registered(r, b));
    EXPECT_FALSE(kvbm_registry_is_registered(r, a));
    kvbm_handle_release(hb);
    kvbm_registry_release(r);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return x < y ? -1 : x > y;
}

/* Handle objects come from per-shard slabs and are recycled, never freed one by one: a
 * second registration of the same hashes reuses exactly the first generation's objects
 * (64-byte aligned), and the registry frees everything at the end (ASan). */
KVBM_TEST(handle_objects_are_recycled_from_slabs)
{
    enum { N = 6000 };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_plh *hs = malloc(N * sizeof *hs);
    kvbm_handle **a = malloc(N * sizeof *a), **b = malloc(N * sizeof *b);
    ASSERT_TRUE(hs != NULL && a != NULL && b != NULL);
    for (size_t i = 0; i < N; i++) hs[i] = tm_hash_n(100000 + i);
    ASSERT_OK(kvbm_registry_register_many(r, hs, N, a));
    for (size_t i = 0; i < N; i++) {
        EXPECT_EQ((uintptr_t)a[i] % 64, 0);
        EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(a[i]), hs[i]));
    }
    EXPECT_EQ(kvbm_registry_registered_count(r), N);
    kvbm__handle_mark_absent_release_many(a, 0, TIER_A); /* n = 0: no-op */
    kvbm__handle_release_many(a, N);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    /* the same hashes again: each shard pops exactly the objects it just recycled (LIFO) */
    ASSERT_OK(kvbm_registry_register_many(r, hs, N, b));
    qsort(a, N, sizeof *a, cmp_ptr);
    size_t reused = 0;
    for (size_t i = 0; i < N; i++)
        if (bsearch(&b[i], a, N, sizeof *a, cmp_ptr) != NULL) reused++;
    EXPECT_EQ(reused, N);
    for (size_t i = 0; i < N; i++) kvbm__handle_mark_present(b[i], TIER_A);
    kvbm__handle_mark_absent_release_many(b, N, TIER_A);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    kvbm_registry_release(r);
    free(hs);
    free(a);
    free(b);
}
