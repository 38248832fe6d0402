/* src/ext/common/url.h - transport URL parsing (compiled into each transport library).
 *
 * Accepted form: SCHEME://HOST[:PORT][?OPTION] with HOST a name, an IPv4 address, "*" or
 * a bracketed IPv6 address, PORT 1..65535. Nothing else (no user info, no path).
 */
#ifndef KVBM_EXT_URL_H
#define KVBM_EXT_URL_H

#include "internal.h"

#define KVBM__URL_HOST_MAX 256

typedef struct kvbm__url {
    char     host[KVBM__URL_HOST_MAX]; /* without IPv6 brackets */
    bool     ipv6;                     /* host was bracketed */
    uint16_t port;
    char     option[32];               /* text after '?', "" if none */
} kvbm__url;

/* Parse @url for @scheme (e.g. "nats"); @default_port when the port is omitted (0: the port
 * is required). KVBM_OK, or KVBM_EINVAL with a detail naming @who and the whole value. */
kvbm_status kvbm__url_parse(const char *who, const char *url, const char *scheme,
                            uint16_t default_port, kvbm__url *out);

#endif /* KVBM_EXT_URL_H */
