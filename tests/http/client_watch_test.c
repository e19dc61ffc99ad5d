/* ss_client_watch (streamsy/client.h) driven by a poll() loop of the test's
 * own, against the real server: data arrives batch by batch, a kill -9 and
 * restart of the server is ridden out from the last offset, the stream's
 * closing ends the watch, and no call blocks. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "streamsy/client.h"

typedef struct seen {
    char text[256];
    size_t len;
    int batches;
    bool closed;
} seen;

static bool on_batch(void *ctx, const ss_client_result *r) {
    seen *s = ctx;
    if (r->body.len && s->len + r->body.len < sizeof s->text) {
        memcpy(s->text + s->len, r->body.p, r->body.len);
        s->len += r->body.len;
        s->text[s->len] = '\0';
        s->batches++;
    }
    s->closed |= r->closed;
    return true;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the watch for up to ms (or until done); returns done. Each run call
 * must come back at once. */
static bool drive(ss_client_watch *w, long ms, ss_rc *rc) {
    long until = now_ms() + ms;
    while (now_ms() < until) {
        struct pollfd fds[8];
        long timeout;
        size_t n = ss_client_watch_fds(w, fds, 8, &timeout);
        if (timeout > until - now_ms())
            timeout = until - now_ms();
        poll(fds, n, (int)(timeout > 0 ? timeout : 0));
        bool done;
        long t0 = now_ms();
        *rc = ss_client_watch_run(w, &done);
        cr_assert_lt(now_ms() - t0, 200, "ss_client_watch_run does not block");
        if (done)
            return true;
    }
    return false;
}

static void append(ss_client *c, const char *url, const char *data, bool close) {
    ss_client_result r;
    ss_client_result_init(&r);
    cr_assert_eq(ss_client_append(c, url,
                                  &(ss_client_append_options){
                                      .content_type = "text/plain", .data = ss_slice_cstr(data), .close = close},
                                  &r),
                 SS_OK);
    cr_assert_eq(r.status / 100, 2, "%ld %s", r.status, r.message);
    ss_client_result_release(&r);
}

Test(client_watch, follows_a_stream_through_a_server_restart_until_it_closes) {
    char db[] = "/tmp/streamsy-watch-XXXXXX";
    cr_assert_not_null(mkdtemp(db));
    char storage[128];
    snprintf(storage, sizeof storage, "sqlite:%s/w.db", db);
    test_server srv = {0}; /* (nofile 0: the inherited open-files limit) */
    cr_assert(test_server_start_storage(&srv, storage, 0, NULL));
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/stream/w", srv.port);
    ss_client *c;
    cr_assert_eq(ss_client_new(NULL, &c), SS_OK);
    ss_client_result r;
    ss_client_result_init(&r);
    cr_assert_eq(
        ss_client_create(
            c, url, &(ss_client_create_options){.content_type = "text/plain", .data = ss_slice_cstr("a")}, &r),
        SS_OK);
    cr_assert_eq(r.status, 201);

    seen s = {0};
    ss_client_watch *w;
    cr_assert_eq(ss_client_watch_new(NULL, url, &(ss_client_tail_options){.max_retries = 30}, on_batch, &s, &w),
                 SS_OK);
    ss_rc rc = SS_OK;
    cr_assert_not(drive(w, 500, &rc));
    cr_assert_str_eq(s.text, "a", "the catch-up");
    append(c, url, "b", false);
    cr_assert_not(drive(w, 500, &rc));
    cr_assert_str_eq(s.text, "ab", "a live append");

    int port = srv.port;
    test_server_kill(&srv); /* kill -9 under the open SSE response */
    cr_assert_not(drive(w, 300, &rc), "the watch waits and retries, it does not end");
    cr_assert(test_server_start_storage(&srv, storage, port, NULL), "the server comes back on its port");
    append(c, url, "c", false);
    append(c, url, "d", true);
    cr_assert(drive(w, 10000, &rc), "the stream's closing ends the watch");
    cr_assert_eq(rc, SS_OK);
    cr_assert_str_eq(s.text, "abcd", "every byte exactly once across the restart");
    cr_assert(s.closed);
    cr_assert(ss_client_watch_result(w)->closed);
    ss_client_watch_free(w);

    /* A refused watch ends with the server's status. */
    char missing[160];
    snprintf(missing, sizeof missing, "http://127.0.0.1:%d/v1/stream/none", port);
    cr_assert_eq(ss_client_watch_new(NULL, missing, NULL, on_batch, &s, &w), SS_OK);
    cr_assert(drive(w, 5000, &rc));
    cr_assert_eq(rc, SS_OK);
    cr_assert_eq(ss_client_watch_result(w)->status, 404);
    ss_client_watch_free(w);
    /* A closed stream: the catch-up ends the watch at once. */
    seen again = {0};
    cr_assert_eq(ss_client_watch_new(NULL, url, NULL, on_batch, &again, &w), SS_OK);
    cr_assert(drive(w, 3000, &rc));
    cr_assert_str_eq(again.text, "abcd");
    ss_client_watch_free(w);
    /* Freed while its response is open: no leak (ASan), no hang. */
    char open_url[160];
    snprintf(open_url, sizeof open_url, "http://127.0.0.1:%d/v1/stream/open", port);
    cr_assert_eq(ss_client_create(c, open_url, &(ss_client_create_options){.content_type = "text/plain"}, &r),
                 SS_OK);
    cr_assert_eq(ss_client_watch_new(NULL, open_url, NULL, on_batch, &again, &w), SS_OK);
    cr_assert_not(drive(w, 300, &rc));
    ss_client_watch_free(w);

    ss_client_result_release(&r);
    ss_client_free(c);
    cr_assert(test_server_stop(&srv));
}
