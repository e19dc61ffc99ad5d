/* Growing a heap array by doubling. Internal to Streamsy. */
#ifndef SS_BASE_GROW_H
#define SS_BASE_GROW_H

#include <stddef.h>

#include "streamsy/rc.h"

/* Makes room for one more element in the array *items (n used, *cap
 * allocated, elements of elem_size bytes): doubles the capacity, starting at
 * `first`. On SS_NOMEM (allocation failure or size overflow) *items and *cap
 * are unchanged. `items` is a pointer to the array pointer (any type). */
SS_MUST_USE ss_rc ss__grow(void *items, size_t *cap, size_t n, size_t elem_size, size_t first);

#endif
