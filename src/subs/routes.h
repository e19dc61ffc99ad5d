/* What the route files share (routes.c dispatches; manage.c creates,
 * reads, deletes and links; wakes.c claims, acks and releases): the request
 * being answered and the helpers that answer it. */
#ifndef SS_SUBS_ROUTES_H
#define SS_SUBS_ROUTES_H

#include "internal.h"

#define MAX_TOKEN_BYTES 512 /* ours are about 90 */

/* One request under {prefix}/__ds. */
typedef struct route_req {
    ss_subs *s;
    const ss_http_request *http;
    ss_http_response *res;
    int64_t now;
    char origin[300];
} route_req;

/* ---- answers (routes.c): JSON bodies with Content-Type, errors as {"error":{"code","message"}} ---- */
void ss__subs_reply_json(route_req *r, int status, json_t *body); /* takes body; NULL: 503 */
void ss__subs_reply_error(route_req *r, int status, const char *code, const char *message);
void ss__subs_reply_text(route_req *r, int status, const char *text);
void ss__subs_reply_empty(route_req *r); /* 204 */
/* A storage or memory failure, as the stream routes answer them (503, 507, 500). */
void ss__subs_reply_rc(route_req *r, ss_rc rc);
void ss__subs_reply_not_found(route_req *r);

/* ---- request parts (routes.c) ---- */
/* The JSON body: {} when empty; NULL (answered 400) when it is not JSON. */
json_t *ss__subs_body(route_req *r);
/* The Bearer token into out; false when there is none or it is too long to be ours. */
bool ss__subs_bearer(const ss_http_request *q, char out[MAX_TOKEN_BYTES + 1]);
/* A non-empty string member, or NULL. */
const char *ss__subs_opt_string(const json_t *o, const char *k);

/* ---- manage.c ---- */
void ss__subs_put(route_req *r, const char *id);
void ss__subs_delete(route_req *r, const char *id);
void ss__subs_add_streams(route_req *r, subscription *sub);
void ss__subs_remove_stream(route_req *r, subscription *sub, const char *name);

/* ---- wakes.c ---- */
/* callback (any type) and ack (pull-wake only): acks, lease, done. */
void ss__subs_ack(route_req *r, subscription *sub, bool pull_wake_only);
void ss__subs_release(route_req *r, subscription *sub);
void ss__subs_claim(route_req *r, const char *id);

#endif
