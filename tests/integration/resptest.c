/* tests/integration/resptest.c — the RESP suites' shared helpers
 * (resptest.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resptest.h"

void resptest_send(int fd, const void *data, size_t len)
{
	int r = harness_send_all(fd, data, len, IO_MS);
	harness_assert(r == HARNESS_OK, "send of %zu bytes: %s", len, harness_io_name(r));
}

void resptest_send_str(int fd, const char *s)
{
	resptest_send(fd, s, strlen(s));
}

/* Receive exactly strlen(want) bytes and compare them with want. */
void resptest_expect(int fd, const char *want)
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
void resptest_roundtrip(int fd, const char *request, const char *want)
{
	resptest_send_str(fd, request);
	resptest_expect(fd, want);
}

void resptest_expect_closed(int fd, const char *what)
{
	size_t extra = 0;
	int r = harness_wait_closed(fd, IO_MS, &extra);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "%s: connection %s", what,
	               harness_io_name(r));
	harness_assert(extra == 0, "%s: %zu unexpected bytes before the close", what, extra);
}

/* Run redis-cli -p port [args...] and return its output (free it); the
 * exit status must be 0. */
char *resptest_cli(int port, const char *const *args)
{
	char portstr[16];
	char *argv[32];
	size_t n = 0;
	snprintf(portstr, sizeof(portstr), "%d", port);
	argv[n++] = (char *)harness_tool("redis-cli");
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
