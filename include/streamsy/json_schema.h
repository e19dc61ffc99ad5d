/* JSON Schema (draft-07) validation over jansson values.
 *
 * A schema is compiled once (references resolved, regexes compiled, property
 * tables sorted) and then validated against many values; validation only
 * reads the compiled schema, so one compiled schema may be shared by threads.
 *
 *   ss_json_schema *s;
 *   ss_json_error err;
 *   if (ss_json_schema_compile_text(ss_slice_cstr(text), &s, &err)) ... err says why
 *   if (!ss_json_schema_validate(s, value, &err)) ... err.path, err.rule
 *   ss_json_schema_free(s);
 *
 * Supported: every draft-07 validation keyword —
 *   type (integer = any number with a zero fractional part, so 1.0 is one),
 *   enum, const (numbers compare by value: 1 == 1.0),
 *   minLength/maxLength (counted in Unicode code points), pattern,
 *   minimum/maximum/exclusiveMinimum/exclusiveMaximum/multipleOf,
 *   required, properties, patternProperties, additionalProperties,
 *   minProperties/maxProperties, propertyNames, dependencies,
 *   items (one schema or the array form), additionalItems, minItems/maxItems,
 *   uniqueItems, contains, allOf/anyOf/oneOf/not, if/then/else,
 *   boolean schemas, and $ref with definitions/$defs.
 *
 * $ref: resolved at compile time inside the schema document only: "#",
 *   "#/json/pointer" (~0 ~1 and %XX escapes), and in-document "$id" base URIs
 *   and "#name" anchors declared with "$id" (RFC 3986 reference resolution).
 *   A reference that leaves the document (a remote schema, the draft-07
 *   meta-schema) is rejected at compile time — never fetched. As in draft-07,
 *   keywords next to "$ref" are ignored, unless the root "$schema" names
 *   draft 2019-09 or 2020-12, where they apply as well.
 *
 * pattern / patternProperties: ECMA-262 syntax, matched by PCRE2 in UTF
 *   mode (compiled once, at schema compile time; an unanchored search, as
 *   JSON Schema specifies). Characters are code points, as with ECMA-262's
 *   "u" flag ("." matches one emoji). Supported: everything PCRE2 shares with
 *   ECMA-262 (groups, named groups, lazy quantifiers, lookahead/lookbehind,
 *   back references, \b \B, \p{...}, [] and [^]), with \d \w \b ASCII as in
 *   JavaScript, \s with ECMA-262's Unicode white space, "." excluding line
 *   terminators, ^ and $ at the ends of the input only, \uHHHH (surrogate
 *   pairs joined) and \u{H...}. Refused at compile time, with PCRE2's reason:
 *   what ECMA-262 itself rejects (nothing to repeat, unbalanced parentheses,
 *   ranges out of order), a lone surrogate, and \S inside a class other than
 *   [\s\S]. A match is bounded (1,000,000 steps): a value whose match takes
 *   longer fails with rule "pattern" ("took too many steps").
 *
 * Ignored (annotations): format (no format is checked), title, description,
 *   default, examples, $comment, readOnly, writeOnly, contentMediaType,
 *   contentEncoding, $schema (apart from the rule above), and any unknown
 *   keyword.
 *
 * Rejected at compile time (SS_BADARG, err->rule = the keyword), because
 *   ignoring them would accept values the schema's author meant to reject:
 *   the later-draft assertions prefixItems, unevaluatedProperties,
 *   unevaluatedItems, dependentRequired, dependentSchemas, minContains,
 *   maxContains, $recursiveRef, $dynamicRef; references that cannot be
 *   resolved in the document; a $ref/applicator cycle that never descends into
 *   the value (it could not terminate); keywords with ill-typed values
 *   ("minLength": "x", an unknown type name, a pattern that does not compile).
 *
 * Limits: schemas nest at most SS_JSON_SCHEMA_MAX_DEPTH levels; validation
 *   evaluates at most SS_JSON_SCHEMA_MAX_DEPTH nested (sub)schemas, and a
 *   value too deep for that fails with rule "depth". Numbers are what jansson
 *   holds (64-bit integers, doubles); multipleOf on non-integers is a double
 *   division whose quotient must be integral. */
#ifndef STREAMSY_JSON_SCHEMA_H
#define STREAMSY_JSON_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>

#include "bytes.h"
#include "json_error.h"
#include "rc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SS_JSON_SCHEMA_MAX_DEPTH 256

/* A compiled schema. Owned by: whoever compiled it (ss_json_schema_free). */
typedef struct ss_json_schema ss_json_schema;

/* Compiles `schema` (an object or a boolean). The compiled schema keeps its
 * own deep copy, so the caller may change or free `schema` afterwards.
 * Returns SS_BADARG for an invalid or unsupported schema, with `err` (when
 * not NULL) naming the schema location as a JSON Pointer in err->path, the
 * keyword in err->rule and the reason in err->message; SS_NOMEM when out of
 * memory. *out is untouched on failure. */
SS_MUST_USE ss_rc ss_json_schema_compile(const json_t *schema, ss_json_schema **out, ss_json_error *err);

/* Parses `schema_json` (strict JSON; rule "json" in err when it does not
 * parse) and compiles it. */
SS_MUST_USE ss_rc ss_json_schema_compile_text(ss_slice schema_json, ss_json_schema **out, ss_json_error *err);

/* True when `value` is valid. Otherwise false, and when `err` is not NULL it
 * gets the first failure: err->path = JSON Pointer of the failing value in
 * `value` ("" = the value itself), err->rule = the failing keyword
 * ("required", "type", "additionalProperties", "oneOf", "false" for a false
 * schema, "depth" for the nesting limit), err->message = a short text,
 * err->index = -1. For anyOf/oneOf the message also names the branch that
 * got furthest. `err` is untouched when the value is valid. */
bool ss_json_schema_validate(const ss_json_schema *s, const json_t *value, ss_json_error *err);

/* Parses `json` (ss_json_doc_parse; rule "json" when it does not parse) and
 * validates it. */
bool ss_json_schema_validate_text(const ss_json_schema *s, ss_slice json, ss_json_error *err);

/* NULL is a no-op. */
void ss_json_schema_free(ss_json_schema *s);

#ifdef __cplusplus
}
#endif

#endif
