/* First touch, pragmas and forward migrations.
 *
 * Nothing is written before the file has been read as a SQLite database, so
 * a file that is not one (SQLITE_NOTADB) is refused untouched. A database
 * with tables of its own but no streamsy_schema_version is refused too (it is
 * somebody else's database), and so is one whose version is newer than this
 * build: an old streamsy never writes to a schema it does not know.
 *
 * MIGRATIONS lists every step from an empty file to SS_SQLITE_SCHEMA_VERSION;
 * each missing step runs in its own transaction and records its row in
 * streamsy_schema_version. To change the schema, append a step (never edit a
 * released one) and bump SS_SQLITE_SCHEMA_VERSION. */
#include <stdio.h>
#include <string.h>

#include "sqlite_internal.h"

typedef struct migration {
    int64_t version;
    const char *sql;
} migration;

/* Where the applied steps are recorded; created with the first step. */
static const char VERSION_TABLE[] = "CREATE TABLE IF NOT EXISTS streamsy_schema_version ("
                                    "  version INTEGER PRIMARY KEY,"
                                    "  applied_at_ms INTEGER NOT NULL"
                                    ") STRICT;";

/* The tables are the SQL engine's (src/storage/sql/statements.c). */
static const migration MIGRATIONS[] = {
    {1, ss__sql_schema_v1},
    {2, ss__sql_schema_v2},
    {3, ss__sql_schema_v3},
};

#define N_MIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])

_Static_assert(sizeof MIGRATIONS / sizeof MIGRATIONS[0] == SS_SQLITE_SCHEMA_VERSION,
               "one migration step per schema version");
_Static_assert(SS_SQLITE_SCHEMA_VERSION == SS_SQL_SCHEMA_VERSION, "the engine's schema is the SQLite schema");

/* One integer from a query; sqlite's rc. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *out = 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The error of the first read of the file, as a sentence. */
static ss_rc first_touch_error(sqlite3 *db, int rc, const char *path, char *err, size_t err_cap) {
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
        ss__sq_errf(err, err_cap, "%s is not a SQLite database (refusing to touch it)", path);
        return SS_CORRUPT;
    case SQLITE_CORRUPT:
        ss__sq_errf(err, err_cap, "database %s is corrupt: %s", path, sqlite3_errmsg(db));
        return SS_CORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        ss__sq_errf(err, err_cap, "database %s is locked by another program", path);
        return SS_BUSY;
    default:
        ss__sq_errf(err, err_cap, "cannot read database %s: %s", path, sqlite3_errmsg(db));
        return ss__sq_rc(rc) ? ss__sq_rc(rc) : SS_IOERR;
    }
}

static ss_rc write_error(sqlite3 *db, int rc, const char *path, const char *what, char *err, size_t err_cap) {
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        ss__sq_errf(err, err_cap, "database %s is locked by another program", path);
        return SS_BUSY;
    }
    ss__sq_errf(err, err_cap, "database %s: cannot %s: %s", path, what, sqlite3_errmsg(db));
    return ss__sq_rc(rc) ? ss__sq_rc(rc) : SS_IOERR;
}

ss_rc ss__sq_schema_version(sqlite3 *db, int64_t *out) {
    int64_t has_table = 0;
    int rc = query_int(
        db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'streamsy_schema_version'",
        &has_table);
    if (rc == SQLITE_OK && has_table)
        rc = query_int(db, "SELECT coalesce(max(version), 0) FROM streamsy_schema_version", out);
    else if (rc == SQLITE_OK)
        *out = 0;
    return rc == SQLITE_OK ? SS_OK : (ss__sq_rc(rc) ? ss__sq_rc(rc) : SS_IOERR);
}

/* Reads the version; refuses foreign and newer databases. */
static ss_rc read_version(sqlite3 *db, const char *path, int64_t *out, char *err, size_t err_cap) {
    int64_t has_table = 0, tables = 0;
    int rc = query_int(
        db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'streamsy_schema_version'",
        &has_table);
    if (rc == SQLITE_OK && !has_table)
        rc = query_int(db, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                       &tables);
    if (rc != SQLITE_OK)
        return first_touch_error(db, rc, path, err, err_cap);
    if (!has_table && tables) {
        ss__sq_errf(err, err_cap,
                    "%s is a SQLite database but not a streamsy one (no streamsy_schema_version table)", path);
        return SS_CORRUPT;
    }
    int64_t version = 0;
    if (has_table && (rc = query_int(db, "SELECT coalesce(max(version), 0) FROM streamsy_schema_version",
                                     &version)) != SQLITE_OK)
        return first_touch_error(db, rc, path, err, err_cap);
    if (version > SS_SQLITE_SCHEMA_VERSION) {
        ss__sq_errf(
            err, err_cap,
            "database %s has schema version %lld, newer than this streamsy supports (%d): use a newer streamsy",
            path, (long long)version, SS_SQLITE_SCHEMA_VERSION);
        return SS_NOTSUP;
    }
    *out = version;
    return SS_OK;
}

static ss_rc apply_step(sqlite3 *db, const migration *m, const char *path, char *err, size_t err_cap) {
    int rc = ss__sq_exec(db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return write_error(db, rc, path, "begin a migration", err, err_cap);
    /* Re-read inside the transaction: the step may have been applied meanwhile. */
    int64_t version = 0;
    ss_rc out = read_version(db, path, &version, err, err_cap);
    if (!out && version < m->version) {
        rc = ss__sq_exec(db, VERSION_TABLE);
        if (rc == SQLITE_OK)
            rc = ss__sq_exec(db, m->sql);
        if (rc == SQLITE_OK) {
            sqlite3_stmt *st;
            rc = sqlite3_prepare_v2(db,
                                    "INSERT INTO streamsy_schema_version (version, applied_at_ms) "
                                    "VALUES (?1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
                                    -1, &st, NULL);
            if (rc == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, m->version);
                rc = sqlite3_step(st);
                rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
                sqlite3_finalize(st);
            }
        }
        if (rc == SQLITE_OK)
            rc = ss__sq_exec(db, "COMMIT");
        if (rc != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "migrate to schema version %lld", (long long)m->version);
            out = write_error(db, rc, path, what, err, err_cap);
        }
    }
    if (!sqlite3_get_autocommit(db))
        (void)ss__sq_exec(db, out ? "ROLLBACK" : "COMMIT");
    return out;
}

static ss_rc set_pragmas(sqlite3 *db, const char *path, bool file, char *err, size_t err_cap) {
    int rc0;
    /* Takes effect only on a new, empty database (before WAL mode writes
     * the header); an existing file keeps its page size. */
    if ((rc0 = ss__sq_exec(db, "PRAGMA page_size = " SS_SQLITE_PAGE_SIZE_TEXT)) != SQLITE_OK)
        return write_error(db, rc0, path, "set page_size", err, err_cap);
    if (file) {
        /* WAL: readers never wait for the writer; one append + sync per commit. */
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        bool wal = false;
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                const unsigned char *mode = sqlite3_column_text(st, 0);
                wal = mode && strcmp((const char *)mode, "wal") == 0;
                rc = SQLITE_OK;
            }
            sqlite3_finalize(st);
        }
        if (rc != SQLITE_OK)
            return write_error(db, rc, path, "switch to WAL mode", err, err_cap);
        if (!wal) {
            ss__sq_errf(err, err_cap, "database %s cannot use WAL mode", path);
            return SS_IOERR;
        }
    }
    /* After a checkpoint the WAL file is cut back to 64 MiB. */
    if (file && (rc0 = ss__sq_exec(db, "PRAGMA journal_size_limit = 67108864")) != SQLITE_OK)
        return write_error(db, rc0, path, "set journal_size_limit", err, err_cap);
    /* Checkpoint every 8,192 pages (64 MiB of 8 KiB pages) instead of 1,000:
     * appends spread over many streams rewrite the same pages, and a longer
     * WAL copies each of them to the database once per checkpoint (measured:
     * 17.1 -> 12.1 KB written per append to 1,000 streams, +17 % appends). */
    if (file && (rc0 = ss__sq_exec(db, "PRAGMA wal_autocheckpoint = 8192")) != SQLITE_OK)
        return write_error(db, rc0, path, "set wal_autocheckpoint", err, err_cap);
    /* FULL: the WAL is synced at every commit, so an acknowledged commit
     * survives a power loss (NORMAL would only survive a process crash). */
    int rc = ss__sq_exec(db, "PRAGMA synchronous = FULL");
    if (rc != SQLITE_OK)
        return write_error(db, rc, path, "set synchronous = FULL", err, err_cap);
    return SS_OK;
}

ss_rc ss__sq_schema_open(sqlite3 *db, const char *path, bool file, char *err, size_t err_cap) {
    /* SQLite falls back to read-only for a write-protected file. */
    if (file && sqlite3_db_readonly(db, "main") == 1) {
        ss__sq_errf(err, err_cap, "database %s is read-only (no write permission)", path);
        return SS_IOERR;
    }
    /* First touch: a read. NOTADB and CORRUPT show up here, before any write. */
    int64_t n;
    int rc = query_int(db, "SELECT count(*) FROM sqlite_master", &n);
    if (rc != SQLITE_OK)
        return first_touch_error(db, rc, path, err, err_cap);
    int64_t version;
    ss_rc out = read_version(db, path, &version, err, err_cap);
    if (out)
        return out;
    if ((out = set_pragmas(db, path, file, err, err_cap)))
        return out;
    for (size_t i = 0; i < N_MIGRATIONS; i++)
        if (MIGRATIONS[i].version > version && (out = apply_step(db, &MIGRATIONS[i], path, err, err_cap)))
            return out;
    return SS_OK;
}
