/* Forks across objects: dependents held elsewhere, mirrors of fork sources,
 * the outbox of edge drops, and the export / import / drop steps of the
 * saga described in streamsy/durable_object.h. Every step is one host
 * transaction and idempotent. */
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "do_internal.h"
#include "streamsy/alloc.h"

/* Mirrors collected away per pass; a chain deeper than this many passes is
 * taken as a cycle in stored lineage. */
#define GC_MAX_PASSES 10000

static ss_rc count_of(do_factory *f, const char *sql, ss_slice a, uint64_t *out) {
    ss_sql_value v = ss_sql_text(a);
    int64_t n;
    ss_rc rc = ss__do_query_int(f, sql, &v, 1, &n);
    if (!rc)
        *out = (uint64_t)n;
    return rc;
}

ss_rc ss__do_extra_dependents(void *ctx, ss_slice parent, uint64_t *out) {
    return count_of(ctx, "SELECT count(*) FROM streamsy_do_children WHERE parent_id = ?1", parent, out);
}

static ss_rc is_mirror(do_factory *f, ss_slice id, bool *out) {
    uint64_t n;
    ss_rc rc = count_of(f, "SELECT count(*) FROM streamsy_do_mirrors WHERE stream_id = ?1", id, &n);
    if (!rc)
        *out = n > 0;
    return rc;
}

/* ---- mirrors ------------------------------------------------------------------------- */

typedef struct id_list {
    ss_arena a;
    ss_slice *v;
    size_t n, cap;
} id_list;

static ss_rc collect_id(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    (void)stop;
    id_list *l = ctx;
    if (n < 1 || c[0].type != SS_SQL_TEXT)
        return SS_CORRUPT;
    if (ss__grow(&l->v, &l->cap, l->n, sizeof *l->v, 8))
        return SS_NOMEM;
    ss_rc rc = ss_arena_copy(&l->a, c[0].s, &l->v[l->n]);
    if (!rc)
        l->n++;
    return rc;
}

static ss_rc drop_mirror(do_factory *f, ss_slice id) {
    ss_rc rc = ss__sql_purge(&f->engine, id);
    ss_sql_value v = ss_sql_text(id);
    if (!rc)
        rc = ss__do_exec(f, "DELETE FROM streamsy_do_mirrors WHERE stream_id = ?1", &v, 1, NULL, NULL);
    return rc;
}

/* Drops mirrors no stream forks from, pass by pass up the chains. */
static ss_rc gc_mirrors(do_factory *f) {
    for (int pass = 0; pass < GC_MAX_PASSES; pass++) {
        id_list l = {0};
        ss_arena_init(&l.a);
        ss_rc rc = ss__do_exec(f,
                               "SELECT m.stream_id FROM streamsy_do_mirrors m WHERE NOT EXISTS "
                               "(SELECT 1 FROM streamsy_streams s WHERE s.forked_from = m.stream_id)",
                               NULL, 0, collect_id, &l);
        size_t n = l.n;
        for (size_t i = 0; !rc && i < n; i++)
            rc = drop_mirror(f, l.v[i]);
        ss_free(l.v);
        ss_arena_release(&l.a);
        if (rc || n == 0)
            return rc;
    }
    return SS_CORRUPT;
}

static ss_rc gc_body(void *ctx, bool *keep) {
    *keep = true;
    return gc_mirrors(ctx);
}

ss_rc ss_do_gc_mirrors(ss_stream_factory *f) { return ss__do_intent(do_of(f), gc_body, do_of(f)); }

/* A purged stream forked from `parent`: when parent mirrors a stream of
 * another object, queue the drop of the edge there (in this transaction) and
 * let the mirrors nobody reads any more go. */
ss_rc ss__do_drop_edge(void *ctx, ss_slice parent, ss_slice child) {
    do_factory *f = ctx;
    bool mirror = false;
    ss_rc rc = is_mirror(f, parent, &mirror);
    if (rc || !mirror)
        return rc;
    if ((rc = ss_do_outbox_add(&f->engine.base, parent, child)))
        return rc;
    return gc_mirrors(f);
}

/* ---- export (source side) --------------------------------------------------------------- */

typedef struct export_job {
    do_factory *f;
    ss_slice source, child;
    ss_buf *out;
    ss_do_export_status status;
} export_job;

/* Every message of `id` up to `cap` (all when NULL), into `a`. */
static ss_rc all_messages(do_factory *f, ss_slice id, const ss_offset *cap, ss_arena *a, ss_message **out,
                          size_t *out_n) {
    ss_message *v = NULL;
    size_t n = 0, vcap = 0;
    ss_list_opts lo = {.max_bytes = 1u << 20};
    if (cap) {
        lo.has_until = true;
        lo.until = *cap;
    }
    ss_rc rc;
    for (;;) {
        ss_message_batch b;
        if ((rc = ss__sql_list_messages(&f->engine, id, &lo, a, &b)))
            break;
        for (size_t i = 0; i < b.n; i++) {
            if (ss__grow(&v, &vcap, n, sizeof *v, 64)) {
                rc = SS_NOMEM;
                goto done;
            }
            v[n++] = b.msgs[i];
        }
        if (!b.more || !b.n)
            break;
        lo.has_after = true;
        lo.after = b.msgs[b.n - 1].offset;
    }
done:
    if (!rc && n) {
        *out = ss_arena_alloc(a, n * sizeof *v);
        if (*out)
            memcpy(*out, v, n * sizeof *v);
        else
            rc = SS_NOMEM;
    }
    *out_n = rc ? 0 : n;
    ss_free(v);
    return rc;
}

static ss_rc export_body(void *ctx, bool *keep) {
    export_job *j = ctx;
    ss_arena a;
    ss_arena_init(&a);
    ss_record rec;
    bool found;
    ss_rc rc = ss__sql_read_record(&j->f->engine, j->source, &a, &rec, &found);
    if (rc || !found) {
        j->status = SS_DO_EXPORT_NOT_FOUND;
        goto done;
    }
    if ((rc = ss__do_snap_begin(j->out)))
        goto done;
    if (rec.soft_deleted) { /* the record alone, so the fork is refused as it would be here */
        j->status = SS_DO_EXPORT_SOFT_DELETED;
        if (!(rc = ss__do_snap_put_stream(j->out, &rec, NULL, 0)))
            ss__do_snap_finish(j->out, 1);
        goto done;
    }
    /* The source, then each ancestor up to the offset its descendant forked at. */
    uint32_t n_streams = 0;
    ss_offset cap;
    bool capped = false;
    for (;;) {
        ss_message *msgs = NULL;
        size_t n = 0;
        if ((rc = all_messages(j->f, rec.id, capped ? &cap : NULL, &a, &msgs, &n)) ||
            (rc = ss__do_snap_put_stream(j->out, &rec, msgs, n)))
            goto done;
        n_streams++;
        if (!rec.forked_from.len)
            break;
        cap = rec.fork_offset;
        capped = true;
        ss_record parent;
        if ((rc = ss__sql_read_record(&j->f->engine, rec.forked_from, &a, &parent, &found)))
            goto done;
        if (!found) /* a purged ancestor contributes nothing */
            break;
        rec = parent;
    }
    ss__do_snap_finish(j->out, n_streams);
    ss_sql_value v[] = {ss_sql_text(j->source), ss_sql_text(j->child)};
    rc = ss__do_exec(j->f,
                     "INSERT INTO streamsy_do_children (parent_id, child_id) VALUES (?1, ?2) "
                     "ON CONFLICT (parent_id, child_id) DO NOTHING",
                     v, 2, NULL, NULL);
    j->status = SS_DO_EXPORTED;
    *keep = !rc;
done:
    ss_arena_release(&a);
    return rc;
}

ss_rc ss_do_fork_export(ss_stream_factory *f, ss_slice source, ss_slice child, ss_buf *out,
                        ss_do_export_status *status) {
    ss_buf snap;
    ss_buf_init(&snap, SS_DO_SNAPSHOT_MAX_BYTES);
    export_job j = {.f = do_of(f), .source = source, .child = child, .out = &snap};
    ss_rc rc = ss__do_intent(j.f, export_body, &j);
    if (!rc)
        rc = ss_buf_append_slice(out, ss_buf_slice(&snap));
    if (!rc)
        *status = j.status;
    ss_buf_release(&snap);
    return rc;
}

/* ---- import (child side) ------------------------------------------------------------------ */

typedef struct import_job {
    do_factory *f;
    ss__do_snap_stream *streams;
    size_t n;
} import_job;

static ss_rc import_stream(do_factory *f, const ss__do_snap_stream *s) {
    ss_arena a;
    ss_arena_init(&a);
    ss_record cur;
    bool found, mirror = false;
    ss_rc rc = ss__sql_read_record(&f->engine, s->record.id, &a, &cur, &found);
    if (!rc && found)
        rc = is_mirror(f, s->record.id, &mirror);
    if (rc || (found && mirror && cur.created_ms == s->record.created_ms))
        goto done; /* the same incarnation is here already: its prefix cannot have changed */
    if (found && !mirror) {
        rc = SS_MISUSE; /* a stream of this object, not a copy */
        goto done;
    }
    if (found && (rc = drop_mirror(f, s->record.id)))
        goto done;
    /* A mirror is a read-only copy: it never expires here (a soft-deleted
     * one only lets this object refuse the fork as the source would). */
    ss_record r = s->record;
    r.has_expires_at_ms = false;
    r.expires_at_ms = 0;
    ss_sql_value v = ss_sql_text(r.id);
    if ((rc = ss__sql_insert_record(&f->engine, &r)) ||
        (rc = ss__sql_insert_messages(&f->engine, r.id, s->msgs, s->n_msgs)))
        goto done;
    rc = ss__do_exec(f, "INSERT INTO streamsy_do_mirrors (stream_id) VALUES (?1)", &v, 1, NULL, NULL);
done:
    ss_arena_release(&a);
    return rc;
}

static ss_rc import_body(void *ctx, bool *keep) {
    import_job *j = ctx;
    ss_rc rc = SS_OK;
    for (size_t i = 0; !rc && i < j->n; i++)
        rc = import_stream(j->f, &j->streams[i]);
    *keep = !rc;
    return rc;
}

ss_rc ss_do_fork_import(ss_stream_factory *f, ss_slice snapshot) {
    ss_arena a;
    ss_arena_init(&a);
    import_job j = {.f = do_of(f)};
    ss_rc rc = ss__do_snap_read(snapshot, &a, &j.streams, &j.n);
    if (!rc)
        rc = ss__do_intent(j.f, import_body, &j);
    ss_arena_release(&a);
    return rc;
}

ss_rc ss_do_is_fork_of(ss_stream_factory *f, ss_slice id, ss_slice source, bool *out) {
    ss_arena a;
    ss_arena_init(&a);
    ss_record r;
    bool found;
    ss_rc rc = ss__sql_read_record(&do_of(f)->engine, id, &a, &r, &found);
    if (!rc)
        *out = found && ss_slice_eq(r.forked_from, source);
    ss_arena_release(&a);
    return rc;
}

/* ---- edge drops (source side) --------------------------------------------------------------- */

typedef struct drop_job {
    do_factory *f;
    ss_slice parent, child;
    bool purged;
} drop_job;

static ss_rc drop_body(void *ctx, bool *keep) {
    drop_job *j = ctx;
    ss_sql_value v[] = {ss_sql_text(j->parent), ss_sql_text(j->child)};
    ss_rc rc = ss__do_exec(j->f, "DELETE FROM streamsy_do_children WHERE parent_id = ?1 AND child_id = ?2", v, 2,
                           NULL, NULL);
    if (rc)
        return rc;
    *keep = true;
    /* An expiry-style delete re-runs the policy: a soft-deleted parent left
     * without dependents is purged, and the cascade walks up. */
    ss_arena a;
    ss_arena_init(&a);
    ss_record r;
    bool found;
    if (!(rc = ss__sql_read_record(&j->f->engine, j->parent, &a, &r, &found)) && found && r.soft_deleted) {
        ss_delete_plan plan = {.id = j->parent, .reason = SS_DELETE_EXPIRY};
        ss_delete_outcome o;
        rc = ss_lineage_cascade_reclaim(&j->f->engine.lineage, &plan, &j->f->engine.policy, &o);
        j->purged = !rc && o == SS_DELETE_OUTCOME_PURGED;
    }
    ss_arena_release(&a);
    return rc;
}

ss_rc ss_do_drop_child(ss_stream_factory *f, ss_slice parent, ss_slice child, bool *out_purged) {
    drop_job j = {.f = do_of(f), .parent = parent, .child = child};
    ss_rc rc = ss__do_intent(j.f, drop_body, &j);
    if (!rc && out_purged)
        *out_purged = j.purged;
    return rc;
}

/* ---- the outbox ------------------------------------------------------------------------------- */

typedef struct outbox_row {
    ss_arena *a;
    ss_do_outbox_entry *out;
    bool found;
} outbox_row;

static ss_rc decode_outbox(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    outbox_row *r = ctx;
    *stop = true;
    if (n != 3 || c[0].type != SS_SQL_INT || c[1].type != SS_SQL_TEXT || c[2].type != SS_SQL_TEXT)
        return SS_CORRUPT;
    r->out->seq = c[0].i;
    ss_rc rc = ss_arena_copy(r->a, c[1].s, &r->out->parent);
    if (!rc)
        rc = ss_arena_copy(r->a, c[2].s, &r->out->child);
    r->found = !rc;
    return rc;
}

ss_rc ss_do_outbox_next(ss_stream_factory *f, ss_arena *a, ss_do_outbox_entry *out, bool *found) {
    ss_do_outbox_entry e;
    outbox_row r = {a, &e, false};
    ss_rc rc =
        ss__do_exec(do_of(f), "SELECT seq, parent_id, child_id FROM streamsy_do_outbox ORDER BY seq LIMIT 1", NULL,
                    0, decode_outbox, &r);
    if (rc)
        return rc;
    if (r.found)
        *out = e;
    *found = r.found;
    return SS_OK;
}

ss_rc ss_do_outbox_add(ss_stream_factory *f, ss_slice parent, ss_slice child) {
    ss_sql_value v[] = {ss_sql_text(parent), ss_sql_text(child)};
    return ss__do_exec(do_of(f), "INSERT INTO streamsy_do_outbox (parent_id, child_id) VALUES (?1, ?2)", v, 2,
                       NULL, NULL);
}

ss_rc ss_do_outbox_done(ss_stream_factory *f, int64_t seq) {
    ss_sql_value v = ss_sql_int(seq);
    return ss__do_exec(do_of(f), "DELETE FROM streamsy_do_outbox WHERE seq = ?1", &v, 1, NULL, NULL);
}
