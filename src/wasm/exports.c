/* The exported entry points of the Durable Object module (front.h). One
 * instance serves one Durable Object; the shim calls in one at a time.
 *
 * Live reads: a WAIT or STREAM response gets a live id; its waiter is parked
 * on the stream and, when an append notifies it (ss_wasm_run_pending, which
 * the shim calls after every entry point that may have committed), calls the
 * wake import. The shim then calls ss_wasm_resume(id), at the latest at the
 * deadline it was given, and ss_wasm_live_free(id) when the client is gone.
 *
 * Expiry: the protocol's in-process timers; after every entry point the
 * earliest deadline (or the outbox retry time, when earlier) becomes the
 * Durable Object's alarm, and ss_wasm_alarm runs what is due. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "front.h"
#include "host.h"
#include "streamsy/alloc.h"

#define ALARM_UNKNOWN (-2) /* what the object's alarm is set to is not known yet */
#define ALARM_NONE (-1)

typedef struct front {
    ss_stream_factory *storage;
    ss_protocol *p;
    ss_handler *h;
    ss__map live;       /* 4-byte id -> ss_http_live */
    uint32_t next_live; /* ids are never reused by an instance */
    int64_t alarm;      /* what we last set: a time, ALARM_NONE or ALARM_UNKNOWN */
    int64_t retry_at;   /* outbox redelivery, 0 = none */
    ss_buf out;         /* results for the shim: ss_wasm_out_ptr / _len */
} front;

static front F;

static int64_t host_now(void *ctx) {
    (void)ctx;
    return (int64_t)ss_host_now_ms();
}

static const ss_clock host_clock = {host_now, NULL};

static ss_slice key_of(const uint32_t *id) { return ss_slice_of(id, sizeof *id); }

static void log_line(const char *what, ss_rc rc) { fprintf(stderr, "streamsy: %s: %s\n", what, ss_rc_str(rc)); }

/* ---- memory shared with the shim -------------------------------------------------------------- */

SS_EXPORT(ss_wasm_alloc) void *ss_wasm_alloc(uint32_t n) { return ss_malloc(n ? n : 1); }
SS_EXPORT(ss_wasm_free) void ss_wasm_free(void *p) { ss_free(p); }
SS_EXPORT(ss_wasm_out_ptr) const char *ss_wasm_out_ptr(void) { return F.out.p; }
SS_EXPORT(ss_wasm_out_len) uint32_t ss_wasm_out_len(void) { return (uint32_t)F.out.len; }

static ss_slice slice_at(const char *p, uint32_t len) { return ss_slice_of(len ? p : "", len); }

/* ---- the alarm ----------------------------------------------------------------------------------- */

/* Runs the timers that are due and points the alarm at the next deadline. */
static void sync_alarm(void) {
    int64_t next = ss_protocol_run_expiry(F.p);
    int64_t want = next == INT64_MAX ? ALARM_NONE : next;
    if (F.retry_at && (want == ALARM_NONE || F.retry_at < want))
        want = F.retry_at;
    if (want != F.alarm) {
        ss_host_set_alarm(want == ALARM_NONE ? -1.0 : (double)want);
        F.alarm = want;
    }
}

/* ---- init ------------------------------------------------------------------------------------------ */

SS_EXPORT(ss_wasm_init) int32_t ss_wasm_init(uint32_t long_poll_timeout_ms) {
    if (F.p)
        return SS_MISUSE;
    ss_rc rc = ss_do_factory_open(&ss__wasm_do_host, &F.storage);
    if (rc) {
        log_line("cannot open the Durable Object's storage", rc);
        return (int32_t)rc;
    }
    ss_protocol_options po = {
        .storage = F.storage, .clock = &host_clock, .long_poll_timeout_ms = long_poll_timeout_ms};
    if ((rc = ss_protocol_new(&po, &F.p)))
        return (int32_t)rc;
    ss_handler_options ho = {.protocol = F.p, .max_body_bytes = SS_WASM_MAX_BODY_BYTES};
    if ((rc = ss_handler_new(&ho, &F.h)))
        return (int32_t)rc;
    ss__map_init(&F.live);
    ss_buf_init(&F.out, SS_DO_SNAPSHOT_MAX_BYTES + 4096);
    F.alarm = ALARM_UNKNOWN;
    sync_alarm();
    return SS_OK;
}

/* ---- requests and live reads ------------------------------------------------------------------------ */

static void emit(const ss_http_response *res) {
    ss_host_resp_status(res->status);
    for (size_t i = 0; i < res->n_headers; i++)
        ss_host_resp_header(res->headers[i].name.p, (uint32_t)res->headers[i].name.len, res->headers[i].value.p,
                            (uint32_t)res->headers[i].value.len);
    if (res->body.len)
        ss_host_resp_body(res->body.p, (uint32_t)res->body.len);
}

static void on_wake(ss_waiter *w) { ss_host_wake(*(uint32_t *)w->ctx); }

/* The live id's storage: a small block holding the id, so the waiter's ctx
 * stays valid while the map holds the continuation. */
typedef struct live_slot {
    uint32_t id;
    ss_http_live *l;
} live_slot;

static live_slot *live_get(uint32_t id) { return ss__map_get(&F.live, key_of(&id)); }

static void live_drop(live_slot *s) {
    ss_protocol_unpark(F.p, ss_http_live_waiter(s->l));
    ss__map_remove(&F.live, key_of(&s->id));
    ss_http_live_free(s->l);
    ss_free(s);
}

/* Parks the continuation of a WAIT / STREAM response and tells the shim. */
static ss_rc park(live_slot *s) {
    ss_waiter *w = ss_http_live_waiter(s->l);
    w->fire = on_wake;
    w->ctx = &s->id;
    ss_rc rc = ss_protocol_park(F.p, w, ss_http_live_stream_id(s->l));
    if (!rc)
        ss_host_resp_live(s->id, (double)ss_http_live_deadline_ms(s->l));
    return rc;
}

/* Takes the continuation: parks it under a new id (announced with
 * resp_live), or frees it and fails. */
static ss_rc register_live(ss_http_live *l) {
    live_slot *s = ss_malloc(sizeof *s);
    if (!s) {
        ss_http_live_free(l);
        return SS_NOMEM;
    }
    s->id = ++F.next_live;
    s->l = l;
    ss_rc rc = ss__map_put(&F.live, key_of(&s->id), s);
    if (rc) {
        ss_http_live_free(l);
        ss_free(s);
        return rc;
    }
    rc = park(s);
    if (rc)
        live_drop(s);
    return rc;
}

SS_EXPORT(ss_wasm_handle) int32_t ss_wasm_handle(const char *req, uint32_t len) {
    ss_arena a;
    ss_arena_init(&a);
    ss_http_request view;
    ss_http_response res;
    int32_t kind = SS_HTTP_DONE;
    ss_rc rc = ss__wasm_decode_request(slice_at(req, len), &a, &view);
    if (rc) {
        ss_http_response_init(&res);
        res.status = 400;
        ss_buf_append_cstr(&res.body, "Malformed request");
        emit(&res);
        goto done;
    }
    if (view.n_headers > SS_HTTP_MAX_REQUEST_HEADERS) {
        ss_http_response_init(&res);
        res.status = 431;
        ss_buf_append_cstr(&res.body, "Too many headers");
        emit(&res);
        goto done;
    }
    ss_handler_handle(F.h, &view, &res);
    kind = res.kind;
    if (res.live && register_live(res.live) != SS_OK) {
        res.live = NULL; /* freed by register_live */
        ss_http_response_release(&res);
        ss_http_response_init(&res);
        res.status = 503;
        ss_buf_append_cstr(&res.body, "Out of memory");
        kind = SS_HTTP_DONE;
    }
    emit(&res);
done:
    ss_http_response_release(&res);
    ss_arena_release(&a);
    sync_alarm();
    return kind;
}

SS_EXPORT(ss_wasm_resume) int32_t ss_wasm_resume(uint32_t id, int32_t timed_out) {
    live_slot *s = live_get(id);
    if (!s)
        return -(int32_t)SS_MISUSE;
    ss_protocol_unpark(F.p, ss_http_live_waiter(s->l)); /* a timeout: still parked */
    ss_http_response res;
    ss_http_response_init(&res);
    ss_http_live_resume(s->l, timed_out != 0, &res);
    emit(&res);
    int32_t kind = res.kind;
    if (kind == SS_HTTP_DONE || park(s) != SS_OK) {
        live_drop(s);
        kind = SS_HTTP_DONE;
    }
    ss_http_response_release(&res);
    sync_alarm();
    return kind;
}

SS_EXPORT(ss_wasm_live_free) void ss_wasm_live_free(uint32_t id) {
    live_slot *s = live_get(id);
    if (s)
        live_drop(s);
}

SS_EXPORT(ss_wasm_live_count) uint32_t ss_wasm_live_count(void) { return (uint32_t)ss__map_size(&F.live); }

SS_EXPORT(ss_wasm_run_pending) uint32_t ss_wasm_run_pending(void) {
    size_t n = ss_protocol_run_pending(F.p);
    sync_alarm();
    return (uint32_t)n;
}

SS_EXPORT(ss_wasm_alarm) void ss_wasm_alarm(void) {
    F.alarm = ALARM_UNKNOWN; /* the alarm that fired is gone */
    if (F.retry_at && F.retry_at <= host_now(NULL))
        F.retry_at = 0; /* the shim redelivers the outbox now */
    sync_alarm();
}

/* ---- forks across objects ------------------------------------------------------------------------------- */

/* 1 with the stream id `find` takes from the request in the out buffer, 0
 * when it names none, -ss_rc on failure. */
static int32_t export_id(const char *req, uint32_t len,
                         bool (*find)(const ss_handler *h, const ss_http_request *r, ss_arena *a, ss_slice *out)) {
    ss_arena a;
    ss_arena_init(&a);
    ss_http_request view;
    ss_slice id;
    int32_t out = 0;
    ss_buf_clear(&F.out);
    if (!ss__wasm_decode_request(slice_at(req, len), &a, &view) && find(F.h, &view, &a, &id))
        out = ss_buf_append_slice(&F.out, id) ? -(int32_t)SS_NOMEM : 1;
    ss_arena_release(&a);
    return out;
}

/* The fork source a PUT names (Stream-Forked-From), as a canonical id. */
SS_EXPORT(ss_wasm_fork_source) int32_t ss_wasm_fork_source(const char *req, uint32_t len) {
    return export_id(req, len, ss_handler_fork_source);
}

/* 1 with the request's canonical stream id in the out buffer (the id this
 * object holds), 0 when the path names no valid stream. */
SS_EXPORT(ss_wasm_stream_id) int32_t ss_wasm_stream_id(const char *req, uint32_t len) {
    return export_id(req, len, ss_handler_stream_id);
}

/* Status (ss_do_export_status) or -ss_rc; the snapshot in the out buffer
 * (empty for not-found; import it otherwise). */
SS_EXPORT(ss_wasm_fork_export)
int32_t ss_wasm_fork_export(const char *src, uint32_t src_len, const char *child, uint32_t child_len) {
    ss_slice source = slice_at(src, src_len);
    ss_get_result g; /* lazy expiry first, as for any request */
    ss_rc rc = ss_protocol_get(F.p, source, &g);
    if (!rc && g.stream)
        ss_stream_release(g.stream);
    ss_buf_clear(&F.out);
    ss_do_export_status st = SS_DO_EXPORT_NOT_FOUND;
    if (!rc)
        rc = ss_do_fork_export(F.storage, source, slice_at(child, child_len), &F.out, &st);
    sync_alarm();
    return rc ? -(int32_t)rc : (int32_t)st;
}

SS_EXPORT(ss_wasm_fork_import) int32_t ss_wasm_fork_import(const char *snap, uint32_t len) {
    return (int32_t)ss_do_fork_import(F.storage, slice_at(snap, len));
}

/* After a fork PUT: 1 when the child forks from the source (keep the edge
 * the export recorded), 0 when not (drop it), or -ss_rc. */
SS_EXPORT(ss_wasm_fork_settle)
int32_t ss_wasm_fork_settle(const char *child, uint32_t child_len, const char *src, uint32_t src_len) {
    bool keep = false;
    ss_rc rc = ss_do_is_fork_of(F.storage, slice_at(child, child_len), slice_at(src, src_len), &keep);
    ss_rc gc = ss_do_gc_mirrors(F.storage);
    if (rc || gc)
        return -(int32_t)(rc ? rc : gc);
    return keep ? 1 : 0;
}

/* 1 when the parent was purged, 0 when not, or -ss_rc. */
SS_EXPORT(ss_wasm_drop_child)
int32_t ss_wasm_drop_child(const char *parent, uint32_t parent_len, const char *child, uint32_t child_len) {
    bool purged = false;
    ss_rc rc = ss_do_drop_child(F.storage, slice_at(parent, parent_len), slice_at(child, child_len), &purged);
    sync_alarm();
    return rc ? -(int32_t)rc : purged;
}

/* 1 with "seq(8, LE) parent_len(4, LE) parent child" in the out buffer, 0 when
 * the outbox is empty, or -ss_rc. */
SS_EXPORT(ss_wasm_outbox_next) int32_t ss_wasm_outbox_next(void) {
    ss_arena a;
    ss_arena_init(&a);
    ss_do_outbox_entry e;
    bool found = false;
    ss_buf_clear(&F.out);
    ss_rc rc = ss_do_outbox_next(F.storage, &a, &e, &found);
    if (!rc && found) {
        unsigned char hdr[12];
        for (int i = 0; i < 8; i++)
            hdr[i] = (unsigned char)((uint64_t)e.seq >> (8 * i));
        for (int i = 0; i < 4; i++)
            hdr[8 + i] = (unsigned char)(e.parent.len >> (8 * i));
        if (!(rc = ss_buf_append(&F.out, hdr, sizeof hdr)) && !(rc = ss_buf_append_slice(&F.out, e.parent)))
            rc = ss_buf_append_slice(&F.out, e.child);
    }
    ss_arena_release(&a);
    return rc ? -(int32_t)rc : found;
}

SS_EXPORT(ss_wasm_outbox_add)
int32_t ss_wasm_outbox_add(const char *parent, uint32_t parent_len, const char *child, uint32_t child_len) {
    return (int32_t)ss_do_outbox_add(F.storage, slice_at(parent, parent_len), slice_at(child, child_len));
}

SS_EXPORT(ss_wasm_outbox_done) int32_t ss_wasm_outbox_done(int64_t seq) {
    return (int32_t)ss_do_outbox_done(F.storage, seq);
}

/* The outbox could not be delivered: retry at this time (the alarm). */
SS_EXPORT(ss_wasm_retry_at) void ss_wasm_retry_at(double at_ms) {
    F.retry_at = at_ms > 0 && isfinite(at_ms) ? (int64_t)at_ms : 0;
    sync_alarm();
}

/* Traps, as a bug in C would: the shim's recovery from a dead instance is
 * tested with it (workerd/worker.js honours it only with test hooks on). */
SS_EXPORT(ss_wasm_test_trap) void ss_wasm_test_trap(void) { __builtin_trap(); }
