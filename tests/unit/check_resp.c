/* tests/unit/check_resp.c — the resp codec and the kv handler, loaded from
 * the built .so files with the host's own loader and driven through the
 * host function table, without sockets: requests split at every byte,
 * pipelined and inline requests, every limit at and past its value, the
 * wire form of replies and errors, and the RESP3 switch.  check_kv.c runs
 * kv commands against the handler the same way.
 *
 * The environment is tests/unit/modenv.c, as in check_codecs.c: a struct
 * mh_module with a modconf from the module's key table, a zeroed
 * connection, a host buffer as its input. */
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

/* The field as a NUL-terminated string (fields are stored so), or "". */
static const char *field(struct mh_msg *m, int f)
{
	const char *v = msg_field_get(m, f, NULL);
	return v ? v : "";
}

/* Decode one request and check it: want is "CMD|arg1|arg2" (args after
 * the command); version is the VERSION field it must carry. */
static struct mh_msg *expect_request_v(struct modenv *e, const char *want, const char *version,
                                       const char *what)
{
	struct mh_msg *msg;
	int r = modenv_decode(e, &msg);
	ck_assert_msg(r == MH_DECODE_MESSAGE, "%s: decode returned %d (%s), want a message", what,
	              r, e->conn->error_text ? e->conn->error_text : "");
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(field(msg, MH_FIELD_PROTOCOL), "resp");
	ck_assert_str_eq(field(msg, MH_FIELD_VERSION), version);
	char got[1024];
	size_t n = (size_t)snprintf(got, sizeof(got), "%s", field(msg, MH_FIELD_COMMAND));
	for (size_t i = 0; i < msg_argc(msg); i++) {
		size_t len;
		const char *a = msg_arg_get(msg, i, &len);
		n += (size_t)snprintf(got + n, sizeof(got) - n, "|%.*s", (int)len, a);
	}
	ck_assert_msg(strcmp(got, want) == 0, "%s: got '%s', want '%s'", what, got, want);
	return msg;
}

static void expect_request(struct modenv *e, const char *want, const char *what)
{
	msg_free(expect_request_v(e, want, "2", what));
}

/* Decode must fail with status and an error text containing text. */
static void expect_error(struct modenv *e, int status, const char *text, const char *what)
{
	struct mh_msg *msg;
	int r = modenv_decode(e, &msg);
	ck_assert_msg(r == MH_DECODE_ERROR, "%s: decode returned %d, want ERROR", what, r);
	if (msg)
		msg_free(msg);
	ck_assert_int_eq(e->conn->error_status, status);
	ck_assert_ptr_nonnull(e->conn->error_text);
	ck_assert_msg(strstr(e->conn->error_text, text) != NULL, "%s: error '%s' lacks '%s'", what,
	              e->conn->error_text, text);
}

static const char *buf_text(struct mh_buf *b)
{
	static char text[8192];
	size_t n = buf_peek(b, text, sizeof(text) - 1);
	text[n] = '\0';
	return text;
}

/* ---- decoding ------------------------------------------------------------------ */

START_TEST(resp_descriptor_and_defaults)
{
	struct modenv e;
	modenv_open(&e, "resp", NULL);
	ck_assert_str_eq(e.inst.desc->name, "resp");
	ck_assert_uint_eq(e.inst.desc->roles, MH_ROLE_CODEC);
	ck_assert_ptr_nonnull(e.codec->encode_error);
	ck_assert_uint_eq(e.codec->max_message(&e.inst), 64ull * 1024 * 1024);
	modenv_close(&e);
}
END_TEST

START_TEST(resp_multibulk_split_at_every_point)
{
	static const char wire[] = "*3\r\n$3\r\nset\r\n$5\r\nkey:1\r\n$12\r\nhello\r\nworld\r\n";
	size_t n = sizeof(wire) - 1;
	for (size_t k = 0; k <= n; k++) {
		char what[64];
		snprintf(what, sizeof(what), "split at %zu of %zu", k, n);
		const char *const with_body[] = {"args_body=yes", NULL};
		struct modenv e;
		modenv_open(&e, "resp", with_body);
		modenv_feed(&e, wire, k);
		if (k < n)
			modenv_expect_need_more(&e, what);
		modenv_feed(&e, wire + k, n - k);
		struct mh_msg *m = expect_request_v(&e, "SET|key:1|hello\r\nworld", "2", what);
		/* The body holds the arguments, space-separated (args_body). */
		ck_assert(modenv_buf_equals(msg_body(m), "key:1 hello\r\nworld", 18));
		msg_free(m);
		modenv_expect_need_more(&e, what);
		ck_assert_uint_eq(buf_length(e.in), 0);
		modenv_close(&e);
	}
}
END_TEST

START_TEST(resp_byte_by_byte_pipeline)
{
	static const char wire[] = "*1\r\n$4\r\nPING\r\nGET k\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
	                           "  \r\n\n*0\r\n*-1\r\nincr 'a b'\n";
	static const char *const want[] = {"PING", "GET|k", "ECHO|", "INCR|a b"};
	size_t got = 0, n = sizeof(wire) - 1;
	struct modenv e;
	modenv_open(&e, "resp", NULL);
	for (size_t i = 0; i < n; i++) {
		modenv_feed(&e, wire + i, 1);
		for (;;) {
			struct mh_msg *msg;
			int r = modenv_decode(&e, &msg);
			if (r == MH_DECODE_NEED_MORE)
				break;
			ck_assert_int_eq(r, MH_DECODE_MESSAGE);
			ck_assert_uint_lt(got, 4);
			msg_free(msg);
			/* Re-feed nothing: check the request by decoding the
			 * same bytes again in a fresh environment below. */
			got++;
		}
	}
	ck_assert_uint_eq(got, 4);
	ck_assert_uint_eq(buf_length(e.in), 0);
	modenv_close(&e);

	/* The same stream in one piece gives the same requests, in order;
	 * blank lines, "*0" and "*-1" are no requests at all. */
	modenv_open(&e, "resp", NULL);
	modenv_feed(&e, wire, n);
	for (size_t i = 0; i < 4; i++)
		expect_request(&e, want[i], want[i]);
	modenv_expect_need_more(&e, "end of the pipeline");
	ck_assert_uint_eq(buf_length(e.in), 0);
	modenv_close(&e);
}
END_TEST

START_TEST(resp_partial_request_left_behind)
{
	struct modenv e;
	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$3\r\nab");
	expect_request(&e, "GET|a", "first");
	modenv_expect_need_more(&e, "second, incomplete");
	ck_assert_uint_eq(buf_length(e.in), 19);
	modenv_feed_str(&e, "c\r\n");
	expect_request(&e, "GET|abc", "second, completed");
	modenv_close(&e);
}
END_TEST

START_TEST(resp_inline_quoting_like_redis)
{
	struct modenv e;
	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "set \"a b\" 'it\\'s' \"\\x41\\n\\t\\\\\" plain\r\n");
	expect_request(&e, "SET|a b|it's|A\n\t\\|plain", "quoted arguments");
	modenv_feed_str(&e, "\"\" x\n");
	expect_request(&e, "|x", "empty quoted command");
	modenv_feed_str(&e, "get \"unterminated\r\n");
	expect_error(&e, MH_STATUS_BAD_REQUEST, "Protocol error: unbalanced quotes", "unbalanced");
	modenv_close(&e);

	/* A closing quote must end the argument. */
	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "get \"a\"b\n");
	expect_error(&e, MH_STATUS_BAD_REQUEST, "unbalanced quotes", "quote then text");
	modenv_close(&e);
}
END_TEST

START_TEST(resp_command_is_upper_cased_and_args_are_not)
{
	struct modenv e;
	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*3\r\n$6\r\nmGeT\xff\xfe\r\n$2\r\naB\r\n$2\r\ncD\r\n");
	struct mh_msg *m = expect_request_v(&e, "MGET\xff\xfe|aB|cD", "2", "mixed case");
	ck_assert_uint_eq(buf_length(msg_body(m)), 0); /* args_body = no, the default */
	msg_free(m);
	modenv_close(&e);
}
END_TEST

START_TEST(resp_huge_counts_refused_from_the_header_alone)
{
	struct modenv e;
	/* Only the header is fed: nothing behind it may be awaited. */
	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*20000000\r\n");
	expect_error(&e, MH_STATUS_TOO_LARGE, "Protocol error: invalid multibulk length", "*20M");
	ck_assert_msg(strstr(e.conn->error_text, "20000000") &&
	                  strstr(e.conn->error_text, "max_args"),
	              "error text: %s", e.conn->error_text);
	modenv_close(&e);

	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*1\r\n$-10\r\n");
	expect_error(&e, MH_STATUS_BAD_REQUEST, "Protocol error: invalid bulk length", "$-10");
	modenv_close(&e);

	/* A bad byte is refused when it arrives, not when a CRLF does. */
	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*2\r\n$3x");
	expect_error(&e, MH_STATUS_BAD_REQUEST, "invalid bulk length", "$3x");
	modenv_close(&e);

	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*1\r\n$-1\r\n");
	expect_error(&e, MH_STATUS_BAD_REQUEST, "invalid bulk length", "$-1 in a request");
	modenv_close(&e);

	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*2\r\n$3\r\nGET\r\n$9223372036854775807\r\n");
	expect_error(&e, MH_STATUS_TOO_LARGE, "max_bulk", "$INT64_MAX");
	modenv_close(&e);

	static const char *const bad[] = {"*x\r\n",  "*+1\r\n", "*01\r\n",
	                                  "*1 \r\n", "*-0\r\n", "*1\n$4\r\nPING\r\n",
	                                  "*\r\n",   "*-\r\n",  "*99999999999999999999\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		modenv_open(&e, "resp", NULL);
		modenv_feed_str(&e, bad[i]);
		expect_error(&e, MH_STATUS_BAD_REQUEST, "invalid multibulk length", bad[i]);
		modenv_close(&e);
	}

	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*1\r\n:5\r\n");
	expect_error(&e, MH_STATUS_BAD_REQUEST, "expected '$', got ':'", "not a bulk");
	modenv_close(&e);

	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*1\r\n$3\r\nGETxx");
	expect_error(&e, MH_STATUS_BAD_REQUEST, "not followed by CRLF", "bulk without CRLF");
	modenv_close(&e);
}
END_TEST

START_TEST(resp_max_args_boundary)
{
	const char *const tight[] = {"max_args=3", NULL};
	struct modenv e;
	modenv_open(&e, "resp", tight);
	modenv_feed_str(&e, "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
	expect_request(&e, "A|b|c", "exactly max_args");
	modenv_feed_str(&e, "*4\r\n");
	expect_error(&e, MH_STATUS_TOO_LARGE, "max_args is 3", "max_args + 1");
	modenv_close(&e);

	modenv_open(&e, "resp", tight);
	modenv_feed_str(&e, "a b c\n");
	expect_request(&e, "A|b|c", "inline, exactly max_args");
	modenv_feed_str(&e, "a b c d\n");
	expect_error(&e, MH_STATUS_TOO_LARGE, "max_args", "inline, max_args + 1");
	modenv_close(&e);
}
END_TEST

START_TEST(resp_max_bulk_boundary)
{
	const char *const tight[] = {"max_bulk=8", NULL};
	struct modenv e;
	modenv_open(&e, "resp", tight);
	modenv_feed_str(&e, "*2\r\n$3\r\nGET\r\n$8\r\n12345678\r\n");
	expect_request(&e, "GET|12345678", "exactly max_bulk");
	modenv_feed_str(&e, "*2\r\n$3\r\nGET\r\n$9\r\n");
	expect_error(&e, MH_STATUS_TOO_LARGE, "invalid bulk length 9 (max_bulk is 8)",
	             "max_bulk + 1, header only");
	modenv_close(&e);
}
END_TEST

START_TEST(resp_max_inline_refused_as_soon_as_seen)
{
	const char *const tight[] = {"max_inline=16", NULL};
	struct modenv e;
	modenv_open(&e, "resp", tight);
	modenv_feed_str(&e, "get 123456789012\r\n"); /* 16 bytes and CRLF */
	expect_request(&e, "GET|123456789012", "exactly max_inline");
	for (int i = 0; i < 17; i++) {
		modenv_feed(&e, "a", 1);
		modenv_expect_need_more(&e, "up to max_inline + 1");
	}
	modenv_feed(&e, "a", 1);
	expect_error(&e, MH_STATUS_TOO_LARGE, "too big inline request", "max_inline + 2");
	modenv_close(&e);

	modenv_open(&e, "resp", tight);
	modenv_feed_str(&e, "get 1234567890123\r\n"); /* 17 bytes */
	expect_error(&e, MH_STATUS_TOO_LARGE, "too big inline request", "max_inline + 1 then CRLF");
	modenv_close(&e);

	/* Count lines are short whatever max_inline says. */
	modenv_open(&e, "resp", NULL);
	modenv_feed_str(&e, "*000000000000000000000000000000001");
	expect_error(&e, MH_STATUS_BAD_REQUEST, "invalid multibulk length", "long count line");
	modenv_close(&e);
}
END_TEST

START_TEST(resp_max_request_counts_the_whole_request)
{
	const char *const tight[] = {"max_request=40", NULL};
	struct modenv e;
	modenv_open(&e, "resp", tight);
	/* 4 + 4 + 5 + 5 + 22: exactly 40 bytes. */
	modenv_feed_str(&e, "*2\r\n$3\r\nSET\r\n$20\r\n12345678901234567890\r\n");
	expect_request(&e, "SET|12345678901234567890", "exactly max_request");
	modenv_feed_str(&e, "*2\r\n$3\r\nSET\r\n$21\r\n");
	expect_error(&e, MH_STATUS_TOO_LARGE, "larger than max_request 40", "max_request + 1");
	modenv_close(&e);
}
END_TEST

START_TEST(resp_large_bulk_in_pieces)
{
	/* A bulk of 300000 bytes arriving in 1000-byte pieces: NEED_MORE
	 * until the last byte, then one request with the exact bytes. */
	size_t n = 300000;
	char *val = malloc(n);
	ck_assert_ptr_nonnull(val);
	for (size_t i = 0; i < n; i++)
		val[i] = (char)('a' + i % 26);
	struct mh_buf *wire = buf_new();
	buf_printf(wire, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", n);
	buf_add(wire, val, n);
	buf_add(wire, "\r\n", 2);
	size_t total = buf_length(wire);
	const char *bytes = (const char *)buf_data(wire);
	struct modenv e;
	modenv_open(&e, "resp", NULL);
	for (size_t at = 0; at < total;) {
		size_t piece = total - at < 1000 ? total - at : 1000;
		modenv_feed(&e, bytes + at, piece);
		at += piece;
		if (at < total)
			modenv_expect_need_more(&e, "inside the bulk");
	}
	struct mh_msg *msg;
	ck_assert_int_eq(modenv_decode(&e, &msg), MH_DECODE_MESSAGE);
	size_t len;
	const char *a = msg_arg_get(msg, 1, &len);
	ck_assert_uint_eq(len, n);
	ck_assert(memcmp(a, val, n) == 0);
	msg_free(msg);
	modenv_close(&e);
	buf_free(wire);
	free(val);
}
END_TEST

/* ---- encoding and the version switch ----------------------------------------------- */

START_TEST(resp_encode_body_raw_and_errors)
{
	struct modenv e;
	modenv_open(&e, "resp", NULL);
	struct mh_buf *wire = buf_new();

	/* A body-form reply is one bulk string (so echo works over resp). */
	struct mh_msg *r = msg_new(e.conn);
	buf_add(msg_body(r), "hi\r\nthere", 9);
	ck_assert_int_eq(modenv_encode(&e, r, wire), 0);
	msg_free(r);
	r = msg_new(e.conn);
	ck_assert_int_eq(modenv_encode(&e, r, wire), 0);
	msg_free(r);
	ck_assert(modenv_buf_equals(wire, "$9\r\nhi\r\nthere\r\n$0\r\n\r\n", 21));
	buf_drain(wire, buf_length(wire));

	/* A raw reply is the handler's RESP, as is. */
	r = msg_new(e.conn);
	r->form = MH_REPLY_RAW;
	buf_add(msg_body(r), "+OK\r\n:1\r\n", 9);
	ck_assert_int_eq(modenv_encode(&e, r, wire), 0);
	msg_free(r);
	ck_assert(modenv_buf_equals(wire, "+OK\r\n:1\r\n", 9));
	buf_drain(wire, buf_length(wire));

	/* An empty raw reply would hang the client: it becomes an error. */
	r = msg_new(e.conn);
	r->form = MH_REPLY_RAW;
	ck_assert_int_eq(modenv_encode(&e, r, wire), 0);
	msg_free(r);
	ck_assert_msg(strncmp(buf_text(wire), "-ERR ", 5) == 0, "%s", buf_text(wire));
	buf_drain(wire, buf_length(wire));

	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_TOO_LARGE,
	                      "Protocol error: invalid\r\nbulk length", (mh_buf *)wire);
	ck_assert_str_eq(buf_text(wire), "-ERR Protocol error: invalid  bulk length\r\n");
	buf_drain(wire, buf_length(wire));
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_NOT_FOUND, "not found",
	                      (mh_buf *)wire);
	ck_assert_str_eq(buf_text(wire), "-ERR unknown command\r\n");
	buf_drain(wire, buf_length(wire));
	/* The host names the command of an unmatched request; the codec keeps
	 * the error on one line whatever the command held. */
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_NOT_FOUND,
	                      "unknown command 'A\r\nB'", (mh_buf *)wire);
	ck_assert_str_eq(buf_text(wire), "-ERR unknown command 'A  B'\r\n");
	buf_drain(wire, buf_length(wire));
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_UNAUTHORIZED, "unauthorized",
	                      (mh_buf *)wire);
	ck_assert_str_eq(buf_text(wire), "-NOAUTH Authentication required.\r\n");
	buf_drain(wire, buf_length(wire));
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_TOO_MANY, "too many requests",
	                      (mh_buf *)wire);
	ck_assert_str_eq(buf_text(wire), "-ERR too many requests\r\n");

	buf_free(wire);
	modenv_close(&e);
}
END_TEST

START_TEST(resp_hello_switches_the_version)
{
	struct modenv e;
	modenv_open(&e, "resp", NULL);
	/* Pipelined: the request behind HELLO 3 is already RESP3; HELLO
	 * itself still arrives in the version it was sent in. */
	modenv_feed_str(&e, "HELLO 3\r\nGET a\r\n*2\r\n$5\r\nhello\r\n$1\r\n2\r\nGET b\r\n");
	msg_free(expect_request_v(&e, "HELLO|3", "2", "HELLO 3"));
	msg_free(expect_request_v(&e, "GET|a", "3", "after HELLO 3"));
	msg_free(expect_request_v(&e, "HELLO|2", "3", "HELLO 2"));
	msg_free(expect_request_v(&e, "GET|b", "2", "after HELLO 2"));

	/* A reply's VERSION field has the last word (a handler that refused
	 * HELLO 3 keeps the connection on 2). */
	modenv_feed_str(&e, "HELLO 3 AUTH x y\r\n");
	msg_free(expect_request_v(&e, "HELLO|3|AUTH|x|y", "2", "HELLO 3 AUTH"));
	struct mh_msg *r = msg_new(e.conn);
	msg_field_set(r, MH_FIELD_VERSION, "2", 1);
	struct mh_buf *wire = buf_new();
	r->form = MH_REPLY_RAW;
	buf_add(msg_body(r), "-ERR no\r\n", 9);
	ck_assert_int_eq(modenv_encode(&e, r, wire), 0);
	msg_free(r);
	modenv_feed_str(&e, "GET c\r\n");
	msg_free(expect_request_v(&e, "GET|c", "2", "after a refused HELLO"));
	buf_free(wire);
	modenv_close(&e);
}
END_TEST

START_TEST(resp_random_requests_in_random_pieces)
{
	/* Random multibulk requests with binary arguments, fed in random
	 * pieces: each decodes to exactly the arguments it was made of. */
	for (uint32_t seed = 1; seed <= 50; seed++) {
		uint32_t s = seed;
		struct mh_buf *wire = buf_new();
		char want[40][64][24];
		size_t want_n[40][64], want_argc[40];
		size_t n_req = 1 + unit_rng_next(&s) % 40;
		for (size_t r = 0; r < n_req; r++) {
			want_argc[r] = 1 + unit_rng_next(&s) % 6;
			buf_printf(wire, "*%zu\r\n", want_argc[r]);
			for (size_t a = 0; a < want_argc[r]; a++) {
				size_t len = unit_rng_next(&s) % 24;
				for (size_t i = 0; i < len; i++)
					want[r][a][i] = a == 0 ? (char)('A' + unit_rng_next(&s) % 26)
					                       : (char)(unit_rng_next(&s) & 0xff);
				want_n[r][a] = len;
				buf_printf(wire, "$%zu\r\n", len);
				buf_add(wire, want[r][a], len);
				buf_add(wire, "\r\n", 2);
			}
		}
		size_t total = buf_length(wire);
		const uint8_t *bytes = buf_data(wire);
		struct modenv e;
		modenv_open(&e, "resp", NULL);
		size_t fed = 0, got = 0;
		while (fed < total) {
			size_t piece = 1 + unit_rng_next(&s) % 60;
			if (piece > total - fed)
				piece = total - fed;
			modenv_feed(&e, bytes + fed, piece);
			fed += piece;
			struct mh_msg *msg;
			int rc;
			while ((rc = modenv_decode(&e, &msg)) == MH_DECODE_MESSAGE) {
				ck_assert_uint_lt(got, n_req);
				size_t len;
				const char *cmd = msg_field_get(msg, MH_FIELD_COMMAND, &len);
				ck_assert_uint_eq(len, want_n[got][0]);
				ck_assert(len == 0 || memcmp(cmd, want[got][0], len) == 0);
				ck_assert_uint_eq(msg_argc(msg), want_argc[got] - 1);
				for (size_t a = 1; a < want_argc[got]; a++) {
					const char *v = msg_arg_get(msg, a - 1, &len);
					ck_assert_uint_eq(len, want_n[got][a]);
					ck_assert(len == 0 || memcmp(v, want[got][a], len) == 0);
				}
				msg_free(msg);
				got++;
			}
			ck_assert_int_eq(rc, MH_DECODE_NEED_MORE);
		}
		ck_assert_uint_eq(got, n_req);
		ck_assert_uint_eq(buf_length(e.in), 0);
		modenv_close(&e);
		buf_free(wire);
	}
}
END_TEST

static Suite *resp_suite(void)
{
	Suite *s = suite_create("resp");
	TCase *tc = tcase_create("decode");
	tcase_add_test(tc, resp_descriptor_and_defaults);
	tcase_add_test(tc, resp_multibulk_split_at_every_point);
	tcase_add_test(tc, resp_byte_by_byte_pipeline);
	tcase_add_test(tc, resp_partial_request_left_behind);
	tcase_add_test(tc, resp_inline_quoting_like_redis);
	tcase_add_test(tc, resp_command_is_upper_cased_and_args_are_not);
	tcase_add_test(tc, resp_huge_counts_refused_from_the_header_alone);
	tcase_add_test(tc, resp_max_args_boundary);
	tcase_add_test(tc, resp_max_bulk_boundary);
	tcase_add_test(tc, resp_max_inline_refused_as_soon_as_seen);
	tcase_add_test(tc, resp_max_request_counts_the_whole_request);
	tcase_add_test(tc, resp_large_bulk_in_pieces);
	tcase_add_test(tc, resp_random_requests_in_random_pieces);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_test(tc, resp_encode_body_raw_and_errors);
	tcase_add_test(tc, resp_hello_switches_the_version);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return unit_run(resp_suite());
}
