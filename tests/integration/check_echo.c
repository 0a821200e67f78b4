/* tests/integration/check_echo.c — the real modhostd on 127.0.0.1 echoing
 * over the lenprefix and line codecs: framing, large and empty messages,
 * a thousand concurrent clients, abrupt disconnects, oversize frames and
 * misbehaving clients that must not disturb the others; busy polling. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* [server] and [log] for a test; `workers` is a string literal. */
#define CONF_HEAD(workers)                                                                         \
	"[server]\nworkers = " workers "\nshutdown_timeout = 5s\n"                                 \
	"[log]\nlevel = info\nformat = text\n"

/* Echo over both codecs: listener "frames" (lenprefix) and "lines" (line). */
#define CONF_ECHO                                                                                  \
	"[module lenprefix]\nmax_frame = 1MiB\n"                                                   \
	"[module line]\nmax_line = 1KiB\n"                                                         \
	"[module echo]\n"                                                                          \
	"[listener frames]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = echo\n"             \
	"[listener lines]\nlisten = 127.0.0.1:0\ncodec = line\nhandler = echo\n"

#define IO_MS 10000

/* Receive one frame and check that it is exactly `want`. */
static void expect_frame(int fd, const void *want, size_t wantlen)
{
	char *got;
	size_t len;
	int r = harness_recv_frame(fd, &got, &len, IO_MS);
	harness_assert(r == HARNESS_OK, "reply frame: %s", harness_io_name(r));
	harness_assert(len == wantlen, "reply of %zu bytes, expected %zu", len, wantlen);
	harness_assert(wantlen == 0 || memcmp(got, want, wantlen) == 0,
	               "reply of %zu bytes differs from the request", len);
	free(got);
}

static void expect_line(int fd, const char *want)
{
	char got[2048];
	int r = harness_recv_line(fd, got, sizeof(got), IO_MS);
	harness_assert(r == HARNESS_OK, "reply line: %s (got '%s')", harness_io_name(r), got);
	harness_assert(strcmp(got, want) == 0, "reply line '%s', expected '%s'", got, want);
}

/* The one worker's pid (for workers = 1). */
static pid_t only_worker(struct harness_daemon *d)
{
	pid_t pid;
	harness_wait_workers(d, 1, &pid);
	return pid;
}

/* ---- framing ------------------------------------------------------------ */

START_TEST(test_lenprefix_frames_in_one_write_and_empty_and_1mib)
{
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("1") CONF_ECHO);
	int fd = harness_connect_ok(harness_port(d, "frames"));

	/* Three frames in one write, the middle one empty. */
	static const char three[] = "\0\0\0\5alpha"
	                            "\0\0\0\0"
	                            "\0\0\0\x0bgamma-delta";
	int r = harness_send_all(fd, three, sizeof(three) - 1, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	expect_frame(fd, "alpha", 5);
	expect_frame(fd, "", 0);
	expect_frame(fd, "gamma-delta", 11);

	/* A zero-length frame on its own. */
	r = harness_echo_frame(fd, "", 0, IO_MS);
	harness_assert(r == HARNESS_OK, "empty frame: %s", harness_io_name(r));

	/* A frame of exactly max_frame (1 MiB), with a pattern that shows
	 * reordered or lost chunks. */
	size_t big = 1024 * 1024;
	unsigned char *payload = malloc(big);
	for (size_t i = 0; i < big; i++)
		payload[i] = (unsigned char)(i * 31 + i / 4096);
	r = harness_send_frame(fd, payload, big, IO_MS);
	harness_assert(r == HARNESS_OK, "send 1 MiB: %s", harness_io_name(r));
	expect_frame(fd, payload, big);
	free(payload);

	/* The connection still works afterwards. */
	r = harness_echo_frame(fd, "after", 5, IO_MS);
	harness_assert(r == HARNESS_OK, "echo after 1 MiB: %s", harness_io_name(r));
	close(fd);
}
END_TEST

START_TEST(test_line_lf_crlf_and_pipelined)
{
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("1") CONF_ECHO);
	int fd = harness_connect_ok(harness_port(d, "lines"));

	int r = harness_send_all(fd, "hello\n", 6, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	expect_line(fd, "hello\n");

	r = harness_send_all(fd, "hi there\r\n", 10, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	expect_line(fd, "hi there\r\n");

	/* Pipelined in one write, including an empty line. */
	static const char many[] = "one\ntwo\n\nthree four\n";
	r = harness_send_all(fd, many, sizeof(many) - 1, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	expect_line(fd, "one\n");
	expect_line(fd, "two\n");
	expect_line(fd, "\n");
	expect_line(fd, "three four\n");

	/* Pipelined CRLF lines. */
	r = harness_send_all(fd, "x\r\ny\r\n", 6, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	expect_line(fd, "x\r\n");
	expect_line(fd, "y\r\n");
	close(fd);
}
END_TEST

/* ---- many clients ---------------------------------------------------------- */

#define N_CLIENTS 1000

struct client {
	int fd;
	int phase; /* 0 connecting, 1 sending, 2 receiving, 3 done, 4 failed */
	char out[256];
	size_t outlen, sent;
	char in[256];
	size_t got;
};

/* Advance one client on the events poll reported.  Returns 1 when it just
 * finished (done or failed). */
static int client_step(struct client *c, short revents)
{
	if (c->phase == 0 && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			c->phase = 4;
			return 1;
		}
		c->phase = 1;
	}
	if (c->phase == 1) {
		ssize_t n = send(c->fd, c->out + c->sent, c->outlen - c->sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			c->phase = 4;
			return 1;
		}
		if (n > 0)
			c->sent += (size_t)n;
		if (c->sent == c->outlen)
			c->phase = 2;
		return 0;
	}
	if (c->phase == 2 && (revents & (POLLIN | POLLERR | POLLHUP))) {
		ssize_t n = recv(c->fd, c->in + c->got, c->outlen - c->got, 0);
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			c->phase = 4;
			return 1;
		}
		if (n > 0)
			c->got += (size_t)n;
		if (c->got == c->outlen) {
			c->phase = memcmp(c->in, c->out, c->outlen) == 0 ? 3 : 4;
			return 1;
		}
	}
	return 0;
}

START_TEST(test_thousand_concurrent_clients_get_their_own_reply)
{
	long nofile = harness_raise_nofile();
	harness_assert(nofile >= N_CLIENTS + 64,
	               "RLIMIT_NOFILE hard limit %ld is too low for %d clients", nofile, N_CLIENTS);
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("2") CONF_ECHO);
	int port = harness_port(d, "frames");

	struct client *cl = calloc(N_CLIENTS, sizeof(*cl));
	struct pollfd *pf = calloc(N_CLIENTS, sizeof(*pf));
	for (int i = 0; i < N_CLIENTS; i++) {
		struct client *c = &cl[i];
		/* A distinct payload of a distinct length per client. */
		int n = snprintf(c->out + 4, sizeof(c->out) - 4, "client-%04d:", i);
		int pad = i % 150;
		memset(c->out + 4 + n, 'a' + i % 26, (size_t)pad);
		size_t len = (size_t)n + (size_t)pad;
		c->out[0] = 0;
		c->out[1] = 0;
		c->out[2] = (char)(len >> 8);
		c->out[3] = (char)len;
		c->outlen = len + 4;
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		harness_assert(c->fd >= 0, "socket %d: %s", i, strerror(errno));
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int r = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
		harness_assert(r == 0 || errno == EINPROGRESS, "connect %d: %s", i,
		               strerror(errno));
		c->phase = r == 0 ? 1 : 0;
	}
	/* The reply is the request: the echo of a frame is the same frame. */
	int left = N_CLIENTS;
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	while (left > 0 && harness_now_ms() < deadline) {
		for (int i = 0; i < N_CLIENTS; i++) {
			struct client *c = &cl[i];
			pf[i].fd = c->phase >= 3 ? -1 : c->fd;
			pf[i].events = c->phase <= 1 ? POLLOUT : POLLIN;
			pf[i].revents = 0;
		}
		int r = poll(pf, N_CLIENTS, 200);
		harness_assert(r >= 0 || errno == EINTR, "poll: %s", strerror(errno));
		for (int i = 0; r > 0 && i < N_CLIENTS; i++)
			if (pf[i].revents && client_step(&cl[i], pf[i].revents))
				left--;
	}
	int done = 0, failed = 0, pending = 0;
	for (int i = 0; i < N_CLIENTS; i++) {
		done += cl[i].phase == 3;
		failed += cl[i].phase == 4;
		pending += cl[i].phase < 3;
		close(cl[i].fd);
	}
	harness_assert(done == N_CLIENTS,
	               "%d of %d clients got their own payload back; %d failed, %d unanswered",
	               done, N_CLIENTS, failed, pending);
	free(cl);
	free(pf);
}
END_TEST

/* ---- misbehaving clients ------------------------------------------------------- */

START_TEST(test_abrupt_disconnects_mid_frame_free_their_connections)
{
	/* max_connections = 50: if the worker kept a connection whose peer
	 * vanished mid-frame, the 300 below would exhaust it and the last
	 * client would never be accepted. */
	struct harness_daemon *d = harness_start_ready(
	    "[server]\nworkers = 1\nshutdown_timeout = 5s\nmax_connections = 50\n"
	    "[log]\nlevel = info\nformat = text\n" CONF_ECHO);
	int port = harness_port(d, "frames");
	pid_t worker = only_worker(d);

	char half[4 + 500];
	memcpy(half, "\0\0\x03\xe8", 4); /* declares 1000 bytes, sends 500 */
	memset(half + 4, 'h', 500);
	for (int i = 0; i < 300; i++) {
		int fd = harness_connect_ok(port);
		int r = harness_send_all(fd, half, i % 3 == 0 ? 2 : sizeof(half), IO_MS);
		harness_assert(r == HARNESS_OK || r == HARNESS_RESET, "send %d: %s", i,
		               harness_io_name(r));
		if (i % 2)
			harness_close_reset(fd); /* RST */
		else
			close(fd); /* FIN */
	}
	/* A new client is served, by the same worker (nothing crashed). */
	int fd = harness_connect_ok(port);
	int r = harness_echo_frame(fd, "still here", 10, HARNESS_WAIT_MS);
	harness_assert(r == HARNESS_OK, "echo after abrupt disconnects: %s", harness_io_name(r));
	close(fd);
	pid_t now;
	harness_wait_workers(d, 1, &now);
	harness_assert(now == worker, "the worker changed from pid %d to %d", (int)worker,
	               (int)now);
	harness_assert(
	    harness_log_count(d, 0, "killed by signal|exited with status", 1, NULL, NULL, 0) == 0,
	    "a worker died");
}
END_TEST

START_TEST(test_oversize_frame_closes_without_allocating_it)
{
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("1") CONF_ECHO);
	int port = harness_port(d, "frames");
	pid_t worker = only_worker(d);

	/* Warm up the worker's allocator with a normal exchange first. */
	int fd = harness_connect_ok(port);
	int r = harness_echo_frame(fd, "warm", 4, IO_MS);
	harness_assert(r == HARNESS_OK, "warm-up echo: %s", harness_io_name(r));
	close(fd);
	long before = harness_rss_kib(worker);
	harness_assert(before > 0, "cannot read VmRSS of worker %d", (int)worker);

	/* Declare 1 GiB, then send 64 KiB of it. */
	fd = harness_connect_ok(port);
	int myport = harness_local_port(fd);
	size_t junk = 64 * 1024;
	char *buf = malloc(4 + junk);
	memcpy(buf, "\x40\0\0\0", 4);
	memset(buf + 4, 'z', junk);
	size_t from = harness_log_size(d);
	harness_send_all(fd, buf, 4 + junk, IO_MS); /* the server may close first */
	free(buf);
	r = harness_wait_closed(fd, HARNESS_WAIT_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "connection not closed: %s",
	               harness_io_name(r));
	close(fd);

	char re[256];
	snprintf(re, sizeof(re),
	         "listener 'frames': closing connection from 127\\.0\\.0\\.1:%d: frame of "
	         "1073741824 bytes exceeds max_frame 1048576",
	         myport);
	harness_wait_log(d, from, re);

	long after = harness_rss_kib(worker);
	harness_assert(after > 0, "worker %d is gone", (int)worker);
	/* 1 GiB declared: growing by even 16 MiB would mean it buffered for it. */
	harness_assert(after - before < 16 * 1024,
	               "worker RSS grew from %ld KiB to %ld KiB after a 1 GiB frame header", before,
	               after);

	/* The worker still serves. */
	fd = harness_connect_ok(port);
	r = harness_echo_frame(fd, "next", 4, IO_MS);
	harness_assert(r == HARNESS_OK, "echo after the oversize frame: %s", harness_io_name(r));
	close(fd);
}
END_TEST

START_TEST(test_misbehaving_clients_do_not_disturb_others)
{
	/* One worker, so that every client shares its loop. */
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("1") CONF_ECHO);
	int port = harness_port(d, "frames");
	int lport = harness_port(d, "lines");

	/* M: a 256 KiB frame of which only 100 KiB has arrived. */
	size_t mlen = 256 * 1024, first = 100 * 1024;
	unsigned char *m = malloc(4 + mlen);
	m[0] = 0;
	m[1] = (unsigned char)(mlen >> 16);
	m[2] = (unsigned char)(mlen >> 8);
	m[3] = (unsigned char)mlen;
	for (size_t i = 0; i < mlen; i++)
		m[4 + i] = (unsigned char)(i * 7 + 3);
	int fm = harness_connect_ok(port);
	int r = harness_send_all(fm, m, 4 + first, IO_MS);
	harness_assert(r == HARNESS_OK, "M send: %s", harness_io_name(r));

	/* G: an HTTP request to a lenprefix port ("GET " is a huge length). */
	int fg = harness_connect_ok(port);
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	harness_send_all(fg, http, sizeof(http) - 1, IO_MS);

	/* L: a line over max_line (1 KiB) on the line listener. */
	int fl = harness_connect_ok(lport);
	char longline[4096];
	memset(longline, 'L', sizeof(longline));
	harness_send_all(fl, longline, sizeof(longline), IO_MS);

	/* B: 200 exchanges meanwhile, each with its own payload. */
	int fb = harness_connect_ok(port);
	for (int i = 0; i < 200; i++) {
		char p[64];
		int n = snprintf(p, sizeof(p), "request %d from B", i);
		r = harness_echo_frame(fb, p, (size_t)n, IO_MS);
		harness_assert(r == HARNESS_OK, "B exchange %d: %s", i, harness_io_name(r));
	}

	r = harness_wait_closed(fg, HARNESS_WAIT_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "G not closed: %s",
	               harness_io_name(r));
	char line[256];
	r = harness_recv_line(fl, line, sizeof(line), IO_MS);
	harness_assert(r == HARNESS_OK && strncmp(line, "ERR ", 4) == 0,
	               "L: expected an ERR line, got %s '%s'", harness_io_name(r), line);
	r = harness_wait_closed(fl, HARNESS_WAIT_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "L not closed: %s",
	               harness_io_name(r));
	harness_wait_log(d, 0, "closing connection from .*: frame of 1195725856 bytes exceeds");

	/* M was only slow: the rest of its frame completes it. */
	r = harness_send_all(fm, m + 4 + first, mlen - first, IO_MS);
	harness_assert(r == HARNESS_OK, "M send rest: %s", harness_io_name(r));
	expect_frame(fm, m + 4, mlen);

	/* And a line client next to L was never affected. */
	int fl2 = harness_connect_ok(lport);
	r = harness_send_all(fl2, "fine\n", 5, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	expect_line(fl2, "fine\n");
	free(m);
	close(fm);
	close(fg);
	close(fl);
	close(fl2);
	close(fb);
}
END_TEST

/* ---- busy polling ------------------------------------------------------------ */

#define EXCHANGES 100

/* EXCHANGES request/reply round trips on fd, one at a time with a pause
 * of 2 ms between them (traffic that pauses, which is what busy polling
 * is for); returns how often the worker slept meanwhile. */
static long sleeps_during_exchanges(int fd, pid_t worker)
{
	long before = harness_sleeps(worker);
	for (int i = 0; i < EXCHANGES; i++) {
		char p[32];
		if (i > 0)
			poll(NULL, 0, 2);
		int n = snprintf(p, sizeof(p), "exchange %d", i);
		int r = harness_echo_frame(fd, p, (size_t)n, IO_MS);
		harness_assert(r == HARNESS_OK, "exchange %d: %s", i, harness_io_name(r));
	}
	long after = harness_sleeps(worker);
	harness_assert(before >= 0 && after >= 0, "cannot read the worker's context switches");
	return after - before;
}

START_TEST(test_busy_poll_keeps_the_worker_awake_between_requests)
{
	/* By default (busy_poll = auto, which never polls for one connection)
	 * the worker sleeps in epoll_wait between a reply and the next
	 * request. */
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("1") CONF_ECHO);
	pid_t worker = only_worker(d);
	int fd = harness_connect_ok(harness_port(d, "frames"));
	long slept = sleeps_during_exchanges(fd, worker);
	harness_assert(slept >= EXCHANGES / 2, "by default the worker slept %ld times in %d exchanges",
	               slept, EXCHANGES);
	close(fd);
	harness_stop(d);

	/* With it, the worker polls through the gaps between them ... */
	d = harness_start_ready("[server]\nworkers = 1\nshutdown_timeout = 5s\nbusy_poll = 1s\n"
	                        "[log]\nlevel = info\nformat = text\n" CONF_ECHO);
	worker = only_worker(d);
	fd = harness_connect_ok(harness_port(d, "frames"));
	slept = sleeps_during_exchanges(fd, worker);
	harness_assert(slept <= 5, "with busy_poll = 1s the worker slept %ld times in %d exchanges",
	               slept, EXCHANGES);

	/* ... and once traffic stops it goes to sleep after the budget, and
	 * stays asleep: its CPU time stops growing. */
	long asleep = harness_sleeps(worker);
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	while (harness_sleeps(worker) == asleep && harness_now_ms() < deadline)
		poll(NULL, 0, 10);
	harness_assert(harness_sleeps(worker) > asleep, "the idle worker never slept");
	long t0 = harness_cpu_ticks(worker);
	poll(NULL, 0, 300);
	long t1 = harness_cpu_ticks(worker);
	long hz = sysconf(_SC_CLK_TCK);
	harness_assert(t0 >= 0 && t1 - t0 < hz / 10,
	               "the idle worker used %ld of %ld ticks per second in 300 ms", t1 - t0, hz);

	/* It still serves after sleeping. */
	int r = harness_echo_frame(fd, "awake", 5, IO_MS);
	harness_assert(r == HARNESS_OK, "echo after sleeping: %s", harness_io_name(r));
	close(fd);
}
END_TEST

START_TEST(test_busy_poll_nap_naps_instead_of_spinning)
{
	/* With busy_poll_nap, a worker inside its busy_poll budget naps
	 * between polls: through a pause in traffic it sleeps again and again
	 * (blocked in epoll_wait it would sleep once) and uses little CPU
	 * (polling back to back it would use all of it). */
	struct harness_daemon *d =
	    harness_start_ready("[server]\nworkers = 1\nshutdown_timeout = 5s\nbusy_poll = 1s\n"
	                        "busy_poll_nap = 5ms\n[log]\nlevel = info\nformat = text\n" CONF_ECHO);
	pid_t worker = only_worker(d);
	int fd = harness_connect_ok(harness_port(d, "frames"));
	int r = harness_echo_frame(fd, "before", 6, IO_MS);
	harness_assert(r == HARNESS_OK, "echo before the pause: %s", harness_io_name(r));

	long s0 = harness_sleeps(worker), t0 = harness_cpu_ticks(worker);
	poll(NULL, 0, 300);
	long s1 = harness_sleeps(worker), t1 = harness_cpu_ticks(worker);
	long hz = sysconf(_SC_CLK_TCK);
	harness_assert(s0 >= 0 && s1 - s0 >= 10,
	               "in a 300 ms pause inside the budget the worker slept %ld times", s1 - s0);
	harness_assert(t0 >= 0 && t1 - t0 < hz / 10,
	               "the napping worker used %ld of %ld ticks per second in 300 ms", t1 - t0, hz);

	/* A message sent during a nap is answered when it ends. */
	r = harness_echo_frame(fd, "after", 5, IO_MS);
	harness_assert(r == HARNESS_OK, "echo after the pause: %s", harness_io_name(r));
	close(fd);
}
END_TEST

static Suite *echo_suite(void)
{
	Suite *s = suite_create("echo");
	TCase *tc = tcase_create("framing");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lenprefix_frames_in_one_write_and_empty_and_1mib);
	tcase_add_test(tc, test_line_lf_crlf_and_pipelined);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_thousand_concurrent_clients_get_their_own_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("misbehaving");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_abrupt_disconnects_mid_frame_free_their_connections);
	tcase_add_test(tc, test_oversize_frame_closes_without_allocating_it);
	tcase_add_test(tc, test_misbehaving_clients_do_not_disturb_others);
	suite_add_tcase(s, tc);

	tc = tcase_create("busy polling");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_busy_poll_keeps_the_worker_awake_between_requests);
	tcase_add_test(tc, test_busy_poll_nap_naps_instead_of_spinning);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(echo_suite(), CK_ENV);
}
