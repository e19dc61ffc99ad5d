/* The Durable Object front end: the C side of the module workerd runs, one
 * instance per Durable Object (workerd/worker.js is the JavaScript side).
 *
 *   exports.c  the exported entry points: init, handle, resume, wakes,
 *              the alarm, forks across objects and the outbox
 *   request.c  the request the shim hands over, decoded into a view
 *   sql_host.c ss_do_host over the imports (ctx.storage.sql)
 *
 * The shim does the I/O and the waiting; C decides everything else. */
#ifndef SS_WASM_FRONT_H
#define SS_WASM_FRONT_H

#include "streamsy/durable_object.h"
#include "streamsy/handler.h"

/* The largest body the module accepts (larger: 413). A Durable Object
 * stores at most 2 MB in one row; a message row also holds its stream id
 * (up to SS_HTTP_MAX_PATH_BYTES), offset and timestamp. */
#define SS_WASM_MAX_BODY_BYTES 1900000u

extern const ss_do_host ss__wasm_do_host;

/* Decodes the shim's request encoding (request.c):
 *   method, path, query, scheme, authority   each a u32 length + bytes
 *   u32 n_headers, then n x (name, value)    each a u32 length + bytes
 *   u32 flags (bit 0: the body was over the limit and is not included)
 *   body                                      u32 length + bytes
 * All little-endian. The view points into `bytes`; headers are allocated
 * in `a`. SS_BADARG when the encoding is malformed. */
SS_MUST_USE ss_rc ss__wasm_decode_request(ss_slice bytes, ss_arena *a, ss_http_request *out);

#endif
