/* Fuzz target: the HTTP handler, from request views to responses, over the
 * memory factory (what a hostile client controls: method, target, headers,
 * body, and the order of requests).
 *
 * Input: up to MAX_REQUESTS requests separated by two NUL bytes. A request
 * is "METHOD TARGET\n", then "Name: value\n" header lines up to an empty
 * line, then the body. Each input runs against fresh state that already
 * holds a text stream /v1/stream/t and a JSON stream /v1/stream/j; the
 * clock moves 1 s between requests (TTLs expire). Live responses are
 * resumed once and then ended, as the front end would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "streamsy/streamsy.h"

#define MAX_REQUESTS 8

static int64_t now;
static int64_t clock_now(void *ctx) {
    (void)ctx;
    return now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    now = 1767225600000;
    ss_clock clock = {clock_now, NULL};
    ss_stream_factory *storage;
    ss_protocol *p;
    ss_handler *h;
    if (ss_memory_factory_new(NULL, &storage))
        abort();
    if (ss_protocol_new(&(ss_protocol_options){.storage = storage, .clock = &clock}, &p))
        abort();
    if (ss_handler_new(&(ss_handler_options){.protocol = p, .max_body_bytes = 1 << 16}, &h))
        abort();
    fuzz_send(h, "PUT", "/v1/stream/t", "text/plain", "hello");
    fuzz_send(h, "PUT", "/v1/stream/j", "application/json", "[1,{\"a\":2}]");

    const char *s = (const char *)data, *end = s + size;
    for (int i = 0; i < MAX_REQUESTS && s; i++) {
        const char *req_end, *next = fuzz_next_request(s, end, &req_end);
        ss_http_request r;
        ss_http_header hs[FUZZ_MAX_HEADERS];
        fuzz_parse_request(s, req_end, &r, hs);
        fuzz_handle(h, &r, &now, NULL);
        now += 1000;
        s = next;
    }
    ss_handler_free(h);
    ss_protocol_free(p);
    ss_storage_factory_free(storage);
    return 0;
}
