/* Deadline timers: a binary min-heap keyed by an absolute time (ms), the one
 * timer heap of Streamsy: the protocol's expiry timers and the h2o front
 * end's live-read deadlines both run on it. Internal to Streamsy.
 *
 * Any deadline is armed, re-armed or disarmed in O(log n) (h2o 2.2.5's own
 * timeouts keep one FIFO list per fixed duration, which cannot express "the
 * rest of the original deadline" after a long-poll re-parks, nor "now" for an
 * SSE catch-up). Entries are embedded in their owner; the heap only points
 * at them. */
#ifndef SS_BASE_TIMERS_H
#define SS_BASE_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamsy/rc.h"

#define SS__TIMER_UNARMED SIZE_MAX

typedef struct ss__timer {
    int64_t at;  /* absolute deadline */
    size_t slot; /* index in the heap; SS__TIMER_UNARMED when not armed */
} ss__timer;

/* Owned by: whoever called ss__timers_init. */
typedef struct ss__timers {
    ss__timer **v;
    size_t n, cap;
} ss__timers;

void ss__timers_init(ss__timers *h);
/* Frees the heap's array; the entries themselves belong to their owners. */
void ss__timers_release(ss__timers *h);
static inline void ss__timer_init(ss__timer *t) { t->slot = SS__TIMER_UNARMED, t->at = 0; }
static inline bool ss__timer_armed(const ss__timer *t) { return t->slot != SS__TIMER_UNARMED; }
/* Arms t (re-arms if already armed). Fails only with SS_NOMEM. */
SS_MUST_USE ss_rc ss__timers_arm(ss__timers *h, ss__timer *t, int64_t at);
/* Safe on an unarmed timer. */
void ss__timers_disarm(ss__timers *h, ss__timer *t);
/* The earliest deadline, or INT64_MAX when empty. */
int64_t ss__timers_next(const ss__timers *h);
/* Removes and returns an entry whose deadline is <= now, or NULL. */
ss__timer *ss__timers_pop_due(ss__timers *h, int64_t now);

#endif
