/* src/ext/common/mpack_buf.h - output buffers shared by the ext encoders (events, router,
 * vllm). Header-only (static inline), because the files compiled from src/ext/common into
 * every transport library must not need msgpack.
 *
 * kvbm__mpack_buf: a msgpack-c packer target that fills the caller's buffer and, once it is
 * full, only counts, so an encoder never allocates and reports the size it needs.
 * kvbm__jbuf: the same for printf-style text (JSON renderings). */
#ifndef KVBM_EXT_MPACK_BUF_H
#define KVBM_EXT_MPACK_BUF_H

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct kvbm__mpack_buf {
    uint8_t       *buf;
    size_t         cap, len;
    msgpack_packer pk;
} kvbm__mpack_buf;

static inline int kvbm__mpack_buf_write(void *data, const char *p, size_t n)
{
    kvbm__mpack_buf *w = data;
    if (w->len <= w->cap && n <= w->cap - w->len) memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

/* Start writing into @buf/@cap (NULL with 0 allowed); pack through &w->pk. */
static inline void kvbm__mpack_buf_init(kvbm__mpack_buf *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    msgpack_packer_init(&w->pk, w, kvbm__mpack_buf_write);
}

/* *@len = the full size; KVBM_OK, or KVBM_EOVERFLOW with a message naming @fn. */
static inline kvbm_status kvbm__mpack_buf_finish(const kvbm__mpack_buf *w, size_t *len, const char *fn)
{
    *len = w->len;
    if (w->len > w->cap) {
        kvbm__set_error("%s: %zu bytes needed, buffer has %zu", fn, w->len, w->cap);
        return KVBM_EOVERFLOW;
    }
    return KVBM_OK;
}

/* An unsigned integer in its smallest msgpack form (what msgpack_pack_uint64 writes), stored
 * straight into the buffer instead of through the packer's callback (the hot path of long
 * token lists). @pk must come from kvbm__mpack_buf_init. */
static inline void kvbm__mpack_uint(msgpack_packer *pk, uint64_t v)
{
    kvbm__mpack_buf *w = pk->data;
    uint8_t tmp[9], *o = w->len <= w->cap && w->cap - w->len >= 9 ? w->buf + w->len : tmp;
    size_t n;
    if (v <= 0x7f) {
        o[0] = (uint8_t)v;
        n = 1;
    } else if (v <= 0xff) {
        o[0] = 0xcc;
        o[1] = (uint8_t)v;
        n = 2;
    } else if (v <= 0xffff) {
        o[0] = 0xcd;
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        n = 3;
    } else if (v <= 0xffffffffu) {
        o[0] = 0xce;
        o[1] = (uint8_t)(v >> 24);
        o[2] = (uint8_t)(v >> 16);
        o[3] = (uint8_t)(v >> 8);
        o[4] = (uint8_t)v;
        n = 5;
    } else {
        o[0] = 0xcf;
        for (int i = 0; i < 8; i++) o[1 + i] = (uint8_t)(v >> (56 - 8 * i));
        n = 9;
    }
    if (o == tmp) kvbm__mpack_buf_write(w, (const char *)tmp, n);
    else w->len += n;
}

/* a NUL-terminated string as msgpack str */
static inline void kvbm__mpack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

typedef struct kvbm__jbuf {
    char  *buf;
    size_t cap, len;
} kvbm__jbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void kvbm__jp(kvbm__jbuf *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = j->len < j->cap ? j->cap - j->len : 0;
    int n = vsnprintf(room > 0 ? j->buf + j->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) j->len += (size_t)n;
}

/* *@len = strlen of the full rendering; KVBM_OK, or KVBM_EOVERFLOW (message naming @fn)
 * when it and its NUL do not fit (the buffer holds a terminated prefix when cap > 0). */
static inline kvbm_status kvbm__jbuf_finish(const kvbm__jbuf *j, size_t *len, const char *fn)
{
    *len = j->len;
    if (j->len + 1 > j->cap) {
        kvbm__set_error("%s: %zu bytes needed, buffer has %zu", fn, j->len + 1, j->cap);
        return KVBM_EOVERFLOW;
    }
    return KVBM_OK;
}

#endif /* KVBM_EXT_MPACK_BUF_H */
