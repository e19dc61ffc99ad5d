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
 * pattern / patternProperties: ECMA-262 syntax, translated to POSIX extended
 *   regular expressions and run with regcomp/regexec (compiled once, at
 *   schema compile time; an unanchored search, as JSON Schema specifies).
 *   Translated: \d \w \s \D \W \S, (?:...) and (?<name>...), escapes
 *   (\n \t \xHH \uHHHH \cX, escaped punctuation), lazy quantifiers (which do
 *   not change whether a string matches), "." (excludes line terminators),
 *   ^ and $ (ends of the input only). Characters are code points, as with
 *   ECMA-262's "u" flag ("." matches one emoji; a C.UTF-8 locale is used for
 *   non-ASCII strings, byte matching for ASCII ones). \w and \d are ASCII,
 *   \s includes ECMA-262's Unicode spaces. Rejected at compile time, because
 *   POSIX cannot express them: lookahead/lookbehind, back references, \b \B,
 *   \p{...}, ranges with a non-ASCII end ([à-ÿ]), \D \W \S inside a negated
 *   class, the empty class [], NUL; and what ECMA-262 itself rejects
 *   (nothing to repeat, unbalanced parentheses, ranges out of order).
 *   Needs the C.UTF-8 locale (glibc >= 2.35, musl); without it a schema with
 *   a pattern does not compile.
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

#define SS_JSON_SCHEMA_MAX_DEPTH 256

/* A compiled schema. Owned by: whoever compiled it (ss_json_schema_free). */
typedef struct ss_json_schema ss_json_schema;

/* Compiles `schema` (an object or a boolean). The compiled schema keeps its
 * own deep copy, so the caller may change or free `schema` afterwards.
 * Returns SS_BADARG for an invalid or unsupported schema, with `err` (when
 * not NULL) naming the schema location as a JSON Pointer in err->path, the
 * keyword in err->rule and the reason in err->message; SS_NOMEM when out of
 * memory. *out is untouched on failure. */
ss_rc ss_json_schema_compile(const json_t *schema, ss_json_schema **out, ss_json_error *err);

/* Parses `schema_json` (strict JSON; rule "json" in err when it does not
 * parse) and compiles it. */
ss_rc ss_json_schema_compile_text(ss_slice schema_json, ss_json_schema **out, ss_json_error *err);

/* True when `value` is valid. Otherwise false, and when `err` is not NULL it
 * gets the first failure: err->path = JSON Pointer of the failing value in
 * `value` ("" = the value itself), err->rule = the failing keyword
 * ("required", "type", "additionalProperties", "oneOf", "false" for a false
 * schema, "depth" for the nesting limit), err->message = a short text,
 * err->index = -1. For anyOf/oneOf the message also names the branch that
 * got furthest. `err` is untouched when the value is valid. */
bool ss_json_schema_validate(const ss_json_schema *s, const json_t *value, ss_json_error *err);

/* Parses `json` (JSON_DECODE_ANY | JSON_ALLOW_NUL; rule "json" when it does
 * not parse) and validates it. */
bool ss_json_schema_validate_text(const ss_json_schema *s, ss_slice json, ss_json_error *err);

/* NULL is a no-op. */
void ss_json_schema_free(ss_json_schema *s);

#endif
