/* host/pollctl.h — `busy_poll = auto`: whether a worker polls with naps or
 * blocks in epoll_wait, decided one load window at a time by trying both.
 * Pure logic, fed by the worker loop (worker.c); doc/internals/host.md,
 * "The worker loop and busy polling", explains the rule. */
#ifndef MH_POLLCTL_H
#define MH_POLLCTL_H

#include <stdint.h>

/* The length of a load window, and what an engaged worker does: poll this
 * long after I/O, napping between polls (unless busy_poll_nap says
 * otherwise). */
#define POLLCTL_WINDOW_US 1000
#define POLLCTL_BUDGET_US 200
#define POLLCTL_NAP_US 20

/* What the worker saw in one window. */
struct pollctl_sample {
	uint64_t wall_us;  /* how long the window lasted */
	uint64_t cpu_us;   /* the worker thread's CPU time in it */
	uint64_t bytes_in; /* bytes read from client connections */
	unsigned conns;    /* distinct connections that had I/O */
};

struct pollctl {
	int engaged;           /* poll with naps (1) or block (0) */
	int probing;           /* trying the other mode against the baseline */
	unsigned settle;       /* windows left before samples count again */
	unsigned until_probe;  /* windows of the current mode before the next probe */
	unsigned interval;     /* the current gap between probes */
	unsigned probe_n;      /* windows measured in this probe */
	double baseline;       /* bytes/us in the current mode, smoothed */
	double probe_sum;      /* sum of bytes/us over the probe's windows */
};

void pollctl_init(struct pollctl *pc);
/* Account one window; returns whether the worker polls in the next. */
int pollctl_window(struct pollctl *pc, const struct pollctl_sample *s);

#endif
