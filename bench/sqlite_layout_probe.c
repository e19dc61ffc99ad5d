/* A probe of SQLite alone (no Streamsy code): what do 100-byte appends cost
 * when a transaction of 64 touches one stream versus 64 of 1,000 streams,
 * for three table layouts? It answers whether the SQLite adapter's
 * many-streams gap (issue 8, goal 4) is ours or SQLite's.
 *
 *   clustered   messages WITHOUT ROWID, PRIMARY KEY (stream_id, offset), plus an
 *               UPDATE of the stream's record row per append (the adapter's layout)
 *   clustered-norec  the same without the record UPDATE
 *   log         messages in a rowid table (appended in arrival order) with an
 *               index on (stream_id, offset), plus the record UPDATE
 *
 *   build/bench/sqlite_layout_probe [DIR] [SECONDS]
 *
 * 8 KiB pages, WAL, synchronous=NORMAL (no fsync per commit: the difference
 * is SQLite's page work, not the disk), 64 appends per transaction. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(sqlite3 *db, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

typedef enum layout { CLUSTERED, CLUSTERED_NOREC, LOG } layout;
static const char *const layout_names[] = {"clustered (the adapter's)", "clustered, no record update",
                                           "log table + index"};

static double run(layout l, unsigned streams, const char *dir, double seconds, double *kb_per_append) {
    char path[512];
    snprintf(path, sizeof path, "%s/streamsy-layout-probe-%d.db", dir, (int)getpid());
    unlink(path);
    sqlite3 *db;
    check(NULL, sqlite3_open(path, &db), "open");
    check(db,
          sqlite3_exec(db,
                       "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                       "PRAGMA wal_autocheckpoint = 8192; PRAGMA cache_size = -65536;",
                       NULL, NULL, NULL),
          "pragmas");
    const char *schema = l == LOG
                             ? "CREATE TABLE streams (id TEXT PRIMARY KEY, tail TEXT, n INTEGER) WITHOUT ROWID;"
                               "CREATE TABLE messages (stream_id TEXT, off TEXT, ts INTEGER, data BLOB);"
                               "CREATE INDEX messages_by_stream ON messages (stream_id, off);"
                             : "CREATE TABLE streams (id TEXT PRIMARY KEY, tail TEXT, n INTEGER) WITHOUT ROWID;"
                               "CREATE TABLE messages (stream_id TEXT, off TEXT, ts INTEGER, data BLOB,"
                               "  PRIMARY KEY (stream_id, off)) WITHOUT ROWID;";
    check(db, sqlite3_exec(db, schema, NULL, NULL, NULL), "schema");
    sqlite3_stmt *ins, *upd, *add;
    check(db, sqlite3_prepare_v2(db, "INSERT INTO streams VALUES (?1, '', 0)", -1, &add, NULL), "prepare");
    check(db, sqlite3_prepare_v2(db, "INSERT INTO messages VALUES (?1, ?2, 0, ?3)", -1, &ins, NULL), "prepare");
    check(db, sqlite3_prepare_v2(db, "UPDATE streams SET tail = ?2, n = n + 1 WHERE id = ?1", -1, &upd, NULL),
          "prepare");
    char id[32], off[40], data[100];
    memset(data, 'a', sizeof data);
    check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
    for (unsigned i = 0; i < streams; i++) {
        snprintf(id, sizeof id, "stream-%u", i);
        sqlite3_bind_text(add, 1, id, -1, SQLITE_TRANSIENT);
        check(db, sqlite3_step(add), "add");
        sqlite3_reset(add);
    }
    check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    unsigned long long appends = 0, *counter = calloc(streams, sizeof *counter);
    double t0 = now_s(), el;
    while ((el = now_s() - t0) < seconds) {
        check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
        for (int k = 0; k < 64; k++, appends++) {
            unsigned s = (unsigned)(appends % streams);
            snprintf(id, sizeof id, "stream-%u", s);
            snprintf(off, sizeof off, "0000000000000000_%016llu", ++counter[s]);
            sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, off, -1, SQLITE_TRANSIENT);
            sqlite3_bind_blob(ins, 3, data, sizeof data, SQLITE_STATIC);
            check(db, sqlite3_step(ins), "insert");
            sqlite3_reset(ins);
            if (l != CLUSTERED_NOREC) {
                sqlite3_bind_text(upd, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(upd, 2, off, -1, SQLITE_TRANSIENT);
                check(db, sqlite3_step(upd), "update");
                sqlite3_reset(upd);
            }
        }
        check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    }
    /* Pages the connection wrote out (to the WAL), in 8 KiB pages. */
    int cur = 0, hi = 0;
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 0);
    *kb_per_append = (double)cur * 8.0 / (double)appends;
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    sqlite3_finalize(add);
    sqlite3_close(db);
    free(counter);
    unlink(path);
    char p2[600];
    snprintf(p2, sizeof p2, "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof p2, "%s-shm", path);
    unlink(p2);
    return (double)appends / el;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    printf("| layout (SQLite alone, 64 appends per transaction) | 1 stream | 1,000 streams | ratio | KB written "
           "per append (1 / 1,000) |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (layout l = CLUSTERED; l <= LOG; l++) {
        double kb1, kb1000;
        double one = run(l, 1, dir, seconds, &kb1), many = run(l, 1000, dir, seconds, &kb1000);
        printf("| %s | %.0f/s | %.0f/s | %.2fx | %.2f / %.2f |\n", layout_names[l], one, many, many / one, kb1,
               kb1000);
        fflush(stdout);
    }
    return 0;
}
