/* Webhook deliveries over libcurl's multi interface, driven from the
 * server's loop by ss_subs_run (curl_multi_perform never blocks; while a
 * transfer runs the loop turns at least every SS_SUBS_POLL_MS).
 *
 * Every transfer: POST with the signed body, no redirects, http/https only,
 * connect within SS_SUBS_WEBHOOK_CONNECT_MS and finish within
 * SS_SUBS_WEBHOOK_TIMEOUT_MS, at most SS_SUBS_WEBHOOK_MAX_RESPONSE bytes of
 * answer, at most SS_SUBS_WEBHOOK_CONCURRENCY at once. The socket callback
 * refuses every resolved address the URL's scheme may not reach
 * (ss__subs_address_allowed), so a host name that resolves inside fails
 * like an unreachable receiver and is retried with backoff. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "internal.h"
#include "streamsy/alloc.h"

typedef struct transfer {
    struct transfer *next;
    subs_webhooks *w;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char *id;
    uint64_t serial, generation;
    char wake_id[SUBS_WAKE_ID_BYTES];
    bool https;
    bool refused; /* an address was refused at connect time */
    char refused_addr[64];
    ss_buf response;
} transfer;

struct subs_webhooks {
    ss_subs *s;
    CURLM *multi;
    transfer *running; /* list */
    size_t n_running;
};

ss_rc ss__subs_webhooks_new(ss_subs *s, subs_webhooks **out) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return SS_IOERR;
    subs_webhooks *w = ss_calloc(1, sizeof *w);
    if (!w || !(w->multi = curl_multi_init())) {
        ss_free(w);
        curl_global_cleanup();
        return SS_NOMEM;
    }
    w->s = s;
    *out = w;
    return SS_OK;
}

static void transfer_free(transfer *t) {
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    ss_free(t->body);
    ss_free(t->id);
    ss_buf_release(&t->response);
    ss_free(t);
}

void ss__subs_webhooks_free(subs_webhooks *w) {
    if (!w)
        return;
    for (transfer *t = w->running, *next; t; t = next) {
        next = t->next;
        curl_multi_remove_handle(w->multi, t->easy);
        transfer_free(t);
    }
    curl_multi_cleanup(w->multi);
    ss_free(w);
    curl_global_cleanup();
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
    transfer *t = ctx;
    size_t len = size * n;
    if (t->response.len + len > SS_SUBS_WEBHOOK_MAX_RESPONSE || ss_buf_append(&t->response, p, len))
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR: a failed delivery */
    return len;
}

static curl_socket_t on_open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a) {
    transfer *t = ctx;
    if (purpose != CURLSOCKTYPE_IPCXN || !ss__subs_address_allowed(t->https, &a->addr)) {
        t->refused = true;
        if (t->refused_addr[0])
            return CURL_SOCKET_BAD; /* name the first one */
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, t->refused_addr,
                      sizeof t->refused_addr);
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, t->refused_addr,
                      sizeof t->refused_addr);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* The wake notification: every linked stream with its tail, and how to call back. */
static char *notification(ss_subs *s, const subscription *sub, int64_t now) {
    char *token = ss__subs_token_mint(s, sub->id, sub->generation, now);
    ss_rc err;
    json_t *streams = ss__sub_stream_infos(s, sub, true, &err);
    ss_buf rest;
    ss_buf_init(&rest, 2048); /* "subscriptions/" + the escaped id (up to 3 x 256) + "/callback" */
    ss_buf_append_cstr(&rest, "subscriptions/");
    char *escaped = curl_easy_escape(NULL, sub->id, 0);
    ss_buf_append_cstr(&rest, escaped ? escaped : "");
    ss_buf_append_cstr(&rest, "/callback");
    curl_free(escaped);
    char *callback = rest.err || !escaped ? NULL : ss__subs_url(s, sub->origin, rest.p);
    ss_buf_release(&rest);
    json_t *body = token && streams && callback
                       ? json_pack("{s:s,s:s,s:I,s:O,s:s,s:s}", "subscription_id", sub->id, "wake_id",
                                   sub->wake_id, "generation", (json_int_t)sub->generation, "streams", streams,
                                   "callback_url", callback, "callback_token", token)
                       : NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    json_decref(streams);
    ss_free(token);
    ss_free(callback);
    if (!text)
        return NULL;
    char *copy = ss__subs_strdup(text); /* ours to ss_free */
    free(text);
    return copy;
}

ss_rc ss__subs_deliver(ss_subs *s, subscription *sub, int64_t now) {
    subs_webhooks *w = s->wh;
    if (!sub->webhook_url || w->n_running >= SS_SUBS_WEBHOOK_CONCURRENCY)
        return SS_BUSY;
    transfer *t = ss_calloc(1, sizeof *t);
    if (!t)
        return SS_NOMEM;
    t->w = w;
    t->generation = sub->generation;
    memcpy(t->wake_id, sub->wake_id, sizeof t->wake_id);
    t->https = ss__subs_url_is_https(sub->webhook_url);
    t->serial = sub->serial;
    ss_buf_init(&t->response, SS_SUBS_WEBHOOK_MAX_RESPONSE);
    char signature[256];
    bool ok = (t->id = ss__subs_strdup(sub->id)) && (t->body = notification(s, sub, now)) &&
              ss__subs_sign(s, now, t->body, strlen(t->body), signature, sizeof signature) == SS_OK &&
              (t->easy = curl_easy_init()) != NULL;
    if (ok) {
        char sig_header[300];
        snprintf(sig_header, sizeof sig_header, "Webhook-Signature: %s", signature);
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        h = h ? curl_slist_append(h, sig_header) : NULL;
        h = h ? curl_slist_append(h, "Expect:") : NULL;
        t->headers = h;
        ok = h != NULL;
    }
    CURL *e = t->easy;
    if (ok)
        ok = curl_easy_setopt(e, CURLOPT_URL, sub->webhook_url) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body)) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_USERAGENT, "streamsy-webhook") == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PROXY, "") ==
                 CURLE_OK && /* never http_proxy & co: the check sees the peer */
             curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)SS_SUBS_WEBHOOK_CONNECT_MS) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)SS_SUBS_WEBHOOK_TIMEOUT_MS) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEDATA, t) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PRIVATE, t) == CURLE_OK && curl_multi_add_handle(w->multi, e) == CURLM_OK;
    if (!ok) {
        transfer_free(t);
        return SS_NOMEM;
    }
    t->next = w->running;
    w->running = t;
    w->n_running++;
    sub->in_flight = true;
    s->stats.deliveries++;
    return SS_OK;
}

static void finish(subs_webhooks *w, transfer *t, CURLcode result) {
    long status = 0;
    if (result == CURLE_OK)
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    else if (t->refused)
        ss__logf(SS__LOG_WARN, "subscriptions",
                 "webhook of subscription %s refused: its host resolves to %s, which a %s webhook may not reach",
                 t->id, t->refused_addr, t->https ? "https" : "http");
    else
        ss__logf(SS__LOG_WARN, "subscriptions", "webhook of subscription %s: %s", t->id,
                 curl_easy_strerror(result));
    for (transfer **p = &w->running; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    w->n_running--;
    curl_multi_remove_handle(w->multi, t->easy);
    ss__subs_delivered(w->s, t->id, t->serial, t->generation, t->wake_id, status,
                       t->response.p ? t->response.p : "", t->response.len);
    transfer_free(t);
}

size_t ss__subs_webhooks_in_flight(const subs_webhooks *w) { return w ? w->n_running : 0; }

bool ss__subs_webhooks_step(subs_webhooks *w) {
    if (!w->n_running)
        return false;
    int still = 0;
    curl_multi_perform(w->multi, &still);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        transfer *t = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t)
            finish(w, t, m->data.result);
    }
    return w->n_running > 0;
}
