/* Binary min-heap of deadline timers (see timers.h). */
#include "timers.h"
#include "streamsy/alloc.h"

#include <stdlib.h>

#include "grow.h"

void ss__timers_init(ss__timers *h) {
    h->v = NULL;
    h->n = h->cap = 0;
}

void ss__timers_release(ss__timers *h) {
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->slot = SS__TIMER_UNARMED;
    ss_free(h->v);
    ss__timers_init(h);
}

static void place(ss__timers *h, size_t i, ss__timer *t) {
    h->v[i] = t;
    t->slot = i;
}

static void sift_up(ss__timers *h, size_t i) {
    ss__timer *t = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->at <= t->at)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(ss__timers *h, size_t i) {
    ss__timer *t = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->at < h->v[c]->at)
            c++;
        if (t->at <= h->v[c]->at)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

ss_rc ss__timers_arm(ss__timers *h, ss__timer *t, int64_t at) {
    if (ss__timer_armed(t)) {
        t->at = at;
        sift_up(h, t->slot);
        sift_down(h, t->slot);
        return SS_OK;
    }
    if (ss__grow(&h->v, &h->cap, h->n, sizeof *h->v, 64))
        return SS_NOMEM;
    t->at = at;
    place(h, h->n++, t);
    sift_up(h, t->slot);
    return SS_OK;
}

void ss__timers_disarm(ss__timers *h, ss__timer *t) {
    if (!ss__timer_armed(t))
        return;
    size_t i = t->slot;
    t->slot = SS__TIMER_UNARMED;
    ss__timer *last = h->v[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->slot);
}

int64_t ss__timers_next(const ss__timers *h) { return h->n ? h->v[0]->at : INT64_MAX; }

ss__timer *ss__timers_pop_due(ss__timers *h, int64_t now) {
    if (!h->n || h->v[0]->at > now)
        return NULL;
    ss__timer *t = h->v[0];
    ss__timers_disarm(h, t);
    return t;
}
