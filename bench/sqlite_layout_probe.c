/* A probe of SQLite alone (no Streamsy code): what do 100-byte appends cost
 * when a transaction of 64 touches one stream versus 64 of 1,000 streams,
 * for five table layouts? It answers whether the SQLite adapter's
 * many-streams gap (issue 8, goal 4) is ours or SQLite's, and what a layout
 * that shares pages across streams would reach.
 *
 *   clustered   messages WITHOUT ROWID, PRIMARY KEY (stream_id, offset), plus an
 *               UPDATE of the stream's record row per append (the adapter's layout)
 *   clustered-norec  the same without the record UPDATE
 *   log         messages in a rowid table (appended in arrival order) with an
 *               index on (stream_id, offset), plus the record UPDATE
 *   log-noindex the rowid table without the index (a reader would find the
 *               rows through an index kept in memory), plus the record UPDATE
 *   log-fold    log-noindex, and every 16,384 rows the oldest are moved into the
 *               clustered table in one transaction (INSERT ... SELECT ordered by
 *               stream, then DELETE): the write cost of keeping reads clustered
 *
 * The record rows carry 120 bytes of other columns, about the width of the
 * adapter's streamsy_streams rows.
 *
 *   chunked     the log without index, and once a stream has 64 rows there they
 *               are copied into one row of a clustered chunk table (stream_id,
 *               last offset); the log's compacted prefix is cut every 64
 *               transactions (a stream whose oldest row falls 65,536 rows behind
 *               is compacted early)
 *
 * Each row also reports its longest transaction (a fold is one; a commit
 * that runs a WAL checkpoint includes it).
 *
 * Then the read side: one whole stream read from the clustered table, from a
 * chained log, and from chunk rows (see read_probe).
 *
 *   build/bench/bench-sqlite-layout-probe [DIR] [SECONDS]
 *
 * 8 KiB pages, WAL, synchronous=NORMAL (no fsync per commit: the difference
 * is SQLite's page work, not the disk), 64 appends per transaction. */
#include <sqlite3.h>
#include <stdint.h>
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

typedef enum layout { CLUSTERED, CLUSTERED_NOREC, LOG, LOG_NOINDEX, LOG_FOLD } layout;
#define FOLD_ROWS 16384
static const char *const layout_names[] = {"clustered (the adapter's)", "clustered, no record update",
                                           "log table + index", "log table, no index",
                                           "log table, folded into clustered every 16,384 rows"};

/* A fresh database file dir/streamsy-layout-probe-<tag>-<pid>.db (its name
 * in path): 8 KiB pages, WAL, synchronous=NORMAL, a page cache of cache_kib. */
static sqlite3 *open_probe_db(const char *dir, const char *tag, int cache_kib, char path[static 512]) {
    snprintf(path, 512, "%s/streamsy-layout-probe-%s-%d.db", dir, tag, (int)getpid());
    unlink(path);
    sqlite3 *db;
    check(NULL, sqlite3_open(path, &db), "open");
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
             "PRAGMA cache_size = -%d;",
             cache_kib);
    check(db, sqlite3_exec(db, pragmas, NULL, NULL, NULL), "pragmas");
    return db;
}

/* Closes db and removes its file, WAL and shared-memory file. */
static void remove_probe_db(sqlite3 *db, const char *path) {
    sqlite3_close(db);
    char p[600];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* One append of the round-robin load, stepped (the caller reads what the
 * statement returns, then resets it): append number `appends` goes to
 * stream appends % streams at its next offset; id and off (32 and 40
 * bytes) are left holding them. Returns the stream's number. */
static unsigned step_append(sqlite3 *db, sqlite3_stmt *ins, unsigned long long appends, unsigned streams,
                            unsigned long long *counter, char id[static 32], char off[static 40],
                            const char data[static 100]) {
    unsigned s = (unsigned)(appends % streams);
    snprintf(id, 32, "stream-%u", s);
    snprintf(off, 40, "0000000000000000_%016llu", ++counter[s]);
    sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, off, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 3, data, 100, SQLITE_STATIC);
    check(db, sqlite3_step(ins), "insert");
    return s;
}

/* Opens the database of an append run: checkpoints every 8,192 pages, the
 * streams table, and `streams` record rows as wide as the adapter's. */
static sqlite3 *open_append_db(const char *dir, unsigned streams, const char *schema, char path[static 512]) {
    sqlite3 *db = open_probe_db(dir, "append", 65536, path);
    check(db, sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 8192;", NULL, NULL, NULL), "pragmas");
    check(db,
          sqlite3_exec(
              db, "CREATE TABLE streams (id TEXT PRIMARY KEY, tail TEXT, n INTEGER, other TEXT) WITHOUT ROWID;",
              NULL, NULL, NULL),
          "schema");
    check(db, sqlite3_exec(db, schema, NULL, NULL, NULL), "schema");
    sqlite3_stmt *add;
    check(db,
          sqlite3_prepare_v2(db, "INSERT INTO streams VALUES (?1, '', 0, printf('%.120c', 'x'))", -1, &add, NULL),
          "prepare");
    char id[32];
    check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
    for (unsigned i = 0; i < streams; i++) {
        snprintf(id, sizeof id, "stream-%u", i);
        sqlite3_bind_text(add, 1, id, -1, SQLITE_TRANSIENT);
        check(db, sqlite3_step(add), "add");
        sqlite3_reset(add);
    }
    check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    sqlite3_finalize(add);
    return db;
}

static double run(layout l, unsigned streams, const char *dir, double seconds, double *kb_per_append,
                  double *max_txn_ms) {
    const char *clustered = "CREATE TABLE messages (stream_id TEXT, off TEXT, ts INTEGER, data BLOB,"
                            "  PRIMARY KEY (stream_id, off)) WITHOUT ROWID;";
    const char *log =
        "CREATE TABLE log (seq INTEGER PRIMARY KEY, stream_id TEXT, off TEXT, ts INTEGER, data BLOB);";
    char schema[512];
    snprintf(schema, sizeof schema, "%s%s",
             l == CLUSTERED || l == CLUSTERED_NOREC || l == LOG_FOLD ? clustered : "",
             l == LOG ? "CREATE TABLE log (seq INTEGER PRIMARY KEY, stream_id TEXT, off TEXT, ts INTEGER,"
                        "  data BLOB); CREATE INDEX log_by_stream ON log (stream_id, off);"
             : l >= LOG_NOINDEX ? log
                                : "");
    char path[512];
    sqlite3 *db = open_append_db(dir, streams, schema, path);
    sqlite3_stmt *ins, *upd;
    check(db,
          sqlite3_prepare_v2(db,
                             l >= LOG ? "INSERT INTO log (stream_id, off, ts, data) VALUES (?1, ?2, 0, ?3)"
                                      : "INSERT INTO messages VALUES (?1, ?2, 0, ?3)",
                             -1, &ins, NULL),
          "prepare");
    check(db, sqlite3_prepare_v2(db, "UPDATE streams SET tail = ?2, n = n + 1 WHERE id = ?1", -1, &upd, NULL),
          "prepare");
    char id[32], off[40], data[100];
    memset(data, 'a', sizeof data);
    unsigned long long appends = 0, *counter = calloc(streams, sizeof *counter);
    double t0 = now_s(), el;
    while ((el = now_s() - t0) < seconds) {
        double x0 = now_s();
        check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
        for (int k = 0; k < 64; k++, appends++) {
            step_append(db, ins, appends, streams, counter, id, off, data);
            sqlite3_reset(ins);
            if (l != CLUSTERED_NOREC) {
                sqlite3_bind_text(upd, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(upd, 2, off, -1, SQLITE_TRANSIENT);
                check(db, sqlite3_step(upd), "update");
                sqlite3_reset(upd);
            }
        }
        check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
        double ms = (now_s() - x0) * 1e3;
        if (ms > *max_txn_ms)
            *max_txn_ms = ms;
        if (l == LOG_FOLD && appends % FOLD_ROWS == 0) {
            double f0 = now_s();
            check(db,
                  sqlite3_exec(db,
                               "BEGIN; INSERT INTO messages SELECT stream_id, off, ts, data FROM log"
                               "  ORDER BY stream_id, off; DELETE FROM log; COMMIT;",
                               NULL, NULL, NULL),
                  "fold");
            ms = (now_s() - f0) * 1e3;
            if (ms > *max_txn_ms)
                *max_txn_ms = ms;
        }
    }
    /* Pages the connection wrote out (to the WAL), in 8 KiB pages. */
    int cur = 0, hi = 0;
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 0);
    *kb_per_append = (double)cur * 8.0 / (double)appends;
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    remove_probe_db(db, path);
    free(counter);
    return (double)appends / el;
}

/* ---- the chunked layout: a log, compacted per stream into chunk rows ---------------------- */

#define CHUNK 64         /* messages per chunk row */
#define LOG_WINDOW 65536 /* a stream whose oldest log row is this far behind is compacted early */

typedef struct pending {
    long long seq[CHUNK];
    int n;
} pending;

/* Appends one message to a chunk body: offset length, offset, timestamp, data length, data. */
static size_t chunk_put(unsigned char *b, size_t at, const char *off, int64_t ts, const void *data, uint32_t len) {
    size_t ol = strlen(off);
    b[at++] = (unsigned char)ol;
    memcpy(b + at, off, ol), at += ol;
    memcpy(b + at, &ts, sizeof ts), at += sizeof ts;
    memcpy(b + at, &len, sizeof len), at += sizeof len;
    memcpy(b + at, data, len);
    return at + len;
}

/* Moves a stream's pending log rows into one chunk row (the log rows stay
 * until the log's prefix is cut). */
static void compact(sqlite3 *db, sqlite3_stmt *get, sqlite3_stmt *put, const char *id, pending *pd) {
    static unsigned char body[CHUNK * 400];
    size_t at = 0;
    char last[64] = "";
    for (int i = 0; i < pd->n; i++) {
        sqlite3_bind_int64(get, 1, pd->seq[i]);
        check(db, sqlite3_step(get), "chunk read");
        const char *off = (const char *)sqlite3_column_text(get, 0);
        snprintf(last, sizeof last, "%s", off);
        at = chunk_put(body, at, off, sqlite3_column_int64(get, 1), sqlite3_column_blob(get, 2),
                       (uint32_t)sqlite3_column_bytes(get, 2));
        sqlite3_reset(get);
    }
    sqlite3_bind_text(put, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(put, 2, last, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(put, 3, body, (int)at, SQLITE_STATIC);
    check(db, sqlite3_step(put), "chunk write");
    sqlite3_reset(put);
    pd->n = 0;
}

static const char chunked_schema[] =
    "CREATE TABLE log (seq INTEGER PRIMARY KEY, stream_id TEXT, off TEXT, ts INTEGER, data BLOB);"
    "CREATE TABLE chunks (stream_id TEXT, last_off TEXT, body BLOB, PRIMARY KEY (stream_id, last_off))"
    "  WITHOUT ROWID;";

/* Appends to the log (and the record), compacts a stream once it has CHUNK
 * rows in the log (or its oldest is LOG_WINDOW rows behind), and cuts the
 * log's compacted prefix every 64 transactions. */
static double run_chunked(unsigned streams, const char *dir, double seconds, double *kb_per_append,
                          double *max_txn_ms) {
    char path[512];
    sqlite3 *db = open_append_db(dir, streams, chunked_schema, path);
    sqlite3_stmt *ins, *upd, *get, *put, *cut;
    check(db,
          sqlite3_prepare_v2(db, "INSERT INTO log (stream_id, off, ts, data) VALUES (?1, ?2, 0, ?3) RETURNING seq",
                             -1, &ins, NULL),
          "prepare");
    check(db, sqlite3_prepare_v2(db, "UPDATE streams SET tail = ?2, n = n + 1 WHERE id = ?1", -1, &upd, NULL),
          "prepare");
    check(db, sqlite3_prepare_v2(db, "SELECT off, ts, data FROM log WHERE seq = ?1", -1, &get, NULL), "prepare");
    check(db, sqlite3_prepare_v2(db, "INSERT INTO chunks VALUES (?1, ?2, ?3)", -1, &put, NULL), "prepare");
    check(db, sqlite3_prepare_v2(db, "DELETE FROM log WHERE seq < ?1", -1, &cut, NULL), "prepare");
    char id[32], off[40], data[100];
    memset(data, 'a', sizeof data);
    unsigned long long appends = 0, txns = 0, *counter = calloc(streams, sizeof *counter);
    pending *pd = calloc(streams, sizeof *pd);
    long long head = 0;
    double t0 = now_s(), el;
    while ((el = now_s() - t0) < seconds) {
        double x0 = now_s();
        check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
        for (int k = 0; k < 64; k++, appends++) {
            unsigned s = step_append(db, ins, appends, streams, counter, id, off, data);
            head = sqlite3_column_int64(ins, 0);
            sqlite3_reset(ins);
            sqlite3_bind_text(upd, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(upd, 2, off, -1, SQLITE_TRANSIENT);
            check(db, sqlite3_step(upd), "update");
            sqlite3_reset(upd);
            pd[s].seq[pd[s].n++] = head;
            if (pd[s].n == CHUNK)
                compact(db, get, put, id, &pd[s]);
        }
        if (++txns % 64 == 0) {
            long long low = head + 1;
            for (unsigned s = 0; s < streams; s++) {
                if (pd[s].n && pd[s].seq[0] < head - LOG_WINDOW) {
                    snprintf(id, sizeof id, "stream-%u", s);
                    compact(db, get, put, id, &pd[s]);
                }
                if (pd[s].n && pd[s].seq[0] < low)
                    low = pd[s].seq[0];
            }
            sqlite3_bind_int64(cut, 1, low);
            check(db, sqlite3_step(cut), "cut");
            sqlite3_reset(cut);
        }
        check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
        double ms = (now_s() - x0) * 1e3;
        if (ms > *max_txn_ms)
            *max_txn_ms = ms;
    }
    int cur = 0, hi = 0;
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 0);
    *kb_per_append = (double)cur * 8.0 / (double)appends;
    sqlite3_stmt *all[] = {ins, upd, get, put, cut};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(all[i]);
    remove_probe_db(db, path);
    free(counter);
    free(pd);
    return (double)appends / el;
}

/* The read side of a chained log: 1,000 streams of 1,024 messages of 100
 * bytes, interleaved, stored twice: clustered (stream_id, offset) and as a
 * log whose rows name their stream's previous row. Reading one whole stream
 * is a range scan in the first and, in the second, a walk of the chain from
 * the stream's last row (one recursive statement, a row lookup per message;
 * the rows come out newest first, as a reader walking a chunk back would
 * take them). Prints messages read per second for both. */
static void read_probe(const char *dir, double seconds) {
    enum { STREAMS = 1000, PER_STREAM = 1024 };
    char path[512];
    sqlite3 *db = open_probe_db(dir, "read", 262144, path);
    check(
        db,
        sqlite3_exec(db,
                     "CREATE TABLE messages (stream_id TEXT, off TEXT, ts INTEGER, data BLOB,"
                     "  PRIMARY KEY (stream_id, off)) WITHOUT ROWID;"
                     "CREATE TABLE log (seq INTEGER PRIMARY KEY, stream_id TEXT, off TEXT, ts INTEGER, data BLOB,"
                     "  prev INTEGER);"
                     "CREATE TABLE chunks (stream_id TEXT, last_off TEXT, body BLOB,"
                     "  PRIMARY KEY (stream_id, last_off)) WITHOUT ROWID;",
                     NULL, NULL, NULL),
        "schema");
    sqlite3_stmt *ins, *lg;
    check(db, sqlite3_prepare_v2(db, "INSERT INTO messages VALUES (?1, ?2, 0, ?3)", -1, &ins, NULL), "prepare");
    check(db, sqlite3_prepare_v2(db, "INSERT INTO log VALUES (?4, ?1, ?2, 0, ?3, ?5)", -1, &lg, NULL), "prepare");
    char id[32], off[40], data[100];
    memset(data, 'a', sizeof data);
    check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
    long long seq = 0;
    for (int m = 0; m < PER_STREAM; m++)
        for (int st = 0; st < STREAMS; st++) {
            snprintf(id, sizeof id, "stream-%d", st);
            snprintf(off, sizeof off, "0000000000000000_%016d", m + 1);
            seq++;
            for (int t = 0; t < 2; t++) {
                sqlite3_stmt *x = t ? lg : ins;
                sqlite3_bind_text(x, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(x, 2, off, -1, SQLITE_TRANSIENT);
                sqlite3_bind_blob(x, 3, data, sizeof data, SQLITE_STATIC);
                if (t) {
                    sqlite3_bind_int64(x, 4, seq);
                    if (m)
                        sqlite3_bind_int64(x, 5, seq - STREAMS);
                    else
                        sqlite3_bind_null(x, 5);
                }
                check(db, sqlite3_step(x), "insert");
                sqlite3_reset(x);
            }
        }
    /* The same messages as chunk rows of CHUNK. */
    sqlite3_stmt *put;
    check(db, sqlite3_prepare_v2(db, "INSERT INTO chunks VALUES (?1, ?2, ?3)", -1, &put, NULL), "prepare");
    static unsigned char body[CHUNK * 400];
    for (int st = 0; st < STREAMS; st++) {
        snprintf(id, sizeof id, "stream-%d", st);
        for (int c = 0; c < PER_STREAM / CHUNK; c++) {
            size_t at = 0;
            for (int m = c * CHUNK; m < (c + 1) * CHUNK; m++) {
                snprintf(off, sizeof off, "0000000000000000_%016d", m + 1);
                at = chunk_put(body, at, off, 0, data, sizeof data);
            }
            sqlite3_bind_text(put, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(put, 2, off, -1, SQLITE_TRANSIENT);
            sqlite3_bind_blob(put, 3, body, (int)at, SQLITE_STATIC);
            check(db, sqlite3_step(put), "chunk");
            sqlite3_reset(put);
        }
    }
    check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    sqlite3_finalize(put);
    sqlite3_finalize(ins);
    sqlite3_finalize(lg);
    const char *sql[3] = {"SELECT off, ts, data FROM messages WHERE stream_id = ?1 AND off > '' ORDER BY off",
                          "WITH RECURSIVE chain(s) AS (SELECT ?2 UNION ALL SELECT prev FROM log, chain WHERE seq "
                          "= s AND prev IS NOT NULL)"
                          "  SELECT off, ts, data FROM chain, log WHERE seq = s",
                          "SELECT body FROM chunks WHERE stream_id = ?1 AND last_off > '' ORDER BY last_off"};
    const char *names[3] = {"clustered: range scan", "chained log: walk from the last row",
                            "chunk rows: range scan, each chunk decoded"};
    printf("\n| read one whole stream (1,024 of 100 B, among 1,000 streams, pages cached) | messages/s |\n");
    printf("|---|---:|\n");
    for (int k = 0; k < 3; k++) {
        sqlite3_stmt *q;
        check(db, sqlite3_prepare_v2(db, sql[k], -1, &q, NULL), "prepare");
        unsigned long long rows = 0, bytes = 0;
        double t0 = now_s(), el;
        int st = 0;
        while ((el = now_s() - t0) < seconds) {
            snprintf(id, sizeof id, "stream-%d", st);
            sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, 2, seq - STREAMS + 1 + st);
            while (sqlite3_step(q) == SQLITE_ROW) {
                if (k < 2) {
                    rows++;
                    bytes += (unsigned long long)sqlite3_column_bytes(q, 2);
                    continue;
                }
                const unsigned char *b = sqlite3_column_blob(q, 0);
                size_t n = (size_t)sqlite3_column_bytes(q, 0);
                for (size_t at = 0; at < n; rows++) { /* offset, timestamp, length, data */
                    uint32_t len;
                    at += 1 + b[at] + sizeof(int64_t);
                    memcpy(&len, b + at, sizeof len);
                    at += sizeof len + len;
                    bytes += len;
                }
            }
            sqlite3_reset(q);
            st = (st + 1) % STREAMS;
        }
        if (bytes != rows * sizeof data) {
            fprintf(stderr, "read probe: %llu rows but %llu bytes\n", rows, bytes);
            exit(1);
        }
        printf("| %s | %.0f |\n", names[k], (double)rows / el);
        sqlite3_finalize(q);
    }
    remove_probe_db(db, path);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    printf("| layout (SQLite alone, 64 appends per transaction) | 1 stream | 1,000 streams | ratio | KB written "
           "per append (1 / 1,000) | longest transaction (1 / 1,000) |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (layout l = CLUSTERED; l <= LOG_FOLD; l++) {
        double kb1, kb1000, txn1 = 0, txn1000 = 0;
        double one = run(l, 1, dir, seconds, &kb1, &txn1), many = run(l, 1000, dir, seconds, &kb1000, &txn1000);
        printf("| %s | %.0f/s | %.0f/s | %.2fx | %.2f / %.2f | %.1f / %.1f ms |\n", layout_names[l], one, many,
               many / one, kb1, kb1000, txn1, txn1000);
        fflush(stdout);
    }
    double kb1, kb1000, txn1 = 0, txn1000 = 0;
    double one = run_chunked(1, dir, seconds, &kb1, &txn1),
           many = run_chunked(1000, dir, seconds, &kb1000, &txn1000);
    printf("| log table, compacted per stream into chunk rows of %d | %.0f/s | %.0f/s | %.2fx | "
           "%.2f / %.2f | %.1f / %.1f ms |\n",
           CHUNK, one, many, many / one, kb1, kb1000, txn1, txn1000);
    read_probe(dir, seconds);
    return 0;
}
