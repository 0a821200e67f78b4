/* host/pipeline.c — a decoded request's way through the listener's chain:
 * observers, auth, policy, handler (DESIGN.md §3). */
#include "build-config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "pipeline.h"
#include "route.h"
#include "worker.h"

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void pipeline_observe(struct mh_conn *c, int type, struct mh_msg *msg, const char *detail,
                      uint64_t value)
{
	struct serve_listener *sl = c->sl;
	metrics_host_event(c, type, msg, detail, value); /* with or without observers */
	if (sl->n_observers == 0)
		return;
	if (type == MH_EVENT_MSG_OUT && msg && msg->request)
		value = now_us() - msg->request->started_us;
	mh_event ev = {
		.struct_size = sizeof(ev),
		.type = type,
		.conn = c,
		.msg = msg,
		.detail = detail,
		.value = value,
	};
	for (size_t i = 0; i < sl->n_observers; i++) {
		struct mh_module *m = sl->observers[i];
		shm_mark_running(m);
		m->desc->observer->event(m, &ev);
		shm_mark_running(NULL);
	}
}

/* Mark reply as an error with status (or the status a module already set). */
static void reply_error(struct mh_msg *req, int status)
{
	struct mh_msg *reply = req->reply;
	if (reply->status == MH_STATUS_OK)
		reply->status = status;
	reply->is_error = 1;
	req->state = MSG_DONE;
}

/* The auth chain: the first module that allows or denies decides; a chain
 * where every module declines denies (a configured chain never fails open). */
static int run_auth(const struct serve_route *r, struct mh_msg *req)
{
	int timed = req->started_us != 0; /* observers listen: time the hooks */
	for (size_t i = 0; i < r->n_auth; i++) {
		struct mh_module *m = r->auth[i];
		uint64_t t0 = timed ? now_us() : 0;
		shm_mark_running(m);
		int rc = m->desc->auth->check(m, req, req->reply);
		shm_mark_running(NULL);
		if (timed)
			metrics_host_hook(m, "auth", now_us() - t0);
		if (rc == MH_AUTH_ALLOW)
			return 0;
		if (rc == MH_AUTH_DENY) {
			reply_error(req, MH_STATUS_UNAUTHORIZED);
			return -1;
		}
	}
	if (r->n_auth > 0) {
		reply_error(req, MH_STATUS_UNAUTHORIZED);
		return -1;
	}
	return 0;
}

/* Whether value (len bytes) is one of the NULL-terminated items. */
static int one_of(char *const *items, const char *value, size_t len)
{
	for (size_t i = 0; items[i]; i++)
		if (strlen(items[i]) == len && memcmp(items[i], value, len) == 0)
			return 1;
	return 0;
}

static int route_matches(const struct route_settings *rs, const struct mh_msg *req)
{
	size_t len;
	const char *v;
	if (rs->n_methods) {
		v = msg_field_get(req, MH_FIELD_METHOD, &len);
		if (!v || !one_of(rs->methods, v, len))
			return 0;
	}
	if (rs->path_prefix) {
		v = msg_field_get(req, MH_FIELD_PATH, &len);
		size_t plen = strlen(rs->path_prefix);
		if (!v || len < plen || memcmp(v, rs->path_prefix, plen) != 0)
			return 0;
	}
	if (rs->n_commands) {
		v = msg_field_get(req, MH_FIELD_COMMAND, &len);
		if (!v || !one_of(rs->commands, v, len))
			return 0;
	}
	return 1;
}

/* What an unmatched request is told: its command when the codec names one
 * ("unknown command 'FLUSHDB'", RESP), else NULL (the status's own words:
 * "not found").  In the reply's arena; the codec cleans it for the wire. */
static const char *unmatched_text(struct mh_msg *req)
{
	size_t len;
	const char *cmd = msg_field_get(req, MH_FIELD_COMMAND, &len);
	if (!cmd)
		return NULL;
	if (len > 64)
		len = 64;
	char *text = arena_alloc_raw(&req->reply->arena, len + sizeof("unknown command ''"));
	if (text)
		snprintf(text, len + sizeof("unknown command ''"), "unknown command '%.*s'", (int)len,
		         cmd);
	return text;
}

/* The first route that matches, else the listener's own chain (which may
 * have no handler: then nothing matched). */
static const struct serve_route *pick_route(struct serve_listener *sl, struct mh_msg *req)
{
	for (size_t i = 0; i < sl->n_routes; i++) {
		if (route_matches(sl->routes[i].rs, req)) {
			const char *name = sl->routes[i].rs->name;
			msg_field_set(req, MH_FIELD_ROUTE, name, strlen(name));
			return &sl->routes[i];
		}
	}
	return &sl->chain;
}

void pipeline_run(struct mh_conn *c, struct mh_msg *req)
{
	struct serve_listener *sl = c->sl;
	req->started_us = sl->n_observers ? now_us() : 0;
	req->reply = msg_new(c);
	if (!req->reply) {
		log_error("listener '%s': out of memory for a reply", sl->ls->name);
		conn_abort(c, "out of memory");
		req->state = MSG_DONE;
		return;
	}
	req->reply->request = req;
	/* Decoding stops behind this request: the in-flight limit is reached. */
	if (c->n_inflight >= sl->ls->max_inflight && c->in && buf_length(c->in) > 0)
		metrics_host_limit(sl->ls->name, "max_inflight");
	const struct serve_route *r = sl->n_routes ? pick_route(sl, req) : &sl->chain;
	pipeline_observe(c, MH_EVENT_MSG_IN, req, NULL, 0);
	if (!r->handler) {
		reply_error(req, MH_STATUS_NOT_FOUND);
		req->reply->error_text = unmatched_text(req);
		return;
	}
	if (run_auth(r, req) < 0)
		return;
	if (r->policy) {
		uint64_t t0 = req->started_us ? now_us() : 0;
		shm_mark_running(r->policy);
		int rc = r->policy->desc->policy->check(r->policy, req, req->reply);
		shm_mark_running(NULL);
		if (t0)
			metrics_host_hook(r->policy, "policy", now_us() - t0);
		if (rc != MH_POLICY_PASS) {
			reply_error(req, MH_STATUS_TOO_MANY);
			return;
		}
	}

	struct mh_module *h = r->handler;
	req->handler = h;
	uint64_t t0 = req->started_us ? now_us() : 0;
	shm_mark_running(h);
	int rc = h->desc->handler->handle(h, req, req->reply);
	shm_mark_running(NULL);
	if (t0)
		metrics_host_hook(h, "handle", now_us() - t0);
	switch (rc) {
	case MH_HANDLE_DONE:
		req->state = MSG_DONE;
		break;
	case MH_HANDLE_CLOSE:
		/* Requests pipelined behind this one are not read: the
		 * connection ends with this reply, and the codec is told. */
		req->reply->close_after = 1;
		msg_field_set(req->reply, MH_FIELD_CLOSING, "close", 5);
		req->state = MSG_DONE;
		c->flags |= CONN_CLOSING;
		break;
	case MH_HANDLE_ASYNC:
		req->state = MSG_ASYNC;
		break;
	default:
		reply_error(req, MH_STATUS_INTERNAL);
		break;
	}
}

void pipeline_complete(struct mh_msg *reply)
{
	struct mh_msg *req = reply->request;
	if (!req || req->state != MSG_ASYNC) {
		log_error("msg_complete called on a reply that is not pending; ignored");
		return;
	}
	req->state = MSG_DONE;
	conn_flush_replies(req->conn);
}
