/* Shared by h2o_front.c (lifecycle, sockets, loop, access log) and
 * h2o_exchange.c (requests, responses, long-poll and SSE). */
#ifndef SS_HTTP_H2O_INTERNAL_H
#define SS_HTTP_H2O_INTERNAL_H

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0 /* the evloop ABI; libh2o-evloop.pc does not say so */
#endif
#include <h2o.h>

#include "base/timers.h"
#include "h2o_front.h"

#define SS__ACCESS_LOG_FLUSH_BYTES (64u << 10)

/* Request methods counted apart; others count as "other". */
#define SS__METHODS(X) X(GET) X(HEAD) X(POST) X(PUT) X(DELETE) X(OPTIONS)
enum {
#define SS__METHOD_ENUM(m) SS__METHOD_##m,
    SS__METHODS(SS__METHOD_ENUM)
#undef SS__METHOD_ENUM
        SS__METHOD_OTHER,
    SS__METHOD_COUNT
};
#define SS__STATUS_MIN 100
#define SS__STATUS_COUNT 500 /* 100..599 */

/* What the front end counts (the gauges are read off live state). */
typedef struct ss__http_stats {
    uint64_t requests[SS__METHOD_COUNT][SS__STATUS_COUNT];
    uint64_t bytes_in, bytes_out;
    uint64_t connections;                          /* accepted */
    uint64_t refused_fds;                          /* answered 503 for want of a descriptor */
    uint64_t cut_stalled, cut_pending, cut_budget; /* responses cut: SSE stall, SSE pending cap, budget */
    uint64_t refused_budget;                       /* large responses answered 503 over the budget */
    uint64_t long_polls, sses;                     /* gauges: live reads open now */
    uint64_t flush_failures;
} ss__http_stats;

/* Owned by: main (ss_h2o_front_new / ss_h2o_front_free). */
struct ss_h2o_front {
    ss_handler *handler;
    ss_protocol *protocol;
    ss_h2o_background background;
    int64_t background_next; /* when background.run wants to run again */
    bool access_log;
    bool stopping; /* shutdown began: no new parks, new live reads get 503 */

    h2o_globalconf_t config;
    h2o_context_t ctx;
    bool ctx_inited;
    h2o_evloop_t *loop;
    h2o_accept_ctx_t accept_ctx;
    SSL_CTX *ssl_ctx;

    int listen_fd;
    h2o_socket_t *listener;
    ss_h2o_admin admin;
    int admin_fd; /* -1: no admin listener */
    h2o_socket_t *admin_listener;
    char admin_address[80];
    uint16_t admin_port;
    ss__http_stats stats;
    time_t started_at;
    int64_t storage_failed_at; /* when a flush last failed (ms), for /readyz */
    char address[80];          /* "127.0.0.1:4437" / "[::1]:4437" */
    uint16_t port;

    h2o_linklist_t held; /* ss__held: responses waiting for the next flush */

    ss__timers timers;    /* deadlines of parked live reads and SSE stall checks */
    h2o_linklist_t lives; /* every ss__live_req that still owns a continuation */
    h2o_linklist_t conns; /* every accepted socket (ss__conn), until h2o closes it */
    size_t n_conns;
    size_t max_conns;   /* SIZE_MAX: no limit */
    bool accept_paused; /* the listener is not read: at max_conns or out of descriptors */
    bool out_of_fds;    /* accept failed with EMFILE/ENFILE; retried at accept_retry_at */
    int64_t accept_retry_at;
    int reserve_fd;  /* held open so one connection can still be refused cleanly */
    size_t refused;  /* connections refused while out of descriptors, since the last log line */
    bool fds_logged; /* "cannot accept" was logged; "accepting again" is due */
    int64_t fds_logged_at, fds_recovered_logged_at, conn_limit_logged_at; /* see log_due() */

    size_t output_bytes;   /* response bytes handed to h2o or queued for SSE, not yet freed */
    size_t output_budget;  /* SIZE_MAX: no limit */
    h2o_linklist_t bodies; /* ss__body: one-shot response bodies still held, oldest first */
    int64_t budget_cut_logged_at, budget_full_logged_at;

    char *log; /* access-log lines not yet written */
    size_t log_len, log_cap;
    time_t log_sec;     /* second of log_stamp */
    char log_stamp[24]; /* "2026-11-26T21:30:00" */
};

struct ss__live_req;

/* One accepted socket, until h2o closes it (h2o_socket_t.on_close). */
typedef struct ss__conn {
    h2o_linklist_t link;
    ss_h2o_front *f;
    h2o_socket_t *sock;
    struct ss__live_req *watch; /* HTTP/1 long-poll parked on this connection, watched for EOF */
    char peer[56];              /* "127.0.0.1:54321" / "[::1]:54321" for the access log; "-" if unknown */
} ss__conn;

/* ---- h2o_exchange.c ---- */
/* The h2o handler callback for every path. */
int ss__h2o_on_req(h2o_handler_t *self, h2o_req_t *req);
/* h2o is closing a tracked socket: forget any watch on it. */
void ss__h2o_conn_closing(ss__conn *c);
/* A deadline in f->timers is due. */
void ss__h2o_on_timer(ss_h2o_front *f, ss__timer *t);
/* Shutdown: answer every parked long-poll and end every SSE response. */
void ss__h2o_end_all_live(ss_h2o_front *f);
/* Group commit: makes the turn's commits durable, then sends the responses
 * held for it (or an error in their place when the flush failed). Returns
 * the flush's result. */
SS_MUST_USE ss_rc ss__h2o_flush_and_release(ss_h2o_front *f);

/* ---- h2o_front.c ---- */
/* The tracking entry of an HTTP/1 request's connection; NULL for HTTP/2. */
ss__conn *ss__h2o_conn_of(h2o_req_t *req);
/* Appends one access-log line for a finished request. */
void ss__h2o_log_request(ss_h2o_front *f, h2o_req_t *req);

/* admin.c: counts a finished request; answers /metrics, /healthz and
 * /readyz when the request is for them (true: answered). */
void ss__h2o_count_request(ss_h2o_front *f, h2o_req_t *req);
bool ss__h2o_admin_request(ss_h2o_front *f, h2o_req_t *req);
/* Whether readiness holds now; why not in *why (static text). */
bool ss__h2o_ready(ss_h2o_front *f, const char **why);

/* True at most once per SS_HTTP_REPEAT_LOG_MS for the same *last_at: a
 * condition that comes and goes under load is logged, not spammed. */
bool ss__h2o_log_due(ss_h2o_front *f, int64_t *last_at);

/* Over the output budget: cuts slow readers (see make_room in h2o_exchange.c). */
void ss__h2o_check_output_budget(ss_h2o_front *f);
/* The handler object registered on "/": gives on_req its front end. */
typedef struct ss__h2o_handler {
    h2o_handler_t super;
    ss_h2o_front *f;
} ss__h2o_handler;

#endif
