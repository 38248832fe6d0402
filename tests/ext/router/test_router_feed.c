/* tests/ext/router/test_router_feed.c - a manager feeding a router directly
 * (kvbm_router_feed, manager option router_tokens_hash): registrations and removals become
 * stored / removed RouterEvents with the §4.3.3 projections and the blocks' tokens_hash
 * (= kvbm_router_tokens_hashes of their tokens), tiers from the manager's layout, event_id
 * from 0 without gaps, re-registration after removal stored again. */
#include "feed_env.h"

KVBM_TEST(feed_register_drop_reregister_on_each_tier)
{
    static const kvbm_layout g[4] = { KVBM_G1, KVBM_G2, KVBM_G3, KVBM_G4 };
    for (int i = 0; i < 4; i++) {
        feed_run r;
        ASSERT_TRUE(feed_scenario(&r, g[i], NULL, NULL, 7 + (uint64_t)i, (uint32_t)i));
        feed_check(&r, (kvbm_router_tier)i, 7 + (uint64_t)i, (uint32_t)i);
        tee_free(&r.t);
    }
}

KVBM_TEST(feed_tokens_hash_uses_the_lora_seed)
{
    feed_run r;
    ASSERT_TRUE(feed_scenario(&r, KVBM_G1, "adapter-x", NULL, 1, 0));
    feed_check(&r, KVBM_ROUTER_TIER_DEVICE, 1, 0); /* r.th computed with the same LoRA */
    uint64_t base[FEED_BLOCKS];
    uint32_t tokens[FEED_BLOCKS * 4];
    for (uint32_t i = 0; i < FEED_BLOCKS * 4; i++) tokens[i] = i;
    size_t n = 0;
    ASSERT_OK(kvbm_router_tokens_hashes(tokens, FEED_BLOCKS * 4, 4, NULL, false, NULL, 0, base, FEED_BLOCKS, &n));
    for (size_t i = 0; i < FEED_BLOCKS; i++) EXPECT_NE(base[i], r.th[i]);
    tee_free(&r.t);
}

KVBM_TEST(manager_without_the_option_keeps_no_tokens_hash)
{
    kvbm_registry *reg;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    kvbm_manager *m = feed_manager(reg, 4, KVBM_G1, false, NULL);
    ASSERT_TRUE(m != NULL);
    uint32_t tokens[4] = { 1, 2, 3, 4 };
    kvbm_token_block *tb;
    ASSERT_OK(kvbm_token_block_create(tokens, 4, 1337, NULL, &tb));
    kvbm_block *b;
    ASSERT_TRUE(feed_register(m, &tb, NULL, 1, &b));
    kvbm_handle *h;
    ASSERT_OK(kvbm_block_registration_handle(b, &h));
    uint64_t th = 0;
    EXPECT_FALSE(kvbm_handle_router_tokens_hash(h, &th));
    kvbm_handle_release(h);
    kvbm_block_release(b);
    kvbm_manager_destroy(m);
    /* with the option: the handle carries the hash, also seen through a second manager */
    m = feed_manager(reg, 4, KVBM_G1, true, NULL);
    ASSERT_TRUE(m != NULL);
    ASSERT_TRUE(feed_register(m, &tb, NULL, 1, &b));
    ASSERT_OK(kvbm_block_registration_handle(b, &h));
    EXPECT_TRUE(kvbm_handle_router_tokens_hash(h, &th));
    uint64_t want = 0;
    size_t n = 0;
    ASSERT_OK(kvbm_router_tokens_hashes(tokens, 4, 4, NULL, false, NULL, 0, &want, 1, &n));
    EXPECT_EQ(th, want);
    EXPECT_FALSE(kvbm_handle_router_tokens_hash(NULL, &th));
    EXPECT_FALSE(kvbm_handle_router_tokens_hash(h, NULL));
    kvbm_handle_release(h);
    kvbm_block_release(b);
    kvbm_manager_destroy(m);
    kvbm_token_block_destroy(tb);
    kvbm_registry_release(reg);
}

KVBM_TEST(feed_config_errors)
{
    kvbm_router_feed *f = NULL;
    kvbm_router_feed_config fc = KVBM_ROUTER_FEED_CONFIG_INIT;
    EXPECT_STATUS(kvbm_router_feed_start(NULL, &f), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_feed_start(&fc, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_feed_start(&fc, &f), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "events is required");
    kvbm_events_manager *em;
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    fc.events = em;
    EXPECT_STATUS(kvbm_router_feed_start(&fc, &f), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "manager is required");
    kvbm_registry *reg;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    kvbm_manager *m = feed_manager(reg, 4, 9, false, NULL); /* tier_key 9: not a layout */
    ASSERT_TRUE(m != NULL);
    fc.manager = m;
    EXPECT_STATUS(kvbm_router_feed_start(&fc, &f), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "publisher is required");
    kvbm_publisher_ops ops = { tee_publish, NULL, NULL };
    tee t = { .mu = PTHREAD_MUTEX_INITIALIZER };
    kvbm_publisher *pub;
    ASSERT_OK(kvbm_publisher_create(&ops, &t, &pub));
    fc.publisher = pub;
    EXPECT_STATUS(kvbm_router_feed_start(&fc, &f), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "G1..G4");
    EXPECT_TRUE(f == NULL);
    EXPECT_STATUS(kvbm_router_feed_join(NULL), KVBM_EINVAL);
    kvbm_router_feed_destroy(NULL);
    kvbm_publisher_release(pub);
    kvbm_manager_destroy(m);
    kvbm_registry_release(reg);
    kvbm_events_manager_release(em);
    tee_free(&t);
}

/* A registration gone before its Create batch is converted is left out (stale); its Remove
 * is still published (a router ignores removes of hashes it does not hold). With a long
 * window the Create batch is flushed only by the kind switch to Remove, i.e. after the
 * registrations died: deterministic. */
KVBM_TEST(feed_short_lived_registrations_are_stale)
{
    kvbm_registry *reg;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    kvbm_manager *m = feed_manager(reg, 8, KVBM_G1, true, NULL);
    ASSERT_TRUE(m != NULL);
    kvbm_events_manager *em;
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    tee t = { .mu = PTHREAD_MUTEX_INITIALIZER };
    kvbm_publisher_ops ops = { tee_publish, NULL, NULL };
    kvbm_publisher *pub;
    ASSERT_OK(kvbm_publisher_create(&ops, &t, &pub));
    kvbm_router_feed_config fc = KVBM_ROUTER_FEED_CONFIG_INIT;
    fc.events = em;
    fc.manager = m;
    fc.publisher = pub;
    fc.window_ms = 60000;
    kvbm_router_feed *f;
    ASSERT_OK(kvbm_router_feed_start(&fc, &f));
    kvbm_plh h[2] = { kvbm_plh_root(11), kvbm_plh_root(12) };
    kvbm_block *b[2];
    ASSERT_TRUE(feed_register(m, NULL, h, 2, b));
    EXPECT_OK(kvbm_block_release_many(b, 2));
    EXPECT_OK(kvbm_manager_reset_inactive_pool(m, NULL, NULL));
    kvbm_events_manager_close(em);
    EXPECT_OK(kvbm_router_feed_join(f));
    kvbm_router_feed_stats s;
    EXPECT_OK(kvbm_router_feed_get_stats(f, &s));
    EXPECT_EQ(s.stale, 2);
    EXPECT_EQ(s.stored_blocks, 0);
    EXPECT_EQ(s.removed_hashes, 2);
    EXPECT_EQ(s.events, 1);
    ASSERT_EQ(t.n, 1);
    kvbm_router_stored_block blocks[2];
    uint64_t u64[4];
    kvbm_router_decode_space sp = { blocks, 2, NULL, 0, u64, 4 };
    kvbm_router_event ev;
    ASSERT_OK(kvbm_router_event_decode(t.msg[0], t.len[0], &ev, &sp));
    EXPECT_EQ(ev.kind, KVBM_ROUTER_REMOVED);
    EXPECT_EQ(ev.event_id, 0);
    EXPECT_EQ(ev.n_block_hashes, 2);
    kvbm_router_feed_destroy(f);
    kvbm_publisher_release(pub);
    kvbm_events_manager_release(em);
    kvbm_manager_destroy(m);
    kvbm_registry_release(reg);
    tee_free(&t);
}
