/* The native HTTP front end: h2o 2.2.5 (evloop flavour) around the
 * transport-neutral handler.
 *
 *   ss_h2o_front_new(&opts, &f, err, cap)   bind and listen (fails fast)
 *   ss_h2o_front_run(f, &stop_flag)         serve until the flag is set,
 *                                           then end live reads and close
 *                                           every connection
 *   ss_h2o_front_free(f)                    release h2o and TLS state
 *
 * One thread runs everything: h2o's loop, the protocol's batched waiter
 * wake-ups (ss_protocol_run_pending once per loop turn), the long-poll/SSE
 * deadlines and the protocol's expiry timers. The handler and protocol are
 * borrowed and must outlive ss_h2o_front_run; after run returns no live
 * continuation or bound stream is held any more, so they may be freed before
 * ss_h2o_front_free.
 *
 * Group commit: while the protocol has unflushed commits, the responses of a
 * loop turn are held; once per turn ss_protocol_flush() makes them durable
 * and they go out (or become 507/503 when the flush failed). */
#ifndef SS_HTTP_H2O_FRONT_H
#define SS_HTTP_H2O_FRONT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamsy/handler.h"
#include "streamsy/protocol.h"
#include "streamsy/rc.h"

/* Longest sleep of one loop turn; bounds the latency of shutdown and of the
 * protocol's expiry timers if they are added between turns. */
#define SS_HTTP_LOOP_MAX_WAIT_MS 100
/* HTTP/1.1: the whole request head and body must arrive within this, and an
 * idle keep-alive connection is closed after it (h2o's http1.req_timeout). */
#define SS_HTTP1_REQUEST_TIMEOUT_MS 30000
/* An SSE client that has not taken a chunk for this long is disconnected. */
#define SS_SSE_STALL_MS 60000
/* Bodies up to max_body_bytes + max(max_body_bytes, this) are read in full and
 * answered with our own 413; h2o refuses larger ones itself (see h2o_front.c). */
#define SS_HTTP_BODY_DRAIN_SLACK (32u << 20)
/* On shutdown: how long connections get to finish before they are cut. */
#define SS_HTTP_SHUTDOWN_GRACE_MS 2000
/* Out of file descriptors: how long accepting pauses before it is tried again
 * (a closing connection resumes it sooner). */
#define SS_HTTP_ACCEPT_RETRY_MS 100
/* A condition that comes and goes (connection limit, out of descriptors) is
 * logged at most once per this. */
#define SS_HTTP_REPEAT_LOG_MS 60000
/* Over the output budget, responses whose bytes have waited this long for
 * their client are cut first. */
#define SS_HTTP_SLOW_READER_MS 1000
/* /readyz answers 503 for this long after a failed group-commit flush. */
#define SS_HTTP_READY_HOLD_MS 10000
/* /metrics bodies are built in a buffer of at most this size. */
#define SS_HTTP_METRICS_MAX_BYTES (1u << 20)
/* Response bodies up to this size are sent even over the output budget
 * (errors, small reads, the 503 itself). */
#define SS_HTTP_BUDGET_EXEMPT_BYTES (16u << 10)

typedef struct ss_h2o_front ss_h2o_front;

/* Where /metrics, /healthz and /readyz are served (see admin.c). */
typedef enum ss_h2o_admin {
    SS_H2O_ADMIN_MAIN,     /* on the main listener, before the stream routes */
    SS_H2O_ADMIN_SEPARATE, /* on admin_host:admin_port only */
    SS_H2O_ADMIN_OFF,
} ss_h2o_admin;

/* Work of another layer run once per loop turn (the subscriptions' timers
 * and webhook transfers): run() does what is due, never blocks, and returns
 * the wall-clock ms at which it wants to run again (INT64_MAX: none). Its
 * writes are flushed with the turn's group commit. */
typedef struct ss_h2o_background {
    int64_t (*run)(void *ctx, int64_t now_ms);
    /* Appends its own /metrics families (Prometheus text); may be NULL. */
    void (*metrics)(void *ctx, ss_buf *out);
    void *ctx;
} ss_h2o_background;

typedef struct ss_h2o_front_options {
    ss_handler *handler;   /* required; borrowed */
    ss_protocol *protocol; /* required; borrowed (the handler's protocol) */
    const char *host;      /* numeric IPv4/IPv6 or a name; NULL: 127.0.0.1 */
    uint16_t port;         /* 0: any free port (see ss_h2o_front_port) */
    bool http2;            /* h2c: prior knowledge and Upgrade on cleartext */
    const char *tls_cert;  /* PEM chain; with tls_key: HTTPS, ALPN h2 + http/1.1 */
    const char *tls_key;
    bool access_log;         /* one line per request on stderr */
    size_t max_connections;  /* open client connections; 0: no limit. At the limit accepting pauses and
                                new connections wait in the listen backlog until one closes */
    size_t max_output_bytes; /* response bytes held for clients that have not taken them; 0: no limit.
                                Over it: slow readers are cut, then large new responses get 503 */
    ss_h2o_admin admin;
    const char *admin_host;       /* SS_H2O_ADMIN_SEPARATE; NULL: 127.0.0.1 */
    uint16_t admin_port;          /* 0: any free port (see ss_h2o_front_admin_address) */
    ss_h2o_background background; /* run == NULL: none */
} ss_h2o_front_options;

/* Binds and listens. On failure returns non-SS_OK with a one-line reason in
 * err (for example "cannot listen on 127.0.0.1:4437: Address already in use"). */
SS_MUST_USE ss_rc ss_h2o_front_new(const ss_h2o_front_options *o, ss_h2o_front **out, char *err, size_t err_cap);
/* The bound address with its actual port: "127.0.0.1:4437", "[::1]:4437". */
const char *ss_h2o_front_address(const ss_h2o_front *f);
uint16_t ss_h2o_front_port(const ss_h2o_front *f);
/* The admin listener's bound address, or NULL when there is none. */
const char *ss_h2o_front_admin_address(const ss_h2o_front *f);
bool ss_h2o_front_is_tls(const ss_h2o_front *f);
/* Serves until *stop becomes non-zero (set it from a signal handler; the
 * loop notices within SS_HTTP_LOOP_MAX_WAIT_MS, at once when the signal
 * interrupts the poll). Then stops accepting, answers parked long-polls
 * (their timeout response), ends SSE responses after a last control event
 * (when no send is in flight), lets responses in flight
 * finish for up to SS_HTTP_SHUTDOWN_GRACE_MS and closes every connection. */
SS_MUST_USE ss_rc ss_h2o_front_run(ss_h2o_front *f, volatile sig_atomic_t *stop);
void ss_h2o_front_free(ss_h2o_front *f);

#endif
