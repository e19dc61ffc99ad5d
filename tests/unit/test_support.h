/* Shared helpers for the protocol and handler unit tests: a controllable
 * clock and a protocol over a fresh memory factory. */
#ifndef SS_TEST_SUPPORT_H
#define SS_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <string.h>

#include "streamsy/typed.h"

typedef struct test_env {
    int64_t now_ms;
    ss_clock clock;
    ss_stream_factory *storage;
    ss_protocol *p;
    ss_arena a;
} test_env;

static inline int64_t test_clock_now(void *ctx) { return ((test_env *)ctx)->now_ms; }

static inline void test_env_init(test_env *e, bool forkless) {
    memset(e, 0, sizeof *e);
    e->now_ms = 1767225600000; /* 2026-01-01T00:00:00Z */
    e->clock = (ss_clock){test_clock_now, e};
    ss_memory_options mo = {.forkless = forkless};
    cr_assert_eq(ss_memory_factory_new(&mo, &e->storage), SS_OK);
    ss_protocol_options po = {.storage = e->storage, .clock = &e->clock, .long_poll_timeout_ms = 500};
    cr_assert_eq(ss_protocol_new(&po, &e->p), SS_OK);
    ss_arena_init(&e->a);
}

static inline void test_env_release(test_env *e) {
    ss_arena_release(&e->a);
    ss_protocol_free(e->p);
    ss_storage_factory_free(e->storage);
}

static inline ss_offset test_offset(const char *s) {
    ss_offset o;
    cr_assert_eq(ss_offset_set(&o, ss_slice_cstr(s)), SS_OK);
    return o;
}

static inline ss_slice S(const char *s) { return ss_slice_cstr(s); }

#endif
