/* The safety of webhook targets.
 *
 * At creation (ss__subs_url_refusal): http only to "localhost" or 127/8;
 * https never to localhost, to an IPv4 address in a private, loopback,
 * link-local (cloud metadata), shared (100.64/10), IETF (192.0.0/24),
 * benchmarking, multicast or reserved range, nor to any IPv6 literal. Hosts are read the way a
 * browser's URL parser reads them: percent-decoded, lowercased, one trailing
 * dot dropped, and a host that ends in a number is an IPv4 address in any
 * of its forms (2130706433, 0x7f.1, 0177.0.0.1, 127.1). URLs that parsers
 * may read differently (a backslash, whitespace or control bytes, two '@' in
 * the authority) are refused outright.
 *
 * At connect time (ss__subs_address_allowed, from libcurl's open-socket
 * callback): every address a name resolved to must pass the same test, plus
 * IPv6 loopback, link-local, unique-local, multicast, v4-mapped and
 * v4-embedding (NAT64, 6to4, Teredo) ones for https, and loopback only for
 * http, so DNS cannot point a webhook inside. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool ipv4_refused_for_https(uint32_t a) { /* host order */
    unsigned b0 = a >> 24, b1 = (a >> 16) & 255;
    return b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 100 && b1 >= 64 && b1 <= 127) || (b0 == 169 && b1 == 254) ||
           (b0 == 172 && b1 >= 16 && b1 <= 31) || (b0 == 192 && b1 == 168) ||
           (b0 == 192 && b1 == 0 && ((a >> 8) & 255) == 0) || (b0 == 198 && (b1 == 18 || b1 == 19)) ||
           b0 >= 224; /* multicast, reserved, broadcast */
}

/* Splits the URL into its lowercased scheme and its host as a browser reads
 * it (percent-decoded, lowercased, without a trailing dot; "[...]" kept for
 * IPv6). False for a URL to refuse outright. */
static bool split_url(const char *url, char *scheme, size_t scap, char *host, size_t hcap) {
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '\\' || *c == 127)
            return false;
    const char *colon = strstr(url, "://");
    if (!colon || colon == url || (size_t)(colon - url) >= scap)
        return false;
    for (size_t i = 0; url + i < colon; i++)
        scheme[i] = (char)tolower((unsigned char)url[i]);
    scheme[colon - url] = '\0';
    const char *a = colon + 3, *end = a + strcspn(a, "/?#");
    const char *at = memchr(a, '@', (size_t)(end - a));
    if (at) {
        if (memchr(at + 1, '@', (size_t)(end - at - 1)))
            return false; /* which '@' ends the userinfo depends on the parser */
        a = at + 1;
    }
    const char *h_end = *a == '[' ? memchr(a, ']', (size_t)(end - a)) : a + strcspn(a, ":/?#");
    if (!h_end)
        return false;
    if (*a == '[')
        h_end++;
    if (h_end > end)
        h_end = end;
    size_t n = 0;
    for (const char *c = a; c < h_end; c++) {
        char ch = *c;
        if (ch == '%') {
            int hi = c + 2 < h_end ? ss_hex_value(c[1]) : -1, lo = hi >= 0 ? ss_hex_value(c[2]) : -1;
            if (lo < 0)
                return false;
            ch = (char)(hi * 16 + lo);
            c += 2;
            if ((unsigned char)ch <= ' ' || ch == '%' || ch == '/' || ch == '@' || ch == ':')
                return false;
        }
        if (n + 1 >= hcap)
            return false;
        host[n++] = (char)tolower((unsigned char)ch);
    }
    if (n && host[n - 1] == '.')
        n--;
    host[n] = '\0';
    return n > 0;
}

/* One part of an IPv4 host the WHATWG way: 0x hex, leading-0 octal, decimal. */
static bool ipv4_part(const char *p, size_t n, uint64_t *out) {
    int base = 10;
    if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2, n -= 2;
    else if (n >= 2 && p[0] == '0')
        base = 8, p++, n--;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = ss_hex_value(p[i]);
        if (d < 0 || d >= base || v > 0xffffffffu)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return true;
}

/* A host that ends in a number is an IPv4 address: *is_ipv4 set, and false
 * when it is not a valid one (to refuse). */
static bool parse_ipv4(const char *host, bool *is_ipv4, uint32_t *out) {
    const char *last = strrchr(host, '.');
    last = last ? last + 1 : host;
    bool digits = *last != '\0', hex = last[0] == '0' && (last[1] == 'x' || last[1] == 'X');
    for (const char *c = hex ? last + 2 : last; *c; c++)
        digits = digits && (hex ? ss_hex_value(*c) >= 0 : (*c >= '0' && *c <= '9'));
    *is_ipv4 = digits;
    if (!digits)
        return true;
    uint64_t parts[4];
    size_t n = 0;
    for (const char *p = host;; n++) {
        size_t len = strcspn(p, ".");
        if (n == 4 || !len || !ipv4_part(p, len, &parts[n]))
            return false;
        if (!p[len]) {
            n++;
            break;
        }
        p += len + 1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (parts[i] > 255)
            return false;
        v |= parts[i] << (8 * (3 - i));
    }
    if (parts[n - 1] >= (1ull << (8 * (5 - n))))
        return false;
    *out = (uint32_t)(v | parts[n - 1]);
    return true;
}

bool ss__subs_url_is_https(const char *url) { return strncasecmp(url, "https:", 6) == 0; }

const char *ss__subs_url_refusal(const char *url) {
    char scheme[16], host[256];
    if (!split_url(url, scheme, sizeof scheme, host, sizeof host))
        return "webhook.url must be a valid URL";
    bool is_ipv4 = false;
    uint32_t v4 = 0;
    if (host[0] != '[' && !parse_ipv4(host, &is_ipv4, &v4))
        return "webhook.url has an invalid IPv4 host";
    if (strcmp(scheme, "http") == 0) {
        if (strcmp(host, "localhost") == 0 || (is_ipv4 && (v4 >> 24) == 127))
            return NULL;
        return "http webhook URLs are only allowed for localhost or 127.0.0.x";
    }
    if (strcmp(scheme, "https") != 0)
        return "webhook.url must use https";
    if (strcmp(host, "localhost") == 0)
        return "localhost webhook URLs must use http for dev";
    if (is_ipv4 && ipv4_refused_for_https(v4))
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
        const uint8_t *b = v6->s6_addr;
        if (!https)
            return IN6_IS_ADDR_LOOPBACK(v6);
        bool unique_local = (b[0] & 0xfe) == 0xfc;
        bool embeds_v4 = (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) || /* NAT64 */
                         (b[0] == 0x20 && b[1] == 0x02) ||                                 /* 6to4 */
                         (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00);   /* Teredo */
        return !(IN6_IS_ADDR_LOOPBACK(v6) || IN6_IS_ADDR_LINKLOCAL(v6) || IN6_IS_ADDR_SITELOCAL(v6) ||
                 IN6_IS_ADDR_V4MAPPED(v6) || IN6_IS_ADDR_V4COMPAT(v6) || IN6_IS_ADDR_UNSPECIFIED(v6) ||
                 IN6_IS_ADDR_MULTICAST(v6) || unique_local || embeds_v4);
    }
    return false;
}
