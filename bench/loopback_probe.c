/* bench-loopback-probe: what one small write to one of many loopback TCP
 * connections costs the writing core, with no server code at all: the floor
 * under a fan-out benchmark's "server CPU".
 *
 *   bench-loopback-probe [--connections N] [--bytes B] [--duration S]
 *                        [--writer-cpu C] [--reader-cpu C] [--rate R]
 *
 * Defaults: 1000 connections, 150 bytes, 5 s, writer on CPU 0, reader on
 * CPU 1 (-1: not pinned), as fast as possible.
 *
 * The writer (pinned to --writer-cpu) holds N accepted connections
 * and writes B-byte messages to them round-robin, each as one writev of three
 * pieces (an HTTP/1.1 chunk header, the bytes, CRLF: what an SSE event costs
 * h2o), as fast as it can or, with --rate R, R messages per second to every
 * connection. A reader process (pinned to --reader-cpu) drains every
 * connection with epoll. On loopback the kernel delivers each segment to the
 * receiving socket inside the sender's system call, so the writer's CPU time
 * holds both ends of the TCP work, as a server's does in bench-fanout.
 * Prints one line:
 *
 *   LOOPBACK connections=1000 bytes=150 writes=.. writes_per_s=..
 *            writer_cpu_pct=.. cpu_us_per_write=.. writes_per_cpu_s=..
 *            round_ms_mean=.. round_ms_max=..
 *
 * writes_per_cpu_s is how many such writes one core can make per second of
 * CPU: a fan-out of E events/s needs at least E / writes_per_cpu_s of a core
 * before any server code runs. A round (one message to every connection) is
 * what one append to a stream with N parked readers costs at least: the last
 * reader cannot hear of it sooner than round_ms after the first. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
    int connections;
    int bytes;
    double duration;
    int writer_cpu, reader_cpu;
    double rate; /* messages per second per connection; 0: as fast as possible */
} opt = {.connections = 1000, .bytes = 150, .duration = 5, .writer_cpu = 0, .reader_cpu = 1};

static void die(const char *what) {
    perror(what);
    exit(1);
}

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Pins the calling thread to `cpu` (best effort); a negative cpu leaves it free. */
static void pin(int cpu) {
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* The reader: its own process (each side holds one descriptor per
 * connection, so a 10,000-connection probe fits a 20,000 descriptor limit),
 * connecting every client and draining them until killed. */
static void reader(const struct sockaddr_in *sa) {
    pin(opt.reader_cpu);
    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    for (int i = 0; i < opt.connections; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0)
            die("connect (raise ulimit -n?)");
        fcntl(fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl");
    }
    static char buf[1 << 16];
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++)
            while (read(evs[i].data.fd, buf, sizeof buf) > 0)
                ;
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "usage: bench-loopback-probe [--connections N] [--bytes B] [--duration S] "
                            "[--writer-cpu C] [--reader-cpu C] [--rate R]\n");
            return 2;
        }
        if (!strcmp(a, "--connections"))
            opt.connections = atoi(v);
        else if (!strcmp(a, "--bytes"))
            opt.bytes = atoi(v);
        else if (!strcmp(a, "--duration"))
            opt.duration = atof(v);
        else if (!strcmp(a, "--writer-cpu"))
            opt.writer_cpu = atoi(v);
        else if (!strcmp(a, "--reader-cpu"))
            opt.reader_cpu = atoi(v);
        else if (!strcmp(a, "--rate"))
            opt.rate = atof(v);
        else {
            fprintf(stderr, "bench-loopback-probe: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (opt.connections < 1 || opt.bytes < 1 || opt.bytes > 65536 || opt.duration <= 0) {
        fprintf(stderr, "bench-loopback-probe: bad arguments\n");
        return 2;
    }
    struct rlimit rl; /* two descriptors per connection */
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    pin(opt.writer_cpu);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
        die("listen");
    int *server = calloc((size_t)opt.connections, sizeof *server);
    if (!server)
        die("calloc");
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        close(lfd);
        reader(&sa);
    }
    int one = 1;
    for (int i = 0; i < opt.connections; i++) {
        server[i] = accept(lfd, NULL, NULL);
        if (server[i] < 0)
            die("accept");
        setsockopt(server[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    char *payload = malloc((size_t)opt.bytes);
    if (!payload)
        die("malloc");
    memset(payload, 'x', (size_t)opt.bytes);
    char head[16];
    int head_len = snprintf(head, sizeof head, "%x\r\n", opt.bytes);
    struct iovec iov[3] = {{head, (size_t)head_len}, {payload, (size_t)opt.bytes}, {"\r\n", 2}};

    uint64_t writes = 0, failed = 0, rounds = 0;
    double round_ms_sum = 0, round_ms_max = 0; /* one message to every connection */
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC), cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t end = t0 + (uint64_t)(opt.duration * 1e9);
    uint64_t round_ns = opt.rate > 0 ? (uint64_t)(1e9 / opt.rate) : 0;
    for (uint64_t next = t0;;) {
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        if (now >= end)
            break;
        if (round_ns) {
            if (now < next) {
                struct timespec ts = {0, (long)(next - now)};
                nanosleep(&ts, NULL);
                continue;
            }
            next += round_ns;
        }
        for (int i = 0; i < opt.connections; i++) {
            if (writev(server[i], iov, 3) > 0)
                writes++;
            else
                failed++; /* a full socket buffer: the reader fell behind */
        }
        double ms = (double)(clock_ns(CLOCK_MONOTONIC) - now) / 1e6;
        round_ms_sum += ms;
        round_ms_max = ms > round_ms_max ? ms : round_ms_max;
        rounds++;
    }
    double wall = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    double cpu = (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) / 1e9;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    printf("LOOPBACK connections=%d bytes=%d writes=%llu failed=%llu writes_per_s=%.0f writer_cpu_pct=%.0f "
           "cpu_us_per_write=%.2f writes_per_cpu_s=%.0f round_ms_mean=%.2f round_ms_max=%.2f\n",
           opt.connections, opt.bytes, (unsigned long long)writes, (unsigned long long)failed, writes / wall,
           100 * cpu / wall, writes ? 1e6 * cpu / (double)writes : 0, cpu > 0 ? writes / cpu : 0,
           rounds ? round_ms_sum / (double)rounds : 0, round_ms_max);
    return 0;
}
