/* modules/prometheus.c — the Prometheus exporter.  As a handler it answers
 * any request (on the admin listener: GET /metrics) with the whole host's
 * metrics in the text exposition format 0.0.4; as an observer it records
 * each route's request latency and replies by status code. */
#include <stdlib.h>
#include <string.h>

#include "modhost.h"

static int prometheus_load(mh_module *m, const mh_host_api *api);
static void prometheus_unload(mh_module *m);
static int prometheus_handle(mh_module *m, mh_msg *req, mh_msg *reply);
static void prometheus_event(mh_module *m, const mh_event *ev);

static const mh_config_key prometheus_keys[] = {
    {"buckets", MH_CONFIG_LIST,
     "0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10",
     "upper bounds of the request latency histogram, in seconds, ascending"},
    {"record_requests", MH_CONFIG_BOOL, "yes", "record per-route latency and status codes"},
    {NULL, 0, NULL, NULL},
};

static const mh_handler_ops prometheus_handler = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = prometheus_handle,
};

static const mh_observer_ops prometheus_observer = {
    .struct_size = sizeof(mh_observer_ops),
    .event = prometheus_event,
};

MH_MODULE_DECLARE(.name = "prometheus", .version = "1.0", .license = "MIT",
                  .description = "serves the host's metrics in Prometheus text format; "
                                 "records per-route request latency",
                  .roles = MH_ROLE_HANDLER | MH_ROLE_OBSERVER, .config_keys = prometheus_keys,
                  .load = prometheus_load, .unload = prometheus_unload,
                  .handler = &prometheus_handler, .observer = &prometheus_observer);

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROMETHEUS_MAX_BUCKETS  32

/* The host table, the same for every instance. */
static const mh_host_api *host;

struct prometheus {
	mh_metric *duration; /* histogram {listener, route} */
	mh_metric *requests; /* counter {listener, route, code} */
};

static int prometheus_load(mh_module *m, const mh_host_api *api)
{
	double buckets[PROMETHEUS_MAX_BUCKETS];
	size_t n = 0, count;
	host = api;
	const char *const *list = host->config_list(m, "buckets", &count);
	for (size_t i = 0; i < count; i++) {
		char *end;
		double v = strtod(list[i], &end);
		if (end == list[i] || *end || n == PROMETHEUS_MAX_BUCKETS ||
		    (n > 0 && v <= buckets[n - 1])) {
			host->log(
			    m, MH_LOG_ERROR,
			    "buckets: '%s' is not a number above the previous one (at most %d)",
			    list[i], PROMETHEUS_MAX_BUCKETS);
			return -1;
		}
		buckets[n++] = v;
	}
	struct prometheus *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	if (host->config_bool(m, "record_requests")) {
		p->duration = host->metric_register(
		    m, MH_METRIC_HISTOGRAM, "modhost_request_duration_seconds",
		    "Time from a request's decoding to its reply being queued, by route.",
		    "listener, route", buckets, n);
		p->requests = host->metric_register(m, MH_METRIC_COUNTER, "modhost_requests_total",
		                                    "Replies by route and status code.",
		                                    "listener, route, code", NULL, 0);
		if (!p->duration || !p->requests) {
			free(p);
			return -1; /* the host logged why */
		}
	}
	host->module_set_data(m, p);
	return 0;
}

static void prometheus_unload(mh_module *m)
{
	free(host->module_data(m));
}

/* Render every family into the reply.  Works behind any codec; over http1
 * the reply carries the exposition format's content type. */
static int prometheus_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	mh_buf *body = host->msg_body(reply);
	if (!body || host->metrics_render(body) < 0) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	host->msg_add_header(reply, "Content-Type", PROMETHEUS_CONTENT_TYPE,
	                     sizeof(PROMETHEUS_CONTENT_TYPE) - 1);
	return MH_HANDLE_DONE;
}

/* The reply's code as HTTP would say it: the codec's own code when set,
 * else the protocol-neutral status mapped. */
static int prometheus_code(const mh_msg *reply)
{
	int code = host->msg_code(reply);
	return code > 0 ? code : mh_status_http_code(host->msg_status(reply));
}

/* Each reply: its latency into the route's histogram, its code counted. */
static void prometheus_event(mh_module *m, const mh_event *ev)
{
	struct prometheus *p = host->module_data(m);
	if (ev->type != MH_EVENT_MSG_OUT || !ev->msg || !ev->conn || !p || !p->duration)
		return;
	/* Labels are C strings: the route field is copied out (it is not
	 * terminated), the code written by hand (this runs for every reply). */
	char route[128], code[16];
	size_t len = 0, i = sizeof(code) - 1;
	mh_msg *req = host->msg_request(ev->msg);
	const char *r = req ? host->msg_field(req, MH_FIELD_ROUTE, &len) : NULL;
	if (!r || len >= sizeof(route))
		len = r ? sizeof(route) - 1 : 0;
	if (len)
		memcpy(route, r, len);
	route[len] = '\0';
	unsigned v = (unsigned)prometheus_code(ev->msg);
	code[i] = '\0';
	do {
		code[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	const char *listener = host->conn_listener(ev->conn);
	host->metric_observe(p->duration, (const char *const[]){listener, route},
	                     (double)ev->value / 1e6);
	host->metric_add(p->requests, (const char *const[]){listener, route, code + i}, 1);
}
