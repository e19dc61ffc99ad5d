/* Fuzz target: the client's SSE parser (src/client/sse.c) on event streams
 * a server (any server: the client trusts none) might send.
 *
 * Input: the first byte picks the mode (bit 0: the response said base64,
 * bit 1: a JSON stream) and how the rest is cut into chunks (bits 2-7: the
 * chunk size, 1 to 64 bytes); the rest is the event stream. Checked besides
 * crashes, leaks and UB: the batches handed over, and the parser's error,
 * are the same whether the stream arrives in one piece or in chunks; no
 * batch is larger than the input; offsets fit SS_CLIENT_OFFSET_MAX. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

typedef struct record {
    ss_buf log; /* every batch: body, offset, flags */
    size_t input_len;
} record;

static bool on_batch(void *ctx, const ss_client_result *r) {
    record *rec = ctx;
    if (r->body.len > rec->input_len || strlen(r->next_offset) >= SS_CLIENT_OFFSET_MAX)
        abort();
    ss_buf_append(&rec->log, r->body.p ? r->body.p : "", r->body.len);
    ss_buf_append(&rec->log, "\0", 1);
    ss_buf_append_cstr(&rec->log, r->next_offset);
    ss_buf_append(&rec->log, r->up_to_date ? "U" : "u", 1);
    ss_buf_append(&rec->log, r->closed ? "C" : "c", 1);
    return true;
}

/* Parses data cut into pieces of `chunk` bytes; returns the parser's error. */
static ss_rc parse(const uint8_t *data, size_t n, size_t chunk, bool base64, bool json, record *rec) {
    char offset[SS_CLIENT_OFFSET_MAX] = "-1", cursor[SS_CLIENT_TEXT_MAX] = "";
    ss_client_result r;
    ss_client_result_init(&r);
    r.status = 200;
    r.sse_base64 = base64;
    ss_buf_init(&rec->log, SIZE_MAX);
    rec->input_len = n;
    ss__sse *s = ss__sse_new(offset, cursor, json, on_batch, rec, &r);
    if (!s)
        abort();
    for (size_t i = 0; i < n; i += chunk) {
        size_t len = n - i < chunk ? n - i : chunk;
        if (!ss__sse_sink(s, (const char *)data + i, len, &r))
            break; /* ended or failed: a real transfer stops here too */
    }
    ss_rc rc = ss__sse_error(s);
    ss__sse_free(s);
    ss_client_result_release(&r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    bool base64 = data[0] & 1, json = data[0] & 2;
    size_t chunk = (size_t)(data[0] >> 2) + 1;
    record whole, cut;
    ss_rc a = parse(data + 1, size - 1, size, base64, json, &whole);
    ss_rc b = parse(data + 1, size - 1, chunk, base64, json, &cut);
    if (a != b || whole.log.len != cut.log.len || (whole.log.len && memcmp(whole.log.p, cut.log.p, whole.log.len)))
        abort(); /* chunk boundaries must not change what the reader sees */
    ss_buf_release(&whole.log);
    ss_buf_release(&cut.log);
    return 0;
}
