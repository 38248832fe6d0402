/* tests/support/proc.c - see proc.h. */
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int loopback_socket(int port, struct sockaddr_in *a)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

int test_free_port(void)
{
    struct sockaddr_in a;
    int fd = loopback_socket(0, &a);
    if (fd < 0) return 0;
    socklen_t l = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

bool test_proc_spawn(test_proc *p, char *const argv[])
{
    int in[2], out[2];
    memset(p, 0, sizeof *p);
    p->in_fd = p->out_fd = -1;
    if (pipe(in) != 0) return false;
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return false;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(in[i], F_SETFD, FD_CLOEXEC);
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(in[0], 0);
        dup2(out[1], 1);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        return false;
    }
    signal(SIGPIPE, SIG_IGN);
    p->pid = pid;
    p->in_fd = in[1];
    p->out_fd = out[0];
    return true;
}

bool test_proc_readline(test_proc *p, char *line, size_t n, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl) {
            size_t l = (size_t)(nl - p->buf);
            size_t c = l < n - 1 ? l : n - 1;
            memcpy(line, p->buf, c);
            line[c] = '\0';
            memmove(p->buf, nl + 1, p->len - l - 1);
            p->len -= l + 1;
            return true;
        }
        if (p->len == sizeof p->buf) p->len = 0; /* an over-long line: drop it */
        long left = deadline - now_ms();
        if (left <= 0 || p->out_fd < 0) return false;
        struct pollfd pf = { p->out_fd, POLLIN, 0 };
        if (poll(&pf, 1, (int)left) <= 0) continue;
        ssize_t r = read(p->out_fd, p->buf + p->len, sizeof p->buf - p->len);
        if (r <= 0) return false;
        p->len += (size_t)r;
    }
}

bool test_proc_expect(test_proc *p, const char *prefix, char *line, size_t n, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    while (test_proc_readline(p, line, n, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0))) {
        if (strncmp(line, prefix, strlen(prefix)) == 0) return true;
        fprintf(stderr, "  [child] %s\n", line);
    }
    return false;
}

bool test_proc_write(test_proc *p, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(p->in_fd, s, n);
        if (w <= 0) return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

int test_proc_stop(test_proc *p, int sig, int timeout_ms)
{
    if (p->pid <= 0) return -1;
    kill(p->pid, sig);
    int st = 0;
    long deadline = now_ms() + timeout_ms;
    pid_t r;
    while ((r = waitpid(p->pid, &st, WNOHANG)) == 0 && now_ms() < deadline) usleep(5000);
    if (r == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &st, 0);
    }
    if (p->in_fd >= 0) close(p->in_fd);
    if (p->out_fd >= 0) close(p->out_fd);
    p->in_fd = p->out_fd = -1;
    p->pid = 0;
    return st;
}

bool test_wait_tcp(int port, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    do {
        struct sockaddr_in a;
        int fd = loopback_socket(port, &a);
        if (fd < 0) return false;
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok) return true;
        usleep(10000);
    } while (now_ms() < deadline);
    return false;
}

bool test_nats_server_start(test_proc *p, int port, int timeout_ms)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    char *argv[] = { "nats-server", "-a", "127.0.0.1", "-p", ps, "-l", "/dev/null", NULL };
    if (!test_proc_spawn(p, argv)) return false;
    long deadline = now_ms() + timeout_ms;
    do { /* ready = a client connection gets the INFO line */
        struct sockaddr_in a;
        int fd = loopback_socket(port, &a);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            struct pollfd pf = { fd, POLLIN, 0 };
            char b[8] = { 0 };
            bool ok = poll(&pf, 1, 1000) == 1 && read(fd, b, 4) == 4 && memcmp(b, "INFO", 4) == 0;
            close(fd);
            if (ok) return true;
        } else if (fd >= 0) {
            close(fd);
        }
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) { /* died (port taken?) */
            close(p->in_fd);
            close(p->out_fd);
            p->in_fd = p->out_fd = -1;
            p->pid = 0;
            return false;
        }
        usleep(10000);
    } while (now_ms() < deadline);
    test_proc_stop(p, SIGKILL, 1000);
    return false;
}
