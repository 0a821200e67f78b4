/* host/cfgfile.c — reading modhost.ini and every conf.d/NAME.ini into
 * sections (stage 1 of doc/internals/config.md): inih reads each file
 * through our own line source, so that every section and entry keeps its
 * file:line; section headers, duplicate sections and keys, `include` and
 * ${VAR} expansion are checked here.  The typed settings built from the
 * sections are config.c's.  The first error stops the load as
 * "file:line: what is wrong". */
#include "build-config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgfile.h"
#include "cfgval.h"
#include "config.h"

/* inih's line buffer: lines of up to CFGFILE_MAX_LINE - 3 characters. */
#define CFGFILE_MAX_LINE 8192

/* The state of reading one file. */
struct cfgfile_state {
	struct cfgfile_ctx *ctx;
	const char *name; /* as shown in messages; lives in cfg->files */
	int is_main;
	FILE *fp;
	int line;
	char *buf;
	size_t bufcap;
	struct cfg_section *cur;
	struct cfg_entry **etail;
};

/* Record the first error as "file:line: message" (or "file: message" when
 * line is 0); later errors are ignored. */
void cfgfile_error(struct cfgfile_ctx *ctx, const char *file, int line, const char *fmt, ...)
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

int cfgfile_oom(struct cfgfile_ctx *ctx)
{
	cfgfile_error(ctx, "config", 0, "out of memory");
	return -1;
}

/* "dir/name", or name alone when dir is empty. */
static char *cfgfile_join(const char *dir, const char *name)
{
	char *p;

	if (!*dir || name[0] == '/')
		return strdup(name);
	if (asprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return p;
}

int cfgfile_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return 0;
	return 1;
}

/* "[kind]" or "[kind name]" for messages. */
const char *cfgfile_secname(const struct cfg_section *s, char *buf, size_t len)
{
	if (s->name)
		snprintf(buf, len, "[%s %s]", s->kind, s->name);
	else
		snprintf(buf, len, "[%s]", s->kind);
	return buf;
}

struct cfg_section *cfgfile_find_section(const struct config *cfg, const char *kind,
                                         const char *name)
{
	for (struct cfg_section *s = cfg->sections; s; s = s->next)
		if (strcmp(s->kind, kind) == 0 &&
		    (name ? s->name && strcmp(s->name, name) == 0 : !s->name))
			return s;
	return NULL;
}

const struct cfg_entry *cfgfile_entry(const struct cfg_section *s, const char *key)
{
	for (const struct cfg_entry *e = s->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* ---- stage 1: reading files ---------------------------------------------- */

/* Start a section from a header line t (which begins with '[').  Returns 0,
 * or -1 after recording the error. */
static int cfgfile_section_start(struct cfgfile_state *f, char *t)
{
	struct cfgfile_ctx *ctx = f->ctx;
	char *close = strchr(t, ']'), *p, *kind, *name = NULL;
	struct cfg_section *s, *dup;
	char where[300];

	if (!close) {
		cfgfile_error(ctx, f->name, f->line, "section header without ']'");
		return -1;
	}
	for (p = close + 1; isspace((unsigned char)*p); p++)
		;
	if (*p && *p != ';' && *p != '#') {
		p[strcspn(p, "\r\n")] = '\0';
		cfgfile_error(ctx, f->name, f->line, "unexpected text '%s' after section header",
		              p);
		return -1;
	}
	*close = '\0';
	for (kind = t + 1; isspace((unsigned char)*kind); kind++)
		;
	for (p = close; p > kind && isspace((unsigned char)p[-1]); p--)
		*(p - 1) = '\0';
	if (!*kind) {
		cfgfile_error(ctx, f->name, f->line, "empty section header []");
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
		cfgfile_error(ctx, f->name, f->line, "unknown section [%s%s%s]", kind,
		              name ? " " : "", name ? name : "");
		return -1;
	}
	if (named && !name) {
		cfgfile_error(ctx, f->name, f->line, "section [%s] needs a name: [%s NAME]", kind,
		              kind);
		return -1;
	}
	if (plain && name) {
		cfgfile_error(ctx, f->name, f->line, "section [%s] takes no name", kind);
		return -1;
	}
	if (name && !cfgfile_name_ok(name)) {
		cfgfile_error(ctx, f->name, f->line,
		              "bad name '%s' in [%s %s] (use letters, digits, '_', '.', '-')", name,
		              kind, name);
		return -1;
	}
	dup = cfgfile_find_section(ctx->cfg, kind, name);
	if (dup) {
		cfgfile_error(ctx, f->name, f->line, "duplicate section %s (first at %s:%d)",
		              cfgfile_secname(dup, where, sizeof(where)), dup->file, dup->line);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->kind = strdup(kind)) || (name && !(s->name = strdup(name)))) {
		if (s)
			free(s->kind);
		free(s);
		return cfgfile_oom(ctx);
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
static char *cfgfile_reader(char *str, int num, void *stream)
{
	struct cfgfile_state *f = stream;
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
		cfgfile_error(f->ctx, f->name, f->line, "NUL byte in line");
		return NULL;
	}
	if (strcspn(s, "\n") > (size_t)num - 3) {
		cfgfile_error(f->ctx, f->name, f->line, "line too long (more than %d characters)",
		              num - 3);
		return NULL;
	}
	for (t = s; isspace((unsigned char)*t); t++)
		;
	if (*t == '[') {
		if (cfgfile_section_start(f, t) < 0)
			return NULL;
		strcpy(str, "\n");
		return str;
	}
	memcpy(str, s, (size_t)n + 1);
	return str;
}

/* inih's callback for "name = value" at line f->line. */
static int cfgfile_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfgfile_state *f = user;
	struct cfgfile_ctx *ctx = f->ctx;
	const struct cfg_entry *prev;
	struct cfg_entry *e;
	char reason[512], where[300];
	char *v;

	(void)section;
	if (!f->cur) {
		cfgfile_error(ctx, f->name, f->line,
		              "key '%s' outside any section (put it under a [section] header)",
		              name);
		return 0;
	}
	if (!*name) {
		cfgfile_error(ctx, f->name, f->line, "missing key name before '='");
		return 0;
	}
	prev = cfgfile_entry(f->cur, name);
	if (prev) {
		cfgfile_error(ctx, f->name, f->line, "duplicate key '%s' in %s (first at %s:%d)",
		              name, cfgfile_secname(f->cur, where, sizeof(where)), prev->file,
		              prev->line);
		return 0;
	}
	if (!f->is_main && strcmp(f->cur->kind, "server") == 0 && strcmp(name, "include") == 0) {
		cfgfile_error(ctx, f->name, f->line, "'include' is only read from the main file");
		return 0;
	}
	if (cfgval_expand_env(value, &v, reason, sizeof(reason)) < 0) {
		cfgfile_error(ctx, f->name, f->line, "%s", reason);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(name))) {
		free(e);
		free(v);
		cfgfile_oom(ctx);
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
static const char *cfgfile_add_file(struct config *cfg, const char *name)
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
static int cfgfile_read_file(struct cfgfile_ctx *ctx, const char *path, const char *name,
                             int is_main)
{
	struct cfgfile_state f = {.ctx = ctx, .is_main = is_main};
	int ret;

	f.name = cfgfile_add_file(ctx->cfg, name);
	if (!f.name)
		return cfgfile_oom(ctx);
	f.fp = fopen(path, "re");
	if (!f.fp) {
		cfgfile_error(ctx, f.name, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	/* Debian's inih reads these at run time: long lines, no continuation
	 * lines (an indented key is just a key), stop at the first error. */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = CFGFILE_MAX_LINE;
	ini_max_line = CFGFILE_MAX_LINE;
	ini_allow_multiline = false;
	ini_allow_no_value = false;
	ini_stop_on_first_error = true;
	ret = ini_parse_stream(cfgfile_reader, &f, cfgfile_handler, &f);
	if (!ctx->failed && ferror(f.fp))
		cfgfile_error(ctx, f.name, 0, "read error: %s", strerror(errno));
	if (!ctx->failed && ret > 0)
		cfgfile_error(ctx, f.name, ret,
		              "syntax error: expected 'key = value', '[section]' or a comment");
	if (!ctx->failed && ret < 0)
		cfgfile_oom(ctx);
	free(f.buf);
	fclose(f.fp);
	return ctx->failed ? -1 : 0;
}

static int cfgfile_ini_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".ini") == 0;
}

static int cfgfile_strcmp_sort(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Read every *.ini of the include folder in strcmp order. */
static int cfgfile_read_includes(struct cfgfile_ctx *ctx, const char *given_dir)
{
	struct config *cfg = ctx->cfg;
	struct cfg_section *server = cfgfile_find_section(cfg, "server", NULL);
	const struct cfg_entry *inc = server ? cfgfile_entry(server, "include") : NULL;
	const char *rel = inc ? inc->value : "conf.d";
	char *abs = NULL, *shown = NULL, reason[512];
	struct dirent **list = NULL;
	struct stat mst;
	int n, rc = 0;

	if (cfgval_path(rel, cfg->base_dir, &abs, reason, sizeof(reason)) < 0) {
		cfgfile_error(ctx, inc->file, inc->line, "bad value for 'include': %s", reason);
		return -1;
	}
	shown = cfgfile_join(given_dir, rel);
	if (!shown) {
		free(abs);
		return cfgfile_oom(ctx);
	}
	n = scandir(abs, &list, cfgfile_ini_filter, cfgfile_strcmp_sort);
	if (n < 0) {
		if (inc)
			cfgfile_error(ctx, inc->file, inc->line,
			              "bad value for 'include': cannot read folder %s: %s", shown,
			              strerror(errno));
		else if (errno != ENOENT)
			cfgfile_error(ctx, shown, 0, "cannot read folder: %s", strerror(errno));
		free(abs);
		free(shown);
		return ctx->failed ? -1 : 0;
	}
	if (stat(cfg->main_file, &mst) < 0)
		memset(&mst, 0, sizeof(mst));
	for (int i = 0; i < n; i++) {
		char *path = cfgfile_join(abs, list[i]->d_name);
		char *name = cfgfile_join(shown, list[i]->d_name);
		struct stat st;

		if (!path || !name)
			rc = cfgfile_oom(ctx);
		else if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		         !(st.st_dev == mst.st_dev && st.st_ino == mst.st_ino))
			rc = cfgfile_read_file(ctx, path, name, 0);
		free(path);
		free(name);
		free(list[i]);
	}
	free(list);
	free(abs);
	free(shown);
	return rc;
}

/* ---- all the files ------------------------------------------------------------- */

int cfgfile_read(struct cfgfile_ctx *ctx, const char *main_path)
{
	struct config *cfg = ctx->cfg;
	char *given_dir = NULL, *slash;
	int rc;

	ctx->tail = &cfg->sections;
	if (main_path[0] == '/') {
		cfg->main_file = strdup(main_path);
	} else {
		char *cwd = getcwd(NULL, 0);
		const char *rel = main_path;
		while (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		cfg->main_file = cwd ? cfgfile_join(cwd, rel) : NULL;
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

	rc = cfgfile_read_file(ctx, main_path, main_path, 1);
	if (rc == 0)
		rc = cfgfile_read_includes(ctx, given_dir);
	free(given_dir);
	return rc;
oom:
	free(given_dir);
	return cfgfile_oom(ctx);
}

void cfgfile_free(struct config *cfg)
{
	struct cfg_section *s, *snext;
	struct cfg_entry *e, *enext;

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
	for (size_t i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	free(cfg->main_file);
	free(cfg->base_dir);
}
