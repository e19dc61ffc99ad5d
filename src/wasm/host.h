/* The imports of the Durable Object module: what the C core needs from the
 * workerd shim (workerd/worker.js), module "streamsy". Every call is
 * synchronous; a host function never lets a JavaScript exception unwind
 * through C frames (it returns an error code instead), except for a trap of
 * this module, which ends the instance.
 *
 * Rows of ctx.storage.sql: sql_exec returns a cursor id (> 0) or a negative
 * ss_rc; sql_next returns 1 for a row, 0 at the end, a negative ss_rc on
 * error. Column types are the SS_SQL_* values of streamsy/sql_host.h. */
#ifndef SS_WASM_HOST_H
#define SS_WASM_HOST_H

#include <stdint.h>

#define SS_IMPORT(name) __attribute__((import_module("streamsy"), import_name(#name)))
#define SS_EXPORT(name) __attribute__((export_name(#name)))

/* A bound argument of sql_exec; fixed 16-byte little-endian layout. */
typedef struct ss_wasm_arg {
    uint32_t type; /* SS_SQL_* */
    uint32_t len;  /* TEXT / BLOB bytes */
    union {
        int64_t i;    /* SS_SQL_INT */
        uint32_t ptr; /* TEXT / BLOB address in linear memory */
    } v;
} ss_wasm_arg;
_Static_assert(sizeof(ss_wasm_arg) == 16, "ss_wasm_arg layout");

/* ctx.storage.sql */
SS_IMPORT(sql_exec)
int32_t ss_host_sql_exec(const char *sql, uint32_t sql_len, const ss_wasm_arg *args, uint32_t n);
SS_IMPORT(sql_next) int32_t ss_host_sql_next(int32_t cur);
SS_IMPORT(sql_ncols) int32_t ss_host_sql_ncols(int32_t cur);
SS_IMPORT(sql_type) int32_t ss_host_sql_type(int32_t cur, int32_t col);
SS_IMPORT(sql_int) int64_t ss_host_sql_int(int32_t cur, int32_t col);
SS_IMPORT(sql_len) int32_t ss_host_sql_len(int32_t cur, int32_t col);
SS_IMPORT(sql_copy) int32_t ss_host_sql_copy(int32_t cur, int32_t col, void *dst, uint32_t cap);
SS_IMPORT(sql_close) void ss_host_sql_close(int32_t cur);
/* ctx.storage.transactionSync(() => ss_wasm_txn_body(fn, ctx)): 0 when the
 * body returned 0 and the transaction committed, else the body's result or
 * the commit's error (as an ss_rc). */
SS_IMPORT(txn) int32_t ss_host_txn(uint32_t fn, void *ctx);
/* The message of the last failed call, NUL-terminated; returns its length. */
SS_IMPORT(errmsg) int32_t ss_host_errmsg(char *dst, uint32_t cap);

/* The platform */
SS_IMPORT(now_ms) double ss_host_now_ms(void);
/* ctx.storage.setAlarm(at) / deleteAlarm() when at < 0. */
SS_IMPORT(set_alarm) void ss_host_set_alarm(double at_ms);
/* A parked live read may continue: the shim calls ss_wasm_resume(id) soon
 * (never from inside this call). */
SS_IMPORT(wake) void ss_host_wake(uint32_t live_id);

/* The response being built by ss_wasm_handle / ss_wasm_resume. */
SS_IMPORT(resp_status) void ss_host_resp_status(int32_t status);
SS_IMPORT(resp_header) void ss_host_resp_header(const char *k, uint32_t kl, const char *v, uint32_t vl);
SS_IMPORT(resp_body) void ss_host_resp_body(const void *p, uint32_t len);
/* WAIT / STREAM: the continuation's id and the deadline of this wait. */
SS_IMPORT(resp_live) void ss_host_resp_live(uint32_t live_id, double deadline_ms);

#endif
