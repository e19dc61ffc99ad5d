/* A tiny blocking HTTP/1.1 client and server launcher for the tests that
 * talk to the real `streamsy` binary on a loopback port. */
#ifndef SS_TEST_HTTP_CLIENT_H
#define SS_TEST_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct test_server {
    pid_t pid;
    int port;
    char log_path[128];
    int nofile; /* set before starting: the server's open-files limit (soft and hard); 0: inherited
                   (zero-initialise a test_server on the stack: `test_server s = {0};`) */
} test_server;

/* Starts build/streamsy (or $STREAMSY_BIN) with the memory storage and a
 * 500 ms long-poll timeout, waits until it accepts connections. extra_arg:
 * NULL or more flags, separated by single spaces ("--a 1 --b"). */
bool test_server_start(test_server *s, const char *extra_arg);
/* The same with a --storage value ("memory", "sqlite:PATH") and an optional fixed port (0: a free one). */
bool test_server_start_storage(test_server *s, const char *storage, int port, const char *extra_arg);
/* A connected loopback socket, or -1. */
int test_connect(int port);
/* Reads what arrives on fd within wait_ms (until the peer closes or the time
 * is up) into out (NUL-terminated, at most cap - 1 bytes); returns the length. */
size_t test_read_for(int fd, int wait_ms, char *out, size_t cap);
/* The server's CPU time (user + system) so far, in milliseconds; -1 if unknown. */
long test_server_cpu_ms(const test_server *s);
/* The server's resident memory (VmRSS) in KiB; -1 if unknown. */
long test_server_rss_kb(const test_server *s);
/* How many times `needle` occurs in the server's log so far. */
int test_server_log_count(const test_server *s, const char *needle);
/* SIGKILL, no cleanup: a crash. */
void test_server_kill(test_server *s);
/* SIGTERM, wait; returns true when it exited with status 0. */
bool test_server_stop(test_server *s);

typedef struct test_response {
    int status;
    char headers[8192]; /* raw header block */
    char *body;         /* malloc'd, NUL-terminated */
    size_t body_len;
} test_response;

/* Sends `raw` (a complete request) on a fresh connection and reads one
 * response (Content-Length, chunked, or until close). Returns false on a
 * connection error or timeout (5 s). */
bool test_http_raw(int port, const char *raw, size_t raw_len, test_response *out);
/* Sends `raw` on a fresh connection and reads everything the server sends
 * until it closes the connection (*closed true) or `wait_ms` pass without a
 * byte (*closed false). out gets at most cap - 1 bytes, NUL-terminated. */
bool test_http_raw_all(int port, const char *raw, size_t raw_len, int wait_ms, char *out, size_t cap,
                       bool *closed);
/* How many responses (status lines "HTTP/1.1 ") a byte stream holds. */
int test_count_responses(const char *bytes);
/* Sends `raw`, waits `wait_ms`, closes the connection without reading. */
bool test_http_raw_hangup(int port, const char *raw, size_t raw_len, int wait_ms);
/* Builds a request with Connection: close. extra_headers: "A: b\r\nC: d\r\n". */
bool test_http(int port, const char *method, const char *target, const char *extra_headers, const char *body,
               size_t body_len, test_response *out);
/* Header value (case-insensitive name) copied into buf; false when absent. */
bool test_header(const test_response *r, const char *name, char *buf, size_t cap);
void test_response_free(test_response *r);

#endif
