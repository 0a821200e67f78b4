/* tests/integration/check_kvworkers.c — the kv store shared by every
 * worker, through the real modhostd with two workers: data written through
 * one worker and read through another, INFO counting the clients and
 * commands of both, EXEC atomic while both run transactions at once, and a
 * reload that keeps the data.  The test handler's BLOCK (a route to it)
 * pins connections to distinct workers. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resptest.h"

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
	resptest_send_str(fd, "BLOCK block:3000:unblocked\r\n");
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
	resptest_roundtrip(a, "SET written-by a-side\r\n", "+OK\r\n");
	pid_t owner_a = block_worker_of(d, a);

	int b = harness_connect_ok(port);
	resptest_roundtrip(b, "GET written-by\r\n", "$6\r\na-side\r\n");
	pid_t owner_b = harness_connection_owner(d, b);
	harness_assert(owner_b != owner_a, "both connections on worker %d", (int)owner_a);
	resptest_roundtrip(b, "SET answered-by b-side\r\n", "+OK\r\n");

	/* A's worker comes back and sees B's write. */
	resptest_expect(a, "$9\r\nunblocked\r\n");
	resptest_roundtrip(a, "GET answered-by\r\n", "$6\r\nb-side\r\n");
	resptest_roundtrip(a, "INCR shared\r\n", ":1\r\n");
	resptest_roundtrip(b, "INCR shared\r\n", ":2\r\n");
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
	resptest_send_str(fd, req);
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
	resptest_roundtrip(a, "PING\r\nPING\r\nPING\r\n", "+PONG\r\n+PONG\r\n+PONG\r\n");
	commands += 3;

	/* Block a's worker: b is then served by the other one, and asks. */
	pid_t owner_a = block_worker_of(d, a);
	commands += 1;
	int b = harness_connect_ok(port);
	resptest_roundtrip(b, "PING\r\nPING\r\n", "+PONG\r\n+PONG\r\n");
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
	resptest_roundtrip(b, "NOSUCH\r\n",
	                   "-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
	harness_assert(info_field(b, "stats", "total_error_replies") == 1, "one error reply");

	/* A closed connection is no longer a client. */
	resptest_expect(a, "$9\r\nunblocked\r\n");
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
	resptest_expect(fd, "+OK\r\n");
	for (int i = 0; i < TX_INCRS; i++)
		resptest_expect(fd, "+QUEUED\r\n");
	resptest_expect(fd, "*10\r\n");
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
	resptest_expect(a, "$9\r\nunblocked\r\n");

	/* Each round sends both batches before reading either, so that the
	 * two workers run transactions at the same time. */
	size_t len;
	char *batch = tx_batch(&len);
	for (int round = 0; round < TX_ROUNDS; round++) {
		resptest_send(a, batch, len);
		resptest_send(b, batch, len);
		for (int t = 0; t < TX_COUNT; t++)
			expect_tx_consecutive(a, "a", round * TX_COUNT + t);
		for (int t = 0; t < TX_COUNT; t++)
			expect_tx_consecutive(b, "b", round * TX_COUNT + t);
	}
	free(batch);
	char total[16], want[32];
	snprintf(total, sizeof(total), "%d", 2 * TX_ROUNDS * TX_COUNT * TX_INCRS);
	snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(total), total);
	resptest_roundtrip(a, "GET counter\r\n", want);
	/* Leaving inside MULTI: nothing of the queue ever runs (that its
	 * memory is released is check_limits's conn_data test). */
	resptest_roundtrip(a, "MULTI\r\nSET left behind\r\n", "+OK\r\n+QUEUED\r\n");
	close(a);
	resptest_roundtrip(b, "EXISTS left\r\n", ":0\r\n");
	close(b);
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
	char *t = resptest_cli(port, ttl);
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

static Suite *kvworkers_suite(void)
{
	Suite *s = suite_create("kv workers");
	TCase *tc = tcase_create("shared store");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 110);
	tcase_add_test(tc, test_data_written_through_one_worker_is_read_through_another);
	tcase_add_test(tc, test_info_counts_clients_and_commands_of_every_worker);
	tcase_add_test(tc, test_exec_is_atomic_across_workers);
	tcase_add_test(tc, test_reload_keeps_the_data);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(kvworkers_suite(), CK_NORMAL);
}
