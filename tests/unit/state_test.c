/* Durable State: the exact wire bytes of change and control messages,
 * validation before anything is written, typed reads, materialization
 * (insert, update, delete, reset, snapshots, several collections), atomic
 * batches and a compare-and-swap retry loop over expectedOffset. */
#include <stdio.h>

#include "streamsy/state.h"
#include "test_support.h"

/* ---- fixtures ------------------------------------------------------------- */

typedef struct state_env {
    test_env e;
    ss_json_schema *user_schema;
    ss_state_schema *schema;
    ss_protocol_stream *s;
} state_env;

static json_t *J(const char *text) {
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    cr_assert_not_null(j, "bad test JSON %s: %s", text, je.text);
    return j;
}

static ss_json_schema *compile_schema(const char *text) {
    json_t *doc = J(text);
    ss_json_schema *out = NULL;
    ss_json_error err = {0};
    cr_assert_eq(ss_json_schema_compile(doc, &out, &err), SS_OK, "%s", err.message);
    json_decref(doc);
    return out;
}

/* users: wire type "user", primary key "id", value schema; tasks: no schema,
 * no primary key (keys always given). */
static void state_env_init(state_env *t) {
    test_env_init(&t->e, false);
    t->user_schema = compile_schema("{\"type\":\"object\",\"required\":[\"id\",\"name\"],"
                                    "\"properties\":{\"id\":{\"type\":\"string\"},"
                                    "\"name\":{\"type\":\"string\",\"minLength\":1}}}");
    ss_state_collection_def defs[] = {
        {.name = "users", .type = "user", .value_schema = t->user_schema, .primary_key = "id"},
        {.name = "tasks"},
    };
    cr_assert_eq(ss_state_schema_new(defs, 2, &t->schema), SS_OK);
    ss_create_options o = {.content_type = S("application/json")};
    ss_create_result r;
    cr_assert_eq(ss_protocol_create(t->e.p, S("state"), &o, &t->e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_CREATE_CREATED);
    t->s = r.stream;
}

static void state_env_release(state_env *t) {
    ss_stream_release(t->s);
    ss_state_schema_free(t->schema);
    ss_json_schema_free(t->user_schema);
    test_env_release(&t->e);
}

static ss_state_append_result append_inputs(state_env *t, const ss_state_input *in, size_t n) {
    ss_state_append_result r;
    cr_assert_eq(ss_state_append(t->schema, t->s, in, n, NULL, &t->e.a, &r), SS_OK);
    return r;
}

static void append_ok(state_env *t, const ss_state_input *in, size_t n) {
    ss_state_append_result r = append_inputs(t, in, n);
    cr_assert_not(r.invalid, "invalid: %s at %s (%s)", r.error.message, r.error.path, r.error.rule);
    cr_assert_eq(r.append.status, SS_APPEND_APPENDED);
}

/* Raw bytes straight through the protocol (no State validation). */
static void append_raw(state_env *t, const char *body) {
    ss_append_options o = {.data = S(body), .content_type = S("application/json")};
    ss_append_result r;
    cr_assert_eq(ss_stream_append(t->s, &o, &t->e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_APPEND_APPENDED, "%s", r.message ? r.message : "");
}

static ss_read_result read_all(state_env *t) {
    ss_read_options o = {0};
    ss_read_result r;
    cr_assert_eq(ss_stream_read(t->s, &o, &t->e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_PRESENT);
    return r;
}

static void assert_stored(state_env *t, const char *const *expected, size_t n) {
    ss_read_result r = read_all(t);
    cr_assert_eq(r.n, n, "stored %zu messages, expected %zu", r.n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(ss_slice_eq_cstr(r.msgs[i].data, expected[i]), "message %zu:\n  got      %.*s\n  expected %s", i,
                  (int)r.msgs[i].data.len, r.msgs[i].data.p, expected[i]);
}

static void assert_nothing_stored(state_env *t) { cr_assert_eq(read_all(t).n, 0, "something was written"); }

static char *encode(state_env *t, const ss_state_input *in, size_t n, bool wrap, ss_json_error *err, ss_rc want) {
    ss_buf b;
    ss_buf_init(&b, 1 << 20);
    cr_assert_eq(ss_state_encode(t->schema, in, n, wrap, &b, err), want, "%s (%s at %s)", err->message, err->rule,
                 err->path);
    cr_assert_eq(ss_buf_append(&b, "", 1), SS_OK);
    size_t len;
    return ss_buf_detach(&b, &len);
}

static void assert_error(const ss_json_error *e, long index, const char *path, const char *rule) {
    cr_assert_eq(e->index, index, "index %ld, expected %ld (%s)", e->index, index, e->message);
    cr_assert_str_eq(e->path, path, "path (%s)", e->message);
    cr_assert_str_eq(e->rule, rule, "rule (%s)", e->message);
    cr_assert_neq(e->message[0], '\0');
}

/* ---- schema ----------------------------------------------------------------- */

Test(state, schema_copies_its_strings_and_rejects_duplicate_names_and_wire_types) {
    char name[] = "users", pk[] = "id";
    ss_state_collection_def d = {.name = name, .primary_key = pk};
    ss_state_schema *s;
    cr_assert_eq(ss_state_schema_new(&d, 1, &s), SS_OK);
    name[0] = 'X';
    pk[0] = 'X';
    const ss_state_collection_def *c = ss_state_schema_collection(s, 0);
    cr_assert_str_eq(c->name, "users");
    cr_assert_str_eq(c->type, "users"); /* wire type defaults to the name */
    cr_assert_str_eq(c->primary_key, "id");
    cr_assert_null(ss_state_schema_collection(s, 1));
    ss_state_schema_free(s);

    ss_state_collection_def same_name[] = {{.name = "a"}, {.name = "a", .type = "x"}};
    ss_state_collection_def same_type[] = {{.name = "a", .type = "t"}, {.name = "b", .type = "t"}};
    ss_state_collection_def type_is_other_name[] = {{.name = "a"}, {.name = "b", .type = "a"}};
    ss_state_collection_def empty[] = {{.name = ""}};
    cr_assert_eq(ss_state_schema_new(same_name, 2, &s), SS_BADARG);
    cr_assert_eq(ss_state_schema_new(same_type, 2, &s), SS_BADARG);
    cr_assert_eq(ss_state_schema_new(type_is_other_name, 2, &s), SS_BADARG);
    cr_assert_eq(ss_state_schema_new(empty, 1, &s), SS_BADARG);
}

/* ---- exact bytes on the wire ------------------------------------------------ */

Test(state, insert_is_written_in_streamsy_key_order_as_a_one_element_array) {
    state_env t;
    state_env_init(&t);
    json_t *v = J("{\"id\":\"u1\",\"name\":\"Alice\"}");
    ss_state_input in = ss_state_insert("users", v);
    in.txid = "t-1";
    in.timestamp = "2025-01-15T10:35:00Z";
    ss_json_error err;
    char *body = encode(&t, &in, 1, true, &err, SS_OK);
    const char *msg =
        "{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"id\":\"u1\",\"name\":\"Alice\"},"
        "\"headers\":{\"txid\":\"t-1\",\"timestamp\":\"2025-01-15T10:35:00Z\",\"operation\":\"insert\"}}";
    char want[512];
    snprintf(want, sizeof want, "[%s]", msg);
    cr_assert_str_eq(body, want);
    ss_free(body);
    append_ok(&t, &in, 1);
    assert_stored(&t, (const char *[]){msg}, 1);
    json_decref(v);
    state_env_release(&t);
}

Test(state, update_puts_old_value_after_headers_and_delete_has_no_value) {
    state_env t;
    state_env_init(&t);
    json_t *v = J("{\"id\":\"u1\",\"name\":\"Alicia\"}"), *old = J("{\"id\":\"u1\",\"name\":\"Alice\"}");
    ss_state_input up = ss_state_update("users", v);
    up.key = "u1";
    up.old_value = old;
    ss_state_input del = ss_state_delete("users", "u1");
    del.old_value = old;
    del.txid = "t-9";
    ss_state_input task = ss_state_delete("tasks", "t1");
    append_ok(&t, &up, 1);
    append_ok(&t, &del, 1);
    append_ok(&t, &task, 1);
    assert_stored(&t,
                  (const char *[]){
                      "{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"id\":\"u1\",\"name\":\"Alicia\"},"
                      "\"headers\":{\"operation\":\"update\"},\"old_value\":{\"id\":\"u1\",\"name\":\"Alice\"}}",
                      "{\"type\":\"user\",\"key\":\"u1\",\"headers\":{\"txid\":\"t-9\",\"operation\":\"delete\"},"
                      "\"old_value\":{\"id\":\"u1\",\"name\":\"Alice\"}}",
                      "{\"type\":\"tasks\",\"key\":\"t1\",\"headers\":{\"operation\":\"delete\"}}",
                  },
                  3);
    json_decref(v);
    json_decref(old);
    state_env_release(&t);
}

Test(state, control_messages_carry_only_headers_with_offset_before_control) {
    state_env t;
    state_env_init(&t);
    ss_state_input in[] = {
        ss_state_control_msg(SS_STATE_SNAPSHOT_START, SS_ZERO_OFFSET),
        ss_state_control_msg(SS_STATE_SNAPSHOT_END, NULL),
        ss_state_control_msg(SS_STATE_RESET, "0000000000000007_0000000000000000"),
    };
    ss_json_error err;
    char *bare = encode(&t, &in[1], 1, false, &err, SS_OK);
    cr_assert_str_eq(bare, "{\"headers\":{\"control\":\"snapshot-end\"}}");
    ss_free(bare);
    append_ok(&t, in, 3);
    assert_stored(&t,
                  (const char *[]){
                      "{\"headers\":{\"offset\":\"" SS_ZERO_OFFSET "\",\"control\":\"snapshot-start\"}}",
                      "{\"headers\":{\"control\":\"snapshot-end\"}}",
                      "{\"headers\":{\"offset\":\"0000000000000007_0000000000000000\",\"control\":\"reset\"}}",
                  },
                  3);
    state_env_release(&t);
}

Test(state, key_comes_from_the_primary_key_field_when_not_given) {
    state_env t;
    state_env_init(&t);
    json_t *v = J("{\"name\":\"Bob\",\"id\":\"u2\"}");
    ss_state_input in = ss_state_insert("users", v);
    append_ok(&t, &in, 1);
    assert_stored(&t,
                  (const char *[]){"{\"type\":\"user\",\"key\":\"u2\",\"value\":{\"name\":\"Bob\",\"id\":\"u2\"},"
                                   "\"headers\":{\"operation\":\"insert\"}}"},
                  1);
    json_decref(v);
    state_env_release(&t);
}

Test(state, values_are_written_the_way_json_stringify_writes_them) {
    state_env t;
    state_env_init(&t);
    /* Built by hand so jansson keeps this insertion order and these doubles. */
    json_t *v = json_object();
    json_object_set_new(v, "b", json_integer(1));
    json_object_set_new(v, "2", json_integer(2));
    json_object_set_new(v, "a", json_integer(3));
    json_object_set_new(v, "1", json_integer(4));
    json_object_set_new(v, "01", json_integer(5)); /* not an array index */
    json_t *nums = json_array();
    double ds[] = {1.5,     1e21, 1e-7, 0.000001, 123456789012345678901.0,
                   -0.0,    0.1,  100,  5e-324,   1.7976931348623157e308,
                   -2.5e-10};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        json_array_append_new(nums, json_real(ds[i]));
    json_array_append_new(nums, json_integer(9007199254740993)); /* written exactly */
    json_object_set_new(v, "n", nums);
    json_object_set_new(v, "s", json_stringn("q\"b\\/\x01\n\t\xe2\x80\xa8\xc3\xa9", 13));
    json_object_set_new(v, "z", json_stringn("nul:\0!", 6));
    json_object_set_new(v, "t", json_pack("[bbn]", 1, 0));
    ss_state_input in = ss_state_insert("tasks", v);
    in.key = "k";
    ss_json_error err;
    char *body = encode(&t, &in, 1, false, &err, SS_OK);
    cr_assert_str_eq(body, "{\"type\":\"tasks\",\"key\":\"k\",\"value\":{\"1\":4,\"2\":2,\"b\":1,\"a\":3,\"01\":5,"
                           "\"n\":[1.5,1e+21,1e-7,0.000001,123456789012345680000,0,0.1,100,5e-324,"
                           "1.7976931348623157e+308,-2.5e-10,9007199254740993],"
                           "\"s\":\"q\\\"b\\\\/\\u0001\\n\\t\xe2\x80\xa8\xc3\xa9\",\"z\":\"nul:\\u0000!\","
                           "\"t\":[true,false,null]},\"headers\":{\"operation\":\"insert\"}}");
    ss_free(body);
    json_decref(v);
    state_env_release(&t);
}

Test(state, an_array_value_is_not_split_by_array_flattening) {
    state_env t;
    state_env_init(&t);
    json_t *v = J("[1,[2,3]]");
    ss_state_input in = ss_state_insert("tasks", v);
    in.key = "list";
    append_ok(&t, &in, 1);
    assert_stored(&t,
                  (const char *[]){"{\"type\":\"tasks\",\"key\":\"list\",\"value\":[1,[2,3]],"
                                   "\"headers\":{\"operation\":\"insert\"}}"},
                  1);
    json_decref(v);
    state_env_release(&t);
}

/* ---- validation: each rule, nothing written ------------------------------------ */

Test(state, builder_rejects_each_invalid_input_and_writes_nothing) {
    state_env t;
    state_env_init(&t);
    json_t *alice = J("{\"id\":\"u1\",\"name\":\"Alice\"}"), *noname = J("{\"id\":\"u1\"}"),
           *emptyname = J("{\"id\":\"u1\",\"name\":\"\"}"), *noid = J("{\"name\":\"Alice\"}"),
           *numid = J("{\"id\":7,\"name\":\"Alice\"}");
    struct {
        ss_state_input in;
        const char *path, *rule;
    } cases[] = {
        {ss_state_insert("people", alice), "/type", "collection"},
        {ss_state_insert("users", noid), "/key", "key"},
        {ss_state_insert("users", numid), "/value", "primary-key"},
        {{.kind = SS_STATE_CHANGE,
          .operation = SS_STATE_INSERT,
          .collection = "users",
          .key = "u2",
          .value = alice},
         "/value/id",
         "primary-key"},
        {ss_state_insert("users", noname), "/value", "required"},
        {ss_state_insert("users", emptyname), "/value/name", "minLength"},
        {{.kind = SS_STATE_CHANGE, .operation = SS_STATE_UPDATE, .collection = "users", .key = "u1"},
         "/value",
         "value"},
        {{.kind = SS_STATE_CHANGE,
          .operation = SS_STATE_DELETE,
          .collection = "users",
          .key = "u1",
          .value = alice},
         "/value",
         "value"},
        {ss_state_delete("users", NULL), "/key", "key"},
        {ss_state_delete("users", ""), "/key", "key"},
        {{.kind = SS_STATE_CHANGE,
          .operation = SS_STATE_DELETE,
          .collection = "users",
          .key = "u1",
          .old_value = noname},
         "/old_value",
         "required"},
        {{.kind = SS_STATE_CHANGE, .operation = SS_STATE_DELETE, .collection = "tasks", .key = "t", .txid = ""},
         "/headers/txid",
         "txid"},
        {{.kind = SS_STATE_CHANGE,
          .operation = SS_STATE_DELETE,
          .collection = "tasks",
          .key = "t",
          .timestamp = "yesterday"},
         "/headers/timestamp",
         "timestamp"},
        {{.kind = SS_STATE_CHANGE, .operation = SS_STATE_DELETE, .collection = "tasks", .key = "\xff"},
         "/key",
         "key"},
        {{.kind = SS_STATE_CHANGE, .operation = (ss_state_operation)7, .collection = "tasks", .key = "t"},
         "/headers/operation",
         "operation"},
        {{.kind = SS_STATE_CONTROL, .control = (ss_state_control)9}, "/headers/control", "control"},
        {{.kind = SS_STATE_CONTROL, .control = SS_STATE_RESET, .offset = ""}, "/headers/offset", "offset"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ss_state_append_result r = append_inputs(&t, &cases[i].in, 1);
        cr_assert(r.invalid, "case %zu was accepted", i);
        assert_error(&r.error, 0, cases[i].path, cases[i].rule);
        ss_json_error err;
        ss_free(encode(&t, &cases[i].in, 1, false, &err, SS_BADARG));
        cr_assert_eq(err.index, -1);
    }
    assert_nothing_stored(&t);
    json_decref(alice);
    json_decref(noname);
    json_decref(emptyname);
    json_decref(noid);
    json_decref(numid);
    state_env_release(&t);
}

Test(state, validate_message_checks_the_published_schema_and_the_collection_table) {
    state_env t;
    state_env_init(&t);
    struct {
        const char *msg, *path, *rule; /* path NULL: valid */
    } cases[] = {
        {"{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"id\":\"u1\",\"name\":\"A\"},\"headers\":{\"operation\":"
         "\"insert\"}}",
         NULL, NULL},
        {"{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"name\":\"A\",\"id\":\"u1\"},\"headers\":{\"operation\":"
         "\"update\",\"txid\":\"x\",\"timestamp\":\"2025-01-15T10:35:00.123+02:00\"},\"old_value\":{\"id\":\"u1\","
         "\"name\":\"B\"}}",
         NULL, NULL},
        {"{\"type\":\"user\",\"key\":\"u1\",\"headers\":{\"operation\":\"delete\"}}", NULL, NULL},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":null,\"headers\":{\"operation\":\"delete\"}}", NULL, NULL},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":null,\"headers\":{\"operation\":\"insert\"}}", NULL, NULL},
        {"{\"headers\":{\"control\":\"reset\"}}", NULL, NULL},
        {"{\"headers\":{\"control\":\"snapshot-start\",\"offset\":\"x\"}}", NULL, NULL},
        {"[]", "", "message"},
        {"\"insert\"", "", "message"},
        {"{\"type\":\"tasks\",\"key\":\"t\"}", "/headers", "message"},
        {"{\"headers\":[]}", "/headers", "message"},
        {"{\"headers\":{}}", "/headers", "message"},
        {"{\"headers\":{\"operation\":\"insert\",\"control\":\"reset\"}}", "/headers", "message"},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"upsert\"}}",
         "/headers/operation", "operation"},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"INSERT\"}}",
         "/headers/operation", "operation"},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":1}}", "/headers/operation",
         "operation"},
        {"{\"headers\":{\"control\":\"pause\"}}", "/headers/control", "control"},
        {"{\"key\":\"t\",\"headers\":{\"control\":\"reset\"}}", "/key", "control"},
        {"{\"headers\":{\"control\":\"reset\",\"offset\":\"\"}}", "/headers/offset", "offset"},
        {"{\"headers\":{\"control\":\"reset\",\"from\":\"x\"}}", "/headers/from", "additionalProperties"},
        {"{\"headers\":{\"control\":\"reset\"},\"extra\":1}", "/extra", "additionalProperties"},
        {"{\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}", "/type", "collection"},
        {"{\"type\":\"\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}", "/type",
         "collection"},
        {"{\"type\":\"users\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}", "/type",
         "collection"},
        {"{\"type\":\"tasks\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}", "/key", "key"},
        {"{\"type\":\"tasks\",\"key\":5,\"value\":1,\"headers\":{\"operation\":\"insert\"}}", "/key", "key"},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"headers\":{\"operation\":\"update\"}}", "/value", "value"},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"insert\"},\"meta\":1}",
         "/meta", "additionalProperties"},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"insert\",\"offset\":\"x\"}}",
         "/headers/offset", "additionalProperties"},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"insert\",\"txid\":7}}",
         "/headers/txid", "txid"},
        {"{\"type\":\"tasks\",\"key\":\"t\",\"value\":1,\"headers\":{\"operation\":\"insert\",\"timestamp\":"
         "\"2025-13-01T00:00:00Z\"}}",
         "/headers/timestamp", "timestamp"},
        {"{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"id\":\"u2\",\"name\":\"A\"},\"headers\":{\"operation\":"
         "\"insert\"}}",
         "/value/id", "primary-key"},
        {"{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"id\":\"u1\",\"name\":5},\"headers\":{\"operation\":"
         "\"insert\"}}",
         "/value/name", "type"},
        {"{\"type\":\"user\",\"key\":\"u1\",\"value\":null,\"headers\":{\"operation\":\"update\"}}", "/value",
         "type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *m = J(cases[i].msg);
        ss_json_error err;
        memset(&err, 0, sizeof err);
        ss_rc rc = ss_state_validate_message(t.schema, m, &err);
        if (!cases[i].path)
            cr_assert_eq(rc, SS_OK, "case %zu: %s (%s at %s)", i, err.message, err.rule, err.path);
        else {
            cr_assert_eq(rc, SS_BADARG, "case %zu was accepted: %s", i, cases[i].msg);
            assert_error(&err, -1, cases[i].path, cases[i].rule);
        }
        json_decref(m);
    }
    state_env_release(&t);
}

Test(state, validate_body_names_the_first_failing_message_of_a_batch) {
    state_env t;
    state_env_init(&t);
    const char *ok1 = "{\"type\":\"tasks\",\"key\":\"a\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}";
    const char *bad = "{\"type\":\"tasks\",\"key\":\"b\",\"value\":1,\"headers\":{\"operation\":\"upsert\"}}";
    char body[1024];
    ss_json_error err;
    cr_assert_eq(ss_state_validate_body(t.schema, S(ok1), &err), SS_OK);
    snprintf(body, sizeof body, " [ %s , {\"headers\":{\"control\":\"reset\"}} ] ", ok1);
    cr_assert_eq(ss_state_validate_body(t.schema, S(body), &err), SS_OK);
    cr_assert_eq(ss_state_validate_body(t.schema, S("[]"), &err), SS_OK); /* the protocol rejects it */

    cr_assert_eq(ss_state_validate_body(t.schema, S(bad), &err), SS_BADARG);
    assert_error(&err, 0, "/headers/operation", "operation");
    snprintf(body, sizeof body, "[%s,%s,%s]", ok1, ok1, bad);
    cr_assert_eq(ss_state_validate_body(t.schema, S(body), &err), SS_BADARG);
    assert_error(&err, 2, "/headers/operation", "operation");
    snprintf(body, sizeof body, "[%s,[%s]]", ok1, ok1); /* flattening is one level only */
    cr_assert_eq(ss_state_validate_body(t.schema, S(body), &err), SS_BADARG);
    assert_error(&err, 1, "", "message");
    cr_assert_eq(ss_state_validate_body(t.schema, S("{\"headers\":"), &err), SS_BADARG);
    assert_error(&err, -1, "", "json");
    cr_assert_eq(ss_state_validate_body(t.schema, S("{} x"), &err), SS_BADARG);
    assert_error(&err, -1, "", "json");
    /* Integers too big for int64 are still JSON (JavaScript reads them as doubles). */
    cr_assert_eq(ss_state_validate_body(t.schema,
                                        S("{\"type\":\"tasks\",\"key\":\"a\",\"value\":123456789012345678901234,"
                                          "\"headers\":{\"operation\":\"insert\"}}"),
                                        &err),
                 SS_OK);
    state_env_release(&t);
}

/* ---- atomic batches ------------------------------------------------------------- */

Test(state, a_batch_is_one_atomic_append_and_an_invalid_last_element_writes_nothing) {
    state_env t;
    state_env_init(&t);
    json_t *a = J("{\"id\":\"a\",\"name\":\"A\"}"), *b = J("{\"id\":\"b\",\"name\":\"B\"}"),
           *bad = J("{\"id\":\"c\"}");
    ss_state_input batch[] = {ss_state_insert("users", a), ss_state_insert("users", b),
                              ss_state_insert("users", bad)};
    ss_state_append_result r = append_inputs(&t, batch, 3);
    cr_assert(r.invalid);
    assert_error(&r.error, 2, "/value", "required");
    assert_nothing_stored(&t);

    r = append_inputs(&t, batch, 2);
    cr_assert_not(r.invalid);
    cr_assert_eq(r.append.status, SS_APPEND_APPENDED);
    ss_read_result rr = read_all(&t);
    cr_assert_eq(rr.n, 2);
    cr_assert(ss_offset_eq(&rr.msgs[1].offset, &r.append.offset)); /* one commit: the batch's tail */
    cr_assert_lt(ss_offset_cmp(&rr.msgs[0].offset, &rr.msgs[1].offset), 0);
    json_decref(a);
    json_decref(b);
    json_decref(bad);
    state_env_release(&t);
}

/* ---- typed reads ------------------------------------------------------------------ */

Test(state, reads_return_typed_messages_and_tolerate_stamped_header_offsets) {
    state_env t;
    state_env_init(&t);
    append_raw(&t, "[{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"id\":\"u1\",\"name\":\"A\"},"
                   "\"headers\":{\"operation\":\"update\",\"txid\":\"t1\",\"timestamp\":\"2025-01-15T10:35:00Z\","
                   "\"offset\":\"0000000000000001_0000000000000000\",\"from\":\"peer\"},\"old_value\":{\"id\":"
                   "\"u1\",\"name\":\"Z\"}},"
                   "{\"headers\":{\"control\":\"reset\",\"offset\":\"abc\"}},"
                   "{\"type\":\"tasks\",\"key\":\"t1\",\"headers\":{\"operation\":\"delete\"}}]");
    ss_state_read_result r;
    cr_assert_eq(ss_state_read(t.schema, t.s, &(ss_read_options){0}, &t.e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_STATE_READ_OK);
    cr_assert_eq(r.n, 3);
    cr_assert(r.up_to_date);
    const ss_state_message *m = &r.msgs[0];
    cr_assert_eq(m->kind, SS_STATE_CHANGE);
    cr_assert_eq(m->operation, SS_STATE_UPDATE);
    cr_assert_str_eq(m->collection, "users");
    cr_assert_eq(m->collection_index, 0);
    cr_assert_str_eq(m->type, "user");
    cr_assert_str_eq(m->key, "u1");
    cr_assert_str_eq(json_string_value(json_object_get(m->value, "name")), "A");
    cr_assert_str_eq(json_string_value(json_object_get(m->old_value, "name")), "Z");
    cr_assert_str_eq(m->txid, "t1");
    cr_assert_str_eq(m->timestamp, "2025-01-15T10:35:00Z");
    cr_assert_str_eq(m->header_offset, "0000000000000001_0000000000000000");
    cr_assert_eq(r.msgs[1].kind, SS_STATE_CONTROL);
    cr_assert_eq(r.msgs[1].control, SS_STATE_RESET);
    cr_assert_str_eq(r.msgs[1].header_offset, "abc");
    cr_assert_null(r.msgs[1].collection);
    cr_assert_eq(r.msgs[2].operation, SS_STATE_DELETE);
    cr_assert_null(r.msgs[2].value);
    cr_assert_null(r.msgs[2].txid);
    cr_assert(ss_offset_eq(&r.msgs[2].offset, &r.next_offset));
    ss_state_read_result_release(&r);
    state_env_release(&t);
}

Test(state, a_stored_message_that_fails_decoding_is_reported_with_its_offset) {
    state_env t;
    state_env_init(&t);
    append_raw(&t, "{\"type\":\"tasks\",\"key\":\"a\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}");
    append_raw(
        &t, "{\"type\":\"user\",\"key\":\"u1\",\"value\":{\"id\":\"u1\"},\"headers\":{\"operation\":\"insert\"}}");
    ss_read_result raw = read_all(&t);
    ss_state_read_result r;
    cr_assert_eq(ss_state_read(t.schema, t.s, &(ss_read_options){0}, &t.e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_STATE_READ_INVALID);
    cr_assert_eq(r.n, 1); /* the good message before it */
    assert_error(&r.error, 1, "/value", "required");
    cr_assert(ss_offset_eq(&r.error_offset, &raw.msgs[1].offset));
    ss_state_read_result_release(&r);
    state_env_release(&t);
}

Test(state, stored_json_is_read_the_way_javascript_reads_it) {
    state_env t;
    state_env_init(&t);
    append_raw(&t,
               "{\"type\":\"tasks\",\"key\":\"k\",\"value\":{\"s\":\"a\\u00e9\\ud83d\\ude00\\ud800\\/\\\"\\n\","
               "\"big\":123456789012345678901234,\"inf\":-1e400,\"i\":-42,\"max\":9223372036854775807,"
               "\"r\":1.5,\"e\":1E2,\"d\":1,\"d\":2,\"nul\":\"x\\u0000y\",\"k\\u0041\":[true,false,null,{}]},"
               "\"headers\":{\"operation\":\"insert\"}}");
    ss_state_read_result r;
    cr_assert_eq(ss_state_read(t.schema, t.s, &(ss_read_options){0}, &t.e.a, &r), SS_OK);
    cr_assert_eq(r.status, SS_STATE_READ_OK);
    const json_t *v = r.msgs[0].value;
    const json_t *s = json_object_get(v, "s");
    /* a, é, U+1F600, a lone surrogate as U+FFFD, '/', '"', newline */
    cr_assert_eq(json_string_length(s), 13);
    cr_assert(memcmp(json_string_value(s), "a\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd/\"\n", 13) == 0);
    cr_assert(json_is_real(json_object_get(v, "big")));
    cr_assert_float_eq(json_real_value(json_object_get(v, "big")), 1.2345678901234568e23, 1e8);
    cr_assert(json_is_null(json_object_get(v, "inf")));
    cr_assert_eq(json_integer_value(json_object_get(v, "i")), -42);
    cr_assert_eq(json_integer_value(json_object_get(v, "max")), INT64_MAX);
    cr_assert(json_is_real(json_object_get(v, "r")));
    cr_assert(json_is_real(json_object_get(v, "e")));
    cr_assert_eq(json_integer_value(json_object_get(v, "d")), 2); /* the last duplicate wins */
    cr_assert_eq(json_string_length(json_object_get(v, "nul")), 3);
    cr_assert_eq(json_array_size(json_object_get(v, "kA")), 4);
    /* Written back the JavaScript way. */
    ss_buf b;
    ss_buf_init(&b, 4096);
    ss_state_input in = ss_state_insert("tasks", v);
    in.key = "k";
    ss_json_error err;
    cr_assert_eq(ss_state_encode(t.schema, &in, 1, false, &b, &err), SS_OK);
    const char *want =
        "{\"type\":\"tasks\",\"key\":\"k\",\"value\":{\"s\":\"a\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd/\\\"\\n\","
        "\"big\":1.2345678901234569e+23,\"inf\":null,\"i\":-42,\"max\":9223372036854775807,\"r\":1.5,"
        "\"e\":100,\"d\":2,\"nul\":\"x\\u0000y\",\"kA\":[true,false,null,{}]},"
        "\"headers\":{\"operation\":\"insert\"}}";
    cr_assert(ss_slice_eq_cstr(ss_buf_slice(&b), want), "%.*s", (int)b.len, b.p);
    ss_buf_release(&b);
    ss_state_read_result_release(&r);
    state_env_release(&t);
}

/* ---- materialization -------------------------------------------------------------- */

static ss_state_materialize_result materialize(ss_state_map *m, ss_protocol_stream *s, bool skip_invalid) {
    ss_state_materialize_options o = {.skip_invalid = skip_invalid};
    ss_state_materialize_result r;
    cr_assert_eq(ss_state_materialize(m, s, &o, &r), SS_OK);
    return r;
}

static const char *name_of(const ss_state_map *m, const char *coll, const char *key) {
    const json_t *v = ss_state_map_get(m, coll, key);
    return v ? json_string_value(json_object_get(v, "name")) : NULL;
}

Test(state, materialize_applies_the_spec_example) {
    state_env t;
    state_env_init(&t);
    ss_state_collection_def d = {.name = "task"};
    ss_state_schema *s;
    cr_assert_eq(ss_state_schema_new(&d, 1, &s), SS_OK);
    append_raw(&t, "[{\"type\":\"task\",\"key\":\"t1\",\"value\":{\"title\":\"write "
                   "spec\",\"done\":false},\"headers\":{\"operation\":\"insert\",\"txid\":\"a\"}},"
                   "{\"type\":\"task\",\"key\":\"t2\",\"value\":{\"title\":\"review\"},\"headers\":{\"operation\":"
                   "\"insert\",\"txid\":\"a\"}},"
                   "{\"headers\":{\"control\":\"snapshot-end\"}},"
                   "{\"type\":\"task\",\"key\":\"t1\",\"value\":{\"title\":\"write "
                   "spec\",\"done\":true},\"headers\":{\"operation\":\"update\"}},"
                   "{\"type\":\"task\",\"key\":\"t2\",\"headers\":{\"operation\":\"delete\"}}]");
    ss_state_map *m;
    cr_assert_eq(ss_state_map_new(s, NULL, &m), SS_OK);
    ss_state_materialize_result r = materialize(m, t.s, false);
    cr_assert_eq(r.status, SS_STATE_MATERIALIZE_OK);
    cr_assert_eq(r.applied, 5);
    cr_assert_eq(ss_state_map_count(m, "task"), 1);
    json_t *want = J("{\"title\":\"write spec\",\"done\":true}");
    cr_assert(json_equal(ss_state_map_get(m, "task", "t1"), want));
    cr_assert_null(ss_state_map_get(m, "task", "t2"));
    json_decref(want);
    ss_state_map_free(m);
    ss_state_schema_free(s);
    state_env_release(&t);
}

Test(state, materialize_sets_on_insert_and_update_and_removes_on_delete) {
    state_env t;
    state_env_init(&t);
    json_t *a = J("{\"id\":\"a\",\"name\":\"A\"}"), *a2 = J("{\"id\":\"a\",\"name\":\"A2\"}"),
           *b = J("{\"id\":\"b\",\"name\":\"B\"}"), *c = J("{\"id\":\"c\",\"name\":\"C\"}"),
           *a3 = J("{\"id\":\"a\",\"name\":\"A3\"}");
    ss_state_input in[] = {
        ss_state_insert("users", a),        ss_state_insert("users", b), ss_state_update("users", a2),
        ss_state_delete("users", "b"),      ss_state_update("users", c), /* update of a missing key stores it
                                                                            (ST-023) */
        ss_state_delete("users", "nobody"),                              /* a no-op (ST-024) */
        ss_state_insert("users", a3), /* insert of an existing key overwrites (ST-022) */
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        append_ok(&t, &in[i], 1);
    ss_state_map *m;
    cr_assert_eq(ss_state_map_new(t.schema, NULL, &m), SS_OK);
    cr_assert_null(ss_state_map_offset(m));
    ss_state_materialize_result r = materialize(m, t.s, false);
    cr_assert_eq(r.status, SS_STATE_MATERIALIZE_OK);
    cr_assert_eq(r.applied, 7);
    cr_assert_eq(r.skipped, 0);
    cr_assert_eq(ss_state_map_count(m, "users"), 2);
    cr_assert_str_eq(name_of(m, "users", "a"), "A3");
    cr_assert_null(ss_state_map_get(m, "users", "b"));
    cr_assert_str_eq(name_of(m, "users", "c"), "C");
    cr_assert_eq(ss_state_map_count(m, "nope"), 0);
    cr_assert_null(ss_state_map_get(m, "nope", "a"));
    /* The map reached the tail. */
    ss_meta_result meta;
    cr_assert_eq(ss_stream_metadata(t.s, &t.e.a, &meta), SS_OK);
    cr_assert(ss_offset_eq(&r.offset, &meta.next_offset));
    cr_assert(ss_offset_eq(ss_state_map_offset(m), &meta.next_offset));
    /* Iteration visits every entity once. */
    size_t seen = 0;
    const char *k;
    const json_t *v;
    for (ss_state_map_iter it = {0}; ss_state_map_next(m, "users", &it, &k, &v);) {
        cr_assert_str_eq(json_string_value(json_object_get(v, "id")), k);
        seen++;
    }
    cr_assert_eq(seen, 2);
    ss_state_map_free(m);
    json_t *vs[] = {a, a2, b, c, a3};
    for (size_t i = 0; i < 5; i++)
        json_decref(vs[i]);
    state_env_release(&t);
}

Test(state, collections_are_separate_and_reset_clears_them_all) {
    state_env t;
    state_env_init(&t);
    json_t *u = J("{\"id\":\"x\",\"name\":\"U\"}"), *task = J("{\"title\":\"T\"}");
    ss_state_input in[] = {ss_state_insert("users", u), ss_state_insert("tasks", task)};
    in[1].key = "x"; /* same key, other type: another entity (ST-008) */
    append_ok(&t, in, 2);
    ss_state_map *m;
    cr_assert_eq(ss_state_map_new(t.schema, NULL, &m), SS_OK);
    materialize(m, t.s, false);
    cr_assert_eq(ss_state_map_count(m, "users"), 1);
    cr_assert_eq(ss_state_map_count(m, "tasks"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(ss_state_map_get(m, "tasks", "x"), "title")), "T");
    cr_assert_str_eq(name_of(m, "users", "x"), "U");

    ss_state_input reset[] = {ss_state_control_msg(SS_STATE_RESET, "0000000000000001_0000000000000000"),
                              ss_state_insert("tasks", task)};
    reset[1].key = "y";
    append_ok(&t, reset, 2);
    ss_state_materialize_result r = materialize(m, t.s, false); /* continues from the checkpoint */
    cr_assert_eq(r.applied, 2);
    cr_assert_eq(ss_state_map_count(m, "users"), 0);
    cr_assert_eq(ss_state_map_count(m, "tasks"), 1);
    cr_assert_not_null(ss_state_map_get(m, "tasks", "y"));
    cr_assert_str_eq(ss_state_map_reset_offset(m), "0000000000000001_0000000000000000");
    ss_state_map_free(m);
    json_decref(u);
    json_decref(task);
    state_env_release(&t);
}

Test(state, snapshot_markers_are_hints_by_default) {
    state_env t;
    state_env_init(&t);
    append_raw(&t, "[{\"headers\":{\"control\":\"snapshot-start\"}},"
                   "{\"type\":\"tasks\",\"key\":\"a\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}]");
    ss_state_map *m;
    cr_assert_eq(ss_state_map_new(t.schema, NULL, &m), SS_OK);
    materialize(m, t.s, false);
    cr_assert(ss_state_map_in_snapshot(m));
    cr_assert_not_null(ss_state_map_get(m, "tasks", "a")); /* visible at once */
    append_raw(&t, "{\"headers\":{\"control\":\"snapshot-end\"}}");
    materialize(m, t.s, false);
    cr_assert_not(ss_state_map_in_snapshot(m));
    cr_assert_eq(ss_state_map_count(m, "tasks"), 1);
    ss_state_map_free(m);
    state_env_release(&t);
}

Test(state, atomic_snapshots_become_visible_together_at_snapshot_end) {
    state_env t;
    state_env_init(&t);
    append_raw(&t, "{\"type\":\"tasks\",\"key\":\"old\",\"value\":0,\"headers\":{\"operation\":\"insert\"}}");
    append_raw(&t, "[{\"headers\":{\"control\":\"snapshot-start\"}},"
                   "{\"type\":\"tasks\",\"key\":\"a\",\"value\":1,\"headers\":{\"operation\":\"insert\"}},"
                   "{\"type\":\"tasks\",\"key\":\"old\",\"headers\":{\"operation\":\"delete\"}}]");
    ss_state_map *m;
    cr_assert_eq(
        ss_state_map_new(t.schema, &(ss_state_map_options){.snapshot_mode = SS_STATE_SNAPSHOT_ATOMIC}, &m), SS_OK);
    ss_state_materialize_result r = materialize(m, t.s, false);
    cr_assert_eq(r.applied, 4);
    cr_assert(ss_state_map_in_snapshot(m));
    cr_assert_null(ss_state_map_get(m, "tasks", "a"));       /* staged */
    cr_assert_not_null(ss_state_map_get(m, "tasks", "old")); /* the pre-snapshot state */
    append_raw(&t, "[{\"type\":\"tasks\",\"key\":\"b\",\"value\":2,\"headers\":{\"operation\":\"insert\"}},"
                   "{\"headers\":{\"control\":\"snapshot-end\"}}]");
    materialize(m, t.s, false);
    cr_assert_not(ss_state_map_in_snapshot(m));
    cr_assert_eq(ss_state_map_count(m, "tasks"), 2);
    cr_assert_eq(json_integer_value(ss_state_map_get(m, "tasks", "a")), 1);
    cr_assert_eq(json_integer_value(ss_state_map_get(m, "tasks", "b")), 2);
    cr_assert_null(ss_state_map_get(m, "tasks", "old"));

    /* A reset inside a snapshot drops what was staged. */
    append_raw(&t, "[{\"headers\":{\"control\":\"snapshot-start\"}},"
                   "{\"type\":\"tasks\",\"key\":\"c\",\"value\":3,\"headers\":{\"operation\":\"insert\"}},"
                   "{\"headers\":{\"control\":\"reset\"}},{\"headers\":{\"control\":\"snapshot-end\"}}]");
    materialize(m, t.s, false);
    cr_assert_eq(ss_state_map_count(m, "tasks"), 0);
    cr_assert_null(ss_state_map_reset_offset(m));
    ss_state_map_free(m);
    state_env_release(&t);
}

Test(state, materialize_skips_unknown_types_and_stops_before_an_invalid_message) {
    state_env t;
    state_env_init(&t);
    append_raw(&t, "{\"type\":\"comment\",\"key\":\"c1\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}");
    append_raw(&t, "{\"type\":\"tasks\",\"key\":\"a\",\"value\":1,\"headers\":{\"operation\":\"insert\"}}");
    append_raw(&t, "{\"type\":\"tasks\",\"key\":\"b\",\"value\":2,\"headers\":{\"operation\":\"upsert\"}}");
    append_raw(&t, "{\"type\":\"tasks\",\"key\":\"c\",\"value\":3,\"headers\":{\"operation\":\"insert\"}}");
    ss_read_result raw = read_all(&t);

    ss_state_map *m;
    cr_assert_eq(ss_state_map_new(t.schema, NULL, &m), SS_OK);
    ss_state_materialize_result r = materialize(m, t.s, false);
    cr_assert_eq(r.status, SS_STATE_MATERIALIZE_INVALID);
    cr_assert_eq(r.applied, 1);
    cr_assert_eq(r.skipped, 1);
    assert_error(&r.error, -1, "/headers/operation", "operation");
    cr_assert(ss_offset_eq(&r.error_offset, &raw.msgs[2].offset));
    cr_assert(ss_offset_eq(&r.offset, &raw.msgs[1].offset)); /* just before the failing one */
    cr_assert_eq(ss_state_map_count(m, "tasks"), 1);

    r = materialize(m, t.s, true); /* same map, skipping this time */
    cr_assert_eq(r.status, SS_STATE_MATERIALIZE_OK);
    cr_assert_eq(r.applied, 1);
    cr_assert_eq(r.skipped, 1);
    cr_assert_eq(ss_state_map_count(m, "tasks"), 2);
    cr_assert(ss_offset_eq(&r.offset, &raw.msgs[3].offset));
    ss_state_map_free(m);
    state_env_release(&t);
}

Test(state, materialize_reports_missing_and_deleted_streams) {
    state_env t;
    state_env_init(&t);
    ss_state_map *m;
    cr_assert_eq(ss_state_map_new(t.schema, NULL, &m), SS_OK);
    ss_state_materialize_result r = materialize(m, t.s, false);
    cr_assert_eq(r.status, SS_STATE_MATERIALIZE_OK);
    cr_assert_str_eq(r.offset.s, SS_ZERO_OFFSET); /* an empty stream's tail */
    ss_presence ds;
    cr_assert_eq(ss_stream_delete(t.s, &ds), SS_OK);
    r = materialize(m, t.s, false);
    cr_assert(r.status == SS_STATE_MATERIALIZE_NOT_FOUND || r.status == SS_STATE_MATERIALIZE_GONE);
    ss_state_map_clear(m);
    cr_assert_null(ss_state_map_offset(m));
    ss_state_map_free(m);
    state_env_release(&t);
}

Test(state, materialize_follows_reads_past_the_per_read_byte_budget) {
    /* A protocol whose catch-up reads return at most ~1 KiB. */
    test_env e;
    test_env_init(&e, false);
    ss_protocol *small;
    ss_protocol_options po = {.storage = e.storage, .clock = &e.clock, .read_max_bytes = 1024};
    cr_assert_eq(ss_protocol_new(&po, &small), SS_OK);
    ss_create_result cr;
    cr_assert_eq(ss_protocol_create(small, S("big"), &(ss_create_options){.content_type = S("application/json")},
                                    &e.a, &cr),
                 SS_OK);
    ss_state_collection_def d = {.name = "n"};
    ss_state_schema *s;
    cr_assert_eq(ss_state_schema_new(&d, 1, &s), SS_OK);
    for (int i = 0; i < 200; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        json_t *v = json_integer(i);
        ss_state_input in = ss_state_insert("n", v);
        in.key = key;
        ss_state_append_result r;
        cr_assert_eq(ss_state_append(s, cr.stream, &in, 1, NULL, &e.a, &r), SS_OK);
        cr_assert_eq(r.append.status, SS_APPEND_APPENDED);
        json_decref(v);
    }
    ss_state_map *m;
    cr_assert_eq(ss_state_map_new(s, NULL, &m), SS_OK);
    ss_state_materialize_result r = materialize(m, cr.stream, false);
    cr_assert_eq(r.applied, 200);
    cr_assert_eq(ss_state_map_count(m, "n"), 200);
    cr_assert_eq(json_integer_value(ss_state_map_get(m, "n", "k199")), 199);
    ss_state_map_free(m);
    ss_state_schema_free(s);
    ss_stream_release(cr.stream);
    ss_protocol_free(small);
    test_env_release(&e);
}

/* ---- compare-and-swap: materialize -> validate -> append(expectedOffset) -> retry ---- */

typedef void (*interleave_fn)(state_env *t, int attempt);

/* Registers user `id` with `name` unless the name is taken. Returns the
 * number of attempts, or 0 when the name was taken. */
static int register_unique(state_env *t, ss_state_map *m, const char *id, const char *name,
                           interleave_fn between) {
    for (int attempt = 1; attempt <= 10; attempt++) {
        ss_state_materialize_result mr = materialize(m, t->s, false);
        cr_assert_eq(mr.status, SS_STATE_MATERIALIZE_OK);
        const char *k;
        const json_t *v;
        for (ss_state_map_iter it = {0}; ss_state_map_next(m, "users", &it, &k, &v);)
            if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
                return 0;
        if (between)
            between(t, attempt);
        json_t *value = json_pack("{ssss}", "id", id, "name", name);
        ss_state_input in = ss_state_insert("users", value);
        ss_append_options cas = {.has_expected_offset = true, .expected_offset = mr.offset};
        ss_state_append_result r;
        cr_assert_eq(ss_state_append(t->schema, t->s, &in, 1, &cas, &t->e.a, &r), SS_OK);
        json_decref(value);
        cr_assert_not(r.invalid);
        if (r.append.status == SS_APPEND_APPENDED)
            return attempt;
        cr_assert_eq(r.append.status, SS_APPEND_CONFLICT);
        cr_assert_eq(r.append.conflict, SS_APPEND_CONFLICT_EXPECTED_OFFSET);
    }
    cr_assert_fail("no progress");
    return -1;
}

static void other_writer_takes_a_different_name(state_env *t, int attempt) {
    if (attempt != 1)
        return;
    json_t *v = J("{\"id\":\"u9\",\"name\":\"Zed\"}");
    ss_state_input in = ss_state_insert("users", v);
    append_ok(t, &in, 1);
    json_decref(v);
}

static void other_writer_takes_the_same_name(state_env *t, int attempt) {
    if (attempt != 1)
        return;
    json_t *v = J("{\"id\":\"u8\",\"name\":\"Ann\"}");
    ss_state_input in = ss_state_insert("users", v);
    append_ok(t, &in, 1);
    json_decref(v);
}

Test(state, cas_retry_loop_rematerializes_after_an_expected_offset_conflict) {
    state_env t;
    state_env_init(&t);
    ss_state_map *m;
    cr_assert_eq(ss_state_map_new(t.schema, NULL, &m), SS_OK);
    cr_assert_eq(register_unique(&t, m, "u1", "Ann", NULL), 1);
    /* Another writer lands between our read and our write: the CAS fails,
     * nothing of ours is written, we catch up and win the second time. */
    cr_assert_eq(register_unique(&t, m, "u2", "Bea", other_writer_takes_a_different_name), 2);
    materialize(m, t.s, false);
    cr_assert_eq(ss_state_map_count(m, "users"), 3);
    cr_assert_str_eq(name_of(m, "users", "u2"), "Bea");
    cr_assert_eq(read_all(&t).n, 3);
    ss_state_map_free(m);
    state_env_release(&t);

    /* Same race, but the other writer took our name: the retry sees it. */
    state_env_init(&t);
    cr_assert_eq(ss_state_map_new(t.schema, NULL, &m), SS_OK);
    cr_assert_eq(register_unique(&t, m, "u1", "Ann", other_writer_takes_the_same_name), 0);
    cr_assert_eq(ss_state_map_count(m, "users"), 1);
    cr_assert_str_eq(name_of(m, "users", "u8"), "Ann");
    ss_state_map_free(m);
    state_env_release(&t);
}
