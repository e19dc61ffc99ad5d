/* The snapshot format: a fork source's chain, carried from the source's
 * object to the fork's object. Little-endian, self-delimiting:
 *
 *   "SSNAP001"  u32 n_streams  then per stream:
 *     str id, str content_type, i64 created_ms, u8 has_ttl, u64 ttl_s,
 *     str expires_at, u8 has_last_seq, str last_seq, u8 closed, i64 closed_ms,
 *     str forked_from, str fork_offset, u64 fork_sub_offset, str tail,
 *     u64 counter, u8 soft_deleted, u32 n_msgs, then per message:
 *     str offset, i64 ts_ms, str data
 *   where str = u32 length + bytes.
 *
 * Expiry deadlines are not carried: a mirror has none.
 * The reader checks every length against what is left and every offset
 * against the offset rules, so a truncated or foreign blob is SS_CORRUPT. */
#include <string.h>

#include "do_internal.h"

#define MAGIC "SSNAP001"
#define MAGIC_LEN 8

/* ---- writing ------------------------------------------------------------------------- */

static ss_rc put_u64(ss_buf *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    return ss_buf_append(b, x, 8);
}

static ss_rc put_u32(ss_buf *b, uint32_t v) {
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    return ss_buf_append(b, x, 4);
}

static ss_rc put_u8(ss_buf *b, bool v) {
    unsigned char x = v ? 1 : 0;
    return ss_buf_append(b, &x, 1);
}

static ss_rc put_str(ss_buf *b, ss_slice s) {
    if (s.len > UINT32_MAX)
        return SS_TOOBIG;
    ss_rc rc = put_u32(b, (uint32_t)s.len);
    return rc ? rc : ss_buf_append_slice(b, s);
}

ss_rc ss__do_snap_begin(ss_buf *out) {
    ss_rc rc = ss_buf_append(out, MAGIC, MAGIC_LEN);
    return rc ? rc : put_u32(out, 0);
}

void ss__do_snap_finish(ss_buf *out, uint32_t n_streams) {
    for (int i = 0; i < 4; i++)
        out->p[MAGIC_LEN + i] = (char)(unsigned char)(n_streams >> (8 * i));
}

ss_rc ss__do_snap_put_stream(ss_buf *out, const ss_record *r, const ss_message *msgs, size_t n) {
    if (n > UINT32_MAX)
        return SS_TOOBIG;
    ss_rc rc;
    if ((rc = put_str(out, r->id)) || (rc = put_str(out, r->content_type)) ||
        (rc = put_u64(out, (uint64_t)r->created_ms)) || (rc = put_u8(out, r->has_ttl)) ||
        (rc = put_u64(out, r->ttl_s)) || (rc = put_str(out, r->expires_at)) ||
        (rc = put_u8(out, r->has_last_seq)) || (rc = put_str(out, r->last_seq)) || (rc = put_u8(out, r->closed)) ||
        (rc = put_u64(out, (uint64_t)r->closed_ms)) || (rc = put_str(out, r->forked_from)) ||
        (rc = put_str(out, ss_offset_slice(&r->fork_offset))) || (rc = put_u64(out, r->fork_sub_offset)) ||
        (rc = put_str(out, ss_offset_slice(&r->tail))) || (rc = put_u64(out, r->counter)) ||
        (rc = put_u8(out, r->soft_deleted)) || (rc = put_u32(out, (uint32_t)n)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = put_str(out, ss_offset_slice(&msgs[i].offset))) ||
            (rc = put_u64(out, (uint64_t)msgs[i].ts_ms)) || (rc = put_str(out, msgs[i].data)))
            return rc;
    return SS_OK;
}

/* ---- reading ------------------------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p, *end;
    bool bad;
} reader;

static uint64_t get_le(reader *r, int bytes) {
    if (r->bad || r->end - r->p < bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}

static bool get_flag(reader *r) {
    uint64_t v = get_le(r, 1);
    if (v > 1)
        r->bad = true;
    return v == 1;
}

/* A view into the snapshot (it outlives the parse: the caller's bytes). */
static ss_slice get_str(reader *r) {
    uint64_t n = get_le(r, 4);
    if (r->bad || (uint64_t)(r->end - r->p) < n) {
        r->bad = true;
        return SS_SLICE_NULL;
    }
    ss_slice s = ss_slice_of(r->p, (size_t)n);
    r->p += n;
    return s;
}

/* An offset: empty allowed only where `optional`. */
static void get_offset(reader *r, ss_offset *out, bool optional) {
    ss_slice s = get_str(r);
    memset(out, 0, sizeof *out);
    if (r->bad)
        return;
    if (s.len == 0) {
        r->bad = !optional;
        return;
    }
    if (!ss_offset_is_safe_token(s) || ss_offset_set(out, s))
        r->bad = true;
}

static ss_rc read_stream(reader *r, ss_arena *a, ss__do_snap_stream *s) {
    ss_record *rec = &s->record;
    memset(s, 0, sizeof *s);
    rec->id = get_str(r);
    rec->content_type = get_str(r);
    rec->created_ms = (int64_t)get_le(r, 8);
    rec->has_ttl = get_flag(r);
    rec->ttl_s = get_le(r, 8);
    rec->expires_at = get_str(r);
    rec->has_last_seq = get_flag(r);
    rec->last_seq = get_str(r);
    rec->closed = get_flag(r);
    rec->closed_ms = (int64_t)get_le(r, 8);
    rec->forked_from = get_str(r);
    get_offset(r, &rec->fork_offset, true);
    rec->fork_sub_offset = get_le(r, 8);
    get_offset(r, &rec->tail, false);
    rec->counter = get_le(r, 8);
    rec->soft_deleted = get_flag(r);
    uint64_t n = get_le(r, 4);
    if (r->bad || rec->id.len == 0 || n > (uint64_t)(r->end - r->p) / 16) /* a message takes >= 16 bytes */
        return SS_CORRUPT;
    s->msgs = n ? ss_arena_alloc(a, (size_t)n * sizeof *s->msgs) : NULL;
    if (n && !s->msgs)
        return SS_NOMEM;
    for (uint64_t i = 0; i < n; i++) {
        ss_message *m = &s->msgs[i];
        get_offset(r, &m->offset, false);
        m->ts_ms = (int64_t)get_le(r, 8);
        m->data = get_str(r);
        if (r->bad || (i > 0 && ss_offset_cmp(&s->msgs[i - 1].offset, &m->offset) >= 0))
            return SS_CORRUPT; /* offsets strictly increase */
    }
    s->n_msgs = (size_t)n;
    return SS_OK;
}

ss_rc ss__do_snap_read(ss_slice bytes, ss_arena *a, ss__do_snap_stream **out, size_t *out_n) {
    reader r = {(const unsigned char *)bytes.p, (const unsigned char *)bytes.p + bytes.len, false};
    if (bytes.len < MAGIC_LEN + 4 || memcmp(bytes.p, MAGIC, MAGIC_LEN) != 0)
        return SS_CORRUPT;
    r.p += MAGIC_LEN;
    uint64_t n = get_le(&r, 4);
    if (n == 0 || n > (uint64_t)(r.end - r.p) / 64) /* a stream takes >= 64 bytes */
        return SS_CORRUPT;
    ss__do_snap_stream *v = ss_arena_alloc(a, (size_t)n * sizeof *v);
    if (!v)
        return SS_NOMEM;
    for (uint64_t i = 0; i < n; i++) {
        ss_rc rc = read_stream(&r, a, &v[i]);
        if (rc)
            return rc;
    }
    if (r.p != r.end)
        return SS_CORRUPT;
    *out = v;
    *out_n = (size_t)n;
    return SS_OK;
}
