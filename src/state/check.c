/* Checking one State Protocol message: classification (§2), change (§3) and
 * control (§4) shape, the collection table, primary keys and value schemas. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/errf.h"
#include "internal.h"

void ss__state_error(ss_json_error *err, const char *path, const char *rule, const char *fmt, ...) {
    snprintf(err->path, sizeof err->path, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    ss__json_error_vset(err, rule, fmt, ap);
    va_end(ap);
}

/* A JSON Pointer token: "~" -> "~0", "/" -> "~1". */
static void pointer(char *dst, size_t cap, const char *prefix, const char *name) {
    size_t n = (size_t)snprintf(dst, cap, "%s/", prefix);
    for (const char *p = name; *p && n + 3 < cap; p++) {
        if (*p == '~' || *p == '/') {
            dst[n++] = '~';
            dst[n++] = *p == '~' ? '0' : '1';
        } else {
            dst[n++] = *p;
        }
    }
    if (n < cap)
        dst[n] = '\0';
}

/* A non-empty string without U+0000, or NULL. */
static const char *plain_string(const json_t *v) {
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    return n && strlen(s) == n ? s : NULL;
}

static bool member_allowed(const char *name, const char *const *allowed) {
    for (; *allowed; allowed++)
        if (strcmp(name, *allowed) == 0)
            return true;
    return false;
}

/* WRITE mode: the schema's additionalProperties:false for one object. */
static bool only_members(const json_t *obj, const char *const *allowed, const char *prefix, const char *what,
                         ss_json_error *err) {
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)obj, name, v) {
        (void)v;
        if (!member_allowed(name, allowed)) {
            char path[SS_JSON_ERROR_PATH_MAX];
            pointer(path, sizeof path, prefix, name);
            ss__state_error(err, path, "additionalProperties", "%s may not have a member \"%s\"", what, name);
            return false;
        }
    }
    return true;
}

/* Runs a collection's value schema; the failure path is re-rooted at `at`. */
static bool value_ok(const ss_json_schema *schema, const json_t *v, const char *at, ss_json_error *err) {
    ss_json_error e = {.index = -1};
    if (ss_json_schema_validate(schema, v, &e))
        return true;
    err->index = -1;
    snprintf(err->path, sizeof err->path, "%s%s", at, e.path);
    memcpy(err->rule, e.rule, sizeof err->rule);
    memcpy(err->message, e.message, sizeof err->message);
    return false;
}

static const char *const control_members[] = {"headers", NULL};
static const char *const control_headers[] = {"control", "offset", NULL};
static const char *const change_members[] = {"type", "key", "value", "old_value", "headers", NULL};
static const char *const change_headers[] = {"operation", "txid", "timestamp", NULL};

static bool check_control(const json_t *msg, const json_t *ctl, ss__state_mode mode, ss__state_view *view,
                          ss_json_error *err) {
    const char *c = json_string_value(ctl);
    if (c && strcmp(c, "snapshot-start") == 0)
        view->control = SS_STATE_SNAPSHOT_START;
    else if (c && strcmp(c, "snapshot-end") == 0)
        view->control = SS_STATE_SNAPSHOT_END;
    else if (c && strcmp(c, "reset") == 0)
        view->control = SS_STATE_RESET;
    else {
        ss__state_error(err, "/headers/control", "control",
                        "control must be snapshot-start, snapshot-end or reset");
        return false;
    }
    /* Streamsy rejects type/key on a control in both directions. */
    if (json_object_get(msg, "type") || json_object_get(msg, "key")) {
        ss__state_error(err, json_object_get(msg, "type") ? "/type" : "/key", "control",
                        "a control message has no type or key");
        return false;
    }
    const json_t *off = json_object_get(view->headers, "offset");
    if (mode == SS__STATE_WRITE) {
        if (!only_members(msg, control_members, "", "a control message", err) ||
            !only_members(view->headers, control_headers, "/headers", "control headers", err))
            return false;
        if (off && !plain_string(off)) {
            ss__state_error(err, "/headers/offset", "offset", "headers.offset must be a non-empty string");
            return false;
        }
    }
    view->offset = json_string_value(off);
    return true;
}

/* Everything but the collection lookup and value schemas. */
static bool check_change_shape(const json_t *msg, const json_t *op, ss__state_mode mode, ss__state_view *view,
                               ss_json_error *err) {
    const char *o = json_string_value(op);
    if (o && strcmp(o, "insert") == 0)
        view->operation = SS_STATE_INSERT;
    else if (o && strcmp(o, "update") == 0)
        view->operation = SS_STATE_UPDATE;
    else if (o && strcmp(o, "delete") == 0)
        view->operation = SS_STATE_DELETE;
    else {
        if (o && strcmp(o, "upsert") == 0)
            ss__state_error(err, "/headers/operation", "operation",
                            "upsert is not a State Protocol operation; use insert or update");
        else
            ss__state_error(err, "/headers/operation", "operation", "operation must be insert, update or delete");
        return false;
    }
    const json_t *type = json_object_get(msg, "type"), *key = json_object_get(msg, "key");
    if (!(view->type = plain_string(type))) {
        ss__state_error(err, "/type", "collection",
                        !type ? "missing type" : "type must be a non-empty string without U+0000");
        return false;
    }
    if (!(view->key = plain_string(key))) {
        ss__state_error(err, "/key", "key",
                        !key ? "missing key" : "key must be a non-empty string without U+0000");
        return false;
    }
    view->value = json_object_get(msg, "value");
    view->old_value = json_object_get(msg, "old_value");
    if (!view->value && view->operation != SS_STATE_DELETE) {
        ss__state_error(err, "/value", "value", "%s needs a value", o);
        return false;
    }
    const json_t *txid = json_object_get(view->headers, "txid"), *ts = json_object_get(view->headers, "timestamp");
    if (mode == SS__STATE_WRITE) {
        if (!only_members(msg, change_members, "", "a change message", err) ||
            !only_members(view->headers, change_headers, "/headers", "change headers", err))
            return false;
        if (txid && !plain_string(txid)) {
            ss__state_error(err, "/headers/txid", "txid", "headers.txid must be a non-empty string");
            return false;
        }
        int64_t ms;
        if (ts && !(json_is_string(ts) &&
                    ss_parse_rfc3339(ss_slice_of(json_string_value(ts), json_string_length(ts)), &ms))) {
            ss__state_error(err, "/headers/timestamp", "timestamp",
                            "headers.timestamp must be an RFC 3339 date-time");
            return false;
        }
    }
    view->txid = json_string_value(txid);
    view->timestamp = json_string_value(ts);
    view->offset = json_string_value(json_object_get(view->headers, "offset"));
    return true;
}

/* Primary key and value schemas of a change whose collection is known. */
static bool check_change_values(const ss_state_schema *s, const ss__state_view *view, ss_json_error *err) {
    const ss_state_collection_def *c = &s->colls[view->coll].def;
    bool carries_value = view->operation != SS_STATE_DELETE;
    if (carries_value && c->primary_key && json_is_object(view->value)) {
        const json_t *pk = json_object_get(view->value, c->primary_key);
        if (pk && (!json_is_string(pk) || strcmp(json_string_value(pk), view->key) != 0 ||
                   json_string_length(pk) != strlen(view->key))) {
            char path[SS_JSON_ERROR_PATH_MAX];
            pointer(path, sizeof path, "/value", c->primary_key);
            if (json_is_string(pk))
                ss__state_error(err, path, "primary-key", "key \"%s\" differs from the value's %s \"%s\"",
                                view->key, c->primary_key, json_string_value(pk));
            else
                ss__state_error(err, path, "primary-key", "primary key field %s must be a string", c->primary_key);
            return false;
        }
    }
    if (!c->value_schema)
        return true;
    /* Streamsy decodes value on insert/update and old_value whenever present. */
    return (!carries_value || value_ok(c->value_schema, view->value, "/value", err)) &&
           (!view->old_value || value_ok(c->value_schema, view->old_value, "/old_value", err));
}

ss__state_verdict ss__state_check(const ss_state_schema *s, const json_t *msg, ss__state_mode mode,
                                  ss__state_view *view, ss_json_error *err) {
    memset(view, 0, sizeof *view);
    view->coll = SS_STATE_NO_COLLECTION;
    if (!json_is_object(msg)) {
        ss__state_error(err, "", "message", "a State message must be a JSON object");
        return SS__STATE_INVALID;
    }
    view->headers = json_object_get(msg, "headers");
    if (!json_is_object(view->headers)) {
        ss__state_error(err, "/headers", "message", "headers must be an object");
        return SS__STATE_INVALID;
    }
    const json_t *op = json_object_get(view->headers, "operation"),
                 *ctl = json_object_get(view->headers, "control");
    if (!op == !ctl) {
        ss__state_error(err, "/headers", "message",
                        op ? "headers has both operation and control" : "headers needs an operation or a control");
        return SS__STATE_INVALID;
    }
    if (ctl) {
        view->kind = SS_STATE_CONTROL;
        return check_control(msg, ctl, mode, view, err) ? SS__STATE_VALID : SS__STATE_INVALID;
    }
    view->kind = SS_STATE_CHANGE;
    if (!check_change_shape(msg, op, mode, view, err))
        return SS__STATE_INVALID;
    view->coll = ss__state_find_type(s, ss_slice_cstr(view->type));
    if (view->coll == SS_STATE_NO_COLLECTION) {
        ss__state_error(err, "/type", "collection", "unknown type \"%s\"", view->type);
        return SS__STATE_UNKNOWN_TYPE;
    }
    return check_change_values(s, view, err) ? SS__STATE_VALID : SS__STATE_INVALID;
}

/* ---- public validation ---- */

ss_rc ss_state_validate_message(const ss_state_schema *s, const json_t *msg, ss_json_error *err) {
    ss__state_view view;
    return ss__state_check(s, msg, SS__STATE_WRITE, &view, err) == SS__STATE_VALID ? SS_OK : SS_BADARG;
}

ss_rc ss_state_validate_body(const ss_state_schema *s, ss_slice body, ss_json_error *err) {
    json_t *root;
    ss_rc rc = ss_json_doc_parse(body, &root, err);
    if (rc)
        return rc;
    /* One level of flattening, exactly as the protocol frames the body: the
     * elements of a top-level array are the messages. */
    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    for (size_t i = 0; i < n && rc == SS_OK; i++) {
        const json_t *msg = json_is_array(root) ? json_array_get(root, i) : root;
        ss__state_view view;
        if (ss__state_check(s, msg, SS__STATE_WRITE, &view, err) != SS__STATE_VALID) {
            err->index = (long)i;
            rc = SS_BADARG;
        }
    }
    json_decref(root);
    return rc;
}
