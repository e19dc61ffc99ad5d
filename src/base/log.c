/* Log entries in text or JSON (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static ss__log_format log_format = SS__LOG_TEXT;
static ss__log_level log_level = SS__LOG_INFO;

void ss__log_configure(ss__log_format format, ss__log_level level) {
    log_format = format;
    log_level = level;
}

bool ss__log_on(ss__log_level level) { return level <= log_level; }

const char *ss__log_level_name(ss__log_level level) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    return level <= SS__LOG_DEBUG ? names[level] : "?";
}

/* Room left, keeping two bytes for the closing "}\n". */
static size_t room(const ss__log_line *l) {
    return l->len + 2 < SS__LOG_LINE_MAX ? SS__LOG_LINE_MAX - 2 - l->len : 0;
}

static void put(ss__log_line *l, const char *s, size_t n) {
    if (n > room(l))
        n = room(l);
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(ss__log_line *l, const char *s) { put(l, s, strlen(s)); }

static bool plain_word(const char *s, size_t n) {
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=')
            return false;
    }
    return true;
}

/* A quoted string; escapes cost at most 6 bytes, so stop while 6 + 1 fit. */
static void quoted(ss__log_line *l, const char *s, size_t n, bool json) {
    static const char hex[] = "0123456789abcdef";
    put(l, "\"", 1);
    for (size_t i = 0; i < n && room(l) > 7; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(l, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            if (json) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                put(l, e, 6);
            } else {
                char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
                put(l, e, 4);
            }
        } else {
            put(l, (const char *)&c, 1);
        }
    }
    put(l, "\"", 1);
}

static void key(ss__log_line *l, const char *k) {
    if (l->format == SS__LOG_JSON) {
        put(l, ",\"", 2);
        puts_(l, k);
        put(l, "\":", 2);
    } else {
        put(l, " ", 1);
        puts_(l, k);
        put(l, "=", 1);
    }
}

static void timestamp(char out[32]) {
    static time_t cached_sec = -1;
    static char cached[24]; /* "2026-12-06T03:40:00" */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = now.tv_sec;
    }
    snprintf(out, 32, "%.19s.%03dZ", cached, (int)(now.tv_nsec / 1000000) % 1000);
}

void ss__log_begin(ss__log_line *l, ss__log_level level, const char *event) {
    char ts[32];
    timestamp(ts);
    l->len = 0;
    l->format = log_format;
    if (l->format == SS__LOG_JSON) {
        puts_(l, "{\"ts\":\"");
        puts_(l, ts);
        puts_(l, "\",\"level\":\"");
        puts_(l, ss__log_level_name(level));
        puts_(l, "\",\"event\":");
        quoted(l, event, strlen(event), true);
    } else {
        puts_(l, ts);
        put(l, " ", 1);
        puts_(l, ss__log_level_name(level));
        put(l, " ", 1);
        puts_(l, event);
    }
}

void ss__log_str(ss__log_line *l, const char *k, const char *s, size_t n) {
    key(l, k);
    if (l->format == SS__LOG_TEXT && plain_word(s, n))
        put(l, s, n);
    else
        quoted(l, s, n, l->format == SS__LOG_JSON);
}

void ss__log_cstr(ss__log_line *l, const char *k, const char *s) { ss__log_str(l, k, s, strlen(s)); }

void ss__log_u64(ss__log_line *l, const char *k, uint64_t v) {
    char b[24];
    int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    key(l, k);
    put(l, b, (size_t)n);
}

void ss__log_ms(ss__log_line *l, const char *k, double ms) {
    char b[32];
    int n = snprintf(b, sizeof b, "%.3f", ms < 0 ? 0 : ms);
    key(l, k);
    put(l, b, (size_t)n);
}

void ss__log_end(ss__log_line *l) {
    /* room() kept two bytes for this */
    if (l->format == SS__LOG_JSON)
        l->p[l->len++] = '}';
    l->p[l->len++] = '\n';
}

void ss__log_write_bytes(const char *p, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(STDERR_FILENO, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* stderr gone or full: drop the entries rather than block */
        off += (size_t)w;
    }
}

void ss__log_write(const ss__log_line *l) { ss__log_write_bytes(l->p, l->len); }

void ss__logf(ss__log_level level, const char *event, const char *fmt, ...) {
    if (!ss__log_on(level))
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    ss__log_line l;
    ss__log_begin(&l, level, event);
    ss__log_str(&l, "msg", msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    ss__log_end(&l);
    ss__log_write(&l);
}
