/* Base64 decoding (base64.h). */
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
