/* The routes under {prefix}/__ds (the wire contract of docs/subscriptions.md):
 *
 *   PUT|GET|DELETE  /subscriptions/{id}            create or re-confirm, read, delete
 *   POST            /subscriptions/{id}/streams    link streams explicitly
 *   DELETE          /subscriptions/{id}/streams/{path}
 *   POST            /subscriptions/{id}/callback   webhook: ack (+ done)
 *   POST            /subscriptions/{id}/claim      pull-wake: take the wake
 *   POST            /subscriptions/{id}/ack        pull-wake: ack / heartbeat (+ done)
 *   POST            /subscriptions/{id}/release    pull-wake: give the wake back
 *   GET             /jwks.json                     the webhook signing keys
 *
 * Errors are {"error":{"code","message"}} with the status of the code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json_scan.h"
#include "base/log.h"
#include "internal.h"
#include "streamsy/alloc.h"

#define MAX_SEGMENTS 64

typedef struct route_req {
    ss_subs *s;
    const ss_http_request *http;
    ss_http_response *res;
    int64_t now;
    char origin[300];
} route_req;

/* ---- answers ------------------------------------------------------------------------------- */

static void respond_json(route_req *r, int status, json_t *body) {
    r->res->status = status;
    ss_buf_clear(&r->res->body);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        r->res->status = 503;
        (void)ss_http_response_header(r->res, "Content-Type", ss_slice_cstr("text/plain"));
        ss_buf_append_cstr(&r->res->body, "Out of memory");
        return;
    }
    (void)ss_http_response_header(r->res, "Content-Type", ss_slice_cstr("application/json"));
    ss_buf_append_cstr(&r->res->body, text);
    free(text);
}

static void respond_error(route_req *r, int status, const char *code, const char *message) {
    respond_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

static void respond_text(route_req *r, int status, const char *text) {
    r->res->status = status;
    ss_buf_clear(&r->res->body);
    (void)ss_http_response_header(r->res, "Content-Type", ss_slice_cstr("text/plain"));
    ss_buf_append_cstr(&r->res->body, text);
}

static void respond_empty(route_req *r) {
    r->res->status = 204;
    ss_buf_clear(&r->res->body);
}

/* A storage or memory failure, as the handler answers them. */
static void respond_rc(route_req *r, ss_rc rc) {
    switch (rc) {
    case SS_BUSY:
        respond_text(r, 503, "Storage busy, retry later");
        (void)ss_http_response_header(r->res, "Retry-After", ss_slice_cstr("1"));
        return;
    case SS_FULL:
        respond_text(r, 507, "Storage full");
        return;
    case SS_NOMEM:
        respond_text(r, 503, "Out of memory");
        return;
    default:
        respond_text(r, 500, rc == SS_CORRUPT ? "Storage corrupt" : "Storage I/O error");
        return;
    }
}

static void not_found(route_req *r) { respond_error(r, 404, "SUBSCRIPTION_NOT_FOUND", "Subscription not found"); }

/* ---- request parts ------------------------------------------------------------------------ */

/* Percent-decodes into a fresh string (*out): SS_BADARG for a bad escape, a
 * NUL or bytes that are not UTF-8 (ids and paths go into JSON), SS_NOMEM. */
static ss_rc pct_decode(ss_slice in, char **out) {
    char *d = ss_malloc(in.len + 1);
    if (!d)
        return SS_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.p[i];
        if (c == '%') {
            int hi = i + 2 < in.len ? ss_hex_value(in.p[i + 1]) : -1;
            int lo = hi >= 0 ? ss_hex_value(in.p[i + 2]) : -1;
            if (lo < 0) {
                ss_free(d);
                return SS_BADARG;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            ss_free(d);
            return SS_BADARG;
        }
        d[n++] = c;
    }
    d[n] = '\0';
    if (!ss_utf8_is_valid(ss_slice_of(d, n))) {
        ss_free(d);
        return SS_BADARG;
    }
    *out = d;
    return SS_OK;
}

/* The JSON body: {} when empty; NULL (answered) when it is not JSON. */
static json_t *read_body(route_req *r) {
    ss_slice b = r->http->body;
    json_t *j = b.len ? json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, NULL) : json_object();
    if (!j)
        respond_error(r, 400, "INVALID_REQUEST", "Invalid JSON body");
    return j;
}

static ss_slice header(const ss_http_request *q, const char *name) {
    for (size_t i = 0; i < q->n_headers; i++)
        if (ss_slice_ieq_cstr(q->headers[i].name, name))
            return q->headers[i].value;
    return (ss_slice){"", 0};
}

#define MAX_TOKEN_BYTES 512 /* ours are about 90 */

/* The Bearer token into out (NUL-terminated); false when there is none or it is too long to be ours. */
static bool bearer(const ss_http_request *q, char out[MAX_TOKEN_BYTES + 1]) {
    ss_slice a = header(q, "Authorization");
    if (a.len <= 7 || memcmp(a.p, "Bearer ", 7) != 0 || a.len - 7 > MAX_TOKEN_BYTES || memchr(a.p, '\0', a.len))
        return false;
    memcpy(out, a.p + 7, a.len - 7);
    out[a.len - 7] = '\0';
    return true;
}

static const char *opt_string(const json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v && v[0] ? v : NULL;
}

/* ---- PUT /subscriptions/{id} ------------------------------------------------------------- */

typedef struct create_input {
    sub_type type;
    char *pattern, *webhook_url, *wake_stream, *description;
    char *wake_raw; /* wake_stream as given */
    char **streams; /* as given (exact ids); normalised for the identity hash */
    size_t n_streams;
    int64_t lease_ttl_ms;
} create_input;

static void create_input_release(create_input *in) {
    ss_free(in->pattern);
    ss_free(in->webhook_url);
    ss_free(in->wake_stream);
    ss_free(in->wake_raw);
    ss_free(in->description);
    for (size_t i = 0; i < in->n_streams; i++)
        ss_free(in->streams[i]);
    ss_free(in->streams);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Why a (normalised) stream path or pattern cannot be used, or NULL: the
 * handler's rules for stream ids (length, no dot segments, not __ds). */
static const char *bad_path(const char *p, bool pattern) {
    size_t len = strlen(p), segments = 0;
    if (!len)
        return "stream paths must not be empty";
    if (len > SS_SUBS_MAX_PATH_BYTES)
        return "stream paths and patterns are at most 1024 bytes";
    for (const char *seg = p; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return "stream paths must not have . or .. segments";
        segments++;
    }
    if (strncmp(p, "__ds", 4) == 0 && (p[4] == '\0' || p[4] == '/'))
        return "__ds is reserved";
    if (pattern && segments > SS_SUBS_MAX_PATTERN_SEGMENTS)
        return "patterns have at most 64 segments";
    return NULL;
}

/* The reason the body is refused, or NULL with `in` filled (streams sorted, de-duplicated). */
static const char *parse_create(const json_t *body, bool *nomem, create_input *in) {
    if (!json_is_object(body))
        return "Request body must be a JSON object";
    const char *type = json_string_value(json_object_get(body, "type"));
    if (!type || (strcmp(type, "webhook") != 0 && strcmp(type, "pull-wake") != 0))
        return "type must be \"webhook\" or \"pull-wake\"";
    in->type = strcmp(type, "webhook") == 0 ? SUB_WEBHOOK : SUB_PULL_WAKE;
    const char *pattern = opt_string(body, "pattern"), *why;
    if (pattern && !(in->pattern = ss__subs_normalize_path(pattern, strlen(pattern))))
        return *nomem = true, "";
    if (in->pattern && (why = bad_path(in->pattern, true)) != NULL)
        return why;
    const json_t *streams = json_object_get(body, "streams");
    if (json_is_array(streams) && json_array_size(streams)) {
        if (json_array_size(streams) > SS_SUBS_MAX_LINKS)
            return "too many streams";
        if (!(in->streams = ss_calloc(json_array_size(streams), sizeof *in->streams)))
            return *nomem = true, "";
        size_t i;
        const json_t *v;
        json_array_foreach(streams, i, v) {
            if (!json_is_string(v))
                return "streams must contain only strings";
            if (strlen(json_string_value(v)) != json_string_length(v))
                return "streams must not contain NUL";
            char *p = ss__subs_strdup(json_string_value(v));
            char *norm = p ? ss__subs_normalize_path(p, strlen(p)) : NULL;
            if (!norm) {
                ss_free(p);
                return *nomem = true, "";
            }
            in->streams[in->n_streams++] = p;
            why = bad_path(norm, false);
            ss_free(norm);
            if (why)
                return why;
        }
        qsort(in->streams, in->n_streams, sizeof *in->streams, cmp_str);
        size_t n = 0;
        for (size_t k = 0; k < in->n_streams; k++) {
            if (n && strcmp(in->streams[n - 1], in->streams[k]) == 0)
                ss_free(in->streams[k]);
            else
                in->streams[n++] = in->streams[k];
        }
        in->n_streams = n;
    }
    if (!in->pattern && !in->n_streams)
        return "At least one of pattern or streams is required";
    const json_t *ttl = json_object_get(body, "lease_ttl_ms");
    in->lease_ttl_ms = SS_SUBS_DEFAULT_LEASE_TTL_MS;
    if (ttl) {
        double d = json_number_value(ttl);
        if (!json_is_number(ttl) || d != (double)(int64_t)d || d < SS_SUBS_MIN_LEASE_TTL_MS ||
            d > SS_SUBS_MAX_LEASE_TTL_MS)
            return "lease_ttl_ms must be an integer from 1000 to 600000";
        in->lease_ttl_ms = (int64_t)d;
    }
    if (in->type == SUB_WEBHOOK) {
        const json_t *wh = json_object_get(body, "webhook");
        const char *url = opt_string(wh, "url");
        if (!json_is_object(wh) || !url)
            return "webhook subscriptions require webhook.url";
        if (strlen(url) > SS_SUBS_MAX_URL_BYTES)
            return "webhook.url is too long";
        if (!(in->webhook_url = ss__subs_strdup(url)))
            return *nomem = true, "";
    }
    const char *wake = opt_string(body, "wake_stream");
    if (wake && (!(in->wake_stream = ss__subs_normalize_path(wake, strlen(wake))) ||
                 !(in->wake_raw = ss__subs_strdup(wake))))
        return *nomem = true, "";
    if (in->type == SUB_PULL_WAKE && (!in->wake_stream || !in->wake_stream[0]))
        return "pull-wake subscriptions require wake_stream";
    if (in->wake_stream && in->wake_stream[0] && (why = bad_path(in->wake_stream, false)) != NULL)
        return why;
    const char *description = json_string_value(json_object_get(body, "description"));
    if (description && strlen(description) > SS_SUBS_MAX_DESCRIPTION_BYTES)
        return "description is too long";
    if (description && !(in->description = ss__subs_strdup(description)))
        return *nomem = true, "";
    return NULL;
}

/* sha256 over the canonical configuration (what makes a re-PUT identical). */
static bool config_hash(const create_input *in, char out[65]) {
    char **norm = ss_calloc(in->n_streams + 1, sizeof *norm);
    size_t n = 0;
    for (size_t i = 0; norm && i < in->n_streams; i++)
        if ((norm[n] = ss__subs_normalize_path(in->streams[i], strlen(in->streams[i]))) != NULL)
            n++;
    if (norm)
        qsort(norm, n, sizeof *norm, cmp_str);
    json_t *streams = norm && n == in->n_streams ? json_array() : NULL;
    for (size_t i = 0; streams && i < n; i++)
        if (!i || strcmp(norm[i - 1], norm[i]) != 0) /* sorted, de-duplicated */
            json_array_append_new(streams, json_string(norm[i]));
    for (size_t i = 0; i < n; i++)
        ss_free(norm[i]);
    ss_free(norm);
    if (!streams)
        return false;
    json_t *c =
        json_pack("{s:s,s:s?,s:o,s:s?,s:s?,s:I,s:s?}", "type", in->type == SUB_WEBHOOK ? "webhook" : "pull-wake",
                  "pattern", in->pattern, "streams", streams, "webhook_url", in->webhook_url, "wake_stream",
                  in->wake_stream, "lease_ttl_ms", (json_int_t)in->lease_ttl_ms, "description", in->description);
    char *text = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(c);
    if (!text)
        return false;
    ss__subs_sha256_hex(text, strlen(text), out);
    free(text);
    return true;
}

static void iso_time(int64_t ms, char out[32]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

typedef struct link_job {
    ss_subs *s;
    subscription *sub;
    ss_rc rc; /* the first failure: the subscription is not created, no link may go missing */
} link_job;

static void link_existing(void *ctx, ss_slice id) {
    link_job *j = ctx;
    if (j->rc || (id.len >= 4 && memcmp(id.p, "__ds", 4) == 0 && (id.len == 4 || id.p[4] == '/')))
        return;
    char *path = ss_malloc(id.len + 1); /* links name streams by their exact ids */
    if (!path) {
        j->rc = SS_NOMEM;
        return;
    }
    memcpy(path, id.p, id.len);
    path[id.len] = '\0';
    ss_offset tail;
    if (strlen(path) == id.len && ss__sub_globbed(j->sub, path)) {
        if (j->sub->n_links >= SS_SUBS_MAX_LINKS)
            j->rc = SS_TOOBIG;
        else if (!(j->rc = ss__subs_tail(j->s, path, &tail)) && !ss__sub_add_link(j->sub, path, true, &tail))
            j->rc = SS_NOMEM;
    }
    ss_free(path);
}

/* The link a client names: the stream id as given, else its normalised form
 * (explicit links are normalised, links made by triggers keep the exact id). */
static sub_link *named_link(subscription *sub, const char *name) {
    sub_link *l = ss__sub_link(sub, name);
    if (l)
        return l;
    char *n = ss__subs_normalize_path(name, strlen(name));
    l = n && n[0] ? ss__sub_link(sub, n) : NULL;
    ss_free(n);
    return l;
}

/* The stream an API path names: the exact id when such a stream exists,
 * else its form without leading and trailing '/' (the reference's reading).
 * A fresh string in *out. */
static ss_rc stream_for(ss_subs *s, const char *given, char **out) {
    char *norm = ss__subs_normalize_path(given, strlen(given));
    if (!norm)
        return SS_NOMEM;
    if (strcmp(norm, given) != 0) {
        ss_get_result g;
        ss_rc rc = ss_protocol_get(s->p, ss_slice_cstr(given), &g);
        if (rc) {
            ss_free(norm);
            return rc;
        }
        bool exact = g.status == SS_PRESENT;
        ss_stream_release(g.stream);
        if (exact) {
            ss_free(norm);
            if (!(norm = ss__subs_strdup(given)))
                return SS_NOMEM;
        }
    }
    *out = norm;
    return SS_OK;
}

/* Links an explicit stream at its current tail. SS_TOOBIG at SS_SUBS_MAX_LINKS. */
static ss_rc link_explicit(ss_subs *s, subscription *sub, const char *given) {
    char *id = NULL;
    ss_offset tail;
    ss_rc rc = stream_for(s, given, &id);
    if (!rc)
        rc = ss__subs_tail(s, id, &tail);
    if (!rc && !ss__sub_link(sub, id) && sub->n_links >= SS_SUBS_MAX_LINKS)
        rc = SS_TOOBIG;
    if (!rc && !ss__sub_add_link(sub, id, false, &tail))
        rc = SS_NOMEM;
    ss_free(id);
    return rc;
}

static void handle_put(route_req *r, const char *id) {
    json_t *body = read_body(r);
    if (!body)
        return;
    create_input in = {0};
    bool nomem = false;
    const char *why = parse_create(body, &nomem, &in);
    json_decref(body);
    char hash[65];
    if (nomem || (!why && !config_hash(&in, hash))) {
        respond_text(r, 503, "Out of memory");
        goto done;
    }
    if (why) {
        respond_error(r, 400, "INVALID_REQUEST", why);
        goto done;
    }
    ss_subs *s = r->s;
    subscription *sub = ss__subs_find(s, ss_slice_cstr(id));
    if (sub) {
        if (strcmp(sub->config_hash, hash) != 0)
            respond_error(r, 409, "SUBSCRIPTION_ALREADY_EXISTS",
                          "Subscription already exists with different configuration");
        else
            respond_json(r, 200, ss__sub_serialize(s, sub, r->origin));
        goto done;
    }
    if (in.type == SUB_WEBHOOK && !s->webhooks) {
        respond_error(r, 400, "INVALID_REQUEST", "webhook subscriptions are not enabled on this server");
        goto done;
    }
    const char *refusal = in.webhook_url ? ss__subs_url_refusal(in.webhook_url) : NULL;
    if (refusal) {
        respond_error(r, 400, "WEBHOOK_URL_REJECTED", refusal);
        goto done;
    }
    if (ss__map_size(&s->subs) >= SS_SUBS_MAX_SUBSCRIPTIONS) {
        respond_error(r, 400, "INVALID_REQUEST", "too many subscriptions on this server");
        goto done;
    }
    if (!(sub = ss__sub_new()) || !(sub->id = ss__subs_strdup(id)) ||
        !(sub->origin = ss__subs_strdup(r->origin))) {
        ss__sub_free(sub);
        respond_text(r, 503, "Out of memory");
        goto done;
    }
    sub->type = in.type;
    sub->pattern = in.pattern, sub->webhook_url = in.webhook_url, sub->description = in.description;
    in.pattern = in.webhook_url = in.description = NULL;
    sub->lease_ttl_ms = in.lease_ttl_ms;
    memcpy(sub->config_hash, hash, sizeof hash);
    iso_time(r->now, sub->created_at);
    ss_rc rc = in.wake_raw ? stream_for(s, in.wake_raw, &sub->wake_stream) : SS_OK;
    for (size_t i = 0; !rc && i < in.n_streams; i++)
        rc = link_explicit(s, sub, in.streams[i]);
    link_job j = {s, sub, SS_OK};
    if (!rc && sub->pattern && !(rc = ss_storage_for_each_stream(s->storage, link_existing, &j)))
        rc = j.rc;
    if (!rc)
        rc = ss__subs_register(s, sub);
    if (rc) {
        ss__sub_free(sub);
        if (rc == SS_TOOBIG)
            respond_error(r, 400, "INVALID_REQUEST", "the subscription would link more than 10000 streams");
        else
            respond_rc(r, rc);
        goto done;
    }
    rc = ss__sub_save(s, sub);
    if (rc) {
        ss__subs_unregister(s, sub);
        ss__sub_free(sub);
        respond_rc(r, rc);
        goto done;
    }
    s->stats.subscriptions = ss__map_size(&s->subs);
    ss__logf(SS__LOG_INFO, "subscriptions", "created %s subscription %s (%zu streams linked)",
             sub->type == SUB_WEBHOOK ? "webhook" : "pull-wake", sub->id, sub->n_links);
    respond_json(r, 201, ss__sub_serialize(s, sub, r->origin));
done:
    create_input_release(&in);
}

static void handle_delete(route_req *r, const char *id) {
    subscription *sub = ss__subs_find(r->s, ss_slice_cstr(id));
    if (sub) { /* the document first: a subscription the storage still has is not gone */
        ss_buf key;
        ss_buf_init(&key, 512);
        ss_buf_printf(&key, SUBS_DOC_PREFIX "%s", id);
        ss_rc rc = key.err ? SS_NOMEM : ss_storage_doc_remove(r->s->storage, ss_buf_slice(&key));
        ss_buf_release(&key);
        if (rc) {
            ss__logf(SS__LOG_ERROR, "subscriptions", "cannot remove subscription %s: %s", id, ss_rc_str(rc));
            respond_rc(r, rc);
            return;
        }
        ss__subs_unregister(r->s, sub);
        ss__sub_free(sub);
        r->s->stats.subscriptions = ss__map_size(&r->s->subs);
    }
    respond_empty(r);
}

/* ---- membership ----------------------------------------------------------------------------- */

static void handle_add_streams(route_req *r, subscription *sub) {
    json_t *body = read_body(r);
    if (!body)
        return;
    const json_t *streams = json_object_get(body, "streams");
    bool ok = json_is_array(streams) && json_array_size(streams) <= SS_SUBS_MAX_LINKS;
    size_t i;
    const json_t *v;
    json_array_foreach(streams, i, v) ok = ok && json_is_string(v) && json_string_length(v) > 0 &&
                                           strlen(json_string_value(v)) == json_string_length(v);
    if (!ok) {
        json_decref(body);
        respond_error(r, 400, "INVALID_REQUEST", "streams must be a non-empty string array");
        return;
    }
    char **paths = ss_calloc(json_array_size(streams) + 1, sizeof *paths);
    const char *why = paths ? NULL : "";
    json_array_foreach(streams, i, v) {
        if (why || !(paths[i] = ss__subs_normalize_path(json_string_value(v), json_string_length(v))))
            why = why ? why : "";
        else
            why = bad_path(paths[i], false);
    }
    ss_rc rc = SS_OK;
    json_array_foreach(streams, i, v) {
        if (!why && !rc)
            rc = link_explicit(r->s, sub, json_string_value(v));
    }
    for (i = 0; paths && i < json_array_size(streams); i++)
        ss_free(paths[i]);
    ss_free(paths);
    json_decref(body);
    if (why) {
        if (why[0])
            respond_error(r, 400, "INVALID_REQUEST", why);
        else
            respond_text(r, 503, "Out of memory");
        return;
    }
    ss_rc saved = ss__sub_save(r->s, sub); /* the links made before a failure stay: each is whole */
    if (rc == SS_TOOBIG)
        respond_error(r, 400, "INVALID_REQUEST", "the subscription would link more than 10000 streams");
    else if (rc || saved)
        respond_rc(r, rc ? rc : saved);
    else
        respond_empty(r);
}

static void handle_remove_stream(route_req *r, subscription *sub, const char *name) {
    sub_link *l = named_link(sub, name);
    if (l && l->by_explicit) {
        l->by_explicit = false;
        if (!l->by_glob)
            ss__sub_drop_link(sub, l->path);
        ss_rc rc = ss__sub_save(r->s, sub);
        if (rc) {
            respond_rc(r, rc);
            return;
        }
    }
    respond_empty(r);
}

/* ---- wakes: callback, claim, ack, release ------------------------------------------------------------ */

/* Steps 3-5 of the contract: the Bearer token, its validity, the generation
 * and wake_id of token and body. False when answered. */
static bool check_wake(route_req *r, const subscription *sub, const json_t *body) {
    char token[MAX_TOKEN_BYTES + 1];
    if (!bearer(r->http, token)) {
        respond_error(r, 401, "TOKEN_INVALID", "Missing or malformed Authorization header");
        return false;
    }
    uint64_t generation = 0;
    subs_token_check c = ss__subs_token_check(r->s, sub->id, token, r->now, &generation);
    if (c != SUBS_TOKEN_OK) {
        bool expired = c == SUBS_TOKEN_EXPIRED;
        respond_error(r, 401, expired ? "TOKEN_EXPIRED" : "TOKEN_INVALID",
                      expired ? "Token expired" : "Token invalid");
        return false;
    }
    const json_t *g = json_object_get(body, "generation");
    const char *wake_id = json_string_value(json_object_get(body, "wake_id"));
    if (generation != sub->generation || !json_is_integer(g) ||
        (uint64_t)json_integer_value(g) != sub->generation || !wake_id || !sub->wake_id[0] ||
        strcmp(wake_id, sub->wake_id) != 0) {
        respond_error(r, 409, "FENCED", "Wake generation is stale");
        return false;
    }
    return true;
}

/* Step 6: every ack names a linked stream with an offset from its cursor up
 * to its tail; then all are applied. False when answered (nothing applied). */
static bool apply_acks(route_req *r, subscription *sub, const json_t *body) {
    const json_t *acks = json_object_get(body, "acks");
    if (!acks || json_is_null(acks))
        return true;
    if (!json_is_array(acks)) {
        respond_error(r, 400, "INVALID_REQUEST", "acks must be an array");
        return false;
    }
    size_t n = json_array_size(acks), i;
    ss_offset *to = ss_calloc(n + 1, sizeof *to);
    sub_link **links = ss_calloc(n + 1, sizeof *links);
    ss_rc rc = to && links ? SS_OK : SS_NOMEM;
    const char *err = rc ? "" : NULL;
    const json_t *a;
    json_array_foreach(acks, i, a) {
        if (err)
            break;
        const char *stream = opt_string(a, "stream") ? opt_string(a, "stream") : opt_string(a, "path");
        const char *offset = json_string_value(json_object_get(a, "offset"));
        sub_link *l = stream ? named_link(sub, stream) : NULL;
        ss_offset tail;
        if (!l)
            err = "Ack references an unknown subscription stream";
        else if (!offset || ss_offset_set(&to[i], ss_slice_cstr(offset)))
            err = "Ack offset is not an offset";
        else if (strcmp(offset, SUBS_BEFORE_FIRST) == 0)
            err = "Ack offset must not be -1";
        else if (ss_offset_cmp(&to[i], &l->acked) < 0)
            err = "Ack offset regresses the committed cursor";
        else if ((rc = ss__subs_tail(r->s, l->path, &tail)) != SS_OK)
            err = "";
        else if (ss_offset_cmp(&to[i], &tail) > 0)
            err = "Ack offset is beyond stream tail";
        links[i] = l;
    }
    if (!err)
        for (i = 0; i < n; i++)
            links[i]->acked = to[i];
    ss_free(to);
    ss_free(links);
    if (err && !err[0])
        respond_rc(r, rc);
    else if (err)
        respond_error(r, 409, "INVALID_OFFSET", err);
    return err == NULL;
}

/* callback and ack: acks, lease, then done ends the wake. */
static void handle_ack(route_req *r, subscription *sub, bool pull_wake_only) {
    if (pull_wake_only && sub->type != SUB_PULL_WAKE) {
        respond_error(r, 400, "INVALID_REQUEST", "Subscription is not pull-wake");
        return;
    }
    json_t *body = read_body(r);
    if (!body)
        return;
    if (check_wake(r, sub, body) && apply_acks(r, sub, body)) {
        sub->lease_until = r->now + sub->lease_ttl_ms;
        bool next_wake = json_is_true(json_object_get(body, "done")) && ss__sub_end_wake(r->s, sub);
        ss__subs_mark_due(r->s);
        ss_rc rc = ss__sub_save(r->s, sub);
        if (rc)
            respond_rc(r, rc);
        else
            respond_json(r, 200, json_pack("{s:b,s:b}", "ok", 1, "next_wake", next_wake));
    }
    json_decref(body);
}

static void handle_release(route_req *r, subscription *sub) {
    if (sub->type != SUB_PULL_WAKE) {
        respond_error(r, 400, "INVALID_REQUEST", "Subscription is not pull-wake");
        return;
    }
    json_t *body = read_body(r);
    if (!body)
        return;
    if (check_wake(r, sub, body)) {
        ss__sub_end_wake(r->s, sub);
        ss__subs_mark_due(r->s);
        ss_rc rc = ss__sub_save(r->s, sub);
        if (rc)
            respond_rc(r, rc);
        else
            respond_empty(r);
    }
    json_decref(body);
}

static void handle_claim(route_req *r, const char *id) {
    json_t *body = read_body(r);
    if (!body)
        return;
    const char *worker = opt_string(body, "worker");
    subscription *sub = ss__subs_find(r->s, ss_slice_cstr(id));
    ss_rc rc = SS_OK;
    bool pending = false;
    if (!worker || strlen(worker) > SS_SUBS_MAX_ID_BYTES)
        respond_error(r, 400, "INVALID_REQUEST", "worker must be a non-empty string");
    else if (!sub)
        not_found(r);
    else if (sub->type != SUB_PULL_WAKE)
        respond_error(r, 400, "INVALID_REQUEST", "Subscription is not pull-wake");
    else if (sub->holder)
        respond_json(r, 409,
                     json_pack("{s:{s:s,s:s,s:I}}", "error", "code", "ALREADY_CLAIMED", "current_holder",
                               sub->holder, "generation", (json_int_t)sub->generation));
    else if (!(pending = ss__sub_pending(r->s, sub, NULL, &rc)) && rc)
        respond_rc(r, rc); /* a tail we could not read: not "no work" */
    else if (!pending || (!sub->wake_id[0] && !ss__sub_maybe_wake(r->s, sub, NULL)))
        respond_error(r, 409, "NO_PENDING_WORK", "Subscription has no pending work");
    else {
        char *token = ss__subs_token_mint(r->s, sub->id, sub->generation, r->now);
        char *holder = ss__subs_strdup(worker);
        json_t *streams = ss__sub_stream_infos(r->s, sub, true, &rc);
        if (!token || !holder || !streams) {
            ss_free(holder);
            json_decref(streams);
            respond_rc(r, streams ? SS_NOMEM : rc);
        } else {
            sub->holder = holder;
            sub->lease_until = r->now + sub->lease_ttl_ms;
            ss__subs_mark_due(r->s);
            if ((rc = ss__sub_save(r->s, sub)) != SS_OK) { /* not claimed after all */
                ss_free(sub->holder);
                sub->holder = NULL;
                sub->lease_until = 0;
                respond_rc(r, rc);
                json_decref(streams);
            } else
                respond_json(r, 200,
                             json_pack("{s:s,s:I,s:s,s:o,s:I}", "wake_id", sub->wake_id, "generation",
                                       (json_int_t)sub->generation, "token", token, "streams", streams,
                                       "lease_ttl_ms", (json_int_t)sub->lease_ttl_ms));
        }
        ss_free(token);
    }
    json_decref(body);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static bool method_is(const route_req *r, const char *m) { return ss_slice_eq_cstr(r->http->method, m); }

static void method_not_allowed(route_req *r) { respond_text(r, 405, "Method not allowed"); }

static void handle_jwks(route_req *r) {
    if (!method_is(r, "GET") && !method_is(r, "HEAD")) {
        method_not_allowed(r);
        return;
    }
    respond_json(r, 200, ss__subs_jwks(r->s));
    ss_http_response *res = r->res;
    for (size_t i = 0; i < res->n_headers; i++)
        if (ss_slice_ieq_cstr(res->headers[i].name, "Content-Type"))
            res->headers[i].value = ss_slice_cstr("application/jwk-set+json");
    (void)ss_http_response_header(res, "Cache-Control", ss_slice_cstr("public, max-age=300"));
}

/* Splits "/a/b/c" into raw segments (empty ones kept, so "a//b" is not a route). */
static size_t split(ss_slice rest, ss_slice *seg, size_t max) {
    size_t n = 0;
    if (!rest.len || rest.p[0] != '/')
        return 0;
    size_t start = 1;
    for (size_t i = 1; i <= rest.len && n < max; i++)
        if (i == rest.len || rest.p[i] == '/') {
            seg[n++] = (ss_slice){rest.p + start, i - start};
            start = i + 1;
        }
    return n;
}

static void route(route_req *r, ss_slice rest) {
    ss_slice seg[MAX_SEGMENTS];
    size_t n = split(rest, seg, MAX_SEGMENTS);
    if (n == 1 && ss_slice_eq_cstr(seg[0], "jwks.json")) {
        handle_jwks(r);
        return;
    }
    bool subscription_route = n >= 2 && ss_slice_eq_cstr(seg[0], "subscriptions") && seg[1].len;
    char *id = NULL;
    ss_rc rc = subscription_route ? pct_decode(seg[1], &id) : SS_OK;
    if (rc == SS_NOMEM) {
        respond_rc(r, rc);
        return;
    }
    if (!subscription_route || (id && !id[0])) {
        respond_error(r, 404, "SUBSCRIPTION_NOT_FOUND", "Durable Streams control route not found");
        ss_free(id);
        return;
    }
    if (!id || strlen(id) > SS_SUBS_MAX_ID_BYTES) {
        respond_error(r, 400, "INVALID_REQUEST", "Invalid subscription id (UTF-8, at most 256 bytes)");
        ss_free(id);
        return;
    }
    subscription *sub = ss__subs_find(r->s, ss_slice_cstr(id));
    const char *action = n == 3 ? (ss_slice_eq_cstr(seg[2], "callback")  ? "callback"
                                   : ss_slice_eq_cstr(seg[2], "claim")   ? "claim"
                                   : ss_slice_eq_cstr(seg[2], "ack")     ? "ack"
                                   : ss_slice_eq_cstr(seg[2], "release") ? "release"
                                   : ss_slice_eq_cstr(seg[2], "streams") ? "streams"
                                                                         : NULL)
                         : n > 3 && ss_slice_eq_cstr(seg[2], "streams") ? "stream"
                         : n == 2                                       ? "base"
                                                                        : NULL;
    if (!action) {
        respond_error(r, 404, "SUBSCRIPTION_NOT_FOUND", "Durable Streams control route not found");
    } else if (strcmp(action, "base") == 0) {
        if (method_is(r, "PUT"))
            handle_put(r, id);
        else if (method_is(r, "GET") && sub)
            respond_json(r, 200, ss__sub_serialize(r->s, sub, r->origin));
        else if (method_is(r, "GET"))
            not_found(r);
        else if (method_is(r, "DELETE"))
            handle_delete(r, id);
        else
            method_not_allowed(r);
    } else if (strcmp(action, "stream") == 0) {
        ss_slice tail = {seg[3].p, (size_t)(rest.p + rest.len - seg[3].p)};
        char *decoded = NULL;
        rc = pct_decode(tail, &decoded);
        if (!method_is(r, "DELETE"))
            method_not_allowed(r);
        else if (rc == SS_NOMEM)
            respond_rc(r, rc);
        else if (!decoded || !decoded[0] || strlen(decoded) > SS_SUBS_MAX_PATH_BYTES)
            respond_error(r, 400, "INVALID_REQUEST", "Invalid stream path");
        else if (!sub)
            not_found(r);
        else
            handle_remove_stream(r, sub, decoded);
        ss_free(decoded);
    } else if (!method_is(r, "POST")) {
        method_not_allowed(r);
    } else if (strcmp(action, "claim") == 0) {
        handle_claim(r, id); /* checks the worker before the subscription */
    } else if (!sub) {
        not_found(r);
    } else if (strcmp(action, "streams") == 0) {
        handle_add_streams(r, sub);
    } else if (strcmp(action, "callback") == 0) {
        handle_ack(r, sub, false);
    } else if (strcmp(action, "ack") == 0) {
        handle_ack(r, sub, true);
    } else {
        handle_release(r, sub);
    }
    ss_free(id);
}

void ss__subs_handle(void *ctx, const ss_http_request *req, ss_slice rest, ss_http_response *res) {
    route_req r = {.s = ctx, .http = req, .res = res, .now = ss_protocol_now_ms(((ss_subs *)ctx)->p)};
    ss_slice scheme = req->scheme.len ? req->scheme : ss_slice_cstr("http");
    snprintf(r.origin, sizeof r.origin, "%.*s://%.*s", (int)(scheme.len < 16 ? scheme.len : 16), scheme.p,
             (int)(req->authority.len < 256 ? req->authority.len : 256), req->authority.p);
    ss__subs_enter(r.s);
    route(&r, rest);
    ss__subs_leave(r.s);
}
