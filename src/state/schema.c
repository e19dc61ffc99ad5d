/* The collection table: name, wire type, value schema, primary-key field. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "streamsy/alloc.h"

static char *dup_or_null(const char *s) { return s ? ss_strdup(s) : NULL; }

void ss_state_schema_free(ss_state_schema *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        /* `type` is a separate copy even when it equals the name */
        ss_free((char *)s->colls[i].def.name);
        ss_free((char *)s->colls[i].def.type);
        ss_free((char *)s->colls[i].def.primary_key);
    }
    ss_free(s->colls);
    ss_free(s);
}

ss_rc ss_state_schema_new(const ss_state_collection_def *defs, size_t n, ss_state_schema **out) {
    if (n > SS_STATE_MAX_COLLECTIONS)
        return SS_TOOBIG;
    if (n && !defs)
        return SS_BADARG;
    for (size_t i = 0; i < n; i++) {
        const char *ti = defs[i].type && *defs[i].type ? defs[i].type : defs[i].name;
        if (!defs[i].name || !*defs[i].name || (defs[i].primary_key && !*defs[i].primary_key))
            return SS_BADARG;
        for (size_t j = 0; j < i; j++) {
            const char *tj = defs[j].type && *defs[j].type ? defs[j].type : defs[j].name;
            if (strcmp(defs[i].name, defs[j].name) == 0 || strcmp(ti, tj) == 0)
                return SS_BADARG;
        }
    }
    ss_state_schema *s = ss_calloc(1, sizeof *s);
    if (!s)
        return SS_NOMEM;
    s->colls = n ? ss_calloc(n, sizeof *s->colls) : NULL;
    if (n && !s->colls) {
        ss_free(s);
        return SS_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const ss_state_collection_def *d = &defs[i];
        ss__state_coll *c = &s->colls[i];
        s->n = i + 1; /* so a partial copy is freed below */
        c->def.name = ss_strdup(d->name);
        c->def.type = ss_strdup(d->type && *d->type ? d->type : d->name);
        c->def.primary_key = dup_or_null(d->primary_key);
        c->def.value_schema = d->value_schema;
        if (!c->def.name || !c->def.type || (d->primary_key && !c->def.primary_key)) {
            ss_state_schema_free(s);
            return SS_NOMEM;
        }
        c->type_len = strlen(c->def.type);
    }
    *out = s;
    return SS_OK;
}

size_t ss_state_schema_count(const ss_state_schema *s) { return s->n; }

const ss_state_collection_def *ss_state_schema_collection(const ss_state_schema *s, size_t i) {
    return i < s->n ? &s->colls[i].def : NULL;
}

/* Linear: schemas hold a handful of collections and the compare is a length
 * check first. */
size_t ss__state_find_type(const ss_state_schema *s, ss_slice type) {
    for (size_t i = 0; i < s->n; i++)
        if (s->colls[i].type_len == type.len && memcmp(s->colls[i].def.type, type.p, type.len) == 0)
            return i;
    return SS_STATE_NO_COLLECTION;
}

size_t ss__state_find_name(const ss_state_schema *s, const char *name) {
    if (!name)
        return SS_STATE_NO_COLLECTION;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->colls[i].def.name, name) == 0)
            return i;
    return SS_STATE_NO_COLLECTION;
}

const char *ss_state_operation_name(ss_state_operation op) {
    switch (op) {
    case SS_STATE_INSERT:
        return "insert";
    case SS_STATE_UPDATE:
        return "update";
    case SS_STATE_DELETE:
        return "delete";
    }
    return "?";
}

const char *ss_state_control_name(ss_state_control c) {
    switch (c) {
    case SS_STATE_SNAPSHOT_START:
        return "snapshot-start";
    case SS_STATE_SNAPSHOT_END:
        return "snapshot-end";
    case SS_STATE_RESET:
        return "reset";
    }
    return "?";
}
