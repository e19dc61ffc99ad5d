/* The operator's side of the front end: every finished request counted,
 * and three endpoints outside the stream routes:
 *
 *   GET /metrics   Prometheus text format 0.0.4, every name streamsy_*; the
 *                  labels are bounded sets (method, code, mode, reason,
 *                  cause), never a stream name
 *   GET /healthz   200 "ok" while the process serves
 *   GET /readyz    200 "ready", or 503 with the reason: draining (after
 *                  SIGTERM), storage corrupt, or a flush failed in the last
 *                  SS_HTTP_READY_HOLD_MS
 *
 * They answer on the main listener (SS_H2O_ADMIN_MAIN: before the stream
 * routes, whatever the path prefix), only on the admin listener
 * (SS_H2O_ADMIN_SEPARATE: every other path there is 404), or nowhere. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "h2o_internal.h"
#include "streamsy/alloc.h"
#include "streamsy/storage.h"
#include "streamsy/version.h"

static const char *const method_names[SS__METHOD_COUNT] = {
#define SS__METHOD_NAME(m) #m,
    SS__METHODS(SS__METHOD_NAME)
#undef SS__METHOD_NAME
        "other",
};

static int method_index(h2o_iovec_t m) {
    for (int i = 0; i < SS__METHOD_OTHER; i++)
        if (h2o_memis(m.base, m.len, method_names[i], strlen(method_names[i])))
            return i;
    return SS__METHOD_OTHER;
}

void ss__h2o_count_request(ss_h2o_front *f, h2o_req_t *req) {
    int status = req->res.status;
    if (status >= SS__STATUS_MIN && status < SS__STATUS_MIN + SS__STATUS_COUNT)
        f->stats.requests[method_index(req->input.method)][status - SS__STATUS_MIN]++;
    f->stats.bytes_in += req->entity.base ? req->entity.len : 0;
    f->stats.bytes_out += req->bytes_sent;
}

/* ---- readiness ------------------------------------------------------------------------------ */

bool ss__h2o_ready(ss_h2o_front *f, const char **why) {
    const ss_storage_stats *ss = ss_storage_get_stats(ss_protocol_storage(f->protocol));
    if (f->stopping)
        *why = "draining";
    else if (ss->errors[SS_CORRUPT])
        *why = "storage corrupt";
    else if (f->storage_failed_at &&
             ss_protocol_now_ms(f->protocol) - f->storage_failed_at < SS_HTTP_READY_HOLD_MS)
        *why = "storage flush failed";
    else
        return true;
    return false;
}

/* ---- /metrics -------------------------------------------------------------------------------- */

static void family(ss_buf *b, const char *name, const char *type, const char *help) {
    (void)ss_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(ss_buf *b, const char *name, const char *labels, uint64_t v) {
    (void)ss_buf_printf(b, "%s%s%s%s %llu\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "",
                        (unsigned long long)v);
}

static void counter(ss_buf *b, const char *name, const char *help, uint64_t v) {
    family(b, name, "counter", help);
    sample(b, name, NULL, v);
}

static void gauge(ss_buf *b, const char *name, const char *help, uint64_t v) {
    family(b, name, "gauge", help);
    sample(b, name, NULL, v);
}

static void histogram(ss_buf *b, const char *name, const char *help, const ss_histogram *h, const double *bounds,
                      size_t n) {
    family(b, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= n; i++) {
        cumulative += h->buckets[i];
        if (i < n)
            (void)ss_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cumulative);
        else
            (void)ss_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cumulative);
    }
    (void)ss_buf_printf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

/* "SS_IOERR" -> "ioerr" */
static void cause_name(ss_rc rc, char *out, size_t cap) {
    const char *n = ss_rc_name(rc) + 3;
    size_t i = 0;
    for (; n[i] && i + 1 < cap; i++)
        out[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
    out[i] = '\0';
}

static void render_http(ss_h2o_front *f, ss_buf *b) {
    const ss__http_stats *s = &f->stats;
    family(b, "streamsy_http_requests_total", "counter", "HTTP requests answered, by method and status code.");
    for (int m = 0; m < SS__METHOD_COUNT; m++)
        for (int c = 0; c < SS__STATUS_COUNT; c++)
            if (s->requests[m][c])
                (void)ss_buf_printf(b, "streamsy_http_requests_total{method=\"%s\",code=\"%d\"} %llu\n",
                                    method_names[m], c + SS__STATUS_MIN, (unsigned long long)s->requests[m][c]);
    counter(b, "streamsy_http_request_body_bytes_total", "Request body bytes received.", s->bytes_in);
    counter(b, "streamsy_http_response_bytes_total", "Response body bytes sent.", s->bytes_out);
    gauge(b, "streamsy_connections", "Client connections open.", f->n_conns);
    counter(b, "streamsy_connections_accepted_total", "Client connections accepted.", s->connections);
    counter(b, "streamsy_connections_refused_total",
            "Connections answered 503 because the process was out of file descriptors.", s->refused_fds);
    family(b, "streamsy_live_readers", "gauge", "Live reads open, by mode.");
    sample(b, "streamsy_live_readers", "mode=\"long-poll\"", s->long_polls);
    sample(b, "streamsy_live_readers", "mode=\"sse\"", s->sses);
    gauge(b, "streamsy_output_bytes", "Response bytes held for clients that have not taken them.",
          f->output_bytes);
    gauge(b, "streamsy_output_budget_bytes", "The --max-output-bytes budget (0: none).",
          f->output_budget == SIZE_MAX ? 0 : f->output_budget);
    family(b, "streamsy_responses_cut_total", "counter",
           "Responses ended early to protect the server, by reason.");
    sample(b, "streamsy_responses_cut_total", "reason=\"budget\"", s->cut_budget);
    sample(b, "streamsy_responses_cut_total", "reason=\"sse-stall\"", s->cut_stalled);
    sample(b, "streamsy_responses_cut_total", "reason=\"sse-pending\"", s->cut_pending);
    counter(b, "streamsy_responses_refused_budget_total",
            "Large responses answered 503 while the output budget was spent.", s->refused_budget);
}

static void render_storage(ss_h2o_front *f, ss_buf *b) {
    const ss_protocol_stats *p = ss_protocol_get_stats(f->protocol);
    counter(b, "streamsy_appends_total", "Appends that landed (a JSON batch counts once).", p->appends);
    counter(b, "streamsy_appended_messages_total", "Messages written by appends.", p->messages);
    counter(b, "streamsy_appended_bytes_total", "Payload bytes written by appends.", p->bytes);
    counter(b, "streamsy_streams_expired_total", "Streams deleted by their TTL or expiry time.", p->expired);
    counter(b, "streamsy_expiry_runs_total", "Scheduled expiry checks run.", p->expiry_runs);

    const ss_storage_stats *s = ss_storage_get_stats(ss_protocol_storage(f->protocol));
    counter(b, "streamsy_storage_commits_total", "Storage commits (appends, closes, TTL touches).", s->commits);
    counter(b, "streamsy_storage_conflicts_total", "Commits refused by a precondition (then re-planned).",
            s->conflicts);
    counter(b, "streamsy_storage_creates_total", "Streams created.", s->creates);
    counter(b, "streamsy_storage_forks_total", "Streams forked.", s->forks);
    counter(b, "streamsy_storage_deletes_total", "Streams deleted (purged or soft-deleted).", s->deletes);
    family(b, "streamsy_storage_errors_total", "counter", "Failed storage calls, by cause.");
    for (int rc = 1; rc < SS_RC_COUNT; rc++) {
        char cause[16], labels[32];
        cause_name((ss_rc)rc, cause, sizeof cause);
        snprintf(labels, sizeof labels, "cause=\"%s\"", cause);
        sample(b, "streamsy_storage_errors_total", labels, s->errors[rc]);
    }
    counter(b, "streamsy_storage_flush_failures_total", "Group-commit flushes that failed.",
            f->stats.flush_failures);
    histogram(b, "streamsy_storage_commit_seconds", "Storage commit latency.", &s->commit_seconds,
              ss_latency_bounds, SS_LATENCY_BOUNDS_N);
    histogram(b, "streamsy_storage_flush_seconds", "Group-commit flush latency.", &s->flush_seconds,
              ss_latency_bounds, SS_LATENCY_BOUNDS_N);
    histogram(b, "streamsy_storage_flush_batch_writes", "Writes made durable by one group-commit flush.",
              &s->flush_batch, ss_batch_bounds, SS_BATCH_BOUNDS_N);
}

static void render(ss_h2o_front *f, ss_buf *b) {
    const char *why;
    family(b, "streamsy_build_info", "gauge", "The running version.");
    (void)ss_buf_printf(b, "streamsy_build_info{version=\"%s\",storage=\"%s\"} 1\n", ss_version(),
                        ss_storage_name(ss_protocol_storage(f->protocol)));
    gauge(b, "streamsy_start_time_seconds", "When the server started (Unix time).", (uint64_t)f->started_at);
    gauge(b, "streamsy_ready", "1 when /readyz answers 200.", ss__h2o_ready(f, &why));
    render_http(f, b);
    render_storage(f, b);
    if (f->background.metrics)
        f->background.metrics(f->background.ctx, b);
}

/* ---- the endpoints ----------------------------------------------------------------------------- */

static void answer(h2o_req_t *req, int status, const char *reason, const char *type, const char *body,
                   size_t len) {
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

static void answer_text(h2o_req_t *req, int status, const char *reason, const char *text) {
    answer(req, status, reason, "text/plain; charset=utf-8", text, strlen(text));
}

/* Whether the request came in on the admin listener. */
static bool on_admin_listener(ss_h2o_front *f, h2o_req_t *req) {
    struct sockaddr_storage sa;
    if (!req->conn->callbacks->get_sockname || !req->conn->callbacks->get_sockname(req->conn, (void *)&sa))
        return false;
    uint16_t port = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&sa)->sin_port);
    return port == f->admin_port;
}

bool ss__h2o_admin_request(ss_h2o_front *f, h2o_req_t *req) {
    if (f->admin == SS_H2O_ADMIN_OFF)
        return false;
    bool admin_conn = f->admin == SS_H2O_ADMIN_SEPARATE && on_admin_listener(f, req);
    if (f->admin == SS_H2O_ADMIN_SEPARATE && !admin_conn)
        return false;
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    h2o_iovec_t path = h2o_iovec_init(req->path.base, len);
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
               h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    const char *why;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz"))) {
        answer_text(req, get ? 200 : 405, get ? "OK" : "Method Not Allowed", get ? "ok\n" : "GET or HEAD\n");
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/readyz"))) {
        if (!get) {
            answer_text(req, 405, "Method Not Allowed", "GET or HEAD\n");
        } else if (ss__h2o_ready(f, &why)) {
            answer_text(req, 200, "OK", "ready\n");
        } else {
            char text[64];
            snprintf(text, sizeof text, "not ready: %s\n", why);
            answer_text(req, 503, "Service Unavailable", text); /* h2o_send_inline copies it */
        }
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics"))) {
        if (!get) {
            answer_text(req, 405, "Method Not Allowed", "GET or HEAD\n");
            return true;
        }
        ss_buf b;
        ss_buf_init(&b, SS_HTTP_METRICS_MAX_BYTES);
        render(f, &b);
        if (b.err)
            answer_text(req, 503, "Service Unavailable", "metrics could not be built\n");
        else
            answer(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
        ss_buf_release(&b);
    } else if (admin_conn) {
        answer_text(req, 404, "Not Found", "not found (this address serves /metrics, /healthz, /readyz)\n");
    } else {
        return false;
    }
    return true;
}
