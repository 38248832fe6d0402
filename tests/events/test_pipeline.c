/* tests/events/test_pipeline.c - the publishing pipeline (spec 20 §5.2 publisher.rs and
 * tests.rs) with a raw test encoder and a recording publisher: batching through the real
 * worker, Shutdown + flush at stream end, abort, builder errors, error counting. */
#include <pthread.h>

#include "harness.h"
#include "kvbm/events_pipeline.h"
#include "support/batch_recorder.h"
#include "support/events_helpers.h"
#include "support/log_capture.h"

typedef struct fx {
    kvbm_registry        *reg;
    kvbm_events_manager  *em;
    kvbm_publisher       *pub;
    kvbm_events_pipeline *pl;
    recorder              rec;
} fx;

static const kvbm_u128 IID = { 0, 12345 };

static bool fx_start(fx *f, uint32_t window_ms, uint32_t max_batch)
{
    recorder_init(&f->rec);
    if (kvbm_registry_create(NULL, &f->reg) != KVBM_OK) return false;
    if (kvbm_events_manager_create(NULL, &f->em) != KVBM_OK) return false;
    if (kvbm_events_manager_attach(f->em, f->reg) != KVBM_OK) return false;
    f->pub = recorder_publisher(&f->rec);
    kvbm_events_sub *sub;
    if (f->pub == NULL || kvbm_events_subscribe(f->em, &sub) != KVBM_OK) return false;
    kvbm_events_pipeline_config c = KVBM_EVENTS_PIPELINE_CONFIG_INIT;
    c.instance_id = &IID;
    c.event_stream = sub;
    c.publisher = f->pub;
    c.encoder = test_raw_encoder;
    c.window_ms = window_ms;
    c.max_batch_size = max_batch;
    return kvbm_events_pipeline_start(&c, &f->pl) == KVBM_OK;
}

static void fx_stop(fx *f)
{
    kvbm_events_pipeline_destroy(f->pl);
    kvbm_publisher_release(f->pub);
    kvbm_events_manager_release(f->em);
    kvbm_registry_release(f->reg);
    recorder_fini(&f->rec);
}

/* register blocks at positions 0..n-1 in one call (one shard lock each, in order) */
static bool reg_n(fx *f, kvbm_handle **hs, size_t n)
{
    kvbm_plh hashes[16];
    for (size_t i = 0; i < n; i++) hashes[i] = test_plh_at(i);
    return kvbm_registry_register_many(f->reg, hashes, n, hs) == KVBM_OK;
}

/* tests.rs test_full_event_pipeline */
KVBM_TEST(full_event_pipeline_create_batch_then_remove_batch)
{
    fx f;
    ASSERT_TRUE(fx_start(&f, 60000, 1024)); /* the type switch and the end flush, not the window */
    kvbm_handle *hs[5];
    ASSERT_TRUE(reg_n(&f, hs, 5));
    for (int i = 0; i < 5; i++) kvbm_handle_release(hs[i]);
    kvbm_events_manager_release(f.em); /* stream ends (no release handle left) */
    f.em = NULL;
    ASSERT_OK(kvbm_events_pipeline_join(f.pl));
    EXPECT_TRUE(kvbm_events_pipeline_is_finished(f.pl));
    ASSERT_EQ(f.rec.nb, 3);
    EXPECT_EQ(f.rec.b[0].kind, KVBM_EVENT_CREATE);
    ASSERT_EQ(f.rec.b[0].n, 5);
    for (int i = 0; i < 5; i++) EXPECT_EQ(kvbm_plh_position(f.rec.b[0].hashes[i]), (uint64_t)i);
    EXPECT_EQ(f.rec.b[1].kind, KVBM_EVENT_REMOVE);
    ASSERT_EQ(f.rec.b[1].n, 5);
    for (int i = 0; i < 5; i++) EXPECT_EQ(kvbm_plh_position(f.rec.b[1].hashes[i]), (uint64_t)(4 - i));
    EXPECT_EQ(f.rec.b[2].kind, KVBM_EVENT_SHUTDOWN);
    EXPECT_EQ(f.rec.b[2].n, 0);
    EXPECT_EQ_U64(f.rec.b[2].instance_id.lo, 12345);
    EXPECT_STR_EQ(f.rec.b[0].subject, "kvbm.events");
    EXPECT_EQ(f.rec.flushes, 1);
    kvbm_events_pipeline_stats s;
    ASSERT_OK(kvbm_events_pipeline_get_stats(f.pl, &s));
    EXPECT_EQ(s.events, 10);
    EXPECT_EQ(s.batches, 3);
    EXPECT_EQ(s.events_published, 10);
    EXPECT_GT(s.bytes, 10 * 16);
    EXPECT_EQ(s.publish_errors, 0);
    fx_stop(&f);
}

/* tests.rs test_max_batch_size_flush */
KVBM_TEST(max_batch_size_flush)
{
    fx f;
    ASSERT_TRUE(fx_start(&f, 60000, 3));
    kvbm_handle *hs[5];
    ASSERT_TRUE(reg_n(&f, hs, 5));
    ASSERT_GE(recorder_wait(&f.rec, 1), 1); /* the size flush, long before the window */
    EXPECT_EQ(f.rec.b[0].n, 3);
    kvbm_events_manager_close(f.em);
    ASSERT_OK(kvbm_events_pipeline_join(f.pl));
    ASSERT_EQ(f.rec.nb, 3);
    EXPECT_EQ(f.rec.b[1].n, 2);
    EXPECT_EQ(f.rec.b[2].kind, KVBM_EVENT_SHUTDOWN);
    for (int i = 0; i < 5; i++) kvbm_handle_release(hs[i]);
    fx_stop(&f);
}

/* batcher.rs test_batcher_flushes_on_timeout: a lone event leaves by the window */
KVBM_TEST(lone_event_is_flushed_by_the_window)
{
    fx f;
    ASSERT_TRUE(fx_start(&f, 50, 1024));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, test_plh_at(16), &h));
    ASSERT_GE(recorder_wait(&f.rec, 1), 1); /* no more input, no close: only the timer */
    EXPECT_EQ(f.rec.b[0].kind, KVBM_EVENT_CREATE);
    EXPECT_EQ(f.rec.b[0].n, 1);
    kvbm_handle_release(h);
    ASSERT_GE(recorder_wait(&f.rec, 2), 2);
    EXPECT_EQ(f.rec.b[1].kind, KVBM_EVENT_REMOVE);
    fx_stop(&f); /* destroy aborts: no Shutdown */
}

/* tests.rs test_type_switch_flushes_batch and test_multiple_subscribers */
KVBM_TEST(type_switch_flushes_and_a_second_subscriber_sees_the_same)
{
    fx f;
    ASSERT_TRUE(fx_start(&f, 60000, 1024));
    kvbm_events_sub *other;
    ASSERT_OK(kvbm_events_subscribe(f.em, &other));
    kvbm_handle *hs[3];
    ASSERT_TRUE(reg_n(&f, hs, 3));
    for (int i = 0; i < 3; i++) kvbm_handle_release(hs[i]);
    ASSERT_GE(recorder_wait(&f.rec, 1), 1); /* the Create batch left on the switch */
    EXPECT_EQ(f.rec.b[0].kind, KVBM_EVENT_CREATE);
    EXPECT_EQ(f.rec.b[0].n, 3);
    kvbm_event ev;
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(test_next(other, &ev));
        EXPECT_EQ(ev.kind, KVBM_EVENT_CREATE);
    }
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(test_next(other, &ev));
        EXPECT_EQ(ev.kind, KVBM_EVENT_REMOVE);
    }
    kvbm_events_unsubscribe(other);
    kvbm_events_manager_close(f.em);
    ASSERT_OK(kvbm_events_pipeline_join(f.pl));
    ASSERT_EQ(f.rec.nb, 3);
    EXPECT_EQ(f.rec.b[1].kind, KVBM_EVENT_REMOVE);
    fx_stop(&f);
}

/* publisher.rs test_publisher_abort: abort then join returns; nothing more is sent */
KVBM_TEST(abort_then_join_sends_nothing)
{
    fx f;
    ASSERT_TRUE(fx_start(&f, 60000, 1024));
    kvbm_handle *h;
    ASSERT_OK(kvbm_registry_register(f.reg, test_plh_at(1), &h));
    kvbm_events_pipeline_abort(f.pl);
    ASSERT_OK(kvbm_events_pipeline_join(f.pl));
    ASSERT_OK(kvbm_events_pipeline_join(f.pl)); /* idempotent */
    EXPECT_TRUE(kvbm_events_pipeline_is_finished(f.pl));
    kvbm_handle_release(h);
    kvbm_events_manager_close(f.em);
    EXPECT_EQ(f.rec.nb, 0); /* the pending Create, the Remove, no Shutdown */
    EXPECT_EQ(f.rec.flushes, 0);
    fx_stop(&f);
}

/* publisher.rs test_publisher_publishes_batched_events: 1 batch of 2 + Shutdown */
KVBM_TEST(publisher_publishes_batched_events_then_shutdown)
{
    fx f;
    ASSERT_TRUE(fx_start(&f, 60000, 1024));
    kvbm_handle *hs[2];
    ASSERT_TRUE(reg_n(&f, hs, 2));
    kvbm_events_manager_close(f.em);
    ASSERT_OK(kvbm_events_pipeline_join(f.pl));
    ASSERT_EQ(f.rec.nb, 2);
    EXPECT_EQ(f.rec.b[0].n, 2);
    EXPECT_EQ(f.rec.b[1].kind, KVBM_EVENT_SHUTDOWN);
    EXPECT_EQ_U64(f.rec.b[1].instance_id.lo, 12345);
    for (int i = 0; i < 2; i++) kvbm_handle_release(hs[i]);
    fx_stop(&f);
}

/* publisher.rs test_publisher_builder_validation, with every required field */
KVBM_TEST(pipeline_builder_validation_messages)
{
    recorder rec;
    recorder_init(&rec);
    kvbm_events_manager *em;
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    kvbm_events_sub *sub;
    ASSERT_OK(kvbm_events_subscribe(em, &sub));
    kvbm_publisher *pub = recorder_publisher(&rec);
    kvbm_events_pipeline *pl = NULL;
    kvbm_events_pipeline_config c = KVBM_EVENTS_PIPELINE_CONFIG_INIT;
    c.event_stream = sub;
    c.publisher = pub;
    c.encoder = test_raw_encoder;
    EXPECT_STATUS(kvbm_events_pipeline_start(&c, &pl), KVBM_ECONFIG);
    EXPECT_STR_EQ(kvbm_last_error(), "instance_id is required");
    c.instance_id = &IID;
    c.event_stream = NULL;
    EXPECT_STATUS(kvbm_events_pipeline_start(&c, &pl), KVBM_ECONFIG);
    EXPECT_STR_EQ(kvbm_last_error(), "event_stream is required");
    c.event_stream = sub;
    c.publisher = NULL;
    EXPECT_STATUS(kvbm_events_pipeline_start(&c, &pl), KVBM_ECONFIG);
    EXPECT_STR_EQ(kvbm_last_error(), "publisher is required");
    c.publisher = pub;
    c.encoder.encode = NULL;
    EXPECT_STATUS(kvbm_events_pipeline_start(&c, &pl), KVBM_ECONFIG);
    EXPECT_STR_EQ(kvbm_last_error(), "encoder is required");
    c.encoder = test_raw_encoder;
    c.max_batch_size = (1u << 20) + 1;
    EXPECT_STATUS(kvbm_events_pipeline_start(&c, &pl), KVBM_ECONFIG);
    c.struct_size = 1;
    EXPECT_STATUS(kvbm_events_pipeline_start(&c, &pl), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_events_pipeline_start(NULL, &pl), KVBM_EINVAL);
    EXPECT_TRUE(pl == NULL);
    EXPECT_STATUS(kvbm_events_pipeline_join(NULL), KVBM_EINVAL);
    kvbm_events_pipeline_destroy(NULL);
    kvbm_events_unsubscribe(sub); /* still ours: every start failed */
    kvbm_publisher_release(pub);
    kvbm_events_manager_release(em);
    recorder_fini(&rec);
}

/* publish errors are counted and logged (rate-limited), and the pipeline carries on */
KVBM_TEST(publish_errors_are_counted_and_logged)
{
    log_capture lc;
    log_capture_start(&lc);
    fx f;
    ASSERT_TRUE(fx_start(&f, 60000, 1));
    f.rec.fail_publish = KVBM_EIO;
    kvbm_handle *hs[5];
    ASSERT_TRUE(reg_n(&f, hs, 5)); /* 5 batches of 1, all fail */
    kvbm_events_manager_close(f.em);
    ASSERT_OK(kvbm_events_pipeline_join(f.pl));
    kvbm_events_pipeline_stats s;
    ASSERT_OK(kvbm_events_pipeline_get_stats(f.pl, &s));
    EXPECT_EQ(s.publish_errors, 6); /* + Shutdown */
    EXPECT_EQ(s.batches, 0);
    EXPECT_EQ(log_capture_count(&lc), 3); /* errors 1, 2 and 4 */
    EXPECT_TRUE(strstr(lc.last, "publish of a") != NULL);
    for (int i = 0; i < 5; i++) kvbm_handle_release(hs[i]);
    fx_stop(&f);
    log_capture_stop(&lc);
}

/* an encoder asking for more room gets it (the pipeline's buffer starts at 4 KiB) */
KVBM_TEST(large_batches_grow_the_encode_buffer)
{
    fx f;
    ASSERT_TRUE(fx_start(&f, 60000, 1024));
    enum { N = 600 }; /* 600 * 16 bytes > 4096 */
    static kvbm_handle *hs[N];
    for (int i = 0; i < N; i++) ASSERT_OK(kvbm_registry_register(f.reg, kvbm_plh_root(1000 + (uint64_t)i), &hs[i]));
    kvbm_events_manager_close(f.em);
    ASSERT_OK(kvbm_events_pipeline_join(f.pl));
    ASSERT_EQ(f.rec.nb, 2);
    EXPECT_EQ(f.rec.b[0].n, N);
    kvbm_events_pipeline_stats s;
    ASSERT_OK(kvbm_events_pipeline_get_stats(f.pl, &s));
    EXPECT_EQ(s.encode_errors, 0);
    EXPECT_EQ(s.events_published, N);
    for (int i = 0; i < N; i++) kvbm_handle_release(hs[i]);
    fx_stop(&f);
}

/* A publisher that blocks its first publish until the test opens the gate: the worker
 * stalls, the ring (capacity 16) overflows, the pipeline is told and counts the loss. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    bool            entered, open;
    int             published;
} gate;

static kvbm_status gate_publish(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    gate *g = ctx;
    (void)subject; (void)buf; (void)len;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    g->published++;
    pthread_mutex_unlock(&g->mu);
    return KVBM_OK;
}

KVBM_TEST(pipeline_counts_events_lost_to_lag)
{
    log_capture lc;
    log_capture_start(&lc);
    gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0 };
    kvbm_publisher_ops ops = { gate_publish, NULL, NULL };
    kvbm_publisher *pub;
    ASSERT_OK(kvbm_publisher_create(&ops, &g, &pub));
    kvbm_registry *reg;
    kvbm_events_manager *em;
    kvbm_events_sub *sub;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    kvbm_events_config ec = KVBM_EVENTS_CONFIG_INIT;
    ec.channel_capacity = 16;
    ASSERT_OK(kvbm_events_manager_create(&ec, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    ASSERT_OK(kvbm_events_subscribe(em, &sub));
    kvbm_events_pipeline_config c = KVBM_EVENTS_PIPELINE_CONFIG_INIT;
    c.instance_id = &IID;
    c.event_stream = sub;
    c.publisher = pub;
    c.encoder = test_raw_encoder;
    c.max_batch_size = 1; /* every event is published at once */
    kvbm_events_pipeline *pl;
    ASSERT_OK(kvbm_events_pipeline_start(&c, &pl));
    enum { N = 100 };
    static kvbm_handle *hs[N];
    ASSERT_OK(kvbm_registry_register(reg, kvbm_plh_root(5000), &hs[0]));
    pthread_mutex_lock(&g.mu);
    while (!g.entered) pthread_cond_wait(&g.cv, &g.mu); /* the worker is stuck in publish */
    pthread_mutex_unlock(&g.mu);
    for (int i = 1; i < N; i++) ASSERT_OK(kvbm_registry_register(reg, kvbm_plh_root(5000 + (uint64_t)i), &hs[i]));
    kvbm_events_manager_close(em);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    ASSERT_OK(kvbm_events_pipeline_join(pl));
    kvbm_events_pipeline_stats s;
    ASSERT_OK(kvbm_events_pipeline_get_stats(pl, &s));
    EXPECT_EQ(s.events + s.lost, N);   /* every event either delivered or counted as lost */
    EXPECT_GE(s.lost, N - 1 - 16);     /* 99 sent while stuck, at most 16 kept */
    EXPECT_EQ(s.batches, s.events + 1); /* one batch per event, plus Shutdown */
    kvbm_events_stats es;
    ASSERT_OK(kvbm_events_manager_get_stats(em, &es));
    EXPECT_EQ(es.lost, s.lost);
    EXPECT_GE(log_capture_count(&lc), 1);
    EXPECT_TRUE(strstr(lc.last, "fell behind") != NULL);
    for (int i = 0; i < N; i++) kvbm_handle_release(hs[i]);
    kvbm_events_pipeline_destroy(pl);
    kvbm_publisher_release(pub);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
    log_capture_stop(&lc);
}
