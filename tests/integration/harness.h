/* tests/integration/harness.h — what the integration suites use to run the
 * real modhostd on 127.0.0.1: start it from a config text, follow its log
 * through a pipe, talk to it over sockets with deadlines, signal it and
 * inspect its processes.  No test sleeps to wait for the daemon: every
 * wait here is for an event (a log line, a byte, a close, an exit) with a
 * deadline.
 *
 * Cleanup: call harness_cleanup() from the TCase's checked teardown.  A
 * failing test exits without its teardown (Check's fork mode), so the
 * daemon is also started with PR_SET_PDEATHSIG = SIGKILL: it dies with the
 * test process, and its workers follow it.  On failure the temporary folder
 * (config and modhostd.log) is kept and the log is printed to stderr.
 *
 * Like nginx's test harness, stopping a daemon (harness_stop, and so
 * harness_cleanup) checks its whole log: a sanitizer report, or an
 * error-level line the test did not announce with harness_expect_errors,
 * fails the test.  In a sanitizer build that includes a leak a worker
 * made: harness_stop lets the daemon stop by itself, and each worker runs
 * LeakSanitizer before it exits. */
#ifndef MH_TEST_HARNESS_H
#define MH_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

/* How long a "must happen" wait lasts before the test fails. */
#define HARNESS_WAIT_MS 20000

/* Outcomes of socket operations. */
enum harness_io {
	HARNESS_OK = 0,
	HARNESS_EOF = 1,     /* the peer closed: recv returned 0 */
	HARNESS_RESET = 2,   /* ECONNRESET or EPIPE */
	HARNESS_TIMEOUT = 3, /* the deadline passed first */
	HARNESS_ERROR = 4,   /* another error, or a reply that did not match */
};

struct harness_daemon; /* one running modhostd; owned by the harness */

/* ---- failing with the daemon's log ------------------------------------- */

/* Print every daemon's log to stderr, then fail the test at file:line with
 * "Assertion 'expr' failed: <fmt...>".  Never returns. */
void harness_fail_at(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

/* ck_assert_msg that also prints the daemons' logs when it fails. */
#define harness_assert(cond, ...)                                                                  \
	do {                                                                                       \
		if (!(cond))                                                                       \
			harness_fail_at(__FILE__, __LINE__, #cond, __VA_ARGS__);                   \
	} while (0)

/* ---- environment, files ------------------------------------------------- */

/* The value of an environment variable the test environment must set
 * (MODHOSTD, MH_TEST_MODULES, ...); fails the test if it is unset. */
const char *harness_env(const char *name);
/* "$MH_TEST_MODULES/NAME.so", in a buffer valid until the next 8 calls. */
const char *harness_test_module(const char *name);
/* The test's private temporary folder, created on first use (under
 * $MH_BUILDDIR/tests/tmp when set) and removed by harness_cleanup. */
const char *harness_tmpdir(void);
/* A newly allocated "DIR/NAME" inside harness_tmpdir(); free it. */
char *harness_tmpfile(const char *name);
/* Write a file (truncating it) from a format; fails the test on error. */
void harness_write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Monotonic milliseconds. */
uint64_t harness_now_ms(void);
/* Milliseconds left until deadline (0 if passed), for poll(). */
int harness_left(uint64_t deadline);

/* ---- the daemon ---------------------------------------------------------- */

/* Write the config text (a printf format) to a new file in the temporary
 * folder and start `$MODHOSTD -f -c FILE` with its stdout and stderr on a
 * pipe that a thread copies into an in-memory log and into
 * TMPDIR/modhostd-N.log.  Does not wait for anything.  Fails the test if it
 * cannot spawn. */
struct harness_daemon *harness_start(const char *config_fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* harness_start, then wait for "generation 1 ready: ". */
#define harness_start_ready(...)                                                                   \
	harness_started_ready(__FILE__, __LINE__, harness_start(__VA_ARGS__))
struct harness_daemon *harness_started_ready(const char *file, int line, struct harness_daemon *d);

pid_t harness_pid(const struct harness_daemon *d);
const char *harness_config_path(const struct harness_daemon *d);
/* Replace the daemon's config file with new text (for reload tests). */
void harness_rewrite_config(struct harness_daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Bytes of log captured so far: an offset to wait "after". */
size_t harness_log_size(struct harness_daemon *d);
/* Count matches of the extended regex re (one per line at most, matched
 * with REG_NEWLINE) in the log from offset `from`, up to `want`.  *end gets
 * the offset just past the last match counted; group (if not NULL) gets the
 * first parenthesised group of that match. */
int harness_log_count(struct harness_daemon *d, size_t from, const char *re, int want, size_t *end,
                      char *group, size_t grouplen);
/* Wait until re has matched `want` times after `from`; returns the offset
 * just past the last of them.  Fails the test (printing the log) after
 * timeout_ms or when the daemon's output ends first. */
size_t harness_wait_log_at(const char *file, int line, struct harness_daemon *d, size_t from,
                           const char *re, int want, int timeout_ms);
#define harness_wait_log(d, from, re)                                                              \
	harness_wait_log_at(__FILE__, __LINE__, d, from, re, 1, HARNESS_WAIT_MS)
#define harness_wait_log_n(d, from, re, n)                                                         \
	harness_wait_log_at(__FILE__, __LINE__, d, from, re, n, HARNESS_WAIT_MS)
/* The port of listener `name` from its "listening on 127.0.0.1:PORT" line
 * (waited for). */
int harness_port_at(const char *file, int line, struct harness_daemon *d, const char *name);
#define harness_port(d, name) harness_port_at(__FILE__, __LINE__, d, name)
/* Wait until a worker logs that it took connection fd (the line
 * tests/modules/testhandler writes with log_connections = yes); returns
 * that worker's pid. */
pid_t harness_connection_owner_at(const char *file, int line, struct harness_daemon *d, int fd);
#define harness_connection_owner(d, fd) harness_connection_owner_at(__FILE__, __LINE__, d, fd)

void harness_signal(struct harness_daemon *d, int sig);
/* Wait up to timeout_ms for the master to exit.  Returns 1 with the wait
 * status in *status, or 0 if it is still running. */
int harness_wait_exit(struct harness_daemon *d, int timeout_ms, int *status);
/* Kill (SIGKILL to its process group) and reap the daemon if it still
 * runs, and stop following its log.  A sanitizer build first sends SIGTERM
 * and waits up to 15 s, so that each worker's LeakSanitizer check runs.  The log stays readable.  The first
 * call then checks the log (see harness_expect_errors) and fails the test,
 * printing the log, on a sanitizer report or an unexpected error line. */
void harness_stop(struct harness_daemon *d);
/* Stop (and check) every daemon, remove the temporary folder; prints
 * nothing unless a log check fails.  For the checked teardown. */
void harness_cleanup(void);
/* Print the log of every daemon started by this test to stderr. */
void harness_dump_logs(void);

/* ---- what a daemon may log ------------------------------------------------ */

/* Allow error-level lines (text "ERROR", logfmt level=error, JSON
 * "level":"error") matching the extended regex re in d's log; re NULL
 * allows every one.  Call once per kind of error the test provokes.
 * Sanitizer reports ("AddressSanitizer", "LeakSanitizer", "runtime
 * error:") can never be allowed. */
void harness_expect_errors(struct harness_daemon *d, const char *re);
/* For a test that crashes a daemon's process on purpose: daemons started
 * after this call run with the sanitizers' own SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL and abort handlers off, so the process dies of the signal as in a
 * plain build (and prints no report).  Changes nothing in a plain build. */
void harness_expect_crashes(void);
/* 1 when this build has AddressSanitizer: its allocator and shadow memory
 * make memory figures (RSS bounds) meaningless, so tests skip those. */
int harness_sanitized(void);

/* ---- processes ----------------------------------------------------------------- */

/* VmRSS of pid in KiB, or -1 if it cannot be read. */
long harness_rss_kib(pid_t pid);
/* How often pid has slept (voluntary context switches), or -1. */
long harness_sleeps(pid_t pid);
/* pid's user + system CPU time in clock ticks (sysconf(_SC_CLK_TCK)), or -1. */
long harness_cpu_ticks(pid_t pid);
/* The pids whose parent is ppid (from /proc/PID/stat), up to max; returns
 * how many there are. */
size_t harness_children(pid_t ppid, pid_t *out, size_t max);
/* Wait until the master has exactly n children (its workers); fills out. */
void harness_wait_workers_at(const char *file, int line, struct harness_daemon *d, size_t n,
                             pid_t *out);
#define harness_wait_workers(d, n, out) harness_wait_workers_at(__FILE__, __LINE__, d, n, out)
/* Stop pid with SIGSTOP and wait until /proc shows it stopped; SIGCONT
 * resumes it.  What arrives meanwhile is then all there at once. */
void harness_stop_process_at(const char *file, int line, pid_t pid);
#define harness_stop_process(pid) harness_stop_process_at(__FILE__, __LINE__, pid)
/* A program on PATH, as a path for harness_run; fails the test when it is
 * missing (the suites' clients are in .ci/deps). */
const char *harness_tool(const char *name);
/* Run argv (argv[0] a path) with stdout and stderr captured into a newly
 * allocated *output (free it).  Returns the wait status, or -1 if it could
 * not run or did not finish within timeout_ms (it is then killed). */
int harness_run(char *const argv[], char **output, int timeout_ms);
/* Run a shell command line (printf-style) through harness_run, waiting at
 * most 30 s: returns its combined output (malloc'ed, never NULL) and its
 * wait status in *status.  Fails the test if it could not run or did not
 * finish. */
char *harness_sh(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Run `$MODHOSTD -t -c path`: returns its wait status, its output in
 * *out (free it). */
int harness_check_config(const char *path, char **out);
/* Write text to a config file named name in the temporary folder: `-t` on
 * it must exit 1 and print "PATH:want_line: want_text". */
void harness_expect_config_error(const char *name, const char *text, int want_line,
                                 const char *want_text);
/* Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
long harness_raise_nofile(void);

/* ---- sockets ---------------------------------------------------------------- */

/* A TCP connection to 127.0.0.1:port, close-on-exec.  rcvbuf/sndbuf, when
 * not 0, are set before connecting.  Returns the fd, or -1 with errno. */
int harness_connect(int port);
int harness_connect_buf(int port, int rcvbuf, int sndbuf);
/* The same from the given source address (e.g. "127.0.0.2": any address
 * of 127.0.0.0/8 is the loopback's), for limits per client address. */
int harness_connect_from(int port, const char *source);
/* The same to [::1]:port. */
int harness_connect6(int port);
/* harness_connect that fails the test (naming port and errno) instead of
 * returning -1. */
int harness_connect_ok_at(const char *file, int line, int port);
#define harness_connect_ok(port) harness_connect_ok_at(__FILE__, __LINE__, port)
/* The local port of a connected socket: the daemon names the peer by it. */
int harness_local_port(int fd);
/* Close with SO_LINGER 0: the peer gets a RST. */
void harness_close_reset(int fd);

/* Each returns an enum harness_io. */
int harness_send_all(int fd, const void *buf, size_t len, int timeout_ms);
int harness_recv_exact(int fd, void *buf, size_t len, int timeout_ms);
/* lenprefix: a 4-byte big-endian length, then the payload. */
int harness_send_frame(int fd, const void *payload, size_t len, int timeout_ms);
/* Receive one frame into a newly allocated, NUL-terminated *payload. */
int harness_recv_frame(int fd, char **payload, size_t *len, int timeout_ms);
/* Send the text payload as one frame, or fail the test. */
void harness_send_frame_ok_at(const char *file, int line, int fd, const char *payload);
#define harness_send_frame_ok(fd, payload) harness_send_frame_ok_at(__FILE__, __LINE__, fd, payload)
/* Receive one frame within 10 s and check it is the text want, or fail. */
void harness_expect_frame_at(const char *file, int line, int fd, const char *want);
#define harness_expect_frame(fd, want) harness_expect_frame_at(__FILE__, __LINE__, fd, want)
/* Send a frame and expect the same payload back (HARNESS_ERROR if not). */
int harness_echo_frame(int fd, const void *payload, size_t len, int timeout_ms);
/* line: receive up to and including '\n' into buf (NUL-terminated). */
int harness_recv_line(int fd, char *buf, size_t cap, int timeout_ms);
/* Wait for the peer to close, discarding what arrives first (counted in
 * *discarded if not NULL): HARNESS_EOF, HARNESS_RESET or HARNESS_TIMEOUT. */
int harness_wait_closed(int fd, int timeout_ms, size_t *discarded);
/* HTTP/1.1 "GET path" on fd (Host: test), then its response: the head and
 * a Content-Length body (up to cap - 1 bytes, NUL-terminated, into body
 * when not NULL).  Returns the status code; *closing (when not NULL) says
 * whether the response had "Connection: close".  Fails the test on an I/O
 * error or a malformed head. */
int harness_http_get_at(const char *file, int line, int fd, const char *path, char *body,
                        size_t cap, int *closing);
#define harness_http_get(fd, path, body, cap, closing)                                             \
	harness_http_get_at(__FILE__, __LINE__, fd, path, body, cap, closing)
/* Wait (up to 10 s) for the peer to close fd with nothing arriving
 * first, then close fd; fails the test, naming what, otherwise. */
void harness_expect_clean_close_at(const char *file, int line, int fd, const char *what);
#define harness_expect_clean_close(fd, what)                                                       \
	harness_expect_clean_close_at(__FILE__, __LINE__, fd, what)
/* "ok", "eof", "reset", "timeout", "error". */
const char *harness_io_name(int r);

/* ---- a suite's main ---------------------------------------------------------- */

/* Run every test of s (Check's srunner, printing at mode: CK_ENV lets
 * CK_VERBOSITY choose) and free the runner.  Returns EXIT_SUCCESS when no
 * test failed, else EXIT_FAILURE: main's exit status. */
int harness_run_suite(Suite *s, enum print_output mode);

#endif
