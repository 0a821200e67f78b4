/* tests/integration/check_slowhttp.c — slowhttptest, the slow-client attack
 * tool, against http1 listeners: slow headers (slowloris, -H), a slow body
 * (-B) and slow reading (-X).  read_timeout counts from a message's first
 * byte however the peer trickles, and write_timeout from the last progress,
 * so every slow connection must be cut soon after it, while the tool's
 * probe (a whole request on a new connection, every second) is answered
 * all along. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

/* "web" answers every request with a few bytes; "store" serves the kv
 * store over HTTP, whose values can be larger than a slow reader takes.
 * Its small send_buffer keeps a 1 MB reply out of the kernel's buffers
 * (which would otherwise take it whole, and leave write_timeout nothing
 * to time). */
#define CONF                                                                                       \
	"[server]\nworkers = 1\nshutdown_timeout = 5s\n"                                           \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module http1]\n"                                                                         \
	"[module fixed]\nbody = hello\n"                                                           \
	"[module kv]\nmax_memory = 8MiB\n"                                                         \
	"[listener web]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = fixed\n"                   \
	"read_timeout = 2s\nidle_timeout = 30s\n"                                                  \
	"[listener store]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = kv\n"                    \
	"write_timeout = 2s\nidle_timeout = 30s\nsend_buffer = 16KiB\n"

/* One attack: the tool's mode and options, the listener and path it aims
 * at, the log line the server must write for each slow connection. */
struct slow_case {
	const char *mode, *verb, *listener, *path;
	const char *const *opts;
	int conns;
	const char *cut;   /* a regex */
	int tool_sees_end; /* whether the tool notices the closes (not -X) */
};

/* -c connections, -r opened per second, -i seconds between a connection's
 * trickled pieces, -s the Content-Length a slow body announces, -l when
 * the tool gives up (far more than read_timeout: reaching it means slow
 * connections were kept), -p the probe's timeout. */
static const char *const trickle_opts[] = {"-c",   "200", "-r", "100", "-i", "1", "-s",
                                           "8192", "-l",  "30", "-p",  "5",  NULL};
/* Slow reading: a receive window of 10 to 20 bytes, 32 bytes read every
 * 5 s.  The tool does not notice that the server closed (the closes are
 * in the log), so it stops after 8 s. */
static const char *const slow_read_opts[] = {"-c", "100", "-r", "50", "-w", "10", "-y", "20", "-n",
                                             "5",  "-z",  "32", "-l", "8",  "-p", "5",  NULL};

/* One line of the tool's CSV report: its state each second. */
struct slow_second {
	int seconds, closed, pending, connected, available;
};

/* Check the tool's CSV report: the probe answered every second, and at
 * least three quarters of the slow connections open at once (else the
 * test proves nothing). */
static void slow_check_report(const struct slow_case *sc, const char *report)
{
	char *csv;
	if (asprintf(&csv, "%s.csv", report) < 0)
		harness_fail_at(__FILE__, __LINE__, "asprintf", "out of memory");
	FILE *f = fopen(csv, "r");
	harness_assert(f, "no report %s: %s", csv, strerror(errno));
	char line[256];
	struct slow_second row = {0};
	int rows = 0, peak = 0;
	harness_assert(fgets(line, sizeof(line), f), "empty report %s", csv); /* the header */
	while (fgets(line, sizeof(line), f)) {
		harness_assert(sscanf(line, "%d,%d,%d,%d,%d", &row.seconds, &row.closed,
		                      &row.pending, &row.connected, &row.available) == 5,
		               "%s: unexpected line: %s", csv, line);
		/* The tool writes 0 for "service available" when its probe got
		 * no answer in time. */
		harness_assert(row.available > 0, "%s: the probe went unanswered at second %d",
		               sc->mode, row.seconds);
		peak = row.connected > peak ? row.connected : peak;
		rows++;
	}
	fclose(f);
	harness_assert(peak >= sc->conns * 3 / 4, "%s: at most %d slow connections were open",
	               sc->mode, peak);
	harness_assert(rows <= 15, "%s: the slow connections took until second %d to go", sc->mode,
	               row.seconds);
	free(csv);
}

/* Run slowhttptest as sc says against a started daemon and check that
 * the server cut every slow connection and served the probe all along. */
static void slow_attack(struct harness_daemon *d, const struct slow_case *sc)
{
	size_t from = harness_log_size(d);
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", harness_port(d, sc->listener),
	         sc->path);
	char *report = harness_tmpfile(sc->mode + 1);
	const char *argv[40] = {
	    harness_tool("slowhttptest"), sc->mode, "-t", sc->verb, "-u", url, "-o", report, "-g"};
	size_t n = 9;
	for (size_t i = 0; sc->opts[i] && n < 39; i++)
		argv[n++] = sc->opts[i];
	char *out;
	int st = harness_run((char *const *)argv, &out, 120000);
	harness_assert(st != -1, "slowhttptest did not run or finish: %s", strerror(errno));
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "slowhttptest %s: status %d:\n%s",
	               sc->mode, st, out);
	harness_assert(!sc->tool_sees_end || strstr(out, "No open connections left"),
	               "slowhttptest %s ended with connections still open:\n%s", sc->mode, out);
	slow_check_report(sc, report);
	harness_wait_log_n(d, from, sc->cut, sc->conns);
	free(out);
	free(report);
}

/* Slow headers (slowloris) and a slow body: read_timeout cuts them. */
static const char *const trickle_modes[][2] = {{"-H", "GET"}, {"-B", "POST"}};

START_TEST(test_trickling_peers_are_cut_by_read_timeout)
{
	const struct slow_case sc = {.mode = trickle_modes[_i][0],
	                             .verb = trickle_modes[_i][1],
	                             .listener = "web",
	                             .path = "/",
	                             .opts = trickle_opts,
	                             .conns = 200,
	                             .cut = "read timeout for .*: message incomplete after 2000ms",
	                             .tool_sees_end = 1};
	slow_attack(harness_start_ready(CONF), &sc);
}
END_TEST

/* A reader too slow for a 1 MB value: write_timeout cuts it (progress
 * every 5 s does not reset a 2 s timeout). */
START_TEST(test_slow_reader_is_cut_by_write_timeout)
{
	static const struct slow_case sc = {.mode = "-X",
	                                    .verb = "GET",
	                                    .listener = "store",
	                                    .path = "/kv/big",
	                                    .opts = slow_read_opts,
	                                    .conns = 100,
	                                    .cut = "write timeout for .*: peer not reading"};
	struct harness_daemon *d = harness_start_ready(CONF);
	char *value = harness_tmpfile("big.bin");
	FILE *f = fopen(value, "w");
	harness_assert(f, "%s: %s", value, strerror(errno));
	for (int i = 0; i < 1000000; i++)
		fputc('a' + i % 26, f);
	fclose(f);
	int st;
	char *out = harness_sh(&st,
	                       "%s -sS -o /dev/null -w '%%{http_code}' -X PUT "
	                       "--data-binary @%s http://127.0.0.1:%d/kv/big",
	                       harness_tool("curl"), value, harness_port(d, "store"));
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(out, "201") == 0,
	               "PUT /kv/big: %s", out);
	free(out);
	free(value);
	slow_attack(d, &sc);
}
END_TEST

static Suite *slowhttp_suite(void)
{
	Suite *s = suite_create("slowhttp");
	TCase *tc = tcase_create("slowhttp");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 180);
	tcase_add_loop_test(tc, test_trickling_peers_are_cut_by_read_timeout, 0,
	                    (int)(sizeof(trickle_modes) / sizeof(trickle_modes[0])));
	tcase_add_test(tc, test_slow_reader_is_cut_by_write_timeout);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(slowhttp_suite(), CK_ENV);
}
