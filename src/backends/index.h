/* src/backends/index.h - open-addressing index shared by the inactive backends (internal).
 *
 * A power-of-two table of 8-byte slots {val, h32}: val is a caller-defined uint32 (a block
 * id or a lineage node index; KVBM_IDX_EMPTY marks a free slot) and h32 the top 32 bits of
 * the entry's 64-bit hash. The key itself is NOT stored: the caller keeps it in a per-val
 * array and supplies the equality test, so a lookup costs one probe run over 8-byte slots
 * plus one key comparison per h32 match.
 *
 *   home(e)   = e.h32 & mask                (linear probing from home)
 *   invariant : every entry sits in the run of occupied slots that starts at or before its
 *               home and reaches it without crossing an empty slot (no tombstones).
 *   deletion  : backward shift - later entries of the run move back into the hole when
 *               the hole lies cyclically between their home and their slot.
 *
 * Sized at load <= 1/4 (KVBM_IDX_SLOTS_PER_ENTRY) for the entries the owner announces at
 * construction, so no operation allocates; kvbm__idx_grow() exists for the Lineage
 * backend, whose ghost nodes may exceed the pre-size. Not thread-safe (the store lock protects it).
 */
#ifndef KVBM_BACKEND_INDEX_H
#define KVBM_BACKEND_INDEX_H

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kvbm/plh.h"

#define KVBM_IDX_EMPTY UINT32_MAX
#define KVBM_IDX_NONE  SIZE_MAX

typedef struct kvbm__idx_slot {
    uint32_t val;
    uint32_t h32;
} kvbm__idx_slot;

typedef struct kvbm__idxtab {
    kvbm__idx_slot *slots;
    size_t         mask;  /* slots - 1 */
    size_t         count; /* occupied slots */
    /* Optional back-pointers: when where_base != NULL the table keeps
     * *(uint32_t *)(where_base + val * where_stride) == slot of val, so the owner can
     * delete an entry it holds by value without probing (kvbm__idx_slot_of). The owner
     * sets (and, after a realloc, updates) the base; put, delete and grow maintain it. */
    char          *where_base;
    size_t         where_stride;
} kvbm__idxtab;

static inline void kvbm__idx_note(kvbm__idxtab *t, uint32_t val, size_t slot)
{
    if (t->where_base != NULL)
        *(uint32_t *)(void *)(t->where_base + (size_t)val * t->where_stride) = (uint32_t)slot;
}

/* Slot of @val (present) through the back-pointers. */
static inline size_t kvbm__idx_slot_of(const kvbm__idxtab *t, uint32_t val)
{
    return *(const uint32_t *)(const void *)(t->where_base + (size_t)val * t->where_stride);
}

/* Slots per announced entry: tables run at load <= 1/4. The probe loops (lookups, puts, backward-shift deletions) have trip counts that
 * vary with the cluster lengths, and their exits are branch mispredictions: at load 1/2
 * the Lineage insert of a tail-first release paid ~4 per block (callgrind branch model),
 * LRU's eviction and insert ~2.4. At load 1/4 about half of them go, and the replay runs
 * 8-17% faster per backend (docs/perf/backends.md, session 5), for 32-64 B of index per
 * entry instead of 16-32 B. */
#define KVBM_IDX_SLOTS_PER_ENTRY 4u

/* Table with room for @entries at load <= 1/4 (at least 16 slots). */
static inline kvbm_status kvbm__idx_init(kvbm__idxtab *t, size_t entries)
{
    if (entries > SIZE_MAX / (2 * KVBM_IDX_SLOTS_PER_ENTRY)) return KVBM_ERANGE;
    uint64_t want = kvbm__next_pow2_u64((uint64_t)entries * KVBM_IDX_SLOTS_PER_ENTRY);
    if (want < 16) want = 16;
    if (want > (UINT64_C(1) << 32)) return KVBM_ERANGE;
    t->slots = kvbm__malloc((size_t)want * sizeof *t->slots);
    if (t->slots == NULL) return KVBM_ENOMEM;
    memset(t->slots, 0xFF, (size_t)want * sizeof *t->slots); /* val = EMPTY */
    t->mask  = (size_t)want - 1;
    t->count = 0;
    t->where_base = NULL;
    t->where_stride = 0;
    return KVBM_OK;
}

/* Does the table have room for @entries at its load bound (else kvbm__idx_grow)? */
static inline bool kvbm__idx_has_room(const kvbm__idxtab *t, size_t entries)
{
    return entries <= (t->mask + 1) / KVBM_IDX_SLOTS_PER_ENTRY;
}

static inline void kvbm__idx_fini(kvbm__idxtab *t)
{
    kvbm__free(t->slots);
    t->slots = NULL;
    t->mask = t->count = 0;
}

static inline uint32_t kvbm__idx_h32(uint64_t h64) { return (uint32_t)(h64 >> 32); }

/* Slot of the entry whose key equals the looked-up key, or KVBM_IDX_NONE.
 * @eq(ctx, val) compares the stored key of val with it; called only on h32 matches.
 * Static inline with a constant @eq: the compiler inlines the comparison. */
typedef bool (*kvbm__idx_eq_fn)(const void *ctx, uint32_t val);
static inline size_t kvbm__idx_find(const kvbm__idxtab *t, uint32_t h32, kvbm__idx_eq_fn eq,
                                    const void *ctx)
{
    size_t i = (size_t)h32 & t->mask;
    for (;;) {
        const kvbm__idx_slot *s = &t->slots[i];
        if (s->val == KVBM_IDX_EMPTY) return KVBM_IDX_NONE;
        if (s->h32 == h32 && eq(ctx, s->val)) return i;
        i = (i + 1) & t->mask;
    }
}

/* Like kvbm__idx_find, but on a miss *@slot receives the first empty slot of the probe
 * run: exactly where kvbm__idx_put would store the key (valid until the table changes). */
static inline bool kvbm__idx_find_or_empty(const kvbm__idxtab *t, uint32_t h32, kvbm__idx_eq_fn eq,
                                           const void *ctx, size_t *slot)
{
    size_t i = (size_t)h32 & t->mask;
    for (;;) {
        const kvbm__idx_slot *s = &t->slots[i];
        if (s->val == KVBM_IDX_EMPTY) { *slot = i; return false; }
        if (s->h32 == h32 && eq(ctx, s->val)) { *slot = i; return true; }
        i = (i + 1) & t->mask;
    }
}

/* Store (val, h32) in the empty @slot returned by kvbm__idx_find_or_empty. */
static inline void kvbm__idx_put_at(kvbm__idxtab *t, size_t slot, uint32_t h32, uint32_t val)
{
    t->slots[slot].val = val;
    t->slots[slot].h32 = h32;
    t->count++;
    kvbm__idx_note(t, val, slot);
}

/* Store a PLH received by value (two registers) as two 8-byte stores. Without the empty
 * asm, gcc merges the halves into one 16-byte store built by spilling both registers to
 * the stack and reloading them as a vector: a store-forwarding stall (~15 cycles) on
 * every insert. */
static inline void kvbm__plh_store(kvbm_plh *dst, kvbm_plh h)
{
    uint64_t hi = h.hi, lo = h.lo;
    __asm__("" : "+r"(hi), "+r"(lo));
    dst->hi = hi;
    dst->lo = lo;
}

/* The same PLH as two opaque scalars: keeps gcc from materialising a by-value PLH
 * parameter as a stack-built vector when the function also copies it whole. */
static inline kvbm_plh kvbm__plh_launder(kvbm_plh h)
{
    uint64_t hi = h.hi, lo = h.lo;
    __asm__("" : "+r"(hi), "+r"(lo));
    kvbm_plh r = { hi, lo };
    return r;
}

/* h32 of a PLH: two multiplies. The low word of a PLH is already a 64-bit hash of the
 * content; mixing the high word in keeps hand-made PLHs (tests) well spread too. */
static inline uint32_t kvbm__idx_plh_h32(kvbm_plh h)
{
    uint64_t x = (h.lo ^ (h.hi * UINT64_C(0x9E3779B97F4A7C15))) * UINT64_C(0xD6E8FEB86659FD93);
    return (uint32_t)(x >> 32);
}

/* Store (val, h32) in the first empty slot of its probe run (caller checked absence). */
static inline void kvbm__idx_put(kvbm__idxtab *t, uint32_t h32, uint32_t val)
{
    size_t i = (size_t)h32 & t->mask;
    while (t->slots[i].val != KVBM_IDX_EMPTY) i = (i + 1) & t->mask;
    t->slots[i].val = val;
    t->slots[i].h32 = h32;
    t->count++;
    kvbm__idx_note(t, val, i);
}

/* The backward shift of a deletion, from @hole (emptied) with the run examined up to @j
 * (== hole at the start): later members of the run move back into the hole when it lies
 * cyclically in [their home, their slot). Returns the slot finally left empty. */
static inline size_t kvbm__idx_shift(kvbm__idxtab *t, size_t hole, size_t j)
{
    for (;;) {
        j = (j + 1) & t->mask;
        kvbm__idx_slot e = t->slots[j];
        if (e.val == KVBM_IDX_EMPTY) break;
        /* e may move into hole iff hole is cyclically in [home, j): its distance back
         * from j is at most e's displacement (one compare instead of two branches) */
        size_t disp = (j - ((size_t)e.h32 & t->mask)) & t->mask;
        if (((j - hole) & t->mask) <= disp) {
            t->slots[hole] = e;
            kvbm__idx_note(t, e.val, hole);
            hole = j;
        }
    }
    t->slots[hole].val = KVBM_IDX_EMPTY;
    t->count--;
    return hole;
}

/* Delete the entry in @slot by backward shift. Returns the slot left empty (the hole the
 * shift ends in: @slot or a later slot of its run; see kvbm__idx_empty_after_del). */
static inline size_t kvbm__idx_del(kvbm__idxtab *t, size_t slot)
{
    return kvbm__idx_shift(t, slot, slot);
}

/* kvbm__idx_shift out of line, for kvbm__idx_del_nobp's rare long runs (inlined, its loop
 * changed the register use of the branch-free steps around it). */
static __attribute__((noinline, cold, unused)) size_t kvbm__idx_shift_cold(kvbm__idxtab *t, size_t hole, size_t j)
{
    return kvbm__idx_shift(t, hole, j);
}

/* kvbm__idx_del for a table without back-pointers (Lineage's), its first
 * KVBM_IDX_DEL_STEPS steps without branches. The run after a deleted slot is short and its
 * length random (Lineage's recycling at load 1/4: no slot 60 %, 1 slot 24 %, 2 slots 10 %,
 * more 6 %): the loop's exit and move tests are data-dependent branches, and the profile of
 * the replay put ~17 % of the Lineage insert's samples right after them. A step writes the
 * entry it read either into the hole (a move) or back into its own slot (no change), and
 * past the run's end it moves nothing, so every step's work is done with masks; a run longer
 * than the steps goes on in kvbm__idx_del's loop (kvbm__idx_shift). The steps read and
 * write an entry as one 64-bit word (gcc loaded the two-field struct into a vector register
 * and extracted the fields). 2 steps: the replay +6-7 % in wall time; 3 steps +5 %, 1 step
 * +3.5 %, the plain loop on 64-bit words +2 % (docs/perf/backends.md, session 14 round 2). */
#define KVBM_IDX_DEL_STEPS 2
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define KVBM_IDX_W_VAL(w) ((uint32_t)((w) >> 32))
#define KVBM_IDX_W_H32(w) ((uint32_t)(w))
#else
#define KVBM_IDX_W_VAL(w) ((uint32_t)(w)) /* a slot read as one word: {val, h32} */
#define KVBM_IDX_W_H32(w) ((uint32_t)((w) >> 32))
#endif
static inline size_t kvbm__idx_del_nobp(kvbm__idxtab *t, size_t slot)
{
    kvbm__assert(t->where_base == NULL);
    _Static_assert(sizeof(kvbm__idx_slot) == sizeof(uint64_t), "a slot is one word");
    kvbm__idx_slot *s = t->slots;
    const size_t mask = t->mask;
    size_t hole = slot, j = slot;
    uint64_t run = ~UINT64_C(0); /* all ones while every slot read so far was occupied */
    for (unsigned k = 0; k < KVBM_IDX_DEL_STEPS; k++) {
        j = (j + 1) & mask;
        uint64_t w;
        memcpy(&w, &s[j], sizeof w);
        run &= -(uint64_t)(KVBM_IDX_W_VAL(w) != KVBM_IDX_EMPTY);
        size_t disp = (j - ((size_t)KVBM_IDX_W_H32(w) & mask)) & mask;
        uint64_t mv = run & -(uint64_t)(((j - hole) & mask) <= disp);
        size_t dst = j ^ ((j ^ hole) & mv);
        memcpy(&s[dst], &w, sizeof w);
        hole ^= (hole ^ j) & mv;
    }
    if (KVBM_UNLIKELY(run != 0)) return kvbm__idx_shift_cold(t, hole, j); /* a longer run */
    s[hole].val = KVBM_IDX_EMPTY;
    t->count--;
    return hole;
}

/* The slot kvbm__idx_find_or_empty would now return on a miss of @h32, given @slot, what it
 * returned before a kvbm__idx_del that left @hole empty. A deletion empties exactly @hole
 * and fills no empty slot (entries only move back into the hole), so every slot of
 * [home, @slot) stays occupied except @hole: the first empty one is @hole when it lies in
 * that range, else still @slot. Saves the probe a put after a deletion would repeat. */
static inline size_t kvbm__idx_empty_after_del(const kvbm__idxtab *t, uint32_t h32, size_t slot, size_t hole)
{
    size_t home = (size_t)h32 & t->mask;
    return ((hole - home) & t->mask) < ((slot - home) & t->mask) ? hole : slot;
}

/* Re-create the table with room for @entries, reinserting every entry (growth path). */
static inline kvbm_status kvbm__idx_grow(kvbm__idxtab *t, size_t entries)
{
    kvbm__idxtab n;
    KVBM_TRY(kvbm__idx_init(&n, entries));
    n.where_base = t->where_base;
    n.where_stride = t->where_stride;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slots[i].val != KVBM_IDX_EMPTY) kvbm__idx_put(&n, t->slots[i].h32, t->slots[i].val);
    kvbm__idx_fini(t);
    *t = n;
    return KVBM_OK;
}

#endif /* KVBM_BACKEND_INDEX_H */
