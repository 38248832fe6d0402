/* python/src/blocks.c - the per-block handle objects: MutableBlock, CompleteBlock,
 * ImmutableBlock, WeakBlock and Pin.
 *
 * One struct (kvbmpy_Block) for all five: a block either owns its handle (h) or is a view
 * of a BlockList entry (owner, idx). release() and consuming calls (stage, complete,
 * reset) empty the owning slot; any later use raises ReleasedError, a second release()
 * too. Garbage collection of an owning object releases its handle. Single-block calls keep
 * the GIL (they are short); batch calls live in blocklist.c / manager.c.
 */
#include <string.h>

#include "ext.h"

enum { KIND_WEAK = 3, KIND_PIN = 4 };

static inline int kind_of(PyObject *o) { return ((kvbmpy_Block *)o)->kind; }

PyTypeObject *kvbmpy_block_type(int kind)
{
    static PyTypeObject *types[] = { &kvbmpy_MutableBlockType, &kvbmpy_CompleteBlockType,
                                     &kvbmpy_ImmutableBlockType, &kvbmpy_WeakBlockType,
                                     &kvbmpy_PinType };
    return types[kind];
}

void kvbmpy_handle_release(int kind, void *h)
{
    if (!h)
        return;
    switch (kind) {
    case KVBMPY_MUTABLE: (void)kvbm_mutable_release(h); break;
    case KVBMPY_COMPLETE: (void)kvbm_complete_release(h); break;
    case KVBMPY_IMMUTABLE: (void)kvbm_block_release(h); break;
    case KIND_WEAK: kvbm_weak_release(h); break;
    default: (void)kvbm_pin_release(h); break;
    }
}

/* Freelist of block objects (all five types share one layout): the per-block path makes
 * and drops ~3 of them per block. Protected by the GIL (every alloc and dealloc holds it).
 * Off under ASan, so that use-after-free of a block object stays detectable. */
#define FREELIST_MAX (KVBMPY_FREELISTS ? 64 : 0)
static PyObject *freelist[FREELIST_MAX + 1];
static int       n_free;

static kvbmpy_Block *block_alloc(PyTypeObject *type)
{
    if (n_free > 0) {
        PyObject *o = freelist[--n_free];
        return (kvbmpy_Block *)PyObject_Init(o, type);
    }
    return PyObject_New(kvbmpy_Block, type);
}

PyObject *kvbmpy_block_new(kvbmpy_Manager *mgr, int kind, void *h)
{
    kvbmpy_Block *b = block_alloc(kvbmpy_block_type(kind));
    if (!b) {
        kvbmpy_handle_release(kind, h);
        return NULL;
    }
    b->mgr = (kvbmpy_Manager *)Py_NewRef((PyObject *)mgr);
    b->owner = NULL;
    b->idx = 0;
    b->h = h;
    b->kind = kind;
    return (PyObject *)b;
}

PyObject *kvbmpy_block_view(kvbmpy_BlockList *list, Py_ssize_t idx)
{
    kvbmpy_Block *b = block_alloc(kvbmpy_block_type(list->kind));
    if (!b)
        return NULL;
    b->mgr = (kvbmpy_Manager *)Py_NewRef((PyObject *)list->mgr);
    b->owner = (kvbmpy_BlockList *)Py_NewRef((PyObject *)list);
    b->idx = idx;
    b->h = NULL;
    b->kind = list->kind;
    return (PyObject *)b;
}

static void block_dealloc(PyObject *self)
{
    kvbmpy_Block *b = (kvbmpy_Block *)self;
    if (!b->owner)
        kvbmpy_handle_release(kind_of(self), b->h); /* GC fallback */
    Py_XDECREF(b->owner);
    Py_XDECREF(b->mgr);
    if (n_free < FREELIST_MAX)
        freelist[n_free++] = self;
    else
        PyObject_Free(self);
}

/* The held handle, or NULL with ReleasedError set. */
static void *held(PyObject *self)
{
    void *h = *kvbmpy_block_slot((kvbmpy_Block *)self);
    if (!h)
        kvbmpy_released(Py_TYPE(self)->tp_name + 5 /* skip "kvbm." */);
    return h;
}

#define HELD(self, var)                   \
    void *var = held(self);               \
    if (!var)                             \
        return NULL

static PyObject *b_release(PyObject *self, PyObject *unused)
{
    void **slot = kvbmpy_block_slot((kvbmpy_Block *)self);
    HELD(self, h);
    *slot = NULL;
    kvbmpy_handle_release(kind_of(self), h);
    Py_RETURN_NONE;
}

static PyObject *b_enter(PyObject *self, PyObject *unused)
{
    HELD(self, h);
    (void)h;
    return Py_NewRef(self);
}

static PyObject *b_exit(PyObject *self, PyObject *args)
{
    void **slot = kvbmpy_block_slot((kvbmpy_Block *)self);
    if (*slot) {
        void *h = *slot;
        *slot = NULL;
        kvbmpy_handle_release(kind_of(self), h);
    }
    Py_RETURN_FALSE;
}

static PyObject *b_released(PyObject *self, void *c)
{
    return PyBool_FromLong(*kvbmpy_block_slot((kvbmpy_Block *)self) == NULL);
}

static PyObject *b_manager(PyObject *self, void *c)
{
    return Py_NewRef((PyObject *)((kvbmpy_Block *)self)->mgr);
}

static PyObject *b_block_id(PyObject *self, void *c)
{
    HELD(self, h);
    switch (kind_of(self)) {
    case KVBMPY_MUTABLE: return PyLong_FromUnsignedLong(kvbm_mutable_block_id(h));
    case KVBMPY_COMPLETE: return PyLong_FromUnsignedLong(kvbm_complete_block_id(h));
    case KVBMPY_IMMUTABLE: return PyLong_FromUnsignedLong(kvbm_block_id(h));
    default: return PyLong_FromUnsignedLong(kvbm_pin_block_id(h));
    }
}

static PyObject *b_seq_hash(PyObject *self, void *c)
{
    HELD(self, h);
    switch (kind_of(self)) {
    case KVBMPY_COMPLETE: return kvbmpy_plh_to_obj(kvbm_complete_seq_hash(h));
    case KVBMPY_IMMUTABLE: return kvbmpy_plh_to_obj(kvbm_block_seq_hash(h));
    case KIND_WEAK: return kvbmpy_plh_to_obj(kvbm_weak_seq_hash(h));
    default: return kvbmpy_plh_to_obj(kvbm_pin_seq_hash(h));
    }
}

static PyObject *b_block_size(PyObject *self, void *c)
{
    HELD(self, h);
    return PyLong_FromUnsignedLong(kind_of(self) == KVBMPY_MUTABLE ? kvbm_mutable_block_size(h)
                                                                   : kvbm_complete_block_size(h));
}

static PyObject *b_use_count(PyObject *self, void *c)
{
    HELD(self, h);
    return PyLong_FromUnsignedLong(kind_of(self) == KIND_PIN ? kvbm_pin_use_count(h)
                                                             : kvbm_block_use_count(h));
}

static PyObject *b_is_duplicate(PyObject *self, void *c)
{
    HELD(self, h);
    return PyBool_FromLong(kvbm_block_is_duplicate(h));
}

static PyObject *b_repr(PyObject *self)
{
    void *h = *kvbmpy_block_slot((kvbmpy_Block *)self);
    if (!h)
        return PyUnicode_FromFormat("<%s (released)>", Py_TYPE(self)->tp_name);
    char buf[256];
    switch (kind_of(self)) {
    case KVBMPY_MUTABLE: kvbm_mutable_describe(h, buf, sizeof buf); break;
    case KVBMPY_IMMUTABLE: kvbm_block_describe(h, buf, sizeof buf); break;
    case KIND_WEAK: kvbm_weak_describe(h, buf, sizeof buf); break;
    case KIND_PIN: kvbm_pin_describe(h, buf, sizeof buf); break;
    default: {
        char hex[KVBM_PLH_HEX_LEN];
        snprintf(buf, sizeof buf, "CompleteBlock { block_id: %u, sequence_hash: %s }",
                 kvbm_complete_block_id(h), kvbm_plh_to_hex(kvbm_complete_seq_hash(h), hex));
    }
    }
    return PyUnicode_FromFormat("<kvbm.%s>", buf);
}

/* Consume the handle of @self through @op; on success the slot is emptied. */
static void *take(PyObject *self, void ***slot_out)
{
    void **slot = kvbmpy_block_slot((kvbmpy_Block *)self);
    void *h = *slot;
    if (!h)
        kvbmpy_released(Py_TYPE(self)->tp_name + 5);
    *slot_out = slot;
    return h;
}

static PyObject *stage_with(PyObject *self, kvbm_plh plh, uint32_t bs)
{
    if (kvbmpy_check_alive() < 0)
        return NULL;
    void **slot;
    void *h = take(self, &slot);
    if (!h)
        return NULL;
    kvbm_complete *out;
    uint32_t exp = 0, act = 0;
    kvbm_status s = kvbm_mutable_stage(h, plh, bs, &out, &exp, &act);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    *slot = NULL;
    return kvbmpy_block_new(((kvbmpy_Block *)self)->mgr, KVBMPY_COMPLETE, out);
}

static PyObject *mut_stage(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    static const char *const names[] = { "plh", "block_size" };
    PyObject *a[2];
    unsigned int bs = ((kvbmpy_Block *)self)->mgr->block_size;
    if (kvbmpy_args("stage", args, nargs, kwnames, names, 2, 1, a) < 0 ||
        (a[1] && !kvbmpy_conv_u32(a[1], &bs)))
        return NULL;
    kvbm_plh plh;
    if (kvbmpy_plh_from_obj(a[0], &plh) < 0)
        return NULL;
    return stage_with(self, plh, bs);
}

static PyObject *mut_complete(PyObject *self, PyObject *tb)
{
    if (!Py_IS_TYPE(tb, &kvbmpy_TokenBlockType))
        return PyErr_Format(PyExc_TypeError, "complete() takes a kvbm.TokenBlock, not %.80s",
                            Py_TYPE(tb)->tp_name);
    return stage_with(self, ((kvbmpy_TokenBlock *)tb)->plh, ((kvbmpy_TokenBlock *)tb)->size);
}

static PyObject *comp_reset(PyObject *self, PyObject *unused)
{
    void **slot;
    void *h = take(self, &slot);
    if (!h)
        return NULL;
    kvbm_mutable *out;
    kvbm_status s = kvbm_complete_reset(h, &out);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    *slot = NULL;
    return kvbmpy_block_new(((kvbmpy_Block *)self)->mgr, KVBMPY_MUTABLE, out);
}

static PyObject *comp_register(PyObject *self, PyObject *unused)
{
    return kvbmpy_manager_register((PyObject *)((kvbmpy_Block *)self)->mgr, self);
}

/* clone / downgrade / pin / upgrade: a new standalone object of @kind */
static PyObject *derive(PyObject *self, int op)
{
    HELD(self, h);
    void *out = NULL;
    kvbm_status s;
    int kind;
    switch (op) {
    case 0: s = kvbm_block_clone(h, (kvbm_block **)&out); kind = KVBMPY_IMMUTABLE; break;
    case 1: s = kvbm_block_downgrade(h, (kvbm_weak **)&out); kind = KIND_WEAK; break;
    case 2: s = kvbm_block_pin(h, (kvbm_pin **)&out); kind = KIND_PIN; break;
    case 3: s = kvbm_weak_clone(h, (kvbm_weak **)&out); kind = KIND_WEAK; break;
    case 4: s = kvbm_pin_clone(h, (kvbm_pin **)&out); kind = KIND_PIN; break;
    default:
        if (kvbmpy_check_alive() < 0)
            return NULL;
        s = kvbm_weak_upgrade(h, (kvbm_block **)&out);
        kind = KVBMPY_IMMUTABLE;
        if (s == KVBM_ENOENT) {
            kvbm_clear_last_error();
            Py_RETURN_NONE;
        }
    }
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    return kvbmpy_block_new(((kvbmpy_Block *)self)->mgr, kind, out);
}

static PyObject *imm_clone(PyObject *s, PyObject *u) { return derive(s, 0); }
static PyObject *imm_downgrade(PyObject *s, PyObject *u) { return derive(s, 1); }
static PyObject *imm_pin(PyObject *s, PyObject *u) { return derive(s, 2); }
static PyObject *weak_clone(PyObject *s, PyObject *u) { return derive(s, 3); }
static PyObject *pin_clone(PyObject *s, PyObject *u) { return derive(s, 4); }
static PyObject *weak_upgrade(PyObject *s, PyObject *u) { return derive(s, 5); }

static PyObject *imm_set_evict(PyObject *self, PyObject *arg)
{
    HELD(self, h);
    int v = PyObject_IsTrue(arg);
    if (v < 0)
        return NULL;
    kvbm_status s = kvbm_block_set_evict_on_reset(h, v != 0);
    if (s != KVBM_OK)
        return kvbmpy_raise(s);
    Py_RETURN_NONE;
}

#define COMMON_METHODS                                                                   \
    { "release", b_release, METH_NOARGS,                                                 \
      "release(): give the block back now (ReleasedError if already released)." },      \
    { "__enter__", b_enter, METH_NOARGS, "Context manager: returns the block." },        \
    { "__exit__", b_exit, METH_VARARGS, "Context manager: release() unless released." }

#define COMMON_GETSET                                                                    \
    { "released", b_released, NULL, "True once released or consumed.", NULL },          \
    { "manager", b_manager, NULL, "The owning kvbm.Manager.", NULL }

static PyMethodDef mut_methods[] = {
    { "stage", (PyCFunction)(void (*)(void))mut_stage, METH_FASTCALL | METH_KEYWORDS,
      "stage(plh, block_size=manager.block_size) -> CompleteBlock: consume this block,\n"
      "staging it with sequence hash plh (SizeMismatchError if block_size differs)." },
    { "complete", mut_complete, METH_O,
      "complete(token_block) -> CompleteBlock: stage with a TokenBlock's PLH and size." },
    COMMON_METHODS, { NULL, NULL, 0, NULL }
};
static PyGetSetDef mut_getset[] = {
    { "block_id", b_block_id, NULL, "Index of the block in its pool.", NULL },
    { "block_size", b_block_size, NULL, "Tokens per block.", NULL },
    COMMON_GETSET, { NULL, NULL, NULL, NULL, NULL }
};

static PyMethodDef comp_methods[] = {
    { "reset", comp_reset, METH_NOARGS,
      "reset() -> MutableBlock: consume this block and return it to the mutable state." },
    { "register", comp_register, METH_NOARGS,
      "register() -> ImmutableBlock: manager.register(self)." },
    COMMON_METHODS, { NULL, NULL, 0, NULL }
};
static PyGetSetDef comp_getset[] = {
    { "block_id", b_block_id, NULL, "Index of the block in its pool.", NULL },
    { "block_size", b_block_size, NULL, "Tokens per block.", NULL },
    { "sequence_hash", b_seq_hash, NULL, "The staged PLH (128-bit int).", NULL },
    COMMON_GETSET, { NULL, NULL, NULL, NULL, NULL }
};

static PyMethodDef imm_methods[] = {
    { "clone", imm_clone, METH_NOARGS, "clone() -> ImmutableBlock: one more reference." },
    { "downgrade", imm_downgrade, METH_NOARGS, "downgrade() -> WeakBlock." },
    { "pin", imm_pin, METH_NOARGS, "pin() -> Pin: a keepalive that does not count as in use." },
    { "set_evict_on_reset", imm_set_evict, METH_O,
      "set_evict_on_reset(flag): when the last reference goes, reset the block instead of\n"
      "caching it." },
    COMMON_METHODS, { NULL, NULL, 0, NULL }
};
static PyGetSetDef imm_getset[] = {
    { "block_id", b_block_id, NULL, "Index of the block in its pool.", NULL },
    { "sequence_hash", b_seq_hash, NULL, "The registered PLH (128-bit int).", NULL },
    { "is_duplicate", b_is_duplicate, NULL, "True for an Allow-policy duplicate.", NULL },
    { "use_count", b_use_count, NULL, "Strong references (clones, pins, duplicates).", NULL },
    COMMON_GETSET, { NULL, NULL, NULL, NULL, NULL }
};

static PyMethodDef weak_methods[] = {
    { "upgrade", weak_upgrade, METH_NOARGS,
      "upgrade() -> ImmutableBlock | None: the block if still referenced, else the hash's\n"
      "current block in this manager (possibly resurrected from the cache), else None." },
    { "clone", weak_clone, METH_NOARGS, "clone() -> WeakBlock." },
    COMMON_METHODS, { NULL, NULL, 0, NULL }
};
static PyGetSetDef weak_getset[] = {
    { "sequence_hash", b_seq_hash, NULL, "The block's PLH (128-bit int).", NULL },
    COMMON_GETSET, { NULL, NULL, NULL, NULL, NULL }
};

static PyMethodDef pin_methods[] = {
    { "clone", pin_clone, METH_NOARGS, "clone() -> Pin." },
    COMMON_METHODS, { NULL, NULL, 0, NULL }
};
static PyGetSetDef pin_getset[] = {
    { "block_id", b_block_id, NULL, "Index of the pinned block.", NULL },
    { "sequence_hash", b_seq_hash, NULL, "The pinned block's PLH.", NULL },
    { "use_count", b_use_count, NULL, "Strong references on the block.", NULL },
    COMMON_GETSET, { NULL, NULL, NULL, NULL, NULL }
};

#define BLOCK_TYPE(var, name, doc, methods, getset)             \
    PyTypeObject var = {                                        \
        PyVarObject_HEAD_INIT(NULL, 0)                          \
        .tp_name = "kvbm." name,                                \
        .tp_basicsize = sizeof(kvbmpy_Block),                   \
        .tp_flags = Py_TPFLAGS_DEFAULT,                         \
        .tp_doc = doc,                                          \
        .tp_dealloc = block_dealloc,                            \
        .tp_repr = b_repr,                                      \
        .tp_methods = methods,                                  \
        .tp_getset = getset,                                    \
    }

BLOCK_TYPE(kvbmpy_MutableBlockType, "MutableBlock",
           "A block being filled (unique owner). stage()/complete() turn it into a\n"
           "CompleteBlock; release() returns it to the reset pool.",
           mut_methods, mut_getset);
BLOCK_TYPE(kvbmpy_CompleteBlockType, "CompleteBlock",
           "A staged block with its sequence hash (unique owner). Manager.register() makes it\n"
           "an ImmutableBlock; reset() makes it mutable again; release() resets it.",
           comp_methods, comp_getset);
BLOCK_TYPE(kvbmpy_ImmutableBlockType, "ImmutableBlock",
           "A registered, shareable block (one reference). release() drops the reference;\n"
           "the last one parks the block in the cache (inactive pool) for later matches.",
           imm_methods, imm_getset);
BLOCK_TYPE(kvbmpy_WeakBlockType, "WeakBlock",
           "A weak reference to a registered block; upgrade() gets a strong one if possible.",
           weak_methods, weak_getset);
BLOCK_TYPE(kvbmpy_PinType, "Pin",
           "A lifecycle pin: keeps a registered block alive without counting as in use.",
           pin_methods, pin_getset);
