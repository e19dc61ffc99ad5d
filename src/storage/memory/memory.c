/* The in-memory storage factory.
 *
 * A registry maps stream id -> mem_stream (record, message log, producer
 * map, child edges). Every method runs synchronously on the caller's thread,
 * which is the atomic boundary: a commit checks all preconditions, allocates
 * everything it needs, and only then mutates. Deletes use cascade reclaim
 * with reference counting over the child edges.
 *
 * Reads hand out message bytes by reference, not by copy: a stream's bytes
 * never move or change once appended, and a read pins the blocks holding
 * its window in the caller's arena (ss_arena_on_release), so they outlive a
 * purge of the stream for exactly as long as the reader's arena. A reader
 * of a purged stream keeps its window alive plus at most the rest of the
 * blocks at its two ends (SS__CHUNK_MAX each). */
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/map.h"
#include "streamsy/alloc.h"
#include "streamsy/lineage.h"
#include "streamsy/memory.h"

typedef struct mem_msg {
    ss_offset offset;
    int64_t ts_ms;
    const char *data; /* in `block`, NUL-terminated */
    size_t len;
    struct mem_block *block;
} mem_msg;

/* Message bytes, appended and never changed. Blocks grow with the stream
 * as arena chunks do (ss__next_chunk; a large message gets a block of its
 * own), and a block is freed when its stream and every read result that
 * pins it are gone. */
typedef struct mem_block {
    struct mem_block *next; /* the stream's blocks; the first takes new messages */
    size_t pins;            /* 1 while the stream lives, plus one per read result */
    size_t used, cap;
    _Alignas(16) char bytes[];
} mem_block;

/* Owned by: the factory's registry. Lifetime: create/fork until purge. */
typedef struct mem_stream {
    ss_record rec; /* id, content_type, expires_at, forked_from live in `strings` */
    ss_arena strings;
    ss_buf last_seq;   /* rec.last_seq points here */
    mem_block *blocks; /* message bytes */
    size_t data_bytes; /* in all blocks, for sizing the next one */
    mem_msg *msgs;
    size_t n_msgs;
    size_t cap_msgs;
    ss__map producers; /* producer id -> ss_producer* (malloc'd) */
    ss__map children;  /* child id -> non-NULL marker */
} mem_stream;

typedef struct mem_factory {
    ss_stream_factory base;
    ss__map streams; /* id -> mem_stream* */
    ss__map docs;    /* key -> mem_doc* (owned) */
    ss_lineage_store lineage;
    ss_lineage_policy policy;
} mem_factory;

typedef struct mem_handle {
    ss_storage_stream base;
    char id[]; /* base.id points here */
} mem_handle;

static mem_factory *factory_of(ss_stream_factory *f) { return (mem_factory *)f; }

static mem_stream *lookup(mem_factory *mf, ss_slice id) { return ss__map_get(&mf->streams, id); }

static void block_unpin(void *ctx) {
    mem_block *b = ctx;
    if (--b->pins == 0)
        ss_free(b);
}

/* ---- stream lifetime ------------------------------------------------------ */

static void stream_free(mem_stream *st) {
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(&st->producers, &it, NULL, &v))
        ss_free(v);
    ss__map_release(&st->producers);
    ss__map_release(&st->children);
    ss_arena_release(&st->strings);
    for (mem_block *b = st->blocks, *next; b; b = next) {
        next = b->next;
        block_unpin(b);
    }
    ss_buf_release(&st->last_seq);
    ss_free(st->msgs);
    ss_free(st);
}

static ss_rc reserve_msgs(mem_stream *st, size_t extra) {
    if (st->cap_msgs - st->n_msgs >= extra)
        return SS_OK;
    size_t cap = st->cap_msgs ? st->cap_msgs : 16;
    while (cap - st->n_msgs < extra)
        cap *= 2;
    mem_msg *m = ss_realloc(st->msgs, cap * sizeof *m);
    if (!m)
        return SS_NOMEM;
    st->msgs = m;
    st->cap_msgs = cap;
    return SS_OK;
}

/* Room for `size` bytes: the first block, or a new one (a block of its own
 * goes behind the first, which keeps taking the small ones). */
static mem_block *block_for(mem_stream *st, size_t size) {
    mem_block *first = st->blocks;
    if (first && first->cap - first->used >= size)
        return first;
    bool own;
    size_t cap = ss__next_chunk(st->data_bytes, size, &own);
    if (cap > SIZE_MAX - sizeof(mem_block))
        return NULL;
    mem_block *b = ss_malloc(sizeof *b + cap);
    if (!b)
        return NULL;
    *b = (mem_block){.pins = 1, .cap = cap};
    if (own && first) {
        b->next = first->next;
        first->next = b;
    } else {
        b->next = first;
        st->blocks = b;
    }
    return b;
}

/* Copies message bytes into the stream's blocks (NUL-terminated, as
 * ss_arena_copy leaves read results); the log entries are written into the
 * reserved tail slots but n_msgs is not advanced. */
static ss_rc stage_messages(mem_stream *st, const ss_message *msgs, size_t n) {
    ss_rc rc = reserve_msgs(st, n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        size_t len = msgs[i].data.len;
        mem_block *b = len < SIZE_MAX ? block_for(st, len + 1) : NULL;
        if (!b)
            return SS_NOMEM;
        char *p = b->bytes + b->used;
        if (len)
            memcpy(p, msgs[i].data.p, len);
        p[len] = '\0';
        b->used += len + 1;
        st->data_bytes += len + 1;
        st->msgs[st->n_msgs + i] = (mem_msg){msgs[i].offset, msgs[i].ts_ms, p, len, b};
    }
    return SS_OK;
}

static ss_rc set_last_seq(mem_stream *st, ss_slice seq) {
    ss_buf fresh;
    ss_buf_init(&fresh, SIZE_MAX);
    ss_rc rc = ss_buf_append(&fresh, seq.p ? seq.p : "", seq.len);
    if (rc) {
        ss_buf_release(&fresh);
        return rc;
    }
    ss_buf_release(&st->last_seq);
    st->last_seq = fresh;
    st->rec.has_last_seq = true;
    st->rec.last_seq = ss_buf_slice(&st->last_seq);
    return SS_OK;
}

/* Builds a stream from a complete record plus initial messages. */
static ss_rc stream_new(const ss_record *rec, const ss_message *msgs, size_t n, mem_stream **out) {
    mem_stream *st = ss_calloc(1, sizeof *st);
    if (!st)
        return SS_NOMEM;
    ss_arena_init(&st->strings);
    ss_buf_init(&st->last_seq, SIZE_MAX);
    ss__map_init(&st->producers);
    ss__map_init(&st->children);
    ss_rc rc = ss_record_copy(&st->strings, rec, &st->rec);
    if (!rc && rec->has_last_seq)
        rc = set_last_seq(st, rec->last_seq);
    if (!rc)
        rc = stage_messages(st, msgs, n);
    if (rc) {
        stream_free(st);
        return rc;
    }
    st->n_msgs = n;
    *out = st;
    return SS_OK;
}

static ss_rc copy_record_out(const mem_stream *st, ss_arena *a, ss_record *out) {
    return ss_record_copy(a, &st->rec, out);
}

/* ---- storage stream methods --------------------------------------------- */

static ss_rc m_get_record(ss_storage_stream *s, ss_arena *a, ss_record *out, bool *out_found) {
    mem_stream *st = lookup(factory_of(s->factory), s->id);
    if (!st) {
        *out_found = false;
        return SS_OK;
    }
    ss_rc rc = copy_record_out(st, a, out);
    if (!rc)
        *out_found = true;
    return rc;
}

/* First index whose offset is greater than `after`. */
static size_t first_after(const mem_stream *st, const ss_offset *after) {
    size_t lo = 0, hi = st->n_msgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ss_offset_cmp(&st->msgs[mid].offset, after) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static ss_rc m_list_messages(ss_storage_stream *s, const ss_list_opts *o, ss_arena *a, ss_message_batch *out) {
    mem_stream *st = lookup(factory_of(s->factory), s->id);
    ss_message_batch b = {NULL, 0, false};
    if (!st) {
        *out = b;
        return SS_OK;
    }
    size_t start = o->has_after ? first_after(st, &o->after) : 0;
    size_t end = start, bytes = 0;
    while (end < st->n_msgs) {
        const mem_msg *m = &st->msgs[end];
        if (o->has_until && ss_offset_cmp(&m->offset, &o->until) > 0)
            break;
        if ((o->limit && end - start >= o->limit) ||
            (o->max_bytes && end > start && bytes + m->len > o->max_bytes)) {
            b.more = true;
            break;
        }
        bytes += m->len;
        end++;
    }
    b.n = end - start;
    if (b.n) {
        b.msgs = ss_arena_alloc(a, b.n * sizeof *b.msgs);
        if (!b.msgs)
            return SS_NOMEM;
        const mem_block *pinned = NULL;
        for (size_t i = 0; i < b.n; i++) {
            const mem_msg *m = &st->msgs[start + i];
            if (m->block != pinned) { /* consecutive messages mostly share one */
                if (ss_arena_on_release(a, block_unpin, m->block))
                    return SS_NOMEM; /* the pins taken so far go with the arena */
                m->block->pins++;
                pinned = m->block;
            }
            b.msgs[i] = (ss_message){ss_slice_of(m->data, m->len), m->offset, m->ts_ms};
        }
    }
    *out = b;
    return SS_OK;
}

static ss_rc m_get_producer(ss_storage_stream *s, ss_slice producer_id, ss_producer *out, bool *out_found) {
    mem_stream *st = lookup(factory_of(s->factory), s->id);
    ss_producer *p = st ? ss__map_get(&st->producers, producer_id) : NULL;
    *out_found = p != NULL;
    if (p)
        *out = *p;
    return SS_OK;
}

static ss_fail_reason check_preconditions(mem_stream *st, const ss_mutation_plan *p) {
    ss_fail_reason why = ss_plan_check_record(p, &st->rec);
    if (why == SS_FAIL_NONE && p->has_producer &&
        !ss_plan_producer_matches(p, ss__map_get(&st->producers, p->producer.id)))
        why = SS_FAIL_PRODUCER;
    if (why == SS_FAIL_NONE && ss_plan_producer_limit_reached(p, ss__map_size(&st->producers)))
        why = SS_FAIL_PRODUCER_LIMIT;
    return why;
}

static ss_rc m_commit(ss_storage_stream *s, const ss_mutation_plan *p, ss_arena *a, ss_commit_outcome *out) {
    mem_stream *st = lookup(factory_of(s->factory), s->id);
    ss_commit_outcome o = {.status = SS_COMMIT_PRECONDITION_FAILED, .reason = SS_FAIL_OFFSET};
    if (!st) {
        *out = o;
        return SS_OK;
    }
    o.reason = check_preconditions(st, p);
    if (o.reason != SS_FAIL_NONE) {
        o.has_record = true;
        ss_rc rc = copy_record_out(st, a, &o.record);
        if (!rc)
            *out = o;
        return rc;
    }
    /* Allocate everything first; nothing visible changes until all succeeded. */
    ss_rc rc = stage_messages(st, p->msgs, p->n_msgs);
    ss_producer *fresh = NULL;
    if (!rc && p->has_producer && !ss__map_get(&st->producers, p->producer.id)) {
        fresh = ss_malloc(sizeof *fresh);
        rc = fresh ? ss__map_put(&st->producers, p->producer.id, fresh) : SS_NOMEM;
        if (rc) {
            ss_free(fresh);
            fresh = NULL;
        }
    }
    if (!rc && (p->patch.set & SS_PATCH_LAST_SEQ))
        rc = set_last_seq(st, p->patch.last_seq);
    if (rc) {
        if (fresh)
            ss_free(ss__map_remove(&st->producers, p->producer.id));
        return rc;
    }
    st->n_msgs += p->n_msgs;
    ss_record_patch patch = p->patch;
    patch.set &= ~(unsigned)SS_PATCH_LAST_SEQ; /* already applied with an owned copy */
    ss_record_apply_patch(&st->rec, &patch);
    if (p->has_producer)
        *(ss_producer *)ss__map_get(&st->producers, p->producer.id) = p->producer.next;
    o.status = SS_COMMIT_COMMITTED;
    o.has_record = true;
    rc = copy_record_out(st, a, &o.record);
    if (!rc)
        *out = o;
    return rc;
}

static void m_close(ss_storage_stream *s) { ss_free(s); }

static const ss_storage_stream_methods mem_stream_methods = {
    .version = 1,
    .get_record = m_get_record,
    .list_messages = m_list_messages,
    .get_producer = m_get_producer,
    .commit = m_commit,
    .close = m_close,
};

/* ---- lineage store over the registry -------------------------------------- */

static ss_rc l_get_record(void *ctx, ss_slice id, ss_arena *a, ss_record *out, bool *out_found) {
    mem_stream *st = lookup(ctx, id);
    *out_found = st != NULL;
    return st ? copy_record_out(st, a, out) : SS_OK;
}

static ss_rc l_purge_self(void *ctx, ss_slice id) {
    mem_stream *st = ss__map_remove(&((mem_factory *)ctx)->streams, id);
    if (st)
        stream_free(st);
    return SS_OK;
}

static ss_rc l_soft_delete(void *ctx, ss_slice id) {
    mem_stream *st = lookup(ctx, id);
    if (st)
        st->rec.soft_deleted = true;
    return SS_OK;
}

static ss_rc l_add_edge(void *ctx, ss_slice parent, ss_slice child) {
    mem_stream *st = lookup(ctx, parent);
    return st ? ss__map_put(&st->children, child, st) : SS_OK;
}

static ss_rc l_drop_edge(void *ctx, ss_slice parent, ss_slice child) {
    mem_stream *st = lookup(ctx, parent);
    if (st)
        ss__map_remove(&st->children, child);
    return SS_OK;
}

static ss_rc l_count_dependents(void *ctx, ss_slice parent, uint64_t *out) {
    mem_stream *st = lookup(ctx, parent);
    *out = st ? ss__map_size(&st->children) : 0;
    return SS_OK;
}

/* ---- factory methods ------------------------------------------------------ */

static ss_rc f_open(ss_stream_factory *f, ss_slice id, ss_storage_stream **out) {
    mem_handle *h = ss_malloc(sizeof *h + id.len + 1);
    if (!h)
        return SS_NOMEM;
    memcpy(h->id, id.p, id.len);
    h->id[id.len] = '\0';
    h->base = (ss_storage_stream){&mem_stream_methods, f, ss_slice_of(h->id, id.len)};
    *out = &h->base;
    return SS_OK;
}

static ss_rc insert_stream(mem_factory *mf, const ss_record *rec, const ss_message *msgs, size_t n, ss_arena *a,
                           ss_create_outcome *out) {
    mem_stream *st;
    ss_rc rc = stream_new(rec, msgs, n, &st);
    if (rc)
        return rc;
    rc = ss__map_put(&mf->streams, st->rec.id, st);
    if (!rc)
        rc = copy_record_out(st, a, &out->record);
    if (rc) {
        ss__map_remove(&mf->streams, st->rec.id);
        stream_free(st);
        return rc;
    }
    out->status = SS_CREATE_OUTCOME_CREATED;
    return SS_OK;
}

static ss_rc f_create(ss_stream_factory *f, const ss_create_plan *p, ss_arena *a, ss_create_outcome *out) {
    mem_factory *mf = factory_of(f);
    mem_stream *existing = lookup(mf, p->record.id);
    if (existing) {
        out->status = SS_CREATE_OUTCOME_EXISTS;
        return copy_record_out(existing, a, &out->record);
    }
    return insert_stream(mf, &p->record, p->msgs, p->n_msgs, a, out);
}

static ss_rc f_fork(ss_stream_factory *f, const ss_fork_plan *p, ss_arena *a, ss_create_outcome *out) {
    mem_factory *mf = factory_of(f);
    mem_stream *existing = lookup(mf, p->child.id);
    if (existing) {
        out->status = SS_CREATE_OUTCOME_EXISTS;
        if (ss_slice_eq(existing->rec.forked_from, p->source_id)) {
            ss_rc rc = l_add_edge(mf, p->source_id, p->child.id); /* saga repair */
            if (rc)
                return rc;
        }
        return copy_record_out(existing, a, &out->record);
    }
    mem_stream *src = lookup(mf, p->source_id);
    if (!src || src->rec.soft_deleted || ss_offset_cmp(&src->rec.tail, &p->source_live_at) < 0) {
        out->status = SS_CREATE_OUTCOME_SOURCE_GONE;
        memset(&out->record, 0, sizeof out->record);
        return SS_OK;
    }
    ss_rc rc = ss__map_put(&src->children, p->child.id, src);
    if (rc)
        return rc;
    rc = insert_stream(mf, &p->child, p->msgs, p->n_msgs, a, out);
    if (rc)
        ss__map_remove(&src->children, p->child.id);
    return rc;
}

static ss_rc f_remove(ss_stream_factory *f, const ss_delete_plan *p, ss_delete_outcome *out) {
    mem_factory *mf = factory_of(f);
    return ss_lineage_cascade_reclaim(&mf->lineage, p, &mf->policy, out);
}

/* ---- documents: a map of heap copies ---------------------------------------------- */

typedef struct mem_doc {
    size_t len;
    char bytes[];
} mem_doc;

static ss_rc f_doc_put(ss_stream_factory *f, ss_slice key, ss_slice value) {
    mem_factory *mf = factory_of(f);
    mem_doc *d = ss_malloc(sizeof *d + value.len + 1);
    if (!d)
        return SS_NOMEM;
    d->len = value.len;
    if (value.len)
        memcpy(d->bytes, value.p, value.len);
    mem_doc *old = ss__map_get(&mf->docs, key);
    ss_rc rc = ss__map_put(&mf->docs, key, d);
    ss_free(rc ? d : old);
    return rc;
}

static ss_rc f_doc_remove(ss_stream_factory *f, ss_slice key) {
    ss_free(ss__map_remove(&factory_of(f)->docs, key));
    return SS_OK;
}

typedef struct doc_ref {
    ss_slice key, value;
} doc_ref;

static int doc_ref_cmp(const void *a, const void *b) {
    const ss_slice *x = &((const doc_ref *)a)->key, *y = &((const doc_ref *)b)->key;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Copies the matching documents first (fn may put and remove), then calls fn in key order. */
static ss_rc f_doc_for_each(ss_stream_factory *f, ss_slice prefix,
                            void (*fn)(void *ctx, ss_slice key, ss_slice value), void *ctx) {
    mem_factory *mf = factory_of(f);
    size_t n = 0;
    doc_ref *refs = ss_calloc(ss__map_size(&mf->docs) + 1, sizeof *refs);
    ss_arena a;
    ss_arena_init(&a);
    ss_rc rc = refs ? SS_OK : SS_NOMEM;
    ss__map_iter it = {0};
    ss_slice k;
    void *v;
    while (!rc && ss__map_next(&mf->docs, &it, &k, &v)) {
        if (k.len < prefix.len || (prefix.len && memcmp(k.p, prefix.p, prefix.len)))
            continue;
        const mem_doc *d = v;
        doc_ref *r = &refs[n];
        if (!(rc = ss_arena_copy(&a, k, &r->key)) &&
            !(rc = ss_arena_copy(&a, (ss_slice){d->bytes, d->len}, &r->value)))
            n++;
    }
    if (!rc) {
        qsort(refs, n, sizeof *refs, doc_ref_cmp);
        for (size_t i = 0; i < n; i++)
            fn(ctx, refs[i].key, refs[i].value);
    }
    ss_free(refs);
    ss_arena_release(&a);
    return rc;
}

static ss_rc f_for_each_stream(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id), void *ctx) {
    mem_factory *mf = factory_of(f);
    ss_slice *ids = ss_calloc(ss__map_size(&mf->streams) + 1, sizeof *ids);
    ss_arena a;
    ss_arena_init(&a);
    ss_rc rc = ids ? SS_OK : SS_NOMEM;
    size_t n = 0;
    ss__map_iter it = {0};
    ss_slice k;
    void *v;
    while (!rc && ss__map_next(&mf->streams, &it, &k, &v))
        if (!((mem_stream *)v)->rec.soft_deleted && !(rc = ss_arena_copy(&a, k, &ids[n])))
            n++;
    for (size_t i = 0; !rc && i < n; i++)
        fn(ctx, ids[i]);
    ss_free(ids);
    ss_arena_release(&a);
    return rc;
}

static void f_destroy(ss_stream_factory *f) {
    mem_factory *mf = factory_of(f);
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(&mf->streams, &it, NULL, &v))
        stream_free(v);
    ss__map_release(&mf->streams);
    for (it = (ss__map_iter){0}; ss__map_next(&mf->docs, &it, NULL, &v);)
        ss_free(v);
    ss__map_release(&mf->docs);
    ss_free(mf);
}

static const ss_stream_factory_methods mem_factory_methods = {
    .version = 3,
    .name = "memory",
    .caps = 0,
    .open = f_open,
    .create = f_create,
    .fork = f_fork,
    .remove = f_remove,
    .schedule_expiry = NULL,
    .cancel_expiry = NULL,
    .destroy = f_destroy,
    .doc_put = f_doc_put,
    .doc_remove = f_doc_remove,
    .doc_for_each = f_doc_for_each,
    .for_each_stream = f_for_each_stream,
};

static const ss_stream_factory_methods mem_forkless_methods = {
    .version = 3,
    .name = "memory-forkless",
    .caps = 0,
    .open = f_open,
    .create = f_create,
    .fork = NULL,
    .remove = f_remove,
    .schedule_expiry = NULL,
    .cancel_expiry = NULL,
    .destroy = f_destroy,
    .doc_put = f_doc_put,
    .doc_remove = f_doc_remove,
    .doc_for_each = f_doc_for_each,
    .for_each_stream = f_for_each_stream,
};

ss_rc ss_memory_factory_new(const ss_memory_options *opts, ss_stream_factory **out) {
    mem_factory *mf = ss_calloc(1, sizeof *mf);
    if (!mf)
        return SS_NOMEM;
    mf->base.m = (opts && opts->forkless) ? &mem_forkless_methods : &mem_factory_methods;
    ss__map_init(&mf->streams);
    ss__map_init(&mf->docs);
    mf->lineage = (ss_lineage_store){
        .get_record = l_get_record,
        .purge_self = l_purge_self,
        .soft_delete = l_soft_delete,
        .add_edge = l_add_edge,
        .drop_edge = l_drop_edge,
        .count_dependents = l_count_dependents,
        .ctx = mf,
    };
    ss_lineage_ref_count(&mf->lineage, &mf->policy);
    *out = &mf->base;
    return SS_OK;
}
