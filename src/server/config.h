/* The server's enforcement config (`--config streamsy.json`): binds stream
 * paths to a JSON Schema or to a Durable State collection set, so that plain
 * HTTP writers cannot put invalid messages into typed streams.
 *
 *   {
 *     "streams": [
 *       { "match": "events/<globstar>", "schema": { "type": "object", "required": ["id"] } },
 *       { "match": "orders/<star>", "schema_file": "schemas/order.json" },
 *       { "prefix": "app/state/", "state": { "collections": [
 *           { "name": "users", "type": "user", "primaryKey": "id",
 *             "schema": { "type": "object", "required": ["id", "name"] } } ] } }
 *     ]
 *   }
 *
 * (<star> and <globstar> stand for one and two asterisks, which cannot follow a slash in a C comment.)
 * Stream paths are matched as stream ids: the URL path below --path-prefix,
 * e.g. "events/2026/a". "match" is a glob: `*` matches within one segment,
 * `<globstar>` matches any run of characters including '/'; "prefix" matches the id's
 * start. The first matching rule wins; streams no rule matches are plain
 * Durable Streams. "schema_file" is relative to the config file's directory. */
#ifndef SS_SERVER_CONFIG_H
#define SS_SERVER_CONFIG_H

#include "streamsy/handler.h"

#define SS_CONFIG_MAX_RULES 1024
#define SS_CONFIG_MAX_BYTES (16u << 20)

typedef struct ss_config ss_config;

/* Reads and compiles a config file. On failure err holds one line naming
 * the problem (file, rule index, reason). */
SS_MUST_USE ss_rc ss_config_load(const char *path, ss_config **out, char *err, size_t err_cap);
/* The same from text; schema_file paths resolve against base_dir. */
SS_MUST_USE ss_rc ss_config_load_text(ss_slice text, const char *base_dir, ss_config **out, char *err,
                                      size_t err_cap);
void ss_config_free(ss_config *c);
size_t ss_config_rule_count(const ss_config *c);

/* The handler hook that enforces this config; `c` must outlive the handler. */
ss_http_validator ss_config_validator(ss_config *c);

/* Glob used by "match" (exposed for tests). */
bool ss_config_glob_match(const char *pattern, ss_slice id);

#endif
