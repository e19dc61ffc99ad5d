/* SQLite factory commit throughput, without HTTP: appends of 100-byte
 * messages through the storage wrappers, flushed every BATCH commits (the
 * server flushes once per loop turn, so BATCH ~ the appends of one turn).
 *
 * Built with the project (not run by the tests):
 *
 *   build/bench/sqlite_commit_bench [DIR] [SECONDS] [ROW-FILTER]
 *
 * DIR (default /tmp) should be on the disk you care about: the numbers are
 * dominated by its fsync latency. Each row runs for SECONDS (default 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/sqlite/sqlite_internal.h"
#include "streamsy/memory.h"
#include "streamsy/sqlite.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, ss_rc rc) {
    fprintf(stderr, "%s: %s\n", what, ss_rc_name(rc));
    exit(1);
}

static ss_offset off(uint64_t n) {
    char s[40];
    snprintf(s, sizeof s, "0000000000000000_%016llu", (unsigned long long)n);
    ss_offset o;
    if (ss_offset_set(&o, ss_slice_cstr(s)))
        abort(); /* 33 bytes: always fits */
    return o;
}

typedef struct row {
    const char *name;
    const char *kind; /* "memory", "sqlite-memory", "sqlite-file" */
    bool group_commit;
    const char *sync; /* "FULL" or "NORMAL" (files) */
    unsigned batch;   /* commits per flush */
    unsigned streams; /* round-robin over this many streams */
} row;

static void run(const row *r, const char *dir, double seconds) {
    char path[512];
    snprintf(path, sizeof path, "%s/streamsy-bench-%d.db", dir, (int)getpid());
    ss_stream_factory *f = NULL;
    char err[256];
    ss_rc rc;
    if (strcmp(r->kind, "memory") == 0)
        rc = ss_memory_factory_new(NULL, &f);
    else
        rc =
            ss_sqlite_factory_open(&(ss_sqlite_options){.path = strcmp(r->kind, "sqlite-file") ? ":memory:" : path,
                                                        .group_commit = r->group_commit},
                                   &f, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", r->name, err);
        exit(1);
    }
    const char *extra = getenv("BENCH_PRAGMAS"); /* e.g. "PRAGMA wal_autocheckpoint = 10000" */
    if (extra && ss__sqlite_db(f))
        sqlite3_exec(ss__sqlite_db(f), extra, NULL, NULL, NULL);
    if (r->sync && ss__sqlite_db(f)) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA synchronous = %s", r->sync);
        sqlite3_exec(ss__sqlite_db(f), sql, NULL, NULL, NULL);
    }
    unsigned n = r->streams;
    ss_storage_stream **h = calloc(n, sizeof *h);
    uint64_t *tail = calloc(n, sizeof *tail);
    ss_arena a;
    ss_arena_init(&a);
    for (unsigned i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "stream-%u", i);
        ss_record rec = {.id = ss_slice_cstr(id), .content_type = ss_slice_cstr("text/plain"), .tail = off(0)};
        ss_create_outcome o;
        if ((rc = ss_storage_create(f, &(ss_create_plan){.record = rec}, &a, &o)))
            die("create", rc);
        if ((rc = ss_storage_open(f, ss_slice_cstr(id), &h[i])))
            die("open", rc);
    }
    if ((rc = ss_storage_flush(f)))
        die("flush", rc);
    char data[100];
    memset(data, 'x', sizeof data);
    uint64_t commits = 0, flushes = 0;
    double start = now_s(), end = start + seconds, t = start;
    while (t < end) {
        for (unsigned b = 0; b < r->batch; b++, commits++) {
            unsigned i = (unsigned)(commits % n);
            ss_message m = {ss_slice_of(data, sizeof data), off(tail[i] + 1), 0};
            ss_mutation_plan p = {
                .has_expected_tail = true, .expected_tail = off(tail[i]), .msgs = &m, .n_msgs = 1};
            p.patch.set = SS_PATCH_TAIL | SS_PATCH_COUNTER;
            p.patch.tail = m.offset;
            p.patch.counter = tail[i] + 1;
            ss_commit_outcome o;
            if ((rc = ss_storage_commit(h[i], &p, &a, &o)))
                die("commit", rc);
            if (o.status != SS_COMMIT_COMMITTED)
                die("commit status", SS_MISUSE);
            tail[i]++;
            if (a.total > (1u << 20))
                ss_arena_release(&a);
        }
        if ((rc = ss_storage_flush(f)))
            die("flush", rc);
        flushes++;
        t = now_s();
    }
    double el = t - start;
    printf("| %-44s | %10.0f | %8.0f |\n", r->name, (double)commits / el, (double)flushes / el);
    fflush(stdout);
    for (unsigned i = 0; i < n; i++)
        ss_storage_close(h[i]);
    ss_storage_factory_free(f);
    ss_arena_release(&a);
    free(h);
    free(tail);
    const char *suffix[] = {"", "-wal", "-shm", "-lock"};
    for (int i = 0; i < 4; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    static const row rows[] = {
        {"memory, 1 stream", "memory", false, NULL, 64, 1},
        {"sqlite :memory:, 1 stream, batch 64", "sqlite-memory", true, NULL, 64, 1},
        {"file, no group commit (FULL), 1 stream", "sqlite-file", false, "FULL", 1, 1},
        {"file, no group commit (NORMAL), 1 stream", "sqlite-file", false, "NORMAL", 1, 1},
        {"file, group FULL, batch 1, 1 stream", "sqlite-file", true, "FULL", 1, 1},
        {"file, group FULL, batch 16, 1 stream", "sqlite-file", true, "FULL", 16, 1},
        {"file, group FULL, batch 64, 1 stream", "sqlite-file", true, "FULL", 64, 1},
        {"file, group FULL, batch 256, 1 stream", "sqlite-file", true, "FULL", 256, 1},
        {"file, group NORMAL, batch 64, 1 stream", "sqlite-file", true, "NORMAL", 64, 1},
        {"file, group FULL, batch 64, 1000 streams", "sqlite-file", true, "FULL", 64, 1000},
        {"file, group NORMAL, batch 64, 1000 streams", "sqlite-file", true, "NORMAL", 64, 1000},
    };
    const char *only = argc > 3 ? argv[3] : NULL; /* run only rows whose name contains this */
    printf("| %-44s | %10s | %8s |\n|---|---:|---:|\n", "row (100-byte appends)", "appends/s", "syncs/s");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (!only || strstr(rows[i].name, only))
            run(&rows[i], dir, seconds);
    return 0;
}
