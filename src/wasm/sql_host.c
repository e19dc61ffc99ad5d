/* ss_do_host over the shim's imports: ctx.storage.sql.exec and
 * ctx.storage.transactionSync reached from C.
 *
 * A row's TEXT and BLOB columns are copied from JavaScript into one scratch
 * buffer per row; the values handed to the row callback point into it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "host.h"
#include "streamsy/alloc.h"

#define MAX_COLUMNS 32
#define MAX_ARGS 32

/* A storage error is logged with its cause (the host's message). */
static void log_error(const char *sql) {
    char msg[256];
    ss_host_errmsg(msg, sizeof msg);
    fprintf(stderr, "streamsy: durable object storage: %s (in: %.60s)\n", msg, sql);
}

static ss_rc exec(void *ctx, const char *sql, const ss_sql_value *args, size_t n_args, ss_sql_row_fn row,
                  void *row_ctx) {
    (void)ctx;
    if (n_args > MAX_ARGS)
        return SS_MISUSE;
    ss_wasm_arg a[MAX_ARGS];
    for (size_t i = 0; i < n_args; i++) {
        a[i] = (ss_wasm_arg){.type = (uint32_t)args[i].type};
        if (args[i].type == SS_SQL_INT) {
            a[i].v.i = args[i].i;
        } else if (args[i].type == SS_SQL_TEXT || args[i].type == SS_SQL_BLOB) {
            a[i].len = (uint32_t)args[i].s.len;
            a[i].v.ptr = (uint32_t)(uintptr_t)(args[i].s.len ? args[i].s.p : "");
        }
    }
    int32_t cur = ss_host_sql_exec(sql, (uint32_t)strlen(sql), a, (uint32_t)n_args);
    if (cur <= 0) {
        log_error(sql);
        return cur < 0 ? (ss_rc)-cur : SS_IOERR;
    }
    ss_rc out = SS_OK;
    char *scratch = NULL;
    size_t cap = 0;
    for (bool stop = false; !stop && !out;) {
        int32_t r = ss_host_sql_next(cur);
        if (r <= 0) {
            out = r < 0 ? (ss_rc)-r : SS_OK;
            if (r < 0)
                log_error(sql);
            break;
        }
        int32_t n = ss_host_sql_ncols(cur);
        if (n < 0 || n > MAX_COLUMNS) {
            out = SS_CORRUPT;
            break;
        }
        ss_sql_value v[MAX_COLUMNS];
        size_t at[MAX_COLUMNS], used = 0;
        for (int32_t i = 0; i < n && !out; i++) {
            int32_t type = ss_host_sql_type(cur, i);
            v[i] = ss_sql_null();
            if (type == SS_SQL_INT) {
                v[i] = ss_sql_int(ss_host_sql_int(cur, i));
            } else if (type == SS_SQL_TEXT || type == SS_SQL_BLOB) {
                int32_t len = ss_host_sql_len(cur, i);
                if (len < 0 || (size_t)len > SIZE_MAX - used - 1) {
                    out = SS_CORRUPT;
                    break;
                }
                if (used + (size_t)len + 1 > cap) {
                    size_t ncap = cap ? cap : 4096;
                    while (ncap < used + (size_t)len + 1)
                        ncap *= 2;
                    char *p = ss_realloc(scratch, ncap);
                    if (!p) {
                        out = SS_NOMEM;
                        break;
                    }
                    scratch = p;
                    cap = ncap;
                }
                if (ss_host_sql_copy(cur, i, scratch + used, (uint32_t)len) != len) {
                    out = SS_IOERR;
                    break;
                }
                at[i] = used;
                v[i].type = (ss_sql_type)type;
                v[i].s.len = (size_t)len;
                used += (size_t)len + 1;
            } else if (type != SS_SQL_NULL) {
                out = SS_CORRUPT;
            }
        }
        for (int32_t i = 0; i < n && !out; i++)
            if (v[i].type == SS_SQL_TEXT || v[i].type == SS_SQL_BLOB)
                v[i].s.p = scratch + at[i];
        if (!out && row)
            out = row(row_ctx, v, (size_t)n, &stop);
    }
    ss_host_sql_close(cur);
    ss_free(scratch);
    return out;
}

/* Called back by the shim inside transactionSync. */
SS_EXPORT(ss_wasm_txn_body) int32_t ss_wasm_txn_body(uint32_t fn, void *ctx) {
    ss_rc (*body)(void *) = (ss_rc(*)(void *))(uintptr_t)fn;
    return (int32_t)body(ctx);
}

static ss_rc transaction(void *ctx, ss_rc (*body)(void *body_ctx), void *body_ctx) {
    (void)ctx;
    return (ss_rc)ss_host_txn((uint32_t)(uintptr_t)body, body_ctx);
}

const ss_do_host ss__wasm_do_host = {.exec = exec, .transaction = transaction, .ctx = NULL};
