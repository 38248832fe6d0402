/* src/ext/router/decode.c - msgpack RouterEvent decoder (kvbm/router_events.h).
 *
 * A pull reader over the input bytes (src/ext/common/mp_read.h) instead of msgpack-c's
 * unpacker: msgpack-c builds a whole object tree in a zone, allocating each array's
 * element table from the claimed count; here every value is read in place, arrays are copied straight into the caller's
 * decode space, and nothing is allocated. A container header is accepted only if its
 * count fits in the bytes that remain (each element takes at least one byte), so a hostile
 * length fails before anything is written; nesting is bounded by KVBM_ROUTER_MAX_DEPTH. */
#include "ext/common/mp_read.h"
#include "internal.h"
#include "router_int.h"

struct dec {
    kvbm__mpr                       r;
    const kvbm_router_decode_space *sp;
    size_t                          n_blocks, n_mm, n_u64; /* used from each pool */
};

/* nil -> *has = false; else a hash (@as_u32: a u32) */
static bool rd_opt(struct dec *d, bool *has, uint64_t *x, bool as_u32, const char *what)
{
    if (kvbm__mpr_nil(&d->r)) {
        *has = false;
        return true;
    }
    *has = true;
    if (!as_u32) return kvbm__mpr_hash(&d->r, x, what);
    uint32_t u;
    if (!kvbm__mpr_u32(&d->r, &u, what)) return false;
    *x = u;
    return true;
}

static bool u64_room(struct dec *d, uint64_t n, uint64_t **out)
{
    if (n > d->sp->u64_cap - d->n_u64) return kvbm__mpr_fail(&d->r, KVBM_EOVERFLOW, "decode space: u64 pool too small");
    *out = d->sp->u64 + d->n_u64;
    d->n_u64 += (size_t)n;
    return true;
}

static bool rd_mm_object(struct dec *d, kvbm_router_mm_object *o, unsigned depth)
{
    static const char *const keys[] = { "mm_hash", "offsets" };
    kvbm__mpv m;
    unsigned seen = 0;
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "mm object is not a map")) return false;
    *o = (kvbm_router_mm_object){ 0, NULL, 0 };
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        uint64_t n, *off;
        if (!kvbm__mpr_key(&d->r, keys, 2, &seen, &k)) return false;
        if (k == 0 && !kvbm__mpr_hash(&d->r, &o->mm_hash, "mm_hash is not an integer")) return false;
        if (k == 1) {
            if (!kvbm__mpr_array(&d->r, &n, "offsets is not an array") || !u64_room(d, 2 * n, &off)) return false;
            for (uint64_t j = 0; j < n; j++) {
                uint64_t two;
                if (!kvbm__mpr_array(&d->r, &two, "offset is not an array") || two != 2)
                    return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "offset is not a [start, end] pair");
                if (!kvbm__mpr_u64(&d->r, &off[2 * j], "offset start") || !kvbm__mpr_u64(&d->r, &off[2 * j + 1], "offset end")) return false;
            }
            o->offsets = off;
            o->n_offsets = (size_t)n;
        }
        if (k < 0 && !kvbm__mpr_skip(&d->r, depth + 1)) return false;
    }
    return seen == 3 ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "mm object lacks mm_hash or offsets");
}

static bool rd_extra(struct dec *d, kvbm_router_stored_block *b, unsigned depth)
{
    static const char *const keys[] = { "mm_objects" };
    kvbm__mpv m;
    unsigned seen = 0;
    if (kvbm__mpr_nil(&d->r)) return true; /* has_mm_extra_info stays false */
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "mm_extra_info is neither nil nor a map")) return false;
    b->has_mm_extra_info = true;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        uint64_t n;
        if (!kvbm__mpr_key(&d->r, keys, 1, &seen, &k)) return false;
        if (k < 0) {
            if (!kvbm__mpr_skip(&d->r, depth + 1)) return false;
            continue;
        }
        if (!kvbm__mpr_array(&d->r, &n, "mm_objects is not an array")) return false;
        if (n > d->sp->mm_objects_cap - d->n_mm) return kvbm__mpr_fail(&d->r, KVBM_EOVERFLOW, "decode space: mm_objects pool too small");
        kvbm_router_mm_object *o = d->sp->mm_objects + d->n_mm;
        d->n_mm += (size_t)n;
        for (uint64_t j = 0; j < n; j++)
            if (!rd_mm_object(d, &o[j], depth + 2)) return false;
        b->mm_objects = o;
        b->n_mm_objects = (size_t)n;
    }
    return seen == 1 ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "mm_extra_info lacks mm_objects");
}

static bool rd_block(struct dec *d, kvbm_router_stored_block *b, unsigned depth)
{
    static const char *const keys[] = { "block_hash", "tokens_hash", "mm_extra_info" };
    kvbm__mpv m;
    unsigned seen = 0;
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "stored block is not a map")) return false;
    *b = (kvbm_router_stored_block){ 0, 0, false, NULL, 0 };
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!kvbm__mpr_key(&d->r, keys, 3, &seen, &k)) return false;
        bool ok = k == 0   ? kvbm__mpr_hash(&d->r, &b->block_hash, "block_hash is not an integer")
                  : k == 1 ? kvbm__mpr_hash(&d->r, &b->tokens_hash, "tokens_hash is not an integer")
                  : k == 2 ? rd_extra(d, b, depth + 1)
                           : kvbm__mpr_skip(&d->r, depth + 1);
        if (!ok) return false;
    }
    return (seen & 3) == 3 ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "stored block lacks block_hash or tokens_hash");
}

static bool rd_stored(struct dec *d, kvbm_router_event *ev, unsigned depth)
{
    static const char *const keys[] = { "parent_hash", "start_position", "blocks" };
    kvbm__mpv m;
    unsigned seen = 0;
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "stored data is not a map")) return false;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        uint64_t n, sp = 0;
        if (!kvbm__mpr_key(&d->r, keys, 3, &seen, &k)) return false;
        if (k == 0 && !rd_opt(d, &ev->has_parent_hash, &ev->parent_hash, false, "parent_hash is not an integer or nil"))
            return false;
        if (k == 1) {
            if (!rd_opt(d, &ev->has_start_position, &sp, true, "start_position is not a u32 or nil")) return false;
            ev->start_position = (uint32_t)sp;
        }
        if (k == 2) {
            if (!kvbm__mpr_array(&d->r, &n, "blocks is not an array")) return false;
            if (n > d->sp->blocks_cap - d->n_blocks) return kvbm__mpr_fail(&d->r, KVBM_EOVERFLOW, "decode space: blocks pool too small");
            kvbm_router_stored_block *b = d->sp->blocks + d->n_blocks;
            d->n_blocks += (size_t)n;
            for (uint64_t j = 0; j < n; j++)
                if (!rd_block(d, &b[j], depth + 2)) return false;
            ev->blocks = b;
            ev->n_blocks = (size_t)n;
        }
        if (k < 0 && !kvbm__mpr_skip(&d->r, depth + 1)) return false;
    }
    return (seen & 4) ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "stored data lacks blocks");
}

static bool rd_removed(struct dec *d, kvbm_router_event *ev, unsigned depth)
{
    static const char *const keys[] = { "block_hashes" };
    kvbm__mpv m;
    unsigned seen = 0;
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "removed data is not a map")) return false;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        uint64_t n, *h;
        if (!kvbm__mpr_key(&d->r, keys, 1, &seen, &k)) return false;
        if (k < 0) {
            if (!kvbm__mpr_skip(&d->r, depth + 1)) return false;
            continue;
        }
        if (!kvbm__mpr_array(&d->r, &n, "block_hashes is not an array") || !u64_room(d, n, &h)) return false;
        for (uint64_t j = 0; j < n; j++)
            if (!kvbm__mpr_hash(&d->r, &h[j], "block hash is not an integer")) return false;
        ev->block_hashes = h;
        ev->n_block_hashes = (size_t)n;
    }
    return seen ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "removed data lacks block_hashes");
}

/* data: "cleared" | {"stored": {...}} | {"removed": {...}} | {"cleared": nil} */
static bool rd_data(struct dec *d, kvbm_router_event *ev, unsigned depth)
{
    kvbm__mpv v, k;
    if (!kvbm__mpr_next(&d->r, &v)) return false;
    if (v.t == KVBM__MP_STR) {
        ev->kind = KVBM_ROUTER_CLEARED;
        return kvbm__mpv_is_str(&v, "cleared") ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "unknown unit event variant");
    }
    if (v.t != KVBM__MP_MAP || v.u != 1) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "data is not a one-entry map or \"cleared\"");
    if (!kvbm__mpr_expect(&d->r, &k, KVBM__MP_STR, "data variant is not a string")) return false;
    if (kvbm__mpv_is_str(&k, "stored")) {
        ev->kind = KVBM_ROUTER_STORED;
        return rd_stored(d, ev, depth + 1);
    }
    if (kvbm__mpv_is_str(&k, "removed")) {
        ev->kind = KVBM_ROUTER_REMOVED;
        return rd_removed(d, ev, depth + 1);
    }
    if (kvbm__mpv_is_str(&k, "cleared")) {
        ev->kind = KVBM_ROUTER_CLEARED;
        return kvbm__mpr_expect(&d->r, &v, KVBM__MP_NIL, "cleared carries a value");
    }
    return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "unknown event variant");
}

static bool rd_event(struct dec *d, kvbm_router_event *ev, unsigned depth)
{
    static const char *const keys[] = { "event_id", "data", "dp_rank" };
    kvbm__mpv m;
    unsigned seen = 0;
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "event is not a map")) return false;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!kvbm__mpr_key(&d->r, keys, 3, &seen, &k)) return false;
        bool ok = k == 0   ? kvbm__mpr_u64(&d->r, &ev->event_id, "event_id is not a u64")
                  : k == 1 ? rd_data(d, ev, depth + 1)
                  : k == 2 ? kvbm__mpr_u32(&d->r, &ev->dp_rank, "dp_rank is not a u32")
                           : kvbm__mpr_skip(&d->r, depth + 1);
        if (!ok) return false;
    }
    return (seen & 3) == 3 ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "event lacks event_id or data");
}

static bool rd_router_event(struct dec *d, kvbm_router_event *ev)
{
    static const char *const keys[] = { "worker_id", "storage_tier", "event" };
    kvbm__mpv m, s;
    unsigned seen = 0;
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "router event is not a map")) return false;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!kvbm__mpr_key(&d->r, keys, 3, &seen, &k)) return false;
        bool ok = true;
        if (k == 0) ok = kvbm__mpr_u64(&d->r, &ev->worker_id, "worker_id is not a u64");
        else if (k == 1)
            ok = kvbm__mpr_expect(&d->r, &s, KVBM__MP_STR, "storage_tier is not a string") &&
                 (kvbm__router_tier_parse((const char *)s.s, (size_t)s.u, &ev->storage_tier) ||
                  kvbm__mpr_fail(&d->r, KVBM_EPROTO, "unknown storage_tier"));
        else if (k == 2) ok = rd_event(d, ev, 1);
        else ok = kvbm__mpr_skip(&d->r, 1);
        if (!ok) return false;
    }
    return (seen & 5) == 5 ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "router event lacks worker_id or event");
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
    struct dec d = { .sp = space };
    kvbm__mpr_init(&d.r, buf, len, "kvbm_router_event_decode", KVBM_ROUTER_MAX_DEPTH);
    memset(out, 0, sizeof *out); /* defaults: device, dp_rank 0, nil options */
    if (!rd_router_event(&d, out)) return d.r.st;
    if (d.r.p != d.r.end) {
        kvbm__mpr_fail(&d.r, KVBM_EPROTO, "trailing bytes after the router event");
        return d.r.st;
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
    *d = (struct dec){ .sp = space };
    kvbm__mpr_init(&d->r, buf, len, fn, KVBM_ROUTER_MAX_DEPTH);
    return KVBM_OK;
}

static kvbm_status end(struct dec *d, bool ok)
{
    if (ok && d->r.p != d->r.end) kvbm__mpr_fail(&d->r, KVBM_EPROTO, "trailing bytes");
    return d->r.st;
}

static bool rd_worker(struct dec *d, kvbm_router_worker *w, unsigned depth)
{
    static const char *const keys[] = { "worker_id", "dp_rank" };
    kvbm__mpv m;
    unsigned seen = 0;
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "worker is not a map")) return false;
    w->dp_rank = 0;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!kvbm__mpr_key(&d->r, keys, 2, &seen, &k)) return false;
        bool ok = k == 0   ? kvbm__mpr_u64(&d->r, &w->worker_id, "worker_id is not a u64")
                  : k == 1 ? kvbm__mpr_u32(&d->r, &w->dp_rank, "dp_rank is not a u32")
                           : kvbm__mpr_skip(&d->r, depth + 1);
        if (!ok) return false;
    }
    return (seen & 1) ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "worker lacks worker_id");
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
    kvbm__mpv m, v;
    unsigned seen = 0;
    bool ok = kvbm__mpr_expect(&d.r, &m, KVBM__MP_MAP, "batch is not a map");
    *n = 0;
    *shutdown = false;
    for (uint64_t i = 0; ok && i < m.u; i++) {
        int k;
        uint64_t ne;
        if (!(ok = kvbm__mpr_key(&d.r, keys, 2, &seen, &k))) break;
        if (k == 0) {
            if (!(ok = kvbm__mpr_array(&d.r, &ne, "events is not an array"))) break;
            if (ne > cap) {
                ok = kvbm__mpr_fail(&d.r, KVBM_EOVERFLOW, "more events than the caller's array holds");
                break;
            }
            for (uint64_t j = 0; ok && j < ne; j++) {
                memset(&events[j], 0, sizeof events[j]);
                ok = rd_event(&d, &events[j], 2);
            }
            *n = (size_t)ne;
        } else if (k == 1) {
            ok = kvbm__mpr_expect(&d.r, &v, KVBM__MP_BOOL, "shutdown is not a bool");
            *shutdown = ok && v.u != 0;
        } else {
            ok = kvbm__mpr_skip(&d.r, 1);
        }
    }
    if (ok && !(seen & 1)) ok = kvbm__mpr_fail(&d.r, KVBM_EPROTO, "batch lacks events");
    return end(&d, ok);
}

static bool rd_placement(struct dec *d, kvbm_router_placement *pl)
{
    static const char *const keys[] = { "owner", "tier" };
    kvbm__mpv m, v, k2;
    unsigned seen = 0;
    if (!kvbm__mpr_expect(&d->r, &m, KVBM__MP_MAP, "placement is not a map")) return false;
    pl->tier = KVBM_ROUTER_TIER_DEVICE;
    for (uint64_t i = 0; i < m.u; i++) {
        int k;
        if (!kvbm__mpr_key(&d->r, keys, 2, &seen, &k)) return false;
        if (k == 0) {
            if (!kvbm__mpr_next(&d->r, &v)) return false;
            if (v.t == KVBM__MP_STR) {
                if (!kvbm__mpv_is_str(&v, "Shared")) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "unknown placement owner");
                pl->owner = KVBM_ROUTER_OWNER_SHARED;
                continue;
            }
            if (v.t != KVBM__MP_MAP || v.u != 1) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "owner is not \"Shared\" or a one-entry map");
            if (!kvbm__mpr_expect(&d->r, &k2, KVBM__MP_STR, "owner variant is not a string")) return false;
            if (!kvbm__mpv_is_str(&k2, "LocalWorker")) return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "unknown placement owner");
            pl->owner = KVBM_ROUTER_OWNER_LOCAL_WORKER;
            if (!rd_worker(d, &pl->worker, 3)) return false;
        } else if (k == 1) {
            if (!kvbm__mpr_expect(&d->r, &v, KVBM__MP_STR, "tier is not a string")) return false;
            if (!kvbm__router_tier_parse((const char *)v.s, (size_t)v.u, &pl->tier))
                return kvbm__mpr_fail(&d->r, KVBM_EPROTO, "unknown tier");
        } else if (!kvbm__mpr_skip(&d->r, 2)) {
            return false;
        }
    }
    return (seen & 1) ? true : kvbm__mpr_fail(&d->r, KVBM_EPROTO, "placement lacks owner");
}

kvbm_status kvbm_router_placement_event_decode(const uint8_t *buf, size_t len, kvbm_router_placement_event *out,
                                               const kvbm_router_decode_space *space)
{
    static const char *const keys[] = { "placement", "event" };
    struct dec d;
    KVBM_TRY(begin(&d, buf, len, out != NULL, space, "kvbm_router_placement_event_decode"));
    memset(out, 0, sizeof *out);
    kvbm__mpv m;
    unsigned seen = 0;
    bool ok = kvbm__mpr_expect(&d.r, &m, KVBM__MP_MAP, "placement event is not a map");
    for (uint64_t i = 0; ok && i < m.u; i++) {
        int k;
        if (!(ok = kvbm__mpr_key(&d.r, keys, 2, &seen, &k))) break;
        ok = k == 0 ? rd_placement(&d, &out->placement) : k == 1 ? rd_event(&d, &out->event, 1) : kvbm__mpr_skip(&d.r, 1);
    }
    if (ok && (seen & 3) != 3) ok = kvbm__mpr_fail(&d.r, KVBM_EPROTO, "placement event lacks placement or event");
    return end(&d, ok);
}
