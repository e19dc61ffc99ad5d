/* Tests against the real `streamsy` binary on a loopback port: transport
 * limits, bad input, live reads across connections, and concurrent CAS
 * writers over HTTP. Each test starts its own server. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json_scan.h"
#include "http_client.h"

static test_server srv;

static void start(void) {
    cr_assert(test_server_start(&srv, NULL), "server did not start (log %s)", srv.log_path);
}
static void stop(void) { cr_assert(test_server_stop(&srv), "server did not exit cleanly (log %s)", srv.log_path); }

static test_response req(const char *method, const char *target, const char *headers, const char *body) {
    test_response r;
    cr_assert(test_http(srv.port, method, target, headers, body, body ? strlen(body) : 0, &r),
              "%s %s: no response", method, target);
    return r;
}

TestSuite(server, .init = start, .fini = stop, .timeout = 60);

Test(server, a_body_over_the_limit_gets_413_and_the_server_keeps_serving) {
    test_response r = req("PUT", "/v1/stream/big", "Content-Type: application/octet-stream\r\n", NULL);
    cr_assert_eq(r.status, 201);
    test_response_free(&r);
    size_t n = 80u << 20; /* above the default 64 MiB limit */
    char *body = malloc(n);
    memset(body, 'x', n);
    cr_assert(
        test_http(srv.port, "POST", "/v1/stream/big", "Content-Type: application/octet-stream\r\n", body, n, &r));
    free(body);
    cr_assert_eq(r.status, 413);
    test_response_free(&r);
    r = req("HEAD", "/v1/stream/big", NULL, NULL);
    cr_assert_eq(r.status, 200);
    char off[64];
    cr_assert(test_header(&r, "Stream-Next-Offset", off, sizeof off));
    cr_assert_str_eq(off, "0000000000000000_0000000000000000", "nothing was appended");
    test_response_free(&r);
}

Test(server, too_many_headers_get_a_4xx_not_a_crash) {
    size_t cap = 200 * 32 + 256;
    char *raw = malloc(cap);
    size_t n = (size_t)snprintf(raw, cap, "GET /v1/stream/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n");
    for (int i = 0; i < 150; i++)
        n += (size_t)snprintf(raw + n, cap - n, "X-H%d: v\r\n", i);
    n += (size_t)snprintf(raw + n, cap - n, "\r\n");
    test_response r;
    bool answered = test_http_raw(srv.port, raw, n, &r);
    free(raw);
    if (answered) { /* h2o may also just close the connection on an oversized head */
        cr_assert(r.status >= 400 && r.status < 500, "got %d", r.status);
        test_response_free(&r);
    }
    r = req("PUT", "/v1/stream/after", NULL, NULL);
    cr_assert_eq(r.status, 201, "the server still serves");
    test_response_free(&r);
}

Test(server, unknown_methods_and_garbage_requests_are_rejected_cleanly) {
    test_response r = req("PATCH", "/v1/stream/a", NULL, NULL);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(r.body, "Method not allowed");
    test_response_free(&r);
    const char garbage[] = "\x01\x02\x03 not http at all\r\n\r\n";
    if (test_http_raw(srv.port, garbage, sizeof garbage - 1, &r)) {
        cr_assert_eq(r.status, 400);
        test_response_free(&r);
    }
    r = req("GET", "/v1/stream/a?offset=%00", NULL, NULL);
    cr_assert_eq(r.status, 404, "existence is checked before offset syntax");
    test_response_free(&r);
    r = req("PUT", "/v1/stream/a", "Content-Type: text/plain\r\n", NULL);
    test_response_free(&r);
    const char *bad_offsets[] = {"%00", "0%2C1", "..%2F", "%0D%0A", "abc", "1_0"};
    for (size_t i = 0; i < sizeof bad_offsets / sizeof *bad_offsets; i++) {
        char target[128];
        snprintf(target, sizeof target, "/v1/stream/a?offset=%s", bad_offsets[i]);
        r = req("GET", target, NULL, NULL);
        cr_assert_eq(r.status, 400, "offset %s", bad_offsets[i]);
        cr_assert_str_eq(r.body, "Invalid offset format");
        test_response_free(&r);
    }
}

/* A long-poll parked on one connection is answered by an append made on
 * another connection. */
static void *append_later(void *arg) {
    (void)arg;
    usleep(100000);
    test_response r;
    test_http(srv.port, "POST", "/v1/stream/lp", "Content-Type: text/plain\r\n", "woken", 5, &r);
    test_response_free(&r);
    return NULL;
}

Test(server, a_long_poll_is_woken_by_an_append_from_another_connection) {
    test_response r = req("PUT", "/v1/stream/lp", "Content-Type: text/plain\r\n", NULL);
    test_response_free(&r);
    pthread_t t;
    pthread_create(&t, NULL, append_later, NULL);
    r = req("GET", "/v1/stream/lp?offset=now&live=long-poll", NULL, NULL);
    pthread_join(t, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "woken");
    char cursor[32];
    cr_assert(test_header(&r, "Stream-Cursor", cursor, sizeof cursor));
    test_response_free(&r);
}

Test(server, sse_delivers_appends_and_ends_after_close) {
    test_response r = req("PUT", "/v1/stream/sse", "Content-Type: application/json\r\n", "[{\"n\":1}]");
    test_response_free(&r);
    r = req("POST", "/v1/stream/sse", "Content-Type: application/json\r\nStream-Closed: true\r\n", "{\"n\":2}");
    cr_assert_eq(r.status, 204);
    test_response_free(&r);
    r = req("GET", "/v1/stream/sse?offset=-1&live=sse", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "event: data\ndata:[{\"n\":1},{\"n\":2}]\n\n") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, "\"streamClosed\":true") != NULL, "%s", r.body);
    test_response_free(&r);
}

/* ---- concurrent CAS writers -------------------------------------------------- */

enum { CAS_WRITERS = 6, CAS_INCREMENTS = 15 };

typedef struct cas_writer {
    int conflicts;
    int failures;
} cas_writer;

/* Materialize (count the JSON messages), validate (the next value is
 * count+1), append with Stream-Expected-Offset, retry on 409. */
static void *cas_loop(void *arg) {
    cas_writer *w = arg;
    for (int done = 0; done < CAS_INCREMENTS;) {
        test_response r;
        if (!test_http(srv.port, "GET", "/v1/stream/counter?offset=-1", NULL, NULL, 0, &r) || r.status != 200) {
            w->failures++;
            test_response_free(&r);
            continue;
        }
        char tail[64];
        test_header(&r, "Stream-Next-Offset", tail, sizeof tail);
        ss_arena a;
        ss_arena_init(&a);
        ss_slice *items;
        size_t count;
        bool is_array;
        if (ss_json_split(ss_slice_of(r.body, r.body_len), 0, &a, &items, &count, &is_array, NULL) != SS_OK)
            w->failures++;
        ss_arena_release(&a);
        test_response_free(&r);
        char headers[160], body[32];
        snprintf(headers, sizeof headers, "Content-Type: application/json\r\nStream-Expected-Offset: %s\r\n",
                 tail);
        snprintf(body, sizeof body, "%zu", count + 1);
        if (!test_http(srv.port, "POST", "/v1/stream/counter", headers, body, strlen(body), &r)) {
            w->failures++;
            continue;
        }
        if (r.status == 204)
            done++;
        else if (r.status == 409 && strcmp(r.body, "Expected offset mismatch") == 0)
            w->conflicts++;
        else
            w->failures++;
        test_response_free(&r);
    }
    return NULL;
}

Test(server, concurrent_cas_writers_over_http_lose_no_update) {
    test_response r = req("PUT", "/v1/stream/counter", "Content-Type: application/json\r\n", NULL);
    cr_assert_eq(r.status, 201);
    test_response_free(&r);
    pthread_t t[CAS_WRITERS];
    cas_writer w[CAS_WRITERS] = {0};
    for (int i = 0; i < CAS_WRITERS; i++)
        pthread_create(&t[i], NULL, cas_loop, &w[i]);
    int conflicts = 0;
    for (int i = 0; i < CAS_WRITERS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].failures, 0, "writer %d saw unexpected answers", i);
        conflicts += w[i].conflicts;
    }
    r = req("GET", "/v1/stream/counter?offset=-1", NULL, NULL);
    ss_arena a;
    ss_arena_init(&a);
    ss_slice *items;
    size_t count;
    bool is_array;
    cr_assert_eq(ss_json_split(ss_slice_of(r.body, r.body_len), 0, &a, &items, &count, &is_array, NULL), SS_OK);
    cr_assert_eq(count, (size_t)(CAS_WRITERS * CAS_INCREMENTS));
    for (size_t i = 0; i < count; i++) {
        char want[32];
        snprintf(want, sizeof want, "%zu", i + 1);
        cr_assert(ss_slice_eq_cstr(items[i], want), "message %zu must hold %s", i, want);
    }
    ss_arena_release(&a);
    test_response_free(&r);
    cr_log_info("%d CAS conflicts retried across %d writers", conflicts, CAS_WRITERS);
}

/* Clients that go away while parked (long-poll) or streaming (SSE) must not
 * leave anything behind: the server keeps serving and, under the sanitizer
 * build, exits leak-free (checked by stop() in the suite's fini). */
Test(server, clients_that_disconnect_while_parked_or_streaming_are_cleaned_up) {
    test_response r = req("PUT", "/v1/stream/gone", "Content-Type: text/plain\r\n", NULL);
    test_response_free(&r);
    const char *targets[] = {"/v1/stream/gone?offset=now&live=long-poll", "/v1/stream/gone?offset=-1&live=sse"};
    for (int round = 0; round < 20; round++) {
        const char *t = targets[round % 2];
        char raw[256];
        int n = snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", t);
        /* send, wait a moment so the request is parked, hang up */
        cr_assert(test_http_raw_hangup(srv.port, raw, (size_t)n, 20));
    }
    usleep(200000);
    r = req("POST", "/v1/stream/gone", "Content-Type: text/plain\r\n", "after");
    cr_assert_eq(r.status, 204, "appends still work and wake nobody stale");
    test_response_free(&r);
    r = req("GET", "/v1/stream/gone?offset=-1", NULL, NULL);
    cr_assert_str_eq(r.body, "after");
    test_response_free(&r);
}
