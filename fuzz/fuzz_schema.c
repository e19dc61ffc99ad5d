/* Fuzz target: the JSON Schema compiler (draft 7, PCRE2 patterns, $ref
 * resolution) and the validator. The input is a schema; if it compiles, it
 * validates a fixed set of instances and the input itself. Checked: the
 * validator answers the same twice (it keeps no state between calls), and a
 * failure always names a rule. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "streamsy/json_doc.h"
#include "streamsy/json_schema.h"

static const char *const instances[] = {
    "null",
    "true",
    "0",
    "-1.5",
    "1e308",
    "\"\"",
    "\"abc\"",
    "\"2026-01-01T00:00:00Z\"",
    "[]",
    "[1,\"a\",null]",
    "{}",
    "{\"a\":1,\"b\":[{}]}",
    "{\"id\":\"x\",\"name\":\"y\",\"n\":3}",
};

static void check(const ss_json_schema *s, const json_t *v) {
    ss_json_error e1, e2;
    bool a = ss_json_schema_validate(s, v, &e1);
    bool b = ss_json_schema_validate(s, v, &e2);
    if (a != b)
        abort();
    if (!a && (!e1.rule[0] || strcmp(e1.rule, e2.rule) != 0 || strcmp(e1.path, e2.path) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ss_slice text = ss_slice_of((const char *)data, size);
    ss_json_schema *s;
    ss_json_error err;
    if (ss_json_schema_compile_text(text, &s, &err) != SS_OK) {
        if (!err.rule[0])
            abort(); /* a refused schema says why */
        return 0;
    }
    for (size_t i = 0; i < sizeof instances / sizeof instances[0]; i++) {
        json_t *v;
        if (ss_json_doc_parse(ss_slice_cstr(instances[i]), &v, &err))
            abort();
        check(s, v);
        json_decref(v);
    }
    json_t *self;
    if (ss_json_doc_parse(text, &self, &err) == SS_OK) {
        check(s, self);
        json_decref(self);
    }
    ss_json_schema_free(s);
    return 0;
}
