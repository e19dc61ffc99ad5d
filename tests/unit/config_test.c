/* Server-side enforcement: the --config file, its path rules, and the 400
 * answers for invalid messages on plain HTTP (nothing written). */
#include <stdio.h>

#include "server/config.h"
#include "test_support.h"

static const char *CONFIG =
    "{\"streams\": ["
    "  {\"match\": \"events/*\", \"schema\": {\"type\": \"object\", \"required\": [\"id\"],"
    "     \"properties\": {\"id\": {\"type\": \"integer\"}, \"name\": {\"type\": \"string\", \"maxLength\": 5}}}},"
    "  {\"prefix\": \"state/\", \"state\": {\"collections\": ["
    "     {\"name\": \"users\", \"type\": \"user\", \"primaryKey\": \"id\","
    "      \"schema\": {\"type\": \"object\", \"required\": [\"id\", \"name\"]}}]}}"
    "]}";

typedef struct cfg_env {
    test_env t;
    ss_config *config;
    ss_handler *h;
    ss_http_response res;
} cfg_env;

static void cfg_init(cfg_env *e, const char *config_text) {
    test_env_init(&e->t, false);
    char err[256] = "";
    e->config = NULL;
    ss_http_validator v = {0};
    if (config_text) {
        cr_assert_eq(ss_config_load_text(S(config_text), ".", &e->config, err, sizeof err), SS_OK, "%s", err);
        v = ss_config_validator(e->config);
    }
    ss_handler_options o = {.protocol = e->t.p, .validator = v};
    cr_assert_eq(ss_handler_new(&o, &e->h), SS_OK);
    ss_http_response_init(&e->res);
}

static void cfg_release(cfg_env *e) {
    ss_http_response_release(&e->res);
    ss_handler_free(e->h);
    ss_config_free(e->config);
    test_env_release(&e->t);
}

static ss_http_response *send_json(cfg_env *e, const char *method, const char *path, const char *body) {
    ss_http_header hs[] = {{S("Content-Type"), S("application/json")}};
    ss_http_request r = {.method = S(method),
                         .path = S(path),
                         .headers = hs,
                         .n_headers = 1,
                         .body = body ? S(body) : SS_SLICE_NULL};
    ss_http_response_release(&e->res);
    ss_handler_handle(e->h, &r, &e->res);
    return &e->res;
}

static size_t stored_messages(cfg_env *e, const char *id) {
    ss_get_result g;
    cr_assert_eq(ss_protocol_get(e->t.p, S(id), &g), SS_OK);
    if (g.status != SS_PRESENT)
        return 0;
    ss_read_result rr;
    ss_read_options ro = {0};
    cr_assert_eq(ss_stream_read(g.stream, &ro, &e->t.a, &rr), SS_OK);
    ss_stream_release(g.stream);
    return rr.n;
}

Test(config, globs_match_one_segment_with_star_and_any_depth_with_double_star) {
    cr_assert(ss_config_glob_match("events/*", S("events/a")));
    cr_assert_not(ss_config_glob_match("events/*", S("events/a/b")));
    cr_assert(ss_config_glob_match("events/**", S("events/a/b")));
    cr_assert(ss_config_glob_match("**/log", S("x/y/log")));
    cr_assert_not(ss_config_glob_match("events/*", S("other/a")));
    cr_assert(ss_config_glob_match("a*c", S("abbc")));
}

Test(config, a_valid_message_is_written) {
    cfg_env e;
    cfg_init(&e, CONFIG);
    cr_assert_eq(send_json(&e, "PUT", "/v1/stream/events/a", NULL)->status, 201);
    cr_assert_eq(send_json(&e, "POST", "/v1/stream/events/a", "{\"id\": 1, \"name\": \"ok\"}")->status, 204);
    cr_assert_eq(stored_messages(&e, "events/a"), 1);
    cfg_release(&e);
}

Test(config, an_invalid_message_gets_400_naming_index_path_and_rule_and_nothing_is_written) {
    cfg_env e;
    cfg_init(&e, CONFIG);
    send_json(&e, "PUT", "/v1/stream/events/a", NULL);
    ss_http_response *r = send_json(&e, "POST", "/v1/stream/events/a", "{\"id\": 1, \"name\": \"too long\"}");
    cr_assert_eq(r->status, 400);
    cr_assert(strstr(r->body.p, "Invalid message 0 at /name: maxLength") == r->body.p, "%s", r->body.p);
    cr_assert_eq(stored_messages(&e, "events/a"), 0);
    cfg_release(&e);
}

Test(config, a_batch_whose_last_element_is_invalid_writes_nothing) {
    cfg_env e;
    cfg_init(&e, CONFIG);
    send_json(&e, "PUT", "/v1/stream/events/a", NULL);
    ss_http_response *r =
        send_json(&e, "POST", "/v1/stream/events/a", "[{\"id\": 1}, {\"id\": 2}, {\"name\": \"x\"}]");
    cr_assert_eq(r->status, 400);
    cr_assert(strstr(r->body.p, "Invalid message 2 at") == r->body.p, "%s", r->body.p);
    cr_assert(strstr(r->body.p, "required") != NULL, "%s", r->body.p);
    cr_assert_eq(stored_messages(&e, "events/a"), 0);
    cr_assert_eq(send_json(&e, "POST", "/v1/stream/events/a", "[{\"id\": 1}, {\"id\": 2}]")->status, 204);
    cr_assert_eq(stored_messages(&e, "events/a"), 2);
    cfg_release(&e);
}

Test(config, an_invalid_initial_body_on_put_creates_no_stream) {
    cfg_env e;
    cfg_init(&e, CONFIG);
    cr_assert_eq(send_json(&e, "PUT", "/v1/stream/events/b", "{\"id\": \"one\"}")->status, 400);
    cr_assert_eq(send_json(&e, "HEAD", "/v1/stream/events/b", NULL)->status, 404);
    cfg_release(&e);
}

Test(config, state_streams_accept_state_messages_and_reject_bad_ones) {
    cfg_env e;
    cfg_init(&e, CONFIG);
    send_json(&e, "PUT", "/v1/stream/state/app", NULL);
    const char *good = "{\"type\":\"user\",\"key\":\"1\",\"value\":{\"id\":\"1\",\"name\":\"a\"},"
                       "\"headers\":{\"operation\":\"insert\"}}";
    cr_assert_eq(send_json(&e, "POST", "/v1/stream/state/app", good)->status, 204);
    const char *unknown = "{\"type\":\"robot\",\"key\":\"1\",\"value\":{},\"headers\":{\"operation\":\"insert\"}}";
    ss_http_response *r = send_json(&e, "POST", "/v1/stream/state/app", unknown);
    cr_assert_eq(r->status, 400, "unknown collection");
    cr_assert(strstr(r->body.p, "Invalid message 0") == r->body.p, "%s", r->body.p);
    cr_assert_eq(stored_messages(&e, "state/app"), 1);
    cfg_release(&e);
}

Test(config, streams_no_rule_matches_and_an_empty_config_are_plain_durable_streams) {
    cfg_env e;
    cfg_init(&e, "{\"streams\": []}");
    send_json(&e, "PUT", "/v1/stream/free", NULL);
    cr_assert_eq(send_json(&e, "POST", "/v1/stream/free", "{\"anything\": true}")->status, 204);
    cfg_release(&e);
    cfg_init(&e, CONFIG);
    send_json(&e, "PUT", "/v1/stream/other/x", NULL);
    cr_assert_eq(send_json(&e, "POST", "/v1/stream/other/x", "[1, \"two\"]")->status, 204);
    cfg_release(&e);
}

Test(config, bad_configs_are_refused_with_a_message) {
    const char *bad[] = {
        "not json",
        "{\"streams\": {}}",
        "{\"streams\": [], \"extra\": 1}",
        "{\"streams\": [{\"schema\": {}}]}",
        "{\"streams\": [{\"match\": \"a\", \"prefix\": \"b\", \"schema\": {}}]}",
        "{\"streams\": [{\"match\": \"a\"}]}",
        "{\"streams\": [{\"match\": \"a\", \"schema\": {\"type\": 12}}]}",
        "{\"streams\": [{\"match\": \"a\", \"schema_file\": \"/nonexistent/schema.json\"}]}",
        "{\"streams\": [{\"match\": \"a\", \"state\": {\"collections\": []}}]}",
        "{\"streams\": [{\"match\": \"a\", \"schema\": {}, \"typo\": 1}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_config *c = NULL;
        char err[256] = "";
        cr_assert_neq(ss_config_load_text(S(bad[i]), ".", &c, err, sizeof err), SS_OK, "config %zu", i);
        cr_assert_null(c);
        cr_assert_gt(strlen(err), 0, "config %zu says why", i);
    }
}
