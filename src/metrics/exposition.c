/* src/metrics/exposition.c - Prometheus text 0.0.4 and OpenMetrics 1.0 text output of a
 * scrape: escaping, number formatting, byte-stable ordering (families by name, samples by
 * label values, then source order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/aggregator_int.h"

/* ---- buffers and escaping ------------------------------------------------------------- */

bool kvbm__buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (n == 0) return true;
    if (!kvbm__grow(buf, cap, *len + n, 1)) return false;
    memcpy(*buf + *len, s, n);
    *len += n;
    return true;
}

/* Length of a valid UTF-8 sequence at s[0] (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) { k = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (n < k || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return k;
}

/* The run of bytes from @i that need no escaping; after it, *rep (*rep_len bytes) replaces
 * the next *skip input bytes (nothing when the run reaches @n). */
static size_t plain_run(const char *str, size_t n, size_t i, bool quote, const char **rep,
                        size_t *rep_len, size_t *skip)
{
    /* bytes that end a plain run: 1 = '\\' or newline, 2 = '"', 4 = non-ASCII */
    static const unsigned char stop[256] = {
        ['\\'] = 1, ['\n'] = 1, ['"'] = 2,
        [0x80] = 4, [0x81] = 4, [0x82] = 4, [0x83] = 4, [0x84] = 4, [0x85] = 4, [0x86] = 4, [0x87] = 4,
        [0x88] = 4, [0x89] = 4, [0x8a] = 4, [0x8b] = 4, [0x8c] = 4, [0x8d] = 4, [0x8e] = 4, [0x8f] = 4,
        [0x90] = 4, [0x91] = 4, [0x92] = 4, [0x93] = 4, [0x94] = 4, [0x95] = 4, [0x96] = 4, [0x97] = 4,
        [0x98] = 4, [0x99] = 4, [0x9a] = 4, [0x9b] = 4, [0x9c] = 4, [0x9d] = 4, [0x9e] = 4, [0x9f] = 4,
        [0xa0] = 4, [0xa1] = 4, [0xa2] = 4, [0xa3] = 4, [0xa4] = 4, [0xa5] = 4, [0xa6] = 4, [0xa7] = 4,
        [0xa8] = 4, [0xa9] = 4, [0xaa] = 4, [0xab] = 4, [0xac] = 4, [0xad] = 4, [0xae] = 4, [0xaf] = 4,
        [0xb0] = 4, [0xb1] = 4, [0xb2] = 4, [0xb3] = 4, [0xb4] = 4, [0xb5] = 4, [0xb6] = 4, [0xb7] = 4,
        [0xb8] = 4, [0xb9] = 4, [0xba] = 4, [0xbb] = 4, [0xbc] = 4, [0xbd] = 4, [0xbe] = 4, [0xbf] = 4,
        [0xc0] = 4, [0xc1] = 4, [0xc2] = 4, [0xc3] = 4, [0xc4] = 4, [0xc5] = 4, [0xc6] = 4, [0xc7] = 4,
        [0xc8] = 4, [0xc9] = 4, [0xca] = 4, [0xcb] = 4, [0xcc] = 4, [0xcd] = 4, [0xce] = 4, [0xcf] = 4,
        [0xd0] = 4, [0xd1] = 4, [0xd2] = 4, [0xd3] = 4, [0xd4] = 4, [0xd5] = 4, [0xd6] = 4, [0xd7] = 4,
        [0xd8] = 4, [0xd9] = 4, [0xda] = 4, [0xdb] = 4, [0xdc] = 4, [0xdd] = 4, [0xde] = 4, [0xdf] = 4,
        [0xe0] = 4, [0xe1] = 4, [0xe2] = 4, [0xe3] = 4, [0xe4] = 4, [0xe5] = 4, [0xe6] = 4, [0xe7] = 4,
        [0xe8] = 4, [0xe9] = 4, [0xea] = 4, [0xeb] = 4, [0xec] = 4, [0xed] = 4, [0xee] = 4, [0xef] = 4,
        [0xf0] = 4, [0xf1] = 4, [0xf2] = 4, [0xf3] = 4, [0xf4] = 4, [0xf5] = 4, [0xf6] = 4, [0xf7] = 4,
        [0xf8] = 4, [0xf9] = 4, [0xfa] = 4, [0xfb] = 4, [0xfc] = 4, [0xfd] = 4, [0xfe] = 4, [0xff] = 4,
    };
    const unsigned char mask = quote ? 7 : 5;
    const unsigned char *s = (const unsigned char *)str;
    size_t j = i;
    while (j < n) {
        while (j < n && !(stop[s[j]] & mask)) j++; /* the common case: plain ASCII */
        if (j == n) break;
        unsigned c = s[j];
        if (c < 0x80) {
            if (c == '\\') { *rep = "\\\\"; *rep_len = 2; *skip = 1; break; }
            if (c == '\n') { *rep = "\\n"; *rep_len = 2; *skip = 1; break; }
            if (c == '"' && quote) { *rep = "\\\""; *rep_len = 2; *skip = 1; break; }
            j++;
            continue;
        }
        size_t k = utf8_len(s + j, n - j);
        if (k == 0) { *rep = "\xEF\xBF\xBD"; *rep_len = 3; *skip = 1; break; }
        j += k;
    }
    return j - i;
}

bool kvbm__escape_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n, bool quote)
{
    size_t i = 0;
    while (i < n) {
        const char *rep = NULL;
        size_t rl = 0, skip = 0;
        size_t run = plain_run(s, n, i, quote, &rep, &rl, &skip);
        if (!kvbm__buf_put(buf, len, cap, s + i, run)) return false;
        i += run;
        if (i < n) {
            if (!kvbm__buf_put(buf, len, cap, rep, rl)) return false;
            i += skip;
        }
    }
    return true;
}

/* ---- writer ----------------------------------------------------------------------------- */

static char *wr_line(kvbm__wr *w, size_t n);

static void wr_put(kvbm__wr *w, const char *s, size_t n)
{
    if (n == 0) return;
    char *p = wr_line(w, n);
    if (p != NULL) memcpy(p, s, n);
    w->len += n; /* fixed buffer without room: count the size needed */
}

/* Room for @n more bytes at the end (growing if allowed): where to write, or NULL when a
 * fixed buffer has no room (or growing failed). The caller adds what it wrote to w->len. */
static char *wr_line(kvbm__wr *w, size_t n)
{
    if (w->len + n < w->cap) return w->buf + w->len;
    if (w->grow == NULL || w->oom) return NULL;
    size_t want = w->cap ? w->cap * 2 : 4096;
    while (want <= w->len + n) want *= 2;
    char *p = kvbm__realloc(w->buf, want);
    if (p == NULL) {
        w->oom = true;
        return NULL;
    }
    w->buf = p;
    w->cap = want;
    return w->buf + w->len;
}

static void wr_str(kvbm__wr *w, const char *s) { wr_put(w, s, strlen(s)); }

static void wr_escape(kvbm__wr *w, const char *s, bool quote)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        const char *rep = NULL;
        size_t rl = 0, skip = 0;
        size_t run = plain_run(s, n, i, quote, &rep, &rl, &skip);
        wr_put(w, s + i, run);
        i += run;
        if (i < n) {
            wr_put(w, rep, rl);
            i += skip;
        }
    }
}

/* A sample value: integers exactly (below 2^53), else the shortest of %.15g / %.17g that
 * reads back as the same double; NaN, +Inf, -Inf as both formats spell them. */
static size_t fmt_value(char out[40], double v)
{
    if (v != v) { memcpy(out, "NaN", 3); return 3; }
    if (v > 1.7976931348623157e308) { memcpy(out, "+Inf", 4); return 4; }
    if (v < -1.7976931348623157e308) { memcpy(out, "-Inf", 4); return 4; }
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && (double)(int64_t)v == v) {
        static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                       "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                       "8081828384858687888990919293949596979899";
        int64_t x = (int64_t)v;
        uint64_t u = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
        size_t n = 0;
        if (x < 0) out[n++] = '-';
        static const uint64_t pow10[16] = { 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u,
                                            100000000u, 1000000000u, 10000000000u, 100000000000u,
                                            1000000000000u, 10000000000000u, 100000000000000u,
                                            1000000000000000u, 10000000000000000u };
        size_t digits = 1;
        while (digits <= 16 && u >= pow10[digits - 1]) digits++; /* u < 2^53 < 10^16 */
        char *p = out + n + digits; /* written backwards, in place */
        while (u >= 100) { /* two digits per division */
            unsigned r = (unsigned)(u % 100);
            u /= 100;
            p -= 2;
            memcpy(p, pairs + 2 * r, 2);
        }
        if (u >= 10) { p -= 2; memcpy(p, pairs + 2 * u, 2); }
        else *--p = (char)('0' + u);
        return n + digits;
    }
    int n = snprintf(out, 40, "%.15g", v);
    if (strtod(out, NULL) != v) n = snprintf(out, 40, "%.17g", v);
    return (size_t)n;
}

/* ---- ordering -------------------------------------------------------------------------- */

/* Compare (p1 ++ q1) with (p2 ++ q2) bytewise (unsigned); a proper prefix is smaller. */
static int cmp_concat(const char *p1, size_t n1, const char *p2, size_t n2, const char *q, size_t nq)
{
    size_t l1 = n1 + nq, l2 = n2 + nq;
    for (size_t i = 0; i < l1 && i < l2; i++) {
        unsigned char a = (unsigned char)(i < n1 ? p1[i] : q[i - n1]);
        unsigned char b = (unsigned char)(i < n2 ? p2[i] : q[i - n2]);
        if (a != b) return a < b ? -1 : 1;
    }
    return l1 < l2 ? -1 : l1 > l2;
}

/* Label values of sets @x and @y in label order, external values last. */
static int key_cmp(const kvbm__scrape *s, uint32_t x, uint32_t y)
{
    const kvbm__labelset *a = &s->sets[x], *b = &s->sets[y];
    size_t m = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(s->arena + a->key_off, s->arena + b->key_off, m);
    if (c != 0 || a->key_len == b->key_len) return c;
    return cmp_concat(s->arena + a->key_off, a->key_len, s->arena + b->key_off, b->key_len,
                      s->ext_key, s->ext_key_len);
}

typedef int (*u32_cmp)(const kvbm__scrape *s, uint32_t x, uint32_t y);

/* Stable merge sort of v[0..n) (tmp: n scratch elements). */
static void sort_u32(const kvbm__scrape *s, u32_cmp cmp, uint32_t *v, uint32_t *tmp, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = v[i];
            size_t j = i;
            while (j > 0 && cmp(s, v[j - 1], x) > 0) { v[j] = v[j - 1]; j--; }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    sort_u32(s, cmp, v, tmp, h);
    sort_u32(s, cmp, v + h, tmp, n - h);
    if (cmp(s, v[h - 1], v[h]) <= 0) return;
    memcpy(tmp, v, h * sizeof *v);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) v[k++] = cmp(s, v[j], tmp[i]) < 0 ? v[j++] : tmp[i++];
    while (i < h) v[k++] = tmp[i++];
}

static bool order_samples(kvbm__scrape *s)
{
    if (!kvbm__grow(&s->order, &s->cap_order, 2 * s->n_samples + 1, sizeof *s->order) ||
        !kvbm__grow(&s->set_order, &s->cap_set_order, 2 * s->n_sets + 1, sizeof *s->set_order) ||
        !kvbm__grow(&s->fam_order, &s->cap_fam_order, s->n_fams + 1, sizeof *s->fam_order))
        return false;
    /* label sets by value: equal keys share a rank */
    for (size_t i = 0; i < s->n_sets; i++) s->set_order[i] = (uint32_t)i;
    sort_u32(s, key_cmp, s->set_order, s->set_order + s->n_sets, s->n_sets);
    uint32_t rank = 0;
    for (size_t i = 0; i < s->n_sets; i++) {
        if (i > 0 && key_cmp(s, s->set_order[i - 1], s->set_order[i]) != 0) rank++;
        s->sets[s->set_order[i]].rank = rank;
    }
    /* families by name (few: insertion sort) */
    for (size_t i = 0; i < s->n_fams; i++) {
        uint32_t f = (uint32_t)i;
        size_t j = i;
        while (j > 0 && strcmp(s->fams[s->fam_order[j - 1]].desc->name, s->fams[f].desc->name) > 0) {
            s->fam_order[j] = s->fam_order[j - 1];
            j--;
        }
        s->fam_order[j] = f;
    }
    /* two stable counting sorts: samples by rank (into the scratch half of order), then
     * by family - so each family's samples come out in rank order, ties in emission order */
    uint32_t *by_rank = s->order + s->n_samples, *cnt = s->set_order + s->n_sets; /* n_sets + 1 */
    memset(cnt, 0, (s->n_sets + 1) * sizeof *cnt);
    for (size_t i = 0; i < s->n_samples; i++) cnt[s->sets[s->samples[i].set].rank + 1]++;
    for (size_t r = 1; r <= s->n_sets; r++) cnt[r] += cnt[r - 1];
    for (size_t i = 0; i < s->n_samples; i++) by_rank[cnt[s->sets[s->samples[i].set].rank]++] = (uint32_t)i;
    uint32_t pos = 0;
    for (size_t i = 0; i < s->n_fams; i++) {
        kvbm__fam *f = &s->fams[s->fam_order[i]];
        f->first = pos;
        pos += f->count;
        f->count = 0;
    }
    for (size_t k = 0; k < s->n_samples; k++) {
        uint32_t i = by_rank[k];
        kvbm__fam *f = &s->fams[s->samples[i].fam];
        s->order[f->first + f->count++] = i;
    }
    return true;
}

/* ---- output ---------------------------------------------------------------------------- */

void kvbm__expose(kvbm__scrape *s, kvbm_exposition fmt, kvbm__wr *w)
{
    if (!order_samples(s)) {
        s->oom = true;
        return;
    }
    bool om = fmt == KVBM_EXPOSITION_OPENMETRICS;
    char val[40];
    for (size_t i = 0; i < s->n_fams; i++) {
        const kvbm__fam *f = &s->fams[s->fam_order[i]];
        if (f->count == 0) continue;
        const kvbm_metric_desc *d = f->desc;
        bool counter = d->type == KVBM_METRIC_TYPE_COUNTER;
        size_t name_len = f->name_len, fam_len = name_len;
        bool add_total = false;
        if (om && counter) {
            if (name_len > 6 && memcmp(d->name + name_len - 6, "_total", 6) == 0) fam_len -= 6;
            else add_total = true;
        }
        wr_put(w, "# HELP ", 7);
        wr_put(w, d->name, fam_len);
        wr_put(w, " ", 1);
        wr_escape(w, d->help != NULL ? d->help : "", om);
        wr_put(w, "\n# TYPE ", 8);
        wr_put(w, d->name, fam_len);
        wr_str(w, counter ? " counter\n" : " gauge\n");
        for (uint32_t k = 0; k < f->count; k++) {
            const kvbm__sample *x = &s->samples[s->order[f->first + k]];
            const kvbm__labelset *ls = &s->sets[x->set];
            char *p = wr_line(w, name_len + 6 + ls->lab_len + s->ext_len + 4 + sizeof val);
            if (p == NULL) { /* fixed buffer full: count the exact size only */
                wr_put(w, d->name, name_len);
                if (add_total) wr_put(w, "_total", 6);
                if (ls->lab_len > 0 || s->ext_len > 0) {
                    wr_put(w, "{", 1);
                    wr_put(w, s->arena + ls->lab_off, ls->lab_len);
                    if (ls->lab_len > 0) wr_put(w, s->ext, s->ext_len);
                    else if (s->ext_len > 0) wr_put(w, s->ext + 1, s->ext_len - 1); /* no leading ',' */
                    wr_put(w, "}", 1);
                }
                wr_put(w, " ", 1);
                wr_put(w, val, fmt_value(val, x->value));
                wr_put(w, "\n", 1);
                continue;
            }
            char *q = p;
            memcpy(q, d->name, name_len), q += name_len;
            if (add_total) memcpy(q, "_total", 6), q += 6;
            if (ls->lab_len > 0 || s->ext_len > 0) {
                *q++ = '{';
                memcpy(q, s->arena + ls->lab_off, ls->lab_len), q += ls->lab_len;
                if (s->ext_len > 0) { /* s->ext may be NULL when empty */
                    size_t skip = ls->lab_len > 0 ? 0 : 1; /* no leading ',' */
                    memcpy(q, s->ext + skip, s->ext_len - skip), q += s->ext_len - skip;
                }
                *q++ = '}';
            }
            *q++ = ' ';
            q += fmt_value(q, x->value);
            *q++ = '\n';
            w->len += (size_t)(q - p);
        }
    }
    if (om) wr_put(w, "# EOF\n", 6);
}

const char *kvbm_exposition_content_type(kvbm_exposition fmt)
{
    return fmt == KVBM_EXPOSITION_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                              : "text/plain; version=0.0.4; charset=utf-8";
}

kvbm_exposition kvbm_exposition_from_accept(const char *accept)
{
    static const char want[] = "application/openmetrics-text";
    size_t n = sizeof want - 1;
    for (const char *p = accept; p != NULL && *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && (p[i] | 0x20) == want[i]) i++;
        if (i == n) return KVBM_EXPOSITION_OPENMETRICS;
    }
    return KVBM_EXPOSITION_PROMETHEUS;
}
