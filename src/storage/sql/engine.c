/* The SQL engine's storage seam: stream handles, commit(MutationPlan),
 * create, fork, delete and the expiry listing, each write one intent of the
 * adapter's connection.
 *
 * Lineage is derived, not stored: a stream's dependents are the rows whose
 * forked_from names it (soft-deleted children included, counted through a
 * partial index), plus what the adapter's hooks add. So a fork's edge is
 * written with the child row itself, the EXISTS repair of the contract has
 * nothing to re-add, and a delete is ss_lineage_cascade_reclaim with the
 * reverse-index policy inside the delete's one intent: the whole cascade
 * commits or none of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "sql_engine.h"
#include "streamsy/alloc.h"

static ss_rc count_of(ss_sql_engine *e, ss_sql_stmt stmt, ss_slice id, uint64_t *out);

/* Logs the first error of each kind; latches corruption. Returns rc. */
static ss_rc noted(ss_sql_engine *e, ss_rc rc) {
    if (rc != SS_IOERR && rc != SS_FULL && rc != SS_CORRUPT)
        return rc;
    if (rc == SS_CORRUPT)
        e->corrupt = true;
    if (e->log && !(e->logged & (1u << rc))) {
        e->logged |= 1u << rc;
        const char *why = e->conn->m->last_error ? e->conn->m->last_error(e->conn) : NULL;
        const char *what = rc == SS_CORRUPT ? "the database is corrupt"
                           : rc == SS_FULL  ? "the disk is full"
                                            : "I/O error";
        char line[512];
        snprintf(line, sizeof line, "storage error: %s%s%s%s%s", what, why ? " (" : "", why ? why : "",
                 why ? ")" : "",
                 rc == SS_CORRUPT ? "; writes are refused until it is repaired (see docs/sqlite.md)" : "");
        e->log(e->log_ctx, line);
    }
    return rc;
}

/* Statements that write what the caches hold; each names the stream as ?1. */
static bool writes_cached_rows(ss_sql_stmt stmt) {
    return stmt == SS_SQL_INSERT_RECORD || stmt == SS_SQL_UPDATE_RECORD || stmt == SS_SQL_SOFT_DELETE ||
           stmt == SS_SQL_DELETE_RECORD || stmt == SS_SQL_INSERT_MESSAGE || stmt == SS_SQL_DELETE_MESSAGES ||
           stmt == SS_SQL_INSERT_LOG || stmt == SS_SQL_DELETE_LOG;
}

ss_rc ss__sql_run(ss_sql_engine *e, ss_sql_stmt stmt, const ss_sql_value *args, size_t n, ss_sql_row_fn row,
                  void *row_ctx) {
    if (writes_cached_rows(stmt) && n > 0 && args[0].type == SS_SQL_TEXT)
        ss__sql_forget(e, args[0].s);
    return noted(e, e->conn->m->run(e->conn, stmt, args, n, row, row_ctx));
}

/* An intent's body, and whether it asked to keep its writes. */
typedef struct tracked_body {
    ss_rc (*body)(void *ctx, bool *keep);
    void *ctx;
    bool kept;
} tracked_body;

static ss_rc run_tracked(void *ctx, bool *keep) {
    tracked_body *t = ctx;
    ss_rc rc = t->body(t->ctx, keep);
    t->kept = rc == SS_OK && *keep;
    return rc;
}

ss_rc ss__sql_intent(ss_sql_engine *e, ss_rc (*body)(void *ctx, bool *keep), void *ctx) {
    if (e->corrupt)
        return SS_CORRUPT;
    tracked_body t = {body, ctx, false};
    ss__sql_intent_enter(e);
    ss_rc rc = e->conn->m->intent(e->conn, run_tracked, &t);
    ss__sql_intent_leave(e);
    ss__sql_log_settle(e, rc == SS_OK && t.kept);
    return noted(e, rc);
}

/* ---- stream handles ------------------------------------------------------------ */

/* A handle is just an owned copy of the id; every method re-reads the
 * database, so a handle may outlive its stream or see it created later.
 * Owned by: the caller of open (freed by close). */
typedef struct sql_handle {
    ss_storage_stream base;
    char id[]; /* base.id points here */
} sql_handle;

static ss_sql_engine *engine_of(ss_storage_stream *s) { return ss__sql_of(s->factory); }

static ss_rc h_get_record(ss_storage_stream *s, ss_arena *a, ss_record *out, bool *out_found) {
    return ss__sql_read_record(engine_of(s), s->id, a, out, out_found);
}

static ss_rc h_list_messages(ss_storage_stream *s, const ss_list_opts *o, ss_arena *a, ss_message_batch *out) {
    return ss__sql_list_messages(engine_of(s), s->id, o, a, out);
}

static ss_rc h_get_producer(ss_storage_stream *s, ss_slice producer_id, ss_producer *out, bool *out_found) {
    return ss__sql_read_producer(engine_of(s), s->id, producer_id, out, out_found);
}

typedef struct commit_job {
    ss_sql_engine *e;
    ss_slice id;
    const ss_mutation_plan *p;
    ss_arena *a;
    ss_commit_outcome o;
} commit_job;

/* Messages, patch and producer upsert: the write half of a commit. A plan
 * whose offsets do not rise past the stream's tail is misuse (the log has no
 * key that would refuse them). */
static ss_rc apply_plan(ss_sql_engine *e, ss_slice id, ss_record *rec, const ss_mutation_plan *p) {
    for (size_t i = 0; i < p->n_msgs; i++)
        if (ss_offset_cmp(&p->msgs[i].offset, i ? &p->msgs[i - 1].offset : &rec->tail) <= 0)
            return SS_MISUSE;
    ss_rc rc = ss__sql_insert_messages(e, id, p->msgs, p->n_msgs);
    if (rc)
        return rc;
    if (p->patch.set) {
        ss_record_apply_patch(rec, &p->patch); /* last_seq borrowed from the plan */
        if ((rc = ss__sql_update_record(e, rec)))
            return rc;
    }
    if (p->has_producer)
        rc = ss__sql_upsert_producer(e, id, p->producer.id, p->producer.next);
    return rc;
}

static ss_rc commit_body(void *ctx, bool *keep) {
    commit_job *j = ctx;
    ss_arena scratch;
    ss_arena_init(&scratch);
    j->o = (ss_commit_outcome){.status = SS_COMMIT_PRECONDITION_FAILED, .reason = SS_FAIL_OFFSET};
    bool found = false;
    ss_record rec;
    ss_rc rc = ss__sql_read_record(j->e, j->id, &scratch, &rec, &found);
    if (rc || !found) /* a missing stream: reason offset, no record */
        goto end;
    j->o.reason = ss_plan_check_record(j->p, &rec);
    if (j->o.reason == SS_FAIL_NONE && j->p->has_producer) { /* read only when the others hold */
        ss_producer cur;
        bool has = false;
        if ((rc = ss__sql_read_producer(j->e, j->id, j->p->producer.id, &cur, &has)))
            goto end;
        if (!ss_plan_producer_matches(j->p, has ? &cur : NULL))
            j->o.reason = SS_FAIL_PRODUCER;
        uint64_t n = 0;
        if (j->o.reason == SS_FAIL_NONE && !has && j->p->producer.max_producers &&
            !(rc = count_of(j->e, SS_SQL_COUNT_PRODUCERS, j->id, &n)) && ss_plan_producer_limit_reached(j->p, n))
            j->o.reason = SS_FAIL_PRODUCER_LIMIT;
        if (rc)
            goto end;
    }
    if (j->o.reason == SS_FAIL_NONE) {
        if ((rc = apply_plan(j->e, j->id, &rec, j->p)))
            goto end;
        *keep = true;
        j->o.status = SS_COMMIT_COMMITTED;
    }
    j->o.has_record = true;
    rc = ss_record_copy(j->a, &rec, &j->o.record); /* before the plan's borrowed last_seq goes */
end:
    ss_arena_release(&scratch);
    return rc;
}

static ss_rc h_commit(ss_storage_stream *s, const ss_mutation_plan *p, ss_arena *a, ss_commit_outcome *out) {
    commit_job j = {.e = engine_of(s), .id = s->id, .p = p, .a = a};
    ss_rc rc = ss__sql_intent(j.e, commit_body, &j);
    if (!rc)
        *out = j.o;
    return rc;
}

static void h_close(ss_storage_stream *s) { ss_free(s); }

static const ss_storage_stream_methods sql_stream_methods = {
    .version = 1,
    .get_record = h_get_record,
    .list_messages = h_list_messages,
    .get_producer = h_get_producer,
    .commit = h_commit,
    .close = h_close,
};

ss_rc ss__sql_open(ss_stream_factory *f, ss_slice id, ss_storage_stream **out) {
    sql_handle *h = ss_malloc(sizeof *h + id.len + 1);
    if (!h)
        return SS_NOMEM;
    if (id.len)
        memcpy(h->id, id.p, id.len);
    h->id[id.len] = '\0';
    h->base = (ss_storage_stream){&sql_stream_methods, f, ss_slice_of(h->id, id.len)};
    *out = &h->base;
    return SS_OK;
}

/* ---- create and fork ------------------------------------------------------------ */

/* Inserts the record and its initial messages, then reads the row back so the
 * caller gets exactly what is stored. */
static ss_rc insert_stream(ss_sql_engine *e, const ss_record *rec, const ss_message *msgs, size_t n, ss_arena *a,
                           ss_record *out) {
    ss_rc rc = ss__sql_insert_record(e, rec);
    if (!rc)
        rc = ss__sql_insert_messages(e, rec->id, msgs, n);
    bool found = false;
    if (!rc)
        rc = ss__sql_read_record(e, rec->id, a, out, &found);
    if (!rc && !found)
        rc = SS_IOERR;
    return rc;
}

typedef struct create_job {
    ss_sql_engine *e;
    const ss_create_plan *create;
    const ss_fork_plan *fork;
    ss_arena *a;
    ss_create_outcome o;
} create_job;

static ss_rc create_body(void *ctx, bool *keep) {
    create_job *j = ctx;
    const ss_create_plan *p = j->create;
    j->o = (ss_create_outcome){.status = SS_CREATE_OUTCOME_EXISTS};
    bool found = false;
    ss_rc rc = ss__sql_read_record(j->e, p->record.id, j->a, &j->o.record, &found);
    if (rc || found)
        return rc;
    j->o.status = SS_CREATE_OUTCOME_CREATED;
    *keep = true;
    return insert_stream(j->e, &p->record, p->msgs, p->n_msgs, j->a, &j->o.record);
}

ss_rc ss__sql_create(ss_stream_factory *f, const ss_create_plan *p, ss_arena *a, ss_create_outcome *out) {
    create_job j = {.e = ss__sql_of(f), .create = p, .a = a};
    ss_rc rc = ss__sql_intent(j.e, create_body, &j);
    if (!rc)
        *out = j.o;
    return rc;
}

static ss_rc fork_body(void *ctx, bool *keep) {
    create_job *j = ctx;
    const ss_fork_plan *p = j->fork;
    j->o = (ss_create_outcome){.status = SS_CREATE_OUTCOME_EXISTS};
    bool found = false;
    /* An existing child is EXISTS; its edge is its own row, nothing to repair. */
    ss_rc rc = ss__sql_read_record(j->e, p->child.id, j->a, &j->o.record, &found);
    if (rc || found)
        return rc;
    ss_arena scratch;
    ss_arena_init(&scratch);
    ss_record src;
    if ((rc = ss__sql_read_record(j->e, p->source_id, &scratch, &src, &found)))
        goto end;
    if (!found || src.soft_deleted || ss_offset_cmp(&src.tail, &p->source_live_at) < 0) {
        j->o = (ss_create_outcome){.status = SS_CREATE_OUTCOME_SOURCE_GONE};
        goto end;
    }
    j->o.status = SS_CREATE_OUTCOME_CREATED;
    *keep = true;
    rc = insert_stream(j->e, &p->child, p->msgs, p->n_msgs, j->a, &j->o.record);
end:
    ss_arena_release(&scratch);
    return rc;
}

ss_rc ss__sql_fork(ss_stream_factory *f, const ss_fork_plan *p, ss_arena *a, ss_create_outcome *out) {
    /* The edge is the child's forked_from column: it must name the source. */
    if (!ss_slice_eq(p->child.forked_from, p->source_id))
        return SS_MISUSE;
    create_job j = {.e = ss__sql_of(f), .fork = p, .a = a};
    ss_rc rc = ss__sql_intent(j.e, fork_body, &j);
    if (!rc)
        *out = j.o;
    return rc;
}

/* ---- delete --------------------------------------------------------------------- */

typedef struct remove_job {
    ss_sql_engine *e;
    const ss_delete_plan *p;
    ss_delete_outcome o;
} remove_job;

static ss_rc remove_body(void *ctx, bool *keep) {
    remove_job *j = ctx;
    ss_rc rc = ss_lineage_cascade_reclaim(&j->e->lineage, j->p, &j->e->policy, &j->o);
    *keep = !rc && (j->o == SS_DELETE_OUTCOME_PURGED || j->o == SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    return rc;
}

ss_rc ss__sql_remove(ss_stream_factory *f, const ss_delete_plan *p, ss_delete_outcome *out) {
    remove_job j = {.e = ss__sql_of(f), .p = p, .o = SS_DELETE_OUTCOME_NOT_FOUND};
    ss_rc rc = ss__sql_intent(j.e, remove_body, &j);
    if (!rc)
        *out = j.o;
    return rc;
}

/* ---- lineage ---------------------------------------------------------------------- */

static ss_rc decode_count(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    *stop = true;
    if (n != 1 || c[0].type != SS_SQL_INT)
        return SS_CORRUPT;
    *(uint64_t *)ctx = (uint64_t)c[0].i;
    return SS_OK;
}

/* One count(*) by stream id. */
static ss_rc count_of(ss_sql_engine *e, ss_sql_stmt stmt, ss_slice id, uint64_t *out) {
    ss_sql_value arg = ss_sql_text(id);
    *out = 0;
    return ss__sql_run(e, stmt, &arg, 1, decode_count, out);
}

ss_rc ss__sql_count_dependents(ss_sql_engine *e, ss_slice parent, uint64_t *out) {
    uint64_t local = 0, extra = 0;
    ss_rc rc = count_of(e, SS_SQL_COUNT_CHILDREN, parent, &local);
    if (!rc && e->hooks.extra_dependents)
        rc = e->hooks.extra_dependents(e->hooks.ctx, parent, &extra);
    if (!rc)
        *out = local + extra;
    return rc;
}

static ss_rc l_get_record(void *ctx, ss_slice id, ss_arena *a, ss_record *out, bool *out_found) {
    return ss__sql_read_record(ctx, id, a, out, out_found);
}

static ss_rc l_purge(void *ctx, ss_slice id) { return ss__sql_purge(ctx, id); }

static ss_rc l_soft_delete(void *ctx, ss_slice id) {
    ss_sql_value arg = ss_sql_text(id);
    return ss__sql_exec(ctx, SS_SQL_SOFT_DELETE, &arg, 1);
}

static ss_rc l_count(void *ctx, ss_slice parent, uint64_t *out) {
    return ss__sql_count_dependents(ctx, parent, out);
}

static ss_rc l_drop_edge(void *ctx, ss_slice parent, ss_slice child) {
    ss_sql_engine *e = ctx;
    return e->hooks.drop_edge ? e->hooks.drop_edge(e->hooks.ctx, parent, child) : SS_OK;
}

void ss__sql_engine_init(ss_sql_engine *e, const ss_stream_factory_methods *m, ss_sql_conn *conn,
                         const ss_sql_lineage_hooks *hooks) {
    e->base.m = m;
    e->conn = conn;
    e->hooks = hooks ? *hooks : (ss_sql_lineage_hooks){0};
    e->lineage = (ss_lineage_store){
        .get_record = l_get_record,
        .purge_self = l_purge,
        .soft_delete = l_soft_delete,
        .count_dependents = l_count,
        .ctx = e,
    };
    /* Dependents by query (reverse index); edge drops reach the hooks. */
    e->policy = (ss_lineage_policy){.count_dependents = l_count, .drop_edge = l_drop_edge, .ctx = e};
    ss__sql_cache_init(e);
    ss__sql_log_init(e);
    e->intent_depth = 0;
}

void ss__sql_engine_release(ss_sql_engine *e) {
    ss__sql_cache_release(e);
    ss__sql_log_release(e);
}

/* ---- expiry listing ------------------------------------------------------------------ */

typedef struct expiry {
    ss_slice id;
    int64_t at_ms;
} expiry;

typedef struct expiry_rows {
    ss_arena a;
    expiry *v;
    size_t n, cap;
} expiry_rows;

static ss_rc decode_expiry(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    (void)stop;
    expiry_rows *er = ctx;
    if (n != 2 || c[0].type != SS_SQL_TEXT || c[1].type != SS_SQL_INT)
        return SS_CORRUPT;
    if (ss__grow(&er->v, &er->cap, er->n, sizeof *er->v, 64))
        return SS_NOMEM;
    ss_rc rc = ss_arena_copy(&er->a, c[0].s, &er->v[er->n].id);
    if (!rc)
        er->v[er->n++].at_ms = c[1].i;
    return rc;
}

/* Collects first and calls afterwards, so fn may use the factory. */
ss_rc ss__sql_for_each_expiry(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id, int64_t at_ms), void *ctx) {
    ss_sql_engine *e = ss__sql_of(f);
    expiry_rows er = {0};
    ss_arena_init(&er.a);
    ss_rc rc = ss__sql_run(e, SS_SQL_EXPIRIES, NULL, 0, decode_expiry, &er);
    for (size_t i = 0; !rc && i < er.n; i++)
        fn(ctx, er.v[i].id, er.v[i].at_ms);
    ss_free(er.v);
    ss_arena_release(&er.a);
    return rc;
}
