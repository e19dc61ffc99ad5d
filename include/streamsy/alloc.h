/* The allocator every Streamsy allocation goes through.
 *
 * By default it is the C library's malloc/realloc/free. An embedder (or a
 * test injecting failures) can replace it once, before creating anything,
 * as with SQLite's SQLITE_CONFIG_MALLOC; memory allocated before the switch
 * must not be freed after it. SQLite, jansson, PCRE2 and h2o keep their own
 * allocators.
 *
 * Failure is always handled: a NULL from the allocator becomes SS_NOMEM (a
 * 503 over HTTP), never a crash or a half-written stream. */
#ifndef STREAMSY_ALLOC_H
#define STREAMSY_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss_allocator {
    void *(*malloc)(void *ctx, size_t n);           /* n > 0 */
    void *(*realloc)(void *ctx, void *p, size_t n); /* p may be NULL; n > 0 */
    void (*free)(void *ctx, void *p);               /* p is never NULL */
    void *ctx;
} ss_allocator;

/* Installs `a` (copied); NULL restores the C library's. Not thread-safe:
 * call it before any other Streamsy function. */
void ss_set_allocator(const ss_allocator *a);

void *ss_malloc(size_t n);
/* Zeroed; NULL when count * size overflows. */
void *ss_calloc(size_t count, size_t size);
void *ss_realloc(void *p, size_t n);
void ss_free(void *p);
char *ss_strdup(const char *s);
char *ss_strndup(const char *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif
