/* Micro-benchmark for the JSON Schema validator: validates a ~1 KB message
 * against a typical message schema (and a State Protocol change message
 * against the State Protocol schema) N times and prints the cost per
 * validation, next to jansson's parse cost for the same bytes.
 *
 * Built with the project (not run by the tests):
 *   build/bench/json_schema_bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "streamsy/json_schema.h"

static const char *MESSAGE_SCHEMA =
    "{\"type\":\"object\",\"required\":[\"id\",\"type\",\"ts\",\"user\",\"payload\"],\"additionalProperties\":"
    "false,"
    "\"properties\":{"
    "\"id\":{\"type\":\"string\",\"pattern\":\"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$\"},"
    "\"type\":{\"enum\":[\"created\",\"updated\",\"deleted\"]},"
    "\"ts\":{\"type\":\"integer\",\"minimum\":0},"
    "\"user\":{\"type\":\"object\",\"required\":[\"id\",\"name\"],\"properties\":{"
    "\"id\":{\"type\":\"string\",\"minLength\":1},\"name\":{\"type\":\"string\",\"maxLength\":100},"
    "\"email\":{\"type\":\"string\",\"format\":\"email\"},"
    "\"roles\":{\"type\":\"array\",\"items\":{\"enum\":[\"admin\",\"editor\",\"viewer\"]},\"uniqueItems\":true}}},"
    "\"payload\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"title\":{\"type\":\"string\",\"maxLength\":200},\"body\":{\"type\":\"string\",\"maxLength\":2000},"
    "\"tags\":{\"type\":\"array\",\"maxItems\":20,\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":32}"
    "},"
    "\"priority\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":5},\"score\":{\"type\":\"number\"},"
    "\"draft\":{\"type\":\"boolean\"}}},"
    "\"meta\":{\"type\":\"object\",\"additionalProperties\":{\"type\":[\"string\",\"number\",\"boolean\",\"null\"]"
    "}}}}";

static const char *MESSAGE =
    "{\"id\":\"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b\",\"type\":\"updated\",\"ts\":1767225600123,"
    "\"user\":{\"id\":\"u-1842\",\"name\":\"Ada "
    "Lovelace\",\"email\":\"ada@example.com\",\"roles\":[\"admin\",\"editor\"]},"
    "\"payload\":{\"title\":\"Quarterly report draft\",\"body\":\"Lorem ipsum dolor sit amet, consectetur "
    "adipiscing "
    "elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis "
    "nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit "
    "in "
    "voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non "
    "proident.\","
    "\"tags\":[\"finance\",\"q3\",\"draft\",\"internal\",\"review\",\"numbers\",\"2026\",\"board\"],"
    "\"priority\":3,\"score\":0.875,\"draft\":true},"
    "\"meta\":{\"source\":\"web\",\"version\":12,\"client\":\"streamsy-js/"
    "1.4.2\",\"retry\":false,\"region\":\"eu-west\","
    "\"trace\":\"0af7651916cd43dd8448eb211c80319c\",\"span\":\"b7ad6b7169203331\",\"sampled\":true,\"lang\":"
    "\"en\","
    "\"tz\":null}}";

static const char *STATE_SCHEMA =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"$id\":\"https://durable-streams.dev/"
    "state-protocol/v1\","
    "\"type\":\"object\",\"oneOf\":[{\"$ref\":\"#/definitions/ChangeMessage\"},{\"$ref\":\"#/definitions/"
    "ControlMessage\"}],"
    "\"definitions\":{"
    "\"ChangeMessage\":{\"type\":\"object\",\"required\":[\"type\",\"key\",\"headers\"],\"properties\":{"
    "\"type\":{\"type\":\"string\",\"minLength\":1},\"key\":{\"type\":\"string\",\"minLength\":1},"
    "\"value\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":\"boolean\"},{\"type\":\"null\"},"
    "{\"type\":\"array\"},{\"type\":\"object\"}]},"
    "\"old_value\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":\"boolean\"},{\"type\":"
    "\"null\"},"
    "{\"type\":\"array\"},{\"type\":\"object\"}]},"
    "\"headers\":{\"$ref\":\"#/definitions/ChangeHeaders\"}},\"additionalProperties\":false,"
    "\"allOf\":[{\"if\":{\"properties\":{\"headers\":{\"properties\":{\"operation\":{\"const\":\"insert\"}}}}},"
    "\"then\":{\"required\":[\"value\"]}},"
    "{\"if\":{\"properties\":{\"headers\":{\"properties\":{\"operation\":{\"const\":\"update\"}}}}},"
    "\"then\":{\"required\":[\"value\"]}}]},"
    "\"ChangeHeaders\":{\"type\":\"object\",\"required\":[\"operation\"],\"properties\":{"
    "\"operation\":{\"type\":\"string\",\"enum\":[\"insert\",\"update\",\"delete\"]},"
    "\"txid\":{\"type\":\"string\",\"minLength\":1},\"timestamp\":{\"type\":\"string\",\"format\":\"date-time\"}},"
    "\"additionalProperties\":false},"
    "\"ControlMessage\":{\"type\":\"object\",\"required\":[\"headers\"],\"properties\":{"
    "\"headers\":{\"$ref\":\"#/definitions/ControlHeaders\"}},\"additionalProperties\":false},"
    "\"ControlHeaders\":{\"type\":\"object\",\"required\":[\"control\"],\"properties\":{"
    "\"control\":{\"type\":\"string\",\"enum\":[\"snapshot-start\",\"snapshot-end\",\"reset\"]},"
    "\"offset\":{\"type\":\"string\",\"minLength\":1}},\"additionalProperties\":false}}}";

static const char *STATE_MESSAGE =
    "{\"type\":\"document\",\"key\":\"doc:8812\",\"headers\":{\"operation\":\"update\",\"txid\":\"tx-99120\","
    "\"timestamp\":\"2026-01-01T00:00:00Z\"},\"value\":{\"title\":\"Quarterly report draft\",\"owner\":\"u-1842\","
    "\"body\":\"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
    "labore "
    "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip "
    "ex ea "
    "commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat "
    "nulla "
    "pariatur.\",\"tags\":[\"finance\",\"q3\",\"draft\",\"internal\"],\"rev\":17,\"shared\":true},"
    "\"old_value\":{\"title\":\"Quarterly report\",\"owner\":\"u-1842\",\"rev\":16,\"shared\":false,"
    "\"body\":\"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
    "labore "
    "et dolore magna aliqua.\",\"tags\":[\"finance\",\"q3\"]}}";

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* expect_valid = false measures the failure path (error report included). */
static void run(const char *name, const char *schema_text, const char *message, bool expect_valid,
                long iterations) {
    ss_json_schema *s;
    ss_json_error err;
    if (ss_json_schema_compile_text(ss_slice_cstr(schema_text), &s, &err)) {
        fprintf(stderr, "%s: compile: %s at %s: %s\n", name, err.rule, err.path, err.message);
        exit(1);
    }
    size_t len = strlen(message);
    json_t *value = json_loadb(message, len, JSON_DECODE_ANY, NULL);
    if (!value || ss_json_schema_validate(s, value, &err) != expect_valid) {
        fprintf(stderr, "%s: unexpected verdict: %s at %s: %s\n", name, err.rule, err.path, err.message);
        exit(1);
    }

    double t0 = now_seconds();
    long ok = 0;
    for (long i = 0; i < iterations; i++)
        ok += ss_json_schema_validate(s, value, &err) == expect_valid;
    double t1 = now_seconds();
    for (long i = 0; i < iterations / 10; i++) {
        json_t *v = json_loadb(message, len, JSON_DECODE_ANY, NULL);
        ok += v != NULL;
        json_decref(v);
    }
    double t2 = now_seconds();
    double validate_us = (t1 - t0) / (double)iterations * 1e6;
    double parse_us = (t2 - t1) / (double)(iterations / 10) * 1e6;
    printf("%-16s %5zu bytes  validate %6.2f us  (%.0f MB/s)   jansson parse %6.2f us   [%ld]\n", name, len,
           validate_us, (double)len / validate_us, parse_us, ok);
    json_decref(value);
    ss_json_schema_free(s);
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    if (iterations < 10)
        iterations = 10;
    run("message schema", MESSAGE_SCHEMA, MESSAGE, true, iterations);
    run("state protocol", STATE_SCHEMA, STATE_MESSAGE, true, iterations);
    /* the same message with operation "upsert": oneOf fails, both branches
     * are evaluated again to name the closest one */
    char *bad = strdup(STATE_MESSAGE);
    char *op = strstr(bad, "\"update\"");
    memcpy(op, "\"upsert\"", 8);
    run("state (invalid)", STATE_SCHEMA, bad, false, iterations);
    free(bad);
    return 0;
}
