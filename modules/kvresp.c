/* modules/kvresp.c — the kv handler's Redis face: the RESP2 and RESP3
 * replies, the command table and its dispatch, and the connection commands
 * (what redis-cli and redis-benchmark ask at start: PING, HELLO, AUTH,
 * CLIENT, COMMAND, ...).  The commands on the store are modules/kvdb.c, the
 * store modules/kvstore.c; the module itself, and its HTTP face,
 * modules/kv.c.  See doc/internals/resp-kv.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kv.h"
#include "kvdb.h"
#include "kvresp.h"
#include "modhost.h"

/* The host table, the same for every instance (kvresp_init). */
static const mh_host_api *host;

/* kvdb.c gets the table too: both files are the Redis face. */
void kvresp_init(const mh_host_api *api)
{
	host = api;
	kvdb_init(api);
	kvmulti_init(api);
}

/* ---- writing RESP ------------------------------------------------------------ */

static void kvresp_flush(struct kvresp_out *o)
{
	if (o->n && host->buf_add(o->body, o->buf, o->n) < 0)
		o->failed = 1;
	o->n = 0;
}

void kvresp_raw(struct kvresp_out *o, const void *data, size_t len)
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

void kvresp_str(struct kvresp_out *o, const char *s)
{
	kvresp_raw(o, s, strlen(s));
}

/* "<prefix><v>\r\n" for a signed integer. */
void kvresp_line_int(struct kvresp_out *o, char prefix, int64_t v)
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

void kvresp_int(struct kvresp_out *o, int64_t v)
{
	kvresp_line_int(o, ':', v);
}

void kvresp_bulk(struct kvresp_out *o, const void *data, size_t len)
{
	kvresp_line_int(o, '$', (int64_t)len);
	kvresp_raw(o, data, len);
	kvresp_raw(o, "\r\n", 2);
}

void kvresp_cbulk(struct kvresp_out *o, const char *s)
{
	kvresp_bulk(o, s, strlen(s));
}

void kvresp_null(struct kvresp_out *o)
{
	kvresp_str(o, o->proto == 3 ? "_\r\n" : "$-1\r\n");
}

void kvresp_array(struct kvresp_out *o, int64_t n)
{
	kvresp_line_int(o, '*', n);
}

/* A map of n pairs: "%n" in RESP3, a flat array of 2n in RESP2. */
void kvresp_map(struct kvresp_out *o, int64_t n)
{
	if (o->proto == 3)
		kvresp_line_int(o, '%', n);
	else
		kvresp_line_int(o, '*', 2 * n);
}

/* Note that the reply is an error, so that the host counts it and
 * observers see it: a full store is "unavailable", anything else the
 * client's mistake. */
static void kvresp_mark_error(struct kvresp_out *o, const char *text)
{
	o->error_status =
	    strncmp(text, "OOM ", 4) == 0 ? MH_STATUS_UNAVAILABLE : MH_STATUS_BAD_REQUEST;
}

/* "-<text>\r\n"; text must be one line (callers sanitise what they quote). */
void kvresp_error(struct kvresp_out *o, const char *text)
{
	kvresp_mark_error(o, text);
	kvresp_raw(o, "-", 1);
	kvresp_str(o, text);
	kvresp_raw(o, "\r\n", 2);
}

const char kvresp_err_int[] = "ERR value is not an integer or out of range";
const char kvresp_err_syntax[] = "ERR syntax error";

/* ---- the command being run: arguments and error replies --------------------------- */

const char *kvresp_arg(const struct kvresp_cmd *c, size_t i, size_t *len)
{
	if (!c->args)
		return host->msg_arg(c->req, i, len);
	if (i >= c->argc) {
		*len = 0;
		return NULL;
	}
	*len = c->args[i].len;
	return c->args[i].data;
}

/* Whether argument i is word (case-insensitive). */
int kvresp_arg_is(const struct kvresp_cmd *c, size_t i, const char *word)
{
	size_t len;
	const char *a = kvresp_arg(c, i, &len);
	return a && len == strlen(word) && strncasecmp(a, word, len) == 0;
}

/* Parse len bytes as a Redis integer (optional '-', digits, no spaces, no
 * leading zeros), as INCR reads a stored value and commands read counts. */
int kvresp_value_ll(const uint8_t *v, size_t len, int64_t *out)
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
int kvresp_arg_ll(const struct kvresp_cmd *c, size_t i, int64_t *v)
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

void kvresp_wrong_args(struct kvresp_cmd *c)
{
	char name[64], text[128];
	kvresp_lower_name(c, name, sizeof(name));
	snprintf(text, sizeof(text), "ERR wrong number of arguments for '%s' command", name);
	kvresp_error(c->o, text);
}

void kvresp_unknown_subcommand(struct kvresp_cmd *c)
{
	size_t len;
	const char *sub = kvresp_arg(c, 0, &len);
	kvresp_mark_error(c->o, "ERR");
	kvresp_str(c->o, "-ERR unknown subcommand '");
	kvresp_quoted(c->o, sub, len, 64);
	kvresp_str(c->o, "'. Try ");
	kvresp_raw(c->o, c->name, c->name_len);
	kvresp_str(c->o, " HELP.\r\n");
}

void kvresp_bad_expire(struct kvresp_cmd *c)
{
	char name[64], text[128];
	kvresp_lower_name(c, name, sizeof(name));
	snprintf(text, sizeof(text), "ERR invalid expire time in '%s' command", name);
	kvresp_error(c->o, text);
}

void kvresp_unknown_command(struct kvresp_cmd *c)
{
	struct kvresp_out *o = c->o;
	kvresp_mark_error(o, "ERR");
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

/* ---- connection commands ------------------------------------------------------------ */

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

/* TIME: the server's clock, seconds and microseconds, as two bulks. */
static void kvresp_cmd_time(struct kvresp_cmd *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char sec[24], usec[24];
	snprintf(sec, sizeof(sec), "%lld", (long long)ts.tv_sec);
	snprintf(usec, sizeof(usec), "%ld", ts.tv_nsec / 1000);
	kvresp_array(c->o, 2);
	kvresp_cbulk(c->o, sec);
	kvresp_cbulk(c->o, usec);
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
		kvresp_unknown_subcommand(c);
	}
}

/* ---- the command table and dispatch --------------------------------------------------- */

static void kvresp_cmd_command(struct kvresp_cmd *c);

static const struct kvresp_command kvresp_commands[] = {
    {"GET", 3, 2, kvdb_cmd_get, 0},
    {"SET", 3, -3, kvdb_cmd_set, 0},
    {"PING", 4, -1, kvresp_cmd_ping, 0},
    {"DEL", 3, -2, kvkeys_cmd_count, 0},
    {"EXISTS", 6, -2, kvkeys_cmd_count, 0},
    {"INCR", 4, 2, kvnum_cmd_incr, 0},
    {"DECR", 4, 2, kvnum_cmd_incr, 0},
    {"INCRBY", 6, 3, kvnum_cmd_incr, 0},
    {"DECRBY", 6, 3, kvnum_cmd_incr, 0},
    {"INCRBYFLOAT", 11, 3, kvnum_cmd_incrbyfloat, 0},
    {"MGET", 4, -2, kvdb_cmd_mget, 0},
    {"MSET", 4, -3, kvdb_cmd_mset, 0},
    {"SETEX", 5, 4, kvdb_cmd_setex, 0},
    {"PSETEX", 6, 4, kvdb_cmd_setex, 0},
    {"SETNX", 5, 3, kvdb_cmd_setnx, 0},
    {"GETSET", 6, 3, kvdb_cmd_getset, 0},
    {"GETDEL", 6, 2, kvdb_cmd_get, 0},
    {"STRLEN", 6, 2, kvdb_cmd_strlen, 0},
    {"APPEND", 6, 3, kvdb_cmd_append, 0},
    {"SETRANGE", 8, 4, kvdb_cmd_setrange, 0},
    {"GETRANGE", 8, 4, kvdb_cmd_getrange, 0},
    {"GETBIT", 6, 3, kvbits_cmd_getbit, 0},
    {"SETBIT", 6, 4, kvbits_cmd_setbit, 0},
    {"BITCOUNT", 8, -2, kvbits_cmd_bitcount, 0},
    {"GETEX", 5, -2, kvdb_cmd_getex, 0},
    {"MSETNX", 6, -3, kvdb_cmd_mset, 0},
    {"RENAME", 6, 3, kvkeys_cmd_rename, 0},
    {"RENAMENX", 8, 3, kvkeys_cmd_rename, 0},
    {"COPY", 4, -3, kvkeys_cmd_rename, 0},
    {"RANDOMKEY", 9, 1, kvkeys_cmd_randomkey, 0},
    {"MEMORY", 6, -2, kvkeys_cmd_memory, 0},
    {"UNLINK", 6, -2, kvkeys_cmd_count, 0},
    {"TOUCH", 5, -2, kvkeys_cmd_count, 0},
    {"EXPIRE", 6, -3, kvkeys_cmd_expire, 0},
    {"PEXPIRE", 7, -3, kvkeys_cmd_expire, 0},
    {"EXPIREAT", 8, -3, kvkeys_cmd_expire, 0},
    {"PEXPIREAT", 9, -3, kvkeys_cmd_expire, 0},
    {"TTL", 3, 2, kvkeys_cmd_ttl, 0},
    {"PTTL", 4, 2, kvkeys_cmd_ttl, 0},
    {"EXPIRETIME", 10, 2, kvkeys_cmd_ttl, 0},
    {"PEXPIRETIME", 11, 2, kvkeys_cmd_ttl, 0},
    {"PERSIST", 7, 2, kvkeys_cmd_persist, 0},
    {"TYPE", 4, 2, kvkeys_cmd_type, 0},
    {"KEYS", 4, 2, kvkeys_cmd_keys, 0},
    {"SCAN", 4, -2, kvkeys_cmd_scan, 0},
    {"ECHO", 4, 2, kvresp_cmd_echo, 0},
    {"TIME", 4, 1, kvresp_cmd_time, 0},
    {"DBSIZE", 6, 1, kvdb_cmd_dbsize, 0},
    {"FLUSHALL", 8, -1, kvdb_cmd_flush, 0},
    {"FLUSHDB", 7, -1, kvdb_cmd_flush, 0},
    {"COMMAND", 7, -1, kvresp_cmd_command, 0},
    {"INFO", 4, -1, kvdb_cmd_info, 0},
    {"HELLO", 5, -1, kvresp_cmd_hello, KVRESP_NO_MULTI},
    {"AUTH", 4, -2, kvresp_cmd_auth, KVRESP_NO_MULTI},
    {"QUIT", 4, -1, kvresp_cmd_quit, KVRESP_NOW},
    {"SELECT", 6, 2, kvresp_cmd_select, 0},
    {"CLIENT", 6, -2, kvresp_cmd_client, 0},
    {"CONFIG", 6, -2, kvdb_cmd_config, 0},
    {"MULTI", 5, 1, kvmulti_cmd_multi, KVRESP_NOW},
    {"EXEC", 4, 1, kvmulti_cmd_exec, KVRESP_NOW},
    {"DISCARD", 7, 1, kvmulti_cmd_discard, KVRESP_NOW},
    {"WATCH", 5, -2, kvmulti_cmd_watch, KVRESP_NOW},
    {"UNWATCH", 7, 1, kvmulti_cmd_unwatch, KVRESP_NOW},
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
	kvresp_unknown_subcommand(c);
}

const struct kvresp_command *kvresp_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < KVRESP_N_COMMANDS; i++) {
		const struct kvresp_command *k = &kvresp_commands[i];
		if (k->len == len && k->name[0] == name[0] && memcmp(k->name, name, len) == 0)
			return &kvresp_commands[i];
	}
	return NULL;
}

int kvresp_arity_ok(const struct kvresp_cmd *c, const struct kvresp_command *cmd)
{
	return cmd->arity > 0 ? c->argc + 1 == (size_t)cmd->arity
	                      : c->argc + 1 >= (size_t)-cmd->arity;
}

/* A RESP request (see kv.h). */
int kvresp_handle(struct kv_instance *inst, mh_msg *req, mh_msg *reply)
{
	struct kvresp_out o;
	o.body = host->msg_body(reply);
	o.proto = kvresp_request_proto(req);
	o.failed = 0;
	o.error_status = 0;
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
	if (kvmulti_intercept(&c, cmd))
		; /* queued for EXEC, or refused */
	else if (!cmd)
		kvresp_unknown_command(&c);
	else if (!kvresp_arity_ok(&c, cmd))
		kvresp_wrong_args(&c);
	else
		cmd->run(&c);
	kvresp_flush(&o);
	if (o.failed) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	if (o.error_status)
		host->msg_set_status(reply, o.error_status);
	host->msg_set_form(reply, MH_REPLY_RAW);
	return c.close ? MH_HANDLE_CLOSE : MH_HANDLE_DONE;
}
