/* The global output budget against the real server (issue 9.7): clients
 * that ask for large responses and never read them cannot make the server
 * hold more than --max-output-bytes; slow readers are cut first, and large
 * new responses get 503 while the budget is spent. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"

TestSuite(output_budget, .timeout = 120);

#define MIB (1024 * 1024)
#define SLOW_CLIENTS 24

/* A loopback connection with a tiny receive window, so the kernel takes
 * almost nothing of a response off the server's hands. */
static int connect_slow(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* A stream holding `mib` MiB of text. */
static void fill_stream(test_server *srv, const char *path, size_t mib) {
    test_response r;
    cr_assert(test_http(srv->port, "PUT", path, "Content-Type: text/plain\r\n", NULL, 0, &r));
    cr_assert_eq(r.status, 201);
    test_response_free(&r);
    char *chunk = malloc(MIB);
    memset(chunk, 'x', MIB);
    for (size_t i = 0; i < mib; i++) {
        cr_assert(test_http(srv->port, "POST", path, "Content-Type: text/plain\r\n", chunk, MIB, &r));
        cr_assert_eq(r.status, 204);
        test_response_free(&r);
    }
    free(chunk);
}

static void send_request(int fd, const char *target) {
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    cr_assert_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

static void check_budget_holds(const char *target, const char *fresh_target) {
    /* Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
     * default) before it is reused, which RSS would count as held: turn it
     * off for the server so that RSS measures live memory (no effect on a
     * normal build). */
    char asan[512];
    const char *was = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%squarantine_size_mb=0", was ? was : "", was && *was ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    test_server srv = {0};
    cr_assert(test_server_start(&srv, "--max-output-bytes 8388608"));
    fill_stream(&srv, "/v1/stream/big", 4);
    usleep(200 * 1000);
    long rss0 = test_server_rss_kb(&srv);

    int fds[SLOW_CLIENTS];
    for (int i = 0; i < SLOW_CLIENTS; i++) {
        fds[i] = connect_slow(srv.port);
        send_request(fds[i], target);
    }
    usleep(1500 * 1000); /* past SS_HTTP_SLOW_READER_MS */
    long rss1 = test_server_rss_kb(&srv);
    cr_assert_lt(rss1 - rss0, 40 * 1024, "%d clients that never read grew the server by %ld KiB", SLOW_CLIENTS,
                 rss1 - rss0);

    /* A reader that does read is served in full: slow ones were cut to make room. */
    test_response r;
    cr_assert(test_http(srv.port, "GET", fresh_target, NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 200, "%d %.100s", r.status, r.body);
    cr_assert_geq(r.body_len, (size_t)MIB, "%zu bytes", r.body_len);
    test_response_free(&r);
    for (int i = 0; i < SLOW_CLIENTS; i++)
        close(fds[i]);
    cr_assert_geq(test_server_log_count(&srv, "slow reader(s) to stay within"), 1, "(log %s)", srv.log_path);
    cr_assert(test_server_stop(&srv));
}

Test(output_budget, catch_up_reads_nobody_reads_stay_within_the_budget) {
    check_budget_holds("/v1/stream/big?offset=-1", "/v1/stream/big?offset=-1");
}

Test(output_budget, sse_clients_that_never_read_stay_within_the_budget) {
    check_budget_holds("/v1/stream/big?offset=-1&live=sse", "/v1/stream/big?offset=-1");
}

static long metric(test_server *srv, const char *name);

/* A catch-up response sends the stored bytes by reference: a reader still
 * taking them slowly when the stream is deleted, and its id refilled with
 * other bytes, gets exactly the bytes it asked for (the response holds them;
 * under ASan a lost hold is a use after free in the server). */
Test(output_budget, a_slow_reader_gets_its_bytes_after_the_stream_is_deleted_and_refilled) {
    test_server srv = {0};
    cr_assert(test_server_start(&srv, NULL));
    fill_stream(&srv, "/v1/stream/gone", 4);
    int fd = connect_slow(srv.port);
    send_request(fd, "/v1/stream/gone?offset=-1");
    enum { CAP = 5 * MIB };
    char *got = malloc(CAP);
    size_t len = test_read_for(fd, 300, got, 64 * 1024); /* the head and a little of the body */
    cr_assert(len > 0 && strstr(got, "200 OK"), "%.200s", got);
    cr_assert_gt(metric(&srv, "streamsy_output_bytes"), 0, "the response still waits for its reader");

    test_response r;
    cr_assert(test_http(srv.port, "DELETE", "/v1/stream/gone", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 204);
    test_response_free(&r);
    char *chunk = malloc(MIB);
    memset(chunk, 'y', MIB);
    cr_assert(test_http(srv.port, "PUT", "/v1/stream/gone", "Content-Type: text/plain\r\n", NULL, 0, &r));
    cr_assert_eq(r.status, 201);
    test_response_free(&r);
    for (int i = 0; i < 4; i++) {
        cr_assert(test_http(srv.port, "POST", "/v1/stream/gone", "Content-Type: text/plain\r\n", chunk, MIB, &r));
        cr_assert_eq(r.status, 204);
        test_response_free(&r);
    }
    free(chunk);

    for (size_t more = 1; more && len < CAP - 1;) /* the rest, until the server has nothing more */
        len += more = test_read_for(fd, 1000, got + len, CAP - len);
    close(fd);
    const char *body = strstr(got, "\r\n\r\n");
    cr_assert_not_null(body);
    body += 4;
    size_t body_len = len - (size_t)(body - got);
    cr_assert_eq(body_len, 4u * MIB, "%zu body bytes", body_len);
    for (size_t i = 0; i < body_len; i++)
        if (body[i] != 'x')
            cr_assert_fail("byte %zu is '%c', not the deleted stream's 'x'", i, body[i]);
    free(got);
    cr_assert(test_server_stop(&srv));
}

/* The value of `name` in the server's /metrics (-1 when absent). */
static long metric(test_server *srv, const char *name) {
    test_response r;
    cr_assert(test_http(srv->port, "GET", "/metrics", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 200);
    long v = -1;
    size_t n = strlen(name);
    for (const char *l = r.body; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            v = atol(l + n + 1);
    test_response_free(&r);
    return v;
}

/* Reads fd until `needle` has arrived (or 5 s pass). */
static void read_until(int fd, const char *needle) {
    char buf[4096];
    size_t got = 0;
    for (int tries = 0; tries < 50 && got < sizeof buf - 1; tries++) {
        got += test_read_for(fd, 100, buf + got, sizeof buf - 1 - got);
        buf[got] = '\0';
        if (strstr(buf, needle))
            return;
    }
    cr_assert_fail("no \"%s\" in %zu bytes: %s", needle, got, buf);
}

/* An SSE reader that has taken every event holds no response bytes: its
 * buffers go back after each send, so idle readers cost no output budget
 * (and no memory) for the events they already have. */
Test(output_budget, sse_readers_that_took_every_event_hold_nothing) {
    test_server srv = {0};
    cr_assert(test_server_start(&srv, NULL));
    test_response r;
    cr_assert(test_http(srv.port, "PUT", "/v1/stream/quiet", "Content-Type: text/plain\r\n", NULL, 0, &r));
    cr_assert_eq(r.status, 201);
    test_response_free(&r);
    enum { READERS = 20 };
    int fds[READERS];
    for (int i = 0; i < READERS; i++) {
        fds[i] = test_connect(srv.port);
        send_request(fds[i], "/v1/stream/quiet?offset=-1&live=sse");
        read_until(fds[i], "upToDate");
    }
    cr_assert(test_http(srv.port, "POST", "/v1/stream/quiet", "Content-Type: text/plain\r\n", "hello", 5, &r));
    cr_assert_eq(r.status, 204);
    test_response_free(&r);
    for (int i = 0; i < READERS; i++)
        read_until(fds[i], "data:hello");
    long held = -1;
    for (int tries = 0; tries < 20 && held != 0; tries++) {
        usleep(50 * 1000); /* the server hears that a send completed on its next turn */
        held = metric(&srv, "streamsy_output_bytes");
    }
    cr_assert_eq(held, 0, "%d idle SSE readers still hold %ld response bytes", READERS, held);
    for (int i = 0; i < READERS; i++)
        close(fds[i]);
    cr_assert(test_server_stop(&srv));
}
