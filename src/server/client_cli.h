/* The client commands of the `streamsy` binary (client_cli.c). */
#ifndef SS_SERVER_CLIENT_CLI_H
#define SS_SERVER_CLIENT_CLI_H

#include <stdbool.h>

/* True for create, append, read, tail, head, close, delete and fork. */
bool ss_client_cli_is_command(const char *arg);
/* Runs `streamsy COMMAND URL [flags]`; returns the exit status. */
int ss_client_cli_main(int argc, char **argv);
/* The client commands' --help text. */
const char *ss_client_cli_usage(void);

#endif
