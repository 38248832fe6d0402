/* python/src/freelist.c - size-class caches of variable-size objects (BlockList, Hashes,
 * TokenBlock) so that the batch calls, which create and drop several such objects per
 * request, do not go through the object allocator each time.
 *
 * An object of n items is allocated with room for cap = the next power of two >= n (at
 * least KVBMPY_VC_MIN) items while cap <= KVBMPY_VC_MAX, else exactly n; its owner stores
 * cap in the object. On deallocation an object of a cached class goes back to its class's
 * stack (at most vc->depth each: 8 for the batch containers, of which a request uses a few
 * at a time, 64 for TokenBlock, of which TokenBlockSequence.blocks makes one per block),
 * the others are freed. Every alloc and dealloc holds the GIL, which protects the
 * stacks. Off under ASan (KVBMPY_FREELISTS = 0), so that a use after free of such an
 * object stays detectable.
 */
#include "ext.h"

/* The class of a power-of-two capacity in KVBMPY_VC_MIN..KVBMPY_VC_MAX. */
static inline int class_of(Py_ssize_t cap)
{
    return __builtin_ctzll((unsigned long long)cap) - __builtin_ctz(KVBMPY_VC_MIN);
}

PyVarObject *kvbmpy_vc_alloc(kvbmpy_varcache *vc, PyTypeObject *type, Py_ssize_t n,
                             Py_ssize_t *cap)
{
    if (n > KVBMPY_VC_MAX || !KVBMPY_FREELISTS) {
        *cap = n;
        return PyObject_NewVar(PyVarObject, type, n);
    }
    Py_ssize_t c = n <= KVBMPY_VC_MIN
        ? KVBMPY_VC_MIN : (Py_ssize_t)1 << (64 - __builtin_clzll((unsigned long long)n - 1));
    *cap = c;
    kvbmpy_vc_class *k = &vc->cls[class_of(c)];
    if (k->n > 0)
        return PyObject_InitVar(k->items[--k->n], type, n);
    PyVarObject *o = PyObject_NewVar(PyVarObject, type, c);
    if (o)
        Py_SET_SIZE(o, n);
    return o;
}

void kvbmpy_vc_free(kvbmpy_varcache *vc, PyObject *o, Py_ssize_t cap)
{
    if (KVBMPY_FREELISTS && cap <= KVBMPY_VC_MAX) { /* a power of two: kvbmpy_vc_alloc */
        kvbmpy_vc_class *k = &vc->cls[class_of(cap)];
        if (k->n < vc->depth) {
            k->items[k->n++] = (PyVarObject *)o;
            return;
        }
    }
    PyObject_Free(o);
}
