/* Offset values, safe-token rules and the default offset generator. */
#include <stdio.h>
#include <string.h>

#include "streamsy/offset.h"

ss_rc ss_offset_set(ss_offset *out, ss_slice s) {
    if (s.len > SS_OFFSET_MAX)
        return SS_BADARG;
    memcpy(out->s, s.p, s.len);
    out->s[s.len] = '\0';
    out->len = (uint8_t)s.len;
    return SS_OK;
}

int ss_offset_cmp(const ss_offset *a, const ss_offset *b) {
    return ss_slice_cmp(ss_offset_slice(a), ss_offset_slice(b));
}

bool ss_offset_eq(const ss_offset *a, const ss_offset *b) {
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

bool ss_offset_is_safe_token(ss_slice s) {
    if (s.len == 0 || s.len > SS_OFFSET_MAX)
        return false;
    if (ss_slice_eq_cstr(s, "-1") || ss_slice_eq_cstr(s, "now"))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c <= 0x20 || c >= 0x7f || strchr(",&=?/", c))
            return false;
    }
    return true;
}

/* ---- default generator: 16 digits '_' 16 digits ------------------------- */

#define DEFAULT_DIGITS 16

static bool all_digits(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static bool default_is_valid(void *ctx, ss_slice s) {
    (void)ctx;
    return s.len == 2 * DEFAULT_DIGITS + 1 && s.p[DEFAULT_DIGITS] == '_' && all_digits(s.p, DEFAULT_DIGITS) &&
           all_digits(s.p + DEFAULT_DIGITS + 1, DEFAULT_DIGITS);
}

static ss_rc default_next(void *ctx, const ss_offset *prev, ss_offset *out) {
    if (!default_is_valid(ctx, ss_offset_slice(prev)))
        return SS_MISUSE;
    unsigned long long n = 0;
    for (int i = 0; i < DEFAULT_DIGITS; i++)
        n = n * 10 + (unsigned long long)(prev->s[i] - '0');
    if (n >= 9999999999999999ull)
        return SS_TOOBIG;
    int len = snprintf(out->s, sizeof out->s, "%016llu_0000000000000000", n + 1);
    out->len = (uint8_t)len;
    return SS_OK;
}

const ss_offset_gen ss_default_offset_gen = {
    .initial = SS_ZERO_OFFSET,
    .next = default_next,
    .is_valid = default_is_valid,
    .ctx = NULL,
};
