/* Connections against the real server: admission (issue 9.4, 9.7: the
 * connection limit and running out of file descriptors), and keep-alive
 * connections that ask again before h2o is done with their last request. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"

TestSuite(connections, .timeout = 60);

static const char get_root[] = "GET /v1/stream/none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

static int open_idle(int port, int *fds, int n) {
    int opened = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = test_connect(port);
        if (fds[i] >= 0)
            opened++;
    }
    return opened;
}

static void close_all(int *fds, int n) {
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

Test(connections, past_max_connections_new_ones_wait_until_one_closes) {
    test_server srv = {0};
    cr_assert(test_server_start(&srv, "--max-connections 4"));
    int idle[4];
    cr_assert_eq(open_idle(srv.port, idle, 4), 4);
    usleep(200 * 1000); /* accepted; the limit is reached */

    int fifth = test_connect(srv.port);
    cr_assert_geq(fifth, 0, "the kernel still queues it in the backlog");
    cr_assert_eq(send(fifth, get_root, sizeof get_root - 1, MSG_NOSIGNAL), (ssize_t)(sizeof get_root - 1));
    char out[4096];
    cr_assert_eq(test_read_for(fifth, 500, out, sizeof out), 0, "not served while 4 are open: %s", out);

    close(idle[0]);
    idle[0] = -1;
    test_read_for(fifth, 3000, out, sizeof out);
    cr_assert(strncmp(out, "HTTP/1.1 404", 12) == 0, "served once one closed: '%s'", out);
    close(fifth);
    close_all(idle, 4);
    cr_assert_eq(test_server_log_count(&srv, "(--max-connections)"), 1, "logged once (log %s)", srv.log_path);
    cr_assert(test_server_stop(&srv));
}

Test(connections, out_of_descriptors_refuses_with_503_without_spinning_and_recovers) {
    test_server srv = {.nofile = 40};
    /* an explicit limit above what 40 descriptors allow, so accept meets EMFILE */
    cr_assert(test_server_start(&srv, "--max-connections 1000"));
    enum { N = 60 };
    int fds[N];
    cr_assert_eq(open_idle(srv.port, fds, N), N, "the backlog takes them all");
    usleep(300 * 1000); /* the server has taken what it can; the rest wait, idle */

    long cpu0 = test_server_cpu_ms(&srv);
    usleep(1000 * 1000);
    long cpu1 = test_server_cpu_ms(&srv);
    cr_assert_geq(cpu0, 0);
    cr_assert_lt(cpu1 - cpu0, 150, "no busy loop while out of descriptors: %ld ms of CPU in 1 s", cpu1 - cpu0);

    /* The waiting ones are refused with a 503, one per retry; the accepted
     * ones stay open and silent. */
    usleep(2500 * 1000);
    int refused = 0;
    for (int i = 0; i < N; i++) {
        char out[4096];
        test_read_for(fds[i], 50, out, sizeof out);
        if (strncmp(out, "HTTP/1.1 503", 12) == 0) {
            cr_assert(strstr(out, "Retry-After: 1") && strstr(out, "out of file descriptors"), "%s", out);
            refused++;
        } else {
            cr_assert_str_eq(out, "", "an accepted idle connection hears nothing");
        }
    }
    cr_assert_geq(refused, 5, "refused %d", refused);
    cr_assert_lt(refused, N, "refused %d", refused);
    close_all(fds, N);

    /* Descriptors free again: normal service. */
    test_response r;
    bool ok = false;
    for (int attempt = 0; attempt < 20 && !ok; attempt++) {
        cr_assert(test_http(srv.port, "PUT", "/v1/stream/after", "Content-Type: text/plain\r\n", NULL, 0, &r));
        ok = r.status == 201 || r.status == 200;
        test_response_free(&r);
        if (!ok)
            usleep(100 * 1000);
    }
    cr_assert(ok, "service resumed");
    cr_assert_eq(test_server_log_count(&srv, "cannot accept connections"), 1, "logged once (log %s)",
                 srv.log_path);
    cr_assert_eq(test_server_log_count(&srv, "accepting connections again"), 1, "(log %s)", srv.log_path);
    cr_assert(test_server_stop(&srv));
}

/* Reads one whole response with a body (headers, then Content-Length bytes)
 * from fd into buf; false when it does not arrive within 5 s. */
static bool read_response(int fd, char *buf, size_t cap) {
    size_t got = 0;
    for (int tries = 0; tries < 500; tries++) {
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return false;
        else
            usleep(10 * 1000);
        buf[got] = '\0';
        const char *end = strstr(buf, "\r\n\r\n"), *len = strcasestr(buf, "\r\nContent-Length: ");
        if (end && len && len < end && got >= (size_t)(end + 4 - buf) + (size_t)atol(len + 18))
            return true;
    }
    return false;
}

/* Long-poll readers ask again the moment their answer arrives, so the next
 * request reaches h2o before it has disposed of the one just answered (h2o
 * then moves the connection's read buffer, where the request line was).
 * Every answer arrives, the server stays up, and the requests are counted
 * as GETs (under ASan a stale request line is a use after free). */
Test(connections, long_poll_readers_that_ask_again_at_once_are_served_and_counted) {
    test_server srv = {0};
    cr_assert(test_server_start(&srv, NULL));
    test_response r;
    cr_assert(test_http(srv.port, "PUT", "/v1/stream/again", "Content-Type: text/plain\r\n", NULL, 0, &r));
    cr_assert_eq(r.status, 201);
    char offset[64];
    cr_assert(test_header(&r, "Stream-Next-Offset", offset, sizeof offset));
    test_response_free(&r);
    enum { READERS = 100, ROUNDS = 10 };
    int fds[READERS];
    char req[256], buf[4096];
    for (int i = 0; i < READERS; i++) {
        fds[i] = test_connect(srv.port);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        int n = snprintf(req, sizeof req,
                         "GET /v1/stream/again?offset=%s&live=long-poll HTTP/1.1\r\nHost: x\r\n\r\n", offset);
        cr_assert_eq(send(fds[i], req, (size_t)n, MSG_NOSIGNAL), n);
    }
    usleep(200 * 1000); /* all parked */
    for (int round = 0; round < ROUNDS; round++) {
        char msg[32];
        snprintf(msg, sizeof msg, "round-%d", round);
        cr_assert(
            test_http(srv.port, "POST", "/v1/stream/again", "Content-Type: text/plain\r\n", msg, strlen(msg), &r));
        cr_assert_eq(r.status, 204);
        test_response_free(&r);
        for (int i = 0; i < READERS; i++) {
            cr_assert(read_response(fds[i], buf, sizeof buf), "reader %d, %s: %s", i, msg, buf);
            cr_assert(strstr(buf, msg), "reader %d got %s", i, buf);
            char next[64] = "";
            const char *h = strcasestr(buf, "\r\nStream-Next-Offset: ");
            cr_assert_not_null(h);
            sscanf(h + 22, "%63[^\r]", next);
            int n = snprintf(req, sizeof req,
                             "GET /v1/stream/again?offset=%s&live=long-poll HTTP/1.1\r\nHost: x\r\n\r\n", next);
            cr_assert_eq(send(fds[i], req, (size_t)n, MSG_NOSIGNAL), n);
        }
    }
    close_all(fds, READERS);
    cr_assert(test_http(srv.port, "GET", "/metrics", NULL, NULL, 0, &r), "the server is up");
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "streamsy_http_requests_total{method=\"GET\",code=\"200\"} 1000"), "%s",
                       r.body);
    test_response_free(&r);
    cr_assert(test_server_stop(&srv));
}
