/* host/cfgfile.h — reading the configuration files: modhost.ini and every
 * *.ini of its include folder, through inih, into config.sections (each
 * section and entry with its file:line), plus the lookups and the
 * "file:line: message" error of one load that config.c's typed settings
 * share.  Internal to config.c; the rest of the host uses config.h. */
#ifndef MH_CFGFILE_H
#define MH_CFGFILE_H

#include <stddef.h>

#include "config.h"

/* The state of one config_load, through both stages. */
struct cfgfile_ctx {
	struct config *cfg;
	struct cfg_section **tail; /* where the next section goes */
	char *err;
	size_t errlen;
	int failed;
};

/* Read ctx->cfg's files: set main_file (absolute) and base_dir, read
 * main_path, then every *.ini of the folder named by `[server] include`
 * (default: conf.d beside the main file) in strcmp order, into
 * cfg->sections and cfg->files.  Returns 0, or -1 with the first error
 * recorded in ctx. */
int cfgfile_read(struct cfgfile_ctx *ctx, const char *main_path);
/* Free what cfgfile_read put in cfg: sections, entries, file names,
 * main_file, base_dir (not cfg itself). */
void cfgfile_free(struct config *cfg);

/* Record the first error of the load as "file:line: message" (or
 * "file: message" when line is 0); later errors are ignored. */
void cfgfile_error(struct cfgfile_ctx *ctx, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Record "config: out of memory"; returns -1. */
int cfgfile_oom(struct cfgfile_ctx *ctx);

/* Whether s is a section or module name: letters, digits, '_', '.', '-'. */
int cfgfile_name_ok(const char *s);
/* "[kind]" or "[kind name]" for messages, written into buf; returns buf. */
const char *cfgfile_secname(const struct cfg_section *s, char *buf, size_t len);
/* The section [kind name] (name NULL: the unnamed [kind]), or NULL. */
struct cfg_section *cfgfile_find_section(const struct config *cfg, const char *kind,
                                         const char *name);
/* The entry key of section s, or NULL. */
const struct cfg_entry *cfgfile_entry(const struct cfg_section *s, const char *key);

#endif
