/* A Durable Streams client for any server (blocking, over libcurl).
 *
 *   ss_client *c;
 *   if (ss_client_new(NULL, &c)) ...;
 *   ss_client_result r;
 *   ss_client_result_init(&r);
 *   ss_client_append(c, "http://127.0.0.1:4437/v1/stream/orders",
 *                    &(ss_client_append_options){.data = ss_slice_cstr("hi")}, &r);
 *   if (r.status / 100 != 2) fprintf(stderr, "%ld %s\n", r.status, r.message);
 *   ss_client_result_release(&r);
 *   ss_client_free(c);
 *
 * Result codes say whether the exchange happened: SS_OK means a response
 * arrived (whatever its status); SS_IOERR means none did (connection
 * refused, timeout: r.message says why); SS_BADARG a malformed argument;
 * SS_NOMEM, SS_TOOBIG (a response over the client's max_response_bytes).
 * What the server decided is r.status (and r.message for a non-2xx: the
 * server's own text). One ss_client is used by one thread at a time; it
 * keeps its connection alive between calls. */
#ifndef STREAMSY_CLIENT_H
#define STREAMSY_CLIENT_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"
#include "offset.h"
#include "rc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss_client ss_client;

/* Values computed per request (a fresh token, a request id): the client
 * calls the options' `dynamic` function before every request, which adds
 * them with these two. Names and values are copied at once. */
typedef struct ss_client_dynamic ss_client_dynamic;
void ss_client_dynamic_header(ss_client_dynamic *d, const char *name, const char *value);
void ss_client_dynamic_param(ss_client_dynamic *d, const char *name, const char *value);

typedef struct ss_client_options {
    long timeout_ms;                                  /* a whole request; 0: 30000 (a live read adds its wait) */
    size_t max_response_bytes;                        /* 0: 256 MiB */
    const char *const *headers;                       /* "Name: value", NULL-terminated; sent with every request */
    void (*dynamic)(void *ctx, ss_client_dynamic *d); /* optional, see above */
    void *dynamic_ctx;
} ss_client_options;

#define SS_CLIENT_MESSAGE_MAX 256
#define SS_CLIENT_TEXT_MAX 256
/* An offset and its NUL: the protocol allows offsets of up to 255 bytes
 * (other servers than Streamsy may use them all). */
#define SS_CLIENT_OFFSET_MAX 256

typedef struct ss_client_result {
    long status;                            /* HTTP status; 0 when no response came */
    char message[SS_CLIENT_MESSAGE_MAX];    /* non-2xx: the server's text; no response: why */
    char next_offset[SS_CLIENT_OFFSET_MAX]; /* Stream-Next-Offset; "" when absent */
    char content_type[SS_CLIENT_TEXT_MAX];
    char cursor[SS_CLIENT_TEXT_MAX];     /* Stream-Cursor */
    char expires_at[SS_CLIENT_TEXT_MAX]; /* Stream-Expires-At */
    bool has_ttl;
    uint64_t ttl_s;
    bool up_to_date;    /* Stream-Up-To-Date: true */
    bool closed;        /* Stream-Closed: true */
    bool sse_base64;    /* Stream-SSE-Data-Encoding: base64 (a binary stream over SSE) */
    long retry_after_s; /* Retry-After in seconds (a 429 or 503); 0 when absent */
    bool timed_out;     /* SS_IOERR because the request's time ran out */
    /* An append with a producer: what the server said of it. */
    bool duplicate;          /* 204: this (id, epoch, seq) was already accepted */
    bool has_producer_epoch; /* Producer-Epoch (200, 204; 403: the current epoch) */
    uint64_t producer_epoch;
    bool has_producer_seq; /* Producer-Seq (200, 204: the highest accepted) */
    uint64_t producer_seq;
    bool has_producer_expected_seq; /* Producer-Expected-Seq (409: a gap) */
    uint64_t producer_expected_seq;
    ss_buf body; /* a read's bytes (a 2xx body); owned: ss_client_result_release
                    (keep it last: the client clears every field before it) */
} ss_client_result;

void ss_client_result_init(ss_client_result *r);
void ss_client_result_release(ss_client_result *r);

SS_MUST_USE ss_rc ss_client_new(const ss_client_options *o, ss_client **out);
void ss_client_free(ss_client *c);
/* Headers ("Name: value", NULL-terminated; NULL: none) added to every
 * request from now on, after the options' and the dynamic ones (each is
 * sent: give a name in one place only). Copied. */
SS_MUST_USE ss_rc ss_client_set_headers(ss_client *c, const char *const *headers);
/* The request timeout from now on (ms > 0; a live request gets a minute
 * more). */
void ss_client_set_timeout(ss_client *c, long ms);

typedef struct ss_client_create_options {
    const char *content_type; /* NULL: application/octet-stream (a fork: the source's) */
    bool has_ttl;
    uint64_t ttl_s;
    const char *expires_at;  /* RFC 3339, or NULL */
    bool closed;             /* create it closed */
    ss_slice data;           /* initial content */
    const char *forked_from; /* a fork of this stream (its path on the same server), or NULL */
    const char *fork_offset; /* where the fork leaves the source; NULL: its tail */
} ss_client_create_options;

/* An idempotent producer (the protocol's Producer-Id/-Epoch/-Seq): every
 * append carries (id, epoch, seq) and the server drops a repeat, so an
 * append retried after a lost answer, or a program run again after a
 * failure with the same epoch and starting seq, never lands twice. */
typedef struct ss_client_producer {
    const char *id;
    uint64_t epoch;
    uint64_t seq;    /* of the next append; each accepted (or duplicate) append adds 1 */
    bool auto_claim; /* on 403 (a newer epoch holds the stream): take epoch + 1, seq 0 */
} ss_client_producer;

typedef struct ss_client_append_options {
    const char *content_type;     /* NULL: the stream's (read with HEAD first) */
    ss_slice data;                /* empty without close: the server refuses it (400) */
    const char *expected_offset;  /* Stream-Expected-Offset (compare-and-swap), or NULL */
    const char *stream_seq;       /* Stream-Seq (the writer's ordering token), or NULL */
    bool close;                   /* Stream-Closed: true (close after this append) */
    ss_client_producer *producer; /* or NULL; updated (seq, and epoch on auto-claim) */
    int max_retries;              /* with a producer: a lost answer or a 5xx is retried
                                     as is, at most this many times (0: 10) */
} ss_client_append_options;

/* PUT. r->status 201 created, 200 already there with the same settings, 409
 * otherwise. */
SS_MUST_USE ss_rc ss_client_create(ss_client *c, const char *url, const ss_client_create_options *o,
                                   ss_client_result *r);
/* HEAD: next offset, content type, TTL, closed. */
SS_MUST_USE ss_rc ss_client_head(ss_client *c, const char *url, ss_client_result *r);
/* POST. r->next_offset is the tail after the append. With a producer, a
 * duplicate (204) counts as done (r->duplicate), a lost answer or a 5xx is
 * sent again unchanged (with backoff), and a 403 with auto_claim moves to the
 * server's epoch + 1. When the retries run out the seq stays where it was:
 * the append may have landed, so send the same data again before anything
 * else. */
SS_MUST_USE ss_rc ss_client_append(ss_client *c, const char *url, const ss_client_append_options *o,
                                   ss_client_result *r);
/* POST with no data and Stream-Closed: true. */
SS_MUST_USE ss_rc ss_client_close(ss_client *c, const char *url, ss_client_result *r);
SS_MUST_USE ss_rc ss_client_delete(ss_client *c, const char *url, ss_client_result *r);
/* GET ?offset=OFFSET (NULL: from the start): one response of a catch-up
 * read; more may follow (r->up_to_date false): read again from
 * r->next_offset. */
SS_MUST_USE ss_rc ss_client_read(ss_client *c, const char *url, const char *offset, ss_client_result *r);

/* A live read's consumer: called with each batch of data (r->body) and
 * once more when the stream closes (r->closed). Return false to stop. */
typedef bool (*ss_client_tail_fn)(void *ctx, const ss_client_result *r);

/* One long-poll request: GET ?offset=OFFSET&live=long-poll[&cursor=CURSOR].
 * 200 with data, or 204 when the server's wait ended with nothing new.
 * timeout_ms > 0 bounds it (then SS_IOERR with r->timed_out); 0: the
 * client's request timeout plus a minute. */
SS_MUST_USE ss_rc ss_client_poll(ss_client *c, const char *url, const char *offset, const char *cursor,
                                 long timeout_ms, ss_client_result *r);

/* One SSE connection from OFFSET (moved along with each control event, as is
 * CURSOR, a buffer of SS_CLIENT_TEXT_MAX), until the server ends it, the
 * stream closes, fn returns false or timeout_ms passes (0: the client's
 * request timeout plus a minute). fn gets each control event's batch: the
 * data since the previous one (r->body: decoded from base64 for binary
 * streams; with `json`, the events' JSON arrays merged into one), next
 * offset, up-to-date and closed. *ended: closed or stopped by fn. A
 * malformed event stream (a control event that is not JSON, bad base64)
 * is SS_CORRUPT; a timeout is SS_OK with *timed_out. *controls (may be
 * NULL): how many control events came (keep-alives too; none: the
 * connection made no progress). A 2xx that is not an event stream is not
 * parsed (r->content_type says what it was). */
SS_MUST_USE ss_rc ss_client_sse(ss_client *c, const char *url, char offset[SS_CLIENT_OFFSET_MAX],
                                char cursor[SS_CLIENT_TEXT_MAX], bool json, long timeout_ms, ss_client_tail_fn fn,
                                void *ctx, ss_client_result *r, bool *ended, bool *timed_out, size_t *controls);

/* ---- batching producer ---------------------------------------------------------------- */

/* Appends through a producer, several items per request: a batch is sent
 * when it reaches max_bytes or max_items, when an item is added after the
 * oldest waiting one is linger_ms old, and on flush. A JSON stream's batch
 * is one JSON array of the items (each item one JSON value); any other
 * stream's is the items' bytes one after another. */
typedef struct ss_client_batcher ss_client_batcher;

typedef struct ss_client_batch_options {
    size_t max_bytes;         /* 0: 1 MiB */
    size_t max_items;         /* 0: 1000 */
    long linger_ms;           /* 0: every add sends at once */
    bool json;                /* items are JSON values: send "[a,b,...]" */
    int max_retries;          /* per send, as ss_client_append_options.max_retries (0: 10) */
    const char *content_type; /* NULL: application/json when json, else the stream's */
} ss_client_batch_options;

/* The batcher borrows c, url and p (which must outlive it). */
SS_MUST_USE ss_rc ss_client_batcher_new(ss_client *c, const char *url, ss_client_producer *p,
                                        const ss_client_batch_options *o, ss_client_batcher **out);
/* Adds one item; may send a batch (then *r is its answer and *sent true;
 * at most one batch per call). An item larger than max_bytes goes alone. A
 * refused batch (4xx) is reported in *r and dropped. A batch that got no
 * answer or a 5xx after the retries is frozen (it may have landed under its
 * seq): the next add or flush sends it again unchanged, and until it is
 * answered add returns that failure or SS_BUSY without taking the item. */
SS_MUST_USE ss_rc ss_client_batcher_add(ss_client_batcher *b, ss_slice item, ss_client_result *r, bool *sent);
/* Sends what waits (nothing: SS_OK, *sent false). */
SS_MUST_USE ss_rc ss_client_batcher_flush(ss_client_batcher *b, ss_client_result *r, bool *sent);
/* Frees it; unsent items are dropped (flush first). */
void ss_client_batcher_free(ss_client_batcher *b);

typedef struct ss_client_tail_options {
    const char *offset; /* where to start: an offset, "now" or NULL/"-1" (the beginning) */
    int max_retries;    /* consecutive failed requests before giving up; 0: 10 */
    bool long_poll;     /* use long-poll only (default: SSE, long-poll if the server has none) */
    bool json;          /* ss_client_watch: a JSON stream (each batch's arrays merged into one);
                           ss_client_tail finds out itself */
} ss_client_tail_options;

/* Follows the stream over SSE (binary streams arrive base64-encoded and are
 * decoded) or long-poll (after a catch-up read) until fn returns false, the
 * stream closes (SS_OK, the final call has r->closed) or the server refuses
 * (SS_OK with that status in *last). fn sees each run of data with the
 * offset after it (r->body, r->next_offset, r->up_to_date). A dropped
 * connection or a 5xx is retried from the last offset with exponential
 * backoff (100 ms doubling to 5 s), at most max_retries times in a row
 * (then SS_IOERR, or SS_OK with the last 5xx in *last); a connection that
 * delivered nothing counts as a failure, one that made progress resets the
 * count. */
SS_MUST_USE ss_rc ss_client_tail(ss_client *c, const char *url, const ss_client_tail_options *o,
                                 ss_client_tail_fn fn, void *ctx, ss_client_result *last);

/* ---- from an application's event loop ------------------------------------------------ */

/* A live read that never blocks: the application waits on the watch's
 * descriptors (with its own poll, epoll or event library) and calls
 * ss_client_watch_run when one is ready or the timeout passed. It follows
 * the stream over SSE from o->offset, hands each batch to fn as
 * ss_client_tail does, and reconnects from the last offset after a dropped
 * connection or a 5xx with the same backoff (o->max_retries in a row). The
 * watch has a connection of its own; `co` as for ss_client_new. */
typedef struct ss_client_watch ss_client_watch;

SS_MUST_USE ss_rc ss_client_watch_new(const ss_client_options *co, const char *url,
                                      const ss_client_tail_options *o, ss_client_tail_fn fn, void *ctx,
                                      ss_client_watch **out);
/* Fills up to cap descriptors to wait on (events: POLLIN and/or POLLOUT)
 * and returns how many; *timeout_ms: the longest the application may wait
 * before calling ss_client_watch_run anyway (0: at once). */
size_t ss_client_watch_fds(ss_client_watch *w, struct pollfd *fds, size_t cap, long *timeout_ms);
/* Does what is ready without blocking. *done: the watch has ended (the
 * stream closed, fn said stop, the server refused, or the retries ran
 * out); the result code and ss_client_watch_result say how: SS_OK (closed,
 * stopped, or the server's refusal or last 5xx in the result), SS_IOERR
 * (no answer), SS_CORRUPT (a malformed event stream), SS_NOTSUP (a 2xx
 * that is not an event stream: this server has no SSE). Descriptors
 * numbered FD_SETSIZE or more are not reported (curl_multi_fdset); the
 * timeout then stays short (100 ms). */
SS_MUST_USE ss_rc ss_client_watch_run(ss_client_watch *w, bool *done);
/* The last response (its status and message when the watch ended on a refusal). */
const ss_client_result *ss_client_watch_result(const ss_client_watch *w);
void ss_client_watch_free(ss_client_watch *w);

#ifdef __cplusplus
}
#endif

#endif
