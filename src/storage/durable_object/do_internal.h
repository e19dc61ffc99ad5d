/* Internals of the Durable Object storage factory, shared by its files:
 *
 *   factory.c   open, the host connection (statements and intents), schema
 *   lineage.c   dependents in other objects, mirrors, the outbox, export,
 *               import and edge drops
 *   snapshot.c  the snapshot format that carries a fork's source chain
 */
#ifndef STREAMSY_STORAGE_DO_INTERNAL_H
#define STREAMSY_STORAGE_DO_INTERNAL_H

#include "sqlstore/sql_engine.h"
#include "streamsy/durable_object.h"

/* Owned by: whoever called ss_do_factory_open (freed by destroy). */
typedef struct do_factory {
    ss_sql_engine engine; /* first: the factory base */
    ss_sql_conn conn;
    ss_do_host host;
} do_factory;

static inline do_factory *do_of(ss_stream_factory *f) { return (do_factory *)f; }

/* ---- factory.c ------------------------------------------------------------------ */

/* Runs SQL text of this adapter's own (not an engine statement). */
SS_MUST_USE ss_rc ss__do_exec(do_factory *f, const char *sql, const ss_sql_value *args, size_t n,
                              ss_sql_row_fn row, void *row_ctx);
/* One host transaction around body (the engine connection's intent). */
SS_MUST_USE ss_rc ss__do_intent(do_factory *f, ss_rc (*body)(void *ctx, bool *keep), void *ctx);
/* The first column of the first row as an integer (0 when there is none). */
SS_MUST_USE ss_rc ss__do_query_int(do_factory *f, const char *sql, const ss_sql_value *args, size_t n,
                                   int64_t *out);

/* ---- lineage.c ------------------------------------------------------------------ */

/* The engine hooks: children in other objects count as dependents; a purged
 * stream that forked from a mirror queues the edge drop for the mirror's
 * object and lets unreferenced mirrors go. */
SS_MUST_USE ss_rc ss__do_extra_dependents(void *ctx, ss_slice parent, uint64_t *out);
SS_MUST_USE ss_rc ss__do_drop_edge(void *ctx, ss_slice parent, ss_slice child);

/* ---- snapshot.c ------------------------------------------------------------------ */

/* One stream of a snapshot: its record and messages (in the reader's arena). */
typedef struct ss__do_snap_stream {
    ss_record record;
    ss_message *msgs;
    size_t n_msgs;
} ss__do_snap_stream;

/* Writing: begin, one put per stream, then finish with the stream count. */
SS_MUST_USE ss_rc ss__do_snap_begin(ss_buf *out);
SS_MUST_USE ss_rc ss__do_snap_put_stream(ss_buf *out, const ss_record *r, const ss_message *msgs, size_t n);
void ss__do_snap_finish(ss_buf *out, uint32_t n_streams);
/* Parses a whole snapshot; SS_CORRUPT when malformed. */
SS_MUST_USE ss_rc ss__do_snap_read(ss_slice bytes, ss_arena *a, ss__do_snap_stream **out, size_t *out_n);

#endif
