/* The enforcement config: loading, path matching, and the body validator. */
#include "config.h"
#include "base/errf.h"
#include "streamsy/alloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "streamsy/json_doc.h"
#include "streamsy/json_schema.h"
#include "streamsy/protocol.h"
#include "streamsy/state.h"

typedef enum rule_kind {
    RULE_SCHEMA,
    RULE_STATE,
} rule_kind;

typedef struct rule {
    char *pattern;  /* owned */
    bool is_prefix; /* "prefix" instead of a "match" glob */
    rule_kind kind;
    ss_json_schema *schema;         /* RULE_SCHEMA */
    ss_state_schema *state;         /* RULE_STATE */
    ss_json_schema **value_schemas; /* RULE_STATE: the collections' schemas, owned */
    size_t n_value_schemas;
} rule;

/* Owned by: the caller of ss_config_load; outlives the handler using it. */
struct ss_config {
    rule *rules;
    size_t n;
};

/* ---- globs ------------------------------------------------------------------ */

static bool glob_at(const char *p, const char *s, const char *end, int depth) {
    if (depth > 64)
        return false; /* patterns are ours and short; bound the backtracking anyway */
    for (; *p; p++) {
        if (p[0] == '*' && p[1] == '*') {
            for (const char *t = s;; t++) {
                if (glob_at(p + 2, t, end, depth + 1))
                    return true;
                if (t == end)
                    return false;
            }
        }
        if (*p == '*') {
            for (const char *t = s;; t++) {
                if (glob_at(p + 1, t, end, depth + 1))
                    return true;
                if (t == end || *t == '/')
                    return false;
            }
        }
        if (s == end || *s != *p)
            return false;
        s++;
    }
    return s == end;
}

bool ss_config_glob_match(const char *pattern, ss_slice id) { return glob_at(pattern, id.p, id.p + id.len, 0); }

static bool rule_matches(const rule *r, ss_slice id) {
    if (!r->is_prefix)
        return ss_config_glob_match(r->pattern, id);
    size_t n = strlen(r->pattern);
    return id.len >= n && memcmp(id.p, r->pattern, n) == 0;
}

/* ---- loading ------------------------------------------------------------------ */

static void rule_release(rule *r) {
    ss_free(r->pattern);
    ss_json_schema_free(r->schema);
    ss_state_schema_free(r->state);
    for (size_t i = 0; i < r->n_value_schemas; i++)
        ss_json_schema_free(r->value_schemas[i]);
    ss_free(r->value_schemas);
}

void ss_config_free(ss_config *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        rule_release(&c->rules[i]);
    ss_free(c->rules);
    ss_free(c);
}

size_t ss_config_rule_count(const ss_config *c) { return c->n; }

/* "schema": {...} or "schema_file": "path" (relative to base_dir). */
static bool load_schema(const json_t *obj, const char *base_dir, const char *where, ss_json_schema **out,
                        char *err, size_t cap) {
    const json_t *inline_schema = json_object_get(obj, "schema");
    const json_t *file = json_object_get(obj, "schema_file");
    if (inline_schema && file)
        return ss__fail(err, cap, "%s: give \"schema\" or \"schema_file\", not both", where);
    json_t *loaded = NULL;
    if (file) {
        if (!json_is_string(file))
            return ss__fail(err, cap, "%s: \"schema_file\" must be a string", where);
        char path[4096];
        const char *f = json_string_value(file);
        snprintf(path, sizeof path, "%s%s%s", f[0] == '/' || !base_dir ? "" : base_dir,
                 f[0] == '/' || !base_dir ? "" : "/", f);
        json_error_t je;
        loaded = json_load_file(path, JSON_DECODE_ANY, &je);
        if (!loaded)
            return ss__fail(err, cap, "%s: cannot read schema %s: %s (line %d)", where, path, je.text, je.line);
        inline_schema = loaded;
    }
    if (!inline_schema) {
        *out = NULL;
        return true;
    }
    ss_json_error je = {.index = -1};
    ss_rc rc = ss_json_schema_compile(inline_schema, out, &je);
    json_decref(loaded);
    if (rc)
        return ss__fail(err, cap, "%s: invalid schema at %s: %s", where, je.path[0] ? je.path : "/", je.message);
    return true;
}

static bool load_state(rule *r, const json_t *state, const char *base_dir, const char *where, char *err,
                       size_t cap) {
    const json_t *cols = json_object_get(state, "collections");
    if (!json_is_array(cols) || json_array_size(cols) == 0)
        return ss__fail(err, cap, "%s: \"state\" needs a non-empty \"collections\" array", where);
    size_t n = json_array_size(cols);
    ss_state_collection_def *defs = ss_calloc(n, sizeof *defs);
    r->value_schemas = ss_calloc(n, sizeof *r->value_schemas);
    if (!defs || !r->value_schemas) {
        ss_free(defs);
        return ss__fail(err, cap, "%s: out of memory", where);
    }
    r->n_value_schemas = n;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *c = json_array_get(cols, i);
        char at[320];
        snprintf(at, sizeof at, "%s collection %zu", where, i);
        const json_t *name = json_object_get(c, "name");
        const json_t *type = json_object_get(c, "type");
        const json_t *key = json_object_get(c, "primaryKey");
        if (!json_is_object(c) || !json_is_string(name) || (type && !json_is_string(type)) ||
            (key && !json_is_string(key))) {
            ok = ss__fail(err, cap, "%s: needs \"name\" (string), optional \"type\" and \"primaryKey\" (strings)",
                          at);
            break;
        }
        ok = load_schema(c, base_dir, at, &r->value_schemas[i], err, cap);
        defs[i] = (ss_state_collection_def){json_string_value(name), type ? json_string_value(type) : NULL,
                                            r->value_schemas[i], key ? json_string_value(key) : NULL};
    }
    if (ok && ss_state_schema_new(defs, n, &r->state))
        ok = ss__fail(err, cap, "%s: invalid collections (empty or duplicate names or types)", where);
    ss_free(defs);
    return ok;
}

static bool load_rule(rule *r, const json_t *o, const char *base_dir, size_t index, char *err, size_t cap) {
    char where[64];
    snprintf(where, sizeof where, "streams[%zu]", index);
    if (!json_is_object(o))
        return ss__fail(err, cap, "%s: must be an object", where);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (strcmp(k, "match") && strcmp(k, "prefix") && strcmp(k, "schema") && strcmp(k, "schema_file") &&
            strcmp(k, "state"))
            return ss__fail(err, cap, "%s: unknown key \"%s\"", where, k);
    }
    const json_t *match = json_object_get(o, "match"), *prefix = json_object_get(o, "prefix");
    if ((match != NULL) == (prefix != NULL) || !json_is_string(match ? match : prefix))
        return ss__fail(err, cap, "%s: give exactly one of \"match\" (glob) or \"prefix\" (string)", where);
    r->pattern = ss_strdup(json_string_value(match ? match : prefix));
    r->is_prefix = prefix != NULL;
    if (!r->pattern)
        return ss__fail(err, cap, "%s: out of memory", where);
    const json_t *state = json_object_get(o, "state");
    if (state) {
        if (json_object_get(o, "schema") || json_object_get(o, "schema_file"))
            return ss__fail(err, cap, "%s: give \"schema\"/\"schema_file\" or \"state\", not both", where);
        if (!json_is_object(state))
            return ss__fail(err, cap, "%s: \"state\" must be an object", where);
        r->kind = RULE_STATE;
        return load_state(r, state, base_dir, where, err, cap);
    }
    r->kind = RULE_SCHEMA;
    if (!load_schema(o, base_dir, where, &r->schema, err, cap))
        return false;
    if (!r->schema)
        return ss__fail(err, cap, "%s: needs \"schema\", \"schema_file\" or \"state\"", where);
    return true;
}

ss_rc ss_config_load_text(ss_slice text, const char *base_dir, ss_config **out, char *err, size_t cap) {
    json_t *root = NULL;
    ss_json_error je;
    ss_rc prc = ss_json_doc_parse(text, &root, &je);
    if (prc) {
        ss__fail(err, cap, "%s", prc == SS_NOMEM ? "out of memory" : je.message);
        return prc;
    }
    ss_rc rc = SS_BADARG;
    ss_config *c = ss_calloc(1, sizeof *c);
    const json_t *streams = json_object_get(root, "streams");
    if (!c) {
        rc = SS_NOMEM;
        ss__fail(err, cap, "out of memory");
        goto done;
    }
    if (!json_is_object(root) || !json_is_array(streams) || json_object_size(root) != 1) {
        ss__fail(err, cap, "the config must be an object with exactly one key, \"streams\" (an array)");
        goto done;
    }
    c->n = json_array_size(streams);
    if (c->n > SS_CONFIG_MAX_RULES) {
        ss__fail(err, cap, "too many rules (%zu, at most %d)", c->n, SS_CONFIG_MAX_RULES);
        c->n = 0;
        goto done;
    }
    c->rules = ss_calloc(c->n ? c->n : 1, sizeof *c->rules);
    if (!c->rules) {
        c->n = 0;
        rc = SS_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < c->n; i++)
        if (!load_rule(&c->rules[i], json_array_get(streams, i), base_dir, i, err, cap))
            goto done;
    rc = SS_OK;
done:
    json_decref(root);
    if (rc)
        ss_config_free(c);
    else
        *out = c;
    return rc;
}

ss_rc ss_config_load(const char *path, ss_config **out, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ss__fail(err, cap, "cannot open config %s: %s", path, strerror(errno));
        return SS_IOERR;
    }
    ss_buf text;
    ss_buf_init(&text, SS_CONFIG_MAX_BYTES);
    char chunk[8192];
    size_t n;
    ss_rc rc = SS_OK;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = ss_buf_append(&text, chunk, n);
    fclose(f);
    if (rc) {
        ss_buf_release(&text);
        ss__fail(err, cap, "config %s is larger than %u bytes", path, SS_CONFIG_MAX_BYTES);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    char inner[512];
    rc = ss_config_load_text(ss_buf_slice(&text), dir, out, inner, sizeof inner);
    ss_buf_release(&text);
    if (rc)
        ss__fail(err, cap, "config %s: %s", path, inner);
    return rc;
}

/* ---- enforcement ------------------------------------------------------------------ */

/* Each message the protocol will store (one level of array flattening) must
 * satisfy the schema. */
static bool check_schema(const ss_json_schema *s, ss_slice body, ss_json_error *err) {
    ss_arena a;
    ss_arena_init(&a);
    ss_slice *items;
    size_t n;
    bool is_array;
    const char *why = NULL;
    bool ok = true;
    ss_rc rc = ss_json_split(body, SS_MAX_MESSAGES_PER_APPEND, &a, &items, &n, &is_array, &why);
    if (rc == SS_TOOBIG) {
        n = 0; /* the protocol refuses the body as too large; nothing to check */
    } else if (rc != SS_OK) {
        memset(err->path, 0, sizeof err->path);
        ss_json_error_set(err, "json", "invalid JSON: %s", why ? why : "malformed");
        ok = false;
    }
    for (size_t i = 0; ok && i < n; i++) {
        json_t *v;
        if (ss_json_doc_parse(items[i], &v, err) != SS_OK) {
            err->index = (long)i;
            ok = false;
            break;
        }
        if (!ss_json_schema_validate(s, v, err)) {
            err->index = (long)i;
            ok = false;
        }
        json_decref(v);
    }
    ss_arena_release(&a);
    return ok;
}

static bool config_check(void *ctx, ss_slice id, ss_slice content_type, ss_slice body, ss_json_error *err) {
    (void)content_type; /* the protocol itself enforces the stream's content type */
    const ss_config *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        const rule *r = &c->rules[i];
        if (!rule_matches(r, id))
            continue;
        switch (r->kind) {
        case RULE_SCHEMA:
            return check_schema(r->schema, body, err);
        case RULE_STATE:
            return ss_state_validate_body(r->state, body, err) == SS_OK;
        }
    }
    return true;
}

ss_http_validator ss_config_validator(ss_config *c) { return (ss_http_validator){config_check, c}; }
