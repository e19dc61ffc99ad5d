/* Live reads over HTTP: long-poll and Server-Sent Events, as continuations
 * (ss_http_live) that a front end parks and resumes. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "streamsy/alloc.h"

/* Owned by: the front end once returned in a response (ss_http_live_free).
 * Lifetime: until the response ends or the client goes away. */
struct ss_http_live {
    ss_handler *h;
    ss_protocol_stream *s;
    ss_waiter waiter;
    bool sse;
    bool resume_with_begin; /* SSE catch-up in progress: read again, don't finish */
    ss_offset from;
    char cursor[SS_CURSOR_MAX];
    int64_t started_ms;
    int64_t deadline_ms;
    ss_slice content_type; /* the fields below point into text[] */
    ss_slice path;
    ss_slice offset_param;
    char text[];
};

static ss_http_live *live_new(ss__req *q, ss_protocol_stream *s, bool sse, ss_slice ct, ss_slice offset_param) {
    ss_slice path = q->http->path;
    ss_http_live *l = ss_calloc(1, sizeof *l + ct.len + path.len + offset_param.len + 3);
    if (!l)
        return NULL;
    l->h = q->h;
    l->s = s;
    l->sse = sse;
    l->waiter.ctx = l;
    char *t = l->text;
    ss_slice *dst[] = {&l->content_type, &l->path, &l->offset_param};
    ss_slice src[] = {ct, path, offset_param};
    for (int i = 0; i < 3; i++) {
        if (src[i].len)
            memcpy(t, src[i].p, src[i].len);
        t[src[i].len] = '\0';
        *dst[i] = (ss_slice){t, src[i].len};
        t += src[i].len + 1;
    }
    l->started_ms = ss_protocol_now_ms(q->h->p);
    return l;
}

ss_waiter *ss_http_live_waiter(ss_http_live *l) { return &l->waiter; }

ss_slice ss_http_live_stream_id(const ss_http_live *l) { return ss_stream_id(l->s); }

int64_t ss_http_live_deadline_ms(const ss_http_live *l) { return l->deadline_ms; }

void ss_http_live_free(ss_http_live *l) {
    if (!l)
        return;
    ss_stream_release(l->s);
    ss_free(l);
}

static void arm_deadline(ss_http_live *l) {
    l->deadline_ms = ss_protocol_now_ms(l->h->p) + ss_protocol_long_poll_timeout_ms(l->h->p);
}

static void set_cursor(ss_http_live *l, const char *cursor) {
    if (cursor[0])
        memcpy(l->cursor, cursor, SS_CURSOR_MAX);
}

/* ---- encodings shared within a wake batch ------------------------------------------- */

static ss_rc sse_data_event(ss_http_live *l, const ss_live_result *lr, ss_buf *out);

/* Appends lr's messages to out, encoded as an SSE data event or a long-poll
 * body. Every waiter of one wake batch reading from the same offset gets
 * the same bytes, so they are built once per batch and copied after that. */
static ss_rc encode_shared(ss_http_live *l, const ss_live_result *lr, bool sse, ss_buf *out) {
    ss__shared_encoding *m = &l->h->shared[sse];
    uint64_t batch = ss_protocol_wake_batch(l->h->p);
    if (batch && m->batch == batch && m->n == lr->n && ss_offset_eq(&m->from, &l->from) &&
        ss_offset_eq(&m->next, &lr->next_offset))
        return ss_buf_append(out, m->bytes.p, m->bytes.len);
    size_t mark = out->len;
    ss_rc rc = sse ? sse_data_event(l, lr, out) : ss__encode_body(out, l->content_type, lr->msgs, lr->n);
    if (rc || !batch)
        return rc;
    /* Keep a copy for the rest of the batch (best effort). */
    if (m->bytes.cap > (64u << 10))
        ss_buf_release(&m->bytes); /* don't hold a catch-up-sized buffer between batches */
    ss_buf_clear(&m->bytes);
    m->batch = ss_buf_append(&m->bytes, out->p + mark, out->len - mark) ? 0 : batch;
    m->from = l->from;
    m->next = lr->next_offset;
    m->n = lr->n;
    return SS_OK;
}

/* ---- long-poll -------------------------------------------------------------------- */

static void long_poll_respond(ss_http_live *l, ss_slice offset_param, const ss_live_result *lr,
                              ss_http_response *res) {
    switch (lr->status) {
    case SS_LIVE_NOT_FOUND:
        ss__respond_text(res, 404, "Stream not found");
        return;
    case SS_LIVE_GONE:
        ss__respond_text(res, 410, "Stream is soft-deleted");
        return;
    case SS_LIVE_WAIT:
        res->kind = SS_HTTP_WAIT;
        res->live = l;
        return;
    case SS_LIVE_OK:
    case SS_LIVE_TIMEOUT:
        break;
    }
    ss__respond(res, lr->n ? 200 : 204);
    ss__header_offset(res, "Stream-Next-Offset", &lr->next_offset);
    if (lr->up_to_date)
        ss__header_cstr(res, "Stream-Up-To-Date", "true");
    if (lr->closed)
        ss__header_cstr(res, "Stream-Closed", "true");
    else if (lr->cursor[0])
        ss__header_cstr(res, "Stream-Cursor", lr->cursor);
    if (!lr->n) {
        ss__header_cstr(res, "Cache-Control", "no-store");
        return;
    }
    ss_buf etag;
    ss_buf_init(&etag, SS__ETAG_MAX);
    ss__etag(l->path, offset_param, &lr->next_offset, lr->closed, &etag);
    if (!etag.err) /* out of memory: no ETag rather than a wrong one */
        (void)ss_http_response_header(res, "ETag", ss_buf_slice(&etag));
    ss_buf_release(&etag);
    (void)ss_http_response_header(res, "Content-Type", l->content_type);
    ss_rc rc = encode_shared(l, lr, false, &res->body);
    if (rc)
        ss__respond_rc(res, rc);
}

void ss__long_poll(ss__req *q, ss_protocol_stream *s, const ss_offset *from, bool has_from, ss_slice offset_param,
                   ss_slice cursor, ss_slice content_type, ss_http_response *res) {
    ss_http_live *l = live_new(q, s, false, content_type, offset_param);
    if (!l) {
        ss_stream_release(s);
        ss__respond_text(res, 503, "Out of memory");
        return;
    }
    ss_live_options lo = {.has_offset = has_from, .cursor = cursor};
    if (has_from)
        lo.offset = *from;
    ss_live_result lr;
    ss_rc rc = ss_stream_read_live_begin(s, &lo, &q->arena, &lr);
    if (rc) {
        ss_http_live_free(l);
        ss__respond_rc(res, rc);
        return;
    }
    if (has_from)
        l->from = *from; /* the read's start, for encode_shared */
    if (cursor.len && cursor.len < SS_CURSOR_MAX) {
        memcpy(l->cursor, cursor.p, cursor.len);
        l->cursor[cursor.len] = '\0';
    }
    arm_deadline(l);
    long_poll_respond(l, l->offset_param, &lr, res);
    l->from = lr.next_offset; /* WAIT: where the reader is parked */
    if (res->live != l)
        ss_http_live_free(l);
}

/* ---- SSE --------------------------------------------------------------------------- */

/* One "data:" line per line of the payload; CRLF, CR and LF all end a line. */
static void sse_data_lines(ss_buf *out, ss_slice text) {
    size_t start = 0;
    for (size_t i = 0; i <= text.len; i++) {
        if (i < text.len && text.p[i] != '\r' && text.p[i] != '\n')
            continue;
        ss_buf_append(out, "data:", 5);
        ss_buf_append(out, text.p + start, i - start);
        ss_buf_append(out, "\n", 1);
        if (i + 1 < text.len && text.p[i] == '\r' && text.p[i + 1] == '\n')
            i++;
        start = i + 1;
    }
}

/* Appends one data event; on failure (the payload too large or out of
 * memory) returns the error, and out may hold a partial event. */
static ss_rc sse_data_event(ss_http_live *l, const ss_live_result *lr, ss_buf *out) {
    ss_buf payload;
    ss_buf_init(&payload, SS_HTTP_BODY_MAX);
    if (ss_content_type_is_text_like(l->content_type)) {
        (void)ss__encode_body(&payload, l->content_type, lr->msgs, lr->n);
    } else {
        ss_buf raw;
        ss_buf_init(&raw, SS_HTTP_BODY_MAX);
        ss_rc rc = ss__encode_body(&raw, l->content_type, lr->msgs, lr->n);
        if (rc == SS_OK)
            rc = ss__base64(&payload, raw.p, raw.len);
        else
            payload.err = rc;
        ss_buf_release(&raw);
    }
    ss_rc rc = payload.err;
    if (rc == SS_OK) {
        ss_buf_append_cstr(out, "event: data\n");
        sse_data_lines(out, ss_buf_slice(&payload));
        ss_buf_append(out, "\n", 1);
        rc = out->err;
    }
    ss_buf_release(&payload);
    return rc;
}

/* Writes s as the body of a JSON string (offsets and cursors are ASCII). */
static void json_string_body(ss_buf *out, ss_slice s) {
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == '"' || s.p[i] == '\\')
            ss_buf_append(out, "\\", 1);
        ss_buf_append(out, &s.p[i], 1);
    }
}

static void sse_control_event(const ss_offset *next, const char *cursor, bool up_to_date, bool closed,
                              ss_buf *out) {
    ss_buf_append_cstr(out, "event: control\ndata:{\"streamNextOffset\":\"");
    json_string_body(out, ss_offset_slice(next));
    ss_buf_append_cstr(out, "\"");
    if (closed) {
        ss_buf_append_cstr(out, ",\"streamClosed\":true");
    } else if (cursor[0]) {
        ss_buf_append_cstr(out, ",\"streamCursor\":\"");
        json_string_body(out, ss_slice_cstr(cursor));
        ss_buf_append_cstr(out, "\"");
    }
    if (up_to_date || closed)
        ss_buf_append_cstr(out, ",\"upToDate\":true");
    ss_buf_append_cstr(out, "}\n\n");
}

/* Emits events into res->body until the reader must wait (STREAM, deadline
 * armed), the response ends (DONE) or the chunk is big enough (STREAM with
 * the deadline at now, so the front end resumes at once). */
static void sse_step(ss_http_live *l, bool finish, bool timed_out, ss_arena *a, ss_http_response *res) {
    ss_protocol *p = l->h->p;
    res->kind = SS_HTTP_STREAM;
    res->live = l;
    res->has_content_length = false;
    while (res->body.len < SS_SSE_CHUNK_MAX) {
        ss_live_result lr;
        ss_rc rc;
        if (finish) {
            rc = ss_stream_read_live_finish(l->s, &l->from, ss_slice_cstr(l->cursor), timed_out, a, &lr);
        } else {
            ss_live_options lo = {.has_offset = true, .offset = l->from, .cursor = ss_slice_cstr(l->cursor)};
            rc = ss_stream_read_live_begin(l->s, &lo, a, &lr);
        }
        if (rc || lr.status == SS_LIVE_NOT_FOUND || lr.status == SS_LIVE_GONE) {
            res->kind = SS_HTTP_DONE; /* the stream went away: end the body silently */
            return;
        }
        set_cursor(l, lr.cursor);
        size_t mark = res->body.len;
        if (lr.status == SS_LIVE_WAIT) {
            if (!finish) /* at the tail on connect or after catch-up: say where we are */
                sse_control_event(&lr.next_offset, l->cursor, true, false, &res->body);
        } else {
            rc = lr.n ? encode_shared(l, &lr, true, &res->body) : SS_OK;
            if (rc == SS_OK)
                sse_control_event(&lr.next_offset, l->cursor, lr.up_to_date, lr.closed, &res->body);
        }
        if (rc || res->body.err) {
            /* Out of memory (or an event past SS_HTTP_BODY_MAX): drop this
             * read's half-built events and end the response. The reader's
             * last control event still names l->from, so it reconnects there
             * and loses nothing. */
            ss_buf_truncate(&res->body, mark);
            res->kind = SS_HTTP_DONE;
            return;
        }
        l->from = lr.next_offset;
        if (lr.status == SS_LIVE_WAIT)
            break;
        if (lr.closed) {
            res->kind = SS_HTTP_DONE;
            return;
        }
        if (lr.up_to_date)
            break;
        finish = false; /* more to catch up: read again */
    }
    int64_t now = ss_protocol_now_ms(p);
    if (now - l->started_ms >= SS_SSE_LIFETIME_MS) {
        res->kind = SS_HTTP_DONE; /* clients reconnect from the last control event */
        return;
    }
    l->resume_with_begin = res->body.len >= SS_SSE_CHUNK_MAX;
    if (l->resume_with_begin)
        l->deadline_ms = now;
    else
        arm_deadline(l);
}

void ss__sse(ss__req *q, ss_protocol_stream *s, const ss_offset *from, bool has_from, ss_slice cursor,
             ss_slice content_type, ss_http_response *res) {
    ss_http_live *l = live_new(q, s, true, content_type, SS_SLICE_NULL);
    if (!l) {
        ss_stream_release(s);
        ss__respond_text(res, 503, "Out of memory");
        return;
    }
    /* -1 reads from the initial offset, which also walks a fork's chain. */
    if (has_from)
        l->from = *from;
    else
        l->from = ss_protocol_start_offset(q->h->p);
    if (cursor.len && cursor.len < SS_CURSOR_MAX) {
        memcpy(l->cursor, cursor.p, cursor.len);
        l->cursor[cursor.len] = '\0';
    }
    res->status = 200;
    ss__header_cstr(res, "Content-Type", "text/event-stream");
    ss__header_cstr(res, "Cache-Control", "no-cache");
    ss__header_cstr(res, "X-Accel-Buffering", "no");
    if (!ss_content_type_is_text_like(content_type))
        ss__header_cstr(res, "Stream-SSE-Data-Encoding", "base64");
    sse_step(l, false, false, &q->arena, res);
    res->has_content_length = false;
    if (res->kind == SS_HTTP_DONE) {
        res->live = NULL; /* ended at once (closed stream): nothing to park */
        ss_http_live_free(l);
    }
}

void ss_http_live_resume(ss_http_live *l, bool timed_out, ss_http_response *out) {
    if (l->sse)
        ss__clear_response(out); /* a later chunk of a response whose headers went out */
    else
        ss__reset_response(out);
    ss_arena a;
    ss_arena_init(&a);
    if (l->sse) {
        bool begin = l->resume_with_begin;
        l->resume_with_begin = false;
        sse_step(l, !begin, timed_out, &a, out);
        out->status = 200;
    } else {
        ss_live_result lr;
        ss_rc rc = ss_stream_read_live_finish(l->s, &l->from, ss_slice_cstr(l->cursor), timed_out, &a, &lr);
        if (rc) {
            ss__respond_rc(out, rc);
        } else {
            long_poll_respond(l, l->offset_param, &lr, out);
        }
    }
    ss_arena_release(&a);
    (void)ss__settle_response(out); /* the front end owns l and ends it on DONE */
}
