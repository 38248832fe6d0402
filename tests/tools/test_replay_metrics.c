/* tests/tools/test_replay_metrics.c - `kvbm replay --metrics-port/--metrics-hold/--stats`
 * and the KVBM_METRICS / KVBM_METRICS_PORT switches: the tool is run as a child process,
 * its endpoint scraped over loopback during --metrics-hold (the child is stopped as soon as
 * the test has what it needs, and always). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "support/exposition.h"
#include "support/net.h"

#ifndef KVBM_TOOL_PATH
#  error "KVBM_TOOL_PATH must name the kvbm binary"
#endif

#ifndef KVBM_CLI_HAVE_HTTP
/* Built with -DKVBM_WITH_HTTP=OFF: --metrics-port says so (exit 1); --stats still works. */
KVBM_TEST(without_the_http_library_metrics_port_is_a_clear_error)
{
    char dir[256], log[512];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    snprintf(log, sizeof log, "%s/kvbm.log", dir);
    char *argv[] = { KVBM_TOOL_PATH, "replay", "--requests", "10", "--metrics-port", "0", NULL };
    EXPECT_EQ(proc_run(argv, NULL, log, 60000), 1);
    char *text = file_read(log);
    EXPECT_STR_CONTAINS(text, "built without the HTTP endpoint");
    free(text);
    char *stats[] = { KVBM_TOOL_PATH, "replay", "--requests", "10", "--backend", "lru", "--stats", NULL };
    EXPECT_EQ(proc_run(stats, NULL, log, 60000), 0);
    text = file_read(log);
    EXPECT_STR_CONTAINS(text, "kvbm: stats lru capacity 512: ");
    free(text);
    tmp_dir_remove(dir);
}
#else
/* Wait (bounded: 120 s) until the child's log contains @needle; the log text (malloc'd) or
 * NULL if the child exited first or time ran out. */
static char *wait_log(pid_t pid, const char *log, const char *needle)
{
    for (int waited = 0; waited < 120000; waited += 20) {
        char *t = file_read(log);
        if (t != NULL && strstr(t, needle) != NULL) return t;
        free(t);
        int st;
        if (proc_wait(pid, 0, &st)) return NULL;
        sleep_ms(20);
    }
    return NULL;
}

/* Run the tool with @argv (its output in DIR/kvbm.log, DIR a fresh temporary directory in
 * @dir) until it holds its endpoint; the log text then (malloc'd), else NULL after recording
 * a failure. *@pid: the child, to be stopped with proc_stop(). */
static char *run_until_hold(char *const argv[], char *dir, size_t cap, pid_t *pid)
{
    char log[512];
    *pid = -1;
    if (!tmp_dir(dir, cap)) return NULL;
    snprintf(log, sizeof log, "%s/kvbm.log", dir);
    *pid = proc_spawn(argv, NULL, log);
    char *text = *pid > 0 ? wait_log(*pid, log, "holding http://127.0.0.1:") : NULL;
    if (text == NULL) {
        char *t = file_read(log);
        kvbm_test_fail(__FILE__, __LINE__, "the replay did not reach --metrics-hold:\n%s", t ? t : "");
        free(t);
    }
    return text;
}

static uint16_t port_in(const char *text)
{
    const char *p = strstr(text, "metrics on http://127.0.0.1:");
    return p != NULL ? (uint16_t)atoi(p + strlen("metrics on http://127.0.0.1:")) : 0;
}

KVBM_TEST(replay_serves_its_metrics_and_prints_stats)
{
    char dir[256];
    char *argv[] = { KVBM_TOOL_PATH, "replay", "--backend", "lru", "--requests", "2000", "--format", "json",
                     "--metrics-port", "0", "--metrics-hold", "60", "--stats", "--stats-interval", "10", NULL };
    pid_t pid;
    char *text = run_until_hold(argv, dir, sizeof dir, &pid);
    if (text != NULL) {
        uint16_t port = port_in(text);
        EXPECT_GT(port, 0);
        const char *a = strstr(text, "\"allocations\":");
        ASSERT_TRUE(a != NULL);
        long allocations = atol(a + strlen("\"allocations\":"));
        EXPECT_GT(allocations, 0);
        /* every run prints at least its final stats line */
        EXPECT_STR_CONTAINS(text, "kvbm: stats lru capacity 512: ");
        EXPECT_STR_CONTAINS(text, " alloc/s, ");
        net_response r;
        EXPECT_EQ(net_get(port, "/metrics", NULL, 10000, &r), 200);
        double v = -1;
        EXPECT_TRUE(expo_value(r.body, "kvbm_allocations_total{pool=\"replay\"}", &v));
        EXPECT_EQ((long)v, allocations);
        EXPECT_EQ(expo_count_prefix(r.body, "# TYPE "), 19);
        net_response_free(&r);
        free(text);
    }
    proc_stop(pid, 5000);
    tmp_dir_remove(dir);
}

KVBM_TEST(environment_switches_enable_the_endpoint)
{
    char dir[256], port[16];
    uint16_t p = net_free_port();
    ASSERT_GT(p, 0);
    snprintf(port, sizeof port, "%u", (unsigned)p);
    setenv("KVBM_METRICS", "1", 1);
    setenv("KVBM_METRICS_PORT", port, 1);
    char *argv[] = { KVBM_TOOL_PATH, "replay", "--backend", "hashmap", "--requests", "200", "--format", "csv",
                     "--metrics-hold", "60", NULL };
    pid_t pid;
    char *text = run_until_hold(argv, dir, sizeof dir, &pid);
    unsetenv("KVBM_METRICS");
    unsetenv("KVBM_METRICS_PORT");
    if (text != NULL) {
        EXPECT_EQ(port_in(text), p);
        net_response r;
        EXPECT_EQ(net_get(p, "/metrics", "application/openmetrics-text", 10000, &r), 200);
        EXPECT_TRUE(expo_has_line(r.body, "# TYPE kvbm_allocations counter"));
        net_response_free(&r);
        free(text);
    }
    proc_stop(pid, 5000);
    tmp_dir_remove(dir);
}

KVBM_TEST(a_metrics_port_in_use_fails_with_the_address_and_bad_options_are_usage_errors)
{
    char dir[256], log[512], port[16];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    snprintf(log, sizeof log, "%s/kvbm.log", dir);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_TRUE(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(port, sizeof port, "%u", (unsigned)ntohs(a.sin_port));
    char *argv[] = { KVBM_TOOL_PATH, "replay", "--requests", "10", "--metrics-port", port, NULL };
    EXPECT_EQ(proc_run(argv, NULL, log, 60000), 1);
    char *text = file_read(log);
    char want[64];
    snprintf(want, sizeof want, "address 127.0.0.1:%s already in use", port);
    EXPECT_STR_CONTAINS(text, want);
    free(text);
    close(fd);
    char *hold[] = { KVBM_TOOL_PATH, "replay", "--metrics-hold", "5", NULL };
    EXPECT_EQ(proc_run(hold, NULL, log, 60000), 2);
    text = file_read(log);
    EXPECT_STR_CONTAINS(text, "--metrics-hold needs --metrics-port");
    free(text);
    char *big[] = { KVBM_TOOL_PATH, "replay", "--metrics-port", "70000", NULL };
    EXPECT_EQ(proc_run(big, NULL, log, 60000), 2);
    setenv("KVBM_METRICS_PORT", "x", 1);
    setenv("KVBM_METRICS", "1", 1);
    char *env[] = { KVBM_TOOL_PATH, "replay", "--requests", "10", NULL };
    EXPECT_EQ(proc_run(env, NULL, log, 60000), 2);
    unsetenv("KVBM_METRICS");
    unsetenv("KVBM_METRICS_PORT");
    text = file_read(log);
    EXPECT_STR_CONTAINS(text, "KVBM_METRICS_PORT");
    free(text);
    tmp_dir_remove(dir);
}
#endif /* KVBM_CLI_HAVE_HTTP */
