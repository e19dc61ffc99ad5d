/* GET (catch-up, offset=now; live modes go to live.c) and HEAD. */
#include <string.h>

#include "internal.h"

#define CACHE_DATA "public, max-age=60, stale-while-revalidate=300"

/* The parsed read position: -1/absent, now, or an offset. */
typedef struct read_pos {
    bool has_param; /* the query had an offset parameter */
    ss_slice param; /* decoded value, for ETags */
    bool now;
    bool has_offset;
    ss_offset offset;
} read_pos;

static bool parse_offset(ss__req *q, ss_http_response *res, read_pos *pos) {
    memset(pos, 0, sizeof *pos);
    size_t count;
    ss_rc rc = ss__query(q->http, "offset", &q->arena, &pos->param, &count);
    if (rc) {
        ss__respond_rc(res, rc);
        return false;
    }
    if (count > 1) {
        ss__respond_text(res, 400, "Multiple offset parameters");
        return false;
    }
    pos->has_param = count == 1;
    if (!pos->has_param || ss_slice_eq_cstr(pos->param, "-1"))
        return true;
    if (ss_slice_eq_cstr(pos->param, "now")) {
        pos->now = true;
        return true;
    }
    if (!ss_protocol_is_valid_offset(q->h->p, pos->param) || ss_offset_set(&pos->offset, pos->param)) {
        ss__respond_text(res, 400, "Invalid offset format");
        return false;
    }
    pos->has_offset = true;
    return true;
}

static void respond_now(ss_protocol_stream *s, ss__req *q, ss_http_response *res) {
    ss_meta_result m;
    ss_read_result rr;
    if (ss__respond_meta_failure(res, ss_stream_metadata(s, &q->arena, &m), &m))
        return;
    /* A read from the tail returns nothing but slides the TTL like any read. */
    ss_read_options ro = {.has_offset = true, .offset = m.next_offset};
    ss_rc rc = ss_stream_read(s, &ro, &q->arena, &rr);
    if (rc) {
        ss__respond_rc(res, rc);
        return;
    }
    if (ss__respond_absent(res, rr.status))
        return;
    ss__respond(res, 200);
    (void)ss_http_response_header(res, "Content-Type", m.content_type);
    ss__header_offset(res, "Stream-Next-Offset", &rr.next_offset);
    ss__header_cstr(res, "Stream-Up-To-Date", "true");
    ss__header_cstr(res, "Cache-Control", "no-store");
    if (rr.closed)
        ss__header_cstr(res, "Stream-Closed", "true");
    if (ss_content_type_is_json(m.content_type))
        ss_buf_append_cstr(&res->body, "[]");
}

static void respond_catch_up(ss_protocol_stream *s, ss__req *q, const read_pos *pos, ss_slice ct,
                             ss_http_response *res) {
    ss_read_options ro = {.has_offset = pos->has_offset, .offset = pos->offset};
    ss_read_result rr;
    /* Into the response's arena: the body can then be the read's bytes
     * themselves (ss__encode_parts), sent without a copy. */
    ss_rc rc = ss_stream_read(s, &ro, &res->arena, &rr);
    if (rc) {
        ss__respond_rc(res, rc);
        return;
    }
    if (ss__respond_absent(res, rr.status))
        return;
    ss_buf etag;
    ss_buf_init(&etag, SS__ETAG_MAX);
    ss__etag(q->http->path, pos->has_param ? pos->param : ss_slice_cstr("-1"), &rr.next_offset, rr.closed, &etag);
    const char *cache = rr.n ? CACHE_DATA : "no-store";
    ss__header_offset(res, "Stream-Next-Offset", &rr.next_offset);
    if (!etag.err) /* out of memory: no ETag rather than a wrong one */
        (void)ss_http_response_header(res, "ETag", ss_buf_slice(&etag));
    ss__header_cstr(res, "Cache-Control", cache);
    if (rr.closed)
        ss__header_cstr(res, "Stream-Closed", "true");
    if (rr.up_to_date)
        ss__header_cstr(res, "Stream-Up-To-Date", "true");
    bool has_inm;
    ss_slice inm = ss__header(q->http, "If-None-Match", &has_inm);
    if (has_inm && !etag.err && (ss_slice_eq(inm, ss_buf_slice(&etag)) || ss_slice_eq_cstr(inm, "*"))) {
        ss__respond(res, 304);
    } else {
        ss__respond(res, 200);
        (void)ss_http_response_header(res, "Content-Type", ct);
        if (!(q->http->accepts_parts && ss__encode_parts(res, ct, rr.msgs, rr.n)) &&
            (rc = ss__encode_body(&res->body, ct, rr.msgs, rr.n)))
            ss__respond_rc(res, rc);
    }
    ss_buf_release(&etag);
}

void ss__handle_get(ss__req *q, ss_http_response *res) {
    ss_protocol_stream *s = ss__open_existing(q, res);
    if (!s)
        return;
    read_pos pos;
    ss_slice live = SS_SLICE_NULL, cursor = SS_SLICE_NULL;
    size_t n;
    ss_meta_result m;
    if (!parse_offset(q, res, &pos))
        goto done;
    ss_rc rc;
    if ((rc = ss__query(q->http, "live", &q->arena, &live, &n)) ||
        (rc = ss__query(q->http, "cursor", &q->arena, &cursor, &n))) {
        ss__respond_rc(res, rc);
        goto done;
    }
    if (ss__respond_meta_failure(res, ss_stream_metadata(s, &q->arena, &m), &m))
        goto done;
    bool long_poll = ss_slice_eq_cstr(live, "long-poll"), sse = ss_slice_eq_cstr(live, "sse");
    if (!long_poll && !sse) {
        if (pos.now)
            respond_now(s, q, res);
        else
            respond_catch_up(s, q, &pos, m.content_type, res);
        goto done;
    }
    if (!pos.has_param) {
        ss__respond_text(res, 400, "offset required for live modes");
        goto done;
    }
    if (pos.now) { /* live from now: start at the current tail */
        pos.has_offset = true;
        pos.offset = m.next_offset;
    }
    if (long_poll)
        ss__long_poll(q, s, &pos.offset, pos.has_offset, pos.param, cursor, m.content_type, res);
    else
        ss__sse(q, s, &pos.offset, pos.has_offset, cursor, m.content_type, res);
    return; /* the live code owns `s` now */
done:
    ss_stream_release(s);
}

void ss__handle_head(ss__req *q, ss_http_response *res) {
    ss_protocol_stream *s = ss__open_existing(q, res);
    if (!s)
        return;
    ss_meta_result m;
    if (!ss__respond_meta_failure(res, ss_stream_metadata(s, &q->arena, &m), &m)) {
        ss__respond(res, 200);
        (void)ss_http_response_header(res, "Content-Type", m.content_type);
        ss__header_offset(res, "Stream-Next-Offset", &m.next_offset);
        ss__header_cstr(res, "Cache-Control", "no-store");
        if (m.has_ttl)
            ss__header_u64(res, "Stream-TTL", m.ttl_s);
        if (m.expires_at.len)
            (void)ss_http_response_header(res, "Stream-Expires-At", m.expires_at);
        if (m.closed)
            ss__header_cstr(res, "Stream-Closed", "true");
    }
    ss_stream_release(s);
}
