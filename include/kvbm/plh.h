/* kvbm/plh.h - PositionalLineageHash (PLH), schema B.
 *
 * A PLH is the identity of a block: its position in the sequence, a fragment of its
 * parent's chained hash, and its own full 64-bit chained hash (seq64). This is kvbm's
 * "sequence hash". Layout (bit 127 = MSB), hi = bits 127..64, lo = bits 63..0:
 *
 *   mode (2) | position (8/16/24) | parent fragment (54/46/38) | current seq64 (64)
 *   mode 0: position 0..255, mode 1: 256..65535, mode 2: 65536..2^24-1, mode 3 invalid.
 *
 * The layout lives in src/tokens/plh.c only; everything else goes through this API.
 * All functions are pure and thread-safe.
 */
#ifndef KVBM_PLH_H
#define KVBM_PLH_H

#include "kvbm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_plh {
    uint64_t hi; /* mode | position | parent fragment */
    uint64_t lo; /* current seq64, full 64 bits */
} kvbm_plh;

#define KVBM_PLH_MAX_POSITION ((UINT64_C(1) << 24) - 1)
#define KVBM_CHAIN_XXH3_SEED  UINT64_C(1337)
/* text buffers: hex = 32 digits + NUL; display = "pos:b58:b58" */
#define KVBM_PLH_HEX_LEN      33
#define KVBM_PLH_DISPLAY_LEN  48

/**
 * kvbm_plh_new() - build a PLH from known hashes.
 * @current: the block's chained seq64. @has_parent/@parent: parent seq64 (ignored when
 * !has_parent; the stored fragment is then 0). @position: block index, root = 0.
 * Returns KVBM_OK, KVBM_EINVAL (@out NULL), KVBM_ERANGE (position > KVBM_PLH_MAX_POSITION;
 * *@out untouched).
 */
KVBM_API kvbm_status kvbm_plh_new(uint64_t current, bool has_parent, uint64_t parent,
                                  uint64_t position, kvbm_plh *out);

/** kvbm_plh_root() - kvbm_plh_new(block_hash, false, 0, 0); cannot fail. */
KVBM_API kvbm_plh kvbm_plh_root(uint64_t block_hash);

/**
 * kvbm_plh_extend() - the child PLH for the next block with local hash @child_block_hash:
 * current = XXH3_64(LE64(parent.current) || LE64(child_block_hash), 1337),
 * position = parent.position + 1. Returns KVBM_ERANGE at the 2^24 cap, KVBM_EINVAL on NULL.
 * @out may alias @parent (extend in place); on error *@out is untouched.
 */
KVBM_API kvbm_status kvbm_plh_extend(const kvbm_plh *parent, uint64_t child_block_hash,
                                     kvbm_plh *out);

KVBM_API uint64_t kvbm_plh_position(kvbm_plh h);
KVBM_API unsigned kvbm_plh_mode(kvbm_plh h);
/** Full 64-bit current seq64 (== h.lo). */
KVBM_API uint64_t kvbm_plh_current(kvbm_plh h);
/** Stored parent fragment (0 at the root). */
KVBM_API uint64_t kvbm_plh_parent_fragment(kvbm_plh h);
/** current masked to the fragment width of a child at @child_position (its parent field). */
KVBM_API uint64_t kvbm_plh_parent_fragment_for_child_position(kvbm_plh h, uint64_t child_position);
/** current masked to the fragment width of its own position's mode. */
KVBM_API uint64_t kvbm_plh_current_fragment(kvbm_plh h);

/** Full 128-bit equality. */
static inline bool kvbm_plh_eq(kvbm_plh a, kvbm_plh b) { return a.hi == b.hi && a.lo == b.lo; }
/** Total order: (position, hi, lo). Returns <0, 0, >0. */
KVBM_API int kvbm_plh_cmp(kvbm_plh a, kvbm_plh b);
/** Identity fold lo ^ hi (the reference's IdHasher digest). */
static inline uint64_t kvbm_plh_fold(kvbm_plh h) { return h.lo ^ h.hi; }
/** Well-mixed 64-bit hash for power-of-two hash tables (fold + murmur3 finaliser). */
static inline uint64_t kvbm_plh_hash64(kvbm_plh h)
{
    uint64_t x = h.lo ^ (h.hi * UINT64_C(0x9e3779b97f4a7c15));
    x ^= x >> 33; x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33; x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

#if defined(__SIZEOF_INT128__) && !defined(KVBM_NO_INT128)
/** as_u128() / from_u128 where the compiler has a 128-bit integer (GCC, Clang on 64-bit);
 * define KVBM_NO_INT128 to hide them (e.g. for FFI header parsers). */
__extension__ typedef unsigned __int128 kvbm_plh_u128;
static inline kvbm_plh_u128 kvbm_plh_as_u128(kvbm_plh h)
{
    return ((kvbm_plh_u128)h.hi << 64) | h.lo;
}
static inline kvbm_plh kvbm_plh_from_u128(kvbm_plh_u128 v)
{
    kvbm_plh h = { (uint64_t)(v >> 64), (uint64_t)v };
    return h;
}
#endif

/** 16 bytes, hi first, each word big-endian (wire form: msgpack bin8, keys). */
KVBM_API void kvbm_plh_to_be16(kvbm_plh h, uint8_t out[16]);
KVBM_API kvbm_plh kvbm_plh_from_be16(const uint8_t in[16]);
/** 16 bytes little-endian of the u128 (lo LE then hi LE): the TinyLFU key. */
KVBM_API void kvbm_plh_to_le16(kvbm_plh h, uint8_t out[16]);

/**
 * kvbm_plh_validate() - decoder check: mode <= 2, mode canonical for the position,
 * parent fragment 0 at position 0. Returns KVBM_OK or KVBM_EPROTO.
 */
KVBM_API kvbm_status kvbm_plh_validate(kvbm_plh h);

/** 32 lowercase hex digits of the u128 + NUL into @buf (>= KVBM_PLH_HEX_LEN). Returns buf. */
KVBM_API char *kvbm_plh_to_hex(kvbm_plh h, char *buf);
/** Parse 32 hex digits (optional 0x prefix). KVBM_EPROTO on bad text. */
KVBM_API kvbm_status kvbm_plh_from_hex(const char *text, kvbm_plh *out);
/** Display form "pos:b58(current)[:b58(parent)]" into @buf (>= KVBM_PLH_DISPLAY_LEN). */
KVBM_API char *kvbm_plh_display(kvbm_plh h, char *buf);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_PLH_H */
