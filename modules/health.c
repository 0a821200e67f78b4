/* modules/health.c — health checks and the status document for load
 * balancers and orchestrators: /health/live (the worker answers),
 * /health/ready (every listener bound and every worker serving, and not
 * draining), /health/startup (the host has been ready once) and /status
 * (the host's JSON report).  The path comes from the request's PATH field
 * (http1) or, behind codecs without paths, from the request body. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "modhost.h"

static int health_load(mh_module *m, const mh_host_api *api);
static int health_handle(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_handler_ops health_handler = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = health_handle,
};

MH_MODULE_DECLARE(.name = "health", .version = "1.0", .license = "MIT",
                  .description = "/health/live, /health/ready, /health/startup and /status",
                  .roles = MH_ROLE_HANDLER, .load = health_load, .handler = &health_handler);

#define HEALTH_TEXT "text/plain; charset=utf-8"
#define HEALTH_JSON "application/json"

/* The host table, the same for every instance. */
static const mh_host_api *host;

/* "The host has been ready once", shared by every worker and kept across
 * reloads (a shared zone of this module), so that /health/startup never
 * fails again after it succeeded. */
struct health_shared {
	volatile uint32_t started;
};

static struct health_shared health_local;

static int health_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	struct health_shared *s = host->shm_zone(m, "state", sizeof(*s));
	host->module_set_data(m, s ? s : &health_local);
	return 0;
}

/* Reply with code (and the matching status), a content type and text. */
static int health_reply(mh_msg *reply, int code, const char *type, const char *text)
{
	mh_buf *body = host->msg_body(reply);
	if (!body || host->buf_add(body, text, strlen(text)) < 0) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	host->msg_set_code(reply, code);
	if (code == 404)
		host->msg_set_status(reply, MH_STATUS_NOT_FOUND);
	else if (code == 503)
		host->msg_set_status(reply, MH_STATUS_UNAVAILABLE);
	host->msg_add_header(reply, "Content-Type", type, strlen(type));
	host->msg_add_header(reply, "Cache-Control", "no-store", 8);
	return MH_HANDLE_DONE;
}

static const char *health_state_name(int state)
{
	switch (state) {
	case MH_HOST_READY: return "ready";
	case MH_HOST_DRAINING: return "draining";
	case MH_HOST_STARTING: return "starting";
	default: return "unknown";
	}
}

/* The path asked for: the PATH field, else the body's first line. */
static size_t health_path(mh_msg *req, char *out, size_t cap)
{
	size_t len = 0;
	const char *p = host->msg_field(req, MH_FIELD_PATH, &len);
	if (p) {
		if (len >= cap)
			return 0;
		memcpy(out, p, len);
	} else {
		mh_buf *body = host->msg_body(req);
		len = body ? host->buf_peek(body, out, cap - 1) : 0;
		while (len > 0 &&
		       (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' '))
			len--;
	}
	out[len] = '\0';
	return len;
}

static int health_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	struct health_shared *shared = host->module_data(m);
	char path[256];
	health_path(req, path, sizeof(path));
	int state = host->host_state();
	char text[64];

	if (strcmp(path, "/health/live") == 0)
		return health_reply(reply, 200, HEALTH_TEXT, "live\n");
	if (strcmp(path, "/health/ready") == 0) {
		snprintf(text, sizeof(text), "%s\n", health_state_name(state));
		return health_reply(reply, state == MH_HOST_READY ? 200 : 503, HEALTH_TEXT, text);
	}
	if (strcmp(path, "/health/startup") == 0) {
		if (state == MH_HOST_READY)
			shared->started = 1;
		return shared->started ? health_reply(reply, 200, HEALTH_TEXT, "started\n")
		                       : health_reply(reply, 503, HEALTH_TEXT, "starting\n");
	}
	if (strcmp(path, "/status") == 0) {
		mh_buf *body = host->msg_body(reply);
		if (!body || host->status_render(body) < 0) {
			host->msg_set_status(reply, MH_STATUS_INTERNAL);
			return MH_HANDLE_ERROR;
		}
		host->msg_set_code(reply, 200);
		host->msg_add_header(reply, "Content-Type", HEALTH_JSON, strlen(HEALTH_JSON));
		host->msg_add_header(reply, "Cache-Control", "no-store", 8);
		return MH_HANDLE_DONE;
	}
	return health_reply(reply, 404, HEALTH_TEXT, "not found\n");
}
