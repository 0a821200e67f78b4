/* tests/modules/offloadtest.c — a handler whose work blocks, for the
 * offload tests (the host table's offload, ABI 1.5).
 *
 * Request body "wait:PATH:PAYLOAD": offload a job that creates
 * PATH.started, then blocks until PATH exists (polling every millisecond,
 * for at most 60 s); its done replies "PAYLOAD peak=N", N being the most
 * jobs this worker ever had running at once.  If offload refuses, the
 * reply is "refused" at once.  Anything else is echoed (from the loop,
 * which must not wait for the jobs).
 *
 * Logs "offloaded PAYLOAD" when a job is queued, and from done "job
 * PAYLOAD done", "job PAYLOAD done, its connection gone" or "job PAYLOAD
 * cancelled", so that tests wait for these instead of sleeping.  Every
 * job's memory is freed by its done: a done never called shows as a leak
 * under the sanitizers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "modhost.h"

static int offloadtest_load(mh_module *m, const mh_host_api *api);
static int offloadtest_handle(mh_module *m, mh_msg *req, mh_msg *reply);
static void offloadtest_cancel(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_handler_ops offloadtest_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = offloadtest_handle,
    .cancel = offloadtest_cancel,
};

MH_MODULE_DECLARE(.name = "offloadtest", .version = "1.0", .license = "MIT",
                  .description =
                      "test handler: wait:PATH:X blocks an offload thread until PATH exists",
                  .roles = MH_ROLE_HANDLER, .load = offloadtest_load, .handler = &offloadtest_ops);

static const mh_host_api *host;
static mh_module *instance;

/* Jobs running on the threads now, and the most ever: the only state the
 * threads share. */
static int running, peak;

struct job {
	char path[256];
	char payload[64];
	mh_msg *reply;           /* NULL once the connection went away (cancel) */
	struct job *prev, *next; /* the loop's list of jobs with a reply */
};

static struct job *jobs; /* touched on the loop only */

static int offloadtest_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	instance = m;
	if (!MH_HOST_HAS(api, offload)) {
		api->log(m, MH_LOG_ERROR, "this host has no offload (ABI 1.5)");
		return -1;
	}
	return 0;
}

static void job_unlink(struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else if (jobs == j)
		jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
}

/* On a thread: no host calls here. */
static void job_work(void *arg)
{
	struct job *j = arg;
	int now = __atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
	int seen = __atomic_load_n(&peak, __ATOMIC_SEQ_CST);
	while (now > seen && !__atomic_compare_exchange_n(&peak, &seen, now, 0, __ATOMIC_SEQ_CST,
	                                                  __ATOMIC_SEQ_CST))
		;
	char started[300];
	snprintf(started, sizeof(started), "%s.started", j->path);
	int fd = open(started, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	struct timespec ms = {0, 1000000L};
	for (int i = 0; i < 60000 && access(j->path, F_OK) != 0; i++)
		nanosleep(&ms, NULL);
	__atomic_sub_fetch(&running, 1, __ATOMIC_SEQ_CST);
}

/* On the loop. */
static void job_done(void *arg, int status)
{
	struct job *j = arg;
	if (status == MH_OFFLOAD_CANCELLED) {
		host->log(instance, MH_LOG_INFO, "job %s cancelled", j->payload);
		if (j->reply) {
			host->msg_set_status(j->reply, MH_STATUS_UNAVAILABLE);
			host->msg_complete(j->reply);
		}
	} else if (!j->reply) {
		host->log(instance, MH_LOG_INFO, "job %s done, its connection gone", j->payload);
	} else {
		host->log(instance, MH_LOG_INFO, "job %s done", j->payload);
		host->buf_printf(host->msg_body(j->reply), "%s peak=%d", j->payload,
		                 __atomic_load_n(&peak, __ATOMIC_SEQ_CST));
		host->msg_complete(j->reply);
	}
	job_unlink(j);
	free(j);
}

/* The connection went away: the job runs on, its done must not reply. */
static void offloadtest_cancel(mh_module *m, mh_msg *req, mh_msg *reply)
{
	(void)m;
	(void)req;
	for (struct job *j = jobs; j; j = j->next)
		if (j->reply == reply)
			j->reply = NULL;
}

static int offloadtest_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	mh_buf *in = host->msg_body(req);
	char text[400];
	size_t n = in ? host->buf_peek(in, text, sizeof(text) - 1) : 0;
	text[n] = '\0';
	char *path = strncmp(text, "wait:", 5) == 0 ? text + 5 : NULL;
	char *payload = path ? strchr(path, ':') : NULL;
	if (!payload)
		return host->buf_move(host->msg_body(reply), in, host->buf_length(in)) < 0
		           ? MH_HANDLE_ERROR
		           : MH_HANDLE_DONE;
	*payload++ = '\0';
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return MH_HANDLE_ERROR;
	if (strlen(path) >= sizeof(j->path) || strlen(payload) >= sizeof(j->payload)) {
		free(j);
		return MH_HANDLE_ERROR;
	}
	memcpy(j->path, path, strlen(path) + 1);
	memcpy(j->payload, payload, strlen(payload) + 1);
	j->reply = reply;
	if (host->offload(m, job_work, job_done, j) < 0) {
		free(j);
		return host->buf_printf(host->msg_body(reply), "refused") < 0 ? MH_HANDLE_ERROR
		                                                              : MH_HANDLE_DONE;
	}
	j->next = jobs;
	if (jobs)
		jobs->prev = j;
	jobs = j;
	host->log(m, MH_LOG_INFO, "offloaded %s", j->payload);
	return MH_HANDLE_ASYNC;
}
