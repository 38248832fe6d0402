/* tests/support/exposition.c - see exposition.h. */
#include "support/exposition.h"
#include "support/net.h"

#include <stdio.h>
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

int expo_promtool_check(const char *dir, const char *text, size_t len)
{
    char path[512], log[512];
    snprintf(path, sizeof path, "%s/metrics.prom", dir);
    snprintf(log, sizeof log, "%s/promtool.log", dir);
    if (!file_write(path, text, len)) return -1;
    char *pt[] = { "promtool", "check", "metrics", NULL };
    int rc = proc_run(pt, path, log, 60000);
    char *out = file_read(log);
    if (rc != 0) printf("promtool (exit %d):\n%s\n--- input ---\n%.*s\n", rc, out ? out : "", (int)len, text);
    free(out);
    return rc;
}
