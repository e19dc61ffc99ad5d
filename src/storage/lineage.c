/* Fork lineage helpers: the delete executors (cascade reclaim, plain purge)
 * and the dependents policies (ref-count, reverse index, copy-on-fork,
 * TTL-only). See STREAMSY.md §12.
 *
 * A delete is a saga: every step here (soft delete, purge, edge drop) is
 * idempotent, so a retry or a later delete converges a half-done cascade.
 * Records read from the store live in a local arena released before return. */
#include <stddef.h>

#include "streamsy/lineage.h"

/* An ancestor chain longer than this is taken as a cycle in stored lineage
 * (a store whose purge does not remove the record would otherwise spin). */
#define LINEAGE_MAX_DEPTH 10000

/* ---- policy plumbing ------------------------------------------------------ */

static ss_rc policy_count(const ss_lineage_policy *p, ss_slice parent, uint64_t *out) {
    *out = 0;
    return p->count_dependents ? p->count_dependents(p->ctx, parent, out) : SS_OK;
}

static ss_rc policy_drop_edge(const ss_lineage_policy *p, ss_slice parent, ss_slice child) {
    return p->drop_edge ? p->drop_edge(p->ctx, parent, child) : SS_OK;
}

/* Reads `id`; the record's strings live in `a`. */
static ss_rc read_record(const ss_lineage_store *store, ss_slice id, ss_arena *a, ss_record *out,
                         bool *out_found) {
    *out_found = false;
    return store->get_record(store->ctx, id, a, out, out_found);
}

/* ---- executors ------------------------------------------------------------ */

/* Walks up from a purged `child` whose parent is `parent`: drops the edge,
 * and purges each soft-deleted ancestor left without dependents. */
static ss_rc reclaim_ancestors(const ss_lineage_store *store, const ss_lineage_policy *policy, ss_arena *a,
                               ss_slice child, ss_slice parent) {
    for (unsigned depth = 0; parent.len; depth++) {
        if (depth >= LINEAGE_MAX_DEPTH)
            return SS_CORRUPT;
        ss_rc rc = policy_drop_edge(policy, parent, child);
        if (rc)
            return rc;
        ss_record rec;
        bool found;
        if ((rc = read_record(store, parent, a, &rec, &found)))
            return rc;
        if (!found || !rec.soft_deleted)
            return SS_OK;
        uint64_t dependents;
        if ((rc = policy_count(policy, parent, &dependents)))
            return rc;
        if (dependents > 0)
            return SS_OK;
        if ((rc = store->purge_self(store->ctx, parent)))
            return rc;
        child = rec.id;
        parent = rec.forked_from;
    }
    return SS_OK;
}

/* The start every executor shares: reads the stream and decides the
 * outcomes that need no policy. True when the delete goes on (*rec read,
 * strings in `a`); false with *outcome (not-found, or gone for a user
 * delete of a soft-deleted stream) or *rc set. An expiry delete of a
 * soft-deleted stream goes on, so one whose dependents went away is
 * reclaimed. */
static bool deletable(const ss_lineage_store *store, const ss_delete_plan *plan, ss_arena *a, ss_record *rec,
                      ss_delete_outcome *outcome, ss_rc *rc) {
    bool found;
    *outcome = SS_DELETE_OUTCOME_NOT_FOUND;
    if ((*rc = read_record(store, plan->id, a, rec, &found)) || !found)
        return false;
    if (rec->soft_deleted && plan->reason == SS_DELETE_USER) {
        *outcome = SS_DELETE_OUTCOME_GONE;
        return false;
    }
    return true;
}

ss_rc ss_lineage_cascade_reclaim(const ss_lineage_store *store, const ss_delete_plan *plan,
                                 const ss_lineage_policy *policy, ss_delete_outcome *out) {
    ss_arena a;
    ss_arena_init(&a);
    ss_delete_outcome outcome;
    ss_record rec;
    ss_rc rc;
    if (!deletable(store, plan, &a, &rec, &outcome, &rc))
        goto done;
    uint64_t dependents;
    if ((rc = policy_count(policy, plan->id, &dependents)))
        goto done;
    if (dependents > 0) {
        rc = store->soft_delete(store->ctx, plan->id);
        outcome = SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED;
        goto done;
    }
    if ((rc = store->purge_self(store->ctx, plan->id)))
        goto done;
    rc = reclaim_ancestors(store, policy, &a, rec.id, rec.forked_from);
    outcome = SS_DELETE_OUTCOME_PURGED;
done:
    if (!rc)
        *out = outcome;
    ss_arena_release(&a);
    return rc;
}

ss_rc ss_lineage_plain_purge(const ss_lineage_store *store, const ss_delete_plan *plan, ss_delete_outcome *out) {
    ss_arena a;
    ss_arena_init(&a);
    ss_delete_outcome outcome;
    ss_record rec;
    ss_rc rc;
    if (deletable(store, plan, &a, &rec, &outcome, &rc)) {
        rc = store->purge_self(store->ctx, plan->id);
        outcome = SS_DELETE_OUTCOME_PURGED;
    }
    if (!rc)
        *out = outcome;
    ss_arena_release(&a);
    return rc;
}

/* ---- policies ------------------------------------------------------------- */

static ss_rc edge_noop(void *ctx, ss_slice parent, ss_slice child) {
    (void)ctx, (void)parent, (void)child;
    return SS_OK;
}

/* ref_count: ctx is the ss_lineage_store itself. */
static ss_rc ref_count_count(void *ctx, ss_slice parent, uint64_t *out) {
    const ss_lineage_store *store = ctx;
    *out = 0;
    return store->count_dependents ? store->count_dependents(store->ctx, parent, out) : SS_OK;
}

static ss_rc ref_count_add_edge(void *ctx, ss_slice parent, ss_slice child) {
    const ss_lineage_store *store = ctx;
    return store->add_edge ? store->add_edge(store->ctx, parent, child) : SS_OK;
}

static ss_rc ref_count_drop_edge(void *ctx, ss_slice parent, ss_slice child) {
    const ss_lineage_store *store = ctx;
    return store->drop_edge ? store->drop_edge(store->ctx, parent, child) : SS_OK;
}

void ss_lineage_ref_count(const ss_lineage_store *store, ss_lineage_policy *out) {
    *out = (ss_lineage_policy){
        .count_dependents = ref_count_count,
        .add_edge = ref_count_add_edge,
        .drop_edge = ref_count_drop_edge,
        .ctx = (void *)store, /* read only; the slots take a plain void * */
    };
}

void ss_lineage_reverse_index(ss_rc (*query)(void *ctx, ss_slice parent, uint64_t *out), void *ctx,
                              ss_lineage_policy *out) {
    *out = (ss_lineage_policy){
        .count_dependents = query,
        .add_edge = edge_noop,
        .drop_edge = edge_noop,
        .ctx = ctx,
    };
}

static ss_rc count_zero(void *ctx, ss_slice parent, uint64_t *out) {
    (void)ctx, (void)parent;
    *out = 0;
    return SS_OK;
}

static ss_rc count_one(void *ctx, ss_slice parent, uint64_t *out) {
    (void)ctx, (void)parent;
    *out = 1;
    return SS_OK;
}

void ss_lineage_copy_on_fork(ss_lineage_policy *out) {
    *out = (ss_lineage_policy){count_zero, edge_noop, edge_noop, NULL};
}

void ss_lineage_ttl_only(ss_lineage_policy *out) {
    *out = (ss_lineage_policy){count_one, edge_noop, edge_noop, NULL};
}
