/* JSON Schema equality (enum, const, uniqueItems) and exact number
 * comparison (minimum, maximum, ...). jansson's json_equal() is not used:
 * it treats 1 and 1.0 as different, JSON Schema does not. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"
#include "streamsy/alloc.h"

#define TWO63 9223372036854775808.0

/* Exact comparison of an integer and a double (no NaN in JSON). */
static int cmp_int_double(json_int_t i, double d) {
    if (d >= TWO63)
        return -1;
    if (d < -TWO63)
        return 1;
    double t = trunc(d);
    json_int_t ti = (json_int_t)t;
    if (i != ti)
        return i < ti ? -1 : 1;
    double frac = d - t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_numbers(const json_t *a, const json_t *b) {
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_integer(a))
        return cmp_int_double(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -cmp_int_double(json_integer_value(b), json_real_value(a));
    double x = json_real_value(a), y = json_real_value(b);
    return x < y ? -1 : x > y;
}

int ss__sch_num_cmp(const json_t *x, const ss__sch_num *n) {
    if (json_is_integer(x)) {
        json_int_t i = json_integer_value(x);
        if (n->is_int)
            return i < n->i ? -1 : i > n->i;
        return cmp_int_double(i, n->d);
    }
    double d = json_real_value(x);
    if (n->is_int)
        return -cmp_int_double(n->i, d);
    return d < n->d ? -1 : d > n->d;
}

bool ss__sch_is_integral(const json_t *x) {
    if (json_is_integer(x))
        return true;
    double d = json_real_value(x);
    return isfinite(d) && trunc(d) == d;
}

static bool equal(const json_t *a, const json_t *b, int depth) {
    if (a == b)
        return true;
    if (json_is_number(a) && json_is_number(b))
        return cmp_numbers(a, b) == 0;
    if (json_typeof(a) != json_typeof(b) || depth >= SS_JSON_SCHEMA_EQUAL_MAX_DEPTH)
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!equal(json_array_get(a, i), json_array_get(b, i), depth + 1))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_t *ma = (json_t *)a;
        for (void *it = json_object_iter(ma); it; it = json_object_iter_next(ma, it)) {
            const json_t *vb = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!vb || !equal(json_object_iter_value(it), vb, depth + 1))
                return false;
        }
        return true;
    }
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        return true; /* same type; numbers were handled above */
    }
    return false;
}

bool ss__sch_equal(const json_t *a, const json_t *b) { return equal(a, b, 0); }

/* ---- uniqueItems --------------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Consistent with equal(): equal numbers hash alike whatever their type. */
static uint64_t hash(const json_t *x, int depth) {
    if (depth >= SS_JSON_SCHEMA_EQUAL_MAX_DEPTH)
        return 0;
    switch (json_typeof(x)) {
    case JSON_INTEGER:
        return mix(1, (uint64_t)json_integer_value(x));
    case JSON_REAL: {
        double d = json_real_value(x);
        if (trunc(d) == d && d >= -TWO63 && d < TWO63)
            return mix(1, (uint64_t)(json_int_t)d);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(2, bits);
    }
    case JSON_STRING:
        return mix(3, hash_bytes(json_string_value(x), json_string_length(x)));
    case JSON_ARRAY: {
        uint64_t h = 4;
        for (size_t i = 0; i < json_array_size(x); i++)
            h = mix(h, hash(json_array_get(x, i), depth + 1));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = 0; /* order-independent: a sum of member hashes */
        json_t *m = (json_t *)x;
        for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it))
            h += mix(hash_bytes(json_object_iter_key(it), json_object_iter_key_len(it)),
                     hash(json_object_iter_value(it), depth + 1));
        return mix(5, h);
    }
    case JSON_TRUE:
        return 6;
    case JSON_FALSE:
        return 7;
    case JSON_NULL:
        return 8;
    }
    return 0;
}

typedef struct hashed {
    uint64_t h;
    size_t i;
} hashed;

static int by_hash(const void *a, const void *b) {
    const hashed *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

#define SMALL_ARRAY 16

bool ss__sch_unique(const json_t *array, size_t *dup_i, size_t *dup_j) {
    size_t n = json_array_size(array);
    hashed *hs = n > SMALL_ARRAY ? ss_malloc(n * sizeof *hs) : NULL;
    if (!hs) { /* small, or no memory: pairwise */
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (equal(json_array_get(array, i), json_array_get(array, j), 0)) {
                    *dup_i = i;
                    *dup_j = j;
                    return false;
                }
        return true;
    }
    for (size_t i = 0; i < n; i++)
        hs[i] = (hashed){hash(json_array_get(array, i), 0), i};
    qsort(hs, n, sizeof *hs, by_hash);
    bool unique = true;
    for (size_t a = 0; a < n && unique; a++)
        for (size_t b = a + 1; b < n && hs[b].h == hs[a].h; b++)
            if (equal(json_array_get(array, hs[a].i), json_array_get(array, hs[b].i), 0)) {
                *dup_i = hs[a].i;
                *dup_j = hs[b].i;
                unique = false;
                break;
            }
    ss_free(hs);
    return unique;
}
