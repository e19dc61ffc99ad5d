/* The Durable Streams client (streamsy/client.h): one libcurl easy handle
 * per ss_client, one blocking request per call. */
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "streamsy/alloc.h"
#include "streamsy/client.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RESPONSE_BYTES ((size_t)256 << 20)
#define LIVE_EXTRA_TIMEOUT_MS 60000 /* a long-poll may wait this much longer than a request */
#define DEFAULT_MAX_RETRIES 10
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

struct ss_client {
    CURL *curl;
    struct curl_slist *headers; /* the options' headers, copied */
    long timeout_ms;
    size_t max_response_bytes;
};

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
    c->max_response_bytes = o->max_response_bytes ? o->max_response_bytes : DEFAULT_MAX_RESPONSE_BYTES;
    c->curl = curl_easy_init();
    bool ok = c->curl != NULL;
    for (const char *const *h = o->headers; ok && h && *h; h++) {
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
    if (c->curl)
        curl_easy_cleanup(c->curl);
    ss_free(c);
    curl_global_cleanup(); /* counted: the last client's free releases libcurl's globals */
}

/* ---- one exchange ------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
    ss_client_result *r = ctx;
    size_t len = size * n;
    return ss_buf_append(&r->body, p, len) == SS_OK ? len : 0; /* 0: curl stops (too big / no memory) */
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

static size_t on_header(char *p, size_t size, size_t n, void *ctx) {
    ss_client_result *r = ctx;
    size_t len = size * n;
    char flag[8], ttl[32];
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after a 100 or a redirect) */
        ss_buf body = r->body;
        memset(r, 0, offsetof(ss_client_result, body));
        r->body = body;
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
    else if (header_value(p, len, "Stream-TTL", ttl, sizeof ttl)) {
        char *end;
        unsigned long long v = strtoull(ttl, &end, 10);
        r->has_ttl = end != ttl && *end == '\0';
        r->ttl_s = r->has_ttl ? v : 0;
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

typedef struct request {
    const char *method; /* GET, HEAD, PUT, POST, DELETE */
    const char *url;
    struct curl_slist *headers; /* this request's own */
    ss_slice body;
    bool live; /* a long-poll: allow for the server's wait */
} request;

static ss_rc perform(ss_client *c, const request *q, ss_client_result *r) {
    CURL *h = c->curl;
    result_reset(r, c->max_response_bytes);
    curl_easy_reset(h);
    struct curl_slist *all = NULL;
    ss_rc rc = SS_OK;
    for (struct curl_slist *s = c->headers; s && !rc; s = s->next) {
        struct curl_slist *next = curl_slist_append(all, s->data);
        if (next)
            all = next;
        else
            rc = SS_NOMEM;
    }
    for (struct curl_slist *s = q->headers; s && !rc; s = s->next) {
        struct curl_slist *next = curl_slist_append(all, s->data);
        if (next)
            all = next;
        else
            rc = SS_NOMEM;
    }
    if (rc) {
        curl_slist_free_all(all);
        return rc;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, q->url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms + (q->live ? LIVE_EXTRA_TIMEOUT_MS : 0));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, all);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
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
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(all);
    if (cc == CURLE_WRITE_ERROR && r->body.err) {
        snprintf(r->message, sizeof r->message, "response larger than %zu bytes", c->max_response_bytes);
        return r->body.err;
    }
    if (cc != CURLE_OK) {
        r->status = 0;
        snprintf(r->message, sizeof r->message, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return SS_IOERR;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status / 100 != 2)
        take_message(r);
    return SS_OK;
}

/* Adds "Name: value" to a header list. */
static ss_rc add_header(struct curl_slist **l, const char *name, const char *value) {
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
    ss_rc rc = add_header(&hs, "Content-Type", o->content_type ? o->content_type : "application/octet-stream");
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)o->ttl_s);
    if (!rc && o->has_ttl)
        rc = add_header(&hs, "Stream-TTL", ttl);
    if (!rc && o->expires_at)
        rc = add_header(&hs, "Stream-Expires-At", o->expires_at);
    if (!rc && o->closed)
        rc = add_header(&hs, "Stream-Closed", "true");
    if (!rc)
        rc = perform(c, &(request){"PUT", url, hs, o->data, false}, r);
    curl_slist_free_all(hs);
    return rc;
}

ss_rc ss_client_head(ss_client *c, const char *url, ss_client_result *r) {
    if (!c || !r || bad_url(url))
        return SS_BADARG;
    ss_rc rc = perform(c, &(request){"HEAD", url, NULL, SS_SLICE_NULL, false}, r);
    if (!rc && r->status / 100 != 2 && r->status == 404)
        snprintf(r->message, sizeof r->message, "Stream not found: %s", url);
    return rc;
}

ss_rc ss_client_append(ss_client *c, const char *url, const ss_client_append_options *o, ss_client_result *r) {
    if (!c || !r || !o || bad_url(url) || (!o->data.len && !o->close))
        return SS_BADARG;
    char content_type[SS_CLIENT_TEXT_MAX];
    ss_rc rc = SS_OK;
    if (o->content_type) {
        snprintf(content_type, sizeof content_type, "%s", o->content_type);
    } else if (o->data.len) { /* the stream's own: an append must match it */
        if ((rc = ss_client_head(c, url, r)) || r->status / 100 != 2)
            return rc;
        snprintf(content_type, sizeof content_type, "%s", r->content_type);
    }
    struct curl_slist *hs = NULL;
    if (o->data.len)
        rc = add_header(&hs, "Content-Type", content_type);
    if (!rc && o->expected_offset)
        rc = add_header(&hs, "Stream-Expected-Offset", o->expected_offset);
    if (!rc && o->close)
        rc = add_header(&hs, "Stream-Closed", "true");
    if (!rc)
        rc = perform(c, &(request){"POST", url, hs, o->data, false}, r);
    curl_slist_free_all(hs);
    return rc;
}

ss_rc ss_client_close(ss_client *c, const char *url, ss_client_result *r) {
    return ss_client_append(c, url, &(ss_client_append_options){.close = true}, r);
}

ss_rc ss_client_delete(ss_client *c, const char *url, ss_client_result *r) {
    if (!c || !r || bad_url(url))
        return SS_BADARG;
    return perform(c, &(request){"DELETE", url, NULL, SS_SLICE_NULL, false}, r);
}

/* url?offset=O[&live=long-poll][&cursor=C], escaped; the caller frees it. */
static char *read_url(ss_client *c, const char *url, const char *offset, bool live, const char *cursor) {
    char *off = curl_easy_escape(c->curl, offset ? offset : "-1", 0);
    char *cur = cursor && cursor[0] ? curl_easy_escape(c->curl, cursor, 0) : NULL;
    char *out = NULL;
    if (off && (!cursor || !cursor[0] || cur)) {
        size_t n = strlen(url) + strlen(off) + (cur ? strlen(cur) : 0) + 64;
        out = ss_malloc(n);
        if (out)
            snprintf(out, n, "%s%coffset=%s%s%s%s", url, strchr(url, '?') ? '&' : '?', off,
                     live ? "&live=long-poll" : "", cur ? "&cursor=" : "", cur ? cur : "");
    }
    curl_free(off);
    curl_free(cur);
    return out;
}

static ss_rc get(ss_client *c, const char *url, const char *offset, bool live, const char *cursor,
                 ss_client_result *r) {
    char *u = read_url(c, url, offset, live, cursor);
    if (!u)
        return SS_NOMEM;
    ss_rc rc = perform(c, &(request){"GET", u, NULL, SS_SLICE_NULL, live}, r);
    ss_free(u);
    return rc;
}

ss_rc ss_client_read(ss_client *c, const char *url, const char *offset, ss_client_result *r) {
    if (!c || !r || bad_url(url))
        return SS_BADARG;
    return get(c, url, offset, false, NULL, r);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

ss_rc ss_client_tail(ss_client *c, const char *url, const ss_client_tail_options *o, ss_client_tail_fn fn,
                     void *ctx, ss_client_result *last) {
    static const ss_client_tail_options none = {0};
    if (!c || !fn || !last || bad_url(url))
        return SS_BADARG;
    if (!o)
        o = &none;
    int max_retries = o->max_retries > 0 ? o->max_retries : DEFAULT_MAX_RETRIES;
    char offset[SS_OFFSET_MAX + 1], cursor[SS_CLIENT_TEXT_MAX] = "";
    snprintf(offset, sizeof offset, "%s", o->offset ? o->offset : "-1");
    bool live = false; /* catch up first, then long-poll */
    int failures = 0;
    long backoff = BACKOFF_FIRST_MS;
    for (;;) {
        ss_rc rc = get(c, url, offset, live, cursor, last);
        if (rc == SS_NOMEM || rc == SS_TOOBIG || rc == SS_BADARG)
            return rc;
        if (rc || last->status >= 500 || last->status == 429) { /* retry from the same offset */
            if (++failures > max_retries)
                return rc ? rc : SS_IOERR;
            sleep_ms(backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
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
