/* SQL values and result rows: what a SQL-backed storage adapter exchanges
 * with the SQL host it runs on (a native SQLite connection, or a Durable
 * Object's ctx.storage.sql reached through the wasm host imports).
 *
 * Integers travel as int64; unsigned 64-bit values are stored as their bit
 * pattern. TEXT is UTF-8 and BLOB any bytes; both are borrowed views, valid
 * for the duration of the call that hands them over. */
#ifndef STREAMSY_SQL_HOST_H
#define STREAMSY_SQL_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ss_sql_type {
    SS_SQL_NULL,
    SS_SQL_INT,
    SS_SQL_TEXT,
    SS_SQL_BLOB,
} ss_sql_type;

typedef struct ss_sql_value {
    ss_sql_type type;
    int64_t i;  /* SS_SQL_INT */
    ss_slice s; /* SS_SQL_TEXT, SS_SQL_BLOB */
} ss_sql_value;

static inline ss_sql_value ss_sql_null(void) { return (ss_sql_value){SS_SQL_NULL, 0, {NULL, 0}}; }
static inline ss_sql_value ss_sql_int(int64_t i) { return (ss_sql_value){SS_SQL_INT, i, {NULL, 0}}; }
static inline ss_sql_value ss_sql_text(ss_slice s) { return (ss_sql_value){SS_SQL_TEXT, 0, s}; }
static inline ss_sql_value ss_sql_blob(ss_slice s) { return (ss_sql_value){SS_SQL_BLOB, 0, s}; }

/* Called once per result row with its columns (valid during the call only).
 * Set *stop to end the statement early; a non-SS_OK return ends it and is
 * returned by the statement's runner. */
typedef ss_rc (*ss_sql_row_fn)(void *ctx, const ss_sql_value *cols, size_t n_cols, bool *stop);

#ifdef __cplusplus
}
#endif

#endif
