/* In-process expiry timers: one timer per stream with a deadline, on the
 * base timer heap, found again by stream id. Re-arming moves the stream's
 * timer; cancelling removes it. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "streamsy/alloc.h"

/* Owned by: the queue (freed when popped, cancelled or released). */
typedef struct entry {
    ss__timer timer;
    size_t len;
    char id[]; /* NUL-terminated */
} entry;

static entry *entry_of(ss__timer *t) { return (entry *)((char *)t - offsetof(entry, timer)); }

void ss__expiry_init(ss__expiry_queue *q) {
    ss__timers_init(&q->heap);
    ss__map_init(&q->by_id);
}

void ss__expiry_release(ss__expiry_queue *q) {
    ss__timers_release(&q->heap); /* first: it touches the entries */
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(&q->by_id, &it, NULL, &v))
        ss_free(v);
    ss__map_release(&q->by_id);
}

ss_rc ss__expiry_schedule(ss__expiry_queue *q, ss_slice id, int64_t at_ms) {
    entry *e = ss__map_get(&q->by_id, id);
    if (!e) {
        e = ss_malloc(sizeof *e + id.len + 1);
        if (!e)
            return SS_NOMEM;
        ss__timer_init(&e->timer);
        e->len = id.len;
        if (id.len)
            memcpy(e->id, id.p, id.len);
        e->id[id.len] = '\0';
        ss_rc rc = ss__map_put(&q->by_id, ss_slice_of(e->id, e->len), e);
        if (rc) {
            ss_free(e);
            return rc;
        }
    }
    ss_rc rc = ss__timers_arm(&q->heap, &e->timer, at_ms);
    if (rc) { /* out of memory: the timer is lost; lazy expiry still holds */
        ss__map_remove(&q->by_id, id);
        ss_free(e);
    }
    return rc;
}

void ss__expiry_cancel(ss__expiry_queue *q, ss_slice id) {
    entry *e = ss__map_remove(&q->by_id, id);
    if (e) {
        ss__timers_disarm(&q->heap, &e->timer);
        ss_free(e);
    }
}

bool ss__expiry_pop_due(ss__expiry_queue *q, int64_t now_ms, ss_buf *id) {
    ss__timer *t = ss__timers_pop_due(&q->heap, now_ms);
    if (!t)
        return false;
    entry *e = entry_of(t);
    ss__map_remove(&q->by_id, ss_slice_of(e->id, e->len));
    id->len = 0;
    ss_rc rc = ss_buf_append(id, e->id, e->len);
    ss_free(e);
    return rc == SS_OK; /* out of memory: the timer is lost; lazy expiry still holds */
}

int64_t ss__expiry_next(const ss__expiry_queue *q) { return ss__timers_next(&q->heap); }
