/* modules/kvkeys.c — the kv handler's commands on keys rather than values:
 * counting and removing them (DEL, UNLINK, EXISTS, TOUCH), their expiry
 * (EXPIRE and its forms, TTL and its forms, PERSIST), TYPE, renaming and
 * copying them (RENAME, RENAMENX, COPY), and finding them (KEYS, SCAN with
 * MATCH, COUNT and TYPE, with Redis's glob patterns; RANDOMKEY).  The string commands are modules/kvdb.c; the store, whose
 * kvstore_scan steps through the hash table, modules/kvstore.c.  See
 * doc/internals/resp-kv.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "kv.h"
#include "kvdb.h"
#include "kvresp.h"
#include "kvstore.h"
#include "modhost.h"

/* ---- counting and removing ------------------------------------------------------ */

/* DEL, UNLINK (the same here: freeing is immediate either way), EXISTS and
 * TOUCH (EXISTS that also marks the keys used): count over every key
 * argument, a key named twice counting twice. */
void kvkeys_cmd_count(struct kvresp_cmd *c)
{
	int del = c->name[0] == 'D' || c->name[0] == 'U';
	int touch = c->name[0] == 'T';
	int64_t n = 0, now = 0;
	kv_lock(c->inst);
	for (size_t i = 0; i < c->argc; i++) {
		size_t klen;
		const char *key = kvresp_arg(c, i, &klen);
		if (del)
			n += kvstore_delete(c->s, key, klen, &now);
		else
			n += kvstore_find(c->s, key, klen, &now, touch) != NULL;
	}
	kv_unlock(c->inst);
	kvresp_int(c->o, n);
}

/* ---- expiry ---------------------------------------------------------------------- */

/* EXPIRE/PEXPIRE key time, EXPIREAT/PEXPIREAT key unix-time, each with
 * [NX|XX|GT|LT].  A time already past deletes the key. */
void kvkeys_cmd_expire(struct kvresp_cmd *c)
{
	int64_t v, now = 0;
	int nx = 0, xx = 0, gt = 0, lt = 0;
	int ms = c->name[0] == 'P';
	int absolute = c->name[c->name_len - 1] == 'T';
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
		kvresp_error(c->o, absolute ? "ERR invalid expire time in 'expireat' command"
		                            : "ERR invalid expire time in 'expire' command");
		return;
	}
	int64_t delta = ms ? v : v * 1000;
	if (absolute) {
		int64_t wall = kvdb_unix_ms();
		delta = delta < INT64_MIN + wall ? INT64_MIN : delta - wall;
	}
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
	kv_unlock(c->inst);
	kvresp_int(c->o, ok);
}

/* TTL and PTTL (the time left), EXPIRETIME and PEXPIRETIME (the unix time
 * it ends): -2 for no key, -1 for no expiry. */
void kvkeys_cmd_ttl(struct kvresp_cmd *c)
{
	int64_t now = 0, r;
	int ms = c->name[0] == 'P';
	int absolute = c->name[c->name_len - 1] == 'E';
	kvstore_item *it = kvdb_find_first(c, &now, 0);
	int64_t at = it ? kvstore_expire(it) : 0;
	kv_unlock(c->inst);
	if (!it) {
		r = -2;
	} else if (!at) {
		r = -1;
	} else {
		r = at - kvstore_now(&now);
		if (absolute)
			r += kvdb_unix_ms();
		if (!ms)
			r = absolute ? r / 1000 : (r + 500) / 1000;
	}
	kvresp_int(c->o, r);
}

void kvkeys_cmd_persist(struct kvresp_cmd *c)
{
	int64_t now = 0;
	kvstore_item *it = kvdb_find_first(c, &now, 0);
	int had = it && kvstore_expire(it);
	if (had)
		kvstore_set_expire(c->s, it, 0);
	kv_unlock(c->inst);
	kvresp_int(c->o, had);
}

void kvkeys_cmd_type(struct kvresp_cmd *c)
{
	int64_t now = 0;
	kvstore_item *it = kvdb_find_first(c, &now, 0);
	kv_unlock(c->inst);
	kvresp_str(c->o, it ? "+string\r\n" : "+none\r\n");
}

/* RENAME and RENAMENX src dst, COPY src dst [REPLACE]: the value and its
 * expiry under the new name (RENAME then drops the old).  The value is
 * copied aside first: making room for the new item may evict the old. */
void kvkeys_cmd_rename(struct kvresp_cmd *c)
{
	int copy = c->name[0] == 'C', nx = c->name_len == 8, replace = !copy && !nx;
	for (size_t i = 2; i < c->argc; i++) {
		if (!copy || !kvresp_arg_is(c, i, "REPLACE")) {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
		replace = 1;
	}
	int64_t now = 0;
	size_t slen, dlen, vlen;
	const char *src = kvresp_arg(c, 0, &slen);
	const char *dst = kvresp_arg(c, 1, &dlen);
	kvstore_item *it = kvdb_find_first(c, &now, 0);
	if (!it) {
		kv_unlock(c->inst);
		if (copy)
			kvresp_int(c->o, 0);
		else
			kvresp_error(c->o, "ERR no such key");
		return;
	}
	if (slen == dlen && memcmp(src, dst, slen) == 0) {
		kv_unlock(c->inst);
		if (copy)
			kvresp_error(c->o, "ERR source and destination objects are the same");
		else if (nx)
			kvresp_int(c->o, 0);
		else
			kvresp_str(c->o, "+OK\r\n");
		return;
	}
	if (!replace && kvstore_find(c->s, dst, dlen, &now, 0)) {
		kv_unlock(c->inst);
		kvresp_int(c->o, 0);
		return;
	}
	const uint8_t *v = kvstore_value(it, &vlen);
	int64_t expire_at = kvstore_expire(it);
	uint8_t *aside = kvdb_scratch(c, vlen);
	if (!aside) {
		kv_unlock(c->inst);
		kvresp_error(c->o, "ERR out of memory");
		return;
	}
	memcpy(aside, v, vlen);
	kvstore_item *made = kvstore_alloc(c->s, dst, dlen, vlen, &now);
	if (!made) {
		kv_unlock(c->inst);
		kvresp_error(c->o, kvdb_err_oom);
		return;
	}
	memcpy(kvstore_value_w(made), aside, vlen);
	kvstore_link(c->s, made, expire_at);
	if (!copy)
		kvstore_delete(c->s, src, slen, &now);
	kv_unlock(c->inst);
	if (copy || nx)
		kvresp_int(c->o, 1);
	else
		kvresp_str(c->o, "+OK\r\n");
}

/* MEMORY USAGE key [SAMPLES n]: the bytes the key's slot takes in the
 * store (key, value and header, rounded up to its size class), or a null;
 * what redis-cli --memkeys asks. */
void kvkeys_cmd_memory(struct kvresp_cmd *c)
{
	if (!kvresp_arg_is(c, 0, "USAGE")) {
		kvresp_unknown_subcommand(c);
		return;
	}
	int64_t samples;
	if (c->argc != 2 && !(c->argc == 4 && kvresp_arg_is(c, 2, "SAMPLES") &&
	                      kvresp_arg_ll(c, 3, &samples) == 0 && samples >= 0)) {
		kvresp_error(c->o, kvresp_err_syntax);
		return;
	}
	int64_t now = 0;
	size_t klen;
	const char *key = kvresp_arg(c, 1, &klen);
	kv_lock(c->inst);
	kvstore_item *it = kvstore_find(c->s, key, klen, &now, 0);
	uint64_t bytes = it ? kvstore_item_bytes(c->s, it) : 0;
	kv_unlock(c->inst);
	if (it)
		kvresp_int(c->o, (int64_t)bytes);
	else
		kvresp_null(c->o);
}

/* ---- glob patterns ------------------------------------------------------------------ */

/* Whether byte ch matches the class at p[*pi] (just after its '['); moves
 * *pi past the closing ']' (or to the end of an unclosed class).  '^'
 * first negates it; "a-z" is a range either way round; '\' quotes. */
static int kvkeys_class(const char *p, size_t plen, size_t *pi, unsigned char ch)
{
	size_t i = *pi;
	int negate = 0, hit = 0;
	if (i < plen && p[i] == '^') {
		negate = 1;
		i++;
	}
	while (i < plen && p[i] != ']') {
		if (p[i] == '\\' && i + 1 < plen)
			i++;
		unsigned char lo = (unsigned char)p[i], hi = lo;
		if (i + 2 < plen && p[i + 1] == '-' && p[i + 2] != ']') {
			hi = (unsigned char)p[i + 2];
			if (hi == '\\' && i + 3 < plen) {
				hi = (unsigned char)p[i + 3];
				i++;
			}
			if (lo > hi) {
				unsigned char t = lo;
				lo = hi;
				hi = t;
			}
			i += 2;
		}
		if (ch >= lo && ch <= hi)
			hit = 1;
		i++;
	}
	*pi = i < plen ? i + 1 : i;
	return hit != negate;
}

/* Whether the pattern element at p[*pi] (anything but '*') matches byte
 * ch; on a match *pi moves past it. */
static int kvkeys_one(const char *p, size_t plen, size_t *pi, unsigned char ch)
{
	size_t i = *pi;
	switch (p[i]) {
	case '?': *pi = i + 1; return 1;
	case '[':
		i++;
		if (!kvkeys_class(p, plen, &i, ch))
			return 0;
		*pi = i;
		return 1;
	default:
		if (p[i] == '\\' && i + 1 < plen)
			i++; /* the quoted byte is a literal */
		if ((unsigned char)p[i] != ch)
			return 0;
		*pi = i + 1;
		return 1;
	}
}

/* Whether the key matches the glob pattern, both binary: '*' any run of
 * bytes, '?' any one byte, "[...]" a class, '\' quotes the next byte.
 * After a mismatch only the last '*' is retried one byte further, so no
 * pattern costs more than its length times the key's. */
int kvkeys_glob(const char *p, size_t plen, const uint8_t *key, size_t klen)
{
	size_t pi = 0, ki = 0, star = SIZE_MAX, star_key = 0;
	while (ki < klen) {
		if (pi < plen && p[pi] == '*') {
			star = ++pi;
			star_key = ki;
			continue;
		}
		if (pi < plen && kvkeys_one(p, plen, &pi, key[ki])) {
			ki++;
			continue;
		}
		if (star == SIZE_MAX)
			return 0;
		pi = star;
		ki = ++star_key;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

/* ---- KEYS and SCAN ------------------------------------------------------------------- */

/* One walk over some of the table: what matches, and what it visited. */
struct kvkeys_walk {
	const char *pattern; /* NULL: every key */
	size_t plen;
	int none;               /* SCAN ... TYPE other than string: nothing matches */
	struct kvresp_out *out; /* NULL: count only */
	int64_t matched;
	uint64_t visited;
};

static void kvkeys_visit(void *arg, const kvstore_item *it)
{
	struct kvkeys_walk *w = arg;
	size_t klen;
	const uint8_t *key = kvstore_key(it, &klen);
	w->visited++;
	if (w->none || (w->pattern && !kvkeys_glob(w->pattern, w->plen, key, klen)))
		return;
	w->matched++;
	if (w->out)
		kvresp_bulk(w->out, key, klen);
}

/* A pattern of nothing but '*' matches every key without matching. */
static const char *kvkeys_pattern(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != '*')
			return p;
	return NULL;
}

/* KEYS pattern: every matching key.  Like Redis's, it holds the store
 * for the whole walk (the kv commands of every worker wait), counting
 * first and writing second; SCAN is the way to walk a large store. */
void kvkeys_cmd_keys(struct kvresp_cmd *c)
{
	int64_t now = 0;
	struct kvkeys_walk w = {0};
	w.pattern = kvresp_arg(c, 0, &w.plen);
	w.pattern = kvkeys_pattern(w.pattern, w.plen);
	kv_lock(c->inst);
	uint64_t cursor = 0;
	do {
		cursor = kvstore_scan(c->s, cursor, &now, kvkeys_visit, &w);
	} while (cursor);
	kvresp_array(c->o, w.matched);
	w.out = c->o;
	do {
		cursor = kvstore_scan(c->s, cursor, &now, kvkeys_visit, &w);
	} while (cursor);
	kv_unlock(c->inst);
}

/* RANDOMKEY's walk: the first key it meets, copied out. */
struct kvkeys_pick {
	struct kvresp_cmd *c;
	uint8_t *key;
	size_t klen;
	int found, failed;
};

static void kvkeys_pick_visit(void *arg, const kvstore_item *it)
{
	struct kvkeys_pick *p = arg;
	if (p->found || p->failed)
		return;
	const uint8_t *key = kvstore_key(it, &p->klen);
	if (!(p->key = kvdb_scratch(p->c, p->klen))) {
		p->failed = 1;
		return;
	}
	memcpy(p->key, key, p->klen);
	p->found = 1;
}

/* RANDOMKEY: a key from a bucket chosen at random (the first of the next
 * non-empty one), or a null when the store is empty. */
void kvkeys_cmd_randomkey(struct kvresp_cmd *c)
{
	struct kvkeys_pick p = {.c = c};
	struct kvstore_stats st;
	int64_t now = 0;
	uint64_t r;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)kvstore_now(&now) * 0x9e3779b97f4a7c15ull;
	kv_lock(c->inst);
	kvstore_get_stats(c->s, &st);
	/* Every bucket at most once: from r to the end of the cursor order,
	 * then from 0 round to r (expired keys met on the way are removed). */
	uint64_t cursor = r;
	int wrapped = 0;
	while (st.keys && !p.found && !p.failed) {
		cursor = kvstore_scan(c->s, cursor, &now, kvkeys_pick_visit, &p);
		if (cursor == 0) {
			if (wrapped)
				break;
			wrapped = 1;
		}
	}
	kv_unlock(c->inst);
	if (p.failed)
		kvresp_error(c->o, "ERR out of memory");
	else if (p.found)
		kvresp_bulk(c->o, p.key, p.klen);
	else
		kvresp_null(c->o);
}

/* The cursor argument: an unsigned 64-bit decimal, as Redis gives out. */
static int kvkeys_cursor(struct kvresp_cmd *c, uint64_t *cursor)
{
	size_t len;
	const char *a = kvresp_arg(c, 0, &len);
	char text[24];
	if (len == 0 || len >= sizeof(text) || a[0] < '0' || a[0] > '9')
		return -1;
	memcpy(text, a, len);
	text[len] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end)
		return -1;
	*cursor = v;
	return 0;
}

/* Buckets a SCAN step may look at per key COUNT asks for, so that a
 * sparse table still answers promptly (possibly with no keys). */
#define KVKEYS_EMPTY_PER_COUNT 10

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: the keys of a
 * few buckets, and the cursor to go on from ("0": done).  COUNT (default
 * 10) is how many keys to look at, before MATCH filters them.  The steps
 * are walked twice under one lock: counting, then writing. */
void kvkeys_cmd_scan(struct kvresp_cmd *c)
{
	uint64_t start, count = 10;
	struct kvkeys_walk w = {0};
	if (kvkeys_cursor(c, &start) < 0) {
		kvresp_error(c->o, "ERR invalid cursor");
		return;
	}
	for (size_t i = 1; i < c->argc; i += 2) {
		int64_t v;
		if (i + 1 >= c->argc) {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
		if (kvresp_arg_is(c, i, "MATCH")) {
			w.pattern = kvresp_arg(c, i + 1, &w.plen);
			w.pattern = kvkeys_pattern(w.pattern, w.plen);
		} else if (kvresp_arg_is(c, i, "COUNT")) {
			if (kvresp_arg_ll(c, i + 1, &v) < 0) {
				kvresp_error(c->o, kvresp_err_int);
				return;
			}
			if (v < 1) {
				kvresp_error(c->o, kvresp_err_syntax);
				return;
			}
			count = (uint64_t)v;
		} else if (kvresp_arg_is(c, i, "TYPE")) {
			w.none = !kvresp_arg_is(c, i + 1, "string");
		} else {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
	}
	uint64_t steps = count > UINT64_MAX / KVKEYS_EMPTY_PER_COUNT
	                     ? UINT64_MAX
	                     : count * KVKEYS_EMPTY_PER_COUNT;
	int64_t now = 0;
	uint64_t cursor = start, end;
	kv_lock(c->inst);
	do {
		cursor = kvstore_scan(c->s, cursor, &now, kvkeys_visit, &w);
	} while (cursor && w.visited < count && --steps);
	end = cursor;
	kvresp_array(c->o, 2);
	char text[24];
	kvresp_bulk(c->o, text,
	            (size_t)snprintf(text, sizeof(text), "%llu", (unsigned long long)end));
	kvresp_array(c->o, w.matched);
	w.out = c->o;
	cursor = start;
	do {
		cursor = kvstore_scan(c->s, cursor, &now, kvkeys_visit, &w);
	} while (cursor != end);
	kv_unlock(c->inst);
}
