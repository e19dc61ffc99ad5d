/* See fault_storage.h. The shim calls the wrapped factory through the
 * public wrappers; the wrapped factory has no effect host, so after-commit
 * effects run once, from the shim's own wrappers. */
#include "fault_storage.h"

#include <stdlib.h>
#include <string.h>

#include "streamsy/memory.h"
#include "streamsy/sqlite.h"

typedef struct fault_factory {
    ss_stream_factory base;
    ss_stream_factory_methods m; /* the inner factory's optional slots decide ours */
    ss_stream_factory *inner;
    long countdown; /* 0: disarmed */
    ss_rc rc;
    bool missing; /* the armed call reports "not found" rather than failing */
    const char *failed_slot;
} fault_factory;

typedef struct fault_stream {
    ss_storage_stream base;
    ss_storage_stream *inner;
} fault_stream;

static fault_factory *ff(ss_stream_factory *f) { return (fault_factory *)f; }
static fault_stream *fs(ss_storage_stream *s) { return (fault_stream *)s; }

/* True when this call is the one to fail. In "missing" mode only a
 * get_record can be that call; any other slot at that count disarms without
 * failing (and fault_storage_failed says so). */
static bool fail_here(fault_factory *f, const char *slot) {
    if (f->countdown == 0 || --f->countdown != 0)
        return false;
    if (f->missing && strcmp(slot, "get_record") != 0)
        return false;
    f->failed_slot = slot;
    return true;
}

#define FAIL_STREAM(s, slot)                                                                                      \
    do {                                                                                                          \
        fault_factory *f_ = ff((s)->factory);                                                                     \
        if (fail_here(f_, slot))                                                                                  \
            return f_->rc;                                                                                        \
    } while (0)

static ss_rc s_get_record(ss_storage_stream *s, ss_arena *a, ss_record *out, bool *out_found) {
    fault_factory *f = ff(s->factory);
    if (fail_here(f, "get_record")) {
        if (!f->missing)
            return f->rc;
        *out_found = false;
        return SS_OK;
    }
    return ss_storage_get_record(fs(s)->inner, a, out, out_found);
}

static ss_rc s_list(ss_storage_stream *s, const ss_list_opts *o, ss_arena *a, ss_message_batch *out) {
    FAIL_STREAM(s, "list_messages");
    return ss_storage_list_messages(fs(s)->inner, o, a, out);
}

static ss_rc s_get_producer(ss_storage_stream *s, ss_slice producer_id, ss_producer *out, bool *out_found) {
    FAIL_STREAM(s, "get_producer");
    return ss_storage_get_producer(fs(s)->inner, producer_id, out, out_found);
}

static ss_rc s_commit(ss_storage_stream *s, const ss_mutation_plan *p, ss_arena *a, ss_commit_outcome *out) {
    FAIL_STREAM(s, "commit");
    /* The plan's effects run in the shim's wrapper, not the inner one's. */
    return ss_storage_commit(fs(s)->inner, p, a, out);
}

static void s_close(ss_storage_stream *s) {
    ss_storage_close(fs(s)->inner);
    free(s);
}

static const ss_storage_stream_methods stream_methods = {
    .version = 1,
    .get_record = s_get_record,
    .list_messages = s_list,
    .get_producer = s_get_producer,
    .commit = s_commit,
    .close = s_close,
};

static ss_rc f_open(ss_stream_factory *f, ss_slice id, ss_storage_stream **out) {
    if (fail_here(ff(f), "open"))
        return SS_NOMEM;
    fault_stream *s = calloc(1, sizeof *s);
    if (!s)
        return SS_NOMEM;
    ss_rc rc = ss_storage_open(ff(f)->inner, id, &s->inner);
    if (rc) {
        free(s);
        return rc;
    }
    s->base.m = &stream_methods;
    s->base.factory = f;
    s->base.id = s->inner->id;
    *out = &s->base;
    return SS_OK;
}

static ss_rc f_create(ss_stream_factory *f, const ss_create_plan *p, ss_arena *a, ss_create_outcome *out) {
    if (fail_here(ff(f), "create"))
        return ff(f)->rc;
    return ss_storage_create(ff(f)->inner, p, a, out);
}

static ss_rc f_fork(ss_stream_factory *f, const ss_fork_plan *p, ss_arena *a, ss_create_outcome *out) {
    if (fail_here(ff(f), "fork"))
        return ff(f)->rc;
    return ss_storage_fork(ff(f)->inner, p, a, out);
}

static ss_rc f_remove(ss_stream_factory *f, const ss_delete_plan *p, ss_delete_outcome *out) {
    if (fail_here(ff(f), "remove"))
        return ff(f)->rc;
    return ss_storage_delete(ff(f)->inner, p, out);
}

static ss_rc f_schedule(ss_stream_factory *f, ss_slice id, int64_t at_ms) {
    if (fail_here(ff(f), "schedule_expiry"))
        return ff(f)->rc;
    return ss_storage_schedule_expiry(ff(f)->inner, id, at_ms);
}

static ss_rc f_cancel(ss_stream_factory *f, ss_slice id) {
    if (fail_here(ff(f), "cancel_expiry"))
        return ff(f)->rc;
    return ss_storage_cancel_expiry(ff(f)->inner, id);
}

static void f_destroy(ss_stream_factory *f) {
    ss_storage_factory_free(ff(f)->inner);
    free(f);
}

static ss_rc f_flush(ss_stream_factory *f) {
    if (fail_here(ff(f), "flush"))
        return ff(f)->rc;
    return ss_storage_flush(ff(f)->inner);
}

static ss_rc f_for_each_expiry(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id, int64_t at_ms),
                               void *ctx) {
    if (fail_here(ff(f), "for_each_expiry"))
        return ff(f)->rc;
    return ss_storage_for_each_expiry(ff(f)->inner, fn, ctx);
}

static ss_rc f_doc_put(ss_stream_factory *f, ss_slice key, ss_slice value) {
    if (fail_here(ff(f), "doc_put"))
        return ff(f)->rc;
    return ss_storage_doc_put(ff(f)->inner, key, value);
}

static ss_rc f_doc_remove(ss_stream_factory *f, ss_slice key) {
    if (fail_here(ff(f), "doc_remove"))
        return ff(f)->rc;
    return ss_storage_doc_remove(ff(f)->inner, key);
}

static ss_rc f_doc_for_each(ss_stream_factory *f, ss_slice prefix,
                            void (*fn)(void *ctx, ss_slice key, ss_slice value), void *ctx) {
    if (fail_here(ff(f), "doc_for_each"))
        return ff(f)->rc;
    return ss_storage_doc_for_each(ff(f)->inner, prefix, fn, ctx);
}

static ss_rc f_for_each_stream(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id), void *ctx) {
    if (fail_here(ff(f), "for_each_stream"))
        return ff(f)->rc;
    return ss_storage_for_each_stream(ff(f)->inner, fn, ctx);
}

ss_stream_factory *fault_storage_new(ss_stream_factory *inner) {
    fault_factory *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    const ss_stream_factory_methods *im = inner->m;
    f->m = (ss_stream_factory_methods){
        .version = 3,
        .name = im->name,
        .caps = im->caps,
        .open = f_open,
        .create = f_create,
        .fork = im->fork ? f_fork : NULL,
        .remove = f_remove,
        .schedule_expiry = im->schedule_expiry ? f_schedule : NULL,
        .cancel_expiry = im->cancel_expiry ? f_cancel : NULL,
        .destroy = f_destroy,
        .flush = im->version >= 2 && im->flush ? f_flush : NULL,
        .for_each_expiry = im->version >= 2 && im->for_each_expiry ? f_for_each_expiry : NULL,
        .doc_put = ss_storage_has_documents(inner) ? f_doc_put : NULL,
        .doc_remove = ss_storage_has_documents(inner) ? f_doc_remove : NULL,
        .doc_for_each = ss_storage_has_documents(inner) ? f_doc_for_each : NULL,
        .for_each_stream = im->version >= 3 && im->for_each_stream ? f_for_each_stream : NULL,
    };
    f->base.m = &f->m;
    f->inner = inner;
    return &f->base;
}

void fault_storage_arm(ss_stream_factory *f, long nth, ss_rc rc) {
    ff(f)->countdown = nth;
    ff(f)->rc = rc;
    ff(f)->missing = false;
    ff(f)->failed_slot = NULL;
}

void fault_storage_arm_missing(ss_stream_factory *f, long nth) {
    fault_storage_arm(f, nth, SS_OK);
    ff(f)->missing = true;
}

bool fault_storage_failed(const ss_stream_factory *f) { return ((const fault_factory *)f)->failed_slot != NULL; }

const char *fault_storage_failed_slot(const ss_stream_factory *f) {
    return ((const fault_factory *)f)->failed_slot;
}

ss_stream_factory *fault_storage_fresh(bool sqlite) {
    ss_stream_factory *inner;
    ss_rc rc = sqlite ? ss_sqlite_factory_open(&(ss_sqlite_options){.path = ":memory:"}, &inner, NULL, 0)
                      : ss_memory_factory_new(NULL, &inner);
    if (rc)
        return NULL;
    ss_stream_factory *f = fault_storage_new(inner);
    if (!f)
        ss_storage_factory_free(inner);
    return f;
}
