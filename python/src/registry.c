/* python/src/registry.c - kvbm.Registry: the hash -> registration registry shared by the
 * managers of several tiers, with an optional TinyLFU frequency tracker. */
#include <string.h>

#include "ext.h"

static int make_tracker(PyObject *spec, kvbm_tracker **out)
{
    *out = NULL;
    if (spec == Py_None)
        return 0;
    kvbm_status s;
    if (PyUnicode_Check(spec)) {
        const char *name = PyUnicode_AsUTF8(spec);
        if (!name)
            return -1;
        if (!strcmp(name, "none"))
            return 0;
        if (!strcmp(name, "small"))
            s = kvbm_tinylfu_create_preset(KVBM_TRACKER_SMALL, out);
        else if (!strcmp(name, "medium"))
            s = kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, out);
        else if (!strcmp(name, "large"))
            s = kvbm_tinylfu_create_preset(KVBM_TRACKER_LARGE, out);
        else if (!strcmp(name, "noop"))
            s = kvbm_noop_tracker_create(out);
        else {
            kvbmpy_raise_msg(KVBM_EINVAL, "tracker must be None, 'none', 'noop', 'small', "
                             "'medium', 'large' or a TinyLFU capacity, got '%s'", name);
            return -1;
        }
    } else if (PyLong_Check(spec)) {
        unsigned long long cap = PyLong_AsUnsignedLongLong(spec);
        if ((cap == (unsigned long long)-1 && PyErr_Occurred()) || cap == 0 ||
            cap > (UINT64_C(1) << 32)) {
            PyErr_Clear();
            kvbmpy_raise_msg(KVBM_EINVAL, "a TinyLFU capacity must be in 1..2**32, got %R", spec);
            return -1;
        }
        s = kvbm_tinylfu_create(cap, NULL, out);
    } else {
        PyErr_Format(PyExc_TypeError, "tracker must be None, a preset name or an int, not %.80s",
                     Py_TYPE(spec)->tp_name);
        return -1;
    }
    if (s != KVBM_OK) {
        kvbmpy_raise(s);
        return -1;
    }
    return 0;
}

static PyObject *registry_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "tracker", NULL };
    PyObject *spec = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:Registry", kwlist, &spec))
        return NULL;
    kvbm_tracker *t;
    if (make_tracker(spec, &t) < 0)
        return NULL;
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.tracker = t;
    kvbmpy_Registry *o = (kvbmpy_Registry *)type->tp_alloc(type, 0);
    if (o) {
        kvbm_status s = kvbm_registry_create(&cfg, &o->r);
        if (s != KVBM_OK) {
            Py_CLEAR(o);
            kvbmpy_raise(s);
        }
    }
    kvbm_tracker_release(t); /* the registry holds its own reference */
    return (PyObject *)o;
}

PyObject *kvbmpy_registry_create(const char *tracker)
{
    PyObject *args = PyTuple_New(0);
    PyObject *kw = tracker ? Py_BuildValue("{ss}", "tracker", tracker) : NULL;
    PyObject *r = args && (kw || !tracker) ? registry_new(&kvbmpy_RegistryType, args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    return r;
}

static void registry_dealloc(PyObject *self)
{
    kvbm_registry_release(((kvbmpy_Registry *)self)->r);
    Py_TYPE(self)->tp_free(self);
}

#define REG(self) (((kvbmpy_Registry *)(self))->r)

static PyObject *reg_is_registered(PyObject *self, PyObject *arg)
{
    kvbm_plh h;
    if (kvbmpy_plh_from_obj(arg, &h) < 0)
        return NULL;
    return PyBool_FromLong(kvbm_registry_is_registered(REG(self), h));
}

static PyObject *reg_count(PyObject *self, PyObject *arg)
{
    kvbm_plh h;
    if (kvbmpy_plh_from_obj(arg, &h) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(kvbm_registry_count(REG(self), h));
}

static PyObject *reg_touch(PyObject *self, PyObject *arg)
{
    kvbmpy_plhs v;
    if (PyLong_Check(arg)) {
        kvbm_plh h;
        if (kvbmpy_plh_from_obj(arg, &h) < 0)
            return NULL;
        kvbm_registry_touch(REG(self), h);
        Py_RETURN_NONE;
    }
    if (kvbmpy_plhs_get(arg, &v) < 0)
        return NULL;
    KVBMPY_NOGIL_IF(v.n, kvbm_registry_touch_many(REG(self), v.p, (size_t)v.n));
    kvbmpy_plhs_free(&v);
    Py_RETURN_NONE;
}

static PyObject *reg_check_presence(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "hashes", "tier", NULL };
    PyObject *hs;
    unsigned long long tier = KVBM_G1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O&:check_presence", kwlist, &hs, kvbmpy_conv_u64, &tier))
        return NULL;
    kvbmpy_plhs v;
    if (kvbmpy_plhs_get(hs, &v) < 0)
        return NULL;
    PyObject *res = NULL;
    bool *out = PyMem_Malloc((size_t)(v.n ? v.n : 1) * sizeof(bool));
    if (!out) {
        PyErr_NoMemory();
        goto done;
    }
    kvbm_status s;
    KVBMPY_NOGIL_IF(v.n, s = kvbm_registry_check_presence(REG(self), tier, v.p, (size_t)v.n, out));
    if (s != KVBM_OK) {
        kvbmpy_raise(s);
        goto done;
    }
    res = PyList_New(v.n);
    for (Py_ssize_t i = 0; res && i < v.n; i++)
        PyList_SET_ITEM(res, i, Py_NewRef(out[i] ? Py_True : Py_False));
done:
    PyMem_Free(out);
    kvbmpy_plhs_free(&v);
    return res;
}

static PyObject *reg_len_get(PyObject *self, void *c)
{
    return PyLong_FromSize_t(kvbm_registry_registered_count(REG(self)));
}
static PyObject *reg_has_tracking(PyObject *self, void *c)
{
    return PyBool_FromLong(kvbm_registry_has_frequency_tracking(REG(self)));
}
static Py_ssize_t reg_len(PyObject *self) { return (Py_ssize_t)kvbm_registry_registered_count(REG(self)); }
static int reg_contains(PyObject *self, PyObject *arg)
{
    kvbm_plh h;
    if (kvbmpy_plh_from_obj(arg, &h) < 0)
        return -1;
    return kvbm_registry_is_registered(REG(self), h);
}

static PyMethodDef registry_methods[] = {
    { "is_registered", reg_is_registered, METH_O,
      "is_registered(plh) -> bool: whether a live registration exists for the hash." },
    { "frequency", reg_count, METH_O,
      "frequency(plh) -> int: the tracker's access-count estimate (0 without tracker)." },
    { "touch", reg_touch, METH_O,
      "touch(plh_or_hashes): frequency touch of one hash or a batch (tracker only)." },
    { "check_presence", (PyCFunction)(void (*)(void))reg_check_presence,
      METH_VARARGS | METH_KEYWORDS,
      "check_presence(hashes, tier=0) -> list[bool]: for each hash, whether a manager of\n"
      "tier `tier` (0 = G1 .. 3 = G4) holds a block for it (active or cached)." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef registry_getset[] = {
    { "registered_count", reg_len_get, NULL, "Number of live registrations (also len()).", NULL },
    { "has_frequency_tracking", reg_has_tracking, NULL, "True when a tracker is attached.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PySequenceMethods registry_as_seq = { .sq_length = reg_len, .sq_contains = reg_contains };

PyTypeObject kvbmpy_RegistryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.Registry",
    .tp_basicsize = sizeof(kvbmpy_Registry),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Registry(tracker=None) -> the PLH -> registration registry.\n\n"
              "Share one Registry between the managers of several tiers (G1..G4) to see\n"
              "where a block lives (check_presence). tracker: None/'none' (no frequency\n"
              "tracking), 'noop', 'small' | 'medium' | 'large' (TinyLFU presets 2**18 /\n"
              "2**21 / 2**24 entries) or an int TinyLFU capacity. The 'multi-lru' backend\n"
              "needs a tracker. `plh in registry` tests registration. Thread-safe.",
    .tp_new = registry_new,
    .tp_dealloc = registry_dealloc,
    .tp_methods = registry_methods,
    .tp_getset = registry_getset,
    .tp_as_sequence = &registry_as_seq,
};
