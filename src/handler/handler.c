/* Routing, common headers and the per-method dispatch. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "streamsy/alloc.h"

#define CORS_ALLOW_METHODS "GET, POST, PUT, DELETE, HEAD, OPTIONS"
#define CORS_ALLOW_HEADERS                                                                                        \
    "Content-Type, Authorization, If-None-Match, Stream-Seq, Stream-TTL, Stream-Expires-At, "                     \
    "Stream-Closed, Producer-Id, Producer-Epoch, Producer-Seq, Stream-Forked-From, Stream-Fork-Offset, "          \
    "Stream-Fork-Sub-Offset, Stream-Expected-Offset"
#define CORS_EXPOSE_HEADERS                                                                                       \
    "Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, Stream-Closed, Stream-SSE-Data-Encoding, "             \
    "ETag, Location, Content-Type, Producer-Epoch, Producer-Seq, Producer-Expected-Seq, "                         \
    "Producer-Received-Seq, Stream-Not-Supported"

ss_rc ss_handler_new(const ss_handler_options *o, ss_handler **out) {
    if (!o || !o->protocol)
        return SS_MISUSE;
    const char *prefix = o->path_prefix ? o->path_prefix : "/v1/stream";
    size_t len = strlen(prefix);
    while (len && prefix[len - 1] == '/')
        len--;
    if (len >= SS_HTTP_MAX_PREFIX_BYTES || (len && prefix[0] != '/'))
        return SS_BADARG;
    ss_handler *h = ss_calloc(1, sizeof *h);
    if (!h)
        return SS_NOMEM;
    h->p = o->protocol;
    memcpy(h->prefix, prefix, len);
    h->prefix_len = len;
    h->max_body = o->max_body_bytes ? o->max_body_bytes : SS_HTTP_DEFAULT_MAX_BODY_BYTES;
    h->validator = o->validator;
    h->reserved = o->reserved;
    h->trust_forwarded = o->trust_forwarded;
    for (int i = 0; i < 2; i++)
        ss_buf_init(&h->shared[i].bytes, SS_HTTP_BODY_MAX);
    *out = h;
    return SS_OK;
}

void ss_handler_free(ss_handler *h) {
    if (!h)
        return;
    for (int i = 0; i < 2; i++)
        ss_buf_release(&h->shared[i].bytes);
    ss_free(h);
}

size_t ss_handler_max_body_bytes(const ss_handler *h) { return h->max_body; }

void ss__common_headers(ss_http_response *res) {
    ss__header_cstr(res, "X-Content-Type-Options", "nosniff");
    ss__header_cstr(res, "Cross-Origin-Resource-Policy", "cross-origin");
    ss__header_cstr(res, "Access-Control-Allow-Origin", "*");
    ss__header_cstr(res, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
}

/* Rejects paths a stream id must never be: NUL, dot segments, over-long. */
static const char *bad_path(ss_slice path) {
    if (path.len > SS_HTTP_MAX_PATH_BYTES)
        return "Path too long";
    if (path.len == 0)
        return NULL; /* (an embedder's empty slice may have p == NULL) */
    size_t seg = 0;
    for (size_t i = 0; i <= path.len; i++) {
        if (i == path.len || path.p[i] == '/') {
            ss_slice s = {path.p + seg, i - seg};
            if (ss_slice_eq_cstr(s, ".") || ss_slice_eq_cstr(s, "..") || ss_slice_ieq_cstr(s, "%2e") ||
                ss_slice_ieq_cstr(s, "%2e%2e") || ss_slice_ieq_cstr(s, ".%2e") || ss_slice_ieq_cstr(s, "%2e."))
                return "Invalid stream path";
            seg = i + 1;
        } else if (path.p[i] == '\0') {
            return "Invalid stream path";
        }
    }
    return NULL;
}

bool ss__validate_body(ss__req *q, ss_slice content_type, ss_slice body, ss_http_response *res) {
    const ss_http_validator *v = &q->h->validator;
    if (!v->check || !body.len)
        return true;
    ss_json_error err = {.index = -1};
    if (v->check(v->ctx, q->id, content_type, body, &err))
        return true;
    ss_buf text;
    ss_buf_init(&text, 1024);
    ss_buf_append_cstr(&text, "Invalid message");
    if (err.index >= 0)
        ss_buf_printf(&text, " %ld", err.index);
    ss_buf_printf(&text, " at %s: %s: %s", err.path[0] ? err.path : "/", err.rule[0] ? err.rule : "invalid",
                  err.message[0] ? err.message : "rejected");
    ss__respond_text(res, 400, text.p ? text.p : "Invalid message");
    ss_buf_release(&text);
    return false;
}

ss_protocol_stream *ss__open_existing(ss__req *q, ss_http_response *res) {
    ss_get_result g;
    ss_rc rc = ss_protocol_get(q->h->p, q->id, &g);
    if (rc) {
        ss__respond_rc(res, rc);
        return NULL;
    }
    return ss__respond_absent(res, g.status) ? NULL : g.stream;
}

bool ss__respond_absent(ss_http_response *res, ss_presence p) {
    switch (p) {
    case SS_PRESENT:
        return false;
    case SS_NOT_FOUND:
        ss__respond_text(res, 404, "Stream not found");
        return true;
    case SS_GONE:
        ss__respond_text(res, 410, "Stream is soft-deleted");
        return true;
    }
    return false;
}

bool ss__respond_meta_failure(ss_http_response *res, ss_rc rc, const ss_meta_result *m) {
    if (rc) {
        ss__respond_rc(res, rc);
        return true;
    }
    return ss__respond_absent(res, m->status);
}

/* RFC 3986 authority as a Host header carries it: host [":" port], host an
 * IP literal in brackets or a reg-name (unreserved, pct-encoded, sub-delims),
 * at most SS_HTTP_MAX_HOST_BYTES. Empty is allowed (no Host: the Location
 * header is then relative). */
bool ss__valid_authority(ss_slice a) {
    if (a.len > SS_HTTP_MAX_HOST_BYTES)
        return false;
    size_t i = 0;
    if (a.len && a.p[0] == '[') {
        while (i < a.len && a.p[i] != ']') {
            char c = a.p[i++];
            if (!(ss_hex_value(c) >= 0 || c == ':' || c == '.' || c == '[' || c == 'v' || c == 'V'))
                return false;
        }
        if (i++ == a.len)
            return false; /* no ']' */
    } else {
        for (; i < a.len && a.p[i] != ':'; i++) {
            char c = a.p[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      strchr("-._~%!$&'()*+,;=", c) != NULL;
            if (!ok || c == '\0')
                return false;
        }
    }
    if (i == a.len)
        return true;
    if (a.p[i] != ':' || a.len - i - 1 > 5)
        return false;
    for (i++; i < a.len; i++)
        if (a.p[i] < '0' || a.p[i] > '9')
            return false;
    return true;
}

/* Protocol headers that carry one value. Two that differ (a proxy added one,
 * or somebody hopes the first one wins) are refused rather than guessed. */
static const char *const SINGLE_VALUE_HEADERS[] = {
    "Content-Type",           "Stream-Seq",         "Stream-TTL",         "Stream-Expires-At",
    "Stream-Closed",          "Stream-Forked-From", "Stream-Fork-Offset", "Stream-Fork-Sub-Offset",
    "Stream-Expected-Offset", "Producer-Id",        "Producer-Epoch",     "Producer-Seq",
};

static const char *conflicting_header(const ss_http_request *r) {
    for (size_t k = 0; k < sizeof SINGLE_VALUE_HEADERS / sizeof SINGLE_VALUE_HEADERS[0]; k++) {
        const ss_slice *first = NULL;
        for (size_t i = 0; i < r->n_headers; i++) {
            if (!ss_slice_ieq_cstr(r->headers[i].name, SINGLE_VALUE_HEADERS[k]))
                continue;
            if (first && !ss_slice_eq(*first, r->headers[i].value))
                return SINGLE_VALUE_HEADERS[k];
            first = &r->headers[i].value;
        }
    }
    return NULL;
}

static void dispatch(ss__req *q, ss_http_response *res) {
    const ss_http_request *r = q->http;
    ss_slice m = r->method;
    if (ss_slice_eq_cstr(m, "OPTIONS")) {
        ss__respond(res, 204);
        ss__header_cstr(res, "Access-Control-Allow-Methods", CORS_ALLOW_METHODS);
        ss__header_cstr(res, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
        ss__header_cstr(res, "Access-Control-Max-Age", "86400");
        return;
    }
    bool known = ss_slice_eq_cstr(m, "PUT") || ss_slice_eq_cstr(m, "POST") || ss_slice_eq_cstr(m, "GET") ||
                 ss_slice_eq_cstr(m, "HEAD") || ss_slice_eq_cstr(m, "DELETE");
    if (!known) {
        ss__respond_text(res, 405, "Method not allowed");
        ss__header_cstr(res, "Allow", CORS_ALLOW_METHODS);
        return;
    }
    const char *why = bad_path(r->path);
    if (why) {
        ss__respond_text(res, r->path.len > SS_HTTP_MAX_PATH_BYTES ? 414 : 400, why);
        return;
    }
    switch (ss__stream_id(q->h, r->path, &q->arena, &q->id)) {
    case SS__ID_OK:
        break;
    case SS__ID_NONE: {
        ss_slice p = r->path;
        bool at_root = p.len >= q->h->prefix_len && memcmp(p.p, q->h->prefix, q->h->prefix_len) == 0 &&
                       p.len <= q->h->prefix_len + 1;
        ss__respond_text(res, at_root ? 400 : 404, at_root ? "Stream path required" : "Not found");
        return;
    }
    case SS__ID_INVALID:
        ss__respond_text(res, 400, "Invalid stream path");
        return;
    case SS__ID_NOMEM:
        ss__respond_text(res, 503, "Out of memory");
        return;
    }
    if (!ss__valid_authority(r->authority)) {
        ss__respond_text(res, 400, "Invalid Host header");
        return;
    }
    if (r->body_too_large) {
        ss__respond_text(res, 413, "Payload too large");
        return;
    }
    if (q->id.len >= 4 && memcmp(q->id.p, "__ds", 4) == 0 && (q->id.len == 4 || q->id.p[4] == '/')) {
        const ss_http_reserved *rv = &q->h->reserved;
        size_t skip = q->h->prefix_len + 1 + 4; /* "{prefix}/__ds", not encoded (else: not a route) */
        if (rv->handle && r->path.len >= skip && memcmp(r->path.p + skip - 4, "__ds", 4) == 0)
            rv->handle(rv->ctx, r, (ss_slice){r->path.p + skip, r->path.len - skip}, res);
        else
            ss__respond_text(res, 404, "Reserved path");
        return;
    }
    const char *twice = conflicting_header(r);
    if (twice) {
        ss_buf text;
        ss_buf_init(&text, 256);
        ss_buf_printf(&text, "Conflicting %s headers", twice);
        ss__respond_text(res, 400, text.p ? text.p : "Conflicting headers");
        ss_buf_release(&text);
        return;
    }
    if (ss_slice_eq_cstr(m, "PUT"))
        ss__handle_put(q, res);
    else if (ss_slice_eq_cstr(m, "POST"))
        ss__handle_post(q, res);
    else if (ss_slice_eq_cstr(m, "GET"))
        ss__handle_get(q, res);
    else if (ss_slice_eq_cstr(m, "HEAD"))
        ss__handle_head(q, res);
    else
        ss__handle_delete(q, res);
}

bool ss_handler_stream_id(const ss_handler *h, const ss_http_request *req, ss_arena *a, ss_slice *out) {
    return !bad_path(req->path) && ss__stream_id(h, req->path, a, out) == SS__ID_OK;
}

bool ss_handler_fork_source(const ss_handler *h, const ss_http_request *req, ss_arena *a, ss_slice *out) {
    ss_slice from = ss__header(req, "Stream-Forked-From", NULL);
    return ss_slice_eq_cstr(req->method, "PUT") && from.len && ss__stream_id(h, from, a, out) == SS__ID_OK;
}

void ss_handler_handle(ss_handler *h, const ss_http_request *req, ss_http_response *out) {
    ss_http_response_init(out);
    ss__common_headers(out);
    ss__req q = {.h = h, .http = req};
    ss_arena_init(&q.arena);
    dispatch(&q, out);
    ss_arena_release(&q.arena);
    ss_http_live *live = out->live;
    if (ss__settle_response(out) && live)
        ss_http_live_free(live); /* not handed to the front end yet: still ours */
    if (out->status == 204 || out->status == 304)
        ss_buf_clear(&out->body);
}
