/* The routes under {prefix}/__ds (the wire contract of docs/subscriptions.md),
 * their dispatch and the helpers that read requests and write answers:
 *
 *   PUT|GET|DELETE  /subscriptions/{id}            create or re-confirm, read, delete
 *   POST            /subscriptions/{id}/streams    link streams explicitly
 *   DELETE          /subscriptions/{id}/streams/{path}
 *   POST            /subscriptions/{id}/callback   webhook: ack (+ done)
 *   POST            /subscriptions/{id}/claim      pull-wake: take the wake
 *   POST            /subscriptions/{id}/ack        pull-wake: ack / heartbeat (+ done)
 *   POST            /subscriptions/{id}/release    pull-wake: give the wake back
 *   GET             /jwks.json                     the webhook signing keys
 *
 * Errors are {"error":{"code","message"}} with the status of the code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "base/log.h"
#include "routes.h"
#include "streamsy/alloc.h"

#define MAX_SEGMENTS 64

/* ---- answers ------------------------------------------------------------------------------- */

void ss__subs_reply_json(route_req *r, int status, json_t *body) {
    r->res->status = status;
    ss_buf_clear(&r->res->body);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        r->res->status = 503;
        (void)ss_http_response_header(r->res, "Content-Type", ss_slice_cstr("text/plain"));
        ss_buf_append_cstr(&r->res->body, "Out of memory");
        return;
    }
    (void)ss_http_response_header(r->res, "Content-Type", ss_slice_cstr("application/json"));
    ss_buf_append_cstr(&r->res->body, text);
    free(text);
}

void ss__subs_reply_error(route_req *r, int status, const char *code, const char *message) {
    ss__subs_reply_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

void ss__subs_reply_text(route_req *r, int status, const char *text) {
    r->res->status = status;
    ss_buf_clear(&r->res->body);
    (void)ss_http_response_header(r->res, "Content-Type", ss_slice_cstr("text/plain"));
    ss_buf_append_cstr(&r->res->body, text);
}

void ss__subs_reply_empty(route_req *r) {
    r->res->status = 204;
    ss_buf_clear(&r->res->body);
}

/* A storage or memory failure, as the handler answers them. */
void ss__subs_reply_rc(route_req *r, ss_rc rc) {
    switch (rc) {
    case SS_BUSY:
        ss__subs_reply_text(r, 503, "Storage busy, retry later");
        (void)ss_http_response_header(r->res, "Retry-After", ss_slice_cstr("1"));
        return;
    case SS_FULL:
        ss__subs_reply_text(r, 507, "Storage full");
        return;
    case SS_NOMEM:
        ss__subs_reply_text(r, 503, "Out of memory");
        return;
    default:
        ss__subs_reply_text(r, 500, rc == SS_CORRUPT ? "Storage corrupt" : "Storage I/O error");
        return;
    }
}

void ss__subs_reply_not_found(route_req *r) {
    ss__subs_reply_error(r, 404, "SUBSCRIPTION_NOT_FOUND", "Subscription not found");
}

/* ---- request parts ------------------------------------------------------------------------ */

/* Percent-decodes into a fresh string (*out): SS_BADARG for a bad escape, a
 * NUL or bytes that are not UTF-8 (ids and paths go into JSON), SS_NOMEM. */
static ss_rc pct_decode(ss_slice in, char **out) {
    char *d = ss_malloc(in.len + 1);
    if (!d)
        return SS_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.p[i];
        if (c == '%') {
            int hi = i + 2 < in.len ? ss_hex_value(in.p[i + 1]) : -1;
            int lo = hi >= 0 ? ss_hex_value(in.p[i + 2]) : -1;
            if (lo < 0) {
                ss_free(d);
                return SS_BADARG;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            ss_free(d);
            return SS_BADARG;
        }
        d[n++] = c;
    }
    d[n] = '\0';
    if (!ss_utf8_is_valid(ss_slice_of(d, n))) {
        ss_free(d);
        return SS_BADARG;
    }
    *out = d;
    return SS_OK;
}

/* The JSON body: {} when empty; NULL (answered) when it is not JSON. */
json_t *ss__subs_body(route_req *r) {
    ss_slice b = r->http->body;
    json_t *j = b.len ? json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, NULL) : json_object();
    if (!j)
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "Invalid JSON body");
    return j;
}

static ss_slice header(const ss_http_request *q, const char *name) {
    for (size_t i = 0; i < q->n_headers; i++)
        if (ss_slice_ieq_cstr(q->headers[i].name, name))
            return q->headers[i].value;
    return (ss_slice){"", 0};
}

/* The Bearer token into out (NUL-terminated); false when there is none or it is too long to be ours. */
bool ss__subs_bearer(const ss_http_request *q, char out[MAX_TOKEN_BYTES + 1]) {
    ss_slice a = header(q, "Authorization");
    if (a.len <= 7 || memcmp(a.p, "Bearer ", 7) != 0 || a.len - 7 > MAX_TOKEN_BYTES || memchr(a.p, '\0', a.len))
        return false;
    memcpy(out, a.p + 7, a.len - 7);
    out[a.len - 7] = '\0';
    return true;
}

const char *ss__subs_opt_string(const json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v && v[0] ? v : NULL;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static bool method_is(const route_req *r, const char *m) { return ss_slice_eq_cstr(r->http->method, m); }

static void method_not_allowed(route_req *r) { ss__subs_reply_text(r, 405, "Method not allowed"); }

static void handle_jwks(route_req *r) {
    if (!method_is(r, "GET") && !method_is(r, "HEAD")) {
        method_not_allowed(r);
        return;
    }
    ss__subs_reply_json(r, 200, ss__subs_jwks(r->s));
    ss_http_response *res = r->res;
    for (size_t i = 0; i < res->n_headers; i++)
        if (ss_slice_ieq_cstr(res->headers[i].name, "Content-Type"))
            res->headers[i].value = ss_slice_cstr("application/jwk-set+json");
    (void)ss_http_response_header(res, "Cache-Control", ss_slice_cstr("public, max-age=300"));
}

/* Splits "/a/b/c" into raw segments (empty ones kept, so "a//b" is not a route). */
static size_t split(ss_slice rest, ss_slice *seg, size_t max) {
    size_t n = 0;
    if (!rest.len || rest.p[0] != '/')
        return 0;
    size_t start = 1;
    for (size_t i = 1; i <= rest.len && n < max; i++)
        if (i == rest.len || rest.p[i] == '/') {
            seg[n++] = (ss_slice){rest.p + start, i - start};
            start = i + 1;
        }
    return n;
}

static void route(route_req *r, ss_slice rest) {
    ss_slice seg[MAX_SEGMENTS];
    size_t n = split(rest, seg, MAX_SEGMENTS);
    if (n == 1 && ss_slice_eq_cstr(seg[0], "jwks.json")) {
        handle_jwks(r);
        return;
    }
    bool subscription_route = n >= 2 && ss_slice_eq_cstr(seg[0], "subscriptions") && seg[1].len;
    char *id = NULL;
    ss_rc rc = subscription_route ? pct_decode(seg[1], &id) : SS_OK;
    if (rc == SS_NOMEM) {
        ss__subs_reply_rc(r, rc);
        return;
    }
    if (!subscription_route || (id && !id[0])) {
        ss__subs_reply_error(r, 404, "SUBSCRIPTION_NOT_FOUND", "Durable Streams control route not found");
        ss_free(id);
        return;
    }
    if (!id || strlen(id) > SS_SUBS_MAX_ID_BYTES) {
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "Invalid subscription id (UTF-8, at most 256 bytes)");
        ss_free(id);
        return;
    }
    subscription *sub = ss__subs_find(r->s, ss_slice_cstr(id));
    const char *action = n == 3 ? (ss_slice_eq_cstr(seg[2], "callback")  ? "callback"
                                   : ss_slice_eq_cstr(seg[2], "claim")   ? "claim"
                                   : ss_slice_eq_cstr(seg[2], "ack")     ? "ack"
                                   : ss_slice_eq_cstr(seg[2], "release") ? "release"
                                   : ss_slice_eq_cstr(seg[2], "streams") ? "streams"
                                                                         : NULL)
                         : n > 3 && ss_slice_eq_cstr(seg[2], "streams") ? "stream"
                         : n == 2                                       ? "base"
                                                                        : NULL;
    if (!action) {
        ss__subs_reply_error(r, 404, "SUBSCRIPTION_NOT_FOUND", "Durable Streams control route not found");
    } else if (strcmp(action, "base") == 0) {
        if (method_is(r, "PUT"))
            ss__subs_put(r, id);
        else if (method_is(r, "GET") && sub)
            ss__subs_reply_json(r, 200, ss__sub_serialize(r->s, sub, r->origin));
        else if (method_is(r, "GET"))
            ss__subs_reply_not_found(r);
        else if (method_is(r, "DELETE"))
            ss__subs_delete(r, id);
        else
            method_not_allowed(r);
    } else if (strcmp(action, "stream") == 0) {
        ss_slice tail = {seg[3].p, (size_t)(rest.p + rest.len - seg[3].p)};
        char *decoded = NULL;
        rc = pct_decode(tail, &decoded);
        if (!method_is(r, "DELETE"))
            method_not_allowed(r);
        else if (rc == SS_NOMEM)
            ss__subs_reply_rc(r, rc);
        else if (!decoded || !decoded[0] || strlen(decoded) > SS_SUBS_MAX_PATH_BYTES)
            ss__subs_reply_error(r, 400, "INVALID_REQUEST", "Invalid stream path");
        else if (!sub)
            ss__subs_reply_not_found(r);
        else
            ss__subs_remove_stream(r, sub, decoded);
        ss_free(decoded);
    } else if (!method_is(r, "POST")) {
        method_not_allowed(r);
    } else if (strcmp(action, "claim") == 0) {
        ss__subs_claim(r, id); /* checks the worker before the subscription */
    } else if (!sub) {
        ss__subs_reply_not_found(r);
    } else if (strcmp(action, "streams") == 0) {
        ss__subs_add_streams(r, sub);
    } else if (strcmp(action, "callback") == 0) {
        ss__subs_ack(r, sub, false);
    } else if (strcmp(action, "ack") == 0) {
        ss__subs_ack(r, sub, true);
    } else {
        ss__subs_release(r, sub);
    }
    ss_free(id);
}

void ss__subs_handle(void *ctx, const ss_http_request *req, ss_slice rest, ss_http_response *res) {
    route_req r = {.s = ctx, .http = req, .res = res, .now = ss_protocol_now_ms(((ss_subs *)ctx)->p)};
    ss_slice scheme = req->scheme.len ? req->scheme : ss_slice_cstr("http");
    snprintf(r.origin, sizeof r.origin, "%.*s://%.*s", (int)(scheme.len < 16 ? scheme.len : 16), scheme.p,
             (int)(req->authority.len < 256 ? req->authority.len : 256), req->authority.p);
    ss__subs_enter(r.s);
    route(&r, rest);
    ss__subs_leave(r.s);
}
