/* tests/hardening/test_check_race.c - issue 15 defect 1: kvbm_manager_check_invariants
 * must never poison a healthy manager because of an in-flight gauge update.
 *
 *  - a thread loops allocate(1)/release while another calls check_invariants: no call may
 *    fail, and afterwards the manager is healthy (available == total, check OK);
 *  - an attachment destructor calls check_invariants while the last reference of a
 *    registration handle goes away after an evict-on-reset release and during
 *    kvbm_manager_reset_inactive_pool (the registry work runs after the store unlock).
 * Named *race* so the TSan build runs it too. Bounded by iteration counts, not time. */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "support/manager_helpers.h"

struct churn {
    kvbm_manager *m;
    int           iters;
    atomic_int    done;
    atomic_int    errors;
};

static void *churn_worker(void *p)
{
    struct churn *c = p;
    for (int i = 0; i < c->iters; i++) {
        kvbm_mutable *mb = NULL;
        kvbm_status st = kvbm_manager_allocate(c->m, 1, &mb, NULL, NULL);
        if (st != KVBM_OK) { atomic_fetch_add(&c->errors, 1); continue; }
        if (kvbm_mutable_release(mb) != KVBM_OK) atomic_fetch_add(&c->errors, 1);
        if ((i & 7) == 0) { /* also the staged and registered paths */
            kvbm_mutable *m2 = NULL;
            kvbm_complete *cb = NULL;
            kvbm_block *b = NULL;
            if (kvbm_manager_allocate(c->m, 1, &m2, NULL, NULL) != KVBM_OK ||
                kvbm_mutable_stage(m2, tm_hash_for_id((uint32_t)(i % 5)), 4, &cb, NULL, NULL) != KVBM_OK ||
                kvbm_manager_register_block(c->m, cb, &b) != KVBM_OK ||
                kvbm_block_release(b) != KVBM_OK)
                atomic_fetch_add(&c->errors, 1);
        }
    }
    atomic_store(&c->done, 1);
    return NULL;
}

KVBM_TEST(check_invariants_concurrent_with_allocate_release_never_poisons)
{
    kvbm_manager *m = create_test_manager(8);
    ASSERT_TRUE(m != NULL);
    tm_auto_check(false);
    struct churn c = { m, test_under_sanitizer() ? 4000 : 40000, 0, 0 };
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, churn_worker, &c), 0);
    long checks = 0, bad = 0;
    while (!atomic_load(&c.done) || checks < 100) {
        kvbm_status st = kvbm_manager_check_invariants(m);
        checks++;
        if (st != KVBM_OK) {
            if (bad++ == 0) kvbm_test_fail(__FILE__, __LINE__, "check %ld: %d (%s)", checks, st, kvbm_last_error());
            break;
        }
    }
    pthread_join(th, NULL);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(atomic_load(&c.errors), 0);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_EQ(kvbm_manager_available_blocks(m), kvbm_manager_total_blocks(m));
    tm_manager_destroy(m);
}

/* ---- from an attachment destructor ------------------------------------------------------ */

static kvbm_manager *g_dtor_manager;
static int g_dtor_calls;
static kvbm_status g_dtor_status;

static void checking_dtor(void *value)
{
    (void)value;
    g_dtor_calls++;
    kvbm_status st = kvbm_manager_check_invariants(g_dtor_manager);
    if (st != KVBM_OK && g_dtor_status == KVBM_OK) g_dtor_status = st;
}

static kvbm_attach_type checking_type(void)
{
    static kvbm_attach_type t;
    if (t == 0 && kvbm_attach_type_register("hardening.check_in_dtor", checking_dtor, &t) != KVBM_OK) t = 0;
    return t;
}

/* A registered block whose registration handle carries a checking attachment. */
static kvbm_block *block_with_checking_attachment(kvbm_manager *m, uint32_t id)
{
    kvbm_block *b = tm_register_hash(m, tm_hash_for_id(id));
    if (b == NULL) return NULL;
    kvbm_handle *h = NULL;
    if (kvbm_block_registration_handle(b, &h) != KVBM_OK) return b;
    static int dummy;
    if (kvbm_handle_attach_unique(h, checking_type(), &dummy) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "attach_unique");
    kvbm_handle_release(h);
    return b;
}

KVBM_TEST(check_invariants_from_attachment_dtor_on_evict_on_reset_release)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    ASSERT_TRUE(checking_type() != 0);
    g_dtor_manager = m; g_dtor_calls = 0; g_dtor_status = KVBM_OK;
    kvbm_block *b = block_with_checking_attachment(m, 1);
    ASSERT_TRUE(b != NULL);
    ASSERT_OK(kvbm_block_set_evict_on_reset(b, true));
    ASSERT_OK(kvbm_block_release(b)); /* -> reset; the handle's last ref runs the dtor */
    EXPECT_EQ(g_dtor_calls, 1);
    EXPECT_STATUS(g_dtor_status, KVBM_OK);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);
    tm_manager_destroy(m);
}

KVBM_TEST(check_invariants_from_attachment_dtor_during_reset_inactive_pool)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    ASSERT_TRUE(checking_type() != 0);
    g_dtor_manager = m; g_dtor_calls = 0; g_dtor_status = KVBM_OK;
    for (uint32_t i = 1; i <= 3; i++) {
        kvbm_block *b = block_with_checking_attachment(m, i);
        ASSERT_TRUE(b != NULL);
        ASSERT_OK(kvbm_block_release(b)); /* -> inactive (the slot keeps the handle) */
    }
    EXPECT_EQ(g_dtor_calls, 0);
    ASSERT_OK(kvbm_manager_reset_inactive_pool(m, NULL, NULL));
    EXPECT_EQ(g_dtor_calls, 3);
    EXPECT_STATUS(g_dtor_status, KVBM_OK);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    tm_manager_destroy(m);
}
