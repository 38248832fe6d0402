/* src/ext/router/encode.c - RouterEvent encoders (kvbm/router_events.h): msgpack through a
 * msgpack-c packer whose write callback fills the caller's buffer (counting past its end),
 * and the canonical JSON rendered by hand into the caller's buffer. Neither allocates. */
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"
#include "router_int.h"

/* ---- validation -------------------------------------------------------------------- */

static kvbm_status check_event(const kvbm_router_event *ev, const char *fn)
{
    if ((unsigned)ev->storage_tier > KVBM_ROUTER_TIER_EXTERNAL || (unsigned)ev->kind > KVBM_ROUTER_CLEARED) {
        kvbm__set_error("%s: tier %d or kind %d outside its enum", fn, (int)ev->storage_tier, (int)ev->kind);
        return KVBM_EINVAL;
    }
    if (ev->kind == KVBM_ROUTER_REMOVED && ev->n_block_hashes > 0 && ev->block_hashes == NULL) {
        kvbm__set_error("%s: %zu block_hashes but the array is NULL", fn, ev->n_block_hashes);
        return KVBM_EINVAL;
    }
    if (ev->kind != KVBM_ROUTER_STORED) return KVBM_OK;
    if (ev->n_blocks > 0 && ev->blocks == NULL) {
        kvbm__set_error("%s: %zu blocks but the array is NULL", fn, ev->n_blocks);
        return KVBM_EINVAL;
    }
    for (size_t i = 0; i < ev->n_blocks; i++) {
        const kvbm_router_stored_block *b = &ev->blocks[i];
        if (!b->has_mm_extra_info) continue;
        if (b->n_mm_objects > 0 && b->mm_objects == NULL) {
            kvbm__set_error("%s: block %zu has %zu mm objects but the array is NULL", fn, i, b->n_mm_objects);
            return KVBM_EINVAL;
        }
        for (size_t j = 0; j < b->n_mm_objects; j++)
            if (b->mm_objects[j].n_offsets > 0 && b->mm_objects[j].offsets == NULL) {
                kvbm__set_error("%s: block %zu mm object %zu: offsets NULL", fn, i, j);
                return KVBM_EINVAL;
            }
    }
    return KVBM_OK;
}

/* the arguments of both encoders: @buf may be NULL only with @cap 0 */
static kvbm_status check_args(const kvbm_router_event *ev, const void *buf, size_t cap, const size_t *len,
                              const char *fn)
{
    if (ev == NULL || len == NULL || (buf == NULL && cap > 0)) {
        kvbm__set_error("%s: %s is NULL", fn, ev == NULL ? "ev" : len == NULL ? "len" : "buf");
        return KVBM_EINVAL;
    }
    return check_event(ev, fn);
}

/* ---- msgpack ----------------------------------------------------------------------- */

struct wbuf {
    uint8_t *buf;
    size_t   cap, len;
};

static int wbuf_write(void *data, const char *p, size_t n)
{
    struct wbuf *w = data;
    if (w->len <= w->cap && n <= w->cap - w->len) memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_opt_u64(msgpack_packer *pk, bool has, uint64_t v)
{
    if (has) msgpack_pack_uint64(pk, v);
    else msgpack_pack_nil(pk);
}

static void pk_block(msgpack_packer *pk, const kvbm_router_stored_block *b)
{
    msgpack_pack_map(pk, 3);
    pk_str(pk, "block_hash");
    msgpack_pack_uint64(pk, b->block_hash);
    pk_str(pk, "tokens_hash");
    msgpack_pack_uint64(pk, b->tokens_hash);
    pk_str(pk, "mm_extra_info"); /* always written (positional transports need it) */
    if (!b->has_mm_extra_info) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_map(pk, 1);
    pk_str(pk, "mm_objects");
    msgpack_pack_array(pk, b->n_mm_objects);
    for (size_t j = 0; j < b->n_mm_objects; j++) {
        const kvbm_router_mm_object *o = &b->mm_objects[j];
        msgpack_pack_map(pk, 2);
        pk_str(pk, "mm_hash");
        msgpack_pack_uint64(pk, o->mm_hash);
        pk_str(pk, "offsets");
        msgpack_pack_array(pk, o->n_offsets);
        for (size_t k = 0; k < o->n_offsets; k++) {
            msgpack_pack_array(pk, 2);
            msgpack_pack_uint64(pk, o->offsets[2 * k]);
            msgpack_pack_uint64(pk, o->offsets[2 * k + 1]);
        }
    }
}

/* KvCacheEvent {event_id, data, dp_rank} of @ev */
static void pk_kv_event(msgpack_packer *pk, const kvbm_router_event *ev)
{
    msgpack_pack_map(pk, 3);
    pk_str(pk, "event_id");
    msgpack_pack_uint64(pk, ev->event_id);
    pk_str(pk, "data");
    switch (ev->kind) {
    case KVBM_ROUTER_STORED:
        msgpack_pack_map(pk, 1);
        pk_str(pk, "stored");
        msgpack_pack_map(pk, 3);
        pk_str(pk, "parent_hash");
        pk_opt_u64(pk, ev->has_parent_hash, ev->parent_hash);
        pk_str(pk, "start_position");
        pk_opt_u64(pk, ev->has_start_position, ev->start_position);
        pk_str(pk, "blocks");
        msgpack_pack_array(pk, ev->n_blocks);
        for (size_t i = 0; i < ev->n_blocks; i++) pk_block(pk, &ev->blocks[i]);
        break;
    case KVBM_ROUTER_REMOVED:
        msgpack_pack_map(pk, 1);
        pk_str(pk, "removed");
        msgpack_pack_map(pk, 1);
        pk_str(pk, "block_hashes");
        msgpack_pack_array(pk, ev->n_block_hashes);
        for (size_t i = 0; i < ev->n_block_hashes; i++) msgpack_pack_uint64(pk, ev->block_hashes[i]);
        break;
    case KVBM_ROUTER_CLEARED:
        pk_str(pk, "cleared");
        break;
    }
    pk_str(pk, "dp_rank");
    msgpack_pack_uint32(pk, ev->dp_rank);
}

static kvbm_status pk_end(const struct wbuf *w, size_t *len, const char *fn)
{
    *len = w->len;
    if (w->len > w->cap) {
        kvbm__set_error("%s: %zu bytes needed, buffer has %zu", fn, w->len, w->cap);
        return KVBM_EOVERFLOW;
    }
    return KVBM_OK;
}

kvbm_status kvbm_router_event_encode(const kvbm_router_event *ev, uint8_t *buf, size_t cap, size_t *len)
{
    KVBM_TRY(check_args(ev, buf, cap, len, "kvbm_router_event_encode"));
    struct wbuf w = { buf, cap, 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    msgpack_pack_map(&pk, 3);
    pk_str(&pk, "worker_id");
    msgpack_pack_uint64(&pk, ev->worker_id);
    pk_str(&pk, "storage_tier");
    pk_str(&pk, kvbm_router_tier_name(ev->storage_tier));
    pk_str(&pk, "event");
    pk_kv_event(&pk, ev);
    return pk_end(&w, len, "kvbm_router_event_encode");
}

static void pk_worker(msgpack_packer *pk, const kvbm_router_worker *w)
{
    msgpack_pack_map(pk, 2);
    pk_str(pk, "worker_id");
    msgpack_pack_uint64(pk, w->worker_id);
    pk_str(pk, "dp_rank");
    msgpack_pack_uint32(pk, w->dp_rank);
}

kvbm_status kvbm_router_worker_encode(const kvbm_router_worker *wk, uint8_t *buf, size_t cap, size_t *len)
{
    if (wk == NULL || len == NULL || (buf == NULL && cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_worker_encode: NULL argument");
    struct wbuf w = { buf, cap, 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    pk_worker(&pk, wk);
    return pk_end(&w, len, "kvbm_router_worker_encode");
}

kvbm_status kvbm_router_batch_encode(const kvbm_router_event *events, size_t n, bool shutdown, uint8_t *buf,
                                     size_t cap, size_t *len)
{
    if ((events == NULL && n > 0) || len == NULL || (buf == NULL && cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_batch_encode: NULL argument");
    for (size_t i = 0; i < n; i++) KVBM_TRY(check_event(&events[i], "kvbm_router_batch_encode"));
    struct wbuf w = { buf, cap, 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "events");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) pk_kv_event(&pk, &events[i]);
    pk_str(&pk, "shutdown");
    if (shutdown) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
    return pk_end(&w, len, "kvbm_router_batch_encode");
}

kvbm_status kvbm_router_placement_event_encode(const kvbm_router_placement_event *pe, uint8_t *buf, size_t cap,
                                               size_t *len)
{
    if (pe == NULL || len == NULL || (buf == NULL && cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_placement_event_encode: NULL argument");
    const kvbm_router_placement *pl = &pe->placement;
    if ((unsigned)pl->owner > KVBM_ROUTER_OWNER_SHARED || (unsigned)pl->tier > KVBM_ROUTER_TIER_EXTERNAL)
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_placement_event_encode: owner %d or tier %d outside its enum",
                         (int)pl->owner, (int)pl->tier);
    KVBM_TRY(check_event(&pe->event, "kvbm_router_placement_event_encode"));
    struct wbuf w = { buf, cap, 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "placement");
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "owner");
    if (pl->owner == KVBM_ROUTER_OWNER_SHARED) {
        pk_str(&pk, "Shared");
    } else {
        msgpack_pack_map(&pk, 1);
        pk_str(&pk, "LocalWorker");
        pk_worker(&pk, &pl->worker);
    }
    pk_str(&pk, "tier");
    pk_str(&pk, kvbm_router_tier_name(pl->tier));
    pk_str(&pk, "event");
    pk_kv_event(&pk, &pe->event);
    return pk_end(&w, len, "kvbm_router_placement_event_encode");
}

kvbm_status kvbm_router_placement_event_into_router_event(const kvbm_router_placement_event *pe,
                                                          kvbm_router_event *out)
{
    if (pe == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_placement_event_into_router_event: NULL argument");
    if (pe->placement.owner != KVBM_ROUTER_OWNER_LOCAL_WORKER)
        return KVBM_FAIL(KVBM_ENOENT, "kvbm_router_placement_event_into_router_event: a %s placement has no router event",
                         pe->placement.owner == KVBM_ROUTER_OWNER_SHARED ? "Shared" : "unknown");
    *out = pe->event;
    out->worker_id = pe->placement.worker.worker_id;
    out->storage_tier = pe->placement.tier;
    return KVBM_OK;
}

/* ---- JSON -------------------------------------------------------------------------- */

struct jbuf {
    char  *buf;
    size_t cap, len;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void jp(struct jbuf *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = j->len < j->cap ? j->cap - j->len : 0;
    int n = vsnprintf(room > 0 ? j->buf + j->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) j->len += (size_t)n;
}

static void jp_opt(struct jbuf *j, const char *key, bool has, uint64_t v)
{
    if (has) jp(j, "\"%s\":%" PRIu64, key, v);
    else jp(j, "\"%s\":null", key);
}

static void jp_block(struct jbuf *j, const kvbm_router_stored_block *b)
{
    jp(j, "{\"block_hash\":%" PRIu64 ",\"tokens_hash\":%" PRIu64 ",\"mm_extra_info\":", b->block_hash, b->tokens_hash);
    if (!b->has_mm_extra_info) {
        jp(j, "null}");
        return;
    }
    jp(j, "{\"mm_objects\":[");
    for (size_t k = 0; k < b->n_mm_objects; k++) {
        const kvbm_router_mm_object *o = &b->mm_objects[k];
        jp(j, "%s{\"mm_hash\":%" PRIu64 ",\"offsets\":[", k ? "," : "", o->mm_hash);
        for (size_t m = 0; m < o->n_offsets; m++)
            jp(j, "%s[%" PRIu64 ",%" PRIu64 "]", m ? "," : "", o->offsets[2 * m], o->offsets[2 * m + 1]);
        jp(j, "]}");
    }
    jp(j, "]}}");
}

kvbm_status kvbm_router_event_to_json(const kvbm_router_event *ev, char *buf, size_t cap, size_t *len)
{
    KVBM_TRY(check_args(ev, buf, cap, len, "kvbm_router_event_to_json"));
    struct jbuf j = { buf, cap, 0 };
    jp(&j, "{\"worker_id\":%" PRIu64 ",\"storage_tier\":\"%s\",\"event\":{\"event_id\":%" PRIu64 ",\"data\":",
       ev->worker_id, kvbm_router_tier_name(ev->storage_tier), ev->event_id);
    switch (ev->kind) {
    case KVBM_ROUTER_STORED:
        jp(&j, "{\"stored\":{");
        jp_opt(&j, "parent_hash", ev->has_parent_hash, ev->parent_hash);
        jp(&j, ",");
        jp_opt(&j, "start_position", ev->has_start_position, ev->start_position);
        jp(&j, ",\"blocks\":[");
        for (size_t i = 0; i < ev->n_blocks; i++) {
            if (i) jp(&j, ",");
            jp_block(&j, &ev->blocks[i]);
        }
        jp(&j, "]}}");
        break;
    case KVBM_ROUTER_REMOVED:
        jp(&j, "{\"removed\":{\"block_hashes\":[");
        for (size_t i = 0; i < ev->n_block_hashes; i++) jp(&j, "%s%" PRIu64, i ? "," : "", ev->block_hashes[i]);
        jp(&j, "]}}");
        break;
    case KVBM_ROUTER_CLEARED:
        jp(&j, "\"cleared\"");
        break;
    }
    jp(&j, ",\"dp_rank\":%" PRIu32 "}}", ev->dp_rank);
    *len = j.len;
    if (j.len + 1 > cap) {
        kvbm__set_error("kvbm_router_event_to_json: %zu bytes needed, buffer has %zu", j.len + 1, cap);
        return KVBM_EOVERFLOW;
    }
    return KVBM_OK;
}

/* ---- router requests ------------------------------------------------------------------ */

kvbm_status kvbm_router_request_mark_free_to_json(const char *request_id, char *buf, size_t cap, size_t *len)
{
    if (len == NULL || (buf == NULL && cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_request_mark_free_to_json: NULL argument");
    struct jbuf j = { buf, cap, 0 };
    jp(&j, "{\"method\":\"mark_free\"");
    if (request_id != NULL) {
        jp(&j, ",\"request_id\":\"");
        for (const unsigned char *c = (const unsigned char *)request_id; *c; c++) {
            if (*c == '"' || *c == '\\') jp(&j, "\\%c", *c);
            else if (*c < 0x20) jp(&j, "\\u%04x", *c);
            else jp(&j, "%c", *c);
        }
        jp(&j, "\"");
    }
    jp(&j, "}");
    *len = j.len;
    if (j.len + 1 > cap)
        return KVBM_FAIL(KVBM_EOVERFLOW, "kvbm_router_request_mark_free_to_json: %zu bytes needed, buffer has %zu",
                         j.len + 1, cap);
    return KVBM_OK;
}
