/* The wake routes: POST .../callback (webhook), .../claim, .../ack and
 * .../release (pull-wake), with the contract's checks in order: the
 * subscription, its type, the Bearer token, the generation and wake_id of
 * token and body, then the acks. */
#include <string.h>

#include "routes.h"
#include "streamsy/alloc.h"

/* Steps 3-5 of the contract: the Bearer token, its validity, the generation
 * and wake_id of token and body. False when answered. */
static bool check_wake(route_req *r, const subscription *sub, const json_t *body) {
    char token[MAX_TOKEN_BYTES + 1];
    if (!ss__subs_bearer(r->http, token)) {
        ss__subs_reply_error(r, 401, "TOKEN_INVALID", "Missing or malformed Authorization header");
        return false;
    }
    uint64_t generation = 0;
    subs_token_check c = ss__subs_token_check(r->s, sub->id, token, r->now, &generation);
    if (c != SUBS_TOKEN_OK) {
        bool expired = c == SUBS_TOKEN_EXPIRED;
        ss__subs_reply_error(r, 401, expired ? "TOKEN_EXPIRED" : "TOKEN_INVALID",
                             expired ? "Token expired" : "Token invalid");
        return false;
    }
    const json_t *g = json_object_get(body, "generation");
    const char *wake_id = json_string_value(json_object_get(body, "wake_id"));
    if (generation != sub->generation || !json_is_integer(g) ||
        (uint64_t)json_integer_value(g) != sub->generation || !wake_id || !sub->wake_id[0] ||
        strcmp(wake_id, sub->wake_id) != 0) {
        ss__subs_reply_error(r, 409, "FENCED", "Wake generation is stale");
        return false;
    }
    return true;
}

/* Step 6: every ack names a linked stream with an offset from its cursor up
 * to its tail; then all are applied. False when answered (nothing applied). */
static bool apply_acks(route_req *r, subscription *sub, const json_t *body) {
    const json_t *acks = json_object_get(body, "acks");
    if (!acks || json_is_null(acks))
        return true;
    if (!json_is_array(acks)) {
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "acks must be an array");
        return false;
    }
    size_t n = json_array_size(acks), i;
    ss_offset *to = ss_calloc(n + 1, sizeof *to);
    sub_link **links = ss_calloc(n + 1, sizeof *links);
    ss_rc rc = to && links ? SS_OK : SS_NOMEM;
    const char *err = rc ? "" : NULL;
    const json_t *a;
    json_array_foreach(acks, i, a) {
        if (err)
            break;
        const char *stream =
            ss__subs_opt_string(a, "stream") ? ss__subs_opt_string(a, "stream") : ss__subs_opt_string(a, "path");
        const char *offset = json_string_value(json_object_get(a, "offset"));
        sub_link *l = stream ? ss__sub_named_link(sub, stream) : NULL;
        ss_offset tail;
        if (!l)
            err = "Ack references an unknown subscription stream";
        else if (!offset || ss_offset_set(&to[i], ss_slice_cstr(offset)))
            err = "Ack offset is not an offset";
        else if (strcmp(offset, SUBS_BEFORE_FIRST) == 0)
            err = "Ack offset must not be -1";
        else if (ss_offset_cmp(&to[i], &l->acked) < 0)
            err = "Ack offset regresses the committed cursor";
        else if ((rc = ss__subs_tail(r->s, l->path, &tail)) != SS_OK)
            err = "";
        else if (ss_offset_cmp(&to[i], &tail) > 0)
            err = "Ack offset is beyond stream tail";
        links[i] = l;
    }
    if (!err)
        for (i = 0; i < n; i++)
            links[i]->acked = to[i];
    ss_free(to);
    ss_free(links);
    if (err && !err[0])
        ss__subs_reply_rc(r, rc);
    else if (err)
        ss__subs_reply_error(r, 409, "INVALID_OFFSET", err);
    return err == NULL;
}

/* callback and ack: acks, lease, then done ends the wake. */
void ss__subs_ack(route_req *r, subscription *sub, bool pull_wake_only) {
    if (pull_wake_only && sub->type != SUB_PULL_WAKE) {
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "Subscription is not pull-wake");
        return;
    }
    json_t *body = ss__subs_body(r);
    if (!body)
        return;
    if (check_wake(r, sub, body) && apply_acks(r, sub, body)) {
        sub->lease_until = r->now + sub->lease_ttl_ms;
        bool next_wake = json_is_true(json_object_get(body, "done")) && ss__sub_end_wake(r->s, sub);
        ss__subs_mark_due(r->s);
        ss_rc rc = ss__sub_save(r->s, sub);
        if (rc)
            ss__subs_reply_rc(r, rc);
        else
            ss__subs_reply_json(r, 200, json_pack("{s:b,s:b}", "ok", 1, "next_wake", next_wake));
    }
    json_decref(body);
}

void ss__subs_release(route_req *r, subscription *sub) {
    if (sub->type != SUB_PULL_WAKE) {
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "Subscription is not pull-wake");
        return;
    }
    json_t *body = ss__subs_body(r);
    if (!body)
        return;
    if (check_wake(r, sub, body)) {
        ss__sub_end_wake(r->s, sub);
        ss__subs_mark_due(r->s);
        ss_rc rc = ss__sub_save(r->s, sub);
        if (rc)
            ss__subs_reply_rc(r, rc);
        else
            ss__subs_reply_empty(r);
    }
    json_decref(body);
}

void ss__subs_claim(route_req *r, const char *id) {
    json_t *body = ss__subs_body(r);
    if (!body)
        return;
    const char *worker = ss__subs_opt_string(body, "worker");
    subscription *sub = ss__subs_find(r->s, ss_slice_cstr(id));
    ss_rc rc = SS_OK;
    bool pending = false;
    const char *first = NULL;
    if (!worker || strlen(worker) > SS_SUBS_MAX_ID_BYTES)
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "worker must be a non-empty string");
    else if (!sub)
        ss__subs_reply_not_found(r);
    else if (sub->type != SUB_PULL_WAKE)
        ss__subs_reply_error(r, 400, "INVALID_REQUEST", "Subscription is not pull-wake");
    else if (sub->holder)
        ss__subs_reply_json(r, 409,
                            json_pack("{s:{s:s,s:s,s:I}}", "error", "code", "ALREADY_CLAIMED", "current_holder",
                                      sub->holder, "generation", (json_int_t)sub->generation));
    else if (!(pending = ss__sub_pending(r->s, sub, &first, &rc)) && rc)
        ss__subs_reply_rc(r, rc); /* a tail we could not read: not "no work" */
    else if (!pending)
        ss__subs_reply_error(r, 409, "NO_PENDING_WORK", "Subscription has no pending work");
    else {
        if (!sub->wake_id[0])
            ss__sub_start_wake(r->s, sub, first); /* pending, nobody holds it: no second look at the tails */
        char *token = ss__subs_token_mint(r->s, sub->id, sub->generation, r->now);
        char *holder = ss__subs_strdup(worker);
        json_t *streams = ss__sub_stream_infos(r->s, sub, true, &rc);
        if (!token || !holder || !streams) {
            ss_free(holder);
            json_decref(streams);
            ss__subs_reply_rc(r, streams ? SS_NOMEM : rc);
        } else {
            sub->holder = holder;
            sub->lease_until = r->now + sub->lease_ttl_ms;
            ss__subs_mark_due(r->s);
            if ((rc = ss__sub_save(r->s, sub)) != SS_OK) { /* not claimed after all */
                ss_free(sub->holder);
                sub->holder = NULL;
                sub->lease_until = 0;
                ss__subs_reply_rc(r, rc);
                json_decref(streams);
            } else
                ss__subs_reply_json(r, 200,
                                    json_pack("{s:s,s:I,s:s,s:o,s:I}", "wake_id", sub->wake_id, "generation",
                                              (json_int_t)sub->generation, "token", token, "streams", streams,
                                              "lease_ttl_ms", (json_int_t)sub->lease_ttl_ms));
        }
        ss_free(token);
    }
    json_decref(body);
}
