/* The prepared-statement cache and SQLite error mapping.
 *
 * Every statement the factory runs is prepared once at open (persistent) and
 * reset after each use, so a commit costs no parsing. Stream ids, offsets and
 * producer ids are always bound as TEXT (binary collation: memcmp order, the
 * order of ss_offset_cmp); message bodies as BLOB. */
#include <stdio.h>

#include "sqlite_internal.h"

/* Column order of GET_RECORD and INSERT_RECORD: see record.c. */
#define RECORD_COLUMNS                                                                             \
    "stream_id, content_type, created_at, ttl_seconds, expires_at, expires_at_ms, current_offset, " \
    "counter, last_seq, closed, closed_at, forked_from, fork_offset, fork_sub_offset, soft_deleted"

static const char *const SQL[SQ__COUNT] = {
    [SQ_GET_RECORD] = "SELECT " RECORD_COLUMNS " FROM streamsy_streams WHERE stream_id = ?1",
    [SQ_INSERT_RECORD] = "INSERT INTO streamsy_streams (" RECORD_COLUMNS ") "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [SQ_UPDATE_RECORD] = "UPDATE streamsy_streams SET current_offset = ?2, counter = ?3, last_seq = ?4, "
                         "closed = ?5, closed_at = ?6, expires_at_ms = ?7, soft_deleted = ?8 "
                         "WHERE stream_id = ?1",
    [SQ_SOFT_DELETE] = "UPDATE streamsy_streams SET soft_deleted = 1 WHERE stream_id = ?1",
    [SQ_DELETE_RECORD] = "DELETE FROM streamsy_streams WHERE stream_id = ?1",
    [SQ_DELETE_MESSAGES] = "DELETE FROM streamsy_messages WHERE stream_id = ?1",
    [SQ_DELETE_PRODUCERS] = "DELETE FROM streamsy_producers WHERE stream_id = ?1",
    [SQ_INSERT_MESSAGE] = "INSERT INTO streamsy_messages (stream_id, \"offset\", timestamp, data) "
                          "VALUES (?1, ?2, ?3, ?4)",
    [SQ_LIST_MESSAGES] = "SELECT \"offset\", timestamp, data FROM streamsy_messages "
                         "WHERE stream_id = ?1 AND \"offset\" > ?2 ORDER BY \"offset\"",
    [SQ_GET_PRODUCER] = "SELECT epoch, last_seq FROM streamsy_producers "
                        "WHERE stream_id = ?1 AND producer_id = ?2",
    [SQ_UPSERT_PRODUCER] = "INSERT INTO streamsy_producers (stream_id, producer_id, epoch, last_seq) "
                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (stream_id, producer_id) "
                           "DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq",
    [SQ_COUNT_CHILDREN] = "SELECT count(*) FROM streamsy_streams WHERE forked_from = ?1",
    [SQ_EXPIRIES] = "SELECT stream_id, expires_at_ms FROM streamsy_streams "
                    "WHERE expires_at_ms IS NOT NULL ORDER BY expires_at_ms",
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_SAVEPOINT] = "SAVEPOINT streamsy_intent",
    [SQ_RELEASE] = "RELEASE streamsy_intent",
    [SQ_ROLLBACK_TO] = "ROLLBACK TO streamsy_intent",
};

void ss__sq_errf(char *err, size_t err_cap, const char *fmt, ...) {
    if (!err || !err_cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
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
    }
    return rc;
}

ss_rc ss__sq_prepare_all(sq_factory *f, char *err, size_t err_cap) {
    for (int i = 0; i < SQ__COUNT; i++) {
        int rc = sqlite3_prepare_v3(f->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &f->stmts[i], NULL);
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

sqlite3_stmt *ss__sq_stmt(sq_factory *f, sq_stmt_id id) {
    sqlite3_stmt *st = f->stmts[id];
    sqlite3_reset(st);
    return st;
}

ss_rc ss__sq_run(sq_factory *f, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SS_OK : ss__sq_fail(f, rc);
}

int ss__sq_bind_text(sqlite3_stmt *st, int i, ss_slice s) {
    return sqlite3_bind_text64(st, i, s.len ? s.p : "", s.len, SQLITE_STATIC, SQLITE_UTF8);
}

int ss__sq_exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, NULL, NULL, NULL); }
