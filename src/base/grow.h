/* Growing a heap array by doubling, and a region by chunks. Internal to
 * Streamsy. */
#ifndef SS_BASE_GROW_H
#define SS_BASE_GROW_H

#include <stdbool.h>
#include <stddef.h>

#include "streamsy/rc.h"

/* Makes room for one more element in the array *items (n used, *cap
 * allocated, elements of elem_size bytes): doubles the capacity, starting at
 * `first`. On SS_NOMEM (allocation failure or size overflow) *items and *cap
 * are unchanged. `items` is a pointer to the array pointer (any type). */
SS_MUST_USE ss_rc ss__grow(void *items, size_t *cap, size_t n, size_t elem_size, size_t first);

#define SS__CHUNK_MIN 4096
#define SS__CHUNK_MAX (256 * 1024)

/* The capacity of the next chunk of a region holding `total` bytes (an
 * arena, the memory adapter's message blocks), for a request of `size`:
 * chunks grow with the region, from SS__CHUNK_MIN to SS__CHUNK_MAX, so a
 * large region costs a few allocations, not one per 4 KiB. A request over a
 * quarter of that gets a chunk of exactly its size (*own): put it behind the
 * current chunk, whose free space stays usable. */
size_t ss__next_chunk(size_t total, size_t size, bool *own);

#endif
