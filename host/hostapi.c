/* host/hostapi.c — the host function table: the only door from a module
 * into the host.  Each entry is a thin wrapper over the host's own layers;
 * buffers are the host's own (host/buf.h) behind the opaque mh_buf. */
#include "build-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "hostapi.h"
#include "loader.h"
#include "log.h"
#include "modconf.h"
#include "msg.h"
#include "metrics.h"
#include "offload.h"
#include "outbound.h"
#include "pipeline.h"
#include "shm.h"
#include "status.h"
#include "tls.h"
#include "worker.h"


/* ---- logging and instances ------------------------------------------- */

static void api_log(mh_module *m, int level, const char *fmt, ...) MH_PRINTF(3, 4);
static void api_log(mh_module *m, int level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	if (m && m->loading_file && level <= MH_LOG_WARN) {
		/* A complaint from a load hook is about the module's settings:
		 * point at its section, as every configuration error does. */
		char text[1024];
		vsnprintf(text, sizeof(text), fmt, ap);
		log_write(level, m->name, "%s:%d: %s", m->loading_file, m->loading_line, text);
	} else {
		log_vwrite(level, m ? m->name : NULL, fmt, ap);
	}
	va_end(ap);
}

static const char *api_module_name(const mh_module *m)
{
	return m->name;
}

static void api_module_set_data(mh_module *m, void *data)
{
	m->data = data;
}

static void *api_module_data(const mh_module *m)
{
	return m->data;
}

/* ---- configuration ---------------------------------------------------- */

static const struct modconf_value *value_of(const mh_module *m, const char *key)
{
	return m->conf ? modconf_get(m->conf, key) : NULL;
}

static const char *api_config_string(const mh_module *m, const char *key)
{
	const struct modconf_value *v = value_of(m, key);
	return v ? v->text : NULL;
}

static int64_t api_config_int(const mh_module *m, const char *key)
{
	const struct modconf_value *v = value_of(m, key);
	return v ? v->i : 0;
}

static int api_config_bool(const mh_module *m, const char *key)
{
	const struct modconf_value *v = value_of(m, key);
	return v ? (int)v->i : 0;
}

static uint64_t api_config_size(const mh_module *m, const char *key)
{
	const struct modconf_value *v = value_of(m, key);
	return v ? v->u : 0;
}

static const char *const *api_config_list(const mh_module *m, const char *key, size_t *count)
{
	const struct modconf_value *v = value_of(m, key);
	if (count)
		*count = v ? v->n_items : 0;
	return v ? (const char *const *)v->items : NULL;
}

/* ---- buffers -------------------------------------------------------------- */

static size_t api_buf_length(const mh_buf *b)
{
	return buf_length(b);
}

static int api_buf_add(mh_buf *b, const void *data, size_t len)
{
	return buf_add(b, data, len);
}

static int api_buf_printf(mh_buf *b, const char *fmt, ...) MH_PRINTF(2, 3);
static int api_buf_printf(mh_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return n < 0 ? -1 : 0;
}

static size_t api_buf_peek(const mh_buf *b, void *data, size_t len)
{
	return buf_peek(b, data, len);
}

static int api_buf_drain(mh_buf *b, size_t len)
{
	if (buf_length(b) < len)
		return -1;
	buf_drain(b, len);
	return 0;
}


static const uint8_t *api_buf_pullup(mh_buf *b, size_t len)
{
	if (buf_length(b) < len)
		return NULL;
	return buf_data(b);
}

/* ---- messages -------------------------------------------------------------- */

static void *api_msg_alloc(mh_msg *m, size_t size)
{
	return arena_alloc(&m->arena, size);
}

static mh_conn *api_msg_conn(mh_msg *m)
{
	return m->conn;
}

static int api_msg_status(const mh_msg *m)
{
	return m->status;
}

static void api_msg_set_status(mh_msg *m, int status)
{
	m->status = status;
}

static void api_msg_complete(mh_msg *reply)
{
	pipeline_complete(reply);
}

/* ---- connections ------------------------------------------------------------- */

static uint64_t api_conn_id(const mh_conn *c)
{
	return c->id;
}

static const char *api_conn_peer(const mh_conn *c)
{
	return conn_peer_text((mh_conn *)(uintptr_t)c);
}

static const char *api_conn_listener(const mh_conn *c)
{
	return c->sl->ls->name;
}

static void *api_conn_alloc(mh_conn *c, size_t size)
{
	return arena_alloc(&c->arena, size);
}

static void api_conn_set_error(mh_conn *c, int status, const char *fmt, ...) MH_PRINTF(3, 4);
static void api_conn_set_error(mh_conn *c, int status, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Statuses are small (enum mh_status); anything else is the module's bug. */
	c->error_status = (short)(status >= 0 && status < 1000 ? status : MH_STATUS_INTERNAL);
	c->error_text = arena_strdup(&c->arena, text);
}

static void api_conn_close(mh_conn *c)
{
	conn_close(c);
}

/* ---- timers ------------------------------------------------------------------ */

struct mh_timer {
	struct event ev;
	void (*cb)(void *arg);
	void *arg;
};

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct mh_timer *t = arg;
	void (*cb)(void *) = t->cb;
	void *cb_arg = t->arg;
	event_del(&t->ev);
	free(t);
	cb(cb_arg);
}

static mh_timer *api_timer_add(uint64_t ms, void (*cb)(void *arg), void *arg)
{
	struct event_base *base = worker_base();
	if (!base || !cb)
		return NULL;
	struct mh_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cb = cb;
	t->arg = arg;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	if (event_assign(&t->ev, base, -1, 0, timer_fire, t) < 0 || event_add(&t->ev, &tv) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

static void api_timer_cancel(mh_timer *t)
{
	if (!t)
		return;
	event_del(&t->ev);
	free(t);
}

static int api_worker_id(void)
{
	return worker_id();
}

/* ---- ABI 1.1: message fields, headers, arguments --------------------------- */

static const char *api_msg_field(const mh_msg *m, int field, size_t *len)
{
	return msg_field_get(m, field, len);
}

static int api_msg_set_field(mh_msg *m, int field, const char *value, size_t len)
{
	return msg_field_set(m, field, value, len);
}

static size_t api_msg_header_count(const mh_msg *m)
{
	return msg_header_count(m);
}

static int api_msg_header_at(const mh_msg *m, size_t i, const char **name, size_t *name_len,
                             const char **value, size_t *value_len)
{
	return msg_header_at(m, i, name, name_len, value, value_len);
}

static const char *api_msg_header(const mh_msg *m, const char *name, size_t *len)
{
	return msg_header_get(m, name, len);
}

static int api_msg_add_header(mh_msg *m, const char *name, const char *value, size_t len)
{
	return msg_header_add(m, name, value, len);
}

static size_t api_msg_argc(const mh_msg *m)
{
	return msg_argc(m);
}

static const char *api_msg_arg(const mh_msg *m, size_t i, size_t *len)
{
	return msg_arg_get(m, i, len);
}

static int api_msg_add_arg(mh_msg *m, const void *data, size_t len)
{
	return msg_arg_add(m, data, len);
}

static int api_msg_code(const mh_msg *m)
{
	return m->code;
}

static void api_msg_set_code(mh_msg *m, int code)
{
	m->code = code;
}

static int api_msg_form(const mh_msg *m)
{
	return m->form;
}

static void api_msg_set_form(mh_msg *m, int form)
{
	m->form = (uint8_t)form;
}

static mh_msg *api_msg_reply(mh_msg *req)
{
	return req->reply;
}

static mh_msg *api_msg_request(mh_msg *reply)
{
	return reply->request;
}

static int api_conn_send_interim(mh_conn *c, const void *data, size_t len)
{
	if (c->n_inflight > 0 || (c->flags & (CONN_CLOSING | CONN_CLOSE_NOW)))
		return -1;
	if (!c->out && !(c->out = msg_buf_get()))
		return -1;
	/* Written with the replies right after this decode step. */
	return buf_add(c->out, data, len);
}

/* ---- ABI 1.1: TLS, outbound, metrics, shared zones, status ------------------- */

static const mh_tls_info *api_conn_tls(const mh_conn *c)
{
	return tls_conn_info(c);
}

static mh_metric *api_metric_register(mh_module *m, int type, const char *name, const char *help,
                                      const char *label_names, const double *buckets,
                                      size_t n_buckets)
{
	return metrics_register(m, type, name, help, label_names, buckets, n_buckets);
}

static int api_metrics_render(mh_buf *out)
{
	return metrics_render(out);
}

static void *api_shm_zone(mh_module *m, const char *name, size_t size)
{
	return shm_zone_get(m, name, size);
}

static int api_status_render(mh_buf *out)
{
	return status_render(out);
}

const mh_host_api hostapi_table = {
	.struct_size = sizeof(mh_host_api),
	.abi_major = MH_ABI_MAJOR,
	.abi_minor = MH_ABI_MINOR,
	.log = api_log,
	.module_name = api_module_name,
	.module_set_data = api_module_set_data,
	.module_data = api_module_data,
	.config_string = api_config_string,
	.config_int = api_config_int,
	.config_bool = api_config_bool,
	.config_size = api_config_size,
	.config_duration_ms = api_config_size,
	.config_list = api_config_list,
	.buf_length = api_buf_length,
	.buf_add = api_buf_add,
	.buf_printf = api_buf_printf,
	.buf_peek = api_buf_peek,
	.buf_drain = api_buf_drain,
	.buf_move = buf_move, /* same signatures: no wrapper on the message path */
	.buf_find = buf_find,
	.buf_pullup = api_buf_pullup,
	.msg_new = msg_new,
	.msg_body = msg_body,
	.msg_alloc = api_msg_alloc,
	.msg_conn = api_msg_conn,
	.msg_status = api_msg_status,
	.msg_set_status = api_msg_set_status,
	.msg_complete = api_msg_complete,
	.conn_id = api_conn_id,
	.conn_peer = api_conn_peer,
	.conn_listener = api_conn_listener,
	.conn_alloc = api_conn_alloc,
	.conn_set_error = api_conn_set_error,
	.conn_close = api_conn_close,
	.timer_add = api_timer_add,
	.timer_cancel = api_timer_cancel,
	.worker_id = api_worker_id,
	.msg_field = api_msg_field,
	.msg_set_field = api_msg_set_field,
	.msg_header_count = api_msg_header_count,
	.msg_header_at = api_msg_header_at,
	.msg_header = api_msg_header,
	.msg_add_header = api_msg_add_header,
	.msg_argc = api_msg_argc,
	.msg_arg = api_msg_arg,
	.msg_add_arg = api_msg_add_arg,
	.msg_code = api_msg_code,
	.msg_set_code = api_msg_set_code,
	.msg_form = api_msg_form,
	.msg_set_form = api_msg_set_form,
	.msg_reply = api_msg_reply,
	.msg_request = api_msg_request,
	.conn_tls = api_conn_tls,
	.outbound_connect = outbound_connect,
	.outbound_write = outbound_write,
	.outbound_input = outbound_input,
	.outbound_error = outbound_error,
	.outbound_tls = outbound_tls,
	.outbound_close = outbound_close,
	.metric_register = api_metric_register,
	.metric_add = metrics_add,
	.metric_set = metrics_set,
	.metric_observe = metrics_observe,
	.metrics_render = api_metrics_render,
	.shm_zone = api_shm_zone,
	.host_state = status_host_state,
	.status_render = api_status_render,
	.conn_send_interim = api_conn_send_interim,
	.listener_stats = metrics_listener_stats,
	.conn_data = conn_data,
	.offload = offload_submit,
};
