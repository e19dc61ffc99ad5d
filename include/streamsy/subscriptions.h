/* Subscriptions: durable server-side cursors over a glob of streams that
 * wake a worker when linked streams have unprocessed data, by a signed
 * webhook or by an event appended to a "wake stream", with leases and
 * generation fencing so two workers never process the same wake. The wire
 * contract is the reserved {prefix}/__ds API of the Durable Streams protocol
 * (docs/subscriptions.md).
 *
 *   ss_subs_new(&opts, &subs, err, cap)   load the stored subscriptions and
 *                                         keys, watch the protocol's commits
 *   handler options .reserved = ss_subs_http(subs)
 *   ss_subs_run(subs, now)                once per loop turn: lease expiries,
 *                                         retries, wake events, webhook
 *                                         transfers; never blocks
 *   ss_subs_free(subs)
 *
 * State (subscriptions, links, cursors, generation, lease, retry schedule)
 * lives in the protocol's storage as documents (storage.h, version 3 slots),
 * written with the commits of the same loop turn, so a group-commit flush
 * makes a trigger durable together with the append that caused it and an
 * acknowledged cursor is never lost. The signing and token keys are stored
 * there too and survive restarts (with memory storage: per process).
 *
 * Webhooks go out from the caller's loop through libcurl's multi interface,
 * never blocking it: bounded connect and total time, concurrency and
 * response size; http only to loopback hosts, https never to private,
 * loopback, link-local or IPv6 addresses, checked again on every address a
 * host name resolves to. Owned by: the caller of ss_subs_new. */
#ifndef STREAMSY_SUBSCRIPTIONS_H
#define STREAMSY_SUBSCRIPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamsy/handler.h"
#include "streamsy/protocol.h"
#include "streamsy/rc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SS_SUBS_DEFAULT_LEASE_TTL_MS 30000
#define SS_SUBS_MIN_LEASE_TTL_MS 1000
#define SS_SUBS_MAX_LEASE_TTL_MS 600000
#define SS_SUBS_MAX_SUBSCRIPTIONS 10000    /* more: 400 INVALID_REQUEST */
#define SS_SUBS_MAX_LINKS 10000            /* streams linked to one subscription; more: not linked, logged */
#define SS_SUBS_MAX_ID_BYTES 256           /* subscription ids; longer: 400 */
#define SS_SUBS_MAX_URL_BYTES 2048         /* webhook URLs; longer: 400 */
#define SS_SUBS_MAX_DESCRIPTION_BYTES 4096 /* longer: 400 */
#define SS_SUBS_MAX_PATH_BYTES 1024        /* stream paths and patterns (SS_HTTP_MAX_PATH_BYTES); longer: 400 */
#define SS_SUBS_MAX_PATTERN_SEGMENTS 64    /* segments of a pattern; more: 400 */
#define SS_SUBS_TOKEN_TTL_S 3600           /* callback and claim tokens */
#define SS_SUBS_RETRY_FIRST_MS 1000        /* webhook retry backoff: 1 s, 2 s, 4 s ... */
#define SS_SUBS_RETRY_MAX_MS 60000         /* ... up to 60 s, each +-20 % */
#define SS_SUBS_WEBHOOK_CONNECT_MS 5000    /* connect (DNS included) */
#define SS_SUBS_WEBHOOK_TIMEOUT_MS 10000   /* whole exchange */
#define SS_SUBS_WEBHOOK_CONCURRENCY 64     /* transfers at once; the rest wait their turn */
#define SS_SUBS_WEBHOOK_MAX_RESPONSE 65536 /* receiver answer bytes read; more: a failed delivery */
#define SS_SUBS_POLL_MS 2                  /* loop turn bound while a transfer is in flight */

typedef struct ss_subs ss_subs;

typedef struct ss_subs_options {
    ss_protocol *protocol;   /* required; borrowed. Its storage must keep documents */
    const char *path_prefix; /* the handler's; NULL: "/v1/stream" */
    bool webhooks;           /* accept type "webhook" (off: 400 INVALID_REQUEST) */
    const char *public_url;  /* origin for jwks_url and callback_url, e.g. "https://streams.example.com";
                                NULL: the scheme and Host of the request that created the subscription */
} ss_subs_options;

/* SS_NOTSUP when the storage keeps no documents; SS_CORRUPT for a stored
 * document this build cannot read (err says which). */
SS_MUST_USE ss_rc ss_subs_new(const ss_subs_options *o, ss_subs **out, char *err, size_t err_cap);
/* Cancels transfers in flight (their wakes are re-sent after a restart). */
void ss_subs_free(ss_subs *s);
/* The hook for ss_handler_options.reserved. */
ss_http_reserved ss_subs_http(ss_subs *s);
/* Runs due work and returns the wall-clock ms at which it wants to run
 * again (INT64_MAX: nothing scheduled). Never blocks. */
int64_t ss_subs_run(ss_subs *s, int64_t now_ms);
/* Counts for tests and /metrics. */
typedef struct ss_subs_stats {
    uint64_t subscriptions;
    uint64_t wakes;             /* wakes created */
    uint64_t deliveries;        /* webhook requests sent */
    uint64_t delivery_failures; /* non-2xx, refused address, network error, timeout */
    uint64_t wake_events;       /* pull-wake events appended */
    uint64_t in_flight;         /* webhook requests out now */
} ss_subs_stats;
ss_subs_stats ss_subs_get_stats(const ss_subs *s);
/* The counts above as Prometheus text (streamsy_subscriptions, ...). */
void ss_subs_write_metrics(const ss_subs *s, ss_buf *out);

#ifdef __cplusplus
}
#endif

#endif
