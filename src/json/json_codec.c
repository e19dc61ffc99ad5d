/* The identity codec of the JSON layer (include/streamsy/json.h); the
 * schema codec is in json_schema_codec.c. */
#include "streamsy/json.h"

static ss_rc identity(void *ctx, const json_t *in, json_t **out, ss_json_error *err) {
    (void)ctx;
    (void)err;
    *out = json_incref((json_t *)in); /* jansson counts references even on const values */
    return SS_OK;
}

const ss_json_codec ss_json_identity_codec = {identity, identity, NULL};
