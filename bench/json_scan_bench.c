/* Micro-benchmark for the JSON scanner: scans a ~1 MB top-level array of
 * small objects N times and prints throughput.
 *
 * Built with the project (not run by the tests):
 *   build/bench/json_scan_bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json_scan.h"
#include "streamsy/bytes.h"

#define TARGET_BYTES (1u << 20)

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds "[{...},{...},...]" of about TARGET_BYTES; returns its length. */
static size_t build_body(char *buf, size_t cap, size_t *out_items) {
    size_t len = 0, n = 0;
    buf[len++] = '[';
    while (len < TARGET_BYTES) {
        int w = snprintf(buf + len, cap - len,
                         "%s{\"id\":%zu,\"user\":\"user-%zu\",\"active\":%s,\"score\":%zu.%02zu,"
                         "\"tags\":[\"a\",\"caf\xc3\xa9\"],\"note\":\"line\\nbreak \\u00e9\"}",
                         n ? "," : "", n, n * 7919 % 100000, n % 3 ? "true" : "false", n % 1000, n % 100);
        if (w < 0 || (size_t)w >= cap - len - 2)
            break;
        len += (size_t)w;
        n++;
    }
    buf[len++] = ']';
    *out_items = n;
    return len;
}

int main(int argc, char **argv) {
    int iterations = argc > 1 ? atoi(argv[1]) : 200;
    if (iterations <= 0)
        iterations = 200;
    size_t cap = TARGET_BYTES + 4096;
    char *buf = malloc(cap);
    if (!buf)
        return 1;
    size_t n_items;
    size_t len = build_body(buf, cap, &n_items);
    ss_slice body = ss_slice_of(buf, len);

    ss_arena arena;
    ss_arena_init(&arena);
    size_t checksum = 0;

    /* Warm-up, and a correctness check. */
    ss_slice *items;
    size_t n;
    bool is_array;
    const char *err = NULL;
    if (ss_json_split(body, 0, &arena, &items, &n, &is_array, &err) != SS_OK || n != n_items) {
        fprintf(stderr, "scan failed: %s (n=%zu, want %zu)\n", err ? err : "?", n, n_items);
        return 1;
    }
    ss_arena_release(&arena);

    double t0 = now_seconds();
    for (int i = 0; i < iterations; i++) {
        if (ss_json_split(body, 0, &arena, &items, &n, &is_array, &err) != SS_OK)
            return 1;
        checksum += n + items[n - 1].len;
        ss_arena_release(&arena);
    }
    double split_s = now_seconds() - t0;

    t0 = now_seconds();
    for (int i = 0; i < iterations; i++)
        checksum += ss_json_is_valid(body);
    double valid_s = now_seconds() - t0;

    double mb = (double)len * iterations / 1e6;
    printf("body %zu bytes, %zu items, %d iterations (checksum %zu)\n", len, n_items, iterations, checksum);
    printf("ss_json_split:    %8.1f MB/s\n", mb / split_s);
    printf("ss_json_is_valid: %8.1f MB/s\n", mb / valid_s);
    free(buf);
    return 0;
}
