/* Result codes shared by every Streamsy layer.
 *
 * A non-SS_OK code means "the operation could not be decided" (I/O failure,
 * out of memory, API misuse, an unsupported storage feature). Protocol
 * outcomes such as conflict or not-found are never result codes: they are
 * statuses inside the result structs of protocol.h. */
#ifndef STREAMSY_RC_H
#define STREAMSY_RC_H

#ifdef __cplusplus
extern "C" {
#endif

#define SS_RC_MAP(X)                                                                                              \
    X(OK, "ok")                                                                                                   \
    X(NOMEM, "out of memory")                                                                                     \
    X(TOOBIG, "value exceeds a configured limit")                                                                 \
    X(BADARG, "malformed argument")                                                                               \
    X(MISUSE, "API used incorrectly")                                                                             \
    X(NOTSUP, "feature not supported by this storage")                                                            \
    X(BUSY, "storage busy, retry later")                                                                          \
    X(IOERR, "storage I/O error")                                                                                 \
    X(FULL, "storage full")                                                                                       \
    X(CORRUPT, "stored data failed validation")

/* On a function returning ss_rc: ignoring the result is a compile error
 * (-Werror). Buffer appends are exempt: their errors are sticky (bytes.h). */
#if defined(__GNUC__) || defined(__clang__)
#define SS_MUST_USE __attribute__((warn_unused_result))
#else
#define SS_MUST_USE
#endif

typedef enum ss_rc {
#define SS_RC_ENUM(name, msg) SS_##name,
    SS_RC_MAP(SS_RC_ENUM)
#undef SS_RC_ENUM
} ss_rc; /* SS_OK == 0, so `if (rc)` means failure */

/* How many result codes there are (for tables indexed by ss_rc). */
#define SS_RC_PLUS_ONE(name, msg) +1
enum { SS_RC_COUNT = 0 SS_RC_MAP(SS_RC_PLUS_ONE) };
#undef SS_RC_PLUS_ONE

/* "SS_NOTSUP" — for logs and tests. Never NULL. */
const char *ss_rc_name(ss_rc rc);
/* "feature not supported by this storage" — for humans. Never NULL. */
const char *ss_rc_str(ss_rc rc);

#ifdef __cplusplus
}
#endif

#endif
