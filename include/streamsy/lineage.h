/* Fork lineage helpers for adapter authors: delete executors and policies.
 *
 * A delete is a saga over several streams. cascade_reclaim soft-deletes a
 * stream that still has dependents (forks reading through it), otherwise
 * purges it and walks up its ancestors, purging each soft-deleted ancestor
 * whose last dependent just went away. Every step is idempotent, so a retry
 * or a later delete converges a half-done cascade. */
#ifndef STREAMSY_LINEAGE_H
#define STREAMSY_LINEAGE_H

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the executors need from an adapter. Optional slots may be NULL. */
typedef struct ss_lineage_store {
    ss_rc (*get_record)(void *ctx, ss_slice id, ss_arena *a, ss_record *out, bool *out_found);
    ss_rc (*purge_self)(void *ctx, ss_slice id); /* record, messages, producers */
    ss_rc (*soft_delete)(void *ctx, ss_slice id);
    ss_rc (*add_edge)(void *ctx, ss_slice parent, ss_slice child);        /* optional */
    ss_rc (*drop_edge)(void *ctx, ss_slice parent, ss_slice child);       /* optional */
    ss_rc (*count_dependents)(void *ctx, ss_slice parent, uint64_t *out); /* optional */
    void *ctx;
} ss_lineage_store;

/* How dependents are counted and edges kept. */
typedef struct ss_lineage_policy {
    ss_rc (*count_dependents)(void *ctx, ss_slice parent, uint64_t *out);
    ss_rc (*add_edge)(void *ctx, ss_slice parent, ss_slice child);
    ss_rc (*drop_edge)(void *ctx, ss_slice parent, ss_slice child);
    void *ctx;
} ss_lineage_policy;

/* not-found for a missing stream; gone for a user delete of a soft-deleted
 * one; retained-soft-deleted while dependents exist; else purged (and the
 * ancestors cascade). */
SS_MUST_USE ss_rc ss_lineage_cascade_reclaim(const ss_lineage_store *store, const ss_delete_plan *plan,
                                             const ss_lineage_policy *policy, ss_delete_outcome *out);
/* Ignores lineage: not-found, gone, or purged. */
SS_MUST_USE ss_rc ss_lineage_plain_purge(const ss_lineage_store *store, const ss_delete_plan *plan,
                                         ss_delete_outcome *out);

/* Counts and edits edges through the store's optional edge slots (count 0 and
 * no edits without them). `store` must outlive the policy. */
void ss_lineage_ref_count(const ss_lineage_store *store, ss_lineage_policy *out);
/* Count comes from a query (e.g. rows with forked_from = parent); edges are
 * derived, so edge edits do nothing. */
void ss_lineage_reverse_index(ss_rc (*query)(void *ctx, ss_slice parent, uint64_t *out), void *ctx,
                              ss_lineage_policy *out);
/* Always 0 dependents: for backends whose forks are full copies. */
void ss_lineage_copy_on_fork(ss_lineage_policy *out);
/* Always 1 dependent: deletes only soft-delete; reclaim is left to TTL. */
void ss_lineage_ttl_only(ss_lineage_policy *out);

#ifdef __cplusplus
}
#endif

#endif
