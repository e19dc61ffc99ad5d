/* Base64 (RFC 4648): decoding for the client's SSE reader and the
 * conformance adapter, encoding for the handler's binary SSE events (the
 * standard alphabet, padded) and the subscription keys, signatures and
 * tokens (the URL alphabet, unpadded). Internal to Streamsy. */
#ifndef SS_BASE_BASE64_H
#define SS_BASE_BASE64_H

#include <stdbool.h>

#include "streamsy/bytes.h"

/* Appends the bytes `in` encodes to `out`. Padding is optional and ends the
 * input; with skip_line_ends, CR and LF are ignored (a payload split over
 * lines). SS_BADARG for any other byte outside the alphabet (out may then
 * hold part of the bytes); out's error when it cannot grow. */
SS_MUST_USE ss_rc ss__base64_decode(ss_slice in, bool skip_line_ends, ss_buf *out);

/* Bytes ss__base64_encode writes for len input bytes (padded; the URL form
 * is at most this), without the NUL it also writes. */
#define SS_BASE64_ENCODED_LEN(len) (((len) + 2) / 3 * 4)

/* Encodes `len` bytes into out, which holds SS_BASE64_ENCODED_LEN(len) + 1
 * bytes: the standard alphabet with '=' padding, or with `url` the URL
 * alphabet ('-', '_') without padding. Returns the length written (a NUL
 * follows). */
size_t ss__base64_encode(const void *data, size_t len, bool url, char *out);

#endif
