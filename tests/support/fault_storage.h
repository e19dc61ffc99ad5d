/* A storage shim for fault injection: wraps any factory and fails the Nth
 * call of any vtable slot (factory or stream, whichever comes Nth) with a
 * chosen result code, without calling the adapter. Every other call goes
 * through to the wrapped factory unchanged. */
#ifndef SS_TEST_FAULT_STORAGE_H
#define SS_TEST_FAULT_STORAGE_H

#include <stdbool.h>

#include "streamsy/storage.h"

/* Wraps `inner` (owned: freed with the shim by ss_storage_factory_free). */
ss_stream_factory *fault_storage_new(ss_stream_factory *inner);
/* The shim over a fresh memory factory, or over SQLite in memory; NULL on failure. */
ss_stream_factory *fault_storage_fresh(bool sqlite);
/* Fails the nth slot call from now with rc (open fails with SS_NOMEM, the
 * only failure its contract allows); 0 disarms. */
void fault_storage_arm(ss_stream_factory *f, long nth, ss_rc rc);
/* Instead of failing: the nth slot call, if it is get_record, reports the
 * stream missing (as if it expired or was deleted by then). */
void fault_storage_arm_missing(ss_stream_factory *f, long nth);
/* Whether the armed failure happened, and in which slot ("commit", ...). */
bool fault_storage_failed(const ss_stream_factory *f);
const char *fault_storage_failed_slot(const ss_stream_factory *f);

#endif
