/* "pattern" and "patternProperties": ECMA-262 regular expressions, matched
 * by PCRE2 (10.42) in UTF mode.
 *
 * PCRE2 already speaks most of ECMA-262: groups (named too), lazy
 * quantifiers, lookahead and lookbehind, back references, \d \w \b (ASCII,
 * as in JavaScript: UCP stays off, since it would make them Unicode-aware),
 * \p{...} properties, literal braces that start no quantifier, an empty class
 * `[]` and the any-character `[^]` (PCRE2_ALLOW_EMPTY_CLASS), and `$` only
 * at the very end (PCRE2_DOLLAR_ENDONLY). A short rewrite before compiling
 * covers the rest, exactly:
 *   \uHHHH, \u{H...}, surrogate pairs   -> \x{...} (one code point)
 *   .                                   -> [^\n\r\x{2028}\x{2029}]
 *   \s  \S  (ECMA's white space set)    -> [\t\n\v\f\r\p{Zs}\x{2028}\x{2029}\x{feff}] / its negation
 * Inside a class \s is spliced in; \S is only accepted as part of the
 * any-character idiom [\s\S]. A lone surrogate escape, and anything PCRE2
 * refuses, is a compile error that names the reason: never approximated.
 *
 * Matching is bounded (SS_SCHEMA_REGEX_MATCH_LIMIT steps), so a pathological
 * pattern cannot stall the server: past the bound the value is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

#define WS_SET "\\t\\n\\v\\f\\r\\p{Zs}\\x{2028}\\x{2029}\\x{feff}"
#define DOT "[^\\n\\r\\x{2028}\\x{2029}]"

/* ---- the rewrite --------------------------------------------------------------- */

typedef struct rewriter {
    const char *p, *end;
    ss_buf out;
    const char *why; /* set on a refusal */
} rewriter;

static int hex_run(const char *p, const char *end, int n, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        if (p + i >= end || ss_hex_value(p[i]) < 0)
            return 0;
        v = v * 16 + (uint32_t)ss_hex_value(p[i]);
    }
    *out = v;
    return n;
}

/* After "\u": one code point (a surrogate pair joined). Returns the bytes
 * consumed after the backslash, 0 when it is no \u escape (left to PCRE2). */
static size_t unicode_escape(rewriter *w, const char *p, uint32_t *cp) {
    if (p + 1 < w->end && p[1] == '{') {
        const char *q = p + 2;
        uint32_t v = 0;
        int digits = 0;
        while (q < w->end && ss_hex_value(*q) >= 0 && digits < 7) {
            v = v * 16 + (uint32_t)ss_hex_value(*q++);
            digits++;
        }
        if (!digits || q >= w->end || *q != '}' || v > 0x10FFFF)
            return 0;
        *cp = v;
        return (size_t)(q + 1 - p);
    }
    uint32_t hi;
    if (!hex_run(p + 1, w->end, 4, &hi))
        return 0;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        uint32_t lo;
        if (p + 6 < w->end && p[5] == '\\' && p[6] == 'u' && hex_run(p + 7, w->end, 4, &lo) && lo >= 0xDC00 &&
            lo <= 0xDFFF) {
            *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            return 11;
        }
        w->why = "a lone surrogate (\\uD800-\\uDFFF) cannot match UTF-8 text";
        return 0;
    }
    if (hi >= 0xDC00 && hi <= 0xDFFF) {
        w->why = "a lone surrogate (\\uD800-\\uDFFF) cannot match UTF-8 text";
        return 0;
    }
    *cp = hi;
    return 5;
}

/* A class from '[' to its ']': \s spliced in, \S only in [\s\S] / [\S\s]. */
static void rewrite_class(rewriter *w) {
    const char *start = w->p;
    bool has_s = false, has_big_s = false, other = false;
    const char *q = start + 1;
    if (q < w->end && *q == '^')
        q++;
    for (const char *r = q; r < w->end && *r != ']'; r++) {
        if (*r == '\\' && r + 1 < w->end) {
            has_s |= r[1] == 's';
            has_big_s |= r[1] == 'S';
            other |= r[1] != 's' && r[1] != 'S';
            r++;
        } else {
            other = true;
        }
    }
    if (has_big_s) {
        bool negated = start[1] == '^';
        if (!has_s || other) {
            w->why = "\\S inside a character class is only supported as [\\s\\S]";
            return;
        }
        ss_buf_append_cstr(&w->out, negated ? "(?!)" : "(?s:.)");
        while (w->p < w->end && *w->p != ']')
            w->p += *w->p == '\\' ? 2 : 1;
        w->p++;
        return;
    }
    ss_buf_append(&w->out, "[", 1);
    w->p++;
    if (w->p < w->end && *w->p == '^')
        ss_buf_append(&w->out, w->p++, 1);
    while (w->p < w->end) {
        char c = *w->p;
        if (c == ']') { /* also [] and [^]: PCRE2_ALLOW_EMPTY_CLASS reads them as JS does */
            ss_buf_append(&w->out, "]", 1);
            w->p++;
            return;
        }
        if (c == '\\' && w->p + 1 < w->end) {
            uint32_t cp;
            size_t n;
            if (w->p[1] == 's') {
                ss_buf_append_cstr(&w->out, WS_SET);
                w->p += 2;
            } else if (w->p[1] == 'u' && (n = unicode_escape(w, w->p + 1, &cp))) {
                ss_buf_printf(&w->out, "\\x{%x}", cp);
                w->p += 1 + n;
            } else if (w->why) {
                return;
            } else {
                ss_buf_append(&w->out, w->p, 2);
                w->p += 2;
            }
            continue;
        }
        ss_buf_append(&w->out, w->p++, 1);
    }
    /* unterminated: PCRE2 reports it */
}

static void rewrite(rewriter *w) {
    while (w->p < w->end && !w->why) {
        char c = *w->p;
        if (c == '[') {
            rewrite_class(w);
        } else if (c == '.') {
            ss_buf_append_cstr(&w->out, DOT);
            w->p++;
        } else if (c == '\\' && w->p + 1 < w->end) {
            uint32_t cp;
            size_t n;
            if (w->p[1] == 's' || w->p[1] == 'S') {
                ss_buf_append_cstr(&w->out, w->p[1] == 's' ? "[" WS_SET "]" : "[^" WS_SET "]");
                w->p += 2;
            } else if (w->p[1] == 'u' && (n = unicode_escape(w, w->p + 1, &cp))) {
                ss_buf_printf(&w->out, "\\x{%x}", cp);
                w->p += 1 + n;
            } else if (!w->why) {
                ss_buf_append(&w->out, w->p, 2);
                w->p += 2;
            }
        } else {
            ss_buf_append(&w->out, w->p++, 1);
        }
    }
}

ss_rc ss__sch_regex_rewrite(const char *src, size_t len, ss_buf *out, const char **why) {
    rewriter w = {.p = src, .end = src + len};
    ss_buf_init(&w.out, 1u << 20);
    rewrite(&w);
    if (w.why) {
        *why = w.why;
        ss_buf_release(&w.out);
        return SS_BADARG;
    }
    ss_rc rc = ss_buf_append(&w.out, "", 1); /* NUL-terminated for error messages; not part of the pattern */
    if (rc) {
        ss_buf_release(&w.out);
        return rc;
    }
    w.out.len--;
    *out = w.out;
    return SS_OK;
}

/* ---- compile and match ------------------------------------------------------------ */

ss_rc ss__sch_regex_compile(ss__sch_regex *re, const char *src, size_t len, char *why, size_t why_cap) {
    ss_buf text;
    const char *refused = NULL;
    ss_rc rc = ss__sch_regex_rewrite(src, len, &text, &refused);
    if (rc) {
        snprintf(why, why_cap, "%s", refused ? refused : "out of memory");
        return rc;
    }
    int err;
    PCRE2_SIZE at;
    re->code = pcre2_compile((PCRE2_SPTR)text.p, text.len,
                             PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_ALLOW_EMPTY_CLASS | PCRE2_DOLLAR_ENDONLY, &err,
                             &at, NULL);
    ss_buf_release(&text);
    if (!re->code) {
        if (err == PCRE2_ERROR_NOMEMORY)
            return SS_NOMEM;
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(err, msg, sizeof msg);
        snprintf(why, why_cap, "%s", (const char *)msg);
        return SS_BADARG;
    }
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* faster when available, same answers */
    re->ctx = pcre2_match_context_create(NULL);
    if (!re->ctx) {
        pcre2_code_free(re->code);
        re->code = NULL;
        return SS_NOMEM;
    }
    pcre2_set_match_limit(re->ctx, SS_SCHEMA_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(re->ctx, SS_SCHEMA_REGEX_MATCH_LIMIT);
    return SS_OK;
}

void ss__sch_regex_release(ss__sch_regex *re) {
    pcre2_match_context_free(re->ctx);
    pcre2_code_free(re->code);
    re->ctx = NULL;
    re->code = NULL;
}

ss__sch_match ss__sch_regex_search(const ss__sch_regex *re, const char *s, size_t len) {
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        return SS__SCH_MATCH_LIMIT;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)(len ? s : ""), len, 0, PCRE2_NO_UTF_CHECK, md, re->ctx);
    pcre2_match_data_free(md);
    if (rc >= 0)
        return SS__SCH_MATCH;
    return rc == PCRE2_ERROR_NOMATCH ? SS__SCH_NO_MATCH : SS__SCH_MATCH_LIMIT;
}
