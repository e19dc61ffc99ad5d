/* One human line into a caller's error buffer: the one printf-into-an-error
 * helper every layer uses. Internal to Streamsy. */
#ifndef SS_BASE_ERRF_H
#define SS_BASE_ERRF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "streamsy/rc.h"

/* Writes the message into err (nothing when err is NULL or cap is 0,
 * truncated to cap - 1 bytes) and returns rc, so a failing path can end with
 * `return ss__errf(err, cap, SS_BADARG, "...", ...);`. */
SS_MUST_USE ss_rc ss__errf(char *err, size_t cap, ss_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ss__verrf(char *err, size_t cap, const char *fmt, va_list ap);
/* The same for functions that answer true/false: returns false. */
bool ss__fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A result deliberately not acted on (a cast to void does not silence
 * SS_MUST_USE under GCC); the call site says why in a comment. */
static inline void ss__ignore_rc(ss_rc rc) { (void)rc; }

/* ss_json_error_set (streamsy/json_error.h) for varargs wrappers. */
struct ss_json_error;
void ss__json_error_vset(struct ss_json_error *e, const char *rule, const char *fmt, va_list ap);

#endif
