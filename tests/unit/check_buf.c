/* tests/unit/check_buf.c — the contiguous byte buffer (host/buf.c): adding,
 * peeking and draining, growth and a sliding window keeping every byte in
 * order, moves (partial, the no-copy hand-over, refused, appending),
 * formatted text, searching, reserve/commit and reset.  Bytes come from a
 * non-repeating pattern so a byte out of place is caught. */
#include "build-config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "buf.h"

/* Byte i of an endless stream with no short period (a 32-bit mix of i),
 * so a shift of any length shows up as a mismatch. */
static unsigned char pat(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u + 0x9e3779b9u;
	x ^= x >> 15;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	return (unsigned char)(x >> 24);
}

/* Append bytes start .. start+n-1 of the pattern. */
static void add_pat(struct mh_buf *b, size_t start, size_t n)
{
	unsigned char *tmp = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(tmp);
	for (size_t k = 0; k < n; k++)
		tmp[k] = pat(start + k);
	ck_assert_int_eq(buf_add(b, tmp, n), 0);
	free(tmp);
}

/* n bytes at p must be pattern bytes start .. start+n-1. */
static void expect_pat_at(const unsigned char *p, size_t start, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (p[k] != pat(start + k))
			ck_abort_msg("byte %zu is 0x%02x, want 0x%02x (pattern byte %zu)",
			             k, p[k], pat(start + k), start + k);
}

/* The buffer holds exactly pattern bytes start .. start+n-1. */
static void expect_pat(const struct mh_buf *b, size_t start, size_t n)
{
	ck_assert_uint_eq(buf_length(b), n);
	if (n)
		expect_pat_at(buf_data(b), start, n);
}

/* The buffer holds exactly the n bytes at want. */
static void expect_bytes(const struct mh_buf *b, const void *want, size_t n)
{
	ck_assert_uint_eq(buf_length(b), n);
	ck_assert_msg(memcmp(buf_data(b), want, n) == 0, "buffer content differs");
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;
	while (p < n)
		p *= 2;
	return p;
}

/* ---- add, peek, drain ---------------------------------------------------- */

START_TEST(test_add_peek_drain_length_data)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(buf_length(b), 0);
	ck_assert_ptr_null(b->data);
	ck_assert_uint_eq(b->cap, 0);

	add_pat(b, 0, 10);
	expect_pat(b, 0, 10);
	add_pat(b, 10, 7);
	expect_pat(b, 0, 17);

	unsigned char out[64];
	memset(out, 0xee, sizeof out);
	ck_assert_uint_eq(buf_peek(b, out, 4), 4);
	expect_pat_at(out, 0, 4);
	ck_assert_uint_eq(out[4], 0xee); /* no more than asked */
	expect_pat(b, 0, 17);            /* peek removes nothing */
	ck_assert_uint_eq(buf_peek(b, out, sizeof out), 17);
	expect_pat_at(out, 0, 17);
	ck_assert_uint_eq(out[17], 0xee);

	buf_drain(b, 0);
	expect_pat(b, 0, 17);
	buf_drain(b, 3);
	expect_pat(b, 3, 14);
	ck_assert_uint_eq(buf_peek(b, out, 5), 5);
	expect_pat_at(out, 3, 5);
	add_pat(b, 17, 9);
	expect_pat(b, 3, 23);
	buf_drain(b, 22);
	expect_pat(b, 25, 1);
	buf_free(b);
}
END_TEST

START_TEST(test_drain_more_than_held_empties)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	add_pat(b, 0, 20);
	buf_drain(b, 5);
	buf_drain(b, 16); /* one more than the 15 left */
	ck_assert_uint_eq(buf_length(b), 0);
	unsigned char out[8];
	ck_assert_uint_eq(buf_peek(b, out, sizeof out), 0);
	add_pat(b, 100, 30); /* still usable, the old bytes gone */
	expect_pat(b, 100, 30);
	buf_drain(b, SIZE_MAX);
	ck_assert_uint_eq(buf_length(b), 0);
	add_pat(b, 200, 3);
	expect_pat(b, 200, 3);
	buf_free(b);
}
END_TEST

START_TEST(test_add_zero_bytes)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	const char x = 'x';
	ck_assert_int_eq(buf_add(b, &x, 0), 0);
	ck_assert_uint_eq(buf_length(b), 0);
	unsigned char out[4];
	ck_assert_uint_eq(buf_peek(b, out, sizeof out), 0);
	add_pat(b, 0, 5);
	ck_assert_int_eq(buf_add(b, &x, 0), 0);
	expect_pat(b, 0, 5);
	buf_free(b);
}
END_TEST

/* ---- growth -------------------------------------------------------------- */

START_TEST(test_growth_keeps_every_byte_in_order)
{
	static const size_t piece[] = {1, 3, 7, 13, 127, 255, 256, 257, 1021, 4093, 9001, 65537};
	const size_t total = (size_t)1 << 20;
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	size_t added = 0, grew = 0, last_cap = 0;
	for (size_t i = 0; added < total; i++) {
		size_t n = piece[i % (sizeof piece / sizeof piece[0])];
		if (n > total - added)
			n = total - added;
		add_pat(b, added, n);
		added += n;
		ck_assert_uint_eq(buf_length(b), added);
		ck_assert_uint_ge(b->cap, b->off + b->len);
		if (b->cap != last_cap)
			grew++;
		last_cap = b->cap;
	}
	expect_pat(b, 0, total);
	ck_assert_uint_ge(grew, 10); /* many doublings happened on the way */
	/* Grown by doubling: never more than twice what it holds. */
	ck_assert_uint_le(b->cap, 2 * total);
	buf_free(b);
}
END_TEST

/* A connection's input: bytes arrive in odd pieces and a reader consumes
 * them, never letting more than WINDOW bytes sit in the buffer.  A lazy
 * reader drains only what the next piece needs, so the buffer stays more
 * than half full; an eager one drains uneven, often large, amounts.  Like
 * a codec left with half a frame, neither empties the buffer before the
 * end, so the read offset is never simply reset by a full drain.
 * Every byte must come out in order, and the block must not keep growing:
 * a doubling buffer that slides or compacts before growing needs at most the
 * next power of two above what it holds, so 4x that is a generous bound,
 * which a buffer that grows instead of reusing drained room passes within
 * a few dozen rounds. */
static void run_window(int lazy)
{
	enum { WINDOW = 3000 };
	static const size_t in_piece[] = {1, 17, 300, 5, 999, 64, 211, 1500, 2, 733};
	static const size_t out_piece[] = {7, 1200, 3, 450, 1, 2999, 90, 640};
	const size_t total = (size_t)4 << 20; /* many times the window */
	const size_t bound = 4 * pow2_at_least(WINDOW);
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	size_t produced = 0, consumed = 0, max_cap = 0;
	for (size_t i = 0, j = 0; consumed < total; i++) {
		size_t n = in_piece[i % (sizeof in_piece / sizeof in_piece[0])];
		if (n > total - produced)
			n = total - produced;
		/* The reader makes room before more is read. */
		while (buf_length(b) + n > WINDOW || (n == 0 && buf_length(b) > 0)) {
			size_t m = lazy && n ? buf_length(b) + n - WINDOW
			                     : out_piece[j++ % (sizeof out_piece / sizeof out_piece[0])];
			size_t most = n ? buf_length(b) - 1 : buf_length(b);
			if (m > most)
				m = most;
			expect_pat_at(buf_data(b), consumed, m);
			buf_drain(b, m);
			consumed += m;
		}
		if (n) {
			add_pat(b, produced, n);
			produced += n;
		}
		ck_assert_uint_le(buf_length(b), WINDOW);
		ck_assert_uint_eq(buf_length(b), produced - consumed);
		if (b->cap > max_cap)
			max_cap = b->cap;
		ck_assert_msg(b->cap <= bound, "cap %zu above %zu after %zu bytes",
		              b->cap, bound, produced);
	}
	ck_assert_uint_eq(produced, total);
	ck_assert_uint_eq(buf_length(b), 0);
	ck_assert_uint_ge(max_cap, WINDOW); /* the window did fit at some point */
	buf_free(b);
}

START_TEST(test_sliding_window_lazy_reader)
{
	run_window(1);
}
END_TEST

START_TEST(test_sliding_window_eager_reader)
{
	run_window(0);
}
END_TEST

/* More than half full with drained room at the front and too little at the
 * end: the bytes must end up together, in order, in a block no bigger than
 * the next power of two above what it holds. */
START_TEST(test_add_to_half_full_buffer_after_drain)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	add_pat(b, 0, 500);
	size_t cap = b->cap;
	buf_drain(b, 100);
	ck_assert_uint_gt(b->len, cap / 2); /* the state this test is about */
	size_t n = cap - b->off - b->len + 1; /* one byte more than the end has */
	ck_assert_uint_le(b->len + n, cap);  /* ... but the block has */
	add_pat(b, 500, n);
	expect_pat(b, 100, 400 + n);
	ck_assert_uint_le(b->cap, 2 * pow2_at_least(b->len));
	buf_free(b);
}
END_TEST

/* ---- moves --------------------------------------------------------------- */

START_TEST(test_move_partial_copies_and_drains_src)
{
	struct mh_buf *src = buf_new(), *dst = buf_new();
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	add_pat(src, 0, 100);
	ck_assert_int_eq(buf_move(dst, src, 40), 0);
	expect_pat(dst, 0, 40);
	expect_pat(src, 40, 60);
	ck_assert_ptr_ne(dst->data, src->data);
	ck_assert_int_eq(buf_move(dst, src, 10), 0); /* into a non-empty dst */
	expect_pat(dst, 0, 50);
	expect_pat(src, 50, 50);
	ck_assert_int_eq(buf_move(dst, src, 0), 0);
	expect_pat(dst, 0, 50);
	expect_pat(src, 50, 50);
	buf_free(src);
	buf_free(dst);
}
END_TEST

START_TEST(test_move_all_into_empty_dst_hands_block_over)
{
	struct mh_buf *src = buf_new(), *dst = buf_new();
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	add_pat(src, 0, 1000);
	buf_drain(src, 10); /* the hand-over must carry the read offset too */
	unsigned char *old = src->data;
	ck_assert_int_eq(buf_move(dst, src, 990), 0);
	ck_assert_ptr_eq(dst->data, old);
	expect_pat(dst, 10, 990);
	ck_assert_uint_eq(buf_length(src), 0);
	ck_assert_ptr_ne(src->data, old);
	/* src is still usable and shares nothing with dst. */
	add_pat(src, 5000, 3000);
	expect_pat(src, 5000, 3000);
	expect_pat(dst, 10, 990);
	buf_free(src);
	buf_free(dst);
}
END_TEST

/* dst emptied but still holding a smaller block: src's block still changes
 * hands, and dst's old block is neither leaked nor shared (ASan checks the
 * first, the pointer comparison the second). */
START_TEST(test_move_all_into_drained_dst_swaps_storage)
{
	struct mh_buf *src = buf_new(), *dst = buf_new();
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	add_pat(dst, 0, 50);
	buf_drain(dst, 50);
	ck_assert_ptr_nonnull(dst->data);
	add_pat(src, 100, 4000);
	ck_assert_uint_gt(src->cap, dst->cap);
	unsigned char *old = src->data;
	ck_assert_int_eq(buf_move(dst, src, 4000), 0);
	ck_assert_ptr_eq(dst->data, old);
	expect_pat(dst, 100, 4000);
	ck_assert_uint_eq(buf_length(src), 0);
	add_pat(src, 9000, 77);
	expect_pat(src, 9000, 77);
	expect_pat(dst, 100, 4000);
	ck_assert_ptr_ne(src->data, dst->data);
	buf_free(src);
	buf_free(dst);
}
END_TEST

/* A small payload in a large block (a connection's input after a read)
 * moved into an empty dst whose block fits it is copied: src keeps its
 * large block for the next read instead of trading it for a small one. */
START_TEST(test_move_small_payload_keeps_src_block)
{
	struct mh_buf *src = buf_new(), *dst = buf_new();
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	add_pat(dst, 0, 200);
	buf_drain(dst, 200);
	add_pat(src, 300, 3000);
	buf_drain(src, 2936); /* 64 bytes left, as after decoding a burst */
	unsigned char *src_block = src->data, *dst_block = dst->data;
	ck_assert_uint_gt(src->cap, dst->cap);
	ck_assert_int_eq(buf_move(dst, src, 64), 0);
	ck_assert_ptr_eq(src->data, src_block);
	ck_assert_ptr_eq(dst->data, dst_block);
	expect_pat(dst, 3236, 64);
	ck_assert_uint_eq(buf_length(src), 0);
	buf_free(src);
	buf_free(dst);
}
END_TEST

START_TEST(test_move_more_than_src_holds_changes_nothing)
{
	struct mh_buf *src = buf_new(), *dst = buf_new();
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	add_pat(src, 0, 30);
	add_pat(dst, 500, 5);
	ck_assert_int_eq(buf_move(dst, src, 31), -1);
	expect_pat(src, 0, 30);
	expect_pat(dst, 500, 5);
	ck_assert_int_eq(buf_move(dst, src, SIZE_MAX), -1);
	expect_pat(src, 0, 30);
	expect_pat(dst, 500, 5);

	struct mh_buf *empty = buf_new(), *dst2 = buf_new();
	ck_assert_ptr_nonnull(empty);
	ck_assert_ptr_nonnull(dst2);
	ck_assert_int_eq(buf_move(dst2, empty, 1), -1);
	ck_assert_uint_eq(buf_length(dst2), 0);
	ck_assert_uint_eq(buf_length(empty), 0);
	buf_free(empty);
	buf_free(dst2);
	buf_free(src);
	buf_free(dst);
}
END_TEST

START_TEST(test_move_all_into_non_empty_dst_appends)
{
	struct mh_buf *src = buf_new(), *dst = buf_new();
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	add_pat(dst, 0, 300);
	add_pat(src, 300, 5000); /* bigger block than dst's: still no hand-over */
	ck_assert_int_eq(buf_move(dst, src, 5000), 0);
	expect_pat(dst, 0, 5300);
	ck_assert_uint_eq(buf_length(src), 0);
	add_pat(src, 7, 11);
	expect_pat(src, 7, 11);
	expect_pat(dst, 0, 5300);
	buf_free(src);
	buf_free(dst);
}
END_TEST

/* ---- printf -------------------------------------------------------------- */

START_TEST(test_printf_short_text)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(buf_printf(b, "%d-%s:%c", 42, "abc", 'z'), 8);
	expect_bytes(b, "42-abc:z", 8);
	ck_assert_int_eq(buf_printf(b, "|%05u|", 7u), 7);
	expect_bytes(b, "42-abc:z|00007|", 15);
	ck_assert_int_eq(buf_printf(b, "%s", ""), 0);
	expect_bytes(b, "42-abc:z|00007|", 15);
	buf_free(b);
}
END_TEST

/* A fresh buffer has no block; printing nothing must still work. */
START_TEST(test_printf_empty_into_fresh_buffer)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(buf_printf(b, "%s", ""), 0);
	ck_assert_uint_eq(buf_length(b), 0);
	ck_assert_int_eq(buf_printf(b, "%s", "ok"), 2);
	expect_bytes(b, "ok", 2);
	buf_free(b);
}
END_TEST

/* A string of n letters from the pattern, malloc'ed. */
static char *pat_text(size_t start, size_t n)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	for (size_t k = 0; k < n; k++)
		s[k] = (char)('a' + pat(start + k) % 26);
	s[n] = '\0';
	return s;
}

START_TEST(test_printf_longer_than_room_regrows)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	add_pat(b, 0, 10);
	size_t room = b->cap - b->off - b->len;
	ck_assert_uint_lt(room, 5000); /* the text below cannot fit as it is */
	char *s = pat_text(1, 5000);
	ck_assert_int_eq(buf_printf(b, "[%s]", s), 5002);
	ck_assert_uint_eq(buf_length(b), 5012);
	expect_pat_at(buf_data(b), 0, 10);
	ck_assert_int_eq(buf_data(b)[10], '[');
	ck_assert(memcmp(buf_data(b) + 11, s, 5000) == 0);
	ck_assert_int_eq(buf_data(b)[5011], ']');
	free(s);
	buf_free(b);
}
END_TEST

/* Text exactly as long as the room left needs room for vsnprintf's NUL
 * too, so it regrows; one byte shorter fits in place.  Neither NUL counts. */
START_TEST(test_printf_at_the_edge_of_the_room)
{
	for (int extra = 0; extra <= 1; extra++) {
		struct mh_buf *b = buf_new();
		ck_assert_ptr_nonnull(b);
		add_pat(b, 0, 1);
		size_t room = b->cap - b->off - b->len;
		ck_assert_uint_gt(room, 2);
		size_t n = room - 1 + (size_t)extra; /* room-1 fits, room does not */
		char *s = pat_text(50, n);
		ck_assert_int_eq(buf_printf(b, "%s", s), (int)n);
		ck_assert_uint_eq(buf_length(b), 1 + n);
		expect_pat_at(buf_data(b), 0, 1);
		ck_assert(memcmp(buf_data(b) + 1, s, n) == 0);
		add_pat(b, 3, 2); /* the next bytes follow the text, no NUL between */
		ck_assert_uint_eq(buf_length(b), 3 + n);
		expect_pat_at(buf_data(b) + 1 + n, 3, 2);
		free(s);
		buf_free(b);
	}
}
END_TEST

START_TEST(test_printf_after_drain)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	add_pat(b, 0, 200);
	buf_drain(b, 150);
	ck_assert_uint_gt(b->off, 0);
	ck_assert_int_eq(buf_printf(b, "<%d>", -12345), 8);
	ck_assert_uint_eq(buf_length(b), 58);
	expect_pat_at(buf_data(b), 150, 50);
	ck_assert(memcmp(buf_data(b) + 50, "<-12345>", 8) == 0);

	/* And a long one while off > 0: the readable bytes move with the block. */
	buf_drain(b, 20);
	ck_assert_uint_gt(b->off, 0);
	char *s = pat_text(9, 5000);
	ck_assert_int_eq(buf_printf(b, "%s", s), 5000);
	ck_assert_uint_eq(buf_length(b), 38 + 5000);
	expect_pat_at(buf_data(b), 170, 30);
	ck_assert(memcmp(buf_data(b) + 30, "<-12345>", 8) == 0);
	ck_assert(memcmp(buf_data(b) + 38, s, 5000) == 0);
	free(s);
	buf_free(b);
}
END_TEST

/* ---- find ---------------------------------------------------------------- */

START_TEST(test_find)
{
	static const char text[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nbody\r\n";
	const size_t tlen = sizeof text - 1;
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(buf_add(b, text, tlen), 0);

	ck_assert_int_eq(buf_find(b, "GET", 3, 0), 0);              /* at start */
	ck_assert_int_eq(buf_find(b, "\r\n", 2, 0), 15);            /* middle */
	ck_assert_int_eq(buf_find(b, "\r\n\r\n", 4, 0), 24);
	ck_assert_int_eq(buf_find(b, "\r\n", 2, 15), 15);           /* from a match */
	ck_assert_int_eq(buf_find(b, "\r\n", 2, 16), 24);           /* from an offset */
	ck_assert_int_eq(buf_find(b, "\r\n", 2, 27), 32);           /* the last one */
	ck_assert_int_eq(buf_find(b, "body\r\n", 6, 0), 28);        /* ends the data */
	ck_assert_int_eq(buf_find(b, "GET", 3, 1), -1);             /* before from */
	ck_assert_int_eq(buf_find(b, "zzz", 3, 0), -1);             /* not present */
	ck_assert_int_eq(buf_find(b, "body\r\n!", 7, 0), -1);       /* runs past the end */
	ck_assert_int_eq(buf_find(b, "\r\n", 2, 33), -1);           /* one byte left */

	char longer[64];
	memset(longer, 'G', sizeof longer);
	memcpy(longer, text, tlen);
	ck_assert_int_eq(buf_find(b, longer, tlen + 1, 0), -1);    /* longer than data */
	ck_assert_int_eq(buf_find(b, text, tlen, 0), 0);            /* exactly the data */

	ck_assert_int_eq(buf_find(b, "G", 1, tlen + 1), -1);        /* from > length */
	ck_assert_int_eq(buf_find(b, "", 0, tlen + 1), -1);
	ck_assert_int_eq(buf_find(b, "", 0, 0), 0);                 /* empty needle */
	ck_assert_int_eq(buf_find(b, "", 0, 7), 7);
	ck_assert_int_eq(buf_find(b, "", 0, tlen), (int64_t)tlen);

	/* Offsets count from the first readable byte, not the block. */
	buf_drain(b, 17);
	ck_assert_int_eq(buf_find(b, "Host", 4, 0), 0);
	ck_assert_int_eq(buf_find(b, "\r\n", 2, 0), 7);
	ck_assert_int_eq(buf_find(b, "GET", 3, 0), -1);             /* drained away */
	buf_free(b);
}
END_TEST

START_TEST(test_find_in_empty_buffer)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(buf_find(b, "a", 1, 0), -1);
	ck_assert_int_eq(buf_find(b, "", 0, 0), 0);
	ck_assert_int_eq(buf_find(b, "", 0, 1), -1);
	buf_free(b);
}
END_TEST

/* ---- reserve / commit ---------------------------------------------------- */

START_TEST(test_reserve_then_commit)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	unsigned char *p = buf_reserve(b, 100);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(b->cap - b->off - b->len, 100);
	ck_assert_uint_eq(buf_length(b), 0); /* reserving adds nothing */
	for (size_t k = 0; k < 60; k++)
		p[k] = pat(k);
	buf_commit(b, 60);
	expect_pat(b, 0, 60);

	p = buf_reserve(b, 5);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(p, buf_data(b) + 60); /* right after the readable bytes */
	buf_commit(b, 0);
	expect_pat(b, 0, 60);

	/* Larger than any room left: the block grows, old bytes kept. */
	p = buf_reserve(b, 10000);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(b->cap - b->off - b->len, 10000);
	for (size_t k = 0; k < 10000; k++)
		p[k] = pat(60 + k);
	buf_commit(b, 10000);
	expect_pat(b, 0, 10060);
	buf_free(b);
}
END_TEST

START_TEST(test_reserve_after_drain)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	add_pat(b, 0, 300);
	buf_drain(b, 250);
	ck_assert_uint_gt(b->off, 0);
	size_t cap = b->cap;

	/* Fits in the room already left at the end: written after the 50
	 * readable bytes, wherever they start. */
	unsigned char *p = buf_reserve(b, 4);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(p, buf_data(b) + 50);
	memcpy(p, "\x01\x02\x03\x04", 4);
	buf_commit(b, 2);
	ck_assert_uint_eq(buf_length(b), 52);
	expect_pat_at(buf_data(b), 250, 50);
	ck_assert_int_eq(buf_data(b)[50], 1);
	ck_assert_int_eq(buf_data(b)[51], 2);
	/* Back to 250 drained and 50 held, in a new block of the same size. */
	buf_reset(b, 0);
	add_pat(b, 0, 300);
	buf_drain(b, 250);
	ck_assert_uint_eq(b->cap, cap);

	/* Fits in the block once the 50 bytes slide to the front. */
	size_t want = cap - 50;
	p = buf_reserve(b, want);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(p, buf_data(b) + 50);
	ck_assert_uint_ge(b->cap - b->off - b->len, want);
	expect_pat(b, 250, 50);
	for (size_t k = 0; k < want; k++)
		p[k] = pat(300 + k);
	buf_commit(b, want);
	expect_pat(b, 250, 50 + want);

	/* Again with off > 0, now forcing growth. */
	buf_drain(b, 40);
	ck_assert_uint_gt(b->off, 0);
	size_t held = buf_length(b);
	p = buf_reserve(b, 3 * cap);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(p, buf_data(b) + held);
	ck_assert_uint_ge(b->cap - b->off - b->len, 3 * cap);
	for (size_t k = 0; k < 3 * cap; k++)
		p[k] = pat(300 + want + k);
	buf_commit(b, 3 * cap);
	expect_pat(b, 290, held + 3 * cap);
	buf_free(b);
}
END_TEST

/* ---- reset --------------------------------------------------------------- */

START_TEST(test_reset_frees_above_keep)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	add_pat(b, 0, 1000);
	ck_assert_uint_gt(b->cap, 100);
	buf_reset(b, 100);
	ck_assert_uint_eq(buf_length(b), 0);
	ck_assert_uint_eq(b->cap, 0);
	ck_assert_ptr_null(b->data);
	add_pat(b, 77, 500); /* usable again */
	expect_pat(b, 77, 500);

	/* One byte under the block's size is still above keep: freed. */
	size_t cap = b->cap;
	buf_reset(b, cap - 1);
	ck_assert_uint_eq(b->cap, 0);
	ck_assert_ptr_null(b->data);
	buf_free(b);
}
END_TEST

START_TEST(test_reset_keeps_storage_at_or_under_keep)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	add_pat(b, 0, 120);
	buf_drain(b, 20);
	size_t cap = b->cap;
	unsigned char *data = b->data;
	buf_reset(b, cap); /* exactly keep */
	ck_assert_uint_eq(buf_length(b), 0);
	ck_assert_uint_eq(b->cap, cap);
	ck_assert_ptr_eq(b->data, data);
	add_pat(b, 400, 30);
	expect_pat(b, 400, 30);
	ck_assert_ptr_eq(buf_data(b), data); /* refilled from the front */

	buf_reset(b, 10 * cap); /* well under keep */
	ck_assert_uint_eq(buf_length(b), 0);
	ck_assert_uint_eq(b->cap, cap);
	ck_assert_ptr_eq(b->data, data);
	add_pat(b, 600, cap); /* the whole block, with no growth */
	expect_pat(b, 600, cap);
	ck_assert_uint_eq(b->cap, cap);
	buf_free(b);
}
END_TEST

static Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("basics");
	tcase_add_test(tc, test_add_peek_drain_length_data);
	tcase_add_test(tc, test_drain_more_than_held_empties);
	tcase_add_test(tc, test_add_zero_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("growth");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_growth_keeps_every_byte_in_order);
	tcase_add_test(tc, test_sliding_window_lazy_reader);
	tcase_add_test(tc, test_sliding_window_eager_reader);
	tcase_add_test(tc, test_add_to_half_full_buffer_after_drain);
	suite_add_tcase(s, tc);

	tc = tcase_create("move");
	tcase_add_test(tc, test_move_partial_copies_and_drains_src);
	tcase_add_test(tc, test_move_all_into_empty_dst_hands_block_over);
	tcase_add_test(tc, test_move_all_into_drained_dst_swaps_storage);
	tcase_add_test(tc, test_move_small_payload_keeps_src_block);
	tcase_add_test(tc, test_move_more_than_src_holds_changes_nothing);
	tcase_add_test(tc, test_move_all_into_non_empty_dst_appends);
	suite_add_tcase(s, tc);

	tc = tcase_create("printf");
	tcase_add_test(tc, test_printf_short_text);
	tcase_add_test(tc, test_printf_empty_into_fresh_buffer);
	tcase_add_test(tc, test_printf_longer_than_room_regrows);
	tcase_add_test(tc, test_printf_at_the_edge_of_the_room);
	tcase_add_test(tc, test_printf_after_drain);
	suite_add_tcase(s, tc);

	tc = tcase_create("find");
	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_find_in_empty_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("reserve-reset");
	tcase_add_test(tc, test_reserve_then_commit);
	tcase_add_test(tc, test_reserve_after_drain);
	tcase_add_test(tc, test_reset_frees_above_keep);
	tcase_add_test(tc, test_reset_keeps_storage_at_or_under_keep);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(buf_suite());
}
