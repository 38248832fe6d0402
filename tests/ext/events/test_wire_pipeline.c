/* tests/ext/events/test_wire_pipeline.c - registry -> events manager -> pipeline with the
 * msgpack encoder -> publisher: the bytes published for the spec's example blocks are the
 * §3.6 vectors, and every message decodes back to what was registered. */
#include <pthread.h>

#include "harness.h"
#include "kvbm/events_wire.h"
#include "kvbm/tokens.h"

typedef struct msgs {
    pthread_mutex_t mu;
    int             n;
    uint8_t         data[16][512];
    size_t          len[16];
    char            subject[16][32];
} msgs;

static kvbm_status pub(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    msgs *m = ctx;
    pthread_mutex_lock(&m->mu);
    if (m->n < 16 && len <= sizeof m->data[0]) {
        memcpy(m->data[m->n], buf, len);
        m->len[m->n] = len;
        snprintf(m->subject[m->n], sizeof m->subject[0], "%s", subject);
        m->n++;
    }
    pthread_mutex_unlock(&m->mu);
    return KVBM_OK;
}

static void tohex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

/* §1.10.1: salt 1337, block size 4, tokens 1..12; positions 0 and 1 */
static void spec_blocks(kvbm_plh out[2])
{
    uint32_t t0[4] = { 1, 2, 3, 4 }, t1[4] = { 5, 6, 7, 8 };
    out[0] = kvbm_plh_root(kvbm_tokens_block_hash(t0, 4, 1337));
    if (kvbm_plh_extend(&out[0], kvbm_tokens_block_hash(t1, 4, 1337), &out[1]) != KVBM_OK) out[1] = out[0];
}

KVBM_TEST(pipeline_publishes_the_spec_vectors_for_the_spec_blocks)
{
    msgs m;
    memset(&m, 0, sizeof m);
    pthread_mutex_init(&m.mu, NULL);
    kvbm_publisher_ops ops = { pub, NULL, NULL };
    kvbm_publisher *p;
    ASSERT_OK(kvbm_publisher_create(&ops, &m, &p));
    kvbm_registry *reg;
    kvbm_events_manager *em;
    kvbm_events_sub *sub;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    ASSERT_OK(kvbm_events_subscribe(em, &sub));
    kvbm_u128 iid = { 0, 12345 };
    kvbm_events_pipeline_config c = KVBM_EVENTS_PIPELINE_CONFIG_INIT;
    c.instance_id = &iid;
    c.event_stream = sub;
    c.publisher = p;
    c.encoder = kvbm_events_wire_encoder();
    c.window_ms = 60000;
    c.subject = "kvbm.test";
    kvbm_events_pipeline *pl;
    ASSERT_OK(kvbm_events_pipeline_start(&c, &pl));

    kvbm_plh b[2];
    spec_blocks(b);
    kvbm_handle *hs[2];
    /* registered in reverse order: the batcher sorts Create ascending */
    ASSERT_OK(kvbm_registry_register(reg, b[1], &hs[1]));
    ASSERT_OK(kvbm_registry_register(reg, b[0], &hs[0]));
    kvbm_handle_release(hs[0]); /* Remove sorted descending */
    kvbm_handle_release(hs[1]);
    kvbm_events_manager_release(em); /* stream ends */
    ASSERT_OK(kvbm_events_pipeline_join(pl));
    ASSERT_EQ(m.n, 3);
    char hex[1100];
    tohex(m.data[0], m.len[0], hex);
    EXPECT_STR_EQ(hex, "9281a643726561746592c4100000000000000000cb38e4d7fb2dca5cc4100078e4d7fb2dca5c44a2b2379d6d3c3dc41000000000000000000000000000003039");
    tohex(m.data[1], m.len[1], hex);
    EXPECT_STR_EQ(hex, "9281a652656d6f766592c4100078e4d7fb2dca5c44a2b2379d6d3c3dc4100000000000000000cb38e4d7fb2dca5cc41000000000000000000000000000003039");
    tohex(m.data[2], m.len[2], hex);
    EXPECT_STR_EQ(hex, "92a853687574646f776ec41000000000000000000000000000003039");
    EXPECT_STR_EQ(m.subject[0], "kvbm.test");
    kvbm_events_pipeline_stats s;
    ASSERT_OK(kvbm_events_pipeline_get_stats(pl, &s));
    EXPECT_EQ(s.bytes, m.len[0] + m.len[1] + m.len[2]);
    kvbm_publisher_stats ps;
    ASSERT_OK(kvbm_publisher_get_stats(p, &ps));
    EXPECT_EQ(ps.bytes, s.bytes);
    EXPECT_EQ(ps.flushes, 1);
    kvbm_events_pipeline_destroy(pl);
    kvbm_publisher_release(p);
    kvbm_registry_release(reg);
    pthread_mutex_destroy(&m.mu);
}
