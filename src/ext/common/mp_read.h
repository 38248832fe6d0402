/* src/ext/common/mp_read.h - a zero-allocation msgpack pull reader shared by the ext codecs
 * (router, vllm). Header-only (static inline): the files src/ext/common/ *.c are compiled into
 * libraries without msgpack, and the reader needs no library at all.
 *
 * Every value is read in place; a container header is accepted only if its count fits in
 * the bytes that remain (each element takes at least one byte), so a hostile length fails
 * before the caller writes anything; nesting is bounded by the caller's depth limit. The
 * first failure is recorded (status + kvbm__set_error message "FN: [event N: ]WHAT (at byte
 * B)") and every reader function then returns false. */
#ifndef KVBM_EXT_MP_READ_H
#define KVBM_EXT_MP_READ_H

#include <string.h>

#include "internal.h"

typedef enum kvbm__mpt {
    KVBM__MP_NIL, KVBM__MP_BOOL, KVBM__MP_UINT, KVBM__MP_NEG, KVBM__MP_FLOAT, KVBM__MP_STR,
    KVBM__MP_BIN, KVBM__MP_EXT, KVBM__MP_ARRAY, KVBM__MP_MAP
} kvbm__mpt;

typedef struct kvbm__mpv {
    kvbm__mpt      t;
    uint64_t       u; /* UINT value; NEG bits (two's complement); FLOAT bits (as double);
                       * BOOL 0/1; length / count for the rest */
    const uint8_t *s; /* STR / BIN / EXT body */
} kvbm__mpv;

typedef struct kvbm__mpr {
    const uint8_t *start, *p, *end;
    const char    *fn;       /* prefix of error messages */
    long           ctx;      /* >= 0: "event N: " is added to error messages */
    unsigned       max_depth;
    kvbm_status    st;
} kvbm__mpr;

static inline void kvbm__mpr_init(kvbm__mpr *r, const uint8_t *buf, size_t len, const char *fn, unsigned max_depth)
{
    *r = (kvbm__mpr){ buf, buf, buf + len, fn, -1, max_depth, KVBM_OK };
}

static inline bool kvbm__mpr_fail(kvbm__mpr *r, kvbm_status st, const char *what)
{
    if (r->st == KVBM_OK) {
        r->st = st;
        if (r->ctx >= 0)
            kvbm__set_error("%s: event %ld: %s (at byte %zu)", r->fn, r->ctx, what, (size_t)(r->p - r->start));
        else
            kvbm__set_error("%s: %s (at byte %zu)", r->fn, what, (size_t)(r->p - r->start));
    }
    return false;
}

static inline uint64_t kvbm__mpr_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* take @n bytes; false (EPROTO) when fewer remain */
static inline bool kvbm__mpr_take(kvbm__mpr *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n) return kvbm__mpr_fail(r, KVBM_EPROTO, "truncated input");
    *out = r->p;
    r->p += n;
    return true;
}

static inline bool kvbm__mpr_take_be(kvbm__mpr *r, unsigned n, uint64_t *v)
{
    const uint8_t *q;
    if (!kvbm__mpr_take(r, n, &q)) return false;
    *v = kvbm__mpr_be(q, n);
    return true;
}

/* Read one value's header; a str/bin/ext body is consumed too, an array's or map's
 * elements are not (their count is checked against the remaining bytes). A float32 is
 * widened: v->u holds the bits of the double. */
static inline bool kvbm__mpr_next(kvbm__mpr *r, kvbm__mpv *v)
{
    const uint8_t *q;
    if (!kvbm__mpr_take(r, 1, &q)) return false;
    uint8_t b = *q;
    unsigned lenw = 0; /* width of the length field of str/bin/ext/array/map */
    v->s = NULL;
    if (b <= 0x7f) { v->t = KVBM__MP_UINT; v->u = b; return true; }
    if (b >= 0xe0) { v->t = KVBM__MP_NEG; v->u = (uint64_t)(int64_t)(int8_t)b; return true; }
    if (b >= 0x80 && b <= 0x8f) { v->t = KVBM__MP_MAP; v->u = b & 0x0f; goto counted; }
    if (b >= 0x90 && b <= 0x9f) { v->t = KVBM__MP_ARRAY; v->u = b & 0x0f; goto counted; }
    if (b >= 0xa0 && b <= 0xbf) { v->t = KVBM__MP_STR; v->u = b & 0x1f; goto body; }
    switch (b) {
    case 0xc0: v->t = KVBM__MP_NIL; return true;
    case 0xc2: case 0xc3: v->t = KVBM__MP_BOOL; v->u = b & 1; return true;
    case 0xc4: case 0xc5: case 0xc6: v->t = KVBM__MP_BIN; lenw = 1u << (b - 0xc4); break;
    case 0xc7: case 0xc8: case 0xc9: v->t = KVBM__MP_EXT; lenw = 1u << (b - 0xc7); break;
    case 0xca: {
        uint64_t bits;
        if (!kvbm__mpr_take_be(r, 4, &bits)) return false;
        uint32_t b32 = (uint32_t)bits;
        float f;
        double dv;
        memcpy(&f, &b32, 4);
        dv = f;
        memcpy(&v->u, &dv, 8);
        v->t = KVBM__MP_FLOAT;
        return true;
    }
    case 0xcb: v->t = KVBM__MP_FLOAT; return kvbm__mpr_take_be(r, 8, &v->u);
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        v->t = KVBM__MP_UINT;
        return kvbm__mpr_take_be(r, 1u << (b - 0xcc), &v->u);
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        unsigned n = 1u << (b - 0xd0);
        if (!kvbm__mpr_take_be(r, n, &v->u)) return false;
        if (n < 8 && (v->u >> (8 * n - 1)) & 1) v->u |= ~UINT64_C(0) << (8 * n); /* sign-extend */
        v->t = (v->u >> 63) ? KVBM__MP_NEG : KVBM__MP_UINT;
        return true;
    }
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext 1..16: type byte + data */
        v->t = KVBM__MP_EXT;
        v->u = (uint64_t)1 << (b - 0xd4);
        return kvbm__mpr_take(r, 1 + (size_t)v->u, &v->s);
    case 0xd9: case 0xda: case 0xdb: v->t = KVBM__MP_STR; lenw = 1u << (b - 0xd9); break;
    case 0xdc: case 0xdd:
        v->t = KVBM__MP_ARRAY;
        if (!kvbm__mpr_take_be(r, 2u << (b - 0xdc), &v->u)) return false;
        goto counted;
    case 0xde: case 0xdf:
        v->t = KVBM__MP_MAP;
        if (!kvbm__mpr_take_be(r, 2u << (b - 0xde), &v->u)) return false;
        goto counted;
    default: return kvbm__mpr_fail(r, KVBM_EPROTO, "invalid msgpack type byte 0xc1");
    }
    if (!kvbm__mpr_take_be(r, lenw, &v->u)) return false;
    if (v->t == KVBM__MP_EXT) v->u += 1; /* the ext type byte precedes the data */
body:
    if (v->u > (uint64_t)(r->end - r->p)) return kvbm__mpr_fail(r, KVBM_EPROTO, "string/binary length past the end");
    return kvbm__mpr_take(r, (size_t)v->u, &v->s);
counted:
    if (v->u > (uint64_t)(r->end - r->p) / (v->t == KVBM__MP_MAP ? 2 : 1))
        return kvbm__mpr_fail(r, KVBM_EPROTO, "container length past the end of the input");
    return true;
}

/* skip one value (with its elements) at nesting @depth */
static inline bool kvbm__mpr_skip(kvbm__mpr *r, unsigned depth)
{
    kvbm__mpv v;
    if (depth > r->max_depth) return kvbm__mpr_fail(r, KVBM_EPROTO, "nesting too deep");
    if (!kvbm__mpr_next(r, &v)) return false;
    if (v.t != KVBM__MP_ARRAY && v.t != KVBM__MP_MAP) return true;
    uint64_t n = v.t == KVBM__MP_MAP ? 2 * v.u : v.u;
    for (uint64_t i = 0; i < n; i++)
        if (!kvbm__mpr_skip(r, depth + 1)) return false;
    return true;
}

static inline bool kvbm__mpr_expect(kvbm__mpr *r, kvbm__mpv *v, kvbm__mpt t, const char *what)
{
    if (!kvbm__mpr_next(r, v)) return false;
    return v->t == t ? true : kvbm__mpr_fail(r, KVBM_EPROTO, what);
}

/* the next byte is nil: consume it and return true (nothing read otherwise) */
static inline bool kvbm__mpr_nil(kvbm__mpr *r)
{
    if (r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return true;
    }
    return false;
}

static inline bool kvbm__mpr_u64(kvbm__mpr *r, uint64_t *x, const char *what)
{
    kvbm__mpv v;
    if (!kvbm__mpr_expect(r, &v, KVBM__MP_UINT, what)) return false;
    *x = v.u;
    return true;
}

static inline bool kvbm__mpr_u32(kvbm__mpr *r, uint32_t *x, const char *what)
{
    uint64_t u;
    if (!kvbm__mpr_u64(r, &u, what)) return false;
    if (u > UINT32_MAX) return kvbm__mpr_fail(r, KVBM_EPROTO, what);
    *x = (uint32_t)u;
    return true;
}

/* a hash: u64, or i64 reinterpreted bit for bit */
static inline bool kvbm__mpr_hash(kvbm__mpr *r, uint64_t *x, const char *what)
{
    kvbm__mpv v;
    if (!kvbm__mpr_next(r, &v)) return false;
    if (v.t != KVBM__MP_UINT && v.t != KVBM__MP_NEG) return kvbm__mpr_fail(r, KVBM_EPROTO, what);
    *x = v.u;
    return true;
}

static inline bool kvbm__mpr_array(kvbm__mpr *r, uint64_t *n, const char *what)
{
    kvbm__mpv v;
    if (!kvbm__mpr_expect(r, &v, KVBM__MP_ARRAY, what)) return false;
    *n = v.u;
    return true;
}

static inline bool kvbm__mpv_is_str(const kvbm__mpv *v, const char *s)
{
    return v->t == KVBM__MP_STR && strlen(s) == v->u && memcmp(s, v->s, (size_t)v->u) == 0;
}

/* Map key: *@idx = index of the key in @keys (at most 32; unknown: -1, the caller skips
 * the value); a duplicate of a known key is KVBM_EPROTO. */
static inline bool kvbm__mpr_key(kvbm__mpr *r, const char *const *keys, int nk, unsigned *seen, int *idx)
{
    kvbm__mpv k;
    if (!kvbm__mpr_expect(r, &k, KVBM__MP_STR, "map key is not a string")) return false;
    *idx = -1;
    for (int i = 0; i < nk; i++)
        if (kvbm__mpv_is_str(&k, keys[i])) {
            if (*seen & (1u << i)) return kvbm__mpr_fail(r, KVBM_EPROTO, "duplicate map key");
            *seen |= 1u << i;
            *idx = i;
            break;
        }
    return true;
}

#endif /* KVBM_EXT_MP_READ_H */
