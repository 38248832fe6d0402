/* python/src/blocklist.c - kvbm.BlockList: the batch container of block handles.
 *
 * A BlockList owns up to n handles of one kind (mutable, complete or immutable) of one
 * manager in a C array stored inline in the object. It is a read-only sequence: indexing
 * creates a view object for that entry on demand, iteration creates one per step; the
 * batch operations (release, complete, stage, block_ids, hashes, Manager.register and
 * release_many) never create a Python object per block. release() releases every entry
 * still held, tail first, with one C call for immutable blocks; garbage collection of an
 * unreleased list does the same.
 */
#include <string.h>

#include "ext.h"

static PyObject *array_type; /* array.array, imported on first use */

static const char *kind_names[] = { "MutableBlock", "CompleteBlock", "ImmutableBlock" };

static kvbmpy_varcache cache = KVBMPY_VARCACHE_INIT(8);

kvbmpy_BlockList *kvbmpy_blocklist_new_raw(kvbmpy_Manager *mgr, int kind, Py_ssize_t n)
{
    Py_ssize_t cap;
    kvbmpy_BlockList *l = (kvbmpy_BlockList *)kvbmpy_vc_alloc(&cache, &kvbmpy_BlockListType, n,
                                                              &cap);
    if (!l)
        return NULL;
    l->mgr = (kvbmpy_Manager *)Py_NewRef((PyObject *)mgr);
    l->kind = kind;
    l->released = 0;
    l->cap = cap;
    return l;
}

void kvbmpy_blocklist_discard(kvbmpy_BlockList **l)
{
    if (*l) {
        Py_SET_SIZE(*l, 0);
        Py_CLEAR(*l);
    }
}

kvbmpy_BlockList *kvbmpy_blocklist_new(kvbmpy_Manager *mgr, int kind, Py_ssize_t n)
{
    kvbmpy_BlockList *l = kvbmpy_blocklist_new_raw(mgr, kind, n);
    if (l && n)
        memset(l->h, 0, (size_t)n * sizeof(void *));
    return l;
}

/* Move every held handle out (tail first) into @tmp; returns how many. */
static Py_ssize_t take_all_reversed(kvbmpy_BlockList *l, void **tmp)
{
    Py_ssize_t k = 0;
    for (Py_ssize_t i = Py_SIZE(l); i-- > 0;) {
        if (l->h[i]) {
            tmp[k++] = l->h[i];
            l->h[i] = NULL;
        }
    }
    return k;
}

static kvbm_status release_handles(int kind, void **h, Py_ssize_t n)
{
    if (kind == KVBMPY_IMMUTABLE)
        return kvbm_block_release_many((kvbm_block *const *)h, (size_t)n);
    for (Py_ssize_t i = 0; i < n; i++)
        kvbmpy_handle_release(kind, h[i]);
    return KVBM_OK;
}

static void blocklist_dealloc(PyObject *self)
{
    kvbmpy_BlockList *l = (kvbmpy_BlockList *)self;
    if (l->released) { /* release() emptied every entry */
        Py_XDECREF(l->mgr);
        kvbmpy_vc_free(&cache, self, l->cap);
        return;
    }
    void *stack[128], **tmp = Py_SIZE(l) <= 128 ? stack : PyMem_Malloc((size_t)Py_SIZE(l) * sizeof(void *));
    if (tmp) {
        Py_ssize_t k = take_all_reversed(l, tmp);
        (void)release_handles(l->kind, tmp, k); /* GIL kept: safe at shutdown too */
        if (tmp != stack)
            PyMem_Free(tmp);
    } else {
        for (Py_ssize_t i = Py_SIZE(l); i-- > 0;) /* no memory: one by one, tail first */
            kvbmpy_handle_release(l->kind, l->h[i]);
    }
    Py_XDECREF(l->mgr);
    kvbmpy_vc_free(&cache, self, l->cap);
}

static PyObject *bl_release(PyObject *self, PyObject *unused)
{
    kvbmpy_BlockList *l = (kvbmpy_BlockList *)self;
    if (l->released)
        return kvbmpy_released("the BlockList");
    void *stack[128], **tmp = Py_SIZE(l) <= 128 ? stack : PyMem_Malloc((size_t)Py_SIZE(l) * sizeof(void *));
    if (!tmp)
        return PyErr_NoMemory();
    l->released = 1;
    Py_ssize_t k = take_all_reversed(l, tmp);
    kvbm_status s;
    KVBMPY_NOGIL_IF(k, s = release_handles(l->kind, tmp, k));
    if (tmp != stack)
        PyMem_Free(tmp);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    Py_RETURN_NONE;
}

static PyObject *bl_enter(PyObject *self, PyObject *unused) { return Py_NewRef(self); }

static PyObject *bl_exit(PyObject *self, PyObject *args)
{
    if (!((kvbmpy_BlockList *)self)->released) {
        PyObject *r = bl_release(self, NULL);
        if (!r)
            return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_FALSE;
}

static Py_ssize_t bl_len(PyObject *self) { return Py_SIZE(self); }

static PyObject *bl_item(PyObject *self, Py_ssize_t i)
{
    if (i < 0 || i >= Py_SIZE(self)) {
        PyErr_SetString(PyExc_IndexError, "BlockList index out of range");
        return NULL;
    }
    return kvbmpy_block_view((kvbmpy_BlockList *)self, i);
}

static PyObject *bl_subscript(PyObject *self, PyObject *key)
{
    if (!PyIndex_Check(key))
        return PyErr_Format(PyExc_TypeError, "BlockList indices must be integers, not %.80s",
                            Py_TYPE(key)->tp_name);
    Py_ssize_t i;
    return kvbmpy_index(key, Py_SIZE(self), &i) < 0 ? NULL : bl_item(self, i);
}

/* Every entry must still be held; @what names the operation for the error. */
static int all_held(kvbmpy_BlockList *l)
{
    if (l->released) {
        kvbmpy_released("the BlockList");
        return -1;
    }
    for (Py_ssize_t i = 0; i < Py_SIZE(l); i++) {
        if (!l->h[i]) {
            char what[64];
            snprintf(what, sizeof what, "block %zd of the BlockList", i);
            kvbmpy_released(what);
            return -1;
        }
    }
    return 0;
}

PyObject *kvbmpy_u32_array(const uint32_t *ids, Py_ssize_t n)
{
    if (!array_type) {
        PyObject *mod = PyImport_ImportModule("array");
        array_type = mod ? PyObject_GetAttrString(mod, "array") : NULL;
        Py_XDECREF(mod);
        if (!array_type)
            return NULL;
    }
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)ids, n * 4);
    if (!bytes)
        return NULL;
    PyObject *r = PyObject_CallFunction(array_type, "sO", "I", bytes);
    Py_DECREF(bytes);
    return r;
}

static PyObject *bl_block_ids(PyObject *self, void *c)
{
    kvbmpy_BlockList *l = (kvbmpy_BlockList *)self;
    if (all_held(l) < 0)
        return NULL;
    uint32_t one[16] = { 0 };
    uint32_t *ids = Py_SIZE(l) <= 16 ? one : PyMem_Malloc((size_t)Py_SIZE(l) * 4);
    if (!ids)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < Py_SIZE(l); i++)
        ids[i] = l->kind == KVBMPY_MUTABLE ? kvbm_mutable_block_id(l->h[i])
               : l->kind == KVBMPY_COMPLETE ? kvbm_complete_block_id(l->h[i])
               : kvbm_block_id(l->h[i]);
    PyObject *r = kvbmpy_u32_array(ids, Py_SIZE(l));
    if (ids != one)
        PyMem_Free(ids);
    return r;
}

static PyObject *bl_hashes(PyObject *self, void *c)
{
    kvbmpy_BlockList *l = (kvbmpy_BlockList *)self;
    if (l->kind == KVBMPY_MUTABLE)
        return kvbmpy_raise_msg(KVBM_EINVAL, "mutable blocks have no sequence hash yet");
    if (all_held(l) < 0)
        return NULL;
    kvbmpy_Hashes *h = kvbmpy_hashes_new(Py_SIZE(l));
    for (Py_ssize_t i = 0; h && i < Py_SIZE(l); i++)
        h->v[i] = l->kind == KVBMPY_COMPLETE ? kvbm_complete_seq_hash(l->h[i])
                                             : kvbm_block_seq_hash(l->h[i]);
    return (PyObject *)h;
}

/* Stage every (held) mutable entry with plhs[i]; the result is a complete BlockList. */
static PyObject *stage_all(kvbmpy_BlockList *l, const kvbm_plh *plhs, uint32_t block_size)
{
    Py_ssize_t n = Py_SIZE(l);
    kvbmpy_BlockList *out = kvbmpy_blocklist_new_raw(l->mgr, KVBMPY_COMPLETE, n);
    void *stack[128], **in = n <= 128 ? stack : PyMem_Malloc((size_t)n * sizeof(void *));
    if (!out || !in) {
        kvbmpy_blocklist_discard(&out);
        if (in && in != stack)
            PyMem_Free(in);
        return in ? NULL : PyErr_NoMemory();
    }
    memcpy(in, l->h, (size_t)n * sizeof(void *));
    memset(l->h, 0, (size_t)n * sizeof(void *));
    kvbm_status s;
    KVBMPY_NOGIL_IF(n, s = kvbm_mutable_stage_many((kvbm_mutable *const *)in, plhs, (size_t)n,
                                             block_size, (kvbm_complete **)out->h));
    if (s != KVBM_OK) {
        memcpy(l->h, in, (size_t)n * sizeof(void *));
        l->released = 0; /* as in kvbmpy_give_back: a racing release() released nothing */
        kvbmpy_blocklist_discard(&out);
        kvbmpy_raise(s);
    } else {
        l->released = 1; /* consumed */
    }
    if (in != stack)
        PyMem_Free(in);
    return (PyObject *)out;
}

static int check_mutable(kvbmpy_BlockList *l, const char *op)
{
    if (l->kind != KVBMPY_MUTABLE) {
        PyErr_Format(PyExc_TypeError, "%s() needs a BlockList of MutableBlock, this one holds %s",
                     op, kind_names[l->kind]);
        return -1;
    }
    return all_held(l);
}

static PyObject *bl_complete(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = { "token_blocks", "start" };
    kvbmpy_BlockList *l = (kvbmpy_BlockList *)self;
    PyObject *a[2];
    Py_ssize_t start = 0;
    if (kvbmpy_args("complete", args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    if (a[1] && (start = PyLong_AsSsize_t(a[1])) == -1 && PyErr_Occurred())
        return NULL;
    PyObject *tbs = a[0];
    if (check_mutable(l, "complete") < 0 || kvbmpy_check_alive() < 0)
        return NULL;
    Py_ssize_t n = Py_SIZE(l);
    kvbm_plh stack[32], *plhs = n <= 32 ? stack : PyMem_Malloc((size_t)n * sizeof(kvbm_plh));
    if (!plhs)
        return PyErr_NoMemory();
    PyObject *r = NULL;
    if (kvbmpy_token_blocks_plhs(tbs, start, n, l->mgr->block_size, plhs) == 0)
        r = stage_all(l, plhs, l->mgr->block_size);
    if (plhs != stack)
        PyMem_Free(plhs);
    return r;
}

/* The hashes of @hs from @start_obj (NULL = 0) on, which must be one per block of a list
 * of @n blocks: v->p is advanced to hashes[start]. 0, or -1 with an exception (v freed). */
int kvbmpy_plhs_from(PyObject *hs, PyObject *start_obj, Py_ssize_t n, const char *op,
                     kvbmpy_plhs *v)
{
    Py_ssize_t start = 0;
    if (start_obj && (start = PyLong_AsSsize_t(start_obj)) == -1 && PyErr_Occurred())
        return -1;
    if (kvbmpy_plhs_get(hs, v) < 0)
        return -1;
    if (start < 0 || start > v->n) {
        kvbmpy_raise_msg(KVBM_EINVAL, "%s(): start %zd is outside 0..%zd", op, start, v->n);
    } else if (v->n - start != n) {
        kvbmpy_raise_msg(KVBM_EINVAL, "%s() needs one hash per block: %zd blocks, %zd hashes%s",
                         op, n, v->n - start, start ? " from start" : "");
    } else {
        v->p += start;
        return 0;
    }
    kvbmpy_plhs_free(v);
    return -1;
}

static PyObject *bl_stage(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    static const char *const names[] = { "hashes", "block_size", "start" };
    kvbmpy_BlockList *l = (kvbmpy_BlockList *)self;
    PyObject *a[3];
    unsigned int bs = l->mgr->block_size;
    if (kvbmpy_args("stage", args, nargs, kwnames, names, 3, 1, a) < 0 ||
        (a[1] && !kvbmpy_conv_u32(a[1], &bs)))
        return NULL;
    if (check_mutable(l, "stage") < 0 || kvbmpy_check_alive() < 0)
        return NULL;
    kvbmpy_plhs v;
    if (kvbmpy_plhs_from(a[0], a[2], Py_SIZE(l), "stage", &v) < 0)
        return NULL;
    PyObject *r = stage_all(l, v.p, bs);
    kvbmpy_plhs_free(&v);
    return r;
}

static PyObject *bl_kind(PyObject *self, void *c)
{
    static const char *k[] = { "mutable", "complete", "immutable" };
    return PyUnicode_FromString(k[((kvbmpy_BlockList *)self)->kind]);
}
static PyObject *bl_released(PyObject *self, void *c)
{
    return PyBool_FromLong(((kvbmpy_BlockList *)self)->released);
}
static PyObject *bl_manager(PyObject *self, void *c)
{
    return Py_NewRef((PyObject *)((kvbmpy_BlockList *)self)->mgr);
}

static PyObject *bl_repr(PyObject *self)
{
    kvbmpy_BlockList *l = (kvbmpy_BlockList *)self;
    Py_ssize_t held = 0;
    for (Py_ssize_t i = 0; i < Py_SIZE(l); i++)
        held += l->h[i] != NULL;
    return PyUnicode_FromFormat("kvbm.BlockList(%s, len=%zd, held=%zd%s)", kind_names[l->kind],
                                Py_SIZE(l), held, l->released ? ", released" : "");
}

static PyMethodDef bl_methods[] = {
    { "release", bl_release, METH_NOARGS,
      "release(): release every block still held, tail first, in one call (immutable\n"
      "blocks park in the cache; mutable and complete ones return to the reset pool).\n"
      "A second release() raises ReleasedError." },
    { "complete", (PyCFunction)(void (*)(void))bl_complete, METH_FASTCALL | METH_KEYWORDS,
      "complete(token_blocks, start=0) -> BlockList[CompleteBlock]\n\n"
      "Stage block i with token block start + i, for the whole list in one call.\n"
      "token_blocks: a TokenBlockSequence or a list of TokenBlock (each of the manager's\n"
      "block size). Consumes this list on success; unchanged on error." },
    { "stage", (PyCFunction)(void (*)(void))bl_stage, METH_FASTCALL | METH_KEYWORDS,
      "stage(hashes, block_size=manager.block_size, start=0) -> BlockList[CompleteBlock]\n\n"
      "Stage block i with hashes[start + i], in one call: one hash per block from start\n"
      "on (stage(h, start=k) is stage(h[k:]) without the slice). Consumes this list on\n"
      "success; unchanged on error." },
    { "__enter__", bl_enter, METH_NOARGS, "Context manager: returns the list." },
    { "__exit__", bl_exit, METH_VARARGS, "Context manager: release() unless already released." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef bl_getset[] = {
    { "block_ids", bl_block_ids, NULL, "Block ids as an array('I') (no object per block).", NULL },
    { "hashes", bl_hashes, NULL, "Sequence hashes as a kvbm.Hashes (complete/immutable lists).", NULL },
    { "kind", bl_kind, NULL, "'mutable', 'complete' or 'immutable'.", NULL },
    { "released", bl_released, NULL, "True after release() or after being consumed.", NULL },
    { "manager", bl_manager, NULL, "The owning kvbm.Manager.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PySequenceMethods bl_as_seq = { .sq_length = bl_len, .sq_item = bl_item };
static PyMappingMethods bl_as_map = { .mp_length = bl_len, .mp_subscript = bl_subscript };

PyTypeObject kvbmpy_BlockListType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.BlockList",
    .tp_basicsize = offsetof(kvbmpy_BlockList, h),
    .tp_itemsize = sizeof(void *),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A batch of blocks of one kind (mutable, complete or immutable) of one manager.\n\n"
              "Returned by Manager.allocate / register / match_blocks / scan_matches. A\n"
              "read-only sequence: len(), indexing and iteration create block objects on\n"
              "demand; those are views - the list keeps owning the blocks. Batch operations\n"
              "(release, complete, stage, block_ids, hashes) create no object per block.\n"
              "Use as a context manager, or call release(); a list dropped without release\n"
              "returns its blocks when it is garbage collected.",
    .tp_dealloc = blocklist_dealloc,
    .tp_repr = bl_repr,
    .tp_as_sequence = &bl_as_seq,
    .tp_as_mapping = &bl_as_map,
    .tp_methods = bl_methods,
    .tp_getset = bl_getset,
};
