/* Owned, bounded, growable buffers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamsy/alloc.h"
#include "streamsy/bytes.h"

void ss_buf_init(ss_buf *b, size_t max) { *b = (ss_buf){NULL, 0, 0, max, SS_OK}; }

void ss_buf_release(ss_buf *b) {
    ss_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->err = SS_OK;
}

void ss_buf_clear(ss_buf *b) { ss_buf_truncate(b, 0); }

void ss_buf_truncate(ss_buf *b, size_t len) {
    if (len < b->len) {
        b->len = len;
        b->p[len] = '\0';
    }
    b->err = SS_OK;
}

static ss_rc fail(ss_buf *b, ss_rc rc) {
    b->err = rc;
    return rc;
}

ss_rc ss_buf_reserve(ss_buf *b, size_t extra) {
    if (b->err)
        return b->err;
    if (extra > b->max || b->len > b->max - extra)
        return fail(b, SS_TOOBIG);
    size_t need = b->len + extra + 1; /* room for a NUL terminator */
    if (need <= b->cap)
        return SS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = ss_realloc(b->p, cap);
    if (!p)
        return fail(b, SS_NOMEM);
    b->p = p;
    b->cap = cap;
    return SS_OK;
}

ss_rc ss_buf_append(ss_buf *b, const void *p, size_t len) {
    ss_rc rc = ss_buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
    return SS_OK;
}

ss_rc ss_buf_append_cstr(ss_buf *b, const char *s) { return ss_buf_append(b, s, strlen(s)); }

ss_rc ss_buf_append_slice(ss_buf *b, ss_slice s) { return ss_buf_append(b, s.p, s.len); }

ss_rc ss_buf_printf(ss_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (b->err)
        return b->err;
    if (n < 0)
        return fail(b, SS_BADARG);
    if ((size_t)n < sizeof small)
        return ss_buf_append(b, small, (size_t)n);
    ss_rc rc = ss_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SS_OK;
}

char *ss_buf_detach(ss_buf *b, size_t *out_len) {
    char *p = b->p;
    if (out_len)
        *out_len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    b->err = SS_OK;
    return p;
}
