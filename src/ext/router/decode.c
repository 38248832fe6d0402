/* src/ext/router/decode.c - msgpack RouterEvent decoder (kvbm/router_events.h).
 *
 * A pull reader over the input bytes instead of msgpack-c's unpacker: msgpack-c builds a
 * whole object tree in a zone, allocating each array's element table from the claimed
 * count; here every value is read in place, arrays are copied straight into the caller's
 * decode space, and nothing is allocated. A container header is accepted only if its
 * count fits in the bytes that remain (each element takes at least one byte), so a hostile
 * length fails before anything is written; nesting is bounded by KVBM_ROUTER_MAX_DEPTH. */
#include "internal.h"
#include "router_int.h"

enum vt { V_NIL, V_BOOL, V_UINT, V_NEG, V_FLOAT, V_STR, V_BIN, V_EXT, V_ARRAY, V_MAP };

struct val {
    enum vt        t;
    uint64_t       u; /* V_UINT value; V_NEG bits (two's complement); length for the rest */
    const uint8_t *s; /* V_STR / V_BIN / V_EXT body */
};

struct dec {
    const uint8_t                  *start, *p, *end;
    const kvbm_router_decode_space *sp;
    size_t                          n_blocks, n_mm, n_u64; /* used from each pool */
    kvbm_status                     st;
    const char                     *fn; /* for messages; NULL: kvbm_router_event_decode */
};

static bool fail(struct dec *d, kvbm_status st, const char *what)
{
    if (d->st == KVBM_OK) {
        d->st = st;
        kvbm__set_error("%s: %s (at byte %zu)", d->fn != NULL ? d->fn : "kvbm_router_event_decode", what,
                        (size_t)(d->p - d->start));
    }
    return false;
}

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* take @n bytes; false (EPROTO) when fewer remain */
static bool take(struct dec *d, size_t n, const uint8_t **out)
{
    if ((size_t)(d->end - d->p) < n) return fail(d, KVBM_EPROTO, "truncated input");
    *out = d->p;
    d->p += n;
    return true;
}

static bool take_be(struct dec *d, unsigned n, uint64_t *v)
{
    const uint8_t *q;
    if (!take(d, n, &q)) return false;
    *v = be(q, n);
    return true;
}

/* Read one value's header; a str/bin/ext body is consumed too, an array's or map's
 * elements are not (their count is checked against the remaining bytes). */
static bool next(struct dec *d, struct val *v)
{
    const uint8_t *q;
    if (!take(d, 1, &q)) return false;
    uint8_t b = *q;
    unsigned lenw = 0; /* width of the length field of str/bin/ext/array/map */
    v->s = NULL;
    if (b <= 0x7f) { v->t = V_UINT; v->u = b; return true; }
    if (b >= 0xe0) { v->t = V_NEG; v->u = (uint64_t)(int64_t)(int8_t)b; return true; }
    if (b >= 0x80 && b <= 0x8f) { v->t = V_MAP; v->u = b & 0x0f; goto counted; }
    if (b >= 0x90 && b <= 0x9f) { v->t = V_ARRAY; v->u = b & 0x0f; goto counted; }
    if (b >= 0xa0 && b <= 0xbf) { v->t = V_STR; v->u = b & 0x1f; goto body; }
    switch (b) {
    case 0xc0: v->t = V_NIL; return true;
    case 0xc2: case 0xc3: v->t = V_BOOL; v->u = b & 1; return true;
    case 0xc4: case 0xc5: case 0xc6: v->t = V_BIN; lenw = 1u << (b - 0xc4); break;
    case 0xc7: case 0xc8: case 0xc9: v->t = V_EXT; lenw = 1u << (b - 0xc7); break;
    case 0xca: v->t = V_FLOAT; return take(d, 4, &q);
    case 0xcb: v->t = V_FLOAT; return take(d, 8, &q);
    case 0xcc: case 0xcd: case 0xce: case 0xcf: v->t = V_UINT; return take_be(d, 1u << (b - 0xcc), &v->u);
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        unsigned n = 1u << (b - 0xd0);
        if (!take_be(d, n, &v->u)) return false;
        if (n < 8 && (v->u >> (8 * n - 1)) & 1) v->u |= ~UINT64_C(0) << (8 * n); /* sign-extend */
        v->t = (v->u >> 63) ? V_NEG : V_UINT;
        return true;
    }
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext 1..16: type byte + data */
        v->t = V_EXT;
        v->u = (uint64_t)1 << (b - 0xd4);
        return take(d, 1 + (size_t)v->u, &v->s);
    case 0xd9: case 0xda: case 0xdb: v->t = V_STR; lenw = 1u << (b - 0xd9); break;
    case 0xdc: case 0xdd: v->t = V_ARRAY; if (!take_be(d, 2u << (b - 0xdc), &v->u)) return false; goto counted;
    case 0xde: case 0xdf: v->t = V_MAP; if (!take_be(d, 2u << (b - 0xde), &v->u)) return false; goto counted;
    default: return fail(d, KVBM_EPROTO, "invalid msgpack type byte 0xc1");
    }
    if (!take_be(d, lenw, &v->u)) return false;
    if (v->t == V_EXT) v->u += 1; /* the ext type byte precedes the data */
body:
    if (v->u > (uint64_t)(d->end - d->p)) return fail(d, KVBM_EPROTO, "string/binary length past the end");
    return take(d, (size_t)v->u, &v->s);
counted:
    if (v->u > (uint64_t)(d->end - d->p) / (v->t == V_MAP ? 2 : 1))
        return fail(d, KVBM_EPROTO, "container length past the end of the input");
    return true;
}

static bool skip(struct dec *d, unsigned depth)
{
    struct val v;
    if (depth > KVBM_ROUTER_MAX_DEPTH) return fail(d, KVBM_EPROTO, "nesting too deep");
    if (!next(d, &v)) return false;
    if (v.t != V_ARRAY && v.t != V_MAP) return true;
    uint64_t n = v.t == V_MAP ? 2 * v.u : v.u;
    for (uint64_t i = 0; i < n; i++)
        if (!skip(d, depth + 1)) return false;
    return true;
}

static bool expect(struct dec *d, struct val *v, enum vt t, const char *what)
{
    if (!next(d, v)) return false;
    return v->t == t ? true : fail(d, KVBM_EPROTO, what);
}

static bool rd_u64(struct dec *d, uint64_t *x, const char *what)
{
    struct val v;
    if (!expect(d, &v, V_UINT, what)) return false;
    *x = v.u;
    return true;
}

static bool rd_u32(struct dec *d, uint32_t *x, const char *what)
{
    uint64_t u;
    if (!rd_u64(d, &u, what)) return false;
    if (u > UINT32_MAX) return fail(d, KVBM_EPROTO, what);
    *x = (uint32_t)u;
    return true;
}

/* a hash: u64, or i64 reinterpreted bit for bit */
static bool rd_hash(struct dec *d, uint64_t *x, const char *what)
{
    struct val v;
    if (!next(d, &v)) return false;
    if (v.t != V_UINT && v.t != V_NEG) return fail(d, KVBM_EPROTO, what);
    *x = v.u;
    return true;
}

/* nil -> *has = false; else a hash (@as_u32: a u32) */
static bool rd_opt(struct dec *d, bool *has, uint64_t *x, bool as_u32, const char *what)
{
    if (d->p < d->end && *d->p == 0xc0) {
        d->p++;
        *has = false;
        return true;
    }
    *has = true;
    if (!as_u32) return rd_hash(d, x, what);
    uint32_t u;
    if (!rd_u32(d, &u, what)) return false;
    *x = u;
    return true;
}

/* Map iteration: key_index() returns the index of the key in @keys (unknown: -1, value
 * skipped by the caller); duplicates of a known key are rejected. */
static bool rd_key(struct dec *d, const char *const *keys, int nk, unsigned *seen, int *idx)
{
    struct val k;
    if (!expect(d, &k, V_STR, "map key is not a string")) return false;
    *idx = -1;
    for (int i = 0; i < nk; i++)
        if (strlen(keys[i]) == k.u && memcmp(keys[i], k.s, (size_t)k.u) == 0) {
            if (*seen & (1u << i)) return fail(d, KVBM_EPROTO, "duplicate map key");
            *seen |= 1u << i;
            *idx = i;
            break;
        }
    return true;
}

static bool rd_array(struct dec *d, uint64_t *n, const char *what)
{
    struct val v;
    if (!expect(d, &v, V_ARRAY, what)) return false;
    *n = v.u;
    return true;
}

static bool u64_room(struct dec *d, uint64_t n, uint64_t **out)
{
    if (n > d->sp->u64_cap - d->n_u64) return fail(d, KVBM_EOVERFLOW, "decode space: u64 pool too small");
    *out = d->sp->u64 + d->n_u64;
    d->n_u64 += (size_t)n;
    return true;
}

static bool rd_mm_object(struct dec *d, kvbm_router_mm_object *o, unsigned depth)
{
    static const char *const keys[] = { "mm_hash", "offsets" };
    struct val m;
    unsigned seen = 0;
    if (!expect(d, &m, V_MAP, "mm object is not a map")) return false;
    *o = (kvbm_router_mm_object){ 0, NULL, 0 };
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        uint64_t n, *off;
        if (!rd_key(d, keys, 2, &seen, &k)) return false;
        if (k == 0 && !rd_hash(d, &o->mm_hash, "mm_hash is not an integer")) return false;
        if (k == 1) {
            if (!rd_array(d, &n, "offsets is not an array") || !u64_room(d, 2 * n, &off)) return false;
            for (uint64_t j = 0; j < n; j++) {
                uint64_t two;
                if (!rd_array(d, &two, "offset is not an array") || two != 2)
                    return fail(d, KVBM_EPROTO, "offset is not a [start, end] pair");
                if (!rd_u64(d, &off[2 * j], "offset start") || !rd_u64(d, &off[2 * j + 1], "offset end")) return false;
            }
            o->offsets = off;
            o->n_offsets = (size_t)n;
        }
        if (k < 0 && !skip(d, depth + 1)) return false;
    }
    return seen == 3 ? true : fail(d, KVBM_EPROTO, "mm object lacks mm_hash or offsets");
}

static bool rd_extra(struct dec *d, kvbm_router_stored_block *b, unsigned depth)
{
    static const char *const keys[] = { "mm_objects" };
    struct val m;
    unsigned seen = 0;
    if (d->p < d->end && *d->p == 0xc0) {
        d->p++;
        return true; /* has_mm_extra_info stays false */
    }
    if (!expect(d, &m, V_MAP, "mm_extra_info is neither nil nor a map")) return false;
    b->has_mm_extra_info = true;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        uint64_t n;
        if (!rd_key(d, keys, 1, &seen, &k)) return false;
        if (k < 0) {
            if (!skip(d, depth + 1)) return false;
            continue;
        }
        if (!rd_array(d, &n, "mm_objects is not an array")) return false;
        if (n > d->sp->mm_objects_cap - d->n_mm) return fail(d, KVBM_EOVERFLOW, "decode space: mm_objects pool too small");
        kvbm_router_mm_object *o = d->sp->mm_objects + d->n_mm;
        d->n_mm += (size_t)n;
        for (uint64_t j = 0; j < n; j++)
            if (!rd_mm_object(d, &o[j], depth + 2)) return false;
        b->mm_objects = o;
        b->n_mm_objects = (size_t)n;
    }
    return seen == 1 ? true : fail(d, KVBM_EPROTO, "mm_extra_info lacks mm_objects");
}

static bool rd_block(struct dec *d, kvbm_router_stored_block *b, unsigned depth)
{
    static const char *const keys[] = { "block_hash", "tokens_hash", "mm_extra_info" };
    struct val m;
    unsigned seen = 0;
    if (!expect(d, &m, V_MAP, "stored block is not a map")) return false;
    *b = (kvbm_router_stored_block){ 0, 0, false, NULL, 0 };
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!rd_key(d, keys, 3, &seen, &k)) return false;
        bool ok = k == 0   ? rd_hash(d, &b->block_hash, "block_hash is not an integer")
                  : k == 1 ? rd_hash(d, &b->tokens_hash, "tokens_hash is not an integer")
                  : k == 2 ? rd_extra(d, b, depth + 1)
                           : skip(d, depth + 1);
        if (!ok) return false;
    }
    return (seen & 3) == 3 ? true : fail(d, KVBM_EPROTO, "stored block lacks block_hash or tokens_hash");
}

static bool rd_stored(struct dec *d, kvbm_router_event *ev, unsigned depth)
{
    static const char *const keys[] = { "parent_hash", "start_position", "blocks" };
    struct val m;
    unsigned seen = 0;
    if (!expect(d, &m, V_MAP, "stored data is not a map")) return false;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        uint64_t n, sp = 0;
        if (!rd_key(d, keys, 3, &seen, &k)) return false;
        if (k == 0 && !rd_opt(d, &ev->has_parent_hash, &ev->parent_hash, false, "parent_hash is not an integer or nil"))
            return false;
        if (k == 1) {
            if (!rd_opt(d, &ev->has_start_position, &sp, true, "start_position is not a u32 or nil")) return false;
            ev->start_position = (uint32_t)sp;
        }
        if (k == 2) {
            if (!rd_array(d, &n, "blocks is not an array")) return false;
            if (n > d->sp->blocks_cap - d->n_blocks) return fail(d, KVBM_EOVERFLOW, "decode space: blocks pool too small");
            kvbm_router_stored_block *b = d->sp->blocks + d->n_blocks;
            d->n_blocks += (size_t)n;
            for (uint64_t j = 0; j < n; j++)
                if (!rd_block(d, &b[j], depth + 2)) return false;
            ev->blocks = b;
            ev->n_blocks = (size_t)n;
        }
        if (k < 0 && !skip(d, depth + 1)) return false;
    }
    return (seen & 4) ? true : fail(d, KVBM_EPROTO, "stored data lacks blocks");
}

static bool rd_removed(struct dec *d, kvbm_router_event *ev, unsigned depth)
{
    static const char *const keys[] = { "block_hashes" };
    struct val m;
    unsigned seen = 0;
    if (!expect(d, &m, V_MAP, "removed data is not a map")) return false;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        uint64_t n, *h;
        if (!rd_key(d, keys, 1, &seen, &k)) return false;
        if (k < 0) {
            if (!skip(d, depth + 1)) return false;
            continue;
        }
        if (!rd_array(d, &n, "block_hashes is not an array") || !u64_room(d, n, &h)) return false;
        for (uint64_t j = 0; j < n; j++)
            if (!rd_hash(d, &h[j], "block hash is not an integer")) return false;
        ev->block_hashes = h;
        ev->n_block_hashes = (size_t)n;
    }
    return seen ? true : fail(d, KVBM_EPROTO, "removed data lacks block_hashes");
}

static bool is_str(const struct val *v, const char *s)
{
    return v->t == V_STR && strlen(s) == v->u && memcmp(s, v->s, (size_t)v->u) == 0;
}

/* data: "cleared" | {"stored": {...}} | {"removed": {...}} | {"cleared": nil} */
static bool rd_data(struct dec *d, kvbm_router_event *ev, unsigned depth)
{
    struct val v, k;
    if (!next(d, &v)) return false;
    if (v.t == V_STR) {
        ev->kind = KVBM_ROUTER_CLEARED;
        return is_str(&v, "cleared") ? true : fail(d, KVBM_EPROTO, "unknown unit event variant");
    }
    if (v.t != V_MAP || v.u != 1) return fail(d, KVBM_EPROTO, "data is not a one-entry map or \"cleared\"");
    if (!expect(d, &k, V_STR, "data variant is not a string")) return false;
    if (is_str(&k, "stored")) {
        ev->kind = KVBM_ROUTER_STORED;
        return rd_stored(d, ev, depth + 1);
    }
    if (is_str(&k, "removed")) {
        ev->kind = KVBM_ROUTER_REMOVED;
        return rd_removed(d, ev, depth + 1);
    }
    if (is_str(&k, "cleared")) {
        ev->kind = KVBM_ROUTER_CLEARED;
        return expect(d, &v, V_NIL, "cleared carries a value");
    }
    return fail(d, KVBM_EPROTO, "unknown event variant");
}

static bool rd_event(struct dec *d, kvbm_router_event *ev, unsigned depth)
{
    static const char *const keys[] = { "event_id", "data", "dp_rank" };
    struct val m;
    unsigned seen = 0;
    if (!expect(d, &m, V_MAP, "event is not a map")) return false;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!rd_key(d, keys, 3, &seen, &k)) return false;
        bool ok = k == 0   ? rd_u64(d, &ev->event_id, "event_id is not a u64")
                  : k == 1 ? rd_data(d, ev, depth + 1)
                  : k == 2 ? rd_u32(d, &ev->dp_rank, "dp_rank is not a u32")
                           : skip(d, depth + 1);
        if (!ok) return false;
    }
    return (seen & 3) == 3 ? true : fail(d, KVBM_EPROTO, "event lacks event_id or data");
}

static bool rd_router_event(struct dec *d, kvbm_router_event *ev)
{
    static const char *const keys[] = { "worker_id", "storage_tier", "event" };
    struct val m, s;
    unsigned seen = 0;
    if (!expect(d, &m, V_MAP, "router event is not a map")) return false;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!rd_key(d, keys, 3, &seen, &k)) return false;
        bool ok = true;
        if (k == 0) ok = rd_u64(d, &ev->worker_id, "worker_id is not a u64");
        else if (k == 1)
            ok = expect(d, &s, V_STR, "storage_tier is not a string") &&
                 (kvbm__router_tier_parse((const char *)s.s, (size_t)s.u, &ev->storage_tier) ||
                  fail(d, KVBM_EPROTO, "unknown storage_tier"));
        else if (k == 2) ok = rd_event(d, ev, 1);
        else ok = skip(d, 1);
        if (!ok) return false;
    }
    return (seen & 5) == 5 ? true : fail(d, KVBM_EPROTO, "router event lacks worker_id or event");
}

kvbm_status kvbm_router_event_decode(const uint8_t *buf, size_t len, kvbm_router_event *out,
                                     const kvbm_router_decode_space *space)
{
    if (out == NULL || space == NULL || (buf == NULL && len > 0)) {
        kvbm__set_error("kvbm_router_event_decode: %s is NULL", out == NULL ? "out" : space == NULL ? "space" : "buf");
        return KVBM_EINVAL;
    }
    if ((space->blocks == NULL && space->blocks_cap > 0) || (space->mm_objects == NULL && space->mm_objects_cap > 0) ||
        (space->u64 == NULL && space->u64_cap > 0)) {
        kvbm__set_error("kvbm_router_event_decode: a decode space pool is NULL with a non-zero capacity");
        return KVBM_EINVAL;
    }
    if (len == 0) {
        kvbm__set_error("kvbm_router_event_decode: empty input");
        return KVBM_EPROTO;
    }
    struct dec d = { buf, buf, buf + len, space, 0, 0, 0, KVBM_OK, NULL };
    memset(out, 0, sizeof *out); /* defaults: device, dp_rank 0, nil options */
    if (!rd_router_event(&d, out)) return d.st;
    if (d.p != d.end) {
        fail(&d, KVBM_EPROTO, "trailing bytes after the router event");
        return d.st;
    }
    return KVBM_OK;
}

/* ---- WorkerWithDpRank, KvCacheEvents, PlacementEvent ---------------------------------- */

static kvbm_status begin(struct dec *d, const uint8_t *buf, size_t len, bool out_ok,
                         const kvbm_router_decode_space *space, const char *fn)
{
    static const kvbm_router_decode_space none = { NULL, 0, NULL, 0, NULL, 0 };
    if (!out_ok || (buf == NULL && len > 0))
        return KVBM_FAIL(KVBM_EINVAL, "%s: NULL argument", fn);
    if (space == NULL) space = &none;
    if ((space->blocks == NULL && space->blocks_cap > 0) || (space->mm_objects == NULL && space->mm_objects_cap > 0) ||
        (space->u64 == NULL && space->u64_cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "%s: a decode space pool is NULL with a non-zero capacity", fn);
    if (len == 0) return KVBM_FAIL(KVBM_EPROTO, "%s: empty input", fn);
    *d = (struct dec){ buf, buf, buf + len, space, 0, 0, 0, KVBM_OK, fn };
    return KVBM_OK;
}

static kvbm_status end(struct dec *d, bool ok)
{
    if (ok && d->p != d->end) fail(d, KVBM_EPROTO, "trailing bytes");
    return d->st;
}

static bool rd_worker(struct dec *d, kvbm_router_worker *w, unsigned depth)
{
    static const char *const keys[] = { "worker_id", "dp_rank" };
    struct val m;
    unsigned seen = 0;
    if (!expect(d, &m, V_MAP, "worker is not a map")) return false;
    w->dp_rank = 0;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!rd_key(d, keys, 2, &seen, &k)) return false;
        bool ok = k == 0   ? rd_u64(d, &w->worker_id, "worker_id is not a u64")
                  : k == 1 ? rd_u32(d, &w->dp_rank, "dp_rank is not a u32")
                           : skip(d, depth + 1);
        if (!ok) return false;
    }
    return (seen & 1) ? true : fail(d, KVBM_EPROTO, "worker lacks worker_id");
}

kvbm_status kvbm_router_worker_decode(const uint8_t *buf, size_t len, kvbm_router_worker *out)
{
    struct dec d;
    KVBM_TRY(begin(&d, buf, len, out != NULL, NULL, "kvbm_router_worker_decode"));
    return end(&d, rd_worker(&d, out, 1));
}

kvbm_status kvbm_router_batch_decode(const uint8_t *buf, size_t len, kvbm_router_event *events, size_t cap,
                                     size_t *n, bool *shutdown, const kvbm_router_decode_space *space)
{
    static const char *const keys[] = { "events", "shutdown" };
    struct dec d;
    KVBM_TRY(begin(&d, buf, len, n != NULL && shutdown != NULL && (events != NULL || cap == 0), space,
                   "kvbm_router_batch_decode"));
    struct val m, v;
    unsigned seen = 0;
    bool ok = expect(&d, &m, V_MAP, "batch is not a map");
    *n = 0;
    *shutdown = false;
    for (uint64_t i = 0; ok && i < m.u; i++) {
        int k;
        uint64_t ne;
        if (!(ok = rd_key(&d, keys, 2, &seen, &k))) break;
        if (k == 0) {
            if (!(ok = rd_array(&d, &ne, "events is not an array"))) break;
            if (ne > cap) {
                ok = fail(&d, KVBM_EOVERFLOW, "more events than the caller's array holds");
                break;
            }
            for (uint64_t j = 0; ok && j < ne; j++) {
                memset(&events[j], 0, sizeof events[j]);
                ok = rd_event(&d, &events[j], 2);
            }
            *n = (size_t)ne;
        } else if (k == 1) {
            ok = expect(&d, &v, V_BOOL, "shutdown is not a bool");
            *shutdown = ok && v.u != 0;
        } else {
            ok = skip(&d, 1);
        }
    }
    if (ok && !(seen & 1)) ok = fail(&d, KVBM_EPROTO, "batch lacks events");
    return end(&d, ok);
}

static bool rd_placement(struct dec *d, kvbm_router_placement *pl)
{
    static const char *const keys[] = { "owner", "tier" };
    struct val m, v, k2;
    unsigned seen = 0;
    if (!expect(d, &m, V_MAP, "placement is not a map")) return false;
    pl->tier = KVBM_ROUTER_TIER_DEVICE;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!rd_key(d, keys, 2, &seen, &k)) return false;
        if (k == 0) {
            if (!next(d, &v)) return false;
            if (v.t == V_STR) {
                if (!is_str(&v, "Shared")) return fail(d, KVBM_EPROTO, "unknown placement owner");
                pl->owner = KVBM_ROUTER_OWNER_SHARED;
                continue;
            }
            if (v.t != V_MAP || v.u != 1) return fail(d, KVBM_EPROTO, "owner is not \"Shared\" or a one-entry map");
            if (!expect(d, &k2, V_STR, "owner variant is not a string")) return false;
            if (!is_str(&k2, "LocalWorker")) return fail(d, KVBM_EPROTO, "unknown placement owner");
            pl->owner = KVBM_ROUTER_OWNER_LOCAL_WORKER;
            if (!rd_worker(d, &pl->worker, 3)) return false;
        } else if (k == 1) {
            if (!expect(d, &v, V_STR, "tier is not a string")) return false;
            if (!kvbm__router_tier_parse((const char *)v.s, (size_t)v.u, &pl->tier))
                return fail(d, KVBM_EPROTO, "unknown tier");
        } else if (!skip(d, 2)) {
            return false;
        }
    }
    return (seen & 1) ? true : fail(d, KVBM_EPROTO, "placement lacks owner");
}

kvbm_status kvbm_router_placement_event_decode(const uint8_t *buf, size_t len, kvbm_router_placement_event *out,
                                               const kvbm_router_decode_space *space)
{
    static const char *const keys[] = { "placement", "event" };
    struct dec d;
    KVBM_TRY(begin(&d, buf, len, out != NULL, space, "kvbm_router_placement_event_decode"));
    memset(out, 0, sizeof *out);
    struct val m;
    unsigned seen = 0;
    bool ok = expect(&d, &m, V_MAP, "placement event is not a map");
    for (uint64_t i = 0; ok && i < m.u; i++) {
        int k;
        if (!(ok = rd_key(&d, keys, 2, &seen, &k))) break;
        ok = k == 0 ? rd_placement(&d, &out->placement) : k == 1 ? rd_event(&d, &out->event, 1) : skip(&d, 1);
    }
    if (ok && (seen & 3) != 3) ok = fail(&d, KVBM_EPROTO, "placement event lacks placement or event");
    return end(&d, ok);
}
