/* "pattern" and "patternProperties": ECMA-262 regular expressions translated
 * to POSIX extended regular expressions and compiled with regcomp.
 *
 * Every pattern is compiled twice from two translations:
 *  - utf8:  in a C.UTF-8 locale, so "." and classes match one code point;
 *  - ascii: in the C locale, for strings that are pure ASCII (most keys and
 *           identifiers). glibc's byte matcher is several times faster than
 *           its multibyte one, and on ASCII input both give the same answer
 *           because this translation drops non-ASCII class members and wraps
 *           non-ASCII literals in a group (which then simply never matches).
 *
 * The translation is explicit rather than relying on GNU extensions, so that
 * other libcs (musl in wasm32-wasi) agree:
 *   \d \w \s and negations   -> bracket expressions (\s with ECMA's Unicode
 *                                white space in the utf8 variant)
 *   .                        -> [^\n\r\u2028\u2029]
 *   ^ $                      -> \` \' on glibc (see ANCHOR_START)
 *   (?:x) (?<name>x)         -> (x)
 *   x*? x+? x?? x{n,m}?      -> greedy forms (same match/no-match answer)
 *   \n \t \xHH \uHHHH \cX    -> the character itself
 *   escaped punctuation      -> a one-member bracket, e.g. \. -> [.]
 *   { not starting a valid quantifier -> a literal {
 * Unsupported constructs are rejected with a reason, never approximated. */
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

#define E_LOOK "lookahead and lookbehind are not supported"
#define E_BACKREF "back references are not supported"
#define E_BOUNDARY "word boundaries (\\b, \\B) are not supported"
#define E_PROPERTY "Unicode property escapes (\\p, \\P) are not supported"
#define E_NUL "NUL characters in patterns are not supported"
#define E_TRAILING "pattern ends with a backslash"
#define E_PAREN "unbalanced parenthesis"
#define E_REPEAT "nothing to repeat"
#define E_CLASS "unterminated character class"
#define E_EMPTY_CLASS "the empty class [] is not supported"
#define E_RANGE "character class range out of order"
#define E_RANGE_ESCAPE "a class escape cannot bound a range"
#define E_NONASCII_RANGE "character class ranges must have ASCII ends"
#define E_NEG_ESCAPE "\\D, \\W or \\S inside a negated class is not supported"
#define E_SURROGATE "lone surrogate in pattern"
#define E_CONTROL "\\c must be followed by a letter"
#define E_INVALID "invalid regular expression"
#define E_LOCALE "the C.UTF-8 locale is not available"
static const char E_NOMEM[] = "out of memory";

/* Anchors. ECMA-262 (without the m flag) anchors at the ends of the input
 * only. glibc's ^ and $ are also satisfied next to a newline that the
 * pattern itself matches ("$\n" matches "\n"), so on glibc the GNU buffer
 * anchors \` and \' are used, which have no such quirk. */
#ifdef __GLIBC__
#define ANCHOR_START "\\`"
#define ANCHOR_END "\\'"
#else
#define ANCHOR_START "^"
#define ANCHOR_END "$"
#endif

/* ECMA-262 WhiteSpace and LineTerminator beyond ASCII (no ranges: glibc's
 * C.UTF-8 does not accept non-ASCII range ends). */
static const uint32_t UNICODE_SPACE[] = {0xa0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
                                         0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
                                         0x2029, 0x202f, 0x205f, 0x3000, 0xfeff};

typedef struct tr {
    const unsigned char *s;
    size_t len, i;
    bool utf8; /* which variant */
    ss_buf out;
    const char *why;
} tr;

/* A parsed atom inside or outside a class. */
typedef enum atom_kind { A_CHAR, A_DIGIT, A_WORD, A_SPACE, A_NDIGIT, A_NWORD, A_NSPACE } atom_kind;

typedef struct cls {
    uint8_t ascii[16];   /* bitset of ASCII members */
    ss_buf wide;         /* UTF-8 of non-ASCII members (utf8 variant) */
    unsigned negations;  /* bit per A_NDIGIT/A_NWORD/A_NSPACE present */
    bool dropped_wide;   /* non-ASCII members dropped (ascii variant) */
} cls;

static bool fail(tr *t, const char *why) {
    if (!t->why)
        t->why = why;
    return false;
}

static bool emit(tr *t, const char *p, size_t n) {
    if (ss_buf_append(&t->out, p, n))
        return fail(t, E_NOMEM);
    return true;
}

static bool emit_s(tr *t, const char *p) { return emit(t, p, strlen(p)); }

static size_t utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the code point at t->i (the input is a jansson string: valid UTF-8). */
static uint32_t next_cp(tr *t) {
    const unsigned char *s = t->s + t->i;
    size_t left = t->len - t->i;
    uint32_t c = s[0];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (n > left)
        n = left;
    if (n == 2)
        c &= 0x1f;
    else if (n == 3)
        c &= 0x0f;
    else if (n == 4)
        c &= 0x07;
    for (size_t k = 1; k < n; k++)
        c = (c << 6) | (s[k] & 0x3f);
    t->i += n;
    return c;
}


/* Reads n hex digits at t->i; -1 (and t->i unchanged) when they are not there. */
static long read_hex(tr *t, size_t n) {
    if (t->len - t->i < n)
        return -1;
    long v = 0;
    for (size_t k = 0; k < n; k++) {
        int h = ss_hex_value((char)t->s[t->i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    t->i += n;
    return v;
}

/* Parses the escape after a backslash (t->i is past the backslash).
 * in_class: \b is backspace and \- is allowed. */
static bool parse_escape(tr *t, bool in_class, atom_kind *kind, uint32_t *cp) {
    if (t->i >= t->len)
        return fail(t, E_TRAILING);
    unsigned char e = t->s[t->i];
    *kind = A_CHAR;
    switch (e) {
    case 'd': t->i++; *kind = A_DIGIT; return true;
    case 'D': t->i++; *kind = A_NDIGIT; return true;
    case 'w': t->i++; *kind = A_WORD; return true;
    case 'W': t->i++; *kind = A_NWORD; return true;
    case 's': t->i++; *kind = A_SPACE; return true;
    case 'S': t->i++; *kind = A_NSPACE; return true;
    case 'n': t->i++; *cp = '\n'; return true;
    case 'r': t->i++; *cp = '\r'; return true;
    case 't': t->i++; *cp = '\t'; return true;
    case 'f': t->i++; *cp = '\f'; return true;
    case 'v': t->i++; *cp = '\v'; return true;
    case 'b':
        if (!in_class)
            return fail(t, E_BOUNDARY);
        t->i++;
        *cp = '\b';
        return true;
    case 'B': return fail(t, E_BOUNDARY);
    case 'k': return fail(t, E_BACKREF);
    case 'p':
    case 'P': return fail(t, E_PROPERTY);
    case '0': return fail(t, E_NUL);
    case 'c':
        if (t->i + 1 < t->len && ((t->s[t->i + 1] | 0x20) >= 'a' && (t->s[t->i + 1] | 0x20) <= 'z')) {
            *cp = t->s[t->i + 1] % 32;
            t->i += 2;
            return true;
        }
        return fail(t, E_CONTROL);
    case 'x': {
        t->i++;
        long v = read_hex(t, 2);
        *cp = v < 0 ? 'x' : (uint32_t)v; /* Annex B: \x without hex digits is "x" */
        if (*cp == 0)
            return fail(t, E_NUL);
        return true;
    }
    case 'u': {
        t->i++;
        long v = read_hex(t, 4);
        if (v < 0) {
            *cp = 'u';
            return true;
        }
        if (v >= 0xd800 && v <= 0xdbff) {
            size_t save = t->i;
            long lo = -1;
            if (t->len - t->i >= 6 && t->s[t->i] == '\\' && t->s[t->i + 1] == 'u') {
                t->i += 2;
                lo = read_hex(t, 4);
            }
            if (lo < 0xdc00 || lo > 0xdfff) {
                t->i = save;
                return fail(t, E_SURROGATE);
            }
            v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
        } else if (v >= 0xdc00 && v <= 0xdfff) {
            return fail(t, E_SURROGATE);
        }
        if (v == 0)
            return fail(t, E_NUL);
        *cp = (uint32_t)v;
        return true;
    }
    default:
        if (e >= '1' && e <= '9')
            return fail(t, E_BACKREF);
        *cp = next_cp(t); /* identity escape */
        return true;
    }
}

/* ---- outside classes --------------------------------------------------------- */

static bool emit_literal(tr *t, uint32_t cp) {
    if (cp == 0)
        return fail(t, E_NUL);
    if (cp >= 0x80) {
        char u[4];
        size_t n = utf8_encode(cp, u);
        if (t->utf8)
            return emit(t, u, n);
        /* ascii variant: a multi-byte literal must stay one unit under a
         * quantifier; it never matches ASCII input anyway */
        return emit(t, "(", 1) && emit(t, u, n) && emit(t, ")", 1);
    }
    char c = (char)cp;
    if (c == '^')
        return emit_s(t, "\\^");
    if (c == '\\')
        return emit_s(t, "\\\\");
    if (strchr(".[]{}()*+?|$", c)) {
        char b[3] = {'[', c, ']'};
        return emit(t, b, 3);
    }
    return emit(t, &c, 1);
}

static bool emit_space_members(tr *t) {
    if (!emit_s(t, " \t\n\r\f\v"))
        return false;
    if (!t->utf8)
        return true;
    for (size_t k = 0; k < sizeof UNICODE_SPACE / sizeof UNICODE_SPACE[0]; k++) {
        char u[4];
        if (!emit(t, u, utf8_encode(UNICODE_SPACE[k], u)))
            return false;
    }
    return true;
}

static bool emit_class_escape(tr *t, atom_kind k) {
    switch (k) {
    case A_DIGIT: return emit_s(t, "[0-9]");
    case A_NDIGIT: return emit_s(t, "[^0-9]");
    case A_WORD: return emit_s(t, "[A-Za-z0-9_]");
    case A_NWORD: return emit_s(t, "[^A-Za-z0-9_]");
    case A_SPACE: return emit_s(t, "[") && emit_space_members(t) && emit_s(t, "]");
    case A_NSPACE: return emit_s(t, "[^") && emit_space_members(t) && emit_s(t, "]");
    case A_CHAR: break;
    }
    return fail(t, E_INVALID);
}

/* ---- classes ----------------------------------------------------------------- */

static void cls_set(cls *c, uint32_t cp) { c->ascii[cp >> 3] |= (uint8_t)(1u << (cp & 7)); }
static bool cls_has(const cls *c, uint32_t cp) { return c->ascii[cp >> 3] & (1u << (cp & 7)); }

static bool cls_add(tr *t, cls *c, uint32_t cp) {
    if (cp == 0)
        return fail(t, E_NUL);
    if (cp < 0x80) {
        cls_set(c, cp);
        return true;
    }
    if (!t->utf8) {
        c->dropped_wide = true;
        return true;
    }
    char u[4];
    if (ss_buf_append(&c->wide, u, utf8_encode(cp, u)))
        return fail(t, E_NOMEM);
    return true;
}

static bool cls_add_escape(tr *t, cls *c, atom_kind k, bool negated) {
    switch (k) {
    case A_DIGIT:
        for (uint32_t x = '0'; x <= '9'; x++)
            cls_set(c, x);
        return true;
    case A_WORD:
        for (uint32_t x = 0; x < 0x80; x++)
            if ((x >= '0' && x <= '9') || (x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || x == '_')
                cls_set(c, x);
        return true;
    case A_SPACE:
        cls_set(c, ' ');
        for (uint32_t x = '\t'; x <= '\r'; x++)
            cls_set(c, x);
        if (t->utf8)
            for (size_t k2 = 0; k2 < sizeof UNICODE_SPACE / sizeof UNICODE_SPACE[0]; k2++)
                if (!cls_add(t, c, UNICODE_SPACE[k2]))
                    return false;
        return true;
    case A_NDIGIT:
    case A_NWORD:
    case A_NSPACE:
        if (negated)
            return fail(t, E_NEG_ESCAPE);
        c->negations |= 1u << k;
        return true;
    case A_CHAR: break;
    }
    return fail(t, E_INVALID);
}

static bool special_in_bracket(uint32_t x) { return x == ']' || x == '-' || x == '^' || x == '['; }

/* Emits the bracket for the ASCII set and wide members. *empty is set (and
 * nothing emitted) when the bracket would have no member. POSIX placement:
 * ']' first, '-' last, '^' anywhere but first, '[' never before ':' '.' '='. */
static bool emit_bracket(tr *t, const cls *c, bool negated, bool *empty) {
    bool any = c->wide.len > 0, only_caret = c->wide.len == 0;
    for (uint32_t x = 1; x < 0x80; x++) {
        if (cls_has(c, x)) {
            any = true;
            if (x != '^')
                only_caret = false;
        }
    }
    *empty = !any;
    if (!any)
        return true;
    if (only_caret && !negated)
        return emit_s(t, "\\^");
    if (!emit_s(t, negated ? "[^" : "["))
        return false;
    size_t start = t->out.len;
    if (cls_has(c, ']') && !emit_s(t, "]"))
        return false;
    for (uint32_t x = 1; x < 0x80;) {
        if (!cls_has(c, x) || special_in_bracket(x)) {
            x++;
            continue;
        }
        uint32_t y = x;
        while (y + 1 < 0x80 && cls_has(c, y + 1) && !special_in_bracket(y + 1))
            y++;
        char run[3] = {(char)x, '-', (char)y};
        bool ok;
        if (y - x >= 2)
            ok = emit(t, run, 3);
        else if (y > x)
            ok = emit(t, run, 1) && emit(t, run + 2, 1);
        else
            ok = emit(t, run, 1);
        if (!ok)
            return false;
        x = y + 1;
    }
    if (c->wide.len && !emit(t, c->wide.p, c->wide.len))
        return false;
    if (cls_has(c, '[') && !emit_s(t, "["))
        return false;
    bool dash_done = false;
    if (cls_has(c, '^')) {
        if (t->out.len == start && !negated) { /* only '^' and '-': "[-^]" */
            if (!emit_s(t, "-^"))
                return false;
            dash_done = true;
        } else if (!emit_s(t, "^")) {
            return false;
        }
    }
    if (cls_has(c, '-') && !dash_done && !emit_s(t, "-"))
        return false;
    return emit_s(t, "]");
}

/* t->i is past the '['. */
static bool parse_class(tr *t) {
    bool negated = false;
    if (t->i < t->len && t->s[t->i] == '^') {
        negated = true;
        t->i++;
    }
    if (t->i < t->len && t->s[t->i] == ']') {
        t->i++;
        if (!negated)
            return fail(t, E_EMPTY_CLASS);
        return emit_s(t, "([^a]|a)"); /* [^] matches any character */
    }
    cls c;
    memset(&c, 0, sizeof c);
    ss_buf_init(&c.wide, 1u << 20);
    bool ok = false;
    for (;;) {
        if (t->i >= t->len) {
            fail(t, E_CLASS);
            goto out;
        }
        if (t->s[t->i] == ']') {
            t->i++;
            break;
        }
        atom_kind k = A_CHAR;
        uint32_t lo = 0;
        if (t->s[t->i] == '\\') {
            t->i++;
            if (!parse_escape(t, true, &k, &lo))
                goto out;
        } else {
            lo = next_cp(t);
        }
        /* a range? "-" followed by something other than the closing "]" */
        if (t->i + 1 < t->len && t->s[t->i] == '-' && t->s[t->i + 1] != ']') {
            t->i++;
            atom_kind k2 = A_CHAR;
            uint32_t hi = 0;
            if (t->s[t->i] == '\\') {
                t->i++;
                if (!parse_escape(t, true, &k2, &hi))
                    goto out;
            } else {
                hi = next_cp(t);
            }
            if (k != A_CHAR || k2 != A_CHAR) {
                fail(t, E_RANGE_ESCAPE);
                goto out;
            }
            if (lo > hi) {
                fail(t, E_RANGE);
                goto out;
            }
            if (hi >= 0x80) {
                if (t->utf8) {
                    fail(t, E_NONASCII_RANGE);
                    goto out;
                }
                c.dropped_wide = true;
                if (lo >= 0x80)
                    continue;
                hi = 0x7f;
            }
            if (lo == 0) {
                fail(t, E_NUL);
                goto out;
            }
            for (uint32_t x = lo; x <= hi; x++)
                cls_set(&c, x);
            continue;
        }
        if (k == A_CHAR ? !cls_add(t, &c, lo) : !cls_add_escape(t, &c, k, negated))
            goto out;
    }

    bool empty;
    if (!c.negations) {
        if (!emit_bracket(t, &c, negated, &empty))
            goto out;
        if (empty) {
            /* ascii variant with only non-ASCII members: matches no ASCII
             * character, or (negated) any character */
            if (!emit_s(t, negated ? "([^a]|a)" : "(\xc2\x80)"))
                goto out;
        }
        ok = true;
        goto out;
    }
    /* [x\D] = (x|[^0-9]): positive classes only */
    if (!emit_s(t, "("))
        goto out;
    size_t mark = t->out.len;
    if (!emit_bracket(t, &c, false, &empty))
        goto out;
    for (atom_kind k = A_NDIGIT; k <= A_NSPACE; k++) {
        if (!(c.negations & (1u << k)))
            continue;
        if (t->out.len > mark && !emit_s(t, "|"))
            goto out;
        if (!emit_class_escape(t, k))
            goto out;
    }
    ok = emit_s(t, ")");
out:
    ss_buf_release(&c.wide);
    return ok;
}

/* ---- the pattern --------------------------------------------------------------- */

/* A quantifier {n}, {n,} or {n,m} at t->i ('{')? Its length, or 0. */
static size_t brace_quantifier(const tr *t) {
    size_t j = t->i + 1, digits = 0;
    while (j < t->len && t->s[j] >= '0' && t->s[j] <= '9')
        j++, digits++;
    if (!digits)
        return 0;
    if (j < t->len && t->s[j] == ',') {
        j++;
        while (j < t->len && t->s[j] >= '0' && t->s[j] <= '9')
            j++;
    }
    if (j < t->len && t->s[j] == '}')
        return j + 1 - t->i;
    return 0;
}

static bool translate(tr *t) {
    int depth = 0;
    bool after_quantifier = false;
    bool atom = false; /* the last item can take a quantifier */
    while (t->i < t->len) {
        unsigned char c = t->s[t->i];
        bool quant = false, was_atom = atom;
        atom = true; /* the default; anchors, groups' starts, | and quantifiers reset it */
        switch (c) {
        case '\\': {
            t->i++;
            atom_kind k;
            uint32_t cp;
            if (!parse_escape(t, false, &k, &cp))
                return false;
            if (!(k == A_CHAR ? emit_literal(t, cp) : emit_class_escape(t, k)))
                return false;
            break;
        }
        case '[':
            t->i++;
            if (!parse_class(t))
                return false;
            break;
        case '(':
            t->i++;
            if (t->i < t->len && t->s[t->i] == '?') {
                const unsigned char *q = t->s + t->i;
                size_t left = t->len - t->i;
                if (left >= 2 && q[1] == ':') {
                    t->i += 2;
                } else if (left >= 3 && q[1] == '<' && q[2] != '=' && q[2] != '!') {
                    size_t j = t->i + 2;
                    while (j < t->len && t->s[j] != '>')
                        j++;
                    if (j >= t->len)
                        return fail(t, E_INVALID);
                    t->i = j + 1;
                } else {
                    return fail(t, (left >= 2 && (q[1] == '=' || q[1] == '!' || q[1] == '<')) ? E_LOOK
                                                                                               : E_INVALID);
                }
            }
            depth++;
            if (!emit_s(t, "("))
                return false;
            atom = false;
            break;
        case ')':
            t->i++;
            if (depth-- == 0)
                return fail(t, E_PAREN);
            if (!emit_s(t, ")"))
                return false;
            break;
        case '|':
            t->i++;
            if (!emit_s(t, "|"))
                return false;
            atom = false;
            break;
        case '^':
            t->i++;
            if (!emit_s(t, ANCHOR_START))
                return false;
            atom = false;
            break;
        case '$':
            t->i++;
            if (!emit_s(t, ANCHOR_END))
                return false;
            atom = false;
            break;
        case '.':
            t->i++;
            if (!emit_s(t, t->utf8 ? "[^\n\r\xe2\x80\xa8\xe2\x80\xa9]" : "[^\n\r]"))
                return false;
            break;
        case '*':
        case '+':
        case '?':
            t->i++;
            atom = false;
            if (c == '?' && after_quantifier)
                break; /* lazy: same match/no-match answer */
            if (!was_atom)
                return fail(t, E_REPEAT);
            if (!emit(t, (const char *)&c, 1))
                return false;
            quant = true;
            break;
        case '{': {
            size_t n = brace_quantifier(t);
            if (n) {
                atom = false;
                if (!was_atom)
                    return fail(t, E_REPEAT);
                if (!emit(t, (const char *)t->s + t->i, n))
                    return false;
                t->i += n;
                quant = true;
            } else {
                t->i++;
                if (!emit_s(t, "[{]"))
                    return false;
            }
            break;
        }
        default:
            if (!emit_literal(t, next_cp(t)))
                return false;
            break;
        }
        after_quantifier = quant;
    }
    if (depth != 0)
        return fail(t, E_PAREN);
    return true;
}

ss_rc ss__sch_regex_translate(const char *src, size_t len, bool utf8, char **out, const char **why) {
    tr t = {(const unsigned char *)src, len, 0, utf8, {0}, NULL};
    ss_buf_init(&t.out, 1u << 20);
    if (!emit(&t, "", 0) || !translate(&t)) {
        ss_buf_release(&t.out);
        *why = t.why ? t.why : E_INVALID;
        return t.why == E_NOMEM ? SS_NOMEM : SS_BADARG;
    }
    *out = ss_buf_detach(&t.out, NULL);
    return SS_OK;
}

static ss_rc compile_variant(regex_t *re, const char *src, size_t len, bool utf8, locale_t loc,
                             const char **why) {
    char *posix;
    ss_rc rc = ss__sch_regex_translate(src, len, utf8, &posix, why);
    if (rc)
        return rc;
    locale_t old = uselocale(loc);
    int r = regcomp(re, posix, REG_EXTENDED | REG_NOSUB);
    uselocale(old);
    free(posix);
    if (r == REG_ESPACE) {
        *why = E_NOMEM;
        return SS_NOMEM;
    }
    if (r != 0) {
        *why = r == REG_ESIZE || r == REG_BADBR ? "pattern is too large or a repetition count is invalid"
                                                : E_INVALID;
        return SS_BADARG;
    }
    return SS_OK;
}

ss_rc ss__sch_regex_compile(ss__sch_regex *re, const char *src, size_t len, ss__sch_locales *loc,
                            const char **why) {
    if (!loc->c) {
        loc->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (!loc->c) {
            *why = E_LOCALE;
            return SS_NOMEM;
        }
    }
    if (!loc->utf8) {
        loc->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        if (!loc->utf8) {
            *why = E_LOCALE;
            return SS_BADARG;
        }
    }
    ss_rc rc = compile_variant(&re->utf8, src, len, true, loc->utf8, why);
    if (rc)
        return rc;
    rc = compile_variant(&re->ascii, src, len, false, loc->c, why);
    if (rc) {
        regfree(&re->utf8);
        return rc;
    }
    return SS_OK;
}

void ss__sch_regex_release(ss__sch_regex *re) {
    regfree(&re->utf8);
    regfree(&re->ascii);
}

static bool is_ascii(const char *s, size_t len) {
    size_t i = 0;
    uint64_t acc = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < len; i++)
        acc |= (unsigned char)s[i];
    return !(acc & 0x8080808080808080ull);
}

bool ss__sch_regex_search(const ss__sch_regex *re, const ss__sch_locales *loc, const char *s,
                          size_t len) {
    bool ascii = is_ascii(s, len);
    locale_t old = uselocale(ascii ? loc->c : loc->utf8);
    int r;
#ifdef REG_STARTEND
    if (len > (size_t)0x7fffffff) {
        r = REG_NOMATCH;
    } else {
        regmatch_t m = {0, (regoff_t)len};
        r = regexec(ascii ? &re->ascii : &re->utf8, s, 1, &m, REG_STARTEND);
    }
#else
    (void)len; /* strings with NUL are matched up to the first NUL */
    r = regexec(ascii ? &re->ascii : &re->utf8, s, 0, NULL, 0);
#endif
    uselocale(old);
    return r == 0;
}
