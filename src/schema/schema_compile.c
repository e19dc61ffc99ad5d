/* Schema document -> tree of ss__sch_node.
 *
 * Three passes:
 *  1. ids: walk the subschemas, note the base URI in effect at each schema
 *     object and register "$id" resources and "#name" anchors;
 *  2. nodes: compile from the root (and every definitions/$defs entry);
 *     a "$ref" becomes a pending reference, resolved afterwards from a work
 *     list, so C recursion stays bounded by the document's nesting (each
 *     schema object is compiled once; a $ref to it reuses its node);
 *  3. cycles: an iterative DFS over the edges that stay on the same value
 *     ($ref, allOf, anyOf, oneOf, not, if/then/else, schema dependencies)
 *     rejects cycles, which validation could never finish. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errf.h"
#include "base/grow.h"
#include "base/map.h"
#include "schema_internal.h"
#include "streamsy/alloc.h"

#define PATH_CAP 1024

typedef struct pending {
    ss__sch_node *node;
    char *uri;   /* absolute (as far as the document's ids go) */
    char *where; /* schema location of the $ref */
} pending;

typedef struct cc {
    ss_json_schema *s;
    ss_json_error *err;
    ss_rc rc;
    ss__map nodes;     /* json_t* bytes -> node */
    ss__map bases;     /* json_t* bytes -> base URI (arena string) */
    ss__map resources; /* URI (without fragment) or anchor URI -> json_t* */
    pending *refs;
    size_t n_refs, cap_refs;
    bool ref_siblings; /* 2019-09+: keywords next to $ref apply too */
    ss__sch_node *true_node, *false_node;
    char path[PATH_CAP];
    size_t path_len;
} cc;

/* ---- errors and the schema path ------------------------------------------------- */

static void copy_path(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) { /* keep the start, mark the cut */
        memcpy(dst, src, cap - 4);
        memcpy(dst + cap - 4, "...", 4);
        return;
    }
    memcpy(dst, src, n + 1);
}

static void *cfail(cc *c, const char *rule, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void *cfail(cc *c, const char *rule, const char *fmt, ...) {
    if (c->rc != SS_OK)
        return NULL;
    c->rc = SS_BADARG;
    if (c->err) {
        copy_path(c->err->path, sizeof c->err->path, c->path);
        va_list ap;
        va_start(ap, fmt);
        ss__json_error_vset(c->err, rule, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static void *cnomem(cc *c) {
    if (c->rc == SS_OK) {
        c->rc = SS_NOMEM;
        if (c->err) {
            c->err->index = -1;
            copy_path(c->err->path, sizeof c->err->path, c->path);
            snprintf(c->err->rule, sizeof c->err->rule, "memory");
            snprintf(c->err->message, sizeof c->err->message, "out of memory");
        }
    }
    return NULL;
}

static size_t path_push(cc *c, const char *key, size_t len) {
    size_t mark = c->path_len, o = mark;
    if (o > PATH_CAP - 1)
        o = PATH_CAP - 1;
    if (o < PATH_CAP - 1)
        c->path[o++] = '/';
    for (size_t i = 0; i < len && o < PATH_CAP - 2; i++) {
        char ch = key[i];
        if (ch == '~' || ch == '/') {
            c->path[o++] = '~';
            c->path[o++] = ch == '~' ? '0' : '1';
        } else if (ch != '\0') {
            c->path[o++] = ch;
        }
    }
    c->path[o] = '\0';
    c->path_len = o;
    return mark;
}

static size_t path_push_cstr(cc *c, const char *key) { return path_push(c, key, strlen(key)); }

static size_t path_push_index(cc *c, size_t i) {
    char b[24];
    int n = snprintf(b, sizeof b, "%zu", i);
    return path_push(c, b, (size_t)n);
}

static void path_pop(cc *c, size_t mark) {
    c->path_len = mark;
    c->path[mark] = '\0';
}

static void path_set(cc *c, const char *p) {
    snprintf(c->path, PATH_CAP, "%s", p);
    c->path_len = strlen(c->path);
}

/* ---- small helpers ---------------------------------------------------------------- */

static ss_slice ptr_key(const json_t *const *j) { return ss_slice_of(j, sizeof *j); }

static void *alloc(cc *c, size_t n) {
    void *p = ss_arena_alloc(&c->s->arena, n ? n : 1);
    if (!p)
        return cnomem(c);
    memset(p, 0, n ? n : 1);
    return p;
}

static char *arena_strdup(cc *c, const char *s) {
    size_t n = strlen(s);
    char *p = alloc(c, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static bool get_count(cc *c, const json_t *v, const char *kw, size_t *out) {
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (size_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && ss__sch_is_integral(v)) {
        double d = json_real_value(v);
        *out = d >= 1.8e19 ? SIZE_MAX : (size_t)d;
        return true;
    }
    cfail(c, kw, "\"%s\" must be a non-negative integer", kw);
    return false;
}

static bool get_num(cc *c, const json_t *v, const char *kw, ss__sch_num *out) {
    if (json_is_integer(v)) {
        *out = (ss__sch_num){true, json_integer_value(v), (double)json_integer_value(v)};
        return true;
    }
    if (json_is_real(v)) {
        *out = (ss__sch_num){false, 0, json_real_value(v)};
        return true;
    }
    cfail(c, kw, "\"%s\" must be a number", kw);
    return false;
}

static const char *nofrag_dup(cc *c, const char *uri) {
    const char *h = strchr(uri, '#');
    size_t n = h ? (size_t)(h - uri) : strlen(uri);
    char *p = alloc(c, n + 1);
    if (p) {
        memcpy(p, uri, n);
        p[n] = '\0';
    }
    return p;
}

/* The keywords whose values are subschemas, for the id pass. */
static const char *const ONE_SCHEMA[] = {
    "additionalItems", "additionalProperties", "contains", "propertyNames", "not", "if", "then", "else", "items"};
static const char *const SCHEMA_ARRAYS[] = {"items", "allOf", "anyOf", "oneOf"};
static const char *const SCHEMA_MAPS[] = {"properties", "patternProperties", "definitions", "$defs",
                                          "dependencies"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Later-draft assertions: ignoring them would accept what they reject. */
static const char *const REJECTED[] = {"prefixItems",       "unevaluatedProperties", "unevaluatedItems",
                                       "dependentRequired", "dependentSchemas",      "minContains",
                                       "maxContains",       "$recursiveRef",         "$dynamicRef"};

/* ---- pass 1: ids -------------------------------------------------------------------- */

static bool register_resource(cc *c, const char *uri, const json_t *j) {
    ss_slice k = ss_slice_cstr(uri);
    if (ss__map_get(&c->resources, k))
        return true; /* the first declaration wins */
    if (ss__map_put(&c->resources, k, (void *)j)) {
        cnomem(c);
        return false;
    }
    return true;
}

static bool ids(cc *c, const json_t *j, const char *base, int depth) {
    if (!json_is_object(j))
        return true;
    if (depth > SS_JSON_SCHEMA_MAX_DEPTH) {
        cfail(c, "depth", "schema nested more than %d levels", SS_JSON_SCHEMA_MAX_DEPTH);
        return false;
    }
    const char *inner = base;
    const json_t *id = json_object_get(j, "$id");
    if (id && (c->ref_siblings || !json_object_get(j, "$ref"))) {
        size_t mark = path_push_cstr(c, "$id");
        if (!json_is_string(id)) {
            cfail(c, "$id", "\"$id\" must be a string");
            return false;
        }
        char *abs = ss__sch_uri_resolve(base, json_string_value(id));
        if (!abs) {
            cnomem(c);
            return false;
        }
        bool ok = true;
        const char *hash = strchr(abs, '#');
        if (json_string_value(id)[0] != '#') { /* a new base (and maybe an anchor) */
            const char *nf = nofrag_dup(c, abs);
            ok = nf && register_resource(c, nf, j);
            inner = nf;
        }
        if (ok && hash && hash[1]) { /* "#name" anchor */
            const char *anchor = arena_strdup(c, abs);
            ok = anchor && register_resource(c, anchor, j);
        }
        ss_free(abs);
        path_pop(c, mark);
        if (!ok)
            return false;
    }
    const json_t *const key = j;
    if (ss__map_put(&c->bases, ptr_key(&key), (void *)inner)) {
        cnomem(c);
        return false;
    }
    for (size_t k = 0; k < COUNT(ONE_SCHEMA); k++) {
        const json_t *v = json_object_get(j, ONE_SCHEMA[k]);
        if (v && !ids(c, v, inner, depth + 1))
            return false;
    }
    for (size_t k = 0; k < COUNT(SCHEMA_ARRAYS); k++) {
        const json_t *v = json_object_get(j, SCHEMA_ARRAYS[k]);
        for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
            if (!ids(c, json_array_get(v, i), inner, depth + 1))
                return false;
    }
    for (size_t k = 0; k < COUNT(SCHEMA_MAPS); k++) {
        json_t *v = json_object_get(j, SCHEMA_MAPS[k]);
        if (!json_is_object(v))
            continue;
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it))
            if (!ids(c, json_object_iter_value(it), inner, depth + 1))
                return false;
    }
    return true;
}

/* ---- pass 2: nodes ------------------------------------------------------------------ */

static ss__sch_node *compile(cc *c, const json_t *j, const char *outer_base, int depth);

static ss__sch_node *new_node(cc *c, ss__sch_kind kind) {
    ss__sch_node *n = alloc(c, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->max_length = n->max_props = n->max_items = SIZE_MAX;
    n->next_all = c->s->all;
    c->s->all = n;
    return n;
}

/* Compiles the subschema under keyword `kw` (path already has kw). A `true`
 * schema compiles to NULL when `drop_true` (nothing to check). */
static bool sub(cc *c, const json_t *v, const char *base, int depth, ss__sch_node **out, bool drop_true) {
    ss__sch_node *n = compile(c, v, base, depth + 1);
    if (!n)
        return false;
    *out = (drop_true && n->kind == SS__SCH_TRUE) ? NULL : n;
    return true;
}

static bool schema_array(cc *c, const json_t *v, const char *kw, const char *base, int depth, ss__sch_node ***out,
                         size_t *out_n) {
    if (!json_is_array(v) || json_array_size(v) == 0) {
        cfail(c, kw, "\"%s\" must be a non-empty array of schemas", kw);
        return false;
    }
    size_t n = json_array_size(v);
    ss__sch_node **a = alloc(c, n * sizeof *a);
    if (!a)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t mark = path_push_index(c, i);
        bool ok = sub(c, json_array_get(v, i), base, depth, &a[i], false);
        path_pop(c, mark);
        if (!ok)
            return false;
    }
    *out = a;
    *out_n = n;
    return true;
}

static bool string_array(cc *c, const json_t *v, const char *kw, ss__sch_name **out, size_t *out_n) {
    if (!json_is_array(v)) {
        cfail(c, kw, "\"%s\" must be an array of strings", kw);
        return false;
    }
    size_t n = json_array_size(v);
    ss__sch_name *a = alloc(c, n * sizeof *a);
    if (!a)
        return false;
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) {
            size_t mark = path_push_index(c, i);
            cfail(c, kw, "\"%s\" must be an array of strings", kw);
            path_pop(c, mark);
            return false;
        }
        a[i] = (ss__sch_name){json_string_value(s), json_string_length(s)};
    }
    *out = a;
    *out_n = n;
    return true;
}

static int prop_cmp(const void *a, const void *b) {
    const ss__sch_prop *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->key, y->key, x->len);
}

static ss__sch_regex *regex(cc *c, const char *src, size_t len, const char *kw) {
    ss__sch_regex *re = alloc(c, sizeof *re);
    if (!re)
        return NULL;
    char why[160];
    ss_rc rc = ss__sch_regex_compile(re, src, len, why, sizeof why);
    if (rc == SS_NOMEM)
        return cnomem(c);
    if (rc)
        return cfail(c, kw, "pattern \"%.80s\": %s", src, why);
    re->source = src;
    re->next = c->s->regexes;
    c->s->regexes = re;
    return re;
}

static bool kw_type(cc *c, ss__sch_node *n, const json_t *v) {
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"null", SS__SCH_T_NULL},      {"boolean", SS__SCH_T_BOOLEAN}, {"object", SS__SCH_T_OBJECT},
                 {"array", SS__SCH_T_ARRAY},    {"number", SS__SCH_T_NUMBER},   {"string", SS__SCH_T_STRING},
                 {"integer", SS__SCH_T_INTEGER}};
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_string(v) && !(json_is_array(v) && count > 0))
        return cfail(c, "type", "\"type\" must be a type name or a non-empty array of them"), false;
    for (size_t i = 0; i < count; i++) {
        const json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
        unsigned bit = 0;
        for (size_t k = 0; json_is_string(s) && k < COUNT(names); k++)
            if (strcmp(json_string_value(s), names[k].name) == 0)
                bit = names[k].bit;
        if (!bit)
            return cfail(c, "type", "unknown type %s%.60s%s", json_is_string(s) ? "\"" : "",
                         json_is_string(s) ? json_string_value(s) : "(not a string)",
                         json_is_string(s) ? "\"" : ""),
                   false;
        n->types |= bit;
    }
    return true;
}

/* Looks up keyword `kw`; on presence pushes it onto the path. */
#define KW(kw, var)                                                                                               \
    for (const json_t *var = json_object_get(j, kw); var; var = NULL)                                             \
        for (size_t mark_ = path_push_cstr(c, kw), once_ = 1; once_; once_ = 0, path_pop(c, mark_))

static bool compile_keywords(cc *c, ss__sch_node *n, const json_t *j, const char *base, int depth) {
    bool ok = true;

    for (size_t k = 0; k < COUNT(REJECTED); k++)
        KW(REJECTED[k], v) {
            (void)v;
            cfail(c, REJECTED[k],
                  "\"%s\" is not supported (draft 2019-09+); ignoring it would accept invalid values",
                  REJECTED[k]);
            return false;
        }

    /* definitions are compiled even when unused, so their errors show */
    static const char *const defs[] = {"definitions", "$defs"};
    for (size_t k = 0; k < COUNT(defs); k++)
        KW(defs[k], v) {
            if (!json_is_object(v))
                return cfail(c, defs[k], "\"%s\" must be an object of schemas", defs[k]), false;
            json_t *m = (json_t *)v;
            for (void *it = json_object_iter(m); it && ok; it = json_object_iter_next(m, it)) {
                size_t mark = path_push(c, json_object_iter_key(it), json_object_iter_key_len(it));
                ss__sch_node *unused;
                ok = sub(c, json_object_iter_value(it), base, depth, &unused, false);
                path_pop(c, mark);
            }
            if (!ok)
                return false;
        }

    KW("$ref", v) {
        if (!json_is_string(v))
            return cfail(c, "$ref", "\"$ref\" must be a string"), false;
        if (ss__grow(&c->refs, &c->cap_refs, c->n_refs, sizeof *c->refs, 16))
            return cnomem(c), false;
        char *uri = ss__sch_uri_resolve(base, json_string_value(v));
        char *where = ss_strdup(c->path);
        n->where = where ? arena_strdup(c, where) : NULL;
        if (!uri || !where || !n->where) {
            ss_free(uri);
            ss_free(where);
            return cnomem(c), false;
        }
        c->refs[c->n_refs++] = (pending){n, uri, where};
        n->ref_only = !c->ref_siblings;
    }
    if (n->ref_only)
        return true;

    /* any type */
    KW("type", v) ok = ok && kw_type(c, n, v);
    KW("enum", v) {
        if (!json_is_array(v))
            return cfail(c, "enum", "\"enum\" must be an array"), false;
        n->enum_values = v;
    }
    KW("const", v) n->const_value = v;
    if (!ok)
        return false;

    /* strings */
    KW("minLength", v) ok = ok && get_count(c, v, "minLength", &n->min_length);
    KW("maxLength", v) ok = ok && get_count(c, v, "maxLength", &n->max_length);
    KW("pattern", v) {
        if (!json_is_string(v))
            return cfail(c, "pattern", "\"pattern\" must be a string"), false;
        n->pattern = regex(c, json_string_value(v), json_string_length(v), "pattern");
        ok = n->pattern != NULL;
    }
    if (!ok)
        return false;
    n->string_kw = n->min_length > 0 || n->max_length != SIZE_MAX || n->pattern;

    /* numbers */
    static const struct {
        const char *kw;
        unsigned flag;
        size_t off;
    } nums[] = {{"minimum", SS__SCH_N_MIN, offsetof(ss__sch_node, minimum)},
                {"maximum", SS__SCH_N_MAX, offsetof(ss__sch_node, maximum)},
                {"exclusiveMinimum", SS__SCH_N_XMIN, offsetof(ss__sch_node, xminimum)},
                {"exclusiveMaximum", SS__SCH_N_XMAX, offsetof(ss__sch_node, xmaximum)},
                {"multipleOf", SS__SCH_N_MULT, offsetof(ss__sch_node, multiple_of)}};
    for (size_t k = 0; k < COUNT(nums); k++)
        KW(nums[k].kw, v) {
            ss__sch_num *dst = (ss__sch_num *)((char *)n + nums[k].off);
            if (!get_num(c, v, nums[k].kw, dst))
                return false;
            if (nums[k].flag == SS__SCH_N_MULT && !(dst->is_int ? dst->i > 0 : dst->d > 0))
                return cfail(c, "multipleOf", "\"multipleOf\" must be greater than 0"), false;
            n->num_kw |= nums[k].flag;
        }

    /* objects */
    KW("properties", v) {
        if (!json_is_object(v))
            return cfail(c, "properties", "\"properties\" must be an object of schemas"), false;
        size_t count = json_object_size(v), i = 0;
        n->props = alloc(c, count * sizeof *n->props);
        if (!n->props)
            return false;
        json_t *m = (json_t *)v;
        for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it), i++) {
            ss__sch_prop *p = &n->props[i];
            p->key = json_object_iter_key(it);
            p->len = json_object_iter_key_len(it);
            size_t mark = path_push(c, p->key, p->len);
            ok = sub(c, json_object_iter_value(it), base, depth, &p->schema, false);
            path_pop(c, mark);
            if (!ok)
                return false;
        }
        n->n_props = count;
        qsort(n->props, count, sizeof *n->props, prop_cmp);
    }
    KW("patternProperties", v) {
        if (!json_is_object(v))
            return cfail(c, "patternProperties", "\"patternProperties\" must be an object of schemas"), false;
        size_t count = json_object_size(v), i = 0;
        n->pprops = alloc(c, count * sizeof *n->pprops);
        if (!n->pprops)
            return false;
        json_t *m = (json_t *)v;
        for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it), i++) {
            size_t mark = path_push(c, json_object_iter_key(it), json_object_iter_key_len(it));
            n->pprops[i].re =
                regex(c, json_object_iter_key(it), json_object_iter_key_len(it), "patternProperties");
            ok = n->pprops[i].re && sub(c, json_object_iter_value(it), base, depth, &n->pprops[i].schema, false);
            path_pop(c, mark);
            if (!ok)
                return false;
        }
        n->n_pprops = count;
    }
    KW("additionalProperties", v) ok = ok && sub(c, v, base, depth, &n->additional_props, true);
    KW("required", v) ok = ok && string_array(c, v, "required", &n->required, &n->n_required);
    KW("minProperties", v) ok = ok && get_count(c, v, "minProperties", &n->min_props);
    KW("maxProperties", v) ok = ok && get_count(c, v, "maxProperties", &n->max_props);
    KW("propertyNames", v) ok = ok && sub(c, v, base, depth, &n->property_names, true);
    if (!ok)
        return false;
    KW("dependencies", v) {
        if (!json_is_object(v))
            return cfail(c, "dependencies", "\"dependencies\" must be an object"), false;
        size_t count = json_object_size(v), i = 0;
        n->deps = alloc(c, count * sizeof *n->deps);
        if (!n->deps)
            return false;
        json_t *m = (json_t *)v;
        for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it), i++) {
            ss__sch_dep *d = &n->deps[i];
            d->key = json_object_iter_key(it);
            d->len = json_object_iter_key_len(it);
            const json_t *dv = json_object_iter_value(it);
            size_t mark = path_push(c, d->key, d->len);
            if (json_is_array(dv))
                ok = string_array(c, dv, "dependencies", &d->names, &d->n_names);
            else
                ok = sub(c, dv, base, depth, &d->schema, true);
            path_pop(c, mark);
            if (!ok)
                return false;
        }
        n->n_deps = count;
    }
    n->object_kw = n->n_props || n->n_pprops || n->additional_props || n->n_required || n->min_props ||
                   n->max_props != SIZE_MAX || n->property_names || n->n_deps;

    /* arrays */
    KW("items", v) {
        if (json_is_array(v)) {
            n->has_items_tuple = true;
            size_t count = json_array_size(v);
            n->items_tuple = alloc(c, count * sizeof *n->items_tuple);
            if (!n->items_tuple)
                return false;
            for (size_t i = 0; i < count && ok; i++) {
                size_t mark = path_push_index(c, i);
                ok = sub(c, json_array_get(v, i), base, depth, &n->items_tuple[i], false);
                path_pop(c, mark);
            }
            n->n_items_tuple = count;
        } else {
            ok = sub(c, v, base, depth, &n->items, true);
        }
    }
    KW("additionalItems", v) {
        ss__sch_node *a = NULL;
        ok = ok && sub(c, v, base, depth, &a, true);
        if (n->has_items_tuple) /* ignored without the array form of items */
            n->additional_items = a;
    }
    KW("minItems", v) ok = ok && get_count(c, v, "minItems", &n->min_items);
    KW("maxItems", v) ok = ok && get_count(c, v, "maxItems", &n->max_items);
    KW("uniqueItems", v) {
        if (!json_is_boolean(v))
            return cfail(c, "uniqueItems", "\"uniqueItems\" must be a boolean"), false;
        n->unique_items = json_is_true(v);
    }
    KW("contains", v) ok = ok && sub(c, v, base, depth, &n->contains, false);
    if (!ok)
        return false;
    n->array_kw = n->items || n->has_items_tuple || n->min_items || n->max_items != SIZE_MAX || n->unique_items ||
                  n->contains;

    /* applicators */
    KW("allOf", v) ok = ok && schema_array(c, v, "allOf", base, depth, &n->all_of, &n->n_all_of);
    KW("anyOf", v) ok = ok && schema_array(c, v, "anyOf", base, depth, &n->any_of, &n->n_any_of);
    KW("oneOf", v) ok = ok && schema_array(c, v, "oneOf", base, depth, &n->one_of, &n->n_one_of);
    KW("not", v) ok = ok && sub(c, v, base, depth, &n->not_, false);
    KW("if", v) ok = ok && sub(c, v, base, depth, &n->if_, false);
    KW("then", v) ok = ok && sub(c, v, base, depth, &n->then_, true);
    KW("else", v) ok = ok && sub(c, v, base, depth, &n->else_, true);
    if (ok && n->if_ && !n->then_ && !n->else_)
        n->if_ = NULL; /* "if" alone asserts nothing */
    return ok;
}

static ss__sch_node *compile(cc *c, const json_t *j, const char *outer_base, int depth) {
    if (json_is_true(j))
        return c->true_node;
    if (json_is_false(j))
        return c->false_node;
    if (!json_is_object(j))
        return cfail(c, "schema", "a schema must be an object or a boolean");
    if (depth > SS_JSON_SCHEMA_MAX_DEPTH)
        return cfail(c, "depth", "schema nested more than %d levels", SS_JSON_SCHEMA_MAX_DEPTH);
    const json_t *const key = j;
    ss__sch_node *n = ss__map_get(&c->nodes, ptr_key(&key));
    if (n)
        return n;
    n = new_node(c, SS__SCH_SCHEMA);
    if (!n)
        return NULL;
    if (ss__map_put(&c->nodes, ptr_key(&key), n))
        return cnomem(c);

    const char *base = ss__map_get(&c->bases, ptr_key(&key));
    if (!base) { /* not reached by the id pass (a $ref into an unknown keyword) */
        base = outer_base;
        const json_t *id = json_object_get(j, "$id");
        if (json_is_string(id) && json_string_value(id)[0] != '#' &&
            (c->ref_siblings || !json_object_get(j, "$ref"))) {
            char *abs = ss__sch_uri_resolve(outer_base, json_string_value(id));
            if (!abs)
                return cnomem(c);
            base = nofrag_dup(c, abs);
            ss_free(abs);
            if (!base)
                return NULL;
        }
    }
    return compile_keywords(c, n, j, base, depth) ? n : NULL;
}

/* ---- $ref resolution ---------------------------------------------------------------- */

static bool resolve(cc *c, pending *p) {
    path_set(c, p->where);
    const char *hash = strchr(p->uri, '#');
    size_t res_len = hash ? (size_t)(hash - p->uri) : strlen(p->uri);
    char *res = ss_strndup(p->uri, res_len);
    if (!res)
        return cnomem(c), false;
    const json_t *doc = ss__map_get(&c->resources, ss_slice_of(res, res_len));
    ss_free(res);
    if (!doc)
        return cfail(c, "$ref",
                     "cannot resolve \"%.120s\": only references inside the schema document are supported",
                     p->uri),
               false;
    const json_t *target = doc;
    if (hash && hash[1] && hash[1] != '/') { /* "#name" declared by an "$id" */
        target = ss__map_get(&c->resources, ss_slice_cstr(p->uri));
    } else if (hash && hash[1]) {
        char *ptr;
        size_t len;
        ss_rc rc = ss__sch_uri_decode(hash + 1, strlen(hash + 1), &ptr, &len);
        if (rc == SS_NOMEM)
            return cnomem(c), false;
        if (rc)
            return cfail(c, "$ref", "malformed %%-escape in \"%.120s\"", p->uri), false;
        target = ss__sch_pointer_get(doc, ptr, len);
        if (target)
            path_set(c, ptr);
        ss_free(ptr);
    }
    if (!target)
        return cfail(c, "$ref", "\"%.120s\" points to nothing in the schema", p->uri), false;
    if (!json_is_object(target) && !json_is_boolean(target))
        return cfail(c, "$ref", "\"%.120s\" does not point to a schema", p->uri), false;
    char *base = ss_strndup(p->uri, res_len);
    if (!base)
        return cnomem(c), false;
    ss__sch_node *t = compile(c, target, base, 0);
    ss_free(base);
    if (!t)
        return false;
    p->node->ref = t;
    return true;
}

/* ---- pass 3: cycles --------------------------------------------------------------------- */

/* The k-th edge of n that applies to the same value; NULL past the end or
 * for an absent one; *more = false past the end. */
static ss__sch_node *in_place_edge(const ss__sch_node *n, size_t k, bool *more) {
    *more = true;
    if (k == 0)
        return n->ref;
    k--;
    if (k < n->n_all_of)
        return n->all_of[k];
    k -= n->n_all_of;
    if (k < n->n_any_of)
        return n->any_of[k];
    k -= n->n_any_of;
    if (k < n->n_one_of)
        return n->one_of[k];
    k -= n->n_one_of;
    if (k < n->n_deps)
        return n->deps[k].schema;
    k -= n->n_deps;
    switch (k) {
    case 0:
        return n->not_;
    case 1:
        return n->if_;
    case 2:
        return n->then_;
    case 3:
        return n->else_;
    default:
        *more = false;
        return NULL;
    }
}

typedef struct frame {
    ss__sch_node *n;
    size_t next;
} frame;

static bool check_cycles(cc *c) {
    size_t cap = 64, top = 0;
    frame *st = ss_malloc(cap * sizeof *st);
    if (!st)
        return cnomem(c), false;
    bool ok = true;
    for (ss__sch_node *root = c->s->all; root && ok; root = root->next_all) {
        if (root->visit)
            continue;
        root->visit = 1;
        st[top++] = (frame){root, 0};
        while (top && ok) {
            frame *f = &st[top - 1];
            bool more;
            ss__sch_node *e = in_place_edge(f->n, f->next++, &more);
            if (!more) {
                f->n->visit = 2;
                top--;
                continue;
            }
            if (!e || e->kind != SS__SCH_SCHEMA || e->visit == 2)
                continue;
            if (e->visit == 1) { /* back edge: report a $ref on the cycle */
                const char *where = "";
                for (size_t i = top; i-- > 0;) {
                    if (st[i].n->where)
                        where = st[i].n->where;
                    if (st[i].n == e)
                        break;
                }
                path_set(c, where);
                cfail(c, "$ref", "reference cycle that never descends into the value");
                ok = false;
                break;
            }
            if (top == cap) {
                frame *g = ss_realloc(st, cap * 2 * sizeof *st);
                if (!g) {
                    cnomem(c);
                    ok = false;
                    break;
                }
                st = g;
                cap *= 2;
            }
            e->visit = 1;
            st[top++] = (frame){e, 0};
        }
    }
    ss_free(st);
    return ok;
}

/* ---- entry ------------------------------------------------------------------------------- */

ss_rc ss__sch_compile(ss_json_schema *s, ss_json_error *err) {
    cc c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.err = err;
    ss__map_init(&c.nodes);
    ss__map_init(&c.bases);
    ss__map_init(&c.resources);

    const json_t *doc = s->doc;
    if (json_is_object(doc)) {
        const json_t *meta = json_object_get(doc, "$schema");
        const char *m = json_is_string(meta) ? json_string_value(meta) : "";
        c.ref_siblings = strstr(m, "/draft/2019-09/") || strstr(m, "/draft/2020-12/");
    }
    c.true_node = new_node(&c, SS__SCH_TRUE);
    c.false_node = new_node(&c, SS__SCH_FALSE);
    if (c.true_node && c.false_node && register_resource(&c, "", doc) && ids(&c, doc, "", 0)) {
        path_set(&c, "");
        s->root = compile(&c, doc, "", 0);
        while (s->root && c.n_refs > 0) {
            pending p = c.refs[--c.n_refs];
            bool ok = resolve(&c, &p);
            ss_free(p.uri);
            ss_free(p.where);
            if (!ok)
                s->root = NULL;
        }
        if (s->root && !check_cycles(&c))
            s->root = NULL;
    }
    for (size_t i = 0; i < c.n_refs; i++) {
        ss_free(c.refs[i].uri);
        ss_free(c.refs[i].where);
    }
    ss_free(c.refs);
    ss__map_release(&c.nodes);
    ss__map_release(&c.bases);
    ss__map_release(&c.resources);
    if (!s->root && c.rc == SS_OK)
        return SS_NOMEM;
    return c.rc;
}
