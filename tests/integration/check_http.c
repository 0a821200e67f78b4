/* tests/integration/check_http.c — the http1 codec in the real modhostd:
 * curl (keep-alive reuse, chunked upload, Expect: 100-continue, HTTP/1.0)
 * and raw sockets (pipelining, every limit and request-smuggling case with
 * its exact status and whether the connection closes, routes, HEAD, the
 * fields a handler sees, requests arriving a byte at a time). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"
#include "modhost-t.h"

#define IO_MS 10000

/* Two instances of the codec: "http1" with its defaults for the curl tests,
 * "tight" (the same .so) with small limits for the limit tests.  Listener
 * "web" echoes; "routed" has routes and no handler of its own; "limits"
 * uses the tight codec with routes; "slow" allows 300 ms per request;
 * "short" 3 requests per connection. */
#define CONF                                                                                       \
	"[server]\nworkers = 1\nshutdown_timeout = 5s\n"                                           \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module http1]\n"                                                                         \
	"[module tight]\nfile = %s/http1.so\nmax_request_line = 256\nmax_header_size = 1KiB\n"     \
	"max_headers = 10\nmax_body = 4KiB\n"                                                      \
	"[module echo]\n"                                                                          \
	"[module fixed]\n"                                                                         \
	"[module httpfields]\nfile = %s\n"                                                         \
	"[route r-hello]\nmatch_path = /hello\nmatch_method = GET HEAD\nhandler = fixed\n"         \
	"[route r-echo]\nmatch_path = /echo\nmatch_method = POST PUT\nhandler = echo\n"            \
	"[route r-fields]\nmatch_path = /fields\nhandler = httpfields\n"                           \
	"[listener web]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = echo\n"                    \
	"[listener routed]\nlisten = 127.0.0.1:0\ncodec = http1\n"                                 \
	"routes = r-hello, r-echo, r-fields\n"                                                     \
	"[listener limits]\nlisten = 127.0.0.1:0\ncodec = tight\n"                                 \
	"routes = r-hello, r-echo, r-fields\n"                                                     \
	"[listener slow]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = fixed\n"                  \
	"read_timeout = 300ms\n"                                                                   \
	"[listener short]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = fixed\n"                 \
	"max_requests_per_connection = 3\n"

static struct harness_daemon *start(void)
{
	return harness_start_ready(CONF, harness_env("MODHOST_MODULE_PATH"),
	                           harness_test_module("httpfields"));
}

static void send_str(int fd, const char *s)
{
	int r = harness_send_all(fd, s, strlen(s), IO_MS);
	harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
}

/* ---- reading responses ----------------------------------------------------- */

struct resp {
	int code;
	char head[16384]; /* status line and headers, NUL-terminated */
	char body[65536];
	size_t body_len;
};

/* The value of header name in r (NUL-terminated copy in buf), or NULL. */
static const char *resp_header(const struct resp *r, const char *name, char *buf, size_t cap)
{
	size_t nlen = strlen(name);
	for (const char *line = strstr(r->head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2;
		if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':') {
			const char *v = h + nlen + 1;
			while (*v == ' ')
				v++;
			const char *end = strstr(v, "\r\n");
			size_t len = end ? (size_t)(end - v) : strlen(v);
			if (len >= cap)
				len = cap - 1;
			memcpy(buf, v, len);
			buf[len] = '\0';
			return buf;
		}
	}
	return NULL;
}

/* Read one response: the head byte by byte up to the blank line, then a
 * Content-Length body (none for a response to HEAD, when no_body). */
static void read_resp(int fd, struct resp *r, int no_body)
{
	size_t n = 0;
	while (n < 4 || memcmp(r->head + n - 4, "\r\n\r\n", 4) != 0) {
		harness_assert(n + 1 < sizeof(r->head), "response head too long: %.200s", r->head);
		int rc = harness_recv_exact(fd, r->head + n, 1, IO_MS);
		r->head[n + (rc == HARNESS_OK)] = '\0';
		harness_assert(rc == HARNESS_OK, "response head: %s after '%s'", harness_io_name(rc),
		               r->head);
		n++;
	}
	r->head[n] = '\0';
	harness_assert(sscanf(r->head, "HTTP/1.1 %d ", &r->code) == 1, "bad status line: %s",
	               r->head);
	char v[64];
	harness_assert(resp_header(r, "Date", v, sizeof(v)) != NULL, "no Date in %s", r->head);
	r->body_len = 0;
	r->body[0] = '\0';
	if (no_body || r->code < 200 || r->code == 204 || r->code == 304)
		return;
	harness_assert(resp_header(r, "Content-Length", v, sizeof(v)) != NULL,
	               "no Content-Length in %s", r->head);
	r->body_len = strtoul(v, NULL, 10);
	harness_assert(r->body_len < sizeof(r->body), "body of %zu bytes", r->body_len);
	int rc = harness_recv_exact(fd, r->body, r->body_len, IO_MS);
	harness_assert(rc == HARNESS_OK, "response body: %s", harness_io_name(rc));
	r->body[r->body_len] = '\0';
}

/* Read a response and check its status and body (body NULL: any). */
static void expect_resp(int fd, int code, const char *body)
{
	static struct resp r;
	read_resp(fd, &r, 0);
	harness_assert(r.code == code, "status %d, expected %d: %s", r.code, code, r.head);
	harness_assert(!body || strcmp(r.body, body) == 0, "body '%s', expected '%s'", r.body,
	               body);
}

/* The connection is still usable: one more request gets its answer. */
static void expect_open(int fd)
{
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_resp(fd, 200, "hello");
}

static void expect_closed(int fd)
{
	int r = harness_wait_closed(fd, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF, "connection not closed cleanly: %s", harness_io_name(r));
}

/* ---- curl ------------------------------------------------------------------------- */

/* Run a shell command line (curl, with redirections) that must succeed;
 * returns its output. */
static char *run_sh(const char *cmd)
{
	int st;
	char *out = harness_sh(&st, "%s", cmd);
	harness_assert(st == 0, "'%s' exited with status %d:\n%s", cmd, st, out);
	return out;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* A file of n pseudo-random bytes in the test's folder. */
static char *random_file(const char *name, size_t n)
{
	char *path = harness_tmpfile(name);
	FILE *f = fopen(path, "wb");
	harness_assert(f != NULL, "open %s: %s", path, strerror(errno));
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		fputc((int)(x & 0xff), f);
	}
	fclose(f);
	return path;
}

static void same_files(const char *a, const char *b)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "cmp '%s' '%s'", a, b);
	free(run_sh(cmd));
}

START_TEST(test_curl_keepalive_reuses_the_connection)
{
	struct harness_daemon *d = start();
	int port = harness_port(d, "routed");
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
	         "curl -sSv http://127.0.0.1:%d/hello http://127.0.0.1:%d/hello?again 2>&1", port, port);
	char *out = run_sh(cmd);
	harness_assert(strstr(out, "Re-using existing connection"), "no reuse:\n%s", out);
	harness_assert(count_of(out, "< HTTP/1.1 200 OK") == 2, "two 200s expected:\n%s", out);
	harness_assert(count_of(out, "hello") >= 2, "two bodies expected:\n%s", out);
	free(out);
}
END_TEST

START_TEST(test_curl_chunked_upload_is_echoed)
{
	struct harness_daemon *d = start();
	int port = harness_port(d, "web");
	char *in = random_file("upload", 300 * 1000);
	char *got = harness_tmpfile("echoed");
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
	         "curl -sSv -T - -H 'Transfer-Encoding: chunked' -o '%s' http://127.0.0.1:%d/up "
	         "< '%s' 2>&1",
	         got, port, in);
	char *out = run_sh(cmd);
	harness_assert(strstr(out, "> Transfer-Encoding: chunked"), "not chunked:\n%s", out);
	harness_assert(strstr(out, "< HTTP/1.1 200 OK"), "no 200:\n%s", out);
	harness_assert(strstr(out, "< Content-Length: 300000"), "reply length:\n%s", out);
	same_files(in, got);
	free(out);
	free(in);
	free(got);
}
END_TEST

START_TEST(test_curl_expect_100_continue)
{
	struct harness_daemon *d = start();
	int port = harness_port(d, "web");
	char *in = random_file("body", 100 * 1000);
	char *got = harness_tmpfile("echoed");
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
	         "curl -sSv -H 'Expect: 100-continue' --data-binary @'%s' -o '%s' "
	         "http://127.0.0.1:%d/ 2>&1",
	         in, got, port);
	char *out = run_sh(cmd);
	harness_assert(strstr(out, "> Expect: 100-continue"), "no Expect sent:\n%s", out);
	harness_assert(strstr(out, "< HTTP/1.1 200 OK"), "no 200:\n%s", out);
#if MH_ABI_MINOR >= 2
	/* Needs the host's interim-response call (see doc/internals/http1.md). */
	harness_assert(strstr(out, "< HTTP/1.1 100 Continue"), "no 100 Continue:\n%s", out);
#endif
	same_files(in, got);
	free(out);

	/* A body over max_body is refused from the head alone: 413 at once,
	 * and curl never sends the body. */
	port = harness_port(d, "limits");
	snprintf(cmd, sizeof(cmd),
	         "curl -sv -H 'Expect: 100-continue' --data-binary @'%s' "
	         "http://127.0.0.1:%d/echo 2>&1",
	         in, port);
	out = run_sh(cmd);
	harness_assert(strstr(out, "< HTTP/1.1 413 Payload Too Large"), "no 413:\n%s", out);
	harness_assert(strstr(out, "< Connection: close"), "no Connection: close:\n%s", out);
	harness_assert(!strstr(out, "completely uploaded") && !strstr(out, "upload completely sent"),
	               "the body was sent:\n%s", out);
	free(out);
	free(in);
	free(got);
}
END_TEST

START_TEST(test_curl_http10_closes)
{
	struct harness_daemon *d = start();
	int port = harness_port(d, "routed");
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "curl -sSv -0 http://127.0.0.1:%d/hello 2>&1", port);
	char *out = run_sh(cmd);
	harness_assert(strstr(out, "> GET /hello HTTP/1.0"), "not HTTP/1.0:\n%s", out);
	harness_assert(strstr(out, "< HTTP/1.1 200 OK"), "no 200:\n%s", out);
	harness_assert(strstr(out, "< Connection: close"), "no Connection: close:\n%s", out);
	harness_assert(strstr(out, "hello"), "no body:\n%s", out);
	free(out);
}
END_TEST

/* ---- raw sockets: keep-alive, pipelining, 100-continue ------------------------------ */

START_TEST(test_http10_keepalive_and_close)
{
	struct harness_daemon *d = start();
	int port = harness_port(d, "routed");
	static struct resp r;
	char v[64];

	int fd = harness_connect_ok(port);
	send_str(fd, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	read_resp(fd, &r, 0);
	harness_assert(r.code == 200 && strcmp(r.body, "hello") == 0, "%s%s", r.head, r.body);
	harness_assert(resp_header(&r, "Connection", v, sizeof(v)) && strcmp(v, "keep-alive") == 0,
	               "1.0 keep-alive not confirmed: %s", r.head);
	send_str(fd, "GET /hello HTTP/1.0\r\n\r\n");
	read_resp(fd, &r, 0);
	harness_assert(resp_header(&r, "Connection", v, sizeof(v)) && strcmp(v, "close") == 0,
	               "1.0 without keep-alive not closed: %s", r.head);
	expect_closed(fd);

	/* HTTP/1.1 with Connection: close: requests behind it are not read. */
	fd = harness_connect_ok(port);
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
	             "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(fd, &r, 0);
	harness_assert(resp_header(&r, "Connection", v, sizeof(v)) && strcmp(v, "close") == 0,
	               "no Connection: close: %s", r.head);
	expect_closed(fd);
}
END_TEST

/* A handler that ends the connection (MH_HANDLE_CLOSE) gets its reply
 * marked Connection: close, and the request behind it is not answered. */
START_TEST(test_handler_close_says_connection_close)
{
	struct harness_daemon *d = start();
	static struct resp r;
	char v[64];
	int fd = harness_connect_ok(harness_port(d, "routed"));
	send_str(fd, "GET /fields?close HTTP/1.1\r\nHost: t\r\n\r\n"
	             "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(fd, &r, 0);
	harness_assert(r.code == 200 && strstr(r.body, "query=close\n"), "%s%s", r.head, r.body);
	harness_assert(resp_header(&r, "Connection", v, sizeof(v)) && strcmp(v, "close") == 0,
	               "no Connection: close: %s", r.head);
	size_t extra = 0;
	int rc = harness_wait_closed(fd, IO_MS, &extra);
	harness_assert(rc == HARNESS_EOF && extra == 0, "after the close: %s, %zu bytes more",
	               harness_io_name(rc), extra);
	close(fd);
	/* Without it the connection stays open. */
	fd = harness_connect_ok(harness_port(d, "routed"));
	send_str(fd, "GET /fields?keep HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(fd, &r, 0);
	harness_assert(!resp_header(&r, "Connection", v, sizeof(v)), "unexpected Connection: %s",
	               r.head);
	expect_open(fd);
	close(fd);
}
END_TEST

/* A request that was half in when the worker started draining is still
 * answered, and that last reply says Connection: close. */
START_TEST(test_draining_reply_says_connection_close)
{
	struct harness_daemon *d = start();
	static struct resp r;
	char v[64];
	int fd = harness_connect_ok(harness_port(d, "routed"));
	/* One write: the first request is answered, so the worker has read
	 * the half of the second that came with it. */
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\n");
	expect_resp(fd, 200, "hello");
	size_t from = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from, "draining [0-9]+ connections");
	send_str(fd, "Host: t\r\n\r\n");
	read_resp(fd, &r, 0);
	harness_assert(r.code == 200 && strcmp(r.body, "hello") == 0, "%s%s", r.head, r.body);
	harness_assert(resp_header(&r, "Connection", v, sizeof(v)) && strcmp(v, "close") == 0,
	               "no Connection: close while draining: %s", r.head);
	expect_closed(fd);
}
END_TEST

START_TEST(test_pipelined_requests_answered_in_order)
{
	struct harness_daemon *d = start();
	int fd = harness_connect_ok(harness_port(d, "routed"));
	send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst"
	             "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
	             "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "3\r\nthi\r\n2\r\nrd\r\n0\r\n\r\n");
	expect_resp(fd, 200, "first");
	expect_resp(fd, 200, "hello");
	expect_resp(fd, 200, "third");
	expect_open(fd);
	close(fd);
}
END_TEST

/* The 100 Continue for a request decoded behind another one goes out
 * right after the earlier reply. */
START_TEST(test_expect_continue_after_a_pipelined_reply)
{
	struct harness_daemon *d = start();
	int fd = harness_connect_ok(harness_port(d, "routed"));
	send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\na"
	             "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
	             "Content-Length: 4\r\n\r\n");
	expect_resp(fd, 200, "a");
	char cont[26];
	int r = harness_recv_exact(fd, cont, 25, IO_MS);
	cont[25] = '\0';
	harness_assert(r == HARNESS_OK && strcmp(cont, "HTTP/1.1 100 Continue\r\n\r\n") == 0,
	               "no 100 Continue (%s): '%s'", harness_io_name(r), cont);
	send_str(fd, "body");
	expect_resp(fd, 200, "body");
	expect_open(fd);
	close(fd);
}
END_TEST

/* Every request fed one byte per write: partial heads, bodies, chunks. */
START_TEST(test_requests_one_byte_at_a_time)
{
	struct harness_daemon *d = start();
	int fd = harness_connect_ok(harness_port(d, "routed"));
	static const char *reqs[] = {
	    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nbyte-1",
	    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4;x=y\r\nbyte\r\n2\r\n-2\r\n0\r\nTrailer: t\r\n\r\n",
	};
	static const char *want[] = {"byte-1", "byte-2"};
	for (size_t i = 0; i < 2; i++) {
		for (const char *p = reqs[i]; *p; p++) {
			int r = harness_send_all(fd, p, 1, IO_MS);
			harness_assert(r == HARNESS_OK, "send: %s", harness_io_name(r));
		}
		expect_resp(fd, 200, want[i]);
	}
	close(fd);
}
END_TEST

/* ---- limits and smuggling ---------------------------------------------------------- */

struct bad_case {
	const char *what;
	const char *request; /* NULL: built by the test */
	int code;
};

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Send request on a fresh connection to the tight listener; expect code,
 * "Connection: close", and the close itself. */
static void expect_refused(int port, const char *what, const char *request, int code)
{
	static struct resp r;
	char v[64];
	int fd = harness_connect_ok(port);
	send_str(fd, request);
	read_resp(fd, &r, 0);
	harness_assert(r.code == code, "%s: status %d, expected %d:\n%s%s", what, r.code, code, r.head,
	               r.body);
	harness_assert(resp_header(&r, "Connection", v, sizeof(v)) && strcmp(v, "close") == 0,
	               "%s: no Connection: close:\n%s", what, r.head);
	int rc = harness_wait_closed(fd, IO_MS, NULL);
	harness_assert(rc == HARNESS_EOF, "%s: not closed: %s", what, harness_io_name(rc));
	close(fd);
}

/* A request head still incomplete at read_timeout: 408, and the close is
 * announced, as for the codec's own refusals. */
START_TEST(test_read_timeout_answers_408_and_closes)
{
	struct harness_daemon *d = start();
	int port = harness_port(d, "slow");
	int fd = harness_connect_ok(port);
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\n");
	static struct resp r;
	char v[64];
	read_resp(fd, &r, 0);
	harness_assert(r.code == 408, "status %d, expected 408:\n%s", r.code, r.head);
	harness_assert(resp_header(&r, "Connection", v, sizeof(v)) && strcmp(v, "close") == 0,
	               "no Connection: close:\n%s", r.head);
	expect_closed(fd);
	close(fd);
	/* A connection that finished its request meanwhile is served. */
	fd = harness_connect_ok(port);
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_resp(fd, 200, NULL);
	close(fd);
}
END_TEST

/* max_requests_per_connection = 3: the third reply says Connection: close
 * and the connection ends; pipelined requests past the third are not
 * answered. */
START_TEST(test_max_requests_per_connection_closes_after_the_last)
{
	struct harness_daemon *d = start();
	int port = harness_port(d, "short");
	static struct resp r;
	char v[64];
	int fd = harness_connect_ok(port);
	for (int i = 1; i <= 3; i++) {
		send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
		read_resp(fd, &r, 0);
		harness_assert(r.code == 200, "request %d: status %d", i, r.code);
		const char *conn = resp_header(&r, "Connection", v, sizeof(v));
		harness_assert((i == 3) == (conn && strcmp(conn, "close") == 0),
		               "request %d: Connection: %s", i, conn ? conn : "(none)");
	}
	expect_closed(fd);
	close(fd);

	fd = harness_connect_ok(port);
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"
	             "GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"
	             "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	for (int i = 1; i <= 3; i++) {
		read_resp(fd, &r, 0);
		harness_assert(r.code == 200, "pipelined %d: status %d", i, r.code);
	}
	harness_assert(resp_header(&r, "Connection", v, sizeof(v)) && strcmp(v, "close") == 0,
	               "the third pipelined reply: no Connection: close:\n%s", r.head);
	harness_expect_clean_close(fd, "after the third reply");
}
END_TEST

START_TEST(test_limits_and_smuggling_refused_with_status_and_close)
{
	static const struct bad_case cases[] = {
	    {"garbage", "HELLO WORLD\r\n\r\n", 400},
	    {"lower-case method", "get /hello HTTP/1.1\r\nHost: t\r\n\r\n", 400},
	    {"no Host in 1.1", "GET /hello HTTP/1.1\r\n\r\n", 400},
	    {"two Hosts", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
	    {"HTTP/2.0", "GET /hello HTTP/2.0\r\nHost: t\r\n\r\n", 505},
	    {"space before colon", "GET /hello HTTP/1.1\r\nHost : t\r\n\r\n", 400},
	    {"folded header", "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400},
	    {"bare CR in a value", "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n", 400},
	    {"CONNECT", "CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n", 501},
	    {"body over max_body",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4097\r\n\r\n", 413},
	    {"huge Content-Length",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
	    {"negative Content-Length",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400},
	    {"Content-Length list",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
	    {"duplicate Content-Length",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	     400},
	    {"conflicting Content-Length",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
	     400},
	    {"Transfer-Encoding with Content-Length",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
	     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	     400},
	    {"Content-Length after Transfer-Encoding",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	     "Content-Length: 3\r\n\r\n0\r\n\r\n",
	     400},
	    {"chunked, chunked",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
	     "0\r\n\r\n",
	     400},
	    {"chunked twice in two headers",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	     400},
	    {"chunked not last",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
	     400},
	    {"no chunked at all",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", 400},
	    {"unsupported coding before chunked",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	     501},
	    {"bad chunk size",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", 400},
	    {"chunked body over max_body",
	     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "800\r\n", /* followed by 2048 + 2048 + 1 bytes of chunks below */
	     413},
	};
	struct harness_daemon *d = start();
	int port = harness_port(d, "limits");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		if (strcmp(c->what, "chunked body over max_body") == 0) {
			char *a = repeat('a', 2048);
			char *req;
			harness_assert(asprintf(&req, "%s%s\r\n800\r\n%s\r\n1\r\nz\r\n0\r\n\r\n",
			                        c->request, a, a) > 0, "asprintf");
			expect_refused(port, c->what, req, c->code);
			free(req);
			free(a);
		} else {
			expect_refused(port, c->what, c->request, c->code);
		}
	}
}
END_TEST

/* Each size limit: exactly at it is served, one byte over is refused. */
START_TEST(test_size_limits_at_and_over)
{
	struct harness_daemon *d = start();
	int port = harness_port(d, "limits");
	char *req;

	/* Request line: max_request_line = 256 = "GET " + target + " HTTP/1.1". */
	char *target = repeat('a', 256 - 4 - 9 - 7);
	harness_assert(asprintf(&req, "GET /hello/%s HTTP/1.1\r\nHost: t\r\n\r\n", target) > 0, "a");
	int fd = harness_connect_ok(port);
	send_str(fd, req);
	expect_resp(fd, 200, "hello");
	close(fd);
	free(req);
	harness_assert(asprintf(&req, "GET /hello/%sb HTTP/1.1\r\nHost: t\r\n\r\n", target) > 0, "a");
	expect_refused(port, "request line of 257 bytes", req, 414);
	free(req);
	free(target);
	/* ... and refused before it ends, once more than the limit arrived. */
	char *long_line = repeat('a', 400);
	harness_assert(asprintf(&req, "GET /%s", long_line) > 0, "a");
	expect_refused(port, "unfinished request line", req, 414);
	free(req);
	free(long_line);

	/* Header section: max_header_size = 1KiB of header lines. */
	const char *host = "Host: t\r\n";
	size_t pad = 1024 - strlen(host) - strlen("X-Pad: \r\n");
	char *v = repeat('p', pad);
	harness_assert(asprintf(&req, "GET /hello HTTP/1.1\r\n%sX-Pad: %s\r\n\r\n", host, v) > 0, "a");
	fd = harness_connect_ok(port);
	send_str(fd, req);
	expect_resp(fd, 200, "hello");
	close(fd);
	free(req);
	harness_assert(asprintf(&req, "GET /hello HTTP/1.1\r\n%sX-Pad: %sq\r\n\r\n", host, v) > 0, "a");
	expect_refused(port, "header section of 1025 bytes", req, 431);
	free(req);
	free(v);
	/* ... and refused before it ends. */
	v = repeat('p', 2000);
	harness_assert(asprintf(&req, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Pad: %s", v) > 0, "a");
	expect_refused(port, "unfinished header section", req, 431);
	free(req);
	free(v);

	/* Header count: max_headers = 10. */
	char hs[512] = "Host: t\r\n";
	for (int i = 1; i < 10; i++)
		snprintf(hs + strlen(hs), sizeof(hs) - strlen(hs), "X-%d: %d\r\n", i, i);
	harness_assert(asprintf(&req, "GET /hello HTTP/1.1\r\n%s\r\n", hs) > 0, "a");
	fd = harness_connect_ok(port);
	send_str(fd, req);
	expect_resp(fd, 200, "hello");
	close(fd);
	free(req);
	harness_assert(asprintf(&req, "GET /hello HTTP/1.1\r\n%sX-10: 10\r\n\r\n", hs) > 0, "a");
	expect_refused(port, "11 headers", req, 431);
	free(req);

	/* Body: max_body = 4KiB, by Content-Length and chunked. */
	char *body = repeat('b', 4096);
	harness_assert(asprintf(&req, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n%s",
	                        body) > 0, "a");
	fd = harness_connect_ok(port);
	send_str(fd, req);
	expect_resp(fd, 200, body);
	free(req);
	harness_assert(asprintf(&req, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
	                              "\r\n\r\n1000\r\n%s\r\n0\r\n\r\n", body) > 0, "a");
	send_str(fd, req);
	expect_resp(fd, 200, body);
	close(fd);
	free(req);
	free(body);
}
END_TEST

/* Requests before a bad one are still answered, in order, then the close. */
START_TEST(test_good_request_answered_before_a_bad_one)
{
	struct harness_daemon *d = start();
	int fd = harness_connect_ok(harness_port(d, "limits"));
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
	             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
	expect_resp(fd, 200, "hello");
	static struct resp r;
	read_resp(fd, &r, 0);
	harness_assert(r.code == 400, "status %d: %s", r.code, r.head);
	expect_closed(fd);
	close(fd);
}
END_TEST

/* ---- routes, HEAD, fields --------------------------------------------------------- */

START_TEST(test_routes_and_unmatched_404_keeps_the_connection)
{
	struct harness_daemon *d = start();
	int fd = harness_connect_ok(harness_port(d, "routed"));
	send_str(fd, "GET /hello/there HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_resp(fd, 200, "hello");
	send_str(fd, "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nput");
	expect_resp(fd, 200, "put");
	/* No route for the path, then none for the method. */
	send_str(fd, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_resp(fd, 404, NULL);
	send_str(fd, "DELETE /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_resp(fd, 404, NULL);
	expect_open(fd);
	close(fd);
}
END_TEST

START_TEST(test_head_has_length_but_no_body)
{
	struct harness_daemon *d = start();
	int fd = harness_connect_ok(harness_port(d, "routed"));
	static struct resp r;
	char v[64];
	send_str(fd, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"
	             "HEAD /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(fd, &r, 1);
	harness_assert(r.code == 200, "%s", r.head);
	harness_assert(resp_header(&r, "Content-Length", v, sizeof(v)) && strcmp(v, "5") == 0,
	               "HEAD length: %s", r.head);
	read_resp(fd, &r, 1);
	harness_assert(r.code == 404, "%s", r.head);
	/* A body after either head would show up here instead of the reply. */
	expect_open(fd);
	close(fd);
}
END_TEST

static void expect_line(const char *body, const char *line)
{
	harness_assert(strstr(body, line), "no '%s' in:\n%s", line, body);
}

START_TEST(test_handler_sees_fields_headers_and_trace_id)
{
	struct harness_daemon *d = start();
	int fd = harness_connect_ok(harness_port(d, "routed"));
	static struct resp r;
	send_str(fd, "PUT /fields/a%20b?x=1&y=2#frag HTTP/1.1\r\nHost: t\r\n"
	             "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	             "X-Spaced:   padded value  \r\nX-Empty:\r\nContent-Length: 3\r\n\r\nabc");
	read_resp(fd, &r, 0);
	harness_assert(r.code == 200, "%s", r.head);
	expect_line(r.body, "protocol=http1\n");
	expect_line(r.body, "method=PUT\n");
	expect_line(r.body, "path=/fields/a%20b\n");
	expect_line(r.body, "query=x=1&y=2\n");
	expect_line(r.body, "version=HTTP/1.1\n");
	expect_line(r.body, "trace=4bf92f3577b34da6a3ce929d0e0e4736\n");
	expect_line(r.body, "headers=5\n");
	expect_line(r.body, "h:X-Spaced=padded value\n");
	expect_line(r.body, "h:X-Empty=\n");
	expect_line(r.body, "body=3\n");

	/* Absolute form, HTTP/1.0, no query, an invalid traceparent. */
	send_str(fd, "GET http://example.com/fields/abs HTTP/1.0\r\nConnection: keep-alive\r\n"
	             "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n\r\n");
	read_resp(fd, &r, 0);
	harness_assert(r.code == 200, "%s", r.head);
	expect_line(r.body, "method=GET\n");
	expect_line(r.body, "path=/fields/abs\n");
	expect_line(r.body, "query=-\n");
	expect_line(r.body, "version=HTTP/1.0\n");
	expect_line(r.body, "trace=-\n");
	expect_open(fd);
	close(fd);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("curl");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_curl_keepalive_reuses_the_connection);
	tcase_add_test(tc, test_curl_chunked_upload_is_echoed);
	tcase_add_test(tc, test_curl_expect_100_continue);
	tcase_add_test(tc, test_curl_http10_closes);
	suite_add_tcase(s, tc);

	tc = tcase_create("raw");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_http10_keepalive_and_close);
	tcase_add_test(tc, test_handler_close_says_connection_close);
	tcase_add_test(tc, test_draining_reply_says_connection_close);
	tcase_add_test(tc, test_pipelined_requests_answered_in_order);
	tcase_add_test(tc, test_expect_continue_after_a_pipelined_reply);
	tcase_add_test(tc, test_requests_one_byte_at_a_time);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_limits_and_smuggling_refused_with_status_and_close);
	tcase_add_test(tc, test_read_timeout_answers_408_and_closes);
	tcase_add_test(tc, test_max_requests_per_connection_closes_after_the_last);
	tcase_add_test(tc, test_size_limits_at_and_over);
	tcase_add_test(tc, test_good_request_answered_before_a_bad_one);
	suite_add_tcase(s, tc);

	tc = tcase_create("routes");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_routes_and_unmatched_404_keeps_the_connection);
	tcase_add_test(tc, test_head_has_length_but_no_body);
	tcase_add_test(tc, test_handler_sees_fields_headers_and_trace_id);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(http_suite(), CK_ENV);
}
