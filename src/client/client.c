/* The Durable Streams client (streamsy/client.h): one libcurl easy handle
 * per ss_client, one blocking request per call. */
#include <curl/curl.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "streamsy/alloc.h"

#define DEFAULT_TIMEOUT_MS 30000
#define LIVE_EXTRA_TIMEOUT_MS 60000 /* a long-poll may wait this much longer than a request */

/* A header line must stay one line: no CR or LF anywhere. */
static bool one_line(const char *s) { return s && !strpbrk(s, "\r\n"); }

void ss_client_result_init(ss_client_result *r) {
    memset(r, 0, sizeof *r);
    ss_buf_init(&r->body, DEFAULT_MAX_RESPONSE_BYTES);
}

void ss_client_result_release(ss_client_result *r) { ss_buf_release(&r->body); }

/* Empties a result for the next exchange, keeping its body's memory. */
static void result_reset(ss_client_result *r, size_t max_body) {
    ss_buf body = r->body;
    memset(r, 0, sizeof *r);
    r->body = body;
    r->body.max = max_body;
    ss_buf_clear(&r->body);
}

ss_rc ss_client_new(const ss_client_options *o, ss_client **out) {
    static const ss_client_options none = {0};
    if (!out)
        return SS_MISUSE;
    if (!o)
        o = &none;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return SS_IOERR;
    ss_client *c = ss_calloc(1, sizeof *c);
    if (!c) {
        curl_global_cleanup();
        return SS_NOMEM;
    }
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->dynamic = o->dynamic;
    c->dynamic_ctx = o->dynamic_ctx;
    c->max_response_bytes = o->max_response_bytes ? o->max_response_bytes : DEFAULT_MAX_RESPONSE_BYTES;
    c->curl = curl_easy_init();
    bool ok = c->curl != NULL;
    for (const char *const *h = o->headers; ok && h && *h; h++) {
        if (!strchr(*h, ':') || !one_line(*h)) {
            ss_client_free(c);
            return SS_BADARG;
        }
        struct curl_slist *next = curl_slist_append(c->headers, *h);
        ok = next != NULL;
        if (ok)
            c->headers = next;
    }
    if (!ok) {
        ss_client_free(c);
        return SS_NOMEM;
    }
    *out = c;
    return SS_OK;
}

void ss_client_free(ss_client *c) {
    if (!c)
        return;
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->call_headers);
    if (c->curl)
        curl_easy_cleanup(c->curl);
    ss_free(c);
    curl_global_cleanup(); /* counted: the last client's free releases libcurl's globals */
}

/* Appends copies of every line of `from` to *to. */
static ss_rc append_lines(struct curl_slist **to, const struct curl_slist *from) {
    for (; from; from = from->next) {
        struct curl_slist *next = curl_slist_append(*to, from->data);
        if (!next)
            return SS_NOMEM;
        *to = next;
    }
    return SS_OK;
}

void ss_client_set_timeout(ss_client *c, long ms) {
    if (c && ms > 0)
        c->timeout_ms = ms;
}

ss_rc ss_client_set_headers(ss_client *c, const char *const *headers) {
    if (!c)
        return SS_MISUSE;
    struct curl_slist *l = NULL;
    for (const char *const *h = headers; h && *h; h++) {
        if (!strchr(*h, ':') || !one_line(*h)) {
            curl_slist_free_all(l);
            return SS_BADARG;
        }
        struct curl_slist *next = curl_slist_append(l, *h);
        if (!next) {
            curl_slist_free_all(l);
            return SS_NOMEM;
        }
        l = next;
    }
    curl_slist_free_all(c->call_headers);
    c->call_headers = l;
    return SS_OK;
}

void ss_client_dynamic_header(ss_client_dynamic *d, const char *name, const char *value) {
    if (d->err)
        return;
    if (!one_line(name) || !one_line(value) || !name[0] || strchr(name, ':')) {
        d->err = SS_BADARG;
        return;
    }
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof line) {
        d->err = SS_BADARG;
        return;
    }
    struct curl_slist *next = curl_slist_append(d->headers, line);
    if (next)
        d->headers = next;
    else
        d->err = SS_NOMEM;
}

void ss_client_dynamic_param(ss_client_dynamic *d, const char *name, const char *value) {
    if (d->err)
        return;
    if (!name || !value) {
        d->err = SS_BADARG;
        return;
    }
    char *n = curl_easy_escape(d->curl, name, 0), *v = curl_easy_escape(d->curl, value, 0);
    if (!n || !v) {
        d->err = SS_NOMEM;
    } else {
        ss_buf_append(&d->params, "&", 1);
        ss_buf_append_cstr(&d->params, n);
        ss_buf_append(&d->params, "=", 1);
        ss_buf_append_cstr(&d->params, v);
        d->err = d->params.err;
    }
    curl_free(n);
    curl_free(v);
}

/* ---- one exchange ------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
    ss__body_target *t = ctx;
    size_t len = size * n;
    if (t->q->sink && t->r->status / 100 == 2) {
        if (t->q->sink(t->q->sink_ctx, p, len, t->r))
            return len;
        t->stopped = true;
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    }
    return ss_buf_append(&t->r->body, p, len) == SS_OK ? len : 0; /* 0: curl stops (too big / no memory) */
}

/* Copies a header value (trimmed) into dst if the line is `name: value`. */
static bool header_value(const char *line, size_t len, const char *name, char *dst, size_t cap) {
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (vl >= cap)
        vl = cap - 1;
    memcpy(dst, v, vl);
    dst[vl] = '\0';
    return true;
}

/* Decimal digits only; false (and *out 0) otherwise. */
static bool parse_u64(const char *s, uint64_t *out) {
    *out = 0;
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx) {
    ss_client_result *r = ctx;
    size_t len = size * n;
    char flag[8], ttl[32];                         /* ttl: any decimal header value */
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after a 100 or a redirect) */
        ss_buf body = r->body;
        memset(r, 0, offsetof(ss_client_result, body));
        r->body = body;
        const char *sp = memchr(p, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    if (header_value(p, len, "Stream-SSE-Data-Encoding", ttl, sizeof ttl)) {
        r->sse_base64 = strcasecmp(ttl, "base64") == 0;
        return len;
    }
    if (header_value(p, len, "Stream-Next-Offset", r->next_offset, sizeof r->next_offset) ||
        header_value(p, len, "Content-Type", r->content_type, sizeof r->content_type) ||
        header_value(p, len, "Stream-Cursor", r->cursor, sizeof r->cursor) ||
        header_value(p, len, "Stream-Expires-At", r->expires_at, sizeof r->expires_at))
        return len;
    if (header_value(p, len, "Stream-Up-To-Date", flag, sizeof flag))
        r->up_to_date = strcasecmp(flag, "true") == 0;
    else if (header_value(p, len, "Stream-Closed", flag, sizeof flag))
        r->closed = strcasecmp(flag, "true") == 0;
    else if (header_value(p, len, "Stream-TTL", ttl, sizeof ttl))
        r->has_ttl = parse_u64(ttl, &r->ttl_s);
    else if (header_value(p, len, "Producer-Epoch", ttl, sizeof ttl))
        r->has_producer_epoch = parse_u64(ttl, &r->producer_epoch);
    else if (header_value(p, len, "Producer-Seq", ttl, sizeof ttl))
        r->has_producer_seq = parse_u64(ttl, &r->producer_seq);
    else if (header_value(p, len, "Producer-Expected-Seq", ttl, sizeof ttl))
        r->has_producer_expected_seq = parse_u64(ttl, &r->producer_expected_seq);
    else if (header_value(p, len, "Retry-After", ttl, sizeof ttl)) {
        uint64_t v;
        r->retry_after_s = parse_u64(ttl, &v) && v < 3600 ? (long)v : 0;
    }
    return len;
}

/* A non-2xx answer's body becomes the message (one line, trimmed). */
static void take_message(ss_client_result *r) {
    size_t n = r->body.len < sizeof r->message - 1 ? r->body.len : sizeof r->message - 1;
    if (n)
        memcpy(r->message, r->body.p, n);
    while (n && (r->message[n - 1] == '\n' || r->message[n - 1] == '\r' || r->message[n - 1] == ' '))
        n--;
    r->message[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (r->message[i] == '\n' || r->message[i] == '\r')
            r->message[i] = ' ';
    if (!n)
        snprintf(r->message, sizeof r->message, "HTTP %ld", r->status);
}

typedef ss__request request;

ss_rc ss__exchange_begin(ss_client *c, CURL *h, const ss__request *q, ss_client_result *r, ss__exchange *x) {
    memset(x, 0, sizeof *x);
    x->q = *q;
    x->target = (ss__body_target){&x->q, r, false};
    result_reset(r, c->max_response_bytes);
    curl_easy_reset(h);
    ss_client_dynamic d = {.curl = h};
    ss_buf_init(&d.params, 64 << 10);
    if (c->dynamic)
        c->dynamic(c->dynamic_ctx, &d);
    ss_rc rc = d.err;
    if (!rc)
        rc = append_lines(&x->headers, c->headers);
    if (!rc)
        rc = append_lines(&x->headers, d.headers);
    if (!rc)
        rc = append_lines(&x->headers, c->call_headers);
    curl_slist_free_all(d.headers);
    if (!rc && d.params.len) { /* the dynamic parameters join the query */
        size_t n = strlen(q->url) + d.params.len + 2;
        x->url = ss_malloc(n);
        if (x->url)
            snprintf(x->url, n, "%s%c%s", q->url, strchr(q->url, '?') ? '&' : '?', d.params.p + 1);
        else
            rc = SS_NOMEM;
    }
    ss_buf_release(&d.params);
    bool has_type = false;
    for (struct curl_slist *s = q->headers; s && !rc; s = s->next) {
        has_type |= strncasecmp(s->data, "Content-Type:", 13) == 0;
        struct curl_slist *next = curl_slist_append(x->headers, s->data);
        if (next)
            x->headers = next;
        else
            rc = SS_NOMEM;
    }
    if (!rc && !has_type) { /* no "application/x-www-form-urlencoded" from curl for a body we send */
        struct curl_slist *next = curl_slist_append(x->headers, "Content-Type:");
        if (next)
            x->headers = next;
        else
            rc = SS_NOMEM;
    }
    if (rc) {
        curl_slist_free_all(x->headers);
        ss_free(x->url);
        x->headers = NULL;
        x->url = NULL;
        return rc;
    }
    curl_easy_setopt(h, CURLOPT_URL, x->url ? x->url : q->url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     q->timeout_ms > 0 ? q->timeout_ms : c->timeout_ms + (q->live ? LIVE_EXTRA_TIMEOUT_MS : 0));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->target);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "streamsy-client");
    if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(q->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
        if (strcmp(q->method, "DELETE") != 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body.len ? q->body.p : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body.len);
        }
    }
    return SS_OK;
}

ss_rc ss__exchange_end(ss_client *c, CURL *h, ss__exchange *x, CURLcode cc) {
    ss_client_result *r = x->target.r;
    curl_slist_free_all(x->headers);
    ss_free(x->url);
    x->headers = NULL;
    x->url = NULL;
    if (cc == CURLE_WRITE_ERROR && x->target.stopped)
        cc = CURLE_OK; /* the sink had what it wanted */
    if (cc == CURLE_WRITE_ERROR && r->body.err) {
        snprintf(r->message, sizeof r->message, "response larger than %zu bytes", c->max_response_bytes);
        return r->body.err;
    }
    if (cc != CURLE_OK) {
        r->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
        if (!r->timed_out)
            r->status = 0; /* (a timed-out live read keeps the status it had) */
        snprintf(r->message, sizeof r->message, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
        return SS_IOERR;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status / 100 != 2)
        take_message(r);
    return SS_OK;
}

ss_rc ss__client_perform(ss_client *c, const ss__request *q, ss_client_result *r) {
    ss__exchange *x = ss_malloc(sizeof *x); /* (the error buffer is large) */
    if (!x)
        return SS_NOMEM;
    ss_rc rc = ss__exchange_begin(c, c->curl, q, r, x);
    if (!rc)
        rc = ss__exchange_end(c, c->curl, x, curl_easy_perform(c->curl));
    ss_free(x);
    return rc;
}

/* Adds "Name: value" to a header list. */
static ss_rc add_header(struct curl_slist **l, const char *name, const char *value) {
    if (!one_line(name) || !one_line(value))
        return SS_BADARG; /* (a CR or LF would smuggle in headers of its own) */
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof line)
        return SS_BADARG;
    struct curl_slist *next = curl_slist_append(*l, line);
    if (!next)
        return SS_NOMEM;
    *l = next;
    return SS_OK;
}

static bool bad_url(const char *url) {
    return !url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8));
}

/* ---- operations ------------------------------------------------------------------------ */

ss_rc ss_client_create(ss_client *c, const char *url, const ss_client_create_options *o, ss_client_result *r) {
    static const ss_client_create_options none = {0};
    if (!c || !r || bad_url(url))
        return SS_BADARG;
    if (!o)
        o = &none;
    struct curl_slist *hs = NULL;
    ss_rc rc = SS_OK;
    if (o->content_type || !o->forked_from) /* a fork takes its source's unless told */
        rc = add_header(&hs, "Content-Type", o->content_type ? o->content_type : "application/octet-stream");
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)o->ttl_s);
    if (!rc && o->has_ttl)
        rc = add_header(&hs, "Stream-TTL", ttl);
    if (!rc && o->expires_at)
        rc = add_header(&hs, "Stream-Expires-At", o->expires_at);
    if (!rc && o->closed)
        rc = add_header(&hs, "Stream-Closed", "true");
    if (!rc && o->forked_from)
        rc = add_header(&hs, "Stream-Forked-From", o->forked_from);
    if (!rc && o->fork_offset)
        rc = add_header(&hs, "Stream-Fork-Offset", o->fork_offset);
    if (!rc)
        rc = ss__client_perform(c, &(request){.method = "PUT", .url = url, .headers = hs, .body = o->data}, r);
    curl_slist_free_all(hs);
    return rc;
}

ss_rc ss_client_head(ss_client *c, const char *url, ss_client_result *r) {
    if (!c || !r || bad_url(url))
        return SS_BADARG;
    ss_rc rc = ss__client_perform(c, &(request){.method = "HEAD", .url = url}, r);
    if (!rc && r->status / 100 != 2 && r->status == 404)
        snprintf(r->message, sizeof r->message, "Stream not found: %s", url);
    return rc;
}

long ss__client_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void ss__client_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One POST with the append's headers (the producer's current triple). */
static ss_rc post_append(ss_client *c, const char *url, const ss_client_append_options *o,
                         const char *content_type, ss_client_result *r) {
    struct curl_slist *hs = NULL;
    ss_rc rc = SS_OK;
    char num[32];
    if (o->data.len)
        rc = add_header(&hs, "Content-Type", content_type);
    if (!rc && o->expected_offset)
        rc = add_header(&hs, "Stream-Expected-Offset", o->expected_offset);
    if (!rc && o->stream_seq)
        rc = add_header(&hs, "Stream-Seq", o->stream_seq);
    if (!rc && o->close)
        rc = add_header(&hs, "Stream-Closed", "true");
    if (!rc && o->producer) {
        rc = add_header(&hs, "Producer-Id", o->producer->id);
        snprintf(num, sizeof num, "%llu", (unsigned long long)o->producer->epoch);
        if (!rc)
            rc = add_header(&hs, "Producer-Epoch", num);
        snprintf(num, sizeof num, "%llu", (unsigned long long)o->producer->seq);
        if (!rc)
            rc = add_header(&hs, "Producer-Seq", num);
    }
    if (!rc)
        rc = ss__client_perform(c, &(request){.method = "POST", .url = url, .headers = hs, .body = o->data}, r);
    curl_slist_free_all(hs);
    return rc;
}

ss_rc ss_client_append(ss_client *c, const char *url, const ss_client_append_options *o, ss_client_result *r) {
    if (!c || !r || !o || bad_url(url) || (o->producer && (!o->producer->id || !o->producer->id[0])))
        return SS_BADARG;
    char content_type[SS_CLIENT_TEXT_MAX] = "";
    ss_rc rc = SS_OK;
    if (o->content_type) {
        snprintf(content_type, sizeof content_type, "%s", o->content_type);
    } else if (o->data.len) { /* the stream's own: an append must match it */
        if ((rc = ss_client_head(c, url, r)) || r->status / 100 != 2)
            return rc;
        snprintf(content_type, sizeof content_type, "%s", r->content_type);
    }
    if (!o->producer)
        return post_append(c, url, o, content_type, r);
    int max_retries = o->max_retries > 0 ? o->max_retries : DEFAULT_MAX_RETRIES;
    long backoff = BACKOFF_FIRST_MS;
    bool claimed = false;
    for (int attempt = 0;; attempt++) {
        rc = post_append(c, url, o, content_type, r);
        if (rc == SS_NOMEM || rc == SS_BADARG || rc == SS_TOOBIG)
            return rc;
        if (rc == SS_OK && r->status == 403 && o->producer->auto_claim && !claimed && r->has_producer_epoch) {
            o->producer->epoch = r->producer_epoch + 1; /* a newer session holds the stream: take over */
            o->producer->seq = 0;
            claimed = true;
            continue;
        }
        if (rc == SS_OK && r->status < 500 && r->status != 429)
            break;
        if (attempt >= max_retries) /* the same triple again: the server drops it if the first landed */
            return rc;
        ss__client_sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    r->duplicate = r->status == 204 && o->data.len; /* a close-only append is 204 anyway */
    if (r->status / 100 == 2)
        o->producer->seq++;
    return SS_OK;
}

ss_rc ss_client_close(ss_client *c, const char *url, ss_client_result *r) {
    return ss_client_append(c, url, &(ss_client_append_options){.close = true}, r);
}

ss_rc ss_client_delete(ss_client *c, const char *url, ss_client_result *r) {
    if (!c || !r || bad_url(url))
        return SS_BADARG;
    return ss__client_perform(c, &(request){.method = "DELETE", .url = url}, r);
}

char *ss__client_read_url(ss_client *c, const char *url, const char *offset, const char *live,
                          const char *cursor) {
    char *off = curl_easy_escape(c->curl, offset ? offset : "-1", 0);
    char *cur = cursor && cursor[0] ? curl_easy_escape(c->curl, cursor, 0) : NULL;
    char *out = NULL;
    if (off && (!cursor || !cursor[0] || cur)) {
        size_t n = strlen(url) + strlen(off) + (cur ? strlen(cur) : 0) + 64;
        out = ss_malloc(n);
        if (out)
            snprintf(out, n, "%s%coffset=%s%s%s%s%s", url, strchr(url, '?') ? '&' : '?', off, live ? "&live=" : "",
                     live ? live : "", cur ? "&cursor=" : "", cur ? cur : "");
    }
    curl_free(off);
    curl_free(cur);
    return out;
}

static ss_rc get(ss_client *c, const char *url, const char *offset, bool live, const char *cursor,
                 ss_client_result *r) {
    char *u = ss__client_read_url(c, url, offset, live ? "long-poll" : NULL, cursor);
    if (!u)
        return SS_NOMEM;
    ss_rc rc = ss__client_perform(c, &(request){.method = "GET", .url = u, .live = live}, r);
    ss_free(u);
    return rc;
}

ss_rc ss_client_read(ss_client *c, const char *url, const char *offset, ss_client_result *r) {
    if (!c || !r || bad_url(url))
        return SS_BADARG;
    return get(c, url, offset, false, NULL, r);
}

ss_rc ss_client_poll(ss_client *c, const char *url, const char *offset, const char *cursor, long timeout_ms,
                     ss_client_result *r) {
    if (!c || !r || bad_url(url) || !offset)
        return SS_BADARG;
    char *u = ss__client_read_url(c, url, offset, "long-poll", cursor);
    if (!u)
        return SS_NOMEM;
    ss_rc rc =
        ss__client_perform(c, &(request){.method = "GET", .url = u, .live = true, .timeout_ms = timeout_ms}, r);
    ss_free(u);
    return rc;
}

/* A failed attempt: after max_retries in a row, the error (SS_IOERR, or
 * SS_OK with the server's last 5xx/429 in r); else waits the backoff and
 * returns false (try again). */
static bool give_up(int *failures, int max_retries, long *backoff, const ss_client_result *r) {
    if (++*failures > max_retries)
        return true;
    long wait = *backoff;
    if (r->retry_after_s * 1000 > wait)
        wait = r->retry_after_s * 1000;
    ss__client_sleep_ms(wait);
    *backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2;
    return false;
}

static bool transient(ss_rc rc, const ss_client_result *r) {
    return rc == SS_IOERR || (rc == SS_OK && (r->status >= 500 || r->status == 429));
}

ss_rc ss_client_tail(ss_client *c, const char *url, const ss_client_tail_options *o, ss_client_tail_fn fn,
                     void *ctx, ss_client_result *last) {
    static const ss_client_tail_options none = {0};
    if (!c || !fn || !last || bad_url(url))
        return SS_BADARG;
    if (!o)
        o = &none;
    int max_retries = o->max_retries > 0 ? o->max_retries : DEFAULT_MAX_RETRIES;
    char offset[SS_CLIENT_OFFSET_MAX], cursor[SS_CLIENT_TEXT_MAX] = "";
    snprintf(offset, sizeof offset, "%s", o->offset ? o->offset : "-1");
    bool sse = !o->long_poll;
    bool json = false, json_known = false; /* SSE: a JSON stream's events are merged into one array per batch */
    bool live = false;                     /* long-poll: catch up first */
    int failures = 0;
    long backoff = BACKOFF_FIRST_MS;
    for (;;) {
        ss_rc rc;
        if (sse && !json_known) { /* what kind of stream (and whether it is there) */
            rc = ss_client_head(c, url, last);
            if (rc == SS_OK && !transient(rc, last)) {
                if (last->status / 100 != 2)
                    return SS_OK; /* refused */
                json = strncasecmp(last->content_type, "application/json", 16) == 0;
                json_known = true;
                continue;
            }
        } else if (sse) {
            bool ended, timed_out;
            size_t controls;
            rc = ss_client_sse(c, url, offset, cursor, json, 0, fn, ctx, last, &ended, &timed_out, &controls);
            bool not_sse = rc == SS_OK && last->status / 100 == 2 &&
                           strncasecmp(last->content_type, "text/event-stream", 17) != 0;
            if (rc == SS_OK && ended)
                return SS_OK;
            if (controls) { /* progress before whatever ended it: earlier failures are forgiven */
                failures = 0;
                backoff = BACKOFF_FIRST_MS;
            }
            if (not_sse || (rc == SS_OK && last->status == 400)) {
                sse = false; /* this server has no SSE (for this stream): long-poll instead */
                continue;
            }
            if (rc == SS_OK && last->status / 100 == 2) { /* the server ended the response (or our timeout) */
                if (controls)
                    continue;                                        /* it made progress: reconnect at once */
                if (give_up(&failures, max_retries, &backoff, last)) /* an empty answer: not a loop */
                    return SS_IOERR;
                continue;
            }
        } else {
            rc = get(c, url, offset, live, cursor, last);
            if (rc == SS_IOERR && live && last->timed_out)
                continue; /* a long-poll longer than our timeout: ask again */
        }
        if (transient(rc, last)) {
            if (give_up(&failures, max_retries, &backoff, last))
                return rc;
            continue;
        }
        if (rc)
            return rc;
        failures = 0;
        backoff = BACKOFF_FIRST_MS;
        if (last->status / 100 != 2)
            return SS_OK; /* refused (404, 400, 410): the caller reads last->status */
        if (last->next_offset[0])
            snprintf(offset, sizeof offset, "%s", last->next_offset);
        if (last->cursor[0])
            snprintf(cursor, sizeof cursor, "%s", last->cursor);
        if ((last->body.len || last->closed) && !fn(ctx, last))
            return SS_OK;
        if (last->closed)
            return SS_OK;
        if (last->up_to_date)
            live = true;
    }
}
