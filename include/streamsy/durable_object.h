/* The Durable Object storage factory: streams in a Cloudflare Durable
 * Object's SQLite storage, reached through a host (the workerd shim's
 * ctx.storage.sql, or any SQL host with the same rules).
 *
 * It is the SQL engine of the SQLite adapter (the same schema, statements and
 * commit rules) over ss_do_host: every commit, create, fork and delete runs
 * inside one host transaction (ctx.storage.transactionSync), so a failure
 * mid-plan rolls the whole plan back. There is no group commit (no flush
 * slot): a Durable Object makes a transaction durable before the response
 * that follows it leaves (its output gate). Expiry uses the protocol's
 * in-process timers; the Durable Object front end maps their earliest
 * deadline to the object's alarm.
 *
 * One stream per object in production: the object named by a stream's id
 * holds that stream. A fork's source lives in another object, so forks copy
 * the inherited prefix at fork time (docs/durable-object.md):
 *
 *   source object:  ss_do_fork_export(source, child)  -> snapshot bytes
 *                   (checks the source and records the child as a dependent
 *                   of it, atomically: a source with dependents is only
 *                   soft-deleted, 410, until its last fork goes)
 *   child object:   ss_do_fork_import(snapshot)       stores the source chain
 *                   as read-only mirror streams; then the fork PUT runs as a
 *                   local fork of the mirror, and reads stitch locally
 *   child purged:   the edge drop to the source is queued in an outbox in
 *                   the same transaction (ss_do_outbox_next/_done); the
 *                   front end delivers it (ss_do_drop_child on the source),
 *                   which may purge a soft-deleted source and queue the next
 *                   drop up the chain. Every step is idempotent, so redelivery
 *                   converges.
 *
 * The same factory also holds many streams in one database (tests, the
 * storage contract suite): then forks between its own streams are local. */
#ifndef STREAMSY_DURABLE_OBJECT_H
#define STREAMSY_DURABLE_OBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"
#include "sql_host.h"
#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A snapshot larger than this is refused (SS_TOOBIG): a fork copies its
 * source's chain through one call between objects. */
#define SS_DO_SNAPSHOT_MAX_BYTES (16u << 20)

/* What the factory needs from the Durable Object. Calls are synchronous. */
typedef struct ss_do_host {
    /* ctx.storage.sql.exec(sql, ...args): runs the statement(s) in `sql`
     * (several, separated by ';', only for the schema), calling row() for
     * each result row of the last one. Integers beyond +-2^53 must be refused
     * (SS_BADARG), never rounded. */
    ss_rc (*exec)(void *ctx, const char *sql, const ss_sql_value *args, size_t n_args, ss_sql_row_fn row,
                  void *row_ctx);
    /* ctx.storage.transactionSync(body): commits when body returns SS_OK,
     * rolls everything back otherwise and returns body's result; returns
     * the error of committing if that fails. */
    ss_rc (*transaction)(void *ctx, ss_rc (*body)(void *body_ctx), void *body_ctx);
    void *ctx;
} ss_do_host;

/* Creates the schema when missing (a version table, no PRAGMA). The host is
 * copied. Free with ss_storage_factory_free(). */
SS_MUST_USE ss_rc ss_do_factory_open(const ss_do_host *host, ss_stream_factory **out);

/* ---- forks across objects ------------------------------------------------------- */

typedef enum ss_do_export_status {
    SS_DO_EXPORTED,
    SS_DO_EXPORT_NOT_FOUND,    /* no stream `source` here; `out` is untouched */
    SS_DO_EXPORT_SOFT_DELETED, /* deleted while forks still read it: no new forks;
                                  `out` gets the record alone, so the fork's object
                                  refuses the fork exactly as this one would */
} ss_do_export_status;

/* Source side: records `child` as a dependent of `source` and writes the
 * snapshot of `source` (record and messages, then its ancestors' mirrors,
 * each up to the offset its descendant forked at) into `out`, in one
 * transaction. Nothing is recorded when the status is not EXPORTED or on
 * error (SS_TOOBIG past SS_DO_SNAPSHOT_MAX_BYTES). Lazy expiry is the
 * caller's: look the source up through the protocol first. Import what
 * `out` holds either way. */
SS_MUST_USE ss_rc ss_do_fork_export(ss_stream_factory *f, ss_slice source, ss_slice child, ss_buf *out,
                                    ss_do_export_status *status);

/* Child side: stores every stream of the snapshot as a mirror (read-only, no
 * expiry of its own). A mirror already here from the same incarnation of its
 * stream is kept. SS_CORRUPT for a malformed snapshot; SS_MISUSE when a
 * snapshot stream has the id of a stream of this object. */
SS_MUST_USE ss_rc ss_do_fork_import(ss_stream_factory *f, ss_slice snapshot);

/* Deletes every mirror no stream here forks from (directly or through other
 * mirrors). Run after a fork request, whatever its outcome. */
SS_MUST_USE ss_rc ss_do_gc_mirrors(ss_stream_factory *f);

/* True when stream `id` exists here and forks from `source`. */
SS_MUST_USE ss_rc ss_do_is_fork_of(ss_stream_factory *f, ss_slice id, ss_slice source, bool *out);

/* Source side of an edge drop: `child` no longer depends on `parent`. When
 * `parent` is soft-deleted and this was its last dependent it is purged (and
 * its own drop queued, if it forks from a mirror). Idempotent. */
SS_MUST_USE ss_rc ss_do_drop_child(ss_stream_factory *f, ss_slice parent, ss_slice child, bool *out_purged);

/* ---- the outbox: edge drops to deliver to other objects --------------------------- */

typedef struct ss_do_outbox_entry {
    int64_t seq;
    ss_slice parent; /* deliver ss_do_drop_child(parent, child) to parent's object */
    ss_slice child;
} ss_do_outbox_entry;

/* Queues an edge drop (the compensation of an export whose fork was not
 * created: ss_do_is_fork_of said no). */
SS_MUST_USE ss_rc ss_do_outbox_add(ss_stream_factory *f, ss_slice parent, ss_slice child);
/* The oldest undelivered entry (strings in `a`); *found false when empty.
 * Deliver entries in order, and drain this object's outbox before asking a
 * source's object for a new export: an old drop of the same edge must never
 * arrive after the new edge. */
SS_MUST_USE ss_rc ss_do_outbox_next(ss_stream_factory *f, ss_arena *a, ss_do_outbox_entry *out, bool *found);
/* The entry was delivered. */
SS_MUST_USE ss_rc ss_do_outbox_done(ss_stream_factory *f, int64_t seq);

#ifdef __cplusplus
}
#endif

#endif
