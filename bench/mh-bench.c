/* bench/mh-bench.c — modhost's load generator: many connections on one
 * libevent loop sending request messages of a wire protocol (lenprefix,
 * line or RESP; see bench/proto.c), over TCP or TLS (GnuTLS), checking every
 * reply against what was sent and recording latency
 * in a log-bucketed histogram; or, with --idle, opening connections and
 * holding them idle so a server's memory per connection can be measured.
 *
 * Closed loop (default): each connection keeps -P requests in flight and
 * sends a new one as each reply arrives; latency runs from the send.
 * Open loop (--rate R): requests are scheduled at R per second over all
 * connections, round robin, each at its intended send time; a request
 * waits while its connection already has -P in flight, and its latency runs
 * from the intended time, so a server stall shows up in the percentiles
 * instead of silently slowing the sender (coordinated omission).
 *
 * Protocols are a table of encode-request / parse-reply / expected-reply
 * functions (bench/proto.c).  This file holds the command line, the run's
 * phases and the report; the connections are bench/bench-conn.c, where
 * socket I/O goes through bench_conn_recv / bench_conn_send, which use
 * GnuTLS records on a TLS connection (--tls). */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <gnutls/gnutls.h>

#include "histogram.h"
#include "mh-bench.h"
#include "proto.h"

#define BENCH_STAMP_MAX 11 /* base-32 digits of the sequence number */

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timeval tv_from_ns(uint64_t ns)
{
	struct timeval tv = {.tv_sec = (time_t)(ns / 1000000000u),
	                     .tv_usec = (suseconds_t)(ns % 1000000000u / 1000u)};
	return tv;
}

void bench_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("mh-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* ---- the run ---------------------------------------------------------------------- */

/* Open loop: issue every request whose intended time has come, then sleep
 * until the next one is due. */
static void bench_on_schedule(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	uint64_t now = bench_now_ns();
	double interval = 1e9 / b->o.rate;
	while (!b->stop_issuing && !b->finished) {
		uint64_t due = b->begin_ns + (uint64_t)((double)b->sched_k * interval);
		if (due > now) {
			struct timeval tv = tv_from_ns(due - now);
			evtimer_add(b->sched_ev, &tv);
			return;
		}
		bool measured = due >= b->measure_start_ns;
		if (measured && b->o.duration > 0 && due >= b->measure_end_ns) {
			bench_stop_issuing(b);
			break;
		}
		/* The next live connection, round robin. */
		struct bench_conn *c = NULL;
		for (unsigned tries = 0; tries < b->n_conns && !c; tries++) {
			struct bench_conn *cand = &b->conns[b->sched_rr];
			b->sched_rr = (b->sched_rr + 1) % b->n_conns;
			if (cand->connected)
				c = cand;
		}
		if (!c)
			return; /* every connection is gone; bench_conn_kill finished */
		b->sched_k++;
		bench_conn_issue(c, due, measured);
		bench_conn_fill(c, now);
	}
	if (b->outstanding_measured == 0)
		bench_finish(b);
}

static void bench_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	bench_finish(arg);
}

/* No more requests are issued (the window is over, or -n were issued); the
 * replies still due get at most --drain seconds. */
void bench_stop_issuing(struct bench *b)
{
	if (b->stop_issuing)
		return;
	b->stop_issuing = true;
	struct timeval tv = tv_from_ns((uint64_t)(b->o.drain * 1e9));
	evtimer_add(b->drain_ev, &tv);
}

/* The measurement window (-d) or the idle --hold is over. */
static void bench_on_window_end(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	if (b->o.idle) {
		bench_finish(b);
		return;
	}
	bench_stop_issuing(b);
	if (b->outstanding_measured == 0)
		bench_finish(b);
}

static void bench_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct bench *b = arg;
	fprintf(stderr, "mh-bench: signal %d, stopping\n", (int)sig);
	bench_finish(b);
}

/* Idle mode: every connection is up (and has echoed once with
 * --idle-ping); say so and hold them for --hold seconds. */
static void bench_idle_hold(struct bench *b)
{
	printf("idle: %llu connected, %llu failed\n", (unsigned long long)b->st.connected,
	       (unsigned long long)b->st.connect_errors);
	fflush(stdout);
	struct timeval tv = tv_from_ns((uint64_t)(b->o.hold * 1e9));
	evtimer_add(b->phase_ev, &tv);
}

/* Every connect has finished: start loading (or, idle, hold). */
void bench_begin(struct bench *b)
{
	if (b->o.idle) {
		if (b->started)
			return;
		if (b->o.idle_ping && b->pinged < b->st.connected) {
			if (b->begin_ns) /* pings already sent */
				return;
			b->begin_ns = bench_now_ns();
			for (unsigned i = 0; i < b->n_conns; i++) {
				struct bench_conn *c = &b->conns[i];
				if (!c->connected)
					continue;
				struct bench_req *r = bench_conn_issue(c, b->begin_ns, false);
				if (bench_conn_encode(c, r) < 0)
					bench_die("out of memory");
				c->n_sent++;
				bench_conn_flush(c);
			}
			return;
		}
		b->started = true;
		bench_idle_hold(b);
		return;
	}
	b->started = true;
	if (b->alive == 0) {
		bench_finish(b);
		return;
	}
	uint64_t now = bench_now_ns();
	b->begin_ns = now;
	b->measure_start_ns = now + (uint64_t)(b->o.warmup * 1e9);
	b->measure_end_ns = b->measure_start_ns + (uint64_t)(b->o.duration * 1e9);
	if (b->o.duration > 0) {
		struct timeval tv = tv_from_ns(b->measure_end_ns - now);
		evtimer_add(b->phase_ev, &tv);
	}
	if (b->o.rate > 0) {
		bench_on_schedule(-1, 0, b);
		return;
	}
	for (unsigned i = 0; i < b->n_conns && !b->finished; i++)
		if (b->conns[i].connected)
			bench_conn_fill(&b->conns[i], now);
}

void bench_finish(struct bench *b)
{
	if (b->finished)
		return;
	b->finished = true;
	b->stop_issuing = true;
	b->st.unanswered = b->outstanding_measured;
	event_base_loopbreak(b->base);
}

/* ---- reporting ----------------------------------------------------------------------- */

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void bench_report(struct bench *b)
{
	const struct bench_opts *o = &b->o;
	const struct bench_stats *st = &b->st;
	uint64_t elapsed_ns =
	    b->last_reply_ns > b->measure_start_ns ? b->last_reply_ns - b->measure_start_ns : 0;
	double secs = (double)elapsed_ns / 1e9;
	double rps = secs > 0 ? (double)st->ok / secs : 0;
	double mbs = rps * (double)o->size / 1e6;
	uint64_t errors = st->mismatches + st->lost + st->unanswered + st->protocol_errors;
	struct histogram *h = b->hist;
	if (o->json) {
		printf("{\"proto\":\"%s\",\"tls\":%s,\"host\":\"%s\",\"port\":\"%s\","
		       "\"connections\":%u,"
		       "\"pipeline\":%u,\"size\":%zu,\"mode\":\"%s\",\"rate\":%.1f,"
		       "\"warmup_s\":%.3f,\"elapsed_s\":%.6f,\"requests\":%llu,\"errors\":%llu,"
		       "\"mismatches\":%llu,\"lost\":%llu,\"unanswered\":%llu,"
		       "\"protocol_errors\":%llu,\"closed\":%llu,\"connect_errors\":%llu,"
		       "\"total_replies\":%llu,"
		       "\"rps\":%.1f,\"mb_s\":%.3f,\"latency_us\":{\"min\":%.1f,\"mean\":%.1f,"
		       "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
		       "\"send_lag_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}\n",
		       o->proto->name, o->tls ? "true" : "false", o->host, o->port, o->conns,
		       o->pipeline, o->size, o->rate > 0 ? "open" : "closed", o->rate, o->warmup,
		       secs, (unsigned long long)st->ok, (unsigned long long)errors,
		       (unsigned long long)st->mismatches, (unsigned long long)st->lost,
		       (unsigned long long)st->unanswered, (unsigned long long)st->protocol_errors,
		       (unsigned long long)st->closed, (unsigned long long)st->connect_errors,
		       (unsigned long long)st->total_replies, rps, mbs, us(histogram_min(h)),
		       histogram_mean(h) / 1000.0, us(histogram_percentile(h, 50)),
		       us(histogram_percentile(h, 90)), us(histogram_percentile(h, 99)),
		       us(histogram_percentile(h, 99.9)), us(histogram_max(h)),
		       us(histogram_percentile(b->lag, 50)), us(histogram_percentile(b->lag, 99)),
		       us(histogram_max(b->lag)));
		return;
	}
	printf("mh-bench: %s%s to %s:%s, %u connections, pipeline %u, %zu-byte payload, ",
	       o->proto->name, o->tls ? " over TLS" : "", o->host, o->port, o->conns, o->pipeline,
	       o->size);
	if (o->rate > 0)
		printf("open loop at %.0f req/s\n", o->rate);
	else
		printf("closed loop\n");
	printf("  elapsed      %.3f s (after %.1f s warmup)\n", secs, o->warmup);
	printf("  requests     %llu ok, %llu errors (%llu mismatched, %llu lost, %llu unanswered, "
	       "%llu protocol), %llu connections closed, %llu connect errors\n",
	       (unsigned long long)st->ok, (unsigned long long)errors,
	       (unsigned long long)st->mismatches, (unsigned long long)st->lost,
	       (unsigned long long)st->unanswered, (unsigned long long)st->protocol_errors,
	       (unsigned long long)st->closed, (unsigned long long)st->connect_errors);
	printf("  throughput   %.1f req/s, %.2f MB/s of payload each way\n", rps, mbs);
	printf("  latency us   p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f)\n",
	       us(histogram_percentile(h, 50)), us(histogram_percentile(h, 90)),
	       us(histogram_percentile(h, 99)), us(histogram_percentile(h, 99.9)),
	       us(histogram_max(h)), histogram_mean(h) / 1000.0);
	if (o->rate > 0) /* how late requests left: generator delay or a full pipeline */
		printf("  send lag us  p50 %.1f  p99 %.1f  max %.1f\n",
		       us(histogram_percentile(b->lag, 50)), us(histogram_percentile(b->lag, 99)),
		       us(histogram_max(b->lag)));
}

/* ---- command line ---------------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: mh-bench [options]\n"
	        "  --host H          server address (default 127.0.0.1)\n"
	        "  --port P          server port (default 7000)\n"
	        "  --proto NAME      lenprefix | line | resp | resp-set | resp-get | resp-ping\n"
	        "                    (default lenprefix; see bench/proto.c)\n"
	        "  -c N              connections (default 50)\n"
	        "  -P N              requests in flight per connection (default 1)\n"
	        "  -s BYTES          payload size (default 64)\n"
	        "  -d SECONDS        measure for this long (default 10)\n"
	        "  -n N              or: measure exactly N requests\n"
	        "  --rate R          open loop at R requests/s in total (default: closed loop)\n"
	        "  --warmup SECONDS  load before measuring (default 0)\n"
	        "  --drain SECONDS   wait this long for the last replies (default 10)\n"
	        "  --json            print the result as one JSON object\n"
	        "  --idle N          open N connections and hold them idle\n"
	        "  --hold SECONDS    how long --idle holds them (default 3600; SIGTERM ends it)\n"
	        "  --idle-ping       with --idle: one echo per connection before holding\n"
	        "  --tls             speak TLS (GnuTLS) on every connection\n"
	        "  --tls-ca FILE     verify the server's certificate chain against FILE (PEM);\n"
	        "                    without it the certificate is not checked\n"
	        "  --sni NAME        send NAME as the server name (checked with --tls-ca)\n"
	        "  --tls-priority S  GnuTLS priority string (default NORMAL)\n");
}

static double parse_num(const char *s, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0)
		bench_die("bad %s '%s'", what, s);
	return v;
}

static void parse_args(struct bench_opts *o, int argc, char **argv)
{
	enum {
		OPT_HOST = 256,
		OPT_PORT,
		OPT_PROTO,
		OPT_RATE,
		OPT_WARMUP,
		OPT_DRAIN,
		OPT_JSON,
		OPT_IDLE,
		OPT_HOLD,
		OPT_PING,
		OPT_TLS,
		OPT_TLS_CA,
		OPT_SNI,
		OPT_TLS_PRIO
	};
	static const struct option longopts[] = {
	    {"host", required_argument, NULL, OPT_HOST},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"proto", required_argument, NULL, OPT_PROTO},
	    {"rate", required_argument, NULL, OPT_RATE},
	    {"warmup", required_argument, NULL, OPT_WARMUP},
	    {"drain", required_argument, NULL, OPT_DRAIN},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"idle", required_argument, NULL, OPT_IDLE},
	    {"hold", required_argument, NULL, OPT_HOLD},
	    {"idle-ping", no_argument, NULL, OPT_PING},
	    {"tls", no_argument, NULL, OPT_TLS},
	    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
	    {"sni", required_argument, NULL, OPT_SNI},
	    {"tls-priority", required_argument, NULL, OPT_TLS_PRIO},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	*o = (struct bench_opts){.host = "127.0.0.1",
	                         .port = "7000",
	                         .proto = proto_default(),
	                         .tls_priority = "NORMAL",
	                         .conns = 50,
	                         .pipeline = 1,
	                         .size = 64,
	                         .duration = 10,
	                         .drain = 10,
	                         .hold = 3600};
	bool have_n = false, have_d = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:P:s:d:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_HOST: o->host = optarg; break;
		case OPT_PORT: o->port = optarg; break;
		case OPT_PROTO:
			o->proto = proto_find(optarg);
			if (!o->proto)
				bench_die("unknown protocol '%s' (%s)", optarg, proto_names());
			break;
		case OPT_RATE: o->rate = parse_num(optarg, "--rate"); break;
		case OPT_WARMUP: o->warmup = parse_num(optarg, "--warmup"); break;
		case OPT_DRAIN: o->drain = parse_num(optarg, "--drain"); break;
		case OPT_JSON: o->json = true; break;
		case OPT_IDLE: o->idle = (unsigned)parse_num(optarg, "--idle"); break;
		case OPT_HOLD: o->hold = parse_num(optarg, "--hold"); break;
		case OPT_PING: o->idle_ping = true; break;
		case OPT_TLS: o->tls = true; break;
		case OPT_TLS_CA: o->tls_ca = optarg; break;
		case OPT_SNI: o->sni = optarg; break;
		case OPT_TLS_PRIO: o->tls_priority = optarg; break;
		case 'c': o->conns = (unsigned)parse_num(optarg, "-c"); break;
		case 'P': o->pipeline = (unsigned)parse_num(optarg, "-P"); break;
		case 's': o->size = (size_t)parse_num(optarg, "-s"); break;
		case 'd':
			o->duration = parse_num(optarg, "-d");
			have_d = true;
			break;
		case 'n':
			o->total = (uint64_t)parse_num(optarg, "-n");
			have_n = true;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		bench_die("unexpected argument '%s'", argv[optind]);
	if (have_n && have_d)
		bench_die("give -d or -n, not both");
	if (have_n) {
		o->duration = 0;
		if (o->total == 0)
			bench_die("-n must be at least 1");
	}
	if (o->idle)
		o->conns = o->idle;
	if (o->conns == 0 || o->pipeline == 0)
		bench_die("-c and -P must be at least 1");
	if (!have_n && o->duration <= 0 && !o->idle)
		bench_die("-d must be more than 0");
	if (o->size > UINT32_MAX)
		bench_die("-s is too large");
	if ((o->tls_ca || o->sni) && !o->tls)
		bench_die("--tls-ca and --sni need --tls");
}

/* Raise the soft open-file limit to the hard one: 10,000 connections need
 * more than the usual 1024. */
static void raise_nofile(unsigned want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + 16)
		fprintf(stderr, "mh-bench: warning: open-file limit %llu is below %u connections\n",
		        (unsigned long long)rl.rlim_cur, want);
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	parse_args(&b.o, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(b.o.conns);

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	int gai = getaddrinfo(b.o.host, b.o.port, &hints, &b.ai);
	if (gai)
		bench_die("%s:%s: %s", b.o.host, b.o.port, gai_strerror(gai));

	if (b.o.tls) {
		const char *where;
		if (gnutls_certificate_allocate_credentials(&b.cred) < 0)
			bench_die("out of memory");
		if (b.o.tls_ca && gnutls_certificate_set_x509_trust_file(b.cred, b.o.tls_ca,
		                                                         GNUTLS_X509_FMT_PEM) <= 0)
			bench_die("--tls-ca %s: no certificate could be read", b.o.tls_ca);
		if (gnutls_priority_init(&b.prio, b.o.tls_priority, &where) < 0)
			bench_die("bad --tls-priority at '%s'", where);
	}

	struct event_config *cfg = event_config_new();
	if (!cfg)
		bench_die("out of memory");
	if (b.o.rate > 0) /* timerfd: sub-millisecond send schedule */
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	b.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!b.base)
		bench_die("cannot create the event loop");

	b.n_conns = b.o.conns;
	b.conns = calloc(b.n_conns, sizeof(*b.conns));
	b.pattern = malloc(b.o.size ? b.o.size : 1);
	b.scratch = malloc(b.o.size ? b.o.size : 1);
	b.readbuf = malloc(BENCH_READ_CHUNK);
	b.hist = histogram_new();
	b.lag = histogram_new();
	if (!b.conns || !b.pattern || !b.scratch || !b.readbuf || !b.hist || !b.lag)
		bench_die("out of memory");
	for (size_t i = 0; i < b.o.size; i++) /* printable, so every protocol can carry it */
		b.pattern[i] = (uint8_t)('A' + (i * 7 + i / 26) % 26);
	b.stamp_len = b.o.size < BENCH_STAMP_MAX ? b.o.size : BENCH_STAMP_MAX;

	b.phase_ev = evtimer_new(b.base, bench_on_window_end, &b);
	b.drain_ev = evtimer_new(b.base, bench_on_drain_timeout, &b);
	b.sched_ev = evtimer_new(b.base, bench_on_schedule, &b);
	b.sig_int = evsignal_new(b.base, SIGINT, bench_on_signal, &b);
	b.sig_term = evsignal_new(b.base, SIGTERM, bench_on_signal, &b);
	if (!b.phase_ev || !b.drain_ev || !b.sched_ev || !b.sig_int || !b.sig_term)
		bench_die("cannot create events");
	event_add(b.sig_int, NULL);
	event_add(b.sig_term, NULL);

	bench_conn_start_connects(&b);
	if (!b.finished)
		event_base_dispatch(b.base);

	int rc = 0;
	if (b.o.idle) {
		printf("idle: released %llu connections (%llu closed by the server meanwhile)\n",
		       (unsigned long long)b.st.connected, (unsigned long long)b.st.closed);
		rc = b.st.connected == b.o.idle && b.st.closed == 0 ? 0 : 1;
	} else {
		bench_report(&b);
		uint64_t errors =
		    b.st.mismatches + b.st.lost + b.st.unanswered + b.st.protocol_errors;
		rc = errors || b.st.connect_errors || b.st.ok == 0 ? 1 : 0;
	}
	for (unsigned i = 0; i < b.n_conns; i++)
		bench_conn_release(&b.conns[i]);
	event_free(b.phase_ev);
	event_free(b.drain_ev);
	event_free(b.sched_ev);
	event_free(b.sig_int);
	event_free(b.sig_term);
	event_base_free(b.base);
	freeaddrinfo(b.ai);
	if (b.o.tls) {
		gnutls_certificate_free_credentials(b.cred);
		gnutls_priority_deinit(b.prio);
	}
	histogram_free(b.hist);
	histogram_free(b.lag);
	free(b.conns);
	free(b.pattern);
	free(b.scratch);
	free(b.readbuf);
	return rc;
}
