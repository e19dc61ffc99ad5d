/* Live-read waiters, keyed by stream id.
 *
 * notify() only marks a stream; run() fires its waiters later (once per loop
 * turn), so a commit never runs reader callbacks inside the writer's call.
 * Fired waiters are moved to a private list first, so a callback may re-park
 * itself or unpark any other waiter safely. Each stream's waiters fire as one
 * numbered batch (w->firing); a commit made by a callback renumbers the
 * batch, so while the number holds, an answer built for one waiter holds for
 * every other at the same offset. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "streamsy/alloc.h"

struct ss__wait_bucket {
    ss_waiter *head;
    size_t count;
    bool in_map;
    bool pending;
    ss__wait_bucket *next_pending;
    ss_slice id; /* points at key[] */
    char key[];
};

void ss__waiters_init(ss__waiters *w) {
    ss__map_init(&w->buckets);
    w->pending = NULL;
    w->firing = w->batches = 0;
}

void ss__waiters_release(ss__waiters *w) {
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(&w->buckets, &it, NULL, &v)) {
        ss__wait_bucket *b = v;
        for (ss_waiter *x = b->head; x; x = x->_next)
            x->_bucket = NULL;
        ss_free(b);
    }
    ss__map_release(&w->buckets);
    w->pending = NULL;
}

static void link_waiter(ss__wait_bucket *b, ss_waiter *x) {
    x->_prev = NULL;
    x->_next = b->head;
    if (b->head)
        b->head->_prev = x;
    b->head = x;
    x->_bucket = b;
    b->count++;
}

static void unlink_waiter(ss__wait_bucket *b, ss_waiter *x) {
    if (x->_prev)
        x->_prev->_next = x->_next;
    else
        b->head = x->_next;
    if (x->_next)
        x->_next->_prev = x->_prev;
    x->_next = x->_prev = NULL;
    x->_bucket = NULL;
    b->count--;
}

static void drop_if_idle(ss__waiters *w, ss__wait_bucket *b) {
    if (b->in_map && !b->head && !b->pending) {
        ss__map_remove(&w->buckets, b->id);
        ss_free(b);
    }
}

ss_rc ss__waiters_park(ss__waiters *w, ss_waiter *x, ss_slice id) {
    if (x->_bucket)
        return SS_MISUSE;
    ss__wait_bucket *b = ss__map_get(&w->buckets, id);
    if (!b) {
        b = ss_calloc(1, sizeof *b + id.len + 1);
        if (!b)
            return SS_NOMEM;
        memcpy(b->key, id.p, id.len);
        b->id = (ss_slice){b->key, id.len};
        b->in_map = true;
        ss_rc rc = ss__map_put(&w->buckets, b->id, b);
        if (rc) {
            ss_free(b);
            return rc;
        }
    } else if (b->count >= SS_MAX_WAITERS_PER_STREAM) {
        return SS_TOOBIG;
    }
    link_waiter(b, x);
    return SS_OK;
}

void ss__waiters_unpark(ss__waiters *w, ss_waiter *x) {
    ss__wait_bucket *b = x->_bucket;
    if (!b)
        return;
    unlink_waiter(b, x);
    drop_if_idle(w, b);
}

void ss__waiters_notify(ss__waiters *w, ss_slice id) {
    if (w->firing)
        w->firing = ++w->batches; /* a callback committed: answers shared so far are stale */
    ss__wait_bucket *b = ss__map_get(&w->buckets, id);
    if (!b || b->pending)
        return;
    b->pending = true;
    b->next_pending = w->pending;
    w->pending = b;
}

size_t ss__waiters_run(ss__waiters *w) {
    size_t fired = 0;
    while (w->pending) {
        ss__wait_bucket *b = w->pending;
        w->pending = b->next_pending;
        b->pending = false;
        /* Move every waiter to a private bucket, then fire them one by one. */
        ss__wait_bucket batch = {.head = NULL};
        while (b->head) {
            ss_waiter *x = b->head;
            unlink_waiter(b, x);
            link_waiter(&batch, x);
        }
        drop_if_idle(w, b);
        w->firing = ++w->batches;
        while (batch.head) {
            ss_waiter *x = batch.head;
            unlink_waiter(&batch, x);
            fired++;
            x->fire(x);
        }
        w->firing = 0;
    }
    return fired;
}
