/* Exclusive ownership of a database file by one factory.
 *
 * Two processes appending through their own cached views of one database
 * would each wake only their own live readers, and group commit keeps a
 * write transaction open for a whole loop turn. So one database belongs to
 * one factory: the factory holds flock(LOCK_EX) on the sidecar file
 * PATH-lock for its lifetime and writes its pid into it; a second open, from
 * another process or this one, fails at once with a message naming the
 * holder. The kernel drops the lock when the holder exits, even on SIGKILL.
 * The sidecar file is never unlinked: unlinking it while another process
 * waits to lock the old inode would let two owners in. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sqlite_internal.h"

/* The pid written by the current holder; 0 when unreadable. */
static long holder_pid(int fd) {
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return end != buf && pid > 0 ? pid : 0;
}

ss_rc ss__sq_lock(const char *path, int *out_fd, char *err, size_t err_cap) {
    size_t n = strlen(path);
    char *lock_path = malloc(n + sizeof "-lock");
    if (!lock_path) {
        ss__sq_errf(err, err_cap, "out of memory");
        return SS_NOMEM;
    }
    memcpy(lock_path, path, n);
    memcpy(lock_path + n, "-lock", sizeof "-lock");
    ss_rc rc = SS_OK;
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ss__sq_errf(err, err_cap, "cannot create the lock file %s: %s", lock_path, strerror(errno));
        rc = SS_IOERR;
        goto done;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            long pid = holder_pid(fd);
            if (pid == (long)getpid())
                ss__sq_errf(err, err_cap, "database %s is already open in this process (pid %ld)", path, pid);
            else if (pid)
                ss__sq_errf(err, err_cap, "database %s is in use by another streamsy process (pid %ld)", path,
                            pid);
            else
                ss__sq_errf(err, err_cap, "database %s is in use by another streamsy process (pid unknown)", path);
            rc = SS_BUSY;
        } else {
            ss__sq_errf(err, err_cap, "cannot lock %s: %s", lock_path, strerror(errno));
            rc = SS_IOERR;
        }
        close(fd);
        goto done;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        ss__sq_errf(err, err_cap, "cannot write the lock file %s: %s", lock_path, strerror(errno));
        close(fd); /* drops the lock */
        rc = SS_IOERR;
        goto done;
    }
    *out_fd = fd;
done:
    free(lock_path);
    return rc;
}

void ss__sq_unlock(int fd) {
    if (fd >= 0)
        close(fd); /* the last descriptor of the open file: the flock goes with it */
}
