/* modules/kvdb.c — the kv handler's Redis commands on the store: strings,
 * keys and expiry (GET, SET, INCR, EXPIRE, ...) and the server commands that
 * read or empty it (DBSIZE, FLUSHALL, CONFIG GET, INFO).  Every command that
 * takes the store's lock is here; the RESP writer, the command table and the
 * connection commands are modules/kvresp.c.  See doc/internals/resp-kv.md. */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kv.h"
#include "kvdb.h"
#include "kvresp.h"
#include "kvstore.h"
#include "modhost.h"

/* The host table, the same for every instance (kvdb_init). */
static const mh_host_api *host;

void kvdb_init(const mh_host_api *api)
{
	host = api;
}

static int64_t kvdb_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char kvdb_err_oom[] = "OOM command not allowed when used memory > 'maxmemory'.";

/* Lock the store and find the item named by the command's first
 * argument (NULL: none, or expired); the caller unlocks.  touch marks it
 * used for LRU eviction. */
static kvstore_item *kvdb_find_first(struct kvresp_cmd *c, int64_t *now, int touch)
{
	size_t klen;
	const char *key = kvresp_arg(c, 0, &klen);
	kv_lock(c->inst);
	return kvstore_find(c->s, key, klen, now, touch);
}

/* ---- string commands -------------------------------------------------------------- */

void kvdb_cmd_get(struct kvresp_cmd *c)
{
	int64_t now = 0;
	size_t vlen;
	kvstore_item *it = kvdb_find_first(c, &now, 1);
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
static int kvdb_store(struct kvresp_cmd *c, const char *key, size_t klen, const void *val,
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
void kvdb_cmd_set(struct kvresp_cmd *c)
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
			ms -= kvdb_unix_ms();
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
	} else if (kvdb_store(c, key, klen, val, vlen, expire_at, keep, &now) < 0) {
		kvresp_reset(c->o); /* the OOM error replaces a GET's old value */
		kvresp_error(c->o, kvdb_err_oom);
	} else if (!get) {
		kvresp_str(c->o, "+OK\r\n");
	}
	kvstore_unlock(c->s);
}

/* DEL and EXISTS: count over every key argument. */
void kvdb_cmd_del(struct kvresp_cmd *c)
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
void kvdb_cmd_incr(struct kvresp_cmd *c)
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
	if (kvdb_store(c, key, klen, text, (size_t)n, expire_at, 0, &now) < 0)
		kvresp_error(c->o, kvdb_err_oom);
	else
		kvresp_int(c->o, cur);
	kvstore_unlock(c->s);
}

void kvdb_cmd_mget(struct kvresp_cmd *c)
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
void kvdb_cmd_mset(struct kvresp_cmd *c)
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
		kvresp_error(c->o, kvdb_err_oom);
	} else {
		for (size_t i = 0; i < pairs; i++)
			kvstore_link(c->s, items[i], 0);
		kvresp_str(c->o, "+OK\r\n");
	}
	kvstore_unlock(c->s);
}

/* EXPIRE/PEXPIRE key time [NX|XX|GT|LT] */
void kvdb_cmd_expire(struct kvresp_cmd *c)
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
void kvdb_cmd_ttl(struct kvresp_cmd *c)
{
	int64_t now = 0, r;
	kvstore_item *it = kvdb_find_first(c, &now, 0);
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

void kvdb_cmd_persist(struct kvresp_cmd *c)
{
	int64_t now = 0;
	kvstore_item *it = kvdb_find_first(c, &now, 0);
	int had = it && kvstore_expire(it);
	if (had)
		kvstore_set_expire(c->s, it, 0);
	kvstore_unlock(c->s);
	kvresp_int(c->o, had);
}

void kvdb_cmd_type(struct kvresp_cmd *c)
{
	int64_t now = 0;
	kvstore_item *it = kvdb_find_first(c, &now, 0);
	kvstore_unlock(c->s);
	kvresp_str(c->o, it ? "+string\r\n" : "+none\r\n");
}

/* ---- server commands on the store ---------------------------------------------- */

void kvdb_cmd_dbsize(struct kvresp_cmd *c)
{
	struct kvstore_stats st;
	kv_lock(c->inst);
	kvstore_get_stats(c->s, &st);
	kvstore_unlock(c->s);
	kvresp_int(c->o, (int64_t)st.keys);
}

/* FLUSHALL / FLUSHDB [ASYNC|SYNC]: both empty the store at once. */
void kvdb_cmd_flush(struct kvresp_cmd *c)
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

/* The parameters CONFIG GET shows, for clients that ask at start
 * (redis-benchmark asks for save and appendonly). */
void kvdb_cmd_config(struct kvresp_cmd *c)
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

void kvdb_cmd_info(struct kvresp_cmd *c)
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
