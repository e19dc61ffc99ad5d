/* Offsets: opaque, lexicographically ordered position tokens.
 *
 * An offset names the position just after a stored message. The default
 * generator mints "RRRRRRRRRRRRRRRR_PPPPPPPPPPPPPPPP" (16 digits, '_', 16
 * digits); SS_ZERO_OFFSET is the tail of a new empty stream. A custom
 * generator may mint any safe token of at most SS_OFFSET_MAX bytes. */
#ifndef STREAMSY_OFFSET_H
#define STREAMSY_OFFSET_H

#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SS_OFFSET_MAX 63 /* bytes; the protocol allows 255, we bound value types */
#define SS_ZERO_OFFSET "0000000000000000_0000000000000000"

/* A value type: copy freely, no allocation. */
typedef struct ss_offset {
    uint8_t len;
    char s[SS_OFFSET_MAX + 1]; /* NUL-terminated */
} ss_offset;

/* Fills *out from a slice; SS_BADARG when longer than SS_OFFSET_MAX. */
SS_MUST_USE ss_rc ss_offset_set(ss_offset *out, ss_slice s);
static inline ss_slice ss_offset_slice(const ss_offset *o) { return (ss_slice){o->s, o->len}; }
int ss_offset_cmp(const ss_offset *a, const ss_offset *b);
bool ss_offset_eq(const ss_offset *a, const ss_offset *b);

/* Safe-token rules every scheme obeys: 1..SS_OFFSET_MAX bytes, not "-1" or
 * "now", none of the bytes , & = ? / and only printable ASCII. */
bool ss_offset_is_safe_token(ss_slice s);

/* An offset scheme. `next` must return a valid offset strictly greater than
 * `prev`; the protocol checks this and fails the operation (SS_MISUSE) if the
 * generator misbehaves, before anything reaches storage. */
typedef struct ss_offset_gen {
    const char *initial;
    ss_rc (*next)(void *ctx, const ss_offset *prev, ss_offset *out);
    bool (*is_valid)(void *ctx, ss_slice s);
    void *ctx;
} ss_offset_gen;

/* The default scheme: SS_ZERO_OFFSET, then the first number counts up. */
extern const ss_offset_gen ss_default_offset_gen;

#ifdef __cplusplus
}
#endif

#endif
