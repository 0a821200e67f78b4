/* tests/integration/check_service.c — modhostd under a service manager.
 * The test plays systemd's part of the notification protocol: it binds the
 * datagram socket NOTIFY_SOCKET names and reads what the daemon says as it
 * starts, reloads (well and badly) and stops, with workers and in a single
 * process.  And the unit shipped in host/modhost.service.in, pointed at the
 * built daemon, must pass `systemd-analyze verify`. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CONF(workers)                                                                              \
	"[server]\nworkers = " workers "\nshutdown_timeout = 5s\n"                                 \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module lenprefix]\n[module echo]\n"                                                      \
	"[listener frames]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = echo\n"

/* A bound datagram socket in the test's folder, named by NOTIFY_SOCKET for
 * the daemon started next (then taken out of our environment again). */
static int notify_listen(void)
{
	char *path = harness_tmpfile("notify.sock");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	harness_assert(strlen(path) < sizeof(sa.sun_path), "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	harness_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	               "cannot bind %s: %s", path, strerror(errno));
	setenv("NOTIFY_SOCKET", path, 1);
	free(path);
	return fd;
}

/* The next notification, which must start with want (its first line);
 * returned in a static buffer. */
static const char *notify_expect(int fd, const char *want)
{
	static char msg[512];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	harness_assert(poll(&p, 1, HARNESS_WAIT_MS) == 1, "no notification (waiting for %s)", want);
	ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
	harness_assert(n > 0, "recv: %s", strerror(errno));
	msg[n] = '\0';
	harness_assert(strncmp(msg, want, strlen(want)) == 0 && msg[strlen(want)] == '\n',
	               "notification '%s', not %s", msg, want);
	return msg;
}

/* A READY=1 notification naming pid as the main process, with status. */
static void notify_expect_ready(int fd, pid_t pid, const char *status)
{
	const char *msg = notify_expect(fd, "READY=1");
	char want[256];
	snprintf(want, sizeof(want), "\nMAINPID=%d\nSTATUS=%s", (int)pid, status);
	harness_assert(strcmp(strchr(msg, '\n'), want) == 0, "READY notification '%s', not %s", msg,
	               want);
}

/* Stop signal sig: STOPPING=1, then a clean exit. */
static void notify_expect_stop(int fd, struct harness_daemon *d, int sig)
{
	harness_signal(d, sig);
	notify_expect(fd, "STOPPING=1");
	int st;
	harness_assert(harness_wait_exit(d, HARNESS_WAIT_MS, &st) == 1 && WIFEXITED(st) &&
	                   WEXITSTATUS(st) == 0,
	               "the daemon did not stop cleanly");
}

/* Start the daemon with conf and NOTIFY_SOCKET at *fd; READY=1 with
 * status must come. */
static struct harness_daemon *notify_start(const char *conf, int *fd, const char *status)
{
	*fd = notify_listen();
	struct harness_daemon *d = harness_start_ready("%s", conf);
	unsetenv("NOTIFY_SOCKET");
	notify_expect_ready(*fd, harness_pid(d), status);
	return d;
}

/* SIGHUP: RELOADING=1, then READY=1 with status. */
static void notify_expect_reload(int fd, struct harness_daemon *d, const char *status)
{
	harness_signal(d, SIGHUP);
	notify_expect(fd, "RELOADING=1");
	notify_expect_ready(fd, harness_pid(d), status);
}

START_TEST(test_notify_start_reload_stop)
{
	int fd;
	struct harness_daemon *d = notify_start(CONF("2"), &fd, "generation 1: 2 workers serving");
	/* The unit's ExecReload checks the configuration first, while the
	 * daemon holds its ports. */
	int st;
	char *out =
	    harness_sh(&st, "%s -t -c %s 2>&1", harness_env("MODHOSTD"), harness_config_path(d));
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "modhostd -t while serving: %s", out);
	free(out);
	notify_expect_reload(fd, d, "generation 2: 2 workers serving");
	/* A reload that fails says so, and the service is ready as before. */
	harness_expect_errors(d, "reload failed");
	harness_rewrite_config(d, "[server\n");
	notify_expect_reload(fd, d, "reload failed (see the log); generation 2 keeps serving");
	notify_expect_stop(fd, d, SIGTERM);
	close(fd);
}
END_TEST

START_TEST(test_notify_single_process)
{
	int fd;
	struct harness_daemon *d =
	    notify_start(CONF("0"), &fd, "generation 1: serving in a single process");
	notify_expect_reload(fd, d, "generation 2: serving in a single process");
	/* SIGQUIT stops gracefully too, as modhostd(8) says. */
	notify_expect_stop(fd, d, SIGQUIT);
	close(fd);
}
END_TEST

/* Without NOTIFY_SOCKET nothing is sent and nothing changes; a value that
 * is no socket address is logged and ignored. */
START_TEST(test_notify_socket_that_is_no_address)
{
	setenv("NOTIFY_SOCKET", "relative/name", 1);
	struct harness_daemon *d = harness_start_ready(CONF("1"));
	unsetenv("NOTIFY_SOCKET");
	harness_wait_log(d, 0, "NOTIFY_SOCKET 'relative/name' is not a socket path");
	int c = harness_connect_ok(harness_port(d, "frames"));
	int r = harness_echo_frame(c, "still", 5, HARNESS_WAIT_MS);
	harness_assert(r == HARNESS_OK, "echo: %s", harness_io_name(r));
	close(c);
}
END_TEST

START_TEST(test_systemd_unit_verifies)
{
	const char *src = harness_env("MH_SRCDIR"), *build = harness_env("MH_BUILDDIR");
	char *unit = harness_tmpfile("modhost.service");
	int st;
	/* The installed paths, pointed at the build; the configuration need
	 * not exist for a check of the unit. */
	char *out = harness_sh(&st,
	                       "sed -e 's|@sbindir@|%s/host|g' -e 's|@confdir@|%s|g' "
	                       "%s/host/modhost.service.in >%s",
	                       build, harness_tmpdir(), src, unit);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sed: %s", out);
	free(out);
	/* It reports what it ignores (an unknown key, a bad value) without
	 * failing, so any output at all is a finding; it logs to the journal
	 * unless told otherwise.  The man pages are not installed here. */
	out = harness_sh(&st, "SYSTEMD_LOG_TARGET=console %s verify --man=no %s 2>&1",
	                 harness_tool("systemd-analyze"), unit);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && out[0] == '\0',
	               "systemd-analyze verify %s: status %d:\n%s", unit, st, out);
	free(out);
	free(unit);
}
END_TEST

static Suite *service_suite(void)
{
	Suite *s = suite_create("service");
	TCase *tc = tcase_create("service");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_notify_start_reload_stop);
	tcase_add_test(tc, test_notify_single_process);
	tcase_add_test(tc, test_notify_socket_that_is_no_address);
	tcase_add_test(tc, test_systemd_unit_verifies);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(service_suite(), CK_ENV);
}
