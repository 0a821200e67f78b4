/* tests/integration/check_slowhttp.c — slowhttptest, the slow-client attack
 * tool, against an http1 listener: slow headers (slowloris, -H) and a slow
 * body (-B).  read_timeout counts from a message's first byte however the
 * peer trickles, so every slow connection must be closed soon after it,
 * and the tool's probe (a whole request on a new connection, every
 * second) must be answered all along. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define CONF                                                                                       \
	"[server]\nworkers = 1\nshutdown_timeout = 5s\n"                                           \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module http1]\n"                                                                         \
	"[module fixed]\nbody = hello\n"                                                           \
	"[listener web]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = fixed\n"                   \
	"read_timeout = 2s\nidle_timeout = 30s\n"

/* Slow connections the tool opens (its -c below).  The tool gives up
 * after 30 s (-l), far more than read_timeout: hitting that means that slow
 * connections were kept. */
#define SLOW_CONNS 200

/* One line of the tool's CSV report: its state each second. */
struct slow_second {
	int seconds, closed, pending, connected, available;
};

/* Run slowhttptest in mode ("-H" or "-B") with verb against the daemon
 * and check its report. */
static void slow_attack(const char *mode, const char *verb)
{
	struct harness_daemon *d = harness_start_ready(CONF);
	size_t from = harness_log_size(d);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", harness_port(d, "web"));
	char *report = harness_tmpfile(mode + 1);
	/* -c connections, -r opened per second, -i seconds between a
	 * connection's trickled pieces, -s the Content-Length a slow body
	 * announces, -l when the tool gives up, -p the probe's timeout. */
	static const char *const opts[] = {"-c",   "200", "-r", "100", "-i", "1",  "-s",
	                                   "8192", "-l",  "30", "-p",  "5",  "-g", NULL};
	const char *argv[32] = {
	    harness_tool("slowhttptest"), mode, "-t", verb, "-u", url, "-o", report};
	size_t n = 8;
	for (size_t i = 0; opts[i]; i++)
		argv[n++] = opts[i];
	char *out;
	int st = harness_run((char *const *)argv, &out, 120000);
	harness_assert(st != -1, "slowhttptest did not run or finish: %s", strerror(errno));
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "slowhttptest %s: status %d:\n%s",
	               mode, st, out);
	harness_assert(strstr(out, "No open connections left"),
	               "slowhttptest %s ended with connections still open:\n%s", mode, out);

	char *csv;
	if (asprintf(&csv, "%s.csv", report) < 0)
		harness_fail_at(__FILE__, __LINE__, "asprintf", "out of memory");
	FILE *f = fopen(csv, "r");
	harness_assert(f, "no report %s: %s\n%s", csv, strerror(errno), out);
	char line[256];
	struct slow_second row = {0}, last = {0};
	int rows = 0, peak = 0;
	harness_assert(fgets(line, sizeof(line), f), "empty report %s", csv); /* the header */
	while (fgets(line, sizeof(line), f)) {
		harness_assert(sscanf(line, "%d,%d,%d,%d,%d", &row.seconds, &row.closed,
		                      &row.pending, &row.connected, &row.available) == 5,
		               "%s: unexpected line: %s", csv, line);
		/* The tool writes 0 for "service available" when its probe got
		 * no answer in time. */
		harness_assert(row.available > 0, "%s: the probe went unanswered at second %d",
		               mode, row.seconds);
		peak = row.connected > peak ? row.connected : peak;
		last = row;
		rows++;
	}
	fclose(f);
	/* The attack really held connections open (else the test proves
	 * nothing); the server closed every one of them for its read timeout
	 * (the tool's last line above says none was left open), soon after. */
	harness_assert(peak >= SLOW_CONNS * 3 / 4, "%s: at most %d slow connections were open",
	               mode, peak);
	harness_assert(rows <= 15, "%s: the slow connections took until second %d to go", mode,
	               last.seconds);
	harness_wait_log_n(d, from, "read timeout for .*: message incomplete after 2000ms",
	                   SLOW_CONNS);
	free(csv);
	free(out);
	free(report);
}

START_TEST(test_slow_headers_are_cut_by_read_timeout)
{
	slow_attack("-H", "GET");
}
END_TEST

START_TEST(test_slow_body_is_cut_by_read_timeout)
{
	slow_attack("-B", "POST");
}
END_TEST

static Suite *slowhttp_suite(void)
{
	Suite *s = suite_create("slowhttp");
	TCase *tc = tcase_create("slowhttp");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_slow_headers_are_cut_by_read_timeout);
	tcase_add_test(tc, test_slow_body_is_cut_by_read_timeout);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(slowhttp_suite(), CK_ENV);
}
