/* The fork lineage helpers (lineage.h) over a tiny fake lineage store:
 * cascade reclaim, plain purge, and the four dependents policies. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "streamsy/lineage.h"

/* ---- a fake lineage store: a few records and edges in small arrays ------- */

#define FAKE_MAX 8

typedef struct fake_stream {
    const char *id;
    const char *parent; /* forked_from; NULL = not a fork */
    bool present;
    bool soft_deleted;
} fake_stream;

typedef struct fake_edge {
    const char *parent;
    const char *child;
    bool present;
} fake_edge;

typedef struct fake_store {
    fake_stream streams[FAKE_MAX];
    size_t n_streams;
    fake_edge edges[FAKE_MAX];
    size_t n_edges;
    unsigned purges, soft_deletes, edge_adds, edge_drops;
    char purged[128];   /* purge order, "c,b,a" */
    bool purge_is_noop; /* a broken store: purge leaves the record behind */
    ss_rc fail_get;     /* returned by get_record when non-zero */
} fake_store;

static fake_stream *fake_find(fake_store *fs, ss_slice id) {
    for (size_t i = 0; i < fs->n_streams; i++)
        if (fs->streams[i].present && ss_slice_eq_cstr(id, fs->streams[i].id))
            return &fs->streams[i];
    return NULL;
}

static fake_edge *fake_find_edge(fake_store *fs, ss_slice parent, ss_slice child) {
    for (size_t i = 0; i < fs->n_edges; i++)
        if (ss_slice_eq_cstr(parent, fs->edges[i].parent) && ss_slice_eq_cstr(child, fs->edges[i].child))
            return &fs->edges[i];
    return NULL;
}

static bool has_edge(fake_store *fs, const char *parent, const char *child) {
    fake_edge *e = fake_find_edge(fs, ss_slice_cstr(parent), ss_slice_cstr(child));
    return e && e->present;
}

static bool has_stream(fake_store *fs, const char *id) { return fake_find(fs, ss_slice_cstr(id)) != NULL; }

static bool is_soft_deleted(fake_store *fs, const char *id) {
    fake_stream *s = fake_find(fs, ss_slice_cstr(id));
    cr_assert_not_null(s, "stream %s should exist", id);
    return s->soft_deleted;
}

static void fake_put_edge(fake_store *fs, const char *parent, const char *child) {
    fake_edge *e = fake_find_edge(fs, ss_slice_cstr(parent), ss_slice_cstr(child));
    if (!e) {
        cr_assert_lt(fs->n_edges, FAKE_MAX);
        e = &fs->edges[fs->n_edges++];
        e->parent = parent;
        e->child = child;
    }
    e->present = true;
}

/* Adds a stream; a fork also gets its parent -> child edge. */
static void fake_add(fake_store *fs, const char *id, const char *parent, bool soft_deleted) {
    cr_assert_lt(fs->n_streams, FAKE_MAX);
    fs->streams[fs->n_streams++] = (fake_stream){id, parent, true, soft_deleted};
    if (parent)
        fake_put_edge(fs, parent, id);
}

static ss_rc fake_get_record(void *ctx, ss_slice id, ss_arena *a, ss_record *out, bool *out_found) {
    fake_store *fs = ctx;
    if (fs->fail_get)
        return fs->fail_get;
    fake_stream *s = fake_find(fs, id);
    *out_found = s != NULL;
    if (!s)
        return SS_OK;
    memset(out, 0, sizeof *out);
    ss_rc rc = ss_arena_copy(a, ss_slice_cstr(s->id), &out->id);
    if (!rc && s->parent)
        rc = ss_arena_copy(a, ss_slice_cstr(s->parent), &out->forked_from);
    out->soft_deleted = s->soft_deleted;
    return rc;
}

static ss_rc fake_purge_self(void *ctx, ss_slice id) {
    fake_store *fs = ctx;
    fs->purges++;
    size_t used = strlen(fs->purged);
    snprintf(fs->purged + used, sizeof fs->purged - used, "%s%.*s", used ? "," : "", (int)id.len, id.p);
    fake_stream *s = fake_find(fs, id);
    if (s && !fs->purge_is_noop)
        s->present = false;
    return SS_OK;
}

static ss_rc fake_soft_delete(void *ctx, ss_slice id) {
    fake_store *fs = ctx;
    fs->soft_deletes++;
    fake_stream *s = fake_find(fs, id);
    if (s)
        s->soft_deleted = true;
    return SS_OK;
}

/* Edge ids are looked up among the stream ids so the edge keeps a stable string. */
static ss_rc fake_add_edge(void *ctx, ss_slice parent, ss_slice child) {
    fake_store *fs = ctx;
    fs->edge_adds++;
    fake_stream *p = fake_find(fs, parent), *c = fake_find(fs, child);
    cr_assert(p && c, "add_edge between known streams");
    fake_put_edge(fs, p->id, c->id);
    return SS_OK;
}

static ss_rc fake_drop_edge(void *ctx, ss_slice parent, ss_slice child) {
    fake_store *fs = ctx;
    fs->edge_drops++;
    fake_edge *e = fake_find_edge(fs, parent, child);
    if (e)
        e->present = false;
    return SS_OK;
}

static ss_rc fake_count_dependents(void *ctx, ss_slice parent, uint64_t *out) {
    fake_store *fs = ctx;
    uint64_t n = 0;
    for (size_t i = 0; i < fs->n_edges; i++)
        if (fs->edges[i].present && ss_slice_eq_cstr(parent, fs->edges[i].parent))
            n++;
    *out = n;
    return SS_OK;
}

static ss_lineage_store fake_lineage(fake_store *fs) {
    return (ss_lineage_store){
        .get_record = fake_get_record,
        .purge_self = fake_purge_self,
        .soft_delete = fake_soft_delete,
        .add_edge = fake_add_edge,
        .drop_edge = fake_drop_edge,
        .count_dependents = fake_count_dependents,
        .ctx = fs,
    };
}

static ss_delete_plan user_delete(const char *id) {
    return (ss_delete_plan){.id = ss_slice_cstr(id), .reason = SS_DELETE_USER};
}

static ss_delete_plan expiry_delete(const char *id) {
    return (ss_delete_plan){.id = ss_slice_cstr(id), .reason = SS_DELETE_EXPIRY};
}

/* cascade_reclaim with the ref-count policy over the fake store. */
static ss_delete_outcome reclaim(fake_store *fs, ss_delete_plan plan) {
    ss_lineage_store store = fake_lineage(fs);
    ss_lineage_policy policy;
    ss_lineage_ref_count(&store, &policy);
    ss_delete_outcome out;
    cr_assert_eq(ss_lineage_cascade_reclaim(&store, &plan, &policy, &out), SS_OK);
    return out;
}

static ss_delete_outcome reclaim_with(fake_store *fs, ss_delete_plan plan, const ss_lineage_policy *policy) {
    ss_lineage_store store = fake_lineage(fs);
    ss_delete_outcome out;
    cr_assert_eq(ss_lineage_cascade_reclaim(&store, &plan, policy, &out), SS_OK);
    return out;
}

/* ---- cascade reclaim ------------------------------------------------------ */

Test(lineage, deleting_a_stream_without_dependents_purges_it) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    cr_assert_eq(reclaim(&fs, user_delete("a")), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(has_stream(&fs, "a"));
    cr_assert_eq(fs.soft_deletes, 0);
}

Test(lineage, deleting_a_missing_stream_is_not_found) {
    fake_store fs = {0};
    cr_assert_eq(reclaim(&fs, user_delete("nope")), SS_DELETE_OUTCOME_NOT_FOUND);
    cr_assert_eq(fs.purges + fs.soft_deletes + fs.edge_drops, 0);
}

Test(lineage, deleting_a_stream_with_dependents_soft_deletes_it) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", "a", false);
    cr_assert_eq(reclaim(&fs, user_delete("a")), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert(is_soft_deleted(&fs, "a"));
    cr_assert_eq(fs.purges, 0);
    cr_assert(has_edge(&fs, "a", "b"));
}

Test(lineage, a_repeated_user_delete_of_a_soft_deleted_stream_is_gone) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", "a", false);
    cr_assert_eq(reclaim(&fs, user_delete("a")), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(reclaim(&fs, user_delete("a")), SS_DELETE_OUTCOME_GONE);
    cr_assert_eq(fs.soft_deletes, 1);
    cr_assert_eq(fs.purges, 0);
    cr_assert(has_stream(&fs, "a"));
}

Test(lineage, purging_a_leaf_cascades_through_three_soft_deleted_levels) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, true);
    fake_add(&fs, "b", "a", true);
    fake_add(&fs, "c", "b", true);
    fake_add(&fs, "d", "c", false);
    cr_assert_eq(reclaim(&fs, user_delete("d")), SS_DELETE_OUTCOME_PURGED);
    cr_assert_str_eq(fs.purged, "d,c,b,a");
    cr_assert_eq(fs.n_edges, 3);
    cr_assert_not(has_edge(&fs, "a", "b"));
    cr_assert_not(has_edge(&fs, "b", "c"));
    cr_assert_not(has_edge(&fs, "c", "d"));
    for (size_t i = 0; i < fs.n_streams; i++)
        cr_assert_not(fs.streams[i].present, "%s should be purged", fs.streams[i].id);
}

Test(lineage, the_cascade_stops_at_a_live_parent) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", "a", true);
    fake_add(&fs, "c", "b", false);
    cr_assert_eq(reclaim(&fs, user_delete("c")), SS_DELETE_OUTCOME_PURGED);
    cr_assert_str_eq(fs.purged, "c,b");
    cr_assert(has_stream(&fs, "a"));
    cr_assert_not(is_soft_deleted(&fs, "a"));
    cr_assert_not(has_edge(&fs, "a", "b"), "the edge to the purged parent is dropped");
}

Test(lineage, the_cascade_stops_at_a_parent_that_still_has_another_dependent) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, true);
    fake_add(&fs, "b", "a", false);
    fake_add(&fs, "x", "a", false);
    cr_assert_eq(reclaim(&fs, user_delete("b")), SS_DELETE_OUTCOME_PURGED);
    cr_assert_str_eq(fs.purged, "b");
    cr_assert(is_soft_deleted(&fs, "a"));
    cr_assert_not(has_edge(&fs, "a", "b"));
    cr_assert(has_edge(&fs, "a", "x"));
    /* The last dependent going away reclaims the parent. */
    cr_assert_eq(reclaim(&fs, user_delete("x")), SS_DELETE_OUTCOME_PURGED);
    cr_assert_str_eq(fs.purged, "b,x,a");
}

Test(lineage, the_cascade_stops_when_the_parent_is_already_missing) {
    fake_store fs = {0};
    fake_add(&fs, "c", "vanished", false);
    cr_assert_eq(reclaim(&fs, user_delete("c")), SS_DELETE_OUTCOME_PURGED);
    cr_assert_str_eq(fs.purged, "c");
    cr_assert_not(has_edge(&fs, "vanished", "c"));
}

Test(lineage, an_expiry_delete_of_a_soft_deleted_stream_without_dependents_purges_it) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, true);
    cr_assert_eq(reclaim(&fs, expiry_delete("a")), SS_DELETE_OUTCOME_PURGED);
    cr_assert_not(has_stream(&fs, "a"));
}

Test(lineage, an_expiry_delete_of_a_soft_deleted_stream_with_dependents_keeps_it_soft_deleted) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, true);
    fake_add(&fs, "b", "a", false);
    cr_assert_eq(reclaim(&fs, expiry_delete("a")), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert(is_soft_deleted(&fs, "a"));
    cr_assert_eq(fs.purges, 0);
}

Test(lineage, an_expiry_delete_of_a_live_stream_with_dependents_soft_deletes_it) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", "a", false);
    cr_assert_eq(reclaim(&fs, expiry_delete("a")), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert(is_soft_deleted(&fs, "a"));
}

Test(lineage, a_lineage_cycle_fails_as_corrupt_instead_of_walking_forever) {
    fake_store fs = {.purge_is_noop = true};
    fake_add(&fs, "a", "b", true);
    fake_add(&fs, "b", "a", true);
    for (size_t i = 0; i < fs.n_edges; i++)
        fs.edges[i].present = false; /* nothing depends on either */
    ss_lineage_store store = fake_lineage(&fs);
    ss_lineage_policy policy;
    ss_lineage_ref_count(&store, &policy);
    ss_delete_plan plan = expiry_delete("a");
    ss_delete_outcome out = SS_DELETE_OUTCOME_GONE;
    cr_assert_eq(ss_lineage_cascade_reclaim(&store, &plan, &policy, &out), SS_CORRUPT);
    cr_assert_eq(out, SS_DELETE_OUTCOME_GONE, "the outcome is untouched on failure");
}

Test(lineage, a_store_error_is_returned_and_leaves_the_outcome_untouched) {
    fake_store fs = {.fail_get = SS_IOERR};
    ss_lineage_store store = fake_lineage(&fs);
    ss_lineage_policy policy;
    ss_lineage_ref_count(&store, &policy);
    ss_delete_plan plan = user_delete("a");
    ss_delete_outcome out = SS_DELETE_OUTCOME_GONE;
    cr_assert_eq(ss_lineage_cascade_reclaim(&store, &plan, &policy, &out), SS_IOERR);
    cr_assert_eq(ss_lineage_plain_purge(&store, &plan, &out), SS_IOERR);
    cr_assert_eq(out, SS_DELETE_OUTCOME_GONE);
}

/* ---- plain purge ---------------------------------------------------------- */

Test(lineage, plain_purge_ignores_lineage_but_answers_not_found_and_gone) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", "a", false);
    fake_add(&fs, "s", NULL, true);
    ss_lineage_store store = fake_lineage(&fs);
    ss_delete_outcome out;
    ss_delete_plan plan = user_delete("missing");
    cr_assert_eq(ss_lineage_plain_purge(&store, &plan, &out), SS_OK);
    cr_assert_eq(out, SS_DELETE_OUTCOME_NOT_FOUND);
    plan = user_delete("s");
    cr_assert_eq(ss_lineage_plain_purge(&store, &plan, &out), SS_OK);
    cr_assert_eq(out, SS_DELETE_OUTCOME_GONE);
    plan = user_delete("a");
    cr_assert_eq(ss_lineage_plain_purge(&store, &plan, &out), SS_OK);
    cr_assert_eq(out, SS_DELETE_OUTCOME_PURGED, "a parent with a fork is purged all the same");
    cr_assert_str_eq(fs.purged, "a");
    plan = expiry_delete("s");
    cr_assert_eq(ss_lineage_plain_purge(&store, &plan, &out), SS_OK);
    cr_assert_eq(out, SS_DELETE_OUTCOME_PURGED, "an expiry delete reclaims a soft-deleted stream");
    cr_assert_eq(fs.edge_drops + fs.soft_deletes, 0);
}

/* ---- policies ------------------------------------------------------------- */

Test(lineage, ref_count_counts_and_edits_edges_through_the_store) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", NULL, false);
    ss_lineage_store store = fake_lineage(&fs);
    ss_lineage_policy policy;
    ss_lineage_ref_count(&store, &policy);
    cr_assert_eq(policy.ctx, &store, "the policy's ctx is the store itself");
    uint64_t n = 99;
    cr_assert_eq(policy.count_dependents(policy.ctx, ss_slice_cstr("a"), &n), SS_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(policy.add_edge(policy.ctx, ss_slice_cstr("a"), ss_slice_cstr("b")), SS_OK);
    cr_assert_eq(policy.add_edge(policy.ctx, ss_slice_cstr("a"), ss_slice_cstr("b")), SS_OK);
    cr_assert_eq(policy.count_dependents(policy.ctx, ss_slice_cstr("a"), &n), SS_OK);
    cr_assert_eq(n, 1, "edge writes are idempotent");
    cr_assert_eq(policy.drop_edge(policy.ctx, ss_slice_cstr("a"), ss_slice_cstr("b")), SS_OK);
    cr_assert_eq(policy.count_dependents(policy.ctx, ss_slice_cstr("a"), &n), SS_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(fs.edge_adds, 2);
    cr_assert_eq(fs.edge_drops, 1);
}

Test(lineage, ref_count_without_edge_slots_counts_zero_and_edits_nothing) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", "a", false);
    ss_lineage_store store = fake_lineage(&fs);
    store.add_edge = NULL;
    store.drop_edge = NULL;
    store.count_dependents = NULL;
    ss_lineage_policy policy;
    ss_lineage_ref_count(&store, &policy);
    uint64_t n = 99;
    cr_assert_eq(policy.count_dependents(policy.ctx, ss_slice_cstr("a"), &n), SS_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(policy.add_edge(policy.ctx, ss_slice_cstr("a"), ss_slice_cstr("b")), SS_OK);
    cr_assert_eq(policy.drop_edge(policy.ctx, ss_slice_cstr("a"), ss_slice_cstr("b")), SS_OK);
    cr_assert_eq(fs.edge_adds + fs.edge_drops, 0);
    cr_assert(has_edge(&fs, "a", "b"));
}

Test(lineage, ttl_only_never_purges) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    ss_lineage_policy policy;
    ss_lineage_ttl_only(&policy);
    uint64_t n = 0;
    cr_assert_eq(policy.count_dependents(policy.ctx, ss_slice_cstr("a"), &n), SS_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(reclaim_with(&fs, user_delete("a"), &policy), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(reclaim_with(&fs, expiry_delete("a"), &policy), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_eq(reclaim_with(&fs, user_delete("a"), &policy), SS_DELETE_OUTCOME_GONE);
    cr_assert_eq(fs.purges, 0);
    cr_assert(is_soft_deleted(&fs, "a"));
}

Test(lineage, copy_on_fork_always_purges_and_keeps_no_edges) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", "a", false);
    ss_lineage_policy policy;
    ss_lineage_copy_on_fork(&policy);
    cr_assert_eq(policy.add_edge(policy.ctx, ss_slice_cstr("b"), ss_slice_cstr("a")), SS_OK);
    cr_assert_eq(reclaim_with(&fs, user_delete("a"), &policy), SS_DELETE_OUTCOME_PURGED,
                 "a parent with a fork is purged");
    cr_assert_not(has_stream(&fs, "a"));
    cr_assert(has_stream(&fs, "b"));
    cr_assert_eq(fs.edge_adds + fs.edge_drops, 0, "the policy never touches the store's edges");
}

typedef struct query_ctx {
    uint64_t answer;
    unsigned calls;
    char last_parent[16];
} query_ctx;

static ss_rc query_dependents(void *ctx, ss_slice parent, uint64_t *out) {
    query_ctx *q = ctx;
    q->calls++;
    snprintf(q->last_parent, sizeof q->last_parent, "%.*s", (int)parent.len, parent.p);
    *out = q->answer;
    return SS_OK;
}

Test(lineage, reverse_index_counts_from_the_query_and_ignores_edge_edits) {
    fake_store fs = {0};
    fake_add(&fs, "a", NULL, false);
    fake_add(&fs, "b", NULL, false);
    query_ctx q = {.answer = 2};
    ss_lineage_policy policy;
    ss_lineage_reverse_index(query_dependents, &q, &policy);
    cr_assert_eq(policy.add_edge(policy.ctx, ss_slice_cstr("a"), ss_slice_cstr("b")), SS_OK);
    cr_assert_eq(policy.drop_edge(policy.ctx, ss_slice_cstr("a"), ss_slice_cstr("b")), SS_OK);
    cr_assert_eq(q.calls, 0, "edge edits do not query");
    cr_assert_eq(reclaim_with(&fs, user_delete("a"), &policy), SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED);
    cr_assert_str_eq(q.last_parent, "a");
    q.answer = 0;
    cr_assert_eq(reclaim_with(&fs, user_delete("b"), &policy), SS_DELETE_OUTCOME_PURGED);
    cr_assert_str_eq(q.last_parent, "b");
    cr_assert_eq(fs.edge_adds + fs.edge_drops, 0);
}
