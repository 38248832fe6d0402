/* tests/support/proc.h - child processes for tests that talk to servers and to independent
 * clients (nats-server, Python subscribers): spawn with stdin/stdout pipes, read lines with
 * a deadline, always stop (SIGTERM, then SIGKILL), free loopback ports.
 *
 * Children get PR_SET_PDEATHSIG(SIGKILL): a crashed test leaves no server behind.
 */
#ifndef KVBM_TEST_PROC_H
#define KVBM_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct test_proc {
    pid_t  pid;      /* 0: not running */
    int    in_fd;    /* child's stdin (write end), -1 if none */
    int    out_fd;   /* child's stdout (read end), -1 if none */
    char   buf[8192];
    size_t len;
} test_proc;

/* A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, close). 0 on error. */
int test_free_port(void);

/* Start argv[0] (PATH search) with piped stdin/stdout (stderr inherited). */
bool test_proc_spawn(test_proc *p, char *const argv[]);
/* Read one line (without the newline) into @line within @timeout_ms. false on timeout/EOF. */
bool test_proc_readline(test_proc *p, char *line, size_t n, int timeout_ms);
/* Read lines until one starts with @prefix (copied into @line); false on timeout/EOF. */
bool test_proc_expect(test_proc *p, const char *prefix, char *line, size_t n, int timeout_ms);
/* Write @s to the child's stdin. */
bool test_proc_write(test_proc *p, const char *s);
/* Send @sig, wait up to @timeout_ms, then SIGKILL and reap. Returns the wait status, or -1
 * if it was not running. Safe to call twice. */
int test_proc_stop(test_proc *p, int sig, int timeout_ms);

/* Connect to 127.0.0.1:@port until it accepts, within @timeout_ms. */
bool test_wait_tcp(int port, int timeout_ms);

/* Start `nats-server -a 127.0.0.1 -p PORT` and wait until it answers with INFO. */
bool test_nats_server_start(test_proc *p, int port, int timeout_ms);

/* The Python interpreter the tests use (Debian's; the python3 on PATH may be another). */
#define TEST_PYTHON "/usr/bin/python3"

#endif
