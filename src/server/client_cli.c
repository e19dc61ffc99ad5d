/* `streamsy create|append|read|tail|head|close|delete URL [flags]`: the
 * client commands, on the client API (streamsy/client.h), for any Durable
 * Streams server. Exit codes: 0 done, 1 the server refused (its status and
 * message on stderr), 2 a bad command line, 3 no answer (network). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
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
    "      --producer ID        an idempotent producer: each append carries (ID, --epoch N,\n"
    "                           --seq N counting up from 0); the server drops repeats, so\n"
    "                           running the same command again after a failure appends\n"
    "                           nothing twice (use a new --epoch for new data)\n"
    "      --auto-claim         with --producer: on 403 (a newer epoch) take the next epoch\n"
    "  read URL                 print everything from --from (default: the beginning)\n"
    "      --from OFFSET|-1     where to start\n"
    "      --json               a JSON stream's values, one per line\n"
    "  tail URL                 print the stream and follow it live (SSE; binary streams are\n"
    "                           decoded), resuming after dropped connections; ends with 0\n"
    "                           when the stream closes\n"
    "      --from OFFSET|now|-1 where to start (default -1: the beginning)\n"
    "      --long-poll          long-poll instead of SSE (every byte as stored: over SSE a text\n"
    "                           line that begins with a space loses it, as the protocol has it)\n"
    "      --json               a JSON stream's values, one per line\n"
    "      --print-offsets      print 'OFFSET <next offset>' on stderr after each chunk\n"
    "  fork URL --from SOURCE   create URL as a fork of SOURCE (a path or URL on the same\n"
    "                           server), sharing its content up to --at OFFSET (default: its tail)\n"
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
    const char *producer; /* --producer ID */
    unsigned long long epoch, seq;
    bool auto_claim;
    const char *fork_at; /* fork --at (fork --from is the source) */
    const char *headers[MAX_HEADERS + 1];
    size_t n_headers;
    bool has_ttl;
    unsigned long long ttl_s;
    long timeout_ms;
    bool closed, close, lines, print_offsets;
    bool long_poll; /* tail: no SSE */
    bool json;      /* read, tail: one JSON value per line */
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
    static const char *const flags[] = {
        "--content-type", "--expected-offset", "--expires-at", "--from", "--ttl", "--timeout-ms",
        "--header",       "--producer",        "--epoch",      "--seq",  "--at"};
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
        } else if (!strcmp(a, "--at") && v) {
            o->fork_at = v;
        } else if (!strcmp(a, "--producer") && v) {
            if (!*v)
                return usage_error("--producer takes a non-empty id", NULL);
            o->producer = v;
        } else if ((!strcmp(a, "--epoch") || !strcmp(a, "--seq")) && v) {
            if (!parse_number(v, (1ull << 53) - 1, a[2] == 'e' ? &o->epoch : &o->seq))
                return usage_error("--epoch and --seq take 0..2^53-1", v);
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
            else if (!strcmp(a, "--auto-claim"))
                o->auto_claim = true;
            else if (!strcmp(a, "--long-poll"))
                o->long_poll = true;
            else if (!strcmp(a, "--json"))
                o->json = true;
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

/* A response body: as it is, or (--json) each value of its JSON array on a
 * line of its own. False when it could not be written or is not JSON. */
static bool print_body(const cli *o, ss_slice body) {
    if (!o->json)
        return !body.len || write_all(body.p, body.len);
    ss_arena a;
    ss_arena_init(&a);
    ss_slice *items;
    size_t n;
    bool is_array;
    const char *why = NULL;
    bool ok = ss_json_split(body, 0, &a, &items, &n, &is_array, &why) == SS_OK;
    if (!ok)
        fprintf(stderr, "streamsy: --json: the body is not JSON (%s)\n", why ? why : "out of memory");
    for (size_t i = 0; ok && i < n; i++)
        ok = write_all(items[i].p, items[i].len) && write_all("\n", 1);
    ss_arena_release(&a);
    return ok;
}

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
    ss_client_producer producer = {
        .id = o->producer, .epoch = o->epoch, .seq = o->seq, .auto_claim = o->auto_claim};
    ss_client_append_options ao = {.content_type = o->content_type,
                                   .expected_offset = o->expected_offset,
                                   .producer = o->producer ? &producer : NULL};
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
        if (!status && o->close) {
            ao.data = SS_SLICE_NULL;
            ao.close = true;
            status = report(ss_client_append(c, o->url, &ao, r), r);
        }
    } else {
        ao.data = data;
        ao.close = o->close;
        status = report(ss_client_append(c, o->url, &ao, r), r);
    }
    if (!status)
        printf("%s\n", r->next_offset);
    if (!status && r->duplicate)
        fprintf(stderr, "streamsy: the last append was a repeat of one the server already has (nothing new "
                        "appended by it); new data needs a new --epoch or --seq\n");
    if (o->producer && (!status || r->status == 409 || r->status == 403))
        fprintf(stderr, "producer %s: epoch %llu, next seq %llu\n", o->producer,
                (unsigned long long)producer.epoch, (unsigned long long)producer.seq);
    ss_buf_release(&in);
    return status;
}

/* The path of a source given as a URL (the server names fork sources by path). */
static const char *source_path(const char *source) {
    const char *p = strstr(source, "://");
    if (!p)
        return source;
    p = strchr(p + 3, '/');
    return p ? p : "/";
}

static int cmd_fork(ss_client *c, const cli *o, ss_client_result *r) {
    if (!o->from)
        return usage_error("fork needs --from SOURCE", NULL);
    ss_client_create_options co = {.content_type = o->content_type,
                                   .has_ttl = o->has_ttl,
                                   .ttl_s = o->ttl_s,
                                   .expires_at = o->expires_at,
                                   .forked_from = source_path(o->from),
                                   .fork_offset = o->fork_at};
    int status = report(ss_client_create(c, o->url, &co, r), r);
    if (!status)
        printf("%s\n", r->next_offset);
    return status;
}

static int cmd_read(ss_client *c, const cli *o, ss_client_result *r) {
    char offset[SS_CLIENT_OFFSET_MAX];
    snprintf(offset, sizeof offset, "%s", o->from ? o->from : "-1");
    for (;;) {
        int status = report(ss_client_read(c, o->url, offset, r), r);
        if (status)
            return status;
        if (r->body.len && !print_body(o, ss_buf_slice(&r->body)))
            return EXIT_REFUSED;
        if (r->up_to_date || r->closed || !r->next_offset[0] || !strcmp(offset, r->next_offset))
            return 0;
        snprintf(offset, sizeof offset, "%s", r->next_offset);
    }
}

typedef struct tail_state {
    const cli *o;
    bool output_failed; /* stdout closed, or --json on a body that is not JSON */
} tail_state;

static bool on_tail(void *ctx, const ss_client_result *r) {
    tail_state *t = ctx;
    if (r->body.len && !print_body(t->o, ss_buf_slice(&r->body))) {
        t->output_failed = true;
        return false;
    }
    if (t->o->print_offsets)
        fprintf(stderr, "OFFSET %s\n", r->next_offset);
    return true;
}

static int cmd_tail(ss_client *c, const cli *o, ss_client_result *r) {
    ss_client_tail_options to = {.offset = o->from, .long_poll = o->long_poll};
    tail_state t = {o, false};
    int status = report(ss_client_tail(c, o->url, &to, on_tail, &t, r), r);
    return status ? status : t.output_failed ? EXIT_REFUSED : 0;
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
    /* (keep in step with the dispatch in ss_client_cli_main) */
    static const char *const commands[] = {"create", "append", "read", "tail", "head", "close", "delete", "fork"};
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
    else if (!strcmp(o.command, "fork"))
        status = cmd_fork(c, &o, &r);
    else if (!strcmp(o.command, "close"))
        status = report(ss_client_close(c, o.url, &r), &r);
    else
        status = report(ss_client_delete(c, o.url, &r), &r);
    ss_client_result_release(&r);
    ss_client_free(c);
    return status;
}
