/* Message framing and offset allocation: the two things done to a body
 * before it becomes part of a plan. */
#include "base/json_scan.h"
#include "internal.h"

ss_rc ss__frame(ss_slice body, ss_slice content_type, ss_arena *a, ss_slice **out_items, size_t *out_n,
                const char **out_error) {
    if (ss_content_type_is_json(content_type)) {
        bool is_array;
        return ss_json_split(body, SS_MAX_MESSAGES_PER_APPEND, a, out_items, out_n, &is_array, out_error);
    }
    ss_slice *item = ss_arena_alloc(a, sizeof *item);
    if (!item)
        return SS_NOMEM;
    *item = body;
    *out_items = item;
    *out_n = 1;
    return SS_OK;
}

ss_rc ss__allocate(const ss_protocol *p, const ss_offset *prev, ss_message *msgs, size_t n) {
    const ss_offset *last = prev;
    for (size_t i = 0; i < n; i++) {
        ss_rc rc = p->gen.next(p->gen.ctx, last, &msgs[i].offset);
        if (rc)
            return rc == SS_TOOBIG ? SS_TOOBIG : SS_MISUSE;
        ss_slice s = ss_offset_slice(&msgs[i].offset);
        if (!ss_offset_is_safe_token(s) || !p->gen.is_valid(p->gen.ctx, s) ||
            ss_offset_cmp(&msgs[i].offset, last) <= 0)
            return SS_MISUSE;
        last = &msgs[i].offset;
    }
    return SS_OK;
}
