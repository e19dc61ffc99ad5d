/* JSON documents: the one reader (JSON text -> jansson values) and the one
 * writer (jansson values -> JSON text) every typed layer shares (JSON
 * Schema, the JSON layer, Durable State, --config), so the JSON and State
 * layers write the same bytes for the same value.
 *
 * Reading:
 * The text is validated by the strict scanner that also frames JSON-mode
 * appends, so a body the protocol accepts is exactly a body this reads; the
 * values are then built with jansson's unchecked constructors, several times
 * faster than json_loadb. Any top-level value; U+0000 allowed; integers past
 * int64 read as doubles, numbers past the double range as null. */
#ifndef STREAMSY_JSON_DOC_H
#define STREAMSY_JSON_DOC_H

#include <jansson.h>

#include "bytes.h"
#include "json_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* *out gets a new reference. SS_BADARG with rule "json" in *err (index -1)
 * for invalid JSON, SS_NOMEM; *out is untouched on failure. */
SS_MUST_USE ss_rc ss_json_doc_parse(ss_slice text, json_t **out, ss_json_error *err);

/* Appends `v` as JavaScript's JSON.stringify writes it: no whitespace;
 * object keys that are array indices first (ascending), then the others in
 * insertion order; only '"', '\\' and control characters escaped; doubles
 * in their shortest round-trip form (0.1 is "0.1"), non-finite ones as null.
 * Integers are written exactly (JavaScript would round past 2^53).
 * SS_BADARG for NULL, a string or key that is not UTF-8 (jansson's
 * *_nocheck constructors allow them), or a value nested deeper than
 * SS_JSON_MAX_DEPTH (or a cycle); SS_TOOBIG / SS_NOMEM from `out`. On
 * failure `out` may hold part of the text. */
SS_MUST_USE ss_rc ss_json_doc_write(const json_t *v, ss_buf *out);

#ifdef __cplusplus
}
#endif

#endif
