/* Create, fork and delete plans, each one intent (one transaction, or one
 * savepoint with group commit).
 *
 * Lineage is derived, not stored: a stream's dependents are the rows whose
 * forked_from names it (soft-deleted children included), counted through a
 * partial index. So a fork's edge is written with the child row itself, the
 * EXISTS repair of the contract has nothing to re-add, and a delete is
 * ss_lineage_cascade_reclaim with the reverse-index policy, inside the
 * delete's one intent: the whole cascade commits or none of it. */
#include <string.h>

#include "sqlite_internal.h"

/* ---- lineage store over the tables ----------------------------------------- */

static ss_rc l_get_record(void *ctx, ss_slice id, ss_arena *a, ss_record *out, bool *out_found) {
    return ss__sq_read_record(ctx, id, a, out, out_found);
}

static ss_rc run_for_id(sq_factory *f, sq_stmt_id which, ss_slice id) {
    sqlite3_stmt *st = ss__sq_stmt(f, which);
    int brc = ss__sq_bind_text(st, 1, id);
    if (brc) {
        sqlite3_reset(st);
        return ss__sq_fail(f, brc);
    }
    return ss__sq_run(f, st);
}

static ss_rc l_purge_self(void *ctx, ss_slice id) {
    ss_rc rc = run_for_id(ctx, SQ_DELETE_MESSAGES, id);
    if (!rc)
        rc = run_for_id(ctx, SQ_DELETE_PRODUCERS, id);
    if (!rc)
        rc = run_for_id(ctx, SQ_DELETE_RECORD, id);
    return rc;
}

static ss_rc l_soft_delete(void *ctx, ss_slice id) { return run_for_id(ctx, SQ_SOFT_DELETE, id); }

static ss_rc count_children(void *ctx, ss_slice parent, uint64_t *out) {
    sq_factory *f = ctx;
    sqlite3_stmt *st = ss__sq_stmt(f, SQ_COUNT_CHILDREN);
    int rc = ss__sq_bind_text(st, 1, parent);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SS_OK : ss__sq_fail(f, rc);
}

void ss__sq_lineage_init(sq_factory *f) {
    f->lineage = (ss_lineage_store){
        .get_record = l_get_record,
        .purge_self = l_purge_self,
        .soft_delete = l_soft_delete,
        .count_dependents = count_children,
        .ctx = f,
    };
    ss_lineage_reverse_index(count_children, f, &f->policy);
}

/* ---- create and fork ------------------------------------------------------- */

/* Inserts the record and its initial messages, then reads the row back so the
 * caller gets exactly what is stored. */
static ss_rc insert_stream(sq_factory *f, const ss_record *rec, const ss_message *msgs, size_t n, ss_arena *a,
                           ss_record *out) {
    ss_rc rc = ss__sq_insert_record(f, rec);
    if (!rc)
        rc = ss__sq_insert_messages(f, rec->id, msgs, n);
    bool found = false;
    if (!rc)
        rc = ss__sq_read_record(f, rec->id, a, out, &found);
    if (!rc && !found)
        rc = SS_IOERR;
    return rc;
}

ss_rc ss__sq_create(ss_stream_factory *base, const ss_create_plan *p, ss_arena *a, ss_create_outcome *out) {
    sq_factory *f = sq_of(base);
    ss_rc rc = ss__sq_intent_begin(f);
    if (rc)
        return rc;
    ss_create_outcome o = {.status = SS_CREATE_OUTCOME_EXISTS};
    bool found = false, wrote = false;
    rc = ss__sq_read_record(f, p->record.id, a, &o.record, &found);
    if (!rc && !found) {
        rc = insert_stream(f, &p->record, p->msgs, p->n_msgs, a, &o.record);
        o.status = SS_CREATE_OUTCOME_CREATED;
        wrote = true;
    }
    rc = ss__sq_intent_end(f, wrote, rc);
    if (!rc)
        *out = o;
    return rc;
}

ss_rc ss__sq_fork(ss_stream_factory *base, const ss_fork_plan *p, ss_arena *a, ss_create_outcome *out) {
    /* The edge is the child's forked_from column: it must name the source. */
    if (!ss_slice_eq(p->child.forked_from, p->source_id))
        return SS_MISUSE;
    sq_factory *f = sq_of(base);
    ss_rc rc = ss__sq_intent_begin(f);
    if (rc)
        return rc;
    ss_arena scratch;
    ss_arena_init(&scratch);
    ss_create_outcome o = {.status = SS_CREATE_OUTCOME_EXISTS};
    bool found = false, wrote = false;
    /* An existing child is EXISTS; its edge is its own row, nothing to repair. */
    rc = ss__sq_read_record(f, p->child.id, a, &o.record, &found);
    if (rc || found)
        goto end;
    ss_record src;
    if ((rc = ss__sq_read_record(f, p->source_id, &scratch, &src, &found)))
        goto end;
    if (!found || src.soft_deleted || ss_offset_cmp(&src.tail, &p->source_live_at) < 0) {
        o.status = SS_CREATE_OUTCOME_SOURCE_GONE;
        memset(&o.record, 0, sizeof o.record);
        goto end;
    }
    rc = insert_stream(f, &p->child, p->msgs, p->n_msgs, a, &o.record);
    o.status = SS_CREATE_OUTCOME_CREATED;
    wrote = true;
end:
    rc = ss__sq_intent_end(f, wrote, rc);
    if (!rc)
        *out = o;
    ss_arena_release(&scratch);
    return rc;
}

/* ---- delete ---------------------------------------------------------------- */

ss_rc ss__sq_remove(ss_stream_factory *base, const ss_delete_plan *p, ss_delete_outcome *out) {
    sq_factory *f = sq_of(base);
    ss_rc rc = ss__sq_intent_begin(f);
    if (rc)
        return rc;
    ss_delete_outcome o = SS_DELETE_OUTCOME_NOT_FOUND;
    rc = ss_lineage_cascade_reclaim(&f->lineage, p, &f->policy, &o);
    bool wrote = !rc && (o == SS_DELETE_OUTCOME_PURGED || o == SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    rc = ss__sq_intent_end(f, wrote, rc);
    if (!rc)
        *out = o;
    return rc;
}
