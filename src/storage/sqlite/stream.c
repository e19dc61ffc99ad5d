/* Storage-stream handles: reads, and commit(MutationPlan) as one intent.
 *
 * A handle is just an owned copy of the id; every method re-reads the
 * database, so a handle may outlive its stream or see it created later. */
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

/* Owned by: the caller of open (freed by close). */
typedef struct sq_handle {
    ss_storage_stream base;
    char id[]; /* base.id points here */
} sq_handle;

static ss_rc h_get_record(ss_storage_stream *s, ss_arena *a, ss_record *out, bool *out_found) {
    return ss__sq_read_record(sq_of(s->factory), s->id, a, out, out_found);
}

static ss_rc h_list_messages(ss_storage_stream *s, const ss_list_opts *o, ss_arena *a, ss_message_batch *out) {
    return ss__sq_list_messages(sq_of(s->factory), s->id, o, a, out);
}

static ss_rc h_get_producer(ss_storage_stream *s, ss_slice producer_id, ss_producer *out, bool *out_found) {
    return ss__sq_read_producer(sq_of(s->factory), s->id, producer_id, out, out_found);
}

/* The first failing precondition, in the contract's order: offset, closed,
 * producer. The producer row is read only when the others hold. */
static ss_rc check_preconditions(sq_factory *f, ss_slice id, const ss_record *rec, const ss_mutation_plan *p,
                                 ss_fail_reason *out) {
    *out = SS_FAIL_NONE;
    if (p->has_expected_tail && !ss_offset_eq(&rec->tail, &p->expected_tail)) {
        *out = SS_FAIL_OFFSET;
        return SS_OK;
    }
    if (p->has_expected_closed && rec->closed != p->expected_closed) {
        *out = SS_FAIL_CLOSED;
        return SS_OK;
    }
    if (!p->has_producer)
        return SS_OK;
    ss_producer cur;
    bool found = false;
    ss_rc rc = ss__sq_read_producer(f, id, p->producer.id, &cur, &found);
    if (rc)
        return rc;
    if (p->producer.has_expected ? !found || cur.epoch != p->producer.expected.epoch ||
                                       cur.last_seq != p->producer.expected.last_seq
                                 : found)
        *out = SS_FAIL_PRODUCER;
    return SS_OK;
}

/* Messages, patch and producer upsert: the write half of a commit. */
static ss_rc apply_plan(sq_factory *f, ss_slice id, ss_record *rec, const ss_mutation_plan *p) {
    ss_rc rc = ss__sq_insert_messages(f, id, p->msgs, p->n_msgs);
    if (rc)
        return rc;
    if (p->patch.set) {
        ss_record_apply_patch(rec, &p->patch); /* last_seq borrowed from the plan */
        if ((rc = ss__sq_update_record(f, rec)))
            return rc;
    }
    if (p->has_producer)
        rc = ss__sq_upsert_producer(f, id, p->producer.id, p->producer.next);
    return rc;
}

static ss_rc h_commit(ss_storage_stream *s, const ss_mutation_plan *p, ss_arena *a, ss_commit_outcome *out) {
    sq_factory *f = sq_of(s->factory);
    ss_rc rc = ss__sq_intent_begin(f);
    if (rc)
        return rc;
    ss_arena scratch;
    ss_arena_init(&scratch);
    ss_commit_outcome o = {.status = SS_COMMIT_PRECONDITION_FAILED, .reason = SS_FAIL_OFFSET};
    bool wrote = false, found = false;
    ss_record rec;
    rc = ss__sq_read_record(f, s->id, &scratch, &rec, &found);
    if (rc || !found) /* a missing stream: reason offset, no record */
        goto end;
    if ((rc = check_preconditions(f, s->id, &rec, p, &o.reason)))
        goto end;
    if (o.reason == SS_FAIL_NONE) {
        if ((rc = apply_plan(f, s->id, &rec, p)))
            goto end;
        wrote = true;
        o.status = SS_COMMIT_COMMITTED;
    }
    o.has_record = true;
    rc = ss_record_copy(a, &rec, &o.record); /* before the plan's borrowed last_seq goes */
end:
    rc = ss__sq_intent_end(f, wrote, rc);
    if (!rc)
        *out = o;
    ss_arena_release(&scratch);
    return rc;
}

static void h_close(ss_storage_stream *s) { free(s); }

static const ss_storage_stream_methods sq_stream_methods = {
    .version = 1,
    .get_record = h_get_record,
    .list_messages = h_list_messages,
    .get_producer = h_get_producer,
    .commit = h_commit,
    .close = h_close,
};

ss_rc ss__sq_open_stream(ss_stream_factory *f, ss_slice id, ss_storage_stream **out) {
    sq_handle *h = malloc(sizeof *h + id.len + 1);
    if (!h)
        return SS_NOMEM;
    memcpy(h->id, id.p, id.len);
    h->id[id.len] = '\0';
    h->base = (ss_storage_stream){&sq_stream_methods, f, ss_slice_of(h->id, id.len)};
    *out = &h->base;
    return SS_OK;
}
