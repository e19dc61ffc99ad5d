/* See grow.h. */
#include "grow.h"
#include "streamsy/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t ss__next_chunk(size_t total, size_t size, bool *own) {
    size_t chunk = total < SS__CHUNK_MIN ? SS__CHUNK_MIN : total > SS__CHUNK_MAX ? SS__CHUNK_MAX : total;
    *own = size > chunk / 4;
    return *own ? size : chunk;
}

ss_rc ss__grow(void *items, size_t *cap, size_t n, size_t elem_size, size_t first) {
    if (n < *cap)
        return SS_OK;
    size_t want = *cap ? *cap : first;
    if (*cap && want > SIZE_MAX / 2 / elem_size)
        return SS_NOMEM;
    if (*cap)
        want *= 2;
    void *old;
    memcpy(&old, items, sizeof old);
    void *p = ss_realloc(old, want * elem_size);
    if (!p)
        return SS_NOMEM;
    memcpy(items, &p, sizeof p);
    *cap = want;
    return SS_OK;
}
