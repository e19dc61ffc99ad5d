/* Validation of a jansson value against compiled nodes.
 *
 * Hot path. Nothing is allocated or formatted while the value is valid: the
 * path to the current value is a stack of (key, length | index) segments
 * and becomes a JSON Pointer only when a failure is reported. Keywords whose
 * failure is not itself an error (anyOf, oneOf, not, if, contains,
 * propertyNames) evaluate their subschemas "quietly" (no error reporting);
 * only when the keyword then fails, and the caller wants an error, are the
 * branches evaluated again with reporting to name the one that got
 * furthest. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errf.h"
#include "schema_internal.h"
#include "streamsy/alloc.h"
#include "streamsy/json_doc.h"

typedef struct seg {
    const char *key; /* NULL for an array index */
    size_t len;      /* key length, or the index */
} seg;

typedef struct vctx {
    const ss_json_schema *s;
    ss_json_error *err; /* NULL: quiet */
    int depth;
    size_t n_path;
    seg path[SS_JSON_SCHEMA_MAX_DEPTH + 2];
} vctx;

static bool v(vctx *c, const ss__sch_node *n, const json_t *x, const char *via);

/* ---- errors ------------------------------------------------------------------------- */

static void put_path(char *out, size_t cap, const seg *path, size_t n) {
    size_t o = 0;
    bool cut = false;
    for (size_t i = 0; i < n && !cut; i++) {
        char num[24];
        const char *p = path[i].key;
        size_t len = path[i].len;
        if (!p) {
            len = (size_t)snprintf(num, sizeof num, "%zu", path[i].len);
            p = num;
        }
        if (o + 1 >= cap) {
            cut = true;
            break;
        }
        out[o++] = '/';
        for (size_t k = 0; k < len; k++) {
            char ch = p[k];
            const char *esc = ch == '~' ? "~0" : ch == '/' ? "~1" : NULL;
            size_t need = esc ? 2 : 1;
            if (o + need >= cap) {
                cut = true;
                break;
            }
            if (esc) {
                out[o++] = esc[0];
                out[o++] = esc[1];
            } else if (ch != '\0') {
                out[o++] = ch;
            }
        }
    }
    if (cut && cap > 4)
        memcpy(out + cap - 4, "...", 3), o = cap - 1;
    out[o] = '\0';
}

static bool fail(vctx *c, const char *rule, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(vctx *c, const char *rule, const char *fmt, ...) {
    ss_json_error *e = c->err;
    if (!e)
        return false;
    put_path(e->path, sizeof e->path, c->path, c->n_path);
    va_list ap;
    va_start(ap, fmt);
    ss__json_error_vset(e, rule, fmt, ap);
    va_end(ap);
    return false;
}

static void push_key(vctx *c, const char *key, size_t len) { c->path[c->n_path++] = (seg){key, len}; }
static void push_index(vctx *c, size_t i) { c->path[c->n_path++] = (seg){NULL, i}; }
static void pop(vctx *c) { c->n_path--; }

static bool quiet(vctx *c, const ss__sch_node *n, const json_t *x) {
    ss_json_error *saved = c->err;
    c->err = NULL;
    bool ok = v(c, n, x, "false");
    c->err = saved;
    return ok;
}

/* Shortest decimal that reads back as d. */
static void fmt_num(char *out, size_t cap, const ss__sch_num *n) {
    if (n->is_int) {
        snprintf(out, cap, "%" JSON_INTEGER_FORMAT, n->i);
        return;
    }
    snprintf(out, cap, "%.15g", n->d);
    if (strtod(out, NULL) != n->d)
        snprintf(out, cap, "%.17g", n->d);
}

static const char *type_name(const json_t *x) {
    switch (json_typeof(x)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static bool fail_type(vctx *c, unsigned types, const json_t *x) {
    if (!c->err)
        return false;
    static const char *const names[] = {"null", "boolean", "object", "array", "number", "string", "integer"};
    char want[96] = "";
    size_t o = 0;
    for (unsigned b = 0; b < 7; b++)
        if (types & (1u << b))
            o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", o ? " or " : "", names[b]);
    return fail(c, "type", "expected %s, got %s", want, type_name(x));
}

/* "value ... [json]" with the JSON shortened to fit. */
static bool fail_json(vctx *c, const char *rule, const char *what, const json_t *j) {
    if (!c->err)
        return false;
    ss_buf dump;
    ss_buf_init(&dump, SIZE_MAX);
    bool written = ss_json_doc_write(j, &dump) == SS_OK && ss_buf_append(&dump, "", 1) == SS_OK;
    if (written && dump.len > 161)
        memcpy(dump.p + 157, "...", 4);
    bool r = fail(c, rule, "%s %s", what, written ? dump.p : "(the schema's value)");
    ss_buf_release(&dump);
    return r;
}

/* A failure that says "this value has the wrong shape for this branch"
 * rather than "this value is close but wrong": a type, const or enum
 * mismatch (discriminators of tagged unions) or a property the branch does
 * not have. It ranks as if it had happened one level up. */
static bool weak_rule(const char *rule) {
    return strcmp(rule, "type") == 0 || strcmp(rule, "const") == 0 || strcmp(rule, "enum") == 0 ||
           strcmp(rule, "additionalProperties") == 0 || strcmp(rule, "false") == 0;
}

/* anyOf/oneOf with no matching branch: evaluate the branches again with
 * reporting and name the one that got furthest: the deepest failure in the
 * value, weak failures counting one level less, the first branch on ties. */
static bool fail_branches(vctx *c, const char *rule, ss__sch_node *const *b, size_t n, const json_t *x) {
    if (!c->err)
        return false;
    ss_json_error *saved = c->err;
    ss_json_error *e = ss_malloc(2 * sizeof *e);
    if (!e)
        return fail(c, rule, "value matches none of the %zu %s schemas", n, rule);
    ss_json_error *best = &e[1];
    size_t best_i = 0;
    int best_depth = 0;
    bool have_best = false;
    for (size_t i = 0; i < n; i++) {
        memset(&e[0], 0, sizeof e[0]);
        c->err = &e[0];
        size_t n_path = c->n_path;
        bool ok = v(c, b[i], x, rule);
        c->n_path = n_path;
        if (ok)
            continue; /* cannot happen: the quiet pass said it fails */
        int d = weak_rule(e[0].rule) ? -1 : 0;
        for (const char *p = e[0].path; *p; p++)
            d += *p == '/';
        if (!have_best || d > best_depth) {
            have_best = true;
            best_depth = d;
            best_i = i;
            *best = e[0];
        }
    }
    c->err = saved;
    bool r;
    if (!have_best)
        r = fail(c, rule, "value matches none of the %zu %s schemas", n, rule);
    else
        r = fail(c, rule, "value matches none of the %zu %s schemas; schema %zu fails at \"%s\": %s: %s", n, rule,
                 best_i, best->path, best->rule, best->message);
    ss_free(e);
    return r;
}

/* ---- keywords ------------------------------------------------------------------------ */

static bool type_ok(unsigned types, const json_t *x) {
    switch (json_typeof(x)) {
    case JSON_OBJECT:
        return types & SS__SCH_T_OBJECT;
    case JSON_ARRAY:
        return types & SS__SCH_T_ARRAY;
    case JSON_STRING:
        return types & SS__SCH_T_STRING;
    case JSON_INTEGER:
        return types & (SS__SCH_T_NUMBER | SS__SCH_T_INTEGER);
    case JSON_REAL:
        return (types & SS__SCH_T_NUMBER) || ((types & SS__SCH_T_INTEGER) && ss__sch_is_integral(x));
    case JSON_TRUE:
    case JSON_FALSE:
        return types & SS__SCH_T_BOOLEAN;
    case JSON_NULL:
        return types & SS__SCH_T_NULL;
    }
    return false;
}

static size_t code_points(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static bool v_string(vctx *c, const ss__sch_node *n, const json_t *x) {
    const char *s = json_string_value(x);
    size_t bytes = json_string_length(x);
    /* bytes/4 <= code points <= bytes: count only when that is not enough */
    if (n->min_length > bytes / 4 || bytes > n->max_length) {
        size_t cp = code_points(s, bytes);
        if (cp < n->min_length)
            return fail(c, "minLength", "string is shorter than %zu character%s", n->min_length,
                        n->min_length == 1 ? "" : "s");
        if (cp > n->max_length)
            return fail(c, "maxLength", "string is longer than %zu character%s", n->max_length,
                        n->max_length == 1 ? "" : "s");
    }
    if (n->pattern) {
        ss__sch_match m = ss__sch_regex_search(n->pattern, s, bytes);
        if (m == SS__SCH_NO_MATCH)
            return fail(c, "pattern", "string does not match the pattern \"%.100s\"", n->pattern->source);
        if (m == SS__SCH_MATCH_LIMIT)
            return fail(c, "pattern", "matching the pattern \"%.100s\" took too many steps", n->pattern->source);
    }
    return true;
}

static bool multiple_ok(const json_t *x, const ss__sch_num *m) {
    if (json_is_integer(x) && m->is_int)
        return json_integer_value(x) % m->i == 0;
    double q = json_number_value(x) / m->d;
    return isfinite(q) && trunc(q) == q;
}

static bool v_number(vctx *c, const ss__sch_node *n, const json_t *x) {
    char b[40];
    unsigned k = n->num_kw;
    if ((k & SS__SCH_N_MIN) && ss__sch_num_cmp(x, &n->minimum) < 0)
        return fmt_num(b, sizeof b, &n->minimum), fail(c, "minimum", "value is less than the minimum %s", b);
    if ((k & SS__SCH_N_MAX) && ss__sch_num_cmp(x, &n->maximum) > 0)
        return fmt_num(b, sizeof b, &n->maximum), fail(c, "maximum", "value is greater than the maximum %s", b);
    if ((k & SS__SCH_N_XMIN) && ss__sch_num_cmp(x, &n->xminimum) <= 0)
        return fmt_num(b, sizeof b, &n->xminimum), fail(c, "exclusiveMinimum", "value must be greater than %s", b);
    if ((k & SS__SCH_N_XMAX) && ss__sch_num_cmp(x, &n->xmaximum) >= 0)
        return fmt_num(b, sizeof b, &n->xmaximum), fail(c, "exclusiveMaximum", "value must be less than %s", b);
    if ((k & SS__SCH_N_MULT) && !multiple_ok(x, &n->multiple_of))
        return fmt_num(b, sizeof b, &n->multiple_of), fail(c, "multipleOf", "value is not a multiple of %s", b);
    return true;
}

static const ss__sch_prop *find_prop(const ss__sch_node *n, const char *key, size_t len) {
    size_t lo = 0, hi = n->n_props;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ss__sch_prop *p = &n->props[mid];
        int d = p->len != len ? (p->len < len ? -1 : 1) : memcmp(p->key, key, len);
        if (d == 0)
            return p;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool v_object(vctx *c, const ss__sch_node *n, const json_t *x) {
    for (size_t i = 0; i < n->n_required; i++)
        if (!json_object_getn(x, n->required[i].key, n->required[i].len))
            return fail(c, "required", "missing property \"%.*s\"",
                        (int)(n->required[i].len > 100 ? 100 : n->required[i].len), n->required[i].key);
    size_t size = json_object_size(x);
    if (size < n->min_props)
        return fail(c, "minProperties", "object has fewer than %zu properties", n->min_props);
    if (size > n->max_props)
        return fail(c, "maxProperties", "object has more than %zu properties", n->max_props);

    if (n->n_props || n->n_pprops || n->additional_props || n->property_names) {
        json_t *m = (json_t *)x;
        for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
            const char *key = json_object_iter_key(it);
            size_t len = json_object_iter_key_len(it);
            const json_t *val = json_object_iter_value(it);
            bool matched = false;
            if (n->n_props) {
                const ss__sch_prop *p = find_prop(n, key, len);
                if (p) {
                    matched = true;
                    push_key(c, key, len);
                    bool ok = v(c, p->schema, val, "properties");
                    pop(c);
                    if (!ok)
                        return false;
                }
            }
            for (size_t i = 0; i < n->n_pprops; i++) {
                ss__sch_match m = ss__sch_regex_search(n->pprops[i].re, key, len);
                if (m == SS__SCH_MATCH_LIMIT) {
                    push_key(c, key, len);
                    bool r = fail(c, "patternProperties", "matching the pattern \"%.100s\" took too many steps",
                                  n->pprops[i].re->source);
                    pop(c);
                    return r;
                }
                if (m == SS__SCH_NO_MATCH)
                    continue;
                matched = true;
                push_key(c, key, len);
                bool ok = v(c, n->pprops[i].schema, val, "patternProperties");
                pop(c);
                if (!ok)
                    return false;
            }
            if (!matched && n->additional_props) {
                push_key(c, key, len);
                bool ok = n->additional_props->kind == SS__SCH_FALSE
                              ? fail(c, "additionalProperties", "property \"%.*s\" is not allowed",
                                     (int)(len > 100 ? 100 : len), key)
                              : v(c, n->additional_props, val, "additionalProperties");
                pop(c);
                if (!ok)
                    return false;
            }
            if (n->property_names) {
                json_t *name = json_stringn_nocheck(key, len);
                bool ok = name && quiet(c, n->property_names, name);
                json_decref(name);
                if (!ok)
                    return fail(c, "propertyNames", "property name \"%.*s\" is not allowed",
                                (int)(len > 100 ? 100 : len), key);
            }
        }
    }

    for (size_t i = 0; i < n->n_deps; i++) {
        const ss__sch_dep *d = &n->deps[i];
        if (!json_object_getn(x, d->key, d->len))
            continue;
        for (size_t k = 0; k < d->n_names; k++)
            if (!json_object_getn(x, d->names[k].key, d->names[k].len))
                return fail(c, "dependencies", "property \"%.*s\" requires property \"%.*s\"",
                            (int)(d->len > 80 ? 80 : d->len), d->key,
                            (int)(d->names[k].len > 80 ? 80 : d->names[k].len), d->names[k].key);
        if (d->schema && !v(c, d->schema, x, "dependencies"))
            return false;
    }
    return true;
}

static bool v_array(vctx *c, const ss__sch_node *n, const json_t *x) {
    size_t size = json_array_size(x);
    if (size < n->min_items)
        return fail(c, "minItems", "array has fewer than %zu items", n->min_items);
    if (size > n->max_items)
        return fail(c, "maxItems", "array has more than %zu items", n->max_items);
    if (n->items) {
        for (size_t i = 0; i < size; i++) {
            push_index(c, i);
            bool ok = v(c, n->items, json_array_get(x, i), "items");
            pop(c);
            if (!ok)
                return false;
        }
    } else if (n->has_items_tuple) {
        for (size_t i = 0; i < size; i++) {
            bool tuple = i < n->n_items_tuple;
            const ss__sch_node *s = tuple ? n->items_tuple[i] : n->additional_items;
            if (!s)
                break;
            push_index(c, i);
            bool ok = (!tuple && s->kind == SS__SCH_FALSE)
                          ? fail(c, "additionalItems", "array has more than %zu items", n->n_items_tuple)
                          : v(c, s, json_array_get(x, i), tuple ? "items" : "additionalItems");
            pop(c);
            if (!ok)
                return false;
        }
    }
    size_t di, dj;
    if (n->unique_items && !ss__sch_unique(x, &di, &dj))
        return fail(c, "uniqueItems", "items %zu and %zu are equal", di, dj);
    if (n->contains) {
        bool found = false;
        for (size_t i = 0; i < size && !found; i++) {
            push_index(c, i);
            found = quiet(c, n->contains, json_array_get(x, i));
            pop(c);
        }
        if (!found)
            return fail(c, "contains", "no item matches the \"contains\" schema");
    }
    return true;
}

static bool v_applicators(vctx *c, const ss__sch_node *n, const json_t *x) {
    for (size_t i = 0; i < n->n_all_of; i++)
        if (!v(c, n->all_of[i], x, "allOf"))
            return false;
    if (n->n_any_of) {
        bool any = false;
        for (size_t i = 0; i < n->n_any_of && !any; i++)
            any = quiet(c, n->any_of[i], x);
        if (!any)
            return fail_branches(c, "anyOf", n->any_of, n->n_any_of, x);
    }
    if (n->n_one_of) {
        size_t matches = 0, first = 0, second = 0;
        for (size_t i = 0; i < n->n_one_of && matches < 2; i++) {
            if (quiet(c, n->one_of[i], x)) {
                if (matches++ == 0)
                    first = i;
                else
                    second = i;
            }
        }
        if (matches == 0)
            return fail_branches(c, "oneOf", n->one_of, n->n_one_of, x);
        if (matches > 1)
            return fail(c, "oneOf", "value matches oneOf schemas %zu and %zu; exactly one must match", first,
                        second);
    }
    if (n->not_ && quiet(c, n->not_, x))
        return fail(c, "not", "value must not match the \"not\" schema");
    if (n->if_) {
        if (quiet(c, n->if_, x)) {
            if (n->then_ && !v(c, n->then_, x, "then"))
                return false;
        } else if (n->else_ && !v(c, n->else_, x, "else")) {
            return false;
        }
    }
    return true;
}

static bool v_schema(vctx *c, const ss__sch_node *n, const json_t *x) {
    if (n->ref) {
        if (!v(c, n->ref, x, "$ref"))
            return false;
        if (n->ref_only)
            return true;
    }
    if (n->types && !type_ok(n->types, x))
        return fail_type(c, n->types, x);
    if (n->const_value && !ss__sch_equal(x, n->const_value))
        return fail_json(c, "const", "value must equal", n->const_value);
    if (n->enum_values) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(n->enum_values) && !found; i++)
            found = ss__sch_equal(x, json_array_get(n->enum_values, i));
        if (!found)
            return fail_json(c, "enum", "value must be one of", n->enum_values);
    }
    switch (json_typeof(x)) {
    case JSON_STRING:
        if (n->string_kw && !v_string(c, n, x))
            return false;
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        if (n->num_kw && !v_number(c, n, x))
            return false;
        break;
    case JSON_OBJECT:
        if (n->object_kw && !v_object(c, n, x))
            return false;
        break;
    case JSON_ARRAY:
        if (n->array_kw && !v_array(c, n, x))
            return false;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        break;
    }
    return v_applicators(c, n, x);
}

static bool v(vctx *c, const ss__sch_node *n, const json_t *x, const char *via) {
    switch (n->kind) {
    case SS__SCH_TRUE:
        return true;
    case SS__SCH_FALSE:
        return fail(c, via, "no value is allowed here (false schema)");
    case SS__SCH_SCHEMA:
        break;
    }
    if (c->depth >= SS_JSON_SCHEMA_MAX_DEPTH || c->n_path > SS_JSON_SCHEMA_MAX_DEPTH)
        return fail(c, "depth", "value is nested too deeply to validate (limit %d)", SS_JSON_SCHEMA_MAX_DEPTH);
    c->depth++;
    bool ok = v_schema(c, n, x);
    c->depth--;
    return ok;
}

bool ss__sch_validate(const ss_json_schema *s, const json_t *value, ss_json_error *err) {
    vctx c;
    c.s = s;
    c.err = err;
    c.depth = 0;
    c.n_path = 0;
    return v(&c, s->root, value, "false");
}
