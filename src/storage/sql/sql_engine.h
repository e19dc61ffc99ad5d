/* The SQL storage engine: the storage seam over the streamsy schema, for any
 * SQL connection that can run its statements.
 *
 * Two adapters share it: SQLite (a native sqlite3 connection with group
 * commit) and the Durable Object (ctx.storage.sql through the wasm host).
 * They share the schema, every statement, the row codec, commit(MutationPlan)
 * with its preconditions, create, fork and the delete cascade; each supplies
 * a connection (how a statement runs, what one atomic intent is) and its own
 * factory table, in which it puts the ss__sql_* slots below.
 *
 * Lineage is derived from the forked_from column (reverse index). An adapter
 * may add dependents kept elsewhere and hear about dropped edges through
 * ss_sql_lineage_hooks (the Durable Object's children in other objects). */
#ifndef SS_STORAGE_SQL_ENGINE_H
#define SS_STORAGE_SQL_ENGINE_H

#include "base/map.h"
#include "streamsy/lineage.h"
#include "streamsy/sql_host.h"
#include "streamsy/storage.h"

/* ---- schema and statements --------------------------------------------------- */

/* The tables, as the SQL text of schema version 1 (several statements). */
#define SS_SQL_SCHEMA_VERSION 3
extern const char ss__sql_schema_v1[];
/* Version 2 adds streamsy_documents (the factory's documents). */
extern const char ss__sql_schema_v2[];
/* Version 3 adds streamsy_log and packed rows of messages (log.c). */
extern const char ss__sql_schema_v3[];

#define SS_SQL_STMTS(X)                                                                                           \
    X(GET_RECORD)                                                                                                 \
    X(INSERT_RECORD)                                                                                              \
    X(UPDATE_RECORD)                                                                                              \
    X(SOFT_DELETE)                                                                                                \
    X(DELETE_RECORD)                                                                                              \
    X(DELETE_MESSAGES)                                                                                            \
    X(DELETE_PRODUCERS)                                                                                           \
    X(INSERT_MESSAGE)                                                                                             \
    X(LIST_MESSAGES)                                                                                              \
    X(INSERT_LOG)                                                                                                 \
    X(LOG_HEAD)                                                                                                   \
    X(LOG_ROWS)                                                                                                   \
    X(LOG_ROW)                                                                                                    \
    X(DELETE_LOG)                                                                                                 \
    X(CUT_LOG)                                                                                                    \
    X(UNPACKED_LOG)                                                                                               \
    X(GET_PRODUCER)                                                                                               \
    X(UPSERT_PRODUCER)                                                                                            \
    X(COUNT_CHILDREN)                                                                                             \
    X(COUNT_PRODUCERS)                                                                                            \
    X(EXPIRIES)                                                                                                   \
    X(PUT_DOCUMENT)                                                                                               \
    X(REMOVE_DOCUMENT)                                                                                            \
    X(LIST_DOCUMENTS)                                                                                             \
    X(LIST_STREAMS)

typedef enum ss_sql_stmt {
#define SS_SQL_STMT_ENUM(name) SS_SQL_##name,
    SS_SQL_STMTS(SS_SQL_STMT_ENUM)
#undef SS_SQL_STMT_ENUM
        SS_SQL__COUNT
} ss_sql_stmt;

/* The SQL text of each statement; parameters are ?1, ?2, ... */
extern const char *const ss__sql_text[SS_SQL__COUNT];

/* ---- the connection an adapter supplies -------------------------------------- */

typedef struct ss_sql_conn ss_sql_conn;

typedef struct ss_sql_conn_methods {
    /* Runs one statement with its arguments, calling row() (may be NULL) for
     * each result row. Returns the first error, or row()'s. */
    ss_rc (*run)(ss_sql_conn *c, ss_sql_stmt stmt, const ss_sql_value *args, size_t n_args, ss_sql_row_fn row,
                 void *row_ctx);
    /* Runs body as one atomic intent: its writes are kept when it returns
     * SS_OK with *keep set, and are all rolled back otherwise (an error, or
     * nothing to keep). Returns body's result, or the error of keeping. */
    ss_rc (*intent)(ss_sql_conn *c, ss_rc (*body)(void *ctx, bool *keep), void *ctx);
    /* The database's own words for the last failure, for the log; may be
     * NULL (the method or its answer). */
    const char *(*last_error)(ss_sql_conn *c);
} ss_sql_conn_methods;

struct ss_sql_conn {
    const ss_sql_conn_methods *m;
};

/* ---- the engine ---------------------------------------------------------------- */

typedef struct ss_sql_lineage_hooks {
    /* Dependents of `parent` that are not rows of this database (optional). */
    ss_rc (*extra_dependents)(void *ctx, ss_slice parent, uint64_t *out);
    /* A purged `child` no longer depends on `parent` (optional); runs inside
     * the delete's intent, after the child's rows went. */
    ss_rc (*drop_edge)(void *ctx, ss_slice parent, ss_slice child);
    void *ctx;
} ss_sql_lineage_hooks;

/* Embedded first in an adapter's factory. */
typedef struct ss_sql_engine {
    ss_stream_factory base;
    ss_sql_conn *conn;
    ss_sql_lineage_hooks hooks;
    ss_lineage_store lineage;
    ss_lineage_policy policy;
    /* Storage errors (I/O, full, corrupt) are logged once per kind through
     * log (NULL: not logged). Corruption, once seen, stops every later write
     * (SS_CORRUPT) so that a damaged database is not written further. */
    ss_storage_log_fn log;
    void *log_ctx;
    unsigned logged; /* bit (1 << rc) per kind already logged */
    bool corrupt;
    /* What was read, kept in memory (cache.c): records and each stream's
     * messages up to its tail, by stream id. Filled only by reads outside
     * intents; every statement that writes a stream's rows drops its
     * entries; the adapter drops all of them when it rolls back more than
     * one intent (ss__sql_forget_all). This assumes nobody else writes the
     * tables: the adapters own their database (SQLite: the file lock; a
     * Durable Object: its own storage). */
    ss__map cached_records;  /* id -> record */
    ss__map cached_messages; /* id -> messages from an offset to the tail */
    size_t cached_message_bytes;
    unsigned intent_depth; /* intents running (ss__sql_intent_enter/leave) */
    /* The log layout (log.c): each stream's rows of streamsy_log not yet
     * packed, by stream id (id -> list of seqs), loaded lazily. */
    ss__map log_lists;
    bool log_loaded;
    bool log_touched; /* the running intent changed log_lists */
    int64_t log_head; /* the newest seq seen */
    unsigned log_since_cut;
} ss_sql_engine;

#define SS_SQL_CHUNK_MESSAGES 64               /* log rows packed at a time */
#define SS_SQL_CHUNK_BYTES ((size_t)256 << 10) /* data of one packed row at most (a Durable Object row: 2 MB) */
#define SS_SQL_LOG_WINDOW 65536                /* a stream's rows this far behind the newest are packed early */
#define SS_SQL_LOG_CUT_EVERY 1024              /* appends between cuts of the log's packed prefix */

#define SS_SQL_RECORD_CACHE_MAX 4096                     /* streams with a cached record, or messages */
#define SS_SQL_MESSAGE_CACHE_MAX ((size_t)32 << 20)      /* message bytes cached in all */
#define SS_SQL_MESSAGE_CACHE_ENTRY_MAX ((size_t)1 << 20) /* message bytes cached for one stream */

static inline ss_sql_engine *ss__sql_of(ss_stream_factory *f) { return (ss_sql_engine *)f; }

/* Sets up the engine part of an adapter's factory; hooks may be NULL. */
void ss__sql_engine_init(ss_sql_engine *e, const ss_stream_factory_methods *m, ss_sql_conn *conn,
                         const ss_sql_lineage_hooks *hooks);
/* Frees what the engine holds (the adapter's destroy calls it). */
void ss__sql_engine_release(ss_sql_engine *e);
/* Drops everything cached: the adapter rolled back writes of more than one
 * intent (a group-commit batch). */
void ss__sql_forget_all(ss_sql_engine *e);
/* An adapter running an intent of its own (not through the engine's slots)
 * brackets it with these, so that its reads do not fill the record cache. */
static inline void ss__sql_intent_enter(ss_sql_engine *e) { e->intent_depth++; }
static inline void ss__sql_intent_leave(ss_sql_engine *e) { e->intent_depth--; }

/* Factory slots. */
SS_MUST_USE ss_rc ss__sql_open(ss_stream_factory *f, ss_slice id, ss_storage_stream **out);
SS_MUST_USE ss_rc ss__sql_create(ss_stream_factory *f, const ss_create_plan *p, ss_arena *a,
                                 ss_create_outcome *out);
SS_MUST_USE ss_rc ss__sql_fork(ss_stream_factory *f, const ss_fork_plan *p, ss_arena *a, ss_create_outcome *out);
SS_MUST_USE ss_rc ss__sql_remove(ss_stream_factory *f, const ss_delete_plan *p, ss_delete_outcome *out);
SS_MUST_USE ss_rc ss__sql_for_each_expiry(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id, int64_t at_ms),
                                          void *ctx);

/* The caches (cache.c), for the engine's own files. */
void ss__sql_cache_init(ss_sql_engine *e);
void ss__sql_cache_release(ss_sql_engine *e);
/* Drops one stream's entries. */
void ss__sql_forget(ss_sql_engine *e, ss_slice id);
/* The cached record of `id`, or NULL; valid until the next engine call. */
const ss_record *ss__sql_cached_record(ss_sql_engine *e, ss_slice id);
/* Keeps a record just read (not inside an intent; best effort). */
void ss__sql_cache_record(ss_sql_engine *e, const ss_record *r);
/* One stream's cached messages (cache.c). */
typedef struct ss__sql_cached ss__sql_cached;
/* The entry when the cache holds every message of `id` after o->after (or
 * from the start) up to the tail; *out (sorted by offset) starts at or
 * before it, valid until the next engine call, or as long as an arena that
 * pins the entry (ss__sql_pin_cached). NULL when not cached. */
ss__sql_cached *ss__sql_cached_messages(ss_sql_engine *e, ss_slice id, const ss_list_opts *o,
                                        const ss_message **out, size_t *out_n);
/* The entry's message bytes in all. */
size_t ss__sql_cached_bytes(const ss__sql_cached *c);
/* Keeps the entry's bytes valid as long as `a`, even once the cache has let
 * go of them. */
SS_MUST_USE ss_rc ss__sql_pin_cached(ss__sql_cached *c, ss_arena *a);
/* Keeps every message of `id` after o->after (or from the start) up to the
 * tail, just read (not inside an intent; at most
 * SS_SQL_MESSAGE_CACHE_ENTRY_MAX bytes; best effort). */
void ss__sql_cache_messages(ss_sql_engine *e, ss_slice id, const ss_list_opts *o, const ss_message *msgs, size_t n,
                            size_t bytes);

/* The log layout (log.c). */
void ss__sql_log_init(ss_sql_engine *e);
void ss__sql_log_release(ss_sql_engine *e);
/* Drops the lists (the log's writes may have been rolled back). */
void ss__sql_log_forget(ss_sql_engine *e);
/* An intent ended; kept: its writes stay. Drops the lists when it changed
 * them and was rolled back. Every intent runner calls it. */
void ss__sql_log_settle(ss_sql_engine *e, bool kept);
/* Deletes a stream's log rows (ss__sql_purge). */
SS_MUST_USE ss_rc ss__sql_log_purge(ss_sql_engine *e, ss_slice id);
/* Columns (codec.c): an INTEGER (NULL reads as 0), an offset (NULL reads as
 * the empty offset); SS_CORRUPT for another type. */
SS_MUST_USE ss_rc ss__sql_col_int(const ss_sql_value *v, int64_t *out);
SS_MUST_USE ss_rc ss__sql_col_offset(const ss_sql_value *v, ss_offset *out);

/* Building blocks (codec.c, log.c), for adapters that add steps of their own. */
SS_MUST_USE ss_rc ss__sql_read_record(ss_sql_engine *e, ss_slice id, ss_arena *a, ss_record *out, bool *out_found);
SS_MUST_USE ss_rc ss__sql_insert_record(ss_sql_engine *e, const ss_record *r);
/* Stores the fields a patch or a soft delete can change. */
SS_MUST_USE ss_rc ss__sql_update_record(ss_sql_engine *e, const ss_record *r);
SS_MUST_USE ss_rc ss__sql_insert_messages(ss_sql_engine *e, ss_slice id, const ss_message *msgs, size_t n);
SS_MUST_USE ss_rc ss__sql_list_messages(ss_sql_engine *e, ss_slice id, const ss_list_opts *o, ss_arena *a,
                                        ss_message_batch *out);
SS_MUST_USE ss_rc ss__sql_read_producer(ss_sql_engine *e, ss_slice id, ss_slice producer_id, ss_producer *out,
                                        bool *out_found);
SS_MUST_USE ss_rc ss__sql_upsert_producer(ss_sql_engine *e, ss_slice id, ss_slice producer_id, ss_producer p);
/* Deletes a stream's messages, producers and record. */
SS_MUST_USE ss_rc ss__sql_purge(ss_sql_engine *e, ss_slice id);
/* Streams whose forked_from is `parent`, plus the hooks' extra dependents. */
SS_MUST_USE ss_rc ss__sql_count_dependents(ss_sql_engine *e, ss_slice parent, uint64_t *out);
/* A statement that returns no rows. */
SS_MUST_USE ss_rc ss__sql_exec(ss_sql_engine *e, ss_sql_stmt stmt, const ss_sql_value *args, size_t n);
/* Runs body as one atomic intent of the connection (see ss_sql_conn_methods). */
SS_MUST_USE ss_rc ss__sql_intent(ss_sql_engine *e, ss_rc (*body)(void *ctx, bool *keep), void *ctx);
/* The factory's document slots (version 3), over streamsy_documents. */
ss_rc ss__sql_doc_put(ss_stream_factory *f, ss_slice key, ss_slice value);
ss_rc ss__sql_doc_remove(ss_stream_factory *f, ss_slice key);
ss_rc ss__sql_doc_for_each(ss_stream_factory *f, ss_slice prefix,
                           void (*fn)(void *ctx, ss_slice key, ss_slice value), void *ctx);
ss_rc ss__sql_for_each_stream(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id), void *ctx);
/* Every statement goes through here: it notes storage errors (see log). */
SS_MUST_USE ss_rc ss__sql_run(ss_sql_engine *e, ss_sql_stmt stmt, const ss_sql_value *args, size_t n,
                              ss_sql_row_fn row, void *row_ctx);

#endif
