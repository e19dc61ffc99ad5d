/* The SQLite storage factory: open, destroy, the factory table (the SQL
 * engine's slots plus flush). See streamsy/sqlite.h and docs/sqlite.md. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_internal.h"
#include "streamsy/alloc.h"

#define BUSY_TIMEOUT_MS 5000

/* The page cache in KiB (a negative cache_size), at least 1 MiB. */
static ss_rc set_cache_size(sqlite3 *db, size_t bytes, char *err, size_t err_cap) {
    size_t kib = bytes < ((size_t)1 << 20) ? 1024 : bytes >> 10;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%zu", kib);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ss__sq_errf(err, err_cap, "cannot set the page cache size: %s", sqlite3_errmsg(db));
        return ss__sq_rc(rc) ? ss__sq_rc(rc) : SS_IOERR;
    }
    return SS_OK;
}

/* ---- factory methods -------------------------------------------------------- */

static void f_destroy(ss_stream_factory *base) {
    sq_factory *f = sq_of(base);
    /* Unflushed group-commit changes are rolled back, never half-kept: the
     * server flushes before it shuts down. */
    ss__sq_abandon(f);
    ss__sql_engine_release(&f->engine);
    ss__sq_finalize_all(f);
    sqlite3_close_v2(f->db); /* checkpoints the WAL when it is the last connection */
    ss__sq_unlock(f->lock_fd);
    ss_free(f);
}

static ss_rc f_flush(ss_stream_factory *base) { return ss__sq_flush(sq_of(base)); }

static const ss_stream_factory_methods sq_file_methods = {
    .version = 3,
    .name = "sqlite",
    .caps = SS_STORAGE_CAP_DURABLE,
    .open = ss__sql_open,
    .create = ss__sql_create,
    .fork = ss__sql_fork,
    .remove = ss__sql_remove,
    .schedule_expiry = NULL, /* the protocol's in-process timers, re-armed by for_each_expiry */
    .cancel_expiry = NULL,
    .destroy = f_destroy,
    .flush = f_flush,
    .for_each_expiry = ss__sql_for_each_expiry,
    .doc_put = ss__sql_doc_put,
    .doc_remove = ss__sql_doc_remove,
    .doc_for_each = ss__sql_doc_for_each,
    .for_each_stream = ss__sql_for_each_stream,
};

static const ss_stream_factory_methods sq_memory_methods = {
    .version = 3,
    .name = "sqlite",
    .caps = 0, /* ":memory:" dies with the process */
    .open = ss__sql_open,
    .create = ss__sql_create,
    .fork = ss__sql_fork,
    .remove = ss__sql_remove,
    .schedule_expiry = NULL,
    .cancel_expiry = NULL,
    .destroy = f_destroy,
    .flush = f_flush,
    .for_each_expiry = ss__sql_for_each_expiry,
    .doc_put = ss__sql_doc_put,
    .doc_remove = ss__sql_doc_remove,
    .doc_for_each = ss__sql_doc_for_each,
    .for_each_stream = ss__sql_for_each_stream,
};

sqlite3 *ss__sqlite_db(ss_stream_factory *f) {
    return f && (f->m == &sq_file_methods || f->m == &sq_memory_methods) ? sq_of(f)->db : NULL;
}

/* ---- open ------------------------------------------------------------------- */

/* Clear messages for the path mistakes SQLite would report as "unable to open". */
static ss_rc check_path(const char *path, char *err, size_t err_cap) {
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            ss__sq_errf(err, err_cap, "%s is a directory, not a database file", path);
            return SS_BADARG;
        }
        if (!S_ISREG(sb.st_mode)) {
            ss__sq_errf(err, err_cap, "%s is not a regular file", path);
            return SS_BADARG;
        }
        if (access(path, R_OK) != 0) {
            ss__sq_errf(err, err_cap, "cannot read database %s: %s", path, strerror(errno));
            return SS_IOERR;
        }
        if (access(path, W_OK) != 0) {
            ss__sq_errf(err, err_cap, "database %s is read-only (%s)", path, strerror(errno));
            return SS_IOERR;
        }
        return SS_OK;
    }
    if (errno != ENOENT) {
        ss__sq_errf(err, err_cap, "cannot access %s: %s", path, strerror(errno));
        return SS_IOERR;
    }
    char *copy = ss_strdup(path);
    if (!copy) {
        ss__sq_errf(err, err_cap, "out of memory");
        return SS_NOMEM;
    }
    const char *dir = dirname(copy);
    ss_rc rc = SS_OK;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT)
            ss__sq_errf(err, err_cap, "cannot create database %s: directory %s does not exist", path, dir);
        else
            ss__sq_errf(err, err_cap, "cannot create database %s: %s: %s", path, dir, strerror(errno));
        rc = errno == ENOENT ? SS_BADARG : SS_IOERR;
    } else if (!S_ISDIR(sb.st_mode)) {
        ss__sq_errf(err, err_cap, "cannot create database %s: %s is not a directory", path, dir);
        rc = SS_BADARG;
    }
    ss_free(copy);
    return rc;
}

ss_rc ss_sqlite_factory_open(const ss_sqlite_options *o, ss_stream_factory **out, char *err, size_t err_cap) {
    if (err && err_cap)
        err[0] = '\0';
    if (!o || !out || !o->path || !o->path[0]) {
        ss__sq_errf(err, err_cap, "no database path given (a file path or \":memory:\")");
        return SS_BADARG;
    }
    const char *path = o->path;
    bool file = strcmp(path, ":memory:") != 0;
    int lock_fd = -1;
    ss_rc rc;
    if (file && ((rc = check_path(path, err, err_cap)) || (rc = ss__sq_lock(path, &lock_fd, err, err_cap))))
        return rc;
    sq_factory *f = ss_calloc(1, sizeof *f);
    if (!f) {
        ss__sq_unlock(lock_fd);
        ss__sq_errf(err, err_cap, "out of memory");
        return SS_NOMEM;
    }
    ss__sql_engine_init(&f->engine, file ? &sq_file_methods : &sq_memory_methods, &f->conn, NULL);
    f->conn.m = &ss__sq_conn_methods;
    f->engine.log = o->log;
    f->engine.log_ctx = o->log_ctx;
    f->group_commit = o->group_commit;
    f->lock_fd = lock_fd;
    /* No URI parsing: the path is a plain file name. One thread per factory. */
    int src =
        sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        ss__sq_errf(err, err_cap, "cannot open database %s: %s", path,
                    f->db ? sqlite3_errmsg(f->db) : sqlite3_errstr(src));
        rc = ss__sq_rc(src) ? ss__sq_rc(src) : SS_IOERR;
        goto fail;
    }
    sqlite3_extended_result_codes(f->db, 1);
    sqlite3_busy_timeout(f->db, BUSY_TIMEOUT_MS);
    if ((rc = ss__sq_schema_open(f->db, path, file, err, err_cap)) || (rc = ss__sq_prepare_all(f, err, err_cap)) ||
        (rc =
             set_cache_size(f->db, o->cache_bytes ? o->cache_bytes : SS_SQLITE_DEFAULT_CACHE_BYTES, err, err_cap)))
        goto fail;
    *out = &f->engine.base;
    return SS_OK;
fail:
    ss__sq_finalize_all(f);
    sqlite3_close_v2(f->db);
    ss__sq_unlock(lock_fd);
    ss_free(f);
    return rc;
}
