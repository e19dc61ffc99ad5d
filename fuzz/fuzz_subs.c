/* Fuzz target: the subscription routes ({prefix}/__ds) through the HTTP
 * handler, over the memory factory: what a hostile client controls (method,
 * target, headers, body, the order of requests) against the create / read /
 * delete / streams / claim / ack / release / callback / jwks routes, with
 * appends to linked streams in between and the subscription timers (lease
 * expiry, wake events) run after every request. Webhooks are off (no
 * network from a fuzzer); webhook bodies are still parsed up to that check.
 *
 * Input: up to MAX_REQUESTS requests separated by two NUL bytes, in the
 * format of fuzz_handler.c. "$T", "$W" and "$G" in a request stand for the
 * token, wake_id and generation of the last answer that had them (a claim),
 * so inputs can reach acks and releases that pass the token checks. Each input runs against fresh state holding a
 * JSON wake stream /v1/stream/w, a stream /v1/stream/e/a and a pull-wake
 * subscription "s" over the pattern e/(one segment); the clock moves 1 s between requests. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "request.h"
#include "streamsy/streamsy.h"
#include "streamsy/subscriptions.h"

#define MAX_REQUESTS 8

static int64_t now;
static char token[256], wake_id[64], generation[24];

/* Remembers the claim fields of a JSON answer. */
static void capture(const ss_http_response *res) {
    if (getenv("FUZZ_SUBS_TRACE"))
        fprintf(stderr, "-> %d %.*s\n", res->status, (int)res->body.len, res->body.p);
    json_t *j = res->body.len ? json_loadb(res->body.p, res->body.len, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(j, "token"));
    const char *w = json_string_value(json_object_get(j, "wake_id"));
    const json_t *g = json_object_get(j, "generation");
    if (t && strlen(t) < sizeof token)
        strcpy(token, t);
    if (w && strlen(w) < sizeof wake_id)
        strcpy(wake_id, w);
    if (json_is_integer(g))
        snprintf(generation, sizeof generation, "%lld", (long long)json_integer_value(g));
    json_decref(j);
}

/* The request with $T, $W and $G replaced; *out_len bytes in a malloc'ed buffer. */
static char *substitute(const char *p, const char *end, size_t *out_len) {
    size_t cap = (size_t)(end - p) * 4 + 256, n = 0;
    char *out = malloc(cap);
    if (!out)
        abort();
    while (p < end) {
        const char *v = NULL;
        if (p + 1 < end && p[0] == '$')
            v = p[1] == 'T' ? token : p[1] == 'W' ? wake_id : p[1] == 'G' ? generation : NULL;
        size_t len = v ? strlen(v) : 1;
        if (n + len > cap)
            break;
        memcpy(out + n, v ? v : p, len);
        n += len;
        p += v ? 2 : 1;
    }
    *out_len = n;
    return out;
}
static int64_t clock_now(void *ctx) {
    (void)ctx;
    return now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ss__log_configure(SS__LOG_TEXT, SS__LOG_ERROR); /* no info lines per input */
    now = 1767225600000;
    token[0] = wake_id[0] = generation[0] = '\0';
    ss_clock clock = {clock_now, NULL};
    ss_stream_factory *storage;
    ss_protocol *p;
    ss_subs *subs;
    ss_handler *h;
    char err[256];
    if (ss_memory_factory_new(NULL, &storage))
        abort();
    if (ss_protocol_new(&(ss_protocol_options){.storage = storage, .clock = &clock}, &p))
        abort();
    if (ss_subs_new(&(ss_subs_options){.protocol = p}, &subs, err, sizeof err))
        abort();
    if (ss_handler_new(
            &(ss_handler_options){.protocol = p, .max_body_bytes = 1 << 16, .reserved = ss_subs_http(subs)}, &h))
        abort();
    fuzz_send(h, "PUT", "/v1/stream/w", "application/json", "[]");
    fuzz_send(h, "PUT", "/v1/stream/e/a", "application/json", "{\"n\":1}");
    fuzz_send(h, "PUT", "/v1/stream/__ds/subscriptions/s", "application/json",
              "{\"type\":\"pull-wake\",\"pattern\":\"e/*\",\"wake_stream\":\"w\",\"lease_ttl_ms\":60000}");
    fuzz_send(h, "POST", "/v1/stream/e/a", "application/json", "{\"n\":2}");
    ss_subs_run(subs, now);

    const char *s = (const char *)data, *end = s + size;
    for (int i = 0; i < MAX_REQUESTS && s; i++) {
        const char *req_end, *next = fuzz_next_request(s, end, &req_end);
        size_t len;
        char *req = substitute(s, req_end, &len);
        ss_http_request r;
        ss_http_header hs[FUZZ_MAX_HEADERS];
        fuzz_parse_request(req, req + len, &r, hs);
        fuzz_handle(h, &r, &now, capture);
        free(req);
        now += 1000;
        ss_subs_run(subs, now);
        s = next;
    }
    ss_handler_free(h);
    ss_subs_free(subs);
    ss_protocol_free(p);
    ss_storage_factory_free(storage);
    return 0;
}
