/* python/src/events.c - kvbm.EventsManager, kvbm.Subscription and kvbm.Event: the KV cache
 * event stream of kvbm/events.h.
 *
 * An EventsManager owns one kvbm_events_manager reference (released on GC); attach(registry)
 * makes every manager sharing that registry feed the stream. subscribe() returns a
 * Subscription owning one kvbm_events_sub: next(timeout) waits with the GIL released (in
 * slices of at most 100 ms, so Ctrl-C and signal handlers run), and the object is an
 * iterator whose __next__ waits up to .timeout (None: forever) and ends (StopIteration)
 * when the stream is closed. Lag (KVBM_ELAGGED) raises kvbm.LaggedError with .lost; the
 * next call returns the oldest event still available.
 * Threads: a subscription is used by one thread at a time (kvbm_events_next's contract);
 * the binding enforces it with a busy flag taken under the GIL (BusyError otherwise), so
 * the object cannot be unsubscribed or used twice while a thread waits without the GIL.
 * Custom emission policies are not offered: should_emit runs under a registry lock, where
 * no Python code may run.
 */
#include <string.h>

#include "ext.h"

/* ---- Event (a structseq: kind, hash) ------------------------------------------------ */

static PyTypeObject EventType;
static PyStructSequence_Field event_fields[] = {
    { "kind", "'create' or 'remove'" },
    { "hash", "the block's PLH (128-bit int)" },
    { NULL, NULL }
};
static PyStructSequence_Desc event_desc = {
    "kvbm.Event", "Event(kind, hash): one KV cache event of an events stream.", event_fields, 2
};
static PyObject *kind_str[2]; /* interned 'create', 'remove' */

static PyObject *event_new(const kvbm_event *ev)
{
    PyObject *o = PyStructSequence_New(&EventType);
    PyObject *h = o ? kvbmpy_plh_to_obj(ev->hash) : NULL;
    if (!h) {
        Py_XDECREF(o);
        return NULL;
    }
    PyStructSequence_SET_ITEM(o, 0, Py_NewRef(kind_str[ev->kind == KVBM_EVENT_REMOVE]));
    PyStructSequence_SET_ITEM(o, 1, h);
    return o;
}

/* ---- EventsManager ----------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    kvbm_events_manager *m;
} EvMgr;

static int parse_policy(PyObject *policy, kvbm_events_policy *out)
{
    if (policy == Py_None) {
        *out = kvbm_events_policy_all();
        return 0;
    }
    if (PyUnicode_Check(policy)) {
        const char *s = PyUnicode_AsUTF8(policy);
        if (!s)
            return -1;
        if (!strcmp(s, "all")) {
            *out = kvbm_events_policy_all();
            return 0;
        }
        if (!strcmp(s, "power_of_two")) {
            *out = kvbm_events_policy_power_of_two();
            return 0;
        }
    } else if (PyTuple_Check(policy)) {
        const char *s;
        unsigned long long lo, hi;
        if (!PyArg_ParseTuple(policy, "sKK;policy tuple must be ('power_of_two', min, max)",
                              &s, &lo, &hi))
            return -1;
        if (!strcmp(s, "power_of_two")) {
            if (lo > hi) {
                kvbmpy_raise_msg(KVBM_ECONFIG, "power_of_two policy: min %llu > max %llu", lo, hi);
                return -1;
            }
            *out = kvbm_events_policy_power_of_two_range(lo, hi);
            return 0;
        }
    } else {
        PyErr_Format(PyExc_TypeError, "policy must be None, a str or a tuple, not %.80s",
                     Py_TYPE(policy)->tp_name);
        return -1;
    }
    kvbmpy_raise_msg(KVBM_ECONFIG, "policy must be 'all', 'power_of_two' or ('power_of_two', "
                     "min, max), got %R", policy);
    return -1;
}

static PyObject *evmgr_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "registry", "policy", "capacity", NULL };
    PyObject *reg = Py_None, *policy = Py_None;
    long long cap = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOL:EventsManager", kwlist, &reg, &policy, &cap))
        return NULL;
    if (reg != Py_None && !PyObject_TypeCheck(reg, &kvbmpy_RegistryType))
        return PyErr_Format(PyExc_TypeError, "registry must be a kvbm.Registry or None, not %.80s",
                            Py_TYPE(reg)->tp_name);
    if (cap < 0 || cap > (1 << 20))
        return kvbmpy_raise_msg(KVBM_ECONFIG, "capacity must be in 0..2**20 (0: 262144), got %lld",
                                cap);
    kvbm_events_config cfg = KVBM_EVENTS_CONFIG_INIT;
    if (parse_policy(policy, &cfg.policy) < 0)
        return NULL;
    cfg.channel_capacity = (uint32_t)cap;
    EvMgr *o = (EvMgr *)type->tp_alloc(type, 0);
    if (!o)
        return NULL;
    kvbm_status s = kvbm_events_manager_create(&cfg, &o->m);
    if (s != KVBM_OK) {
        Py_DECREF(o);
        return kvbmpy_raise(s);
    }
    if (reg != Py_None && (s = kvbm_events_manager_attach(o->m, ((kvbmpy_Registry *)reg)->r))
                              != KVBM_OK) {
        Py_DECREF(o);
        return kvbmpy_raise(s);
    }
    return (PyObject *)o;
}

static void evmgr_dealloc(PyObject *self)
{
    EvMgr *o = (EvMgr *)self;
    if (o->m) {
        kvbm_events_manager *m = o->m;
        o->m = NULL;
        KVBMPY_NOGIL(kvbm_events_manager_release(m)); /* detaches: may wait for registry locks */
    }
    Py_TYPE(self)->tp_free(self);
}

static kvbm_registry *registry_arg(PyObject *arg)
{
    if (!PyObject_TypeCheck(arg, &kvbmpy_RegistryType)) {
        PyErr_Format(PyExc_TypeError, "expected a kvbm.Registry, not %.80s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    return ((kvbmpy_Registry *)arg)->r;
}

/* attach (@attach != 0) or detach a registry, with the GIL released (observer lists). */
static PyObject *attach_detach(PyObject *self, PyObject *arg, int attach)
{
    kvbm_registry *r = registry_arg(arg);
    if (!r)
        return NULL;
    kvbm_events_manager *m = ((EvMgr *)self)->m;
    kvbm_status s;
    KVBMPY_NOGIL(s = attach ? kvbm_events_manager_attach(m, r) : kvbm_events_manager_detach(m, r));
    return s == KVBM_OK ? Py_NewRef(Py_None) : kvbmpy_raise(s);
}

static PyObject *evmgr_attach(PyObject *self, PyObject *arg) { return attach_detach(self, arg, 1); }
static PyObject *evmgr_detach(PyObject *self, PyObject *arg) { return attach_detach(self, arg, 0); }

static PyObject *evmgr_close(PyObject *self, PyObject *unused)
{
    kvbm_events_manager_close(((EvMgr *)self)->m);
    Py_RETURN_NONE;
}

static PyObject *evmgr_stats(PyObject *self, PyObject *unused)
{
    kvbm_events_stats st;
    kvbm_status s = kvbm_events_manager_get_stats(((EvMgr *)self)->m, &st);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    return Py_BuildValue("{sKsKsKsKsKsKsK}", "created", (unsigned long long)st.created,
                         "removed", (unsigned long long)st.removed,
                         "filtered", (unsigned long long)st.filtered,
                         "attach_failures", (unsigned long long)st.attach_failures,
                         "lost", (unsigned long long)st.lost,
                         "dropped_closed", (unsigned long long)st.dropped_closed,
                         "subscribers", (unsigned long long)st.subscribers);
}

static PyObject *evmgr_capacity(PyObject *self, void *c)
{
    return PyLong_FromSize_t(kvbm_events_manager_capacity(((EvMgr *)self)->m));
}

static PyObject *sub_create(EvMgr *mgr, PyObject *timeout);

static PyObject *evmgr_subscribe(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "timeout", NULL };
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:subscribe", kwlist, &timeout))
        return NULL;
    return sub_create((EvMgr *)self, timeout);
}

static PyMethodDef evmgr_methods[] = {
    { "attach", evmgr_attach, METH_O,
      "attach(registry): watch a kvbm.Registry - every manager sharing it feeds this stream\n"
      "(at most 8 registries). BusyError if already attached, FullError without a free slot." },
    { "detach", evmgr_detach, METH_O,
      "detach(registry): stop watching it. NotFoundError if it was not attached." },
    { "subscribe", (PyCFunction)(void (*)(void))evmgr_subscribe, METH_VARARGS | METH_KEYWORDS,
      "subscribe(timeout=None) -> Subscription\n\n"
      "A subscription receiving every event sent from now on. timeout (seconds, None =\n"
      "forever) is how long iteration waits for each event." },
    { "close", evmgr_close, METH_NOARGS,
      "close(): end the stream now: subscribers get what was sent before, then the end\n"
      "(StopIteration / ClosedError); later events are dropped. Idempotent." },
    { "stats", evmgr_stats, METH_NOARGS,
      "stats() -> dict[str, int]: created, removed, filtered, attach_failures, lost,\n"
      "dropped_closed, subscribers." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef evmgr_getset[] = {
    { "capacity", evmgr_capacity, NULL, "Ring capacity (a power of two).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject EvMgrType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.EventsManager",
    .tp_basicsize = sizeof(EvMgr),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "EventsManager(registry=None, policy=None, capacity=0)\n\n"
        "The KV cache event stream: one Create per new registration of a hash the policy\n"
        "accepts, one Remove when that registration dies (the last holder in every tier).\n"
        "registry: a kvbm.Registry to attach at once (attach() adds more).\n"
        "policy: None/'all' (every registration), 'power_of_two' (positions 16..65536) or\n"
        "('power_of_two', min, max).\n"
        "capacity: ring size (0: 262144, rounded up to a power of two, at most 2**20); a\n"
        "subscriber more than capacity events behind loses the oldest (LaggedError).\n"
        "Dropping the object detaches it; the stream ends once every announced\n"
        "registration is removed, or at once after close().",
    .tp_new = evmgr_new,
    .tp_dealloc = evmgr_dealloc,
    .tp_methods = evmgr_methods,
    .tp_getset = evmgr_getset,
};

/* ---- Subscription -------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    kvbm_events_sub *sub; /* NULL once closed */
    int              busy;    /* a thread is in next() with the GIL released */
    double           timeout; /* iteration timeout in seconds; < 0 = forever */
} Sub;

static int parse_timeout(PyObject *t, double *out)
{
    if (t == Py_None) {
        *out = -1;
        return 0;
    }
    double v = PyFloat_AsDouble(t);
    if (v == -1.0 && PyErr_Occurred())
        return -1;
    if (!(v >= 0) || v > 86400.0 * 365) {
        kvbmpy_raise_msg(KVBM_EINVAL, "timeout must be None or a number of seconds in "
                         "0..31536000, got %R", t);
        return -1;
    }
    *out = v;
    return 0;
}

static PyTypeObject SubType;

static PyObject *sub_create(EvMgr *mgr, PyObject *timeout)
{
    double t;
    if (parse_timeout(timeout, &t) < 0)
        return NULL;
    Sub *o = PyObject_New(Sub, &SubType);
    if (!o)
        return NULL;
    o->busy = 0;
    o->timeout = t;
    kvbm_status s = kvbm_events_subscribe(mgr->m, &o->sub);
    if (s != KVBM_OK) {
        o->sub = NULL;
        Py_DECREF(o);
        return kvbmpy_raise(s);
    }
    return (PyObject *)o;
}

static void sub_dealloc(PyObject *self)
{
    kvbm_events_unsubscribe(((Sub *)self)->sub); /* busy is impossible: the waiter holds a ref */
    PyObject_Free(self);
}

/* Wait for the next event up to @timeout seconds (< 0: forever). Returns an Event, or NULL
 * with an exception; *@st receives the final status (KVBM_ECLOSED / KVBM_ETIMEDOUT let the
 * caller choose StopIteration). */
static PyObject *sub_wait(Sub *o, double timeout, kvbm_status *st)
{
    *st = KVBM_EINVAL;
    if (!o->sub)
        return kvbmpy_raise_msg(KVBM_ECLOSED, "the subscription was closed");
    if (o->busy)
        return kvbmpy_raise_msg(KVBM_EBUSY, "another thread is waiting on this subscription");
    kvbm_event ev;
    uint64_t lost = 0;
    kvbm_status s = kvbm_events_next(o->sub, 0, &ev, &lost); /* fast path, GIL held */
    if (s == KVBM_ETIMEDOUT && timeout != 0) {
        o->busy = 1;
        double left = timeout;
        for (;;) {
            int slice = (left < 0 || left > 0.1) ? 100 : (int)(left * 1000.0 + 0.5);
            if (slice < 1)
                slice = 1; /* a sub-millisecond rest still waits, then ends */
            KVBMPY_NOGIL(s = kvbm_events_next(o->sub, slice, &ev, &lost));
            if (s != KVBM_ETIMEDOUT)
                break;
            if (left >= 0 && (left -= slice / 1000.0) <= 0)
                break;
            if (PyErr_CheckSignals() < 0) {
                o->busy = 0;
                return NULL;
            }
        }
        o->busy = 0;
    }
    *st = s;
    switch (s) {
    case KVBM_OK:
        return event_new(&ev);
    case KVBM_ELAGGED: {
        kvbmpy_raise_msg(KVBM_ELAGGED, "the subscriber fell behind and lost %llu events "
                         "(the next call returns the oldest event still available)",
                         (unsigned long long)lost);
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        PyObject *n = PyLong_FromUnsignedLongLong(lost);
        if (n && v)
            PyObject_SetAttrString(v, "lost", n);
        Py_XDECREF(n);
        if (PyErr_Occurred()) {
            Py_XDECREF(t); Py_XDECREF(v); Py_XDECREF(tb);
            return NULL;
        }
        PyErr_Restore(t, v, tb);
        return NULL;
    }
    case KVBM_ETIMEDOUT: {
        char buf[64];
        PyOS_snprintf(buf, sizeof buf, "%g", timeout < 0 ? 0.0 : timeout);
        return kvbmpy_raise_msg(s, "no event within %s s", buf);
    }
    case KVBM_ECLOSED:
        return kvbmpy_raise_msg(s, "the event stream has ended");
    default:
        return kvbmpy_raise(s);
    }
}

static PyObject *sub_next_method(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "timeout", NULL };
    PyObject *timeout = Py_None;
    double t;
    kvbm_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:next", kwlist, &timeout) ||
        parse_timeout(timeout, &t) < 0)
        return NULL;
    return sub_wait((Sub *)self, t, &st);
}

static PyObject *sub_iternext(PyObject *self)
{
    kvbm_status st;
    PyObject *r = sub_wait((Sub *)self, ((Sub *)self)->timeout, &st);
    if (!r && st == KVBM_ECLOSED)
        PyErr_Clear(); /* end of iteration */
    return r;
}

static PyObject *sub_poll(PyObject *self, PyObject *unused)
{
    kvbm_status st;
    PyObject *r = sub_wait((Sub *)self, 0, &st);
    if (!r && st == KVBM_ETIMEDOUT) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return r;
}

static PyObject *sub_close(PyObject *self, PyObject *unused)
{
    Sub *o = (Sub *)self;
    if (o->busy)
        return kvbmpy_raise_msg(KVBM_EBUSY, "another thread is waiting on this subscription");
    kvbm_events_unsubscribe(o->sub);
    o->sub = NULL;
    Py_RETURN_NONE;
}

static PyObject *sub_enter(PyObject *self, PyObject *unused) { return Py_NewRef(self); }

static PyObject *sub_exit(PyObject *self, PyObject *args) { return sub_close(self, NULL); }

static PyObject *sub_lost(PyObject *self, void *c)
{
    Sub *o = (Sub *)self;
    return o->sub ? PyLong_FromUnsignedLongLong(kvbm_events_sub_lost(o->sub))
                  : kvbmpy_raise_msg(KVBM_ECLOSED, "the subscription was closed");
}

static PyObject *sub_closed(PyObject *self, void *c)
{
    return PyBool_FromLong(((Sub *)self)->sub == NULL);
}

static PyObject *sub_get_timeout(PyObject *self, void *c)
{
    double t = ((Sub *)self)->timeout;
    return t < 0 ? Py_NewRef(Py_None) : PyFloat_FromDouble(t);
}

static int sub_set_timeout(PyObject *self, PyObject *v, void *c)
{
    if (!v) {
        PyErr_SetString(PyExc_AttributeError, "timeout cannot be deleted");
        return -1;
    }
    return parse_timeout(v, &((Sub *)self)->timeout);
}

static PyMethodDef sub_methods[] = {
    { "next", (PyCFunction)(void (*)(void))sub_next_method, METH_VARARGS | METH_KEYWORDS,
      "next(timeout=None) -> Event\n\n"
      "The next event, waiting at most timeout seconds (None: forever; 0: poll) with the\n"
      "GIL released. Raises TimedOutError when nothing arrived, LaggedError (.lost = events\n"
      "skipped; the next call returns the oldest one still available) when the subscriber\n"
      "fell more than the ring capacity behind, ClosedError once the stream has ended." },
    { "poll", sub_poll, METH_NOARGS,
      "poll() -> Event | None: next(timeout=0), None when no event is waiting." },
    { "close", sub_close, METH_NOARGS,
      "close(): end the subscription (idempotent; also on garbage collection)." },
    { "__enter__", sub_enter, METH_NOARGS, "Return self." },
    { "__exit__", sub_exit, METH_VARARGS, "close()." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef sub_getset[] = {
    { "lost", sub_lost, NULL, "Events this subscription lost to lag so far.", NULL },
    { "closed", sub_closed, NULL, "Whether close() was called.", NULL },
    { "timeout", sub_get_timeout, sub_set_timeout,
      "Seconds iteration waits for each event (None: forever); TimedOutError after.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject SubType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.Subscription",
    .tp_basicsize = sizeof(Sub),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "A subscription to an EventsManager's stream (EventsManager.subscribe()).\n\n"
        "An iterator of Event: each step waits up to .timeout seconds with the GIL released\n"
        "(TimedOutError after it), iteration ends when the stream has ended. One thread at a\n"
        "time (BusyError otherwise). A context manager; closed on garbage collection.",
    .tp_dealloc = sub_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = sub_iternext,
    .tp_methods = sub_methods,
    .tp_getset = sub_getset,
};

int kvbmpy_events_init(PyObject *mod)
{
    if (!EventType.tp_name && PyStructSequence_InitType2(&EventType, &event_desc) < 0)
        return -1;
    kind_str[0] = PyUnicode_InternFromString("create");
    kind_str[1] = PyUnicode_InternFromString("remove");
    if (!kind_str[0] || !kind_str[1])
        return -1;
    PyTypeObject *types[] = { &EventType, &EvMgrType, &SubType };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (kvbmpy_add_type(mod, types[i]) < 0)
            return -1;
    return 0;
}
