/* The batching producer (ss_client_batcher, streamsy/client.h): items wait
 * in one buffer, already framed (a JSON array's elements, or bytes), and go
 * out as one producer append. */
#include <string.h>

#include "internal.h"
#include "streamsy/alloc.h"

#define DEFAULT_MAX_BYTES ((size_t)1 << 20)
#define DEFAULT_MAX_ITEMS 1000

struct ss_client_batcher {
    ss_client *c;
    const char *url;
    ss_client_producer *p;
    ss_client_batch_options o;
    ss_buf body;    /* the waiting items ("a,b" for JSON: brackets added when sent) */
    size_t items;   /* how many wait */
    long oldest_ms; /* when the first of them was added */
    bool kept;      /* the waiting batch was sent and got no answer or a 5xx: frozen until
                       it is answered (it may have landed under its seq) */
};

ss_rc ss_client_batcher_new(ss_client *c, const char *url, ss_client_producer *p, const ss_client_batch_options *o,
                            ss_client_batcher **out) {
    static const ss_client_batch_options none = {0};
    if (!c || !url || !p || !p->id || !p->id[0] || !out)
        return SS_BADARG;
    if (!o)
        o = &none;
    if (o->linger_ms < 0)
        return SS_BADARG;
    ss_client_batcher *b = ss_calloc(1, sizeof *b);
    if (!b)
        return SS_NOMEM;
    b->c = c;
    b->url = url;
    b->p = p;
    b->o = *o;
    if (!b->o.max_bytes)
        b->o.max_bytes = DEFAULT_MAX_BYTES;
    if (!b->o.max_items)
        b->o.max_items = DEFAULT_MAX_ITEMS;
    if (b->o.json && !b->o.content_type)
        b->o.content_type = "application/json";
    ss_buf_init(&b->body, SIZE_MAX);
    *out = b;
    return SS_OK;
}

void ss_client_batcher_free(ss_client_batcher *b) {
    if (!b)
        return;
    ss_buf_release(&b->body);
    ss_free(b);
}

ss_rc ss_client_batcher_flush(ss_client_batcher *b, ss_client_result *r, bool *sent) {
    *sent = false;
    if (!b->items)
        return SS_OK;
    ss_buf framed;
    ss_buf_init(&framed, SIZE_MAX);
    if (b->o.json) {
        ss_buf_append(&framed, "[", 1);
        ss_buf_append(&framed, b->body.p, b->body.len);
        ss_buf_append(&framed, "]", 1);
        if (framed.err) {
            ss_buf_release(&framed);
            return framed.err;
        }
    }
    ss_client_append_options ao = {.content_type = b->o.content_type,
                                   .data = b->o.json ? ss_buf_slice(&framed) : ss_buf_slice(&b->body),
                                   .producer = b->p,
                                   .max_retries = b->o.max_retries};
    ss_rc rc = ss_client_append(b->c, b->url, &ao, r);
    ss_buf_release(&framed);
    if (rc == SS_IOERR || (rc == SS_OK && (r->status >= 500 || r->status == 429))) {
        b->kept = true; /* it may have landed, so only this very batch may use this seq */
        return rc;
    }
    ss_buf_clear(&b->body);
    b->items = 0;
    b->kept = false;
    *sent = rc == SS_OK;
    return rc;
}

ss_rc ss_client_batcher_add(ss_client_batcher *b, ss_slice item, ss_client_result *r, bool *sent) {
    *sent = false;
    ss_rc rc = SS_OK;
    if (b->kept) { /* the frozen batch first, unchanged */
        if ((rc = ss_client_batcher_flush(b, r, sent)))
            return rc;
        if (b->kept)
            return SS_BUSY; /* still unanswered: the item was not added */
    }
    size_t extra = item.len + (b->o.json && b->items ? 1 : 0);
    bool lingered = b->items && ss__client_now_ms() - b->oldest_ms >= b->o.linger_ms;
    if (b->items && (lingered || b->body.len + extra > b->o.max_bytes)) {
        if ((rc = ss_client_batcher_flush(b, r, sent)))
            return rc;
        if (b->kept)
            return SS_BUSY; /* unanswered: frozen; the item was not added */
    }
    if (b->o.json && b->items)
        ss_buf_append(&b->body, ",", 1);
    ss_buf_append(&b->body, item.p, item.len);
    if (b->body.err)
        return b->body.err;
    if (!b->items++)
        b->oldest_ms = ss__client_now_ms();
    /* One answer per call: when a batch already went (its answer is in *r),
     * the new item waits for the next add or flush. */
    if (!*sent && (b->items >= b->o.max_items || b->body.len >= b->o.max_bytes || b->o.linger_ms == 0))
        rc = ss_client_batcher_flush(b, r, sent);
    return rc;
}
