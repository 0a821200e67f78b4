/* tests/integration/check_resp.c — the real modhostd speaking the Redis
 * protocol: redis-cli and redis-benchmark against the resp codec and the kv
 * handler, redis-py (Debian's python3-redis) through
 * redis_py_check.py, raw sockets for pipelining, inline commands and every
 * limit, the memory cap (OOM and LRU eviction), the echo handler over
 * resp, and kv's HTTP face when the http1 codec is built.  What needs two
 * workers is check_kvworkers.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#include "resptest.h"

static const char oom_reply[] = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/* ---- redis-cli ----------------------------------------------------------------- */

START_TEST(test_redis_cli_strings_counters_expiry)
{
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("1") CONF_KV("", ""));
	int port = harness_port(d, "kv");
	CLI_EXPECT(port, "PONG\n", "PING");
	CLI_EXPECT(port, "OK\n", "SET", "greeting", "hello world");
	CLI_EXPECT(port, "hello world\n", "GET", "greeting");
	CLI_EXPECT(port, "1\n", "INCR", "hits");
	CLI_EXPECT(port, "11\n", "INCRBY", "hits", "10");
	CLI_EXPECT(port, "10\n", "DECR", "hits");
	CLI_EXPECT(port, "1\n", "EXPIRE", "greeting", "100");
	/* The TTL counts down from 100; a second may pass. */
	const char *const ttl[] = {"TTL", "greeting", NULL};
	char *t = resptest_cli(port, ttl);
	harness_assert(strcmp(t, "100\n") == 0 || strcmp(t, "99\n") == 0, "TTL: '%s'", t);
	free(t);
	CLI_EXPECT(port, "-1\n", "TTL", "hits");
	CLI_EXPECT(port, "-2\n", "TTL", "nothing");
	CLI_EXPECT(port, "OK\n", "MSET", "a", "1", "b", "2");
	CLI_EXPECT(port, "1\n2\n\n10\n", "MGET", "a", "b", "nothing", "hits");
	/* --no-raw: what a person sees at the prompt. */
	CLI_EXPECT(port, "1) \"1\"\n2) (nil)\n3) \"hello world\"\n", "--no-raw", "MGET", "a",
	           "nothing", "greeting");
	CLI_EXPECT(port, "(integer) 11\n", "--no-raw", "INCR", "hits");
	CLI_EXPECT(port, "(nil)\n", "--no-raw", "GET", "nothing");
	CLI_EXPECT(port, "(integer) 4\n", "--no-raw", "DBSIZE");
	CLI_EXPECT(port, "(integer) 3\n", "--no-raw", "DEL", "a", "b", "greeting", "nothing");
	CLI_EXPECT(port, "(nil)\n", "--no-raw", "GET", "greeting");
	CLI_EXPECT(port, "(integer) 1\n", "--no-raw", "EXISTS", "hits");
	CLI_EXPECT(port, "(error) ERR unknown command 'NOSUCH', with args beginning with: 'x' \n",
	           "--no-raw", "NOSUCH", "x");
	CLI_EXPECT(port, "(error) ERR wrong number of arguments for 'get' command\n", "--no-raw",
	           "GET");
	CLI_EXPECT(port, "(error) ERR value is not an integer or out of range\n", "--no-raw",
	           "EXPIRE", "hits", "soon");
	CLI_EXPECT(port, "OK\n", "FLUSHALL");
	CLI_EXPECT(port, "0\n", "DBSIZE");
	const char *const info[] = {"INFO", "server", NULL};
	char *out = resptest_cli(port, info);
	harness_assert(strstr(out, "# Server") && strstr(out, "redis_version:") &&
	                   strstr(out, "uptime_in_seconds:"),
	               "INFO server:\n%s", out);
	free(out);
	/* RESP3: redis-cli -3 sends HELLO 3 first. */
	CLI_EXPECT(port, "(nil)\n", "-3", "--no-raw", "GET", "nothing");
	const char *const hello[] = {"-3", "--no-raw", "HELLO", "3", NULL};
	out = resptest_cli(port, hello);
	harness_assert(strncmp(out, "1# \"server\" => \"redis\"\n", 23) == 0 &&
	                   strstr(out, "3# \"proto\" => (integer) 3\n"),
	               "HELLO 3:\n%s", out);
	free(out);
}
END_TEST

START_TEST(test_redis_cli_scan_keys_and_string_forms)
{
	/* Two workers: every redis-cli run may land on either. */
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("2") CONF_KV("", ""));
	int port = harness_port(d, "kv");
	const char *cli_path = harness_tool("redis-cli");
	int st;
	char *out =
	    harness_sh(&st, "seq 1 500 | sed 's/.*/SET key:& v&/' | '%s' -p %d | sort | uniq -c",
	               cli_path, port);
	harness_assert(st == 0 && strstr(out, "500 OK"), "500 SETs: %s", out);
	free(out);
	CLI_EXPECT(port, "OK\n", "SET", "other", "x");
	/* redis-cli --scan walks the whole store with SCAN and its cursor. */
	out = harness_sh(&st, "'%s' -p %d --scan | sort -u | wc -l", cli_path, port);
	harness_assert(st == 0 && atoi(out) == 501, "--scan found %s keys, expected 501", out);
	free(out);
	/* key:1, key:10..19, key:100..199 */
	out = harness_sh(&st, "'%s' -p %d --scan --pattern 'key:1*' | sort -u | wc -l", cli_path,
	                 port);
	harness_assert(st == 0 && atoi(out) == 111, "--scan --pattern found %s keys, expected 111",
	               out);
	free(out);
	out = harness_sh(&st, "'%s' -p %d KEYS 'key:4?[05]' | sort | tr '\\n' ' '", cli_path, port);
	harness_assert(st == 0 && strcmp(out, "key:400 key:405 key:410 key:415 key:420 key:425 "
	                                      "key:430 key:435 key:440 key:445 key:450 key:455 "
	                                      "key:460 key:465 key:470 key:475 key:480 key:485 "
	                                      "key:490 key:495 ") == 0,
	               "KEYS 'key:4?[05]': %s", out);
	free(out);
	CLI_EXPECT(port, "0\n", "SETNX", "other", "y");
	CLI_EXPECT(port, "OK\n", "SETEX", "session", "100", "token");
	CLI_EXPECT(port, "5\n", "STRLEN", "session");
	CLI_EXPECT(port, "10\n", "APPEND", "session", "-more");
	CLI_EXPECT(port, "token-more\n", "GETDEL", "session");
	CLI_EXPECT(port, "x\n", "GETSET", "other", "z");
	CLI_EXPECT(port, "2\n", "UNLINK", "other", "key:1", "nothing");
	CLI_EXPECT(port, "499\n", "DBSIZE");
}
END_TEST

/* ---- redis-py ------------------------------------------------------------------- */

/* redis-py against kv with two workers: strings, expiry, binary data,
 * pipelines with and without MULTI/EXEC, scan_iter, transactions and WATCH
 * compare-and-set loops from four threads at once, INFO
 * (redis_py_check.py says what it checks). */
START_TEST(test_redis_py_client)
{
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("2") CONF_KV("", ""));
	int port = harness_port(d, "kv");
	pid_t workers[2];
	harness_wait_workers(d, 2, workers);
	/* Debian's python3-redis is installed for the system interpreter. */
	const char *python = "/usr/bin/python3";
	harness_assert(access(python, X_OK) == 0, "%s is not installed (sh .ci/deps)", python);
	char script[4096], portstr[16];
	snprintf(script, sizeof(script), "%s/tests/integration/redis_py_check.py",
	         harness_env("MH_SRCDIR"));
	snprintf(portstr, sizeof(portstr), "%d", port);
	char *argv[] = {(char *)python, script, portstr, NULL};
	char *out;
	int st = harness_run(argv, &out, HARNESS_WAIT_MS);
	harness_assert(st != -1, "python3 did not run or finish: %s", strerror(errno));
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, " checks passed\n"),
	               "redis_py_check.py: status %d:\n%s", st, out);
	free(out);
}
END_TEST

/* ---- raw sockets: inline, pipelining, limits ----------------------------------------- */

START_TEST(test_inline_and_pipelined_requests)
{
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("1") CONF_KV("", ""));
	int fd = harness_connect_ok(harness_port(d, "kv"));
	resptest_roundtrip(fd, "PING\r\n", "+PONG\r\n");
	resptest_roundtrip(fd, "set k \"two words\"\n", "+OK\r\n");
	resptest_roundtrip(fd, "get k\r\n", "$9\r\ntwo words\r\n");
	resptest_roundtrip(fd, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$9\r\ntwo words\r\n");

	/* 200 requests in one write, mixed forms: 200 replies, in order. */
	char *batch = malloc(200 * 40), *want = malloc(200 * 16);
	harness_assert(batch && want, "out of memory");
	size_t bn = 0, wn = 0;
	for (int i = 1; i <= 200; i++) {
		if (i % 2)
			bn += (size_t)sprintf(batch + bn, "INCR counter\r\n");
		else
			bn += (size_t)sprintf(batch + bn, "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n");
		wn += (size_t)sprintf(want + wn, ":%d\r\n", i);
	}
	resptest_send(fd, batch, bn);
	resptest_expect(fd, want);
	free(batch);
	free(want);

	/* A request split across writes, byte by byte. */
	static const char slow[] = "*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$3\r\nyes\r\n";
	for (size_t i = 0; i < sizeof(slow) - 1; i++)
		resptest_send(fd, slow + i, 1);
	resptest_expect(fd, "+OK\r\n");
	resptest_roundtrip(fd, "GET slow\r\n", "$3\r\nyes\r\n");

	/* QUIT answers, then closes. */
	resptest_roundtrip(fd, "QUIT\r\n", "+OK\r\n");
	resptest_expect_closed(fd, "after QUIT");
	close(fd);
}
END_TEST

/* Send bytes that break a limit: the reply is the error, then a close;
 * the log names the peer and the reason. */
static void expect_protocol_error(struct harness_daemon *d, int port, const char *request,
                                  const char *want)
{
	int fd = harness_connect_ok(port);
	size_t from = harness_log_size(d);
	resptest_roundtrip(fd, "PING\r\n", "+PONG\r\n");
	resptest_send_str(fd, request);
	resptest_expect(fd, want);
	resptest_expect_closed(fd, request);
	char re[128];
	snprintf(re, sizeof(re), "closing connection from 127\\.0\\.0\\.1:%d: Protocol error",
	         harness_local_port(fd));
	harness_wait_log(d, from, re);
	close(fd);
}

START_TEST(test_limits_answer_and_close)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") CONF_KV("max_bulk = 1KiB\nmax_args = 100\nmax_inline = 256\n", ""));
	int port = harness_port(d, "kv");
	/* Headers alone: nothing behind them is awaited (or allocated). */
	expect_protocol_error(d, port, "*20000000\r\n",
	                      "-ERR Protocol error: invalid multibulk length 20000000 "
	                      "(max_args is 100)\r\n");
	expect_protocol_error(d, port, "*101\r\n",
	                      "-ERR Protocol error: invalid multibulk length 101 "
	                      "(max_args is 100)\r\n");
	expect_protocol_error(d, port, "*1\r\n$-10\r\n",
	                      "-ERR Protocol error: invalid bulk length\r\n");
	expect_protocol_error(
	    d, port, "*2\r\n$3\r\nSET\r\n$1025\r\n",
	    "-ERR Protocol error: invalid bulk length 1025 (max_bulk is 1024)\r\n");
	expect_protocol_error(d, port, "*1\r\n+PING\r\n",
	                      "-ERR Protocol error: expected '$', got '+'\r\n");
	expect_protocol_error(d, port, "get \"unbalanced\r\n",
	                      "-ERR Protocol error: unbalanced quotes in request\r\n");
	char longline[400];
	memset(longline, 'a', sizeof(longline));
	longline[sizeof(longline) - 1] = '\0';
	expect_protocol_error(d, port, longline, "-ERR Protocol error: too big inline request\r\n");

	/* At the limit: accepted.  A bulk of exactly max_bulk. */
	int fd = harness_connect_ok(port);
	char req[1200];
	int n = sprintf(req, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1024\r\n");
	memset(req + n, 'x', 1024);
	memcpy(req + n + 1024, "\r\n", 2);
	resptest_send(fd, req, (size_t)n + 1026);
	resptest_expect(fd, "+OK\r\n");
	resptest_roundtrip(fd, "STRLEN big\r\n", ":1024\r\n");

	/* Replies already due go out before the error, and what follows the
	 * bad request is never run. */
	resptest_send_str(fd, "SET before 1\r\nGET before\r\n*1\r\n$-10\r\nSET after 1\r\n");
	resptest_expect(fd, "+OK\r\n$1\r\n1\r\n-ERR Protocol error: invalid bulk length\r\n");
	resptest_expect_closed(fd, "after a pipelined error");
	close(fd);
	fd = harness_connect_ok(port);
	resptest_roundtrip(fd, "EXISTS before after\r\n", ":1\r\n");
	close(fd);
}
END_TEST

/* ---- redis-benchmark ----------------------------------------------------------- */

/* Run redis-benchmark -q against port with pipeline depth P; every test
 * must report its rate and nothing may be an error. */
static void benchmark_ok(int port, const char *depth)
{
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	char *argv[] = {(char *)harness_tool("redis-benchmark"),
	                "-p",
	                portstr,
	                "-q",
	                "-n",
	                "10000",
	                "-c",
	                "20",
	                "-P",
	                (char *)depth,
	                "-t",
	                "set,get,ping",
	                NULL};
	char *out;
	int st = harness_run(argv, &out, HARNESS_WAIT_MS * 3);
	harness_assert(st != -1, "redis-benchmark did not run or finish: %s", strerror(errno));
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	               "redis-benchmark -P %s: status %d:\n%s", depth, st, out);
	static const char *const tests[] = {"PING_INLINE: ", "PING_MBULK: ", "SET: ", "GET: "};
	for (size_t i = 0; i < 4; i++) {
		const char *at = strstr(out, tests[i]);
		/* The last report of a test (after its progress lines). */
		for (const char *next; at && (next = strstr(at + 1, tests[i]));)
			at = next;
		harness_assert(at && strstr(at, "requests per second"),
		               "redis-benchmark -P %s: no result for %s:\n%s", depth, tests[i],
		               out);
	}
	harness_assert(!strstr(out, "rror") && !strstr(out, "WARNING"),
	               "redis-benchmark -P %s reported a problem:\n%s", depth, out);
	free(out);
}

START_TEST(test_redis_benchmark_without_errors)
{
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("2") CONF_KV("", ""));
	int port = harness_port(d, "kv");
	benchmark_ok(port, "1");
	benchmark_ok(port, "16");
	/* It wrote its key (key:__rand_int__ with no -r is one key). */
	CLI_EXPECT(port, "1\n", "EXISTS", "key:__rand_int__");
	const char *const get[] = {"GET", "key:__rand_int__", NULL};
	char *value = resptest_cli(port, get);
	harness_assert(strlen(value) == 4, "GET key:__rand_int__: '%s' (-d 3 writes 3 bytes)",
	               value);
	free(value);
}
END_TEST

/* ---- memory cap -------------------------------------------------------------------- */

/* SET key prefix<i> to a 1000-byte value; returns the reply's first byte
 * after checking it is +OK or the OOM error. */
static char set_kib(int fd, const char *prefix, int i)
{
	char req[1100];
	int n = sprintf(req, "SET %s%d ", prefix, i);
	memset(req + n, 'v', 1000);
	memcpy(req + n + 1000, "\r\n", 2);
	resptest_send(fd, req, (size_t)n + 1002);
	char first;
	int r = harness_recv_exact(fd, &first, 1, IO_MS);
	harness_assert(r == HARNESS_OK, "SET reply: %s", harness_io_name(r));
	if (first == '+')
		resptest_expect(fd, "OK\r\n");
	else
		resptest_expect(fd, oom_reply + 1);
	return first;
}

START_TEST(test_memory_cap_oom_and_lru_eviction)
{
	char *kvfile = NULL;
	if (asprintf(&kvfile, "%s/kv.so", harness_env("MODHOST_MODULE_PATH")) < 0)
		harness_assert(0, "out of memory");
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1")
	        CONF_KV("", "max_memory = 256KiB\n") "[module lru]\nfile = %s\nmax_memory = "
	                                             "256KiB\neviction = lru\n"
	                                             "[listener lru]\nlisten = 127.0.0.1:0\ncodec "
	                                             "= resp\nhandler = lru\n",
	    kvfile);
	free(kvfile);

	/* noeviction: writes are refused once full; reads and deletes work. */
	int fd = harness_connect_ok(harness_port(d, "kv"));
	int fitted = 0;
	while (fitted < 1000 && set_kib(fd, "k", fitted) == '+')
		fitted++;
	harness_assert(fitted > 150 && fitted < 256, "%d values of 1000 bytes fitted in 256KiB",
	               fitted);
	resptest_roundtrip(fd, "EXISTS k0\r\n", ":1\r\n");
	harness_assert(set_kib(fd, "k", 0) == '-', "replacing a value needs room too");
	resptest_roundtrip(fd, "DEL k0 k1\r\n", ":2\r\n");
	harness_assert(set_kib(fd, "again", 0) == '+', "no room after a delete");
	close(fd);

	/* lru: every write succeeds, the oldest keys go, a key read often
	 * stays. */
	fd = harness_connect_ok(harness_port(d, "lru"));
	for (int i = 0; i < 1000; i++) {
		if (i % 10 == 0 && i > 0) {
			/* A read makes k0 the most recently used (EXISTS would
			 * not, as in Redis). */
			resptest_send_str(fd, "GET k0\r\n");
			char got[1009];
			int r = harness_recv_exact(fd, got, sizeof(got), IO_MS);
			harness_assert(r == HARNESS_OK && memcmp(got, "$1000\r\nvvv", 10) == 0 &&
			                   memcmp(got + 1007, "\r\n", 2) == 0,
			               "GET k0 after %d writes: %s", i, harness_io_name(r));
		}
		harness_assert(set_kib(fd, "k", i) == '+', "SET k%d refused with eviction = lru",
		               i);
	}
	resptest_roundtrip(fd, "EXISTS k0 k999 k998\r\n", ":3\r\n");
	resptest_roundtrip(fd, "EXISTS k1 k2 k100 k500\r\n", ":0\r\n");
	resptest_send_str(fd, "DBSIZE\r\n");
	char line[32];
	int r = harness_recv_line(fd, line, sizeof(line), IO_MS);
	harness_assert(r == HARNESS_OK && line[0] == ':' && atoi(line + 1) > 150 &&
	                   atoi(line + 1) < 256,
	               "DBSIZE after eviction: %s", line);
	close(fd);
}
END_TEST

/* ---- other handlers over resp, routes ------------------------------------------------ */

START_TEST(test_echo_over_resp_and_unmatched_route)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") "[module resp]\nargs_body = yes\n[module echo]\n[module kv]\n"
	                   "[route reads]\nmatch_command = GET, PING\nhandler = kv\n"
	                   "[listener echo]\nlisten = 127.0.0.1:0\ncodec = resp\nhandler = echo\n"
	                   "[listener routed]\nlisten = 127.0.0.1:0\ncodec = resp\n"
	                   "routes = reads\n");
	/* A body-form reply is a bulk string: the body is the arguments. */
	CLI_EXPECT(harness_port(d, "echo"), "hello world\n", "ECHO", "hello", "world");
	int fd = harness_connect_ok(harness_port(d, "echo"));
	resptest_roundtrip(fd, "PING\r\n", "$0\r\n\r\n");
	close(fd);

	fd = harness_connect_ok(harness_port(d, "routed"));
	resptest_roundtrip(fd, "PING\r\n", "+PONG\r\n");
	resptest_roundtrip(fd, "GET x\r\nSET x 1\r\nGET x\r\n",
	                   "$-1\r\n-ERR unknown command 'SET'\r\n$-1\r\n");
	close(fd);
}
END_TEST

/* ---- the HTTP face --------------------------------------------------------------- */

/* Run curl with args; returns its output (free it). */
static char *curl(const char *const *args)
{
	char *argv[32];
	size_t n = 0;
	argv[n++] = (char *)harness_tool("curl");
	argv[n++] = "-s";
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	char *out;
	int st = harness_run(argv, &out, HARNESS_WAIT_MS);
	harness_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "curl: status %d:\n%s",
	               st, out ? out : "");
	return out;
}

#define CURL_EXPECT(want, ...)                                                                     \
	do {                                                                                       \
		const char *const a_[] = {__VA_ARGS__, NULL};                                      \
		char *out_ = curl(a_);                                                             \
		harness_assert(strcmp(out_, want) == 0, "curl %s: got '%s', expected '%s'",        \
		               #__VA_ARGS__, out_, want);                                          \
		free(out_);                                                                        \
	} while (0)

START_TEST(test_http_face_get_put_delete)
{
	char so[4096];
	snprintf(so, sizeof(so), "%s/http1.so", harness_env("MODHOST_MODULE_PATH"));
	if (access(so, R_OK) != 0) {
		printf("test_http_face_get_put_delete: skipped: %s is not built yet\n", so);
		return;
	}
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") CONF_KV("", "") "[module http1]\n"
	                                   "[listener http]\nlisten = 127.0.0.1:0\ncodec = http1\n"
	                                   "handler = kv\n");
	int hport = harness_port(d, "http");
	char base[64], url[128];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/kv/", hport);
	const char *fmt = "-w";
	const char *code = "%{http_code}";
	snprintf(url, sizeof(url), "%sgreeting", base);

	CURL_EXPECT("404", "-o", "/dev/null", fmt, code, url);
	CURL_EXPECT("201", "-o", "/dev/null", fmt, code, "-X", "PUT", "--data-binary", "hello",
	            url);
	CURL_EXPECT("hello", url);
	CURL_EXPECT("204", "-o", "/dev/null", fmt, code, "-X", "PUT", "--data-binary", "hi again",
	            url);
	CURL_EXPECT("hi again 200", fmt, " %{http_code}", url);
	/* The same store as the Redis face. */
	CLI_EXPECT(harness_port(d, "kv"), "hi again\n", "GET", "greeting");
	CLI_EXPECT(harness_port(d, "kv"), "OK\n", "SET", "from resp", "yes");
	snprintf(url, sizeof(url), "%sfrom%%20resp", base);
	CURL_EXPECT("yes", url);
	snprintf(url, sizeof(url), "%sgreeting", base);
	CURL_EXPECT("204", "-o", "/dev/null", fmt, code, "-X", "DELETE", url);
	CURL_EXPECT("404", "-o", "/dev/null", fmt, code, "-X", "DELETE", url);
	CURL_EXPECT("404", "-o", "/dev/null", fmt, code, url);
	CURL_EXPECT("405", "-o", "/dev/null", fmt, code, "-X", "POST", "--data-binary", "x", url);
}
END_TEST

static Suite *resp_suite(void)
{
	Suite *s = suite_create("resp");
	TCase *tc = tcase_create("redis clients");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 110);
	tcase_add_test(tc, test_redis_cli_strings_counters_expiry);
	tcase_add_test(tc, test_redis_cli_scan_keys_and_string_forms);
	tcase_add_test(tc, test_redis_py_client);
	tcase_add_test(tc, test_inline_and_pipelined_requests);
	tcase_add_test(tc, test_limits_answer_and_close);
	tcase_add_test(tc, test_redis_benchmark_without_errors);
	tcase_add_test(tc, test_memory_cap_oom_and_lru_eviction);
	tcase_add_test(tc, test_echo_over_resp_and_unmatched_route);
	tcase_add_test(tc, test_http_face_get_put_delete);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(resp_suite(), CK_NORMAL);
}
