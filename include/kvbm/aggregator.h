/* kvbm/aggregator.h - the Prometheus metrics aggregator and its text exposition (spec 10
 * §6.3).
 *
 * An aggregator holds any number of metrics SOURCES and an ordered list of EXTERNAL LABELS.
 * A scrape (kvbm_aggregator_render*) asks every source for its samples, appends the
 * external labels to every sample, merges families of equal name across sources and writes
 * Prometheus text format 0.0.4 or OpenMetrics 1.0 text - byte-stable: families sorted by
 * name, the samples of a family by their label values (lexicographically, in label order),
 * samples with equal label values in source order.
 *
 * Sources:
 *  - kvbm_aggregator_add_metrics(): the built-in source for one kvbm_metrics object (one per
 *    manager or tier): the 19 families of spec §6.3 with the label pool="<metrics label>".
 *  - kvbm_aggregator_add_source(): a generic source - a collect callback that emits samples
 *    with kvbm_metrics_emit(). This is how other modules export their families (the event
 *    pipeline, the consolidator, the stats collector: kvbm_stats_add_to_aggregator()).
 *  Sources can be added and removed while other threads scrape. A source is reference
 *  counted: removal unlinks it at once, and its ops->destroy (or the metrics reference of
 *  the built-in source) is dropped when the last scrape using it is done - so removing a
 *  manager's source never leaves a scrape with a dangling pointer.
 *
 * Threads: every function may be called from any thread. Locks: one aggregator mutex
 * (rank KVBM_RANK_METRICS, a leaf) held only to copy the source list and the labels;
 * collect callbacks run without any kvbm lock held. No store lock is taken (metrics
 * objects are read with relaxed atomic loads; a sample set is not a consistent cut).
 */
#ifndef KVBM_AGGREGATOR_H
#define KVBM_AGGREGATOR_H

#include "kvbm/common.h"
#include "kvbm/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kvbm_metric_type {
    KVBM_METRIC_TYPE_COUNTER = 0,
    KVBM_METRIC_TYPE_GAUGE   = 1
} kvbm_metric_type;

/* A metric family descriptor. @name must be a valid Prometheus metric name
 * ([a-zA-Z_:][a-zA-Z0-9_:]*); counter names should end in "_total" (OpenMetrics output
 * strips it for the family name and adds it to the samples). @help is any text (UTF-8;
 * escaped on output). The strings must stay valid while the source is registered. */
typedef struct kvbm_metric_desc {
    const char      *name;
    const char      *help;
    kvbm_metric_type type;
} kvbm_metric_desc;

/** kvbm_metrics_descs() - the 19 descriptors of the built-in source (spec §6.3 table
 * order: 15 counters, then 4 gauges); *@n receives the count. Static storage. */
KVBM_API const kvbm_metric_desc *kvbm_metrics_descs(size_t *n);

/* The handle a collect callback emits samples through (valid only during the callback). */
typedef struct kvbm_metrics_emitter kvbm_metrics_emitter;

/**
 * kvbm_metrics_emit() - add one sample of family @desc with @n_labels labels
 * (@label_names[i] = @label_values[i]; names [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__",
 * not an external label name; values any bytes: `\`, `"` and newline are escaped, invalid
 * UTF-8 becomes U+FFFD) and @value. Strings are copied. Families with equal names from
 * several descriptors or sources are merged (the first descriptor's help and type win).
 * Returns KVBM_OK, KVBM_EINVAL (bad name, label or a family of that name with another type;
 * the sample is dropped, kvbm_last_error() says why), KVBM_ENOMEM (the scrape then fails).
 */
KVBM_API kvbm_status kvbm_metrics_emit(kvbm_metrics_emitter *e, const kvbm_metric_desc *desc,
                                       const char *const *label_names,
                                       const char *const *label_values, size_t n_labels,
                                       double value);

/* A generic source. */
typedef struct kvbm_metrics_source_ops {
    /* Emit this source's samples (any number, any families) with kvbm_metrics_emit().
     * Called once per scrape, possibly from several scraping threads at the same time,
     * without any kvbm lock held; must not call back into this aggregator. Required. */
    void (*collect)(void *ctx, kvbm_metrics_emitter *e);
    /* Free @ctx: called once, after the source was removed (or the aggregator destroyed)
     * and no scrape uses it any more - possibly on a scraping thread. NULL: nothing. */
    void (*destroy)(void *ctx);
} kvbm_metrics_source_ops;

typedef uint64_t kvbm_source_id; /* unique per aggregator, never 0 */

typedef struct kvbm_aggregator kvbm_aggregator;

/** kvbm_aggregator_create() - empty aggregator (no sources, no external labels); *@out
 * holds one reference. KVBM_OK, KVBM_EINVAL (NULL @out), KVBM_ENOMEM. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_aggregator_create(kvbm_aggregator **out);

/** kvbm_aggregator_acquire() - one more reference (the HTTP endpoint holds one); returns @a. */
KVBM_API kvbm_aggregator *kvbm_aggregator_acquire(kvbm_aggregator *a);

/** kvbm_aggregator_release() - drop one reference; the last one removes every source
 * (destroy callbacks run) and frees the aggregator. NULL: no-op. */
KVBM_API void kvbm_aggregator_release(kvbm_aggregator *a);

/**
 * kvbm_aggregator_add_metrics() - register @m as a source (spec register_source: appended,
 * no de-duplication): 19 samples per scrape labelled pool="<kvbm_metrics_label(m)>". The
 * aggregator takes a reference on @m (kvbm_metrics_clone) until the source is removed and no
 * scrape uses it. *@id (may be NULL) receives the source id. KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_aggregator_add_metrics(kvbm_aggregator *a, kvbm_metrics *m,
                                                                kvbm_source_id *id);

/**
 * kvbm_aggregator_add_source() - register a generic source (@ops copied; @ctx owned by the
 * aggregator from a successful return: ops->destroy frees it). KVBM_OK, KVBM_EINVAL (NULL
 * @a, @ops or @ops->collect; @ctx not destroyed), KVBM_ENOMEM (@ctx not destroyed).
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_aggregator_add_source(kvbm_aggregator *a,
                                                               const kvbm_metrics_source_ops *ops,
                                                               void *ctx, kvbm_source_id *id);

/** kvbm_aggregator_remove_source() - unlink source @id: later scrapes do not see it; its
 * resources go when scrapes in flight are done. KVBM_OK, KVBM_EINVAL, KVBM_ENOENT. */
KVBM_API kvbm_status kvbm_aggregator_remove_source(kvbm_aggregator *a, kvbm_source_id id);

/** kvbm_aggregator_source_count() - number of registered sources (0 for NULL). */
KVBM_API size_t kvbm_aggregator_source_count(kvbm_aggregator *a);

/**
 * kvbm_aggregator_set_external_labels() - replace the whole external label list (spec
 * set_external_labels): @n pairs appended in this order to every sample of later scrapes,
 * e.g. instance_id, worker_id. n == 0 clears it. Names must match [a-zA-Z_][a-zA-Z0-9_]*,
 * must not start with "__", must be distinct and must not be "pool" (the built-in source's
 * label); values are any bytes (escaped on output). On error nothing changes:
 * KVBM_EINVAL (with the offending name in kvbm_last_error()), KVBM_ENOMEM.
 */
KVBM_API kvbm_status kvbm_aggregator_set_external_labels(kvbm_aggregator *a,
                                                         const char *const *names,
                                                         const char *const *values, size_t n);

/* Text exposition formats. */
typedef enum kvbm_exposition {
    KVBM_EXPOSITION_PROMETHEUS  = 0, /* text/plain; version=0.0.4 */
    KVBM_EXPOSITION_OPENMETRICS = 1  /* application/openmetrics-text; version=1.0.0, "# EOF" */
} kvbm_exposition;

/** kvbm_exposition_content_type() - the HTTP Content-Type of @fmt (static string). */
KVBM_API const char *kvbm_exposition_content_type(kvbm_exposition fmt);

/** kvbm_exposition_from_accept() - the format a scraper asks for with HTTP Accept header
 * @accept (NULL ok): OpenMetrics iff it names application/openmetrics-text. */
KVBM_API kvbm_exposition kvbm_exposition_from_accept(const char *accept);

/* A growable, NUL-terminated string owned by the caller; reuse it across scrapes to avoid
 * allocations. Start from KVBM_TEXT_INIT, free with kvbm_text_free(). */
typedef struct kvbm_text {
    char  *data; /* NUL-terminated when len > 0 or after a render; NULL before */
    size_t len;  /* bytes before the NUL */
    size_t cap;  /* allocated bytes */
} kvbm_text;
#define KVBM_TEXT_INIT { NULL, 0, 0 }

/** kvbm_text_free() - free @t's memory and reset it to KVBM_TEXT_INIT. NULL ok. */
KVBM_API void kvbm_text_free(kvbm_text *t);

/**
 * kvbm_aggregator_render() - scrape every source and write the exposition into @buf
 * (@cap bytes, NUL-terminated). *@len receives the text length (without the NUL); when
 * the text does not fit, nothing usable is written and KVBM_EOVERFLOW is returned with
 * *@len = the length needed (call again with a buffer of *@len + 1 bytes; sources may
 * change in between). KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM, KVBM_EOVERFLOW.
 */
KVBM_API kvbm_status kvbm_aggregator_render(kvbm_aggregator *a, kvbm_exposition fmt, char *buf,
                                            size_t cap, size_t *len);

/** kvbm_aggregator_render_text() - the same into @t (replacing its content, growing it as
 * needed). KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM (@t keeps its memory, content unspecified). */
KVBM_API kvbm_status kvbm_aggregator_render_text(kvbm_aggregator *a, kvbm_exposition fmt,
                                                 kvbm_text *t);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_AGGREGATOR_H */
