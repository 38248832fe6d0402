/* tests/support/net.h - loopback HTTP client and child processes for tests that talk to
 * servers (our metrics endpoint, promtool, prometheus, python scripts). Loopback only. */
#ifndef KVBM_TEST_NET_H
#define KVBM_TEST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A free TCP port on 127.0.0.1 (bound to port 0 and closed again; tiny reuse race). */
uint16_t net_free_port(void);

/* Connect to 127.0.0.1:@port (blocking, with @timeout_ms send/receive timeouts); fd or -1. */
int net_connect(uint16_t port, int timeout_ms);

typedef struct net_response {
    int    status;  /* HTTP status, or -1 (no response / connection closed early) */
    char  *headers; /* raw header block (malloc'd, NUL-terminated) */
    char  *body;    /* malloc'd, NUL-terminated */
    size_t body_len;
} net_response;

/* Send @request (a raw HTTP/1.0 or 1.1 request with "Connection: close") and read the
 * whole response until EOF. Returns the status (also in @out->status). */
int net_http(uint16_t port, const char *request, int timeout_ms, net_response *out);
/* GET @path with an optional Accept header (NULL: none). */
int net_get(uint16_t port, const char *path, const char *accept, int timeout_ms, net_response *out);
void net_response_free(net_response *r);
/* Case-insensitive header lookup into @buf; false if absent. */
bool net_header(const net_response *r, const char *name, char *buf, size_t cap);

/* Spawn @argv[0] (PATH search) in its own process group with stdout/stderr to @log_path
 * (NULL: /dev/null) and stdin from @stdin_path (NULL: /dev/null); pid or -1. */
pid_t proc_spawn(char *const argv[], const char *stdin_path, const char *log_path);
/* Wait up to @timeout_ms for @pid; true and *@status if it exited. */
bool proc_wait(pid_t pid, int timeout_ms, int *status);
/* SIGTERM the process group, SIGKILL after @grace_ms, reap. Safe on an exited pid. */
void proc_stop(pid_t pid, int grace_ms);
/* Run to completion (bounded by @timeout_ms; killed after); exit code, or -1. */
int proc_run(char *const argv[], const char *stdin_path, const char *log_path, int timeout_ms);

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp) into @buf; false on error. */
bool tmp_dir(char *buf, size_t cap);
/* rm -rf @dir (best effort). */
void tmp_dir_remove(const char *dir);
/* Write / read a whole file (read: malloc'd, NUL-terminated, NULL on error). */
bool file_write(const char *path, const char *data, size_t len);
char *file_read(const char *path);
/* Sleep @ms milliseconds. */
void sleep_ms(int ms);

#endif
