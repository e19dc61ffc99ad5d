/* The factory's version 3 slots: documents over the streamsy_documents
 * table (each put or remove is one intent, so with group commit it becomes
 * durable with the commits around it) and the list of stream ids. */
#include <string.h>

#include "base/grow.h"
#include "sql_engine.h"
#include "streamsy/alloc.h"

typedef struct doc_job {
    ss_sql_engine *e;
    ss_sql_stmt stmt;
    ss_sql_value args[2];
    size_t n_args;
} doc_job;

static ss_rc doc_body(void *ctx, bool *keep) {
    doc_job *j = ctx;
    ss_rc rc = ss__sql_exec(j->e, j->stmt, j->args, j->n_args);
    *keep = rc == SS_OK;
    return rc;
}

ss_rc ss__sql_doc_put(ss_stream_factory *f, ss_slice key, ss_slice value) {
    doc_job j = {ss__sql_of(f), SS_SQL_PUT_DOCUMENT, {ss_sql_text(key), ss_sql_blob(value)}, 2};
    return ss__sql_intent(j.e, doc_body, &j);
}

ss_rc ss__sql_doc_remove(ss_stream_factory *f, ss_slice key) {
    doc_job j = {ss__sql_of(f), SS_SQL_REMOVE_DOCUMENT, {ss_sql_text(key)}, 1};
    return ss__sql_intent(j.e, doc_body, &j);
}

typedef struct doc_row {
    ss_slice key, value;
} doc_row;

typedef struct doc_rows {
    ss_arena a;
    doc_row *v;
    size_t n, cap;
} doc_rows;

static ss_rc decode_doc(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    (void)stop;
    doc_rows *dr = ctx;
    if (n != 2 || c[0].type != SS_SQL_TEXT || (c[1].type != SS_SQL_BLOB && c[1].type != SS_SQL_TEXT))
        return SS_CORRUPT;
    if (ss__grow(&dr->v, &dr->cap, dr->n, sizeof *dr->v, 16))
        return SS_NOMEM;
    doc_row *r = &dr->v[dr->n];
    ss_rc rc = ss_arena_copy(&dr->a, c[0].s, &r->key);
    if (!rc)
        rc = ss_arena_copy(&dr->a, c[1].s, &r->value);
    if (!rc)
        dr->n++;
    return rc;
}

/* Collects first and calls afterwards, so fn may use the factory. */
ss_rc ss__sql_doc_for_each(ss_stream_factory *f, ss_slice prefix,
                           void (*fn)(void *ctx, ss_slice key, ss_slice value), void *ctx) {
    ss_sql_engine *e = ss__sql_of(f);
    doc_rows dr = {0};
    ss_arena_init(&dr.a);
    ss_sql_value arg = ss_sql_text(prefix.len ? prefix : (ss_slice){"", 0});
    ss_rc rc = ss__sql_run(e, SS_SQL_LIST_DOCUMENTS, &arg, 1, decode_doc, &dr);
    for (size_t i = 0; !rc && i < dr.n; i++)
        fn(ctx, dr.v[i].key, dr.v[i].value);
    ss_free(dr.v);
    ss_arena_release(&dr.a);
    return rc;
}

static ss_rc decode_id(void *ctx, const ss_sql_value *c, size_t n, bool *stop) {
    (void)stop;
    doc_rows *dr = ctx;
    if (n != 1 || c[0].type != SS_SQL_TEXT)
        return SS_CORRUPT;
    if (ss__grow(&dr->v, &dr->cap, dr->n, sizeof *dr->v, 64))
        return SS_NOMEM;
    ss_rc rc = ss_arena_copy(&dr->a, c[0].s, &dr->v[dr->n].key);
    if (!rc)
        dr->n++;
    return rc;
}

/* Collects first and calls afterwards, so fn may use the factory. */
ss_rc ss__sql_for_each_stream(ss_stream_factory *f, void (*fn)(void *ctx, ss_slice id), void *ctx) {
    doc_rows dr = {0};
    ss_arena_init(&dr.a);
    ss_rc rc = ss__sql_run(ss__sql_of(f), SS_SQL_LIST_STREAMS, NULL, 0, decode_id, &dr);
    for (size_t i = 0; !rc && i < dr.n; i++)
        fn(ctx, dr.v[i].key);
    ss_free(dr.v);
    ss_arena_release(&dr.a);
    return rc;
}
