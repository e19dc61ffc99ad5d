/* Example: an embedded JSON stream used as a ledger, with optimistic
 * concurrency. Several writers run the loop
 *
 *   materialize (read the stream, fold it into a balance)
 *   -> validate  (refuse withdrawals that would overdraw)
 *   -> append with expectedOffset = the offset materialized up to
 *   -> on an expected-offset conflict, retry from the top
 *
 * so no update is lost and the balance never goes negative, whatever the
 * interleaving. Events are checked against a JSON Schema on write.
 * Run: build/examples/json_cas_counter   (exit 0 = the invariants held) */
#include <stdio.h>
#include <stdlib.h>

#include <streamsy/typed.h>

#define CHECK(cond, what)                                                                                         \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            fprintf(stderr, "json_cas_counter: %s\n", what);                                                      \
            exit(1);                                                                                              \
        }                                                                                                         \
    } while (0)

static const char *EVENT_SCHEMA = "{\"type\":\"object\",\"required\":[\"kind\",\"amount\"],"
                                  "\"properties\":{\"kind\":{\"enum\":[\"deposit\",\"withdraw\"]},"
                                  "\"amount\":{\"type\":\"integer\",\"minimum\":1}},"
                                  "\"additionalProperties\":false}";

/* Folds the whole stream into a balance; returns the offset it reached. */
static long materialize(ss_json_stream *s, ss_offset *at) {
    ss_json_read_result rr;
    ss_read_options from_start = {0};
    CHECK(ss_json_stream_read_to_tail(s, &from_start, 0, &rr) == SS_OK && rr.status == SS_JSON_READ_OK,
          "read failed");
    long balance = 0;
    for (size_t i = 0; i < rr.n; i++) {
        const json_t *v = rr.msgs[i].value;
        long amount = (long)json_integer_value(json_object_get(v, "amount"));
        const char *kind = json_string_value(json_object_get(v, "kind"));
        balance += kind[0] == 'd' ? amount : -amount;
    }
    *at = rr.next_offset;
    ss_json_read_result_release(&rr);
    return balance;
}

int main(void) {
    ss_stream_factory *storage;
    ss_protocol *p;
    CHECK(ss_memory_factory_new(NULL, &storage) == SS_OK, "memory storage");
    CHECK(ss_protocol_new(&(ss_protocol_options){.storage = storage}, &p) == SS_OK, "protocol");

    ss_json_schema *schema;
    ss_json_error err;
    CHECK(ss_json_schema_compile_text(ss_slice_cstr(EVENT_SCHEMA), &schema, &err) == SS_OK, "schema");
    ss_json_codec codec;
    ss_json_schema_codec(schema, &codec);
    ss_json_protocol *jp;
    CHECK(ss_json_protocol_new(p, &codec, &jp) == SS_OK, "json protocol");

    ss_json_create_result cr;
    CHECK(ss_json_protocol_create(jp, ss_slice_cstr("ledger"), &(ss_json_create_options){0}, &cr) == SS_OK &&
              cr.status == SS_JSON_CREATE_CREATED,
          "create");
    ss_json_stream *s = cr.stream;

    /* An invalid event is refused before anything is written. */
    json_t *bad = json_pack("{s:s, s:i}", "kind", "steal", "amount", 5);
    ss_json_append_result ar;
    CHECK(ss_json_stream_append(s, bad, NULL, &ar) == SS_OK && ar.invalid, "schema check");
    printf("refused: %s at %s (%s)\n", ar.error.rule, ar.error.path[0] ? ar.error.path : "/", ar.error.message);
    json_decref(bad);

    /* Writers interleave: each materializes, then they all try to append. */
    enum { WRITERS = 4, ROUNDS = 30 };
    long deposits = 0, withdrawals = 0, conflicts = 0, refusals = 0;
    srand(42);
    for (int round = 0; round < ROUNDS; round++) {
        ss_offset seen[WRITERS];
        long balance[WRITERS];
        for (int w = 0; w < WRITERS; w++)
            balance[w] = materialize(s, &seen[w]);
        for (int w = 0; w < WRITERS; w++) {
            bool withdraw = rand() % 2;
            long amount = 1 + rand() % 20;
            if (withdraw && amount > balance[w]) { /* validate against the materialized state */
                refusals++;
                continue;
            }
            json_t *ev = json_pack("{s:s, s:i}", "kind", withdraw ? "withdraw" : "deposit", "amount", amount);
            ss_json_append_options o = {.has_expected_offset = true, .expected_offset = seen[w]};
            CHECK(ss_json_stream_append(s, ev, &o, &ar) == SS_OK, "append");
            json_decref(ev);
            if (ar.append.status == SS_APPEND_CONFLICT &&
                ar.append.conflict == SS_APPEND_CONFLICT_EXPECTED_OFFSET) {
                conflicts++; /* somebody else appended first: retry next round from fresh state */
                continue;
            }
            CHECK(ar.append.status == SS_APPEND_APPENDED, "unexpected append status");
            if (withdraw)
                withdrawals += amount;
            else
                deposits += amount;
        }
    }
    ss_offset end;
    long balance = materialize(s, &end);
    printf("deposits %ld, withdrawals %ld, balance %ld; %ld CAS conflicts retried, %ld overdrafts refused\n",
           deposits, withdrawals, balance, conflicts, refusals);
    CHECK(balance == deposits - withdrawals, "an update was lost");
    CHECK(balance >= 0, "the balance went negative");
    CHECK(conflicts > 0, "the writers never raced (the example should show the retry path)");

    ss_json_stream_release(s);
    ss_json_protocol_free(jp);
    ss_json_schema_free(schema);
    ss_protocol_free(p);
    ss_storage_factory_free(storage);
    return 0;
}
