/* PUT (create / fork), POST (append / close) and DELETE. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- PUT ------------------------------------------------------------------------ */

/* Location of a created stream: absolute from the request's scheme and Host
 * (validated by the dispatcher), or from X-Forwarded-Proto / -Host when the
 * handler trusts them and they are well-formed; relative without a Host. */
static void location(ss__req *q, ss_http_response *res) {
    const ss_http_request *r = q->http;
    ss_slice proto = r->scheme.len ? r->scheme : ss_slice_cstr("http"), host = r->authority;
    if (q->h->trust_forwarded) {
        ss_slice fp = ss__header(r, "X-Forwarded-Proto", NULL), fh = ss__header(r, "X-Forwarded-Host", NULL);
        if (ss_slice_eq_cstr(fp, "http") || ss_slice_eq_cstr(fp, "https"))
            proto = fp;
        if (fh.len && ss__valid_authority(fh))
            host = fh;
    }
    ss_buf b;
    ss_buf_init(&b, 4 * SS_HTTP_MAX_PATH_BYTES);
    if (host.len)
        ss_buf_printf(&b, "%.*s://%.*s", (int)proto.len, proto.p, (int)host.len, host.p);
    ss_buf_printf(&b, "%.*s", (int)r->path.len, r->path.p);
    if (r->query.len)
        ss_buf_printf(&b, "?%.*s", (int)r->query.len, r->query.p);
    (void)ss_http_response_header(res, "Location", ss_buf_slice(&b));
    ss_buf_release(&b);
}

/* Parses the PUT headers into create options; answers 400 itself when a
 * header is not even well-formed. The rules between them (TTL bound, TTL
 * with Expires-At, fork offsets without a source, offset validity) are the
 * protocol's (ss_protocol_create): one place, one message each. */
static bool parse_create(ss__req *q, ss_http_response *res, ss_create_options *o) {
    const ss_http_request *r = q->http;
    bool has;
    memset(o, 0, sizeof *o);
    o->content_type = ss__header(r, "Content-Type", NULL);
    ss_slice ttl = ss__header(r, "Stream-TTL", &has);
    if (has && !ss__parse_int_strict(ttl, &o->ttl_s)) {
        ss__respond_text(res, 400, "Invalid Stream-TTL format");
        return false;
    }
    o->has_ttl = has;
    o->expires_at = ss__header(r, "Stream-Expires-At", NULL);
    o->closed = ss__flag(r, "Stream-Closed");
    ss_slice from = ss__header(r, "Stream-Forked-From", NULL);
    if (from.len && ss__stream_id(q->h, from, &q->arena, &o->forked_from) != SS__ID_OK) {
        ss__respond_text(res, 400, "Invalid Stream-Forked-From");
        return false;
    }
    ss_slice fork_offset = ss__header(r, "Stream-Fork-Offset", &has);
    o->has_fork_offset = has && fork_offset.len;
    o->fork_offset = fork_offset;
    ss_slice sub = ss__header(r, "Stream-Fork-Sub-Offset", &has);
    if (has && !o->forked_from.len) { /* even "0": the header itself needs a source */
        ss__respond_text(res, 400, "Stream-Fork-Sub-Offset requires Stream-Forked-From");
        return false;
    }
    if (has && !ss__parse_int_strict(sub, &o->fork_sub_offset)) {
        ss__respond_text(res, 400, "Invalid Stream-Fork-Sub-Offset format");
        return false;
    }
    o->initial_data = r->body;
    return ss__validate_body(q, o->content_type, r->body, res);
}

void ss__handle_put(ss__req *q, ss_http_response *res) {
    ss_create_options o;
    if (!parse_create(q, res, &o))
        return;
    ss_create_result cr;
    ss_rc rc = ss_protocol_create(q->h->p, q->id, &o, &q->arena, &cr);
    if (rc) {
        ss__respond_rc(res, rc);
        return;
    }
    switch (cr.status) {
    case SS_CREATE_CREATED:
    case SS_CREATE_EXISTS:
        ss__respond(res, cr.status == SS_CREATE_CREATED ? 201 : 200);
        if (cr.status == SS_CREATE_CREATED)
            location(q, res);
        (void)ss_http_response_header(res, "Content-Type", cr.content_type);
        ss__header_offset(res, "Stream-Next-Offset", &cr.next_offset);
        if (cr.closed)
            ss__header_cstr(res, "Stream-Closed", "true");
        ss_stream_release(cr.stream);
        return;
    case SS_CREATE_CONFLICT:
        ss__respond_text(res, 409, cr.message);
        return;
    case SS_CREATE_NOT_FOUND:
        ss__respond_text(res, 404, cr.message);
        return;
    case SS_CREATE_BAD_REQUEST:
        ss__respond_text(res, 400, cr.message);
        return;
    case SS_CREATE_NOT_SUPPORTED:
        ss__respond_text(res, 400, cr.message);
        ss__header_cstr(res, "Stream-Not-Supported", cr.feature);
        return;
    }
}

/* ---- POST ------------------------------------------------------------------------- */

/* Producer-Id/Epoch/Seq: all or none; answers 400 itself on error. */
static bool parse_producer(ss__req *q, ss_http_response *res, ss_append_options *o) {
    bool has_id, has_epoch, has_seq;
    ss_slice id = ss__header(q->http, "Producer-Id", &has_id);
    ss_slice epoch = ss__header(q->http, "Producer-Epoch", &has_epoch);
    ss_slice seq = ss__header(q->http, "Producer-Seq", &has_seq);
    if (!has_id && !has_epoch && !has_seq)
        return true;
    if (!has_id || !has_epoch || !has_seq || !id.len || !ss__parse_int_digits(epoch, &o->producer_epoch) ||
        !ss__parse_int_digits(seq, &o->producer_seq)) {
        ss__respond_text(res, 400, "Invalid producer headers");
        return false;
    }
    o->has_producer = true;
    o->producer_id = id;
    return true;
}

static void append_ok_headers(ss_http_response *res, const ss_append_result *ar) {
    ss__header_offset(res, "Stream-Next-Offset", &ar->offset);
    if (ar->closed)
        ss__header_cstr(res, "Stream-Closed", "true");
    if (ar->has_producer) {
        ss__header_u64(res, "Producer-Epoch", ar->producer_epoch);
        ss__header_u64(res, "Producer-Seq", ar->producer_seq);
    }
}

static void respond_append(ss__req *q, ss_http_response *res, const ss_append_result *ar) {
    switch (ar->status) {
    case SS_APPEND_APPENDED:
        ss__respond(res, ar->has_producer && q->http->body.len ? 200 : 204);
        append_ok_headers(res, ar);
        return;
    case SS_APPEND_DUPLICATE:
        ss__respond(res, 204);
        append_ok_headers(res, ar);
        return;
    case SS_APPEND_NOT_FOUND:
        ss__respond_text(res, 404, "Stream not found");
        return;
    case SS_APPEND_GONE:
        ss__respond_text(res, 410, "Stream is soft-deleted");
        return;
    case SS_APPEND_CONFLICT:
        switch (ar->conflict) {
        case SS_APPEND_CONFLICT_CLOSED:
            ss__respond_text(res, 409, "Stream is closed");
            ss__header_cstr(res, "Stream-Closed", "true");
            ss__header_offset(res, "Stream-Next-Offset", &ar->offset);
            return;
        case SS_APPEND_CONFLICT_EXPECTED_OFFSET:
            ss__respond_text(res, 409, "Expected offset mismatch");
            ss__header_offset(res, "Stream-Next-Offset", &ar->offset);
            return;
        case SS_APPEND_CONFLICT_CONTENT_TYPE:
            ss__respond_text(res, 409, "Content-Type mismatch");
            return;
        case SS_APPEND_CONFLICT_SEQUENCE:
            ss__respond_text(res, 409, "Sequence conflict");
            return;
        case SS_APPEND_CONFLICT_NONE:
            break;
        }
        ss__respond_text(res, 500, "Internal server error");
        return;
    case SS_APPEND_BUSY:
        ss__respond_text(res, 503, "Stream busy, retry later");
        ss__header_cstr(res, "Retry-After", "1");
        return;
    case SS_APPEND_STALE_EPOCH:
        ss__respond_text(res, 403, "Stale producer epoch");
        ss__header_u64(res, "Producer-Epoch", ar->current_epoch);
        return;
    case SS_APPEND_PRODUCER_GAP:
        ss__respond_text(res, 409, "Producer sequence gap");
        ss__header_u64(res, "Producer-Expected-Seq", ar->expected_seq);
        ss__header_u64(res, "Producer-Received-Seq", ar->received_seq);
        return;
    case SS_APPEND_INVALID_EPOCH_SEQ:
        ss__respond_text(res, 400, "New epoch must start at seq=0");
        return;
    case SS_APPEND_BAD_REQUEST:
        ss__respond_text(res, 400, ar->message);
        return;
    case SS_APPEND_TOO_MANY_PRODUCERS:
        ss__respond_text(res, 429, "Too many producers on this stream");
        return;
    }
}

void ss__handle_post(ss__req *q, ss_http_response *res) {
    const ss_http_request *r = q->http;
    ss_append_options o = {0};
    if (!parse_producer(q, res, &o))
        return;
    bool has;
    ss_slice expected = ss__header(r, "Stream-Expected-Offset", &has);
    if (has) {
        if (!ss_protocol_is_valid_offset(q->h->p, expected) || ss_offset_set(&o.expected_offset, expected)) {
            ss__respond_text(res, 400, "Invalid expected offset");
            return;
        }
        o.has_expected_offset = true;
    }
    o.close = ss__flag(r, "Stream-Closed");
    o.data = r->body;
    if (!o.data.len && !o.close) {
        ss__respond_text(res, 400, "Empty body not allowed");
        return;
    }
    o.content_type = ss__header(r, "Content-Type", NULL);
    if (o.data.len && !o.content_type.len) {
        ss__respond_text(res, 400, "Content-Type required");
        return;
    }
    if (!o.close || o.data.len) {
        if (!ss__validate_body(q, o.content_type, o.data, res))
            return;
    }
    ss_slice seq = ss__header(r, "Stream-Seq", NULL);
    if (seq.len) {
        o.has_seq = true;
        o.seq = seq;
    }
    ss_protocol_stream *s = ss__open_existing(q, res);
    if (!s)
        return;
    ss_append_result ar;
    ss_rc rc = ss_stream_append(s, &o, &q->arena, &ar);
    if (rc)
        ss__respond_rc(res, rc);
    else
        respond_append(q, res, &ar);
    ss_stream_release(s);
}

/* ---- DELETE ------------------------------------------------------------------------ */

void ss__handle_delete(ss__req *q, ss_http_response *res) {
    ss_protocol_stream *s = ss__open_existing(q, res);
    if (!s)
        return;
    ss_presence st;
    ss_rc rc = ss_stream_delete(s, &st);
    if (rc)
        ss__respond_rc(res, rc);
    else if (!ss__respond_absent(res, st))
        ss__respond(res, 204);
    ss_stream_release(s);
}
