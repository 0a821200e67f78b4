/* tests/unit/check_kv.c — the kv handler, loaded from the built .so with
 * the host's own loader and driven through the host function table
 * without sockets: strings and counters, expiry without waiting, the
 * server commands and their errors, transactions, the memory cap and LRU
 * eviction.  The store itself has its own suite, check_kvstore.c.
 *
 * The environment is tests/unit/modenv.c, as in check_resp.c. */
#include "build-config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "buf.h"
#include "conn.h"
#include "kv.h"
#include "kvstore.h"
#include "loader.h"
#include "modenv.h"
#include "msg.h"

/* ---- the kv handler, driven directly ----------------------------------------------- */

/* Run one command ("SET|k|v" — '|' separates the words) through the kv
 * handler in RESP version proto; returns the reply's wire text in a
 * static buffer.  *rc gets the handler's result when not NULL. */
static const char *kv_run_v(struct modenv *e, int proto, const char *cmdline, int *rc)
{
	static char text[65536];
	struct mh_msg *req = msg_new(e->conn), *reply = msg_new(e->conn);
	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_nonnull(reply);
	req->reply = reply;
	reply->request = req;
	char version = (char)('0' + proto);
	msg_field_set(req, MH_FIELD_PROTOCOL, "resp", 4);
	msg_field_set(req, MH_FIELD_VERSION, &version, 1);
	const char *p = cmdline;
	for (int i = 0;; i++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (i == 0)
			msg_field_set(req, MH_FIELD_COMMAND, p, len);
		else
			msg_arg_add(req, p, len);
		if (!bar)
			break;
		p = bar + 1;
	}
	int r = e->inst.desc->handler->handle(&e->inst, (mh_msg *)req, (mh_msg *)reply);
	if (rc)
		*rc = r;
	else
		ck_assert_int_eq(r, MH_HANDLE_DONE);
	ck_assert_int_eq(reply->form, MH_REPLY_RAW);
	size_t n = buf_peek(msg_body(reply), text, sizeof(text) - 1);
	text[n] = '\0';
	msg_free(req);
	return text;
}

static const char *kv_run(struct modenv *e, const char *cmdline)
{
	return kv_run_v(e, 2, cmdline, NULL);
}

#define KV_EXPECT(e, cmd, want) ck_assert_str_eq(kv_run(e, cmd), want)

START_TEST(kv_strings_and_counters)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-strings", NULL);
	KV_EXPECT(&e, "GET|a", "$-1\r\n");
	KV_EXPECT(&e, "SET|a|hello", "+OK\r\n");
	KV_EXPECT(&e, "GET|a", "$5\r\nhello\r\n");
	KV_EXPECT(&e, "SET|a|x|NX", "$-1\r\n");
	KV_EXPECT(&e, "SET|b|x|XX", "$-1\r\n");
	KV_EXPECT(&e, "SET|a|bye|XX|GET", "$5\r\nhello\r\n");
	KV_EXPECT(&e, "SET|a|b|NX|XX", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "SET|a|b|EX|0", "-ERR invalid expire time in 'set' command\r\n");
	KV_EXPECT(&e, "SET|a|b|EX|x", "-ERR value is not an integer or out of range\r\n");
	KV_EXPECT(&e, "INCR|n", ":1\r\n");
	KV_EXPECT(&e, "INCRBY|n|41", ":42\r\n");
	KV_EXPECT(&e, "DECRBY|n|50", ":-8\r\n");
	KV_EXPECT(&e, "DECR|n", ":-9\r\n");
	KV_EXPECT(&e, "INCR|a", "-ERR value is not an integer or out of range\r\n");
	KV_EXPECT(&e, "SET|big|9223372036854775807", "+OK\r\n");
	KV_EXPECT(&e, "INCR|big", "-ERR increment or decrement would overflow\r\n");
	KV_EXPECT(&e, "MSET|x|1|y|2", "+OK\r\n");
	KV_EXPECT(&e, "MSET|x|1|y", "-ERR wrong number of arguments for 'mset' command\r\n");
	KV_EXPECT(&e, "MGET|x|nope|y", "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
	KV_EXPECT(&e, "EXISTS|x|y|x|nope", ":3\r\n");
	KV_EXPECT(&e, "DBSIZE", ":5\r\n");
	KV_EXPECT(&e, "DEL|x|y|nope", ":2\r\n");
	KV_EXPECT(&e, "TYPE|a", "+string\r\n");
	KV_EXPECT(&e, "FLUSHALL", "+OK\r\n");
	KV_EXPECT(&e, "DBSIZE", ":0\r\n");
	modenv_close(&e);
}
END_TEST

/* GETBIT, SETBIT (growing the value with zero bytes, keeping the TTL) and
 * BITCOUNT over byte and bit ranges, with Redis's documented examples. */
START_TEST(kv_bit_commands)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-bits", NULL);
	KV_EXPECT(&e, "SETBIT|b|7|1", ":0\r\n");
	KV_EXPECT(&e, "GETBIT|b|7", ":1\r\n");
	KV_EXPECT(&e, "GET|b", "$1\r\n\x01\r\n");
	KV_EXPECT(&e, "SETBIT|b|7|0", ":1\r\n");
	KV_EXPECT(&e, "EXPIRE|b|100", ":1\r\n");
	KV_EXPECT(&e, "SETBIT|b|100|1", ":0\r\n"); /* byte 12: the value grows to 13 */
	KV_EXPECT(&e, "STRLEN|b", ":13\r\n");
	KV_EXPECT(&e, "TTL|b", ":100\r\n");
	KV_EXPECT(&e, "GETBIT|b|100", ":1\r\n");
	KV_EXPECT(&e, "GETBIT|b|99", ":0\r\n");
	KV_EXPECT(&e, "GETBIT|b|1000000", ":0\r\n");
	KV_EXPECT(&e, "GETBIT|none|5", ":0\r\n");
	KV_EXPECT(&e, "BITCOUNT|b", ":1\r\n");
	KV_EXPECT(&e, "SETBIT|b|4294967296|1",
	          "-ERR bit offset is not an integer or out of range\r\n");
	KV_EXPECT(&e, "SETBIT|b|-1|1", "-ERR bit offset is not an integer or out of range\r\n");
	KV_EXPECT(&e, "SETBIT|b|1|2", "-ERR bit is not an integer or out of range\r\n");
	KV_EXPECT(&e, "SET|m|foobar", "+OK\r\n");
	KV_EXPECT(&e, "BITCOUNT|m", ":26\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|0|0", ":4\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|1|1", ":6\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|1|1|BYTE", ":6\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|5|30|BIT", ":17\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|-2|-1", ":7\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|-1|-2", ":0\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|0|100", ":26\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|0", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "BITCOUNT|m|0|1|WORD", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "BITCOUNT|none", ":0\r\n");
	/* More than 8 bytes between the ends: the word-at-a-time part. */
	KV_EXPECT(&e, "SET|w|ABCDEFGHIJKLMNOPQRSTUVWXYZ", "+OK\r\n");
	KV_EXPECT(&e, "BITCOUNT|w", ":86\r\n");
	KV_EXPECT(&e, "BITCOUNT|w|3|204|BIT", ":84\r\n");
	modenv_close(&e);
}
END_TEST

/* INCRBYFLOAT as Redis documents it: 17 decimals with the trailing zeros
 * dropped, exponents accepted, the TTL kept, NaN and infinity refused;
 * TIME. */
START_TEST(kv_incrbyfloat_and_time)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-float", NULL);
	KV_EXPECT(&e, "SET|f|10.50|EX|100", "+OK\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f|0.1", "$4\r\n10.6\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f|-5", "$3\r\n5.6\r\n");
	KV_EXPECT(&e, "TTL|f", ":100\r\n");
	KV_EXPECT(&e, "SET|f|5.0e3", "+OK\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f|2.0e2", "$4\r\n5200\r\n");
	KV_EXPECT(&e, "GET|f", "$4\r\n5200\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|new|3", "$1\r\n3\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|new|-3", "$1\r\n0\r\n"); /* not -0 */
	KV_EXPECT(&e, "INCRBYFLOAT|new|-0.25", "$5\r\n-0.25\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f|abc", "-ERR value is not a valid float\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f| 1", "-ERR value is not a valid float\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f|1 ", "-ERR value is not a valid float\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f|nan", "-ERR value is not a valid float\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f|", "-ERR value is not a valid float\r\n");
	KV_EXPECT(&e, "SET|s|hello", "+OK\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|s|1", "-ERR value is not a valid float\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f|inf", "-ERR increment would produce NaN or Infinity\r\n");
	KV_EXPECT(&e, "SET|huge|1e4932", "+OK\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|huge|1e4932",
	          "-ERR increment would produce NaN or Infinity\r\n");
	KV_EXPECT(&e, "GET|s", "$5\r\nhello\r\n");
	KV_EXPECT(&e, "INCRBYFLOAT|f",
	          "-ERR wrong number of arguments for 'incrbyfloat' command\r\n");

	const char *t = kv_run(&e, "TIME");
	long long sec = 0, usec = -1;
	int n1 = 0;
	ck_assert_msg(sscanf(t, "*2\r\n$%d\r\n%lld\r\n$%*d\r\n%lld\r\n", &n1, &sec, &usec) == 3,
	              "TIME: %s", t);
	long long now = (long long)time(NULL);
	ck_assert_msg(sec >= now - 5 && sec <= now + 5 && usec >= 0 && usec < 1000000, "TIME: %s",
	              t);
	modenv_close(&e);
}
END_TEST

START_TEST(kv_older_string_forms)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-forms", NULL);
	KV_EXPECT(&e, "SETNX|a|1", ":1\r\n");
	KV_EXPECT(&e, "SETNX|a|2", ":0\r\n");
	KV_EXPECT(&e, "GET|a", "$1\r\n1\r\n");
	KV_EXPECT(&e, "SETEX|s|100|v", "+OK\r\n");
	KV_EXPECT(&e, "TTL|s", ":100\r\n");
	KV_EXPECT(&e, "PSETEX|p|100000|v", "+OK\r\n");
	KV_EXPECT(&e, "TTL|p", ":100\r\n");
	KV_EXPECT(&e, "SETEX|s|0|v", "-ERR invalid expire time in 'setex' command\r\n");
	KV_EXPECT(&e, "PSETEX|s|-5|v", "-ERR invalid expire time in 'psetex' command\r\n");
	KV_EXPECT(&e, "SETEX|s|x|v", "-ERR value is not an integer or out of range\r\n");
	KV_EXPECT(&e, "SETEX|s|1", "-ERR wrong number of arguments for 'setex' command\r\n");
	/* GETSET answers the old value and drops the old expiry. */
	KV_EXPECT(&e, "GETSET|s|w", "$1\r\nv\r\n");
	KV_EXPECT(&e, "TTL|s", ":-1\r\n");
	KV_EXPECT(&e, "GETSET|new|w", "$-1\r\n");
	KV_EXPECT(&e, "GETDEL|new", "$1\r\nw\r\n");
	KV_EXPECT(&e, "EXISTS|new", ":0\r\n");
	KV_EXPECT(&e, "GETDEL|new", "$-1\r\n");
	/* APPEND creates, extends and keeps the time to live. */
	KV_EXPECT(&e, "APPEND|ap|hello", ":5\r\n");
	KV_EXPECT(&e, "EXPIRE|ap|500", ":1\r\n");
	KV_EXPECT(&e, "APPEND|ap| world", ":11\r\n");
	KV_EXPECT(&e, "GET|ap", "$11\r\nhello world\r\n");
	KV_EXPECT(&e, "TTL|ap", ":500\r\n");
	KV_EXPECT(&e, "APPEND|ap|", ":11\r\n");
	KV_EXPECT(&e, "STRLEN|ap", ":11\r\n");
	KV_EXPECT(&e, "STRLEN|nope", ":0\r\n");
	KV_EXPECT(&e, "SET|n|41", "+OK\r\n");
	KV_EXPECT(&e, "APPEND|n|9", ":3\r\n");
	KV_EXPECT(&e, "INCR|n", ":420\r\n");
	modenv_close(&e);
}
END_TEST

/* The item holding key now, or NULL. */
static const kvstore_item *kv_item(struct modenv *e, const char *key)
{
	struct kv_instance *inst = e->inst.data;
	int64_t now = 0;
	return kvstore_find(inst->store, key, strlen(key), &now, 0);
}

/* A value built by APPEND moves to a larger slot now and then, not on
 * every APPEND, and SETRANGE and SETBIT inside a value leave it in place. */
START_TEST(kv_append_grows_in_place)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-append", NULL);
	enum { APPENDS = 3000, PIECE = 40 };
	const kvstore_item *at = NULL;
	int moves = 0;
	char cmd[64];
	for (int i = 0; i < APPENDS; i++) {
		/* Every piece is PIECE bytes of the letter of its number. */
		int n = snprintf(cmd, sizeof(cmd), "APPEND|a|");
		memset(cmd + n, 'a' + i % 26, PIECE);
		cmd[n + PIECE] = '\0';
		char want[32];
		snprintf(want, sizeof(want), ":%d\r\n", (i + 1) * PIECE);
		KV_EXPECT(&e, cmd, want);
		const kvstore_item *it = kv_item(&e, "a");
		moves += it != at;
		at = it;
	}
	/* Each move leaves as much room again (up to 1 MiB): about log2 of
	 * 3000 moves, where a move per APPEND would be 3000. */
	ck_assert_int_le(moves, 20);
	for (int i = 0; i < APPENDS; i += 997) {
		char want[PIECE + 16];
		snprintf(cmd, sizeof(cmd), "GETRANGE|a|%d|%d", i * PIECE, (i + 1) * PIECE - 1);
		int n = snprintf(want, sizeof(want), "$%d\r\n", PIECE);
		memset(want + n, 'a' + i % 26, PIECE);
		snprintf(want + n + PIECE, sizeof(want) - (size_t)n - PIECE, "\r\n");
		KV_EXPECT(&e, cmd, want);
	}
	KV_EXPECT(&e, "SETRANGE|a|5|XYZ", ":120000\r\n");
	KV_EXPECT(&e, "SETBIT|a|0|1", ":0\r\n");
	KV_EXPECT(&e, "GETRANGE|a|0|9",
	          "$10\r\n\xe1"
	          "aaaaXYZaa\r\n");
	ck_assert_ptr_eq(kv_item(&e, "a"), at);
	modenv_close(&e);
}
END_TEST

START_TEST(kv_ranges_getex_msetnx)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-ranges", NULL);
	KV_EXPECT(&e, "SET|s|Hello World", "+OK\r\n");
	KV_EXPECT(&e, "GETRANGE|s|0|4", "$5\r\nHello\r\n");
	KV_EXPECT(&e, "GETRANGE|s|-5|-1", "$5\r\nWorld\r\n");
	KV_EXPECT(&e, "GETRANGE|s|-100|2", "$3\r\nHel\r\n");
	KV_EXPECT(&e, "GETRANGE|s|6|1000", "$5\r\nWorld\r\n");
	KV_EXPECT(&e, "GETRANGE|s|5|3", "$0\r\n\r\n");
	KV_EXPECT(&e, "GETRANGE|s|-1|-5", "$0\r\n\r\n");
	KV_EXPECT(&e, "GETRANGE|nope|0|-1", "$0\r\n\r\n");
	KV_EXPECT(&e, "GETRANGE|s|x|1", "-ERR value is not an integer or out of range\r\n");
	KV_EXPECT(&e, "SETRANGE|s|6|Redis", ":11\r\n");
	KV_EXPECT(&e, "GET|s", "$11\r\nHello Redis\r\n");
	/* Past the end: zero bytes fill the gap. */
	KV_EXPECT(&e, "SETRANGE|z|3|ab", ":5\r\n");
	ck_assert_msg(memcmp(kv_run(&e, "GET|z"), "$5\r\n\0\0\0ab\r\n", 11) == 0,
	              "the gap is not zero bytes");
	KV_EXPECT(&e, "GETRANGE|z|3|4", "$2\r\nab\r\n");
	KV_EXPECT(&e, "SETRANGE|none|4|", ":0\r\n");
	KV_EXPECT(&e, "EXISTS|none", ":0\r\n");
	KV_EXPECT(&e, "SETRANGE|s|-1|x", "-ERR offset is out of range\r\n");
	KV_EXPECT(&e, "SETRANGE|s|536870911|xy",
	          "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
	/* GETEX sets, drops or ends the expiry. */
	KV_EXPECT(&e, "GETEX|s|EX|100", "$11\r\nHello Redis\r\n");
	KV_EXPECT(&e, "TTL|s", ":100\r\n");
	KV_EXPECT(&e, "GETEX|s|PERSIST", "$11\r\nHello Redis\r\n");
	KV_EXPECT(&e, "TTL|s", ":-1\r\n");
	KV_EXPECT(&e, "GETEX|s", "$11\r\nHello Redis\r\n");
	KV_EXPECT(&e, "GETEX|s|EX|0", "-ERR invalid expire time in 'getex' command\r\n");
	KV_EXPECT(&e, "GETEX|s|EX|1|PX|5", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "GETEX|s|SOON", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "GETEX|s|PXAT|1", "$11\r\nHello Redis\r\n");
	KV_EXPECT(&e, "EXISTS|s", ":0\r\n");
	KV_EXPECT(&e, "GETEX|s", "$-1\r\n");
	/* MSETNX sets all or none. */
	KV_EXPECT(&e, "MSETNX|a|1|b|2", ":1\r\n");
	KV_EXPECT(&e, "MSETNX|b|3|c|4", ":0\r\n");
	KV_EXPECT(&e, "MGET|a|b|c", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_rename_copy_randomkey)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-rename", NULL);
	KV_EXPECT(&e, "RANDOMKEY", "$-1\r\n");
	KV_EXPECT(&e, "SET|a|1|EX|100", "+OK\r\n");
	KV_EXPECT(&e, "RENAME|a|b", "+OK\r\n");
	KV_EXPECT(&e, "EXISTS|a", ":0\r\n");
	KV_EXPECT(&e, "GET|b", "$1\r\n1\r\n");
	KV_EXPECT(&e, "TTL|b", ":100\r\n");
	KV_EXPECT(&e, "RENAME|a|b", "-ERR no such key\r\n");
	KV_EXPECT(&e, "RENAME|b|b", "+OK\r\n");
	KV_EXPECT(&e, "SET|c|3", "+OK\r\n");
	KV_EXPECT(&e, "RENAMENX|b|c", ":0\r\n");
	KV_EXPECT(&e, "RENAMENX|b|d", ":1\r\n");
	KV_EXPECT(&e, "RENAME|d|c", "+OK\r\n");
	KV_EXPECT(&e, "GET|c", "$1\r\n1\r\n");
	KV_EXPECT(&e, "COPY|c|e", ":1\r\n");
	KV_EXPECT(&e, "COPY|c|e", ":0\r\n");
	KV_EXPECT(&e, "SET|c|9", "+OK\r\n");
	KV_EXPECT(&e, "COPY|c|e|REPLACE", ":1\r\n");
	KV_EXPECT(&e, "MGET|c|e", "*2\r\n$1\r\n9\r\n$1\r\n9\r\n");
	KV_EXPECT(&e, "COPY|c|c", "-ERR source and destination objects are the same\r\n");
	KV_EXPECT(&e, "COPY|nope|x", ":0\r\n");
	KV_EXPECT(&e, "COPY|c|x|DB|1", "-ERR syntax error\r\n");
	/* RANDOMKEY finds the one key, and over many calls both of two. */
	KV_EXPECT(&e, "DEL|c", ":1\r\n");
	KV_EXPECT(&e, "RANDOMKEY", "$1\r\ne\r\n");
	KV_EXPECT(&e, "SET|f|x", "+OK\r\n");
	int seen_e = 0, seen_f = 0;
	for (int i = 0; i < 200 && !(seen_e && seen_f); i++) {
		const char *r = kv_run(&e, "RANDOMKEY");
		seen_e |= strcmp(r, "$1\r\ne\r\n") == 0;
		seen_f |= strcmp(r, "$1\r\nf\r\n") == 0;
	}
	ck_assert_msg(seen_e && seen_f, "RANDOMKEY: e %d, f %d times", seen_e, seen_f);
	/* MEMORY USAGE: the slot's bytes, larger for a larger value. */
	long small = 0, big = 0;
	ck_assert_int_eq(sscanf(kv_run(&e, "MEMORY|USAGE|e"), ":%ld", &small), 1);
	char cmd[1100] = "SET|big|";
	memset(cmd + 8, 'v', 1000);
	cmd[1008] = '\0';
	KV_EXPECT(&e, cmd, "+OK\r\n");
	ck_assert_int_eq(sscanf(kv_run(&e, "MEMORY|USAGE|big|SAMPLES|0"), ":%ld", &big), 1);
	ck_assert_msg(small >= 64 && big > 1000 && big > small, "MEMORY USAGE %ld, %ld", small,
	              big);
	KV_EXPECT(&e, "MEMORY|USAGE|nope", "$-1\r\n");
	KV_EXPECT(&e, "MEMORY|USAGE|e|SAMPLES", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "MEMORY|DOCTOR", "-ERR unknown subcommand 'DOCTOR'. Try MEMORY HELP.\r\n");
	KV_EXPECT(&e, "CLIENT|KILL", "-ERR unknown subcommand 'KILL'. Try CLIENT HELP.\r\n");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_key_commands)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-keys", NULL);
	KV_EXPECT(&e, "MSET|a|1|b|2|c|3", "+OK\r\n");
	KV_EXPECT(&e, "TOUCH|a|b|nope|a", ":3\r\n");
	KV_EXPECT(&e, "UNLINK|a|nope", ":1\r\n");
	KV_EXPECT(&e, "EXISTS|a|b", ":1\r\n");
	/* EXPIREAT and EXPIRETIME speak the wall clock; a past time deletes. */
	char cmd[64], want[64];
	long long in_an_hour = (long long)time(NULL) + 3600;
	snprintf(cmd, sizeof(cmd), "EXPIREAT|b|%lld", in_an_hour);
	KV_EXPECT(&e, cmd, ":1\r\n");
	const char *ttl = kv_run(&e, "TTL|b");
	ck_assert_msg(strcmp(ttl, ":3600\r\n") == 0 || strcmp(ttl, ":3599\r\n") == 0, "%s", ttl);
	long long at = -9;
	ck_assert_int_eq(sscanf(kv_run(&e, "EXPIRETIME|b"), ":%lld", &at), 1);
	ck_assert_msg(at >= in_an_hour - 1 && at <= in_an_hour, "EXPIRETIME %lld, set %lld", at,
	              in_an_hour);
	ck_assert_int_eq(sscanf(kv_run(&e, "PEXPIRETIME|b"), ":%lld", &at), 1);
	ck_assert_msg(at >= (in_an_hour - 1) * 1000 && at <= in_an_hour * 1000 + 999,
	              "PEXPIRETIME %lld", at);
	snprintf(cmd, sizeof(cmd), "PEXPIREAT|b|%lld|GT", in_an_hour * 1000 - 60000);
	KV_EXPECT(&e, cmd, ":0\r\n");
	KV_EXPECT(&e, "EXPIRETIME|c", ":-1\r\n");
	KV_EXPECT(&e, "EXPIRETIME|nope", ":-2\r\n");
	snprintf(cmd, sizeof(cmd), "EXPIREAT|c|%lld", (long long)time(NULL) - 10);
	KV_EXPECT(&e, cmd, ":1\r\n");
	KV_EXPECT(&e, "EXISTS|c", ":0\r\n");
	snprintf(want, sizeof(want), "*1\r\n$1\r\nb\r\n");
	KV_EXPECT(&e, "KEYS|*", want);
	modenv_close(&e);
}
END_TEST

static int kv_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* KEYS' answer as a sorted, space-separated list of its keys. */
static const char *kv_keys(struct modenv *e, const char *pattern)
{
	static char list[4096];
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "KEYS|%s", pattern);
	const char *r = kv_run(e, cmd);
	long n = 0;
	ck_assert_msg(sscanf(r, "*%ld", &n) == 1, "%s", r);
	char *keys[64];
	ck_assert_int_le(n, 64);
	r = strchr(r, '\n') + 1;
	for (long i = 0; i < n; i++) {
		long len = 0;
		ck_assert_int_eq(sscanf(r, "$%ld", &len), 1);
		r = strchr(r, '\n') + 1;
		keys[i] = strndup(r, (size_t)len);
		r += len + 2;
	}
	qsort(keys, (size_t)n, sizeof(keys[0]), kv_strcmp_p);
	list[0] = '\0';
	for (long i = 0; i < n; i++) {
		if (i)
			strcat(list, " ");
		strcat(list, keys[i]);
		free(keys[i]);
	}
	return list;
}

START_TEST(kv_keys_glob_patterns)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-glob", NULL);
	KV_EXPECT(&e, "MSET|hello|1|hallo|1|hxllo|1|hllo|1|heeeello|1|h*llo|1|h]|1|a-b|1", "+OK\r\n");
	ck_assert_str_eq(kv_keys(&e, "*"), "a-b h*llo h] hallo heeeello hello hllo hxllo");
	ck_assert_str_eq(kv_keys(&e, "h?llo"), "h*llo hallo hello hxllo");
	ck_assert_str_eq(kv_keys(&e, "h*llo"), "h*llo hallo heeeello hello hllo hxllo");
	ck_assert_str_eq(kv_keys(&e, "h[ae]llo"), "hallo hello");
	ck_assert_str_eq(kv_keys(&e, "h[^e]llo"), "h*llo hallo hxllo");
	ck_assert_str_eq(kv_keys(&e, "h[a-b]llo"), "hallo");
	ck_assert_str_eq(kv_keys(&e, "h[b-a]llo"), "hallo");
	ck_assert_str_eq(kv_keys(&e, "h\\*llo"), "h*llo");
	ck_assert_str_eq(kv_keys(&e, "h[\\]]"), "h]");
	ck_assert_str_eq(kv_keys(&e, "a[-]b"), "a-b");
	ck_assert_str_eq(kv_keys(&e, "**e*e*o"), "heeeello");
	ck_assert_str_eq(kv_keys(&e, "nothing*"), "");
	ck_assert_str_eq(kv_keys(&e, "hello?"), "");
	/* A pattern that backtracks a lot still answers at once: the
	 * matcher retries only its last star. */
	KV_EXPECT(&e, "SET|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab|1",
	          "+OK\r\n");
	ck_assert_str_eq(kv_keys(&e, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c"), "");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_scan_walks_every_key_once)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-scan", NULL);
	enum { N = 300 };
	static int seen[N];
	char cmd[64];
	for (int i = 0; i < N; i++) {
		snprintf(cmd, sizeof(cmd), "SET|k%d|v", i);
		KV_EXPECT(&e, cmd, "+OK\r\n");
	}
	KV_EXPECT(&e, "SET|other|v", "+OK\r\n");
	/* The table does not change between these calls, so each key comes
	 * exactly once; COUNT 7 takes several rounds. */
	char cursor[32] = "0";
	int rounds = 0;
	do {
		snprintf(cmd, sizeof(cmd), "SCAN|%s|MATCH|k*|COUNT|7", cursor);
		const char *r = kv_run(&e, cmd);
		long clen, n;
		ck_assert_msg(sscanf(r, "*2\r\n$%ld\r\n", &clen) == 1, "%s", r);
		r = strchr(r + 4, '\n') + 1;
		ck_assert_int_lt(clen, (long)sizeof(cursor));
		memcpy(cursor, r, (size_t)clen);
		cursor[clen] = '\0';
		r += clen + 2;
		ck_assert_int_eq(sscanf(r, "*%ld", &n), 1);
		r = strchr(r, '\n') + 1;
		for (long i = 0; i < n; i++) {
			long len;
			int k;
			ck_assert_int_eq(sscanf(r, "$%ld\r\nk%d\r\n", &len, &k), 2);
			ck_assert_int_lt(k, N);
			seen[k]++;
			r = strchr(r, '\n') + 1;
			r += len + 2;
		}
		rounds++;
	} while (strcmp(cursor, "0") != 0);
	for (int i = 0; i < N; i++)
		ck_assert_msg(seen[i] == 1, "k%d came %d times", i, seen[i]);
	ck_assert_int_gt(rounds, 5);
	KV_EXPECT(&e, "SCAN|0|TYPE|hash|COUNT|1000", "*2\r\n$1\r\n0\r\n*0\r\n");
	KV_EXPECT(&e, "SCAN|x", "-ERR invalid cursor\r\n");
	KV_EXPECT(&e, "SCAN|-1", "-ERR invalid cursor\r\n");
	KV_EXPECT(&e, "SCAN|18446744073709551616", "-ERR invalid cursor\r\n");
	KV_EXPECT(&e, "SCAN|0|COUNT|0", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "SCAN|0|MATCH", "-ERR syntax error\r\n");
	KV_EXPECT(&e, "SCAN|0|SIZE|1", "-ERR syntax error\r\n");
	/* Any cursor is accepted, even one the server never gave out. */
	const char *r = kv_run(&e, "SCAN|18446744073709551615|COUNT|1");
	ck_assert_msg(strncmp(r, "*2\r\n", 4) == 0, "%s", r);
	modenv_close(&e);
}
END_TEST

START_TEST(kv_expiry_without_waiting)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-expiry", NULL);
	KV_EXPECT(&e, "TTL|k", ":-2\r\n");
	KV_EXPECT(&e, "SET|k|v", "+OK\r\n");
	KV_EXPECT(&e, "TTL|k", ":-1\r\n");
	KV_EXPECT(&e, "EXPIRE|k|100", ":1\r\n");
	KV_EXPECT(&e, "TTL|k", ":100\r\n");
	KV_EXPECT(&e, "EXPIRE|k|50|GT", ":0\r\n");
	KV_EXPECT(&e, "EXPIRE|k|50|LT", ":1\r\n");
	KV_EXPECT(&e, "TTL|k", ":50\r\n");
	KV_EXPECT(&e, "INCR|k", "-ERR value is not an integer or out of range\r\n");
	KV_EXPECT(&e, "PERSIST|k", ":1\r\n");
	KV_EXPECT(&e, "TTL|k", ":-1\r\n");
	KV_EXPECT(&e, "EXPIRE|nope|10", ":0\r\n");
	/* A time in the past expires the key at once. */
	KV_EXPECT(&e, "EXPIRE|k|-1", ":1\r\n");
	KV_EXPECT(&e, "GET|k", "$-1\r\n");
	KV_EXPECT(&e, "SET|k|v|PXAT|1", "+OK\r\n");
	KV_EXPECT(&e, "EXISTS|k", ":0\r\n");
	/* INCR keeps the key's time to live. */
	KV_EXPECT(&e, "SET|n|1|EX|1000", "+OK\r\n");
	KV_EXPECT(&e, "INCR|n", ":2\r\n");
	KV_EXPECT(&e, "TTL|n", ":1000\r\n");
	KV_EXPECT(&e, "SET|n|5|KEEPTTL", "+OK\r\n");
	KV_EXPECT(&e, "TTL|n", ":1000\r\n");
	KV_EXPECT(&e, "SET|n|5", "+OK\r\n");
	KV_EXPECT(&e, "TTL|n", ":-1\r\n");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_server_commands_and_errors)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-server", NULL);
	KV_EXPECT(&e, "PING", "+PONG\r\n");
	KV_EXPECT(&e, "PING|hi", "$2\r\nhi\r\n");
	KV_EXPECT(&e, "PING|a|b", "-ERR wrong number of arguments for 'ping' command\r\n");
	KV_EXPECT(&e, "ECHO|x y", "$3\r\nx y\r\n");
	KV_EXPECT(&e, "GET", "-ERR wrong number of arguments for 'get' command\r\n");
	KV_EXPECT(&e, "FOO|a|b",
	          "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
	KV_EXPECT(&e, "FOO|a\r\nb",
	          "-ERR unknown command 'FOO', with args beginning with: 'a??b' \r\n");
	KV_EXPECT(&e, "SELECT|0", "+OK\r\n");
	KV_EXPECT(&e, "SELECT|1", "-ERR DB index is out of range\r\n");
	KV_EXPECT(&e, "AUTH|pw",
	          "-ERR AUTH <password> called without any password configured for the default "
	          "user. Are you sure your configuration is correct?\r\n");
	KV_EXPECT(&e, "AUTH|default|pw", "+OK\r\n");
	KV_EXPECT(&e, "CLIENT|SETNAME|bench", "+OK\r\n");
	KV_EXPECT(&e, "COMMAND", "*0\r\n");
	KV_EXPECT(&e, "COMMAND|DOCS", "*0\r\n");
	KV_EXPECT(&e, "CONFIG|GET|save|appendonly",
	          "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$4\r\nsave\r\n$0\r\n\r\n");
	KV_EXPECT(&e, "CONFIG|GET|maxmemory-p*",
	          "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n");
	const char *info = kv_run(&e, "INFO|server");
	ck_assert_msg(strstr(info, "# Server\r\nredis_version:") && !strstr(info, "# Keyspace"),
	              "%s", info);
	int rc;
	ck_assert_str_eq(kv_run_v(&e, 2, "QUIT", &rc), "+OK\r\n");
	ck_assert_int_eq(rc, MH_HANDLE_CLOSE);
	/* RESP3: nulls, maps, the HELLO map. */
	ck_assert_str_eq(kv_run_v(&e, 3, "GET|nope", NULL), "_\r\n");
	ck_assert_str_eq(kv_run_v(&e, 3, "COMMAND|DOCS", NULL), "%0\r\n");
	const char *hello = kv_run_v(&e, 2, "HELLO|3", NULL);
	ck_assert_msg(strncmp(hello, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n", 27) == 0 &&
	                  strstr(hello, "$5\r\nproto\r\n:3\r\n"),
	              "%s", hello);
	hello = kv_run_v(&e, 2, "HELLO", NULL);
	ck_assert_msg(strncmp(hello, "*14\r\n", 5) == 0 && strstr(hello, ":2\r\n"), "%s", hello);
	KV_EXPECT(&e, "HELLO|4", "-NOPROTO unsupported protocol version\r\n");
	modenv_close(&e);
}
END_TEST

/* Fill a store of max_memory 64KiB with 1000-byte values until a write is
 * refused; returns how many fitted. */
static int kv_fill(struct modenv *e, const char *prefix, int max)
{
	static char cmd[1200];
	int i = 0;
	for (; i < max; i++) {
		int n = snprintf(cmd, sizeof(cmd), "SET|%s%d|", prefix, i);
		memset(cmd + n, 'v', 1000);
		cmd[n + 1000] = '\0';
		const char *r = kv_run(e, cmd);
		if (strcmp(r, "+OK\r\n") != 0) {
			ck_assert_str_eq(r, "-OOM command not allowed when used memory > "
			                    "'maxmemory'.\r\n");
			break;
		}
	}
	return i;
}

START_TEST(kv_memory_cap_refuses_writes)
{
	const char *const small[] = {"max_memory=64KiB", NULL};
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-oom", small);
	int fitted = kv_fill(&e, "k", 1000);
	/* 64 KiB holds a few dozen 1 KiB values, never more than 64. */
	ck_assert_int_gt(fitted, 30);
	ck_assert_int_lt(fitted, 64);
	/* Reads still work, and a delete makes room for one more. */
	KV_EXPECT(&e, "EXISTS|k0", ":1\r\n");
	KV_EXPECT(&e, "DEL|k0", ":1\r\n");
	ck_assert_int_eq(kv_fill(&e, "again", 1000), 1);
	/* MSET is all or nothing. */
	KV_EXPECT(&e, "DEL|again0", ":1\r\n");
	static char cmd[2200];
	int n = snprintf(cmd, sizeof(cmd), "MSET|m1|");
	memset(cmd + n, 'v', 1000);
	n += 1000;
	n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, "|m2|");
	memset(cmd + n, 'v', 1000);
	cmd[n + 1000] = '\0';
	ck_assert_str_eq(kv_run(&e, cmd),
	                 "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
	KV_EXPECT(&e, "EXISTS|m1|m2", ":0\r\n");
	/* SET ... GET that does not fit answers the error alone, with no old
	 * value before it, also as one reply of an EXEC. */
	n = snprintf(cmd, sizeof(cmd), "SET|k1|");
	memset(cmd + n, 'w', 2000);
	snprintf(cmd + n + 2000, sizeof(cmd) - (size_t)n - 2000, "|GET");
	ck_assert_str_eq(kv_run(&e, cmd),
	                 "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, cmd, "+QUEUED\r\n");
	KV_EXPECT(&e, "STRLEN|k1", "+QUEUED\r\n");
	ck_assert_str_eq(kv_run(&e, "EXEC"), "*2\r\n-OOM command not allowed when used memory > "
	                                     "'maxmemory'.\r\n:1000\r\n");
	modenv_close(&e);
}
END_TEST

/* MULTI queues, EXEC answers every queued command in one array, DISCARD
 * forgets them; refusals while queuing make EXEC abort; the errors Redis
 * gives for misuse; max_transaction. */
/* A key of the store whose WATCH slot differs from key's. */
static void kv_other_slot_key(struct modenv *e, const char *key, char *out, size_t len)
{
	struct kv_instance *inst = e->inst.data;
	uint32_t slot = kvstore_watch_slot(inst->store, key, strlen(key));
	for (int i = 0;; i++) {
		snprintf(out, len, "other%d", i);
		if (kvstore_watch_slot(inst->store, out, strlen(out)) != slot)
			return;
	}
}

/* WATCH: EXEC runs nothing (a null array) when a watched key was set,
 * changed, expired or deleted, or the store emptied, since; EXEC, DISCARD
 * and UNWATCH forget the watches; a write to another key does not count. */
START_TEST(kv_watch)
{
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-watch", NULL);
	char other[32], cmd[64];
	kv_other_slot_key(&e, "k", other, sizeof(other));
	KV_EXPECT(&e, "SET|k|1", "+OK\r\n");

	/* Unchanged, or only another key written: EXEC runs. */
	KV_EXPECT(&e, "WATCH|k|absent", "+OK\r\n");
	snprintf(cmd, sizeof(cmd), "SET|%s|x", other);
	KV_EXPECT(&e, cmd, "+OK\r\n");
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "INCR|k", "+QUEUED\r\n");
	KV_EXPECT(&e, "EXEC", "*1\r\n:2\r\n");

	/* Each kind of change makes the next EXEC run nothing. */
	const char *const changes[] = {"SET|k|5",      "INCR|k",         "APPEND|k|0",
	                               "SETBIT|k|0|1", "EXPIRE|k|100",   "PEXPIREAT|k|1",
	                               "DEL|k",        "SET|absent|now", "FLUSHALL"};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		KV_EXPECT(&e, "SET|k|1", "+OK\r\n");
		KV_EXPECT(&e, "WATCH|k|absent", "+OK\r\n");
		kv_run(&e, changes[i]);
		KV_EXPECT(&e, "MULTI", "+OK\r\n");
		KV_EXPECT(&e, "SET|k|tx", "+QUEUED\r\n");
		ck_assert_msg(strcmp(kv_run(&e, "EXEC"), "*-1\r\n") == 0, "after %s", changes[i]);
		ck_assert_msg(strcmp(kv_run(&e, "GET|k"), "$2\r\ntx\r\n") != 0, "ran after %s",
		              changes[i]);
	}
	/* In RESP3 the aborted EXEC is a null. */
	KV_EXPECT(&e, "WATCH|k", "+OK\r\n");
	KV_EXPECT(&e, "SET|k|2", "+OK\r\n");
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	ck_assert_str_eq(kv_run_v(&e, 3, "EXEC", NULL), "_\r\n");

	/* EXEC (run or not), DISCARD and UNWATCH forget the watches. */
	KV_EXPECT(&e, "SET|k|1", "+OK\r\n");
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "EXEC", "*0\r\n");
	const char *const forget[] = {"DISCARD", "UNWATCH"};
	for (size_t i = 0; i < 2; i++) {
		KV_EXPECT(&e, "WATCH|k", "+OK\r\n");
		if (i == 0)
			KV_EXPECT(&e, "MULTI", "+OK\r\n");
		KV_EXPECT(&e, forget[i], "+OK\r\n");
		KV_EXPECT(&e, "SET|k|changed", "+OK\r\n");
		KV_EXPECT(&e, "MULTI", "+OK\r\n");
		KV_EXPECT(&e, "GET|k", "+QUEUED\r\n");
		ck_assert_msg(strcmp(kv_run(&e, "EXEC"), "*1\r\n$7\r\nchanged\r\n") == 0,
		              "watch kept after %s", forget[i]);
	}
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "WATCH|k", "-ERR WATCH inside MULTI is not allowed\r\n");
	KV_EXPECT(&e, "DISCARD", "+OK\r\n");
	KV_EXPECT(&e, "WATCH", "-ERR wrong number of arguments for 'watch' command\r\n");
	/* A connection that goes away while watching frees its list. */
	KV_EXPECT(&e, "WATCH|a|b|c", "+OK\r\n");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_transactions)
{
	const char *const small_tx[] = {"max_transaction=200", NULL};
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-multi", small_tx);
	KV_EXPECT(&e, "EXEC", "-ERR EXEC without MULTI\r\n");
	KV_EXPECT(&e, "DISCARD", "-ERR DISCARD without MULTI\r\n");
	KV_EXPECT(&e, "SET|k|old", "+OK\r\n");
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "MULTI", "-ERR MULTI calls can not be nested\r\n");
	KV_EXPECT(&e, "SET|k|1|GET", "+QUEUED\r\n");
	KV_EXPECT(&e, "INCRBY|k|41", "+QUEUED\r\n");
	KV_EXPECT(&e, "GET|k", "+QUEUED\r\n");
	KV_EXPECT(&e, "INCR|k|extra", "-ERR wrong number of arguments for 'incr' command\r\n");
	/* Nothing ran yet. */
	KV_EXPECT(&e, "EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n");
	KV_EXPECT(&e, "GET|k", "$3\r\nold\r\n");

	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "SET|k|1|GET", "+QUEUED\r\n");
	KV_EXPECT(&e, "INCRBY|k|41", "+QUEUED\r\n");
	KV_EXPECT(&e, "LPUSH|k|x",
	          "-ERR unknown command 'LPUSH', with args beginning with: 'k' 'x' \r\n");
	KV_EXPECT(&e, "DISCARD", "+OK\r\n");
	KV_EXPECT(&e, "GET|k", "$3\r\nold\r\n");

	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "SET|k|1|GET", "+QUEUED\r\n");
	KV_EXPECT(&e, "INCRBY|k|41", "+QUEUED\r\n");
	KV_EXPECT(&e, "INCR|nothing|", "-ERR wrong number of arguments for 'incr' command\r\n");
	KV_EXPECT(&e, "DISCARD", "+OK\r\n"); /* forgets the refusal too */
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "SET|k|1|GET", "+QUEUED\r\n");
	KV_EXPECT(&e, "INCRBY|k|41", "+QUEUED\r\n");
	KV_EXPECT(&e, "APPEND|k|x", "+QUEUED\r\n");
	KV_EXPECT(&e, "INCR|k", "+QUEUED\r\n"); /* fails when run: one error in the array */
	KV_EXPECT(&e, "GET|k", "+QUEUED\r\n");
	KV_EXPECT(&e, "EXEC",
	          "*5\r\n$3\r\nold\r\n:42\r\n:3\r\n"
	          "-ERR value is not an integer or out of range\r\n$3\r\n42x\r\n");
	KV_EXPECT(&e, "EXEC", "-ERR EXEC without MULTI\r\n");
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "EXEC", "*0\r\n");

	/* Not in a transaction: WATCH, HELLO, AUTH. */
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "WATCH|k", "-ERR WATCH inside MULTI is not allowed\r\n");
	KV_EXPECT(&e, "HELLO|3", "-ERR Command not allowed inside a transaction\r\n");
	KV_EXPECT(&e, "EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n");

	/* max_transaction = 200 bytes: the fourth 60-byte SET passes it. */
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	char cmd[128];
	for (int i = 0; i < 4; i++) {
		int n = snprintf(cmd, sizeof(cmd), "SET|big%d|", i);
		memset(cmd + n, 'v', 40);
		cmd[n + 40] = '\0';
		KV_EXPECT(&e, cmd,
		          i < 3
		              ? "+QUEUED\r\n"
		              : "-ERR transaction discarded: its commands pass max_transaction or "
		                "memory ran out\r\n");
	}
	KV_EXPECT(&e, "EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n");
	KV_EXPECT(&e, "EXISTS|big0", ":0\r\n");
	/* A connection that goes away inside MULTI frees its queue
	 * (modenv_close releases it: ASan builds check). */
	KV_EXPECT(&e, "MULTI", "+OK\r\n");
	KV_EXPECT(&e, "SET|left|behind", "+QUEUED\r\n");
	modenv_close(&e);
}
END_TEST

START_TEST(kv_lru_evicts_the_least_recently_used)
{
	const char *const lru[] = {"max_memory=64KiB", "eviction=lru", NULL};
	struct modenv e;
	modenv_open_as(&e, "kv", "kv-lru", lru);
	/* With eviction every write fits. */
	ck_assert_int_eq(kv_fill(&e, "k", 40), 40);
	ck_assert_int_eq(strncmp(kv_run(&e, "GET|k0"), "$1000\r\nvvvv", 11), 0);
	/* 200 more writes: k0 is read before each, so it stays; the other
	 * early keys are the least recently used and go. */
	for (int i = 40; i < 240; i++) {
		/* A read makes k0 the most recently used. */
		ck_assert_int_eq(strncmp(kv_run(&e, "GET|k0"), "$1000\r\n", 7), 0);
		char cmd[1100];
		int n = snprintf(cmd, sizeof(cmd), "SET|k%d|", i);
		memset(cmd + n, 'v', 1000);
		cmd[n + 1000] = '\0';
		KV_EXPECT(&e, cmd, "+OK\r\n");
	}
	KV_EXPECT(&e, "EXISTS|k0|k239|k238", ":3\r\n");
	KV_EXPECT(&e, "EXISTS|k1|k2|k3|k100", ":0\r\n");
	const char *info = kv_run(&e, "INFO|stats");
	ck_assert_msg(strstr(info, "evicted_keys:") && !strstr(info, "evicted_keys:0\r"), "%s",
	              info);
	modenv_close(&e);
}
END_TEST

static Suite *kv_suite(void)
{
	Suite *s = suite_create("kv");
	TCase *tc = tcase_create("kv");
	tcase_add_test(tc, kv_strings_and_counters);
	tcase_add_test(tc, kv_incrbyfloat_and_time);
	tcase_add_test(tc, kv_bit_commands);
	tcase_add_test(tc, kv_older_string_forms);
	tcase_add_test(tc, kv_append_grows_in_place);
	tcase_add_test(tc, kv_key_commands);
	tcase_add_test(tc, kv_ranges_getex_msetnx);
	tcase_add_test(tc, kv_rename_copy_randomkey);
	tcase_add_test(tc, kv_keys_glob_patterns);
	tcase_add_test(tc, kv_scan_walks_every_key_once);
	tcase_add_test(tc, kv_expiry_without_waiting);
	tcase_add_test(tc, kv_server_commands_and_errors);
	tcase_add_test(tc, kv_memory_cap_refuses_writes);
	tcase_add_test(tc, kv_transactions);
	tcase_add_test(tc, kv_watch);
	tcase_add_test(tc, kv_lru_evicts_the_least_recently_used);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(kv_suite());
}
