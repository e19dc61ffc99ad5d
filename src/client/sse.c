/* A tail's Server-Sent Events connection: the event-stream parser (lines,
 * `event:` and `data:` fields, events ended by a blank line), base64 data
 * of binary streams, and the control events that carry the offset to
 * resume from. Data is handed to the caller at each control event, so what
 * it has seen always ends at an offset it can resume from. */
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "base/json_scan.h"
#include "internal.h"
#include "streamsy/alloc.h"

#define MAX_EVENT_BYTES ((size_t)128 << 20) /* a 64 MiB message, base64-encoded, with room */

typedef struct ss__sse sse;
struct ss__sse {
    ss_client_tail_fn fn;
    void *ctx;
    ss_client_result *last; /* what fn is shown */
    char *offset, *cursor;
    size_t offset_cap, cursor_cap;
    ss_buf line;    /* the line being read */
    ss_buf data;    /* this event's data lines, joined with '\n' */
    ss_buf pending; /* decoded data since the last control event */
    char event[16];
    bool cr;         /* the last byte was '\r' (a following '\n' belongs to it) */
    bool base64;     /* the response said Stream-SSE-Data-Encoding: base64 */
    bool json;       /* a JSON stream: each data event is an array; merge them */
    size_t parts;    /* data events in pending */
    bool has_data;   /* this event had a data field (an event without one is not dispatched) */
    bool ended;      /* closed, or fn said stop */
    size_t controls; /* control events seen (keep-alives included) */
    ss_rc err;
};

/* Where the value of "key" starts in a control event (after the colon and
 * spaces), or NULL when the key is absent; *end is the event's end. */
static const char *json_value(ss_slice json, const char *key, const char **end) {
    char pat[48];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = memmem(json.p, json.len, pat, strlen(pat));
    if (!p)
        return NULL;
    *end = json.p + json.len;
    p += strlen(pat);
    while (p < *end && (*p == ' ' || *p == ':'))
        p++;
    return p;
}

/* The string value of "key":"..." in a control event (no escapes expected
 * in offsets and cursors); false when absent. */
static bool json_string(ss_slice json, const char *key, char *dst, size_t cap) {
    const char *end, *p = json_value(json, key, &end);
    if (!p || p >= end || *p != '"')
        return false;
    p++;
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q || (size_t)(q - p) >= cap)
        return false;
    memcpy(dst, p, (size_t)(q - p));
    dst[q - p] = '\0';
    return true;
}

static bool json_true(ss_slice json, const char *key) {
    const char *end, *p = json_value(json, key, &end);
    return p && end - p >= 4 && memcmp(p, "true", 4) == 0;
}

/* A JSON stream's data event is an array: pending collects the elements,
 * comma-separated, and gets its brackets back at the control event. */
static bool add_json_part(sse *s, ss_slice part) {
    size_t a = 0, b = part.len;
    while (a < b && (part.p[a] == ' ' || part.p[a] == '\n' || part.p[a] == '\r' || part.p[a] == '\t'))
        a++;
    while (b > a &&
           (part.p[b - 1] == ' ' || part.p[b - 1] == '\n' || part.p[b - 1] == '\r' || part.p[b - 1] == '\t'))
        b--;
    if (b - a < 2 || part.p[a] != '[' || part.p[b - 1] != ']')
        return false;
    ss_slice inner = {part.p + a + 1, b - a - 2};
    bool empty = true;
    for (size_t i = 0; i < inner.len && empty; i++)
        empty = inner.p[i] == ' ' || inner.p[i] == '\n' || inner.p[i] == '\r' || inner.p[i] == '\t';
    if (empty)
        return true;
    if (s->pending.len)
        ss_buf_append(&s->pending, ",", 1);
    ss_buf_append(&s->pending, inner.p, inner.len);
    return s->pending.err == SS_OK;
}

/* A blank line: the event is complete. */
static void dispatch(sse *s) {
    ss_slice data = ss_buf_slice(&s->data);
    if (!s->has_data) {
        s->event[0] = '\0'; /* no data field: nothing to dispatch */
        return;
    }
    s->has_data = false;
    if (!strcmp(s->event, "data")) {
        bool ok = s->base64 ? ss__base64_decode(data, true, &s->pending) == SS_OK
                  : s->json ? add_json_part(s, data)
                            : ss_buf_append(&s->pending, data.p, data.len) == 0;
        if (!ok)
            s->err = s->pending.err ? s->pending.err : SS_CORRUPT; /* not base64 / not an array: a broken server */
        s->parts++;
    } else if (!strcmp(s->event, "control")) {
        s->controls++;
        if (!ss_json_is_valid(data) || data.len == 0 || data.p[0] != '{') {
            s->err = SS_CORRUPT; /* a control event must be a JSON object */
            ss_buf_clear(&s->data);
            s->event[0] = '\0';
            return;
        }
        char offset[SS_CLIENT_OFFSET_MAX];
        if (json_string(data, "streamNextOffset", offset, sizeof offset))
            snprintf(s->offset, s->offset_cap, "%s", offset);
        (void)json_string(data, "streamCursor", s->cursor, s->cursor_cap);
        ss_client_result *r = s->last;
        snprintf(r->next_offset, sizeof r->next_offset, "%s", s->offset);
        snprintf(r->cursor, sizeof r->cursor, "%s", s->cursor);
        r->up_to_date = json_true(data, "upToDate");
        r->closed = json_true(data, "streamClosed");
        ss_buf_clear(&r->body);
        if (s->json && s->pending.len)
            ss_buf_append(&r->body, "[", 1);
        if (s->pending.len)
            ss_buf_append(&r->body, s->pending.p, s->pending.len);
        if (s->json && s->pending.len)
            ss_buf_append(&r->body, "]", 1);
        if (r->body.err)
            s->err = r->body.err;
        bool had_data = s->parts > 0;
        ss_buf_clear(&s->pending);
        s->parts = 0;
        if (!s->err && (had_data || r->closed || r->up_to_date) && !s->fn(s->ctx, r))
            s->ended = true;
        if (r->closed)
            s->ended = true;
    }
    ss_buf_clear(&s->data);
    s->event[0] = '\0';
}

/* One line (without its end). */
static void field(sse *s) {
    ss_slice l = ss_buf_slice(&s->line);
    if (!l.len) {
        dispatch(s);
        return;
    }
    if (l.p[0] == ':')
        return; /* a comment */
    const char *colon = memchr(l.p, ':', l.len);
    size_t nl = colon ? (size_t)(colon - l.p) : l.len;
    ss_slice v = colon ? (ss_slice){colon + 1, l.len - nl - 1} : SS_SLICE_NULL;
    if (v.len && v.p[0] == ' ')
        v = (ss_slice){v.p + 1, v.len - 1};
    if (nl == 5 && !memcmp(l.p, "event", 5)) {
        size_t n = v.len < sizeof s->event - 1 ? v.len : sizeof s->event - 1;
        if (n) /* ("event" alone: an empty type; v.p may be NULL) */
            memcpy(s->event, v.p, n);
        s->event[n] = '\0';
    } else if (nl == 4 && !memcmp(l.p, "data", 4)) {
        if (s->has_data)
            ss_buf_append(&s->data, "\n", 1);
        s->has_data = true;
        if (v.len)
            ss_buf_append(&s->data, v.p, v.len);
        if (s->data.err)
            s->err = s->data.err;
    }
}

bool ss__sse_sink(void *ctx, const char *p, size_t n, const ss_client_result *r) {
    sse *s = ctx;
    if (strncasecmp(r->content_type, "text/event-stream", 17) != 0)
        return true; /* not an event stream (the caller sees it and falls back): not parsed */
    s->base64 = r->sse_base64;
    for (size_t i = 0; i < n && !s->ended && !s->err; i++) {
        char ch = p[i];
        if (ch == '\n' && s->cr) {
            s->cr = false;
            continue; /* the '\n' of a "\r\n" */
        }
        s->cr = ch == '\r';
        if (ch == '\r' || ch == '\n') {
            field(s);
            ss_buf_clear(&s->line);
        } else if (ss_buf_append(&s->line, &ch, 1)) {
            s->err = s->line.err;
        }
    }
    return !s->ended && !s->err;
}

ss__sse *ss__sse_new(char *offset, char *cursor, bool json, ss_client_tail_fn fn, void *ctx, ss_client_result *r) {
    sse *s = ss_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    *s = (sse){.fn = fn,
               .ctx = ctx,
               .last = r,
               .offset = offset,
               .cursor = cursor,
               .offset_cap = SS_CLIENT_OFFSET_MAX,
               .cursor_cap = SS_CLIENT_TEXT_MAX,
               .json = json};
    ss_buf_init(&s->line, MAX_EVENT_BYTES);
    ss_buf_init(&s->data, MAX_EVENT_BYTES);
    ss_buf_init(&s->pending, MAX_EVENT_BYTES);
    return s;
}

void ss__sse_free(ss__sse *s) {
    if (!s)
        return;
    ss_buf_release(&s->line);
    ss_buf_release(&s->data);
    ss_buf_release(&s->pending);
    ss_free(s);
}

ss_rc ss__sse_error(const ss__sse *s) { return s->err; }

size_t ss__sse_controls(const ss__sse *s) { return s->controls; }

bool ss__sse_ended(const ss__sse *s) { return s->ended; }

ss_rc ss_client_sse(ss_client *c, const char *url, char offset[SS_CLIENT_OFFSET_MAX],
                    char cursor[SS_CLIENT_TEXT_MAX], bool json, long timeout_ms, ss_client_tail_fn fn, void *ctx,
                    ss_client_result *r, bool *ended, bool *timed_out, size_t *controls) {
    *ended = *timed_out = false;
    if (controls)
        *controls = 0;
    if (!c || !url || !fn || !r)
        return SS_BADARG;
    sse *s = ss__sse_new(offset, cursor, json, fn, ctx, r);
    char *u = s ? ss__client_read_url(c, url, offset, "sse", cursor) : NULL;
    ss_rc rc = SS_NOMEM;
    if (u) {
        ss__request q = {.method = "GET",
                         .url = u,
                         .live = true,
                         .sink = ss__sse_sink,
                         .sink_ctx = s,
                         .timeout_ms = timeout_ms};
        rc = ss__client_perform(c, &q, r);
    }
    ss_free(u);
    if (rc == SS_IOERR && r->status / 100 == 2 && r->timed_out) {
        rc = SS_OK; /* the deadline, not a failure */
        *timed_out = true;
    }
    if (s && !rc && s->err)
        rc = s->err;
    *ended = s && s->ended;
    if (controls && s)
        *controls = s->controls;
    ss__sse_free(s);
    return rc;
}
