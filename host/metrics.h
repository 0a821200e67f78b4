/* host/metrics.h — metrics in the shared-memory zone: families registered
 * in the master, per-worker value slots, summed when rendered. */
#ifndef MH_METRICS_H
#define MH_METRICS_H

#include <stddef.h>

#include "modhost.h"

mh_metric *metrics_register(mh_module *m, int type, const char *name, const char *help,
                            const char *label_names, const double *buckets, size_t n_buckets);
void metrics_add(mh_metric *metric, const char *const *label_values, double value);
void metrics_set(mh_metric *metric, const char *const *label_values, double value);
void metrics_observe(mh_metric *metric, const char *const *label_values, double value);
/* Append the Prometheus text exposition of every family to out. */
int metrics_render(struct evbuffer *out);

#endif
