/* python/src/hashes.c - kvbm.Hashes (a read-only array of 128-bit PLHs exported through the
 * buffer protocol) and the converters that turn Python arguments into PLH and token arrays.
 *
 * Layout: n entries of struct kvbm_plh {uint64 hi, lo}, stored inline in the object (one
 * allocation). The buffer is exported as a 2-D uint64 array of shape (n, 2), column 0 = hi,
 * column 1 = lo, so numpy.asarray(h) is a zero-copy (n, 2) uint64 view and
 * memoryview(h).cast('B') the raw bytes. A PLH as a Python int is (hi << 64) | lo (the C
 * library's kvbm_plh_as_u128). Hashes are immutable and validated on construction, so the
 * manager batch calls use their array directly.
 */
#include <string.h>

#include "ext.h"

#define HASHES_MAX (PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(kvbm_plh) - 64)

static kvbmpy_varcache cache = KVBMPY_VARCACHE_INIT(8);

kvbmpy_Hashes *kvbmpy_hashes_new(Py_ssize_t n)
{
    if (n < 0 || n > HASHES_MAX) {
        kvbmpy_raise_msg(KVBM_EOVERFLOW, "cannot hold %zd hashes", n);
        return NULL;
    }
    Py_ssize_t cap;
    kvbmpy_Hashes *h = (kvbmpy_Hashes *)kvbmpy_vc_alloc(&cache, &kvbmpy_HashesType, n, &cap);
    if (!h)
        return NULL;
    h->cap = cap;
    h->shape[0] = n;
    h->shape[1] = 2;
    h->strides[0] = (Py_ssize_t)sizeof(kvbm_plh);
    h->strides[1] = (Py_ssize_t)sizeof(uint64_t);
    return h;
}

/* ---- single PLH values -------------------------------------------------------------- */

/* CPython < 3.12 with 30-bit digits: ints are read and built digit by digit (the layout
 * these fast paths rely on); other versions take the generic byte-array path. */
#if PY_VERSION_HEX < 0x030C0000 && PyLong_SHIFT == 30
#define KVBMPY_LONG_DIGITS 1
#else
#define KVBMPY_LONG_DIGITS 0
#endif

/* An exact non-negative int below 2**128 into (hi, lo); 0 = take the generic path. */
static inline int plh_digits_get(PyObject *o, uint64_t *hi, uint64_t *lo)
{
#if KVBMPY_LONG_DIGITS
    Py_ssize_t sz = Py_SIZE(o);
    if (!PyLong_CheckExact(o) || sz < 0 || sz > 5)
        return 0;
    const digit *d = ((PyLongObject *)o)->ob_digit;
    uint64_t h = 0, l = 0;
    for (Py_ssize_t i = sz; i-- > 0;) {
        if (h >> 34)
            return 0; /* would overflow 128 bits: the generic path raises */
        h = (h << 30) | (l >> 34);
        l = (l << 30) | d[i];
    }
    *hi = h;
    *lo = l;
    return 1;
#else
    (void)o; (void)hi; (void)lo;
    return 0;
#endif
}

int kvbmpy_plh_from_obj(PyObject *o, kvbm_plh *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "a hash must be an int (a 128-bit PLH), not %.80s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    uint64_t lo = 0, hi = 0;
    if (!plh_digits_get(o, &hi, &lo)) {
        unsigned char le[16];
        if (_PyLong_AsByteArray((PyLongObject *)o, le, 16, 1, 0) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
            kvbmpy_raise_msg(KVBM_EINVAL, "hash %R is not a 128-bit unsigned integer", o);
            return -1;
        }
        for (int i = 7; i >= 0; i--) {
            lo = (lo << 8) | le[i];
            hi = (hi << 8) | le[8 + i];
        }
    }
    kvbm_plh h = { hi, lo };
    if (kvbm_plh_validate(h) != KVBM_OK) {
        char hex[KVBM_PLH_HEX_LEN];
        kvbmpy_raise_msg(KVBM_EPROTO, "hash 0x%s is not a valid PLH (mode/position/parent "
                         "fields)", kvbm_plh_to_hex(h, hex));
        return -1;
    }
    *out = h;
    return 0;
}

PyObject *kvbmpy_plh_to_obj(kvbm_plh h)
{
#if KVBMPY_LONG_DIGITS
    /* five 30-bit digits hold 128 bits; drop the leading zero digits */
    digit d[5] = { (digit)(h.lo & 0x3fffffff), (digit)((h.lo >> 30) & 0x3fffffff),
                   (digit)((h.lo >> 60) | ((h.hi & 0x3ffffff) << 4)),
                   (digit)((h.hi >> 26) & 0x3fffffff), (digit)(h.hi >> 56) };
    Py_ssize_t n = 5;
    while (n > 0 && d[n - 1] == 0)
        n--;
    if (n > 1) {
        PyLongObject *v = _PyLong_New(n);
        if (!v)
            return NULL;
        memcpy(v->ob_digit, d, (size_t)n * sizeof(digit));
        return (PyObject *)v;
    }
    return PyLong_FromUnsignedLong(d[0]); /* keeps CPython's small-int cache */
#else
    unsigned char le[16];
    for (int i = 0; i < 8; i++) {
        le[i] = (unsigned char)(h.lo >> (8 * i));
        le[8 + i] = (unsigned char)(h.hi >> (8 * i));
    }
    return _PyLong_FromByteArray(le, 16, 1, 0);
#endif
}

PyObject *kvbmpy_int_list(Py_ssize_t n, const uint64_t *u64, const uint32_t *u32,
                          const kvbm_plh *plh)
{
    PyObject *l = PyList_New(n);
    for (Py_ssize_t i = 0; l && i < n; i++) {
        PyObject *v = u64 ? PyLong_FromUnsignedLongLong(u64[i])
                    : u32 ? PyLong_FromUnsignedLong(u32[i]) : kvbmpy_plh_to_obj(plh[i]);
        if (!v) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, i, v);
    }
    return l;
}

int kvbmpy_index(PyObject *key, Py_ssize_t size, Py_ssize_t *out)
{
    Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred())
        return -1;
    *out = i < 0 ? i + size : i;
    return 0;
}

/* ---- PLH array arguments ------------------------------------------------------------ */

static int format_is(const char *fmt, char code)
{
    if (!fmt)
        return code == 'B';
    if (*fmt == '<' || *fmt == '=' || *fmt == '@')
        fmt++;
    return fmt[0] == code && fmt[1] == '\0';
}

static kvbm_plh *plh_buf(kvbmpy_plhs *out, Py_ssize_t n)
{
    if (n <= (Py_ssize_t)(sizeof out->one / sizeof out->one[0]))
        return out->one;
    if (n > HASHES_MAX) {
        PyErr_NoMemory();
        return NULL;
    }
    out->tmp = PyMem_Malloc((size_t)n * sizeof(kvbm_plh));
    if (!out->tmp)
        PyErr_NoMemory();
    return out->tmp;
}

static int plhs_from_buffer(PyObject *obj, kvbmpy_plhs *out)
{
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    int rc = -1;
    if (v.itemsize != 8 || !(format_is(v.format, 'Q') || format_is(v.format, 'L'))) {
        kvbmpy_raise_msg(KVBM_EINVAL, "a hash buffer must hold unsigned 64-bit integers "
                         "(format 'Q', pairs hi, lo), got format '%s' itemsize %zd",
                         v.format ? v.format : "B", v.itemsize);
        goto done;
    }
    if ((v.len / 8) % 2 != 0) {
        kvbmpy_raise_msg(KVBM_EINVAL, "a hash buffer must hold (hi, lo) pairs of uint64; "
                         "got %zd values", v.len / 8);
        goto done;
    }
    Py_ssize_t n = v.len / 16;
    kvbm_plh *p = plh_buf(out, n);
    if (!p)
        goto done;
    if (n)
        memcpy(p, v.buf, (size_t)n * sizeof(kvbm_plh));
    for (Py_ssize_t i = 0; i < n; i++) {
        if (kvbm_plh_validate(p[i]) != KVBM_OK) {
            char hex[KVBM_PLH_HEX_LEN];
            kvbmpy_raise_msg(KVBM_EPROTO, "hash %zd (0x%s) is not a valid PLH", i,
                             kvbm_plh_to_hex(p[i], hex));
            goto done;
        }
    }
    out->p = p;
    out->n = n;
    rc = 0;
done:
    PyBuffer_Release(&v);
    return rc;
}

int kvbmpy_plhs_get(PyObject *obj, kvbmpy_plhs *out)
{
    out->tmp = NULL;
    out->p = NULL;
    out->n = 0;
    if (Py_IS_TYPE(obj, &kvbmpy_HashesType)) {
        out->p = ((kvbmpy_Hashes *)obj)->v;
        out->n = Py_SIZE(obj);
        return 0;
    }
    int rc;
    if (PyObject_CheckBuffer(obj) && !PyBytes_Check(obj) && !PyByteArray_Check(obj)) {
        rc = plhs_from_buffer(obj, out);
    } else if (PyList_Check(obj) || PyTuple_Check(obj)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
        kvbm_plh *p = plh_buf(out, n);
        rc = p ? 0 : -1;
        for (Py_ssize_t i = 0; rc == 0 && i < n; i++)
            rc = kvbmpy_plh_from_obj(PySequence_Fast_GET_ITEM(obj, i), &p[i]);
        out->p = p;
        out->n = n;
    } else {
        PyErr_Format(PyExc_TypeError, "hashes must be a kvbm.Hashes, a uint64 buffer of "
                     "(hi, lo) pairs or a list/tuple of 128-bit ints, not %.80s",
                     Py_TYPE(obj)->tp_name);
        rc = -1;
    }
    if (rc < 0)
        kvbmpy_plhs_free(out);
    return rc;
}

void kvbmpy_plhs_free(kvbmpy_plhs *v)
{
    PyMem_Free(v->tmp);
    v->tmp = NULL;
}

/* ---- token arguments ---------------------------------------------------------------- */

/* Fast path for exact ints below 2**32 on CPython < 3.12 (whose digit layout this reads);
 * 0 = take the generic path. Token lists are converted at ~2 ns per token this way. */
static inline int small_int(PyObject *it, uint32_t *out)
{
#if KVBMPY_LONG_DIGITS
    if (PyLong_CheckExact(it)) {
        Py_ssize_t sz = Py_SIZE(it);
        const digit *d = ((PyLongObject *)it)->ob_digit;
        if (sz == 0 || sz == 1) {
            *out = sz ? (uint32_t)d[0] : 0;
            return 1;
        }
        if (sz == 2 && d[1] < 4) {
            *out = (uint32_t)d[0] | ((uint32_t)d[1] << 30);
            return 1;
        }
    }
#else
    (void)it;
    (void)out;
#endif
    return 0;
}

/* Convert the items of a list or tuple @seq (borrowed; not mutated meanwhile: the GIL is
 * held and no Python code runs before the conversion ends) into out->stack or a PyMem
 * buffer. 0 or -1. */
static int tokens_from_items(PyObject *seq, kvbmpy_tokens *out)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint32_t *buf = out->stack;
    if (n > KVBMPY_TOKENS_STACK) {
        buf = out->tmp = PyMem_Malloc((size_t)n * sizeof(uint32_t));
        if (!buf) {
            PyErr_NoMemory();
            return -1;
        }
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
#if KVBMPY_LONG_DIGITS
        /* the common case: a run of exact ints below 2**30 (ob_size 0 or 1), four at a
         * time with one branch; the value is digit 0 masked to 0 when ob_size is 0 */
#define TOK_BAD(o) ((int)(Py_TYPE(o) != &PyLong_Type) | (int)((size_t)Py_SIZE(o) > 1))
#define TOK_VAL(o) (((PyLongObject *)(o))->ob_digit[0] & (uint32_t)-(int32_t)Py_SIZE(o))
        for (; i + 4 <= n; i += 4) {
            PyObject *a = items[i], *b = items[i + 1], *c = items[i + 2], *d = items[i + 3];
            if (TOK_BAD(a) | TOK_BAD(b) | TOK_BAD(c) | TOK_BAD(d))
                break;
            buf[i] = TOK_VAL(a);
            buf[i + 1] = TOK_VAL(b);
            buf[i + 2] = TOK_VAL(c);
            buf[i + 3] = TOK_VAL(d);
        }
        for (; i < n && !TOK_BAD(items[i]); i++)
            buf[i] = TOK_VAL(items[i]);
#undef TOK_BAD
#undef TOK_VAL
        if (i == n)
            break;
#endif
        PyObject *it = items[i];
        if (small_int(it, &buf[i]))
            continue;
        if (!PyLong_Check(it)) {
            PyErr_Format(PyExc_TypeError, "token %zd must be an int, not %.80s", i,
                         Py_TYPE(it)->tp_name);
            goto fail;
        }
        unsigned long long t = PyLong_AsUnsignedLongLong(it);
        if ((t == (unsigned long long)-1 && PyErr_Occurred()) || t > UINT32_MAX) {
            PyErr_Clear();
            Py_INCREF(it); /* borrowed from the list; its repr may run Python code */
            kvbmpy_raise_msg(KVBM_EINVAL, "token %zd (%R) is not in 0..2**32-1", i, it);
            Py_DECREF(it);
            goto fail;
        }
        buf[i] = (uint32_t)t;
    }
    out->p = buf;
    out->n = n;
    return 0;
fail:
    kvbmpy_tokens_free(out);
    return -1;
}

int kvbmpy_tokens_get(PyObject *obj, kvbmpy_tokens *out)
{
    out->p = NULL;
    out->n = 0;
    out->tmp = NULL;
    out->has_view = 0;
    if (PyList_CheckExact(obj) || PyTuple_CheckExact(obj))
        return tokens_from_items(obj, out);
    if (PyObject_CheckBuffer(obj) && !PyBytes_Check(obj) && !PyByteArray_Check(obj)) {
        if (PyObject_GetBuffer(obj, &out->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
            return -1;
        out->has_view = 1;
        if (out->view.itemsize != 4 ||
            !(format_is(out->view.format, 'I') || format_is(out->view.format, 'L'))) {
            kvbmpy_raise_msg(KVBM_EINVAL, "a token buffer must hold unsigned 32-bit "
                             "integers (array('I') or numpy.uint32), got format '%s'",
                             out->view.format ? out->view.format : "B");
            kvbmpy_tokens_free(out);
            return -1;
        }
        out->p = out->view.buf;
        out->n = out->view.len / 4;
        return 0;
    }
    if (!PyList_Check(obj) && !PyTuple_Check(obj) && !PyRange_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "tokens must be a list/tuple/range of ints or a "
                     "uint32 buffer, not %.80s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *seq = PySequence_Fast(obj, "tokens must be a sequence");
    if (!seq)
        return -1;
    int rc = tokens_from_items(seq, out);
    Py_DECREF(seq);
    return rc;
}

void kvbmpy_tokens_free(kvbmpy_tokens *t)
{
    PyMem_Free(t->tmp);
    t->tmp = NULL;
    if (t->has_view)
        PyBuffer_Release(&t->view);
    t->has_view = 0;
}

/* ---- the Hashes type ---------------------------------------------------------------- */

static PyObject *hashes_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "values", NULL };
    PyObject *src = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:Hashes", kwlist, &src))
        return NULL;
    if (!src)
        return (PyObject *)kvbmpy_hashes_new(0);
    if (Py_IS_TYPE(src, &kvbmpy_HashesType))
        return Py_NewRef(src);
    PyObject *seq = NULL;
    if (!PyObject_CheckBuffer(src) && !PyList_Check(src) && !PyTuple_Check(src)) {
        seq = PySequence_List(src); /* any iterable of ints */
        if (!seq)
            return NULL;
        src = seq;
    }
    kvbmpy_plhs v;
    kvbmpy_Hashes *h = NULL;
    if (kvbmpy_plhs_get(src, &v) == 0) {
        h = kvbmpy_hashes_new(v.n);
        if (h && v.n)
            memcpy(h->v, v.p, (size_t)v.n * sizeof(kvbm_plh));
        kvbmpy_plhs_free(&v);
    }
    Py_XDECREF(seq);
    return (PyObject *)h;
}

static PyObject *hashes_from_tokens(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    static const char *const names[] = { "tokens", "block_size", "salt", "parent" };
    PyObject *a[4];
    unsigned int bs = 16;
    unsigned long long salt = 0;
    if (kvbmpy_args("from_tokens", args, nargs, kwnames, names, 4, 1, a) < 0 ||
        (a[1] && !kvbmpy_conv_u32(a[1], &bs)) || (a[2] && !kvbmpy_conv_u64(a[2], &salt)))
        return NULL;
    PyObject *tok = a[0], *parent_obj = a[3] ? a[3] : Py_None;
    kvbm_plh parent, *pp = NULL;
    if (parent_obj != Py_None) {
        if (kvbmpy_plh_from_obj(parent_obj, &parent) < 0)
            return NULL;
        pp = &parent;
    }
    kvbmpy_tokens t;
    if (kvbmpy_tokens_get(tok, &t) < 0)
        return NULL;
    kvbmpy_Hashes *h = NULL;
    if (t.n == 0 || bs == 0) {
        h = bs ? kvbmpy_hashes_new(0) : NULL;
        if (!bs)
            kvbmpy_raise_msg(KVBM_EINVAL, "block_size must be a power of 2 in [1, 1024], got 0");
    } else {
        h = kvbmpy_hashes_new(t.n / bs);
        size_t nb = 0;
        kvbm_status s = h ? kvbm_tokens_hash_blocks(t.p, (size_t)t.n, bs, salt, pp, NULL, NULL,
                                                    h->v, (size_t)(t.n / bs), &nb)
                          : KVBM_ENOMEM;
        if (h && s != KVBM_OK) {
            Py_CLEAR(h);
            kvbmpy_raise(s);
        }
    }
    kvbmpy_tokens_free(&t);
    return (PyObject *)h;
}

static void hashes_dealloc(PyObject *self)
{
    kvbmpy_vc_free(&cache, self, ((kvbmpy_Hashes *)self)->cap);
}

static Py_ssize_t hashes_len(PyObject *self) { return Py_SIZE(self); }

static PyObject *hashes_item(PyObject *self, Py_ssize_t i)
{
    if (i < 0 || i >= Py_SIZE(self)) {
        PyErr_SetString(PyExc_IndexError, "Hashes index out of range");
        return NULL;
    }
    return kvbmpy_plh_to_obj(((kvbmpy_Hashes *)self)->v[i]);
}

static PyObject *hashes_subscript(PyObject *self, PyObject *key)
{
    kvbmpy_Hashes *h = (kvbmpy_Hashes *)self;
    if (PyIndex_Check(key)) {
        Py_ssize_t i;
        return kvbmpy_index(key, Py_SIZE(self), &i) < 0 ? NULL : hashes_item(self, i);
    }
    if (!PySlice_Check(key)) {
        PyErr_Format(PyExc_TypeError, "Hashes indices must be integers or slices, not %.80s",
                     Py_TYPE(key)->tp_name);
        return NULL;
    }
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(key, &start, &stop, &step) < 0)
        return NULL;
    Py_ssize_t n = PySlice_AdjustIndices(Py_SIZE(self), &start, &stop, step);
    kvbmpy_Hashes *r = kvbmpy_hashes_new(n);
    if (!r)
        return NULL;
    if (step == 1 && n > 0)
        memcpy(r->v, h->v + start, (size_t)n * sizeof(kvbm_plh));
    else
        for (Py_ssize_t i = 0; i < n; i++)
            r->v[i] = h->v[start + i * step];
    return (PyObject *)r;
}

static int hashes_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    kvbmpy_Hashes *h = (kvbmpy_Hashes *)self;
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "kvbm.Hashes is read-only");
        return -1;
    }
    view->obj = Py_NewRef(self);
    view->buf = h->v;
    view->len = Py_SIZE(self) * (Py_ssize_t)sizeof(kvbm_plh);
    view->readonly = 1;
    view->itemsize = 8;
    view->format = (flags & PyBUF_FORMAT) ? "Q" : NULL;
    view->ndim = 2;
    view->shape = (flags & PyBUF_ND) ? h->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? h->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    if (!(flags & PyBUF_ND))
        view->ndim = 1; /* plain byte-oriented consumers see one flat block */
    return 0;
}

static PyObject *hashes_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !Py_IS_TYPE(b, &kvbmpy_HashesType))
        Py_RETURN_NOTIMPLEMENTED;
    int eq = Py_SIZE(a) == Py_SIZE(b) &&
             memcmp(((kvbmpy_Hashes *)a)->v, ((kvbmpy_Hashes *)b)->v,
                    (size_t)Py_SIZE(a) * sizeof(kvbm_plh)) == 0;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *hashes_repr(PyObject *self)
{
    kvbmpy_Hashes *h = (kvbmpy_Hashes *)self;
    if (Py_SIZE(self) == 0)
        return PyUnicode_FromString("kvbm.Hashes([])");
    char hex[KVBM_PLH_HEX_LEN];
    kvbm_plh_to_hex(h->v[0], hex);
    return PyUnicode_FromFormat("kvbm.Hashes(n=%zd, first=0x%s)", Py_SIZE(self), hex);
}

static PyObject *hashes_tolist(PyObject *self, PyObject *unused)
{
    return kvbmpy_int_list(Py_SIZE(self), NULL, NULL, ((kvbmpy_Hashes *)self)->v);
}

static PyObject *hashes_positions(PyObject *self, PyObject *unused)
{
    kvbmpy_Hashes *h = (kvbmpy_Hashes *)self;
    uint64_t *pos = PyMem_Malloc((size_t)(Py_SIZE(self) ? Py_SIZE(self) : 1) * sizeof(uint64_t));
    if (!pos)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++)
        pos[i] = kvbm_plh_position(h->v[i]);
    PyObject *l = kvbmpy_int_list(Py_SIZE(self), pos, NULL, NULL);
    PyMem_Free(pos);
    return l;
}

static PyMethodDef hashes_methods[] = {
    { "from_tokens", (PyCFunction)(void (*)(void))hashes_from_tokens,
      METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
      "from_tokens(tokens, block_size=16, salt=0, parent=None) -> Hashes\n\n"
      "PLHs of every complete block of a token array in one call (the trailing partial\n"
      "block is ignored). tokens: list of ints or a uint32 buffer (array('I'),\n"
      "numpy.uint32). parent: the PLH of the block preceding tokens[0], or None for a\n"
      "sequence that starts at position 0. Same hashes as TokenBlockSequence." },
    { "tolist", hashes_tolist, METH_NOARGS, "tolist() -> list[int]: the PLHs as 128-bit ints." },
    { "positions", hashes_positions, METH_NOARGS,
      "positions() -> list[int]: the block position stored in each PLH." },
    { NULL, NULL, 0, NULL }
};

static PySequenceMethods hashes_as_seq = { .sq_length = hashes_len, .sq_item = hashes_item };
static PyMappingMethods hashes_as_map = { .mp_length = hashes_len, .mp_subscript = hashes_subscript };
static PyBufferProcs hashes_as_buffer = { .bf_getbuffer = hashes_getbuffer };

PyTypeObject kvbmpy_HashesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvbm.Hashes",
    .tp_basicsize = offsetof(kvbmpy_Hashes, v),
    .tp_itemsize = sizeof(kvbm_plh),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Hashes(values=()) -> an immutable array of 128-bit PLHs (block hashes).\n\n"
              "values: an iterable of 128-bit ints, another Hashes, or a C-contiguous\n"
              "buffer of uint64 (hi, lo) pairs such as a numpy (n, 2) uint64 array.\n"
              "Every value is validated as a PLH. Hashes.from_tokens() builds one from a\n"
              "token list in one call. The object exports a read-only (n, 2) uint64 buffer:\n"
              "numpy.asarray(h) is a view, not a copy. Indexing yields ints, slicing Hashes.",
    .tp_new = hashes_new,
    .tp_dealloc = hashes_dealloc,
    .tp_repr = hashes_repr,
    .tp_as_sequence = &hashes_as_seq,
    .tp_as_mapping = &hashes_as_map,
    .tp_as_buffer = &hashes_as_buffer,
    .tp_richcompare = hashes_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_methods = hashes_methods,
};

/* ---- integer argument converters (PyArg "O&") --------------------------------------- */

static int conv_range(PyObject *o, unsigned long long max, unsigned long long *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "expected an int, not %.80s", Py_TYPE(o)->tp_name);
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if ((v == (unsigned long long)-1 && PyErr_Occurred()) || v > max) {
        PyErr_Clear();
        kvbmpy_raise_msg(KVBM_EINVAL, "%R is out of range (0..%llu)", o, max);
        return 0;
    }
    *out = v;
    return 1;
}

int kvbmpy_conv_u32(PyObject *o, void *out)
{
    unsigned long long v;
    if (!conv_range(o, UINT32_MAX, &v))
        return 0;
    *(unsigned int *)out = (unsigned int)v;
    return 1;
}

int kvbmpy_conv_u64(PyObject *o, void *out)
{
    return conv_range(o, UINT64_MAX, (unsigned long long *)out);
}

/* ---- METH_FASTCALL argument binding --------------------------------------------------- */

int kvbmpy_args_slow(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, const char *const *names, int n, int required,
                     PyObject **out)
{
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fname, n,
                     nargs);
        return -1;
    }
    for (int i = 0; i < n; i++)
        out[i] = i < nargs ? args[i] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i;
        for (i = 0; i < n; i++)
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0)
                break;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname,
                         key);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                         names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (int i = 0; i < required; i++) {
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    }
    return 0;
}
