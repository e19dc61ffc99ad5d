/* Stream globs: '*' matches exactly one path segment, '**' zero or more,
 * any other segment itself ("%2A" counts as '*'); leading and trailing '/'
 * are ignored. Also the path normaliser of the API's stream paths. */
#include <string.h>

#include "internal.h"
#include "streamsy/alloc.h"

char *ss__subs_normalize_path(const char *p, size_t len) {
    while (len && *p == '/')
        p++, len--;
    while (len && p[len - 1] == '/')
        len--;
    char *out = ss_malloc(len + 1);
    if (out) {
        memcpy(out, p, len);
        out[len] = '\0';
    }
    return out;
}

/* The next segment of s (skipping empty ones): its start and length, or false at the end. */
static bool next_segment(const char **s, const char **seg, size_t *len) {
    while (**s == '/')
        (*s)++;
    if (!**s)
        return false;
    *seg = *s;
    while (**s && **s != '/')
        (*s)++;
    *len = (size_t)(*s - *seg);
    return true;
}

static bool literal_matches(const char *pat, size_t plen, const char *seg, size_t slen) {
    size_t i = 0, j = 0;
    while (i < plen && j < slen) {
        if (pat[i] == '%' && i + 2 < plen && pat[i + 1] == '2' && (pat[i + 2] == 'A' || pat[i + 2] == 'a')) {
            if (seg[j] != '*')
                return false;
            i += 3, j++;
        } else if (pat[i++] != seg[j++]) {
            return false;
        }
    }
    return i == plen && j == slen;
}

typedef struct segment {
    const char *p;
    size_t n;
} segment;

static bool is_double_star(segment g) { return g.n == 2 && g.p[0] == '*' && g.p[1] == '*'; }

/* The classic iterative wildcard match over segments ("**" like '*' in a
 * string glob, '*' like '?'): on a mismatch, back up to the last "**" and let
 * it take one more segment. O(pattern segments x path segments), never
 * exponential, whatever the number of "**". */
bool ss__subs_glob_match(const char *pattern, const char *path) {
    segment pat[SS_SUBS_MAX_PATTERN_SEGMENTS];
    size_t np = 0;
    const char *p = pattern, *seg;
    size_t len;
    while (next_segment(&p, &seg, &len)) {
        if (np == SS_SUBS_MAX_PATTERN_SEGMENTS)
            return false; /* refused at creation; never matches */
        pat[np++] = (segment){seg, len};
    }
    size_t pi = 0, star = SIZE_MAX;
    const char *s = path, *star_s = NULL;
    while (true) {
        const char *after = s;
        bool has_s = next_segment(&after, &seg, &len);
        if (!has_s)
            break;
        if (pi < np && is_double_star(pat[pi])) {
            star = pi++;
            star_s = s;
        } else if (pi < np &&
                   ((pat[pi].n == 1 && pat[pi].p[0] == '*') || literal_matches(pat[pi].p, pat[pi].n, seg, len))) {
            pi++;
            s = after;
        } else if (star != SIZE_MAX) {
            pi = star + 1;
            const char *ignored;
            size_t n;
            next_segment(&star_s, &ignored, &n); /* the "**" takes one more segment */
            s = star_s;
        } else {
            return false;
        }
    }
    while (pi < np && is_double_star(pat[pi]))
        pi++;
    return pi == np;
}
