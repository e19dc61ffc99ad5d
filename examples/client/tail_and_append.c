/* tail_and_append URL: the client library against a running server.
 *
 * Creates the JSON stream at URL, appends three events with an idempotent
 * producer (the second one twice, as a program that lost the answer would:
 * the server drops the repeat), closes it, then tails it from the start and
 * checks it saw each event exactly once. Exits 0 when all of that held.
 *
 *   streamsy serve --storage memory &
 *   build/examples/tail_and_append http://127.0.0.1:4437/v1/stream/example */
#include <stdio.h>
#include <string.h>

#include <streamsy/client.h>

typedef struct seen {
    char text[256];
    size_t len;
    int closed;
} seen;

static bool on_data(void *ctx, const ss_client_result *r) {
    seen *s = ctx;
    if (r->body.len && s->len + r->body.len < sizeof s->text) {
        memcpy(s->text + s->len, r->body.p, r->body.len);
        s->len += r->body.len;
    }
    s->closed += r->closed;
    return true; /* keep following; the tail ends when the stream closes */
}

static int fail(const char *what, ss_rc rc, const ss_client_result *r) {
    fprintf(stderr, "tail_and_append: %s: %s (HTTP %ld: %s)\n", what, ss_rc_str(rc), r->status, r->message);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: tail_and_append URL\n");
        return 2;
    }
    const char *url = argv[1];
    ss_client *c;
    if (ss_client_new(NULL, &c))
        return 1;
    ss_client_result r;
    ss_client_result_init(&r);
    int status = 1;
    ss_rc rc = ss_client_create(c, url, &(ss_client_create_options){.content_type = "application/json"}, &r);
    if (rc || r.status / 100 != 2) {
        status = fail("create", rc, &r);
        goto done;
    }
    ss_client_producer p = {.id = "example-writer", .epoch = 1};
    const char *events[] = {"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"};
    for (int i = 0; i < 3; i++) {
        ss_client_append_options ao = {.data = ss_slice_cstr(events[i]), .producer = &p};
        rc = ss_client_append(c, url, &ao, &r);
        if (rc || r.status / 100 != 2) {
            status = fail("append", rc, &r);
            goto done;
        }
        if (i == 1) { /* send the same (id, epoch, seq) again */
            p.seq--;
            rc = ss_client_append(c, url, &ao, &r);
            if (rc || !r.duplicate) {
                status = fail("the repeat was not recognised", rc, &r);
                goto done;
            }
        }
    }
    if ((rc = ss_client_close(c, url, &r)) || r.status / 100 != 2) {
        status = fail("close", rc, &r);
        goto done;
    }
    seen s = {0};
    if ((rc = ss_client_tail(c, url, NULL, on_data, &s, &r)) || !r.closed) {
        status = fail("tail", rc, &r);
        goto done;
    }
    s.text[s.len] = '\0';
    printf("%s\n", s.text);
    status = s.closed == 1 ? 0 : 1;
    for (int i = 0; i < 3; i++) { /* each event exactly once, however the reads were cut */
        const char *at = strstr(s.text, events[i]);
        if (!at || strstr(at + 1, events[i]))
            status = 1;
    }
    if (status)
        fprintf(stderr, "tail_and_append: expected each event once, saw %s\n", s.text);
done:
    ss_client_result_release(&r);
    ss_client_free(c);
    return status;
}
