/* src/tinylfu/tinylfu.c - frequency trackers: TinyLFU count-min sketch, no-op, custom (§4).
 *
 * TinyLFU sketch (bit-exact with the reference):
 *
 *   table: max(1, capacity/4) 64-bit words; word w holds 16 4-bit counters,
 *          counter c in bits 4c..4c+3, saturating at 15.
 *
 *        63     60 59     56         7      4 3      0
 *       +---------+---------+ ... +---------+--------+
 *       | ctr 15  | ctr 14  |     | ctr 1   | ctr 0  |
 *       +---------+---------+ ... +---------+--------+
 *
 *   H_i(key) = XXH3_64bits_withSecret(key bytes, secret_i, 192), i = 0..3, where secret_i
 *   is XXH3_generateSecret_fromSeed(i) (per 16-byte lane of the default secret: low u64
 *   += i, high u64 -= i; seed 0 is the default secret). Cell = (H mod words, H & 15).
 *
 *   increment: +1 on every non-saturated cell of the 4 (no conservative update; a cell hit
 *   twice gets +2); if any cell grew, size += 1 and, if decay(size), reset().
 *   estimate : min of the 4 cells.
 *   reset    : ones = popcount of the low counter bits over the table; every counter is
 *              halved (word >> 1 & 0x777...); size = (size >> 1) - (ones >> 2), saturating.
 *
 * Keys are 16 bytes (a u128 little-endian: the PLH's as_u128) or 8 bytes (u64 LE). Both
 * lengths hit XXH3's short-input paths (4..8 and 9..16 bytes), which read only 24 bytes
 * of the secret; we precompute those "bitflip" words per seed at creation and evaluate the
 * two paths directly, which keeps touch/count at a few ns of hashing. The test suite
 * checks them against libxxhash's XXH3_64bits_withSecret for random keys.
 *
 * Locking: one kvbm__mutex of rank KVBM_RANK_TRACKER (a leaf) serialises writers (touch,
 * decay). count() is lock-free: the words are _Atomic and read with relaxed loads, so
 * MultiLRU insert (under the store lock) never waits for the tracker mutex. Trackers are refcounted; the registry
 * and each MultiLRU backend hold references.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

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
};

/* ---- XXH3 short-input paths with a seeded secret ------------------------------------ */

__extension__ typedef unsigned __int128 tlfu_u128;

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t bswap64(uint64_t x) { return __builtin_bswap64(x); }

static inline uint64_t xxh3_avalanche(uint64_t h)
{
    h ^= h >> 37;
    h *= UINT64_C(0x165667919E3779F9);
    h ^= h >> 32;
    return h;
}

static inline uint64_t xxh3_rrmxmx(uint64_t h, uint64_t len)
{
    h ^= rotl64(h, 49) ^ rotl64(h, 24);
    h *= UINT64_C(0x9FB21C651E98DF25);
    h ^= (h >> 35) + len;
    h *= UINT64_C(0x9FB21C651E98DF25);
    return h ^ (h >> 28);
}

/* XXH3_64bits_withSecret for a 16-byte input (9..16-byte path, seed 0), given the input
 * as its two little-endian 64-bit halves k0 = bytes 0..7, k1 = bytes 8..15. */
static inline uint64_t xxh3_16w(uint64_t k0, uint64_t k1, uint64_t flip1, uint64_t flip2)
{
    uint64_t lo = k0 ^ flip1;
    uint64_t hi = k1 ^ flip2;
    tlfu_u128 p = (tlfu_u128)lo * hi;
    uint64_t acc = 16 + bswap64(lo) + hi + ((uint64_t)p ^ (uint64_t)(p >> 64));
    return xxh3_avalanche(acc);
}

/* XXH3_64bits_withSecret for an 8-byte input (4..8-byte path, seed 0). */
static inline uint64_t xxh3_8(const uint8_t key[8], uint64_t flip)
{
    uint64_t in1 = rd32(key), in2 = rd32(key + 4);
    uint64_t input64 = in2 + (in1 << 32);
    return xxh3_rrmxmx(input64 ^ flip, 8);
}

void kvbm__tinylfu_secret(unsigned seed, uint8_t secret[KVBM_TLFU_SECRET_SIZE])
{
    XXH3_generateSecret_fromSeed(secret, (XXH64_hash_t)seed);
}

/* The four sketch hashes H_0..H_3 of the 16-byte key (k0, k1), computed directly. */
static inline void key16_hash4(const kvbm__sketch *s, uint64_t k0, uint64_t k1, uint64_t h[4])
{
    for (unsigned i = 0; i < 4; i++) h[i] = xxh3_16w(k0, k1, s->flip16a[i], s->flip16b[i]);
}

uint64_t kvbm__tinylfu_hash(const kvbm__sketch *s, unsigned i, const uint8_t *key, size_t len)
{
    if (len == 16) return xxh3_16w(rd64(key), rd64(key + 8), s->flip16a[i], s->flip16b[i]);
    return xxh3_8(key, s->flip8[i]);
}

/* ---- sketch ---------------------------------------------------------------------------- */

/* The counter table. Tables of 2 MiB and more are 2 MiB-aligned and advised as huge pages
 * (transparent huge pages, where the kernel offers them for madvise()d ranges): every
 * touch and count reads four random words, and with 4 KiB pages a Medium (4 MiB) table
 * spans 1024 pages - beyond the first-level TLB, so most accesses also paid a TLB miss. */
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
    s->mask = kvbm__is_pow2_u64(words) ? words - 1 : 0;
    s->pow2 = kvbm__is_pow2_u64(words); /* words == 1 included: mask 0 */
    s->sample_size = kvbm__tinylfu_sample_size(capacity);
    if (decay != NULL) {
        s->decay = *decay;
        s->custom_decay = true;
    }
    for (unsigned i = 0; i < 4; i++) {
        uint8_t secret[KVBM_TLFU_SECRET_SIZE];
        kvbm__tinylfu_secret(i, secret);
        s->flip16a[i] = rd64(secret + 24) ^ rd64(secret + 32);
        s->flip16b[i] = rd64(secret + 40) ^ rd64(secret + 48);
        s->flip8[i]   = rd64(secret + 8) ^ rd64(secret + 16);
    }
    return KVBM_OK;
}

void kvbm__sketch_fini(kvbm__sketch *s)
{
    kvbm__free(s->table);
    s->table = NULL;
}

void kvbm__sketch_reset(kvbm__sketch *s)
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

/* ---- per-thread memo of key hashes --------------------------------------------------
 * The four raw hashes of a key are pure functions of its bytes (the secrets derive from
 * the fixed seeds 0..3, identical for every tracker), so they can be remembered. A block
 * is typically touched when it is matched and counted when it is released into MultiLRU
 * (or counted, then touched on the next match): with the memo the second call skips the
 * four XXH3 computations. Two-way set associative (HMEMO_SETS sets, FIFO within a set), per
 * thread (no synchronisation), 16-byte keys only. The keys of a set share one cache line
 * and its hashes another. Every way always holds a real key with its real hashes (the
 * table starts filled with the all-zero key), so a hit - a full 16-byte key compare -
 * returns exactly what hashing would and no valid flag is needed. The table is allocated
 * at a thread's first use and freed at its exit; the TLS slot itself is one pointer
 * (initial-exec is safe for a pointer even when libkvbm.so is dlopen()ed).
 * (A direct-mapped memo of 512 keys missed ~22% of the time on a 128-block working set:
 * 128 keys in 512 slots collide that often, and a colliding pair evicts itself on every
 * touch/count round. A four-way variant (128 sets, round-robin) missed less on that chain
 * but cost the replay ~4%: half of its lookups miss, and a miss compares every way.) */
#define HMEMO_SETS KVBM__TLFU_MEMO_SETS

struct hmemo_keys { uint64_t k0[2], k1[2]; };  /* way 0 = most recently inserted */
struct hmemo {
    struct hmemo_keys keys[HMEMO_SETS];
    uint64_t          h[HMEMO_SETS][2][4];
};

static _Thread_local struct hmemo *tl_hmemo __attribute__((tls_model("initial-exec")));
static _Thread_local bool tl_hmemo_failed __attribute__((tls_model("initial-exec")));
static pthread_key_t  hmemo_key;
static pthread_once_t hmemo_once = PTHREAD_ONCE_INIT;
static bool           hmemo_key_ok;

static void hmemo_free(void *p)
{
    tl_hmemo = NULL;
    tl_hmemo_failed = true; /* a destructor running later in this thread computes directly */
    kvbm__free(p);
}

static void hmemo_init_key(void) { hmemo_key_ok = pthread_key_create(&hmemo_key, hmemo_free) == 0; }

static __attribute__((noinline, cold)) struct hmemo *hmemo_alloc(const kvbm__sketch *s)
{
    pthread_once(&hmemo_once, hmemo_init_key);
    struct hmemo *m = hmemo_key_ok ? kvbm__aligned_alloc(64, sizeof *m) : NULL;
    if (m != NULL) {
        static const uint8_t zero[16];
        uint64_t hz[4];
        for (unsigned i = 0; i < 4; i++) hz[i] = kvbm__tinylfu_hash(s, i, zero, 16);
        memset(m->keys, 0, sizeof m->keys);
        for (unsigned set = 0; set < HMEMO_SETS; set++)
            for (unsigned w = 0; w < 2; w++) memcpy(m->h[set][w], hz, sizeof hz);
        if (pthread_setspecific(hmemo_key, m) != 0) {
            kvbm__free(m);
            m = NULL;
        }
    }
    if (m == NULL) tl_hmemo_failed = true;
    tl_hmemo = m;
    return m;
}

/* The four hashes of a 16-byte key given as its LE halves (k0, k1): a pointer into the
 * thread's memo (most recent way of the key's set, valid until the next memo use on this
 * thread) or, without a memo, into @buf. Returning the memo's own words, rather than
 * copying them out, keeps a hit free of stack round trips. A PLH key is (lo, hi) itself. */
/* Memo miss in both ways of @set: fresh hashes; the key becomes way 0 and the old way 0
 * way 1 (FIFO within a set: a hit does not reorder, so two keys sharing a set and used
 * alternately - a touch round, then a count round - both stay without any copying). Out
 * of line so that the hit path needs no saved registers. */
static __attribute__((noinline)) const uint64_t *memo_fill(const kvbm__sketch *s, struct hmemo *m,
                                                           unsigned set, uint64_t k0, uint64_t k1)
{
    struct hmemo_keys *ks = &m->keys[set];
    uint64_t (*hs)[4] = m->h[set];
    ks->k0[1] = ks->k0[0];
    ks->k1[1] = ks->k1[0];
    for (unsigned i = 0; i < 4; i++) hs[1][i] = hs[0][i];
    ks->k0[0] = k0;
    ks->k1[0] = k1;
    key16_hash4(s, k0, k1, hs[0]);
    return hs[0];
}

/* Memo set of a key: the top bits of a multiplicative hash of both halves. (The low bits
 * of lo ^ hi, used before, missed 15% of the time on a 128-block chain: PLHs of one
 * sequence share structure in their low bits.) */
static inline unsigned hmemo_set(uint64_t k0, uint64_t k1)
{
    return (unsigned)(((k0 ^ (k1 * UINT64_C(0x9E3779B97F4A7C15))) * UINT64_C(0xD6E8FEB86659FD93)) >> 56) &
           (HMEMO_SETS - 1);
}

unsigned kvbm__tinylfu_memo_set(uint64_t k0, uint64_t k1) { return hmemo_set(k0, k1); }

static __attribute__((noinline, cold)) const uint64_t *key16_hashes_slow(const kvbm__sketch *s,
                                                                         uint64_t k0, uint64_t k1,
                                                                         uint64_t buf[4])
{
    struct hmemo *m = tl_hmemo_failed ? NULL : hmemo_alloc(s);
    if (m != NULL) return memo_fill(s, m, hmemo_set(k0, k1), k0, k1);
    key16_hash4(s, k0, k1, buf);
    return buf;
}

static inline const uint64_t *key16_hashes(const kvbm__sketch *s, uint64_t k0, uint64_t k1,
                                           uint64_t buf[4])
{
    /* Until the first count() nothing can hit: every touched key is hashed once (a
     * registration) or long after its last use (a match). Hash directly then - the memo's
     * probe and fill cost twice the four hashes. */
    if (!atomic_load_explicit(&((kvbm__sketch *)s)->counted, memory_order_relaxed)) {
        key16_hash4(s, k0, k1, buf);
        return buf;
    }
    struct hmemo *m = tl_hmemo;
    if (KVBM_UNLIKELY(m == NULL)) return key16_hashes_slow(s, k0, k1, buf);
    unsigned set = hmemo_set(k0, k1);
    const struct hmemo_keys *ks = &m->keys[set];
    if (KVBM_LIKELY(ks->k0[0] == k0 && ks->k1[0] == k1)) return m->h[set][0];
    if (ks->k0[1] == k0 && ks->k1[1] == k1) return m->h[set][1];
    return memo_fill(s, m, set, k0, k1);
}

/* A count() from now on: touches go through the memo so that the count of a key touched
 * shortly before (MultiLRU insert of a block matched or registered earlier) hits it. */
static inline void sketch_note_count(const kvbm__sketch *s)
{
    _Atomic bool *c = &((kvbm__sketch *)s)->counted;
    if (KVBM_UNLIKELY(!atomic_load_explicit(c, memory_order_relaxed)))
        atomic_store_explicit(c, true, memory_order_relaxed);
}

/* key16_hashes for a key in bytes (16: through the memo; 8: hashed directly). */
static inline const uint64_t *key_hashes(const kvbm__sketch *s, const uint8_t *key, size_t len,
                                         uint64_t buf[4])
{
    if (len == 16) return key16_hashes(s, rd64(key), rd64(key + 8), buf);
    for (unsigned i = 0; i < 4; i++) buf[i] = kvbm__tinylfu_hash(s, i, key, len);
    return buf;
}

/* The table geometry, copied into locals: the compiler reloads fields of *s after every
 * atomic load otherwise. */
typedef struct sketch_geom {
    _Atomic uint64_t *table;
    uint64_t          mask, words;
    bool              pow2;
} sketch_geom;

static inline sketch_geom geom_of(const kvbm__sketch *s)
{
    sketch_geom g = { s->table, s->mask, s->words, s->pow2 };
    return g;
}

/* The word holding the counter of hash @h: word = h mod words (a mask for power-of-two
 * tables), counter = h & 15. */
static inline _Atomic uint64_t *cell_word(sketch_geom g, uint64_t h)
{
    return &g.table[KVBM_LIKELY(g.pow2) ? h & g.mask : h % g.words];
}

/* Prefetch the words of the cells @h with write intent (for the increment). */
static inline void prefetch_cells(const kvbm__sketch *s, const uint64_t h[4])
{
    sketch_geom g = geom_of(s);
    for (unsigned i = 0; i < 4; i++) __builtin_prefetch((const void *)cell_word(g, h[i]), 1);
}

/* Keep a key's four hashes @k (from key_hashes/key16_hashes, which may point into the
 * memo) in @h - they are its cells - and prefetch their words. The cells depend only on
 * the immutable table geometry, so trackers compute them before taking the lock. */
static inline void keep_cells(const kvbm__sketch *s, const uint64_t *k, uint64_t h[4])
{
    if (k != h) memcpy(h, k, 4 * sizeof *h);
    prefetch_cells(s, h);
}

/* +1 on the counter of hash @h unless it is saturated; true if it grew. */
static inline bool cell_increment(sketch_geom g, uint64_t h)
{
    _Atomic uint64_t *w = cell_word(g, h);
    unsigned shift = (unsigned)(h & 15) * 4;
    uint64_t v = atomic_load_explicit(w, memory_order_relaxed);
    if (((v >> shift) & 15) == 15) return false;
    atomic_store_explicit(w, v + (UINT64_C(1) << shift), memory_order_relaxed); /* writers hold the lock */
    return true;
}

/* The counter of hash @h. */
static inline uint32_t cell_value(sketch_geom g, uint64_t h)
{
    return (uint32_t)(atomic_load_explicit(cell_word(g, h), memory_order_relaxed) >> ((h & 15) * 4)) & 15;
}

/* +1 on a key's four cells given its hashes, then the size/decay step. No conservative
 * update: a cell hit twice gets +2 (the increments are separate statements, so the second
 * load sees the first store). */
static inline void increment_hashes(kvbm__sketch *s, const uint64_t h[4])
{
    sketch_geom g = geom_of(s);
    bool added = cell_increment(g, h[0]);
    added |= cell_increment(g, h[1]);
    added |= cell_increment(g, h[2]);
    added |= cell_increment(g, h[3]);
    if (!added) return;
    if (s->size < UINT32_MAX) s->size++;
    bool decay = s->custom_decay ? s->decay.should_decay(s->decay.ctx, s->size)
                                 : fixed_should_decay(s, s->size);
    if (decay) kvbm__sketch_reset(s);
}

static inline uint32_t min4(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    a = a < b ? a : b;
    c = c < d ? c : d;
    return a < c ? a : c;
}

/* min of a key's four cells, straight from its hashes. */
static inline uint32_t estimate_hashes(const kvbm__sketch *s, const uint64_t h[4])
{
    sketch_geom g = geom_of(s);
    return min4(cell_value(g, h[0]), cell_value(g, h[1]), cell_value(g, h[2]), cell_value(g, h[3]));
}

void kvbm__sketch_increment(kvbm__sketch *s, const uint8_t *key, size_t len)
{
    uint64_t h[4];
    keep_cells(s, key_hashes(s, key, len, h), h);
    increment_hashes(s, h);
}

uint32_t kvbm__sketch_estimate(const kvbm__sketch *s, const uint8_t *key, size_t len)
{
    uint64_t buf[4];
    sketch_note_count(s);
    return estimate_hashes(s, key_hashes(s, key, len, buf));
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
        uint64_t h[4];
        keep_cells(&t->sketch, key_hashes(&t->sketch, key, len, h), h); /* outside the lock */
        kvbm__lock(&t->lock);
        increment_hashes(&t->sketch, h);
        kvbm__unlock(&t->lock);
    } else if (t->kind == TRACKER_CUSTOM) {
        uint8_t k16[16] = { 0 };
        memcpy(k16, key, len);
        t->ops.touch(t->ctx, k16);
    }
}

static inline uint32_t tracker_count(kvbm_tracker *t, const uint8_t *key, size_t len)
{
    if (KVBM_LIKELY(t->kind == TRACKER_TINYLFU)) {
        /* Lock-free: relaxed loads of the 4 words. A concurrent touch is seen or not (as
         * with the lock, in some order); a concurrent decay may be seen half-applied
         * (some of the key's words halved, others not). Counts are estimates anyway, and
         * this keeps the tracker mutex out of the store-lock critical section of MultiLRU
         * insert. Single-threaded results are exactly the locked ones. */
        uint64_t buf[4];
        sketch_note_count(&t->sketch);
        return estimate_hashes(&t->sketch, key_hashes(&t->sketch, key, len, buf));
    }
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
    if (KVBM_LIKELY(t->kind == TRACKER_TINYLFU)) { /* the key is (lo, hi) LE: no bytes needed */
        uint64_t buf[4];
        sketch_note_count(&t->sketch);
        return estimate_hashes(&t->sketch, key16_hashes(&t->sketch, h.lo, h.hi, buf));
    }
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
    kvbm__sketch_reset(&t->sketch);
    kvbm__unlock(&t->lock);
}

bool kvbm__tracker_is_tinylfu(const kvbm_tracker *t) { return t != NULL && t->kind == TRACKER_TINYLFU; }

const kvbm__sketch *kvbm__tracker_sketch(const kvbm_tracker *t)
{
    return kvbm__tracker_is_tinylfu(t) ? &t->sketch : NULL;
}

uint32_t kvbm__tracker_refs(const kvbm_tracker *t)
{
    return t != NULL ? (uint32_t)atomic_load_explicit(&t->refs, memory_order_relaxed) : 0;
}

bool kvbm__tracker_sketch_info(kvbm_tracker *t, uint64_t *words, uint32_t *size, uint32_t *sample)
{
    if (t == NULL || t->kind != TRACKER_TINYLFU) return false;
    kvbm__lock(&t->lock);
    if (words) *words = t->sketch.words;
    if (size) *size = t->sketch.size;
    if (sample) *sample = t->sketch.sample_size;
    kvbm__unlock(&t->lock);
    return true;
}

/* Batched touch: the cells of every key are computed and their words prefetched (with
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
    if (t != NULL && t->kind == TRACKER_TINYLFU)
        keep_cells(&t->sketch, key16_hashes(&t->sketch, key.lo, key.hi, cells->h), cells->h);
}

void kvbm__tracker_cells(const kvbm_tracker *t, kvbm_plh key, kvbm__touch_cells *cells)
{
    if (t == NULL || t->kind != TRACKER_TINYLFU) return;
    key16_hash4(&t->sketch, key.lo, key.hi, cells->h);
}

void kvbm__tracker_prefetch_cells(const kvbm_tracker *t, const kvbm__touch_cells *cells)
{
    if (t != NULL && t->kind == TRACKER_TINYLFU) prefetch_cells(&t->sketch, cells->h);
}

uint32_t kvbm__tracker_count_cells(kvbm_tracker *t, kvbm_plh key, const kvbm__touch_cells *cells)
{
    if (t != NULL && KVBM_LIKELY(t->kind == TRACKER_TINYLFU)) return estimate_hashes(&t->sketch, cells->h);
    return kvbm_tracker_count(t, key);
}

void kvbm__tracker_touch_apply(kvbm_tracker *t, const kvbm_plh *keys,
                               const kvbm__touch_cells *cells, size_t n)
{
    if (t == NULL || n == 0) return;
    if (KVBM_LIKELY(t->kind == TRACKER_TINYLFU)) {
        kvbm__lock(&t->lock);
        for (size_t i = 0; i < n; i++) increment_hashes(&t->sketch, cells[i].h);
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
