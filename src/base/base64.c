/* Base64 encoding and decoding (base64.h). */
#include "base64.h"

#include <stdint.h>

static int value_of(unsigned char ch) {
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

ss_rc ss__base64_decode(ss_slice in, bool skip_line_ends, ss_buf *out) {
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char ch = (unsigned char)in.p[i];
        if (skip_line_ends && (ch == '\r' || ch == '\n'))
            continue;
        if (ch == '=')
            break;
        int v = value_of(ch);
        if (v < 0)
            return SS_BADARG;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char byte = (char)(acc >> bits & 0xff);
            if (ss_buf_append(out, &byte, 1))
                return out->err;
        }
    }
    return SS_OK;
}

size_t ss__base64_encode(const void *data, size_t len, bool url, char *out) {
    const char *tbl = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char *d = out;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *d++ = tbl[v >> 18];
        *d++ = tbl[(v >> 12) & 63];
        *d++ = tbl[(v >> 6) & 63];
        *d++ = tbl[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *d++ = tbl[v >> 18];
        *d++ = tbl[(v >> 12) & 63];
        if (i + 1 < len)
            *d++ = tbl[(v >> 6) & 63];
        else if (!url)
            *d++ = '=';
        if (!url)
            *d++ = '=';
    }
    *d = '\0';
    return (size_t)(d - out);
}
