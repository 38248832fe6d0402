/* tests/ext/http/test_server.c - the /metrics endpoint over loopback: paths, methods,
 * content types, port selection and port conflicts, environment switches, bad clients
 * (bodies, huge headers, slowloris), stop while a scrape is in flight, no fd leak. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "harness.h"
#include "kvbm/metrics_server.h"
#include "support/exposition.h"
#include "support/net.h"

#define TMO 10000 /* client timeout, ms */

typedef struct fixture {
    kvbm_aggregator     *a;
    kvbm_metrics        *m;
    kvbm_metrics_server *s;
    uint16_t             port;
} fixture;

static bool start(fixture *f, const kvbm_metrics_server_config *cfg)
{
    memset(f, 0, sizeof *f);
    if (kvbm_aggregator_create(&f->a) != KVBM_OK || kvbm_metrics_create("G1", &f->m) != KVBM_OK ||
        kvbm_aggregator_add_metrics(f->a, f->m, NULL) != KVBM_OK)
        return false;
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    if (cfg != NULL) c = *cfg;
    c.port = 0;
    if (kvbm_metrics_server_start(f->a, &c, &f->s) != KVBM_OK) return false;
    f->port = kvbm_metrics_server_port(f->s);
    return f->port != 0;
}

static void finish(fixture *f)
{
    kvbm_metrics_server_stop(f->s);
    kvbm_aggregator_release(f->a);
    kvbm_metrics_release(f->m);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return -1;
    while (readdir(d) != NULL) n++;
    closedir(d);
    return n;
}

KVBM_TEST(get_metrics_serves_the_prometheus_text_on_a_picked_port)
{
    fixture f;
    ASSERT_TRUE(start(&f, NULL));
    EXPECT_OK(kvbm_metrics_add(f.m, KVBM_METRIC_allocations, 12));
    net_response r;
    ASSERT_EQ(net_get(f.port, "/metrics", NULL, TMO, &r), 200);
    char ct[128];
    EXPECT_TRUE(net_header(&r, "Content-Type", ct, sizeof ct));
    EXPECT_STR_EQ(ct, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_TRUE(expo_has_line(r.body, "kvbm_allocations_total{pool=\"G1\"} 12"));
    EXPECT_EQ(expo_count_prefix(r.body, "# TYPE "), 19);
    net_response_free(&r);
    /* values are live */
    EXPECT_OK(kvbm_metrics_add(f.m, KVBM_METRIC_allocations, 1));
    ASSERT_EQ(net_get(f.port, "/metrics", "*/*", TMO, &r), 200);
    EXPECT_TRUE(expo_has_line(r.body, "kvbm_allocations_total{pool=\"G1\"} 13"));
    net_response_free(&r);
    EXPECT_EQ(kvbm_metrics_server_requests(f.s), 2);
    finish(&f);
}

KVBM_TEST(openmetrics_when_the_scraper_asks_for_it)
{
    fixture f;
    ASSERT_TRUE(start(&f, NULL));
    net_response r;
    ASSERT_EQ(net_get(f.port, "/metrics", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
                      TMO, &r), 200);
    char ct[128];
    EXPECT_TRUE(net_header(&r, "Content-Type", ct, sizeof ct));
    EXPECT_STR_EQ(ct, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    EXPECT_TRUE(expo_has_line(r.body, "# TYPE kvbm_allocations counter"));
    ASSERT_GT(r.body_len, 6);
    EXPECT_STR_EQ(r.body + r.body_len - 6, "# EOF\n");
    net_response_free(&r);
    finish(&f);
}

KVBM_TEST(other_paths_404_other_methods_405_head_200)
{
    fixture f;
    ASSERT_TRUE(start(&f, NULL));
    net_response r;
    EXPECT_EQ(net_get(f.port, "/", NULL, TMO, &r), 404);
    net_response_free(&r);
    EXPECT_EQ(net_get(f.port, "/metrics/x", NULL, TMO, &r), 404);
    net_response_free(&r);
    EXPECT_EQ(net_http(f.port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                       TMO, &r), 405);
    char allow[64];
    EXPECT_TRUE(net_header(&r, "Allow", allow, sizeof allow));
    EXPECT_STR_EQ(allow, "GET, HEAD");
    net_response_free(&r);
    EXPECT_EQ(net_http(f.port, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", TMO, &r), 405);
    net_response_free(&r);
    EXPECT_EQ(net_http(f.port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", TMO, &r), 200);
    EXPECT_EQ(r.body_len, 0);
    net_response_free(&r);
    /* a GET with a body is answered (the body is discarded) */
    char req[4096 + 256];
    char body[4096];
    memset(body, 'x', sizeof body);
    int n = snprintf(req, sizeof req, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     sizeof body);
    memcpy(req + n, body, sizeof body);
    req[n + (int)sizeof body] = '\0';
    EXPECT_EQ(net_http(f.port, req, TMO, &r), 200);
    EXPECT_TRUE(expo_has_line(r.body, "kvbm_allocations_total{pool=\"G1\"} 0"));
    net_response_free(&r);
    finish(&f);
}

KVBM_TEST(a_port_in_use_is_eaddrinuse_with_the_address)
{
    fixture f;
    ASSERT_TRUE(start(&f, NULL));
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    c.port = f.port;
    kvbm_metrics_server *s2 = (kvbm_metrics_server *)1;
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_metrics_server_start(f.a, &c, &s2), KVBM_EADDRINUSE);
    EXPECT_TRUE(s2 == NULL);
    char want[64];
    snprintf(want, sizeof want, "address 127.0.0.1:%u already in use", (unsigned)f.port);
    EXPECT_STR_CONTAINS(kvbm_last_error(), want);
    /* the first server is unaffected */
    net_response r;
    EXPECT_EQ(net_get(f.port, "/metrics", NULL, TMO, &r), 200);
    net_response_free(&r);
    finish(&f);
}

KVBM_TEST(bad_configuration_is_rejected)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    kvbm_metrics_server *s = NULL;
    kvbm_metrics_server_config c;
    kvbm_metrics_server_config_init(&c);
    EXPECT_STR_EQ(c.bind_address, "127.0.0.1");
    EXPECT_EQ(c.port, 6880);
    c.bind_address = "localhost"; /* numeric only */
    EXPECT_STATUS(kvbm_metrics_server_start(a, &c, &s), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "localhost");
    kvbm_metrics_server_config_init(&c);
    c.threads = 0;
    EXPECT_STATUS(kvbm_metrics_server_start(a, &c, &s), KVBM_EINVAL);
    kvbm_metrics_server_config_init(&c);
    c.connection_memory_limit = 100;
    EXPECT_STATUS(kvbm_metrics_server_start(a, &c, &s), KVBM_EINVAL);
    kvbm_metrics_server_config_init(&c);
    c.struct_size = 1;
    EXPECT_STATUS(kvbm_metrics_server_start(a, &c, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_metrics_server_start(NULL, NULL, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_metrics_server_start(a, NULL, NULL), KVBM_EINVAL);
    kvbm_metrics_server_config_init(&c);
    c.bind_address = "192.0.2.1"; /* TEST-NET-1: not a local address, bind fails */
    c.port = 0;
    EXPECT_STATUS(kvbm_metrics_server_start(a, &c, &s), KVBM_EIO);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "192.0.2.1");
    EXPECT_EQ(kvbm_metrics_server_port(NULL), 0);
    EXPECT_EQ(kvbm_metrics_server_requests(NULL), 0);
    kvbm_metrics_server_stop(NULL);
    kvbm_aggregator_release(a);
}

KVBM_TEST(environment_switches)
{
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    bool on = true;
    unsetenv("KVBM_METRICS");
    unsetenv("KVBM_METRICS_PORT");
    ASSERT_OK(kvbm_metrics_server_config_from_env(&c, &on));
    EXPECT_FALSE(on);
    EXPECT_EQ(c.port, 6880);
    static const char *const yes[] = { "1", "true", "TRUE", "yes", "on" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        setenv("KVBM_METRICS", yes[i], 1);
        ASSERT_OK(kvbm_metrics_server_config_from_env(&c, &on));
        EXPECT_TRUE(on);
    }
    setenv("KVBM_METRICS", "0", 1);
    ASSERT_OK(kvbm_metrics_server_config_from_env(&c, &on));
    EXPECT_FALSE(on);
    setenv("KVBM_METRICS_PORT", "9123", 1);
    ASSERT_OK(kvbm_metrics_server_config_from_env(&c, &on));
    EXPECT_EQ(c.port, 9123);
    static const char *const bad[] = { "", "x", "70000", "-1", "80x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("KVBM_METRICS_PORT", bad[i], 1);
        EXPECT_STATUS(kvbm_metrics_server_config_from_env(&c, &on), KVBM_ECONFIG);
        EXPECT_STR_CONTAINS(kvbm_last_error(), "KVBM_METRICS_PORT");
        EXPECT_EQ(c.port, 9123);
    }
    EXPECT_STATUS(kvbm_metrics_server_config_from_env(NULL, &on), KVBM_EINVAL);
    unsetenv("KVBM_METRICS");
    unsetenv("KVBM_METRICS_PORT");
}

/* A slowloris connection (headers trickling in) and a huge header block do not block other
 * scrapes; the trickling connection is closed after connection_timeout_s. */
KVBM_TEST(slow_and_oversized_clients_do_not_block_scrapes)
{
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    c.connection_timeout_s = 1;
    fixture f;
    ASSERT_TRUE(start(&f, &c));
    int slow[4];
    for (int i = 0; i < 4; i++) {
        slow[i] = net_connect(f.port, TMO);
        ASSERT_TRUE(slow[i] >= 0);
        ASSERT_TRUE(send(slow[i], "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ", 40, MSG_NOSIGNAL) == 40);
    }
    net_response r;
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ(net_get(f.port, "/metrics", NULL, TMO, &r), 200);
        net_response_free(&r);
        for (int k = 0; k < 4; k++) (void)send(slow[k], "a", 1, MSG_NOSIGNAL);
    }
    /* huge headers: refused (431 or 413) or closed, never 200 */
    size_t big = 256 * 1024;
    char *req = malloc(big + 256);
    ASSERT_TRUE(req != NULL);
    int n = snprintf(req, 256, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'b', big);
    strcpy(req + n + big, "\r\nConnection: close\r\n\r\n");
    int st = net_http(f.port, req, TMO, &r);
    EXPECT_TRUE(st != 200);
    net_response_free(&r);
    free(req);
    EXPECT_EQ(net_get(f.port, "/metrics", NULL, TMO, &r), 200);
    net_response_free(&r);
    /* the idle trickler is closed by the server within a bounded time (timeout 1 s) */
    char buf[256];
    ssize_t got = recv(slow[0], buf, sizeof buf, 0); /* blocks until close or the 10 s client timeout */
    EXPECT_TRUE(got <= 0 || strncmp(buf, "HTTP/1.1 4", 10) == 0 || strncmp(buf, "HTTP/1.1 5", 10) == 0);
    for (int i = 0; i < 4; i++) close(slow[i]);
    finish(&f);
}

/* A collect callback that takes a while: stop the server while a scrape is inside it. */
typedef struct slow_src {
    atomic_int entered;
} slow_src;
static void slow_collect(void *ctx, kvbm_metrics_emitter *e)
{
    static const kvbm_metric_desc d = { "slow_gauge", "slow", KVBM_METRIC_TYPE_GAUGE };
    atomic_fetch_add(&((slow_src *)ctx)->entered, 1);
    sleep_ms(300);
    (void)kvbm_metrics_emit(e, &d, NULL, NULL, 0, 1);
}
typedef struct scrape_arg {
    uint16_t port;
    int      status;
} scrape_arg;
static void *scrape_thread(void *p)
{
    scrape_arg *a = p;
    net_response r;
    a->status = net_get(a->port, "/metrics", NULL, TMO, &r);
    net_response_free(&r);
    return NULL;
}

KVBM_TEST(stop_while_a_scrape_is_in_flight_is_safe_and_leaks_nothing)
{
    int fds_before = count_fds();
    fixture f;
    ASSERT_TRUE(start(&f, NULL));
    slow_src src;
    atomic_init(&src.entered, 0);
    kvbm_metrics_source_ops ops = { slow_collect, NULL };
    ASSERT_OK(kvbm_aggregator_add_source(f.a, &ops, &src, NULL));
    scrape_arg arg = { f.port, 0 };
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, scrape_thread, &arg), 0);
    for (int i = 0; i < 1000 && atomic_load(&src.entered) == 0; i++) sleep_ms(10);
    EXPECT_EQ(atomic_load(&src.entered), 1);
    kvbm_metrics_server_stop(f.s); /* the scrape is inside slow_collect */
    f.s = NULL;
    pthread_join(th, NULL);
    EXPECT_TRUE(arg.status == 200 || arg.status == -1); /* answered, or closed: no crash */
    /* the port is free again */
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    c.port = f.port;
    kvbm_metrics_server *again = NULL;
    EXPECT_OK(kvbm_metrics_server_start(f.a, &c, &again));
    kvbm_metrics_server_stop(again);
    finish(&f);
    EXPECT_EQ(count_fds(), fds_before);
}

KVBM_TEST(start_stop_cycles_leak_no_descriptor)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    int before = count_fds();
    for (int i = 0; i < 5; i++) {
        kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
        c.port = 0;
        c.threads = (unsigned)(1 + i % 3);
        kvbm_metrics_server *s;
        ASSERT_OK(kvbm_metrics_server_start(a, &c, &s));
        net_response r;
        EXPECT_EQ(net_get(kvbm_metrics_server_port(s), "/metrics", NULL, TMO, &r), 200);
        EXPECT_EQ(r.body_len, 0); /* no sources */
        net_response_free(&r);
        kvbm_metrics_server_stop(s);
    }
    EXPECT_EQ(count_fds(), before);
    kvbm_aggregator_release(a);
}
