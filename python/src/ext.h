/* python/src/ext.h - shared declarations of the kvbm CPython extension (kvbm._kvbm).
 *
 * The extension is split by idea: errors.c (exception hierarchy), hashes.c (kvbm.Hashes and
 * the hash/token argument converters), tokens.c (TokenBlock, TokenBlockSequence, PLH
 * helpers), registry.c (Registry), manager.c (Manager), blocklist.c (BlockList and its
 * batch paths), blocks.c (the per-block handle objects), events.c (EventsManager,
 * Subscription), metrics.c (Aggregator, StatsCollector), sequence.c (BlockSequence,
 * RequestSequence), schedulable.c (SchedulableSequence), module.c (module init).
 *
 * Ownership model: a C handle is owned by exactly one place - a standalone block object
 * (obj->h) or one entry of a BlockList (list->h[i]). A block object obtained by indexing a
 * BlockList is a *view* of that entry (obj->owner, obj->idx). Consuming or releasing a
 * handle sets its owning slot to NULL under the GIL before the GIL is released, so two
 * Python threads can never consume the same handle; a NULL slot raises kvbm.ReleasedError.
 * Threads: every object is protected by the GIL; calls that can wait for a kvbm lock run
 * with the GIL released (KVBMPY_NOGIL) on handles already moved out of Python objects.
 */
#ifndef KVBMPY_EXT_H
#define KVBMPY_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdarg.h>

#include "kvbm/kvbm.h"

/* Run @stmt with the GIL released (the statement must not touch Python objects). */
#define KVBMPY_NOGIL(stmt)                                   \
    do {                                                     \
        PyThreadState *kvbmpy_ts_ = PyEval_SaveThread();     \
        stmt;                                                \
        PyEval_RestoreThread(kvbmpy_ts_);                    \
    } while (0)

/* Batches of at least this many blocks run with the GIL released. Smaller batches hold the
 * store lock for a few microseconds at most and no kvbm lock holder ever needs the GIL (the
 * only Python callback, the sequence delegate, runs with no kvbm lock held), so keeping the
 * GIL there cannot deadlock and saves the GIL hand-off (~100 ns, ~700 instructions) that
 * would dominate a short call (docs/design/python.md). */
#define KVBMPY_NOGIL_MIN 64
#define KVBMPY_NOGIL_IF(n, stmt)                 \
    do {                                         \
        if ((n) >= KVBMPY_NOGIL_MIN)             \
            KVBMPY_NOGIL(stmt);                  \
        else {                                   \
            stmt;                                \
        }                                        \
    } while (0)

/* ---- freelist.c: size-class caches of variable-size objects ------------------------- */
/* Freelists are off under ASan, so that a use after free of a cached object is detected. */
#if defined(__SANITIZE_ADDRESS__)
#define KVBMPY_FREELISTS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KVBMPY_FREELISTS 0
#endif
#endif
#ifndef KVBMPY_FREELISTS
#define KVBMPY_FREELISTS 1
#endif
#define KVBMPY_VC_MIN     8   /* smallest class (items) */
#define KVBMPY_VC_MAX     512 /* largest cached class; larger objects are not cached */
#define KVBMPY_VC_CLASSES 7   /* 8, 16, ..., 512 */
#define KVBMPY_VC_DEPTH   64  /* most cached objects per class */
typedef struct {
    PyVarObject *items[KVBMPY_VC_DEPTH];
    int          n;
} kvbmpy_vc_class;
typedef struct {
    int             depth; /* cached objects per class, <= KVBMPY_VC_DEPTH */
    kvbmpy_vc_class cls[KVBMPY_VC_CLASSES];
} kvbmpy_varcache; /* one per type, static; protected by the GIL */
#define KVBMPY_VARCACHE_INIT(depth) { (depth), { { { NULL }, 0 } } }
/* A new object of @type (exact type, not subclassable) with ob_size = @n and room for
 * *@cap >= @n items (from @vc's class when one is cached). NULL with MemoryError. */
PyVarObject *kvbmpy_vc_alloc(kvbmpy_varcache *vc, PyTypeObject *type, Py_ssize_t n,
                             Py_ssize_t *cap);
/* The tp_dealloc end of such an object: cache it in @vc or PyObject_Free it. */
void kvbmpy_vc_free(kvbmpy_varcache *vc, PyObject *o, Py_ssize_t cap);

/* ---- errors.c ---------------------------------------------------------------------- */
extern PyObject *kvbmpy_Error;         /* kvbm.Error */
extern PyObject *kvbmpy_ReleasedError; /* kvbm.ReleasedError (EINVAL) */
extern PyObject *kvbmpy_ShutdownError; /* kvbm.ShutdownError (ESTATE) */
int       kvbmpy_errors_init(PyObject *module);
/* Raise the exception of @s with kvbm_last_error() as detail; returns NULL. */
PyObject *kvbmpy_raise(kvbm_status s);
/* Raise the exception of @s with a formatted detail; returns NULL. */
PyObject *kvbmpy_raise_msg(kvbm_status s, const char *fmt, ...);
/* kvbm.ReleasedError("<what> was already released or consumed"); returns NULL. */
PyObject *kvbmpy_released(const char *what);
/* Raise ShutdownError; returns -1. */
int       kvbmpy_shutdown_error(void);
/* Non-zero (with ShutdownError set) once interpreter finalization has begun. */
static inline int kvbmpy_check_alive(void)
{
    return _Py_IsFinalizing() ? kvbmpy_shutdown_error() : 0;
}

/* ---- hashes.c ---------------------------------------------------------------------- */
typedef struct {
    PyObject_VAR_HEAD          /* ob_size = number of hashes */
    Py_ssize_t cap;            /* allocated entries (freelist.c) */
    Py_ssize_t shape[2];
    Py_ssize_t strides[2];
    kvbm_plh   v[1];
} kvbmpy_Hashes;
extern PyTypeObject kvbmpy_HashesType;
kvbmpy_Hashes *kvbmpy_hashes_new(Py_ssize_t n);
/* A borrowed or temporary view of PLHs taken from a Python argument. */
typedef struct {
    const kvbm_plh *p;
    Py_ssize_t      n;
    kvbm_plh       *tmp;    /* PyMem buffer to free, or NULL */
    kvbm_plh        one[4]; /* small inline buffer */
} kvbmpy_plhs;
/* Accept kvbm.Hashes (borrowed), a C-contiguous buffer of uint64 pairs (hi, lo), or a
 * sequence of 128-bit ints; every non-Hashes value is validated as a PLH. 0 or -1. */
int  kvbmpy_plhs_get(PyObject *obj, kvbmpy_plhs *out);
void kvbmpy_plhs_free(kvbmpy_plhs *v);
int       kvbmpy_plh_from_obj(PyObject *o, kvbm_plh *out); /* 128-bit int, validated */
PyObject *kvbmpy_plh_to_obj(kvbm_plh h);                   /* (hi << 64) | lo */
/* A new list of @n ints: u64[i] (u64 != NULL), u32[i] (u32 != NULL) or PLHs plh[i]. */
PyObject *kvbmpy_int_list(Py_ssize_t n, const uint64_t *u64, const uint32_t *u32,
                          const kvbm_plh *plh);
/* A sequence index: @key as Py_ssize_t, negative values counted from @size. 0 or -1. */
int kvbmpy_index(PyObject *key, Py_ssize_t size, Py_ssize_t *out);
/* Tokens: a buffer of 4-byte unsigned ints (borrowed) or a sequence of ints, converted
 * into the inline stack buffer (up to KVBMPY_TOKENS_STACK tokens: no allocation) or a
 * PyMem buffer. Lives on the caller's stack and must not be copied (p may point into it);
 * kvbmpy_tokens_get initializes it, kvbmpy_tokens_free releases it. */
#define KVBMPY_TOKENS_STACK 1024
typedef struct {
    const uint32_t *p;
    Py_ssize_t      n;
    uint32_t       *tmp;      /* PyMem buffer to free, or NULL */
    Py_buffer       view;
    int             has_view;
    uint32_t        stack[KVBMPY_TOKENS_STACK];
} kvbmpy_tokens;
/* PyArg "O&" converters: an int in 0..UINT32_MAX (unsigned int *) or 0..UINT64_MAX
 * (unsigned long long *); InvalidArgumentError outside, TypeError for non-ints. */
int kvbmpy_conv_u32(PyObject *o, void *out);
/* Bind the arguments of a METH_FASTCALL | METH_KEYWORDS call to @names: out[i] is the
 * borrowed argument or NULL when not given; the first @required are mandatory.
 * TypeError (0 / -1 return) for unknown, repeated, missing or surplus arguments. */
int kvbmpy_args_slow(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, const char *const *names, int n, int required,
                     PyObject **out);
/* The common case (positional arguments only, enough of them) inline; the rest and every
 * error in kvbmpy_args_slow. */
static inline int kvbmpy_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames, const char *const *names, int n, int required,
                              PyObject **out)
{
    if (kwnames || nargs < required || nargs > n)
        return kvbmpy_args_slow(fname, args, nargs, kwnames, names, n, required, out);
    for (int i = 0; i < n; i++)
        out[i] = i < nargs ? args[i] : NULL;
    return 0;
}
int kvbmpy_conv_u64(PyObject *o, void *out);
int  kvbmpy_tokens_get(PyObject *obj, kvbmpy_tokens *out);
void kvbmpy_tokens_free(kvbmpy_tokens *t);

/* ---- tokens.c ---------------------------------------------------------------------- */
typedef struct {
    PyObject_VAR_HEAD         /* ob_size = size */
    kvbm_plh  plh;
    uint64_t  salt, block_hash, seq_hash, position, parent;
    int       has_parent;
    uint32_t  size;
    Py_ssize_t cap;           /* allocated token slots (freelist.c) */
    uint32_t  tokens[1];      /* copy of the block's tokens, stored inline */
} kvbmpy_TokenBlock;
extern PyTypeObject kvbmpy_TokenBlockType;
extern PyTypeObject kvbmpy_TokenBlockSequenceType;

/* Token blocks to PLHs: a TokenBlockSequence (its blocks from @start) or a sequence of
 * TokenBlock. Writes @n PLHs into @out and checks that every block has @block_size
 * tokens (SizeMismatch). 0 or -1. */
PyObject *kvbmpy_token_block_from_c(const kvbm_token_block *tb); /* a new TokenBlock copy */
int kvbmpy_token_blocks_plhs(PyObject *obj, Py_ssize_t start, Py_ssize_t n,
                             uint32_t block_size, kvbm_plh *out);

/* ---- registry.c -------------------------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    kvbm_registry *r;
} kvbmpy_Registry;
extern PyTypeObject kvbmpy_RegistryType;
/* New registry object with the named tracker preset (NULL/"none": no tracker). */
PyObject *kvbmpy_registry_create(const char *tracker);

/* ---- manager.c --------------------------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    kvbm_manager *m;
    PyObject     *registry; /* kvbm.Registry */
    uint32_t      block_size;
    kvbm_mgr_id   id;
} kvbmpy_Manager;
extern PyTypeObject kvbmpy_ManagerType;
/* Manager.register(arg) (also used by CompleteBlock.register). */
PyObject *kvbmpy_manager_register(PyObject *mgr, PyObject *arg);
/* Raise the error of a failed kvbm_manager_allocate of @n blocks (@s); returns NULL. */
PyObject *kvbmpy_allocate_error(kvbmpy_Manager *self, kvbm_status s, long long n);
/* fused.c: Manager.register (every form) and Manager.allocate_and_register. */
PyObject *kvbmpy_mgr_register(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);
PyObject *kvbmpy_mgr_allocate_and_register(PyObject *self, PyObject *const *args,
                                           Py_ssize_t nargs, PyObject *kwnames);

/* ---- blocklist.c / blocks.c -------------------------------------------------------- */
enum { KVBMPY_MUTABLE = 0, KVBMPY_COMPLETE = 1, KVBMPY_IMMUTABLE = 2 };

typedef struct {
    PyObject_VAR_HEAD            /* ob_size = number of entries */
    kvbmpy_Manager *mgr;
    int             kind;
    int             released;    /* release() was called */
    Py_ssize_t      cap;         /* allocated entries (freelist.c) */
    void           *h[1];        /* owned handles; NULL = consumed or released */
} kvbmpy_BlockList;
extern PyTypeObject kvbmpy_BlockListType;
/* The hashes @hs from index @start_obj (an int object; NULL = 0) on, exactly @n of them
 * (one per block of a list of @n): v->p points at hashes[start]. 0, or -1 with
 * InvalidArgumentError / TypeError set (v needs no kvbmpy_plhs_free then). */
int kvbmpy_plhs_from(PyObject *hs, PyObject *start_obj, Py_ssize_t n, const char *op,
                     kvbmpy_plhs *v);
/* Put handles moved out by kvbmpy_take_handles back into @obj after a failed call. */
void kvbmpy_give_back(PyObject *obj, void **t, Py_ssize_t n);
/* Collect the handles of @obj - a BlockList of @kind or a list/tuple of block objects of
 * @kind, all of manager @self - into *@tmp (@stackbuf when @n <= @stackcap, else a PyMem
 * buffer the caller frees), moving them out (slots set to NULL); *@n_out = their number.
 * @src_list receives the BlockList when one was given. 0, or -1 with an exception
 * (nothing moved). */
int kvbmpy_take_handles(kvbmpy_Manager *self, PyObject *obj, int kind, void ***tmp,
                        void **stackbuf, Py_ssize_t stackcap, Py_ssize_t *n_out,
                        kvbmpy_BlockList **src_list);
/* New list of @n entries, all NULL, ob_size = @n. */
kvbmpy_BlockList *kvbmpy_blocklist_new(kvbmpy_Manager *mgr, int kind, Py_ssize_t n);
/* The same with the entries uninitialized: the caller fills all @n, or sets ob_size to
 * the number filled (0 on failure) before the list can be deallocated. */
kvbmpy_BlockList *kvbmpy_blocklist_new_raw(kvbmpy_Manager *mgr, int kind, Py_ssize_t n);
/* Drop a list whose entries it does not own (never filled, or handed back elsewhere): its
 * size is set to 0 first, so that its dealloc releases nothing. NULL-safe; *l becomes NULL. */
void kvbmpy_blocklist_discard(kvbmpy_BlockList **l);

typedef struct {
    PyObject_HEAD
    kvbmpy_Manager   *mgr;
    kvbmpy_BlockList *owner; /* non-NULL: view of owner->h[idx] */
    Py_ssize_t        idx;
    void             *h;     /* standalone: owned handle (NULL once released) */
    int               kind;  /* KVBMPY_MUTABLE.. or blocks.c's weak/pin kinds (= the type) */
} kvbmpy_Block;
extern PyTypeObject kvbmpy_MutableBlockType, kvbmpy_CompleteBlockType, kvbmpy_ImmutableBlockType;
extern PyTypeObject kvbmpy_WeakBlockType, kvbmpy_PinType;
PyTypeObject *kvbmpy_block_type(int kind);
/* Standalone block object owning @h (released if the object cannot be created). */
PyObject *kvbmpy_block_new(kvbmpy_Manager *mgr, int kind, void *h);
/* View of list entry @idx. */
PyObject *kvbmpy_block_view(kvbmpy_BlockList *list, Py_ssize_t idx);
/* Address of the slot owning the block's handle. */
static inline void **kvbmpy_block_slot(kvbmpy_Block *b)
{
    return b->owner ? &b->owner->h[b->idx] : &b->h;
}
/* Release one handle of @kind (NULL: no-op). */
void      kvbmpy_handle_release(int kind, void *h);
/* A new array.array('I') holding @ids[0..n). */
PyObject *kvbmpy_u32_array(const uint32_t *ids, Py_ssize_t n);

/* ---- module.c ---------------------------------------------------------------------- */
/* PyType_Ready @t and add it to @mod under its name after "kvbm.". 0 or -1. */
int kvbmpy_add_type(PyObject *mod, PyTypeObject *t);

/* ---- events.c / metrics.c / sequence.c / schedulable.c: add their types ------------ */
int kvbmpy_events_init(PyObject *mod);
int kvbmpy_metrics_init(PyObject *mod);
int kvbmpy_sequence_init(PyObject *mod);
int kvbmpy_schedulable_init(PyObject *mod);
/* Raise the exception of @s (kvbm_last_error() detail) with .kind = @err's kind name. */
PyObject *kvbmpy_seq_raise(kvbm_status s, const kvbm_seq_error *err);
/* salt argument: None (*p = NULL) or an int in 0..2**64-1 (*p = salt). 0 or -1. */
int kvbmpy_salt_arg(PyObject *o, uint64_t *salt, const uint64_t **p);
/* A count argument: an int in 0..PY_SSIZE_T_MAX (TypeError / InvalidArgumentError /
 * OutOfRangeError naming @what). 0 or -1. */
int kvbmpy_count_arg(PyObject *o, const char *what, size_t *out);
/* Hashes of a BlockSequence's complete blocks; page indices of a request as array('I'). */
PyObject *kvbmpy_block_seq_hashes(const kvbm_block_seq *s);
PyObject *kvbmpy_page_indices(const kvbm_request_seq *r);

#endif /* KVBMPY_EXT_H */
