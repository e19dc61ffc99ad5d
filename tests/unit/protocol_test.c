/* The protocol factory's C API: create, get, append (with producers,
 * Stream-Seq, close and the expectedOffset CAS), reads, forks, expiry. */
#include <stdio.h>

#include "test_support.h"

static ss_protocol_stream *create_stream(test_env *e, const char *id, const char *ct) {
    ss_create_options o = {.content_type = S(ct)};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(e->p, S(id), &o, &e->a, &r), SS_OK);
    cr_assert_eq(r.status, SS_CREATE_CREATED);
    return r.stream;
}

static ss_append_result append(test_env *e, ss_protocol_stream *s, const char *data, const char *ct) {
    ss_append_options o = {.data = S(data), .content_type = S(ct)};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &o, &e->a, &r), SS_OK);
    return r;
}

static ss_read_result read_all(test_env *e, ss_protocol_stream *s) {
    ss_read_options o = {0};
    ss_read_result r;
    cr_assert_eq(ss_stream_read(s, &o, &e->a, &r), SS_OK);
    return r;
}

Test(protocol, create_returns_a_bound_stream_at_the_zero_offset) {
    test_env e;
    test_env_init(&e, false);
    ss_create_options o = {0};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(e.p, S("a"), &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_CREATE_CREATED);
    cr_assert_str_eq(r.next_offset.s, SS_ZERO_OFFSET);
    cr_assert(ss_slice_eq_cstr(r.content_type, "application/octet-stream"));
    cr_assert_not_null(r.stream);
    ss_stream_release(r.stream);
    test_env_release(&e);
}

Test(protocol, repeated_create_with_same_config_is_exists_and_different_config_conflicts) {
    test_env e;
    test_env_init(&e, false);
    ss_stream_release(create_stream(&e, "a", "text/plain"));
    ss_create_options same = {.content_type = S("TEXT/PLAIN; charset=utf-8")};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(e.p, S("a"), &same, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_CREATE_EXISTS);
    ss_stream_release(r.stream);
    ss_create_options other = {.content_type = S("application/json")};
    cr_assert_eq(ss_protocol_create(e.p, S("a"), &other, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_CREATE_CONFLICT);
    cr_assert_eq(r.conflict, SS_CREATE_CONFLICT_CONFIG_MISMATCH);
    cr_assert_null(r.stream);
    test_env_release(&e);
}

Test(protocol, get_reports_not_found_for_a_missing_stream) {
    test_env e;
    test_env_init(&e, false);
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(e.p, S("nope"), &g), SS_OK);
    cr_assert_eq(g.status, SS_NOT_FOUND);
    cr_assert_null(g.stream);
    test_env_release(&e);
}

Test(protocol, appends_advance_the_tail_and_reads_return_them_in_order) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    ss_append_result r1 = append(&e, s, "hello ", "text/plain");
    ss_append_result r2 = append(&e, s, "world", "text/plain");
    cr_assert_eq(r1.status, SS_APPEND_APPENDED);
    cr_assert_eq(r2.status, SS_APPEND_APPENDED);
    cr_assert_lt(ss_offset_cmp(&r1.offset, &r2.offset), 0);
    ss_read_result rr = read_all(&e, s);
    cr_assert_eq(rr.n, 2);
    cr_assert(ss_slice_eq_cstr(rr.msgs[0].data, "hello "));
    cr_assert(ss_slice_eq_cstr(rr.msgs[1].data, "world"));
    cr_assert(ss_offset_eq(&rr.next_offset, &r2.offset));
    cr_assert(rr.up_to_date);
    cr_assert_not(rr.closed);
    ss_read_options from1 = {.has_offset = true, .offset = r1.offset};
    cr_assert_eq(ss_stream_read(s, &from1, &e.a, &rr), SS_OK);
    cr_assert_eq(rr.n, 1);
    cr_assert(ss_slice_eq_cstr(rr.msgs[0].data, "world"));
    ss_stream_release(s);
    test_env_release(&e);
}

Test(protocol, json_arrays_are_flattened_one_level_and_invalid_json_is_rejected) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "j", "application/json");
    ss_append_result r = append(&e, s, " [ {\"a\":1} , [1,2] ] ", "application/json");
    cr_assert_eq(r.status, SS_APPEND_APPENDED);
    r = append(&e, s, "{ invalid", "application/json");
    cr_assert_eq(r.status, SS_APPEND_BAD_REQUEST);
    cr_assert_str_eq(r.message, "Invalid JSON");
    r = append(&e, s, "[]", "application/json");
    cr_assert_eq(r.status, SS_APPEND_BAD_REQUEST);
    cr_assert_str_eq(r.message, "Empty arrays not allowed");
    ss_read_result rr = read_all(&e, s);
    cr_assert_eq(rr.n, 2);
    cr_assert(ss_slice_eq_cstr(rr.msgs[0].data, "{\"a\":1}"));
    cr_assert(ss_slice_eq_cstr(rr.msgs[1].data, "[1,2]"));
    ss_stream_release(s);
    test_env_release(&e);
}

Test(protocol, content_type_mismatch_and_stream_seq_regression_conflict) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    ss_append_result r = append(&e, s, "x", "application/json");
    cr_assert_eq(r.status, SS_APPEND_CONFLICT);
    cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_CONTENT_TYPE);
    ss_append_options o = {.data = S("x"), .content_type = S("text/plain"), .has_seq = true, .seq = S("2")};
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED);
    o.seq = S("10"); /* "10" < "2" as strings */
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_SEQUENCE);
    o.seq = S("3");
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED);
    ss_stream_release(s);
    test_env_release(&e);
}

Test(protocol, idempotent_producer_accepts_dedupes_fences_and_reports_gaps) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    ss_append_options o = {.data = S("m0"),
                           .content_type = S("text/plain"),
                           .has_producer = true,
                           .producer_id = S("p"),
                           .producer_epoch = 1,
                           .producer_seq = 0};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED);
    cr_assert(r.has_producer);
    cr_assert_eq(r.producer_epoch, 1);
    cr_assert_eq(r.producer_seq, 0);
    o.data = S("different body, same seq");
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_DUPLICATE);
    o.producer_seq = 3;
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_PRODUCER_GAP);
    cr_assert_eq(r.expected_seq, 1);
    cr_assert_eq(r.received_seq, 3);
    o.producer_epoch = 0;
    o.producer_seq = 1;
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_STALE_EPOCH);
    cr_assert_eq(r.current_epoch, 1);
    o.producer_epoch = 2;
    o.producer_seq = 1;
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_INVALID_EPOCH_SEQ);
    ss_read_result rr = read_all(&e, s);
    cr_assert_eq(rr.n, 1, "only the first append may land");
    ss_stream_release(s);
    test_env_release(&e);
}

Test(protocol, close_only_closes_once_and_later_appends_conflict_with_the_final_tail) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    ss_append_result a1 = append(&e, s, "x", "text/plain");
    ss_append_options close = {.close = true};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &close, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED);
    cr_assert(r.closed);
    cr_assert(ss_offset_eq(&r.offset, &a1.offset));
    cr_assert_eq(ss_stream_append(s, &close, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED, "close-only on a closed stream is idempotent");
    r = append(&e, s, "y", "text/plain");
    cr_assert_eq(r.status, SS_APPEND_CONFLICT);
    cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_CLOSED);
    cr_assert(r.closed);
    cr_assert(ss_offset_eq(&r.offset, &a1.offset));
    ss_read_result rr = read_all(&e, s);
    cr_assert(rr.closed);
    ss_stream_release(s);
    test_env_release(&e);
}

/* ---- expectedOffset CAS ---------------------------------------------------- */

Test(cas, append_lands_when_the_tail_equals_the_expected_offset) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    ss_append_options o = {.data = S("x"),
                           .content_type = S("text/plain"),
                           .has_expected_offset = true,
                           .expected_offset = test_offset(SS_ZERO_OFFSET)};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED);
    ss_stream_release(s);
    test_env_release(&e);
}

Test(cas, mismatch_is_a_conflict_with_the_actual_tail_and_writes_nothing) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    ss_append_result first = append(&e, s, "x", "text/plain");
    ss_append_options o = {.data = S("y"),
                           .content_type = S("text/plain"),
                           .has_expected_offset = true,
                           .expected_offset = test_offset(SS_ZERO_OFFSET),
                           .close = true,
                           .has_producer = true,
                           .producer_id = S("p"),
                           .producer_epoch = 0,
                           .producer_seq = 0,
                           .has_seq = true,
                           .seq = S("1")};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_CONFLICT);
    cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_EXPECTED_OFFSET);
    cr_assert(ss_offset_eq(&r.offset, &first.offset));
    cr_assert_not(r.closed);
    /* Nothing landed: no message, no close, no producer state, no Stream-Seq. */
    ss_read_result rr = read_all(&e, s);
    cr_assert_eq(rr.n, 1);
    cr_assert_not(rr.closed);
    o.has_expected_offset = false;
    o.close = false;
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED, "producer (p,0,0) was never recorded and seq 1 never used");
    ss_stream_release(s);
    test_env_release(&e);
}

Test(cas, closed_content_type_and_sequence_conflicts_are_reported_before_an_offset_mismatch) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    ss_append_options seq = {.data = S("x"), .content_type = S("text/plain"), .has_seq = true, .seq = S("5")};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &seq, &e.a, &r), SS_OK);
    ss_append_options o = {.data = S("y"),
                           .content_type = S("application/json"),
                           .has_expected_offset = true,
                           .expected_offset = test_offset(SS_ZERO_OFFSET)};
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_CONTENT_TYPE);
    o.content_type = S("text/plain");
    o.has_seq = true;
    o.seq = S("4");
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_SEQUENCE);
    ss_append_options close = {.close = true};
    cr_assert_eq(ss_stream_append(s, &close, &e.a, &r), SS_OK);
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_CLOSED);
    cr_assert(r.closed);
    ss_stream_release(s);
    test_env_release(&e);
}

Test(cas, close_only_on_a_closed_stream_skips_the_check) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    (void)append(&e, s, "x", "text/plain");
    ss_append_options close = {.close = true};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &close, &e.a, &r), SS_OK);
    close.has_expected_offset = true;
    close.expected_offset = test_offset(SS_ZERO_OFFSET);
    cr_assert_eq(ss_stream_append(s, &close, &e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED);
    cr_assert(r.closed);
    ss_stream_release(s);
    test_env_release(&e);
}

Test(cas, close_only_on_an_open_stream_honours_the_expected_offset) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    (void)append(&e, s, "x", "text/plain");
    ss_append_options close = {
        .close = true, .has_expected_offset = true, .expected_offset = test_offset(SS_ZERO_OFFSET)};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &close, &e.a, &r), SS_OK);
    cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_EXPECTED_OFFSET);
    ss_read_result rr = read_all(&e, s);
    cr_assert_not(rr.closed);
    ss_stream_release(s);
    test_env_release(&e);
}

/* A counter kept as a stream of increments: each writer materializes the
 * current value, validates its proposal, appends with expectedOffset and
 * retries on conflict. Writers interleave at every step, so most attempts
 * race; the final count must equal the number of successful increments. */
Test(cas, interleaved_writers_running_the_retry_loop_lose_no_update) {
    enum { WRITERS = 8, INCREMENTS = 25 };
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "counter", "application/json");
    struct writer {
        int done;
        ss_offset seen;
        long value;
    } w[WRITERS] = {0};
    int conflicts = 0, total = 0;
    while (total < WRITERS * INCREMENTS) {
        /* Phase 1: every unfinished writer materializes. */
        for (int i = 0; i < WRITERS; i++) {
            if (w[i].done == INCREMENTS)
                continue;
            ss_read_result rr = read_all(&e, s);
            w[i].value = (long)rr.n;
            w[i].seen = rr.next_offset;
        }
        /* Phase 2: each tries to append value+1 expecting what it saw. */
        for (int i = 0; i < WRITERS; i++) {
            if (w[i].done == INCREMENTS)
                continue;
            char body[32];
            snprintf(body, sizeof body, "%ld", w[i].value + 1);
            ss_append_options o = {.data = S(body),
                                   .content_type = S("application/json"),
                                   .has_expected_offset = true,
                                   .expected_offset = w[i].seen};
            ss_append_result r;
            cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
            if (r.status == SS_APPEND_APPENDED) {
                w[i].done++;
                total++;
            } else {
                cr_assert_eq(r.conflict, SS_APPEND_CONFLICT_EXPECTED_OFFSET);
                conflicts++;
            }
        }
        ss_arena_release(&e.a);
    }
    ss_read_result rr = read_all(&e, s);
    cr_assert_eq(rr.n, (size_t)(WRITERS * INCREMENTS));
    for (size_t i = 0; i < rr.n; i++) {
        char want[32];
        snprintf(want, sizeof want, "%zu", i + 1);
        cr_assert(ss_slice_eq_cstr(rr.msgs[i].data, want), "message %zu holds the value after %zu updates", i, i);
    }
    cr_assert_gt(conflicts, 0, "the interleaving must actually race");
    ss_stream_release(s);
    test_env_release(&e);
}

/* ---- forks -------------------------------------------------------------------- */

Test(fork, reads_inherited_data_then_own_data_and_never_later_source_appends) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *src = create_stream(&e, "src", "text/plain");
    ss_append_result a1 = append(&e, src, "a", "text/plain");
    (void)append(&e, src, "b", "text/plain");
    ss_create_options fo = {
        .forked_from = S("src"), .has_fork_offset = true, .fork_offset = ss_offset_slice(&a1.offset)};
    ss_create_result fr;
    cr_assert_eq(ss_protocol_create(e.p, S("f"), &fo, &e.a, &fr), SS_OK);
    cr_assert_eq(fr.status, SS_CREATE_CREATED);
    cr_assert(ss_slice_eq_cstr(fr.content_type, "text/plain"), "a fork inherits the content type");
    (void)append(&e, fr.stream, "z", "text/plain");
    (void)append(&e, src, "c", "text/plain");
    ss_read_result rr = read_all(&e, fr.stream);
    cr_assert_eq(rr.n, 2);
    cr_assert(ss_slice_eq_cstr(rr.msgs[0].data, "a"));
    cr_assert(ss_slice_eq_cstr(rr.msgs[1].data, "z"));
    ss_stream_release(fr.stream);
    ss_stream_release(src);
    test_env_release(&e);
}

Test(fork, binary_sub_offset_takes_the_first_bytes_of_the_next_write) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *src = create_stream(&e, "src", "application/octet-stream");
    (void)append(&e, src, "hello", "application/octet-stream");
    ss_create_options fo = {
        .forked_from = S("src"), .has_fork_offset = true, .fork_offset = S(SS_ZERO_OFFSET), .fork_sub_offset = 3};
    ss_create_result fr;
    cr_assert_eq(ss_protocol_create(e.p, S("f"), &fo, &e.a, &fr), SS_OK);
    cr_assert_eq(fr.status, SS_CREATE_CREATED);
    ss_read_result rr = read_all(&e, fr.stream);
    cr_assert_eq(rr.n, 1);
    cr_assert(ss_slice_eq_cstr(rr.msgs[0].data, "hel"));
    ss_stream_release(fr.stream);
    fo.fork_sub_offset = 6;
    cr_assert_eq(ss_protocol_create(e.p, S("g"), &fo, &e.a, &fr), SS_OK);
    cr_assert_eq(fr.status, SS_CREATE_BAD_REQUEST);
    ss_stream_release(src);
    test_env_release(&e);
}

/* Issue 9.6: a fork chain deeper than the read limit was created (201) and
 * then every read answered 500. Now the deepest fork that can be read is
 * the deepest that can be created, and reads walk the chain iteratively. */
Test(fork, a_chain_stops_at_the_depth_limit_and_the_deepest_fork_reads_whole, .timeout = 60) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "f0", "text/plain");
    (void)append(&e, s, "0", "text/plain");
    ss_stream_release(s);
    char prev[16] = "f0", name[16];
    for (int i = 1; i <= 1000; i++) {
        snprintf(name, sizeof name, "f%d", i);
        ss_create_options fo = {.forked_from = S(prev)};
        ss_create_result fr;
        cr_assert_eq(ss_protocol_create(e.p, S(name), &fo, &e.a, &fr), SS_OK);
        cr_assert_eq(fr.status, SS_CREATE_CREATED, "fork %d", i);
        if (i % 100 == 0)
            (void)append(&e, fr.stream, "x", "text/plain");
        ss_stream_release(fr.stream);
        memcpy(prev, name, sizeof prev);
    }
    ss_create_options fo = {.forked_from = S("f1000")};
    ss_create_result fr;
    cr_assert_eq(ss_protocol_create(e.p, S("f1001"), &fo, &e.a, &fr), SS_OK);
    cr_assert_eq(fr.status, SS_CREATE_BAD_REQUEST, "1,001 ancestors: refused");
    cr_assert_str_eq(fr.message, "Fork chain too deep");
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(e.p, S("f1000"), &g), SS_OK);
    ss_read_result rr = read_all(&e, g.stream);
    cr_assert_eq(rr.n, 11, "f0's message and one per hundred levels");
    cr_assert(ss_slice_eq_cstr(rr.msgs[0].data, "0"));
    ss_stream_release(g.stream);
    test_env_release(&e);
}

Test(fork, deleting_a_source_with_a_fork_soft_deletes_it_and_deleting_the_fork_cascades) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *src = create_stream(&e, "src", "text/plain");
    (void)append(&e, src, "a", "text/plain");
    ss_create_options fo = {.forked_from = S("src")};
    ss_create_result fr;
    cr_assert_eq(ss_protocol_create(e.p, S("f"), &fo, &e.a, &fr), SS_OK);
    ss_presence ds;
    cr_assert_eq(ss_stream_delete(src, &ds), SS_OK);
    cr_assert_eq(ds, SS_PRESENT);
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(e.p, S("src"), &g), SS_OK);
    cr_assert_eq(g.status, SS_GONE);
    ss_read_result rr = read_all(&e, fr.stream);
    cr_assert_eq(rr.n, 1, "inherited data stays readable through the fork");
    cr_assert_eq(ss_stream_delete(fr.stream, &ds), SS_OK);
    cr_assert_eq(ss_protocol_get(e.p, S("src"), &g), SS_OK);
    cr_assert_eq(g.status, SS_NOT_FOUND, "the last fork's delete purged the soft-deleted source");
    ss_stream_release(fr.stream);
    ss_stream_release(src);
    test_env_release(&e);
}

Test(fork, a_forkless_storage_answers_not_supported) {
    test_env e;
    test_env_init(&e, true);
    ss_stream_release(create_stream(&e, "src", "text/plain"));
    ss_create_options fo = {.forked_from = S("src")};
    ss_create_result fr;
    cr_assert_eq(ss_protocol_create(e.p, S("f"), &fo, &e.a, &fr), SS_OK);
    cr_assert_eq(fr.status, SS_CREATE_NOT_SUPPORTED);
    cr_assert_str_eq(fr.feature, "fork");
    test_env_release(&e);
}

/* ---- TTL and expiry --------------------------------------------------------------- */

Test(expiry, a_ttl_stream_expires_after_idle_time_and_reads_slide_the_window) {
    test_env e;
    test_env_init(&e, false);
    ss_create_options o = {.has_ttl = true, .ttl_s = 2};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(e.p, S("t"), &o, &e.a, &r), SS_OK);
    e.now_ms += 1500;
    ss_read_result rr = read_all(&e, r.stream); /* slides to now + 2 s */
    cr_assert_eq(rr.status, SS_PRESENT);
    e.now_ms += 1500;
    ss_meta_result m;
    cr_assert_eq(ss_stream_metadata(r.stream, &e.a, &m), SS_OK);
    cr_assert_eq(m.status, SS_PRESENT, "the read renewed the TTL");
    e.now_ms += 1000;
    cr_assert_eq(ss_stream_metadata(r.stream, &e.a, &m), SS_OK);
    cr_assert_eq(m.status, SS_NOT_FOUND, "metadata does not renew; the stream expired");
    ss_stream_release(r.stream);
    test_env_release(&e);
}

Test(expiry, the_in_process_timer_deletes_an_expired_stream_without_any_access) {
    test_env e;
    test_env_init(&e, false);
    ss_create_options o = {.expires_at = S("2026-01-01T00:00:01.000Z")};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(e.p, S("t"), &o, &e.a, &r), SS_OK);
    ss_stream_release(r.stream);
    cr_assert_eq(ss_protocol_run_expiry(e.p), 1767225601000);
    e.now_ms += 1000;
    cr_assert_eq(ss_protocol_run_expiry(e.p), INT64_MAX);
    ss_storage_stream *st;
    cr_assert_eq(ss_storage_open(e.storage, S("t"), &st), SS_OK);
    ss_record rec;
    bool found = true;
    cr_assert_eq(ss_storage_get_record(st, &e.a, &rec, &found), SS_OK);
    cr_assert_not(found, "the timer purged the stream from storage");
    ss_storage_close(st);
    test_env_release(&e);
}

/* ---- live reads and waiters ---------------------------------------------------------- */

static void count_fire(ss_waiter *w) { (*(int *)w->ctx)++; }

Test(live, a_parked_waiter_wakes_on_append_only_when_pending_work_runs) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    ss_live_options lo = {.has_offset = true, .offset = test_offset(SS_ZERO_OFFSET)};
    ss_live_result lr;
    cr_assert_eq(ss_stream_read_live_begin(s, &lo, &e.a, &lr), SS_OK);
    cr_assert_eq(lr.status, SS_LIVE_WAIT);
    int fired = 0;
    ss_waiter w = {.fire = count_fire, .ctx = &fired};
    cr_assert_eq(ss_protocol_park(e.p, &w, S("a")), SS_OK);
    (void)append(&e, s, "x", "text/plain");
    cr_assert_eq(fired, 0, "never woken inside the appending call");
    cr_assert_eq(ss_protocol_run_pending(e.p), 1);
    cr_assert_eq(fired, 1);
    cr_assert_eq(ss_stream_read_live_finish(s, &lr.next_offset, SS_SLICE_NULL, false, &e.a, &lr), SS_OK);
    cr_assert_eq(lr.status, SS_LIVE_OK);
    cr_assert_eq(lr.n, 1);
    cr_assert_neq(lr.cursor[0], '\0');
    ss_stream_release(s);
    test_env_release(&e);
}

Test(live, a_ttl_touch_does_not_wake_and_finish_asks_to_park_again) {
    test_env e;
    test_env_init(&e, false);
    ss_create_options o = {.has_ttl = true, .ttl_s = 60};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(e.p, S("t"), &o, &e.a, &r), SS_OK);
    int fired = 0;
    ss_waiter w = {.fire = count_fire, .ctx = &fired};
    cr_assert_eq(ss_protocol_park(e.p, &w, S("t")), SS_OK);
    ss_read_result rr = read_all(&e, r.stream); /* touches */
    (void)rr;
    cr_assert_eq(ss_protocol_run_pending(e.p), 0);
    ss_offset zero = test_offset(SS_ZERO_OFFSET);
    ss_live_result lr;
    cr_assert_eq(ss_stream_read_live_finish(r.stream, &zero, SS_SLICE_NULL, false, &e.a, &lr), SS_OK);
    cr_assert_eq(lr.status, SS_LIVE_WAIT);
    ss_protocol_unpark(e.p, &w);
    ss_stream_release(r.stream);
    test_env_release(&e);
}

Test(live, closing_the_stream_wakes_waiters_and_reports_eof) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    int fired = 0;
    ss_waiter w = {.fire = count_fire, .ctx = &fired};
    cr_assert_eq(ss_protocol_park(e.p, &w, S("a")), SS_OK);
    ss_append_options close = {.close = true};
    ss_append_result ar;
    cr_assert_eq(ss_stream_append(s, &close, &e.a, &ar), SS_OK);
    cr_assert_eq(ss_protocol_run_pending(e.p), 1);
    ss_offset zero = test_offset(SS_ZERO_OFFSET);
    ss_live_result lr;
    cr_assert_eq(ss_stream_read_live_finish(s, &zero, SS_SLICE_NULL, false, &e.a, &lr), SS_OK);
    cr_assert_eq(lr.n, 0);
    cr_assert(lr.closed);
    ss_stream_release(s);
    test_env_release(&e);
}

/* ---- commit hooks --------------------------------------------------------------------- */

static void count_commit(void *ctx, const ss_commit_event *ev) {
    (void)ev;
    (*(int *)ctx)++;
}

Test(hooks, fire_after_commits_but_not_for_rejected_appends) {
    test_env e;
    test_env_init(&e, false);
    int n = 0;
    uint64_t token;
    cr_assert_eq(ss_protocol_on_after_commit(e.p, count_commit, &n, &token), SS_OK);
    ss_protocol_stream *s = create_stream(&e, "a", "text/plain");
    cr_assert_eq(n, 1);
    (void)append(&e, s, "x", "text/plain");
    cr_assert_eq(n, 2);
    ss_append_options o = {.data = S("y"),
                           .content_type = S("text/plain"),
                           .has_expected_offset = true,
                           .expected_offset = test_offset(SS_ZERO_OFFSET)};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(s, &o, &e.a, &r), SS_OK);
    cr_assert_eq(n, 2, "a lost CAS emits nothing");
    ss_protocol_off_after_commit(e.p, token);
    (void)append(&e, s, "z", "text/plain");
    cr_assert_eq(n, 2);
    ss_stream_release(s);
    test_env_release(&e);
}
