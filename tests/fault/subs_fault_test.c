/* Fault injection walks over the subscription layer: every Streamsy
 * allocation and every storage call (memory and SQLite, documents included)
 * of creating a subscription, a triggering append plus the timers' run, a
 * claim, an ack with done, and a delete fails in turn, one per run. Each run
 * must answer a clean 5xx (or succeed), leak nothing, and leave state a
 * client can go on from: the subscription readable, its cursors never ahead
 * of what an answer acknowledged, and a retried claim or ack working.
 * (jansson, OpenSSL and libcurl keep their own allocators.) */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_alloc.h"
#include "fault_storage.h"
#include "handler_request.h"
#include "streamsy/streamsy.h"
#include "streamsy/subscriptions.h"

#define MAX_POINTS 20000

typedef enum fault_kind { ALLOC, STORAGE_IOERR } fault_kind;

typedef struct env {
    int64_t now_ms;
    ss_clock clock;
    ss_stream_factory *storage; /* the fault shim */
    ss_protocol *p;
    ss_subs *subs;
    ss_handler *h;
    ss_http_response res;
    fault_kind kind;
    char token[256], wake_id[64], tail[64];
    long generation;
} env;

static int64_t now_ms(void *ctx) { return ((env *)ctx)->now_ms; }

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})
#define JSON H("Content-Type: application/json")

static int request(env *e, const char *method, const char *target, const char *body, const char *const *headers) {
    test_handle(e->h, method, target, body, headers, &e->res);
    if (e->res.live) {
        ss_http_live_free(e->res.live);
        e->res.live = NULL;
    }
    return e->res.status;
}

/* A string field of the JSON answer (NULL-safe, into out). */
static void field(env *e, const char *name, char *out, size_t cap) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\":\"", name);
    const char *p = e->res.body.p ? strstr(e->res.body.p, key) : NULL;
    out[0] = '\0';
    if (p) {
        p += strlen(key);
        size_t n = strcspn(p, "\"");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
}

static void env_init(env *e, fault_kind kind, bool sqlite) {
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->now_ms = 1767225600000;
    e->clock = (ss_clock){now_ms, e};
    e->storage = fault_storage_fresh(sqlite);
    cr_assert_not_null(e->storage);
    cr_assert_eq(ss_protocol_new(&(ss_protocol_options){.storage = e->storage, .clock = &e->clock}, &e->p), SS_OK);
    char err[256];
    cr_assert_eq(ss_subs_new(&(ss_subs_options){.protocol = e->p}, &e->subs, err, sizeof err), SS_OK, "%s", err);
    ss_handler_options ho = {.protocol = e->p, .reserved = ss_subs_http(e->subs)};
    cr_assert_eq(ss_handler_new(&ho, &e->h), SS_OK);
    ss_http_response_init(&e->res);
    /* a wake stream, a subscription over e/ with one stream linked and a claimed wake */
    cr_assert_eq(request(e, "PUT", "/v1/stream/w", "[]", JSON), 201);
    cr_assert_eq(
        request(e, "PUT", "/v1/stream/__ds/subscriptions/s",
                "{\"type\":\"pull-wake\",\"pattern\":\"e/*\",\"wake_stream\":\"w\",\"lease_ttl_ms\":60000}", JSON),
        201);
    cr_assert_eq(request(e, "PUT", "/v1/stream/e/a", "{\"n\":1}", JSON), 201);
    ss_slice t = ss_http_response_get_header(&e->res, "Stream-Next-Offset");
    snprintf(e->tail, sizeof e->tail, "%.*s", (int)t.len, t.p);
    ss_subs_run(e->subs, e->now_ms);
    cr_assert_eq(request(e, "POST", "/v1/stream/__ds/subscriptions/s/claim", "{\"worker\":\"w1\"}", JSON), 200);
    field(e, "token", e->token, sizeof e->token);
    field(e, "wake_id", e->wake_id, sizeof e->wake_id);
    const char *g = strstr(e->res.body.p, "\"generation\":");
    e->generation = g ? strtol(g + 13, NULL, 10) : 0;
}

static void env_release(env *e) {
    ss_http_response_release(&e->res);
    ss_handler_free(e->h);
    ss_subs_free(e->subs);
    ss_protocol_free(e->p);
    ss_storage_factory_free(e->storage);
}

static void arm(env *e, long nth) {
    if (e->kind == ALLOC)
        fault_alloc_arm(nth);
    else
        fault_storage_arm(e->storage, nth, SS_IOERR);
}

static bool disarm(env *e) {
    bool failed = e->kind == ALLOC ? fault_alloc_failed() : fault_storage_failed(e->storage);
    fault_alloc_arm(0);
    fault_storage_arm(e->storage, 0, SS_OK);
    return failed;
}

static bool clean(int status, int ok) { return status == ok || status == 500 || status == 503 || status == 507; }

static void ack_body(env *e, bool done, char *out, size_t cap) {
    snprintf(
        out, cap,
        "{\"wake_id\":\"%s\",\"generation\":%ld,\"acks\":[{\"stream\":\"e/a\",\"offset\":\"%s\"}],\"done\":%s}",
        e->wake_id, e->generation, e->tail, done ? "true" : "false");
}

static const char *auth(env *e, char *buf, size_t cap) {
    snprintf(buf, cap, "Authorization: Bearer %s", e->token);
    return buf;
}

/* ---- the operations (act under a fault, then check without) -------------------------------- */

typedef struct op {
    const char *name;
    void (*act)(env *e, int *status);
    void (*check)(env *e, int status);
} op;

static void create_act(env *e, int *st) {
    *st = request(e, "PUT", "/v1/stream/__ds/subscriptions/t",
                  "{\"type\":\"pull-wake\",\"pattern\":\"e/*\",\"streams\":[\"x\"],\"wake_stream\":\"w\"}", JSON);
}

static void create_check(env *e, int st) {
    cr_assert(clean(st, 201), "create: %d %s", st, e->res.body.p ? e->res.body.p : "");
    int again =
        request(e, "PUT", "/v1/stream/__ds/subscriptions/t",
                "{\"type\":\"pull-wake\",\"pattern\":\"e/*\",\"streams\":[\"x\"],\"wake_stream\":\"w\"}", JSON);
    cr_assert(again == 201 || again == 200, "a retried create: %d", again);
    cr_assert_eq(request(e, "GET", "/v1/stream/__ds/subscriptions/t", NULL, NULL), 200);
    cr_assert(strstr(e->res.body.p, "\"e/a\"") && strstr(e->res.body.p, "\"x\""), "both links: %s", e->res.body.p);
}

static void append_act(env *e, int *st) {
    *st = request(e, "POST", "/v1/stream/e/b", "{\"n\":2}", JSON); /* e/b does not exist: 404 */
    if (*st == 404)
        *st = request(e, "PUT", "/v1/stream/e/b", "{\"n\":2}", JSON);
    e->now_ms += 1;
    ss_subs_run(e->subs, e->now_ms);
}

static void append_check(env *e, int st) {
    cr_assert(clean(st, 201), "append: %d", st);
    ss_subs_run(e->subs, e->now_ms);
    cr_assert_eq(request(e, "GET", "/v1/stream/__ds/subscriptions/s", NULL, NULL), 200);
}

static void claim_act(env *e, int *st) {
    char h[300];
    char body[512];
    ack_body(e, false, body, sizeof body);
    (void)request(e, "POST", "/v1/stream/__ds/subscriptions/s/release", body,
                  H("Content-Type: application/json", auth(e, h, sizeof h)));
    *st = request(e, "POST", "/v1/stream/__ds/subscriptions/s/claim", "{\"worker\":\"w2\"}", JSON);
}

static void claim_check(env *e, int st) {
    cr_assert(clean(st, 200) || st == 409, "claim: %d", st);
    int again = request(e, "POST", "/v1/stream/__ds/subscriptions/s/claim", "{\"worker\":\"w2\"}", JSON);
    cr_assert(again == 200 || again == 409, "a retried claim: %d %s", again, e->res.body.p);
}

static void ack_act(env *e, int *st) {
    char h[300], body[512];
    ack_body(e, true, body, sizeof body);
    *st = request(e, "POST", "/v1/stream/__ds/subscriptions/s/ack", body,
                  H("Content-Type: application/json", auth(e, h, sizeof h)));
}

static void ack_check(env *e, int st) {
    cr_assert(clean(st, 200), "ack: %d %s", st, e->res.body.p ? e->res.body.p : "");
    cr_assert_eq(request(e, "GET", "/v1/stream/__ds/subscriptions/s", NULL, NULL), 200);
    bool acked = strstr(e->res.body.p, e->tail) != NULL;
    if (st == 200)
        cr_assert(acked, "an acknowledged cursor is there: %s", e->res.body.p);
    char h[300], body[512];
    ack_body(e, true, body, sizeof body);
    int again = request(e, "POST", "/v1/stream/__ds/subscriptions/s/ack", body,
                        H("Content-Type: application/json", auth(e, h, sizeof h)));
    cr_assert(st == 200 ? again == 409 : (again == 200 || again == 409), "a retried ack: %d after %d", again, st);
}

static void delete_act(env *e, int *st) {
    *st = request(e, "DELETE", "/v1/stream/__ds/subscriptions/s", NULL, NULL);
}

static void delete_check(env *e, int st) {
    cr_assert(clean(st, 204), "delete: %d", st);
    cr_assert_eq(request(e, "DELETE", "/v1/stream/__ds/subscriptions/s", NULL, NULL), 204);
    cr_assert_eq(request(e, "GET", "/v1/stream/__ds/subscriptions/s", NULL, NULL), 404);
}

static const op OPS[] = {
    {"create", create_act, create_check}, {"append", append_act, append_check}, {"claim", claim_act, claim_check},
    {"ack", ack_act, ack_check},          {"delete", delete_act, delete_check},
};

/* Runs one operation with the nth fault; false when nothing failed (the walk is over). */
static bool run_once(const op *o, fault_kind kind, bool sqlite, long nth) {
    if (kind == ALLOC)
        fault_alloc_install();
    env e;
    env_init(&e, kind, sqlite);
    arm(&e, nth);
    int st = 0;
    o->act(&e, &st);
    bool failed = disarm(&e);
    o->check(&e, st);
    env_release(&e);
    if (kind == ALLOC) {
        cr_assert_eq(fault_alloc_live(), 0, "%s, allocation %ld: %ld allocations leaked", o->name, nth,
                     fault_alloc_live());
        fault_alloc_uninstall();
    }
    return failed;
}

static void walk(fault_kind kind, bool sqlite) {
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++) {
        long n = 1;
        while (run_once(&OPS[i], kind, sqlite, n)) {
            cr_assert_lt(n, MAX_POINTS, "%s: a runaway walk", OPS[i].name);
            n++;
        }
        cr_log_info("%s %s %s: %ld failure points", sqlite ? "sqlite" : "memory",
                    kind == ALLOC ? "allocation" : "storage", OPS[i].name, n - 1);
        cr_assert_gt(n, 1, "%s: the walk found no failure point at all", OPS[i].name);
    }
}

Test(subs_faults, every_allocation_failure_of_each_operation_is_clean_and_leak_free) { walk(ALLOC, false); }

Test(subs_faults, every_storage_failure_on_memory_is_clean) { walk(STORAGE_IOERR, false); }

Test(subs_faults, every_storage_failure_on_sqlite_is_clean) { walk(STORAGE_IOERR, true); }
