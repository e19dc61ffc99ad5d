/* ss_buf: bounded growth and sticky errors; ss_arena release hooks; base64. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "streamsy/alloc.h"
#include "streamsy/bytes.h"

Test(buf, the_first_failure_sticks_and_the_bytes_before_it_stay) {
    ss_buf b;
    ss_buf_init(&b, 8);
    cr_assert_eq(ss_buf_append_cstr(&b, "abcde"), SS_OK);
    cr_assert_eq(ss_buf_append_cstr(&b, "fghij"), SS_TOOBIG);
    cr_assert_eq(b.err, SS_TOOBIG);
    cr_assert_eq(ss_buf_append_cstr(&b, "f"), SS_TOOBIG, "a later append that would fit does nothing");
    cr_assert_eq(ss_buf_printf(&b, "%d", 1), SS_TOOBIG);
    cr_assert_eq(ss_buf_reserve(&b, 1), SS_TOOBIG);
    cr_assert_eq(b.len, 5);
    cr_assert_str_eq(b.p, "abcde");
    ss_buf_release(&b);
    cr_assert_eq(b.err, SS_OK, "release makes the buffer usable again");
    cr_assert_eq(ss_buf_append_cstr(&b, "x"), SS_OK);
    ss_buf_release(&b);
}

Test(buf, truncate_undoes_a_failed_builder_and_clears_the_error) {
    ss_buf b;
    ss_buf_init(&b, 10);
    cr_assert_eq(ss_buf_append_cstr(&b, "keep"), SS_OK);
    size_t mark = b.len;
    (void)ss_buf_append_cstr(&b, "half");
    (void)ss_buf_append_cstr(&b, "too-long");
    cr_assert_eq(b.err, SS_TOOBIG);
    ss_buf_truncate(&b, mark);
    cr_assert_eq(b.err, SS_OK);
    cr_assert_str_eq(b.p, "keep");
    cr_assert_eq(ss_buf_append_cstr(&b, "!"), SS_OK);
    cr_assert_str_eq(b.p, "keep!");
    ss_buf_clear(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.p, "");
    ss_buf_release(&b);
}

Test(buf, detach_hands_over_the_bytes_and_resets) {
    ss_buf b;
    ss_buf_init(&b, 4);
    (void)ss_buf_append_cstr(&b, "abcdef");
    size_t len;
    char *p = ss_buf_detach(&b, &len);
    cr_assert_null(p, "nothing was stored");
    cr_assert_eq(b.err, SS_OK);
    cr_assert_eq(ss_buf_append_cstr(&b, "ab"), SS_OK);
    p = ss_buf_detach(&b, &len);
    cr_assert_eq(len, 2);
    cr_assert_str_eq(p, "ab");
    ss_free(p);
}

/* ---- base64 (base/base64.h) ---------------------------------------------------------------------- */

typedef struct release_note {
    char *log; /* the hooks append their names here */
    char name;
} release_note;

static void note_release(void *ctx) {
    release_note *n = ctx;
    n->log[strlen(n->log)] = n->name;
}

/* Release hooks run once, newest first, when the arena is released (also
 * after it was moved by value), and not again on a reused arena. */
Test(arena, release_hooks_run_once_newest_first_and_travel_with_a_moved_arena) {
    char log[8] = {0};
    release_note first = {log, '1'}, second = {log, '2'};
    ss_arena a;
    ss_arena_init(&a);
    cr_assert_eq(ss_arena_on_release(&a, note_release, &first), SS_OK);
    cr_assert_not_null(ss_arena_alloc(&a, 100));
    cr_assert_eq(ss_arena_on_release(&a, note_release, &second), SS_OK);
    ss_arena moved = a;
    ss_arena_init(&a);
    ss_arena_release(&a);
    cr_assert_str_eq(log, "");
    ss_arena_release(&moved);
    cr_assert_str_eq(log, "21");
    cr_assert_not_null(ss_arena_alloc(&moved, 10));
    ss_arena_release(&moved);
    cr_assert_str_eq(log, "21");
}

Test(base64, encodes_rfc4648_vectors_padded_and_url_unpadded) {
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[16];
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        cr_assert_eq(ss__base64_encode(in[i], strlen(in[i]), false, out), strlen(std[i]));
        cr_assert_str_eq(out, std[i]);
        cr_assert_eq(ss__base64_encode(in[i], strlen(in[i]), true, out), strlen(url[i]));
        cr_assert_str_eq(out, url[i]);
    }
    const unsigned char high[] = {0xfb, 0xff, 0xfe};
    ss__base64_encode(high, 3, false, out);
    cr_assert_str_eq(out, "+//+");
    ss__base64_encode(high, 3, true, out);
    cr_assert_str_eq(out, "-__-", "the URL alphabet");
}

Test(base64, decoding_what_was_encoded_gives_the_bytes_back) {
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)(255 - i);
    char text[SS_BASE64_ENCODED_LEN(256) + 1];
    size_t n = ss__base64_encode(bytes, sizeof bytes, false, text);
    ss_buf back;
    ss_buf_init(&back, 1024);
    cr_assert_eq(ss__base64_decode(ss_slice_of(text, n), false, &back), SS_OK);
    cr_assert_eq(back.len, sizeof bytes);
    cr_assert(memcmp(back.p, bytes, sizeof bytes) == 0);
    ss_buf_release(&back);
}
