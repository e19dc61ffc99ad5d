/* The h2o front end: configuration, listening socket, TLS, the loop, the
 * access log and shutdown. Requests themselves are in h2o_exchange.c.
 *
 * Request bodies and 413
 *   h2o 2.2.5 buffers the whole body before calling the handler and refuses
 *   bodies over globalconf.max_request_entity_size itself: over HTTP/1.1 with
 *   a Content-Length it answers "413 Request Entity Too Large" (text/plain,
 *   without our X-Content-Type-Options/CORS headers) at once, stops reading
 *   and closes the connection; a client that is still uploading then often
 *   sees a connection reset instead of the 413 (with chunked bodies the 413
 *   comes mid-body); over HTTP/2 it resets the stream (REFUSED_STREAM). So
 *   that ordinary oversized bodies get a clean answer, h2o's limit is set
 *   above ours, to max_body + max(max_body, SS_HTTP_BODY_DRAIN_SLACK): a body
 *   in between is read in full (drained) and the handler answers
 *   "413 Payload too large" with all our headers, keeping the connection.
 *   Only bodies beyond that hard limit meet h2o's own behaviour.
 *
 * Shutdown
 *   h2o 2.2.5 has no "close every connection" call, so the front end tracks
 *   accepted sockets itself (h2o_socket_t.on_close tells when h2o closed one).
 *   On stop it closes the listener, answers the parked live reads (SSE gets
 *   a last control event), then shuts down the read side of every
 *   connection: h2o sees EOF, finishes the response in flight and closes. Stragglers are cut (SHUT_RDWR) after
 *   SS_HTTP_SHUTDOWN_GRACE_MS. With no socket left, the context, loop and
 *   configuration are freed, so the process exits leak-free. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/errf.h"
#include "base/log.h"
#include "h2o_internal.h"
#include "streamsy/alloc.h"

#define LISTEN_BACKLOG 4096

typedef struct ss__h2o_logger {
    h2o_logger_t super;
    ss_h2o_front *f;
} ss__h2o_logger;

/* A front end whose connections would not close, kept reachable until exit. */
static ss_h2o_front *left_to_exit;

static const h2o_iovec_t alpn_protocols[] = {{H2O_STRLIT("h2")}, {H2O_STRLIT("http/1.1")}, {NULL, 0}};

/* ---- access log ------------------------------------------------------------------------ */

static void log_flush(ss_h2o_front *f) {
    ss__log_write_bytes(f->log, f->log_len);
    f->log_len = 0;
}

/* Appends one entry to the access-log buffer (flushed once per loop turn
 * or when it holds SS__ACCESS_LOG_FLUSH_BYTES). */
static void log_append(ss_h2o_front *f, const ss__log_line *l) {
    if (f->log_len + l->len > f->log_cap) {
        if (f->log_len)
            log_flush(f);
        if (l->len > f->log_cap) {
            size_t cap = l->len > SS__ACCESS_LOG_FLUSH_BYTES ? l->len : SS__ACCESS_LOG_FLUSH_BYTES;
            char *p = ss_realloc(f->log, cap);
            if (!p)
                return;
            f->log = p;
            f->log_cap = cap;
        }
    }
    memcpy(f->log + f->log_len, l->p, l->len);
    f->log_len += l->len;
    if (f->log_len >= SS__ACCESS_LOG_FLUSH_BYTES)
        log_flush(f);
}

#define LOG_TARGET_MAX 1024 /* request target bytes per entry */

static void on_conn_close(void *data);

static void format_peer(h2o_socket_t *sock, char *out, size_t cap) {
    struct sockaddr_storage ss;
    socklen_t sl = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    char h[INET6_ADDRSTRLEN];
    snprintf(out, cap, "-");
    if (sl && ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, h, sizeof h);
        snprintf(out, cap, "%s:%u", h, ntohs(a->sin_port));
    } else if (sl && ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h);
        snprintf(out, cap, "[%s]:%u", h, ntohs(a->sin6_port));
    }
}

void ss__h2o_log_request(ss_h2o_front *f, h2o_req_t *req) {
    ss__h2o_count_request(f, req);
    if (!f->access_log || !ss__log_on(SS__LOG_INFO))
        return;
    struct timeval now;
    gettimeofday(&now, NULL);
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    const char *peer = sock && sock->on_close.cb == on_conn_close ? ((ss__conn *)sock->on_close.data)->peer : "-";
    const struct timeval *begin = &req->timestamps.request_begin_at;
    double ms =
        begin->tv_sec ? (double)(now.tv_sec - begin->tv_sec) * 1e3 + (now.tv_usec - begin->tv_usec) / 1e3 : 0;
    h2o_iovec_t method = req->input.method, target = req->input.path;
    ss__log_line l;
    ss__log_begin(&l, SS__LOG_INFO, "access");
    ss__log_cstr(&l, "peer", peer[0] ? peer : "-");
    ss__log_str(&l, "method", method.base, method.len < 16 ? method.len : 16);
    ss__log_str(&l, "target", target.base, target.len < LOG_TARGET_MAX ? target.len : LOG_TARGET_MAX);
    ss__log_u64(&l, "status", (uint64_t)req->res.status);
    ss__log_u64(&l, "bytes_in", req->entity.base ? req->entity.len : 0);
    ss__log_u64(&l, "bytes_out", req->bytes_sent);
    ss__log_ms(&l, "duration_ms", ms);
    ss__log_cstr(&l, "proto", req->version >= 0x200 ? "h2" : req->version == 0x100 ? "h1.0" : "h1.1");
    ss__log_end(&l);
    log_append(f, &l);
}

static void on_log_access(h2o_logger_t *self, h2o_req_t *req) {
    ss__h2o_log_request(((ss__h2o_logger *)self)->f, req);
}

/* ---- sockets ------------------------------------------------------------------------------ */

static void on_conn_close(void *data) {
    ss__conn *c = data;
    ss__h2o_conn_closing(c);
    h2o_linklist_unlink(&c->link);
    c->f->n_conns--;
    ss_free(c);
}

static void on_accept(h2o_socket_t *listener, const char *err);

/* Stops reading the listener; turn() resumes it (resume_accepting_if_able). */
static void pause_accepting(ss_h2o_front *f) {
    if (f->accept_paused)
        return;
    h2o_socket_read_stop(f->listener);
    f->accept_paused = true;
}

static void resume_accepting_if_able(ss_h2o_front *f, int64_t now) {
    if (!f->accept_paused || !f->listener || f->stopping || f->n_conns >= f->max_conns)
        return;
    if (f->out_of_fds && now < f->accept_retry_at)
        return;
    f->accept_paused = false;
    h2o_socket_read_start(f->listener, on_accept);
}

static const char fds_exhausted_response[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                             "Content-Type: text/plain; charset=utf-8\r\n"
                                             "Retry-After: 1\r\n"
                                             "Connection: close\r\n"
                                             "Content-Length: 34\r\n\r\n"
                                             "Server out of file descriptors\r\n\r\n";

/* Out of descriptors: frees the reserve one to take the oldest waiting
 * connection off the backlog and answer it 503 (plain HTTP/1.1; a TLS
 * client just sees the close), then takes the reserve again. */
static void refuse_one(ss_h2o_front *f, int listen_fd) {
    if (f->reserve_fd < 0)
        return;
    close(f->reserve_fd);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        char sink[4096]; /* the request, so that close() sends FIN, not RST, and the 503 arrives */
        (void)!recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (!f->ssl_ctx)
            (void)!send(fd, fds_exhausted_response, sizeof fds_exhausted_response - 1,
                        MSG_DONTWAIT | MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        close(fd);
        f->refused++;
        f->stats.refused_fds++;
    }
    f->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void track_conn(ss_h2o_front *f, h2o_socket_t *sock) {
    ss__conn *c = ss_calloc(1, sizeof *c);
    if (!c) {
        h2o_socket_close(sock);
        return;
    }
    c->f = f;
    c->sock = sock;
    h2o_linklist_insert(&f->conns, &c->link);
    f->n_conns++;
    f->stats.connections++;
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = c;
    if (f->access_log) /* formatted once per connection, not per request */
        format_peer(sock, c->peer, sizeof c->peer);
    h2o_accept(&f->accept_ctx, sock);
}

bool ss__h2o_log_due(ss_h2o_front *f, int64_t *last_at) {
    int64_t now = ss_protocol_now_ms(f->protocol);
    if (*last_at && now - *last_at < SS_HTTP_REPEAT_LOG_MS)
        return false;
    *last_at = now;
    return true;
}

/* Both listeners; the admin one is never paused by the connection limit
 * (monitoring must get through when clients fill it). */
static void on_accept(h2o_socket_t *listener, const char *err) {
    ss_h2o_front *f = listener->data;
    bool admin = listener == f->admin_listener;
    if (err)
        return;
    for (;;) {
        if (!admin && f->n_conns >= f->max_conns) {
            if (!f->accept_paused && ss__h2o_log_due(f, &f->conn_limit_logged_at))
                ss__logf(SS__LOG_WARN, "connections",
                         "%zu connections open (--max-connections); new ones wait until one closes", f->n_conns);
            pause_accepting(f);
            return;
        }
        errno = 0;
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock) {
            int e = errno;
            if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
                return; /* EAGAIN: the backlog is empty; anything else concerns one connection */
            if (!f->out_of_fds && !f->fds_logged && ss__h2o_log_due(f, &f->fds_logged_at)) {
                ss__logf(SS__LOG_ERROR, "accept",
                         "cannot accept connections: %s; refusing new ones with 503 until descriptors free up",
                         strerror(e));
                f->fds_logged = true;
            }
            refuse_one(f, h2o_socket_get_fd(listener));
            if (admin)
                return; /* the admin listener just tries again on its next readiness */
            f->out_of_fds = true;
            f->accept_retry_at = ss_protocol_now_ms(f->protocol) + SS_HTTP_ACCEPT_RETRY_MS;
            pause_accepting(f);
            return;
        }
        if (f->out_of_fds && f->fds_logged && ss__h2o_log_due(f, &f->fds_recovered_logged_at)) {
            ss__logf(SS__LOG_INFO, "accept", "accepting connections again (%zu refused meanwhile)", f->refused);
            f->fds_logged = false;
            f->refused = 0;
        }
        f->out_of_fds = false;
        track_conn(f, sock);
    }
}

ss__conn *ss__h2o_conn_of(h2o_req_t *req) {
    if (req->version >= 0x200 || !req->conn->callbacks->get_socket)
        return NULL;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    return sock && sock->on_close.cb == on_conn_close ? sock->on_close.data : NULL;
}

static void shutdown_conns(ss_h2o_front *f, int how) {
    for (h2o_linklist_t *n = f->conns.next; n != &f->conns; n = n->next) {
        ss__conn *c = H2O_STRUCT_FROM_MEMBER(ss__conn, link, n);
        shutdown(h2o_socket_get_fd(c->sock), how);
    }
}

static void format_address(const struct sockaddr *sa, char *out, size_t cap, uint16_t *port) {
    char h[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h);
        *port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%u", h, *port);
    } else {
        const struct sockaddr_in *a = (const void *)sa;
        inet_ntop(AF_INET, &a->sin_addr, h, sizeof h);
        *port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%u", h, *port);
    }
}

/* A listening socket on host:port; its bound address (with the actual port)
 * in address (80 bytes) and *bound_port. */
static ss_rc open_listener(const char *host, uint16_t port, int *out_fd, char *address, uint16_t *bound_port,
                           char *err, size_t cap) {
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port_text, &hints, &res);
    if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME) { /* AI_ADDRCONFIG hides loopback-only setups */
        hints.ai_flags &= ~AI_ADDRCONFIG;
        gai = getaddrinfo(host, port_text, &hints, &res);
    }
    if (gai)
        return ss__errf(err, cap, SS_BADARG, "cannot resolve listen host '%s': %s", host, gai_strerror(gai));
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        bool v6 = strchr(host, ':') != NULL;
        return ss__errf(err, cap, SS_IOERR, "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", host, v6 ? "]" : "",
                        port, strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &bl);
    format_address((struct sockaddr *)&bound, address, 80, bound_port);
    *out_fd = fd;
    return SS_OK;
}

static ss_rc setup_tls(ss_h2o_front *f, const char *cert, const char *key, char *err, size_t cap) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return ss__errf(err, cap, SS_NOMEM, "cannot create a TLS context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        SSL_CTX_free(ctx);
        return ss__errf(err, cap, SS_BADARG, "cannot load TLS certificate '%s'", cert);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return ss__errf(err, cap, SS_BADARG, "cannot load TLS key '%s' (or it does not match the certificate)",
                        key);
    }
    h2o_ssl_register_alpn_protocols(ctx, alpn_protocols);
    f->ssl_ctx = ctx;
    return SS_OK;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

ss_rc ss_h2o_front_new(const ss_h2o_front_options *o, ss_h2o_front **out, char *err, size_t err_cap) {
    if (!o || !o->handler || !o->protocol)
        return ss__errf(err, err_cap, SS_MISUSE, "front end needs a handler and a protocol");
    ss_h2o_front *f = ss_calloc(1, sizeof *f);
    if (!f)
        return ss__errf(err, err_cap, SS_NOMEM, "out of memory");
    f->handler = o->handler;
    f->protocol = o->protocol;
    f->access_log = o->access_log;
    f->listen_fd = -1;
    f->max_conns = o->max_connections ? o->max_connections : SIZE_MAX;
    f->output_budget = o->max_output_bytes ? o->max_output_bytes : SIZE_MAX;
    f->background = o->background;
    f->background_next = o->background.run ? 0 : INT64_MAX;
    f->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ss__timers_init(&f->timers);
    h2o_linklist_init_anchor(&f->lives);
    h2o_linklist_init_anchor(&f->held);
    h2o_linklist_init_anchor(&f->conns);
    h2o_linklist_init_anchor(&f->bodies);

    f->admin = o->admin;
    f->admin_fd = -1;
    ss_rc rc =
        open_listener(o->host ? o->host : "127.0.0.1", o->port, &f->listen_fd, f->address, &f->port, err, err_cap);
    if (rc == SS_OK && o->admin == SS_H2O_ADMIN_SEPARATE)
        rc = open_listener(o->admin_host ? o->admin_host : "127.0.0.1", o->admin_port, &f->admin_fd,
                           f->admin_address, &f->admin_port, err, err_cap);
    if (rc == SS_OK && o->tls_cert)
        rc = setup_tls(f, o->tls_cert, o->tls_key, err, err_cap);
    if (rc) {
        if (f->listen_fd >= 0)
            close(f->listen_fd);
        if (f->admin_fd >= 0)
            close(f->admin_fd);
        if (f->reserve_fd >= 0)
            close(f->reserve_fd);
        ss_free(f);
        return rc;
    }

    /* A connection's read buffer starts at 4 KiB instead of h2o's 8 KiB (it
     * grows for larger requests): an idle SSE or long-poll connection keeps
     * its buffer, so this is 4 KiB less per parked reader. */
    h2o_socket_buffer_prototype._initial_buf.capacity = H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE;
    h2o_config_init(&f->config);
    f->config.server_name = h2o_iovec_init(H2O_STRLIT("streamsy"));
    size_t max_body = ss_handler_max_body_bytes(o->handler);
    size_t slack = max_body > SS_HTTP_BODY_DRAIN_SLACK ? max_body : SS_HTTP_BODY_DRAIN_SLACK;
    f->config.max_request_entity_size = max_body > SIZE_MAX - slack ? SIZE_MAX : max_body + slack;
    f->config.http1.req_timeout = SS_HTTP1_REQUEST_TIMEOUT_MS;
    f->config.http1.upgrade_to_http2 = o->http2;
    h2o_hostconf_t *host = h2o_config_register_host(&f->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    ss__h2o_handler *h = (ss__h2o_handler *)h2o_create_handler(path, sizeof *h);
    h->super.on_req = ss__h2o_on_req;
    h->f = f;
    /* Every finished request is counted (and written to the access log when
     * it is on): on "/" for ours and on the fallback path for the errors h2o
     * answers itself (400, 413, 417). */
    h2o_pathconf_t *paths[] = {path, &host->fallback_path};
    for (size_t i = 0; i < 2; i++) {
        ss__h2o_logger *l = (ss__h2o_logger *)h2o_create_logger(paths[i], sizeof *l);
        l->super.log_access = on_log_access;
        l->f = f;
    }

    f->loop = h2o_evloop_create();
    h2o_context_init(&f->ctx, f->loop, &f->config);
    f->ctx_inited = true;
    f->accept_ctx.ctx = &f->ctx;
    f->accept_ctx.hosts = f->config.hosts;
    f->accept_ctx.ssl_ctx = f->ssl_ctx;

    f->listener = h2o_evloop_socket_create(f->loop, f->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    f->listener->data = f;
    h2o_socket_read_start(f->listener, on_accept);
    if (f->admin_fd >= 0) {
        f->admin_listener = h2o_evloop_socket_create(f->loop, f->admin_fd, H2O_SOCKET_FLAG_DONT_READ);
        f->admin_listener->data = f;
        h2o_socket_read_start(f->admin_listener, on_accept);
    }
    f->started_at = time(NULL);
    *out = f;
    return SS_OK;
}

const char *ss_h2o_front_address(const ss_h2o_front *f) { return f->address; }

const char *ss_h2o_front_admin_address(const ss_h2o_front *f) {
    return f->admin_fd >= 0 ? f->admin_address : NULL;
}

uint16_t ss_h2o_front_port(const ss_h2o_front *f) { return f->port; }

bool ss_h2o_front_is_tls(const ss_h2o_front *f) { return f->ssl_ctx != NULL; }

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One turn: poll (bounded), then the batched waiter wake-ups, the due
 * deadlines and the protocol's expiry timers. */
static void turn(ss_h2o_front *f, int32_t max_wait, int64_t *next_expiry) {
    ss_protocol *p = f->protocol;
    int64_t wait = max_wait;
    /* Work done after the previous h2o_evloop_run (wakes, deadlines, held
     * responses) writes to sockets outside h2o's own turn: h2o queues the
     * write-completion callbacks (which finish a response, restart reading a
     * keep-alive connection, call an SSE generator's proceed) on the loop's
     * pending list, which its poll timeout does not take into account. Poll
     * without sleeping so they run now, not after SS_HTTP_LOOP_MAX_WAIT_MS. */
    if (ss_protocol_has_pending(p) || f->loop->_pending_as_server || f->loop->_pending_as_client) {
        wait = 0;
    } else {
        int64_t next = min64(min64(ss__timers_next(&f->timers), *next_expiry), f->background_next);
        if (f->accept_paused && f->out_of_fds)
            next = min64(next, f->accept_retry_at);
        if (next != INT64_MAX) {
            int64_t d = next - ss_protocol_now_ms(p);
            wait = min64(wait, d < 0 ? 0 : d);
        }
    }
    h2o_evloop_run(f->loop, (int32_t)wait);
    /* Group commit: one flush for every write of this turn, then the held
     * acknowledgements; readers are woken only after that. */
    ss__ignore_rc(ss__h2o_flush_and_release(f)); /* failures answered the held requests (and were logged) */
    ss_protocol_run_pending(p);
    int64_t now = ss_protocol_now_ms(p);
    ss__timer *t;
    while ((t = ss__timers_pop_due(&f->timers, now)) != NULL)
        ss__h2o_on_timer(f, t);
    *next_expiry = ss_protocol_run_expiry(p);
    if (f->background.run)
        f->background_next = f->background.run(f->background.ctx, now);
    resume_accepting_if_able(f, now);
    ss__h2o_check_output_budget(f);
    ss__ignore_rc(ss__h2o_flush_and_release(f)); /* TTL touches and expiry deletes of this turn */
    if (f->log_len)
        log_flush(f);
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_listener(h2o_socket_t **l, int *fd) {
    if (!*l)
        return;
    h2o_socket_read_stop(*l);
    h2o_socket_close(*l); /* closes the fd */
    *l = NULL;
    *fd = -1;
}

ss_rc ss_h2o_front_run(ss_h2o_front *f, volatile sig_atomic_t *stop) {
    int64_t next_expiry = 0;
    while (!*stop)
        turn(f, SS_HTTP_LOOP_MAX_WAIT_MS, &next_expiry);

    /* stop accepting (the admin listener stays while draining: /readyz says so) */
    f->stopping = true;
    close_listener(&f->listener, &f->listen_fd);
    /* answer parked long-polls, end SSE responses */
    ss__h2o_end_all_live(f);
    /* let responses in flight finish; idle connections see EOF and close */
    shutdown_conns(f, SHUT_RD);
    int64_t until = mono_ms() + SS_HTTP_SHUTDOWN_GRACE_MS;
    while (f->n_conns && mono_ms() < until)
        turn(f, 20, &next_expiry);
    close_listener(&f->admin_listener, &f->admin_fd);
    if (f->n_conns) {
        shutdown_conns(f, SHUT_RDWR);
        until = mono_ms() + 500;
        while (f->n_conns && mono_ms() < until)
            turn(f, 20, &next_expiry);
    }
    ss__h2o_end_all_live(f);  /* anything that arrived while draining */
    turn(f, 0, &next_expiry); /* free the sockets h2o closed last */
    log_flush(f);
    if (f->n_conns)
        ss__logf(SS__LOG_WARN, "shutdown", "%zu connection(s) did not close on shutdown", f->n_conns);
    return SS_OK;
}

void ss_h2o_front_free(ss_h2o_front *f) {
    if (!f)
        return;
    close_listener(&f->listener, &f->listen_fd);
    close_listener(&f->admin_listener, &f->admin_fd);
    if (f->n_conns == 0 && f->ctx_inited) {
        h2o_context_dispose(&f->ctx);
        h2o_evloop_destroy(f->loop);
        h2o_config_dispose(&f->config);
        ss__timers_release(&f->timers);
        if (f->ssl_ctx)
            SSL_CTX_free(f->ssl_ctx);
        if (f->listen_fd >= 0)
            close(f->listen_fd);
        if (f->admin_fd >= 0)
            close(f->admin_fd);
        if (f->reserve_fd >= 0)
            close(f->reserve_fd);
        ss_free(f->log);
        ss_free(f);
        return;
    }
    /* Connections still open (h2o cannot close them): tearing h2o down under
     * them would trip its assertions, so leave it to process exit, reachable. */
    left_to_exit = f;
    log_flush(f);
}
