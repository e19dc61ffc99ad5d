/* Internals of the SQLite storage factory, shared by its files:
 *
 *   factory.c  open, destroy, the vtables, flush, for_each_expiry
 *   lock.c     exclusive ownership: flock on the sidecar PATH-lock
 *   schema.c   first-touch checks and forward migrations
 *   stmt.c     the prepared-statement cache, error mapping, exec helpers
 *   txn.c      intents (one per commit/create/fork/delete) and group commit
 *   record.c   the record and message codec (rows <-> ss_record, ss_message)
 *   stream.c   the storage-stream methods: reads and commit(MutationPlan)
 *   plans.c    create, fork and delete (cascade reclaim over forked_from)
 *
 * Everything runs on the caller's thread on one connection (contract rule 6). */
#ifndef STREAMSY_STORAGE_SQLITE_INTERNAL_H
#define STREAMSY_STORAGE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdarg.h>

#include "streamsy/lineage.h"
#include "streamsy/sqlite.h"

/* ---- statements ------------------------------------------------------------ */

#define SQ_STMTS(X)                                                                                \
    X(GET_RECORD)                                                                                  \
    X(INSERT_RECORD)                                                                               \
    X(UPDATE_RECORD)                                                                               \
    X(SOFT_DELETE)                                                                                 \
    X(DELETE_RECORD)                                                                               \
    X(DELETE_MESSAGES)                                                                             \
    X(DELETE_PRODUCERS)                                                                            \
    X(INSERT_MESSAGE)                                                                              \
    X(LIST_MESSAGES)                                                                               \
    X(GET_PRODUCER)                                                                                \
    X(UPSERT_PRODUCER)                                                                             \
    X(COUNT_CHILDREN)                                                                              \
    X(EXPIRIES)                                                                                    \
    X(BEGIN)                                                                                       \
    X(COMMIT)                                                                                      \
    X(ROLLBACK)                                                                                    \
    X(SAVEPOINT)                                                                                   \
    X(RELEASE)                                                                                     \
    X(ROLLBACK_TO)

typedef enum sq_stmt_id {
#define SQ_STMT_ENUM(name) SQ_##name,
    SQ_STMTS(SQ_STMT_ENUM)
#undef SQ_STMT_ENUM
        SQ__COUNT
} sq_stmt_id;

/* ---- the factory ----------------------------------------------------------- */

/* Owned by: whoever called ss_sqlite_factory_open (freed by destroy). */
typedef struct sq_factory {
    ss_stream_factory base;
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
    int lock_fd; /* -1 for ":memory:" */
    ss_lineage_store lineage;
    ss_lineage_policy policy;
} sq_factory;

static inline sq_factory *sq_of(ss_stream_factory *f) { return (sq_factory *)f; }

/* ---- stmt.c ---------------------------------------------------------------- */

/* One human line into err (nothing when err_cap is 0). */
void ss__sq_errf(char *err, size_t err_cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* SQLITE_FULL -> SS_FULL, BUSY/LOCKED -> SS_BUSY, NOMEM -> SS_NOMEM,
 * CORRUPT/NOTADB -> SS_CORRUPT, TOOBIG -> SS_TOOBIG, CONSTRAINT -> SS_MISUSE,
 * anything else -> SS_IOERR. */
ss_rc ss__sq_rc(int sqlite_rc);
/* Maps an error of a statement run inside an intent or read, and notices
 * when SQLite rolled the open group transaction back by itself. */
ss_rc ss__sq_fail(sq_factory *f, int sqlite_rc);
ss_rc ss__sq_prepare_all(sq_factory *f, char *err, size_t err_cap);
void ss__sq_finalize_all(sq_factory *f);
/* The cached statement, reset and with cleared bindings. */
sqlite3_stmt *ss__sq_stmt(sq_factory *f, sq_stmt_id id);
/* Steps a statement that returns no rows to completion; resets it. */
ss_rc ss__sq_run(sq_factory *f, sqlite3_stmt *st);
/* Binds a slice as TEXT ("" for an empty one, never NULL). */
int ss__sq_bind_text(sqlite3_stmt *st, int i, ss_slice s);
/* Runs SQL text (migrations and pragmas); sqlite's rc. */
int ss__sq_exec(sqlite3 *db, const char *sql);

/* ---- lock.c ---------------------------------------------------------------- */

/* Takes the exclusive lock on PATH-lock and writes our pid into it. */
ss_rc ss__sq_lock(const char *path, int *out_fd, char *err, size_t err_cap);
void ss__sq_unlock(int fd);

/* ---- schema.c -------------------------------------------------------------- */

/* Checks that the file is a SQLite database we can own, sets the pragmas and
 * brings the schema to SS_SQLITE_SCHEMA_VERSION. */
ss_rc ss__sq_schema_open(sqlite3 *db, const char *path, bool file, char *err, size_t err_cap);
/* The version recorded in the database (0 for none); for tests. */
ss_rc ss__sq_schema_version(sqlite3 *db, int64_t *out);

/* ---- txn.c ----------------------------------------------------------------- */

/* Every commit/create/fork/delete is one intent: begin, then end with
 * wrote = true (keep the changes) or false (nothing happened or it failed). */
ss_rc ss__sq_intent_begin(sq_factory *f);
/* Ends the intent begun last. rc is the intent's own result so far: on
 * failure (or !wrote) the intent is rolled back and rc returned; on success
 * the changes are kept (released or committed) and the result of that is
 * returned. */
ss_rc ss__sq_intent_end(sq_factory *f, bool wrote, ss_rc rc);
ss_rc ss__sq_flush(sq_factory *f);
/* Rolls back whatever is open (destroy). */
void ss__sq_abandon(sq_factory *f);

/* ---- record.c -------------------------------------------------------------- */

/* Reads stream `id`; strings land in `a`. */
ss_rc ss__sq_read_record(sq_factory *f, ss_slice id, ss_arena *a, ss_record *out, bool *out_found);
ss_rc ss__sq_insert_record(sq_factory *f, const ss_record *r);
/* Stores the fields a patch or a soft delete can change. */
ss_rc ss__sq_update_record(sq_factory *f, const ss_record *r);
ss_rc ss__sq_insert_messages(sq_factory *f, ss_slice id, const ss_message *msgs, size_t n);
ss_rc ss__sq_list_messages(sq_factory *f, ss_slice id, const ss_list_opts *o, ss_arena *a,
                           ss_message_batch *out);
ss_rc ss__sq_read_producer(sq_factory *f, ss_slice id, ss_slice producer_id, ss_producer *out,
                           bool *out_found);
ss_rc ss__sq_upsert_producer(sq_factory *f, ss_slice id, ss_slice producer_id, ss_producer p);

/* ---- stream.c / plans.c ---------------------------------------------------- */

ss_rc ss__sq_open_stream(ss_stream_factory *f, ss_slice id, ss_storage_stream **out);
ss_rc ss__sq_create(ss_stream_factory *f, const ss_create_plan *p, ss_arena *a, ss_create_outcome *out);
ss_rc ss__sq_fork(ss_stream_factory *f, const ss_fork_plan *p, ss_arena *a, ss_create_outcome *out);
ss_rc ss__sq_remove(ss_stream_factory *f, const ss_delete_plan *p, ss_delete_outcome *out);
/* Sets up f->lineage and f->policy (reverse index over forked_from). */
void ss__sq_lineage_init(sq_factory *f);

/* ---- for tests ------------------------------------------------------------- */

/* The factory's connection, e.g. to set PRAGMA max_page_count. */
sqlite3 *ss__sqlite_db(ss_stream_factory *f);

#endif
