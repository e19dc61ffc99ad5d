/* streamsy-client-adapter: the client library (streamsy/client.h) behind
 * the JSON-lines protocol of the official client conformance suite
 * (@durable-streams/client-conformance-tests): one command per line on
 * standard input, one result per line on standard output, logs on stderr.
 * Runs until `shutdown` or the end of input. See docs/client.md. */
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/base64.h"
#include "streamsy/alloc.h"
#include "streamsy/client.h"
#include "streamsy/version.h"

#define MAX_RETRIES 8
#define DEFAULT_READ_TIMEOUT_MS 5000
#define DEFAULT_MAX_CHUNKS 100
#define MAX_HEADERS 64

static struct {
    char server[512];
    ss_client *c;
    json_t *types;     /* path -> content type */
    json_t *dyn;       /* name -> {kind: header|param, type, counter, token} */
    json_t *producers; /* "path|id|epoch" -> {epoch, seq, auto, closed: result} */
    json_t *params;    /* this command's evaluated dynamic parameters */
} g;

/* ---- helpers ---------------------------------------------------------------------------- */

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void url_of(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s%s", g.server, path ? path : "");
}

/* Bytes as a JSON string (invalid UTF-8 becomes U+FFFD). */
static json_t *text(const char *p, size_t n) {
    json_t *s = json_stringn(p ? p : "", n);
    if (s)
        return s;
    char *fixed = malloc(n * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)p[i];
        size_t len = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 0;
        json_t *probe = len && i + len <= n ? json_stringn(p + i, len) : NULL;
        if (probe) {
            memcpy(fixed + o, p + i, len);
            o += len;
            i += len;
            json_decref(probe);
        } else {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    s = json_stringn(fixed, o);
    free(fixed);
    return s;
}

/* Standard base64 into out (ss_malloc'ed, ss_free it); false on bad input
 * (*out NULL). */
static bool unbase64(const char *in, char **out, size_t *out_len) {
    ss_buf b;
    ss_buf_init(&b, SIZE_MAX);
    if (ss__base64_decode(ss_slice_cstr(in), false, &b)) {
        ss_buf_release(&b);
        *out = NULL;
        *out_len = 0;
        return false;
    }
    *out = ss_buf_detach(&b, out_len);
    return true;
}

static bool is_json_type(const char *ct) { return ct && strncasecmp(ct, "application/json", 16) == 0; }

static const char *type_of(const char *path) {
    const char *t = str(g.types, path);
    return t ? t : "application/octet-stream";
}

/* ---- results ------------------------------------------------------------------------------ */

static void emit(json_t *result) {
    char *line = json_dumps(result, JSON_COMPACT | JSON_ENSURE_ASCII);
    fputs(line ? line : "{\"type\":\"error\",\"success\":false,\"errorCode\":\"INTERNAL_ERROR\"}", stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(line);
    json_decref(result);
}

static json_t *error_result(const char *type, long status, const char *code, const char *message) {
    json_t *e = json_pack("{s:s, s:b, s:s, s:s, s:s}", "type", "error", "success", 0, "commandType", type,
                          "errorCode", code, "message", message ? message : "");
    if (status)
        json_object_set_new(e, "status", json_integer(status));
    return e;
}

/* The error of a refused or failed exchange. */
static json_t *failure(const char *type, ss_rc rc, const ss_client_result *r, const char *url, bool read) {
    char msg[sizeof r->message + 600];
    if (rc == SS_CORRUPT)
        return error_result(type, 0, "PARSE_ERROR", "Failed to parse the SSE stream (control event or data)");
    if (rc) {
        snprintf(msg, sizeof msg, "%s: %s", url, r->message[0] ? r->message : ss_rc_str(rc));
        return error_result(type, 0, r->timed_out ? "TIMEOUT" : "NETWORK_ERROR", msg);
    }
    snprintf(msg, sizeof msg, "HTTP %ld at %s: %s", r->status, url, r->message);
    const char *code = "UNEXPECTED_STATUS";
    if (r->status == 404)
        code = "NOT_FOUND";
    else if (r->status == 409)
        code = r->closed ? "STREAM_CLOSED" : strcasestr(r->message, "sequence") ? "SEQUENCE_CONFLICT" : "CONFLICT";
    else if (r->status == 400 && read && (strcasestr(r->message, "offset") || strcasestr(r->message, "invalid")))
        code = "INVALID_OFFSET";
    return error_result(type, r->status, code, msg);
}

/* ---- headers: the command's own and the dynamic ones ---------------------------------------- */

/* Sets the command's headers on the client; evaluates the dynamic values
 * (once per command) into *sent / g.params when `dynamic`. */
static void prepare(json_t *cmd, bool dynamic, json_t **headers_sent, json_t **params_sent) {
    static char lines[MAX_HEADERS][1024];
    const char *list[MAX_HEADERS + 1];
    size_t n = 0;
    json_decref(g.params);
    g.params = json_object();
    *headers_sent = *params_sent = NULL;
    const char *name;
    json_t *v;
    if (dynamic && json_object_size(g.dyn)) {
        *headers_sent = json_object();
        *params_sent = json_object();
        json_object_foreach(g.dyn, name, v) {
            const char *kind = str(v, "kind"), *t = str(v, "valueType");
            char value[256];
            if (!strcmp(t, "counter")) {
                json_int_t c = json_integer_value(json_object_get(v, "counter")) + 1;
                json_object_set_new(v, "counter", json_integer(c));
                snprintf(value, sizeof value, "%lld", (long long)c);
            } else if (!strcmp(t, "timestamp")) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                snprintf(value, sizeof value, "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
            } else {
                snprintf(value, sizeof value, "%s", str(v, "token") ? str(v, "token") : "");
            }
            if (!strcmp(kind, "header")) {
                json_object_set_new(*headers_sent, name, json_string(value));
                if (n < MAX_HEADERS)
                    snprintf(lines[n++], sizeof lines[0], "%s: %s", name, value);
            } else {
                json_object_set_new(*params_sent, name, json_string(value));
                json_object_set_new(g.params, name, json_string(value));
            }
        }
        if (!json_object_size(*headers_sent)) {
            json_decref(*headers_sent);
            *headers_sent = NULL;
        }
        if (!json_object_size(*params_sent)) {
            json_decref(*params_sent);
            *params_sent = NULL;
        }
    }
    json_object_foreach(json_object_get(cmd, "headers"), name, v) {
        if (n < MAX_HEADERS && json_is_string(v))
            snprintf(lines[n++], sizeof lines[0], "%s: %s", name, json_string_value(v));
    }
    for (size_t i = 0; i < n; i++)
        list[i] = lines[i];
    list[n] = NULL;
    if (ss_client_set_headers(g.c, list))
        fprintf(stderr, "adapter: a header was refused\n");
}

static void dynamic_params(void *ctx, ss_client_dynamic *d) {
    (void)ctx;
    const char *name;
    json_t *v;
    json_object_foreach(g.params, name, v) ss_client_dynamic_param(d, name, json_string_value(v));
}

static void add_sent(json_t *result, json_t *headers_sent, json_t *params_sent) {
    if (headers_sent)
        json_object_set_new(result, "headersSent", headers_sent);
    if (params_sent)
        json_object_set_new(result, "paramsSent", params_sent);
}

/* ---- retries (everything but the producer, which retries by itself) --------------------------- */

static bool transient(ss_rc rc, const ss_client_result *r) {
    return rc == SS_IOERR || (rc == SS_OK && (r->status >= 500 || r->status == 429));
}

/* Waits before attempt `n` (1-based) unless the deadline would pass; false: give up. */
static bool backoff(int n, const ss_client_result *r, long deadline) {
    if (n > MAX_RETRIES)
        return false;
    long wait = 100;
    for (int i = 1; i < n; i++)
        wait = wait * 13 / 10;
    if (r->retry_after_s * 1000 > wait)
        wait = r->retry_after_s * 1000;
    if (now_ms() + wait >= deadline)
        return false;
    sleep_ms(wait);
    return true;
}

/* The single exchanges the retrying commands make (one signature for all). */
typedef ss_rc (*exchange_fn)(const char *url, const void *options, ss_client_result *r);
static ss_rc do_create(const char *url, const void *o, ss_client_result *r) {
    return ss_client_create(g.c, url, o, r);
}
static ss_rc do_head(const char *url, const void *o, ss_client_result *r) {
    (void)o;
    return ss_client_head(g.c, url, r);
}
static ss_rc do_append(const char *url, const void *o, ss_client_result *r) {
    return ss_client_append(g.c, url, o, r);
}
static ss_rc do_delete(const char *url, const void *o, ss_client_result *r) {
    (void)o;
    return ss_client_delete(g.c, url, r);
}

/* One exchange, retried after a lost answer, a 5xx or a 429 for up to 20 s. */
static ss_rc with_retries(exchange_fn f, const char *url, const void *options, ss_client_result *r) {
    long deadline = now_ms() + 20000;
    for (int n = 1;; n++) {
        ss_rc rc = f(url, options, r);
        if (!transient(rc, r) || !backoff(n, r, deadline))
            return rc;
    }
}

/* A 404's message names the stream (the suite looks for its path). */
static void name_missing(ss_rc rc, ss_client_result *r, const char *path) {
    if (!rc && r->status == 404)
        snprintf(r->message, sizeof r->message, "Stream not found: %s", path);
}

/* ---- commands ----------------------------------------------------------------------------------- */

static json_t *cmd_init(json_t *cmd) {
    snprintf(g.server, sizeof g.server, "%s", str(cmd, "serverUrl") ? str(cmd, "serverUrl") : "");
    json_object_clear(g.types);
    json_object_clear(g.dyn);
    json_object_clear(g.producers);
    json_t *features = json_pack("{s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}", "batching", 1, "sse", 1, "longPoll", 1,
                                 "auto", 1, "streaming", 1, "dynamicHeaders", 1, "retryOptions", 1, "batchItems",
                                 1, "strictZeroValidation", 1);
    return json_pack("{s:s,s:b,s:s,s:s,s:o}", "type", "init", "success", 1, "clientName", "streamsy (C)",
                     "clientVersion", ss_version(), "features", features);
}

static json_t *cmd_create(json_t *cmd, ss_client_result *r) {
    const char *path = str(cmd, "path");
    char url[1024];
    url_of(path, url, sizeof url);
    json_t *hs, *ps;
    prepare(cmd, false, &hs, &ps);
    const char *ct = str(cmd, "contentType") ? str(cmd, "contentType") : "application/octet-stream";
    json_t *ttl = json_object_get(cmd, "ttlSeconds");
    const char *data = str(cmd, "data");
    ss_client_create_options o = {.content_type = ct,
                                  .has_ttl = json_is_integer(ttl),
                                  .ttl_s = (uint64_t)json_integer_value(ttl),
                                  .expires_at = str(cmd, "expiresAt"),
                                  .closed = json_is_true(json_object_get(cmd, "closed")),
                                  .data = data ? ss_slice_cstr(data) : SS_SLICE_NULL};
    ss_rc rc = with_retries(do_create, url, &o, r);
    if (rc || r->status / 100 != 2)
        return failure("create", rc, r, url, false);
    json_object_set_new(g.types, path, json_string(ct));
    return json_pack("{s:s,s:b,s:i,s:s}", "type", "create", "success", 1, "status", (int)r->status, "offset",
                     r->next_offset);
}

static json_t *head_like(json_t *cmd, const char *type, ss_client_result *r) {
    const char *path = str(cmd, "path");
    char url[1024];
    url_of(path, url, sizeof url);
    json_t *hs, *ps;
    prepare(cmd, false, &hs, &ps);
    ss_rc rc = with_retries(do_head, url, NULL, r);
    if (rc || r->status / 100 != 2) {
        name_missing(rc, r, path);
        return failure(type, rc, r, url, false);
    }
    if (r->content_type[0])
        json_object_set_new(g.types, path, json_string(r->content_type));
    json_t *out = json_pack("{s:s,s:b,s:i,s:s,s:b}", "type", type, "success", 1, "status", 200, "offset",
                            r->next_offset, "streamClosed", r->closed);
    if (!strcmp(type, "head")) {
        if (r->content_type[0])
            json_object_set_new(out, "contentType", json_string(r->content_type));
        if (r->has_ttl)
            json_object_set_new(out, "ttlSeconds", json_integer((json_int_t)r->ttl_s));
        if (r->expires_at[0])
            json_object_set_new(out, "expiresAt", json_string(r->expires_at));
    }
    return out;
}

/* The body an append or close sends: base64-decoded for `binary`, wrapped
 * in [ ] for a JSON stream (the server takes one level of array apart). */
static bool body_of(json_t *cmd, const char *path, const char *field, char **out, size_t *len) {
    const char *data = str(cmd, field);
    if (!data) {
        *out = NULL;
        *len = 0;
        return true;
    }
    if (json_is_true(json_object_get(cmd, "binary")))
        return unbase64(data, out, len);
    size_t n = strlen(data);
    bool wrap = is_json_type(type_of(path)) && n;
    *out = ss_malloc(n + 3);
    *len = 0;
    if (wrap)
        (*out)[(*len)++] = '[';
    memcpy(*out + *len, data, n);
    *len += n;
    if (wrap)
        (*out)[(*len)++] = ']';
    return true;
}

static json_t *cmd_append(json_t *cmd, ss_client_result *r) {
    const char *path = str(cmd, "path");
    char url[1024], seq[32];
    url_of(path, url, sizeof url);
    json_t *hs, *ps;
    prepare(cmd, true, &hs, &ps);
    char *body;
    size_t len;
    if (!body_of(cmd, path, "data", &body, &len)) {
        json_decref(hs);
        json_decref(ps);
        return error_result("append", 0, "INVALID_ARGUMENT", "data is not base64");
    }
    json_t *s = json_object_get(cmd, "seq");
    if (json_is_integer(s))
        snprintf(seq, sizeof seq, "%lld", (long long)json_integer_value(s));
    ss_client_append_options o = {.content_type = type_of(path),
                                  .data = ss_slice_of(body, len),
                                  .stream_seq = json_is_integer(s) ? seq : NULL};
    ss_rc rc = with_retries(do_append, url, &o, r);
    ss_free(body);
    if (rc || r->status / 100 != 2) {
        json_decref(hs);
        json_decref(ps);
        return failure("append", rc, r, url, false);
    }
    json_t *out =
        json_pack("{s:s,s:b,s:i,s:s}", "type", "append", "success", 1, "status", 200, "offset", r->next_offset);
    add_sent(out, hs, ps);
    return out;
}

static json_t *cmd_delete(json_t *cmd, ss_client_result *r) {
    const char *path = str(cmd, "path");
    char url[1024];
    url_of(path, url, sizeof url);
    json_t *hs, *ps;
    prepare(cmd, false, &hs, &ps);
    ss_rc rc = with_retries(do_delete, url, NULL, r);
    if (rc || r->status / 100 != 2) {
        name_missing(rc, r, path);
        return failure("delete", rc, r, url, false);
    }
    json_object_del(g.types, path);
    return json_pack("{s:s,s:b,s:i}", "type", "delete", "success", 1, "status", 200);
}

static json_t *cmd_close(json_t *cmd, ss_client_result *r) {
    const char *path = str(cmd, "path");
    char url[1024];
    url_of(path, url, sizeof url);
    json_t *hs, *ps;
    prepare(cmd, false, &hs, &ps);
    char *body;
    size_t len;
    if (!body_of(cmd, path, "data", &body, &len))
        return error_result("close", 0, "INVALID_ARGUMENT", "data is not base64");
    const char *ct = str(cmd, "contentType") ? str(cmd, "contentType") : type_of(path);
    ss_client_append_options o = {.content_type = ct, .data = ss_slice_of(body, len), .close = true};
    ss_rc rc = with_retries(do_append, url, &o, r);
    ss_free(body);
    if (rc || r->status / 100 != 2) {
        name_missing(rc, r, path);
        return failure("close", rc, r, url, false);
    }
    return json_pack("{s:s,s:b,s:i,s:s}", "type", "close", "success", 1, "status", 200, "finalOffset",
                     r->next_offset);
}

/* ---- reads -------------------------------------------------------------------------------------- */

typedef struct reading {
    json_t *chunks;
    char offset[SS_CLIENT_OFFSET_MAX];
    char cursor[SS_CLIENT_TEXT_MAX];
    bool up_to_date, closed, json;
    long status;
    long max_chunks;
    bool wait_up_to_date;
    bool parse_error;
} reading;

/* One batch of data: a chunk when it has any; true to go on reading. */
static bool take_batch(reading *rd, const ss_client_result *r) {
    if (r->next_offset[0])
        snprintf(rd->offset, sizeof rd->offset, "%s", r->next_offset);
    if (r->cursor[0])
        snprintf(rd->cursor, sizeof rd->cursor, "%s", r->cursor);
    rd->up_to_date = r->up_to_date || r->closed;
    rd->closed |= r->closed;
    ss_slice body = ss_buf_slice((ss_buf *)&r->body);
    bool has_data = body.len > 0;
    if (rd->json && body.len) {
        json_error_t err;
        json_t *v = json_loadb(body.p, body.len, JSON_DECODE_ANY, &err);
        if (!v || !json_is_array(v)) {
            rd->parse_error = true;
            json_decref(v);
            return false;
        }
        has_data = json_array_size(v) > 0;
        json_decref(v);
    }
    if (has_data) {
        json_t *chunk = json_object();
        json_object_set_new(chunk, "data", text(body.p, body.len));
        json_object_set_new(chunk, "offset", json_string(rd->offset));
        json_array_append_new(rd->chunks, chunk);
    }
    if (rd->closed)
        return false;
    if (rd->wait_up_to_date && rd->up_to_date)
        return false;
    return (long)json_array_size(rd->chunks) < rd->max_chunks;
}

static bool on_sse_batch(void *ctx, const ss_client_result *r) { return take_batch(ctx, r); }

static json_t *cmd_read(json_t *cmd, ss_client_result *r) {
    const char *path = str(cmd, "path");
    char url[1024];
    url_of(path, url, sizeof url);
    json_t *hs, *ps;
    prepare(cmd, true, &hs, &ps);
    json_t *live = json_object_get(cmd, "live");
    bool sse = json_is_string(live) && !strcmp(json_string_value(live), "sse");
    bool poll = json_is_true(live) || (json_is_string(live) && !strcmp(json_string_value(live), "long-poll"));
    json_t *t = json_object_get(cmd, "timeoutMs"), *m = json_object_get(cmd, "maxChunks");
    long timeout = json_is_integer(t) ? (long)json_integer_value(t) : DEFAULT_READ_TIMEOUT_MS;
    long deadline = now_ms() + timeout;
    reading rd = {.chunks = json_array(),
                  .max_chunks = json_is_integer(m) ? (long)json_integer_value(m) : DEFAULT_MAX_CHUNKS,
                  .wait_up_to_date = json_is_true(json_object_get(cmd, "waitForUpToDate"))};
    snprintf(rd.offset, sizeof rd.offset, "%s", str(cmd, "offset") ? str(cmd, "offset") : "-1");
    ss_rc rc = SS_OK;
    bool first = true, go = true, timed_out = false;
    int attempt = 0;
    while (go) {
        long left = deadline - now_ms();
        if (!first && left <= 0) {
            timed_out = true;
            break;
        }
        if (first || !rd.up_to_date || (!sse && !poll)) {
            ss_client_set_timeout(g.c, first ? 30000 : left > 0 ? left : 1);
            rc = ss_client_read(g.c, url, rd.offset, r);
        } else if (poll) {
            rc = ss_client_poll(g.c, url, rd.offset, rd.cursor, left, r);
            if (rc == SS_IOERR && r->timed_out) {
                timed_out = true;
                break;
            }
        } else {
            bool ended, sse_timed_out;
            rc = ss_client_sse(g.c, url, rd.offset, rd.cursor, rd.json, left, on_sse_batch, &rd, r, &ended,
                               &sse_timed_out, NULL);
            if (rd.parse_error)
                break;
            if (rc == SS_OK && r->status / 100 == 2) {
                rd.status = 200;
                if (ended || sse_timed_out) {
                    timed_out = sse_timed_out;
                    break;
                }
                continue; /* the server ended the response: reconnect */
            }
        }
        if (transient(rc, r)) {
            if (backoff(++attempt, r, first ? now_ms() + 20000 : deadline))
                continue;
            break;
        }
        attempt = 0;
        if (rc || r->status / 100 != 2)
            break;
        if (first)
            rd.json = is_json_type(r->content_type);
        first = false;
        rd.status = r->status;
        go = take_batch(&rd, r);
        if (rd.parse_error)
            break;
        if (!sse && !poll && rd.up_to_date)
            break; /* a catch-up read ends at the tail */
        if (!sse && !poll)
            go = go && !rd.up_to_date;
    }
    ss_client_set_timeout(g.c, 30000);
    if (rd.parse_error) {
        json_decref(rd.chunks);
        json_decref(hs);
        json_decref(ps);
        return error_result("read", 0, "PARSE_ERROR", "Failed to parse JSON in the response");
    }
    if (first || (rc && !timed_out) || (!rc && r->status / 100 != 2 && !timed_out)) {
        json_decref(rd.chunks);
        json_decref(hs);
        json_decref(ps);
        name_missing(rc, r, path);
        return failure("read", rc, r, url, true);
    }
    if (timed_out)
        rd.up_to_date = true;
    json_t *out = json_pack("{s:s,s:b,s:i,s:o,s:s,s:b,s:b}", "type", "read", "success", 1, "status",
                            (int)(rd.status ? rd.status : 200), "chunks", rd.chunks, "offset", rd.offset,
                            "upToDate", rd.up_to_date, "streamClosed", rd.closed);
    if (rd.cursor[0])
        json_object_set_new(out, "cursor", json_string(rd.cursor));
    add_sent(out, hs, ps);
    return out;
}

/* ---- the idempotent producer --------------------------------------------------------------------- */

static json_t *producer_state(json_t *cmd, char *key, size_t cap) {
    snprintf(key, cap, "%s|%s|%lld", str(cmd, "path"), str(cmd, "producerId"),
             (long long)json_integer_value(json_object_get(cmd, "epoch")));
    json_t *p = json_object_get(g.producers, key);
    if (!p) {
        p = json_pack("{s:I,s:I}", "epoch", json_integer_value(json_object_get(cmd, "epoch")), "seq",
                      (json_int_t)0);
        json_object_set_new(g.producers, key, p);
    }
    return p;
}

/* One producer append of body (close: with Stream-Closed). */
static ss_rc producer_send(json_t *cmd, json_t *state, ss_slice body, bool close, ss_client_result *r, char *url,
                           size_t url_cap) {
    const char *path = str(cmd, "path");
    url_of(path, url, url_cap);
    ss_client_producer p = {.id = str(cmd, "producerId"),
                            .epoch = (uint64_t)json_integer_value(json_object_get(state, "epoch")),
                            .seq = (uint64_t)json_integer_value(json_object_get(state, "seq")),
                            .auto_claim = json_is_true(json_object_get(cmd, "autoClaim"))};
    ss_client_append_options o = {
        .content_type = type_of(path), .data = body, .close = close, .producer = &p, .max_retries = 3};
    ss_rc rc = ss_client_append(g.c, url, &o, r);
    json_object_set_new(state, "epoch", json_integer((json_int_t)p.epoch));
    json_object_set_new(state, "seq", json_integer((json_int_t)p.seq));
    return rc;
}

static json_t *cmd_idempotent_append(json_t *cmd, ss_client_result *r) {
    char key[1024], url[1024];
    json_t *hs, *ps;
    prepare(cmd, false, &hs, &ps);
    json_t *state = producer_state(cmd, key, sizeof key);
    char *body;
    size_t len;
    if (!body_of(cmd, str(cmd, "path"), "data", &body, &len))
        return error_result("idempotent-append", 0, "INVALID_ARGUMENT", "data is not base64");
    ss_rc rc = producer_send(cmd, state, ss_slice_of(body, len), false, r, url, sizeof url);
    ss_free(body);
    if (rc || r->status / 100 != 2)
        return failure("idempotent-append", rc, r, url, false);
    json_t *out = json_pack("{s:s,s:b,s:i,s:b}", "type", "idempotent-append", "success", 1, "status", 200,
                            "duplicate", r->duplicate);
    if (r->next_offset[0])
        json_object_set_new(out, "offset", json_string(r->next_offset));
    return out;
}

static json_t *cmd_idempotent_batch(json_t *cmd, ss_client_result *r) {
    char url[1024];
    json_t *hs, *ps;
    prepare(cmd, false, &hs, &ps);
    const char *path = str(cmd, "path");
    json_t *state = json_pack("{s:I,s:I}", "epoch", json_integer_value(json_object_get(cmd, "epoch")), "seq",
                              (json_int_t)0); /* a fresh producer per command */
    json_t *items = json_object_get(cmd, "items");
    json_t *mif = json_object_get(cmd, "maxInFlight");
    bool one_by_one = json_is_integer(mif) && json_integer_value(mif) > 1;
    bool json = is_json_type(type_of(path));
    size_t i;
    json_t *item;
    ss_rc rc = SS_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    json_array_foreach(items, i, item) {
        const char *s = json_string_value(item);
        size_t n = s ? strlen(s) : 0;
        if (len + n + 3 > cap) {
            cap = (len + n + 3) * 2;
            buf = realloc(buf, cap);
        }
        if (one_by_one) { /* one request per item, in order */
            len = 0;
            if (json)
                buf[len++] = '[';
            memcpy(buf + len, s, n);
            len += n;
            if (json)
                buf[len++] = ']';
            rc = producer_send(cmd, state, ss_slice_of(buf, len), false, r, url, sizeof url);
            if (rc || r->status / 100 != 2)
                break;
            continue;
        }
        if (json)
            buf[len++] = i ? ',' : '[';
        memcpy(buf + len, s, n);
        len += n;
    }
    if (!one_by_one && json_array_size(items)) {
        if (json)
            buf[len++] = ']';
        rc = producer_send(cmd, state, ss_slice_of(buf, len), false, r, url, sizeof url);
    }
    free(buf);
    json_int_t seq = json_integer_value(json_object_get(state, "seq"));
    json_decref(state);
    if (json_array_size(items) && (rc || r->status / 100 != 2))
        return failure("idempotent-append-batch", rc, r, url, false);
    return json_pack("{s:s,s:b,s:i,s:I}", "type", "idempotent-append-batch", "success", 1, "status", 200,
                     "producerSeq", seq ? seq - 1 : 0);
}

static json_t *cmd_idempotent_close(json_t *cmd, ss_client_result *r) {
    char key[1024], url[1024];
    json_t *hs, *ps;
    prepare(cmd, false, &hs, &ps);
    json_t *state = producer_state(cmd, key, sizeof key);
    json_t *done = json_object_get(state, "closed");
    if (done)
        return json_deep_copy(done);
    char *body;
    size_t len;
    if (!body_of(cmd, str(cmd, "path"), "data", &body, &len))
        return error_result("idempotent-close", 0, "INVALID_ARGUMENT", "data is not base64");
    ss_rc rc = producer_send(cmd, state, ss_slice_of(body, len), true, r, url, sizeof url);
    ss_free(body);
    if (rc || r->status / 100 != 2)
        return failure("idempotent-close", rc, r, url, false);
    json_t *out = json_pack("{s:s,s:b,s:i,s:s}", "type", "idempotent-close", "success", 1, "status", 200,
                            "finalOffset", r->next_offset);
    json_object_set(state, "closed", out);
    return out;
}

static json_t *cmd_idempotent_detach(json_t *cmd) {
    char key[1024];
    (void)producer_state(cmd, key, sizeof key);
    json_object_del(g.producers, key);
    return json_pack("{s:s,s:b,s:i}", "type", "idempotent-detach", "success", 1, "status", 200);
}

/* ---- settings and validation ----------------------------------------------------------------------- */

static json_t *cmd_dynamic(json_t *cmd, const char *type, const char *kind) {
    const char *name = str(cmd, "name");
    if (!name)
        return error_result(type, 0, "INVALID_ARGUMENT", "name is required");
    json_t *v = json_pack("{s:s,s:s,s:I}", "kind", kind, "valueType",
                          str(cmd, "valueType") ? str(cmd, "valueType") : "counter", "counter", (json_int_t)0);
    if (str(cmd, "initialValue"))
        json_object_set_new(v, "token", json_string(str(cmd, "initialValue")));
    json_object_set_new(g.dyn, name, v);
    return json_pack("{s:s,s:b}", "type", type, "success", 1);
}

static json_t *invalid(const char *message) { return error_result("validate", 0, "INVALID_ARGUMENT", message); }

static json_t *cmd_validate(json_t *cmd) {
    json_t *t = json_object_get(cmd, "target");
    const char *target = str(t, "target");
    json_t *v;
    if (target && !strcmp(target, "retry-options")) {
        double initial = 100;
        if ((v = json_object_get(t, "maxRetries")) && json_number_value(v) < 0)
            return invalid("maxRetries must be >= 0");
        if ((v = json_object_get(t, "initialDelayMs")) && (initial = json_number_value(v)) <= 0)
            return invalid("initialDelayMs must be > 0");
        if ((v = json_object_get(t, "maxDelayMs")) && json_number_value(v) < initial)
            return invalid("maxDelayMs must be >= initialDelayMs");
        if ((v = json_object_get(t, "multiplier")) && json_number_value(v) < 1)
            return invalid("multiplier must be >= 1");
    } else if (target && !strcmp(target, "idempotent-producer")) {
        if ((v = json_object_get(t, "epoch")) && json_number_value(v) < 0)
            return invalid("epoch must be >= 0");
        if ((v = json_object_get(t, "maxBatchBytes")) && json_number_value(v) <= 0)
            return invalid("maxBatchBytes must be > 0");
        if ((v = json_object_get(t, "maxBatchItems")) && json_number_value(v) <= 0)
            return invalid("maxBatchItems must be > 0");
    } else {
        return error_result("validate", 0, "NOT_SUPPORTED", "unknown validation target");
    }
    return json_pack("{s:s,s:b}", "type", "validate", "success", 1);
}

/* ---- benchmark operations (the runner's --bench mode) ------------------------------------------------ */

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct first_data {
    bool got;
    size_t bytes;
} first_data;

static bool on_first_data(void *ctx, const ss_client_result *r) {
    first_data *f = ctx;
    if (r->body.len) {
        f->got = true;
        f->bytes = r->body.len;
        return false; /* stop: the roundtrip is complete */
    }
    return true;
}

/* Reads the whole stream (catch-up); counts JSON values when `json`. */
static ss_rc read_all(const char *url, bool json, size_t *bytes, size_t *values, ss_client_result *r) {
    char offset[SS_CLIENT_OFFSET_MAX] = "-1";
    *bytes = *values = 0;
    for (;;) {
        ss_rc rc = ss_client_read(g.c, url, offset, r);
        if (rc || r->status / 100 != 2)
            return rc ? rc : SS_BADARG;
        *bytes += r->body.len;
        if (json && r->body.len) {
            json_t *v = json_loadb(r->body.p, r->body.len, 0, NULL);
            if (!v)
                return SS_CORRUPT;
            *values += json_is_array(v) ? json_array_size(v) : 1;
            json_decref(v);
        }
        if (r->up_to_date || r->closed || !strcmp(offset, r->next_offset))
            return SS_OK;
        snprintf(offset, sizeof offset, "%s", r->next_offset);
    }
}

static json_t *cmd_benchmark(json_t *cmd, ss_client_result *r) {
    json_t *op = json_object_get(cmd, "operation");
    const char *kind = str(op, "op"), *path = str(op, "path");
    if (!kind || !path)
        return error_result("benchmark", 0, "INVALID_ARGUMENT", "operation.op and operation.path are required");
    char url[1024];
    url_of(path, url, sizeof url);
    if (ss_client_set_headers(g.c, NULL)) /* no leftover per-command headers */
        return error_result("benchmark", 0, "INTERNAL_ERROR", "cannot reset headers");
    size_t size = (size_t)json_integer_value(json_object_get(op, "size"));
    char *payload = malloc(size ? size : 1);
    memset(payload, 42, size);
    json_t *metrics = json_object();
    ss_rc rc = SS_OK;
    bool ok = true;
    long long t0 = mono_ns();
    if (!strcmp(kind, "append")) {
        rc = ss_client_append(
            g.c, url,
            &(ss_client_append_options){.content_type = type_of(path), .data = ss_slice_of(payload, size)}, r);
        ok = !rc && r->status / 100 == 2;
        json_object_set_new(metrics, "bytesTransferred", json_integer((json_int_t)size));
    } else if (!strcmp(kind, "read")) {
        rc = ss_client_read(g.c, url, str(op, "offset") ? str(op, "offset") : "-1", r);
        ok = !rc && r->status / 100 == 2;
        json_object_set_new(metrics, "bytesTransferred", json_integer((json_int_t)r->body.len));
    } else if (!strcmp(kind, "create")) {
        const char *ct = str(op, "contentType") ? str(op, "contentType") : "application/octet-stream";
        rc = ss_client_create(g.c, url, &(ss_client_create_options){.content_type = ct}, r);
        ok = !rc && r->status / 100 == 2;
    } else if (!strcmp(kind, "roundtrip")) {
        /* create, start following live, append, wait for the data to come back */
        const char *ct = str(op, "contentType") ? str(op, "contentType") : "application/octet-stream";
        bool sse = str(op, "live") && !strcmp(str(op, "live"), "sse");
        rc = ss_client_create(g.c, url, &(ss_client_create_options){.content_type = ct}, r);
        ok = !rc && r->status / 100 == 2;
        char tail[SS_CLIENT_OFFSET_MAX];
        snprintf(tail, sizeof tail, "%s", r->next_offset);
        ss_slice body = ss_slice_of(payload, size);
        char *wrapped = NULL;
        if (ok && is_json_type(ct)) { /* a JSON stream takes a JSON value: a string of the bytes */
            wrapped = malloc(size + 3);
            wrapped[0] = '"';
            memset(wrapped + 1, 'x', size);
            wrapped[size + 1] = '"';
            body = ss_slice_of(wrapped, size + 2);
        }
        first_data f = {0};
        ss_client_watch *w = NULL;
        if (ok && sse)
            ok = ss_client_watch_new(NULL, url, &(ss_client_tail_options){.offset = tail}, on_first_data, &f,
                                     &w) == SS_OK;
        bool done = false;
        if (ok && sse) /* connect before the append */
            for (int i = 0; i < 50 && !done && ss_client_watch_result(w)->status == 0; i++) {
                struct pollfd fds[8];
                long timeout;
                size_t n = ss_client_watch_fds(w, fds, 8, &timeout);
                poll(fds, n, (int)(timeout < 10 ? timeout : 10));
                if (ss_client_watch_run(w, &done))
                    done = true;
            }
        if (ok)
            ok = ss_client_append(g.c, url, &(ss_client_append_options){.content_type = ct, .data = body}, r) ==
                     SS_OK &&
                 r->status / 100 == 2;
        if (ok && sse) {
            for (long long until = mono_ns() + 5000000000LL; !done && !f.got && mono_ns() < until;) {
                struct pollfd fds[8];
                long timeout;
                size_t n = ss_client_watch_fds(w, fds, 8, &timeout);
                poll(fds, n, (int)(timeout < 50 ? timeout : 50));
                if (ss_client_watch_run(w, &done))
                    done = true;
            }
        } else if (ok) {
            rc = ss_client_poll(g.c, url, tail, NULL, 5000, r);
            f.got = !rc && r->status == 200 && r->body.len;
            f.bytes = r->body.len;
        }
        ss_client_watch_free(w);
        free(wrapped);
        ok = ok && f.got;
        json_object_set_new(metrics, "bytesTransferred", json_integer((json_int_t)(size + f.bytes)));
    } else if (!strcmp(kind, "throughput_append")) {
        /* a producer batching up to 1 MiB per request (as the TypeScript client's producer does) */
        size_t count = (size_t)json_integer_value(json_object_get(op, "count"));
        rc = ss_client_create(g.c, url, &(ss_client_create_options){.content_type = type_of(path)}, r);
        if (rc == SS_OK && r->status / 100 != 2 && r->status != 409)
            rc = SS_BADARG; /* (409: it exists with other settings; appends will say) */
        ss_client_producer p = {.id = "bench-producer", .epoch = (uint64_t)mono_ns() / 1000000};
        ss_client_batcher *b = NULL;
        if (!rc)
            rc = ss_client_batcher_new(
                g.c, url, &p,
                &(ss_client_batch_options){
                    .max_bytes = 1 << 20, .max_items = 100000, .linger_ms = 60000, .content_type = type_of(path)},
                &b);
        bool sent;
        for (size_t i = 0; !rc && i < count; i++)
            rc = ss_client_batcher_add(b, ss_slice_of(payload, size), r, &sent);
        if (!rc)
            rc = ss_client_batcher_flush(b, r, &sent);
        ss_client_batcher_free(b);
        ok = !rc && (!sent || r->status / 100 == 2);
        json_object_set_new(metrics, "bytesTransferred", json_integer((json_int_t)(count * size)));
        json_object_set_new(metrics, "messagesProcessed", json_integer((json_int_t)count));
    } else if (!strcmp(kind, "throughput_read")) {
        size_t bytes, values;
        rc = read_all(url, true, &bytes, &values, r);
        ok = !rc;
        json_object_set_new(metrics, "bytesTransferred", json_integer((json_int_t)bytes));
        json_object_set_new(metrics, "messagesProcessed", json_integer((json_int_t)values));
    } else {
        free(payload);
        json_decref(metrics);
        return error_result("benchmark", 0, "NOT_SUPPORTED", "unknown benchmark operation");
    }
    long long ns = mono_ns() - t0;
    free(payload);
    if (!ok) {
        json_decref(metrics);
        return failure("benchmark", rc, r, url, false);
    }
    char d[32];
    snprintf(d, sizeof d, "%lld", ns);
    return json_pack("{s:s,s:b,s:O,s:s,s:o}", "type", "benchmark", "success", 1, "iterationId",
                     json_object_get(cmd, "iterationId"), "durationNs", d, "metrics", metrics);
}

/* ---- the loop --------------------------------------------------------------------------------------- */

static json_t *dispatch(json_t *cmd, const char *type, ss_client_result *r) {
    if (!strcmp(type, "init"))
        return cmd_init(cmd);
    if (!strcmp(type, "create"))
        return cmd_create(cmd, r);
    if (!strcmp(type, "connect") || !strcmp(type, "head"))
        return head_like(cmd, type, r);
    if (!strcmp(type, "append"))
        return cmd_append(cmd, r);
    if (!strcmp(type, "read"))
        return cmd_read(cmd, r);
    if (!strcmp(type, "delete"))
        return cmd_delete(cmd, r);
    if (!strcmp(type, "close"))
        return cmd_close(cmd, r);
    if (!strcmp(type, "idempotent-append"))
        return cmd_idempotent_append(cmd, r);
    if (!strcmp(type, "idempotent-append-batch"))
        return cmd_idempotent_batch(cmd, r);
    if (!strcmp(type, "idempotent-close"))
        return cmd_idempotent_close(cmd, r);
    if (!strcmp(type, "idempotent-detach"))
        return cmd_idempotent_detach(cmd);
    if (!strcmp(type, "set-dynamic-header"))
        return cmd_dynamic(cmd, type, "header");
    if (!strcmp(type, "set-dynamic-param"))
        return cmd_dynamic(cmd, type, "param");
    if (!strcmp(type, "clear-dynamic")) {
        json_object_clear(g.dyn);
        return json_pack("{s:s,s:b}", "type", type, "success", 1);
    }
    if (!strcmp(type, "validate"))
        return cmd_validate(cmd);
    if (!strcmp(type, "benchmark"))
        return cmd_benchmark(cmd, r);
    if (!strcmp(type, "shutdown"))
        return json_pack("{s:s,s:b}", "type", type, "success", 1);
    return error_result(type, 0, "NOT_SUPPORTED", "command not supported");
}

int main(void) {
    g.types = json_object();
    g.dyn = json_object();
    g.producers = json_object();
    g.params = json_object();
    if (ss_client_new(&(ss_client_options){.dynamic = dynamic_params}, &g.c)) {
        fprintf(stderr, "adapter: cannot start the HTTP client\n");
        return 1;
    }
    ss_client_result r;
    ss_client_result_init(&r);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool stop = false;
    while (!stop && (n = getline(&line, &cap, stdin)) > 0) {
        json_error_t err;
        json_t *cmd = json_loadb(line, (size_t)n, 0, &err);
        const char *type = cmd ? str(cmd, "type") : NULL;
        if (!type) {
            emit(error_result("init", 0, "PARSE_ERROR", err.text));
        } else {
            stop = !strcmp(type, "shutdown");
            emit(dispatch(cmd, type, &r));
        }
        json_decref(cmd);
    }
    free(line);
    ss_client_result_release(&r);
    ss_client_free(g.c);
    json_decref(g.types);
    json_decref(g.dyn);
    json_decref(g.producers);
    json_decref(g.params);
    return 0;
}
