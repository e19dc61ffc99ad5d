/* The JSON Schema codec: a compiled schema as one more ss_json_codec
 * (include/streamsy/json.h). Its own file so that programs using only the
 * identity codec do not link the validator. */
#include "streamsy/json.h"

/* Validates; the value passes through unchanged. The validator fills
 * path, rule and message; the layer sets the index. */
static ss_rc schema_check(void *ctx, const json_t *in, json_t **out, ss_json_error *err) {
    if (!ss_json_schema_validate(ctx, in, err))
        return SS_BADARG;
    *out = json_incref((json_t *)in);
    return SS_OK;
}

void ss_json_schema_codec(const ss_json_schema *schema, ss_json_codec *out) {
    *out = (ss_json_codec){schema_check, schema_check, (void *)schema};
}
