/* See fault_alloc.h. Each block carries a header with a magic number and
 * its size, so a foreign pointer (or a double free) is caught at once. */
#include "fault_alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "streamsy/alloc.h"

#define MAGIC 0x5354524d53535931ull /* "STRMSSY1" */
#define FREED 0x4652454544424c4bull

typedef struct header {
    uint64_t magic;
    uint64_t size;
} header;

static long countdown; /* 0: disarmed; 1: the next allocation fails */
static bool failed;
static long live;
static size_t live_bytes;

static bool fail_now(void) {
    if (countdown == 0)
        return false;
    if (--countdown == 0) {
        failed = true;
        return true;
    }
    return false;
}

static header *header_of(void *p) {
    header *h = (header *)p - 1;
    if (h->magic != MAGIC) {
        fprintf(stderr, "fault_alloc: %p was not allocated by ss_malloc (or is freed twice)\n", p);
        abort();
    }
    return h;
}

static void *a_malloc(void *ctx, size_t n) {
    (void)ctx;
    if (fail_now())
        return NULL;
    header *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    *h = (header){MAGIC, n};
    live++;
    live_bytes += n;
    return h + 1;
}

static void *a_realloc(void *ctx, void *p, size_t n) {
    if (!p)
        return a_malloc(ctx, n);
    header *old = header_of(p);
    if (fail_now())
        return NULL;
    size_t was = old->size;
    header *h = realloc(old, sizeof *h + n);
    if (!h)
        return NULL;
    live_bytes = live_bytes - was + n;
    h->size = n;
    return h + 1;
}

static void a_free(void *ctx, void *p) {
    (void)ctx;
    header *h = header_of(p);
    h->magic = FREED;
    live--;
    live_bytes -= h->size;
    free(h);
}

void fault_alloc_install(void) {
    countdown = 0;
    failed = false;
    live = 0;
    live_bytes = 0;
    ss_set_allocator(&(ss_allocator){a_malloc, a_realloc, a_free, NULL});
}

void fault_alloc_uninstall(void) { ss_set_allocator(NULL); }

void fault_alloc_arm(long nth) {
    countdown = nth;
    failed = false;
}

bool fault_alloc_failed(void) { return failed; }

long fault_alloc_live(void) { return live; }
size_t fault_alloc_live_bytes(void) { return live_bytes; }
