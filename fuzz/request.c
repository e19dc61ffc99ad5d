/* See request.h. */
#include "request.h"

#include <string.h>

const char *fuzz_next_request(const char *p, const char *end, const char **req_end) {
    for (const char *q = p; q + 2 <= end; q++)
        if (q[0] == '\0' && q[1] == '\0') {
            *req_end = q;
            return q + 2;
        }
    *req_end = end;
    return NULL;
}

void fuzz_parse_request(const char *p, const char *end, ss_http_request *r, ss_http_header hs[FUZZ_MAX_HEADERS]) {
    *r = (ss_http_request){.scheme = ss_slice_cstr("http"), .authority = ss_slice_cstr("127.0.0.1:4437")};
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end;
    const char *sp = memchr(p, ' ', (size_t)(line_end - p));
    r->method = ss_slice_of(p, (size_t)((sp ? sp : line_end) - p));
    if (sp) {
        const char *t = sp + 1, *q = memchr(t, '?', (size_t)(line_end - t));
        r->path = ss_slice_of(t, (size_t)((q ? q : line_end) - t));
        if (q)
            r->query = ss_slice_of(q + 1, (size_t)(line_end - q - 1));
    }
    p = nl ? nl + 1 : end;
    while (p < end && *p != '\n' && r->n_headers < FUZZ_MAX_HEADERS) {
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon) {
            const char *v = colon + 1 < line_end && colon[1] == ' ' ? colon + 2 : colon + 1;
            hs[r->n_headers++] =
                (ss_http_header){ss_slice_of(p, (size_t)(colon - p)), ss_slice_of(v, (size_t)(line_end - v))};
        }
        p = nl ? nl + 1 : end;
    }
    if (p < end && *p == '\n')
        p++;
    r->headers = hs;
    r->body = ss_slice_of(p, (size_t)(end - p));
}

void fuzz_handle(ss_handler *h, const ss_http_request *r, int64_t *now,
                 void (*seen)(const ss_http_response *res)) {
    ss_http_response res;
    ss_handler_handle(h, r, &res);
    if (seen)
        seen(&res);
    ss_http_live *l = res.live;
    if (l) {
        for (int turn = 0; turn < 2 && (res.kind == SS_HTTP_WAIT || res.kind == SS_HTTP_STREAM); turn++) {
            *now += 1000;
            ss_http_live_resume(l, turn > 0, &res);
        }
        ss_http_live_free(l);
    }
    ss_http_response_release(&res);
}

void fuzz_send(ss_handler *h, const char *method, const char *path, const char *content_type, const char *body) {
    ss_http_header hs[] = {{ss_slice_cstr("Content-Type"), ss_slice_cstr(content_type)}};
    ss_http_request r = {.method = ss_slice_cstr(method),
                         .path = ss_slice_cstr(path),
                         .scheme = ss_slice_cstr("http"),
                         .authority = ss_slice_cstr("127.0.0.1:4437"),
                         .headers = hs,
                         .n_headers = 1,
                         .body = ss_slice_cstr(body)};
    ss_http_response res;
    ss_handler_handle(h, &r, &res);
    ss_http_response_release(&res);
}
