/* tests/unit/check_http1.c — the http1 codec driven without sockets, through
 * the host function table: requests split at every byte position and fed
 * a byte at a time must decode exactly as when they arrive whole; replies
 * and error replies are checked on the wire byte for byte. */
#include "build-config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "buf.h"
#include "conn.h"
#include "loader.h"
#include "modenv.h"
#include "msg.h"

/* Load MODHOST_MODULE_PATH/http1.so with its defaults, but max_body = 64KiB. */
static void env_open(struct modenv *e)
{
	static const char *const settings[] = {"max_body=64KiB", NULL};
	modenv_open(e, "http1", settings);
	/* conn_close from decode only marks the connection: as in a callback. */
	e->conn->flags = CONN_IN_CALLBACK;
}

/* One decoded request, summarised: "METHOD PATH?QUERY VERSION [h=N] body". */
static void summarise(struct mh_msg *m, char *out, size_t cap)
{
	size_t ml, pl, ql, vl;
	const char *me = msg_field_get(m, MH_FIELD_METHOD, &ml);
	const char *pa = msg_field_get(m, MH_FIELD_PATH, &pl);
	const char *qu = msg_field_get(m, MH_FIELD_QUERY, &ql);
	const char *ve = msg_field_get(m, MH_FIELD_VERSION, &vl);
	struct mh_buf *b = msg_body(m);
	size_t bl = buf_length(b);
	snprintf(out, cap, "%.*s %.*s%s%.*s %.*s [h=%zu] %.*s", (int)ml, me, (int)pl, pa,
	         qu ? "?" : "", qu ? (int)ql : 0, qu ? qu : "", (int)vl, ve, msg_header_count(m),
	         (int)bl, bl ? (const char *)buf_data(b) : "");
}

/* Decode everything in the input; append each request's summary (one per
 * line) to log.  Returns the last decode result. */
static int drain(struct modenv *e, char *log, size_t cap)
{
	for (;;) {
		if (buf_length(e->in) == 0)
			return MH_DECODE_NEED_MORE;
		struct mh_msg *m = NULL;
		int r = e->codec->decode(&e->inst, e->conn, e->state, (mh_buf *)e->in, &m);
		if (r != MH_DECODE_MESSAGE) {
			if (m)
				msg_free(m);
			return r;
		}
		char line[512];
		summarise(m, line, sizeof(line));
		snprintf(log + strlen(log), cap - strlen(log), "%s\n", line);
		msg_free(m);
	}
}

static const char *requests[] = {
    "GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-Long: 0123456789\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
    "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-A: x\r\n\r\n",
    "GET /one HTTP/1.1\r\nHost: h\r\n\r\nPUT /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"
    "abcGET /three HTTP/1.0\r\n\r\n",
    "GET / HTTP/1.1\nHost: h\n\n", /* bare LF line ends */
    "POST /crlf HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok\r\n\r\n"
    "GET /after HTTP/1.1\r\nHost: h\r\n\r\n\r\n", /* empty lines between requests */
    NULL, /* a head over the first window a fill pass takes: made in main */
};

static void whole(const char *req, char *log, size_t cap)
{
	struct modenv e;
	env_open(&e);
	log[0] = '\0';
	buf_add(e.in, req, strlen(req));
	ck_assert_int_eq(drain(&e, log, cap), MH_DECODE_NEED_MORE);
	ck_assert_int_eq(buf_length(e.in), 0);
	modenv_close(&e);
}

START_TEST(test_split_at_every_byte_decodes_as_whole)
{
	const char *req = requests[_i];
	size_t len = strlen(req);
	char want[4096], got[4096];
	whole(req, want, sizeof(want));
	ck_assert_msg(want[0] != '\0', "nothing decoded from request %d", _i);
	for (size_t k = 1; k < len; k++) {
		struct modenv e;
		env_open(&e);
		got[0] = '\0';
		buf_add(e.in, req, k);
		ck_assert_int_eq(drain(&e, got, sizeof(got)), MH_DECODE_NEED_MORE);
		buf_add(e.in, req + k, len - k);
		ck_assert_int_eq(drain(&e, got, sizeof(got)), MH_DECODE_NEED_MORE);
		ck_assert_msg(strcmp(got, want) == 0, "split at %zu:\n%s\nwant:\n%s", k, got, want);
		ck_assert_int_eq(buf_length(e.in), 0);
		modenv_close(&e);
	}
	/* A byte at a time. */
	struct modenv e;
	env_open(&e);
	got[0] = '\0';
	for (size_t k = 0; k < len; k++) {
		buf_add(e.in, req + k, 1);
		ck_assert_int_eq(drain(&e, got, sizeof(got)), MH_DECODE_NEED_MORE);
	}
	ck_assert_msg(strcmp(got, want) == 0, "byte by byte:\n%s\nwant:\n%s", got, want);
	modenv_close(&e);
}
END_TEST

START_TEST(test_whole_requests_decode_to_fields)
{
	char got[4096];
	whole(requests[3], got, sizeof(got));
	ck_assert_str_eq(got, "GET /one HTTP/1.1 [h=1] \n"
	                      "PUT /two HTTP/1.1 [h=2] abc\n"
	                      "GET /three HTTP/1.0 [h=0] \n");
	whole(requests[2], got, sizeof(got));
	ck_assert_str_eq(got, "POST /c HTTP/1.1 [h=2] hello world\n");
	whole(requests[0], got, sizeof(got));
	ck_assert_str_eq(got, "GET /a?b=c HTTP/1.1 [h=2] \n");
}
END_TEST

/* A declared body over max_body is refused from the head alone, with 413. */
START_TEST(test_declared_length_refused_before_the_body)
{
	struct modenv e;
	env_open(&e);
	const char *req = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000000\r\n\r\n";
	buf_add(e.in, req, strlen(req));
	struct mh_msg *m = NULL;
	ck_assert_int_eq(e.codec->decode(&e.inst, e.conn, e.state, (mh_buf *)e.in, &m),
	                 MH_DECODE_ERROR);
	if (m)
		msg_free(m);
	ck_assert_int_eq(e.conn->error_status, MH_STATUS_TOO_LARGE);
	struct mh_buf *wire = buf_new();
	e.codec->encode_error(&e.inst, e.conn, e.state, e.conn->error_status, e.conn->error_text,
	                      (mh_buf *)wire);
	size_t n = buf_length(wire);
	const char *w = (const char *)buf_data(wire);
	ck_assert_msg(n > 30 && strncmp(w, "HTTP/1.1 413 Payload Too Large\r\n", 32) == 0, "%.*s",
	              (int)n, w);
	ck_assert_msg(memmem(w, n, "\r\nConnection: close\r\n", 21) != NULL, "%.*s", (int)n, w);
	buf_free(wire);
	modenv_close(&e);
}
END_TEST

/* Replace the Date line's value (it changes every second) by "-". */
static char *wire_text(struct mh_buf *wire)
{
	size_t n = buf_length(wire);
	char *s = malloc(n + 1);
	buf_peek(wire, s, n);
	buf_drain(wire, n);
	s[n] = '\0';
	char *d = strstr(s, "Date: ");
	if (d) {
		char *end = strstr(d, "\r\n");
		ck_assert_int_eq(end - d, 6 + 29); /* "Sun, 06 Nov 1994 08:49:37 GMT" */
		ck_assert_msg(strncmp(end - 4, " GMT", 4) == 0, "%s", s);
		memmove(d + 7, end, strlen(end) + 1);
		d[6] = '-';
	}
	return s;
}

START_TEST(test_encode_on_the_wire)
{
	struct modenv e;
	env_open(&e);
	const char *req = "GET /x HTTP/1.1\r\nHost: h\r\n\r\nHEAD /y HTTP/1.0\r\nConnection: "
	                  "keep-alive\r\n\r\nGET /z HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	buf_add(e.in, req, strlen(req));
	struct mh_msg *reqs[3];
	for (int i = 0; i < 3; i++) {
		reqs[i] = NULL;
		ck_assert_int_eq(e.codec->decode(&e.inst, e.conn, e.state, (mh_buf *)e.in, &reqs[i]),
		                 MH_DECODE_MESSAGE);
		reqs[i]->reply = msg_new(e.conn);
		reqs[i]->reply->request = reqs[i];
	}
	ck_assert_msg(e.conn->flags & CONN_CLOSING, "Connection: close did not close");
	struct mh_buf *wire = buf_new();

	/* A handler's headers, its own Content-Length dropped, a code. */
	struct mh_msg *r = reqs[0]->reply;
	msg_header_add(r, "Content-Type", "text/plain", 10);
	msg_header_add(r, "Content-Length", "999", 3);
	msg_header_add(r, "X-Bad", "a\r\nInjected: yes", 16);
	r->code = 404;
	buf_add(msg_body(r), "nope", 4);
	ck_assert_int_eq(e.codec->encode(&e.inst, e.conn, e.state, r, (mh_buf *)wire), 0);
	char *s = wire_text(wire);
	ck_assert_str_eq(s, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nDate: -\r\n"
	                    "Content-Length: 4\r\n\r\nnope");
	free(s);

	/* HEAD over HTTP/1.0 keep-alive: the length, no body; chunked is not
	 * used for 1.0. */
	r = reqs[1]->reply;
	msg_header_add(r, "Transfer-Encoding", "chunked", 7);
	buf_add(msg_body(r), "hello", 5);
	ck_assert_int_eq(e.codec->encode(&e.inst, e.conn, e.state, r, (mh_buf *)wire), 0);
	s = wire_text(wire);
	ck_assert_str_eq(s, "HTTP/1.1 200 OK\r\nDate: -\r\nContent-Length: 5\r\n"
	                    "Connection: keep-alive\r\n\r\n");
	free(s);

	/* The last request asked to close; the handler asks for chunked. */
	r = reqs[2]->reply;
	msg_header_add(r, "Transfer-Encoding", "chunked", 7);
	buf_add(msg_body(r), "0123456789abcdefg", 17);
	ck_assert_int_eq(e.codec->encode(&e.inst, e.conn, e.state, r, (mh_buf *)wire), 0);
	s = wire_text(wire);
	ck_assert_str_eq(s, "HTTP/1.1 200 OK\r\nDate: -\r\nTransfer-Encoding: chunked\r\n"
	                    "Connection: close\r\n\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n");
	free(s);
	for (int i = 0; i < 3; i++)
		msg_free(reqs[i]);
	buf_free(wire);
	modenv_close(&e);
}
END_TEST

/* A denial in place of a reply: the status and a text body, or no body
 * when it answers HEAD. */
START_TEST(test_error_replies_for_denials)
{
	struct modenv e;
	env_open(&e);
	const char *req = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\n";
	buf_add(e.in, req, strlen(req));
	struct mh_msg *m[2];
	for (int i = 0; i < 2; i++) {
		m[i] = NULL;
		ck_assert_int_eq(e.codec->decode(&e.inst, e.conn, e.state, (mh_buf *)e.in, &m[i]),
		                 MH_DECODE_MESSAGE);
	}
	struct mh_buf *wire = buf_new();
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_TOO_MANY, "too many\x01requests",
	                      (mh_buf *)wire);
	char *s = wire_text(wire);
	ck_assert_str_eq(s, "HTTP/1.1 429 Too Many Requests\r\nDate: -\r\nContent-Type: text/plain\r\n"
	                    "Content-Length: 18\r\n\r\ntoo many requests\n");
	free(s);
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_UNAUTHORIZED, "unauthorized",
	                      (mh_buf *)wire);
	s = wire_text(wire);
	ck_assert_str_eq(s, "HTTP/1.1 401 Unauthorized\r\nDate: -\r\nContent-Type: text/plain\r\n"
	                    "Content-Length: 13\r\n\r\n");
	free(s);
	msg_free(m[0]);
	msg_free(m[1]);
	buf_free(wire);
	modenv_close(&e);
}
END_TEST

static Suite *http1_suite(void)
{
	Suite *s = suite_create("http1");
	TCase *tc = tcase_create("decode");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_split_at_every_byte_decodes_as_whole, 0,
	                    (int)(sizeof(requests) / sizeof(requests[0])));
	tcase_add_test(tc, test_whole_requests_decode_to_fields);
	tcase_add_test(tc, test_declared_length_refused_before_the_body);
	suite_add_tcase(s, tc);
	tc = tcase_create("encode");
	tcase_add_test(tc, test_encode_on_the_wire);
	tcase_add_test(tc, test_error_replies_for_denials);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* 6000 bytes of header value, then a body in the same buffer. */
	static char long_head[8192];
	char value[6001];
	memset(value, 'v', 6000);
	value[6000] = '\0';
	snprintf(long_head, sizeof(long_head),
	         "POST /long HTTP/1.1\r\nHost: h\r\nX-Long: %s\r\nContent-Length: 4\r\n\r\nbody",
	         value);
	requests[sizeof(requests) / sizeof(requests[0]) - 1] = long_head;

	return unit_run(http1_suite());
}
