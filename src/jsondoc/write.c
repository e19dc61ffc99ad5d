/* The JSON writer of every typed layer (streamsy/json_doc.h): a jansson
 * value written the way JavaScript's JSON.stringify writes it, so the bytes
 * match Streamsy's (notes/streamsy-c-mapping.md §6):
 *  - no whitespace;
 *  - object keys that are array indices (canonical decimal below 2^32-1)
 *    first, ascending, then the other keys in insertion order;
 *  - strings: only '"', '\\' and U+0000..U+001F escaped (\b \t \n \f \r,
 *    else \u00xx in lower case), everything else raw UTF-8;
 *  - doubles: shortest round-trip digits in Number#toString layout, -0 as 0,
 *    non-finite as null.
 * Deliberate difference: jansson integers are written exactly, where JS
 * would round those beyond 2^53 to a double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "streamsy/alloc.h"
#include "streamsy/json_doc.h"

#define EMIT_MAX_DEPTH SS_JSON_MAX_DEPTH /* deeper is refused by the framer anyway; also stops cycles */

static ss_rc emit_value(ss_buf *b, const json_t *v, int depth);

static ss_rc emit_string(ss_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!ss_utf8_is_valid(ss_slice_of(s, n))) /* jansson's *_nocheck constructors let such strings in */
        return SS_BADARG;
    ss_rc rc = ss_buf_append(b, "\"", 1);
    size_t run = 0; /* bytes copied verbatim, flushed before each escape */
    for (size_t i = 0; i < n && rc == SS_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((rc = ss_buf_append(b, s + run, i - run)))
            break;
        run = i + 1;
        char esc[6] = {'\\', 0};
        size_t len = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        rc = ss_buf_append(b, esc, len);
    }
    if (rc == SS_OK)
        rc = ss_buf_append(b, s + run, n - run);
    return rc ? rc : ss_buf_append(b, "\"", 1);
}

/* Number#toString for a finite double. */
static ss_rc emit_real(ss_buf *b, double d) {
    if (!isfinite(d))
        return ss_buf_append_cstr(b, "null");
    if (d == 0)
        return ss_buf_append_cstr(b, "0");
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* tmp is "[-]D[.DDD]e[+-]XX": collect the digits and the exponent. */
    char digits[24];
    int k = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    for (p += neg; *p && *p != 'e' && *p != 'E'; p++)
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    int n = atoi(p + 1) + 1; /* the decimal point sits after n digits */
    while (k > 1 && digits[k - 1] == '0')
        k--;
    char out[48];
    size_t len = 0;
    if (neg)
        out[len++] = '-';
    if (k <= n && n <= 21) {
        memcpy(out + len, digits, (size_t)k);
        len += (size_t)k;
        for (int i = k; i < n; i++)
            out[len++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + len, digits, (size_t)n);
        len += (size_t)n;
        out[len++] = '.';
        memcpy(out + len, digits + n, (size_t)(k - n));
        len += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = n; i < 0; i++)
            out[len++] = '0';
        memcpy(out + len, digits, (size_t)k);
        len += (size_t)k;
    } else {
        out[len++] = digits[0];
        if (k > 1) {
            out[len++] = '.';
            memcpy(out + len, digits + 1, (size_t)(k - 1));
            len += (size_t)(k - 1);
        }
        len += (size_t)snprintf(out + len, sizeof out - len, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    return ss_buf_append(b, out, len);
}

/* An array index in JS property order: "0", or no leading zero, below 2^32-1. */
static bool array_index(const char *k, size_t len, uint32_t *out) {
    if (len == 0 || len > 10 || (len > 1 && k[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (k[i] < '0' || k[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    if (v >= 4294967295u)
        return false;
    *out = (uint32_t)v;
    return true;
}

typedef struct member {
    const char *key;
    size_t key_len;
    const json_t *value;
    uint32_t index;
} member;

static int by_index(const void *a, const void *b) {
    uint32_t x = ((const member *)a)->index, y = ((const member *)b)->index;
    return x < y ? -1 : x > y;
}

static ss_rc emit_member(ss_buf *b, bool *first, const char *key, size_t key_len, const json_t *v, int depth) {
    ss_rc rc = *first ? SS_OK : ss_buf_append(b, ",", 1);
    *first = false;
    if (rc || (rc = emit_string(b, key, key_len)) || (rc = ss_buf_append(b, ":", 1)))
        return rc;
    return emit_value(b, v, depth);
}

static ss_rc emit_object(ss_buf *b, const json_t *v, int depth) {
    const char *key;
    size_t key_len;
    json_t *m;
    size_t n_index = 0;
    uint32_t idx;
    json_object_keylen_foreach((json_t *)v, key, key_len, m) { n_index += array_index(key, key_len, &idx); }
    ss_rc rc = ss_buf_append(b, "{", 1);
    bool first = true;
    if (rc == SS_OK && n_index) {
        member *ms = ss_malloc(n_index * sizeof *ms);
        if (!ms)
            return SS_NOMEM;
        size_t i = 0;
        json_object_keylen_foreach((json_t *)v, key, key_len, m) {
            if (array_index(key, key_len, &idx))
                ms[i++] = (member){key, key_len, m, idx};
        }
        qsort(ms, n_index, sizeof *ms, by_index);
        for (i = 0; i < n_index && rc == SS_OK; i++)
            rc = emit_member(b, &first, ms[i].key, ms[i].key_len, ms[i].value, depth);
        ss_free(ms);
    }
    json_object_keylen_foreach((json_t *)v, key, key_len, m) {
        if (rc)
            break;
        if (!n_index || !array_index(key, key_len, &idx))
            rc = emit_member(b, &first, key, key_len, m, depth);
    }
    return rc ? rc : ss_buf_append(b, "}", 1);
}

static ss_rc emit_value(ss_buf *b, const json_t *v, int depth) {
    if (depth > EMIT_MAX_DEPTH)
        return SS_BADARG;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return emit_object(b, v, depth + 1);
    case JSON_ARRAY: {
        ss_rc rc = ss_buf_append(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v) && rc == SS_OK; i++) {
            if (i)
                rc = ss_buf_append(b, ",", 1);
            if (rc == SS_OK)
                rc = emit_value(b, json_array_get(v, i), depth + 1);
        }
        return rc ? rc : ss_buf_append(b, "]", 1);
    }
    case JSON_STRING:
        return emit_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return ss_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return emit_real(b, json_real_value(v));
    case JSON_TRUE:
        return ss_buf_append_cstr(b, "true");
    case JSON_FALSE:
        return ss_buf_append_cstr(b, "false");
    case JSON_NULL:
        return ss_buf_append_cstr(b, "null");
    }
    return SS_BADARG;
}

ss_rc ss_json_doc_write(const json_t *v, ss_buf *out) { return v ? emit_value(out, v, 0) : SS_BADARG; }
