/* tests/integration/check_process.c — the real modhostd as a process tree:
 * `-t`, refusing a module of another ABI, graceful stop (SIGTERM drain,
 * second signal), reload (SIGHUP) under traffic and with a bad config,
 * worker death and replacement, a crash inside a module, and the
 * single-process mode. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define IO_MS 10000

/* `workers` workers (a string literal), the test handler behind lenprefix
 * on listener "frames"; %s is the test handler's file. */
#define CONF_WORKERS_TH(workers, server_extra, th_extra)                                           \
	"[server]\nworkers = " workers "\nshutdown_timeout = 5s\n" server_extra                    \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module lenprefix]\n"                                                                     \
	"[module testhandler]\nfile = %s\n" th_extra                                               \
	"[listener frames]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"                             \
	"handler = testhandler\n"
#define CONF_WORKERS(workers, server_extra) CONF_WORKERS_TH(workers, server_extra, "")
/* The same, with the test handler logging which worker took a connection. */
#define CONF_OBSERVED(workers) CONF_WORKERS_TH(workers, "", "log_connections = yes\n")

static void echo_ok(int fd, const char *payload)
{
	int r = harness_echo_frame(fd, payload, strlen(payload), IO_MS);
	harness_assert(r == HARNESS_OK, "echo '%s': %s", payload, harness_io_name(r));
}

/* Wait for the master to exit; returns its wait status. */
static int wait_exit_ok(struct harness_daemon *d, int timeout_ms)
{
	int st;
	harness_assert(harness_wait_exit(d, timeout_ms, &st), "modhostd still runs after %dms",
	               timeout_ms);
	return st;
}

static int exited_zero(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- -t --------------------------------------------------------------------- */

START_TEST(test_check_mode_accepts_a_good_config)
{
	char *path = harness_tmpfile("good.ini");
	harness_write_file(path, CONF_WORKERS("2", ""), harness_test_module("testhandler"));
	char *out;
	int st = harness_check_config(path, &out);
	harness_assert(exited_zero(st), "-t on a good config: status %d, output:\n%s", st, out);
	char want[1024];
	snprintf(want, sizeof(want), "configuration %s is valid", path);
	harness_assert(strstr(out, want) != NULL, "expected '%s' in:\n%s", want, out);
	free(out);
	free(path);
}
END_TEST

/* -T: a valid configuration, then every file read, in the order read
 * (the main file, then the include folder's *.ini in name order), each
 * whole after a "# configuration file PATH:" line; nothing on a bad one. */
START_TEST(test_dump_mode_prints_every_file_read)
{
	char *path = harness_tmpfile("dump.ini");
	char *dir = harness_tmpfile("dump.d");
	harness_assert(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
	char *b = harness_tmpfile("dump.d/b.ini"), *a = harness_tmpfile("dump.d/a.ini");
	char *skipped = harness_tmpfile("dump.d/notes.txt");
	harness_write_file(path, CONF_WORKERS("1", "include = dump.d\n"),
	                   harness_test_module("testhandler"));
	harness_write_file(b, "; b, read second\n[module echo]");
	harness_write_file(a, "; a, read first\n[module line]\n");
	harness_write_file(skipped, "not a configuration file\n");
	char *argv[] = {(char *)harness_env("MODHOSTD"), "-T", "-c", path, NULL};
	char *out;
	int st = harness_run(argv, &out, HARNESS_WAIT_MS);
	harness_assert(exited_zero(st), "-T: status %d, output:\n%s", st, out);
	char want[4096];
	int n = snprintf(want, sizeof(want),
	                 "modhostd: configuration %s is valid\n"
	                 "# configuration file %s:\n",
	                 path, path);
	snprintf(want + n, sizeof(want) - (size_t)n, CONF_WORKERS("1", "include = dump.d\n"),
	         harness_test_module("testhandler"));
	harness_assert(strncmp(out, want, strlen(want)) == 0, "-T output:\n%s\nexpected first:\n%s",
	               out, want);
	const char *pa = strstr(out, "/dump.d/a.ini:\n; a, read first\n[module line]\n\n");
	const char *pb = strstr(out, "/dump.d/b.ini:\n; b, read second\n[module echo]\n\n");
	harness_assert(pa && pb && pa < pb, "-T: the folder's files, whole and in order:\n%s", out);
	harness_assert(strstr(out, "not a configuration file") == NULL, "-T printed notes.txt");
	free(out);

	/* A bad file: the error, and nothing printed. */
	harness_write_file(a, "[module line]\nbogus = 1\n");
	st = harness_run(argv, &out, HARNESS_WAIT_MS);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "-T on a bad file: status %d", st);
	harness_assert(strstr(out, "a.ini:2: ") && !strstr(out, "# configuration file"),
	               "-T on a bad file:\n%s", out);
	free(out);
	free(path);
	free(dir);
	free(a);
	free(b);
	free(skipped);
}
END_TEST

START_TEST(test_check_mode_reports_unknown_key_and_bad_duration_with_line)
{
	harness_expect_config_error("unknown-key.ini", "[server]\nworkers = 1\nbogus = 1\n", 3,
	                            "unknown key 'bogus' in [server]");
	harness_expect_config_error("bad-duration.ini",
	                            "[server]\nworkers = 1\n\nshutdown_timeout = 5 parsecs\n", 4,
	                            "bad value for 'shutdown_timeout'");
	/* A value the module's load hook rejects names its section too. */
	harness_expect_config_error("bad-module-value.ini",
	                            "[server]\nworkers = 1\n\n[module accesslog]\nbuffer = 32MiB\n",
	                            4, "buffer must be at most 16MiB");
	/* A module key is checked against the module's own table. */
	harness_expect_config_error("bad-module-key.ini",
	                            "[server]\nworkers = 1\n[module lenprefix]\nmax_frame = 1MiB\n"
	                            "max_frames = 2\n",
	                            5, "");
}
END_TEST

START_TEST(test_check_mode_reports_missing_module_file_with_line)
{
	/* The refusal names where the module was configured, as every other
	 * configuration error does: its section (line 3) or its file key
	 * (line 4); and it names the file and the reason. */
	char *path = harness_tmpfile("missing-module.ini");
	harness_write_file(path,
	                   "[server]\nworkers = 1\n[module gone]\nfile = /nonexistent/gone.so\n");
	char *out, at3[1024], at4[1024];
	int st = harness_check_config(path, &out);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d, output:\n%s", st, out);
	snprintf(at3, sizeof(at3), "%s:3: ", path);
	snprintf(at4, sizeof(at4), "%s:4: ", path);
	harness_assert(strstr(out, at3) || strstr(out, at4),
	               "the refusal does not say where the module was configured "
	               "('%s' or '%s'):\n%s",
	               at3, at4, out);
	harness_assert(strstr(out, "/nonexistent/gone.so") && strstr(out, "No such file"),
	               "the refusal does not name the file and the reason:\n%s", out);
	free(out);
	free(path);
}
END_TEST

START_TEST(test_start_refuses_a_module_built_for_another_abi)
{
	struct harness_daemon *d =
	    harness_start(CONF_WORKERS("1", "") "[module x]\nfile = %s\n",
	                  harness_test_module("testhandler"), harness_test_module("abi_v2"));
	harness_expect_errors(d, "built for ABI 2\\.3");
	int st = wait_exit_ok(d, HARNESS_WAIT_MS);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0,
	               "modhostd with an ABI 2 module: wait status %d", st);
	harness_wait_log(d, 0,
	                 "module 'x' \\(.*/abi_v2\\.so\\): built for ABI 2\\.3, this host provides "
	                 "ABI 1\\.[0-9]+");
	harness_assert(harness_log_count(d, 0, "ready", 1, NULL, NULL, 0) == 0,
	               "a generation started with a refused module");
}
END_TEST

/* ---- stopping ------------------------------------------------------------------ */

START_TEST(test_sigterm_delivers_replies_in_flight_then_exits_zero)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_WORKERS("2", ""), harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	enum { N = 6 };
	int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = harness_connect_ok(port);
		echo_ok(fds[i], "hello"); /* accepted by a worker */
	}
	size_t from = harness_log_size(d);
	for (int i = 0; i < N; i++) {
		char p[32];
		snprintf(p, sizeof(p), "sleep:500:done-%d", i);
		harness_send_frame_ok(fds[i], p);
	}
	/* Every request reached the handler: now they are in flight. */
	harness_wait_log_n(d, from, "module testhandler: sleeping 500ms", N);
	harness_signal(d, SIGTERM);
	harness_wait_log(d, from, "stopping on Terminated: draining workers");
	harness_wait_log(d, from, "draining [1-9][0-9]* connections");
	for (int i = 0; i < N; i++) {
		char want[32];
		snprintf(want, sizeof(want), "done-%d", i);
		harness_expect_frame(fds[i], want);
		int r = harness_wait_closed(fds[i], IO_MS, NULL);
		harness_assert(r == HARNESS_EOF, "connection %d after its reply: %s", i,
		               harness_io_name(r));
		close(fds[i]);
	}
	int st = wait_exit_ok(d, HARNESS_WAIT_MS);
	harness_assert(exited_zero(st), "exit status %d after SIGTERM", st);
	harness_wait_log(d, from, "INFO master\\[[0-9]+\\]: stopped$");
	harness_assert(
	    harness_log_count(d, from, "shutdown timeout|did not stop", 1, NULL, NULL, 0) == 0,
	    "the drain needed the shutdown timeout");
}
END_TEST

START_TEST(test_sigterm_closes_idle_connections_at_once)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_WORKERS("2", ""), harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	int fds[4];
	for (int i = 0; i < 4; i++) {
		fds[i] = harness_connect_ok(port);
		echo_ok(fds[i], "idle soon");
	}
	uint64_t t0 = harness_now_ms();
	harness_signal(d, SIGTERM);
	for (int i = 0; i < 4; i++) {
		int r = harness_wait_closed(fds[i], IO_MS, NULL);
		harness_assert(r == HARNESS_EOF, "idle connection %d on stop: %s", i,
		               harness_io_name(r));
		close(fds[i]);
	}
	int st = wait_exit_ok(d, HARNESS_WAIT_MS);
	uint64_t took = harness_now_ms() - t0;
	harness_assert(exited_zero(st), "exit status %d after SIGTERM", st);
	/* Idle connections do not wait for shutdown_timeout (5s). */
	harness_assert(took < 4000, "stopping with idle connections took %llums",
	               (unsigned long long)took);
	harness_wait_log(d, 0, "stopped$");
}
END_TEST

START_TEST(test_second_sigterm_stops_at_once)
{
	struct harness_daemon *d = harness_start_ready(
	    "[server]\nworkers = 1\nshutdown_timeout = 60s\n"
	    "[log]\nlevel = info\nformat = text\n"
	    "[module lenprefix]\n[module testhandler]\nfile = %s\n"
	    "[listener frames]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = testhandler\n",
	    harness_test_module("testhandler"));
	int fd = harness_connect_ok(harness_port(d, "frames"));
	size_t from = harness_log_size(d);
	harness_send_frame_ok(fd, "sleep:30000:too late");
	harness_wait_log(d, from, "module testhandler: sleeping 30000ms");
	harness_signal(d, SIGTERM);
	harness_wait_log(d, from, "draining 1 connections");
	uint64_t t0 = harness_now_ms();
	harness_signal(d, SIGTERM);
	int st = wait_exit_ok(d, 10000);
	uint64_t took = harness_now_ms() - t0;
	harness_assert(took < 5000, "a second SIGTERM took %llums to stop",
	               (unsigned long long)took);
	harness_assert(WIFEXITED(st), "wait status %d after a second SIGTERM", st);
	harness_wait_log(d, from, "second stop signal");
	int r = harness_wait_closed(fd, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "the in-flight connection: %s",
	               harness_io_name(r));
	close(fd);
}
END_TEST

/* ---- reload ---------------------------------------------------------------------- */

/* The client side of the reload test. */
struct traffic {
	int port;
	int conns[6];
	unsigned long seq;
	unsigned requests, replies, failures, reconnects, retried;
	char first_failure[256];
};

static void traffic_fail(struct traffic *t, const char *what, int r)
{
	if (!t->failures++)
		snprintf(t->first_failure, sizeof(t->first_failure), "%s: %s (request %lu)", what,
		         harness_io_name(r), t->seq);
}

/* One request on fd; returns an enum harness_io, with `got_any` set when
 * any byte of the reply arrived. */
static int traffic_request(struct traffic *t, int fd, int *got_any)
{
	char p[64], *got = NULL;
	size_t len;
	int n = snprintf(p, sizeof(p), "request-%lu", ++t->seq);
	*got_any = 0;
	t->requests++;
	int r = harness_send_frame(fd, p, (size_t)n, IO_MS);
	/* The first byte apart, to tell "closed before replying" from "cut". */
	unsigned char hdr[4];
	if (r == HARNESS_OK)
		r = harness_recv_exact(fd, hdr, 1, IO_MS);
	if (r == HARNESS_OK) {
		*got_any = 1;
		r = harness_recv_exact(fd, hdr + 1, 3, IO_MS);
	}
	if (r == HARNESS_OK) {
		len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
		got = len <= sizeof(p) ? malloc(len + 1) : NULL;
		r = got ? harness_recv_exact(fd, got, len, IO_MS) : HARNESS_ERROR;
	}
	if (r == HARNESS_OK && (len != (size_t)n || memcmp(got, p, len) != 0))
		r = HARNESS_ERROR;
	if (r == HARNESS_OK)
		t->replies++;
	free(got);
	return r;
}

/* Whether the server has closed idle fd (EOF or RST waiting). */
static int traffic_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 0) <= 0)
		return 0;
	char c;
	return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0;
}

/* One round: a request on each kept connection, and one on a new one. */
static void traffic_round(struct traffic *t)
{
	for (size_t i = 0; i < sizeof(t->conns) / sizeof(t->conns[0]); i++) {
		int got_any;
		if (traffic_closed(t->conns[i])) {
			/* An idle keep-alive connection closed by a draining
			 * worker: the client reconnects, as HTTP clients do. */
			close(t->conns[i]);
			t->conns[i] = harness_connect_ok(t->port);
			t->reconnects++;
		}
		int r = traffic_request(t, t->conns[i], &got_any);
		if (r == HARNESS_OK)
			continue;
		close(t->conns[i]);
		t->conns[i] = harness_connect_ok(t->port);
		if ((r == HARNESS_EOF || r == HARNESS_RESET) && !got_any) {
			/* Closed by the server as the request went out: the
			 * request was never read.  Retry it once on a fresh
			 * connection, which must not fail. */
			t->retried++;
			r = traffic_request(t, t->conns[i], &got_any);
		}
		if (r != HARNESS_OK)
			traffic_fail(t, "kept connection", r);
	}
	int fd = harness_connect(t->port);
	int got_any;
	int r = fd < 0 ? HARNESS_ERROR : traffic_request(t, fd, &got_any);
	if (r != HARNESS_OK)
		traffic_fail(t, "new connection", r);
	if (fd >= 0)
		close(fd);
}

START_TEST(test_reload_under_traffic_loses_no_request)
{
	const char *th = harness_test_module("testhandler");
	struct harness_daemon *d = harness_start_ready(CONF_WORKERS("2", ""), th);
	struct traffic t = {.port = harness_port(d, "frames")};
	for (size_t i = 0; i < sizeof(t.conns) / sizeof(t.conns[0]); i++)
		t.conns[i] = harness_connect_ok(t.port);

	for (unsigned gen = 2; gen <= 4; gen++) {
		/* Requests the old generation holds in flight across the reload. */
		int slow[2];
		size_t from = harness_log_size(d);
		for (int i = 0; i < 2; i++) {
			char p[32];
			slow[i] = harness_connect_ok(t.port);
			snprintf(p, sizeof(p), "sleep:300:gen%u-%d", gen, i);
			harness_send_frame_ok(slow[i], p);
		}
		harness_wait_log_n(d, from, "module testhandler: sleeping 300ms", 2);
		for (int i = 0; i < 20; i++)
			traffic_round(&t);

		harness_signal(d, SIGHUP);
		char ready[64];
		snprintf(ready, sizeof(ready), "generation %u ready: 2 workers serving", gen);
		uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
		while (harness_log_count(d, from, ready, 1, NULL, NULL, 0) == 0) {
			harness_assert(harness_now_ms() < deadline, "no '%s' line", ready);
			traffic_round(&t);
		}
		for (int i = 0; i < 50; i++)
			traffic_round(&t);
		for (int i = 0; i < 2; i++) {
			char want[32];
			snprintf(want, sizeof(want), "gen%u-%d", gen, i);
			harness_expect_frame(slow[i], want);
			close(slow[i]);
		}
	}
	/* Each old worker drained and finished cleanly: 2 per reload. */
	harness_wait_log_n(d, 0, "worker [0-9]+ \\(pid [0-9]+, generation [0-9]+\\) finished", 6);
	fprintf(stderr,
	        "reload under traffic: %u requests, %u replies, %u failures, %u idle "
	        "reconnects, %u retried\n",
	        t.requests, t.replies, t.failures, t.reconnects, t.retried);
	harness_assert(t.failures == 0, "%u of %u requests failed; first: %s", t.failures,
	               t.requests, t.first_failure);
	harness_assert(harness_log_count(d, 0, "killed by signal|while stopping|reload failed", 1,
	                                 NULL, NULL, 0) == 0,
	               "a worker died or a reload failed");
	for (size_t i = 0; i < sizeof(t.conns) / sizeof(t.conns[0]); i++)
		close(t.conns[i]);
}
END_TEST

START_TEST(test_reload_answers_a_connection_accepted_before_it)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_OBSERVED("1"), harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	pid_t old;
	harness_wait_workers(d, 1, &old);

	/* kept: a keep-alive connection that already had its reply (idle);
	 * fresh: accepted by the old worker, its first request not sent yet. */
	int kept = harness_connect_ok(port);
	echo_ok(kept, "served");
	int fresh = harness_connect_ok(port);
	harness_assert(harness_connection_owner(d, fresh) == old, "not accepted by the old worker");

	size_t from = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from, "generation 2 ready: 1 workers serving");
	harness_wait_log(d, from, "draining 2 connections");

	/* The idle keep-alive connection is closed cleanly (FIN, no RST). */
	int r = harness_wait_closed(kept, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF, "idle keep-alive connection on reload: %s",
	               harness_io_name(r));
	close(kept);
	/* The accepted connection's first request is answered: a reload
	 * resets no accepted connection (DESIGN.md section 2). */
	r = harness_echo_frame(fresh, "first request", 13, IO_MS);
	harness_assert(r == HARNESS_OK,
	               "first request on a connection accepted before the "
	               "reload: %s",
	               harness_io_name(r));
	close(fresh);
}
END_TEST

/* Copy the bundled module NAME.so to path by way of a temporary file and a
 * rename, as an upgrade installs a module (a new file under the old name). */
static void install_module(const char *name, const char *path)
{
	char from[4096], tmp[4096], block[8192];
	snprintf(from, sizeof(from), "%s/%s.so", harness_env("MODHOST_MODULE_PATH"), name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	FILE *in = fopen(from, "rb"), *out = fopen(tmp, "wb");
	harness_assert(in && out, "copy %s to %s: %s", from, tmp, strerror(errno));
	size_t n;
	while ((n = fread(block, 1, sizeof(block), in)) > 0)
		harness_assert(fwrite(block, 1, n, out) == n, "write %s", tmp);
	fclose(in);
	harness_assert(fclose(out) == 0 && rename(tmp, path) == 0, "install %s: %s", path,
	               strerror(errno));
}

/* A module file replaced at its path (an upgrade) is new code after a
 * reload, without a restart: the dynamic linker would hand back the old
 * mapping for the same name, so the loader opens the new file privately. */
START_TEST(test_reload_runs_a_replaced_module_file)
{
	char *so = harness_tmpfile("handler.so");
	install_module("echo", so);
	struct harness_daemon *d = harness_start_ready(
	    "[server]\nworkers = 1\nshutdown_timeout = 5s\n[log]\nlevel = info\nformat = text\n"
	    "[module lenprefix]\n[module handler]\nfile = %s\n"
	    "[listener frames]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = handler\n",
	    so);
	int port = harness_port(d, "frames");
	int fd = harness_connect_ok(port);
	echo_ok(fd, "the old code echoes");
	close(fd);

	install_module("fixed", so); /* answers "hello" to everything */
	size_t from = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from, "module 'handler' .*: the file changed since it was first loaded");
	harness_wait_log(d, from, "generation 2 ready: 1 workers serving");
	/* Until the old worker starts draining, it may still take a new
	 * connection (that is what makes the reload seamless): wait for it. */
	harness_wait_log(d, from, "draining [0-9]+ connections");
	fd = harness_connect_ok(port);
	harness_send_frame_ok(fd, "anything");
	harness_expect_frame(fd, "hello");
	close(fd);
	free(so);
}
END_TEST

START_TEST(test_reload_with_a_broken_config_keeps_the_old_generation)
{
	const char *th = harness_test_module("testhandler");
	struct harness_daemon *d = harness_start_ready(CONF_WORKERS("2", ""), th);
	int port = harness_port(d, "frames");
	pid_t before[2], after[2];
	harness_wait_workers(d, 2, before);
	int fd = harness_connect_ok(port);
	echo_ok(fd, "before");

	size_t from = harness_log_size(d);
	harness_expect_errors(d, "reload failed: .*unknown key 'bogus'");
	harness_rewrite_config(d, CONF_WORKERS("2", "bogus = 1\n"), th);
	harness_signal(d, SIGHUP);
	char re[512];
	snprintf(re, sizeof(re),
	         "reload failed: .*modhost-1\\.ini:4: unknown key 'bogus' in \\[server\\]; "
	         "generation 1 keeps serving");
	harness_wait_log(d, from, re);

	echo_ok(fd, "after a failed reload");
	int fd2 = harness_connect_ok(port);
	echo_ok(fd2, "new connection");
	close(fd2);
	harness_wait_workers(d, 2, after);
	harness_assert((after[0] == before[0] && after[1] == before[1]) ||
	                   (after[0] == before[1] && after[1] == before[0]),
	               "the workers changed on a failed reload");

	/* Fixed, the next reload goes through. */
	harness_rewrite_config(d, CONF_WORKERS("2", ""), th);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from, "generation 2 ready: 2 workers serving");
	/* Old workers take new connections until they start draining. */
	harness_wait_log_n(d, from, "draining [0-9]+ connections", 2);
	fd2 = harness_connect_ok(port);
	echo_ok(fd2, "generation 2");
	close(fd2);
	close(fd);
}
END_TEST

START_TEST(test_reload_adding_a_module_of_another_abi_is_refused)
{
	const char *th = harness_test_module("testhandler");
	struct harness_daemon *d = harness_start_ready(CONF_WORKERS("2", ""), th);
	int port = harness_port(d, "frames");
	int fd = harness_connect_ok(port);
	echo_ok(fd, "before");

	size_t from = harness_log_size(d);
	harness_expect_errors(d, "reload failed: .*built for ABI 2\\.3");
	harness_rewrite_config(d, CONF_WORKERS("2", "") "[module x]\nfile = %s\n", th,
	                       harness_test_module("abi_v2"));
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from,
	                 "reload failed: [^ ]*:[0-9]+: module 'x' \\(.*/abi_v2\\.so\\): built for ABI 2\\.3, .*; "
	                 "generation 1 keeps serving");
	echo_ok(fd, "after");
	int fd2 = harness_connect_ok(port);
	echo_ok(fd2, "new connection");
	close(fd2);
	close(fd);
	harness_assert(harness_log_count(d, from, "generation 2", 1, NULL, NULL, 0) == 0,
	               "a generation 2 started");
}
END_TEST

/* ---- workers dying ------------------------------------------------------------------ */

START_TEST(test_killed_worker_is_replaced_and_the_survivor_keeps_serving)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_OBSERVED("2"), harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	pid_t workers[2];
	harness_wait_workers(d, 2, workers);

	/* Connections on both workers: while the worker holding the first
	 * one is blocked in a handler, the other must take the next ones. */
	enum { N = 5 };
	int fds[N];
	pid_t owner[N];
	fds[0] = harness_connect_ok(port);
	echo_ok(fds[0], "first");
	owner[0] = harness_connection_owner(d, fds[0]);
	pid_t victim = owner[0], survivor = victim == workers[0] ? workers[1] : workers[0];
	size_t from = harness_log_size(d);
	harness_send_frame_ok(fds[0], "block:500:unblocked");
	harness_wait_log(d, from, "module testhandler: blocking 500ms");
	for (int i = 1; i < N; i++) {
		fds[i] = harness_connect_ok(port);
		if (i < 3) {
			echo_ok(fds[i], "while blocked");
			owner[i] = harness_connection_owner(d, fds[i]);
			harness_assert(owner[i] == survivor,
			               "connection %d taken by %d, not by the free worker %d", i,
			               (int)owner[i], (int)survivor);
		}
	}
	harness_expect_frame(fds[0], "unblocked");
	for (int i = 3; i < N; i++) {
		echo_ok(fds[i], "later");
		owner[i] = harness_connection_owner(d, fds[i]);
	}

	from = harness_log_size(d);
	harness_expect_errors(d, "killed by signal 9 ");
	kill(victim, SIGKILL);
	char re[256];
	snprintf(
	    re, sizeof(re),
	    "worker [0-9]+ \\(pid %d\\) killed by signal 9 \\(Killed\\) while running the host; "
	    "restarting in [0-9]+ms",
	    (int)victim);
	harness_wait_log(d, from, re);

	/* The survivor's connections are answered; the dead worker's are
	 * closed; none hangs. */
	for (int i = 0; i < N; i++) {
		int r = harness_echo_frame(fds[i], "after", 5, IO_MS);
		if (owner[i] == survivor)
			harness_assert(r == HARNESS_OK, "connection %d on the survivor: %s", i,
			               harness_io_name(r));
		else
			harness_assert(r == HARNESS_EOF || r == HARNESS_RESET,
			               "connection %d on the killed worker: %s", i,
			               harness_io_name(r));
		close(fds[i]);
	}
	/* A replacement appears, and new connections all work. */
	pid_t now[2];
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	for (;;) {
		harness_wait_workers(d, 2, now);
		if (now[0] != victim && now[1] != victim)
			break;
		harness_assert(harness_now_ms() < deadline, "worker %d was not replaced",
		               (int)victim);
		poll(NULL, 0, 10); /* /proc has no notification: look again */
	}
	harness_assert(now[0] == survivor || now[1] == survivor, "the surviving worker %d is gone",
	               (int)survivor);
	for (int i = 0; i < 20; i++) {
		int fd = harness_connect_ok(port);
		char p[32];
		snprintf(p, sizeof(p), "new-%d", i);
		echo_ok(fd, p);
		close(fd);
	}
}
END_TEST

START_TEST(test_crash_in_a_module_is_logged_with_its_name)
{
	harness_expect_crashes();
	struct harness_daemon *d =
	    harness_start_ready(CONF_WORKERS("1", ""), harness_test_module("testhandler"));
	harness_expect_errors(d, "killed by signal 11 ");
	int port = harness_port(d, "frames");
	pid_t worker;
	harness_wait_workers(d, 1, &worker);
	size_t from = harness_log_size(d);
	int fd = harness_connect_ok(port);
	harness_send_frame_ok(fd, "crash");
	int r = harness_wait_closed(fd, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "the crashing request: %s",
	               harness_io_name(r));
	close(fd);
	char re[256];
	snprintf(
	    re, sizeof(re),
	    "worker 0 \\(pid %d\\) killed by signal 11 \\(Segmentation fault\\)(, core dumped)? "
	    "while running module 'testhandler'; restarting in [0-9]+ms",
	    (int)worker);
	harness_wait_log(d, from, re);
	/* The replacement serves. */
	fd = harness_connect_ok(port);
	echo_ok(fd, "after the crash");
	close(fd);
	pid_t now;
	harness_wait_workers(d, 1, &now);
	harness_assert(now != worker, "the crashed worker %d is still there", (int)worker);
}
END_TEST

/* ---- one process ------------------------------------------------------------------------- */

START_TEST(test_single_process_mode_serves_and_stops)
{
	struct harness_daemon *d =
	    harness_start(CONF_WORKERS("0", ""), harness_test_module("testhandler"));
	harness_wait_log(d, 0, "generation 1 ready: serving in a single process");
	int port = harness_port(d, "frames");
	pid_t kids[1];
	harness_assert(harness_children(harness_pid(d), kids, 1) == 0,
	               "workers = 0 forked a child");
	int fd = harness_connect_ok(port);
	echo_ok(fd, "single");
	harness_send_frame_ok(fd, "sleep:100:late");
	harness_expect_frame(fd, "late");
	size_t from = harness_log_size(d);
	harness_signal(d, SIGTERM);
	int r = harness_wait_closed(fd, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF, "idle connection on stop: %s", harness_io_name(r));
	close(fd);
	int st = wait_exit_ok(d, HARNESS_WAIT_MS);
	harness_assert(exited_zero(st), "exit status %d after SIGTERM", st);
	harness_wait_log(d, from, "stopped$");
}
END_TEST

static Suite *process_suite(void)
{
	Suite *s = suite_create("process");
	TCase *tc = tcase_create("check");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_check_mode_accepts_a_good_config);
	tcase_add_test(tc, test_dump_mode_prints_every_file_read);
	tcase_add_test(tc, test_check_mode_reports_unknown_key_and_bad_duration_with_line);
	tcase_add_test(tc, test_check_mode_reports_missing_module_file_with_line);
	tcase_add_test(tc, test_start_refuses_a_module_built_for_another_abi);
	suite_add_tcase(s, tc);

	tc = tcase_create("stop");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sigterm_delivers_replies_in_flight_then_exits_zero);
	tcase_add_test(tc, test_sigterm_closes_idle_connections_at_once);
	tcase_add_test(tc, test_second_sigterm_stops_at_once);
	tcase_add_test(tc, test_single_process_mode_serves_and_stops);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reload_under_traffic_loses_no_request);
	tcase_add_test(tc, test_reload_answers_a_connection_accepted_before_it);
	tcase_add_test(tc, test_reload_runs_a_replaced_module_file);
	tcase_add_test(tc, test_reload_with_a_broken_config_keeps_the_old_generation);
	tcase_add_test(tc, test_reload_adding_a_module_of_another_abi_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("workers");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_killed_worker_is_replaced_and_the_survivor_keeps_serving);
	tcase_add_test(tc, test_crash_in_a_module_is_logged_with_its_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(process_suite(), CK_ENV);
}
