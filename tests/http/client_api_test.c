/* The client library (streamsy/client.h) against the real server, and
 * against a capturing listener for what it sends: per-call and dynamic
 * headers and parameters, the batching producer (JSON and bytes, by items,
 * bytes and linger), results for refused calls and for no server. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "streamsy/alloc.h"
#include "streamsy/client.h"

static test_server srv;
static ss_client *c;
static ss_client_result r;
static char base[128];

static void setup(void) {
    cr_assert(test_server_start(&srv, NULL));
    snprintf(base, sizeof base, "http://127.0.0.1:%d/v1/stream", srv.port);
    cr_assert_eq(ss_client_new(NULL, &c), SS_OK);
    ss_client_result_init(&r);
}

static void teardown(void) {
    ss_client_result_release(&r);
    ss_client_free(c);
    cr_assert(test_server_stop(&srv));
}

static const char *url(const char *name) {
    static char u[256];
    snprintf(u, sizeof u, "%s/%s", base, name);
    return u;
}

/* The whole stream as text. */
static const char *content(const char *name) {
    static char text[4096];
    cr_assert_eq(ss_client_read(c, url(name), "-1", &r), SS_OK);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.message);
    cr_assert_lt(r.body.len, sizeof text);
    memcpy(text, r.body.p ? r.body.p : "", r.body.len);
    text[r.body.len] = '\0';
    return text;
}

TestSuite(client_api, .init = setup, .fini = teardown);

Test(client_api, refusals_carry_the_status_and_the_servers_message) {
    cr_assert_eq(ss_client_head(c, url("none"), &r), SS_OK, "a response arrived");
    cr_assert_eq(r.status, 404);
    cr_assert(strstr(r.message, "none") != NULL, "the message names the stream: %s", r.message);
    cr_assert_eq(ss_client_create(c, url("s"), &(ss_client_create_options){.content_type = "text/plain"}, &r),
                 SS_OK);
    cr_assert_eq(r.status, 201);
    cr_assert_eq(
        ss_client_append(c, url("s"),
                         &(ss_client_append_options){.data = ss_slice_cstr("x"),
                                                     .expected_offset = "0000000000000009_0000000000000000"},
                         &r),
        SS_OK);
    cr_assert_eq(r.status, 409);
    cr_assert(r.message[0], "the server's text");
    cr_assert_eq(ss_client_append(c, url("s"), &(ss_client_append_options){.content_type = "text/plain"}, &r),
                 SS_OK);
    cr_assert_eq(r.status, 400, "an empty append is the server's to refuse");
    cr_assert_eq(ss_client_head(c, "ftp://x", &r), SS_BADARG);
    ss_client *nobody;
    cr_assert_eq(ss_client_new(&(ss_client_options){.timeout_ms = 2000}, &nobody), SS_OK);
    cr_assert_eq(ss_client_head(nobody, "http://127.0.0.1:1/x", &r), SS_IOERR);
    cr_assert_eq(r.status, 0);
    cr_assert(r.message[0], "why there was no answer");
    ss_client_free(nobody);
}

Test(client_api, a_json_batcher_sends_one_array_per_batch_and_each_batch_once) {
    cr_assert_eq(
        ss_client_create(c, url("j"), &(ss_client_create_options){.content_type = "application/json"}, &r), SS_OK);
    ss_client_producer p = {.id = "batch-1", .epoch = 0};
    ss_client_batcher *b;
    cr_assert_eq(
        ss_client_batcher_new(c, url("j"), &p,
                              &(ss_client_batch_options){.max_items = 4, .linger_ms = 60000, .json = true}, &b),
        SS_OK);
    int sends = 0;
    for (int i = 1; i <= 10; i++) {
        char item[32];
        snprintf(item, sizeof item, "{\"n\":%d}", i);
        bool sent;
        cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr(item), &r, &sent), SS_OK);
        if (sent) {
            cr_assert_eq(r.status, 200, "%ld %s", r.status, r.message);
            sends++;
        }
    }
    cr_assert_eq(sends, 2, "full batches of 4 went at once");
    bool sent;
    cr_assert_eq(ss_client_batcher_flush(b, &r, &sent), SS_OK);
    cr_assert(sent);
    cr_assert_eq(ss_client_batcher_flush(b, &r, &sent), SS_OK);
    cr_assert_not(sent, "nothing waits");
    cr_assert_eq(p.seq, 3, "one producer seq per batch");
    ss_client_batcher_free(b);
    cr_assert_str_eq(content("j"),
                     "[{\"n\":1},{\"n\":2},{\"n\":3},{\"n\":4},{\"n\":5},{\"n\":6},{\"n\":7},{\"n\":8},"
                     "{\"n\":9},{\"n\":10}]");
    /* The same batches again (a program run twice with the same epoch): nothing lands twice. */
    ss_client_producer again = {.id = "batch-1", .epoch = 0};
    cr_assert_eq(
        ss_client_batcher_new(c, url("j"), &again, &(ss_client_batch_options){.max_items = 4, .json = true}, &b),
        SS_OK);
    cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr("{\"n\":1}"), &r, &sent), SS_OK);
    cr_assert(sent && r.duplicate, "linger 0 sends at once; seq 0 is a repeat");
    ss_client_batcher_free(b);
    cr_assert(strstr(content("j"), "{\"n\":10}]") != NULL);
}

Test(client_api, a_byte_batcher_cuts_by_bytes_and_by_linger) {
    cr_assert_eq(ss_client_create(c, url("b"), &(ss_client_create_options){.content_type = "text/plain"}, &r),
                 SS_OK);
    ss_client_producer p = {.id = "bytes", .epoch = 3};
    ss_client_batcher *b;
    cr_assert_eq(
        ss_client_batcher_new(c, url("b"), &p, &(ss_client_batch_options){.max_bytes = 10, .linger_ms = 100}, &b),
        SS_OK);
    bool sent;
    cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr("abcd"), &r, &sent), SS_OK);
    cr_assert_not(sent);
    cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr("efgh"), &r, &sent), SS_OK);
    cr_assert_not(sent, "8 bytes wait");
    cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr("ijkl"), &r, &sent), SS_OK);
    cr_assert(sent, "12 > 10: the waiting 8 went first");
    cr_assert_eq(p.seq, 1);
    usleep(150 * 1000);
    cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr("m"), &r, &sent), SS_OK);
    cr_assert(sent, "the waiting item was older than linger");
    cr_assert_eq(ss_client_batcher_flush(b, &r, &sent), SS_OK);
    cr_assert(sent);
    cr_assert_eq(p.seq, 3);
    ss_client_batcher_free(b);
    cr_assert_str_eq(content("b"), "abcdefghijklm");
}

/* ---- what the client sends: a listener that records one request head ---------------- */

typedef struct capture {
    int fd;
    char head[8192];
} capture;

static void *capture_one(void *arg) {
    capture *cap = arg;
    int conn = accept(cap->fd, NULL, NULL);
    size_t len = 0;
    ssize_t n;
    while (len < sizeof cap->head - 1 && (n = read(conn, cap->head + len, sizeof cap->head - 1 - len)) > 0) {
        len += (size_t)n;
        cap->head[len] = '\0';
        if (strstr(cap->head, "\r\n\r\n"))
            break;
    }
    static const char answer[] = "HTTP/1.1 200 OK\r\nStream-Next-Offset: 0000000000000000_0000000000000001\r\n"
                                 "Content-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!write(conn, answer, sizeof answer - 1);
    close(conn);
    return NULL;
}

static int listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void dynamic_values(void *ctx, ss_client_dynamic *d) {
    int *counter = ctx;
    char v[16];
    snprintf(v, sizeof v, "%d", ++*counter);
    ss_client_dynamic_header(d, "X-Request-Number", v);
    ss_client_dynamic_param(d, "request_id", v);
    ss_client_dynamic_param(d, "who", "a b&c");
}

Test(client_api, static_per_call_and_dynamic_headers_and_parameters_are_sent) {
    int counter = 0, port;
    ss_client *dc;
    const char *always[] = {"Authorization: Bearer t0k", NULL};
    cr_assert_eq(
        ss_client_new(&(ss_client_options){.headers = always, .dynamic = dynamic_values, .dynamic_ctx = &counter},
                      &dc),
        SS_OK);
    const char *call[] = {"X-Trace: 7", NULL};
    cr_assert_eq(ss_client_set_headers(dc, call), SS_OK);
    cr_assert_eq(ss_client_set_headers(dc, (const char *[]){"no colon", NULL}), SS_BADARG);
    for (int round = 1; round <= 2; round++) {
        capture cap = {.fd = listener(&port)};
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, capture_one, &cap), 0);
        char u[128];
        snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/stream/x?offset=-1", port);
        cr_assert_eq(ss_client_head(dc, u, &r), SS_OK);
        pthread_join(th, NULL);
        close(cap.fd);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.next_offset, "0000000000000000_0000000000000001");
        char want[64];
        snprintf(want, sizeof want, "X-Request-Number: %d\r\n", round);
        cr_assert(strstr(cap.head, want) != NULL, "a fresh dynamic value per request:\n%s", cap.head);
        snprintf(want, sizeof want, "?offset=-1&request_id=%d&who=a%%20b%%26c HTTP/1.1", round);
        cr_assert(strstr(cap.head, want) != NULL, "dynamic parameters, escaped:\n%s", cap.head);
        cr_assert(strstr(cap.head, "Authorization: Bearer t0k\r\n") && strstr(cap.head, "X-Trace: 7\r\n"),
                  "the options' and the per-call headers:\n%s", cap.head);
    }
    ss_client_free(dc);
}

/* ---- a server whose appends land but whose answers are 503 until told otherwise ------------ */

typedef struct flaky {
    int fd;
    int answer; /* the status POSTs get */
    char bodies[16][64];
    int n; /* POSTs seen */
    volatile bool stop;
} flaky;

static void *flaky_serve(void *arg) {
    flaky *f = arg;
    while (!f->stop) {
        int conn = accept(f->fd, NULL, NULL);
        if (conn < 0)
            break;
        char req[4096];
        size_t len = 0;
        ssize_t k;
        char *body = NULL;
        long want = -1;
        while (len < sizeof req - 1 && (k = read(conn, req + len, sizeof req - 1 - len)) > 0) {
            len += (size_t)k;
            req[len] = '\0';
            char *end = strstr(req, "\r\n\r\n");
            if (end && want < 0) {
                char *cl = strcasestr(req, "Content-Length:");
                want = cl ? strtol(cl + 15, NULL, 10) : 0;
                body = end + 4;
            }
            if (body && (long)(len - (size_t)(body - req)) >= want)
                break;
        }
        if (strncmp(req, "POST", 4) == 0 && f->n < 16 && body)
            snprintf(f->bodies[f->n++], sizeof f->bodies[0], "%.*s", (int)want, body);
        char answer[256];
        snprintf(answer, sizeof answer,
                 "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nStream-Next-Offset: 1\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n",
                 f->answer);
        (void)!write(conn, answer, strlen(answer));
        close(conn);
    }
    return NULL;
}

Test(client_api, an_unanswered_batch_is_frozen_and_resent_unchanged_never_grown) {
    int port;
    flaky f = {.fd = listener(&port), .answer = 503};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, flaky_serve, &f), 0);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/stream/f", port);
    ss_client_producer p = {.id = "frozen", .epoch = 0};
    ss_client_batcher *b;
    cr_assert_eq(ss_client_batcher_new(
                     c, u, &p, &(ss_client_batch_options){.content_type = "text/plain", .max_retries = 1}, &b),
                 SS_OK);
    bool sent;
    cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr("A"), &r, &sent), SS_OK);
    cr_assert_not(sent);
    cr_assert_eq(r.status, 503, "the last answer is there");
    cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr("B"), &r, &sent), SS_BUSY,
                 "B is not taken while A is frozen");
    f.answer = 204; /* A had landed: the repeat is a duplicate */
    cr_assert_eq(ss_client_batcher_add(b, ss_slice_cstr("B"), &r, &sent), SS_OK);
    cr_assert(sent && r.status == 204);
    cr_assert_eq(p.seq, 1, "A's seq, once");
    f.answer = 200;
    cr_assert_eq(ss_client_batcher_flush(b, &r, &sent), SS_OK);
    cr_assert(sent);
    cr_assert_eq(p.seq, 2);
    ss_client_batcher_free(b);
    f.stop = true;
    shutdown(f.fd, SHUT_RDWR);
    close(f.fd);
    pthread_join(th, NULL);
    cr_assert_geq(f.n, 5);
    for (int i = 0; i < f.n - 1; i++)
        cr_assert_str_eq(f.bodies[i], "A", "request %d sent A unchanged (got '%s')", i, f.bodies[i]);
    cr_assert_str_eq(f.bodies[f.n - 1], "B", "then B alone");
}

/* An allocator that fails after `left` more allocations. */
static int left_allocations;
static void *failing_malloc(void *ctx, size_t n) {
    (void)ctx;
    return left_allocations-- > 0 ? malloc(n) : NULL;
}
static void *failing_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    return left_allocations-- > 0 ? realloc(p, n) : NULL;
}
static void plain_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

Test(client_api, a_watch_that_cannot_be_set_up_fails_cleanly_at_every_allocation) {
    for (int fail_at = 0; fail_at < 8; fail_at++) {
        left_allocations = fail_at;
        ss_set_allocator(&(ss_allocator){failing_malloc, failing_realloc, plain_free, NULL});
        ss_client_watch *w = NULL;
        ss_rc rc = ss_client_watch_new(NULL, url("x"), NULL, NULL, NULL, &w);
        ss_set_allocator(NULL);
        cr_assert_eq(rc, SS_BADARG, "no callback: refused before any allocation");
        left_allocations = fail_at;
        ss_set_allocator(&(ss_allocator){failing_malloc, failing_realloc, plain_free, NULL});
        rc = ss_client_watch_new(NULL, url("x"), NULL, (ss_client_tail_fn)1, NULL, &w);
        ss_set_allocator(NULL);
        if (rc == SS_OK) {
            ss_client_watch_free(w);
            break; /* enough allocations: set up */
        }
        cr_assert_eq(rc, SS_NOMEM, "allocation %d failing is SS_NOMEM", fail_at);
    }
}
