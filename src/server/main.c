/* The `streamsy` binary: parse the command line, wire storage -> protocol ->
 * handler -> h2o front end, serve until SIGINT/SIGTERM, free everything; or
 * run one client command (client_cli.c). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/log.h"
#include "client_cli.h"
#include "config.h"
#include "http/h2o_front.h"
#include "options.h"
#include "storage_open.h"
#include "streamsy/streamsy.h"
#include "streamsy/subscriptions.h"

extern char **environ;

/* Set by the signal handler only; the loop polls it at least every
 * SS_HTTP_LOOP_MAX_WAIT_MS (and a signal interrupts its epoll_wait). */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void) {
    signal(SIGPIPE, SIG_IGN); /* a write to a closed socket must be an error, not a death */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: let the signal cut the poll short */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Catch-up responses build bodies of up to a few MiB per request. With
 * glibc's defaults those come from mmap or a freshly grown heap that is
 * trimmed again right after, so every read pays page faults for its whole
 * body (measured: 100 KiB reads at 1.3k req/s). Keeping freed memory in the
 * process makes the same reads run at 17k req/s. */
static void tune_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
}

/* Descriptors kept for everything but client connections: the listener,
 * the database and its WAL, the log, the reserve descriptor, h2o's own. */
#define FD_RESERVE 64

/* Raises the open-files soft limit to fit max_connections (up to the hard
 * limit). If it still does not fit, a default is lowered to what fits and an
 * explicit value is kept with a warning (accept then meets EMFILE, which the
 * front end answers with 503). Returns the connection limit to use. */
static size_t fit_descriptor_limit(const ss_cli_options *o) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return o->max_connections;
    rlim_t need = (rlim_t)o->max_connections + FD_RESERVE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t raised = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        struct rlimit want = {raised, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return o->max_connections;
    size_t fits = rl.rlim_cur > FD_RESERVE ? (size_t)(rl.rlim_cur - FD_RESERVE) : 1;
    if (o->max_connections_given) {
        ss__logf(SS__LOG_WARN, "start",
                 "--max-connections %zu does not fit the open-files limit %llu (%d are kept for other uses); "
                 "connections that find no descriptor get 503",
                 o->max_connections, (unsigned long long)rl.rlim_cur, FD_RESERVE);
        return o->max_connections;
    }
    ss__logf(SS__LOG_INFO, "start", "max connections %zu (open-files limit %llu)", fits,
             (unsigned long long)rl.rlim_cur);
    return fits;
}

static int64_t run_subscriptions(void *ctx, int64_t now_ms) { return ss_subs_run(ctx, now_ms); }
static void subscription_metrics(void *ctx, ss_buf *out) { ss_subs_write_metrics(ctx, out); }

static int serve(const ss_cli_options *o) {
    ss_stream_factory *storage = NULL;
    ss_protocol *protocol = NULL;
    ss_handler *handler = NULL;
    ss_subs *subs = NULL;
    ss_h2o_front *front = NULL;
    ss_config *config = NULL;
    char err[256];
    int status = 1;
    ss_rc rc = SS_MISUSE;

    install_signals();
    tune_malloc();
    ss__log_configure(o->log_format == SS_CLI_LOG_JSON ? SS__LOG_JSON : SS__LOG_TEXT,
                      (ss__log_level)o->log_level); /* the two enums list the levels in the same order */

    if ((rc = ss_server_open_storage(o, &storage, err, sizeof err)) != SS_OK) {
        ss__logf(SS__LOG_ERROR, "start", "%s", err);
        goto done;
    }
    ss_protocol_options po = {.storage = storage, .long_poll_timeout_ms = o->long_poll_timeout_ms};
    if ((rc = ss_protocol_new(&po, &protocol)) != SS_OK) {
        ss__logf(SS__LOG_ERROR, "start", "cannot create the protocol: %s", ss_rc_str(rc));
        goto done;
    }
    if (o->config_path && (rc = ss_config_load(o->config_path, &config, err, sizeof err)) != SS_OK) {
        ss__logf(SS__LOG_ERROR, "start", "%s", err);
        goto done;
    }
    ss_subs_options so = {
        .protocol = protocol, .path_prefix = o->path_prefix, .webhooks = o->webhooks, .public_url = o->public_url};
    err[0] = '\0';
    if ((rc = ss_subs_new(&so, &subs, err, sizeof err)) != SS_OK) {
        ss__logf(SS__LOG_ERROR, "start", "cannot set up subscriptions: %s", err[0] ? err : ss_rc_str(rc));
        goto done;
    }
    ss_handler_options ho = {.protocol = protocol,
                             .reserved = ss_subs_http(subs),
                             .path_prefix = o->path_prefix,
                             .max_body_bytes = o->max_body_bytes,
                             .trust_forwarded = o->trust_proxy,
                             .validator = config ? ss_config_validator(config) : (ss_http_validator){0}};
    if ((rc = ss_handler_new(&ho, &handler)) != SS_OK) {
        ss__logf(SS__LOG_ERROR, "start", "cannot create the HTTP handler: %s", ss_rc_str(rc));
        goto done;
    }
    ss_h2o_front_options fo = {
        .handler = handler,
        .protocol = protocol,
        .host = o->host,
        .port = o->port,
        .http2 = o->http2,
        .tls_cert = o->tls_cert,
        .tls_key = o->tls_key,
        .access_log = o->access_log,
        .max_connections = fit_descriptor_limit(o),
        .max_output_bytes = o->max_output_bytes,
        .admin = o->admin == SS_CLI_ADMIN_SEPARATE ? SS_H2O_ADMIN_SEPARATE
                 : o->admin == SS_CLI_ADMIN_OFF    ? SS_H2O_ADMIN_OFF
                                                   : SS_H2O_ADMIN_MAIN,
        .admin_host = o->admin_host,
        .admin_port = o->admin_port,
        .background = {run_subscriptions, subscription_metrics, subs},
    };
    if ((rc = ss_h2o_front_new(&fo, &front, err, sizeof err)) != SS_OK) {
        ss__logf(SS__LOG_ERROR, "start", "%s", err);
        goto done;
    }
    printf("streamsy %s listening on %s://%s%s (storage %s%s%s, %s, long-poll %u ms%s)\n", ss_version(),
           ss_h2o_front_is_tls(front) ? "https" : "http", ss_h2o_front_address(front),
           o->path_prefix[0] ? o->path_prefix : "/", ss_storage_name(storage), o->storage_path[0] ? ":" : "",
           o->storage_path, ss_storage_is_durable(storage) ? "durable" : "not durable", o->long_poll_timeout_ms,
           ss_h2o_front_is_tls(front) ? ", h2 via ALPN"
           : o->http2                 ? ", h2c"
                                      : "");
    if (ss_h2o_front_admin_address(front))
        printf("streamsy admin (/metrics, /healthz, /readyz) on http://%s\n", ss_h2o_front_admin_address(front));
    fflush(stdout);

    rc = ss_h2o_front_run(front, &stop_requested);
    status = rc == SS_OK ? 0 : 1;

done:
    /* run() has ended every live read, so no bound stream is held any more */
    ss_h2o_front_free(front);
    ss_handler_free(handler);
    ss_subs_free(subs);
    ss_config_free(config);
    if (protocol)
        ss_protocol_free(protocol);
    if (storage)
        ss_storage_factory_free(storage);
    return status;
}

int main(int argc, char **argv) {
    if (argc > 1 && ss_client_cli_is_command(argv[1]))
        return ss_client_cli_main(argc, argv);
    ss_cli_options o;
    char err[SS_CLI_ERROR_BYTES];
    if (!ss_cli_parse(argc, argv, environ, &o, err, sizeof err)) {
        fprintf(stderr, "streamsy: %s\nTry 'streamsy --help'.\n", err);
        return SS_CLI_EXIT_USAGE;
    }
    switch (o.command) {
    case SS_CLI_HELP:
        fputs(ss_cli_usage(), stdout);
        fputs("\n", stdout);
        fputs(ss_client_cli_usage(), stdout);
        return 0;
    case SS_CLI_VERSION:
        printf("streamsy %s\n", ss_version());
        return 0;
    case SS_CLI_SERVE:
        break;
    }
    return serve(&o);
}
