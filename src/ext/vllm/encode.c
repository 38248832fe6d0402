/* src/ext/vllm/encode.c - KVEventBatch encoders (kvbm/vllm_events.h): msgpack in map or
 * array form through a msgpack-c packer into the caller's buffer (src/ext/common/mpack_buf.h),
 * and the human JSON rendering. Neither allocates. Layouts: docs/design/vllm.md. */
#include <inttypes.h>
#include <math.h>

#include "ext/common/mpack_buf.h"
#include "ext/router/router_int.h"
#include "internal.h"
#include "vllm_int.h"

/* array positions (BlockStored) used to find the last non-nil element */
enum { P_MEDIUM = 6, P_LORA_NAME = 7, P_SLOT9 = 9, P_KIND = 10, P_WINDOW = 11 };

static kvbm_status check_batch(const kvbm_vllm_batch *b, const void *buf, size_t cap, const size_t *len, const char *fn)
{
    if (b == NULL || len == NULL || (buf == NULL && cap > 0)) {
        kvbm__set_error("%s: %s is NULL", fn, b == NULL ? "batch" : len == NULL ? "len" : "buf");
        return KVBM_EINVAL;
    }
    if (b->n_events > 0 && b->events == NULL) {
        kvbm__set_error("%s: %zu events but the array is NULL", fn, b->n_events);
        return KVBM_EINVAL;
    }
    for (size_t i = 0; i < b->n_events; i++) KVBM_TRY(kvbm__vllm_event_check(&b->events[i], i, fn));
    return KVBM_OK;
}

static void pk_hashes(msgpack_packer *pk, const uint64_t *h, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) kvbm__mpack_uint(pk, h[i]);
}

/* token_ids, as bigrams [t0,t1],[t1,t2],... for Eagle */
static void pk_tokens(msgpack_packer *pk, const kvbm_vllm_event *ev)
{
    size_t n = ev->n_token_ids;
    if (!ev->is_eagle) {
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++) kvbm__mpack_uint(pk, ev->token_ids[i]);
        return;
    }
    msgpack_pack_array(pk, n ? n - 1 : 0);
    for (size_t i = 0; i + 1 < n; i++) {
        msgpack_pack_array(pk, 2);
        kvbm__mpack_uint(pk, ev->token_ids[i]);
        kvbm__mpack_uint(pk, ev->token_ids[i + 1]);
    }
}

static void pk_opt_str(msgpack_packer *pk, const char *s)
{
    if (s) kvbm__mpack_str(pk, s);
    else msgpack_pack_nil(pk);
}

static void pk_opt_u32(msgpack_packer *pk, bool has, uint32_t v)
{
    if (has) msgpack_pack_uint32(pk, v);
    else msgpack_pack_nil(pk);
}

/* block_mm_infos: per block nil or BlockExtraInfo (maps in map form, arrays in array form) */
static void pk_mm(msgpack_packer *pk, const kvbm_vllm_event *ev, bool named)
{
    msgpack_pack_array(pk, ev->n_block_mm);
    for (size_t b = 0; b < ev->n_block_mm; b++) {
        const kvbm_vllm_block_mm *m = &ev->block_mm[b];
        if (m->n_objects == 0) {
            msgpack_pack_nil(pk);
            continue;
        }
        if (named) {
            msgpack_pack_map(pk, 1);
            kvbm__mpack_str(pk, "mm_objects");
        } else {
            msgpack_pack_array(pk, 1);
        }
        msgpack_pack_array(pk, m->n_objects);
        for (size_t o = 0; o < m->n_objects; o++) {
            const kvbm_router_mm_object *x = &m->objects[o];
            if (named) {
                msgpack_pack_map(pk, 2);
                kvbm__mpack_str(pk, "mm_hash");
            } else {
                msgpack_pack_array(pk, 2);
            }
            msgpack_pack_uint64(pk, x->mm_hash);
            if (named) kvbm__mpack_str(pk, "offsets");
            msgpack_pack_array(pk, x->n_offsets);
            for (size_t k = 0; k < x->n_offsets; k++) {
                msgpack_pack_array(pk, 2);
                msgpack_pack_uint64(pk, x->offsets[2 * k]);
                msgpack_pack_uint64(pk, x->offsets[2 * k + 1]);
            }
        }
    }
}

/* one field as "name": value (map form) */
static void kv_str(msgpack_packer *pk, const char *k, const char *s)
{
    kvbm__mpack_str(pk, k);
    kvbm__mpack_str(pk, s);
}

static void kv_u32(msgpack_packer *pk, const char *k, uint32_t v)
{
    kvbm__mpack_str(pk, k);
    msgpack_pack_uint32(pk, v);
}

static void pk_event_map(msgpack_packer *pk, const kvbm_vllm_event *ev)
{
    bool stored = ev->type == KVBM_VLLM_BLOCK_STORED, cleared = ev->type == KVBM_VLLM_ALL_BLOCKS_CLEARED;
    size_t n = 1;
    if (!cleared) {
        n += 1 + (ev->medium != NULL) + ev->has_group_idx + (ev->kv_cache_spec_kind != NULL) + ev->has_sliding_window;
        if (stored) n += 3 + (ev->lora_name != NULL) + (ev->n_block_mm > 0);
    }
    msgpack_pack_map(pk, n);
    kv_str(pk, "type", kvbm_vllm_event_type_name(ev->type));
    if (cleared) return;
    kvbm__mpack_str(pk, "block_hashes");
    pk_hashes(pk, ev->block_hashes, ev->n_block_hashes);
    if (stored) {
        kvbm__mpack_str(pk, "parent_block_hash"); /* always written: required positionally */
        if (ev->has_parent) msgpack_pack_uint64(pk, ev->parent_block_hash);
        else msgpack_pack_nil(pk);
        kvbm__mpack_str(pk, "token_ids");
        pk_tokens(pk, ev);
        kv_u32(pk, "block_size", ev->block_size);
    }
    if (ev->medium) kv_str(pk, "medium", ev->medium);
    if (stored && ev->lora_name) kv_str(pk, "lora_name", ev->lora_name);
    if (stored && ev->n_block_mm > 0) {
        kvbm__mpack_str(pk, "block_mm_infos");
        pk_mm(pk, ev, true);
    }
    if (ev->has_group_idx) kv_u32(pk, "group_idx", ev->group_idx);
    if (ev->kv_cache_spec_kind) kv_str(pk, "kv_cache_spec_kind", ev->kv_cache_spec_kind);
    if (ev->has_sliding_window) kv_u32(pk, "kv_cache_spec_sliding_window", ev->sliding_window);
}

static void pk_group_tail(msgpack_packer *pk, const kvbm_vllm_event *ev, size_t from, size_t last)
{
    /* positions from..last hold group_idx, kind, window */
    if (from <= last) pk_opt_u32(pk, ev->has_group_idx, ev->group_idx);
    if (from + 1 <= last) pk_opt_str(pk, ev->kv_cache_spec_kind);
    if (from + 2 <= last) pk_opt_u32(pk, ev->has_sliding_window, ev->sliding_window);
}

static size_t group_last(const kvbm_vllm_event *ev, size_t base)
{
    return ev->has_sliding_window ? base + 2 : ev->kv_cache_spec_kind ? base + 1 : ev->has_group_idx ? base : 0;
}

static void pk_event_array(msgpack_packer *pk, const kvbm_vllm_event *ev)
{
    const char *tag = kvbm_vllm_event_type_name(ev->type);
    if (ev->type == KVBM_VLLM_ALL_BLOCKS_CLEARED) {
        msgpack_pack_array(pk, 1);
        kvbm__mpack_str(pk, tag);
        return;
    }
    if (ev->type == KVBM_VLLM_BLOCK_REMOVED) { /* [tag, hashes, medium, group_idx, kind, window] */
        size_t last = group_last(ev, 3);
        if (last == 0) last = ev->medium ? 2 : 1;
        msgpack_pack_array(pk, last + 1);
        kvbm__mpack_str(pk, tag);
        pk_hashes(pk, ev->block_hashes, ev->n_block_hashes);
        if (last >= 2) pk_opt_str(pk, ev->medium);
        pk_group_tail(pk, ev, 3, last);
        return;
    }
    size_t last = ev->n_block_mm > 0 ? P_SLOT9 : group_last(ev, P_SLOT9);
    if (last == 0) last = ev->lora_name ? P_LORA_NAME : ev->medium ? P_MEDIUM : 4;
    msgpack_pack_array(pk, last + 1);
    kvbm__mpack_str(pk, tag);
    pk_hashes(pk, ev->block_hashes, ev->n_block_hashes);
    if (ev->has_parent) msgpack_pack_uint64(pk, ev->parent_block_hash);
    else msgpack_pack_nil(pk);
    pk_tokens(pk, ev);
    msgpack_pack_uint32(pk, ev->block_size);
    if (last < P_MEDIUM) return;
    msgpack_pack_nil(pk); /* 5: lora_id, always nil */
    pk_opt_str(pk, ev->medium);
    if (last < P_LORA_NAME) return;
    pk_opt_str(pk, ev->lora_name);
    if (last < P_SLOT9) return;
    msgpack_pack_nil(pk); /* 8: extra_keys; MM info goes to 9 as block_mm_infos */
    if (ev->n_block_mm > 0) pk_mm(pk, ev, false);
    else pk_group_tail(pk, ev, P_SLOT9, last);
}

kvbm_status kvbm_vllm_batch_encode(const kvbm_vllm_batch *b, kvbm_vllm_form form, uint8_t *buf, size_t cap, size_t *len)
{
    static const char fn[] = "kvbm_vllm_batch_encode";
    KVBM_TRY(check_batch(b, buf, cap, len, fn));
    if ((unsigned)form > KVBM_VLLM_FORM_ARRAY) {
        kvbm__set_error("%s: form %d outside its enum", fn, (int)form);
        return KVBM_EINVAL;
    }
    for (size_t i = 0; i < b->n_events; i++) {
        const kvbm_vllm_event *ev = &b->events[i];
        if (ev->type == KVBM_VLLM_BLOCK_STORED && ev->is_eagle && ev->n_token_ids == 1) {
            kvbm__set_error("%s: event %zu: is_eagle with a single token has no bigram form", fn, i);
            return KVBM_EINVAL;
        }
        if (form == KVBM_VLLM_FORM_ARRAY && ev->type == KVBM_VLLM_BLOCK_STORED && ev->n_block_mm > 0 &&
            group_last(ev, P_SLOT9) != 0) {
            kvbm__set_error("%s: event %zu: MM info and group fields both need array index 9", fn, i);
            return KVBM_EUNSUPPORTED;
        }
    }
    kvbm__mpack_buf w;
    kvbm__mpack_buf_init(&w, buf, cap);
    msgpack_packer *pk = &w.pk;
    msgpack_pack_array(pk, 3);
    msgpack_pack_double(pk, b->ts);
    msgpack_pack_array(pk, b->n_events);
    for (size_t i = 0; i < b->n_events; i++) {
        if (form == KVBM_VLLM_FORM_MAP) pk_event_map(pk, &b->events[i]);
        else pk_event_array(pk, &b->events[i]);
    }
    pk_opt_u32(pk, b->has_dp_rank, b->dp_rank);
    return kvbm__mpack_buf_finish(&w, len, fn);
}

/* ---- JSON -------------------------------------------------------------------------- */

static void j_str(kvbm__jbuf *j, const char *s)
{
    kvbm__jp(j, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') kvbm__jp(j, "\\%c", *p);
        else if (*p < 0x20) kvbm__jp(j, "\\u%04x", *p);
        else kvbm__jp(j, "%c", *p);
    }
    kvbm__jp(j, "\"");
}

static void j_key_str(kvbm__jbuf *j, const char *k, const char *s)
{
    if (s == NULL) return;
    kvbm__jp(j, ",\"%s\":", k);
    j_str(j, s);
}

static void j_event(kvbm__jbuf *j, const kvbm_vllm_event *ev)
{
    kvbm__jp(j, "{\"type\":\"%s\"", kvbm_vllm_event_type_name(ev->type));
    if (ev->type != KVBM_VLLM_ALL_BLOCKS_CLEARED) {
        kvbm__jp(j, ",\"block_hashes\":[");
        for (size_t i = 0; i < ev->n_block_hashes; i++) kvbm__jp(j, "%s%" PRIu64, i ? "," : "", ev->block_hashes[i]);
        kvbm__jp(j, "]");
    }
    if (ev->type == KVBM_VLLM_BLOCK_STORED) {
        if (ev->has_parent) kvbm__jp(j, ",\"parent_block_hash\":%" PRIu64, ev->parent_block_hash);
        else kvbm__jp(j, ",\"parent_block_hash\":null");
        kvbm__jp(j, ",\"token_ids\":[");
        for (size_t i = 0; i < ev->n_token_ids; i++) kvbm__jp(j, "%s%" PRIu32, i ? "," : "", ev->token_ids[i]);
        kvbm__jp(j, "],\"block_size\":%" PRIu32, ev->block_size);
        if (ev->is_eagle) kvbm__jp(j, ",\"is_eagle\":true");
        if (ev->has_lora_id) kvbm__jp(j, ",\"lora_id\":%" PRId64, ev->lora_id);
        j_key_str(j, "lora_name", ev->lora_name);
        if (ev->n_block_mm > 0) {
            kvbm__jp(j, ",\"block_mm_infos\":[");
            for (size_t b = 0; b < ev->n_block_mm; b++) {
                const kvbm_vllm_block_mm *m = &ev->block_mm[b];
                kvbm__jp(j, "%s[", b ? "," : "");
                kvbm__router_json_mm_objects(j, m->objects, m->n_objects);
                kvbm__jp(j, "]");
            }
            kvbm__jp(j, "]");
        }
    }
    j_key_str(j, "medium", ev->medium);
    if (ev->has_group_idx) kvbm__jp(j, ",\"group_idx\":%" PRIu32, ev->group_idx);
    j_key_str(j, "kv_cache_spec_kind", ev->kv_cache_spec_kind);
    if (ev->has_sliding_window) kvbm__jp(j, ",\"kv_cache_spec_sliding_window\":%" PRIu32, ev->sliding_window);
    if (ev->ignored) kvbm__jp(j, ",\"ignored\":true");
    kvbm__jp(j, "}");
}

kvbm_status kvbm_vllm_batch_to_json(const kvbm_vllm_batch *b, char *buf, size_t cap, size_t *len)
{
    static const char fn[] = "kvbm_vllm_batch_to_json";
    KVBM_TRY(check_batch(b, buf, cap, len, fn));
    kvbm__jbuf j = { buf, cap, 0 };
    if (isfinite(b->ts)) kvbm__jp(&j, "{\"ts\":%.6f", b->ts);
    else kvbm__jp(&j, "{\"ts\":null");
    if (b->has_dp_rank) kvbm__jp(&j, ",\"dp_rank\":%" PRIu32, b->dp_rank);
    else kvbm__jp(&j, ",\"dp_rank\":null");
    kvbm__jp(&j, ",\"events\":[");
    for (size_t i = 0; i < b->n_events; i++) {
        if (i) kvbm__jp(&j, ",");
        j_event(&j, &b->events[i]);
    }
    kvbm__jp(&j, "]}");
    return kvbm__jbuf_finish(&j, len, fn);
}
