/* src/tinylfu/tinylfu_int.h - TinyLFU internals shared with the rest of kvbm (not
 * installed): the unlocked count-min sketch, the tracker's precomputed touch cells and the
 * cell-based count/touch entry points. Users: the registry (touch on match), the block
 * store (sketch cells per slot) and the MultiLRU backend (count at insert); tests and
 * benchmarks also reach the sketch directly. */
#ifndef KVBM_TINYLFU_INT_H
#define KVBM_TINYLFU_INT_H

#include "internal.h"
#include "kvbm/tracker.h"

/* The unlocked count-min sketch (see tinylfu.c for the layout). */
typedef struct kvbm__sketch {
    _Atomic uint64_t *table;       /* written under the tracker lock; read lock-free by count */
    uint64_t          words;       /* max(1, capacity / 4) */
    uint32_t          size;        /* effective increments since the last reset */
    uint32_t          sample_size; /* fixed decay threshold min(capacity*10, 2^32-1) */
    bool              custom_decay;
    kvbm_decay_policy decay;
} kvbm__sketch;

kvbm_status kvbm__sketch_init(kvbm__sketch *s, uint64_t capacity, const kvbm_decay_policy *decay);
void        kvbm__sketch_fini(kvbm__sketch *s);
void        kvbm__sketch_increment(kvbm__sketch *s, const uint8_t *key, size_t len); /* len 8|16 */
uint32_t    kvbm__sketch_estimate(const kvbm__sketch *s, const uint8_t *key, size_t len);
void        kvbm__sketch_reset(kvbm__sketch *s);

/* The word of key hash @h in a sketch table of @words words: (h * words) >> 64 (high bits
 * of h). Inline here for callers that prefetch sketch words in their own passes from the
 * table geometry they keep (the registry's batched registration: kvbm__sketch.table and
 * words do not change in a tracker's life). */
static inline _Atomic uint64_t *kvbm__sketch_word_in(_Atomic uint64_t *table, uint64_t words,
                                                     uint64_t h)
{
    __extension__ typedef unsigned __int128 u128;
    return table + (uint64_t)(((u128)h * words) >> 64);
}

/* FixedDecayPolicy::from_capacity: min(capacity * 10 (saturating), 2^32 - 1). */
uint32_t kvbm__tinylfu_sample_size(uint64_t capacity);
/* The key hash of a 16-byte key given as its LE halves (an 8-byte key k is (k, KEY8_TAG)).
 * For a PLH key h it equals kvbm_plh_hash64(h): callers that already computed that (the
 * registry's batched registration) fill kvbm__touch_cells.h with it and do not hash again. */
uint64_t kvbm__tinylfu_key_hash(uint64_t k0, uint64_t k1);
/* The four cells of key hash @h: table word index (the same for all four) and counter bit
 * shift (row i in bits 16i..16i+15) (tests). */
void     kvbm__sketch_cells(const kvbm__sketch *s, uint64_t h, uint64_t word[4], unsigned shift[4]);

/* Two-phase touch, for callers with other work to overlap with the sketch's cache misses
 * (the registry's batched registration, the store's match): prepare computes a key's cells
 * (its hash) into @cells and prefetches its word (no lock, no state change, any tracker kind);
 * apply then touches keys[0..n) in order, as n kvbm_tracker_touch calls would, given the
 * cells prepared for each (one tracker-lock acquisition; custom trackers receive their
 * touch callbacks, no-op trackers nothing). A batch of any size n. */
typedef struct kvbm__touch_cells { uint64_t h; } kvbm__touch_cells; /* the key hash */
void kvbm__tracker_touch_prepare(kvbm_tracker *t, kvbm_plh key, kvbm__touch_cells *cells);
void kvbm__tracker_touch_apply(kvbm_tracker *t, const kvbm_plh *keys,
                               const kvbm__touch_cells *cells, size_t n);
/* kvbm__tracker_touch_prepare for n keys in one call (the kind test once, the hashing
 * inline): with @keys, cells[i] is computed from keys[i]; with @keys NULL, cells[0..n)
 * are already filled (cached, see below) and only their words are prefetched. */
void kvbm__tracker_prepare_many(kvbm_tracker *t, const kvbm_plh *keys,
                                kvbm__touch_cells *cells, size_t n);

/* Cached cells. A key's sketch hash depends on the key only, so a caller that sees one key
 * many times (the store, for MultiLRU: once per staged block) may compute it once with
 * kvbm__tracker_cells and pass it to the prepared-touch and count calls below, which then
 * do not hash. Results are exactly those of the key-based calls. kvbm__tracker_cells: TinyLFU only (other kinds: no-op);
 * lock-free, no state change. kvbm__tracker_prefetch_cells: prefetch the cells' words
 * (a hint; TinyLFU only). kvbm__tracker_count_cells: kvbm_tracker_count(t, key), using
 * @cells for a TinyLFU tracker (custom trackers get their count callback with @key;
 * no-op and NULL: 0). Lock-free like kvbm_tracker_count. */
void     kvbm__tracker_cells(const kvbm_tracker *t, kvbm_plh key, kvbm__touch_cells *cells);
void     kvbm__tracker_prefetch_cells(const kvbm_tracker *t, const kvbm__touch_cells *cells);
uint32_t kvbm__tracker_count_cells(kvbm_tracker *t, kvbm_plh key, const kvbm__touch_cells *cells);

/* Deferred touches (tinylfu.c, "Deferred application"): a TinyLFU tracker with the fixed
 * decay policy keeps up to KVBM__TRACKER_PENDING touches pending (prefetched, applied later,
 * in order, and always before any read of the sketch). kvbm__tracker_pending: how many are
 * pending now (tests; 0 for other kinds). kvbm__tracker_set_defer: applies the pending ones
 * and turns deferral on or off (tests and benchmarks; never on for a custom decay policy). */
#define KVBM__TRACKER_PENDING 32u
uint32_t kvbm__tracker_pending(const kvbm_tracker *t);
void     kvbm__tracker_set_defer(kvbm_tracker *t, bool on);

bool     kvbm__tracker_is_tinylfu(const kvbm_tracker *t);
uint32_t kvbm__tracker_refs(const kvbm_tracker *t);
bool     kvbm__tracker_sketch_info(kvbm_tracker *t, uint64_t *words, uint32_t *size, uint32_t *sample);
/* The sketch of a TinyLFU tracker (tests compare whole tables), NULL for other kinds. Pending
 * touches are applied first; the view is current until the next touch. */
const kvbm__sketch *kvbm__tracker_sketch(const kvbm_tracker *t);

#endif /* KVBM_TINYLFU_INT_H */
