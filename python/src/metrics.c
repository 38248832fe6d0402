/* python/src/metrics.c - kvbm.Aggregator (the Prometheus aggregator of kvbm/aggregator.h)
 * and kvbm.StatsCollector (rates and hit ratios of kvbm/stats.h) with kvbm.StatsSnapshot.
 *
 * Both own one C reference (released on garbage collection). Sources are managers (their
 * metrics object) and stats collectors; the aggregator keeps its own C references on them,
 * so a source stays valid after its Python object is gone. Rendering and the sampler
 * thread's stop run with the GIL released; no Python code runs inside kvbm (no Python
 * metrics sources, no Python clock), so no kvbm lock holder ever needs the GIL.
 */
#include <string.h>

#include "ext.h"

/* ---- StatsSnapshot ------------------------------------------------------------------ */

static PyTypeObject SnapType;
static PyStructSequence_Field snap_fields[] = {
    { "allocation_rate", "blocks allocated per second" },
    { "eviction_rate", "blocks evicted per second" },
    { "match_hit_rate", "match_blocks hits / hashes requested (0..1)" },
    { "scan_hit_rate", "scan_matches hits / hashes requested (0..1)" },
    { "allocation_gradient", "change of allocation_rate per second" },
    { "eviction_gradient", "change of eviction_rate per second" },
    { "inflight_mutable", "mutable blocks held (gauge)" },
    { "inflight_immutable", "immutable blocks held (gauge)" },
    { "reset_pool_size", "blocks in the reset pool (gauge)" },
    { "inactive_pool_size", "blocks in the inactive pool (gauge)" },
    { NULL, NULL }
};
static PyStructSequence_Desc snap_desc = {
    "kvbm.StatsSnapshot", "One sample of a StatsCollector (a named tuple).", snap_fields, 10
};

static PyObject *snap_new(const kvbm_stats_snapshot *s)
{
    PyObject *o = PyStructSequence_New(&SnapType);
    if (!o)
        return NULL;
    double d[6] = { s->allocation_rate, s->eviction_rate, s->match_hit_rate, s->scan_hit_rate,
                    s->allocation_gradient, s->eviction_gradient };
    long long g[4] = { s->inflight_mutable, s->inflight_immutable, s->reset_pool_size,
                       s->inactive_pool_size };
    for (int i = 0; i < 10; i++) {
        PyObject *v = i < 6 ? PyFloat_FromDouble(d[i]) : PyLong_FromLongLong(g[i - 6]);
        if (!v) {
            Py_DECREF(o);
            return NULL;
        }
        PyStructSequence_SET_ITEM(o, i, v);
    }
    return o;
}

/* ---- StatsCollector ----------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    kvbm_stats *s;
    size_t      window; /* window_size: the most samples window() can return */
} Stats;

static PyTypeObject StatsType;

static PyObject *stats_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "manager", "window_size", "sample_interval", "enabled", NULL };
    PyObject *mgr;
    long long window = 60;
    double interval = 1.0;
    int enabled = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|Ldp:StatsCollector", kwlist,
                                     &kvbmpy_ManagerType, &mgr, &window, &interval, &enabled))
        return NULL;
    if (window < 0 || window > (long long)KVBM_STATS_MAX_WINDOW)
        return kvbmpy_raise_msg(KVBM_ECONFIG, "window_size must be in 0..%u, got %lld",
                                KVBM_STATS_MAX_WINDOW, window);
    if (!(interval >= 1e-6 && interval <= 86400.0)) {
        char buf[64];
        PyOS_snprintf(buf, sizeof buf, "%g", interval);
        return kvbmpy_raise_msg(KVBM_ECONFIG, "sample_interval must be in 1e-6..86400 "
                                "seconds, got %s", buf);
    }
    kvbm_stats_config cfg = KVBM_STATS_CONFIG_INIT;
    cfg.window_size = (size_t)window;
    cfg.sample_interval_ns = (uint64_t)(interval * 1e9);
    Stats *o = (Stats *)type->tp_alloc(type, 0);
    if (!o)
        return NULL;
    kvbm_status s = kvbm_stats_create(kvbm_manager_metrics(((kvbmpy_Manager *)mgr)->m), &cfg,
                                      &o->s);
    if (s != KVBM_OK) {
        o->s = NULL;
        Py_DECREF(o);
        return kvbmpy_raise(s);
    }
    o->window = (size_t)window;
    kvbm_stats_set_enabled(o->s, enabled);
    return (PyObject *)o;
}

static void stats_dealloc(PyObject *self)
{
    kvbm_stats *s = ((Stats *)self)->s;
    if (s)
        KVBMPY_NOGIL(kvbm_stats_release(s)); /* the last reference joins the sampler */
    Py_TYPE(self)->tp_free(self);
}

#define ST(self) (((Stats *)(self))->s)

static PyObject *stats_sample(PyObject *self, PyObject *unused)
{
    kvbm_status s = kvbm_stats_sample(ST(self));
    return s == KVBM_OK ? Py_NewRef(Py_None) : kvbmpy_raise(s);
}

static PyObject *stats_latest(PyObject *self, PyObject *unused)
{
    kvbm_stats_snapshot snap;
    kvbm_status s = kvbm_stats_latest(ST(self), &snap);
    if (s == KVBM_ENOENT) {
        kvbm_clear_last_error();
        Py_RETURN_NONE;
    }
    return s == KVBM_OK ? snap_new(&snap) : kvbmpy_raise(s);
}

static PyObject *stats_window(PyObject *self, PyObject *args)
{
    long long n = -1;
    if (!PyArg_ParseTuple(args, "|L:window", &n))
        return NULL;
    if (n < -1 || (n == -1 && PyTuple_GET_SIZE(args) > 0))
        return kvbmpy_raise_msg(KVBM_EINVAL, "window(n): n must be >= 0, got %lld", n);
    size_t want = ((Stats *)self)->window; /* the ring never holds more */
    if (n >= 0 && (unsigned long long)n < want)
        want = (size_t)n;
    kvbm_stats_snapshot *buf = PyMem_Malloc((want ? want : 1) * sizeof *buf);
    if (!buf)
        return PyErr_NoMemory();
    size_t count = 0;
    kvbm_status s = kvbm_stats_window(ST(self), want, buf, &count);
    PyObject *list = s == KVBM_OK ? PyList_New((Py_ssize_t)count) : kvbmpy_raise(s);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *v = snap_new(&buf[i]);
        if (!v)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    PyMem_Free(buf);
    return list;
}

static PyObject *stats_start(PyObject *self, PyObject *unused)
{
    kvbm_status s = kvbm_stats_start(ST(self));
    return s == KVBM_OK ? Py_NewRef(Py_None) : kvbmpy_raise(s);
}

static PyObject *stats_stop(PyObject *self, PyObject *unused)
{
    kvbm_status s;
    KVBMPY_NOGIL(s = kvbm_stats_stop(ST(self)));
    return s == KVBM_OK ? Py_NewRef(Py_None) : kvbmpy_raise(s);
}

static PyObject *stats_get_enabled(PyObject *self, void *c)
{
    return PyBool_FromLong(kvbm_stats_is_enabled(ST(self)));
}

static int stats_set_enabled(PyObject *self, PyObject *v, void *c)
{
    int b = v ? PyObject_IsTrue(v) : -1;
    if (b < 0) {
        if (!v)
            PyErr_SetString(PyExc_AttributeError, "enabled cannot be deleted");
        return -1;
    }
    kvbm_stats_set_enabled(ST(self), b);
    return 0;
}

static PyMethodDef stats_methods[] = {
    { "sample", stats_sample, METH_NOARGS,
      "sample(): take one sample now (nothing while disabled)." },
    { "latest", stats_latest, METH_NOARGS,
      "latest() -> StatsSnapshot | None: the last sample (None when none is kept)." },
    { "window", stats_window, METH_VARARGS,
      "window(n=all) -> list[StatsSnapshot]: the last n samples kept, oldest first." },
    { "start", stats_start, METH_NOARGS,
      "start(): start the sampler thread (samples at once, then every sample_interval,\n"
      "while enabled). StateError if it is running." },
    { "stop", stats_stop, METH_NOARGS,
      "stop(): wake and join the sampler thread (GIL released). No-op when not running." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef stats_getset[] = {
    { "enabled", stats_get_enabled, stats_set_enabled,
      "Whether sample() records anything (False after construction by default).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject StatsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.StatsCollector",
    .tp_basicsize = sizeof(Stats),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "StatsCollector(manager, window_size=60, sample_interval=1.0, enabled=False)\n\n"
        "Rates (allocation, eviction), hit ratios (match, scan) and gradients sampled from a\n"
        "Manager's metrics; window_size samples are kept. Disabled until enabled = True.\n"
        "sample() samples now; start()/stop() run a sampler thread every sample_interval\n"
        "seconds. Aggregator.add_stats() exports the latest sample as six gauges.",
    .tp_new = stats_new,
    .tp_dealloc = stats_dealloc,
    .tp_methods = stats_methods,
    .tp_getset = stats_getset,
};

/* ---- Aggregator --------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    kvbm_aggregator *a;
} Agg;

static PyObject *agg_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    if (!_PyArg_NoKeywords("Aggregator", kw) || !PyArg_ParseTuple(args, ":Aggregator"))
        return NULL;
    Agg *o = (Agg *)type->tp_alloc(type, 0);
    if (!o)
        return NULL;
    kvbm_status s = kvbm_aggregator_create(&o->a);
    if (s != KVBM_OK) {
        o->a = NULL;
        Py_DECREF(o);
        return kvbmpy_raise(s);
    }
    return (PyObject *)o;
}

static void agg_dealloc(PyObject *self)
{
    kvbm_aggregator *a = ((Agg *)self)->a;
    if (a)
        KVBMPY_NOGIL(kvbm_aggregator_release(a));
    Py_TYPE(self)->tp_free(self);
}

#define AG(self) (((Agg *)(self))->a)

static PyObject *agg_add_manager(PyObject *self, PyObject *arg)
{
    if (!PyObject_TypeCheck(arg, &kvbmpy_ManagerType))
        return PyErr_Format(PyExc_TypeError, "add_manager() expects a kvbm.Manager, not %.80s",
                            Py_TYPE(arg)->tp_name);
    kvbm_source_id id;
    kvbm_status s = kvbm_aggregator_add_metrics(AG(self),
                                                kvbm_manager_metrics(((kvbmpy_Manager *)arg)->m), &id);
    return s == KVBM_OK ? PyLong_FromUnsignedLongLong(id) : kvbmpy_raise(s);
}

static PyObject *agg_add_stats(PyObject *self, PyObject *arg)
{
    if (!PyObject_TypeCheck(arg, &StatsType))
        return PyErr_Format(PyExc_TypeError, "add_stats() expects a kvbm.StatsCollector, not "
                            "%.80s", Py_TYPE(arg)->tp_name);
    kvbm_source_id id;
    kvbm_status s = kvbm_stats_add_to_aggregator(ST(arg), AG(self), &id);
    return s == KVBM_OK ? PyLong_FromUnsignedLongLong(id) : kvbmpy_raise(s);
}

static PyObject *agg_remove_source(PyObject *self, PyObject *arg)
{
    unsigned long long id;
    if (!kvbmpy_conv_u64(arg, &id))
        return NULL;
    kvbm_status s;
    KVBMPY_NOGIL(s = kvbm_aggregator_remove_source(AG(self), id));
    return s == KVBM_OK ? Py_NewRef(Py_None) : kvbmpy_raise(s);
}

static PyObject *agg_set_labels(PyObject *self, PyObject *arg)
{
    PyObject *items = PyDict_Check(arg) ? PyDict_Items(arg)
                                        : PySequence_Fast(arg, "labels must be a dict or a "
                                                                "sequence of (name, value) pairs");
    if (!items)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    const char **names = PyMem_Calloc((size_t)n + 1, sizeof *names);
    const char **values = PyMem_Calloc((size_t)n + 1, sizeof *values);
    PyObject *r = NULL;
    if (!names || !values) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(items, i);
        PyObject *k, *v;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_Check(k = PyTuple_GET_ITEM(pair, 0)) ||
            !PyUnicode_Check(v = PyTuple_GET_ITEM(pair, 1))) {
            PyErr_Format(PyExc_TypeError, "labels: item %zd is not a (str, str) pair", i);
            goto out;
        }
        if (!(names[i] = PyUnicode_AsUTF8(k)) || !(values[i] = PyUnicode_AsUTF8(v)))
            goto out;
    }
    kvbm_status s = kvbm_aggregator_set_external_labels(AG(self), names, values, (size_t)n);
    r = s == KVBM_OK ? Py_NewRef(Py_None) : kvbmpy_raise(s);
out:
    PyMem_Free(names);
    PyMem_Free(values);
    Py_DECREF(items);
    return r;
}

static int parse_format(PyObject *f, kvbm_exposition *out)
{
    const char *s = PyUnicode_Check(f) ? PyUnicode_AsUTF8(f) : NULL;
    if (!s) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "format must be a str, not %.80s", Py_TYPE(f)->tp_name);
        return -1;
    }
    if (!strcmp(s, "prometheus"))
        *out = KVBM_EXPOSITION_PROMETHEUS;
    else if (!strcmp(s, "openmetrics"))
        *out = KVBM_EXPOSITION_OPENMETRICS;
    else {
        kvbmpy_raise_msg(KVBM_EINVAL, "format must be 'prometheus' or 'openmetrics', got '%s'", s);
        return -1;
    }
    return 0;
}

static PyObject *agg_render(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "format", NULL };
    PyObject *fmt = NULL;
    kvbm_exposition e = KVBM_EXPOSITION_PROMETHEUS;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:render", kwlist, &fmt) ||
        (fmt && parse_format(fmt, &e) < 0))
        return NULL;
    kvbm_text t = KVBM_TEXT_INIT;
    kvbm_status s;
    KVBMPY_NOGIL(s = kvbm_aggregator_render_text(AG(self), e, &t));
    PyObject *r = s != KVBM_OK ? kvbmpy_raise(s)
                               : PyUnicode_DecodeUTF8(t.data ? t.data : "", (Py_ssize_t)t.len,
                                                      "replace");
    kvbm_text_free(&t);
    return r;
}

static PyObject *agg_content_type(PyObject *cls, PyObject *arg)
{
    kvbm_exposition e;
    if (parse_format(arg, &e) < 0)
        return NULL;
    return PyUnicode_FromString(kvbm_exposition_content_type(e));
}

static PyObject *agg_format_for_accept(PyObject *cls, PyObject *arg)
{
    const char *s = arg == Py_None ? NULL : PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (!s && arg != Py_None)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "accept must be a str or None");
    return PyUnicode_FromString(kvbm_exposition_from_accept(s) == KVBM_EXPOSITION_OPENMETRICS
                                ? "openmetrics" : "prometheus");
}

static Py_ssize_t agg_len(PyObject *self) { return (Py_ssize_t)kvbm_aggregator_source_count(AG(self)); }

static PyMethodDef agg_methods[] = {
    { "add_manager", agg_add_manager, METH_O,
      "add_manager(manager) -> int: add a Manager's 19 metric families (label\n"
      "pool=<metrics_label>) as a source; returns the source id." },
    { "add_stats", agg_add_stats, METH_O,
      "add_stats(collector) -> int: export a StatsCollector's latest sample as six gauges\n"
      "(kvbm_allocation_rate, ...); returns the source id." },
    { "remove_source", agg_remove_source, METH_O,
      "remove_source(id): later renders do not see it. NotFoundError for an unknown id." },
    { "set_external_labels", agg_set_labels, METH_O,
      "set_external_labels(labels): replace the labels appended to every sample (a dict or\n"
      "(name, value) pairs, in order; {} clears). InvalidArgumentError for a bad name." },
    { "render", (PyCFunction)(void (*)(void))agg_render, METH_VARARGS | METH_KEYWORDS,
      "render(format='prometheus') -> str: scrape every source ('prometheus' = text format\n"
      "0.0.4, 'openmetrics' = OpenMetrics 1.0 with '# EOF'). GIL released." },
    { "content_type", agg_content_type, METH_O | METH_STATIC,
      "content_type(format) -> str: the HTTP Content-Type of a format." },
    { "format_for_accept", agg_format_for_accept, METH_O | METH_STATIC,
      "format_for_accept(accept) -> str: the format an HTTP Accept header asks for." },
    { NULL, NULL, 0, NULL }
};

static PySequenceMethods agg_as_seq = { .sq_length = agg_len };

static PyTypeObject AggType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.Aggregator",
    .tp_basicsize = sizeof(Agg),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "Aggregator()\n\n"
        "The Prometheus metrics aggregator: sources (managers, stats collectors) and external\n"
        "labels; render() writes byte-stable Prometheus or OpenMetrics text (families sorted,\n"
        "equal names merged across sources). len() is the number of sources. Thread-safe.",
    .tp_new = agg_new,
    .tp_dealloc = agg_dealloc,
    .tp_methods = agg_methods,
    .tp_as_sequence = &agg_as_seq,
};

int kvbmpy_metrics_init(PyObject *mod)
{
    if (!SnapType.tp_name && PyStructSequence_InitType2(&SnapType, &snap_desc) < 0)
        return -1;
    PyTypeObject *types[] = { &SnapType, &StatsType, &AggType };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (kvbmpy_add_type(mod, types[i]) < 0)
            return -1;
    return 0;
}
