/* Strict RFC 8259 JSON scanner; see scan.h.
 *
 * One forward pass over the body, no DOM, no recursion: nesting is tracked in
 * a fixed array of SS_JSON_MAX_DEPTH bytes on the C stack, so stack use is
 * constant whatever the input. Every read is bounds-checked against `end`;
 * the scanner never reads outside [body.p, body.p + body.len).
 *
 * What is accepted, exactly:
 *  - one value with optional surrounding whitespace (space, \t, \n, \r);
 *  - numbers per the RFC grammar (no '+', no leading zeros, digits required
 *    on both sides of '.', digits required after 'e'); magnitude is not
 *    checked, so 1e400 and 20-digit integers are valid;
 *  - strings holding well-formed UTF-8 (no overlongs, no UTF-8-encoded
 *    surrogates, nothing above U+10FFFF) with no raw U+0000..U+001F, and only
 *    the escapes \" \\ \/ \b \f \n \r \t \uXXXX. A \u escape is only checked
 *    for four hex digits, so lone surrogates ("\ud800") are accepted, as
 *    JavaScript's JSON.parse accepts them;
 *  - at most SS_JSON_MAX_DEPTH nested arrays/objects.
 * Duplicate object keys are not checked (RFC 8259 leaves them to the reader).
 *
 * Item recording: while scanning, elements of a top-level array are noted in
 * 1 KiB blocks (the first on the C stack, the rest in the caller's arena);
 * at the end one exactly sized array is allocated in the arena and filled.
 * Arena use is thus about 2 * n * sizeof(ss_slice) for n elements (n is at
 * most body.len / 2), and a single allocation for arrays of up to
 * BLOCK_ITEMS elements (bench/json_scan_bench.c: markedly faster than
 * growing one array by doubling). On invalid input the blocks already
 * allocated stay in the arena until it is released. */
#include "json_scan.h"

#include <string.h>

#define BLOCK_ITEMS 63 /* sizeof(item_block) == 1024 on LP64 */

/* Static reasons handed out through *out_error. */
#define E_EMPTY "empty input"
#define E_EOF "unexpected end of input"
#define E_CHAR "unexpected character"
#define E_TRAILING "trailing characters"
#define E_COMMA "trailing comma"
#define E_DEPTH "nesting too deep"
#define E_UTF8 "invalid UTF-8"
#define E_CONTROL "control character in string"
#define E_ESCAPE "invalid escape"
#define E_UESCAPE "invalid \\u escape"
#define E_UNTERMINATED "unterminated string"
#define E_NUMBER "invalid number"
#define E_ZERO "leading zero in number"
#define E_LITERAL "invalid literal"
#define E_KEY "expected string key"
#define E_COLON "expected ':'"
#define E_ARRAY_SEP "expected ',' or ']'"
#define E_OBJECT_SEP "expected ',' or '}'"

/* Elements of the top-level array, noted in a chain of blocks. */
typedef struct item_block item_block;
struct item_block {
    item_block *next;
    size_t n;
    ss_slice v[BLOCK_ITEMS];
};

typedef struct items {
    ss_arena *a;
    item_block *tail; /* the block being filled */
    size_t n;         /* elements in all blocks */
    size_t max;       /* more elements: too_many (0: no limit) */
    bool too_many;
    item_block first; /* lives wherever the items struct does */
} items;

/* The trimmed top-level value. */
typedef struct top_value {
    const uint8_t *start;
    const uint8_t *stop;
    bool is_array;
} top_value;

/* 1 for bytes that may appear in a string unescaped and need no further
 * check: printable ASCII other than '"' and '\\'. */
/* clang-format off */
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const uint8_t plain_byte[256] = {
    R16(0), R16(0),                                 /* 0x00-0x1f control */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f, '"' at 0x22 */
    R16(1), R16(1),                                 /* 0x30-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50-0x5f, '\\' at 0x5c */
    R16(1), R16(1),                                 /* 0x60-0x7f */
    R16(0), R16(0), R16(0), R16(0),                 /* 0x80-0xff: UTF-8 */
    R16(0), R16(0), R16(0), R16(0),
};
#undef R16
/* clang-format on */

#define WS_MASK ((1ull << ' ') | (1ull << '\t') | (1ull << '\n') | (1ull << '\r'))

static inline bool is_ws(uint8_t c) { return c <= ' ' && ((WS_MASK >> c) & 1u); }

static inline bool is_digit(uint8_t c) { return (unsigned)(c - '0') < 10u; }

static inline bool is_hex(uint8_t c) { return (unsigned)(c - '0') < 10u || (unsigned)((c | 0x20u) - 'a') < 6u; }

/* Returns the first byte at or after p that is not JSON whitespace, or end. */
static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end) {
    while (p < end && is_ws(*p))
        p++;
    return p;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero exactly when some byte of w is not a plain_byte: below 0x20, '"',
 * '\\' or 0x80 and above. Independent of byte order. */
static inline uint64_t special_bytes(uint64_t w) {
    uint64_t quote = w ^ (ONES * '"');
    uint64_t bslash = w ^ (ONES * '\\');
    uint64_t t = ((w - ONES * 0x20) & ~w)      /* a byte < 0x20 */
                 | ((quote - ONES) & ~quote)   /* a byte == '"' */
                 | ((bslash - ONES) & ~bslash) /* a byte == '\\' */
                 | w;                          /* a byte >= 0x80 */
    return t & HIGHS;
}

/* Validates one multi-byte UTF-8 sequence whose lead byte is *p (>= 0x80).
 * Returns the byte after it, or NULL if it is malformed, overlong, encodes a
 * surrogate or a code point above U+10FFFF, or is cut off by end. */
static const uint8_t *utf8_sequence(const uint8_t *p, const uint8_t *end) {
    size_t avail = (size_t)(end - p);
    uint8_t c = p[0];
    if (c < 0xC2) /* stray continuation byte, or overlong C0/C1 lead */
        return NULL;
    if (c < 0xE0) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80)
            return NULL;
        return p + 2;
    }
    if (c < 0xF0) {
        /* E0: A0..BF rules out overlongs; ED: 80..9F rules out surrogates. */
        uint8_t lo = c == 0xE0 ? 0xA0 : 0x80;
        uint8_t hi = c == 0xED ? 0x9F : 0xBF;
        if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return NULL;
        return p + 3;
    }
    if (c < 0xF5) {
        /* F0: 90..BF rules out overlongs; F4: 80..8F caps at U+10FFFF. */
        uint8_t lo = c == 0xF0 ? 0x90 : 0x80;
        uint8_t hi = c == 0xF4 ? 0x8F : 0xBF;
        if (avail < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return NULL;
        return p + 4;
    }
    return NULL; /* F5..FF never occur in UTF-8 */
}

/* Scans a string; p is just past the opening quote. Returns the byte after
 * the closing quote, or NULL with *why set.
 *
 * Plain bytes are skipped a byte at a time for up to 16 bytes (most keys and
 * values are short, and this measured faster than word tricks for them),
 * then 8 at a time. */
static const uint8_t *scan_string(const uint8_t *p, const uint8_t *end, const char **why) {
    for (;;) {
        const uint8_t *lim = (size_t)(end - p) > 16 ? p + 16 : end;
        while (p < lim && plain_byte[*p])
            p++;
        if (p == lim) {
            if (p == end) {
                *why = E_UNTERMINATED;
                return NULL;
            }
            /* A long plain run: skip whole words, then let the byte loop
             * find the special byte. */
            while ((size_t)(end - p) >= 8) {
                uint64_t w;
                memcpy(&w, p, sizeof w);
                if (special_bytes(w))
                    break;
                p += 8;
            }
            continue;
        }
        uint8_t c = *p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            if (end - p < 2) {
                *why = E_UNTERMINATED;
                return NULL;
            }
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                break;
            case 'u':
                /* Four hex digits; surrogate pairing is deliberately not
                 * checked (lone surrogates are accepted). */
                if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5])) {
                    *why = E_UESCAPE;
                    return NULL;
                }
                p += 6;
                break;
            default:
                *why = E_ESCAPE;
                return NULL;
            }
        } else if (c < 0x20) {
            *why = E_CONTROL;
            return NULL;
        } else { /* c >= 0x80 */
            p = utf8_sequence(p, end);
            if (!p) {
                *why = E_UTF8;
                return NULL;
            }
        }
    }
}

/* Scans a number starting at p ('-' or a digit). Returns the byte after it,
 * or NULL with *why set. */
static const uint8_t *scan_number(const uint8_t *p, const uint8_t *end, const char **why) {
    if (*p == '-')
        p++;
    if (p == end || !is_digit(*p))
        goto bad;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) {
            *why = E_ZERO;
            return NULL;
        }
    } else {
        do
            p++;
        while (p < end && is_digit(*p));
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            goto bad;
        do
            p++;
        while (p < end && is_digit(*p));
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            goto bad;
        do
            p++;
        while (p < end && is_digit(*p));
    }
    return p;
bad:
    *why = E_NUMBER;
    return NULL;
}

/* True when [p, end) starts with the n bytes of lit. */
static inline bool has_literal(const uint8_t *p, const uint8_t *end, const char *lit, size_t n) {
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* Prepares `it` for scan(); `it` must not move afterwards. */
static void items_init(items *it, ss_arena *a, size_t max) {
    it->a = a;
    it->tail = &it->first;
    it->n = 0;
    it->max = max;
    it->too_many = false;
    it->first.next = NULL;
    it->first.n = 0;
}

/* Notes [start, stop) as the next element. False when the arena fails or
 * the element is one too many (too_many). */
static bool push_item(items *it, const uint8_t *start, const uint8_t *stop) {
    if (it->max && it->n == it->max) {
        it->too_many = true;
        return false;
    }
    item_block *b = it->tail;
    if (b->n == BLOCK_ITEMS) {
        item_block *fresh = ss_arena_alloc(it->a, sizeof *fresh);
        if (!fresh)
            return false;
        fresh->next = NULL;
        fresh->n = 0;
        b->next = fresh;
        it->tail = b = fresh;
    }
    b->v[b->n++] = (ss_slice){(const char *)start, (size_t)(stop - start)};
    it->n++;
    return true;
}

/* Copies the noted elements into one array in the arena. Sets *out to NULL
 * when there are none. False when the arena fails. */
static bool items_collect(const items *it, ss_slice **out) {
    *out = NULL;
    if (it->n == 0)
        return true;
    /* n * sizeof *v cannot overflow: the blocks already hold n slices. */
    ss_slice *v = ss_arena_alloc(it->a, it->n * sizeof *v);
    if (!v)
        return false;
    size_t k = 0;
    for (const item_block *b = &it->first; b; b = b->next) {
        memcpy(v + k, b->v, b->n * sizeof *v);
        k += b->n;
    }
    *out = v;
    return true;
}

/* Validates [p, end) (end > p) as one JSON text. Fills *top on success. When
 * `it` is not NULL and the value is an array, its elements are appended to
 * `it`. Returns SS_OK, SS_BADARG with *why set, or SS_NOMEM.
 *
 * A goto-driven state machine: `value` expects the first byte of a value,
 * `after_value` stands just past a complete value, `member` expects an
 * object key. stack[d] holds the closing byte (']' or '}') of the container
 * open at depth d + 1. */
static ss_rc scan(const uint8_t *p, const uint8_t *end, items *it, top_value *top, const char **why) {
    uint8_t stack[SS_JSON_MAX_DEPTH];
    size_t depth = 0;
    bool split = false;         /* recording top-level array elements */
    const uint8_t *item = NULL; /* start of the current depth-1 value */
    const uint8_t *start;       /* start of the top-level value */

    p = skip_ws(p, end);
    if (p == end) {
        *why = E_EMPTY;
        return SS_BADARG;
    }
    start = p;

value:
    if (p == end)
        goto eof;
    if (depth == 1)
        item = p;
    switch (*p) {
    case '[':
        if (depth == SS_JSON_MAX_DEPTH)
            goto too_deep;
        if (depth == 0)
            split = it != NULL;
        stack[depth++] = ']';
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']') {
            p++;
            depth--;
            goto after_value;
        }
        goto value;
    case '{':
        if (depth == SS_JSON_MAX_DEPTH)
            goto too_deep;
        stack[depth++] = '}';
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            p++;
            depth--;
            goto after_value;
        }
        goto member;
    case '"':
        p = scan_string(p + 1, end, why);
        if (!p)
            return SS_BADARG;
        goto after_value;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        p = scan_number(p, end, why);
        if (!p)
            return SS_BADARG;
        goto after_value;
    case 't':
        if (!has_literal(p, end, "true", 4))
            goto bad_literal;
        p += 4;
        goto after_value;
    case 'f':
        if (!has_literal(p, end, "false", 5))
            goto bad_literal;
        p += 5;
        goto after_value;
    case 'n':
        if (!has_literal(p, end, "null", 4))
            goto bad_literal;
        p += 4;
        goto after_value;
    default:
        *why = E_CHAR;
        return SS_BADARG;
    }

after_value:
    if (depth == 0)
        goto done;
    if (depth == 1 && split && !push_item(it, item, p))
        return SS_NOMEM;
    p = skip_ws(p, end);
    if (p == end)
        goto eof;
    if (*p == ',') {
        p = skip_ws(p + 1, end);
        if (p < end && *p == stack[depth - 1]) {
            *why = E_COMMA;
            return SS_BADARG;
        }
        if (stack[depth - 1] == ']')
            goto value;
        goto member;
    }
    if (*p == stack[depth - 1]) {
        p++;
        depth--;
        goto after_value;
    }
    *why = stack[depth - 1] == ']' ? E_ARRAY_SEP : E_OBJECT_SEP;
    return SS_BADARG;

member:
    if (p == end)
        goto eof;
    if (*p != '"') {
        *why = E_KEY;
        return SS_BADARG;
    }
    p = scan_string(p + 1, end, why);
    if (!p)
        return SS_BADARG;
    p = skip_ws(p, end);
    if (p == end)
        goto eof;
    if (*p != ':') {
        *why = E_COLON;
        return SS_BADARG;
    }
    p = skip_ws(p + 1, end);
    goto value;

done:
    top->start = start;
    top->stop = p;
    top->is_array = *start == '[';
    if (skip_ws(p, end) != end) {
        *why = E_TRAILING;
        return SS_BADARG;
    }
    return SS_OK;

eof:
    *why = E_EOF;
    return SS_BADARG;
too_deep:
    *why = E_DEPTH;
    return SS_BADARG;
bad_literal:
    *why = E_LITERAL;
    return SS_BADARG;
}

/* Contract as in scan.h. `a` must not be NULL. For an empty top-level array
 * *out_items is set to NULL (and *out_n to 0); otherwise it points to *out_n
 * slices in `a`, each pointing into `body`. *out_error is written only on
 * SS_BADARG. */
ss_rc ss_json_split(ss_slice body, size_t max_items, ss_arena *a, ss_slice **out_items, size_t *out_n,
                    bool *out_is_array, const char **out_error) {
    const char *why = E_EMPTY;
    if (body.len == 0) {
        if (out_error)
            *out_error = why;
        return SS_BADARG;
    }
    const uint8_t *p = (const uint8_t *)body.p;
    items it;
    items_init(&it, a, max_items);
    top_value top;
    ss_rc rc = scan(p, p + body.len, &it, &top, &why);
    if (rc == SS_BADARG && out_error)
        *out_error = why;
    if (rc)
        return it.too_many ? SS_TOOBIG : rc;
    ss_slice *v;
    size_t n = 1;
    if (top.is_array) {
        if (!items_collect(&it, &v))
            return SS_NOMEM;
        n = it.n;
    } else {
        v = ss_arena_alloc(a, sizeof *v);
        if (!v)
            return SS_NOMEM;
        *v = (ss_slice){(const char *)top.start, (size_t)(top.stop - top.start)};
    }
    *out_items = v;
    *out_n = n;
    *out_is_array = top.is_array;
    return SS_OK;
}

/* True when `body` is exactly one valid JSON text; allocates nothing. */
const char *ss_json_invalid_reason(ss_slice body) {
    if (body.len == 0)
        return E_EMPTY;
    const uint8_t *p = (const uint8_t *)body.p;
    top_value top;
    const char *why = NULL;
    return scan(p, p + body.len, NULL, &top, &why) == SS_OK ? NULL : why;
}

bool ss_json_is_valid(ss_slice body) { return ss_json_invalid_reason(body) == NULL; }

bool ss_utf8_is_valid(ss_slice s) {
    const uint8_t *p = (const uint8_t *)s.p, *end = p + s.len;
    while (p < end) {
        if (*p < 0x80)
            p++;
        else if (!(p = utf8_sequence(p, end)))
            return false;
    }
    return true;
}
