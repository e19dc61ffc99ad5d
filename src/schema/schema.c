/* JSON Schema public API (include/streamsy/json_schema.h): ownership and
 * entry points; the work is in schema_compile.c and schema_validate.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

static void set_error(ss_json_error *err, const char *rule, const char *message, int line, int column) {
    if (!err)
        return;
    err->index = -1;
    err->path[0] = '\0';
    snprintf(err->rule, sizeof err->rule, "%s", rule);
    if (line > 0)
        snprintf(err->message, sizeof err->message, "%s (line %d, column %d)", message, line, column);
    else
        snprintf(err->message, sizeof err->message, "%s", message);
}

ss_rc ss_json_schema_compile(const json_t *schema, ss_json_schema **out, ss_json_error *err) {
    if (!schema || !out) {
        set_error(err, "schema", "no schema", 0, 0);
        return SS_MISUSE;
    }
    if (!json_is_object(schema) && !json_is_boolean(schema)) {
        set_error(err, "schema", "a schema must be an object or a boolean", 0, 0);
        return SS_BADARG;
    }
    ss_json_schema *s = calloc(1, sizeof *s);
    if (!s) {
        set_error(err, "memory", "out of memory", 0, 0);
        return SS_NOMEM;
    }
    ss_arena_init(&s->arena);
    s->doc = json_deep_copy(schema);
    if (!s->doc) {
        free(s);
        set_error(err, "memory", "out of memory", 0, 0);
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
    json_error_t je;
    json_t *doc = json_loadb(schema_json.p ? schema_json.p : "", schema_json.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc) {
        set_error(err, "json", je.text, je.line, je.column);
        return SS_BADARG;
    }
    ss_rc rc = ss_json_schema_compile(doc, out, err);
    json_decref(doc);
    return rc;
}

bool ss_json_schema_validate(const ss_json_schema *s, const json_t *value, ss_json_error *err) {
    if (!s || !value) {
        set_error(err, "schema", "no schema or no value", 0, 0);
        return false;
    }
    return ss__sch_validate(s, value, err);
}

bool ss_json_schema_validate_text(const ss_json_schema *s, ss_slice json, ss_json_error *err) {
    json_error_t je;
    json_t *value = json_loadb(json.p ? json.p : "", json.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!value) {
        set_error(err, "json", je.text, je.line, je.column);
        return false;
    }
    bool ok = ss_json_schema_validate(s, value, err);
    json_decref(value);
    return ok;
}

void ss_json_schema_free(ss_json_schema *s) {
    if (!s)
        return;
    for (ss__sch_regex *re = s->regexes; re; re = re->next)
        ss__sch_regex_release(re);
    if (s->loc.c)
        freelocale(s->loc.c);
    if (s->loc.utf8)
        freelocale(s->loc.utf8);
    json_decref(s->doc);
    ss_arena_release(&s->arena);
    free(s);
}
