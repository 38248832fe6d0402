/* tests/support/net.c - see net.h. */
#include "support/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

uint16_t net_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int net_connect(uint16_t port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int net_http(uint16_t port, const char *request, int timeout_ms, net_response *out)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    int fd = net_connect(port, timeout_ms);
    if (fd < 0) return -1;
    size_t n = strlen(request), off = 0;
    while (off < n) {
        ssize_t w = send(fd, request + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) buf = realloc(buf, cap *= 2);
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sep != NULL && strncmp(buf, "HTTP/1.", 7) == 0) {
        out->status = atoi(buf + 9);
        size_t hl = (size_t)(sep - buf);
        out->headers = malloc(hl + 1);
        memcpy(out->headers, buf, hl);
        out->headers[hl] = '\0';
        out->body_len = len - hl - 4;
        out->body = malloc(out->body_len + 1);
        memcpy(out->body, sep + 4, out->body_len);
        out->body[out->body_len] = '\0';
    }
    free(buf);
    return out->status;
}

int net_get(uint16_t port, const char *path, const char *accept, int timeout_ms, net_response *out)
{
    char req[1024];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s%s%sConnection: close\r\n\r\n", path,
             (unsigned)port, accept ? "Accept: " : "", accept ? accept : "", accept ? "\r\n" : "");
    return net_http(port, req, timeout_ms, out);
}

void net_response_free(net_response *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

bool net_header(const net_response *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p != NULL && *p; ) {
        const char *e = strstr(p, "\r\n");
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') v++;
            size_t len = e ? (size_t)(e - v) : strlen(v);
            if (len >= cap) len = cap - 1;
            memcpy(buf, v, len);
            buf[len] = '\0';
            return true;
        }
        p = e ? e + 2 : NULL;
    }
    return false;
}

pid_t proc_spawn(char *const argv[], const char *stdin_path, const char *log_path)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test, even if it crashes */
    int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
    int out = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in >= 0) dup2(in, 0);
    if (out >= 0) { dup2(out, 1); dup2(out, 2); }
    execvp(argv[0], argv);
    _exit(127);
}

bool proc_wait(pid_t pid, int timeout_ms, int *status)
{
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return true;
        if (r < 0) return true; /* already reaped */
        if (waited >= timeout_ms) return false;
        sleep_ms(10);
    }
}

void proc_stop(pid_t pid, int grace_ms)
{
    if (pid <= 0) return;
    int st;
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    if (!proc_wait(pid, grace_ms, &st)) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    kill(-pid, SIGKILL); /* stragglers of the group */
}

int proc_run(char *const argv[], const char *stdin_path, const char *log_path, int timeout_ms)
{
    pid_t pid = proc_spawn(argv, stdin_path, log_path);
    if (pid < 0) return -1;
    int st = 0;
    if (!proc_wait(pid, timeout_ms, &st)) {
        proc_stop(pid, 100);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool tmp_dir(char *buf, size_t cap)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/kvbm-test-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(buf) != NULL;
}

void tmp_dir_remove(const char *dir)
{
    char *argv[] = { "rm", "-rf", (char *)dir, NULL };
    (void)proc_run(argv, NULL, NULL, 30000);
}

bool file_write(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

char *file_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    size_t r;
    while ((r = fread(b + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len < 2) b = realloc(b, cap *= 2);
    }
    fclose(f);
    b[len] = '\0';
    return b;
}
