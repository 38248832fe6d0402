/* python/src/sequence.c - kvbm.BlockSequence (kvbm/sequence.h) and kvbm.RequestSequence
 * (kvbm/request.h), plus the helpers the sequence layer shares with schedulable.c.
 *
 * A RequestSequence is bound to one Manager at construction (the C API borrows the manager
 * for each call and requires it to be the same every time): the object keeps a reference to
 * that Manager, so the blocks it holds can always be returned, and the methods take no
 * manager argument. Sequence objects are single-owner in C; the GIL serialises the calls
 * (they run with the GIL held: no kvbm lock holder needs the GIL, see docs/design/python.md).
 * Errors raise the kvbm.Error subclass of the status with the reference's Display text and
 * .kind = the kvbm_seq_error_kind name (e.g. 'ALLOCATION_FAILED').
 */
#include <string.h>

#include "ext.h"

PyObject *kvbmpy_seq_raise(kvbm_status s, const kvbm_seq_error *err)
{
    kvbmpy_raise(s);
    if (!err || err->kind == KVBM_SEQERR_NONE)
        return NULL;
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    PyObject *k = PyUnicode_FromString(kvbm_seq_error_kind_name(err->kind));
    if (!k || !v || PyObject_SetAttrString(v, "kind", k) < 0) {
        Py_XDECREF(k);
        Py_XDECREF(t); Py_XDECREF(v); Py_XDECREF(tb);
        return NULL;
    }
    Py_DECREF(k);
    PyErr_Restore(t, v, tb);
    return NULL;
}

int kvbmpy_salt_arg(PyObject *o, uint64_t *salt, const uint64_t **p)
{
    *p = NULL;
    if (o == Py_None)
        return 0;
    *salt = PyLong_Check(o) ? PyLong_AsUnsignedLongLong(o) : (unsigned long long)-1;
    if (!PyLong_Check(o) || PyErr_Occurred()) {
        PyErr_Clear();
        kvbmpy_raise_msg(KVBM_EINVAL, "salt must be None or an int in 0..2**64-1, got %R", o);
        return -1;
    }
    *p = salt;
    return 0;
}

int kvbmpy_count_arg(PyObject *o, const char *what, size_t *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.80s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t v = PyLong_AsSsize_t(o);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        kvbmpy_raise_msg(KVBM_ERANGE, "%s %R is too large", what, o);
        return -1;
    }
    if (v < 0) {
        kvbmpy_raise_msg(KVBM_EINVAL, "%s must be >= 0, got %zd", what, v);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* append_token of a BlockSequence (@bs) or a RequestSequence (@rq): the index of the
 * block the token completed, or None. */
static PyObject *append_token(PyObject *arg, kvbm_block_seq *bs, kvbm_request_seq *rq)
{
    unsigned int tok;
    if (!kvbmpy_conv_u32(arg, &tok))
        return NULL;
    bool done = false;
    size_t idx = 0;
    kvbm_seq_error err;
    kvbm_status s = bs ? kvbm_block_seq_append_token(bs, tok, &done, &idx, &err)
                       : kvbm_request_seq_append_token(rq, tok, &done, &idx, &err);
    if (s != KVBM_OK)
        return kvbmpy_seq_raise(s, &err);
    return done ? PyLong_FromSize_t(idx) : Py_NewRef(Py_None);
}

/* ---- BlockSequence ------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    kvbm_block_seq *s;
} BSeq;

PyObject *kvbmpy_block_seq_hashes(const kvbm_block_seq *s)
{
    size_t n = kvbm_block_seq_num_blocks(s), got = 0;
    kvbmpy_Hashes *h = kvbmpy_hashes_new((Py_ssize_t)n);
    if (h && kvbm_block_seq_all_hashes(s, h->v, n, &got) != KVBM_OK) {
        Py_DECREF(h);
        return kvbmpy_raise(KVBM_EINVAL);
    }
    return (PyObject *)h;
}

static PyObject *bseq_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "tokens", "block_size", "salt", NULL };
    PyObject *tok, *salt_obj = Py_None;
    unsigned int bs = 16;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O&O:BlockSequence", kwlist, &tok,
                                     kvbmpy_conv_u32, &bs, &salt_obj))
        return NULL;
    uint64_t salt;
    const uint64_t *sp;
    kvbmpy_tokens t;
    if (kvbmpy_salt_arg(salt_obj, &salt, &sp) < 0 || kvbmpy_tokens_get(tok, &t) < 0)
        return NULL;
    BSeq *o = (BSeq *)type->tp_alloc(type, 0);
    if (o) {
        kvbm_status s = kvbm_block_seq_create(t.p, (size_t)t.n, bs, sp, &o->s);
        if (s != KVBM_OK) {
            o->s = NULL;
            Py_CLEAR(o);
            kvbmpy_raise(s);
        }
    }
    kvbmpy_tokens_free(&t);
    return (PyObject *)o;
}

static void bseq_dealloc(PyObject *self)
{
    kvbm_block_seq_destroy(((BSeq *)self)->s);
    Py_TYPE(self)->tp_free(self);
}

#define BS(self) (((BSeq *)(self))->s)

static PyObject *bseq_extend(PyObject *self, PyObject *arg)
{
    kvbmpy_tokens t;
    if (kvbmpy_tokens_get(arg, &t) < 0)
        return NULL;
    bool done = false;
    size_t first = 0, end = 0;
    kvbm_seq_error err;
    kvbm_status s = kvbm_block_seq_extend_tokens(BS(self), t.p, (size_t)t.n, &done, &first, &end,
                                                 &err);
    kvbmpy_tokens_free(&t);
    if (s != KVBM_OK)
        return kvbmpy_seq_raise(s, &err);
    if (!done)
        Py_RETURN_NONE;
    return PyObject_CallFunction((PyObject *)&PyRange_Type, "nn", (Py_ssize_t)first,
                                 (Py_ssize_t)end);
}

static PyObject *bseq_append(PyObject *self, PyObject *arg) { return append_token(arg, BS(self), NULL); }

static PyObject *bseq_block(PyObject *self, PyObject *arg)
{
    Py_ssize_t i, n = (Py_ssize_t)kvbm_block_seq_num_blocks(BS(self));
    if (kvbmpy_index(arg, n, &i) < 0)
        return NULL;
    if (i < 0 || i >= n)
        return PyErr_Format(PyExc_IndexError, "block index out of range (%zd blocks)", n);
    return kvbmpy_token_block_from_c(kvbm_block_seq_block(BS(self), (size_t)i));
}

static PyObject *bseq_blocks(PyObject *self, void *c)
{
    size_t n = kvbm_block_seq_num_blocks(BS(self));
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *b = kvbmpy_token_block_from_c(kvbm_block_seq_block(BS(self), i));
        if (!b)
            Py_CLEAR(l);
        else
            PyList_SET_ITEM(l, (Py_ssize_t)i, b);
    }
    return l;
}

static PyObject *bseq_hashes(PyObject *self, void *c) { return kvbmpy_block_seq_hashes(BS(self)); }
static PyObject *bseq_nb(PyObject *self, void *c) { return PyLong_FromSize_t(kvbm_block_seq_num_blocks(BS(self))); }
static PyObject *bseq_bs(PyObject *self, void *c) { return PyLong_FromUnsignedLong(kvbm_block_seq_block_size(BS(self))); }
static PyObject *bseq_total(PyObject *self, void *c) { return PyLong_FromSize_t(kvbm_block_seq_total_tokens(BS(self))); }
static Py_ssize_t bseq_len(PyObject *self) { return (Py_ssize_t)kvbm_block_seq_num_blocks(BS(self)); }

static PyObject *bseq_repr(PyObject *self)
{
    return PyUnicode_FromFormat("kvbm.BlockSequence(num_blocks=%zu, block_size=%u, "
                                "total_tokens=%zu)", kvbm_block_seq_num_blocks(BS(self)),
                                kvbm_block_seq_block_size(BS(self)),
                                kvbm_block_seq_total_tokens(BS(self)));
}

static PyMethodDef bseq_methods[] = {
    { "extend", bseq_extend, METH_O,
      "extend(tokens) -> range | None: append tokens; the indices of the blocks completed." },
    { "append", bseq_append, METH_O,
      "append(token) -> int | None: append one token; the index of the block it completed." },
    { "block", bseq_block, METH_O, "block(i) -> TokenBlock: complete block i (negative ok)." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef bseq_getset[] = {
    { "blocks", bseq_blocks, NULL, "The complete blocks (list of TokenBlock, copies).", NULL },
    { "hashes", bseq_hashes, NULL, "PLHs of the complete blocks (kvbm.Hashes).", NULL },
    { "num_blocks", bseq_nb, NULL, "Number of complete blocks (also len()).", NULL },
    { "block_size", bseq_bs, NULL, "Tokens per block.", NULL },
    { "total_tokens", bseq_total, NULL, "Tokens held (complete blocks + partial tail).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PySequenceMethods bseq_as_seq = { .sq_length = bseq_len };

static PyTypeObject BSeqType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.BlockSequence",
    .tp_basicsize = sizeof(BSeq),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "BlockSequence(tokens, block_size=16, salt=None)\n\n"
        "The sequence layer's token blocks (spec 30 BlockSequence): tokens split into\n"
        "complete blocks of block_size (a power of two <= 1024) with chained PLHs.\n"
        "len() is the number of complete blocks. salt None hashes like salt 0.",
    .tp_new = bseq_new,
    .tp_dealloc = bseq_dealloc,
    .tp_repr = bseq_repr,
    .tp_methods = bseq_methods,
    .tp_getset = bseq_getset,
    .tp_as_sequence = &bseq_as_seq,
};

/* ---- RequestSequence ---------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    kvbm_request_seq *r;
    kvbmpy_Manager   *mgr;
} Req;

PyObject *kvbmpy_page_indices(const kvbm_request_seq *r)
{
    size_t n = 0;
    if (kvbm_request_seq_page_indices(r, NULL, 0, &n) != KVBM_OK && n == 0)
        return kvbmpy_raise(KVBM_EINVAL);
    uint32_t *ids = PyMem_Malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return PyErr_NoMemory();
    kvbm_status s = kvbm_request_seq_page_indices(r, ids, n, &n);
    PyObject *a = s == KVBM_OK ? kvbmpy_u32_array(ids, (Py_ssize_t)n) : kvbmpy_raise(s);
    PyMem_Free(ids);
    return a;
}

static PyObject *req_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "manager", "tokens", "max_output_tokens", "salt", NULL };
    PyObject *mgr, *tok, *maxo, *salt_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!OO|O:RequestSequence", kwlist,
                                     &kvbmpy_ManagerType, &mgr, &tok, &maxo, &salt_obj))
        return NULL;
    size_t max_out;
    uint64_t salt;
    const uint64_t *sp;
    kvbmpy_tokens t;
    if (kvbmpy_count_arg(maxo, "max_output_tokens", &max_out) < 0 ||
        kvbmpy_salt_arg(salt_obj, &salt, &sp) < 0 || kvbmpy_tokens_get(tok, &t) < 0)
        return NULL;
    Req *o = (Req *)type->tp_alloc(type, 0);
    if (o) {
        o->mgr = (kvbmpy_Manager *)Py_NewRef(mgr);
        kvbm_status s = kvbm_request_seq_create(t.p, (size_t)t.n, max_out, o->mgr->block_size,
                                                sp, &o->r);
        if (s != KVBM_OK) {
            o->r = NULL;
            Py_CLEAR(o);
            kvbmpy_raise(s);
        }
    }
    kvbmpy_tokens_free(&t);
    return (PyObject *)o;
}

static void req_dealloc(PyObject *self)
{
    Req *o = (Req *)self;
    kvbm_request_seq_destroy(o->r); /* returns its blocks to o->mgr, still alive */
    Py_XDECREF(o->mgr);
    Py_TYPE(self)->tp_free(self);
}

#define RQ(self) (((Req *)(self))->r)
#define RM(self) (((Req *)(self))->mgr->m)

/* A manager-touching call returning a count: *@n on success. */
#define REQ_COUNT_CALL(call)                                   \
    do {                                                       \
        if (kvbmpy_check_alive() < 0)                          \
            return NULL;                                       \
        size_t n_ = 0;                                         \
        kvbm_seq_error err;                                    \
        kvbm_status s_ = (call);                               \
        return s_ == KVBM_OK ? PyLong_FromSize_t(n_) : kvbmpy_seq_raise(s_, &err); \
    } while (0)

static PyObject *req_match(PyObject *self, PyObject *u)
{
    REQ_COUNT_CALL(kvbm_request_seq_match_and_add_prefix(RQ(self), RM(self), &n_, &err));
}

static PyObject *req_stage(PyObject *self, PyObject *u)
{
    REQ_COUNT_CALL(kvbm_request_seq_stage_pending(RQ(self), &n_, &err));
}

static PyObject *req_register(PyObject *self, PyObject *u)
{
    REQ_COUNT_CALL(kvbm_request_seq_register_staged(RQ(self), RM(self), &n_, &err));
}

static PyObject *req_complete_register(PyObject *self, PyObject *u)
{
    REQ_COUNT_CALL(kvbm_request_seq_complete_and_register_pending(RQ(self), RM(self), &n_, &err));
}

static PyObject *req_allocate(PyObject *self, PyObject *arg)
{
    size_t n;
    if (kvbmpy_count_arg(arg, "allocate_blocks(n): n", &n) < 0 || kvbmpy_check_alive() < 0)
        return NULL;
    kvbm_seq_error err;
    kvbm_status s = kvbm_request_seq_allocate_blocks(RQ(self), n, RM(self), &err);
    return s == KVBM_OK ? Py_NewRef(Py_None) : kvbmpy_seq_raise(s, &err);
}

static PyObject *req_drop_excess(PyObject *self, PyObject *arg)
{
    size_t keep;
    if (kvbmpy_count_arg(arg, "drop_excess_unassigned(keep): keep", &keep) < 0)
        return NULL;
    return PyLong_FromSize_t(kvbm_request_seq_drop_excess_unassigned(RQ(self), keep));
}

static PyObject *req_detach(PyObject *self, PyObject *u)
{
    Req *o = (Req *)self;
    size_t n = 0;
    if (kvbm_request_seq_detach_registered_blocks(o->r, NULL, 0, &n) != KVBM_OK && n == 0)
        return kvbmpy_raise(KVBM_EINVAL);
    kvbmpy_BlockList *l = kvbmpy_blocklist_new(o->mgr, KVBMPY_IMMUTABLE, (Py_ssize_t)n);
    if (!l)
        return NULL;
    kvbm_status s = kvbm_request_seq_detach_registered_blocks(o->r, (kvbm_block **)l->h, n, &n);
    if (s != KVBM_OK) {
        Py_DECREF(l);
        return kvbmpy_raise(s);
    }
    return (PyObject *)l;
}

static PyObject *req_append(PyObject *self, PyObject *arg) { return append_token(arg, NULL, RQ(self)); }

static PyObject *req_release(PyObject *self, PyObject *u)
{
    kvbm_status s = kvbm_request_seq_release(RQ(self));
    return s == KVBM_OK ? Py_NewRef(Py_None) : kvbmpy_raise(s);
}

static PyObject *req_reacquire(PyObject *self, PyObject *u)
{
    if (kvbmpy_check_alive() < 0)
        return NULL;
    bool ok = false;
    kvbm_seq_error err;
    kvbm_status s = kvbm_request_seq_reacquire(RQ(self), RM(self), &ok, &err);
    return s == KVBM_OK ? PyBool_FromLong(ok) : kvbmpy_seq_raise(s, &err);
}

static PyObject *req_pages(PyObject *self, PyObject *u) { return kvbmpy_page_indices(RQ(self)); }
static PyObject *req_hashes(PyObject *self, void *c)
{
    return kvbmpy_block_seq_hashes(kvbm_request_seq_sequence(RQ(self)));
}
static PyObject *req_manager(PyObject *self, void *c) { return Py_NewRef((PyObject *)((Req *)self)->mgr); }

static PyObject *req_enter(PyObject *self, PyObject *u) { return Py_NewRef(self); }
static PyObject *req_exit(PyObject *self, PyObject *args) { return req_release(self, NULL); }

static PyObject *req_repr(PyObject *self)
{
    char buf[512];
    kvbm_request_seq_describe(RQ(self), buf, sizeof buf);
    return PyUnicode_FromString(buf);
}

/* size_t / bool accessors through one getter: closure = index into this table. */
typedef size_t (*req_size_fn)(const kvbm_request_seq *);
static const req_size_fn req_sizes[] = {
    kvbm_request_seq_generated_tokens, kvbm_request_seq_max_output_tokens,
    kvbm_request_seq_num_input_tokens, kvbm_request_seq_total_tokens,
    kvbm_request_seq_remaining_tokens, kvbm_request_seq_num_blocks,
    kvbm_request_seq_assigned_blocks, kvbm_request_seq_detached_blocks,
    kvbm_request_seq_staged_blocks, kvbm_request_seq_unassigned_blocks,
    kvbm_request_seq_prefix_matched_blocks, kvbm_request_seq_new_tokens_for_prefill,
};

static PyObject *req_size_get(PyObject *self, void *c)
{
    return PyLong_FromSize_t(req_sizes[(intptr_t)c](RQ(self)));
}
static PyObject *req_complete_get(PyObject *self, void *c) { return PyBool_FromLong(kvbm_request_seq_is_complete(RQ(self))); }
static PyObject *req_bs_get(PyObject *self, void *c) { return PyLong_FromUnsignedLong(kvbm_request_seq_block_size(RQ(self))); }
static PyObject *req_salt_get(PyObject *self, void *c) { return PyLong_FromUnsignedLongLong(kvbm_request_seq_salt(RQ(self))); }

static PyMethodDef req_methods[] = {
    { "match_and_add_prefix", req_match, METH_NOARGS,
      "match_and_add_prefix() -> int: match the complete blocks' hashes against the manager;\n"
      "the hits become the first assigned blocks. StateError if blocks are held." },
    { "allocate_blocks", req_allocate, METH_O,
      "allocate_blocks(n): allocate n blocks (all or nothing) onto the unassigned queue.\n"
      "ExhaustedError (kind ALLOCATION_FAILED) when the manager has too few." },
    { "stage_pending", req_stage, METH_NOARGS,
      "stage_pending() -> int: pair complete token blocks with queued blocks and stage them." },
    { "register_staged", req_register, METH_NOARGS,
      "register_staged() -> int: register every staged block (visible to matching)." },
    { "complete_and_register_pending", req_complete_register, METH_NOARGS,
      "complete_and_register_pending() -> int: stage_pending() then register_staged()." },
    { "drop_excess_unassigned", req_drop_excess, METH_O,
      "drop_excess_unassigned(keep) -> int: release queued blocks (LIFO) beyond keep." },
    { "detach_registered_blocks", req_detach, METH_NOARGS,
      "detach_registered_blocks() -> BlockList[ImmutableBlock]: move the assigned blocks\n"
      "out (their ids stay in page_indices() as detached identities)." },
    { "append_token", req_append, METH_O,
      "append_token(token) -> int | None: append a generated token; the index of the block\n"
      "it completed. OutOfRangeError at max_output_tokens." },
    { "release", req_release, METH_NOARGS,
      "release(): release every held block (positions and tokens stay; idempotent)." },
    { "reacquire", req_reacquire, METH_NOARGS,
      "reacquire() -> bool: match the prefix again, allocate and register the rest (H3:\n"
      "recompute their KV); False when the manager has too few blocks." },
    { "page_indices", req_pages, METH_NOARGS,
      "page_indices() -> array('I'): the block table (detached, assigned, staged, unassigned)." },
    { "__enter__", req_enter, METH_NOARGS, "Return self." },
    { "__exit__", req_exit, METH_VARARGS, "release()." },
    { NULL, NULL, 0, NULL }
};

#define REQ_SIZE(name, i, doc) { name, req_size_get, NULL, doc, (void *)(intptr_t)(i) }
static PyGetSetDef req_getset[] = {
    REQ_SIZE("generated_tokens", 0, "Tokens generated so far."),
    REQ_SIZE("max_output_tokens", 1, "Output token budget."),
    REQ_SIZE("num_input_tokens", 2, "Prompt tokens."),
    REQ_SIZE("total_tokens", 3, "Input + generated tokens."),
    REQ_SIZE("remaining_tokens", 4, "max_output_tokens - generated_tokens."),
    REQ_SIZE("num_blocks", 5, "Complete token blocks."),
    REQ_SIZE("assigned_blocks", 6, "Detached + assigned blocks."),
    REQ_SIZE("detached_blocks", 7, "Detached identities."),
    REQ_SIZE("staged_blocks", 8, "Staged (completed, unregistered) blocks."),
    REQ_SIZE("unassigned_blocks", 9, "Queued (allocated, empty) blocks."),
    REQ_SIZE("prefix_matched_blocks", 10, "Blocks found by the last prefix match."),
    REQ_SIZE("new_tokens_for_prefill", 11, "Tokens prefill must compute."),
    { "is_complete", req_complete_get, NULL, "Whether max_output_tokens were generated.", NULL },
    { "block_size", req_bs_get, NULL, "Tokens per block (the manager's).", NULL },
    { "salt", req_salt_get, NULL, "The hash salt (0 when none).", NULL },
    { "hashes", req_hashes, NULL, "PLHs of the complete blocks (kvbm.Hashes).", NULL },
    { "manager", req_manager, NULL, "The Manager the request is bound to.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject ReqType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.RequestSequence",
    .tp_basicsize = sizeof(Req),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "RequestSequence(manager, tokens, max_output_tokens, salt=None)\n\n"
        "The low-level per-request primitive (spec 30 RequestSequence): the request's tokens,\n"
        "the blocks it holds in manager (its block size is the manager's) and its block\n"
        "table. Single owner. Dropping it (or release(), or leaving a with-block) returns\n"
        "every held block. See docs/design/sequence.md for hazards H3, H6.",
    .tp_new = req_new,
    .tp_dealloc = req_dealloc,
    .tp_repr = req_repr,
    .tp_methods = req_methods,
    .tp_getset = req_getset,
};

int kvbmpy_sequence_init(PyObject *mod)
{
    PyTypeObject *types[] = { &BSeqType, &ReqType };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (kvbmpy_add_type(mod, types[i]) < 0)
            return -1;
    return 0;
}
