/* modules/kvdb.c — the kv handler's Redis commands on values (GET, SET and
 * its older forms, APPEND, INCR, MGET, ...) and the server commands that
 * read or empty the store (DBSIZE, FLUSHALL, CONFIG GET, INFO).  The
 * commands on keys (DEL, EXPIRE, TTL, KEYS, SCAN, ...) are
 * modules/kvkeys.c; the RESP writer, the command table and the connection
 * commands modules/kvresp.c.  See doc/internals/resp-kv.md. */
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

int64_t kvdb_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The longest value APPEND makes, as Redis's proto-max-bulk-len. */
#define KVDB_MAX_VALUE (512u << 20)

const char kvdb_err_oom[] = "OOM command not allowed when used memory > 'maxmemory'.";

void *kvdb_scratch(struct kvresp_cmd *c, size_t n)
{
	return host->msg_alloc(c->req, n ? n : 1);
}

kvstore_item *kvdb_find_first(struct kvresp_cmd *c, int64_t *now, int touch)
{
	size_t klen;
	const char *key = kvresp_arg(c, 0, &klen);
	kv_lock(c->inst);
	return kvstore_find(c->s, key, klen, now, touch);
}

/* ---- string commands -------------------------------------------------------------- */

/* GET, and GETDEL: the value, and the key gone. */
void kvdb_cmd_get(struct kvresp_cmd *c)
{
	int64_t now = 0;
	size_t vlen, klen;
	kvstore_item *it = kvdb_find_first(c, &now, 1);
	if (it) {
		const uint8_t *v = kvstore_value(it, &vlen);
		kvresp_bulk(c->o, v, vlen);
		if (c->name_len == 6) {
			const uint8_t *key = kvstore_key(it, &klen);
			kvstore_delete(c->s, key, klen, &now);
		}
	} else {
		kvresp_null(c->o);
	}
	kv_unlock(c->inst);
}

int kvdb_store(struct kvresp_cmd *c, const char *key, size_t klen, const void *val, size_t vlen,
               int64_t expire_at, int keep_ttl, int64_t *now)
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

/* What SET and its older forms answer. */
enum kvdb_set_reply {
	KVDB_REPLY_OK,   /* +OK, or a null when NX or XX stopped it (SET, SETEX) */
	KVDB_REPLY_OLD,  /* the old value, or a null (SET ... GET, GETSET) */
	KVDB_REPLY_FLAG, /* :1 when set, :0 when NX stopped it (SETNX) */
};

enum { KVDB_SET_NX = 1, KVDB_SET_XX = 2, KVDB_SET_KEEPTTL = 4 };

/* Set the key in argument 0 to the value in argument val_arg, unless NX or
 * XX in flags say otherwise, with expire_at (0: none), and answer as
 * reply says. */
static void kvdb_set(struct kvresp_cmd *c, size_t val_arg, int flags, int64_t expire_at,
                     enum kvdb_set_reply reply, int64_t *now)
{
	size_t klen, vlen;
	const char *key = kvresp_arg(c, 0, &klen);
	const char *val = kvresp_arg(c, val_arg, &vlen);
	kv_lock(c->inst);
	kvstore_item *old = kvstore_find(c->s, key, klen, now, 0);
	/* The old value is answered only once the set did not fail; the
	 * store may free it meanwhile, so it is copied aside. */
	uint8_t *old_value = NULL;
	size_t old_len = 0;
	if (reply == KVDB_REPLY_OLD && old) {
		const uint8_t *ov = kvstore_value(old, &old_len);
		if (!(old_value = kvdb_scratch(c, old_len))) {
			kv_unlock(c->inst);
			kvresp_error(c->o, "ERR out of memory");
			return;
		}
		memcpy(old_value, ov, old_len);
	}
	if (((flags & KVDB_SET_NX) && old) || ((flags & KVDB_SET_XX) && !old)) {
		if (reply == KVDB_REPLY_OK)
			kvresp_null(c->o);
		else if (reply == KVDB_REPLY_FLAG)
			kvresp_int(c->o, 0);
	} else if (kvdb_store(c, key, klen, val, vlen, expire_at, flags & KVDB_SET_KEEPTTL, now) <
	           0) {
		kvresp_error(c->o, kvdb_err_oom);
		reply = KVDB_REPLY_OK; /* the error is the whole answer */
	} else if (reply == KVDB_REPLY_OK) {
		kvresp_str(c->o, "+OK\r\n");
	} else if (reply == KVDB_REPLY_FLAG) {
		kvresp_int(c->o, 1);
	}
	if (reply == KVDB_REPLY_OLD) {
		if (old_value)
			kvresp_bulk(c->o, old_value, old_len);
		else
			kvresp_null(c->o);
	}
	kv_unlock(c->inst);
}

/* Units of an expiry argument. */
enum kvdb_unit { KVDB_IN_S = 1, KVDB_IN_MS, KVDB_AT_S, KVDB_AT_MS };

/* The unit argument i names: EX, PX, EXAT, PXAT, else 0. */
static enum kvdb_unit kvdb_unit_word(const struct kvresp_cmd *c, size_t i)
{
	if (kvresp_arg_is(c, i, "EX"))
		return KVDB_IN_S;
	if (kvresp_arg_is(c, i, "PX"))
		return KVDB_IN_MS;
	if (kvresp_arg_is(c, i, "EXAT"))
		return KVDB_AT_S;
	if (kvresp_arg_is(c, i, "PXAT"))
		return KVDB_AT_MS;
	return 0;
}

/* The store's time at which an expiry of v in unit ends; writes the error
 * and returns -1 unless v is positive and in range. */
static int kvdb_expire_at(struct kvresp_cmd *c, int64_t v, enum kvdb_unit unit, int64_t *now,
                          int64_t *at)
{
	int seconds = unit == KVDB_IN_S || unit == KVDB_AT_S;
	if (v <= 0 || (seconds && v > INT64_MAX / 1000)) {
		kvresp_bad_expire(c);
		return -1;
	}
	int64_t ms = seconds ? v * 1000 : v;
	if (unit == KVDB_AT_S || unit == KVDB_AT_MS) /* absolute: from the wall clock */
		ms -= kvdb_unix_ms();
	int64_t base = kvstore_now(now);
	*at = ms > INT64_MAX - base ? INT64_MAX : base + (ms > 0 ? ms : 0);
	if (*at == 0)
		*at = 1;
	return 0;
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
void kvdb_cmd_set(struct kvresp_cmd *c)
{
	int flags = 0, get = 0, have_exp = 0;
	int64_t expire_at = 0, now = 0;
	for (size_t i = 2; i < c->argc; i++) {
		int64_t v;
		enum kvdb_unit unit = 0;
		if (kvresp_arg_is(c, i, "NX") && !(flags & KVDB_SET_XX))
			flags |= KVDB_SET_NX;
		else if (kvresp_arg_is(c, i, "XX") && !(flags & KVDB_SET_NX))
			flags |= KVDB_SET_XX;
		else if (kvresp_arg_is(c, i, "GET"))
			get = 1;
		else if (kvresp_arg_is(c, i, "KEEPTTL") && !have_exp)
			flags |= KVDB_SET_KEEPTTL;
		else if (!(unit = kvdb_unit_word(c, i))) {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
		if (!unit)
			continue;
		if (have_exp || (flags & KVDB_SET_KEEPTTL) || i + 1 >= c->argc) {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
		have_exp = 1;
		if (kvresp_arg_ll(c, ++i, &v) < 0) {
			kvresp_error(c->o, kvresp_err_int);
			return;
		}
		if (kvdb_expire_at(c, v, unit, &now, &expire_at) < 0)
			return;
	}
	kvdb_set(c, 1, flags, expire_at, get ? KVDB_REPLY_OLD : KVDB_REPLY_OK, &now);
}

/* SETEX key seconds value, PSETEX key milliseconds value. */
void kvdb_cmd_setex(struct kvresp_cmd *c)
{
	int64_t v, at, now = 0;
	if (kvresp_arg_ll(c, 1, &v) < 0) {
		kvresp_error(c->o, kvresp_err_int);
		return;
	}
	if (kvdb_expire_at(c, v, c->name[0] == 'P' ? KVDB_IN_MS : KVDB_IN_S, &now, &at) < 0)
		return;
	kvdb_set(c, 2, 0, at, KVDB_REPLY_OK, &now);
}

/* SETNX key value: 1 if it was set, 0 if the key existed. */
void kvdb_cmd_setnx(struct kvresp_cmd *c)
{
	int64_t now = 0;
	kvdb_set(c, 1, KVDB_SET_NX, 0, KVDB_REPLY_FLAG, &now);
}

/* GETSET key value: SET key value GET, the old expiry dropped. */
void kvdb_cmd_getset(struct kvresp_cmd *c)
{
	int64_t now = 0;
	kvdb_set(c, 1, 0, 0, KVDB_REPLY_OLD, &now);
}

void kvdb_cmd_strlen(struct kvresp_cmd *c)
{
	int64_t now = 0;
	size_t vlen = 0;
	kvstore_item *it = kvdb_find_first(c, &now, 0);
	if (it)
		kvstore_value(it, &vlen);
	kv_unlock(c->inst);
	kvresp_int(c->o, (int64_t)vlen);
}

/* Write add (alen bytes) into the value of v, olen bytes long, at offset,
 * zero-filling any gap. */
static void kvdb_patch(uint8_t *v, size_t olen, uint64_t offset, const char *add, size_t alen)
{
	if (offset > olen)
		memset(v + olen, 0, (size_t)offset - olen);
	memcpy(v + offset, add, alen);
}

/* Write add (alen bytes) into the value of the key in argument 0 at
 * offset, zero-filling any gap (offset UINT64_MAX: at the end); the key
 * keeps its expiry.  old is what kvdb_find_first found; the caller holds
 * the lock and releases it.  Writes the new length, or an error.
 *
 * The value changes where it is when its slot has room.  Otherwise it
 * moves to a new item, and an appended one gets as much room again, up to
 * KVDB_APPEND_ROOM (as Redis's strings grow): a value built by APPEND is
 * then copied a logarithmic number of times, not once per APPEND.  The
 * old value is copied aside before it moves: making room for the new
 * item may evict the old one. */
#define KVDB_APPEND_ROOM (1u << 20)

int64_t kvdb_splice(struct kvresp_cmd *c, kvstore_item *old, uint64_t offset, const char *add,
                    size_t alen, int64_t *now)
{
	size_t klen, olen = 0;
	const char *key = kvresp_arg(c, 0, &klen);
	const uint8_t *ov = old ? kvstore_value(old, &olen) : NULL;
	int append = offset == UINT64_MAX;
	if (append)
		offset = olen;
	if (offset > KVDB_MAX_VALUE || alen > KVDB_MAX_VALUE - offset) {
		kvresp_error(c->o, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
		return -1;
	}
	size_t nlen = offset + alen > olen ? (size_t)offset + alen : olen;
	if (old && kvstore_set_length(c->s, old, nlen) == 0) {
		kvdb_patch(kvstore_value_w(old), olen, offset, add, alen);
		return (int64_t)nlen;
	}
	uint8_t *copy = NULL;
	if (olen && !(copy = kvdb_scratch(c, olen))) {
		kvresp_error(c->o, "ERR out of memory");
		return -1;
	}
	if (olen)
		memcpy(copy, ov, olen);
	int64_t expire_at = old ? kvstore_expire(old) : 0;
	size_t room = append && old ? (nlen < KVDB_APPEND_ROOM ? nlen : KVDB_APPEND_ROOM) : 0;
	kvstore_expire_some(c->s, now);
	kvstore_item *it = kvstore_alloc_spare(c->s, key, klen, nlen, room, now);
	if (!it) {
		kvresp_error(c->o, kvdb_err_oom);
		return -1;
	}
	uint8_t *v = kvstore_value_w(it);
	if (olen)
		memcpy(v, copy, olen);
	kvdb_patch(v, olen, offset, add, alen);
	kvstore_link(c->s, it, expire_at);
	return (int64_t)nlen;
}

/* APPEND key value: the new length. */
void kvdb_cmd_append(struct kvresp_cmd *c)
{
	int64_t now = 0;
	size_t alen;
	const char *add = kvresp_arg(c, 1, &alen);
	kvstore_item *old = kvdb_find_first(c, &now, 1);
	int64_t len = kvdb_splice(c, old, UINT64_MAX, add, alen, &now);
	if (len >= 0)
		kvresp_int(c->o, len);
	kv_unlock(c->inst);
}

/* SETRANGE key offset value: the new length; an empty value changes
 * nothing (and makes no key). */
void kvdb_cmd_setrange(struct kvresp_cmd *c)
{
	int64_t offset, now = 0;
	size_t alen, olen = 0;
	const char *add = kvresp_arg(c, 2, &alen);
	if (kvresp_arg_ll(c, 1, &offset) < 0) {
		kvresp_error(c->o, kvresp_err_int);
		return;
	}
	if (offset < 0) {
		kvresp_error(c->o, "ERR offset is out of range");
		return;
	}
	kvstore_item *old = kvdb_find_first(c, &now, 1);
	if (alen == 0) {
		if (old)
			kvstore_value(old, &olen);
		kvresp_int(c->o, (int64_t)olen);
	} else {
		int64_t len = kvdb_splice(c, old, (uint64_t)offset, add, alen, &now);
		if (len >= 0)
			kvresp_int(c->o, len);
	}
	kv_unlock(c->inst);
}

/* GETRANGE key start end: the bytes from start to end, both included;
 * negative positions count from the end, as Redis's do. */
void kvdb_cmd_getrange(struct kvresp_cmd *c)
{
	int64_t start, end, now = 0;
	if (kvresp_arg_ll(c, 1, &start) < 0 || kvresp_arg_ll(c, 2, &end) < 0) {
		kvresp_error(c->o, kvresp_err_int);
		return;
	}
	size_t vlen = 0;
	kvstore_item *it = kvdb_find_first(c, &now, 1);
	const uint8_t *v = it ? kvstore_value(it, &vlen) : NULL;
	int64_t len = (int64_t)vlen;
	if (kvdb_range(&start, &end, len))
		kvresp_bulk(c->o, v + start, (size_t)(end - start + 1));
	else
		kvresp_bulk(c->o, "", 0);
	kv_unlock(c->inst);
}

int kvdb_range(int64_t *start, int64_t *end, int64_t len)
{
	if (*start < 0 && *end < 0 && *start > *end)
		return 0;
	if (*start < 0)
		*start = len + *start < 0 ? 0 : len + *start;
	if (*end < 0)
		*end = len + *end < 0 ? 0 : len + *end;
	if (*end >= len)
		*end = len - 1;
	return len > 0 && *start <= *end;
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]: GET that also sets or
 * drops the expiry; a time already past deletes the key. */
void kvdb_cmd_getex(struct kvresp_cmd *c)
{
	int64_t v, at = 0, now = 0;
	int persist = 0, have = 0;
	enum kvdb_unit unit = 0;
	for (size_t i = 1; i < c->argc; i++) {
		if (have) {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
		have = 1;
		if (kvresp_arg_is(c, i, "PERSIST")) {
			persist = 1;
			continue;
		}
		unit = kvdb_unit_word(c, i);
		if (!unit || i + 1 >= c->argc) {
			kvresp_error(c->o, kvresp_err_syntax);
			return;
		}
		if (kvresp_arg_ll(c, ++i, &v) < 0) {
			kvresp_error(c->o, kvresp_err_int);
			return;
		}
		if (kvdb_expire_at(c, v, unit, &now, &at) < 0)
			return;
	}
	size_t vlen, klen;
	kvstore_item *it = kvdb_find_first(c, &now, 1);
	if (!it) {
		kvresp_null(c->o);
	} else {
		const uint8_t *val = kvstore_value(it, &vlen);
		kvresp_bulk(c->o, val, vlen);
		if (persist) {
			kvstore_set_expire(c->s, it, 0);
		} else if (unit) {
			if (at <= kvstore_now(&now)) {
				const uint8_t *key = kvstore_key(it, &klen);
				kvstore_delete(c->s, key, klen, &now);
			} else {
				kvstore_set_expire(c->s, it, at);
			}
		}
	}
	kv_unlock(c->inst);
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
	kv_unlock(c->inst);
}

/* MSET and MSETNX (which sets nothing if any key exists) are all or
 * nothing: every item is allocated before any is linked. */
void kvdb_cmd_mset(struct kvresp_cmd *c)
{
	int nx = c->name_len == 6;
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
	for (size_t i = 0; nx && i < pairs; i++) {
		size_t klen;
		const char *key = kvresp_arg(c, 2 * i, &klen);
		if (kvstore_find(c->s, key, klen, &now, 0)) {
			kv_unlock(c->inst);
			kvresp_int(c->o, 0);
			return;
		}
	}
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
		if (nx)
			kvresp_int(c->o, 1);
		else
			kvresp_str(c->o, "+OK\r\n");
	}
	kv_unlock(c->inst);
}

/* ---- server commands on the store ---------------------------------------------- */

void kvdb_cmd_dbsize(struct kvresp_cmd *c)
{
	struct kvstore_stats st;
	kv_lock(c->inst);
	kvstore_get_stats(c->s, &st);
	kv_unlock(c->inst);
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
	kv_unlock(c->inst);
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
	kv_unlock(c->inst);
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

/* The traffic of the listener the command came on, from the host's
 * counters; zeros on a host without listener_stats (ABI < 1.4). */
static void kvdb_listener_stats(const struct kvresp_cmd *c, mh_listener_stats *ls)
{
	memset(ls, 0, sizeof(*ls));
	ls->struct_size = sizeof(*ls);
	if (MH_HOST_HAS(host, listener_stats))
		host->listener_stats(host->conn_listener(host->msg_conn(c->req)), ls);
}

/* INFO [section ...]: the sections of Redis that mean something here.  The
 * client and traffic counts are the listener's the command came on,
 * summed over every worker. */
void kvdb_cmd_info(struct kvresp_cmd *c)
{
	int all = c->argc == 0 || kvresp_arg_is(c, 0, "all") || kvresp_arg_is(c, 0, "default") ||
	          kvresp_arg_is(c, 0, "everything");
	int server = all, clients = all, memory = all, persistence = all, stats = all;
	int replication = all, keyspace = all;
	for (size_t i = 0; i < c->argc; i++) {
		server |= kvresp_arg_is(c, i, "server");
		clients |= kvresp_arg_is(c, i, "clients");
		memory |= kvresp_arg_is(c, i, "memory");
		persistence |= kvresp_arg_is(c, i, "persistence");
		stats |= kvresp_arg_is(c, i, "stats");
		replication |= kvresp_arg_is(c, i, "replication");
		keyspace |= kvresp_arg_is(c, i, "keyspace");
	}
	struct kvstore_stats st;
	kv_lock(c->inst);
	kvstore_get_stats(c->s, &st);
	kv_unlock(c->inst);
	mh_listener_stats ls;
	if (clients || stats)
		kvdb_listener_stats(c, &ls);
	char text[4096];
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
	if (clients && n < sizeof(text))
		n += (size_t)snprintf(
		    text + n, sizeof(text) - n,
		    "# Clients\r\nconnected_clients:%llu\r\nblocked_clients:0\r\n\r\n",
		    (unsigned long long)ls.connections_active);
	if (memory && n < sizeof(text))
		n +=
		    (size_t)snprintf(text + n, sizeof(text) - n,
		                     "# Memory\r\nused_memory:%llu\r\nmaxmemory:%llu\r\n"
		                     "maxmemory_policy:%s\r\nkv_hash_buckets:%llu\r\n\r\n",
		                     (unsigned long long)st.used, (unsigned long long)st.max_memory,
		                     st.policy == KVSTORE_LRU ? "allkeys-lru" : "noeviction",
		                     (unsigned long long)st.buckets);
	if (persistence && n < sizeof(text))
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:0\r\n"
		                      "aof_enabled:0\r\n\r\n");
	if (stats && n < sizeof(text))
		n += (size_t)snprintf(
		    text + n, sizeof(text) - n,
		    "# Stats\r\ntotal_connections_received:%llu\r\n"
		    "total_commands_processed:%llu\r\ntotal_net_input_bytes:%llu\r\n"
		    "total_net_output_bytes:%llu\r\nrejected_connections:%llu\r\n"
		    "total_error_replies:%llu\r\nkeyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n"
		    "expired_keys:%llu\r\nevicted_keys:%llu\r\nrejected_writes_oom:%llu\r\n\r\n",
		    (unsigned long long)ls.connections_accepted, (unsigned long long)ls.messages_in,
		    (unsigned long long)ls.bytes_in, (unsigned long long)ls.bytes_out,
		    (unsigned long long)ls.connections_rejected, (unsigned long long)ls.errors,
		    (unsigned long long)st.hits, (unsigned long long)st.misses,
		    (unsigned long long)st.expired, (unsigned long long)st.evicted,
		    (unsigned long long)st.oom);
	if (replication && n < sizeof(text))
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
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
