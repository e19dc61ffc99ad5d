/* Client internals shared by the files of src/client/. */
#ifndef SS_CLIENT_INTERNAL_H
#define SS_CLIENT_INTERNAL_H

#include <curl/curl.h>

#include "streamsy/client.h"

#define DEFAULT_MAX_RESPONSE_BYTES ((size_t)256 << 20)
#define DEFAULT_MAX_RETRIES 10
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

struct ss_client {
    CURL *curl;
    struct curl_slist *headers;      /* the options' headers, copied */
    struct curl_slist *call_headers; /* ss_client_set_headers */
    long timeout_ms;
    size_t max_response_bytes;
    void (*dynamic)(void *ctx, ss_client_dynamic *d);
    void *dynamic_ctx;
};

/* What one call of the dynamic function added (client.c). */
struct ss_client_dynamic {
    CURL *curl; /* for escaping */
    struct curl_slist *headers;
    ss_buf params; /* "&name=value..." escaped */
    ss_rc err;     /* the first failure (sticky) */
};

/* Takes a 2xx response's body as it arrives; false stops the transfer
 * (the request then ends with SS_OK). r holds the status and headers. */
typedef bool (*ss__sink)(void *ctx, const char *p, size_t n, const ss_client_result *r);

typedef struct ss__request {
    const char *method; /* GET, HEAD, PUT, POST, DELETE */
    const char *url;
    struct curl_slist *headers; /* this request's own */
    ss_slice body;
    bool live;       /* a long-poll or SSE: allow for the server's wait */
    long timeout_ms; /* > 0: this request's own limit instead */
    ss__sink sink;   /* NULL: the body collects in r->body */
    void *sink_ctx;
} ss__request;

/* One exchange: SS_OK when a response arrived (r->status, headers, and the
 * body or the sink's), SS_IOERR when none did (r->message says why). */
SS_MUST_USE ss_rc ss__client_perform(ss_client *c, const ss__request *q, ss_client_result *r);

/* Where a response body goes: r->body, or the request's sink. */
typedef struct ss__body_target {
    const ss__request *q;
    ss_client_result *r;
    bool stopped; /* the sink said stop */
} ss__body_target;

/* One exchange set up on an easy handle, for callers that run the transfer
 * themselves (a curl multi handle): begin, run, end with curl's result.
 * Holds the header list and URL until end; must not move in between. */
typedef struct ss__exchange {
    ss__request q;
    ss__body_target target;
    struct curl_slist *headers;
    char *url;
    char errbuf[CURL_ERROR_SIZE];
} ss__exchange;
SS_MUST_USE ss_rc ss__exchange_begin(ss_client *c, CURL *h, const ss__request *q, ss_client_result *r,
                                     ss__exchange *x);
/* The result of the exchange, as ss__client_perform's. */
SS_MUST_USE ss_rc ss__exchange_end(ss_client *c, CURL *h, ss__exchange *x, CURLcode cc);

/* The SSE parser (sse.c): feed it a 2xx event stream's bytes. */
typedef struct ss__sse ss__sse;
ss__sse *ss__sse_new(char *offset, char *cursor, bool json, ss_client_tail_fn fn, void *ctx, ss_client_result *r);
void ss__sse_free(ss__sse *s);
/* The sink for an exchange whose sink_ctx is the parser. */
bool ss__sse_sink(void *ctx, const char *p, size_t n, const ss_client_result *r);
/* SS_CORRUPT after a malformed stream (or a parser's allocation failure). */
ss_rc ss__sse_error(const ss__sse *s);
/* The stream closed or fn said stop. */
bool ss__sse_ended(const ss__sse *s);
/* Control events seen so far (a connection that delivered none made no progress). */
size_t ss__sse_controls(const ss__sse *s);
/* url?offset=O[&live=LIVE][&cursor=C], escaped; NULL when out of memory;
 * the caller frees it (ss_free). */
char *ss__client_read_url(ss_client *c, const char *url, const char *offset, const char *live, const char *cursor);
void ss__client_sleep_ms(long ms);
/* A monotonic clock in milliseconds (linger, backoff deadlines). */
long ss__client_now_ms(void);

#endif
