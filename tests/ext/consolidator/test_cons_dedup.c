/* tests/ext/consolidator/test_cons_dedup.c - cross-source dedup and the KVBM bridge
 * (spec 20 §4.3.1-§4.3.2; §5.5 "dedup" and "kvbm_bridge"). */
#include "cons_test.h"
#include "kvbm/registry.h"

#define V KVBM_CONS_SOURCE_VLLM

KVBM_TEST(cross_source_dedup)
{
    /* one Store from vLLM + KVBM; the Remove only after both let go */
    kvbm_cons_tracker *t = NULL;
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    kvbm_plh p = cons_chain_plh(1, 1, NULL);
    uint32_t tok[4] = {1, 2, 3, 4};
    ASSERT_OK(cons_store4(t, V, 42, 0, 1, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, p, tok, 4, 4, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 42));
    ASSERT_EQ(cons_drain(t, &ev), 0);
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_remove(t, p));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_REMOVE, p));
    /* the other order: kvbm lets go first */
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, p, tok, 4, 4, NULL));
    ASSERT_OK(cons_store4(t, V, 42, 0, 1, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_remove(t, p));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_STORE, p));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 42));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_REMOVE, p));
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(parent_chain_resolution)
{
    kvbm_cons_tracker *t = NULL;
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    ASSERT_OK(cons_store4(t, V, 1, 0, 10, NULL));
    ASSERT_OK(cons_store4(t, V, 2, 1, 20, NULL));
    ASSERT_OK(cons_store4(t, V, 3, 2, 30, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 3);
    for (size_t i = 1; i < 3; i++) {
        uint64_t par = 0;
        ASSERT_TRUE(kvbm_plh_router_parent_hash(kvbm_cons_events_get(ev, i)->plh, &par));
        EXPECT_EQ_U64(par, kvbm_plh_router_block_hash(kvbm_cons_events_get(ev, i - 1)->plh));
    }
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(clear_all_propagates)
{
    kvbm_cons_tracker *t = NULL;
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    ASSERT_OK(cons_store4(t, V, 1, 0, 10, NULL));
    ASSERT_OK(kvbm_cons_tracker_clear_all(t));
    ASSERT_OK(cons_store4(t, V, 1, 0, 10, NULL)); /* same block again: a new Store */
    ASSERT_EQ(cons_drain(t, &ev), 3);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_STORE, cons_chain_plh(10, 1, NULL)));
    EXPECT_TRUE(cons_is(ev, 1, KVBM_CONS_CLEAR_ALL, (kvbm_plh){0, 0}));
    EXPECT_TRUE(cons_is(ev, 2, KVBM_CONS_STORE, cons_chain_plh(10, 1, NULL)));
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(kvbm_bridge_plumbing)
{
    /* a KVBM Create (no tokens) publishes nothing; a later vLLM store of the same PLH does */
    kvbm_cons_tracker *t = NULL;
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    kvbm_plh p = cons_chain_plh(1, 1, NULL);
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, p, NULL, 0, 0, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 0);
    bool pub = true;
    ASSERT_TRUE(kvbm_cons_tracker_lookup(t, p, NULL, &pub));
    EXPECT_FALSE(pub);
    ASSERT_OK(cons_store4(t, V, 7, 0, 1, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_STORE, p));
    EXPECT_EQ(kvbm_cons_events_get(ev, 0)->source, V);
    /* an unpublished kvbm-only block leaves silently */
    kvbm_plh q = cons_chain_plh(100, 1, NULL);
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, q, NULL, 0, 0, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_remove(t, q));
    ASSERT_EQ(cons_drain(t, &ev), 0);
    EXPECT_FALSE(kvbm_cons_tracker_lookup(t, q, NULL, NULL));
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(registry_presence_after_kvbm_store)
{
    kvbm_registry *r = NULL;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_cons_tracker *t = NULL;
    kvbm_cons_tracker_config cfg = {.registry = r};
    ASSERT_OK(kvbm_cons_tracker_create(&cfg, &t));
    kvbm_plh p = cons_chain_plh(1, 1, NULL), q = cons_chain_plh(100, 1, NULL);
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, p, NULL, 0, 0, NULL));
    EXPECT_TRUE(kvbm_registry_is_registered(r, p));
    ASSERT_OK(cons_store4(t, V, 7, 0, 100, NULL)); /* engine stores register too */
    EXPECT_TRUE(kvbm_registry_is_registered(r, q));
    EXPECT_EQ(kvbm_registry_registered_count(r), 2);
    ASSERT_OK(cons_store4(t, V, 8, 0, 1, NULL)); /* p tracked already: no second handle */
    EXPECT_EQ(kvbm_registry_registered_count(r), 2);
    /* forgetting a block releases its handle */
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_remove(t, p));
    EXPECT_TRUE(kvbm_registry_is_registered(r, p)); /* vLLM still holds it */
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 8));
    EXPECT_FALSE(kvbm_registry_is_registered(r, p));
    ASSERT_OK(kvbm_cons_tracker_clear_all(t));
    EXPECT_FALSE(kvbm_registry_is_registered(r, q));
    EXPECT_EQ(kvbm_registry_registered_count(r), 0);
    /* destroy releases the remaining handles and the registry reference */
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, p, NULL, 0, 0, NULL));
    kvbm_cons_tracker_destroy(t);
    EXPECT_FALSE(kvbm_registry_is_registered(r, p));
    kvbm_registry_release(r);
}
