/* The transport-neutral HTTP handler: status codes, headers and bodies for
 * the protocol, the Stream-Expected-Offset extension and bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler_request.h"
#include "test_support.h"

typedef struct http_env {
    test_env t;
    ss_handler *h;
    ss_http_response res;
} http_env;

static void http_init(http_env *e) {
    test_env_init(&e->t, false);
    ss_handler_options o = {.protocol = e->t.p, .path_prefix = "/v1/stream", .max_body_bytes = 1024};
    cr_assert_eq(ss_handler_new(&o, &e->h), SS_OK);
    ss_http_response_init(&e->res);
}

static void http_release(http_env *e) {
    ss_http_response_release(&e->res);
    ss_handler_free(e->h);
    test_env_release(&e->t);
}

/* Sends one request; headers as "Name: value" strings, NULL-terminated. */
static ss_http_response *send_req(http_env *e, const char *method, const char *target, const char *body,
                                  const char *const *headers) {
    test_handle(e->h, method, target, body, headers, &e->res);
    if (e->res.live) { /* these tests never park: answer the wait at its deadline */
        ss_http_live *l = e->res.live;
        if (e->res.kind == SS_HTTP_WAIT) {
            ss_http_live_resume(l, true, &e->res);
            cr_assert_eq(e->res.kind, SS_HTTP_DONE);
        }
        ss_http_live_free(l);
        e->res.live = NULL;
    }
    return &e->res;
}

static const char *hdr(const ss_http_response *r, const char *name) {
    static char buf[512];
    ss_slice v = ss_http_response_get_header(r, name);
    if (!v.p)
        return NULL;
    snprintf(buf, sizeof buf, "%.*s", (int)v.len, v.p);
    return buf;
}

static const char *body(const ss_http_response *r) { return r->body.p ? r->body.p : ""; }

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(http, put_creates_with_location_and_every_response_has_the_security_headers) {
    http_env e;
    http_init(&e);
    ss_http_response *r = send_req(&e, "PUT", "/v1/stream/a", NULL, H("Content-Type: text/plain"));
    cr_assert_eq(r->status, 201);
    cr_assert_str_eq(hdr(r, "Location"), "http://127.0.0.1:4437/v1/stream/a");
    cr_assert_str_eq(hdr(r, "Stream-Next-Offset"), SS_ZERO_OFFSET);
    cr_assert_str_eq(hdr(r, "X-Content-Type-Options"), "nosniff");
    r = send_req(&e, "GET", "/v1/stream/missing", NULL, NULL);
    cr_assert_eq(r->status, 404);
    cr_assert_str_eq(body(r), "Stream not found");
    cr_assert_str_eq(hdr(r, "X-Content-Type-Options"), "nosniff");
    cr_assert_str_eq(hdr(r, "Cross-Origin-Resource-Policy"), "cross-origin");
    http_release(&e);
}

Test(http, post_appends_with_204_and_get_returns_the_bytes_with_etag_and_304) {
    http_env e;
    http_init(&e);
    send_req(&e, "PUT", "/v1/stream/a", NULL, H("Content-Type: text/plain"));
    ss_http_response *r = send_req(&e, "POST", "/v1/stream/a", "hello", H("Content-Type: text/plain"));
    cr_assert_eq(r->status, 204);
    cr_assert_eq(r->body.len, 0);
    r = send_req(&e, "GET", "/v1/stream/a?offset=-1", NULL, NULL);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(body(r), "hello");
    cr_assert_str_eq(hdr(r, "Stream-Up-To-Date"), "true");
    char etag[600];
    snprintf(etag, sizeof etag, "If-None-Match: %s", hdr(r, "ETag"));
    r = send_req(&e, "GET", "/v1/stream/a?offset=-1", NULL, H(etag));
    cr_assert_eq(r->status, 304);
    cr_assert_eq(r->body.len, 0);
    http_release(&e);
}

/* GET `target` from a front end that accepts parts: the parts joined (the
 * caller frees), their count, and the length of each in `lens` (up to 8). */
static char *get_in_parts(http_env *e, const char *target, size_t *n_parts, size_t lens[8]) {
    test_handle_as(e->h, "GET", target, NULL, NULL, true, &e->res);
    cr_assert_eq(e->res.status, 200);
    char *joined = malloc(e->res.parts_len + e->res.body.len + 1);
    cr_assert_not_null(joined);
    size_t at = 0;
    for (size_t i = 0; i < e->res.n_parts; i++) {
        memcpy(joined + at, e->res.parts[i].p, e->res.parts[i].len);
        at += e->res.parts[i].len;
        if (i < 8)
            lens[i] = e->res.parts[i].len;
    }
    cr_assert_eq(at, e->res.parts_len);
    memcpy(joined + at, e->res.body.p ? e->res.body.p : "", e->res.body.len); /* the copied fallback */
    joined[at + e->res.body.len] = '\0';
    *n_parts = e->res.n_parts;
    return joined;
}

static void post_n(http_env *e, const char *path, const char *ct, const char *body, size_t n) {
    char h[64];
    snprintf(h, sizeof h, "Content-Type: %s", ct);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(send_req(e, "POST", path, body, H(h))->status, 204);
}

/* For a front end that accepts parts, a catch-up body is the same bytes with
 * every message of 512 bytes or more sent by reference, the rest (smaller
 * messages, JSON punctuation) copied together between them; past
 * SS_HTTP_MAX_BODY_PARTS parts the body is copied whole, as for any other
 * front end. */
Test(http, a_catch_up_body_in_parts_is_the_same_bytes_with_large_messages_by_reference) {
    http_env e;
    http_init(&e);
    char b600[601], e513[514], x600[608];
    memset(b600, 'b', 600), b600[600] = '\0';
    memset(e513, 'e', 513), e513[513] = '\0';
    snprintf(x600, sizeof x600, "[\"%.*s\"]", 599, b600); /* a JSON string of 601 bytes */
    send_req(&e, "PUT", "/v1/stream/t", NULL, H("Content-Type: text/plain"));
    const char *bodies[] = {"a", b600, "c", e513};
    for (size_t i = 0; i < 4; i++)
        post_n(&e, "/v1/stream/t", "text/plain", bodies[i], 1);
    char whole[1200];
    snprintf(whole, sizeof whole, "a%sc%s", b600, e513);
    cr_assert_str_eq(body(send_req(&e, "GET", "/v1/stream/t?offset=-1", NULL, NULL)), whole);
    size_t n, lens[8];
    char *got = get_in_parts(&e, "/v1/stream/t?offset=-1", &n, lens);
    cr_assert_str_eq(got, whole);
    free(got);
    cr_assert_eq(n, 4);
    cr_assert_eq(e.res.body.len, 0);
    size_t want_lens[] = {1, 600, 1, 513};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(lens[i], want_lens[i], "part %zu: %zu bytes", i, lens[i]);
    /* By reference: a second response, while the first still lives, points
     * at the same stored bytes (a copy would be elsewhere). */
    ss_http_response second;
    ss_http_response_init(&second);
    test_handle_as(e.h, "GET", "/v1/stream/t?offset=-1", NULL, NULL, true, &second);
    cr_assert_eq(second.n_parts, 4);
    cr_assert_eq(second.parts[1].p, e.res.parts[1].p);
    cr_assert_eq(second.parts[3].p, e.res.parts[3].p);
    cr_assert_neq(second.parts[0].p, e.res.parts[0].p, "small messages are copied");
    ss_http_response_release(&second);

    send_req(&e, "PUT", "/v1/stream/j", NULL, H("Content-Type: application/json"));
    post_n(&e, "/v1/stream/j", "application/json", "[1]", 1);
    post_n(&e, "/v1/stream/j", "application/json", x600, 1);
    post_n(&e, "/v1/stream/j", "application/json", "[2]", 1);
    char json[1200];
    snprintf(json, sizeof json, "[1,\"%.*s\",2]", 599, b600);
    got = get_in_parts(&e, "/v1/stream/j?offset=-1", &n, lens);
    cr_assert_str_eq(got, json);
    free(got);
    cr_assert_eq(n, 3);
    cr_assert(lens[0] == 3 && lens[1] == 601 && lens[2] == 3, "%zu %zu %zu", lens[0], lens[1], lens[2]);
    send_req(&e, "PUT", "/v1/stream/j0", NULL, H("Content-Type: application/json"));
    got = get_in_parts(&e, "/v1/stream/j0?offset=-1", &n, lens);
    cr_assert_str_eq(got, "[]");
    free(got);

    send_req(&e, "PUT", "/v1/stream/many", NULL, H("Content-Type: text/plain"));
    post_n(&e, "/v1/stream/many", "text/plain", b600, SS_HTTP_MAX_BODY_PARTS);
    got = get_in_parts(&e, "/v1/stream/many?offset=-1", &n, lens);
    cr_assert_eq(n, SS_HTTP_MAX_BODY_PARTS);
    cr_assert_eq(strlen(got), 600u * SS_HTTP_MAX_BODY_PARTS);
    free(got);
    post_n(&e, "/v1/stream/many", "text/plain", b600, 1);
    got = get_in_parts(&e, "/v1/stream/many?offset=-1", &n, lens);
    cr_assert_eq(n, 0, "one part too many: the body is copied");
    cr_assert_eq(e.res.body.len, 600u * (SS_HTTP_MAX_BODY_PARTS + 1));
    cr_assert_eq(strspn(got, "b"), 600u * (SS_HTTP_MAX_BODY_PARTS + 1));
    free(got);
    http_release(&e);
}

Test(http, expected_offset_match_lands_and_mismatch_is_409_with_the_actual_tail) {
    http_env e;
    http_init(&e);
    send_req(&e, "PUT", "/v1/stream/a", NULL, H("Content-Type: text/plain"));
    ss_http_response *r = send_req(&e, "POST", "/v1/stream/a", "one",
                                   H("Content-Type: text/plain", "Stream-Expected-Offset: " SS_ZERO_OFFSET));
    cr_assert_eq(r->status, 204);
    char tail[600];
    snprintf(tail, sizeof tail, "%s", hdr(r, "Stream-Next-Offset"));
    r = send_req(&e, "POST", "/v1/stream/a", "two",
                 H("Content-Type: text/plain", "Stream-Expected-Offset: " SS_ZERO_OFFSET));
    cr_assert_eq(r->status, 409);
    cr_assert_str_eq(body(r), "Expected offset mismatch");
    cr_assert_str_eq(hdr(r, "Stream-Next-Offset"), tail);
    cr_assert_null(hdr(r, "Stream-Closed"));
    r = send_req(&e, "GET", "/v1/stream/a?offset=-1", NULL, NULL);
    cr_assert_str_eq(body(r), "one", "the losing append wrote nothing");
    http_release(&e);
}

Test(http, malformed_expected_offset_is_400_before_anything_else) {
    http_env e;
    http_init(&e);
    send_req(&e, "PUT", "/v1/stream/a", NULL, H("Content-Type: text/plain"));
    const char *bad[] = {"", "-1", "now", "1_0", "abc", "0000000000000000_000000000000000x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char h[128];
        snprintf(h, sizeof h, "Stream-Expected-Offset: %s", bad[i]);
        ss_http_response *r = send_req(&e, "POST", "/v1/stream/a", "x", H("Content-Type: text/plain", h));
        cr_assert_eq(r->status, 400, "value '%s'", bad[i]);
        cr_assert_str_eq(body(r), "Invalid expected offset");
    }
    http_release(&e);
}

Test(http, expected_offset_on_a_closed_stream_reports_closed_and_close_only_stays_idempotent) {
    http_env e;
    http_init(&e);
    send_req(&e, "PUT", "/v1/stream/a", NULL, H("Content-Type: text/plain"));
    send_req(&e, "POST", "/v1/stream/a", "x", H("Content-Type: text/plain"));
    send_req(&e, "POST", "/v1/stream/a", NULL, H("Stream-Closed: true"));
    ss_http_response *r = send_req(&e, "POST", "/v1/stream/a", "y",
                                   H("Content-Type: text/plain", "Stream-Expected-Offset: " SS_ZERO_OFFSET));
    cr_assert_eq(r->status, 409);
    cr_assert_str_eq(hdr(r, "Stream-Closed"), "true");
    r = send_req(&e, "POST", "/v1/stream/a", NULL,
                 H("Stream-Closed: TRUE", "Stream-Expected-Offset: " SS_ZERO_OFFSET));
    cr_assert_eq(r->status, 204);
    cr_assert_str_eq(hdr(r, "Stream-Closed"), "true");
    http_release(&e);
}

Test(http, bad_input_gets_clear_4xx_text_answers) {
    http_env e;
    http_init(&e);
    send_req(&e, "PUT", "/v1/stream/a", NULL, H("Content-Type: application/json"));
    struct {
        const char *method, *target, *body;
        const char *const *headers;
        int status;
        const char *text;
    } cases[] = {
        {"GET", "/v1/stream/a?offset=0,1", NULL, NULL, 400, "Invalid offset format"},
        {"GET", "/v1/stream/a?offset=", NULL, NULL, 400, "Invalid offset format"},
        {"GET", "/v1/stream/a?offset=-1&offset=-1", NULL, NULL, 400, "Multiple offset parameters"},
        {"GET", "/v1/stream/a?live=long-poll", NULL, NULL, 400, "offset required for live modes"},
        {"POST", "/v1/stream/a", "{ bad", H("Content-Type: application/json"), 400, "Invalid JSON"},
        {"POST", "/v1/stream/a", "[]", H("Content-Type: application/json"), 400, "Empty arrays not allowed"},
        {"POST", "/v1/stream/a", NULL, H("Content-Type: application/json"), 400, "Empty body not allowed"},
        {"POST", "/v1/stream/a", "1", NULL, 400, "Content-Type required"},
        {"POST", "/v1/stream/a", "1", H("Content-Type: application/json", "Producer-Id: p"), 400,
         "Invalid producer headers"},
        {"POST", "/v1/stream/a", "1",
         H("Content-Type: application/json", "Producer-Id: p", "Producer-Epoch: 1e3", "Producer-Seq: 0"), 400,
         "Invalid producer headers"},
        {"POST", "/v1/stream/a", "1",
         H("Content-Type: application/json", "Producer-Id: p", "Producer-Epoch: 9007199254740992",
           "Producer-Seq: 0"),
         400, "Invalid producer headers"},
        {"PUT", "/v1/stream/b", NULL, H("Stream-TTL: 00060"), 400, "Invalid Stream-TTL format"},
        {"PUT", "/v1/stream/b", NULL, H("Stream-TTL: 60", "Stream-Expires-At: 2030-01-01T00:00:00Z"), 400,
         "Cannot specify both Stream-TTL and Stream-Expires-At"},
        {"PUT", "/v1/stream/b", NULL, H("Stream-Expires-At: not-a-timestamp"), 400,
         "Invalid Stream-Expires-At format"},
        {"PUT", "/v1/stream/b", NULL, H("Stream-Fork-Sub-Offset: 0"), 400,
         "Stream-Fork-Sub-Offset requires Stream-Forked-From"},
        {"PUT", "/v1/stream/b", "{", H("Content-Type: application/json"), 400, "Invalid JSON"},
        {"PATCH", "/v1/stream/a", NULL, NULL, 405, "Method not allowed"},
        {"GET", "/v1/stream/../etc/passwd", NULL, NULL, 400, "Invalid stream path"},
        {"GET", "/v1/stream/", NULL, NULL, 400, "Stream path required"},
        {"GET", "/elsewhere", NULL, NULL, 404, "Not found"},
        {"GET", "/v1/stream/__ds/subscriptions/x", NULL, NULL, 404, "Reserved path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ss_http_response *r = send_req(&e, cases[i].method, cases[i].target, cases[i].body, cases[i].headers);
        cr_assert_eq(r->status, cases[i].status, "%s %s: got %d", cases[i].method, cases[i].target, r->status);
        cr_assert_str_eq(body(r), cases[i].text, "%s %s", cases[i].method, cases[i].target);
        cr_assert_str_eq(hdr(r, "Content-Type"), "text/plain; charset=utf-8");
    }
    ss_http_response *r = send_req(&e, "GET", "/v1/stream/b", NULL, NULL);
    cr_assert_eq(r->status, 404, "no rejected PUT left a stream behind");
    http_release(&e);
}

Test(http, a_body_the_front_end_refused_is_413) {
    http_env e;
    http_init(&e);
    ss_http_request req = {.method = S("POST"), .path = S("/v1/stream/a"), .body_too_large = true};
    ss_http_response_release(&e.res);
    ss_handler_handle(e.h, &req, &e.res);
    cr_assert_eq(e.res.status, 413);
    cr_assert_str_eq(body(&e.res), "Payload too large");
    http_release(&e);
}

Test(http, long_poll_at_the_tail_waits_and_times_out_with_204_and_a_cursor) {
    http_env e;
    http_init(&e);
    send_req(&e, "PUT", "/v1/stream/a", NULL, H("Content-Type: text/plain"));
    ss_http_request req = {.method = S("GET"), .path = S("/v1/stream/a"), .query = S("offset=now&live=long-poll")};
    ss_http_response_release(&e.res);
    ss_handler_handle(e.h, &req, &e.res);
    cr_assert_eq(e.res.kind, SS_HTTP_WAIT);
    ss_http_live *l = e.res.live;
    cr_assert_not_null(l);
    ss_http_live_resume(l, true, &e.res);
    cr_assert_eq(e.res.kind, SS_HTTP_DONE);
    cr_assert_eq(e.res.status, 204);
    cr_assert_str_eq(hdr(&e.res, "Stream-Next-Offset"), SS_ZERO_OFFSET);
    cr_assert_str_eq(hdr(&e.res, "Stream-Up-To-Date"), "true");
    cr_assert_not_null(hdr(&e.res, "Stream-Cursor"));
    ss_http_live_free(l);
    http_release(&e);
}

Test(http, sse_sends_data_then_control_and_splits_lines_safely) {
    http_env e;
    http_init(&e);
    send_req(&e, "PUT", "/v1/stream/a", "line1\r\n\r\nevent: control\ndata:{}", H("Content-Type: text/plain"));
    send_req(&e, "POST", "/v1/stream/a", NULL, H("Stream-Closed: true"));
    ss_http_request req = {.method = S("GET"), .path = S("/v1/stream/a"), .query = S("offset=-1&live=sse")};
    ss_http_response_release(&e.res);
    ss_handler_handle(e.h, &req, &e.res);
    cr_assert_eq(e.res.kind, SS_HTTP_DONE, "a closed stream ends the SSE body at once");
    cr_assert_eq(e.res.status, 200);
    cr_assert_str_eq(hdr(&e.res, "Content-Type"), "text/event-stream");
    cr_assert_not(e.res.has_content_length);
    char want[512];
    snprintf(want, sizeof want,
             "event: data\ndata:line1\ndata:\ndata:event: control\ndata:data:{}\n\n"
             "event: control\ndata:{\"streamNextOffset\":\"%s\",\"streamClosed\":true,\"upToDate\":true}\n\n",
             "0000000000000001_0000000000000000");
    cr_assert_str_eq(body(&e.res), want);
    http_release(&e);
}

Test(http, sse_on_a_binary_stream_uses_base64) {
    http_env e;
    http_init(&e);
    send_req(&e, "PUT", "/v1/stream/b", "Hello", H("Content-Type: application/octet-stream"));
    ss_http_request req = {.method = S("GET"), .path = S("/v1/stream/b"), .query = S("offset=-1&live=sse")};
    ss_http_response_release(&e.res);
    ss_handler_handle(e.h, &req, &e.res);
    cr_assert_eq(e.res.kind, SS_HTTP_STREAM);
    cr_assert_str_eq(hdr(&e.res, "Stream-SSE-Data-Encoding"), "base64");
    cr_assert(strstr(body(&e.res), "event: data\ndata:SGVsbG8=\n\n") != NULL, "%s", body(&e.res));
    ss_http_live_free(e.res.live);
    e.res.live = NULL;
    http_release(&e);
}

Test(http, options_preflight_allows_the_protocol_headers) {
    http_env e;
    http_init(&e);
    ss_http_response *r = send_req(&e, "OPTIONS", "/v1/stream/a", NULL, NULL);
    cr_assert_eq(r->status, 204);
    cr_assert(strstr(hdr(r, "Access-Control-Allow-Headers"), "If-None-Match") != NULL);
    cr_assert(strstr(hdr(r, "Access-Control-Allow-Headers"), "Stream-Expected-Offset") != NULL);
    http_release(&e);
}
