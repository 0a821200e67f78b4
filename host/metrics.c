/* host/metrics.c — metrics.  Not yet built: registration fails, updates are
 * ignored, rendering yields nothing. */
#include "build-config.h"

#include <event2/buffer.h>

#include "metrics.h"

mh_metric *metrics_register(mh_module *m, int type, const char *name, const char *help,
                            const char *label_names, const double *buckets, size_t n_buckets)
{
	(void)m, (void)type, (void)name, (void)help, (void)label_names, (void)buckets,
	    (void)n_buckets;
	return NULL;
}

void metrics_add(mh_metric *metric, const char *const *label_values, double value)
{
	(void)metric, (void)label_values, (void)value;
}

void metrics_set(mh_metric *metric, const char *const *label_values, double value)
{
	(void)metric, (void)label_values, (void)value;
}

void metrics_observe(mh_metric *metric, const char *const *label_values, double value)
{
	(void)metric, (void)label_values, (void)value;
}

int metrics_render(struct evbuffer *out)
{
	(void)out;
	return 0;
}
