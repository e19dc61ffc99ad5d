/* How reads answer storage trouble (issue 9.10): the same codes as writes (a
 * busy database is 503 with Retry-After on GET and HEAD too), and a stream
 * that disappears between lookup and metadata is 404, not 500. */
#include <criterion/criterion.h>
#include <string.h>

#include "fault_storage.h"
#include "handler_request.h"
#include "streamsy/streamsy.h"

typedef struct env {
    ss_stream_factory *storage;
    ss_protocol *p;
    ss_handler *h;
    ss_http_response res;
} env;

static void env_init(env *e) {
    ss_stream_factory *inner;
    cr_assert_eq(ss_memory_factory_new(NULL, &inner), SS_OK);
    e->storage = fault_storage_new(inner);
    cr_assert_eq(ss_protocol_new(&(ss_protocol_options){.storage = e->storage}, &e->p), SS_OK);
    cr_assert_eq(ss_handler_new(&(ss_handler_options){.protocol = e->p}, &e->h), SS_OK);
    ss_http_response_init(&e->res);
}

static void env_release(env *e) {
    ss_http_response_release(&e->res);
    ss_handler_free(e->h);
    ss_protocol_free(e->p);
    ss_storage_factory_free(e->storage);
}

static int send_req(env *e, const char *method, const char *target) {
    const char *body = strcmp(method, "PUT") == 0 ? "x" : NULL;
    test_handle(e->h, method, target, body, (const char *const[]){"Content-Type: text/plain", NULL}, &e->res);
    return e->res.status;
}

static bool has_retry_after(const env *e) { return ss_http_response_get_header(&e->res, "Retry-After").p != NULL; }

/* Every storage call a read makes, busy in turn. (Opening a handle can
 * only fail for memory: that one is 503 without Retry-After.) */
Test(read_errors, a_busy_database_is_503_with_retry_after_on_get_and_head) {
    env e;
    env_init(&e);
    cr_assert_eq(send_req(&e, "PUT", "/v1/stream/s"), 201);
    const char *methods[] = {"GET", "HEAD"};
    for (int i = 0; i < 2; i++) {
        long busy = 0;
        for (long nth = 1; nth < 20; nth++) {
            fault_storage_arm(e.storage, nth, SS_BUSY);
            int st = send_req(&e, methods[i], "/v1/stream/s?offset=-1");
            if (!fault_storage_failed(e.storage))
                break;
            const char *slot = fault_storage_failed_slot(e.storage);
            cr_assert_eq(st, 503, "%s, call %ld (%s) failing: %d", methods[i], nth, slot, st);
            if (strcmp(slot, "open") != 0) {
                cr_assert(has_retry_after(&e), "%s, call %ld (%s): no Retry-After", methods[i], nth, slot);
                busy++;
            }
        }
        cr_assert_geq(busy, 2, "%s: the lookup and the metadata read were both tried", methods[i]);
    }
    fault_storage_arm(e.storage, 0, SS_OK);
    env_release(&e);
}

Test(read_errors, a_stream_gone_between_lookup_and_metadata_is_404) {
    env e;
    env_init(&e);
    cr_assert_eq(send_req(&e, "PUT", "/v1/stream/s"), 201);
    const char *methods[] = {"GET", "HEAD"};
    for (int i = 0; i < 2; i++) {
        /* calls: 1 open, 2 the lookup's record read, 3 the metadata's */
        fault_storage_arm_missing(e.storage, 3);
        int st = send_req(&e, methods[i], "/v1/stream/s?offset=-1");
        cr_assert(fault_storage_failed(e.storage));
        cr_assert_eq(st, 404, "%s: %d", methods[i], st);
    }
    fault_storage_arm(e.storage, 0, SS_OK);
    env_release(&e);
}
