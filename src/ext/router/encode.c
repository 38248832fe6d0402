/* src/ext/router/encode.c - RouterEvent encoders (kvbm/router_events.h): msgpack through a
 * msgpack-c packer whose write callback fills the caller's buffer (counting past its end;
 * src/ext/common/mpack_buf.h), and the canonical JSON rendered by hand into the caller's buffer. Neither allocates. */
#include <inttypes.h>

#include "ext/common/mpack_buf.h"
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

static void pk_opt_u64(msgpack_packer *pk, bool has, uint64_t v)
{
    if (has) msgpack_pack_uint64(pk, v);
    else msgpack_pack_nil(pk);
}

static void pk_block(msgpack_packer *pk, const kvbm_router_stored_block *b)
{
    msgpack_pack_map(pk, 3);
    kvbm__mpack_str(pk, "block_hash");
    msgpack_pack_uint64(pk, b->block_hash);
    kvbm__mpack_str(pk, "tokens_hash");
    msgpack_pack_uint64(pk, b->tokens_hash);
    kvbm__mpack_str(pk, "mm_extra_info"); /* always written (positional transports need it) */
    if (!b->has_mm_extra_info) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_map(pk, 1);
    kvbm__mpack_str(pk, "mm_objects");
    msgpack_pack_array(pk, b->n_mm_objects);
    for (size_t j = 0; j < b->n_mm_objects; j++) {
        const kvbm_router_mm_object *o = &b->mm_objects[j];
        msgpack_pack_map(pk, 2);
        kvbm__mpack_str(pk, "mm_hash");
        msgpack_pack_uint64(pk, o->mm_hash);
        kvbm__mpack_str(pk, "offsets");
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
    kvbm__mpack_str(pk, "event_id");
    msgpack_pack_uint64(pk, ev->event_id);
    kvbm__mpack_str(pk, "data");
    switch (ev->kind) {
    case KVBM_ROUTER_STORED:
        msgpack_pack_map(pk, 1);
        kvbm__mpack_str(pk, "stored");
        msgpack_pack_map(pk, 3);
        kvbm__mpack_str(pk, "parent_hash");
        pk_opt_u64(pk, ev->has_parent_hash, ev->parent_hash);
        kvbm__mpack_str(pk, "start_position");
        pk_opt_u64(pk, ev->has_start_position, ev->start_position);
        kvbm__mpack_str(pk, "blocks");
        msgpack_pack_array(pk, ev->n_blocks);
        for (size_t i = 0; i < ev->n_blocks; i++) pk_block(pk, &ev->blocks[i]);
        break;
    case KVBM_ROUTER_REMOVED:
        msgpack_pack_map(pk, 1);
        kvbm__mpack_str(pk, "removed");
        msgpack_pack_map(pk, 1);
        kvbm__mpack_str(pk, "block_hashes");
        msgpack_pack_array(pk, ev->n_block_hashes);
        for (size_t i = 0; i < ev->n_block_hashes; i++) msgpack_pack_uint64(pk, ev->block_hashes[i]);
        break;
    case KVBM_ROUTER_CLEARED:
        kvbm__mpack_str(pk, "cleared");
        break;
    }
    kvbm__mpack_str(pk, "dp_rank");
    msgpack_pack_uint32(pk, ev->dp_rank);
}

kvbm_status kvbm_router_event_encode(const kvbm_router_event *ev, uint8_t *buf, size_t cap, size_t *len)
{
    KVBM_TRY(check_args(ev, buf, cap, len, "kvbm_router_event_encode"));
    kvbm__mpack_buf w;
    kvbm__mpack_buf_init(&w, buf, cap);
    msgpack_packer *pk = &w.pk;
    msgpack_pack_map(pk, 3);
    kvbm__mpack_str(pk, "worker_id");
    msgpack_pack_uint64(pk, ev->worker_id);
    kvbm__mpack_str(pk, "storage_tier");
    kvbm__mpack_str(pk, kvbm_router_tier_name(ev->storage_tier));
    kvbm__mpack_str(pk, "event");
    pk_kv_event(pk, ev);
    return kvbm__mpack_buf_finish(&w, len, "kvbm_router_event_encode");
}

static void pk_worker(msgpack_packer *pk, const kvbm_router_worker *w)
{
    msgpack_pack_map(pk, 2);
    kvbm__mpack_str(pk, "worker_id");
    msgpack_pack_uint64(pk, w->worker_id);
    kvbm__mpack_str(pk, "dp_rank");
    msgpack_pack_uint32(pk, w->dp_rank);
}

kvbm_status kvbm_router_worker_encode(const kvbm_router_worker *wk, uint8_t *buf, size_t cap, size_t *len)
{
    if (wk == NULL || len == NULL || (buf == NULL && cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_worker_encode: NULL argument");
    kvbm__mpack_buf w;
    kvbm__mpack_buf_init(&w, buf, cap);
    msgpack_packer *pk = &w.pk;
    pk_worker(pk, wk);
    return kvbm__mpack_buf_finish(&w, len, "kvbm_router_worker_encode");
}

kvbm_status kvbm_router_batch_encode(const kvbm_router_event *events, size_t n, bool shutdown, uint8_t *buf,
                                     size_t cap, size_t *len)
{
    if ((events == NULL && n > 0) || len == NULL || (buf == NULL && cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_batch_encode: NULL argument");
    for (size_t i = 0; i < n; i++) KVBM_TRY(check_event(&events[i], "kvbm_router_batch_encode"));
    kvbm__mpack_buf w;
    kvbm__mpack_buf_init(&w, buf, cap);
    msgpack_packer *pk = &w.pk;
    msgpack_pack_map(pk, 2);
    kvbm__mpack_str(pk, "events");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) pk_kv_event(pk, &events[i]);
    kvbm__mpack_str(pk, "shutdown");
    if (shutdown) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
    return kvbm__mpack_buf_finish(&w, len, "kvbm_router_batch_encode");
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
    kvbm__mpack_buf w;
    kvbm__mpack_buf_init(&w, buf, cap);
    msgpack_packer *pk = &w.pk;
    msgpack_pack_map(pk, 2);
    kvbm__mpack_str(pk, "placement");
    msgpack_pack_map(pk, 2);
    kvbm__mpack_str(pk, "owner");
    if (pl->owner == KVBM_ROUTER_OWNER_SHARED) {
        kvbm__mpack_str(pk, "Shared");
    } else {
        msgpack_pack_map(pk, 1);
        kvbm__mpack_str(pk, "LocalWorker");
        pk_worker(pk, &pl->worker);
    }
    kvbm__mpack_str(pk, "tier");
    kvbm__mpack_str(pk, kvbm_router_tier_name(pl->tier));
    kvbm__mpack_str(pk, "event");
    pk_kv_event(pk, &pe->event);
    return kvbm__mpack_buf_finish(&w, len, "kvbm_router_placement_event_encode");
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

static void jp_opt(kvbm__jbuf *j, const char *key, bool has, uint64_t v)
{
    if (has) kvbm__jp(j, "\"%s\":%" PRIu64, key, v);
    else kvbm__jp(j, "\"%s\":null", key);
}

static void jp_block(kvbm__jbuf *j, const kvbm_router_stored_block *b)
{
    kvbm__jp(j, "{\"block_hash\":%" PRIu64 ",\"tokens_hash\":%" PRIu64 ",\"mm_extra_info\":", b->block_hash, b->tokens_hash);
    if (!b->has_mm_extra_info) {
        kvbm__jp(j, "null}");
        return;
    }
    kvbm__jp(j, "{\"mm_objects\":[");
    kvbm__router_json_mm_objects(j, b->mm_objects, b->n_mm_objects);
    kvbm__jp(j, "]}}");
}

void kvbm__router_json_mm_objects(kvbm__jbuf *j, const kvbm_router_mm_object *o, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        kvbm__jp(j, "%s{\"mm_hash\":%" PRIu64 ",\"offsets\":[", k ? "," : "", o[k].mm_hash);
        for (size_t m = 0; m < o[k].n_offsets; m++)
            kvbm__jp(j, "%s[%" PRIu64 ",%" PRIu64 "]", m ? "," : "", o[k].offsets[2 * m], o[k].offsets[2 * m + 1]);
        kvbm__jp(j, "]}");
    }
}

kvbm_status kvbm_router_event_to_json(const kvbm_router_event *ev, char *buf, size_t cap, size_t *len)
{
    KVBM_TRY(check_args(ev, buf, cap, len, "kvbm_router_event_to_json"));
    kvbm__jbuf j = { buf, cap, 0 };
    kvbm__jp(&j, "{\"worker_id\":%" PRIu64 ",\"storage_tier\":\"%s\",\"event\":{\"event_id\":%" PRIu64 ",\"data\":",
       ev->worker_id, kvbm_router_tier_name(ev->storage_tier), ev->event_id);
    switch (ev->kind) {
    case KVBM_ROUTER_STORED:
        kvbm__jp(&j, "{\"stored\":{");
        jp_opt(&j, "parent_hash", ev->has_parent_hash, ev->parent_hash);
        kvbm__jp(&j, ",");
        jp_opt(&j, "start_position", ev->has_start_position, ev->start_position);
        kvbm__jp(&j, ",\"blocks\":[");
        for (size_t i = 0; i < ev->n_blocks; i++) {
            if (i) kvbm__jp(&j, ",");
            jp_block(&j, &ev->blocks[i]);
        }
        kvbm__jp(&j, "]}}");
        break;
    case KVBM_ROUTER_REMOVED:
        kvbm__jp(&j, "{\"removed\":{\"block_hashes\":[");
        for (size_t i = 0; i < ev->n_block_hashes; i++) kvbm__jp(&j, "%s%" PRIu64, i ? "," : "", ev->block_hashes[i]);
        kvbm__jp(&j, "]}}");
        break;
    case KVBM_ROUTER_CLEARED:
        kvbm__jp(&j, "\"cleared\"");
        break;
    }
    kvbm__jp(&j, ",\"dp_rank\":%" PRIu32 "}}", ev->dp_rank);
    return kvbm__jbuf_finish(&j, len, "kvbm_router_event_to_json");
}

/* ---- router requests ------------------------------------------------------------------ */

kvbm_status kvbm_router_request_mark_free_to_json(const char *request_id, char *buf, size_t cap, size_t *len)
{
    if (len == NULL || (buf == NULL && cap > 0))
        return KVBM_FAIL(KVBM_EINVAL, "kvbm_router_request_mark_free_to_json: NULL argument");
    kvbm__jbuf j = { buf, cap, 0 };
    kvbm__jp(&j, "{\"method\":\"mark_free\"");
    if (request_id != NULL) {
        kvbm__jp(&j, ",\"request_id\":\"");
        for (const unsigned char *c = (const unsigned char *)request_id; *c; c++) {
            if (*c == '"' || *c == '\\') kvbm__jp(&j, "\\%c", *c);
            else if (*c < 0x20) kvbm__jp(&j, "\\u%04x", *c);
            else kvbm__jp(&j, "%c", *c);
        }
        kvbm__jp(&j, "\"");
    }
    kvbm__jp(&j, "}");
    *len = j.len;
    if (j.len + 1 > cap)
        return KVBM_FAIL(KVBM_EOVERFLOW, "kvbm_router_request_mark_free_to_json: %zu bytes needed, buffer has %zu",
                         j.len + 1, cap);
    return KVBM_OK;
}
