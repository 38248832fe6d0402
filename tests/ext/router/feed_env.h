/* tests/ext/router/feed_env.h - a manager feeding a router (kvbm_router_feed), the
 * scenario the feed tests drive and the checks of what came out.
 *
 * Scenario (feed_scenario): 8 blocks of the token sequence 0..31 (block size 4, salt 42)
 * completed from token blocks and registered; released (cached: no event); the inactive
 * pool reset (8 Removes); blocks 0..3 registered again (4 Creates); 2 blocks staged
 * without tokens (plain PLHs, no tokens_hash) and registered; stream closed.
 * Every message the feed publishes is recorded (tee publisher, optionally forwarding to a
 * transport) and decoded again by feed_check, which checks it against the scenario
 * independently of how the pipeline split it into batches. */
#ifndef KVBM_TEST_FEED_ENV_H
#define KVBM_TEST_FEED_ENV_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kvbm/events.h"
#include "kvbm/router_events.h"
#include "kvbm/tokens.h"

#define FEED_MAX_MSGS 64
#define FEED_BLOCKS   8

/* ---- tee publisher: records every message, forwards it to @next (may be NULL) ---------- */
typedef struct tee {
    pthread_mutex_t mu;
    kvbm_publisher *next;
    uint8_t        *msg[FEED_MAX_MSGS];
    size_t          len[FEED_MAX_MSGS];
    size_t          n;
    size_t          overflow;
} tee;

static kvbm_status tee_publish(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    tee *t = ctx;
    pthread_mutex_lock(&t->mu);
    if (t->n < FEED_MAX_MSGS) {
        t->msg[t->n] = malloc(len);
        memcpy(t->msg[t->n], buf, len);
        t->len[t->n++] = len;
    } else {
        t->overflow++;
    }
    pthread_mutex_unlock(&t->mu);
    return t->next != NULL ? kvbm_publisher_publish(t->next, subject, buf, len) : KVBM_OK;
}

static kvbm_status tee_flush(void *ctx, int timeout_ms)
{
    tee *t = ctx;
    return t->next != NULL ? kvbm_publisher_flush(t->next, timeout_ms) : KVBM_OK;
}

static void tee_free(tee *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->msg[i]);
    pthread_mutex_destroy(&t->mu);
}

/* ---- the scenario ----------------------------------------------------------------------- */
typedef struct feed_run {
    tee              t;
    kvbm_plh         plh[FEED_BLOCKS];     /* the token blocks' PLHs */
    uint64_t         th[FEED_BLOCKS];      /* kvbm_router_tokens_hashes of their tokens */
    kvbm_plh         plain[2];             /* blocks staged without tokens */
    kvbm_router_feed_stats stats;
} feed_run;

/* A manager of @n blocks of 4 tokens on @reg, tier_key @tier, with the router tokens_hash
 * option @on (LoRA @lora); NULL on failure. */
static kvbm_manager *feed_manager(kvbm_registry *reg, uint64_t n, kvbm_tier tier, bool on, const char *lora)
{
    kvbm_manager_config mc = KVBM_MANAGER_CONFIG_INIT;
    mc.registry = reg;
    mc.block_count = n;
    mc.block_size = 4;
    mc.tier_key = tier;
    mc.router_tokens_hash = on;
    mc.router_lora_name = lora;
    kvbm_manager *m = NULL;
    return kvbm_manager_create(&mc, &m) == KVBM_OK ? m : NULL;
}

/* Allocate, complete (from @tbs) or stage (@plain) and register @n blocks into out[]. */
static bool feed_register(kvbm_manager *m, kvbm_token_block **tbs, const kvbm_plh *plain, size_t n,
                          kvbm_block **out)
{
    kvbm_mutable *mu[FEED_BLOCKS];
    kvbm_complete *c[FEED_BLOCKS];
    if (kvbm_manager_allocate(m, n, mu, NULL, NULL) != KVBM_OK) return false;
    for (size_t i = 0; i < n; i++) {
        kvbm_status st = tbs != NULL ? kvbm_mutable_complete(mu[i], tbs[i], &c[i], NULL, NULL)
                                     : kvbm_mutable_stage(mu[i], plain[i], 4, &c[i], NULL, NULL);
        if (st != KVBM_OK) return false;
    }
    return kvbm_manager_register_blocks(m, c, n, out) == KVBM_OK;
}

/* Wait (bounded: 20 s) until the feed has published @n stored blocks: a Create is
 * converted when its batch is flushed, and a registration already gone by then is left out
 * (stale), so the scenario keeps the blocks until their stored events are out. */
static bool feed_wait_stored(kvbm_router_feed *f, uint64_t n)
{
    kvbm_router_feed_stats s;
    for (int i = 0; i < 20000; i++) {
        if (kvbm_router_feed_get_stats(f, &s) != KVBM_OK) return false;
        if (s.stored_blocks >= n) return true;
        usleep(1000);
    }
    return false;
}

/* Run the scenario on a manager of tier @tier (lora @lora) with the feed publishing to a
 * tee forwarding to @transport (NULL: record only). */
static bool feed_scenario(feed_run *r, kvbm_layout tier, const char *lora, kvbm_publisher *transport,
                          uint64_t worker_id, uint32_t dp_rank)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->t.mu, NULL);
    r->t.next = transport;
    uint32_t tokens[FEED_BLOCKS * 4];
    for (uint32_t i = 0; i < FEED_BLOCKS * 4; i++) tokens[i] = i;
    size_t nh = 0;
    if (kvbm_router_tokens_hashes(tokens, FEED_BLOCKS * 4, 4, lora, false, NULL, 0, r->th,
                                  FEED_BLOCKS, &nh) != KVBM_OK || nh != FEED_BLOCKS)
        return false;
    kvbm_token_block *tbs[FEED_BLOCKS];
    for (size_t i = 0; i < FEED_BLOCKS; i++) {
        if (kvbm_token_block_create(tokens + 4 * i, 4, 42, i ? tbs[i - 1] : NULL, &tbs[i]) != KVBM_OK) return false;
        r->plh[i] = kvbm_token_block_plh(tbs[i]);
    }
    r->plain[0] = kvbm_plh_root(0xabcdef);
    if (kvbm_plh_extend(&r->plain[0], 0x123456, &r->plain[1]) != KVBM_OK) return false;

    kvbm_registry *reg = NULL;
    kvbm_manager *m = NULL;
    kvbm_events_manager *em = NULL;
    kvbm_publisher *pub = NULL;
    kvbm_router_feed *f = NULL;
    kvbm_publisher_ops ops = { tee_publish, tee_flush, NULL };
    bool ok = kvbm_registry_create(NULL, &reg) == KVBM_OK && (m = feed_manager(reg, 16, tier, true, lora)) != NULL &&
              kvbm_events_manager_create(NULL, &em) == KVBM_OK &&
              kvbm_events_manager_attach(em, reg) == KVBM_OK && kvbm_publisher_create(&ops, &r->t, &pub) == KVBM_OK;
    if (ok) {
        kvbm_router_feed_config fc = KVBM_ROUTER_FEED_CONFIG_INIT;
        fc.events = em;
        fc.manager = m;
        fc.publisher = pub;
        fc.worker_id = worker_id;
        fc.dp_rank = dp_rank;
        ok = kvbm_router_feed_start(&fc, &f) == KVBM_OK;
    }
    kvbm_block *b[FEED_BLOCKS];
    if (ok) ok = feed_register(m, tbs, NULL, FEED_BLOCKS, b);        /* 8 Creates */
    if (ok) ok = feed_wait_stored(f, FEED_BLOCKS);
    if (ok) ok = kvbm_block_release_many(b, FEED_BLOCKS) == KVBM_OK;  /* cached: no event */
    if (ok) ok = kvbm_manager_reset_inactive_pool(m, NULL, NULL) == KVBM_OK; /* 8 Removes */
    if (ok) ok = feed_register(m, tbs, NULL, 4, b);                   /* 4 Creates again */
    if (ok) ok = feed_register(m, NULL, r->plain, 2, b + 4);          /* 2 Creates, no tokens */
    if (ok) ok = feed_wait_stored(f, FEED_BLOCKS + 6);
    if (ok) ok = kvbm_block_release_many(b, 6) == KVBM_OK;
    kvbm_events_manager_close(em);
    if (f != NULL) {
        ok = ok && kvbm_router_feed_join(f) == KVBM_OK && kvbm_router_feed_get_stats(f, &r->stats) == KVBM_OK;
        kvbm_router_feed_destroy(f);
    }
    kvbm_publisher_release(pub);
    kvbm_events_manager_release(em);
    kvbm_manager_destroy(m);
    kvbm_registry_release(reg);
    for (size_t i = 0; i < FEED_BLOCKS; i++) kvbm_token_block_destroy(tbs[i]);
    return ok;
}

/* ---- checks ------------------------------------------------------------------------------- */
typedef struct flat_block {
    uint64_t hash, tokens_hash;
    bool     first;           /* first block of its stored event */
    bool     has_parent;
    uint64_t parent;          /* the event's parent_hash (first blocks) */
} flat_block;

/* Decode every recorded message and check it against the scenario. */
static void feed_check(const feed_run *r, kvbm_router_tier tier, uint64_t worker_id, uint32_t dp_rank)
{
    flat_block stored[32];
    uint64_t removed[32];
    size_t ns = 0, nr = 0, run = 0; /* run: 1 stored-1, 2 removed, 3 stored-2 */
    kvbm_router_stored_block blocks[32];
    uint64_t u64[64];
    kvbm_router_decode_space sp = { blocks, 32, NULL, 0, u64, 64 };
    EXPECT_EQ(r->t.overflow, 0);
    for (size_t i = 0; i < r->t.n; i++) {
        kvbm_router_event ev;
        ASSERT_OK(kvbm_router_event_decode(r->t.msg[i], r->t.len[i], &ev, &sp));
        EXPECT_EQ(ev.worker_id, worker_id);
        EXPECT_EQ(ev.dp_rank, dp_rank);
        EXPECT_EQ(ev.storage_tier, tier);
        EXPECT_EQ(ev.event_id, i); /* from 0, no gap */
        if (ev.kind == KVBM_ROUTER_STORED) {
            if (run == 0 || run == 2) run++;
            EXPECT_FALSE(ev.has_start_position);
            for (size_t k = 0; k < ev.n_blocks && ns < 32; k++, ns++) {
                stored[ns] = (flat_block){ ev.blocks[k].block_hash, ev.blocks[k].tokens_hash, k == 0,
                                           ev.has_parent_hash, ev.parent_hash };
                EXPECT_FALSE(ev.blocks[k].has_mm_extra_info);
            }
        } else {
            ASSERT_EQ(ev.kind, KVBM_ROUTER_REMOVED);
            EXPECT_EQ(run, 1); /* the Removes come after the first stores, before the second */
            run = 2;
            for (size_t k = 0; k < ev.n_block_hashes && nr < 32; k++) removed[nr++] = ev.block_hashes[k];
        }
    }
    EXPECT_EQ(run, 3);
    /* stored: blocks 0..7, then 0..3, then the two plain blocks, in that order */
    kvbm_plh want[FEED_BLOCKS + 4 + 2];
    uint64_t want_th[FEED_BLOCKS + 4 + 2];
    size_t nw = 0;
    for (size_t i = 0; i < FEED_BLOCKS; i++, nw++) { want[nw] = r->plh[i]; want_th[nw] = r->th[i]; }
    for (size_t i = 0; i < 4; i++, nw++) { want[nw] = r->plh[i]; want_th[nw] = r->th[i]; }
    for (size_t i = 0; i < 2; i++, nw++) {
        want[nw] = r->plain[i];
        want_th[nw] = kvbm_plh_router_block_hash(r->plain[i]); /* no tokens: the block hash */
    }
    ASSERT_EQ(ns, nw);
    for (size_t i = 0; i < nw; i++) {
        EXPECT_EQ(stored[i].hash, kvbm_plh_router_block_hash(want[i]));
        EXPECT_EQ(stored[i].tokens_hash, want_th[i]);
        if (stored[i].first) { /* §4.3.3: the parent of the event's first block */
            uint64_t p = 0;
            bool hp = kvbm_plh_router_parent_hash(want[i], &p);
            EXPECT_EQ(stored[i].has_parent, hp);
            if (hp) EXPECT_EQ(stored[i].parent, p);
        }
    }
    /* removed: the 8 token blocks, descending positions */
    ASSERT_EQ(nr, FEED_BLOCKS);
    for (size_t i = 0; i < FEED_BLOCKS; i++)
        EXPECT_EQ(removed[i], kvbm_plh_router_block_hash(r->plh[FEED_BLOCKS - 1 - i]));
    EXPECT_EQ(r->stats.events, r->t.n);
    EXPECT_EQ(r->stats.stored_blocks, nw);
    EXPECT_EQ(r->stats.removed_hashes, FEED_BLOCKS);
    EXPECT_EQ(r->stats.no_tokens_hash, 2);
    EXPECT_EQ(r->stats.stale, 0);
    EXPECT_EQ(r->stats.errors, 0);
}

#endif
