/* The subscription layer's shared state. Files:
 *   subs.c     lifecycle, the commit hook, the timers (ss_subs_run)
 *   model.c    one subscription: links, tails, wakes, acks, its document
 *   routes.c   the HTTP routes under {prefix}/__ds: dispatch, reading requests, answers
 *   manage.c   create / read / delete subscriptions, explicit streams
 *   wakes.c    callback, claim, ack, release
 *   crypto.c   Ed25519 signing key + JWKS, HMAC tokens, ids, hashes
 *   glob.c     stream globs
 *   url.c      webhook URL and address safety
 *   index.c    which subscriptions an append concerns
 *   webhook.c  deliveries over libcurl's multi interface */
#ifndef SS_SUBS_INTERNAL_H
#define SS_SUBS_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/map.h"
#include "streamsy/offset.h"
#include "streamsy/subscriptions.h"

#define SUBS_DOC_PREFIX "subscription/" /* + id: one document per subscription */
#define SUBS_KEYS_DOC "subscriptions.keys"
#define SUBS_BEFORE_FIRST "-1" /* acked_offset of a stream linked by a trigger: all of it is pending */
#define SUBS_WAKE_ID_BYTES 27  /* "w_" + 24 hex + NUL */

typedef enum sub_type { SUB_WEBHOOK, SUB_PULL_WAKE } sub_type;

typedef struct sub_link {
    char *path; /* owned; the stream id */
    bool by_glob, by_explicit;
    ss_offset acked;
    bool in_snapshot; /* the current wake saw this link */
    ss_offset snapshot;
} sub_link;

typedef struct ss_subs ss_subs;
typedef struct subscription subscription;

/* A set of subscriptions (index.c). */
typedef struct sub_set {
    subscription **v;
    size_t n, cap;
} sub_set;

/* One subscription. Owned by: ss_subs (its map). Persisted fields are
 * written by sub_save; the rest is the process's own. */
struct subscription {
    char *id;
    sub_type type;
    char *pattern, *webhook_url, *wake_stream, *description; /* NULL when absent */
    char *origin; /* scheme://host of the creating request (callback_url without --public-url) */
    int64_t lease_ttl_ms;
    char created_at[32];
    char config_hash[65];
    sub_link *links;
    size_t n_links, cap_links;
    uint64_t generation;
    char wake_id[SUBS_WAKE_ID_BYTES]; /* "" when there is no current wake */
    char *trigger;                    /* the stream that caused the current wake */
    char *holder;                     /* pull-wake: the claiming worker */
    int64_t lease_until;              /* 0: no lease running */
    bool event_due;                   /* pull-wake: the wake event is still to be appended */
    bool delivery_due;                /* webhook: the current wake is still to be sent */
    bool failed;                      /* the last delivery failed (status "failed") */
    uint32_t retry_count;
    int64_t next_attempt_at; /* failed: the retry is not sent before this */
    bool in_flight;          /* a transfer of this subscription is running */
    ss__map link_at;         /* path -> index in links + 1 */
    ss_subs *owner;          /* set while registered (index.c) */
    uint64_t serial;         /* unique per registration: a transfer of a deleted namesake is not ours */
    uint64_t visit;          /* index.c's de-duplication mark */
};

typedef struct subs_webhooks subs_webhooks;

struct ss_subs {
    ss_protocol *p;
    ss_stream_factory *storage;
    char prefix[256];
    bool webhooks;
    char *public_url;
    ss__map subs;      /* id -> subscription* */
    ss__map by_stream; /* stream path -> sub_set* of the subscriptions linking it */
    ss__map by_first;  /* first pattern segment -> sub_set* */
    sub_set wild;      /* patterns that start with a wildcard */
    uint64_t visit_mark;
    uint64_t next_serial;
    uint64_t hook_token;
    /* keys */
    EVP_PKEY *sign_key;
    char kid[64];
    char jwk_x[64];
    unsigned char hmac_key[32];
    subs_webhooks *wh;
    bool due;       /* some subscription has work for the next run */
    int depth;      /* inside one of our operations (ss__subs_enter): commits are our own */
    char **deleted; /* streams deleted meanwhile (lazy expiry), unlinked at the outermost leave */
    size_t n_deleted, cap_deleted;
    bool lost_delete; /* a delete could not be queued: sweep every link at the outermost leave */
    int64_t next_run; /* earliest deadline seen by the last run */
    ss_subs_stats stats;
};

/* ---- model.c ---- */
char *ss__subs_strdup(const char *s); /* ss_malloc'ed; NULL for NULL or out of memory */
subscription *ss__sub_new(void);
void ss__sub_free(subscription *sub);
sub_link *ss__sub_link(const subscription *sub, const char *path);
/* The link a client names: the exact stream id, else its form without
 * leading and trailing '/'. */
sub_link *ss__sub_named_link(subscription *sub, const char *name);
/* Links `path` (adding the kind to an existing link); NULL when out of memory or at SS_SUBS_MAX_LINKS. */
sub_link *ss__sub_add_link(subscription *sub, const char *path, bool by_glob, const ss_offset *acked);
void ss__sub_drop_link(subscription *sub, const char *path);
/* The pattern matches `path`, and it is not the subscription's own wake stream. */
bool ss__sub_globbed(const subscription *sub, const char *path);
/* The stream's tail; the zero offset when it does not exist. */
ss_rc ss__subs_tail(ss_subs *s, const char *path, ss_offset *out);
/* Some link's tail is beyond its cursor (*first: the first such stream).
 * A tail that cannot be read counts as nothing pending; *err (may be NULL) gets its error. */
bool ss__sub_pending(ss_subs *s, const subscription *sub, const char **first, ss_rc *err);
/* The streams array of a wake or claim (tail_offset, has_pending) or of the
 * subscription itself (path, link_type, acked_offset only). */
json_t *ss__sub_stream_infos(ss_subs *s, const subscription *sub, bool with_tails, ss_rc *err);
/* Starts a wake: generation + 1, a new wake_id, every link's tail as the
 * snapshot; the event or delivery is marked due. */
void ss__sub_start_wake(ss_subs *s, subscription *sub, const char *trigger);
/* Starts a wake (generation + 1, new wake_id, snapshot) when there is none and work is pending. */
bool ss__sub_maybe_wake(ss_subs *s, subscription *sub, const char *trigger);
/* Ends the current wake (and the lease, holder, snapshot); wakes again if work is pending. */
bool ss__sub_end_wake(ss_subs *s, subscription *sub);
/* Writes the subscription's document (failures logged). A route answers
 * its error instead of a 2xx: the change may stay in memory, but nothing a
 * client was told succeeded is missing from the storage. */
SS_MUST_USE ss_rc ss__sub_save(ss_subs *s, subscription *sub);
json_t *ss__sub_to_doc(const subscription *sub);
ss_rc ss__sub_from_doc(const json_t *doc, subscription **out);
/* The PUT/GET body; `origin` for jwks_url when there is no public URL. */
json_t *ss__sub_serialize(ss_subs *s, const subscription *sub, const char *origin);
/* "<origin><prefix>/__ds/<rest>" in a fresh string (ss_free). */
char *ss__subs_url(ss_subs *s, const char *origin, const char *rest);

/* ---- index.c ---- */
void ss__subs_index_init(ss_subs *s);
void ss__subs_index_release(ss_subs *s);
/* Adds the subscription to the id map and the index (pattern, links). */
ss_rc ss__subs_register(ss_subs *s, subscription *sub);
void ss__subs_unregister(ss_subs *s, subscription *sub);
ss_rc ss__subs_index_link(ss_subs *s, subscription *sub, const char *path);
void ss__subs_index_unlink(ss_subs *s, subscription *sub, const char *path);
/* The subscriptions an append to `path` may concern, each once (ss_free the array). */
ss_rc ss__subs_candidates(ss_subs *s, const char *path, subscription ***out, size_t *out_n);

/* ---- crypto.c ---- */
ss_rc ss__subs_keys_load(ss_subs *s, char *err, size_t err_cap);
void ss__subs_keys_free(ss_subs *s);
json_t *ss__subs_jwks(const ss_subs *s);
/* "t=<unix s>,kid=<kid>,ed25519=<b64url>" over "<t>.<body>". */
ss_rc ss__subs_sign(const ss_subs *s, int64_t now_ms, const char *body, size_t len, char *out, size_t cap);
/* A token for (subscription, generation) that expires SS_SUBS_TOKEN_TTL_S from now. */
char *ss__subs_token_mint(const ss_subs *s, const char *id, uint64_t generation, int64_t now_ms);
typedef enum subs_token_check { SUBS_TOKEN_OK, SUBS_TOKEN_INVALID, SUBS_TOKEN_EXPIRED } subs_token_check;
subs_token_check ss__subs_token_check(const ss_subs *s, const char *id, const char *token, int64_t now_ms,
                                      uint64_t *out_generation);
void ss__subs_random_hex(char *out, size_t n_hex); /* n_hex hex digits + NUL */
uint32_t ss__subs_random_u32(void);
void ss__subs_sha256_hex(const char *s, size_t len, char out[65]);

/* ---- glob.c ---- */
bool ss__subs_glob_match(const char *pattern, const char *path);
/* "a/b/" -> "a/b" (leading and trailing '/' removed), in a fresh string. */
char *ss__subs_normalize_path(const char *p, size_t len);

/* ---- url.c ---- */
bool ss__subs_url_is_https(const char *url);
/* NULL when the webhook URL may be used, else the reason (WEBHOOK_URL_REJECTED). */
const char *ss__subs_url_refusal(const char *url);
/* At connect time: may this resolved address be reached for a URL of this scheme? */
bool ss__subs_address_allowed(bool https, const struct sockaddr *a);

/* ---- webhook.c ---- */
ss_rc ss__subs_webhooks_new(ss_subs *s, subs_webhooks **out);
void ss__subs_webhooks_free(subs_webhooks *w);
/* Sends the current wake of `sub` (its in_flight is set). */
ss_rc ss__subs_deliver(ss_subs *s, subscription *sub, int64_t now_ms);
/* Drives transfers; completions call ss__subs_delivered. True while any runs. */
bool ss__subs_webhooks_step(subs_webhooks *w);
size_t ss__subs_webhooks_in_flight(const subs_webhooks *w);

/* ---- subs.c ---- */
/* A finished delivery of (generation, wake_id): status 0 for no answer. */
void ss__subs_delivered(ss_subs *s, const char *id, uint64_t serial, uint64_t generation, const char *wake_id,
                        long status, const char *body, size_t len);
void ss__subs_mark_due(ss_subs *s);
subscription *ss__subs_find(ss_subs *s, ss_slice id);

/* Brackets every operation of the layer (a route, a run, a trigger). */
void ss__subs_enter(ss_subs *s);
void ss__subs_leave(ss_subs *s);

/* ---- routes.c ---- */
void ss__subs_handle(void *ctx, const ss_http_request *req, ss_slice rest, ss_http_response *res);

#endif
