/* tests/integration/harness.c — runs the real modhostd for the integration
 * suites: spawning, log capture, log waits; sockets with deadlines are in
 * harness_net.c, /proc inspection and other processes in harness_proc.c.
 * See harness.h for the contracts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

struct harness_daemon {
	pid_t pid;
	int reaped;
	int status; /* wait status once reaped */
	int err_fd; /* read end of the daemon's stdout/stderr pipe */
	int tee_fd; /* modhostd-N.log in the temporary folder */
	pthread_t reader;
	int reader_running;
	atomic_int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled when log grows or ends */
	char *log;         /* always NUL-terminated */
	size_t len, cap;
	int eof;
	char conf[PATH_MAX];
	char log_path[PATH_MAX];
	struct harness_expect *expects; /* error lines the test allows */
	int allow_all_errors;
	int checked; /* the log check ran */
	struct harness_daemon *next;
};

/* One regex of error lines a test allows (harness_expect_errors). */
struct harness_expect {
	regex_t rx;
	struct harness_expect *next;
};

/* Per test process (Check forks one per test). */
static struct harness_daemon *harness_daemons;
static char harness_dir[PATH_MAX - 64];
static unsigned harness_n_started;
static int harness_crashes_expected;

/* ---- failing ------------------------------------------------------------ */

void harness_dump_logs(void)
{
	for (struct harness_daemon *d = harness_daemons; d; d = d->next) {
		pthread_mutex_lock(&d->mu);
		fprintf(stderr, "---- modhostd log (%s, config %s) ----\n%s", d->log_path, d->conf,
		        d->log);
		if (d->len && d->log[d->len - 1] != '\n')
			fputc('\n', stderr);
		fprintf(stderr, "---- end of log ----\n");
		pthread_mutex_unlock(&d->mu);
	}
	fflush(stderr);
}

void harness_fail_at(const char *file, int line, const char *expr, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	harness_dump_logs();
	_ck_assert_failed(file, line, "Failed", "Assertion '%s' failed: %s", expr, msg);
	abort(); /* not reached in fork mode */
}

/* ---- environment, files ------------------------------------------------- */

uint64_t harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int harness_left(uint64_t deadline)
{
	uint64_t now = harness_now_ms();
	return now >= deadline ? 0 : (int)(deadline - now);
}

const char *harness_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		harness_fail_at(__FILE__, __LINE__, name,
		                "environment variable %s is not set (run through `make check`, or "
		                "set MODHOSTD, MODHOST_MODULE_PATH, MH_TEST_MODULES by hand)",
		                name);
	return v;
}

const char *harness_test_module(const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 8];
	snprintf(b, PATH_MAX, "%s/%s.so", harness_env("MH_TEST_MODULES"), name);
	return b;
}

static void harness_mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(tmp, 0755);
		*p = '/';
	}
	mkdir(tmp, 0755);
}

const char *harness_tmpdir(void)
{
	if (harness_dir[0])
		return harness_dir;
	const char *build = getenv("MH_BUILDDIR");
	const char *tmp = getenv("TMPDIR");
	char base[PATH_MAX - 128];
	if (build && *build)
		snprintf(base, sizeof(base), "%s/tests/tmp", build);
	else
		snprintf(base, sizeof(base), "%s", tmp && *tmp ? tmp : "/tmp");
	harness_mkdirs(base);
	snprintf(harness_dir, sizeof(harness_dir), "%s/integ.XXXXXX", base);
	if (!mkdtemp(harness_dir)) {
		int e = errno;
		harness_dir[0] = '\0';
		harness_fail_at(__FILE__, __LINE__, "mkdtemp", "cannot create a folder in %s: %s",
		                base, strerror(e));
	}
	return harness_dir;
}

char *harness_tmpfile(const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", harness_tmpdir(), name) < 0)
		harness_fail_at(__FILE__, __LINE__, "asprintf", "out of memory");
	return p;
}

__attribute__((format(printf, 2, 0))) static void harness_vwrite_file(const char *path,
                                                                      const char *fmt, va_list ap)
{
	FILE *f = fopen(path, "w");
	if (!f)
		harness_fail_at(__FILE__, __LINE__, "fopen", "cannot write %s: %s", path,
		                strerror(errno));
	vfprintf(f, fmt, ap);
	if (fclose(f) != 0)
		harness_fail_at(__FILE__, __LINE__, "fclose", "cannot write %s: %s", path,
		                strerror(errno));
}

void harness_write_file(const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	harness_vwrite_file(path, fmt, ap);
	va_end(ap);
}

static int harness_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* ---- the log reader ----------------------------------------------------- */

static void harness_log_append(struct harness_daemon *d, const char *buf, size_t n)
{
	pthread_mutex_lock(&d->mu);
	if (d->len + n + 1 > d->cap) {
		size_t cap = d->cap ? d->cap : 65536;
		while (cap < d->len + n + 1)
			cap *= 2;
		char *p = realloc(d->log, cap);
		if (!p) {
			pthread_mutex_unlock(&d->mu);
			return; /* keep what we have; a wait will then time out */
		}
		d->log = p;
		d->cap = cap;
	}
	memcpy(d->log + d->len, buf, n);
	d->len += n;
	d->log[d->len] = '\0';
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* Copy the daemon's output into memory and the tee file until it ends (all
 * of the daemon's processes closed the pipe) or we are told to stop. */
static void *harness_reader(void *arg)
{
	struct harness_daemon *d = arg;
	char buf[16384];
	while (!atomic_load(&d->stop)) {
		struct pollfd p = {.fd = d->err_fd, .events = POLLIN};
		int r = poll(&p, 1, 100);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		ssize_t n = read(d->err_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (d->tee_fd >= 0 && write(d->tee_fd, buf, (size_t)n) < 0) {
			close(d->tee_fd);
			d->tee_fd = -1;
		}
		harness_log_append(d, buf, (size_t)n);
	}
	pthread_mutex_lock(&d->mu);
	d->eof = 1;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ---- sanitizers ----------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define HARNESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARNESS_ASAN 1
#endif
#endif

int harness_sanitized(void)
{
#ifdef HARNESS_ASAN
	return 1;
#else
	return 0;
#endif
}

void harness_expect_crashes(void)
{
	harness_crashes_expected = 1;
}

/* "NAME=" + the inherited value + ":" + more (or just more), newly
 * allocated. */
static char *harness_env_join(const char *name, const char *more)
{
	const char *old = getenv(name);
	char *v;
	if (asprintf(&v, "%s=%s%s%s", name, old && *old ? old : "", old && *old ? ":" : "",
	             more) < 0)
		harness_fail_at(__FILE__, __LINE__, "asprintf", "out of memory");
	return v;
}

/* The daemon's environment: ours, with sanitizer options added.  A UBSan
 * report prints its stack; with harness_expect_crashes the sanitizers
 * leave fatal signals alone.  The options are later in the string, so
 * they win over inherited ones.  Free with harness_free_env. */
static char **harness_daemon_env(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 3, sizeof(*env));
	if (!env)
		harness_fail_at(__FILE__, __LINE__, "calloc", "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0 ||
		    strncmp(environ[i], "UBSAN_OPTIONS=", 14) == 0)
			continue;
		if (!(env[k++] = strdup(environ[i])))
			harness_fail_at(__FILE__, __LINE__, "strdup", "out of memory");
	}
	env[k++] = harness_env_join("ASAN_OPTIONS",
	                            harness_crashes_expected
	                                ? "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:"
	                                  "handle_sigill=0:handle_abort=0"
	                                : "halt_on_error=1");
	env[k++] = harness_env_join("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
	return env;
}

static void harness_free_env(char **env)
{
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

/* ---- checking a daemon's log --------------------------------------------------- */

static void harness_compile(const char *file, int line, regex_t *rx, const char *re);

void harness_expect_errors(struct harness_daemon *d, const char *re)
{
	if (!re) {
		d->allow_all_errors = 1;
		return;
	}
	struct harness_expect *e = calloc(1, sizeof(*e));
	if (!e)
		harness_fail_at(__FILE__, __LINE__, "calloc", "out of memory");
	harness_compile(__FILE__, __LINE__, &e->rx, re);
	e->next = d->expects;
	d->expects = e;
}

/* What no test may allow: the first words of every sanitizer report. */
static const char *const harness_sanitizer_marks[] = {
    "AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "ThreadSanitizer",
    "MemorySanitizer",  "runtime error: ",
};

/* Is line (NUL-terminated) a problem?  Returns a short reason, or NULL. */
static const char *harness_bad_line(struct harness_daemon *d, const regex_t *error_rx,
                                    const char *line)
{
	for (size_t i = 0; i < sizeof(harness_sanitizer_marks) / sizeof(harness_sanitizer_marks[0]);
	     i++)
		if (strstr(line, harness_sanitizer_marks[i]))
			return "sanitizer report";
	if (d->allow_all_errors || regexec(error_rx, line, 0, NULL, 0) != 0)
		return NULL;
	for (struct harness_expect *e = d->expects; e; e = e->next)
		if (regexec(&e->rx, line, 0, NULL, 0) == 0)
			return NULL;
	return "unexpected error";
}

/* Fail the test if d's log has a sanitizer report or an error line the
 * test did not allow.  The log is complete: the reader has ended. */
static void harness_check_log(struct harness_daemon *d)
{
	regex_t error_rx;
	char found[2048];
	size_t used = 0;
	int bad = 0;
	if (d->checked)
		return;
	d->checked = 1;
	/* text: "TIME ERROR proc[pid]: ", logfmt: level=error, json. */
	harness_compile(__FILE__, __LINE__, &error_rx,
	                "^[^ ]+ ERROR [^ ]+\\[[0-9]+\\]: |(^|[[:space:]])level=error([[:space:]]|$)|"
	                "\"level\":\"error\"");
	found[0] = '\0';
	pthread_mutex_lock(&d->mu);
	for (char *line = d->log; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		const char *why = harness_bad_line(d, &error_rx, line);
		if (why && bad++ < 5 && used < sizeof(found))
			used += (size_t)snprintf(found + used, sizeof(found) - used, "\n  [%s] %.300s",
			                         why, line);
		if (nl)
			*nl = '\n';
		line = nl ? nl + 1 : NULL;
	}
	pthread_mutex_unlock(&d->mu);
	regfree(&error_rx);
	if (bad)
		harness_fail_at(__FILE__, __LINE__, "daemon log",
		                "%s has %d line(s) the test did not expect:%s%s\n(a test that "
		                "provokes error lines allows them with harness_expect_errors)",
		                d->log_path, bad, found, bad > 5 ? "\n  ..." : "");
}

/* ---- the daemon ---------------------------------------------------------- */

struct harness_daemon *harness_start(const char *config_fmt, ...)
{
	const char *modhostd = harness_env("MODHOSTD");
	struct harness_daemon *d = calloc(1, sizeof(*d));
	if (!d)
		harness_fail_at(__FILE__, __LINE__, "calloc", "out of memory");
	unsigned n = ++harness_n_started;
	snprintf(d->conf, sizeof(d->conf), "%s/modhost-%u.ini", harness_tmpdir(), n);
	snprintf(d->log_path, sizeof(d->log_path), "%s/modhostd-%u.log", harness_tmpdir(), n);
	va_list ap;
	va_start(ap, config_fmt);
	harness_vwrite_file(d->conf, config_fmt, ap);
	va_end(ap);

	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	d->log = calloc(1, 1);
	d->cap = 1;
	d->tee_fd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	d->next = harness_daemons;
	harness_daemons = d;

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		harness_fail_at(__FILE__, __LINE__, "pipe2", "%s", strerror(errno));
	fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20); /* best effort: room for bursts */
	signal(SIGPIPE, SIG_IGN);
	/* Workers whose master dies are re-parented to us, so that
	 * harness_stop can reap them instead of leaving zombies. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	char *argv[] = {(char *)modhostd, "-f", "-c", d->conf, NULL};
	char **envp = harness_daemon_env();
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		harness_fail_at(__FILE__, __LINE__, "fork", "%s", strerror(errno));
	if (pid == 0) {
		/* Only async-signal-safe calls until exec. */
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigset_t none;
		struct rlimit nocore = {0, 0};
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		setrlimit(RLIMIT_CORE, &nocore); /* a crash test must not leave cores */
		sigaction(SIGPIPE, &dfl, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	harness_free_env(envp);
	close(pfd[1]);
	d->pid = pid;
	d->err_fd = pfd[0];
	if (pthread_create(&d->reader, NULL, harness_reader, d) != 0)
		harness_fail_at(__FILE__, __LINE__, "pthread_create",
		                "cannot start the log reader");
	d->reader_running = 1;
	return d;
}

struct harness_daemon *harness_started_ready(const char *file, int line, struct harness_daemon *d)
{
	harness_wait_log_at(file, line, d, 0, "generation 1 ready: ", 1, HARNESS_WAIT_MS);
	return d;
}

pid_t harness_pid(const struct harness_daemon *d)
{
	return d->pid;
}

const char *harness_config_path(const struct harness_daemon *d)
{
	return d->conf;
}

void harness_rewrite_config(struct harness_daemon *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	harness_vwrite_file(d->conf, fmt, ap);
	va_end(ap);
}

size_t harness_log_size(struct harness_daemon *d)
{
	pthread_mutex_lock(&d->mu);
	size_t n = d->len;
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* Count matches of rx in d->log from `from`; the caller holds d->mu. */
static int harness_scan_locked(struct harness_daemon *d, size_t from, const regex_t *rx, int want,
                               size_t *end, char *group, size_t grouplen)
{
	int found = 0;
	size_t pos = from > d->len ? d->len : from;
	regmatch_t m[2];
	while (found < want && pos < d->len &&
	       regexec(rx, d->log + pos, 2, m,
	               pos > 0 && d->log[pos - 1] != '\n' ? REG_NOTBOL : 0) == 0) {
		/* Only whole lines count: a line still arriving may match
		 * a prefix of itself (a port number cut short). */
		const char *nl = strchr(d->log + pos + m[0].rm_eo, '\n');
		if (!nl)
			break;
		found++;
		if (group && grouplen) {
			group[0] = '\0';
			if (m[1].rm_so >= 0) {
				size_t n = (size_t)(m[1].rm_eo - m[1].rm_so);
				if (n >= grouplen)
					n = grouplen - 1;
				memcpy(group, d->log + pos + m[1].rm_so, n);
				group[n] = '\0';
			}
		}
		/* Continue after the end of this line: one match per line. */
		size_t next = (size_t)(nl - d->log) + 1;
		if (end)
			*end = next;
		pos = next;
	}
	return found;
}

static void harness_compile(const char *file, int line, regex_t *rx, const char *re)
{
	int r = regcomp(rx, re, REG_EXTENDED | REG_NEWLINE);
	if (r != 0) {
		char msg[256];
		regerror(r, rx, msg, sizeof(msg));
		harness_fail_at(file, line, "regcomp", "bad regex /%s/: %s", re, msg);
	}
}

int harness_log_count(struct harness_daemon *d, size_t from, const char *re, int want, size_t *end,
                      char *group, size_t grouplen)
{
	regex_t rx;
	harness_compile(__FILE__, __LINE__, &rx, re);
	pthread_mutex_lock(&d->mu);
	int n = harness_scan_locked(d, from, &rx, want, end, group, grouplen);
	pthread_mutex_unlock(&d->mu);
	regfree(&rx);
	return n;
}

/* Wait for `want` matches; returns 1 with *end and group set, or 0. */
static int harness_log_wait(struct harness_daemon *d, size_t from, const regex_t *rx, int want,
                            int timeout_ms, size_t *end, char *group, size_t grouplen)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	int ok = 0;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		if (harness_scan_locked(d, from, rx, want, end, group, grouplen) >= want) {
			ok = 1;
			break;
		}
		if (d->eof || harness_now_ms() >= deadline)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->cv, &d->mu, &ts);
	}
	pthread_mutex_unlock(&d->mu);
	return ok;
}

size_t harness_wait_log_at(const char *file, int line, struct harness_daemon *d, size_t from,
                           const char *re, int want, int timeout_ms)
{
	regex_t rx;
	size_t end = from;
	harness_compile(file, line, &rx, re);
	int ok = harness_log_wait(d, from, &rx, want, timeout_ms, &end, NULL, 0);
	regfree(&rx);
	if (!ok)
		harness_fail_at(
		    file, line, "log line", "%d line(s) matching /%s/ after offset %zu not seen %s",
		    want, re, from,
		    d->eof ? "before the daemon's output ended" : "within the deadline");
	return end;
}

int harness_port_at(const char *file, int line, struct harness_daemon *d, const char *name)
{
	char re[256], port[16];
	regex_t rx;
	snprintf(re, sizeof(re), "listener '%s' listening on 127\\.0\\.0\\.1:([0-9]+)", name);
	harness_compile(file, line, &rx, re);
	int ok = harness_log_wait(d, 0, &rx, 1, HARNESS_WAIT_MS, NULL, port, sizeof(port));
	regfree(&rx);
	if (!ok)
		harness_fail_at(file, line, "listener port", "no line /%s/ in the log", re);
	return atoi(port);
}

pid_t harness_connection_owner_at(const char *file, int line, struct harness_daemon *d, int fd)
{
	char re[256], pid[32];
	snprintf(re, sizeof(re),
	         "worker\\.[0-9]+\\[([0-9]+)\\]: module testhandler: connection open from "
	         "127\\.0\\.0\\.1:%d$",
	         harness_local_port(fd));
	harness_wait_log_at(file, line, d, 0, re, 1, HARNESS_WAIT_MS);
	harness_log_count(d, 0, re, 1, NULL, pid, sizeof(pid));
	return (pid_t)atoi(pid);
}

void harness_signal(struct harness_daemon *d, int sig)
{
	if (!d->reaped)
		kill(d->pid, sig);
}

/* Reap the master if it has exited. */
static int harness_try_reap(struct harness_daemon *d)
{
	if (d->reaped)
		return 1;
	int st;
	pid_t r = waitpid(d->pid, &st, WNOHANG);
	if (r == d->pid) {
		d->reaped = 1;
		d->status = st;
		return 1;
	}
	return 0;
}

int harness_wait_exit(struct harness_daemon *d, int timeout_ms, int *status)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	int pidfd = -1;
#ifdef SYS_pidfd_open
	if (!d->reaped)
		pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
#endif
	while (!harness_try_reap(d)) {
		int left = harness_left(deadline);
		if (left == 0)
			break;
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			poll(&p, 1, left);
		} else {
			poll(NULL, 0, left < 5 ? left : 5); /* no pidfd: check every 5ms */
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (d->reaped && status)
		*status = d->status;
	return d->reaped;
}

/* How long a sanitizer build's daemon gets to stop by itself. */
#define HARNESS_STOP_GRACE_MS 15000

void harness_stop(struct harness_daemon *d)
{
	/* A sanitizer build stops the daemon as an operator would, with
	 * SIGTERM, so that every worker runs LeakSanitizer before it exits
	 * (host/master.c) and a leak fails the test through the log check
	 * below; a daemon that does not stop in time is killed. */
	if (!d->reaped && harness_sanitized() && !harness_crashes_expected) {
		kill(d->pid, SIGTERM);
		harness_wait_exit(d, HARNESS_STOP_GRACE_MS, NULL);
	}
	if (!d->reaped) {
		kill(-d->pid, SIGKILL);
		kill(d->pid, SIGKILL);
		int st;
		if (waitpid(d->pid, &st, 0) == d->pid) {
			d->reaped = 1;
			d->status = st;
		}
	} else {
		kill(-d->pid, SIGKILL); /* workers left behind by a dead master */
	}
	/* Whatever was left of its process group is ours now (subreaper):
	 * reap it.  Everything in the group got SIGKILL, so this ends. */
	while (waitpid(-d->pid, NULL, 0) > 0 || errno == EINTR)
		;
	if (d->reader_running) {
		atomic_store(&d->stop, 1);
		pthread_join(d->reader, NULL);
		d->reader_running = 0;
	}
	if (d->err_fd >= 0) {
		close(d->err_fd);
		d->err_fd = -1;
	}
	if (d->tee_fd >= 0) {
		close(d->tee_fd);
		d->tee_fd = -1;
	}
	harness_check_log(d);
}

void harness_cleanup(void)
{
	/* Stop them all first, so that a failed log check prints every log. */
	for (struct harness_daemon *d = harness_daemons; d; d = d->next)
		harness_stop(d);
	while (harness_daemons) {
		struct harness_daemon *d = harness_daemons;
		harness_daemons = d->next;
		while (d->expects) {
			struct harness_expect *e = d->expects;
			d->expects = e->next;
			regfree(&e->rx);
			free(e);
		}
		pthread_mutex_destroy(&d->mu);
		pthread_cond_destroy(&d->cv);
		free(d->log);
		free(d);
	}
	if (harness_dir[0]) {
		nftw(harness_dir, harness_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		harness_dir[0] = '\0';
	}
}

/* ---- a suite's main ------------------------------------------------------------ */

int harness_run_suite(Suite *s, enum print_output mode)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, mode);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
