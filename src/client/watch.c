/* ss_client_watch: a live SSE read driven by the application's event loop
 * (streamsy/client.h). A curl multi handle runs one exchange at a time; the
 * watch is a small state machine: connecting/streaming, waiting out a
 * backoff, ended. */
#include <string.h>
#include <strings.h>
#include <sys/select.h>

#include "base/errf.h"
#include "internal.h"
#include "streamsy/alloc.h"

typedef enum { RUNNING, BACKOFF, ENDED } watch_state;

struct ss_client_watch {
    ss_client *c; /* options, headers, result sizes; its easy handle is not used */
    CURL *easy;   /* this watch's own connection */
    CURLM *multi;
    char *url;
    char offset[SS_CLIENT_OFFSET_MAX];
    char cursor[SS_CLIENT_TEXT_MAX];
    ss_client_tail_fn fn;
    void *ctx;
    ss_client_result r;
    ss__exchange x;
    ss__sse *parser; /* for the exchange in flight */
    char *request_url;
    bool json; /* merge a JSON stream's arrays */
    watch_state state;
    bool in_flight;  /* the easy handle is in the multi handle with an exchange begun */
    long wake_at_ms; /* BACKOFF: when to connect again */
    long backoff_ms;
    int failures, max_retries;
    ss_rc rc; /* ENDED: how */
};

static void end(ss_client_watch *w, ss_rc rc) {
    w->state = ENDED;
    w->rc = rc;
}

/* Starts the next SSE request from the current offset. */
static void connect_now(ss_client_watch *w) {
    w->request_url = ss__client_read_url(w->c, w->url, w->offset, "sse", w->cursor);
    w->parser = ss__sse_new(w->offset, w->cursor, w->json, w->fn, w->ctx, &w->r);
    ss_rc rc = w->request_url && w->parser ? SS_OK : SS_NOMEM;
    if (!rc) {
        ss__request q = {
            .method = "GET", .url = w->request_url, .live = true, .sink = ss__sse_sink, .sink_ctx = w->parser};
        rc = ss__exchange_begin(w->c, w->easy, &q, &w->r, &w->x);
    }
    if (!rc && curl_multi_add_handle(w->multi, w->easy) != CURLM_OK) {
        ss__ignore_rc(ss__exchange_end(w->c, w->easy, &w->x, CURLE_FAILED_INIT)); /* frees its parts */
        rc = SS_NOMEM;
    }
    if (rc) {
        ss__sse_free(w->parser);
        w->parser = NULL;
        ss_free(w->request_url);
        w->request_url = NULL;
        end(w, rc);
        return;
    }
    w->state = RUNNING;
    w->in_flight = true;
}

ss_rc ss_client_watch_new(const ss_client_options *co, const char *url, const ss_client_tail_options *o,
                          ss_client_tail_fn fn, void *ctx, ss_client_watch **out) {
    static const ss_client_tail_options none = {0};
    if (!url || !fn || !out || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
        return SS_BADARG;
    if (!o)
        o = &none;
    ss_client_watch *w = ss_calloc(1, sizeof *w);
    if (!w)
        return SS_NOMEM;
    w->state = ENDED; /* until it is set up */
    ss_rc rc = ss_client_new(co, &w->c);
    if (!rc) {
        w->easy = curl_easy_init();
        w->multi = curl_multi_init();
        w->url = ss_malloc(strlen(url) + 1);
        if (!w->easy || !w->multi || !w->url)
            rc = SS_NOMEM;
    }
    if (rc) {
        ss_client_watch_free(w);
        return rc;
    }
    strcpy(w->url, url);
    snprintf(w->offset, sizeof w->offset, "%s", o->offset ? o->offset : "-1");
    w->fn = fn;
    w->ctx = ctx;
    w->max_retries = o->max_retries > 0 ? o->max_retries : DEFAULT_MAX_RETRIES;
    w->json = o->json;
    w->backoff_ms = BACKOFF_FIRST_MS;
    ss_client_result_init(&w->r);
    w->state = BACKOFF; /* connect at the first run */
    w->wake_at_ms = 0;
    *out = w;
    return SS_OK;
}

/* The request in flight ended with curl's result: decide what comes next. */
static void finished(ss_client_watch *w, CURLcode cc) {
    curl_multi_remove_handle(w->multi, w->easy);
    w->in_flight = false;
    ss_rc rc = ss__exchange_end(w->c, w->easy, &w->x, cc);
    bool ended = ss__sse_ended(w->parser);
    ss_rc parse = ss__sse_error(w->parser);
    size_t controls = ss__sse_controls(w->parser);
    bool event_stream = strncasecmp(w->r.content_type, "text/event-stream", 17) == 0;
    ss__sse_free(w->parser);
    w->parser = NULL;
    ss_free(w->request_url);
    w->request_url = NULL;
    if (rc == SS_OK && ended) {
        end(w, SS_OK); /* closed, or fn said stop */
        return;
    }
    if (rc == SS_OK && parse) {
        end(w, parse);
        return;
    }
    if (rc == SS_IOERR && w->r.timed_out && w->r.status / 100 == 2)
        rc = SS_OK; /* our own time limit on a live response: a normal end */
    if (controls) { /* this connection made progress: earlier failures are forgiven */
        w->failures = 0;
        w->backoff_ms = BACKOFF_FIRST_MS;
    }
    if (rc == SS_OK && w->r.status / 100 == 2 && !event_stream) {
        end(w, SS_NOTSUP); /* the server answered, but not with an event stream */
        return;
    }
    if (rc == SS_OK && w->r.status / 100 == 2 && controls) { /* it made progress, then ended: go on */
        w->failures = 0;
        w->backoff_ms = BACKOFF_FIRST_MS;
        w->state = BACKOFF;
        w->wake_at_ms = ss__client_now_ms();
        return;
    }
    /* An empty 2xx counts as a failure too: reconnecting at once would spin. */
    bool transient =
        rc == SS_IOERR || (rc == SS_OK && (w->r.status / 100 == 2 || w->r.status >= 500 || w->r.status == 429));
    if (!transient) {
        end(w, rc); /* refused (404, 400, ...) or out of memory */
        return;
    }
    if (++w->failures > w->max_retries) {
        end(w, rc ? rc : w->r.status / 100 == 2 ? SS_IOERR : SS_OK); /* SS_OK: the last 5xx is in the result */
        return;
    }
    long wait = w->backoff_ms;
    if (w->r.retry_after_s * 1000 > wait)
        wait = w->r.retry_after_s * 1000;
    w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
    w->state = BACKOFF;
    w->wake_at_ms = ss__client_now_ms() + wait;
}

ss_rc ss_client_watch_run(ss_client_watch *w, bool *done) {
    if (w->state == BACKOFF && ss__client_now_ms() >= w->wake_at_ms)
        connect_now(w);
    if (w->state == RUNNING) {
        int running;
        curl_multi_perform(w->multi, &running);
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(w->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE && m->easy_handle == w->easy)
                finished(w, m->data.result);
    }
    *done = w->state == ENDED;
    return *done ? w->rc : SS_OK;
}

size_t ss_client_watch_fds(ss_client_watch *w, struct pollfd *fds, size_t cap, long *timeout_ms) {
    *timeout_ms = 1000;
    if (w->state == ENDED) {
        *timeout_ms = 0;
        return 0;
    }
    if (w->state == BACKOFF) {
        long d = w->wake_at_ms - ss__client_now_ms();
        *timeout_ms = d > 0 ? d : 0;
        return 0;
    }
    long t = -1;
    curl_multi_timeout(w->multi, &t);
    if (t >= 0 && t < *timeout_ms)
        *timeout_ms = t;
    fd_set r, wr, ex;
    FD_ZERO(&r);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    int maxfd = -1;
    curl_multi_fdset(w->multi, &r, &wr, &ex, &maxfd);
    size_t n = 0;
    for (int fd = 0; fd <= maxfd && n < cap; fd++) {
        short ev = (short)((FD_ISSET(fd, &r) ? POLLIN : 0) | (FD_ISSET(fd, &wr) ? POLLOUT : 0));
        if (ev)
            fds[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    if (maxfd < 0 && *timeout_ms > 100)
        *timeout_ms = 100; /* curl is between sockets (resolving, connecting): look again soon */
    return n;
}

const ss_client_result *ss_client_watch_result(const ss_client_watch *w) { return &w->r; }

void ss_client_watch_free(ss_client_watch *w) {
    if (!w)
        return;
    if (w->in_flight) {
        curl_multi_remove_handle(w->multi, w->easy);
        ss__ignore_rc(ss__exchange_end(w->c, w->easy, &w->x, CURLE_ABORTED_BY_CALLBACK)); /* frees its parts */
    }
    if (w->multi)
        curl_multi_cleanup(w->multi);
    if (w->easy)
        curl_easy_cleanup(w->easy);
    ss__sse_free(w->parser);
    ss_free(w->request_url);
    ss_free(w->url);
    ss_client_result_release(&w->r);
    ss_client_free(w->c);
    ss_free(w);
}
