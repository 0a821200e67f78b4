/* host/route.h — routes: a listener's ordered list of [route NAME]
 * sections, each matching on what the codec exposes (HTTP method and path
 * prefix, RESP command) and naming its own handler, auth chain and policy.
 * A request no route matches goes to the listener's own handler if it has
 * one, else gets the codec's "not found" error. */
#ifndef MH_ROUTE_H
#define MH_ROUTE_H

#include <stddef.h>

struct config;
struct cfg_section;

struct route_settings {
	char *name;
	const char *file;
	int line;
	char **methods;  /* NULL-terminated, upper case; empty = any */
	size_t n_methods;
	char *path_prefix; /* NULL = any */
	char **commands; /* NULL-terminated, upper case; empty = any */
	size_t n_commands;
	char *handler;   /* module name, required */
	char **auth;     /* NULL-terminated */
	size_t n_auth;
	char *policy;    /* NULL = none */
};

/* Build cfg->routes from its [route NAME] sections and resolve every
 * listener's `routes` list against them.  Returns 0, or -1 with
 * "file:line: message" in err. */
int route_build_all(struct config *cfg, char *err, size_t errlen);
void route_free_all(struct config *cfg);
const struct route_settings *route_find(const struct config *cfg, const char *name);

#endif
