/* Reads: stored messages -> typed ss_state_message views. */
#include <string.h>

#include "internal.h"

void ss_state_read_result_release(ss_state_read_result *r) {
    for (size_t i = 0; i < r->n; i++) {
        json_decref(r->msgs[i].json);
        r->msgs[i].json = NULL;
    }
    r->n = 0;
}

ss_rc ss__state_decode_one(const ss_state_schema *s, const ss_message *m, ss_state_message *out,
                           ss__state_verdict *verdict, ss_json_error *err) {
    json_t *j = NULL;
    ss__state_view v;
    *verdict = SS__STATE_INVALID;
    ss_rc rc = ss_json_doc_parse(m->data, &j, err);
    if (rc)
        return rc == SS_BADARG ? SS_OK : rc;
    if ((*verdict = ss__state_check(s, j, SS__STATE_READ, &v, err)) != SS__STATE_VALID) {
        json_decref(j);
        return SS_OK;
    }
    *out = (ss_state_message){
        .kind = v.kind,
        .operation = v.operation,
        .control = v.control,
        .collection = v.kind == SS_STATE_CHANGE ? s->colls[v.coll].def.name : NULL,
        .collection_index = v.coll,
        .type = v.type,
        .key = v.key,
        .value = v.value,
        .old_value = v.old_value,
        .headers = v.headers,
        .txid = v.txid,
        .timestamp = v.timestamp,
        .header_offset = v.offset,
        .offset = m->offset,
        .json = j,
    };
    return SS_OK;
}

ss_rc ss_state_decode(const ss_state_schema *s, const ss_message *msgs, size_t n, ss_arena *a,
                      ss_state_read_result *out) {
    memset(out, 0, sizeof *out);
    out->error.index = -1;
    if (n) {
        out->next_offset = msgs[n - 1].offset;
        if (!(out->msgs = ss_arena_alloc(a, n * sizeof *out->msgs)))
            return SS_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        ss__state_verdict verdict;
        ss_rc rc = ss__state_decode_one(s, &msgs[i], &out->msgs[i], &verdict, &out->error);
        if (rc) {
            ss_state_read_result_release(out);
            return rc;
        }
        /* An unknown type is a failure too: typed reads are strict, like
         * Streamsy's decode. (Materialization skips them instead.) */
        if (verdict != SS__STATE_VALID) {
            out->status = SS_STATE_READ_INVALID;
            out->error.index = (long)i;
            out->error_offset = msgs[i].offset;
            return SS_OK;
        }
        out->n = i + 1;
    }
    return SS_OK;
}

ss_rc ss_state_read(const ss_state_schema *s, ss_protocol_stream *stream, const ss_read_options *o, ss_arena *a,
                    ss_state_read_result *out) {
    ss_read_result r;
    ss_rc rc = ss_stream_read(stream, o, a, &r);
    if (rc)
        return rc;
    switch (r.status) {
    case SS_PRESENT:
        break;
    case SS_NOT_FOUND:
    case SS_GONE:
        memset(out, 0, sizeof *out);
        out->error.index = -1;
        out->status = r.status == SS_GONE ? SS_STATE_READ_GONE : SS_STATE_READ_NOT_FOUND;
        return SS_OK;
    }
    if ((rc = ss_state_decode(s, r.msgs, r.n, a, out)))
        return rc;
    out->next_offset = r.next_offset;
    out->up_to_date = r.up_to_date;
    out->closed = r.closed;
    return SS_OK;
}
