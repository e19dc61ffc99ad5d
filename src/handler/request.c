/* Request parsing: headers, query parameters, integer grammars, paths. */
#include <string.h>

#include "base/json_scan.h"
#include "internal.h"

ss_slice ss__header(const ss_http_request *r, const char *name, bool *present) {
    for (size_t i = 0; i < r->n_headers; i++)
        if (ss_slice_ieq_cstr(r->headers[i].name, name)) {
            if (present)
                *present = true;
            return r->headers[i].value;
        }
    if (present)
        *present = false;
    return SS_SLICE_NULL;
}

bool ss__flag(const ss_http_request *r, const char *name) {
    return ss_slice_ieq_cstr(ss__header(r, name, NULL), "true");
}

/* application/x-www-form-urlencoded decoding: %XX and '+' as space. A
 * malformed escape is kept literally (it then fails offset validation). */
static ss_rc url_decode(ss_slice in, ss_arena *a, ss_slice *out) {
    char *d = ss_arena_alloc(a, in.len + 1);
    if (!d)
        return SS_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.p[i];
        int hi, lo;
        if (c == '%' && i + 2 < in.len && (hi = ss_hex_value(in.p[i + 1])) >= 0 &&
            (lo = ss_hex_value(in.p[i + 2])) >= 0) {
            d[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[n++] = c == '+' ? ' ' : c;
        }
    }
    d[n] = '\0';
    *out = (ss_slice){d, n};
    return SS_OK;
}

ss_rc ss__query(const ss_http_request *r, const char *name, ss_arena *a, ss_slice *out, size_t *count) {
    size_t nlen = strlen(name), found = 0;
    ss_slice q = r->query;
    size_t i = 0;
    *out = SS_SLICE_NULL;
    while (i <= q.len && q.len) {
        size_t end = i;
        while (end < q.len && q.p[end] != '&')
            end++;
        ss_slice pair = {q.p + i, end - i};
        size_t eq = 0;
        while (eq < pair.len && pair.p[eq] != '=')
            eq++;
        ss_slice key;
        ss_rc rc = url_decode((ss_slice){pair.p, eq}, a, &key);
        if (rc)
            return rc;
        if (key.len == nlen && memcmp(key.p, name, nlen) == 0) {
            if (found++ == 0) {
                ss_slice raw = eq < pair.len ? (ss_slice){pair.p + eq + 1, pair.len - eq - 1} : SS_SLICE_NULL;
                if ((rc = url_decode(raw, a, out)))
                    return rc;
            }
        }
        i = end + 1;
    }
    *count = found;
    return SS_OK;
}

/* Decimal digits only, at most `max`, without overflow. */
static bool parse_decimal(ss_slice s, uint64_t max, uint64_t *out) {
    if (s.len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s.p[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool ss__parse_int_strict(ss_slice s, uint64_t *out) {
    return !(s.len > 1 && s.p[0] == '0') && parse_decimal(s, UINT64_MAX, out);
}

bool ss__parse_int_digits(ss_slice s, uint64_t *out) { return parse_decimal(s, (UINT64_C(1) << 53) - 1, out); }

/* True when a decoded id has a "." or ".." segment. */
static bool has_dot_segment(ss_slice id) {
    size_t seg = 0;
    for (size_t i = 0; i <= id.len; i++) {
        if (i < id.len && id.p[i] != '/')
            continue;
        size_t n = i - seg;
        if ((n == 1 && id.p[seg] == '.') || (n == 2 && id.p[seg] == '.' && id.p[seg + 1] == '.'))
            return true;
        seg = i + 1;
    }
    return false;
}

ss__id_status ss__stream_id(const ss_handler *h, ss_slice path, ss_arena *a, ss_slice *out) {
    if (path.len <= h->prefix_len + 1 || memcmp(path.p, h->prefix, h->prefix_len) != 0 ||
        path.p[h->prefix_len] != '/')
        return SS__ID_NONE;
    ss_slice raw = {path.p + h->prefix_len + 1, path.len - h->prefix_len - 1};
    if (!memchr(raw.p, '%', raw.len)) { /* the common case: nothing to decode, no copy */
        if (!ss_utf8_is_valid(raw) || memchr(raw.p, '\0', raw.len) || has_dot_segment(raw))
            return SS__ID_INVALID;
        *out = raw;
        return SS__ID_OK;
    }
    char *d = ss_arena_alloc(a, raw.len + 1);
    if (!d)
        return SS__ID_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < raw.len; i++) {
        if (raw.p[i] != '%') {
            d[n++] = raw.p[i];
            continue;
        }
        int hi = i + 2 < raw.len ? ss_hex_value(raw.p[i + 1]) : -1;
        int lo = hi >= 0 ? ss_hex_value(raw.p[i + 2]) : -1;
        if (lo < 0)
            return SS__ID_INVALID; /* '%' not followed by two hex digits */
        d[n++] = (char)(hi * 16 + lo);
        i += 2;
    }
    ss_slice id = ss_slice_of(d, n);
    if (!ss_utf8_is_valid(id) || memchr(d, '\0', n) || has_dot_segment(id))
        return SS__ID_INVALID;
    *out = id;
    return SS__ID_OK;
}
