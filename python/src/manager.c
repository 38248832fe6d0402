/* python/src/manager.c - kvbm.Manager: configuration, gauges, the batch calls (allocate,
 * register, match_blocks, scan_matches, release_many), pool maintenance and metrics.
 *
 * Every batch call converts its arguments under the GIL, moves the input handles out of
 * their Python owners, runs the C call with the GIL released (one store-lock acquisition)
 * and wraps the output handles in one BlockList - no Python object per block.
 */
#include <string.h>

#include "ext.h"

typedef struct {
    kvbmpy_Manager        base;
    kvbm_backend          backend;  /* as configured (the Lineage eviction is not readable */
    kvbm_lineage_eviction eviction; /* back from the manager) */
} Mgr;

#define M(self) (((kvbmpy_Manager *)(self))->m)

static int parse_dup(PyObject *o, kvbm_dup_policy *out)
{
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (s && !strcmp(s, "allow"))
        *out = KVBM_DUP_ALLOW;
    else if (s && !strcmp(s, "reject"))
        *out = KVBM_DUP_REJECT;
    else {
        if (!PyErr_Occurred())
            kvbmpy_raise_msg(KVBM_EINVAL, "duplication must be 'allow' or 'reject', got %R", o);
        return -1;
    }
    return 0;
}

static PyObject *manager_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "block_count", "block_size", "backend", "registry",
                              "duplication", "multi_lru_thresholds", "reset_on_release",
                              "tier", "metrics_label", NULL };
    PyObject *count_obj, *registry = Py_None, *dup = NULL, *thr = NULL;
    unsigned int bs = 16;
    const char *backend = "lineage", *label = NULL;
    int reset_on_release = 0;
    unsigned long long tier = KVBM_G1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O&sO$OOpO&z:Manager", kwlist, &count_obj,
                                     kvbmpy_conv_u32, &bs,
                                     &backend, &registry, &dup, &thr, &reset_on_release,
                                     kvbmpy_conv_u64, &tier, &label))
        return NULL;
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    if (!PyLong_Check(count_obj)) {
        PyErr_Format(PyExc_TypeError, "block_count must be an int, not %.80s",
                     Py_TYPE(count_obj)->tp_name);
        return NULL;
    }
    long long count = PyLong_AsLongLong(count_obj);
    if ((count == -1 && PyErr_Occurred()) || count <= 0 ||
        (unsigned long long)count > KVBM_MAX_BLOCK_COUNT) {
        PyErr_Clear();
        return kvbmpy_raise_msg(KVBM_ECONFIG, "block_count must be in 1..%llu, got %R",
                                (unsigned long long)KVBM_MAX_BLOCK_COUNT, count_obj);
    }
    cfg.block_count = (uint64_t)count;
    cfg.block_size = bs;
    kvbm_status bs_ = kvbm_backend_parse(backend, &cfg.backend, &cfg.lineage_eviction);
    if (bs_ != KVBM_OK)
        return kvbmpy_raise(bs_);
    if (dup && parse_dup(dup, &cfg.duplication_policy) < 0)
        return NULL;
    if (thr && !PyArg_ParseTuple(thr, "bbb;multi_lru_thresholds must be 3 ints in 1..15",
                                 &cfg.multi_lru_thresholds[0], &cfg.multi_lru_thresholds[1],
                                 &cfg.multi_lru_thresholds[2]))
        return NULL;
    cfg.default_reset_on_release = reset_on_release != 0;
    cfg.tier_key = tier;
    cfg.metrics_label = label;
    if (registry == Py_None) {
        registry = kvbmpy_registry_create(cfg.backend == KVBM_BACKEND_MULTI_LRU ? "medium" : NULL);
        if (!registry)
            return NULL;
    } else if (!Py_IS_TYPE(registry, &kvbmpy_RegistryType)) {
        PyErr_Format(PyExc_TypeError, "registry must be a kvbm.Registry or None, not %.80s",
                     Py_TYPE(registry)->tp_name);
        return NULL;
    } else {
        Py_INCREF(registry);
    }
    cfg.registry = ((kvbmpy_Registry *)registry)->r;
    Mgr *o = (Mgr *)type->tp_alloc(type, 0);
    if (!o) {
        Py_DECREF(registry);
        return NULL;
    }
    o->base.registry = registry;
    o->backend = cfg.backend;
    o->eviction = cfg.lineage_eviction;
    kvbm_status s;
    KVBMPY_NOGIL(s = kvbm_manager_create(&cfg, &o->base.m));
    if (s != KVBM_OK) {
        Py_DECREF(o);
        return kvbmpy_raise(s);
    }
    o->base.block_size = kvbm_manager_block_size(o->base.m);
    o->base.id = kvbm_manager_id(o->base.m);
    return (PyObject *)o;
}

static void manager_dealloc(PyObject *self)
{
    kvbmpy_Manager *m = (kvbmpy_Manager *)self;
    kvbm_manager_destroy(m->m); /* outstanding handles keep the store alive */
    Py_XDECREF(m->registry);
    Py_TYPE(self)->tp_free(self);
}

/* ---- moving handles out of Python owners -------------------------------------------- */

void kvbmpy_give_back(PyObject *obj, void **t, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (Py_IS_TYPE(obj, &kvbmpy_BlockListType))
            ((kvbmpy_BlockList *)obj)->h[i] = t[i];
        else
            *kvbmpy_block_slot((kvbmpy_Block *)PySequence_Fast_GET_ITEM(obj, i)) = t[i];
    }
    /* Another thread may have called release() on the emptied list while the GIL was
     * released: it released nothing, and the handles are back now - clear the flag, so
     * that release() or the list's deallocation returns them instead of leaking them. */
    if (n && Py_IS_TYPE(obj, &kvbmpy_BlockListType))
        ((kvbmpy_BlockList *)obj)->released = 0;
}

/* The "already released" error for entry @i of a block argument; returns NULL. */
static PyObject *released_block(Py_ssize_t i)
{
    char what[64];
    snprintf(what, sizeof what, "block %zd", i);
    return kvbmpy_released(what);
}

int kvbmpy_take_handles(kvbmpy_Manager *self, PyObject *obj, int kind, void ***tmp,
                        void **stackbuf, Py_ssize_t stackcap, Py_ssize_t *n_out,
                        kvbmpy_BlockList **src_list)
{
    *src_list = NULL;
    PyTypeObject *bt = kvbmpy_block_type(kind);
    Py_ssize_t n;
    if (Py_IS_TYPE(obj, &kvbmpy_BlockListType)) {
        kvbmpy_BlockList *l = (kvbmpy_BlockList *)obj;
        if (l->mgr != self) {
            kvbmpy_raise_msg(KVBM_EINVAL, "the BlockList belongs to another manager");
            return -1;
        }
        if (l->kind != kind) {
            PyErr_Format(PyExc_TypeError, "expected a BlockList of %s, got one of %s",
                         bt->tp_name, kvbmpy_block_type(l->kind)->tp_name);
            return -1;
        }
        if (l->released) {
            kvbmpy_released("the BlockList");
            return -1;
        }
        n = Py_SIZE(l);
    } else if (PyList_Check(obj) || PyTuple_Check(obj)) {
        n = PySequence_Fast_GET_SIZE(obj);
    } else {
        PyErr_Format(PyExc_TypeError, "expected a BlockList or a list of %s, not %.80s",
                     bt->tp_name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    void **t = n <= stackcap ? stackbuf : PyMem_Malloc((size_t)n * sizeof(void *));
    if (!t) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t i;
    if (Py_IS_TYPE(obj, &kvbmpy_BlockListType)) { /* check every entry, then move at once */
        void **h = ((kvbmpy_BlockList *)obj)->h;
        for (i = 0; i < n && h[i]; i++)
            ;
        if (i < n) {
            released_block(i);
            if (t != stackbuf)
                PyMem_Free(t);
            return -1;
        }
        if (n) {
            memcpy(t, h, (size_t)n * sizeof(void *));
            memset(h, 0, (size_t)n * sizeof(void *));
        }
        *src_list = (kvbmpy_BlockList *)obj;
    } else {
        for (i = 0; i < n; i++) {
            PyObject *it = PySequence_Fast_GET_ITEM(obj, i);
            if (!Py_IS_TYPE(it, bt)) {
                PyErr_Format(PyExc_TypeError, "item %zd must be a %s, not %.80s", i,
                             bt->tp_name, Py_TYPE(it)->tp_name);
                goto undo;
            }
            if (((kvbmpy_Block *)it)->mgr != self) {
                kvbmpy_raise_msg(KVBM_EINVAL, "item %zd belongs to another manager", i);
                goto undo;
            }
            void **slot = kvbmpy_block_slot((kvbmpy_Block *)it);
            if (!*slot) {
                released_block(i);
                goto undo;
            }
            t[i] = *slot;
            *slot = NULL;
        }
    }
    *tmp = t;
    *n_out = n;
    return 0;
undo:
    kvbmpy_give_back(obj, t, i);
    if (t != stackbuf)
        PyMem_Free(t);
    return -1;
}

/* ---- batch calls ---------------------------------------------------------------------- */

PyObject *kvbmpy_allocate_error(kvbmpy_Manager *self, kvbm_status s, long long n)
{
    if (s == KVBM_EEXHAUSTED && !kvbm_last_error()[0])
        return kvbmpy_raise_msg(s, "%lld blocks requested, %llu available", n,
                                (unsigned long long)kvbm_manager_available_blocks(self->m));
    return kvbmpy_raise(s);
}

static PyObject *do_allocate(kvbmpy_Manager *self, PyObject *arg, int want_evicted)
{
    if (kvbmpy_check_alive() < 0)
        return NULL;
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "the block count must be an int, not %.80s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        n = LLONG_MAX;
    }
    if (n < 0)
        return kvbmpy_raise_msg(KVBM_EINVAL, "cannot allocate a negative number of blocks (%lld)", n);
    uint64_t total = kvbm_manager_total_blocks(self->m);
    if ((unsigned long long)n > total)
        return kvbmpy_raise_msg(KVBM_EEXHAUSTED, "cannot allocate %R blocks from a pool of %llu",
                                arg, (unsigned long long)total);
    kvbmpy_BlockList *l = kvbmpy_blocklist_new_raw(self, KVBMPY_MUTABLE, (Py_ssize_t)n);
    kvbmpy_Hashes *ev = want_evicted ? kvbmpy_hashes_new((Py_ssize_t)n) : NULL;
    if (!l || (want_evicted && !ev)) {
        kvbmpy_blocklist_discard(&l);
        Py_XDECREF(ev);
        return NULL;
    }
    kvbm_status s;
    size_t n_ev = 0;
    KVBMPY_NOGIL_IF(n, s = kvbm_manager_allocate(self->m, (size_t)n, (kvbm_mutable **)l->h,
                                           ev ? ev->v : NULL, &n_ev));
    if (s != KVBM_OK) {
        kvbmpy_blocklist_discard(&l);
        Py_XDECREF(ev);
        return kvbmpy_allocate_error(self, s, n);
    }
    if (!want_evicted)
        return (PyObject *)l;
    Py_SET_SIZE(ev, (Py_ssize_t)n_ev);
    ev->shape[0] = (Py_ssize_t)n_ev;
    PyObject *r = PyTuple_Pack(2, (PyObject *)l, (PyObject *)ev);
    Py_DECREF(l);
    Py_DECREF(ev);
    return r;
}

static PyObject *mgr_allocate(PyObject *self, PyObject *arg)
{
    return do_allocate((kvbmpy_Manager *)self, arg, 0);
}

/* METH_FASTCALL rather than METH_NOARGS: CPython 3.11 specializes calls of bound
 * FASTCALL builtins (`alloc = mgr.allocate_block; alloc()`), not of NOARGS ones. */
static PyObject *mgr_allocate_block(PyObject *self_, PyObject *const *args, Py_ssize_t nargs)
{
    kvbmpy_Manager *self = (kvbmpy_Manager *)self_;
    if (nargs != 0)
        return PyErr_Format(PyExc_TypeError, "allocate_block() takes no arguments (%zd given)",
                            nargs);
    if (kvbmpy_check_alive() < 0)
        return NULL;
    kvbm_mutable *b;
    kvbm_status s = kvbm_manager_allocate(self->m, 1, &b, NULL, NULL);
    if (s != KVBM_OK) {
        if (s == KVBM_EEXHAUSTED && !kvbm_last_error()[0])
            return kvbmpy_raise_msg(s, "1 block requested, none available");
        return kvbmpy_raise(s);
    }
    return kvbmpy_block_new(self, KVBMPY_MUTABLE, b);
}

static PyObject *mgr_allocate_evicting(PyObject *self, PyObject *arg)
{
    return do_allocate((kvbmpy_Manager *)self, arg, 1);
}

PyObject *kvbmpy_manager_register(PyObject *self_, PyObject *arg)
{
    kvbmpy_Manager *self = (kvbmpy_Manager *)self_;
    if (kvbmpy_check_alive() < 0)
        return NULL;
    if (Py_IS_TYPE(arg, &kvbmpy_CompleteBlockType)) {
        kvbmpy_Block *b = (kvbmpy_Block *)arg;
        if (b->mgr != self)
            return kvbmpy_raise_msg(KVBM_EINVAL, "the block belongs to another manager");
        void **slot = kvbmpy_block_slot(b);
        if (!*slot)
            return kvbmpy_released("the CompleteBlock");
        kvbm_block *out;
        kvbm_status s = kvbm_manager_register_block(self->m, (kvbm_complete *)*slot, &out);
        if (s != KVBM_OK)
            return kvbmpy_raise(s);
        *slot = NULL;
        return kvbmpy_block_new(self, KVBMPY_IMMUTABLE, out);
    }
    void *stack[64], **in;
    Py_ssize_t n;
    kvbmpy_BlockList *src;
    if (kvbmpy_take_handles(self, arg, KVBMPY_COMPLETE, &in, stack, 64, &n, &src) < 0)
        return NULL;
    kvbmpy_BlockList *out = kvbmpy_blocklist_new_raw(self, KVBMPY_IMMUTABLE, n);
    kvbm_status s = KVBM_ENOMEM;
    if (out)
        KVBMPY_NOGIL_IF(n, s = kvbm_manager_register_blocks(self->m, (kvbm_complete *const *)in,
                                                      (size_t)n, (kvbm_block **)out->h));
    if (s != KVBM_OK) {
        kvbmpy_give_back(arg, in, n);
        if (out) {
            kvbmpy_blocklist_discard(&out);
            kvbmpy_raise(s);
        }
    } else if (src) {
        src->released = 1; /* consumed as a whole */
    }
    if (in != stack)
        PyMem_Free(in);
    return (PyObject *)out;
}

static PyObject *mgr_match_blocks(PyObject *self_, PyObject *arg)
{
    kvbmpy_Manager *self = (kvbmpy_Manager *)self_;
    if (kvbmpy_check_alive() < 0)
        return NULL;
    kvbmpy_plhs v;
    if (kvbmpy_plhs_get(arg, &v) < 0)
        return NULL;
    kvbmpy_BlockList *out = kvbmpy_blocklist_new_raw(self, KVBMPY_IMMUTABLE, v.n);
    if (out) {
        size_t matched = 0;
        kvbm_status s;
        KVBMPY_NOGIL_IF(v.n, s = kvbm_manager_match_blocks(self->m, v.p, (size_t)v.n,
                                                   (kvbm_block **)out->h, &matched));
        if (s != KVBM_OK) {
            kvbmpy_blocklist_discard(&out);
            kvbmpy_raise(s);
        } else {
            Py_SET_SIZE(out, (Py_ssize_t)matched);
        }
    }
    kvbmpy_plhs_free(&v);
    return (PyObject *)out;
}

static PyObject *mgr_scan_matches(PyObject *self_, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "hashes", "touch", NULL };
    kvbmpy_Manager *self = (kvbmpy_Manager *)self_;
    PyObject *hs;
    int touch = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:scan_matches", kwlist, &hs, &touch))
        return NULL;
    if (kvbmpy_check_alive() < 0)
        return NULL;
    kvbmpy_plhs v;
    if (kvbmpy_plhs_get(hs, &v) < 0)
        return NULL;
    kvbmpy_BlockList *out = kvbmpy_blocklist_new_raw(self, KVBMPY_IMMUTABLE, v.n);
    kvbm_plh *found_h = PyMem_Malloc((size_t)(v.n ? v.n : 1) * sizeof(kvbm_plh));
    if (out && found_h) {
        size_t found = 0;
        kvbm_status s;
        KVBMPY_NOGIL_IF(v.n, s = kvbm_manager_scan_matches(self->m, v.p, (size_t)v.n, touch != 0,
                                                   found_h, (kvbm_block **)out->h, &found));
        Py_SET_SIZE(out, s == KVBM_OK ? (Py_ssize_t)found : 0);
        if (s != KVBM_OK) {
            Py_CLEAR(out);
            kvbmpy_raise(s);
        }
    } else {
        kvbmpy_blocklist_discard(&out);
        if (!found_h)
            PyErr_NoMemory();
    }
    PyMem_Free(found_h);
    kvbmpy_plhs_free(&v);
    return (PyObject *)out;
}

static PyObject *mgr_release_many(PyObject *self_, PyObject *arg)
{
    kvbmpy_Manager *self = (kvbmpy_Manager *)self_;
    if (Py_IS_TYPE(arg, &kvbmpy_BlockListType)) {
        if (((kvbmpy_BlockList *)arg)->mgr != self)
            return kvbmpy_raise_msg(KVBM_EINVAL, "the BlockList belongs to another manager");
        return PyObject_CallMethod(arg, "release", NULL);
    }
    PyObject *seq = PySequence_Fast(arg, "release_many() takes a BlockList or a list of blocks");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    /* validate everything first: nothing is released on error */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        PyTypeObject *t = Py_TYPE(it);
        if (t != &kvbmpy_MutableBlockType && t != &kvbmpy_CompleteBlockType &&
            t != &kvbmpy_ImmutableBlockType) {
            Py_DECREF(seq);
            return PyErr_Format(PyExc_TypeError, "item %zd is not a kvbm block (%.80s)", i,
                                t->tp_name);
        }
        if (((kvbmpy_Block *)it)->mgr != self) {
            Py_DECREF(seq);
            return kvbmpy_raise_msg(KVBM_EINVAL, "item %zd belongs to another manager", i);
        }
        if (!*kvbmpy_block_slot((kvbmpy_Block *)it)) {
            Py_DECREF(seq);
            return released_block(i);
        }
        for (Py_ssize_t j = 0; j < i; j++)
            if (*kvbmpy_block_slot((kvbmpy_Block *)PySequence_Fast_GET_ITEM(seq, j)) ==
                *kvbmpy_block_slot((kvbmpy_Block *)it)) {
                Py_DECREF(seq);
                return kvbmpy_raise_msg(KVBM_EINVAL, "items %zd and %zd are the same handle", j, i);
            }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        void **slot = kvbmpy_block_slot((kvbmpy_Block *)it);
        void *h = *slot;
        *slot = NULL;
        int kind = Py_TYPE(it) == &kvbmpy_MutableBlockType ? KVBMPY_MUTABLE
                 : Py_TYPE(it) == &kvbmpy_CompleteBlockType ? KVBMPY_COMPLETE : KVBMPY_IMMUTABLE;
        kvbmpy_handle_release(kind, h);
    }
    Py_DECREF(seq);
    Py_RETURN_NONE;
}

/* ---- pool maintenance, gauges, metrics ------------------------------------------------ */

static PyObject *mgr_reset_inactive(PyObject *self, PyObject *unused)
{
    if (kvbmpy_check_alive() < 0)
        return NULL;
    uint64_t exp = 0, act = 0;
    kvbm_status s;
    KVBMPY_NOGIL(s = kvbm_manager_reset_inactive_pool(M(self), &exp, &act));
    if (s != KVBM_OK)
        return kvbmpy_raise_msg(s, "reset pool holds %llu of %llu blocks after draining the "
                                "inactive pool (blocks are still held)", (unsigned long long)act,
                                (unsigned long long)exp);
    Py_RETURN_NONE;
}

static PyObject *mgr_check(PyObject *self, PyObject *unused)
{
    kvbm_status s;
    KVBMPY_NOGIL(s = kvbm_manager_check_invariants(M(self)));
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    Py_RETURN_NONE;
}

static PyObject *mgr_has_inactive(PyObject *self, PyObject *arg)
{
    kvbm_plh h;
    if (kvbmpy_plh_from_obj(arg, &h) < 0)
        return NULL;
    return PyBool_FromLong(kvbm_manager_has_inactive(M(self), h));
}

static PyObject *mgr_metrics(PyObject *self, PyObject *unused)
{
    kvbm_metrics_snapshot snap = KVBM_METRICS_SNAPSHOT_INIT;
    if (kvbm_metrics_snapshot_get(kvbm_manager_metrics(M(self)), &snap) != KVBM_OK)
        return kvbmpy_raise(KVBM_EINVAL);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
#define PUT(name, val)                                                   \
    do {                                                                 \
        PyObject *v_ = (val);                                            \
        if (!v_ || PyDict_SetItemString(d, name, v_) < 0) {              \
            Py_XDECREF(v_);                                              \
            Py_DECREF(d);                                                \
            return NULL;                                                 \
        }                                                                \
        Py_DECREF(v_);                                                   \
    } while (0)
#define SNAP_C(name, prom, help) PUT(#name, PyLong_FromUnsignedLongLong(snap.name));
#define SNAP_G(name, prom, help) PUT(#name, PyLong_FromLongLong(snap.name));
    KVBM_METRICS_FIELDS(SNAP_C, SNAP_G)
#undef SNAP_C
#undef SNAP_G
#undef PUT
    return d;
}

static PyObject *mgr_prometheus(PyObject *self, PyObject *unused)
{
    kvbm_metrics *mt = kvbm_manager_metrics(M(self));
    const char *label = kvbm_metrics_label(mt);
    char esc[256];
    size_t j = 0;
    for (const char *p = label; *p && j + 3 < sizeof esc; p++) {
        if (*p == '\\' || *p == '"') esc[j++] = '\\';
        if (*p == '\n') { esc[j++] = '\\'; esc[j++] = 'n'; continue; }
        esc[j++] = *p;
    }
    esc[j] = '\0';
    PyObject *parts = PyList_New(0);
    if (!parts)
        return NULL;
    for (int id = 0; id < KVBM_METRIC_COUNT; id++) {
        int counter = kvbm_metric_is_counter((kvbm_metric_id)id);
        long long v = (long long)kvbm_metrics_get(mt, (kvbm_metric_id)id);
        const char *name = kvbm_metric_prom_name((kvbm_metric_id)id);
        PyObject *s = counter
            ? PyUnicode_FromFormat("# HELP %s %s\n# TYPE %s counter\n%s{pool=\"%s\"} %llu\n",
                                   name, kvbm_metric_help((kvbm_metric_id)id), name, name, esc,
                                   (unsigned long long)v)
            : PyUnicode_FromFormat("# HELP %s %s\n# TYPE %s gauge\n%s{pool=\"%s\"} %lld\n",
                                   name, kvbm_metric_help((kvbm_metric_id)id), name, name, esc, v);
        if (!s || PyList_Append(parts, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(s);
    }
    PyObject *empty = PyUnicode_FromString("");
    PyObject *r = empty ? PyUnicode_Join(empty, parts) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(parts);
    return r;
}

static PyObject *g_total(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(kvbm_manager_total_blocks(M(s))); }
static PyObject *g_avail(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(kvbm_manager_available_blocks(M(s))); }
static PyObject *g_reset(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(kvbm_manager_reset_len(M(s))); }
static PyObject *g_inactive(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(kvbm_manager_inactive_len(M(s))); }
static PyObject *g_bs(PyObject *s, void *c) { return PyLong_FromUnsignedLong(((kvbmpy_Manager *)s)->block_size); }
static PyObject *g_id(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(((kvbmpy_Manager *)s)->id); }
static PyObject *g_tier(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(kvbm_manager_tier(M(s))); }
static PyObject *g_registry(PyObject *s, void *c) { return Py_NewRef(((kvbmpy_Manager *)s)->registry); }
static const char *backend_name(PyObject *s)
{
    return kvbm_backend_name(((Mgr *)s)->backend, ((Mgr *)s)->eviction);
}
static PyObject *g_backend(PyObject *s, void *c) { return PyUnicode_FromString(backend_name(s)); }
static PyObject *g_dup(PyObject *s, void *c)
{
    return PyUnicode_FromString(kvbm_manager_duplication_policy(M(s)) == KVBM_DUP_REJECT ? "reject" : "allow");
}

static PyObject *manager_repr(PyObject *s)
{
    return PyUnicode_FromFormat("kvbm.Manager(total_blocks=%llu, block_size=%u, backend='%s', "
                                "available_blocks=%llu)",
                                (unsigned long long)kvbm_manager_total_blocks(M(s)),
                                ((kvbmpy_Manager *)s)->block_size,
                                backend_name(s),
                                (unsigned long long)kvbm_manager_available_blocks(M(s)));
}

static PyMethodDef manager_methods[] = {
    { "allocate", mgr_allocate, METH_O,
      "allocate(n) -> BlockList[MutableBlock]\n\n"
      "All-or-nothing allocation of n blocks: reset blocks first, then inactive (cached)\n"
      "blocks evicted in backend order. Raises ExhaustedError when fewer than n are\n"
      "available (nothing is taken). One store-lock acquisition, GIL released." },
    { "allocate_block", (PyCFunction)(void (*)(void))mgr_allocate_block, METH_FASTCALL,
      "allocate_block() -> MutableBlock\n\n"
      "One block, as a standalone handle (the per-block path; allocate(n) is the batch\n"
      "path). Raises ExhaustedError when no block is available. Keeps the GIL." },
    { "allocate_with_evictions", mgr_allocate_evicting, METH_O,
      "allocate_with_evictions(n) -> (BlockList[MutableBlock], Hashes)\n\n"
      "Like allocate(n); also returns the hashes of the blocks evicted, in eviction order." },
    { "register", (PyCFunction)(void (*)(void))kvbmpy_mgr_register, METH_FASTCALL | METH_KEYWORDS,
      "register(blocks, hashes=None, start=0) -> BlockList[ImmutableBlock] | ImmutableBlock\n\n"
      "Register completed blocks (a BlockList of CompleteBlock, a list of CompleteBlock,\n"
      "or one CompleteBlock -> one ImmutableBlock). The inputs are consumed on success and\n"
      "untouched on error. Under duplication='reject' a second registration of a hash\n"
      "returns the existing block and the input returns to the reset pool.\n"
      "With hashes: blocks is a BlockList of MutableBlock, staged with hashes[start:]\n"
      "(one per block) and registered in one call - register(blocks.stage(hashes,\n"
      "start=start)) without the intermediate list (vLLM's cache_full_blocks step)." },
    { "allocate_and_register", (PyCFunction)(void (*)(void))kvbmpy_mgr_allocate_and_register,
      METH_FASTCALL | METH_KEYWORDS,
      "allocate_and_register(hashes, start=None, prefix=None) -> BlockList[ImmutableBlock]\n\n"
      "Allocate len(hashes) - start blocks, stage them with hashes[start:] and register\n"
      "them, in one call: register(allocate(n), hashes, start) without the intermediate\n"
      "list - a prompt's full blocks after its cached prefix of start blocks.\n"
      "prefix: the blocks of that prefix (match_blocks' result: a BlockList or list of\n"
      "ImmutableBlock of this manager, one per hashes[:start]). start=None: len(prefix),\n"
      "or 0 without prefix; with a prefix, start must be None or len(prefix).\n"
      "The prefix is consumed and the result holds its blocks first, then the new ones -\n"
      "the request's block table, which one release() returns tail first.\n"
      "All or nothing like allocate(n): ExhaustedError when too few blocks are available;\n"
      "on any error no block is kept (blocks evicted to make room stay evicted) and the\n"
      "prefix is untouched. Under duplication='reject' a hash already registered yields\n"
      "the existing block and the new one returns to the reset pool, as in register()." },
    { "match_blocks", mgr_match_blocks, METH_O,
      "match_blocks(hashes) -> BlockList[ImmutableBlock]\n\n"
      "The longest prefix of hashes whose blocks are active or cached (cached blocks are\n"
      "resurrected); stops at the first miss. hashes: kvbm.Hashes (fastest), a uint64\n"
      "(n, 2) buffer or a list of 128-bit ints. One call, no Python object per block." },
    { "scan_matches", (PyCFunction)(void (*)(void))mgr_scan_matches, METH_VARARGS | METH_KEYWORDS,
      "scan_matches(hashes, touch=True) -> BlockList[ImmutableBlock]\n\n"
      "Every hash present (misses skipped), one block per distinct hash in first-found\n"
      "order; .hashes of the result tells which. touch: update the frequency tracker." },
    { "release_many", mgr_release_many, METH_O,
      "release_many(blocks): release a BlockList (tail first, one call) or a list of block\n"
      "objects of this manager. Everything is validated first; on error nothing is released." },
    { "reset_inactive_pool", mgr_reset_inactive, METH_NOARGS,
      "reset_inactive_pool(): drain every cached block back to the reset pool. Raises\n"
      "ResetMismatchError when blocks are still held (the drain is not rolled back)." },
    { "check_invariants", mgr_check, METH_NOARGS,
      "check_invariants(): O(n) consistency walk; raises PoisonedError on a violation." },
    { "has_inactive", mgr_has_inactive, METH_O,
      "has_inactive(plh) -> bool: whether the hash is cached in the inactive pool." },
    { "metrics", mgr_metrics, METH_NOARGS,
      "metrics() -> dict[str, int]: snapshot of the 15 counters and 4 gauges." },
    { "prometheus_text", mgr_prometheus, METH_NOARGS,
      "prometheus_text() -> str: the metrics in Prometheus text exposition format\n"
      "(kvbm_* names, label pool=<metrics_label>)." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef manager_getset[] = {
    { "total_blocks", g_total, NULL, "Number of blocks of the pool.", NULL },
    { "available_blocks", g_avail, NULL, "Reset + inactive blocks (allocatable now).", NULL },
    { "reset_blocks", g_reset, NULL, "Blocks in the reset pool.", NULL },
    { "inactive_blocks", g_inactive, NULL, "Cached (inactive, evictable) blocks.", NULL },
    { "block_size", g_bs, NULL, "Tokens per block.", NULL },
    { "id", g_id, NULL, "Process-unique manager id.", NULL },
    { "tier", g_tier, NULL, "Presence key in the registry (0..3 = G1..G4).", NULL },
    { "registry", g_registry, NULL, "The kvbm.Registry the manager uses.", NULL },
    { "backend", g_backend, NULL, "Backend name (lineage, lineage-fifo, lru, multi-lru, hashmap).", NULL },
    { "duplication", g_dup, NULL, "Duplication policy: 'allow' or 'reject'.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

PyTypeObject kvbmpy_ManagerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.Manager",
    .tp_basicsize = sizeof(Mgr),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "Manager(block_count, block_size=16, backend='lineage', registry=None, *,\n"
        "        duplication='allow', multi_lru_thresholds=(3, 8, 15),\n"
        "        reset_on_release=False, tier=0, metrics_label=None)\n\n"
        "A pool of block_count KV-cache blocks and their lifecycle:\n"
        "allocate -> MutableBlock -> complete/stage -> CompleteBlock -> register ->\n"
        "ImmutableBlock -> release -> cached (inactive) -> evicted by a later allocate.\n\n"
        "backend: 'lineage' (evict leaves of the prefix forest, default), 'lineage-fifo',\n"
        "'lru', 'multi-lru' (needs a registry with a tracker) or 'hashmap'.\n"
        "registry: a shared kvbm.Registry, or None for a private one (with the 'medium'\n"
        "TinyLFU tracker for multi-lru, without tracker otherwise).\n"
        "duplication: 'allow' (several blocks may share a hash) or 'reject'.\n"
        "reset_on_release: released blocks return to the reset pool instead of the cache.\n"
        "tier: the presence key in the registry (0..3 = G1..G4).\n"
        "metrics_label: the Prometheus pool label (default 'G1'..'G4' by tier).\n\n"
        "Thread-safe: every method may be called from any Python thread; batch calls\n"
        "release the GIL. Raises ConfigError for invalid settings.",
    .tp_new = manager_new,
    .tp_dealloc = manager_dealloc,
    .tp_repr = manager_repr,
    .tp_methods = manager_methods,
    .tp_getset = manager_getset,
};
