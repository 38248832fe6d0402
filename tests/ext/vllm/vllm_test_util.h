/* tests/ext/vllm/vllm_test_util.h - helpers of the vLLM codec tests: hex, a decode space
 * big enough for any test input, and a msgpack builder for hand-made inputs. */
#ifndef KVBM_TEST_VLLM_UTIL_H
#define KVBM_TEST_VLLM_UTIL_H

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvbm/vllm_events.h"
#include "support/wire_vectors.h"

/* hex to bytes (tests/support/wire_vectors); aborts on a bad string */
static inline size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = test_wire_unhex(hex, out, cap);
    if (n == 0 && hex[0] != '\0') abort();
    return n;
}

static inline void tohex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

#define VSP_CAP 4096
typedef struct vsp {
    kvbm_vllm_event        ev[VSP_CAP];
    uint64_t               u64[VSP_CAP];
    uint32_t               tok[VSP_CAP];
    kvbm_vllm_block_mm     bmm[VSP_CAP];
    kvbm_router_mm_object  mmo[VSP_CAP];
    char                   chars[VSP_CAP];
    kvbm_vllm_decode_space sp;
} vsp;

static inline vsp *vsp_init(vsp *s)
{
    s->sp = (kvbm_vllm_decode_space){ s->ev, VSP_CAP, s->u64, VSP_CAP, s->tok, VSP_CAP,
                                      s->bmm, VSP_CAP, s->mmo, VSP_CAP, s->chars, VSP_CAP };
    return s;
}

static inline vsp *vsp_new(void)
{
    vsp *s = calloc(1, sizeof *s);
    if (s == NULL) abort();
    return vsp_init(s);
}

/* msgpack builder (msgpack-c sbuffer) */
typedef struct mb {
    msgpack_sbuffer sb;
    msgpack_packer  pk;
} mb;

static inline void mb_init(mb *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}
static inline void mb_free(mb *m) { msgpack_sbuffer_destroy(&m->sb); }
static inline void mb_str(mb *m, const char *s)
{
    msgpack_pack_str(&m->pk, strlen(s));
    msgpack_pack_str_body(&m->pk, s, strlen(s));
}
static inline void mb_arr(mb *m, size_t n) { msgpack_pack_array(&m->pk, n); }
static inline void mb_map(mb *m, size_t n) { msgpack_pack_map(&m->pk, n); }
static inline void mb_u(mb *m, uint64_t v) { msgpack_pack_uint64(&m->pk, v); }
static inline void mb_i(mb *m, int64_t v) { msgpack_pack_int64(&m->pk, v); }
static inline void mb_nil(mb *m) { msgpack_pack_nil(&m->pk); }
static inline void mb_us(mb *m, const uint64_t *v, size_t n)
{
    mb_arr(m, n);
    for (size_t i = 0; i < n; i++) mb_u(m, v[i]);
}
/* batch header [ts, [ ... n events ...], then the caller packs the events and dp_rank */
static inline void mb_batch(mb *m, size_t n_events)
{
    mb_arr(m, 3);
    msgpack_pack_double(&m->pk, 1.5);
    mb_arr(m, n_events);
}

#endif
