/* The transport-neutral HTTP handler: a request view in, a response or a
 * wait directive out. Front ends (h2o, the workerd shim, tests) are thin
 * adapters around it.
 *
 *   ss_handler_handle(h, &req, &res)
 *     res.kind == SS_HTTP_DONE    send status, headers, body; done.
 *     res.kind == SS_HTTP_WAIT    long-poll: nothing to send yet. Park
 *                                 res.live (ss_http_live_waiter) and arm a
 *                                 timer for ss_http_live_deadline_ms(); on
 *                                 wake or timeout call ss_http_live_resume().
 *     res.kind == SS_HTTP_STREAM  SSE: send status, headers and res.body now
 *                                 as the first chunk; then park as above;
 *                                 every resume appends the next chunk.
 *
 * res.live is non-NULL exactly when kind is WAIT or STREAM. The front end
 * owns `res` (ss_http_response_release) and `res.live` (ss_http_live_free),
 * may set the waiter's `fire` and `ctx`, and must unpark the waiter before
 * freeing the continuation. A DONE response without Content-Length (an SSE
 * stream that ended at once) is sent chunked. */
#ifndef STREAMSY_HANDLER_H
#define STREAMSY_HANDLER_H

#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"
#include "json_error.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SS_HTTP_MAX_RESPONSE_HEADERS 32
#define SS_HTTP_MAX_REQUEST_HEADERS 100            /* more: 431 */
#define SS_HTTP_DEFAULT_MAX_BODY_BYTES (64u << 20) /* larger bodies: 413 */
#define SS_HTTP_MAX_PATH_BYTES 1024                /* longer paths: 414 */
#define SS_HTTP_MAX_HOST_BYTES 255                 /* a longer (or malformed) Host: 400 */
#define SS_SSE_LIFETIME_MS 60000                   /* SSE responses end after this */
#define SS_SSE_MAX_PENDING_BYTES (8u << 20)        /* slow SSE readers past this are cut */
#define SS_HTTP_MAX_BODY_PARTS 1024                /* a body in more parts is copied into `body` */

typedef struct ss_http_header {
    ss_slice name;
    ss_slice value;
} ss_http_header;

/* A borrowed view of one request. */
typedef struct ss_http_request {
    ss_slice method;
    ss_slice path;      /* percent-encoded, without the query */
    ss_slice query;     /* after '?', percent-encoded; empty when absent */
    ss_slice scheme;    /* "http" / "https", for Location */
    ss_slice authority; /* Host, for Location */
    const ss_http_header *headers;
    size_t n_headers;
    ss_slice body;
    bool body_too_large; /* the front end refused a body over max_body_bytes */
    bool accepts_parts;  /* the front end sends ss_http_response.parts (see there); the h2o
                            front end does on plaintext listeners, not over TLS */
} ss_http_request;

typedef enum ss_http_kind {
    SS_HTTP_DONE,
    SS_HTTP_WAIT,
    SS_HTTP_STREAM,
} ss_http_kind;

typedef struct ss_http_live ss_http_live;

/* Owned by: the front end, from ss_handler_handle until ss_http_response_release. */
typedef struct ss_http_response {
    int status;
    ss_http_kind kind;
    ss_http_header headers[SS_HTTP_MAX_RESPONSE_HEADERS];
    size_t n_headers;
    ss_buf body;
    /* For a request that accepts_parts, a catch-up read's body may come as
     * `parts` instead (`body` stays empty): the stored bytes by reference,
     * at most SS_HTTP_MAX_BODY_PARTS ranges to send in order, alive as long
     * as `arena` is (a front end that sends them later takes the arena). */
    const ss_slice *parts;
    size_t n_parts;
    size_t parts_len;        /* their total length */
    bool has_content_length; /* false only for SSE (chunked) */
    ss_http_live *live;      /* WAIT / STREAM: the continuation */
    ss_arena arena;          /* header values, and a catch-up read's messages (pinned storage
                                bytes among them: release it on the protocol's thread) */
    ss_rc err;               /* the first failed header (sticky, like body.err); the handler never
                                returns a response with err or body.err set: it answers 503/500 instead */
} ss_http_response;

void ss_http_response_init(ss_http_response *r);
void ss_http_response_release(ss_http_response *r);
/* Adds a header; values are copied into the response arena. Failures are
 * sticky (r->err, and later headers are not added). */
ss_rc ss_http_response_header(ss_http_response *r, const char *name, ss_slice value);
ss_slice ss_http_response_get_header(const ss_http_response *r, const char *name);

typedef struct ss_handler ss_handler;

/* Server-side enforcement of typed streams (JSON Schema, Durable State):
 * called for every non-empty PUT/POST body before anything is written.
 * Returns true to let the write through; false with `err` filled to answer
 * 400 "Invalid message <index> at <path>: <rule>: <message>". */
typedef struct ss_http_validator {
    bool (*check)(void *ctx, ss_slice stream_id, ss_slice content_type, ss_slice body, ss_json_error *err);
    void *ctx;
} ss_http_validator;

/* The reserved control API: requests for {prefix}/__ds and below (the
 * subscriptions of streamsy/subscriptions.h). `rest` is the still
 * percent-encoded path after "{prefix}/__ds" ("" or "/..."); the request
 * already passed the method, path, Host and body-size checks. The answer
 * goes into `res` (initialised, with the common headers). */
typedef struct ss_http_reserved {
    void (*handle)(void *ctx, const ss_http_request *req, ss_slice rest, ss_http_response *res);
    void *ctx;
} ss_http_reserved;

typedef struct ss_handler_options {
    ss_protocol *protocol;       /* borrowed */
    const char *path_prefix;     /* default "/v1/stream" */
    size_t max_body_bytes;       /* default SS_HTTP_DEFAULT_MAX_BODY_BYTES */
    ss_http_validator validator; /* check == NULL: no enforcement (the base protocol) */
    ss_http_reserved reserved;   /* handle == NULL: {prefix}/__ds answers 404 "Reserved path" */
    bool trust_forwarded;        /* take X-Forwarded-Proto / -Host for Location (behind
                                    a proxy you run; anyone can send them otherwise) */
} ss_handler_options;

SS_MUST_USE ss_rc ss_handler_new(const ss_handler_options *o, ss_handler **out);
void ss_handler_free(ss_handler *h);
size_t ss_handler_max_body_bytes(const ss_handler *h);

/* Always fills `out` (ss_http_response_init is done by the handler). */
void ss_handler_handle(ss_handler *h, const ss_http_request *req, ss_http_response *out);

/* The stream a request addresses: its path below the prefix, percent-decoded
 * into its one canonical form ("a%2Fb" is "a/b"; in `a` when decoded); false
 * when the path names no valid stream id. For front ends that route each
 * stream elsewhere (a Durable Object per stream): route by this id. */
bool ss_handler_stream_id(const ss_handler *h, const ss_http_request *req, ss_arena *a, ss_slice *out);
/* The stream a PUT forks from (its Stream-Forked-From header as a canonical
 * stream id); false for any other request. For front ends that must fetch
 * the source before the handler runs (a Durable Object asks the source's). */
bool ss_handler_fork_source(const ss_handler *h, const ss_http_request *req, ss_arena *a, ss_slice *out);

/* The waiter to park (already set up; its ctx is the live continuation).
 * The front end sets waiter->fire to its own callback before parking, and
 * keeps its own pointer to find the connection again. */
ss_waiter *ss_http_live_waiter(ss_http_live *l);
ss_slice ss_http_live_stream_id(const ss_http_live *l);
/* Absolute deadline (clock ms) of the current wait. */
int64_t ss_http_live_deadline_ms(const ss_http_live *l);
/* Continues after a wake (timed_out false) or the deadline (true).
 * `out` must have been initialised (ss_http_response_init); its headers and
 * body are replaced. `out->live` is not used: the front end keeps owning `l`.
 * Long-poll: out becomes the final response (DONE) or WAIT (park again
 *            until the unchanged deadline).
 * SSE:       out->body is the next chunk (may be empty; out gets no headers,
 *            they went out with the first); kind STREAM (park
 *            again until the new deadline, which may be "now" while catching
 *            up) or DONE (send the chunk, then end the response).
 * When out->kind is DONE the front end frees `l` after sending. */
void ss_http_live_resume(ss_http_live *l, bool timed_out, ss_http_response *out);
void ss_http_live_free(ss_http_live *l);

#ifdef __cplusplus
}
#endif

#endif
