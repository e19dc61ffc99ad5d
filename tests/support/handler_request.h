/* Builds a request view from strings and runs it through a handler, for the
 * tests that drive ss_handler_handle directly (no HTTP server). */
#ifndef SS_TEST_HANDLER_REQUEST_H
#define SS_TEST_HANDLER_REQUEST_H

#include <stdio.h>
#include <string.h>

#include "streamsy/handler.h"

#define TEST_MAX_HEADERS 16

/* headers: "Name: value" strings, NULL-terminated (or NULL); target may carry
 * a query; accepts_parts as a front end sets it. `res` is released first,
 * then holds the answer (and any continuation: the caller resumes or frees
 * res->live). */
static inline void test_handle_as(ss_handler *h, const char *method, const char *target, const char *body,
                                  const char *const *headers, bool accepts_parts, ss_http_response *res) {
    ss_http_header hs[TEST_MAX_HEADERS];
    char names[TEST_MAX_HEADERS][64];
    size_t n = 0;
    for (; headers && headers[n] && n < TEST_MAX_HEADERS; n++) {
        const char *colon = strchr(headers[n], ':');
        snprintf(names[n], sizeof names[n], "%.*s", (int)(colon - headers[n]), headers[n]);
        hs[n] = (ss_http_header){ss_slice_cstr(names[n]), ss_slice_cstr(colon + 2)};
    }
    const char *q = strchr(target, '?');
    ss_http_request r = {
        .method = ss_slice_cstr(method),
        .path = q ? ss_slice_of(target, (size_t)(q - target)) : ss_slice_cstr(target),
        .query = q ? ss_slice_cstr(q + 1) : SS_SLICE_NULL,
        .scheme = ss_slice_cstr("http"),
        .authority = ss_slice_cstr("127.0.0.1:4437"),
        .headers = hs,
        .n_headers = n,
        .body = body ? ss_slice_cstr(body) : SS_SLICE_NULL,
        .accepts_parts = accepts_parts,
    };
    ss_http_response_release(res);
    ss_handler_handle(h, &r, res);
}

/* A front end that takes bodies only in `body`. */
static inline void test_handle(ss_handler *h, const char *method, const char *target, const char *body,
                               const char *const *headers, ss_http_response *res) {
    test_handle_as(h, method, target, body, headers, false, res);
}

#endif
