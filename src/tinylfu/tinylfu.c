/* src/tinylfu/tinylfu.c - frequency trackers: TinyLFU count-min sketch, no-op, custom (§4).
 *
 * TinyLFU sketch - one hash and one word per key (issue 16; NOT bit-exact with the
 * reference, see docs/DESIGN.md "TinyLFU layout"):
 *
 *   table: max(1, capacity/4) 64-bit words (the reference's geometry); word w holds 16
 *          4-bit counters, counter c in bits 4c..4c+3, saturating at 15.
 *
 *        63     60 59     56         7      4 3      0
 *       +---------+---------+ ... +---------+--------+
 *       | ctr 15  | ctr 14  |     | ctr 1   | ctr 0  |
 *       +---------+---------+ ... +---------+--------+
 *        \---- row 3 ----/    ...     \---- row 0 ----/   (four counters per row)
 *
 *   key hash: h = kvbm_plh_hash64({.lo = k0, .hi = k1}) (murmur3-finalise(k0 ^ k1 *
 *   0x9E3779B97F4A7C15)), for a 16-byte key (k0, k1 = its LE halves: a PLH's lo and hi)
 *   and for an 8-byte key k (k0 = k, k1 = KEY8_TAG). For a PLH this is the registry's
 *   table hash, so a registration's touch reuses it (session 10; it was a splitmix64
 *   finaliser of the same fold before, measured equivalent: docs/perf/registry.md).
 *   the key's four cells all lie in word (h * words) >> 64 (high bits of h); row i (0..3)
 *   is counter 4i + (bits 2i..2i+1 of h), one of the four counters of quarter i, so the
 *   four cells are distinct.
 *
 *   increment: +1 on every non-saturated cell of the 4 (one SWAR add on the word); if any
 *   cell grew, size += 1 and, if decay(size), reset().
 *   estimate : min of the 4 cells.
 *   reset    : ones = popcount of the low counter bits over the table; every counter is
 *              halved (word >> 1 & 0x777...); size = (size >> 1) - (ones >> 2), saturating.
 *
 * One hash of a few multiplies replaces the reference's four XXH3 hashes, and one word its
 * four random words: a touch or count of a cold key costs one cache miss instead of four
 * (the Medium table is 4 MiB), and an increment is a dozen instructions. Table geometry,
 * increment, estimate, reset and the decay policy are the reference's; only where a key's
 * cells lie differs (measured: docs/perf/backends.md "Session 7").
 *
 * Locking: one kvbm__mutex of rank KVBM_RANK_TRACKER (a leaf) serialises writers (touch,
 * decay, the application of deferred touches). count() is lock-free when no touch is
 * pending (see "Deferred application"): the words are _Atomic and read with relaxed loads;
 * with touches pending it takes the mutex once to apply them (MultiLRU insert, under the
 * store lock, may then wait for it: the tracker lock is a leaf ranked above the store's).
 * Trackers are refcounted; the registry and each MultiLRU backend hold references.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "kvbm/tracker.h"
#include "tinylfu/tinylfu_int.h"

enum tracker_kind { TRACKER_TINYLFU, TRACKER_NOOP, TRACKER_CUSTOM };

struct kvbm_tracker {
    atomic_uint_fast32_t refs;
    enum tracker_kind    kind;
    /* custom */
    kvbm_tracker_ops     ops;
    void                *ctx;
    /* TinyLFU */
    kvbm__mutex           lock;
    kvbm__sketch         sketch;
    /* Deferred touches (fixed decay only; see "Deferred application" below): the key
     * hashes of the last pend_n touches, oldest at pend[pend_head], not yet applied to the
     * sketch. Written under the lock; pend_n is also read lock-free by count, whose fast
     * path is pend_n == 0: it is PEND_OTHER_KIND (never 0) for noop and custom trackers,
     * so that one test also stands for the kind test. */
    bool                 defer;
    uint32_t             pend_head;
    _Atomic uint32_t     pend_n;
    kvbm__touch_cells    pend[KVBM__TRACKER_PENDING];
};

/* ---- the key hash -------------------------------------------------------------------- */

/* The second half of an 8-byte key (a u64 key is not the 16-byte key (k, 0)). */
#define KEY8_TAG UINT64_C(0x6A09E667F3BCC908)

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint64_t kvbm__tinylfu_key_hash(uint64_t k0, uint64_t k1)
{
    kvbm_plh p = { .hi = k1, .lo = k0 };
    return kvbm_plh_hash64(p); /* for a PLH key: the registry's table hash (one hash) */
}

static inline uint64_t key_hash(const uint8_t *key, size_t len)
{
    return len == 16 ? kvbm__tinylfu_key_hash(rd64(key), rd64(key + 8))
                     : kvbm__tinylfu_key_hash(rd64(key), KEY8_TAG);
}

/* ---- sketch ---------------------------------------------------------------------------- */

/* The counter table. Tables of 2 MiB and more are 2 MiB-aligned and advised as huge pages
 * (transparent huge pages, where the kernel offers them for madvise()d ranges): with 4 KiB
 * pages a Medium (4 MiB) table spans 1024 pages - beyond the first-level TLB, so most
 * accesses also paid a TLB miss. */
#define TABLE_HUGE (UINT64_C(2) << 20)

static _Atomic uint64_t *table_alloc(size_t bytes)
{
    if (bytes < TABLE_HUGE) return kvbm__calloc(1, bytes);
    size_t rounded;
    if (!kvbm__size_align_up(bytes, (size_t)TABLE_HUGE, &rounded)) return NULL;
    void *p = kvbm__aligned_alloc(TABLE_HUGE, rounded);
    if (p == NULL) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    memset(p, 0, bytes);
    return p;
}

static bool fixed_should_decay(void *ctx, uint32_t n)
{
    const kvbm__sketch *s = ctx;
    return n >= s->sample_size;
}

uint32_t kvbm__tinylfu_sample_size(uint64_t capacity)
{
    uint64_t sample = capacity > UINT64_MAX / 10 ? UINT64_MAX : capacity * 10;
    return sample > UINT32_MAX ? UINT32_MAX : (uint32_t)sample;
}

kvbm_status kvbm__sketch_init(kvbm__sketch *s, uint64_t capacity, const kvbm_decay_policy *decay)
{
    if (capacity == 0)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (capacity == 0)", __func__);
    memset(s, 0, sizeof *s);
    uint64_t words = capacity / 4;
    if (words == 0) words = 1;
    size_t bytes;
    if (words > SIZE_MAX || !kvbm__size_mul((size_t)words, sizeof(uint64_t), &bytes) ||
        (s->table = table_alloc(bytes)) == NULL) {
        kvbm__set_error("TinyLFU capacity %" PRIu64 ": cannot allocate its table of %" PRIu64
                        " 8-byte words", capacity, words);
        return KVBM_ENOMEM;
    }
    s->words = words;
    s->sample_size = kvbm__tinylfu_sample_size(capacity);
    if (decay != NULL) {
        s->decay = *decay;
        s->custom_decay = true;
    }
    return KVBM_OK;
}

void kvbm__sketch_fini(kvbm__sketch *s)
{
    kvbm__free(s->table);
    s->table = NULL;
}

__attribute__((cold)) void kvbm__sketch_reset(kvbm__sketch *s)
{
    uint64_t ones = 0;
    for (uint64_t w = 0; w < s->words; w++) {
        uint64_t v = atomic_load_explicit(&s->table[w], memory_order_relaxed);
        ones += (uint64_t)__builtin_popcountll(v & UINT64_C(0x1111111111111111));
        atomic_store_explicit(&s->table[w], (v >> 1) & UINT64_C(0x7777777777777777),
                              memory_order_relaxed);
    }
    uint64_t half = s->size >> 1, q = ones >> 2;
    s->size = half > q ? (uint32_t)(half - q) : 0;
}

static inline _Atomic uint64_t *word_of(const kvbm__sketch *s, uint64_t h)
{
    return kvbm__sketch_word_in(s->table, s->words, h);
}

/* Row @i's counter: nibble 4i + (bits 2i..2i+1 of h) - one of the four in quarter i. */
#define ROW_SHIFT(h, i) ((4u * (i) + (unsigned)(((h) >> (2u * (i))) & 3u)) * 4u)

/* Bit 0 of each of the key's four counters, for every value of the hash's low 8 bits (the
 * four 2-bit row choices): one load instead of four variable shifts per touch. */
#define SEL_(x) ((UINT64_C(1) << (4 * ((x) & 3))) | (UINT64_C(1) << (16 + 4 * (((x) >> 2) & 3))) | \
                 (UINT64_C(1) << (32 + 4 * (((x) >> 4) & 3))) | (UINT64_C(1) << (48 + 4 * (((x) >> 6) & 3))))
#define SEL4_(x)   SEL_(x), SEL_((x) + 1), SEL_((x) + 2), SEL_((x) + 3)
#define SEL16_(x)  SEL4_(x), SEL4_((x) + 4), SEL4_((x) + 8), SEL4_((x) + 12)
#define SEL64_(x)  SEL16_(x), SEL16_((x) + 16), SEL16_((x) + 32), SEL16_((x) + 48)
static const uint64_t row_sel[256] = { SEL64_(0), SEL64_(64), SEL64_(128), SEL64_(192) };

static inline uint64_t row_bits(uint64_t h) { return row_sel[h & 255]; }

void kvbm__sketch_cells(const kvbm__sketch *s, uint64_t h, uint64_t word[4], unsigned shift[4])
{
    uint64_t w = (uint64_t)(word_of(s, h) - s->table);
    for (unsigned i = 0; i < 4; i++) {
        word[i] = w;
        shift[i] = ROW_SHIFT(h, i);
    }
}

/* Prefetch the word of key hash @h with write intent (for the increment). */
static inline void prefetch_word(const kvbm__sketch *s, uint64_t h)
{
    __builtin_prefetch((const void *)word_of(s, h), 1);
}

/* +1 on a key's four counters in word @w, saturating at 15 (SWAR: bit 0 of each nibble of
 * sat is set iff the nibble is 15; a selected counter grows iff its sat bit is clear);
 * whether any grew (a word whose four counters are saturated is not written). No
 * size/decay step. Writers hold the lock. */
static inline bool bump_at(_Atomic uint64_t *w, uint64_t h)
{
    uint64_t sel = row_bits(h);
    uint64_t v = atomic_load_explicit(w, memory_order_relaxed);
    uint64_t sat = v & v >> 2;
    sat &= sat >> 1;
    uint64_t grow = sel & ~sat;
    if (!grow) return false;
    atomic_store_explicit(w, v + grow, memory_order_relaxed);
    return true;
}

static inline bool bump_hash(kvbm__sketch *s, uint64_t h) { return bump_at(word_of(s, h), h); }

/* The increment: bump_hash, then the size/decay step. Writers hold the lock. */
static inline void increment_hash(kvbm__sketch *s, uint64_t h)
{
    if (!bump_hash(s, h)) return;
    if (s->size < UINT32_MAX) s->size++;
    bool decay = s->custom_decay ? s->decay.should_decay(s->decay.ctx, s->size)
                                 : fixed_should_decay(s, s->size);
    if (KVBM_UNLIKELY(decay)) kvbm__sketch_reset(s);
}

/* Increments of c[0..k) in order, exactly as k increment_hash calls. With the fixed decay
 * policy and room for k more increments below the sample size (the usual case: it is ten
 * times the capacity), no decay can fall inside the run and the size cannot saturate, so
 * the size is added once at the end instead of tested per key. Writers hold the lock. */
static inline __attribute__((always_inline)) void increment_run(kvbm__sketch *s, const kvbm__touch_cells *c, size_t k)
{
    if (!s->custom_decay && s->size < s->sample_size && k < s->sample_size - s->size) {
        _Atomic uint64_t *table = s->table; /* not reloaded after every store */
        uint64_t words = s->words;
        uint32_t grew = 0;
        for (size_t i = 0; i < k; i++)
            grew += bump_at(kvbm__sketch_word_in(table, words, c[i].h), c[i].h);
        s->size += grew;
        return;
    }
    for (size_t i = 0; i < k; i++) increment_hash(s, c[i].h);
}

static inline uint32_t min2(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* min of a key's four counters. */
static inline uint32_t estimate_hash(const kvbm__sketch *s, uint64_t h)
{
    uint64_t v = atomic_load_explicit(word_of(s, h), memory_order_relaxed);
    return min2(min2((uint32_t)(v >> ROW_SHIFT(h, 0)) & 15, (uint32_t)(v >> ROW_SHIFT(h, 1)) & 15),
                min2((uint32_t)(v >> ROW_SHIFT(h, 2)) & 15, (uint32_t)(v >> ROW_SHIFT(h, 3)) & 15));
}

void kvbm__sketch_increment(kvbm__sketch *s, const uint8_t *key, size_t len)
{
    increment_hash(s, key_hash(key, len));
}

uint32_t kvbm__sketch_estimate(const kvbm__sketch *s, const uint8_t *key, size_t len)
{
    return estimate_hash(s, key_hash(key, len));
}

/* ---- deferred application of touches ---------------------------------------------------
 *
 * A touch of a cold key misses in the sketch (the Medium table is 4 MiB), and applied right
 * after its prefetch the increment waits for the whole miss - a single registration has no
 * other work to overlap with it. So a TinyLFU tracker with the fixed decay policy defers its
 * single-key touches (kvbm_tracker_touch*, a prepared touch of one key; a batch of several
 * keys overlaps its own misses and is applied at once, after the pending ones): the key
 * hashes of the last KVBM__TRACKER_PENDING touches wait in a ring (under the tracker lock)
 * with their words prefetched; once the ring is full, a touch first applies the oldest
 * pending one, whose prefetch has long landed, and takes its place. Every read of
 * the sketch first applies all pending touches, oldest first (settle / flush_locked): count
 * in every key form and with cached cells, decay_now, sketch_info, kvbm__tracker_sketch.
 *
 * Why every observable result is that of immediate application: touches, decays and flushes
 * all run under the one tracker lock, so they form one total order, and the ring applies the
 * increments in exactly that order - the decay points (a decay is triggered only by an
 * increment and depends only on the sketch's own state) fall between the same increments.
 * Pending increments are invisible only until the next read, and every read flushes first
 * under the lock, so it sees the sketch as if each increment had been applied at its touch.
 * The lock-free count keeps its fast path when nothing is pending: pend_n is read with
 * acquire and a flush resets it with release after its table writes, so a count that does
 * not see a pending touch that happened before it sees the flush that applied it. Custom
 * decay policies are not deferred: their should_decay calls (user code) stay inside the touch
 * that causes them. Tested against an immediate tracker (test_tinylfu_defer.c). */
#define PEND_MASK (KVBM__TRACKER_PENDING - 1u)
#define PEND_OTHER_KIND UINT32_MAX /* pend_n of noop and custom trackers */
_Static_assert((KVBM__TRACKER_PENDING & PEND_MASK) == 0, "the ring size is a power of two");

/* Apply every pending touch, oldest first (up to the ring's wrap, then the rest). Lock
 * held. */
static void flush_locked(kvbm_tracker *t)
{
    uint32_t n = atomic_load_explicit(&t->pend_n, memory_order_relaxed);
    if (n == 0) return;
    uint32_t head = t->pend_head, first = KVBM__TRACKER_PENDING - head;
    if (first > n) first = n;
    increment_run(&t->sketch, t->pend + head, first);
    increment_run(&t->sketch, t->pend, n - first);
    t->pend_head = 0;
    atomic_store_explicit(&t->pend_n, 0, memory_order_release);
}

/* Touch key hash @h (its word already prefetched by the caller). Lock held. */
static inline void touch_locked(kvbm_tracker *t, uint64_t h)
{
    if (!t->defer) {
        increment_hash(&t->sketch, h);
        return;
    }
    uint32_t n = atomic_load_explicit(&t->pend_n, memory_order_relaxed);
    if (n < KVBM__TRACKER_PENDING) {
        t->pend[(t->pend_head + n) & PEND_MASK].h = h;
        atomic_store_explicit(&t->pend_n, n + 1, memory_order_relaxed);
        return;
    }
    increment_hash(&t->sketch, t->pend[t->pend_head].h); /* the oldest: prefetched long ago */
    t->pend[t->pend_head].h = h;
    t->pend_head = (t->pend_head + 1) & PEND_MASK;
}

/* Make the sketch current before a lock-free read (TinyLFU trackers). The flush is out of
 * line so that the lock-free count stays a leaf function. */
static __attribute__((noinline, cold)) void settle_flush(kvbm_tracker *t)
{
    kvbm__lock(&t->lock);
    flush_locked(t);
    kvbm__unlock(&t->lock);
}

static inline void settle(kvbm_tracker *t)
{
    if (KVBM_UNLIKELY(atomic_load_explicit(&t->pend_n, memory_order_acquire) != 0)) settle_flush(t);
}

/* estimate_hash after settle (the count's slow path: a tail call, so the count needs no
 * frame). */
static __attribute__((noinline, cold)) uint32_t estimate_after_flush(kvbm_tracker *t, uint64_t h)
{
    settle_flush(t);
    return estimate_hash(&t->sketch, h);
}

/* The count's one test: pend_n == 0 iff @t is a TinyLFU tracker with nothing pending (then
 * the sketch is current: lock-free read). */
static inline bool count_fast(const kvbm_tracker *t)
{
    return KVBM_LIKELY(atomic_load_explicit(&t->pend_n, memory_order_acquire) == 0);
}

/* ---- trackers -------------------------------------------------------------------------- */

uint64_t kvbm_tracker_capacity_entries(kvbm_tracker_capacity preset)
{
    switch (preset) {
    case KVBM_TRACKER_SMALL:  return UINT64_C(1) << 18;
    case KVBM_TRACKER_MEDIUM: return UINT64_C(1) << 21;
    case KVBM_TRACKER_LARGE:  return UINT64_C(1) << 24;
    }
    return 0;
}

static kvbm_tracker *tracker_alloc(enum tracker_kind kind)
{
    kvbm_tracker *t = kvbm__calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    atomic_init(&t->refs, 1);
    atomic_init(&t->pend_n, kind == TRACKER_TINYLFU ? 0u : PEND_OTHER_KIND);
    t->kind = kind;
    return t;
}

kvbm_status kvbm_tinylfu_create(uint64_t capacity, const kvbm_decay_policy *decay,
                                kvbm_tracker **out)
{
    if (out == NULL || capacity == 0) {
        kvbm__set_error("TinyLFU capacity is required (got %llu)", (unsigned long long)capacity);
        return KVBM_EINVAL;
    }
    if (decay != NULL && decay->should_decay == NULL) {
        kvbm__set_error("TinyLFU decay policy has no should_decay function");
        return KVBM_EINVAL;
    }
    kvbm_tracker *t = tracker_alloc(TRACKER_TINYLFU);
    if (t == NULL) return KVBM_ENOMEM;
    kvbm_status st = kvbm__sketch_init(&t->sketch, capacity, decay);
    if (st != KVBM_OK) {
        kvbm__free(t);
        return st;
    }
    kvbm__mutex_init(&t->lock, KVBM_RANK_TRACKER);
    t->defer = decay == NULL;
    *out = t;
    return KVBM_OK;
}

kvbm_status kvbm_tinylfu_create_preset(kvbm_tracker_capacity preset, kvbm_tracker **out)
{
    uint64_t entries = kvbm_tracker_capacity_entries(preset);
    if (entries == 0) {
        kvbm__set_error("unknown frequency tracking capacity preset %d", (int)preset);
        return KVBM_EINVAL;
    }
    return kvbm_tinylfu_create(entries, NULL, out);
}

kvbm_status kvbm_noop_tracker_create(kvbm_tracker **out)
{
    if (out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (out == NULL)", __func__);
    kvbm_tracker *t = tracker_alloc(TRACKER_NOOP);
    if (t == NULL) return KVBM_ENOMEM;
    *out = t;
    return KVBM_OK;
}

kvbm_status kvbm_tracker_create_custom(const kvbm_tracker_ops *ops, void *ctx, kvbm_tracker **out)
{
    if (out == NULL || ops == NULL || ops->touch == NULL || ops->count == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (out == NULL || ops == NULL || ops->touch == NULL || ops->count == NULL)", __func__);
    kvbm_tracker *t = tracker_alloc(TRACKER_CUSTOM);
    if (t == NULL) return KVBM_ENOMEM;
    t->ops = *ops;
    t->ctx = ctx;
    *out = t;
    return KVBM_OK;
}

kvbm_tracker *kvbm_tracker_clone(kvbm_tracker *t)
{
    if (t != NULL) atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void kvbm_tracker_release(kvbm_tracker *t)
{
    if (t == NULL) return;
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) return;
    switch (t->kind) {
    case TRACKER_TINYLFU:
        kvbm__mutex_destroy(&t->lock);
        kvbm__sketch_fini(&t->sketch);
        break;
    case TRACKER_CUSTOM:
        if (t->ops.destroy != NULL) t->ops.destroy(t->ctx);
        break;
    case TRACKER_NOOP:
        break;
    }
    kvbm__free(t);
}

static inline void tracker_touch(kvbm_tracker *t, const uint8_t *key, size_t len)
{
    if (KVBM_LIKELY(t->kind == TRACKER_TINYLFU)) {
        uint64_t h = key_hash(key, len); /* outside the lock */
        prefetch_word(&t->sketch, h);
        kvbm__lock(&t->lock);
        touch_locked(t, h);
        kvbm__unlock(&t->lock);
    } else if (t->kind == TRACKER_CUSTOM) {
        uint8_t k16[16] = { 0 };
        memcpy(k16, key, len);
        t->ops.touch(t->ctx, k16);
    }
}

static inline uint32_t tracker_count(kvbm_tracker *t, const uint8_t *key, size_t len)
{
    /* TinyLFU, lock-free: one relaxed load of the key's word. A concurrent touch is seen or
     * not (as with the lock, in some order); a concurrent decay is seen before or after it
     * halved that word. Counts are estimates anyway, and this keeps the tracker mutex out of
     * the store-lock critical section of MultiLRU insert unless touches are pending (then
     * they are applied first, under the lock). Single-threaded results are exactly the
     * locked ones. */
    if (count_fast(t)) return estimate_hash(&t->sketch, key_hash(key, len));
    if (t->kind == TRACKER_TINYLFU) return estimate_after_flush(t, key_hash(key, len));
    if (t->kind == TRACKER_CUSTOM) {
        uint8_t k16[16] = { 0 };
        memcpy(k16, key, len);
        return t->ops.count(t->ctx, k16);
    }
    return 0;
}

void kvbm_tracker_touch_key(kvbm_tracker *t, const uint8_t key[16])
{
    if (t != NULL && key != NULL) tracker_touch(t, key, 16);
}

uint32_t kvbm_tracker_count_key(kvbm_tracker *t, const uint8_t key[16])
{
    return t != NULL && key != NULL ? tracker_count(t, key, 16) : 0;
}

void kvbm_tracker_touch(kvbm_tracker *t, kvbm_plh h)
{
    uint8_t k[16];
    kvbm__store_le64(k, h.lo);
    kvbm__store_le64(k + 8, h.hi);
    if (t != NULL) tracker_touch(t, k, 16);
}

uint32_t kvbm_tracker_count(kvbm_tracker *t, kvbm_plh h)
{
    if (t == NULL) return 0;
    if (count_fast(t)) /* TinyLFU: the key is (lo, hi) LE, no bytes needed */
        return estimate_hash(&t->sketch, kvbm__tinylfu_key_hash(h.lo, h.hi));
    if (t->kind == TRACKER_TINYLFU)
        return estimate_after_flush(t, kvbm__tinylfu_key_hash(h.lo, h.hi));
    uint8_t k[16];
    kvbm__store_le64(k, h.lo);
    kvbm__store_le64(k + 8, h.hi);
    return tracker_count(t, k, 16);
}

/* A u64 key is 8 bytes LE for TinyLFU (the reference's u64 key type); custom trackers
 * receive it zero-extended to a 16-byte u128. */
void kvbm_tracker_touch_u64(kvbm_tracker *t, uint64_t key)
{
    uint8_t k[8];
    kvbm__store_le64(k, key);
    if (t != NULL) tracker_touch(t, k, 8);
}

uint32_t kvbm_tracker_count_u64(kvbm_tracker *t, uint64_t key)
{
    uint8_t k[8];
    kvbm__store_le64(k, key);
    return t != NULL ? tracker_count(t, k, 8) : 0;
}

void kvbm_tracker_decay_now(kvbm_tracker *t)
{
    if (t == NULL || t->kind != TRACKER_TINYLFU) return;
    kvbm__lock(&t->lock);
    flush_locked(t);
    kvbm__sketch_reset(&t->sketch);
    kvbm__unlock(&t->lock);
}

bool kvbm__tracker_is_tinylfu(const kvbm_tracker *t) { return t != NULL && t->kind == TRACKER_TINYLFU; }

const kvbm__sketch *kvbm__tracker_sketch(const kvbm_tracker *t)
{
    if (!kvbm__tracker_is_tinylfu(t)) return NULL;
    settle((kvbm_tracker *)t); /* trackers are never const objects: only the view is */
    return &t->sketch;
}

uint32_t kvbm__tracker_pending(const kvbm_tracker *t)
{
    return kvbm__tracker_is_tinylfu(t) ? atomic_load_explicit(&t->pend_n, memory_order_relaxed) : 0;
}

void kvbm__tracker_set_defer(kvbm_tracker *t, bool on)
{
    if (!kvbm__tracker_is_tinylfu(t)) return;
    kvbm__lock(&t->lock);
    flush_locked(t);
    t->defer = on && !t->sketch.custom_decay;
    kvbm__unlock(&t->lock);
}

uint32_t kvbm__tracker_refs(const kvbm_tracker *t)
{
    return t != NULL ? (uint32_t)atomic_load_explicit(&t->refs, memory_order_relaxed) : 0;
}

bool kvbm__tracker_sketch_info(kvbm_tracker *t, uint64_t *words, uint32_t *size, uint32_t *sample)
{
    if (t == NULL || t->kind != TRACKER_TINYLFU) return false;
    kvbm__lock(&t->lock);
    flush_locked(t);
    if (words) *words = t->sketch.words;
    if (size) *size = t->sketch.size;
    if (sample) *sample = t->sketch.sample_size;
    kvbm__unlock(&t->lock);
    return true;
}

/* Batched touch: the cells of every key are computed and their word prefetched (with
 * write intent) outside the lock, then the increments are applied in key order under one
 * lock acquisition, so the batch's cache misses overlap instead of costing one round trip
 * per key; callers that have other work in between (kvbm__tracker_touch_prepare early,
 * kvbm__tracker_touch_apply late) hide them completely. The increments, and therefore
 * every decay point - one in the middle of a batch included - are exactly those of n
 * sequential touches: the cells depend only on the immutable table geometry, so computing
 * them early changes nothing, and a decay halves the words in place before the next key
 * applies its +1. kvbm_tracker_touch_many works in chunks of TOUCH_CHUNK keys (stack
 * space) and releases the lock between chunks, as between sequential touches. */
#define TOUCH_CHUNK 64u

void kvbm__tracker_touch_prepare(kvbm_tracker *t, kvbm_plh key, kvbm__touch_cells *cells)
{
    if (t != NULL && t->kind == TRACKER_TINYLFU) {
        cells->h = kvbm__tinylfu_key_hash(key.lo, key.hi);
        prefetch_word(&t->sketch, cells->h);
    }
}

void kvbm__tracker_prepare_many(kvbm_tracker *t, const kvbm_plh *keys,
                                kvbm__touch_cells *cells, size_t n)
{
    if (t == NULL || t->kind != TRACKER_TINYLFU) return;
    for (size_t i = 0; i < n; i++) {
        if (keys != NULL) cells[i].h = kvbm__tinylfu_key_hash(keys[i].lo, keys[i].hi);
        prefetch_word(&t->sketch, cells[i].h);
    }
}

void kvbm__tracker_cells(const kvbm_tracker *t, kvbm_plh key, kvbm__touch_cells *cells)
{
    if (t == NULL || t->kind != TRACKER_TINYLFU) return;
    cells->h = kvbm__tinylfu_key_hash(key.lo, key.hi);
}

void kvbm__tracker_prefetch_cells(const kvbm_tracker *t, const kvbm__touch_cells *cells)
{
    if (t != NULL && t->kind == TRACKER_TINYLFU) prefetch_word(&t->sketch, cells->h);
}

static __attribute__((noinline)) uint32_t count_cells_slow(kvbm_tracker *t, kvbm_plh key,
                                                           const kvbm__touch_cells *cells)
{
    if (t != NULL && t->kind == TRACKER_TINYLFU) return estimate_after_flush(t, cells->h);
    return kvbm_tracker_count(t, key);
}

uint32_t kvbm__tracker_count_cells(kvbm_tracker *t, kvbm_plh key, const kvbm__touch_cells *cells)
{
    if (t != NULL && count_fast(t)) return estimate_hash(&t->sketch, cells->h);
    return count_cells_slow(t, key, cells);
}

void kvbm__tracker_touch_apply(kvbm_tracker *t, const kvbm_plh *keys,
                               const kvbm__touch_cells *cells, size_t n)
{
    if (t == NULL || n == 0) return;
    if (KVBM_LIKELY(t->kind == TRACKER_TINYLFU)) {
        kvbm__lock(&t->lock);
        if (n == 1) {
            touch_locked(t, cells[0].h);
        } else { /* a batch overlaps its own misses: pending ones first, then the batch */
            flush_locked(t);
            increment_run(&t->sketch, cells, n);
        }
        kvbm__unlock(&t->lock);
    } else if (t->kind == TRACKER_CUSTOM) {
        for (size_t i = 0; i < n; i++) kvbm_tracker_touch(t, keys[i]);
    }
}

static void touch_many_tinylfu(kvbm_tracker *t, const kvbm_plh *hashes, size_t n)
{
    kvbm__touch_cells c[TOUCH_CHUNK];
    while (n > 0) {
        size_t m = n < TOUCH_CHUNK ? n : TOUCH_CHUNK;
        for (size_t i = 0; i < m; i++) kvbm__tracker_touch_prepare(t, hashes[i], &c[i]);
        kvbm__tracker_touch_apply(t, hashes, c, m);
        hashes += m;
        n -= m;
    }
}

void kvbm_tracker_touch_many(kvbm_tracker *t, const kvbm_plh *hashes, size_t n)
{
    if (t == NULL || hashes == NULL || n == 0) return;
    if (KVBM_LIKELY(t->kind == TRACKER_TINYLFU)) touch_many_tinylfu(t, hashes, n);
    else if (t->kind == TRACKER_CUSTOM)
        for (size_t i = 0; i < n; i++) kvbm_tracker_touch(t, hashes[i]);
}
