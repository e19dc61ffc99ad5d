/* Reads (catch-up and live), metadata and delete. */
#include <string.h>

#include "internal.h"

/* ---- fork-chain reads -------------------------------------------------------- */

static ss_rc chain_push(ss_arena *a, ss__chain_read *cr, const ss_message_batch *b) {
    if (cr->n == 0) { /* the common case, one level: adopt the batch's array */
        cr->msgs = b->msgs;
        cr->n = cr->cap = b->n;
        for (size_t i = 0; i < b->n; i++)
            cr->bytes += b->msgs[i].data.len;
        return SS_OK;
    }
    if (cr->n + b->n > cr->cap) {
        size_t cap = cr->cap ? cr->cap : 16;
        while (cap < cr->n + b->n)
            cap *= 2;
        ss_message *m = ss_arena_alloc(a, cap * sizeof *m);
        if (!m)
            return SS_NOMEM;
        if (cr->n)
            memcpy(m, cr->msgs, cr->n * sizeof *m);
        cr->msgs = m;
        cr->cap = cap;
    }
    for (size_t i = 0; i < b->n; i++) {
        cr->msgs[cr->n++] = b->msgs[i];
        cr->bytes += b->msgs[i].data.len;
    }
    return SS_OK;
}

/* One level's own messages after `own_after` up to `cap`, within what is
 * left of the read's byte budget (at least one message of progress). */
static ss_rc read_own_messages(ss_protocol *p, ss_storage_stream *st, const ss_offset *own_after,
                               const ss_offset *cap, ss_arena *a, ss__chain_read *cr) {
    if (cr->more)
        return SS_OK;
    ss_list_opts lo = {0};
    if (own_after) {
        lo.has_after = true;
        lo.after = *own_after;
    }
    if (cap) {
        lo.has_until = true;
        lo.until = *cap;
    }
    size_t budget = p->read_max_bytes;
    if (cr->n) {
        if (cr->bytes >= budget) {
            cr->more = true;
            return SS_OK;
        }
        lo.max_bytes = budget - cr->bytes;
    } else {
        lo.max_bytes = budget;
    }
    ss_message_batch b;
    ss_rc rc = ss_storage_list_messages(st, &lo, a, &b);
    if (rc)
        return rc;
    if (cr->n && b.n && cr->bytes + b.msgs[0].data.len > budget) {
        cr->more = true; /* the first own message would break the budget */
        return SS_OK;
    }
    if ((rc = chain_push(a, cr, &b)))
        return rc;
    cr->more = b.more;
    return SS_OK;
}

/* One level of a fork chain: a stream and the offset its reader stops at. */
typedef struct chain_level {
    ss_storage_stream *st; /* opened here (level 0 is the caller's) */
    ss_record rec;
    bool capped;
    ss_offset cap;
} chain_level;

/* Reads a stream and, first, the part of its fork chain a read after
 * `after` reaches: each source up to the offset its fork diverged at. The
 * chain is walked up into an array, then read from the oldest ancestor
 * down, with no recursion (a chain is at most SS_MAX_FORK_DEPTH deep; a
 * longer stored one is SS_CORRUPT). */
ss_rc ss__read_chain(ss_protocol *p, ss_storage_stream *st, const ss_record *rec, const ss_offset *after,
                     bool touch, ss_arena *a, ss__chain_read *cr) {
    chain_level one[4], *lv = one;
    size_t n = 1, cap = sizeof one / sizeof one[0];
    lv[0] = (chain_level){.st = st, .rec = *rec};
    ss_rc rc = SS_OK;
    /* Up: each level whose fork point lies after the read's start reads its source. */
    for (chain_level *cur = &lv[0];
         cur->rec.forked_from.len && (!after || ss_offset_cmp(after, &cur->rec.fork_offset) < 0);
         cur = &lv[n - 1]) {
        if (n > SS_MAX_FORK_DEPTH) {
            rc = SS_CORRUPT;
            break;
        }
        if (n == cap) {
            chain_level *grown = ss_arena_alloc(a, 2 * cap * sizeof *grown);
            if (!grown) {
                rc = SS_NOMEM;
                break;
            }
            memcpy(grown, lv, n * sizeof *lv);
            lv = grown;
            cap *= 2;
            cur = &lv[n - 1];
        }
        chain_level next = {.capped = true};
        next.cap =
            cur->capped && ss_offset_cmp(&cur->cap, &cur->rec.fork_offset) < 0 ? cur->cap : cur->rec.fork_offset;
        if ((rc = ss_storage_open(p->storage, cur->rec.forked_from, &next.st)))
            break;
        bool found;
        if ((rc = ss_storage_get_record(next.st, a, &next.rec, &found)) || !found) {
            ss_storage_close(next.st); /* a purged source contributes nothing */
            break;
        }
        lv[n++] = next;
    }
    /* Down: the oldest ancestor first; a level below a source read on from its fork point. */
    if (!rc && touch)
        ss__touch(p, st, rec);
    for (size_t i = n; !rc && i-- > 0;) {
        const ss_offset *own_after = i + 1 < n ? &lv[i].rec.fork_offset : after;
        rc = read_own_messages(p, lv[i].st, own_after, lv[i].capped ? &lv[i].cap : NULL, a, cr);
    }
    for (size_t i = 1; i < n; i++)
        ss_storage_close(lv[i].st);
    return rc;
}

/* next offset, up-to-date and closed for a read that returned `cr`. */
static void finish_range(const ss_record *r, const ss__chain_read *cr, ss_offset *next, bool *up_to_date,
                         bool *closed) {
    *next = cr->more ? cr->msgs[cr->n - 1].offset : r->tail;
    *up_to_date = !cr->more;
    *closed = r->closed && *up_to_date;
}

/* ---- catch-up ---------------------------------------------------------------- */

ss_rc ss_stream_read(ss_protocol_stream *s, const ss_read_options *o, ss_arena *a, ss_read_result *out) {
    memset(out, 0, sizeof *out);
    ss_record r;
    ss_rc rc = ss__load_present(s, a, &r, &out->status);
    if (rc || out->status != SS_PRESENT)
        return rc;
    ss__chain_read cr = {0};
    if ((rc = ss__read_chain(s->p, s->st, &r, o->has_offset ? &o->offset : NULL, true, a, &cr)))
        return rc;
    out->status = SS_PRESENT;
    out->msgs = cr.msgs;
    out->n = cr.n;
    finish_range(&r, &cr, &out->next_offset, &out->up_to_date, &out->closed);
    return SS_OK;
}

ss_rc ss_stream_read_to_tail(ss_protocol_stream *s, const ss_read_options *o, size_t max_bytes, ss_arena *a,
                             ss_read_result *out) {
    if (!max_bytes)
        max_bytes = SS_READ_TO_TAIL_DEFAULT_MAX_BYTES;
    ss_read_options at = *o;
    ss_read_result all = {0}, part;
    ss_message *v = NULL;
    size_t cap = 0, bytes = 0;
    ss_rc rc;
    for (;;) {
        if ((rc = ss_stream_read(s, &at, a, &part)) || part.status != SS_PRESENT) {
            if (!rc)
                *out = part; /* not found / gone: nothing else to say */
            return rc;
        }
        if (!all.n && part.up_to_date) { /* one read was enough: no copy */
            *out = part;
            return SS_OK;
        }
        for (size_t i = 0; i < part.n; i++)
            bytes += part.msgs[i].data.len;
        if (bytes > max_bytes)
            return SS_TOOBIG;
        if (all.n + part.n > cap) {
            size_t ncap = cap ? cap : 64;
            while (ncap < all.n + part.n)
                ncap *= 2;
            ss_message *nv = ss_arena_alloc(a, ncap * sizeof *nv);
            if (!nv)
                return SS_NOMEM;
            if (all.n)
                memcpy(nv, v, all.n * sizeof *v);
            v = nv;
            cap = ncap;
        }
        memcpy(v + all.n, part.msgs, part.n * sizeof *v);
        all.n += part.n;
        all.msgs = v;
        all.status = SS_PRESENT;
        all.next_offset = part.next_offset;
        all.up_to_date = part.up_to_date;
        all.closed = part.closed;
        if (part.up_to_date || !part.n) {
            *out = all;
            return SS_OK;
        }
        at.has_offset = true;
        at.offset = part.next_offset;
    }
}

/* ---- live ---------------------------------------------------------------------- */

static void live_from_chain(ss_protocol *p, const ss_record *r, const ss__chain_read *cr, ss_slice cursor,
                            ss_live_result *out) {
    out->msgs = cr->msgs;
    out->n = cr->n;
    finish_range(r, cr, &out->next_offset, &out->up_to_date, &out->closed);
    out->status = cr->n ? SS_LIVE_OK : SS_LIVE_TIMEOUT;
    ss__cursor(p, cursor, out->cursor);
}

/* Own messages after `from` (no fork-chain walk, no TTL touch): the caller
 * is at or past the fork point. */
static ss_rc read_own(ss_protocol *p, ss_storage_stream *st, const ss_offset *from, ss_arena *a,
                      ss__chain_read *cr) {
    return read_own_messages(p, st, from, NULL, a, cr);
}

static bool load_live(ss_protocol_stream *s, ss_arena *a, ss_record *r, ss_live_result *out, ss_rc *rc) {
    ss_presence pr;
    *rc = ss__load_present(s, a, r, &pr);
    if (*rc)
        return false;
    if (pr != SS_PRESENT) {
        out->status = pr == SS_GONE ? SS_LIVE_GONE : SS_LIVE_NOT_FOUND;
        return false;
    }
    return true;
}

ss_rc ss_stream_read_live_begin(ss_protocol_stream *s, const ss_live_options *o, ss_arena *a,
                                ss_live_result *out) {
    ss_protocol *p = s->p;
    memset(out, 0, sizeof *out);
    ss_record r;
    ss_rc rc;
    if (!load_live(s, a, &r, out, &rc))
        return rc;
    const ss_offset *after = o->has_offset ? &o->offset : NULL;
    bool before_fork = r.forked_from.len && (!after || ss_offset_cmp(after, &r.fork_offset) < 0);
    if (r.closed || before_fork) {
        /* Answer at once: EOF or remaining data of a closed stream, or the
         * inherited part of a fork. */
        ss__chain_read cr = {0};
        if ((rc = ss__read_chain(p, s->st, &r, after, true, a, &cr)))
            return rc;
        if (cr.n || r.closed) {
            live_from_chain(p, &r, &cr, o->cursor, out);
            return SS_OK;
        }
    } else {
        ss__touch(p, s->st, &r);
    }
    ss_offset from;
    if (after && ss_protocol_is_valid_offset(p, ss_offset_slice(after)))
        from = *after;
    else
        from = p->initial;
    if (ss_offset_cmp(&from, &r.tail) > 0) {
        /* Beyond the tail: answer at once with the real tail, never wait. */
        ss__chain_read none = {0};
        live_from_chain(p, &r, &none, o->cursor, out);
        return SS_OK;
    }
    ss__chain_read cr = {0};
    if ((rc = read_own(p, s->st, &from, a, &cr)))
        return rc;
    if (cr.n) {
        live_from_chain(p, &r, &cr, o->cursor, out);
        return SS_OK;
    }
    out->status = SS_LIVE_WAIT;
    out->next_offset = from;
    ss__cursor(p, o->cursor, out->cursor);
    return SS_OK;
}

/* ---- the answer shared within a wake batch ---------------------------------------- */

void ss__live_memo_release(ss__live_memo *m) {
    ss_arena_release(&m->arena);
    memset(m, 0, sizeof *m);
}

/* Copies n messages (array and bytes) into `a`. */
static ss_rc copy_messages(ss_arena *a, const ss_message *src, size_t n, ss_message **out) {
    *out = NULL;
    if (!n)
        return SS_OK;
    ss_message *m = ss_arena_alloc(a, n * sizeof *m);
    if (!m)
        return SS_NOMEM;
    for (size_t i = 0; i < n; i++) {
        m[i] = src[i];
        ss_rc rc = ss_arena_copy(a, src[i].data, &m[i].data);
        if (rc)
            return rc;
    }
    *out = m;
    return SS_OK;
}

/* The memo's answer for a waiter of this batch at `from`, copied into `a`
 * (so it lives as long as an answer read from storage would). */
static bool memo_take(ss_protocol *p, ss_protocol_stream *s, const ss_offset *from, ss_slice cursor, ss_arena *a,
                      ss_live_result *out, ss_rc *rc) {
    const ss__live_memo *m = &p->live_memo;
    uint64_t batch = p->waiters.firing;
    if (!batch || m->batch != batch || !ss_offset_eq(&m->from, from) || !ss_slice_eq(m->id, s->st->id))
        return false;
    *out = m->result;
    *rc = copy_messages(a, m->result.msgs, m->result.n, &out->msgs);
    if (*rc == SS_OK)
        ss__cursor(p, cursor, out->cursor);
    return true;
}

/* Leaves a copy of a batch's first answer with news for the other waiters;
 * best effort (out of memory just leaves the memo empty). */
static void memo_put(ss_protocol *p, ss_slice id, const ss_offset *from, const ss_live_result *r) {
    ss__live_memo *m = &p->live_memo;
    uint64_t batch = p->waiters.firing;
    if (!batch || m->batch == batch)
        return; /* outside a batch, or this batch already has its answer */
    ss__live_memo_release(m);
    m->result = *r;
    if (copy_messages(&m->arena, r->msgs, r->n, &m->result.msgs) || ss_arena_copy(&m->arena, id, &m->id)) {
        ss__live_memo_release(m);
        return;
    }
    m->result.cursor[0] = '\0';
    m->from = *from;
    m->batch = batch;
}

ss_rc ss_stream_read_live_finish(ss_protocol_stream *s, const ss_offset *from, ss_slice cursor, bool timed_out,
                                 ss_arena *a, ss_live_result *out) {
    ss_protocol *p = s->p;
    memset(out, 0, sizeof *out);
    ss_rc rc;
    if (memo_take(p, s, from, cursor, a, out, &rc))
        return rc;
    ss_record r;
    if (!load_live(s, a, &r, out, &rc))
        return rc;
    ss__chain_read cr = {0};
    if ((rc = read_own(p, s->st, from, a, &cr)))
        return rc;
    bool changed = cr.n || r.closed || !ss_offset_eq(&r.tail, from);
    if (!changed && !timed_out) {
        out->status = SS_LIVE_WAIT; /* a wake without news for us (a TTL touch): park again */
        out->next_offset = *from;
        ss__cursor(p, cursor, out->cursor);
        return SS_OK;
    }
    live_from_chain(p, &r, &cr, cursor, out);
    if (changed)
        memo_put(p, s->st->id, from, out);
    return SS_OK;
}

/* ---- metadata / delete -------------------------------------------------------- */

ss_rc ss_stream_metadata(ss_protocol_stream *s, ss_arena *a, ss_meta_result *out) {
    memset(out, 0, sizeof *out);
    ss_record r;
    ss_rc rc = ss__load_present(s, a, &r, &out->status);
    if (rc || out->status != SS_PRESENT)
        return rc;
    *out = (ss_meta_result){.status = SS_PRESENT,
                            .content_type = r.content_type,
                            .next_offset = r.tail,
                            .has_ttl = r.has_ttl,
                            .ttl_s = r.ttl_s,
                            .expires_at = r.expires_at,
                            .closed = r.closed};
    return SS_OK;
}

ss_rc ss_stream_delete(ss_protocol_stream *s, ss_presence *out) {
    ss_arena a;
    ss_arena_init(&a);
    ss_record r;
    bool found;
    ss_rc rc = ss__load_record(s->p, s->st, &a, &r, &found); /* lazy expiry first */
    ss_arena_release(&a);
    if (rc)
        return rc;
    if (!found) {
        *out = SS_NOT_FOUND;
        return SS_OK;
    }
    ss_delete_plan plan = {
        .id = s->st->id, .reason = SS_DELETE_USER, .effects = {.notify = true, .cancel_expiry = true}};
    ss_delete_outcome oc;
    if ((rc = ss_storage_delete(s->p->storage, &plan, &oc)))
        return rc;
    switch (oc) {
    case SS_DELETE_OUTCOME_PURGED:
    case SS_DELETE_OUTCOME_RETAINED_SOFT_DELETED:
        *out = SS_PRESENT;
        ss__emit_delete(s->p, s->st->id);
        break;
    case SS_DELETE_OUTCOME_NOT_FOUND:
        *out = SS_NOT_FOUND;
        break;
    case SS_DELETE_OUTCOME_GONE:
        *out = SS_GONE;
        break;
    }
    return SS_OK;
}
