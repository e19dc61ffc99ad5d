/* The engine's connection over SQLite: the prepared-statement cache, binding,
 * stepping, and SQLite error mapping.
 *
 * Every statement the factory runs is prepared once at open (persistent) and
 * reset after each use, so a commit costs no parsing. TEXT and BLOB values
 * are bound without a copy (SQLITE_STATIC: they outlive the step). */
#include <stdio.h>

#include "base/errf.h"
#include "sqlite_internal.h"

/* The engine's statements by their SS_SQL_* number, then transaction control. */
static const char *sql_text(int id) {
    static const char *const CTL[SQ__COUNT - SS_SQL__COUNT] = {
        [SQ_BEGIN - SS_SQL__COUNT] = "BEGIN IMMEDIATE",
        [SQ_COMMIT - SS_SQL__COUNT] = "COMMIT",
        [SQ_ROLLBACK - SS_SQL__COUNT] = "ROLLBACK",
        [SQ_SAVEPOINT - SS_SQL__COUNT] = "SAVEPOINT streamsy_intent",
        [SQ_RELEASE - SS_SQL__COUNT] = "RELEASE streamsy_intent",
        [SQ_ROLLBACK_TO - SS_SQL__COUNT] = "ROLLBACK TO streamsy_intent",
    };
    return id < SS_SQL__COUNT ? ss__sql_text[id] : CTL[id - SS_SQL__COUNT];
}

void ss__sq_errf(char *err, size_t err_cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ss__verrf(err, err_cap, fmt, ap);
    va_end(ap);
}

ss_rc ss__sq_rc(int sqlite_rc) {
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return SS_OK;
    case SQLITE_FULL:
        return SS_FULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SS_BUSY;
    case SQLITE_NOMEM:
        return SS_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return SS_CORRUPT;
    case SQLITE_TOOBIG:
        return SS_TOOBIG;
    case SQLITE_CONSTRAINT:
        return SS_MISUSE;
    default:
        return SS_IOERR;
    }
}

ss_rc ss__sq_fail(sq_factory *f, int sqlite_rc) {
    ss_rc rc = ss__sq_rc(sqlite_rc);
    snprintf(f->last_error, sizeof f->last_error, "SQLite %d: %s", sqlite_rc, sqlite3_errstr(sqlite_rc));
    if (sqlite3_errcode(f->db) == sqlite_rc) /* the connection's message says more (which file, where) */
        snprintf(f->last_error, sizeof f->last_error, "SQLite %d: %s", sqlite_rc, sqlite3_errmsg(f->db));
    if (rc == SS_OK)
        rc = SS_IOERR; /* called on a failure path: never report success */
    if (f->group_commit && f->in_txn && sqlite3_get_autocommit(f->db)) {
        /* SQLite rolled back the whole open transaction (it does so for
         * SQLITE_FULL and I/O errors): the earlier intents of the batch are
         * gone, and the next flush has to say so. */
        f->in_txn = false;
        if (f->dirty && f->lost == SS_OK)
            f->lost = rc;
        f->dirty = false;
        ss__sql_forget_all(&f->engine); /* they may hold the batch's writes */
    }
    return rc;
}

ss_rc ss__sq_prepare_all(sq_factory *f, char *err, size_t err_cap) {
    for (int i = 0; i < SQ__COUNT; i++) {
        int rc = sqlite3_prepare_v3(f->db, sql_text(i), -1, SQLITE_PREPARE_PERSISTENT, &f->stmts[i], NULL);
        if (rc != SQLITE_OK) {
            ss__sq_errf(err, err_cap, "cannot prepare a statement: %s", sqlite3_errmsg(f->db));
            return ss__sq_rc(rc) ? ss__sq_rc(rc) : SS_IOERR;
        }
    }
    return SS_OK;
}

void ss__sq_finalize_all(sq_factory *f) {
    for (int i = 0; i < SQ__COUNT; i++) {
        sqlite3_finalize(f->stmts[i]);
        f->stmts[i] = NULL;
    }
}

sqlite3_stmt *ss__sq_stmt(sq_factory *f, int id) {
    sqlite3_stmt *st = f->stmts[id];
    sqlite3_reset(st);
    return st;
}

int ss__sq_exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, NULL, NULL, NULL); }

static int bind(sqlite3_stmt *st, int i, const ss_sql_value *v) {
    switch (v->type) {
    case SS_SQL_NULL:
        return sqlite3_bind_null(st, i);
    case SS_SQL_INT:
        return sqlite3_bind_int64(st, i, v->i);
    case SS_SQL_TEXT: /* "" for an empty slice, never NULL */
        return sqlite3_bind_text64(st, i, v->s.len ? v->s.p : "", v->s.len, SQLITE_STATIC, SQLITE_UTF8);
    case SS_SQL_BLOB:
        return sqlite3_bind_blob64(st, i, v->s.len ? v->s.p : "", v->s.len, SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

#define MAX_COLUMNS 16

/* One result row as values; TEXT and BLOB point into SQLite's row buffer. */
static ss_rc row_values(sqlite3_stmt *st, ss_sql_value *v, size_t *n) {
    int cols = sqlite3_column_count(st);
    if (cols > MAX_COLUMNS)
        return SS_MISUSE;
    for (int i = 0; i < cols; i++) {
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL:
            v[i] = ss_sql_null();
            break;
        case SQLITE_INTEGER:
        case SQLITE_FLOAT:
            v[i] = ss_sql_int(sqlite3_column_int64(st, i));
            break;
        case SQLITE_TEXT: {
            const unsigned char *p = sqlite3_column_text(st, i);
            if (!p)
                return SS_NOMEM;
            v[i] = ss_sql_text(ss_slice_of(p, (size_t)sqlite3_column_bytes(st, i)));
            break;
        }
        default: {
            const void *p = sqlite3_column_blob(st, i);
            size_t len = (size_t)sqlite3_column_bytes(st, i);
            if (!p && len)
                return SS_NOMEM;
            v[i] = ss_sql_blob(ss_slice_of(p ? p : "", len));
            break;
        }
        }
    }
    *n = (size_t)cols;
    return SS_OK;
}

ss_rc ss__sq_run(ss_sql_conn *c, ss_sql_stmt stmt, const ss_sql_value *args, size_t n_args, ss_sql_row_fn row,
                 void *row_ctx) {
    sq_factory *f = sq_of_conn(c);
    sqlite3_stmt *st = ss__sq_stmt(f, stmt);
    ss_rc out = SS_OK;
    for (size_t i = 0; i < n_args; i++) {
        int brc = bind(st, (int)i + 1, &args[i]);
        if (brc != SQLITE_OK) {
            out = ss__sq_fail(f, brc);
            goto done;
        }
    }
    for (bool stop = false; !stop;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            out = ss__sq_fail(f, rc);
            break;
        }
        ss_sql_value v[MAX_COLUMNS];
        size_t n = 0;
        if ((out = row_values(st, v, &n)) || !row || (out = row(row_ctx, v, n, &stop)))
            break;
    }
done:
    sqlite3_reset(st);
    return out;
}

static const char *last_error(ss_sql_conn *c) {
    sq_factory *f = sq_of_conn(c);
    return f->last_error[0] ? f->last_error : NULL;
}

const ss_sql_conn_methods ss__sq_conn_methods = {
    .run = ss__sq_run, .intent = ss__sq_intent, .last_error = last_error};
