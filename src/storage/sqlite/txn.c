/* Intents and group commit.
 *
 * Without group commit every intent (commit, create, fork, delete) is its own
 * BEGIN IMMEDIATE ... COMMIT: durable when it returns (synchronous=FULL), and
 * flush has nothing to do.
 *
 * With group commit the factory keeps one write transaction open: the first
 * intent after a flush runs BEGIN IMMEDIATE, every intent runs inside
 * SAVEPOINT streamsy_intent, and a failed or precondition-failed intent rolls
 * back to it, so it takes only itself back. Reads on the connection see the
 * open transaction. flush() COMMITs: one WAL append and one sync for the
 * whole batch. A transaction that holds no kept change is closed at once, so
 * an idle factory never sits on an open write transaction.
 *
 * SQLite rolls back the whole open transaction by itself on SQLITE_FULL and
 * I/O errors (not just the statement). ss__sq_fail() notices that and
 * records it in f->lost: the failing intent reports its error at once, and
 * the next flush reports it for the earlier intents of the batch (and rolls
 * back whatever ran since), so nothing is ever acknowledged that is not in
 * the database. */
#include "sqlite_internal.h"

/* Runs a transaction-control statement; sqlite's rc. */
static int ctl(sq_factory *f, sq_ctl_id id) {
    sqlite3_stmt *st = ss__sq_stmt(f, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Drops the open transaction, whatever state it is in. */
static void rollback_all(sq_factory *f) {
    if (!sqlite3_get_autocommit(f->db))
        (void)ctl(f, SQ_ROLLBACK);
    if (f->dirty)
        ss__sql_forget_all(&f->engine); /* cached rows may hold the batch's writes */
    f->in_txn = false;
    f->dirty = false;
}

static ss_rc intent_begin(sq_factory *f) {
    int rc;
    if (!f->group_commit) {
        if ((rc = ctl(f, SQ_BEGIN)) != SQLITE_OK) {
            rollback_all(f);
            return ss__sq_rc(rc) ? ss__sq_rc(rc) : SS_IOERR;
        }
        return SS_OK;
    }
    if (!f->in_txn) {
        if ((rc = ctl(f, SQ_BEGIN)) != SQLITE_OK) {
            rollback_all(f);
            return ss__sq_rc(rc) ? ss__sq_rc(rc) : SS_IOERR;
        }
        f->in_txn = true;
        f->dirty = false;
    }
    if ((rc = ctl(f, SQ_SAVEPOINT)) != SQLITE_OK) {
        ss_rc mapped = ss__sq_fail(f, rc);
        if (f->in_txn && !f->dirty)
            rollback_all(f);
        return mapped;
    }
    return SS_OK;
}

/* Group commit: takes the current intent back to its savepoint. */
static void rollback_intent(sq_factory *f, ss_rc why) {
    if (!f->in_txn)
        return; /* SQLite already rolled everything back (ss__sq_fail noted it) */
    if (ctl(f, SQ_ROLLBACK_TO) != SQLITE_OK || ctl(f, SQ_RELEASE) != SQLITE_OK) {
        /* The savepoint cannot be undone alone: give up the whole batch. */
        if (f->dirty && f->lost == SS_OK)
            f->lost = why ? why : SS_IOERR;
        rollback_all(f);
        return;
    }
    if (!f->dirty)
        rollback_all(f); /* nothing kept in it: do not sit on an open write transaction */
}

/* Ends the intent begun last. rc is the intent's own result so far: on
 * failure (or !wrote) the intent is rolled back and rc returned; on success
 * the changes are kept (released or committed) and the result of that is
 * returned. */
static ss_rc intent_end(sq_factory *f, bool wrote, ss_rc rc) {
    if (!f->group_commit) {
        if (rc == SS_OK && wrote) {
            int crc = ctl(f, SQ_COMMIT);
            if (crc == SQLITE_OK)
                return SS_OK;
            rc = ss__sq_rc(crc) ? ss__sq_rc(crc) : SS_IOERR;
        }
        rollback_all(f);
        return rc;
    }
    if (rc == SS_OK && wrote) {
        if (!f->in_txn)
            return f->lost ? f->lost : SS_IOERR; /* cannot happen: a write failed without saying so */
        int crc = ctl(f, SQ_RELEASE);
        if (crc == SQLITE_OK) {
            f->dirty = true;
            return SS_OK;
        }
        rc = ss__sq_fail(f, crc);
    }
    rollback_intent(f, rc);
    return rc;
}

ss_rc ss__sq_intent(ss_sql_conn *c, ss_rc (*body)(void *ctx, bool *keep), void *ctx) {
    sq_factory *f = sq_of_conn(c);
    ss_rc rc = intent_begin(f);
    if (rc)
        return rc;
    bool keep = false;
    rc = body(ctx, &keep);
    return intent_end(f, keep, rc);
}

ss_rc ss__sq_flush(sq_factory *f) {
    if (!f->group_commit)
        return SS_OK;
    if (f->lost) {
        ss_rc rc = f->lost;
        f->lost = SS_OK;
        rollback_all(f);
        return rc;
    }
    if (!f->in_txn)
        return SS_OK;
    int rc = ctl(f, SQ_COMMIT);
    ss_rc out = SS_OK;
    if (rc != SQLITE_OK) {
        out = ss__sq_rc(rc) ? ss__sq_rc(rc) : SS_IOERR;
        rollback_all(f); /* the batch is lost, the database is as at the last flush */
    }
    f->in_txn = false;
    f->dirty = false;
    return out;
}

void ss__sq_abandon(sq_factory *f) {
    f->lost = SS_OK;
    rollback_all(f);
}
