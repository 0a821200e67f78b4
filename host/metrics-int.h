/* host/metrics-int.h — what the metric store (metrics.c) and the host's own
 * metrics (hostmetrics.c) share, and no other file includes: the family
 * layout, the value rows, and the cell writes, inline so that the message
 * path makes no call it did not make before the split. */
#ifndef MH_METRICS_INT_H
#define MH_METRICS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "shm.h"

#define METRICS_LABEL_NAME_MAX 64
#define METRICS_ROWS           (SHM_MAX_SLOTS + 1)
#define METRICS_MASTER_ROW     SHM_MAX_SLOTS /* the master, and workers = 0 */
#define METRICS_NONE           UINT32_MAX

/* A family: what metric_register returns (the ABI's opaque mh_metric). */
struct mh_metric {
	uint32_t type; /* enum mh_metric_type */
	uint32_t n_labels;
	uint32_t n_buckets;   /* finite upper bounds; +Inf is implied */
	uint32_t n_cells;     /* per series: 1, or n_buckets + 2 (+Inf bucket, sum) */
	uint32_t first, last; /* series indices + 1, in creation order; 0 = none */
	char name[METRICS_NAME_MAX];
	char help[METRICS_HELP_MAX];
	char labels[METRICS_MAX_LABELS][METRICS_LABEL_NAME_MAX];
	double buckets[METRICS_MAX_BUCKETS];
};

/* METRICS_ROWS x METRICS_CELLS value cells (metrics.c); NULL until the area
 * is mapped, and set together with it. */
extern double *metrics_rows __attribute__((visibility("hidden")));

/* Whether the area is mapped: until then the host's metrics do nothing. */
static inline int metrics_mapped(void)
{
	return metrics_rows != NULL;
}

/* The calling process's row: its worker slot's, or the master's row.
 * Cached per slot: a forked worker's slot is set once, after fork.  (Each
 * file including this keeps its own cache; both follow shm_self().) */
static inline double *metrics_row(void)
{
	static const struct shm_slot *cached_for = (const struct shm_slot *)1;
	static double *cached;
	struct shm_slot *self = shm_self();
	if (self != cached_for) {
		struct shm_zone *zone = shm_get();
		size_t r = (self && zone) ? (size_t)(self - zone->slots) : METRICS_MASTER_ROW;
		cached = metrics_rows + r * METRICS_CELLS;
		cached_for = self;
	}
	return cached;
}

static inline double cell_load(const double *p)
{
	double v;
	__atomic_load(p, &v, __ATOMIC_RELAXED);
	return v;
}

static inline void cell_store(double *p, double v)
{
	__atomic_store(p, &v, __ATOMIC_RELAXED);
}

/* One writer per row, so a load and a store make an add. */
static inline void cell_add(uint32_t cell, double v)
{
	if (cell == METRICS_NONE)
		return;
	double *p = metrics_row() + cell;
	cell_store(p, cell_load(p) + v);
}

/* ---- metrics.c, for hostmetrics.c ------------------------------------------ */

/* Register a family for who (a module name, or NULL for the host); the
 * checks and result of metrics_register, without mapping the area. */
mh_metric *metrics_register_family(const char *who, int type, const char *name, const char *help,
                                   const char *label_names, const double *buckets,
                                   size_t n_buckets);
/* The first cell of the series of f with these label values, made on first
 * use; METRICS_NONE when it cannot be made (counted as dropped). */
uint32_t metrics_series_cell(struct mh_metric *f, const char *const *label_values);

/* The total over every row of the series of f (a counter or gauge) whose
 * label values match match (n_labels entries, NULL = any value; match NULL
 * = every series).  Returns -1 when none matched, else 0 with *total. */
int metrics_family_total(const struct mh_metric *f, const char *const *match, double *total);

/* ---- hostmetrics.c, for metrics.c ------------------------------------------ */

/* Register the host's own families, once, right after the area is mapped.
 * Returns 0, or -1 when one was refused (logged). */
int metrics_host_register(void);
/* In metrics_init (the master): modhost_start_time_seconds is now. */
void metrics_host_started(void);

#endif
