/* The storage wrappers: the only callers of the adapter vtables. They check
 * the obvious misuse, and run a plan's AfterCommitEffects after (and only
 * after) the adapter reported success. */
#include <assert.h>
#include <string.h>
#include <time.h>

#include "base/errf.h"
#include "streamsy/storage.h"

/* ---- records ------------------------------------------------------------- */

void ss_record_apply_patch(ss_record *r, const ss_record_patch *p) {
    if (p->set & SS_PATCH_TAIL)
        r->tail = p->tail;
    if (p->set & SS_PATCH_COUNTER)
        r->counter = p->counter;
    if (p->set & SS_PATCH_CLOSED) {
        r->closed = true;
        r->closed_ms = p->closed_ms;
    }
    if (p->set & SS_PATCH_LAST_SEQ) {
        r->has_last_seq = true;
        r->last_seq = p->last_seq;
    }
    if (p->set & SS_PATCH_EXPIRES_AT_MS) {
        r->has_expires_at_ms = true;
        r->expires_at_ms = p->expires_at_ms;
    }
}

ss_rc ss_record_copy(ss_arena *a, const ss_record *in, ss_record *out) {
    ss_record r = *in;
    ss_rc rc;
    if ((rc = ss_arena_copy(a, in->id, &r.id)) || (rc = ss_arena_copy(a, in->content_type, &r.content_type)) ||
        (rc = ss_arena_copy(a, in->expires_at, &r.expires_at)) ||
        (rc = ss_arena_copy(a, in->last_seq, &r.last_seq)) ||
        (rc = ss_arena_copy(a, in->forked_from, &r.forked_from)))
        return rc;
    *out = r;
    return SS_OK;
}

/* ---- preconditions --------------------------------------------------------- */

ss_fail_reason ss_plan_check_record(const ss_mutation_plan *p, const ss_record *rec) {
    if (p->has_expected_tail && !ss_offset_eq(&rec->tail, &p->expected_tail))
        return SS_FAIL_OFFSET;
    if (p->has_expected_closed && rec->closed != p->expected_closed)
        return SS_FAIL_CLOSED;
    return SS_FAIL_NONE;
}

bool ss_plan_producer_matches(const ss_mutation_plan *p, const ss_producer *cur) {
    if (!p->has_producer)
        return true;
    if (!p->producer.has_expected)
        return cur == NULL;
    return cur && cur->epoch == p->producer.expected.epoch && cur->last_seq == p->producer.expected.last_seq;
}

bool ss_plan_producer_limit_reached(const ss_mutation_plan *p, uint64_t n_producers) {
    return p->has_producer && !p->producer.has_expected && p->producer.max_producers &&
           n_producers >= p->producer.max_producers;
}

/* ---- effects ------------------------------------------------------------- */

static void run_effects(ss_stream_factory *f, ss_slice id, const ss_after_commit_effects *e, bool allow_cancel) {
    if (e->notify && f->host.notify)
        f->host.notify(f->host.ctx, id);
    /* Timers are best effort: a missed one is caught by lazy expiry on access. */
    if (e->cancel_expiry && allow_cancel)
        ss__ignore_rc(ss_storage_cancel_expiry(f, id));
    else if (e->schedule_expiry)
        ss__ignore_rc(ss_storage_schedule_expiry(f, id, e->expiry_at_ms));
}

void ss_storage_set_effect_host(ss_stream_factory *f, const ss_effect_host *host) {
    if (host)
        f->host = *host;
    else
        memset(&f->host, 0, sizeof f->host);
}

/* ---- stats ---------------------------------------------------------------- */

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts a failed call; returns rc. */
static ss_rc noted(ss_stream_factory *f, ss_rc rc) {
    if (rc && (unsigned)rc < SS_RC_COUNT)
        f->_stats.errors[rc]++;
    return rc;
}

static void observe_seconds(ss_histogram *h, uint64_t since_ns) {
    ss_histogram_observe(h, ss_latency_bounds, SS_LATENCY_BOUNDS_N, (double)(mono_ns() - since_ns) / 1e9);
}

const ss_storage_stats *ss_storage_get_stats(const ss_stream_factory *f) { return &f->_stats; }

/* ---- factory ------------------------------------------------------------- */

bool ss_storage_can_fork(const ss_stream_factory *f) { return f->m->fork != NULL; }

ss_rc ss_storage_open(ss_stream_factory *f, ss_slice id, ss_storage_stream **out) {
    if (!id.len)
        return SS_MISUSE;
    return f->m->open(f, id, out);
}

ss_rc ss_storage_create(ss_stream_factory *f, const ss_create_plan *p, ss_arena *a, ss_create_outcome *out) {
    if (!p->record.id.len)
        return SS_MISUSE;
    ss_create_outcome o;
    ss_rc rc = f->m->create(f, p, a, &o);
    if (rc)
        return noted(f, rc);
    if (o.status == SS_CREATE_OUTCOME_CREATED) {
        f->_writes++;
        f->_stats.creates++;
        run_effects(f, p->record.id, &p->effects, false);
    }
    *out = o;
    return SS_OK;
}

ss_rc ss_storage_fork(ss_stream_factory *f, const ss_fork_plan *p, ss_arena *a, ss_create_outcome *out) {
    if (!f->m->fork)
        return SS_NOTSUP;
    if (!p->child.id.len || !p->source_id.len)
        return SS_MISUSE;
    ss_create_outcome o;
    ss_rc rc = f->m->fork(f, p, a, &o);
    if (rc)
        return noted(f, rc);
    if (o.status == SS_CREATE_OUTCOME_CREATED) {
        f->_writes++;
        f->_stats.forks++;
        run_effects(f, p->child.id, &p->effects, false);
    }
    *out = o;
    return SS_OK;
}

ss_rc ss_storage_delete(ss_stream_factory *f, const ss_delete_plan *p, ss_delete_outcome *out) {
    if (!p->id.len)
        return SS_MISUSE;
    ss_delete_outcome o;
    ss_rc rc = f->m->remove(f, p, &o);
    if (rc)
        return noted(f, rc);
    switch (o) {
    case SS_DELETE_OUTCOME_PURGED:
        f->_writes++;
        f->_stats.deletes++;
        run_effects(f, p->id, &p->effects, true);
        break;
    case SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED:
        f->_writes++;
        f->_stats.deletes++;
        run_effects(f, p->id, &p->effects, false);
        break;
    case SS_DELETE_OUTCOME_NOT_FOUND:
    case SS_DELETE_OUTCOME_GONE:
        break;
    }
    *out = o;
    return SS_OK;
}

const char *ss_storage_name(const ss_stream_factory *f) { return f->m->name ? f->m->name : "unnamed"; }

bool ss_storage_is_durable(const ss_stream_factory *f) { return (f->m->caps & SS_STORAGE_CAP_DURABLE) != 0; }

ss_rc ss_storage_schedule_expiry(ss_stream_factory *f, ss_slice id, int64_t at_ms) {
    if (f->m->schedule_expiry)
        return f->m->schedule_expiry(f, id, at_ms);
    if (f->host.schedule_expiry)
        f->host.schedule_expiry(f->host.ctx, id, at_ms);
    return SS_OK;
}

ss_rc ss_storage_cancel_expiry(ss_stream_factory *f, ss_slice id) {
    if (f->m->cancel_expiry)
        return f->m->cancel_expiry(f, id);
    if (f->host.cancel_expiry)
        f->host.cancel_expiry(f->host.ctx, id);
    return SS_OK;
}

bool ss_storage_has_unflushed(const ss_stream_factory *f) {
    return f->m->version >= 2 && f->m->flush && f->_writes != f->_flushed;
}

ss_rc ss_storage_flush(ss_stream_factory *f) {
    if (!ss_storage_has_unflushed(f))
        return SS_OK;
    uint64_t writes = f->_writes, t0 = mono_ns();
    ss_rc rc = f->m->flush(f);
    observe_seconds(&f->_stats.flush_seconds, t0);
    if (rc == SS_OK)
        ss_histogram_observe(&f->_stats.flush_batch, ss_batch_bounds, SS_BATCH_BOUNDS_N,
                             (double)(writes - f->_flushed));
    f->_flushed = writes; /* on failure the unflushed writes were rolled back: nothing is pending */
    return noted(f, rc);
}

ss_rc ss_storage_for_each_expiry(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id, int64_t at_ms),
                                 void *ctx) {
    if (f->m->version < 2 || !f->m->for_each_expiry)
        return SS_OK;
    return f->m->for_each_expiry(f, fn, ctx);
}

bool ss_storage_has_documents(const ss_stream_factory *f) {
    return f->m->version >= 3 && f->m->doc_put && f->m->doc_remove && f->m->doc_for_each;
}

ss_rc ss_storage_doc_put(ss_stream_factory *f, ss_slice key, ss_slice value) {
    if (!ss_storage_has_documents(f))
        return SS_NOTSUP;
    if (!key.len)
        return SS_MISUSE;
    ss_rc rc = f->m->doc_put(f, key, value);
    if (rc == SS_OK)
        f->_writes++;
    return noted(f, rc);
}

ss_rc ss_storage_doc_remove(ss_stream_factory *f, ss_slice key) {
    if (!ss_storage_has_documents(f))
        return SS_NOTSUP;
    ss_rc rc = f->m->doc_remove(f, key);
    if (rc == SS_OK)
        f->_writes++;
    return noted(f, rc);
}

ss_rc ss_storage_doc_for_each(ss_stream_factory *f, ss_slice prefix,
                              void (*fn)(void *ctx, ss_slice key, ss_slice value), void *ctx) {
    if (!ss_storage_has_documents(f))
        return SS_NOTSUP;
    return noted(f, f->m->doc_for_each(f, prefix, fn, ctx));
}

ss_rc ss_storage_for_each_stream(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id), void *ctx) {
    if (f->m->version < 3 || !f->m->for_each_stream)
        return SS_NOTSUP;
    return noted(f, f->m->for_each_stream(f, fn, ctx));
}

void ss_storage_factory_free(ss_stream_factory *f) {
    if (f)
        f->m->destroy(f);
}

/* ---- storage streams ----------------------------------------------------- */

ss_rc ss_storage_get_record(ss_storage_stream *s, ss_arena *a, ss_record *out, bool *out_found) {
    return noted(s->factory, s->m->get_record(s, a, out, out_found));
}

ss_rc ss_storage_list_messages(ss_storage_stream *s, const ss_list_opts *o, ss_arena *a, ss_message_batch *out) {
    return noted(s->factory, s->m->list_messages(s, o, a, out));
}

ss_rc ss_storage_get_producer(ss_storage_stream *s, ss_slice producer_id, ss_producer *out, bool *out_found) {
    return noted(s->factory, s->m->get_producer(s, producer_id, out, out_found));
}

/* Offsets in a plan must strictly increase and lie above the expected tail. */
static bool plan_offsets_ordered(const ss_mutation_plan *p) {
    for (size_t i = 0; i < p->n_msgs; i++) {
        const ss_offset *prev = i ? &p->msgs[i - 1].offset : (p->has_expected_tail ? &p->expected_tail : NULL);
        if (prev && ss_offset_cmp(prev, &p->msgs[i].offset) >= 0)
            return false;
    }
    return true;
}

ss_rc ss_storage_commit(ss_storage_stream *s, const ss_mutation_plan *p, ss_arena *a, ss_commit_outcome *out) {
    if (!plan_offsets_ordered(p))
        return SS_MISUSE;
    ss_commit_outcome o;
    uint64_t t0 = mono_ns();
    ss_rc rc = s->m->commit(s, p, a, &o);
    observe_seconds(&s->factory->_stats.commit_seconds, t0);
    if (rc)
        return noted(s->factory, rc);
    assert(o.status == SS_COMMIT_COMMITTED || o.reason != SS_FAIL_NONE);
    if (o.status != SS_COMMIT_COMMITTED)
        s->factory->_stats.conflicts++;
    if (o.status == SS_COMMIT_COMMITTED) {
        s->factory->_writes++;
        s->factory->_stats.commits++;
        run_effects(s->factory, s->id, &p->effects, false);
    }
    *out = o;
    return SS_OK;
}

void ss_storage_close(ss_storage_stream *s) {
    if (s)
        s->m->close(s);
}
