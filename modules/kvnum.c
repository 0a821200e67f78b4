/* modules/kvnum.c — kv's counters on string values: INCR, DECR, INCRBY,
 * DECRBY (64-bit integers, overflow refused) and INCRBYFLOAT (long double,
 * written as Redis writes it).  Each keeps the key's expiry.  See
 * doc/internals/resp-kv.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "kvdb.h"
#include "kvresp.h"
#include "kvstore.h"

/* Room for any long double written with %.17Lf (about 4,950 digits at
 * most), as Redis's MAX_LONG_DOUBLE_CHARS. */
#define KVNUM_FLOAT_CHARS 5120

/* INCR, DECR, INCRBY, DECRBY: the new value keeps the key's expiry. */
void kvnum_cmd_incr(struct kvresp_cmd *c)
{
	int64_t by = 1;
	int decr = c->name[0] == 'D';
	if (c->argc == 2 && kvresp_arg_ll(c, 1, &by) < 0) {
		kvresp_error(c->o, kvresp_err_int);
		return;
	}
	if (decr) {
		if (by == INT64_MIN) {
			kvresp_error(c->o, "ERR decrement would overflow");
			return;
		}
		by = -by;
	}
	size_t klen;
	const char *key = kvresp_arg(c, 0, &klen);
	int64_t now = 0, cur = 0, expire_at = 0;
	kv_lock(c->inst);
	kvstore_item *old = kvstore_find(c->s, key, klen, &now, 0);
	if (old) {
		size_t vlen;
		const uint8_t *v = kvstore_value(old, &vlen);
		if (kvresp_value_ll(v, vlen, &cur) < 0) {
			kv_unlock(c->inst);
			kvresp_error(c->o, kvresp_err_int);
			return;
		}
		expire_at = kvstore_expire(old);
	}
	if ((by > 0 && cur > INT64_MAX - by) || (by < 0 && cur < INT64_MIN - by)) {
		kv_unlock(c->inst);
		kvresp_error(c->o, "ERR increment or decrement would overflow");
		return;
	}
	cur += by;
	char text[24];
	int n = snprintf(text, sizeof(text), "%lld", (long long)cur);
	if (kvdb_store(c, key, klen, text, (size_t)n, expire_at, 0, &now) < 0)
		kvresp_error(c->o, kvdb_err_oom);
	else
		kvresp_int(c->o, cur);
	kv_unlock(c->inst);
}

/* A Redis float: the whole of len bytes, no leading space, not NaN (as
 * INCRBYFLOAT reads its argument and the stored value).  0 or -1. */
static int kvnum_value_ld(const char *v, size_t len, long double *out)
{
	char text[KVNUM_FLOAT_CHARS];
	if (len == 0 || len >= sizeof(text) || isspace((unsigned char)v[0]))
		return -1;
	memcpy(text, v, len);
	text[len] = '\0';
	char *end;
	errno = 0;
	long double d = strtold(text, &end);
	if (end != text + len || errno == ERANGE || isnan(d))
		return -1;
	*out = d;
	return 0;
}

/* INCRBYFLOAT key increment: the sum written as Redis writes it (17
 * decimals, trailing zeros and point dropped), the key's TTL kept. */
void kvnum_cmd_incrbyfloat(struct kvresp_cmd *c)
{
	static const char not_float[] = "ERR value is not a valid float";
	size_t klen, ilen;
	const char *key = kvresp_arg(c, 0, &klen);
	const char *inc = kvresp_arg(c, 1, &ilen);
	long double by, cur = 0;
	if (kvnum_value_ld(inc, ilen, &by) < 0) {
		kvresp_error(c->o, not_float);
		return;
	}
	int64_t now = 0, expire_at = 0;
	kv_lock(c->inst);
	kvstore_item *old = kvstore_find(c->s, key, klen, &now, 0);
	if (old) {
		size_t vlen;
		const uint8_t *v = kvstore_value(old, &vlen);
		if (kvnum_value_ld((const char *)v, vlen, &cur) < 0) {
			kv_unlock(c->inst);
			kvresp_error(c->o, not_float);
			return;
		}
		expire_at = kvstore_expire(old);
	}
	cur += by;
	if (isnan(cur) || isinf(cur)) {
		kv_unlock(c->inst);
		kvresp_error(c->o, "ERR increment would produce NaN or Infinity");
		return;
	}
	char text[KVNUM_FLOAT_CHARS];
	int n = snprintf(text, sizeof(text), "%.17Lf", cur);
	if (n <= 0 || (size_t)n >= sizeof(text)) {
		kv_unlock(c->inst);
		kvresp_error(c->o, "ERR increment would produce NaN or Infinity");
		return;
	}
	if (memchr(text, '.', (size_t)n)) {
		while (text[n - 1] == '0')
			n--;
		if (text[n - 1] == '.')
			n--;
	}
	if (n == 2 && memcmp(text, "-0", 2) == 0)
		text[0] = '0', n = 1; /* no negative zero */
	if (kvdb_store(c, key, klen, text, (size_t)n, expire_at, 0, &now) < 0)
		kvresp_error(c->o, kvdb_err_oom);
	else
		kvresp_bulk(c->o, text, (size_t)n);
	kv_unlock(c->inst);
}
