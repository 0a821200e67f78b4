/* bench/proto.h — the wire protocols mh-bench speaks: a table of
 * encode-request / parse-reply / expected-reply functions, and the
 * growable byte buffer the encoders append to. */
#ifndef MH_BENCH_PROTO_H
#define MH_BENCH_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Bytes data[off..len) are live; cap is the allocation. */
struct bytes {
	uint8_t *data;
	size_t off, len, cap;
};

/* Make room for n more bytes after len.  Returns 0, or -1 out of memory. */
static inline int bytes_reserve(struct bytes *b, size_t n)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n <= b->cap)
		return 0;
	if (b->off > 0) { /* slide the live bytes to the front first */
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + n <= b->cap)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

static inline int bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (bytes_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static inline size_t bytes_live(const struct bytes *b)
{
	return b->len - b->off;
}

/* Drop the live bytes and give the memory back: idle connections should
 * cost the generator little. */
static inline void bytes_release(struct bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

/* What the reply to a request must carry: the literal text (a RESP
 * status such as "OK"), or, when text is NULL, the payload of request
 * payload_seq of the same connection. */
struct proto_want {
	const char *text;
	uint64_t payload_seq;
};

/* One wire protocol.
 *   encode  appends request seq of connection conn, carrying payload[0..len)
 *           (what it carries depends on the protocol), to out: 0, or -1
 *           out of memory.
 *   parse   looks at the front of in[0..n): the length of one whole reply
 *           with *body pointing at what it carries (NULL for a RESP nil),
 *           0 when more bytes are needed, -1 when the bytes cannot be a
 *           reply.
 *   want    says what the reply to request seq must carry.
 * text: payloads must not contain CR or LF. */
struct proto {
	const char *name;
	const char *help;
	bool text;
	int (*encode)(struct bytes *out, unsigned conn, uint64_t seq, const uint8_t *payload,
	              size_t len);
	ssize_t (*parse)(const uint8_t *in, size_t n, const uint8_t **body, size_t *body_len);
	void (*want)(uint64_t seq, struct proto_want *w);
};

/* The protocol called name, or NULL. */
const struct proto *proto_find(const char *name);
/* "lenprefix, line, resp, ..." for messages. */
const char *proto_names(void);
/* The first protocol: the default. */
const struct proto *proto_default(void);

#endif
