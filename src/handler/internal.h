/* Handler internals shared by the files of src/handler/. */
#ifndef SS_HANDLER_INTERNAL_H
#define SS_HANDLER_INTERNAL_H

#include "streamsy/handler.h"

#define SS_HTTP_MAX_PREFIX_BYTES 256
#define SS_SSE_CHUNK_MAX (1u << 20)   /* one SSE resume emits at most about this much */
#define SS_HTTP_BODY_MAX (256u << 20) /* hard cap on any response body we build */

/* An encoded live answer (an SSE data event, or a long-poll body) kept for
 * the other waiters of the wake batch it was built in (live.c). */
typedef struct ss__shared_encoding {
    uint64_t batch; /* ss_protocol_wake_batch() when built; 0: empty */
    ss_offset from; /* the read's start */
    ss_offset next; /* and end */
    size_t n;       /* messages */
    ss_buf bytes;
} ss__shared_encoding;

struct ss_handler {
    ss_protocol *p;
    ss__shared_encoding shared[2];         /* [0] long-poll bodies, [1] SSE data events */
    char prefix[SS_HTTP_MAX_PREFIX_BYTES]; /* without a trailing '/' */
    size_t prefix_len;
    size_t max_body;
    ss_http_validator validator;
    ss_http_reserved reserved;
    bool trust_forwarded;
};

/* One request being handled. */
typedef struct ss__req {
    ss_handler *h;
    const ss_http_request *http;
    ss_slice id;    /* stream id: the path below the prefix */
    ss_arena arena; /* scratch for this request */
} ss__req;

/* ---- request helpers (request.c) ---- */
/* Header value by case-insensitive name; *present tells absent from empty. */
ss_slice ss__header(const ss_http_request *r, const char *name, bool *present);
/* Query parameter, percent-decoded into `a`; *count = number of occurrences. */
SS_MUST_USE ss_rc ss__query(const ss_http_request *r, const char *name, ss_arena *a, ss_slice *out, size_t *count);
/* ^(0|[1-9][0-9]*)$ without overflow. */
bool ss__parse_int_strict(ss_slice s, uint64_t *out);
/* ^[0-9]+$ and <= 2^53-1. */
bool ss__parse_int_digits(ss_slice s, uint64_t *out);
/* "true" in any case. */
bool ss__flag(const ss_http_request *r, const char *name);
/* The canonical stream id of a path (or a Stream-Forked-From value): the
 * path below the prefix, percent-decoded ("a%2Fb", "a%2fb" and "a/b" are one
 * stream), which must be UTF-8 without U+0000 and without "." or ".."
 * segments. The id points into the path, or into `a` when it was decoded. */
typedef enum ss__id_status {
    SS__ID_OK,
    SS__ID_NONE,    /* not below the prefix */
    SS__ID_INVALID, /* a bad escape, not UTF-8, U+0000, a dot segment */
    SS__ID_NOMEM,
} ss__id_status;
ss__id_status ss__stream_id(const ss_handler *h, ss_slice path, ss_arena *a, ss_slice *out);

/* RFC 3986 authority (host[:port]) of at most SS_HTTP_MAX_HOST_BYTES; empty
 * is valid (handler.c). */
bool ss__valid_authority(ss_slice a);

/* ---- response helpers (response.c) ---- */
/* Security and CORS headers every response carries (handler.c). */
void ss__common_headers(ss_http_response *res);
/* Empties a response (headers, body, errors, continuation pointer) and puts
 * the common headers back; the caller owns whatever res->live was. */
void ss__reset_response(ss_http_response *res);
/* The same without any header: for a continuation's later chunks, whose
 * headers went out with the first. */
void ss__clear_response(ss_http_response *res);
/* A response whose header or body building failed (res->err, body.err) is
 * replaced by 503 (out of memory) or 500, never sent half-built. Returns
 * true when it did so; res->live is dropped (not freed): the caller frees
 * a continuation it still owns. */
bool ss__settle_response(ss_http_response *res);
void ss__respond(ss_http_response *res, int status);
void ss__respond_text(ss_http_response *res, int status, const char *text);
/* Maps a result code that stopped an operation to a 5xx (or 413/507). */
void ss__respond_rc(ss_http_response *res, ss_rc rc);
void ss__header_cstr(ss_http_response *res, const char *name, const char *value);
void ss__header_u64(ss_http_response *res, const char *name, uint64_t v);
void ss__header_offset(ss_http_response *res, const char *name, const ss_offset *o);
/* Catch-up/long-poll body for `n` messages by the stream's content type. */
/* Errors (SS_NOMEM, SS_TOOBIG) also stick in the buffer. */
ss_rc ss__encode_body(ss_buf *body, ss_slice content_type, const ss_message *m, size_t n);
/* The same body as res->parts: large messages by reference (their bytes
 * must live as long as res->arena), the rest copied into res->arena. False,
 * with nothing set, when it would take more than SS_HTTP_MAX_BODY_PARTS
 * parts, more than SS_HTTP_BODY_MAX bytes, or memory runs out (encode it
 * instead: ss__encode_body answers the too large). */
bool ss__encode_parts(ss_http_response *res, ss_slice content_type, const ss_message *m, size_t n);
/* "\"b64(path):start:end[:c]\"" */
/* Bytes an ETag can take: base64 of the longest path, two offsets, quotes. */
#define SS__ETAG_MAX (4 * ((SS_HTTP_MAX_PATH_BYTES + 2) / 3) + 2 * 64 + 8)
void ss__etag(ss_slice path, ss_slice start, const ss_offset *end, bool closed, ss_buf *out);
ss_rc ss__base64(ss_buf *out, const void *p, size_t len);

/* Runs the configured validator on a body about to be written; answers 400
 * itself and returns false when the body is refused. */
bool ss__validate_body(ss__req *q, ss_slice content_type, ss_slice body, ss_http_response *res);

/* ---- methods ---- */
void ss__handle_put(ss__req *q, ss_http_response *res);
void ss__handle_post(ss__req *q, ss_http_response *res);
void ss__handle_get(ss__req *q, ss_http_response *res);
void ss__handle_head(ss__req *q, ss_http_response *res);
void ss__handle_delete(ss__req *q, ss_http_response *res);

/* Opens the stream for POST/GET/HEAD/DELETE, answering 404/410 itself.
 * Returns NULL when a response was written. */
ss_protocol_stream *ss__open_existing(ss__req *q, ss_http_response *res);
/* Answers 404 (not found) or 410 (soft-deleted); false for SS_PRESENT,
 * which it leaves to the caller. */
bool ss__respond_absent(ss_http_response *res, ss_presence p);
/* Answers a failed metadata call: the storage error, or 404/410 when the
 * stream expired or was deleted after it was opened. False when m is usable. */
bool ss__respond_meta_failure(ss_http_response *res, ss_rc rc, const ss_meta_result *m);

/* ---- live continuations (live.c) ---- */
/* Long-poll: respond now or return WAIT with res->live set. */
void ss__long_poll(ss__req *q, ss_protocol_stream *s, const ss_offset *from, bool has_from, ss_slice offset_param,
                   ss_slice cursor, ss_slice content_type, ss_http_response *res);
void ss__sse(ss__req *q, ss_protocol_stream *s, const ss_offset *from, bool has_from, ss_slice cursor,
             ss_slice content_type, ss_http_response *res);

#endif
