/* src/tokens/plh.c - PositionalLineageHash, schema B (spec 20 §1.5). The bit layout and
 * the inline accessors are in plh_int.h; everything else uses kvbm/plh.h.
 */
#include <stdio.h>
#include <string.h>

#include "kvbm/plh.h"
#include "plh_int.h"
#include "tokens_int.h"

kvbm_status kvbm_plh_new(uint64_t current, bool has_parent, uint64_t parent,
                         uint64_t position, kvbm_plh *out)
{
    if (out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (out == NULL)", __func__);
    if (position > KVBM_PLH_MAX_POSITION) {
        kvbm__set_error("PLH position %llu exceeds maximum supported value %llu",
                        (unsigned long long)position, (unsigned long long)KVBM_PLH_MAX_POSITION);
        return KVBM_ERANGE;
    }
    *out = kvbm__plh_make(current, has_parent ? parent : 0, position);
    return KVBM_OK;
}

kvbm_plh kvbm_plh_root(uint64_t block_hash) { return kvbm__plh_make(block_hash, 0, 0); }

kvbm_status kvbm_plh_extend(const kvbm_plh *parent, uint64_t child_block_hash, kvbm_plh *out)
{
    if (parent == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (parent == NULL || out == NULL)", __func__);
    uint64_t pos = kvbm_plh_position(*parent);
    if (pos >= KVBM_PLH_MAX_POSITION) {
        kvbm__set_error("PLH position %llu exceeds maximum supported value %llu",
                        (unsigned long long)pos + 1, (unsigned long long)KVBM_PLH_MAX_POSITION);
        return KVBM_ERANGE;
    }
    uint64_t cur = kvbm__chain_hash(parent->lo, child_block_hash);
    *out = kvbm__plh_make(cur, parent->lo, pos + 1);
    return KVBM_OK;
}

uint64_t kvbm_plh_position(kvbm_plh h) { return kvbm__plh_position(h); }

unsigned kvbm_plh_mode(kvbm_plh h) { return (unsigned)(h.hi >> KVBM__PLH_MODE_SHIFT); }

uint64_t kvbm_plh_current(kvbm_plh h) { return h.lo; }

uint64_t kvbm_plh_parent_fragment(kvbm_plh h) { return kvbm__plh_parent_fragment(h); }

uint64_t kvbm_plh_parent_fragment_for_child_position(kvbm_plh h, uint64_t child_position)
{
    return kvbm__plh_parent_fragment_for_child_position(h, child_position);
}

uint64_t kvbm_plh_current_fragment(kvbm_plh h)
{
    return h.lo & kvbm__plh_mask(kvbm__plh_stored_mode(h)->frag_bits);
}

int kvbm_plh_cmp(kvbm_plh a, kvbm_plh b)
{
    uint64_t pa = kvbm_plh_position(a), pb = kvbm_plh_position(b);
    if (pa != pb) return pa < pb ? -1 : 1;
    if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
    return 0;
}

static void store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

void kvbm_plh_to_be16(kvbm_plh h, uint8_t out[16])
{
    store_be64(out, h.hi);
    store_be64(out + 8, h.lo);
}

kvbm_plh kvbm_plh_from_be16(const uint8_t in[16])
{
    kvbm_plh h;
    h.hi = load_be64(in);
    h.lo = load_be64(in + 8);
    return h;
}

void kvbm_plh_to_le16(kvbm_plh h, uint8_t out[16])
{
    kvbm__store_le64(out, h.lo);
    kvbm__store_le64(out + 8, h.hi);
}

kvbm_status kvbm_plh_validate(kvbm_plh h)
{
    unsigned m = kvbm_plh_mode(h);
    if (m > 2) {
        kvbm__set_error("PLH mode %u is invalid", m);
        return KVBM_EPROTO;
    }
    uint64_t pos = kvbm_plh_position(h);
    if (kvbm__plh_mode_of(pos) != m) {
        kvbm__set_error("PLH mode %u is not canonical for position %llu", m,
                        (unsigned long long)pos);
        return KVBM_EPROTO;
    }
    if (pos == 0 && kvbm_plh_parent_fragment(h) != 0) {
        kvbm__set_error("PLH at position 0 has a non-zero parent fragment");
        return KVBM_EPROTO;
    }
    return KVBM_OK;
}

/* ---- text forms ---------------------------------------------------------------------- */

static const char hexdig[] = "0123456789abcdef";

char *kvbm_plh_to_hex(kvbm_plh h, char *buf)
{
    if (buf == NULL) return NULL;
    for (int i = 0; i < 16; i++) buf[i] = hexdig[(h.hi >> (60 - 4 * i)) & 0xF];
    for (int i = 0; i < 16; i++) buf[16 + i] = hexdig[(h.lo >> (60 - 4 * i)) & 0xF];
    buf[32] = '\0';
    return buf;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

kvbm_status kvbm_plh_from_hex(const char *text, kvbm_plh *out)
{
    if (text == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (text == NULL || out == NULL)", __func__);
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text += 2;
    uint64_t w[2] = { 0, 0 };
    for (int i = 0; i < 32; i++) {
        int v = hexval(text[i]);
        if (v < 0) {
            kvbm__set_error("PLH hex text: expected 32 hex digits, bad character at %d", i);
            return KVBM_EPROTO;
        }
        w[i / 16] = (w[i / 16] << 4) | (uint64_t)v;
    }
    if (text[32] != '\0') {
        kvbm__set_error("PLH hex text: more than 32 hex digits");
        return KVBM_EPROTO;
    }
    out->hi = w[0];
    out->lo = w[1];
    return KVBM_OK;
}

/* Bitcoin-alphabet base58 of the 8 big-endian bytes of @v (leading zero bytes -> '1').
 * Writes at most 11 characters + NUL; returns the number of characters. */
static size_t b58_u64(uint64_t v, char *out)
{
    static const char alpha[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    char tmp[16];
    size_t n = 0, zeros = 0;
    for (int i = 7; i >= 0 && ((v >> (8 * i)) & 0xFF) == 0; i--) zeros++;
    while (v != 0) {
        tmp[n++] = alpha[v % 58];
        v /= 58;
    }
    size_t len = 0;
    for (size_t i = 0; i < zeros; i++) out[len++] = '1';
    while (n != 0) out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

char *kvbm_plh_display(kvbm_plh h, char *buf)
{
    if (buf == NULL) return NULL;
    uint64_t pos = kvbm_plh_position(h);
    int n = snprintf(buf, KVBM_PLH_DISPLAY_LEN, "%llu:", (unsigned long long)pos);
    size_t len = (size_t)n;
    len += b58_u64(h.lo, buf + len);
    if (pos != 0) {
        buf[len++] = ':';
        len += b58_u64(kvbm_plh_parent_fragment(h), buf + len);
    }
    return buf;
}
