/* Messages in the log layout (schema version 3).
 *
 * An append inserts its message into streamsy_log, one table in arrival
 * order with no per-stream index entry, so that a transaction of appends to
 * many streams writes the log's last page instead of a leaf page per stream
 * (docs/sqlite.md, "Planned: the log layout, in detail"). Each stream's log
 * rows not yet packed are listed here in memory by seq; once a stream has
 * SS_SQL_CHUNK_MESSAGES of them, the intent that added the last packs them
 * into streamsy_messages rows of at most SS_SQL_CHUNK_BYTES (one row for 64
 * small messages; its "chunk" column counts them, its "offset" is the last
 * message's; a larger message gets a row of its own) and the list empties. Packed log rows
 * stay until a range delete cuts the log below the oldest seq still listed;
 * a list whose oldest row falls SS_SQL_LOG_WINDOW rows behind is packed
 * early, so that the log stays short.
 *
 * The engine numbers log rows itself (the newest seq + 1).
 *
 * The log is the truth, the lists are memory: they are loaded lazily from
 * the rows not yet packed (SS_SQL_UNPACKED_LOG); an intent that changed
 * them and was not kept, and ss__sql_forget_all, drop them
 * (ss__sql_log_settle, ss__sql_log_forget). Every log read also names the
 * stream, so a list can never show another stream's row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "sql_engine.h"
#include "streamsy/alloc.h"

/* One stream's log rows not yet packed, oldest first. */
typedef struct log_list {
    int64_t *seq;
    size_t n, cap;
} log_list;

static void free_lists(ss_sql_engine *e) {
    ss_slice k;
    void *v;
    for (ss__map_iter it = {0}; ss__map_next(&e->log_lists, &it, &k, &v);) {
        log_list *l = v;
        ss_free(l->seq);
        ss_free(l);
    }
    ss__map_release(&e->log_lists);
    ss__map_init(&e->log_lists);
}

void ss__sql_log_init(ss_sql_engine *e) {
    ss__map_init(&e->log_lists);
    e->log_loaded = false;
    e->log_touched = false;
    e->log_head = 0;
    e->log_since_cut = 0;
}

void ss__sql_log_release(ss_sql_engine *e) { free_lists(e); /* leaves an empty map, which holds nothing */ }

void ss__sql_log_forget(ss_sql_engine *e) {
    free_lists(e);
    e->log_loaded = false;
}

void ss__sql_log_settle(ss_sql_engine *e, bool kept) {
    if (e->log_touched && !kept)
        ss__sql_log_forget(e);
    e->log_touched = false;
}

/* Adds seq to id's list (made if missing); the list in *out. */
static ss_rc list_push(ss_sql_engine *e, ss_slice id, int64_t seq, log_list **out) {
    log_list *l = ss__map_get(&e->log_lists, id);
    if (!l) {
        if (!(l = ss_calloc(1, sizeof *l)))
            return SS_NOMEM;
        if (ss__map_put(&e->log_lists, id, l)) {
            ss_free(l);
            return SS_NOMEM;
        }
    }
    if (ss__grow(&l->seq, &l->cap, l->n, sizeof *l->seq, 16))
        return SS_NOMEM;
    l->seq[l->n++] = seq;
    if (seq > e->log_head)
        e->log_head = seq;
    if (out)
        *out = l;
    return SS_OK;
}

static void list_drop(ss_sql_engine *e, ss_slice id) {
    log_list *l = ss__map_remove(&e->log_lists, id);
    if (l) {
        ss_free(l->seq);
        ss_free(l);
    }
}

/* ---- loading ------------------------------------------------------------------------ */

static ss_rc load_row(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    (void)stop;
    if (n != 2 || c[0].type != SS_SQL_INT || c[1].type != SS_SQL_TEXT)
        return SS_CORRUPT;
    return list_push(ctx, c[1].s, c[0].i, NULL);
}

static ss_rc head_row(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    *stop = true;
    if (n != 1 || c[0].type != SS_SQL_INT)
        return SS_CORRUPT;
    ((ss_sql_engine *)ctx)->log_head = c[0].i;
    return SS_OK;
}

static ss_rc ensure_loaded(ss_sql_engine *e) {
    if (e->log_loaded)
        return SS_OK;
    ss_rc rc = ss__sql_run(e, SS_SQL_LOG_HEAD, NULL, 0, head_row, e);
    if (!rc)
        rc = ss__sql_run(e, SS_SQL_UNPACKED_LOG, NULL, 0, load_row, e);
    if (rc) {
        free_lists(e);
        return rc;
    }
    e->log_loaded = true;
    return SS_OK;
}

/* ---- chunks: the packed form ---------------------------------------------------------- */

/* One message in a chunk: offset length (1 byte), offset, timestamp (8
 * bytes), data length (4 bytes), data; integers little-endian. */
static void chunk_put(ss_buf *b, const ss_offset *off, int64_t ts, ss_slice data) {
    unsigned char head[1 + 8];
    head[0] = off->len;
    ss_buf_append(b, head, 1);
    ss_buf_append(b, off->s, off->len);
    for (int i = 0; i < 8; i++)
        head[i] = (unsigned char)((uint64_t)ts >> (8 * i));
    ss_buf_append(b, head, 8);
    for (int i = 0; i < 4; i++)
        head[i] = (unsigned char)((uint32_t)data.len >> (8 * i));
    ss_buf_append(b, head, 4);
    ss_buf_append(b, data.p, data.len);
}

/* Reads the message at *at of a chunk; SS_CORRUPT when it runs past the end. */
static ss_rc chunk_get(ss_slice body, size_t *at, ss_offset *off, int64_t *ts, ss_slice *data) {
    const unsigned char *p = (const unsigned char *)body.p;
    size_t i = *at;
    if (i >= body.len || p[i] == 0 || body.len - i - 1 < (size_t)p[i] + 12)
        return SS_CORRUPT;
    size_t ol = p[i++];
    if (ss_offset_set(off, ss_slice_of((const char *)p + i, ol)))
        return SS_CORRUPT;
    i += ol;
    uint64_t t = 0;
    for (int k = 0; k < 8; k++)
        t |= (uint64_t)p[i + k] << (8 * k);
    i += 8;
    uint32_t len = 0;
    for (int k = 0; k < 4; k++)
        len |= (uint32_t)p[i + k] << (8 * k);
    i += 4;
    if (body.len - i < len)
        return SS_CORRUPT;
    *ts = (int64_t)t;
    *data = ss_slice_of((const char *)p + i, len);
    *at = i + len;
    return SS_OK;
}

/* The seqs of a list as a JSON array, for json_each. */
static ss_rc seq_json(const log_list *l, ss_buf *out) {
    ss_buf_append(out, "[", 1);
    for (size_t i = 0; i < l->n; i++) {
        char num[24];
        int k = snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)l->seq[i]);
        ss_buf_append(out, num, (size_t)k);
    }
    ss_buf_append(out, "]", 1);
    return out->err;
}

/* The columns (offset, timestamp, data) of a message row: a non-empty
 * offset, an integer and a blob; SS_CORRUPT otherwise. */
static ss_rc message_columns(const ss_sql_value *c, ss_offset *off, int64_t *ts) {
    ss_rc rc;
    if (c[2].type != SS_SQL_BLOB)
        return SS_CORRUPT;
    if ((rc = ss__sql_col_offset(&c[0], off)) || (rc = ss__sql_col_int(&c[1], ts)))
        return rc;
    return off->len ? SS_OK : SS_CORRUPT;
}

/* One log row read back for packing: its bytes are copied, because the
 * next statement (an insert) may reuse the row's memory. */
typedef struct log_row {
    ss_offset off;
    int64_t ts;
    ss_buf data;
    bool found;
} log_row;

static ss_rc copy_row(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    log_row *r = ctx;
    *stop = true;
    ss_rc rc = n == 3 ? message_columns(c, &r->off, &r->ts) : SS_CORRUPT;
    if (rc)
        return rc;
    ss_buf_clear(&r->data);
    ss_buf_append(&r->data, c[2].s.p, c[2].s.len);
    r->found = true;
    return r->data.err;
}

/* The packed row being built. */
typedef struct chunk {
    ss_buf body;
    ss_offset last;
    int64_t last_ts;
    size_t n;
} chunk;

/* Stores the chunk built so far as one row, and empties it. */
static ss_rc store_chunk(ss_sql_engine *e, ss_slice id, chunk *c) {
    if (c->n == 0)
        return SS_OK;
    ss_sql_value v[] = {ss_sql_text(id), ss_sql_text(ss_offset_slice(&c->last)), ss_sql_int(c->last_ts),
                        ss_sql_blob(ss_buf_slice(&c->body)), ss_sql_int((int64_t)c->n)};
    ss_rc rc = ss__sql_exec(e, SS_SQL_INSERT_MESSAGE, v, 5);
    ss_buf_clear(&c->body);
    c->n = 0;
    return rc;
}

/* Moves one log row into the chunk, storing the chunk first when the row
 * would take it past SS_SQL_CHUNK_BYTES; a row too big to share a row is
 * stored alone, as a row of one message. */
static ss_rc add_to_chunk(ss_sql_engine *e, ss_slice id, chunk *c, const log_row *r) {
    ss_slice data = ss_buf_slice(&r->data);
    size_t need = 1 + (size_t)r->off.len + 12 + data.len;
    ss_rc rc = SS_OK;
    if (c->n && c->body.len + need > SS_SQL_CHUNK_BYTES)
        rc = store_chunk(e, id, c);
    if (rc)
        return rc;
    if (need > SS_SQL_CHUNK_BYTES) {
        ss_sql_value v[] = {ss_sql_text(id), ss_sql_text(ss_offset_slice(&r->off)), ss_sql_int(r->ts),
                            ss_sql_blob(data), ss_sql_null()};
        return ss__sql_exec(e, SS_SQL_INSERT_MESSAGE, v, 5);
    }
    chunk_put(&c->body, &r->off, r->ts, data);
    c->last = r->off;
    c->last_ts = r->ts;
    c->n++;
    return c->body.err;
}

/* Packs a stream's listed log rows into streamsy_messages rows of at most
 * SS_SQL_CHUNK_BYTES each (one row for 64 small messages), reading the log
 * one row at a time so that memory stays within one chunk and one message. */
static ss_rc pack(ss_sql_engine *e, ss_slice id, log_list *l) {
    log_row r = {.found = false};
    chunk c = {.n = 0};
    ss_buf_init(&r.data, SIZE_MAX);
    ss_buf_init(&c.body, SIZE_MAX);
    ss_rc rc = SS_OK;
    for (size_t i = 0; i < l->n && !rc; i++) {
        ss_sql_value v[] = {ss_sql_text(id), ss_sql_int(l->seq[i])};
        r.found = false;
        rc = ss__sql_run(e, SS_SQL_LOG_ROW, v, 2, copy_row, &r);
        if (!rc && !r.found)
            rc = SS_CORRUPT; /* a listed row is missing */
        if (!rc)
            rc = add_to_chunk(e, id, &c, &r);
    }
    if (!rc)
        rc = store_chunk(e, id, &c);
    ss_buf_release(&r.data);
    ss_buf_release(&c.body);
    if (!rc) {
        e->log_touched = true;
        l->n = 0;
    }
    return rc;
}

/* Packs the lists that fell SS_SQL_LOG_WINDOW behind (and forgets them),
 * then cuts the log below the oldest row still listed. */
static ss_rc cut(ss_sql_engine *e) {
    ss_slice *late = NULL, k;
    size_t n_late = 0, cap = 0;
    void *v;
    ss_rc rc = SS_OK;
    for (ss__map_iter it = {0}; !rc && ss__map_next(&e->log_lists, &it, &k, &v);) {
        log_list *l = v;
        if (l->n && l->seq[0] < e->log_head - SS_SQL_LOG_WINDOW) {
            char *copy = ss_malloc(k.len ? k.len : 1);
            if (!copy || ss__grow(&late, &cap, n_late, sizeof *late, 8)) {
                ss_free(copy);
                rc = SS_NOMEM;
                break;
            }
            if (k.len)
                memcpy(copy, k.p, k.len);
            late[n_late++] = ss_slice_of(copy, k.len);
        }
    }
    for (size_t i = 0; i < n_late && !rc; i++) {
        rc = pack(e, late[i], ss__map_get(&e->log_lists, late[i]));
        if (!rc)
            list_drop(e, late[i]);
    }
    for (size_t i = 0; i < n_late; i++)
        ss_free((char *)late[i].p);
    ss_free(late);
    if (rc)
        return rc;
    int64_t low = e->log_head + 1;
    for (ss__map_iter it = {0}; ss__map_next(&e->log_lists, &it, &k, &v);) {
        const log_list *l = v;
        if (l->n && l->seq[0] < low)
            low = l->seq[0];
    }
    ss_sql_value arg = ss_sql_int(low);
    e->log_since_cut = 0;
    return ss__sql_exec(e, SS_SQL_CUT_LOG, &arg, 1);
}

/* ---- the engine's message functions ------------------------------------------------------ */

ss_rc ss__sql_insert_messages(ss_sql_engine *e, ss_slice id, const ss_message *msgs, size_t n) {
    ss_rc rc = ensure_loaded(e);
    for (size_t i = 0; i < n && !rc; i++) {
        int64_t seq = e->log_head + 1;
        ss_sql_value v[] = {ss_sql_text(id), ss_sql_text(ss_offset_slice(&msgs[i].offset)),
                            ss_sql_int(msgs[i].ts_ms), ss_sql_blob(msgs[i].data), ss_sql_int(seq)};
        rc = ss__sql_exec(e, SS_SQL_INSERT_LOG, v, 5);
        log_list *l = NULL;
        if (!rc) {
            e->log_touched = true;
            rc = list_push(e, id, seq, &l);
        }
        if (!rc && l->n >= SS_SQL_CHUNK_MESSAGES && !(rc = pack(e, id, l)))
            list_drop(e, id); /* a stream's list lives only while it has rows */
        if (!rc && ++e->log_since_cut >= SS_SQL_LOG_CUT_EVERY)
            rc = cut(e);
    }
    return rc;
}

ss_rc ss__sql_log_purge(ss_sql_engine *e, ss_slice id) {
    ss_rc rc = ensure_loaded(e);
    ss_sql_value arg = ss_sql_text(id);
    if (!rc)
        rc = ss__sql_exec(e, SS_SQL_DELETE_LOG, &arg, 1);
    if (!rc) {
        e->log_touched = true;
        list_drop(e, id);
    }
    return rc;
}

/* The window rules of every adapter: after exclusive, until inclusive, then
 * limit and max_bytes (at least one message); `more` when cut short. The
 * messages collect in a growable array moved into the arena at the end. */
typedef struct message_rows {
    const ss_list_opts *o;
    ss_arena *a;
    ss_message *v;
    size_t n, cap;
    size_t bytes;
    bool more;
    bool stopped;
    bool by_reference; /* take the bytes as they are: the caller keeps or copies them */
} message_rows;

/* Takes one message (in offset order) if it is after the window's start
 * and the window has room, copying its bytes into the arena (unless
 * by_reference); *stop at its end. */
static ss_rc window_take(message_rows *mr, const ss_offset *offset, int64_t ts_ms, ss_slice data, bool *stop) {
    const ss_list_opts *o = mr->o;
    if (o->has_after && ss_offset_cmp(offset, &o->after) <= 0)
        return SS_OK;
    if (o->has_until && ss_offset_cmp(offset, &o->until) > 0) {
        *stop = mr->stopped = true;
        return SS_OK;
    }
    if ((o->limit && mr->n >= o->limit) || (o->max_bytes && mr->n > 0 && mr->bytes + data.len > o->max_bytes)) {
        mr->more = true;
        *stop = mr->stopped = true;
        return SS_OK;
    }
    ss_message m = {.data = data, .offset = *offset, .ts_ms = ts_ms};
    if ((!mr->by_reference && ss_arena_copy(mr->a, data, &m.data)) ||
        ss__grow(&mr->v, &mr->cap, mr->n, sizeof *mr->v, 16))
        return SS_NOMEM;
    mr->v[mr->n++] = m;
    mr->bytes += data.len;
    return SS_OK;
}

/* A streamsy_messages row: one message (chunk NULL) or a packed chunk. */
static ss_rc decode_stored(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    if (n != 4 || (c[3].type != SS_SQL_NULL && c[3].type != SS_SQL_INT))
        return SS_CORRUPT;
    ss_offset offset;
    int64_t ts;
    ss_rc rc = message_columns(c, &offset, &ts);
    if (rc)
        return rc;
    if (c[3].type == SS_SQL_NULL)
        return window_take(ctx, &offset, ts, c[2].s, stop);
    size_t at = 0, count = 0;
    ss_offset m_off = {0};
    while (at < c[2].s.len && !*stop) {
        ss_slice data;
        if ((rc = chunk_get(c[2].s, &at, &m_off, &ts, &data)) || (rc = window_take(ctx, &m_off, ts, data, stop)))
            return rc;
        count++;
    }
    /* A whole chunk read must hold what its row says, ending at its offset. */
    if (!*stop && (count != (uint64_t)c[3].i || ss_offset_cmp(&m_off, &offset) != 0))
        return SS_CORRUPT;
    return SS_OK;
}

static ss_rc decode_logged(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    ss_offset offset;
    int64_t ts;
    ss_rc rc = n == 3 ? message_columns(c, &offset, &ts) : SS_CORRUPT;
    return rc ? rc : window_take(ctx, &offset, ts, c[2].s, stop);
}

/* The window over messages cached in memory (ss__sql_cached_messages),
 * taken by reference, then kept: the entry pinned to the reader's arena
 * when the window holds at least half its bytes (so a reader holds at most
 * twice what it reads), else the window copied. */
static ss_rc take_cached(message_rows *mr, ss__sql_cached *c, const ss_message *m, size_t n) {
    mr->by_reference = true;
    const ss_list_opts *o = mr->o;
    size_t lo = 0, hi = n; /* the first message after o->after */
    while (o->has_after && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ss_offset_cmp(&m[mid].offset, &o->after) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool stop = false;
    ss_rc rc = SS_OK;
    for (size_t i = lo; i < n && !stop && !rc; i++)
        rc = window_take(mr, &m[i].offset, m[i].ts_ms, m[i].data, &stop);
    if (rc || mr->bytes >= ss__sql_cached_bytes(c) - mr->bytes)
        return rc ? rc : ss__sql_pin_cached(c, mr->a);
    for (size_t i = 0; i < mr->n && !rc; i++)
        rc = ss_arena_copy(mr->a, mr->v[i].data, &mr->v[i].data);
    return rc;
}

/* Stored rows after the start, then the stream's listed log rows. */
static ss_rc read_rows(ss_sql_engine *e, ss_slice id, const ss_list_opts *o, message_rows *mr) {
    ss_rc rc = ensure_loaded(e);
    /* Every stored offset is non-empty, so "> ''" is "from the start". */
    ss_sql_value v[] = {ss_sql_text(id), ss_sql_text(o->has_after ? ss_offset_slice(&o->after) : SS_SLICE_NULL)};
    if (!rc)
        rc = ss__sql_run(e, SS_SQL_LIST_MESSAGES, v, 2, decode_stored, mr);
    const log_list *l = ss__map_get(&e->log_lists, id);
    if (rc || mr->stopped || !l || l->n == 0)
        return rc;
    ss_buf seqs;
    ss_buf_init(&seqs, SIZE_MAX);
    rc = seq_json(l, &seqs);
    if (!rc) {
        ss_sql_value w[] = {ss_sql_text(id), ss_sql_text(ss_buf_slice(&seqs))};
        rc = ss__sql_run(e, SS_SQL_LOG_ROWS, w, 2, decode_logged, mr);
    }
    ss_buf_release(&seqs);
    return rc;
}

ss_rc ss__sql_list_messages(ss_sql_engine *e, ss_slice id, const ss_list_opts *o, ss_arena *a,
                            ss_message_batch *out) {
    message_rows mr = {.o = o, .a = a};
    const ss_message *cached;
    size_t n_cached;
    ss_rc rc;
    ss__sql_cached *c = ss__sql_cached_messages(e, id, o, &cached, &n_cached);
    if (c) {
        rc = take_cached(&mr, c, cached, n_cached);
    } else {
        rc = read_rows(e, id, o, &mr);
        /* Everything after the start up to the tail: keep it for the next reader. */
        if (!rc && !o->has_until && !o->limit && !mr.more)
            ss__sql_cache_messages(e, id, o, mr.v, mr.n, mr.bytes);
    }
    ss_message_batch b = {NULL, 0, mr.more};
    if (!rc && mr.n) {
        b.msgs = ss_arena_alloc(a, mr.n * sizeof *b.msgs);
        if (b.msgs) {
            memcpy(b.msgs, mr.v, mr.n * sizeof *b.msgs);
            b.n = mr.n;
        } else {
            rc = SS_NOMEM;
        }
    }
    ss_free(mr.v);
    if (!rc)
        *out = b;
    return rc;
}
