/* The SQL engine's memory of what it read: stream records, and each
 * stream's messages from some offset up to its tail, so that the next read
 * of the same (the same tail, a long-poll's re-check, a fan-out's readers)
 * does not query the database again.
 *
 * Correctness rests on three rules (see ss_sql_engine):
 *   - every statement that writes a stream's rows drops that stream's
 *     entries first (ss__sql_run);
 *   - only reads outside intents fill the caches: an intent's own writes
 *     may still be rolled back, what is read outside one is what the
 *     connection holds now;
 *   - when an adapter rolls back more than one intent (a lost group-commit
 *     batch) it drops everything (ss__sql_forget_all).
 * Both caches are bounded; past a bound they start over empty. */
#include <string.h>

#include "sql_engine.h"
#include "streamsy/alloc.h"

/* One stream's record; its strings live in `a`. */
typedef struct cached_record {
    ss_arena a;
    ss_record r;
} cached_record;

/* All of one stream's messages after `from` (or from its start) up to its
 * tail when they were read; the bytes live in `a`, freed when the cache and
 * every read result that pins them (ss__sql_cached_messages) let go. */
typedef struct ss__sql_cached {
    size_t pins; /* 1 while in the cache, plus one per live read result */
    ss_arena a;
    bool from_start;
    ss_offset from;
    ss_message *msgs;
    size_t n;
    size_t bytes;
} cached_messages;

static void free_record(cached_record *c) {
    ss_arena_release(&c->a);
    ss_free(c);
}

static void unpin_messages(void *ctx) {
    cached_messages *c = ctx;
    if (--c->pins == 0) {
        ss_arena_release(&c->a);
        ss_free(c);
    }
}

/* Out of the cache (and its byte count); freed once no read holds it. */
static void free_messages(ss_sql_engine *e, cached_messages *c) {
    e->cached_message_bytes -= c->bytes;
    unpin_messages(c);
}

static void forget_all_messages(ss_sql_engine *e) {
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(&e->cached_messages, &it, NULL, &v))
        free_messages(e, v);
    ss__map_release(&e->cached_messages);
    ss__map_init(&e->cached_messages);
}

static void forget_all_records(ss_sql_engine *e) {
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(&e->cached_records, &it, NULL, &v))
        free_record(v);
    ss__map_release(&e->cached_records);
    ss__map_init(&e->cached_records);
}

void ss__sql_cache_init(ss_sql_engine *e) {
    ss__map_init(&e->cached_records);
    ss__map_init(&e->cached_messages);
    e->cached_message_bytes = 0;
}

void ss__sql_forget_all(ss_sql_engine *e) {
    forget_all_records(e);
    forget_all_messages(e);
    ss__sql_log_forget(e); /* the log rows listed may be gone too */
}

void ss__sql_forget(ss_sql_engine *e, ss_slice id) {
    cached_record *r = ss__map_remove(&e->cached_records, id);
    if (r)
        free_record(r);
    cached_messages *m = ss__map_remove(&e->cached_messages, id);
    if (m)
        free_messages(e, m);
}

const ss_record *ss__sql_cached_record(ss_sql_engine *e, ss_slice id) {
    const cached_record *c = ss__map_get(&e->cached_records, id);
    return c ? &c->r : NULL;
}

void ss__sql_cache_record(ss_sql_engine *e, const ss_record *r) {
    if (e->intent_depth)
        return;
    if (ss__map_size(&e->cached_records) >= SS_SQL_RECORD_CACHE_MAX)
        forget_all_records(e);
    cached_record *c = ss_malloc(sizeof *c);
    if (!c)
        return; /* best effort: just not cached */
    ss_arena_init(&c->a);
    cached_record *old = ss__map_remove(&e->cached_records, r->id);
    if (old)
        free_record(old);
    if (ss_record_copy(&c->a, r, &c->r) || ss__map_put(&e->cached_records, c->r.id, c))
        free_record(c);
}

ss__sql_cached *ss__sql_cached_messages(ss_sql_engine *e, ss_slice id, const ss_list_opts *o,
                                        const ss_message **out, size_t *out_n) {
    cached_messages *c = ss__map_get(&e->cached_messages, id);
    if (!c || !(c->from_start || (o->has_after && ss_offset_cmp(&o->after, &c->from) >= 0)))
        return NULL;
    *out = c->msgs;
    *out_n = c->n;
    return c;
}

size_t ss__sql_cached_bytes(const ss__sql_cached *c) { return c->bytes; }

ss_rc ss__sql_pin_cached(ss__sql_cached *c, ss_arena *a) {
    if (ss_arena_on_release(a, unpin_messages, c))
        return SS_NOMEM;
    c->pins++;
    return SS_OK;
}

void ss__sql_cache_messages(ss_sql_engine *e, ss_slice id, const ss_list_opts *o, const ss_message *msgs, size_t n,
                            size_t bytes) {
    if (e->intent_depth || bytes > SS_SQL_MESSAGE_CACHE_ENTRY_MAX)
        return;
    cached_messages *old = ss__map_remove(&e->cached_messages, id);
    if (old)
        free_messages(e, old);
    if (e->cached_message_bytes + bytes > SS_SQL_MESSAGE_CACHE_MAX ||
        ss__map_size(&e->cached_messages) >= SS_SQL_RECORD_CACHE_MAX)
        forget_all_messages(e);
    cached_messages *c = ss_calloc(1, sizeof *c);
    if (!c)
        return;
    c->pins = 1;
    ss_arena_init(&c->a);
    c->from_start = !o->has_after;
    if (o->has_after)
        c->from = o->after;
    c->n = n;
    bool ok = true;
    if (n) {
        c->msgs = ss_arena_alloc(&c->a, n * sizeof *c->msgs);
        ok = c->msgs != NULL;
        for (size_t i = 0; ok && i < n; i++) {
            c->msgs[i] = msgs[i];
            ok = ss_arena_copy(&c->a, msgs[i].data, &c->msgs[i].data) == SS_OK;
        }
    }
    if (!ok || ss__map_put(&e->cached_messages, id, c)) {
        ss_arena_release(&c->a);
        ss_free(c);
        return;
    }
    c->bytes = bytes;
    e->cached_message_bytes += bytes;
}

void ss__sql_cache_release(ss_sql_engine *e) {
    ss__sql_forget_all(e);
    ss__map_release(&e->cached_records);
    ss__map_release(&e->cached_messages);
}
