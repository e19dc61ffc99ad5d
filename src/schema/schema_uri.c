/* URI reference resolution (RFC 3986 §5.2) and JSON Pointer (RFC 6901)
 * lookup for $id and $ref. Compile time only. */
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"
#include "streamsy/alloc.h"

typedef struct part {
    const char *p;
    size_t len;
    bool defined;
} part;

typedef struct uri {
    part scheme, authority, path, query, fragment;
} uri;

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* RFC 3986 appendix B: ^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))? */
static uri parse(const char *s) {
    uri u;
    memset(&u, 0, sizeof u);
    size_t n = strlen(s), i = 0;
    size_t k = 0;
    while (k < n && !strchr(":/?#", s[k]))
        k++;
    if (k > 0 && k < n && s[k] == ':' && is_alpha(s[0])) {
        u.scheme = (part){s, k, true};
        i = k + 1;
    }
    if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
        size_t a = i + 2, e = a;
        while (e < n && !strchr("/?#", s[e]))
            e++;
        u.authority = (part){s + a, e - a, true};
        i = e;
    }
    size_t e = i;
    while (e < n && s[e] != '?' && s[e] != '#')
        e++;
    u.path = (part){s + i, e - i, true};
    i = e;
    if (i < n && s[i] == '?') {
        e = i + 1;
        while (e < n && s[e] != '#')
            e++;
        u.query = (part){s + i + 1, e - i - 1, true};
        i = e;
    }
    if (i < n && s[i] == '#')
        u.fragment = (part){s + i + 1, n - i - 1, true};
    return u;
}

/* RFC 3986 §5.2.4, in place on a NUL-terminated copy; returns its length. */
static size_t remove_dot_segments(char *in, size_t len) {
    char *out = ss_malloc(len + 1);
    if (!out)
        return (size_t)-1;
    size_t o = 0, i = 0;
    while (i < len) {
        const char *p = in + i;
        size_t rest = len - i;
        if (rest >= 3 && memcmp(p, "../", 3) == 0) {
            i += 3;
        } else if (rest >= 2 && memcmp(p, "./", 2) == 0) {
            i += 2;
        } else if (rest >= 3 && memcmp(p, "/./", 3) == 0) {
            i += 2;
        } else if (rest == 2 && memcmp(p, "/.", 2) == 0) {
            in[i + 1] = '/';
            i += 1;
        } else if ((rest >= 4 && memcmp(p, "/../", 4) == 0) || (rest == 3 && memcmp(p, "/..", 3) == 0)) {
            if (rest == 3) {
                in[i + 2] = '/';
                i += 2;
            } else {
                i += 3;
            }
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if ((rest == 1 && p[0] == '.') || (rest == 2 && memcmp(p, "..", 2) == 0)) {
            i = len;
        } else {
            size_t j = (p[0] == '/') ? 1 : 0;
            while (j < rest && p[j] != '/')
                j++;
            memcpy(out + o, p, j);
            o += j;
            i += j;
        }
    }
    memcpy(in, out, o);
    in[o] = '\0';
    ss_free(out);
    return o;
}

static void put(char **w, const char *p, size_t n) {
    memcpy(*w, p, n);
    *w += n;
}

char *ss__sch_uri_resolve(const char *base, const char *ref) {
    uri b = parse(base), r = parse(ref), t;
    memset(&t, 0, sizeof t);
    bool merge = false, dots = true;
    if (r.scheme.defined) {
        t.scheme = r.scheme;
        t.authority = r.authority;
        t.path = r.path;
        t.query = r.query;
    } else {
        if (r.authority.defined) {
            t.authority = r.authority;
            t.path = r.path;
            t.query = r.query;
        } else {
            if (r.path.len == 0) {
                t.path = b.path;
                t.query = r.query.defined ? r.query : b.query;
                dots = false;
            } else if (r.path.p[0] == '/') {
                t.path = r.path;
                t.query = r.query;
            } else {
                merge = true;
                t.query = r.query;
            }
            t.authority = b.authority;
        }
        t.scheme = b.scheme;
    }
    t.fragment = r.fragment;

    size_t cap = strlen(base) + strlen(ref) + 8;
    char *path = ss_malloc(cap);
    char *res = ss_malloc(cap);
    if (!path || !res) {
        ss_free(path);
        ss_free(res);
        return NULL;
    }
    size_t plen;
    if (merge) {
        /* §5.2.3: base path up to its last "/", or "/" for an authority with
         * an empty path. */
        if (b.authority.defined && b.path.len == 0) {
            path[0] = '/';
            plen = 1;
        } else {
            plen = b.path.len;
            while (plen > 0 && b.path.p[plen - 1] != '/')
                plen--;
            memcpy(path, b.path.p, plen);
        }
        memcpy(path + plen, r.path.p, r.path.len);
        plen += r.path.len;
    } else {
        memcpy(path, t.path.p ? t.path.p : "", t.path.len);
        plen = t.path.len;
    }
    path[plen] = '\0';
    if (dots) {
        plen = remove_dot_segments(path, plen);
        if (plen == (size_t)-1) {
            ss_free(path);
            ss_free(res);
            return NULL;
        }
    }

    char *w = res;
    if (t.scheme.defined) {
        put(&w, t.scheme.p, t.scheme.len);
        put(&w, ":", 1);
    }
    if (t.authority.defined) {
        put(&w, "//", 2);
        put(&w, t.authority.p, t.authority.len);
    }
    put(&w, path, plen);
    if (t.query.defined) {
        put(&w, "?", 1);
        put(&w, t.query.p, t.query.len);
    }
    if (t.fragment.defined) {
        put(&w, "#", 1);
        put(&w, t.fragment.p, t.fragment.len);
    }
    *w = '\0';
    ss_free(path);
    return res;
}

ss_rc ss__sch_uri_decode(const char *s, size_t len, char **out, size_t *out_len) {
    char *d = ss_malloc(len + 1);
    if (!d)
        return SS_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            d[o++] = s[i];
            continue;
        }
        int hi = i + 2 < len ? ss_hex_value(s[i + 1]) : -1, lo = i + 2 < len ? ss_hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            ss_free(d);
            return SS_BADARG;
        }
        d[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[o] = '\0';
    *out = d;
    *out_len = o;
    return SS_OK;
}

const json_t *ss__sch_pointer_get(const json_t *root, const char *ptr, size_t len) {
    if (len == 0)
        return root;
    if (ptr[0] != '/')
        return NULL;
    char *tok = ss_malloc(len);
    if (!tok)
        return NULL;
    const json_t *cur = root;
    size_t i = 1;
    for (;;) {
        size_t t = 0;
        while (i < len && ptr[i] != '/') {
            char c = ptr[i++];
            if (c == '~') {
                char e = i < len ? ptr[i++] : '\0';
                if (e == '0')
                    c = '~';
                else if (e == '1')
                    c = '/';
                else {
                    cur = NULL;
                    goto done;
                }
            }
            tok[t++] = c;
        }
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, t);
        } else if (json_is_array(cur)) {
            size_t idx = 0;
            bool ok = t > 0 && (t == 1 || tok[0] != '0');
            for (size_t k = 0; ok && k < t; k++) {
                ok = is_digit(tok[k]) && idx <= (SIZE_MAX - 9) / 10;
                idx = idx * 10 + (size_t)(tok[k] - '0');
            }
            cur = ok ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
        if (!cur || i >= len)
            break;
        i++; /* the '/' */
    }
done:
    ss_free(tok);
    return cur;
}
