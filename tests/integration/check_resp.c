/* tests/integration/check_resp.c — the real modhostd speaking the Redis
 * protocol: redis-cli and redis-benchmark against the resp codec and the kv
 * handler, raw sockets for pipelining, inline commands and every limit,
 * data written through one worker and read through another, the memory cap
 * (OOM and LRU eviction), a reload that keeps the data, the echo handler
 * over resp, and kv's HTTP face when the http1 codec is built. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define IO_MS 10000

/* [server] and [log] for a test; `workers` is a string literal. */
#define CONF_HEAD(workers)                                                                         \
	"[server]\nworkers = " workers "\nshutdown_timeout = 5s\n"                                 \
	"[log]\nlevel = info\nformat = text\n"

/* resp + kv on listener "kv"; module keys may follow each section. */
#define CONF_KV(resp_keys, kv_keys)                                                                \
	"[module resp]\n" resp_keys "[module kv]\n" kv_keys                                        \
	"[listener kv]\nlisten = 127.0.0.1:0\ncodec = resp\nhandler = kv\n"

static const char oom_reply[] = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

static void send_ok(int fd, const void *data, size_t len)
{
	int r = harness_send_all(fd, data, len, IO_MS);
	harness_assert(r == HARNESS_OK, "send of %zu bytes: %s", len, harness_io_name(r));
}

static void send_str(int fd, const char *s)
{
	send_ok(fd, s, strlen(s));
}

/* Receive exactly strlen(want) bytes and compare them with want. */
static void expect_reply(int fd, const char *want)
{
	size_t n = strlen(want);
	char *got = calloc(1, n + 1);
	harness_assert(got != NULL, "out of memory");
	int r = harness_recv_exact(fd, got, n, IO_MS);
	harness_assert(r == HARNESS_OK && memcmp(got, want, n) == 0,
	               "reply: %s, got '%s', expected '%s'", harness_io_name(r), got, want);
	free(got);
}

/* Send a request and expect its reply. */
static void roundtrip(int fd, const char *request, const char *want)
{
	send_str(fd, request);
	expect_reply(fd, want);
}

static void expect_closed(int fd, const char *what)
{
	size_t extra = 0;
	int r = harness_wait_closed(fd, IO_MS, &extra);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "%s: connection %s", what,
	               harness_io_name(r));
	harness_assert(extra == 0, "%s: %zu unexpected bytes before the close", what, extra);
}

/* A program on PATH, as a path for harness_run; fails the test when it is
 * missing (the suite's clients are in .ci/deps). */
static const char *tool(const char *name)
{
	static char paths[4][512];
	static int next;
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *slot = paths[next];
		snprintf(slot, sizeof(paths[0]), "%s/%s", dir, name);
		if (access(slot, X_OK) == 0) {
			next = (next + 1) % 4;
			free(copy);
			return slot;
		}
	}
	free(copy);
	harness_fail_at(__FILE__, __LINE__, "tool", "%s is not installed (sh .ci/deps)", name);
}

/* Run redis-cli -p port [args...] and return its output (free it); the
 * exit status must be 0. */
static char *cli(int port, const char *const *args)
{
	char portstr[16];
	char *argv[32];
	size_t n = 0;
	snprintf(portstr, sizeof(portstr), "%d", port);
	argv[n++] = (char *)tool("redis-cli");
	argv[n++] = "-p";
	argv[n++] = portstr;
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	char *out;
	int st = harness_run(argv, &out, HARNESS_WAIT_MS);
	harness_assert(st != -1, "redis-cli did not run or finish: %s", strerror(errno));
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-cli %s: status %d:\n%s",
	               args[-1], st, out);
	return out;
}

#define CLI_EXPECT(port, want, ...)                                                                \
	do {                                                                                       \
		const char *const a_[] = {__VA_ARGS__, NULL};                                      \
		char *out_ = cli(port, a_);                                                        \
		harness_assert(strcmp(out_, want) == 0, "redis-cli %s: got '%s', expected '%s'",   \
		               #__VA_ARGS__, out_, want);                                          \
		free(out_);                                                                        \
	} while (0)

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
	char *t = cli(port, ttl);
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
	char *out = cli(port, info);
	harness_assert(strstr(out, "# Server") && strstr(out, "redis_version:") &&
	                   strstr(out, "uptime_in_seconds:"),
	               "INFO server:\n%s", out);
	free(out);
	/* RESP3: redis-cli -3 sends HELLO 3 first. */
	CLI_EXPECT(port, "(nil)\n", "-3", "--no-raw", "GET", "nothing");
	const char *const hello[] = {"-3", "--no-raw", "HELLO", "3", NULL};
	out = cli(port, hello);
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
	const char *cli_path = tool("redis-cli");
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

/* ---- raw sockets: inline, pipelining, limits ----------------------------------------- */

START_TEST(test_inline_and_pipelined_requests)
{
	struct harness_daemon *d = harness_start_ready(CONF_HEAD("1") CONF_KV("", ""));
	int fd = harness_connect_ok(harness_port(d, "kv"));
	roundtrip(fd, "PING\r\n", "+PONG\r\n");
	roundtrip(fd, "set k \"two words\"\n", "+OK\r\n");
	roundtrip(fd, "get k\r\n", "$9\r\ntwo words\r\n");
	roundtrip(fd, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$9\r\ntwo words\r\n");

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
	send_ok(fd, batch, bn);
	expect_reply(fd, want);
	free(batch);
	free(want);

	/* A request split across writes, byte by byte. */
	static const char slow[] = "*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$3\r\nyes\r\n";
	for (size_t i = 0; i < sizeof(slow) - 1; i++)
		send_ok(fd, slow + i, 1);
	expect_reply(fd, "+OK\r\n");
	roundtrip(fd, "GET slow\r\n", "$3\r\nyes\r\n");

	/* QUIT answers, then closes. */
	roundtrip(fd, "QUIT\r\n", "+OK\r\n");
	expect_closed(fd, "after QUIT");
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
	roundtrip(fd, "PING\r\n", "+PONG\r\n");
	send_str(fd, request);
	expect_reply(fd, want);
	expect_closed(fd, request);
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
	send_ok(fd, req, (size_t)n + 1026);
	expect_reply(fd, "+OK\r\n");
	roundtrip(fd, "STRLEN big\r\n", ":1024\r\n");

	/* Replies already due go out before the error, and what follows the
	 * bad request is never run. */
	send_str(fd, "SET before 1\r\nGET before\r\n*1\r\n$-10\r\nSET after 1\r\n");
	expect_reply(fd, "+OK\r\n$1\r\n1\r\n-ERR Protocol error: invalid bulk length\r\n");
	expect_closed(fd, "after a pipelined error");
	close(fd);
	fd = harness_connect_ok(port);
	roundtrip(fd, "EXISTS before after\r\n", ":1\r\n");
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
	char *argv[] = {(char *)tool("redis-benchmark"),
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
	char *value = cli(port, get);
	harness_assert(strlen(value) == 4, "GET key:__rand_int__: '%s' (-d 3 writes 3 bytes)",
	               value);
	free(value);
}
END_TEST

/* ---- workers share the store --------------------------------------------------- */

/* Two workers.  The test handler logs which worker takes each connection,
 * and a BLOCK command routed to it blocks the worker it runs on: while
 * worker A is blocked, a new connection can only be accepted and served by
 * worker B. */
static struct harness_daemon *start_two_workers_with_block(int *port)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("2") "[module testhandler]\nfile = %s\nlog_connections = yes\n"
	                   "[route block]\nmatch_command = BLOCK\nhandler = testhandler\n" CONF_KV(
	                       "args_body = yes\n", "") "routes = block\n",
	    harness_test_module("testhandler"));
	*port = harness_port(d, "kv");
	pid_t workers[2];
	harness_wait_workers(d, 2, workers);
	return d;
}

/* Send BLOCK on fd, which blocks the worker serving it for 3 s (then it
 * answers "unblocked"), and wait until it blocks; returns that worker. */
static pid_t block_worker_of(struct harness_daemon *d, int fd)
{
	pid_t owner = harness_connection_owner(d, fd);
	size_t from = harness_log_size(d);
	send_str(fd, "BLOCK block:3000:unblocked\r\n");
	char re[128];
	snprintf(re, sizeof(re), "worker\\.[0-9]+\\[%d\\]: module testhandler: blocking 3000ms",
	         (int)owner);
	harness_wait_log(d, from, re);
	return owner;
}

START_TEST(test_data_written_through_one_worker_is_read_through_another)
{
	int port;
	struct harness_daemon *d = start_two_workers_with_block(&port);
	int a = harness_connect_ok(port);
	roundtrip(a, "SET written-by a-side\r\n", "+OK\r\n");
	pid_t owner_a = block_worker_of(d, a);

	int b = harness_connect_ok(port);
	roundtrip(b, "GET written-by\r\n", "$6\r\na-side\r\n");
	pid_t owner_b = harness_connection_owner(d, b);
	harness_assert(owner_b != owner_a, "both connections on worker %d", (int)owner_a);
	roundtrip(b, "SET answered-by b-side\r\n", "+OK\r\n");

	/* A's worker comes back and sees B's write. */
	expect_reply(a, "$9\r\nunblocked\r\n");
	roundtrip(a, "GET answered-by\r\n", "$6\r\nb-side\r\n");
	roundtrip(a, "INCR shared\r\n", ":1\r\n");
	roundtrip(b, "INCR shared\r\n", ":2\r\n");
	close(a);
	close(b);
}
END_TEST

/* INFO section's integer field name, asked on fd: reads the whole bulk
 * reply and returns the value (failing the test when it is missing). */
static long long info_field(int fd, const char *section, const char *name)
{
	char req[64], head[32];
	snprintf(req, sizeof(req), "INFO %s\r\n", section);
	send_str(fd, req);
	int r = harness_recv_line(fd, head, sizeof(head), IO_MS);
	harness_assert(r == HARNESS_OK && head[0] == '$', "INFO %s: %s '%s'", section,
	               harness_io_name(r), head);
	size_t len = strtoul(head + 1, NULL, 10);
	char *text = calloc(1, len + 3);
	harness_assert(text != NULL, "out of memory");
	r = harness_recv_exact(fd, text, len + 2, IO_MS);
	harness_assert(r == HARNESS_OK, "INFO %s body: %s", section, harness_io_name(r));
	text[len] = '\0';
	char key[64];
	snprintf(key, sizeof(key), "\r\n%s:", name);
	const char *at = strstr(text, key);
	harness_assert(at != NULL, "INFO %s has no %s:\n%s", section, name, text);
	long long v = strtoll(at + strlen(key), NULL, 10);
	free(text);
	return v;
}

/* INFO clients and stats count the listener's connections and commands on
 * every worker: what redis-cli --stat shows. */
START_TEST(test_info_counts_clients_and_commands_of_every_worker)
{
	int port;
	struct harness_daemon *d = start_two_workers_with_block(&port);
	int a = harness_connect_ok(port);
	long long commands = info_field(a, "stats", "total_commands_processed");
	harness_assert(commands == 1, "a fresh server counted %lld commands", commands);
	harness_assert(info_field(a, "stats", "total_connections_received") == 1,
	               "one connection so far");
	commands += 1;
	roundtrip(a, "PING\r\nPING\r\nPING\r\n", "+PONG\r\n+PONG\r\n+PONG\r\n");
	commands += 3;

	/* Block a's worker: b is then served by the other one, and asks. */
	pid_t owner_a = block_worker_of(d, a);
	commands += 1;
	int b = harness_connect_ok(port);
	roundtrip(b, "PING\r\nPING\r\n", "+PONG\r\n+PONG\r\n");
	commands += 2;
	harness_assert(harness_connection_owner(d, b) != owner_a, "both on worker %d",
	               (int)owner_a);
	long long clients = info_field(b, "clients", "connected_clients");
	commands += 1;
	harness_assert(clients == 2, "connected_clients %lld, expected 2", clients);
	long long seen = info_field(b, "stats", "total_commands_processed");
	commands += 1;
	harness_assert(seen == commands, "total_commands_processed %lld, expected %lld", seen,
	               commands);
	long long conns = info_field(b, "stats", "total_connections_received");
	commands += 1;
	harness_assert(conns == 2, "total_connections_received %lld, expected 2", conns);
	harness_assert(info_field(b, "stats", "total_net_input_bytes") > 0, "no bytes in");
	commands += 1;
	/* Unknown commands are error replies. */
	roundtrip(b, "NOSUCH\r\n", "-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
	harness_assert(info_field(b, "stats", "total_error_replies") == 1, "one error reply");

	/* A closed connection is no longer a client. */
	expect_reply(a, "$9\r\nunblocked\r\n");
	int a_port = harness_local_port(a);
	size_t from = harness_log_size(d);
	close(a);
	char re[128];
	snprintf(re, sizeof(re), "testhandler: connection closed from 127\\.0\\.0\\.1:%d", a_port);
	harness_wait_log(d, from, re);
	int c = harness_connect_ok(port);
	clients = info_field(c, "clients", "connected_clients");
	harness_assert(clients == 2, "connected_clients %lld after a closed, expected 2", clients);
	harness_assert(info_field(c, "stats", "total_connections_received") == 3,
	               "three connections");
	close(b);
	close(c);
}
END_TEST

#define TX_COUNT  100 /* transactions per connection and round */
#define TX_ROUNDS 30
#define TX_INCRS  10 /* INCRs per transaction */

/* TX_COUNT transactions of TX_INCRS "INCR counter" each, in one buffer. */
static char *tx_batch(size_t *len)
{
	static const char incr[] = "INCR counter\r\n";
	size_t one = 7 + TX_INCRS * (sizeof(incr) - 1) + 6;
	char *b = malloc(TX_COUNT * one + 1), *p = b;
	harness_assert(b != NULL, "out of memory");
	for (int t = 0; t < TX_COUNT; t++) {
		p += sprintf(p, "MULTI\r\n");
		for (int i = 0; i < TX_INCRS; i++)
			p += sprintf(p, "%s", incr);
		p += sprintf(p, "EXEC\r\n");
	}
	*len = (size_t)(p - b);
	return b;
}

/* Read one transaction's replies from fd; the INCR results must be
 * consecutive: no other connection's INCR ran between them. */
static void expect_tx_consecutive(int fd, const char *who, int t)
{
	char line[64];
	expect_reply(fd, "+OK\r\n");
	for (int i = 0; i < TX_INCRS; i++)
		expect_reply(fd, "+QUEUED\r\n");
	expect_reply(fd, "*10\r\n");
	long first = 0;
	for (int i = 0; i < TX_INCRS; i++) {
		int r = harness_recv_line(fd, line, sizeof(line), IO_MS);
		harness_assert(r == HARNESS_OK && line[0] == ':', "%s EXEC %d: %s '%s'", who, t,
		               harness_io_name(r), line);
		long v = strtol(line + 1, NULL, 10);
		if (i == 0)
			first = v;
		harness_assert(v == first + i,
		               "%s EXEC %d: INCR %d gave %ld after %ld: another worker ran between",
		               who, t, i, v, first);
	}
}

/* EXEC runs its commands under one hold of the store's lock: two
 * connections on two workers running transactions at once never see each
 * other's INCRs inside one. */
START_TEST(test_exec_is_atomic_across_workers)
{
	int port;
	struct harness_daemon *d = start_two_workers_with_block(&port);
	int a = harness_connect_ok(port);
	pid_t owner_a = block_worker_of(d, a);
	int b = harness_connect_ok(port);
	harness_assert(harness_connection_owner(d, b) != owner_a, "both on worker %d",
	               (int)owner_a);
	expect_reply(a, "$9\r\nunblocked\r\n");

	/* Each round sends both batches before reading either, so that the
	 * two workers run transactions at the same time. */
	size_t len;
	char *batch = tx_batch(&len);
	for (int round = 0; round < TX_ROUNDS; round++) {
		send_ok(a, batch, len);
		send_ok(b, batch, len);
		for (int t = 0; t < TX_COUNT; t++)
			expect_tx_consecutive(a, "a", round * TX_COUNT + t);
		for (int t = 0; t < TX_COUNT; t++)
			expect_tx_consecutive(b, "b", round * TX_COUNT + t);
	}
	free(batch);
	char total[16], want[32];
	snprintf(total, sizeof(total), "%d", 2 * TX_ROUNDS * TX_COUNT * TX_INCRS);
	snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(total), total);
	roundtrip(a, "GET counter\r\n", want);
	/* Leaving inside MULTI: nothing of the queue ever runs (that its
	 * memory is released is check_limits's conn_data test). */
	roundtrip(a, "MULTI\r\nSET left behind\r\n", "+OK\r\n+QUEUED\r\n");
	close(a);
	roundtrip(b, "EXISTS left\r\n", ":0\r\n");
	close(b);
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
	send_ok(fd, req, (size_t)n + 1002);
	char first;
	int r = harness_recv_exact(fd, &first, 1, IO_MS);
	harness_assert(r == HARNESS_OK, "SET reply: %s", harness_io_name(r));
	if (first == '+')
		expect_reply(fd, "OK\r\n");
	else
		expect_reply(fd, oom_reply + 1);
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
	roundtrip(fd, "EXISTS k0\r\n", ":1\r\n");
	harness_assert(set_kib(fd, "k", 0) == '-', "replacing a value needs room too");
	roundtrip(fd, "DEL k0 k1\r\n", ":2\r\n");
	harness_assert(set_kib(fd, "again", 0) == '+', "no room after a delete");
	close(fd);

	/* lru: every write succeeds, the oldest keys go, a key read often
	 * stays. */
	fd = harness_connect_ok(harness_port(d, "lru"));
	for (int i = 0; i < 1000; i++) {
		if (i % 10 == 0 && i > 0) {
			/* A read makes k0 the most recently used (EXISTS would
			 * not, as in Redis). */
			send_str(fd, "GET k0\r\n");
			char got[1009];
			int r = harness_recv_exact(fd, got, sizeof(got), IO_MS);
			harness_assert(r == HARNESS_OK && memcmp(got, "$1000\r\nvvv", 10) == 0 &&
			                   memcmp(got + 1007, "\r\n", 2) == 0,
			               "GET k0 after %d writes: %s", i, harness_io_name(r));
		}
		harness_assert(set_kib(fd, "k", i) == '+', "SET k%d refused with eviction = lru",
		               i);
	}
	roundtrip(fd, "EXISTS k0 k999 k998\r\n", ":3\r\n");
	roundtrip(fd, "EXISTS k1 k2 k100 k500\r\n", ":0\r\n");
	send_str(fd, "DBSIZE\r\n");
	char line[32];
	int r = harness_recv_line(fd, line, sizeof(line), IO_MS);
	harness_assert(r == HARNESS_OK && line[0] == ':' && atoi(line + 1) > 150 &&
	                   atoi(line + 1) < 256,
	               "DBSIZE after eviction: %s", line);
	close(fd);
}
END_TEST

/* ---- reload ------------------------------------------------------------------------ */

START_TEST(test_reload_keeps_the_data)
{
	struct harness_daemon *d =
	    harness_start_ready(CONF_HEAD("1") CONF_KV("", "max_memory = 1MiB\n"));
	int port = harness_port(d, "kv");
	CLI_EXPECT(port, "OK\n", "SET", "survivor", "still here");
	CLI_EXPECT(port, "OK\n", "SET", "ttl", "x", "EX", "1000");
	size_t from = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from, "generation 2 ready");
	CLI_EXPECT(port, "still here\n", "GET", "survivor");
	CLI_EXPECT(port, "2\n", "DBSIZE");
	const char *const ttl[] = {"TTL", "ttl", NULL};
	char *t = cli(port, ttl);
	harness_assert(atoi(t) > 990 && atoi(t) <= 1000, "TTL after reload: %s", t);
	free(t);

	/* A changed max_memory cannot reuse the zone: the reload is refused
	 * and the old generation, with its data, goes on. */
	harness_rewrite_config(d, CONF_HEAD("1") CONF_KV("", "max_memory = 2MiB\n"));
	harness_expect_errors(d, "shared zone 'store'|max_memory|reload failed");
	from = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, from, "reload failed");
	CLI_EXPECT(port, "still here\n", "GET", "survivor");
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
	roundtrip(fd, "PING\r\n", "$0\r\n\r\n");
	close(fd);

	fd = harness_connect_ok(harness_port(d, "routed"));
	roundtrip(fd, "PING\r\n", "+PONG\r\n");
	roundtrip(fd, "GET x\r\nSET x 1\r\nGET x\r\n", "$-1\r\n-ERR unknown command 'SET'\r\n$-1\r\n");
	close(fd);
}
END_TEST

/* ---- the HTTP face --------------------------------------------------------------- */

/* Run curl with args; returns its output (free it). */
static char *curl(const char *const *args)
{
	char *argv[32];
	size_t n = 0;
	argv[n++] = (char *)tool("curl");
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
	tcase_add_test(tc, test_inline_and_pipelined_requests);
	tcase_add_test(tc, test_limits_answer_and_close);
	tcase_add_test(tc, test_redis_benchmark_without_errors);
	tcase_add_test(tc, test_data_written_through_one_worker_is_read_through_another);
	tcase_add_test(tc, test_info_counts_clients_and_commands_of_every_worker);
	tcase_add_test(tc, test_exec_is_atomic_across_workers);
	tcase_add_test(tc, test_memory_cap_oom_and_lru_eviction);
	tcase_add_test(tc, test_reload_keeps_the_data);
	tcase_add_test(tc, test_echo_over_resp_and_unmatched_route);
	tcase_add_test(tc, test_http_face_get_put_delete);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(resp_suite(), CK_NORMAL);
}
