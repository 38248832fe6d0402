/* src/ext/events/json.c - JSON rendering and parsing of KV events (kvbm/events_wire.h):
 * the serde_json shapes of spec 20 §3.6 with u128 values in decimal. No JSON library:
 * json-c cannot hold integers above 2^63, and the shapes are fixed. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"
#include "kvbm/events_wire.h"

/* ---- u128 decimal ------------------------------------------------------------------------ */

/* Decimal digits of hi:lo into out (at least 40 bytes); returns the length. */
static size_t u128_dec(uint64_t hi, uint64_t lo, char *out)
{
    uint32_t limb[4] = { (uint32_t)(hi >> 32), (uint32_t)hi, (uint32_t)(lo >> 32), (uint32_t)lo };
    char rev[40];
    size_t n = 0;
    do {
        uint64_t rem = 0;
        for (int i = 0; i < 4; i++) {
            uint64_t cur = rem << 32 | limb[i];
            limb[i] = (uint32_t)(cur / 10);
            rem = cur % 10;
        }
        rev[n++] = (char)('0' + rem);
    } while (limb[0] | limb[1] | limb[2] | limb[3]);
    for (size_t i = 0; i < n; i++) out[i] = rev[n - 1 - i];
    return n;
}

/* ---- rendering ---------------------------------------------------------------------------- */

struct jbuf {
    char  *buf;
    size_t cap, len;
};

static void put(struct jbuf *j, const char *s, size_t n)
{
    if (j->len < j->cap) {
        size_t room = j->cap - j->len;
        memcpy(j->buf + j->len, s, n < room ? n : room);
    }
    j->len += n;
}

static void puts_(struct jbuf *j, const char *s) { put(j, s, strlen(s)); }

static void put_u128(struct jbuf *j, uint64_t hi, uint64_t lo)
{
    char d[40];
    put(j, d, u128_dec(hi, lo, d));
}

static kvbm_status finish(struct jbuf *j, size_t *len)
{
    *len = j->len;
    if (j->len >= j->cap) { /* no room for the NUL */
        if (j->cap > 0) j->buf[j->cap - 1] = '\0';
        kvbm__set_error("events json: %zu bytes needed, buffer has %zu", j->len + 1, j->cap);
        return KVBM_EOVERFLOW;
    }
    j->buf[j->len] = '\0';
    return KVBM_OK;
}

static const char *variant(kvbm_event_kind k)
{
    return k == KVBM_EVENT_CREATE ? "Create" : k == KVBM_EVENT_REMOVE ? "Remove" : NULL;
}

kvbm_status kvbm_events_batch_to_json(const kvbm_event_batch *b, char *buf, size_t cap, size_t *len)
{
    if (b == NULL || len == NULL || (buf == NULL && cap > 0) || (b->n > 0 && b->hashes == NULL)) {
        kvbm__set_error("kvbm_events_batch_to_json: NULL argument");
        return KVBM_EINVAL;
    }
    struct jbuf j = { buf, cap, 0 };
    puts_(&j, "{\"events\":");
    if (b->kind == KVBM_EVENT_SHUTDOWN) {
        puts_(&j, "\"Shutdown\"");
    } else {
        const char *v = variant(b->kind);
        if (v == NULL) {
            kvbm__set_error("kvbm_events_batch_to_json: unknown kind %d", (int)b->kind);
            return KVBM_EINVAL;
        }
        puts_(&j, "{\"");
        puts_(&j, v);
        puts_(&j, "\":[");
        for (size_t i = 0; i < b->n; i++) {
            if (i > 0) puts_(&j, ",");
            put_u128(&j, b->hashes[i].hi, b->hashes[i].lo);
        }
        puts_(&j, "]}");
    }
    puts_(&j, ",\"instance_id\":");
    put_u128(&j, b->instance_id.hi, b->instance_id.lo);
    puts_(&j, "}");
    return finish(&j, len);
}

kvbm_status kvbm_events_event_to_json(const kvbm_event *e, char *buf, size_t cap, size_t *len)
{
    const char *v = e != NULL ? variant(e->kind) : NULL;
    if (v == NULL || len == NULL || (buf == NULL && cap > 0)) {
        kvbm__set_error("kvbm_events_event_to_json: NULL argument or not a Create/Remove event");
        return KVBM_EINVAL;
    }
    struct jbuf j = { buf, cap, 0 };
    puts_(&j, "{\"");
    puts_(&j, v);
    puts_(&j, "\":");
    put_u128(&j, e->hash.hi, e->hash.lo);
    puts_(&j, "}");
    return finish(&j, len);
}

/* ---- parsing ----------------------------------------------------------------------------- */

struct jp {
    const char *s;
    size_t      len, pos;
};

static kvbm_status jerr(struct jp *p, const char *what)
{
    kvbm__set_error("events json: %s at byte %zu", what, p->pos);
    return KVBM_EPROTO;
}

static void ws(struct jp *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static bool eat(struct jp *p, char c)
{
    ws(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

static bool peek(struct jp *p, char c)
{
    ws(p);
    return p->pos < p->len && p->s[p->pos] == c;
}

/* a string without escapes (every key and variant name) into out (cap bytes) */
static kvbm_status jstr(struct jp *p, char *out, size_t cap)
{
    if (!eat(p, '"')) return jerr(p, "expected a string");
    size_t n = 0;
    while (p->pos < p->len && p->s[p->pos] != '"') {
        if (p->s[p->pos] == '\\') return jerr(p, "escapes are not expected in keys");
        if (n + 1 >= cap) return jerr(p, "unexpected key");
        out[n++] = p->s[p->pos++];
    }
    if (p->pos >= p->len) return jerr(p, "unterminated string");
    p->pos++;
    out[n] = '\0';
    return KVBM_OK;
}

static kvbm_status ju128(struct jp *p, uint64_t *hi, uint64_t *lo)
{
    ws(p);
    uint32_t limb[4] = { 0, 0, 0, 0 }; /* most significant first */
    size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        uint64_t carry = (uint64_t)(p->s[p->pos] - '0');
        for (int i = 3; i >= 0; i--) {
            uint64_t cur = (uint64_t)limb[i] * 10 + carry;
            limb[i] = (uint32_t)cur;
            carry = cur >> 32;
        }
        if (carry != 0) return jerr(p, "integer above 2^128 - 1");
        p->pos++;
    }
    if (p->pos == start) return jerr(p, "expected an unsigned integer");
    if (p->s[start] == '0' && p->pos - start > 1) return jerr(p, "leading zero");
    *hi = (uint64_t)limb[0] << 32 | limb[1];
    *lo = (uint64_t)limb[2] << 32 | limb[3];
    return KVBM_OK;
}

static kvbm_status jvariant(struct jp *p, kvbm_event_kind *k)
{
    char name[16];
    KVBM_TRY(jstr(p, name, sizeof name));
    if (strcmp(name, "Create") == 0) *k = KVBM_EVENT_CREATE;
    else if (strcmp(name, "Remove") == 0) *k = KVBM_EVENT_REMOVE;
    else return jerr(p, "unknown variant (expected Create or Remove)");
    return KVBM_OK;
}

static kvbm_status jevents(struct jp *p, kvbm_events_decoded *d)
{
    if (peek(p, '"')) {
        char name[16];
        KVBM_TRY(jstr(p, name, sizeof name));
        if (strcmp(name, "Shutdown") != 0) return jerr(p, "unknown events variant");
        d->batch.kind = KVBM_EVENT_SHUTDOWN;
        return KVBM_OK;
    }
    if (!eat(p, '{')) return jerr(p, "expected '{' or \"Shutdown\"");
    kvbm_event_kind kind = KVBM_EVENT_CREATE; /* set by jvariant (gcc -O2 cannot tell) */
    KVBM_TRY(jvariant(p, &kind));
    if (!eat(p, ':') || !eat(p, '[')) return jerr(p, "expected ':['");
    size_t n = 0;
    if (!eat(p, ']')) {
        for (;;) {
            if (n == d->cap_) {
                size_t ncap = d->cap_ ? d->cap_ * 2 : 16;
                if (ncap > p->len) ncap = p->len; /* a value takes at least one byte */
                if (ncap <= n) ncap = n + 1;
                kvbm_plh *s = kvbm__realloc(d->storage_, ncap * sizeof *s);
                if (s == NULL) {
                    kvbm__set_error("events json: out of memory");
                    return KVBM_ENOMEM;
                }
                d->storage_ = s;
                d->cap_ = ncap;
            }
            kvbm_plh h;
            KVBM_TRY(ju128(p, &h.hi, &h.lo));
            d->storage_[n++] = h;
            if (eat(p, ']')) break;
            if (!eat(p, ',')) return jerr(p, "expected ',' or ']'");
        }
    }
    if (!eat(p, '}')) return jerr(p, "expected '}'");
    d->batch.kind = kind;
    d->batch.hashes = d->storage_;
    d->batch.n = n;
    return KVBM_OK;
}

kvbm_status kvbm_events_batch_from_json(const char *json, size_t len, kvbm_events_decoded *out)
{
    if (json == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_batch_from_json: NULL argument");
        return KVBM_EINVAL;
    }
    struct jp p = { json, len, 0 };
    kvbm_event_batch empty = { KVBM_EVENT_SHUTDOWN, NULL, 0, { 0, 0 } };
    out->batch = empty;
    bool have_ev = false, have_id = false;
    kvbm_u128 iid = { 0, 0 };
    kvbm_status st = KVBM_OK;
    if (!eat(&p, '{')) st = jerr(&p, "expected '{'");
    while (st == KVBM_OK) {
        char key[16];
        if ((st = jstr(&p, key, sizeof key)) != KVBM_OK) break;
        if (!eat(&p, ':')) { st = jerr(&p, "expected ':'"); break; }
        if (strcmp(key, "events") == 0 && !have_ev) {
            st = jevents(&p, out);
            have_ev = true;
        } else if (strcmp(key, "instance_id") == 0 && !have_id) {
            st = ju128(&p, &iid.hi, &iid.lo);
            have_id = true;
        } else {
            st = jerr(&p, "unknown or duplicate key");
        }
        if (st != KVBM_OK || eat(&p, '}')) break;
        if (!eat(&p, ',')) st = jerr(&p, "expected ',' or '}'");
    }
    if (st == KVBM_OK && (!have_ev || !have_id)) st = jerr(&p, "missing \"events\" or \"instance_id\"");
    ws(&p);
    if (st == KVBM_OK && p.pos != len) st = jerr(&p, "trailing characters");
    if (st != KVBM_OK) {
        out->batch = empty;
        return st;
    }
    out->batch.instance_id = iid;
    return KVBM_OK;
}

kvbm_status kvbm_events_event_from_json(const char *json, size_t len, kvbm_event *out)
{
    if (json == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_event_from_json: NULL argument");
        return KVBM_EINVAL;
    }
    struct jp p = { json, len, 0 };
    kvbm_event e = { KVBM_EVENT_CREATE, { 0, 0 } };
    if (!eat(&p, '{')) return jerr(&p, "expected '{'");
    KVBM_TRY(jvariant(&p, &e.kind));
    if (!eat(&p, ':')) return jerr(&p, "expected ':'");
    KVBM_TRY(ju128(&p, &e.hash.hi, &e.hash.lo));
    if (!eat(&p, '}')) return jerr(&p, "expected '}'");
    ws(&p);
    if (p.pos != len) return jerr(&p, "trailing characters");
    *out = e;
    return KVBM_OK;
}
