/* Fast JSON text -> jansson values for the typed layers (see load.c):
 * validated by the strict scanner (the protocol's own rules), then built
 * with jansson's unchecked constructors, several times faster than
 * json_loadb. Any top-level value; U+0000 allowed; integers past int64 read
 * as doubles, numbers past the double range as null.
 * SS_BADARG with rule "json" in *err (index -1) for invalid JSON, SS_NOMEM. */
#ifndef SS_JSON_LOAD_H
#define SS_JSON_LOAD_H

#include <jansson.h>

#include "streamsy/bytes.h"
#include "streamsy/json_error.h"

ss_rc ss__json_load(ss_slice bytes, json_t **out, ss_json_error *err);

#endif
