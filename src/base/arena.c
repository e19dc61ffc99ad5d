/* A region allocator: chunks freed together by ss_arena_release. */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "streamsy/alloc.h"
#include "streamsy/bytes.h"

#define ARENA_ALIGN 16

struct ss_arena_chunk {
    ss_arena_chunk *next;
    size_t used;
    size_t cap;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

/* Lives in the arena's own chunks. */
struct ss_arena_hook {
    ss_arena_hook *next;
    void (*fn)(void *ctx);
    void *ctx;
};

void ss_arena_init(ss_arena *a) { *a = (ss_arena){NULL, NULL, 0}; }

void ss_arena_release(ss_arena *a) {
    for (ss_arena_hook *h = a->hooks; h; h = h->next)
        h->fn(h->ctx);
    a->hooks = NULL;
    ss_arena_chunk *c = a->head;
    while (c) {
        ss_arena_chunk *next = c->next;
        ss_free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

void *ss_arena_alloc(ss_arena *a, size_t n) {
    size_t size = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size < n)
        return NULL;
    ss_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        bool own;
        size_t cap = ss__next_chunk(a->total, size, &own);
        if (cap > SIZE_MAX - sizeof(ss_arena_chunk))
            return NULL;
        ss_arena_chunk *fresh = ss_malloc(sizeof(ss_arena_chunk) + cap);
        if (!fresh)
            return NULL;
        fresh->used = 0;
        fresh->cap = cap;
        if (c && own) {
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            a->head = fresh;
        }
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += size;
    a->total += size;
    return p;
}

ss_rc ss_arena_on_release(ss_arena *a, void (*fn)(void *ctx), void *ctx) {
    ss_arena_hook *h = ss_arena_alloc(a, sizeof *h);
    if (!h)
        return SS_NOMEM;
    *h = (ss_arena_hook){a->hooks, fn, ctx};
    a->hooks = h;
    return SS_OK;
}

ss_rc ss_arena_copy(ss_arena *a, ss_slice s, ss_slice *out) {
    char *p = ss_arena_alloc(a, s.len + 1);
    if (!p)
        return SS_NOMEM;
    if (s.len)
        memcpy(p, s.p, s.len);
    p[s.len] = '\0';
    *out = (ss_slice){p, s.len};
    return SS_OK;
}
