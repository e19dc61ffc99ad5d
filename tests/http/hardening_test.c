/* Hardening regressions against the real server (issue 9): each case is a
 * defect found by trying the server as a hostile client would, and failed
 * before its fix. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"

static test_server srv;

static void start(void) { cr_assert(test_server_start(&srv, NULL), "server started"); }
static void stop(void) { cr_assert(test_server_stop(&srv), "server exited 0 on SIGTERM"); }

TestSuite(hardening, .init = start, .fini = stop, .timeout = 120);

static int status_of(const char *method, const char *target, const char *headers, const char *body) {
    test_response r;
    cr_assert(test_http(srv.port, method, target, headers, body, body ? strlen(body) : 0, &r));
    int status = r.status;
    test_response_free(&r);
    return status;
}

static char *body_of(const char *target) {
    test_response r;
    cr_assert(test_http(srv.port, "GET", target, NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 200);
    return r.body; /* the caller frees */
}

/* ---- 2. request smuggling (RFC 9112 §6.3) ---------------------------------------------------------- */

Test(hardening, two_different_content_lengths_get_400_and_the_smuggled_request_never_runs) {
    cr_assert_eq(status_of("PUT", "/v1/stream/s", "Content-Type: text/plain\r\n", NULL), 201);
    const char raw[] = "POST /v1/stream/s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 5\r\nContent-Length: 48\r\n\r\n"
                       "helloDELETE /v1/stream/s HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[4096];
    bool closed;
    cr_assert(test_http_raw_all(srv.port, raw, sizeof raw - 1, 2000, out, sizeof out, &closed));
    cr_assert_eq(test_count_responses(out), 1, "one answer, not two: %s", out);
    cr_assert(strncmp(out, "HTTP/1.1 400", 12) == 0, "%s", out);
    cr_assert(closed, "the connection is closed after the 400");
    cr_assert_eq(status_of("HEAD", "/v1/stream/s", NULL, NULL), 200, "the DELETE never ran");
}

Test(hardening, content_length_with_transfer_encoding_gets_400_and_the_connection_closes) {
    cr_assert_eq(status_of("PUT", "/v1/stream/t", "Content-Type: text/plain\r\n", NULL), 201);
    const char raw[] = "POST /v1/stream/t HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                       "DELETE /v1/stream/t HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[4096];
    bool closed;
    cr_assert(test_http_raw_all(srv.port, raw, sizeof raw - 1, 2000, out, sizeof out, &closed));
    cr_assert_eq(test_count_responses(out), 1, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 400", 12) == 0, "%s", out);
    cr_assert(closed);
    cr_assert_eq(status_of("HEAD", "/v1/stream/t", NULL, NULL), 200, "nothing after it ran");
    char *b = body_of("/v1/stream/t?offset=-1");
    cr_assert_str_eq(b, "", "nothing was appended");
    free(b);
}

Test(hardening, repeated_identical_content_lengths_and_pipelining_still_work) {
    cr_assert_eq(status_of("PUT", "/v1/stream/p", "Content-Type: text/plain\r\n", NULL), 201);
    const char raw[] = "POST /v1/stream/p HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 2\r\nContent-Length: 2\r\n\r\nab"
                       "POST /v1/stream/p HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n2\r\ncd\r\n0\r\n\r\n"
                       "GET /v1/stream/p?offset=-1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char out[8192];
    bool closed;
    cr_assert(test_http_raw_all(srv.port, raw, sizeof raw - 1, 2000, out, sizeof out, &closed));
    cr_assert_eq(test_count_responses(out), 3, "%s", out);
    cr_assert(strstr(out, "\r\n\r\nabcd") != NULL, "both appends landed: %s", out);
}

/* ---- 9. conflicting duplicate protocol headers --------------------------------------------------- */

Test(hardening, conflicting_duplicate_protocol_headers_get_400_and_write_nothing) {
    cr_assert_eq(status_of("PUT", "/v1/stream/d", "Content-Type: text/plain\r\n", NULL), 201);
    static const char *const dups[] = {
        "Content-Type: text/plain\r\nContent-Type: application/json\r\n",
        "Content-Type: text/plain\r\nProducer-Id: p\r\nProducer-Epoch: 0\r\nProducer-Epoch: 1\r\nProducer-Seq: "
        "0\r\n",
        "Content-Type: text/plain\r\nProducer-Id: p\r\nProducer-Epoch: 0\r\nProducer-Seq: 0\r\nProducer-Seq: "
        "5\r\n",
        "Content-Type: text/plain\r\nStream-Expected-Offset: 0000000000000000_0000000000000000\r\n"
        "Stream-Expected-Offset: 0000000000000001_0000000000000000\r\n",
        "Content-Type: text/plain\r\nStream-Seq: a\r\nStream-Seq: b\r\n",
    };
    for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
        test_response r;
        cr_assert(test_http(srv.port, "POST", "/v1/stream/d", dups[i], "x", 1, &r));
        cr_assert_eq(r.status, 400, "case %zu: %d", i, r.status);
        cr_assert(strstr(r.body, "Conflicting") != NULL, "case %zu: %s", i, r.body);
        test_response_free(&r);
    }
    char *b = body_of("/v1/stream/d?offset=-1");
    cr_assert_str_eq(b, "", "nothing was written");
    free(b);
    cr_assert_eq(
        status_of("POST", "/v1/stream/d", "Content-Type: text/plain\r\nContent-Type: text/plain\r\n", "y"), 204,
        "identical repeats are harmless");
}

/* ---- 8. Location, Host and one canonical stream id ------------------------------------------------ */

static void location_of(const char *target, const char *headers, char *out, size_t cap) {
    test_response r;
    cr_assert(test_http(srv.port, "PUT", target, headers, NULL, 0, &r));
    cr_assert_eq(r.status, 201, "%s: %d %s", target, r.status, r.body);
    cr_assert(test_header(&r, "Location", out, cap), "%s has a Location", target);
    test_response_free(&r);
}

Test(hardening, forwarding_headers_are_ignored_unless_trusted) {
    char loc[2048];
    location_of("/v1/stream/f1", "X-Forwarded-Proto: javascript\r\nX-Forwarded-Host: evil.example\r\n", loc,
                sizeof loc);
    char want[256];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/v1/stream/f1", srv.port);
    cr_assert_str_eq(loc, want);
}

Test(hardening, a_malformed_or_oversized_host_gets_400) {
    char host[5200];
    memset(host, 'h', 5000);
    memcpy(host + 5000, "\r\n", 3);
    static const char *const bad[] = {"a b", "evil.example/x", "[::1", "x:99999999", "a@b"};
    char raw[6000];
    test_response r;
    int n = snprintf(raw, sizeof raw, "PUT /v1/stream/h HTTP/1.1\r\nHost: %sConnection: close\r\n\r\n", host);
    cr_assert(test_http_raw(srv.port, raw, (size_t)n, &r));
    cr_assert_eq(r.status, 400, "a 5,000-byte Host: %d", r.status);
    cr_assert(strstr(r.body, "Invalid Host") != NULL, "%s", r.body);
    test_response_free(&r);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = snprintf(raw, sizeof raw, "PUT /v1/stream/h HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     bad[i]);
        cr_assert(test_http_raw(srv.port, raw, (size_t)n, &r));
        cr_assert_eq(r.status, 400, "Host '%s': %d", bad[i], r.status);
        test_response_free(&r);
    }
    cr_assert_eq(status_of("HEAD", "/v1/stream/h", NULL, NULL), 404, "nothing was created");
}

Test(hardening, percent_encoded_spellings_name_one_stream) {
    cr_assert_eq(status_of("PUT", "/v1/stream/a%2Fb", "Content-Type: text/plain\r\n", NULL), 201);
    cr_assert_eq(status_of("PUT", "/v1/stream/a/b", "Content-Type: text/plain\r\n", NULL), 200, "the same stream");
    cr_assert_eq(status_of("POST", "/v1/stream/a%2fb", "Content-Type: text/plain\r\n", "x"), 204);
    char *b = body_of("/v1/stream/a/b?offset=-1");
    cr_assert_str_eq(b, "x");
    free(b);
    cr_assert_eq(status_of("PUT", "/v1/stream/caf%C3%A9", "Content-Type: text/plain\r\n", NULL), 201);
    cr_assert_eq(status_of("HEAD", "/v1/stream/caf\xC3\xA9", NULL, NULL), 200, "UTF-8 raw or encoded: one");
}

Test(hardening, the_reserved_prefix_and_bad_encodings_cannot_be_reached_by_escaping) {
    cr_assert_eq(status_of("PUT", "/v1/stream/%5F%5Fds/x", "Content-Type: text/plain\r\n", NULL), 404);
    cr_assert_eq(status_of("PUT", "/v1/stream/__ds", "Content-Type: text/plain\r\n", NULL), 404);
    static const char *const invalid[] = {"/v1/stream/a%00b",      "/v1/stream/a%FFb", "/v1/stream/a%C0%AFb",
                                          "/v1/stream/%ED%A0%80",  "/v1/stream/a%2",   "/v1/stream/a%zz",
                                          "/v1/stream/x/%2E%2E/y", "/v1/stream/x\xFF"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        cr_assert_eq(status_of("PUT", invalid[i], "Content-Type: text/plain\r\n", NULL), 400, "%s", invalid[i]);
}

Test(hardening, a_trusted_proxy_sets_location_with_well_formed_forwarding_headers_only) {
    test_server proxied = {0};
    cr_assert(test_server_start(&proxied, "--trust-proxy"));
    test_response r;
    char loc[2048];
    cr_assert(test_http(proxied.port, "PUT", "/v1/stream/p1",
                        "X-Forwarded-Proto: https\r\nX-Forwarded-Host: streams.example:8443\r\n", NULL, 0, &r));
    cr_assert_eq(r.status, 201);
    cr_assert(test_header(&r, "Location", loc, sizeof loc));
    cr_assert_str_eq(loc, "https://streams.example:8443/v1/stream/p1");
    test_response_free(&r);
    cr_assert(test_http(proxied.port, "PUT", "/v1/stream/p2",
                        "X-Forwarded-Proto: javascript\r\nX-Forwarded-Host: evil/x\r\n", NULL, 0, &r));
    cr_assert_eq(r.status, 201);
    cr_assert(test_header(&r, "Location", loc, sizeof loc));
    char want[256];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/v1/stream/p2", proxied.port);
    cr_assert_str_eq(loc, want, "malformed forwarding headers are ignored");
    test_response_free(&r);
    cr_assert(test_server_stop(&proxied));
}

/* ---- 5. bounded producer state ------------------------------------------------------------------ */

Test(hardening, a_long_producer_id_gets_400) {
    cr_assert_eq(status_of("PUT", "/v1/stream/pl", "Content-Type: text/plain\r\n", NULL), 201);
    char headers[1024], id[300];
    memset(id, 'p', 257);
    id[257] = '\0';
    snprintf(headers, sizeof headers,
             "Content-Type: text/plain\r\nProducer-Id: %s\r\nProducer-Epoch: 0\r\n"
             "Producer-Seq: 0\r\n",
             id);
    test_response r;
    cr_assert(test_http(srv.port, "POST", "/v1/stream/pl", headers, "x", 1, &r));
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "Producer-Id too long") != NULL, "%s", r.body);
    test_response_free(&r);
    id[256] = '\0'; /* 256 bytes is fine */
    snprintf(headers, sizeof headers,
             "Content-Type: text/plain\r\nProducer-Id: %s\r\nProducer-Epoch: 0\r\n"
             "Producer-Seq: 0\r\n",
             id);
    cr_assert_eq(status_of("POST", "/v1/stream/pl", headers, "x"), 200);
}

Test(hardening, producers_per_stream_are_bounded_and_the_ones_that_exist_carry_on) {
    cr_assert_eq(status_of("PUT", "/v1/stream/pn", "Content-Type: text/plain\r\n", NULL), 201);
    char headers[256];
    for (int i = 0; i < 4096; i++) {
        snprintf(headers, sizeof headers,
                 "Content-Type: text/plain\r\nProducer-Id: p%d\r\nProducer-Epoch: 0\r\nProducer-Seq: 0\r\n", i);
        int st = status_of("POST", "/v1/stream/pn", headers, "x");
        cr_assert_eq(st, 200, "producer %d: %d", i, st);
    }
    snprintf(headers, sizeof headers,
             "Content-Type: text/plain\r\nProducer-Id: one-too-many\r\nProducer-Epoch: 0\r\nProducer-Seq: 0\r\n");
    cr_assert_eq(status_of("POST", "/v1/stream/pn", headers, "x"), 429);
    snprintf(headers, sizeof headers,
             "Content-Type: text/plain\r\nProducer-Id: p7\r\nProducer-Epoch: 0\r\nProducer-Seq: 1\r\n");
    cr_assert_eq(status_of("POST", "/v1/stream/pn", headers, "y"), 200, "an existing producer carries on");
    cr_assert_eq(status_of("POST", "/v1/stream/pn", headers, "y"), 204, "and stays exactly-once");
}

/* ---- 3. messages per append ------------------------------------------------------------------------ */

/* "[0,0,...]" with n elements; the caller frees. */
static char *json_array_of_zeros(size_t n) {
    char *s = malloc(2 * n + 2);
    cr_assert(s);
    s[0] = '[';
    for (size_t i = 0; i < n; i++) {
        s[1 + 2 * i] = '0';
        s[2 + 2 * i] = ',';
    }
    s[2 * n] = ']';
    s[2 * n + 1] = '\0';
    return s;
}

Test(hardening, a_json_array_with_too_many_elements_gets_413_and_writes_nothing) {
    const char *json = "Content-Type: application/json\r\n";
    cr_assert_eq(status_of("PUT", "/v1/stream/many", json, NULL), 201);
    char *over = json_array_of_zeros(100001);
    test_response r;
    cr_assert(test_http(srv.port, "POST", "/v1/stream/many", json, over, strlen(over), &r));
    cr_assert_eq(r.status, 413, "%d %s", r.status, r.body);
    test_response_free(&r);
    cr_assert_eq(status_of("PUT", "/v1/stream/many-initial", json, over), 413, "the same cap on initial data");
    cr_assert_eq(status_of("HEAD", "/v1/stream/many-initial", NULL, NULL), 404, "and nothing created");
    free(over);
    char *b = body_of("/v1/stream/many?offset=-1");
    cr_assert_str_eq(b, "[]", "nothing was appended");
    free(b);

    char *at_limit = json_array_of_zeros(100000);
    cr_assert(test_http(srv.port, "POST", "/v1/stream/many", json, at_limit, strlen(at_limit), &r));
    cr_assert_eq(r.status, 204, "the limit itself is allowed: %d %s", r.status, r.body);
    test_response_free(&r);
    free(at_limit);
}
