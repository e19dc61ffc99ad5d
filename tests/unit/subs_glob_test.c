/* The subscription layer's pure pieces: stream globs, webhook URL and
 * address checks, tokens and signatures (src/subs/glob.c, crypto.c). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "streamsy/alloc.h"
#include "streamsy/memory.h"
#include "subs/internal.h"

Test(glob, star_matches_exactly_one_segment) {
    cr_assert(ss__subs_glob_match("events/*", "events/a"));
    cr_assert_not(ss__subs_glob_match("events/*", "events"));
    cr_assert_not(ss__subs_glob_match("events/*", "events/a/b"));
    cr_assert(ss__subs_glob_match("*/log", "x/log"));
    cr_assert_not(ss__subs_glob_match("*/log", "x/y/log"));
}

Test(glob, double_star_matches_zero_or_more_segments) {
    cr_assert(ss__subs_glob_match("events/**", "events/a"));
    cr_assert(ss__subs_glob_match("events/**", "events/a/b/c"));
    cr_assert(ss__subs_glob_match("events/**", "events"), "zero segments");
    cr_assert(ss__subs_glob_match("a/**/z", "a/z"));
    cr_assert(ss__subs_glob_match("a/**/z", "a/b/c/z"));
    cr_assert_not(ss__subs_glob_match("a/**/z", "a/b/c/y"));
    cr_assert(ss__subs_glob_match("**", "anything/at/all"));
    cr_assert(ss__subs_glob_match("**/*/end", "x/y/end"));
    cr_assert_not(ss__subs_glob_match("**/*/end", "end"));
}

Test(glob, many_double_stars_cost_time_linear_in_the_path_not_exponential) {
    char pattern[128] = "", path[1024] = "";
    for (int i = 0; i < 15; i++)
        strcat(pattern, "**/");
    strcat(pattern, "z");
    for (int i = 0; i < 300; i++)
        strcat(path, "a/");
    cr_assert_not(ss__subs_glob_match(pattern, path), "(hangs with the recursive matcher)");
    strcat(path, "z");
    cr_assert(ss__subs_glob_match(pattern, path));
    char too_long[256] = "";
    for (int i = 0; i < SS_SUBS_MAX_PATTERN_SEGMENTS + 1; i++)
        strcat(too_long, "*/");
    cr_assert_not(ss__subs_glob_match(too_long, "a"), "over the segment limit: never matches");
}

Test(glob, literal_segments_match_exactly_and_slashes_at_the_ends_are_ignored) {
    cr_assert(ss__subs_glob_match("/events/a/", "events/a"));
    cr_assert(ss__subs_glob_match("events/a", "/events/a/"));
    cr_assert_not(ss__subs_glob_match("events/a", "events/ab"));
    cr_assert_not(ss__subs_glob_match("events/ab", "events/a"));
    cr_assert_not(ss__subs_glob_match("Events/a", "events/a"), "case matters");
    cr_assert(ss__subs_glob_match("x/%2A", "x/*"), "%2A is a literal '*'");
    cr_assert(ss__subs_glob_match("x/%2a", "x/*"));
    cr_assert_not(ss__subs_glob_match("x/%2A", "x/y"));
    cr_assert_not(ss__subs_glob_match("x/%2", "x/%"));
}

Test(urls, http_only_reaches_loopback_hosts) {
    cr_assert_null(ss__subs_url_refusal("http://localhost:8080/hook"));
    cr_assert_null(ss__subs_url_refusal("http://127.0.0.1/hook"));
    cr_assert_null(ss__subs_url_refusal("HTTP://127.9.9.9:1/"));
    cr_assert_not_null(ss__subs_url_refusal("http://10.0.0.1/hook"));
    cr_assert_not_null(ss__subs_url_refusal("http://example.com/hook"));
    cr_assert_not_null(ss__subs_url_refusal("http://127.0.0.1.example.com/"), "not an IPv4 literal");
    cr_assert_not_null(ss__subs_url_refusal("http://evil.com@10.0.0.1/"), "userinfo is not the host");
}

Test(urls, https_refuses_private_loopback_link_local_and_ipv6_literals) {
    cr_assert_null(ss__subs_url_refusal("https://hooks.example.com/x"));
    cr_assert_null(ss__subs_url_refusal("https://8.8.8.8/x"));
    cr_assert_null(ss__subs_url_refusal("https://172.32.0.1/"), "outside 172.16/12");
    const char *refused[] = {
        "https://localhost/",  "https://127.0.0.1/",         "https://10.1.2.3/",        "https://172.16.0.1/",
        "https://172.31.9.9/", "https://192.168.0.1:8443/",  "https://169.254.169.254/", "https://0.0.0.0/",
        "https://[::1]/",      "https://[2001:db8::1]:443/", "ftp://example.com/",       "example.com",
        "https:///path"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_not_null(ss__subs_url_refusal(refused[i]), "%s", refused[i]);
}

Test(urls, hosts_are_read_as_a_browser_reads_them) {
    const char *refused[] = {
        "https://2130706433/",
        "https://0x7f.1/",
        "https://127.1/",
        "https://0/",
        "https://0177.0.0.1/",
        "https://10.0.0.1./",
        "https://%31%30.0.0.1/",
        "https://a@10.0.0.1@example.com/",
        "https://evil.com\\@10.0.0.1/",
        "Https://0x7f.1:4790/",
        "hTTPS://2130706433:4790/",
        "https://100.100.100.200/",
        "https://198.18.0.1/",
        "https://224.0.0.1/",
        "https://255.255.255.255/",
        "https://a.123/",
        "https://1.2.3.4.5/",
        "https://256.1.1.1/",
        "https://exa mple.com/",
        "https://ex%00ample.com/",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_not_null(ss__subs_url_refusal(refused[i]), "%s", refused[i]);
    const char *allowed[] = {"https://1.1.1.1./x", "https://deadbeef.cafe/", "http://0x7f.1:8080/",
                             "http://2130706433/", "HTTP://LOCALHOST/",      "https://user:pw@hooks.example.com/"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        cr_assert_null(ss__subs_url_refusal(allowed[i]), "%s", allowed[i]);
    cr_assert(ss__subs_url_is_https("Https://x/"));
    cr_assert_not(ss__subs_url_is_https("http://x/"));
}

static struct sockaddr_storage v4(const char *a) {
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    cr_assert_eq(inet_pton(AF_INET, a, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *a) {
    struct sockaddr_storage ss = {0};
    struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
    in->sin6_family = AF_INET6;
    cr_assert_eq(inet_pton(AF_INET6, a, &in->sin6_addr), 1);
    return ss;
}

static bool allowed(bool https, struct sockaddr_storage a) {
    return ss__subs_address_allowed(https, (const struct sockaddr *)&a);
}

Test(urls, resolved_addresses_are_checked_at_connect_time) {
    cr_assert(allowed(true, v4("93.184.216.34")));
    cr_assert_not(allowed(true, v4("127.0.0.1")));
    cr_assert_not(allowed(true, v4("10.9.8.7")));
    cr_assert_not(allowed(true, v4("169.254.169.254")));
    cr_assert(allowed(true, v6("2606:4700::1111")));
    cr_assert_not(allowed(true, v6("::1")));
    cr_assert_not(allowed(true, v6("fe80::1")));
    cr_assert_not(allowed(true, v6("fd00::1")), "unique local");
    cr_assert_not(allowed(true, v6("::ffff:127.0.0.1")), "v4-mapped");
    cr_assert_not(allowed(true, v4("100.100.100.200")), "shared address space (a cloud's metadata)");
    cr_assert_not(allowed(true, v6("64:ff9b::a00:1")), "NAT64 of 10.0.0.1");
    cr_assert_not(allowed(true, v6("2002:a00:1::1")), "6to4");
    cr_assert_not(allowed(true, v6("ff02::1")), "multicast");
    cr_assert(allowed(false, v4("127.0.0.1")));
    cr_assert(allowed(false, v6("::1")));
    cr_assert_not(allowed(false, v4("93.184.216.34")), "http only to loopback");
}

/* A subscription layer over memory storage, for the crypto helpers. */
static ss_subs *subs_on_memory(ss_stream_factory **f, ss_protocol **p) {
    cr_assert_eq(ss_memory_factory_new(NULL, f), SS_OK);
    cr_assert_eq(ss_protocol_new(&(ss_protocol_options){.storage = *f}, p), SS_OK);
    ss_subs *s;
    char err[256];
    cr_assert_eq(ss_subs_new(&(ss_subs_options){.protocol = *p}, &s, err, sizeof err), SS_OK, "%s", err);
    return s;
}

static void teardown(ss_subs *s, ss_stream_factory *f, ss_protocol *p) {
    ss_subs_free(s);
    ss_protocol_free(p);
    ss_storage_factory_free(f);
}

Test(tokens, speak_for_one_subscription_and_generation_until_they_expire) {
    ss_stream_factory *f;
    ss_protocol *p;
    ss_subs *s = subs_on_memory(&f, &p);
    int64_t now = 1767225600000;
    char *t = ss__subs_token_mint(s, "sub-a", 7, now);
    cr_assert_not_null(t);
    uint64_t g = 0;
    cr_assert_eq(ss__subs_token_check(s, "sub-a", t, now, &g), SUBS_TOKEN_OK);
    cr_assert_eq(g, 7);
    cr_assert_eq(ss__subs_token_check(s, "sub-b", t, now, &g), SUBS_TOKEN_INVALID, "another subscription");
    cr_assert_eq(ss__subs_token_check(s, "sub-a", t, now + SS_SUBS_TOKEN_TTL_S * 1000LL, &g), SUBS_TOKEN_EXPIRED);
    t[0] = t[0] == '7' ? '8' : '7'; /* the generation no longer matches the mac */
    cr_assert_eq(ss__subs_token_check(s, "sub-a", t, now, &g), SUBS_TOKEN_INVALID);
    cr_assert_eq(ss__subs_token_check(s, "sub-a", "", now, &g), SUBS_TOKEN_INVALID);
    cr_assert_eq(ss__subs_token_check(s, "sub-a", "1.2.3.", now, &g), SUBS_TOKEN_INVALID);
    ss_free(t);
    teardown(s, f, p);
}

Test(keys, the_kid_is_the_rfc7638_thumbprint_and_signatures_have_the_wire_format) {
    ss_stream_factory *f;
    ss_protocol *p;
    ss_subs *s = subs_on_memory(&f, &p);
    cr_assert(strncmp(s->kid, "ds_", 3) == 0 && strlen(s->kid) == 3 + 43, "%s", s->kid);
    cr_assert_eq(strlen(s->jwk_x), 43, "32 bytes, base64url without padding");
    char sig[256];
    cr_assert_eq(ss__subs_sign(s, 1767225600123, "{}", 2, sig, sizeof sig), SS_OK);
    char want[80];
    snprintf(want, sizeof want, "t=1767225600,kid=%s,ed25519=", s->kid);
    cr_assert(strncmp(sig, want, strlen(want)) == 0, "%s", sig);
    cr_assert_eq(strlen(sig) - strlen(want), 86, "64 bytes, base64url without padding");
    cr_assert_eq(ss__subs_sign(s, 1767225600123, "{}", 2, sig, 20), SS_TOOBIG);
    teardown(s, f, p);
}
