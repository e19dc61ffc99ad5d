/* The Durable Object storage factory: the SQL engine over ss_do_host.
 *
 * The engine's statements run as they are through host->exec. An intent is
 * one host transaction (ctx.storage.transactionSync): the body's writes are
 * committed when it keeps them and rolled back otherwise, so a failure in the
 * middle of a plan leaves nothing behind. Durable Object SQL refuses BEGIN,
 * SAVEPOINT and PRAGMA, so the schema version lives in a table. */
#include <stdlib.h>
#include <string.h>

#include "do_internal.h"
#include "streamsy/alloc.h"

/* The schema this build writes: the engine's tables plus this adapter's. */
#define DO_SCHEMA_VERSION 2

static const char DO_TABLES_V1[] =
    /* Forks of a stream here that live in other objects (a fork's object
     * records nothing here but this row): they count as dependents. */
    "CREATE TABLE streamsy_do_children ("
    "  parent_id TEXT NOT NULL,"
    "  child_id TEXT NOT NULL,"
    "  PRIMARY KEY (parent_id, child_id)"
    ") STRICT, WITHOUT ROWID;"
    /* Streams of streamsy_streams that copy a fork source held elsewhere. */
    "CREATE TABLE streamsy_do_mirrors ("
    "  stream_id TEXT NOT NULL PRIMARY KEY"
    ") STRICT, WITHOUT ROWID;"
    /* Edge drops to deliver to other objects, in order. */
    "CREATE TABLE streamsy_do_outbox ("
    "  seq INTEGER PRIMARY KEY,"
    "  parent_id TEXT NOT NULL,"
    "  child_id TEXT NOT NULL"
    ") STRICT;";

/* ---- the host connection ------------------------------------------------------------- */

ss_rc ss__do_exec(do_factory *f, const char *sql, const ss_sql_value *args, size_t n, ss_sql_row_fn row,
                  void *row_ctx) {
    return f->host.exec(f->host.ctx, sql, args, n, row, row_ctx);
}

static ss_rc first_int(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    *stop = true;
    if (n < 1 || (c[0].type != SS_SQL_INT && c[0].type != SS_SQL_NULL))
        return SS_CORRUPT;
    *(int64_t *)ctx = c[0].type == SS_SQL_INT ? c[0].i : 0;
    return SS_OK;
}

ss_rc ss__do_query_int(do_factory *f, const char *sql, const ss_sql_value *args, size_t n, int64_t *out) {
    *out = 0;
    return ss__do_exec(f, sql, args, n, first_int, out);
}

static do_factory *do_of_conn(ss_sql_conn *c) { return (do_factory *)((char *)c - offsetof(do_factory, conn)); }

static ss_rc conn_run(ss_sql_conn *c, ss_sql_stmt stmt, const ss_sql_value *args, size_t n_args, ss_sql_row_fn row,
                      void *row_ctx) {
    return ss__do_exec(do_of_conn(c), ss__sql_text[stmt], args, n_args, row, row_ctx);
}

/* What one transaction's body did, for ss__do_intent. */
typedef struct txn_job {
    ss_rc (*body)(void *ctx, bool *keep);
    void *ctx;
    bool ran;
    bool keep;
    ss_rc rc;
} txn_job;

static ss_rc txn_body(void *ctx) {
    txn_job *j = ctx;
    j->ran = true;
    j->rc = j->body(j->ctx, &j->keep);
    if (j->rc)
        return j->rc;
    return j->keep ? SS_OK : SS_NOTSUP; /* nothing to keep: roll back */
}

ss_rc ss__do_intent(do_factory *f, ss_rc (*body)(void *ctx, bool *keep), void *ctx) {
    txn_job j = {.body = body, .ctx = ctx};
    ss__sql_intent_enter(&f->engine);
    ss_rc rc = f->host.transaction(f->host.ctx, txn_body, &j);
    ss__sql_intent_leave(&f->engine);
    if (!j.ran)
        return rc ? rc : SS_IOERR; /* the host never ran the body */
    bool kept = !j.rc && j.keep && !rc;
    ss__sql_log_settle(&f->engine, kept);
    if (j.rc || !j.keep)
        return j.rc; /* rolled back: the body's own result */
    return rc;       /* kept: the result of committing */
}

static ss_rc conn_intent(ss_sql_conn *c, ss_rc (*body)(void *ctx, bool *keep), void *ctx) {
    return ss__do_intent(do_of_conn(c), body, ctx);
}

static const ss_sql_conn_methods do_conn_methods = {.run = conn_run, .intent = conn_intent};

/* ---- schema ------------------------------------------------------------------------- */

typedef struct migrate_job {
    do_factory *f;
} migrate_job;

static ss_rc migrate_body(void *ctx, bool *keep) {
    do_factory *f = ((migrate_job *)ctx)->f;
    int64_t version;
    ss_rc rc = ss__do_exec(f,
                           "CREATE TABLE IF NOT EXISTS streamsy_schema_version ("
                           "  version INTEGER PRIMARY KEY,"
                           "  applied_at_ms INTEGER NOT NULL"
                           ") STRICT",
                           NULL, 0, NULL, NULL);
    if (!rc)
        rc = ss__do_query_int(f, "SELECT coalesce(max(version), 0) FROM streamsy_schema_version", NULL, 0,
                              &version);
    if (rc)
        return rc;
    if (version > DO_SCHEMA_VERSION)
        return SS_NOTSUP; /* written by a newer streamsy */
    if (version == DO_SCHEMA_VERSION)
        return SS_OK;
    *keep = true;
    if (version < 1 && ((rc = ss__do_exec(f, ss__sql_schema_v1, NULL, 0, NULL, NULL)) ||
                        (rc = ss__do_exec(f, DO_TABLES_V1, NULL, 0, NULL, NULL))))
        return rc;
    /* Version 2: the SQL engine's log layout (its schema step 3; the
     * object has no documents, step 2). */
    if ((rc = ss__do_exec(f, ss__sql_schema_v3, NULL, 0, NULL, NULL)))
        return rc;
    ss_sql_value v = ss_sql_int(DO_SCHEMA_VERSION);
    return ss__do_exec(f,
                       "INSERT INTO streamsy_schema_version (version, applied_at_ms) "
                       "VALUES (?1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
                       &v, 1, NULL, NULL);
}

/* ---- the factory ---------------------------------------------------------------------- */

static void f_destroy(ss_stream_factory *base) {
    do_factory *f = do_of(base);
    ss__sql_engine_release(&f->engine);
    ss_free(f);
}

static const ss_stream_factory_methods do_methods = {
    .version = 2,
    .name = "durable-object",
    .caps = SS_STORAGE_CAP_DURABLE,
    .open = ss__sql_open,
    .create = ss__sql_create,
    .fork = ss__sql_fork,
    .remove = ss__sql_remove,
    .schedule_expiry = NULL, /* the protocol's timers; the front end maps the earliest to the alarm */
    .cancel_expiry = NULL,
    .destroy = f_destroy,
    .flush = NULL, /* every intent is its own durable transaction */
    .for_each_expiry = ss__sql_for_each_expiry,
};

ss_rc ss_do_factory_open(const ss_do_host *host, ss_stream_factory **out) {
    if (!host || !host->exec || !host->transaction || !out)
        return SS_MISUSE;
    do_factory *f = ss_calloc(1, sizeof *f);
    if (!f)
        return SS_NOMEM;
    f->host = *host;
    f->conn.m = &do_conn_methods;
    ss_sql_lineage_hooks hooks = {
        .extra_dependents = ss__do_extra_dependents, .drop_edge = ss__do_drop_edge, .ctx = f};
    ss__sql_engine_init(&f->engine, &do_methods, &f->conn, &hooks);
    migrate_job j = {f};
    ss_rc rc = ss__do_intent(f, migrate_body, &j);
    if (rc) {
        ss_free(f);
        return rc;
    }
    *out = &f->engine.base;
    return SS_OK;
}
