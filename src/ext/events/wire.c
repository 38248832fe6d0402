/* src/ext/events/wire.c - the msgpack wire of KV events (kvbm/events_wire.h) on msgpack-c.
 *
 * Encoding goes through a msgpack_packer whose write callback fills the caller's buffer
 * (and only counts once it is full), so the encoder never allocates. Decoding first walks
 * the bytes once (bound_check) to prove that every array/map/str/bin length fits in what
 * remains - msgpack-c allocates an array's element table from the claimed count before
 * reading the elements - and that nothing trails the object; then msgpack-c unpacks it
 * into a zone whose size is thereby bounded by a small multiple of the input length.
 */
#include "ext/common/mpack_buf.h"
#include "internal.h"
#include "kvbm/events_wire.h"

/* ---- encoding ------------------------------------------------------------------------------ */

/* @n u128 values (hi, lo pairs), each as msgpack bin8 of 16 big-endian bytes - exactly
 * what msgpack_pack_bin(16) + msgpack_pack_bin_body write - stored straight into the
 * buffer (like kvbm__mpack_uint): the per-hash cost of a batch is a few stores instead of
 * two packer callbacks and their copies. Counts only once the buffer is full. */
static inline void store_be64(uint8_t *o, uint64_t v)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
    memcpy(o, &v, 8);
#else
    for (int k = 0; k < 8; k++) o[k] = (uint8_t)(v >> (56 - 8 * k));
#endif
}

static uint8_t *put_u128s(uint8_t *o, const kvbm_plh *v, size_t n)
{
    for (size_t i = 0; i < n; i++, o += 18) {
        o[0] = 0xc4;
        o[1] = 16;
        store_be64(o + 2, v[i].hi);
        store_be64(o + 10, v[i].lo);
    }
    return o;
}

static void pack_u128s(msgpack_packer *pk, const kvbm_plh *v, size_t n)
{
    kvbm__mpack_buf *w = pk->data;
    size_t need = 18 * n;
    if (w->len <= w->cap && w->cap - w->len >= need) put_u128s(w->buf + w->len, v, n);
    w->len += need;
}

/* A Create or Remove batch that fits @cap, written straight into @buf - the bytes the
 * packer path below writes (array 2, map 1, fixstr of 6, the array header msgpack-c picks
 * for n, the hashes, the instance id): a pipeline emits one per type switch (~19 events
 * in the conversation replay), and the packer's five callbacks for the header cost as much
 * as the hashes. Returns false (nothing written) when the batch does not fit. */
static bool encode_direct(const kvbm_event_batch *b, uint8_t *buf, size_t cap, size_t *len)
{
    size_t n = b->n, ah = n < 16 ? 1 : n < 65536 ? 3 : 5;
    if (cap < 9 + ah || (cap - 9 - ah) / 18 < n + 1) return false;
    uint8_t *o = buf;
    o[0] = 0x92; /* [events, instance_id] */
    o[1] = 0x81; /* {kind: [...]} */
    o[2] = 0xa6;
    memcpy(o + 3, b->kind == KVBM_EVENT_CREATE ? "Create" : "Remove", 6);
    o += 9;
    if (ah == 1) {
        *o++ = (uint8_t)(0x90 | n);
    } else if (ah == 3) {
        o[0] = 0xdc;
        o[1] = (uint8_t)(n >> 8);
        o[2] = (uint8_t)n;
        o += 3;
    } else {
        o[0] = 0xdd;
        for (int k = 0; k < 4; k++) o[1 + k] = (uint8_t)(n >> (24 - 8 * k));
        o += 5;
    }
    kvbm_plh iid = { b->instance_id.hi, b->instance_id.lo };
    o = put_u128s(o, b->hashes, n);
    o = put_u128s(o, &iid, 1);
    *len = (size_t)(o - buf);
    return true;
}

static void pack_u128(msgpack_packer *pk, uint64_t hi, uint64_t lo)
{
    kvbm_plh v = { hi, lo };
    pack_u128s(pk, &v, 1);
}

kvbm_status kvbm_events_wire_encode(const kvbm_event_batch *b, uint8_t *buf, size_t cap, size_t *len)
{
    if (b == NULL || len == NULL || (buf == NULL && cap > 0)) {
        kvbm__set_error("kvbm_events_wire_encode: %s is NULL", b == NULL ? "batch" : len == NULL ? "len" : "buf");
        return KVBM_EINVAL;
    }
    bool shutdown = b->kind == KVBM_EVENT_SHUTDOWN;
    if ((unsigned)b->kind > KVBM_EVENT_SHUTDOWN || (shutdown && b->n > 0) ||
        (!shutdown && (b->n == 0 || b->hashes == NULL)) || b->n > UINT32_MAX) {
        kvbm__set_error("kvbm_events_wire_encode: invalid batch (kind %d, %zu hashes)", (int)b->kind, b->n);
        return KVBM_EINVAL;
    }
    if (!shutdown && encode_direct(b, buf, cap, len)) return KVBM_OK;
    kvbm__mpack_buf w;
    kvbm__mpack_buf_init(&w, buf, cap);
    msgpack_packer *pk = &w.pk;
    msgpack_pack_array(pk, 2);
    if (shutdown) {
        kvbm__mpack_str(pk, "Shutdown");
    } else {
        msgpack_pack_map(pk, 1);
        kvbm__mpack_str(pk, b->kind == KVBM_EVENT_CREATE ? "Create" : "Remove");
        msgpack_pack_array(pk, b->n);
        pack_u128s(pk, b->hashes, b->n);
    }
    pack_u128(pk, b->instance_id.hi, b->instance_id.lo);
    return kvbm__mpack_buf_finish(&w, len, "kvbm_events_wire_encode");
}

static kvbm_status encode_cb(void *ctx, const kvbm_event_batch *b, uint8_t *buf, size_t cap, size_t *len)
{
    (void)ctx;
    return kvbm_events_wire_encode(b, buf, cap, len);
}

kvbm_events_encoder kvbm_events_wire_encoder(void)
{
    kvbm_events_encoder e = { encode_cb, NULL };
    return e;
}

/* ---- decoding ------------------------------------------------------------------------------ */

static kvbm_status proto(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static kvbm_status proto(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kvbm__set_error("events wire: %s", msg);
    return KVBM_EPROTO;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* One pass over the first msgpack object of buf[0..len): every length must fit in what
 * remains and the object must end exactly at len. */
static kvbm_status bound_check(const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    uint64_t pending = 1; /* objects still to read */
    while (pending > 0) {
        if (pos >= len) return proto("truncated at byte %zu (%llu more values expected)", pos,
                                     (unsigned long long)pending);
        uint8_t t = buf[pos++];
        pending--;
        uint64_t items = 0, skip = 0;
        int lb = 0; /* length field bytes */
        if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
            /* fixint, nil, bool */
        } else if (t >= 0x80 && t <= 0x8f) {
            items = 2u * (t & 0x0f);
        } else if (t >= 0x90 && t <= 0x9f) {
            items = t & 0x0f;
        } else if (t >= 0xa0 && t <= 0xbf) {
            skip = t & 0x1f;
        } else {
            switch (t) {
            case 0xc4: case 0xd9: lb = 1; break;                  /* bin8, str8 */
            case 0xc5: case 0xda: lb = 2; break;                  /* bin16, str16 */
            case 0xc6: case 0xdb: lb = 4; break;                  /* bin32, str32 */
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xca: case 0xce: case 0xd2: skip = 4; break;
            case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break; case 0xd5: skip = 3; break; /* fixext 1, 2 */
            case 0xd6: skip = 5; break; case 0xd7: skip = 9; break; /* fixext 4, 8 */
            case 0xd8: skip = 17; break;                            /* fixext 16 */
            case 0xc7: lb = 1; skip = 1; break;                     /* ext8: + type */
            case 0xc8: lb = 2; skip = 1; break;
            case 0xc9: lb = 4; skip = 1; break;
            case 0xdc: case 0xde: lb = 2; break;                  /* array16, map16 */
            case 0xdd: case 0xdf: lb = 4; break;                  /* array32, map32 */
            default: return proto("invalid type byte 0x%02x at byte %zu", t, pos - 1);
            }
            if (lb > 0) {
                if (len - pos < (size_t)lb) return proto("truncated length at byte %zu", pos);
                uint64_t n = be(buf + pos, lb);
                pos += (size_t)lb;
                if (t == 0xdc || t == 0xdd) items = n;
                else if (t == 0xde || t == 0xdf) items = 2 * n;
                else skip += n;
            }
        }
        if (skip > len - pos) return proto("length %llu at byte %zu exceeds the %zu bytes left",
                                           (unsigned long long)skip, pos, len - pos);
        pos += (size_t)skip;
        pending += items;
        if (pending > len - pos) /* every value takes at least one byte */
            return proto("%llu values claimed at byte %zu, only %zu bytes left",
                         (unsigned long long)pending, pos, len - pos);
    }
    if (pos != len) return proto("%zu trailing bytes after the batch", len - pos);
    return KVBM_OK;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

static kvbm_status get_u128(const msgpack_object *o, uint64_t *hi, uint64_t *lo, const char *what)
{
    if (o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 16) {
        const uint8_t *p = (const uint8_t *)o->via.bin.ptr;
        *hi = be(p, 8);
        *lo = be(p + 8, 8);
        return KVBM_OK;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *hi = 0;
        *lo = o->via.u64;
        return KVBM_OK;
    }
    if (o->type == MSGPACK_OBJECT_BIN)
        return proto("%s: bin of %u bytes, a u128 needs 16", what, (unsigned)o->via.bin.size);
    return proto("%s: expected a u128 (bin of 16 bytes or unsigned integer), got msgpack type %d",
                 what, (int)o->type);
}

static kvbm_status reserve(kvbm_events_decoded *d, size_t n)
{
    if (n <= d->cap_) return KVBM_OK;
    kvbm_plh *p = kvbm__realloc(d->storage_, n * sizeof *p);
    if (p == NULL) {
        kvbm__set_error("events wire: out of memory for %zu hashes", n);
        return KVBM_ENOMEM;
    }
    d->storage_ = p;
    d->cap_ = n;
    return KVBM_OK;
}

static kvbm_status decode_events(const msgpack_object *ev, kvbm_events_decoded *d)
{
    if (str_is(ev, "Shutdown")) {
        d->batch.kind = KVBM_EVENT_SHUTDOWN;
        return KVBM_OK;
    }
    if (ev->type == MSGPACK_OBJECT_STR)
        return proto("unknown events variant \"%.*s\"", (int)(ev->via.str.size > 32 ? 32 : ev->via.str.size), ev->via.str.ptr);
    if (ev->type != MSGPACK_OBJECT_MAP || ev->via.map.size != 1)
        return proto("events: expected {\"Create\"|\"Remove\": [...]} or \"Shutdown\"");
    const msgpack_object *k = &ev->via.map.ptr[0].key, *v = &ev->via.map.ptr[0].val;
    kvbm_event_kind kind = KVBM_EVENT_CREATE;
    if (str_is(k, "Create")) kind = KVBM_EVENT_CREATE;
    else if (str_is(k, "Remove")) kind = KVBM_EVENT_REMOVE;
    else return proto("events: unknown variant (expected Create, Remove or Shutdown)");
    if (v->type != MSGPACK_OBJECT_ARRAY) return proto("events: the %s value is not an array",
                                                      kind == KVBM_EVENT_CREATE ? "Create" : "Remove");
    size_t n = v->via.array.size;
    KVBM_TRY(reserve(d, n));
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "hash %zu", i);
        kvbm_plh h;
        KVBM_TRY(get_u128(&v->via.array.ptr[i], &h.hi, &h.lo, what));
        if (kvbm_plh_validate(h) != KVBM_OK) return proto("hash %zu is not a valid PLH", i);
        d->storage_[i] = h;
    }
    d->batch.kind = kind;
    d->batch.hashes = d->storage_;
    d->batch.n = n;
    return KVBM_OK;
}

static kvbm_status decode_obj(const msgpack_object *o, kvbm_events_decoded *d)
{
    const msgpack_object *ev = NULL, *iid = NULL;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        if (o->via.array.size != 2) return proto("batch: an array of %u values, expected 2", (unsigned)o->via.array.size);
        ev = &o->via.array.ptr[0];
        iid = &o->via.array.ptr[1];
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            const msgpack_object **slot = str_is(k, "events") ? &ev : str_is(k, "instance_id") ? &iid : NULL;
            if (slot == NULL) return proto("batch: unknown key in the map form");
            if (*slot != NULL) return proto("batch: duplicate key in the map form");
            *slot = &o->via.map.ptr[i].val;
        }
        if (ev == NULL || iid == NULL) return proto("batch: the map form needs \"events\" and \"instance_id\"");
    } else {
        return proto("batch: expected a 2-array or a map, got msgpack type %d", (int)o->type);
    }
    KVBM_TRY(get_u128(iid, &d->batch.instance_id.hi, &d->batch.instance_id.lo, "instance_id"));
    return decode_events(ev, d);
}

kvbm_status kvbm_events_wire_decode(const uint8_t *buf, size_t len, kvbm_events_decoded *out)
{
    if (out == NULL || (buf == NULL && len > 0)) {
        kvbm__set_error("kvbm_events_wire_decode: %s is NULL", out == NULL ? "out" : "buf");
        return KVBM_EINVAL;
    }
    kvbm_event_batch empty = { KVBM_EVENT_SHUTDOWN, NULL, 0, { 0, 0 } };
    out->batch = empty;
    if (len == 0) return proto("empty message");
    KVBM_TRY(bound_check(buf, len));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&u, (const char *)buf, len, &off);
    kvbm_status st;
    if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
        kvbm__set_error("events wire: out of memory");
        st = KVBM_ENOMEM;
    } else if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        st = proto("msgpack-c rejected the message (%d at byte %zu)", (int)r, off);
    } else {
        st = decode_obj(&u.data, out);
    }
    msgpack_unpacked_destroy(&u);
    if (st != KVBM_OK) out->batch = empty;
    return st;
}

void kvbm_events_decoded_free(kvbm_events_decoded *d)
{
    if (d == NULL) return;
    kvbm__free(d->storage_);
    kvbm_events_decoded z = KVBM_EVENTS_DECODED_INIT;
    *d = z;
}
