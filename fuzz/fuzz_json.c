/* Fuzz target: the JSON scanner (framing of JSON-mode bodies) and the
 * document reader/writer, with their agreements checked:
 *  - ss_json_is_valid agrees with ss_json_split;
 *  - a capped split stops exactly at the cap;
 *  - what the reader accepts, the writer writes back as text the scanner
 *    accepts, and writing is a fixed point: read(write(v)) writes the same
 *    bytes (the writer is JavaScript's, so 1.0 and 1 both become "1"). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/json_scan.h"
#include "streamsy/json_doc.h"

#define CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ss_slice body = ss_slice_of((const char *)data, size);
    ss_arena a;
    ss_arena_init(&a);
    ss_slice *items;
    size_t n;
    bool is_array;
    ss_rc full = ss_json_split(body, 0, &a, &items, &n, &is_array, NULL);
    if ((full == SS_OK) != ss_json_is_valid(body))
        abort();
    ss_rc capped = ss_json_split(body, CAP, &a, &items, &n, &is_array, NULL);
    if (full == SS_OK && capped != SS_OK && !(capped == SS_TOOBIG && is_array && n > CAP))
        abort(); /* a valid body fails the capped split only for having too many elements */
    ss_arena_release(&a);

    json_t *v;
    ss_json_error err;
    if (ss_json_doc_parse(body, &v, &err) == SS_OK) {
        if (full != SS_OK)
            abort(); /* the reader accepts exactly what the scanner accepts */
        ss_buf out;
        ss_buf_init(&out, 1 << 24);
        if (ss_json_doc_write(v, &out) == SS_OK) {
            json_t *again;
            if (!ss_json_is_valid(ss_buf_slice(&out)) || ss_json_doc_parse(ss_buf_slice(&out), &again, &err))
                abort();
            ss_buf out2;
            ss_buf_init(&out2, 1 << 24);
            if (ss_json_doc_write(again, &out2) != SS_OK || !ss_slice_eq(ss_buf_slice(&out), ss_buf_slice(&out2)))
                abort();
            ss_buf_release(&out2);
            json_decref(again);
        }
        ss_buf_release(&out);
        json_decref(v);
    }
    return 0;
}
