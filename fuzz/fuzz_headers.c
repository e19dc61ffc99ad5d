/* Fuzz target: the parsers of protocol header and query values: offsets,
 * producer epoch/seq and TTL integers, Stream-Expires-At timestamps, stream
 * paths (percent-decoding, the canonical id), Host and query strings.
 *
 * Input: the first byte picks the parser, the rest is the value. Checked:
 * offsets that parse compare equal to themselves and print back as given;
 * accepted integers print back as the digits given; a canonical stream id
 * is canonical (decoding it again changes nothing). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/internal.h"
#include "streamsy/streamsy.h"

static ss_protocol *p;
static ss_handler *h;

static void setup(void) {
    ss_stream_factory *storage;
    if (ss_memory_factory_new(NULL, &storage) || ss_protocol_new(&(ss_protocol_options){.storage = storage}, &p) ||
        ss_handler_new(&(ss_handler_options){.protocol = p}, &h))
        abort();
}

static void check_offset(ss_slice v) {
    ss_offset o;
    if (ss_offset_set(&o, v) != SS_OK)
        return;
    if (!ss_slice_eq(ss_offset_slice(&o), v) || ss_offset_cmp(&o, &o) != 0)
        abort();
    (void)ss_protocol_is_valid_offset(p, v);
}

static void check_int(ss_slice v, bool strict) {
    uint64_t n;
    if (!(strict ? ss__parse_int_strict(v, &n) : ss__parse_int_digits(v, &n)))
        return;
    if (!strict && n > 9007199254740991u)
        abort(); /* producer epoch/seq stay exact in JavaScript */
    char back[32];
    int len = snprintf(back, sizeof back, "%" PRIu64, n);
    if (strict && !ss_slice_eq(v, ss_slice_of(back, (size_t)len)))
        abort(); /* strict: no leading zeros, no sign, nothing but the digits */
}

static void check_stream_id(ss_slice v) {
    ss_arena a;
    ss_arena_init(&a);
    char path[2048];
    if (v.len + 16 < sizeof path) {
        int n = snprintf(path, sizeof path, "/v1/stream/%.*s", (int)v.len, v.p);
        ss_slice id;
        if (ss__stream_id(h, ss_slice_of(path, (size_t)n), &a, &id) == SS__ID_OK &&
            memchr(id.p, '%', id.len) == NULL) {
            /* without a '%' the canonical id decodes to itself */
            n = snprintf(path, sizeof path, "/v1/stream/%.*s", (int)id.len, id.p);
            ss_slice again;
            if (ss__stream_id(h, ss_slice_of(path, (size_t)n), &a, &again) != SS__ID_OK || !ss_slice_eq(id, again))
                abort();
        }
    }
    ss_arena_release(&a);
}

static void check_query(ss_slice v) {
    ss_http_request r = {.method = ss_slice_cstr("GET"), .path = ss_slice_cstr("/v1/stream/a"), .query = v};
    ss_arena a;
    ss_arena_init(&a);
    ss_slice out;
    size_t count;
    const char *names[] = {"offset", "live", "cursor"};
    for (size_t i = 0; i < 3; i++)
        if (ss__query(&r, names[i], &a, &out, &count) == SS_OK && count > 0 && out.len > v.len)
            abort(); /* a decoded value is never longer than the query */
    ss_arena_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!p)
        setup();
    if (size == 0)
        return 0;
    ss_slice v = ss_slice_of((const char *)data + 1, size - 1);
    int64_t ms;
    switch (data[0] % 7) {
    case 0:
        check_offset(v);
        break;
    case 1:
        check_int(v, false);
        break;
    case 2:
        check_int(v, true);
        break;
    case 3:
        (void)ss_parse_rfc3339(v, &ms);
        break;
    case 4:
        check_stream_id(v);
        break;
    case 5:
        (void)ss__valid_authority(v);
        break;
    case 6:
        check_query(v);
        break;
    }
    return 0;
}
