/* host/config.c — reading modhost.ini and every conf.d/NAME.ini into
 * sections, then the host's own sections into typed settings.  Stages
 * (doc/internals/config.md): read every file (inih; lines counted here),
 * build [server], [log], [module] and [listener] settings, check that
 * listeners name configured modules.  The first error stops the load as
 * "file:line: what is wrong". */
#include "build-config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgval.h"
#include "config.h"
#include "route.h"
#include "log.h"
#include "tlsconf.h"

#ifndef MH_MODULE_DIR
#define MH_MODULE_DIR "/usr/local/lib/modhost/modules"
#endif

/* inih's line buffer: lines of up to CONFIG_MAX_LINE - 3 characters. */
#define CONFIG_MAX_LINE 8192

/* The state of one config_load. */
struct config_ctx {
	struct config *cfg;
	struct cfg_section **tail; /* where the next section goes */
	char *err;
	size_t errlen;
	int failed;
};

/* The state of reading one file. */
struct config_file {
	struct config_ctx *ctx;
	const char *name; /* as shown in messages; lives in cfg->files */
	int is_main;
	FILE *fp;
	int line;
	char *buf;
	size_t bufcap;
	struct cfg_section *cur;
	struct cfg_entry **etail;
};

static void config_error(struct config_ctx *ctx, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record the first error as "file:line: message" (or "file: message" when
 * line is 0); later errors are ignored. */
static void config_error(struct config_ctx *ctx, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ctx->failed)
		return;
	ctx->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s", file, line, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s: %s", file, msg);
}

static int config_oom(struct config_ctx *ctx)
{
	config_error(ctx, "config", 0, "out of memory");
	return -1;
}

/* "dir/name", or name alone when dir is empty. */
static char *config_join(const char *dir, const char *name)
{
	char *p;

	if (!*dir || name[0] == '/')
		return strdup(name);
	if (asprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return p;
}

static int config_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return 0;
	return 1;
}

/* "[kind]" or "[kind name]" for messages. */
static const char *config_secname(const struct cfg_section *s, char *buf, size_t len)
{
	if (s->name)
		snprintf(buf, len, "[%s %s]", s->kind, s->name);
	else
		snprintf(buf, len, "[%s]", s->kind);
	return buf;
}

static struct cfg_section *config_find_section(const struct config *cfg, const char *kind,
                                               const char *name)
{
	for (struct cfg_section *s = cfg->sections; s; s = s->next)
		if (strcmp(s->kind, kind) == 0 &&
		    (name ? s->name && strcmp(s->name, name) == 0 : !s->name))
			return s;
	return NULL;
}

static const struct cfg_entry *config_entry(const struct cfg_section *s, const char *key)
{
	for (const struct cfg_entry *e = s->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* ---- stage 1: reading files ---------------------------------------------- */

/* Start a section from a header line t (which begins with '[').  Returns 0,
 * or -1 after recording the error. */
static int config_section_start(struct config_file *f, char *t)
{
	struct config_ctx *ctx = f->ctx;
	char *close = strchr(t, ']'), *p, *kind, *name = NULL;
	struct cfg_section *s, *dup;
	char where[300];

	if (!close) {
		config_error(ctx, f->name, f->line, "section header without ']'");
		return -1;
	}
	for (p = close + 1; isspace((unsigned char)*p); p++)
		;
	if (*p && *p != ';' && *p != '#') {
		p[strcspn(p, "\r\n")] = '\0';
		config_error(ctx, f->name, f->line, "unexpected text '%s' after section header", p);
		return -1;
	}
	*close = '\0';
	for (kind = t + 1; isspace((unsigned char)*kind); kind++)
		;
	for (p = close; p > kind && isspace((unsigned char)p[-1]); p--)
		*(p - 1) = '\0';
	if (!*kind) {
		config_error(ctx, f->name, f->line, "empty section header []");
		return -1;
	}
	p = kind + strcspn(kind, " \t");
	if (*p) {
		*p++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		name = p;
	}
	int named = strcmp(kind, "module") == 0 || strcmp(kind, "listener") == 0 ||
	            strcmp(kind, "route") == 0;
	int plain = strcmp(kind, "server") == 0 || strcmp(kind, "log") == 0;
	if (!named && !plain) {
		config_error(ctx, f->name, f->line, "unknown section [%s%s%s]", kind,
		             name ? " " : "", name ? name : "");
		return -1;
	}
	if (named && !name) {
		config_error(ctx, f->name, f->line, "section [%s] needs a name: [%s NAME]", kind,
		             kind);
		return -1;
	}
	if (plain && name) {
		config_error(ctx, f->name, f->line, "section [%s] takes no name", kind);
		return -1;
	}
	if (name && !config_name_ok(name)) {
		config_error(ctx, f->name, f->line,
		             "bad name '%s' in [%s %s] (use letters, digits, '_', '.', '-')", name,
		             kind, name);
		return -1;
	}
	dup = config_find_section(ctx->cfg, kind, name);
	if (dup) {
		config_error(ctx, f->name, f->line, "duplicate section %s (first at %s:%d)",
		             config_secname(dup, where, sizeof(where)), dup->file, dup->line);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->kind = strdup(kind)) || (name && !(s->name = strdup(name)))) {
		if (s)
			free(s->kind);
		free(s);
		return config_oom(ctx);
	}
	s->file = f->name;
	s->line = f->line;
	*ctx->tail = s;
	ctx->tail = &s->next;
	f->cur = s;
	f->etail = &s->entries;
	return 0;
}

/* inih's line source: hands inih one line at a time so that f->line is the
 * line of every handler call.  Section headers are taken here (inih gets an
 * empty line in their place) because inih reports neither their line nor
 * empty sections. */
static char *config_reader(char *str, int num, void *stream)
{
	struct config_file *f = stream;
	ssize_t n;
	char *s, *t;

	if (f->ctx->failed)
		return NULL;
	n = getline(&f->buf, &f->bufcap, f->fp);
	if (n < 0)
		return NULL;
	f->line++;
	s = f->buf;
	if (f->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		n -= 3;
	}
	if (strlen(s) != (size_t)n) {
		config_error(f->ctx, f->name, f->line, "NUL byte in line");
		return NULL;
	}
	if (strcspn(s, "\n") > (size_t)num - 3) {
		config_error(f->ctx, f->name, f->line, "line too long (more than %d characters)",
		             num - 3);
		return NULL;
	}
	for (t = s; isspace((unsigned char)*t); t++)
		;
	if (*t == '[') {
		if (config_section_start(f, t) < 0)
			return NULL;
		strcpy(str, "\n");
		return str;
	}
	memcpy(str, s, (size_t)n + 1);
	return str;
}

/* inih's callback for "name = value" at line f->line. */
static int config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_file *f = user;
	struct config_ctx *ctx = f->ctx;
	const struct cfg_entry *prev;
	struct cfg_entry *e;
	char reason[512], where[300];
	char *v;

	(void)section;
	if (!f->cur) {
		config_error(ctx, f->name, f->line,
		             "key '%s' outside any section (put it under a [section] header)",
		             name);
		return 0;
	}
	if (!*name) {
		config_error(ctx, f->name, f->line, "missing key name before '='");
		return 0;
	}
	prev = config_entry(f->cur, name);
	if (prev) {
		config_error(ctx, f->name, f->line, "duplicate key '%s' in %s (first at %s:%d)",
		             name, config_secname(f->cur, where, sizeof(where)), prev->file,
		             prev->line);
		return 0;
	}
	if (!f->is_main && strcmp(f->cur->kind, "server") == 0 && strcmp(name, "include") == 0) {
		config_error(ctx, f->name, f->line, "'include' is only read from the main file");
		return 0;
	}
	if (cfgval_expand_env(value, &v, reason, sizeof(reason)) < 0) {
		config_error(ctx, f->name, f->line, "%s", reason);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(name))) {
		free(e);
		free(v);
		config_oom(ctx);
		return 0;
	}
	e->value = v;
	e->file = f->name;
	e->line = f->line;
	*f->etail = e;
	f->etail = &e->next;
	return 1;
}

/* Add a display name to cfg->files; returns the stored copy or NULL. */
static const char *config_add_file(struct config *cfg, const char *name)
{
	char **files = realloc(cfg->files, (cfg->n_files + 1) * sizeof(*files));
	char *copy;

	if (!files)
		return NULL;
	cfg->files = files;
	copy = strdup(name);
	if (!copy)
		return NULL;
	cfg->files[cfg->n_files++] = copy;
	return copy;
}

/* Read one file (path to open, name to show) into sections. */
static int config_read_file(struct config_ctx *ctx, const char *path, const char *name, int is_main)
{
	struct config_file f = {.ctx = ctx, .is_main = is_main};
	int ret;

	f.name = config_add_file(ctx->cfg, name);
	if (!f.name)
		return config_oom(ctx);
	f.fp = fopen(path, "re");
	if (!f.fp) {
		config_error(ctx, f.name, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	/* Debian's inih reads these at run time: long lines, no continuation
	 * lines (an indented key is just a key), stop at the first error. */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = CONFIG_MAX_LINE;
	ini_max_line = CONFIG_MAX_LINE;
	ini_allow_multiline = false;
	ini_allow_no_value = false;
	ini_stop_on_first_error = true;
	ret = ini_parse_stream(config_reader, &f, config_handler, &f);
	if (!ctx->failed && ferror(f.fp))
		config_error(ctx, f.name, 0, "read error: %s", strerror(errno));
	if (!ctx->failed && ret > 0)
		config_error(ctx, f.name, ret,
		             "syntax error: expected 'key = value', '[section]' or a comment");
	if (!ctx->failed && ret < 0)
		config_oom(ctx);
	free(f.buf);
	fclose(f.fp);
	return ctx->failed ? -1 : 0;
}

static int config_ini_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".ini") == 0;
}

static int config_strcmp_sort(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Read every *.ini of the include folder in strcmp order. */
static int config_read_includes(struct config_ctx *ctx, const char *given_dir)
{
	struct config *cfg = ctx->cfg;
	struct cfg_section *server = config_find_section(cfg, "server", NULL);
	const struct cfg_entry *inc = server ? config_entry(server, "include") : NULL;
	const char *rel = inc ? inc->value : "conf.d";
	char *abs = NULL, *shown = NULL, reason[512];
	struct dirent **list = NULL;
	struct stat mst;
	int n, rc = 0;

	if (cfgval_path(rel, cfg->base_dir, &abs, reason, sizeof(reason)) < 0) {
		config_error(ctx, inc->file, inc->line, "bad value for 'include': %s", reason);
		return -1;
	}
	shown = config_join(given_dir, rel);
	if (!shown) {
		free(abs);
		return config_oom(ctx);
	}
	n = scandir(abs, &list, config_ini_filter, config_strcmp_sort);
	if (n < 0) {
		if (inc)
			config_error(ctx, inc->file, inc->line,
			             "bad value for 'include': cannot read folder %s: %s", shown,
			             strerror(errno));
		else if (errno != ENOENT)
			config_error(ctx, shown, 0, "cannot read folder: %s", strerror(errno));
		free(abs);
		free(shown);
		return ctx->failed ? -1 : 0;
	}
	if (stat(cfg->main_file, &mst) < 0)
		memset(&mst, 0, sizeof(mst));
	for (int i = 0; i < n; i++) {
		char *path = config_join(abs, list[i]->d_name);
		char *name = config_join(shown, list[i]->d_name);
		struct stat st;

		if (!path || !name)
			rc = config_oom(ctx);
		else if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		         !(st.st_dev == mst.st_dev && st.st_ino == mst.st_ino))
			rc = config_read_file(ctx, path, name, 0);
		free(path);
		free(name);
		free(list[i]);
	}
	free(list);
	free(abs);
	free(shown);
	return rc;
}

/* ---- stage 2: typed settings ----------------------------------------------- */

enum config_type {
	CT_DURATION, /* uint64_t ms */
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
    {"output_high_water", CT_SIZE, LIS(output_high_water), 0, 0, 0},
    {"output_low_water", CT_SIZE, LIS(output_low_water), 0, 0, 0},
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
	case CT_SIZE:
		if (cfgval_size(v, &u, reason, rlen) < 0)
			return -1;
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
		if (k->type == CT_NAME && !config_name_ok(v)) {
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
			if (!config_name_ok(items[j])) {
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
static int config_apply(struct config_ctx *ctx, const struct cfg_section *sec,
                        const struct config_key *keys, void *base)
{
	char reason[512], where[300];

	for (const struct cfg_entry *e = sec->entries; e; e = e->next) {
		const struct config_key *k = keys;
		while (k->name && strcmp(k->name, e->key) != 0)
			k++;
		if (!k->name) {
			config_error(ctx, e->file, e->line, "unknown key '%s' in %s", e->key,
			             config_secname(sec, where, sizeof(where)));
			return -1;
		}
		if (config_parse_value(ctx->cfg, k, e, base, reason, sizeof(reason)) < 0) {
			config_error(ctx, e->file, e->line, "bad value for '%s': %s", e->key,
			             reason);
			return -1;
		}
	}
	return 0;
}

static int config_build_server(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	struct server_settings *s = &cfg->server;
	const struct cfg_section *sec = config_find_section(cfg, "server", NULL);
	const char *env = getenv("MODHOST_MODULE_PATH");
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	s->workers = n < 1 ? 1 : n > 512 ? 512 : (int)n;
	s->shutdown_timeout_ms = 30 * 1000;
	s->max_connections = 10000;
	if (sec && config_apply(ctx, sec, config_server_keys, s) < 0)
		return -1;
	if (!s->module_path) {
		s->module_path = strdup(env && *env ? env : MH_MODULE_DIR);
		if (!s->module_path)
			return config_oom(ctx);
	}
	return 0;
}

static int config_build_log(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const struct cfg_section *sec = config_find_section(cfg, "log", NULL);

	cfg->log.level = MH_LOG_INFO;
	cfg->log.format = LOG_FORMAT_TEXT;
	return sec ? config_apply(ctx, sec, config_log_keys, &cfg->log) : 0;
}

/* Check that the module named by listener l's key (at its entry's line) is
 * configured. */
static int config_check_ref(struct config_ctx *ctx, const struct cfg_section *sec, const char *key,
                            const char *module)
{
	const struct cfg_entry *e;

	if (config_find_section(ctx->cfg, "module", module))
		return 0;
	e = config_entry(sec, key);
	config_error(ctx, e->file, e->line,
	             "listener '%s': %s '%s' is not a configured module (add [module %s])",
	             sec->name, strcmp(key, "observers") == 0 ? "observer" : key, module, module);
	return -1;
}

static int config_build_listener(struct config_ctx *ctx, const struct cfg_section *sec,
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
		return config_oom(ctx);
	if (config_apply(ctx, sec, config_listener_keys, l) < 0)
		return -1;
	for (int i = 0; required[i]; i++) {
		if (!config_entry(sec, required[i])) {
			config_error(ctx, sec->file, sec->line, "listener '%s' needs key '%s'",
			             sec->name, required[i]);
			return -1;
		}
	}
	if (l->output_low_water >= l->output_high_water) {
		lo = config_entry(sec, "output_low_water");
		if (!lo)
			lo = config_entry(sec, "output_high_water");
		config_error(ctx, lo->file, lo->line,
		             "bad value for '%s': output_low_water (%llu) must be below "
		             "output_high_water (%llu)",
		             lo->key, (unsigned long long)l->output_low_water,
		             (unsigned long long)l->output_high_water);
		return -1;
	}
	if (!l->handler && !config_entry(sec, "routes")) {
		config_error(ctx, sec->file, sec->line, "listener '%s' needs key 'handler' or 'routes'",
		             sec->name);
		return -1;
	}
	if (!l->routes && !(l->routes = calloc(1, sizeof(char *))))
		return config_oom(ctx);
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

static int config_build_module(struct config_ctx *ctx, const struct cfg_section *sec,
                               struct module_settings *m)
{
	const struct cfg_entry *e = config_entry(sec, "file");
	char reason[512];

	m->file = sec->file;
	m->line = sec->line;
	m->section = sec;
	if (!(m->name = strdup(sec->name)))
		return config_oom(ctx);
	if (e) {
		if (cfgval_path(e->value, ctx->cfg->base_dir, &m->path, reason, sizeof(reason)) <
		    0) {
			config_error(ctx, e->file, e->line, "bad value for 'file': %s", reason);
			return -1;
		}
	} else if (asprintf(&m->path, "%s/%s.so", ctx->cfg->server.module_path, sec->name) < 0) {
		m->path = NULL;
		return config_oom(ctx);
	}
	return 0;
}

static int config_build(struct config_ctx *ctx)
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
		return config_oom(ctx);
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
	struct config_ctx ctx = {.err = err, .errlen = errlen};
	struct config *cfg = calloc(1, sizeof(*cfg));
	char *given_dir = NULL, *slash;

	*out = NULL;
	if (!cfg) {
		snprintf(err, errlen, "%s: out of memory", main_path);
		return -1;
	}
	ctx.cfg = cfg;
	ctx.tail = &cfg->sections;
	if (main_path[0] == '/') {
		cfg->main_file = strdup(main_path);
	} else {
		char *cwd = getcwd(NULL, 0);
		const char *rel = main_path;
		while (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		cfg->main_file = cwd ? config_join(cwd, rel) : NULL;
		free(cwd);
	}
	given_dir = strdup(main_path);
	if (!cfg->main_file || !given_dir)
		goto oom;
	slash = strrchr(given_dir, '/');
	if (slash)
		slash[slash == given_dir] = '\0'; /* keep "/" for files in the root */
	else
		given_dir[0] = '\0';
	cfg->base_dir = strdup(cfg->main_file);
	if (!cfg->base_dir)
		goto oom;
	slash = strrchr(cfg->base_dir, '/');
	slash[slash == cfg->base_dir] = '\0';

	if (config_read_file(&ctx, main_path, main_path, 1) < 0 ||
	    config_read_includes(&ctx, given_dir) < 0 || config_build(&ctx) < 0)
		goto fail;
	free(given_dir);
	*out = cfg;
	return 0;
oom:
	config_oom(&ctx);
fail:
	free(given_dir);
	config_free(cfg);
	return -1;
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
	struct cfg_section *s, *snext;
	struct cfg_entry *e, *enext;

	if (!cfg)
		return;
	for (s = cfg->sections; s; s = snext) {
		snext = s->next;
		for (e = s->entries; e; e = enext) {
			enext = e->next;
			free(e->key);
			free(e->value);
			free(e);
		}
		free(s->kind);
		free(s->name);
		free(s);
	}
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
	for (size_t i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	free(cfg->main_file);
	free(cfg->base_dir);
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
