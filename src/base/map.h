/* A string-keyed hash map (chained, FNV-1a). Keys are copied and owned by
 * the map; values are borrowed pointers the map never frees. Iteration order
 * is unspecified. Internal to Streamsy. */
#ifndef SS_BASE_MAP_H
#define SS_BASE_MAP_H

#include <stddef.h>

#include "streamsy/bytes.h"

typedef struct ss__map_entry ss__map_entry;

typedef struct ss__map {
    ss__map_entry **buckets;
    size_t n_buckets;
    size_t n;
} ss__map;

typedef struct ss__map_iter {
    size_t bucket;
    ss__map_entry *next;
} ss__map_iter;

void ss__map_init(ss__map *m);
/* Frees the map's own memory (keys, entries), not the values. */
void ss__map_release(ss__map *m);
void *ss__map_get(const ss__map *m, ss_slice key);
/* Inserts or replaces. */
SS_MUST_USE ss_rc ss__map_put(ss__map *m, ss_slice key, void *value);
/* Returns the removed value, or NULL. */
void *ss__map_remove(ss__map *m, ss_slice key);
static inline size_t ss__map_size(const ss__map *m) { return m->n; }

/* for (ss__map_iter it = {0}; ss__map_next(m, &it, &k, &v);) — do not modify
 * the map while iterating. */
bool ss__map_next(const ss__map *m, ss__map_iter *it, ss_slice *out_key, void **out_value);

#endif
