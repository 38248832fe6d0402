/* python/src/errors.c - the kvbm.Error hierarchy: one class per kvbm_status code.
 *
 * kvbm.Error(Exception) carries .status (int), .status_name ("KVBM_EINVAL") and .detail
 * (kvbm_last_error() of the failed call, or the binding's own message). Every code of
 * KVBM_STATUS_MAP has a subclass; some also derive from the matching builtin exception so
 * that idiomatic `except ValueError` / `except MemoryError` keeps working. The class
 * objects are kept in static storage and never released, so raising stays safe while the
 * module is being torn down at interpreter shutdown.
 */
#include <string.h>

#include "ext.h"

PyObject *kvbmpy_Error;
PyObject *kvbmpy_ReleasedError;
PyObject *kvbmpy_ShutdownError;

typedef struct {
    kvbm_status status;
    const char *name;     /* Python class name */
    PyObject  **builtin;  /* extra base class or NULL */
    PyObject   *cls;
} err_class;

static err_class classes[] = {
    { KVBM_EINVAL,              "InvalidArgumentError",  &PyExc_ValueError, NULL },
    { KVBM_ENOMEM,              "OutOfMemoryError",      &PyExc_MemoryError, NULL },
    { KVBM_ENOENT,              "NotFoundError",         &PyExc_LookupError, NULL },
    { KVBM_EBUSY,               "BusyError",             NULL, NULL },
    { KVBM_EEXHAUSTED,          "ExhaustedError",        NULL, NULL },
    { KVBM_EPOISONED,           "PoisonedError",         NULL, NULL },
    { KVBM_EPROTO,              "ProtocolError",         &PyExc_ValueError, NULL },
    { KVBM_ESIZE,               "SizeMismatchError",     &PyExc_ValueError, NULL },
    { KVBM_ECONFIG,             "ConfigError",           &PyExc_ValueError, NULL },
    { KVBM_EBACKEND,            "BackendError",          NULL, NULL },
    { KVBM_ERESET_MISMATCH,     "ResetMismatchError",    NULL, NULL },
    { KVBM_EATTACH_IS_MULTIPLE, "AttachIsMultipleError", NULL, NULL },
    { KVBM_EATTACH_IS_UNIQUE,   "AttachIsUniqueError",   NULL, NULL },
    { KVBM_ERANGE,              "OutOfRangeError",       &PyExc_ValueError, NULL },
    { KVBM_EFULL,               "FullError",             NULL, NULL },
    { KVBM_EEMPTY,              "EmptyError",            NULL, NULL },
    { KVBM_EINCOMPLETE,         "IncompleteError",       NULL, NULL },
    { KVBM_EINSUFFICIENT,       "InsufficientError",     &PyExc_ValueError, NULL },
    { KVBM_EIO,                 "IOFailureError",        &PyExc_OSError, NULL },
    { KVBM_ETIMEDOUT,           "TimedOutError",         &PyExc_TimeoutError, NULL },
    { KVBM_ECLOSED,             "ClosedError",           NULL, NULL },
    { KVBM_EOVERFLOW,           "CountOverflowError",    &PyExc_OverflowError, NULL },
    { KVBM_EADDRINUSE,          "AddressInUseError",     &PyExc_OSError, NULL },
    { KVBM_ESTATE,              "StateError",            NULL, NULL },
    { KVBM_ECONNECT,            "ConnectError",          &PyExc_ConnectionError, NULL },
    { KVBM_EUNSUPPORTED,        "UnsupportedError",      NULL, NULL },
    { KVBM_ELAGGED,             "LaggedError",           NULL, NULL },
};
#define N_CLASSES (sizeof classes / sizeof classes[0])

static PyObject *class_of(kvbm_status s)
{
    for (size_t i = 0; i < N_CLASSES; i++)
        if (classes[i].status == s)
            return classes[i].cls;
    return kvbmpy_Error;
}

/* Raise @cls for status @s; @detail (new reference or NULL) explains the call. */
static PyObject *raise_detail(PyObject *cls, kvbm_status s, PyObject *detail)
{
    if (!detail)
        return NULL;
    PyObject *msg = PyUnicode_GET_LENGTH(detail) > 0
        ? PyUnicode_FromFormat("%U (%s)", detail, kvbm_status_name(s))
        : PyUnicode_FromFormat("%s (%s)", kvbm_strerror(s), kvbm_status_name(s));
    PyObject *exc = msg ? PyObject_CallOneArg(cls, msg) : NULL;
    Py_XDECREF(msg);
    if (!exc) {
        Py_DECREF(detail);
        return NULL;
    }
    PyObject *st = PyLong_FromLong((long)s);
    PyObject *nm = PyUnicode_FromString(kvbm_status_name(s));
    if (st && nm) {
        PyObject_SetAttrString(exc, "status", st);
        PyObject_SetAttrString(exc, "detail", detail);
        PyObject_SetAttrString(exc, "status_name", nm);
    }
    Py_XDECREF(st);
    Py_XDECREF(nm);
    Py_DECREF(detail);
    if (PyErr_Occurred()) {
        Py_DECREF(exc);
        return NULL;
    }
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *kvbmpy_raise(kvbm_status s)
{
    const char *d = kvbm_last_error();
    PyObject *detail = PyUnicode_DecodeUTF8(d, (Py_ssize_t)strlen(d), "replace");
    kvbm_clear_last_error(); /* the next failure must not show this message */
    return raise_detail(class_of(s), s, detail);
}

PyObject *kvbmpy_raise_msg(kvbm_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyObject *detail = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    return raise_detail(class_of(s), s, detail);
}

PyObject *kvbmpy_released(const char *what)
{
    return raise_detail(kvbmpy_ReleasedError, KVBM_EINVAL,
                        PyUnicode_FromFormat("%s was already released or consumed", what));
}

int kvbmpy_shutdown_error(void)
{
    raise_detail(kvbmpy_ShutdownError, KVBM_ESTATE,
                 PyUnicode_FromString("the Python interpreter is shutting down; kvbm refuses "
                                      "new work (releasing blocks still works)"));
    return -1;
}

static PyObject *new_class(PyObject *module, const char *name, PyObject *bases,
                           const char *doc)
{
    char qual[96];
    snprintf(qual, sizeof qual, "kvbm.%s", name);
    PyObject *cls = PyErr_NewExceptionWithDoc(qual, doc, bases, NULL);
    if (!cls)
        return NULL;
    Py_INCREF(cls); /* the static pointer's own reference, never dropped */
    if (PyModule_AddObject(module, name, cls) < 0) {
        Py_DECREF(cls);
        Py_DECREF(cls);
        return NULL;
    }
    return cls;
}

static PyObject *status_map(void)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    for (size_t i = 0; i < N_CLASSES; i++) {
        PyObject *k = PyLong_FromLong((long)classes[i].status);
        if (!k || PyDict_SetItem(d, k, classes[i].cls) < 0) {
            Py_XDECREF(k);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(k);
    }
    return d;
}

int kvbmpy_errors_init(PyObject *module)
{
    kvbmpy_Error = new_class(module, "Error", NULL,
        "Base class of every kvbm error.\n\n"
        "Attributes: status (the negative kvbm_status code), status_name (e.g.\n"
        "'KVBM_EINVAL') and detail (the C library's detail message for the call).");
    if (!kvbmpy_Error)
        return -1;
    for (size_t i = 0; i < N_CLASSES; i++) {
        PyObject *bases = classes[i].builtin
            ? PyTuple_Pack(2, kvbmpy_Error, *classes[i].builtin)
            : PyTuple_Pack(1, kvbmpy_Error);
        if (!bases)
            return -1;
        char doc[200];
        snprintf(doc, sizeof doc, "%s (%s = %d).", kvbm_strerror(classes[i].status),
                 kvbm_status_name(classes[i].status), (int)classes[i].status);
        classes[i].cls = new_class(module, classes[i].name, bases, doc);
        Py_DECREF(bases);
        if (!classes[i].cls)
            return -1;
    }
    PyObject *b = PyTuple_Pack(1, class_of(KVBM_EINVAL));
    if (!b)
        return -1;
    kvbmpy_ReleasedError = new_class(module, "ReleasedError", b,
        "A handle or block list was used after release() or after it was consumed "
        "(status KVBM_EINVAL).");
    Py_DECREF(b);
    b = PyTuple_Pack(2, class_of(KVBM_ESTATE), PyExc_RuntimeError);
    if (!kvbmpy_ReleasedError || !b)
        return -1;
    kvbmpy_ShutdownError = new_class(module, "ShutdownError", b,
        "A manager operation was attempted after interpreter shutdown began "
        "(status KVBM_ESTATE).");
    Py_DECREF(b);
    if (!kvbmpy_ShutdownError)
        return -1;
    PyObject *m = status_map();
    if (!m || PyModule_AddObject(module, "STATUS_ERRORS", m) < 0) {
        Py_XDECREF(m);
        return -1;
    }
    return 0;
}
