/* append: plan (pure decision from record + options + producer state), then
 * commit with the plan's preconditions, re-planning when the commit lost. */
#include <string.h>

#include "internal.h"

/* The planner's verdict: either a terminal result or a plan to commit. */
typedef struct decision {
    bool terminal;
    ss_append_result result;
    ss_mutation_plan plan;
} decision;

static bool producer_validate(const ss_append_options *o, bool has_state, const ss_producer *st,
                              ss_append_result *terminal, ss_producer *next) {
    uint64_t e = o->producer_epoch, q = o->producer_seq;
    if (!has_state) {
        if (q != 0) {
            *terminal = (ss_append_result){.status = SS_APPEND_PRODUCER_GAP, .expected_seq = 0, .received_seq = q};
            return false;
        }
        *next = (ss_producer){e, 0};
        return true;
    }
    if (e < st->epoch) {
        *terminal = (ss_append_result){.status = SS_APPEND_STALE_EPOCH, .current_epoch = st->epoch};
        return false;
    }
    if (e > st->epoch) {
        if (q != 0) {
            *terminal = (ss_append_result){.status = SS_APPEND_INVALID_EPOCH_SEQ};
            return false;
        }
        *next = (ss_producer){e, 0};
        return true;
    }
    if (q <= st->last_seq) {
        *terminal = (ss_append_result){.status = SS_APPEND_DUPLICATE,
                                       .has_producer = true,
                                       .producer_epoch = st->epoch,
                                       .producer_seq = st->last_seq};
        return false;
    }
    if (q > st->last_seq + 1) {
        *terminal = (ss_append_result){
            .status = SS_APPEND_PRODUCER_GAP, .expected_seq = st->last_seq + 1, .received_seq = q};
        return false;
    }
    *next = (ss_producer){e, q};
    return true;
}

static void conflict(decision *d, ss_append_conflict why, const ss_record *r) {
    d->terminal = true;
    d->result = (ss_append_result){.status = SS_APPEND_CONFLICT, .conflict = why};
    if (why == SS_APPEND_CONFLICT_CLOSED || why == SS_APPEND_CONFLICT_EXPECTED_OFFSET)
        d->result.offset = r->tail;
    d->result.closed = why == SS_APPEND_CONFLICT_CLOSED;
}

/* Everything before offsets are allocated. `items` are the framed messages
 * (ignored for close-only). Order: producer, close-only, closed, content
 * type, Stream-Seq, expected offset (spec/STREAMSY.md §4.4). */
static void decide(ss_protocol *p, const ss_record *r, const ss_append_options *o, bool has_state,
                   const ss_producer *state, decision *d) {
    memset(d, 0, sizeof *d);
    ss_producer next = {0};
    if (o->has_producer && !producer_validate(o, has_state, state, &d->result, &next)) {
        d->terminal = true;
        if (d->result.status == SS_APPEND_DUPLICATE) {
            d->result.offset = r->tail;
            d->result.closed = r->closed;
        }
        return;
    }
    bool close_only = o->close && o->data.len == 0;
    if (close_only && r->closed) {
        if (o->has_producer) /* a new producer tuple cannot close an already closed stream */
            conflict(d, SS_APPEND_CONFLICT_CLOSED, r);
        else {
            d->terminal = true;
            d->result = (ss_append_result){.status = SS_APPEND_APPENDED, .offset = r->tail, .closed = true};
        }
        return;
    }
    if (!close_only) {
        if (r->closed) {
            conflict(d, SS_APPEND_CONFLICT_CLOSED, r);
            return;
        }
        if (!ss_content_types_match(o->content_type, r->content_type)) {
            conflict(d, SS_APPEND_CONFLICT_CONTENT_TYPE, r);
            return;
        }
        if (o->has_seq && r->has_last_seq && ss_slice_cmp(o->seq, r->last_seq) <= 0) {
            conflict(d, SS_APPEND_CONFLICT_SEQUENCE, r);
            return;
        }
    }
    if (o->has_expected_offset && !ss_offset_eq(&o->expected_offset, &r->tail)) {
        conflict(d, SS_APPEND_CONFLICT_EXPECTED_OFFSET, r);
        return;
    }

    int64_t now = ss_protocol_now_ms(p);
    ss_mutation_plan *plan = &d->plan;
    plan->has_expected_tail = true;
    plan->expected_tail = o->has_expected_offset ? o->expected_offset : r->tail;
    plan->has_expected_closed = true;
    plan->expected_closed = false;
    if (o->has_producer) {
        plan->has_producer = true;
        plan->producer.id = o->producer_id;
        plan->producer.has_expected = has_state;
        if (has_state)
            plan->producer.expected = *state;
        plan->producer.next = next;
        plan->producer.max_producers = SS_MAX_PRODUCERS_PER_STREAM;
    }
    plan->patch.set = SS_PATCH_TAIL | SS_PATCH_COUNTER;
    plan->patch.tail = r->tail;
    plan->patch.counter = r->counter;
    if (o->has_seq && !close_only) {
        plan->patch.set |= SS_PATCH_LAST_SEQ;
        plan->patch.last_seq = o->seq;
    }
    if (o->close) {
        plan->patch.set |= SS_PATCH_CLOSED;
        plan->patch.closed_ms = now;
    }
    if (r->has_ttl) {
        plan->patch.set |= SS_PATCH_EXPIRES_AT_MS;
        plan->patch.expires_at_ms = now + (int64_t)r->ttl_s * 1000;
        plan->effects.schedule_expiry = true;
        plan->effects.expiry_at_ms = plan->patch.expires_at_ms;
    }
    plan->effects.notify = true;
    d->result = (ss_append_result){.status = SS_APPEND_APPENDED, .closed = o->close};
    if (o->has_producer) {
        d->result.has_producer = true;
        d->result.producer_epoch = next.epoch;
        d->result.producer_seq = next.last_seq;
    }
}

ss_rc ss_stream_append(ss_protocol_stream *s, const ss_append_options *o, ss_arena *a, ss_append_result *out) {
    ss_protocol *p = s->p;
    memset(out, 0, sizeof *out);
    if (o->data.len == 0 && !o->close) {
        *out = (ss_append_result){.status = SS_APPEND_BAD_REQUEST, .message = "Empty body not allowed"};
        return SS_OK;
    }
    if (o->has_producer && o->producer_id.len > SS_MAX_PRODUCER_ID_BYTES) {
        *out = (ss_append_result){.status = SS_APPEND_BAD_REQUEST, .message = "Producer-Id too long"};
        return SS_OK;
    }
    ss_slice *items = NULL; /* framed once, on the first plan that needs it */
    size_t n_items = 0;
    bool framed = false;
    int attempts = 0, no_progress = 0;
    for (;;) {
        ss_record r;
        ss_presence pr;
        ss_rc rc = ss__load_present(s, a, &r, &pr);
        if (rc)
            return rc;
        if (pr != SS_PRESENT) {
            out->status = pr == SS_GONE ? SS_APPEND_GONE : SS_APPEND_NOT_FOUND;
            return SS_OK;
        }
        ss_producer state;
        bool has_state = false;
        if (o->has_producer && (rc = ss_storage_get_producer(s->st, o->producer_id, &state, &has_state)))
            return rc;
        decision d;
        decide(p, &r, o, has_state, &state, &d);
        if (d.terminal) {
            /* The request reached the stream: a rejected or idempotent write
             * still counts as activity for a sliding TTL. */
            ss__touch(p, s->st, &r);
            *out = d.result;
            return SS_OK;
        }
        if (o->data.len && !framed) {
            const char *err = NULL;
            rc = ss__frame(o->data, r.content_type, a, &items, &n_items, &err);
            if (rc == SS_BADARG || (rc == SS_OK && n_items == 0)) {
                *out = (ss_append_result){.status = SS_APPEND_BAD_REQUEST,
                                          .message = rc ? "Invalid JSON" : "Empty arrays not allowed"};
                return SS_OK;
            }
            if (rc)
                return rc;
            framed = true;
        }
        size_t n = o->data.len ? n_items : 0;
        ss_message *msgs = n ? ss_arena_alloc(a, n * sizeof *msgs) : NULL;
        if (n && !msgs)
            return SS_NOMEM;
        int64_t now = ss_protocol_now_ms(p);
        for (size_t i = 0; i < n; i++)
            msgs[i] = (ss_message){.data = items[i], .ts_ms = now};
        if ((rc = ss__allocate(p, &d.plan.expected_tail, msgs, n)))
            return rc;
        d.plan.msgs = msgs;
        d.plan.n_msgs = n;
        if (n)
            d.plan.patch.tail = msgs[n - 1].offset;
        d.plan.patch.counter = r.counter + n;

        ss_commit_outcome oc;
        if ((rc = ss_storage_commit(s->st, &d.plan, a, &oc)))
            return rc;
        if (oc.status == SS_COMMIT_COMMITTED) {
            ss__emit_commit(p, &oc.record);
            p->stats.appends++;
            p->stats.messages += n;
            for (size_t i = 0; i < n; i++)
                p->stats.bytes += msgs[i].data.len;
            *out = d.result;
            out->offset = oc.record.tail;
            out->closed = oc.record.closed;
            out->msgs = msgs; /* their offsets: where each message landed */
            out->n_msgs = n;
            return SS_OK;
        }
        if (!oc.has_record) {
            out->status = SS_APPEND_NOT_FOUND;
            return SS_OK;
        }
        if (oc.reason == SS_FAIL_PRODUCER_LIMIT) { /* not a race: re-planning would not help */
            *out = (ss_append_result){.status = SS_APPEND_TOO_MANY_PRODUCERS};
            return SS_OK;
        }
        /* Lost the race: re-plan from fresh state. A caller-given expected
         * offset normally turns into a terminal conflict on the re-plan. */
        attempts++;
        if (o->has_expected_offset && attempts >= SS_APPEND_MAX_ATTEMPTS) {
            decision c;
            conflict(&c, SS_APPEND_CONFLICT_EXPECTED_OFFSET, &oc.record);
            *out = c.result;
            return SS_OK;
        }
        no_progress = ss_offset_eq(&oc.record.tail, &d.plan.expected_tail) ? no_progress + 1 : 0;
        if (no_progress >= SS_APPEND_MAX_ATTEMPTS) {
            out->status = SS_APPEND_BUSY;
            return SS_OK;
        }
    }
}
