/* tests/integration/harness_proc.c — processes for the integration tests:
 * what /proc says of a process (RSS, sleeps, CPU time, children), waiting
 * for a daemon's workers, running a command with its output captured,
 * and the open-file limit.  See harness.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

/* ---- processes ----------------------------------------------------------------- */

/* The number after "key:" in /proc/PID/status, or -1. */
static long harness_status_value(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':' &&
		    sscanf(line + klen + 1, "%ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

long harness_rss_kib(pid_t pid)
{
	return harness_status_value(pid, "VmRSS");
}

long harness_sleeps(pid_t pid)
{
	return harness_status_value(pid, "voluntary_ctxt_switches");
}

/* /proc/PID/stat from after the command's last ')' (the state field on)
 * into buf; NULL if pid is gone. */
static const char *harness_stat(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p ? p + 1 : NULL;
}

/* The parent of pid, or -1; zombies count as gone. */
static pid_t harness_ppid(pid_t pid)
{
	char buf[1024];
	const char *p = harness_stat(pid, buf, sizeof(buf));
	char state;
	int ppid;
	if (!p || sscanf(p, " %c %d", &state, &ppid) != 2 || state == 'Z' || state == 'X')
		return -1;
	return ppid;
}

long harness_cpu_ticks(pid_t pid)
{
	char buf[1024];
	const char *p = harness_stat(pid, buf, sizeof(buf));
	unsigned long utime, stime;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime (fields 3 to 15 of proc(5)) */
	if (!p || sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
	                 &stime) != 2)
		return -1;
	return (long)(utime + stime);
}

void harness_stop_process_at(const char *file, int line, pid_t pid)
{
	char buf[1024];
	const char *p;
	char state = '?';
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	if (kill(pid, SIGSTOP) < 0)
		harness_fail_at(file, line, "SIGSTOP", "pid %d: %s", (int)pid, strerror(errno));
	/* /proc has no change notification: look every millisecond. */
	while (!(p = harness_stat(pid, buf, sizeof(buf))) || sscanf(p, " %c", &state) != 1 ||
	       state != 'T') {
		if (harness_left(deadline) == 0)
			harness_fail_at(file, line, "SIGSTOP",
			                "pid %d is in state '%c', not stopped", (int)pid, state);
		poll(NULL, 0, 1);
	}
}

size_t harness_children(pid_t ppid, pid_t *out, size_t max)
{
	DIR *dir = opendir("/proc");
	size_t n = 0;
	struct dirent *e;
	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		char *endp;
		long pid = strtol(e->d_name, &endp, 10);
		if (*endp || pid <= 0 || harness_ppid((pid_t)pid) != ppid)
			continue;
		if (n < max)
			out[n] = (pid_t)pid;
		n++;
	}
	closedir(dir);
	return n;
}

void harness_wait_workers_at(const char *file, int line, struct harness_daemon *d, size_t n,
                             pid_t *out)
{
	uint64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	size_t have;
	/* /proc has no change notification: look every 10ms until the deadline. */
	while ((have = harness_children(harness_pid(d), out, n)) != n) {
		if (harness_left(deadline) == 0)
			harness_fail_at(file, line, "workers",
			                "the master has %zu children, expected %zu", have, n);
		poll(NULL, 0, 10);
	}
}

const char *harness_tool(const char *name)
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

int harness_run(char *const argv[], char **output, int timeout_ms)
{
	int pfd[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	pid_t pid;
	*output = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int r = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (r != 0) {
		close(pfd[0]);
		errno = r;
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	int timed_out = 0;
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int left = harness_left(deadline);
		if (left == 0) {
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t n = read(pfd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[len] = '\0';
	*output = buf;
	return timed_out ? -1 : st;
}

char *harness_sh(int *status, const char *fmt, ...)
{
	char *cmd, *out;
	va_list ap;
	va_start(ap, fmt);
	harness_assert(vasprintf(&cmd, fmt, ap) >= 0, "out of memory");
	va_end(ap);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	int st = harness_run(argv, &out, 30000);
	harness_assert(st != -1, "'%s' did not run or finish: %s", cmd, strerror(errno));
	free(cmd);
	*status = st;
	return out ? out : strdup("");
}

long harness_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

int harness_check_config(const char *path, char **out)
{
	char *argv[] = {(char *)harness_env("MODHOSTD"), "-t", "-c", (char *)path, NULL};
	int st = harness_run(argv, out, HARNESS_WAIT_MS);
	harness_assert(st != -1, "modhostd -t did not run or finish: %s", strerror(errno));
	return st;
}

void harness_expect_config_error(const char *name, const char *text, int want_line,
                                 const char *want_text)
{
	char *path = harness_tmpfile(name);
	char want[1024];
	harness_write_file(path, "%s", text);
	snprintf(want, sizeof(want), "%s:%d: %s", path, want_line, want_text);
	char *out;
	int st = harness_check_config(path, &out);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "-t on %s: status %d, output:\n%s",
	               name, st, out);
	harness_assert(strstr(out, want) != NULL, "-t on %s: expected '%s' in:\n%s", name, want,
	               out);
	free(out);
	free(path);
}
