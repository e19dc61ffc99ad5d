/* The storage seam: StreamFactory -> storage Stream -> commit(MutationPlan).
 *
 * The protocol layer decides; storage commits. Every request becomes a
 * declarative plan (ss_create_plan, ss_fork_plan, ss_mutation_plan,
 * ss_delete_plan) that carries pre-framed messages with their offsets, the
 * record patch, the producer upsert and every precondition. An adapter
 * re-reads the record (and producer row), checks every precondition, and
 * applies the whole plan or nothing.
 *
 * Adapter contract (every adapter keeps all of these; tests/storage checks them):
 *  1. Atomicity. commit() applies messages + patch + producer upsert together
 *     or not at all. On SS_COMMIT_PRECONDITION_FAILED nothing was written.
 *  2. Preconditions are checked against the stored state at the commit point,
 *     in this order of reporting: offset, closed, producer.
 *     - expected tail: record tail must equal it; a missing record fails with
 *       reason offset and has_record = false.
 *     - expected closed: record closed flag must equal it.
 *     - producer: has_expected -> the stored state must equal `expected`
 *       exactly; !has_expected -> no state may exist yet (insert if absent),
 *       and then the stream must have fewer than max_producers producers
 *       (reason producer-limit).
 *  3. Offsets in a plan strictly increase and are stored exactly as given;
 *     adapters never parse or mint offsets.
 *  4. Plans only borrow: adapters copy what they keep. Everything an adapter
 *     returns lives as long as the caller's arena: copied into it, or (the
 *     message bytes of list_messages) the adapter's own, pinned to it.
 *     Such an arena is released on the factory's thread (rule 6).
 *  5. Adapters never run AfterCommitEffects themselves. The wrappers below are
 *     the only callers of the vtables and run the plan's effects after a
 *     successful commit, never inside it and never after a failure.
 *  6. Calls are synchronous and single-threaded per factory.
 *  7. Durability: a version-2 adapter with a flush slot may keep commits in
 *     an open transaction; they are visible to its own reads at once and
 *     durable after flush(). Callers acknowledge writes only after a flush.
 *
 * Cross-stream work (fork edges, delete/GC cascades) is a saga: each step is
 * idempotent and convergent; see lineage.h for reusable helpers. */
#ifndef STREAMSY_STORAGE_H
#define STREAMSY_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"
#include "offset.h"
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- records ------------------------------------------------------------ */

/* A stream's durable metadata. Strings are views into the arena the record
 * was copied into (or, inside plans, into the planner's memory). */
typedef struct ss_record {
    ss_slice id;
    ss_slice content_type; /* as given at create */
    int64_t created_ms;
    bool has_ttl;
    uint64_t ttl_s;      /* sliding window, seconds */
    ss_slice expires_at; /* raw Stream-Expires-At text; empty = none */
    bool has_expires_at_ms;
    int64_t expires_at_ms; /* effective deadline (TTL slide or Expires-At) */
    bool has_last_seq;
    ss_slice last_seq; /* last accepted Stream-Seq */
    bool closed;
    int64_t closed_ms;
    ss_slice forked_from;     /* source id; empty = not a fork */
    ss_offset fork_offset;    /* divergence point in the source */
    uint64_t fork_sub_offset; /* as the client supplied it; 0 = none */
    bool soft_deleted;
    ss_offset tail;   /* current offset: where the next read starts */
    uint64_t counter; /* messages ever stored: the seed's compatibility
                         counter, kept in the record and the schema so
                         stored data stays exchangeable with it; no
                         decision reads it */
} ss_record;

/* A patch only sets values; it can never clear a field. */
enum {
    SS_PATCH_TAIL = 1u << 0,
    SS_PATCH_COUNTER = 1u << 1,
    SS_PATCH_CLOSED = 1u << 2, /* closed = true, closed_ms */
    SS_PATCH_LAST_SEQ = 1u << 3,
    SS_PATCH_EXPIRES_AT_MS = 1u << 4, /* TTL slide or touch */
};

typedef struct ss_record_patch {
    unsigned set; /* SS_PATCH_* */
    ss_offset tail;
    uint64_t counter;
    int64_t closed_ms;
    ss_slice last_seq;
    int64_t expires_at_ms;
} ss_record_patch;

/* Applies a patch to a record in place (strings are borrowed from the patch). */
void ss_record_apply_patch(ss_record *r, const ss_record_patch *patch);

/* Copies every string of `in` into `a`. */
SS_MUST_USE ss_rc ss_record_copy(ss_arena *a, const ss_record *in, ss_record *out);

typedef struct ss_message {
    ss_slice data;
    ss_offset offset; /* the position just after this message */
    int64_t ts_ms;    /* set by the protocol at plan time */
} ss_message;

typedef struct ss_message_batch {
    ss_message *msgs; /* in the caller's arena */
    size_t n;
    bool more; /* stopped early because of limit or max_bytes */
} ss_message_batch;

typedef struct ss_list_opts {
    bool has_after;
    ss_offset after; /* exclusive */
    bool has_until;
    ss_offset until;  /* inclusive */
    size_t limit;     /* 0 = no limit; applied after the window */
    size_t max_bytes; /* 0 = no limit; at least one message is always returned */
} ss_list_opts;

typedef struct ss_producer {
    uint64_t epoch;
    uint64_t last_seq;
} ss_producer;

/* ---- after-commit effects ---------------------------------------------- */

/* Ride on plans; run by the wrappers only after the adapter reported success.
 * cancel_expiry wins over schedule_expiry; at most one of the two runs. */
typedef struct ss_after_commit_effects {
    bool notify; /* wake live readers of the plan's stream */
    bool schedule_expiry;
    int64_t expiry_at_ms;
    bool cancel_expiry; /* delete plans: runs only when the stream was purged */
} ss_after_commit_effects;

/* Where effects go. Set by the protocol (ss_protocol_new) on its factory. */
typedef struct ss_effect_host {
    void (*notify)(void *ctx, ss_slice id);
    void (*schedule_expiry)(void *ctx, ss_slice id, int64_t at_ms);
    void (*cancel_expiry)(void *ctx, ss_slice id);
    void *ctx;
} ss_effect_host;

/* ---- plans and outcomes ------------------------------------------------ */

typedef struct ss_mutation_plan {
    bool has_expected_tail;
    ss_offset expected_tail;
    bool has_expected_closed;
    bool expected_closed;
    bool has_producer;
    struct {
        ss_slice id;
        bool has_expected;
        ss_producer expected;
        ss_producer next;
        uint32_t max_producers; /* inserting (no expected state) while the stream already has
                                   this many producers: reason producer-limit; 0: no limit */
    } producer;
    const ss_message *msgs; /* borrowed; offsets strictly increasing */
    size_t n_msgs;
    ss_record_patch patch;
    ss_after_commit_effects effects;
} ss_mutation_plan;

typedef enum ss_commit_status {
    SS_COMMIT_COMMITTED,
    SS_COMMIT_PRECONDITION_FAILED,
} ss_commit_status;

typedef enum ss_fail_reason {
    SS_FAIL_NONE,
    SS_FAIL_OFFSET,
    SS_FAIL_CLOSED,
    SS_FAIL_PRODUCER,
    SS_FAIL_PRODUCER_LIMIT, /* a new producer, and the stream has max_producers */
} ss_fail_reason;

typedef struct ss_commit_outcome {
    ss_commit_status status;
    ss_fail_reason reason; /* when PRECONDITION_FAILED */
    bool has_record;       /* false: the stream does not exist */
    ss_record record;      /* fresh (committed) or latest (failed) */
} ss_commit_outcome;

typedef struct ss_create_plan {
    ss_record record; /* complete, including a created-closed state */
    const ss_message *msgs;
    size_t n_msgs;
    ss_after_commit_effects effects;
} ss_create_plan;

typedef enum ss_create_outcome_status {
    SS_CREATE_OUTCOME_CREATED,
    SS_CREATE_OUTCOME_EXISTS,      /* record = the existing stream */
    SS_CREATE_OUTCOME_SOURCE_GONE, /* fork only */
} ss_create_outcome_status;

typedef struct ss_create_outcome {
    ss_create_outcome_status status;
    ss_record record;
} ss_create_outcome;

/* The adapter checks, atomically with creating the child, that the source
 * exists, is not soft-deleted and has a tail >= source_live_at; it records
 * the lineage edge source -> child (idempotently; re-added on EXISTS when the
 * existing child's forked_from equals source_id). */
typedef struct ss_fork_plan {
    ss_record child;
    ss_slice source_id;
    ss_offset source_live_at;
    const ss_message *msgs; /* sub-offset prefix + initial data */
    size_t n_msgs;
    ss_after_commit_effects effects;
} ss_fork_plan;

typedef enum ss_delete_reason {
    SS_DELETE_USER,
    SS_DELETE_EXPIRY,
} ss_delete_reason;

typedef struct ss_delete_plan {
    ss_slice id;
    ss_delete_reason reason;
    ss_after_commit_effects effects;
} ss_delete_plan;

typedef enum ss_delete_outcome {
    SS_DELETE_OUTCOME_PURGED,
    SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED,
    SS_DELETE_OUTCOME_NOT_FOUND,
    SS_DELETE_OUTCOME_GONE, /* user delete of an already soft-deleted stream */
} ss_delete_outcome;

/* ---- the vtables -------------------------------------------------------- */

/* Where an adapter reports a storage error worth an operator's attention
 * (one line, no newline); called on the thread that uses the factory. */
typedef void (*ss_storage_log_fn)(void *ctx, const char *line);

typedef struct ss_stream_factory ss_stream_factory;
typedef struct ss_storage_stream ss_storage_stream;

#define SS_STORAGE_CAP_DURABLE (1u << 0) /* an acknowledged commit survives a crash */

/* A storage-bound stream: a handle on one id. The stream may not exist (yet,
 * or any more); every method re-reads the stored state, so a handle may
 * outlive its stream or see it created later. All methods are synchronous,
 * never block on other streams' waiters, and copy what they return into the
 * caller's arena (rule 4; list_messages may pin instead); none runs effects
 * (rule 5). */
typedef struct ss_storage_stream_methods {
    int version; /* 1: every slot below */
    /* The stored record: *out_found false (and *out untouched) when the
     * stream does not exist; a soft-deleted stream is found. */
    ss_rc (*get_record)(ss_storage_stream *s, ss_arena *a, ss_record *out, bool *out_found);
    /* Messages in ascending offset order within the window (after exclusive,
     * until inclusive), then at most `limit` and about `max_bytes` (at least
     * one message when any is in the window); `more` when cut short. A
     * missing stream lists nothing. Never walks a fork chain (the protocol
     * does). Message bytes are NUL-terminated (not counted in len) and live
     * as long as the arena, whatever happens to the stream meanwhile: a
     * copy, or the adapter's own bytes pinned until the arena's release
     * (ss_arena_on_release; the memory adapter does this). */
    ss_rc (*list_messages)(ss_storage_stream *s, const ss_list_opts *o, ss_arena *a, ss_message_batch *out);
    /* The producer's state: *out_found false when the stream or the producer
     * has none. */
    /* (commit counts a stream's producers only to check max_producers.) */
    ss_rc (*get_producer)(ss_storage_stream *s, ss_slice producer_id, ss_producer *out, bool *out_found);
    /* Applies the plan atomically (rules 1-3): re-reads record and producer,
     * checks every precondition (ss_plan_check_record, then
     * ss_plan_producer_matches), then stores messages, patch and producer
     * upsert together. SS_OK with status COMMITTED and the fresh record, or
     * PRECONDITION_FAILED with the reason and the latest record (has_record
     * false for a missing stream) and nothing written. A non-SS_OK return
     * means nothing was written either. Never creates a stream. */
    ss_rc (*commit)(ss_storage_stream *s, const ss_mutation_plan *p, ss_arena *a, ss_commit_outcome *out);
    /* Frees the handle (not the stream). */
    void (*close)(ss_storage_stream *s);
} ss_storage_stream_methods;

/* A storage factory: where streams are created, forked, opened and deleted.
 * Calls are synchronous and single-threaded per factory (rule 6). */
typedef struct ss_stream_factory_methods {
    int version;      /* 1: up to destroy; 2: also flush and for_each_expiry; 3: also doc_* */
    const char *name; /* "memory", "sqlite", "durable-object": for logs (ss_storage_name) */
    unsigned caps;    /* SS_STORAGE_CAP_*: what the server reports (ss_storage_is_durable) */
    /* A handle on `id`, whether or not the stream exists. Only SS_NOMEM fails. */
    ss_rc (*open)(ss_stream_factory *f, ss_slice id, ss_storage_stream **out);
    /* Creates the stream of the plan's complete record (a created-closed
     * one included) with its initial messages, atomically: CREATED with the
     * stored record; or EXISTS with the existing record (soft-deleted ones
     * too) and nothing written. Never compares configurations: the protocol
     * decides what an existing stream means. */
    ss_rc (*create)(ss_stream_factory *f, const ss_create_plan *p, ss_arena *a, ss_create_outcome *out);
    /* NULL: forks answer not-supported (feature "fork"). Otherwise, in one
     * atomic step: EXISTS when the child exists (re-adding its edge when it
     * forks from this source); SOURCE_GONE when the source is missing,
     * soft-deleted or its tail is below source_live_at; else CREATED with
     * the child stored and the edge source -> child recorded, so the source
     * cannot be purged while the child lives. */
    ss_rc (*fork)(ss_stream_factory *f, const ss_fork_plan *p, ss_arena *a, ss_create_outcome *out);
    /* Deletes under the factory's lineage policy (lineage.h): NOT_FOUND;
     * GONE for a user delete of a soft-deleted stream; RETAINED_SOFT_DELETED
     * while dependents exist (an expiry delete of a soft-deleted stream
     * re-checks them); else PURGED (record, messages and producers go) and
     * soft-deleted ancestors left without dependents are purged too. Each
     * step is idempotent, so a retried cascade converges. */
    ss_rc (*remove)(ss_stream_factory *f, const ss_delete_plan *p, ss_delete_outcome *out);
    /* NULL: the effect host's in-process timers are used (every adapter
     * here). A factory with its own timers (alarms) records the deadline;
     * it never deletes by itself: a fired timer calls
     * ss_protocol_handle_scheduled_expiry(). */
    ss_rc (*schedule_expiry)(ss_stream_factory *f, ss_slice id, int64_t at_ms);
    ss_rc (*cancel_expiry)(ss_stream_factory *f, ss_slice id);
    /* Frees the factory and its handles' shared state. Unflushed commits are
     * rolled back, never half-kept. */
    void (*destroy)(ss_stream_factory *f);
    /* ---- version 2 ---- */
    /* Makes every commit so far durable (group commit: one transaction and
     * one sync for everything since the previous flush). NULL: every commit
     * is durable when it returns. On failure the unflushed commits are lost
     * (rolled back) and the error is returned (SS_FULL, SS_IOERR, ...). */
    ss_rc (*flush)(ss_stream_factory *f);
    /* Calls fn for every stream with an expiry deadline, so timers can be
     * re-armed after a restart; collects first, so fn may use the factory.
     * NULL: nothing survives a restart. */
    ss_rc (*for_each_expiry)(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id, int64_t at_ms), void *ctx);
    /* ---- version 3: documents ---- */
    /* Small named documents kept beside the streams (the subscription
     * layer's state: one document per subscription). A put or remove is a
     * write like a commit: durable at the next flush (at once without
     * flush), rolled back with a lost batch. put replaces the value; remove
     * of a missing key is SS_OK. NULL slots: the factory keeps no documents
     * (ss_storage_has_documents() is false). */
    ss_rc (*doc_put)(ss_stream_factory *f, ss_slice key, ss_slice value);
    ss_rc (*doc_remove)(ss_stream_factory *f, ss_slice key);
    /* Calls fn for every document whose key starts with `prefix`, in key
     * order; collects first, so fn may use the factory. */
    ss_rc (*doc_for_each)(ss_stream_factory *f, ss_slice prefix,
                          void (*fn)(void *ctx, ss_slice key, ss_slice value), void *ctx);
    /* Calls fn for the id of every stream that is not soft-deleted (any
     * order); collects first, so fn may use the factory. NULL: unknown. */
    ss_rc (*for_each_stream)(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id), void *ctx);
} ss_stream_factory_methods;

/* What the wrappers observed of a factory (ss_storage_get_stats). */
typedef struct ss_storage_stats {
    uint64_t commits;   /* committed plans (appends, closes, TTL touches) */
    uint64_t conflicts; /* plans refused by a precondition */
    uint64_t creates, forks, deletes;
    uint64_t errors[SS_RC_COUNT]; /* failed calls by result code (reads included) */
    ss_histogram commit_seconds;  /* ss_storage_commit, by ss_latency_bounds */
    ss_histogram flush_seconds;   /* ss_storage_flush that had something to flush */
    ss_histogram flush_batch;     /* writes made durable per flush, by ss_batch_bounds */
} ss_storage_stats;

/* Base of every factory; adapters embed it first (zeroed). */
struct ss_stream_factory {
    const ss_stream_factory_methods *m;
    ss_effect_host host; /* zero until a protocol attaches */
    uint64_t _writes;    /* successful state changes, counted by the wrappers */
    uint64_t _flushed;   /* _writes when the last flush succeeded */
    ss_storage_stats _stats;
};

/* Base of every storage stream; adapters embed it first. */
struct ss_storage_stream {
    const ss_storage_stream_methods *m;
    ss_stream_factory *factory;
    ss_slice id; /* owned by the adapter's handle */
};

/* ---- helpers for adapters ------------------------------------------------ */

/* The record half of a mutation plan's preconditions, in the contract's
 * order: SS_FAIL_OFFSET, then SS_FAIL_CLOSED, else SS_FAIL_NONE. */
ss_fail_reason ss_plan_check_record(const ss_mutation_plan *p, const ss_record *rec);
/* The producer half: true when the plan has no producer, or the stored state
 * (`cur`, NULL when the producer has none) is exactly what the plan expects. */
bool ss_plan_producer_matches(const ss_mutation_plan *p, const ss_producer *cur);
/* The producer limit: true when the plan inserts a new producer and the
 * stream already has `n_producers` >= max_producers. */
bool ss_plan_producer_limit_reached(const ss_mutation_plan *p, uint64_t n_producers);

/* ---- wrappers: the only callers of the vtables -------------------------- */

void ss_storage_set_effect_host(ss_stream_factory *f, const ss_effect_host *host);
bool ss_storage_can_fork(const ss_stream_factory *f);
/* The factory's name ("memory", "sqlite", ...). */
const char *ss_storage_name(const ss_stream_factory *f);
/* True when an acknowledged commit survives a crash (SS_STORAGE_CAP_DURABLE). */
bool ss_storage_is_durable(const ss_stream_factory *f);
const ss_storage_stats *ss_storage_get_stats(const ss_stream_factory *f);
SS_MUST_USE ss_rc ss_storage_open(ss_stream_factory *f, ss_slice id, ss_storage_stream **out);
SS_MUST_USE ss_rc ss_storage_create(ss_stream_factory *f, const ss_create_plan *p, ss_arena *a,
                                    ss_create_outcome *out);
/* SS_NOTSUP when the factory has no fork method. */
SS_MUST_USE ss_rc ss_storage_fork(ss_stream_factory *f, const ss_fork_plan *p, ss_arena *a,
                                  ss_create_outcome *out);
SS_MUST_USE ss_rc ss_storage_delete(ss_stream_factory *f, const ss_delete_plan *p, ss_delete_outcome *out);
SS_MUST_USE ss_rc ss_storage_schedule_expiry(ss_stream_factory *f, ss_slice id, int64_t at_ms);
SS_MUST_USE ss_rc ss_storage_cancel_expiry(ss_stream_factory *f, ss_slice id);
void ss_storage_factory_free(ss_stream_factory *f);
/* True when some state change is not yet durable: the front end holds the
 * responses of this loop turn until ss_storage_flush() succeeded. */
bool ss_storage_has_unflushed(const ss_stream_factory *f);
SS_MUST_USE ss_rc ss_storage_flush(ss_stream_factory *f);
SS_MUST_USE ss_rc ss_storage_for_each_expiry(ss_stream_factory *f,
                                             void (*fn)(void *ctx, ss_slice id, int64_t at_ms), void *ctx);

/* Documents (version 3 slots): SS_NOTSUP when the factory keeps none. */
bool ss_storage_has_documents(const ss_stream_factory *f);
SS_MUST_USE ss_rc ss_storage_doc_put(ss_stream_factory *f, ss_slice key, ss_slice value);
SS_MUST_USE ss_rc ss_storage_doc_remove(ss_stream_factory *f, ss_slice key);
SS_MUST_USE ss_rc ss_storage_doc_for_each(ss_stream_factory *f, ss_slice prefix,
                                          void (*fn)(void *ctx, ss_slice key, ss_slice value), void *ctx);
/* SS_NOTSUP when the factory cannot list its streams. */
SS_MUST_USE ss_rc ss_storage_for_each_stream(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id), void *ctx);

SS_MUST_USE ss_rc ss_storage_get_record(ss_storage_stream *s, ss_arena *a, ss_record *out, bool *out_found);
SS_MUST_USE ss_rc ss_storage_list_messages(ss_storage_stream *s, const ss_list_opts *o, ss_arena *a,
                                           ss_message_batch *out);
SS_MUST_USE ss_rc ss_storage_get_producer(ss_storage_stream *s, ss_slice producer_id, ss_producer *out,
                                          bool *out_found);
SS_MUST_USE ss_rc ss_storage_commit(ss_storage_stream *s, const ss_mutation_plan *p, ss_arena *a,
                                    ss_commit_outcome *out);
void ss_storage_close(ss_storage_stream *s);

#ifdef __cplusplus
}
#endif

#endif
