/* The SQLite storage factory: durable, embedded, one database file.
 *
 * A file database runs in WAL mode with synchronous=FULL: a commit that
 * returned (without group commit) or a flush that returned SS_OK (with group
 * commit) survives a crash or a power loss. The factory owns its file
 * exclusively: a second factory on the same path, in this or another
 * process, is refused at open (an flock on the sidecar file PATH-lock).
 * ":memory:" gives a private, non-durable database (no lock, no WAL).
 *
 * Group commit keeps one write transaction open across calls; every commit,
 * create, fork and delete is a savepoint inside it, visible to reads at once,
 * and ss_storage_flush() commits the whole batch with one sync. Destroying the
 * factory rolls back what was not flushed: flush before shutting down.
 *
 * docs/sqlite.md describes the layout, durability and failure behaviour. */
#ifndef STREAMSY_SQLITE_H
#define STREAMSY_SQLITE_H

#include <stdbool.h>
#include <stddef.h>

#include "storage.h"

/* The schema version this build writes; a database with a newer one is refused. */
#define SS_SQLITE_SCHEMA_VERSION 1

typedef struct ss_sqlite_options {
    const char *path;  /* a file path, or ":memory:" */
    bool group_commit; /* false (embedders): each call is its own durable
                          transaction; true (the server): commits are durable
                          after ss_storage_flush() */
} ss_sqlite_options;

/* Opens (creating if needed) and migrates the database at o->path. On failure
 * *out is untouched and `err` (when err_cap > 0) receives one human line:
 * a missing directory, a read-only file, not a database, a corrupt file, a
 * schema newer than this build, or a database in use by another process.
 * SS_BADARG for bad options or paths, SS_BUSY when the database is in use,
 * SS_CORRUPT for a file that is not a (valid, streamsy) database, SS_IOERR
 * otherwise. Free the factory with ss_storage_factory_free(). */
ss_rc ss_sqlite_factory_open(const ss_sqlite_options *o, ss_stream_factory **out, char *err, size_t err_cap);

#endif
