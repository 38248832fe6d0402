/* tests/ext/consolidator/test_cons_tracker.c - the dedup tracker, one test per §5.5
 * "tracker:" name (spec 20 §4.3.2). */
#include "cons_test.h"

#define V KVBM_CONS_SOURCE_VLLM
#define T KVBM_CONS_SOURCE_TRTLLM
#define K KVBM_CONS_SOURCE_KVBM

static kvbm_cons_tracker *mk(void)
{
    kvbm_cons_tracker *t = NULL;
    if (kvbm_cons_tracker_create(NULL, &t) != KVBM_OK) return NULL;
    return t;
}

KVBM_TEST(first_store_from_any_source_emits_store_event)
{
    kvbm_cons_source srcs[2] = {V, T};
    for (int i = 0; i < 2; i++) {
        kvbm_cons_tracker *t = mk();
        kvbm_cons_events *ev = NULL;
        ASSERT_TRUE(t != NULL);
        ASSERT_OK(cons_store4(t, srcs[i], 77, 0, 1, NULL));
        ASSERT_EQ(cons_drain(t, &ev), 1);
        const kvbm_cons_event *e = kvbm_cons_events_get(ev, 0);
        EXPECT_EQ(e->kind, KVBM_CONS_STORE);
        EXPECT_EQ(e->source, srcs[i]);
        /* the root PLH of [1,2,3,4] at salt 1337 (spec §1.10.1 row 0) */
        EXPECT_EQ_U64(e->plh.hi, 0);
        EXPECT_EQ_U64(e->plh.lo, UINT64_C(0xcb38e4d7fb2dca5c));
        EXPECT_EQ(kvbm_plh_position(e->plh), 0);
        kvbm_cons_tracker_stats st;
        kvbm_cons_tracker_get_stats(t, &st);
        EXPECT_EQ(st.stores, 1);
        EXPECT_EQ(st.stores_published, 1);
        EXPECT_EQ(st.live_blocks, 1);
        EXPECT_EQ(st.mappings, 1);
        EXPECT_OK(kvbm_cons_tracker_check(t));
        kvbm_cons_events_destroy(ev);
        kvbm_cons_tracker_destroy(t);
    }
}

KVBM_TEST(repeat_store_same_source_and_hash_is_noop)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    EXPECT_EQ(cons_drain(t, &ev), 1);
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.duplicates, 2);
    EXPECT_EQ(st.mappings, 1);
    /* one remove ends it: the repeats added no references */
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 5));
    EXPECT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_REMOVE, cons_chain_plh(1, 1, NULL)));
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(second_source_store_for_same_seq_hash_is_silent)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, T, 900, 0, 1, NULL)); /* another engine hash, same content */
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_EQ(kvbm_cons_events_get(ev, 0)->source, V);
    unsigned srcs = 0;
    bool pub = false;
    ASSERT_TRUE(kvbm_cons_tracker_lookup(t, cons_chain_plh(1, 1, NULL), &srcs, &pub));
    EXPECT_EQ(srcs, (1u << V) | (1u << T));
    EXPECT_TRUE(pub);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(emits_single_store_when_three_sources_see_same_hash)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    kvbm_plh p = cons_chain_plh(1, 1, NULL);
    uint32_t tok[4] = {1, 2, 3, 4};
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, p, tok, 4, 4, NULL));
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, T, 6, 0, 1, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_STORE, p));
    EXPECT_EQ(kvbm_cons_events_get(ev, 0)->source, K);
    unsigned srcs = 0;
    ASSERT_TRUE(kvbm_cons_tracker_lookup(t, p, &srcs, NULL));
    EXPECT_EQ(srcs, 7u);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(remove_from_last_source_emits_remove_event)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, T, 6, 0, 1, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 5));
    ASSERT_EQ(cons_drain(t, &ev), 1); /* only the store: trtllm still holds it */
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, T, 6));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_REMOVE, cons_chain_plh(1, 1, NULL)));
    EXPECT_EQ(kvbm_cons_events_get(ev, 0)->source, T);
    EXPECT_FALSE(kvbm_cons_tracker_lookup(t, cons_chain_plh(1, 1, NULL), NULL, NULL));
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.removes, 2);
    EXPECT_EQ(st.removes_published, 1);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(partial_remove_two_of_three_sources_is_silent)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    kvbm_plh p = cons_chain_plh(1, 1, NULL);
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, T, 6, 0, 1, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, p, NULL, 0, 0, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 5));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, T, 6));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_STORE, p));
    unsigned srcs = 0;
    ASSERT_TRUE(kvbm_cons_tracker_lookup(t, p, &srcs, NULL));
    EXPECT_EQ(srcs, 1u << K);
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_remove(t, p));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_REMOVE, p));
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(remove_unknown_external_hash_is_noop_not_panic)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    EXPECT_STATUS(kvbm_cons_tracker_handle_remove(t, V, 6), KVBM_ENOENT);
    EXPECT_STATUS(kvbm_cons_tracker_handle_remove(t, T, 5), KVBM_ENOENT); /* other source */
    EXPECT_STATUS(kvbm_cons_tracker_handle_kvbm_remove(t, cons_chain_plh(1, 1, NULL)), KVBM_ENOENT);
    EXPECT_EQ(cons_drain(t, &ev), 1);
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.unknown_removes, 3);
    EXPECT_EQ(st.removes, 0);
    EXPECT_EQ(st.live_blocks, 1);
    EXPECT_OK(kvbm_cons_tracker_check(t));
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(clear_all_wipes_state_and_enqueues_clear_event)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 5, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, T, 6, 0, 100, NULL));
    ASSERT_OK(kvbm_cons_tracker_clear_all(t));
    ASSERT_EQ(cons_drain(t, &ev), 3);
    EXPECT_EQ(kvbm_cons_events_get(ev, 2)->kind, KVBM_CONS_CLEAR_ALL);
    EXPECT_FALSE(kvbm_cons_tracker_lookup(t, cons_chain_plh(1, 1, NULL), NULL, NULL));
    EXPECT_FALSE(kvbm_cons_tracker_lookup_external(t, V, 5, NULL));
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.live_blocks, 0);
    EXPECT_EQ(st.mappings, 0);
    EXPECT_EQ(st.clears, 1);
    /* a remove after the clear is unknown */
    EXPECT_STATUS(kvbm_cons_tracker_handle_remove(t, V, 5), KVBM_ENOENT);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(cross_source_parent_resolution_uses_same_positional_hash)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 1, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, V, 2, 1, 5, NULL));
    ASSERT_OK(cons_store4(t, T, 1001, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, T, 1002, 1001, 5, NULL));
    kvbm_plh pv, pt;
    ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, V, 2, &pv));
    ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, T, 1002, &pt));
    EXPECT_TRUE(kvbm_plh_eq(pv, pt));
    EXPECT_EQ(kvbm_plh_position(pv), 1);
    EXPECT_EQ(cons_drain(t, &ev), 2);
    /* a parent hash is resolved per source: trtllm's "1" is not vllm's block 1 */
    ASSERT_OK(cons_store4(t, T, 1003, 1, 9, NULL));
    kvbm_plh p3;
    ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, T, 1003, &p3));
    EXPECT_EQ(kvbm_plh_position(p3), 0);
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.unknown_parent, 1);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(chain_matches_kv_hashing_reference_chain)
{
    static const kvbm_plh want[3] = { /* spec §1.10.1, schema B */
        {UINT64_C(0x0000000000000000), UINT64_C(0xcb38e4d7fb2dca5c)},
        {UINT64_C(0x0078e4d7fb2dca5c), UINT64_C(0x44a2b2379d6d3c3d)},
        {UINT64_C(0x00a2b2379d6d3c3d), UINT64_C(0xaea1e67a6c80cf84)},
    };
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 11, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, V, 12, 11, 5, NULL));
    ASSERT_OK(cons_store4(t, V, 13, 12, 9, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 3);
    for (size_t i = 0; i < 3; i++) {
        const kvbm_cons_event *e = kvbm_cons_events_get(ev, i);
        EXPECT_EQ_U64(e->plh.hi, want[i].hi);
        EXPECT_EQ_U64(e->plh.lo, want[i].lo);
        EXPECT_TRUE(kvbm_plh_eq(e->plh, cons_chain_plh(1, i + 1, NULL))); /* kvbm/tokens.h */
    }
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(lora_isolation_produces_distinct_chains)
{
    static const char *loras[3] = {NULL, "adapter-a", "adapter-b"};
    kvbm_cons_tracker *t = mk();
    kvbm_plh got[3][2];
    for (int l = 0; l < 3; l++) {
        ASSERT_OK(cons_store4(t, V, 100 * (uint64_t)l + 1, 0, 1, loras[l]));
        ASSERT_OK(cons_store4(t, V, 100 * (uint64_t)l + 2, 100 * (uint64_t)l + 1, 5, loras[l]));
        ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, V, 100 * (uint64_t)l + 1, &got[l][0]));
        ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, V, 100 * (uint64_t)l + 2, &got[l][1]));
        /* each chain is kv-hashing's chain at salt kvbm_router_seed(lora) */
        EXPECT_TRUE(kvbm_plh_eq(got[l][0], cons_chain_plh(1, 1, loras[l])));
        EXPECT_TRUE(kvbm_plh_eq(got[l][1], cons_chain_plh(1, 2, loras[l])));
    }
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            for (int pos = 0; pos < 2; pos++) EXPECT_FALSE(kvbm_plh_eq(got[a][pos], got[b][pos]));
    /* the LoRA root hash is the router tokens_hash with that LoRA (spec §4.1.4 vector) */
    kvbm_plh r;
    uint32_t tok[4] = {10, 20, 30, 40};
    ASSERT_OK(kvbm_cons_block_plh(tok, 4, 4, "adapter-x", NULL, &r));
    EXPECT_EQ_U64(r.lo, UINT64_C(6685748347521229854));
    kvbm_cons_events *ev = NULL;
    EXPECT_EQ(cons_drain(t, &ev), 6);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(same_tokens_different_position_produce_distinct_blocks)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 1, 0, 1, NULL));  /* [1..4] at 0 */
    ASSERT_OK(cons_store4(t, V, 2, 1, 1, NULL));  /* [1..4] again, at 1 */
    ASSERT_OK(cons_store4(t, V, 3, 2, 1, NULL));  /* and at 2 */
    ASSERT_EQ(cons_drain(t, &ev), 3);
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ(kvbm_plh_position(kvbm_cons_events_get(ev, i)->plh), i);
        for (size_t j = 0; j < i; j++)
            EXPECT_FALSE(kvbm_plh_eq(kvbm_cons_events_get(ev, i)->plh, kvbm_cons_events_get(ev, j)->plh));
    }
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(external_to_seq_cleaned_after_full_remove)
{
    kvbm_cons_tracker *t = mk();
    ASSERT_OK(cons_store4(t, V, 1, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, V, 2, 1, 5, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 1));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 2));
    EXPECT_FALSE(kvbm_cons_tracker_lookup_external(t, V, 1, NULL));
    EXPECT_FALSE(kvbm_cons_tracker_lookup_external(t, V, 2, NULL));
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.mappings, 0);
    EXPECT_EQ(st.live_blocks, 0);
    EXPECT_OK(kvbm_cons_tracker_check(t));
    /* a child stored now finds no parent: hashed as a root */
    ASSERT_OK(cons_store4(t, V, 3, 2, 9, NULL));
    kvbm_plh p;
    ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, V, 3, &p));
    EXPECT_EQ(kvbm_plh_position(p), 0);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(drain_events_returns_fifo_and_empties_queue)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 1, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, V, 2, 0, 100, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 1));
    ASSERT_OK(kvbm_cons_tracker_clear_all(t));
    ASSERT_OK(cons_store4(t, V, 3, 0, 200, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 5);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_STORE, cons_chain_plh(1, 1, NULL)));
    EXPECT_TRUE(cons_is(ev, 1, KVBM_CONS_STORE, cons_chain_plh(100, 1, NULL)));
    EXPECT_TRUE(cons_is(ev, 2, KVBM_CONS_REMOVE, cons_chain_plh(1, 1, NULL)));
    EXPECT_TRUE(cons_is(ev, 3, KVBM_CONS_CLEAR_ALL, (kvbm_plh){0, 0}));
    EXPECT_TRUE(cons_is(ev, 4, KVBM_CONS_STORE, cons_chain_plh(200, 1, NULL)));
    EXPECT_EQ(cons_drain(t, &ev), 0);
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.queued, 0);
    /* recycled storage: a new event after the drain is stored intact */
    ASSERT_OK(cons_store4(t, V, 4, 0, 300, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_EQ(kvbm_cons_events_get(ev, 0)->tokens[3], 303);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(lora_and_tokens_round_trip_on_store_event)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    char lora[16] = "adapter-x";
    ASSERT_OK(cons_store4(t, T, 1, 0, 10, lora));
    memset(lora, 0, sizeof lora); /* the tracker copied it */
    ASSERT_EQ(cons_drain(t, &ev), 1);
    const kvbm_cons_event *e = kvbm_cons_events_get(ev, 0);
    ASSERT_TRUE(e->lora_name != NULL);
    EXPECT_TRUE(strcmp(e->lora_name, "adapter-x") == 0);
    ASSERT_EQ(e->n_tokens, 4);
    for (uint32_t i = 0; i < 4; i++) EXPECT_EQ(e->tokens[i], 10 + i);
    EXPECT_EQ(e->block_size, 4);
    EXPECT_EQ(e->source, T);
    /* no LoRA and "" both mean none */
    ASSERT_OK(cons_store4(t, T, 2, 0, 20, ""));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_TRUE(kvbm_cons_events_get(ev, 0)->lora_name == NULL);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

/* ---- beyond the spec list: error paths and remapping ------------------------------- */

KVBM_TEST(short_block_records_nothing)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    uint32_t tok[3] = {1, 2, 3};
    EXPECT_STATUS(kvbm_cons_tracker_handle_store(t, V, 1, NULL, tok, 3, 4, NULL), KVBM_EINSUFFICIENT);
    EXPECT_STATUS(kvbm_cons_tracker_handle_store(t, V, 1, NULL, tok, 3, 0, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_cons_tracker_handle_store(t, K, 1, NULL, tok, 3, 1, NULL), KVBM_EINVAL);
    EXPECT_EQ(cons_drain(t, &ev), 0);
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.hash_failures, 2);
    EXPECT_EQ(st.mappings, 0);
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(remapped_engine_hash_releases_the_old_block)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_events *ev = NULL;
    ASSERT_OK(cons_store4(t, V, 1, 0, 1, NULL));
    ASSERT_OK(cons_store4(t, V, 1, 0, 50, NULL)); /* same engine hash, other content */
    ASSERT_EQ(cons_drain(t, &ev), 3);
    EXPECT_TRUE(cons_is(ev, 0, KVBM_CONS_STORE, cons_chain_plh(1, 1, NULL)));
    EXPECT_TRUE(cons_is(ev, 1, KVBM_CONS_REMOVE, cons_chain_plh(1, 1, NULL)));
    EXPECT_TRUE(cons_is(ev, 2, KVBM_CONS_STORE, cons_chain_plh(50, 1, NULL)));
    /* two engine hashes on one PLH: the block stays until both are removed */
    ASSERT_OK(cons_store4(t, V, 2, 0, 50, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 1));
    EXPECT_TRUE(kvbm_cons_tracker_lookup(t, cons_chain_plh(50, 1, NULL), NULL, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 2));
    EXPECT_FALSE(kvbm_cons_tracker_lookup(t, cons_chain_plh(50, 1, NULL), NULL, NULL));
    ASSERT_EQ(cons_drain(t, &ev), 1);
    EXPECT_EQ(kvbm_cons_events_get(ev, 0)->kind, KVBM_CONS_REMOVE);
    EXPECT_OK(kvbm_cons_tracker_check(t));
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}
