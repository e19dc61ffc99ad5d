/* Durable State internals shared by the files of src/state/. */
#ifndef SS_STATE_INTERNAL_H
#define SS_STATE_INTERNAL_H

#include "base/map.h"
#include "streamsy/json_doc.h"
#include "streamsy/state.h"

#define SS_STATE_NO_COLLECTION ((size_t)-1)

/* ---- schema (schema.c) ---- */
typedef struct ss__state_coll {
    ss_state_collection_def def; /* strings point into the schema's own copies */
    size_t type_len;
} ss__state_coll;

struct ss_state_schema {
    ss__state_coll *colls;
    size_t n;
};

/* Index of the collection whose wire type is `type`, or SS_STATE_NO_COLLECTION. */
size_t ss__state_find_type(const ss_state_schema *s, ss_slice type);
/* Index of the collection called `name`, or SS_STATE_NO_COLLECTION. */
size_t ss__state_find_name(const ss_state_schema *s, const char *name);

/* ---- checking one message (check.c) ---- */

/* How strictly to check. WRITE is the published schema (no extra members,
 * well-formed txid/timestamp/offset); READ tolerates extra members and
 * malformed optional headers, as consumers must (STATE-PROTOCOL §8 #2). */
typedef enum ss__state_mode {
    SS__STATE_WRITE,
    SS__STATE_READ,
} ss__state_mode;

typedef enum ss__state_verdict {
    SS__STATE_VALID,
    SS__STATE_INVALID,      /* *err filled */
    SS__STATE_UNKNOWN_TYPE, /* well-formed change of a type not in the schema; *err filled */
} ss__state_verdict;

/* The classified message; pointers borrow from the json. */
typedef struct ss__state_view {
    ss_state_kind kind;
    ss_state_operation operation;
    ss_state_control control;
    size_t coll;
    const char *type, *key, *txid, *timestamp, *offset;
    const json_t *value, *old_value, *headers;
} ss__state_view;

/* Classifies and checks `msg`; *err is filled unless VALID, with index -1
 * (the caller sets it). */
ss__state_verdict ss__state_check(const ss_state_schema *s, const json_t *msg, ss__state_mode mode,
                                  ss__state_view *view, ss_json_error *err);

/* Fills an ss_json_error (index -1). */
void ss__state_error(ss_json_error *err, const char *path, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- reading (decode.c) ---- */

/* Parses and checks (READ mode) one stored message. SS_OK with *verdict;
 * only a VALID verdict fills *out (whose json the caller then owns). */
SS_MUST_USE ss_rc ss__state_decode_one(const ss_state_schema *s, const ss_message *m, ss_state_message *out,
                                       ss__state_verdict *verdict, ss_json_error *err);

/* ---- the map (map.c) ---- */

/* Records the position materialized up to (materialize.c, after a read). */
void ss__state_map_set_offset(ss_state_map *m, const ss_offset *o);
const ss_state_schema *ss__state_map_schema(const ss_state_map *m);

#endif
