/* kvbm/metrics_server.h - the HTTP /metrics endpoint (optional library libkvbm_http, built
 * on libmicrohttpd; link kvbm_http / pkg-config kvbm-http).
 *
 * A server answers GET (and HEAD) /metrics with a scrape of one aggregator, in Prometheus
 * text 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8) or, when the Accept
 * header names application/openmetrics-text, OpenMetrics 1.0 (application/openmetrics-text;
 * version=1.0.0; charset=utf-8). Other paths: 404; other methods: 405 with "Allow: GET,
 * HEAD". Request bodies are read and discarded.
 *
 * Threads: its own libmicrohttpd thread pool (config.threads, epoll). Scrapes run on those
 * threads and take no lock but the aggregator's (a leaf). Misbehaving clients are bounded
 * by libmicrohttpd's limits, set from the config: connection_limit (further connections are
 * refused), connection_timeout_s (an idle or trickling - slowloris - connection is closed
 * after that many seconds without progress) and connection_memory_limit (per-connection
 * buffer: request headers above it are answered 431/413 and the connection is closed). With
 * epoll and several threads, slow connections do not block other scrapes.
 */
#ifndef KVBM_METRICS_SERVER_H
#define KVBM_METRICS_SERVER_H

#include "kvbm/aggregator.h"
#include "kvbm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVBM_METRICS_DEFAULT_PORT 6880

typedef struct kvbm_metrics_server_config {
    size_t      struct_size;             /* set by the initialiser */
    const char *bind_address;            /* numeric IPv4 or IPv6 address; "127.0.0.1" */
    uint16_t    port;                    /* KVBM_METRICS_DEFAULT_PORT; 0 = any free port */
    unsigned    threads;                 /* libmicrohttpd thread pool size; 2 (1..64) */
    unsigned    connection_limit;        /* concurrent connections; 64 */
    unsigned    connection_timeout_s;    /* idle/slow connection timeout; 10 (0 = none) */
    size_t      connection_memory_limit; /* per connection (headers); 32 KiB (>= 4 KiB) */
} kvbm_metrics_server_config;

#define KVBM_METRICS_SERVER_CONFIG_INIT                                                      \
    { sizeof(kvbm_metrics_server_config), "127.0.0.1", KVBM_METRICS_DEFAULT_PORT, 2, 64, 10, \
      32 * 1024 }

/** kvbm_metrics_server_config_init() - fill @cfg with the defaults above. */
KVBM_API void kvbm_metrics_server_config_init(kvbm_metrics_server_config *cfg);

/**
 * kvbm_metrics_server_config_from_env() - the reference's environment switches: *@enabled =
 * KVBM_METRICS is "1", "true", "yes" or "on" (case-insensitive; unset or anything else:
 * false); KVBM_METRICS_PORT, if set, replaces @cfg->port (0..65535). Reads the environment
 * (getenv: do not call while another thread changes it). KVBM_OK, KVBM_EINVAL (NULL),
 * KVBM_ECONFIG (KVBM_METRICS_PORT not a number in 0..65535; @cfg unchanged).
 */
KVBM_API kvbm_status kvbm_metrics_server_config_from_env(kvbm_metrics_server_config *cfg,
                                                         bool *enabled);

typedef struct kvbm_metrics_server kvbm_metrics_server;

/**
 * kvbm_metrics_server_start() - bind @cfg->bind_address:@cfg->port (NULL @cfg: defaults),
 * listen, and serve @a (the server holds a reference until stopped) on its own threads.
 * Returns KVBM_OK, KVBM_EINVAL (NULL @a/@out, bad struct_size, bind_address not a numeric
 * address, threads/limits out of range), KVBM_EADDRINUSE ("address 127.0.0.1:6880 already in
 * use" in kvbm_last_error()), KVBM_EIO (another socket or libmicrohttpd failure; errno text in
 * the message), KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_metrics_server_start(kvbm_aggregator *a,
                                                              const kvbm_metrics_server_config *cfg,
                                                              kvbm_metrics_server **out);

/** kvbm_metrics_server_port() - the port actually bound (the free port picked for port 0). */
KVBM_API uint16_t kvbm_metrics_server_port(const kvbm_metrics_server *s);

/** kvbm_metrics_server_requests() - requests answered so far (any status; relaxed). */
KVBM_API uint64_t kvbm_metrics_server_requests(const kvbm_metrics_server *s);

/**
 * kvbm_metrics_server_stop() - stop accepting, close every connection (a scrape in flight
 * finishes rendering first; its client may see the connection close), join the threads,
 * release the aggregator reference and free @s. NULL: no-op. Not from a collect callback.
 */
KVBM_API void kvbm_metrics_server_stop(kvbm_metrics_server *s);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_METRICS_SERVER_H */
