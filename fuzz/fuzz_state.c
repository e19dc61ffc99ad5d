/* Fuzz target: the Durable State decoder and materializer. The input is a
 * stored JSON-mode body (an array of messages, or one message); each item is
 * decoded with a two-collection schema and applied to a state map, in both
 * snapshot modes. Checked: a body that ss_state_validate_body accepts decodes
 * without error, and applying decoded messages never fails except for
 * memory. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "streamsy/state.h"

static ss_state_schema *schema;

static void setup(void) {
    ss_json_schema *user;
    ss_json_error err;
    if (ss_json_schema_compile_text(
            ss_slice_cstr("{\"type\":\"object\",\"required\":[\"id\",\"name\"],"
                          "\"properties\":{\"id\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}}}"),
            &user, &err))
        abort();
    ss_state_collection_def defs[] = {
        {.name = "users", .type = "user", .value_schema = user, .primary_key = "id"},
        {.name = "notes", .type = NULL, .value_schema = NULL, .primary_key = NULL},
    };
    if (ss_state_schema_new(defs, 2, &schema))
        abort();
    /* `user` must outlive the schema: both live until the process ends */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!schema)
        setup();
    ss_slice body = ss_slice_of((const char *)data, size);
    ss_json_error err;
    bool valid = ss_state_validate_body(schema, body, &err) == SS_OK;

    ss_arena a;
    ss_arena_init(&a);
    ss_slice *items;
    size_t n;
    bool is_array;
    if (ss_json_split(body, 256, &a, &items, &n, &is_array, NULL) == SS_OK) {
        ss_message *msgs = ss_arena_alloc(&a, (n ? n : 1) * sizeof *msgs);
        for (size_t i = 0; i < n; i++) {
            msgs[i].data = items[i];
            msgs[i].ts_ms = 0;
            char off[40];
            snprintf(off, sizeof off, "0000000000000000_%016zu", i + 1);
            if (ss_offset_set(&msgs[i].offset, ss_slice_cstr(off)))
                abort();
        }
        ss_state_read_result r;
        memset(&r, 0, sizeof r);
        if (ss_state_decode(schema, msgs, n, &a, &r) == SS_OK) {
            if (valid && r.status != SS_STATE_READ_OK)
                abort(); /* what validation accepts, the reader reads */
            for (int mode = 0; mode < 2; mode++) {
                ss_state_map *m;
                ss_state_map_options o = {.snapshot_mode =
                                              mode ? SS_STATE_SNAPSHOT_ATOMIC : SS_STATE_SNAPSHOT_HINT};
                if (ss_state_map_new(schema, &o, &m))
                    abort();
                for (size_t i = 0; i < r.n; i++) {
                    ss_rc rc = ss_state_map_apply(m, &r.msgs[i]);
                    if (rc != SS_OK && rc != SS_NOMEM)
                        abort();
                }
                ss_state_map_free(m);
            }
        }
        ss_state_read_result_release(&r);
    }
    ss_arena_release(&a);
    return 0;
}
