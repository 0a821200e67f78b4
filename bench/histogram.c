/* bench/histogram.c — the log-bucketed histogram of histogram.h.
 *
 * Layout of the counts array: slots 0..127 count the values 0..127 exactly.
 * Then, for every k from 7 to 63, 64 slots split [2^k, 2^(k+1)) into
 * sub-buckets 2^(k-6) wide, so a slot's width is at most 1/64 of the values
 * it holds.  3,776 slots of 8 bytes: about 30 KiB per histogram. */
#include "histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HISTOGRAM_SUB_BITS  6
#define HISTOGRAM_SUB       (1u << HISTOGRAM_SUB_BITS) /* 64 */
#define HISTOGRAM_EXACT     (2u * HISTOGRAM_SUB)       /* 128 */
#define HISTOGRAM_FIRST_LOG (HISTOGRAM_SUB_BITS + 1)   /* 7 */
#define HISTOGRAM_SLOTS     (HISTOGRAM_EXACT + (64 - HISTOGRAM_FIRST_LOG) * HISTOGRAM_SUB)

struct histogram {
	uint64_t count;
	uint64_t min, max;
	double sum;
	uint64_t slots[HISTOGRAM_SLOTS];
};

struct histogram *histogram_new(void)
{
	struct histogram *h = malloc(sizeof(*h));
	if (h)
		histogram_reset(h);
	return h;
}

void histogram_free(struct histogram *h)
{
	free(h);
}

void histogram_reset(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
}

/* The slot that counts value v. */
static unsigned histogram_slot(uint64_t v)
{
	if (v < HISTOGRAM_EXACT)
		return (unsigned)v;
	unsigned k = 63u - (unsigned)__builtin_clzll(v); /* floor(log2 v), >= 7 */
	unsigned shift = k - HISTOGRAM_SUB_BITS;
	unsigned sub = (unsigned)(v >> shift) - HISTOGRAM_SUB; /* 0..63 */
	return HISTOGRAM_EXACT + (k - HISTOGRAM_FIRST_LOG) * HISTOGRAM_SUB + sub;
}

/* The largest value that slot i stands for. */
static uint64_t histogram_slot_high(unsigned i)
{
	if (i < HISTOGRAM_EXACT)
		return i;
	unsigned group = (i - HISTOGRAM_EXACT) / HISTOGRAM_SUB;
	unsigned sub = (i - HISTOGRAM_EXACT) % HISTOGRAM_SUB;
	unsigned shift = group + HISTOGRAM_FIRST_LOG - HISTOGRAM_SUB_BITS;
	uint64_t low = (uint64_t)(HISTOGRAM_SUB + sub) << shift;
	return low + ((uint64_t)1 << shift) - 1;
}

void histogram_record(struct histogram *h, uint64_t value)
{
	h->slots[histogram_slot(value)]++;
	if (h->count == 0 || value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
	h->count++;
	h->sum += (double)value;
}

void histogram_merge(struct histogram *dst, const struct histogram *src)
{
	if (src->count == 0)
		return;
	for (unsigned i = 0; i < HISTOGRAM_SLOTS; i++)
		dst->slots[i] += src->slots[i];
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
}

uint64_t histogram_count(const struct histogram *h)
{
	return h->count;
}

uint64_t histogram_min(const struct histogram *h)
{
	return h->min;
}

uint64_t histogram_max(const struct histogram *h)
{
	return h->max;
}

double histogram_mean(const struct histogram *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}

uint64_t histogram_percentile(const struct histogram *h, double pct)
{
	if (h->count == 0)
		return 0;
	if (pct <= 0.0)
		return h->min;
	if (pct >= 100.0)
		return h->max;
	uint64_t rank = (uint64_t)ceil(pct / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HISTOGRAM_SLOTS; i++) {
		seen += h->slots[i];
		if (seen >= rank) {
			uint64_t v = histogram_slot_high(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}
