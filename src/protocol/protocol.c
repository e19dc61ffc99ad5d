/* The protocol factory: construction, get, lazy expiry, expiry timers,
 * waiters and commit hooks. Operations live in create.c, append.c, read.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/errf.h"
#include "base/grow.h"
#include "internal.h"
#include "streamsy/alloc.h"

static int64_t system_now_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- effect host: where the storage wrappers send after-commit effects ---- */

static void host_notify(void *ctx, ss_slice id) { ss__waiters_notify(&((ss_protocol *)ctx)->waiters, id); }

static void host_schedule(void *ctx, ss_slice id, int64_t at_ms) {
    ss__ignore_rc(ss__expiry_schedule(&((ss_protocol *)ctx)->expiry, id, at_ms)); /* lazy expiry backs it up */
}

static void host_cancel(void *ctx, ss_slice id) { ss__expiry_cancel(&((ss_protocol *)ctx)->expiry, id); }

static void rearm_expiry(void *ctx, ss_slice id, int64_t at_ms) {
    ss__ignore_rc(
        ss_storage_schedule_expiry(((ss_protocol *)ctx)->storage, id, at_ms)); /* lazy expiry backs it up */
}

ss_rc ss_protocol_new(const ss_protocol_options *o, ss_protocol **out) {
    if (!o || !o->storage)
        return SS_MISUSE;
    const ss_offset_gen *gen = o->offset_gen ? o->offset_gen : &ss_default_offset_gen;
    ss_slice initial = ss_slice_cstr(gen->initial);
    ss_offset parsed;
    if (!gen->next || !gen->is_valid || !ss_offset_is_safe_token(initial) || !gen->is_valid(gen->ctx, initial) ||
        ss_offset_set(&parsed, initial))
        return SS_MISUSE;
    ss_protocol *p = ss_calloc(1, sizeof *p);
    if (!p)
        return SS_NOMEM;
    p->storage = o->storage;
    p->clock = o->clock ? *o->clock : (ss_clock){system_now_ms, NULL};
    p->long_poll_timeout_ms = o->long_poll_timeout_ms ? o->long_poll_timeout_ms : SS_DEFAULT_LONG_POLL_TIMEOUT_MS;
    p->gen = *gen;
    p->initial = parsed;
    p->random = o->random;
    p->random_ctx = o->random_ctx;
    p->prng = (uint64_t)p->clock.now_ms(p->clock.ctx) * 6364136223846793005ull + 1442695040888963407ull;
    p->read_max_bytes = o->read_max_bytes ? o->read_max_bytes : SS_DEFAULT_READ_MAX_BYTES;
    p->next_token = 1;
    ss__waiters_init(&p->waiters);
    ss__expiry_init(&p->expiry);
    ss_effect_host host = {host_notify, host_schedule, host_cancel, p};
    ss_storage_set_effect_host(p->storage, &host);
    /* Deadlines stored before a restart get their timers back. */
    ss_rc rc = ss_storage_for_each_expiry(p->storage, rearm_expiry, p);
    if (rc) {
        ss_protocol_free(p);
        return rc;
    }
    *out = p;
    return SS_OK;
}

void ss_protocol_free(ss_protocol *p) {
    if (!p)
        return;
    ss_storage_set_effect_host(p->storage, NULL);
    ss__waiters_release(&p->waiters);
    ss__live_memo_release(&p->live_memo);
    ss__expiry_release(&p->expiry);
    ss_free(p->hooks);
    ss_free(p);
}

uint32_t ss_protocol_long_poll_timeout_ms(const ss_protocol *p) { return p->long_poll_timeout_ms; }

bool ss_protocol_has_unflushed(const ss_protocol *p) { return ss_storage_has_unflushed(p->storage); }

ss_rc ss_protocol_flush(ss_protocol *p) { return ss_storage_flush(p->storage); }

int64_t ss_protocol_now_ms(const ss_protocol *p) { return p->clock.now_ms(p->clock.ctx); }

bool ss_protocol_is_valid_offset(const ss_protocol *p, ss_slice s) {
    return ss_offset_is_safe_token(s) && p->gen.is_valid(p->gen.ctx, s);
}

const char *ss_protocol_initial_offset(const ss_protocol *p) { return p->gen.initial; }

ss_offset ss_protocol_start_offset(const ss_protocol *p) { return p->initial; }

const ss_protocol_stats *ss_protocol_get_stats(const ss_protocol *p) { return &p->stats; }

ss_stream_factory *ss_protocol_storage(const ss_protocol *p) { return p->storage; }

/* ---- binding and lookup ---------------------------------------------------- */

ss_rc ss__bind(ss_protocol *p, ss_storage_stream *st, ss_protocol_stream **out) {
    ss_protocol_stream *s = ss_malloc(sizeof *s);
    if (!s)
        return SS_NOMEM;
    s->p = p;
    s->st = st;
    *out = s;
    return SS_OK;
}

void ss_stream_release(ss_protocol_stream *s) {
    if (!s)
        return;
    ss_storage_close(s->st);
    ss_free(s);
}

ss_slice ss_stream_id(const ss_protocol_stream *s) { return s->st->id; }

static ss_rc expire(ss_protocol *p, ss_slice id) {
    ss_delete_plan plan = {
        .id = id, .reason = SS_DELETE_EXPIRY, .effects = {.notify = true, .cancel_expiry = true}};
    ss_delete_outcome outcome;
    ss_rc rc = ss_storage_delete(p->storage, &plan, &outcome);
    if (rc == SS_OK &&
        (outcome == SS_DELETE_OUTCOME_PURGED || outcome == SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED)) {
        p->stats.expired++;
        ss__emit_delete(p, id);
    }
    return rc;
}

ss_rc ss__load_record(ss_protocol *p, ss_storage_stream *st, ss_arena *a, ss_record *out, bool *found) {
    ss_rc rc = ss_storage_get_record(st, a, out, found);
    if (rc || !*found || !out->has_expires_at_ms || out->expires_at_ms > ss_protocol_now_ms(p))
        return rc;
    if ((rc = expire(p, st->id)))
        return rc;
    return ss_storage_get_record(st, a, out, found);
}

ss_rc ss__load_present(ss_protocol_stream *s, ss_arena *a, ss_record *out, ss_presence *presence) {
    bool found;
    ss_rc rc = ss__load_record(s->p, s->st, a, out, &found);
    if (!rc)
        *presence = !found ? SS_NOT_FOUND : out->soft_deleted ? SS_GONE : SS_PRESENT;
    return rc;
}

ss_rc ss_protocol_get(ss_protocol *p, ss_slice id, ss_get_result *out) {
    ss_storage_stream *st;
    ss_rc rc = ss_storage_open(p->storage, id, &st);
    if (rc)
        return rc;
    ss_arena a;
    ss_arena_init(&a);
    ss_record rec;
    bool found;
    rc = ss__load_record(p, st, &a, &rec, &found);
    ss_arena_release(&a);
    if (rc)
        goto fail;
    if (!found || rec.soft_deleted) {
        ss_storage_close(st);
        *out = (ss_get_result){found ? SS_GONE : SS_NOT_FOUND, NULL};
        return SS_OK;
    }
    ss_protocol_stream *s;
    if ((rc = ss__bind(p, st, &s)))
        goto fail;
    *out = (ss_get_result){SS_PRESENT, s};
    return SS_OK;
fail:
    ss_storage_close(st);
    return rc;
}

/* ---- TTL touch ----------------------------------------------------------- */

void ss__touch(ss_protocol *p, ss_storage_stream *st, const ss_record *r) {
    if (!r->has_ttl || r->soft_deleted)
        return;
    int64_t at = ss_protocol_now_ms(p) + (int64_t)r->ttl_s * 1000;
    ss_mutation_plan plan = {
        .has_expected_tail = true,
        .expected_tail = r->tail,
        .patch = {.set = SS_PATCH_EXPIRES_AT_MS, .expires_at_ms = at},
        .effects = {.schedule_expiry = true, .expiry_at_ms = at},
    };
    ss_arena a;
    ss_arena_init(&a);
    ss_commit_outcome o;
    ss__ignore_rc(
        ss_storage_commit(st, &plan, &a, &o)); /* best effort: a lost race means a fresher write slid it */
    ss_arena_release(&a);
}

/* ---- expiry ---------------------------------------------------------------- */

ss_rc ss_protocol_handle_scheduled_expiry(ss_protocol *p, ss_slice id) {
    p->stats.expiry_runs++;
    ss_storage_stream *st;
    ss_rc rc = ss_storage_open(p->storage, id, &st);
    if (rc)
        return rc;
    ss_arena a;
    ss_arena_init(&a);
    ss_record rec;
    bool found;
    rc = ss_storage_get_record(st, &a, &rec, &found);
    if (!rc && found && rec.has_expires_at_ms) {
        if (rec.expires_at_ms > ss_protocol_now_ms(p))
            rc = ss_storage_schedule_expiry(p->storage, id, rec.expires_at_ms);
        else
            rc = expire(p, id);
    }
    ss_arena_release(&a);
    ss_storage_close(st);
    return rc;
}

int64_t ss_protocol_run_expiry(ss_protocol *p) {
    int64_t now = ss_protocol_now_ms(p);
    ss_buf id;
    ss_buf_init(&id, SIZE_MAX);
    while (ss__expiry_pop_due(&p->expiry, now, &id)) /* errors: lazy expiry retries */
        ss__ignore_rc(ss_protocol_handle_scheduled_expiry(p, ss_buf_slice(&id)));
    ss_buf_release(&id);
    return ss__expiry_next(&p->expiry);
}

/* ---- waiters ----------------------------------------------------------------- */

ss_rc ss_protocol_park(ss_protocol *p, ss_waiter *w, ss_slice id) { return ss__waiters_park(&p->waiters, w, id); }

void ss_protocol_unpark(ss_protocol *p, ss_waiter *w) { ss__waiters_unpark(&p->waiters, w); }

size_t ss_protocol_run_pending(ss_protocol *p) {
    size_t fired = ss__waiters_run(&p->waiters);
    ss__live_memo_release(&p->live_memo); /* only meant for the batches just fired */
    return fired;
}

uint64_t ss_protocol_wake_batch(const ss_protocol *p) { return p->waiters.firing; }

bool ss_protocol_has_pending(const ss_protocol *p) { return p->waiters.pending != NULL; }

/* ---- cursors ------------------------------------------------------------------ */

static uint32_t next_random(ss_protocol *p) {
    if (p->random)
        return p->random(p->random_ctx);
    p->prng = p->prng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(p->prng >> 33);
}

void ss__cursor(ss_protocol *p, ss_slice client, char out[SS_CURSOR_MAX]) {
    int64_t now = ss_protocol_now_ms(p);
    uint64_t interval =
        now > SS_CURSOR_EPOCH_MS ? (uint64_t)(now - SS_CURSOR_EPOCH_MS) / SS_CURSOR_INTERVAL_MS : 0;
    uint64_t prev = 0;
    size_t i = 0;
    while (i < client.len && i < 18 && client.p[i] >= '0' && client.p[i] <= '9')
        prev = prev * 10 + (uint64_t)(client.p[i++] - '0');
    uint64_t c = interval;
    if (i > 0 && prev >= interval)
        c = prev + 1 + next_random(p) % 179; /* strictly greater: never hand a cursor back */
    snprintf(out, SS_CURSOR_MAX, "%llu", (unsigned long long)c);
}

/* ---- commit hooks ---------------------------------------------------------------- */

ss_rc ss_protocol_on_after_commit(ss_protocol *p, ss_commit_hook fn, void *ctx, uint64_t *out_token) {
    if (!fn)
        return SS_MISUSE;
    if (ss__grow(&p->hooks, &p->cap_hooks, p->n_hooks, sizeof *p->hooks, 4))
        return SS_NOMEM;
    p->hooks[p->n_hooks++] = (ss__hook){fn, ctx, p->next_token};
    *out_token = p->next_token++;
    return SS_OK;
}

void ss_protocol_off_after_commit(ss_protocol *p, uint64_t token) {
    for (size_t i = 0; i < p->n_hooks; i++)
        if (p->hooks[i].token == token) {
            p->hooks[i].fn = NULL; /* compacted after the current walk */
            return;
        }
}

static void emit(ss_protocol *p, const ss_commit_event *ev);

void ss__emit_commit(ss_protocol *p, const ss_record *r) {
    ss_commit_event ev = {r->id, r->tail, r->closed, r->soft_deleted, false};
    emit(p, &ev);
}

void ss__emit_delete(ss_protocol *p, ss_slice id) {
    ss_commit_event ev = {.id = id, .deleted = true};
    emit(p, &ev);
}

static void emit(ss_protocol *p, const ss_commit_event *ev) {
    size_t n = p->n_hooks; /* hooks added during the walk start with the next event */
    p->hook_depth++;
    for (size_t i = 0; i < n; i++)
        if (p->hooks[i].fn)
            p->hooks[i].fn(p->hooks[i].ctx, ev);
    if (--p->hook_depth)
        return; /* a hook committed to another stream; the outer walk compacts */
    size_t j = 0;
    for (size_t i = 0; i < p->n_hooks; i++)
        if (p->hooks[i].fn)
            p->hooks[j++] = p->hooks[i];
    p->n_hooks = j;
}
