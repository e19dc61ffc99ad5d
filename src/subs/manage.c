/* Creating, re-confirming, reading and deleting subscriptions, and their
 * explicit streams: PUT|GET|DELETE /subscriptions/{id}, POST .../streams,
 * DELETE .../streams/{path}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "routes.h"
#include "streamsy/alloc.h"

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
    const char *pattern = ss__subs_opt_string(body, "pattern"), *why;
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
        const char *url = ss__subs_opt_string(wh, "url");
        if (!json_is_object(wh) || !url)
            return "webhook subscriptions require webhook.url";
        if (strlen(url) > SS_SUBS_MAX_URL_BYTES)
            return "webhook.url is too long";
        if (!(in->webhook_url = ss__subs_strdup(url)))
            return *nomem = true, "";
    }
    const char *wake = ss__subs_opt_string(body, "wake_stream");
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

void ss__subs_put(route_req *r, const char *id) {
    json_t *body = ss__subs_body(r);
    if (!body)
        return;
    create_input in = {0};
    bool nomem = false;
    const char *why = parse_create(body, &nomem, &in);
    json_decref(body);
    char hash[65];
    if (nomem || (!why && !config_hash(&in, hash))) {
        ss__subs_reply_text(r, 503, "Out of memory");
        goto done;
    }
    if (why) {
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", why);
        goto done;
    }
    ss_subs *s = r->s;
    subscription *sub = ss__subs_find(s, ss_slice_cstr(id));
    if (sub) {
        if (strcmp(sub->config_hash, hash) != 0)
            ss__subs_reply_error(r, 409, "SUBSCRIPTION_ALREADY_EXISTS",
                                 "Subscription already exists with different configuration");
        else
            ss__subs_reply_json(r, 200, ss__sub_serialize(s, sub, r->origin));
        goto done;
    }
    if (in.type == SUB_WEBHOOK && !s->webhooks) {
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "webhook subscriptions are not enabled on this server");
        goto done;
    }
    const char *refusal = in.webhook_url ? ss__subs_url_refusal(in.webhook_url) : NULL;
    if (refusal) {
        ss__subs_reply_error(r, 400, "WEBHOOK_URL_REJECTED", refusal);
        goto done;
    }
    if (ss__map_size(&s->subs) >= SS_SUBS_MAX_SUBSCRIPTIONS) {
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "too many subscriptions on this server");
        goto done;
    }
    if (!(sub = ss__sub_new()) || !(sub->id = ss__subs_strdup(id)) ||
        !(sub->origin = ss__subs_strdup(r->origin))) {
        ss__sub_free(sub);
        ss__subs_reply_text(r, 503, "Out of memory");
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
            ss__subs_reply_error(r, 400, "INVALID_REQUEST", "the subscription would link more than 10000 streams");
        else
            ss__subs_reply_rc(r, rc);
        goto done;
    }
    rc = ss__sub_save(s, sub);
    if (rc) {
        ss__subs_unregister(s, sub);
        ss__sub_free(sub);
        ss__subs_reply_rc(r, rc);
        goto done;
    }
    s->stats.subscriptions = ss__map_size(&s->subs);
    ss__logf(SS__LOG_INFO, "subscriptions", "created %s subscription %s (%zu streams linked)",
             sub->type == SUB_WEBHOOK ? "webhook" : "pull-wake", sub->id, sub->n_links);
    ss__subs_reply_json(r, 201, ss__sub_serialize(s, sub, r->origin));
done:
    create_input_release(&in);
}

void ss__subs_delete(route_req *r, const char *id) {
    subscription *sub = ss__subs_find(r->s, ss_slice_cstr(id));
    if (sub) { /* the document first: a subscription the storage still has is not gone */
        ss_buf key;
        ss_buf_init(&key, 512);
        ss_buf_printf(&key, SUBS_DOC_PREFIX "%s", id);
        ss_rc rc = key.err ? SS_NOMEM : ss_storage_doc_remove(r->s->storage, ss_buf_slice(&key));
        ss_buf_release(&key);
        if (rc) {
            ss__logf(SS__LOG_ERROR, "subscriptions", "cannot remove subscription %s: %s", id, ss_rc_str(rc));
            ss__subs_reply_rc(r, rc);
            return;
        }
        ss__subs_unregister(r->s, sub);
        ss__sub_free(sub);
        r->s->stats.subscriptions = ss__map_size(&r->s->subs);
    }
    ss__subs_reply_empty(r);
}

/* ---- membership ----------------------------------------------------------------------------- */

void ss__subs_add_streams(route_req *r, subscription *sub) {
    json_t *body = ss__subs_body(r);
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
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "streams must be a non-empty string array");
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
            ss__subs_reply_error(r, 400, "INVALID_REQUEST", why);
        else
            ss__subs_reply_text(r, 503, "Out of memory");
        return;
    }
    ss_rc saved = ss__sub_save(r->s, sub); /* the links made before a failure stay: each is whole */
    if (rc == SS_TOOBIG)
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "the subscription would link more than 10000 streams");
    else if (rc || saved)
        ss__subs_reply_rc(r, rc ? rc : saved);
    else
        ss__subs_reply_empty(r);
}

void ss__subs_remove_stream(route_req *r, subscription *sub, const char *name) {
    sub_link *l = ss__sub_named_link(sub, name);
    if (l && l->by_explicit) {
        l->by_explicit = false;
        if (!l->by_glob)
            ss__sub_drop_link(sub, l->path);
        ss_rc rc = ss__sub_save(r->s, sub);
        if (rc) {
            ss__subs_reply_rc(r, rc);
            return;
        }
    }
    ss__subs_reply_empty(r);
}
