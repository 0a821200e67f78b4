/* host/worker.c — the worker process: one event loop serving one
 * generation's listeners; accepting, the connection list, the reaper and
 * the graceful drain. */
#include "build-config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "generation.h"
#include "listener.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "offload.h"
#include "peerlimit.h"
#include "route.h"
#include "sdnotify.h"
#include "shm.h"
#include "status.h"
#include "pollctl.h"
#include "worker.h"

/* Connections accepted per readiness event, per listener: bounded so that
 * a connection storm does not starve established connections. */
#define WORKER_ACCEPT_BATCH 64

/* A generation replaced by an in-process reload (workers = 0), kept until
 * its last connection is gone. */
struct retired {
	struct generation *gen;
	struct serve_listener *sls;
	size_t n_sls;
	struct retired *next;
};

struct worker {
	struct event_base *base;
	struct generation *gen;
	worker_reload_fn reload;
	struct retired *retired;
	int id;
	int single;
	int draining;
	int exit_code;
	struct serve_listener *sls;
	size_t n_sls;
	struct mh_conn *conns; /* every open connection */
	uint64_t n_conns;
	struct mh_conn *reap_head;
	struct event *ev_reap;
	struct mh_conn *read_again; /* worker_read_later */
	int edge_triggered;         /* the event backend has EV_ET and EV_CLOSED */
	struct event *ev_signals[5]; /* one per worker_signals[] */
	struct event *ev_shutdown;
	struct event *ev_accept_retry;
	struct event *ev_limit_retry;
	int accept_paused;
	uint64_t drain_started_ms; /* 0 = not draining */
};

static struct worker *self;
/* A generation whose offloaded jobs were still running at exit: kept,
 * never freed (the process is leaving). */
static struct generation *abandoned;
unsigned long worker_io_events;
uint64_t worker_io_bytes;
uint32_t worker_load_window = 1;
unsigned worker_load_conns;

static void retire_finished(void);

struct event_base *worker_base(void)
{
	return self ? self->base : NULL;
}

int worker_edge_triggered(void)
{
	return self && self->edge_triggered;
}

int worker_id(void)
{
	return self ? self->id : -1;
}

int worker_draining(void)
{
	return self && self->draining;
}

void worker_offload_finished(void)
{
	if (self)
		retire_finished();
}

const struct server_settings *worker_settings(void)
{
	return self ? &self->gen->cfg->server : NULL;
}

/* ---- accepting --------------------------------------------------------------- */

static void accept_cb(evutil_socket_t fd, short what, void *arg);

/* Limits count the whole host: with several workers, the others' counts
 * come from shared memory. */
static int listener_full(const struct serve_listener *sl)
{
	uint64_t host_max = self->gen->cfg->server.max_connections;
	uint64_t ls_max = sl->ls->max_connections;
	if (host_max) {
		uint64_t n = self->single ? self->n_conns : shm_host_connections();
		if (n >= host_max)
			return 1;
	}
	if (ls_max) {
		uint64_t n = self->single ? sl->n_conns
		                          : shm_listener_connections(self->gen->id, sl->index);
		if (n >= ls_max)
			return 1;
	}
	return 0;
}

static void set_accepting(struct serve_listener *sl, int on)
{
	if (sl->accepting == on || sl->sock->fd < 0)
		return;
	if (on)
		event_add(&sl->ev_accept, NULL);
	else
		event_del(&sl->ev_accept);
	sl->accepting = on;
}

/* Accept on every listener that is below its limits (after a close, or
 * after a pause for running out of file descriptors). */
static void resume_accepting(void)
{
	if (self->draining || self->accept_paused)
		return;
	for (size_t i = 0; i < self->n_sls; i++)
		if (!listener_full(&self->sls[i]))
			set_accepting(&self->sls[i], 1);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	self->accept_paused = 0;
	resume_accepting();
}

static void limit_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	resume_accepting();
	for (size_t i = 0; i < self->n_sls; i++) {
		if (!self->sls[i].accepting && !self->draining && !self->accept_paused) {
			struct timeval tv = { 0, 50000 };
			event_add(self->ev_limit_retry, &tv);
			return;
		}
	}
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct serve_listener *sl = arg;
	worker_io_events++;
	for (int i = 0; i < WORKER_ACCEPT_BATCH; i++) {
		if (listener_full(sl)) {
			metrics_host_limit(sl->ls->name, "max_connections");
			/* Leave further connections in the kernel's queue.  Closes
			 * in this worker resume at once; other workers' closes are
			 * noticed by a short poll. */
			set_accepting(sl, 0);
			if (!self->single) {
				struct timeval tv = { 0, 50000 };
				event_add(self->ev_limit_retry, &tv);
			}
			return;
		}
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("listener '%s': cannot accept: %s; pausing accepts for 100ms",
				         sl->ls->name, strerror(errno));
				for (size_t k = 0; k < self->n_sls; k++)
					set_accepting(&self->sls[k], 0);
				self->accept_paused = 1;
				struct timeval tv = { 0, 100000 };
				event_add(self->ev_accept_retry, &tv);
			}
			return; /* EAGAIN, or a peer that left before accept */
		}
		if (len == 0 || ss.ss_family == AF_UNSPEC)
			ss.ss_family = AF_UNIX;
		conn_new(sl, cfd, (struct sockaddr *)&ss, len);
	}
}

/* ---- connection bookkeeping -------------------------------------------------- */

void worker_conn_added(struct mh_conn *c)
{
	c->next = self->conns;
	if (self->conns)
		self->conns->prev = c;
	self->conns = c;
	self->n_conns++;
	c->sl->n_conns++;
	struct shm_slot *slot = shm_self();
	if (slot) {
		slot->connections = self->n_conns;
		slot->accepted++;
		if (c->sl->index < SHM_MAX_LISTENERS)
			slot->listener_conns[c->sl->index] = (uint32_t)c->sl->n_conns;
	}
}

void worker_conn_removed(struct mh_conn *c)
{
	conn_uncount_peer(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		self->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	self->n_conns--;
	c->sl->n_conns--;
	struct shm_slot *slot = shm_self();
	if (slot) {
		slot->connections = self->n_conns;
		if (c->sl->index < SHM_MAX_LISTENERS)
			slot->listener_conns[c->sl->index] = (uint32_t)c->sl->n_conns;
	}
}

void worker_reap_later(struct mh_conn *c)
{
	c->reap_next = self->reap_head;
	self->reap_head = c;
	event_active(self->ev_reap, EV_READ, 0);
}

void worker_read_later(struct mh_conn *c)
{
	if (c->flags & CONN_READ_QUEUED)
		return;
	c->flags |= CONN_READ_QUEUED;
	c->read_next = self->read_again;
	self->read_again = c;
}

void worker_forget_read(struct mh_conn *c)
{
	if (!(c->flags & CONN_READ_QUEUED))
		return;
	for (struct mh_conn **p = &self->read_again; *p; p = &(*p)->read_next) {
		if (*p == c) {
			*p = c->read_next;
			break;
		}
	}
	c->flags &= ~CONN_READ_QUEUED;
}

/* Between two loop passes: make the read-again list's connections active,
 * so the next pass reads them (without blocking) along with whatever
 * epoll reports.  Each gets one chunk per pass, like any other. */
static void activate_reads(void)
{
	struct mh_conn *c = self->read_again;
	self->read_again = NULL;
	while (c) {
		struct mh_conn *next = c->read_next;
		c->flags &= ~CONN_READ_QUEUED;
		if (!(c->flags & CONN_REAP) && (c->events & EV_READ)) /* still reading */
			event_active(&c->ev, EV_READ, 0);
		c = next;
	}
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	while (self->reap_head) {
		struct mh_conn *c = self->reap_head;
		self->reap_head = c->reap_next;
		conn_reap(c);
	}
	retire_finished();
	if (self->draining && self->n_conns == 0)
		event_base_loopbreak(self->base);
	else
		resume_accepting();
}

/* ---- draining and signals ------------------------------------------------------ */

static void shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warn("shutdown timeout: closing %llu connections with work in progress",
	         (unsigned long long)self->n_conns);
	self->exit_code = 0;
	event_base_loopbreak(self->base);
}

/* Stop accepting, close idle connections, let the others finish. */
static void worker_drain(void)
{
	if (self->draining) {
		log_warn("second stop signal: exiting now with %llu connections open",
		         (unsigned long long)self->n_conns);
		event_base_loopbreak(self->base);
		return;
	}
	self->draining = 1;
	self->drain_started_ms = conn_now_ms();
	for (size_t i = 0; i < self->n_sls; i++)
		set_accepting(&self->sls[i], 0);
	if (!self->single)
		listener_close_fds(self->gen->listeners);
	self->reload = NULL;
	log_info("draining %llu connections (shutdown_timeout %llums)",
	         (unsigned long long)self->n_conns,
	         (unsigned long long)self->gen->cfg->server.shutdown_timeout_ms);
	uint64_t ms = self->gen->cfg->server.shutdown_timeout_ms;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	self->ev_shutdown = evtimer_new(self->base, shutdown_timeout_cb, NULL);
	event_add(self->ev_shutdown, &tv);
	for (struct mh_conn *c = self->conns, *next; c; c = next) {
		next = c->next;
		conn_drain(c);
	}
	if (self->n_conns == 0)
		event_base_loopbreak(self->base);
}

static void free_listeners(struct serve_listener *sls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		event_del(&sls[i].ev_accept);
		free(sls[i].chain.auth);
		for (size_t k = 0; k < sls[i].n_routes; k++)
			free(sls[i].routes[k].auth);
		free(sls[i].routes);
		free(sls[i].observers);
		metrics_listener_cells_free(sls[i].cells);
	}
	free(sls);
}

/* Free retired generations whose connections have all closed. */
static void retire_finished(void)
{
	for (struct retired **rp = &self->retired; *rp;) {
		struct retired *r = *rp;
		uint64_t open = 0;
		for (size_t i = 0; i < r->n_sls; i++)
			open += r->sls[i].n_conns;
		/* Its modules' jobs still to finish would run their done
		 * after worker_fini. */
		if (open || modules_offloading(r->gen->mods)) {
			rp = &r->next;
			continue;
		}
		*rp = r->next;
		log_info("generation %u retired", r->gen->id);
		modules_worker_fini(r->gen->mods);
		free_listeners(r->sls, r->n_sls);
		generation_free(r->gen);
		free(r);
	}
}

static int setup_listener(struct serve_listener *sl, struct generation *gen, size_t i);

/* workers = 0: serve next from now on; connections of the current
 * generation finish under it. */
static void worker_switch(struct generation *next)
{
	char err[1024];
	struct serve_listener *sls = calloc(next->cfg->n_listeners + 1, sizeof(*sls));
	struct retired *r = calloc(1, sizeof(*r));
	int ok = sls && r;
	size_t done = 0;
	for (; ok && done < next->cfg->n_listeners; done++)
		ok = setup_listener(&sls[done], next, done) == 0;
	if (ok && modules_worker_init(next->mods, err, sizeof(err)) < 0) {
		log_error("reload failed: %s; generation %u keeps serving", err, self->gen->id);
		ok = 0;
	}
	if (!ok) {
		sdnotify_ready("reload failed (see the log); generation %u keeps serving",
		               self->gen->id);
		free_listeners(sls, done);
		free(r);
		generation_free(next);
		return;
	}
	for (size_t i = 0; i < self->n_sls; i++) {
		set_accepting(&self->sls[i], 0);
		/* A socket the new generation does not use stops queueing now. */
		int kept = 0;
		for (size_t k = 0; k < next->listeners->n; k++)
			kept |= next->listeners->socks[k] == self->sls[i].sock;
		if (!kept && self->sls[i].sock->fd >= 0) {
			close(self->sls[i].sock->fd);
			self->sls[i].sock->fd = -1;
		}
	}
	r->gen = self->gen;
	r->sls = self->sls;
	r->n_sls = self->n_sls;
	r->next = self->retired;
	self->retired = r;
	self->gen = next;
	status_serving(next);
	self->sls = sls;
	self->n_sls = next->cfg->n_listeners;
	for (size_t i = 0; i < self->n_sls; i++)
		set_accepting(&self->sls[i], 1);
	for (struct mh_conn *c = self->conns; c; c = c->next)
		if (c->sl < sls || c->sl >= sls + self->n_sls)
			conn_drain(c);
	log_info("generation %u ready: serving in a single process", next->id);
	sdnotify_ready("generation %u: serving in a single process", next->id);
	retire_finished();
}

/* The signals the loop handles: stop (three ways), reopen the log,
 * reload. */
static const int worker_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGHUP};
#define N_WORKER_SIGNALS (sizeof(worker_signals) / sizeof(worker_signals[0]))
_Static_assert(sizeof(((struct worker *)0)->ev_signals) ==
                   N_WORKER_SIGNALS * sizeof(struct event *),
               "one signal event per worker_signals[]");

static void worker_signals_mask(int how)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < N_WORKER_SIGNALS; i++)
		sigaddset(&set, worker_signals[i]);
	sigprocmask(how, &set, NULL);
}

void worker_signals_exclude(sigset_t *set)
{
	for (size_t i = 0; i < N_WORKER_SIGNALS; i++)
		sigdelset(set, worker_signals[i]);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		if (self->single && !self->draining)
			sdnotify_stopping(); /* this process is the master too */
		worker_drain();
		break;
	case SIGUSR1:
		if (log_reopen() < 0)
			log_error("cannot reopen the log file: %s", strerror(errno));
		break;
	case SIGHUP: {
		struct generation *next;
		if (self->reload && !self->draining && self->reload(self->gen, &next) == 0)
			worker_switch(next);
		break;
	}
	default:
		break;
	}
}

/* ---- setup ---------------------------------------------------------------------- */

/* The chain was checked when the generation was built (generation.c). */
static struct mh_module *chain_module(struct generation *gen, const char *name)
{
	return modules_find(gen->mods, name);
}

static int setup_chain(struct serve_route *r, struct generation *gen, const char *handler,
                       char *const *auth, size_t n_auth, const char *policy)
{
	r->handler = handler ? chain_module(gen, handler) : NULL;
	r->policy = policy ? chain_module(gen, policy) : NULL;
	r->auth = calloc(n_auth + 1, sizeof(*r->auth));
	if (!r->auth)
		return -1;
	for (size_t k = 0; k < n_auth; k++)
		r->auth[k] = chain_module(gen, auth[k]);
	r->n_auth = n_auth;
	return 0;
}

static const struct timeval *common_timeout(uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	if (ms == 0)
		return NULL;
	return event_base_init_common_timeout(self->base, &tv);
}

static int setup_listener(struct serve_listener *sl, struct generation *gen, size_t i)
{
	const struct listener_settings *ls = &gen->cfg->listeners[i];
	sl->ls = ls;
	sl->index = i;
	sl->sock = gen->listeners->socks[i];
	sl->codec = chain_module(gen, ls->codec);
	sl->tls = gen->tls ? gen->tls[i] : NULL;
	sl->observers = calloc(gen->mods->n + 1, sizeof(*sl->observers));
	sl->routes = calloc(ls->n_routes + 1, sizeof(*sl->routes));
	if (!sl->observers || !sl->routes ||
	    setup_chain(&sl->chain, gen, ls->handler, ls->auth, ls->n_auth, ls->policy) < 0)
		return -1;
	for (size_t k = 0; k < ls->n_routes; k++) {
		const struct route_settings *rs = route_find(gen->cfg, ls->routes[k]);
		struct serve_route *r = &sl->routes[sl->n_routes++];
		r->rs = rs;
		if (setup_chain(r, gen, rs->handler, rs->auth, rs->n_auth, rs->policy) < 0)
			return -1;
	}
	if (ls->observers) {
		for (size_t k = 0; k < ls->n_observers; k++)
			sl->observers[sl->n_observers++] = chain_module(gen, ls->observers[k]);
	} else {
		for (size_t k = 0; k < gen->mods->n; k++)
			if (gen->mods->mods[k]->desc->roles & MH_ROLE_OBSERVER)
				sl->observers[sl->n_observers++] = gen->mods->mods[k];
	}
	sl->max_message = sl->codec->desc->codec->max_message(sl->codec);
	sl->cells = metrics_listener_cells(ls->name);
	sl->idle_tv = common_timeout(ls->idle_timeout_ms);
	sl->read_tv = common_timeout(ls->read_timeout_ms);
	sl->write_tv = common_timeout(ls->write_timeout_ms);
	event_assign(&sl->ev_accept, self->base, sl->sock->fd, EV_READ | EV_PERSIST, accept_cb, sl);
	return 0;
}

static void teardown(void)
{
	free_listeners(self->sls, self->n_sls);
	for (size_t i = 0; i < sizeof(self->ev_signals) / sizeof(self->ev_signals[0]); i++)
		if (self->ev_signals[i])
			event_free(self->ev_signals[i]);
	if (self->ev_shutdown)
		event_free(self->ev_shutdown);
	event_free(self->ev_reap);
	event_free(self->ev_accept_retry);
	event_free(self->ev_limit_retry);
}

static uint64_t clock_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* One pass of the loop with flags; 0 to go on, -1 when the loop is told to
 * stop or has nothing left to wait for. */
static int loop_pass(int flags)
{
	if (event_base_loop(self->base, flags) != 0)
		return -1;
	activate_reads();
	return event_base_got_break(self->base) || event_base_got_exit(self->base) ? -1 : 0;
}

/* Sleep us microseconds between two polls of busy_poll.  The nap is a
 * timed sleep, not a wait on the event loop: a peer's message arriving
 * meanwhile does not have to wake the worker (it is picked up when the nap
 * ends, with whatever else arrived), so neither side pays for a wake-up.  A
 * signal cuts the nap short; the next pass handles it. */
static void worker_nap(uint64_t us)
{
#ifdef PR_SET_TIMERSLACK
	/* The kernel may stretch a sleep by the thread's timer slack (50 us by
	 * default); keep it to a tenth of the nap so that naps are as long as
	 * configured. */
	static uint64_t slack_for;
	if (us != slack_for) {
		unsigned long slack_ns = us * 100 > 1000 ? (unsigned long)(us * 100) : 1000;
		prctl(PR_SET_TIMERSLACK, slack_ns, 0, 0, 0);
		slack_for = us;
	}
#endif
	struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

/* Close the load window that began at *start and feed it to busy_poll =
 * auto's controller; returns whether the worker polls in the next. */
static int end_load_window(struct pollctl *pc, uint64_t *start, uint64_t now,
                           uint64_t *cpu_start, uint64_t *bytes_start)
{
	uint64_t cpu = clock_us(CLOCK_THREAD_CPUTIME_ID);
	struct pollctl_sample s = {
	    .wall_us = now - *start,
	    .cpu_us = cpu - *cpu_start,
	    .bytes_in = worker_io_bytes - *bytes_start,
	    .conns = worker_load_conns,
	};
	*start = now;
	*cpu_start = cpu;
	*bytes_start = worker_io_bytes;
	worker_load_window++;
	worker_load_conns = 0;
	return pollctl_window(pc, &s);
}

/* Run the loop until it is stopped.  With busy_poll set, a worker that has
 * just done I/O keeps polling without a timeout for that long before it
 * sleeps in epoll_wait: a peer's next message then finds it awake, and
 * neither side pays for waking a sleeping CPU (dear in a virtual machine).
 * With busy_poll_nap it naps that long between polls that found nothing
 * instead of polling back to back: less CPU, and messages that arrive
 * during a nap are handled together.  The cost is CPU time spent polling
 * when traffic pauses, and with naps, up to a nap of delay.  With
 * busy_poll = auto (the default) pollctl.c turns polling with naps on and
 * off by load window, keeping it where it carries more traffic. */
static void worker_loop(void)
{
	struct pollctl pc;
	uint64_t now = clock_us(CLOCK_MONOTONIC), last_io = now, window_start = now;
	uint64_t window_cpu = clock_us(CLOCK_THREAD_CPUTIME_ID), window_bytes = worker_io_bytes;
	uint64_t polled = 0; /* µs of polling not yet in the metrics */
	int engaged = 0;

	pollctl_init(&pc);
	for (;;) {
		/* Copied out: a pass may retire the generation they belong to. */
		const struct server_settings *srv = &self->gen->cfg->server;
		int automatic = srv->busy_poll_auto;
		uint64_t budget = srv->busy_poll_us, nap = srv->busy_poll_nap_us;
		if (automatic) {
			budget = engaged ? POLLCTL_BUDGET_US : 0;
			nap = nap ? nap : POLLCTL_NAP_US;
		}
		unsigned long seen = worker_io_events;
		uint64_t before = now; /* after the last pass, or nap */
		if (loop_pass(budget ? EVLOOP_NONBLOCK : EVLOOP_ONCE) < 0)
			break;
		now = clock_us(CLOCK_MONOTONIC);
		int did_io = worker_io_events != seen;
		if (did_io)
			last_io = now;
		if (automatic && now - window_start >= POLLCTL_WINDOW_US)
			engaged = end_load_window(&pc, &window_start, now, &window_cpu, &window_bytes);
		if (budget)
			polled += now - before;
		if (polled && (!budget || polled >= 100000)) {
			metrics_host_polled(polled);
			polled = 0;
		}
		if (!budget || did_io)
			continue;
		if (now - last_io < budget) {
			if (nap) {
				uint64_t left = budget - (now - last_io);
				worker_nap(nap < left ? nap : left);
			}
			continue;
		}
		if (polled) {
			metrics_host_polled(polled);
			polled = 0;
		}
		seen = worker_io_events;
		if (loop_pass(EVLOOP_ONCE) < 0)
			break;
		now = clock_us(CLOCK_MONOTONIC);
		if (worker_io_events != seen) /* woken by I/O, not by a timer */
			last_io = now;
	}
	if (polled)
		metrics_host_polled(polled);
}

int worker_run(struct generation **genp, int id, worker_reload_fn reload)
{
	static struct worker w;
	char err[1024];
	struct generation *gen = *genp;
	int single = reload != NULL;
	self = &w;
	w.gen = gen;
	w.reload = reload;
	w.id = id;
	w.single = single;
	if (single)
		peerlimit_start(-1);
	w.base = event_base_new();
	if (!w.base) {
		log_error("cannot create the event loop");
		return 1;
	}
	int edge = EV_FEATURE_ET | EV_FEATURE_EARLY_CLOSE;
	w.edge_triggered = (event_base_get_features(w.base) & edge) == edge;
	w.ev_reap = event_new(w.base, -1, 0, reap_cb, NULL);
	w.ev_accept_retry = evtimer_new(w.base, accept_retry_cb, NULL);
	w.ev_limit_retry = evtimer_new(w.base, limit_retry_cb, NULL);
	for (size_t i = 0; i < N_WORKER_SIGNALS; i++) {
		int sig = worker_signals[i];
		if (!single && (sig == SIGINT || sig == SIGHUP))
			continue; /* the master decides what these mean */
		w.ev_signals[i] = evsignal_new(w.base, sig, signal_cb, NULL);
		event_add(w.ev_signals[i], NULL);
	}
	worker_signals_mask(SIG_UNBLOCK);

	w.n_sls = gen->cfg->n_listeners;
	w.sls = calloc(w.n_sls + 1, sizeof(*w.sls));
	for (size_t i = 0; w.sls && i < w.n_sls; i++)
		if (setup_listener(&w.sls[i], gen, i) < 0)
			return 1;
	if (modules_worker_init(gen->mods, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	for (size_t i = 0; i < w.n_sls; i++)
		set_accepting(&w.sls[i], 1);
	status_serving(gen);
	struct shm_slot *slot = shm_self();
	if (slot)
		slot->ready = 1;
	log_debug("worker %d serving generation %u", id, gen->id);

	worker_loop();
	/* The drain is over, and freeing the signal events below puts back
	 * the default actions: a stop signal from the master arriving now
	 * (a second reload) would kill a worker that is leaving cleanly. */
	worker_signals_mask(SIG_BLOCK);

	/* Whatever is still open after the drain limit is cut here; the reap
	 * list only holds connections that are also on the list. */
	w.reap_head = NULL;
	while (w.conns)
		conn_reap(w.conns);
	retire_finished();
	/* Offloaded jobs run module code: each gets its done (a job not
	 * started yet, as cancelled) before the modules' worker_fini.  Jobs
	 * get what the drain left of shutdown_timeout, less a quarter kept
	 * for leaving before the master's stop deadline (the same timeout,
	 * counted from a moment earlier); one still running then keeps the
	 * modules' worker_fini from running. */
	uint64_t budget = w.gen->cfg->server.shutdown_timeout_ms;
	uint64_t spent = w.drain_started_ms ? conn_now_ms() - w.drain_started_ms : 0;
	if (offload_stop(spent < budget ? (budget - spent) / 4 * 3 : 0) == 0) {
		retire_finished(); /* the generations that waited for their jobs */
		modules_worker_fini(w.gen->mods);
		*genp = w.gen;
	} else {
		/* The stuck jobs may still use their modules' state: the
		 * caller must not free it (workers = 0 would, before exit). */
		abandoned = w.gen;
		*genp = NULL;
	}
	teardown();
	msg_pool_clear();
	event_base_free(w.base);
	self = NULL;
	return w.exit_code;
}
