/* Durable State: typed change and control messages over collections, on an
 * application/json stream (spec/STATE-PROTOCOL.md, spec/STREAMSY.md §17).
 *
 *   ss_state_schema_new(collections)      the table: name, wire type, value schema, primary key
 *   ss_state_encode / ss_state_append     validate, then build/append the exact wire bytes;
 *                                         a batch is ONE atomic append "[m1,...,mn]"
 *   ss_state_validate_message / _body     the checks alone (the server's enforcement path)
 *   ss_state_decode / ss_state_read       stored messages -> typed ss_state_message views
 *   ss_state_map + ss_state_materialize   fold a stream into current state per collection
 *
 * Wire shape, byte for byte as Streamsy writes it (compact, no whitespace):
 *
 *   {"type":T,"key":K,"value":V,"headers":{"txid":X,"timestamp":Y,"operation":OP},"old_value":O}
 *   {"headers":{"offset":OFF,"control":C}}
 *
 * "value" is absent on delete; "txid", "timestamp", "old_value" and the
 * control "offset" only when given. Values are written the way JavaScript's
 * JSON.stringify writes them (array-index keys first, shortest round-trip
 * numbers, minimal string escaping); integers are written exactly.
 *
 * Validation (write side) follows the published State Protocol schema: a
 * message is exactly a change or a control, with no other members; `upsert`
 * is rejected, as Streamsy rejects it. Reads are lenient where the spec says
 * consumers must be (extra header members such as a stamped headers.offset).
 *
 * Failures are reported in an ss_json_error: `index` (message index in a
 * batch or body, -1 for a lone message), `path` (JSON Pointer inside that
 * message), `rule`, `message`. Rules produced here:
 *   "json"                 the body or a stored message is not valid JSON
 *   "message"              not an object, no headers object, not exactly one of
 *                          headers.operation / headers.control
 *   "operation"            operation not insert|update|delete (upsert included)
 *   "control"              control not snapshot-start|snapshot-end|reset
 *   "collection"           type missing, empty, or not a known wire type
 *                          (builders: unknown collection name)
 *   "key"                  key missing, empty, not a string, contains U+0000
 *   "value"                value missing on insert/update (builders: a value on delete)
 *   "primary-key"          key differs from the value's primary-key field, or
 *                          that field is not a string
 *   "additionalProperties" a member the State Protocol schema does not allow
 *   "txid" / "timestamp" / "offset"  malformed header member
 *   any JSON Schema keyword the collection's value schema reports, with the
 *                          path under /value or /old_value
 *
 * Ownership: the schema copies the strings it keeps and borrows the compiled
 * value schemas. A map borrows its schema. Typed messages borrow from their
 * read result. Everything belongs to one thread, like the protocol. */
#ifndef STREAMSY_STATE_H
#define STREAMSY_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "bytes.h"
#include "json_error.h"
#include "json_schema.h"
#include "offset.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SS_STATE_MAX_COLLECTIONS 1024 /* per schema; more: SS_TOOBIG */
#define SS_STATE_MAX_BODY (64u << 20) /* one encoded batch; more: SS_TOOBIG */
#define SS_STATE_CONTENT_TYPE "application/json"

/* ---- schema ---------------------------------------------------------------- */

typedef struct ss_state_collection_def {
    const char *name;                   /* collection name; non-empty */
    const char *type;                   /* wire type ("type" member); NULL or "" = name */
    const ss_json_schema *value_schema; /* NULL = any JSON value; borrowed, must outlive the schema */
    const char *primary_key;            /* field of an object value holding the key; NULL = none */
} ss_state_collection_def;

typedef struct ss_state_schema ss_state_schema;

/* Copies names, types and primary-key names. SS_BADARG for an empty name or a
 * duplicate name or wire type; SS_TOOBIG past SS_STATE_MAX_COLLECTIONS. */
SS_MUST_USE ss_rc ss_state_schema_new(const ss_state_collection_def *defs, size_t n, ss_state_schema **out);
void ss_state_schema_free(ss_state_schema *s);
size_t ss_state_schema_count(const ss_state_schema *s);
/* The i-th collection as given (strings owned by the schema); NULL past the end. */
const ss_state_collection_def *ss_state_schema_collection(const ss_state_schema *s, size_t i);

/* ---- vocabulary ------------------------------------------------------------ */

typedef enum ss_state_kind {
    SS_STATE_CHANGE,
    SS_STATE_CONTROL,
} ss_state_kind;

typedef enum ss_state_operation {
    SS_STATE_INSERT,
    SS_STATE_UPDATE,
    SS_STATE_DELETE,
} ss_state_operation;

typedef enum ss_state_control {
    SS_STATE_SNAPSHOT_START,
    SS_STATE_SNAPSHOT_END,
    SS_STATE_RESET,
} ss_state_control;

/* "insert" ... / "snapshot-start" ... ; never NULL. */
const char *ss_state_operation_name(ss_state_operation op);
const char *ss_state_control_name(ss_state_control c);

/* ---- writing --------------------------------------------------------------- */

/* One message to write. Strings and values are borrowed for the call.
 * change:  collection (name, not wire type); key, or NULL to take it from the
 *          value's primary-key field (insert/update); value required on insert
 *          and update (json null allowed), must be NULL on delete; old_value,
 *          txid, timestamp optional (NULL = absent).
 * control: control, and offset (headers.offset) optional. */
typedef struct ss_state_input {
    ss_state_kind kind;
    ss_state_operation operation;
    const char *collection;
    const char *key;
    const json_t *value;
    const json_t *old_value;
    const char *txid;
    const char *timestamp; /* RFC 3339 */
    ss_state_control control;
    const char *offset;
} ss_state_input;

static inline ss_state_input ss_state_insert(const char *collection, const json_t *value) {
    return (ss_state_input){
        .kind = SS_STATE_CHANGE, .operation = SS_STATE_INSERT, .collection = collection, .value = value};
}
static inline ss_state_input ss_state_update(const char *collection, const json_t *value) {
    return (ss_state_input){
        .kind = SS_STATE_CHANGE, .operation = SS_STATE_UPDATE, .collection = collection, .value = value};
}
static inline ss_state_input ss_state_delete(const char *collection, const char *key) {
    return (ss_state_input){
        .kind = SS_STATE_CHANGE, .operation = SS_STATE_DELETE, .collection = collection, .key = key};
}
static inline ss_state_input ss_state_control_msg(ss_state_control c, const char *offset) {
    return (ss_state_input){.kind = SS_STATE_CONTROL, .control = c, .offset = offset};
}

/* Validates every input, then writes the body into `out` (appended to what it
 * holds): one input -> "[m]" when `wrap` is true, else "m"; several -> always
 * "[m1,...,mn]". The array wrapper is what keeps one-level flattening from
 * splitting a message. SS_BADARG with *err filled (index = input index, or -1
 * when n == 1 and !wrap) when an input is invalid, and then `out` is
 * unchanged; SS_MISUSE when n == 0; SS_TOOBIG past SS_STATE_MAX_BODY or out's
 * own maximum. */
SS_MUST_USE ss_rc ss_state_encode(const ss_state_schema *s, const ss_state_input *in, size_t n, bool wrap,
                                  ss_buf *out, ss_json_error *err);

typedef struct ss_state_append_result {
    bool invalid; /* true: nothing was written; `error` says why */
    ss_json_error error;
    ss_append_result append; /* !invalid: the protocol's outcome (appended, conflict, ...) */
} ss_state_append_result;

/* Validates all n inputs, then appends them as ONE body "[m1,...,mn]" in one
 * ss_stream_append: one plan, one commit, contiguous offsets, all or nothing.
 * `base` (may be NULL) supplies Stream-Seq, producer, close and the
 * expectedOffset CAS; its data is ignored and its content type defaults to
 * application/json. An invalid input is an outcome (out->invalid), not an
 * error: SS_OK is returned and nothing reaches the stream. */
SS_MUST_USE ss_rc ss_state_append(const ss_state_schema *s, ss_protocol_stream *stream, const ss_state_input *in,
                                  size_t n, const ss_append_options *base, ss_arena *a,
                                  ss_state_append_result *out);

/* ---- validation alone ------------------------------------------------------ */

/* Checks one message against the State Protocol schema and the collection
 * table: SS_OK when valid, SS_BADARG with *err filled (index -1) when not. */
SS_MUST_USE ss_rc ss_state_validate_message(const ss_state_schema *s, const json_t *msg, ss_json_error *err);

/* Checks a whole POST/PUT body as the protocol will frame it: one message,
 * or a JSON array whose elements are messages (an empty array is left to the
 * protocol, which rejects it). SS_BADARG with err->index = the first failing
 * message (0 for a lone object body), or rule "json" (index -1) for bytes
 * that are not JSON by the protocol's own strict scanner; SS_NOMEM. Needs no
 * protocol or stream; about 7 us for a 1 KiB message (no jansson reader). */
SS_MUST_USE ss_rc ss_state_validate_body(const ss_state_schema *s, ss_slice body, ss_json_error *err);

/* ---- reading --------------------------------------------------------------- */

/* A decoded message. Every pointer borrows from `json`, which the read result
 * owns; strings are NUL-terminated and NULL when absent. */
typedef struct ss_state_message {
    ss_state_kind kind;
    ss_state_operation operation; /* change */
    ss_state_control control;     /* control */
    const char *collection;       /* change: collection name (schema-owned) */
    size_t collection_index;      /* change: index in the schema */
    const char *type;             /* change: wire type */
    const char *key;              /* change */
    const json_t *value;          /* NULL when absent (delete); json null when null */
    const json_t *old_value;      /* NULL when absent */
    const json_t *headers;        /* the whole headers object, extra members included */
    const char *txid;             /* headers.txid when a string */
    const char *timestamp;        /* headers.timestamp when a string */
    const char *header_offset;    /* headers.offset when a string (controls; stamped changes) */
    ss_offset offset;             /* stream position just after this message */
    json_t *json;                 /* the parsed message; owned by the read result */
} ss_state_message;

typedef enum ss_state_read_status {
    SS_STATE_READ_OK,
    SS_STATE_READ_NOT_FOUND,
    SS_STATE_READ_GONE,
    SS_STATE_READ_INVALID, /* a stored message failed decoding; see error */
} ss_state_read_status;

typedef struct ss_state_read_result {
    ss_state_read_status status;
    ss_state_message *msgs; /* in the caller's arena; INVALID: the messages before the failing one */
    size_t n;
    ss_offset next_offset; /* from the underlying read (decode: the last message's offset) */
    bool up_to_date;
    bool closed;
    ss_json_error error;    /* INVALID: index = position in the batch */
    ss_offset error_offset; /* INVALID: offset of the failing message */
} ss_state_read_result;

/* Decodes stored messages (from an ss_read_result or ss_live_result) into
 * typed messages. Lenient only where consumers must be: extra members are
 * tolerated; structure, collection, key, operation and value schemas are
 * checked as on write. The first failure stops decoding with status INVALID.
 * Release with ss_state_read_result_release even on failure. */
SS_MUST_USE ss_rc ss_state_decode(const ss_state_schema *s, const ss_message *msgs, size_t n, ss_arena *a,
                                  ss_state_read_result *out);
/* ss_stream_read + ss_state_decode; not-found and gone pass through. */
SS_MUST_USE ss_rc ss_state_read(const ss_state_schema *s, ss_protocol_stream *stream, const ss_read_options *o,
                                ss_arena *a, ss_state_read_result *out);
/* Drops the parsed messages (the arena memory stays with the arena). */
void ss_state_read_result_release(ss_state_read_result *r);

/* ---- materialized state ------------------------------------------------------ */

typedef enum ss_state_snapshot_mode {
    SS_STATE_SNAPSHOT_HINT,   /* the spec and reference client: markers change nothing */
    SS_STATE_SNAPSHOT_ATOMIC, /* changes between start and end become visible together at end */
} ss_state_snapshot_mode;

typedef struct ss_state_map_options {
    ss_state_snapshot_mode snapshot_mode;
} ss_state_map_options;

/* In-memory state: per collection, key -> value. Also the checkpoint: it
 * remembers the stream offset it has materialized up to. Owned by the caller;
 * borrows the schema. */
typedef struct ss_state_map ss_state_map;

/* opts may be NULL (hint mode). */
SS_MUST_USE ss_rc ss_state_map_new(const ss_state_schema *s, const ss_state_map_options *opts, ss_state_map **out);
void ss_state_map_free(ss_state_map *m);
/* Borrowed; valid until the entry changes. NULL for an unknown collection or key. */
const json_t *ss_state_map_get(const ss_state_map *m, const char *collection, const char *key);
size_t ss_state_map_count(const ss_state_map *m, const char *collection);

typedef struct ss_state_map_iter { /* zero-initialise before the first call */
    size_t _bucket;
    void *_next;
} ss_state_map_iter;

/* for (ss_state_map_iter it = {0}; ss_state_map_next(m, "users", &it, &k, &v);)
 * Unspecified order; do not change the map while iterating. */
bool ss_state_map_next(const ss_state_map *m, const char *collection, ss_state_map_iter *it, const char **key,
                       const json_t **value);

/* Applies one decoded message (decoded with the map's schema):
 * insert and update set the entity (whole-value replacement; update of a
 * missing key stores it, insert of an existing key overwrites it — ST-022/23),
 * delete removes it (a missing key is a no-op), reset clears every collection
 * and any staged snapshot, snapshot-start/end are markers (ATOMIC: changes in
 * between are staged and applied at snapshot-end). Records msg->offset (when
 * set) as the position materialized up to. */
SS_MUST_USE ss_rc ss_state_map_apply(ss_state_map *m, const ss_state_message *msg);
/* Empties every collection and forgets the offset. */
void ss_state_map_clear(ss_state_map *m);
/* The offset materialized up to; NULL before anything was read. */
const ss_offset *ss_state_map_offset(const ss_state_map *m);
/* True between snapshot-start and snapshot-end. */
bool ss_state_map_in_snapshot(const ss_state_map *m);
/* headers.offset of the last reset applied (NULL if none or it had none): the
 * position the producer says to rebuild from, for callers who re-read. */
const char *ss_state_map_reset_offset(const ss_state_map *m);

typedef struct ss_state_materialize_options {
    bool skip_invalid; /* skip messages that fail decoding (counted) instead of stopping */
} ss_state_materialize_options;

typedef enum ss_state_materialize_status {
    SS_STATE_MATERIALIZE_OK,
    SS_STATE_MATERIALIZE_NOT_FOUND,
    SS_STATE_MATERIALIZE_GONE,
    SS_STATE_MATERIALIZE_INVALID, /* stopped before a message that failed decoding */
} ss_state_materialize_status;

typedef struct ss_state_materialize_result {
    ss_state_materialize_status status;
    ss_offset offset;       /* materialized up to (= ss_state_map_offset); the expectedOffset for a CAS append */
    size_t applied;         /* messages applied by this call */
    size_t skipped;         /* changes of unknown wire types (ST-028), and invalid ones with skip_invalid */
    bool closed;            /* the stream is closed and fully read */
    ss_json_error error;    /* INVALID */
    ss_offset error_offset; /* INVALID: offset of the failing message */
} ss_state_materialize_result;

/* Reads the stream from the map's offset (the start for a fresh map) to the
 * current tail and applies every message in order. Continue later with the
 * same map to catch up incrementally. On INVALID the map holds everything
 * before the failing message and its offset points just before it.
 * opts may be NULL. */
SS_MUST_USE ss_rc ss_state_materialize(ss_state_map *m, ss_protocol_stream *stream,
                                       const ss_state_materialize_options *opts, ss_state_materialize_result *out);

#ifdef __cplusplus
}
#endif

#endif
