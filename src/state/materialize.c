/* Folding a stream into an ss_state_map: catch-up reads from the map's offset
 * to the tail, one message at a time, in stream order (ST-021). */
#include <string.h>

#include "internal.h"

/* Decodes and applies one stored message. *stop is set for a message that
 * fails decoding when the caller does not skip them. */
static ss_rc fold_one(ss_state_map *m, const ss_message *sm, bool skip_invalid, ss_state_materialize_result *out,
                      bool *stop) {
    ss_state_message msg;
    ss__state_verdict v;
    ss_json_error e = {.index = -1};
    ss_rc rc = ss__state_decode_one(ss__state_map_schema(m), sm, &msg, &v, &e);
    if (rc)
        return rc;
    if (v == SS__STATE_VALID) {
        rc = ss_state_map_apply(m, &msg); /* moves the map's offset past the message */
        json_decref(msg.json);
        out->applied += rc == SS_OK;
        return rc;
    }
    if (v == SS__STATE_UNKNOWN_TYPE || skip_invalid) { /* ST-028; ST-032 per policy */
        out->skipped++;
        ss__state_map_set_offset(m, &sm->offset);
        return SS_OK;
    }
    out->status = SS_STATE_MATERIALIZE_INVALID;
    out->error = e;
    out->error_offset = sm->offset;
    *stop = true;
    return SS_OK;
}

ss_rc ss_state_materialize(ss_state_map *m, ss_protocol_stream *stream, const ss_state_materialize_options *opts,
                           ss_state_materialize_result *out) {
    memset(out, 0, sizeof *out);
    out->error.index = -1;
    bool skip_invalid = opts && opts->skip_invalid;
    ss_rc rc = SS_OK;
    bool more = true;
    while (more && rc == SS_OK) {
        const ss_offset *from = ss_state_map_offset(m);
        ss_read_options ro = {.has_offset = from != NULL};
        if (from)
            ro.offset = *from;
        ss_arena a;
        ss_arena_init(&a);
        ss_read_result r;
        if ((rc = ss_stream_read(stream, &ro, &a, &r)) == SS_OK) {
            switch (r.status) {
            case SS_PRESENT: {
                bool stop = false;
                for (size_t i = 0; i < r.n && rc == SS_OK && !stop; i++)
                    rc = fold_one(m, &r.msgs[i], skip_invalid, out, &stop);
                if (rc == SS_OK && !stop) {
                    ss__state_map_set_offset(m, &r.next_offset);
                    out->closed = r.closed;
                }
                /* A read stops at its byte budget; go on until the tail. */
                more = !stop && !r.up_to_date && r.n > 0;
                break;
            }
            case SS_NOT_FOUND:
                out->status = SS_STATE_MATERIALIZE_NOT_FOUND;
                more = false;
                break;
            case SS_GONE:
                out->status = SS_STATE_MATERIALIZE_GONE;
                more = false;
                break;
            }
        }
        ss_arena_release(&a);
    }
    const ss_offset *at = ss_state_map_offset(m);
    if (at)
        out->offset = *at;
    return rc;
}
