/* Protocol internals shared by the files of src/protocol/. */
#ifndef SS_PROTOCOL_INTERNAL_H
#define SS_PROTOCOL_INTERNAL_H

#include "base/map.h"
#include "base/timers.h"
#include "streamsy/protocol.h"

#define SS_MAX_WAITERS_PER_STREAM 100000 /* more parked readers of one stream: SS_TOOBIG */
#define SS_MAX_FORK_DEPTH                                                                                         \
    1000                                   /* ancestors a fork may have; a deeper fork is refused at              \
                                              create (bad request), a deeper stored chain reads SS_CORRUPT */
#define SS_CURSOR_EPOCH_MS 1728432000000LL /* 2024-10-09T00:00:00Z */
#define SS_CURSOR_INTERVAL_MS 20000

/* ---- waiters (waiters.c) ---- */
typedef struct ss__wait_bucket ss__wait_bucket;
typedef struct ss__waiters {
    ss__map buckets;          /* stream id -> ss__wait_bucket* */
    ss__wait_bucket *pending; /* notified since the last run, singly linked */
    uint64_t firing;          /* the batch being fired (one stream's waiters, renumbered by a
                                 commit during it); 0 between batches */
    uint64_t batches;         /* batches fired so far: names the next one */
} ss__waiters;

void ss__waiters_init(ss__waiters *w);
void ss__waiters_release(ss__waiters *w);
SS_MUST_USE ss_rc ss__waiters_park(ss__waiters *w, ss_waiter *waiter, ss_slice id);
void ss__waiters_unpark(ss__waiters *w, ss_waiter *waiter);
void ss__waiters_notify(ss__waiters *w, ss_slice id);
size_t ss__waiters_run(ss__waiters *w);

/* ---- the live answer shared within a wake batch (read.c) ---- */
/* The first waiter of a batch that finds news at offset `from` of stream `id`
 * leaves a copy of its answer here; the others of the batch woken there copy
 * it instead of reading storage again. Valid only while `batch` fires. */
typedef struct ss__live_memo {
    uint64_t batch; /* 0: empty */
    ss_slice id;    /* the stream's, in arena */
    ss_offset from;
    ss_live_result result; /* msgs point into arena; cursor unused */
    ss_arena arena;
} ss__live_memo;
void ss__live_memo_release(ss__live_memo *m);

/* ---- in-process expiry timers (expiry_queue.c) ---- */
/* One timer per stream with a deadline, on the base timer heap. */
typedef struct ss__expiry_queue {
    ss__timers heap;
    ss__map by_id; /* id -> its entry (expiry_queue.c) */
} ss__expiry_queue;

void ss__expiry_init(ss__expiry_queue *q);
void ss__expiry_release(ss__expiry_queue *q);
SS_MUST_USE ss_rc ss__expiry_schedule(ss__expiry_queue *q, ss_slice id, int64_t at_ms);
void ss__expiry_cancel(ss__expiry_queue *q, ss_slice id);
/* Pops one due timer, its stream id into `id`; false when none is due. */
bool ss__expiry_pop_due(ss__expiry_queue *q, int64_t now_ms, ss_buf *id);
int64_t ss__expiry_next(const ss__expiry_queue *q);

/* ---- the protocol ---- */
typedef struct ss__hook {
    ss_commit_hook fn;
    void *ctx;
    uint64_t token;
} ss__hook;

struct ss_protocol {
    ss_stream_factory *storage;
    ss_clock clock;
    uint32_t long_poll_timeout_ms;
    ss_offset_gen gen;
    ss_offset initial; /* gen.initial, parsed */
    ss_protocol_stats stats;
    uint32_t (*random)(void *ctx);
    void *random_ctx;
    uint64_t prng;
    size_t read_max_bytes;
    ss__waiters waiters;
    ss__live_memo live_memo;
    ss__expiry_queue expiry;
    ss__hook *hooks;
    size_t n_hooks, cap_hooks;
    uint64_t next_token;
    int hook_depth;
};

struct ss_protocol_stream {
    ss_protocol *p;
    ss_storage_stream *st;
};

/* Lazy expiry, then the record and its presence. */
SS_MUST_USE ss_rc ss__load_present(ss_protocol_stream *s, ss_arena *a, ss_record *out, ss_presence *presence);
/* Lazy expiry, then the current record. */
SS_MUST_USE ss_rc ss__load_record(ss_protocol *p, ss_storage_stream *st, ss_arena *a, ss_record *out, bool *found);
SS_MUST_USE ss_rc ss__bind(ss_protocol *p, ss_storage_stream *st, ss_protocol_stream **out);
void ss__emit_commit(ss_protocol *p, const ss_record *r);
void ss__emit_delete(ss_protocol *p, ss_slice id); /* the hooks, with ev.deleted */
/* Slides a TTL stream's deadline; failures are ignored (best effort). */
void ss__touch(ss_protocol *p, ss_storage_stream *st, const ss_record *r);

/* Splits a body into messages by the stream's content type. Returns
 * SS_BADARG with *out_error for invalid JSON. */
SS_MUST_USE ss_rc ss__frame(ss_slice body, ss_slice content_type, ss_arena *a, ss_slice **out_items, size_t *out_n,
                            const char **out_error);
/* Allocates n offsets after `prev`, filling msgs[i].offset; SS_MISUSE when the
 * generator returns an invalid or non-increasing offset. */
SS_MUST_USE ss_rc ss__allocate(const ss_protocol *p, const ss_offset *prev, ss_message *msgs, size_t n);

/* Reads `id`'s fork chain after `after` (none = from the start) up to the
 * protocol's byte budget. Appends into a growable array in `a`. */
typedef struct ss__chain_read {
    ss_message *msgs;
    size_t n, cap;
    size_t bytes;
    bool more;
} ss__chain_read;
SS_MUST_USE ss_rc ss__read_chain(ss_protocol *p, ss_storage_stream *st, const ss_record *rec,
                                 const ss_offset *after, bool touch, ss_arena *a, ss__chain_read *out);

void ss__cursor(ss_protocol *p, ss_slice client, char out[SS_CURSOR_MAX]);

#endif
