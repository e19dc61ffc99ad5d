/* A test allocator for ss_set_allocator: counts allocations, fails the Nth
 * on request, tracks what is still allocated (leaks, and bytes held) and
 * aborts on a free of memory it did not hand out (a pointer from another
 * allocator). */
#ifndef SS_TEST_FAULT_ALLOC_H
#define SS_TEST_FAULT_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Installs it (before creating anything) / restores the C library's. */
void fault_alloc_install(void);
void fault_alloc_uninstall(void);
/* Fails the nth allocation (malloc or realloc) from now; 0 disarms. */
void fault_alloc_arm(long nth);
/* Whether the armed failure happened. */
bool fault_alloc_failed(void);
/* Allocations not freed yet. */
long fault_alloc_live(void);
/* Bytes they hold (as asked for, without the allocator's headers). */
size_t fault_alloc_live_bytes(void);

#endif
