/* Loading JSON text into jansson values for the typed layers, fast.
 *
 * jansson's own reader lexes one character at a time through a stream
 * callback: about 25 us for a 1 KiB object here, which would dominate an
 * enforced append. Instead the strict scanner (base/json_scan.h, ~1.5 us/KiB)
 * validates first, with exactly the rules the protocol applies to the same
 * bytes, and this file builds the values from text already known to be valid,
 * with the *_nocheck constructors.
 *
 * Value mapping: integers that fit json_int_t become integers, every other
 * number a real (as JavaScript reads it); a number beyond the double range
 * becomes null, which is what JavaScript would store for it (Infinity
 * stringifies as null). Strings keep U+0000; a lone surrogate escape
 * ("\ud800", valid JSON) becomes U+FFFD because jansson strings are UTF-8.
 * Duplicate keys: the last value wins, as in JavaScript. strtod assumes the
 * C numeric locale (the library never calls setlocale). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "streamsy/alloc.h"
#include <stdio.h>

#include "streamsy/json_doc.h"

typedef struct loader {
    const char *p, *end;
    char *scratch; /* unescaped strings and number text; malloc'd, grown on demand */
    size_t cap;
} loader;

static void skip_ws(loader *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
        l->p++;
}

static bool reserve(loader *l, size_t n) {
    if (n <= l->cap)
        return true;
    size_t cap = l->cap ? l->cap : 256;
    while (cap < n)
        cap *= 2;
    char *s = ss_realloc(l->scratch, cap);
    if (!s)
        return false;
    l->scratch = s;
    l->cap = cap;
    return true;
}

static unsigned hex4(const char *p) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At the opening quote. Sets *s and *n to the decoded bytes: a view into the
 * input when there is no escape, else into l->scratch. */
static bool read_string(loader *l, const char **s, size_t *n) {
    const char *start = ++l->p;
    while (*l->p != '"' && *l->p != '\\')
        l->p++;
    if (*l->p == '"') {
        *s = start;
        *n = (size_t)(l->p++ - start);
        return true;
    }
    /* Escapes: decoding never grows the text (\uXXXX is 6 bytes for at most
     * 3, a surrogate pair 12 for 4). */
    const char *q = l->p;
    while (*q != '"')
        q += *q == '\\' ? 2 : 1;
    if (!reserve(l, (size_t)(q - start)))
        return false;
    size_t len = (size_t)(l->p - start);
    memcpy(l->scratch, start, len);
    while (*l->p != '"') {
        if (*l->p != '\\') {
            l->scratch[len++] = *l->p++;
            continue;
        }
        char e = l->p[1];
        l->p += 2;
        switch (e) {
        case 'b':
            l->scratch[len++] = '\b';
            break;
        case 'f':
            l->scratch[len++] = '\f';
            break;
        case 'n':
            l->scratch[len++] = '\n';
            break;
        case 'r':
            l->scratch[len++] = '\r';
            break;
        case 't':
            l->scratch[len++] = '\t';
            break;
        case 'u': {
            unsigned cp = hex4(l->p);
            l->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && l->p[0] == '\\' && l->p[1] == 'u') {
                unsigned lo = hex4(l->p + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    l->p += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD;
            len += put_utf8(l->scratch + len, cp);
            break;
        }
        default: /* '"', '\\', '/' */
            l->scratch[len++] = e;
        }
    }
    l->p++;
    *s = l->scratch;
    *n = len;
    return true;
}

static json_t *read_number(loader *l) {
    const char *start = l->p;
    bool integral = true;
    while (l->p < l->end && (strchr("0123456789+-.eE", *l->p) && *l->p)) {
        integral &= *l->p != '.' && *l->p != 'e' && *l->p != 'E';
        l->p++;
    }
    size_t n = (size_t)(l->p - start);
    if (integral && n <= 19) { /* fits unless close to the limit: checked below */
        bool neg = *start == '-';
        uint64_t v = 0;
        for (const char *c = start + neg; c < l->p; c++)
            v = v * 10 + (uint64_t)(*c - '0');
        if (v <= (uint64_t)INT64_MAX + neg)
            return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
    }
    if (!reserve(l, n + 1))
        return NULL;
    memcpy(l->scratch, start, n);
    l->scratch[n] = '\0';
    double d = strtod(l->scratch, NULL);
    return isfinite(d) ? json_real(d) : json_null();
}

static json_t *read_value(loader *l);

static json_t *read_array(loader *l) {
    json_t *a = json_array();
    l->p++;
    skip_ws(l);
    if (*l->p == ']') {
        l->p++;
        return a;
    }
    while (a) {
        json_t *v = read_value(l);
        if (!v || json_array_append_new(a, v)) {
            json_decref(a);
            return NULL;
        }
        skip_ws(l);
        if (*l->p++ == ']')
            break;
        skip_ws(l); /* after ',' */
    }
    return a;
}

static json_t *read_object(loader *l) {
    json_t *o = json_object();
    l->p++;
    skip_ws(l);
    if (*l->p == '}') {
        l->p++;
        return o;
    }
    while (o) {
        const char *k;
        size_t kn;
        char small[64], *key = small;
        if (!read_string(l, &k, &kn))
            goto fail;
        /* The key may live in scratch, which the value can reuse: copy it. */
        if (kn > sizeof small && !(key = ss_malloc(kn)))
            goto fail;
        memcpy(key, k, kn);
        skip_ws(l);
        l->p++; /* ':' */
        skip_ws(l);
        json_t *v = read_value(l);
        int bad = !v || json_object_setn_new_nocheck(o, key, kn, v);
        if (key != small)
            ss_free(key);
        if (bad)
            goto fail;
        skip_ws(l);
        if (*l->p++ == '}')
            break;
        skip_ws(l);
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

static json_t *read_value(loader *l) {
    skip_ws(l);
    switch (*l->p) {
    case '{':
        return read_object(l);
    case '[':
        return read_array(l);
    case '"': {
        const char *s;
        size_t n;
        return read_string(l, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
    }
    case 't':
        l->p += 4;
        return json_true();
    case 'f':
        l->p += 5;
        return json_false();
    case 'n':
        l->p += 4;
        return json_null();
    default:
        return read_number(l);
    }
}

ss_rc ss_json_doc_parse(ss_slice bytes, json_t **out, ss_json_error *err) {
    const char *why = ss_json_invalid_reason(bytes);
    if (why) {
        if (err) {
            memset(err->path, 0, sizeof err->path);
            ss_json_error_set(err, "json", "invalid JSON: %s", why);
        }
        return SS_BADARG;
    }
    loader l = {bytes.p, bytes.p + bytes.len, NULL, 0};
    json_t *j = read_value(&l);
    ss_free(l.scratch);
    if (!j)
        return SS_NOMEM;
    *out = j;
    return SS_OK;
}
