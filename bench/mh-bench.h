/* bench/mh-bench.h — what the load generator's two files share: the
 * options, counters and state of a run and of its connections, the run's
 * phases (bench/mh-bench.c, with the command line and the report) and the
 * connections (bench/bench-conn.c: connects, TLS, socket I/O, pipelining
 * and reply checking). */
#ifndef MH_BENCH_H
#define MH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "proto.h"

#define BENCH_READ_CHUNK (256 * 1024)

struct addrinfo;
struct event;
struct event_base;
struct histogram;

/* ---- state ------------------------------------------------------------------ */

/* One request: sent, or (open loop) waiting for a free pipeline slot. */
struct bench_req {
	uint64_t seq;
	uint64_t start_ns; /* send time (closed loop) or intended time (open) */
	bool measured;     /* issued inside the measurement window */
};

struct bench;

struct bench_conn {
	struct bench *b;
	int fd;
	bool connected, dead;
	struct event *rev, *wev;
	struct event *hev;    /* TLS handshake: one-shot read or write wait */
	gnutls_session_t tls; /* NULL on plain TCP */
	size_t tls_again;     /* bytes of a record send to resume (EAGAIN) */
	bool wev_added;
	struct bytes in, out;
	struct bench_req *ring; /* requests in order: n_sent sent, then waiting */
	uint32_t ring_cap, head, n_sent, n_total;
	uint64_t next_seq;
};

struct bench_opts {
	const char *host, *port;
	const struct proto *proto;
	unsigned conns, pipeline;
	size_t size;
	double duration, warmup, rate, drain;
	uint64_t total; /* -n; 0 = use duration */
	bool json;
	unsigned idle; /* --idle N: hold N connections instead of loading */
	double hold;
	bool idle_ping;
	bool tls;           /* --tls */
	const char *tls_ca; /* --tls-ca: verify the server's chain against it */
	const char *sni;    /* --sni: server name sent (and verified with --tls-ca) */
	const char *tls_priority;
};

struct bench_stats {
	uint64_t ok, mismatches, lost, unanswered, protocol_errors, closed;
	uint64_t connect_errors, connected;
	uint64_t total_replies; /* every reply, warmup included */
};

struct bench {
	struct bench_opts o;
	struct event_base *base;
	struct bench_conn *conns;
	unsigned n_conns, next_connect, connecting, alive;
	struct addrinfo *ai;
	uint8_t *pattern, *scratch, *readbuf;
	size_t stamp_len;
	struct histogram *hist;
	struct histogram *lag; /* open loop: send time minus intended time */
	struct bench_stats st;
	uint64_t begin_ns, measure_start_ns, measure_end_ns, last_reply_ns;
	uint64_t issued_measured, outstanding_measured;
	bool started, stop_issuing, finished;
	/* open loop */
	struct event *sched_ev;
	uint64_t sched_k;  /* requests scheduled so far */
	unsigned sched_rr; /* next connection, round robin */
	struct event *phase_ev, *drain_ev, *sig_int, *sig_term;
	unsigned pinged; /* --idle-ping: connections whose echo came back */
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
};

/* ---- bench/mh-bench.c: the run -------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);
/* Print "mh-bench: " and the message on stderr, and exit with status 2. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Every connect has finished: start loading (or, idle, hold). */
void bench_begin(struct bench *b);
/* End the run: what is still due counts as unanswered, the loop stops. */
void bench_finish(struct bench *b);
/* No more requests are issued; the replies still due get at most --drain
 * seconds. */
void bench_stop_issuing(struct bench *b);

/* ---- bench/bench-conn.c: the connections ------------------------------------------ */

/* Start connects until a window of them is in progress; when every
 * connection has been tried and none is pending, call bench_begin. */
void bench_conn_start_connects(struct bench *b);
/* Queue a new request on c, sent (or due, in the open loop) at start_ns;
 * a measured one is counted, and issuing stops at --requests.  Returns its
 * ring entry; exits when out of memory. */
struct bench_req *bench_conn_issue(struct bench_conn *c, uint64_t start_ns, bool measured);
/* Free what c holds: its events, TLS session, socket, buffers and ring.
 * Safe on a connection never opened (calloc'ed: fd 0 is not its own) and
 * on one already released. */
void bench_conn_release(struct bench_conn *c);
/* Encode the request of entry r into c's output: 0, or -1 out of memory. */
int bench_conn_encode(struct bench_conn *c, const struct bench_req *r);
/* Put requests on the wire up to the pipeline depth (see bench-conn.c). */
void bench_conn_fill(struct bench_conn *c, uint64_t now);
/* Write c's pending output; wait for writability if the socket is full. */
void bench_conn_flush(struct bench_conn *c);

#endif
