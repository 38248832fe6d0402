/* tests/support/exposition.c - see exposition.h. */
#include "support/exposition.h"

#include <stdlib.h>
#include <string.h>

bool expo_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p != NULL && *p; ) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, line, n) == 0) return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

size_t expo_count_prefix(const char *text, const char *prefix)
{
    size_t n = strlen(prefix), count = 0;
    for (const char *p = text; p != NULL && *p; ) {
        if (strncmp(p, prefix, n) == 0) count++;
        const char *e = strchr(p, '\n');
        p = e ? e + 1 : NULL;
    }
    return count;
}

bool expo_families_sorted(const char *text)
{
    char prev[256] = "";
    for (const char *p = text; p != NULL && *p; ) {
        const char *e = strchr(p, '\n');
        if (strncmp(p, "# TYPE ", 7) == 0) {
            const char *s = p + 7, *sp = strchr(s, ' ');
            size_t len = sp ? (size_t)(sp - s) : 0;
            char cur[256];
            if (len == 0 || len >= sizeof cur) return false;
            memcpy(cur, s, len);
            cur[len] = '\0';
            if (prev[0] && strcmp(prev, cur) >= 0) return false;
            memcpy(prev, cur, len + 1);
        }
        p = e ? e + 1 : NULL;
    }
    return true;
}

bool expo_value(const char *text, const char *series, double *out)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p; ) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            *out = strtod(p + n + 1, NULL);
            return true;
        }
        const char *e = strchr(p, '\n');
        p = e ? e + 1 : NULL;
    }
    return false;
}
