/* tools/kvbm/util.c - clock, error formatting, strict number parsing, capacity lists. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

uint64_t cli_thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

int cli_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') return -1;
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

int cli_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return -1;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem) return -1;
    void *np = realloc(*p, ncap * elem);
    if (np == NULL) return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#define CAP_LIST_MAX 4096

/* Parse one number token [s, e) into *v. */
static int parse_tok(const char *s, const char *e, uint64_t max, uint64_t *v)
{
    char buf[32];
    size_t len = (size_t)(e - s);
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return cli_parse_u64(buf, max, v);
}

int cli_parse_capacity_list(const char *s, uint64_t max, uint64_t **out, size_t *n,
                                  char *err, size_t errlen)
{
    uint64_t *v = malloc(CAP_LIST_MAX * sizeof *v);
    size_t k = 0;
    if (v == NULL) return cli_fail(err, errlen, "out of memory");
    const char *dots = strstr(s, "..");
    if (dots != NULL) {
        uint64_t a, b, step = 0;
        const char *colon = strchr(dots + 2, ':');
        const char *bend = colon ? colon : dots + strlen(dots);
        if (parse_tok(s, dots, max, &a) != 0 || parse_tok(dots + 2, bend, max, &b) != 0 ||
            (colon && parse_tok(colon + 1, colon + strlen(colon), UINT64_MAX, &step) != 0) ||
            (colon && step == 0)) {
            free(v);
            return cli_fail(err, errlen,
                "bad capacity range '%s' (expected A..B or A..B:STEP, 1 <= A <= B <= %llu)",
                s, (unsigned long long)max);
        }
        if (a == 0 || b < a) {
            free(v);
            return cli_fail(err, errlen, "bad capacity range '%s': need 1 <= A <= B", s);
        }
        for (uint64_t x = a; x <= b; ) {
            if (k == CAP_LIST_MAX) {
                free(v);
                return cli_fail(err, errlen, "capacity range '%s' has more than %d values",
                                      s, CAP_LIST_MAX);
            }
            v[k++] = x;
            uint64_t nx = step ? x + step : x * 2;
            if (nx <= x) break; /* overflow */
            x = nx;
        }
        if (v[k - 1] != b && !step) {
            if (k == CAP_LIST_MAX) { free(v); return cli_fail(err, errlen, "too many capacities"); }
            v[k++] = b; /* always include the upper end of a doubling range */
        }
    } else {
        const char *p = s;
        for (;;) {
            const char *c = strchr(p, ',');
            const char *e = c ? c : p + strlen(p);
            uint64_t x;
            if (parse_tok(p, e, max, &x) != 0 || x == 0) {
                free(v);
                return cli_fail(err, errlen,
                    "bad capacity '%.*s' in '%s' (expected integers in 1..%llu)",
                    (int)(e - p), p, s, (unsigned long long)max);
            }
            if (k == CAP_LIST_MAX) { free(v); return cli_fail(err, errlen, "too many capacities"); }
            v[k++] = x;
            if (c == NULL) break;
            p = c + 1;
        }
    }
    qsort(v, k, sizeof *v, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < k; i++)
        if (w == 0 || v[w - 1] != v[i]) v[w++] = v[i];
    *out = v;
    *n = w;
    return 0;
}
