/* The row codec: ss_record <-> a streamsy_streams row, ss_message <->
 * streamsy_producers (messages: log.c).
 *
 * Absent optionals are NULL: ttl_seconds (has_ttl), expires_at (empty),
 * expires_at_ms (has_expires_at_ms), last_seq (has_last_seq; an empty last
 * seq is '' and stays present), closed_at (closed), forked_from (empty),
 * fork_offset (empty), fork_sub_offset (0). Booleans are 0/1. Unsigned 64-bit
 * values (counter, ttl, producer epoch and seq) are stored as their int64 bit
 * pattern, so every value round-trips. A value whose flag is off is not kept
 * and reads back as zero. A column of the wrong type reads as SS_CORRUPT. */
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "sql_engine.h"
#include "streamsy/alloc.h"

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
    N_RECORD_COLUMNS
};

ss_rc ss__sql_exec(ss_sql_engine *e, ss_sql_stmt stmt, const ss_sql_value *args, size_t n) {
    return ss__sql_run(e, stmt, args, n, NULL, NULL);
}

/* ---- values ------------------------------------------------------------------ */

static ss_sql_value opt_text(bool has, ss_slice s) { return has ? ss_sql_text(s) : ss_sql_null(); }
static ss_sql_value opt_int(bool has, int64_t v) { return has ? ss_sql_int(v) : ss_sql_null(); }
static ss_sql_value offset_value(const ss_offset *o) { return ss_sql_text(ss_offset_slice(o)); }

static bool is_null(const ss_sql_value *v) { return v->type == SS_SQL_NULL; }

ss_rc ss__sql_col_int(const ss_sql_value *v, int64_t *out) {
    if (v->type != SS_SQL_INT && v->type != SS_SQL_NULL)
        return SS_CORRUPT;
    *out = v->type == SS_SQL_INT ? v->i : 0;
    return SS_OK;
}

/* A TEXT column copied into `a`; NULL reads as empty. */
static ss_rc col_text(const ss_sql_value *v, ss_arena *a, ss_slice *out) {
    if (v->type != SS_SQL_TEXT && v->type != SS_SQL_NULL)
        return SS_CORRUPT;
    return ss_arena_copy(a, v->type == SS_SQL_TEXT ? v->s : SS_SLICE_NULL, out);
}

ss_rc ss__sql_col_offset(const ss_sql_value *v, ss_offset *out) {
    if (is_null(v)) {
        memset(out, 0, sizeof *out);
        return SS_OK;
    }
    if (v->type != SS_SQL_TEXT || v->s.len == 0 || v->s.len > SS_OFFSET_MAX)
        return SS_CORRUPT;
    return ss_offset_set(out, v->s) ? SS_CORRUPT : SS_OK;
}

/* ---- records --------------------------------------------------------------------- */

typedef struct record_row {
    ss_arena *a;
    ss_record *out;
    bool found;
} record_row;

static ss_rc decode_record(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    record_row *rr = ctx;
    *stop = true;
    if (n != N_RECORD_COLUMNS || is_null(&c[C_CURRENT_OFFSET]))
        return SS_CORRUPT;
    ss_record r = {0};
    int64_t created, ttl, expires, counter, closed, closed_at, sub, soft;
    ss_rc rc;
    if ((rc = col_text(&c[C_ID], rr->a, &r.id)) || (rc = col_text(&c[C_CONTENT_TYPE], rr->a, &r.content_type)) ||
        (rc = col_text(&c[C_EXPIRES_AT], rr->a, &r.expires_at)) ||
        (rc = col_text(&c[C_LAST_SEQ], rr->a, &r.last_seq)) ||
        (rc = col_text(&c[C_FORKED_FROM], rr->a, &r.forked_from)) ||
        (rc = ss__sql_col_offset(&c[C_CURRENT_OFFSET], &r.tail)) ||
        (rc = ss__sql_col_offset(&c[C_FORK_OFFSET], &r.fork_offset)) ||
        (rc = ss__sql_col_int(&c[C_CREATED_AT], &created)) || (rc = ss__sql_col_int(&c[C_TTL_SECONDS], &ttl)) ||
        (rc = ss__sql_col_int(&c[C_EXPIRES_AT_MS], &expires)) || (rc = ss__sql_col_int(&c[C_COUNTER], &counter)) ||
        (rc = ss__sql_col_int(&c[C_CLOSED], &closed)) || (rc = ss__sql_col_int(&c[C_CLOSED_AT], &closed_at)) ||
        (rc = ss__sql_col_int(&c[C_FORK_SUB_OFFSET], &sub)) || (rc = ss__sql_col_int(&c[C_SOFT_DELETED], &soft)))
        return rc;
    r.created_ms = created;
    r.has_ttl = !is_null(&c[C_TTL_SECONDS]);
    r.ttl_s = r.has_ttl ? (uint64_t)ttl : 0;
    r.has_expires_at_ms = !is_null(&c[C_EXPIRES_AT_MS]);
    r.expires_at_ms = r.has_expires_at_ms ? expires : 0;
    r.counter = (uint64_t)counter;
    r.has_last_seq = !is_null(&c[C_LAST_SEQ]);
    r.closed = closed != 0;
    r.closed_ms = r.closed ? closed_at : 0;
    r.fork_sub_offset = (uint64_t)sub;
    r.soft_deleted = soft != 0;
    *rr->out = r;
    rr->found = true;
    return SS_OK;
}

ss_rc ss__sql_read_record(ss_sql_engine *e, ss_slice id, ss_arena *a, ss_record *out, bool *out_found) {
    const ss_record *c = ss__sql_cached_record(e, id);
    if (c) {
        ss_rc rc = ss_record_copy(a, c, out);
        *out_found = rc == SS_OK;
        return rc;
    }
    ss_record r;
    record_row rr = {a, &r, false};
    ss_sql_value arg = ss_sql_text(id);
    ss_rc rc = ss__sql_run(e, SS_SQL_GET_RECORD, &arg, 1, decode_record, &rr);
    if (rc)
        return rc;
    if (rr.found) {
        *out = r;
        if (ss_slice_eq(r.id, id))
            ss__sql_cache_record(e, &r);
    }
    *out_found = rr.found;
    return SS_OK;
}

ss_rc ss__sql_insert_record(ss_sql_engine *e, const ss_record *r) {
    ss_sql_value v[N_RECORD_COLUMNS] = {
        [C_ID] = ss_sql_text(r->id),
        [C_CONTENT_TYPE] = ss_sql_text(r->content_type),
        [C_CREATED_AT] = ss_sql_int(r->created_ms),
        [C_TTL_SECONDS] = opt_int(r->has_ttl, (int64_t)r->ttl_s),
        [C_EXPIRES_AT] = opt_text(r->expires_at.len > 0, r->expires_at),
        [C_EXPIRES_AT_MS] = opt_int(r->has_expires_at_ms, r->expires_at_ms),
        [C_CURRENT_OFFSET] = offset_value(&r->tail),
        [C_COUNTER] = ss_sql_int((int64_t)r->counter),
        [C_LAST_SEQ] = opt_text(r->has_last_seq, r->last_seq),
        [C_CLOSED] = ss_sql_int(r->closed),
        [C_CLOSED_AT] = opt_int(r->closed, r->closed_ms),
        [C_FORKED_FROM] = opt_text(r->forked_from.len > 0, r->forked_from),
        [C_FORK_OFFSET] = opt_text(r->fork_offset.len > 0, ss_offset_slice(&r->fork_offset)),
        [C_FORK_SUB_OFFSET] = opt_int(r->fork_sub_offset != 0, (int64_t)r->fork_sub_offset),
        [C_SOFT_DELETED] = ss_sql_int(r->soft_deleted),
    };
    return ss__sql_exec(e, SS_SQL_INSERT_RECORD, v, N_RECORD_COLUMNS);
}

ss_rc ss__sql_update_record(ss_sql_engine *e, const ss_record *r) {
    ss_sql_value v[] = {
        ss_sql_text(r->id),
        offset_value(&r->tail),
        ss_sql_int((int64_t)r->counter),
        opt_text(r->has_last_seq, r->last_seq),
        ss_sql_int(r->closed),
        opt_int(r->closed, r->closed_ms),
        opt_int(r->has_expires_at_ms, r->expires_at_ms),
        ss_sql_int(r->soft_deleted),
    };
    return ss__sql_exec(e, SS_SQL_UPDATE_RECORD, v, sizeof v / sizeof v[0]);
}

ss_rc ss__sql_purge(ss_sql_engine *e, ss_slice id) {
    ss_sql_value arg = ss_sql_text(id);
    ss_rc rc = ss__sql_exec(e, SS_SQL_DELETE_MESSAGES, &arg, 1);
    if (!rc)
        rc = ss__sql_log_purge(e, id);
    if (!rc)
        rc = ss__sql_exec(e, SS_SQL_DELETE_PRODUCERS, &arg, 1);
    if (!rc)
        rc = ss__sql_exec(e, SS_SQL_DELETE_RECORD, &arg, 1);
    return rc;
}

/* ---- producers ------------------------------------------------------------------------ */

typedef struct producer_row {
    ss_producer p;
    bool found;
} producer_row;

static ss_rc decode_producer(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    producer_row *pr = ctx;
    *stop = true;
    int64_t epoch, seq;
    ss_rc rc;
    if (n != 2)
        return SS_CORRUPT;
    if ((rc = ss__sql_col_int(&c[0], &epoch)) || (rc = ss__sql_col_int(&c[1], &seq)))
        return rc;
    pr->p = (ss_producer){(uint64_t)epoch, (uint64_t)seq};
    pr->found = true;
    return SS_OK;
}

ss_rc ss__sql_read_producer(ss_sql_engine *e, ss_slice id, ss_slice producer_id, ss_producer *out,
                            bool *out_found) {
    ss_sql_value v[] = {ss_sql_text(id), ss_sql_text(producer_id)};
    producer_row pr = {.found = false};
    ss_rc rc = ss__sql_run(e, SS_SQL_GET_PRODUCER, v, 2, decode_producer, &pr);
    if (rc)
        return rc;
    if (pr.found)
        *out = pr.p;
    *out_found = pr.found;
    return SS_OK;
}

ss_rc ss__sql_upsert_producer(ss_sql_engine *e, ss_slice id, ss_slice producer_id, ss_producer p) {
    ss_sql_value v[] = {ss_sql_text(id), ss_sql_text(producer_id), ss_sql_int((int64_t)p.epoch),
                        ss_sql_int((int64_t)p.last_seq)};
    return ss__sql_exec(e, SS_SQL_UPSERT_PRODUCER, v, 4);
}
