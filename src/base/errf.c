/* See errf.h and streamsy/json_error.h. */
#include <stdio.h>

#include "errf.h"
#include "streamsy/json_error.h"

void ss__verrf(char *err, size_t cap, const char *fmt, va_list ap) {
    if (err && cap)
        vsnprintf(err, cap, fmt, ap);
}

ss_rc ss__errf(char *err, size_t cap, ss_rc rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ss__verrf(err, cap, fmt, ap);
    va_end(ap);
    return rc;
}

bool ss__fail(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ss__verrf(err, cap, fmt, ap);
    va_end(ap);
    return false;
}

void ss__json_error_vset(ss_json_error *e, const char *rule, const char *fmt, va_list ap) {
    e->index = -1;
    snprintf(e->rule, sizeof e->rule, "%s", rule);
    ss__verrf(e->message, sizeof e->message, fmt, ap);
}

void ss_json_error_set(ss_json_error *e, const char *rule, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ss__json_error_vset(e, rule, fmt, ap);
    va_end(ap);
}
