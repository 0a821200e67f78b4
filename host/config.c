/* host/config.c — the host's own sections into typed settings.  Stages
 * (doc/internals/config.md): read every file (cfgfile.c: inih, lines
 * counted there), build [server], [log], [module] and [listener] settings,
 * check that listeners name configured modules.  The first error stops the
 * load as "file:line: what is wrong". */
#include "build-config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgfile.h"
#include "cfgval.h"
#include "config.h"
#include "route.h"
#include "log.h"
#include "pollctl.h"
#include "tlsconf.h"

#ifndef MH_MODULE_DIR
#define MH_MODULE_DIR "/usr/local/lib/modhost/modules"
#endif

/* ---- stage 2: typed settings ----------------------------------------------- */

enum config_type {
	CT_DURATION, /* uint64_t ms */
	CT_DURATION_US, /* uint64_t us, at most max */
	CT_BUSY_POLL, /* auto (int at off2 = 1), or off / a duration as CT_DURATION_US */
	CT_SIZE,     /* uint64_t bytes */
	CT_U64,      /* uint64_t within [min, max] */
	CT_INT,      /* int within [min, max] */
	CT_STRING,   /* char *, not empty */
	CT_PATH,     /* char *, absolute */
	CT_NAME,     /* char *, a module name */
	CT_NAMES,    /* char ** + size_t at off2: module names */
	CT_WORKERS,  /* int: auto or 0..512 */
	CT_LEVEL,    /* int */
	CT_FORMAT,   /* int */
	CT_LOGFILE,  /* char *: NULL for "stderr" */
	CT_LISTEN,   /* the listener's address fields */
	CT_IGNORE,   /* read elsewhere */
	CT_TLS,      /* a listener's tls_* key: tlsconf.c */
};

struct config_key {
	const char *name;
	enum config_type type;
	size_t off, off2;
	int64_t min, max;
};

#define SRV(f)  offsetof(struct server_settings, f)
#define LOGS(f) offsetof(struct log_settings, f)
#define LIS(f)  offsetof(struct listener_settings, f)

static const struct config_key config_server_keys[] = {
    {"workers", CT_WORKERS, SRV(workers), 0, 0, 512},
    {"shutdown_timeout", CT_DURATION, SRV(shutdown_timeout_ms), 0, 0, 0},
    {"max_connections", CT_U64, SRV(max_connections), 0, 1, 1 << 24},
    {"busy_poll", CT_BUSY_POLL, SRV(busy_poll_us), SRV(busy_poll_auto), 0, 1000000},
    {"busy_poll_nap", CT_DURATION_US, SRV(busy_poll_nap_us), 0, 0, 1000000},
    {"offload_threads", CT_U64, SRV(offload_threads), 0, 1, 256},
    {"offload_queue", CT_U64, SRV(offload_queue), 0, 1, 1 << 20},
    {"module_path", CT_PATH, SRV(module_path), 0, 0, 0},
    {"pid_file", CT_PATH, SRV(pid_file), 0, 0, 0},
    {"user", CT_STRING, SRV(user), 0, 0, 0},
    {"group", CT_STRING, SRV(group), 0, 0, 0},
    {"include", CT_IGNORE, 0, 0, 0, 0},
    {NULL, 0, 0, 0, 0, 0},
};

static const struct config_key config_log_keys[] = {
    {"level", CT_LEVEL, LOGS(level), 0, 0, 0},
    {"format", CT_FORMAT, LOGS(format), 0, 0, 0},
    {"file", CT_LOGFILE, LOGS(file), 0, 0, 0},
    {NULL, 0, 0, 0, 0, 0},
};

static const struct config_key config_listener_keys[] = {
    {"listen", CT_LISTEN, 0, 0, 0, 0},
    {"backlog", CT_INT, LIS(backlog), 0, 1, 65535},
    {"max_connections", CT_U64, LIS(max_connections), 0, 0, 1 << 24},
    {"max_connections_per_ip", CT_U64, LIS(max_connections_per_ip), 0, 0, 1 << 24},
    {"codec", CT_NAME, LIS(codec), 0, 0, 0},
    {"handler", CT_NAME, LIS(handler), 0, 0, 0},
    {"routes", CT_NAMES, LIS(routes), LIS(n_routes), 0, 0},
    {"auth", CT_NAMES, LIS(auth), LIS(n_auth), 0, 0},
    {"policy", CT_NAME, LIS(policy), 0, 0, 0},
    {"observers", CT_NAMES, LIS(observers), LIS(n_observers), 0, 0},
    {"idle_timeout", CT_DURATION, LIS(idle_timeout_ms), 0, 0, 0},
    {"read_timeout", CT_DURATION, LIS(read_timeout_ms), 0, 0, 0},
    {"write_timeout", CT_DURATION, LIS(write_timeout_ms), 0, 0, 0},
    {"max_inflight", CT_U64, LIS(max_inflight), 0, 1, 1 << 20},
    {"max_requests_per_connection", CT_U64, LIS(max_requests_per_connection), 0, 0, UINT32_MAX},
    {"output_high_water", CT_SIZE, LIS(output_high_water), 0, 0, 0},
    {"output_low_water", CT_SIZE, LIS(output_low_water), 0, 0, 0},
    {"send_buffer", CT_SIZE, LIS(send_buffer), 0, 4096, 1 << 28},
    {"tls", CT_TLS, 0, 0, 0, 0},
    {"tls_certificate", CT_TLS, 0, 0, 0, 0},
    {"tls_ocsp_response", CT_TLS, 0, 0, 0, 0},
    {"tls_priority", CT_TLS, 0, 0, 0, 0},
    {"tls_alpn", CT_TLS, 0, 0, 0, 0},
    {"tls_alpn_required", CT_TLS, 0, 0, 0, 0},
    {"tls_tickets", CT_TLS, 0, 0, 0, 0},
    {"tls_ticket_rotate", CT_TLS, 0, 0, 0, 0},
    {"tls_client_ca", CT_TLS, 0, 0, 0, 0},
    {"tls_client_crl", CT_TLS, 0, 0, 0, 0},
    {"tls_verify_client", CT_TLS, 0, 0, 0, 0},
    {"tls_handshake_timeout", CT_TLS, 0, 0, 0, 0},
    {NULL, 0, 0, 0, 0, 0},
};

/* Parse e's value as k into the settings at base.  Returns 0, or -1 with
 * the reason (no file:line) in reason. */
static int config_parse_value(const struct config *cfg, const struct config_key *k,
                              const struct cfg_entry *e, void *base, char *reason, size_t rlen)
{
	char *field = (char *)base + k->off;
	const char *v = e->value;
	uint64_t u;
	int64_t i;
	char *s;

	switch (k->type) {
	case CT_DURATION:
		if (cfgval_duration_ms(v, &u, reason, rlen) < 0)
			return -1;
		*(uint64_t *)field = u;
		return 0;
	case CT_BUSY_POLL:
	case CT_DURATION_US:
		if (k->type == CT_BUSY_POLL) {
			*(int *)((char *)base + k->off2) = strcmp(v, "auto") == 0;
			if (strcmp(v, "auto") == 0 || strcmp(v, "off") == 0) {
				*(uint64_t *)field = 0;
				return 0;
			}
			if (*v < '0' || *v > '9') {
				snprintf(reason, rlen, "'%s' is not auto, off or a duration (e.g. 200us)", v);
				return -1;
			}
		}
		if (cfgval_duration_us(v, &u, reason, rlen) < 0)
			return -1;
		if (u > (uint64_t)k->max) {
			uint64_t max = (uint64_t)k->max;
			const char *unit = max % 1000000 == 0 ? "s" : max % 1000 == 0 ? "ms" : "us";
			uint64_t scaled = max % 1000000 == 0 ? max / 1000000 : max % 1000 == 0 ? max / 1000 : max;
			snprintf(reason, rlen, "'%s' is too long (at most %llu%s)", v, (unsigned long long)scaled,
			         unit);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	case CT_SIZE:
		if (cfgval_size(v, &u, reason, rlen) < 0)
			return -1;
		if (k->max && (u < (uint64_t)k->min || u > (uint64_t)k->max)) {
			snprintf(reason, rlen, "'%s' is out of range (%llu to %llu bytes)", v,
			         (unsigned long long)k->min, (unsigned long long)k->max);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	case CT_U64:
	case CT_INT:
	case CT_WORKERS:
		if (k->type == CT_WORKERS && strcmp(v, "auto") == 0) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);
			*(int *)field = n < 1 ? 1 : n > k->max ? (int)k->max : (int)n;
			return 0;
		}
		if (cfgval_int(v, k->min, k->max, &i, reason, rlen) < 0)
			return -1;
		if (k->type == CT_U64)
			*(uint64_t *)field = (uint64_t)i;
		else
			*(int *)field = (int)i;
		return 0;
	case CT_LEVEL:
	case CT_FORMAT: {
		int r = k->type == CT_LEVEL ? log_level_parse(v) : log_format_parse(v);
		if (r < 0) {
			snprintf(reason, rlen, "'%s' is not one of %s", v,
			         k->type == CT_LEVEL ? "error, warn, info, debug"
			                             : "text, logfmt, json");
			return -1;
		}
		*(int *)field = r;
		return 0;
	}
	case CT_STRING:
	case CT_NAME:
		if (!*v) {
			snprintf(reason, rlen, "empty value");
			return -1;
		}
		if (k->type == CT_NAME && !cfgfile_name_ok(v)) {
			snprintf(reason, rlen, "'%s' is not a module name", v);
			return -1;
		}
		if (!(s = strdup(v)))
			goto oom;
		free(*(char **)field);
		*(char **)field = s;
		return 0;
	case CT_PATH:
	case CT_LOGFILE:
		if (k->type == CT_LOGFILE && strcmp(v, "stderr") == 0) {
			s = NULL;
		} else if (cfgval_path(v, cfg->base_dir, &s, reason, rlen) < 0)
			return -1;
		free(*(char **)field);
		*(char **)field = s;
		return 0;
	case CT_NAMES: {
		char **items;
		size_t n;
		if (cfgval_list(v, &items, &n, reason, rlen) < 0)
			return -1;
		for (size_t j = 0; j < n; j++) {
			if (!cfgfile_name_ok(items[j])) {
				snprintf(reason, rlen, "'%s' is not a module name", items[j]);
				cfgval_list_free(items);
				return -1;
			}
		}
		cfgval_list_free(*(char ***)field);
		*(char ***)field = items;
		*(size_t *)((char *)base + k->off2) = n;
		return 0;
	}
	case CT_LISTEN: {
		struct listener_settings *l = base;
		if (cfgval_address(v, cfg->base_dir, &l->addr, &l->addrlen, &l->unix_path, reason,
		                   rlen) < 0)
			return -1;
		l->family = l->unix_path ? LISTENER_UNIX : LISTENER_TCP;
		if (!(l->listen = strdup(v)))
			goto oom;
		return 0;
	}
	case CT_IGNORE: return 0;
	case CT_TLS:
		return tlsconf_key(&((struct listener_settings *)base)->tls, k->name, v, e->file,
		                   e->line, cfg->base_dir, reason, rlen);
	}
	snprintf(reason, rlen, "internal error: key type %d", (int)k->type);
	return -1;
oom:
	snprintf(reason, rlen, "out of memory");
	return -1;
}

/* Apply every entry of sec to base through keys. */
static int config_apply(struct cfgfile_ctx *ctx, const struct cfg_section *sec,
                        const struct config_key *keys, void *base)
{
	char reason[512], where[300];

	for (const struct cfg_entry *e = sec->entries; e; e = e->next) {
		const struct config_key *k = keys;
		while (k->name && strcmp(k->name, e->key) != 0)
			k++;
		if (!k->name) {
			cfgfile_error(ctx, e->file, e->line, "unknown key '%s' in %s", e->key,
			              cfgfile_secname(sec, where, sizeof(where)));
			return -1;
		}
		if (config_parse_value(ctx->cfg, k, e, base, reason, sizeof(reason)) < 0) {
			cfgfile_error(ctx, e->file, e->line, "bad value for '%s': %s", e->key,
			              reason);
			return -1;
		}
	}
	return 0;
}

static int config_build_server(struct cfgfile_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	struct server_settings *s = &cfg->server;
	const struct cfg_section *sec = cfgfile_find_section(cfg, "server", NULL);
	const char *env = getenv("MODHOST_MODULE_PATH");
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	s->workers = n < 1 ? 1 : n > 512 ? 512 : (int)n;
	s->shutdown_timeout_ms = 30 * 1000;
	s->max_connections = 10000;
	s->busy_poll_auto = 1;
	s->offload_threads = 4;
	s->offload_queue = 1024;
	if (sec && config_apply(ctx, sec, config_server_keys, s) < 0)
		return -1;
	uint64_t budget = s->busy_poll_auto ? POLLCTL_BUDGET_US : s->busy_poll_us;
	if (s->busy_poll_nap_us > budget) {
		const struct cfg_entry *nap = cfgfile_entry(sec, "busy_poll_nap");
		const struct cfg_entry *poll = cfgfile_entry(sec, "busy_poll");
		if (s->busy_poll_auto)
			cfgfile_error(ctx, nap->file, nap->line,
			              "bad value for 'busy_poll_nap': '%s' is longer than the %uus "
			              "that busy_poll = auto polls for",
			              nap->value, POLLCTL_BUDGET_US);
		else if (!s->busy_poll_us)
			cfgfile_error(ctx, nap->file, nap->line,
			              "bad value for 'busy_poll_nap': it naps between the polls of "
			              "busy_poll, which is off");
		else
			cfgfile_error(ctx, nap->file, nap->line,
			              "bad value for 'busy_poll_nap': '%s' is longer than busy_poll (%s)",
			              nap->value, poll->value);
		return -1;
	}
	if (!s->module_path) {
		s->module_path = strdup(env && *env ? env : MH_MODULE_DIR);
		if (!s->module_path)
			return cfgfile_oom(ctx);
	}
	return 0;
}

static int config_build_log(struct cfgfile_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const struct cfg_section *sec = cfgfile_find_section(cfg, "log", NULL);

	cfg->log.level = MH_LOG_INFO;
	cfg->log.format = LOG_FORMAT_TEXT;
	return sec ? config_apply(ctx, sec, config_log_keys, &cfg->log) : 0;
}

/* Check that the module named by listener l's key (at its entry's line) is
 * configured. */
static int config_check_ref(struct cfgfile_ctx *ctx, const struct cfg_section *sec, const char *key,
                            const char *module)
{
	const struct cfg_entry *e;

	if (cfgfile_find_section(ctx->cfg, "module", module))
		return 0;
	e = cfgfile_entry(sec, key);
	cfgfile_error(ctx, e->file, e->line,
	              "listener '%s': %s '%s' is not a configured module (add [module %s])",
	              sec->name, strcmp(key, "observers") == 0 ? "observer" : key, module, module);
	return -1;
}

static int config_build_listener(struct cfgfile_ctx *ctx, const struct cfg_section *sec,
                                 struct listener_settings *l)
{
	static const char *const required[] = {"listen", "codec", NULL};
	const struct cfg_entry *lo;

	l->file = sec->file;
	l->line = sec->line;
	l->backlog = 511;
	l->idle_timeout_ms = 60 * 1000;
	l->read_timeout_ms = 30 * 1000;
	l->write_timeout_ms = 30 * 1000;
	l->max_inflight = 64;
	l->output_high_water = 256 * 1024;
	l->output_low_water = 64 * 1024;
	if (!(l->name = strdup(sec->name)) || !(l->auth = calloc(1, sizeof(char *))))
		return cfgfile_oom(ctx);
	if (config_apply(ctx, sec, config_listener_keys, l) < 0)
		return -1;
	for (int i = 0; required[i]; i++) {
		if (!cfgfile_entry(sec, required[i])) {
			cfgfile_error(ctx, sec->file, sec->line, "listener '%s' needs key '%s'",
			              sec->name, required[i]);
			return -1;
		}
	}
	if (l->output_low_water >= l->output_high_water) {
		lo = cfgfile_entry(sec, "output_low_water");
		if (!lo)
			lo = cfgfile_entry(sec, "output_high_water");
		cfgfile_error(ctx, lo->file, lo->line,
		              "bad value for '%s': output_low_water (%llu) must be below "
		              "output_high_water (%llu)",
		              lo->key, (unsigned long long)l->output_low_water,
		              (unsigned long long)l->output_high_water);
		return -1;
	}
	if (l->max_connections_per_ip && l->family == LISTENER_UNIX) {
		lo = cfgfile_entry(sec, "max_connections_per_ip");
		cfgfile_error(ctx, lo->file, lo->line,
		              "max_connections_per_ip needs a TCP listener: '%s' listens on a "
		              "unix socket, whose peers have no address",
		              sec->name);
		return -1;
	}
	if (!l->handler && !cfgfile_entry(sec, "routes")) {
		cfgfile_error(ctx, sec->file, sec->line,
		              "listener '%s' needs key 'handler' or 'routes'", sec->name);
		return -1;
	}
	if (!l->routes && !(l->routes = calloc(1, sizeof(char *))))
		return cfgfile_oom(ctx);
	if (config_check_ref(ctx, sec, "codec", l->codec) < 0 ||
	    (l->handler && config_check_ref(ctx, sec, "handler", l->handler) < 0) ||
	    (l->policy && config_check_ref(ctx, sec, "policy", l->policy) < 0))
		return -1;
	for (size_t i = 0; i < l->n_auth; i++)
		if (config_check_ref(ctx, sec, "auth", l->auth[i]) < 0)
			return -1;
	for (size_t i = 0; i < l->n_observers; i++)
		if (config_check_ref(ctx, sec, "observers", l->observers[i]) < 0)
			return -1;
	if (tlsconf_check(l->tls, l->name, sec->file, sec->line, ctx->err, ctx->errlen) < 0) {
		ctx->failed = 1;
		return -1;
	}
	for (size_t i = 0; l->tls && l->tls->enabled && i < l->tls->n_alpn; i++)
		if (config_check_ref(ctx, sec, "tls_alpn", l->tls->alpn_codecs[i]) < 0)
			return -1;
	return 0;
}

static int config_build_module(struct cfgfile_ctx *ctx, const struct cfg_section *sec,
                               struct module_settings *m)
{
	const struct cfg_entry *e = cfgfile_entry(sec, "file");
	char reason[512];

	m->file = sec->file;
	m->line = sec->line;
	m->section = sec;
	if (!(m->name = strdup(sec->name)))
		return cfgfile_oom(ctx);
	if (e) {
		if (cfgval_path(e->value, ctx->cfg->base_dir, &m->path, reason, sizeof(reason)) <
		    0) {
			cfgfile_error(ctx, e->file, e->line, "bad value for 'file': %s", reason);
			return -1;
		}
	} else if (asprintf(&m->path, "%s/%s.so", ctx->cfg->server.module_path, sec->name) < 0) {
		m->path = NULL;
		return cfgfile_oom(ctx);
	}
	return 0;
}

static int config_build(struct cfgfile_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	size_t nl = 0, nm = 0;

	if (config_build_server(ctx) < 0 || config_build_log(ctx) < 0)
		return -1;
	for (struct cfg_section *s = cfg->sections; s; s = s->next) {
		nl += strcmp(s->kind, "listener") == 0;
		nm += strcmp(s->kind, "module") == 0;
	}
	cfg->listeners = calloc(nl + 1, sizeof(*cfg->listeners));
	cfg->modules = calloc(nm + 1, sizeof(*cfg->modules));
	if (!cfg->listeners || !cfg->modules)
		return cfgfile_oom(ctx);
	for (struct cfg_section *s = cfg->sections; s; s = s->next) {
		if (strcmp(s->kind, "module") == 0 &&
		    config_build_module(ctx, s, &cfg->modules[cfg->n_modules++]) < 0)
			return -1;
	}
	for (struct cfg_section *s = cfg->sections; s; s = s->next) {
		if (strcmp(s->kind, "listener") == 0 &&
		    config_build_listener(ctx, s, &cfg->listeners[cfg->n_listeners++]) < 0)
			return -1;
	}
	if (route_build_all(cfg, ctx->err, ctx->errlen) < 0) {
		ctx->failed = 1;
		return -1;
	}
	return 0;
}

/* ---- the whole load ------------------------------------------------------------ */

int config_load(const char *main_path, struct config **out, char *err, size_t errlen)
{
	struct cfgfile_ctx ctx = {.err = err, .errlen = errlen};
	struct config *cfg = calloc(1, sizeof(*cfg));

	*out = NULL;
	if (!cfg) {
		snprintf(err, errlen, "%s: out of memory", main_path);
		return -1;
	}
	ctx.cfg = cfg;
	if (cfgfile_read(&ctx, main_path) < 0 || config_build(&ctx) < 0) {
		config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

static void config_free_listener(struct listener_settings *l)
{
	free(l->name);
	free(l->listen);
	free(l->unix_path);
	free(l->codec);
	free(l->handler);
	cfgval_list_free(l->auth);
	free(l->policy);
	cfgval_list_free(l->observers);
	cfgval_list_free(l->routes);
	tlsconf_free_settings(l->tls);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_listeners; i++)
		config_free_listener(&cfg->listeners[i]);
	free(cfg->listeners);
	route_free_all(cfg);
	for (size_t i = 0; i < cfg->n_modules; i++) {
		free(cfg->modules[i].name);
		free(cfg->modules[i].path);
	}
	free(cfg->modules);
	free(cfg->server.module_path);
	free(cfg->server.pid_file);
	free(cfg->server.user);
	free(cfg->server.group);
	free(cfg->log.file);
	cfgfile_free(cfg);
	free(cfg);
}

const struct listener_settings *config_listener(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_listeners; i++)
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return &cfg->listeners[i];
	return NULL;
}

const struct module_settings *config_module(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_modules; i++)
		if (strcmp(cfg->modules[i].name, name) == 0)
			return &cfg->modules[i];
	return NULL;
}
