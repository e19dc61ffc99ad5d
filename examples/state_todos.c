/* Example: Durable State over an embedded in-memory stream. Declares
 * two collections, writes typed insert/update/delete changes and control
 * messages, then materializes the stream into current state.
 * Run: build/examples/state_todos   (exit 0 = the materialized state is right) */
#include <stdio.h>
#include <stdlib.h>

#include <streamsy/typed.h>

#define CHECK(cond, what)                                                                                         \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            fprintf(stderr, "state_todos: %s\n", what);                                                           \
            exit(1);                                                                                              \
        }                                                                                                         \
    } while (0)

int main(void) {
    ss_stream_factory *storage;
    ss_protocol *p;
    CHECK(ss_memory_factory_new(NULL, &storage) == SS_OK, "memory storage");
    CHECK(ss_protocol_new(&(ss_protocol_options){.storage = storage}, &p) == SS_OK, "protocol");

    ss_json_schema *todo_schema;
    ss_json_error err;
    CHECK(ss_json_schema_compile_text(
              ss_slice_cstr(
                  "{\"type\":\"object\",\"required\":[\"id\",\"title\",\"done\"],"
                  "\"properties\":{\"id\":{\"type\":\"string\"},\"title\":{\"type\":\"string\",\"minLength\":1},"
                  "\"done\":{\"type\":\"boolean\"}}}"),
              &todo_schema, &err) == SS_OK,
          "todo schema");
    ss_state_collection_def defs[] = {
        {.name = "todos", .type = "todo", .value_schema = todo_schema, .primary_key = "id"},
        {.name = "users", .type = "user", .value_schema = NULL, .primary_key = "id"},
    };
    ss_state_schema *schema;
    CHECK(ss_state_schema_new(defs, 2, &schema) == SS_OK, "state schema");

    ss_arena a;
    ss_arena_init(&a);
    ss_create_result cr;
    CHECK(ss_protocol_create(p, ss_slice_cstr("app"),
                             &(ss_create_options){.content_type = ss_slice_cstr("application/json")}, &a,
                             &cr) == SS_OK &&
              cr.status == SS_CREATE_CREATED,
          "create");

    json_t *t1 = json_pack("{s:s, s:s, s:b}", "id", "t1", "title", "write docs", "done", 0);
    json_t *t2 = json_pack("{s:s, s:s, s:b}", "id", "t2", "title", "ship", "done", 0);
    json_t *t1_done = json_pack("{s:s, s:s, s:b}", "id", "t1", "title", "write docs", "done", 1);
    json_t *ada = json_pack("{s:s, s:s}", "id", "u1", "name", "Ada");
    ss_state_input batch[] = {
        ss_state_control_msg(SS_STATE_SNAPSHOT_START, NULL),
        ss_state_insert("todos", t1),
        ss_state_insert("todos", t2),
        ss_state_insert("users", ada),
        ss_state_control_msg(SS_STATE_SNAPSHOT_END, NULL),
        ss_state_update("todos", t1_done),
        ss_state_delete("todos", "t2"),
    };
    ss_state_append_result ar;
    CHECK(ss_state_append(schema, cr.stream, batch, sizeof batch / sizeof batch[0], NULL, &a, &ar) == SS_OK &&
              !ar.invalid && ar.append.status == SS_APPEND_APPENDED,
          "append batch");

    /* A value failing its schema is refused; nothing is written. */
    json_t *untitled = json_pack("{s:s, s:s, s:b}", "id", "t3", "title", "", "done", 0);
    ss_state_input bad = ss_state_insert("todos", untitled);
    CHECK(ss_state_append(schema, cr.stream, &bad, 1, NULL, &a, &ar) == SS_OK && ar.invalid, "schema check");
    printf("refused: %s at %s (%s)\n", ar.error.rule, ar.error.path, ar.error.message);

    ss_state_map *m;
    CHECK(ss_state_map_new(schema, NULL, &m) == SS_OK, "map");
    ss_state_materialize_result mr;
    CHECK(ss_state_materialize(m, cr.stream, NULL, &mr) == SS_OK && mr.status == SS_STATE_MATERIALIZE_OK,
          "materialize");
    const json_t *t1_now = ss_state_map_get(m, "todos", "t1");
    printf("todos: %zu, users: %zu, t1 done: %s, materialized up to %s\n", ss_state_map_count(m, "todos"),
           ss_state_map_count(m, "users"), t1_now && json_is_true(json_object_get(t1_now, "done")) ? "yes" : "no",
           mr.offset.s);
    CHECK(ss_state_map_count(m, "todos") == 1, "t2 was deleted");
    CHECK(t1_now && json_is_true(json_object_get(t1_now, "done")), "t1 was updated");
    CHECK(ss_state_map_get(m, "users", "u1") != NULL, "u1 was inserted");

    ss_state_map_free(m);
    json_decref(t1);
    json_decref(t2);
    json_decref(t1_done);
    json_decref(ada);
    json_decref(untitled);
    ss_stream_release(cr.stream);
    ss_arena_release(&a);
    ss_state_schema_free(schema);
    ss_json_schema_free(todo_schema);
    ss_protocol_free(p);
    ss_storage_factory_free(storage);
    return 0;
}
