/* See do_sqlite_host.h. */
#include "do_sqlite_host.h"

#include <string.h>

#define JS_SAFE_INTEGER 9007199254740991LL /* 2^53 - 1 */

static int authorize(void *ctx, int action, const char *a, const char *b, const char *c, const char *d) {
    (void)a, (void)b, (void)c, (void)d;
    do_sqlite_host *h = ctx;
    if (h->in_ctl)
        return SQLITE_OK;
    switch (action) {
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
    case SQLITE_PRAGMA:
        return SQLITE_DENY;
    default:
        return SQLITE_OK;
    }
}

static ss_rc map_rc(int rc) {
    switch (rc & 0xff) {
    case SQLITE_AUTH:
        return SS_NOTSUP;
    case SQLITE_FULL:
        return SS_FULL;
    case SQLITE_CONSTRAINT:
        return SS_MISUSE;
    case SQLITE_NOMEM:
        return SS_NOMEM;
    default:
        return SS_IOERR;
    }
}

static int bind(sqlite3_stmt *st, int i, const ss_sql_value *v) {
    switch (v->type) {
    case SS_SQL_NULL:
        return sqlite3_bind_null(st, i);
    case SS_SQL_INT:
        return sqlite3_bind_int64(st, i, v->i);
    case SS_SQL_TEXT:
        return sqlite3_bind_text64(st, i, v->s.len ? v->s.p : "", v->s.len, SQLITE_TRANSIENT, SQLITE_UTF8);
    case SS_SQL_BLOB:
        return sqlite3_bind_blob64(st, i, v->s.len ? v->s.p : "", v->s.len, SQLITE_TRANSIENT);
    }
    return SQLITE_MISUSE;
}

static ss_rc step_rows(sqlite3_stmt *st, ss_sql_row_fn row, void *row_ctx) {
    for (bool stop = false; !stop;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            return SS_OK;
        if (rc != SQLITE_ROW)
            return map_rc(rc);
        int n = sqlite3_column_count(st);
        ss_sql_value v[32];
        if (n > 32)
            return SS_MISUSE;
        for (int i = 0; i < n; i++) {
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL:
                v[i] = ss_sql_null();
                break;
            case SQLITE_INTEGER:
                v[i] = ss_sql_int(sqlite3_column_int64(st, i));
                break;
            case SQLITE_TEXT:
                v[i] = ss_sql_text(ss_slice_of(sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i)));
                break;
            default: {
                const void *p = sqlite3_column_blob(st, i);
                v[i] = ss_sql_blob(ss_slice_of(p ? p : "", (size_t)sqlite3_column_bytes(st, i)));
                break;
            }
            }
        }
        if (row) {
            ss_rc rc2 = row(row_ctx, v, (size_t)n, &stop);
            if (rc2)
                return rc2;
        }
    }
    return SS_OK;
}

static ss_rc host_exec(void *ctx, const char *sql, const ss_sql_value *args, size_t n_args, ss_sql_row_fn row,
                       void *row_ctx) {
    do_sqlite_host *h = ctx;
    if (++h->execs == h->fail_at)
        return SS_IOERR;
    for (size_t i = 0; i < n_args; i++)
        if (args[i].type == SS_SQL_INT && (args[i].i > JS_SAFE_INTEGER || args[i].i < -JS_SAFE_INTEGER))
            return SS_BADARG;
    const char *tail = sql;
    ss_rc out = SS_OK;
    while (!out && tail && *tail) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(h->db, tail, -1, &st, &tail);
        if (rc != SQLITE_OK)
            return map_rc(rc);
        if (!st)
            break; /* only whitespace or comments left */
        bool last = !tail || !*tail || strspn(tail, " \t\r\n;") == strlen(tail);
        for (size_t i = 0; !rc && last && i < n_args; i++)
            rc = bind(st, (int)i + 1, &args[i]);
        out = rc ? map_rc(rc) : step_rows(st, last ? row : NULL, row_ctx);
        sqlite3_finalize(st);
    }
    return out;
}

static int ctl(do_sqlite_host *h, const char *sql) {
    h->in_ctl = true;
    int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);
    h->in_ctl = false;
    return rc;
}

static ss_rc host_transaction(void *ctx, ss_rc (*body)(void *), void *body_ctx) {
    do_sqlite_host *h = ctx;
    if (ctl(h, "SAVEPOINT do_txn") != SQLITE_OK)
        return SS_IOERR;
    h->depth++;
    ss_rc rc = body(body_ctx);
    h->depth--;
    if (rc) {
        ctl(h, "ROLLBACK TO do_txn");
        ctl(h, "RELEASE do_txn");
        return rc;
    }
    return ctl(h, "RELEASE do_txn") == SQLITE_OK ? SS_OK : SS_IOERR;
}

bool do_sqlite_host_open(do_sqlite_host *h, const char *path) {
    memset(h, 0, sizeof *h);
    if (sqlite3_open(path, &h->db) != SQLITE_OK) {
        sqlite3_close(h->db);
        return false;
    }
    sqlite3_set_authorizer(h->db, authorize, h);
    h->host = (ss_do_host){.exec = host_exec, .transaction = host_transaction, .ctx = h};
    return true;
}

void do_sqlite_host_close(do_sqlite_host *h) {
    sqlite3_close(h->db);
    h->db = NULL;
}
