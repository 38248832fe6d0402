/* src/ext/vllm/decode.c - msgpack KVEventBatch decoder (kvbm/vllm_events.h, spec 20 §4.2.2).
 *
 * The shared pull reader (src/ext/common/mp_read.h) reads every value in place; arrays and
 * strings are copied straight into the caller's decode space, nothing is allocated. Fields
 * are read by name (map form) or position (array form) through the same per-field readers,
 * so both forms obey the same rules. */
#include <stdio.h>

#include "ext/common/mp_read.h"
#include "internal.h"
#include "vllm_int.h"

struct vdec {
    kvbm__mpr                     r;
    const kvbm_vllm_decode_space *sp;
    uint32_t                      flags;
    size_t                        n_ev, n_u64, n_tok, n_bmm, n_mmo, n_chars; /* used per pool */
};

/* field order of both forms; the array positions of BlockStored are index + 1 */
enum fld {
    F_BLOCK_HASHES, F_PARENT, F_TOKEN_IDS, F_BLOCK_SIZE, F_LORA_ID, F_MEDIUM, F_LORA_NAME,
    F_EXTRA_KEYS, F_BLOCK_MM_INFOS, F_GROUP_IDX, F_SPEC_KIND, F_WINDOW, F_TYPE, F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "block_hashes", "parent_block_hash", "token_ids", "block_size", "lora_id", "medium", "lora_name",
    "extra_keys", "block_mm_infos", "group_idx", "kv_cache_spec_kind", "kv_cache_spec_sliding_window", "type",
};

/* a failure whose message names a field (and an element index when @i >= 0) */
static bool fail_at(struct vdec *d, kvbm_status st, enum fld f, long i, const char *what)
{
    char msg[160];
    if (i >= 0) snprintf(msg, sizeof msg, "%s[%ld]: %s", field_names[f], i, what);
    else snprintf(msg, sizeof msg, "%s: %s", field_names[f], what);
    return kvbm__mpr_fail(&d->r, st, msg);
}

static bool room(struct vdec *d, size_t *used, size_t cap, uint64_t n, const char *pool)
{
    if (n > cap - *used) {
        char msg[96];
        snprintf(msg, sizeof msg, "decode space: %s pool too small", pool);
        return kvbm__mpr_fail(&d->r, KVBM_EOVERFLOW, msg);
    }
    *used += (size_t)n;
    return true;
}

/* the next value starts an array (without consuming it) */
static bool peek_array(const struct vdec *d)
{
    if (d->r.p >= d->r.end) return false;
    uint8_t b = *d->r.p;
    return (b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd;
}

/* a hash: int (signed or unsigned), or a bin digest when configured */
static bool rd_hash(struct vdec *d, uint64_t *x, enum fld f, long i)
{
    kvbm__mpv v;
    if (!kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t == KVBM__MP_UINT || v.t == KVBM__MP_NEG) {
        *x = v.u;
        return true;
    }
    if (v.t != KVBM__MP_BIN) return fail_at(d, KVBM_EPROTO, f, i, "not an integer");
    if (!(d->flags & KVBM_VLLM_DECODE_DIGEST_LOW64))
        return fail_at(d, KVBM_EUNSUPPORTED, f, i,
                       "binary digest hash (e.g. 32-byte) not accepted; set KVBM_VLLM_DECODE_DIGEST_LOW64");
    if (v.u < 8 || v.u > 64) return fail_at(d, KVBM_EPROTO, f, i, "binary digest not 8..64 bytes");
    *x = kvbm__mpr_be(v.s + v.u - 8, 8);
    return true;
}

static bool rd_hashes(struct vdec *d, kvbm_vllm_event *ev)
{
    uint64_t n;
    if (!kvbm__mpr_array(&d->r, &n, "block_hashes: not an array")) return false;
    uint64_t *h = d->sp->u64 + d->n_u64;
    if (!room(d, &d->n_u64, d->sp->u64_cap, n, "u64")) return false;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *q = d->r.p;
        if (d->r.end - q >= 9 && *q == 0xcf) { /* fast path: the common u64 form */
            h[i] = kvbm__mpr_be(q + 1, 8);
            d->r.p = q + 9;
        } else if (!rd_hash(d, &h[i], F_BLOCK_HASHES, (long)i)) {
            return false;
        }
    }
    ev->block_hashes = h;
    ev->n_block_hashes = (size_t)n;
    return true;
}

static bool rd_token(struct vdec *d, uint32_t *t, long i)
{
    kvbm__mpv v;
    if (!kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t != KVBM__MP_UINT || v.u > UINT32_MAX) return fail_at(d, KVBM_EPROTO, F_TOKEN_IDS, i, "not a u32 token");
    *t = (uint32_t)v.u;
    return true;
}

/* plain tokens, or [a, b] bigram pairs (Eagle): all a's plus the last b */
static bool rd_tokens(struct vdec *d, kvbm_vllm_event *ev)
{
    uint64_t n;
    if (!kvbm__mpr_array(&d->r, &n, "token_ids: not an array")) return false;
    bool bigram = n > 0 && peek_array(d);
    uint32_t *t = d->sp->tokens + d->n_tok;
    if (!room(d, &d->n_tok, d->sp->tokens_cap, n + (bigram ? 1 : 0), "tokens")) return false;
    uint64_t i = 0;
    if (!bigram) { /* fast path while 5 bytes remain: positive fixint, uint8/16/32 */
        const uint8_t *q = d->r.p, *e = d->r.end;
        for (; i < n && e - q >= 5; i++) {
            uint8_t c = *q;
            if (c <= 0x7f) {
                t[i] = c;
                q += 1;
            } else if (c == 0xcd) {
                t[i] = (uint32_t)q[1] << 8 | q[2];
                q += 3;
            } else if (c == 0xce) {
                t[i] = (uint32_t)q[1] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 8 | q[4];
                q += 5;
            } else if (c == 0xcc) {
                t[i] = q[1];
                q += 2;
            } else {
                break;
            }
        }
        d->r.p = q;
    }
    for (; i < n; i++) {
        if (!bigram) {
            if (!rd_token(d, &t[i], (long)i)) return false;
            continue;
        }
        uint64_t two;
        if (!kvbm__mpr_array(&d->r, &two, "token_ids: bigram list mixes pairs and tokens")) return false;
        if (two != 2) return fail_at(d, KVBM_EPROTO, F_TOKEN_IDS, (long)i, "bigram is not an [a, b] pair");
        uint32_t second;
        if (!rd_token(d, &t[i], (long)i) || !rd_token(d, &second, (long)i)) return false;
        if (i + 1 == n) t[n] = second;
    }
    ev->token_ids = t;
    ev->n_token_ids = (size_t)n + (bigram ? 1 : 0);
    ev->is_eagle = bigram;
    return true;
}

/* nil -> *has false; else an unsigned int <= @max */
static bool rd_opt_uint(struct vdec *d, bool *has, uint64_t *x, uint64_t max, enum fld f)
{
    if (kvbm__mpr_nil(&d->r)) {
        *has = false;
        return true;
    }
    kvbm__mpv v;
    if (!kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t != KVBM__MP_UINT || v.u > max) return fail_at(d, KVBM_EPROTO, f, -1, "not an integer in range or nil");
    *has = true;
    *x = v.u;
    return true;
}

/* nil -> NULL; else a str copied NUL-terminated into the char pool */
static bool rd_opt_str(struct vdec *d, const char **out, enum fld f)
{
    kvbm__mpv v;
    *out = NULL;
    if (!kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t == KVBM__MP_NIL) return true;
    if (v.t != KVBM__MP_STR) return fail_at(d, KVBM_EPROTO, f, -1, "not a string or nil");
    if (memchr(v.s, 0, (size_t)v.u) != NULL) return fail_at(d, KVBM_EPROTO, f, -1, "string contains a NUL byte");
    char *c = d->sp->chars + d->n_chars;
    if (!room(d, &d->n_chars, d->sp->chars_cap, v.u + 1, "chars")) return false;
    memcpy(c, v.s, (size_t)v.u);
    c[v.u] = '\0';
    *out = c;
    return true;
}

static bool is_hex64(const kvbm__mpv *v)
{
    if (v->t != KVBM__MP_STR || v->u != 64) return false;
    for (size_t i = 0; i < 64; i++) {
        uint8_t c = v->s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    }
    return true;
}

static uint64_t hex16(const uint8_t *s)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        uint8_t c = s[i];
        x = x << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return x;
}

/* The per-block MM list: @n blocks reserved in the block_mm pool; *@any is set when a block
 * got an object. Objects of one block are contiguous in the mm_objects pool. */
static kvbm_vllm_block_mm *mm_blocks(struct vdec *d, uint64_t n)
{
    kvbm_vllm_block_mm *b = d->sp->block_mm + d->n_bmm;
    if (!room(d, &d->n_bmm, d->sp->block_mm_cap, n, "block_mm")) return NULL;
    return b;
}

static kvbm_router_mm_object *mm_object(struct vdec *d)
{
    kvbm_router_mm_object *o = d->sp->mm_objects + d->n_mmo;
    if (!room(d, &d->n_mmo, d->sp->mm_objects_cap, 1, "mm_objects")) return NULL;
    *o = (kvbm_router_mm_object){ 0, NULL, 0 };
    return o;
}

/* extra_keys: per block nil or a list; 64-hex strings and [64-hex, offset] pairs are MM ids */
static bool rd_extra_keys(struct vdec *d, kvbm_vllm_event *ev, unsigned depth)
{
    uint64_t n;
    if (kvbm__mpr_nil(&d->r)) return true;
    if (!kvbm__mpr_array(&d->r, &n, "extra_keys: neither a list nor nil")) return false;
    size_t save_bmm = d->n_bmm, save_mmo = d->n_mmo;
    kvbm_vllm_block_mm *b = mm_blocks(d, n);
    if (b == NULL) return false;
    bool any = false;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t m;
        b[i] = (kvbm_vllm_block_mm){ d->sp->mm_objects + d->n_mmo, 0 };
        if (kvbm__mpr_nil(&d->r)) continue;
        if (!kvbm__mpr_array(&d->r, &m, "extra_keys: a block's keys are neither a list nor nil")) return false;
        for (uint64_t j = 0; j < m; j++) {
            kvbm__mpv v, s;
            const uint8_t *at = d->r.p;
            if (!kvbm__mpr_next(&d->r, &v)) return false;
            bool mm = is_hex64(&v);
            if (v.t == KVBM__MP_ARRAY && v.u == 2) { /* [string, offset] */
                const uint8_t *at2 = d->r.p;
                if (!kvbm__mpr_next(&d->r, &s)) return false;
                if (s.t == KVBM__MP_ARRAY || s.t == KVBM__MP_MAP) {
                    d->r.p = at2;
                    if (!kvbm__mpr_skip(&d->r, depth + 3)) return false;
                }
                if (!kvbm__mpr_skip(&d->r, depth + 3)) return false;
                mm = is_hex64(&s);
                v = s;
            } else if (v.t == KVBM__MP_ARRAY || v.t == KVBM__MP_MAP) {
                d->r.p = at; /* any other container item: skip it whole */
                if (!kvbm__mpr_skip(&d->r, depth + 2)) return false;
            }
            if (!mm) continue;
            kvbm_router_mm_object *o = mm_object(d);
            if (o == NULL) return false;
            o->mm_hash = hex16(v.s);
            b[i].n_objects++;
            any = true;
        }
    }
    if (!any) { /* no MM anywhere: the whole thing is none */
        d->n_bmm = save_bmm;
        d->n_mmo = save_mmo;
        return true;
    }
    ev->block_mm = b;
    ev->n_block_mm = (size_t)n;
    return true;
}

/* offsets: [[start, end], ...] into the u64 pool */
static bool rd_offsets(struct vdec *d, kvbm_router_mm_object *o)
{
    uint64_t n;
    if (!kvbm__mpr_array(&d->r, &n, "block_mm_infos: offsets is not a list")) return false;
    uint64_t *off = d->sp->u64 + d->n_u64;
    if (!room(d, &d->n_u64, d->sp->u64_cap, 2 * n, "u64")) return false;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t two;
        if (!kvbm__mpr_array(&d->r, &two, "block_mm_infos: offset is not a pair")) return false;
        if (two != 2) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "block_mm_infos: offset is not a [start, end] pair");
        if (!kvbm__mpr_u64(&d->r, &off[2 * k], "block_mm_infos: offset start is not a u64") ||
            !kvbm__mpr_u64(&d->r, &off[2 * k + 1], "block_mm_infos: offset end is not a u64"))
            return false;
    }
    o->offsets = off;
    o->n_offsets = (size_t)n;
    return true;
}

/* an MM object: {"mm_hash": h, "offsets": [...]} or [h, offsets] */
static bool rd_mm_object(struct vdec *d, unsigned depth)
{
    static const char *const keys[] = { "mm_hash", "offsets" };
    kvbm__mpv v;
    kvbm_router_mm_object *o = mm_object(d);
    if (o == NULL || !kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t == KVBM__MP_ARRAY) {
        if (v.u < 2) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "block_mm_infos: mm object array shorter than 2");
        if (!rd_hash(d, &o->mm_hash, F_BLOCK_MM_INFOS, -1) || !rd_offsets(d, o)) return false;
        for (uint64_t i = 2; i < v.u; i++)
            if (!kvbm__mpr_skip(&d->r, depth + 1)) return false;
        return true;
    }
    if (v.t != KVBM__MP_MAP) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "block_mm_infos: mm object is not a map");
    unsigned seen = 0;
    for (uint64_t i = 0; i < v.u; i++) {
        int k;
        if (!kvbm__mpr_key(&d->r, keys, 2, &seen, &k)) return false;
        bool ok = k == 0 ? rd_hash(d, &o->mm_hash, F_BLOCK_MM_INFOS, -1)
                  : k == 1 ? rd_offsets(d, o) : kvbm__mpr_skip(&d->r, depth + 1);
        if (!ok) return false;
    }
    return (seen & 1) ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "block_mm_infos: mm object lacks mm_hash");
}

/* the mm_objects list of one block */
static bool rd_mm_objects(struct vdec *d, kvbm_vllm_block_mm *b, unsigned depth)
{
    uint64_t n;
    if (!kvbm__mpr_array(&d->r, &n, "block_mm_infos: mm_objects is not a list")) return false;
    b->objects = d->sp->mm_objects + d->n_mmo;
    b->n_objects = (size_t)n;
    for (uint64_t i = 0; i < n; i++)
        if (!rd_mm_object(d, depth + 1)) return false;
    return true;
}

/* block_mm_infos: per block nil, {"mm_objects": [...]} or [mm_objects] */
static bool rd_block_mm_infos(struct vdec *d, kvbm_vllm_event *ev, bool *explicit_mm, unsigned depth)
{
    static const char *const keys[] = { "mm_objects" };
    uint64_t n;
    if (kvbm__mpr_nil(&d->r)) return true; /* nil: extra_keys decide */
    if (!kvbm__mpr_array(&d->r, &n, "block_mm_infos: neither a list nor nil")) return false;
    *explicit_mm = true; /* wins over extra_keys, before or after it */
    ev->block_mm = NULL;
    ev->n_block_mm = 0;
    kvbm_vllm_block_mm *b = mm_blocks(d, n);
    if (b == NULL) return false;
    bool any = false;
    for (uint64_t i = 0; i < n; i++) {
        kvbm__mpv v;
        b[i] = (kvbm_vllm_block_mm){ NULL, 0 };
        if (!kvbm__mpr_next(&d->r, &v)) return false;
        if (v.t == KVBM__MP_NIL) continue;
        if (v.t == KVBM__MP_ARRAY) {
            if (v.u < 1) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "block_mm_infos: empty block info array");
            if (!rd_mm_objects(d, &b[i], depth + 2)) return false;
            for (uint64_t j = 1; j < v.u; j++)
                if (!kvbm__mpr_skip(&d->r, depth + 2)) return false;
        } else if (v.t == KVBM__MP_MAP) {
            unsigned seen = 0;
            for (uint64_t j = 0; j < v.u; j++) {
                int k;
                if (!kvbm__mpr_key(&d->r, keys, 1, &seen, &k)) return false;
                if (!(k == 0 ? rd_mm_objects(d, &b[i], depth + 2) : kvbm__mpr_skip(&d->r, depth + 2))) return false;
            }
        } else {
            return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "block_mm_infos: block info is neither nil, a map nor a list");
        }
        any |= b[i].n_objects > 0;
    }
    if (any) {
        ev->block_mm = b;
        ev->n_block_mm = (size_t)n;
    }
    return true;
}

/* index 9 of the array form: int -> group_idx, list -> block_mm_infos, nil -> nothing */
static bool rd_slot9(struct vdec *d, kvbm_vllm_event *ev, bool *explicit_mm, unsigned depth)
{
    uint64_t x = 0;
    if (peek_array(d)) return rd_block_mm_infos(d, ev, explicit_mm, depth);
    if (!rd_opt_uint(d, &ev->has_group_idx, &x, UINT32_MAX, F_GROUP_IDX)) return false;
    ev->group_idx = (uint32_t)x;
    return true;
}

/* one field's value (by name or position) */
static bool rd_field(struct vdec *d, kvbm_vllm_event *ev, enum fld f, unsigned *seen, bool *explicit_mm,
                     unsigned depth)
{
    uint64_t x = 0;
    bool has = false, ok = true;
    *seen |= 1u << f;
    switch (f) {
    case F_BLOCK_HASHES: return rd_hashes(d, ev);
    case F_PARENT:
        if (kvbm__mpr_nil(&d->r)) return true;
        ev->has_parent = true;
        return rd_hash(d, &ev->parent_block_hash, F_PARENT, -1);
    case F_TOKEN_IDS: return rd_tokens(d, ev);
    case F_BLOCK_SIZE:
        ok = rd_opt_uint(d, &has, &x, INT32_MAX, F_BLOCK_SIZE);
        if (ok && !has) return fail_at(d, KVBM_EPROTO, F_BLOCK_SIZE, -1, "nil");
        ev->block_size = (uint32_t)x;
        return ok;
    case F_LORA_ID: {
        kvbm__mpv v;
        if (!kvbm__mpr_next(&d->r, &v)) return false;
        if (v.t == KVBM__MP_NIL) return true;
        if (v.t != KVBM__MP_UINT && v.t != KVBM__MP_NEG) return fail_at(d, KVBM_EPROTO, f, -1, "not an integer or nil");
        ev->has_lora_id = true;
        ev->lora_id = (int64_t)v.u;
        return true;
    }
    case F_MEDIUM: return rd_opt_str(d, &ev->medium, f);
    case F_LORA_NAME: return rd_opt_str(d, &ev->lora_name, f);
    case F_EXTRA_KEYS:
        if (*explicit_mm) return kvbm__mpr_skip(&d->r, depth);
        return rd_extra_keys(d, ev, depth);
    case F_BLOCK_MM_INFOS: return rd_block_mm_infos(d, ev, explicit_mm, depth);
    case F_GROUP_IDX:
        ok = rd_opt_uint(d, &ev->has_group_idx, &x, UINT32_MAX, f);
        ev->group_idx = (uint32_t)x;
        return ok;
    case F_SPEC_KIND: return rd_opt_str(d, &ev->kv_cache_spec_kind, f);
    case F_WINDOW:
        ok = rd_opt_uint(d, &ev->has_sliding_window, &x, UINT32_MAX, f);
        ev->sliding_window = (uint32_t)x;
        return ok;
    case F_TYPE: case F_COUNT: break;
    }
    return kvbm__mpr_skip(&d->r, depth);
}

static bool type_of(struct vdec *d, const kvbm__mpv *v, kvbm_vllm_event *ev)
{
    for (int t = KVBM_VLLM_BLOCK_STORED; t <= KVBM_VLLM_ALL_BLOCKS_CLEARED; t++)
        if (kvbm__mpv_is_str(v, kvbm_vllm_event_type_name((kvbm_vllm_event_type)t))) {
            ev->type = (kvbm_vllm_event_type)t;
            return true;
        }
    return fail_at(d, KVBM_EPROTO, F_TYPE, -1, v->t == KVBM__MP_STR ? "unknown event type" : "not a string");
}

/* positional layouts: array index i (1-based) -> field */
static const enum fld stored_pos[] = { F_BLOCK_HASHES, F_PARENT,     F_TOKEN_IDS, F_BLOCK_SIZE,
                                       F_LORA_ID,      F_MEDIUM,     F_LORA_NAME, F_EXTRA_KEYS,
                                       F_COUNT /* 9: dispatched */, F_SPEC_KIND, F_WINDOW };
static const enum fld removed_pos[] = { F_BLOCK_HASHES, F_MEDIUM, F_GROUP_IDX, F_SPEC_KIND, F_WINDOW };

static bool rd_event(struct vdec *d, kvbm_vllm_event *ev, unsigned depth)
{
    kvbm__mpv v;
    unsigned seen = 0;
    bool explicit_mm = false;
    memset(ev, 0, sizeof *ev);
    if (!kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t == KVBM__MP_MAP) {
        for (uint64_t i = 0; i < v.u; i++) {
            int k;
            if (!kvbm__mpr_key(&d->r, field_names, F_COUNT, &seen, &k)) return false;
            if (k == F_TYPE) {
                kvbm__mpv t;
                if (!kvbm__mpr_next(&d->r, &t) || !type_of(d, &t, ev)) return false;
            } else if (k < 0) {
                if (!kvbm__mpr_skip(&d->r, depth + 1)) return false;
            } else if (!rd_field(d, ev, (enum fld)k, &seen, &explicit_mm, depth + 1)) {
                return false;
            }
        }
        if (!(seen & (1u << F_TYPE))) return fail_at(d, KVBM_EPROTO, F_TYPE, -1, "missing");
    } else if (v.t == KVBM__MP_ARRAY) {
        kvbm__mpv t;
        if (v.u == 0) return fail_at(d, KVBM_EPROTO, F_TYPE, -1, "missing (empty event array)");
        if (!kvbm__mpr_next(&d->r, &t) || !type_of(d, &t, ev)) return false;
        const enum fld *pos = ev->type == KVBM_VLLM_BLOCK_STORED ? stored_pos : removed_pos;
        uint64_t np = ev->type == KVBM_VLLM_BLOCK_STORED   ? sizeof stored_pos / sizeof *stored_pos
                      : ev->type == KVBM_VLLM_BLOCK_REMOVED ? sizeof removed_pos / sizeof *removed_pos
                                                            : 0;
        for (uint64_t i = 1; i < v.u; i++) {
            bool ok = i > np                ? kvbm__mpr_skip(&d->r, depth + 1)
                      : pos[i - 1] == F_COUNT ? rd_slot9(d, ev, &explicit_mm, depth + 1)
                                              : rd_field(d, ev, pos[i - 1], &seen, &explicit_mm, depth + 1);
            if (!ok) return false;
        }
    } else {
        return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "event is neither a map nor an array");
    }
    static const enum fld stored_req[] = { F_BLOCK_HASHES, F_TOKEN_IDS, F_BLOCK_SIZE };
    size_t nreq = ev->type == KVBM_VLLM_BLOCK_STORED ? 3 : ev->type == KVBM_VLLM_BLOCK_REMOVED ? 1 : 0;
    for (size_t i = 0; i < nreq; i++)
        if (!(seen & (1u << stored_req[i]))) return fail_at(d, KVBM_EPROTO, stored_req[i], -1, "missing");
    ev->ignored = kvbm__vllm_ignored(ev);
    return true;
}

static bool rd_ts(struct vdec *d, double *ts)
{
    kvbm__mpv v;
    if (!kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t == KVBM__MP_FLOAT) memcpy(ts, &v.u, sizeof *ts);
    else if (v.t == KVBM__MP_UINT) *ts = (double)v.u;
    else if (v.t == KVBM__MP_NEG) *ts = (double)(int64_t)v.u;
    else return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "ts: not a number");
    return true;
}

static bool rd_events(struct vdec *d, kvbm_vllm_batch *b)
{
    uint64_t n;
    if (!kvbm__mpr_array(&d->r, &n, "events: not an array")) return false;
    kvbm_vllm_event *ev = d->sp->events + d->n_ev;
    if (!room(d, &d->n_ev, d->sp->events_cap, n, "events")) return false;
    for (uint64_t i = 0; i < n; i++) {
        d->r.ctx = (long)i;
        if (!rd_event(d, &ev[i], 2)) return false;
    }
    d->r.ctx = -1;
    b->events = ev;
    b->n_events = (size_t)n;
    return true;
}

static bool rd_dp_rank(struct vdec *d, kvbm_vllm_batch *b)
{
    uint64_t x = 0;
    if (kvbm__mpr_nil(&d->r)) return true;
    if (!kvbm__mpr_u64(&d->r, &x, "data_parallel_rank: not a u32 or nil")) return false;
    if (x > UINT32_MAX) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "data_parallel_rank: not a u32 or nil");
    b->has_dp_rank = true;
    b->dp_rank = (uint32_t)x;
    return true;
}

static bool rd_batch(struct vdec *d, kvbm_vllm_batch *b)
{
    static const char *const keys[] = { "ts", "events", "data_parallel_rank", "dp_rank" };
    kvbm__mpv v;
    if (!kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t == KVBM__MP_ARRAY) {
        if (v.u < 2) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "batch array has fewer than 2 elements");
        if (!rd_ts(d, &b->ts) || !rd_events(d, b)) return false;
        if (v.u > 2 && !rd_dp_rank(d, b)) return false;
        for (uint64_t i = 3; i < v.u; i++)
            if (!kvbm__mpr_skip(&d->r, 1)) return false;
        return true;
    }
    if (v.t != KVBM__MP_MAP) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "batch is neither an array nor a map");
    unsigned seen = 0;
    for (uint64_t i = 0; i < v.u; i++) {
        int k;
        if (!kvbm__mpr_key(&d->r, keys, 4, &seen, &k)) return false;
        bool ok = k == 0 ? rd_ts(d, &b->ts) : k == 1 ? rd_events(d, b) : k >= 2 ? rd_dp_rank(d, b)
                                                                           : kvbm__mpr_skip(&d->r, 1);
        if (!ok) return false;
    }
    if ((seen & 12) == 12) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "batch has both data_parallel_rank and dp_rank");
    return (seen & 3) == 3 ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "batch map lacks ts or events");
}

kvbm_status kvbm_vllm_batch_decode(const uint8_t *buf, size_t len, const kvbm_vllm_decode_options *opts,
                                   kvbm_vllm_batch *out, const kvbm_vllm_decode_space *sp)
{
    static const char fn[] = "kvbm_vllm_batch_decode";
    if (out == NULL || sp == NULL || (buf == NULL && len > 0)) {
        kvbm__set_error("%s: %s is NULL", fn, out == NULL ? "out" : sp == NULL ? "space" : "buf");
        return KVBM_EINVAL;
    }
    if ((sp->events == NULL && sp->events_cap) || (sp->u64 == NULL && sp->u64_cap) ||
        (sp->tokens == NULL && sp->tokens_cap) || (sp->block_mm == NULL && sp->block_mm_cap) ||
        (sp->mm_objects == NULL && sp->mm_objects_cap) || (sp->chars == NULL && sp->chars_cap)) {
        kvbm__set_error("%s: a decode space pool is NULL with a non-zero capacity", fn);
        return KVBM_EINVAL;
    }
    if (len == 0) {
        kvbm__set_error("%s: empty input", fn);
        return KVBM_EPROTO;
    }
    struct vdec d = { .sp = sp, .flags = opts ? opts->flags : 0 };
    kvbm__mpr_init(&d.r, buf, len, fn, KVBM_VLLM_MAX_DEPTH);
    memset(out, 0, sizeof *out);
    if (!rd_batch(&d, out)) return d.r.st;
    if (d.r.p != d.r.end) {
        kvbm__mpr_fail(&d.r, KVBM_EPROTO, "trailing bytes after the batch");
        return d.r.st;
    }
    return KVBM_OK;
}
