/* Internals of the SQLite storage factory, shared by its files. The storage
 * seam itself (records, messages, commit, create, fork, delete) is the SQL
 * engine's (src/storage/sql); this adapter supplies the connection:
 *
 *   factory.c  open, destroy, the factory table, flush
 *   lock.c     exclusive ownership: flock on the database file itself
 *   schema.c   first-touch checks, pragmas and forward migrations
 *   stmt.c     the connection: prepared-statement cache, error mapping, run
 *   txn.c      intents (one per commit/create/fork/delete) and group commit
 *
 * Everything runs on the caller's thread on one connection (contract rule 6). */
#ifndef STREAMSY_STORAGE_SQLITE_INTERNAL_H
#define STREAMSY_STORAGE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdarg.h>

#include "sqlstore/sql_engine.h"
#include "streamsy/sqlite.h"

/* ---- statements ------------------------------------------------------------ */

/* The engine's statements (SS_SQL_*) come first; then transaction control. */
typedef enum sq_ctl_id {
    SQ_BEGIN = SS_SQL__COUNT,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_SAVEPOINT,
    SQ_RELEASE,
    SQ_ROLLBACK_TO,
    SQ__COUNT
} sq_ctl_id;

/* ---- the factory ----------------------------------------------------------- */

/* Owned by: whoever called ss_sqlite_factory_open (freed by destroy). */
typedef struct sq_factory {
    ss_sql_engine engine; /* first: the factory base */
    ss_sql_conn conn;     /* the engine's connection: stmt.c and txn.c */
    sqlite3 *db;
    sqlite3_stmt *stmts[SQ__COUNT]; /* prepared once at open */
    bool group_commit;
    /* Group commit state. in_txn: our BEGIN IMMEDIATE is open. dirty: a
     * released savepoint put changes into it. lost: SQLite rolled the open
     * transaction back by itself (SQLITE_FULL, I/O errors): the changes of
     * earlier intents are gone, so the next flush must fail with this code. */
    bool in_txn;
    bool dirty;
    ss_rc lost;
    int lock_fd;          /* -1 for ":memory:" */
    char last_error[256]; /* SQLite's message for the last failure (ss__sq_fail), for the log */
} sq_factory;

static inline sq_factory *sq_of(ss_stream_factory *f) { return (sq_factory *)f; }
static inline sq_factory *sq_of_conn(ss_sql_conn *c) {
    return (sq_factory *)((char *)c - offsetof(sq_factory, conn));
}

/* ---- stmt.c ---------------------------------------------------------------- */

/* One human line into err (nothing when err_cap is 0). */
void ss__sq_errf(char *err, size_t err_cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* SQLITE_FULL -> SS_FULL, BUSY/LOCKED -> SS_BUSY, NOMEM -> SS_NOMEM,
 * CORRUPT/NOTADB -> SS_CORRUPT, TOOBIG -> SS_TOOBIG, CONSTRAINT -> SS_MISUSE,
 * anything else -> SS_IOERR. */
SS_MUST_USE ss_rc ss__sq_rc(int sqlite_rc);
/* Maps an error of a statement run inside an intent or read, and notices
 * when SQLite rolled the open group transaction back by itself. */
SS_MUST_USE ss_rc ss__sq_fail(sq_factory *f, int sqlite_rc);
SS_MUST_USE ss_rc ss__sq_prepare_all(sq_factory *f, char *err, size_t err_cap);
void ss__sq_finalize_all(sq_factory *f);
/* The cached statement, reset and with cleared bindings. */
sqlite3_stmt *ss__sq_stmt(sq_factory *f, int id);
/* Runs SQL text (migrations and pragmas); sqlite's rc. */
int ss__sq_exec(sqlite3 *db, const char *sql);
/* The engine's connection methods (run: stmt.c, intent: txn.c). */
extern const ss_sql_conn_methods ss__sq_conn_methods;
SS_MUST_USE ss_rc ss__sq_run(ss_sql_conn *c, ss_sql_stmt stmt, const ss_sql_value *args, size_t n_args,
                             ss_sql_row_fn row, void *row_ctx);

/* ---- lock.c ---------------------------------------------------------------- */

/* Takes the exclusive flock on the database file (created if missing). */
SS_MUST_USE ss_rc ss__sq_lock(const char *path, int *out_fd, char *err, size_t err_cap);
void ss__sq_unlock(int fd);

/* ---- schema.c -------------------------------------------------------------- */

/* Checks that the file is a SQLite database we can own, sets the pragmas and
 * brings the schema to SS_SQLITE_SCHEMA_VERSION. */
SS_MUST_USE ss_rc ss__sq_schema_open(sqlite3 *db, const char *path, bool file, char *err, size_t err_cap);
/* The version recorded in the database (0 for none); for tests. */
SS_MUST_USE ss_rc ss__sq_schema_version(sqlite3 *db, int64_t *out);

/* ---- txn.c ----------------------------------------------------------------- */

/* Runs body as one intent: a transaction of its own, or with group commit a
 * savepoint in the open batch (ss_sql_conn_methods.intent). */
SS_MUST_USE ss_rc ss__sq_intent(ss_sql_conn *c, ss_rc (*body)(void *ctx, bool *keep), void *ctx);
SS_MUST_USE ss_rc ss__sq_flush(sq_factory *f);
/* Rolls back whatever is open (destroy). */
void ss__sq_abandon(sq_factory *f);

/* ---- for tests ------------------------------------------------------------- */

/* The factory's connection, e.g. to set PRAGMA max_page_count. */
sqlite3 *ss__sqlite_db(ss_stream_factory *f);

#endif
