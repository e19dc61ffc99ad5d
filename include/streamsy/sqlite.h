/* The SQLite storage factory: durable, embedded, one database file.
 *
 * A file database runs in WAL mode with synchronous=FULL: a commit that
 * returned (without group commit) or a flush that returned SS_OK (with group
 * commit) survives a crash or a power loss. The factory owns its file
 * exclusively: a second factory on the same file, by any path (a hard link
 * or symlink too), in this or another process, is refused at open (an flock
 * on the database file itself).
 * ":memory:" gives a private, non-durable database (no lock, no WAL).
 *
 * Group commit keeps one write transaction open across calls; every commit,
 * create, fork and delete is a savepoint inside it, visible to reads at once,
 * and ss_storage_flush() commits the whole batch with one sync. Destroying the
 * factory rolls back what was not flushed: flush before shutting down.
 *
 * Corruption found at run time (SS_CORRUPT from a read or write) stops
 * every later write of the factory with SS_CORRUPT: a damaged database is
 * not written further. Reads go on where they can.
 *
 * docs/sqlite.md describes the layout, durability and failure behaviour. */
#ifndef STREAMSY_SQLITE_H
#define STREAMSY_SQLITE_H

#include <stdbool.h>
#include <stddef.h>

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The schema version this build writes; a database with a newer one is refused. */
#define SS_SQLITE_SCHEMA_VERSION 3

typedef struct ss_sqlite_options {
    const char *path;      /* a file path, or ":memory:" */
    bool group_commit;     /* false (embedders): each call is its own durable
                              transaction; true (the server): commits are durable
                              after ss_storage_flush() */
    ss_storage_log_fn log; /* optional: the first I/O, full-disk and corruption
                              error of each kind, with SQLite's own message */
    void *log_ctx;
    size_t cache_bytes; /* SQLite's page cache (memory it may keep of the file);
                           0: SS_SQLITE_DEFAULT_CACHE_BYTES */
} ss_sqlite_options;

/* 64 MiB: reads of recent data come from memory rather than the file. */
#define SS_SQLITE_DEFAULT_CACHE_BYTES ((size_t)64 << 20)
/* The page size of a new database file. A message row of about 1 KiB fits
 * in one 8 KiB page of the clustered messages table (with 4 KiB pages it
 * spills into an overflow page, read separately). Existing files keep
 * theirs. */
#define SS_SQLITE_PAGE_SIZE 8192
#define SS_SQLITE_PAGE_SIZE_TEXT "8192"

/* Opens (creating if needed) and migrates the database at o->path. On failure
 * *out is untouched, nothing was written to the file, and `err` (when
 * err_cap > 0) receives one human line naming the path and the problem:
 *   SS_BADARG   no path, a missing directory, a directory or special file
 *   SS_IOERR    a read-only file, an unwritable directory, other I/O errors
 *   SS_CORRUPT  not a SQLite database, a corrupt one, or somebody else's
 *   SS_NOTSUP   a schema version newer than SS_SQLITE_SCHEMA_VERSION
 *   SS_BUSY     in use by another streamsy factory ("... (pid N)"), or
 *               locked by another program
 * Free the factory with ss_storage_factory_free(). */
SS_MUST_USE ss_rc ss_sqlite_factory_open(const ss_sqlite_options *o, ss_stream_factory **out, char *err,
                                         size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif
