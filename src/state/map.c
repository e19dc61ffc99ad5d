/* Materialized state: per collection, key -> value (STATE-PROTOCOL §5). */
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "internal.h"
#include "streamsy/alloc.h"

/* A change held back between snapshot-start and snapshot-end (ATOMIC mode). */
typedef struct staged {
    size_t coll;
    char *key;     /* owned */
    json_t *value; /* a reference; NULL = delete */
} staged;

struct ss_state_map {
    const ss_state_schema *schema; /* borrowed */
    ss_state_snapshot_mode mode;
    ss__map *colls; /* one per collection: key -> json_t* (one reference each) */
    bool has_offset;
    ss_offset offset;
    bool in_snapshot;
    staged *staged;
    size_t n_staged, cap_staged;
    char *reset_offset; /* owned; NULL = none */
};

ss_rc ss_state_map_new(const ss_state_schema *s, const ss_state_map_options *opts, ss_state_map **out) {
    ss_state_map *m = ss_calloc(1, sizeof *m);
    if (!m)
        return SS_NOMEM;
    m->schema = s;
    m->mode = opts ? opts->snapshot_mode : SS_STATE_SNAPSHOT_HINT;
    m->colls = ss_calloc(s->n ? s->n : 1, sizeof *m->colls);
    if (!m->colls) {
        ss_free(m);
        return SS_NOMEM;
    }
    for (size_t i = 0; i < s->n; i++)
        ss__map_init(&m->colls[i]);
    *out = m;
    return SS_OK;
}

static void drop_staged(ss_state_map *m) {
    for (size_t i = 0; i < m->n_staged; i++) {
        ss_free(m->staged[i].key);
        json_decref(m->staged[i].value);
    }
    m->n_staged = 0;
}

static void clear_collections(ss_state_map *m) {
    for (size_t i = 0; i < m->schema->n; i++) {
        void *v;
        for (ss__map_iter it = {0}; ss__map_next(&m->colls[i], &it, NULL, &v);)
            json_decref(v);
        ss__map_release(&m->colls[i]);
    }
    drop_staged(m);
    m->in_snapshot = false;
}

void ss_state_map_clear(ss_state_map *m) {
    clear_collections(m);
    m->has_offset = false;
    ss_free(m->reset_offset);
    m->reset_offset = NULL;
}

void ss_state_map_free(ss_state_map *m) {
    if (!m)
        return;
    ss_state_map_clear(m);
    ss_free(m->staged);
    ss_free(m->colls);
    ss_free(m);
}

/* Takes a new reference to `value` (NULL = delete). */
static ss_rc set_entity(ss_state_map *m, size_t coll, const char *key, json_t *value) {
    ss_slice k = ss_slice_cstr(key);
    if (!value) {
        json_decref(ss__map_remove(&m->colls[coll], k)); /* missing key: no-op (ST-024) */
        return SS_OK;
    }
    json_t *old = ss__map_get(&m->colls[coll], k);
    if (ss__map_put(&m->colls[coll], k, json_incref(value))) {
        json_decref(value);
        return SS_NOMEM;
    }
    json_decref(old);
    return SS_OK;
}

static ss_rc stage(ss_state_map *m, size_t coll, const char *key, json_t *value) {
    if (ss__grow(&m->staged, &m->cap_staged, m->n_staged, sizeof *m->staged, 16))
        return SS_NOMEM;
    char *k = ss_strdup(key);
    if (!k)
        return SS_NOMEM;
    m->staged[m->n_staged++] = (staged){coll, k, value ? json_incref(value) : NULL};
    return SS_OK;
}

static ss_rc apply_staged(ss_state_map *m) {
    ss_rc rc = SS_OK;
    for (size_t i = 0; i < m->n_staged && rc == SS_OK; i++)
        rc = set_entity(m, m->staged[i].coll, m->staged[i].key, m->staged[i].value);
    drop_staged(m);
    return rc;
}

static ss_rc apply_control(ss_state_map *m, const ss_state_message *msg) {
    switch (msg->control) {
    case SS_STATE_SNAPSHOT_START:
        m->in_snapshot = true; /* a second start inside a snapshot keeps staging */
        return SS_OK;
    case SS_STATE_SNAPSHOT_END:
        m->in_snapshot = false;
        return apply_staged(m); /* nothing staged in HINT mode; an end without a start is a no-op */
    case SS_STATE_RESET: {
        char *at = msg->header_offset ? ss_strdup(msg->header_offset) : NULL;
        if (msg->header_offset && !at)
            return SS_NOMEM;
        clear_collections(m); /* also ends a snapshot and drops what it staged */
        ss_free(m->reset_offset);
        m->reset_offset = at;
        return SS_OK;
    }
    }
    return SS_MISUSE;
}

ss_rc ss_state_map_apply(ss_state_map *m, const ss_state_message *msg) {
    ss_rc rc;
    if (msg->kind == SS_STATE_CONTROL) {
        rc = apply_control(m, msg);
    } else if (msg->kind == SS_STATE_CHANGE) {
        if (msg->collection_index >= m->schema->n || !msg->key)
            return SS_MISUSE;
        /* insert and update are both "set" (ST-022, ST-023); old_value never matters (ST-025). */
        json_t *value = msg->operation == SS_STATE_DELETE ? NULL : (json_t *)msg->value;
        if (msg->operation != SS_STATE_DELETE && !value)
            return SS_MISUSE;
        if (m->mode == SS_STATE_SNAPSHOT_ATOMIC && m->in_snapshot)
            rc = stage(m, msg->collection_index, msg->key, value);
        else
            rc = set_entity(m, msg->collection_index, msg->key, value);
    } else {
        return SS_MISUSE; /* not an enumerator */
    }
    if (rc == SS_OK && msg->offset.len) {
        m->offset = msg->offset;
        m->has_offset = true;
    }
    return rc;
}

void ss__state_map_set_offset(ss_state_map *m, const ss_offset *o) {
    m->offset = *o;
    m->has_offset = true;
}

const json_t *ss_state_map_get(const ss_state_map *m, const char *collection, const char *key) {
    size_t ci = ss__state_find_name(m->schema, collection);
    if (ci == SS_STATE_NO_COLLECTION || !key)
        return NULL;
    return ss__map_get(&m->colls[ci], ss_slice_cstr(key));
}

size_t ss_state_map_count(const ss_state_map *m, const char *collection) {
    size_t ci = ss__state_find_name(m->schema, collection);
    return ci == SS_STATE_NO_COLLECTION ? 0 : ss__map_size(&m->colls[ci]);
}

bool ss_state_map_next(const ss_state_map *m, const char *collection, ss_state_map_iter *it, const char **key,
                       const json_t **value) {
    size_t ci = ss__state_find_name(m->schema, collection);
    if (ci == SS_STATE_NO_COLLECTION)
        return false;
    ss__map_iter mi = {it->_bucket, it->_next};
    ss_slice k;
    void *v;
    if (!ss__map_next(&m->colls[ci], &mi, &k, &v))
        return false;
    it->_bucket = mi.bucket;
    it->_next = mi.next;
    if (key)
        *key = k.p; /* map keys are NUL-terminated copies */
    if (value)
        *value = v;
    return true;
}

const ss_offset *ss_state_map_offset(const ss_state_map *m) { return m->has_offset ? &m->offset : NULL; }

bool ss_state_map_in_snapshot(const ss_state_map *m) { return m->in_snapshot; }

const char *ss_state_map_reset_offset(const ss_state_map *m) { return m->reset_offset; }

const ss_state_schema *ss__state_map_schema(const ss_state_map *m) { return m->schema; }
