/* Opens the storage the command line asked for. */
#ifndef SS_SERVER_STORAGE_OPEN_H
#define SS_SERVER_STORAGE_OPEN_H

#include "options.h"
#include "streamsy/storage.h"

/* memory, or sqlite:PATH (creating PATH's directory, with group commit on).
 * On failure err holds one line for the operator. */
SS_MUST_USE ss_rc ss_server_open_storage(const ss_cli_options *o, ss_stream_factory **out, char *err,
                                         size_t err_cap);

#endif
