/* JSON streams: typed application/json streams over the protocol factory
 * (spec/STREAMSY.md §16, `@streamsy/json`).
 *
 *   ss_json_protocol_new(protocol, codec)  a JSON protocol over a borrowed ss_protocol
 *   ss_json_protocol_create / _get         -> an ss_json_stream, or a status
 *   ss_json_stream_append                  one value  -> one message
 *   ss_json_stream_append_many             n values   -> n messages, ONE atomic append
 *   ss_json_stream_close                   close-only append
 *   ss_json_stream_read                    catch-up read, each message parsed and decoded
 *   ss_json_stream_read_live_begin/finish  long-poll, parked with ss_protocol_park
 *
 * Values are jansson values (json_t). Every value passes through a codec on
 * the way in (encode) and on the way out (decode); the default is the
 * identity codec, a compiled JSON Schema is one more codec
 * (ss_json_schema_codec). A value the codec rejects is reported as a status
 * carrying an ss_json_error, and nothing is written.
 *
 * Wire format. Every append sends ONE JSON array body "[e1,...,en]" of the
 * encoded values; the protocol frames a JSON body by splitting one level of
 * top-level array, so element i becomes exactly message i. A single value is
 * wrapped too ("[v]"), so a value that is itself an array round-trips
 * unchanged instead of being split (the original's gotcha, spec §16).
 * Values are serialised with jansson (JSON_COMPACT): no whitespace, object
 * members in insertion order, integers exactly, reals with 17 significant
 * digits ("0.1" is written 0.10000000000000001, which parses back to the same
 * double; 1.0 is written "1.0").
 *
 * Reads parse each stored message with JSON_DECODE_ANY | JSON_ALLOW_NUL.
 * Integers that fit json_int_t (64 bits) come back as exact json integers;
 * an integer literal outside that range (for example written by another
 * client over HTTP) comes back as the nearest json real, as JavaScript's
 * JSON.parse would read it, instead of failing. A stored message that still
 * does not parse, or that the codec's decode rejects, is reported (status
 * invalid-json / decode-failed with its offset), never skipped.
 *
 * Ownership:
 *  - an ss_json_protocol borrows its ss_protocol and the codec's ctx; both
 *    must outlive it. Free it after releasing every stream it produced.
 *  - an ss_json_stream owns its bound ss_protocol_stream; release it with
 *    ss_json_stream_release before ss_protocol_free.
 *  - values passed in are borrowed (their reference counts are unchanged
 *    after the call, and they are never modified).
 *  - read results own one reference to each message value; release them
 *    with ss_json_read_result_release / ss_json_live_result_release (which
 *    json_decref every value). Keep a value beyond that with json_incref.
 *  - every other result is plain data (no release needed).
 *
 * Fallible functions return SS_OK when the operation was decided (the
 * outcome is the status in *out) and leave *out untouched otherwise (storage
 * error SS_IOERR..., SS_NOMEM, SS_TOOBIG past SS_JSON_MAX_APPEND_BYTES,
 * SS_BADARG for a NULL value, SS_MISUSE for a codec that broke its
 * contract). Everything belongs to the protocol's thread. */
#ifndef STREAMSY_JSON_H
#define STREAMSY_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "json_error.h"
#include "json_schema.h"
#include "offset.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SS_JSON_CONTENT_TYPE "application/json"
#define SS_JSON_MAX_APPEND_BYTES (64u << 20) /* one encoded append body; past it: SS_TOOBIG */
#define SS_JSON_CONTENT_TYPE_MAX 256         /* get's content-type-conflict report, truncated */
/* Deepest nesting of one value (255 containers): the wrapping array of the
 * append body makes 256, the protocol's JSON depth limit. Deeper: invalid,
 * rule "depth". */
#define SS_JSON_MAX_VALUE_DEPTH 255

/* ---- codecs ---------------------------------------------------------------- */

/* JsonCodec<T>. Both callbacks receive a borrowed value they must not
 * modify, and on SS_OK store a NEW reference in *out (the layer
 * json_decref's it); returning the input itself is fine:
 * `*out = json_incref((json_t *)in)`. On any other code *out is ignored
 * (a callback must not leave a reference there for the layer to drop).
 *
 *  encode  runs before anything is written. SS_BADARG (or SS_CORRUPT) means
 *          "this value is invalid": the layer reports status invalid with
 *          `err` and writes nothing. A result nested deeper than
 *          SS_JSON_MAX_VALUE_DEPTH is reported invalid by the layer.
 *  decode  runs on each stored message after parsing. SS_BADARG or
 *          SS_CORRUPT means "this stored value is not a T": the read reports
 *          status decode-failed with `err` and the message's offset.
 *
 * Any other non-SS_OK code (SS_NOMEM, ...) is returned by the calling layer
 * function as is. `err` arrives zeroed; callbacks fill `err->path`,
 * `err->rule` and `err->message` (rule defaults to "codec" when left
 * empty); the layer sets `err->index`. `ctx` is borrowed. */
typedef struct ss_json_codec {
    ss_rc (*encode)(void *ctx, const json_t *in, json_t **out, ss_json_error *err);
    ss_rc (*decode)(void *ctx, const json_t *in, json_t **out, ss_json_error *err);
    void *ctx;
} ss_json_codec;

/* Accepts every value and returns it unchanged. */
extern const ss_json_codec ss_json_identity_codec;

/* A codec that validates with a compiled JSON Schema on encode AND decode
 * (Streamsy's Standard Schema adapter validated only on read; write-side
 * validation is a deliberate fix, notes/streamsy-c-mapping.md §7). Values
 * pass through unchanged. Errors carry the schema keyword as the rule and
 * the failing value's JSON Pointer as the path. The schema is borrowed and
 * must outlive every protocol using the codec. */
void ss_json_schema_codec(const ss_json_schema *schema, ss_json_codec *out);

/* ---- the JSON protocol -------------------------------------------------------- */

typedef struct ss_json_protocol ss_json_protocol;
typedef struct ss_json_stream ss_json_stream;

/* `p` is borrowed. `codec` is copied (its ctx borrowed); NULL = identity.
 * SS_MISUSE when p is NULL or the codec lacks a callback. */
SS_MUST_USE ss_rc ss_json_protocol_new(ss_protocol *p, const ss_json_codec *codec, ss_json_protocol **out);
/* Every stream from this protocol must have been released. NULL is a no-op. */
void ss_json_protocol_free(ss_json_protocol *jp);
/* The borrowed protocol: for ss_protocol_park / _run_pending and commit hooks. */
ss_protocol *ss_json_protocol_base(const ss_json_protocol *jp);

/* Takes ownership of a bound stream (from ss_protocol_create/get) without
 * checking its content type; for callers that already know it is JSON. On
 * failure (SS_NOMEM) the stream is still the caller's. */
SS_MUST_USE ss_rc ss_json_protocol_wrap(ss_json_protocol *jp, ss_protocol_stream *s, ss_json_stream **out);

/* Releases the stream (and its bound protocol stream). NULL is a no-op. */
void ss_json_stream_release(ss_json_stream *s);
ss_slice ss_json_stream_id(const ss_json_stream *s);
/* The bound protocol stream, borrowed: for metadata, delete and raw reads. */
ss_protocol_stream *ss_json_stream_base(ss_json_stream *s);

/* ---- create / get ---------------------------------------------------------------- */

/* ss_create_options without content type (always application/json) and
 * initial data (initial values instead). */
typedef struct ss_json_create_options {
    bool has_ttl;
    uint64_t ttl_s;
    ss_slice expires_at; /* RFC 3339; empty = none */
    bool closed;
    ss_slice forked_from; /* source stream id; empty = not a fork */
    bool has_fork_offset;
    ss_slice fork_offset;
    uint64_t fork_sub_offset;
    /* Encoded through the codec and written with the create itself, as one
     * array body: the stream is created with all of them or not at all (the
     * original created with the first and appended the rest one by one).
     * Ignored when the stream already exists. Borrowed. */
    json_t *const *initial_values;
    size_t n_initial;
} ss_json_create_options;

typedef enum ss_json_create_status {
    SS_JSON_CREATE_CREATED,
    SS_JSON_CREATE_EXISTS,
    SS_JSON_CREATE_CONFLICT,      /* `conflict` says why; an existing non-JSON stream is config-mismatch */
    SS_JSON_CREATE_NOT_FOUND,     /* fork source missing */
    SS_JSON_CREATE_BAD_REQUEST,   /* bad fork offset or options; `message` */
    SS_JSON_CREATE_NOT_SUPPORTED, /* `feature` */
    SS_JSON_CREATE_INVALID,       /* an initial value failed encoding; `error`, nothing created */
} ss_json_create_status;

typedef struct ss_json_create_result {
    ss_json_create_status status;
    ss_create_conflict conflict;
    ss_json_stream *stream; /* created / exists: release with ss_json_stream_release */
    ss_offset next_offset;  /* created / exists: the tail */
    bool closed;
    const char *message; /* static storage; NULL when none */
    const char *feature; /* not-supported */
    ss_json_error error; /* invalid: index = the initial value's index */
} ss_json_create_result;

SS_MUST_USE ss_rc ss_json_protocol_create(ss_json_protocol *jp, ss_slice id, const ss_json_create_options *o,
                                          ss_json_create_result *out);

typedef enum ss_json_get_status {
    SS_JSON_GET_OK,
    SS_JSON_GET_NOT_FOUND,
    SS_JSON_GET_GONE,                  /* soft-deleted */
    SS_JSON_GET_CONTENT_TYPE_CONFLICT, /* media type is not exactly application/json */
} ss_json_get_status;

typedef struct ss_json_get_result {
    ss_json_get_status status;
    ss_json_stream *stream; /* ok: release with ss_json_stream_release */
    /* content-type-conflict: the stream's content type as stored (truncated
     * to fit); the expected one is SS_JSON_CONTENT_TYPE. */
    char content_type[SS_JSON_CONTENT_TYPE_MAX];
} ss_json_get_result;

/* The media type (before any ';', case-insensitive) must be exactly
 * application/json; parameters such as charset are ignored. */
SS_MUST_USE ss_rc ss_json_protocol_get(ss_json_protocol *jp, ss_slice id, ss_json_get_result *out);

/* ---- append ------------------------------------------------------------------------ */

/* The protocol's append options: producer, Stream-Seq, close and the
 * expected offset (CAS) apply as they do to ss_stream_append. The layer sets
 * `data` and `content_type` itself; whatever they hold is ignored. */
typedef ss_append_options ss_json_append_options;

/* The protocol's result (`append`), or, when a value failed encoding,
 * `invalid` with `error` (index -1 for a single append, the value's index in
 * a batch), nothing written and `append` not set. `append.msgs` is never set
 * (append_many's `offsets` gives a batch's offsets). */
typedef struct ss_json_append_result {
    bool invalid;
    ss_json_error error;
    ss_append_result append;
} ss_json_append_result;

/* Encodes `value` and appends it as exactly one message (sent as "[v]"),
 * so an array value stays one message. `value` NULL: SS_BADARG. `o` may be
 * NULL (no options), here and in append_many / close. */
SS_MUST_USE ss_rc ss_json_stream_append(ss_json_stream *s, const json_t *value, const ss_json_append_options *o,
                                        ss_json_append_result *out);

/* Encodes every value first; if any is invalid, reports it (error.index =
 * its index) and writes nothing. Otherwise appends "[e1,...,en]" as ONE
 * protocol append: one plan, one commit, one commit event, contiguous
 * offsets, all or nothing (a producer, Stream-Seq, close and expected
 * offset apply to the batch as a whole). n == 0 sends an empty body: a
 * close-only append when o->close, else bad-request.
 *
 * `offsets` (n entries, or NULL when not wanted) receives the offset of
 * each written message when the status is appended, as the protocol
 * assigned them. More than SS_MAX_MESSAGES_PER_APPEND values: SS_TOOBIG,
 * nothing written. */
SS_MUST_USE ss_rc ss_json_stream_append_many(ss_json_stream *s, json_t *const *values, size_t n,
                                             const ss_json_append_options *o, ss_json_append_result *out,
                                             ss_offset *offsets);

/* Close-only append: append_many with n == 0 and close forced on. */
SS_MUST_USE ss_rc ss_json_stream_close(ss_json_stream *s, const ss_json_append_options *o,
                                       ss_json_append_result *out);

/* ---- reads ----------------------------------------------------------------------------- */

typedef struct ss_json_message {
    ss_offset offset; /* the position just after this message */
    int64_t ts_ms;    /* when it was appended */
    json_t *value;    /* decoded; one reference owned by the result */
} ss_json_message;

typedef enum ss_json_read_status {
    SS_JSON_READ_OK,
    SS_JSON_READ_NOT_FOUND,
    SS_JSON_READ_GONE,
    SS_JSON_READ_INVALID_JSON,  /* a stored message did not parse; see below */
    SS_JSON_READ_DECODE_FAILED, /* the codec's decode rejected a stored message */
} ss_json_read_status;

/* On invalid-json / decode-failed: `msgs` holds the messages before the
 * failing one (all decoded), `error_offset` is the failing message's offset
 * and `error` says why (index = its position in this read, rule "json" for
 * a parse failure). `next_offset` is the position after the last good
 * message (re-reading from it reproduces the failure; reading from
 * `error_offset` skips the bad message), up_to_date and closed are false. */
typedef struct ss_json_read_result {
    ss_json_read_status status;
    ss_json_message *msgs; /* owned; ss_json_read_result_release */
    size_t n;
    ss_offset next_offset;
    bool up_to_date;
    bool closed;
    ss_offset error_offset;
    ss_json_error error;
} ss_json_read_result;

/* ss_stream_read (up to SS_DEFAULT_READ_MAX_BYTES of messages), then parse
 * and decode each message in order. */
SS_MUST_USE ss_rc ss_json_stream_read(ss_json_stream *s, const ss_read_options *o, ss_json_read_result *out);
/* The same over ss_stream_read_to_tail: every message to the tail (SS_TOOBIG
 * past max_bytes of stored messages; 0: SS_READ_TO_TAIL_DEFAULT_MAX_BYTES). */
SS_MUST_USE ss_rc ss_json_stream_read_to_tail(ss_json_stream *s, const ss_read_options *o, size_t max_bytes,
                                              ss_json_read_result *out);
/* Drops the values and the array; the struct is zeroed. */
void ss_json_read_result_release(ss_json_read_result *r);

typedef enum ss_json_live_status {
    SS_JSON_LIVE_OK,
    SS_JSON_LIVE_TIMEOUT,
    SS_JSON_LIVE_NOT_FOUND,
    SS_JSON_LIVE_GONE,
    SS_JSON_LIVE_WAIT,         /* begin (or finish after a TTL-touch wake): park, then finish */
    SS_JSON_LIVE_INVALID_JSON, /* as for ss_json_read_result */
    SS_JSON_LIVE_DECODE_FAILED,
} ss_json_live_status;

typedef struct ss_json_live_result {
    ss_json_live_status status;
    ss_json_message *msgs; /* owned; ss_json_live_result_release */
    size_t n;
    ss_offset next_offset; /* WAIT: the parked position, pass it to finish */
    bool up_to_date;
    bool closed;
    char cursor[SS_CURSOR_MAX];
    ss_offset error_offset;
    ss_json_error error;
} ss_json_live_result;

/* ss_stream_read_live_begin / _finish with each message parsed and decoded.
 * On SS_JSON_LIVE_WAIT the caller parks a waiter on ss_json_stream_id(s)
 * with ss_protocol_park and, once it fires (or the long-poll deadline
 * passes), calls finish with the begin result's next_offset. */
SS_MUST_USE ss_rc ss_json_stream_read_live_begin(ss_json_stream *s, const ss_live_options *o,
                                                 ss_json_live_result *out);
SS_MUST_USE ss_rc ss_json_stream_read_live_finish(ss_json_stream *s, const ss_offset *from, ss_slice cursor,
                                                  bool timed_out, ss_json_live_result *out);
void ss_json_live_result_release(ss_json_live_result *r);

#ifdef __cplusplus
}
#endif

#endif
