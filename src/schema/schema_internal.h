/* Internals of the JSON Schema validator (include/streamsy/json_schema.h).
 *
 *  schema.c           public API: compile, validate, free
 *  schema_compile.c   schema document -> tree of ss__sch_node, $ref resolution
 *  schema_uri.c       RFC 3986 reference resolution, JSON Pointer lookup
 *  schema_regex.c     ECMA-262 pattern -> POSIX ERE, compile and match
 *  schema_validate.c  validation of a jansson value against the nodes
 *  schema_equal.c     JSON equality (1 == 1.0) and uniqueness for enum,
 *                     const and uniqueItems */
#ifndef SS_JSON_SCHEMA_INTERNAL_H
#define SS_JSON_SCHEMA_INTERNAL_H

#include <jansson.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamsy/bytes.h"
#include "streamsy/json_error.h"
#include "streamsy/json_schema.h"

typedef struct ss__sch_node ss__sch_node;

/* ---- numbers ---------------------------------------------------------------- */

/* A schema number as jansson holds it: exact 64-bit integer or double. */
typedef struct ss__sch_num {
    bool is_int;
    json_int_t i;
    double d;
} ss__sch_num;

/* Exact comparison of a JSON number with a schema number: <0, 0, >0. */
int ss__sch_num_cmp(const json_t *x, const ss__sch_num *n);
/* True when a JSON number has no fractional part (draft-07 "integer"). */
bool ss__sch_is_integral(const json_t *x);

/* ---- equality (schema_equal.c) ---------------------------------------------- */

/* JSON Schema equality: numbers by value across integer/real, objects
 * regardless of member order. Values nested deeper than
 * SS_JSON_SCHEMA_EQUAL_MAX_DEPTH compare unequal. */
#define SS_JSON_SCHEMA_EQUAL_MAX_DEPTH 2048
bool ss__sch_equal(const json_t *a, const json_t *b);
/* True when all elements of `array` are pairwise unequal; otherwise false
 * with *dup_i < *dup_j the indexes of one equal pair. O(n log n) via hashing. */
bool ss__sch_unique(const json_t *array, size_t *dup_i, size_t *dup_j);

/* ---- regular expressions (schema_regex.c) ----------------------------------- */

/* Steps (and backtracking depth) one pattern match may take. */
#define SS_SCHEMA_REGEX_MATCH_LIMIT 1000000

typedef struct ss__sch_regex {
    pcre2_code *code;
    pcre2_match_context *ctx;   /* the match limits */
    const char *source;         /* the ECMA-262 text, for messages */
    struct ss__sch_regex *next; /* all regexes of a schema, for freeing */
} ss__sch_regex;

typedef enum ss__sch_match {
    SS__SCH_MATCH,
    SS__SCH_NO_MATCH,
    SS__SCH_MATCH_LIMIT, /* gave up (SS_SCHEMA_REGEX_MATCH_LIMIT, or out of memory) */
} ss__sch_match;

/* Compiles an ECMA-262 pattern. SS_BADARG with the reason in why (a
 * NUL-terminated line) for an invalid or unsupported pattern, SS_NOMEM. */
SS_MUST_USE ss_rc ss__sch_regex_compile(ss__sch_regex *re, const char *src, size_t len, char *why, size_t why_cap);
void ss__sch_regex_release(ss__sch_regex *re);
/* Unanchored search, as JSON Schema's "pattern" means. */
ss__sch_match ss__sch_regex_search(const ss__sch_regex *re, const char *s, size_t len);
/* The PCRE2 text an ECMA-262 pattern becomes (exposed for tests). */
SS_MUST_USE ss_rc ss__sch_regex_rewrite(const char *src, size_t len, ss_buf *out, const char **why);

/* ---- URIs (schema_uri.c) ---------------------------------------------------- */

/* RFC 3986 §5.2 resolution of `ref` against `base` (which may be "" for a
 * document without an id). Returns an ss_malloc()ed string or NULL (no memory). */
char *ss__sch_uri_resolve(const char *base, const char *ref);
/* Percent-decodes a URI fragment into an ss_malloc()ed string (*out_len bytes,
 * NUL-terminated). SS_BADARG for a malformed %XX, SS_NOMEM. */
SS_MUST_USE ss_rc ss__sch_uri_decode(const char *s, size_t len, char **out, size_t *out_len);
/* Resolves a decoded JSON Pointer ("" or "/a/b~1c") from `root`; NULL when
 * it names nothing. */
const json_t *ss__sch_pointer_get(const json_t *root, const char *ptr, size_t len);

/* ---- compiled nodes ---------------------------------------------------------- */

enum {
    SS__SCH_T_NULL = 1u << 0,
    SS__SCH_T_BOOLEAN = 1u << 1,
    SS__SCH_T_OBJECT = 1u << 2,
    SS__SCH_T_ARRAY = 1u << 3,
    SS__SCH_T_NUMBER = 1u << 4,
    SS__SCH_T_STRING = 1u << 5,
    SS__SCH_T_INTEGER = 1u << 6,
};

enum { /* which numeric keywords a node has */
       SS__SCH_N_MIN = 1u << 0,
       SS__SCH_N_MAX = 1u << 1,
       SS__SCH_N_XMIN = 1u << 2,
       SS__SCH_N_XMAX = 1u << 3,
       SS__SCH_N_MULT = 1u << 4,
};

typedef enum ss__sch_kind { SS__SCH_TRUE, SS__SCH_FALSE, SS__SCH_SCHEMA } ss__sch_kind;

typedef struct ss__sch_prop {
    const char *key; /* borrowed from the schema document */
    size_t len;
    ss__sch_node *schema;
} ss__sch_prop;

typedef struct ss__sch_pprop {
    ss__sch_regex *re;
    ss__sch_node *schema;
} ss__sch_pprop;

typedef struct ss__sch_name {
    const char *key;
    size_t len;
} ss__sch_name;

typedef struct ss__sch_dep {
    const char *key;
    size_t len;
    ss__sch_node *schema; /* schema dependency, or NULL */
    ss__sch_name *names;  /* property dependency */
    size_t n_names;
} ss__sch_dep;

struct ss__sch_node {
    ss__sch_kind kind;
    /* $ref: the target; with ref_only the other keywords are ignored (draft-07) */
    ss__sch_node *ref;
    bool ref_only;

    unsigned types; /* SS__SCH_T_*; 0 = no "type" keyword */
    const json_t *const_value;
    const json_t *enum_values; /* array */

    /* strings */
    bool string_kw;
    size_t min_length, max_length; /* code points; SIZE_MAX = no maximum */
    ss__sch_regex *pattern;

    /* numbers */
    unsigned num_kw; /* SS__SCH_N_* */
    ss__sch_num minimum, maximum, xminimum, xmaximum, multiple_of;

    /* objects */
    bool object_kw;
    ss__sch_prop *props; /* sorted by (len, bytes) */
    size_t n_props;
    ss__sch_pprop *pprops;
    size_t n_pprops;
    ss__sch_node *additional_props;
    ss__sch_name *required;
    size_t n_required;
    size_t min_props, max_props;
    ss__sch_node *property_names;
    ss__sch_dep *deps;
    size_t n_deps;

    /* arrays */
    bool array_kw;
    ss__sch_node *items;        /* one schema for every item */
    ss__sch_node **items_tuple; /* the array form */
    size_t n_items_tuple;
    bool has_items_tuple;
    ss__sch_node *additional_items; /* only with the array form */
    size_t min_items, max_items;
    bool unique_items;
    ss__sch_node *contains;

    /* applicators on the same value */
    ss__sch_node **all_of, **any_of, **one_of;
    size_t n_all_of, n_any_of, n_one_of;
    ss__sch_node *not_;
    ss__sch_node *if_, *then_, *else_;

    /* compile-time bookkeeping */
    const char *where;      /* schema location of a $ref, for cycle errors */
    ss__sch_node *next_all; /* every node of the schema, for the cycle check */
    unsigned char visit;
};

struct ss_json_schema {
    ss_arena arena; /* nodes, tables, strings */
    json_t *doc;    /* deep copy of the schema document; nodes borrow from it */
    ss__sch_node *root;
    ss__sch_node *all; /* list through next_all */
    ss__sch_regex *regexes;
};

/* schema_compile.c: fills s->root (s->doc and s->arena set up by the caller). */
SS_MUST_USE ss_rc ss__sch_compile(ss_json_schema *s, ss_json_error *err);

/* schema_validate.c */
bool ss__sch_validate(const ss_json_schema *s, const json_t *value, ss_json_error *err);

#endif
