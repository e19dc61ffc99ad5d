/* See http_client.h. Test-only code: simple, blocking, bounded by timeouts. */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int connect_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

int test_connect(int port) { return connect_port(port); }

bool test_server_start(test_server *s, const char *extra_arg) {
    return test_server_start_storage(s, "memory", 0, extra_arg);
}

void test_server_kill(test_server *s) {
    int status;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
}

static bool start_once(test_server *s, const char *storage, int port, const char *extra_arg);

/* A free port can be taken (by some client's ephemeral port) between our
 * probe and the server's bind: retry a few times with a new port. */
bool test_server_start_storage(test_server *s, const char *storage, int port, const char *extra_arg) {
    for (int attempt = 0; attempt < (port ? 1 : 3); attempt++)
        if (start_once(s, storage, port, extra_arg))
            return true;
    return false;
}

static bool start_once(test_server *s, const char *storage, int port, const char *extra_arg) {
    const char *bin = getenv("STREAMSY_BIN");
    if (!bin)
        bin = STREAMSY_BIN_DEFAULT;
    s->port = port ? port : free_port();
    static int starts;
    snprintf(s->log_path, sizeof s->log_path, "/tmp/streamsy-test-%d-%d.log", (int)getpid(), ++starts);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    char extra[512] = "";
    const char *argv[32] = {bin,   "serve",  "--listen", listen, "--storage", storage, "--long-poll-timeout-ms",
                            "500", "--quiet"};
    size_t argc = 9;
    if (extra_arg) {
        snprintf(extra, sizeof extra, "%s", extra_arg);
        for (char *save, *t = strtok_r(extra, " ", &save); t && argc < 31; t = strtok_r(NULL, " ", &save))
            argv[argc++] = t;
    }
    argv[argc] = NULL;
    s->pid = fork();
    if (s->pid == 0) {
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (s->nofile) {
            struct rlimit rl = {(rlim_t)s->nofile, (rlim_t)s->nofile};
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) { /* up to 10 s */
        int fd = connect_port(s->port);
        if (fd >= 0) {
            close(fd);
            return true;
        }
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid)
            return false;
        usleep(50000);
    }
    return false;
}

bool test_server_stop(test_server *s) {
    int status = 0;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        usleep(50000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    return false;
}

static bool send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads until the response is complete or the connection closes. */
static bool read_response(int fd, test_response *out) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t head_end = 0, content_length = 0;
    bool have_length = false, chunked = false;
    for (;;) {
        if (!head_end) {
            char *e = len ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
            if (e) {
                head_end = (size_t)(e - buf) + 4;
                size_t hl = head_end < sizeof out->headers ? head_end : sizeof out->headers - 1;
                memcpy(out->headers, buf, hl);
                out->headers[hl] = '\0';
                out->status = atoi(buf + 9);
                char *cl = strcasestr(out->headers, "\r\ncontent-length:");
                if (cl) {
                    have_length = true;
                    content_length = strtoul(cl + 17, NULL, 10);
                }
                chunked = strcasestr(out->headers, "transfer-encoding: chunked") != NULL;
                if (out->status == 204 || out->status == 304 || out->status / 100 == 1) {
                    have_length = true;
                    content_length = 0;
                }
            }
        }
        if (head_end && have_length && len >= head_end + content_length)
            break;
        if (head_end && chunked && len >= head_end + 5 &&
            memmem(buf + head_end, len - head_end, "\r\n0\r\n\r\n", 7))
            break;
        if (head_end && chunked && len - head_end >= 5 && memcmp(buf + head_end, "0\r\n\r\n", 5) == 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited > 5000 || poll(&p, 1, (int)(5000 - waited)) <= 0) {
            free(buf);
            return false;
        }
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (!head_end) {
        free(buf);
        return false;
    }
    /* De-chunk if needed. */
    size_t blen = len - head_end;
    char *body = malloc(blen + 1);
    if (chunked) {
        size_t i = head_end, o = 0;
        while (i < len) {
            size_t n = strtoul(buf + i, NULL, 16);
            char *crlf = memmem(buf + i, len - i, "\r\n", 2);
            if (!crlf || n == 0)
                break;
            i = (size_t)(crlf - buf) + 2;
            if (i + n > len)
                n = len - i;
            memcpy(body + o, buf + i, n);
            o += n;
            i += n + 2;
        }
        blen = o;
    } else {
        if (have_length && blen > content_length)
            blen = content_length;
        memcpy(body, buf + head_end, blen);
    }
    body[blen] = '\0';
    out->body = body;
    out->body_len = blen;
    free(buf);
    return true;
}

bool test_http_raw(int port, const char *raw, size_t raw_len, test_response *out) {
    memset(out, 0, sizeof *out);
    int fd = connect_port(port);
    if (fd < 0)
        return false;
    bool ok = send_all(fd, raw, raw_len) && read_response(fd, out);
    close(fd);
    return ok;
}

bool test_http_raw_all(int port, const char *raw, size_t raw_len, int wait_ms, char *out, size_t cap,
                       bool *closed) {
    int fd = connect_port(port);
    *closed = false;
    out[0] = '\0';
    if (fd < 0 || !send_all(fd, raw, raw_len)) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    size_t n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, wait_ms) <= 0)
            break; /* quiet for wait_ms: the connection stays open */
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r <= 0) {
            *closed = true;
            break;
        }
        n += (size_t)r;
        if (n + 1 >= cap)
            break;
    }
    out[n] = '\0';
    close(fd);
    return true;
}

int test_count_responses(const char *bytes) {
    int n = 0;
    for (const char *p = bytes; (p = strstr(p, "HTTP/1.1 ")) != NULL; p += 9)
        n++;
    return n;
}

bool test_http_raw_hangup(int port, const char *raw, size_t raw_len, int wait_ms) {
    int fd = connect_port(port);
    if (fd < 0)
        return false;
    bool ok = send_all(fd, raw, raw_len);
    usleep((useconds_t)wait_ms * 1000);
    close(fd);
    return ok;
}

bool test_http(int port, const char *method, const char *target, const char *extra_headers, const char *body,
               size_t body_len, test_response *out) {
    size_t cap = 1024 + (extra_headers ? strlen(extra_headers) : 0) + body_len;
    char *req = malloc(cap);
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n",
                     method, target, port, extra_headers ? extra_headers : "", body_len);
    if (body_len)
        memcpy(req + n, body, body_len);
    bool ok = test_http_raw(port, req, (size_t)n + body_len, out);
    free(req);
    return ok;
}

bool test_header(const test_response *r, const char *name, char *buf, size_t cap) {
    char key[128];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *h = strcasestr(r->headers, key);
    if (!h)
        return false;
    h += strlen(key);
    while (*h == ' ')
        h++;
    size_t n = strcspn(h, "\r");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, h, n);
    buf[n] = '\0';
    return true;
}

void test_response_free(test_response *r) {
    free(r->body);
    r->body = NULL;
}

size_t test_read_for(int fd, int wait_ms, char *out, size_t cap) {
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = wait_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0 || len + 1 >= cap)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t r = recv(fd, out + len, cap - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    out[len] = '\0';
    return len;
}

long test_server_cpu_ms(const test_server *s) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)s->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

int test_server_log_count(const test_server *s, const char *needle) {
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        for (const char *p = line; (p = strstr(p, needle)) != NULL; p += strlen(needle))
            n++;
    fclose(f);
    return n;
}

long test_server_rss_kb(const test_server *s) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}
