/* Byte views, bounded owned buffers and a region allocator.
 *
 *  ss_slice  a borrowed view; never freed by whoever holds it.
 *  ss_buf    an owned, growable buffer with a hard maximum (SS_TOOBIG past it).
 *  ss_arena  a region: many small allocations freed together. Storage and
 *            protocol calls copy their results into a caller-supplied arena,
 *            so one ss_arena_release() frees a whole result. */
#ifndef STREAMSY_BYTES_H
#define STREAMSY_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss_slice {
    const char *p;
    size_t len;
} ss_slice;

#define SS_SLICE_NULL ((ss_slice){NULL, 0})
/* A view of a string literal or NUL-terminated string. */
ss_slice ss_slice_cstr(const char *s);
static inline ss_slice ss_slice_of(const void *p, size_t len) { return (ss_slice){(const char *)p, len}; }
bool ss_slice_eq(ss_slice a, ss_slice b);
bool ss_slice_eq_cstr(ss_slice a, const char *s);
/* ASCII case-insensitive equality. */
bool ss_slice_ieq_cstr(ss_slice a, const char *s);
/* memcmp order, shorter first on a common prefix (JS string order for ASCII). */
int ss_slice_cmp(ss_slice a, ss_slice b);
/* 0-15 for an ASCII hex digit, -1 otherwise. */
int ss_hex_value(char c);

/* Owned, bounded buffer. Owned by: whoever called ss_buf_init.
 *
 * Errors are sticky: the first failed reserve/append/printf (SS_TOOBIG past
 * max, SS_NOMEM) is kept in `err`, and every later one does nothing and
 * returns it. A builder can append freely and check `err` once at the end;
 * the bytes before the failure are intact. */
typedef struct ss_buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max; /* growth past this fails with SS_TOOBIG */
    ss_rc err;  /* the first failure; SS_OK until then */
} ss_buf;

void ss_buf_init(ss_buf *b, size_t max);
/* Frees the bytes; the buffer is empty and usable again (err cleared). */
void ss_buf_release(ss_buf *b);
/* Empties the buffer, keeping its memory, and clears err. */
void ss_buf_clear(ss_buf *b);
/* Cuts the buffer back to `len` bytes (no more than it has) and clears err:
 * undoes what a failed builder appended after `len`. */
void ss_buf_truncate(ss_buf *b, size_t len);
ss_rc ss_buf_reserve(ss_buf *b, size_t extra);
ss_rc ss_buf_append(ss_buf *b, const void *p, size_t len);
ss_rc ss_buf_append_cstr(ss_buf *b, const char *s);
ss_rc ss_buf_append_slice(ss_buf *b, ss_slice s);
ss_rc ss_buf_printf(ss_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline ss_slice ss_buf_slice(const ss_buf *b) { return (ss_slice){b->p, b->len}; }
/* Hands the bytes to the caller (ss_free() them); the buffer becomes empty. */
char *ss_buf_detach(ss_buf *b, size_t *out_len);

/* Region allocator. Owned by: whoever called ss_arena_init. An arena may be
 * moved by value (the copy takes over; the old one must be re-initialised
 * or forgotten). */
typedef struct ss_arena_chunk ss_arena_chunk;
typedef struct ss_arena_hook ss_arena_hook;
typedef struct ss_arena {
    ss_arena_chunk *head;
    ss_arena_hook *hooks; /* ss_arena_on_release, newest first */
    size_t total;         /* bytes handed out, for limits and tests */
} ss_arena;

void ss_arena_init(ss_arena *a);
/* Runs the release hooks (newest first), then frees every allocation; the
 * arena may be reused afterwards. */
void ss_arena_release(ss_arena *a);
/* Calls fn(ctx) when the arena is released (on whichever thread releases
 * it): how bytes that live elsewhere (a storage adapter's own, by
 * reference) are kept alive exactly as long as the arena. On SS_NOMEM
 * nothing was registered (and fn is not called). */
SS_MUST_USE ss_rc ss_arena_on_release(ss_arena *a, void (*fn)(void *ctx), void *ctx);
/* 16-byte aligned; NULL only when out of memory. */
void *ss_arena_alloc(ss_arena *a, size_t n);
/* Copies the bytes (NUL-terminated for convenience) and returns a view of the copy. */
SS_MUST_USE ss_rc ss_arena_copy(ss_arena *a, ss_slice s, ss_slice *out);

#ifdef __cplusplus
}
#endif

#endif
