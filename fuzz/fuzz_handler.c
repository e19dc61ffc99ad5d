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

#include "streamsy/streamsy.h"

#define MAX_REQUESTS 8
#define MAX_HEADERS 24

static int64_t now;
static int64_t clock_now(void *ctx) {
    (void)ctx;
    return now;
}

static const char *find(const char *p, const char *end, const char *needle, size_t n) {
    for (; p + n <= end; p++)
        if (memcmp(p, needle, n) == 0)
            return p;
    return NULL;
}

static void handle(ss_handler *h, const char *p, const char *end) {
    ss_http_request r = {.scheme = ss_slice_cstr("http"), .authority = ss_slice_cstr("127.0.0.1:4437")};
    ss_http_header hs[MAX_HEADERS];
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end;
    const char *sp = memchr(p, ' ', (size_t)(line_end - p));
    r.method = ss_slice_of(p, (size_t)((sp ? sp : line_end) - p));
    if (sp) {
        const char *t = sp + 1, *q = memchr(t, '?', (size_t)(line_end - t));
        r.path = ss_slice_of(t, (size_t)((q ? q : line_end) - t));
        if (q)
            r.query = ss_slice_of(q + 1, (size_t)(line_end - q - 1));
    }
    p = nl ? nl + 1 : end;
    while (p < end && *p != '\n' && r.n_headers < MAX_HEADERS) {
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon) {
            const char *v = colon + 1 < line_end && colon[1] == ' ' ? colon + 2 : colon + 1;
            hs[r.n_headers++] =
                (ss_http_header){ss_slice_of(p, (size_t)(colon - p)), ss_slice_of(v, (size_t)(line_end - v))};
        }
        p = nl ? nl + 1 : end;
    }
    if (p < end && *p == '\n')
        p++;
    r.headers = hs;
    r.body = ss_slice_of(p, (size_t)(end - p));

    ss_http_response res;
    ss_handler_handle(h, &r, &res);
    ss_http_live *l = res.live;
    if (l) {
        for (int turn = 0; turn < 2 && (res.kind == SS_HTTP_WAIT || res.kind == SS_HTTP_STREAM); turn++) {
            now += 1000;
            ss_http_live_resume(l, turn > 0, &res);
        }
        ss_http_live_free(l);
    }
    ss_http_response_release(&res);
}

static void put(ss_handler *h, const char *path, const char *ct, const char *body) {
    ss_http_header hs[] = {{ss_slice_cstr("Content-Type"), ss_slice_cstr(ct)}};
    ss_http_request r = {.method = ss_slice_cstr("PUT"),
                         .path = ss_slice_cstr(path),
                         .headers = hs,
                         .n_headers = 1,
                         .body = ss_slice_cstr(body)};
    ss_http_response res;
    ss_handler_handle(h, &r, &res);
    ss_http_response_release(&res);
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
    put(h, "/v1/stream/t", "text/plain", "hello");
    put(h, "/v1/stream/j", "application/json", "[1,{\"a\":2}]");

    const char *s = (const char *)data, *end = s + size;
    for (int i = 0; i < MAX_REQUESTS && s <= end; i++) {
        const char *sep = find(s, end, "\0\0", 2);
        handle(h, s, sep ? sep : end);
        now += 1000;
        if (!sep)
            break;
        s = sep + 2;
    }
    ss_handler_free(h);
    ss_protocol_free(p);
    ss_storage_factory_free(storage);
    return 0;
}
