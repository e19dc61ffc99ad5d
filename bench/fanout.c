/* Live fan-out load client: N subscribers (SSE or long-poll) on one stream,
 * one writer appending at R messages per second, all in one epoll loop.
 *
 *   bench-fanout --port P [--subscribers N] [--mode sse|long-poll] [--rate R]
 *                [--duration S] [--server-pid PID] [--idle] [--path /v1/stream/x]
 *
 * Every message is "SEQ,SEND_NS\n" (text/plain); a subscriber checks that it
 * sees every sequence number exactly once and in order, and records the
 * delivery latency (receive time minus the writer's send time; one process,
 * one monotonic clock). Prints one line of key=value results:
 *
 *   FANOUT mode=sse subscribers=1000 sent=2000 expected=2000000 delivered=2000000
 *          delivered_pct=100.0 rate_per_sub=99.9 p50_ms=.. p99_ms=.. max_ms=..
 *          duplicates=0 gaps=0 errors=0 server_cpu_pct=.. server_rss_kb=..
 *
 * --idle: connects N SSE subscribers, waits until every one is parked, then
 * reports the server's resident memory per idle connection (from /proc) and
 * the time one append takes to reach all of them (p50/p99/max).
 *
 * The stream is created (PUT) first; pass a fresh --path per run. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_CAP (1 << 16)

typedef enum { SSE, LONG_POLL } mode_t_;

typedef struct conn {
    int fd;
    bool writer;
    char out[1024];
    size_t out_len, out_off;
    char *in; /* response bytes not parsed yet */
    size_t in_len, in_cap;
    char *ev; /* SSE: de-chunked event text not parsed yet */
    size_t ev_len, ev_cap;
    bool headers_done;
    bool chunked;
    long content_left; /* long-poll: body bytes still to come; -1 until known */
    int status;
    char next_offset[80];
    uint64_t expect; /* next sequence number */
    bool parked;     /* SSE: has seen its first control event */
    bool busy;       /* writer: a POST awaits its answer */
} conn;

static struct {
    int port;
    const char *path;
    int subscribers;
    mode_t_ mode;
    double rate;
    double duration;
    int server_pid;
    bool idle;
} opt = {.path = "/v1/stream/fanout", .subscribers = 100, .mode = SSE, .rate = 100, .duration = 10};

static int ep;
static uint64_t sent, delivered, duplicates, gaps, errors;
static uint32_t *lat_us; /* one sample per delivery */
static size_t lat_n, lat_cap;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int connect_server(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* A blocking request on a fresh connection, for setup; returns the status. */
static int simple_request(const char *method, const char *path, const char *ctype, const char *body,
                          char *next_offset, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect");
    char req[1024];
    int n = snprintf(
        req, sizeof req,
        "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
        method, path, ctype, strlen(body), body);
    if (write(fd, req, (size_t)n) != n)
        die("write");
    char resp[4096];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof resp - 1 && (r = read(fd, resp + len, sizeof resp - 1 - len)) > 0)
        len += (size_t)r;
    resp[len] = '\0';
    close(fd);
    int status = 0;
    sscanf(resp, "HTTP/1.1 %d", &status);
    const char *h = strcasestr(resp, "\r\nStream-Next-Offset: ");
    if (h && next_offset) {
        h += 22;
        size_t k = 0;
        while (h[k] && h[k] != '\r' && k + 1 < cap) {
            next_offset[k] = h[k];
            k++;
        }
        next_offset[k] = '\0';
    }
    return status;
}

static void watch(conn *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0 && epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
}

static void send_out(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            watch(c, EPOLLIN | EPOLLOUT);
            return;
        }
        if (w <= 0) {
            errors++;
            return;
        }
        c->out_off += (size_t)w;
    }
    watch(c, EPOLLIN);
}

static void request(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void request(conn *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->out, sizeof c->out, fmt, ap);
    va_end(ap);
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->headers_done = false;
    c->chunked = false;
    c->content_left = -1;
    send_out(c);
}

static void subscribe(conn *c) {
    request(c, "GET %s?offset=%s&live=%s HTTP/1.1\r\nHost: x\r\n\r\n", opt.path, c->next_offset,
            opt.mode == SSE ? "sse" : "long-poll");
}

static void record(conn *c, const char *line, size_t n, uint64_t t) {
    unsigned long long seq, at;
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return;
    memcpy(tmp, line, n);
    tmp[n] = '\0';
    if (sscanf(tmp, "%llu,%llu", &seq, &at) != 2) {
        errors++;
        return;
    }
    if (seq < c->expect) {
        duplicates++;
        return;
    }
    if (seq > c->expect)
        gaps += seq - c->expect;
    c->expect = seq + 1;
    delivered++;
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 1 << 20;
        lat_us = realloc(lat_us, lat_cap * sizeof *lat_us);
        if (!lat_us)
            die("realloc");
    }
    uint64_t us = t > at ? (t - at) / 1000 : 0;
    lat_us[lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* SSE text: events separated by a blank line. Consumes whole events only. */
static size_t parse_sse(conn *c, const char *p, size_t n, uint64_t t) {
    size_t used = 0;
    for (;;) {
        const char *end = memmem(p + used, n - used, "\n\n", 2);
        if (!end)
            return used;
        const char *ev = p + used;
        size_t len = (size_t)(end - ev);
        bool data = len >= 12 && memcmp(ev, "event: data\n", 12) == 0;
        for (const char *l = ev; l < end;) {
            const char *nl = memchr(l, '\n', (size_t)(end - l));
            if (!nl)
                nl = end;
            if ((size_t)(nl - l) >= 5 && memcmp(l, "data:", 5) == 0) {
                if (data) {
                    record(c, l + 5, (size_t)(nl - l - 5), t);
                } else { /* control: remember the resume offset */
                    const char *k = memmem(l, (size_t)(nl - l), "\"streamNextOffset\":\"", 20);
                    if (k) {
                        k += 20;
                        const char *q = memchr(k, '"', (size_t)(nl - k));
                        if (q && (size_t)(q - k) < sizeof c->next_offset) {
                            memcpy(c->next_offset, k, (size_t)(q - k));
                            c->next_offset[q - k] = '\0';
                        }
                    }
                    c->parked = true;
                }
            }
            l = nl + 1;
        }
        used = (size_t)(end - p) + 2;
    }
}

/* Long-poll body: one message per line. */
static void parse_lines(conn *c, const char *p, size_t n, uint64_t t) {
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (p + i)) : n - i;
        record(c, p + i, len, t);
        i += len + 1;
    }
}

static void header_value(const char *head, const char *name, char *out, size_t cap) {
    const char *h = strcasestr(head, name);
    if (!h)
        return;
    h += strlen(name);
    size_t k = 0;
    while (h[k] && h[k] != '\r' && k + 1 < cap) {
        out[k] = h[k];
        k++;
    }
    out[k] = '\0';
}

/* Moves the payload of every complete chunk from c->in to c->ev; *last when
 * the final (empty) chunk has been taken too. */
static void dechunk(conn *c, bool *last) {
    size_t r = 0;
    *last = false;
    for (;;) {
        char *crlf = memmem(c->in + r, c->in_len - r, "\r\n", 2);
        if (!crlf)
            break;
        unsigned long size = strtoul(c->in + r, NULL, 16);
        size_t start = (size_t)(crlf - c->in) + 2;
        if (start + size + 2 > c->in_len)
            break;
        if (c->ev_len + size > c->ev_cap) {
            c->ev_cap = (c->ev_len + size) * 2 + 4096;
            c->ev = realloc(c->ev, c->ev_cap);
            if (!c->ev)
                die("realloc");
        }
        memcpy(c->ev + c->ev_len, c->in + start, size);
        c->ev_len += size;
        r = start + size + 2;
        if (size == 0) {
            *last = true;
            break;
        }
    }
    memmove(c->in, c->in + r, c->in_len - r);
    c->in_len -= r;
}

/* One whole response body arrived (writer or long-poll): act on it. */
static void response_done(conn *c, const char *body, size_t len, uint64_t t) {
    if (!c->writer && c->status == 200)
        parse_lines(c, body, len, t);
    c->headers_done = false;
    if (c->writer)
        c->busy = false;
    else
        subscribe(c); /* the next poll on the same connection */
}

/* Consumes what it can of c->in; returns false when the connection is done. */
static bool consume(conn *c, uint64_t t) {
    for (;;) {
        if (!c->headers_done) {
            char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
            if (!end)
                return true;
            *end = '\0';
            c->status = 0;
            sscanf(c->in, "HTTP/1.1 %d", &c->status);
            c->chunked = strcasestr(c->in, "\r\nTransfer-Encoding: chunked") != NULL;
            char len[32] = "";
            header_value(c->in, "\r\nContent-Length: ", len, sizeof len);
            c->content_left = len[0] ? atol(len) : (c->chunked ? -1 : 0);
            if (!c->writer && opt.mode == LONG_POLL)
                header_value(c->in, "\r\nStream-Next-Offset: ", c->next_offset, sizeof c->next_offset);
            size_t head = (size_t)(end - c->in) + 4;
            memmove(c->in, c->in + head, c->in_len - head);
            c->in_len -= head;
            c->headers_done = true;
            c->ev_len = 0;
            if (c->status >= 300 && c->status != 304)
                errors++;
        }
        bool last = false;
        if (c->chunked)
            dechunk(c, &last);
        if (c->writer || opt.mode == LONG_POLL) {
            if (c->chunked) {
                if (!last)
                    return true;
                response_done(c, c->ev, c->ev_len, t);
                continue;
            }
            if ((size_t)c->content_left > c->in_len)
                return true; /* wait for the whole body */
            size_t body = (size_t)c->content_left;
            response_done(c, c->in, body, t);
            memmove(c->in, c->in + body, c->in_len - body);
            c->in_len -= body;
            continue;
        }
        /* SSE: parse whole events out of the de-chunked text */
        size_t used = parse_sse(c, c->ev, c->ev_len, t);
        memmove(c->ev, c->ev + used, c->ev_len - used);
        c->ev_len -= used;
        if (last) { /* the response ended (its lifetime): reconnect from the last offset */
            c->in_len = c->ev_len = 0;
            return false;
        }
        return true;
    }
}

static bool on_readable(conn *c) {
    uint64_t t = now_ns();
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : BUF_CAP;
            c->in = realloc(c->in, c->in_cap);
            if (!c->in)
                die("realloc");
        }
        ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (r <= 0)
            return false;
        c->in_len += (size_t)r;
    }
    return consume(c, t);
}

static void reconnect(conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = connect_server();
    c->in_len = c->ev_len = 0;
    c->headers_done = false;
    subscribe(c);
}

static void post(conn *w) {
    char body[64];
    int n = snprintf(body, sizeof body, "%llu,%llu\n", (unsigned long long)sent, (unsigned long long)now_ns());
    request(w, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", opt.path,
            n, body);
    w->busy = true;
    sent++;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p) {
    if (!lat_n)
        return 0;
    size_t i = (size_t)(p * (double)(lat_n - 1));
    return lat_us[i] / 1000.0;
}

static long proc_field(const char *file, const char *key) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/%s", opt.server_pid, file);
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0)
            v = atol(line + strlen(key));
    fclose(f);
    return v;
}

static long server_cpu_ticks(void) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long u, s;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &u, &s) != 2)
        return -1;
    return (long)(u + s);
}

static void loop_until(uint64_t deadline, conn *writer, uint64_t interval_ns, uint64_t *next_post,
                       bool (*done)(void)) {
    struct epoll_event evs[256];
    for (;;) {
        uint64_t t = now_ns();
        if (t >= deadline || (done && done()))
            return;
        if (writer && t >= *next_post && !writer->busy) {
            post(writer);
            *next_post += interval_ns;
            if (*next_post < t)
                *next_post = t; /* the writer fell behind: do not burst */
        }
        uint64_t until = writer ? *next_post : deadline;
        int wait_ms = until > t ? (int)((until - t) / 1000000) : 0;
        int n = epoll_wait(ep, evs, 256, wait_ms > 100 ? 100 : wait_ms);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT)
                send_out(c);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                if (!on_readable(c)) {
                    if (c->writer) {
                        fprintf(stderr, "writer connection closed\n");
                        exit(1);
                    }
                    reconnect(c);
                }
        }
    }
}

static conn *subs;

static bool all_parked(void) {
    for (int i = 0; i < opt.subscribers; i++)
        if (!subs[i].parked)
            return false;
    return true;
}

static uint64_t want_total;
static bool all_delivered(void) { return delivered + gaps >= want_total; }

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--port"))
            opt.port = atoi(v), i++;
        else if (!strcmp(a, "--path"))
            opt.path = v, i++;
        else if (!strcmp(a, "--subscribers"))
            opt.subscribers = atoi(v), i++;
        else if (!strcmp(a, "--mode"))
            opt.mode = strcmp(v, "sse") ? LONG_POLL : SSE, i++;
        else if (!strcmp(a, "--rate"))
            opt.rate = atof(v), i++;
        else if (!strcmp(a, "--duration"))
            opt.duration = atof(v), i++;
        else if (!strcmp(a, "--server-pid"))
            opt.server_pid = atoi(v), i++;
        else if (!strcmp(a, "--idle"))
            opt.idle = true;
        else {
            fprintf(stderr, "usage: see the comment at the top of bench/fanout.c\n");
            return 2;
        }
    }
    if (!opt.port || opt.subscribers < 1 || opt.rate <= 0)
        return fprintf(stderr, "--port is required; --subscribers and --rate must be positive\n"), 2;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    char start[80] = "-1";
    if (simple_request("PUT", opt.path, "text/plain", "", start, sizeof start) != 201)
        return fprintf(stderr, "PUT %s did not create the stream (use a fresh --path)\n", opt.path), 1;
    ep = epoll_create1(0);
    long rss0 = opt.server_pid ? proc_field("status", "VmRSS:") : -1;
    subs = calloc((size_t)opt.subscribers, sizeof *subs);
    for (int i = 0; i < opt.subscribers; i++) {
        subs[i].fd = connect_server();
        snprintf(subs[i].next_offset, sizeof subs[i].next_offset, "%s", start);
        subs[i].parked = opt.mode == LONG_POLL;
        subscribe(&subs[i]);
    }
    uint64_t next_post = 0;
    loop_until(now_ns() + 30000000000ull, NULL, 0, &next_post, all_parked);
    if (!all_parked())
        return fprintf(stderr, "not every subscriber connected within 30 s\n"), 1;
    usleep(200000); /* let long-polls park */

    conn writer = {.writer = true};
    writer.fd = connect_server();
    if (opt.idle) {
        long rss1 = opt.server_pid ? proc_field("status", "VmRSS:") : -1;
        want_total = (uint64_t)opt.subscribers;
        uint64_t np = now_ns();
        post(&writer);
        loop_until(now_ns() + 30000000000ull, NULL, 0, &np, all_delivered);
        qsort(lat_us, lat_n, sizeof *lat_us, cmp_u32);
        printf("FANOUT_IDLE mode=%s subscribers=%d rss_per_conn_kb=%.1f delivered=%llu p50_ms=%.2f p99_ms=%.2f "
               "max_ms=%.2f duplicates=%llu gaps=%llu errors=%llu\n",
               opt.mode == SSE ? "sse" : "long-poll", opt.subscribers,
               rss0 >= 0 ? (double)(rss1 - rss0) / opt.subscribers : -1.0, (unsigned long long)delivered, pct(0.5),
               pct(0.99), pct(1.0), (unsigned long long)duplicates, (unsigned long long)gaps,
               (unsigned long long)errors);
        return errors || duplicates || gaps ? 1 : 0;
    }

    long cpu0 = opt.server_pid ? server_cpu_ticks() : -1;
    uint64_t t0 = now_ns();
    next_post = t0;
    loop_until(t0 + (uint64_t)(opt.duration * 1e9), &writer, (uint64_t)(1e9 / opt.rate), &next_post, NULL);
    double elapsed = (double)(now_ns() - t0) / 1e9;
    long cpu1 = opt.server_pid ? server_cpu_ticks() : -1;
    want_total = sent * (uint64_t)opt.subscribers;
    uint64_t np = UINT64_MAX;
    loop_until(now_ns() + 5000000000ull, NULL, 0, &np, all_delivered); /* the tail of deliveries */
    qsort(lat_us, lat_n, sizeof *lat_us, cmp_u32);
    double cpu_pct = cpu0 >= 0 ? 100.0 * (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) / elapsed : -1;
    printf("FANOUT mode=%s subscribers=%d rate=%.0f sent=%llu expected=%llu delivered=%llu delivered_pct=%.1f "
           "rate_per_sub=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f duplicates=%llu gaps=%llu errors=%llu "
           "server_cpu_pct=%.0f\n",
           opt.mode == SSE ? "sse" : "long-poll", opt.subscribers, opt.rate, (unsigned long long)sent,
           (unsigned long long)want_total, (unsigned long long)delivered,
           want_total ? 100.0 * (double)delivered / (double)want_total : 0,
           (double)delivered / opt.subscribers / elapsed, pct(0.5), pct(0.99), pct(1.0),
           (unsigned long long)duplicates, (unsigned long long)gaps, (unsigned long long)errors, cpu_pct);
    return errors || duplicates || gaps ? 1 : 0;
}
