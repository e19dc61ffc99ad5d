/* The JSON layer: typed application/json streams over the protocol factory
 * (include/streamsy/json.h, spec/STREAMSY.md §16).
 *
 * Writes: encode every value through the codec, check its depth, serialise
 * all of them into ONE array body "[e1,...,en]" and hand it to a single
 * ss_stream_append / ss_protocol_create, whose framing splits exactly one
 * level: element i becomes message i. Nothing reaches the protocol until
 * every value has been accepted.
 *
 * Reads: the protocol's result (in a call-local arena) is parsed and decoded
 * message by message into a result that owns its json_t values; the arena
 * is released before returning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "streamsy/alloc.h"
#include "streamsy/json.h"
#include "streamsy/json_doc.h"

_Static_assert(SS_JSON_MAX_VALUE_DEPTH + 1 == SS_JSON_MAX_DEPTH,
               "a value plus its wrapping array fits the scanner");

struct ss_json_protocol {
    ss_protocol *p;      /* borrowed */
    ss_json_codec codec; /* ctx borrowed */
};

struct ss_json_stream {
    ss_json_protocol *jp;  /* borrowed */
    ss_protocol_stream *s; /* owned */
};

/* ---- protocol and streams ------------------------------------------------------ */

ss_rc ss_json_protocol_new(ss_protocol *p, const ss_json_codec *codec, ss_json_protocol **out) {
    if (!p || (codec && (!codec->encode || !codec->decode)))
        return SS_MISUSE;
    ss_json_protocol *jp = ss_calloc(1, sizeof *jp);
    if (!jp)
        return SS_NOMEM;
    jp->p = p;
    jp->codec = codec ? *codec : ss_json_identity_codec;
    *out = jp;
    return SS_OK;
}

void ss_json_protocol_free(ss_json_protocol *jp) { ss_free(jp); }

ss_protocol *ss_json_protocol_base(const ss_json_protocol *jp) { return jp->p; }

ss_rc ss_json_protocol_wrap(ss_json_protocol *jp, ss_protocol_stream *s, ss_json_stream **out) {
    if (!s)
        return SS_MISUSE;
    ss_json_stream *js = ss_malloc(sizeof *js);
    if (!js)
        return SS_NOMEM;
    js->jp = jp;
    js->s = s;
    *out = js;
    return SS_OK;
}

void ss_json_stream_release(ss_json_stream *s) {
    if (!s)
        return;
    ss_stream_release(s->s);
    ss_free(s);
}

ss_slice ss_json_stream_id(const ss_json_stream *s) { return ss_stream_id(s->s); }

ss_protocol_stream *ss_json_stream_base(ss_json_stream *s) { return s->s; }

/* ---- encoding ------------------------------------------------------------------- */

/* True when `v` nests more than `budget` containers (cycles included: they
 * nest forever). A scalar nests none. */
static bool too_deep(const json_t *v, size_t budget) {
    if (json_is_array(v)) {
        if (budget == 0)
            return true;
        for (size_t i = 0, n = json_array_size(v); i < n; i++)
            if (too_deep(json_array_get(v, i), budget - 1))
                return true;
    } else if (json_is_object(v)) {
        if (budget == 0)
            return true;
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member) {
            if (too_deep(member, budget - 1))
                return true;
        }
    }
    return false;
}

static void error_set(ss_json_error *err, long index, const char *rule, const char *message) {
    err->index = index;
    err->path[0] = '\0';
    snprintf(err->rule, sizeof err->rule, "%s", rule);
    snprintf(err->message, sizeof err->message, "%s", message);
}

/* A codec's verdict on a value it rejected: keep what it said, fill gaps. */
static void error_from_codec(ss_json_error *err, long index, const char *what) {
    err->index = index;
    if (!err->rule[0])
        snprintf(err->rule, sizeof err->rule, "codec");
    if (!err->message[0])
        snprintf(err->message, sizeof err->message, "value rejected by the codec's %s", what);
}

/* Appends the encoding of values[0..n) (none NULL) to `b` as "[e1,...,en]"
 * (nothing for n == 0). Returns SS_OK, or SS_BADARG with `err` (index = the value's
 * index, or -1 when `single`) when a value is rejected, or another code. */
static ss_rc encode_body(const ss_json_codec *c, const json_t *const *values, size_t n, bool single, ss_buf *b,
                         ss_json_error *err) {
    if (n == 0)
        return SS_OK;
    ss_rc rc = ss_buf_append(b, "[", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        long index = single ? -1 : (long)i;
        json_t *enc = NULL;
        memset(err, 0, sizeof *err);
        rc = c->encode(c->ctx, values[i], &enc, err);
        if (rc == SS_BADARG || rc == SS_CORRUPT) { /* *out is not ours on failure */
            error_from_codec(err, index, "encode");
            return SS_BADARG;
        }
        if (rc)
            return rc;
        if (!enc)
            return SS_MISUSE; /* SS_OK without a value breaks the codec contract */
        if (too_deep(enc, SS_JSON_MAX_VALUE_DEPTH)) {
            json_decref(enc);
            error_set(err, index, "depth", "value nests deeper than the JSON depth limit");
            return SS_BADARG;
        }
        if (i > 0 && (rc = ss_buf_append(b, ",", 1))) {
            json_decref(enc);
            return rc;
        }
        rc = ss_json_doc_write(enc, b);
        json_decref(enc);
        if (rc == SS_BADARG) /* a string that is not UTF-8, or a cycle (too_deep caught real depth) */
            error_set(err, index, "json", "value cannot be serialised as JSON");
        if (rc)
            return rc;
    }
    return rc ? rc : ss_buf_append(b, "]", 1);
}

/* ---- create / get ---------------------------------------------------------------- */

ss_rc ss_json_protocol_create(ss_json_protocol *jp, ss_slice id, const ss_json_create_options *o,
                              ss_json_create_result *out) {
    static const ss_json_create_options none;
    if (!o)
        o = &none;
    if (o->n_initial && !o->initial_values)
        return SS_BADARG;
    for (size_t i = 0; i < o->n_initial; i++)
        if (!o->initial_values[i])
            return SS_BADARG;
    ss_buf body;
    ss_buf_init(&body, SS_JSON_MAX_APPEND_BYTES);
    ss_json_create_result r;
    memset(&r, 0, sizeof r);
    r.error.index = -1;
    ss_rc rc =
        encode_body(&jp->codec, (const json_t *const *)o->initial_values, o->n_initial, false, &body, &r.error);
    if (rc == SS_BADARG) {
        ss_buf_release(&body);
        r.status = SS_JSON_CREATE_INVALID;
        *out = r;
        return SS_OK;
    }
    if (rc) {
        ss_buf_release(&body);
        return rc;
    }
    ss_create_options co = {
        .content_type = ss_slice_cstr(SS_JSON_CONTENT_TYPE),
        .has_ttl = o->has_ttl,
        .ttl_s = o->ttl_s,
        .expires_at = o->expires_at,
        .initial_data = ss_buf_slice(&body),
        .closed = o->closed,
        .forked_from = o->forked_from,
        .has_fork_offset = o->has_fork_offset,
        .fork_offset = o->fork_offset,
        .fork_sub_offset = o->fork_sub_offset,
    };
    ss_arena a;
    ss_arena_init(&a);
    ss_create_result cr;
    rc = ss_protocol_create(jp->p, id, &co, &a, &cr);
    ss_buf_release(&body);
    ss_arena_release(&a); /* cr's strings die here; only static ones are kept */
    if (rc)
        return rc;
    if (cr.stream && (rc = ss_json_protocol_wrap(jp, cr.stream, &r.stream))) {
        ss_stream_release(cr.stream);
        return rc;
    }
    switch (cr.status) {
    case SS_CREATE_CREATED:
        r.status = SS_JSON_CREATE_CREATED;
        break;
    case SS_CREATE_EXISTS:
        r.status = SS_JSON_CREATE_EXISTS;
        break;
    case SS_CREATE_CONFLICT:
        r.status = SS_JSON_CREATE_CONFLICT;
        break;
    case SS_CREATE_NOT_FOUND:
        r.status = SS_JSON_CREATE_NOT_FOUND;
        break;
    case SS_CREATE_BAD_REQUEST:
        r.status = SS_JSON_CREATE_BAD_REQUEST;
        break;
    case SS_CREATE_NOT_SUPPORTED:
        r.status = SS_JSON_CREATE_NOT_SUPPORTED;
        break;
    }
    r.conflict = cr.conflict;
    r.next_offset = cr.next_offset;
    r.closed = cr.closed;
    r.message = cr.message;
    r.feature = cr.feature;
    *out = r;
    return SS_OK;
}

ss_rc ss_json_protocol_get(ss_json_protocol *jp, ss_slice id, ss_json_get_result *out) {
    ss_get_result g;
    ss_rc rc = ss_protocol_get(jp->p, id, &g);
    if (rc)
        return rc;
    ss_json_get_result r;
    memset(&r, 0, sizeof r);
    switch (g.status) {
    case SS_PRESENT:
        break;
    case SS_NOT_FOUND:
        r.status = SS_JSON_GET_NOT_FOUND;
        *out = r;
        return SS_OK;
    case SS_GONE:
        r.status = SS_JSON_GET_GONE;
        *out = r;
        return SS_OK;
    }
    ss_arena a;
    ss_arena_init(&a);
    ss_meta_result m;
    if ((rc = ss_stream_metadata(g.stream, &a, &m)))
        goto fail;
    switch (m.status) {
    case SS_PRESENT:
        if (ss_content_type_is_json(m.content_type)) {
            if ((rc = ss_json_protocol_wrap(jp, g.stream, &r.stream)))
                goto fail;
            r.status = SS_JSON_GET_OK;
        } else {
            r.status = SS_JSON_GET_CONTENT_TYPE_CONFLICT;
            size_t len =
                m.content_type.len < sizeof r.content_type - 1 ? m.content_type.len : sizeof r.content_type - 1;
            memcpy(r.content_type, m.content_type.p, len);
            r.content_type[len] = '\0';
            ss_stream_release(g.stream);
        }
        break;
    case SS_NOT_FOUND:
        r.status = SS_JSON_GET_NOT_FOUND;
        ss_stream_release(g.stream);
        break;
    case SS_GONE:
        r.status = SS_JSON_GET_GONE;
        ss_stream_release(g.stream);
        break;
    }
    ss_arena_release(&a);
    *out = r;
    return SS_OK;
fail:
    ss_arena_release(&a);
    ss_stream_release(g.stream);
    return rc;
}

/* ---- append ------------------------------------------------------------------------ */

static ss_rc append_values(ss_json_stream *s, const json_t *const *values, size_t n, bool single, bool force_close,
                           const ss_json_append_options *o, ss_json_append_result *out, ss_offset *offsets) {
    static const ss_json_append_options none;
    if (!o)
        o = &none;
    if (n > SS_MAX_MESSAGES_PER_APPEND)
        return SS_TOOBIG;
    ss_json_append_result r;
    memset(&r, 0, sizeof r);
    r.error.index = -1;
    ss_buf body;
    ss_buf_init(&body, SS_JSON_MAX_APPEND_BYTES);
    ss_rc rc = encode_body(&s->jp->codec, values, n, single, &body, &r.error);
    if (rc == SS_BADARG) {
        ss_buf_release(&body);
        r.invalid = true;
        *out = r;
        return SS_OK;
    }
    if (rc) {
        ss_buf_release(&body);
        return rc;
    }
    ss_arena a;
    ss_arena_init(&a);
    ss_append_options ao = *o;
    ao.data = ss_buf_slice(&body);
    ao.content_type = ss_slice_cstr(SS_JSON_CONTENT_TYPE);
    ao.close = o->close || force_close;
    if ((rc = ss_stream_append(s->s, &ao, &a, &r.append)))
        goto done;
    if (offsets && r.append.status == SS_APPEND_APPENDED) {
        if (r.append.n_msgs != n) { /* one message per value, by the framing rule */
            rc = SS_MISUSE;
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            offsets[i] = r.append.msgs[i].offset;
    }
    r.append.msgs = NULL; /* they live in this call's arena */
    r.append.n_msgs = 0;
    *out = r;
done:
    ss_arena_release(&a);
    ss_buf_release(&body);
    return rc;
}

ss_rc ss_json_stream_append(ss_json_stream *s, const json_t *value, const ss_json_append_options *o,
                            ss_json_append_result *out) {
    if (!value)
        return SS_BADARG;
    return append_values(s, &value, 1, true, false, o, out, NULL);
}

ss_rc ss_json_stream_append_many(ss_json_stream *s, json_t *const *values, size_t n,
                                 const ss_json_append_options *o, ss_json_append_result *out, ss_offset *offsets) {
    if (n && !values)
        return SS_BADARG;
    for (size_t i = 0; i < n; i++)
        if (!values[i])
            return SS_BADARG;
    return append_values(s, (const json_t *const *)values, n, false, false, o, out, offsets);
}

ss_rc ss_json_stream_close(ss_json_stream *s, const ss_json_append_options *o, ss_json_append_result *out) {
    return append_values(s, NULL, 0, false, true, o, out, NULL);
}

/* ---- reads ------------------------------------------------------------------------- */

/* Decoded messages and, when one failed, why. */
typedef struct decoded {
    ss_json_message *msgs;
    size_t n;
    bool failed;
    bool parse_failed; /* invalid JSON rather than a codec rejection */
    ss_offset error_offset;
    ss_json_error error;
} decoded;

static void messages_free(ss_json_message *msgs, size_t n) {
    for (size_t i = 0; i < n; i++)
        json_decref(msgs[i].value);
    ss_free(msgs);
}

/* Parses and decodes msgs[0..n) in order, stopping at the first failure.
 * Returns SS_OK (check d->failed) or a code from the codec / allocator; on
 * a non-OK return d holds nothing. */
static ss_rc decode_messages(const ss_json_codec *c, const ss_message *msgs, size_t n, decoded *d) {
    memset(d, 0, sizeof *d);
    d->error.index = -1;
    if (n == 0)
        return SS_OK;
    d->msgs = ss_calloc(n, sizeof *d->msgs);
    if (!d->msgs)
        return SS_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *parsed = NULL;
        ss_json_error je = {.index = -1};
        ss_rc prc = ss_json_doc_parse(msgs[i].data, &parsed, &je);
        if (prc == SS_NOMEM) {
            messages_free(d->msgs, d->n);
            memset(d, 0, sizeof *d);
            return SS_NOMEM;
        }
        if (prc) {
            char why[SS_JSON_ERROR_MESSAGE_MAX];
            snprintf(why, sizeof why, "stored message is not valid JSON: %.200s", je.message);
            error_set(&d->error, (long)i, "json", why);
            d->failed = d->parse_failed = true;
            d->error_offset = msgs[i].offset;
            return SS_OK;
        }
        json_t *value = NULL;
        ss_json_error err;
        memset(&err, 0, sizeof err);
        ss_rc rc = c->decode(c->ctx, parsed, &value, &err);
        json_decref(parsed);
        if (rc == SS_BADARG || rc == SS_CORRUPT) {
            error_from_codec(&err, (long)i, "decode");
            d->error = err;
            d->failed = true;
            d->error_offset = msgs[i].offset;
            return SS_OK;
        }
        if (rc || !value) {
            messages_free(d->msgs, d->n);
            memset(d, 0, sizeof *d);
            return rc ? rc : SS_MISUSE;
        }
        d->msgs[d->n++] = (ss_json_message){.offset = msgs[i].offset, .ts_ms = msgs[i].ts_ms, .value = value};
    }
    return SS_OK;
}

/* Where a failed read resumes: after the last good message, else where the
 * read started. */
static ss_offset resume_offset(const decoded *d, const ss_offset *start) {
    return d->n ? d->msgs[d->n - 1].offset : *start;
}

static ss_offset start_offset(const ss_json_stream *s, bool has_offset, const ss_offset *offset) {
    return has_offset ? *offset : ss_protocol_start_offset(s->jp->p);
}

/* A catch-up read (one, or to the tail when `to_tail`), parsed and decoded. */
static ss_rc read_typed(ss_json_stream *s, const ss_read_options *o, bool to_tail, size_t max_bytes,
                        ss_json_read_result *out) {
    static const ss_read_options from_start;
    if (!o)
        o = &from_start;
    ss_arena a;
    ss_arena_init(&a);
    ss_read_result rr;
    ss_rc rc = to_tail ? ss_stream_read_to_tail(s->s, o, max_bytes, &a, &rr) : ss_stream_read(s->s, o, &a, &rr);
    if (rc) {
        ss_arena_release(&a);
        return rc;
    }
    ss_json_read_result r;
    memset(&r, 0, sizeof r);
    r.error.index = -1;
    switch (rr.status) {
    case SS_PRESENT:
        r.status = SS_JSON_READ_OK;
        break;
    case SS_NOT_FOUND:
        r.status = SS_JSON_READ_NOT_FOUND;
        break;
    case SS_GONE:
        r.status = SS_JSON_READ_GONE;
        break;
    }
    r.next_offset = rr.next_offset;
    r.up_to_date = rr.up_to_date;
    r.closed = rr.closed;
    decoded d;
    rc = decode_messages(&s->jp->codec, rr.msgs, rr.n, &d);
    ss_arena_release(&a);
    if (rc)
        return rc;
    r.msgs = d.msgs;
    r.n = d.n;
    if (d.failed) {
        ss_offset start = start_offset(s, o->has_offset, &o->offset);
        r.status = d.parse_failed ? SS_JSON_READ_INVALID_JSON : SS_JSON_READ_DECODE_FAILED;
        r.next_offset = resume_offset(&d, &start);
        r.up_to_date = r.closed = false;
        r.error_offset = d.error_offset;
        r.error = d.error;
    }
    *out = r;
    return SS_OK;
}

ss_rc ss_json_stream_read(ss_json_stream *s, const ss_read_options *o, ss_json_read_result *out) {
    return read_typed(s, o, false, 0, out);
}

ss_rc ss_json_stream_read_to_tail(ss_json_stream *s, const ss_read_options *o, size_t max_bytes,
                                  ss_json_read_result *out) {
    return read_typed(s, o, true, max_bytes, out);
}

void ss_json_read_result_release(ss_json_read_result *r) {
    messages_free(r->msgs, r->n);
    memset(r, 0, sizeof *r);
}

/* Turns a protocol live result (in `a`, released here) into a typed one. */
static ss_rc live_from(ss_json_stream *s, const ss_live_result *lr, const ss_offset *start, ss_arena *a,
                       ss_json_live_result *out) {
    ss_json_live_result r;
    memset(&r, 0, sizeof r);
    r.error.index = -1;
    switch (lr->status) {
    case SS_LIVE_OK:
        r.status = SS_JSON_LIVE_OK;
        break;
    case SS_LIVE_TIMEOUT:
        r.status = SS_JSON_LIVE_TIMEOUT;
        break;
    case SS_LIVE_NOT_FOUND:
        r.status = SS_JSON_LIVE_NOT_FOUND;
        break;
    case SS_LIVE_GONE:
        r.status = SS_JSON_LIVE_GONE;
        break;
    case SS_LIVE_WAIT:
        r.status = SS_JSON_LIVE_WAIT;
        break;
    }
    r.next_offset = lr->next_offset;
    r.up_to_date = lr->up_to_date;
    r.closed = lr->closed;
    memcpy(r.cursor, lr->cursor, sizeof r.cursor);
    decoded d;
    ss_rc rc = decode_messages(&s->jp->codec, lr->msgs, lr->n, &d);
    ss_arena_release(a);
    if (rc)
        return rc;
    r.msgs = d.msgs;
    r.n = d.n;
    if (d.failed) {
        r.status = d.parse_failed ? SS_JSON_LIVE_INVALID_JSON : SS_JSON_LIVE_DECODE_FAILED;
        r.next_offset = resume_offset(&d, start);
        r.up_to_date = r.closed = false;
        r.error_offset = d.error_offset;
        r.error = d.error;
    }
    *out = r;
    return SS_OK;
}

ss_rc ss_json_stream_read_live_begin(ss_json_stream *s, const ss_live_options *o, ss_json_live_result *out) {
    ss_arena a;
    ss_arena_init(&a);
    ss_live_result lr;
    ss_rc rc = ss_stream_read_live_begin(s->s, o, &a, &lr);
    if (rc) {
        ss_arena_release(&a);
        return rc;
    }
    ss_offset start = start_offset(s, o->has_offset, &o->offset);
    return live_from(s, &lr, &start, &a, out);
}

ss_rc ss_json_stream_read_live_finish(ss_json_stream *s, const ss_offset *from, ss_slice cursor, bool timed_out,
                                      ss_json_live_result *out) {
    ss_arena a;
    ss_arena_init(&a);
    ss_live_result lr;
    ss_rc rc = ss_stream_read_live_finish(s->s, from, cursor, timed_out, &a, &lr);
    if (rc) {
        ss_arena_release(&a);
        return rc;
    }
    return live_from(s, &lr, from, &a, out);
}

void ss_json_live_result_release(ss_json_live_result *r) {
    messages_free(r->msgs, r->n);
    memset(r, 0, sizeof *r);
}
