/* Opens the storage the command line asked for. */
#include "storage_open.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "streamsy/memory.h"
#include "streamsy/sqlite.h"

/* mkdir -p for the directory part of `path`. */
static bool make_parent_dirs(const char *path, char *err, size_t cap) {
    char dir[SS_CLI_MAX_STORAGE_PATH_BYTES + 1];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return true; /* the current directory, or the root */
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        bool last = *p == '\0';
        if (*p == '/' || last) {
            char saved = *p;
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                snprintf(err, cap, "cannot create directory %s: %s", dir, strerror(errno));
                return false;
            }
            *p = saved;
        }
        if (last)
            break;
    }
    return true;
}

static void log_to_stderr(void *ctx, const char *line) {
    (void)ctx;
    ss__logf(SS__LOG_ERROR, "storage", "%s", line);
}

ss_rc ss_server_open_storage(const ss_cli_options *o, ss_stream_factory **out, char *err, size_t err_cap) {
    switch (o->storage) {
    case SS_CLI_STORAGE_MEMORY: {
        ss_rc rc = ss_memory_factory_new(NULL, out);
        if (rc)
            snprintf(err, err_cap, "cannot create memory storage: %s", ss_rc_str(rc));
        return rc;
    }
    case SS_CLI_STORAGE_SQLITE: {
        if (!make_parent_dirs(o->storage_path, err, err_cap))
            return SS_IOERR;
        ss_sqlite_options so = {.path = o->storage_path,
                                .group_commit = true,
                                .log = log_to_stderr,
                                .cache_bytes = o->sqlite_cache_bytes};
        return ss_sqlite_factory_open(&so, out, err, err_cap);
    }
    }
    snprintf(err, err_cap, "unknown storage");
    return SS_MISUSE;
}
