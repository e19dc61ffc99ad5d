/* Forks across Durable Objects: one factory per object (each on its own
 * native Durable Object SQL host), one protocol per object, and a small
 * synchronous driver standing in for the workerd shim's calls between
 * objects: export at the source, import at the child, the fork PUT, the
 * post-check, and delivery of outbox edge drops up the chain. The shim runs
 * the same steps asynchronously (workerd/worker.js). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "do_sqlite_host.h"
#include "streamsy/durable_object.h"
#include "streamsy/protocol.h"

/* Rows holding messages: stored rows and log rows (one per message while
 * fewer than SS_SQL_CHUNK_MESSAGES were appended to a stream: nothing packed). */
#define MESSAGE_ROWS_SQL "SELECT (SELECT count(*) FROM streamsy_messages) + (SELECT count(*) FROM streamsy_log)"

#define MAX_OBJECTS 4
#define T0 1767225600000

typedef struct object {
    char id[32]; /* the stream this object holds */
    do_sqlite_host host;
    ss_stream_factory *f;
    ss_protocol *p;
} object;

typedef struct cluster {
    int64_t now_ms;
    ss_clock clock;
    object objs[MAX_OBJECTS];
    size_t n;
    char dir[64];
} cluster;

static cluster C;

static int64_t now(void *ctx) { return ((cluster *)ctx)->now_ms; }

static ss_slice S(const char *s) { return ss_slice_cstr(s); }

static void object_open(object *o) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s.sqlite", C.dir, o->id);
    cr_assert(do_sqlite_host_open(&o->host, path));
    cr_assert_eq(ss_do_factory_open(&o->host.host, &o->f), SS_OK);
    ss_protocol_options po = {.storage = o->f, .clock = &C.clock};
    cr_assert_eq(ss_protocol_new(&po, &o->p), SS_OK);
}

static void object_close(object *o) {
    ss_protocol_free(o->p);
    ss_storage_factory_free(o->f);
    do_sqlite_host_close(&o->host);
}

/* The object that holds stream `id` (idFromName), created on first use. */
static object *obj(const char *id) {
    for (size_t i = 0; i < C.n; i++)
        if (strcmp(C.objs[i].id, id) == 0)
            return &C.objs[i];
    cr_assert_lt(C.n, MAX_OBJECTS);
    object *o = &C.objs[C.n++];
    snprintf(o->id, sizeof o->id, "%s", id);
    object_open(o);
    return o;
}

static void setup(void) {
    memset(&C, 0, sizeof C);
    C.now_ms = T0;
    C.clock = (ss_clock){now, &C};
    snprintf(C.dir, sizeof C.dir, "/tmp/streamsy-do-XXXXXX");
    cr_assert_not_null(mkdtemp(C.dir));
}

static void teardown(void) {
    for (size_t i = 0; i < C.n; i++) {
        object_close(&C.objs[i]);
        char path[128];
        snprintf(path, sizeof path, "%s/%s.sqlite", C.dir, C.objs[i].id);
        unlink(path);
    }
    rmdir(C.dir);
}

TestSuite(durable_object, .init = setup, .fini = teardown);

/* ---- the driver (what the shim does) ---------------------------------------------------- */

/* Delivers every queued edge drop of `o`, and of the objects they purge. */
static void deliver_outbox(object *o) {
    for (;;) {
        ss_arena a;
        ss_arena_init(&a);
        ss_do_outbox_entry e;
        bool found;
        cr_assert_eq(ss_do_outbox_next(o->f, &a, &e, &found), SS_OK);
        if (!found) {
            ss_arena_release(&a);
            return;
        }
        char parent[32];
        snprintf(parent, sizeof parent, "%.*s", (int)e.parent.len, e.parent.p);
        object *to = obj(parent);
        bool purged = false;
        cr_assert_eq(ss_do_drop_child(to->f, e.parent, e.child, &purged), SS_OK);
        cr_assert_eq(ss_do_outbox_done(o->f, e.seq), SS_OK);
        ss_arena_release(&a);
        deliver_outbox(to);
    }
}

static void create(const char *id, const char *data) {
    object *o = obj(id);
    ss_arena a;
    ss_arena_init(&a);
    ss_create_options co = {.content_type = S("text/plain"), .initial_data = S(data)};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(o->p, S(id), &co, &a, &r), SS_OK);
    cr_assert_eq(r.status, SS_CREATE_CREATED);
    ss_stream_release(r.stream);
    ss_arena_release(&a);
}

/* The fork PUT as the shim runs it; returns the create status, with the
 * source object's export status in *export_status. */
static int fork_across(const char *child, const char *source, const char *content_type,
                       ss_do_export_status *export_status) {
    object *co = obj(child), *so = obj(source);
    deliver_outbox(co); /* an older drop for this edge must not overtake the new one */
    ss_get_result g;    /* lazy expiry at the source first */
    cr_assert_eq(ss_protocol_get(so->p, S(source), &g), SS_OK);
    if (g.stream)
        ss_stream_release(g.stream);
    ss_buf snap;
    ss_buf_init(&snap, SS_DO_SNAPSHOT_MAX_BYTES);
    ss_do_export_status st;
    cr_assert_eq(ss_do_fork_export(so->f, S(source), S(child), &snap, &st), SS_OK);
    if (export_status)
        *export_status = st;
    if (snap.len)
        cr_assert_eq(ss_do_fork_import(co->f, ss_buf_slice(&snap)), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_create_options o = {.content_type = S(content_type), .forked_from = S(source)};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(co->p, S(child), &o, &a, &r), SS_OK);
    if (r.stream)
        ss_stream_release(r.stream);
    ss_arena_release(&a);
    bool is_fork;
    cr_assert_eq(ss_do_is_fork_of(co->f, S(child), S(source), &is_fork), SS_OK);
    if (st == SS_DO_EXPORTED && !is_fork) /* compensate: the recorded edge is not needed */
        cr_assert_eq(ss_do_outbox_add(co->f, S(source), S(child)), SS_OK);
    cr_assert_eq(ss_do_gc_mirrors(co->f), SS_OK);
    deliver_outbox(co);
    ss_buf_release(&snap);
    return (int)r.status;
}

static void append(const char *id, const char *data) {
    object *o = obj(id);
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(o->p, S(id), &g), SS_OK);
    cr_assert_eq(g.status, SS_PRESENT);
    ss_arena a;
    ss_arena_init(&a);
    ss_append_options ao = {.data = S(data), .content_type = S("text/plain")};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(g.stream, &ao, &a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED);
    ss_stream_release(g.stream);
    ss_arena_release(&a);
}

/* The whole stream as text, or NULL for 404, "GONE" for 410. */
static char *read_all(const char *id) {
    object *o = obj(id);
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(o->p, S(id), &g), SS_OK);
    if (g.status != SS_PRESENT)
        return g.status == SS_GONE ? strdup("GONE") : NULL;
    ss_arena a;
    ss_arena_init(&a);
    ss_read_result r;
    cr_assert_eq(ss_stream_read(g.stream, &(ss_read_options){0}, &a, &r), SS_OK);
    size_t len = 0;
    for (size_t i = 0; i < r.n; i++)
        len += r.msgs[i].data.len;
    char *s = malloc(len + 1), *p = s;
    for (size_t i = 0; i < r.n; i++) {
        memcpy(p, r.msgs[i].data.p, r.msgs[i].data.len);
        p += r.msgs[i].data.len;
    }
    *p = '\0';
    ss_stream_release(g.stream);
    ss_arena_release(&a);
    return s;
}

static void assert_content(const char *id, const char *want) {
    char *got = read_all(id);
    if (!want)
        cr_assert_null(got, "%s: expected not found, got '%s'", id, got ? got : "");
    else {
        cr_assert_not_null(got, "%s: not found", id);
        cr_assert_str_eq(got, want, "%s", id);
    }
    free(got);
}

static ss_presence delete_stream(const char *id) {
    object *o = obj(id);
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(o->p, S(id), &g), SS_OK);
    if (g.status != SS_PRESENT)
        return g.status == SS_GONE ? SS_GONE : SS_NOT_FOUND;
    ss_presence st;
    cr_assert_eq(ss_stream_delete(g.stream, &st), SS_OK);
    ss_stream_release(g.stream);
    deliver_outbox(o);
    return st;
}

static int64_t count(object *o, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(o->host.db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ---- cases ------------------------------------------------------------------------------ */

Test(durable_object, a_fork_in_another_object_reads_the_source_prefix_and_its_own_messages) {
    create("src", "ab");
    append("src", "cd");
    cr_assert_eq(fork_across("kid", "src", "text/plain", NULL), SS_CREATE_CREATED);
    append("src", "XX"); /* after the fork: not the fork's */
    append("kid", "ef");
    assert_content("kid", "abcdef");
    assert_content("src", "abcdXX");
    cr_assert_eq(count(obj("kid"), "SELECT count(*) FROM streamsy_do_mirrors"), 1);
    cr_assert_eq(count(obj("src"), "SELECT count(*) FROM streamsy_do_children"), 1);
}

Test(durable_object, a_fork_of_a_fork_stitches_the_whole_chain_in_its_own_object) {
    create("a", "1");
    cr_assert_eq(fork_across("b", "a", "text/plain", NULL), SS_CREATE_CREATED);
    append("b", "2");
    cr_assert_eq(fork_across("c", "b", "text/plain", NULL), SS_CREATE_CREATED);
    append("c", "3");
    append("a", "x");
    append("b", "y");
    assert_content("c", "123");
    cr_assert_eq(count(obj("c"), "SELECT count(*) FROM streamsy_do_mirrors"), 2, "b and a are mirrored in c");
}

Test(durable_object, a_source_with_a_fork_elsewhere_is_soft_deleted_and_purged_with_its_last_fork) {
    create("src", "ab");
    cr_assert_eq(fork_across("kid", "src", "text/plain", NULL), SS_CREATE_CREATED);
    cr_assert_eq(delete_stream("src"), SS_PRESENT);
    assert_content("src", "GONE");
    assert_content("kid", "ab");
    cr_assert_eq(delete_stream("src"), SS_GONE);
    ss_do_export_status st;
    cr_assert_eq(fork_across("kid2", "src", "text/plain", &st), SS_CREATE_CONFLICT,
                 "as the source's object would");
    cr_assert_eq(st, SS_DO_EXPORT_SOFT_DELETED);
    cr_assert_eq(count(obj("kid2"), "SELECT count(*) FROM streamsy_streams"), 0, "the soft-deleted mirror went");
    cr_assert_eq(delete_stream("kid"), SS_PRESENT);
    assert_content("kid", NULL);
    assert_content("src", NULL); /* the edge drop purged it */
    cr_assert_eq(count(obj("kid"), "SELECT count(*) FROM streamsy_do_mirrors"), 0);
    cr_assert_eq(count(obj("kid"), MESSAGE_ROWS_SQL), 0);
    create("src", "new"); /* a fresh stream under the old name */
    assert_content("src", "new");
}

Test(durable_object, a_delete_cascades_through_three_soft_deleted_objects) {
    create("a", "1");
    cr_assert_eq(fork_across("b", "a", "text/plain", NULL), SS_CREATE_CREATED);
    cr_assert_eq(fork_across("c", "b", "text/plain", NULL), SS_CREATE_CREATED);
    cr_assert_eq(delete_stream("a"), SS_PRESENT);
    cr_assert_eq(delete_stream("b"), SS_PRESENT);
    assert_content("a", "GONE");
    assert_content("b", "GONE");
    cr_assert_eq(delete_stream("c"), SS_PRESENT);
    assert_content("c", NULL);
    assert_content("b", NULL);
    assert_content("a", NULL);
    for (size_t i = 0; i < C.n; i++)
        cr_assert_eq(count(&C.objs[i], "SELECT count(*) FROM streamsy_streams"), 0, "%s is empty", C.objs[i].id);
}

Test(durable_object, a_refused_fork_leaves_no_edge_and_no_mirror) {
    create("src", "ab");
    cr_assert_eq(fork_across("kid", "src", "application/json", NULL), SS_CREATE_CONFLICT);
    cr_assert_eq(count(obj("src"), "SELECT count(*) FROM streamsy_do_children"), 0);
    cr_assert_eq(count(obj("kid"), "SELECT count(*) FROM streamsy_streams"), 0);
    ss_do_export_status st;
    cr_assert_eq(fork_across("kid", "missing", "text/plain", &st), SS_CREATE_NOT_FOUND);
    cr_assert_eq(st, SS_DO_EXPORT_NOT_FOUND);
    cr_assert_eq(delete_stream("src"), SS_PRESENT);
    assert_content("src", NULL); /* purged at once: nothing depends on it */
}

Test(durable_object, a_repeated_fork_put_keeps_one_edge_and_the_childs_prefix) {
    create("src", "ab");
    cr_assert_eq(fork_across("kid", "src", "text/plain", NULL), SS_CREATE_CREATED);
    append("src", "cd");
    cr_assert_eq(fork_across("kid", "src", "text/plain", NULL), SS_CREATE_EXISTS);
    cr_assert_eq(count(obj("src"), "SELECT count(*) FROM streamsy_do_children"), 1);
    assert_content("kid", "ab");
}

Test(durable_object, an_undelivered_edge_drop_survives_a_restart_and_redelivery_is_harmless) {
    create("src", "ab");
    cr_assert_eq(fork_across("kid", "src", "text/plain", NULL), SS_CREATE_CREATED);
    cr_assert_eq(delete_stream("src"), SS_PRESENT);
    /* Delete the fork without delivering the drop (the source's object is unreachable). */
    object *k = obj("kid");
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(k->p, S("kid"), &g), SS_OK);
    ss_presence st;
    cr_assert_eq(ss_stream_delete(g.stream, &st), SS_OK);
    ss_stream_release(g.stream);
    assert_content("src", "GONE");
    object_close(k); /* the object is evicted and starts again */
    object_open(k);
    ss_arena a;
    ss_arena_init(&a);
    ss_do_outbox_entry e;
    bool found;
    cr_assert_eq(ss_do_outbox_next(k->f, &a, &e, &found), SS_OK);
    cr_assert(found);
    cr_assert(ss_slice_eq(e.parent, S("src")) && ss_slice_eq(e.child, S("kid")));
    bool purged;
    cr_assert_eq(ss_do_drop_child(obj("src")->f, e.parent, e.child, &purged), SS_OK);
    cr_assert(purged);
    cr_assert_eq(ss_do_drop_child(obj("src")->f, e.parent, e.child, &purged), SS_OK, "delivered twice");
    cr_assert_not(purged);
    ss_arena_release(&a);
    deliver_outbox(k);
    assert_content("src", NULL);
}

Test(durable_object, a_host_failure_in_the_middle_of_a_commit_writes_nothing) {
    create("s", "ab");
    object *o = obj("s");
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(o->p, S("s"), &g), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_append_result r;
    ss_append_options ao = {.data = S("cd"), .content_type = S("text/plain")};
    /* Count the statements of one append in the steady state (the first
     * after a write re-reads the record the write dropped from the engine's
     * cache), then fail the last of them (the record update, after the
     * message insert) in the next one. */
    cr_assert_eq(ss_stream_append(g.stream, &ao, &a, &r), SS_OK);
    long before = o->host.execs;
    ao.data = S("ef");
    cr_assert_eq(ss_stream_append(g.stream, &ao, &a, &r), SS_OK);
    long per_append = o->host.execs - before;
    cr_assert_geq(per_append, 3);
    o->host.fail_at = o->host.execs + per_append;
    ao.data = S("gh");
    ss_rc rc = ss_stream_append(g.stream, &ao, &a, &r);
    cr_assert_neq(rc, SS_OK, "the failure is reported");
    o->host.fail_at = 0;
    ss_stream_release(g.stream);
    ss_arena_release(&a);
    assert_content("s", "abcdef");
    cr_assert_eq(count(o, MESSAGE_ROWS_SQL), 3, "the inserted message was rolled back");
}

Test(durable_object, the_host_refuses_what_durable_object_sql_refuses) {
    object *o = obj("s");
    cr_assert_eq(o->host.host.exec(o->host.host.ctx, "BEGIN", NULL, 0, NULL, NULL), SS_NOTSUP);
    cr_assert_eq(o->host.host.exec(o->host.host.ctx, "PRAGMA user_version", NULL, 0, NULL, NULL), SS_NOTSUP);
    ss_sql_value big = ss_sql_int(9007199254740993LL);
    cr_assert_eq(o->host.host.exec(o->host.host.ctx, "SELECT ?1", &big, 1, NULL, NULL), SS_BADARG);
}

Test(durable_object, every_truncation_of_a_snapshot_is_refused_as_corrupt) {
    create("src", "hello");
    append("src", "world");
    object *o = obj("src");
    ss_buf snap;
    ss_buf_init(&snap, SS_DO_SNAPSHOT_MAX_BYTES);
    ss_do_export_status st;
    cr_assert_eq(ss_do_fork_export(o->f, S("src"), S("kid"), &snap, &st), SS_OK);
    cr_assert_eq(st, SS_DO_EXPORTED);
    object *k = obj("kid");
    for (size_t len = 0; len < snap.len; len++)
        cr_assert_eq(ss_do_fork_import(k->f, ss_slice_of(snap.p, len)), SS_CORRUPT, "length %zu", len);
    char *bad = malloc(snap.len);
    memcpy(bad, snap.p, snap.len);
    bad[snap.len - 1] ^= 0x55; /* the last message's data: still well-formed */
    cr_assert_eq(ss_do_fork_import(k->f, ss_slice_of(bad, snap.len)), SS_OK);
    bad[0] = 'X';
    cr_assert_eq(ss_do_fork_import(k->f, ss_slice_of(bad, snap.len)), SS_CORRUPT);
    free(bad);
    ss_buf_release(&snap);
}

/* Appends `data` to `id` through the protocol; returns its rc. */
static ss_rc append_rc(const char *id, ss_slice data) {
    object *o = obj(id);
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(o->p, S(id), &g), SS_OK);
    ss_arena a;
    ss_arena_init(&a);
    ss_append_options ao = {.data = data, .content_type = S("text/plain")};
    ss_append_result r;
    ss_rc rc = ss_stream_append(g.stream, &ao, &a, &r);
    ss_stream_release(g.stream);
    ss_arena_release(&a);
    return rc;
}

/* Durable Object SQL takes at most 2 MB in a row: packing 64 appends of 40 KB
 * (2.5 MB) must split them into rows under it, and the stream carries on. */
Test(durable_object, packing_stays_under_the_row_limit) {
    create("s", "");
    object *o = obj("s");
    sqlite3_limit(o->host.db, SQLITE_LIMIT_LENGTH, 2000000);
    static char body[40000];
    for (int k = 0; k < 70; k++) {
        memset(body, 'a' + k % 26, sizeof body);
        cr_assert_eq(append_rc("s", ss_slice_of(body, sizeof body)), SS_OK, "append %d", k);
    }
    cr_assert_eq(append_rc("s", S("tiny")), SS_OK);
    cr_assert_gt(count(o, "SELECT count(*) FROM streamsy_messages WHERE chunk IS NOT NULL"), 1);
    char *got = read_all("s");
    cr_assert_eq(strlen(got), 70 * sizeof body + 4);
    for (int k = 0; k < 70; k++)
        cr_assert_eq(got[(size_t)k * sizeof body], 'a' + k % 26, "message %d", k);
    free(got);
}
