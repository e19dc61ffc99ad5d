/* Tests for the strict JSON scanner (src/json/scan.c).
 *
 * Links against libcriterion and libjansson (the differential tests compare
 * the scanner's verdicts and item splits with jansson's parser). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "streamsy/bytes.h"

static ss_arena arena;

static void setup(void) { ss_arena_init(&arena); }
static void teardown(void) { ss_arena_release(&arena); }

TestSuite(json_scan, .init = setup, .fini = teardown);

/* ---- helpers ------------------------------------------------------------ */

typedef struct split_result {
    ss_rc rc;
    ss_slice *items; /* rebased onto the caller's input; NULL on failure */
    size_t n;
    bool is_array;
    const char *err; /* NULL on success */
} split_result;

/* Renders input for failure messages, escaping non-printable bytes. Returns a
 * static buffer (tests run one per process, single-threaded). */
static const char *show(const char *s, size_t len) {
    static char out[512];
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < sizeof out; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
    }
    if (o + 8 >= sizeof out)
        memcpy(out + o, "...", 4);
    else
        out[o] = '\0';
    return out;
}

static bool is_json_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Runs ss_json_split on an exact-size heap copy of s (so sanitizers catch any
 * read past the end), checks the invariants every call must satisfy, and
 * returns the items rebased onto s:
 *  - failure: SS_BADARG, a short non-empty reason, outputs untouched;
 *  - success: every item is a non-empty, whitespace-trimmed range inside the
 *    body; a non-array gives exactly one item;
 *  - ss_json_is_valid agrees with ss_json_split. */
static split_result split_n(const char *s, size_t len) {
    static ss_slice sentinel_item;
    char *copy = malloc(len ? len : 1);
    cr_assert(copy != NULL);
    if (len)
        memcpy(copy, s, len);

    ss_slice *items = &sentinel_item;
    size_t n = 777;
    bool is_array = true;
    const char *err = NULL;
    ss_rc rc = ss_json_split(ss_slice_of(copy, len), 0, &arena, &items, &n, &is_array, &err);
    bool valid = ss_json_is_valid(ss_slice_of(copy, len));

    split_result r = {rc, NULL, 0, false, NULL};
    if (rc != SS_OK) {
        cr_assert_eq(rc, SS_BADARG, "rc %d for %s", (int)rc, show(s, len));
        cr_assert(!valid, "is_valid disagrees with split for %s", show(s, len));
        cr_assert(err != NULL && err[0] != '\0' && strlen(err) < 40, "bad reason for %s", show(s, len));
        cr_assert(items == &sentinel_item && n == 777 && is_array, "outputs touched on failure for %s",
                  show(s, len));
        r.err = err;
    } else {
        cr_assert(valid, "is_valid disagrees with split for %s", show(s, len));
        cr_assert(err == NULL, "error set on success for %s", show(s, len));
        cr_assert(is_array || n == 1, "non-array gave %zu items for %s", n, show(s, len));
        cr_assert(n == 0 || items != NULL);
        for (size_t i = 0; i < n; i++) {
            const char *p = items[i].p;
            size_t l = items[i].len;
            cr_assert(p >= copy && l > 0 && l <= len && (size_t)(p - copy) <= len - l,
                      "item %zu outside body for %s", i, show(s, len));
            cr_assert(!is_json_ws(p[0]) && !is_json_ws(p[l - 1]), "item %zu not trimmed for %s", i, show(s, len));
            items[i].p = s + (p - copy);
        }
        r.items = items;
        r.n = n;
        r.is_array = is_array;
    }
    free(copy);
    return r;
}

static split_result split_str(const char *s) { return split_n(s, strlen(s)); }

static void accept_n(const char *s, size_t len) {
    split_result r = split_n(s, len);
    cr_assert_eq(r.rc, SS_OK, "rejected valid %s: %s", show(s, len), r.err ? r.err : "");
}

static const char *reject_n(const char *s, size_t len) {
    split_result r = split_n(s, len);
    cr_assert_eq(r.rc, SS_BADARG, "accepted invalid %s", show(s, len));
    return r.err;
}

/* For string literals, which may contain NUL bytes. */
#define ACCEPT(lit) accept_n((lit), sizeof(lit) - 1)
#define REJECT(lit) reject_n((lit), sizeof(lit) - 1)
/* Rejects and checks the reason. */
#define REJECT_BECAUSE(lit, reason)                                                                               \
    do {                                                                                                          \
        const char *why_ = REJECT(lit);                                                                           \
        cr_assert_str_eq(why_, (reason), "wrong reason for %s", show(lit, sizeof(lit) - 1));                      \
    } while (0)

static void assert_item(split_result r, size_t i, const char *want) {
    cr_assert(i < r.n, "only %zu items", r.n);
    cr_assert(ss_slice_eq(r.items[i], ss_slice_cstr(want)), "item %zu is '%.*s', want '%s'", i,
              (int)r.items[i].len, r.items[i].p, want);
}

/* Deterministic PRNG (xorshift64*), so fuzz runs are reproducible. */
static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s ? s : 1; }
static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static size_t rng_below(size_t n) { return (size_t)(rng() % n); }

/* ---- valid input ------------------------------------------------------- */

Test(json_scan, accepts_scalars_as_one_item) {
    static const char *const scalars[] = {
        "0",    "-0",    "7",    "-7",   "123",     "1.5",        "-1.5e10",
        "1E+2", "1e-2",  "0.0",  "0e0",  "-0.0E-0", "1e400",      "123456789012345678901234567890",
        "true", "false", "null", "\"\"", "\"abc\"", "\"a\\\"b\"",
    };
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++) {
        split_result r = split_str(scalars[i]);
        cr_assert_eq(r.rc, SS_OK, "rejected %s: %s", scalars[i], r.err ? r.err : "");
        cr_assert(!r.is_array);
        cr_assert_eq(r.n, 1);
        assert_item(r, 0, scalars[i]);
    }
}

Test(json_scan, trims_whitespace_around_a_scalar) {
    split_result r = split_str(" \t\r\n 42 \n\t\r ");
    cr_assert_eq(r.rc, SS_OK);
    cr_assert(!r.is_array);
    cr_assert_eq(r.n, 1);
    assert_item(r, 0, "42");
}

Test(json_scan, accepts_objects_as_one_item) {
    static const char *const objects[] = {
        "{}",          "{ }",
        "{\"a\":1}",   "{\"a\" : 1 , \"b\" : [1, {\"c\": null}], \"d\": {}}",
        "{\"\":\"\"}", "{\"a\":1,\"a\":2}", /* duplicate keys are the reader's business */
    };
    for (size_t i = 0; i < sizeof objects / sizeof *objects; i++) {
        split_result r = split_str(objects[i]);
        cr_assert_eq(r.rc, SS_OK, "rejected %s: %s", objects[i], r.err ? r.err : "");
        cr_assert(!r.is_array);
        cr_assert_eq(r.n, 1);
        assert_item(r, 0, objects[i]);
    }
    split_result r = split_str("\n {\"k\": [1, 2]}\t");
    assert_item(r, 0, "{\"k\": [1, 2]}");
}

Test(json_scan, splits_a_top_level_array_into_its_elements) {
    split_result r = split_str("[1,\"two\",{\"three\":3},[4],true,false,null,-5.5e-5]");
    cr_assert_eq(r.rc, SS_OK);
    cr_assert(r.is_array);
    cr_assert_eq(r.n, 8);
    const char *want[] = {"1", "\"two\"", "{\"three\":3}", "[4]", "true", "false", "null", "-5.5e-5"};
    for (size_t i = 0; i < 8; i++)
        assert_item(r, i, want[i]);
}

Test(json_scan, gives_zero_items_for_an_empty_array) {
    static const char *const empties[] = {"[]", "[ ]", " [\n\t\r ] "};
    for (size_t i = 0; i < 3; i++) {
        split_result r = split_str(empties[i]);
        cr_assert_eq(r.rc, SS_OK);
        cr_assert(r.is_array);
        cr_assert_eq(r.n, 0);
    }
}

Test(json_scan, flattens_one_level_only) {
    split_result r = split_str("[[1,2],[3,4]]");
    cr_assert_eq(r.rc, SS_OK);
    cr_assert_eq(r.n, 2);
    assert_item(r, 0, "[1,2]");
    assert_item(r, 1, "[3,4]");

    r = split_str("[[[1,2,3]]]");
    cr_assert_eq(r.rc, SS_OK);
    cr_assert_eq(r.n, 1);
    assert_item(r, 0, "[[1,2,3]]");

    r = split_str("[[]]");
    cr_assert_eq(r.n, 1);
    assert_item(r, 0, "[]");

    r = split_str("[{\"a\":[1,2]},{}]");
    cr_assert_eq(r.n, 2);
    assert_item(r, 0, "{\"a\":[1,2]}");
    assert_item(r, 1, "{}");
}

Test(json_scan, does_not_split_arrays_inside_a_top_level_object) {
    split_result r = split_str("{\"a\":[1,2,3]}");
    cr_assert_eq(r.rc, SS_OK);
    cr_assert(!r.is_array);
    cr_assert_eq(r.n, 1);
}

Test(json_scan, trims_whitespace_around_array_items) {
    split_result r = split_str("  [ \n 1 \t,\r\n\"a b\"  ,  { \"k\" : [ 1 , 2 ] }\n, [ ]  ]  ");
    cr_assert_eq(r.rc, SS_OK);
    cr_assert_eq(r.n, 4);
    assert_item(r, 0, "1");
    assert_item(r, 1, "\"a b\"");
    assert_item(r, 2, "{ \"k\" : [ 1 , 2 ] }");
    assert_item(r, 3, "[ ]");
}

Test(json_scan, points_items_into_the_body_without_copying) {
    const char *body = "[10, 20]";
    ss_slice *items;
    size_t n;
    bool is_array;
    cr_assert_eq(ss_json_split(ss_slice_cstr(body), 0, &arena, &items, &n, &is_array, NULL), SS_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(items[0].p, body + 1);
    cr_assert_eq(items[0].len, 2);
    cr_assert_eq(items[1].p, body + 5);
    cr_assert_eq(items[1].len, 2);
}

Test(json_scan, splits_a_large_array) {
    enum { N = 100000 };
    char *body = malloc((size_t)N * 8 + 2);
    cr_assert(body != NULL);
    size_t len = 0;
    body[len++] = '[';
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(body + len, i ? ", %d" : "%d", i);
    body[len++] = ']';
    split_result r = split_n(body, len);
    cr_assert_eq(r.rc, SS_OK);
    cr_assert_eq(r.n, (size_t)N);
    assert_item(r, 0, "0");
    assert_item(r, 12345, "12345");
    assert_item(r, N - 1, "99999");
    free(body);
}

Test(json_scan, keeps_every_item_in_order_for_any_array_length) {
    /* Crosses the scanner's internal storage boundaries (blocks of 63). */
    char body[2048];
    char want[16];
    for (size_t count = 0; count <= 200; count++) {
        size_t len = 0;
        body[len++] = '[';
        for (size_t i = 0; i < count; i++)
            len += (size_t)sprintf(body + len, "%s\"%zu\"", i ? "," : "", i);
        body[len++] = ']';
        split_result r = split_n(body, len);
        cr_assert_eq(r.rc, SS_OK);
        cr_assert_eq(r.n, count);
        for (size_t i = 0; i < count; i++) {
            sprintf(want, "\"%zu\"", i);
            assert_item(r, i, want);
        }
    }
}

Test(json_scan, accepts_valid_utf8_in_strings) {
    ACCEPT("\"\xc2\x80\"");         /* U+0080, smallest 2-byte */
    ACCEPT("\"\xdf\xbf\"");         /* U+07FF */
    ACCEPT("\"\xe0\xa0\x80\"");     /* U+0800, smallest 3-byte */
    ACCEPT("\"\xed\x9f\xbf\"");     /* U+D7FF, just below surrogates */
    ACCEPT("\"\xee\x80\x80\"");     /* U+E000, just above surrogates */
    ACCEPT("\"\xef\xbf\xbf\"");     /* U+FFFF */
    ACCEPT("\"\xf0\x90\x80\x80\""); /* U+10000, smallest 4-byte */
    ACCEPT("\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF, largest */
    ACCEPT("\"h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac\"");
    ACCEPT("{\"\xe2\x82\xac\":\"\xf0\x9f\x98\x80\"}"); /* in keys too */
    ACCEPT("\"\x7f\"");                                /* DEL is not a control character in JSON */
    ACCEPT("\"\xef\xbb\xbf\"");                        /* a BOM inside a string is just U+FEFF */
}

Test(json_scan, accepts_every_valid_escape) {
    ACCEPT("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"");
    ACCEPT("\"\\u0000 \\u001f \\u00e9 \\uFFFF \\uAbCd\"");
    ACCEPT("\"\\ud83d\\ude00\""); /* a proper surrogate pair */
}

Test(json_scan, accepts_lone_surrogate_escapes) {
    ACCEPT("\"\\ud800\"");
    ACCEPT("\"\\udfff\"");
    ACCEPT("\"\\udc00\\ud800\""); /* reversed pair */
    ACCEPT("\"\\ud800x\"");
    ACCEPT("[\"\\uDBFF\"]");
}

Test(json_scan, accepts_long_strings_crossing_word_boundaries) {
    /* Exercise the 8-byte fast path with specials at every offset. */
    char buf[64];
    for (size_t at = 1; at < 40; at++) {
        memset(buf, 'a', sizeof buf);
        buf[0] = '"';
        buf[at] = '\\';
        buf[at + 1] = 'n';
        buf[50] = '"';
        accept_n(buf, 51);
        buf[at] = '\x01';
        cr_assert_str_eq(reject_n(buf, 51), "control character in string");
        buf[at] = '"';
        cr_assert_str_eq(reject_n(buf, 51), "trailing characters");
        buf[at] = '\xff';
        cr_assert_str_eq(reject_n(buf, 51), "invalid UTF-8");
    }
}

/* ---- rejections -------------------------------------------------------- */

Test(json_scan, rejects_empty_and_whitespace_only_input) {
    REJECT_BECAUSE("", "empty input");
    REJECT_BECAUSE("   ", "empty input");
    REJECT_BECAUSE(" \t\r\n", "empty input");
    cr_assert(!ss_json_is_valid(SS_SLICE_NULL));
}

Test(json_scan, rejects_trailing_characters) {
    REJECT_BECAUSE("1 2", "trailing characters");
    REJECT_BECAUSE("{} {}", "trailing characters");
    REJECT_BECAUSE("[1]]", "trailing characters");
    REJECT_BECAUSE("[1],", "trailing characters");
    REJECT_BECAUSE("\"a\"\"b\"", "trailing characters");
    REJECT_BECAUSE("truex", "trailing characters");
    REJECT_BECAUSE("nulll", "trailing characters");
    REJECT_BECAUSE("1\x00", "trailing characters");
    REJECT_BECAUSE("[]\x00", "trailing characters");
    REJECT_BECAUSE("0x10", "trailing characters");
    REJECT("[1]x");
    REJECT("1.5.5");
}

Test(json_scan, rejects_comments) {
    REJECT("// c\n1");
    REJECT("1 // c");
    REJECT("/* c */ 1");
    REJECT("[1 /* c */]");
    REJECT("[1, # c\n 2]");
    REJECT("{\"a\":1 /* c */}");
}

Test(json_scan, rejects_trailing_commas) {
    REJECT_BECAUSE("[1,]", "trailing comma");
    REJECT_BECAUSE("[1 , ]", "trailing comma");
    REJECT_BECAUSE("{\"a\":1,}", "trailing comma");
    REJECT_BECAUSE("{\"a\":1 ,\n}", "trailing comma");
    REJECT("[,]");
    REJECT("[,1]");
    REJECT("[1,,2]");
    REJECT("{,}");
    REJECT("{\"a\":1,,\"b\":2}");
    REJECT("[1,");
}

Test(json_scan, rejects_single_quotes) {
    REJECT("'a'");
    REJECT("['a']");
    REJECT("{'a':1}");
    REJECT("{\"a\":'b'}");
}

Test(json_scan, rejects_nan_and_infinity) {
    REJECT("NaN");
    REJECT("-NaN");
    REJECT("nan");
    REJECT("Infinity");
    REJECT("-Infinity");
    REJECT("+Infinity");
    REJECT("inf");
    REJECT("[NaN]");
    REJECT("{\"a\":Infinity}");
}

Test(json_scan, rejects_leading_zeros) {
    REJECT_BECAUSE("01", "leading zero in number");
    REJECT_BECAUSE("00", "leading zero in number");
    REJECT_BECAUSE("-01", "leading zero in number");
    REJECT_BECAUSE("0123.5", "leading zero in number");
    REJECT_BECAUSE("[1, 007]", "leading zero in number");
    ACCEPT("0");
    ACCEPT("0.01");
    ACCEPT("10");
}

Test(json_scan, rejects_leading_plus) {
    REJECT_BECAUSE("+1", "unexpected character");
    REJECT("[+1]");
    REJECT("+0");
    REJECT("-+1");
}

Test(json_scan, rejects_malformed_fractions_and_exponents) {
    REJECT(".5");
    REJECT("-.5");
    REJECT_BECAUSE("1.", "invalid number");
    REJECT_BECAUSE("1.e5", "invalid number");
    REJECT_BECAUSE("1e", "invalid number");
    REJECT_BECAUSE("1E", "invalid number");
    REJECT_BECAUSE("1e+", "invalid number");
    REJECT_BECAUSE("1e-", "invalid number");
    REJECT_BECAUSE("1e+-1", "invalid number");
    REJECT_BECAUSE("-", "invalid number");
    REJECT_BECAUSE("-a", "invalid number");
    REJECT_BECAUSE("[1.]", "invalid number");
    REJECT_BECAUSE("[1e]", "invalid number");
    REJECT("1e5.5");
    REJECT("1 000");
    REJECT("--1");
}

Test(json_scan, rejects_raw_control_characters_in_strings) {
    for (int c = 0; c < 0x20; c++) {
        char buf[] = {'"', 'a', (char)c, 'b', '"'};
        cr_assert_str_eq(reject_n(buf, sizeof buf), "control character in string", "byte 0x%02x", c);
        char key[] = {'{', '"', (char)c, '"', ':', '1', '}'};
        reject_n(key, sizeof key);
    }
}

Test(json_scan, rejects_invalid_escapes) {
    REJECT_BECAUSE("\"\\x41\"", "invalid escape");
    REJECT_BECAUSE("\"\\'\"", "invalid escape");
    REJECT_BECAUSE("\"\\a\"", "invalid escape");
    REJECT_BECAUSE("\"\\U0041\"", "invalid escape");
    REJECT_BECAUSE("\"\\0\"", "invalid escape");
    REJECT_BECAUSE("\"\\ \"", "invalid escape");
    REJECT_BECAUSE("\"\\\xc3\xa9\"", "invalid escape");
    REJECT_BECAUSE("\"\\", "unterminated string");
    REJECT_BECAUSE("\"\\\"", "unterminated string");
}

Test(json_scan, rejects_unicode_escapes_with_non_hex_digits) {
    REJECT_BECAUSE("\"\\u12G4\"", "invalid \\u escape");
    REJECT_BECAUSE("\"\\u123\"", "invalid \\u escape");
    REJECT_BECAUSE("\"\\u\"", "invalid \\u escape");
    REJECT_BECAUSE("\"\\u 1234\"", "invalid \\u escape");
    REJECT_BECAUSE("\"\\u-123\"", "invalid \\u escape");
    REJECT_BECAUSE("\"\\ug000\"", "invalid \\u escape");
    REJECT_BECAUSE("\"\\u00\xc3\xa9\"", "invalid \\u escape");
    REJECT_BECAUSE("\"\\u12", "invalid \\u escape");
    REJECT_BECAUSE("\"\\u1234", "unterminated string");
}

Test(json_scan, rejects_non_json_whitespace) {
    REJECT("\f1");
    REJECT("1\v");
    REJECT("[1,\f2]");
    REJECT("\xc2\xa0"
           "1"); /* NO-BREAK SPACE */
    REJECT("\xef\xbb\xbf"
           "1"); /* byte order mark */
    REJECT("\xe2\x80\xa8"
           "1"); /* LINE SEPARATOR */
}

Test(json_scan, rejects_overlong_utf8) {
    REJECT_BECAUSE("\"\xc0\x80\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xc0\xaf\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xc1\xbf\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xe0\x80\x80\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xe0\x9f\xbf\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xf0\x80\x80\x80\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8");
}

Test(json_scan, rejects_surrogates_encoded_in_utf8) {
    REJECT_BECAUSE("\"\xed\xa0\x80\"", "invalid UTF-8");             /* U+D800 */
    REJECT_BECAUSE("\"\xed\xaf\xbf\"", "invalid UTF-8");             /* U+DBFF */
    REJECT_BECAUSE("\"\xed\xb0\x80\"", "invalid UTF-8");             /* U+DC00 */
    REJECT_BECAUSE("\"\xed\xbf\xbf\"", "invalid UTF-8");             /* U+DFFF */
    REJECT_BECAUSE("\"\xed\xa0\xbd\xed\xb8\x80\"", "invalid UTF-8"); /* CESU-8 pair */
}

Test(json_scan, rejects_code_points_above_u10ffff) {
    REJECT_BECAUSE("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* U+110000 */
    REJECT_BECAUSE("\"\xf4\xbf\xbf\xbf\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xf7\xbf\xbf\xbf\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xf8\x88\x80\x80\x80\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xfc\x84\x80\x80\x80\x80\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xfe\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xff\"", "invalid UTF-8");
}

Test(json_scan, rejects_truncated_and_stray_utf8) {
    REJECT_BECAUSE("\"\xc3\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xe2\x82\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xf0\x9f\x98\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xc3", "invalid UTF-8"); /* cut off by the end */
    REJECT_BECAUSE("\"\xf0\x9f\x98", "invalid UTF-8");
    REJECT_BECAUSE("\"\x80\"", "invalid UTF-8"); /* lone continuation */
    REJECT_BECAUSE("\"\xbf\xbf\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xc3\xa9\xa9\"", "invalid UTF-8"); /* one continuation too many */
    REJECT_BECAUSE("\"\xe2\x28\xa1\"", "invalid UTF-8");
    REJECT_BECAUSE("\"\xf0\x9f\x98\x41\"", "invalid UTF-8");
}

Test(json_scan, rejects_non_ascii_outside_strings) {
    REJECT_BECAUSE("\xc3\xa9", "unexpected character");
    REJECT_BECAUSE("[1,\xff]", "unexpected character");
    REJECT("[1]\x80");
    REJECT("{\"a\"\xc2\xa0:1}");
}

Test(json_scan, rejects_unterminated_values) {
    REJECT_BECAUSE("[", "unexpected end of input");
    REJECT_BECAUSE("[1", "unexpected end of input");
    REJECT_BECAUSE("[1,", "unexpected end of input");
    REJECT_BECAUSE("{", "unexpected end of input");
    REJECT_BECAUSE("{\"a\"", "unexpected end of input");
    REJECT_BECAUSE("{\"a\":", "unexpected end of input");
    REJECT_BECAUSE("{\"a\":1", "unexpected end of input");
    REJECT_BECAUSE("[[[]]", "unexpected end of input");
    REJECT_BECAUSE("\"abc", "unterminated string");
    REJECT_BECAUSE("{\"ab", "unterminated string");
    REJECT_BECAUSE("tru", "invalid literal");
    REJECT_BECAUSE("fals", "invalid literal");
    REJECT_BECAUSE("n", "invalid literal");
}

Test(json_scan, rejects_missing_or_wrong_separators) {
    REJECT_BECAUSE("[1 2]", "expected ',' or ']'");
    REJECT_BECAUSE("[1}", "expected ',' or ']'");
    REJECT_BECAUSE("[1:2]", "expected ',' or ']'");
    REJECT_BECAUSE("{\"a\":1 \"b\":2}", "expected ',' or '}'");
    REJECT_BECAUSE("{\"a\":1]", "expected ',' or '}'");
    REJECT_BECAUSE("{\"a\" 1}", "expected ':'");
    REJECT_BECAUSE("{\"a\",1}", "expected ':'");
    REJECT_BECAUSE("{1:2}", "expected string key");
    REJECT_BECAUSE("{a:2}", "expected string key");
    REJECT_BECAUSE("{null:2}", "expected string key");
    REJECT_BECAUSE("{\"a\":}", "unexpected character");
    REJECT_BECAUSE("]", "unexpected character");
    REJECT_BECAUSE("}", "unexpected character");
    REJECT_BECAUSE(",", "unexpected character");
    REJECT_BECAUSE(":", "unexpected character");
    REJECT("[}");
    REJECT("{]");
    REJECT("{\"a\":1:2}");
}

Test(json_scan, rejects_invalid_literals) {
    REJECT_BECAUSE("tru e", "invalid literal");
    REJECT_BECAUSE("trUe", "invalid literal");
    REJECT_BECAUSE("nul", "invalid literal");
    REJECT_BECAUSE("fALSE", "invalid literal");
    REJECT("True");
    REJECT("NULL");
    REJECT("undefined");
    REJECT("[none]");
}

Test(json_scan, accepts_a_null_error_pointer) {
    ss_slice *items;
    size_t n;
    bool is_array;
    cr_assert_eq(ss_json_split(ss_slice_cstr("[1,"), 0, &arena, &items, &n, &is_array, NULL), SS_BADARG);
}

Test(json_scan, an_array_past_max_items_is_toobig_and_the_limit_itself_splits) {
    ss_slice *items;
    size_t n;
    bool is_array;
    cr_assert_eq(ss_json_split(ss_slice_cstr("[1,2,3,4]"), 3, &arena, &items, &n, &is_array, NULL), SS_TOOBIG);
    cr_assert_eq(ss_json_split(ss_slice_cstr("[1,2,3]"), 3, &arena, &items, &n, &is_array, NULL), SS_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(ss_json_split(ss_slice_cstr("[[1,2,3,4]]"), 3, &arena, &items, &n, &is_array, NULL), SS_OK,
                 "only top-level elements count");
    cr_assert_eq(ss_json_split(ss_slice_cstr("[1,2,3,4"), 3, &arena, &items, &n, &is_array, NULL), SS_TOOBIG,
                 "the scan stops at the cap, before the syntax error");
}

/* ---- nesting ----------------------------------------------------------- */

/* depth copies of open, then mid, then depth copies of close; NUL-terminated,
 * free() it. */
static char *nested(size_t depth, const char *open, const char *mid, const char *close) {
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc(depth * (lo + lc) + lm + 1);
    cr_assert(s != NULL);
    char *w = s;
    for (size_t i = 0; i < depth; i++, w += lo)
        memcpy(w, open, lo);
    memcpy(w, mid, lm);
    w += lm;
    for (size_t i = 0; i < depth; i++, w += lc)
        memcpy(w, close, lc);
    *w = '\0';
    return s;
}

Test(json_scan, accepts_nesting_up_to_the_maximum_depth) {
    char *s = nested(SS_JSON_MAX_DEPTH, "[", "", "]");
    split_result r = split_str(s);
    cr_assert_eq(r.rc, SS_OK, "%s", r.err ? r.err : "");
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.items[0].len, strlen(s) - 2);
    free(s);

    s = nested(SS_JSON_MAX_DEPTH, "{\"a\":", "1", "}");
    cr_assert(split_str(s).rc == SS_OK);
    free(s);

    s = nested(SS_JSON_MAX_DEPTH / 2, "[{\"k\":", "0", "}]");
    cr_assert(split_str(s).rc == SS_OK);
    free(s);
}

Test(json_scan, rejects_nesting_beyond_the_maximum_depth) {
    char *s = nested(SS_JSON_MAX_DEPTH + 1, "[", "", "]");
    cr_assert_str_eq(split_str(s).err, "nesting too deep");
    free(s);

    s = nested(SS_JSON_MAX_DEPTH + 1, "{\"a\":", "1", "}");
    cr_assert_str_eq(split_str(s).err, "nesting too deep");
    free(s);

    /* Far deeper than any C stack would survive with a recursive parser. */
    s = nested(1000000, "[", "", "]");
    cr_assert_str_eq(split_str(s).err, "nesting too deep");
    free(s);

    s = nested(1000000, "[", "", "");
    cr_assert_str_eq(split_str(s).err, "nesting too deep");
    free(s);
}

/* ---- robustness -------------------------------------------------------- */

Test(json_scan, survives_a_mebibyte_of_random_bytes) {
    enum { MIB = 1 << 20 };
    char *buf = malloc(MIB);
    cr_assert(buf != NULL);
    rng_seed(0x5eed5eedu);
    for (size_t i = 0; i < MIB; i++)
        buf[i] = (char)rng();

    /* The whole mebibyte at once, then every byte covered by short windows
     * of random length (short windows reach deeper before failing). */
    cr_assert_eq(split_n(buf, MIB).rc, SS_BADARG);
    for (size_t off = 0; off < MIB;) {
        size_t len = 1 + rng_below(64);
        if (len > MIB - off)
            len = MIB - off;
        (void)split_n(buf + off, len);
        off += len;
    }

    /* Random bytes drawn from JSON's own alphabet get much further. */
    static const char alphabet[] = "[]{}[]{}\"\"\"::,,, \t\n\r0123456789-+.eEtrufalsn\\u/bx\xc3\xa9\xed\xf0";
    for (size_t i = 0; i < MIB; i++)
        buf[i] = alphabet[rng_below(sizeof alphabet - 1)];
    (void)split_n(buf, MIB);
    for (size_t off = 0; off < MIB;) {
        size_t len = 1 + rng_below(32);
        if (len > MIB - off)
            len = MIB - off;
        (void)split_n(buf + off, len);
        off += len;
    }
    free(buf);
}

/* Valid documents used as mutation seeds. None contains lone surrogate
 * escapes or numbers jansson cannot represent, so the mutants can also be
 * checked against jansson. */
static const char *const seeds[] = {
    "[1,2,3]",
    "{\"a\":[true,false,null],\"b\":{\"c\":\"d\"}}",
    "[{\"id\":1,\"name\":\"caf\xc3\xa9\",\"tags\":[\"x\",\"y\"]},{\"id\":2,\"v\":-1.5e-3}]",
    ("\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00 "
     "\xf0\x9f\x98\x80 \xe2\x82\xac\""),
    " [ [ [ ] ] , { } , \"\" , 0 , -0.0 , 1E+2 ] ",
    "{\"\xe6\x97\xa5\xe6\x9c\xac\":{\"x\":[[1],[2,[3]]]}}",
    "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", 12345.678e-9, true]",
};

static const char mutation_bytes[] =
    "[]{}\",: \t\n0123456789-+.eEtfnu\\\x00\x1f\x7f\x80\xbf\xc0\xc3\xe0\xed\xf0\xf4\xf5\xff";

/* Writes a random mutant of a random seed into buf (cap bytes); returns its
 * length. */
static size_t mutate(char *buf, size_t cap) {
    const char *seed = seeds[rng_below(sizeof seeds / sizeof *seeds)];
    size_t len = strlen(seed);
    memcpy(buf, seed, len);
    size_t edits = 1 + rng_below(3);
    for (size_t e = 0; e < edits; e++) {
        size_t at = len ? rng_below(len) : 0;
        char b = mutation_bytes[rng_below(sizeof mutation_bytes - 1)];
        switch (rng_below(5)) {
        case 0: /* replace */
            if (len)
                buf[at] = b;
            break;
        case 1: /* insert */
            if (len < cap) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = b;
                len++;
            }
            break;
        case 2: /* delete */
            if (len) {
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            }
            break;
        case 3: /* truncate */
            len = at;
            break;
        default: /* flip a bit */
            if (len)
                buf[at] = (char)(buf[at] ^ (1 << rng_below(8)));
            break;
        }
    }
    return len;
}

/* ---- differential checks against jansson ------------------------------- */

/* Documented differences from jansson 2.14 (json_loadb with JSON_DECODE_ANY |
 * JSON_ALLOW_NUL), which these checks skip:
 *  - jansson rejects lone-surrogate \u escapes ("invalid Unicode '\uD800'");
 *    the scanner accepts them, as JavaScript's JSON.parse does;
 *  - jansson rejects integers beyond long long ("too big integer") and reals
 *    that overflow a double ("real number overflow"); the scanner does not
 *    look at magnitudes;
 *  - jansson's depth limit is 2048, the scanner's SS_JSON_MAX_DEPTH;
 *  - jansson ignores a raw NUL byte right after a number ("[1,2\0]" and
 *    "1\0" load); a raw NUL can never occur in valid JSON (it is a control
 *    character inside strings and no token outside), and the scanner rejects
 *    it everywhere.
 * Inputs where jansson fails for one of the first three reasons, or accepts
 * an input holding a NUL byte, are not compared. */
static bool jansson_differs_by_design(const json_error_t *e) {
    return strncmp(e->text, "invalid Unicode '", 17) == 0 || strstr(e->text, "too big") ||
           strstr(e->text, "overflow") || strstr(e->text, "depth");
}

/* Compares verdicts and, when valid, the split items with jansson's parse.
 * Returns false when the input was skipped as a documented difference. */
static bool agrees_with_jansson(const char *s, size_t len) {
    json_error_t e;
    json_t *j = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    split_result r = split_n(s, len);
    if (!j) {
        if (jansson_differs_by_design(&e))
            return false;
        cr_assert_eq(r.rc, SS_BADARG, "jansson rejects (%s) but scanner accepts %s", e.text, show(s, len));
        return true;
    }
    if (memchr(s, '\0', len)) {
        cr_assert_eq(r.rc, SS_BADARG, "scanner accepts a raw NUL byte: %s", show(s, len));
        json_decref(j);
        return false;
    }
    cr_assert_eq(r.rc, SS_OK, "jansson accepts but scanner rejects (%s) %s", r.err, show(s, len));
    cr_assert_eq(r.is_array, json_is_array(j), "%s", show(s, len));
    size_t want_n = json_is_array(j) ? json_array_size(j) : 1;
    cr_assert_eq(r.n, want_n, "%s", show(s, len));
    for (size_t i = 0; i < r.n; i++) {
        json_t *want = json_is_array(j) ? json_array_get(j, i) : j;
        json_t *got = json_loadb(r.items[i].p, r.items[i].len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        cr_assert(got != NULL, "item %zu does not parse alone (%s): %s", i, e.text, show(s, len));
        cr_assert(json_equal(got, want), "item %zu differs from jansson's: %s", i, show(s, len));
        json_decref(got);
    }
    json_decref(j);
    return true;
}

#define T(lit)                                                                                                    \
    { (lit), sizeof(lit) - 1 }

Test(json_scan, agrees_with_jansson_on_tricky_inputs) {
    /* No lone surrogates, no out-of-range numbers (see above). */
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        T("0"),
        T("-0"),
        T("1.0"),
        T("1e5"),
        T("1E-5"),
        T("-1.25e+3"),
        T("9007199254740993"),
        T("01"),
        T("-01"),
        T("+1"),
        T(".5"),
        T("1."),
        T("1e"),
        T("1e+"),
        T("-"),
        T("--1"),
        T("0x1F"),
        T("1_000"),
        T("NaN"),
        T("Infinity"),
        T("-Infinity"),
        T("true"),
        T("false"),
        T("null"),
        T("tru"),
        T("nulll"),
        T("True"),
        T("\"\""),
        T("\"a\""),
        T("'a'"),
        T("\"\\u0041\""),
        T("\"\\u00\""),
        T("\"\\uZZZZ\""),
        T("\"\\ud83d\\ude00\""),
        T("\"\\x\""),
        T("\"\\/\""),
        T("\"\\u0000\""),
        T("\"a\x00"
          "b\""),
        T("\"\x01\""),
        T("\"\x1f\""),
        T("\"\x7f\""),
        T("\"\t\""),
        T("\"\n\""),
        T("\"\xc3\xa9\""),
        T("\"\xc0\x80\""),
        T("\"\xc1\xbf\""),
        T("\"\xe0\x80\x80\""),
        T("\"\xe0\xa0\x80\""),
        T("\"\xed\x9f\xbf\""),
        T("\"\xed\xa0\x80\""),
        T("\"\xed\xbf\xbf\""),
        T("\"\xee\x80\x80\""),
        T("\"\xf0\x8f\xbf\xbf\""),
        T("\"\xf0\x90\x80\x80\""),
        T("\"\xf4\x8f\xbf\xbf\""),
        T("\"\xf4\x90\x80\x80\""),
        T("\"\xf5\x80\x80\x80\""),
        T("\"\xff\""),
        T("\"\x80\""),
        T("\"\xc3\""),
        T("\"\xe2\x82\""),
        T("\"\xf0\x9f\x98\""),
        T("\xef\xbb\xbf"
          "1"),
        T("\xc2\xa0"
          "1"),
        T("[]"),
        T("[ ]"),
        T("[1]"),
        T("[1,]"),
        T("[,1]"),
        T("[1,,2]"),
        T("[1 2]"),
        T("[1"),
        T("]"),
        T("[[]]"),
        T("[[1,2],[3,4]]"),
        T("[[[1,2,3]]]"),
        T("[ 1 , \"two\" , [3] , {} ]"),
        T("{}"),
        T("{ }"),
        T("{\"a\":1}"),
        T("{\"a\":1,}"),
        T("{\"a\" 1}"),
        T("{\"a\":}"),
        T("{1:2}"),
        T("{'a':1}"),
        T("{\"a\":1,\"a\":2}"),
        T("{\"a\":[1,{\"b\":null}]}"),
        T("{\"a\":1}}"),
        T("{\"a\":1]"),
        T("[1}"),
        T(""),
        T(" "),
        T("\t\n\r 1 \t\n\r"),
        T("\f1"),
        T("1\v"),
        T("1 2"),
        T("[] []"),
        T("1 // c"),
        T("/* c */ 1"),
        T("[1]\x00"),
        T("\x00"),
        T("[\"\xf0\x9f\x98\x80\", \"\\ud83d\\ude00\", \"\xe6\x97\xa5\"]"),
        T("[-0.0, 0e0, 0E+0, 1e-0, 123.456e-789]"),
    };
    size_t compared = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        compared += agrees_with_jansson(cases[i].s, cases[i].len);
    cr_assert_eq(compared, sizeof cases / sizeof *cases, "no case should be a known difference");
}

Test(json_scan, agrees_with_jansson_on_mutated_documents) {
    char buf[256];
    size_t compared = 0;
    rng_seed(20240601);
    for (int i = 0; i < 50000; i++) {
        size_t len = mutate(buf, sizeof buf);
        compared += agrees_with_jansson(buf, len);
    }
    cr_assert(compared > 40000, "too many skipped: only %zu compared", compared);
}

Test(json_scan, survives_mutations_of_deep_documents) {
    /* Mutants near the depth limit: no crash, and the invariants in split_n. */
    char *s = nested(SS_JSON_MAX_DEPTH / 2, "[{\"k\":", "0", "}]");
    size_t len = strlen(s);
    char *m = malloc(len);
    cr_assert(m != NULL);
    rng_seed(77);
    for (int i = 0; i < 2000; i++) {
        memcpy(m, s, len);
        for (int e = 0; e < 3; e++)
            m[rng_below(len)] = mutation_bytes[rng_below(sizeof mutation_bytes - 1)];
        (void)split_n(m, len);
    }
    free(m);
    free(s);
}
