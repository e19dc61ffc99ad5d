/* Durability under SIGKILL: the server on a SQLite file is killed at a
 * random moment while a producer appends; after each restart every
 * acknowledged append must be present exactly once and in order, and the
 * append that was in flight is resent with the same producer sequence and is
 * either accepted (it never committed) or deduplicated (it did). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

/* Criterion 2.4.1 leaks one 48-byte allocation in this test's process (seen
 * only here; the stack holds nothing but an unsymbolised libcriterion frame).
 * A suppression by module would also hide every leak of every test, since all
 * stacks pass through libcriterion, so it lives in this binary alone. The
 * servers this test starts are separate binaries and stay leak-checked. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libcriterion.so\n"; }

enum { CYCLES = 5 };

typedef struct appender {
    int port;
    atomic_int acked;   /* producer seqs 0..acked-1 were acknowledged */
    atomic_bool failed; /* an answer that is neither 200 nor a dropped connection */
} appender;

static bool post_seq(int port, int seq, int *status) {
    char headers[160], body[32];
    snprintf(headers, sizeof headers,
             "Content-Type: text/plain\r\nProducer-Id: crash\r\nProducer-Epoch: 0\r\nProducer-Seq: %d\r\n", seq);
    snprintf(body, sizeof body, "m%d\n", seq);
    test_response r;
    if (!test_http(port, "POST", "/v1/stream/log", headers, body, strlen(body), &r))
        return false;
    *status = r.status;
    test_response_free(&r);
    return true;
}

/* Appends until the server goes away. */
static void *append_until_killed(void *arg) {
    appender *a = arg;
    for (;;) {
        int status;
        if (!post_seq(a->port, atomic_load(&a->acked), &status))
            return NULL; /* killed: this seq is in flight */
        if (status != 200) {
            atomic_store(&a->failed, true);
            return NULL;
        }
        atomic_fetch_add(&a->acked, 1);
    }
}

static void expect_exactly(int port, int n) {
    size_t cap = (size_t)n * 16 + 1, len = 0;
    char *want = malloc(cap);
    want[0] = '\0';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(want + len, cap - len, "m%d\n", i);
    test_response r;
    cr_assert(test_http(port, "GET", "/v1/stream/log?offset=-1", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, len, "expected %d messages (%zu bytes), got %zu bytes", n, len, r.body_len);
    cr_assert(memcmp(r.body, want, len) == 0, "messages are not exactly m0..m%d in order", n - 1);
    test_response_free(&r);
    free(want);
}

Test(crash, acknowledged_appends_survive_sigkill_exactly_once, .timeout = 180) {
    char dir[] = "/tmp/streamsy-crash-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char storage[128];
    snprintf(storage, sizeof storage, "sqlite:%s/streams.db", dir);
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    fprintf(stderr,
            "[crash] "
            "seed %u, database %s\n",
            seed, storage + 7);

    test_server srv = {0};
    cr_assert(test_server_start_storage(&srv, storage, 0, NULL), "server did not start (log %s)", srv.log_path);
    test_response r;
    cr_assert(test_http(srv.port, "PUT", "/v1/stream/log", "Content-Type: text/plain\r\n", NULL, 0, &r));
    cr_assert_eq(r.status, 201);
    test_response_free(&r);

    appender a = {.port = srv.port};
    int total_dedup = 0;
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        pthread_t t;
        pthread_create(&t, NULL, append_until_killed, &a);
        usleep(50000 + (useconds_t)(rand() % 400000));
        test_server_kill(&srv);
        pthread_join(t, NULL);
        cr_assert_not(atomic_load(&a.failed), "an append got an unexpected status");

        cr_assert(test_server_start_storage(&srv, storage, 0, NULL), "restart %d failed (log %s)", cycle,
                  srv.log_path);
        a.port = srv.port;
        int acked = atomic_load(&a.acked);
        /* The append in flight at the kill: resent, it lands once either way. */
        int status;
        cr_assert(post_seq(srv.port, acked, &status));
        cr_assert(status == 200 || status == 204, "resend of seq %d answered %d", acked, status);
        total_dedup += status == 204;
        atomic_store(&a.acked, acked + 1);
        expect_exactly(srv.port, acked + 1);
    }
    fprintf(stderr,
            "[crash] "
            "%d appends acknowledged over %d kills; %d in-flight resends were duplicates\n",
            atomic_load(&a.acked), CYCLES, total_dedup);
    cr_assert(test_server_stop(&srv), "clean shutdown (log %s)", srv.log_path);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(crash, streams_closure_producers_and_forks_survive_a_restart, .timeout = 60) {
    char dir[] = "/tmp/streamsy-restart-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char storage[128];
    snprintf(storage, sizeof storage, "sqlite:%s/streams.db", dir);
    test_server srv = {0};
    cr_assert(test_server_start_storage(&srv, storage, 0, NULL));
    test_response r;
    cr_assert(test_http(srv.port, "PUT", "/v1/stream/src", "Content-Type: text/plain\r\nStream-TTL: 3600\r\n", "a",
                        1, &r));
    test_response_free(&r);
    cr_assert(
        test_http(srv.port, "PUT", "/v1/stream/fork", "Stream-Forked-From: /v1/stream/src\r\n", NULL, 0, &r));
    cr_assert_eq(r.status, 201);
    test_response_free(&r);
    cr_assert(test_http(srv.port, "POST", "/v1/stream/src", "Stream-Closed: true\r\n", NULL, 0, &r));
    test_response_free(&r);
    cr_assert(test_http(srv.port, "DELETE", "/v1/stream/src", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 204);
    test_response_free(&r);
    test_server_kill(&srv);

    cr_assert(test_server_start_storage(&srv, storage, 0, NULL));
    cr_assert(test_http(srv.port, "HEAD", "/v1/stream/src", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 410, "the soft delete survived");
    test_response_free(&r);
    cr_assert(test_http(srv.port, "GET", "/v1/stream/fork?offset=-1", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "a", "the fork still reads through its soft-deleted source");
    test_response_free(&r);
    char ttl[16];
    cr_assert(test_http(srv.port, "HEAD", "/v1/stream/fork", NULL, NULL, 0, &r));
    cr_assert(test_header(&r, "Stream-TTL", ttl, sizeof ttl), "the fork inherited the TTL");
    cr_assert_str_eq(ttl, "3600");
    test_response_free(&r);
    cr_assert(test_http(srv.port, "DELETE", "/v1/stream/fork", NULL, NULL, 0, &r));
    test_response_free(&r);
    cr_assert(test_http(srv.port, "HEAD", "/v1/stream/src", NULL, NULL, 0, &r));
    cr_assert_eq(r.status, 404, "deleting the last fork after a restart cascades to the source");
    test_response_free(&r);
    cr_assert(test_server_stop(&srv));
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(crash, a_second_server_on_the_same_database_refuses_to_start, .timeout = 60) {
    char dir[] = "/tmp/streamsy-lock-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char storage[128];
    snprintf(storage, sizeof storage, "sqlite:%s/streams.db", dir);
    test_server first, second;
    cr_assert(test_server_start_storage(&first, storage, 0, NULL));
    cr_assert_not(test_server_start_storage(&second, storage, 0, NULL), "the second server must exit");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -q 'in use by another streamsy process' %s", second.log_path);
    cr_assert_eq(system(cmd), 0, "it says why (log %s)", second.log_path);
    cr_assert(test_server_stop(&first));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
