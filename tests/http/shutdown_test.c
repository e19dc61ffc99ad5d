/* Graceful shutdown against the real server (issue 9): on SIGTERM it stops
 * accepting, answers parked long-polls, ends SSE responses with a final
 * control event, makes every acknowledged write durable and exits 0 within
 * a bounded time. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

TestSuite(shutdown, .timeout = 60);

static long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_request(int port, const char *target) {
    int fd = test_connect(port);
    cr_assert_geq(fd, 0);
    char raw[256];
    int n = snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    cr_assert_eq(send(fd, raw, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

Test(shutdown, sigterm_answers_live_readers_keeps_acknowledged_writes_and_exits_0_promptly) {
    char dir[] = "/tmp/streamsy-shutdown-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char storage[128];
    snprintf(storage, sizeof storage, "sqlite:%s/db", dir);
    test_server srv = {0};
    /* long-polls would otherwise wait 30 s: an answer within the grace period proves shutdown sent it */
    cr_assert(test_server_start_storage(&srv, storage, 0, "--long-poll-timeout-ms 30000"));
    test_response r;
    cr_assert(test_http(srv.port, "PUT", "/v1/stream/s", "Content-Type: text/plain\r\n", "before", 6, &r));
    cr_assert_eq(r.status, 201);
    char next[64];
    cr_assert(test_header(&r, "Stream-Next-Offset", next, sizeof next));
    test_response_free(&r);
    for (int i = 0; i < 20; i++) {
        cr_assert(test_http(srv.port, "POST", "/v1/stream/s", "Content-Type: text/plain\r\n", "+", 1, &r));
        cr_assert_eq(r.status, 204);
        cr_assert(test_header(&r, "Stream-Next-Offset", next, sizeof next));
        test_response_free(&r);
    }

    char target[160];
    snprintf(target, sizeof target, "/v1/stream/s?offset=%s&live=long-poll", next);
    int poll_fd = open_request(srv.port, target);
    snprintf(target, sizeof target, "/v1/stream/s?offset=%s&live=sse", next);
    int sse_fd = open_request(srv.port, target);
    char out[8192];
    test_read_for(sse_fd, 300, out, sizeof out); /* the SSE headers and its first control event */
    cr_assert(strstr(out, "event: control") != NULL, "%s", out);

    long t0 = mono_ms();
    kill(srv.pid, SIGTERM);
    test_read_for(poll_fd, 3000, out, sizeof out);
    cr_assert(strncmp(out, "HTTP/1.1 204", 12) == 0, "the parked long-poll is answered: '%s'", out);
    cr_assert(strstr(out, next) != NULL, "with its resume offset: '%s'", out);
    test_read_for(sse_fd, 3000, out, sizeof out);
    cr_assert(strstr(out, "event: control") != NULL, "a final control event: '%s'", out);
    cr_assert(strstr(out, next) != NULL, "naming the resume offset: '%s'", out);
    cr_assert(strstr(out, "\r\n0\r\n\r\n") != NULL, "and the response ends cleanly: '%s'", out);
    close(poll_fd);
    close(sse_fd);

    int status = 0;
    while (waitpid(srv.pid, &status, WNOHANG) == 0 && mono_ms() - t0 < 5000)
        usleep(10 * 1000);
    long took = mono_ms() - t0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d (log %s)", status, srv.log_path);
    cr_assert_lt(took, 3000, "exited %ld ms after SIGTERM", took);
    int late = test_connect(srv.port);
    cr_assert_lt(late, 0, "nothing listens any more");

    /* Everything acknowledged is on disk. */
    test_server again = {0};
    cr_assert(test_server_start_storage(&again, storage, 0, NULL));
    cr_assert(test_http(again.port, "GET", "/v1/stream/s?offset=-1", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "before++++++++++++++++++++");
    test_response_free(&r);
    cr_assert(test_server_stop(&again));
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
