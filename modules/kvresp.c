/* modules/kvresp.c — the kv handler's Redis face: the commands (strings,
 * expiry, and what redis-cli and redis-benchmark ask at start) and the RESP2
 * and RESP3 replies they write.  The store is modules/kvstore.c; the module
 * itself, and its HTTP face, modules/kv.c.  See doc/internals/resp-kv.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kv.h"
#include "kvstore.h"
#include "modhost.h"

/* The host table, the same for every instance (kvresp_init). */
static const mh_host_api *host;

void kvresp_init(const mh_host_api *api)
{
	host = api;
}

static int64_t kvresp_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- writing RESP ------------------------------------------------------------ */

/* A reply under construction: small pieces gather in buf and go to the
 * reply body in one step; large values go straight to the body. */
struct kvresp_out {
	mh_buf *body;
	int proto; /* 2 or 3 */
	int failed;
	size_t n;
	char buf[4096];
};

static void kvresp_flush(struct kvresp_out *o)
{
	if (o->n && host->buf_add(o->body, o->buf, o->n) < 0)
		o->failed = 1;
	o->n = 0;
}

/* Forget what was written so far (a reply that turned into an error). */
static void kvresp_reset(struct kvresp_out *o)
{
	o->n = 0;
	host->buf_drain(o->body, host->buf_length(o->body));
}

static void kvresp_raw(struct kvresp_out *o, const void *data, size_t len)
{
	if (o->n + len > sizeof(o->buf)) {
		kvresp_flush(o);
		if (len > sizeof(o->buf)) {
			if (host->buf_add(o->body, data, len) < 0)
				o->failed = 1;
			return;
		}
	}
	memcpy(o->buf + o->n, data, len);
	o->n += len;
}

static void kvresp_str(struct kvresp_out *o, const char *s)
{
	kvresp_raw(o, s, strlen(s));
}

/* "<prefix><v>\r\n" for a signed integer. */
static void kvresp_line_int(struct kvresp_out *o, char prefix, int64_t v)
{
	char tmp[32];
	size_t i = sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	tmp[--i] = '\n';
	tmp[--i] = '\r';
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	tmp[--i] = prefix;
	kvresp_raw(o, tmp + i, sizeof(tmp) - i);
}

static void kvresp_int(struct kvresp_out *o, int64_t v)
{
	kvresp_line_int(o, ':', v);
}

static void kvresp_bulk(struct kvresp_out *o, const void *data, size_t len)
{
	kvresp_line_int(o, '$', (int64_t)len);
	kvresp_raw(o, data, len);
	kvresp_raw(o, "\r\n", 2);
}

static void kvresp_cbulk(struct kvresp_out *o, const char *s)
{
	kvresp_bulk(o, s, strlen(s));
}

static void kvresp_null(struct kvresp_out *o)
{
	kvresp_str(o, o->proto == 3 ? "_\r\n" : "$-1\r\n");
}

static void kvresp_array(struct kvresp_out *o, int64_t n)
{
	kvresp_line_int(o, '*', n);
}

/* A map of n pairs: "%n" in RESP3, a flat array of 2n in RESP2. */
static void kvresp_map(struct kvresp_out *o, int64_t n)
{
	if (o->proto == 3)
		kvresp_line_int(o, '%', n);
	else
		kvresp_line_int(o, '*', 2 * n);
}

/* "-<text>\r\n"; text must be one line (callers sanitise what they quote). */
static void kvresp_error(struct kvresp_out *o, const char *text)
{
	kvresp_raw(o, "-", 1);
	kvresp_str(o, text);
	kvresp_raw(o, "\r\n", 2);
}

static const char kvresp_err_int[] = "ERR value is not an integer or out of range";
static const char kvresp_err_syntax[] = "ERR syntax error";
static const char kvresp_err_oom[] = "OOM command not allowed when used memory > 'maxmemory'.";

/* ---- the command table --------------------------------------------------------- */

/* One command being run: the request, its arguments and the reply. */
struct kvresp_cmd {
	struct kv_instance *inst;
	struct kvstore *s;
	mh_msg *req, *reply;
	const char *name; /* upper case */
	size_t name_len;
	size_t argc; /* arguments after the command */
	struct kvresp_out *o;
	int close; /* QUIT: close after the reply */
};

static const char *kvresp_arg(const struct kvresp_cmd *c, size_t i, size_t *len)
{
	return host->msg_arg(c->req, i, len);
}

/* Whether argument i is word (case-insensitive). */
static int kvresp_arg_is(const struct kvresp_cmd *c, size_t i, const char *word)
{
	size_t len;
	const char *a = kvresp_arg(c, i, &len);
	return a && len == strlen(word) && strncasecmp(a, word, len) == 0;
}

/* Parse len bytes as a Redis integer (optional '-', digits, no spaces, no
 * leading zeros), as INCR reads a stored value and commands read counts. */
static int kvresp_value_ll(const uint8_t *v, size_t len, int64_t *out)
{
	char tmp[24], *end;
	if (len == 0 || len > 20)
		return -1;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	if (tmp[0] == '+' || tmp[0] == ' ' || (tmp[0] == '0' && len > 1) ||
	    (tmp[0] == '-' && (len == 1 || tmp[1] == '0')))
		return -1;
	errno = 0;
	long long x = strtoll(tmp, &end, 10);
	if (errno || *end)
		return -1;
	*out = x;
	return 0;
}

/* Parse argument i as a Redis integer. */
static int kvresp_arg_ll(const struct kvresp_cmd *c, size_t i, int64_t *v)
{
	size_t len;
	const char *a = kvresp_arg(c, i, &len);
	return a ? kvresp_value_ll((const uint8_t *)a, len, v) : -1;
}

/* Write one line of at most max bytes of data, quoted for an error text:
 * control characters and quotes become '?'. */
static void kvresp_quoted(struct kvresp_out *o, const char *data, size_t len, size_t max)
{
	char tmp[160];
	size_t n = len < max ? len : max;
	if (n > sizeof(tmp))
		n = sizeof(tmp);
	for (size_t i = 0; i < n; i++)
		tmp[i] = (unsigned char)data[i] < 0x20 || data[i] == 0x7f || data[i] == '\''
		             ? '?'
		             : data[i];
	kvresp_raw(o, tmp, n);
}

static void kvresp_lower_name(const struct kvresp_cmd *c, char *dst, size_t cap)
{
	size_t n = c->name_len < cap - 1 ? c->name_len : cap - 1;
	for (size_t i = 0; i < n; i++) {
		char ch = c->name[i];
		dst[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
		if ((unsigned char)dst[i] < 0x20 || dst[i] == '\'')
			dst[i] = '?';
	}
	dst[n] = '\0';
}

static void kvresp_wrong_args(struct kvresp_cmd *c)
{
	char name[64], text[128];
	kvresp_lower_name(c, name, sizeof(name));
	snprintf(text, sizeof(text), "ERR wrong number of arguments for '%s' command", name);
	kvresp_error(c->o, text);
}

static void kvresp_unknown_command(struct kvresp_cmd *c)
{
	struct kvresp_out *o = c->o;
	kvresp_str(o, "-ERR unknown command '");
	kvresp_quoted(o, c->name ? c->name : "", c->name_len, 128);
	kvresp_str(o, "', with args beginning with: ");
	size_t room = 128;
	for (size_t i = 0; i < c->argc && room > 0; i++) {
		size_t len;
		const char *a = kvresp_arg(c, i, &len);
		kvresp_raw(o, "'", 1);
		kvresp_quoted(o, a, len, room);
		kvresp_raw(o, "' ", 2);
		room = len >= room ? 0 : room - len;
	}
	kvresp_raw(o, "\r\n", 2);
}

/* ---- string commands -------------------------------------------------------------- */

static void kvresp_cmd_get(struct kvresp_cmd *c)
{
	int64_t now = 0;
	size_t klen, vlen;
	const char *key = kvresp_arg(c, 0, &klen);
	kv_lock(c->inst);
	kvstore_item *it = kvstore_find(c->s, key, klen, &now, 1);
	if (it) {
		const uint8_t *v = kvstore_value(it, &vlen);
		kvresp_bulk(c->o, v, vlen);
	} else {
		kvresp_null(c->o);
	}
	kvstore_unlock(c->s);
}

/* Store value under key with an absolute expiry (0: none); keep_ttl keeps
 * the old item's.  Under the lock.  Returns 0 or -1 (OOM). */
static int kvresp_store(struct kvresp_cmd *c, const char *key, size_t klen, const void *val,
                        size_t vlen, int64_t expire_at, int keep_ttl, int64_t *now)
{
	struct kvstore *s = c->s;
	kvstore_expire_some(s, now);
	kvstore_item *it = kvstore_alloc(s, key, klen, vlen, now);
	if (!it)
		return -1;
	memcpy(kvstore_value_w(it), val, vlen);
	if (keep_ttl) {
		/* Found after the allocation, which may have evicted it. */
		kvstore_item *old = kvstore_find(s, key, klen, now, 0);
		expire_at = old ? kvstore_expire(old) : 0;
	}
	kvstore_link(s, it, expire_at);
	return 0;
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
static void kvresp_cmd_set(struct kvresp_cmd *c)
{
	int nx = 0, xx = 0, get = 0, keep = 0, have_exp = 0;
	int64_t expire_at = 0, now = 0;
	for (size_t i = 2; i < c->argc; i++) {
		int64_t v;
		int unit = 0; /* 1: seconds from now, 2: ms from now, 3: unix s, 4: unix ms */
		if (kvresp_arg_is(c, i, "NX") && !xx)
			nx = 1;
		else if (kvresp_arg_is(c, i, "XX") && !nx)
			xx = 1;
		else if (kvresp_arg_is(c, i, "GET"))
			get = 1;
		else if (kvresp_arg_is(c, i, "KEEPTTL") && !have_exp)
			keep = 1;
		else if (kvresp_arg_is(c, i, "EX"))
			unit = 1;
		else if (kvresp_arg_is(c, i, "PX"))
			unit = 2;
		else if (kvresp_arg_is(c, i, "EXAT"))
			unit = 3;
		else if (kvresp_arg_is(c, i, "PXAT"))
			unit = 4;
		else {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
		if (!unit)
			continue;
		if (have_exp || keep || i + 1 >= c->argc) {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
		have_exp = 1;
		if (kvresp_arg_ll(c, ++i, &v) < 0) {
			kvresp_error(c->o, kvresp_err_int);
			return;
		}
		if (v <= 0 || ((unit == 1 || unit == 3) && v > INT64_MAX / 1000)) {
			kvresp_error(c->o, "ERR invalid expire time in 'set' command");
			return;
		}
		int64_t ms = unit == 1 || unit == 3 ? v * 1000 : v;
		if (unit >= 3) /* absolute: convert from the wall clock */
			ms -= kvresp_unix_ms();
		int64_t base = kvstore_now(&now);
		expire_at = ms > INT64_MAX - base ? INT64_MAX : base + (ms > 0 ? ms : 0);
		if (expire_at == 0)
			expire_at = 1;
	}
	size_t klen, vlen;
	const char *key = kvresp_arg(c, 0, &klen);
	const char *val = kvresp_arg(c, 1, &vlen);
	kv_lock(c->inst);
	kvstore_item *old = kvstore_find(c->s, key, klen, &now, 0);
	if (get) {
		if (old) {
			size_t olen;
			const uint8_t *ov = kvstore_value(old, &olen);
			kvresp_bulk(c->o, ov, olen);
		} else {
			kvresp_null(c->o);
		}
	}
	if ((nx && old) || (xx && !old)) {
		if (!get)
			kvresp_null(c->o);
	} else if (kvresp_store(c, key, klen, val, vlen, expire_at, keep, &now) < 0) {
		kvresp_reset(c->o); /* the OOM error replaces a GET's old value */
		kvresp_error(c->o, kvresp_err_oom);
	} else if (!get) {
		kvresp_str(c->o, "+OK\r\n");
	}
	kvstore_unlock(c->s);
}

/* DEL and EXISTS: count over every key argument. */
static void kvresp_cmd_del(struct kvresp_cmd *c)
{
	int del = c->name_len == 3;
	int64_t n = 0, now = 0;
	kv_lock(c->inst);
	for (size_t i = 0; i < c->argc; i++) {
		size_t klen;
		const char *key = kvresp_arg(c, i, &klen);
		if (del)
			n += kvstore_delete(c->s, key, klen, &now);
		else
			n += kvstore_find(c->s, key, klen, &now, 0) != NULL;
	}
	kvstore_unlock(c->s);
	kvresp_int(c->o, n);
}

/* INCR, DECR, INCRBY, DECRBY: the new value keeps the key's expiry. */
static void kvresp_cmd_incr(struct kvresp_cmd *c)
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
			kvstore_unlock(c->s);
			kvresp_error(c->o, kvresp_err_int);
			return;
		}
		expire_at = kvstore_expire(old);
	}
	if ((by > 0 && cur > INT64_MAX - by) || (by < 0 && cur < INT64_MIN - by)) {
		kvstore_unlock(c->s);
		kvresp_error(c->o, "ERR increment or decrement would overflow");
		return;
	}
	cur += by;
	char text[24];
	int n = snprintf(text, sizeof(text), "%lld", (long long)cur);
	if (kvresp_store(c, key, klen, text, (size_t)n, expire_at, 0, &now) < 0)
		kvresp_error(c->o, kvresp_err_oom);
	else
		kvresp_int(c->o, cur);
	kvstore_unlock(c->s);
}

static void kvresp_cmd_mget(struct kvresp_cmd *c)
{
	int64_t now = 0;
	kvresp_array(c->o, (int64_t)c->argc);
	kv_lock(c->inst);
	for (size_t i = 0; i < c->argc; i++) {
		size_t klen, vlen;
		const char *key = kvresp_arg(c, i, &klen);
		kvstore_item *it = kvstore_find(c->s, key, klen, &now, 1);
		if (it) {
			const uint8_t *v = kvstore_value(it, &vlen);
			kvresp_bulk(c->o, v, vlen);
		} else {
			kvresp_null(c->o);
		}
	}
	kvstore_unlock(c->s);
}

/* MSET is all or nothing: every item is allocated before any is linked. */
static void kvresp_cmd_mset(struct kvresp_cmd *c)
{
	if (c->argc % 2) {
		kvresp_wrong_args(c);
		return;
	}
	size_t pairs = c->argc / 2;
	kvstore_item **items = host->msg_alloc(c->req, pairs * sizeof(*items));
	if (!items) {
		kvresp_error(c->o, "ERR out of memory");
		return;
	}
	int64_t now = 0;
	size_t made = 0;
	kv_lock(c->inst);
	kvstore_expire_some(c->s, &now);
	for (; made < pairs; made++) {
		size_t klen, vlen;
		const char *key = kvresp_arg(c, 2 * made, &klen);
		const char *val = kvresp_arg(c, 2 * made + 1, &vlen);
		if (!(items[made] = kvstore_alloc(c->s, key, klen, vlen, &now)))
			break;
		memcpy(kvstore_value_w(items[made]), val, vlen);
	}
	if (made < pairs) {
		for (size_t i = 0; i < made; i++)
			kvstore_discard(c->s, items[i]);
		kvresp_error(c->o, kvresp_err_oom);
	} else {
		for (size_t i = 0; i < pairs; i++)
			kvstore_link(c->s, items[i], 0);
		kvresp_str(c->o, "+OK\r\n");
	}
	kvstore_unlock(c->s);
}

/* EXPIRE/PEXPIRE key time [NX|XX|GT|LT] */
static void kvresp_cmd_expire(struct kvresp_cmd *c)
{
	int64_t v, now = 0;
	int nx = 0, xx = 0, gt = 0, lt = 0;
	int ms = c->name[0] == 'P';
	if (kvresp_arg_ll(c, 1, &v) < 0) {
		kvresp_error(c->o, kvresp_err_int);
		return;
	}
	for (size_t i = 2; i < c->argc; i++) {
		if (kvresp_arg_is(c, i, "NX"))
			nx = 1;
		else if (kvresp_arg_is(c, i, "XX"))
			xx = 1;
		else if (kvresp_arg_is(c, i, "GT"))
			gt = 1;
		else if (kvresp_arg_is(c, i, "LT"))
			lt = 1;
		else {
			kvresp_error(c->o, "ERR Unsupported option");
			return;
		}
	}
	if (nx && xx + gt + lt > 0) {
		kvresp_error(c->o,
		             "ERR NX and XX, GT or LT options at the same time are not compatible");
		return;
	}
	if (gt && lt) {
		kvresp_error(c->o, "ERR GT and LT options at the same time are not compatible");
		return;
	}
	if (!ms && (v > INT64_MAX / 1000 || v < INT64_MIN / 1000)) {
		kvresp_error(c->o, "ERR invalid expire time in 'expire' command");
		return;
	}
	int64_t delta = ms ? v : v * 1000;
	int64_t base = kvstore_now(&now);
	int64_t at = delta > INT64_MAX - base ? INT64_MAX : base + delta;
	size_t klen;
	const char *key = kvresp_arg(c, 0, &klen);
	kv_lock(c->inst);
	kvstore_item *it = kvstore_find(c->s, key, klen, &now, 0);
	int64_t cur = it ? kvstore_expire(it) : 0;
	int ok = it != NULL;
	/* No expiry counts as an infinite one for GT and LT. */
	if (ok && ((nx && cur) || (xx && !cur) || (gt && (!cur || at <= cur)) ||
	           (lt && cur && at >= cur)))
		ok = 0;
	if (ok) {
		if (at <= base)
			kvstore_delete(c->s, key, klen, &now);
		else
			kvstore_set_expire(c->s, it, at);
	}
	kvstore_unlock(c->s);
	kvresp_int(c->o, ok);
}

/* TTL and PTTL: -2 no key, -1 no expiry, else the time left. */
static void kvresp_cmd_ttl(struct kvresp_cmd *c)
{
	size_t klen;
	const char *key = kvresp_arg(c, 0, &klen);
	int64_t now = 0, r;
	kv_lock(c->inst);
	kvstore_item *it = kvstore_find(c->s, key, klen, &now, 0);
	int64_t at = it ? kvstore_expire(it) : 0;
	kvstore_unlock(c->s);
	if (!it)
		r = -2;
	else if (!at)
		r = -1;
	else if (c->name[0] == 'P')
		r = at - kvstore_now(&now);
	else
		r = (at - kvstore_now(&now) + 500) / 1000;
	kvresp_int(c->o, r);
}

static void kvresp_cmd_persist(struct kvresp_cmd *c)
{
	int64_t now = 0;
	size_t klen;
	const char *key = kvresp_arg(c, 0, &klen);
	kv_lock(c->inst);
	kvstore_item *it = kvstore_find(c->s, key, klen, &now, 0);
	int had = it && kvstore_expire(it);
	if (had)
		kvstore_set_expire(c->s, it, 0);
	kvstore_unlock(c->s);
	kvresp_int(c->o, had);
}

static void kvresp_cmd_type(struct kvresp_cmd *c)
{
	int64_t now = 0;
	size_t klen;
	const char *key = kvresp_arg(c, 0, &klen);
	kv_lock(c->inst);
	kvstore_item *it = kvstore_find(c->s, key, klen, &now, 0);
	kvstore_unlock(c->s);
	kvresp_str(c->o, it ? "+string\r\n" : "+none\r\n");
}

static void kvresp_cmd_dbsize(struct kvresp_cmd *c)
{
	struct kvstore_stats st;
	kv_lock(c->inst);
	kvstore_get_stats(c->s, &st);
	kvstore_unlock(c->s);
	kvresp_int(c->o, (int64_t)st.keys);
}

/* FLUSHALL / FLUSHDB [ASYNC|SYNC]: both empty the store at once. */
static void kvresp_cmd_flush(struct kvresp_cmd *c)
{
	if (c->argc > 1 ||
	    (c->argc == 1 && !kvresp_arg_is(c, 0, "ASYNC") && !kvresp_arg_is(c, 0, "SYNC"))) {
		kvresp_error(c->o, kvresp_err_syntax);
		return;
	}
	kv_lock(c->inst);
	kvstore_flush(c->s);
	kvstore_unlock(c->s);
	kvresp_str(c->o, "+OK\r\n");
}

/* ---- connection and server commands ------------------------------------------------ */

static void kvresp_cmd_ping(struct kvresp_cmd *c)
{
	if (c->argc > 1) {
		kvresp_wrong_args(c);
		return;
	}
	if (c->argc == 0) {
		kvresp_str(c->o, "+PONG\r\n");
		return;
	}
	size_t len;
	const char *a = kvresp_arg(c, 0, &len);
	kvresp_bulk(c->o, a, len);
}

static void kvresp_cmd_echo(struct kvresp_cmd *c)
{
	size_t len;
	const char *a = kvresp_arg(c, 0, &len);
	kvresp_bulk(c->o, a, len);
}

static void kvresp_cmd_quit(struct kvresp_cmd *c)
{
	kvresp_str(c->o, "+OK\r\n");
	c->close = 1;
}

static void kvresp_cmd_select(struct kvresp_cmd *c)
{
	int64_t db;
	if (kvresp_arg_ll(c, 0, &db) < 0) {
		kvresp_error(c->o, kvresp_err_int);
		return;
	}
	if (db != 0) {
		kvresp_error(c->o, "ERR DB index is out of range");
		return;
	}
	kvresp_str(c->o, "+OK\r\n");
}

/* A placeholder until auth modules arrive: the default user has no
 * password, exactly as in a Redis without requirepass. */
static int kvresp_auth_check(struct kvresp_cmd *c, size_t user_i, size_t n)
{
	if (n == 1) {
		kvresp_error(c->o,
		             "ERR AUTH <password> called without any password configured for the "
		             "default user. Are you sure your configuration is correct?");
		return -1;
	}
	if (!kvresp_arg_is(c, user_i, "default")) {
		kvresp_error(c->o, "WRONGPASS invalid username-password pair or user is disabled.");
		return -1;
	}
	return 0;
}

static void kvresp_cmd_auth(struct kvresp_cmd *c)
{
	if (c->argc > 2) {
		kvresp_error(c->o, kvresp_err_syntax);
		return;
	}
	if (kvresp_auth_check(c, 0, c->argc) == 0)
		kvresp_str(c->o, "+OK\r\n");
}

/* The version the request arrived in (the codec's MH_FIELD_VERSION). */
static int kvresp_request_proto(mh_msg *req)
{
	size_t len;
	const char *v = host->msg_field(req, MH_FIELD_VERSION, &len);
	return v && len == 1 && v[0] == '3' ? 3 : 2;
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: the server's map, in
 * the new version.  The reply's MH_FIELD_VERSION tells the codec which
 * version the connection speaks afterwards (the old one after an error). */
static void kvresp_cmd_hello(struct kvresp_cmd *c)
{
	int old = kvresp_request_proto(c->req), proto = old;
	char v = (char)('0' + old);
	host->msg_set_field(c->reply, MH_FIELD_VERSION, &v, 1);
	if (c->argc > 0) {
		int64_t want;
		if (kvresp_arg_ll(c, 0, &want) < 0) {
			kvresp_error(c->o,
			             "ERR Protocol version is not an integer or out of range");
			return;
		}
		if (want != 2 && want != 3) {
			kvresp_error(c->o, "NOPROTO unsupported protocol version");
			return;
		}
		proto = (int)want;
	}
	for (size_t i = 1; i < c->argc; i++) {
		if (kvresp_arg_is(c, i, "AUTH") && i + 2 < c->argc) {
			if (kvresp_auth_check(c, i + 1, 2) < 0)
				return;
			i += 2;
		} else if (kvresp_arg_is(c, i, "SETNAME") && i + 1 < c->argc) {
			i++;
		} else {
			char text[128];
			size_t len;
			const char *a = kvresp_arg(c, i, &len);
			snprintf(text, sizeof(text), "ERR Syntax error in HELLO option '%.*s'",
			         (int)(len < 64 ? len : 64), a);
			for (char *p = text; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = '?';
			kvresp_error(c->o, text);
			return;
		}
	}
	v = (char)('0' + proto);
	host->msg_set_field(c->reply, MH_FIELD_VERSION, &v, 1);
	struct kvresp_out *o = c->o;
	o->proto = proto;
	kvresp_map(o, 7);
	kvresp_cbulk(o, "server");
	kvresp_cbulk(o, "redis");
	kvresp_cbulk(o, "version");
	kvresp_cbulk(o, "7.0.0");
	kvresp_cbulk(o, "proto");
	kvresp_int(o, proto);
	kvresp_cbulk(o, "id");
	kvresp_int(o, (int64_t)(host->conn_id(host->msg_conn(c->req)) & INT64_MAX));
	kvresp_cbulk(o, "mode");
	kvresp_cbulk(o, "standalone");
	kvresp_cbulk(o, "role");
	kvresp_cbulk(o, "master");
	kvresp_cbulk(o, "modules");
	kvresp_array(o, 0);
}

static void kvresp_cmd_client(struct kvresp_cmd *c)
{
	if (kvresp_arg_is(c, 0, "SETNAME")) {
		if (c->argc != 2) {
			kvresp_wrong_args(c);
			return;
		}
		size_t len;
		const char *name = kvresp_arg(c, 1, &len);
		for (size_t i = 0; i < len; i++)
			if (name[i] <= ' ' || name[i] > '~') {
				kvresp_error(c->o,
				             "ERR Client names cannot contain spaces, newlines "
				             "or special characters.");
				return;
			}
		kvresp_str(c->o, "+OK\r\n");
	} else if (kvresp_arg_is(c, 0, "SETINFO")) {
		kvresp_str(c->o, "+OK\r\n");
	} else if (kvresp_arg_is(c, 0, "GETNAME")) {
		kvresp_null(c->o);
	} else if (kvresp_arg_is(c, 0, "ID")) {
		kvresp_int(c->o, (int64_t)(host->conn_id(host->msg_conn(c->req)) & INT64_MAX));
	} else {
		size_t len;
		const char *sub = kvresp_arg(c, 0, &len);
		kvresp_str(c->o, "-ERR unknown subcommand '");
		kvresp_quoted(c->o, sub, len, 64);
		kvresp_str(c->o, "'. Try CLIENT HELP.\r\n");
	}
}

/* The parameters CONFIG GET shows, for clients that ask at start
 * (redis-benchmark asks for save and appendonly). */
static void kvresp_cmd_config(struct kvresp_cmd *c)
{
	if (!kvresp_arg_is(c, 0, "GET")) {
		if (kvresp_arg_is(c, 0, "RESETSTAT")) {
			kvresp_str(c->o, "+OK\r\n");
			return;
		}
		kvresp_error(c->o, "ERR CONFIG SET and other subcommands are not supported by kv");
		return;
	}
	if (c->argc < 2) {
		kvresp_wrong_args(c);
		return;
	}
	struct kvstore_stats st;
	kv_lock(c->inst);
	kvstore_get_stats(c->s, &st);
	kvstore_unlock(c->s);
	char maxmem[24];
	snprintf(maxmem, sizeof(maxmem), "%llu", (unsigned long long)st.max_memory);
	const char *params[][2] = {
	    {"appendonly", "no"},
	    {"databases", "1"},
	    {"maxmemory", maxmem},
	    {"maxmemory-policy", st.policy == KVSTORE_LRU ? "allkeys-lru" : "noeviction"},
	    {"save", ""},
	};
	const size_t n_params = sizeof(params) / sizeof(params[0]);
	int match[sizeof(params) / sizeof(params[0])] = {0};
	int64_t found = 0;
	for (size_t i = 1; i < c->argc; i++) {
		size_t len;
		const char *a = kvresp_arg(c, i, &len);
		char pattern[128];
		if (len >= sizeof(pattern))
			continue;
		memcpy(pattern, a, len);
		pattern[len] = '\0';
		for (size_t p = 0; p < n_params; p++) {
			if (!match[p] && fnmatch(pattern, params[p][0], FNM_CASEFOLD) == 0) {
				match[p] = 1;
				found++;
			}
		}
	}
	kvresp_map(c->o, found);
	for (size_t p = 0; p < n_params; p++) {
		if (match[p]) {
			kvresp_cbulk(c->o, params[p][0]);
			kvresp_cbulk(c->o, params[p][1]);
		}
	}
}

static void kvresp_cmd_info(struct kvresp_cmd *c)
{
	int all = c->argc == 0 || kvresp_arg_is(c, 0, "all") || kvresp_arg_is(c, 0, "default") ||
	          kvresp_arg_is(c, 0, "everything");
	int server = all, memory = all, stats = all, keyspace = all;
	for (size_t i = 0; i < c->argc; i++) {
		server |= kvresp_arg_is(c, i, "server");
		memory |= kvresp_arg_is(c, i, "memory");
		stats |= kvresp_arg_is(c, i, "stats");
		keyspace |= kvresp_arg_is(c, i, "keyspace");
	}
	struct kvstore_stats st;
	kv_lock(c->inst);
	kvstore_get_stats(c->s, &st);
	kvstore_unlock(c->s);
	char text[2048];
	size_t n = 0;
	int64_t up = (int64_t)time(NULL) - st.created_unix;
	if (server)
		n += (size_t)snprintf(
		    text + n, sizeof(text) - n,
		    "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\n"
		    "modhost_kv_version:1.0\r\nos:Linux\r\narch_bits:%d\r\n"
		    "process_id:%d\r\nmodhost_worker:%d\r\nuptime_in_seconds:%lld\r\n"
		    "uptime_in_days:%lld\r\n\r\n",
		    (int)(sizeof(void *) * 8), (int)getpid(), host->worker_id(), (long long)up,
		    (long long)(up / 86400));
	if (memory && n < sizeof(text))
		n +=
		    (size_t)snprintf(text + n, sizeof(text) - n,
		                     "# Memory\r\nused_memory:%llu\r\nmaxmemory:%llu\r\n"
		                     "maxmemory_policy:%s\r\nkv_hash_buckets:%llu\r\n\r\n",
		                     (unsigned long long)st.used, (unsigned long long)st.max_memory,
		                     st.policy == KVSTORE_LRU ? "allkeys-lru" : "noeviction",
		                     (unsigned long long)st.buckets);
	if (stats && n < sizeof(text))
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "# Stats\r\nkeyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n"
		                      "expired_keys:%llu\r\nevicted_keys:%llu\r\n"
		                      "rejected_writes_oom:%llu\r\n\r\n",
		                      (unsigned long long)st.hits, (unsigned long long)st.misses,
		                      (unsigned long long)st.expired,
		                      (unsigned long long)st.evicted, (unsigned long long)st.oom);
	if (keyspace && n < sizeof(text)) {
		n += (size_t)snprintf(text + n, sizeof(text) - n, "# Keyspace\r\n");
		if (st.keys && n < sizeof(text))
			n += (size_t)snprintf(
			    text + n, sizeof(text) - n, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n",
			    (unsigned long long)st.keys, (unsigned long long)st.expires);
	}
	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	/* Drop the blank line after the last section, as Redis does. */
	while (n >= 2 && text[n - 2] == '\r' && text[n - 1] == '\n' && n >= 4 &&
	       text[n - 4] == '\r' && text[n - 3] == '\n')
		n -= 2;
	if (c->o->proto == 3) {
		/* A verbatim string of format "txt". */
		kvresp_line_int(c->o, '=', (int64_t)n + 4);
		kvresp_raw(c->o, "txt:", 4);
		kvresp_raw(c->o, text, n);
		kvresp_raw(c->o, "\r\n", 2);
	} else {
		kvresp_bulk(c->o, text, n);
	}
}

static void kvresp_cmd_command(struct kvresp_cmd *c);

/* Each command: its name, arity (Redis style: N = exactly N words with the
 * command, -N = at least N) and function. */
struct kvresp_command {
	const char *name;
	size_t len;
	int arity;
	void (*run)(struct kvresp_cmd *c);
};

static const struct kvresp_command kvresp_commands[] = {
    {"GET", 3, 2, kvresp_cmd_get},         {"SET", 3, -3, kvresp_cmd_set},
    {"PING", 4, -1, kvresp_cmd_ping},      {"DEL", 3, -2, kvresp_cmd_del},
    {"EXISTS", 6, -2, kvresp_cmd_del},     {"INCR", 4, 2, kvresp_cmd_incr},
    {"DECR", 4, 2, kvresp_cmd_incr},       {"INCRBY", 6, 3, kvresp_cmd_incr},
    {"DECRBY", 6, 3, kvresp_cmd_incr},     {"MGET", 4, -2, kvresp_cmd_mget},
    {"MSET", 4, -3, kvresp_cmd_mset},      {"EXPIRE", 6, -3, kvresp_cmd_expire},
    {"PEXPIRE", 7, -3, kvresp_cmd_expire}, {"TTL", 3, 2, kvresp_cmd_ttl},
    {"PTTL", 4, 2, kvresp_cmd_ttl},        {"PERSIST", 7, 2, kvresp_cmd_persist},
    {"TYPE", 4, 2, kvresp_cmd_type},       {"ECHO", 4, 2, kvresp_cmd_echo},
    {"DBSIZE", 6, 1, kvresp_cmd_dbsize},   {"FLUSHALL", 8, -1, kvresp_cmd_flush},
    {"FLUSHDB", 7, -1, kvresp_cmd_flush},  {"COMMAND", 7, -1, kvresp_cmd_command},
    {"INFO", 4, -1, kvresp_cmd_info},      {"HELLO", 5, -1, kvresp_cmd_hello},
    {"AUTH", 4, -2, kvresp_cmd_auth},      {"QUIT", 4, -1, kvresp_cmd_quit},
    {"SELECT", 6, 2, kvresp_cmd_select},   {"CLIENT", 6, -2, kvresp_cmd_client},
    {"CONFIG", 6, -2, kvresp_cmd_config},
};
#define KVRESP_N_COMMANDS (sizeof(kvresp_commands) / sizeof(kvresp_commands[0]))

/* COMMAND: enough for clients that ask at start.  No arguments: an empty
 * array; DOCS: an empty map (redis-cli then uses its built-in help);
 * COUNT; LIST; INFO: null for each name. */
static void kvresp_cmd_command(struct kvresp_cmd *c)
{
	if (c->argc == 0) {
		kvresp_array(c->o, 0);
		return;
	}
	if (kvresp_arg_is(c, 0, "DOCS")) {
		kvresp_map(c->o, 0);
		return;
	}
	if (kvresp_arg_is(c, 0, "COUNT")) {
		kvresp_int(c->o, (int64_t)KVRESP_N_COMMANDS);
		return;
	}
	if (kvresp_arg_is(c, 0, "LIST")) {
		kvresp_array(c->o, (int64_t)KVRESP_N_COMMANDS);
		for (size_t i = 0; i < KVRESP_N_COMMANDS; i++) {
			char lower[16];
			size_t n = kvresp_commands[i].len;
			for (size_t j = 0; j < n; j++)
				lower[j] = (char)(kvresp_commands[i].name[j] - 'A' + 'a');
			kvresp_bulk(c->o, lower, n);
		}
		return;
	}
	if (kvresp_arg_is(c, 0, "INFO")) {
		kvresp_array(c->o, (int64_t)c->argc - 1);
		for (size_t i = 1; i < c->argc; i++)
			kvresp_null(c->o);
		return;
	}
	size_t len;
	const char *sub = kvresp_arg(c, 0, &len);
	kvresp_str(c->o, "-ERR unknown subcommand '");
	kvresp_quoted(c->o, sub, len, 64);
	kvresp_str(c->o, "'. Try COMMAND HELP.\r\n");
}

static const struct kvresp_command *kvresp_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < KVRESP_N_COMMANDS; i++) {
		const struct kvresp_command *k = &kvresp_commands[i];
		if (k->len == len && k->name[0] == name[0] && memcmp(k->name, name, len) == 0)
			return &kvresp_commands[i];
	}
	return NULL;
}

/* A RESP request (see kv.h). */
int kvresp_handle(struct kv_instance *inst, mh_msg *req, mh_msg *reply)
{
	struct kvresp_out o;
	o.body = host->msg_body(reply);
	o.proto = kvresp_request_proto(req);
	o.failed = 0;
	o.n = 0;
	if (!o.body) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	struct kvresp_cmd c = {
	    .inst = inst,
	    .s = inst->store,
	    .req = req,
	    .reply = reply,
	    .o = &o,
	};
	c.name = host->msg_field(req, MH_FIELD_COMMAND, &c.name_len);
	c.argc = host->msg_argc(req);
	const struct kvresp_command *cmd =
	    c.name && c.name_len ? kvresp_lookup(c.name, c.name_len) : NULL;
	if (!cmd)
		kvresp_unknown_command(&c);
	else if ((cmd->arity > 0 && c.argc + 1 != (size_t)cmd->arity) ||
	         (cmd->arity < 0 && c.argc + 1 < (size_t)-cmd->arity))
		kvresp_wrong_args(&c);
	else
		cmd->run(&c);
	kvresp_flush(&o);
	if (o.failed) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	host->msg_set_form(reply, MH_REPLY_RAW);
	return c.close ? MH_HANDLE_CLOSE : MH_HANDLE_DONE;
}
