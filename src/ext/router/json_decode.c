/* src/ext/router/json_decode.c - RouterEvent from JSON (json-c), the inverse of
 * kvbm_router_event_to_json and of serde_json's output (spec 20 §4.1.2). Same rules as the
 * msgpack decoder (decode.c): keys by name, unknown keys ignored, serde defaults, hashes
 * may be negative (i64, reinterpreted), other integers non-negative and in range, arrays
 * copied into the caller's decode space (KVBM_EOVERFLOW when a pool is too small).
 * json-c builds a tree (its own allocations, bounded by the input size); nesting is
 * limited to KVBM_ROUTER_MAX_DEPTH by the tokener. */
#include <json-c/json.h>

#include "internal.h"
#include "router_int.h"

struct jd {
    const kvbm_router_decode_space *sp;
    size_t                          n_blocks, n_mm, n_u64;
    kvbm_status                     st;
};

static bool jfail(struct jd *d, kvbm_status st, const char *what, const char *where)
{
    if (d->st == KVBM_OK) {
        d->st = st;
        kvbm__set_error("kvbm_router_event_from_json: %s (%s)", what, where);
    }
    return false;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool present(json_object *o, const char *key)
{
    return json_object_object_get_ex(o, key, NULL);
}

/* An integer: @hash accepts negative values (reinterpreted), otherwise >= 0 and <= @max. */
static bool jint(struct jd *d, json_object *v, bool hash, uint64_t max, uint64_t *out, const char *where)
{
    if (v == NULL || !json_object_is_type(v, json_type_int)) return jfail(d, KVBM_EPROTO, "not an integer", where);
    int64_t s = json_object_get_int64(v);
    if (s < 0) {
        if (!hash) return jfail(d, KVBM_EPROTO, "negative integer", where);
        *out = (uint64_t)s;
        return true;
    }
    uint64_t u = json_object_get_uint64(v);
    if (u > max) return jfail(d, KVBM_EPROTO, "integer out of range", where);
    *out = u;
    return true;
}

static bool jarray(struct jd *d, json_object *v, size_t *n, const char *where)
{
    if (v == NULL || !json_object_is_type(v, json_type_array)) return jfail(d, KVBM_EPROTO, "not an array", where);
    *n = json_object_array_length(v);
    return true;
}

static bool u64_room(struct jd *d, size_t n, uint64_t **out)
{
    if (n > d->sp->u64_cap - d->n_u64) return jfail(d, KVBM_EOVERFLOW, "decode space: u64 pool too small", "u64");
    *out = d->sp->u64 + d->n_u64;
    d->n_u64 += n;
    return true;
}

static bool mm_info(struct jd *d, json_object *v, kvbm_router_stored_block *b)
{
    if (v == NULL || json_object_is_type(v, json_type_null)) return true; /* default: none */
    if (!json_object_is_type(v, json_type_object)) return jfail(d, KVBM_EPROTO, "not an object", "mm_extra_info");
    size_t n;
    if (!jarray(d, get(v, "mm_objects"), &n, "mm_extra_info.mm_objects")) return false;
    if (n > d->sp->mm_objects_cap - d->n_mm) return jfail(d, KVBM_EOVERFLOW, "decode space: mm_objects pool too small", "mm_objects");
    kvbm_router_mm_object *o = d->sp->mm_objects + d->n_mm;
    d->n_mm += n;
    b->has_mm_extra_info = true;
    b->mm_objects = o;
    b->n_mm_objects = n;
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(get(v, "mm_objects"), i);
        if (!json_object_is_type(m, json_type_object)) return jfail(d, KVBM_EPROTO, "not an object", "mm_objects[]");
        size_t no;
        uint64_t *off;
        if (!jint(d, get(m, "mm_hash"), true, UINT64_MAX, &o[i].mm_hash, "mm_hash") ||
            !jarray(d, get(m, "offsets"), &no, "offsets") || !u64_room(d, 2 * no, &off))
            return false;
        for (size_t k = 0; k < no; k++) {
            json_object *pair = json_object_array_get_idx(get(m, "offsets"), k);
            size_t np;
            if (!jarray(d, pair, &np, "offsets[]")) return false;
            if (np != 2) return jfail(d, KVBM_EPROTO, "not a [start, end] pair", "offsets[]");
            if (!jint(d, json_object_array_get_idx(pair, 0), false, UINT64_MAX, &off[2 * k], "offsets[][0]") ||
                !jint(d, json_object_array_get_idx(pair, 1), false, UINT64_MAX, &off[2 * k + 1], "offsets[][1]"))
                return false;
        }
        o[i].offsets = off;
        o[i].n_offsets = no;
    }
    return true;
}

static bool stored(struct jd *d, json_object *s, kvbm_router_event *ev)
{
    if (!json_object_is_type(s, json_type_object)) return jfail(d, KVBM_EPROTO, "not an object", "stored");
    ev->kind = KVBM_ROUTER_STORED;
    json_object *p = get(s, "parent_hash");
    ev->has_parent_hash = p != NULL && !json_object_is_type(p, json_type_null);
    if (ev->has_parent_hash && !jint(d, p, true, UINT64_MAX, &ev->parent_hash, "parent_hash")) return false;
    json_object *sp = get(s, "start_position");
    ev->has_start_position = sp != NULL && !json_object_is_type(sp, json_type_null);
    uint64_t pos = 0;
    if (ev->has_start_position && !jint(d, sp, false, UINT32_MAX, &pos, "start_position")) return false;
    ev->start_position = (uint32_t)pos;
    json_object *bl = get(s, "blocks");
    size_t n;
    if (!jarray(d, bl, &n, "stored.blocks")) return false;
    if (n > d->sp->blocks_cap - d->n_blocks) return jfail(d, KVBM_EOVERFLOW, "decode space: blocks pool too small", "blocks");
    kvbm_router_stored_block *b = d->sp->blocks + d->n_blocks;
    d->n_blocks += n;
    ev->blocks = b;
    ev->n_blocks = n;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(bl, i);
        if (!json_object_is_type(o, json_type_object)) return jfail(d, KVBM_EPROTO, "not an object", "blocks[]");
        b[i] = (kvbm_router_stored_block){ 0, 0, false, NULL, 0 };
        if (!jint(d, get(o, "block_hash"), true, UINT64_MAX, &b[i].block_hash, "block_hash") ||
            !jint(d, get(o, "tokens_hash"), true, UINT64_MAX, &b[i].tokens_hash, "tokens_hash") ||
            !mm_info(d, get(o, "mm_extra_info"), &b[i]))
            return false;
    }
    return true;
}

static bool removed(struct jd *d, json_object *r, kvbm_router_event *ev)
{
    if (!json_object_is_type(r, json_type_object)) return jfail(d, KVBM_EPROTO, "not an object", "removed");
    ev->kind = KVBM_ROUTER_REMOVED;
    json_object *a = get(r, "block_hashes");
    size_t n;
    uint64_t *h;
    if (!jarray(d, a, &n, "removed.block_hashes") || !u64_room(d, n, &h)) return false;
    for (size_t i = 0; i < n; i++)
        if (!jint(d, json_object_array_get_idx(a, i), true, UINT64_MAX, &h[i], "block_hashes[]")) return false;
    ev->block_hashes = h;
    ev->n_block_hashes = n;
    return true;
}

/* data: "cleared" | {"stored": {...}} | {"removed": {...}} | {"cleared": null} */
static bool data(struct jd *d, json_object *v, kvbm_router_event *ev)
{
    if (v == NULL) return jfail(d, KVBM_EPROTO, "missing", "event.data");
    if (json_object_is_type(v, json_type_string)) {
        if (strcmp(json_object_get_string(v), "cleared") != 0)
            return jfail(d, KVBM_EPROTO, "unknown unit event variant", "event.data");
        ev->kind = KVBM_ROUTER_CLEARED;
        return true;
    }
    if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) != 1)
        return jfail(d, KVBM_EPROTO, "not a one-entry object or \"cleared\"", "event.data");
    json_object *x;
    if ((x = get(v, "stored")) != NULL) return stored(d, x, ev);
    if ((x = get(v, "removed")) != NULL) return removed(d, x, ev);
    if (present(v, "cleared")) {
        if (!json_object_is_type(get(v, "cleared"), json_type_null))
            return jfail(d, KVBM_EPROTO, "cleared carries a value", "event.data");
        ev->kind = KVBM_ROUTER_CLEARED;
        return true;
    }
    return jfail(d, KVBM_EPROTO, "unknown event variant", "event.data");
}

static bool router_event(struct jd *d, json_object *root, kvbm_router_event *ev)
{
    if (!json_object_is_type(root, json_type_object)) return jfail(d, KVBM_EPROTO, "not an object", "RouterEvent");
    uint64_t v = 0;
    if (!jint(d, get(root, "worker_id"), false, UINT64_MAX, &ev->worker_id, "worker_id")) return false;
    json_object *t = get(root, "storage_tier");
    ev->storage_tier = KVBM_ROUTER_TIER_DEVICE;
    if (t != NULL) {
        const char *s = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
        if (s == NULL || !kvbm__router_tier_parse(s, strlen(s), &ev->storage_tier))
            return jfail(d, KVBM_EPROTO, "unknown storage_tier", "storage_tier");
    }
    json_object *e = get(root, "event");
    if (e == NULL || !json_object_is_type(e, json_type_object)) return jfail(d, KVBM_EPROTO, "missing or not an object", "event");
    if (!jint(d, get(e, "event_id"), false, UINT64_MAX, &ev->event_id, "event.event_id")) return false;
    json_object *r = get(e, "dp_rank");
    if (r != NULL && !jint(d, r, false, UINT32_MAX, &v, "event.dp_rank")) return false;
    ev->dp_rank = (uint32_t)v;
    return data(d, get(e, "data"), ev);
}

kvbm_status kvbm_router_event_from_json(const char *json, size_t len, kvbm_router_event *out,
                                        const kvbm_router_decode_space *space)
{
    if ((json == NULL && len > 0) || out == NULL || space == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_event_from_json: NULL argument");
    if ((space->blocks == NULL && space->blocks_cap > 0) || (space->mm_objects == NULL && space->mm_objects_cap > 0) ||
        (space->u64 == NULL && space->u64_cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_event_from_json: decode space with NULL pool and capacity > 0");
    if (len == 0 || len > INT32_MAX) return KVBM_FAIL(KVBM_EPROTO, "kvbm_router_event_from_json: %s input",
                                                      len == 0 ? "empty" : "oversized");
    json_tokener *tok = json_tokener_new_ex(KVBM_ROUTER_MAX_DEPTH);
    if (tok == NULL) return KVBM_FAIL(KVBM_ENOMEM, "kvbm_router_event_from_json: out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (root == NULL || je != json_tokener_success) {
        json_object_put(root);
        return KVBM_FAIL(KVBM_EPROTO, "kvbm_router_event_from_json: %s (at byte %zu)",
                         je == json_tokener_continue ? "truncated input" : json_tokener_error_desc(je), used);
    }
    while (used < len && (json[used] == ' ' || json[used] == '\n' || json[used] == '\t' || json[used] == '\r')) used++;
    if (used != len) {
        json_object_put(root);
        return KVBM_FAIL(KVBM_EPROTO, "kvbm_router_event_from_json: trailing bytes at %zu", used);
    }
    memset(out, 0, sizeof *out);
    struct jd d = { space, 0, 0, 0, KVBM_OK };
    router_event(&d, root, out);
    json_object_put(root);
    return d.st;
}
