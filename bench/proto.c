/* bench/proto.c — mh-bench's wire protocols: lenprefix and line (each reply
 * echoes the request's payload), and RESP multibulk commands for Redis and
 * modhost's resp codec with the kv handler:
 *
 *   resp       SET mhb:C:K <payload> then GET mhb:C:K, alternating; each GET
 *              must return the payload of the SET just before it (keys are
 *              per connection, K cycles through 1024, so memory stays
 *              bounded and no other connection overwrites them)
 *   resp-set   SET mhb:C:K <payload>, reply +OK
 *   resp-get   one SET of mhb:C, then GET mhb:C, each returning that value
 *   resp-ping  PING, reply +PONG (the payload is not sent)
 *
 * C is the connection's index, K a counter: the request's sequence number
 * on its connection. */
#include <stdio.h>

#include "proto.h"

#define PROTO_RESP_KEYS 1024

/* ---- lenprefix: u32 big-endian length + payload ------------------------------ */

static int lenprefix_encode(struct bytes *out, unsigned conn, uint64_t seq,
                            const uint8_t *payload, size_t len)
{
	uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
	                  (uint8_t)len};
	if (bytes_reserve(out, sizeof(hdr) + len) < 0)
		return -1;
	memcpy(out->data + out->len, hdr, sizeof(hdr));
	memcpy(out->data + out->len + sizeof(hdr), payload, len);
	out->len += sizeof(hdr) + len;
	return 0;
}

static ssize_t lenprefix_parse(const uint8_t *in, size_t n, const uint8_t **body, size_t *body_len)
{
	if (n < 4)
		return 0;
	size_t len = (size_t)in[0] << 24 | (size_t)in[1] << 16 | (size_t)in[2] << 8 | in[3];
	if (n - 4 < len)
		return 0;
	*body = in + 4;
	*body_len = len;
	return (ssize_t)(4 + len);
}

/* Echo protocols: the reply carries the request's own payload. */
static void echo_want(uint64_t seq, struct proto_want *w)
{
	w->text = NULL;
	w->payload_seq = seq;
}

/* ---- line: payload + LF; replies end in LF or CRLF ---------------------------------- */

static int line_encode(struct bytes *out, unsigned conn, uint64_t seq, const uint8_t *payload,
                       size_t len)
{
	if (bytes_reserve(out, len + 1) < 0)
		return -1;
	memcpy(out->data + out->len, payload, len);
	out->data[out->len + len] = '\n';
	out->len += len + 1;
	return 0;
}

static ssize_t line_parse(const uint8_t *in, size_t n, const uint8_t **body, size_t *body_len)
{
	const uint8_t *lf = memchr(in, '\n', n);
	if (!lf)
		return 0;
	size_t len = (size_t)(lf - in);
	*body = in;
	*body_len = len > 0 && in[len - 1] == '\r' ? len - 1 : len;
	return (ssize_t)(len + 1);
}

/* ---- RESP ------------------------------------------------------------------------------ */

/* Append a multibulk command of argc arguments.  Returns 0 or -1. */
static int resp_command(struct bytes *out, int argc, const void *const *argv, const size_t *lens)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "*%d\r\n", argc);
	if (bytes_add(out, head, (size_t)n) < 0)
		return -1;
	for (int i = 0; i < argc; i++) {
		n = snprintf(head, sizeof(head), "$%zu\r\n", lens[i]);
		if (bytes_add(out, head, (size_t)n) < 0 || bytes_add(out, argv[i], lens[i]) < 0 ||
		    bytes_add(out, "\r\n", 2) < 0)
			return -1;
	}
	return 0;
}

static int resp_set(struct bytes *out, const char *key, const uint8_t *payload, size_t len)
{
	const void *argv[] = {"SET", key, payload};
	size_t lens[] = {3, strlen(key), len};
	return resp_command(out, 3, argv, lens);
}

static int resp_get(struct bytes *out, const char *key)
{
	const void *argv[] = {"GET", key};
	size_t lens[] = {3, strlen(key)};
	return resp_command(out, 2, argv, lens);
}

static int resp_encode(struct bytes *out, unsigned conn, uint64_t seq, const uint8_t *payload,
                       size_t len)
{
	char key[64];
	snprintf(key, sizeof(key), "mhb:%u:%llu", conn,
	         (unsigned long long)(seq / 2 % PROTO_RESP_KEYS));
	return seq % 2 == 0 ? resp_set(out, key, payload, len) : resp_get(out, key);
}

static void resp_want(uint64_t seq, struct proto_want *w)
{
	w->text = seq % 2 == 0 ? "OK" : NULL;
	w->payload_seq = seq - seq % 2; /* a GET returns what the SET before it wrote */
}

static int resp_set_encode(struct bytes *out, unsigned conn, uint64_t seq, const uint8_t *payload,
                           size_t len)
{
	char key[64];
	snprintf(key, sizeof(key), "mhb:%u:%llu", conn, (unsigned long long)(seq % PROTO_RESP_KEYS));
	return resp_set(out, key, payload, len);
}

static void resp_ok_want(uint64_t seq, struct proto_want *w)
{
	w->text = "OK";
	w->payload_seq = 0;
}

static int resp_get_encode(struct bytes *out, unsigned conn, uint64_t seq, const uint8_t *payload,
                           size_t len)
{
	char key[64];
	snprintf(key, sizeof(key), "mhb:%u", conn);
	return seq == 0 ? resp_set(out, key, payload, len) : resp_get(out, key);
}

static void resp_get_want(uint64_t seq, struct proto_want *w)
{
	w->text = seq == 0 ? "OK" : NULL;
	w->payload_seq = 0; /* every GET returns the first request's payload */
}

static int resp_ping_encode(struct bytes *out, unsigned conn, uint64_t seq,
                            const uint8_t *payload, size_t len)
{
	return bytes_add(out, "*1\r\n$4\r\nPING\r\n", 14);
}

static void resp_ping_want(uint64_t seq, struct proto_want *w)
{
	w->text = "PONG";
	w->payload_seq = 0;
}

/* The length of the CRLF-terminated line at in[0..n) without its CRLF, or
 * -1 when no CRLF is there yet. */
static ssize_t resp_line(const uint8_t *in, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (in[i] == '\r' && in[i + 1] == '\n')
			return (ssize_t)i;
	return -1;
}

/* One reply: +status, -error, :integer or $bulk (nil: *body NULL).  An
 * error comes back with its text in *body ("-ERR ..."), so it never
 * matches what is wanted; an array is not a reply to these commands. */
static ssize_t resp_parse(const uint8_t *in, size_t n, const uint8_t **body, size_t *body_len)
{
	if (n == 0)
		return 0;
	ssize_t line = resp_line(in, n);
	if (line < 0)
		return n > 64 * 1024 ? -1 : 0;
	switch (in[0]) {
	case '+':
	case ':':
		*body = in + 1;
		*body_len = (size_t)line - 1;
		return line + 2;
	case '-':
		*body = in;
		*body_len = (size_t)line;
		return line + 2;
	case '$': {
		char num[24];
		if (line < 2 || line - 1 >= (ssize_t)sizeof(num))
			return -1;
		memcpy(num, in + 1, (size_t)line - 1);
		num[line - 1] = '\0';
		char *end;
		long long len = strtoll(num, &end, 10);
		if (*end || len < -1)
			return -1;
		if (len == -1) {
			*body = NULL;
			*body_len = 0;
			return line + 2;
		}
		size_t total = (size_t)line + 2 + (size_t)len + 2;
		if (n < total)
			return 0;
		if (in[total - 2] != '\r' || in[total - 1] != '\n')
			return -1;
		*body = in + line + 2;
		*body_len = (size_t)len;
		return (ssize_t)total;
	}
	default: return -1;
	}
}

/* ---- the table ------------------------------------------------------------------------------- */

static const struct proto proto_table[] = {
    {"lenprefix", "u32 big-endian length + payload, echoed", false, lenprefix_encode,
     lenprefix_parse, echo_want},
    {"line", "payload + LF, echoed", true, line_encode, line_parse, echo_want},
    {"resp", "RESP SET then GET of the same key, alternating, checked", false, resp_encode,
     resp_parse, resp_want},
    {"resp-set", "RESP SET, reply +OK", false, resp_set_encode, resp_parse, resp_ok_want},
    {"resp-get", "RESP GET of a key set once per connection", false, resp_get_encode, resp_parse,
     resp_get_want},
    {"resp-ping", "RESP PING, reply +PONG", false, resp_ping_encode, resp_parse, resp_ping_want},
};

const struct proto *proto_find(const char *name)
{
	for (size_t i = 0; i < sizeof(proto_table) / sizeof(proto_table[0]); i++)
		if (strcmp(proto_table[i].name, name) == 0)
			return &proto_table[i];
	return NULL;
}

const char *proto_names(void)
{
	return "lenprefix, line, resp, resp-set, resp-get, resp-ping";
}

const struct proto *proto_default(void)
{
	return &proto_table[0];
}
