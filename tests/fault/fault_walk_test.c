/* Fault injection walks (issue 9): every allocation and every storage call of
 * create, append, read, fork, delete, a long-poll and an SSE read is made to
 * fail in turn, one per run. Each run must answer a clean 5xx (or succeed),
 * leak nothing, and leave the stream with exactly what was acknowledged: an
 * acknowledged write is there, an unacknowledged one is there whole or not
 * at all. A walk ends at the first run in which nothing failed, i.e. after
 * the operation's last failure point. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_alloc.h"
#include "fault_storage.h"
#include "handler_request.h"
#include "streamsy/streamsy.h"

#define MAX_POINTS 20000 /* a walk longer than this is a runaway, not a long operation */

typedef enum fault_kind { ALLOC, STORAGE_IOERR, STORAGE_BUSY } fault_kind;

typedef struct walk_env {
    int64_t now_ms;
    ss_clock clock;
    ss_stream_factory *storage; /* the fault shim */
    ss_protocol *p;
    ss_handler *h;
    ss_http_response res;
    fault_kind kind;
    char tail[64]; /* Stream-Next-Offset after setup */
} walk_env;

static int64_t now_ms(void *ctx) { return ((walk_env *)ctx)->now_ms; }

static void env_init(walk_env *e, fault_kind kind, bool sqlite) {
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->now_ms = 1767225600000;
    e->clock = (ss_clock){now_ms, e};
    e->storage = fault_storage_fresh(sqlite);
    cr_assert_not_null(e->storage);
    ss_protocol_options po = {.storage = e->storage, .clock = &e->clock, .long_poll_timeout_ms = 500};
    cr_assert_eq(ss_protocol_new(&po, &e->p), SS_OK);
    ss_handler_options ho = {.protocol = e->p, .path_prefix = "/v1/stream"};
    cr_assert_eq(ss_handler_new(&ho, &e->h), SS_OK);
    ss_http_response_init(&e->res);
}

static void env_release(walk_env *e) {
    ss_http_response_release(&e->res);
    ss_handler_free(e->h);
    ss_protocol_free(e->p);
    ss_storage_factory_free(e->storage);
}

static void arm(walk_env *e, long nth) {
    if (e->kind == ALLOC)
        fault_alloc_arm(nth);
    else
        fault_storage_arm(e->storage, nth, e->kind == STORAGE_BUSY ? SS_BUSY : SS_IOERR);
}

/* Disarms; true when the armed failure happened. */
static bool disarm(walk_env *e) {
    bool failed = e->kind == ALLOC ? fault_alloc_failed() : fault_storage_failed(e->storage);
    fault_alloc_arm(0);
    fault_storage_arm(e->storage, 0, SS_OK);
    return failed;
}

/* Sends one request; leaves the response (and any continuation) in e->res.
 * headers: "Name: value" strings, NULL-terminated. Returns the status. */
static int request(walk_env *e, const char *method, const char *target, const char *body,
                   const char *const *headers) {
    test_handle(e->h, method, target, body, headers, &e->res);
    return e->res.status;
}

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})
#define TEXT H("Content-Type: text/plain")
#define JSON H("Content-Type: application/json")

static bool is_clean_failure(int status) { return status == 500 || status == 503 || status == 507; }

/* The stream's whole content (faults disarmed), or NULL when it does not
 * exist. The caller frees it. */
static char *content(walk_env *e, const char *id) {
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(e->p, ss_slice_cstr(id), &g), SS_OK);
    if (g.status != SS_PRESENT)
        return NULL;
    ss_arena a;
    ss_arena_init(&a);
    ss_read_result rr;
    cr_assert_eq(ss_stream_read_to_tail(g.stream, &(ss_read_options){0}, 0, &a, &rr), SS_OK);
    size_t len = 0;
    for (size_t i = 0; i < rr.n; i++)
        len += rr.msgs[i].data.len + 1;
    char *s = calloc(1, len + 1);
    for (size_t i = 0; i < rr.n; i++) {
        if (i)
            strcat(s, "|");
        strncat(s, rr.msgs[i].data.p, rr.msgs[i].data.len);
    }
    ss_arena_release(&a);
    ss_stream_release(g.stream);
    return s;
}

static void assert_content(walk_env *e, const char *id, const char *want) {
    char *got = content(e, id);
    if (!want)
        cr_assert_null(got, "%s: expected no stream, found '%s'", id, got);
    else
        cr_assert(got && strcmp(got, want) == 0, "%s: expected '%s', found '%s'", id, want, got ? got : "(none)");
    free(got);
}

/* Exactly one of the two states (an unacknowledged write: whole or absent). */
static void assert_content_either(walk_env *e, const char *id, const char *before, const char *after) {
    char *got = content(e, id);
    bool ok = (!got && (!before || !after)) ||
              (got && ((before && !strcmp(got, before)) || (after && !strcmp(got, after))));
    cr_assert(ok, "%s: expected '%s' or '%s', found '%s'", id, before ? before : "(none)",
              after ? after : "(none)", got ? got : "(none)");
    free(got);
}

/* ---- scenarios: setup (no faults), act (faulted), check (no faults) ---------------------------- */

typedef struct scenario {
    const char *name;
    void (*setup)(walk_env *e);
    void (*act)(walk_env *e, int *statuses);
    void (*check)(walk_env *e, const int *statuses);
} scenario;

static void no_setup(walk_env *e) { (void)e; }

static void setup_text(walk_env *e) {
    cr_assert_eq(request(e, "PUT", "/v1/stream/s", "abc", TEXT), 201);
    ss_slice t = ss_http_response_get_header(&e->res, "Stream-Next-Offset");
    snprintf(e->tail, sizeof e->tail, "%.*s", (int)t.len, t.p);
}

static void create_act(walk_env *e, int *st) { st[0] = request(e, "PUT", "/v1/stream/s", "hello", TEXT); }

static void create_check(walk_env *e, const int *st) {
    if (st[0] == 201)
        assert_content(e, "s", "hello");
    else
        assert_content_either(e, "s", NULL, "hello");
}

static void setup_json(walk_env *e) { cr_assert_eq(request(e, "PUT", "/v1/stream/s", "[0]", JSON), 201); }

#define PRODUCER "Producer-Id: p", "Producer-Epoch: 0", "Producer-Seq: 0"

static void append_act(walk_env *e, int *st) {
    st[0] = request(e, "POST", "/v1/stream/s", "[1,2,3]", H("Content-Type: application/json", PRODUCER));
}

static void append_check(walk_env *e, const int *st) {
    if (st[0] == 200)
        assert_content(e, "s", "0|1|2|3");
    else
        assert_content_either(e, "s", "0", "0|1|2|3");
    /* The producer's retry lands exactly once, whatever happened above. */
    int retry = request(e, "POST", "/v1/stream/s", "[1,2,3]", H("Content-Type: application/json", PRODUCER));
    cr_assert(retry == 200 || retry == 204, "retry: %d", retry);
    assert_content(e, "s", "0|1|2|3");
}

static void read_act(walk_env *e, int *st) {
    st[0] = request(e, "GET", "/v1/stream/s?offset=-1", NULL, NULL);
    if (st[0] == 200)
        cr_assert_str_eq(e->res.body.p ? e->res.body.p : "", "abc", "a 200 carries the whole content");
}

static void unchanged_check(walk_env *e, const int *st) {
    (void)st;
    assert_content(e, "s", "abc");
}

static void fork_act(walk_env *e, int *st) {
    st[0] =
        request(e, "PUT", "/v1/stream/f", NULL, H("Content-Type: text/plain", "Stream-Forked-From: /v1/stream/s"));
}

static void fork_check(walk_env *e, const int *st) {
    assert_content(e, "s", "abc");
    if (st[0] == 201)
        assert_content(e, "f", "abc");
    else
        assert_content_either(e, "f", NULL, "abc");
    /* The source can still be deleted, and the fork outlives it. */
    cr_assert_eq(request(e, "DELETE", "/v1/stream/s", NULL, NULL), 204);
}

static void delete_act(walk_env *e, int *st) { st[0] = request(e, "DELETE", "/v1/stream/s", NULL, NULL); }

static void delete_check(walk_env *e, const int *st) {
    if (st[0] == 204)
        assert_content(e, "s", NULL);
    else
        assert_content_either(e, "s", "abc", NULL);
}

/* A long-poll parked at the tail, an append, the wake-up. */
static void long_poll_act(walk_env *e, int *st) {
    char target[128];
    snprintf(target, sizeof target, "/v1/stream/s?offset=%s&live=long-poll", e->tail);
    st[0] = request(e, "GET", target, NULL, NULL);
    ss_http_live *l = e->res.live;
    if (e->res.kind != SS_HTTP_WAIT) {
        cr_assert(l == NULL, "a finished response carries no continuation");
        st[1] = st[2] = -1;
        return;
    }
    e->res.live = NULL;
    st[1] = request(e, "POST", "/v1/stream/s", "d", TEXT);
    bool timed_out = false;
    for (int turn = 0; turn < 4; turn++) {
        ss_http_live_resume(l, timed_out, &e->res);
        if (e->res.kind != SS_HTTP_WAIT)
            break;
        timed_out = true; /* nothing new after all: answer at the deadline */
    }
    cr_assert_eq(e->res.kind, SS_HTTP_DONE);
    st[2] = e->res.status;
    if (st[2] == 200)
        cr_assert_str_eq(e->res.body.p, "d");
    ss_http_live_free(l);
}

static void long_poll_check(walk_env *e, const int *st) {
    cr_assert(st[0] == -1 || is_clean_failure(st[0]) || st[0] == 200, "park: %d", st[0]);
    cr_assert(st[2] == -1 || st[2] == 200 || st[2] == 204 || is_clean_failure(st[2]), "wake: %d", st[2]);
    if (st[1] == 204)
        assert_content(e, "s", "abc|d");
    else
        assert_content_either(e, "s", "abc", "abc|d");
}

/* Appends the payload of the data events to `data` (at most cap - 1
 * bytes); the body must be a sequence of whole events. */
static void collect_sse(const char *body, char *data, size_t cap) {
    const char *p = body ? body : "";
    while (*p) {
        const char *end = strstr(p, "\n\n");
        cr_assert_not_null(end, "an event cut short: '%s'", p);
        bool is_data = strncmp(p, "event: data\n", 12) == 0;
        cr_assert(is_data || strncmp(p, "event: control\n", 15) == 0, "not an event: '%s'", p);
        for (const char *line = p + (is_data ? 12 : 15); is_data && line < end;) {
            const char *nl = strchr(line, '\n');
            cr_assert(strncmp(line, "data:", 5) == 0, "not a data line: '%s'", line);
            size_t n = (size_t)(nl - line - 5), have = strlen(data);
            cr_assert_lt(have + n, cap);
            memcpy(data + have, line + 5, n);
            data[have + n] = '\0';
            line = nl + 1;
        }
        p = end + 2;
    }
}

static void sse_act(walk_env *e, int *st) {
    static char data[64];
    data[0] = '\0';
    st[0] = request(e, "GET", "/v1/stream/s?offset=-1&live=sse", NULL, NULL);
    ss_http_live *l = e->res.live;
    e->res.live = NULL;
    if (st[0] == 200)
        collect_sse(e->res.body.p, data, sizeof data);
    if (e->res.kind == SS_HTTP_STREAM) {
        st[1] = request(e, "POST", "/v1/stream/s", "d", TEXT);
        ss_http_live_resume(l, false, &e->res);
        collect_sse(e->res.body.p, data, sizeof data);
        ss_http_live_free(l);
    } else {
        cr_assert(l == NULL);
    }
    /* What the reader saw is the stream's content, in order, without gaps. */
    cr_assert(!strcmp(data, "") || !strcmp(data, "abc") || !strcmp(data, "abcd"), "SSE data '%s'", data);
}

static void sse_check(walk_env *e, const int *st) {
    cr_assert(st[0] == 200 || is_clean_failure(st[0]), "%d", st[0]);
    if (st[1] == 204)
        assert_content(e, "s", "abc|d");
    else
        assert_content_either(e, "s", "abc", "abc|d");
}

static const scenario scenarios[] = {
    {"create", no_setup, create_act, create_check},   {"append", setup_json, append_act, append_check},
    {"read", setup_text, read_act, unchanged_check},  {"fork", setup_text, fork_act, fork_check},
    {"delete", setup_text, delete_act, delete_check}, {"long-poll", setup_text, long_poll_act, long_poll_check},
    {"sse", setup_text, sse_act, sse_check},
};

/* Walks every failure point of one scenario; returns how many there were. */
static long walk(const scenario *sc, fault_kind kind, bool sqlite) {
    for (long nth = 1; nth <= MAX_POINTS; nth++) {
        walk_env e;
        env_init(&e, kind, sqlite);
        sc->setup(&e);
        int st[4] = {-1, -1, -1, -1};
        arm(&e, nth);
        sc->act(&e, st);
        bool failed = disarm(&e);
        for (int i = 0; i < 4; i++)
            cr_assert(st[i] == -1 || st[i] < 300 || is_clean_failure(st[i]),
                      "%s, failure %ld: status %d is neither success nor a clean 5xx", sc->name, nth, st[i]);
        sc->check(&e, st);
        env_release(&e);
        if (kind == ALLOC)
            cr_assert_eq(fault_alloc_live(), 0, "%s, failure %ld: %ld allocations leaked", sc->name, nth,
                         fault_alloc_live());
        if (!failed)
            return nth - 1;
    }
    cr_assert_fail("%s: more than %d failure points", sc->name, MAX_POINTS);
    return -1;
}

static void walk_all(fault_kind kind, bool sqlite, const char *label) {
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        long n = walk(&scenarios[i], kind, sqlite);
        cr_assert_gt(n, 0, "%s: no failure point reached", scenarios[i].name);
        cr_log_info("%s %s: %ld failure points", label, scenarios[i].name, n);
    }
}

TestSuite(fault_walk, .init = fault_alloc_install, .fini = fault_alloc_uninstall, .timeout = 240);

Test(fault_walk, every_allocation_failure_is_a_clean_5xx_without_leaks_or_partial_writes) {
    walk_all(ALLOC, false, "allocation");
}

Test(fault_walk, every_storage_io_error_is_a_clean_5xx_and_writes_all_or_nothing_memory) {
    walk_all(STORAGE_IOERR, false, "storage I/O error (memory)");
}

Test(fault_walk, every_storage_busy_is_a_clean_5xx_and_writes_all_or_nothing_sqlite) {
    walk_all(STORAGE_BUSY, true, "storage busy (sqlite)");
}

Test(fault_walk, every_storage_io_error_is_a_clean_5xx_and_writes_all_or_nothing_sqlite) {
    walk_all(STORAGE_IOERR, true, "storage I/O error (sqlite)");
}
