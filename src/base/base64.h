/* Base64 decoding (RFC 4648, the standard alphabet), shared by the client's
 * SSE reader and the conformance adapter. Internal to Streamsy. (Encoding
 * lives with its one user, the handler: ss__base64.) */
#ifndef SS_BASE_BASE64_H
#define SS_BASE_BASE64_H

#include <stdbool.h>

#include "streamsy/bytes.h"

/* Appends the bytes `in` encodes to `out`. Padding is optional and ends the
 * input; with skip_line_ends, CR and LF are ignored (a payload split over
 * lines). SS_BADARG for any other byte outside the alphabet (out may then
 * hold part of the bytes); out's error when it cannot grow. */
SS_MUST_USE ss_rc ss__base64_decode(ss_slice in, bool skip_line_ends, ss_buf *out);

#endif
