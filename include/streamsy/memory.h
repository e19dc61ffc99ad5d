/* The in-memory storage factory: everything in process memory, nothing
 * durable. Fork lineage uses cascade reclaim + reference counting. */
#ifndef STREAMSY_MEMORY_H
#define STREAMSY_MEMORY_H

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss_memory_options {
    bool forkless; /* leave the fork slot NULL (tests the not-supported path) */
} ss_memory_options;

/* opts may be NULL. Free with ss_storage_factory_free(). */
SS_MUST_USE ss_rc ss_memory_factory_new(const ss_memory_options *opts, ss_stream_factory **out);

#ifdef __cplusplus
}
#endif

#endif
