/* Which subscriptions an append concerns, without walking all of them: the
 * subscriptions that link the stream (by_stream), those whose pattern starts
 * with the stream's first path segment (by_first), and those whose pattern
 * starts with a wildcard (wild). A subscription is in the index from
 * ss__subs_register to ss__subs_unregister; ss__sub_add_link and
 * ss__sub_drop_link keep by_stream current for registered ones. */
#include <string.h>

#include "base/grow.h"
#include "internal.h"
#include "streamsy/alloc.h"

static ss_rc set_add(sub_set *set, subscription *sub) {
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i] == sub)
            return SS_OK;
    if (ss__grow(&set->v, &set->cap, set->n, sizeof *set->v, 4))
        return SS_NOMEM;
    set->v[set->n++] = sub;
    return SS_OK;
}

static void set_remove(sub_set *set, subscription *sub) {
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i] == sub) {
            set->v[i] = set->v[--set->n];
            return;
        }
}

static ss_rc map_add(ss__map *m, ss_slice key, subscription *sub) {
    sub_set *set = ss__map_get(m, key);
    if (!set) {
        if (!(set = ss_calloc(1, sizeof *set)))
            return SS_NOMEM;
        if (ss__map_put(m, key, set)) {
            ss_free(set);
            return SS_NOMEM;
        }
    }
    return set_add(set, sub);
}

static void map_remove(ss__map *m, ss_slice key, subscription *sub) {
    sub_set *set = ss__map_get(m, key);
    if (!set)
        return;
    set_remove(set, sub);
    if (!set->n) {
        ss__map_remove(m, key);
        ss_free(set->v);
        ss_free(set);
    }
}

static void map_release(ss__map *m) {
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(m, &it, NULL, &v)) {
        ss_free(((sub_set *)v)->v);
        ss_free(v);
    }
    ss__map_release(m);
}

/* The first segment of a normalised path or pattern; false when a pattern's
 * is a wildcard (or holds an escape: "%2A" matches '*'). */
static bool first_literal(const char *p, ss_slice *out) {
    size_t n = strcspn(p, "/");
    *out = ss_slice_of(p, n);
    return !memchr(p, '*', n) && !memchr(p, '%', n);
}

void ss__subs_index_init(ss_subs *s) {
    ss__map_init(&s->by_stream);
    ss__map_init(&s->by_first);
}

void ss__subs_index_release(ss_subs *s) {
    map_release(&s->by_stream);
    map_release(&s->by_first);
    ss_free(s->wild.v);
}

ss_rc ss__subs_index_link(ss_subs *s, subscription *sub, const char *path) {
    return map_add(&s->by_stream, ss_slice_cstr(path), sub);
}

void ss__subs_index_unlink(ss_subs *s, subscription *sub, const char *path) {
    map_remove(&s->by_stream, ss_slice_cstr(path), sub);
}

ss_rc ss__subs_register(ss_subs *s, subscription *sub) {
    ss_slice first;
    ss_rc rc = ss__map_put(&s->subs, ss_slice_cstr(sub->id), sub);
    if (!rc && sub->pattern)
        rc = first_literal(sub->pattern, &first) ? map_add(&s->by_first, first, sub) : set_add(&s->wild, sub);
    for (size_t i = 0; !rc && i < sub->n_links; i++)
        rc = ss__subs_index_link(s, sub, sub->links[i].path);
    sub->owner = s;
    sub->serial = ++s->next_serial;
    if (rc)
        ss__subs_unregister(s, sub);
    return rc;
}

void ss__subs_unregister(ss_subs *s, subscription *sub) {
    ss_slice first;
    if (ss__map_get(&s->subs, ss_slice_cstr(sub->id)) == sub)
        ss__map_remove(&s->subs, ss_slice_cstr(sub->id));
    if (sub->pattern && first_literal(sub->pattern, &first))
        map_remove(&s->by_first, first, sub);
    else if (sub->pattern)
        set_remove(&s->wild, sub);
    for (size_t i = 0; i < sub->n_links; i++)
        ss__subs_index_unlink(s, sub, sub->links[i].path);
    sub->owner = NULL;
}

static ss_rc add_unique(subscription ***v, size_t *n, size_t *cap, const sub_set *set, uint64_t mark) {
    for (size_t i = 0; set && i < set->n; i++) {
        if (set->v[i]->visit == mark)
            continue;
        if (ss__grow(v, cap, *n, sizeof **v, 8))
            return SS_NOMEM;
        set->v[i]->visit = mark;
        (*v)[(*n)++] = set->v[i];
    }
    return SS_OK;
}

ss_rc ss__subs_candidates(ss_subs *s, const char *path, subscription ***out, size_t *out_n) {
    uint64_t mark = ++s->visit_mark;
    subscription **v = NULL;
    size_t n = 0, cap = 0;
    ss_slice first;
    ss_rc rc = add_unique(&v, &n, &cap, ss__map_get(&s->by_stream, ss_slice_cstr(path)), mark);
    const char *p = path;
    while (*p == '/') /* globs ignore leading slashes */
        p++;
    if (!rc && first_literal(p, &first))
        rc = add_unique(&v, &n, &cap, ss__map_get(&s->by_first, first), mark);
    if (!rc)
        rc = add_unique(&v, &n, &cap, &s->wild, mark);
    if (rc) {
        ss_free(v);
        return rc;
    }
    *out = v;
    *out_n = n;
    return SS_OK;
}
