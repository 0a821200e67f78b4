/* tests/integration/check_offload.c — the host table's offload (ABI 1.5)
 * on the real modhostd, driven by tests/modules/offloadtest: blocking work
 * runs on the worker's offload threads while the loop serves others, the
 * threads and the queue are bounded by [server] offload_threads and
 * offload_queue, and a stopping worker cancels the jobs not started and
 * waits for the running ones (up to shutdown_timeout) before its modules'
 * worker_fini.  A job blocks until a file the test creates exists, and
 * says it started by creating PATH.started, so nothing here sleeps. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define IO_MS 10000

/* lenprefix + offloadtest; the workers, the two offload settings and
 * shutdown_timeout as given (CONF: one worker). */
#define CONF(threads, queue, shutdown) CONF_W("1", threads, queue, shutdown)
#define CONF_W(workers, threads, queue, shutdown)                                                  \
	"[server]\nworkers = " workers "\nshutdown_timeout = " shutdown "\n"                       \
	"offload_threads = " threads "\noffload_queue = " queue "\n"                               \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module lenprefix]\n[module offloadtest]\nfile = %s\n"                                    \
	"[listener jobs]\nlisten = 127.0.0.1:0\ncodec = lenprefix\nhandler = offloadtest\n"

/* Start with CONF(threads, queue, shutdown). */
#define start(conf) harness_start_ready(conf, harness_test_module("offloadtest"))

/* A connection with a job that waits for file `gate`, once it runs. */
static int submit(int port, const char *gate, const char *payload)
{
	char req[512];
	snprintf(req, sizeof(req), "wait:%s:%s", gate, payload);
	int fd = harness_connect_ok(port);
	harness_send_frame_ok(fd, req);
	return fd;
}

/* Wait until a job waiting for gate has started (it made gate.started). */
static void wait_started(const char *gate)
{
	char path[512];
	snprintf(path, sizeof(path), "%s.started", gate);
	uint64_t deadline = harness_now_ms() + IO_MS;
	struct timespec ms = {0, 1000000L};
	while (access(path, F_OK) != 0) {
		harness_assert(harness_left(deadline) > 0, "no job waiting for %s started", gate);
		nanosleep(&ms, NULL);
	}
}

static void open_gate(const char *gate)
{
	harness_write_file(gate, "open\n");
}

static int threads_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	harness_assert(d != NULL, "%s: %s", path, strerror(errno));
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Two threads: a job blocks one of them, and the loop still echoes at
 * once; the worker has its loop's thread and the two offload threads. */
START_TEST(test_blocking_work_runs_beside_the_loop)
{
	struct harness_daemon *d = start(CONF("2", "16", "5s"));
	int port = harness_port(d, "jobs");
	char *gate = harness_tmpfile("gate");
	pid_t worker;
	harness_wait_workers(d, 1, &worker);
	harness_assert(threads_of(worker) == 1, "threads before any job: %d", threads_of(worker));

	int a = submit(port, gate, "a");
	wait_started(gate);
	int b = harness_connect_ok(port);
	harness_send_frame_ok(b, "ping");
	harness_expect_frame(b, "ping");
	harness_assert(threads_of(worker) == 3, "worker threads with offload_threads = 2: %d",
	               threads_of(worker));
	open_gate(gate);
	harness_expect_frame(a, "a peak=1");
	close(a);
	close(b);
	free(gate);
}
END_TEST

/* Jobs start in order, at most offload_threads at once; past
 * offload_queue jobs waiting, offload refuses. */
START_TEST(test_threads_and_queue_are_bounded)
{
	struct harness_daemon *d = start(CONF("2", "1", "5s"));
	int port = harness_port(d, "jobs");
	char *gate = harness_tmpfile("gate"), *gate2 = harness_tmpfile("gate2");
	int a = submit(port, gate, "a");
	wait_started(gate); /* queued jobs count only until a thread takes them */
	int b = submit(port, gate2, "b");
	wait_started(gate2);
	size_t at = harness_log_size(d);
	int c = submit(port, gate, "c"); /* both threads busy: c waits in the queue */
	harness_wait_log(d, at, "offloaded c");
	int e = submit(port, gate, "e"); /* the queue holds one */
	harness_expect_frame(e, "refused");
	open_gate(gate);
	harness_expect_frame(a, "a peak=2");
	harness_expect_frame(c, "c peak=2");
	open_gate(gate2);
	harness_expect_frame(b, "b peak=2");
	close(a);
	close(b);
	close(c);
	close(e);
	free(gate);
	free(gate2);
}
END_TEST

/* SIGTERM with one job running and one queued, both connections reset
 * (a plain close would be a half-close, whose replies the worker still
 * owes): the queued job is cancelled, the running one waited for, every
 * done runs before the worker leaves, and the daemon exits 0. */
START_TEST(test_stop_cancels_queued_jobs_and_waits_for_running_ones)
{
	struct harness_daemon *d = start(CONF("1", "8", "10s"));
	int port = harness_port(d, "jobs");
	char *gate = harness_tmpfile("gate");
	int a = submit(port, gate, "a");
	wait_started(gate);
	size_t at = harness_log_size(d);
	int b = submit(port, gate, "b");
	harness_wait_log(d, at, "offloaded b");
	harness_close_reset(a);
	harness_close_reset(b);
	harness_signal(d, SIGTERM);
	harness_wait_log(d, at,
	                 "offload: stopping; 1 queued job\\(s\\) cancelled, waiting for 1 running");
	open_gate(gate);
	harness_wait_log(d, at, "job a done, its connection gone");
	harness_wait_log(d, at, "job b cancelled");
	int status;
	harness_assert(harness_wait_exit(d, IO_MS, &status), "the daemon did not exit");
	harness_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	free(gate);
}
END_TEST

/* A job that never returns does not keep a stopping worker: after
 * three quarters of shutdown_timeout it leaves, saying so, without its
 * modules' fini (and, with workers = 0, without freeing them). */
static void stop_with_a_stuck_job(struct harness_daemon *d)
{
	harness_expect_errors(d, "offload: 1 job\\(s\\) still running after 1[0-9]{3}ms");
	int port = harness_port(d, "jobs");
	char *gate = harness_tmpfile("never");
	int a = submit(port, gate, "a");
	wait_started(gate);
	harness_close_reset(a);
	size_t at = harness_log_size(d);
	harness_signal(d, SIGTERM);
	harness_wait_log(d, at, "offload: 1 job\\(s\\) still running after 1[0-9]{3}ms; leaving");
	int status;
	harness_assert(harness_wait_exit(d, IO_MS, &status), "the daemon did not exit");
	harness_assert(WIFEXITED(status), "the daemon was killed: status %d", status);
	free(gate);
}

START_TEST(test_stop_leaves_a_stuck_job_at_shutdown_timeout)
{
	stop_with_a_stuck_job(start(CONF("1", "8", "2s")));
}
END_TEST

START_TEST(test_single_process_stop_leaves_a_stuck_job)
{
	stop_with_a_stuck_job(start(CONF_W("0", "1", "8", "2s")));
}
END_TEST

/* workers = 0: a reload retires the old generation only once its
 * modules' jobs are done, even with no connection left to wait for (the
 * job's was reset): their done must not run after worker_fini. */
START_TEST(test_single_process_reload_retires_a_generation_after_its_jobs)
{
	struct harness_daemon *d = start(CONF_W("0", "1", "8", "10s"));
	int port = harness_port(d, "jobs");
	char *gate = harness_tmpfile("gate");
	int a = submit(port, gate, "a");
	wait_started(gate);
	harness_close_reset(a);
	size_t at = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, at, "generation 2 ready");
	open_gate(gate);
	size_t done_at = harness_wait_log(d, at, "job a done, its connection gone");
	size_t retired_at = harness_wait_log(d, at, "generation 1 retired");
	harness_assert(retired_at > done_at, "generation 1 retired before its job was done");
	free(gate);
}
END_TEST

static Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("jobs");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_blocking_work_runs_beside_the_loop);
	tcase_add_test(tc, test_threads_and_queue_are_bounded);
	tcase_add_test(tc, test_stop_cancels_queued_jobs_and_waits_for_running_ones);
	tcase_add_test(tc, test_stop_leaves_a_stuck_job_at_shutdown_timeout);
	tcase_add_test(tc, test_single_process_stop_leaves_a_stuck_job);
	tcase_add_test(tc, test_single_process_reload_retires_a_generation_after_its_jobs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(offload_suite(), CK_ENV);
}
