/* The SQLite storage factory beyond the contract suite: persistence across
 * reopen, group commit and flush, migrations and refusals, exclusive
 * ownership across processes, and full disks (SQLITE_FULL at a statement
 * and at COMMIT). Every test works in its own temporary directory, removed
 * when the test's process exits. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/sqlite/sqlite_internal.h"
#include "streamsy/sqlite.h"
#include "streamsy/storage.h"

/* Rows holding messages: stored rows and log rows (one per message while
 * fewer than SS_SQL_CHUNK_MESSAGES were appended to a stream: nothing packed). */
#define MESSAGE_ROWS_SQL "SELECT (SELECT count(*) FROM streamsy_messages) + (SELECT count(*) FROM streamsy_log)"

#define T0 1767225600000 /* 2026-01-01T00:00:00Z */

/* ---- temporary directory ----------------------------------------------------- */

static char tmp_dir[64];

static void remove_tmp_dir(void) {
    if (!tmp_dir[0])
        return;
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *de;
        char path[512];
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", tmp_dir, de->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(tmp_dir);
}

/* "<tmp dir>/<name>", creating the directory on first use. */
static const char *tmp_path(const char *name) {
    static char path[8][192];
    static unsigned next;
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/streamsy-sqlite-XXXXXX");
        cr_assert_not_null(mkdtemp(tmp_dir));
        atexit(remove_tmp_dir);
    }
    char *p = path[next++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", tmp_dir, name);
    return p;
}

/* ---- helpers ------------------------------------------------------------------ */

static ss_slice S(const char *s) { return ss_slice_cstr(s); }

static ss_offset off(unsigned n) {
    char s[40];
    snprintf(s, sizeof s, "0000000000000000_%016u", n);
    ss_offset o;
    cr_assert_eq(ss_offset_set(&o, S(s)), SS_OK);
    return o;
}

static ss_stream_factory *open_db(const char *path, bool group_commit) {
    ss_stream_factory *f = NULL;
    char err[256] = "";
    ss_rc rc = ss_sqlite_factory_open(&(ss_sqlite_options){.path = path, .group_commit = group_commit}, &f, err,
                                      sizeof err);
    cr_assert_eq(rc, SS_OK, "open %s: %s (%s)", path, ss_rc_name(rc), err);
    cr_assert_not_null(f);
    return f;
}

/* Opening must fail with `want`; returns the message. */
static const char *open_fails(const char *path, ss_rc want) {
    static char err[256];
    ss_stream_factory *f = NULL;
    err[0] = '\0';
    ss_rc rc = ss_sqlite_factory_open(&(ss_sqlite_options){.path = path}, &f, err, sizeof err);
    cr_assert_eq(rc, want, "open %s: %s, expected %s (%s)", path, ss_rc_name(rc), ss_rc_name(want), err);
    cr_assert_null(f, "the output is untouched on failure");
    cr_assert_neq(err[0], '\0', "a message is given");
    cr_assert_null(strchr(err, '\n'), "one line: %s", err);
    return err;
}

static void assert_contains(const char *s, const char *want) {
    cr_assert_not_null(strstr(s, want), "\"%s\" should contain \"%s\"", s, want);
}

/* The message at offset N carries "mN" with timestamp T0 + N. */
static char payload[16][16];

static ss_message msg(unsigned n) {
    cr_assert_lt(n, 16);
    snprintf(payload[n], sizeof payload[n], "m%u", n % 16);
    return (ss_message){S(payload[n]), off(n), T0 + n};
}

static ss_record record_of(const char *id, unsigned tail) {
    return (ss_record){
        .id = S(id), .content_type = S("text/plain"), .created_ms = T0, .tail = off(tail), .counter = tail};
}

static void create(ss_stream_factory *f, const ss_record *rec, const ss_message *msgs, size_t n) {
    ss_arena a;
    ss_arena_init(&a);
    ss_create_outcome o;
    cr_assert_eq(ss_storage_create(f, &(ss_create_plan){.record = *rec, .msgs = msgs, .n_msgs = n}, &a, &o),
                 SS_OK);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_CREATED);
    ss_arena_release(&a);
}

/* Creates `id` with messages m1..mN. */
static void create_n(ss_stream_factory *f, const char *id, unsigned n) {
    ss_message m[16];
    for (unsigned i = 0; i < n; i++)
        m[i] = msg(i + 1);
    ss_record r = record_of(id, n);
    create(f, &r, m, n);
}

/* Commits `p` to `id`; returns the storage rc, the outcome in *out. */
static ss_rc commit_rc(ss_stream_factory *f, const char *id, const ss_mutation_plan *p, ss_commit_outcome *out) {
    ss_storage_stream *s;
    cr_assert_eq(ss_storage_open(f, S(id), &s), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_commit_outcome o = {0};
    ss_rc rc = ss_storage_commit(s, p, &a, &o);
    if (out) {
        *out = o;
        out->record = (ss_record){0}; /* its strings die with the arena */
    }
    ss_arena_release(&a);
    ss_storage_close(s);
    return rc;
}

/* An append of `n` messages of `size` bytes after tail `from`. */
static ss_mutation_plan append_plan(unsigned from, const ss_message *m, size_t n) {
    ss_mutation_plan p = {.has_expected_tail = true, .expected_tail = off(from), .msgs = m, .n_msgs = n};
    p.patch.set = SS_PATCH_TAIL | SS_PATCH_COUNTER;
    p.patch.tail = off(from + (unsigned)n);
    p.patch.counter = from + n;
    return p;
}

/* Appends m<from+1> to `id` at tail `from`; must commit. */
static void append_one(ss_stream_factory *f, const char *id, unsigned from) {
    ss_message m = msg(from + 1);
    ss_mutation_plan p = append_plan(from, &m, 1);
    ss_commit_outcome o;
    cr_assert_eq(commit_rc(f, id, &p, &o), SS_OK);
    cr_assert_eq(o.status, SS_COMMIT_COMMITTED);
}

static bool read_record(ss_stream_factory *f, const char *id, ss_arena *a, ss_record *out) {
    ss_storage_stream *s;
    cr_assert_eq(ss_storage_open(f, S(id), &s), SS_OK);
    bool found = false;
    cr_assert_eq(ss_storage_get_record(s, a, out, &found), SS_OK);
    ss_storage_close(s);
    return found;
}

static bool exists(ss_stream_factory *f, const char *id) {
    ss_arena a;
    ss_arena_init(&a);
    ss_record r;
    bool found = read_record(f, id, &a, &r);
    ss_arena_release(&a);
    return found;
}

/* The tail of `id` as a number (the last 16 digits); -1 when absent. */
static long tail_of(ss_stream_factory *f, const char *id) {
    ss_arena a;
    ss_arena_init(&a);
    ss_record r;
    long t = read_record(f, id, &a, &r) ? strtol(r.tail.s + 17, NULL, 10) : -1;
    ss_arena_release(&a);
    return t;
}

/* The stream holds exactly m<first>..m<first+n-1>. */
static void assert_messages(ss_stream_factory *f, const char *id, unsigned first, size_t n) {
    ss_storage_stream *s;
    cr_assert_eq(ss_storage_open(f, S(id), &s), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(s, &(ss_list_opts){0}, &a, &b), SS_OK);
    cr_assert_eq(b.n, n, "%s: %zu messages, expected %zu", id, b.n, n);
    for (size_t i = 0; i < n; i++) {
        unsigned k = first + (unsigned)i;
        char want[16];
        snprintf(want, sizeof want, "m%u", k);
        cr_assert(ss_slice_eq_cstr(b.msgs[i].data, want), "message %zu of %s", i, id);
        ss_offset o = off(k);
        cr_assert(ss_offset_eq(&b.msgs[i].offset, &o));
        cr_assert_eq(b.msgs[i].ts_ms, T0 + k);
    }
    ss_arena_release(&a);
    ss_storage_close(s);
}

/* Every field, flagged or not, is equal. */
static void assert_record_exact(const ss_record *a, const ss_record *b) {
    cr_assert(ss_slice_eq(a->id, b->id));
    cr_assert(ss_slice_eq(a->content_type, b->content_type));
    cr_assert_eq(a->created_ms, b->created_ms);
    cr_assert_eq(a->has_ttl, b->has_ttl);
    cr_assert_eq(a->ttl_s, b->ttl_s);
    cr_assert(ss_slice_eq(a->expires_at, b->expires_at));
    cr_assert_eq(a->has_expires_at_ms, b->has_expires_at_ms);
    cr_assert_eq(a->expires_at_ms, b->expires_at_ms);
    cr_assert_eq(a->has_last_seq, b->has_last_seq);
    cr_assert(ss_slice_eq(a->last_seq, b->last_seq), "last_seq \"%.*s\"", (int)a->last_seq.len, a->last_seq.p);
    cr_assert_eq(a->closed, b->closed);
    cr_assert_eq(a->closed_ms, b->closed_ms);
    cr_assert(ss_slice_eq(a->forked_from, b->forked_from));
    cr_assert(ss_offset_eq(&a->fork_offset, &b->fork_offset));
    cr_assert_eq(a->fork_sub_offset, b->fork_sub_offset);
    cr_assert_eq(a->soft_deleted, b->soft_deleted);
    cr_assert(ss_offset_eq(&a->tail, &b->tail), "tail %s, expected %s", a->tail.s, b->tail.s);
    cr_assert_eq(a->counter, b->counter);
}

static ss_delete_outcome delete_stream(ss_stream_factory *f, const char *id) {
    ss_delete_outcome o;
    cr_assert_eq(ss_storage_delete(f, &(ss_delete_plan){.id = S(id), .reason = SS_DELETE_USER}, &o), SS_OK);
    return o;
}

static bool in_transaction(ss_stream_factory *f) { return !sqlite3_get_autocommit(ss__sqlite_db(f)); }

typedef struct expiries {
    char ids[8][16];
    int64_t at[8];
    size_t n;
} expiries;

static void collect_expiry(void *ctx, ss_slice id, int64_t at_ms) {
    expiries *e = ctx;
    cr_assert_lt(e->n, 8);
    snprintf(e->ids[e->n], sizeof e->ids[0], "%.*s", (int)id.len, id.p);
    e->at[e->n++] = at_ms;
}

static int64_t expiry_of(const expiries *e, const char *id) {
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->ids[i], id) == 0)
            return e->at[i];
    return -1;
}

/* Runs SQL on the database file through a plain connection of our own. */
static void raw_exec(const char *path, const char *sql) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* ==== persistence ============================================================== */

Test(sqlite_persistence, streams_messages_producers_forks_and_deadlines_survive_a_reopen) {
    const char *path = tmp_path("p.db");
    ss_stream_factory *f = open_db(path, true);
    ss_record s = {
        .id = S("s"),
        .content_type = S("application/json; charset=utf-8"),
        .created_ms = T0,
        .has_ttl = true,
        .ttl_s = 3600,
        .expires_at = S("2026-01-02T00:00:00Z"),
        .has_expires_at_ms = true,
        .expires_at_ms = T0 + 3600000,
        .has_last_seq = true,
        .last_seq = S("seq-1"),
        .tail = off(2),
        .counter = 2,
    };
    ss_message m[3] = {msg(1), msg(2), msg(3)};
    create(f, &s, m, 2);
    /* Append m3 with a producer insert, a Stream-Seq and a close. */
    ss_mutation_plan p = append_plan(2, &m[2], 1);
    p.has_expected_closed = true;
    p.patch.set |= SS_PATCH_CLOSED | SS_PATCH_LAST_SEQ;
    p.patch.closed_ms = T0 + 7;
    p.patch.last_seq = S("seq-2");
    p.has_producer = true;
    p.producer.id = S("writer-1");
    p.producer.next = (ss_producer){5, 0};
    ss_commit_outcome o;
    cr_assert_eq(commit_rc(f, "s", &p, &o), SS_OK);
    cr_assert_eq(o.status, SS_COMMIT_COMMITTED);
    /* A fork at 2 with a sub-offset, and a stream without any deadline. */
    ss_record kid = record_of("kid", 2);
    kid.forked_from = S("s");
    kid.fork_offset = off(2);
    kid.fork_sub_offset = 1;
    kid.has_expires_at_ms = true;
    kid.expires_at_ms = T0 + 99;
    ss_arena a;
    ss_arena_init(&a);
    ss_create_outcome co;
    cr_assert_eq(
        ss_storage_fork(f, &(ss_fork_plan){.child = kid, .source_id = S("s"), .source_live_at = off(2)}, &a, &co),
        SS_OK);
    cr_assert_eq(co.status, SS_CREATE_OUTCOME_CREATED);
    create_n(f, "plain", 0);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    ss_storage_factory_free(f);

    f = open_db(path, false);
    ss_record want = s;
    want.tail = off(3);
    want.counter = 3;
    want.closed = true;
    want.closed_ms = T0 + 7;
    want.last_seq = S("seq-2");
    ss_record got;
    cr_assert(read_record(f, "s", &a, &got));
    assert_record_exact(&got, &want);
    assert_messages(f, "s", 1, 3);
    ss_storage_stream *h;
    cr_assert_eq(ss_storage_open(f, S("s"), &h), SS_OK);
    ss_producer prod;
    bool found = false;
    cr_assert_eq(ss_storage_get_producer(h, S("writer-1"), &prod, &found), SS_OK);
    cr_assert(found);
    cr_assert_eq(prod.epoch, 5);
    cr_assert_eq(prod.last_seq, 0);
    ss_storage_close(h);
    cr_assert(read_record(f, "kid", &a, &got));
    assert_record_exact(&got, &kid);
    assert_messages(f, "kid", 1, 0);
    cr_assert(read_record(f, "plain", &a, &got));
    ss_record plain = record_of("plain", 0);
    assert_record_exact(&got, &plain);
    expiries e = {0};
    cr_assert_eq(ss_storage_for_each_expiry(f, collect_expiry, &e), SS_OK);
    cr_assert_eq(e.n, 2, "every stream with a deadline, and only those");
    cr_assert_eq(expiry_of(&e, "s"), T0 + 3600000);
    cr_assert_eq(expiry_of(&e, "kid"), T0 + 99);

    /* Lineage survives too: the parent is retained for its fork... */
    cr_assert_eq(delete_stream(f, "s"), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    ss_storage_factory_free(f);
    f = open_db(path, false);
    cr_assert(read_record(f, "s", &a, &got));
    cr_assert(got.soft_deleted);
    assert_messages(f, "s", 1, 3);
    e.n = 0;
    cr_assert_eq(ss_storage_for_each_expiry(f, collect_expiry, &e), SS_OK);
    cr_assert_eq(expiry_of(&e, "s"), T0 + 3600000, "a soft-deleted stream keeps its deadline");
    /* ...and deleting the fork after a restart cascades to it. */
    cr_assert_eq(delete_stream(f, "kid"), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(exists(f, "kid"));
    cr_assert_not(exists(f, "s"), "the soft-deleted parent is purged by the cascade");
    assert_messages(f, "s", 1, 0);
    ss_storage_factory_free(f);
    cr_assert_eq(raw_int(path, MESSAGE_ROWS_SQL), 0);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_producers"), 0);
    ss_arena_release(&a);
}

Test(sqlite_persistence, extreme_values_and_unusual_ids_round_trip_exactly) {
    const char *path = tmp_path("x.db");
    ss_stream_factory *f = open_db(path, false);
    const char id[] = "caf\xc3\xa9/\xff\xfe id%20"; /* UTF-8, invalid UTF-8, spaces */
    ss_record r = {
        .id = S(id),
        .content_type = S(""),
        .created_ms = INT64_MIN,
        .has_ttl = true,
        .ttl_s = UINT64_MAX,
        .has_expires_at_ms = true,
        .expires_at_ms = INT64_MAX,
        .has_last_seq = true,
        .last_seq = S(""), /* present but empty */
        .closed = true,
        .closed_ms = -1,
        .tail = off(0),
        .counter = UINT64_MAX - 1,
    };
    ss_message empty = {S(""), off(1), -5};
    r.tail = off(1);
    create(f, &r, &empty, 1);
    ss_mutation_plan p = {.has_producer = true};
    p.producer.id = S("p\xff");
    p.producer.next = (ss_producer){UINT64_MAX, UINT64_MAX - 3};
    ss_commit_outcome o;
    cr_assert_eq(commit_rc(f, id, &p, &o), SS_OK);
    cr_assert_eq(o.status, SS_COMMIT_COMMITTED);
    ss_storage_factory_free(f);

    f = open_db(path, false);
    ss_arena a;
    ss_arena_init(&a);
    ss_record got;
    cr_assert(read_record(f, id, &a, &got));
    assert_record_exact(&got, &r);
    ss_storage_stream *h;
    cr_assert_eq(ss_storage_open(f, S(id), &h), SS_OK);
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(h, &(ss_list_opts){0}, &a, &b), SS_OK);
    cr_assert_eq(b.n, 1);
    cr_assert_eq(b.msgs[0].data.len, 0, "an empty message stays empty");
    cr_assert_eq(b.msgs[0].ts_ms, -5);
    ss_producer prod;
    bool found;
    cr_assert_eq(ss_storage_get_producer(h, S("p\xff"), &prod, &found), SS_OK);
    cr_assert(found);
    cr_assert_eq(prod.epoch, UINT64_MAX);
    cr_assert_eq(prod.last_seq, UINT64_MAX - 3);
    ss_storage_close(h);
    ss_arena_release(&a);
    ss_storage_factory_free(f);
}

Test(sqlite_persistence, offsets_of_different_lengths_list_in_memcmp_order) {
    ss_stream_factory *f = open_db(":memory:", false);
    const char *offs[] = {"a", "ab", "abc", "b", "ba"};
    ss_message m[5];
    for (size_t i = 0; i < 5; i++) {
        m[i] = (ss_message){S(offs[i]), {0}, T0};
        cr_assert_eq(ss_offset_set(&m[i].offset, S(offs[i])), SS_OK);
    }
    ss_record r = record_of("s", 0);
    r.tail = m[4].offset;
    create(f, &r, m, 5);
    ss_storage_stream *h;
    cr_assert_eq(ss_storage_open(f, S("s"), &h), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_message_batch b;
    ss_list_opts lo = {.has_after = true, .after = m[0].offset, .has_until = true, .until = m[3].offset};
    cr_assert_eq(ss_storage_list_messages(h, &lo, &a, &b), SS_OK);
    cr_assert_eq(b.n, 3);
    cr_assert(ss_slice_eq_cstr(b.msgs[0].data, "ab"));
    cr_assert(ss_slice_eq_cstr(b.msgs[1].data, "abc"));
    cr_assert(ss_slice_eq_cstr(b.msgs[2].data, "b"));
    cr_assert_not(b.more);
    ss_arena_release(&a);
    ss_storage_close(h);
    ss_storage_factory_free(f);
}

Test(sqlite_persistence, a_fork_plan_whose_child_does_not_name_the_source_is_misuse) {
    ss_stream_factory *f = open_db(":memory:", false);
    create_n(f, "src", 1);
    ss_record kid = record_of("kid", 1); /* forked_from left empty */
    ss_arena a;
    ss_arena_init(&a);
    ss_create_outcome o;
    cr_assert_eq(
        ss_storage_fork(f, &(ss_fork_plan){.child = kid, .source_id = S("src"), .source_live_at = off(1)}, &a, &o),
        SS_MISUSE);
    cr_assert_not(exists(f, "kid"));
    ss_arena_release(&a);
    ss_storage_factory_free(f);
}

Test(sqlite_persistence, a_plan_whose_offsets_collide_with_stored_ones_is_misuse_and_writes_nothing) {
    for (int group = 0; group < 2; group++) {
        ss_stream_factory *f = open_db(":memory:", group);
        create_n(f, "s", 2);
        /* A new offset between 1 and 2, then 2 again: no expected tail guards them. */
        ss_message m[2] = {msg(3), msg(2)};
        cr_assert_eq(ss_offset_set(&m[0].offset, S("0000000000000000_0000000000000001a")), SS_OK);
        ss_mutation_plan p = {.msgs = m, .n_msgs = 2};
        p.patch.set = SS_PATCH_COUNTER;
        p.patch.counter = 9;
        cr_assert_eq(commit_rc(f, "s", &p, NULL), SS_MISUSE);
        assert_messages(f, "s", 1, 2);
        ss_arena a;
        ss_arena_init(&a);
        ss_record r;
        cr_assert(read_record(f, "s", &a, &r));
        cr_assert_eq(r.counter, 2, "the patch did not land");
        ss_arena_release(&a);
        append_one(f, "s", 2); /* and the factory carries on */
        cr_assert_eq(ss_storage_flush(f), SS_OK);
        ss_storage_factory_free(f);
    }
}

/* ==== group commit ============================================================== */

/* Lists `id` through the storage seam into *out (copied into a). */
static void list_into(ss_stream_factory *f, const char *id, const ss_list_opts *o, ss_arena *a,
                      ss_message_batch *out) {
    ss_storage_stream *s;
    cr_assert_eq(ss_storage_open(f, S(id), &s), SS_OK);
    cr_assert_eq(ss_storage_list_messages(s, o, a, out), SS_OK);
    ss_storage_close(s);
}

Test(sqlite_cache, every_window_read_from_memory_equals_the_same_window_read_from_the_database) {
    ss_stream_factory *f = open_db(tmp_path("cache.db"), false);
    create_n(f, "s", 8);
    ss_sql_engine *e = ss__sql_of(f);
    size_t checked = 0, warm = 0;
    /* The cache filled from each start (the beginning, or after m0..m8). */
    for (int fill = -1; fill <= 8; fill++) {
        ss_list_opts fo = {.has_after = fill >= 0};
        if (fill >= 0)
            fo.after = off((unsigned)fill);
        for (int after = -1; after <= 9; after++)
            for (int until = -1; until <= 9; until++)
                for (size_t limit = 0; limit <= 3; limit += 3)
                    for (size_t max_bytes = 0; max_bytes <= 5; max_bytes += 5) {
                        ss_list_opts o = {.has_after = after >= 0, .has_until = until >= 0};
                        if (after >= 0)
                            o.after = off((unsigned)after);
                        if (until >= 0)
                            o.until = off((unsigned)until);
                        o.limit = limit;
                        o.max_bytes = max_bytes;
                        ss_arena a;
                        ss_arena_init(&a);
                        ss__sql_forget_all(e);
                        ss_message_batch cold, hot, filled;
                        list_into(f, "s", &o, &a, &cold);
                        ss__sql_forget_all(e);
                        list_into(f, "s", &fo, &a, &filled); /* fills the cache from `fill` */
                        const ss_message *cm;
                        size_t cn;
                        warm += ss__sql_cached_messages(e, S("s"), &o, &cm, &cn) != NULL;
                        list_into(f, "s", &o, &a, &hot);
                        cr_assert_eq(hot.n, cold.n, "fill %d after %d until %d limit %zu max %zu", fill, after,
                                     until, limit, max_bytes);
                        cr_assert_eq(hot.more, cold.more);
                        for (size_t i = 0; i < cold.n; i++) {
                            cr_assert(ss_offset_eq(&hot.msgs[i].offset, &cold.msgs[i].offset));
                            cr_assert(ss_slice_eq(hot.msgs[i].data, cold.msgs[i].data));
                            cr_assert_eq(hot.msgs[i].ts_ms, cold.msgs[i].ts_ms);
                        }
                        ss_arena_release(&a);
                        checked++;
                    }
    }
    cr_assert_gt(warm, checked / 2, "most windows were served from memory (%zu of %zu)", warm, checked);
    ss_storage_factory_free(f);
}

/* A read served from the cache takes the cached bytes by reference when its
 * window holds at least half of them (the entry is pinned to the reader's
 * arena), and copies a smaller window, so a reader never holds more than
 * twice what it read. */
Test(sqlite_cache, a_window_of_half_the_cache_or_more_is_lent_a_smaller_one_copied) {
    ss_stream_factory *f = open_db(tmp_path("lend.db"), true);
    create_n(f, "s", 8);
    ss_arena a;
    ss_arena_init(&a);
    ss_message_batch all, most, last;
    list_into(f, "s", &(ss_list_opts){0}, &a, &all); /* fills the cache */
    list_into(f, "s", &(ss_list_opts){0}, &a, &all); /* lent */
    list_into(f, "s", &(ss_list_opts){.has_after = true, .after = off(4)}, &a, &most);
    list_into(f, "s", &(ss_list_opts){.has_after = true, .after = off(7)}, &a, &last);
    cr_assert(all.n == 8 && most.n == 4 && last.n == 1);
    ss_message_batch again;
    list_into(f, "s", &(ss_list_opts){0}, &a, &again);
    cr_assert_eq(again.msgs[0].data.p, all.msgs[0].data.p, "the whole stream: the cache's own bytes");
    cr_assert_eq(most.msgs[0].data.p, all.msgs[4].data.p, "half of it: lent too");
    cr_assert_neq(last.msgs[0].data.p, all.msgs[7].data.p, "an eighth: copied");
    cr_assert(ss_slice_eq_cstr(last.msgs[0].data, "m8"));
    ss_arena_release(&a);
    ss_storage_factory_free(f);
}

Test(sqlite_cache, a_write_drops_what_was_cached_of_its_stream_and_only_that) {
    ss_stream_factory *f = open_db(tmp_path("cache.db"), true);
    create_n(f, "s", 2);
    create_n(f, "t", 1);
    ss_sql_engine *e = ss__sql_of(f);
    const ss_message *cm, *pinned;
    size_t cn;
    ss_list_opts all = {0};
    ss_arena pins;
    ss_arena_init(&pins);
    assert_messages(f, "s", 1, 2);
    assert_messages(f, "t", 1, 1);
    ss__sql_cached *c = ss__sql_cached_messages(e, S("s"), &all, &pinned, &cn);
    cr_assert(c && cn == 2);
    cr_assert_eq(ss__sql_pin_cached(c, &pins), SS_OK);
    cr_assert(ss__sql_cached_record(e, S("s")) == NULL, "a record read inside an intent is not kept");
    cr_assert_eq(tail_of(f, "s"), 2);
    cr_assert_not_null(ss__sql_cached_record(e, S("s")));
    append_one(f, "s", 2);
    cr_assert_null(ss__sql_cached_messages(e, S("s"), &all, &cm, &cn), "the append dropped s's messages");
    cr_assert_null(ss__sql_cached_record(e, S("s")), "and its record");
    cr_assert_not_null(ss__sql_cached_messages(e, S("t"), &all, &cm, &cn), "t's stay");
    assert_messages(f, "s", 1, 3);
    cr_assert_eq(tail_of(f, "s"), 3);
    cr_assert_eq(delete_stream(f, "s"), SS_DELETE_OUTCOME_PURGED);
    cr_assert_null(ss__sql_cached_messages(e, S("s"), &all, &cm, &cn));
    cr_assert_not(exists(f, "s"));
    /* What was handed out pinned outlives its place in the cache (and the
     * stream): readers send those bytes by reference (ASan checks the rest). */
    cr_assert(ss_slice_eq_cstr(pinned[0].data, "m1") && ss_slice_eq_cstr(pinned[1].data, "m2"));
    ss_storage_factory_free(f);
    cr_assert(ss_slice_eq_cstr(pinned[1].data, "m2"), "and the factory");
    ss_arena_release(&pins);
}

Test(sqlite_group_commit, commits_are_visible_before_flush_and_lost_when_the_factory_is_destroyed) {
    const char *path = tmp_path("g.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 1);
    cr_assert(ss_storage_has_unflushed(f));
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cr_assert_not(ss_storage_has_unflushed(f));
    append_one(f, "s", 1);
    append_one(f, "s", 2);
    create_n(f, "t", 2);
    cr_assert(ss_storage_has_unflushed(f));
    cr_assert_eq(tail_of(f, "s"), 3, "the open transaction is visible to reads");
    assert_messages(f, "s", 1, 3);
    cr_assert(exists(f, "t"));
    ss_storage_factory_free(f); /* no flush: rolled back */

    f = open_db(path, true);
    cr_assert_eq(tail_of(f, "s"), 1, "the state of the last flush");
    assert_messages(f, "s", 1, 1);
    cr_assert_not(exists(f, "t"));
    ss_storage_factory_free(f);
}

Test(sqlite_group_commit, a_flush_commits_the_batch_and_the_next_write_opens_a_new_transaction) {
    const char *path = tmp_path("g.db");
    ss_stream_factory *f = open_db(path, true);
    cr_assert_not(in_transaction(f), "nothing is open before the first write");
    create_n(f, "s", 0);
    cr_assert(in_transaction(f));
    for (unsigned i = 0; i < 5; i++)
        append_one(f, "s", i);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cr_assert_not(in_transaction(f));
    cr_assert_eq(ss_storage_flush(f), SS_OK, "a flush with nothing pending is a no-op");
    append_one(f, "s", 5);
    cr_assert(in_transaction(f), "BEGIN IMMEDIATE at the first write after a flush");
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    ss_storage_factory_free(f);
    f = open_db(path, false);
    assert_messages(f, "s", 1, 6);
    ss_storage_factory_free(f);
}

Test(sqlite_group_commit, another_connection_sees_a_batch_only_after_its_flush) {
    const char *path = tmp_path("g.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 1);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    append_one(f, "s", 1);
    /* A WAL reader is not blocked by the open write transaction and sees the
     * last committed state. */
    cr_assert_eq(raw_int(path, MESSAGE_ROWS_SQL), 1);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cr_assert_eq(raw_int(path, MESSAGE_ROWS_SQL), 2);
    ss_storage_factory_free(f);
}

Test(sqlite_group_commit, a_failed_commit_in_a_batch_takes_back_only_itself) {
    const char *path = tmp_path("g.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 0);
    append_one(f, "s", 0);
    ss_message m = msg(9);
    ss_mutation_plan stale = append_plan(0, &m, 1);
    stale.has_producer = true;
    stale.producer.id = S("p");
    stale.producer.next = (ss_producer){1, 0};
    ss_commit_outcome o;
    cr_assert_eq(commit_rc(f, "s", &stale, &o), SS_OK);
    cr_assert_eq(o.status, SS_COMMIT_PRECONDITION_FAILED);
    cr_assert_eq(o.reason, SS_FAIL_OFFSET);
    cr_assert(in_transaction(f), "the batch stays open");
    append_one(f, "s", 1);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    ss_storage_factory_free(f);
    f = open_db(path, false);
    assert_messages(f, "s", 1, 2);
    ss_storage_stream *h;
    cr_assert_eq(ss_storage_open(f, S("s"), &h), SS_OK);
    ss_producer prod;
    bool found = true;
    cr_assert_eq(ss_storage_get_producer(h, S("p"), &prod, &found), SS_OK);
    cr_assert_not(found);
    ss_storage_close(h);
    ss_storage_factory_free(f);
}

Test(sqlite_group_commit, an_intent_that_keeps_nothing_leaves_no_transaction_open) {
    ss_stream_factory *f = open_db(tmp_path("g.db"), true);
    create_n(f, "s", 1);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    ss_message m = msg(5);
    ss_mutation_plan stale = append_plan(3, &m, 1);
    cr_assert_eq(commit_rc(f, "s", &stale, NULL), SS_OK);
    cr_assert_not(in_transaction(f), "a precondition failure with nothing else pending");
    cr_assert_eq(delete_stream(f, "ghost"), SS_DELETE_OUTCOME_NOT_FOUND);
    cr_assert_not(in_transaction(f), "a delete that found nothing");
    ss_arena a;
    ss_arena_init(&a);
    ss_create_outcome o;
    cr_assert_eq(ss_storage_create(f, &(ss_create_plan){.record = record_of("s", 0)}, &a, &o), SS_OK);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_EXISTS);
    cr_assert_not(in_transaction(f), "a create that found the stream");
    cr_assert_not(ss_storage_has_unflushed(f));
    ss_arena_release(&a);
    ss_storage_factory_free(f);
}

Test(sqlite_group_commit, without_group_commit_every_commit_is_durable_when_it_returns) {
    const char *path = tmp_path("a.db");
    ss_stream_factory *f = open_db(path, false);
    create_n(f, "s", 0);
    cr_assert_not(in_transaction(f));
    append_one(f, "s", 0);
    cr_assert_not(in_transaction(f));
    cr_assert_eq(raw_int(path, MESSAGE_ROWS_SQL), 1, "committed before any flush");
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    ss_storage_factory_free(f);
}

/* ==== migrations and refusals ==================================================== */

Test(sqlite_schema, a_fresh_file_gets_the_current_schema_version_once) {
    const char *path = tmp_path("v.db");
    ss_stream_factory *f = open_db(path, false);
    int64_t v = -1;
    cr_assert_eq(ss__sq_schema_version(ss__sqlite_db(f), &v), SS_OK);
    cr_assert_eq(v, SS_SQLITE_SCHEMA_VERSION);
    ss_storage_factory_free(f);
    f = open_db(path, false); /* reopening applies nothing */
    ss_storage_factory_free(f);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_schema_version"), SS_SQLITE_SCHEMA_VERSION);
    cr_assert_eq(raw_int(path, "SELECT max(version) FROM streamsy_schema_version"), SS_SQLITE_SCHEMA_VERSION);
    cr_assert_gt(raw_int(path, "SELECT min(applied_at_ms) FROM streamsy_schema_version"), T0 - 86400000LL * 365);
    char *mode = NULL;
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    mode = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    cr_assert_str_eq(mode, "wal");
    free(mode);
    cr_assert_eq(raw_int(path, "PRAGMA page_size"), SS_SQLITE_PAGE_SIZE, "a new file's page size");
}

static int64_t cache_size_of(ss_stream_factory *f) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(ss__sqlite_db(f), "PRAGMA cache_size", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

Test(sqlite_schema, the_page_cache_is_the_default_or_the_size_asked_for_and_old_page_sizes_stay) {
    const char *path = tmp_path("c.db");
    ss_stream_factory *f = open_db(path, false);
    cr_assert_eq(cache_size_of(f), -(int64_t)(SS_SQLITE_DEFAULT_CACHE_BYTES >> 10), "negative: KiB");
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(ss__sqlite_db(f), "PRAGMA wal_autocheckpoint", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int64(st, 0), 8192);
    sqlite3_finalize(st);
    ss_storage_factory_free(f);
    char err[256] = "";
    ss_sqlite_options o = {.path = path, .cache_bytes = 3u << 20};
    cr_assert_eq(ss_sqlite_factory_open(&o, &f, err, sizeof err), SS_OK, "%s", err);
    cr_assert_eq(cache_size_of(f), -3072);
    ss_storage_factory_free(f);
    /* A file made with 4 KiB pages (an older streamsy) keeps them. */
    const char *old = tmp_path("old.db");
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(old, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA page_size = 4096; VACUUM", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    f = open_db(old, false);
    create_n(f, "s", 3);
    ss_storage_factory_free(f);
    cr_assert_eq(raw_int(old, "PRAGMA page_size"), 4096);
    f = open_db(old, false);
    assert_messages(f, "s", 1, 3);
    ss_storage_factory_free(f);
}

Test(sqlite_schema, the_message_queries_use_the_primary_key) {
    ss_stream_factory *f = open_db(":memory:", false);
    sqlite3 *db = ss__sqlite_db(f);
    const char *queries[] = {
        "EXPLAIN QUERY PLAN SELECT \"offset\", timestamp, data FROM streamsy_messages "
        "WHERE stream_id = 'x' AND \"offset\" > 'y' ORDER BY \"offset\"",
        "EXPLAIN QUERY PLAN SELECT count(*) FROM streamsy_streams WHERE forked_from = 'x'",
    };
    const char *want[] = {"SEARCH streamsy_messages USING PRIMARY KEY (stream_id=? AND offset>?)",
                          "streamsy_streams_forked_from"};
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(db, queries[i], -1, &st, NULL), SQLITE_OK);
        bool seen = false;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            cr_assert_null(strstr(detail, "TEMP B-TREE"), "no sort: %s", detail);
            seen |= strstr(detail, want[i]) != NULL;
        }
        sqlite3_finalize(st);
        cr_assert(seen, "query %zu uses %s", i, want[i]);
    }
    ss_storage_factory_free(f);
}

Test(sqlite_schema, a_database_with_a_newer_schema_version_is_refused) {
    const char *path = tmp_path("new.db");
    ss_storage_factory_free(open_db(path, false));
    raw_exec(path, "INSERT INTO streamsy_schema_version (version, applied_at_ms) VALUES (99, 0)");
    const char *err = open_fails(path, SS_NOTSUP);
    assert_contains(err, "schema version 99");
    assert_contains(err, "newer");
    assert_contains(err, path);
    cr_assert_eq(raw_int(path, "SELECT max(version) FROM streamsy_schema_version"), 99, "left as it was");
}

Test(sqlite_schema, a_file_that_is_not_a_database_is_refused_and_left_unchanged) {
    const char *path = tmp_path("junk.db");
    unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 131 + 7);
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
    fclose(fp);
    const char *err = open_fails(path, SS_CORRUPT);
    assert_contains(err, "not a SQLite database");
    assert_contains(err, path);
    unsigned char back[sizeof junk + 1];
    fp = fopen(path, "rb");
    cr_assert_eq(fread(back, 1, sizeof back, fp), sizeof junk, "same size");
    fclose(fp);
    cr_assert_eq(memcmp(back, junk, sizeof junk), 0, "byte for byte unchanged");
    struct stat sb;
    cr_assert_neq(stat(tmp_path("junk.db-wal"), &sb), 0, "no WAL was created");
    /* A short text file too. */
    fp = fopen(path, "w");
    fputs("hello, I am a text file\n", fp);
    fclose(fp);
    open_fails(path, SS_CORRUPT);
}

Test(sqlite_schema, a_database_with_a_corrupt_first_page_is_refused) {
    const char *path = tmp_path("bad.db");
    ss_stream_factory *f = open_db(path, false);
    create_n(f, "s", 3);
    ss_storage_factory_free(f);
    /* Keep the 100-byte header, scribble over the rest of page 1 (the schema). */
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0);
    char junk[1024];
    memset(junk, 0xA5, sizeof junk);
    cr_assert_eq(pwrite(fd, junk, sizeof junk, 100), (ssize_t)sizeof junk);
    close(fd);
    const char *err = open_fails(path, SS_CORRUPT);
    assert_contains(err, "corrupt");
    assert_contains(err, path);
}

/* Collects the adapter's log lines. */
typedef struct log_lines {
    int n;
    char last[512];
} log_lines;

static void collect_log(void *ctx, const char *line) {
    log_lines *l = ctx;
    l->n++;
    snprintf(l->last, sizeof l->last, "%s", line);
}

Test(sqlite_schema, corruption_found_at_run_time_is_logged_once_and_stops_every_write) {
    const char *path = tmp_path("rot.db");
    ss_stream_factory *f = open_db(path, false);
    create_n(f, "a", 10);
    ss_storage_factory_free(f);
    /* Break the messages table's root page (its b-tree page type byte); the
     * schema on page 1 stays intact, so the database still opens. */
    int64_t root = raw_int(path, "SELECT rootpage FROM sqlite_schema WHERE name = 'streamsy_messages'");
    int64_t page = raw_int(path, "PRAGMA page_size");
    cr_assert_gt(root, 1);
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0);
    unsigned char junk = 0x00;
    cr_assert_eq(pwrite(fd, &junk, 1, (off_t)((root - 1) * page)), 1);
    close(fd);

    log_lines log = {0};
    char err[256] = "";
    cr_assert_eq(ss_sqlite_factory_open(&(ss_sqlite_options){.path = path, .log = collect_log, .log_ctx = &log},
                                        &f, err, sizeof err),
                 SS_OK, "%s", err);
    cr_assert(exists(f, "a"), "the streams table is fine");
    ss_storage_stream *s;
    cr_assert_eq(ss_storage_open(f, S("a"), &s), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(s, &(ss_list_opts){0}, &a, &b), SS_CORRUPT);
    cr_assert_eq(ss_storage_list_messages(s, &(ss_list_opts){0}, &a, &b), SS_CORRUPT);
    ss_arena_release(&a);
    ss_storage_close(s);
    cr_assert_eq(log.n, 1, "logged once, not per failure");
    assert_contains(log.last, "corrupt");
    assert_contains(log.last, "SQLite 11");
    assert_contains(log.last, "writes are refused");

    /* A write that would not even touch the damaged table is refused too. */
    ss_record c = record_of("c", 0);
    ss_arena_init(&a);
    ss_create_outcome o;
    cr_assert_eq(ss_storage_create(f, &(ss_create_plan){.record = c}, &a, &o), SS_CORRUPT);
    ss_arena_release(&a);
    ss_storage_factory_free(f);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_streams WHERE stream_id = 'c'"), 0,
                 "nothing written");
}

Test(sqlite_schema, somebody_elses_sqlite_database_is_refused) {
    const char *path = tmp_path("other.db");
    raw_exec(path, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)");
    const char *err = open_fails(path, SS_CORRUPT);
    assert_contains(err, "not a streamsy one");
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM sqlite_master"), 1, "nothing was added");
}

Test(sqlite_schema, a_missing_directory_a_directory_and_an_empty_path_give_clear_messages) {
    const char *err = open_fails("/nonexistent-streamsy-dir/sub/db.sqlite", SS_BADARG);
    assert_contains(err, "directory /nonexistent-streamsy-dir/sub does not exist");
    tmp_path("x"); /* create the directory */
    err = open_fails(tmp_dir, SS_BADARG);
    assert_contains(err, "is a directory");
    err = open_fails("", SS_BADARG);
    assert_contains(err, "no database path");
    ss_stream_factory *f = NULL;
    cr_assert_eq(ss_sqlite_factory_open(NULL, &f, NULL, 0), SS_BADARG, "err may be NULL");
}

/* Runs `fn` in a child process; returns what it wrote to the pipe. */
static void in_child(void (*fn)(int fd, const char *path), const char *path, char *out, size_t cap) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        fn(fds[1], path);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exited cleanly");
}

/* Child: tries to open the database, reports "<rc name> <message>". */
static void child_open(int fd, const char *path) {
    ss_stream_factory *f = NULL;
    char err[256] = "";
    ss_rc rc = ss_sqlite_factory_open(&(ss_sqlite_options){.path = path}, &f, err, sizeof err);
    dprintf(fd, "%s %s", ss_rc_name(rc), err);
    if (f)
        ss_storage_factory_free(f);
}

static void child_open_as_nobody(int fd, const char *path) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
        dprintf(fd, "cannot drop privileges");
        return;
    }
    child_open(fd, path);
}

Test(sqlite_schema, a_read_only_file_gives_a_clear_message) {
    const char *path = tmp_path("ro.db");
    ss_stream_factory *f = open_db(path, false);
    create_n(f, "s", 1);
    ss_storage_factory_free(f);
    cr_assert_eq(chmod(tmp_dir, 0777), 0); /* nobody (below) must reach the file */
    cr_assert_eq(chmod(path, 0444), 0);
    char out[512];
    /* root writes read-only files anyway: the check runs as nobody then. */
    in_child(child_open_as_nobody, path, out, sizeof out);
    assert_contains(out, "SS_IOERR");
    assert_contains(out, "is read-only");
    assert_contains(out, path);
}

/* ==== two processes ============================================================== */

Test(sqlite_ownership, a_second_process_on_the_same_file_is_refused_while_the_first_holds_it) {
    const char *path = tmp_path("own.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 1);
    char out[512];
    in_child(child_open, path, out, sizeof out);
    char want[128];
    snprintf(want, sizeof want, "is in use by another streamsy process (pid %ld)", (long)getpid());
    assert_contains(out, "SS_BUSY");
    assert_contains(out, want);
    assert_contains(out, path);
    /* The same process cannot open it twice either. */
    const char *err = open_fails(path, SS_BUSY);
    assert_contains(err, "already open in this process");
    cr_assert_eq(ss_storage_flush(f), SS_OK, "the holder is unaffected");
    ss_storage_factory_free(f);
    /* Closed: the next process gets it. */
    in_child(child_open, path, out, sizeof out);
    cr_assert(strncmp(out, "SS_OK", 5) == 0, "%s", out);
    f = open_db(path, false);
    assert_messages(f, "s", 1, 1);
    ss_storage_factory_free(f);
}

static void child_open_and_die(int fd, const char *path) {
    ss_stream_factory *f = NULL;
    char err[256] = "";
    ss_rc rc =
        ss_sqlite_factory_open(&(ss_sqlite_options){.path = path, .group_commit = true}, &f, err, sizeof err);
    dprintf(fd, "%s %s", ss_rc_name(rc), err);
    _exit(0); /* no destroy: the kernel drops the lock */
}

Test(sqlite_ownership, the_lock_goes_away_with_a_process_that_dies_holding_it) {
    const char *path = tmp_path("own.db");
    char out[512];
    in_child(child_open_and_die, path, out, sizeof out);
    cr_assert(strncmp(out, "SS_OK", 5) == 0, "%s", out);
    ss_storage_factory_free(open_db(path, false));
}

/* Two paths to one file would give SQLite two WAL files for one database:
 * acknowledged commits lost, the file corrupted (issue 9, item 1). The lock
 * is on the file itself, whatever path names it. */
Test(sqlite_ownership, a_hard_link_or_a_symlink_to_an_open_database_is_refused) {
    const char *path = tmp_path("own.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 1);
    char hard[512], soft[512];
    snprintf(hard, sizeof hard, "%s/hard.db", tmp_dir);
    snprintf(soft, sizeof soft, "%s/soft.db", tmp_dir);
    cr_assert_eq(link(path, hard), 0);
    cr_assert_eq(symlink(path, soft), 0);
    const char *err = open_fails(hard, SS_BUSY);
    assert_contains(err, "already open in this process");
    err = open_fails(soft, SS_BUSY);
    assert_contains(err, "already open in this process");
    char out[512], want[128];
    snprintf(want, sizeof want, "is in use by another streamsy process (pid %ld)", (long)getpid());
    in_child(child_open, hard, out, sizeof out);
    assert_contains(out, "SS_BUSY");
    assert_contains(out, want);
    in_child(child_open, soft, out, sizeof out);
    assert_contains(out, "SS_BUSY");
    cr_assert_eq(ss_storage_flush(f), SS_OK, "the holder is unaffected");
    ss_storage_factory_free(f);
    /* Released: the file opens through the other name, with its data. */
    f = open_db(hard, false);
    assert_messages(f, "s", 1, 1);
    ss_storage_factory_free(f);
}

/* ==== full disks ================================================================= */

/* Caps the database at its current size plus `extra` pages. */
static void cap_pages(ss_stream_factory *f, int extra) {
    sqlite3 *db = ss__sqlite_db(f);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int pages = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %d", pages + extra);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void uncap_pages(ss_stream_factory *f) {
    cr_assert_eq(sqlite3_exec(ss__sqlite_db(f), "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                 SQLITE_OK);
}

static char big[256 * 1024];

/* An append of one 256 KiB message after `from`. */
static ss_mutation_plan big_append(unsigned from, ss_message *m) {
    memset(big, 'x', sizeof big);
    *m = (ss_message){ss_slice_of(big, sizeof big), off(from + 1), T0};
    return append_plan(from, m, 1);
}

Test(sqlite_full, an_append_that_does_not_fit_is_full_and_leaves_the_stream_unchanged) {
    const char *path = tmp_path("full.db");
    ss_stream_factory *f = open_db(path, false);
    create_n(f, "s", 2);
    cap_pages(f, 4);
    ss_message m;
    ss_mutation_plan p = big_append(2, &m);
    p.has_producer = true;
    p.producer.id = S("p");
    p.producer.next = (ss_producer){1, 0};
    cr_assert_eq(commit_rc(f, "s", &p, NULL), SS_FULL);
    cr_assert_eq(tail_of(f, "s"), 2);
    assert_messages(f, "s", 1, 2);
    ss_storage_stream *h;
    cr_assert_eq(ss_storage_open(f, S("s"), &h), SS_OK);
    ss_producer prod;
    bool found = true;
    cr_assert_eq(ss_storage_get_producer(h, S("p"), &prod, &found), SS_OK);
    cr_assert_not(found);
    ss_storage_close(h);
    append_one(f, "s", 2); /* a small one still fits */
    uncap_pages(f);
    cr_assert_eq(commit_rc(f, "s", (ss_mutation_plan[]){big_append(3, &m)}, NULL), SS_OK, "room again");
    ss_storage_factory_free(f);
    f = open_db(path, false);
    cr_assert_eq(tail_of(f, "s"), 4);
    ss_storage_factory_free(f);
}

Test(sqlite_full, with_group_commit_a_full_disk_fails_the_append_and_the_batch_at_flush) {
    const char *path = tmp_path("full.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 1);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cap_pages(f, 4);
    append_one(f, "s", 1); /* fits, in the open batch */
    cr_assert_eq(tail_of(f, "s"), 2, "the open batch is read back (and cached)");
    ss_message m;
    ss_mutation_plan p = big_append(2, &m);
    cr_assert_eq(commit_rc(f, "s", &p, NULL), SS_FULL);
    /* SQLite rolls back the whole transaction on SQLITE_FULL: the batch is
     * gone, and the flush reports it for the append that had succeeded. */
    cr_assert_eq(tail_of(f, "s"), 1, "the state of the last flush");
    cr_assert_eq(ss_storage_flush(f), SS_FULL);
    cr_assert_not(in_transaction(f));
    cr_assert_eq(ss_storage_flush(f), SS_OK, "reported once");
    uncap_pages(f);
    append_one(f, "s", 1);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    ss_storage_factory_free(f);
    f = open_db(path, false);
    assert_messages(f, "s", 1, 2);
    ss_storage_factory_free(f);
}

Test(sqlite_full, with_group_commit_writes_after_a_lost_batch_are_rolled_back_with_it) {
    ss_stream_factory *f = open_db(tmp_path("full.db"), true);
    create_n(f, "s", 1);
    create_n(f, "t", 1);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cap_pages(f, 4);
    append_one(f, "s", 1);
    ss_message m;
    ss_mutation_plan p = big_append(1, &m);
    cr_assert_eq(commit_rc(f, "t", &p, NULL), SS_FULL);
    uncap_pages(f);
    append_one(f, "t", 1); /* a new transaction, but the turn's batch already failed */
    cr_assert_eq(ss_storage_flush(f), SS_FULL);
    cr_assert_eq(tail_of(f, "s"), 1);
    cr_assert_eq(tail_of(f, "t"), 1, "everything since the last good flush is rolled back");
    ss_storage_factory_free(f);
}

/* A VFS over the default one whose WAL writes fail on demand: a disk that
 * fills up exactly when the batch is committed. */
typedef struct shim_file {
    sqlite3_file base;
    sqlite3_file *real;
    bool wal;
} shim_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static int fail_wal_writes; /* SQLITE_OK, or the error to return */

#define REAL(f) (((shim_file *)(f))->real)

static int x_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int x_read(sqlite3_file *f, void *p, int n, sqlite3_int64 o) {
    return REAL(f)->pMethods->xRead(REAL(f), p, n, o);
}
static int x_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 o) {
    if (((shim_file *)f)->wal && fail_wal_writes)
        return fail_wal_writes;
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, o);
}
static int x_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int x_sync(sqlite3_file *f, int flags) { return REAL(f)->pMethods->xSync(REAL(f), flags); }
static int x_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int x_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int x_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int x_reserved(sqlite3_file *f, int *out) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }
static int x_control(sqlite3_file *f, int op, void *arg) {
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int x_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int x_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int x_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp) {
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int x_shm_lock(sqlite3_file *f, int o, int n, int flags) {
    return REAL(f)->pMethods->xShmLock(REAL(f), o, n, flags);
}
static void x_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int x_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int x_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp) {
    return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp);
}
static int x_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) {
    return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static const sqlite3_io_methods shim_io = {
    3,          x_close,       x_read,      x_write,   x_truncate, x_sync,   x_size,
    x_lock,     x_unlock,      x_reserved,  x_control, x_sector,   x_device, x_shm_map,
    x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch,   x_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    shim_file *sf = (shim_file *)file;
    sf->real = (sqlite3_file *)(sf + 1);
    sf->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out_flags);
    sf->base.pMethods = sf->real->pMethods ? &shim_io : NULL;
    return rc;
}

static void install_shim_vfs(void) {
    real_vfs = sqlite3_vfs_find(NULL);
    cr_assert_not_null(real_vfs);
    cr_assert_geq(real_vfs->iVersion, 2);
    shim_vfs = *real_vfs;
    shim_vfs.zName = "streamsy-test-shim";
    shim_vfs.szOsFile = (int)sizeof(shim_file) + real_vfs->szOsFile;
    shim_vfs.xOpen = shim_open;
    cr_assert_eq(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK); /* the default from now on */
}

Test(sqlite_full, a_commit_that_fails_at_flush_is_rolled_back_and_the_database_is_unchanged) {
    install_shim_vfs();
    const char *path = tmp_path("shim.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 2);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    append_one(f, "s", 2);
    create_n(f, "t", 1);
    cr_assert_eq(tail_of(f, "s"), 3);
    assert_messages(f, "s", 1, 3); /* the batch, read back (and cached) */
    fail_wal_writes = SQLITE_FULL;
    cr_assert_eq(ss_storage_flush(f), SS_FULL);
    fail_wal_writes = SQLITE_OK;
    cr_assert_not(in_transaction(f));
    cr_assert_eq(tail_of(f, "s"), 2, "the batch is gone");
    cr_assert_not(exists(f, "t"));
    assert_messages(f, "s", 1, 2);
    /* The factory carries on. */
    append_one(f, "s", 2);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    /* An I/O error at COMMIT is reported as such. */
    append_one(f, "s", 3);
    fail_wal_writes = SQLITE_IOERR_WRITE;
    cr_assert_eq(ss_storage_flush(f), SS_IOERR);
    fail_wal_writes = SQLITE_OK;
    cr_assert_eq(tail_of(f, "s"), 3);
    ss_storage_factory_free(f);
    f = open_db(path, false);
    cr_assert_eq(tail_of(f, "s"), 3);
    assert_messages(f, "s", 1, 3);
    cr_assert_not(exists(f, "t"));
    ss_storage_factory_free(f);
}

/* ==== the log layout (schema version 3, src/storage/sql/log.c) ================== */

/* Appends m<from+1> .. m<from+count> to `id` at tail `from`, one commit each. */
static void append_range(ss_stream_factory *f, const char *id, unsigned from, unsigned count) {
    for (unsigned k = from + 1; k <= from + count; k++) {
        char text[16];
        snprintf(text, sizeof text, "m%u", k);
        ss_message m = {S(text), off(k), T0 + k};
        ss_mutation_plan p = append_plan(k - 1, &m, 1);
        cr_assert_eq(commit_rc(f, id, &p, NULL), SS_OK, "append %u", k);
    }
}

/* Lists `id` with opts and checks it returns m<first> .. m<first+n-1>. */
static void assert_window(ss_stream_factory *f, const char *id, ss_list_opts o, unsigned first, size_t n,
                          bool more) {
    ss_storage_stream *s;
    cr_assert_eq(ss_storage_open(f, S(id), &s), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(s, &o, &a, &b), SS_OK);
    cr_assert_eq(b.n, n, "after %s: %zu messages, expected %zu", o.has_after ? o.after.s : "-", b.n, n);
    cr_assert_eq(b.more, more);
    for (size_t i = 0; i < n; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%u", first + (unsigned)i);
        cr_assert(ss_slice_eq_cstr(b.msgs[i].data, want), "message %zu: %.*s, expected %s", i,
                  (int)b.msgs[i].data.len, b.msgs[i].data.p, want);
        ss_offset w = off(first + (unsigned)i);
        cr_assert(ss_offset_eq(&b.msgs[i].offset, &w));
        cr_assert_eq(b.msgs[i].ts_ms, T0 + first + i);
    }
    ss_arena_release(&a);
    ss_storage_close(s);
}

/* Every window over 200 messages (three packed rows of 64 and 8 log rows). */
static void assert_every_window(ss_stream_factory *f, const char *id) {
    for (unsigned after = 0; after <= 200; after++)
        assert_window(f, id, (ss_list_opts){.has_after = after > 0, .after = off(after)}, after + 1, 200 - after,
                      false);
    assert_window(f, id, (ss_list_opts){.has_after = true, .after = off(60), .limit = 10}, 61, 10, true);
    assert_window(f, id, (ss_list_opts){.has_after = true, .after = off(50), .has_until = true, .until = off(130)},
                  51, 80, false);
    assert_window(f, id,
                  (ss_list_opts){.has_after = true, .after = off(190), .has_until = true, .until = off(195)}, 191,
                  5, false);
    /* "m100".."m127" are 4 bytes each: 40 bytes hold 10 of them. */
    assert_window(f, id, (ss_list_opts){.has_after = true, .after = off(99), .max_bytes = 40}, 100, 10, true);
}

Test(sqlite_log, appends_are_packed_every_64_and_read_back_from_any_offset_before_and_after_a_restart) {
    for (int group = 0; group < 2; group++) {
        const char *path = tmp_path(group ? "log-g.db" : "log.db");
        ss_stream_factory *f = open_db(path, group);
        create_n(f, "s", 0);
        append_range(f, "s", 0, 200);
        cr_assert_eq(ss_storage_flush(f), SS_OK);
        cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_messages WHERE chunk = 64"), 3);
        cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_messages WHERE chunk IS NULL"), 0);
        cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_log"), 200, "packed rows wait for the cut");
        assert_every_window(f, "s");
        ss_storage_factory_free(f);
        /* The lists come back from the log, without the rows already packed. */
        f = open_db(path, group);
        assert_every_window(f, "s");
        append_range(f, "s", 200, 1); /* and appends carry on from them */
        cr_assert_eq(ss_storage_flush(f), SS_OK);
        assert_window(f, "s", (ss_list_opts){.has_after = true, .after = off(190)}, 191, 11, false);
        ss_storage_factory_free(f);
    }
}

Test(sqlite_log, the_log_is_cut_below_its_oldest_unpacked_row) {
    const char *path = tmp_path("cut.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 0);
    append_range(f, "s", 0, 1100);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    int64_t rows = raw_int(path, "SELECT count(*) FROM streamsy_log");
    cr_assert_leq(rows, 1100 - 1024 + SS_SQL_CHUNK_MESSAGES, "the cut ran (%lld rows left)", (long long)rows);
    ss_storage_factory_free(f);
    f = open_db(path, true);
    assert_window(f, "s", (ss_list_opts){.has_after = true, .after = off(1000)}, 1001, 100, false);
    assert_window(f, "s", (ss_list_opts){.limit = 3}, 1, 3, true);
    ss_storage_factory_free(f);
}

Test(sqlite_log, a_quiet_stream_is_packed_early_once_it_falls_a_window_behind) {
    const char *path = tmp_path("quiet.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "quiet", 0);
    create_n(f, "busy", 0);
    append_range(f, "quiet", 0, 3); /* holds the cut back until it is packed */
    append_range(f, "busy", 0, 1100);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_log"), 1103, "nothing below the quiet rows is cut");
    unsigned n = SS_SQL_LOG_WINDOW + 2 * SS_SQL_LOG_CUT_EVERY;
    append_range(f, "busy", 1100, n);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_messages WHERE stream_id = 'quiet'"), 1,
                 "packed early, in a row of its 3 messages");
    int64_t rows = raw_int(path, "SELECT count(*) FROM streamsy_log");
    cr_assert_lt(rows, 2 * SS_SQL_LOG_CUT_EVERY, "the cut went past the quiet rows (%lld left)", (long long)rows);
    ss_storage_factory_free(f);
    f = open_db(path, true);
    assert_window(f, "quiet", (ss_list_opts){0}, 1, 3, false);
    assert_window(f, "busy", (ss_list_opts){.has_after = true, .after = off(1100 + n - 5)}, 1100 + n - 4, 5,
                  false);
    ss_storage_factory_free(f);
}

Test(sqlite_log, a_deleted_stream_leaves_nothing_in_the_log_for_its_namesake) {
    const char *path = tmp_path("del.db");
    ss_stream_factory *f = open_db(path, true);
    create_n(f, "s", 0);
    append_range(f, "s", 0, 100); /* one packed row, 36 listed, 100 log rows */
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    delete_stream(f, "s");
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_log WHERE stream_id = 's'"), 0);
    create_n(f, "s", 3);
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    assert_messages(f, "s", 1, 3);
    ss_storage_factory_free(f);
    f = open_db(path, true);
    assert_messages(f, "s", 1, 3);
    ss_storage_factory_free(f);
}

Test(sqlite_log, a_version_2_file_keeps_its_messages_and_appends_after_them) {
    const char *path = tmp_path("v2.db");
    raw_exec(path, ss__sql_schema_v1);
    raw_exec(path, ss__sql_schema_v2);
    raw_exec(path, "CREATE TABLE streamsy_schema_version (version INTEGER PRIMARY KEY,"
                   "  applied_at_ms INTEGER NOT NULL) STRICT;"
                   "INSERT INTO streamsy_schema_version VALUES (1, 0), (2, 0)");
    char sql[512];
    ss_offset tail = off(3);
    snprintf(sql, sizeof sql,
             "INSERT INTO streamsy_streams (stream_id, content_type, created_at, current_offset, counter) "
             "VALUES ('s', 'text/plain', %lld, '%s', 3)",
             (long long)T0, tail.s);
    raw_exec(path, sql);
    for (unsigned k = 1; k <= 3; k++) { /* one row per message, as version 2 stored them */
        ss_offset o = off(k);
        snprintf(sql, sizeof sql, "INSERT INTO streamsy_messages VALUES ('s', '%s', %lld, CAST('m%u' AS BLOB))",
                 o.s, (long long)(T0 + k), k);
        raw_exec(path, sql);
    }
    ss_stream_factory *f = open_db(path, true);
    cr_assert_eq(raw_int(path, "SELECT max(version) FROM streamsy_schema_version"), 3);
    assert_messages(f, "s", 1, 3);
    append_range(f, "s", 3, 70); /* 64 packed into one row, 6 stay listed */
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_messages WHERE chunk IS NULL"), 3);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_messages WHERE chunk = 64"), 1);
    for (unsigned after = 0; after <= 73; after++)
        assert_window(f, "s", (ss_list_opts){.has_after = after > 0, .after = off(after)}, after + 1, 73 - after,
                      false);
    ss_storage_factory_free(f);
    f = open_db(path, true);
    assert_window(f, "s", (ss_list_opts){.has_after = true, .after = off(2)}, 3, 71, false);
    ss_storage_factory_free(f);
}

/* Packed rows stay within SS_SQL_CHUNK_BYTES whatever the message sizes:
 * with rows capped at 1 MiB, 64 appends of 100 KiB and of 300 KiB pack
 * (several small ones to a row, a large one alone) and the stream carries on. */
Test(sqlite_log, packing_keeps_rows_within_the_row_budget) {
    const char *path = tmp_path("rowcap.db");
    ss_stream_factory *f = open_db(path, true);
    sqlite3_limit(ss__sqlite_db(f), SQLITE_LIMIT_LENGTH, 1 << 20);
    create_n(f, "s", 0);
    static char body[300 << 10];
    for (unsigned k = 1; k <= 140; k++) {
        size_t len = k % 2 ? (100u << 10) : sizeof body;
        memset(body, 'a' + (int)(k % 26), len);
        ss_message m = {ss_slice_of(body, len), off(k), T0 + k};
        ss_mutation_plan p = append_plan(k - 1, &m, 1);
        cr_assert_eq(commit_rc(f, "s", &p, NULL), SS_OK, "append %u", k);
    }
    cr_assert_eq(ss_storage_flush(f), SS_OK);
    cr_assert_leq(raw_int(path, "SELECT max(length(data)) FROM streamsy_messages WHERE chunk IS NOT NULL"),
                  (int64_t)SS_SQL_CHUNK_BYTES);
    cr_assert_eq(raw_int(path, "SELECT count(*) FROM streamsy_messages WHERE chunk IS NULL"), 64,
                 "the 300 KiB messages of the two packs are rows of their own");
    ss_storage_stream *s;
    cr_assert_eq(ss_storage_open(f, S("s"), &s), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(s, &(ss_list_opts){0}, &a, &b), SS_OK);
    cr_assert_eq(b.n, 140);
    for (unsigned k = 1; k <= 140; k++) {
        cr_assert_eq(b.msgs[k - 1].data.len, k % 2 ? (100u << 10) : sizeof body, "message %u", k);
        cr_assert_eq(b.msgs[k - 1].data.p[0], 'a' + (int)(k % 26));
    }
    ss_arena_release(&a);
    ss_storage_close(s);
    ss_storage_factory_free(f);
}

/* A full disk in the middle of an append that wrote to the log: the lists
 * are dropped and reloaded, and both streams carry on without a gap or a
 * duplicate, before and after a restart. */
Test(sqlite_log, a_failed_append_after_its_log_write_leaves_both_streams_whole) {
    for (int group = 0; group < 2; group++) {
        const char *path = tmp_path(group ? "lost-g.db" : "lost.db");
        ss_stream_factory *f = open_db(path, group);
        create_n(f, "s", 0);
        create_n(f, "t", 0);
        append_range(f, "s", 0, 63);
        append_range(f, "t", 0, 10);
        cr_assert_eq(ss_storage_flush(f), SS_OK);
        cap_pages(f, 4);
        ss_message m;
        cr_assert_eq(commit_rc(f, "s", (ss_mutation_plan[]){big_append(63, &m)}, NULL), SS_FULL);
        uncap_pages(f);
        ss_rc flushed = ss_storage_flush(f); /* SS_FULL if SQLite dropped the (otherwise empty) batch */
        cr_assert(flushed == SS_OK || flushed == SS_FULL, "%s", ss_rc_name(flushed));
        append_range(f, "t", 10, 60);
        append_range(f, "s", 63, 70);
        cr_assert_eq(ss_storage_flush(f), SS_OK);
        assert_window(f, "s", (ss_list_opts){0}, 1, 133, false);
        assert_window(f, "t", (ss_list_opts){0}, 1, 70, false);
        ss_storage_factory_free(f);
        f = open_db(path, group);
        assert_window(f, "s", (ss_list_opts){0}, 1, 133, false);
        assert_window(f, "t", (ss_list_opts){0}, 1, 70, false);
        ss_storage_factory_free(f);
    }
}
