/* A Durable Object SQL host for native tests: ss_do_host over a private
 * SQLite database that refuses what Durable Object SQL refuses.
 *
 * Durable Object storage is SQLite behind ctx.storage.sql.exec. This host
 * keeps its rules: BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE and PRAGMA
 * statements are refused (SS_NOTSUP, like "not authorized"), integers beyond
 * +-2^53 are refused as arguments (JavaScript numbers), several statements
 * may be run in one exec, and transaction() nests (savepoints underneath, as
 * transactionSync does). A counter lets a test fail the Nth statement. */
#ifndef STREAMSY_TEST_DO_SQLITE_HOST_H
#define STREAMSY_TEST_DO_SQLITE_HOST_H

#include <sqlite3.h>

#include "streamsy/durable_object.h"

typedef struct do_sqlite_host {
    sqlite3 *db;
    int depth;    /* open transactions */
    bool in_ctl;  /* our own savepoint statements are running */
    long fail_at; /* > 0: the exec with this number fails with SS_IOERR */
    long execs;   /* execs so far */
    ss_do_host host;
} do_sqlite_host;

/* path: a file, or ":memory:". Returns false when SQLite cannot open it. */
bool do_sqlite_host_open(do_sqlite_host *h, const char *path);
void do_sqlite_host_close(do_sqlite_host *h);

#endif
