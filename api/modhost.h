/* api/modhost.h — the modhost module ABI: the host function table and the
 * macros a module is written with.  Include this file alone.
 *
 * The host hands every module one mh_host_api table at load.  The table is
 * append-only within an ABI major: a function that appears in minor N stays
 * at the same place, with the same type and meaning, in every later minor.
 * Probe for a function newer than your MH_MODULE_ABI_MINOR with
 * MH_HOST_HAS(host, fn) before calling it.
 */
#ifndef MODHOST_H
#define MODHOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "modhost-t.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MH_EXPORT __attribute__((visibility("default")))
#else
#define MH_PRINTF(f, a)
#define MH_EXPORT
#endif

struct mh_host_api {
	uint32_t struct_size; /* sizeof(mh_host_api) in the host: what it provides */
	uint16_t abi_major;
	uint16_t abi_minor;

	/* ---- ABI 1.0 ---------------------------------------------------- */

	/* Logging, tagged with the module's name and the worker. */
	void (*log)(mh_module *m, int level, const char *fmt, ...) MH_PRINTF(3, 4);

	/* The instance: its configured name, and one pointer of module data. */
	const char *(*module_name)(const mh_module *m);
	void (*module_set_data)(mh_module *m, void *data);
	void *(*module_data)(const mh_module *m);

	/* Configuration values of the instance's [module NAME] section, already
	 * validated against the key table with defaults applied.  Asking for a
	 * key that is not in the table returns the zero value. Strings and lists
	 * live as long as the instance. */
	const char *(*config_string)(const mh_module *m, const char *key);
	int64_t (*config_int)(const mh_module *m, const char *key);
	int (*config_bool)(const mh_module *m, const char *key);
	uint64_t (*config_size)(const mh_module *m, const char *key);
	uint64_t (*config_duration_ms)(const mh_module *m, const char *key);
	const char *const *(*config_list)(const mh_module *m, const char *key, size_t *count);

	/* Buffers.  Functions returning int return 0, or -1 when out of memory
	 * or when the range asked for is not there. */
	size_t (*buf_length)(const mh_buf *b);
	int (*buf_add)(mh_buf *b, const void *data, size_t len);
	int (*buf_printf)(mh_buf *b, const char *fmt, ...) MH_PRINTF(2, 3);
	/* Copy up to len bytes from the front without removing them; returns
	 * the number copied. */
	size_t (*buf_peek)(const mh_buf *b, void *data, size_t len);
	int (*buf_drain)(mh_buf *b, size_t len);
	/* Move len bytes from the front of src to the end of dst, without
	 * copying payload where the host can avoid it. */
	int (*buf_move)(mh_buf *dst, mh_buf *src, size_t len);
	/* Offset of the first needle at or after from, or -1. */
	int64_t (*buf_find)(const mh_buf *b, const void *needle, size_t nlen, size_t from);
	/* Make the first len bytes contiguous and return them (valid until the
	 * buffer changes), or NULL if the buffer holds fewer. */
	const uint8_t *(*buf_pullup)(mh_buf *b, size_t len);

	/* Messages.  msg_new makes a request on c for a codec's decode step; the
	 * host owns it once decode returns it.  Each message has a body buffer
	 * and an arena freed with it. */
	mh_msg *(*msg_new)(mh_conn *c);
	mh_buf *(*msg_body)(mh_msg *msg);
	void *(*msg_alloc)(mh_msg *msg, size_t size);
	mh_conn *(*msg_conn)(mh_msg *msg);
	int (*msg_status)(const mh_msg *msg);
	void (*msg_set_status)(mh_msg *msg, int status);
	/* For a handler that returned MH_HANDLE_ASYNC: the reply is complete.
	 * Call it on the worker's loop, exactly once. */
	void (*msg_complete)(mh_msg *reply);

	/* Connections. */
	uint64_t (*conn_id)(const mh_conn *c);
	const char *(*conn_peer)(const mh_conn *c);     /* "1.2.3.4:5678", "[::1]:80", "unix" */
	const char *(*conn_listener)(const mh_conn *c); /* the listener's name */
	/* Zeroed memory that lives exactly as long as the connection. */
	void *(*conn_alloc)(mh_conn *c, size_t size);
	/* A codec reports why its decode step failed: the host logs it, sends
	 * encode_error(status, text) and closes the connection. */
	void (*conn_set_error)(mh_conn *c, int status, const char *fmt, ...) MH_PRINTF(3, 4);
	/* Close after the replies already queued are written. */
	void (*conn_close)(mh_conn *c);

	/* Timers on the calling worker's loop. */
	mh_timer *(*timer_add)(uint64_t ms, void (*cb)(void *arg), void *arg);
	void (*timer_cancel)(mh_timer *t);

	/* Which worker this is: 0..N-1, or -1 in the master. */
	int (*worker_id)(void);

	/* ---- ABI 1.1 ---------------------------------------------------- */

	/* Message fields and headers.  Strings live as long as the message.
	 * msg_field returns NULL for a field the codec did not set. */
	const char *(*msg_field)(const mh_msg *msg, int field, size_t *len);
	int (*msg_set_field)(mh_msg *msg, int field, const char *value, size_t len);
	size_t (*msg_header_count)(const mh_msg *msg);
	int (*msg_header_at)(const mh_msg *msg, size_t i, const char **name, size_t *name_len,
	                     const char **value, size_t *value_len);
	/* The first header named name (case-insensitive), or NULL. */
	const char *(*msg_header)(const mh_msg *msg, const char *name, size_t *len);
	int (*msg_add_header)(mh_msg *msg, const char *name, const char *value, size_t len);
	/* Arguments (RESP command arguments, after the command itself). */
	size_t (*msg_argc)(const mh_msg *msg);
	const char *(*msg_arg)(const mh_msg *msg, size_t i, size_t *len);
	int (*msg_add_arg)(mh_msg *msg, const void *data, size_t len);
	/* A protocol's own status code on a reply (HTTP 200, 404, ...); 0 = the
	 * codec's default. */
	int (*msg_code)(const mh_msg *msg);
	void (*msg_set_code)(mh_msg *msg, int code);
	int (*msg_form)(const mh_msg *msg);
	void (*msg_set_form)(mh_msg *msg, int form);
	/* A request's reply, and a reply's request. */
	mh_msg *(*msg_reply)(mh_msg *req);
	mh_msg *(*msg_request)(mh_msg *reply);

	/* The TLS side of a connection, or NULL on a plain one. */
	const mh_tls_info *(*conn_tls)(const mh_conn *c);

	/* Outbound connections on the calling worker's loop, plain or TLS (the
	 * server's chain and name are verified).  on_event is called for each
	 * mh_outbound_event; after ERROR or CLOSED, call outbound_close. */
	mh_outbound *(*outbound_connect)(const mh_outbound_opts *opts,
	                                 void (*on_event)(mh_outbound *ob, int event, void *arg),
	                                 void *arg);
	int (*outbound_write)(mh_outbound *ob, const void *data, size_t len);
	mh_buf *(*outbound_input)(mh_outbound *ob);
	const char *(*outbound_error)(const mh_outbound *ob);
	const mh_tls_info *(*outbound_tls)(const mh_outbound *ob);
	void (*outbound_close)(mh_outbound *ob);

	/* Metrics in the host's shared memory: register families in the load
	 * hook (in the master); update from any worker; one scrape sums every
	 * worker.  label_names: comma-separated, or NULL.  buckets: ascending
	 * upper bounds for histograms.  Label values are passed in the order of
	 * label_names. */
	mh_metric *(*metric_register)(mh_module *m, int type, const char *name, const char *help,
	                              const char *label_names, const double *buckets,
	                              size_t n_buckets);
	void (*metric_add)(mh_metric *metric, const char *const *label_values, double value);
	void (*metric_set)(mh_metric *metric, const char *const *label_values, double value);
	void (*metric_observe)(mh_metric *metric, const char *const *label_values, double value);
	/* The whole host's metrics in Prometheus text format (0.0.4). */
	int (*metrics_render)(mh_buf *out);

	/* Shared memory every worker maps: a zone of size bytes, zeroed, made in
	 * the load hook (in the master).  A zone of the same module name and
	 * zone name lives across reloads (a reload's load hook gets the same
	 * memory back).  Returns NULL on failure. */
	void *(*shm_zone)(mh_module *m, const char *name, size_t size);

	/* Host state and status, for health and admin modules. */
	int (*host_state)(void);
	/* JSON: version, ABI version, uptime, workers, modules, listeners. */
	int (*status_render)(mh_buf *out);

	/* ---- ABI 1.2 ---------------------------------------------------- */

	/* For a codec's decode step: send len bytes to the peer now, ahead of
	 * the reply to the request being decoded (an interim response, e.g.
	 * HTTP "100 Continue").  Only when every earlier request has been
	 * answered: returns 0, or -1 when replies are still pending (send it
	 * after the previous reply instead), the connection is closing, or out
	 * of memory. */
	int (*conn_send_interim)(mh_conn *c, const void *data, size_t len);

	/* ---- ABI 1.4 ---------------------------------------------------- */

	/* The traffic of the listener named listener, or of every listener
	 * (NULL), into *st (set st->struct_size first).  Returns 0, or -1 when
	 * no listener of that name has served since the master started. */
	int (*listener_stats)(const char *listener, mh_listener_stats *st);

	/* A module's own state for one connection: size zeroed bytes that
	 * belong to (c, m), made by the first call with size > 0 and returned
	 * by every later one (a later size larger than the first gets NULL).
	 * size 0 only looks: NULL when there is none yet.  release, if not
	 * NULL, is called with the bytes as the connection goes away, on its
	 * worker, to free what they point to; the bytes themselves go with
	 * the connection.  Returns NULL when out of memory. */
	void *(*conn_data)(mh_conn *c, mh_module *m, size_t size,
	                   void (*release)(mh_module *m, void *data));

	/* ---- ABI 1.5 ---------------------------------------------------- */

	/* Blocking work (a slow password hash, a library call that waits)
	 * without blocking the worker: work(arg) runs on one of the worker's
	 * offload threads ([server] offload_threads), then done(arg, status)
	 * runs on the worker's loop, where every other callback runs.  work
	 * must not call this table (it is not thread-safe) nor touch messages
	 * or connections; done may, as long as they still exist (a handler's
	 * cancel says a reply went away).  status is an enum
	 * mh_offload_status: MH_OFFLOAD_CANCELLED when the worker stopped
	 * before work started.  Jobs start in the order given.  Returns 0:
	 * done will be called exactly once; or -1, and neither is called,
	 * when the worker already holds [server] offload_queue jobs not yet
	 * started, is stopping, or is out of memory or threads. */
	int (*offload)(mh_module *m, void (*work)(void *arg), void (*done)(void *arg, int status),
	               void *arg);
};

/* Non-zero when the host table provides fn (it is long enough and set). */
#define MH_HOST_HAS(host, fn)                                                  \
	((host)->struct_size >= offsetof(mh_host_api, fn) + sizeof((host)->fn) && \
	 (host)->fn != NULL)

/* The HTTP status code that stands for an enum mh_status: what observers
 * and HTTP-like codecs report for a reply without a protocol code of its
 * own.  Compiled into the module: not part of the host table. */
static inline int mh_status_http_code(int status)
{
	switch (status) {
	case MH_STATUS_OK: return 200;
	case MH_STATUS_BAD_REQUEST: return 400;
	case MH_STATUS_UNAUTHORIZED: return 401;
	case MH_STATUS_FORBIDDEN: return 403;
	case MH_STATUS_NOT_FOUND: return 404;
	case MH_STATUS_TOO_LARGE: return 413;
	case MH_STATUS_TOO_MANY: return 429;
	case MH_STATUS_UNAVAILABLE: return 503;
	case MH_STATUS_TIMEOUT: return 504;
	default: return 500;
	}
}

/* The lowest host minor this module needs.  Define it before including this
 * header to load into older hosts, when you probe newer calls with
 * MH_HOST_HAS. */
#ifndef MH_MODULE_ABI_MINOR
#define MH_MODULE_ABI_MINOR MH_ABI_MINOR
#endif

#define MH_CONCAT_(a, b) a##b
#define MH_CONCAT(a, b) MH_CONCAT_(a, b)
#define MH_MODULE_SYMBOL MH_CONCAT(mh_module_v, MH_ABI_MAJOR)

/* Declares the module's descriptor with named-field initialisers:
 *
 *   MH_MODULE_DECLARE(.name = "echo", .version = "1.0", .license = "MIT",
 *                     .roles = MH_ROLE_HANDLER, .handler = &echo_ops);
 */
#define MH_MODULE_DECLARE(...)                                                 \
	extern MH_EXPORT const mh_module_desc MH_MODULE_SYMBOL;                \
	MH_EXPORT const mh_module_desc MH_MODULE_SYMBOL = {                    \
		.magic = MH_MODULE_MAGIC,                                      \
		.abi_major = MH_ABI_MAJOR,                                     \
		.abi_minor = MH_MODULE_ABI_MINOR,                              \
		.struct_size = sizeof(mh_module_desc),                         \
		__VA_ARGS__}

#ifdef __cplusplus
}
#endif

#endif /* MODHOST_H */
