/* src/metrics/aggregator.c - the metrics aggregator: sources, external labels, scrapes and
 * kvbm_metrics_emit (spec 10 §6.3). The text output is in exposition.c. */
#include <stdio.h>
#include <string.h>

#include "metrics/aggregator_int.h"
#include "metrics/metrics_int.h"

/* ---- sources ------------------------------------------------------------------------ */

typedef struct kvbm__msrc {
    atomic_int              refs; /* the aggregator's list + every scrape using it */
    kvbm_source_id          id;
    kvbm_metrics_source_ops ops;
    void                   *ctx;
} kvbm__msrc;

static void src_release(kvbm__msrc *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    if (s->ops.destroy != NULL) s->ops.destroy(s->ctx);
    kvbm__free(s);
}

struct kvbm_aggregator {
    atomic_int     refs;
    kvbm__mutex     lock; /* KVBM_RANK_METRICS: srcs, next_id, the external labels */
    kvbm__msrc   **srcs;
    size_t         n_srcs, cap_srcs;
    uint64_t       next_id;
    /* external labels, pre-rendered: `,name="escaped value"` each; raw values and names
     * each followed by a NUL (sort key and the clash check of kvbm_metrics_emit) */
    char          *ext;       size_t ext_len;
    char          *ext_key;   size_t ext_key_len;
    char          *ext_names; size_t ext_names_len;
    size_t         n_ext;
    _Atomic(kvbm__scrape *) spare;
};

/* ---- the built-in source: one kvbm_metrics object ---------------------------------- */

#define D_C(name, prom, help) { prom, help, KVBM_METRIC_TYPE_COUNTER },
#define D_G(name, prom, help) { prom, help, KVBM_METRIC_TYPE_GAUGE },
static const kvbm_metric_desc manager_descs[KVBM_METRIC_COUNT] = { KVBM_METRICS_FIELDS(D_C, D_G) };
#undef D_C
#undef D_G

const kvbm_metric_desc *kvbm_metrics_descs(size_t *n)
{
    if (n != NULL) *n = KVBM_METRIC_COUNT;
    return manager_descs;
}

static void metrics_collect(void *ctx, kvbm_metrics_emitter *e)
{
    kvbm_metrics *m = ctx;
    static const char *const names[1] = { "pool" };
    const char *values[1] = { m->label };
    int64_t v[KVBM_METRIC_COUNT];
    kvbm__metrics_read_all(m, v);
    uint32_t set;
    if (kvbm__emit_labels(e->s, manager_descs[0].name, names, values, 1, &set) != KVBM_OK) return;
    for (int i = 0; i < KVBM_METRIC_COUNT; i++) {
        /* counters are u64 (spec: the value converted to double) */
        double d = manager_descs[i].type == KVBM_METRIC_TYPE_COUNTER ? (double)(uint64_t)v[i] : (double)v[i];
        if (kvbm__emit_value(e->s, &manager_descs[i], set, d) == KVBM_ENOMEM) return;
    }
}

static void metrics_destroy(void *ctx) { kvbm_metrics_release(ctx); }

/* ---- object ------------------------------------------------------------------------- */

kvbm_status kvbm_aggregator_create(kvbm_aggregator **out)
{
    if (out == NULL) {
        kvbm__set_error("kvbm_aggregator_create: NULL out");
        return KVBM_EINVAL;
    }
    *out = NULL;
    kvbm_aggregator *a = kvbm__calloc(1, sizeof *a);
    if (a == NULL) {
        kvbm__set_error("kvbm_aggregator_create: out of memory");
        return KVBM_ENOMEM;
    }
    atomic_init(&a->refs, 1);
    kvbm__mutex_init(&a->lock, KVBM_RANK_METRICS);
    a->next_id = 1;
    atomic_init(&a->spare, NULL);
    *out = a;
    return KVBM_OK;
}

kvbm_aggregator *kvbm_aggregator_acquire(kvbm_aggregator *a)
{
    if (a != NULL) atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

static void scrape_free(kvbm__scrape *s)
{
    if (s == NULL) return;
    kvbm__free(s->srcs);
    kvbm__free(s->fams);
    kvbm__free(s->refs);
    kvbm__free(s->samples);
    kvbm__free(s->order);
    kvbm__free(s->sets);
    kvbm__free(s->set_order);
    kvbm__free(s->fam_order);
    kvbm__free(s->arena);
    kvbm__free(s->ext);
    kvbm__free(s->ext_key);
    kvbm__free(s->ext_names);
    kvbm__free(s);
}

void kvbm_aggregator_release(kvbm_aggregator *a)
{
    if (a == NULL) return;
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < a->n_srcs; i++) src_release(a->srcs[i]);
    kvbm__free(a->srcs);
    kvbm__free(a->ext);
    kvbm__free(a->ext_key);
    kvbm__free(a->ext_names);
    scrape_free(atomic_load(&a->spare));
    kvbm__mutex_destroy(&a->lock);
    kvbm__free(a);
}

bool kvbm__grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 8;
    while (n < need) n *= 2;
    void *q = kvbm__realloc(*(void **)p, n * size);
    if (q == NULL) return false;
    *(void **)p = q;
    *cap = n;
    return true;
}

static kvbm_status add_src(kvbm_aggregator *a, const kvbm_metrics_source_ops *ops, void *ctx,
                           kvbm_source_id *id, const char *fn)
{
    kvbm__msrc *s = kvbm__malloc(sizeof *s);
    if (s == NULL) {
        kvbm__set_error("%s: out of memory", fn);
        return KVBM_ENOMEM;
    }
    atomic_init(&s->refs, 1);
    s->ops = *ops;
    s->ctx = ctx;
    kvbm__lock(&a->lock);
    if (!kvbm__grow(&a->srcs, &a->cap_srcs, a->n_srcs + 1, sizeof *a->srcs)) {
        kvbm__unlock(&a->lock);
        kvbm__free(s);
        kvbm__set_error("%s: out of memory", fn);
        return KVBM_ENOMEM;
    }
    s->id = a->next_id++;
    a->srcs[a->n_srcs++] = s;
    kvbm__unlock(&a->lock);
    if (id != NULL) *id = s->id;
    return KVBM_OK;
}

kvbm_status kvbm_aggregator_add_metrics(kvbm_aggregator *a, kvbm_metrics *m, kvbm_source_id *id)
{
    if (a == NULL || m == NULL) {
        kvbm__set_error("kvbm_aggregator_add_metrics: NULL %s", a == NULL ? "aggregator" : "metrics");
        return KVBM_EINVAL;
    }
    static const kvbm_metrics_source_ops ops = { metrics_collect, metrics_destroy };
    kvbm_status st = add_src(a, &ops, kvbm_metrics_clone(m), id, "kvbm_aggregator_add_metrics");
    if (st != KVBM_OK) kvbm_metrics_release(m);
    return st;
}

kvbm_status kvbm_aggregator_add_source(kvbm_aggregator *a, const kvbm_metrics_source_ops *ops,
                                       void *ctx, kvbm_source_id *id)
{
    if (a == NULL || ops == NULL || ops->collect == NULL) {
        kvbm__set_error("kvbm_aggregator_add_source: NULL %s",
                        a == NULL ? "aggregator" : ops == NULL ? "ops" : "ops->collect");
        return KVBM_EINVAL;
    }
    return add_src(a, ops, ctx, id, "kvbm_aggregator_add_source");
}

kvbm_status kvbm_aggregator_remove_source(kvbm_aggregator *a, kvbm_source_id id)
{
    if (a == NULL) {
        kvbm__set_error("kvbm_aggregator_remove_source: NULL aggregator");
        return KVBM_EINVAL;
    }
    kvbm__msrc *found = NULL;
    kvbm__lock(&a->lock);
    for (size_t i = 0; i < a->n_srcs; i++) {
        if (a->srcs[i]->id == id) {
            found = a->srcs[i];
            memmove(&a->srcs[i], &a->srcs[i + 1], (a->n_srcs - i - 1) * sizeof *a->srcs);
            a->n_srcs--;
            break;
        }
    }
    kvbm__unlock(&a->lock);
    if (found == NULL) {
        kvbm__set_error("kvbm_aggregator_remove_source: no source with id %llu", (unsigned long long)id);
        return KVBM_ENOENT;
    }
    src_release(found); /* outside the lock: may run ops->destroy */
    return KVBM_OK;
}

size_t kvbm_aggregator_source_count(kvbm_aggregator *a)
{
    if (a == NULL) return 0;
    kvbm__lock(&a->lock);
    size_t n = a->n_srcs;
    kvbm__unlock(&a->lock);
    return n;
}

/* ---- external labels ---------------------------------------------------------------- */

static bool name_ok(const char *s, bool colon)
{
    if (s == NULL || *s == '\0') return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
        if (!alpha && !(p != s && c >= '0' && c <= '9')) return false;
    }
    return true;
}
bool kvbm__valid_metric_name(const char *s) { return name_ok(s, true); }
bool kvbm__valid_label_name(const char *s) { return name_ok(s, false) && strncmp(s, "__", 2) != 0; }

kvbm_status kvbm_aggregator_set_external_labels(kvbm_aggregator *a, const char *const *names,
                                                const char *const *values, size_t n)
{
    static const char fn[] = "kvbm_aggregator_set_external_labels";
    if (a == NULL || (n > 0 && (names == NULL || values == NULL))) {
        kvbm__set_error("%s: NULL %s", fn, a == NULL ? "aggregator" : "names or values");
        return KVBM_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!kvbm__valid_label_name(names[i])) {
            kvbm__set_error("%s: label name \"%s\" is not a valid Prometheus label name "
                            "([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", fn,
                            names[i] ? names[i] : "(null)");
            return KVBM_EINVAL;
        }
        if (strcmp(names[i], "pool") == 0) {
            kvbm__set_error("%s: label name \"pool\" is reserved (every manager source sets it)", fn);
            return KVBM_EINVAL;
        }
        if (values[i] == NULL) {
            kvbm__set_error("%s: NULL value for label \"%s\"", fn, names[i]);
            return KVBM_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                kvbm__set_error("%s: label name \"%s\" given twice", fn, names[i]);
                return KVBM_EINVAL;
            }
        }
    }
    char *ext = NULL, *key = NULL, *nm = NULL;
    size_t ext_len = 0, ext_cap = 0, key_len = 0, key_cap = 0, nm_len = 0, nm_cap = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        size_t vl = strlen(values[i]);
        ok = kvbm__buf_put(&ext, &ext_len, &ext_cap, ",", 1) &&
             kvbm__buf_put(&ext, &ext_len, &ext_cap, names[i], strlen(names[i])) &&
             kvbm__buf_put(&ext, &ext_len, &ext_cap, "=\"", 2) &&
             kvbm__escape_put(&ext, &ext_len, &ext_cap, values[i], vl, true) &&
             kvbm__buf_put(&ext, &ext_len, &ext_cap, "\"", 1) &&
             kvbm__buf_put(&key, &key_len, &key_cap, values[i], vl + 1) &&
             kvbm__buf_put(&nm, &nm_len, &nm_cap, names[i], strlen(names[i]) + 1);
    }
    if (!ok) {
        kvbm__free(ext);
        kvbm__free(key);
        kvbm__free(nm);
        kvbm__set_error("%s: out of memory", fn);
        return KVBM_ENOMEM;
    }
    kvbm__lock(&a->lock);
    char *old_ext = a->ext, *old_key = a->ext_key, *old_nm = a->ext_names;
    a->ext = ext; a->ext_len = ext_len;
    a->ext_key = key; a->ext_key_len = key_len;
    a->ext_names = nm; a->ext_names_len = nm_len;
    a->n_ext = n;
    kvbm__unlock(&a->lock);
    kvbm__free(old_ext);
    kvbm__free(old_key);
    kvbm__free(old_nm);
    return KVBM_OK;
}

/* ---- emit ----------------------------------------------------------------------------- */

static kvbm_status emit_oom(kvbm__scrape *s)
{
    s->oom = true;
    kvbm__set_error("kvbm_metrics_emit: out of memory");
    return KVBM_ENOMEM;
}

/* The family of @d: the expected next descriptor (sources emit in the same order at every
 * scrape), else a search by pointer, else by name (merging), else a new family. */
static kvbm_status family_of(kvbm__scrape *s, const kvbm_metric_desc *d, uint32_t *fam)
{
    size_t h = s->ref_hint;
    if (h < s->n_refs && s->refs[h].desc == d) {
        s->ref_hint = h + 1;
        *fam = s->refs[h].fam;
        return KVBM_OK;
    }
    for (size_t i = 0; i < s->n_refs; i++) {
        if (s->refs[i].desc == d) {
            s->ref_hint = i + 1;
            *fam = s->refs[i].fam;
            return KVBM_OK;
        }
    }
    if (d->name == NULL || !kvbm__valid_metric_name(d->name)) {
        kvbm__set_error("kvbm_metrics_emit: \"%s\" is not a valid Prometheus metric name",
                        d->name ? d->name : "(null)");
        return KVBM_EINVAL;
    }
    if (d->type != KVBM_METRIC_TYPE_COUNTER && d->type != KVBM_METRIC_TYPE_GAUGE) {
        kvbm__set_error("kvbm_metrics_emit: %s: unknown metric type %d", d->name, (int)d->type);
        return KVBM_EINVAL;
    }
    uint32_t f = UINT32_MAX;
    for (size_t i = 0; i < s->n_fams; i++) {
        if (strcmp(s->fams[i].desc->name, d->name) == 0) {
            if (s->fams[i].desc->type != d->type) {
                kvbm__set_error("kvbm_metrics_emit: %s emitted as a %s and as a %s", d->name,
                                s->fams[i].desc->type == KVBM_METRIC_TYPE_COUNTER ? "counter" : "gauge",
                                d->type == KVBM_METRIC_TYPE_COUNTER ? "counter" : "gauge");
                return KVBM_EINVAL;
            }
            f = (uint32_t)i;
            break;
        }
    }
    if (f == UINT32_MAX) {
        if (!kvbm__grow(&s->fams, &s->cap_fams, s->n_fams + 1, sizeof *s->fams)) return emit_oom(s);
        f = (uint32_t)s->n_fams++;
        s->fams[f] = (kvbm__fam){ d, (uint32_t)strlen(d->name), 0, 0 };
    }
    if (!kvbm__grow(&s->refs, &s->cap_refs, s->n_refs + 1, sizeof *s->refs)) return emit_oom(s);
    s->refs[s->n_refs++] = (kvbm__famref){ d, f };
    s->ref_hint = s->n_refs;
    *fam = f;
    return KVBM_OK;
}

static bool is_external(const kvbm__scrape *s, const char *name)
{
    const char *p = s->ext_names;
    for (size_t i = 0; i < s->n_ext; i++) {
        if (strcmp(p, name) == 0) return true;
        p += strlen(p) + 1;
    }
    return false;
}

kvbm_status kvbm__emit_labels(kvbm__scrape *s, const char *metric, const char *const *names,
                              const char *const *values, size_t n, uint32_t *set)
{
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        if (!kvbm__valid_label_name(nm) || values[i] == NULL || is_external(s, nm)) {
            kvbm__set_error("kvbm_metrics_emit: %s: label \"%s\" is %s", metric, nm ? nm : "(null)",
                            values[i] == NULL ? "without a value"
                            : nm != NULL && kvbm__valid_label_name(nm) ? "also an external label"
                                                                        : "not a valid label name");
            return KVBM_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(nm, names[j]) == 0) {
                kvbm__set_error("kvbm_metrics_emit: %s: label \"%s\" given twice", metric, nm);
                return KVBM_EINVAL;
            }
        }
    }
    if (!kvbm__grow(&s->sets, &s->cap_sets, s->n_sets + 1, sizeof *s->sets)) return emit_oom(s);
    size_t lab_off = s->arena_len;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        ok = (i == 0 || kvbm__buf_put(&s->arena, &s->arena_len, &s->arena_cap, ",", 1)) &&
             kvbm__buf_put(&s->arena, &s->arena_len, &s->arena_cap, names[i], strlen(names[i])) &&
             kvbm__buf_put(&s->arena, &s->arena_len, &s->arena_cap, "=\"", 2) &&
             kvbm__escape_put(&s->arena, &s->arena_len, &s->arena_cap, values[i], strlen(values[i]), true) &&
             kvbm__buf_put(&s->arena, &s->arena_len, &s->arena_cap, "\"", 1);
    }
    size_t key_off = s->arena_len;
    for (size_t i = 0; i < n && ok; i++)
        ok = kvbm__buf_put(&s->arena, &s->arena_len, &s->arena_cap, values[i], strlen(values[i]) + 1);
    if (!ok || s->arena_len > UINT32_MAX) return emit_oom(s);
    s->sets[s->n_sets] = (kvbm__labelset){ (uint32_t)lab_off, (uint32_t)(key_off - lab_off), (uint32_t)key_off,
                                           (uint32_t)(s->arena_len - key_off), 0 };
    *set = (uint32_t)s->n_sets++;
    return KVBM_OK;
}

kvbm_status kvbm__emit_value(kvbm__scrape *s, const kvbm_metric_desc *desc, uint32_t set, double value)
{
    uint32_t fam;
    kvbm_status st = family_of(s, desc, &fam);
    if (st != KVBM_OK) return st;
    if (!kvbm__grow(&s->samples, &s->cap_samples, s->n_samples + 1, sizeof *s->samples)) return emit_oom(s);
    s->samples[s->n_samples++] = (kvbm__sample){ fam, set, value };
    s->fams[fam].count++;
    return KVBM_OK;
}

kvbm_status kvbm_metrics_emit(kvbm_metrics_emitter *e, const kvbm_metric_desc *desc,
                              const char *const *label_names, const char *const *label_values,
                              size_t n_labels, double value)
{
    if (e == NULL || desc == NULL || (n_labels > 0 && (label_names == NULL || label_values == NULL))) {
        kvbm__set_error("kvbm_metrics_emit: NULL %s", e == NULL ? "emitter" : desc == NULL ? "desc" : "labels");
        return KVBM_EINVAL;
    }
    kvbm__scrape *s = e->s;
    if (s->oom) return KVBM_ENOMEM;
    uint32_t set;
    /* the family first: a bad descriptor must not leave an unused label set behind */
    uint32_t fam;
    kvbm_status st = family_of(s, desc, &fam);
    if (st != KVBM_OK) return st;
    if (s->ref_hint > 0) s->ref_hint--; /* kvbm__emit_value looks it up again (hint hit) */
    KVBM_TRY(kvbm__emit_labels(s, desc->name, label_names, label_values, n_labels, &set));
    return kvbm__emit_value(s, desc, set, value);
}

/* ---- scrape --------------------------------------------------------------------------- */

static void scrape_reset(kvbm__scrape *s)
{
    s->n_srcs = s->n_fams = s->n_refs = s->ref_hint = s->n_samples = s->n_sets = s->arena_len = 0;
    s->oom = false;
}

/* Copy the source list (taking references) and the external labels under the lock. */
static bool scrape_begin(kvbm_aggregator *a, kvbm__scrape *s)
{
    bool ok;
    kvbm__lock(&a->lock);
    s->ext_len = s->ext_key_len = s->ext_names_len = 0;
    ok = kvbm__grow(&s->srcs, &s->cap_srcs, a->n_srcs, sizeof *s->srcs) &&
         kvbm__buf_put(&s->ext, &s->ext_len, &s->ext_cap, a->ext, a->ext_len) &&
         kvbm__buf_put(&s->ext_key, &s->ext_key_len, &s->ext_key_cap, a->ext_key, a->ext_key_len) &&
         kvbm__buf_put(&s->ext_names, &s->ext_names_len, &s->ext_names_cap, a->ext_names, a->ext_names_len);
    if (ok) {
        for (size_t i = 0; i < a->n_srcs; i++) {
            atomic_fetch_add_explicit(&a->srcs[i]->refs, 1, memory_order_relaxed);
            s->srcs[i] = a->srcs[i];
        }
        s->n_srcs = a->n_srcs;
        s->n_ext = a->n_ext;
    }
    kvbm__unlock(&a->lock);
    return ok;
}

static kvbm_status scrape(kvbm_aggregator *a, kvbm_exposition fmt, kvbm__wr *w, const char *fn)
{
    if (a == NULL || (fmt != KVBM_EXPOSITION_PROMETHEUS && fmt != KVBM_EXPOSITION_OPENMETRICS)) {
        kvbm__set_error("%s: %s", fn, a == NULL ? "NULL aggregator" : "unknown exposition format");
        return KVBM_EINVAL;
    }
    kvbm__scrape *s = atomic_exchange_explicit(&a->spare, NULL, memory_order_acquire);
    if (s == NULL && (s = kvbm__calloc(1, sizeof *s)) == NULL) {
        kvbm__set_error("%s: out of memory", fn);
        return KVBM_ENOMEM;
    }
    scrape_reset(s);
    s->emitter.s = s;
    bool ok = scrape_begin(a, s);
    for (size_t i = 0; ok && i < s->n_srcs && !s->oom; i++) {
        s->ref_hint = 0;
        s->srcs[i]->ops.collect(s->srcs[i]->ctx, &s->emitter);
    }
    for (size_t i = 0; i < s->n_srcs; i++) src_release(s->srcs[i]);
    s->n_srcs = 0;
    if (ok && !s->oom) kvbm__expose(s, fmt, w);
    ok = ok && !s->oom && !w->oom;
    kvbm__scrape *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&a->spare, &none, s, memory_order_release,
                                                 memory_order_relaxed))
        scrape_free(s);
    if (!ok) {
        kvbm__set_error("%s: out of memory", fn);
        return KVBM_ENOMEM;
    }
    return KVBM_OK;
}

kvbm_status kvbm_aggregator_render(kvbm_aggregator *a, kvbm_exposition fmt, char *buf, size_t cap,
                                   size_t *len)
{
    if (len == NULL || (buf == NULL && cap > 0)) {
        kvbm__set_error("kvbm_aggregator_render: NULL %s", len == NULL ? "len" : "buf");
        return KVBM_EINVAL;
    }
    kvbm__wr w = { buf, cap, 0, NULL, false };
    KVBM_TRY(scrape(a, fmt, &w, "kvbm_aggregator_render"));
    *len = w.len;
    if (w.len >= cap) {
        kvbm__set_error("kvbm_aggregator_render: the exposition needs %zu bytes + NUL, the buffer has %zu",
                        w.len, cap);
        return KVBM_EOVERFLOW;
    }
    buf[w.len] = '\0';
    return KVBM_OK;
}

kvbm_status kvbm_aggregator_render_text(kvbm_aggregator *a, kvbm_exposition fmt, kvbm_text *t)
{
    if (t == NULL) {
        kvbm__set_error("kvbm_aggregator_render_text: NULL text");
        return KVBM_EINVAL;
    }
    kvbm__wr w = { t->data, t->cap, 0, t, false };
    kvbm_status st = scrape(a, fmt, &w, "kvbm_aggregator_render_text");
    t->data = w.buf;
    t->cap = w.cap;
    t->len = 0;
    if (st != KVBM_OK) return st;
    if (!kvbm__grow(&t->data, &t->cap, w.len + 1, 1)) {
        kvbm__set_error("kvbm_aggregator_render_text: out of memory");
        return KVBM_ENOMEM;
    }
    t->len = w.len;
    t->data[w.len] = '\0';
    return KVBM_OK;
}

void kvbm_text_free(kvbm_text *t)
{
    if (t == NULL) return;
    kvbm__free(t->data);
    *t = (kvbm_text)KVBM_TEXT_INIT;
}
