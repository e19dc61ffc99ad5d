/* JSON documents: JSON text -> jansson values, the reader every typed layer
 * (JSON Schema, the JSON layer, Durable State, --config) shares.
 *
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
ss_rc ss_json_doc_parse(ss_slice text, json_t **out, ss_json_error *err);

#ifdef __cplusplus
}
#endif

#endif
