/* tests/unit/check_resp.c — the resp codec and the kv handler, loaded from
 * the built .so files with the host's own loader and driven through the
 * host function table, without sockets: requests split at every byte,
 * pipelined and inline requests, every limit at and past its value, the
 * wire form of replies and errors, the RESP3 switch, and kv commands run
 * straight against the handler (expiry, memory cap, LRU eviction), and
 * the store's lock and reattachment (modules/kvstore.c, linked in).
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


#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "buf.h"
#include "conn.h"
#include "kvstore.h"
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

/* A small deterministic generator, so that failures reproduce. */
static uint32_t rng_next(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

START_TEST(resp_random_requests_in_random_pieces)
{
	/* Random multibulk requests with binary arguments, fed in random
	 * pieces: each decodes to exactly the arguments it was made of. */
	for (uint32_t seed = 1; seed <= 50; seed++) {
		uint32_t s = seed;
		struct mh_buf *wire = buf_new();
		char want[40][64][24];
		size_t want_n[40][64], want_argc[40];
		size_t n_req = 1 + rng_next(&s) % 40;
		for (size_t r = 0; r < n_req; r++) {
			want_argc[r] = 1 + rng_next(&s) % 6;
			buf_printf(wire, "*%zu\r\n", want_argc[r]);
			for (size_t a = 0; a < want_argc[r]; a++) {
				size_t len = rng_next(&s) % 24;
				for (size_t i = 0; i < len; i++)
					want[r][a][i] = a == 0 ? (char)('A' + rng_next(&s) % 26)
					                       : (char)(rng_next(&s) & 0xff);
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
			size_t piece = 1 + rng_next(&s) % 60;
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

/* ---- the kv handler, driven directly ----------------------------------------------- */

/* Run one command ("SET|k|v" — '|' separates the words) through the kv
 * handler in RESP version proto; returns the reply's wire text in a
 * static buffer.  *rc gets the handler's result when not NULL. */
static const char *kv_run_v(struct modenv *e, int proto, const char *cmdline, int *rc)
{
	static char text[65536];
	struct mh_msg *req = msg_new(e->conn), *reply = msg_new(e->conn);
	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_nonnull(reply);
	req->reply = reply;
	reply->request = req;
	char version = (char)('0' + proto);
	msg_field_set(req, MH_FIELD_PROTOCOL, "resp", 4);
	msg_field_set(req, MH_FIELD_VERSION, &version, 1);
	const char *p = cmdline;
	for (int i = 0;; i++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (i == 0)
			msg_field_set(req, MH_FIELD_COMMAND, p, len);
		else
			msg_arg_add(req, p, len);
		if (!bar)
			break;
		p = bar + 1;
	}
	int r = e->inst.desc->handler->handle(&e->inst, (mh_msg *)req, (mh_msg *)reply);
	if (rc)
		*rc = r;
	else
		ck_assert_int_eq(r, MH_HANDLE_DONE);
	ck_assert_int_eq(reply->form, MH_REPLY_RAW);
	size_t n = buf_peek(msg_body(reply), text, sizeof(text) - 1);
	text[n] = '\0';
	msg_free(req);
	return text;
}

static const char *kv_run(struct modenv *e, const char *cmdline)
{
	return kv_run_v(e, 2, cmdline, NULL);
}

#define KV_EXPECT(e, cmd, want) ck_assert_str_eq(kv_run(e, cmd), want)

START_TEST(kv_strings_and_counters)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-strings", NULL);
	KV_EXPECT(&e, "GET|a", "$-1\r\n");
	KV_EXPECT(&e, "SET|a|hello", "+OK\r\n");
	KV_EXPECT(&e, "GET|a", "$5\r\nhello\r\n");
	KV_EXPECT(&e, "SET|a|x|NX", "$-1\r\n");
	KV_EXPECT(&e, "SET|b|x|XX", "$-1\r\n");
	KV_EXPECT(&e, "SET|a|bye|XX|GET", "$5\r\nhello\r\n");
	KV_EXPECT(&e, "SET|a|b|NX|XX", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "SET|a|b|EX|0", "-ERR invalid expire time in 'set' command\r\n");
	KV_EXPECT(&e, "SET|a|b|EX|x", "-ERR value is not an integer or out of range\r\n");
	KV_EXPECT(&e, "INCR|n", ":1\r\n");
	KV_EXPECT(&e, "INCRBY|n|41", ":42\r\n");
	KV_EXPECT(&e, "DECRBY|n|50", ":-8\r\n");
	KV_EXPECT(&e, "DECR|n", ":-9\r\n");
	KV_EXPECT(&e, "INCR|a", "-ERR value is not an integer or out of range\r\n");
	KV_EXPECT(&e, "SET|big|9223372036854775807", "+OK\r\n");
	KV_EXPECT(&e, "INCR|big", "-ERR increment or decrement would overflow\r\n");
	KV_EXPECT(&e, "MSET|x|1|y|2", "+OK\r\n");
	KV_EXPECT(&e, "MSET|x|1|y", "-ERR wrong number of arguments for 'mset' command\r\n");
	KV_EXPECT(&e, "MGET|x|nope|y", "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
	KV_EXPECT(&e, "EXISTS|x|y|x|nope", ":3\r\n");
	KV_EXPECT(&e, "DBSIZE", ":5\r\n");
	KV_EXPECT(&e, "DEL|x|y|nope", ":2\r\n");
	KV_EXPECT(&e, "TYPE|a", "+string\r\n");
	KV_EXPECT(&e, "FLUSHALL", "+OK\r\n");
	KV_EXPECT(&e, "DBSIZE", ":0\r\n");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_expiry_without_waiting)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-expiry", NULL);
	KV_EXPECT(&e, "TTL|k", ":-2\r\n");
	KV_EXPECT(&e, "SET|k|v", "+OK\r\n");
	KV_EXPECT(&e, "TTL|k", ":-1\r\n");
	KV_EXPECT(&e, "EXPIRE|k|100", ":1\r\n");
	KV_EXPECT(&e, "TTL|k", ":100\r\n");
	KV_EXPECT(&e, "EXPIRE|k|50|GT", ":0\r\n");
	KV_EXPECT(&e, "EXPIRE|k|50|LT", ":1\r\n");
	KV_EXPECT(&e, "TTL|k", ":50\r\n");
	KV_EXPECT(&e, "INCR|k", "-ERR value is not an integer or out of range\r\n");
	KV_EXPECT(&e, "PERSIST|k", ":1\r\n");
	KV_EXPECT(&e, "TTL|k", ":-1\r\n");
	KV_EXPECT(&e, "EXPIRE|nope|10", ":0\r\n");
	/* A time in the past expires the key at once. */
	KV_EXPECT(&e, "EXPIRE|k|-1", ":1\r\n");
	KV_EXPECT(&e, "GET|k", "$-1\r\n");
	KV_EXPECT(&e, "SET|k|v|PXAT|1", "+OK\r\n");
	KV_EXPECT(&e, "EXISTS|k", ":0\r\n");
	/* INCR keeps the key's time to live. */
	KV_EXPECT(&e, "SET|n|1|EX|1000", "+OK\r\n");
	KV_EXPECT(&e, "INCR|n", ":2\r\n");
	KV_EXPECT(&e, "TTL|n", ":1000\r\n");
	KV_EXPECT(&e, "SET|n|5|KEEPTTL", "+OK\r\n");
	KV_EXPECT(&e, "TTL|n", ":1000\r\n");
	KV_EXPECT(&e, "SET|n|5", "+OK\r\n");
	KV_EXPECT(&e, "TTL|n", ":-1\r\n");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_server_commands_and_errors)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-server", NULL);
	KV_EXPECT(&e, "PING", "+PONG\r\n");
	KV_EXPECT(&e, "PING|hi", "$2\r\nhi\r\n");
	KV_EXPECT(&e, "PING|a|b", "-ERR wrong number of arguments for 'ping' command\r\n");
	KV_EXPECT(&e, "ECHO|x y", "$3\r\nx y\r\n");
	KV_EXPECT(&e, "GET", "-ERR wrong number of arguments for 'get' command\r\n");
	KV_EXPECT(&e, "FOO|a|b",
	          "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
	KV_EXPECT(&e, "FOO|a\r\nb",
	          "-ERR unknown command 'FOO', with args beginning with: 'a??b' \r\n");
	KV_EXPECT(&e, "SELECT|0", "+OK\r\n");
	KV_EXPECT(&e, "SELECT|1", "-ERR DB index is out of range\r\n");
	KV_EXPECT(&e, "AUTH|pw",
	          "-ERR AUTH <password> called without any password configured for the default "
	          "user. Are you sure your configuration is correct?\r\n");
	KV_EXPECT(&e, "AUTH|default|pw", "+OK\r\n");
	KV_EXPECT(&e, "CLIENT|SETNAME|bench", "+OK\r\n");
	KV_EXPECT(&e, "COMMAND", "*0\r\n");
	KV_EXPECT(&e, "COMMAND|DOCS", "*0\r\n");
	KV_EXPECT(&e, "CONFIG|GET|save|appendonly",
	          "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$4\r\nsave\r\n$0\r\n\r\n");
	KV_EXPECT(&e, "CONFIG|GET|maxmemory-p*",
	          "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n");
	const char *info = kv_run(&e, "INFO|server");
	ck_assert_msg(strstr(info, "# Server\r\nredis_version:") && !strstr(info, "# Keyspace"),
	              "%s", info);
	int rc;
	ck_assert_str_eq(kv_run_v(&e, 2, "QUIT", &rc), "+OK\r\n");
	ck_assert_int_eq(rc, MH_HANDLE_CLOSE);
	/* RESP3: nulls, maps, the HELLO map. */
	ck_assert_str_eq(kv_run_v(&e, 3, "GET|nope", NULL), "_\r\n");
	ck_assert_str_eq(kv_run_v(&e, 3, "COMMAND|DOCS", NULL), "%0\r\n");
	const char *hello = kv_run_v(&e, 2, "HELLO|3", NULL);
	ck_assert_msg(strncmp(hello, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n", 27) == 0 &&
	                  strstr(hello, "$5\r\nproto\r\n:3\r\n"),
	              "%s", hello);
	hello = kv_run_v(&e, 2, "HELLO", NULL);
	ck_assert_msg(strncmp(hello, "*14\r\n", 5) == 0 && strstr(hello, ":2\r\n"), "%s", hello);
	KV_EXPECT(&e, "HELLO|4", "-NOPROTO unsupported protocol version\r\n");
	modenv_close(&e);
}
END_TEST

/* Fill a store of max_memory 64KiB with 1000-byte values until a write is
 * refused; returns how many fitted. */
static int kv_fill(struct modenv *e, const char *prefix, int max)
{
	static char cmd[1200];
	int i = 0;
	for (; i < max; i++) {
		int n = snprintf(cmd, sizeof(cmd), "SET|%s%d|", prefix, i);
		memset(cmd + n, 'v', 1000);
		cmd[n + 1000] = '\0';
		const char *r = kv_run(e, cmd);
		if (strcmp(r, "+OK\r\n") != 0) {
			ck_assert_str_eq(r, "-OOM command not allowed when used memory > "
			                    "'maxmemory'.\r\n");
			break;
		}
	}
	return i;
}

START_TEST(kv_memory_cap_refuses_writes)
{
	const char *const small[] = {"max_memory=64KiB", NULL};
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-oom", small);
	int fitted = kv_fill(&e, "k", 1000);
	/* 64 KiB holds a few dozen 1 KiB values, never more than 64. */
	ck_assert_int_gt(fitted, 30);
	ck_assert_int_lt(fitted, 64);
	/* Reads still work, and a delete makes room for one more. */
	KV_EXPECT(&e, "EXISTS|k0", ":1\r\n");
	KV_EXPECT(&e, "DEL|k0", ":1\r\n");
	ck_assert_int_eq(kv_fill(&e, "again", 1000), 1);
	/* MSET is all or nothing. */
	KV_EXPECT(&e, "DEL|again0", ":1\r\n");
	static char cmd[2200];
	int n = snprintf(cmd, sizeof(cmd), "MSET|m1|");
	memset(cmd + n, 'v', 1000);
	n += 1000;
	n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, "|m2|");
	memset(cmd + n, 'v', 1000);
	cmd[n + 1000] = '\0';
	ck_assert_str_eq(kv_run(&e, cmd),
	                 "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
	KV_EXPECT(&e, "EXISTS|m1|m2", ":0\r\n");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_lru_evicts_the_least_recently_used)
{
	const char *const lru[] = {"max_memory=64KiB", "eviction=lru", NULL};
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-lru", lru);
	/* With eviction every write fits. */
	ck_assert_int_eq(kv_fill(&e, "k", 40), 40);
	ck_assert_int_eq(strncmp(kv_run(&e, "GET|k0"), "$1000\r\nvvvv", 11), 0);
	/* 200 more writes: k0 is read before each, so it stays; the other
	 * early keys are the least recently used and go. */
	for (int i = 40; i < 240; i++) {
		/* A read makes k0 the most recently used. */
		ck_assert_int_eq(strncmp(kv_run(&e, "GET|k0"), "$1000\r\n", 7), 0);
		char cmd[1100];
		int n = snprintf(cmd, sizeof(cmd), "SET|k%d|", i);
		memset(cmd + n, 'v', 1000);
		cmd[n + 1000] = '\0';
		KV_EXPECT(&e, cmd, "+OK\r\n");
	}
	KV_EXPECT(&e, "EXISTS|k0|k239|k238", ":3\r\n");
	KV_EXPECT(&e, "EXISTS|k1|k2|k3|k100", ":0\r\n");
	const char *info = kv_run(&e, "INFO|stats");
	ck_assert_msg(strstr(info, "evicted_keys:") && !strstr(info, "evicted_keys:0\r"), "%s",
	              info);
	modenv_close(&e);
}
END_TEST

/* ---- the store itself (modules/kvstore.c, linked into this test) ------------------ */

/* A new store of max_memory bytes in shared memory, as the master makes it. */
static struct kvstore *store_new_sized(void **zone, size_t *size, uint64_t max_memory, int policy)
{
	char err[256];
	*size = kvstore_zone_size(max_memory);
	*zone = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(*zone, MAP_FAILED);
	struct kvstore *s = kvstore_attach(*zone, *size, max_memory, policy, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

static struct kvstore *store_new(void **zone, size_t *size, int policy)
{
	return store_new_sized(zone, size, KVSTORE_MIN_MEMORY, policy);
}

/* Link key (a C string) with a value of vlen bytes; returns 0 or -1. */
static int store_put(struct kvstore *s, const char *key, size_t vlen)
{
	int64_t now = 0;
	kvstore_item *it = kvstore_alloc(s, key, strlen(key), vlen, &now);
	if (!it)
		return -1;
	memset(kvstore_value_w(it), 'v', vlen);
	kvstore_link(s, it, 0);
	return 0;
}

static uint64_t store_keys(struct kvstore *s)
{
	struct kvstore_stats st;
	kvstore_get_stats(s, &st);
	return st.keys;
}

/* Whether key "k<i>" is there with the value "v<i>". */
static int store_has(struct kvstore *s, uint32_t i)
{
	char key[16], want[16];
	int64_t now = 0;
	size_t vlen;
	snprintf(key, sizeof(key), "k%u", i);
	int n = snprintf(want, sizeof(want), "v%u", i);
	kvstore_item *it = kvstore_find(s, key, strlen(key), &now, 1);
	if (!it)
		return 0;
	const uint8_t *v = kvstore_value(it, &vlen);
	ck_assert_msg(vlen == (size_t)n && memcmp(v, want, vlen) == 0, "%s has a wrong value", key);
	return 1;
}

START_TEST(kvstore_table_grows_while_serving)
{
	/* 30000 keys inserted, deleted and read in a pseudo-random mix: the
	 * table doubles several times (each a bucket at a time, interleaved
	 * with the other operations) and loses nothing. */
	enum { N = 30000 };
	static uint8_t want[N];
	void *zone;
	size_t size;
	struct kvstore *s = store_new_sized(&zone, &size, 8u << 20, KVSTORE_NOEVICTION);
	uint32_t rng = 7;
	uint64_t expect = 0;
	kvstore_lock(s);
	for (uint32_t i = 0; i < N; i++) {
		char key[16], val[16];
		int64_t now = 0;
		snprintf(key, sizeof(key), "k%u", i);
		int n = snprintf(val, sizeof(val), "v%u", i);
		kvstore_item *it = kvstore_alloc(s, key, strlen(key), (size_t)n, &now);
		ck_assert_ptr_nonnull(it);
		memcpy(kvstore_value_w(it), val, (size_t)n);
		ck_assert_int_eq(kvstore_link(s, it, 0), 0);
		want[i] = 1;
		expect++;
		uint32_t j = rng_next(&rng) % (i + 1);
		ck_assert_int_eq(store_has(s, j), want[j]);
		if (rng_next(&rng) % 5 == 0) {
			j = rng_next(&rng) % (i + 1);
			snprintf(key, sizeof(key), "k%u", j);
			ck_assert_int_eq(kvstore_delete(s, key, strlen(key), &now), want[j]);
			expect -= want[j];
			want[j] = 0;
		}
	}
	struct kvstore_stats st;
	kvstore_get_stats(s, &st);
	ck_assert_uint_eq(st.keys, expect);
	ck_assert_uint_ge(st.buckets, 16384);
	for (uint32_t i = 0; i < N; i++)
		ck_assert_int_eq(store_has(s, i), want[i]);
	kvstore_flush(s);
	kvstore_get_stats(s, &st);
	ck_assert_uint_eq(st.keys, 0);
	ck_assert_uint_eq(st.buckets, 1024);
	kvstore_unlock(s);
	munmap(zone, size);
}
END_TEST

START_TEST(kvstore_lock_taken_over_from_a_dead_holder)
{
	void *zone;
	size_t size;
	struct kvstore *s = store_new(&zone, &size, KVSTORE_NOEVICTION);
	ck_assert_int_eq(kvstore_lock(s), 0);
	ck_assert_int_eq(store_put(s, "k", 10), 0);
	kvstore_unlock(s);

	/* A worker that dies holding the lock (mid-change, for all we
	 * know): the next locker takes the lock over and empties the store. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		kvstore_process_init();
		kvstore_lock(s);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(kvstore_lock(s), 1);
	ck_assert_uint_eq(store_keys(s), 0);
	ck_assert_int_eq(store_put(s, "after", 10), 0);
	kvstore_unlock(s);
	ck_assert_int_eq(kvstore_lock(s), 0);
	ck_assert_uint_eq(store_keys(s), 1);
	kvstore_unlock(s);
	munmap(zone, size);
}
END_TEST

START_TEST(kvstore_reattach_keeps_keys_and_applies_the_policy)
{
	void *zone;
	size_t size;
	char err[256];
	struct kvstore *s = store_new(&zone, &size, KVSTORE_NOEVICTION);
	kvstore_lock(s);
	int fitted = 0;
	char key[32];
	for (; fitted < 1000; fitted++) {
		snprintf(key, sizeof(key), "k%d", fitted);
		if (store_put(s, key, 1000) < 0)
			break;
	}
	ck_assert_int_gt(fitted, 30);
	kvstore_unlock(s);

	/* A reload attaches the same zone: same keys; another size is refused. */
	ck_assert_ptr_null(
	    kvstore_attach(zone, size, 2 * KVSTORE_MIN_MEMORY, KVSTORE_LRU, err, sizeof(err)));
	struct kvstore *again =
	    kvstore_attach(zone, size, KVSTORE_MIN_MEMORY, KVSTORE_LRU, err, sizeof(err));
	ck_assert_ptr_eq(again, s);
	kvstore_lock(s);
	ck_assert_uint_eq(store_keys(s), (uint64_t)fitted);
	/* Now under LRU (the switch linked the keys in no particular order):
	 * a full store takes more keys by evicting; a key just read stays. */
	int64_t now = 0;
	snprintf(key, sizeof(key), "k%d", fitted - 1);
	ck_assert_ptr_nonnull(kvstore_find(s, key, strlen(key), &now, 1));
	ck_assert_int_eq(store_put(s, "new", 1000), 0);
	ck_assert_uint_eq(store_keys(s), (uint64_t)fitted);
	ck_assert_ptr_nonnull(kvstore_find(s, "new", 3, &now, 1));
	ck_assert_ptr_nonnull(kvstore_find(s, key, strlen(key), &now, 1));
	kvstore_unlock(s);
	munmap(zone, size);
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

	tc = tcase_create("kv");
	tcase_add_test(tc, kv_strings_and_counters);
	tcase_add_test(tc, kv_expiry_without_waiting);
	tcase_add_test(tc, kv_server_commands_and_errors);
	tcase_add_test(tc, kv_memory_cap_refuses_writes);
	tcase_add_test(tc, kv_lru_evicts_the_least_recently_used);
	suite_add_tcase(s, tc);

	tc = tcase_create("kvstore");
	tcase_add_test(tc, kvstore_lock_taken_over_from_a_dead_holder);
	tcase_add_test(tc, kvstore_reattach_keeps_keys_and_applies_the_policy);
	tcase_add_test(tc, kvstore_table_grows_while_serving);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(resp_suite());
}
