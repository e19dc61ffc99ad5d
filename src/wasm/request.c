/* The request encoding of the shim (front.h), decoded with every length
 * checked against what is left. */
#include <string.h>

#include "front.h"

typedef struct cursor {
    const unsigned char *p, *end;
    bool bad;
} cursor;

static uint32_t get_u32(cursor *c) {
    if (c->bad || c->end - c->p < 4) {
        c->bad = true;
        return 0;
    }
    uint32_t v = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[3] << 24;
    c->p += 4;
    return v;
}

static ss_slice get_str(cursor *c) {
    uint32_t n = get_u32(c);
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = true;
        return SS_SLICE_NULL;
    }
    ss_slice s = ss_slice_of(c->p, n);
    c->p += n;
    return s;
}

ss_rc ss__wasm_decode_request(ss_slice bytes, ss_arena *a, ss_http_request *out) {
    cursor c = {(const unsigned char *)bytes.p, (const unsigned char *)bytes.p + bytes.len, false};
    ss_http_request r = {0};
    r.method = get_str(&c);
    r.path = get_str(&c);
    r.query = get_str(&c);
    r.scheme = get_str(&c);
    r.authority = get_str(&c);
    uint32_t n = get_u32(&c);
    if (c.bad || n > (size_t)(c.end - c.p) / 8)
        return SS_BADARG;
    ss_http_header *h = n ? ss_arena_alloc(a, n * sizeof *h) : NULL;
    if (n && !h)
        return SS_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        h[i].name = get_str(&c);
        h[i].value = get_str(&c);
    }
    uint32_t flags = get_u32(&c);
    r.body = get_str(&c);
    if (c.bad || c.p != c.end || (flags & ~1u))
        return SS_BADARG;
    r.headers = h;
    r.n_headers = n;
    r.body_too_large = flags & 1u;
    *out = r;
    return SS_OK;
}
