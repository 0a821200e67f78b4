/* tests/integration/check_admin.c — the admin plane against the real
 * modhostd: Prometheus scrapes whose counters match the traffic sent
 * (summed over workers, across a worker crash and reloads) and pass
 * `promtool check metrics`; the health checks during start, serve and
 * drain; the /status JSON.  Scrapes over lenprefix need only the bundled
 * codecs; what speaks HTTP uses curl against the http1 codec and is
 * skipped, saying so, when http1.so is not built.  check_accesslog.c has
 * the access log; adminclient.c the helpers both use. */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adminclient.h"
#include "modhost-t.h"

/* ---- metrics ---------------------------------------------------------------- */

#define CONF_SCRAPE                                                                                \
	"[module lenprefix]\n[module echo]\n[module prometheus]\n"                                 \
	"[module testhandler]\nfile = %s\nlog_connections = yes\n"                                 \
	"[listener echo]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = echo\n"               \
	"[listener scrape]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = prometheus\n"

/* 37 echo messages over connections held by both workers: every counter of
 * the echo listener matches what was sent, summed over the two workers. */
START_TEST(test_scrape_counts_echo_traffic_over_two_workers)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_HEAD("2") CONF_SCRAPE, harness_test_module("testhandler"));
	int echo = harness_port(d, "echo"), scrape = harness_port(d, "scrape");
	int fds[64];
	pid_t owners[64];
	size_t k = 0;
	/* Connect until both workers hold a connection. */
	for (int both = 0; !both; k++) {
		harness_assert(k < 64, "64 connections all went to one worker");
		fds[k] = harness_connect(echo);
		harness_assert(fds[k] >= 0, "connect: %s", strerror(errno));
		owners[k] = harness_connection_owner(d, fds[k]);
		both = k > 0 && owners[k] != owners[0];
	}
	uint64_t bytes = 0;
	char payload[64];
	for (int i = 0; i < 37; i++) {
		int n = snprintf(payload, sizeof(payload), "message %d of 37", i);
		int r = harness_echo_frame(fds[(size_t)i % k], payload, (size_t)n, IO_MS);
		harness_assert(r == HARNESS_OK, "echo %d: %s", i, harness_io_name(r));
		bytes += 4 + (uint64_t)n;
	}
	char *t = admin_scrape_frames(scrape);
	admin_expect_sample(t, "modhost_messages_in_total{listener=\"echo\"}", 37);
	admin_expect_sample(t, "modhost_messages_out_total{listener=\"echo\"}", 37);
	admin_expect_sample(t, "modhost_bytes_in_total{listener=\"echo\"}", (double)bytes);
	admin_expect_sample(t, "modhost_bytes_out_total{listener=\"echo\"}", (double)bytes);
	admin_expect_sample(t, "modhost_connections_accepted_total{listener=\"echo\"}", (double)k);
	admin_expect_sample(t, "modhost_connections_active{listener=\"echo\"}", (double)k);
	admin_expect_sample(t, "modhost_connections_closed_total{listener=\"echo\"}", 0);
	admin_expect_sample(t, "modhost_requests_total{listener=\"echo\",route=\"\",code=\"200\"}", 37);
	admin_expect_sample(t, "modhost_request_duration_seconds_count{listener=\"echo\",route=\"\"}",
	              37);
	admin_expect_sample(t,
	              "modhost_request_duration_seconds_bucket{listener=\"echo\",route=\"\","
	              "le=\"+Inf\"}",
	              37);
	admin_expect_sample(
	    t, "modhost_module_hook_duration_seconds_count{module=\"echo\",hook=\"handle\"}", 37);
	admin_expect_sample(t, "modhost_metric_series_dropped_total", 0);
	admin_expect_sample(t, "modhost_worker_restarts_total", 0);
	admin_promtool_ok(t);
	free(t);

	/* Closing: the scrape eventually shows every connection closed. */
	for (size_t i = 0; i < k; i++)
		close(fds[i]);
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	for (;;) {
		t = admin_scrape_frames(scrape);
		if (admin_sample(t, "modhost_connections_closed_total{listener=\"echo\"}") == (double)k)
			break;
		harness_assert(harness_now_ms() < deadline, "connections not all closed:\n%s", t);
		free(t);
	}
	admin_expect_sample(t, "modhost_connections_active{listener=\"echo\"}", 0);
	/* One scrape is decoded per connection: every earlier one is counted. */
	harness_assert(admin_sample(t, "modhost_messages_in_total{listener=\"scrape\"}") >= 2,
	               "scrapes not counted");
	free(t);
}
END_TEST

/* A worker that crashes takes its connections (gauges) with it, but not
 * what it counted; the restart is counted. */
START_TEST(test_crash_keeps_counters_and_counts_the_restart)
{
	harness_expect_crashes();
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("2") "[module lenprefix]\n[module prometheus]\n"
	                   "[module testhandler]\nfile = %s\nlog_connections = yes\n"
	                   "[listener frames]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"
	                   "handler = testhandler\n"
	                   "[listener scrape]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"
	                   "handler = prometheus\n",
	    harness_test_module("testhandler"));
	harness_expect_errors(d, "worker [0-9]+ \\(pid [0-9]+\\) killed by signal");
	int frames = harness_port(d, "frames"), scrape = harness_port(d, "scrape");
	int fd = harness_connect(frames);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	harness_connection_owner(d, fd);
	for (int i = 0; i < 5; i++) {
		int r = harness_echo_frame(fd, "before", 6, IO_MS);
		harness_assert(r == HARNESS_OK, "echo: %s", harness_io_name(r));
	}
	size_t from = harness_log_size(d);
	int r = harness_send_frame(fd, "crash", 5, IO_MS);
	harness_assert(r == HARNESS_OK, "send crash: %s", harness_io_name(r));
	harness_wait_log(d, from, "killed by signal [0-9]+ .* restarting in");
	close(fd);
	char *t = admin_scrape_frames(scrape);
	admin_expect_sample(t, "modhost_worker_restarts_total", 1);
	admin_expect_sample(t, "modhost_messages_in_total{listener=\"frames\"}", 6);
	admin_expect_sample(t, "modhost_messages_out_total{listener=\"frames\"}", 5);
	admin_expect_sample(t, "modhost_connections_accepted_total{listener=\"frames\"}", 1);
	admin_expect_sample(t, "modhost_connections_active{listener=\"frames\"}", 0);
	admin_promtool_ok(t);
	free(t);
}
END_TEST

#define CONF_RELOAD(extra)                                                                         \
	CONF_HEAD("2")                                                                             \
	"[module lenprefix]\n[module echo]\n[module prometheus]\n" extra                           \
	"[listener echo]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = echo\n"               \
	"[listener scrape]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"                             \
	"handler = prometheus\n"

static void echo_n(int port, int n)
{
	int fd = harness_connect(port);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		int r = harness_echo_frame(fd, "x", 1, IO_MS);
		harness_assert(r == HARNESS_OK, "echo: %s", harness_io_name(r));
	}
	close(fd);
}

/* A reload refused for a module that cannot load, then a good one: both
 * are counted, and what the first generation counted stays. */
START_TEST(test_reloads_and_module_load_failures_are_counted)
{
	struct harness_daemon *d = harness_start_ready(CONF_RELOAD(""));
	harness_expect_errors(d, "reload failed: .*module 'ghost'");
	int echo = harness_port(d, "echo"), scrape = harness_port(d, "scrape");
	echo_n(echo, 5);

	size_t from = harness_log_size(d);
	harness_rewrite_config(d, CONF_RELOAD("[module ghost]\nfile = /nonexistent/ghost.so\n"));
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from, "reload failed: .*module 'ghost' \\(/nonexistent/ghost\\.so\\)");
	char *t = admin_scrape_frames(scrape);
	admin_expect_sample(t, "modhost_reloads_total{result=\"failed\"}", 1);
	admin_expect_sample(t, "modhost_reloads_total{result=\"ok\"}", 0);
	admin_expect_sample(t, "modhost_module_load_failures_total{module=\"ghost\"}", 1);
	free(t);

	from = harness_log_size(d);
	harness_rewrite_config(d, CONF_RELOAD(""));
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from, "generation 2 ready");
	/* Once the old workers are gone, every connection is a new worker's
	 * (a draining one would close it after its first reply). */
	harness_wait_log_n(d, from, "generation 1\\) finished", 2);
	echo_n(echo, 3);
	t = admin_scrape_frames(scrape);
	admin_expect_sample(t, "modhost_reloads_total{result=\"ok\"}", 1);
	admin_expect_sample(t, "modhost_reloads_total{result=\"failed\"}", 1);
	admin_expect_sample(t, "modhost_messages_in_total{listener=\"echo\"}", 8);
	admin_expect_sample(t, "modhost_connections_accepted_total{listener=\"echo\"}", 2);
	admin_promtool_ok(t);
	free(t);
}
END_TEST

/* A module making series with values from requests cannot exhaust the
 * host: past the table's capacity, new series are dropped and counted, the
 * host serves on and the exposition stays valid. */
START_TEST(test_full_series_table_drops_and_counts)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD(
	        "1") "[module lenprefix]\n[module prometheus]\n[module admintest]\nfile = %s\n"
	             "[listener values]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"
	             "handler = admintest\n"
	             "[listener scrape]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"
	             "handler = prometheus\n",
	    harness_test_module("admintest"));
	int port = harness_port(d, "values"), scrape = harness_port(d, "scrape");
	int fd = harness_connect(port);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	char v[64];
	for (int i = 0; i < 4400; i++) {
		int n = snprintf(v, sizeof(v), "metric:v%d", i);
		int r = harness_send_frame(fd, v, (size_t)n, IO_MS);
		harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
		char *reply;
		size_t len;
		r = harness_recv_frame(fd, &reply, &len, IO_MS);
		harness_assert(r == HARNESS_OK && strcmp(reply, "ok") == 0, "value %d: %s", i,
		               harness_io_name(r));
		free(reply);
	}
	close(fd);
	char *t = admin_scrape_frames(scrape);
	admin_expect_sample(t, "admintest_values_total{value=\"v0\"}", 1);
	harness_assert(admin_sample(t, "modhost_metric_series_dropped_total") >= 300,
	               "dropped series not counted");
	harness_assert(strstr(t, "admintest_values_total{value=\"v4399\"}") == NULL,
	               "a series past the table's capacity exists");
	admin_promtool_ok(t);
	free(t);
}
END_TEST

/* Scrape until series reaches at least want (it is recorded by an event
 * the client cannot see, e.g. a paused accept); returns the scrape. */
static char *scrape_until(int port, const char *series, double want)
{
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	for (;;) {
		char *t = admin_scrape_frames(port);
		if (strstr(t, series) && admin_sample(t, series) >= want)
			return t;
		harness_assert(harness_now_ms() < deadline, "%s never reached %g:\n%s", series,
		               want, t);
		free(t);
	}
}

/* Time spent busy polling is counted: a worker that polls 300 ms after
 * every scrape shows it in the scrapes that follow; one with busy_poll = off
 * (and one whose busy_poll = auto has too few connections to try) never
 * does. */
#define CONF_POLL(busy_poll)                                                                       \
	"[server]\nworkers = 1\nshutdown_timeout = 5s\nbusy_poll = " busy_poll "\n"                  \
	"[log]\nlevel = info\nformat = text\n[module lenprefix]\n[module prometheus]\n"             \
	"[listener scrape]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = prometheus\n"

START_TEST(test_busy_poll_time_is_counted)
{
	struct harness_daemon *d = harness_start_ready(CONF_POLL("300ms"));
	char *t = scrape_until(harness_port(d, "scrape"), "modhost_busy_poll_seconds_total", 0.1);
	admin_promtool_ok(t);
	free(t);
	harness_stop(d);

	const char *quiet[] = {CONF_POLL("off"), CONF_POLL("auto")};
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
		d = harness_start_ready("%s", quiet[i]);
		int scrape = harness_port(d, "scrape");
		for (int k = 0; k < 20; k++)
			free(admin_scrape_frames(scrape));
		t = admin_scrape_frames(scrape);
		harness_assert(strstr(t, "\nmodhost_busy_poll_seconds_total "),
		               "no busy_poll series:\n%s", t);
		admin_expect_sample(t, "modhost_busy_poll_seconds_total", 0);
		free(t);
		harness_stop(d);
	}
}
END_TEST

/* Each limit a client can run into is counted by name. */
START_TEST(test_limit_hits_are_counted)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") "[module lenprefix]\nmax_frame = 64\n[module prometheus]\n"
	                   "[module testhandler]\nfile = %s\n"
	                   "[listener slow]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"
	                   "handler = testhandler\nmax_inflight = 2\nmax_connections = 1\n"
	                   "[listener scrape]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"
	                   "handler = prometheus\n",
	    harness_test_module("testhandler"));
	int port = harness_port(d, "slow"), scrape = harness_port(d, "scrape");

	/* Four pipelined requests in one write, two allowed in flight. */
	int fd = harness_connect(port);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	char burst[4 * 16];
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		static const char p[] = "sleep:20:abc";
		uint32_t len = htonl(sizeof(p) - 1);
		memcpy(burst + n, &len, 4);
		memcpy(burst + n + 4, p, sizeof(p) - 1);
		n += 4 + sizeof(p) - 1;
	}
	int r = harness_send_all(fd, burst, n, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	for (int i = 0; i < 4; i++) {
		char *got;
		size_t len;
		r = harness_recv_frame(fd, &got, &len, IO_MS);
		harness_assert(r == HARNESS_OK && strcmp(got, "abc") == 0, "reply %d: %s", i,
		               harness_io_name(r));
		free(got);
	}

	/* A second connection waits for the only one allowed. */
	int fd2 = harness_connect(port);
	harness_assert(fd2 >= 0, "connect: %s", strerror(errno));
	char *t = scrape_until(
	    scrape, "modhost_limit_hits_total{listener=\"slow\",limit=\"max_connections\"}", 1);
	harness_assert(
	    admin_sample(t, "modhost_limit_hits_total{listener=\"slow\",limit=\"max_inflight\"}") >= 1,
	    "max_inflight not counted");
	free(t);
	close(fd);

	/* A frame over max_frame closes the connection. */
	uint32_t huge = htonl(1000);
	r = harness_send_all(fd2, &huge, 4, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	r = harness_wait_closed(fd2, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "not closed: %s",
	               harness_io_name(r));
	close(fd2);
	t = admin_scrape_frames(scrape);
	admin_expect_sample(t, "modhost_limit_hits_total{listener=\"slow\",limit=\"message_size\"}", 1);
	admin_expect_sample(t, "modhost_messages_in_total{listener=\"slow\"}", 4);
	admin_promtool_ok(t);
	free(t);
}
END_TEST

/* ---- health and status -------------------------------------------------------- */

/* Worker 1 is held in worker_init at a FIFO while worker 0 serves: the
 * host is starting; once the gate opens it is ready. */
START_TEST(test_health_while_starting_then_ready)
{
	if (!admin_have_http1(__func__))
		return;
	char *fifo = harness_tmpfile("gate");
	harness_assert(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
	struct harness_daemon *d = harness_start(CONF_HEAD("2") CONF_ADMIN
	                                         "[module admintest]\nfile = %s\ngate_fifo = %s\n"
	                                         "gate_worker = 1\n",
	                                         harness_test_module("admintest"), fifo);
	harness_wait_log(d, 0, "worker\\.1\\[[0-9]+\\]: module admintest: waiting at the gate");
	int port = harness_port(d, "admin");

	admin_expect_http(port, "/health/live", 200, "live\n");
	admin_expect_http(port, "/health/ready", 503, "starting\n");
	admin_expect_http(port, "/health/startup", 503, "starting\n");
	struct admin_http h = admin_curl(port, "/status", NULL);
	harness_assert(h.code == 200, "/status: %d", h.code);
	char *json = harness_tmpfile("status.json");
	harness_write_file(json, "%s", h.body);
	char *out = admin_python("import json, sys\n"
	                   "d = json.load(open(sys.argv[1]))\n"
	                   "print('state=' + d['state'])\n"
	                   "print('ready=%d' % sum(1 for w in d['workers'] if w['ready']))\n"
	                   "print('waiting=%d' % sum(1 for w in d['workers'] if not w['ready']))\n",
	                   json);
	admin_expect_line(out, "state=starting");
	admin_expect_line(out, "ready=1");
	admin_expect_line(out, "waiting=1");
	free(out);
	admin_http_free(&h);

	int fd = open(fifo, O_WRONLY | O_CLOEXEC); /* the gate opens when this closes */
	harness_assert(fd >= 0, "open %s: %s", fifo, strerror(errno));
	close(fd);
	harness_wait_log(d, 0, "generation 1 ready: 2 workers serving");
	admin_expect_http(port, "/health/ready", 200, "ready\n");
	admin_expect_http(port, "/health/startup", 200, "started\n");
	admin_expect_http(port, "/health/nothing", 404, NULL);
	free(json);
	free(fifo);
}
END_TEST

/* Read from fd until the peer closes; returns what arrived (malloc'ed). */
static char *recv_all(int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	harness_assert(buf != NULL, "out of memory");
	uint64_t deadline = harness_now_ms() + IO_MS;
	for (;;) {
		harness_assert(harness_now_ms() < deadline, "no close after:\n%.*s", (int)len, buf);
		int r = harness_recv_exact(fd, buf + len, 1, IO_MS);
		if (r == HARNESS_EOF)
			break;
		harness_assert(r == HARNESS_OK, "receive: %s", harness_io_name(r));
		if (++len + 1 == cap) {
			buf = realloc(buf, cap *= 2);
			harness_assert(buf != NULL, "out of memory");
		}
	}
	buf[len] = '\0';
	return buf;
}

/* While the host drains (SIGTERM), a connection it accepted before asks:
 * live is 200, ready is 503 "draining", /status says draining. */
START_TEST(test_health_while_draining)
{
	if (!admin_have_http1(__func__))
		return;
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") CONF_ADMIN "[module testhandler]\nfile = %s\nlog_connections = yes\n",
	    harness_test_module("testhandler"));
	int port = harness_port(d, "admin");
	admin_expect_http(port, "/health/ready", 200, "ready\n");
	admin_expect_http(port, "/health/startup", 200, "started\n");
	/* Accepted, and nothing asked yet: the drain keeps it open. */
	int fd = harness_connect(port);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	harness_connection_owner(d, fd);
	size_t from = harness_log_size(d);
	harness_signal(d, SIGTERM);
	harness_wait_log(d, from, "worker\\.0\\[[0-9]+\\]: draining");

	const char *reqs = "GET /health/live HTTP/1.1\r\nHost: a\r\n\r\n"
	                   "GET /health/ready HTTP/1.1\r\nHost: a\r\n\r\n"
	                   "GET /status HTTP/1.1\r\nHost: a\r\n\r\n";
	int r = harness_send_all(fd, reqs, strlen(reqs), IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	char *got = recv_all(fd);
	close(fd);
	char *live = strstr(got, "HTTP/1.1 ");
	char *ready = live ? strstr(live + 1, "HTTP/1.1 ") : NULL;
	char *status = ready ? strstr(ready + 1, "HTTP/1.1 ") : NULL;
	harness_assert(live && ready && status, "three responses expected, got:\n%s", got);
	harness_assert(strncmp(live, "HTTP/1.1 200", 12) == 0, "live: %.40s", live);
	harness_assert(strncmp(ready, "HTTP/1.1 503", 12) == 0, "ready: %.40s", ready);
	harness_assert(strstr(ready, "\r\n\r\ndraining\n") != NULL, "ready body:\n%s", ready);
	harness_assert(strncmp(status, "HTTP/1.1 200", 12) == 0, "status: %.40s", status);
	harness_assert(strstr(status, "\"state\":\"draining\"") != NULL, "status body:\n%s",
	               status);
	free(got);
	int st;
	harness_assert(harness_wait_exit(d, HARNESS_WAIT_MS, &st), "modhostd did not stop");
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
}
END_TEST

/* /status lists the real worker pids, the modules with their files and
 * versions, and the listeners with their bound addresses; /metrics over
 * http1 has the exposition's content type. */
START_TEST(test_status_json_and_metrics_over_http)
{
	if (!admin_have_http1(__func__))
		return;
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("2") CONF_ADMIN "[module lenprefix]\n[module echo]\n"
	                              "[listener echo]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"
	                              "handler = echo\n");
	int port = harness_port(d, "admin"), echo = harness_port(d, "echo");
	pid_t pids[2];
	harness_wait_workers(d, 2, pids);
	struct admin_http h = admin_curl(port, "/status", NULL);
	harness_assert(h.code == 200, "/status: %d", h.code);
	char ctype[128];
	harness_assert(admin_header(&h, "content-type", ctype, sizeof(ctype)) &&
	                   strcmp(ctype, "application/json") == 0,
	               "content type '%s'", ctype);
	char *json = harness_tmpfile("status.json");
	harness_write_file(json, "%s", h.body);
	char *out =
	    admin_python("import json, os, sys\n"
	           "d = json.load(open(sys.argv[1]))\n"
	           "print('abi=' + d['abi'])\n"
	           "print('state=' + d['state'])\n"
	           "print('generation=%d' % d['generation'])\n"
	           "print('uptime_ok=%d' % (d['uptime_seconds'] >= 0))\n"
	           "print('pids=' + ' '.join(sorted(str(w['pid']) for w in d['workers'])))\n"
	           "print('gens=' + ' '.join(str(w['generation']) for w in d['workers']))\n"
	           "for m in d['modules']:\n"
	           "    print('module %s %s %s %s' % (m['name'], m['version'], "
	           "os.path.basename(m['file']),"
	           " ','.join(m['roles'])))\n"
	           "for l in d['listeners']:\n"
	           "    print('listener %s %s %s' % (l['name'], l['address'], l['codec']))\n",
	           json);
	char line[256];
	char abi[32];
	snprintf(abi, sizeof(abi), "abi=%d.%d", MH_ABI_MAJOR, MH_ABI_MINOR);
	admin_expect_line(out, abi);
	admin_expect_line(out, "state=ready");
	admin_expect_line(out, "generation=1");
	admin_expect_line(out, "uptime_ok=1");
	pid_t lo = pids[0] < pids[1] ? pids[0] : pids[1],
	      hi = pids[0] < pids[1] ? pids[1] : pids[0];
	/* sorted() sorts the decimal strings */
	char a[16], b[16];
	snprintf(a, sizeof(a), "%d", (int)lo);
	snprintf(b, sizeof(b), "%d", (int)hi);
	snprintf(line, sizeof(line), "pids=%s %s", strcmp(a, b) < 0 ? a : b,
	         strcmp(a, b) < 0 ? b : a);
	admin_expect_line(out, line);
	admin_expect_line(out, "gens=1 1");
	admin_expect_line(out, "module echo 1.0 echo.so handler");
	admin_expect_line(out, "module prometheus 1.0 prometheus.so handler,observer");
	admin_expect_line(out, "module health 1.0 health.so handler");
	admin_expect_line(out, "module http1 1.0 http1.so codec");
	snprintf(line, sizeof(line), "listener admin 127.0.0.1:%d http1", port);
	admin_expect_line(out, line);
	snprintf(line, sizeof(line), "listener echo 127.0.0.1:%d lenprefix", echo);
	admin_expect_line(out, line);
	free(out);
	free(json);
	admin_http_free(&h);

	h = admin_curl(port, "/metrics", NULL);
	harness_assert(h.code == 200, "/metrics: %d", h.code);
	harness_assert(admin_header(&h, "content-type", ctype, sizeof(ctype)) &&
	                   strcmp(ctype, "text/plain; version=0.0.4; charset=utf-8") == 0,
	               "content type '%s'", ctype);
	admin_promtool_ok(h.body);
	/* The /status request just made went through the status route. */
	admin_expect_sample(
	    h.body, "modhost_requests_total{listener=\"admin\",route=\"status\",code=\"200\"}", 1);
	admin_http_free(&h);
}
END_TEST

static Suite *admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *tc = tcase_create("admin");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_scrape_counts_echo_traffic_over_two_workers);
	tcase_add_test(tc, test_crash_keeps_counters_and_counts_the_restart);
	tcase_add_test(tc, test_reloads_and_module_load_failures_are_counted);
	tcase_add_test(tc, test_full_series_table_drops_and_counts);
	tcase_add_test(tc, test_limit_hits_are_counted);
	tcase_add_test(tc, test_busy_poll_time_is_counted);
	tcase_add_test(tc, test_health_while_starting_then_ready);
	tcase_add_test(tc, test_health_while_draining);
	tcase_add_test(tc, test_status_json_and_metrics_over_http);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(admin_suite(), CK_ENV);
}
