/* The replaceable allocator (see streamsy/alloc.h). */
#include <stdlib.h>
#include <string.h>

#include "streamsy/alloc.h"

static void *libc_malloc(void *ctx, size_t n) {
    (void)ctx;
    return malloc(n);
}

static void *libc_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    return realloc(p, n);
}

static void libc_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static const ss_allocator libc = {libc_malloc, libc_realloc, libc_free, NULL};
static ss_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

void ss_set_allocator(const ss_allocator *a) { current = a ? *a : libc; }

void *ss_malloc(size_t n) { return current.malloc(current.ctx, n ? n : 1); }

void *ss_calloc(size_t count, size_t size) {
    if (size && count > (size_t)-1 / size)
        return NULL;
    void *p = ss_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *ss_realloc(void *p, size_t n) { return current.realloc(current.ctx, p, n ? n : 1); }

void ss_free(void *p) {
    if (p)
        current.free(current.ctx, p);
}

char *ss_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *d = ss_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *ss_strdup(const char *s) { return ss_strndup(s, (size_t)-1); }
