/* src/ext/common/url.c - see url.h. */
#include "url.h"

#include <stdio.h>

static kvbm_status bad(const char *who, const char *url, const char *why)
{
    kvbm__set_error("%s: bad URL \"%s\": %s", who, url ? url : "(null)", why);
    return KVBM_EINVAL;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

kvbm_status kvbm__url_parse(const char *who, const char *url, const char *scheme,
                            uint16_t default_port, kvbm__url *out)
{
    memset(out, 0, sizeof *out);
    if (!url) return bad(who, url, "no URL given");
    size_t sl = strlen(scheme);
    if (strncmp(url, scheme, sl) != 0 || strncmp(url + sl, "://", 3) != 0) {
        char why[64];
        snprintf(why, sizeof why, "expected %s://HOST:PORT", scheme);
        return bad(who, url, why);
    }
    const char *p = url + sl + 3, *h0, *h1;
    if (*p == '[') {
        h0 = ++p;
        while (*p && *p != ']') p++;
        if (*p != ']') return bad(who, url, "unterminated '[' in the host");
        h1 = p++;
        out->ipv6 = true;
    } else {
        h0 = p;
        if (*p == '*') p++;
        else
            while (host_char(*p)) p++;
        h1 = p;
    }
    if (h1 == h0) return bad(who, url, "empty host");
    if ((size_t)(h1 - h0) >= sizeof out->host) return bad(who, url, "host name too long");
    memcpy(out->host, h0, (size_t)(h1 - h0));
    out->port = default_port;
    if (*p == ':') {
        p++;
        unsigned long v = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9' && v <= 65535) v = v * 10 + (unsigned long)(*p++ - '0');
        if (p == d || v == 0 || v > 65535) return bad(who, url, "the port must be 1..65535");
        out->port = (uint16_t)v;
    } else if (!default_port) {
        return bad(who, url, "a port is required");
    }
    if (*p == '?') {
        p++;
        size_t n = strlen(p);
        if (n == 0 || n >= sizeof out->option) return bad(who, url, "bad option after '?'");
        memcpy(out->option, p, n);
        p += n;
    }
    if (*p == '/' && p[1] == '\0') p++; /* tolerate one trailing slash */
    if (*p) return bad(who, url, "unexpected text after the host and port");
    return KVBM_OK;
}
