/* Tests for the JSON Schema validator (include/streamsy/json_schema.h):
 * every keyword, error paths and rules, $ref resolution and cycles, bad
 * schemas, limits — and the official JSON-Schema-Test-Suite (draft 7) from
 * Debian's json-schema-test-suite package (scripts/setup.sh installs it). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_internal.h"
#include "streamsy/json_doc.h"
#include "streamsy/json_schema.h"

/* ---- helpers -------------------------------------------------------------------------- */

static json_t *J(const char *text) {
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    cr_assert(j != NULL, "bad test JSON %s: %s", text, je.text);
    return j;
}

static ss_json_schema *compile(const char *schema) {
    ss_json_schema *s = NULL;
    ss_json_error err = {0};
    ss_rc rc = ss_json_schema_compile_text(ss_slice_cstr(schema), &s, &err);
    cr_assert_eq(rc, SS_OK, "compile %s: %s at \"%s\": %s", schema, err.rule, err.path, err.message);
    cr_assert(s != NULL);
    return s;
}

/* Compiling must fail with SS_BADARG, the given rule and (unless NULL) path. */
static void compile_fails(const char *schema, const char *rule, const char *path) {
    ss_json_schema *s = (ss_json_schema *)&s; /* sentinel: must stay untouched */
    ss_json_schema *sentinel = s;
    ss_json_error err;
    memset(&err, 0, sizeof err);
    ss_rc rc = ss_json_schema_compile_text(ss_slice_cstr(schema), &s, &err);
    cr_assert_eq(rc, SS_BADARG, "compile %s: expected SS_BADARG, got %s", schema, ss_rc_name(rc));
    cr_assert_eq(s, sentinel, "output touched on failure");
    cr_assert_str_eq(err.rule, rule, "compile %s: rule %s (%s)", schema, err.rule, err.message);
    if (path)
        cr_assert_str_eq(err.path, path, "compile %s: path \"%s\" (%s)", schema, err.path, err.message);
    cr_assert(err.message[0] != '\0');
    cr_assert_eq(err.index, -1);
}

static bool check(ss_json_schema *s, const char *value, ss_json_error *err) {
    json_t *j = J(value);
    bool quiet = ss_json_schema_validate(s, j, NULL);
    bool loud = ss_json_schema_validate(s, j, err);
    json_decref(j);
    cr_assert_eq(quiet, loud, "reporting and quiet validation disagree on %s", value);
    return loud;
}

static void valid(ss_json_schema *s, const char *value) {
    ss_json_error err;
    memset(&err, 0x5a, sizeof err);
    ss_json_error before = err;
    bool ok = check(s, value, &err);
    cr_assert(ok, "%s should be valid; got %s at \"%s\": %s", value, err.rule, err.path, err.message);
    cr_assert(memcmp(&err, &before, sizeof err) == 0, "err touched for a valid value");
}

/* Invalid, with the given path and rule; returns the message for more checks. */
static const char *invalid(ss_json_schema *s, const char *value, const char *path, const char *rule) {
    static ss_json_error err;
    memset(&err, 0, sizeof err);
    bool ok = check(s, value, &err);
    cr_assert(!ok, "%s should be invalid", value);
    cr_assert_str_eq(err.rule, rule, "%s: rule %s, expected %s (%s at \"%s\")", value, err.rule, rule, err.message,
                     err.path);
    cr_assert_str_eq(err.path, path, "%s: path \"%s\", expected \"%s\" (%s)", value, err.path, path, err.message);
    cr_assert(err.message[0] != '\0');
    cr_assert_eq(err.index, -1);
    return err.message;
}

/* One schema, lists of valid and invalid values. */
static void matrix(const char *schema, const char *const *good, const char *const *bad) {
    ss_json_schema *s = compile(schema);
    for (; good && *good; good++)
        valid(s, *good);
    for (; bad && *bad; bad++) {
        ss_json_error err;
        cr_assert(!check(s, *bad, &err), "%s should be invalid against %s", *bad, schema);
    }
    ss_json_schema_free(s);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

TestSuite(json_schema);

/* ---- any type ---------------------------------------------------------------------------- */

Test(json_schema, type_accepts_each_named_type_and_integer_includes_whole_reals) {
    matrix("{\"type\":\"integer\"}", L("1", "-7", "1.0", "1e3", "9223372036854775807"),
           L("1.5", "\"1\"", "null", "[1]"));
    matrix("{\"type\":\"number\"}", L("1", "1.5", "-0.0"), L("\"1\"", "true"));
    matrix("{\"type\":\"string\"}", L("\"\"", "\"x\""), L("1", "null"));
    matrix("{\"type\":\"boolean\"}", L("true", "false"), L("0", "\"true\""));
    matrix("{\"type\":\"null\"}", L("null"), L("0", "false", "\"\""));
    matrix("{\"type\":\"object\"}", L("{}", "{\"a\":1}"), L("[]", "null"));
    matrix("{\"type\":\"array\"}", L("[]", "[1,[2]]"), L("{}", "\"[]\""));
    matrix("{\"type\":[\"string\",\"null\"]}", L("\"a\"", "null"), L("1", "{}"));
}

Test(json_schema, type_failure_names_expected_and_actual_types) {
    ss_json_schema *s = compile("{\"properties\":{\"a\":{\"type\":[\"string\",\"null\"]}}}");
    cr_assert_str_eq(invalid(s, "{\"a\":1.5}", "/a", "type"), "expected null or string, got number");
    cr_assert_str_eq(invalid(s, "{\"a\":2}", "/a", "type"), "expected null or string, got integer");
    ss_json_schema_free(s);
}

Test(json_schema, enum_compares_numbers_by_value_and_objects_regardless_of_order) {
    matrix("{\"enum\":[1,\"a\",null,{\"x\":1,\"y\":[true]}]}",
           L("1", "1.0", "\"a\"", "null", "{\"y\":[true],\"x\":1}"),
           L("2", "\"b\"", "false", "0", "{\"x\":1}", "{\"x\":1,\"y\":[1]}"));
    ss_json_schema *s = compile("{\"enum\":[\"insert\",\"update\"]}");
    cr_assert_str_eq(invalid(s, "\"upsert\"", "", "enum"), "value must be one of [\"insert\",\"update\"]");
    ss_json_schema_free(s);
}

Test(json_schema, const_requires_equality_and_false_is_not_zero) {
    matrix("{\"const\":null}", L("null"), L("0", "false", "\"\""));
    matrix("{\"const\":false}", L("false"), L("0", "null"));
    matrix("{\"const\":[1,{\"a\":2}]}", L("[1.0,{\"a\":2}]"), L("[{\"a\":2},1]", "[1]"));
    ss_json_schema *s = compile("{\"const\":\"v1\"}");
    invalid(s, "\"v2\"", "", "const");
    ss_json_schema_free(s);
}

Test(json_schema, boolean_schemas_accept_everything_or_nothing) {
    matrix("true", L("1", "null", "{}"), NULL);
    ss_json_schema *s = compile("false");
    invalid(s, "1", "", "false");
    ss_json_schema_free(s);
    s = compile("{\"properties\":{\"a\":false}}");
    valid(s, "{\"b\":1}");
    invalid(s, "{\"a\":1}", "/a", "properties");
    ss_json_schema_free(s);
}

Test(json_schema, format_and_unknown_keywords_are_annotations) {
    matrix("{\"type\":\"string\",\"format\":\"date-time\",\"x-custom\":{\"minLength\":100},\"title\":\"t\"}",
           L("\"not a date\"", "\"2026-01-01T00:00:00Z\""), L("1"));
}

/* ---- strings ------------------------------------------------------------------------------- */

Test(json_schema, string_lengths_count_code_points) {
    /* "é" is 2 bytes, "😀" 4 bytes, each one code point */
    matrix("{\"minLength\":2,\"maxLength\":3}", L("\"ab\"", "\"abc\"", "\"\\u00e9\\u00e9\"", "\"😀😀😀\"", "5"),
           L("\"a\"", "\"abcd\"", "\"😀\"", "\"😀😀😀😀\"", "\"\\u00e9\""));
    ss_json_schema *s = compile("{\"properties\":{\"k\":{\"minLength\":1}}}");
    cr_assert_str_eq(invalid(s, "{\"k\":\"\"}", "/k", "minLength"), "string is shorter than 1 character");
    ss_json_schema_free(s);
    s = compile("{\"maxLength\":2}");
    cr_assert_str_eq(invalid(s, "\"😀😀😀\"", "", "maxLength"), "string is longer than 2 characters");
    ss_json_schema_free(s);
}

Test(json_schema, pattern_is_an_unanchored_ecma_search) {
    matrix("{\"pattern\":\"a+\"}", L("\"xaax\"", "\"a\"", "1"), L("\"\"", "\"bbb\""));
    matrix("{\"pattern\":\"^\\\\d{3}-\\\\w+$\"}", L("\"123-ab_9\""), L("\"12-ab\"", "\"123-\"", "\"123-a b\""));
    matrix("{\"pattern\":\"^[^\\\\s]+\\\\s\\\\S$\"}", L("\"ab c\"", "\"ab\\tc\"", "\"ab\\u00a0c\""),
           L("\"a  c\""));
    ss_json_schema *s = compile("{\"pattern\":\"^[a-z]+$\"}");
    cr_assert_str_eq(invalid(s, "\"AB\"", "", "pattern"), "string does not match the pattern \"^[a-z]+$\"");
    ss_json_schema_free(s);
}

Test(json_schema, pattern_dot_and_classes_match_one_code_point) {
    matrix("{\"pattern\":\"^.$\"}", L("\"a\"", "\"é\"", "\"😀\"", "\"\\u0000\""),
           L("\"ab\"", "\"\\n\"", "\"\\r\"", "\"\\u2028\"", "\"\""));
    matrix("{\"pattern\":\"^[^a]{2}$\"}", L("\"éé\"", "\"bc\""), L("\"ab\"", "\"é\""));
    matrix("{\"pattern\":\"^[éa]+$\"}", L("\"éaé\"", "\"a\""), L("\"e\"", "\"b\""));
    matrix("{\"pattern\":\"^é?x$\"}", L("\"x\"", "\"éx\""), L("\"ex\""));
    matrix("{\"pattern\":\"^\\\\u00e9+$\"}", L("\"ééé\""), L("\"e\""));
    matrix("{\"pattern\":\"^\\\\ud83d\\\\ude00$\"}", L("\"😀\""), L("\"x\""));
}

Test(json_schema, pattern_translation_handles_ecma_syntax) {
    /* brackets with ] - ^ [ inside, escaped punctuation, lazy quantifiers,
     * non-capturing and named groups, literal braces, control escapes */
    matrix("{\"pattern\":\"^[\\\\]\\\\-^\\\\[a]+$\"}", L("\"]-^[a\""), L("\"b\""));
    matrix("{\"pattern\":\"^[-a]$\"}", L("\"-\"", "\"a\""), L("\"b\""));
    matrix("{\"pattern\":\"^[\\\\^]$\"}", L("\"^\""), L("\"a\""));
    matrix("{\"pattern\":\"^[^^]$\"}", L("\"a\""), L("\"^\""));
    matrix("{\"pattern\":\"^\\\\$\\\\.\\\\*\\\\(\\\\)\\\\/\\\\\\\\$\"}", L("\"$.*()/\\\\\""), L("\"$x*()/\\\\\""));
    matrix("{\"pattern\":\"^a+?b*?c??d{1,2}?$\"}", L("\"abcdd\"", "\"ad\""), L("\"abcddd\""));
    matrix("{\"pattern\":\"^(?:ab)+(?<n>c)$\"}", L("\"ababc\""), L("\"abac\""));
    matrix("{\"pattern\":\"^a{x}b{,1}$\"}", L("\"a{x}b{,1}\""), L("\"ab\""));
    matrix("{\"pattern\":\"^\\\\x41\\\\t\\\\cJ$\"}", L("\"A\\t\\n\""), L("\"A\\tJ\""));
    matrix("{\"pattern\":\"^[\\\\d\\\\D]$\"}", L("\"1\"", "\"x\"", "\"é\""), L("\"12\""));
    matrix("{\"pattern\":\"^[^]$\"}", L("\"\\n\"", "\"x\""), L("\"\""));
    matrix("{\"pattern\":\"^[a-cx-z0-2]+$\"}", L("\"abcxyz012\""), L("\"d\"", "\"3\""));
    matrix("{\"pattern\":\"^a.c$\"}", L("\"a\\u0000c\""), L("\"ac\""));
    /* anchors hold at the ends of the input only, even next to a newline */
    matrix("{\"pattern\":\"$\\\\n\"}", NULL, L("\"\\n\"", "\"a\\n\""));
    matrix("{\"pattern\":\"\\\\s^\"}", NULL, L("\"\\n\"", "\"\\na\""));
    matrix("{\"pattern\":\"^a$\"}", L("\"a\""), L("\"a\\n\"", "\"\\na\"", "\"b\\na\""));
    matrix("{\"pattern\":\"^b|c$\"}", L("\"bx\"", "\"xc\""), L("\"a\\nb\"", "\"c\\n\""));
}

Test(json_schema, pattern_has_ecma_lookaround_backreferences_boundaries_and_properties) {
    matrix("{\"pattern\":\"^a(?=b)\"}", L("\"ab\""), L("\"ac\""));
    matrix("{\"pattern\":\"(?<!x)y\"}", L("\"ay\"", "\"y\""), L("\"xy\""));
    matrix("{\"pattern\":\"^(a)\\\\1$\"}", L("\"aa\""), L("\"ab\""));
    matrix("{\"pattern\":\"^(?<q>['\\\"]).*\\\\k<q>$\"}", L("\"'x'\""), L("\"'x\\\"\""));
    /* \b \d \w are ASCII in ECMA-262, not Unicode */
    matrix("{\"pattern\":\"\\\\bword\\\\b\"}", L("\"a word.\""), L("\"swordfish\""));
    matrix("{\"pattern\":\"^\\\\d$\"}", L("\"7\""), L("\"\\u0667\"", "\"x\""));
    matrix("{\"pattern\":\"^\\\\w+$\"}", L("\"ab_9\""), L("\"\\u00e9\""));
    matrix("{\"pattern\":\"^\\\\p{L}+$\"}", L("\"\\u00e9t\\u00e9\"", "\"abc\""), L("\"a1\""));
    matrix("{\"pattern\":\"^[\\u00e0-\\u00ff]$\"}", L("\"\\u00e9\""), L("\"e\""));
    matrix("{\"pattern\":\"^[^\\\\D]$\"}", L("\"5\""), L("\"x\""));
    matrix("{\"pattern\":\"[]\"}", NULL, L("\"\"", "\"a\""));              /* an empty class never matches */
    matrix("{\"pattern\":\"^\\\\u0000$\"}", L("\"\\u0000\""), L("\"0\"")); /* U+0000 in strings */
    matrix("{\"pattern\":\"^[\\\\s\\\\S]{2}$\"}", L("\"\\n\\u2028\"", "\"ab\""), L("\"a\""));
    matrix("{\"pattern\":\"^\\\\u{1F600}$\"}", L("\"\\ud83d\\ude00\""), L("\"x\""));
}

Test(json_schema, pattern_refuses_invalid_and_unsupported_patterns_with_a_reason) {
    compile_fails("{\"pattern\":\"(a\"}", "pattern", "/pattern");
    compile_fails("{\"pattern\":\"a)\"}", "pattern", "/pattern");
    compile_fails("{\"pattern\":\"[a\"}", "pattern", "/pattern");
    compile_fails("{\"pattern\":\"a{1,100000}\"}", "pattern", "/pattern");
    compile_fails("{\"pattern\":\"[z-a]\"}", "pattern", "/pattern");
    compile_fails("{\"pattern\":\"*a\"}", "pattern", "/pattern");
    compile_fails("{\"pattern\":\"a**\"}", "pattern", "/pattern");
    compile_fails("{\"pattern\":\"\\\\ud800\"}", "pattern", "/pattern"); /* a lone surrogate */
    compile_fails("{\"pattern\":\"[\\\\Sa]\"}", "pattern", "/pattern");  /* \S in a class, but for [\s\S] */
    compile_fails("{\"patternProperties\":{\"(?<x\":{}}}", "patternProperties", "/patternProperties/(?<x");
    compile_fails("{\"pattern\":5}", "pattern", "/pattern");
    ss_json_schema *s = NULL;
    ss_json_error err;
    cr_assert_eq(ss_json_schema_compile_text(ss_slice_cstr("{\"pattern\":\"[z-a]\"}"), &s, &err), SS_BADARG);
    cr_assert(strstr(err.message, "range out of order") != NULL, "PCRE2's reason is kept: %s", err.message);
}

Test(json_schema, a_pathological_pattern_is_cut_off_and_refuses_the_value) {
    ss_json_schema *s = compile("{\"pattern\":\"^(a+)+$\"}");
    char text[64];
    snprintf(text, sizeof text, "\"%s\"", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
    const char *msg = invalid(s, text, "", "pattern");
    cr_assert(strstr(msg, "too many steps") != NULL, "%s", msg);
    ss_json_schema_free(s);
}

Test(json_schema, pattern_rewrite_output_is_exact) {
    struct {
        const char *ecma;
        const char *pcre2; /* NULL: refused */
    } cases[] = {
        {"a.b", "a[^\\n\\r\\x{2028}\\x{2029}]b"},
        {"\\s", "[\\t\\n\\v\\f\\r\\p{Zs}\\x{2028}\\x{2029}\\x{feff}]"},
        {"[^\\sx]", "[^\\t\\n\\v\\f\\r\\p{Zs}\\x{2028}\\x{2029}\\x{feff}x]"},
        {"[\\s\\S]", "(?s:.)"},
        {"[^\\S\\s]", "(?!)"},
        {"\\u00e9\\uD83D\\uDE00", "\\x{e9}\\x{1f600}"},
        {"[.]", "[.]"},
        {"\\.\\d", "\\.\\d"},
        {"\\uDE00", NULL},
        {"[a\\S]", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ss_buf out;
        const char *why = NULL;
        ss_rc rc = ss__sch_regex_rewrite(cases[i].ecma, strlen(cases[i].ecma), &out, &why);
        if (!cases[i].pcre2) {
            cr_assert_eq(rc, SS_BADARG, "%s", cases[i].ecma);
            cr_assert_not_null(why);
            continue;
        }
        cr_assert_eq(rc, SS_OK, "%s: %s", cases[i].ecma, why);
        cr_assert_str_eq(out.p, cases[i].pcre2, "%s", cases[i].ecma);
        ss_buf_release(&out);
    }
}

/* ---- numbers ---------------------------------------------------------------------------------- */

Test(json_schema, minimum_and_maximum_compare_exactly) {
    matrix("{\"minimum\":1.5,\"maximum\":3}", L("1.5", "2", "3", "3.0", "\"x\""), L("1.4", "1", "3.0001", "4"));
    matrix("{\"exclusiveMinimum\":0,\"exclusiveMaximum\":1}", L("0.5", "1e-300"), L("0", "0.0", "1", "-1"));
    /* 2^63-1 is not representable as a double; the comparison stays exact */
    matrix("{\"maximum\":9223372036854775806}", L("9223372036854775806", "9.2e18"),
           L("9223372036854775807", "1e19"));
    matrix("{\"minimum\":9007199254740993}", L("9007199254740993"), L("9007199254740992", "9007199254740992.0"));
    matrix("{\"maximum\":1e300}", L("9223372036854775807"), L("1e301"));
    ss_json_schema *s = compile("{\"items\":{\"minimum\":0.1,\"exclusiveMaximum\":10}}");
    cr_assert_str_eq(invalid(s, "[1, 0.05]", "/1", "minimum"), "value is less than the minimum 0.1");
    cr_assert_str_eq(invalid(s, "[10]", "/0", "exclusiveMaximum"), "value must be less than 10");
    ss_json_schema_free(s);
}

Test(json_schema, multiple_of_integers_and_reals) {
    matrix("{\"multipleOf\":3}", L("0", "9", "-3", "9.0"), L("10", "9.5"));
    matrix("{\"multipleOf\":1.5}", L("0", "4.5", "3"), L("35", "4"));
    matrix("{\"multipleOf\":0.0001}", L("0.0075", "1"), L("0.00751"));
    matrix("{\"multipleOf\":0.123456789}", NULL, L("1e308"));
    ss_json_schema *s = compile("{\"multipleOf\":2}");
    invalid(s, "3", "", "multipleOf");
    ss_json_schema_free(s);
}

/* ---- objects ----------------------------------------------------------------------------------- */

Test(json_schema, required_names_the_missing_property_at_the_object) {
    ss_json_schema *s = compile("{\"properties\":{\"value\":{\"required\":[\"id\",\"name\"]}}}");
    valid(s, "{\"value\":{\"id\":1,\"name\":null}}");
    valid(s, "{\"other\":1}");
    valid(s, "{\"value\":5}");
    cr_assert_str_eq(invalid(s, "{\"value\":{\"name\":1}}", "/value", "required"), "missing property \"id\"");
    ss_json_schema_free(s);
}

Test(json_schema, properties_report_the_path_of_nested_failures) {
    ss_json_schema *s =
        compile("{\"properties\":{\"a/b\":{\"properties\":{\"c~d\":{\"items\":{\"type\":\"string\"}}}}}}");
    valid(s, "{\"a/b\":{\"c~d\":[\"x\"]}}");
    invalid(s, "{\"a/b\":{\"c~d\":[\"x\",\"y\",3]}}", "/a~1b/c~0d/2", "type");
    ss_json_schema_free(s);
}

Test(json_schema, additional_properties_false_names_the_extra_property) {
    ss_json_schema *s = compile("{\"properties\":{\"a\":{}},\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},"
                                "\"additionalProperties\":false}");
    valid(s, "{\"a\":1,\"x-1\":\"s\"}");
    invalid(s, "{\"a\":1,\"x-1\":2}", "/x-1", "type");
    cr_assert_str_eq(invalid(s, "{\"a\":1,\"b\":2}", "/b", "additionalProperties"),
                     "property \"b\" is not allowed");
    ss_json_schema_free(s);
    s = compile("{\"properties\":{\"a\":{}},\"additionalProperties\":{\"type\":\"integer\"}}");
    valid(s, "{\"a\":\"s\",\"b\":2}");
    invalid(s, "{\"a\":\"s\",\"b\":\"t\"}", "/b", "type");
    ss_json_schema_free(s);
}

Test(json_schema, properties_with_many_keys_use_the_sorted_table) {
    char schema[4096] = "{\"properties\":{";
    for (int i = 0; i < 40; i++)
        snprintf(schema + strlen(schema), sizeof schema - strlen(schema), "%s\"k%d\":{\"type\":\"integer\"}",
                 i ? "," : "", i * 7);
    strcat(schema, "},\"additionalProperties\":false}");
    ss_json_schema *s = compile(schema);
    valid(s, "{\"k0\":1,\"k7\":2,\"k273\":3,\"k140\":4}");
    invalid(s, "{\"k0\":1,\"k273\":\"x\"}", "/k273", "type");
    invalid(s, "{\"k0\":1,\"k1\":1}", "/k1", "additionalProperties");
    ss_json_schema_free(s);
}

Test(json_schema, object_size_property_names_and_dependencies) {
    matrix("{\"minProperties\":1,\"maxProperties\":2}", L("{\"a\":1}", "{\"a\":1,\"b\":2}", "[]"),
           L("{}", "{\"a\":1,\"b\":2,\"c\":3}"));
    matrix("{\"propertyNames\":{\"maxLength\":3,\"pattern\":\"^[a-z]+$\"}}", L("{\"abc\":1}", "{}"),
           L("{\"abcd\":1}", "{\"A\":1}"));
    ss_json_schema *s = compile("{\"propertyNames\":{\"maxLength\":3}}");
    cr_assert_str_eq(invalid(s, "{\"long\":1}", "", "propertyNames"), "property name \"long\" is not allowed");
    ss_json_schema_free(s);
    s = compile("{\"dependencies\":{\"card\":[\"billing\"],\"x\":{\"required\":[\"y\"]}}}");
    valid(s, "{\"card\":1,\"billing\":2}");
    valid(s, "{\"billing\":2}");
    cr_assert_str_eq(invalid(s, "{\"card\":1}", "", "dependencies"),
                     "property \"card\" requires property \"billing\"");
    invalid(s, "{\"x\":1}", "", "required");
    ss_json_schema_free(s);
}

/* ---- arrays ------------------------------------------------------------------------------------ */

Test(json_schema, items_single_schema_applies_to_every_item) {
    ss_json_schema *s = compile("{\"items\":{\"type\":\"integer\"}}");
    valid(s, "[]");
    valid(s, "[1,2,3]");
    valid(s, "{\"not\":\"an array\"}");
    invalid(s, "[1,2,\"x\"]", "/2", "type");
    ss_json_schema_free(s);
}

Test(json_schema, items_array_form_and_additional_items) {
    ss_json_schema *s =
        compile("{\"items\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"additionalItems\":false}");
    valid(s, "[\"a\",1]");
    valid(s, "[\"a\"]");
    invalid(s, "[1]", "/0", "type");
    cr_assert_str_eq(invalid(s, "[\"a\",1,2]", "/2", "additionalItems"), "array has more than 2 items");
    ss_json_schema_free(s);
    matrix("{\"items\":[{}],\"additionalItems\":{\"type\":\"null\"}}", L("[1,null,null]"), L("[1,null,2]"));
    matrix("{\"additionalItems\":false}", L("[1,2,3]"), NULL);
}

Test(json_schema, array_size_uniqueness_and_contains) {
    matrix("{\"minItems\":1,\"maxItems\":2}", L("[1]", "[1,2]", "\"x\""), L("[]", "[1,2,3]"));
    matrix("{\"uniqueItems\":true}", L("[1,2]", "[[1],[2]]", "[{\"a\":1},{\"a\":2}]", "[0,false]"),
           L("[1,1.0]", "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]", "[[1],[1]]"));
    matrix("{\"contains\":{\"const\":5}}", L("[1,5]", "[5.0]", "{}"), L("[]", "[1,2]"));
    ss_json_schema *s = compile("{\"uniqueItems\":true}");
    cr_assert_str_eq(invalid(s, "[\"a\",\"b\",\"a\"]", "", "uniqueItems"), "items 0 and 2 are equal");
    ss_json_schema_free(s);
}

Test(json_schema, unique_items_on_long_arrays_uses_hashing) {
    ss_json_schema *s = compile("{\"uniqueItems\":true}");
    char *buf = malloc(200000);
    cr_assert(buf);
    size_t o = 0;
    buf[o++] = '[';
    for (int i = 0; i < 5000; i++)
        o += (size_t)sprintf(buf + o, "%s{\"id\":%d,\"v\":[%d]}", i ? "," : "", i, i % 7);
    strcpy(buf + o, "]");
    valid(s, buf);
    /* the same with a duplicate (as a real) at the end */
    strcpy(buf + o, ",{\"v\":[1.0],\"id\":1}]");
    const char *msg = invalid(s, buf, "", "uniqueItems");
    cr_assert_str_eq(msg, "items 1 and 5000 are equal");
    free(buf);
    ss_json_schema_free(s);
}

/* ---- applicators ----------------------------------------------------------------------------------- */

Test(json_schema, all_of_reports_the_failing_branch_error) {
    ss_json_schema *s = compile("{\"allOf\":[{\"type\":\"object\"},{\"required\":[\"a\"]}]}");
    valid(s, "{\"a\":1}");
    invalid(s, "{}", "", "required");
    ss_json_schema_free(s);
}

Test(json_schema, any_of_names_the_branch_that_got_furthest) {
    ss_json_schema *s = compile("{\"anyOf\":[{\"type\":\"string\"},{\"properties\":{\"v\":{\"properties\":{\"id\":"
                                "{\"type\":\"integer\"}}}}}]}");
    valid(s, "\"x\"");
    valid(s, "{\"v\":{\"id\":3}}");
    const char *m = invalid(s, "{\"v\":{\"id\":\"3\"}}", "", "anyOf");
    cr_assert(strstr(m, "schema 1 fails at \"/v/id\": type: expected integer, got string") != NULL, "%s", m);
    ss_json_schema_free(s);
}

Test(json_schema, one_of_requires_exactly_one_match) {
    ss_json_schema *s = compile("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}");
    valid(s, "1");
    valid(s, "2.5");
    cr_assert_str_eq(invalid(s, "3", "", "oneOf"), "value matches oneOf schemas 0 and 1; exactly one must match");
    const char *m = invalid(s, "1.5", "", "oneOf");
    cr_assert(strstr(m, "none of the 2 oneOf schemas") != NULL, "%s", m);
    ss_json_schema_free(s);
}

Test(json_schema, not_and_if_then_else) {
    ss_json_schema *s = compile("{\"not\":{\"type\":\"string\"}}");
    valid(s, "1");
    invalid(s, "\"x\"", "", "not");
    ss_json_schema_free(s);
    s = compile("{\"if\":{\"properties\":{\"kind\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"a\"]},"
                "\"else\":{\"required\":[\"b\"]}}");
    valid(s, "{\"kind\":\"a\",\"a\":1}");
    valid(s, "{\"kind\":\"z\",\"b\":1}");
    invalid(s, "{\"kind\":\"a\",\"b\":1}", "", "required");
    invalid(s, "{\"kind\":\"z\",\"a\":1}", "", "required");
    ss_json_schema_free(s);
    matrix("{\"if\":{\"const\":1}}", L("1", "2"), NULL);
}

/* ---- $ref --------------------------------------------------------------------------------------- */

Test(json_schema, ref_resolves_definitions_defs_and_the_root) {
    ss_json_schema *s =
        compile("{\"definitions\":{\"pos\":{\"minimum\":0}},\"$defs\":{\"str\":{\"type\":\"string\"}},"
                "\"properties\":{\"n\":{\"$ref\":\"#/definitions/pos\"},\"s\":{\"$ref\":\"#/$defs/str\"},"
                "\"self\":{\"$ref\":\"#\"}}}");
    valid(s, "{\"n\":1,\"s\":\"x\",\"self\":{\"n\":2,\"self\":{}}}");
    invalid(s, "{\"n\":-1}", "/n", "minimum");
    invalid(s, "{\"s\":1}", "/s", "type");
    invalid(s, "{\"self\":{\"self\":{\"n\":-1}}}", "/self/self/n", "minimum");
    ss_json_schema_free(s);
}

Test(json_schema, ref_pointers_unescape_tilde_slash_and_percent) {
    ss_json_schema *s = compile("{\"definitions\":{\"a~b\":{\"type\":\"integer\"},\"c/d\":{\"type\":\"string\"},"
                                "\"e%f\":{\"type\":\"null\"},\"g h\":{\"type\":\"boolean\"}},"
                                "\"items\":[{\"$ref\":\"#/definitions/a~0b\"},{\"$ref\":\"#/definitions/c~1d\"},"
                                "{\"$ref\":\"#/definitions/e%25f\"},{\"$ref\":\"#/definitions/g%20h\"},"
                                "{\"$ref\":\"#/items/0\"}]}");
    valid(s, "[1,\"x\",null,true,2]");
    invalid(s, "[\"1\"]", "/0", "type");
    invalid(s, "[1,2]", "/1", "type");
    invalid(s, "[1,\"x\",0]", "/2", "type");
    invalid(s, "[1,\"x\",null,0]", "/3", "type");
    invalid(s, "[1,\"x\",null,true,\"y\"]", "/4", "type");
    ss_json_schema_free(s);
}

Test(json_schema, ref_siblings_are_ignored_in_draft7_but_apply_in_2020_12) {
    matrix("{\"definitions\":{\"a\":{\"type\":\"array\"}},\"properties\":{\"x\":{\"$ref\":\"#/definitions/"
           "a\",\"maxItems\":1}}}",
           L("{\"x\":[1,2,3]}"), L("{\"x\":1}"));
    matrix("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$defs\":{\"a\":{\"type\":\"array\"}},"
           "\"properties\":{\"x\":{\"$ref\":\"#/$defs/a\",\"maxItems\":1}}}",
           L("{\"x\":[1]}"), L("{\"x\":[1,2,3]}", "{\"x\":1}"));
}

Test(json_schema, ref_uses_in_document_ids_and_anchors) {
    ss_json_schema *s =
        compile("{\"$id\":\"http://example.com/root.json\",\"properties\":{"
                "\"a\":{\"$ref\":\"item.json\"},\"b\":{\"$ref\":\"#anchor\"},"
                "\"c\":{\"$ref\":\"http://example.com/root.json#/definitions/n\"},"
                "\"d\":{\"$ref\":\"nested/deep.json\"}},"
                "\"definitions\":{\"item\":{\"$id\":\"item.json\",\"type\":\"integer\"},"
                "\"anc\":{\"$id\":\"#anchor\",\"type\":\"string\"},\"n\":{\"type\":\"null\"},"
                "\"x\":{\"$id\":\"nested/\",\"definitions\":{\"y\":{\"$id\":\"deep.json\","
                "\"items\":{\"$ref\":\"#/definitions/z\"},\"definitions\":{\"z\":{\"type\":\"boolean\"}}}}}}}");
    valid(s, "{\"a\":1,\"b\":\"x\",\"c\":null,\"d\":[true]}");
    invalid(s, "{\"a\":\"1\"}", "/a", "type");
    invalid(s, "{\"b\":1}", "/b", "type");
    invalid(s, "{\"c\":1}", "/c", "type");
    invalid(s, "{\"d\":[1]}", "/d/0", "type");
    ss_json_schema_free(s);
}

Test(json_schema, ref_to_a_recursive_structure_validates_trees) {
    ss_json_schema *s = compile("{\"$ref\":\"#/definitions/node\",\"definitions\":{\"node\":{\"type\":\"object\","
                                "\"required\":[\"v\"],\"properties\":{\"v\":{\"type\":\"integer\"},"
                                "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/node\"}}}}}}");
    valid(s, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4}]}]}");
    invalid(s, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"w\":4}]}]}", "/kids/1/kids/0", "required");
    ss_json_schema_free(s);
}

Test(json_schema, ref_cycles_that_never_descend_are_rejected) {
    compile_fails("{\"$ref\":\"#\"}", "$ref", "/$ref");
    compile_fails("{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/b\"},\"b\":{\"allOf\":[{\"$ref\":\"#/"
                  "definitions/a\"}]}}}",
                  "$ref", NULL);
    compile_fails("{\"anyOf\":[{\"type\":\"string\"},{\"not\":{\"$ref\":\"#\"}}]}", "$ref", NULL);
    /* descending through properties/items is fine */
    ss_json_schema *s = compile("{\"properties\":{\"a\":{\"$ref\":\"#\"}},\"items\":{\"$ref\":\"#\"}}");
    valid(s, "{\"a\":[{\"a\":[]}]}");
    ss_json_schema_free(s);
}

Test(json_schema, unresolvable_refs_are_rejected) {
    compile_fails("{\"$ref\":\"http://json-schema.org/draft-07/schema#\"}", "$ref", "/$ref");
    compile_fails("{\"properties\":{\"a\":{\"$ref\":\"#/definitions/missing\"}}}", "$ref", "/properties/a/$ref");
    compile_fails("{\"$ref\":\"other.json\"}", "$ref", "/$ref");
    compile_fails("{\"$ref\":\"#/definitions/x%zz\"}", "$ref", "/$ref");
    compile_fails("{\"const\":5,\"properties\":{\"a\":{\"$ref\":\"#/const\"}}}", "$ref", NULL);
    compile_fails("{\"$ref\":\"#nowhere\"}", "$ref", "/$ref");
    compile_fails("{\"$ref\":5}", "$ref", "/$ref");
}

/* ---- bad schemas ---------------------------------------------------------------------------------- */

Test(json_schema, ill_typed_keywords_are_rejected_with_their_location) {
    compile_fails("5", "schema", "");
    compile_fails("{\"properties\":{\"a\":{\"minLength\":-1}}}", "minLength", "/properties/a/minLength");
    compile_fails("{\"maxItems\":1.5}", "maxItems", "/maxItems");
    compile_fails("{\"type\":\"strng\"}", "type", "/type");
    compile_fails("{\"type\":[]}", "type", "/type");
    compile_fails("{\"required\":\"a\"}", "required", "/required");
    compile_fails("{\"required\":[\"a\",1]}", "required", "/required/1");
    compile_fails("{\"enum\":1}", "enum", "/enum");
    compile_fails("{\"minimum\":\"1\"}", "minimum", "/minimum");
    compile_fails("{\"exclusiveMinimum\":true}", "exclusiveMinimum", "/exclusiveMinimum");
    compile_fails("{\"multipleOf\":0}", "multipleOf", "/multipleOf");
    compile_fails("{\"anyOf\":[]}", "anyOf", "/anyOf");
    compile_fails("{\"allOf\":[{},3]}", "schema", "/allOf/1");
    compile_fails("{\"items\":[{},\"x\"]}", "schema", "/items/1");
    compile_fails("{\"properties\":[]}", "properties", "/properties");
    compile_fails("{\"uniqueItems\":1}", "uniqueItems", "/uniqueItems");
    compile_fails("{\"dependencies\":{\"a\":[1]}}", "dependencies", "/dependencies/a/0");
    compile_fails("{\"definitions\":{\"bad\":{\"maxLength\":\"x\"}}}", "maxLength", "/definitions/bad/maxLength");
    compile_fails("{\"$id\":5}", "$id", "/$id");
}

Test(json_schema, later_draft_assertions_are_rejected_not_ignored) {
    compile_fails("{\"unevaluatedProperties\":false}", "unevaluatedProperties", "/unevaluatedProperties");
    compile_fails("{\"properties\":{\"a\":{\"prefixItems\":[{}]}}}", "prefixItems", "/properties/a/prefixItems");
    compile_fails("{\"dependentRequired\":{}}", "dependentRequired", "/dependentRequired");
    compile_fails("{\"contains\":{},\"minContains\":2}", "minContains", "/minContains");
}

Test(json_schema, schema_text_that_does_not_parse_is_rule_json) {
    compile_fails("{\"type\":", "json", "");
    ss_json_schema *s = compile("{\"type\":\"object\"}");
    ss_json_error err;
    cr_assert(!ss_json_schema_validate_text(s, ss_slice_cstr("{\"a\":"), &err));
    cr_assert_str_eq(err.rule, "json");
    cr_assert(ss_json_schema_validate_text(s, ss_slice_cstr("{\"a\":1}"), &err));
    cr_assert(!ss_json_schema_validate_text(s, ss_slice_cstr("[1]"), &err));
    cr_assert_str_eq(err.rule, "type");
    ss_json_schema_free(s);
}

Test(json_schema, misuse_is_reported_not_crashed) {
    ss_json_schema *s = NULL;
    cr_assert_eq(ss_json_schema_compile(NULL, &s, NULL), SS_MISUSE);
    json_t *five = json_integer(5);
    cr_assert_eq(ss_json_schema_compile(five, &s, NULL), SS_BADARG);
    json_decref(five);
    cr_assert_eq(s, NULL);
    ss_json_schema_free(NULL);
}

/* ---- ownership and limits ------------------------------------------------------------------------- */

Test(json_schema, compiled_schema_owns_a_copy_of_the_document) {
    json_t *doc = J("{\"properties\":{\"a\":{\"enum\":[\"x\"]}},\"required\":[\"a\"]}");
    ss_json_schema *s = NULL;
    cr_assert_eq(ss_json_schema_compile(doc, &s, NULL), SS_OK);
    json_object_clear(doc);
    json_decref(doc);
    valid(s, "{\"a\":\"x\"}");
    invalid(s, "{\"a\":\"y\"}", "/a", "enum");
    invalid(s, "{}", "", "required");
    ss_json_schema_free(s);
}

Test(json_schema, deep_values_fail_with_rule_depth_instead_of_overflowing) {
    ss_json_schema *s = compile("{\"items\":{\"$ref\":\"#\"}}");
    enum { N = 1000 };
    char *text = malloc(2 * N + 1);
    cr_assert(text);
    memset(text, '[', N);
    memset(text + N, ']', N);
    text[2 * N] = '\0';
    json_t *j = J(text);
    ss_json_error err;
    cr_assert(!ss_json_schema_validate(s, j, &err));
    cr_assert_str_eq(err.rule, "depth");
    cr_assert(strlen(err.path) < sizeof err.path);
    json_decref(j);
    /* shallow enough: fine */
    text[N] = '\0';
    memset(text + 100, ']', 100);
    text[200] = '\0';
    valid(s, text);
    free(text);
    ss_json_schema_free(s);
}

Test(json_schema, deeply_nested_schemas_are_rejected_at_compile_time) {
    enum { N = SS_JSON_SCHEMA_MAX_DEPTH + 10 };
    char *text = malloc(N * 10 + 16);
    cr_assert(text);
    size_t o = 0;
    for (int i = 0; i < N; i++)
        o += (size_t)sprintf(text + o, "{\"not\":");
    o += (size_t)sprintf(text + o, "{}");
    for (int i = 0; i < N; i++)
        text[o++] = '}';
    text[o] = '\0';
    ss_json_schema *s = NULL;
    ss_json_error err;
    /* As text, the shared JSON reader refuses it first (its nesting limit). */
    cr_assert_eq(ss_json_schema_compile_text(ss_slice_cstr(text), &s, &err), SS_BADARG);
    cr_assert_str_eq(err.rule, "json");
    free(text);
    /* Built as values, the compiler's own depth limit refuses it. */
    json_t *schema = json_object();
    for (int i = 0; i < N; i++) {
        json_t *outer = json_object();
        json_object_set_new(outer, "not", schema);
        schema = outer;
    }
    cr_assert_eq(ss_json_schema_compile(schema, &s, &err), SS_BADARG);
    cr_assert_str_eq(err.rule, "depth");
    cr_assert(strlen(err.path) < sizeof err.path);
    json_decref(schema);
}

Test(json_schema, long_error_paths_are_truncated_safely) {
    ss_json_schema *s = compile("{\"additionalProperties\":{\"$ref\":\"#\"},\"type\":\"object\"}");
    char key[120];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    char text[2048];
    snprintf(text, sizeof text, "{\"%s\":{\"%s\":{\"%s\":5}}}", key, key, key);
    ss_json_error err;
    cr_assert(!check(s, text, &err));
    cr_assert_str_eq(err.rule, "type");
    cr_assert_eq(strlen(err.path), sizeof err.path - 1);
    cr_assert_str_eq(err.path + sizeof err.path - 4, "...");
    ss_json_schema_free(s);
}

/* ---- the State Protocol schema (draft-07, $id, oneOf, if/then) -------------------------------------- */

static const char *STATE_SCHEMA =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"$id\":\"https://durable-streams.dev/"
    "state-protocol/v1\","
    "\"type\":\"object\",\"oneOf\":[{\"$ref\":\"#/definitions/ChangeMessage\"},{\"$ref\":\"#/definitions/"
    "ControlMessage\"}],"
    "\"definitions\":{"
    "\"ChangeMessage\":{\"type\":\"object\",\"required\":[\"type\",\"key\",\"headers\"],\"properties\":{"
    "\"type\":{\"type\":\"string\",\"minLength\":1},\"key\":{\"type\":\"string\",\"minLength\":1},"
    "\"value\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":\"boolean\"},{\"type\":\"null\"},"
    "{\"type\":\"array\"},{\"type\":\"object\"}]},"
    "\"old_value\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":\"boolean\"},{\"type\":"
    "\"null\"},"
    "{\"type\":\"array\"},{\"type\":\"object\"}]},"
    "\"headers\":{\"$ref\":\"#/definitions/ChangeHeaders\"}},\"additionalProperties\":false,"
    "\"allOf\":[{\"if\":{\"properties\":{\"headers\":{\"properties\":{\"operation\":{\"const\":\"insert\"}}}}},"
    "\"then\":{\"required\":[\"value\"]}},"
    "{\"if\":{\"properties\":{\"headers\":{\"properties\":{\"operation\":{\"const\":\"update\"}}}}},"
    "\"then\":{\"required\":[\"value\"]}}]},"
    "\"ChangeHeaders\":{\"type\":\"object\",\"required\":[\"operation\"],\"properties\":{"
    "\"operation\":{\"type\":\"string\",\"enum\":[\"insert\",\"update\",\"delete\"]},"
    "\"txid\":{\"type\":\"string\",\"minLength\":1},\"timestamp\":{\"type\":\"string\",\"format\":\"date-time\"}},"
    "\"additionalProperties\":false},"
    "\"ControlMessage\":{\"type\":\"object\",\"required\":[\"headers\"],\"properties\":{"
    "\"headers\":{\"$ref\":\"#/definitions/ControlHeaders\"}},\"additionalProperties\":false},"
    "\"ControlHeaders\":{\"type\":\"object\",\"required\":[\"control\"],\"properties\":{"
    "\"control\":{\"type\":\"string\",\"enum\":[\"snapshot-start\",\"snapshot-end\",\"reset\"]},"
    "\"offset\":{\"type\":\"string\",\"minLength\":1}},\"additionalProperties\":false}}}";

Test(json_schema, state_protocol_schema_accepts_and_rejects_messages) {
    ss_json_schema *s = compile(STATE_SCHEMA);
    valid(s, "{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"name\":\"A\"},\"headers\":{\"operation\":\"insert\","
             "\"txid\":\"t\"}}");
    valid(s, "{\"type\":\"user\",\"key\":\"u1\",\"headers\":{\"operation\":\"delete\"}}");
    valid(s, "{\"headers\":{\"control\":\"snapshot-start\",\"offset\":\"0_0\"}}");
    const char *m =
        invalid(s, "{\"type\":\"user\",\"key\":\"u1\",\"headers\":{\"operation\":\"insert\"}}", "", "oneOf");
    cr_assert(strstr(m, "schema 0 fails at \"\": required: missing property \"value\"") != NULL, "%s", m);
    m = invalid(s, "{\"type\":\"user\",\"key\":\"u1\",\"value\":1,\"headers\":{\"operation\":\"upsert\"}}", "",
                "oneOf");
    cr_assert(strstr(m, "\"/headers/operation\": enum") != NULL, "%s", m);
    invalid(s, "[]", "", "type");
    ss_json_schema_free(s);
}

/* ---- JSON-Schema-Test-Suite (draft 7) ------------------------------------------------------------------ */

#ifndef JSON_SCHEMA_TEST_SUITE_DIR
#define JSON_SCHEMA_TEST_SUITE_DIR "/usr/share/json-schema-test-suite/tests/draft7"
#endif

/* Every top-level draft-7 file (the optional/ directory — format, bignum,
 * ECMA-262 regex corner cases — is not run). */
static const char *const SUITE_FILES[] = {
    "additionalItems.json",
    "additionalProperties.json",
    "allOf.json",
    "anyOf.json",
    "boolean_schema.json",
    "const.json",
    "contains.json",
    "default.json",
    "definitions.json",
    "dependencies.json",
    "enum.json",
    "exclusiveMaximum.json",
    "exclusiveMinimum.json",
    "if-then-else.json",
    "items.json",
    "maxItems.json",
    "maxLength.json",
    "maxProperties.json",
    "maximum.json",
    "minItems.json",
    "minLength.json",
    "minProperties.json",
    "minimum.json",
    "multipleOf.json",
    "not.json",
    "oneOf.json",
    "pattern.json",
    "patternProperties.json",
    "properties.json",
    "propertyNames.json",
    "ref.json",
    "refRemote.json",
    "required.json",
    "type.json",
    "uniqueItems.json",
};

/* Groups that need what this validator deliberately does not do. Each is
 * checked to be rejected at compile time (never silently accepted). */
static const struct {
    const char *file;
    const char *group; /* NULL: every group of the file */
    const char *reason;
} SUITE_SKIPS[] = {
    {"definitions.json", NULL, "remote $ref to the draft-07 meta-schema"},
    {"ref.json", "remote ref, containing refs itself", "remote $ref to the draft-07 meta-schema"},
    {"refRemote.json", NULL, "remote $ref (the suite's schema server on localhost:1234)"},
};

/* What this build achieves; a regression below it fails the test. */
#define SUITE_MIN_PASS 404

static const char *skip_reason(const char *file, const char *group) {
    for (size_t i = 0; i < sizeof SUITE_SKIPS / sizeof SUITE_SKIPS[0]; i++)
        if (strcmp(SUITE_SKIPS[i].file, file) == 0 &&
            (!SUITE_SKIPS[i].group || strcmp(SUITE_SKIPS[i].group, group) == 0))
            return SUITE_SKIPS[i].reason;
    return NULL;
}

typedef struct suite_count {
    int total, pass, skipped;
} suite_count;

/* Runs one file of the suite (under `dir`), adding to *sum. `strict`: a
 * schema the validator refuses is an error (the required files). */
static void run_suite_file(const char *dir, const char *file, bool strict, suite_count *sum) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    /* Read with the project's own reader: integers past 64 bits (bignum.json) become doubles. */
    FILE *fp = fopen(path, "rb");
    cr_assert(fp != NULL, "%s: cannot open (install json-schema-test-suite: scripts/setup.sh)", path);
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text, fp);
    fclose(fp);
    cr_assert_lt(len, sizeof text, "%s: larger than the test's buffer", path);
    json_t *groups = NULL;
    ss_json_error je;
    cr_assert_eq(ss_json_doc_parse(ss_slice_of(text, len), &groups, &je), SS_OK, "%s: %s", path, je.message);
    suite_count f = {0};
    size_t gi;
    json_t *group;
    json_array_foreach(groups, gi, group) {
        const char *desc = json_string_value(json_object_get(group, "description"));
        json_t *tests = json_object_get(group, "tests");
        int n = (int)json_array_size(tests);
        f.total += n;
        ss_json_schema *s = NULL;
        ss_json_error err;
        ss_rc rc = ss_json_schema_compile(json_object_get(group, "schema"), &s, &err);
        const char *reason = skip_reason(file, desc);
        if (reason) {
            cr_assert_eq(rc, SS_BADARG, "%s / %s: skipped (%s) but compiles", file, desc, reason);
            cr_log_info("draft7/%s / %s: %d cases skipped: %s", file, desc, n, reason);
            f.skipped += n;
            continue;
        }
        if (rc) {
            if (strict)
                cr_log_error("%s / %s: schema rejected: %s at \"%s\": %s", file, desc, err.rule, err.path,
                             err.message);
            continue;
        }
        size_t ti;
        json_t *t;
        json_array_foreach(tests, ti, t) {
            bool want = json_is_true(json_object_get(t, "valid"));
            json_t *data = json_object_get(t, "data");
            bool quiet = ss_json_schema_validate(s, data, NULL);
            bool got = ss_json_schema_validate(s, data, &err);
            cr_expect_eq(quiet, got, "%s / %s / %s: quiet and reporting validation disagree", file, desc,
                         json_string_value(json_object_get(t, "description")));
            if (got == want)
                f.pass++;
            else if (strict)
                cr_log_error("%s / %s / %s: expected %s, got %s%s", file, desc,
                             json_string_value(json_object_get(t, "description")), want ? "valid" : "invalid",
                             got ? "valid" : "invalid: ", got ? "" : err.rule);
        }
        ss_json_schema_free(s);
    }
    json_decref(groups);
    cr_log_info("draft7/%s: %d of %d cases pass (%d skipped)", file, f.pass, f.total, f.skipped);
    fprintf(stderr, "[json-schema] draft7/%s: %d of %d cases pass (%d skipped)\n", file, f.pass, f.total,
            f.skipped);
    sum->total += f.total;
    sum->pass += f.pass;
    sum->skipped += f.skipped;
}

static const char *suite_dir(void) {
    const char *dir = getenv("JSON_SCHEMA_TEST_SUITE_DIR");
    return dir ? dir : JSON_SCHEMA_TEST_SUITE_DIR;
}

Test(json_schema, official_draft7_test_suite, .timeout = 120) {
    suite_count sum = {0};
    for (size_t f = 0; f < sizeof SUITE_FILES / sizeof SUITE_FILES[0]; f++)
        run_suite_file(suite_dir(), SUITE_FILES[f], true, &sum);
    char summary[256];
    snprintf(
        summary, sizeof summary,
        "JSON-Schema-Test-Suite draft7: %d of %d cases pass (%d skipped: remote $ref to the draft-07 meta-schema "
        "or to the suite's localhost:1234 server)",
        sum.pass, sum.total, sum.skipped);
    cr_log_info("%s", summary);
    fprintf(stderr, "[json-schema] %s\n", summary); /* shown by ctest -V without Criterion's --verbose */
    cr_assert_geq(sum.pass, SUITE_MIN_PASS, "regression: %d cases pass, %d expected", sum.pass, SUITE_MIN_PASS);
    cr_assert_eq(sum.pass, sum.total - sum.skipped, "%d of %d cases fail", sum.total - sum.skipped - sum.pass,
                 sum.total - sum.skipped);
}

/* The optional part: ECMA-262 regex corner cases, big numbers, and "format",
 * which this validator treats as an annotation (draft 7 lets it): a format
 * case that expects "invalid" therefore fails here. Reported, with a floor
 * at what this build achieves so a regression fails. */
static const char *const OPTIONAL_FILES[] = {
    "optional/bignum.json",
    "optional/content.json",
    "optional/ecmascript-regex.json",
    "optional/zeroTerminatedFloats.json",
    "optional/format/date-time.json",
    "optional/format/date.json",
    "optional/format/email.json",
    "optional/format/hostname.json",
    "optional/format/idn-email.json",
    "optional/format/idn-hostname.json",
    "optional/format/ipv4.json",
    "optional/format/ipv6.json",
    "optional/format/iri-reference.json",
    "optional/format/iri.json",
    "optional/format/json-pointer.json",
    "optional/format/regex.json",
    "optional/format/relative-json-pointer.json",
    "optional/format/time.json",
    "optional/format/uri-reference.json",
    "optional/format/uri-template.json",
    "optional/format/uri.json",
};
#define OPTIONAL_MIN_PASS 86 /* the rest expect format or content assertions */

Test(json_schema, optional_draft7_cases_are_reported, .timeout = 120) {
    suite_count sum = {0};
    for (size_t f = 0; f < sizeof OPTIONAL_FILES / sizeof OPTIONAL_FILES[0]; f++)
        run_suite_file(suite_dir(), OPTIONAL_FILES[f], false, &sum);
    fprintf(stderr, "[json-schema] JSON-Schema-Test-Suite draft7 optional: %d of %d cases pass\n", sum.pass,
            sum.total);
    cr_assert_geq(sum.pass, OPTIONAL_MIN_PASS, "regression: %d optional cases pass, %d expected", sum.pass,
                  OPTIONAL_MIN_PASS);
}
