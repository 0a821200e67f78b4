/* host/metrics.h — metrics in shared memory: families and series registered
 * under a process-shared lock, values in per-worker rows written with plain
 * stores, summed across rows when rendered as Prometheus text 0.0.4
 * (metrics.c); the host's own metrics on top of them (hostmetrics.c).
 * See doc/internals/metrics.md. */
#ifndef MH_METRICS_H
#define MH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "modhost.h"

struct mh_buf;
struct mh_conn;
struct listener_cells;
struct mh_msg;

/* Capacities of the area, fixed when the master maps it. */
#define METRICS_MAX_FAMILIES 256
#define METRICS_MAX_SERIES   4096
#define METRICS_MAX_LABELS   8
#define METRICS_MAX_BUCKETS  32
#define METRICS_NAME_MAX     128
#define METRICS_HELP_MAX     256
#define METRICS_VALUE_MAX    128          /* bytes of one label value kept; longer ones are cut */
#define METRICS_CELLS        8192         /* value cells per row (a histogram takes buckets + 2) */
#define METRICS_POOL         (256 * 1024) /* bytes for label values */

/* Map the area and register the host's own families.  Call once in the
 * master, before any fork.  Returns 0, or -1 with err. */
int metrics_init(char *err, size_t errlen);

/* The host table's metric calls (api/modhost.h).  metrics_register returns
 * the family (the same one when a family of that name, type and labels
 * exists: a reload's load hook gets its family back), or NULL after logging
 * why.  Updates on a NULL family, or of the wrong kind, do nothing. */
mh_metric *metrics_register(mh_module *m, int type, const char *name, const char *help,
                            const char *label_names, const double *buckets, size_t n_buckets);
void metrics_add(mh_metric *metric, const char *const *label_values, double value);
void metrics_set(mh_metric *metric, const char *const *label_values, double value);
void metrics_observe(mh_metric *metric, const char *const *label_values, double value);
/* Append the Prometheus text exposition of every family to out.  Returns 0,
 * or -1 when out of memory. */
int metrics_render(struct mh_buf *out);
/* In the master, after worker `slot` exited: its gauges drop to zero (its
 * counters stay: they are part of the host's totals). */
void metrics_slot_exited(int slot);

/* ---- the host's own metrics (hostmetrics.c) ------------------------------- */

/* The host's per-listener counters of listener, for the worker to keep on
 * its serve_listener (freed with metrics_listener_cells_free), or NULL. */
struct listener_cells *metrics_listener_cells(const char *listener);
void metrics_listener_cells_free(struct listener_cells *lc);
/* From pipeline_observe, for every event of every connection, whether or
 * not observer modules are configured. */
void metrics_host_event(struct mh_conn *c, int type, struct mh_msg *msg, const char *detail,
                        uint64_t value);
/* A limit was hit outside a connection's events (max_connections,
 * max_inflight). */
void metrics_host_limit(const char *listener, const char *limit);
/* The host table's listener_stats: listener's totals (NULL: every
 * listener's) into st, as far as st->struct_size allows.  Returns 0, or
 * -1 when no listener of that name has served. */
int metrics_listener_stats(const char *listener, mh_listener_stats *st);
/* In the master: a worker is being restarted after dying. */
void metrics_host_worker_restart(void);
/* us more microseconds of a worker polling (busy_poll), not sleeping. */
void metrics_host_polled(uint64_t us);
/* In the master: a reload finished (ok) or failed with err (a module that
 * could not load also counts as a module load failure). */
void metrics_host_reload(int ok, const char *err);
/* How long one call of a module hook took ("handle", "auth", "policy"). */
void metrics_host_hook(const struct mh_module *m, const char *hook, uint64_t us);

struct mh_conn;
/* Count n replies encoded on c, and c's wire bytes since the last count
 * (written plus queued), on its listener; called once per batch of replies
 * encoded, so that a busy connection touches the shared counters once per
 * read instead of once per message. */
void metrics_host_replies(struct mh_conn *c, uint32_t n);

#endif
