/* bench/histogram.h — a log-bucketed value histogram in the manner of
 * HdrHistogram: fixed memory, O(1) recording, and every recorded value kept
 * to within 1/64 (about two significant digits) of what was recorded.
 *
 * Values are unsigned 64-bit integers in whatever unit the caller chooses
 * (mh-bench records nanoseconds).  Values below 128 are kept exactly; above,
 * each power-of-two range [2^k, 2^(k+1)) is split into 64 equal sub-buckets. */
#ifndef MH_BENCH_HISTOGRAM_H
#define MH_BENCH_HISTOGRAM_H

#include <stdint.h>

struct histogram;

/* A new, empty histogram, or NULL when out of memory; free it with
 * histogram_free(). */
struct histogram *histogram_new(void);
void histogram_free(struct histogram *h);

/* Forget every recorded value. */
void histogram_reset(struct histogram *h);

/* Record one value. */
void histogram_record(struct histogram *h, uint64_t value);

/* Add every value recorded in src to dst; src is unchanged. */
void histogram_merge(struct histogram *dst, const struct histogram *src);

uint64_t histogram_count(const struct histogram *h);
/* The exact smallest and largest values recorded (0 when empty). */
uint64_t histogram_min(const struct histogram *h);
uint64_t histogram_max(const struct histogram *h);
/* The exact arithmetic mean of the recorded values (0 when empty). */
double histogram_mean(const struct histogram *h);

/* The value at percentile pct (0..100): the largest value that the bucket
 * holding the ceil(pct% of count)-th smallest recording stands for, never
 * more than the exact maximum.  0 when empty.  So p100 is the exact max and
 * any other percentile is at most 1/64 above the true one. */
uint64_t histogram_percentile(const struct histogram *h, double pct);

#endif
