/* src/ext/http/metrics_server.c - GET /metrics over libmicrohttpd (kvbm/metrics_server.h).
 *
 * We bind and listen ourselves (precise errors: KVBM_EADDRINUSE with the address; port 0
 * reported through getsockname) and hand the socket to libmicrohttpd, which owns it from
 * then on and closes it at MHD_stop_daemon. Response bodies are kvbm_text buffers kept in
 * a free list and given back by the response's free callback, so a steady stream of scrapes
 * renders into warm buffers without allocating. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "internal.h"
#include "kvbm/metrics_server.h"

typedef struct body {
    kvbm_text                   t;
    struct kvbm_metrics_server *srv;
    struct body                *next_free, *next_all;
} body;

struct kvbm_metrics_server {
    kvbm_aggregator     *agg;
    struct MHD_Daemon   *daemon;
    struct MHD_Response *not_found, *not_allowed;
    uint16_t             port;
    _Atomic uint64_t     requests;
    pthread_mutex_t      lock; /* unranked leaf: the body lists */
    body                *free_bodies, *all_bodies;
};

void kvbm_metrics_server_config_init(kvbm_metrics_server_config *cfg)
{
    if (cfg != NULL) *cfg = (kvbm_metrics_server_config)KVBM_METRICS_SERVER_CONFIG_INIT;
}

kvbm_status kvbm_metrics_server_config_from_env(kvbm_metrics_server_config *cfg, bool *enabled)
{
    if (cfg == NULL || enabled == NULL) {
        kvbm__set_error("kvbm_metrics_server_config_from_env: NULL %s", cfg == NULL ? "cfg" : "enabled");
        return KVBM_EINVAL;
    }
    const char *port = getenv("KVBM_METRICS_PORT");
    if (port != NULL) {
        char *end;
        errno = 0;
        long v = strtol(port, &end, 10);
        if (errno != 0 || end == port || *end != '\0' || v < 0 || v > 65535) {
            kvbm__set_error("KVBM_METRICS_PORT=\"%s\" is not a port number (0..65535)", port);
            return KVBM_ECONFIG;
        }
        cfg->port = (uint16_t)v;
    }
    const char *on = getenv("KVBM_METRICS");
    *enabled = on != NULL && (strcmp(on, "1") == 0 || strcasecmp(on, "true") == 0 ||
                              strcasecmp(on, "yes") == 0 || strcasecmp(on, "on") == 0);
    return KVBM_OK;
}

/* ---- responses ------------------------------------------------------------------------ */

static body *body_get(kvbm_metrics_server *s)
{
    pthread_mutex_lock(&s->lock);
    body *b = s->free_bodies;
    if (b != NULL) s->free_bodies = b->next_free;
    pthread_mutex_unlock(&s->lock);
    if (b != NULL) return b;
    b = kvbm__calloc(1, sizeof *b);
    if (b == NULL) return NULL;
    b->srv = s;
    pthread_mutex_lock(&s->lock);
    b->next_all = s->all_bodies;
    s->all_bodies = b;
    pthread_mutex_unlock(&s->lock);
    return b;
}

static void body_put(void *arg)
{
    body *b = arg;
    kvbm_metrics_server *s = b->srv;
    pthread_mutex_lock(&s->lock);
    b->next_free = s->free_bodies;
    s->free_bodies = b;
    pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, struct MHD_Response *r)
{
    return MHD_queue_response(c, code, r);
}

static enum MHD_Result serve_metrics(kvbm_metrics_server *s, struct MHD_Connection *c)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    kvbm_exposition fmt = kvbm_exposition_from_accept(accept);
    body *b = body_get(s);
    if (b == NULL || kvbm_aggregator_render_text(s->agg, fmt, &b->t) != KVBM_OK) {
        if (b != NULL) body_put(b);
        static const char msg[] = "scrape failed: out of memory\n";
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        if (r == NULL) return MHD_NO;
        enum MHD_Result ret = reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, r);
        MHD_destroy_response(r);
        return ret;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(b->t.len, b->t.data, body_put, b);
    if (r == NULL) {
        body_put(b);
        return MHD_NO;
    }
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, kvbm_exposition_content_type(fmt));
    enum MHD_Result ret = reply(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
    static int started;
    kvbm_metrics_server *s = cls;
    (void)version;
    (void)upload_data;
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (*req_cls == NULL) {
        *req_cls = &started;
        if (get) return MHD_YES; /* answer after the (discarded) body, if any */
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
    if (!get) return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, s->not_allowed);
    if (strcmp(url, "/metrics") != 0) return reply(c, MHD_HTTP_NOT_FOUND, s->not_found);
    return serve_metrics(s, c);
}

/* ---- start / stop ----------------------------------------------------------------------- */

static struct MHD_Response *static_response(const char *text, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (r == NULL) return NULL;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8") != MHD_YES ||
        (allow != NULL && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

static void server_free(kvbm_metrics_server *s)
{
    if (s->daemon != NULL) MHD_stop_daemon(s->daemon); /* joins; closes every connection */
    if (s->not_found != NULL) MHD_destroy_response(s->not_found);
    if (s->not_allowed != NULL) MHD_destroy_response(s->not_allowed);
    for (body *b = s->all_bodies, *next; b != NULL; b = next) {
        next = b->next_all;
        kvbm_text_free(&b->t);
        kvbm__free(b);
    }
    pthread_mutex_destroy(&s->lock);
    kvbm_aggregator_release(s->agg);
    kvbm__free(s);
}

/* Bind and listen on @addr:@port; the socket or -1 with the error recorded in *st. */
static int listen_on(const char *addr, uint16_t port, bool *v6, uint16_t *bound, kvbm_status *st)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        len = sizeof *in4;
        *v6 = false;
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        len = sizeof *in6;
        *v6 = true;
    } else {
        kvbm__set_error("kvbm_metrics_server_start: bind_address \"%s\" is not a numeric IPv4 or IPv6 address", addr);
        *st = KVBM_EINVAL;
        return -1;
    }
    const char *fmt = *v6 ? "[%s]:%u" : "%s:%u";
    char where[80];
    snprintf(where, sizeof where, fmt, addr, (unsigned)port);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        if (e == EADDRINUSE) {
            kvbm__set_error("kvbm_metrics_server_start: address %s already in use", where);
            *st = KVBM_EADDRINUSE;
        } else {
            kvbm__set_error("kvbm_metrics_server_start: cannot listen on %s: %s", where, strerror(e));
            *st = KVBM_EIO;
        }
        return -1;
    }
    *bound = ntohs(*v6 ? in6->sin6_port : in4->sin_port);
    return fd;
}

kvbm_status kvbm_metrics_server_start(kvbm_aggregator *a, const kvbm_metrics_server_config *cfg,
                                      kvbm_metrics_server **out)
{
    static const char fn[] = "kvbm_metrics_server_start";
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    if (out != NULL) *out = NULL;
    if (a == NULL || out == NULL || (cfg != NULL && cfg->struct_size != sizeof *cfg)) {
        kvbm__set_error("%s: %s", fn, a == NULL ? "NULL aggregator" : out == NULL ? "NULL out"
                                      : "cfg->struct_size is not sizeof(kvbm_metrics_server_config)");
        return KVBM_EINVAL;
    }
    if (cfg != NULL) c = *cfg;
    if (c.bind_address == NULL || c.threads < 1 || c.threads > 64 || c.connection_limit < 1 ||
        c.connection_memory_limit < 4096) {
        kvbm__set_error("%s: %s", fn, c.bind_address == NULL ? "NULL bind_address"
                                      : c.threads < 1 || c.threads > 64 ? "threads must be 1..64"
                                      : c.connection_limit < 1 ? "connection_limit must be >= 1"
                                                               : "connection_memory_limit must be >= 4096");
        return KVBM_EINVAL;
    }
    kvbm_metrics_server *s = kvbm__calloc(1, sizeof *s);
    if (s == NULL) {
        kvbm__set_error("%s: out of memory", fn);
        return KVBM_ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->requests, 0);
    s->agg = kvbm_aggregator_acquire(a);
    s->not_found = static_response("not found: the metrics are at /metrics\n", NULL);
    s->not_allowed = static_response("method not allowed: use GET\n", "GET, HEAD");
    if (s->not_found == NULL || s->not_allowed == NULL) {
        server_free(s);
        kvbm__set_error("%s: out of memory", fn);
        return KVBM_ENOMEM;
    }
    kvbm_status st = KVBM_OK;
    bool v6 = false;
    int fd = listen_on(c.bind_address, c.port, &v6, &s->port, &st);
    if (fd < 0) {
        server_free(s);
        return st;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | (v6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, s,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(c.threads > 1 ? c.threads : 0),
                                 MHD_OPTION_CONNECTION_LIMIT, c.connection_limit,
                                 MHD_OPTION_CONNECTION_TIMEOUT, c.connection_timeout_s,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, c.connection_memory_limit,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        close(fd);
        server_free(s);
        kvbm__set_error("%s: libmicrohttpd could not start on %s port %u", fn, c.bind_address, (unsigned)c.port);
        return KVBM_EIO;
    }
    *out = s;
    return KVBM_OK;
}

uint16_t kvbm_metrics_server_port(const kvbm_metrics_server *s) { return s != NULL ? s->port : 0; }

uint64_t kvbm_metrics_server_requests(const kvbm_metrics_server *s)
{
    return s != NULL ? atomic_load_explicit(&((kvbm_metrics_server *)s)->requests, memory_order_relaxed) : 0;
}

void kvbm_metrics_server_stop(kvbm_metrics_server *s)
{
    if (s != NULL) server_free(s);
}
