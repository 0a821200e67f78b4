/* host/describe.c — `modhostd -M FILE.so` (and so `modhost-module info`):
 * open a module with the loader's checks and print its descriptor, without
 * calling any of its hooks. */
#include "build-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "describe.h"
#include "loader.h"

/* The name used in refusals before the descriptor is known: the file's
 * base name without ".so", as a [module NAME] section would call it. */
static void describe_guess_name(const char *path, char *name, size_t len)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 3 && strcmp(base + n - 3, ".so") == 0)
		n -= 3;
	if (n >= len)
		n = len - 1;
	memcpy(name, base, n);
	name[n] = '\0';
}

static const char *describe_text(const char *s)
{
	return s && s[0] ? s : "-";
}

/* The config type's name, or NULL for a type this host does not know. */
static const char *describe_type(int type)
{
	switch (type) {
	case MH_CONFIG_STRING: return "string";
	case MH_CONFIG_INT: return "int";
	case MH_CONFIG_BOOL: return "bool";
	case MH_CONFIG_SIZE: return "size";
	case MH_CONFIG_DURATION: return "duration";
	case MH_CONFIG_LIST: return "list";
	case MH_CONFIG_PATH: return "path";
	default: return NULL;
	}
}

static void describe_roles(const mh_module_desc *d, FILE *out)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} roles[] = {
	    {MH_ROLE_CODEC, "codec"},       {MH_ROLE_AUTH, "auth"},
	    {MH_ROLE_POLICY, "policy"},     {MH_ROLE_HANDLER, "handler"},
	    {MH_ROLE_OBSERVER, "observer"},
	};
	uint32_t left = d->roles;
	const char *sep = "";
	fputs("roles:       ", out);
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (d->roles & roles[i].bit) {
			fprintf(out, "%s%s", sep, roles[i].name);
			sep = ", ";
			left &= ~roles[i].bit;
		}
	if (left)
		fprintf(out, "%sunknown 0x%x", sep, left);
	else if (!d->roles)
		fputs("none", out);
	if (d->codec)
		fprintf(out, " (codec state: %u bytes per connection)", d->codec->conn_state_size);
	fputc('\n', out);
}

static void describe_hooks(const mh_module_desc *d, FILE *out)
{
	const struct {
		int set;
		const char *name;
	} hooks[] = {
	    {d->load != NULL, "load"},
	    {d->reconfigure != NULL, "reconfigure"},
	    {d->worker_init != NULL, "worker_init"},
	    {d->worker_fini != NULL, "worker_fini"},
	    {d->unload != NULL, "unload"},
	};
	const char *sep = "";
	fputs("hooks:       ", out);
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (hooks[i].set) {
			fprintf(out, "%s%s", sep, hooks[i].name);
			sep = ", ";
		}
	fputs(sep[0] ? "\n" : "none\n", out);
}

static void describe_requires(const mh_module_desc *d, FILE *out)
{
	const char *sep = "";
	fputs("requires:    ", out);
	for (const char *const *r = d->requires; r && *r; r++) {
		fprintf(out, "%s%s", sep, *r);
		sep = ", ";
	}
	fputs(sep[0] ? "\n" : "none\n", out);
}

static void describe_keys(const mh_module_desc *d, FILE *out)
{
	size_t width = 0;
	for (const mh_config_key *k = d->config_keys; k && k->name; k++)
		if (strlen(k->name) > width)
			width = strlen(k->name);
	if (!d->config_keys || !d->config_keys[0].name) {
		fputs("config keys: none\n", out);
		return;
	}
	fputs("config keys:\n", out);
	for (const mh_config_key *k = d->config_keys; k->name; k++) {
		const char *type = describe_type(k->type);
		fprintf(out, "  %-*s  ", (int)width, k->name);
		if (type)
			fprintf(out, "%-8s  ", type);
		else
			fprintf(out, "type %-3d  ", k->type);
		if (k->def)
			fprintf(out, "default \"%s\"\n", k->def);
		else
			fputs("required\n", out);
		if (k->help && k->help[0])
			fprintf(out, "  %*s  %s\n", (int)width, "", k->help);
	}
}

int describe_module(const char *path, FILE *out, FILE *err_out)
{
	char name[256];
	char err[1024];
	struct module_lib *lib;

	describe_guess_name(path, name, sizeof(name));
	if (loader_open(name, path, &lib, err, sizeof(err)) < 0) {
		fprintf(err_out, "%s\n", err);
		return 1;
	}
	const mh_module_desc *d = &lib->desc;
	fprintf(out, "name:        %s\n", d->name);
	fprintf(out, "file:        %s\n", path);
	fprintf(out, "version:     %s\n", describe_text(d->version));
	fprintf(out, "license:     %s\n", describe_text(d->license));
	fprintf(out, "description: %s\n", describe_text(d->description));
	fprintf(out, "abi:         needs %u.%u, this host provides %d.%d\n", d->abi_major,
	        d->abi_minor, MH_ABI_MAJOR, MH_ABI_MINOR);
	describe_roles(d, out);
	describe_requires(d, out);
	describe_hooks(d, out);
	describe_keys(d, out);
	return fflush(out) == 0 ? 0 : 1;
}
