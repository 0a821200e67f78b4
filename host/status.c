/* host/status.c — host state and the status JSON.  The state is computed
 * by the worker that is asked, from its own drain flag, its generation's
 * sockets and the shared-memory slots of every worker of that generation;
 * nothing here is written on the message path. */
#include "build-config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "generation.h"
#include "listener.h"
#include "loader.h"
#include "modhost.h"
#include "shm.h"
#include "status.h"
#include "worker.h"

static struct {
	struct timespec mono, wall; /* when the master started */
	pid_t master;
	int init;
} start;

static const struct generation *serving;

void status_init(void)
{
	clock_gettime(CLOCK_MONOTONIC, &start.mono);
	clock_gettime(CLOCK_REALTIME, &start.wall);
	start.master = getpid();
	start.init = 1;
}

void status_serving(const struct generation *gen)
{
	if (!start.init)
		status_init();
	serving = gen;
}

/* Workers of gen that finished worker_init and are alive. */
static int ready_workers(unsigned gen)
{
	struct shm_zone *zone = shm_get();
	int n = 0;
	for (uint32_t i = 0; zone && i < zone->used_slots && i < SHM_MAX_SLOTS; i++) {
		const struct shm_slot *s = &zone->slots[i];
		if (s->pid > 0 && s->generation == gen && s->ready)
			n++;
	}
	return n;
}

int status_host_state(void)
{
	if (worker_draining())
		return MH_HOST_DRAINING;
	if (!serving)
		return MH_HOST_STARTING;
	for (size_t i = 0; i < serving->listeners->n; i++)
		if (serving->listeners->socks[i]->fd < 0)
			return MH_HOST_STARTING;
	/* A forked worker has a slot; the single process serves alone. */
	if (shm_self() && ready_workers(serving->id) < serving->cfg->server.workers)
		return MH_HOST_STARTING;
	return MH_HOST_READY;
}

static const char *state_name(int state)
{
	return state == MH_HOST_READY      ? "ready"
	       : state == MH_HOST_DRAINING ? "draining"
	                                   : "starting";
}

/* Append s as a JSON string. */
static int json_string(struct mh_buf *out, const char *s)
{
	int rc = buf_add(out, "\"", 1);
	const char *run = s = s ? s : "";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		rc |= buf_add(out, run, (size_t)(s - run));
		if (ch == '"' || ch == '\\')
			rc |= buf_printf(out, "\\%c", ch) < 0;
		else
			rc |= buf_printf(out, "\\u%04x", ch) < 0;
		run = s + 1;
	}
	rc |= buf_add(out, run, (size_t)(s - run));
	rc |= buf_add(out, "\"", 1);
	return rc ? -1 : 0;
}

static int render_workers(struct mh_buf *out)
{
	struct shm_zone *zone = shm_get();
	int rc = 0, first = 1;
	rc |= buf_printf(out, ",\"workers\":[") < 0;
	if (!shm_self()) {
		/* workers = 0: this process is the only one serving. */
		rc |= buf_printf(out,
		                          "{\"id\":0,\"pid\":%d,\"generation\":%u,"
		                          "\"ready\":true,\"connections\":null}",
		                          (int)getpid(), serving ? serving->id : 0) < 0;
		zone = NULL;
	}
	for (uint32_t i = 0; zone && i < zone->used_slots && i < SHM_MAX_SLOTS; i++) {
		const struct shm_slot *s = &zone->slots[i];
		if (s->pid <= 0)
			continue;
		rc |= buf_printf(out,
		                          "%s{\"id\":%d,\"pid\":%d,\"generation\":%u,\"ready\":%s,"
		                          "\"connections\":%llu,\"accepted\":%llu}",
		                          first ? "" : ",", (int)s->worker_id, (int)s->pid,
		                          (unsigned)s->generation, s->ready ? "true" : "false",
		                          (unsigned long long)s->connections,
		                          (unsigned long long)s->accepted) < 0;
		first = 0;
	}
	rc |= buf_add(out, "]", 1);
	return rc ? -1 : 0;
}

static int render_modules(struct mh_buf *out)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} roles[] = {
	    {MH_ROLE_CODEC, "codec"},       {MH_ROLE_AUTH, "auth"},
	    {MH_ROLE_POLICY, "policy"},     {MH_ROLE_HANDLER, "handler"},
	    {MH_ROLE_OBSERVER, "observer"},
	};
	int rc = buf_printf(out, ",\"modules\":[") < 0;
	for (size_t i = 0; serving && i < serving->mods->n; i++) {
		const struct mh_module *m = serving->mods->mods[i];
		rc |= buf_printf(out, "%s{\"name\":", i ? "," : "") < 0;
		rc |= json_string(out, m->name);
		rc |= buf_printf(out, ",\"module\":") < 0;
		rc |= json_string(out, m->desc->name);
		rc |= buf_printf(out, ",\"version\":") < 0;
		rc |= json_string(out, m->desc->version);
		rc |= buf_printf(out, ",\"file\":") < 0;
		rc |= json_string(out, m->lib->path);
		rc |= buf_printf(out, ",\"roles\":[") < 0;
		int n = 0;
		for (size_t k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
			if (m->desc->roles & roles[k].bit)
				rc |= buf_printf(out, "%s\"%s\"", n++ ? "," : "",
				                          roles[k].name) < 0;
		rc |= buf_add(out, "]}", 2);
	}
	rc |= buf_add(out, "]", 1);
	return rc ? -1 : 0;
}

static int render_listeners(struct mh_buf *out)
{
	int rc = buf_printf(out, ",\"listeners\":[") < 0;
	for (size_t i = 0; serving && i < serving->cfg->n_listeners; i++) {
		const struct listener_settings *ls = &serving->cfg->listeners[i];
		rc |= buf_printf(out, "%s{\"name\":", i ? "," : "") < 0;
		rc |= json_string(out, ls->name);
		rc |= buf_printf(out, ",\"address\":") < 0;
		rc |= json_string(out, serving->listeners->socks[i]->bound);
		rc |= buf_printf(out, ",\"codec\":") < 0;
		rc |= json_string(out, ls->codec);
		rc |= buf_add(out, "}", 1);
	}
	rc |= buf_add(out, "]", 1);
	return rc ? -1 : 0;
}

int status_render(struct mh_buf *out)
{
	struct timespec now;
	char started[32];
	struct tm tm;
	if (!start.init)
		status_init();
	clock_gettime(CLOCK_MONOTONIC, &now);
	double uptime = (double)(now.tv_sec - start.mono.tv_sec) +
	                (double)(now.tv_nsec - start.mono.tv_nsec) / 1e9;
	gmtime_r(&start.wall.tv_sec, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int rc = buf_printf(out,
	                             "{\"version\":\"%s\",\"abi\":\"%d.%d\",\"state\":\"%s\","
	                             "\"pid\":%d,\"generation\":%u,\"started\":\"%s\","
	                             "\"uptime_seconds\":%.3f",
	                             PACKAGE_VERSION, MH_ABI_MAJOR, MH_ABI_MINOR,
	                             state_name(status_host_state()), (int)start.master,
	                             serving ? serving->id : 0, started, uptime) < 0;
	rc |= render_workers(out);
	rc |= render_modules(out);
	rc |= render_listeners(out);
	rc |= buf_add(out, "}\n", 2);
	return rc ? -1 : 0;
}
