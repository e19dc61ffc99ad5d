/* bench-hello: the smallest useful h2o (evloop) server, the baseline for
 * bench/run.sh and the ceiling in bench/compare.sh. Every GET or HEAD gets
 * "hello\n" (200, Content-Length 6), or --body-bytes N bytes of 'x'; a POST
 * gets 204 (its body read and dropped, as an append's would be); anything
 * else gets 405. Same h2o version, loop and listen setup as the streamsy
 * front end, so the difference in a benchmark is Streamsy's own work.
 *
 *   bench-hello [--listen HOST:PORT] [--body-bytes N] [--hold | --park]   default 127.0.0.1:4438; IPv6 as
 * [::1]:4438
 *
 * --hold: a GET gets a chunked text/event-stream whose first chunk is an
 * SSE control event, and the response never ends: the floor of what an idle
 * SSE reader costs in h2o itself (bench/idle_probe.py compares it with
 * Streamsy's). The socket read buffer starts at 4 KiB, as Streamsy's does.
 *
 * --park: the least long-poll server h2o can be, the floor under
 * bench-fanout --mode long-poll. Every POST body becomes message N (0, 1,
 * ...; 204); a GET whose query holds offset=N (-1: 0) gets message N at once
 * when it exists, else waits for the next POST, which answers every waiting
 * GET. Responses carry Stream-Next-Offset: N+1; a PUT gets 201 with
 * Stream-Next-Offset: 0; a GET without offset= gets "hello\n" as usual. No
 * storage, no checks: only what h2o does per delivery (one response, one
 * new request, one park).
 *
 * Runs until killed (SIGINT/SIGTERM keep their default action). */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h> /* H2O_USE_LIBUV=0 comes from the build */

#define DEFAULT_LISTEN "127.0.0.1:4438"
#define LISTEN_BACKLOG 4096

static const char hello[] = "hello\n";
static const char *body = hello;
static size_t body_len = sizeof hello - 1;

static int hold; /* --hold */
static int park; /* --park */
static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

static void hold_proceed(h2o_generator_t *g, h2o_req_t *req) { (void)g, (void)req; } /* nothing more, ever */
static void hold_stop(h2o_generator_t *g, h2o_req_t *req) { (void)g, (void)req; }

/* ---- --park ---------------------------------------------------------------------------- */

typedef struct parked {
    h2o_linklist_t link;
    h2o_req_t *req;
} parked;

static h2o_iovec_t *messages; /* every POST body, for the life of the process */
static size_t n_messages, cap_messages;
static h2o_linklist_t waiting = {&waiting, &waiting};

static void on_parked_gone(void *p) { /* the client went away while waiting */
    parked *w = p;
    if (h2o_linklist_is_linked(&w->link))
        h2o_linklist_unlink(&w->link);
}

static void send_message(h2o_req_t *req, size_t n) {
    static h2o_generator_t generator = {NULL, NULL};
    char next[24];
    int len = snprintf(next, sizeof next, "%zu", n + 1);
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = messages[n].len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("stream-next-offset"), 0, NULL,
                          h2o_strdup(&req->pool, next, (size_t)len).base, (size_t)len);
    h2o_start_response(req, &generator);
    h2o_send(req, &messages[n], 1, H2O_SEND_STATE_FINAL);
}

static int on_park_req(h2o_req_t *req) {
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PUT"))) {
        req->res.status = 201;
        req->res.reason = "Created";
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("stream-next-offset"), 0, NULL,
                              H2O_STRLIT("0"));
        h2o_send_inline(req, NULL, 0);
        return 0;
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        if (n_messages == cap_messages) {
            cap_messages = cap_messages ? 2 * cap_messages : 1024;
            messages = realloc(messages, cap_messages * sizeof *messages);
            if (!messages)
                abort();
        }
        h2o_iovec_t m = {malloc(req->entity.len + 1), req->entity.len};
        if (!m.base)
            abort();
        memcpy(m.base, req->entity.base, req->entity.len);
        messages[n_messages++] = m;
        while (!h2o_linklist_is_empty(&waiting)) {
            parked *w = H2O_STRUCT_FROM_MEMBER(parked, link, waiting.next);
            h2o_linklist_unlink(&w->link);
            send_message(w->req, n_messages - 1);
        }
        req->res.status = 204;
        req->res.reason = "No Content";
        h2o_send_inline(req, NULL, 0);
        return 0;
    }
    const char *q = req->query_at != SIZE_MAX ? req->path.base + req->query_at : "";
    const char *o = memmem(q, req->query_at != SIZE_MAX ? req->path.len - req->query_at : 0, "offset=", 7);
    if (!o)
        return -1; /* not a poll: on_req answers it */
    long n = strtol(o + 7, NULL, 10);
    size_t at = n < 0 ? 0 : (size_t)n;
    if (at < n_messages) {
        send_message(req, at);
        return 0;
    }
    parked *w = h2o_mem_alloc_shared(&req->pool, sizeof *w, on_parked_gone);
    *w = (parked){{NULL, NULL}, req};
    h2o_linklist_insert(&waiting, &w->link);
    return 0;
}

/* ---- every request -------------------------------------------------------------------------- */

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    (void)self;
    if (park && on_park_req(req) == 0)
        return 0;
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        req->res.status = 204;
        req->res.reason = "No Content";
        h2o_send_inline(req, NULL, 0);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_send_error_generic(req, 405, "Method Not Allowed", "method not allowed\n", 0);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    if (hold) { /* a response that never ends: h2o's part of an idle SSE reader */
        static h2o_generator_t held = {hold_proceed, hold_stop};
        static const char first[] = "event: control\ndata: {}\n\n";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/event-stream"));
        h2o_start_response(req, &held);
        h2o_iovec_t buf = h2o_iovec_init(first, sizeof first - 1);
        h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
        return 0;
    }
    req->res.content_length = body_len; /* else HTTP/1.1 goes chunked */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t buf = h2o_iovec_init(body, body_len); /* static bytes: sent by reference, no copy */
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err) {
    if (err != NULL)
        return;
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&accept_ctx, sock);
}

/* "HOST:PORT" or "[V6HOST]:PORT" -> host and port strings (host written into buf). */
static int split_listen(const char *s, char *host, size_t cap, const char **port) {
    const char *host_start = s, *host_end;
    if (s[0] == '[') {
        host_start = s + 1;
        if ((host_end = strchr(host_start, ']')) == NULL || host_end[1] != ':')
            return -1;
        *port = host_end + 2;
    } else {
        if ((host_end = strrchr(s, ':')) == NULL)
            return -1;
        *port = host_end + 1;
    }
    size_t n = (size_t)(host_end - host_start);
    if (n == 0 || n >= cap || **port == '\0')
        return -1;
    memcpy(host, host_start, n);
    host[n] = '\0';
    return 0;
}

static int open_listener(const char *listen_arg) {
    char host[256];
    const char *port;
    if (split_listen(listen_arg, host, sizeof host, &port) != 0) {
        fprintf(stderr, "bench-hello: --listen wants HOST:PORT, got '%s'\n", listen_arg);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "bench-hello: %s: %s\n", listen_arg, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved_errno = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0) {
            saved_errno = errno;
            continue;
        }
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        saved_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "bench-hello: cannot listen on %s: %s\n", listen_arg, strerror(saved_errno));
    return fd;
}

int main(int argc, char **argv) {
    const char *listen_arg = DEFAULT_LISTEN;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_arg = argv[++i];
        } else if (strncmp(argv[i], "--listen=", 9) == 0) {
            listen_arg = argv[i] + 9;
        } else if (strcmp(argv[i], "--hold") == 0) {
            hold = 1;
        } else if (strcmp(argv[i], "--park") == 0) {
            park = 1;
        } else if (strcmp(argv[i], "--body-bytes") == 0 && i + 1 < argc) {
            body_len = strtoul(argv[++i], NULL, 10);
            char *b = malloc(body_len ? body_len : 1);
            if (!b)
                return 1;
            memset(b, 'x', body_len);
            body = b;
        } else {
            fprintf(stderr, "usage: bench-hello [--listen HOST:PORT] [--body-bytes N] [--hold | --park]   "
                            "(default " DEFAULT_LISTEN ")\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }

    signal(SIGPIPE, SIG_IGN);

    int fd = open_listener(listen_arg);
    if (fd < 0)
        return 1;

    if (hold) /* as the streamsy front end: 4 KiB to start (h2o's default is larger) */
        h2o_socket_buffer_prototype._initial_buf.capacity = H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE;
    h2o_config_init(&config);
    config.server_name = h2o_iovec_init(H2O_STRLIT("bench-hello"));
    h2o_hostconf_t *hostconf = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof *handler);
    handler->on_req = on_req;

    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;

    h2o_socket_t *listener = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);

    printf("bench-hello listening on http://%s/\n", listen_arg);
    fflush(stdout);
    while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0)
        ;
    fprintf(stderr, "bench-hello: event loop failed\n");
    return 1;
}
