/* create: plain streams and forks, with create-style idempotency. */
#include <string.h>

#include "internal.h"

#define OCTET_STREAM "application/octet-stream"

static ss_create_result bad_request(const char *message) {
    return (ss_create_result){.status = SS_CREATE_BAD_REQUEST, .message = message};
}

static ss_create_result conflict(ss_create_conflict why, const char *message) {
    return (ss_create_result){.status = SS_CREATE_CONFLICT, .conflict = why, .message = message};
}

static bool expires_equal(ss_slice a, ss_slice b) {
    int64_t ma, mb;
    if (ss_parse_rfc3339(a, &ma) && ss_parse_rfc3339(b, &mb))
        return ma == mb;
    return ss_slice_eq(a, b);
}

/* Does an existing stream satisfy this create request? */
static bool config_matches(const ss_record *r, const ss_create_options *o) {
    if (o->content_type.len && !ss_content_types_match(o->content_type, r->content_type))
        return false;
    if (!ss_slice_eq(o->forked_from, r->forked_from))
        return false;
    if (o->has_fork_offset && !ss_slice_eq(o->fork_offset, ss_offset_slice(&r->fork_offset)))
        return false;
    if (o->fork_sub_offset != r->fork_sub_offset)
        return false;
    bool fork_without_expiry = o->forked_from.len && !o->has_ttl && !o->expires_at.len;
    if (!fork_without_expiry) {
        if (o->has_ttl != r->has_ttl || (o->has_ttl && o->ttl_s != r->ttl_s))
            return false;
        if ((o->expires_at.len != 0) != (r->expires_at.len != 0) ||
            (o->expires_at.len && !expires_equal(o->expires_at, r->expires_at)))
            return false;
    }
    return o->closed == r->closed;
}

/* A created/exists result carrying a stream bound to `st` (taken). */
static ss_rc bound(ss_protocol *p, ss_storage_stream *st, const ss_record *r, ss_create_status status,
                   ss_create_result *out) {
    ss_protocol_stream *s;
    ss_rc rc = ss__bind(p, st, &s);
    if (rc) {
        ss_storage_close(st);
        return rc;
    }
    *out = (ss_create_result){.status = status,
                              .stream = s,
                              .next_offset = r->tail,
                              .content_type = r->content_type,
                              .closed = r->closed};
    return SS_OK;
}

/* Classifies a create against the stream already at the path. Takes `st`. */
static ss_rc result_for_existing(ss_protocol *p, ss_storage_stream *st, const ss_record *r,
                                 const ss_create_options *o, ss_create_result *out) {
    if (r->soft_deleted || !config_matches(r, o)) {
        ss_storage_close(st);
        *out = r->soft_deleted
                   ? conflict(SS_CREATE_CONFLICT_SOFT_DELETED, "Stream is soft-deleted")
                   : conflict(SS_CREATE_CONFLICT_CONFIG_MISMATCH, "Stream exists with different configuration");
        return SS_OK;
    }
    return bound(p, st, r, SS_CREATE_EXISTS, out);
}

static ss_rc created(ss_protocol *p, ss_storage_stream *st, const ss_record *r, ss_create_result *out) {
    ss__emit_commit(p, r);
    return bound(p, st, r, SS_CREATE_CREATED, out);
}

/* Frames `data` into messages appended after `prev` (after `n_prefix` slots
 * already filled by the caller). */
static ss_rc frame_initial(ss_protocol *p, ss_slice data, ss_slice ct, const ss_message *prefix, size_t n_prefix,
                           const ss_offset *prev, int64_t now, ss_arena *a, ss_message **out_msgs, size_t *out_n,
                           const char **out_error) {
    ss_slice *items = NULL;
    size_t n_items = 0;
    if (data.len) {
        ss_rc rc = ss__frame(data, ct, a, &items, &n_items, out_error);
        if (rc)
            return rc;
    }
    size_t n = n_prefix + n_items;
    ss_message *msgs = n ? ss_arena_alloc(a, n * sizeof *msgs) : NULL;
    if (n && !msgs)
        return SS_NOMEM;
    for (size_t i = 0; i < n_prefix; i++)
        msgs[i] = prefix[i];
    for (size_t i = 0; i < n_items; i++)
        msgs[n_prefix + i].data = items[i];
    for (size_t i = 0; i < n; i++)
        msgs[i].ts_ms = now;
    ss_rc rc = ss__allocate(p, prev, msgs, n);
    if (rc)
        return rc;
    *out_msgs = msgs;
    *out_n = n;
    return SS_OK;
}

static void set_expiry(ss_record *r, ss_after_commit_effects *e, int64_t now, bool has_ttl, uint64_t ttl_s,
                       ss_slice expires_at) {
    if (has_ttl) {
        r->has_ttl = true;
        r->ttl_s = ttl_s;
        r->has_expires_at_ms = true;
        r->expires_at_ms = now + (int64_t)ttl_s * 1000;
    } else if (expires_at.len) {
        r->expires_at = expires_at;
        r->has_expires_at_ms = ss_parse_rfc3339(expires_at, &r->expires_at_ms);
    }
    if (r->has_expires_at_ms) {
        e->schedule_expiry = true;
        e->expiry_at_ms = r->expires_at_ms;
    }
}

static ss_rc create_plain(ss_protocol *p, ss_storage_stream *st, ss_slice id, const ss_create_options *o,
                          ss_arena *a, ss_create_result *out) {
    int64_t now = ss_protocol_now_ms(p);
    ss_record r = {.id = id, .created_ms = now};
    r.content_type = o->content_type.len ? o->content_type : ss_slice_cstr(OCTET_STREAM);
    ss_offset initial = p->initial;
    ss_message *msgs;
    size_t n;
    const char *err = NULL;
    ss_rc rc = frame_initial(p, o->initial_data, r.content_type, NULL, 0, &initial, now, a, &msgs, &n, &err);
    if (rc == SS_BADARG) {
        ss_storage_close(st);
        *out = bad_request(err ? "Invalid JSON" : "Invalid initial data");
        return SS_OK;
    }
    if (rc)
        goto fail;
    r.tail = n ? msgs[n - 1].offset : initial;
    r.counter = n;
    if (o->closed) {
        r.closed = true;
        r.closed_ms = now;
    }
    ss_create_plan plan = {.record = r, .msgs = msgs, .n_msgs = n, .effects = {.notify = true}};
    set_expiry(&plan.record, &plan.effects, now, o->has_ttl, o->ttl_s, o->expires_at);
    ss_create_outcome oc;
    if ((rc = ss_storage_create(p->storage, &plan, a, &oc)))
        goto fail;
    if (oc.status == SS_CREATE_OUTCOME_CREATED)
        return created(p, st, &oc.record, out);
    return result_for_existing(p, st, &oc.record, o, out);
fail:
    ss_storage_close(st);
    return rc;
}

/* The sub-offset prefix: the first k messages (JSON) or the first k bytes of
 * the next message (anything else) after the fork offset in the source chain. */
static ss_rc sub_offset_prefix(ss_protocol *p, ss_storage_stream *src, const ss_record *src_rec,
                               const ss_offset *fork_offset, uint64_t k, ss_arena *a, ss_message **out,
                               size_t *out_n, const char **out_error) {
    ss__chain_read cr = {0};
    ss_rc rc = ss__read_chain(p, src, src_rec, fork_offset, false, a, &cr);
    if (rc)
        return rc;
    if (ss_content_type_is_json(src_rec->content_type)) {
        if (k > cr.n) {
            *out_error = "Stream-Fork-Sub-Offset exceeds available messages";
            return SS_BADARG;
        }
        *out = cr.msgs;
        *out_n = (size_t)k;
        return SS_OK;
    }
    if (cr.n == 0 || k > cr.msgs[0].data.len) {
        *out_error = cr.n == 0 ? "Stream-Fork-Sub-Offset requires data after the fork offset"
                               : "Stream-Fork-Sub-Offset exceeds the next message";
        return SS_BADARG;
    }
    cr.msgs[0].data.len = (size_t)k;
    *out = cr.msgs;
    *out_n = 1;
    return SS_OK;
}

/* How many ancestors `rec` has (a stream that forks from nothing: 0),
 * counting until SS_MAX_FORK_DEPTH + 1. A purged ancestor ends the count. */
static ss_rc ancestors(ss_protocol *p, const ss_record *rec, ss_arena *a, size_t *out) {
    size_t n = 0;
    ss_slice up = rec->forked_from;
    while (up.len && n <= SS_MAX_FORK_DEPTH) {
        ss_storage_stream *st;
        ss_rc rc = ss_storage_open(p->storage, up, &st);
        if (rc)
            return rc;
        ss_record r;
        bool found;
        rc = ss_storage_get_record(st, a, &r, &found);
        ss_storage_close(st);
        if (rc)
            return rc;
        n++;
        up = found ? r.forked_from : SS_SLICE_NULL;
    }
    *out = n;
    return SS_OK;
}

static ss_rc create_fork(ss_protocol *p, ss_storage_stream *st, ss_slice id, const ss_create_options *o,
                         ss_arena *a, ss_create_result *out) {
    ss_storage_stream *src = NULL;
    ss_rc rc;
    if (!ss_storage_can_fork(p->storage)) {
        *out = (ss_create_result){
            .status = SS_CREATE_NOT_SUPPORTED, .feature = "fork", .message = "Feature not supported: fork"};
        goto done;
    }
    if ((rc = ss_storage_open(p->storage, o->forked_from, &src)))
        goto fail;
    ss_record sr;
    bool found;
    if ((rc = ss__load_record(p, src, a, &sr, &found)))
        goto fail;
    if (!found) {
        *out = (ss_create_result){.status = SS_CREATE_NOT_FOUND, .message = "Source stream not found"};
        goto done;
    }
    if (sr.soft_deleted) {
        *out = conflict(SS_CREATE_CONFLICT_FORK_SOURCE_SOFT_DELETED, "Source stream is soft-deleted");
        goto done;
    }
    size_t depth;
    if ((rc = ancestors(p, &sr, a, &depth)))
        goto fail;
    if (depth + 1 > SS_MAX_FORK_DEPTH) { /* the fork would have depth + 1 ancestors: too deep to read */
        *out = bad_request("Fork chain too deep");
        goto done;
    }
    ss_offset fork_offset = sr.tail, initial = p->initial;
    if (o->has_fork_offset && ss_offset_set(&fork_offset, o->fork_offset)) { /* checked by ss_protocol_create */
        *out = bad_request("Invalid Stream-Fork-Offset");
        goto done;
    }
    if (ss_offset_cmp(&fork_offset, &initial) < 0 || ss_offset_cmp(&fork_offset, &sr.tail) > 0) {
        *out = bad_request("Stream-Fork-Offset exceeds source tail");
        goto done;
    }
    ss_slice ct = o->content_type.len ? o->content_type : sr.content_type;
    if (!ss_content_types_match(ct, sr.content_type)) {
        *out = conflict(SS_CREATE_CONFLICT_FORK_CONTENT_TYPE, "Content-Type does not match the source stream");
        goto done;
    }
    ss_message *prefix = NULL;
    size_t n_prefix = 0;
    const char *err = NULL;
    if (o->fork_sub_offset > 0) {
        rc = sub_offset_prefix(p, src, &sr, &fork_offset, o->fork_sub_offset, a, &prefix, &n_prefix, &err);
        if (rc == SS_BADARG) {
            *out = bad_request(err);
            goto done;
        }
        if (rc)
            goto fail;
    }
    int64_t now = ss_protocol_now_ms(p);
    ss_message *msgs;
    size_t n;
    rc = frame_initial(p, o->initial_data, ct, prefix, n_prefix, &fork_offset, now, a, &msgs, &n, &err);
    if (rc == SS_BADARG) {
        *out = bad_request("Invalid JSON");
        goto done;
    }
    if (rc)
        goto fail;
    ss_fork_plan plan = {
        .child = {.id = id,
                  .content_type = ct,
                  .created_ms = now,
                  .forked_from = o->forked_from,
                  .fork_offset = fork_offset,
                  .fork_sub_offset = o->fork_sub_offset,
                  .tail = n ? msgs[n - 1].offset : fork_offset,
                  .counter = n,
                  .closed = o->closed,
                  .closed_ms = o->closed ? now : 0},
        .source_id = o->forked_from,
        .source_live_at = fork_offset,
        .msgs = msgs,
        .n_msgs = n,
        .effects = {.notify = true},
    };
    /* Expiry: the request's own TTL or Expires-At, else the source's. */
    if (o->has_ttl || o->expires_at.len)
        set_expiry(&plan.child, &plan.effects, now, o->has_ttl, o->ttl_s, o->expires_at);
    else
        set_expiry(&plan.child, &plan.effects, now, sr.has_ttl, sr.ttl_s, sr.expires_at);
    ss_create_outcome oc;
    if ((rc = ss_storage_fork(p->storage, &plan, a, &oc)))
        goto fail;
    ss_storage_close(src);
    switch (oc.status) {
    case SS_CREATE_OUTCOME_CREATED:
        return created(p, st, &oc.record, out);
    case SS_CREATE_OUTCOME_EXISTS:
        return result_for_existing(p, st, &oc.record, o, out);
    case SS_CREATE_OUTCOME_SOURCE_GONE:
        *out = (ss_create_result){.status = SS_CREATE_NOT_FOUND, .message = "Source stream not found"};
        ss_storage_close(st);
        return SS_OK;
    }
    rc = SS_CORRUPT;
fail:
    ss_storage_close(src);
    ss_storage_close(st);
    return rc;
done:
    ss_storage_close(src);
    ss_storage_close(st);
    return SS_OK;
}

ss_rc ss_protocol_create(ss_protocol *p, ss_slice id, const ss_create_options *o, ss_arena *a,
                         ss_create_result *out) {
    memset(out, 0, sizeof *out);
    if (o->has_ttl && o->expires_at.len) {
        *out = bad_request("Cannot specify both Stream-TTL and Stream-Expires-At");
        return SS_OK;
    }
    int64_t ignored;
    if (o->expires_at.len && !ss_parse_rfc3339(o->expires_at, &ignored)) {
        *out = bad_request("Invalid Stream-Expires-At format");
        return SS_OK;
    }
    if (!o->forked_from.len && (o->has_fork_offset || o->fork_sub_offset)) {
        *out = bad_request(o->has_fork_offset ? "Stream-Fork-Offset requires Stream-Forked-From"
                                              : "Stream-Fork-Sub-Offset requires Stream-Forked-From");
        return SS_OK;
    }
    if (o->has_ttl && o->ttl_s > SS_MAX_TTL_SECONDS) {
        *out = bad_request("Invalid Stream-TTL format");
        return SS_OK;
    }
    if (o->has_fork_offset && !ss_protocol_is_valid_offset(p, o->fork_offset)) {
        *out = bad_request("Invalid Stream-Fork-Offset format");
        return SS_OK;
    }
    ss_storage_stream *st;
    ss_rc rc = ss_storage_open(p->storage, id, &st);
    if (rc)
        return rc;
    ss_record existing;
    bool found;
    if ((rc = ss__load_record(p, st, a, &existing, &found))) {
        ss_storage_close(st);
        return rc;
    }
    if (found)
        return result_for_existing(p, st, &existing, o, out);
    if (o->forked_from.len)
        return create_fork(p, st, id, o, a, out);
    return create_plain(p, st, id, o, a, out);
}
