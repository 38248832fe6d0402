/* tests/events/test_events_export.c - kvbm_events_add_to_aggregator: the events manager's and
 * the pipeline's counters in the Prometheus text (exact sample lines), still readable after
 * the pipeline was destroyed, and accepted by `promtool check metrics` (Debian prometheus). */
#include <string.h>

#include "harness.h"
#include "kvbm/events_pipeline.h"
#include "support/batch_recorder.h"
#include "support/events_helpers.h"
#include "support/exposition.h"
#include "support/net.h"

static const kvbm_u128 IID = { 0, 777 };

KVBM_TEST(events_counters_are_exported_with_the_prometheus_metrics)
{
    recorder rec;
    recorder_init(&rec);
    kvbm_registry *reg;
    kvbm_events_manager *em;
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    ASSERT_OK(kvbm_events_manager_create(NULL, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    kvbm_publisher *pub = recorder_publisher(&rec);
    ASSERT_TRUE(pub != NULL);
    kvbm_events_sub *sub;
    ASSERT_OK(kvbm_events_subscribe(em, &sub));
    kvbm_events_pipeline_config c = KVBM_EVENTS_PIPELINE_CONFIG_INIT;
    c.instance_id = &IID;
    c.event_stream = sub;
    c.publisher = pub;
    c.encoder = test_raw_encoder;
    c.window_ms = 60000;
    kvbm_events_pipeline *pl;
    ASSERT_OK(kvbm_events_pipeline_start(&c, &pl));

    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    kvbm_source_id id = 0;
    EXPECT_EQ(kvbm_events_add_to_aggregator(NULL, em, pl, &id), KVBM_EINVAL);
    EXPECT_EQ(kvbm_events_add_to_aggregator(a, NULL, pl, &id), KVBM_EINVAL);
    ASSERT_OK(kvbm_events_add_to_aggregator(a, em, pl, &id));
    EXPECT_TRUE(id != 0);

    kvbm_plh hashes[3];
    kvbm_handle *hs[3];
    for (int i = 0; i < 3; i++) hashes[i] = test_plh_at((uint64_t)i);
    ASSERT_OK(kvbm_registry_register_many(reg, hashes, 3, hs));
    for (int i = 0; i < 3; i++) kvbm_handle_release(hs[i]);
    kvbm_events_manager_close(em); /* Create x3, Remove x3, Shutdown: 3 batches */
    ASSERT_OK(kvbm_events_pipeline_join(pl));
    kvbm_events_pipeline_destroy(pl); /* the source keeps the counters readable */

    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    static const char *const want[] = {
        "kvbm_events_emitted_total{kind=\"create\"} 3",
        "kvbm_events_emitted_total{kind=\"remove\"} 3",
        "kvbm_events_filtered_total 0",
        "kvbm_events_lost_total 0",
        "kvbm_events_subscribers 0",
        "kvbm_events_pipeline_batches_total 3",
        "kvbm_events_pipeline_events_published_total 6",
        "kvbm_events_pipeline_publish_errors_total 0",
        "# TYPE kvbm_events_subscribers gauge",
        "# TYPE kvbm_events_pipeline_bytes_total counter",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!expo_has_line(t.data, want[i])) kvbm_test_fail(__FILE__, __LINE__, "no line '%s' in:\n%s", want[i], t.data);
    EXPECT_TRUE(strstr(t.data, "kvbm_events_pipeline_bytes_total 0\n") == NULL);

    char dir[256];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    EXPECT_EQ(expo_promtool_check(dir, t.data, t.len), 0);
    tmp_dir_remove(dir);

    EXPECT_OK(kvbm_aggregator_remove_source(a, id)); /* drops the manager and pipeline refs */
    kvbm_text_free(&t);
    kvbm_aggregator_release(a);
    kvbm_publisher_release(pub);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
    recorder_fini(&rec);
}
