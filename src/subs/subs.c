/* Lifecycle, the commit hook (triggers) and the timers.
 *
 * Triggers run inside the protocol's after-commit hook, so a trigger's state
 * change (a stream linked by the glob, a wake started) is written in the
 * same loop turn as the append and made durable by the same group-commit
 * flush. What must not happen inside another request's commit (appending
 * the pull-wake event, starting a webhook transfer) is marked due and done
 * by ss_subs_run on the next loop turn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errf.h"
#include "base/grow.h"
#include "base/log.h"
#include "internal.h"
#include "streamsy/alloc.h"

subscription *ss__subs_find(ss_subs *s, ss_slice id) { return ss__map_get(&s->subs, id); }

void ss__subs_mark_due(ss_subs *s) { s->due = true; }

ss_subs_stats ss_subs_get_stats(const ss_subs *s) {
    ss_subs_stats st = s->stats;
    st.in_flight = ss__subs_webhooks_in_flight(s->wh);
    return st;
}

void ss_subs_write_metrics(const ss_subs *s, ss_buf *out) {
    ss_subs_stats st = ss_subs_get_stats(s);
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } m[] = {
        {"streamsy_subscriptions", "gauge", "Subscriptions (the __ds API).", st.subscriptions},
        {"streamsy_subscription_wakes_total", "counter", "Wakes started (generations).", st.wakes},
        {"streamsy_subscription_wake_events_total", "counter", "Pull-wake events appended to wake streams.",
         st.wake_events},
        {"streamsy_webhook_deliveries_total", "counter", "Webhook requests sent.", st.deliveries},
        {"streamsy_webhook_delivery_failures_total", "counter",
         "Webhook requests that failed (non-2xx, no answer, refused address, timeout).", st.delivery_failures},
        {"streamsy_webhook_requests_in_flight", "gauge", "Webhook requests out now.", st.in_flight},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        (void)ss_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name, m[i].help, m[i].name,
                            m[i].type, m[i].name, (unsigned long long)m[i].v);
}

ss_http_reserved ss_subs_http(ss_subs *s) { return (ss_http_reserved){ss__subs_handle, s}; }

/* ---- triggers ---------------------------------------------------------------------------- */

static bool on_append(ss_subs *s, subscription *sub, const char *path) {
    bool changed = false;
    sub_link *l = ss__sub_link(sub, path);
    if (ss__sub_globbed(sub, path)) {
        if (!l) {
            ss_offset before;
            ss__ignore_rc(ss_offset_set(&before, ss_slice_cstr(SUBS_BEFORE_FIRST)));
            if (!(l = ss__sub_add_link(sub, path, true, &before)))
                ss__logf(SS__LOG_WARN, "subscriptions",
                         "subscription %s cannot link %s (out of memory or %d links)", sub->id, path,
                         SS_SUBS_MAX_LINKS);
            changed = l != NULL;
        } else if (!l->by_glob) {
            l->by_glob = changed = true;
        }
    }
    if (l && ss__sub_maybe_wake(s, sub, path))
        changed = true;
    return changed;
}

/* Unlinks a deleted stream from every subscription. A pull-wake wake
 * nobody claimed that is left with nothing pending ends (else it would
 * stand forever and no later append would announce a new one). */
static void apply_delete(ss_subs *s, const char *path) {
    const sub_set *set = ss__map_get(&s->by_stream, ss_slice_cstr(path));
    while (set && set->n) { /* dropping the link removes the subscription from the set */
        subscription *sub = set->v[set->n - 1];
        bool last = set->n == 1;
        ss__sub_drop_link(sub, path);
        if (sub->type == SUB_PULL_WAKE && sub->wake_id[0] && !sub->holder && !ss__sub_pending(s, sub, NULL, NULL))
            ss__sub_end_wake(s, sub);
        ss__ignore_rc(ss__sub_save(s, sub)); /* (logged) */
        if (last)
            break; /* the set itself is gone */
    }
}

typedef struct missing_job {
    char **paths;
    size_t n, cap;
} missing_job;

/* After a delete could not be queued (out of memory): unlinks every linked
 * stream that no longer exists. */
static void sweep_missing(ss_subs *s) {
    missing_job j = {NULL, 0, 0};
    ss__map_iter it = {0};
    ss_slice key;
    while (ss__map_next(&s->by_stream, &it, &key, NULL)) {
        ss_get_result g;
        if (ss_protocol_get(s->p, key, &g) != SS_OK)
            continue;
        ss_stream_release(g.stream);
        if (g.status != SS_PRESENT && !ss__grow(&j.paths, &j.cap, j.n, sizeof *j.paths, 8) &&
            (j.paths[j.n] = ss__subs_strdup(key.p)) != NULL)
            j.n++;
    }
    for (size_t i = 0; i < j.n; i++) {
        apply_delete(s, j.paths[i]);
        ss_free(j.paths[i]);
    }
    ss_free(j.paths);
}

void ss__subs_enter(ss_subs *s) { s->depth++; }

/* Leaving the outermost operation applies the deletes that happened inside
 * it (lazy expiries during our own tail reads), so no loop over a
 * subscription's links ever sees them shift. */
void ss__subs_leave(ss_subs *s) {
    if (--s->depth)
        return;
    s->depth++;
    for (size_t i = 0; i < s->n_deleted; i++) {
        apply_delete(s, s->deleted[i]);
        ss_free(s->deleted[i]);
    }
    s->n_deleted = 0;
    if (s->lost_delete) {
        s->lost_delete = false;
        sweep_missing(s);
    }
    s->depth--;
}

static void on_commit(void *ctx, const ss_commit_event *ev) {
    ss_subs *s = ctx;
    if (!s->depth && !ss__map_size(&s->subs))
        return; /* (inside an operation a subscription may be on its way in) */
    char *path = ss_malloc(ev->id.len + 1);
    if (path) {
        memcpy(path, ev->id.p, ev->id.len);
        path[ev->id.len] = '\0';
    }
    if (ev->deleted && s->depth) {
        if (!path || ss__grow(&s->deleted, &s->cap_deleted, s->n_deleted, sizeof *s->deleted, 4)) {
            s->lost_delete = true; /* the outermost leave sweeps every link instead */
            ss_free(path);
        } else {
            s->deleted[s->n_deleted++] = path;
        }
        return;
    }
    if (!path) {
        ss__logf(SS__LOG_ERROR, "subscriptions", "out of memory: a commit to %.*s was not seen", (int)ev->id.len,
                 ev->id.p);
        return;
    }
    if (ev->deleted) {
        ss__subs_enter(s);
        apply_delete(s, path);
        ss__subs_leave(s);
        ss_free(path);
        return;
    }
    /* Inside our own operations the only commits are our wake-event appends:
     * not triggers. A stream created empty has nothing to process yet. */
    if (s->depth || ss_slice_eq_cstr(ss_offset_slice(&ev->offset), ss_protocol_initial_offset(s->p))) {
        ss_free(path);
        return;
    }
    subscription **subs;
    size_t n;
    if (ss__subs_candidates(s, path, &subs, &n)) {
        ss__logf(SS__LOG_ERROR, "subscriptions", "out of memory: an append to %s triggered nothing", path);
        ss_free(path);
        return;
    }
    ss__subs_enter(s);
    for (size_t i = 0; i < n; i++)
        if (on_append(s, subs[i], path))
            ss__ignore_rc(ss__sub_save(s, subs[i])); /* (logged) */
    ss__subs_leave(s);
    ss_free(subs);
    ss_free(path);
}

/* ---- wake events and deliveries ------------------------------------------------------------ */

static void append_wake_event(ss_subs *s, subscription *sub, int64_t now) {
    json_t *ev = json_pack("{s:s,s:s,s:s,s:I,s:I}", "type", "wake", "subscription_id", sub->id, "stream",
                           sub->trigger ? sub->trigger : "", "generation", (json_int_t)sub->generation, "ts",
                           (json_int_t)now);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    ss_get_result g = {0};
    ss_rc rc = text ? ss_protocol_get(s->p, ss_slice_cstr(sub->wake_stream), &g) : SS_NOMEM;
    if (!rc && g.status != SS_PRESENT) {
        ss__logf(SS__LOG_WARN, "subscriptions", "subscription %s: wake stream %s does not exist", sub->id,
                 sub->wake_stream);
    } else if (!rc) {
        ss_arena a;
        ss_arena_init(&a);
        ss_meta_result m;
        ss_append_result res;
        if (!(rc = ss_stream_metadata(g.stream, &a, &m))) {
            ss_append_options o = {.data = ss_slice_cstr(text), .content_type = m.content_type};
            rc = ss_stream_append(g.stream, &o, &a, &res);
        }
        if (!rc && res.status == SS_APPEND_APPENDED)
            s->stats.wake_events++;
        else if (!rc)
            ss__logf(SS__LOG_WARN, "subscriptions", "subscription %s: wake stream %s refused the wake event (%d)",
                     sub->id, sub->wake_stream, (int)res.status);
        ss_arena_release(&a);
        ss_stream_release(g.stream);
    }
    if (rc)
        ss__logf(SS__LOG_WARN, "subscriptions", "subscription %s: cannot append to wake stream %s: %s", sub->id,
                 sub->wake_stream, ss_rc_str(rc));
    free(text);
}

static int64_t retry_delay_ms(uint32_t retry_count) {
    int64_t d = SS_SUBS_RETRY_FIRST_MS;
    for (uint32_t i = 1; i < retry_count && d < SS_SUBS_RETRY_MAX_MS; i++)
        d *= 2;
    if (d > SS_SUBS_RETRY_MAX_MS)
        d = SS_SUBS_RETRY_MAX_MS;
    int64_t jitter = (int64_t)(ss__subs_random_u32() % 401) - 200; /* -20.0 % .. +20.0 % in 0.1 % steps */
    return d + d * jitter / 1000;
}

/* The current wake could not be delivered: retry it with backoff, no lease meanwhile. */
static void schedule_retry(ss_subs *s, subscription *sub, int64_t now, const char *why) {
    s->stats.delivery_failures++;
    sub->retry_count++;
    int64_t delay = retry_delay_ms(sub->retry_count);
    sub->failed = true;
    sub->next_attempt_at = now + delay;
    sub->delivery_due = true;
    sub->lease_until = 0; /* the wake waits for its retry, not for a lease */
    ss__logf(SS__LOG_WARN, "subscriptions", "webhook of subscription %s failed (%s); retry %u in %lld ms", sub->id,
             why, sub->retry_count, (long long)delay);
}

void ss__subs_delivered(ss_subs *s, const char *id, uint64_t serial, uint64_t generation, const char *wake_id,
                        long status, const char *body, size_t len) {
    subscription *sub = ss__subs_find(s, ss_slice_cstr(id));
    if (!sub || sub->serial != serial)
        return; /* deleted meanwhile (and perhaps created again: not this transfer's) */
    sub->in_flight = false;
    s->due = true; /* a newer wake may be waiting for this transfer */
    if (sub->generation != generation || strcmp(sub->wake_id, wake_id) != 0)
        return; /* that wake is over (lease expiry, callback): its answer changes nothing */
    if (status >= 200 && status < 300) {
        sub->failed = false;
        sub->retry_count = 0;
        sub->next_attempt_at = 0;
        json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
        if (json_is_true(json_object_get(j, "done"))) {
            for (size_t i = 0; i < sub->n_links; i++) {
                sub_link *l = &sub->links[i];
                if (l->in_snapshot && ss_offset_cmp(&l->snapshot, &l->acked) > 0)
                    l->acked = l->snapshot;
            }
            ss__sub_end_wake(s, sub);
        }
        json_decref(j);
    } else {
        char why[32] = "no answer";
        if (status)
            snprintf(why, sizeof why, "status %ld", status);
        schedule_retry(s, sub, ss_protocol_now_ms(s->p), why);
    }
    ss__ignore_rc(ss__sub_save(s, sub)); /* (logged) */
}

/* ---- the loop's entry point --------------------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Due work of one subscription; returns its next deadline. */
static int64_t run_one(ss_subs *s, subscription *sub, int64_t now) {
    bool changed = false;
    if (sub->lease_until && now >= sub->lease_until) {
        ss__logf(SS__LOG_INFO, "subscriptions", "subscription %s: lease of generation %llu expired", sub->id,
                 (unsigned long long)sub->generation);
        ss__sub_end_wake(s, sub);
        changed = true;
    }
    if (sub->event_due) { /* (not a trigger: we are inside ss_subs_run; a "**" pattern would wake itself) */
        sub->event_due = false;
        append_wake_event(s, sub, now);
        changed = true;
    }
    int64_t next = INT64_MAX;
    ss_rc rc;
    if (sub->delivery_due && !sub->in_flight && s->webhooks) { /* (without --webhooks none goes out) */
        if (sub->failed && now < sub->next_attempt_at) {
            next = sub->next_attempt_at;
        } else if ((rc = ss__subs_deliver(s, sub, now)) == SS_OK) {
            sub->delivery_due = false;
            sub->lease_until = now + sub->lease_ttl_ms;
            changed = true;
        } else if (rc == SS_BUSY) {
            next = now + SS_SUBS_POLL_MS; /* at the concurrency limit: a later turn */
        } else {
            schedule_retry(s, sub, now, "cannot build the request");
            next = sub->next_attempt_at;
            changed = true;
        }
    }
    if (sub->lease_until)
        next = min64(next, sub->lease_until);
    if (changed)
        ss__ignore_rc(ss__sub_save(s, sub)); /* (logged; the storage keeps the last state it took) */
    return next;
}

int64_t ss_subs_run(ss_subs *s, int64_t now) {
    ss__subs_enter(s);
    bool transfers = ss__subs_webhooks_step(s->wh);
    if (s->due || now >= s->next_run) {
        s->due = false;
        int64_t next = INT64_MAX;
        ss__map_iter it = {0};
        void *v;
        while (ss__map_next(&s->subs, &it, NULL, &v))
            next = min64(next, run_one(s, v, now));
        s->next_run = next;
        transfers = ss__subs_webhooks_step(s->wh);
    }
    ss__subs_leave(s);
    int64_t next = s->due ? now : s->next_run;
    return transfers ? min64(next, now + SS_SUBS_POLL_MS) : next;
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

typedef struct load_job {
    ss_subs *s;
    ss_rc rc;
    char bad[128];
    size_t webhooks;
} load_job;

static void load_one(void *ctx, ss_slice key, ss_slice value) {
    load_job *j = ctx;
    if (j->rc)
        return;
    json_t *d = json_loadb(value.p, value.len, 0, NULL);
    subscription *sub = NULL;
    j->rc = d ? ss__sub_from_doc(d, &sub) : SS_CORRUPT;
    json_decref(d);
    if (!j->rc && (j->rc = ss__subs_register(j->s, sub)) != SS_OK)
        ss__sub_free(sub);
    if (j->rc) {
        snprintf(j->bad, sizeof j->bad, "%.*s", (int)(key.len < 100 ? key.len : 100), key.p);
        return;
    }
    /* A wake that was being sent, or waiting for its callback, when the
     * process stopped is sent again now (receivers see a generation more
     * than once anyway: retries re-send it); one waiting for a retry keeps
     * its schedule. */
    j->webhooks += sub->type == SUB_WEBHOOK;
    if (sub->type == SUB_WEBHOOK && sub->wake_id[0] && !sub->failed) {
        sub->delivery_due = true;
        sub->lease_until = 0;
    }
}

ss_rc ss_subs_new(const ss_subs_options *o, ss_subs **out, char *err, size_t err_cap) {
    if (!o || !o->protocol)
        return SS_MISUSE;
    ss_stream_factory *storage = ss_protocol_storage(o->protocol);
    if (!ss_storage_has_documents(storage)) {
        ss__fail(err, err_cap, "storage %s cannot keep subscriptions", ss_storage_name(storage));
        return SS_NOTSUP;
    }
    const char *prefix = o->path_prefix ? o->path_prefix : "/v1/stream";
    ss_subs *s = ss_calloc(1, sizeof *s);
    if (!s)
        return SS_NOMEM;
    s->p = o->protocol;
    s->storage = storage;
    s->webhooks = o->webhooks;
    s->next_run = INT64_MAX;
    ss__map_init(&s->subs);
    ss__subs_index_init(s);
    size_t plen = strlen(prefix);
    while (plen && prefix[plen - 1] == '/')
        plen--;
    ss_rc rc = plen < sizeof s->prefix ? SS_OK : SS_BADARG;
    if (!rc)
        memcpy(s->prefix, prefix, plen);
    if (!rc && o->public_url && !(s->public_url = ss__subs_normalize_path(o->public_url, strlen(o->public_url))))
        rc = SS_NOMEM;
    if (!rc)
        rc = ss__subs_keys_load(s, err, err_cap);
    load_job j = {s, SS_OK, "", 0};
    if (!rc && (rc = ss_storage_doc_for_each(storage, ss_slice_cstr(SUBS_DOC_PREFIX), load_one, &j)) == SS_OK &&
        (rc = j.rc) != SS_OK)
        ss__fail(err, err_cap, "stored subscription %s is unreadable: %s", j.bad, ss_rc_str(rc));
    if (!rc && (rc = ss__subs_webhooks_new(s, &s->wh)) != SS_OK)
        ss__fail(err, err_cap, "cannot set up webhook delivery (libcurl)");
    if (!rc)
        rc = ss_protocol_on_after_commit(s->p, on_commit, s, &s->hook_token);
    if (rc) {
        ss_subs_free(s);
        return rc;
    }
    s->stats.subscriptions = ss__map_size(&s->subs);
    if (!s->webhooks && j.webhooks)
        ss__logf(SS__LOG_WARN, "start",
                 "%zu stored webhook subscription(s) are kept but not delivered: start with --webhooks",
                 j.webhooks);
    s->due = true; /* resume leases, retries and events */
    *out = s;
    return SS_OK;
}

void ss_subs_free(ss_subs *s) {
    if (!s)
        return;
    if (s->hook_token)
        ss_protocol_off_after_commit(s->p, s->hook_token);
    ss__subs_webhooks_free(s->wh);
    ss__map_iter it = {0};
    void *v;
    while (ss__map_next(&s->subs, &it, NULL, &v))
        ss__sub_free(v);
    ss__map_release(&s->subs);
    ss__subs_index_release(s);
    for (size_t i = 0; i < s->n_deleted; i++)
        ss_free(s->deleted[i]);
    ss_free(s->deleted);
    ss__subs_keys_free(s);
    ss_free(s->public_url);
    ss_free(s);
}
