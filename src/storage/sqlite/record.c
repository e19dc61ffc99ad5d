/* The record and message codec: ss_record <-> a streamsy_streams row,
 * ss_message <-> streamsy_messages rows, ss_producer <-> streamsy_producers.
 *
 * Absent optionals are NULL: ttl_seconds (has_ttl), expires_at (empty),
 * expires_at_ms (has_expires_at_ms), last_seq (has_last_seq; an empty last
 * seq is '' and stays present), closed_at (closed), forked_from (empty),
 * fork_offset (empty), fork_sub_offset (0). Booleans are 0/1. Unsigned 64-bit
 * values (counter, ttl, producer epoch and seq) are stored as their int64 bit
 * pattern, so every value round-trips. A value whose flag is off is not kept
 * and reads back as zero. */
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "sqlite_internal.h"

enum {
    C_ID,
    C_CONTENT_TYPE,
    C_CREATED_AT,
    C_TTL_SECONDS,
    C_EXPIRES_AT,
    C_EXPIRES_AT_MS,
    C_CURRENT_OFFSET,
    C_COUNTER,
    C_LAST_SEQ,
    C_CLOSED,
    C_CLOSED_AT,
    C_FORKED_FROM,
    C_FORK_OFFSET,
    C_FORK_SUB_OFFSET,
    C_SOFT_DELETED,
};

/* Keeps the first bind error; binds are checked once before stepping. */
#define BIND(expr)                                                                                 \
    do {                                                                                           \
        if (brc == SQLITE_OK)                                                                      \
            brc = (expr);                                                                          \
    } while (0)

static int bind_opt_text(sqlite3_stmt *st, int i, bool has, ss_slice s) {
    return has ? ss__sq_bind_text(st, i, s) : sqlite3_bind_null(st, i);
}

static int bind_opt_int(sqlite3_stmt *st, int i, bool has, int64_t v) {
    return has ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

static int bind_offset(sqlite3_stmt *st, int i, const ss_offset *o) {
    return ss__sq_bind_text(st, i, ss_offset_slice(o));
}

/* Binds the failure of a bind like a statement failure (resets the statement). */
static ss_rc bind_failed(sq_factory *f, sqlite3_stmt *st, int brc) {
    sqlite3_reset(st);
    return ss__sq_fail(f, brc);
}

/* ---- reading columns ------------------------------------------------------- */

static bool col_null(sqlite3_stmt *st, int i) { return sqlite3_column_type(st, i) == SQLITE_NULL; }

/* A TEXT column copied into `a`; NULL reads as empty. */
static ss_rc col_text(sqlite3_stmt *st, int i, ss_arena *a, ss_slice *out) {
    if (col_null(st, i))
        return ss_arena_copy(a, SS_SLICE_NULL, out);
    const unsigned char *p = sqlite3_column_text(st, i);
    if (!p)
        return SS_NOMEM;
    return ss_arena_copy(a, ss_slice_of(p, (size_t)sqlite3_column_bytes(st, i)), out);
}

static ss_rc col_offset(sqlite3_stmt *st, int i, ss_offset *out) {
    if (col_null(st, i)) {
        memset(out, 0, sizeof *out);
        return SS_OK;
    }
    const unsigned char *p = sqlite3_column_text(st, i);
    if (!p)
        return SS_NOMEM;
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (n == 0 || n > SS_OFFSET_MAX)
        return SS_CORRUPT;
    return ss_offset_set(out, ss_slice_of(p, n)) ? SS_CORRUPT : SS_OK;
}

static int64_t col_int(sqlite3_stmt *st, int i) { return sqlite3_column_int64(st, i); }

static ss_rc decode_record(sqlite3_stmt *st, ss_arena *a, ss_record *out) {
    ss_record r = {0};
    ss_rc rc;
    if ((rc = col_text(st, C_ID, a, &r.id)) || (rc = col_text(st, C_CONTENT_TYPE, a, &r.content_type)) ||
        (rc = col_text(st, C_EXPIRES_AT, a, &r.expires_at)) ||
        (rc = col_text(st, C_LAST_SEQ, a, &r.last_seq)) ||
        (rc = col_text(st, C_FORKED_FROM, a, &r.forked_from)) ||
        (rc = col_offset(st, C_CURRENT_OFFSET, &r.tail)) || (rc = col_offset(st, C_FORK_OFFSET, &r.fork_offset)))
        return rc;
    if (col_null(st, C_CURRENT_OFFSET))
        return SS_CORRUPT;
    r.created_ms = col_int(st, C_CREATED_AT);
    r.has_ttl = !col_null(st, C_TTL_SECONDS);
    r.ttl_s = r.has_ttl ? (uint64_t)col_int(st, C_TTL_SECONDS) : 0;
    r.has_expires_at_ms = !col_null(st, C_EXPIRES_AT_MS);
    r.expires_at_ms = r.has_expires_at_ms ? col_int(st, C_EXPIRES_AT_MS) : 0;
    r.counter = (uint64_t)col_int(st, C_COUNTER);
    r.has_last_seq = !col_null(st, C_LAST_SEQ);
    r.closed = col_int(st, C_CLOSED) != 0;
    r.closed_ms = r.closed ? col_int(st, C_CLOSED_AT) : 0;
    r.fork_sub_offset = (uint64_t)col_int(st, C_FORK_SUB_OFFSET);
    r.soft_deleted = col_int(st, C_SOFT_DELETED) != 0;
    *out = r;
    return SS_OK;
}

/* ---- records --------------------------------------------------------------- */

ss_rc ss__sq_read_record(sq_factory *f, ss_slice id, ss_arena *a, ss_record *out, bool *out_found) {
    sqlite3_stmt *st = ss__sq_stmt(f, SQ_GET_RECORD);
    int brc = ss__sq_bind_text(st, 1, id);
    if (brc)
        return bind_failed(f, st, brc);
    int rc = sqlite3_step(st);
    ss_rc out_rc = SS_OK;
    if (rc == SQLITE_ROW) {
        ss_record r;
        out_rc = decode_record(st, a, &r);
        if (!out_rc) {
            *out = r;
            *out_found = true;
        }
    } else if (rc == SQLITE_DONE) {
        *out_found = false;
    } else {
        out_rc = ss__sq_fail(f, rc);
    }
    sqlite3_reset(st);
    return out_rc;
}

ss_rc ss__sq_insert_record(sq_factory *f, const ss_record *r) {
    sqlite3_stmt *st = ss__sq_stmt(f, SQ_INSERT_RECORD);
    int brc = SQLITE_OK;
    BIND(ss__sq_bind_text(st, 1 + C_ID, r->id));
    BIND(ss__sq_bind_text(st, 1 + C_CONTENT_TYPE, r->content_type));
    BIND(sqlite3_bind_int64(st, 1 + C_CREATED_AT, r->created_ms));
    BIND(bind_opt_int(st, 1 + C_TTL_SECONDS, r->has_ttl, (int64_t)r->ttl_s));
    BIND(bind_opt_text(st, 1 + C_EXPIRES_AT, r->expires_at.len > 0, r->expires_at));
    BIND(bind_opt_int(st, 1 + C_EXPIRES_AT_MS, r->has_expires_at_ms, r->expires_at_ms));
    BIND(bind_offset(st, 1 + C_CURRENT_OFFSET, &r->tail));
    BIND(sqlite3_bind_int64(st, 1 + C_COUNTER, (int64_t)r->counter));
    BIND(bind_opt_text(st, 1 + C_LAST_SEQ, r->has_last_seq, r->last_seq));
    BIND(sqlite3_bind_int(st, 1 + C_CLOSED, r->closed));
    BIND(bind_opt_int(st, 1 + C_CLOSED_AT, r->closed, r->closed_ms));
    BIND(bind_opt_text(st, 1 + C_FORKED_FROM, r->forked_from.len > 0, r->forked_from));
    BIND(bind_opt_text(st, 1 + C_FORK_OFFSET, r->fork_offset.len > 0, ss_offset_slice(&r->fork_offset)));
    BIND(bind_opt_int(st, 1 + C_FORK_SUB_OFFSET, r->fork_sub_offset != 0, (int64_t)r->fork_sub_offset));
    BIND(sqlite3_bind_int(st, 1 + C_SOFT_DELETED, r->soft_deleted));
    if (brc)
        return bind_failed(f, st, brc);
    return ss__sq_run(f, st);
}

ss_rc ss__sq_update_record(sq_factory *f, const ss_record *r) {
    sqlite3_stmt *st = ss__sq_stmt(f, SQ_UPDATE_RECORD);
    int brc = SQLITE_OK;
    BIND(ss__sq_bind_text(st, 1, r->id));
    BIND(bind_offset(st, 2, &r->tail));
    BIND(sqlite3_bind_int64(st, 3, (int64_t)r->counter));
    BIND(bind_opt_text(st, 4, r->has_last_seq, r->last_seq));
    BIND(sqlite3_bind_int(st, 5, r->closed));
    BIND(bind_opt_int(st, 6, r->closed, r->closed_ms));
    BIND(bind_opt_int(st, 7, r->has_expires_at_ms, r->expires_at_ms));
    BIND(sqlite3_bind_int(st, 8, r->soft_deleted));
    if (brc)
        return bind_failed(f, st, brc);
    return ss__sq_run(f, st);
}

/* ---- messages -------------------------------------------------------------- */

ss_rc ss__sq_insert_messages(sq_factory *f, ss_slice id, const ss_message *msgs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = ss__sq_stmt(f, SQ_INSERT_MESSAGE);
        int brc = SQLITE_OK;
        BIND(ss__sq_bind_text(st, 1, id));
        BIND(bind_offset(st, 2, &msgs[i].offset));
        BIND(sqlite3_bind_int64(st, 3, msgs[i].ts_ms));
        BIND(sqlite3_bind_blob64(st, 4, msgs[i].data.len ? msgs[i].data.p : "", msgs[i].data.len, SQLITE_STATIC));
        if (brc)
            return bind_failed(f, st, brc);
        ss_rc rc = ss__sq_run(f, st);
        if (rc)
            return rc;
    }
    return SS_OK;
}

/* A growable array of messages; moved into the arena at the end. */
typedef struct msg_vec {
    ss_message *v;
    size_t n, cap;
} msg_vec;

static ss_rc vec_push(msg_vec *mv, ss_message m) {
    if (ss__grow(&mv->v, &mv->cap, mv->n, sizeof *mv->v, 16))
        return SS_NOMEM;
    mv->v[mv->n++] = m;
    return SS_OK;
}

/* Same window rules as the memory adapter: after exclusive, until inclusive,
 * then limit and max_bytes (at least one message); `more` when cut short. */
static ss_rc step_messages(sq_factory *f, sqlite3_stmt *st, const ss_list_opts *o, ss_arena *a,
                           msg_vec *mv, bool *more) {
    size_t bytes = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            return SS_OK;
        if (rc != SQLITE_ROW)
            return ss__sq_fail(f, rc);
        ss_message m;
        ss_rc r = col_offset(st, 0, &m.offset);
        if (r)
            return r;
        if (m.offset.len == 0)
            return SS_CORRUPT;
        if (o->has_until && ss_offset_cmp(&m.offset, &o->until) > 0)
            return SS_OK;
        const void *data = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (!data && len)
            return SS_NOMEM;
        if ((o->limit && mv->n >= o->limit) || (o->max_bytes && mv->n > 0 && bytes + len > o->max_bytes)) {
            *more = true;
            return SS_OK;
        }
        if ((r = ss_arena_copy(a, ss_slice_of(data, len), &m.data)))
            return r;
        m.ts_ms = col_int(st, 1);
        if ((r = vec_push(mv, m)))
            return r;
        bytes += len;
    }
}

ss_rc ss__sq_list_messages(sq_factory *f, ss_slice id, const ss_list_opts *o, ss_arena *a,
                           ss_message_batch *out) {
    sqlite3_stmt *st = ss__sq_stmt(f, SQ_LIST_MESSAGES);
    int brc = SQLITE_OK;
    BIND(ss__sq_bind_text(st, 1, id));
    /* Every stored offset is non-empty, so "> ''" is "from the start". */
    BIND(ss__sq_bind_text(st, 2, o->has_after ? ss_offset_slice(&o->after) : SS_SLICE_NULL));
    if (brc)
        return bind_failed(f, st, brc);
    msg_vec mv = {0};
    ss_message_batch b = {NULL, 0, false};
    ss_rc rc = step_messages(f, st, o, a, &mv, &b.more);
    sqlite3_reset(st);
    if (!rc && mv.n) {
        b.msgs = ss_arena_alloc(a, mv.n * sizeof *b.msgs);
        if (b.msgs) {
            memcpy(b.msgs, mv.v, mv.n * sizeof *b.msgs);
            b.n = mv.n;
        } else {
            rc = SS_NOMEM;
        }
    }
    free(mv.v);
    if (!rc)
        *out = b;
    return rc;
}

/* ---- producers ------------------------------------------------------------- */

ss_rc ss__sq_read_producer(sq_factory *f, ss_slice id, ss_slice producer_id, ss_producer *out,
                           bool *out_found) {
    sqlite3_stmt *st = ss__sq_stmt(f, SQ_GET_PRODUCER);
    int brc = SQLITE_OK;
    BIND(ss__sq_bind_text(st, 1, id));
    BIND(ss__sq_bind_text(st, 2, producer_id));
    if (brc)
        return bind_failed(f, st, brc);
    int rc = sqlite3_step(st);
    ss_rc out_rc = SS_OK;
    if (rc == SQLITE_ROW) {
        *out = (ss_producer){(uint64_t)col_int(st, 0), (uint64_t)col_int(st, 1)};
        *out_found = true;
    } else if (rc == SQLITE_DONE) {
        *out_found = false;
    } else {
        out_rc = ss__sq_fail(f, rc);
    }
    sqlite3_reset(st);
    return out_rc;
}

ss_rc ss__sq_upsert_producer(sq_factory *f, ss_slice id, ss_slice producer_id, ss_producer p) {
    sqlite3_stmt *st = ss__sq_stmt(f, SQ_UPSERT_PRODUCER);
    int brc = SQLITE_OK;
    BIND(ss__sq_bind_text(st, 1, id));
    BIND(ss__sq_bind_text(st, 2, producer_id));
    BIND(sqlite3_bind_int64(st, 3, (int64_t)p.epoch));
    BIND(sqlite3_bind_int64(st, 4, (int64_t)p.last_seq));
    if (brc)
        return bind_failed(f, st, brc);
    return ss__sq_run(f, st);
}
