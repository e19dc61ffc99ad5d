/* Histograms (see streamsy/stats.h). */
#include "streamsy/stats.h"

const double ss_latency_bounds[SS_LATENCY_BOUNDS_N] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                       0.005,   0.01,   0.025,   0.1,    1,     5};
const double ss_batch_bounds[SS_BATCH_BOUNDS_N] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

void ss_histogram_observe(ss_histogram *h, const double *bounds, size_t n_bounds, double v) {
    size_t i = 0;
    while (i < n_bounds && v > bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += v;
}
