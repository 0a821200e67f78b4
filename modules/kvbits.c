/* modules/kvbits.c — kv's bit commands on string values: GETBIT, SETBIT
 * and BITCOUNT (byte or bit ranges).  Bit 0 is the most significant bit
 * of the first byte, as in Redis; SETBIT changes a byte inside the value
 * where it is, and past the end grows the value with zero bytes
 * (kvdb_splice).  See doc/internals/resp-kv.md. */
#include <stdint.h>
#include <string.h>

#include "kv.h"
#include "kvdb.h"
#include "kvresp.h"
#include "kvstore.h"

/* Bit offsets stop where values do: 2^32 bits are 512 MiB. */
#define KVBITS_MAX_OFFSET ((int64_t)1 << 32)

static const char kvbits_err_offset[] = "ERR bit offset is not an integer or out of range";

/* Argument i as a bit offset; 0, or -1 after the error reply. */
static int kvbits_offset(struct kvresp_cmd *c, size_t i, int64_t *offset)
{
	if (kvresp_arg_ll(c, i, offset) < 0 || *offset < 0 || *offset >= KVBITS_MAX_OFFSET) {
		kvresp_error(c->o, kvbits_err_offset);
		return -1;
	}
	return 0;
}

static int kvbits_get(const uint8_t *v, size_t vlen, int64_t offset)
{
	size_t byte = (size_t)(offset >> 3);
	return byte < vlen ? (v[byte] >> (7 - (offset & 7))) & 1 : 0;
}

/* GETBIT key offset: 0 past the end or for a missing key. */
void kvbits_cmd_getbit(struct kvresp_cmd *c)
{
	int64_t offset, now = 0;
	if (kvbits_offset(c, 1, &offset) < 0)
		return;
	size_t vlen = 0;
	kvstore_item *it = kvdb_find_first(c, &now, 1);
	const uint8_t *v = it ? kvstore_value(it, &vlen) : NULL;
	kvresp_int(c->o, v ? kvbits_get(v, vlen, offset) : 0);
	kv_unlock(c->inst);
}

/* SETBIT key offset 0|1: the bit's old value. */
void kvbits_cmd_setbit(struct kvresp_cmd *c)
{
	int64_t offset, bit, now = 0;
	if (kvbits_offset(c, 1, &offset) < 0)
		return;
	if (kvresp_arg_ll(c, 2, &bit) < 0 || (bit != 0 && bit != 1)) {
		kvresp_error(c->o, "ERR bit is not an integer or out of range");
		return;
	}
	size_t vlen = 0;
	kvstore_item *old = kvdb_find_first(c, &now, 1);
	if (old)
		kvstore_value(old, &vlen);
	size_t byte = (size_t)(offset >> 3);
	uint8_t mask = (uint8_t)(0x80 >> (offset & 7));
	if (byte < vlen) {
		/* Inside the value: one byte changes where it is. */
		uint8_t *v = kvstore_value_w(old);
		int was = (v[byte] & mask) != 0;
		v[byte] = (uint8_t)(bit ? v[byte] | mask : v[byte] & ~mask);
		kvstore_modified(c->s, old);
		kvresp_int(c->o, was);
	} else {
		/* Past the end: the value grows with zero bytes. */
		char last = (char)(bit ? mask : 0);
		if (kvdb_splice(c, old, byte, &last, 1, &now) >= 0)
			kvresp_int(c->o, 0);
	}
	kv_unlock(c->inst);
}

/* Set bits of v from bit first to bit last, both included. */
static int64_t kvbits_count(const uint8_t *v, int64_t first, int64_t last)
{
	int64_t fb = first >> 3, lb = last >> 3, n = 0;
	uint8_t head = (uint8_t)(0xff >> (first & 7)), tail = (uint8_t)(0xff << (7 - (last & 7)));
	if (fb == lb)
		return __builtin_popcount(v[fb] & head & tail);
	n += __builtin_popcount(v[fb] & head) + __builtin_popcount(v[lb] & tail);
	int64_t i = fb + 1;
	for (; i + 8 <= lb; i += 8) {
		uint64_t w;
		memcpy(&w, v + i, sizeof(w));
		n += __builtin_popcountll(w);
	}
	for (; i < lb; i++)
		n += __builtin_popcount(v[i]);
	return n;
}

/* BITCOUNT key [start end [BYTE|BIT]]: set bits in the whole value, or in
 * a range of bytes (default) or bits, negative positions from the end. */
void kvbits_cmd_bitcount(struct kvresp_cmd *c)
{
	int64_t start = 0, end = -1, now = 0;
	int bits = 0;
	if (c->argc == 2 || c->argc > 4) {
		kvresp_error(c->o, kvresp_err_syntax);
		return;
	}
	if (c->argc >= 3 && (kvresp_arg_ll(c, 1, &start) < 0 || kvresp_arg_ll(c, 2, &end) < 0)) {
		kvresp_error(c->o, kvresp_err_int);
		return;
	}
	if (c->argc == 4) {
		bits = kvresp_arg_is(c, 3, "BIT");
		if (!bits && !kvresp_arg_is(c, 3, "BYTE")) {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
	}
	size_t vlen = 0;
	kvstore_item *it = kvdb_find_first(c, &now, 1);
	const uint8_t *v = it ? kvstore_value(it, &vlen) : NULL;
	int64_t n = 0;
	if (v && kvdb_range(&start, &end, (int64_t)vlen * (bits ? 8 : 1)))
		n = bits ? kvbits_count(v, start, end) : kvbits_count(v, start * 8, end * 8 + 7);
	kvresp_int(c->o, n);
	kv_unlock(c->inst);
}
