/* Building change and control messages in Streamsy's byte layout, and
 * appending a batch of them as one atomic append. Every message is built as
 * a jansson object in wire order, checked by the same code that validates
 * POST bodies (check.c), then written by emit.c. */
#include <string.h>

#include "internal.h"

/* jansson refuses invalid UTF-8 by returning NULL, as it does when out of
 * memory; checking first keeps the two apart. */
static bool utf8_ok(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += n + 1;
    }
    return true;
}

/* Sets obj[name] = a string copy of s, when s is not NULL. */
static ss_rc set_string(json_t *obj, const char *name, const char *s, const char *path, const char *rule,
                        ss_json_error *err) {
    if (!s)
        return SS_OK;
    if (!utf8_ok(s)) {
        ss__state_error(err, path, rule, "%s is not valid UTF-8", name);
        return SS_BADARG;
    }
    return json_object_set_new(obj, name, json_string(s)) ? SS_NOMEM : SS_OK;
}

static ss_rc set_value(json_t *obj, const char *name, const json_t *v) {
    return v && json_object_set(obj, name, (json_t *)v) ? SS_NOMEM : SS_OK; /* adds a reference; never mutates */
}

/* The key of an insert/update given without one: the value's primary-key field. */
static ss_rc derive_key(const ss_state_collection_def *c, const ss_state_input *in, const char **key,
                        ss_json_error *err) {
    const json_t *pk =
        c->primary_key && json_is_object(in->value) ? json_object_get(in->value, c->primary_key) : NULL;
    if (!pk) {
        if (c->primary_key)
            ss__state_error(err, "/key", "key", "missing key: no key given and the value has no \"%s\"",
                            c->primary_key);
        else
            ss__state_error(err, "/key", "key", "missing key: collection %s has no primary key field", c->name);
        return SS_BADARG;
    }
    if (!json_is_string(pk)) {
        ss__state_error(err, "/value", "primary-key", "primary key field %s must be a string", c->primary_key);
        return SS_BADARG;
    }
    *key = json_string_value(pk);
    return SS_OK;
}

static ss_rc build_change(const ss_state_schema *s, const ss_state_input *in, json_t *msg, ss_json_error *err) {
    size_t ci = ss__state_find_name(s, in->collection);
    if (ci == SS_STATE_NO_COLLECTION) {
        ss__state_error(err, "/type", "collection", "unknown collection \"%s\"",
                        in->collection ? in->collection : "");
        return SS_BADARG;
    }
    const ss_state_collection_def *c = &s->colls[ci].def;
    if (in->operation != SS_STATE_INSERT && in->operation != SS_STATE_UPDATE && in->operation != SS_STATE_DELETE) {
        ss__state_error(err, "/headers/operation", "operation", "operation must be insert, update or delete");
        return SS_BADARG;
    }
    bool is_delete = in->operation == SS_STATE_DELETE;
    if (is_delete && in->value) {
        ss__state_error(err, "/value", "value", "delete takes no value (old_value may carry the previous one)");
        return SS_BADARG;
    }
    if (!is_delete && !in->value) {
        ss__state_error(err, "/value", "value", "%s needs a value", ss_state_operation_name(in->operation));
        return SS_BADARG;
    }
    const char *key = in->key;
    ss_rc rc;
    if (!key && !is_delete && (rc = derive_key(c, in, &key, err)))
        return rc;
    json_t *headers = json_object();
    if (!headers)
        return SS_NOMEM;
    /* Streamsy's order: type, key, value, headers (user headers, then
     * operation), old_value. */
    if ((rc = set_string(msg, "type", c->type, "/type", "collection", err)) ||
        (rc = set_string(msg, "key", key, "/key", "key", err)) ||
        (rc = set_value(msg, "value", is_delete ? NULL : in->value)) ||
        (rc = set_string(headers, "txid", in->txid, "/headers/txid", "txid", err)) ||
        (rc = set_string(headers, "timestamp", in->timestamp, "/headers/timestamp", "timestamp", err)) ||
        (rc = set_string(headers, "operation", ss_state_operation_name(in->operation), "/headers/operation",
                         "operation", err)) ||
        (rc = json_object_set(msg, "headers", headers) ? SS_NOMEM : SS_OK) ||
        (rc = set_value(msg, "old_value", in->old_value))) {
        json_decref(headers);
        return rc;
    }
    json_decref(headers); /* msg holds it; a delete without a key is named by the shared check */
    return SS_OK;
}

static ss_rc build_control(const ss_state_input *in, json_t *msg, ss_json_error *err) {
    json_t *headers = json_object();
    if (!headers)
        return SS_NOMEM;
    ss_rc rc;
    if ((rc = set_string(headers, "offset", in->offset, "/headers/offset", "offset", err)) ||
        (rc = set_string(headers, "control", ss_state_control_name(in->control), "/headers/control", "control",
                         err)) ||
        (rc = json_object_set(msg, "headers", headers) ? SS_NOMEM : SS_OK)) {
        json_decref(headers);
        return rc;
    }
    json_decref(headers);
    return SS_OK;
}

/* Builds, checks and writes one message. SS_BADARG with *err (index -1). */
static ss_rc encode_one(const ss_state_schema *s, const ss_state_input *in, ss_buf *out, ss_json_error *err) {
    json_t *msg = json_object();
    if (!msg)
        return SS_NOMEM;
    ss_rc rc;
    if (in->kind == SS_STATE_CHANGE)
        rc = build_change(s, in, msg, err);
    else if (in->kind == SS_STATE_CONTROL)
        rc = build_control(in, msg, err);
    else { /* not an enumerator: caller-supplied garbage */
        ss__state_error(err, "/headers", "message", "input kind must be change or control");
        rc = SS_BADARG;
    }
    if (rc == SS_OK)
        rc = ss_state_validate_message(s, msg, err);
    if (rc == SS_OK)
        rc = ss_json_doc_write(msg, out);
    json_decref(msg);
    return rc;
}

ss_rc ss_state_encode(const ss_state_schema *s, const ss_state_input *in, size_t n, bool wrap, ss_buf *out,
                      ss_json_error *err) {
    if (n == 0 || !in)
        return SS_MISUSE;
    size_t mark = out->len;
    bool array = wrap || n > 1;
    ss_rc rc = array ? ss_buf_append(out, "[", 1) : SS_OK;
    for (size_t i = 0; i < n && rc == SS_OK; i++) {
        if (i)
            rc = ss_buf_append(out, ",", 1);
        if (rc == SS_OK && (rc = encode_one(s, &in[i], out, err)) == SS_BADARG)
            err->index = array ? (long)i : -1;
    }
    if (rc == SS_OK && array)
        rc = ss_buf_append(out, "]", 1);
    if (rc == SS_OK && out->len - mark > SS_STATE_MAX_BODY)
        rc = SS_TOOBIG;
    if (rc)
        ss_buf_truncate(out, mark);
    return rc;
}

ss_rc ss_state_append(const ss_state_schema *s, ss_protocol_stream *stream, const ss_state_input *in, size_t n,
                      const ss_append_options *base, ss_arena *a, ss_state_append_result *out) {
    memset(out, 0, sizeof *out);
    out->error.index = -1;
    ss_buf body;
    ss_buf_init(&body, SS_STATE_MAX_BODY);
    ss_rc rc = ss_state_encode(s, in, n, true, &body, &out->error);
    if (rc == SS_BADARG) {
        out->invalid = true;
        ss_buf_release(&body);
        return SS_OK;
    }
    if (rc == SS_OK) {
        ss_append_options o = base ? *base : (ss_append_options){0};
        o.data = ss_buf_slice(&body);
        if (!o.content_type.len)
            o.content_type = ss_slice_cstr(SS_STATE_CONTENT_TYPE);
        rc = ss_stream_append(stream, &o, a, &out->append); /* storage copies the bytes */
    }
    ss_buf_release(&body);
    return rc;
}
