/* JSON Schema public API (include/streamsy/json_schema.h): ownership and
 * entry points; the work is in schema_compile.c and schema_validate.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"
#include "streamsy/alloc.h"
#include "streamsy/json_doc.h"

static void set_error(ss_json_error *err, const char *rule, const char *message) {
    if (!err)
        return;
    err->path[0] = '\0';
    ss_json_error_set(err, rule, "%s", message);
}

ss_rc ss_json_schema_compile(const json_t *schema, ss_json_schema **out, ss_json_error *err) {
    if (!schema || !out) {
        set_error(err, "schema", "no schema");
        return SS_MISUSE;
    }
    if (!json_is_object(schema) && !json_is_boolean(schema)) {
        set_error(err, "schema", "a schema must be an object or a boolean");
        return SS_BADARG;
    }
    ss_json_schema *s = ss_calloc(1, sizeof *s);
    if (!s) {
        set_error(err, "memory", "out of memory");
        return SS_NOMEM;
    }
    ss_arena_init(&s->arena);
    s->doc = json_deep_copy(schema);
    if (!s->doc) {
        ss_free(s);
        set_error(err, "memory", "out of memory");
        return SS_NOMEM;
    }
    ss_rc rc = ss__sch_compile(s, err);
    if (rc) {
        ss_json_schema_free(s);
        return rc;
    }
    *out = s;
    return SS_OK;
}

ss_rc ss_json_schema_compile_text(ss_slice schema_json, ss_json_schema **out, ss_json_error *err) {
    json_t *doc = NULL;
    ss_rc rc0 = ss_json_doc_parse(schema_json, &doc, err);
    if (rc0)
        return rc0;
    ss_rc rc = ss_json_schema_compile(doc, out, err);
    json_decref(doc);
    return rc;
}

bool ss_json_schema_validate(const ss_json_schema *s, const json_t *value, ss_json_error *err) {
    if (!s || !value) {
        set_error(err, "schema", "no schema or no value");
        return false;
    }
    return ss__sch_validate(s, value, err);
}

bool ss_json_schema_validate_text(const ss_json_schema *s, ss_slice json, ss_json_error *err) {
    json_t *value = NULL;
    ss_json_error ignored;
    if (ss_json_doc_parse(json, &value, err ? err : &ignored))
        return false;
    bool ok = ss_json_schema_validate(s, value, err);
    json_decref(value);
    return ok;
}

void ss_json_schema_free(ss_json_schema *s) {
    if (!s)
        return;
    for (ss__sch_regex *re = s->regexes; re; re = re->next)
        ss__sch_regex_release(re);
    json_decref(s->doc);
    ss_arena_release(&s->arena);
    ss_free(s);
}
