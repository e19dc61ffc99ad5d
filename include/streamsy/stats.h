/* Counters and histograms the layers keep for monitoring (the server
 * exports them as Prometheus metrics). Plain values, no locking: each
 * belongs to the one thread that runs its protocol. */
#ifndef STREAMSY_STATS_H
#define STREAMSY_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_HISTOGRAM_MAX_BUCKETS 16

/* Observations by upper bound: buckets[i] counts values <= bounds[i] (and
 * above bounds[i - 1]); buckets[n] counts the rest (+Inf). Not cumulative.
 * The bounds live with the code that observes and exports (see below). */
typedef struct ss_histogram {
    uint64_t buckets[SS_HISTOGRAM_MAX_BUCKETS + 1];
    uint64_t count;
    double sum;
} ss_histogram;

/* Seconds: 50 us .. 5 s, for storage latencies. */
#define SS_LATENCY_BOUNDS_N 12
extern const double ss_latency_bounds[SS_LATENCY_BOUNDS_N];
/* Counts: 1 .. 4096, for batch sizes. */
#define SS_BATCH_BOUNDS_N 13
extern const double ss_batch_bounds[SS_BATCH_BOUNDS_N];

void ss_histogram_observe(ss_histogram *h, const double *bounds, size_t n_bounds, double v);

#ifdef __cplusplus
}
#endif

#endif
