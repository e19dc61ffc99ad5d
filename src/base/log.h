/* Log entries: one line each on stderr, as text or as JSON, with the same
 * fields in both:
 *
 *   2026-12-06T03:40:00.123Z warn accept msg="cannot accept connections: ..."
 *   {"ts":"2026-12-06T03:40:00.123Z","level":"warn","event":"accept","msg":"cannot accept ..."}
 *
 * Every entry has ts (UTC, milliseconds), level and event (a fixed word
 * naming what happened: access, accept, storage, sse, budget, ...), then the
 * entry's own fields. In text, a value that is not a plain word is quoted
 * with \" \\ and \xNN escapes; in JSON, strings are escaped to stay valid
 * (bytes outside printable ASCII as \u00NN).
 *
 * The settings are process-wide (the server sets them once at start, before
 * any entry); the library itself never logs through here. Internal. */
#ifndef SS_BASE_LOG_H
#define SS_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ss__log_level { SS__LOG_ERROR, SS__LOG_WARN, SS__LOG_INFO, SS__LOG_DEBUG } ss__log_level;
typedef enum ss__log_format { SS__LOG_TEXT, SS__LOG_JSON } ss__log_format;

void ss__log_configure(ss__log_format format, ss__log_level level);
/* Whether entries of this level are written. */
bool ss__log_on(ss__log_level level);
/* "error", "warn", "info", "debug". */
const char *ss__log_level_name(ss__log_level level);

/* An entry being built. Bounded: fields that do not fit are cut (a text
 * value or JSON string then ends early, the entry stays well-formed). */
#define SS__LOG_LINE_MAX 8192
typedef struct ss__log_line {
    char p[SS__LOG_LINE_MAX];
    size_t len;
    ss__log_format format;
} ss__log_line;

void ss__log_begin(ss__log_line *l, ss__log_level level, const char *event);
void ss__log_str(ss__log_line *l, const char *key, const char *s, size_t n);
void ss__log_cstr(ss__log_line *l, const char *key, const char *s);
void ss__log_u64(ss__log_line *l, const char *key, uint64_t v);
/* A duration in milliseconds with three decimals. */
void ss__log_ms(ss__log_line *l, const char *key, double ms);
/* Closes the entry (and ends the line). */
void ss__log_end(ss__log_line *l);
/* Writes a closed entry to stderr now. */
void ss__log_write(const ss__log_line *l);
/* Writes closed entries collected elsewhere (the access log's buffer). */
void ss__log_write_bytes(const char *p, size_t n);

/* One entry with a message field, written at once (when the level is on). */
void ss__logf(ss__log_level level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
