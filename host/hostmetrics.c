/* host/hostmetrics.c — the host's own metrics, on the store of metrics.c:
 * its families (connections, bytes, messages, errors, limits, TLS
 * handshakes, worker restarts, reloads, module load failures, hook
 * latency, busy polling, start time, build info), the per-listener cells each worker
 * resolves once, and the metrics_host_* calls of the connection, pipeline
 * and master code.  The message path (metrics_host_event,
 * metrics_host_replies) writes cells with the inline cell_add of
 * metrics-int.h: no lookup, no lock.  See doc/internals/metrics.md. */
#include "build-config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "config.h"
#include "loader.h"
#include "metrics-int.h"
#include "metrics.h"
#include "msg.h"
#include "worker.h"

/* The host's own families. */
static struct {
	mh_metric *accepted, *closed, *active, *bytes_in, *bytes_out, *msgs_in, *msgs_out;
	mh_metric *errors, *limits, *tls, *restarts, *reloads, *load_failures, *hooks;
	mh_metric *busy_poll, *start_time, *build_info;
} host;

static const double metrics_hook_buckets[] = {0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005,
                                              0.01,    0.05,    0.1,    0.5,    1};

static mh_metric *host_family(int type, const char *name, const char *help, const char *labels,
                              const double *buckets, size_t n)
{
	return metrics_register_family(NULL, type, name, help, labels, buckets, n);
}

int metrics_host_register(void)
{
	host.start_time =
	    host_family(MH_METRIC_GAUGE, "modhost_start_time_seconds",
	                "When the master started, in seconds since the epoch.", NULL, NULL, 0);
	host.build_info =
	    host_family(MH_METRIC_GAUGE, "modhost_build_info",
	                "Always 1: the product and ABI versions.", "version, abi", NULL, 0);
	host.accepted = host_family(MH_METRIC_COUNTER, "modhost_connections_accepted_total",
	                            "Connections accepted.", "listener", NULL, 0);
	host.closed = host_family(MH_METRIC_COUNTER, "modhost_connections_closed_total",
	                          "Connections closed.", "listener", NULL, 0);
	host.active = host_family(MH_METRIC_GAUGE, "modhost_connections_active",
	                          "Connections open now.", "listener", NULL, 0);
	host.bytes_in =
	    host_family(MH_METRIC_COUNTER, "modhost_bytes_in_total",
	                "Bytes read from connections (after TLS).", "listener", NULL, 0);
	host.bytes_out =
	    host_family(MH_METRIC_COUNTER, "modhost_bytes_out_total",
	                "Bytes written or queued to connections.", "listener", NULL, 0);
	host.msgs_in = host_family(MH_METRIC_COUNTER, "modhost_messages_in_total",
	                           "Requests decoded.", "listener", NULL, 0);
	host.msgs_out = host_family(MH_METRIC_COUNTER, "modhost_messages_out_total",
	                            "Replies encoded.", "listener", NULL, 0);
	host.errors =
	    host_family(MH_METRIC_COUNTER, "modhost_errors_total",
	                "Protocol errors and error replies, by kind.", "listener, kind", NULL, 0);
	host.limits = host_family(MH_METRIC_COUNTER, "modhost_limit_hits_total",
	                          "Limits reached: sizes, timeouts, connections, in-flight.",
	                          "listener, limit", NULL, 0);
	host.tls =
	    host_family(MH_METRIC_COUNTER, "modhost_tls_handshakes_total",
	                "TLS handshakes, by result (ok, failed).", "listener, result", NULL, 0);
	host.restarts = host_family(MH_METRIC_COUNTER, "modhost_worker_restarts_total",
	                            "Workers restarted after dying.", NULL, NULL, 0);
	host.reloads = host_family(MH_METRIC_COUNTER, "modhost_reloads_total",
	                           "Reloads, by result (ok, failed).", "result", NULL, 0);
	host.load_failures =
	    host_family(MH_METRIC_COUNTER, "modhost_module_load_failures_total",
	                "Modules refused or failing to load on reload.", "module", NULL, 0);
	host.hooks = host_family(MH_METRIC_HISTOGRAM, "modhost_module_hook_duration_seconds",
	                         "Time spent in module hooks (handle, auth, policy).",
	                         "module, hook", metrics_hook_buckets,
	                         sizeof(metrics_hook_buckets) / sizeof(metrics_hook_buckets[0]));
	host.busy_poll = host_family(MH_METRIC_COUNTER, "modhost_busy_poll_seconds_total",
	                             "Time workers spent polling their sockets instead of sleeping "
	                             "(busy_poll), summed over workers.",
	                             NULL, NULL, 0);
	if (!host.start_time || !host.build_info || !host.accepted || !host.closed ||
	    !host.active || !host.bytes_in || !host.bytes_out || !host.msgs_in || !host.msgs_out ||
	    !host.errors || !host.limits || !host.tls || !host.restarts || !host.reloads ||
	    !host.load_failures || !host.hooks || !host.busy_poll)
		return -1;
	char abi[16];
	snprintf(abi, sizeof(abi), "%d.%d", MH_ABI_MAJOR, MH_ABI_MINOR);
	metrics_set(host.build_info, (const char *const[]){PACKAGE_VERSION, abi}, 1);
	metrics_series_cell(host.reloads, (const char *const[]){"ok"});
	metrics_series_cell(host.reloads, (const char *const[]){"failed"});
	return 0;
}

void metrics_host_started(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	metrics_set(host.start_time, NULL, (double)ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Per process: the cells of each listener's hot series, by listener index
 * in the generation, checked against the listener's name. */
struct listener_cells {
	char name[METRICS_VALUE_MAX];
	uint32_t accepted, closed, active, bytes_in, bytes_out, msgs_in, msgs_out;
};

static void listener_cells_fill(struct listener_cells *lc, const char *name)
{
	const char *const lv[] = {name};
	lc->accepted = metrics_series_cell(host.accepted, lv);
	lc->closed = metrics_series_cell(host.closed, lv);
	lc->active = metrics_series_cell(host.active, lv);
	lc->bytes_in = metrics_series_cell(host.bytes_in, lv);
	lc->bytes_out = metrics_series_cell(host.bytes_out, lv);
	lc->msgs_in = metrics_series_cell(host.msgs_in, lv);
	lc->msgs_out = metrics_series_cell(host.msgs_out, lv);
	snprintf(lc->name, sizeof(lc->name), "%s", name);
}

struct listener_cells *metrics_listener_cells(const char *listener)
{
	struct listener_cells *lc = calloc(1, sizeof(*lc));
	if (!lc)
		return NULL;
	snprintf(lc->name, sizeof(lc->name), "%s", listener);
	if (metrics_mapped())
		listener_cells_fill(lc, listener);
	return lc;
}

void metrics_listener_cells_free(struct listener_cells *lc)
{
	free(lc);
}

/* The cells of c's listener, resolved once when the worker set the
 * listener up: no lookup on the message path. */
static struct listener_cells *listener_cells_of(const struct mh_conn *c)
{
	static struct listener_cells none = {
		"", METRICS_NONE, METRICS_NONE, METRICS_NONE, METRICS_NONE,
		METRICS_NONE, METRICS_NONE, METRICS_NONE,
	};
	return c->sl->cells ? c->sl->cells : &none;
}

/* Add c's bytes since the last event.  Out counts what was written plus
 * what is queued, so that a reply is counted as soon as it is encoded. */
static void count_bytes(const struct listener_cells *lc, struct mh_conn *c)
{
	uint64_t out = c->bytes_out + (c->out ? buf_length(c->out) : 0);
	if (c->bytes_in > c->counted_in) {
		cell_add(lc->bytes_in, (double)(c->bytes_in - c->counted_in));
		c->counted_in = c->bytes_in;
	}
	if (out > c->counted_out) {
		cell_add(lc->bytes_out, (double)(out - c->counted_out));
		c->counted_out = out;
	}
}

void metrics_host_replies(struct mh_conn *c, uint32_t n)
{
	if (!metrics_mapped())
		return;
	struct listener_cells *lc = listener_cells_of(c);
	cell_add(lc->msgs_out, n);
	count_bytes(lc, c);
}

static const char *status_kind(int status)
{
	switch (status) {
	case MH_STATUS_BAD_REQUEST: return "bad_request";
	case MH_STATUS_UNAUTHORIZED: return "unauthorized";
	case MH_STATUS_FORBIDDEN: return "forbidden";
	case MH_STATUS_NOT_FOUND: return "not_found";
	case MH_STATUS_TOO_LARGE: return "too_large";
	case MH_STATUS_TOO_MANY: return "too_many";
	case MH_STATUS_UNAVAILABLE: return "unavailable";
	case MH_STATUS_TIMEOUT: return "timeout";
	default: return "internal";
	}
}

void metrics_host_event(struct mh_conn *c, int type, struct mh_msg *msg, const char *detail,
                        uint64_t value)
{
	if (!metrics_mapped())
		return;
	struct listener_cells *lc = listener_cells_of(c);
	const char *name = c->sl->ls->name;
	switch (type) {
	case MH_EVENT_CONN_OPEN:
		cell_add(lc->accepted, 1);
		cell_add(lc->active, 1);
		break;
	case MH_EVENT_CONN_CLOSE:
		cell_add(lc->closed, 1);
		cell_add(lc->active, -1);
		count_bytes(lc, c);
		break;
	case MH_EVENT_MSG_IN:
		/* Counted at once, so that a request that crashes its worker
		 * is still in the total; bytes wait for the replies. */
		cell_add(lc->msgs_in, 1);
		break;
	case MH_EVENT_MSG_OUT:
		/* Replies and bytes: metrics_host_replies, per batch. */
		if (msg && (msg->is_error || msg->status != MH_STATUS_OK))
			metrics_add(host.errors,
			            (const char *const[]){name, status_kind(msg->status)}, 1);
		break;
	case MH_EVENT_LIMIT:
		metrics_add(host.limits, (const char *const[]){name, detail ? detail : "other"}, 1);
		break;
	case MH_EVENT_ERROR:
		metrics_add(host.errors, (const char *const[]){name, "protocol"}, 1);
		break;
	case MH_EVENT_TLS_HANDSHAKE:
		metrics_add(host.tls, (const char *const[]){name, value ? "ok" : "failed"}, 1);
		count_bytes(lc, c);
		break;
	default: break;
	}
}

void metrics_host_limit(const char *listener, const char *limit)
{
	if (metrics_mapped())
		metrics_add(host.limits, (const char *const[]){listener, limit}, 1);
}

/* Where each member of mh_listener_stats comes from: a family of the
 * host's, and for the two-label ones the second label's value (NULL: all). */
static const struct stats_member {
	size_t offset;
	mh_metric **family;
	const char *kind;
} stats_members[] = {
    {offsetof(mh_listener_stats, connections_accepted), &host.accepted, NULL},
    {offsetof(mh_listener_stats, connections_active), &host.active, NULL},
    {offsetof(mh_listener_stats, connections_closed), &host.closed, NULL},
    {offsetof(mh_listener_stats, connections_rejected), &host.limits, "max_connections"},
    {offsetof(mh_listener_stats, messages_in), &host.msgs_in, NULL},
    {offsetof(mh_listener_stats, messages_out), &host.msgs_out, NULL},
    {offsetof(mh_listener_stats, bytes_in), &host.bytes_in, NULL},
    {offsetof(mh_listener_stats, bytes_out), &host.bytes_out, NULL},
    {offsetof(mh_listener_stats, errors), &host.errors, NULL},
};

int metrics_listener_stats(const char *listener, mh_listener_stats *st)
{
	double v;
	/* Every listener that served has its accepted series: the worker
	 * makes it as it sets the listener up. */
	if (!st || !metrics_mapped() ||
	    (listener &&
	     metrics_family_total(host.accepted, (const char *const[]){listener}, &v) < 0))
		return -1;
	for (size_t i = 0; i < sizeof(stats_members) / sizeof(stats_members[0]); i++) {
		const struct stats_member *m = &stats_members[i];
		if (st->struct_size < m->offset + sizeof(uint64_t))
			continue; /* the caller's struct ends before it */
		const char *const match[] = {listener, m->kind};
		uint64_t n = 0;
		if (metrics_family_total(*m->family, match, &v) == 0 && v > 0)
			n = (uint64_t)v;
		memcpy((char *)st + m->offset, &n, sizeof(n));
	}
	return 0;
}

void metrics_host_worker_restart(void)
{
	if (metrics_mapped())
		metrics_add(host.restarts, NULL, 1);
}

void metrics_host_polled(uint64_t us)
{
	if (metrics_mapped())
		metrics_add(host.busy_poll, NULL, (double)us / 1e6);
}

void metrics_host_reload(int ok, const char *err)
{
	if (!metrics_mapped())
		return;
	metrics_add(host.reloads, (const char *const[]){ok ? "ok" : "failed"}, 1);
	/* The loader's refusals read "[FILE:LINE: ]module 'NAME' (PATH): why". */
	char name[METRICS_VALUE_MAX];
	const char *p = ok || !err ? NULL : strstr(err, "module '");
	if (!p || (p != err && (p < err + 2 || p[-2] != ':' || p[-1] != ' ')))
		return;
	p += 8;
	const char *end = strstr(p, "' (");
	size_t len = end ? (size_t)(end - p) : 0;
	if (!len || len >= sizeof(name) || memchr(p, '\'', len))
		return;
	memcpy(name, p, len);
	name[len] = '\0';
	metrics_add(host.load_failures, (const char *const[]){name}, 1);
}

/* Per process: hook series by module instance and hook, checked against
 * the instance's name (instances are freed and remade on reload). */
struct hook_cells {
	const struct mh_module *m;
	const char *hook;
	char name[METRICS_VALUE_MAX];
	uint32_t cell;
};

static struct hook_cells hook_cache[64];

void metrics_host_hook(const struct mh_module *m, const char *hook, uint64_t us)
{
	if (!metrics_mapped() || !host.hooks)
		return;
	size_t h = (((uintptr_t)m >> 4) ^ ((uintptr_t)hook >> 2)) & 63;
	struct hook_cells *hc = &hook_cache[h];
	if (hc->m != m || hc->hook != hook || strcmp(hc->name, m->name) != 0) {
		hc->m = m;
		hc->hook = hook;
		snprintf(hc->name, sizeof(hc->name), "%s", m->name);
		hc->cell = metrics_series_cell(host.hooks, (const char *const[]){m->name, hook});
	}
	if (hc->cell == METRICS_NONE)
		return;
	double v = (double)us / 1e6;
	const struct mh_metric *f = host.hooks;
	uint32_t b = 0;
	while (b < f->n_buckets && v > f->buckets[b])
		b++;
	cell_add(hc->cell + b, 1);
	cell_add(hc->cell + f->n_buckets + 1, v);
}
