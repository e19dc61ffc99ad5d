/* `streamsy serve` command-line and environment parsing. */
#include <criterion/criterion.h>
#include <string.h>

#include "server/options.h"
#include "streamsy/handler.h" /* SS_HTTP_DEFAULT_MAX_BODY_BYTES */

static bool parse(const char *const *argv, const char *const *envp, ss_cli_options *o, char *err) {
    int argc = 0;
    while (argv[argc])
        argc++;
    return ss_cli_parse(argc, (char *const *)argv, (char *const *)envp, o, err, 256);
}

#define ARGV(...) ((const char *const[]){"streamsy", __VA_ARGS__, NULL})

Test(options, serve_defaults_to_loopback_4437_sqlite_and_a_30_second_long_poll) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("serve"), NULL, &o, err), "%s", err);
    cr_assert_eq(o.command, SS_CLI_SERVE);
    cr_assert_str_eq(o.host, "127.0.0.1");
    cr_assert_eq(o.port, 4437);
    cr_assert_eq(o.storage, SS_CLI_STORAGE_SQLITE);
    cr_assert_str_eq(o.storage_path, SS_CLI_DEFAULT_SQLITE_PATH);
    cr_assert_eq(o.long_poll_timeout_ms, 30000);
    cr_assert_str_eq(o.path_prefix, "/v1/stream");
    cr_assert_not(o.http2);
    cr_assert_eq(o.max_connections, SS_CLI_DEFAULT_MAX_CONNECTIONS);
    cr_assert_not(o.max_connections_given);
    cr_assert_eq(o.max_output_bytes, SS_CLI_DEFAULT_MAX_OUTPUT_BYTES);
    cr_assert_eq(o.admin, SS_CLI_ADMIN_MAIN);
    cr_assert_eq(o.log_format, SS_CLI_LOG_TEXT);
    cr_assert_eq(o.log_level, SS_CLI_LOG_INFO);
}

Test(options, admin_address_log_format_and_level) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("serve", "--admin-listen", "[::1]:9437", "--log-format", "json", "--log-level", "debug"),
                    NULL, &o, err),
              "%s", err);
    cr_assert_eq(o.admin, SS_CLI_ADMIN_SEPARATE);
    cr_assert_str_eq(o.admin_host, "::1");
    cr_assert(o.admin_host_is_ipv6);
    cr_assert_eq(o.admin_port, 9437);
    cr_assert_eq(o.log_format, SS_CLI_LOG_JSON);
    cr_assert_eq(o.log_level, SS_CLI_LOG_DEBUG);
    const char *env[] = {"STREAMSY_ADMIN_LISTEN=off", "STREAMSY_LOG_LEVEL=warn", NULL};
    cr_assert(parse(ARGV("serve"), env, &o, err), "%s", err);
    cr_assert_eq(o.admin, SS_CLI_ADMIN_OFF);
    cr_assert_eq(o.log_level, SS_CLI_LOG_WARN);
    const char *const *bad[] = {
        ARGV("serve", "--admin-listen", "9437"),
        ARGV("serve", "--log-format", "xml"),
        ARGV("serve", "--log-level", "verbose"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char e[256] = "";
        cr_assert_not(parse(bad[i], NULL, &o, e), "case %zu must fail", i);
        cr_assert(strstr(e, bad[i][2]) != NULL, "case %zu names the flag: %s", i, e);
    }
}

Test(options, the_flags_used_by_automated_checks_parse) {
    ss_cli_options o;
    char err[256];
    cr_assert(
        parse(ARGV("serve", "--listen", "127.0.0.1:9999", "--storage", "memory", "--long-poll-timeout-ms", "500"),
              NULL, &o, err),
        "%s", err);
    cr_assert_eq(o.port, 9999);
    cr_assert_eq(o.storage, SS_CLI_STORAGE_MEMORY);
    cr_assert_eq(o.long_poll_timeout_ms, 500);
}

Test(options, sqlite_paths_equals_forms_and_environment_variables) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("serve", "--storage=sqlite:/tmp/x.db", "--http2"), NULL, &o, err), "%s", err);
    cr_assert_str_eq(o.storage_path, "/tmp/x.db");
    cr_assert(o.http2);
    const char *env[] = {"STREAMSY_LISTEN=[::1]:5000", "STREAMSY_LONG_POLL_TIMEOUT_MS=750", NULL};
    cr_assert(parse(ARGV("serve"), env, &o, err), "%s", err);
    cr_assert_str_eq(o.host, "::1");
    cr_assert_eq(o.port, 5000);
    cr_assert_eq(o.long_poll_timeout_ms, 750);
    cr_assert(parse(ARGV("serve", "--long-poll-timeout-ms", "900"), env, &o, err), "%s", err);
    cr_assert_eq(o.long_poll_timeout_ms, 900, "flags win over the environment");
}

Test(options, bad_values_are_refused_with_a_message) {
    const char *const *cases[] = {
        ARGV("serve", "--storage", "postgres"),
        ARGV("serve", "--storage", "sqlite:"),
        ARGV("serve", "--long-poll-timeout-ms", "0"),
        ARGV("serve", "--long-poll-timeout-ms", "12x"),
        ARGV("serve", "--listen", "127.0.0.1"),
        ARGV("serve", "--listen", "127.0.0.1:99999"),
        ARGV("serve", "--max-body-bytes", "-1"),
        ARGV("serve", "--no-such-flag"),
        ARGV("serve", "--listen"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ss_cli_options o;
        char err[256] = "";
        cr_assert_not(parse(cases[i], NULL, &o, err), "case %zu must fail", i);
        cr_assert_gt(strlen(err), 0, "case %zu says why", i);
    }
}

Test(options, help_and_version_are_commands) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("--help"), NULL, &o, err));
    cr_assert_eq(o.command, SS_CLI_HELP);
    cr_assert(parse(ARGV("--version"), NULL, &o, err));
    cr_assert_eq(o.command, SS_CLI_VERSION);
    cr_assert(strstr(ss_cli_usage(), "--storage") != NULL);
}

Test(options, every_flag_takes_both_the_spaced_and_the_equals_form) {
    ss_cli_options a, b;
    char err[256];
    cr_assert(parse(ARGV("serve", "--listen", "0.0.0.0:80", "--path-prefix", "/s", "--max-body-bytes", "1024",
                         "--long-poll-timeout-ms", "1", "--tls-cert", "c.pem", "--tls-key", "k.pem"),
                    NULL, &a, err),
              "%s", err);
    cr_assert(parse(ARGV("serve", "--listen=0.0.0.0:80", "--path-prefix=/s", "--max-body-bytes=1024",
                         "--long-poll-timeout-ms=1", "--tls-cert=c.pem", "--tls-key=k.pem"),
                    NULL, &b, err),
              "%s", err);
    cr_assert_str_eq(a.host, "0.0.0.0");
    cr_assert_str_eq(b.host, "0.0.0.0");
    cr_assert_eq(a.port, 80);
    cr_assert_eq(b.port, 80);
    cr_assert_str_eq(a.path_prefix, "/s");
    cr_assert_str_eq(b.path_prefix, "/s");
    cr_assert_eq(a.max_body_bytes, 1024);
    cr_assert_eq(b.max_body_bytes, 1024);
    cr_assert_eq(a.long_poll_timeout_ms, 1);
    cr_assert_eq(b.long_poll_timeout_ms, 1);
    cr_assert_str_eq(a.tls_cert, "c.pem");
    cr_assert_str_eq(b.tls_key, "k.pem");
}

Test(options, switches_default_off_and_the_environment_can_turn_them_on_or_off) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("serve"), NULL, &o, err), "%s", err);
    cr_assert_not(o.http2);
    cr_assert(o.access_log, "the access log is on by default");
    cr_assert_eq(o.max_body_bytes, SS_HTTP_DEFAULT_MAX_BODY_BYTES);
    cr_assert_null(o.tls_cert);
    cr_assert_null(o.tls_key);
    cr_assert(parse(ARGV("serve", "--quiet"), NULL, &o, err), "%s", err);
    cr_assert_not(o.access_log);
    const char *env[] = {"STREAMSY_HTTP2=1", "STREAMSY_ACCESS_LOG=0", NULL};
    cr_assert(parse(ARGV("serve"), env, &o, err), "%s", err);
    cr_assert(o.http2);
    cr_assert_not(o.access_log);
    cr_assert(parse(ARGV("serve", "--http2=false", "--quiet=0"), env, &o, err), "%s", err);
    cr_assert_not(o.http2, "a flag overrides STREAMSY_HTTP2");
    cr_assert(o.access_log, "--quiet=0 overrides STREAMSY_ACCESS_LOG=0");
    cr_assert(parse(ARGV("serve"), NULL, &o, err), "%s", err);
    cr_assert_not(o.trust_proxy, "forwarding headers are not trusted by default");
    cr_assert(parse(ARGV("serve", "--trust-proxy"), NULL, &o, err), "%s", err);
    cr_assert(o.trust_proxy);
    const char *trust[] = {"STREAMSY_TRUST_PROXY=1", NULL};
    cr_assert(parse(ARGV("serve"), trust, &o, err), "%s", err);
    cr_assert(o.trust_proxy);
}

Test(options, every_setting_has_an_environment_variable_and_flags_win) {
    ss_cli_options o;
    char err[256];
    const char *env[] = {"STREAMSY_LISTEN=127.0.0.2:7000", "STREAMSY_STORAGE=memory", "STREAMSY_PATH_PREFIX=/env/",
                         "STREAMSY_MAX_BODY_BYTES=4096", NULL};
    cr_assert(parse(ARGV("serve"), env, &o, err), "%s", err);
    cr_assert_str_eq(o.host, "127.0.0.2");
    cr_assert_eq(o.port, 7000);
    cr_assert_eq(o.storage, SS_CLI_STORAGE_MEMORY);
    cr_assert_str_eq(o.path_prefix, "/env", "a trailing slash is dropped");
    cr_assert_eq(o.max_body_bytes, 4096);
    cr_assert(
        parse(ARGV("serve", "--listen", "127.0.0.3:7001", "--path-prefix", "/flag", "--max-body-bytes", "8192"),
              env, &o, err),
        "%s", err);
    cr_assert_str_eq(o.host, "127.0.0.3");
    cr_assert_str_eq(o.path_prefix, "/flag");
    cr_assert_eq(o.max_body_bytes, 8192);
}

Test(options, a_bad_environment_value_names_the_variable_unless_a_flag_overrides_it) {
    ss_cli_options o;
    char err[256] = "";
    const char *env[] = {"STREAMSY_LONG_POLL_TIMEOUT_MS=soon", NULL};
    cr_assert_not(parse(ARGV("serve"), env, &o, err));
    cr_assert(strstr(err, "STREAMSY_LONG_POLL_TIMEOUT_MS") != NULL, "got: %s", err);
    cr_assert(parse(ARGV("serve", "--long-poll-timeout-ms", "250"), env, &o, err), "%s", err);
    cr_assert_eq(o.long_poll_timeout_ms, 250);
    const char *env2[] = {"STREAMSY_HTTP2=maybe", NULL};
    cr_assert_not(parse(ARGV("serve"), env2, &o, err));
    cr_assert(strstr(err, "STREAMSY_HTTP2") != NULL, "got: %s", err);
}

Test(options, listen_addresses_take_ipv4_bracketed_ipv6_names_and_port_zero) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("serve", "--listen", "[::]:0"), NULL, &o, err), "%s", err);
    cr_assert_str_eq(o.host, "::");
    cr_assert(o.host_is_ipv6);
    cr_assert_eq(o.port, 0, "port 0 asks the kernel for a free port");
    cr_assert(parse(ARGV("serve", "--listen", "localhost:65535"), NULL, &o, err), "%s", err);
    cr_assert_str_eq(o.host, "localhost");
    cr_assert_not(o.host_is_ipv6);
    cr_assert_eq(o.port, 65535);
    const char *bad[] = {
        "::1:4437", ":4437", "[::1]4437", "[::1]", "host:", "host:-1", "host:65536", "a b:1", "127.0.0.1:4437x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char e[256] = "";
        cr_assert_not(parse(ARGV("serve", "--listen", bad[i]), NULL, &o, e), "'%s' must fail", bad[i]);
        cr_assert(strstr(e, "--listen") != NULL, "'%s': the message names the flag: %s", bad[i], e);
    }
    char e[256] = "";
    cr_assert_not(parse(ARGV("serve", "--listen", "::1:4437"), NULL, &o, e));
    cr_assert(strstr(e, "brackets") != NULL, "an unbracketed IPv6 address says how to write it: %s", e);
}

Test(options, numeric_limits_are_checked_at_both_ends) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("serve", "--long-poll-timeout-ms", "3600000"), NULL, &o, err), "%s", err);
    cr_assert_eq(o.long_poll_timeout_ms, 3600000);
    cr_assert(parse(ARGV("serve", "--max-body-bytes", "1073741824"), NULL, &o, err), "%s", err);
    cr_assert_eq(o.max_body_bytes, 1073741824u);
    cr_assert(parse(ARGV("serve", "--max-connections", "1", "--max-output-bytes", "1048576"), NULL, &o, err), "%s",
              err);
    cr_assert_eq(o.max_connections, 1);
    cr_assert(o.max_connections_given);
    cr_assert_eq(o.max_output_bytes, 1048576u);
    const char *env[] = {"STREAMSY_MAX_CONNECTIONS=77", "STREAMSY_MAX_OUTPUT_BYTES=2097152", NULL};
    cr_assert(parse(ARGV("serve"), env, &o, err), "%s", err);
    cr_assert_eq(o.max_connections, 77);
    cr_assert(o.max_connections_given);
    cr_assert_eq(o.max_output_bytes, 2097152u);
    cr_assert_eq(o.sqlite_cache_bytes, 64u << 20, "the default page cache");
    cr_assert(parse(ARGV("serve", "--sqlite-cache-bytes", "1048576"), NULL, &o, err), "%s", err);
    cr_assert_eq(o.sqlite_cache_bytes, 1048576u);
    const char *const *bad[] = {
        ARGV("serve", "--long-poll-timeout-ms", "3600001"),
        ARGV("serve", "--long-poll-timeout-ms", ""),
        ARGV("serve", "--long-poll-timeout-ms", "99999999999999999999999"),
        ARGV("serve", "--long-poll-timeout-ms", "+5"),
        ARGV("serve", "--max-body-bytes", "0"),
        ARGV("serve", "--max-body-bytes", "1073741825"),
        ARGV("serve", "--max-body-bytes", "1e6"),
        ARGV("serve", "--max-connections", "0"),
        ARGV("serve", "--max-connections", "1000001"),
        ARGV("serve", "--max-output-bytes", "1048575"),
        ARGV("serve", "--max-output-bytes", "1099511627777"),
        ARGV("serve", "--sqlite-cache-bytes", "1048575"),
        ARGV("serve", "--sqlite-cache-bytes", "1099511627777"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char e[256] = "";
        cr_assert_not(parse(bad[i], NULL, &o, e), "case %zu must fail", i);
        cr_assert(strstr(e, bad[i][2]) != NULL, "case %zu names the flag: %s", i, e);
    }
}

Test(options, path_prefixes_start_with_a_slash_and_lose_trailing_slashes) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("serve", "--path-prefix", "/a/b//"), NULL, &o, err), "%s", err);
    cr_assert_str_eq(o.path_prefix, "/a/b");
    cr_assert(parse(ARGV("serve", "--path-prefix", "/"), NULL, &o, err), "%s", err);
    cr_assert_str_eq(o.path_prefix, "", "\"/\" serves streams at the root");
    const char *bad[] = {"v1/stream", "/a?b", "/a#b", "/a b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char e[256] = "";
        cr_assert_not(parse(ARGV("serve", "--path-prefix", bad[i]), NULL, &o, e), "'%s' must fail", bad[i]);
    }
    char longp[400];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    char e[256] = "";
    cr_assert_not(parse(ARGV("serve", "--path-prefix", longp), NULL, &o, e), "over SS_CLI_MAX_PREFIX_BYTES");
}

Test(options, tls_needs_both_a_certificate_and_a_key) {
    ss_cli_options o;
    char err[256] = "";
    cr_assert_not(parse(ARGV("serve", "--tls-cert", "c.pem"), NULL, &o, err));
    cr_assert(strstr(err, "--tls-key") != NULL, "got: %s", err);
    cr_assert_not(parse(ARGV("serve", "--tls-key", "k.pem"), NULL, &o, err));
}

Test(options, commands_and_stray_arguments) {
    ss_cli_options o;
    char err[256] = "";
    cr_assert_not(parse((const char *const[]){"streamsy", NULL}, NULL, &o, err), "no command");
    cr_assert(strstr(err, "missing command") != NULL, "got: %s", err);
    cr_assert_not(parse(ARGV("start"), NULL, &o, err));
    cr_assert(strstr(err, "unknown command 'start'") != NULL, "got: %s", err);
    cr_assert_not(parse(ARGV("serve", "extra"), NULL, &o, err));
    cr_assert(strstr(err, "unexpected argument 'extra'") != NULL, "got: %s", err);
    cr_assert_not(parse(ARGV("serve", "--bogus=1"), NULL, &o, err));
    cr_assert(strstr(err, "unknown option '--bogus'") != NULL, "got: %s", err);
    cr_assert_not(parse(ARGV("serve", "--max-body-bytes"), NULL, &o, err));
    cr_assert(strstr(err, "requires a value") != NULL, "got: %s", err);
    cr_assert(parse(ARGV("serve", "--listen", "bad", "--help"), NULL, &o, err), "--help wins over bad values");
    cr_assert_eq(o.command, SS_CLI_HELP);
    cr_assert(parse(ARGV("help"), NULL, &o, err));
    cr_assert_eq(o.command, SS_CLI_HELP);
    cr_assert(parse(ARGV("-V"), NULL, &o, err));
    cr_assert_eq(o.command, SS_CLI_VERSION);
}

Test(options, the_storage_error_lists_what_is_accepted) {
    ss_cli_options o;
    char err[256] = "";
    cr_assert_not(parse(ARGV("serve", "--storage", "x"), NULL, &o, err));
    cr_assert(strstr(err, "unknown storage 'x' (expected") != NULL, "got: %s", err);
    cr_assert(strstr(err, "memory") != NULL, "got: %s", err);
}
