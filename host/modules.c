/* host/modules.c — the module instances of one generation: open and check
 * every configured module, validate its section, order by `requires`, run
 * the load hooks; per-worker init/fini; unload and free. */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "loader.h"
#include "modconf.h"

/* Work space of the requirement sort: instances in configuration order,
 * a visit state for each, and the current requirement path for cycles. */
struct modules_sort {
	struct mh_module **conf; /* configuration order */
	size_t n;
	int *state; /* 0: not seen, 1: on the path, 2: placed */
	size_t *path;
	size_t depth;
	struct mh_module **out; /* dependency order */
	size_t n_out;
};

static struct mh_module *modules_new(const char *name)
{
	struct mh_module *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->name = strdup(name);
	if (!m->name) {
		free(m);
		return NULL;
	}
	return m;
}

static void modules_free_instance(struct mh_module *m)
{
	modconf_free(m->conf);
	free(m->name);
	free(m);
}

static ssize_t modules_index(struct mh_module **mods, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(mods[i]->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* "a -> b -> a", from where the cycle starts on the path back to it. */
static void modules_cycle(struct modules_sort *s, size_t again, char *err, size_t errlen)
{
	char chain[512] = "";
	size_t start = 0, len = 0;
	while (s->path[start] != again)
		start++;
	for (size_t k = start; k < s->depth && len < sizeof(chain); k++)
		len += (size_t)snprintf(chain + len, sizeof(chain) - len, "%s -> ",
		                        s->conf[s->path[k]]->name);
	if (len < sizeof(chain))
		snprintf(chain + len, sizeof(chain) - len, "%s", s->conf[again]->name);
	loader_error(err, errlen, s->conf[again]->name, s->conf[again]->lib->path,
	             "requirement cycle %s", chain);
}

/* Place instance i after everything it requires, depth first, so that
 * instances with no requirement between them keep configuration order. */
static int modules_visit(struct modules_sort *s, size_t i, char *err, size_t errlen)
{
	struct mh_module *m = s->conf[i];
	if (s->state[i] == 2)
		return 0;
	if (s->state[i] == 1) {
		modules_cycle(s, i, err, errlen);
		return -1;
	}
	s->state[i] = 1;
	s->path[s->depth++] = i;
	for (const char *const *r = m->desc->requires; r && *r; r++) {
		ssize_t j = modules_index(s->conf, s->n, *r);
		if (j < 0) {
			loader_error(
			    err, errlen, m->name, m->lib->path,
			    "requires module '%s', which is not configured; add [module %s]", *r,
			    *r);
			return -1;
		}
		if (modules_visit(s, (size_t)j, err, errlen) < 0)
			return -1;
	}
	s->depth--;
	s->state[i] = 2;
	s->out[s->n_out++] = m;
	return 0;
}

/* Reorder set->mods (configuration order) so that requirements come first.
 * Returns 0, or -1 with a missing or cyclic requirement in err. */
static int modules_order(struct module_set *set, char *err, size_t errlen)
{
	struct modules_sort s = {.conf = set->mods, .n = set->n};
	int rc = -1;
	s.state = calloc(set->n + 1, sizeof(*s.state));
	s.path = calloc(set->n + 1, sizeof(*s.path));
	s.out = calloc(set->n + 1, sizeof(*s.out));
	if (!s.state || !s.path || !s.out) {
		snprintf(err, errlen, "out of memory ordering modules");
		goto done;
	}
	for (size_t i = 0; i < set->n; i++)
		if (modules_visit(&s, i, err, errlen) < 0)
			goto done;
	memcpy(set->mods, s.out, set->n * sizeof(*set->mods));
	rc = 0;
done:
	free(s.state);
	free(s.path);
	free(s.out);
	return rc;
}

/* Open instance i of cfg and refuse a descriptor name that another file of
 * this set already uses.  Returns 0 or -1. */
static int modules_open(struct module_set *set, const struct module_settings *ms, char *err,
                        size_t errlen)
{
	struct mh_module *m = modules_new(ms->name);
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	set->mods[set->n++] = m;
	if (loader_open(ms->name, ms->path, &m->lib, err, errlen) < 0)
		return -1;
	m->desc = &m->lib->desc;
	for (size_t i = 0; i + 1 < set->n; i++) {
		const struct mh_module *o = set->mods[i];
		if (o->lib != m->lib && strcmp(o->desc->name, m->desc->name) == 0) {
			loader_error(err, errlen, m->name, ms->path,
			             "a module named '%s' is already loaded from %s", m->desc->name,
			             o->lib->path);
			return -1;
		}
	}
	return 0;
}

/* Whether a and b are the same module at the same version: only then is
 * one's instance state (its layout) something the other can take over.  A
 * new build loaded by a reload with another version starts afresh. */
static int modules_same_kind(const struct mh_module *a, const struct mh_module *b)
{
	const char *va = a->desc->version ? a->desc->version : "";
	const char *vb = b->desc->version ? b->desc->version : "";
	return strcmp(a->desc->name, b->desc->name) == 0 && strcmp(va, vb) == 0;
}

/* The load hook, then reconfigure with the previous generation's instance
 * of the same name when it is the same module at the same version. */
static int modules_start(struct mh_module *m, const struct module_settings *ms,
                         const struct module_set *previous, char *err, size_t errlen)
{
	if (m->desc->load) {
		m->loading_file = ms ? ms->file : NULL;
		m->loading_line = ms ? ms->line : 0;
		shm_mark_running(m);
		int rc = m->desc->load(m, &hostapi_table);
		shm_mark_running(NULL);
		m->loading_file = NULL;
		if (rc != 0) {
			char why[1024];
			loader_error(why, sizeof(why), m->name, m->lib->path,
			             "load hook failed; see the lines above");
			if (ms)
				snprintf(err, errlen, "%s:%d: %s", ms->file, ms->line, why);
			else
				snprintf(err, errlen, "%s", why);
			return -1;
		}
	}
	m->loaded = 1;
	struct mh_module *prev = modules_find(previous, m->name);
	/* Another module's instance under this name, or another version's,
	 * has state we must not hand over: reconfigure only sees its own kind. */
	if (!prev || !m->desc->reconfigure || !modules_same_kind(prev, m))
		return 0;
	shm_mark_running(m);
	int rc = m->desc->reconfigure(m, prev);
	shm_mark_running(NULL);
	if (rc != 0) {
		loader_error(err, errlen, m->name, m->lib->path,
		             "reconfigure hook failed; see the lines above");
		return -1;
	}
	return 0;
}

/* The configuration of the module instance called name. */
static const struct module_settings *modules_settings(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_modules; i++)
		if (strcmp(cfg->modules[i].name, name) == 0)
			return &cfg->modules[i];
	return NULL;
}

int modules_load(const struct config *cfg, const struct module_set *previous,
                 struct module_set **out, char *err, size_t errlen)
{
	struct module_set *set = calloc(1, sizeof(*set));
	if (!set || !(set->mods = calloc(cfg->n_modules + 1, sizeof(*set->mods)))) {
		free(set);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->n_modules; i++) {
		const struct module_settings *ms = &cfg->modules[i];
		if (modules_open(set, ms, err, errlen) < 0) {
			/* Point at the section that named the file. */
			char *why = strdup(err);
			snprintf(err, errlen, "%s:%d: %s", ms->file, ms->line, why ? why : "");
			free(why);
			goto fail;
		}
	}
	for (size_t i = 0; i < set->n; i++) {
		struct mh_module *m = set->mods[i];
		if (modconf_build(m->name, cfg->modules[i].section, m->desc->config_keys,
		                  cfg->base_dir, &m->conf, err, errlen) < 0)
			goto fail;
	}
	if (modules_order(set, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < set->n; i++)
		set->mods[i]->index = (int)i;
	for (size_t i = 0; i < set->n; i++)
		if (modules_start(set->mods[i], modules_settings(cfg, set->mods[i]->name), previous,
		                  err, errlen) < 0)
			goto fail;
	*out = set;
	return 0;
fail:
	modules_free(set);
	return -1;
}

struct mh_module *modules_find(const struct module_set *set, const char *name)
{
	if (!set)
		return NULL;
	ssize_t i = modules_index(set->mods, set->n, name);
	return i < 0 ? NULL : set->mods[i];
}

int modules_worker_init(struct module_set *set, char *err, size_t errlen)
{
	for (size_t i = 0; i < set->n; i++) {
		struct mh_module *m = set->mods[i];
		if (m->desc->worker_init) {
			shm_mark_running(m);
			int rc = m->desc->worker_init(m);
			shm_mark_running(NULL);
			if (rc != 0) {
				loader_error(err, errlen, m->name, m->lib->path,
				             "worker_init hook failed; see the lines above");
				modules_worker_fini(set);
				return -1;
			}
		}
		m->worker_ready = 1;
	}
	return 0;
}

int modules_offloading(const struct module_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->mods[i]->offload_jobs)
			return 1;
	return 0;
}

void modules_worker_fini(struct module_set *set)
{
	for (size_t i = set->n; i-- > 0;) {
		struct mh_module *m = set->mods[i];
		if (!m->worker_ready)
			continue;
		m->worker_ready = 0;
		if (m->desc->worker_fini) {
			shm_mark_running(m);
			m->desc->worker_fini(m);
			shm_mark_running(NULL);
		}
	}
}

void modules_free(struct module_set *set)
{
	if (!set)
		return;
	for (size_t i = set->n; i-- > 0;) {
		struct mh_module *m = set->mods[i];
		if (m->loaded && m->desc->unload) {
			shm_mark_running(m);
			m->desc->unload(m);
			shm_mark_running(NULL);
		}
		m->loaded = 0;
	}
	for (size_t i = 0; i < set->n; i++)
		modules_free_instance(set->mods[i]);
	free(set->mods);
	free(set);
}
