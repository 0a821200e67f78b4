/* host/master.c — the master: generations, workers, signals. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "generation.h"
#include "listener.h"
#include "loader.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "peerlimit.h"
#include "sdnotify.h"
#include "shm.h"
#include "status.h"
#include "worker.h"

#ifdef MH_SANITIZERS
#include <sanitizer/lsan_interface.h>
#endif

/* A worker that dies sooner than this after its start counts as failing to
 * start; its replacements are delayed exponentially up to the cap. */
#define RESPAWN_STABLE_MS 5000
#define RESPAWN_FIRST_DELAY_MS 100
#define RESPAWN_MAX_DELAY_MS 10000

struct worker_proc {
	pid_t pid;            /* 0: waiting to be respawned */
	int id;               /* 0..N-1 within its generation */
	int slot;             /* shm slot */
	unsigned gen_id;
	uint64_t started_ms;
	uint64_t respawn_at_ms;
	unsigned failures;
	int ready;
	int stopping;         /* told to drain */
};

struct master {
	const char *main_path;
	struct generation *gen;
	struct worker_proc *procs; /* current and draining workers */
	size_t n_procs, cap_procs;
	int sigfd;
	int stopping;
	int ready_logged;
	uint64_t stop_deadline_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const int master_signals[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGQUIT };

static void signals_mask(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(master_signals) / sizeof(master_signals[0]); i++)
		sigaddset(set, master_signals[i]);
}

/* ---- worker processes ------------------------------------------------------- */

/* Drop root privileges to [server] user/group, if set. */
static int drop_privileges(const struct server_settings *srv)
{
	if (!srv->user && !srv->group)
		return 0;
	if (geteuid() != 0) {
		log_warn("user/group set but not running as root; keeping the current user");
		return 0;
	}
	gid_t gid = getegid();
	if (srv->group) {
		struct group *gr = getgrnam(srv->group);
		if (!gr) {
			log_error("unknown group '%s'", srv->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (srv->user) {
		struct passwd *pw = getpwnam(srv->user);
		if (!pw) {
			log_error("unknown user '%s'", srv->user);
			return -1;
		}
		if (!srv->group)
			gid = pw->pw_gid;
		if (setgid(gid) < 0 || initgroups(pw->pw_name, gid) < 0 || setuid(pw->pw_uid) < 0) {
			log_error("cannot switch to user '%s': %s", srv->user, strerror(errno));
			return -1;
		}
	} else if (setgid(gid) < 0 || setgroups(0, NULL) < 0) {
		log_error("cannot switch to group '%s': %s", srv->group, strerror(errno));
		return -1;
	}
	return 0;
}

/* In the child: undo the master's signal setup and serve. */
static void worker_child(struct master *ms, struct worker_proc *p)
{
	sigset_t set;
	signals_mask(&set);
	close(ms->sigfd);
	sdnotify_close();
	signal(SIGINT, SIG_IGN); /* a terminal's ^C is the master's to handle */
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	worker_signals_exclude(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(0); /* the master is already gone */
	shm_set_self(p->slot);
	peerlimit_start(p->slot);
	shm_set_modules(ms->gen->mods);
	shm_get()->slots[p->slot].pid = getpid();
	log_set_process("worker", p->id);
	if (drop_privileges(&ms->gen->cfg->server) < 0)
		_exit(2);
	int code = worker_run(&ms->gen, p->id, NULL);
#ifdef MH_SANITIZERS
	/* _exit skips LeakSanitizer's check at exit: run it here, so that a
	 * sanitizer build reports what a worker leaked (a report ends the
	 * worker with LeakSanitizer's exit code, and the tests see it). */
	__lsan_do_leak_check();
#endif
	_exit(code);
}

static int spawn(struct master *ms, struct worker_proc *p)
{
	if (p->slot < 0 && (p->slot = shm_slot_claim()) < 0) {
		log_error("no free worker slot");
		return -1;
	}
	peerlimit_slot_reset(p->slot);
	struct shm_slot *slot = &shm_get()->slots[p->slot];
	slot->generation = p->gen_id;
	slot->worker_id = p->id;
	slot->ready = 0;
	slot->running = 0;
	memset(slot->modules, 0, sizeof(slot->modules));
	pid_t pid = fork();
	if (pid < 0) {
		log_error("cannot fork worker %d: %s", p->id, strerror(errno));
		return -1;
	}
	if (pid == 0)
		worker_child(ms, p);
	slot->pid = pid;
	p->pid = pid;
	p->ready = 0;
	p->started_ms = now_ms();
	return 0;
}

static struct worker_proc *proc_add(struct master *ms, int id, unsigned gen_id)
{
	if (ms->n_procs == ms->cap_procs) {
		size_t cap = ms->cap_procs ? ms->cap_procs * 2 : 16;
		struct worker_proc *n = realloc(ms->procs, cap * sizeof(*n));
		if (!n)
			return NULL;
		ms->procs = n;
		ms->cap_procs = cap;
	}
	struct worker_proc *p = &ms->procs[ms->n_procs++];
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->slot = -1;
	p->gen_id = gen_id;
	return p;
}

static void proc_remove(struct master *ms, struct worker_proc *p)
{
	shm_slot_release(p->slot);
	*p = ms->procs[--ms->n_procs];
}

static int spawn_generation(struct master *ms)
{
	int n = ms->gen->cfg->server.workers;
	for (int i = 0; i < n; i++) {
		struct worker_proc *p = proc_add(ms, i, ms->gen->id);
		if (!p || spawn(ms, p) < 0)
			return -1;
	}
	ms->ready_logged = 0;
	return 0;
}

static void signal_workers(struct master *ms, int sig, int only_old)
{
	for (size_t i = 0; i < ms->n_procs; i++) {
		struct worker_proc *p = &ms->procs[i];
		if (p->pid <= 0 || (only_old && p->gen_id == ms->gen->id))
			continue;
		if (sig == SIGTERM)
			p->stopping = 1;
		kill(p->pid, sig);
	}
}

/* ---- events ------------------------------------------------------------------ */

/* Tell gen's observer modules, in the master, that a worker is restarted
 * or a reload succeeded (MH_EVENT_WORKER). */
static void master_notify(struct generation *gen, const char *detail)
{
	mh_event ev = {.struct_size = sizeof(ev), .type = MH_EVENT_WORKER, .detail = detail};
	for (size_t i = 0; i < gen->mods->n; i++) {
		struct mh_module *m = gen->mods->mods[i];
		if ((m->desc->roles & MH_ROLE_OBSERVER) && m->desc->observer->event)
			m->desc->observer->event(m, &ev);
	}
}

static void describe_exit(int status, char *out, size_t outlen)
{
	if (WIFSIGNALED(status))
		snprintf(out, outlen, "killed by signal %d (%s)%s", WTERMSIG(status),
		         strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
}

static void on_child_exit(struct master *ms, pid_t pid, int status)
{
	struct worker_proc *p = NULL;
	for (size_t i = 0; i < ms->n_procs; i++)
		if (ms->procs[i].pid == pid)
			p = &ms->procs[i];
	if (!p)
		return;
	char how[128];
	describe_exit(status, how, sizeof(how));
	struct shm_slot *slot = &shm_get()->slots[p->slot];
	int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	/* Its connections are gone and it no longer serves (health, limits). */
	slot->pid = -1; /* reserved: the slot waits for its replacement */
	slot->ready = 0;
	slot->connections = 0;
	memset((void *)slot->listener_conns, 0, sizeof(slot->listener_conns));
	metrics_slot_exited(p->slot);
	if (p->stopping || ms->stopping || p->gen_id != ms->gen->id) {
		if (clean)
			log_info("worker %d (pid %d, generation %u) finished", p->id, (int)pid, p->gen_id);
		else
			log_warn("worker %d (pid %d, generation %u) %s while stopping", p->id, (int)pid,
			         p->gen_id, how);
		proc_remove(ms, p);
		return;
	}
	char running[SHM_NAME_MAX + 32];
	const char *module = shm_running_module(slot);
	if (module)
		snprintf(running, sizeof(running), "module '%s'", module);
	else
		snprintf(running, sizeof(running), "the host");
	uint64_t now = now_ms();
	if (now - p->started_ms < RESPAWN_STABLE_MS)
		p->failures++;
	else
		p->failures = 0;
	uint64_t delay = 0;
	if (p->failures) {
		delay = RESPAWN_FIRST_DELAY_MS << (p->failures > 10 ? 10 : p->failures - 1);
		if (delay > RESPAWN_MAX_DELAY_MS)
			delay = RESPAWN_MAX_DELAY_MS;
	}
	metrics_host_worker_restart();
	log_error("worker %d (pid %d) %s while running %s; restarting in %llums", p->id,
	          (int)pid, how, running, (unsigned long long)delay);
	master_notify(ms->gen, "restart");
	p->pid = 0;
	p->respawn_at_ms = now + delay;
}

static void reap_children(struct master *ms)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		on_child_exit(ms, pid, status);
}

static void log_listeners(const struct generation *gen)
{
	for (size_t i = 0; i < gen->listeners->n; i++)
		log_info("listener '%s' listening on %s", gen->cfg->listeners[i].name,
		         gen->listeners->socks[i]->bound);
}

static void reload(struct master *ms)
{
	char err[2048];
	struct generation *next;
	log_info("reload: reading %s", ms->main_path);
	sdnotify_reloading();
	if (generation_build(ms->main_path, ms->gen, ms->gen->id + 1, 1, &next, err,
	                     sizeof(err)) < 0) {
		metrics_host_reload(0, err);
		log_error("reload failed: %s; generation %u keeps serving", err, ms->gen->id);
		sdnotify_ready("reload failed (see the log); generation %u keeps serving",
		               ms->gen->id);
		return;
	}
	metrics_host_reload(1, NULL);
	master_notify(next, "reload");
	struct generation *old = ms->gen;
	ms->gen = next;
	if (log_open(next->cfg->log.file, next->cfg->log.level, next->cfg->log.format, err,
	             sizeof(err)) < 0)
		log_error("reload: %s; logging continues as before", err);
	/* Workers of the old generation waiting to be respawned never will. */
	for (size_t i = 0; i < ms->n_procs;) {
		if (ms->procs[i].pid == 0 && ms->procs[i].gen_id == old->id)
			proc_remove(ms, &ms->procs[i]);
		else
			i++;
	}
	if (spawn_generation(ms) < 0) {
		log_error("reload: cannot start the workers of generation %u", next->id);
	}
	log_listeners(next);
	/* Old workers stop accepting and drain; the sockets they shared with
	 * the new generation keep their queues, so no connection is lost. */
	signal_workers(ms, SIGTERM, 1);
	generation_free(old);
}

/* workers = 0: the reload the serving loop asks for on SIGHUP. */
static int reload_single(struct generation *cur, struct generation **next)
{
	char err[2048];
	log_info("reload: reading %s", cur->cfg->main_file);
	sdnotify_reloading();
	if (generation_build(cur->cfg->main_file, cur, cur->id + 1, 1, next, err, sizeof(err)) < 0) {
		metrics_host_reload(0, err);
		log_error("reload failed: %s; generation %u keeps serving", err, cur->id);
		sdnotify_ready("reload failed (see the log); generation %u keeps serving", cur->id);
		return -1;
	}
	metrics_host_reload(1, NULL);
	const struct log_settings *lg = &(*next)->cfg->log;
	if (log_open(lg->file, lg->level, lg->format, err, sizeof(err)) < 0)
		log_error("reload: %s; logging continues as before", err);
	log_listeners(*next);
	return 0; /* worker_switch says READY */
}

static void start_stop(struct master *ms, int sig)
{
	if (ms->stopping) {
		log_warn("second stop signal: stopping workers at once");
		signal_workers(ms, SIGKILL, 0);
		return;
	}
	ms->stopping = 1;
	sdnotify_stopping();
	log_info("stopping on %s: draining workers (shutdown_timeout %llums)", strsignal(sig),
	         (unsigned long long)ms->gen->cfg->server.shutdown_timeout_ms);
	ms->stop_deadline_ms = now_ms() + ms->gen->cfg->server.shutdown_timeout_ms + 2000;
	signal_workers(ms, SIGTERM, 0);
}

static void on_signal(struct master *ms, int sig)
{
	switch (sig) {
	case SIGCHLD:
		reap_children(ms);
		break;
	case SIGHUP:
		if (!ms->stopping)
			reload(ms);
		break;
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		start_stop(ms, sig);
		break;
	case SIGUSR1:
		if (log_reopen() < 0)
			log_error("cannot reopen the log file: %s", strerror(errno));
		signal_workers(ms, SIGUSR1, 0);
		break;
	default:
		break;
	}
}

/* Respawn due workers, log readiness, enforce the stop deadline; returns
 * the poll timeout in ms (-1 = none). */
static int tick(struct master *ms)
{
	uint64_t now = now_ms();
	int timeout = -1;
	int ready = 0, current = 0;
	for (size_t i = 0; i < ms->n_procs; i++) {
		struct worker_proc *p = &ms->procs[i];
		if (p->pid == 0 && !ms->stopping && p->gen_id == ms->gen->id) {
			if (p->respawn_at_ms <= now) {
				if (spawn(ms, p) < 0)
					p->respawn_at_ms = now + RESPAWN_MAX_DELAY_MS;
			}
			if (p->pid == 0) {
				uint64_t wait = p->respawn_at_ms - now;
				if (timeout < 0 || wait < (uint64_t)timeout)
					timeout = (int)wait;
			}
		}
		if (p->gen_id != ms->gen->id)
			continue;
		current++;
		if (p->pid > 0 && !p->ready && shm_get()->slots[p->slot].ready)
			p->ready = 1;
		ready += p->ready;
	}
	if (!ms->ready_logged && current > 0 && ready == current) {
		log_info("generation %u ready: %d workers serving", ms->gen->id, current);
		sdnotify_ready("generation %u: %d workers serving", ms->gen->id, current);
		ms->ready_logged = 1;
	}
	if (!ms->ready_logged && (timeout < 0 || timeout > 20))
		timeout = 20; /* poll the workers' ready flags until all are up */
	if (ms->stopping) {
		if (now >= ms->stop_deadline_ms) {
			log_warn("workers did not stop within shutdown_timeout; killing them");
			signal_workers(ms, SIGKILL, 0);
			ms->stop_deadline_ms = now + 1000;
		}
		uint64_t wait = ms->stop_deadline_ms > now ? ms->stop_deadline_ms - now : 0;
		if (timeout < 0 || wait < (uint64_t)timeout)
			timeout = (int)wait;
	}
	return timeout;
}

static void write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		log_error("cannot write pid file %s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

int master_run(const char *main_path)
{
	char err[2048];
	struct master ms = { .main_path = main_path, .sigfd = -1 };
	sigset_t set;

	if (shm_create(err, sizeof(err)) < 0 || metrics_init(err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	status_init();
	sdnotify_open();
	signals_mask(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (generation_build(main_path, NULL, 1, 1, &ms.gen, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	const struct config *cfg = ms.gen->cfg;
	if (log_open(cfg->log.file, cfg->log.level, cfg->log.format, err, sizeof(err)) < 0) {
		log_error("%s", err);
		generation_free(ms.gen);
		return 1;
	}
	log_listeners(ms.gen);
	char *pid_file = cfg->server.pid_file ? strdup(cfg->server.pid_file) : NULL;
	if (pid_file)
		write_pid_file(pid_file);

	int code = 0;
	if (cfg->server.workers == 0) {
		/* One process: this one serves, signals arrive through the loop. */
		log_set_process("single", -1);
		if (drop_privileges(&cfg->server) < 0) {
			code = 1;
		} else {
			log_info("generation %u ready: serving in a single process", ms.gen->id);
			sdnotify_ready("generation %u: serving in a single process", ms.gen->id);
			worker_signals_exclude(&set);
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			code = worker_run(&ms.gen, 0, reload_single);
		}
		log_info("stopped");
		goto out;
	}

	ms.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ms.sigfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		code = 1;
		goto out;
	}
	if (spawn_generation(&ms) < 0) {
		signal_workers(&ms, SIGKILL, 0);
		code = 1;
		goto out;
	}
	for (;;) {
		int timeout = tick(&ms);
		if (ms.stopping && ms.n_procs == 0)
			break;
		struct pollfd pfd = { .fd = ms.sigfd, .events = POLLIN };
		int r = poll(&pfd, 1, timeout);
		if (r < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		struct signalfd_siginfo si;
		while (read(ms.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			on_signal(&ms, (int)si.ssi_signo);
	}
	log_info("stopped");
out:
	if (pid_file)
		unlink(pid_file);
	free(pid_file);
	if (ms.sigfd >= 0)
		close(ms.sigfd);
	sdnotify_close();
	generation_free(ms.gen);
	free(ms.procs);
	return code;
}
