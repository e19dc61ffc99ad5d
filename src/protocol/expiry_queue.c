/* In-process expiry timers: a min-heap of (deadline, id) plus a map holding
 * each stream's live deadline. Re-arming pushes a new heap entry and leaves
 * the old one stale; stale entries are skipped when popped, and the heap is
 * rebuilt from the map when stale entries dominate. */
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "internal.h"

void ss__expiry_init(ss__expiry_queue *q) {
    q->heap = NULL;
    q->n = q->cap = 0;
    ss__map_init(&q->deadlines);
}

static void free_deadlines(ss__expiry_queue *q) {
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(&q->deadlines, &it, NULL, &v))
        free(v);
    ss__map_release(&q->deadlines);
}

void ss__expiry_release(ss__expiry_queue *q) {
    for (size_t i = 0; i < q->n; i++)
        free(q->heap[i].id);
    free(q->heap);
    free_deadlines(q);
    q->heap = NULL;
    q->n = q->cap = 0;
}

static void swap(ss__expiry_entry *a, ss__expiry_entry *b) {
    ss__expiry_entry t = *a;
    *a = *b;
    *b = t;
}

static void sift_up(ss__expiry_queue *q, size_t i) {
    while (i > 0 && q->heap[(i - 1) / 2].at_ms > q->heap[i].at_ms) {
        swap(&q->heap[(i - 1) / 2], &q->heap[i]);
        i = (i - 1) / 2;
    }
}

static void sift_down(ss__expiry_queue *q, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && q->heap[l].at_ms < q->heap[m].at_ms)
            m = l;
        if (r < q->n && q->heap[r].at_ms < q->heap[m].at_ms)
            m = r;
        if (m == i)
            return;
        swap(&q->heap[m], &q->heap[i]);
        i = m;
    }
}

static ss_rc push(ss__expiry_queue *q, ss_slice id, int64_t at_ms) {
    if (ss__grow(&q->heap, &q->cap, q->n, sizeof *q->heap, 64))
        return SS_NOMEM;
    char *copy = malloc(id.len + 1);
    if (!copy)
        return SS_NOMEM;
    memcpy(copy, id.p, id.len);
    copy[id.len] = '\0';
    q->heap[q->n] = (ss__expiry_entry){at_ms, copy, id.len};
    sift_up(q, q->n++);
    return SS_OK;
}

/* Drops stale entries by rebuilding the heap from the live deadlines. */
static void compact(ss__expiry_queue *q) {
    for (size_t i = 0; i < q->n; i++)
        free(q->heap[i].id);
    q->n = 0;
    ss__map_iter it = {0};
    ss_slice key;
    void *v;
    while (ss__map_next(&q->deadlines, &it, &key, &v))
        if (push(q, key, *(int64_t *)v))
            break; /* out of memory: the timer is lost; lazy expiry still holds */
}

ss_rc ss__expiry_schedule(ss__expiry_queue *q, ss_slice id, int64_t at_ms) {
    int64_t *d = ss__map_get(&q->deadlines, id);
    if (d && *d == at_ms)
        return SS_OK;
    if (!d) {
        d = malloc(sizeof *d);
        if (!d)
            return SS_NOMEM;
        ss_rc rc = ss__map_put(&q->deadlines, id, d);
        if (rc) {
            free(d);
            return rc;
        }
    }
    *d = at_ms;
    if (q->n > 1024 && q->n > 4 * ss__map_size(&q->deadlines))
        compact(q);
    return push(q, id, at_ms);
}

void ss__expiry_cancel(ss__expiry_queue *q, ss_slice id) { free(ss__map_remove(&q->deadlines, id)); }

bool ss__expiry_pop_due(ss__expiry_queue *q, int64_t now_ms, char **out_id, size_t *out_len) {
    while (q->n && q->heap[0].at_ms <= now_ms) {
        ss__expiry_entry e = q->heap[0];
        q->heap[0] = q->heap[--q->n];
        sift_down(q, 0);
        ss_slice id = {e.id, e.id_len};
        int64_t *d = ss__map_get(&q->deadlines, id);
        if (d && *d == e.at_ms) {
            free(ss__map_remove(&q->deadlines, id));
            *out_id = e.id;
            *out_len = e.id_len;
            return true;
        }
        free(e.id); /* stale: re-armed or cancelled */
    }
    return false;
}

int64_t ss__expiry_next(const ss__expiry_queue *q) { return q->n ? q->heap[0].at_ms : INT64_MAX; }
