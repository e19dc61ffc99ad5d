/* Requests from fuzzer bytes, for the targets that drive the HTTP handler
 * (fuzz_handler.c, fuzz_subs.c).
 *
 * An input holds requests separated by two NUL bytes. A request is
 * "METHOD TARGET\n", then "Name: value\n" header lines up to an empty line,
 * then the body (the rest). */
#ifndef SS_FUZZ_REQUEST_H
#define SS_FUZZ_REQUEST_H

#include <stdint.h>

#include "streamsy/handler.h"

#define FUZZ_MAX_HEADERS 24

/* The end of the request starting at p (the separator, or end) in
 * *req_end; returns where the next one starts, or NULL when this is the last. */
const char *fuzz_next_request(const char *p, const char *end, const char **req_end);
/* Parses [p, end) into r (scheme http, Host 127.0.0.1:4437); headers go to hs. */
void fuzz_parse_request(const char *p, const char *end, ss_http_request *r, ss_http_header hs[FUZZ_MAX_HEADERS]);
/* Handles r as the front end would: a live response is resumed once, with
 * the clock (*now) moved 1 s, then timed out and freed. `seen` (may be NULL)
 * gets the first answer. */
void fuzz_handle(ss_handler *h, const ss_http_request *r, int64_t *now, void (*seen)(const ss_http_response *res));

/* Sends one request built from strings (the targets' fixed setup) and drops the answer. */
void fuzz_send(ss_handler *h, const char *method, const char *path, const char *content_type, const char *body);

#endif
