/* python/src/tokens.c - kvbm.TokenBlock (an immutable value copied out of the C object),
 * kvbm.TokenBlockSequence (owns a kvbm_token_seq) and the plh_* module functions.
 *
 * TokenBlock copies what it needs (PLH, hashes, position, tokens) so that it stays valid
 * after the sequence it came from changes; MutableBlock.complete(tb) stages with tb's PLH
 * and token count exactly like kvbm_mutable_complete().
 */
#include <string.h>

#include "ext.h"

static PyObject *u32_list(const uint32_t *p, size_t n)
{
    return kvbmpy_int_list((Py_ssize_t)n, NULL, p, NULL);
}

/* ---- TokenBlock --------------------------------------------------------------------- */

static kvbmpy_varcache cache = KVBMPY_VARCACHE_INIT(64);

PyObject *kvbmpy_token_block_from_c(const kvbm_token_block *tb)
{
    uint32_t size = kvbm_token_block_size(tb);
    Py_ssize_t cap;
    kvbmpy_TokenBlock *o = (kvbmpy_TokenBlock *)kvbmpy_vc_alloc(&cache, &kvbmpy_TokenBlockType,
                                                                size, &cap);
    if (!o)
        return NULL;
    o->cap = cap;
    o->size = size;
    memcpy(o->tokens, kvbm_token_block_tokens(tb), (size_t)o->size * sizeof(uint32_t));
    o->plh = kvbm_token_block_plh(tb);
    o->salt = kvbm_token_block_salt(tb);
    o->block_hash = kvbm_token_block_hash(tb);
    o->seq_hash = kvbm_token_block_seq_hash(tb);
    o->position = kvbm_token_block_position(tb);
    o->parent = 0;
    o->has_parent = kvbm_token_block_parent_seq_hash(tb, &o->parent);
    return (PyObject *)o;
}

static PyObject *token_block_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "tokens", "salt", "parent", NULL };
    PyObject *tok, *parent = Py_None;
    unsigned long long salt = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O&O:TokenBlock", kwlist, &tok, kvbmpy_conv_u64,
                                     &salt, &parent))
        return NULL;
    if (parent != Py_None && !Py_IS_TYPE(parent, &kvbmpy_TokenBlockType)) {
        PyErr_Format(PyExc_TypeError, "parent must be a kvbm.TokenBlock or None, not %.80s",
                     Py_TYPE(parent)->tp_name);
        return NULL;
    }
    kvbmpy_tokens t;
    if (kvbmpy_tokens_get(tok, &t) < 0)
        return NULL;
    PyObject *res = NULL;
    kvbm_token_block *tb = NULL;
    kvbm_status s = KVBM_OK;
    kvbm_plh child;
    if (t.n > KVBM_TOKENS_MAX_BLOCK_SIZE) {
        kvbmpy_raise_msg(KVBM_EINVAL, "a token block holds at most %u tokens, got %zd",
                         KVBM_TOKENS_MAX_BLOCK_SIZE, t.n);
        goto done;
    }
    /* The block is built as a root; a parent's chain is then applied from the parent's
     * copied PLH (the same hashes as kvbm_token_block_create with the parent object). */
    s = kvbm_token_block_create(t.p, (uint32_t)t.n, salt, NULL, &tb);
    if (s == KVBM_OK && parent != Py_None)
        s = kvbm_plh_extend(&((kvbmpy_TokenBlock *)parent)->plh, kvbm_token_block_hash(tb), &child);
    if (s == KVBM_OK)
        res = kvbmpy_token_block_from_c(tb);
    if (res && parent != Py_None) {
        kvbmpy_TokenBlock *o = (kvbmpy_TokenBlock *)res, *p = (kvbmpy_TokenBlock *)parent;
        o->plh = child;
        o->seq_hash = kvbm_plh_current(child);
        o->position = p->position + 1;
        o->has_parent = 1;
        o->parent = p->seq_hash;
    }
done:
    if (s != KVBM_OK)
        kvbmpy_raise(s);
    (void)kvbm_token_block_destroy(tb);
    kvbmpy_tokens_free(&t);
    return res;
}

static void token_block_dealloc(PyObject *self)
{
    kvbmpy_vc_free(&cache, self, ((kvbmpy_TokenBlock *)self)->cap);
}

static PyObject *tb_plh(PyObject *s, void *c) { return kvbmpy_plh_to_obj(((kvbmpy_TokenBlock *)s)->plh); }
static PyObject *tb_size(PyObject *s, void *c) { return PyLong_FromUnsignedLong(((kvbmpy_TokenBlock *)s)->size); }
static PyObject *tb_salt(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(((kvbmpy_TokenBlock *)s)->salt); }
static PyObject *tb_hash(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(((kvbmpy_TokenBlock *)s)->block_hash); }
static PyObject *tb_seq(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(((kvbmpy_TokenBlock *)s)->seq_hash); }
static PyObject *tb_pos(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(((kvbmpy_TokenBlock *)s)->position); }
static PyObject *tb_parent(PyObject *s, void *c)
{
    kvbmpy_TokenBlock *o = (kvbmpy_TokenBlock *)s;
    if (!o->has_parent)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(o->parent);
}
static PyObject *tb_tokens(PyObject *s, void *c)
{
    kvbmpy_TokenBlock *o = (kvbmpy_TokenBlock *)s;
    return u32_list(o->tokens, o->size);
}

static PyObject *token_block_repr(PyObject *self)
{
    kvbmpy_TokenBlock *o = (kvbmpy_TokenBlock *)self;
    char disp[KVBM_PLH_DISPLAY_LEN];
    kvbm_plh_display(o->plh, disp);
    return PyUnicode_FromFormat("kvbm.TokenBlock(position=%llu, size=%u, plh=%s)",
                                (unsigned long long)o->position, (unsigned)o->size, disp);
}

static PyGetSetDef token_block_getset[] = {
    { "plh", tb_plh, NULL, "The block's PLH (sequence hash) as a 128-bit int.", NULL },
    { "sequence_hash", tb_plh, NULL, "Alias of plh (the manager's sequence hash).", NULL },
    { "block_size", tb_size, NULL, "Number of tokens (= the block size).", NULL },
    { "salt", tb_salt, NULL, "Seed of the block hash.", NULL },
    { "block_hash", tb_hash, NULL, "Local 64-bit block hash XXH3_64(tokens, salt).", NULL },
    { "seq64", tb_seq, NULL, "Chained 64-bit sequence hash.", NULL },
    { "position", tb_pos, NULL, "Block index in its sequence (root = 0).", NULL },
    { "parent_seq64", tb_parent, NULL, "Parent's chained hash, None for a root block.", NULL },
    { "tokens", tb_tokens, NULL, "The block's tokens (a new list).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static Py_ssize_t tb_len(PyObject *s) { return ((kvbmpy_TokenBlock *)s)->size; }
static PySequenceMethods tb_as_seq = { .sq_length = tb_len };

PyTypeObject kvbmpy_TokenBlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.TokenBlock",
    .tp_basicsize = offsetof(kvbmpy_TokenBlock, tokens),
    .tp_itemsize = sizeof(uint32_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TokenBlock(tokens, salt=0, parent=None) -> a complete block of tokens.\n\n"
              "An immutable value: its tokens, salt, local hash, chained hash, position and\n"
              "PLH (.plh, the sequence hash a manager registers). len(tokens) must be a power\n"
              "of 2 in [1, 1024]. parent: the preceding TokenBlock of the same sequence.\n"
              "Usually obtained from TokenBlockSequence.blocks.",
    .tp_new = token_block_new,
    .tp_dealloc = token_block_dealloc,
    .tp_repr = token_block_repr,
    .tp_getset = token_block_getset,
    .tp_as_sequence = &tb_as_seq,
};

/* ---- TokenBlockSequence ------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    kvbm_token_seq *seq;
} Seq;

static PyObject *seq_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "tokens", "block_size", "salt", NULL };
    PyObject *tok = NULL, *salt_obj = Py_None;
    unsigned int bs = 16;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO&O:TokenBlockSequence", kwlist, &tok,
                                     kvbmpy_conv_u32, &bs,
                                     &salt_obj))
        return NULL;
    unsigned long long salt = 0;
    if (salt_obj != Py_None) {
        salt = PyLong_AsUnsignedLongLong(salt_obj);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            return kvbmpy_raise_msg(KVBM_EINVAL, "salt must be None or an int in 0..2**64-1");
        }
    }
    kvbmpy_tokens t;
    t.p = NULL; /* no tokens: an empty sequence (the buffer is not zeroed: 4 KB) */
    t.n = 0;
    t.tmp = NULL;
    t.has_view = 0;
    if (tok && kvbmpy_tokens_get(tok, &t) < 0)
        return NULL;
    Seq *o = (Seq *)type->tp_alloc(type, 0);
    if (o) {
        kvbm_status s = kvbm_token_seq_create(t.p, (size_t)t.n, bs, salt, &o->seq);
        if (s != KVBM_OK) {
            Py_CLEAR(o);
            kvbmpy_raise(s);
        }
    }
    kvbmpy_tokens_free(&t);
    return (PyObject *)o;
}

static void seq_dealloc(PyObject *self)
{
    kvbm_token_seq_destroy(((Seq *)self)->seq);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *seq_extend(PyObject *self, PyObject *tok)
{
    kvbmpy_tokens t;
    if (kvbmpy_tokens_get(tok, &t) < 0)
        return NULL;
    size_t first = 0, end = 0;
    kvbm_status s = kvbm_token_seq_extend(((Seq *)self)->seq, t.p, (size_t)t.n, &first, &end);
    kvbmpy_tokens_free(&t);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    return Py_BuildValue("(nn)", (Py_ssize_t)first, (Py_ssize_t)end);
}

static PyObject *seq_append(PyObject *self, PyObject *tok)
{
    unsigned long v = PyLong_AsUnsignedLong(tok);
    if ((v == (unsigned long)-1 && PyErr_Occurred()) || v > UINT32_MAX) {
        PyErr_Clear();
        return kvbmpy_raise_msg(KVBM_EINVAL, "a token must be an int in 0..2**32-1");
    }
    bool done = false;
    size_t idx = 0;
    kvbm_status s = kvbm_token_seq_append(((Seq *)self)->seq, (uint32_t)v, &done, &idx);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    if (!done)
        Py_RETURN_NONE;
    return PyLong_FromSize_t(idx);
}

static PyObject *seq_truncate(PyObject *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0)
        return kvbmpy_raise_msg(KVBM_EINVAL, "truncate length must be >= 0, got %zd", n);
    (void)kvbm_token_seq_truncate(((Seq *)self)->seq, (size_t)n);
    Py_RETURN_NONE;
}

static PyObject *seq_unwind(PyObject *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0)
        return kvbmpy_raise_msg(KVBM_EINVAL, "unwind count must be >= 0, got %zd", n);
    kvbm_status s = kvbm_token_seq_unwind(((Seq *)self)->seq, (size_t)n);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    Py_RETURN_NONE;
}

static PyObject *seq_pop(PyObject *self, PyObject *unused)
{
    uint32_t t;
    kvbm_status s = kvbm_token_seq_pop(((Seq *)self)->seq, &t);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    return PyLong_FromUnsignedLong(t);
}

static PyObject *seq_reset(PyObject *self, PyObject *unused)
{
    (void)kvbm_token_seq_reset(((Seq *)self)->seq);
    Py_RETURN_NONE;
}

static PyObject *seq_blocks(PyObject *self, void *c)
{
    kvbm_token_seq *q = ((Seq *)self)->seq;
    size_t n = kvbm_token_seq_block_count(q);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *b = kvbmpy_token_block_from_c(kvbm_token_seq_block(q, i));
        if (!b) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, b);
    }
    return l;
}

static PyObject *seq_hashes(PyObject *self, void *c)
{
    kvbm_token_seq *q = ((Seq *)self)->seq;
    size_t n = kvbm_token_seq_block_count(q), got = 0;
    kvbmpy_Hashes *h = kvbmpy_hashes_new((Py_ssize_t)n);
    if (h && n && kvbm_token_seq_plhs(q, h->v, n, &got) != KVBM_OK) {
        Py_DECREF(h);
        return kvbmpy_raise(KVBM_EINVAL);
    }
    return (PyObject *)h;
}

static PyObject *seq_tokens(PyObject *self, void *c)
{
    kvbm_token_seq *q = ((Seq *)self)->seq;
    return u32_list(kvbm_token_seq_tokens(q), kvbm_token_seq_total_tokens(q));
}

static PyObject *seq_partial(PyObject *self, void *c)
{
    size_t n = 0;
    const uint32_t *p = kvbm_token_seq_partial_tokens(((Seq *)self)->seq, &n);
    return u32_list(p, n);
}

static PyObject *seq_total(PyObject *s, void *c) { return PyLong_FromSize_t(kvbm_token_seq_total_tokens(((Seq *)s)->seq)); }
static PyObject *seq_count(PyObject *s, void *c) { return PyLong_FromSize_t(kvbm_token_seq_block_count(((Seq *)s)->seq)); }
static PyObject *seq_bs(PyObject *s, void *c) { return PyLong_FromUnsignedLong(kvbm_token_seq_block_size(((Seq *)s)->seq)); }
static PyObject *seq_salt(PyObject *s, void *c) { return PyLong_FromUnsignedLongLong(kvbm_token_seq_salt(((Seq *)s)->seq)); }
static Py_ssize_t seq_len(PyObject *s) { return (Py_ssize_t)kvbm_token_seq_total_tokens(((Seq *)s)->seq); }

static PyObject *seq_block_at(PyObject *self, PyObject *arg)
{
    kvbm_token_seq *q = ((Seq *)self)->seq;
    Py_ssize_t i;
    if (kvbmpy_index(arg, (Py_ssize_t)kvbm_token_seq_block_count(q), &i) < 0)
        return NULL;
    const kvbm_token_block *tb = i < 0 ? NULL : kvbm_token_seq_block(q, (size_t)i);
    if (!tb) {
        PyErr_SetString(PyExc_IndexError, "block index out of range");
        return NULL;
    }
    return kvbmpy_token_block_from_c(tb);
}

static PyMethodDef seq_methods[] = {
    { "extend", seq_extend, METH_O,
      "extend(tokens) -> (first, end): append tokens, committing blocks as they fill;\n"
      "blocks [first, end) were completed by this call." },
    { "append", seq_append, METH_O,
      "append(token) -> int | None: append one token; the index of the block it\n"
      "completed, or None." },
    { "truncate", seq_truncate, METH_O, "truncate(length): keep the first length tokens." },
    { "unwind", seq_unwind, METH_O,
      "unwind(count): drop the last count tokens (InsufficientError if count > len)." },
    { "pop", seq_pop, METH_NOARGS, "pop() -> int: remove the last token (EmptyError when empty)." },
    { "reset", seq_reset, METH_NOARGS, "reset(): drop every token (same block size and salt)." },
    { "block", seq_block_at, METH_O, "block(i) -> TokenBlock: complete block i (negative ok)." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef seq_getset[] = {
    { "blocks", seq_blocks, NULL, "The complete blocks as a new list of TokenBlock.", NULL },
    { "hashes", seq_hashes, NULL, "PLHs of the complete blocks as a kvbm.Hashes (one call).", NULL },
    { "tokens", seq_tokens, NULL, "Every token (a new list).", NULL },
    { "partial_tokens", seq_partial, NULL, "Tokens of the partial (current) block.", NULL },
    { "total_tokens", seq_total, NULL, "Number of tokens.", NULL },
    { "block_count", seq_count, NULL, "Number of complete blocks.", NULL },
    { "block_size", seq_bs, NULL, "Tokens per block.", NULL },
    { "salt", seq_salt, NULL, "Seed of the block hashes (0 = no salt).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PySequenceMethods seq_as_seq = { .sq_length = seq_len };

PyTypeObject kvbmpy_TokenBlockSequenceType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.TokenBlockSequence",
    .tp_basicsize = sizeof(Seq),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TokenBlockSequence(tokens=(), block_size=16, salt=None)\n\n"
              "Tokens cut into complete blocks of block_size (a power of 2 in [1, 1024]) plus\n"
              "one partial block, hashed like Dynamo's dynamo-tokens. .blocks are TokenBlock\n"
              "values, .hashes their PLHs as a kvbm.Hashes. len() is the token count.\n"
              "Not thread-safe for concurrent mutation (the GIL serialises single calls).",
    .tp_new = seq_new,
    .tp_dealloc = seq_dealloc,
    .tp_methods = seq_methods,
    .tp_getset = seq_getset,
    .tp_as_sequence = &seq_as_seq,
};

/* ---- token blocks -> PLHs (BlockList.complete) -------------------------------------- */

int kvbmpy_token_blocks_plhs(PyObject *obj, Py_ssize_t start, Py_ssize_t n,
                             uint32_t block_size, kvbm_plh *out)
{
    if (start < 0) {
        kvbmpy_raise_msg(KVBM_EINVAL, "start must be >= 0, got %zd", start);
        return -1;
    }
    if (Py_IS_TYPE(obj, &kvbmpy_TokenBlockSequenceType)) {
        kvbm_token_seq *q = ((Seq *)obj)->seq;
        size_t count = kvbm_token_seq_block_count(q);
        if ((size_t)start > count || (size_t)(count - (size_t)start) < (size_t)n) {
            kvbmpy_raise_msg(KVBM_EINSUFFICIENT, "the sequence has %zu complete blocks; "
                             "%zd needed from block %zd", count, n, start);
            return -1;
        }
        if (n && kvbm_token_seq_block_size(q) != block_size) {
            kvbmpy_raise_msg(KVBM_ESIZE, "Block size mismatch: expected %u tokens, got %u",
                             block_size, kvbm_token_seq_block_size(q));
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            out[i] = kvbm_token_block_plh(kvbm_token_seq_block(q, (size_t)(start + i)));
        return 0;
    }
    if (!PyList_Check(obj) && !PyTuple_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "token_blocks must be a TokenBlockSequence or a "
                     "list/tuple of TokenBlock, not %.80s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(obj);
    if (start > len || len - start < n) {
        kvbmpy_raise_msg(KVBM_EINSUFFICIENT, "%zd token blocks given; %zd needed from index %zd",
                         len, n, start);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(obj, start + i);
        if (!Py_IS_TYPE(it, &kvbmpy_TokenBlockType)) {
            PyErr_Format(PyExc_TypeError, "token block %zd must be a kvbm.TokenBlock, not %.80s",
                         start + i, Py_TYPE(it)->tp_name);
            return -1;
        }
        kvbmpy_TokenBlock *tb = (kvbmpy_TokenBlock *)it;
        if (tb->size != block_size) {
            kvbmpy_raise_msg(KVBM_ESIZE, "Block size mismatch: expected %u tokens, got %u",
                             block_size, tb->size);
            return -1;
        }
        out[i] = tb->plh;
    }
    return 0;
}
