/* host/buf.c — contiguous byte buffers (see buf.h). */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* The first allocation: a few small frames or one header block. */
#define BUF_MIN_CAP 256

/* From this size on, moving a whole buffer into an empty one swaps blocks. */
#define BUF_SWAP_MIN 1024

unsigned char buf_nothing[1];

struct mh_buf *buf_new(void)
{
	return calloc(1, sizeof(struct mh_buf));
}

void buf_free(struct mh_buf *b)
{
	if (!b)
		return;
	free(b->data);
	free(b);
}

/* Make room for need more bytes after the readable ones: slide them to the
 * front when they fill at most half the block (the slide then buys at least
 * as much room as it copies), else at least double the block. */
static int buf_make_room(struct mh_buf *b, size_t need)
{
	if (b->len + need < b->len)
		return -1;
	size_t want = b->len + need;
	if (b->cap - b->off - b->len >= need)
		return 0;
	if (want <= b->cap && b->len <= b->cap / 2) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return 0;
	}
	if (b->cap > SIZE_MAX / 2)
		return -1;
	size_t cap = b->cap ? b->cap * 2 : BUF_MIN_CAP;
	while (cap < want) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	if (b->off == 0) {
		unsigned char *p = realloc(b->data, cap);
		if (!p)
			return -1;
		b->data = p;
	} else {
		unsigned char *p = malloc(cap);
		if (!p)
			return -1;
		memcpy(p, b->data + b->off, b->len);
		free(b->data);
		b->data = p;
		b->off = 0;
	}
	b->cap = cap;
	return 0;
}

unsigned char *buf_reserve(struct mh_buf *b, size_t len)
{
	if (buf_make_room(b, len ? len : 1) < 0)
		return NULL;
	return b->data + b->off + b->len;
}

void buf_commit(struct mh_buf *b, size_t len)
{
	b->len += len;
}

/* buf_add when the room at the end is short (or there is no block yet). */
int buf_add_grow(struct mh_buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_make_room(b, len) < 0)
		return -1;
	memcpy(b->data + b->off + b->len, data, len);
	b->len += len;
	return 0;
}

int buf_vprintf(struct mh_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	size_t room = b->cap - b->off - b->len;
	int n = vsnprintf(room ? (char *)b->data + b->off + b->len : NULL, room, fmt, ap);
	if (n >= 0 && (size_t)n >= room) {
		/* Too long for the room left: grow and format again. */
		if (buf_make_room(b, (size_t)n + 1) < 0)
			n = -1;
		else
			n = vsnprintf((char *)b->data + b->off + b->len, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	if (n < 0)
		return -1;
	b->len += (size_t)n;
	return n;
}

int buf_printf(struct mh_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return n;
}

size_t buf_peek(const struct mh_buf *b, void *data, size_t len)
{
	if (len > b->len)
		len = b->len;
	if (len)
		memcpy(data, b->data + b->off, len);
	return len;
}

void buf_drain(struct mh_buf *b, size_t len)
{
	if (len >= b->len) {
		b->off = b->len = 0;
		return;
	}
	b->off += len;
	b->len -= len;
}

int buf_move(struct mh_buf *dst, struct mh_buf *src, size_t len)
{
	if (len > src->len)
		return -1;
	if (len == 0 || dst == src)
		return 0;
	/* All of src into an empty dst: swap the blocks instead of copying,
	 * unless src would lose a larger block for a small payload (a
	 * connection's input handing its read block to a message body, then
	 * growing again for the next read). */
	if (len == src->len && dst->len == 0 &&
	    (len >= BUF_SWAP_MIN || dst->cap < len || src->cap <= dst->cap)) {
		struct mh_buf t = *dst;
		*dst = *src;
		src->data = t.data;
		src->cap = t.cap;
		src->off = src->len = 0;
		return 0;
	}
	if (buf_add(dst, src->data + src->off, len) < 0)
		return -1;
	buf_drain(src, len);
	return 0;
}

int64_t buf_find(const struct mh_buf *b, const void *needle, size_t nlen, size_t from)
{
	if (from > b->len || nlen > b->len - from)
		return -1;
	if (nlen == 0)
		return (int64_t)from;
	const unsigned char *hay = b->data + b->off;
	const unsigned char *at = memmem(hay + from, b->len - from, needle, nlen);
	return at ? (int64_t)(at - hay) : -1;
}

void buf_reset(struct mh_buf *b, size_t keep)
{
	b->off = b->len = 0;
	if (b->cap > keep) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}
