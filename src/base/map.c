/* String-keyed hash map; see map.h. */
#include "map.h"
#include "streamsy/alloc.h"

#include <stdlib.h>
#include <string.h>

struct ss__map_entry {
    ss__map_entry *next;
    uint64_t hash;
    void *value;
    size_t key_len;
    char key[];
};

static uint64_t hash_key(ss_slice k) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < k.len; i++) {
        h ^= (unsigned char)k.p[i];
        h *= 1099511628211ull;
    }
    return h;
}

void ss__map_init(ss__map *m) { *m = (ss__map){NULL, 0, 0}; }

void ss__map_release(ss__map *m) {
    for (size_t i = 0; i < m->n_buckets; i++) {
        ss__map_entry *e = m->buckets[i];
        while (e) {
            ss__map_entry *next = e->next;
            ss_free(e);
            e = next;
        }
    }
    ss_free(m->buckets);
    ss__map_init(m);
}

static ss__map_entry **find_slot(const ss__map *m, ss_slice key, uint64_t h) {
    if (!m->n_buckets)
        return NULL;
    ss__map_entry **slot = &m->buckets[h & (m->n_buckets - 1)];
    while (*slot) {
        ss__map_entry *e = *slot;
        if (e->hash == h && e->key_len == key.len && memcmp(e->key, key.p, key.len) == 0)
            return slot;
        slot = &e->next;
    }
    return NULL;
}

void *ss__map_get(const ss__map *m, ss_slice key) {
    ss__map_entry **slot = find_slot(m, key, hash_key(key));
    return slot ? (*slot)->value : NULL;
}

static ss_rc grow(ss__map *m) {
    size_t nb = m->n_buckets ? m->n_buckets * 2 : 16;
    ss__map_entry **b = ss_calloc(nb, sizeof *b);
    if (!b)
        return SS_NOMEM;
    for (size_t i = 0; i < m->n_buckets; i++) {
        ss__map_entry *e = m->buckets[i];
        while (e) {
            ss__map_entry *next = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    ss_free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
    return SS_OK;
}

ss_rc ss__map_put(ss__map *m, ss_slice key, void *value) {
    uint64_t h = hash_key(key);
    ss__map_entry **slot = find_slot(m, key, h);
    if (slot) {
        (*slot)->value = value;
        return SS_OK;
    }
    if (m->n >= m->n_buckets) {
        ss_rc rc = grow(m);
        if (rc)
            return rc;
    }
    ss__map_entry *e = ss_malloc(sizeof *e + key.len + 1);
    if (!e)
        return SS_NOMEM;
    e->hash = h;
    e->value = value;
    e->key_len = key.len;
    if (key.len)
        memcpy(e->key, key.p, key.len);
    e->key[key.len] = '\0';
    size_t j = h & (m->n_buckets - 1);
    e->next = m->buckets[j];
    m->buckets[j] = e;
    m->n++;
    return SS_OK;
}

void *ss__map_remove(ss__map *m, ss_slice key) {
    ss__map_entry **slot = find_slot(m, key, hash_key(key));
    if (!slot)
        return NULL;
    ss__map_entry *e = *slot;
    void *v = e->value;
    *slot = e->next;
    ss_free(e);
    m->n--;
    return v;
}

bool ss__map_next(const ss__map *m, ss__map_iter *it, ss_slice *out_key, void **out_value) {
    while (!it->next) {
        if (it->bucket >= m->n_buckets)
            return false;
        it->next = m->buckets[it->bucket++];
    }
    ss__map_entry *e = it->next;
    it->next = e->next;
    if (out_key)
        *out_key = (ss_slice){e->key, e->key_len};
    if (out_value)
        *out_value = e->value;
    return true;
}
