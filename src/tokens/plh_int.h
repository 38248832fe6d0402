/* src/tokens/plh_int.h - the tokens module's internal header for the rest of kvbm (not
 * installed): the PositionalLineageHash bit layout, schema B (spec 20 §1.5), and inline
 * accessors, every name kvbm__plh_* / KVBM__PLH_*. With plh.c the ONLY code that knows the
 * layout; the rest of kvbm uses kvbm/plh.h, except hot internal paths (the Lineage backend)
 * that call these inline forms of the same accessors.
 *
 *   hi: 63..62 mode | position (P bits) | parent fragment (F bits)     lo: current seq64
 *
 *       mode  positions              P    F
 *       0     0 .. 255               8    54
 *       1     256 .. 65535           16   46
 *       2     65536 .. 2^24 - 1      24   38
 *       3     invalid (kvbm_plh_validate rejects it)
 *
 * hi = (mode << 62) | (position << F) | (parent & (2^F - 1)); P + F = 62 in every mode.
 * The field order inside hi (position above parent) is inferred (spec 20 §0.2); changing it
 * is a change of the shifts below and nothing else.
 */
#ifndef KVBM_TOKENS_PLH_INT_H
#define KVBM_TOKENS_PLH_INT_H

#include <stdint.h>

#include "kvbm/plh.h"

static const struct kvbm__plh_mode {
    uint64_t limit;     /* first position NOT in this mode */
    unsigned pos_bits;  /* P */
    unsigned frag_bits; /* F: parent-fragment width */
} kvbm__plh_modes[3] = {
    { UINT64_C(1) << 8,  8,  54 },
    { UINT64_C(1) << 16, 16, 46 },
    { UINT64_C(1) << 24, 24, 38 },
};

#define KVBM__PLH_MODE_SHIFT 62

static inline uint64_t kvbm__plh_mask(unsigned bits) { return (UINT64_C(1) << bits) - 1; }

/* canonical mode for a position; positions beyond the cap map to the widest mode */
static inline unsigned kvbm__plh_mode_of(uint64_t position)
{
    if (position < kvbm__plh_modes[0].limit) return 0;
    if (position < kvbm__plh_modes[1].limit) return 1;
    return 2;
}

/* decode table entry for a stored mode (3 is invalid; decoded with mode-2 widths) */
static inline const struct kvbm__plh_mode *kvbm__plh_stored_mode(kvbm_plh h)
{
    unsigned m = (unsigned)(h.hi >> KVBM__PLH_MODE_SHIFT);
    return &kvbm__plh_modes[m > 2 ? 2 : m];
}

/* A PLH from its current seq64, the parent's seq64 (0 at the root) and a position
 * <= KVBM_PLH_MAX_POSITION (callers check the range). */
static inline kvbm_plh kvbm__plh_make(uint64_t current, uint64_t parent, uint64_t position)
{
    unsigned m = kvbm__plh_mode_of(position);
    const struct kvbm__plh_mode *pm = &kvbm__plh_modes[m];
    kvbm_plh h;
    h.hi = ((uint64_t)m << KVBM__PLH_MODE_SHIFT) | (position << pm->frag_bits) |
           (parent & kvbm__plh_mask(pm->frag_bits));
    h.lo = current;
    return h;
}

/* kvbm_plh_position() */
static inline uint64_t kvbm__plh_position(kvbm_plh h)
{
    const struct kvbm__plh_mode *pm = kvbm__plh_stored_mode(h);
    return (h.hi >> pm->frag_bits) & kvbm__plh_mask(pm->pos_bits);
}

/* kvbm_plh_parent_fragment() */
static inline uint64_t kvbm__plh_parent_fragment(kvbm_plh h)
{
    return h.hi & kvbm__plh_mask(kvbm__plh_stored_mode(h)->frag_bits);
}

/* kvbm_plh_position() and kvbm_plh_parent_fragment() with one mode decode (the Lineage
 * insert needs both): returns the position, the parent fragment in *parent_fragment. */
static inline uint64_t kvbm__plh_position_parent(kvbm_plh h, uint64_t *parent_fragment)
{
    const struct kvbm__plh_mode *pm = kvbm__plh_stored_mode(h);
    *parent_fragment = h.hi & kvbm__plh_mask(pm->frag_bits);
    return (h.hi >> pm->frag_bits) & kvbm__plh_mask(pm->pos_bits);
}

/* kvbm_plh_parent_fragment_for_child_position() */
static inline uint64_t kvbm__plh_parent_fragment_for_child_position(kvbm_plh h, uint64_t child_position)
{
    return h.lo & kvbm__plh_mask(kvbm__plh_modes[kvbm__plh_mode_of(child_position)].frag_bits);
}

#endif /* KVBM_TOKENS_PLH_INT_H */
