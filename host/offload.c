/* host/offload.c — the worker's offload threads (see offload.h).
 *
 * One mutex guards both lists and the counters.  A thread takes the oldest
 * queued job, runs its work unlocked, puts it on the finished list and
 * writes the eventfd when that list was empty; the loop's callback takes
 * the whole list and calls each done in order.  Jobs are never run on the
 * loop's thread, and done is never run on a pool thread. */
#include "build-config.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "modhost.h"
#include "offload.h"
#include "worker.h"

struct offload_job {
	struct mh_module *m;
	void (*work)(void *arg);
	void (*done)(void *arg, int status);
	void *arg;
	int status;
	struct offload_job *next;
};

struct offload_list {
	struct offload_job *head, *tail;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;     /* a job was queued, or stopping */
	pthread_cond_t finished; /* a running job finished (offload_stop waits) */
	struct offload_list queued, done;
	unsigned n_queued, n_running;
	int stopping;
	int efd;
	struct event *ev;
	pthread_t *threads;
	unsigned n_threads;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .finished = PTHREAD_COND_INITIALIZER,
    .efd = -1,
};

static void list_push(struct offload_list *l, struct offload_job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct offload_job *list_take_all(struct offload_list *l)
{
	struct offload_job *all = l->head;
	l->head = l->tail = NULL;
	return all;
}

/* With the lock held: j is finished; tell the loop if it was not told. */
static void finish_locked(struct offload_job *j)
{
	int was_empty = pool.done.head == NULL;
	list_push(&pool.done, j);
	if (was_empty) {
		uint64_t one = 1;
		ssize_t n = write(pool.efd, &one, sizeof(one));
		(void)n; /* the counter only overflows after 2^64 - 1 unread writes */
	}
}

static void *offload_thread(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (!pool.stopping && !pool.queued.head)
			pthread_cond_wait(&pool.wake, &pool.lock);
		if (pool.stopping)
			break; /* offload_stop cancels what is still queued */
		struct offload_job *j = pool.queued.head;
		pool.queued.head = j->next;
		if (!pool.queued.head)
			pool.queued.tail = NULL;
		pool.n_queued--;
		pool.n_running++;
		pthread_mutex_unlock(&pool.lock);
		j->work(j->arg);
		j->status = MH_OFFLOAD_DONE;
		pthread_mutex_lock(&pool.lock);
		pool.n_running--;
		finish_locked(j);
		pthread_cond_signal(&pool.finished);
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

/* Call done for every finished job, in order, on the loop. */
static void run_done(void)
{
	pthread_mutex_lock(&pool.lock);
	struct offload_job *j = list_take_all(&pool.done);
	pthread_mutex_unlock(&pool.lock);
	while (j) {
		struct offload_job *next = j->next;
		shm_mark_running(j->m);
		j->done(j->arg, j->status);
		shm_mark_running(NULL);
		j->m->offload_jobs--;
		free(j);
		j = next;
	}
	worker_offload_finished();
}

static void offload_done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r; /* EAGAIN: a previous pass already took the list */
	run_done();
}

/* Make the threads and the eventfd on the first job.  Signals stay with
 * the loop's thread: the pool's threads block all of them. */
static int offload_start(void)
{
	const struct server_settings *s = worker_settings();
	if (!worker_base() || !s)
		return -1;
	pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool.efd < 0) {
		log_error("offload: eventfd: %s", strerror(errno));
		return -1;
	}
	pool.ev = event_new(worker_base(), pool.efd, EV_READ | EV_PERSIST, offload_done_cb, NULL);
	pool.threads = calloc(s->offload_threads, sizeof(*pool.threads));
	if (!pool.ev || !pool.threads || event_add(pool.ev, NULL) < 0)
		goto fail;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; pool.n_threads < s->offload_threads; pool.n_threads++) {
		int rc = pthread_create(&pool.threads[pool.n_threads], NULL, offload_thread, NULL);
		if (rc != 0) {
			log_error("offload: cannot start thread %u of %llu: %s", pool.n_threads + 1,
			          (unsigned long long)s->offload_threads, strerror(rc));
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pool.n_threads == 0)
		goto fail;
	log_debug("offload: %u threads, up to %llu jobs queued", pool.n_threads,
	          (unsigned long long)s->offload_queue);
	return 0;
fail:
	if (pool.ev)
		event_free(pool.ev);
	pool.ev = NULL;
	free(pool.threads);
	pool.threads = NULL;
	close(pool.efd);
	pool.efd = -1;
	return -1;
}

int offload_submit(struct mh_module *m, void (*work)(void *arg),
                   void (*done)(void *arg, int status), void *arg)
{
	const struct server_settings *s = worker_settings();
	if (!work || !done || !s || pool.stopping || (!pool.threads && offload_start() < 0))
		return -1;
	struct offload_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -1;
	*j = (struct offload_job){.m = m, .work = work, .done = done, .arg = arg};
	pthread_mutex_lock(&pool.lock);
	int full = pool.n_queued >= s->offload_queue;
	if (!full) {
		list_push(&pool.queued, j);
		pool.n_queued++;
		pthread_cond_signal(&pool.wake);
	}
	pthread_mutex_unlock(&pool.lock);
	if (full) {
		free(j);
		return -1;
	}
	m->offload_jobs++;
	return 0;
}

unsigned offload_stop(uint64_t wait_ms)
{
	if (!pool.threads)
		return 0;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)(wait_ms / 1000);
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pool.lock);
	pool.stopping = 1;
	struct offload_job *j = list_take_all(&pool.queued);
	unsigned cancelled = pool.n_queued, running = pool.n_running;
	pool.n_queued = 0;
	if (cancelled || running)
		log_info("offload: stopping; %u queued job(s) cancelled, waiting for %u running",
		         cancelled, running);
	while (j) {
		struct offload_job *next = j->next;
		j->status = MH_OFFLOAD_CANCELLED;
		finish_locked(j);
		j = next;
	}
	pthread_cond_broadcast(&pool.wake);
	int rc = 0;
	while (pool.n_running > 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&pool.finished, &pool.lock, &deadline);
	unsigned stuck = pool.n_running;
	pthread_mutex_unlock(&pool.lock);
	if (stuck) {
		/* Those threads still run module code: leave them (and their
		 * jobs' done) to the process's exit. */
		log_error("offload: %u job(s) still running after %llums; leaving without waiting",
		          stuck, (unsigned long long)wait_ms);
		return stuck;
	}
	for (unsigned i = 0; i < pool.n_threads; i++)
		pthread_join(pool.threads[i], NULL);
	run_done();
	event_free(pool.ev);
	pool.ev = NULL;
	close(pool.efd);
	pool.efd = -1;
	free(pool.threads);
	pool.threads = NULL;
	pool.n_threads = 0;
	return 0;
}
