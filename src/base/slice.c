/* Borrowed byte views. */
#include <string.h>

#include "streamsy/bytes.h"

ss_slice ss_slice_cstr(const char *s) { return (ss_slice){s, s ? strlen(s) : 0}; }

bool ss_slice_eq(ss_slice a, ss_slice b) { return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0); }

bool ss_slice_eq_cstr(ss_slice a, const char *s) { return ss_slice_eq(a, ss_slice_cstr(s)); }

static char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

bool ss_slice_ieq_cstr(ss_slice a, const char *s) {
    size_t n = strlen(s);
    if (n != a.len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(a.p[i]) != ascii_lower(s[i]))
            return false;
    return true;
}

int ss_slice_cmp(ss_slice a, ss_slice b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

int ss_hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
