/* Exclusive ownership of a database file by one factory.
 *
 * Two processes appending through their own cached views of one database
 * would each wake only their own live readers, and group commit keeps a
 * write transaction open for a whole loop turn. Worse, two paths to one file
 * (a hard link, a symlink, a bind mount) give SQLite two WAL files for one
 * database: acknowledged commits are lost and the file can be corrupted. So
 * one database file belongs to one factory: the factory holds
 * flock(LOCK_EX) on the database file itself — its inode, whatever path
 * names it — for its lifetime; a second open, from another process or this
 * one, fails at once with a message naming the holder (found in /proc/locks).
 * The kernel drops the lock when the holder exits, even on SIGKILL.
 *
 * flock and SQLite's own fcntl (POSIX) locks do not interact on local file
 * systems; on NFS, where flock is emulated with fcntl locks, a database must
 * not be used (SQLite's WAL mode needs shared memory anyway). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sqlite_internal.h"

/* The pid holding an exclusive flock on fd's file, from /proc/locks
 * ("1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF"); 0 when unknown. */
static long holder_pid(int fd) {
    struct stat st;
    FILE *locks = fstat(fd, &st) == 0 ? fopen("/proc/locks", "re") : NULL;
    if (!locks)
        return 0;
    char line[256];
    long pid = 0;
    while (!pid && fgets(line, sizeof line, locks)) {
        char kind[16], mode[16], access[16];
        long p;
        unsigned maj, min;
        unsigned long ino;
        if (strstr(line, "->")) /* a waiter, not the holder */
            continue;
        if (sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%lu", kind, mode, access, &p, &maj, &min, &ino) == 7 &&
            strcmp(kind, "FLOCK") == 0 && ino == (unsigned long)st.st_ino && maj == major(st.st_dev) &&
            min == minor(st.st_dev))
            pid = p;
    }
    fclose(locks);
    return pid;
}

ss_rc ss__sq_lock(const char *path, int *out_fd, char *err, size_t err_cap) {
    /* Creating the file here is what sqlite3_open would do next anyway. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ss__sq_errf(err, err_cap, "cannot open database %s: %s", path, strerror(errno));
        return SS_IOERR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        *out_fd = fd;
        return SS_OK;
    }
    ss_rc rc = SS_IOERR;
    if (errno == EWOULDBLOCK) {
        long pid = holder_pid(fd);
        if (pid == (long)getpid())
            ss__sq_errf(err, err_cap, "database %s is already open in this process (pid %ld)", path, pid);
        else if (pid)
            ss__sq_errf(err, err_cap, "database %s is in use by another streamsy process (pid %ld)", path, pid);
        else
            ss__sq_errf(err, err_cap, "database %s is in use by another streamsy process (pid unknown)", path);
        rc = SS_BUSY;
    } else {
        ss__sq_errf(err, err_cap, "cannot lock database %s: %s", path, strerror(errno));
    }
    close(fd);
    return rc;
}

void ss__sq_unlock(int fd) {
    if (fd >= 0)
        close(fd); /* the last descriptor of the open file: the flock goes with it */
}
