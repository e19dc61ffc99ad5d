/* The storage contract suite: every adapter must pass these cases unchanged.
 *
 * Each CONTRACT_CASE below becomes one Criterion test per row of the factory
 * table (suite = adapter, test = case), each in its own process with a fresh
 * factory. FORK_CASEs are skipped, after checking the capability, on factories
 * without fork. The adapters' contract is spelled out in streamsy/storage.h;
 * this is STREAMSY.md §20 adapted to our seam: there is no awaitChange in the
 * vtable, so instead of waiters the cases check that the wrappers run a
 * plan's AfterCommitEffects through the effect host after (and only after) a
 * successful commit.
 *
 * To add an adapter, add one line to CONTRACT_FACTORIES. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "do_sqlite_host.h"
#include "fault_alloc.h"
#include "streamsy/durable_object.h"
#include "streamsy/memory.h"
#include "streamsy/sqlite.h"
#include "streamsy/storage.h"

/* ---- the factory table ---------------------------------------------------- */

static ss_rc make_memory(ss_stream_factory **out) { return ss_memory_factory_new(NULL, out); }

static ss_rc make_memory_forkless(ss_stream_factory **out) {
    return ss_memory_factory_new(&(ss_memory_options){.forkless = true}, out);
}

static ss_rc make_sqlite_memory(ss_stream_factory **out) {
    return ss_sqlite_factory_open(&(ss_sqlite_options){.path = ":memory:"}, out, NULL, 0);
}

/* A fresh database file in a temporary directory, removed when the test's
 * process exits. group_commit: every case runs in one open transaction that
 * is never flushed, so the cases also prove that commits are visible to
 * reads before a flush (the flush itself is covered in sqlite_test.c). */
static char sqlite_dir[64];

static void remove_sqlite_dir(void) {
    static const char *const suffixes[] = {"", "-wal", "-shm", "-lock", "-journal"};
    char path[128];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s/contract.db%s", sqlite_dir, suffixes[i]);
        unlink(path);
    }
    rmdir(sqlite_dir);
}

static ss_rc make_sqlite_file_at(bool group_commit, ss_stream_factory **out) {
    snprintf(sqlite_dir, sizeof sqlite_dir, "/tmp/streamsy-contract-XXXXXX");
    cr_assert_not_null(mkdtemp(sqlite_dir));
    atexit(remove_sqlite_dir);
    char path[128];
    snprintf(path, sizeof path, "%s/contract.db", sqlite_dir);
    char err[256];
    ss_rc rc = ss_sqlite_factory_open(&(ss_sqlite_options){.path = path, .group_commit = group_commit}, out, err,
                                      sizeof err);
    cr_assert_eq(rc, SS_OK, "%s", err);
    return rc;
}

static ss_rc make_sqlite_file(ss_stream_factory **out) { return make_sqlite_file_at(true, out); }

/* Without group commit: every intent is its own durable transaction. */
static ss_rc make_sqlite_file_autocommit(ss_stream_factory **out) { return make_sqlite_file_at(false, out); }

/* The Durable Object factory on a native host with Durable Object SQL's
 * rules (tests/support/do_sqlite_host.c); the same adapter runs in workerd. */
static do_sqlite_host do_host;

static void close_do_host(void) { do_sqlite_host_close(&do_host); }

static ss_rc make_durable_object(ss_stream_factory **out) {
    cr_assert(do_sqlite_host_open(&do_host, ":memory:"));
    atexit(close_do_host);
    return ss_do_factory_open(&do_host.host, out);
}

/* X(suite, constructor, can fork, case): one line per adapter. */
#define CONTRACT_FACTORIES(X, c)                                                                                  \
    X(memory, make_memory, true, c)                                                                               \
    X(memory_forkless, make_memory_forkless, false, c)                                                            \
    X(sqlite_memory, make_sqlite_memory, true, c)                                                                 \
    X(sqlite_file, make_sqlite_file, true, c)                                                                     \
    X(sqlite_file_autocommit, make_sqlite_file_autocommit, true, c)                                               \
    X(durable_object, make_durable_object, true, c)

/* ---- the per-test environment ------------------------------------------- */

#define T0 1767225600000 /* 2026-01-01T00:00:00Z */
#define MAX_CALLS 16

typedef enum call_kind { CALL_NOTIFY, CALL_SCHEDULE, CALL_CANCEL } call_kind;

typedef struct effect_call {
    call_kind kind;
    char id[32];
    int64_t at_ms;
} effect_call;

/* The effect host: records every call the wrappers make. */
typedef struct recorder {
    effect_call calls[MAX_CALLS];
    size_t n;
} recorder;

typedef struct env {
    const char *adapter;
    ss_stream_factory *f;
    ss_arena a; /* every result of a case lands here */
    recorder effects;
} env;

static void record_call(void *ctx, call_kind kind, ss_slice id, int64_t at_ms) {
    recorder *r = ctx;
    cr_assert_lt(r->n, MAX_CALLS, "too many effect calls");
    effect_call *c = &r->calls[r->n++];
    c->kind = kind;
    c->at_ms = at_ms;
    snprintf(c->id, sizeof c->id, "%.*s", (int)id.len, id.p);
}

static void host_notify(void *ctx, ss_slice id) { record_call(ctx, CALL_NOTIFY, id, 0); }
static void host_schedule(void *ctx, ss_slice id, int64_t at_ms) { record_call(ctx, CALL_SCHEDULE, id, at_ms); }
static void host_cancel(void *ctx, ss_slice id) { record_call(ctx, CALL_CANCEL, id, 0); }

static size_t calls_of(const env *e, call_kind kind, const char *id) {
    size_t n = 0;
    for (size_t i = 0; i < e->effects.n; i++)
        if (e->effects.calls[i].kind == kind && strcmp(e->effects.calls[i].id, id) == 0)
            n++;
    return n;
}

static void contract_run(const char *adapter, ss_rc (*make)(ss_stream_factory **), bool forks, bool needs_fork,
                         void (*body)(env *)) {
    env e = {.adapter = adapter};
    cr_assert_eq(make(&e.f), SS_OK, "%s: factory constructed", adapter);
    cr_assert_eq(ss_storage_can_fork(e.f), forks, "%s: fork capability matches the factory table", adapter);
    if (needs_fork && !forks) {
        ss_storage_factory_free(e.f);
        cr_skip_test("%s has no fork", adapter);
    }
    ss_storage_set_effect_host(e.f, &(ss_effect_host){host_notify, host_schedule, host_cancel, &e.effects});
    ss_arena_init(&e.a);
    body(&e);
    ss_arena_release(&e.a);
    ss_storage_factory_free(e.f);
}

#define CONTRACT_TEST_FOR(suite, make, forks, c)                                                                  \
    Test(suite, c) { contract_run(#suite, make, forks, c##_needs_fork, c##_body); }

#define CONTRACT_CASE_(c, needs_fork)                                                                             \
    static void c##_body(env *e);                                                                                 \
    enum { c##_needs_fork = needs_fork };                                                                         \
    CONTRACT_FACTORIES(CONTRACT_TEST_FOR, c)                                                                      \
    static void c##_body(env *e)

/* A case every adapter runs. */
#define CONTRACT_CASE(c) CONTRACT_CASE_(c, 0)
/* A case that needs fork; skipped on forkless factories. */
#define FORK_CASE(c) CONTRACT_CASE_(c, 1)

/* ---- helpers: offsets, records, plans ------------------------------------ */

static ss_slice S(const char *s) { return ss_slice_cstr(s); }

/* "0000000000000000_000000000000000N" */
static ss_offset off(unsigned n) {
    char s[40];
    snprintf(s, sizeof s, "0000000000000000_%016u", n);
    ss_offset o;
    cr_assert_eq(ss_offset_set(&o, S(s)), SS_OK);
    return o;
}

/* The message at offset N carries "mN". */
static const char *const PAYLOAD[] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"};
#define MAX_MSGS 8

typedef struct msgs {
    ss_message m[MAX_MSGS];
    size_t n;
} msgs;

/* n messages "m<k>" at offsets first+1 .. first+n. */
static msgs msgs_from(unsigned first, size_t n) {
    cr_assert_leq(first + n, MAX_MSGS);
    msgs out = {.n = n};
    for (size_t i = 0; i < n; i++) {
        unsigned k = first + (unsigned)i + 1;
        out.m[i] = (ss_message){S(PAYLOAD[k]), off(k), T0 + k};
    }
    return out;
}

/* A fresh, empty, live record. */
static ss_record record_of(const char *id) {
    return (ss_record){.id = S(id), .content_type = S("text/plain"), .created_ms = T0, .tail = off(0)};
}

/* An append of `m` at expected tail `from`; the patch moves tail and counter. */
static ss_mutation_plan append_plan(unsigned from, const msgs *m) {
    ss_mutation_plan p = {.has_expected_tail = true, .expected_tail = off(from), .msgs = m->m, .n_msgs = m->n};
    p.patch.set = SS_PATCH_TAIL | SS_PATCH_COUNTER;
    p.patch.tail = off(from + (unsigned)m->n);
    p.patch.counter = from + m->n;
    return p;
}

static ss_storage_stream *open_stream(env *e, const char *id) {
    ss_storage_stream *s = NULL;
    cr_assert_eq(ss_storage_open(e->f, S(id), &s), SS_OK);
    cr_assert_not_null(s);
    return s;
}

static ss_create_outcome create_plan(env *e, const ss_create_plan *p) {
    ss_create_outcome o;
    cr_assert_eq(ss_storage_create(e->f, p, &e->a, &o), SS_OK);
    return o;
}

/* Creates `id` holding messages m1..mN (tail N, counter N). */
static void create_stream(env *e, const char *id, unsigned n) {
    ss_record rec = record_of(id);
    rec.tail = off(n);
    rec.counter = n;
    msgs m = msgs_from(0, n);
    ss_create_plan p = {.record = rec, .msgs = m.m, .n_msgs = m.n};
    ss_create_outcome o = create_plan(e, &p);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_CREATED, "%s created", id);
}

static ss_commit_outcome commit(env *e, const char *id, const ss_mutation_plan *p) {
    ss_storage_stream *s = open_stream(e, id);
    ss_commit_outcome o;
    cr_assert_eq(ss_storage_commit(s, p, &e->a, &o), SS_OK);
    ss_storage_close(s);
    return o;
}

static void assert_committed(const ss_commit_outcome *o) {
    cr_assert_eq(o->status, SS_COMMIT_COMMITTED, "commit should succeed (reason %d)", (int)o->reason);
    cr_assert(o->has_record);
}

static void assert_failed(const ss_commit_outcome *o, ss_fail_reason reason) {
    cr_assert_eq(o->status, SS_COMMIT_PRECONDITION_FAILED);
    cr_assert_eq(o->reason, reason, "reason %d, expected %d", (int)o->reason, (int)reason);
}

/* Sets up producer `pid` on `id` with state {epoch, seq} by one insert commit
 * carrying message m<tail+1>. */
static void insert_producer(env *e, const char *id, unsigned tail, const char *pid, ss_producer state) {
    msgs m = msgs_from(tail, 1);
    ss_mutation_plan p = append_plan(tail, &m);
    p.has_producer = true;
    p.producer.id = S(pid);
    p.producer.next = state;
    ss_commit_outcome o = commit(e, id, &p);
    assert_committed(&o);
}

static ss_create_outcome fork_stream(env *e, const char *child, const char *source, unsigned at) {
    ss_record rec = record_of(child);
    rec.forked_from = S(source);
    rec.fork_offset = off(at);
    rec.tail = off(at);
    ss_fork_plan p = {.child = rec, .source_id = S(source), .source_live_at = off(at)};
    ss_create_outcome o;
    cr_assert_eq(ss_storage_fork(e->f, &p, &e->a, &o), SS_OK);
    return o;
}

static void fork_ok(env *e, const char *child, const char *source, unsigned at) {
    ss_create_outcome o = fork_stream(e, child, source, at);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_CREATED, "fork %s from %s", child, source);
}

static ss_delete_outcome delete_plan(env *e, const ss_delete_plan *p) {
    ss_delete_outcome o;
    cr_assert_eq(ss_storage_delete(e->f, p, &o), SS_OK);
    return o;
}

static ss_delete_outcome delete_stream(env *e, const char *id, ss_delete_reason reason) {
    return delete_plan(e, &(ss_delete_plan){.id = S(id), .reason = reason});
}

/* ---- helpers: reading back ------------------------------------------------ */

static bool read_record(env *e, const char *id, ss_record *out) {
    ss_storage_stream *s = open_stream(e, id);
    bool found = true;
    cr_assert_eq(ss_storage_get_record(s, &e->a, out, &found), SS_OK);
    ss_storage_close(s);
    return found;
}

static ss_record must_read_record(env *e, const char *id) {
    ss_record r;
    cr_assert(read_record(e, id, &r), "%s should exist", id);
    return r;
}

static bool exists(env *e, const char *id) {
    ss_record r;
    return read_record(e, id, &r);
}

static ss_message_batch list(env *e, const char *id, const ss_list_opts *o) {
    ss_storage_stream *s = open_stream(e, id);
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(s, o, &e->a, &b), SS_OK);
    ss_storage_close(s);
    return b;
}

static size_t count_messages(env *e, const char *id) { return list(e, id, &(ss_list_opts){0}).n; }

static bool read_producer(env *e, const char *id, const char *pid, ss_producer *out) {
    ss_storage_stream *s = open_stream(e, id);
    bool found = true;
    cr_assert_eq(ss_storage_get_producer(s, S(pid), out, &found), SS_OK);
    ss_storage_close(s);
    return found;
}

static void assert_offset(const ss_offset *got, unsigned want) {
    ss_offset w = off(want);
    cr_assert(ss_offset_eq(got, &w), "offset %s, expected %s", got->s, w.s);
}

/* The batch holds exactly m<first> .. m<first+n-1> at their offsets. */
static void assert_batch(const ss_message_batch *b, unsigned first, size_t n) {
    cr_assert_eq(b->n, n, "%zu messages, expected %zu", b->n, n);
    for (size_t i = 0; i < n; i++) {
        unsigned k = first + (unsigned)i;
        cr_assert(ss_slice_eq_cstr(b->msgs[i].data, PAYLOAD[k]), "message %zu is %.*s, expected %s", i,
                  (int)b->msgs[i].data.len, b->msgs[i].data.p, PAYLOAD[k]);
        assert_offset(&b->msgs[i].offset, k);
        cr_assert_eq(b->msgs[i].ts_ms, T0 + k);
    }
}

static void assert_slice(ss_slice got, const char *want) {
    cr_assert(ss_slice_eq_cstr(got, want), "\"%.*s\", expected \"%s\"", (int)got.len, got.p, want);
}

static void assert_same_record(const ss_record *a, const ss_record *b) {
    cr_assert(ss_slice_eq(a->id, b->id));
    cr_assert(ss_slice_eq(a->content_type, b->content_type));
    cr_assert_eq(a->created_ms, b->created_ms);
    cr_assert_eq(a->has_ttl, b->has_ttl);
    cr_assert_eq(a->ttl_s, b->ttl_s);
    cr_assert(ss_slice_eq(a->expires_at, b->expires_at));
    cr_assert_eq(a->has_expires_at_ms, b->has_expires_at_ms);
    if (a->has_expires_at_ms)
        cr_assert_eq(a->expires_at_ms, b->expires_at_ms);
    cr_assert_eq(a->has_last_seq, b->has_last_seq);
    if (a->has_last_seq)
        cr_assert(ss_slice_eq(a->last_seq, b->last_seq));
    cr_assert_eq(a->closed, b->closed);
    if (a->closed)
        cr_assert_eq(a->closed_ms, b->closed_ms);
    cr_assert(ss_slice_eq(a->forked_from, b->forked_from));
    if (a->forked_from.len) {
        cr_assert(ss_offset_eq(&a->fork_offset, &b->fork_offset));
        cr_assert_eq(a->fork_sub_offset, b->fork_sub_offset);
    }
    cr_assert_eq(a->soft_deleted, b->soft_deleted);
    cr_assert(ss_offset_eq(&a->tail, &b->tail), "tail %s, expected %s", a->tail.s, b->tail.s);
    cr_assert_eq(a->counter, b->counter);
}

/* A plan that would write everything: two messages after `from`, a full
 * patch, an insert of producer "p", and every effect. */
static ss_mutation_plan full_plan(unsigned from, const msgs *m) {
    ss_mutation_plan p = append_plan(from, m);
    p.patch.set |= SS_PATCH_CLOSED | SS_PATCH_LAST_SEQ | SS_PATCH_EXPIRES_AT_MS;
    p.patch.closed_ms = T0 + 1;
    p.patch.last_seq = S("seq-9");
    p.patch.expires_at_ms = T0 + 99000;
    p.has_producer = true;
    p.producer.id = S("p");
    p.producer.next = (ss_producer){7, 7};
    p.effects = (ss_after_commit_effects){.notify = true, .schedule_expiry = true, .expiry_at_ms = T0 + 99000};
    return p;
}

/* Nothing changed on `id` since `before` was read and `n_msgs` counted;
 * producer "p" is in state `*prod` (NULL: absent); no effect ran. */
static void assert_nothing_written(env *e, const char *id, const ss_record *before, size_t n_msgs,
                                   const ss_producer *prod) {
    ss_record now = must_read_record(e, id);
    assert_same_record(&now, before);
    cr_assert_eq(count_messages(e, id), n_msgs);
    ss_producer got;
    bool found = read_producer(e, id, "p", &got);
    cr_assert_eq(found, prod != NULL);
    if (prod) {
        cr_assert_eq(got.epoch, prod->epoch);
        cr_assert_eq(got.last_seq, prod->last_seq);
    }
    cr_assert_eq(e->effects.n, 0, "no effect runs for a failed commit");
}

/* ==== create ================================================================ */

CONTRACT_CASE(create_stores_the_record_and_its_initial_messages) {
    ss_record rec = record_of("s");
    rec.tail = off(2);
    rec.counter = 2;
    rec.has_ttl = true;
    rec.ttl_s = 60;
    rec.has_expires_at_ms = true;
    rec.expires_at_ms = T0 + 60000;
    rec.has_last_seq = true;
    rec.last_seq = S("a1");
    msgs m = msgs_from(0, 2);
    ss_create_plan p = {.record = rec, .msgs = m.m, .n_msgs = m.n};
    ss_create_outcome o = create_plan(e, &p);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_CREATED);
    assert_same_record(&o.record, &rec);
    ss_record stored = must_read_record(e, "s");
    assert_same_record(&stored, &rec);
    ss_message_batch b = list(e, "s", &(ss_list_opts){0});
    assert_batch(&b, 1, 2);
    cr_assert_not(b.more);
}

CONTRACT_CASE(a_second_create_is_exists_with_the_existing_record) {
    create_stream(e, "s", 2);
    ss_record other = record_of("s");
    other.content_type = S("application/json");
    other.closed = true;
    msgs m = msgs_from(4, 1);
    ss_create_plan p = {.record = other, .msgs = m.m, .n_msgs = m.n};
    ss_create_outcome o = create_plan(e, &p);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_EXISTS);
    assert_slice(o.record.content_type, "text/plain");
    assert_offset(&o.record.tail, 2);
    cr_assert_not(o.record.closed);
    ss_record stored = must_read_record(e, "s");
    assert_same_record(&stored, &o.record);
    ss_message_batch b = list(e, "s", &(ss_list_opts){0});
    assert_batch(&b, 1, 2);
}

CONTRACT_CASE(create_keeps_a_record_that_arrives_closed) {
    ss_record rec = record_of("s");
    rec.closed = true;
    rec.closed_ms = T0 + 5;
    ss_create_plan p = {.record = rec};
    ss_create_outcome o = create_plan(e, &p);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_CREATED);
    cr_assert(o.record.closed);
    cr_assert_eq(o.record.closed_ms, T0 + 5);
    ss_record stored = must_read_record(e, "s");
    cr_assert(stored.closed);
    cr_assert_eq(stored.closed_ms, T0 + 5);
    cr_assert_eq(count_messages(e, "s"), 0);
}

CONTRACT_CASE(a_handle_opened_before_create_sees_the_stream_and_outlives_its_purge) {
    ss_storage_stream *s = open_stream(e, "s");
    ss_record r;
    bool found = true;
    cr_assert_eq(ss_storage_get_record(s, &e->a, &r, &found), SS_OK);
    cr_assert_not(found);
    create_stream(e, "s", 1);
    cr_assert_eq(ss_storage_get_record(s, &e->a, &r, &found), SS_OK);
    cr_assert(found);
    assert_offset(&r.tail, 1);
    cr_assert_eq(delete_stream(e, "s", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    cr_assert_eq(ss_storage_get_record(s, &e->a, &r, &found), SS_OK);
    cr_assert_not(found);
    ss_storage_close(s);
}

/* ==== commit ================================================================= */

CONTRACT_CASE(commit_advances_tail_and_counter_and_the_messages_are_listable) {
    create_stream(e, "s", 0);
    msgs m = msgs_from(0, 2);
    ss_mutation_plan p = append_plan(0, &m);
    ss_commit_outcome o = commit(e, "s", &p);
    assert_committed(&o);
    assert_offset(&o.record.tail, 2);
    cr_assert_eq(o.record.counter, 2);
    ss_record stored = must_read_record(e, "s");
    assert_same_record(&stored, &o.record);
    ss_message_batch b = list(e, "s", &(ss_list_opts){0});
    assert_batch(&b, 1, 2);
    /* A second append continues from the new tail. */
    msgs more = msgs_from(2, 1);
    p = append_plan(2, &more);
    o = commit(e, "s", &p);
    assert_committed(&o);
    assert_offset(&o.record.tail, 3);
    cr_assert_eq(o.record.counter, 3);
    b = list(e, "s", &(ss_list_opts){0});
    assert_batch(&b, 1, 3);
}

CONTRACT_CASE(a_later_close_only_commit_folds_closed) {
    create_stream(e, "s", 2);
    ss_mutation_plan p = {
        .has_expected_tail = true, .expected_tail = off(2), .has_expected_closed = true, .expected_closed = false};
    p.patch.set = SS_PATCH_CLOSED;
    p.patch.closed_ms = T0 + 9;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_committed(&o);
    cr_assert(o.record.closed);
    cr_assert_eq(o.record.closed_ms, T0 + 9);
    assert_offset(&o.record.tail, 2);
    cr_assert_eq(o.record.counter, 2);
    ss_record stored = must_read_record(e, "s");
    assert_same_record(&stored, &o.record);
    cr_assert_eq(count_messages(e, "s"), 2);
}

CONTRACT_CASE(a_stale_expected_tail_fails_with_reason_offset_and_writes_nothing) {
    create_stream(e, "s", 2);
    ss_record before = must_read_record(e, "s");
    msgs m = msgs_from(2, 2);
    ss_mutation_plan p = full_plan(1, &m); /* expects tail 1; the tail is 2 */
    e->effects.n = 0;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_failed(&o, SS_FAIL_OFFSET);
    cr_assert(o.has_record, "the latest record comes back");
    assert_same_record(&o.record, &before);
    assert_nothing_written(e, "s", &before, 2, NULL);
}

CONTRACT_CASE(a_commit_to_a_missing_stream_fails_with_reason_offset_and_no_record) {
    msgs m = msgs_from(0, 1);
    ss_mutation_plan p = full_plan(0, &m);
    ss_commit_outcome o = commit(e, "ghost", &p);
    assert_failed(&o, SS_FAIL_OFFSET);
    cr_assert_not(o.has_record);
    cr_assert_not(exists(e, "ghost"));
    cr_assert_eq(count_messages(e, "ghost"), 0);
    ss_producer prod;
    cr_assert_not(read_producer(e, "ghost", "p", &prod));
    cr_assert_eq(e->effects.n, 0);
}

CONTRACT_CASE(a_violated_expected_closed_fails_with_reason_closed_and_writes_nothing) {
    ss_record rec = record_of("s");
    rec.tail = off(1);
    rec.counter = 1;
    rec.closed = true;
    rec.closed_ms = T0 + 3;
    msgs first = msgs_from(0, 1);
    ss_create_plan cp = {.record = rec, .msgs = first.m, .n_msgs = first.n};
    cr_assert_eq(create_plan(e, &cp).status, SS_CREATE_OUTCOME_CREATED);
    ss_record before = must_read_record(e, "s");
    msgs m = msgs_from(1, 2);
    ss_mutation_plan p = full_plan(1, &m);
    p.has_expected_closed = true;
    p.expected_closed = false;
    e->effects.n = 0;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_failed(&o, SS_FAIL_CLOSED);
    cr_assert(o.has_record);
    cr_assert(o.record.closed);
    assert_nothing_written(e, "s", &before, 1, NULL);
}

CONTRACT_CASE(offset_is_reported_when_both_offset_and_closed_fail) {
    create_stream(e, "s", 2);
    ss_record before = must_read_record(e, "s");
    msgs m = msgs_from(2, 1);
    ss_mutation_plan p = full_plan(0, &m);
    p.expected_tail = off(1);
    p.has_expected_closed = true;
    p.expected_closed = true; /* the stream is open */
    e->effects.n = 0;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_failed(&o, SS_FAIL_OFFSET);
    assert_nothing_written(e, "s", &before, 2, NULL);
}

CONTRACT_CASE(closed_is_reported_when_both_closed_and_producer_fail) {
    create_stream(e, "s", 0);
    insert_producer(e, "s", 0, "p", (ss_producer){1, 0});
    ss_record before = must_read_record(e, "s");
    msgs m = msgs_from(1, 1);
    ss_mutation_plan p = append_plan(1, &m);
    p.has_expected_closed = true;
    p.expected_closed = true; /* the stream is open */
    p.has_producer = true;
    p.producer.id = S("p");
    p.producer.has_expected = true;
    p.producer.expected = (ss_producer){1, 5}; /* stored is {1, 0} */
    p.producer.next = (ss_producer){1, 6};
    p.effects.notify = true;
    e->effects.n = 0;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_failed(&o, SS_FAIL_CLOSED);
    assert_nothing_written(e, "s", &before, 1, &(ss_producer){1, 0});
}

CONTRACT_CASE(a_producer_cas_with_the_wrong_expected_state_fails_and_writes_nothing) {
    create_stream(e, "s", 0);
    insert_producer(e, "s", 0, "p", (ss_producer){1, 0});
    ss_record before = must_read_record(e, "s");
    const ss_producer wrong[] = {{1, 7}, {2, 0}, {0, 0}};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        msgs m = msgs_from(1, 2);
        ss_mutation_plan p = full_plan(1, &m);
        p.producer.has_expected = true;
        p.producer.expected = wrong[i];
        p.producer.next = (ss_producer){wrong[i].epoch, wrong[i].last_seq + 1};
        e->effects.n = 0;
        ss_commit_outcome o = commit(e, "s", &p);
        assert_failed(&o, SS_FAIL_PRODUCER);
        cr_assert(o.has_record);
        assert_same_record(&o.record, &before);
        assert_nothing_written(e, "s", &before, 1, &(ss_producer){1, 0});
    }
}

CONTRACT_CASE(a_producer_insert_when_the_producer_exists_fails_with_reason_producer) {
    create_stream(e, "s", 0);
    insert_producer(e, "s", 0, "p", (ss_producer){1, 0});
    ss_record before = must_read_record(e, "s");
    msgs m = msgs_from(1, 1);
    ss_mutation_plan p = full_plan(1, &m); /* has_expected false: insert if absent */
    p.producer.next = (ss_producer){1, 0};
    e->effects.n = 0;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_failed(&o, SS_FAIL_PRODUCER);
    assert_nothing_written(e, "s", &before, 1, &(ss_producer){1, 0});
}

CONTRACT_CASE(a_new_producer_past_the_limit_fails_with_reason_producer_limit_and_writes_nothing) {
    create_stream(e, "s", 0);
    insert_producer(e, "s", 0, "p1", (ss_producer){0, 0});
    insert_producer(e, "s", 1, "p2", (ss_producer){0, 0});
    ss_record before = must_read_record(e, "s");
    msgs m = msgs_from(2, 1);
    ss_mutation_plan p = append_plan(2, &m);
    p.has_producer = true;
    p.producer.id = S("p3");
    p.producer.next = (ss_producer){0, 0};
    p.producer.max_producers = 2;
    p.effects.notify = true;
    e->effects.n = 0;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_failed(&o, SS_FAIL_PRODUCER_LIMIT);
    ss_record after = must_read_record(e, "s");
    cr_assert(ss_offset_eq(&after.tail, &before.tail), "nothing written");
    cr_assert_eq(e->effects.n, 0);
    /* A producer that exists carries on under the same limit. */
    p.producer.id = S("p1");
    p.producer.has_expected = true;
    p.producer.expected = (ss_producer){0, 0};
    p.producer.next = (ss_producer){0, 1};
    o = commit(e, "s", &p);
    assert_committed(&o);
}

CONTRACT_CASE(messages_patch_and_producer_upsert_land_together) {
    create_stream(e, "s", 0);
    create_stream(e, "t", 0);
    msgs m = msgs_from(0, 2);
    ss_mutation_plan p = append_plan(0, &m);
    p.patch.set |= SS_PATCH_LAST_SEQ | SS_PATCH_EXPIRES_AT_MS;
    p.patch.last_seq = S("seq-1");
    p.patch.expires_at_ms = T0 + 30000;
    p.has_producer = true;
    p.producer.id = S("p");
    p.producer.next = (ss_producer){3, 1};
    ss_commit_outcome o = commit(e, "s", &p);
    assert_committed(&o);
    cr_assert(o.record.has_last_seq);
    assert_slice(o.record.last_seq, "seq-1");
    cr_assert(o.record.has_expires_at_ms);
    cr_assert_eq(o.record.expires_at_ms, T0 + 30000);
    assert_offset(&o.record.tail, 2);
    ss_record stored = must_read_record(e, "s");
    assert_same_record(&stored, &o.record);
    ss_message_batch b = list(e, "s", &(ss_list_opts){0});
    assert_batch(&b, 1, 2);
    ss_producer prod;
    cr_assert(read_producer(e, "s", "p", &prod));
    cr_assert_eq(prod.epoch, 3);
    cr_assert_eq(prod.last_seq, 1);
    cr_assert_not(read_producer(e, "s", "q", &prod), "another producer id is unaffected");
    cr_assert_not(read_producer(e, "t", "p", &prod), "producers belong to one stream");

    /* A CAS with the right expected state moves the producer on. */
    msgs next = msgs_from(2, 1);
    p = append_plan(2, &next);
    p.patch.set |= SS_PATCH_LAST_SEQ;
    p.patch.last_seq = S("seq-2");
    p.has_producer = true;
    p.producer.id = S("p");
    p.producer.has_expected = true;
    p.producer.expected = (ss_producer){3, 1};
    p.producer.next = (ss_producer){3, 2};
    o = commit(e, "s", &p);
    assert_committed(&o);
    assert_slice(o.record.last_seq, "seq-2");
    cr_assert(read_producer(e, "s", "p", &prod));
    cr_assert_eq(prod.epoch, 3);
    cr_assert_eq(prod.last_seq, 2);
    cr_assert_eq(count_messages(e, "s"), 3);
}

CONTRACT_CASE(a_ttl_touch_sets_expires_at_without_moving_tail_or_counter) {
    create_stream(e, "s", 2);
    ss_mutation_plan p = {.has_expected_tail = true, .expected_tail = off(2)};
    p.patch.set = SS_PATCH_EXPIRES_AT_MS;
    p.patch.expires_at_ms = T0 + 120000;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_committed(&o);
    assert_offset(&o.record.tail, 2);
    cr_assert_eq(o.record.counter, 2);
    cr_assert(o.record.has_expires_at_ms);
    cr_assert_eq(o.record.expires_at_ms, T0 + 120000);
    ss_record stored = must_read_record(e, "s");
    assert_same_record(&stored, &o.record);
    cr_assert_eq(count_messages(e, "s"), 2);
}

/* ==== list_messages ========================================================== */

CONTRACT_CASE(list_returns_messages_in_ascending_offset_order) {
    create_stream(e, "s", 2);
    msgs m = msgs_from(2, 3);
    ss_mutation_plan p = append_plan(2, &m);
    ss_commit_outcome o = commit(e, "s", &p);
    assert_committed(&o);
    ss_message_batch b = list(e, "s", &(ss_list_opts){0});
    assert_batch(&b, 1, 5);
    cr_assert_not(b.more);
    for (size_t i = 1; i < b.n; i++)
        cr_assert_lt(ss_offset_cmp(&b.msgs[i - 1].offset, &b.msgs[i].offset), 0);
}

/* Listed bytes belong to the caller's arena, not to the stream: they stay
 * intact (and NUL-terminated) after the stream is purged and its id reused,
 * until the arena is released. (The memory adapter and the SQL engine's
 * cache, warmed by the first list, lend their own bytes and pin them: a
 * missing pin is a use after free under ASan and, without it, shows as the
 * new stream's bytes.) */
CONTRACT_CASE(listed_bytes_outlive_a_purge_of_their_stream_until_the_arena_goes) {
    create_stream(e, "s", 3);
    assert_batch((ss_message_batch[]){list(e, "s", &(ss_list_opts){0})}, 1, 3);
    ss_arena mine;
    ss_arena_init(&mine);
    ss_storage_stream *s = open_stream(e, "s");
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(s, &(ss_list_opts){0}, &mine, &b), SS_OK);
    ss_storage_close(s);
    cr_assert_eq(delete_stream(e, "s", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    ss_record rec = record_of("s");
    rec.tail = off(3);
    rec.counter = 3;
    ss_message other[3] = {{S("xx"), off(1), T0 + 1}, {S("yy"), off(2), T0 + 2}, {S("zz"), off(3), T0 + 3}};
    ss_create_outcome o = create_plan(e, &(ss_create_plan){.record = rec, .msgs = other, .n_msgs = 3});
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_CREATED);
    assert_batch(&b, 1, 3);
    for (size_t i = 0; i < b.n; i++)
        cr_assert_eq(b.msgs[i].data.p[b.msgs[i].data.len], '\0', "message %zu is NUL-terminated", i);
    cr_assert_eq(list(e, "s", &(ss_list_opts){0}).n, 3);
    ss_arena_release(&mine);
}

/* ---- the memory adapter's pins hold only what was read -------------------- */

/* A reader of a purged stream keeps the blocks of its window alive, not the
 * whole stream: 8 messages of 64 KiB, one read of the last, then the purge
 * frees the other seven while the read's arena lives. */
Test(memory_pins, a_read_of_a_purged_stream_holds_its_window_not_the_stream) {
    fault_alloc_install();
    env e = {0};
    cr_assert_eq(ss_memory_factory_new(NULL, &e.f), SS_OK);
    ss_arena_init(&e.a);
    size_t empty = fault_alloc_live_bytes();
    enum { BIG = 64 * 1024, N = 8 };
    char *payload = calloc(N, BIG + 1);
    ss_message m[N];
    for (unsigned i = 0; i < N; i++) {
        memset(payload + i * (BIG + 1), 'a' + (int)i, BIG);
        m[i] = (ss_message){ss_slice_of(payload + i * (BIG + 1), BIG), off(i + 1), T0 + i + 1};
    }
    ss_record rec = record_of("big");
    rec.tail = off(N);
    rec.counter = N;
    cr_assert_eq(create_plan(&e, &(ss_create_plan){.record = rec, .msgs = m, .n_msgs = N}).status,
                 SS_CREATE_OUTCOME_CREATED);
    ss_arena mine;
    ss_arena_init(&mine);
    ss_storage_stream *s = open_stream(&e, "big");
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(s, &(ss_list_opts){.has_after = true, .after = off(N - 1)}, &mine, &b),
                 SS_OK);
    ss_storage_close(s);
    cr_assert_eq(b.n, 1);
    cr_assert_eq(delete_stream(&e, "big", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    size_t held = fault_alloc_live_bytes() - empty;
    cr_assert(held >= BIG && held < 2 * BIG, "the purge left %zu bytes: the read's block and little else", held);
    cr_assert(b.msgs[0].data.len == BIG && b.msgs[0].data.p[0] == 'a' + N - 1 &&
              b.msgs[0].data.p[BIG - 1] == 'a' + N - 1);
    ss_arena_release(&mine);
    cr_assert_lt(fault_alloc_live_bytes() - empty, BIG / 4, "the last pin freed the read's block");
    free(payload);
    ss_arena_release(&e.a);
    ss_storage_factory_free(e.f);
    fault_alloc_uninstall();
}

CONTRACT_CASE(list_after_is_exclusive_and_until_is_inclusive) {
    create_stream(e, "s", 5);
    ss_message_batch b = list(e, "s", &(ss_list_opts){.has_after = true, .after = off(2)});
    assert_batch(&b, 3, 3);
    cr_assert_not(b.more);
    b = list(e, "s", &(ss_list_opts){.has_until = true, .until = off(3)});
    assert_batch(&b, 1, 3);
    cr_assert_not(b.more);
    b = list(e, "s", &(ss_list_opts){.has_after = true, .after = off(1), .has_until = true, .until = off(4)});
    assert_batch(&b, 2, 3);
    b = list(e, "s", &(ss_list_opts){.has_after = true, .after = off(0)});
    assert_batch(&b, 1, 5);
    b = list(e, "s", &(ss_list_opts){.has_after = true, .after = off(5)});
    cr_assert_eq(b.n, 0, "nothing after the tail");
    cr_assert_not(b.more);
    b = list(e, "s", &(ss_list_opts){.has_after = true, .after = off(3), .has_until = true, .until = off(3)});
    cr_assert_eq(b.n, 0, "an empty window");
}

CONTRACT_CASE(list_limit_applies_after_the_window_and_combines_with_after_and_until) {
    create_stream(e, "s", 6);
    ss_message_batch b = list(e, "s", &(ss_list_opts){.limit = 2});
    assert_batch(&b, 1, 2);
    cr_assert(b.more, "stopped early because of the limit");
    b = list(e, "s",
             &(ss_list_opts){.has_after = true, .after = off(1), .has_until = true, .until = off(5), .limit = 2});
    assert_batch(&b, 2, 2);
    cr_assert(b.more);
    b = list(e, "s",
             &(ss_list_opts){.has_after = true, .after = off(3), .has_until = true, .until = off(5), .limit = 2});
    assert_batch(&b, 4, 2);
    cr_assert_not(b.more, "the window ended exactly at the limit");
    b = list(e, "s", &(ss_list_opts){.has_after = true, .after = off(4), .limit = 5});
    assert_batch(&b, 5, 2);
    cr_assert_not(b.more);
}

CONTRACT_CASE(list_max_bytes_returns_at_least_one_message_and_sets_more) {
    create_stream(e, "s", 5); /* two bytes each */
    ss_message_batch b = list(e, "s", &(ss_list_opts){.max_bytes = 1});
    assert_batch(&b, 1, 1);
    cr_assert(b.more, "one message even when it alone exceeds max_bytes");
    b = list(e, "s", &(ss_list_opts){.max_bytes = 5});
    assert_batch(&b, 1, 2);
    cr_assert(b.more);
    b = list(e, "s", &(ss_list_opts){.has_after = true, .after = off(2), .max_bytes = 4});
    assert_batch(&b, 3, 2);
    cr_assert(b.more);
    b = list(e, "s", &(ss_list_opts){.max_bytes = 10});
    assert_batch(&b, 1, 5);
    cr_assert_not(b.more);
    b = list(e, "s", &(ss_list_opts){.max_bytes = 6, .limit = 2});
    assert_batch(&b, 1, 2);
    cr_assert(b.more);
}

/* ==== copies ================================================================= */

static char *dup_cstr(const char *s) {
    char *p = strdup(s);
    cr_assert_not_null(p);
    return p;
}

/* Overwrites and frees a buffer the adapter was only lent. */
static void poison_free(char *p) {
    memset(p, 'X', strlen(p));
    free(p);
}

CONTRACT_CASE(plan_buffers_are_copied_so_the_caller_may_reuse_them) {
    char *id = dup_cstr("copied"), *ct = dup_cstr("text/plain"), *seq = dup_cstr("seq-a");
    char *d1 = dup_cstr("hello"), *ex = dup_cstr("2026-01-02T00:00:00Z");
    ss_record rec = record_of("copied");
    rec.id = S(id);
    rec.content_type = S(ct);
    rec.expires_at = S(ex);
    rec.has_last_seq = true;
    rec.last_seq = S(seq);
    rec.tail = off(1);
    rec.counter = 1;
    ss_message m1 = {S(d1), off(1), T0};
    ss_create_plan cp = {.record = rec, .msgs = &m1, .n_msgs = 1};
    cr_assert_eq(create_plan(e, &cp).status, SS_CREATE_OUTCOME_CREATED);
    poison_free(id);
    poison_free(ct);
    poison_free(seq);
    poison_free(d1);
    poison_free(ex);

    char *hid = dup_cstr("copied");
    ss_storage_stream *s = open_stream(e, hid);
    poison_free(hid); /* the handle owns its id */
    char *d2 = dup_cstr("world"), *seq2 = dup_cstr("seq-b"), *pid = dup_cstr("prod");
    ss_message m2 = {S(d2), off(2), T0};
    ss_mutation_plan p = {.has_expected_tail = true, .expected_tail = off(1), .msgs = &m2, .n_msgs = 1};
    p.patch.set = SS_PATCH_TAIL | SS_PATCH_COUNTER | SS_PATCH_LAST_SEQ;
    p.patch.tail = off(2);
    p.patch.counter = 2;
    p.patch.last_seq = S(seq2);
    p.has_producer = true;
    p.producer.id = S(pid);
    p.producer.next = (ss_producer){1, 1};
    ss_commit_outcome o;
    cr_assert_eq(ss_storage_commit(s, &p, &e->a, &o), SS_OK);
    assert_committed(&o);
    poison_free(d2);
    poison_free(seq2);
    poison_free(pid);

    ss_record r;
    bool found = false;
    cr_assert_eq(ss_storage_get_record(s, &e->a, &r, &found), SS_OK);
    cr_assert(found);
    assert_slice(r.id, "copied");
    assert_slice(r.content_type, "text/plain");
    assert_slice(r.expires_at, "2026-01-02T00:00:00Z");
    assert_slice(r.last_seq, "seq-b");
    ss_message_batch b;
    cr_assert_eq(ss_storage_list_messages(s, &(ss_list_opts){0}, &e->a, &b), SS_OK);
    cr_assert_eq(b.n, 2);
    assert_slice(b.msgs[0].data, "hello");
    assert_slice(b.msgs[1].data, "world");
    ss_producer prod;
    cr_assert_eq(ss_storage_get_producer(s, S("prod"), &prod, &found), SS_OK);
    cr_assert(found);
    cr_assert_eq(prod.last_seq, 1);
    ss_storage_close(s);
}

CONTRACT_CASE(results_are_copied_into_the_callers_arena_and_outlive_the_stream) {
    create_stream(e, "s", 2);
    ss_record r = must_read_record(e, "s");
    ss_message_batch b = list(e, "s", &(ss_list_opts){0});
    msgs m = msgs_from(2, 1);
    ss_mutation_plan p = append_plan(2, &m);
    p.patch.set |= SS_PATCH_LAST_SEQ;
    p.patch.last_seq = S("seq-after");
    ss_commit_outcome o = commit(e, "s", &p);
    assert_committed(&o);
    cr_assert_eq(delete_stream(e, "s", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    /* The stream is gone; what was returned lives on in our arena. */
    assert_slice(r.id, "s");
    assert_slice(r.content_type, "text/plain");
    assert_offset(&r.tail, 2);
    assert_batch(&b, 1, 2);
    assert_slice(o.record.id, "s");
    assert_slice(o.record.last_seq, "seq-after");
}

/* ==== after-commit effects =================================================== */

CONTRACT_CASE(a_committed_plan_with_notify_notifies_its_stream_once) {
    create_stream(e, "s", 0);
    create_stream(e, "other", 0);
    e->effects.n = 0;
    msgs m = msgs_from(0, 1);
    ss_mutation_plan p = append_plan(0, &m);
    p.effects.notify = true;
    ss_commit_outcome o = commit(e, "s", &p);
    assert_committed(&o);
    cr_assert_eq(e->effects.n, 1);
    cr_assert_eq(calls_of(e, CALL_NOTIFY, "s"), 1);
    /* Without the flag, nothing runs. */
    msgs m2 = msgs_from(1, 1);
    p = append_plan(1, &m2);
    o = commit(e, "s", &p);
    assert_committed(&o);
    cr_assert_eq(e->effects.n, 1);
}

CONTRACT_CASE(a_schedule_expiry_effect_schedules_with_the_time) {
    create_stream(e, "s", 0);
    e->effects.n = 0;
    ss_mutation_plan p = {.has_expected_tail = true, .expected_tail = off(0)};
    p.patch.set = SS_PATCH_EXPIRES_AT_MS;
    p.patch.expires_at_ms = T0 + 60000;
    p.effects = (ss_after_commit_effects){.schedule_expiry = true, .expiry_at_ms = T0 + 60000};
    ss_commit_outcome o = commit(e, "s", &p);
    assert_committed(&o);
    cr_assert_eq(e->effects.n, 1);
    cr_assert_eq(e->effects.calls[0].kind, CALL_SCHEDULE);
    cr_assert_str_eq(e->effects.calls[0].id, "s");
    cr_assert_eq(e->effects.calls[0].at_ms, T0 + 60000);
}

CONTRACT_CASE(a_failed_commit_runs_no_effects) {
    create_stream(e, "s", 1);
    e->effects.n = 0;
    msgs m = msgs_from(1, 1);
    ss_mutation_plan p = append_plan(0, &m); /* stale */
    p.effects = (ss_after_commit_effects){
        .notify = true, .schedule_expiry = true, .expiry_at_ms = T0, .cancel_expiry = true};
    ss_commit_outcome o = commit(e, "s", &p);
    assert_failed(&o, SS_FAIL_OFFSET);
    o = commit(e, "ghost", &p);
    assert_failed(&o, SS_FAIL_OFFSET);
    cr_assert_eq(e->effects.n, 0);
}

CONTRACT_CASE(create_runs_its_effects_only_when_it_created) {
    ss_create_plan p = {.record = record_of("s")};
    p.effects = (ss_after_commit_effects){.notify = true, .schedule_expiry = true, .expiry_at_ms = T0 + 5};
    cr_assert_eq(create_plan(e, &p).status, SS_CREATE_OUTCOME_CREATED);
    cr_assert_eq(e->effects.n, 2);
    cr_assert_eq(calls_of(e, CALL_NOTIFY, "s"), 1);
    cr_assert_eq(calls_of(e, CALL_SCHEDULE, "s"), 1);
    e->effects.n = 0;
    cr_assert_eq(create_plan(e, &p).status, SS_CREATE_OUTCOME_EXISTS);
    cr_assert_eq(e->effects.n, 0);
}

CONTRACT_CASE(a_purging_delete_runs_cancel_instead_of_schedule_and_notifies) {
    create_stream(e, "s", 1);
    e->effects.n = 0;
    ss_delete_plan p = {.id = S("s"), .reason = SS_DELETE_USER};
    p.effects = (ss_after_commit_effects){
        .notify = true, .schedule_expiry = true, .expiry_at_ms = T0, .cancel_expiry = true};
    cr_assert_eq(delete_plan(e, &p), SS_DELETE_OUTCOME_PURGED);
    cr_assert_eq(e->effects.n, 2);
    cr_assert_eq(calls_of(e, CALL_NOTIFY, "s"), 1);
    cr_assert_eq(calls_of(e, CALL_CANCEL, "s"), 1, "cancel wins over schedule");
    cr_assert_eq(calls_of(e, CALL_SCHEDULE, "s"), 0);
    e->effects.n = 0;
    cr_assert_eq(delete_plan(e, &p), SS_DELETE_OUTCOME_NOT_FOUND);
    cr_assert_eq(e->effects.n, 0, "a delete that found nothing runs no effects");
}

FORK_CASE(a_soft_delete_notifies_but_does_not_cancel_expiry) {
    create_stream(e, "parent", 2);
    fork_ok(e, "child", "parent", 2);
    e->effects.n = 0;
    ss_delete_plan p = {.id = S("parent"), .reason = SS_DELETE_USER};
    p.effects = (ss_after_commit_effects){.notify = true, .cancel_expiry = true};
    cr_assert_eq(delete_plan(e, &p), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(e->effects.n, 1);
    cr_assert_eq(calls_of(e, CALL_NOTIFY, "parent"), 1);
    e->effects.n = 0;
    cr_assert_eq(delete_plan(e, &p), SS_DELETE_OUTCOME_GONE);
    cr_assert_eq(e->effects.n, 0, "gone runs no effects");
    p.id = S("child");
    cr_assert_eq(delete_plan(e, &p), SS_DELETE_OUTCOME_PURGED);
    cr_assert_eq(calls_of(e, CALL_NOTIFY, "child"), 1);
    cr_assert_eq(calls_of(e, CALL_CANCEL, "child"), 1);
}

/* ==== fork =================================================================== */

CONTRACT_CASE(fork_capability_is_by_presence) {
    /* The runner already checked ss_storage_can_fork against the table. */
    create_stream(e, "src", 1);
    if (ss_storage_can_fork(e->f)) {
        fork_ok(e, "kid", "src", 1);
        return;
    }
    ss_fork_plan p = {.child = record_of("kid"), .source_id = S("src"), .source_live_at = off(1)};
    p.child.forked_from = S("src");
    ss_create_outcome o = {.status = SS_CREATE_OUTCOME_EXISTS};
    cr_assert_eq(ss_storage_fork(e->f, &p, &e->a, &o), SS_NOTSUP);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_EXISTS, "the outcome is untouched");
    cr_assert_not(exists(e, "kid"));
    cr_assert_eq(delete_stream(e, "src", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED,
                 "a forkless factory still creates and deletes");
}

FORK_CASE(fork_creates_the_child) {
    create_stream(e, "src", 3);
    ss_record child = record_of("kid");
    child.forked_from = S("src");
    child.fork_offset = off(2);
    child.fork_sub_offset = 7;
    child.tail = off(3);
    child.counter = 1;
    msgs m = msgs_from(2, 1); /* the child's own first message, after the fork point */
    ss_fork_plan p = {.child = child, .source_id = S("src"), .source_live_at = off(2), .msgs = m.m, .n_msgs = m.n};
    p.effects.notify = true;
    e->effects.n = 0;
    ss_create_outcome o;
    cr_assert_eq(ss_storage_fork(e->f, &p, &e->a, &o), SS_OK);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_CREATED);
    assert_same_record(&o.record, &child);
    ss_record stored = must_read_record(e, "kid");
    assert_same_record(&stored, &child);
    ss_message_batch b = list(e, "kid", &(ss_list_opts){0});
    assert_batch(&b, 3, 1);
    b = list(e, "src", &(ss_list_opts){0});
    assert_batch(&b, 1, 3);
    ss_record src = must_read_record(e, "src");
    cr_assert_not(src.soft_deleted);
    assert_offset(&src.tail, 3);
    cr_assert_eq(e->effects.n, 1);
    cr_assert_eq(calls_of(e, CALL_NOTIFY, "kid"), 1);
}

FORK_CASE(a_repeated_fork_is_exists_carrying_the_child_with_its_lineage) {
    create_stream(e, "src", 2);
    fork_ok(e, "kid", "src", 1);
    e->effects.n = 0;
    ss_create_outcome o = fork_stream(e, "kid", "src", 2);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_EXISTS);
    assert_slice(o.record.id, "kid");
    assert_slice(o.record.forked_from, "src");
    assert_offset(&o.record.fork_offset, 1);
    cr_assert_eq(e->effects.n, 0);
    /* The lineage edge still holds: the source is retained for its child. */
    cr_assert_eq(delete_stream(e, "src", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
}

FORK_CASE(fork_of_a_missing_source_is_source_gone) {
    e->effects.n = 0;
    ss_create_outcome o = fork_stream(e, "kid", "nowhere", 0);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_SOURCE_GONE);
    cr_assert_not(exists(e, "kid"));
    cr_assert_eq(e->effects.n, 0);
}

FORK_CASE(fork_of_a_soft_deleted_source_is_source_gone) {
    create_stream(e, "src", 2);
    fork_ok(e, "kid1", "src", 2);
    cr_assert_eq(delete_stream(e, "src", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    ss_create_outcome o = fork_stream(e, "kid2", "src", 2);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_SOURCE_GONE);
    cr_assert_not(exists(e, "kid2"));
}

FORK_CASE(fork_below_the_source_live_offset_is_source_gone) {
    create_stream(e, "src", 2);
    ss_create_outcome o = fork_stream(e, "kid", "src", 3); /* the source's tail is 2 */
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_SOURCE_GONE);
    cr_assert_not(exists(e, "kid"));
    fork_ok(e, "kid", "src", 2); /* tail >= live-at is enough */
}

/* ==== delete ================================================================= */

CONTRACT_CASE(deleting_a_stream_without_dependents_purges_it) {
    create_stream(e, "s", 2);
    insert_producer(e, "s", 2, "p", (ss_producer){1, 0});
    cr_assert_eq(delete_stream(e, "s", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(exists(e, "s"));
    cr_assert_eq(count_messages(e, "s"), 0);
    ss_producer prod;
    cr_assert_not(read_producer(e, "s", "p", &prod));
    create_stream(e, "t", 0);
    cr_assert_eq(delete_stream(e, "t", SS_DELETE_EXPIRY), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(exists(e, "t"));
}

CONTRACT_CASE(deleting_an_absent_stream_is_not_found) {
    cr_assert_eq(delete_stream(e, "ghost", SS_DELETE_USER), SS_DELETE_OUTCOME_NOT_FOUND);
    cr_assert_eq(delete_stream(e, "ghost", SS_DELETE_EXPIRY), SS_DELETE_OUTCOME_NOT_FOUND);
    create_stream(e, "s", 0);
    cr_assert_eq(delete_stream(e, "s", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    cr_assert_eq(delete_stream(e, "s", SS_DELETE_USER), SS_DELETE_OUTCOME_NOT_FOUND);
}

FORK_CASE(a_parent_with_a_child_is_soft_deleted_then_gone_then_purged_with_its_last_child) {
    create_stream(e, "parent", 2);
    fork_ok(e, "child", "parent", 2);
    cr_assert_eq(delete_stream(e, "parent", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    ss_record r = must_read_record(e, "parent");
    cr_assert(r.soft_deleted);
    ss_message_batch b = list(e, "parent", &(ss_list_opts){0});
    assert_batch(&b, 1, 2); /* kept for the child to read through */
    cr_assert_eq(delete_stream(e, "parent", SS_DELETE_USER), SS_DELETE_OUTCOME_GONE);
    cr_assert(exists(e, "parent"));
    cr_assert_eq(delete_stream(e, "child", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(exists(e, "child"));
    cr_assert_not(exists(e, "parent"), "the parent is purged by the cascade");
    cr_assert_eq(count_messages(e, "parent"), 0);
}

FORK_CASE(creating_over_a_soft_deleted_stream_is_exists_with_the_soft_deleted_record) {
    create_stream(e, "parent", 1);
    fork_ok(e, "child", "parent", 1);
    cr_assert_eq(delete_stream(e, "parent", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    ss_create_plan p = {.record = record_of("parent")};
    ss_create_outcome o = create_plan(e, &p);
    cr_assert_eq(o.status, SS_CREATE_OUTCOME_EXISTS);
    cr_assert(o.record.soft_deleted);
    assert_offset(&o.record.tail, 1);
}

FORK_CASE(a_delete_cascades_through_three_soft_deleted_levels) {
    create_stream(e, "a", 1);
    fork_ok(e, "b", "a", 1);
    fork_ok(e, "c", "b", 1);
    fork_ok(e, "d", "c", 1);
    cr_assert_eq(delete_stream(e, "a", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(delete_stream(e, "b", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(delete_stream(e, "c", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(delete_stream(e, "d", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(exists(e, "d"));
    cr_assert_not(exists(e, "c"));
    cr_assert_not(exists(e, "b"));
    cr_assert_not(exists(e, "a"));
}

FORK_CASE(the_cascade_stops_at_a_live_parent_and_at_a_parent_with_another_child) {
    create_stream(e, "live", 1);
    fork_ok(e, "mid", "live", 1);
    fork_ok(e, "leaf1", "mid", 1);
    fork_ok(e, "leaf2", "mid", 1);
    cr_assert_eq(delete_stream(e, "mid", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(delete_stream(e, "leaf1", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    ss_record r = must_read_record(e, "mid");
    cr_assert(r.soft_deleted, "mid still has leaf2");
    cr_assert_eq(delete_stream(e, "leaf2", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(exists(e, "mid"));
    r = must_read_record(e, "live");
    cr_assert_not(r.soft_deleted, "the live root is untouched");
    cr_assert_eq(delete_stream(e, "live", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED,
                 "its edge to the purged child is gone");
}

FORK_CASE(an_expiry_delete_of_a_soft_deleted_parent_with_a_live_child_keeps_it_soft_deleted) {
    create_stream(e, "parent", 1);
    fork_ok(e, "child", "parent", 1);
    cr_assert_eq(delete_stream(e, "parent", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(delete_stream(e, "parent", SS_DELETE_EXPIRY), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    ss_record r = must_read_record(e, "parent");
    cr_assert(r.soft_deleted);
    cr_assert_eq(count_messages(e, "parent"), 1);
    cr_assert_eq(delete_stream(e, "child", SS_DELETE_EXPIRY), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(exists(e, "parent"));
}

CONTRACT_CASE(a_purged_id_can_be_created_again_as_a_fresh_stream) {
    create_stream(e, "s", 2);
    insert_producer(e, "s", 2, "p", (ss_producer){4, 2});
    ss_mutation_plan close = {.has_expected_tail = true, .expected_tail = off(3)};
    close.patch.set = SS_PATCH_CLOSED | SS_PATCH_LAST_SEQ;
    close.patch.closed_ms = T0;
    close.patch.last_seq = S("old");
    ss_commit_outcome o = commit(e, "s", &close);
    assert_committed(&o);
    cr_assert_eq(delete_stream(e, "s", SS_DELETE_USER), SS_DELETE_OUTCOME_PURGED);
    ss_create_plan p = {.record = record_of("s")};
    ss_create_outcome c = create_plan(e, &p);
    cr_assert_eq(c.status, SS_CREATE_OUTCOME_CREATED);
    ss_record r = must_read_record(e, "s");
    assert_same_record(&r, &p.record);
    cr_assert_eq(count_messages(e, "s"), 0);
    ss_producer prod;
    cr_assert_not(read_producer(e, "s", "p", &prod));
    /* The fresh stream accepts a producer insert and an append from zero. */
    insert_producer(e, "s", 0, "p", (ss_producer){1, 0});
    ss_message_batch b = list(e, "s", &(ss_list_opts){0});
    assert_batch(&b, 1, 1);
}

/* ==== documents and the stream list (version 3 slots) ========================== */

typedef struct seen_docs {
    char keys[8][32], values[8][32];
    size_t n;
} seen_docs;

static void collect_doc(void *ctx, ss_slice key, ss_slice value) {
    seen_docs *d = ctx;
    cr_assert_lt(d->n, 8);
    snprintf(d->keys[d->n], 32, "%.*s", (int)key.len, key.p);
    snprintf(d->values[d->n], 32, "%.*s", (int)value.len, value.p);
    d->n++;
}

static seen_docs docs_with_prefix(env *e, const char *prefix) {
    seen_docs d = {0};
    cr_assert_eq(ss_storage_doc_for_each(e->f, S(prefix), collect_doc, &d), SS_OK);
    return d;
}

/* The Durable Object adapter keeps no documents yet: subscriptions are not
 * offered there (docs/subscriptions.md). */
static bool documents_or_notsup(env *e) {
    if (ss_storage_has_documents(e->f))
        return true;
    cr_assert_str_eq(e->adapter, "durable_object", "only the Durable Object adapter lacks documents");
    cr_assert_eq(ss_storage_doc_put(e->f, S("k"), S("v")), SS_NOTSUP);
    cr_assert_eq(ss_storage_doc_for_each(e->f, S(""), collect_doc, NULL), SS_NOTSUP);
    return false;
}

CONTRACT_CASE(documents_are_put_replaced_listed_by_prefix_in_key_order_and_removed) {
    if (!documents_or_notsup(e))
        return;
    cr_assert_eq(ss_storage_doc_put(e->f, S("sub/b"), S("two")), SS_OK);
    cr_assert_eq(ss_storage_doc_put(e->f, S("sub/a"), S("one")), SS_OK);
    cr_assert_eq(ss_storage_doc_put(e->f, S("other"), S("x")), SS_OK);
    cr_assert_eq(ss_storage_doc_put(e->f, S("sub/a"), S("uno")), SS_OK, "put replaces");
    cr_assert_eq(ss_storage_doc_put(e->f, S("sub/empty"), S("")), SS_OK);
    seen_docs d = docs_with_prefix(e, "sub/");
    cr_assert_eq(d.n, 3);
    cr_assert_str_eq(d.keys[0], "sub/a");
    cr_assert_str_eq(d.values[0], "uno");
    cr_assert_str_eq(d.keys[1], "sub/b");
    cr_assert_str_eq(d.keys[2], "sub/empty");
    cr_assert_str_eq(d.values[2], "");
    cr_assert_eq(docs_with_prefix(e, "").n, 4, "an empty prefix lists everything");
    cr_assert_eq(docs_with_prefix(e, "sub/%").n, 0, "the prefix is literal (no LIKE patterns)");
    cr_assert_eq(ss_storage_doc_remove(e->f, S("sub/a")), SS_OK);
    cr_assert_eq(ss_storage_doc_remove(e->f, S("sub/a")), SS_OK, "removing a missing key is fine");
    d = docs_with_prefix(e, "sub/");
    cr_assert_eq(d.n, 2);
    cr_assert_str_eq(d.keys[0], "sub/b");
    cr_assert(ss_storage_has_unflushed(e->f) || !e->f->m->flush, "document writes count as writes to flush");
}

typedef struct seen_ids {
    char ids[8][16];
    size_t n;
} seen_ids;

static void collect_id(void *ctx, ss_slice id) {
    seen_ids *s = ctx;
    cr_assert_lt(s->n, 8);
    snprintf(s->ids[s->n++], 16, "%.*s", (int)id.len, id.p);
}

static bool seen(const seen_ids *s, const char *id) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return true;
    return false;
}

FORK_CASE(the_stream_list_names_every_stream_that_is_not_soft_deleted) {
    seen_ids s = {0};
    if (!ss_storage_has_documents(e->f)) {
        cr_assert_eq(ss_storage_for_each_stream(e->f, collect_id, &s), SS_NOTSUP);
        return;
    }
    create_stream(e, "a", 1);
    create_stream(e, "b/c", 0);
    cr_assert_eq(fork_stream(e, "child", "a", 1).status, SS_CREATE_OUTCOME_CREATED);
    cr_assert_eq(delete_stream(e, "a", SS_DELETE_USER), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(ss_storage_for_each_stream(e->f, collect_id, &s), SS_OK);
    cr_assert_eq(s.n, 2);
    cr_assert(seen(&s, "b/c") && seen(&s, "child") && !seen(&s, "a"));
}

/* ==== what a factory reports about itself ===================================== */

static void assert_reports(ss_rc (*make)(ss_stream_factory **), const char *name, bool durable) {
    ss_stream_factory *f;
    cr_assert_eq(make(&f), SS_OK);
    cr_assert_str_eq(ss_storage_name(f), name);
    cr_assert_eq(ss_storage_is_durable(f), durable, "%s durable = %d", name, durable);
    ss_storage_factory_free(f);
}

Test(factories, each_names_itself_and_says_whether_a_commit_survives_a_crash) {
    assert_reports(make_memory, "memory", false);
    assert_reports(make_sqlite_memory, "sqlite", false);
    assert_reports(make_sqlite_file_autocommit, "sqlite", true);
    assert_reports(make_durable_object, "durable-object", true);
}
