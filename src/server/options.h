/* Command line and environment of the `streamsy` binary.
 *
 *   streamsy serve [flags]     run the server
 *   streamsy --help | help     usage on stdout
 *   streamsy --version         "streamsy 0.1.0"
 *
 * Every flag takes `--flag value` or `--flag=value`; environment variables
 * (STREAMSY_*) give defaults and flags override them. A value is validated
 * only if it is the one that wins, and errors name where the value came
 * from ("--listen" or "STREAMSY_LISTEN").
 *
 * This file is free of h2o and of the core library so that its unit tests
 * link with nothing but Criterion. */
#ifndef SS_SERVER_OPTIONS_H
#define SS_SERVER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SS_CLI_DEFAULT_LISTEN "127.0.0.1:4437"
#define SS_CLI_DEFAULT_PATH_PREFIX "/v1/stream"
#define SS_CLI_DEFAULT_LONG_POLL_TIMEOUT_MS 30000u
#define SS_CLI_MAX_LONG_POLL_TIMEOUT_MS 3600000u /* one hour */
#define SS_CLI_MAX_BODY_BYTES_LIMIT (1ull << 30) /* --max-body-bytes above this: error */
#define SS_CLI_DEFAULT_MAX_CONNECTIONS 10000u
#define SS_CLI_MAX_CONNECTIONS_LIMIT 1000000u
#define SS_CLI_DEFAULT_MAX_OUTPUT_BYTES (256ull << 20)
#define SS_CLI_MIN_OUTPUT_BYTES (1ull << 20)
#define SS_CLI_MAX_OUTPUT_BYTES_LIMIT (1ull << 40)
#define SS_CLI_DEFAULT_SQLITE_CACHE_BYTES (64ull << 20) /* = SS_SQLITE_DEFAULT_CACHE_BYTES */
#define SS_CLI_MIN_SQLITE_CACHE_BYTES (1ull << 20)
#define SS_CLI_MAX_SQLITE_CACHE_BYTES_LIMIT (1ull << 40)
#define SS_CLI_MAX_HOST_BYTES 255
#define SS_CLI_MAX_PREFIX_BYTES 255
#define SS_CLI_ERROR_BYTES 256
#define SS_CLI_EXIT_USAGE 2 /* exit status for a bad command line */

typedef enum ss_cli_command {
    SS_CLI_SERVE,
    SS_CLI_HELP,
    SS_CLI_VERSION,
} ss_cli_command;

typedef enum ss_cli_admin {
    SS_CLI_ADMIN_MAIN,     /* /metrics, /healthz, /readyz on the main listener (default) */
    SS_CLI_ADMIN_SEPARATE, /* on --admin-listen HOST:PORT only */
    SS_CLI_ADMIN_OFF,      /* --admin-listen off */
} ss_cli_admin;

typedef enum ss_cli_log_format { SS_CLI_LOG_TEXT, SS_CLI_LOG_JSON } ss_cli_log_format;
typedef enum ss_cli_log_level {
    SS_CLI_LOG_ERROR,
    SS_CLI_LOG_WARN,
    SS_CLI_LOG_INFO,
    SS_CLI_LOG_DEBUG
} ss_cli_log_level;

typedef enum ss_cli_storage {
    SS_CLI_STORAGE_MEMORY,
    SS_CLI_STORAGE_SQLITE,
} ss_cli_storage;

#define SS_CLI_DEFAULT_SQLITE_PATH "./data/streamsy.db"
#define SS_CLI_MAX_STORAGE_PATH_BYTES 1024

/* Owned by: the caller (plain value; strings point into argv/envp or into
 * the struct itself, so argv and envp must outlive it). */
#define SS_CLI_MAX_PUBLIC_URL_BYTES 1024

typedef struct ss_cli_options {
    ss_cli_command command;
    char host[SS_CLI_MAX_HOST_BYTES + 1]; /* without brackets: "127.0.0.1", "::1", "localhost" */
    bool host_is_ipv6;                    /* was written as [v6] */
    uint16_t port;                        /* 0: any free port */
    ss_cli_storage storage;
    char storage_path[SS_CLI_MAX_STORAGE_PATH_BYTES + 1]; /* SQLite file; "" for memory */
    uint32_t long_poll_timeout_ms;                        /* 1..SS_CLI_MAX_LONG_POLL_TIMEOUT_MS */
    char path_prefix[SS_CLI_MAX_PREFIX_BYTES + 1];        /* "/v1/stream"; "" for the root */
    size_t max_body_bytes;
    bool http2;           /* h2c on the cleartext listener */
    const char *tls_cert; /* NULL: no TLS; both set or both NULL */
    const char *tls_key;
    bool access_log;            /* false with --quiet or STREAMSY_ACCESS_LOG=0 */
    const char *config_path;    /* --config: enforcement rules; NULL = none */
    bool trust_proxy;           /* --trust-proxy: X-Forwarded-Proto/-Host make Location */
    size_t max_connections;     /* open client connections; more wait in the listen backlog */
    bool max_connections_given; /* set by flag or environment (else the fd limit may lower it) */
    size_t max_output_bytes;    /* response bytes held for clients that have not taken them */
    size_t sqlite_cache_bytes;  /* SQLite's page cache */
    ss_cli_admin admin;
    char admin_host[SS_CLI_MAX_HOST_BYTES + 1]; /* SS_CLI_ADMIN_SEPARATE */
    bool admin_host_is_ipv6;
    uint16_t admin_port;
    ss_cli_log_format log_format; /* --log-format text|json */
    ss_cli_log_level log_level;   /* --log-level error|warn|info|debug (default info) */
    bool webhooks;                /* --webhooks: accept webhook subscriptions */
    const char *public_url;       /* --public-url: origin of callback_url / jwks_url; NULL: per request */
} ss_cli_options;

/* Parses argv (argv[0] is the program name) with `envp` as the environment
 * ("NAME=value" strings, NULL-terminated; NULL means an empty environment).
 * Returns true and fills *out, or returns false with a one-line message (no
 * trailing newline) in err; *out is then unspecified. */
bool ss_cli_parse(int argc, char *const *argv, char *const *envp, ss_cli_options *out, char *err, size_t err_cap);

/* The --help text. */
const char *ss_cli_usage(void);

/* "memory" */
const char *ss_cli_storage_name(ss_cli_storage s);

#endif
