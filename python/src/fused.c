/* python/src/fused.c - the fused batch calls of kvbm.Manager: register(blocks, hashes,
 * start) (stage + register) and allocate_and_register(hashes, start) (allocate + stage +
 * register): the steps an engine takes together (vLLM's cache_full_blocks, and the
 * allocate-then-cache of a prompt's full blocks in allocate_slots) in one Python call and
 * one BlockList. Both stage and register with kvbm_manager_stage_register_blocks (one core
 * call, one store-lock section).
 */
#include <string.h>

#include "ext.h"

/* Stage and register in[0..n) with @plhs into out (kvbm_manager_stage_register_blocks: one
 * call, one store-lock section). On an error in[0..n) are what the caller gives back to the
 * list: unchanged when nothing was registered; after a poisoning part-way, the registered
 * inputs' slots are emptied (NULL) and their new handles released, so the pool stays whole.
 * No Python object is touched (runs without the GIL). */
static kvbm_status stage_then_register(kvbmpy_Manager *self, void **in, const kvbm_plh *plhs,
                                       Py_ssize_t n, void **out)
{
    size_t done = 0;
    kvbm_status s = kvbm_manager_stage_register_blocks(self->m, (kvbm_mutable *const *)in, plhs,
                                                       (size_t)n, self->block_size,
                                                       (kvbm_block **)out, &done);
    if (s != KVBM_OK) {
        for (size_t i = done; i-- > 0;) {
            (void)kvbm_block_release((kvbm_block *)out[i]);
            in[i] = NULL;
        }
    }
    return s;
}

/* register(blocks, hashes, start): stage the mutable @blocks with hashes[start:] and
 * register them - register(blocks.stage(hashes, start=start)) without the intermediate
 * list. The list is consumed on success and unchanged on error. */
static PyObject *stage_register(kvbmpy_Manager *self, PyObject *blocks, PyObject *hs,
                                PyObject *start_obj)
{
    if (!Py_IS_TYPE(blocks, &kvbmpy_BlockListType)) {
        PyErr_Format(PyExc_TypeError, "register(blocks, hashes) needs a BlockList of "
                     "MutableBlock, not %.80s", Py_TYPE(blocks)->tp_name);
        return NULL;
    }
    kvbmpy_plhs v;
    if (kvbmpy_plhs_from(hs, start_obj, Py_SIZE(blocks), "register", &v) < 0)
        return NULL;
    void *stack[64], **in;
    Py_ssize_t n;
    kvbmpy_BlockList *src, *out = NULL;
    if (kvbmpy_take_handles(self, blocks, KVBMPY_MUTABLE, &in, stack, 64, &n, &src) < 0) {
        kvbmpy_plhs_free(&v);
        return NULL;
    }
    if (!(out = kvbmpy_blocklist_new_raw(self, KVBMPY_IMMUTABLE, n)))
        goto fail_staged_none;
    kvbm_status s;
    KVBMPY_NOGIL_IF(n, s = stage_then_register(self, in, v.p, n, out->h));
    if (s != KVBM_OK) {
        kvbmpy_raise(s);
        goto fail_staged_none;
    }
    src->released = 1; /* consumed as a whole */
    goto done;
fail_staged_none:
    kvbmpy_give_back(blocks, in, n);
    kvbmpy_blocklist_discard(&out);
done:
    if (in != stack)
        PyMem_Free(in);
    kvbmpy_plhs_free(&v);
    return (PyObject *)out;
}

PyObject *kvbmpy_mgr_register(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    if (nargs == 1 && !kwnames) /* register(blocks): the common form */
        return kvbmpy_manager_register(self, args[0]);
    static const char *const names[] = { "blocks", "hashes", "start" };
    PyObject *a[3];
    if (kvbmpy_args("register", args, nargs, kwnames, names, 3, 1, a) < 0)
        return NULL;
    if (!a[1] || a[1] == Py_None) {
        if (a[2])
            return kvbmpy_raise_msg(KVBM_EINVAL, "register(): start needs hashes");
        return kvbmpy_manager_register(self, a[0]);
    }
    if (kvbmpy_check_alive() < 0)
        return NULL;
    return stage_register((kvbmpy_Manager *)self, a[0], a[1], a[2]);
}

/* Allocate @n blocks into @mut, then stage them with @plhs and register them into @out
 * (kvbm_manager_stage_register_blocks: one call, one store-lock section). On an error every
 * block taken is released again (blocks that the allocation evicted stay evicted). No
 * Python object is touched (runs without the GIL). */
static kvbm_status alloc_stage_register(kvbmpy_Manager *self, size_t n, const kvbm_plh *plhs,
                                        void **mut, void **out)
{
    kvbm_status s = kvbm_manager_allocate(self->m, n, (kvbm_mutable **)mut, NULL, NULL);
    if (s != KVBM_OK)
        return s;
    /* on an error mut[0..done) are registered (poisoned part-way), the rest still mutable */
    size_t done = 0;
    s = kvbm_manager_stage_register_blocks(self->m, (kvbm_mutable *const *)mut, plhs, n,
                                           self->block_size, (kvbm_block **)out, &done);
    if (s != KVBM_OK) {
        for (size_t i = n; i-- > done;)
            (void)kvbm_mutable_release((kvbm_mutable *)mut[i]);
        for (size_t i = done; i-- > 0;)
            (void)kvbm_block_release((kvbm_block *)out[i]);
    }
    return s;
}

/* allocate_and_register(hashes, start=None, prefix=None): len(hashes) - start new blocks
 * registered under hashes[start:] - register(allocate(n), hashes, start) without the
 * intermediate list; with @prefix (immutable blocks of this manager, consumed on success,
 * untouched on error) the result holds the prefix's blocks first, then the new ones: a
 * request's whole block table, released tail first by one release(). */
PyObject *kvbmpy_mgr_allocate_and_register(PyObject *self_, PyObject *const *args,
                                           Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = { "hashes", "start", "prefix" };
    kvbmpy_Manager *self = (kvbmpy_Manager *)self_;
    PyObject *a[3];
    Py_ssize_t start = 0, p = 0;
    if (kvbmpy_args("allocate_and_register", args, nargs, kwnames, names, 3, 1, a) < 0)
        return NULL;
    if (a[1] == Py_None)
        a[1] = NULL;
    if (a[1] && (start = PyLong_AsSsize_t(a[1])) == -1 && PyErr_Occurred())
        return NULL;
    if (kvbmpy_check_alive() < 0)
        return NULL;
    kvbmpy_plhs v;
    if (kvbmpy_plhs_get(a[0], &v) < 0)
        return NULL;
    kvbmpy_BlockList *out = NULL, *src = NULL;
    void *stack[64], **mut = stack, *pstack[64], **pre = pstack;
    PyObject *prefix = a[2] && a[2] != Py_None ? a[2] : NULL;
    if (prefix && kvbmpy_take_handles(self, prefix, KVBMPY_IMMUTABLE, &pre, pstack, 64, &p,
                                      &src) < 0) {
        kvbmpy_plhs_free(&v);
        return NULL;
    }
    if (!a[1])
        start = p; /* None: the prefix covers hashes[:len(prefix)] (0 without prefix) */
    Py_ssize_t n = v.n - start;
    if (prefix && start != p) {
        kvbmpy_raise_msg(KVBM_EINVAL, "allocate_and_register(): start %zd must be None or "
                         "len(prefix) = %zd (the prefix's blocks are hashes[:start])", start, p);
        goto fail;
    }
    if (start < 0 || start > v.n) {
        kvbmpy_raise_msg(KVBM_EINVAL, "allocate_and_register(): start %zd is outside 0..%zd",
                         start, v.n);
        goto fail;
    }
    if ((uint64_t)n > kvbm_manager_total_blocks(self->m)) {
        kvbmpy_raise_msg(KVBM_EEXHAUSTED, "cannot allocate %zd blocks from a pool of %llu", n,
                         (unsigned long long)kvbm_manager_total_blocks(self->m));
        goto fail;
    }
    if (n > 64 && !(mut = PyMem_Malloc((size_t)n * sizeof(void *)))) {
        PyErr_NoMemory();
        goto fail;
    }
    if (!(out = kvbmpy_blocklist_new_raw(self, KVBMPY_IMMUTABLE, p + n)))
        goto fail;
    kvbm_status s;
    KVBMPY_NOGIL_IF(n, s = alloc_stage_register(self, (size_t)n, v.p + start, mut, out->h + p));
    if (s != KVBM_OK) {
        kvbmpy_allocate_error(self, s, n);
        goto fail;
    }
    if (p)
        memcpy(out->h, pre, (size_t)p * sizeof(void *));
    if (src)
        src->released = 1; /* consumed as a whole */
    goto done;
fail:
    if (prefix)
        kvbmpy_give_back(prefix, pre, p);
    kvbmpy_blocklist_discard(&out);
done:
    if (mut != stack)
        PyMem_Free(mut);
    if (pre != pstack)
        PyMem_Free(pre);
    kvbmpy_plhs_free(&v);
    return (PyObject *)out;
}
