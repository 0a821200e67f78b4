/* host/buf.h — the byte buffer behind the ABI's opaque mh_buf: one
 * contiguous block with a read offset, grown by doubling.  Codecs look at a
 * whole frame in place (no chain walking), a reply body moved into an empty
 * buffer changes hands without a copy, and a connection's output goes out
 * with one write.  See doc/internals/host.md, "Buffers". */
#ifndef MH_BUF_H
#define MH_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "modhost-t.h"

struct mh_buf {
	unsigned char *data; /* NULL until the first byte is added */
	size_t off;          /* readable bytes start at data + off */
	size_t len;          /* readable bytes */
	size_t cap;          /* bytes allocated at data */
};

/* An empty buffer (no storage yet), or NULL when out of memory. */
struct mh_buf *buf_new(void);
void buf_free(struct mh_buf *b);

static inline size_t buf_length(const struct mh_buf *b)
{
	return b->len;
}

/* What buf_data gives for a buffer that has no storage yet. */
extern unsigned char buf_nothing[1];

/* The readable bytes (buf_length of them); valid until the buffer changes. */
static inline unsigned char *buf_data(const struct mh_buf *b)
{
	return b->data ? b->data + b->off : buf_nothing;
}

int buf_add_grow(struct mh_buf *b, const void *data, size_t len);

/* Append len bytes.  Returns 0, or -1 when out of memory.  data must not
 * point into b itself (growing may move it).  Inline for the common case,
 * a small frame that fits. */
static inline int buf_add(struct mh_buf *b, const void *data, size_t len)
{
	if (b->data && len <= b->cap - b->off - b->len) {
		memcpy(b->data + b->off + b->len, data, len);
		b->len += len;
		return 0;
	}
	return buf_add_grow(b, data, len);
}
/* Append formatted text.  Returns the bytes added, or -1. */
int buf_printf(struct mh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct mh_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Copy up to len bytes from the front without removing them; returns how many. */
size_t buf_peek(const struct mh_buf *b, void *data, size_t len);
/* Remove up to len bytes from the front. */
void buf_drain(struct mh_buf *b, size_t len);
/* Move len bytes from the front of src to the end of dst.  Returns 0, or -1
 * if src holds fewer or memory ran out (then nothing moved). */
int buf_move(struct mh_buf *dst, struct mh_buf *src, size_t len);
/* Offset of the first needle at or after from, or -1. */
int64_t buf_find(const struct mh_buf *b, const void *needle, size_t nlen, size_t from);
/* Room for at least len more bytes at the end: returns where to write them
 * (then buf_commit what was written), or NULL when out of memory. */
unsigned char *buf_reserve(struct mh_buf *b, size_t len);
void buf_commit(struct mh_buf *b, size_t len);
/* The free room at the end of the block as it is (no allocation): where it
 * starts, and its size in *len (0 when there is no block). */
static inline unsigned char *buf_room(const struct mh_buf *b, size_t *len)
{
	*len = b->data ? b->cap - b->off - b->len : 0;
	return buf_data(b) + b->len;
}
/* Empty the buffer; storage above keep bytes is given back to malloc. */
void buf_reset(struct mh_buf *b, size_t keep);

#endif
