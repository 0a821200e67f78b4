/* tests/integration/check_limits.c — the host's limits on the real
 * modhostd: backpressure against a peer that never reads, idle / read /
 * write timeouts, max_inflight, a listener's max_connections and
 * max_connections_per_ip, and replies leaving in request order when
 * completed out of order. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adminclient.h"
#include "harness.h"

#define IO_MS 10000

/* One worker, the test handler on a lenprefix listener "frames"; `extra`
 * (a string literal) adds listener keys. */
#define CONF_TEST(lenprefix_keys, extra)                                                           \
	"[server]\nworkers = 1\nshutdown_timeout = 5s\n"                                           \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module lenprefix]\n" lenprefix_keys "[module testhandler]\nfile = %s\n"                  \
	"[listener frames]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"                             \
	"handler = testhandler\n" extra

/* Append one lenprefix frame to buf at *off. */
static void put_frame(char *buf, size_t *off, const char *payload)
{
	size_t n = strlen(payload);
	buf[(*off)++] = (char)(n >> 24);
	buf[(*off)++] = (char)(n >> 16);
	buf[(*off)++] = (char)(n >> 8);
	buf[(*off)++] = (char)n;
	memcpy(buf + *off, payload, n);
	*off += n;
}

/* ---- backpressure --------------------------------------------------------- */

#define BP_FRAME      (64 * 1024)    /* payload = max_frame */
#define BP_MAX_BYTES  (200ull << 20) /* stop after 200 MiB ... */
#define BP_BLOCKED_MS 2000           /* ... or once send blocks this long */

/* Frame `seq`: its number in the first 8 bytes, then a pattern of it. */
static void bp_fill(unsigned char *f, uint64_t seq)
{
	f[0] = 0;
	f[1] = (unsigned char)(BP_FRAME >> 16);
	f[2] = (unsigned char)(BP_FRAME >> 8);
	f[3] = (unsigned char)BP_FRAME;
	for (int i = 0; i < 8; i++)
		f[4 + i] = (unsigned char)(seq >> (8 * i));
	for (size_t i = 8; i < BP_FRAME; i++)
		f[4 + i] = (unsigned char)(seq * 131 + i);
}

START_TEST(test_peer_that_never_reads_costs_bounded_memory)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("max_frame = 64KiB\n",
	                                  "output_high_water = 64KiB\noutput_low_water = 16KiB\n"),
	                        harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	pid_t worker;
	harness_wait_workers(d, 1, &worker);

	/* Baseline after a warm-up exchange of one full-size frame. */
	unsigned char *frame = malloc(4 + BP_FRAME);
	unsigned char *want = malloc(4 + BP_FRAME);
	int fd = harness_connect_ok(port);
	bp_fill(frame, 0);
	int r = harness_echo_frame(fd, frame + 4, BP_FRAME, IO_MS);
	harness_assert(r == HARNESS_OK, "warm-up: %s", harness_io_name(r));
	close(fd);
	long base = harness_rss_kib(worker);
	harness_assert(base > 0, "cannot read VmRSS of worker %d", (int)worker);

	/* Write pipelined frames and never read. */
	fd = harness_connect_ok(port);
	uint64_t sent_frames = 0, sent_bytes = 0;
	size_t off = 0; /* bytes of the current frame already sent */
	int blocked = 0;
	bp_fill(frame, sent_frames);
	while (sent_bytes < BP_MAX_BYTES) {
		ssize_t n = send(fd, frame + off, 4 + BP_FRAME - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			sent_bytes += (uint64_t)n;
			if (off == 4 + BP_FRAME) {
				bp_fill(frame, ++sent_frames);
				off = 0;
			}
			continue;
		}
		harness_assert(errno == EAGAIN || errno == EINTR, "send: %s", strerror(errno));
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, BP_BLOCKED_MS) == 0) {
			blocked = 1;
			break;
		}
	}
	harness_assert(blocked, "sent %llu MiB without the server ever pushing back",
	               (unsigned long long)(sent_bytes >> 20));

	/* The bound: the baseline, plus what the host may hold for this
	 * connection by its limits, plus slack for the allocator:
	 *   output_high_water              64 KiB
	 *   one message being decoded      64 KiB + 4 (max_frame + header)
	 *   one reply being encoded        64 KiB + 4
	 *   one read chunk (CONN_READ_CHUNK) 64 KiB
	 *   allocator / libevent slack     8 MiB
	 * An unbounded host would hold everything sent above (megabytes the
	 * kernel buffers did not absorb). */
	long bound = base + 64 + 65 + 65 + 64 + 8 * 1024;
	long rss = harness_rss_kib(worker);
	fprintf(stderr,
	        "backpressure: %llu KiB sent unread; worker RSS %ld KiB, baseline %ld KiB\n",
	        (unsigned long long)(sent_bytes >> 10), rss, base);
	/* Under ASan freed memory sits in its quarantine and RSS means
	 * nothing; the rest of the test (every reply arrives) still runs. */
	harness_assert(
	    harness_sanitized() || (rss > 0 && rss < bound),
	    "worker RSS %ld KiB after %llu KiB sent unread; bound %ld KiB (baseline %ld)", rss,
	    (unsigned long long)(sent_bytes >> 10), bound, base);

	/* Now read: every reply arrives, intact and in order, while the rest
	 * of the last frame is sent. */
	uint64_t expect_frames = sent_frames + (off > 0);
	uint64_t got_frames = 0;
	size_t got = 0; /* bytes of the current reply */
	unsigned char *reply = malloc(4 + BP_FRAME);
	uint64_t deadline = harness_now_ms() + 60000;
	while (got_frames < expect_frames && harness_now_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (off ? POLLOUT : 0)};
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (off && (p.revents & POLLOUT)) {
			ssize_t n =
			    send(fd, frame + off, 4 + BP_FRAME - off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0 && (off += (size_t)n) == 4 + BP_FRAME)
				off = 0;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = recv(fd, reply + got, 4 + BP_FRAME - got, MSG_DONTWAIT);
		harness_assert(n > 0 || (n < 0 && errno == EAGAIN), "reply %llu of %llu: %s",
		               (unsigned long long)got_frames, (unsigned long long)expect_frames,
		               n == 0 ? "eof" : strerror(errno));
		if (n > 0 && (got += (size_t)n) == 4 + BP_FRAME) {
			bp_fill(want, got_frames);
			harness_assert(
			    memcmp(reply, want, 4 + BP_FRAME) == 0, "reply %llu is not frame %llu",
			    (unsigned long long)got_frames, (unsigned long long)got_frames);
			got_frames++;
			got = 0;
		}
	}
	harness_assert(got_frames == expect_frames, "%llu replies of %llu",
	               (unsigned long long)got_frames, (unsigned long long)expect_frames);
	close(fd);
	free(frame);
	free(want);
	free(reply);
}
END_TEST

/* ---- timeouts ----------------------------------------------------------------- */

/* fd, just answered, is closed by the server after idle_ms (less a margin
 * for the coarse clocks involved), not before; then closed here. */
static void expect_idle_close(int fd, unsigned idle_ms)
{
	uint64_t t0 = harness_now_ms();
	int r = harness_wait_closed(fd, (int)idle_ms + 9000, NULL);
	uint64_t waited = harness_now_ms() - t0;
	harness_assert(r == HARNESS_EOF, "idle connection: %s after %llums", harness_io_name(r),
	               (unsigned long long)waited);
	harness_assert(waited + 50 >= idle_ms,
	               "closed %llums after the last reply, before idle_timeout %ums",
	               (unsigned long long)waited, idle_ms);
	close(fd);
}

START_TEST(test_idle_timeout_closes_an_idle_connection)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", "idle_timeout = 300ms\nread_timeout = 10s\n"),
	                        harness_test_module("testhandler"));
	int fd = harness_connect_ok(harness_port(d, "frames"));
	harness_send_frame_ok(fd, "hello");
	harness_expect_frame(fd, "hello");
	expect_idle_close(fd, 300);
}
END_TEST

/* The idle time counts from the last reply, not from the first: each
 * request moves the idle timer (a lazily moved timer must still fire on
 * time). */
START_TEST(test_idle_timeout_counts_from_the_last_request)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", "idle_timeout = 1s\nread_timeout = 10s\n"),
	                        harness_test_module("testhandler"));
	int fd = harness_connect_ok(harness_port(d, "frames"));
	/* A client pacing its requests 20ms apart for a quarter of the idle
	 * time. */
	for (int i = 0; i < 12; i++) {
		harness_send_frame_ok(fd, "hello");
		harness_expect_frame(fd, "hello");
		usleep(20 * 1000);
	}
	harness_send_frame_ok(fd, "last");
	harness_expect_frame(fd, "last");
	expect_idle_close(fd, 1000);
}
END_TEST

START_TEST(test_read_timeout_closes_an_incomplete_message)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", "idle_timeout = 10s\nread_timeout = 300ms\n"),
	                        harness_test_module("testhandler"));
	int port = harness_port(d, "frames");

	/* Half a frame, then nothing. */
	int fd = harness_connect_ok(port);
	int myport = harness_local_port(fd);
	size_t from = harness_log_size(d);
	int r = harness_send_all(fd,
	                         "\0\0\0\x64"
	                         "0123456789",
	                         14, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	uint64_t t0 = harness_now_ms();
	r = harness_wait_closed(fd, 5000, NULL);
	uint64_t waited = harness_now_ms() - t0;
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "incomplete frame: %s",
	               harness_io_name(r));
	harness_assert(waited >= 250, "closed after %llums, before read_timeout 300ms",
	               (unsigned long long)waited);
	char re[256];
	snprintf(re, sizeof(re),
	         "listener 'frames': read timeout for 127\\.0\\.0\\.1:%d: message incomplete "
	         "after 300ms",
	         myport);
	harness_wait_log(d, from, re);
	close(fd);

	/* A frame trickling in a byte every 50ms is cut too: the timeout runs
	 * from its first byte, not from the latest one. */
	fd = harness_connect_ok(port);
	myport = harness_local_port(fd);
	static const char slow[] = "\0\0\0\x20"
	                           "0123456789abcdef0123456789abcdef";
	t0 = harness_now_ms();
	size_t i = 0;
	for (; i < sizeof(slow) - 1; i++) {
		if (harness_send_all(fd, slow + i, 1, IO_MS) != HARNESS_OK)
			break;
		/* Pace the client (not a wait for the daemon): one byte per 50ms. */
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) > 0)
			break; /* closed by the server */
	}
	r = harness_wait_closed(fd, 5000, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "trickled frame: %s",
	               harness_io_name(r));
	harness_assert(i < sizeof(slow) - 1,
	               "the whole trickled frame (%zu bytes over %llums) "
	               "was accepted",
	               i, (unsigned long long)(harness_now_ms() - t0));
	snprintf(re, sizeof(re), "read timeout for 127\\.0\\.0\\.1:%d:", myport);
	harness_wait_log(d, from, re);
	close(fd);
}
END_TEST

START_TEST(test_write_timeout_closes_a_peer_that_does_not_read)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_TEST("max_frame = 1MiB\n", "idle_timeout = 10s\nwrite_timeout = 500ms\n"),
	    harness_test_module("testhandler"));
	int port = harness_port(d, "frames");

	/* A tiny receive window; 1 MiB replies that cannot leave. */
	int fd = harness_connect_buf(port, 4096, 0);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	int myport = harness_local_port(fd);
	size_t from = harness_log_size(d);
	size_t big = 1024 * 1024;
	char *payload = malloc(big);
	memset(payload, 'w', big);
	for (int i = 0; i < 8; i++)
		if (harness_send_frame(fd, payload, big, 1000) != HARNESS_OK)
			break; /* the server stopped reading: enough */
	free(payload);

	char re[256];
	snprintf(re, sizeof(re),
	         "listener 'frames': write timeout for 127\\.0\\.0\\.1:%d: peer not reading",
	         myport);
	harness_wait_log(d, from, re);
	size_t discarded;
	int r = harness_wait_closed(fd, IO_MS, &discarded);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "after write timeout: %s",
	               harness_io_name(r));
	harness_assert(discarded < 8 * big, "received %zu bytes, more than was sent", discarded);
	close(fd);
}
END_TEST

/* ---- in-flight requests and ordering ----------------------------------------------- */

START_TEST(test_max_inflight_answers_all_pipelined_requests_in_order)
{
	struct harness_daemon *d = harness_start_ready(CONF_TEST("", "max_inflight = 4\n"),
	                                               harness_test_module("testhandler"));
	int fd = harness_connect_ok(harness_port(d, "frames"));
	enum { N = 10, MS = 100 };
	char buf[N * 64];
	size_t off = 0;
	for (int i = 0; i < N; i++) {
		char p[32];
		snprintf(p, sizeof(p), "sleep:%d:reply-%d", MS, i);
		put_frame(buf, &off, p);
	}
	uint64_t t0 = harness_now_ms();
	int r = harness_send_all(fd, buf, off, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	for (int i = 0; i < N; i++) {
		char want[32];
		snprintf(want, sizeof(want), "reply-%d", i);
		harness_expect_frame(fd, want);
	}
	uint64_t took = harness_now_ms() - t0;
	/* At most 4 of the 10 sleep at once: ceil(10/4) = 3 rounds, where 5
	 * or more in flight would take 2.  The margin is for libevent's
	 * timers, which run on the coarse monotonic clock and may fire up to
	 * a clock tick early in each round. */
	harness_assert(took >= 2 * MS + MS / 2, "10 requests of %dms took %llums: more than 4 in flight",
	               MS, (unsigned long long)took);
	/* And they do overlap: one at a time would take 10 rounds. */
	harness_assert(took < N * MS, "10 requests of %dms took %llums: none overlapped", MS,
	               (unsigned long long)took);
	close(fd);
}
END_TEST

START_TEST(test_replies_leave_in_request_order)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", ""), harness_test_module("testhandler"));
	int fd = harness_connect_ok(harness_port(d, "frames"));
	char buf[128];
	size_t off = 0;
	put_frame(buf, &off, "sleep:200:a");
	put_frame(buf, &off, "sleep:10:b");
	put_frame(buf, &off, "c");
	int r = harness_send_all(fd, buf, off, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	/* b completes 190ms before a; c at once; they leave as a, b, c. */
	harness_expect_frame(fd, "a");
	harness_expect_frame(fd, "b");
	harness_expect_frame(fd, "c");
	close(fd);
}
END_TEST

START_TEST(test_reset_connection_cancels_a_pending_reply)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", ""), harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	int fd = harness_connect_ok(port);
	size_t from = harness_log_size(d);
	harness_send_frame_ok(fd, "sleep:300:never");
	harness_wait_log(d, from, "module testhandler: sleeping 300ms");
	harness_close_reset(fd);
	harness_wait_log(d, from, "module testhandler: cancelled a pending reply");
	/* The worker lives on past the cancelled timer's time. */
	fd = harness_connect_ok(port);
	harness_send_frame_ok(fd, "sleep:400:later");
	harness_expect_frame(fd, "later");
	close(fd);
	harness_assert(harness_log_count(d, 0, "killed by signal", 1, NULL, NULL, 0) == 0,
	               "a worker died");
}
END_TEST

START_TEST(test_reset_arriving_with_the_request_cancels_its_reply)
{
	/* The request and the reset reach the socket together (the worker is
	 * stopped meanwhile): one edge announces both, and the read finds the
	 * request, not the reset behind it.  The reply would take a minute;
	 * the cancel must come long before. */
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", ""), harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	pid_t worker;
	harness_wait_workers(d, 1, &worker);
	size_t from = harness_log_size(d);
	harness_stop_process(worker);
	int fd = harness_connect_ok(port);
	harness_send_frame_ok(fd, "sleep:60000:never");
	harness_close_reset(fd);
	kill(worker, SIGCONT);
	harness_wait_log(d, from, "module testhandler: sleeping 60000ms");
	harness_wait_log(d, from, "module testhandler: cancelled a pending reply");
	/* The worker serves on. */
	fd = harness_connect_ok(port);
	harness_send_frame_ok(fd, "sleep:10:after");
	harness_expect_frame(fd, "after");
	close(fd);
}
END_TEST

START_TEST(test_half_closed_connection_still_gets_its_replies)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", ""), harness_test_module("testhandler"));
	int fd = harness_connect_ok(harness_port(d, "frames"));
	char buf[64];
	size_t off = 0;
	put_frame(buf, &off, "sleep:200:late");
	put_frame(buf, &off, "now");
	int r = harness_send_all(fd, buf, off, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	shutdown(fd, SHUT_WR); /* FIN: done sending, still reading */
	harness_expect_frame(fd, "late");
	harness_expect_frame(fd, "now");
	r = harness_wait_closed(fd, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF, "after the replies: %s", harness_io_name(r));
	close(fd);
}
END_TEST

/* Send last and too_late in one write: expect reply (to last), then the
 * close, with nothing after the reply. */
static void expect_close_after(int fd, const char *last, const char *reply, const char *too_late)
{
	char buf[64];
	size_t off = 0;
	put_frame(buf, &off, last);
	put_frame(buf, &off, too_late);
	int r = harness_send_all(fd, buf, off, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	harness_expect_frame(fd, reply);
	harness_expect_clean_close(fd, "after the closing reply");
}

START_TEST(test_handler_close_replies_then_closes)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", ""), harness_test_module("testhandler"));
	int fd = harness_connect_ok(harness_port(d, "frames"));
	harness_send_frame_ok(fd, "first");
	harness_expect_frame(fd, "first");
	/* A request after the closing one, in the same write: the connection
	 * ends with the closing request's reply. */
	expect_close_after(fd, "close:bye", "bye", "too late");
}
END_TEST

/* ---- connection limits -------------------------------------------------------------- */

/* conn_data (ABI 1.4): a module's block is per connection, kept across its
 * requests, and released when the connection goes, however it goes. */
START_TEST(test_conn_data_lives_and_dies_with_its_connection)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_TEST("", ""), harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	int a = harness_connect_ok(port), b = harness_connect_ok(port);
	harness_send_frame_ok(a, "conndata");
	harness_expect_frame(a, "conndata=1");
	harness_send_frame_ok(a, "conndata");
	harness_expect_frame(a, "conndata=2");
	harness_send_frame_ok(b, "conndata");
	harness_expect_frame(b, "conndata=1");
	size_t from = harness_log_size(d);
	close(a);
	harness_wait_log(d, from,
	                 "module testhandler: conn data of connection [0-9]+ released after 2");
	harness_send_frame_ok(b, "conndata");
	harness_expect_frame(b, "conndata=2");
	harness_send_frame_ok(b, "conndata");
	harness_expect_frame(b, "conndata=3");
	harness_close_reset(b);
	harness_wait_log(d, from,
	                 "module testhandler: conn data of connection [0-9]+ released after 3");
	/* A connection that never asked has no block to release. */
	int c = harness_connect_ok(port);
	harness_send_frame_ok(c, "plain");
	harness_expect_frame(c, "plain");
	close(c);
	harness_stop(d);
	harness_assert(harness_log_count(d, 0, "conn data of connection", 3, NULL, NULL, 0) == 2,
	               "a block released twice, or one that was never made");
}
END_TEST

/* A codec with no way to announce it: the connection just closes after
 * the reply to its last allowed request. */
START_TEST(test_max_requests_per_connection_closes_after_the_last_reply)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_TEST("", "max_requests_per_connection = 2\n"), harness_test_module("testhandler"));
	int fd = harness_connect_ok(harness_port(d, "frames"));
	harness_send_frame_ok(fd, "one");
	harness_expect_frame(fd, "one");
	expect_close_after(fd, "two", "two", "three");
}
END_TEST

START_TEST(test_listener_max_connections_holds_the_sixth_until_one_closes)
{
	struct harness_daemon *d = harness_start_ready(CONF_TEST("", "max_connections = 5\n"),
	                                               harness_test_module("testhandler"));
	int port = harness_port(d, "frames");
	int fds[5];
	for (int i = 0; i < 5; i++) {
		char p[16];
		fds[i] = harness_connect_ok(port);
		snprintf(p, sizeof(p), "conn-%d", i);
		harness_send_frame_ok(fds[i], p);
		harness_expect_frame(fds[i], p);
	}
	/* The kernel completes the sixth handshake; the worker must not take
	 * it while five are open. */
	int sixth = harness_connect_ok(port);
	harness_send_frame_ok(sixth, "sixth");
	char *got;
	size_t len;
	int r = harness_recv_frame(sixth, &got, &len, 500);
	harness_assert(r == HARNESS_TIMEOUT, "the sixth connection got %s ('%s') with 5 open",
	               harness_io_name(r), got ? got : "");
	close(fds[2]);
	harness_expect_frame(sixth, "sixth");
	/* The other four still work. */
	for (int i = 0; i < 5; i++) {
		if (i == 2)
			continue;
		harness_send_frame_ok(fds[i], "again");
		harness_expect_frame(fds[i], "again");
		close(fds[i]);
	}
	close(sixth);
}
END_TEST

/* ---- connections per client address ----------------------------------------- */

/* Two workers; "web" (http1) allows 2 connections per address, "frames"
 * (lenprefix, which has no error reply) 1; "scrape" serves the metrics. */
#define CONF_PER_IP                                                                                \
	"[server]\nworkers = 2\nshutdown_timeout = 5s\n"                                           \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module http1]\n[module fixed]\nbody = hello\n"                                           \
	"[module lenprefix]\n[module testhandler]\nfile = %s\nlog_connections = yes\n"             \
	"[module prometheus]\n"                                                                    \
	"[listener web]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = fixed\n"                   \
	"max_connections_per_ip = 2\n"                                                             \
	"[listener frames]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = testhandler\n"      \
	"max_connections_per_ip = 1\n"                                                             \
	"[listener scrape]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = prometheus\n"

/* GET / on fd: returns the status code; a 200 must carry "hello", a 503
 * must say "Connection: close" and be followed by the close. */
static int http_get(int fd)
{
	char body[64];
	int closing;
	int code = harness_http_get(fd, "/", body, sizeof(body), &closing);
	if (code == 200) {
		harness_assert(strcmp(body, "hello") == 0, "body '%s'", body);
	} else {
		harness_assert(code == 503, "status %d", code);
		harness_assert(closing, "a 503 without Connection: close");
		int r = harness_wait_closed(fd, IO_MS, NULL);
		harness_assert(r == HARNESS_EOF || r == HARNESS_RESET,
		               "the refused connection stayed open (%s)", harness_io_name(r));
	}
	return code;
}

/* Two connections from 127.0.0.1 held by different workers: a third is
 * refused by whichever worker takes it, so the count is the host's, not a
 * worker's.  Another address is served meanwhile, and once one of the two
 * closes, 127.0.0.1 is served again. */
START_TEST(test_max_connections_per_ip_counts_an_address_over_all_workers)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_PER_IP, harness_test_module("testhandler"));
	int web = harness_port(d, "web");
	int refused = 0;
	int a = harness_connect_ok(web);
	harness_assert(http_get(a) == 200, "the first connection was refused");
	pid_t owner_a = harness_connection_owner(d, a);
	/* The second connection goes to the other worker: a's is stopped. */
	harness_stop_process(owner_a);
	int b = harness_connect_ok(web);
	int code = http_get(b);
	kill(owner_a, SIGCONT);
	harness_assert(code == 200, "the second connection from 127.0.0.1 got %d", code);
	harness_assert(harness_connection_owner(d, b) != owner_a, "both on worker %d",
	               (int)owner_a);
	for (int i = 0; i < 3; i++) {
		int c = harness_connect_ok(web);
		harness_assert(http_get(c) == 503, "a third connection from 127.0.0.1 was served");
		refused++;
		close(c);
	}
	int other = harness_connect_from(web, "127.0.0.2");
	harness_assert(other >= 0, "connect from 127.0.0.2: %s", strerror(errno));
	harness_assert(http_get(other) == 200, "127.0.0.2 was refused");
	harness_assert(http_get(a) == 200 && http_get(b) == 200, "the two held connections");

	/* Once the daemon has closed its side, it no longer counts a. */
	shutdown(a, SHUT_WR);
	harness_expect_clean_close(a, "the held connection, after our FIN");
	int again = harness_connect_ok(web);
	harness_assert(http_get(again) == 200, "127.0.0.1 refused after one of its two closed");
	harness_assert(http_get(b) == 200, "the other held connection");

	char *t = admin_scrape_frames(harness_port(d, "scrape"));
	admin_expect_sample(
	    t, "modhost_limit_hits_total{listener=\"web\",limit=\"max_connections_per_ip\"}",
	    refused);
	free(t);
	close(again);
	close(b);
	close(other);
}
END_TEST

/* The limit is the listener's: connections to "web" do not count on
 * "frames".  lenprefix has no error reply, so a refused connection is
 * just closed. */
START_TEST(test_max_connections_per_ip_is_per_listener)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_PER_IP, harness_test_module("testhandler"));
	int web = harness_connect_ok(harness_port(d, "web"));
	harness_assert(http_get(web) == 200, "web refused its first connection");
	int frames = harness_port(d, "frames");
	int a = harness_connect_ok(frames);
	harness_send_frame_ok(a, "first");
	harness_expect_frame(a, "first");

	size_t from = harness_log_size(d);
	int b = harness_connect_ok(frames);
	int r = harness_wait_closed(b, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "the second connection: %s",
	               harness_io_name(r));
	harness_wait_log(d, from,
	                 "listener 'frames': closing connection from 127\\.0\\.0\\.1:[0-9]+: "
	                 "too many connections from this address");
	close(b);

	int c = harness_connect_from(frames, "127.0.0.3");
	harness_assert(c >= 0, "connect from 127.0.0.3: %s", strerror(errno));
	harness_send_frame_ok(c, "other");
	harness_expect_frame(c, "other");
	harness_send_frame_ok(a, "still");
	harness_expect_frame(a, "still");
	close(a);
	close(c);
	close(web);
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("backpressure");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_peer_that_never_reads_costs_bounded_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_idle_timeout_closes_an_idle_connection);
	tcase_add_test(tc, test_idle_timeout_counts_from_the_last_request);
	tcase_add_test(tc, test_read_timeout_closes_an_incomplete_message);
	tcase_add_test(tc, test_write_timeout_closes_a_peer_that_does_not_read);
	suite_add_tcase(s, tc);

	tc = tcase_create("inflight");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_max_inflight_answers_all_pipelined_requests_in_order);
	tcase_add_test(tc, test_replies_leave_in_request_order);
	tcase_add_test(tc, test_reset_connection_cancels_a_pending_reply);
	tcase_add_test(tc, test_reset_arriving_with_the_request_cancels_its_reply);
	tcase_add_test(tc, test_half_closed_connection_still_gets_its_replies);
	tcase_add_test(tc, test_handler_close_replies_then_closes);
	suite_add_tcase(s, tc);

	tc = tcase_create("connections");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_listener_max_connections_holds_the_sixth_until_one_closes);
	tcase_add_test(tc, test_conn_data_lives_and_dies_with_its_connection);
	tcase_add_test(tc, test_max_requests_per_connection_closes_after_the_last_reply);
	tcase_add_test(tc, test_max_connections_per_ip_counts_an_address_over_all_workers);
	tcase_add_test(tc, test_max_connections_per_ip_is_per_listener);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(limits_suite(), CK_ENV);
}
