/* tests/unit/check_codecs.c — the bundled lenprefix and line codecs and the
 * echo handler, loaded from the built .so files with the host's own loader
 * and driven through the host function table, without sockets.
 *
 * Each test builds a module instance by hand with tests/unit/modenv.c (the
 * loader's struct mh_module with a modconf made from the module's key
 * table), a zeroed connection (the codecs only hand it back to host calls),
 * and a host buffer as the connection's input. */
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

/* Load bundled module NAME (modenv_open).  With key non-NULL, the
 * instance's section sets key = value; else every key has its default.
 * Fails the test on any error. */
static void instance_open(struct modenv *e, const char *name, const char *key, const char *value)
{
	char setting[256];
	const char *const settings[] = {setting, NULL};
	if (key)
		ck_assert_uint_lt((size_t)snprintf(setting, sizeof(setting), "%s=%s", key, value),
		                  sizeof(setting));
	modenv_open(e, name, key ? settings : NULL);
}

/* Encode a reply whose body is data; the wire bytes are appended to wire. */
static int encode_body(struct modenv *e, const void *data, size_t len, struct mh_buf *wire)
{
	struct mh_msg *reply = msg_new(e->conn);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(buf_add(msg_body(reply), data, len), 0);
	int r = modenv_encode(e, reply, wire);
	msg_free(reply);
	return r;
}

/* Decode exactly one message, check its body, and free it. */
static void expect_message(struct modenv *e, const void *body, size_t len, const char *what)
{
	struct mh_msg *msg;
	int r = modenv_decode(e, &msg);
	ck_assert_msg(r == MH_DECODE_MESSAGE, "%s: decode returned %d, want a message", what, r);
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(modenv_buf_equals(msg_body(msg), body, len),
	              "%s: wrong body (%zu bytes, want %zu)", what, buf_length(msg_body(msg)), len);
	msg_free(msg);
}

static void expect_too_large(struct modenv *e, const char *what)
{
	struct mh_msg *msg;
	int r = modenv_decode(e, &msg);
	ck_assert_msg(r == MH_DECODE_ERROR, "%s: decode returned %d, want ERROR", what, r);
	ck_assert_ptr_null(msg);
	ck_assert_int_eq(e->conn->error_status, MH_STATUS_TOO_LARGE);
	ck_assert_ptr_nonnull(e->conn->error_text);
}

/* ---- lenprefix ------------------------------------------------------------ */

/* Header + payload into dst (room for 4 + len bytes); returns the size. */
static size_t frame(uint8_t *dst, const void *payload, uint32_t len)
{
	dst[0] = (uint8_t)(len >> 24);
	dst[1] = (uint8_t)(len >> 16);
	dst[2] = (uint8_t)(len >> 8);
	dst[3] = (uint8_t)len;
	if (len)
		memcpy(dst + 4, payload, len);
	return 4 + (size_t)len;
}

START_TEST(lenprefix_descriptor_and_defaults)
{
	struct modenv e;
	instance_open(&e, "lenprefix", NULL, NULL);
	ck_assert_str_eq(e.inst.desc->name, "lenprefix");
	ck_assert_uint_eq(e.inst.desc->roles, MH_ROLE_CODEC);
	ck_assert_ptr_nonnull(e.codec);
	ck_assert_ptr_null(e.codec->encode_error); /* no error frame: errors close */
	ck_assert_uint_eq(e.codec->max_message(&e.inst), 1024 * 1024 + 4);
	modenv_close(&e);
}
END_TEST

START_TEST(lenprefix_split_at_every_point)
{
	static const char payload[] = "hello, frame";
	uint8_t wire[64];
	size_t n = frame(wire, payload, sizeof(payload) - 1);

	for (size_t k = 0; k <= n; k++) {
		char what[64];
		snprintf(what, sizeof(what), "split at %zu of %zu", k, n);
		struct modenv e;
		instance_open(&e, "lenprefix", NULL, NULL);
		modenv_feed(&e, wire, k);
		if (k < n)
			modenv_expect_need_more(&e, what);
		modenv_feed(&e, wire + k, n - k);
		expect_message(&e, payload, sizeof(payload) - 1, what);
		modenv_expect_need_more(&e, what);
		ck_assert_uint_eq(buf_length(e.in), 0);
		modenv_close(&e);
	}
}
END_TEST

START_TEST(lenprefix_byte_by_byte)
{
	static const char payload[] = "trickle";
	uint8_t wire[32];
	size_t n = frame(wire, payload, sizeof(payload) - 1);
	struct modenv e;
	instance_open(&e, "lenprefix", NULL, NULL);
	for (size_t i = 0; i + 1 < n; i++) {
		modenv_feed(&e, wire + i, 1);
		modenv_expect_need_more(&e, "partial frame");
	}
	modenv_feed(&e, wire + n - 1, 1);
	expect_message(&e, payload, sizeof(payload) - 1, "last byte");
	modenv_close(&e);
}
END_TEST

START_TEST(lenprefix_several_frames_in_one_buffer)
{
	uint8_t wire[64];
	size_t n = 0;
	n += frame(wire + n, "a", 1);
	n += frame(wire + n, "", 0);
	n += frame(wire + n, "bcd", 3);
	n += frame(wire + n, "ef", 2); /* followed by a partial frame */
	wire[n++] = 0;
	wire[n++] = 0;
	struct modenv e;
	instance_open(&e, "lenprefix", NULL, NULL);
	modenv_feed(&e, wire, n);
	expect_message(&e, "a", 1, "first");
	expect_message(&e, "", 0, "second (empty)");
	expect_message(&e, "bcd", 3, "third");
	expect_message(&e, "ef", 2, "fourth");
	modenv_expect_need_more(&e, "partial header");
	ck_assert_uint_eq(buf_length(e.in), 2);
	modenv_close(&e);
}
END_TEST

START_TEST(lenprefix_zero_length_frame)
{
	static const uint8_t wire[4] = {0, 0, 0, 0};
	struct modenv e;
	instance_open(&e, "lenprefix", NULL, NULL);
	modenv_feed(&e, wire, 3);
	modenv_expect_need_more(&e, "3 header bytes");
	modenv_feed(&e, wire + 3, 1);
	expect_message(&e, "", 0, "zero length");
	ck_assert_uint_eq(buf_length(e.in), 0);
	modenv_close(&e);
}
END_TEST

START_TEST(lenprefix_oversize_refused_from_header_alone)
{
	/* Only the 4 header bytes are fed: the payload must never be needed. */
	static const uint8_t over_default[4] = {0x00, 0x10, 0x00, 0x01}; /* 1MiB + 1 */
	static const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
	const uint8_t *cases[] = {over_default, huge};
	for (size_t i = 0; i < 2; i++) {
		struct modenv e;
		instance_open(&e, "lenprefix", NULL, NULL);
		modenv_feed(&e, cases[i], 4);
		expect_too_large(&e, "oversize header");
		ck_assert_msg(strstr(e.conn->error_text, "max_frame") != NULL, "error text: %s",
		              e.conn->error_text);
		modenv_close(&e);
	}
}
END_TEST

START_TEST(lenprefix_max_frame_boundary)
{
	uint8_t wire[64], payload[17];
	memset(payload, 'x', sizeof(payload));
	struct modenv e;

	instance_open(&e, "lenprefix", "max_frame", "16");
	ck_assert_uint_eq(e.codec->max_message(&e.inst), 20);
	modenv_feed(&e, wire, frame(wire, payload, 16));
	expect_message(&e, payload, 16, "exactly max_frame");
	modenv_close(&e);

	instance_open(&e, "lenprefix", "max_frame", "16");
	frame(wire, payload, 17);
	modenv_feed(&e, wire, 4);
	expect_too_large(&e, "max_frame + 1");
	ck_assert_msg(strstr(e.conn->error_text, "17") && strstr(e.conn->error_text, "16"),
	              "error text names both sizes: %s", e.conn->error_text);
	modenv_close(&e);
}
END_TEST

START_TEST(lenprefix_encode_wire_bytes)
{
	static const uint8_t want[] = {0, 0, 0, 3, 'x', 'y', 'z', 0, 0, 0, 0};
	struct modenv e;
	instance_open(&e, "lenprefix", NULL, NULL);
	struct mh_buf *wire = buf_new();
	ck_assert_int_eq(encode_body(&e, "xyz", 3, wire), 0);
	ck_assert_int_eq(encode_body(&e, "", 0, wire), 0);
	ck_assert(modenv_buf_equals(wire, want, sizeof(want)));
	/* And what was encoded decodes back to the same messages. */
	ck_assert_int_eq(buf_move(e.in, wire, buf_length(wire)), 0);
	expect_message(&e, "xyz", 3, "round trip");
	expect_message(&e, "", 0, "round trip (empty)");
	buf_free(wire);
	modenv_close(&e);
}
END_TEST

START_TEST(lenprefix_encode_large_body)
{
	/* A body far past a buffer's first block keeps its bytes and order. */
	size_t n = 300000;
	uint8_t *payload = malloc(n);
	ck_assert_ptr_nonnull(payload);
	for (size_t i = 0; i < n; i++)
		payload[i] = (uint8_t)(i * 7 + i / 251);
	struct modenv e;
	instance_open(&e, "lenprefix", NULL, NULL);
	struct mh_buf *wire = buf_new();
	ck_assert_int_eq(encode_body(&e, payload, n, wire), 0);
	ck_assert_uint_eq(buf_length(wire), n + 4);
	ck_assert_int_eq(buf_move(e.in, wire, buf_length(wire)), 0);
	expect_message(&e, payload, n, "large round trip");
	buf_free(wire);
	modenv_close(&e);
	free(payload);
}
END_TEST

/* ---- line ------------------------------------------------------------------ */

START_TEST(line_descriptor_and_defaults)
{
	struct modenv e;
	instance_open(&e, "line", NULL, NULL);
	ck_assert_str_eq(e.inst.desc->name, "line");
	ck_assert_uint_eq(e.inst.desc->roles, MH_ROLE_CODEC);
	ck_assert_ptr_nonnull(e.codec->encode_error);
	ck_assert_uint_eq(e.codec->max_message(&e.inst), 64 * 1024 + 2);
	modenv_close(&e);
}
END_TEST

START_TEST(line_lf_and_crlf)
{
	struct modenv e;
	instance_open(&e, "line", NULL, NULL);
	modenv_feed(&e, "hello\n", 6);
	expect_message(&e, "hello", 5, "LF");
	modenv_feed(&e, "world\r\n", 7);
	expect_message(&e, "world", 5, "CRLF");
	modenv_feed(&e, "a\rb\n", 4);
	expect_message(&e, "a\rb", 3, "a bare CR is content");
	modenv_expect_need_more(&e, "empty input");
	modenv_close(&e);
}
END_TEST

START_TEST(line_split_at_every_point)
{
	static const char *const lines[] = {"hello line\n", "hello line\r\n"};
	for (size_t l = 0; l < 2; l++) {
		size_t n = strlen(lines[l]);
		for (size_t k = 0; k <= n; k++) {
			char what[64];
			snprintf(what, sizeof(what), "line %zu split at %zu of %zu", l, k, n);
			struct modenv e;
			instance_open(&e, "line", NULL, NULL);
			modenv_feed(&e, lines[l], k);
			if (k < n)
				modenv_expect_need_more(&e, what);
			modenv_feed(&e, lines[l] + k, n - k);
			expect_message(&e, "hello line", 10, what);
			modenv_expect_need_more(&e, what);
			ck_assert_uint_eq(buf_length(e.in), 0);
			modenv_close(&e);
		}
	}
}
END_TEST

START_TEST(line_byte_by_byte)
{
	static const char wire[] = "one\r\ntwo\n\r\nthree\n";
	static const char *const want[] = {"one", "two", "", "three"};
	size_t got = 0;
	struct modenv e;
	instance_open(&e, "line", NULL, NULL);
	for (size_t i = 0; i < sizeof(wire) - 1; i++) {
		modenv_feed(&e, wire + i, 1);
		if (wire[i] == '\n') {
			ck_assert_uint_lt(got, 4);
			expect_message(&e, want[got], strlen(want[got]), want[got]);
			got++;
		} else {
			modenv_expect_need_more(&e, "inside a line");
		}
	}
	ck_assert_uint_eq(got, 4);
	modenv_close(&e);
}
END_TEST

START_TEST(line_empty_lines_and_several_in_one_buffer)
{
	struct modenv e;
	instance_open(&e, "line", NULL, NULL);
	modenv_feed(&e, "\n\r\na\nb\r\n\nc", 10);
	expect_message(&e, "", 0, "empty LF line");
	expect_message(&e, "", 0, "empty CRLF line");
	expect_message(&e, "a", 1, "a");
	expect_message(&e, "b", 1, "b");
	expect_message(&e, "", 0, "empty line after b");
	modenv_expect_need_more(&e, "unterminated c");
	ck_assert_uint_eq(buf_length(e.in), 1);
	modenv_close(&e);
}
END_TEST

START_TEST(line_over_long_refused_as_soon_as_seen)
{
	/* max_line = 8: the 9th byte without LF is refused at once. */
	struct modenv e;
	instance_open(&e, "line", "max_line", "8");
	ck_assert_uint_eq(e.codec->max_message(&e.inst), 10);
	for (int i = 0; i < 8; i++) {
		modenv_feed(&e, "a", 1);
		modenv_expect_need_more(&e, "up to max_line");
	}
	modenv_feed(&e, "a", 1);
	expect_too_large(&e, "max_line + 1 bytes without LF");
	ck_assert_msg(strstr(e.conn->error_text, "max_line 8") != NULL, "error text: %s",
	              e.conn->error_text);
	modenv_close(&e);

	/* The whole over-long line arriving at once, LF included. */
	instance_open(&e, "line", "max_line", "8");
	modenv_feed(&e, "aaaaaaaaaaaaaaaaaaaa\n", 21);
	expect_too_large(&e, "long line with LF");
	modenv_close(&e);

	/* Nine bytes and LF, in one piece. */
	instance_open(&e, "line", "max_line", "8");
	modenv_feed(&e, "aaaaaaaaa\n", 10);
	expect_too_large(&e, "max_line + 1 then LF");
	modenv_close(&e);

	/* A CR after max_line bytes must be followed by LF. */
	instance_open(&e, "line", "max_line", "8");
	modenv_feed(&e, "aaaaaaaa\r", 9);
	modenv_expect_need_more(&e, "max_line then CR");
	modenv_feed(&e, "x", 1);
	expect_too_large(&e, "max_line, CR, then not LF");
	modenv_close(&e);
}
END_TEST

START_TEST(line_exactly_max_line_accepted)
{
	static const char *const wires[] = {"aaaaaaaa\n", "aaaaaaaa\r\n"};
	for (size_t w = 0; w < 2; w++) {
		size_t n = strlen(wires[w]);
		struct modenv e;
		/* Byte by byte, so that every intermediate length is checked. */
		instance_open(&e, "line", "max_line", "8");
		for (size_t i = 0; i + 1 < n; i++) {
			modenv_feed(&e, wires[w] + i, 1);
			modenv_expect_need_more(&e, "inside a max_line line");
		}
		modenv_feed(&e, wires[w] + n - 1, 1);
		expect_message(&e, "aaaaaaaa", 8, wires[w]);
		modenv_close(&e);

		/* And in one piece. */
		instance_open(&e, "line", "max_line", "8");
		modenv_feed(&e, wires[w], n);
		expect_message(&e, "aaaaaaaa", 8, wires[w]);
		modenv_close(&e);
	}
}
END_TEST

START_TEST(line_encode_follows_the_request_terminator)
{
	struct modenv e;
	instance_open(&e, "line", NULL, NULL);
	struct mh_buf *wire = buf_new();

	/* Before any line, and after an LF line: LF. */
	ck_assert_int_eq(encode_body(&e, "first", 5, wire), 0);
	ck_assert(modenv_buf_equals(wire, "first\n", 6));
	buf_drain(wire, buf_length(wire));

	modenv_feed(&e, "ping\r\n", 6);
	expect_message(&e, "ping", 4, "CRLF request");
	ck_assert_int_eq(encode_body(&e, "pong", 4, wire), 0);
	ck_assert(modenv_buf_equals(wire, "pong\r\n", 6));
	buf_drain(wire, buf_length(wire));

	modenv_feed(&e, "ping\n", 5);
	expect_message(&e, "ping", 4, "LF request");
	ck_assert_int_eq(encode_body(&e, "", 0, wire), 0);
	ck_assert(modenv_buf_equals(wire, "\n", 1));

	buf_free(wire);
	modenv_close(&e);
}
END_TEST

/* Lines pipelined with mixed terminators: each reply ends like the line it
 * answers, error replies included, in request order. */
START_TEST(line_pipelined_mixed_terminators_answered_alike)
{
	struct modenv e;
	instance_open(&e, "line", NULL, NULL);
	struct mh_buf *wire = buf_new();
	modenv_feed_str(&e, "a\r\nb\nc\r\nd\n");
	expect_message(&e, "a", 1, "first");
	expect_message(&e, "b", 1, "second");
	expect_message(&e, "c", 1, "third");
	expect_message(&e, "d", 1, "fourth");
	ck_assert_int_eq(encode_body(&e, "A", 1, wire), 0);
	ck_assert_int_eq(encode_body(&e, "B", 1, wire), 0);
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_FORBIDDEN, "no", wire);
	ck_assert_int_eq(encode_body(&e, "D", 1, wire), 0);
	ck_assert(modenv_buf_equals(wire, "A\r\nB\nERR no\r\nD\n", 15));
	buf_drain(wire, buf_length(wire));

	/* Past 64 lines in flight the rest take the latest line's ending; the
	 * tracked ones keep theirs. */
	for (int i = 0; i < 70; i++)
		modenv_feed(&e, i % 2 ? "x\n" : "x\r\n", i % 2 ? 2 : 3);
	for (int i = 0; i < 70; i++)
		expect_message(&e, "x", 1, "many");
	for (int i = 0; i < 70; i++) {
		ck_assert_int_eq(encode_body(&e, "y", 1, wire), 0);
		const char *want = i < 64 && i % 2 == 0 ? "y\r\n" : "y\n";
		ck_assert_msg(modenv_buf_equals(wire, want, strlen(want)), "reply %d", i);
		buf_drain(wire, buf_length(wire));
	}
	/* Then tracking resumes. */
	modenv_feed(&e, "z\r\n", 3);
	expect_message(&e, "z", 1, "after");
	ck_assert_int_eq(encode_body(&e, "Z", 1, wire), 0);
	ck_assert(modenv_buf_equals(wire, "Z\r\n", 3));
	buf_free(wire);
	modenv_close(&e);
}
END_TEST

START_TEST(line_encode_error_is_one_line)
{
	struct modenv e;
	instance_open(&e, "line", NULL, NULL);
	struct mh_buf *wire = buf_new();

	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_TOO_LARGE,
	                      "line longer than max_line 8", (mh_buf *)wire);
	ck_assert(modenv_buf_equals(wire, "ERR line longer than max_line 8\n", 32));
	buf_drain(wire, buf_length(wire));

	/* Control characters cannot split the error into several lines. */
	modenv_feed(&e, "x\r\n", 3);
	expect_message(&e, "x", 1, "CRLF request");
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_FORBIDDEN, "no\r\nEVIL",
	                      (mh_buf *)wire);
	ck_assert(modenv_buf_equals(wire, "ERR no  EVIL\r\n", 14));
	buf_drain(wire, buf_length(wire));

	/* The host names the status in the text it passes. */
	e.codec->encode_error(&e.inst, e.conn, e.state, MH_STATUS_TOO_MANY, "too many requests",
	                      (mh_buf *)wire);
	ck_assert(modenv_buf_equals(wire, "ERR too many requests\r\n", 23));

	buf_free(wire);
	modenv_close(&e);
}
END_TEST

/* ---- echo and whole round trips ------------------------------------------------ */

START_TEST(echo_moves_the_body)
{
	struct modenv e;
	instance_open(&e, "echo", NULL, NULL);
	ck_assert_uint_eq(e.inst.desc->roles, MH_ROLE_HANDLER);
	ck_assert_ptr_null(e.inst.desc->config_keys);

	static const char *const bodies[] = {"payload", ""};
	for (size_t i = 0; i < 2; i++) {
		struct mh_msg *req = msg_new(e.conn), *reply = msg_new(e.conn);
		ck_assert_ptr_nonnull(req);
		ck_assert_ptr_nonnull(reply);
		req->reply = reply; /* msg_free(req) frees both */
		reply->request = req;
		size_t n = strlen(bodies[i]);
		buf_add(msg_body(req), bodies[i], n);
		int r = e.inst.desc->handler->handle(&e.inst, (mh_msg *)req, (mh_msg *)reply);
		ck_assert_int_eq(r, MH_HANDLE_DONE);
		ck_assert(modenv_buf_equals(msg_body(reply), bodies[i], n));
		ck_assert_uint_eq(buf_length(msg_body(req)), 0);
		msg_free(req);
	}
	modenv_close(&e);
}
END_TEST

/* Feed pseudo-random bytes in pseudo-random pieces through decode, echo and
 * encode.  Every decoded message must re-encode to exactly the bytes it was
 * decoded from, no body may exceed the limit, and an error must be
 * TOO_LARGE.  Returns the number of messages seen. */
static size_t roundtrip_random(const char *codec, const char *key, const char *limit_text,
                               size_t limit, const char *alphabet, size_t n_alphabet, uint32_t seed)
{
	uint8_t input[4096];
	for (size_t i = 0; i < sizeof(input); i++)
		input[i] = (uint8_t)alphabet[unit_rng_next(&seed) % n_alphabet];

	struct modenv e, echo;
	instance_open(&e, codec, key, limit_text);
	instance_open(&echo, "echo", NULL, NULL);
	struct mh_buf *wire = buf_new();
	size_t fed = 0, messages = 0;
	int failed = 0;
	while (fed < sizeof(input) && !failed) {
		size_t piece = 1 + unit_rng_next(&seed) % 40;
		if (piece > sizeof(input) - fed)
			piece = sizeof(input) - fed;
		modenv_feed(&e, input + fed, piece);
		fed += piece;
		for (;;) {
			struct mh_msg *msg;
			int r = modenv_decode(&e, &msg);
			if (r == MH_DECODE_NEED_MORE) {
				ck_assert_ptr_null(msg);
				break;
			}
			if (r == MH_DECODE_ERROR) {
				ck_assert_int_eq(e.conn->error_status, MH_STATUS_TOO_LARGE);
				failed = 1;
				break;
			}
			ck_assert_int_eq(r, MH_DECODE_MESSAGE);
			ck_assert_uint_le(buf_length(msg_body(msg)), limit);
			struct mh_msg *reply = msg_new(e.conn);
			msg->reply = reply;
			ck_assert_int_eq(echo.inst.desc->handler->handle(&echo.inst, (mh_msg *)msg,
			                                                 (mh_msg *)reply),
			                 MH_HANDLE_DONE);
			ck_assert_int_eq(e.codec->encode(&e.inst, e.conn, e.state, (mh_msg *)reply,
			                                 (mh_buf *)wire),
			                 0);
			msg_free(msg);
			messages++;
		}
	}
	/* What was consumed is exactly what was re-encoded. */
	size_t consumed = fed - buf_length(e.in);
	if (!failed)
		ck_assert_uint_eq(buf_length(wire), consumed);
	ck_assert_uint_le(buf_length(wire), consumed);
	ck_assert_msg(buf_length(wire) == 0 ||
	                  memcmp(buf_data(wire), input, buf_length(wire)) == 0,
	              "%s seed %u: re-encoded bytes differ from the input", codec, seed);
	buf_free(wire);
	modenv_close(&echo);
	modenv_close(&e);
	return messages;
}

START_TEST(random_input_round_trips)
{
	/* Mostly zero bytes make plausible frame lengths; the rest give
	 * lines of every length, mixed terminators and bare CRs. */
	static const char frame_bytes[] = {0, 0, 0, 0, 0, 0, 0, 0,   0,
	                                   0, 0, 0, 0, 0, 1, 7, 'a', '\n'};
	static const char line_bytes[] = {0, 'a', 'b', 'c', ' ', '\r', '\r', '\n'};
	size_t lp = 0, ln = 0;
	for (uint32_t seed = 1; seed <= 200; seed++) {
		lp += roundtrip_random("lenprefix", "max_frame", "300", 300, frame_bytes,
		                       sizeof(frame_bytes), seed);
		ln += roundtrip_random("line", "max_line", "200", 200, line_bytes,
		                       sizeof(line_bytes), seed);
	}
	/* The generator must actually exercise both codecs. */
	ck_assert_uint_gt(lp, 100);
	ck_assert_uint_gt(ln, 1000);
}
END_TEST

static Suite *codecs_suite(void)
{
	Suite *s = suite_create("codecs");
	TCase *tc = tcase_create("lenprefix");
	tcase_add_test(tc, lenprefix_descriptor_and_defaults);
	tcase_add_test(tc, lenprefix_split_at_every_point);
	tcase_add_test(tc, lenprefix_byte_by_byte);
	tcase_add_test(tc, lenprefix_several_frames_in_one_buffer);
	tcase_add_test(tc, lenprefix_zero_length_frame);
	tcase_add_test(tc, lenprefix_oversize_refused_from_header_alone);
	tcase_add_test(tc, lenprefix_max_frame_boundary);
	tcase_add_test(tc, lenprefix_encode_wire_bytes);
	tcase_add_test(tc, lenprefix_encode_large_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("line");
	tcase_add_test(tc, line_descriptor_and_defaults);
	tcase_add_test(tc, line_lf_and_crlf);
	tcase_add_test(tc, line_split_at_every_point);
	tcase_add_test(tc, line_byte_by_byte);
	tcase_add_test(tc, line_empty_lines_and_several_in_one_buffer);
	tcase_add_test(tc, line_over_long_refused_as_soon_as_seen);
	tcase_add_test(tc, line_exactly_max_line_accepted);
	tcase_add_test(tc, line_encode_follows_the_request_terminator);
	tcase_add_test(tc, line_pipelined_mixed_terminators_answered_alike);
	tcase_add_test(tc, line_encode_error_is_one_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("echo");
	tcase_add_test(tc, echo_moves_the_body);
	tcase_add_test(tc, random_input_round_trips);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(codecs_suite());
}
