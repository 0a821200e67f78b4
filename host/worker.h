/* host/worker.h — a worker: one libevent loop, single-threaded, serving
 * one generation's listeners until told to drain. */
#ifndef MH_WORKER_H
#define MH_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event_struct.h>

struct generation;
struct listener_settings;
struct listener_socket;
struct mh_module;
struct mh_conn;
struct event_base;

/* A listener as a worker serves it: its settings, socket and the modules
 * of its chain, resolved once. */
struct serve_listener {
	const struct listener_settings *ls;
	struct listener_socket *sock;
	struct mh_module *codec, *handler, *policy;
	struct mh_module **auth;
	size_t n_auth;
	struct mh_module **observers;
	size_t n_observers;
	uint64_t max_message;
	uint64_t n_conns;
	const struct timeval *idle_tv, *read_tv, *write_tv; /* common timeouts */
	struct event ev_accept;
	int accepting;
};

/* Run the worker loop for gen until it has drained.  id is the worker's
 * number (0..N-1); single = 1 when the master serves itself (workers = 0),
 * in which case signals are handled here.  Returns the process exit code. */
int worker_run(struct generation *gen, int id, int single);

struct event_base *worker_base(void);
int worker_id(void);
/* Connection bookkeeping, called by conn.c. */
void worker_conn_added(struct mh_conn *c);
void worker_conn_removed(struct mh_conn *c);
/* Queue c to be freed from the loop, outside any of its callbacks. */
void worker_reap_later(struct mh_conn *c);
/* The worker stopped accepting because of max_connections; resume when a
 * connection closes. */
int worker_draining(void);

#endif
