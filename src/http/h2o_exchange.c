/* One HTTP exchange over h2o: the request view handed to the handler, the
 * response written back, and the live continuations (long-poll, SSE).
 *
 * Lifetimes
 *   A parked request has no generator of its own, so "the request is gone"
 *   is learnt from a pool destructor: a one-pointer anchor allocated with
 *   h2o_mem_alloc_shared(&req->pool, ..., on_request_gone). The per-request
 *   state (ss__live_req) itself is malloc'ed, not pool memory, so that a
 *   request disposed in the middle of one of our calls (h2o may complete a
 *   response synchronously) cannot free memory we are still using: the state
 *   is freed when both the request is gone and no call of ours is running
 *   on it (busy counter + dead flag). After the request is gone, req is never
 *   touched again.
 *
 * Long-poll (SS_HTTP_WAIT)
 *   park the continuation's waiter on its stream + arm a deadline in the
 *   front end's timer heap. A wake (fired from ss_protocol_run_pending, once
 *   per loop turn) or the deadline calls ss_http_live_resume; DONE is sent,
 *   WAIT parks again until the unchanged deadline.
 *   Disconnects: h2o stops reading an HTTP/1 connection once it has parsed
 *   a request, so a client that leaves a parked long-poll would go unnoticed
 *   until the deadline. While parked, the front end reads the connection
 *   itself (h2o_socket_read_start with its own callback; it owns the socket's
 *   on_close slot, see ss__conn): EOF or an error answers the poll at once
 *   with its timeout response, whose write fails and makes h2o close the
 *   connection and dispose the request. Bytes of a pipelined next request
 *   just end the watch (they stay in the socket's input buffer for h2o).
 *   HTTP/2 needs none of this: h2o resets the stream and disposes it.
 *
 * SSE (SS_HTTP_STREAM)
 *   h2o_start_response with our generator; no Content-Length (chunked on
 *   HTTP/1.1). Exactly one h2o_send is in flight at a time; the bytes of the
 *   next send collect in `pending`, the bytes h2o is sending stay in `out`
 *   until proceed(). Backpressure is pull-based: a wake or a deadline that
 *   arrives while a send is in flight is only remembered, and the
 *   continuation is resumed when proceed() says the client took the previous
 *   chunk, so a slow reader costs at most one chunk of memory however fast
 *   the stream grows (the resumed read picks up everything since). Catch-up
 *   (the handler's deadline is "now") also resumes on proceed(). pending is
 *   still capped at SS_SSE_MAX_PENDING_BYTES as a guard, and a client that
 *   takes no chunk for SS_SSE_STALL_MS is disconnected. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "h2o_internal.h"
#include "streamsy/alloc.h"

typedef struct ss__live_req {
    h2o_generator_t gen; /* SSE only */
    ss_h2o_front *f;
    h2o_req_t *req;      /* NULL once h2o disposed the request */
    ss_http_live *live;  /* owned; NULL once the continuation ended */
    ss_waiter *waiter;   /* inside live */
    ss__timer timer;     /* the earliest of the park deadline and the SSE stall check */
    h2o_linklist_t link; /* in f->lives while live != NULL */
    int64_t deadline;    /* of the current park */
    int64_t inflight_since;
    ss_buf pending;  /* SSE: the next send */
    ss_buf out;      /* SSE: the send h2o holds until proceed() */
    ss__conn *watch; /* HTTP/1 long-poll: the connection watched for EOF while parked */
    unsigned busy;   /* calls of ours running on this state */
    bool sse;
    bool parked;
    bool stopped;     /* SSE: h2o stopped the generator; send nothing more */
    bool dead;        /* the request is gone; free when busy drops to 0 */
    bool started;     /* SSE: headers went out with the first send */
    bool inflight;    /* SSE: an h2o_send awaits proceed() */
    bool final;       /* SSE: the next send ends the response */
    bool resume_asap; /* SSE catch-up: resume as soon as nothing is in flight */
    bool woken;       /* SSE: a wake or deadline arrived while a send was in flight */
    bool woken_timed_out;
    bool shed;        /* SSE: cut to bring output under the budget; no longer counted */
    size_t accounted; /* SSE: bytes of pending + out counted in f->output_bytes */
} ss__live_req;

static h2o_generator_t done_generator = {NULL, NULL}; /* for responses sent in one h2o_send */

/* ---- small helpers ---------------------------------------------------------------- */

static ss_slice iov_slice(h2o_iovec_t v) { return ss_slice_of(v.base, v.len); }

static const char *reason_phrase(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 422:
        return "Unprocessable Entity";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        break;
    }
    if (status >= 200 && status < 300)
        return "OK";
    return status >= 500 ? "Error" : "Client Error";
}

static bool is_head(const h2o_req_t *req) {
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

/* Headers h2o writes itself. */
static bool hop_header(ss_slice name) {
    return ss_slice_ieq_cstr(name, "content-length") || ss_slice_ieq_cstr(name, "transfer-encoding") ||
           ss_slice_ieq_cstr(name, "connection") || ss_slice_ieq_cstr(name, "date") ||
           ss_slice_ieq_cstr(name, "server");
}

/* Status, reason and headers (copied into the request pool: lowercase names
 * for HTTP/2 and token lookup, the handler's casing kept for HTTP/1). */
static void set_head(h2o_req_t *req, const ss_http_response *res) {
    req->res.status = res->status;
    req->res.reason = reason_phrase(res->status);
    for (size_t i = 0; i < res->n_headers; i++) {
        ss_slice n = res->headers[i].name, v = res->headers[i].value;
        if (!n.len || hop_header(n))
            continue;
        char *lc = h2o_mem_alloc_pool(&req->pool, n.len);
        for (size_t k = 0; k < n.len; k++)
            lc[k] = (char)((n.p[k] >= 'A' && n.p[k] <= 'Z') ? n.p[k] + 32 : n.p[k]);
        h2o_iovec_t value = h2o_strdup(&req->pool, v.p ? v.p : "", v.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, lc, n.len, 1, n.p, value.base, value.len);
    }
}

/* A one-shot response body handed to h2o: counted in f->output_bytes and
 * listed in f->bodies (oldest first) until h2o disposes the request. Lives
 * in the request pool, so `req` is valid as long as it is. */
typedef struct ss__body {
    h2o_linklist_t link; /* unlinked once cut */
    ss_h2o_front *f;
    h2o_req_t *req;
    char *p;        /* the body, or NULL when it was sent as parts */
    ss_arena parts; /* what the parts point into (the response's arena) */
    size_t len;     /* counted bytes; 0 once cut */
    int64_t at;
} ss__body;

static void on_body_gone(void *data) {
    ss__body *b = data;
    if (h2o_linklist_is_linked(&b->link))
        h2o_linklist_unlink(&b->link);
    b->f->output_bytes -= b->len;
    ss_free(b->p);
    ss_arena_release(&b->parts);
}

static size_t body_len(const ss_http_response *res) { return res->n_parts ? res->parts_len : res->body.len; }

static void cut_connection(h2o_req_t *req) {
    h2o_conn_t *conn = req->conn;
    h2o_socket_t *sock = conn->callbacks->get_socket ? conn->callbacks->get_socket(conn) : NULL;
    if (sock)
        shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
}

static void sse_cut(ss__live_req *st, const char *why);

/* Whether `need` more bytes fit the output budget, after cutting responses
 * whose bytes have waited SS_HTTP_SLOW_READER_MS or more for their client:
 * one-shot bodies oldest first, then SSE responses with a send in flight.
 * Cut bytes stop counting at once (h2o frees them on its next turn). */
static bool make_room(ss_h2o_front *f, size_t need) {
    if (f->output_budget == SIZE_MAX ||
        (f->output_bytes <= f->output_budget && need <= f->output_budget - f->output_bytes))
        return true;
    int64_t now = ss_protocol_now_ms(f->protocol);
    size_t cut = 0;
#define FITS() (f->output_bytes <= f->output_budget && need <= f->output_budget - f->output_bytes)
    while (!FITS() && !h2o_linklist_is_empty(&f->bodies)) {
        ss__body *b = H2O_STRUCT_FROM_MEMBER(ss__body, link, f->bodies.next);
        if (now - b->at < SS_HTTP_SLOW_READER_MS)
            break; /* the rest are younger */
        h2o_linklist_unlink(&b->link);
        f->output_bytes -= b->len;
        b->len = 0;
        cut_connection(b->req);
        cut++;
    }
    for (h2o_linklist_t *n = f->lives.next; !FITS() && n != &f->lives;) {
        ss__live_req *st = H2O_STRUCT_FROM_MEMBER(ss__live_req, link, n);
        n = n->next; /* sse_cut unlinks st */
        if (!st->sse || !st->inflight || now - st->inflight_since < SS_HTTP_SLOW_READER_MS)
            continue;
        f->output_bytes -= st->accounted;
        st->accounted = 0;
        st->shed = true;
        sse_cut(st, NULL);
        cut++;
    }
    bool fits = FITS();
#undef FITS
    f->stats.cut_budget += cut;
    if (cut && ss__h2o_log_due(f, &f->budget_cut_logged_at))
        ss__logf(SS__LOG_WARN, "budget", "cut %zu slow reader(s) to stay within --max-output-bytes %zu", cut,
                 f->output_budget);
    if (!fits && ss__h2o_log_due(f, &f->budget_full_logged_at))
        ss__logf(SS__LOG_WARN, "budget",
                 "%zu bytes of responses wait for their clients (--max-output-bytes %zu); large new responses "
                 "get 503",
                 f->output_bytes, f->output_budget);
    return fits;
}

void ss__h2o_check_output_budget(ss_h2o_front *f) {
    if (f->output_bytes > f->output_budget)
        (void)make_room(f, 0);
}

static void send_plain(ss_h2o_front *f, h2o_req_t *req, int status, const char *text);

/* Sends a complete response in one h2o_send. The body is handed to the
 * request pool without a copy: the buffer, or, for a body in parts, the
 * response's arena they point into (the parts go out as one iovec each;
 * h2o's HTTP/1.1 writer copies the iovec array to its stack, hence
 * SS_HTTP_MAX_BODY_PARTS). Counted in the output budget either way: parts
 * may be the last hold on a deleted stream's bytes. A body over
 * SS_HTTP_BUDGET_EXEMPT_BYTES that does not fit the budget is replaced by a
 * 503. May complete and dispose the request before it returns on some
 * paths: callers touch req no more. */
static void send_done(ss_h2o_front *f, h2o_req_t *req, ss_http_response *res) {
    int s = res->status;
    size_t len = body_len(res);
    bool bodiless = s == 204 || s == 304 || (s >= 100 && s < 200) || is_head(req);
    if (!bodiless && len > SS_HTTP_BUDGET_EXEMPT_BYTES && !make_room(f, len)) {
        f->stats.refused_budget++;
        send_plain(f, req, 503, "Server busy: too many responses wait for slow clients, retry later");
        return;
    }
    set_head(req, res);
    if (s == 204 || s == 304 || (s >= 100 && s < 200) || (is_head(req) && len == 0))
        req->res.content_length = SIZE_MAX; /* no Content-Length header at all */
    else
        req->res.content_length = res->has_content_length ? len : SIZE_MAX;
    h2o_start_response(req, &done_generator);
    if (bodiless || len == 0) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    ss__body *b = h2o_mem_alloc_shared(&req->pool, sizeof *b, on_body_gone);
    b->link = (h2o_linklist_t){NULL, NULL};
    b->f = f;
    b->req = req;
    b->p = NULL;
    ss_arena_init(&b->parts);
    b->len = len;
    b->at = ss_protocol_now_ms(f->protocol);
    f->output_bytes += b->len;
    h2o_linklist_insert(&f->bodies, &b->link);
    if (res->n_parts) {
        h2o_iovec_t *v = h2o_mem_alloc_pool(&req->pool, res->n_parts * sizeof *v);
        for (size_t i = 0; i < res->n_parts; i++)
            v[i] = h2o_iovec_init(res->parts[i].p, res->parts[i].len);
        size_t n = res->n_parts;
        b->parts = res->arena; /* moved: the response keeps an empty arena */
        ss_arena_init(&res->arena);
        res->parts = NULL;
        res->n_parts = res->parts_len = 0;
        res->n_headers = 0; /* they pointed into the arena (h2o has copies) */
        h2o_send(req, v, n, H2O_SEND_STATE_FINAL);
        return;
    }
    b->p = ss_buf_detach(&res->body, &len);
    h2o_iovec_t body = h2o_iovec_init(b->p, len);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* A plain-text response made by the front end itself (431, 503, 500), with
 * the headers the handler puts on every response. */
static void send_plain(ss_h2o_front *f, h2o_req_t *req, int status, const char *text) {
    ss_http_response r;
    ss_http_response_init(&r);
    r.status = status;
    (void)ss_http_response_header(&r, "X-Content-Type-Options", ss_slice_cstr("nosniff"));
    (void)ss_http_response_header(&r, "Cross-Origin-Resource-Policy", ss_slice_cstr("cross-origin"));
    (void)ss_http_response_header(&r, "Access-Control-Allow-Origin", ss_slice_cstr("*"));
    (void)ss_http_response_header(&r, "Content-Type", ss_slice_cstr("text/plain; charset=utf-8"));
    if (status == 503)
        (void)ss_http_response_header(&r, "Retry-After", ss_slice_cstr("1"));
    (void)ss_buf_append_cstr(&r.body, text);
    send_done(f, req, &r);
    ss_http_response_release(&r);
}

/* ---- the request view ---------------------------------------------------------------- */

/* Builds the handler's view. Header and body memory stays h2o's (valid
 * until the request is disposed; the handler copies what it keeps). */
static void build_view(ss_h2o_front *f, h2o_req_t *req, ss_http_request *v) {
    memset(v, 0, sizeof *v);
    v->method = iov_slice(req->method);
    ss_slice target = iov_slice(req->path);
    size_t q = req->query_at;
    if (q != SIZE_MAX && q < target.len) {
        v->path = ss_slice_of(target.p, q);
        v->query = ss_slice_of(target.p + q + 1, target.len - q - 1);
    } else {
        v->path = target;
    }
    /* absolute-form request target (a proxy-style "GET http://host/path"): keep the path */
    if (v->path.len && v->path.p[0] != '/') {
        const char *sep = memchr(v->path.p, ':', v->path.len);
        if (sep && (size_t)(v->path.p + v->path.len - sep) >= 3 && sep[1] == '/' && sep[2] == '/') {
            const char *auth = sep + 3, *end = v->path.p + v->path.len;
            const char *slash = memchr(auth, '/', (size_t)(end - auth));
            v->path = slash ? ss_slice_of(slash, (size_t)(end - slash)) : ss_slice_cstr("/");
        }
    }
    v->scheme = req->scheme ? iov_slice(req->scheme->name) : ss_slice_cstr("http");
    v->authority = iov_slice(req->authority);
    /* h2o substitutes the host's configured name when the client sent no Host */
    if (req->hostconf && req->authority.base == req->hostconf->authority.hostport.base)
        v->authority = ss_slice_cstr(f->address);
    size_t n = req->headers.size;
    ss_http_header *hs = h2o_mem_alloc_pool(&req->pool, sizeof *hs * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        hs[i].name = iov_slice(*h->name);
        hs[i].value = iov_slice(h->value);
    }
    v->headers = hs;
    v->n_headers = n;
    if (req->entity.len > ss_handler_max_body_bytes(f->handler))
        v->body_too_large = true; /* drained by h2o; the handler answers 413 */
    else
        v->body = req->entity.base ? iov_slice(req->entity) : SS_SLICE_NULL;
    /* send_done sends parts, holding the response's arena. Not over TLS:
     * h2o 2.2.5 makes a TLS record (and a write) of every iovec, and it
     * copies the bytes to encrypt them anyway (1,024 parts of 1 KiB: 4-5x
     * slower than one copied body). */
    v->accepts_parts = f->ssl_ctx == NULL;
}

/* ---- live request state -------------------------------------------------------------- */

static void enter(ss__live_req *st) { st->busy++; }

/* Returns false when the state was freed. */
static bool leave(ss__live_req *st) {
    if (--st->busy == 0 && st->dead) {
        st->f->output_bytes -= st->accounted;
        if (st->sse)
            st->f->stats.sses--;
        else
            st->f->stats.long_polls--;
        ss_buf_release(&st->pending);
        ss_buf_release(&st->out);
        ss_free(st);
        return false;
    }
    return true;
}

/* Stops reading the connection of a parked HTTP/1 long-poll. */
static void unwatch(ss__live_req *st) {
    ss__conn *c = st->watch;
    if (!c)
        return;
    st->watch = NULL;
    c->watch = NULL;
    h2o_socket_read_stop(c->sock);
}

void ss__h2o_conn_closing(ss__conn *c) {
    if (c->watch) {
        c->watch->watch = NULL;
        c->watch = NULL;
    }
}

/* Ends the continuation: unpark, drop the deadline, free it. */
static void end_live(ss__live_req *st) {
    ss_h2o_front *f = st->f;
    unwatch(st);
    if (st->parked) {
        ss_protocol_unpark(f->protocol, st->waiter);
        st->parked = false;
    }
    ss__timers_disarm(&f->timers, &st->timer);
    if (st->live) {
        ss_http_live_free(st->live);
        st->live = NULL;
        st->waiter = NULL;
        h2o_linklist_unlink(&st->link);
    }
}

/* The earliest thing this request waits for: the park deadline and, while a
 * send is in flight, the stall check. A timer armed earlier than that (or
 * when there is nothing to wait for) stays: it fires early and
 * ss__h2o_on_timer arms it again, which costs one heap operation per early
 * fire instead of two per event of a busy stream (each event unparks the
 * reader and moves its SSE deadline a little later). */
static void rearm(ss__live_req *st) {
    if (st->dead) {
        ss__timers_disarm(&st->f->timers, &st->timer);
        return;
    }
    int64_t at = INT64_MAX;
    if (st->parked)
        at = st->deadline;
    if (st->inflight && st->inflight_since + SS_SSE_STALL_MS < at)
        at = st->inflight_since + SS_SSE_STALL_MS;
    if (ss__timer_armed(&st->timer) && st->timer.at <= at)
        return;
    if (at == INT64_MAX)
        return; /* not armed, nothing to wait for */
    if (ss__timers_arm(&st->f->timers, &st->timer, at))
        ss__logf(SS__LOG_ERROR, "timer", "out of memory arming a timer");
}

/* Pool destructor: h2o disposed the request (response finished, client gone,
 * connection closed). */
static void on_request_gone(void *anchor) {
    ss__live_req *st = *(ss__live_req **)anchor;
    st->req = NULL;
    st->stopped = true;
    end_live(st);
    st->dead = true;
    st->busy++;
    leave(st);
}

static void on_waiter_fire(ss_waiter *w);
static void sse_proceed(h2o_generator_t *gen, h2o_req_t *req);
static void sse_stop(h2o_generator_t *gen, h2o_req_t *req);

static ss__live_req *live_req_new(ss_h2o_front *f, h2o_req_t *req, ss_http_live *live, bool sse) {
    ss__live_req *st = ss_calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->f = f;
    st->req = req;
    st->live = live;
    st->sse = sse;
    if (sse)
        f->stats.sses++;
    else
        f->stats.long_polls++;
    st->gen.proceed = sse_proceed;
    st->gen.stop = sse_stop;
    ss__timer_init(&st->timer);
    ss_buf_init(&st->pending, SIZE_MAX);
    ss_buf_init(&st->out, SIZE_MAX);
    st->waiter = ss_http_live_waiter(live);
    st->waiter->fire = on_waiter_fire;
    st->waiter->ctx = st; /* the front end may own ctx (handler.h); the live keeps its own back-pointer */
    h2o_linklist_insert(&f->lives, &st->link);
    ss__live_req **anchor = h2o_mem_alloc_shared(&req->pool, sizeof *anchor, on_request_gone);
    *anchor = st;
    return st;
}

/* Parks until a wake or `deadline`. */
static ss_rc park(ss__live_req *st, int64_t deadline) {
    if (st->f->stopping)
        return SS_MISUSE;
    ss_rc rc = ss_protocol_park(st->f->protocol, st->waiter, ss_http_live_stream_id(st->live));
    if (rc)
        return rc;
    st->parked = true;
    st->deadline = deadline;
    rearm(st);
    return SS_OK;
}

static const char *park_failure_text(const ss__live_req *st, ss_rc rc) {
    if (st->f->stopping)
        return "Server shutting down";
    return rc == SS_TOOBIG ? "Too many waiters" : "Out of memory";
}

static void respond_or_hold(ss_h2o_front *f, h2o_req_t *req, ss_http_response *res);

/* ---- long-poll --------------------------------------------------------------------------- */

static void watch(ss__live_req *st);

/* Acts on a long-poll step: respond, or park again. */
static void long_poll_step(ss__live_req *st, ss_http_response *res) {
    switch (res->kind) {
    case SS_HTTP_WAIT: {
        ss_rc rc = park(st, ss_http_live_deadline_ms(st->live));
        if (rc) {
            end_live(st);
            send_plain(st->f, st->req, 503, park_failure_text(st, rc));
        } else {
            watch(st);
        }
        return;
    }
    case SS_HTTP_DONE:
        end_live(st);
        respond_or_hold(st->f, st->req, res); /* data read before this turn's flush waits for it */
        return;
    case SS_HTTP_STREAM:
        end_live(st);
        send_plain(st->f, st->req, 500, "Internal server error");
        return;
    }
}

static void long_poll_resume(ss__live_req *st, bool timed_out) {
    if (!st->req || !st->live)
        return;
    ss_http_response res;
    ss_http_response_init(&res);
    ss_http_live_resume(st->live, timed_out, &res);
    long_poll_step(st, &res);
    ss_http_response_release(&res);
}

/* The parked HTTP/1 client's connection became readable. */
static void on_watch_read(h2o_socket_t *sock, const char *err) {
    ss__conn *c = sock->on_close.data;
    ss__live_req *st = c->watch;
    if (!st) { /* cannot happen: unwatch stops reading */
        h2o_socket_read_stop(sock);
        return;
    }
    unwatch(st);
    if (!err)
        return; /* a pipelined request: h2o reads it after this response */
    enter(st);
    if (st->parked) {
        ss_protocol_unpark(st->f->protocol, st->waiter);
        st->parked = false;
    }
    ss__timers_disarm(&st->f->timers, &st->timer);
    long_poll_resume(st, true); /* the client is gone; the answer's write fails and h2o closes */
    leave(st);
}

static void watch(ss__live_req *st) {
    if (st->watch || !st->req)
        return;
    ss__conn *c = ss__h2o_conn_of(st->req);
    if (!c || c->watch)
        return;
    c->watch = st;
    st->watch = c;
    h2o_socket_read_start(c->sock, on_watch_read);
}

static void start_long_poll(ss_h2o_front *f, h2o_req_t *req, ss_http_response *res) {
    ss_http_live *live = res->live;
    res->live = NULL;
    ss__live_req *st = live_req_new(f, req, live, false);
    if (!st) {
        ss_http_live_free(live);
        send_plain(f, req, 503, "Out of memory");
        return;
    }
    enter(st);
    long_poll_step(st, res);
    leave(st);
}

/* ---- SSE --------------------------------------------------------------------------------- */

/* Disconnects the client of a stalled SSE response. h2o notices the dead
 * socket, stops the generator and disposes the request. On HTTP/2 this ends
 * the whole connection: h2o 2.2.5 cannot reset one stream while a send of it
 * is in flight. */
/* Brings f->output_bytes up to date with this response's buffers. */
static void sse_account(ss__live_req *st) {
    size_t now = st->shed ? 0 : st->pending.cap + st->out.cap;
    st->f->output_bytes = st->f->output_bytes - st->accounted + now;
    st->accounted = now;
}

static void sse_cut(ss__live_req *st, const char *why) {
    end_live(st);
    ss_buf_clear(&st->pending);
    st->stopped = true;
    if (!st->req)
        return;
    h2o_conn_t *conn = st->req->conn;
    h2o_socket_t *sock = conn->callbacks->get_socket ? conn->callbacks->get_socket(conn) : NULL;
    if (sock)
        shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
    if (why)
        ss__logf(SS__LOG_WARN, "sse", "disconnected an SSE client: %s", why);
}

/* Takes one handler step's output: queue the chunk, then end, park or
 * schedule the catch-up resume. */
/* Exchanges the bytes (not the limits) of two buffers. */
static void swap_bytes(ss_buf *a, ss_buf *b) {
    ss_buf t = *a;
    a->p = b->p, a->len = b->len, a->cap = b->cap;
    b->p = t.p, b->len = t.len, b->cap = t.cap;
}

static void sse_step(ss__live_req *st, ss_http_response *res) {
    if (res->body.len) {
        if (st->pending.len && st->pending.len + res->body.len > SS_SSE_MAX_PENDING_BYTES) {
            st->f->stats.cut_pending++;
            sse_cut(st, "pending output over SS_SSE_MAX_PENDING_BYTES");
            return;
        }
        ss_rc rc = SS_OK;
        if (st->pending.len)
            rc = ss_buf_append(&st->pending, res->body.p, res->body.len);
        else
            swap_bytes(&st->pending, &res->body); /* nothing queued: take the chunk as it is */
        sse_account(st);
        if (rc) {
            sse_cut(st, "out of memory");
            return;
        }
    }
    if (res->kind != SS_HTTP_STREAM || st->f->stopping) {
        end_live(st);
        st->final = true;
        return;
    }
    int64_t deadline = ss_http_live_deadline_ms(st->live);
    if (deadline <= ss_protocol_now_ms(st->f->protocol)) {
        st->resume_asap = true; /* more to catch up: read again once the chunk is taken */
        return;
    }
    if (park(st, deadline)) {
        end_live(st);
        st->final = true;
    }
}

/* Moves the response forward as far as it can without waiting: sends what
 * is pending (one send in flight at most) and resumes the continuation when
 * nothing is in flight and it has a reason to. Re-entrant calls (h2o calling
 * proceed inside h2o_send) are folded into the running one. */
static void sse_pump(ss__live_req *st) {
    if (st->busy > 1) /* the caller's enter() counts once; deeper means re-entry */
        return;
    for (;;) {
        if (!st->req || st->stopped || st->inflight)
            break;
        if (st->pending.len || st->final || !st->started) {
            ss_buf tmp = st->out;
            st->out = st->pending;
            st->pending = tmp;
            ss_buf_clear(&st->pending);
            h2o_iovec_t buf = h2o_iovec_init(st->out.p, st->out.len);
            st->started = true;
            if (st->final) {
                /* the last call on req: the request may be disposed inside */
                st->stopped = true;
                h2o_send(st->req, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_FINAL);
                return;
            }
            st->inflight = true;
            st->inflight_since = ss_protocol_now_ms(st->f->protocol);
            rearm(st);
            h2o_send(st->req, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_IN_PROGRESS);
            continue;
        }
        if (st->live && (st->resume_asap || st->woken)) {
            bool timed_out = st->woken && st->woken_timed_out && !st->resume_asap;
            st->resume_asap = st->woken = st->woken_timed_out = false;
            if (st->parked) { /* a deadline-driven resume leaves the waiter parked */
                ss_protocol_unpark(st->f->protocol, st->waiter);
                st->parked = false;
            }
            ss_http_response res;
            ss_http_response_init(&res);
            swap_bytes(&res.body,
                       &st->pending); /* build the chunk in pending's buffer (empty; none yet when idle) */
            ss_http_live_resume(st->live, timed_out, &res);
            sse_step(st, &res);
            ss_http_response_release(&res);
            rearm(st);
            continue;
        }
        break;
    }
}

static void sse_proceed(h2o_generator_t *gen, h2o_req_t *req) {
    (void)req;
    ss__live_req *st = (ss__live_req *)((char *)gen - offsetof(ss__live_req, gen));
    enter(st);
    st->inflight = false;
    /* h2o is done with the sent bytes. Nothing is kept for the next event:
     * a parked reader then holds no buffer of ours (one allocation per
     * event is cheaper than ~0.4 KB per idle connection). */
    ss_buf_release(&st->out);
    sse_account(st);
    rearm(st);
    sse_pump(st);
    leave(st);
}

static void sse_stop(h2o_generator_t *gen, h2o_req_t *req) {
    (void)req;
    ss__live_req *st = (ss__live_req *)((char *)gen - offsetof(ss__live_req, gen));
    st->stopped = true; /* the request is going away: the pool destructor follows */
    end_live(st);
}

static void start_sse(ss_h2o_front *f, h2o_req_t *req, ss_http_response *res) {
    ss_http_live *live = res->live;
    res->live = NULL;
    if (res->body.len > SS_HTTP_BUDGET_EXEMPT_BYTES && !make_room(f, res->body.len)) {
        f->stats.refused_budget++;
        ss_http_live_free(live);
        send_plain(f, req, 503, "Server busy: too many responses wait for slow clients, retry later");
        return;
    }
    ss__live_req *st = live_req_new(f, req, live, true);
    if (!st) {
        ss_http_live_free(live);
        send_plain(f, req, 503, "Out of memory");
        return;
    }
    set_head(req, res);
    req->res.content_length = SIZE_MAX; /* chunked on HTTP/1.1, DATA frames on HTTP/2 */
    h2o_start_response(req, &st->gen);
    enter(st);
    sse_step(st, res);
    sse_pump(st);
    leave(st);
}

/* ---- wakes and deadlines ------------------------------------------------------------------- */

static void on_waiter_fire(ss_waiter *w) {
    ss__live_req *st = w->ctx;
    enter(st);
    st->parked = false; /* the protocol unparked it before firing */
    if (st->sse) {
        st->woken = true;
        st->woken_timed_out = false;
        rearm(st);
        sse_pump(st);
    } else {
        ss__timers_disarm(&st->f->timers, &st->timer);
        long_poll_resume(st, false);
    }
    leave(st);
}

void ss__h2o_on_timer(ss_h2o_front *f, ss__timer *t) {
    ss__live_req *st = (ss__live_req *)((char *)t - offsetof(ss__live_req, timer));
    int64_t now = ss_protocol_now_ms(f->protocol);
    enter(st);
    if (st->sse && st->inflight && now >= st->inflight_since + SS_SSE_STALL_MS) {
        f->stats.cut_stalled++;
        sse_cut(st, "no progress for SS_SSE_STALL_MS");
    } else if (st->parked && now >= st->deadline) {
        if (st->sse) {
            if (!st->woken) {
                st->woken = true;
                st->woken_timed_out = true;
            }
            ss_protocol_unpark(f->protocol, st->waiter);
            st->parked = false;
            rearm(st);
            sse_pump(st);
        } else {
            ss_protocol_unpark(f->protocol, st->waiter);
            st->parked = false;
            long_poll_resume(st, true);
        }
    } else {
        rearm(st); /* fired early for a check that no longer applies */
    }
    leave(st);
}

void ss__h2o_end_all_live(ss_h2o_front *f) {
    while (!h2o_linklist_is_empty(&f->lives)) {
        ss__live_req *st = H2O_STRUCT_FROM_MEMBER(ss__live_req, link, f->lives.next);
        enter(st);
        if (st->parked) {
            ss_protocol_unpark(f->protocol, st->waiter);
            st->parked = false;
        }
        ss__timers_disarm(&f->timers, &st->timer);
        if (st->sse) {
            if (!st->inflight && st->live && !st->woken) { /* a last control event: the reader's resume point */
                st->woken = true;
                st->woken_timed_out = true;
                sse_pump(st); /* the step sees f->stopping and ends the response after it */
            }
            end_live(st);
            st->final = true;
            sse_pump(st);
        } else {
            long_poll_resume(st, true); /* the usual timeout answer; a re-park is refused while stopping */
        }
        if (st->live) /* nothing answered it (request already gone): just free */
            end_live(st);
        leave(st);
    }
}

/* ---- group commit: responses held until their writes are durable --------------------------- */

/* Owned by: f->held until released. */
typedef struct ss__held {
    h2o_linklist_t link;
    h2o_req_t *req;           /* NULL once the request is gone */
    struct ss__held **anchor; /* in the request pool; cleared before we let go of the request */
    ss_http_response res;
} ss__held;

static void on_held_request_gone(void *anchor) {
    ss__held *h = *(ss__held **)anchor;
    if (h) {
        h->req = NULL;
        h->anchor = NULL;
    }
}

/* Sends now, or holds the response when the storage has commits that are
 * not durable yet: an acknowledgement must never precede its commit. */
static void respond_or_hold(ss_h2o_front *f, h2o_req_t *req, ss_http_response *res) {
    if (!ss_protocol_has_unflushed(f->protocol)) {
        send_done(f, req, res);
        return;
    }
    ss__held *h = ss_malloc(sizeof *h);
    if (!h) { /* out of memory: make the writes durable now instead of holding */
        ss_rc rc = ss_protocol_flush(f->protocol);
        if (rc)
            send_plain(f, req, rc == SS_FULL ? 507 : 503, rc == SS_FULL ? "Storage full" : "Storage unavailable");
        else
            send_done(f, req, res);
        return;
    }
    h->link = (h2o_linklist_t){NULL, NULL};
    h->req = req;
    h->res = *res; /* moved: the arena and body now belong to h */
    ss_http_response_init(res);
    h->anchor = h2o_mem_alloc_shared(&req->pool, sizeof *h->anchor, on_held_request_gone);
    *h->anchor = h;
    h2o_linklist_insert(&f->held, &h->link);
}

ss_rc ss__h2o_flush_and_release(ss_h2o_front *f) {
    ss_rc rc = ss_protocol_flush(f->protocol);
    if (rc) {
        f->stats.flush_failures++;
        f->storage_failed_at = ss_protocol_now_ms(f->protocol);
        ss__logf(SS__LOG_ERROR, "storage", "flush failed: %s; answering the turn's requests with an error",
                 ss_rc_str(rc));
    }
    while (!h2o_linklist_is_empty(&f->held)) {
        ss__held *h = H2O_STRUCT_FROM_MEMBER(ss__held, link, f->held.next);
        h2o_linklist_unlink(&h->link);
        if (h->req) {
            *h->anchor = NULL;
            if (rc == SS_OK)
                send_done(f, h->req, &h->res);
            else
                send_plain(f, h->req, rc == SS_FULL ? 507 : 503,
                           rc == SS_FULL ? "Storage full" : "Storage unavailable, retry later");
        }
        ss_http_response_release(&h->res);
        ss_free(h);
    }
    return rc;
}

/* ---- the h2o handler ------------------------------------------------------------------------ */

/* picohttpparser, inside libh2o (its header is not installed). */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

#define FRAMING_MAX_HEADERS 128
#define FRAMING_MAX_HEAD_BYTES 65536

/* Request smuggling (RFC 9112 §6.3): Content-Length values that differ, or
 * Content-Length next to Transfer-Encoding, make the end of the body
 * ambiguous: whatever h2o took as the body, the rest could run as another
 * request. h2o 2.2.5 keeps neither header in req->headers, but the raw
 * request head stays at the start of the connection's input buffer until
 * the response has gone out; it is parsed again here (and used only when its
 * method and target are this request's). HTTP/2 frames its own bodies. */
static bool ambiguous_framing(h2o_req_t *req) {
    if (req->version >= 0x200 || !req->conn->callbacks->get_socket)
        return false;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!sock || !sock->input || !sock->input->size)
        return false;
    struct phr_header h[FRAMING_MAX_HEADERS];
    size_t n = FRAMING_MAX_HEADERS, mlen, plen;
    const char *m, *p;
    int minor;
    size_t avail = sock->input->size < FRAMING_MAX_HEAD_BYTES ? sock->input->size : FRAMING_MAX_HEAD_BYTES;
    if (phr_parse_request(sock->input->bytes, avail, &m, &mlen, &p, &plen, &minor, h, &n, 0) <= 0 ||
        !h2o_memis(m, mlen, req->method.base, req->method.len) ||
        !h2o_memis(p, plen, req->path.base, req->path.len))
        return false;
    const struct phr_header *length = NULL;
    bool chunked = false;
    for (size_t i = 0; i < n; i++) {
        if (h2o_lcstris(h[i].name, h[i].name_len, H2O_STRLIT("content-length"))) {
            if (length && !h2o_memis(length->value, length->value_len, h[i].value, h[i].value_len))
                return true;
            length = &h[i];
        } else if (h2o_lcstris(h[i].name, h[i].name_len, H2O_STRLIT("transfer-encoding"))) {
            chunked = true;
        }
    }
    return length && chunked;
}

/* The request line lives in the connection's read buffer, which h2o 2.2.5
 * moves (h2o_buffer_reserve) when the client's next request arrives before
 * this one is disposed: a long-poll answered at a wake and asked again at
 * once, or pipelining. What is read after on_req returns (is_head at a
 * later send; the request counts and the access log at dispose) reads
 * copies in the request pool instead. */
static void keep_request_line(h2o_req_t *req) {
    req->method = h2o_strdup(&req->pool, req->method.base, req->method.len);
    req->input.method = h2o_strdup(&req->pool, req->input.method.base, req->input.method.len);
    req->input.path = h2o_strdup(&req->pool, req->input.path.base, req->input.path.len);
}

int ss__h2o_on_req(h2o_handler_t *self, h2o_req_t *req) {
    ss_h2o_front *f = ((ss__h2o_handler *)self)->f;
    keep_request_line(req);
    if (ss__h2o_admin_request(f, req))
        return 0;
    if (ambiguous_framing(req)) { /* answer, then close: nothing after it is read */
        req->http1_is_persistent = 0;
        send_plain(f, req, 400, "Ambiguous request framing (Content-Length)");
        return 0;
    }
    if (req->headers.size > SS_HTTP_MAX_REQUEST_HEADERS) {
        send_plain(f, req, 431, "Too many headers");
        return 0;
    }
    ss_http_request view;
    build_view(f, req, &view);
    ss_http_response res;
    ss_handler_handle(f->handler, &view, &res);
    switch (res.kind) {
    case SS_HTTP_DONE:
        respond_or_hold(f, req, &res);
        break;
    case SS_HTTP_WAIT:
    case SS_HTTP_STREAM:
        if (f->stopping) {
            ss_http_live_free(res.live);
            res.live = NULL;
            send_plain(f, req, 503, "Server shutting down");
        } else if (res.kind == SS_HTTP_WAIT) {
            start_long_poll(f, req, &res);
        } else if (ss_protocol_has_unflushed(f->protocol)) {
            /* The first SSE chunk goes out at once and cannot be held: make the
             * turn's writes durable first (an early group commit; the held
             * acknowledgements go out with it). */
            if (ss__h2o_flush_and_release(f) != SS_OK) {
                ss_http_live_free(res.live);
                res.live = NULL;
                send_plain(f, req, 503, "Storage unavailable, retry later");
            } else {
                start_sse(f, req, &res);
            }
        } else {
            start_sse(f, req, &res);
        }
        break;
    }
    ss_http_response_release(&res);
    return 0;
}
