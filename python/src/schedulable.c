/* python/src/schedulable.c - kvbm.SchedulableSequence (kvbm/schedulable.h), its events
 * (kvbm.SequenceEvent) and the delegate as a Python callable.
 *
 * The sequence is bound to one Manager at construction (passed as cfg.manager, so a block
 * size mismatch is refused up front) and keeps a reference to it. The C API runs the
 * delegate synchronously on the calling thread, after the state change, with no kvbm lock
 * held: the trampoline takes the GIL (PyGILState_Ensure, a no-op here since calls keep it)
 * and calls delegate(SequenceEvent). An exception raised by the delegate is not lost: the
 * first one of a call is kept and re-raised by the method that emitted the event, with a
 * note that the operation itself completed (later events of that call skip the delegate).
 * While a mutating call is in progress - the delegate may run Python code, which can switch
 * threads - every other mutating call on the same sequence raises BusyError; accessors stay
 * available (a delegate may read its sequence's state).
 * GC: the delegate may refer back to the sequence, so the type supports cyclic GC; clearing
 * drops the delegate only, and deallocation destroys the C sequence (returning its blocks
 * to the manager) before dropping the manager.
 */
#include <string.h>

#include "ext.h"

/* ---- SequenceEvent ------------------------------------------------------------------ */

static PyTypeObject EvType;
static PyStructSequence_Field ev_fields[] = {
    { "kind", "event name: 'Created', 'PrefillScheduled', 'DecodeApplied', ..." },
    { "data", "dict of the event's payload fields" },
    { NULL, NULL }
};
static PyStructSequence_Desc ev_desc = {
    "kvbm.SequenceEvent", "SequenceEvent(kind, data): an event of a SchedulableSequence.",
    ev_fields, 2
};

static PyObject *ev_data(const kvbm_seq_event *e)
{
#define Z(v) (Py_ssize_t)(v)
    switch (e->kind) {
    case KVBM_SEQ_EV_CREATED:
        return Py_BuildValue("{snsnsI}", "num_input_tokens", Z(e->u.created.num_input_tokens),
                             "max_output_tokens", Z(e->u.created.max_output_tokens),
                             "block_size", e->u.created.block_size);
    case KVBM_SEQ_EV_PREFIX_MATCHED:
        return Py_BuildValue("{sn}", "blocks_matched", Z(e->u.prefix_matched.blocks_matched));
    case KVBM_SEQ_EV_PREFILL_SCHEDULED:
        return Py_BuildValue("{snsn}", "num_tokens", Z(e->u.prefill_scheduled.num_tokens),
                             "blocks_allocated", Z(e->u.prefill_scheduled.blocks_allocated));
    case KVBM_SEQ_EV_PREFILL_APPLIED:
        return Py_BuildValue("{snsnsO}", "num_tokens", Z(e->u.prefill_applied.num_tokens),
                             "blocks_registered", Z(e->u.prefill_applied.blocks_registered),
                             "token_emitted", e->u.prefill_applied.token_emitted ? Py_True : Py_False);
    case KVBM_SEQ_EV_DECODE_SCHEDULED:
        return Py_BuildValue("{sn}", "blocks_allocated", Z(e->u.decode_scheduled.blocks_allocated));
    case KVBM_SEQ_EV_DECODE_APPLIED:
        return Py_BuildValue("{sIsO}", "token", e->u.decode_applied.token, "block_completed",
                             e->u.decode_applied.block_completed ? Py_True : Py_False);
    case KVBM_SEQ_EV_SPECULATIVE_SCHEDULED:
        return Py_BuildValue("{snsn}", "num_tokens", Z(e->u.speculative_scheduled.num_tokens),
                             "blocks_allocated", Z(e->u.speculative_scheduled.blocks_allocated));
    case KVBM_SEQ_EV_SPECULATIVE_APPLIED:
        return Py_BuildValue("{snsnsn}", "accepted", Z(e->u.speculative_applied.accepted),
                             "scheduled", Z(e->u.speculative_applied.scheduled),
                             "blocks_released", Z(e->u.speculative_applied.blocks_released));
    case KVBM_SEQ_EV_SCHEDULE_REVERTED:
        return Py_BuildValue("{sn}", "blocks_released", Z(e->u.schedule_reverted.blocks_released));
    case KVBM_SEQ_EV_UNASSIGNED_DROPPED:
        return Py_BuildValue("{sn}", "count", Z(e->u.unassigned_dropped.count));
    case KVBM_SEQ_EV_REACQUIRED:
        return Py_BuildValue("{snsO}", "prefix_matched", Z(e->u.reacquired.prefix_matched),
                             "success", e->u.reacquired.success ? Py_True : Py_False);
    default: /* RELEASED: no payload */
        return PyDict_New();
    }
#undef Z
}

static PyObject *ev_new(const kvbm_seq_event *e)
{
    PyObject *o = PyStructSequence_New(&EvType);
    PyObject *k = o ? PyUnicode_FromString(kvbm_seq_event_kind_name(e->kind)) : NULL;
    PyObject *d = k ? ev_data(e) : NULL;
    if (!d) {
        Py_XDECREF(k);
        Py_XDECREF(o);
        return NULL;
    }
    PyStructSequence_SET_ITEM(o, 0, k);
    PyStructSequence_SET_ITEM(o, 1, d);
    return o;
}

/* ---- SchedulableSequence ------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    kvbm_sched_seq *s;
    kvbmpy_Manager *mgr;
    PyObject       *delegate;       /* callable or NULL */
    PyObject       *exc[3];         /* first delegate exception of the running call */
    int             busy;           /* a mutating call is in progress */
} Sched;

static PyObject *outcome_type; /* kvbm.DecodeOutcome (IntFlag), set by the Python layer */

static void on_event(void *user, const kvbm_seq_event *e)
{
    Sched *o = user;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *d = o->delegate;
    if (d && !o->exc[0]) {
        Py_INCREF(d);
        PyObject *ev = ev_new(e);
        PyObject *r = ev ? PyObject_CallOneArg(d, ev) : NULL;
        if (!r)
            PyErr_Fetch(&o->exc[0], &o->exc[1], &o->exc[2]);
        Py_XDECREF(r);
        Py_XDECREF(ev);
        Py_DECREF(d);
    }
    PyGILState_Release(g);
}

/* End of a mutating call: re-raise a delegate exception (dropping @result) if one was kept. */
static PyObject *finish(Sched *o, PyObject *result)
{
    o->busy = 0;
    if (!o->exc[0])
        return result;
    PyObject *t = o->exc[0], *v = o->exc[1], *tb = o->exc[2];
    o->exc[0] = o->exc[1] = o->exc[2] = NULL;
    Py_XDECREF(result); /* may be the sequence itself (constructor) */
    PyErr_NormalizeException(&t, &v, &tb);
    if (v && PyObject_HasAttrString(v, "add_note")) {
        PyObject *r = PyObject_CallMethod(v, "add_note", "s",
                                          "raised by the SchedulableSequence delegate; the "
                                          "operation itself completed");
        Py_XDECREF(r);
        PyErr_Clear();
    }
    if (tb && v)
        PyException_SetTraceback(v, tb);
    PyErr_Restore(t, v, tb);
    return NULL;
}

static int enter(Sched *o)
{
    if (o->busy) {
        kvbmpy_raise_msg(KVBM_EBUSY, "the sequence is in use (a call on another thread, or "
                         "this sequence's own delegate)");
        return -1;
    }
    if (kvbmpy_check_alive() < 0)
        return -1;
    o->busy = 1;
    return 0;
}

static PyObject *sched_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "manager", "tokens", "max_output_tokens", "delegate", "salt", NULL };
    PyObject *mgr, *tok, *maxo, *delegate = Py_None, *salt_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!OO|OO:SchedulableSequence", kwlist,
                                     &kvbmpy_ManagerType, &mgr, &tok, &maxo, &delegate, &salt_obj))
        return NULL;
    if (delegate != Py_None && !PyCallable_Check(delegate))
        return PyErr_Format(PyExc_TypeError, "delegate must be callable or None, not %.80s",
                            Py_TYPE(delegate)->tp_name);
    size_t max_out;
    uint64_t salt;
    const uint64_t *sp;
    kvbmpy_tokens t;
    if (kvbmpy_count_arg(maxo, "max_output_tokens", &max_out) < 0 ||
        kvbmpy_salt_arg(salt_obj, &salt, &sp) < 0 || kvbmpy_tokens_get(tok, &t) < 0)
        return NULL;
    Sched *o = (Sched *)type->tp_alloc(type, 0);
    if (!o) {
        kvbmpy_tokens_free(&t);
        return NULL;
    }
    o->mgr = (kvbmpy_Manager *)Py_NewRef(mgr);
    o->delegate = delegate == Py_None ? NULL : Py_NewRef(delegate);
    kvbm_sched_seq_config cfg = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&cfg, t.p, (size_t)t.n);
    kvbm_sched_seq_config_set_max_output(&cfg, max_out);
    kvbm_sched_seq_config_set_block_size(&cfg, o->mgr->block_size);
    cfg.salt = sp;
    cfg.manager = o->mgr->m;
    if (o->delegate) {
        cfg.delegate.on_event = on_event;
        cfg.delegate.user = o;
    }
    kvbm_seq_error err;
    o->busy = 1;
    kvbm_status s = kvbm_sched_seq_create(&cfg, &o->s, &err);
    kvbmpy_tokens_free(&t);
    if (s != KVBM_OK) {
        o->s = NULL;
        o->busy = 0;
        Py_DECREF(o);
        return kvbmpy_seq_raise(s, &err);
    }
    PyObject *r = finish(o, (PyObject *)o); /* the delegate may have raised on Created */
    return r;
}

static int sched_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((Sched *)self)->delegate);
    return 0;
}

static int sched_clear(PyObject *self)
{
    Py_CLEAR(((Sched *)self)->delegate);
    return 0;
}

static void sched_dealloc(PyObject *self)
{
    Sched *o = (Sched *)self;
    PyObject_GC_UnTrack(self);
    kvbm_sched_seq_destroy(o->s); /* no events; returns the blocks to o->mgr */
    for (int i = 0; i < 3; i++)
        Py_CLEAR(o->exc[i]);
    Py_CLEAR(o->delegate);
    Py_CLEAR(o->mgr);
    Py_TYPE(self)->tp_free(self);
}

#define SS(self) (((Sched *)(self))->s)
#define SM(self) (((Sched *)(self))->mgr->m)

/* Run a status-returning mutating call; @ret (an expression) builds the result on success. */
#define SCHED_CALL(self, call, ret)                              \
    do {                                                         \
        Sched *o_ = (Sched *)(self);                             \
        if (enter(o_) < 0)                                       \
            return NULL;                                         \
        kvbm_seq_error err;                                      \
        kvbm_status s_ = (call);                                 \
        if (s_ != KVBM_OK) {                                     \
            o_->busy = 0;                                        \
            return kvbmpy_seq_raise(s_, &err);                   \
        }                                                        \
        return finish(o_, (ret));                                \
    } while (0)

static PyObject *outcome(kvbm_decode_outcome oc)
{
    PyObject *v = PyLong_FromLong((long)oc);
    if (!v || !outcome_type)
        return v;
    PyObject *r = PyObject_CallOneArg(outcome_type, v);
    Py_DECREF(v);
    return r;
}

static PyObject *sc_match(PyObject *self, PyObject *u)
{
    size_t n = 0;
    SCHED_CALL(self, kvbm_sched_seq_match_prefix(SS(self), SM(self), &n, &err), PyLong_FromSize_t(n));
}

static PyObject *sc_sched_prefill(PyObject *self, PyObject *arg)
{
    size_t n;
    if (kvbmpy_count_arg(arg, "schedule_prefill(num_tokens): num_tokens", &n) < 0)
        return NULL;
    SCHED_CALL(self, kvbm_sched_seq_schedule_prefill(SS(self), n, SM(self), &err), Py_NewRef(Py_None));
}

static PyObject *sc_sched_decode(PyObject *self, PyObject *u)
{
    SCHED_CALL(self, kvbm_sched_seq_schedule_decode(SS(self), SM(self), &err), Py_NewRef(Py_None));
}

static PyObject *sc_sched_spec(PyObject *self, PyObject *arg)
{
    size_t n;
    if (kvbmpy_count_arg(arg, "schedule_speculative(num_draft): num_draft", &n) < 0)
        return NULL;
    SCHED_CALL(self, kvbm_sched_seq_schedule_speculative(SS(self), n, SM(self), &err),
               Py_NewRef(Py_None));
}

static PyObject *sc_apply_prefill(PyObject *self, PyObject *args)
{
    PyObject *tok = Py_None;
    unsigned int t = 0;
    if (!PyArg_ParseTuple(args, "|O:apply_prefill", &tok) ||
        (tok != Py_None && !kvbmpy_conv_u32(tok, &t)))
        return NULL;
    kvbm_token tk = t;
    SCHED_CALL(self, kvbm_sched_seq_apply_prefill(SS(self), tok == Py_None ? NULL : &tk, SM(self),
                                                  &err), Py_NewRef(Py_None));
}

static PyObject *sc_apply_decode(PyObject *self, PyObject *arg)
{
    unsigned int t;
    if (!kvbmpy_conv_u32(arg, &t))
        return NULL;
    kvbm_decode_outcome oc = KVBM_DECODE_CONTINUE;
    SCHED_CALL(self, kvbm_sched_seq_apply_decode(SS(self), t, SM(self), &oc, &err), outcome(oc));
}

/* A mutating call taking a token list: apply_speculative (@spec) or append_tokens. */
static PyObject *tokens_call(PyObject *self, PyObject *arg, int spec)
{
    kvbmpy_tokens t;
    if (kvbmpy_tokens_get(arg, &t) < 0)
        return NULL;
    Sched *o = (Sched *)self;
    if (enter(o) < 0) {
        kvbmpy_tokens_free(&t);
        return NULL;
    }
    kvbm_decode_outcome oc = KVBM_DECODE_CONTINUE;
    kvbm_seq_error err;
    kvbm_status s = spec ? kvbm_sched_seq_apply_speculative(o->s, t.p, (size_t)t.n, SM(self), &oc,
                                                            &err)
                         : kvbm_sched_seq_append_tokens(o->s, t.p, (size_t)t.n, &err);
    kvbmpy_tokens_free(&t);
    if (s != KVBM_OK) {
        o->busy = 0;
        return kvbmpy_seq_raise(s, &err);
    }
    return finish(o, spec ? outcome(oc) : Py_NewRef(Py_None));
}

static PyObject *sc_apply_spec(PyObject *self, PyObject *arg) { return tokens_call(self, arg, 1); }

static PyObject *sc_revert(PyObject *self, PyObject *u)
{
    SCHED_CALL(self, kvbm_sched_seq_revert(SS(self), &err), Py_NewRef(Py_None));
}

static PyObject *sc_drop(PyObject *self, PyObject *arg)
{
    size_t n, dropped = 0;
    if (kvbmpy_count_arg(arg, "drop_unassigned(count): count", &n) < 0)
        return NULL;
    SCHED_CALL(self, kvbm_sched_seq_drop_unassigned(SS(self), n, &dropped, &err),
               PyLong_FromSize_t(dropped));
}

static PyObject *sc_release(PyObject *self, PyObject *u)
{
    SCHED_CALL(self, kvbm_sched_seq_release(SS(self), &err), Py_NewRef(Py_None));
}

static PyObject *sc_reacquire(PyObject *self, PyObject *u)
{
    bool ok = false;
    SCHED_CALL(self, kvbm_sched_seq_reacquire(SS(self), SM(self), &ok, &err), PyBool_FromLong(ok));
}

static PyObject *sc_append(PyObject *self, PyObject *arg) { return tokens_call(self, arg, 0); }

static PyObject *sc_pages(PyObject *self, PyObject *u)
{
    return kvbmpy_page_indices(kvbm_sched_seq_request(SS(self)));
}

static PyObject *sc_repr(PyObject *self)
{
    char buf[768];
    kvbm_sched_seq_describe(SS(self), buf, sizeof buf);
    return PyUnicode_FromString(buf);
}

static PyObject *sc_state(PyObject *self, void *c)
{
    char buf[128];
    kvbm_sched_state st = kvbm_sched_seq_state(SS(self));
    kvbm_sched_state_format(st, buf, sizeof buf);
    char *brace = strchr(buf, ' ');
    if (brace)
        *brace = '\0'; /* the name only; state_info has the numbers */
    return PyUnicode_FromString(buf);
}

static PyObject *sc_state_info(PyObject *self, void *c)
{
    kvbm_sched_state st = kvbm_sched_seq_state(SS(self));
    return Py_BuildValue("{snsn}", "num_tokens", (Py_ssize_t)st.num_tokens, "blocks_allocated",
                         (Py_ssize_t)st.blocks_allocated);
}

/* The kvbm_sched_seq_info fields, read through one getter (closure = field offset). */
#define INFO_SIZE(name, doc) { #name, sc_info_size, NULL, doc, (void *)offsetof(kvbm_sched_seq_info, name) }
#define INFO_BOOL(name, doc) { #name, sc_info_bool, NULL, doc, (void *)offsetof(kvbm_sched_seq_info, name) }

static int info_get(PyObject *self, kvbm_sched_seq_info *info)
{
    *info = (kvbm_sched_seq_info)KVBM_SCHED_SEQ_INFO_INIT;
    kvbm_status s = kvbm_sched_seq_info_get(SS(self), info);
    if (s != KVBM_OK) {
        kvbmpy_raise(s);
        return -1;
    }
    return 0;
}

static PyObject *sc_info_size(PyObject *self, void *c)
{
    kvbm_sched_seq_info info;
    if (info_get(self, &info) < 0)
        return NULL;
    return PyLong_FromSize_t(*(size_t *)((char *)&info + (size_t)c));
}

static PyObject *sc_info_bool(PyObject *self, void *c)
{
    kvbm_sched_seq_info info;
    if (info_get(self, &info) < 0)
        return NULL;
    return PyBool_FromLong(*(bool *)((char *)&info + (size_t)c));
}

static PyObject *sc_bs(PyObject *self, void *c) { return PyLong_FromUnsignedLong(((Sched *)self)->mgr->block_size); }
static PyObject *sc_manager(PyObject *self, void *c) { return Py_NewRef((PyObject *)((Sched *)self)->mgr); }
static PyObject *sc_delegate(PyObject *self, void *c)
{
    PyObject *d = ((Sched *)self)->delegate;
    return Py_NewRef(d ? d : Py_None);
}
static PyObject *sc_hashes(PyObject *self, void *c)
{
    return kvbmpy_block_seq_hashes(kvbm_request_seq_sequence(kvbm_sched_seq_request(SS(self))));
}

static PyMethodDef sc_methods[] = {
    { "match_prefix", sc_match, METH_NOARGS,
      "match_prefix() -> int: Idle only; cached prefix blocks count as prefilled and computed." },
    { "schedule_prefill", sc_sched_prefill, METH_O,
      "schedule_prefill(num_tokens): Idle -> PrefillScheduled, allocating the blocks the\n"
      "chunk needs. StateError (NOT_IDLE, PREFILL_COMPLETE), OutOfRangeError\n"
      "(PREFILL_OVERRUN), ExhaustedError (ALLOCATION_FAILED)." },
    { "schedule_decode", sc_sched_decode, METH_NOARGS,
      "schedule_decode(): Idle -> DecodeScheduled (allocates the generation block if needed)." },
    { "schedule_speculative", sc_sched_spec, METH_O,
      "schedule_speculative(num_draft): Idle -> SpeculativeScheduled (num_draft clamped to\n"
      "remaining_tokens)." },
    { "apply_prefill", sc_apply_prefill, METH_VARARGS,
      "apply_prefill(token=None): PrefillScheduled -> Idle; registers complete blocks (H2).\n"
      "The final chunk needs the sampled token, other chunks must not pass one." },
    { "apply_decode", sc_apply_decode, METH_O,
      "apply_decode(token) -> DecodeOutcome: DecodeScheduled -> Idle; appends the token and\n"
      "registers a block it completed (H1)." },
    { "apply_speculative", sc_apply_spec, METH_O,
      "apply_speculative(accepted_tokens) -> DecodeOutcome: SpeculativeScheduled -> Idle;\n"
      "appends the accepted tokens, releases excess blocks (LIFO)." },
    { "revert", sc_revert, METH_NOARGS,
      "revert(): any Scheduled state -> Idle, giving back exactly the blocks it took." },
    { "drop_unassigned", sc_drop, METH_O,
      "drop_unassigned(count) -> int: Idle only; release up to count queued blocks (LIFO)." },
    { "release", sc_release, METH_NOARGS,
      "release(): Idle only; release every block (positions kept, H5: reacquire next)." },
    { "reacquire", sc_reacquire, METH_NOARGS,
      "reacquire() -> bool: Idle only; match, allocate and register again (H3)." },
    { "append_tokens", sc_append, METH_O,
      "append_tokens(tokens): Idle only; append tokens without KV (the tail grows)." },
    { "page_indices", sc_pages, METH_NOARGS,
      "page_indices() -> array('I'): the block table." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef sc_getset[] = {
    { "state", sc_state, NULL, "'Idle', 'PrefillScheduled', 'DecodeScheduled' or "
      "'SpeculativeScheduled'.", NULL },
    { "state_info", sc_state_info, NULL, "dict: num_tokens and blocks_allocated of the state.", NULL },
    INFO_SIZE(prefill_position, "Tokens prefilled (scheduled and applied)."),
    INFO_SIZE(kv_position, "Tokens whose KV is computed."),
    INFO_SIZE(tail_tokens, "Tokens after kv_position (the dangling token(s))."),
    INFO_BOOL(is_prefill_complete, "Whether the whole input is prefilled."),
    INFO_BOOL(is_complete, "Whether max_output_tokens were generated."),
    INFO_SIZE(generated, "Tokens generated."),
    INFO_SIZE(max_output, "Output token budget."),
    INFO_SIZE(num_input, "Prompt tokens."),
    INFO_SIZE(total_tokens, "Input + generated tokens."),
    INFO_SIZE(remaining, "Tokens still allowed."),
    INFO_SIZE(num_blocks, "Complete token blocks."),
    INFO_SIZE(assigned, "Registered blocks held."),
    INFO_SIZE(staged, "Staged blocks held."),
    INFO_SIZE(unassigned, "Queued blocks held."),
    INFO_SIZE(prefix_matched, "Blocks matched by match_prefix/reacquire."),
    INFO_SIZE(new_tokens_for_prefill, "Tokens prefill must compute."),
    { "block_size", sc_bs, NULL, "Tokens per block (the manager's).", NULL },
    { "manager", sc_manager, NULL, "The Manager the sequence is bound to.", NULL },
    { "delegate", sc_delegate, NULL, "The delegate callable, or None.", NULL },
    { "hashes", sc_hashes, NULL, "PLHs of the complete blocks (kvbm.Hashes).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject SchedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.SchedulableSequence",
    .tp_basicsize = sizeof(Sched),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc =
        "SchedulableSequence(manager, tokens, max_output_tokens, delegate=None, salt=None)\n\n"
        "The two-phase state machine a scheduler drives (spec 30 SchedulableSequence):\n"
        "schedule_* -> forward pass -> apply_* (or revert), over blocks of manager (the\n"
        "block size is the manager's). Every error leaves the sequence unchanged; errors carry\n"
        ".kind ('NOT_IDLE', 'ALLOCATION_FAILED', ...).\n"
        "delegate(event: SequenceEvent) is called after each successful state change, with no\n"
        "kvbm lock held; an exception it raises propagates from the call that emitted the\n"
        "event (the operation itself completed). Calls on the sequence from its own delegate\n"
        "or from another thread during a call raise BusyError. Dropping the sequence returns\n"
        "its blocks. Hazards H1-H7: docs/design/sequence.md.",
    .tp_new = sched_new,
    .tp_dealloc = sched_dealloc,
    .tp_traverse = sched_traverse,
    .tp_clear = sched_clear,
    .tp_repr = sc_repr,
    .tp_methods = sc_methods,
    .tp_getset = sc_getset,
};

static PyObject *set_outcome_type(PyObject *m, PyObject *arg)
{
    Py_XSETREF(outcome_type, Py_NewRef(arg));
    Py_RETURN_NONE;
}

static PyMethodDef sched_functions[] = {
    { "_set_decode_outcome", set_outcome_type, METH_O,
      "Internal: the type apply_decode/apply_speculative results are converted to." },
    { NULL, NULL, 0, NULL }
};

int kvbmpy_schedulable_init(PyObject *mod)
{
    if (!EvType.tp_name && PyStructSequence_InitType2(&EvType, &ev_desc) < 0)
        return -1;
    PyTypeObject *types[] = { &EvType, &SchedType };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (kvbmpy_add_type(mod, types[i]) < 0)
            return -1;
    return PyModule_AddFunctions(mod, sched_functions);
}
