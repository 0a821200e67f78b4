/* host/worker.h — a worker: one libevent loop, single-threaded, serving
 * one generation's listeners until told to drain. */
#ifndef MH_WORKER_H
#define MH_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event_struct.h>

struct generation;
struct listener_settings;
struct listener_socket;
struct mh_module;
struct mh_conn;
struct event_base;

struct route_settings;
struct server_settings;
struct tls_listener;

/* One chain a request can take: a route's, or the listener's own (rs NULL;
 * its handler may be NULL when the listener only has routes). */
struct serve_route {
	const struct route_settings *rs;
	struct mh_module *handler, *policy;
	struct mh_module **auth;
	size_t n_auth;
};

/* A listener as a worker serves it: its settings, socket and the modules
 * of its chains, resolved once. */
struct serve_listener {
	const struct listener_settings *ls;
	struct listener_socket *sock;
	struct mh_module *codec;
	struct tls_listener *tls;   /* tls = on: the generation's credentials; else NULL */
	struct serve_route chain;   /* the listener's own */
	struct serve_route *routes; /* in match order */
	size_t n_routes;
	struct mh_module **observers;
	size_t n_observers;
	uint64_t max_message;
	struct listener_cells *cells; /* the host's counters for it (hostmetrics.c) */
	uint64_t n_conns; /* in this worker */
	size_t index;     /* in the generation's listeners */
	const struct timeval *idle_tv, *read_tv, *write_tv; /* common timeouts */
	struct event ev_accept;
	int accepting;
};

/* Build the next generation from cur for an in-process reload; 0 and
 * *next, or -1 after logging why. */
typedef int (*worker_reload_fn)(struct generation *cur, struct generation **next);

/* Run the worker loop for *gen until it has drained.  id is the worker's
 * number (0..N-1).  reload is NULL in a forked worker; with workers = 0 the
 * master serves itself and passes how to reload, and SIGINT/SIGHUP are
 * handled here.  The caller may keep the stop and reload signals blocked:
 * they are unblocked once the loop handles them, and blocked again when the
 * drain is over.  On return *gen is the generation served last (the caller
 * frees it), or NULL when offloaded jobs still ran at exit and may use its
 * modules.  Returns the process exit code. */
int worker_run(struct generation **gen, int id, worker_reload_fn reload);
/* Take the stop and reload signals worker_run handles out of set, a set
 * about to be unblocked before it runs: they then stay blocked until its
 * loop handles them, so that one arriving meanwhile waits for the loop
 * instead of killing the process. */
void worker_signals_exclude(sigset_t *set);

struct event_base *worker_base(void);
/* Whether connections may wait for edge-triggered readiness: the event
 * backend (epoll) reports edges and the peer's FIN (EV_ET, EV_CLOSED). */
int worker_edge_triggered(void);
/* Bumped by every socket callback (connections, accepts, outbound); busy
 * polling watches it to tell a loop pass that did I/O from an idle one. */
extern unsigned long worker_io_events;
/* What busy_poll = auto measures (pollctl.h): bytes read from client
 * connections, and how many distinct connections had I/O in the current
 * load window — a connection counts itself once, when its io_window is
 * not yet worker_load_window. */
extern uint64_t worker_io_bytes;
extern uint32_t worker_load_window;
extern unsigned worker_load_conns;
int worker_id(void);
/* Connection bookkeeping, called by conn.c. */
void worker_conn_added(struct mh_conn *c);
void worker_conn_removed(struct mh_conn *c);
/* Queue c to be freed from the loop, outside any of its callbacks. */
void worker_reap_later(struct mh_conn *c);
/* Read c again in the next loop pass: its socket may hold input that no
 * edge-triggered readiness will announce.  worker_forget_read takes it off
 * that list (when it is freed). */
void worker_read_later(struct mh_conn *c);
void worker_forget_read(struct mh_conn *c);
/* The worker stopped accepting because of max_connections; resume when a
 * connection closes. */
int worker_draining(void);
/* The [server] settings of the generation the worker serves, or NULL
 * outside a worker's loop. */
const struct server_settings *worker_settings(void);
/* Offloaded jobs finished: a retired generation may now be freed. */
void worker_offload_finished(void);

#endif
