/* `streamsy serve` command-line and environment parsing. */
#include <criterion/criterion.h>
#include <string.h>

#include "server/options.h"

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
}

Test(options, the_flags_used_by_automated_checks_parse) {
    ss_cli_options o;
    char err[256];
    cr_assert(parse(ARGV("serve", "--listen", "127.0.0.1:9999", "--storage", "memory", "--long-poll-timeout-ms",
                         "500"),
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
