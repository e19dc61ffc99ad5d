/* The protocol factory: one C API over any storage factory.
 *
 *   ss_protocol_new({storage, clock, long_poll_timeout_ms})
 *   ss_protocol_create(path, options) -> created | exists (+ bound stream) | conflict | ...
 *   ss_protocol_get(path)             -> ok (+ bound stream) | not-found | gone
 *   bound stream: ss_stream_append / _read / _read_live_begin+_finish /
 *                 _metadata / _delete, then ss_stream_release.
 *
 * Protocol outcomes are statuses inside result structs; a non-SS_OK return
 * means the operation could not be decided (storage error, out of memory, or
 * SS_TOOBIG: a JSON array body with more than SS_MAX_MESSAGES_PER_APPEND
 * elements; nothing is written). Strings and message arrays in results live in the caller's arena.
 *
 * Threading: a protocol and everything bound to it belong to one thread.
 * Time comes only from the injected clock. */
#ifndef STREAMSY_PROTOCOL_H
#define STREAMSY_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"
#include "offset.h"
#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SS_DEFAULT_LONG_POLL_TIMEOUT_MS 1500u
#define SS_DEFAULT_READ_MAX_BYTES (4u << 20)   /* one catch-up response */
#define SS_APPEND_MAX_ATTEMPTS 8               /* commits before busy / conflict */
#define SS_MAX_TTL_SECONDS (UINT64_C(1) << 40) /* Stream-TTL above: bad request */
#define SS_MAX_PRODUCER_ID_BYTES 256           /* a longer Producer-Id: bad request */
#define SS_MAX_PRODUCERS_PER_STREAM 4096       /* a new producer past this: too-many-producers */
#define SS_MAX_MESSAGES_PER_APPEND 100000      /* a JSON array with more elements: SS_TOOBIG */

typedef struct ss_protocol ss_protocol;
typedef struct ss_protocol_stream ss_protocol_stream;

typedef struct ss_clock {
    int64_t (*now_ms)(void *ctx); /* wall-clock milliseconds since the Unix epoch */
    void *ctx;
} ss_clock;

typedef struct ss_protocol_options {
    ss_stream_factory *storage;      /* required; borrowed, must outlive the protocol */
    const ss_clock *clock;           /* NULL: the system clock */
    uint32_t long_poll_timeout_ms;   /* 0: SS_DEFAULT_LONG_POLL_TIMEOUT_MS */
    const ss_offset_gen *offset_gen; /* NULL: ss_default_offset_gen */
    uint32_t (*random)(void *ctx);   /* cursor jitter; NULL: a seeded PRNG */
    void *random_ctx;
    size_t read_max_bytes; /* 0: SS_DEFAULT_READ_MAX_BYTES */
} ss_protocol_options;

SS_MUST_USE ss_rc ss_protocol_new(const ss_protocol_options *opts, ss_protocol **out);
/* Frees the protocol (not the storage). Every bound stream must be released first. */
void ss_protocol_free(ss_protocol *p);
uint32_t ss_protocol_long_poll_timeout_ms(const ss_protocol *p);
int64_t ss_protocol_now_ms(const ss_protocol *p);
/* Safe-token rules plus the generator's own validity check. */
bool ss_protocol_is_valid_offset(const ss_protocol *p, ss_slice s);
const char *ss_protocol_initial_offset(const ss_protocol *p);
/* The same, parsed: where a read from -1 starts. */
ss_offset ss_protocol_start_offset(const ss_protocol *p);

/* What the protocol observed (storage-level numbers: ss_storage_get_stats). */
typedef struct ss_protocol_stats {
    uint64_t appends;     /* appends that landed (a JSON batch counts once) */
    uint64_t messages;    /* messages they wrote */
    uint64_t bytes;       /* payload bytes they wrote */
    uint64_t expired;     /* streams deleted by their TTL or Stream-Expires-At */
    uint64_t expiry_runs; /* scheduled expiry checks handled */
} ss_protocol_stats;

const ss_protocol_stats *ss_protocol_get_stats(const ss_protocol *p);
/* The storage factory the protocol was made with (borrowed). */
ss_stream_factory *ss_protocol_storage(const ss_protocol *p);

/* ---- create / get -------------------------------------------------------- */

typedef struct ss_create_options {
    ss_slice content_type; /* empty: application/octet-stream, or inherit for forks */
    bool has_ttl;
    uint64_t ttl_s;      /* at most SS_MAX_TTL_SECONDS */
    ss_slice expires_at; /* RFC 3339; empty = none; not with has_ttl */
    ss_slice initial_data;
    bool closed;
    ss_slice forked_from; /* source stream id; empty = not a fork */
    bool has_fork_offset;
    ss_slice fork_offset; /* raw offset text */
    uint64_t fork_sub_offset;
} ss_create_options;

typedef enum ss_create_status {
    SS_CREATE_CREATED,
    SS_CREATE_EXISTS,
    SS_CREATE_CONFLICT,
    SS_CREATE_NOT_FOUND,   /* fork source missing */
    SS_CREATE_BAD_REQUEST, /* invalid options, invalid JSON, bad fork offset */
    SS_CREATE_NOT_SUPPORTED,
} ss_create_status;

typedef enum ss_create_conflict {
    SS_CREATE_CONFLICT_NONE,
    SS_CREATE_CONFLICT_CONFIG_MISMATCH,
    SS_CREATE_CONFLICT_SOFT_DELETED,
    SS_CREATE_CONFLICT_FORK_CONTENT_TYPE,
    SS_CREATE_CONFLICT_FORK_SOURCE_SOFT_DELETED,
} ss_create_conflict;

typedef struct ss_create_result {
    ss_create_status status;
    ss_create_conflict conflict;
    ss_protocol_stream *stream; /* created / exists: release with ss_stream_release */
    ss_offset next_offset;
    ss_slice content_type;
    bool closed;
    const char *message; /* human-readable reason for non-success; static storage */
    const char *feature; /* not-supported */
} ss_create_result;

SS_MUST_USE ss_rc ss_protocol_create(ss_protocol *p, ss_slice id, const ss_create_options *o, ss_arena *a,
                                     ss_create_result *out);

/* Whether a stream is there: the status of get, read, metadata and delete
 * results (live reads have more: ss_live_status). */
typedef enum ss_presence {
    SS_PRESENT,   /* the stream exists (delete: it existed and is deleted now) */
    SS_NOT_FOUND, /* never created, purged or expired */
    SS_GONE,      /* soft-deleted: forks still read it (HTTP 410) */
} ss_presence;

typedef struct ss_get_result {
    ss_presence status;
    ss_protocol_stream *stream; /* ok: release with ss_stream_release */
} ss_get_result;

SS_MUST_USE ss_rc ss_protocol_get(ss_protocol *p, ss_slice id, ss_get_result *out);
void ss_stream_release(ss_protocol_stream *s);
ss_slice ss_stream_id(const ss_protocol_stream *s);

/* ---- append -------------------------------------------------------------- */

typedef struct ss_append_options {
    ss_slice data;
    ss_slice content_type;
    bool has_seq;
    ss_slice seq; /* Stream-Seq */
    bool has_producer;
    ss_slice producer_id;
    uint64_t producer_epoch;
    uint64_t producer_seq;
    bool close;
    bool has_expected_offset; /* Streamsy CAS: land only if the tail equals this */
    ss_offset expected_offset;
} ss_append_options;

typedef enum ss_append_status {
    SS_APPEND_APPENDED,
    SS_APPEND_DUPLICATE,
    SS_APPEND_NOT_FOUND,
    SS_APPEND_GONE,
    SS_APPEND_CONFLICT,
    SS_APPEND_BUSY,
    SS_APPEND_STALE_EPOCH,
    SS_APPEND_PRODUCER_GAP,
    SS_APPEND_INVALID_EPOCH_SEQ,
    SS_APPEND_BAD_REQUEST,        /* empty body, invalid JSON, empty JSON array, Producer-Id too long */
    SS_APPEND_TOO_MANY_PRODUCERS, /* a new producer, and the stream has SS_MAX_PRODUCERS_PER_STREAM;
                                     nothing written (producers that exist carry on) */
} ss_append_status;

typedef enum ss_append_conflict {
    SS_APPEND_CONFLICT_NONE,
    SS_APPEND_CONFLICT_CLOSED,
    SS_APPEND_CONFLICT_CONTENT_TYPE,
    SS_APPEND_CONFLICT_SEQUENCE,
    SS_APPEND_CONFLICT_EXPECTED_OFFSET,
} ss_append_conflict;

typedef struct ss_append_result {
    ss_append_status status;
    ss_append_conflict conflict;
    ss_offset offset; /* appended / duplicate / conflict closed / expected-offset: the tail */
    bool closed;
    bool has_producer; /* appended with a producer, duplicate */
    uint64_t producer_epoch;
    uint64_t producer_seq;
    uint64_t current_epoch; /* stale-epoch */
    uint64_t expected_seq;  /* producer-gap */
    uint64_t received_seq;
    const char *message;    /* bad-request reason; static storage */
    const ss_message *msgs; /* appended: the messages written (a JSON array body
                               gives one per element), each with the offset it
                               landed at; in the caller's arena */
    size_t n_msgs;
} ss_append_result;

SS_MUST_USE ss_rc ss_stream_append(ss_protocol_stream *s, const ss_append_options *o, ss_arena *a,
                                   ss_append_result *out);

/* ---- catch-up read ------------------------------------------------------- */

typedef struct ss_read_options {
    bool has_offset; /* false: from the start (offset -1) */
    ss_offset offset;
} ss_read_options;

typedef struct ss_read_result {
    ss_presence status;
    ss_message *msgs;
    size_t n;
    ss_offset next_offset;
    bool up_to_date; /* the body reaches the tail */
    bool closed;     /* closed and up to date: EOF */
} ss_read_result;

/* Reads the fork chain after the offset (at most read_max_bytes, at least one
 * message) and slides the stream's TTL. */
SS_MUST_USE ss_rc ss_stream_read(ss_protocol_stream *s, const ss_read_options *o, ss_arena *a,
                                 ss_read_result *out);

/* Reads everything from the offset to the tail, however many reads of
 * read_max_bytes that takes: `out` is one ss_stream_read result whose
 * messages reach the tail (up_to_date is true unless the status is not OK).
 * SS_TOOBIG when more than `max_bytes` of messages lie past the offset
 * (0: SS_READ_TO_TAIL_DEFAULT_MAX_BYTES), so a stream is never cut short
 * without saying so. For materializing a stream; tail live reads instead. */
#define SS_READ_TO_TAIL_DEFAULT_MAX_BYTES (256u << 20)
SS_MUST_USE ss_rc ss_stream_read_to_tail(ss_protocol_stream *s, const ss_read_options *o, size_t max_bytes,
                                         ss_arena *a, ss_read_result *out);

/* ---- live read ----------------------------------------------------------- */

typedef enum ss_live_status {
    SS_LIVE_OK,
    SS_LIVE_TIMEOUT, /* nothing new (or EOF at the tail of a closed stream) */
    SS_LIVE_NOT_FOUND,
    SS_LIVE_GONE,
    SS_LIVE_WAIT, /* begin only: park a waiter, then call finish */
} ss_live_status;

#define SS_CURSOR_MAX 24

typedef struct ss_live_options {
    bool has_offset;
    ss_offset offset;
    ss_slice cursor; /* the client's previous cursor; empty = none */
} ss_live_options;

typedef struct ss_live_result {
    ss_live_status status;
    ss_message *msgs;
    size_t n;
    ss_offset next_offset; /* WAIT: the parked position, pass it to finish */
    bool up_to_date;
    bool closed;
    char cursor[SS_CURSOR_MAX]; /* decimal digits; "" when not produced */
} ss_live_result;

/* Decides at once (data available, closed stream, fork catch-up, missing
 * stream) or returns SS_LIVE_WAIT: the caller parks a waiter on the stream
 * (ss_protocol_park) with the long-poll deadline and then calls finish with
 * `timed_out` telling why it woke. */
SS_MUST_USE ss_rc ss_stream_read_live_begin(ss_protocol_stream *s, const ss_live_options *o, ss_arena *a,
                                            ss_live_result *out);
/* `from` is the position begin reported in next_offset. May again return
 * SS_LIVE_WAIT when the wake carried no change for this reader (a TTL
 * touch); the caller re-parks with its remaining budget. */
SS_MUST_USE ss_rc ss_stream_read_live_finish(ss_protocol_stream *s, const ss_offset *from, ss_slice cursor,
                                             bool timed_out, ss_arena *a, ss_live_result *out);

/* Waiters: embedded by the caller, woken by the after-commit notify effect.
 * Wakes are batched: ss_protocol_run_pending() fires every waiter whose
 * stream was notified since the previous call. The loop calls it once per
 * turn, never inside the handler that committed. */
typedef struct ss_waiter ss_waiter;
struct ss_waiter {
    void (*fire)(ss_waiter *w); /* called once per park; w is already unparked */
    void *ctx;
    /* private */
    ss_waiter *_next, *_prev;
    void *_bucket;
};

/* Parks w on stream `id`. A waiter is parked at most once at a time. */
SS_MUST_USE ss_rc ss_protocol_park(ss_protocol *p, ss_waiter *w, ss_slice id);
/* Safe to call on a waiter that is not parked. */
void ss_protocol_unpark(ss_protocol *p, ss_waiter *w);
/* Fires the waiters of every notified stream. Returns how many fired. */
size_t ss_protocol_run_pending(ss_protocol *p);
/* Inside a fire callback: a number naming the batch being fired (the waiters
 * of one stream, woken by the same commits; unique per protocol; a commit
 * made during the batch gives it a new number); 0 outside. While the number
 * holds, equal reads give equal answers, so a caller may reuse what it built
 * for one waiter (an encoded body) for the others at the same offset. */
uint64_t ss_protocol_wake_batch(const ss_protocol *p);
bool ss_protocol_has_pending(const ss_protocol *p);

/* ---- metadata / delete --------------------------------------------------- */

typedef struct ss_meta_result {
    ss_presence status;
    ss_slice content_type;
    ss_offset next_offset;
    bool has_ttl;
    uint64_t ttl_s;
    ss_slice expires_at;
    bool closed;
} ss_meta_result;

/* Does not slide the TTL. */
SS_MUST_USE ss_rc ss_stream_metadata(ss_protocol_stream *s, ss_arena *a, ss_meta_result *out);

/* SS_PRESENT: deleted (purged, or soft-deleted while forks read it). */
SS_MUST_USE ss_rc ss_stream_delete(ss_protocol_stream *s, ss_presence *out);

/* ---- durability (group commit) --------------------------------------------- */

/* True when some commit made through this protocol is not durable yet (the
 * storage keeps a group-commit transaction open). A front end holds every
 * acknowledgement of such a commit until ss_protocol_flush() succeeded. */
bool ss_protocol_has_unflushed(const ss_protocol *p);
/* Makes every commit so far durable (one storage transaction and sync). On
 * failure the unflushed commits are rolled back and the error is returned
 * (SS_FULL, SS_IOERR, ...): answer their requests with 507 / 503. */
SS_MUST_USE ss_rc ss_protocol_flush(ss_protocol *p);

/* ---- expiry --------------------------------------------------------------- */

/* The return path for expiry timers: deletes the stream if its deadline has
 * passed, else re-arms the timer. Lazy expiry runs the same path. */
SS_MUST_USE ss_rc ss_protocol_handle_scheduled_expiry(ss_protocol *p, ss_slice id);
/* In-process timers (used when the storage has no expiry slots): runs every
 * due timer. Returns the next deadline in ms, or INT64_MAX when none. */
int64_t ss_protocol_run_expiry(ss_protocol *p);

/* ---- commit observation ---------------------------------------------------- */

typedef struct ss_commit_event {
    ss_slice id;
    ss_offset offset; /* the committed tail (deleted: unset) */
    bool closed;
    bool soft_deleted;
    bool deleted; /* the stream was deleted (by a user or by expiry): purged or soft-deleted */
} ss_commit_event;

typedef void (*ss_commit_hook)(void *ctx, const ss_commit_event *ev);

/* Hooks run synchronously, in registration order, after each successful
 * create, fork or append commit (not for rejected appends, duplicates,
 * idempotent closes, exists, TTL touches), and with `deleted` set after a
 * delete that removed a stream. Returns a token > 0. */
SS_MUST_USE ss_rc ss_protocol_on_after_commit(ss_protocol *p, ss_commit_hook fn, void *ctx, uint64_t *out_token);
void ss_protocol_off_after_commit(ss_protocol *p, uint64_t token);

/* ---- helpers shared with the HTTP layer ------------------------------------ */

/* Normalised media type: the part before ';', trimmed, ASCII-lowercased. */
ss_slice ss_media_type(ss_slice content_type, char *buf, size_t cap);
bool ss_content_types_match(ss_slice a, ss_slice b);
bool ss_content_type_is_json(ss_slice content_type);
/* text/ * or application/json: SSE sends text, everything else base64. */
bool ss_content_type_is_text_like(ss_slice content_type);
/* RFC 3339 date-time -> ms since the epoch. */
bool ss_parse_rfc3339(ss_slice s, int64_t *out_ms);

#ifdef __cplusplus
}
#endif

#endif
