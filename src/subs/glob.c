/* Stream globs and the safety of webhook targets.
 *
 * Globs: '*' matches exactly one path segment, '**' zero or more, any other
 * segment itself ("%2A" counts as '*'); leading and trailing '/' are ignored.
 *
 * Targets: http only to "localhost" or 127.x.x.x; https never to localhost,
 * an IPv4 literal in 0/8, 10/8, 127/8, 169.254/16 (cloud metadata included),
 * 172.16/12 or 192.168/16, nor to any IPv6 literal. A host name is checked
 * again at connect time against every address it resolved to (the same
 * ranges, plus IPv6 loopback, link-local, unique-local and v4-mapped ones
 * for https; loopback only for http), so DNS cannot point a webhook inside. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>

#include "internal.h"
#include "streamsy/alloc.h"

char *ss__subs_normalize_path(const char *p, size_t len) {
    while (len && *p == '/')
        p++, len--;
    while (len && p[len - 1] == '/')
        len--;
    char *out = ss_malloc(len + 1);
    if (out) {
        memcpy(out, p, len);
        out[len] = '\0';
    }
    return out;
}

/* The next segment of s (skipping empty ones): its start and length, or false at the end. */
static bool next_segment(const char **s, const char **seg, size_t *len) {
    while (**s == '/')
        (*s)++;
    if (!**s)
        return false;
    *seg = *s;
    while (**s && **s != '/')
        (*s)++;
    *len = (size_t)(*s - *seg);
    return true;
}

static bool literal_matches(const char *pat, size_t plen, const char *seg, size_t slen) {
    size_t i = 0, j = 0;
    while (i < plen && j < slen) {
        if (pat[i] == '%' && i + 2 < plen && pat[i + 1] == '2' && (pat[i + 2] == 'A' || pat[i + 2] == 'a')) {
            if (seg[j] != '*')
                return false;
            i += 3, j++;
        } else if (pat[i++] != seg[j++]) {
            return false;
        }
    }
    return i == plen && j == slen;
}

bool ss__subs_glob_match(const char *pattern, const char *path) {
    const char *p = pattern, *s = path, *pseg, *sseg;
    size_t plen, slen;
    while (next_segment(&p, &pseg, &plen)) {
        if (plen == 2 && pseg[0] == '*' && pseg[1] == '*') {
            while (true) { /* the rest of the pattern against every suffix of the path */
                if (ss__subs_glob_match(p, s))
                    return true;
                if (!next_segment(&s, &sseg, &slen))
                    return false;
            }
        }
        if (!next_segment(&s, &sseg, &slen))
            return false;
        if (!(plen == 1 && pseg[0] == '*') && !literal_matches(pseg, plen, sseg, slen))
            return false;
    }
    return !next_segment(&s, &sseg, &slen);
}

/* ---- webhook targets ------------------------------------------------------------------------ */

static bool ipv4_refused_for_https(uint32_t a) { /* host order */
    unsigned b0 = a >> 24, b1 = (a >> 16) & 255;
    return b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 169 && b1 == 254) || (b0 == 172 && b1 >= 16 && b1 <= 31) ||
           (b0 == 192 && b1 == 168);
}

/* Splits "scheme://[userinfo@]host[:port][/...]" into the scheme and the lowercased host. */
static bool split_url(const char *url, char *scheme, size_t scap, char *host, size_t hcap) {
    const char *colon = strstr(url, "://");
    if (!colon || (size_t)(colon - url) >= scap || colon == url)
        return false;
    for (size_t i = 0; url + i < colon; i++)
        scheme[i] = (char)tolower((unsigned char)url[i]);
    scheme[colon - url] = '\0';
    const char *a = colon + 3, *end = a + strcspn(a, "/?#");
    const char *at = memchr(a, '@', (size_t)(end - a));
    if (at)
        a = at + 1;
    const char *h_end;
    if (*a == '[') {
        h_end = memchr(a, ']', (size_t)(end - a));
        if (!h_end)
            return false;
        h_end++;
    } else {
        h_end = a + strcspn(a, ":/?#");
        if (h_end > end)
            h_end = end;
    }
    size_t n = (size_t)(h_end - a);
    if (!n || n >= hcap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= ' ' || c >= 127)
            return false;
        host[i] = (char)tolower(c);
    }
    host[n] = '\0';
    return true;
}

static bool is_dotted_ipv4(const char *host, uint32_t *out) {
    struct in_addr in;
    int parts = 0;
    for (const char *c = host; *c; c++) {
        if (*c == '.')
            parts++;
        else if (*c < '0' || *c > '9')
            return false;
    }
    if (parts != 3 || inet_pton(AF_INET, host, &in) != 1)
        return false;
    *out = ntohl(in.s_addr);
    return true;
}

const char *ss__subs_url_refusal(const char *url) {
    char scheme[16], host[256];
    if (!split_url(url, scheme, sizeof scheme, host, sizeof host))
        return "webhook.url must be a valid URL";
    uint32_t v4;
    bool literal_v4 = is_dotted_ipv4(host, &v4);
    if (strcmp(scheme, "http") == 0) {
        if (strcmp(host, "localhost") == 0 || (literal_v4 && (v4 >> 24) == 127))
            return NULL;
        return "http webhook URLs are only allowed for localhost or 127.0.0.x";
    }
    if (strcmp(scheme, "https") != 0)
        return "webhook.url must use https";
    if (strcmp(host, "localhost") == 0)
        return "localhost webhook URLs must use http for dev";
    if (literal_v4 && ipv4_refused_for_https(v4))
        return "webhook.url must not target private or link-local hosts";
    if (host[0] == '[')
        return "IPv6 webhook hosts are not accepted";
    return NULL;
}

bool ss__subs_address_allowed(bool https, const struct sockaddr *a) {
    if (a->sa_family == AF_INET) {
        uint32_t v4 = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
        return https ? !ipv4_refused_for_https(v4) : (v4 >> 24) == 127;
    }
    if (a->sa_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
        if (!https)
            return IN6_IS_ADDR_LOOPBACK(v6);
        bool unique_local = (v6->s6_addr[0] & 0xfe) == 0xfc;
        return !(IN6_IS_ADDR_LOOPBACK(v6) || IN6_IS_ADDR_LINKLOCAL(v6) || IN6_IS_ADDR_SITELOCAL(v6) ||
                 IN6_IS_ADDR_V4MAPPED(v6) || IN6_IS_ADDR_V4COMPAT(v6) || IN6_IS_ADDR_UNSPECIFIED(v6) ||
                 unique_local);
    }
    return false;
}
