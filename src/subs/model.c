/* One subscription: its links and cursors, the wake it is in, and its
 * stored document.
 *
 * Offsets compare as strings (ss_offset_cmp); "-1" sorts below every real
 * offset, so a stream linked at "-1" has all of its content pending. A link
 * is pending while its stream's tail is beyond its acked offset. A wake
 * snapshots every link's tail (a webhook's {"done":true} acknowledges up to
 * the snapshot). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/errf.h"
#include "base/grow.h"
#include "base/log.h"
#include "internal.h"
#include "streamsy/alloc.h"

char *ss__subs_strdup(const char *s) {
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = ss_malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

subscription *ss__sub_new(void) {
    subscription *sub = ss_calloc(1, sizeof(subscription));
    if (sub)
        ss__map_init(&sub->link_at);
    return sub;
}

void ss__sub_free(subscription *sub) {
    if (!sub)
        return;
    for (size_t i = 0; i < sub->n_links; i++)
        ss_free(sub->links[i].path);
    ss_free(sub->links);
    ss__map_release(&sub->link_at);
    ss_free(sub->id);
    ss_free(sub->pattern);
    ss_free(sub->webhook_url);
    ss_free(sub->wake_stream);
    ss_free(sub->description);
    ss_free(sub->origin);
    ss_free(sub->trigger);
    ss_free(sub->holder);
    ss_free(sub);
}

sub_link *ss__sub_link(const subscription *sub, const char *path) {
    uintptr_t at = (uintptr_t)ss__map_get(&sub->link_at, ss_slice_cstr(path));
    return at ? &sub->links[at - 1] : NULL;
}

sub_link *ss__sub_add_link(subscription *sub, const char *path, bool by_glob, const ss_offset *acked) {
    sub_link *l = ss__sub_link(sub, path);
    if (!l) {
        if (sub->n_links >= SS_SUBS_MAX_LINKS ||
            ss__grow(&sub->links, &sub->cap_links, sub->n_links, sizeof *sub->links, 8))
            return NULL;
        char *copy = ss__subs_strdup(path);
        if (!copy || ss__map_put(&sub->link_at, ss_slice_cstr(copy), (void *)(uintptr_t)(sub->n_links + 1)) ||
            (sub->owner && ss__subs_index_link(sub->owner, sub, copy))) {
            if (copy)
                ss__map_remove(&sub->link_at, ss_slice_cstr(copy));
            ss_free(copy);
            return NULL;
        }
        l = &sub->links[sub->n_links++];
        *l = (sub_link){.path = copy, .acked = *acked};
    }
    if (by_glob)
        l->by_glob = true;
    else
        l->by_explicit = true;
    return l;
}

/* The link a client names: the stream id as given, else its normalised form
 * (explicit links are normalised, links made by triggers keep the exact id). */
sub_link *ss__sub_named_link(subscription *sub, const char *name) {
    sub_link *l = ss__sub_link(sub, name);
    if (l)
        return l;
    char *n = ss__subs_normalize_path(name, strlen(name));
    l = n && n[0] ? ss__sub_link(sub, n) : NULL;
    ss_free(n);
    return l;
}

bool ss__sub_globbed(const subscription *sub, const char *path) {
    return sub->pattern && ss__subs_glob_match(sub->pattern, path) &&
           !(sub->wake_stream && strcmp(sub->wake_stream, path) == 0);
}

void ss__sub_drop_link(subscription *sub, const char *path) {
    sub_link *l = ss__sub_link(sub, path);
    if (!l)
        return;
    if (sub->owner)
        ss__subs_index_unlink(sub->owner, sub, l->path);
    ss__map_remove(&sub->link_at, ss_slice_cstr(l->path));
    ss_free(l->path);
    size_t i = (size_t)(l - sub->links);
    memmove(&sub->links[i], &sub->links[i + 1], (sub->n_links - i - 1) * sizeof *l);
    sub->n_links--;
    for (; i < sub->n_links; i++) /* the later links moved down one (replacing cannot fail) */
        ss__ignore_rc(ss__map_put(&sub->link_at, ss_slice_cstr(sub->links[i].path), (void *)(uintptr_t)(i + 1)));
}

ss_rc ss__subs_tail(ss_subs *s, const char *path, ss_offset *out) {
    ss_get_result g;
    ss_rc rc = ss_protocol_get(s->p, ss_slice_cstr(path), &g);
    if (rc)
        return rc;
    bool present = g.status == SS_PRESENT;
    if (present) {
        ss_arena a;
        ss_arena_init(&a);
        ss_meta_result m;
        rc = ss_stream_metadata(g.stream, &a, &m);
        present = !rc && m.status == SS_PRESENT;
        if (present)
            *out = m.next_offset;
        ss_arena_release(&a);
        ss_stream_release(g.stream);
    }
    if (!rc && !present)
        rc = ss_offset_set(out, ss_slice_cstr(ss_protocol_initial_offset(s->p)));
    return rc;
}

/* The link's stream tail; on a storage error the acked offset (nothing pending, logged). */
static ss_offset tail_of(ss_subs *s, const sub_link *l) {
    ss_offset t;
    ss_rc rc = ss__subs_tail(s, l->path, &t);
    if (rc) {
        ss__logf(SS__LOG_WARN, "subscriptions", "cannot read the tail of %s: %s", l->path, ss_rc_str(rc));
        return l->acked;
    }
    return t;
}

bool ss__sub_pending(ss_subs *s, const subscription *sub, const char **first, ss_rc *err) {
    for (size_t i = 0; i < sub->n_links; i++) {
        ss_offset t;
        ss_rc rc = ss__subs_tail(s, sub->links[i].path, &t);
        if (rc) {
            ss__logf(SS__LOG_WARN, "subscriptions", "cannot read the tail of %s: %s", sub->links[i].path,
                     ss_rc_str(rc));
            if (err)
                *err = rc;
            continue;
        }
        if (ss_offset_cmp(&t, &sub->links[i].acked) > 0) {
            if (first)
                *first = sub->links[i].path;
            return true;
        }
    }
    return false;
}

json_t *ss__sub_stream_infos(ss_subs *s, const subscription *sub, bool with_tails, ss_rc *err) {
    json_t *arr = json_array();
    *err = arr ? SS_OK : SS_NOMEM;
    for (size_t i = 0; arr && i < sub->n_links; i++) {
        const sub_link *l = &sub->links[i];
        json_t *o = json_pack("{s:s,s:s,s:s}", "path", l->path, "link_type", l->by_explicit ? "explicit" : "glob",
                              "acked_offset", l->acked.s);
        ss_offset t;
        if (o && with_tails && (*err = ss__subs_tail(s, l->path, &t)) == SS_OK) {
            json_object_set_new(o, "tail_offset", json_string(t.s));
            json_object_set_new(o, "has_pending", json_boolean(ss_offset_cmp(&t, &l->acked) > 0));
        }
        if (!o || *err || json_array_append_new(arr, o)) {
            if (!o || !*err)
                *err = SS_NOMEM;
            else
                json_decref(o);
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

void ss__sub_start_wake(ss_subs *s, subscription *sub, const char *trigger) {
    sub->generation++;
    memcpy(sub->wake_id, "w_", 2);
    ss__subs_random_hex(sub->wake_id + 2, 24);
    for (size_t i = 0; i < sub->n_links; i++) {
        sub->links[i].snapshot = tail_of(s, &sub->links[i]);
        sub->links[i].in_snapshot = true;
    }
    char *t = ss__subs_strdup(trigger);
    if (t) {
        ss_free(sub->trigger);
        sub->trigger = t;
    }
    if (sub->type == SUB_WEBHOOK)
        sub->delivery_due = true;
    else
        sub->event_due = true;
    s->stats.wakes++;
    ss__subs_mark_due(s);
}

bool ss__sub_maybe_wake(ss_subs *s, subscription *sub, const char *trigger) {
    const char *first = NULL;
    if (sub->wake_id[0] || sub->holder || !ss__sub_pending(s, sub, &first, NULL))
        return false;
    ss__sub_start_wake(s, sub, trigger ? trigger : first);
    return true;
}

bool ss__sub_end_wake(ss_subs *s, subscription *sub) {
    ss_free(sub->holder);
    sub->holder = NULL;
    sub->lease_until = 0;
    sub->wake_id[0] = '\0';
    sub->event_due = sub->delivery_due = false;
    for (size_t i = 0; i < sub->n_links; i++)
        sub->links[i].in_snapshot = false;
    return ss__sub_maybe_wake(s, sub, NULL);
}

/* ---- the stored document -------------------------------------------------------------------- */

static void set_str(json_t *o, const char *k, const char *v) {
    if (v)
        json_object_set_new(o, k, json_string(v));
}

json_t *ss__sub_to_doc(const subscription *sub) {
    json_t *links = json_array();
    for (size_t i = 0; links && i < sub->n_links; i++) {
        const sub_link *l = &sub->links[i];
        json_t *o = json_pack("{s:s,s:b,s:b,s:s}", "path", l->path, "glob", l->by_glob, "explicit", l->by_explicit,
                              "acked", l->acked.s);
        if (o && l->in_snapshot)
            json_object_set_new(o, "snapshot", json_string(l->snapshot.s));
        json_array_append_new(links, o);
    }
    json_t *d = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o,s:I,s:s,s:b,s:b,s:b,s:I,s:I,s:I}", "id", sub->id, "type",
                          sub->type == SUB_WEBHOOK ? "webhook" : "pull-wake", "lease_ttl_ms",
                          (json_int_t)sub->lease_ttl_ms, "created_at", sub->created_at, "config_hash",
                          sub->config_hash, "links", links, "generation", (json_int_t)sub->generation, "wake_id",
                          sub->wake_id, "event_due", sub->event_due, "delivery_due", sub->delivery_due, "failed",
                          sub->failed, "retry_count", (json_int_t)sub->retry_count, "next_attempt_at",
                          (json_int_t)sub->next_attempt_at, "lease_until", (json_int_t)sub->lease_until);
    if (!d)
        return NULL;
    set_str(d, "pattern", sub->pattern);
    set_str(d, "webhook_url", sub->webhook_url);
    set_str(d, "wake_stream", sub->wake_stream);
    set_str(d, "description", sub->description);
    set_str(d, "origin", sub->origin);
    set_str(d, "trigger", sub->trigger);
    set_str(d, "holder", sub->holder);
    return d;
}

static bool get_str(const json_t *d, const char *k, char **out) {
    const json_t *v = json_object_get(d, k);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    return (*out = ss__subs_strdup(json_string_value(v))) != NULL;
}

static bool get_offset(const json_t *o, const char *k, ss_offset *out) {
    const char *v = json_string_value(json_object_get(o, k));
    return v && ss_offset_set(out, ss_slice_cstr(v)) == SS_OK;
}

static bool copy_fixed(const json_t *d, const char *k, char *out, size_t cap) {
    const char *v = json_string_value(json_object_get(d, k));
    if (!v || strlen(v) >= cap)
        return false;
    memcpy(out, v, strlen(v) + 1);
    return true;
}

ss_rc ss__sub_from_doc(const json_t *d, subscription **out) {
    subscription *sub = ss__sub_new();
    if (!sub)
        return SS_NOMEM;
    const char *type = json_string_value(json_object_get(d, "type"));
    const json_t *links = json_object_get(d, "links");
    bool ok = type && (strcmp(type, "webhook") == 0 || strcmp(type, "pull-wake") == 0) && json_is_array(links) &&
              get_str(d, "id", &sub->id) && sub->id && get_str(d, "pattern", &sub->pattern) &&
              get_str(d, "webhook_url", &sub->webhook_url) && get_str(d, "wake_stream", &sub->wake_stream) &&
              get_str(d, "description", &sub->description) && get_str(d, "origin", &sub->origin) &&
              get_str(d, "trigger", &sub->trigger) && get_str(d, "holder", &sub->holder) &&
              copy_fixed(d, "created_at", sub->created_at, sizeof sub->created_at) &&
              copy_fixed(d, "config_hash", sub->config_hash, sizeof sub->config_hash) &&
              copy_fixed(d, "wake_id", sub->wake_id, sizeof sub->wake_id);
    if (ok) {
        sub->type = strcmp(type, "webhook") == 0 ? SUB_WEBHOOK : SUB_PULL_WAKE;
        sub->lease_ttl_ms = json_integer_value(json_object_get(d, "lease_ttl_ms"));
        sub->generation = (uint64_t)json_integer_value(json_object_get(d, "generation"));
        sub->event_due = json_is_true(json_object_get(d, "event_due"));
        sub->delivery_due = json_is_true(json_object_get(d, "delivery_due"));
        sub->failed = json_is_true(json_object_get(d, "failed"));
        sub->retry_count = (uint32_t)json_integer_value(json_object_get(d, "retry_count"));
        sub->next_attempt_at = json_integer_value(json_object_get(d, "next_attempt_at"));
        sub->lease_until = json_integer_value(json_object_get(d, "lease_until"));
    }
    size_t i;
    const json_t *l;
    json_array_foreach(links, i, l) {
        if (!ok)
            break;
        const char *path = json_string_value(json_object_get(l, "path"));
        ss_offset acked;
        bool by_glob = json_is_true(json_object_get(l, "glob")),
             by_explicit = json_is_true(json_object_get(l, "explicit"));
        sub_link *k = path && get_offset(l, "acked", &acked) && (by_glob || by_explicit)
                          ? ss__sub_add_link(sub, path, by_glob, &acked)
                          : NULL;
        if (!k) {
            ok = false;
            break;
        }
        k->by_glob = by_glob;
        k->by_explicit = by_explicit;
        k->in_snapshot = get_offset(l, "snapshot", &k->snapshot);
    }
    if (!ok) {
        ss__sub_free(sub);
        return SS_CORRUPT;
    }
    *out = sub;
    return SS_OK;
}

ss_rc ss__sub_save(ss_subs *s, subscription *sub) {
    json_t *d = ss__sub_to_doc(sub);
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    ss_buf key;
    ss_buf_init(&key, 512);
    ss_buf_printf(&key, SUBS_DOC_PREFIX "%s", sub->id);
    ss_rc rc =
        !text || key.err ? SS_NOMEM : ss_storage_doc_put(s->storage, ss_buf_slice(&key), ss_slice_cstr(text));
    if (rc)
        ss__logf(SS__LOG_ERROR, "subscriptions", "cannot store subscription %s: %s", sub->id, ss_rc_str(rc));
    free(text); /* jansson's allocator */
    ss_buf_release(&key);
    return rc;
}

/* ---- the API's view ---------------------------------------------------------------------- */

char *ss__subs_url(ss_subs *s, const char *origin, const char *rest) {
    ss_buf b;
    ss_buf_init(&b, 8192); /* public URL (<= 1024) + prefix + rest (an escaped id) */
    ss_buf_printf(&b, "%s%s/__ds/%s", s->public_url ? s->public_url : origin ? origin : "", s->prefix, rest);
    size_t len;
    return b.err ? (ss_buf_release(&b), NULL) : ss_buf_detach(&b, &len);
}

json_t *ss__sub_serialize(ss_subs *s, const subscription *sub, const char *origin) {
    ss_rc err;
    json_t *streams = ss__sub_stream_infos(s, sub, false, &err);
    json_t *o = streams ? json_pack("{s:s,s:s,s:s,s:o,s:I,s:s,s:s}", "id", sub->id, "subscription_id", sub->id,
                                    "type", sub->type == SUB_WEBHOOK ? "webhook" : "pull-wake", "streams", streams,
                                    "lease_ttl_ms", (json_int_t)sub->lease_ttl_ms, "created_at", sub->created_at,
                                    "status", sub->failed ? "failed" : "active")
                        : NULL;
    if (!o)
        return NULL;
    set_str(o, "pattern", sub->pattern);
    set_str(o, "wake_stream", sub->wake_stream);
    set_str(o, "description", sub->description);
    if (sub->webhook_url) {
        char *jwks = ss__subs_url(s, origin, "jwks.json");
        json_object_set_new(o, "webhook",
                            json_pack("{s:s,s:{s:s,s:s,s:s}}", "url", sub->webhook_url, "signing", "alg",
                                      "ed25519", "kid", s->kid, "jwks_url", jwks ? jwks : ""));
        ss_free(jwks);
    }
    return o;
}
