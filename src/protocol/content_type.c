/* Content-type normalisation and RFC 3339 parsing. */
#include <string.h>

#include "streamsy/protocol.h"

#define MEDIA_TYPE_MAX 128

ss_slice ss_media_type(ss_slice ct, char *buf, size_t cap) {
    size_t end = 0;
    while (end < ct.len && ct.p[end] != ';')
        end++;
    size_t start = 0;
    while (start < end && (ct.p[start] == ' ' || ct.p[start] == '\t'))
        start++;
    while (end > start && (ct.p[end - 1] == ' ' || ct.p[end - 1] == '\t'))
        end--;
    if (end == start)
        return ss_slice_cstr("application/octet-stream");
    size_t n = end - start < cap ? end - start : cap;
    for (size_t i = 0; i < n; i++) {
        char c = ct.p[start + i];
        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    return (ss_slice){buf, n};
}

bool ss_content_types_match(ss_slice a, ss_slice b) {
    char ba[MEDIA_TYPE_MAX], bb[MEDIA_TYPE_MAX];
    return ss_slice_eq(ss_media_type(a, ba, sizeof ba), ss_media_type(b, bb, sizeof bb));
}

bool ss_content_type_is_json(ss_slice ct) {
    char b[MEDIA_TYPE_MAX];
    return ss_slice_eq_cstr(ss_media_type(ct, b, sizeof b), "application/json");
}

bool ss_content_type_is_text_like(ss_slice ct) {
    char b[MEDIA_TYPE_MAX];
    ss_slice m = ss_media_type(ct, b, sizeof b);
    return ss_slice_eq_cstr(m, "application/json") || (m.len >= 5 && memcmp(m.p, "text/", 5) == 0);
}

/* ---- RFC 3339 ---- */

static bool digits(ss_slice s, size_t at, size_t n, int *out) {
    if (at + n > s.len)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s.p[at + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool ss_parse_rfc3339(ss_slice s, int64_t *out_ms) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, mi, sec;
    if (s.len < 20 || !digits(s, 0, 4, &Y) || s.p[4] != '-' || !digits(s, 5, 2, &M) || s.p[7] != '-' ||
        !digits(s, 8, 2, &D) || (s.p[10] != 'T' && s.p[10] != 't' && s.p[10] != ' ') || !digits(s, 11, 2, &h) ||
        s.p[13] != ':' || !digits(s, 14, 2, &mi) || s.p[16] != ':' || !digits(s, 17, 2, &sec))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap(Y)) || h > 23 || mi > 59 || sec > 60)
        return false;
    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < s.len && s.p[i] == '.') {
        size_t start = ++i;
        int64_t scale = 100;
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            frac_ms += (s.p[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start || i - start > 9)
            return false;
    }
    int64_t offset_min = 0;
    if (i < s.len && (s.p[i] == 'Z' || s.p[i] == 'z')) {
        i++;
    } else if (i < s.len && (s.p[i] == '+' || s.p[i] == '-')) {
        int oh, om;
        if (!digits(s, i + 1, 2, &oh) || i + 3 >= s.len || s.p[i + 3] != ':' || !digits(s, i + 4, 2, &om) ||
            oh > 23 || om > 59)
            return false;
        offset_min = (oh * 60 + om) * (s.p[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return false;
    }
    if (i != s.len)
        return false;
    int64_t days = days_from_civil(Y, M, D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) - offset_min * 60;
    *out_ms = secs * 1000 + frac_ms;
    return true;
}
