/* The JSON layer: typed application/json streams through codecs, atomic
 * batches, array-valued messages, CAS, reporting of undecodable stored
 * messages, content-type checks and live reads. */
#include <stdio.h>

#include "streamsy/json.h"
#include "test_support.h"

/* ---- fixtures -------------------------------------------------------------------------- */

typedef struct json_env {
    test_env e;
    ss_json_protocol *jp;
    int commits; /* commit events since the last reset */
    uint64_t hook;
} json_env;

static void count_commit(void *ctx, const ss_commit_event *ev) {
    (void)ev;
    ((json_env *)ctx)->commits++;
}

static void json_env_init(json_env *j, const ss_json_codec *codec) {
    test_env_init(&j->e, false);
    cr_assert_eq(ss_json_protocol_new(j->e.p, codec, &j->jp), SS_OK);
    j->commits = 0;
    cr_assert_eq(ss_protocol_on_after_commit(j->e.p, count_commit, j, &j->hook), SS_OK);
}

static void json_env_release(json_env *j) {
    ss_protocol_off_after_commit(j->e.p, j->hook);
    ss_json_protocol_free(j->jp);
    test_env_release(&j->e);
}

static ss_json_stream *create(json_env *j, const char *id) {
    ss_json_create_result r;
    cr_assert_eq(ss_json_protocol_create(j->jp, S(id), NULL, &r), SS_OK);
    cr_assert_eq(r.status, SS_JSON_CREATE_CREATED);
    cr_assert_not_null(r.stream);
    return r.stream;
}

/* Parses a JSON text in a test; the caller owns the value. */
static json_t *J(const char *text) {
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
    return v;
}

static ss_json_append_result append(ss_json_stream *s, const char *text, const ss_json_append_options *o) {
    json_t *v = J(text);
    ss_json_append_result r;
    cr_assert_eq(ss_json_stream_append(s, v, o, &r), SS_OK);
    json_decref(v);
    return r;
}

static ss_json_read_result read_from(ss_json_stream *s, const ss_offset *from) {
    ss_read_options o = {0};
    if (from) {
        o.has_offset = true;
        o.offset = *from;
    }
    ss_json_read_result r;
    cr_assert_eq(ss_json_stream_read(s, &o, &r), SS_OK);
    return r;
}

static void assert_json_eq(const json_t *v, const char *text) {
    json_t *want = J(text);
    char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert(json_equal((json_t *)v, want), "got %s, want %s", got, text);
    free(got);
    json_decref(want);
}

/* The raw stored bytes of every message, joined by '|'. */
static void raw_messages(json_env *j, ss_json_stream *s, char *buf, size_t cap) {
    ss_read_options o = {0};
    ss_read_result rr;
    cr_assert_eq(ss_stream_read(ss_json_stream_base(s), &o, &j->e.a, &rr), SS_OK);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < rr.n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%.*s", i ? "|" : "", (int)rr.msgs[i].data.len,
                                rr.msgs[i].data.p);
}

static ss_offset tail_of(json_env *j, ss_json_stream *s) {
    ss_meta_result m;
    cr_assert_eq(ss_stream_metadata(ss_json_stream_base(s), &j->e.a, &m), SS_OK);
    cr_assert_eq(m.status, SS_PRESENT);
    return m.next_offset;
}

/* ---- a custom codec: events are {"type": string, ...}; stored as {"v":1,"event":...} ---- */

static ss_rc envelope_encode(void *ctx, const json_t *in, json_t **out, ss_json_error *err) {
    (*(int *)ctx)++;
    if (!json_is_object(in)) {
        snprintf(err->rule, sizeof err->rule, "type");
        snprintf(err->message, sizeof err->message, "an event must be an object");
        return SS_BADARG;
    }
    if (!json_is_string(json_object_get(in, "type"))) {
        snprintf(err->path, sizeof err->path, "/type");
        snprintf(err->rule, sizeof err->rule, "required");
        snprintf(err->message, sizeof err->message, "missing string property \"type\"");
        return SS_BADARG;
    }
    *out = json_pack("{s:i, s:O}", "v", 1, "event", (json_t *)in);
    return *out ? SS_OK : SS_NOMEM;
}

static ss_rc envelope_decode(void *ctx, const json_t *in, json_t **out, ss_json_error *err) {
    (void)ctx;
    json_t *event = json_object_get(in, "event");
    if (!json_is_object(event) || json_integer_value(json_object_get(in, "v")) != 1) {
        snprintf(err->rule, sizeof err->rule, "envelope");
        snprintf(err->message, sizeof err->message, "not a version-1 envelope");
        return SS_CORRUPT;
    }
    *out = json_incref(event);
    return SS_OK;
}

/* ---- codecs -------------------------------------------------------------------------------- */

Test(json_layer, the_identity_codec_round_trips_every_kind_of_value) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    const char *values[] = {"{\"a\":1,\"b\":[true,null,\"x\"]}", "42", "\"text\"", "null", "-7.5", "{}"};
    size_t n = sizeof values / sizeof *values;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(append(s, values[i], NULL).append.status, SS_APPEND_APPENDED);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.status, SS_JSON_READ_OK);
    cr_assert_eq(r.n, n);
    for (size_t i = 0; i < n; i++)
        assert_json_eq(r.msgs[i].value, values[i]);
    cr_assert(r.up_to_date);
    cr_assert(ss_offset_eq(&r.next_offset, &r.msgs[n - 1].offset));
    char raw[256];
    raw_messages(&j, s, raw, sizeof raw);
    cr_assert_str_eq(raw, "{\"a\":1,\"b\":[true,null,\"x\"]}|42|\"text\"|null|-7.5|{}", "stored compactly");
    ss_json_read_result_release(&r);
    cr_assert_null(r.msgs);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, a_custom_codec_reshapes_on_write_and_unwraps_on_read) {
    int calls = 0;
    ss_json_codec c = {envelope_encode, envelope_decode, &calls};
    json_env j;
    json_env_init(&j, &c);
    ss_json_stream *s = create(&j, "events");
    ss_json_append_result ar = append(s, "{\"type\":\"signup\",\"user\":\"ann\"}", NULL);
    cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    cr_assert_eq(calls, 1);
    char raw[256];
    raw_messages(&j, s, raw, sizeof raw);
    cr_assert_str_eq(raw, "{\"v\":1,\"event\":{\"type\":\"signup\",\"user\":\"ann\"}}");
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.status, SS_JSON_READ_OK);
    cr_assert_eq(r.n, 1);
    assert_json_eq(r.msgs[0].value, "{\"type\":\"signup\",\"user\":\"ann\"}");
    cr_assert(ss_offset_eq(&r.msgs[0].offset, &ar.append.offset));
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, a_value_the_codec_rejects_is_reported_with_path_and_rule_and_nothing_is_written) {
    int calls = 0;
    ss_json_codec c = {envelope_encode, envelope_decode, &calls};
    json_env j;
    json_env_init(&j, &c);
    ss_json_stream *s = create(&j, "events");
    ss_offset before = tail_of(&j, s);
    j.commits = 0;
    ss_json_append_result ar = append(s, "{\"user\":\"ann\"}", NULL);
    cr_assert(ar.invalid);
    cr_assert_eq(ar.error.index, -1, "a single append has no batch index");
    cr_assert_str_eq(ar.error.path, "/type");
    cr_assert_str_eq(ar.error.rule, "required");
    cr_assert_str_eq(ar.error.message, "missing string property \"type\"");
    ar = append(s, "[1]", NULL);
    cr_assert(ar.invalid);
    cr_assert_str_eq(ar.error.rule, "type");
    cr_assert_str_eq(ar.error.path, "");
    cr_assert_eq(j.commits, 0);
    ss_offset after = tail_of(&j, s);
    cr_assert(ss_offset_eq(&before, &after), "nothing written");
    ss_json_stream_release(s);
    json_env_release(&j);
}

static ss_rc silent_reject(void *ctx, const json_t *in, json_t **out, ss_json_error *err) {
    (void)ctx, (void)in, (void)out, (void)err;
    return SS_BADARG;
}

static ss_rc out_of_memory(void *ctx, const json_t *in, json_t **out, ss_json_error *err) {
    (void)ctx, (void)in, (void)out, (void)err;
    return SS_NOMEM;
}

Test(json_layer, a_codec_that_gives_no_reason_gets_a_default_rule_and_other_codes_pass_through) {
    ss_json_codec c = {silent_reject, silent_reject, NULL};
    json_env j;
    json_env_init(&j, &c);
    ss_json_stream *s = create(&j, "a");
    ss_json_append_result ar = append(s, "1", NULL);
    cr_assert(ar.invalid);
    cr_assert_str_eq(ar.error.rule, "codec");
    cr_assert_str_eq(ar.error.message, "value rejected by the codec's encode");
    ss_json_stream_release(s);
    json_env_release(&j);

    ss_json_codec nomem = {out_of_memory, out_of_memory, NULL};
    json_env_init(&j, &nomem);
    s = create(&j, "a");
    json_t *v = json_integer(1);
    ar.append.status = SS_APPEND_BUSY;
    cr_assert_eq(ss_json_stream_append(s, v, NULL, &ar), SS_NOMEM);
    cr_assert_eq(ar.append.status, SS_APPEND_BUSY, "the result is untouched on failure");
    json_decref(v);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, a_value_nested_past_the_depth_limit_is_invalid_and_one_level_less_is_fine) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    /* 255 nested arrays: with the wrapping array the body nests 256 deep. */
    json_t *v = json_integer(0);
    for (int d = 0; d < 255; d++) {
        json_t *outer = json_array();
        json_array_append_new(outer, v);
        v = outer;
    }
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append(s, v, NULL, &ar), SS_OK);
    cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    json_t *deeper = json_array();
    json_array_append_new(deeper, v);
    cr_assert_eq(ss_json_stream_append(s, deeper, NULL, &ar), SS_OK);
    cr_assert(ar.invalid);
    cr_assert_str_eq(ar.error.rule, "depth");
    json_decref(deeper);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 1);
    cr_assert(json_is_array(r.msgs[0].value));
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, a_string_that_is_not_utf8_is_invalid_with_rule_json) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    json_t *vals[2] = {json_string("fine"), json_pack("{s:o}", "name", json_stringn_nocheck("\xff\xfe", 2))};
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append_many(s, vals, 2, NULL, &ar, NULL), SS_OK);
    cr_assert(ar.invalid);
    cr_assert_eq(ar.error.index, 1);
    cr_assert_str_eq(ar.error.rule, "json");
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 0);
    ss_json_read_result_release(&r);
    json_decref(vals[0]);
    json_decref(vals[1]);
    ss_json_stream_release(s);
    json_env_release(&j);
}

/* ---- the JSON Schema codec --------------------------------------------------------------- */

static ss_json_schema *order_schema(void) {
    ss_json_schema *schema;
    ss_json_error err;
    cr_assert_eq(ss_json_schema_compile_text(S("{\"type\":\"object\",\"required\":[\"id\"],"
                                               "\"properties\":{\"id\":{\"type\":\"integer\"},"
                                               "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"),
                                             &schema, &err),
                 SS_OK, "%s", err.message);
    return schema;
}

Test(json_layer, the_schema_codec_validates_appends_and_batches_before_writing) {
    ss_json_schema *schema = order_schema();
    ss_json_codec c;
    ss_json_schema_codec(schema, &c);
    json_env j;
    json_env_init(&j, &c);
    ss_json_stream *s = create(&j, "orders");
    cr_assert_eq(append(s, "{\"id\":1,\"tags\":[\"a\"]}", NULL).append.status, SS_APPEND_APPENDED);
    ss_json_append_result ar = append(s, "{\"id\":2,\"tags\":[\"a\",3]}", NULL);
    cr_assert(ar.invalid);
    cr_assert_str_eq(ar.error.path, "/tags/1");
    cr_assert_str_eq(ar.error.rule, "type");
    cr_assert_eq(ar.error.index, -1);
    j.commits = 0;
    json_t *vals[3] = {J("{\"id\":3}"), J("{\"id\":4}"), J("{\"name\":\"x\"}")};
    cr_assert_eq(ss_json_stream_append_many(s, vals, 3, NULL, &ar, NULL), SS_OK);
    cr_assert(ar.invalid);
    cr_assert_eq(ar.error.index, 2);
    cr_assert_str_eq(ar.error.rule, "required");
    cr_assert_eq(j.commits, 0);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.status, SS_JSON_READ_OK);
    cr_assert_eq(r.n, 1, "only the valid single append was written");
    ss_json_read_result_release(&r);
    for (int i = 0; i < 3; i++)
        json_decref(vals[i]);
    ss_json_stream_release(s);
    json_env_release(&j);
    ss_json_schema_free(schema);
}

Test(json_layer, the_schema_codec_reports_stored_messages_that_violate_it_on_read) {
    ss_json_schema *schema = order_schema();
    json_env j;
    json_env_init(&j, NULL); /* the writer has no schema */
    ss_json_stream *w = create(&j, "orders");
    cr_assert_eq(append(w, "{\"id\":1}", NULL).append.status, SS_APPEND_APPENDED);
    ss_json_append_result bad = append(w, "{\"id\":\"two\"}", NULL);
    ss_json_codec c;
    ss_json_schema_codec(schema, &c);
    ss_json_protocol *reader;
    cr_assert_eq(ss_json_protocol_new(j.e.p, &c, &reader), SS_OK);
    ss_json_get_result g;
    cr_assert_eq(ss_json_protocol_get(reader, S("orders"), &g), SS_OK);
    cr_assert_eq(g.status, SS_JSON_GET_OK);
    ss_json_read_result r = read_from(g.stream, NULL);
    cr_assert_eq(r.status, SS_JSON_READ_DECODE_FAILED);
    cr_assert_eq(r.n, 1);
    cr_assert(ss_offset_eq(&r.error_offset, &bad.append.offset));
    cr_assert_str_eq(r.error.path, "/id");
    cr_assert_str_eq(r.error.rule, "type");
    cr_assert_eq(r.error.index, 1);
    ss_json_read_result_release(&r);
    ss_json_stream_release(g.stream);
    ss_json_protocol_free(reader);
    ss_json_stream_release(w);
    json_env_release(&j);
    ss_json_schema_free(schema);
}

/* ---- append_many ------------------------------------------------------------------------------ */

Test(json_layer, append_many_with_an_invalid_last_value_writes_nothing_and_names_the_index) {
    int calls = 0;
    ss_json_codec c = {envelope_encode, envelope_decode, &calls};
    json_env j;
    json_env_init(&j, &c);
    ss_json_stream *s = create(&j, "events");
    ss_offset before = tail_of(&j, s);
    j.commits = 0;
    json_t *vals[3] = {J("{\"type\":\"a\"}"), J("{\"type\":\"b\"}"), J("{\"kind\":\"c\"}")};
    ss_offset offs[3];
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append_many(s, vals, 3, NULL, &ar, offs), SS_OK);
    cr_assert(ar.invalid);
    cr_assert_eq(ar.error.index, 2);
    cr_assert_str_eq(ar.error.path, "/type");
    cr_assert_str_eq(ar.error.rule, "required");
    cr_assert_eq(j.commits, 0);
    ss_offset after = tail_of(&j, s);
    cr_assert(ss_offset_eq(&before, &after));
    for (int i = 0; i < 3; i++)
        json_decref(vals[i]);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, append_many_is_one_commit_with_contiguous_offsets_that_match_the_read) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    cr_assert_eq(append(s, "\"earlier\"", NULL).append.status, SS_APPEND_APPENDED);
    j.commits = 0;
    json_t *vals[4] = {J("{\"n\":1}"), J("2"), J("\"three\""), J("[4]")};
    ss_offset offs[4];
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append_many(s, vals, 4, NULL, &ar, offs), SS_OK);
    cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    cr_assert_eq(j.commits, 1, "exactly one commit event for the batch");
    cr_assert(ss_offset_eq(&offs[3], &ar.append.offset), "the last offset is the new tail");
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 5);
    for (int i = 0; i < 4; i++) {
        cr_assert(ss_offset_eq(&offs[i], &r.msgs[i + 1].offset), "offset %d", i);
        cr_assert(json_equal(vals[i], r.msgs[i + 1].value));
        if (i)
            cr_assert_lt(ss_offset_cmp(&offs[i - 1], &offs[i]), 0);
    }
    ss_json_read_result_release(&r);
    for (int i = 0; i < 4; i++)
        json_decref(vals[i]);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, append_many_offsets_match_a_paged_read_under_a_small_read_budget) {
    test_env e;
    test_env_init(&e, false);
    ss_protocol_free(e.p); /* again, with a read budget of one small message */
    ss_protocol_options po = {.storage = e.storage, .clock = &e.clock, .read_max_bytes = 8};
    cr_assert_eq(ss_protocol_new(&po, &e.p), SS_OK);
    ss_json_protocol *jp;
    cr_assert_eq(ss_json_protocol_new(e.p, NULL, &jp), SS_OK);
    ss_json_create_result cr;
    cr_assert_eq(ss_json_protocol_create(jp, S("a"), NULL, &cr), SS_OK);
    enum { N = 7 };
    json_t *vals[N];
    for (int i = 0; i < N; i++)
        vals[i] = json_pack("{s:i}", "i", i);
    ss_offset offs[2][N];
    ss_json_append_result ar;
    for (int round = 0; round < 2; round++) { /* the second batch starts mid-ring */
        cr_assert_eq(ss_json_stream_append_many(cr.stream, vals, N, NULL, &ar, offs[round]), SS_OK);
        cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    }
    /* Walk the whole stream page by page and compare with both batches. */
    ss_offset all[2 * N];
    size_t got = 0;
    ss_read_options ro = {0};
    while (got < 2 * N) {
        ss_json_read_result r;
        cr_assert_eq(ss_json_stream_read(cr.stream, &ro, &r), SS_OK);
        cr_assert_geq(r.n, 1);
        for (size_t i = 0; i < r.n; i++)
            all[got++] = r.msgs[i].offset;
        ro = (ss_read_options){.has_offset = true, .offset = r.next_offset};
        ss_json_read_result_release(&r);
    }
    for (int i = 0; i < 2 * N; i++)
        cr_assert(ss_offset_eq(&offs[i / N][i % N], &all[i]), "offset %d", i);
    for (int i = 0; i < N; i++)
        json_decref(vals[i]);
    ss_json_stream_release(cr.stream);
    ss_json_protocol_free(jp);
    test_env_release(&e);
}

Test(json_layer, append_many_past_the_message_cap_is_toobig_and_writes_nothing) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    size_t n = SS_MAX_MESSAGES_PER_APPEND + 1;
    json_t *one = J("1");
    json_t **vals = malloc(n * sizeof *vals);
    cr_assert(vals);
    for (size_t i = 0; i < n; i++)
        vals[i] = one;
    j.commits = 0;
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append_many(s, vals, n, NULL, &ar, NULL), SS_TOOBIG);
    cr_assert_eq(j.commits, 0);
    cr_assert_eq(ss_json_stream_append_many(s, vals, n - 1, NULL, &ar, NULL), SS_OK, "the cap itself is fine");
    cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    free(vals);
    json_decref(one);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, append_many_with_an_expected_offset_lands_atomically_or_conflicts_whole) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    ss_offset t0 = tail_of(&j, s);
    json_t *vals[2] = {J("1"), J("2")};
    ss_offset offs[2];
    ss_json_append_options o = {.has_expected_offset = true, .expected_offset = t0};
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append_many(s, vals, 2, &o, &ar, offs), SS_OK);
    cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    cr_assert(ss_offset_eq(&offs[1], &ar.append.offset));
    cr_assert_lt(ss_offset_cmp(&t0, &offs[0]), 0);
    j.commits = 0;
    cr_assert_eq(ss_json_stream_append_many(s, vals, 2, &o, &ar, offs), SS_OK); /* stale t0 */
    cr_assert_eq(ar.append.status, SS_APPEND_CONFLICT);
    cr_assert_eq(ar.append.conflict, SS_APPEND_CONFLICT_EXPECTED_OFFSET);
    cr_assert(ss_offset_eq(&ar.append.offset, &offs[1]), "the conflict reports the actual tail");
    cr_assert_eq(j.commits, 0);
    json_decref(vals[0]);
    json_decref(vals[1]);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, an_empty_batch_closes_with_close_and_is_a_bad_request_without) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append_many(s, NULL, 0, NULL, &ar, NULL), SS_OK);
    cr_assert_eq(ar.append.status, SS_APPEND_BAD_REQUEST);
    cr_assert_eq(ss_json_stream_close(s, NULL, &ar), SS_OK);
    cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    cr_assert(ar.append.closed);
    ar = append(s, "1", NULL);
    cr_assert_eq(ar.append.status, SS_APPEND_CONFLICT);
    cr_assert_eq(ar.append.conflict, SS_APPEND_CONFLICT_CLOSED);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 0);
    cr_assert(r.closed);
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, null_values_are_refused_before_anything_happens) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append(s, NULL, NULL, &ar), SS_BADARG);
    json_t *vals[2] = {json_true(), NULL};
    cr_assert_eq(ss_json_stream_append_many(s, vals, 2, NULL, &ar, NULL), SS_BADARG);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 0);
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

/* ---- array-valued messages --------------------------------------------------------------------- */

Test(json_layer, an_array_value_is_one_message_not_split_by_framing) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    cr_assert_eq(append(s, "[1,2]", NULL).append.status, SS_APPEND_APPENDED);
    cr_assert_eq(append(s, "[]", NULL).append.status, SS_APPEND_APPENDED);
    cr_assert_eq(append(s, "[[1],[2,[3]]]", NULL).append.status, SS_APPEND_APPENDED);
    char raw[128];
    raw_messages(&j, s, raw, sizeof raw);
    cr_assert_str_eq(raw, "[1,2]|[]|[[1],[2,[3]]]");
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 3);
    assert_json_eq(r.msgs[0].value, "[1,2]");
    assert_json_eq(r.msgs[1].value, "[]");
    assert_json_eq(r.msgs[2].value, "[[1],[2,[3]]]");
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, array_values_in_a_batch_each_stay_one_message) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    json_t *vals[4] = {J("[1,2]"), J("[]"), J("[[[]]]"), J("{\"a\":[1]}")};
    ss_offset offs[4];
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append_many(s, vals, 4, NULL, &ar, offs), SS_OK);
    cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert(json_equal(vals[i], r.msgs[i].value), "value %d", i);
        cr_assert(ss_offset_eq(&offs[i], &r.msgs[i].offset));
        json_decref(vals[i]);
    }
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

/* ---- CAS, producers ---------------------------------------------------------------------------- */

Test(json_layer, an_expected_offset_append_lands_on_the_tail_and_conflicts_with_the_actual_tail_otherwise) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    ss_offset t0 = tail_of(&j, s);
    ss_json_append_options o = {.has_expected_offset = true, .expected_offset = t0};
    ss_json_append_result a1 = append(s, "{\"step\":1}", &o);
    cr_assert_eq(a1.append.status, SS_APPEND_APPENDED);
    ss_json_append_result a2 = append(s, "{\"step\":2}", &o); /* t0 is stale now */
    cr_assert_eq(a2.append.status, SS_APPEND_CONFLICT);
    cr_assert_eq(a2.append.conflict, SS_APPEND_CONFLICT_EXPECTED_OFFSET);
    cr_assert(ss_offset_eq(&a2.append.offset, &a1.append.offset));
    o.expected_offset = a2.append.offset; /* retry from the reported tail */
    cr_assert_eq(append(s, "{\"step\":2}", &o).append.status, SS_APPEND_APPENDED);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 2);
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, producer_retries_of_a_batch_are_duplicates) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    json_t *vals[2] = {J("1"), J("2")};
    ss_json_append_options o = {.has_producer = true, .producer_id = S("p"), .producer_epoch = 1};
    ss_json_append_result ar;
    cr_assert_eq(ss_json_stream_append_many(s, vals, 2, &o, &ar, NULL), SS_OK);
    cr_assert_eq(ar.append.status, SS_APPEND_APPENDED);
    cr_assert(ar.append.has_producer);
    cr_assert_eq(ss_json_stream_append_many(s, vals, 2, &o, &ar, NULL), SS_OK);
    cr_assert_eq(ar.append.status, SS_APPEND_DUPLICATE);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.n, 2);
    ss_json_read_result_release(&r);
    json_decref(vals[0]);
    json_decref(vals[1]);
    ss_json_stream_release(s);
    json_env_release(&j);
}

/* ---- reads report what they cannot decode ------------------------------------------------------ */

/* Decodes everything except objects with "poison": true. */
static ss_rc picky_decode(void *ctx, const json_t *in, json_t **out, ss_json_error *err) {
    (void)ctx;
    if (json_is_true(json_object_get(in, "poison"))) {
        snprintf(err->path, sizeof err->path, "/poison");
        snprintf(err->rule, sizeof err->rule, "const");
        snprintf(err->message, sizeof err->message, "poisoned");
        return SS_CORRUPT;
    }
    *out = json_incref((json_t *)in);
    return SS_OK;
}

static ss_rc pass_encode(void *ctx, const json_t *in, json_t **out, ss_json_error *err) {
    (void)ctx, (void)err;
    *out = json_incref((json_t *)in);
    return SS_OK;
}

Test(json_layer, a_stored_message_the_codec_cannot_decode_is_reported_with_its_offset) {
    ss_json_codec c = {pass_encode, picky_decode, NULL};
    json_env j;
    json_env_init(&j, &c);
    ss_json_stream *s = create(&j, "a");
    ss_json_append_result a1 = append(s, "{\"n\":1}", NULL);
    ss_json_append_result bad = append(s, "{\"poison\":true}", NULL);
    ss_json_append_result a3 = append(s, "{\"n\":3}", NULL);
    cr_assert_eq(bad.append.status, SS_APPEND_APPENDED);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.status, SS_JSON_READ_DECODE_FAILED);
    cr_assert_eq(r.n, 1, "the messages before the bad one are returned");
    assert_json_eq(r.msgs[0].value, "{\"n\":1}");
    cr_assert(ss_offset_eq(&r.error_offset, &bad.append.offset));
    cr_assert(ss_offset_eq(&r.next_offset, &a1.append.offset));
    cr_assert_not(r.up_to_date);
    cr_assert_eq(r.error.index, 1);
    cr_assert_str_eq(r.error.path, "/poison");
    cr_assert_str_eq(r.error.rule, "const");
    ss_json_read_result_release(&r);
    /* Starting at the failing message reproduces the failure with nothing before it. */
    r = read_from(s, &a1.append.offset);
    cr_assert_eq(r.status, SS_JSON_READ_DECODE_FAILED);
    cr_assert_eq(r.n, 0);
    cr_assert(ss_offset_eq(&r.next_offset, &a1.append.offset));
    cr_assert_eq(r.error.index, 0);
    ss_json_read_result_release(&r);
    /* Reading from error_offset skips it. */
    r = read_from(s, &bad.append.offset);
    cr_assert_eq(r.status, SS_JSON_READ_OK);
    cr_assert_eq(r.n, 1);
    cr_assert(ss_offset_eq(&r.msgs[0].offset, &a3.append.offset));
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, a_stored_message_that_is_not_json_is_reported_as_invalid_json) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    ss_json_append_result a1 = append(s, "1", NULL);
    /* The protocol never stores invalid JSON, so corrupt the storage directly. */
    ss_storage_stream *st;
    cr_assert_eq(ss_storage_open(j.e.storage, S("a"), &st), SS_OK);
    ss_message m = {.data = S("{\"broken\""), .ts_ms = j.e.now_ms};
    cr_assert_eq(ss_default_offset_gen.next(NULL, &a1.append.offset, &m.offset), SS_OK);
    ss_mutation_plan plan = {
        .has_expected_tail = true, .expected_tail = a1.append.offset, .msgs = &m, .n_msgs = 1};
    plan.patch.set = SS_PATCH_TAIL;
    plan.patch.tail = m.offset;
    ss_commit_outcome oc;
    cr_assert_eq(ss_storage_commit(st, &plan, &j.e.a, &oc), SS_OK);
    cr_assert_eq(oc.status, SS_COMMIT_COMMITTED);
    ss_storage_close(st);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.status, SS_JSON_READ_INVALID_JSON);
    cr_assert_eq(r.n, 1);
    cr_assert(ss_offset_eq(&r.error_offset, &m.offset));
    cr_assert_str_eq(r.error.rule, "json");
    cr_assert_eq(r.error.index, 1);
    cr_assert_neq(r.error.message[0], '\0');
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, integers_beyond_64_bits_read_as_reals_and_nul_characters_survive) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    /* Written by a plain HTTP client: straight through the protocol. */
    ss_append_options o = {.data = S("[12345678901234567890, 9007199254740993, \"a\\u0000b\"]"),
                           .content_type = S("application/json")};
    ss_append_result ar;
    cr_assert_eq(ss_stream_append(ss_json_stream_base(s), &o, &j.e.a, &ar), SS_OK);
    cr_assert_eq(ar.status, SS_APPEND_APPENDED);
    ss_json_read_result r = read_from(s, NULL);
    cr_assert_eq(r.status, SS_JSON_READ_OK);
    cr_assert_eq(r.n, 3);
    cr_assert(json_is_real(r.msgs[0].value));
    cr_assert_float_eq(json_real_value(r.msgs[0].value), 12345678901234567890.0, 1.0);
    cr_assert(json_is_integer(r.msgs[1].value), "64-bit integers stay exact");
    cr_assert_eq(json_integer_value(r.msgs[1].value), 9007199254740993LL);
    cr_assert_eq(json_string_length(r.msgs[2].value), 3);
    cr_assert_eq(memcmp(json_string_value(r.msgs[2].value), "a\0b", 3), 0);
    ss_json_read_result_release(&r);
    ss_json_stream_release(s);
    json_env_release(&j);
}

/* ---- create / get -------------------------------------------------------------------------------- */

Test(json_layer, create_writes_all_initial_values_atomically_or_nothing) {
    json_env j;
    json_env_init(&j, NULL);
    json_t *init[3] = {J("{\"a\":1}"), J("[1,2]"), J("3")};
    ss_json_create_options co = {.initial_values = init, .n_initial = 3};
    ss_json_create_result cr;
    cr_assert_eq(ss_json_protocol_create(j.jp, S("a"), &co, &cr), SS_OK);
    cr_assert_eq(cr.status, SS_JSON_CREATE_CREATED);
    cr_assert_eq(j.commits, 1);
    ss_json_read_result r = read_from(cr.stream, NULL);
    cr_assert_eq(r.n, 3);
    for (int i = 0; i < 3; i++)
        cr_assert(json_equal(init[i], r.msgs[i].value));
    cr_assert(ss_offset_eq(&cr.next_offset, &r.msgs[2].offset));
    ss_json_read_result_release(&r);
    ss_json_stream_release(cr.stream);
    /* Repeating it is exists; the initial values are not written again. */
    cr_assert_eq(ss_json_protocol_create(j.jp, S("a"), &co, &cr), SS_OK);
    cr_assert_eq(cr.status, SS_JSON_CREATE_EXISTS);
    r = read_from(cr.stream, NULL);
    cr_assert_eq(r.n, 3);
    ss_json_read_result_release(&r);
    ss_json_stream_release(cr.stream);
    for (int i = 0; i < 3; i++)
        json_decref(init[i]);
    json_env_release(&j);

    int calls = 0;
    ss_json_codec c = {envelope_encode, envelope_decode, &calls};
    json_env_init(&j, &c);
    json_t *bad[2] = {J("{\"type\":\"ok\"}"), J("{}")};
    co = (ss_json_create_options){.initial_values = bad, .n_initial = 2};
    cr_assert_eq(ss_json_protocol_create(j.jp, S("b"), &co, &cr), SS_OK);
    cr_assert_eq(cr.status, SS_JSON_CREATE_INVALID);
    cr_assert_eq(cr.error.index, 1);
    cr_assert_null(cr.stream);
    ss_json_get_result g;
    cr_assert_eq(ss_json_protocol_get(j.jp, S("b"), &g), SS_OK);
    cr_assert_eq(g.status, SS_JSON_GET_NOT_FOUND, "nothing was created");
    json_decref(bad[0]);
    json_decref(bad[1]);
    json_env_release(&j);
}

Test(json_layer, get_refuses_a_stream_whose_media_type_is_not_application_json) {
    json_env j;
    json_env_init(&j, NULL);
    ss_create_options text = {.content_type = S("text/plain; charset=utf-8")};
    ss_create_result cr;
    cr_assert_eq(ss_protocol_create(j.e.p, S("t"), &text, &j.e.a, &cr), SS_OK);
    ss_stream_release(cr.stream);
    ss_create_options json = {.content_type = S("Application/JSON; charset=utf-8")};
    cr_assert_eq(ss_protocol_create(j.e.p, S("j"), &json, &j.e.a, &cr), SS_OK);
    ss_stream_release(cr.stream);

    ss_json_get_result g;
    cr_assert_eq(ss_json_protocol_get(j.jp, S("t"), &g), SS_OK);
    cr_assert_eq(g.status, SS_JSON_GET_CONTENT_TYPE_CONFLICT);
    cr_assert_null(g.stream);
    cr_assert_str_eq(g.content_type, "text/plain; charset=utf-8");
    cr_assert_eq(ss_json_protocol_get(j.jp, S("j"), &g), SS_OK);
    cr_assert_eq(g.status, SS_JSON_GET_OK, "parameters and case are ignored");
    cr_assert(ss_slice_eq_cstr(ss_json_stream_id(g.stream), "j"));
    ss_json_stream_release(g.stream);
    cr_assert_eq(ss_json_protocol_get(j.jp, S("missing"), &g), SS_OK);
    cr_assert_eq(g.status, SS_JSON_GET_NOT_FOUND);
    /* Creating a JSON stream over the text one is a config conflict. */
    ss_json_create_result jr;
    cr_assert_eq(ss_json_protocol_create(j.jp, S("t"), NULL, &jr), SS_OK);
    cr_assert_eq(jr.status, SS_JSON_CREATE_CONFLICT);
    cr_assert_eq(jr.conflict, SS_CREATE_CONFLICT_CONFIG_MISMATCH);
    json_env_release(&j);
}

Test(json_layer, get_reports_gone_for_a_deleted_fork_source) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *src = create(&j, "src");
    cr_assert_eq(append(src, "{\"x\":1}", NULL).append.status, SS_APPEND_APPENDED);
    ss_json_create_options fo = {.forked_from = S("src")};
    ss_json_create_result fr;
    cr_assert_eq(ss_json_protocol_create(j.jp, S("child"), &fo, &fr), SS_OK);
    cr_assert_eq(fr.status, SS_JSON_CREATE_CREATED);
    ss_presence ds;
    cr_assert_eq(ss_stream_delete(ss_json_stream_base(src), &ds), SS_OK);
    ss_json_stream_release(src);
    ss_json_get_result g;
    cr_assert_eq(ss_json_protocol_get(j.jp, S("src"), &g), SS_OK);
    cr_assert_eq(g.status, SS_JSON_GET_GONE, "a source with a live fork is soft-deleted");
    ss_json_read_result r = read_from(fr.stream, NULL);
    cr_assert_eq(r.n, 1, "the fork still reads its inherited message");
    assert_json_eq(r.msgs[0].value, "{\"x\":1}");
    ss_json_read_result_release(&r);
    ss_json_stream_release(fr.stream);
    json_env_release(&j);
}

/* ---- live reads ------------------------------------------------------------------------------------- */

static void count_fire(ss_waiter *w) { (*(int *)w->ctx)++; }

Test(json_layer, a_live_read_parks_wakes_on_append_and_returns_decoded_values) {
    json_env j;
    json_env_init(&j, NULL);
    ss_json_stream *s = create(&j, "a");
    ss_live_options lo = {.has_offset = true, .offset = test_offset(SS_ZERO_OFFSET)};
    ss_json_live_result lr;
    cr_assert_eq(ss_json_stream_read_live_begin(s, &lo, &lr), SS_OK);
    cr_assert_eq(lr.status, SS_JSON_LIVE_WAIT);
    ss_offset parked = lr.next_offset;
    ss_json_live_result_release(&lr);
    int fired = 0;
    ss_waiter w = {.fire = count_fire, .ctx = &fired};
    cr_assert_eq(ss_protocol_park(j.e.p, &w, ss_json_stream_id(s)), SS_OK);
    cr_assert_eq(append(s, "[\"an\",\"array\"]", NULL).append.status, SS_APPEND_APPENDED);
    cr_assert_eq(fired, 0);
    cr_assert_eq(ss_protocol_run_pending(j.e.p), 1);
    cr_assert_eq(fired, 1);
    cr_assert_eq(ss_json_stream_read_live_finish(s, &parked, SS_SLICE_NULL, false, &lr), SS_OK);
    cr_assert_eq(lr.status, SS_JSON_LIVE_OK);
    cr_assert_eq(lr.n, 1);
    assert_json_eq(lr.msgs[0].value, "[\"an\",\"array\"]");
    cr_assert(lr.up_to_date);
    cr_assert_neq(lr.cursor[0], '\0');
    ss_json_live_result_release(&lr);
    /* With data already there, begin answers at once. */
    cr_assert_eq(ss_json_stream_read_live_begin(s, &lo, &lr), SS_OK);
    cr_assert_eq(lr.status, SS_JSON_LIVE_OK);
    cr_assert_eq(lr.n, 1);
    ss_json_live_result_release(&lr);
    ss_json_stream_release(s);
    json_env_release(&j);
}

Test(json_layer, a_live_read_times_out_and_reports_undecodable_messages) {
    ss_json_codec c = {pass_encode, picky_decode, NULL};
    json_env j;
    json_env_init(&j, &c);
    ss_json_stream *s = create(&j, "a");
    ss_offset zero = test_offset(SS_ZERO_OFFSET);
    ss_json_live_result lr;
    cr_assert_eq(ss_json_stream_read_live_finish(s, &zero, SS_SLICE_NULL, true, &lr), SS_OK);
    cr_assert_eq(lr.status, SS_JSON_LIVE_TIMEOUT);
    cr_assert_eq(lr.n, 0);
    ss_json_live_result_release(&lr);
    ss_json_append_result bad = append(s, "{\"poison\":true}", NULL);
    ss_live_options lo = {.has_offset = true, .offset = zero};
    cr_assert_eq(ss_json_stream_read_live_begin(s, &lo, &lr), SS_OK);
    cr_assert_eq(lr.status, SS_JSON_LIVE_DECODE_FAILED);
    cr_assert_eq(lr.n, 0);
    cr_assert(ss_offset_eq(&lr.error_offset, &bad.append.offset));
    cr_assert(ss_offset_eq(&lr.next_offset, &zero));
    cr_assert_str_eq(lr.error.rule, "const");
    ss_json_live_result_release(&lr);
    ss_json_stream_release(s);
    json_env_release(&j);
}
