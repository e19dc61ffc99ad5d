/* A validation failure in the typed JSON layers: which message, where in it,
 * and which rule. Shared by the JSON Schema validator, the JSON layer, the
 * Durable State layer and the server's enforcement path. */
#ifndef STREAMSY_JSON_ERROR_H
#define STREAMSY_JSON_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_JSON_ERROR_PATH_MAX 256
#define SS_JSON_ERROR_MESSAGE_MAX 256

typedef struct ss_json_error {
    long index;                              /* message index in a batch; -1 when not applicable */
    char path[SS_JSON_ERROR_PATH_MAX];       /* JSON Pointer of the failing value, "" = the root */
    char rule[64];                           /* the failing keyword or check, e.g. "required", "type", "json" */
    char message[SS_JSON_ERROR_MESSAGE_MAX]; /* short human text, e.g. "missing property \"id\"" */
} ss_json_error;

/* Sets index -1, the rule and the message (printf); the path is the
 * caller's to fill. */
void ss_json_error_set(ss_json_error *e, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
