/* python/src/module.c - kvbm._kvbm module init and the plh_* helper functions.
 *
 * Single-phase initialisation with static types: the types and exception classes live
 * for the whole process, so objects that outlive the module dict at interpreter shutdown
 * (a block list released by a finalizer) still work.
 */
#include "ext.h"

static PyObject *one_plh(PyObject *arg, kvbm_plh *h)
{
    return kvbmpy_plh_from_obj(arg, h) < 0 ? NULL : Py_None;
}

/* plh_<name>(plh) -> int: one 64-bit field of a PLH. */
#define PLH_U64_FN(fn, getter)                                   \
    static PyObject *fn(PyObject *m, PyObject *arg)              \
    {                                                            \
        kvbm_plh h;                                              \
        if (!one_plh(arg, &h))                                   \
            return NULL;                                         \
        return PyLong_FromUnsignedLongLong(getter(h));           \
    }
PLH_U64_FN(f_position, kvbm_plh_position)
PLH_U64_FN(f_current, kvbm_plh_current)
PLH_U64_FN(f_parent_fragment, kvbm_plh_parent_fragment)

static PyObject *f_to_hex(PyObject *m, PyObject *arg)
{
    kvbm_plh h;
    char buf[KVBM_PLH_HEX_LEN];
    if (!one_plh(arg, &h))
        return NULL;
    return PyUnicode_FromString(kvbm_plh_to_hex(h, buf));
}

static PyObject *f_display(PyObject *m, PyObject *arg)
{
    kvbm_plh h;
    char buf[KVBM_PLH_DISPLAY_LEN];
    if (!one_plh(arg, &h))
        return NULL;
    return PyUnicode_FromString(kvbm_plh_display(h, buf));
}

static PyObject *f_from_hex(PyObject *m, PyObject *arg)
{
    const char *s = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (!s)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "expected a str");
    kvbm_plh h;
    kvbm_status st = kvbm_plh_from_hex(s, &h);
    if (st != KVBM_OK)
        return kvbmpy_raise_msg(st, "not a 32-digit hex PLH: '%s'", s);
    if (kvbm_plh_validate(h) != KVBM_OK)
        return kvbmpy_raise_msg(KVBM_EPROTO, "'%s' is not a valid PLH", s);
    return kvbmpy_plh_to_obj(h);
}

static PyObject *f_new(PyObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "current", "parent", "position", NULL };
    unsigned long long cur, pos = 0;
    PyObject *parent = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "K|OK:plh_new", kwlist, &cur, &parent, &pos))
        return NULL;
    unsigned long long par = 0;
    if (parent != Py_None) {
        par = PyLong_AsUnsignedLongLong(parent);
        if (PyErr_Occurred())
            return NULL;
    }
    kvbm_plh h;
    kvbm_status s = kvbm_plh_new(cur, parent != Py_None, par, pos, &h);
    if (s != KVBM_OK)
        return kvbmpy_raise_msg(s, "position %llu is beyond the PLH limit %llu", pos,
                                (unsigned long long)KVBM_PLH_MAX_POSITION);
    return kvbmpy_plh_to_obj(h);
}

static PyObject *f_strerror(PyObject *m, PyObject *arg)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(kvbm_strerror((kvbm_status)v));
}

static PyMethodDef module_functions[] = {
    { "plh_position", f_position, METH_O, "plh_position(plh) -> int: the block position." },
    { "plh_current", f_current, METH_O, "plh_current(plh) -> int: the chained 64-bit hash." },
    { "plh_parent_fragment", f_parent_fragment, METH_O,
      "plh_parent_fragment(plh) -> int: the stored parent fragment (0 at the root)." },
    { "plh_to_hex", f_to_hex, METH_O, "plh_to_hex(plh) -> str: 32 lowercase hex digits." },
    { "plh_from_hex", f_from_hex, METH_O, "plh_from_hex(text) -> int (optional 0x prefix)." },
    { "plh_display", f_display, METH_O, "plh_display(plh) -> str: 'pos:b58(current)[:b58(parent)]'." },
    { "plh_new", (PyCFunction)(void (*)(void))f_new, METH_VARARGS | METH_KEYWORDS,
      "plh_new(current, parent=None, position=0) -> int: a PLH from known 64-bit hashes." },
    { "strerror", f_strerror, METH_O, "strerror(status) -> str: text of a kvbm status code." },
    { NULL, NULL, 0, NULL }
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "kvbm._kvbm",
    "kvbm._kvbm - CPython extension of the kvbm C library (use the kvbm package).",
    -1, module_functions, NULL, NULL, NULL, NULL
};

int kvbmpy_add_type(PyObject *mod, PyTypeObject *t)
{
    if (PyType_Ready(t) < 0)
        return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(mod, t->tp_name + 5, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__kvbm(void);
PyMODINIT_FUNC PyInit__kvbm(void)
{
    PyObject *mod = PyModule_Create(&module_def);
    if (!mod)
        return NULL;
    PyTypeObject *types[] = {
        &kvbmpy_HashesType, &kvbmpy_TokenBlockType, &kvbmpy_TokenBlockSequenceType,
        &kvbmpy_RegistryType, &kvbmpy_ManagerType, &kvbmpy_BlockListType,
        &kvbmpy_MutableBlockType, &kvbmpy_CompleteBlockType, &kvbmpy_ImmutableBlockType,
        &kvbmpy_WeakBlockType, &kvbmpy_PinType,
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (kvbmpy_add_type(mod, types[i]) < 0)
            goto fail;
    if (kvbmpy_errors_init(mod) < 0 || kvbmpy_events_init(mod) < 0 ||
        kvbmpy_metrics_init(mod) < 0 || kvbmpy_sequence_init(mod) < 0 ||
        kvbmpy_schedulable_init(mod) < 0)
        goto fail;
    PyObject *backends = Py_BuildValue(
        "(sssss)", kvbm_backend_name(KVBM_BACKEND_LINEAGE, KVBM_LINEAGE_TICK),
        kvbm_backend_name(KVBM_BACKEND_LINEAGE, KVBM_LINEAGE_FIFO),
        kvbm_backend_name(KVBM_BACKEND_LRU, KVBM_LINEAGE_TICK),
        kvbm_backend_name(KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK),
        kvbm_backend_name(KVBM_BACKEND_HASHMAP, KVBM_LINEAGE_TICK));
    if (!backends || PyModule_AddObject(mod, "BACKENDS", backends) < 0) {
        Py_XDECREF(backends);
        goto fail;
    }
    PyObject *names = PyTuple_New(KVBM_METRIC_COUNT);
    for (int i = 0; names && i < KVBM_METRIC_COUNT; i++) {
        PyObject *s = PyUnicode_FromString(kvbm_metric_name((kvbm_metric_id)i));
        if (!s) {
            Py_CLEAR(names);
            break;
        }
        PyTuple_SET_ITEM(names, i, s);
    }
    if (!names || PyModule_AddObject(mod, "METRIC_NAMES", names) < 0) {
        Py_XDECREF(names);
        goto fail;
    }
    if (PyModule_AddStringConstant(mod, "LIBRARY_VERSION", kvbm_version_string()) < 0 ||
        PyModule_AddIntConstant(mod, "PLH_MAX_POSITION", (long)KVBM_PLH_MAX_POSITION) < 0 ||
        PyModule_AddIntConstant(mod, "MAX_BLOCK_SIZE", KVBM_TOKENS_MAX_BLOCK_SIZE) < 0)
        goto fail;
    return mod;
fail:
    Py_DECREF(mod);
    return NULL;
}
