/* A strict RFC 8259 JSON scanner for the append hot path.
 *
 * It validates a body without building a DOM and reports the byte ranges of
 * the top-level array elements, so JSON-mode appends can be split into one
 * message per element without copying or re-serialising. */
#ifndef SS_JSON_SCAN_H
#define SS_JSON_SCAN_H

#include <stddef.h>

#include "streamsy/bytes.h"

#define SS_JSON_MAX_DEPTH 256 /* deeper nesting is rejected as invalid */

/* Validates `body` as exactly one JSON text (surrounding whitespace allowed,
 * strict UTF-8, no trailing bytes). On success:
 *  - top-level array: *out_items gets one slice per element (the element's
 *    bytes with surrounding whitespace removed), *out_n their count (0 for []),
 *    *out_is_array = true;
 *  - anything else: one item, the value with surrounding whitespace removed.
 * The item array is allocated in `a`; slices point into `body`.
 * Returns SS_BADARG for invalid JSON (setting *out_error to a short static
 * reason when out_error is not NULL), SS_TOOBIG when a top-level array has
 * more than max_items elements (0: no limit; the scan stops there, so the
 * cost stays bounded), SS_NOMEM when the arena fails. Outputs are untouched
 * on failure. */
SS_MUST_USE ss_rc ss_json_split(ss_slice body, size_t max_items, ss_arena *a, ss_slice **out_items, size_t *out_n,
                                bool *out_is_array, const char **out_error);

/* Validates only. */
bool ss_json_is_valid(ss_slice body);
/* NULL for valid JSON, else the short static reason it is not. */
const char *ss_json_invalid_reason(ss_slice body);

/* True when s is well-formed UTF-8 by the scanner's rules (no overlongs, no
 * encoded surrogates, nothing past U+10FFFF); U+0000 is allowed. */
bool ss_utf8_is_valid(ss_slice s);

#endif
