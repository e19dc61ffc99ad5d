/* Command line and environment parsing for `streamsy` (see options.h). */
#include "options.h"
#include "base/errf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "streamsy/handler.h" /* SS_HTTP_DEFAULT_MAX_BODY_BYTES (a macro: no link dependency) */

/* Every setting, in one table: its flag, its environment variable and
 * whether it is a switch. The parse collects the winning raw text per
 * setting first and validates afterwards, so an overridden environment
 * value can never cause an error. */
typedef enum setting_id {
    OPT_LISTEN,
    OPT_STORAGE,
    OPT_LONG_POLL,
    OPT_PREFIX,
    OPT_MAX_BODY,
    OPT_HTTP2,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_QUIET,
    OPT_CONFIG,
    OPT_TRUST_PROXY,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_OUTPUT,
    OPT_SQLITE_CACHE,
    OPT_ADMIN_LISTEN,
    OPT_LOG_FORMAT,
    OPT_LOG_LEVEL,
    OPT_WEBHOOKS,
    OPT_PUBLIC_URL,
    OPT_COUNT,
} setting_id;

typedef struct setting {
    const char *flag;
    const char *env;   /* NULL: no environment variable */
    bool is_switch;    /* takes no value on the command line */
    bool env_inverted; /* STREAMSY_ACCESS_LOG=0 means --quiet */
} setting;

static const setting settings[OPT_COUNT] = {
    [OPT_LISTEN] = {"--listen", "STREAMSY_LISTEN", false, false},
    [OPT_STORAGE] = {"--storage", "STREAMSY_STORAGE", false, false},
    [OPT_LONG_POLL] = {"--long-poll-timeout-ms", "STREAMSY_LONG_POLL_TIMEOUT_MS", false, false},
    [OPT_PREFIX] = {"--path-prefix", "STREAMSY_PATH_PREFIX", false, false},
    [OPT_MAX_BODY] = {"--max-body-bytes", "STREAMSY_MAX_BODY_BYTES", false, false},
    [OPT_HTTP2] = {"--http2", "STREAMSY_HTTP2", true, false},
    [OPT_TLS_CERT] = {"--tls-cert", "STREAMSY_TLS_CERT", false, false},
    [OPT_TLS_KEY] = {"--tls-key", "STREAMSY_TLS_KEY", false, false},
    [OPT_QUIET] = {"--quiet", "STREAMSY_ACCESS_LOG", true, true},
    [OPT_CONFIG] = {"--config", "STREAMSY_CONFIG", false, false},
    [OPT_TRUST_PROXY] = {"--trust-proxy", "STREAMSY_TRUST_PROXY", true, false},
    [OPT_MAX_CONNECTIONS] = {"--max-connections", "STREAMSY_MAX_CONNECTIONS", false, false},
    [OPT_MAX_OUTPUT] = {"--max-output-bytes", "STREAMSY_MAX_OUTPUT_BYTES", false, false},
    [OPT_SQLITE_CACHE] = {"--sqlite-cache-bytes", "STREAMSY_SQLITE_CACHE_BYTES", false, false},
    [OPT_ADMIN_LISTEN] = {"--admin-listen", "STREAMSY_ADMIN_LISTEN", false, false},
    [OPT_LOG_FORMAT] = {"--log-format", "STREAMSY_LOG_FORMAT", false, false},
    [OPT_LOG_LEVEL] = {"--log-level", "STREAMSY_LOG_LEVEL", false, false},
    [OPT_WEBHOOKS] = {"--webhooks", "STREAMSY_WEBHOOKS", true, false},
    [OPT_PUBLIC_URL] = {"--public-url", "STREAMSY_PUBLIC_URL", false, false},
};

/* The winning raw value of one setting and where it came from. */
typedef struct raw_value {
    const char *text;   /* NULL: not given */
    const char *source; /* flag or environment variable name, for messages */
    bool from_env;
} raw_value;

static const char usage_text[] =
    "usage: streamsy serve [flags]\n"
    "       streamsy --help | --version\n"
    "\n"
    "flags (environment variable in brackets; flags win):\n"
    "  --listen HOST:PORT          address to listen on, IPv6 as [::1]:4437\n"
    "                              (default " SS_CLI_DEFAULT_LISTEN ") [STREAMSY_LISTEN]\n"
    "  --storage sqlite:PATH|memory  where streams live: a SQLite file (durable; its directory\n"
    "                              is created) or process memory (gone on exit)\n"
    "                              (default sqlite:" SS_CLI_DEFAULT_SQLITE_PATH ") [STREAMSY_STORAGE]\n"
    "  --long-poll-timeout-ms N    long-poll and SSE keep-alive timeout, 1..3600000\n"
    "                              (default 30000) [STREAMSY_LONG_POLL_TIMEOUT_MS]\n"
    "  --path-prefix PATH          URL prefix of the streams (default " SS_CLI_DEFAULT_PATH_PREFIX ")\n"
    "                              [STREAMSY_PATH_PREFIX]\n"
    "  --max-body-bytes N          largest request body; larger bodies get 413\n"
    "                              (default 67108864, at most 1073741824) [STREAMSY_MAX_BODY_BYTES]\n"
    "  --http2                     accept cleartext HTTP/2 (h2c: prior knowledge and Upgrade)\n"
    "                              [STREAMSY_HTTP2=1]\n"
    "  --tls-cert FILE             serve HTTPS with this PEM certificate chain; HTTP/2 and\n"
    "  --tls-key FILE              HTTP/1.1 are negotiated by ALPN [STREAMSY_TLS_CERT, STREAMSY_TLS_KEY]\n"
    "  --quiet                     no access log on stderr [STREAMSY_ACCESS_LOG=0]\n"
    "  --config FILE               enforce JSON Schemas / Durable State collections on matching\n"
    "                              streams (see docs/enforcement.md) [STREAMSY_CONFIG]\n"
    "  --trust-proxy               build Location from X-Forwarded-Proto/-Host (only behind a\n"
    "                              proxy that sets them: clients can send them too)\n"
    "                              [STREAMSY_TRUST_PROXY=1]\n"
    "  --max-connections N         open client connections; more wait until one closes\n"
    "                              (default 10000, lowered to fit the open-files limit)\n"
    "                              [STREAMSY_MAX_CONNECTIONS]\n"
    "  --max-output-bytes N        response bytes held for clients that have not read them;\n"
    "                              past it the slowest readers are cut and large new responses\n"
    "                              get 503 (default 268435456) [STREAMSY_MAX_OUTPUT_BYTES]\n"
    "  --sqlite-cache-bytes N      memory SQLite may keep of the database file, at least\n"
    "                              1048576 (default 67108864) [STREAMSY_SQLITE_CACHE_BYTES]\n"
    "  --admin-listen HOST:PORT|off  serve /metrics, /healthz and /readyz on this address only\n"
    "                              (default: on the main listener) or not at all\n"
    "                              [STREAMSY_ADMIN_LISTEN]\n"
    "  --log-format text|json      log entries as text or one JSON object per line\n"
    "                              (default text) [STREAMSY_LOG_FORMAT]\n"
    "  --log-level error|warn|info|debug  the least severe entries written; the access log is\n"
    "                              info (default info) [STREAMSY_LOG_LEVEL]\n"
    "  --webhooks                  accept webhook subscriptions (__ds API; pull-wake ones are\n"
    "                              always accepted; see docs/subscriptions.md) [STREAMSY_WEBHOOKS=1]\n"
    "  --public-url URL            this server's origin as clients reach it, e.g.\n"
    "                              https://streams.example.com, for webhook callback_url and\n"
    "                              jwks_url (default: the scheme and Host of the request that\n"
    "                              created the subscription) [STREAMSY_PUBLIC_URL]\n"
    "  --help                      this text\n"
    "\n"
    "Every flag also takes the form --flag=value.\n";

const char *ss_cli_usage(void) { return usage_text; }

const char *ss_cli_storage_name(ss_cli_storage s) {
    switch (s) {
    case SS_CLI_STORAGE_MEMORY:
        return "memory";
    case SS_CLI_STORAGE_SQLITE:
        return "sqlite";
    }
    return "?";
}

/* Looks NAME up in a "NAME=value" array. */
static const char *env_get(char *const *envp, const char *name) {
    if (!envp)
        return NULL;
    size_t n = strlen(name);
    for (; *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* ^[0-9]+$ without overflow past `max`. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out) {
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out) {
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcmp(s, yes[i]) == 0)
            return *out = true, true;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcmp(s, no[i]) == 0)
            return *out = false, true;
    return false;
}

static bool host_char_ok(char c, bool v6) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
        c == '_')
        return true;
    return v6 && (c == ':' || c == '%');
}

/* HOST:PORT (IPv6 in brackets) into host (SS_CLI_MAX_HOST_BYTES + 1), v6, port. */
static bool parse_address(const raw_value *rv, char *out_host, bool *out_v6, uint16_t *out_port, char *err,
                          size_t cap) {
    const char *s = rv->text;
    const char *host, *host_end, *port;
    bool v6 = false;
    if (s[0] == '[') {
        host = s + 1;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':')
            return ss__fail(err, cap, "invalid %s '%s' (expected HOST:PORT, IPv6 as [::1]:4437)", rv->source, s);
        port = host_end + 2;
        v6 = true;
    } else {
        host = s;
        host_end = strrchr(s, ':');
        if (!host_end)
            return ss__fail(err, cap, "invalid %s '%s' (expected HOST:PORT, for example 127.0.0.1:4437)",
                            rv->source, s);
        if (memchr(s, ':', (size_t)(host_end - s)))
            return ss__fail(err, cap, "invalid %s '%s' (write IPv6 addresses in brackets: [::1]:4437)", rv->source,
                            s);
        port = host_end + 1;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0)
        return ss__fail(err, cap, "invalid %s '%s' (missing host)", rv->source, s);
    if (hlen > SS_CLI_MAX_HOST_BYTES)
        return ss__fail(err, cap, "invalid %s (host longer than %d bytes)", rv->source, SS_CLI_MAX_HOST_BYTES);
    for (size_t i = 0; i < hlen; i++)
        if (!host_char_ok(host[i], v6))
            return ss__fail(err, cap, "invalid %s '%s' (bad character in host)", rv->source, s);
    uint64_t p;
    if (!parse_uint(port, 65535, &p))
        return ss__fail(err, cap, "invalid %s '%s' (port must be 0..65535)", rv->source, s);
    memcpy(out_host, host, hlen);
    out_host[hlen] = '\0';
    *out_v6 = v6;
    *out_port = (uint16_t)p;
    return true;
}

/* One of `words` (NULL-terminated); its index in *out. */
static bool parse_word(const raw_value *rv, const char *const *words, int *out, char *err, size_t cap) {
    for (int i = 0; words[i]; i++)
        if (strcmp(rv->text, words[i]) == 0)
            return *out = i, true;
    char list[128] = "";
    for (int i = 0; words[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", words[i]);
    return ss__fail(err, cap, "invalid %s '%s' (expected %s)", rv->source, rv->text, list);
}

/* A number setting: the default when not given, else min..max. */
static bool resolve_uint(const raw_value *rv, uint64_t def, uint64_t min, uint64_t max, const char *unit,
                         uint64_t *out, char *err, size_t cap) {
    *out = def;
    if (!rv->text)
        return true;
    if (!parse_uint(rv->text, UINT64_MAX, out) || *out < min || *out > max)
        return ss__fail(err, cap, "invalid %s '%s' (expected %s, %llu..%llu)", rv->source, rv->text, unit,
                        (unsigned long long)min, (unsigned long long)max);
    return true;
}

static bool parse_prefix(const raw_value *rv, ss_cli_options *o, char *err, size_t cap) {
    const char *s = rv->text;
    size_t len = strlen(s);
    if (len && s[0] != '/')
        return ss__fail(err, cap, "invalid %s '%s' (must start with '/')", rv->source, s);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
            return ss__fail(err, cap, "invalid %s '%s' (spaces, control characters, '?' and '#' are not allowed)",
                            rv->source, s);
    }
    while (len && s[len - 1] == '/')
        len--;
    if (len > SS_CLI_MAX_PREFIX_BYTES)
        return ss__fail(err, cap, "invalid %s (longer than %d bytes)", rv->source, SS_CLI_MAX_PREFIX_BYTES);
    memcpy(o->path_prefix, s, len);
    o->path_prefix[len] = '\0';
    return true;
}

/* Turns the collected raw values into options. */
static bool resolve(const raw_value raw[OPT_COUNT], ss_cli_options *o, char *err, size_t cap) {
    const raw_value *rv;

    rv = &raw[OPT_LISTEN];
    raw_value listen_default = {SS_CLI_DEFAULT_LISTEN, "default listen address", false};
    if (!parse_address(rv->text ? rv : &listen_default, o->host, &o->host_is_ipv6, &o->port, err, cap))
        return false;

    rv = &raw[OPT_ADMIN_LISTEN];
    o->admin = SS_CLI_ADMIN_MAIN;
    if (rv->text && strcmp(rv->text, "off") == 0) {
        o->admin = SS_CLI_ADMIN_OFF;
    } else if (rv->text && rv->text[0]) {
        if (!parse_address(rv, o->admin_host, &o->admin_host_is_ipv6, &o->admin_port, err, cap))
            return false;
        o->admin = SS_CLI_ADMIN_SEPARATE;
    }

    static const char *const formats[] = {"text", "json", NULL};
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    int w = 0;
    if (raw[OPT_LOG_FORMAT].text && !parse_word(&raw[OPT_LOG_FORMAT], formats, &w, err, cap))
        return false;
    o->log_format = (ss_cli_log_format)w;
    w = SS_CLI_LOG_INFO;
    if (raw[OPT_LOG_LEVEL].text && !parse_word(&raw[OPT_LOG_LEVEL], levels, &w, err, cap))
        return false;
    o->log_level = (ss_cli_log_level)w;

    rv = &raw[OPT_STORAGE];
    const char *storage = rv->text ? rv->text : "sqlite:" SS_CLI_DEFAULT_SQLITE_PATH;
    o->storage_path[0] = '\0';
    if (strcmp(storage, "memory") == 0) {
        o->storage = SS_CLI_STORAGE_MEMORY;
    } else if (strncmp(storage, "sqlite:", 7) == 0) {
        const char *path = storage + 7;
        if (!*path)
            return ss__fail(err, cap, "invalid %s '%s' (expected sqlite:PATH)", rv->source, storage);
        if (strlen(path) > SS_CLI_MAX_STORAGE_PATH_BYTES)
            return ss__fail(err, cap, "invalid %s (path longer than %d bytes)", rv->source,
                            SS_CLI_MAX_STORAGE_PATH_BYTES);
        o->storage = SS_CLI_STORAGE_SQLITE;
        strcpy(o->storage_path, path);
    } else {
        return ss__fail(err, cap, "unknown storage '%s' (expected sqlite:PATH or memory)", storage);
    }

    uint64_t v;
    if (!resolve_uint(&raw[OPT_LONG_POLL], SS_CLI_DEFAULT_LONG_POLL_TIMEOUT_MS, 1, SS_CLI_MAX_LONG_POLL_TIMEOUT_MS,
                      "milliseconds", &v, err, cap))
        return false;
    o->long_poll_timeout_ms = (uint32_t)v;

    rv = &raw[OPT_PREFIX];
    raw_value prefix_default = {SS_CLI_DEFAULT_PATH_PREFIX, "default path prefix", false};
    if (!parse_prefix(rv->text ? rv : &prefix_default, o, err, cap))
        return false;

    if (!resolve_uint(&raw[OPT_MAX_BODY], SS_HTTP_DEFAULT_MAX_BODY_BYTES, 1, SS_CLI_MAX_BODY_BYTES_LIMIT, "bytes",
                      &v, err, cap))
        return false;
    o->max_body_bytes = (size_t)v;
    if (!resolve_uint(&raw[OPT_MAX_CONNECTIONS], SS_CLI_DEFAULT_MAX_CONNECTIONS, 1, SS_CLI_MAX_CONNECTIONS_LIMIT,
                      "a connection count", &v, err, cap))
        return false;
    o->max_connections = (size_t)v;
    o->max_connections_given = raw[OPT_MAX_CONNECTIONS].text != NULL;
    if (!resolve_uint(&raw[OPT_MAX_OUTPUT], SS_CLI_DEFAULT_MAX_OUTPUT_BYTES, SS_CLI_MIN_OUTPUT_BYTES,
                      SS_CLI_MAX_OUTPUT_BYTES_LIMIT, "bytes", &v, err, cap))
        return false;
    o->max_output_bytes = (size_t)v;
    if (!resolve_uint(&raw[OPT_SQLITE_CACHE], SS_CLI_DEFAULT_SQLITE_CACHE_BYTES, SS_CLI_MIN_SQLITE_CACHE_BYTES,
                      SS_CLI_MAX_SQLITE_CACHE_BYTES_LIMIT, "bytes", &v, err, cap))
        return false;
    o->sqlite_cache_bytes = (size_t)v;

    rv = &raw[OPT_HTTP2];
    o->http2 = false;
    if (rv->text && !parse_bool(rv->text, &o->http2))
        return ss__fail(err, cap, "invalid %s '%s' (expected 1 or 0)", rv->source, rv->text);

    rv = &raw[OPT_TRUST_PROXY];
    o->trust_proxy = false;
    if (rv->text && !parse_bool(rv->text, &o->trust_proxy))
        return ss__fail(err, cap, "invalid %s '%s' (expected 1 or 0)", rv->source, rv->text);

    rv = &raw[OPT_WEBHOOKS];
    o->webhooks = false;
    if (rv->text && !parse_bool(rv->text, &o->webhooks))
        return ss__fail(err, cap, "invalid %s '%s' (expected 1 or 0)", rv->source, rv->text);
    o->public_url = raw[OPT_PUBLIC_URL].text && raw[OPT_PUBLIC_URL].text[0] ? raw[OPT_PUBLIC_URL].text : NULL;
    if (o->public_url && strncmp(o->public_url, "http://", 7) != 0 && strncmp(o->public_url, "https://", 8) != 0)
        return ss__fail(err, cap, "invalid %s '%s' (expected http://HOST[:PORT] or https://...)",
                        raw[OPT_PUBLIC_URL].source, o->public_url);
    if (o->public_url && strlen(o->public_url) > SS_CLI_MAX_PUBLIC_URL_BYTES)
        return ss__fail(err, cap, "%s is longer than %d bytes", raw[OPT_PUBLIC_URL].source,
                        SS_CLI_MAX_PUBLIC_URL_BYTES);

    rv = &raw[OPT_QUIET];
    o->access_log = true;
    if (rv->text) {
        bool v;
        if (!parse_bool(rv->text, &v))
            return ss__fail(err, cap, "invalid %s '%s' (expected 1 or 0)", rv->source, rv->text);
        o->access_log = rv->from_env ? v : !v; /* STREAMSY_ACCESS_LOG=1 logs, --quiet=1 does not */
    }

    o->config_path = raw[OPT_CONFIG].text && raw[OPT_CONFIG].text[0] ? raw[OPT_CONFIG].text : NULL;
    o->tls_cert = raw[OPT_TLS_CERT].text && raw[OPT_TLS_CERT].text[0] ? raw[OPT_TLS_CERT].text : NULL;
    o->tls_key = raw[OPT_TLS_KEY].text && raw[OPT_TLS_KEY].text[0] ? raw[OPT_TLS_KEY].text : NULL;
    if (!o->tls_cert != !o->tls_key)
        return ss__fail(err, cap, "--tls-cert and --tls-key must be given together");
    return true;
}

static int find_setting(const char *name, size_t len) {
    for (int i = 0; i < OPT_COUNT; i++)
        if (strlen(settings[i].flag) == len && memcmp(settings[i].flag, name, len) == 0)
            return i;
    return -1;
}

bool ss_cli_parse(int argc, char *const *argv, char *const *envp, ss_cli_options *out, char *err, size_t err_cap) {
    memset(out, 0, sizeof *out);
    if (err && err_cap)
        err[0] = '\0';
    if (argc < 2 || !argv[1])
        return ss__fail(err, err_cap, "missing command (expected: serve)");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        out->command = SS_CLI_HELP;
        return true;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        out->command = SS_CLI_VERSION;
        return true;
    }
    if (strcmp(cmd, "serve") != 0)
        return ss__fail(err, err_cap, "unknown command '%s' (expected: serve, --help, --version)", cmd);
    out->command = SS_CLI_SERVE;

    raw_value raw[OPT_COUNT] = {{0}};
    for (int i = 0; i < OPT_COUNT; i++) {
        const char *v = env_get(envp, settings[i].env);
        if (v)
            raw[i] = (raw_value){v, settings[i].env, true};
    }

    for (int i = 2; i < argc && argv[i]; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            out->command = SS_CLI_HELP;
            return true;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return ss__fail(err, err_cap, "unexpected argument '%s'", a);
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        int id = find_setting(a, name_len);
        if (id < 0)
            return ss__fail(err, err_cap, "unknown option '%.*s'", (int)name_len, a);
        const setting *s = &settings[id];
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (s->is_switch) {
            value = "1";
        } else {
            if (i + 1 >= argc || !argv[i + 1])
                return ss__fail(err, err_cap, "option '%s' requires a value", s->flag);
            value = argv[++i];
        }
        raw[id] = (raw_value){value, s->flag, false};
    }
    return resolve(raw, out, err, err_cap);
}
