/* `streamsy create|append|read|tail|head|close|delete URL [flags]`: the
 * client commands, on the client API (streamsy/client.h), for any Durable
 * Streams server. Exit codes: 0 done, 1 the server refused (its status and
 * message on stderr), 2 a bad command line, 3 no answer (network). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_cli.h"
#include "streamsy/client.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_NETWORK 3
#define MAX_HEADERS 32
#define MAX_STDIN_BYTES ((size_t)64 << 20)

static const char usage_text[] =
    "usage: streamsy COMMAND URL [flags]     (URL: the stream's full URL)\n"
    "\n"
    "  create URL [DATA]        create a stream (DATA: its first content)\n"
    "      --content-type T     (default application/octet-stream)\n"
    "      --ttl SECONDS | --expires-at RFC3339   --closed\n"
    "  append URL [DATA]        append DATA, or standard input when no DATA is given\n"
    "      --lines              one message per line of the input (each its own append,\n"
    "                           newline included; empty lines are skipped)\n"
    "      --content-type T     (default: the stream's)\n"
    "      --expected-offset O  only if the tail is still O (compare-and-swap; 409 otherwise)\n"
    "      --close              close the stream with (or, without data, after) this append\n"
    "  read URL                 print everything from --from (default: the beginning)\n"
    "      --from OFFSET|-1     where to start\n"
    "  tail URL                 print the stream and follow it live (long-poll), resuming\n"
    "                           after dropped connections; ends when the stream closes\n"
    "      --from OFFSET|now|-1 where to start (default -1: the beginning)\n"
    "      --print-offsets      print 'OFFSET <next offset>' on stderr after each chunk\n"
    "  head URL                 print the stream's metadata\n"
    "  close URL                close the stream (no more appends)\n"
    "  delete URL               delete the stream\n"
    "\n"
    "every command: --header 'Name: value' (repeatable), --timeout-ms N (default 30000)\n"
    "exit: 0 done, 1 the server refused (status and message on stderr), 2 bad usage,\n"
    "      3 no answer from the server\n";

typedef struct cli {
    const char *command;
    const char *url;
    const char *data; /* the positional DATA, or NULL */
    const char *content_type;
    const char *expected_offset;
    const char *expires_at;
    const char *from;
    const char *headers[MAX_HEADERS + 1];
    size_t n_headers;
    bool has_ttl;
    unsigned long long ttl_s;
    long timeout_ms;
    bool closed, close, lines, print_offsets;
} cli;

static int usage_error(const char *what, const char *arg) {
    fprintf(stderr, "streamsy: %s%s%s\nTry 'streamsy %s'.\n", what, arg ? ": " : "", arg ? arg : "", "--help");
    return EXIT_USAGE;
}

static bool parse_number(const char *s, unsigned long long max, unsigned long long *out) {
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool takes_value(const char *flag) {
    static const char *const flags[] = {"--content-type", "--expected-offset", "--expires-at", "--from",
                                        "--ttl",          "--timeout-ms",      "--header"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strcmp(flag, flags[i]))
            return true;
    return false;
}

/* Parses argv[1..]; returns 0, -1 (--help printed) or an exit code. */
static int parse(int argc, char **argv, cli *o) {
    memset(o, 0, sizeof *o);
    o->command = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        unsigned long long n;
        if (!strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(a, "--content-type") && v) {
            o->content_type = v;
        } else if (!strcmp(a, "--expected-offset") && v) {
            o->expected_offset = v;
        } else if (!strcmp(a, "--expires-at") && v) {
            o->expires_at = v;
        } else if (!strcmp(a, "--from") && v) {
            o->from = v;
        } else if (!strcmp(a, "--ttl") && v) {
            if (!parse_number(v, 1ull << 53, &o->ttl_s))
                return usage_error("--ttl takes a number of seconds", v);
            o->has_ttl = true;
        } else if (!strcmp(a, "--timeout-ms") && v) {
            if (!parse_number(v, 3600000, &n) || n == 0)
                return usage_error("--timeout-ms takes 1..3600000", v);
            o->timeout_ms = (long)n;
        } else if (!strcmp(a, "--header") && v) {
            if (o->n_headers == MAX_HEADERS || !strchr(v, ':'))
                return usage_error("--header takes 'Name: value' (at most 32)", v);
            o->headers[o->n_headers++] = v;
        } else {
            takes = false;
            if (!strcmp(a, "--closed"))
                o->closed = true;
            else if (!strcmp(a, "--close"))
                o->close = true;
            else if (!strcmp(a, "--lines"))
                o->lines = true;
            else if (!strcmp(a, "--print-offsets"))
                o->print_offsets = true;
            else if (a[0] == '-' && a[1] == '-')
                return usage_error(takes_value(a) ? "missing value" : "unknown flag", a);
            else if (!o->url)
                o->url = a;
            else if (!o->data)
                o->data = a;
            else
                return usage_error("unexpected argument", a);
        }
        if (takes)
            i++;
    }
    if (!o->url)
        return usage_error("missing URL", o->command);
    if (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8))
        return usage_error("URL must start with http:// or https://", o->url);
    return 0;
}

/* Prints the server's refusal; returns the exit code for rc/r. */
static int report(ss_rc rc, const ss_client_result *r) {
    if (rc == SS_IOERR) {
        fprintf(stderr, "streamsy: no answer: %s\n", r->message);
        return EXIT_NETWORK;
    }
    if (rc) {
        fprintf(stderr, "streamsy: %s%s%s\n", ss_rc_str(rc), r->message[0] ? ": " : "", r->message);
        return EXIT_REFUSED;
    }
    if (r->status / 100 != 2) {
        fprintf(stderr, "streamsy: HTTP %ld: %s\n", r->status, r->message);
        return EXIT_REFUSED;
    }
    return 0;
}

static bool write_all(const void *p, size_t n) { return fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0; }

/* Standard input, whole (at most MAX_STDIN_BYTES). */
static ss_rc read_stdin(ss_buf *b) {
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (ss_buf_append(b, chunk, n))
            return b->err;
    return ferror(stdin) ? SS_IOERR : SS_OK;
}

static int cmd_append(ss_client *c, const cli *o, ss_client_result *r) {
    ss_buf in;
    ss_buf_init(&in, MAX_STDIN_BYTES);
    ss_slice data = o->data ? ss_slice_cstr(o->data) : SS_SLICE_NULL;
    int status = 0;
    if (!o->data && read_stdin(&in)) {
        fprintf(stderr, "streamsy: cannot read standard input (more than %zu bytes?)\n", MAX_STDIN_BYTES);
        ss_buf_release(&in);
        return EXIT_USAGE;
    }
    if (!o->data)
        data = ss_buf_slice(&in);
    if (!data.len && !o->close) {
        ss_buf_release(&in);
        return usage_error("nothing to append (no DATA and empty input)", NULL);
    }
    ss_client_append_options ao = {
        .content_type = o->content_type, .expected_offset = o->expected_offset, .close = false};
    if (o->lines) {
        size_t start = 0;
        for (size_t i = 0; i <= data.len && !status; i++) {
            if (i < data.len && data.p[i] != '\n')
                continue;
            if (i > start) { /* empty lines are skipped; a message keeps its newline */
                ao.data = (ss_slice){data.p + start, i - start + (i < data.len)};
                status = report(ss_client_append(c, o->url, &ao, r), r);
                ao.expected_offset = NULL; /* only the first is conditional */
            }
            start = i + 1;
        }
        if (!status && o->close)
            status = report(ss_client_close(c, o->url, r), r);
    } else {
        ao.data = data;
        ao.close = o->close;
        status = report(ss_client_append(c, o->url, &ao, r), r);
    }
    if (!status)
        printf("%s\n", r->next_offset);
    ss_buf_release(&in);
    return status;
}

static int cmd_read(ss_client *c, const cli *o, ss_client_result *r) {
    char offset[SS_OFFSET_MAX + 1];
    snprintf(offset, sizeof offset, "%s", o->from ? o->from : "-1");
    for (;;) {
        int status = report(ss_client_read(c, o->url, offset, r), r);
        if (status)
            return status;
        if (r->body.len && !write_all(r->body.p, r->body.len))
            return EXIT_REFUSED;
        if (r->up_to_date || r->closed || !r->next_offset[0] || !strcmp(offset, r->next_offset))
            return 0;
        snprintf(offset, sizeof offset, "%s", r->next_offset);
    }
}

static bool on_tail(void *ctx, const ss_client_result *r) {
    const cli *o = ctx;
    if (r->body.len && !write_all(r->body.p, r->body.len))
        return false;
    if (o->print_offsets)
        fprintf(stderr, "OFFSET %s\n", r->next_offset);
    return true;
}

static int cmd_tail(ss_client *c, const cli *o, ss_client_result *r) {
    ss_client_tail_options to = {.offset = o->from};
    return report(ss_client_tail(c, o->url, &to, on_tail, (void *)o, r), r);
}

static int cmd_head(ss_client *c, const cli *o, ss_client_result *r) {
    int status = report(ss_client_head(c, o->url, r), r);
    if (status)
        return status;
    printf("next-offset: %s\ncontent-type: %s\nclosed: %s\n", r->next_offset, r->content_type,
           r->closed ? "true" : "false");
    if (r->has_ttl)
        printf("ttl: %llu\n", (unsigned long long)r->ttl_s);
    if (r->expires_at[0])
        printf("expires-at: %s\n", r->expires_at);
    return 0;
}

static int cmd_create(ss_client *c, const cli *o, ss_client_result *r) {
    ss_client_create_options co = {.content_type = o->content_type,
                                   .has_ttl = o->has_ttl,
                                   .ttl_s = o->ttl_s,
                                   .expires_at = o->expires_at,
                                   .closed = o->closed,
                                   .data = o->data ? ss_slice_cstr(o->data) : SS_SLICE_NULL};
    int status = report(ss_client_create(c, o->url, &co, r), r);
    if (!status)
        printf("%s\n", r->next_offset);
    return status;
}

bool ss_client_cli_is_command(const char *arg) {
    static const char *const commands[] = {"create", "append", "read", "tail", "head", "close", "delete"};
    for (size_t i = 0; arg && i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(arg, commands[i]))
            return true;
    return false;
}

const char *ss_client_cli_usage(void) { return usage_text; }

int ss_client_cli_main(int argc, char **argv) {
    cli o;
    int status = parse(argc, argv, &o);
    if (status)
        return status < 0 ? 0 : status;
    ss_client *c;
    ss_client_options co = {.timeout_ms = o.timeout_ms, .headers = o.headers};
    if (ss_client_new(&co, &c)) {
        fprintf(stderr, "streamsy: cannot start the HTTP client\n");
        return EXIT_NETWORK;
    }
    ss_client_result r;
    ss_client_result_init(&r);
    if (!strcmp(o.command, "create"))
        status = cmd_create(c, &o, &r);
    else if (!strcmp(o.command, "append"))
        status = cmd_append(c, &o, &r);
    else if (!strcmp(o.command, "read"))
        status = cmd_read(c, &o, &r);
    else if (!strcmp(o.command, "tail"))
        status = cmd_tail(c, &o, &r);
    else if (!strcmp(o.command, "head"))
        status = cmd_head(c, &o, &r);
    else if (!strcmp(o.command, "close"))
        status = report(ss_client_close(c, o.url, &r), &r);
    else
        status = report(ss_client_delete(c, o.url, &r), &r);
    ss_client_result_release(&r);
    ss_client_free(c);
    return status;
}
