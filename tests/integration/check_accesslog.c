/* tests/integration/check_accesslog.c — the accesslog observer against
 * the real modhostd: lines in JSON and logfmt checked by python3, W3C
 * trace context accepted and propagated (or not, as configured), the log
 * reopened after rotation, and the TLS client's identity named.  Uses
 * curl against the http1 codec, skipped, saying so, when http1.so is not
 * built. */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
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

/* ---- access log -------------------------------------------------------------- */

#define CONF_ACCESS(format, extra)                                                                 \
	CONF_HEAD("2")                                                                             \
	CONF_ADMIN "[module lenprefix]\n[module echo]\n"                                           \
	           "[module accesslog]\nformat = " format "\noutput = %s\n" extra                  \
	           "[listener echo]\nlisten = 127.0.0.1:0\ncodec = lenprefix\n"                    \
	           "handler = echo\n"

#define TRACE_ID  "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT_ID "00f067aa0ba902b7"

/* Prints "L<n> key=value" for every field of every JSON line, sorted. */
static const char *const json_lines_py = "import json, sys\n"
                                         "for i, line in enumerate(open(sys.argv[1])):\n"
                                         "    d = json.loads(line)\n"
                                         "    for k in sorted(d):\n"
                                         "        print('L%d %s=%s' % (i, k, d[k]))\n";

/* The same for logfmt: key=value or key=\"quoted \\\" value\", one space
 * apart, nothing else on the line. */
static const char *const logfmt_lines_py =
    "import re, sys\n"
    "pair = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=(\"(?:[^\"\\\\]|\\\\.)*\"|[^ \"=]+)( |$)')\n"
    "for i, line in enumerate(open(sys.argv[1])):\n"
    "    line = line.rstrip('\\n')\n"
    "    pos, d = 0, {}\n"
    "    while pos < len(line):\n"
    "        m = pair.match(line, pos)\n"
    "        if not m:\n"
    "            sys.exit('line %d: bad logfmt at %d: %s' % (i, pos, line))\n"
    "        v = m.group(2)\n"
    "        if v.startswith('\"'):\n"
    "            v = re.sub(r'\\\\(.)', r'\\1', v[1:-1])\n"
    "        d[m.group(1)] = v\n"
    "        pos = m.end()\n"
    "    for k in sorted(d):\n"
    "        print('L%d %s=%s' % (i, k, d[k]))\n";

/* Lines in path. */
static int count_lines(const char *path)
{
	char *t = admin_read_file(path);
	int n = 0;
	for (char *p = t; *p; p++)
		n += *p == '\n';
	free(t);
	return n;
}

START_TEST(test_access_log_json_with_trace_context_and_rotation)
{
	if (!admin_have_http1(__func__))
		return;
	char *log = harness_tmpfile("access.log");
	struct harness_daemon *d = harness_start_ready(CONF_ACCESS("json", ""), log);
	int port = harness_port(d, "admin"), echo = harness_port(d, "echo");

	/* L0: a traceparent is continued: same trace, flags, a new span. */
	struct admin_http h =
	    admin_curl(port, "/health/live", "-H 'traceparent: 00-" TRACE_ID "-" PARENT_ID "-01'");
	char tp[128], want[128];
	harness_assert(h.code == 200, "/health/live: %d", h.code);
	harness_assert(admin_header(&h, "traceparent", tp, sizeof(tp)), "no traceparent in:\n%s",
	               h.headers);
	harness_assert(strlen(tp) == 55 && strncmp(tp, "00-" TRACE_ID "-", 36) == 0 &&
	                   strcmp(tp + 52, "-01") == 0 && strncmp(tp + 36, PARENT_ID, 16) != 0,
	               "traceparent '%s'", tp);
	admin_http_free(&h);
	/* L1: no route matches: 404, and a fresh trace. */
	admin_expect_http(port, "/nowhere", 404, NULL);
	/* L2: an invalid traceparent (zero trace id) is not continued. */
	h = admin_curl(port, "/health/ready",
	         "-H 'traceparent: 00-00000000000000000000000000000000-" PARENT_ID "-01'");
	char tp2[128];
	harness_assert(admin_header(&h, "traceparent", tp2, sizeof(tp2)) && strlen(tp2) == 55 &&
	                   strncmp(tp2, "00-00000000", 11) != 0,
	               "traceparent '%s'", tp2);
	admin_http_free(&h);
	/* L3: a lenprefix message: no HTTP fields, a generated trace id. */
	int fd = harness_connect(echo);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	int r = harness_echo_frame(fd, "hello", 5, IO_MS);
	harness_assert(r == HARNESS_OK, "echo: %s", harness_io_name(r));

	/* Lines are written before the reply leaves: all four are there. */
	char *out = admin_python(json_lines_py, log);
	admin_expect_line(out, "L0 listener=admin");
	admin_expect_line(out, "L0 route=health");
	admin_expect_line(out, "L0 protocol=http1");
	admin_expect_line(out, "L0 method=GET");
	admin_expect_line(out, "L0 path=/health/live");
	admin_expect_line(out, "L0 status=200");
	admin_expect_line(out, "L0 trace_id=" TRACE_ID);
	snprintf(want, sizeof(want), "L0 span_id=%.16s", tp + 36);
	admin_expect_line(out, want);
	harness_assert(strstr(out, "L0 peer=127.0.0.1:") && strstr(out, "L0 duration_us=") &&
	                   strstr(out, "L0 time=") && strstr(out, "L0 bytes_in=0"),
	               "fields missing:\n%s", out);
	admin_expect_line(out, "L1 path=/nowhere");
	admin_expect_line(out, "L1 status=404");
	harness_assert(strstr(out, "L1 route=") == NULL, "L1 has a route:\n%s", out);
	snprintf(want, sizeof(want), "L2 trace_id=%.32s", tp2 + 3);
	admin_expect_line(out, want);
	admin_expect_line(out, "L3 listener=echo");
	admin_expect_line(out, "L3 status=200");
	admin_expect_line(out, "L3 bytes_in=5");
	admin_expect_line(out, "L3 bytes_out=5");
	harness_assert(strstr(out, "L3 path=") == NULL && strstr(out, "L3 trace_id=") != NULL,
	               "L3 fields:\n%s", out);
	free(out);

	/* Rotation: rename the file away; within a second or so the workers
	 * write to a new one at the same path, and no line is lost. */
	char *old = harness_tmpfile("access.log.1");
	harness_assert(rename(log, old) == 0, "rename: %s", strerror(errno));
	int sent = 0;
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	/* Each worker reopens on its own, on its next line a second after
	 * its last check: the echo connection's worker writes here. */
	while (access(log, F_OK) != 0 || count_lines(log) < 1) {
		harness_assert(harness_now_ms() < deadline, "%s was not reopened", log);
		r = harness_echo_frame(fd, "again", 5, IO_MS);
		harness_assert(r == HARNESS_OK, "echo: %s", harness_io_name(r));
		sent++;
	}
	close(fd);
	harness_assert(count_lines(old) + count_lines(log) == 4 + sent,
	               "%d + %d lines, expected %d", count_lines(old), count_lines(log), 4 + sent);
	out = admin_python(json_lines_py, log); /* still valid JSON lines */
	free(out);
	free(old);
	free(log);
}
END_TEST

START_TEST(test_access_log_logfmt_without_propagation)
{
	if (!admin_have_http1(__func__))
		return;
	char *log = harness_tmpfile("access.log");
	struct harness_daemon *d =
	    harness_start_ready(CONF_ACCESS("logfmt", "propagate = no\n"), log);
	int port = harness_port(d, "admin"), echo = harness_port(d, "echo");
	struct admin_http h =
	    admin_curl(port, "/health/ready", "-H 'traceparent: 00-" TRACE_ID "-" PARENT_ID "-01'");
	char tp[128];
	harness_assert(h.code == 200, "/health/ready: %d", h.code);
	harness_assert(!admin_header(&h, "traceparent", tp, sizeof(tp)),
	               "traceparent sent with propagate = no: %s", tp);
	admin_http_free(&h);
	int fd = harness_connect(echo);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	int r = harness_echo_frame(fd, "hello", 5, IO_MS);
	harness_assert(r == HARNESS_OK, "echo: %s", harness_io_name(r));
	close(fd);

	char *out = admin_python(logfmt_lines_py, log);
	admin_expect_line(out, "L0 listener=admin");
	admin_expect_line(out, "L0 route=health");
	admin_expect_line(out, "L0 path=/health/ready");
	admin_expect_line(out, "L0 status=200");
	admin_expect_line(out, "L0 trace_id=" TRACE_ID);
	admin_expect_line(out, "L1 listener=echo");
	admin_expect_line(out, "L1 bytes_in=5");
	harness_assert(strstr(out, "L0 time=") && strstr(out, "L1 peer=127.0.0.1:") &&
	                   strstr(out, "L1 span_id="),
	               "fields missing:\n%s", out);
	harness_assert(count_lines(log) == 2, "%d lines", count_lines(log));
	free(out);
	free(log);
}
END_TEST

/* Wait until path holds at least want lines (lines are written by the
 * workers; the file has no notification: look every 10ms). */
static int wait_lines(const char *path, int want)
{
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int n;
	while ((n = count_lines(path)) < want) {
		harness_assert(harness_now_ms() < deadline, "%s has %d lines, expected %d", path, n,
		               want);
		poll(NULL, 0, 10);
	}
	return n;
}

/* Echo n frames on a new connection to port, then close it. */
static void echo_frames(int port, int n)
{
	int fd = harness_connect(port);
	harness_assert(fd >= 0, "connect: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		int r = harness_echo_frame(fd, "buffered", 8, IO_MS);
		harness_assert(r == HARNESS_OK, "echo %d: %s", i, harness_io_name(r));
	}
	close(fd);
}

/* buffer = 1KiB with a flush an hour away: lines leave only when the
 * buffer is full, when a reload retires the generation, and when the
 * daemon stops; every line arrives whole and none is lost. */
START_TEST(test_access_log_buffered_lines_leave_whole)
{
	if (!admin_have_http1(__func__))
		return;
	enum { N = 60 };
	char *log = harness_tmpfile("access.log");
	struct harness_daemon *d =
	    harness_start_ready(CONF_ACCESS("json", "buffer = 1KiB\nflush = 1h\n"), log);
	int echo = harness_port(d, "echo");
	echo_frames(echo, N);
	/* A line is ~250 bytes: full buffers went out, the last lines wait. */
	int n = wait_lines(log, N - 8);
	harness_assert(n < N, "all %d lines written with flush = 1h: nothing was buffered", n);
	/* A reload replaces the workers: each old one writes what it holds
	 * before it exits. */
	size_t from = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log_n(d, from, "generation 1\\) finished", 2);
	harness_assert(count_lines(log) == N, "%d lines after the reload, expected %d",
	               count_lines(log), N);
	/* And stopping writes the rest. */
	echo_frames(echo, 3);
	harness_signal(d, SIGTERM);
	int st;
	harness_assert(harness_wait_exit(d, HARNESS_WAIT_MS, &st) && WIFEXITED(st) &&
	                   WEXITSTATUS(st) == 0,
	               "modhostd did not stop cleanly");
	harness_assert(count_lines(log) == N + 3, "%d lines after the stop, expected %d",
	               count_lines(log), N + 3);
	char *out = admin_python(json_lines_py, log); /* every line whole JSON */
	admin_expect_line(out, "L62 bytes_in=8");
	free(out);
	free(log);
}
END_TEST

/* A buffer far from full still goes out after `flush`. */
START_TEST(test_access_log_buffer_flushes_on_time)
{
	if (!admin_have_http1(__func__))
		return;
	char *log = harness_tmpfile("access.log");
	struct harness_daemon *d =
	    harness_start_ready(CONF_ACCESS("logfmt", "buffer = 64KiB\nflush = 50ms\n"), log);
	echo_frames(harness_port(d, "echo"), 5);
	wait_lines(log, 5);
	char *out = admin_python(logfmt_lines_py, log);
	admin_expect_line(out, "L4 bytes_in=8");
	free(out);
	free(log);
}
END_TEST

/* Quotes, backslashes and bytes that may not be UTF-8 are escaped: the
 * line stays one valid JSON object that decodes to the bytes sent. */
START_TEST(test_access_log_escapes_what_it_must)
{
	if (!admin_have_http1(__func__))
		return;
	char *log = harness_tmpfile("access.log");
	struct harness_daemon *d = harness_start_ready(CONF_ACCESS("json", ""), log);
	int fd = harness_connect_ok(harness_port(d, "admin"));
	const char req[] = "GET /q\"b\\s\xe9plain-run HTTP/1.1\r\nHost: x\r\n\r\n";
	int r = harness_send_all(fd, req, sizeof(req) - 1, IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
	char head[13] = {0};
	r = harness_recv_exact(fd, head, 12, IO_MS);
	harness_assert(r == HARNESS_OK && strcmp(head, "HTTP/1.1 404") == 0, "reply: %s '%s'",
	               harness_io_name(r), head);
	close(fd);
	wait_lines(log, 1);
	char *out = admin_python(json_lines_py, log);
	/* \u00e9 decodes to U+00E9, printed as UTF-8. */
	admin_expect_line(out, "L0 path=/q\"b\\s\xc3\xa9plain-run");
	free(out);
	free(log);
}
END_TEST

/* Over TLS with a client certificate, the line names the TLS version and
 * the client's subject. */
START_TEST(test_access_log_names_the_tls_client)
{
	if (!admin_have_http1(__func__))
		return;
	int st;
	char *certs = harness_tmpfile("certs");
	char *out = harness_sh(&st, "sh '%s/tests/tls/mkcerts.sh' '%s'", harness_env("MH_SRCDIR"), certs);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mkcerts.sh: %s", out);
	free(out);
	char *log = harness_tmpfile("access.log");
	struct harness_daemon *d =
	    harness_start_ready(CONF_HEAD("1") CONF_ADMIN
	                        "[module accesslog]\noutput = %s\n"
	                        "[listener secure]\nlisten = 127.0.0.1:0\ncodec = http1\n"
	                        "routes = health\ntls = on\ntls_certificate = %s/server-ecdsa.pem "
	                        "%s/server-ecdsa.key\ntls_client_ca = %s/ca.pem\n"
	                        "tls_verify_client = require\n",
	                        log, certs, certs, certs);
	int port = harness_port(d, "secure");
	out = harness_sh(&st,
	         "curl -s -S --cacert '%s/ca.pem' --cert '%s/client.pem' --key '%s/client.key' "
	         "'https://127.0.0.1:%d/health/live'",
	         certs, certs, certs, port);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(out, "live\n") == 0,
	               "curl over TLS: %s", out);
	free(out);
	out = admin_python(json_lines_py, log);
	admin_expect_line(out, "L0 listener=secure");
	admin_expect_line(out, "L0 status=200");
	harness_assert(strstr(out, "\nL0 tls=TLS1.") != NULL, "no TLS version:\n%s", out);
	harness_assert(strstr(out, "\nL0 tls_subject=") != NULL &&
	                   strstr(strstr(out, "\nL0 tls_subject="), "CN=client1") != NULL,
	               "no client subject:\n%s", out);
	free(out);
	free(log);
	free(certs);
}
END_TEST

static Suite *accesslog_suite(void)
{
	Suite *s = suite_create("accesslog");
	TCase *tc = tcase_create("accesslog");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_access_log_json_with_trace_context_and_rotation);
	tcase_add_test(tc, test_access_log_logfmt_without_propagation);
	tcase_add_test(tc, test_access_log_buffered_lines_leave_whole);
	tcase_add_test(tc, test_access_log_buffer_flushes_on_time);
	tcase_add_test(tc, test_access_log_escapes_what_it_must);
	tcase_add_test(tc, test_access_log_names_the_tls_client);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(accesslog_suite(), CK_ENV);
}
