/* host/route.c — [route NAME] sections: parsing and checking.  Matching a
 * request against them is the pipeline's (pipeline.c). */
#include "build-config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgval.h"
#include "config.h"
#include "route.h"

static void upcase_all(char **items)
{
	for (size_t i = 0; items && items[i]; i++)
		for (char *p = items[i]; *p; p++)
			*p = (char)toupper((unsigned char)*p);
}

static int module_configured(const struct config *cfg, const char *name)
{
	return config_module(cfg, name) != NULL;
}

/* Parse one [route NAME] section into r. */
static int route_build(const struct config *cfg, const struct cfg_section *sec,
                       struct route_settings *r, char *err, size_t errlen)
{
	char reason[256];
	r->name = strdup(sec->name);
	r->file = sec->file;
	r->line = sec->line;
	if (!r->name)
		goto oom;
	for (const struct cfg_entry *e = sec->entries; e; e = e->next) {
		int rc = 0;
		if (strcmp(e->key, "match_method") == 0) {
			cfgval_list_free(r->methods);
			rc = cfgval_list(e->value, &r->methods, &r->n_methods, reason, sizeof(reason));
			upcase_all(r->methods);
		} else if (strcmp(e->key, "match_command") == 0) {
			cfgval_list_free(r->commands);
			rc = cfgval_list(e->value, &r->commands, &r->n_commands, reason,
			                 sizeof(reason));
			upcase_all(r->commands);
		} else if (strcmp(e->key, "match_path") == 0) {
			if (e->value[0] != '/') {
				snprintf(reason, sizeof(reason), "a path prefix starts with '/'");
				rc = -1;
			} else {
				free(r->path_prefix);
				if (!(r->path_prefix = strdup(e->value)))
					goto oom;
			}
		} else if (strcmp(e->key, "handler") == 0 || strcmp(e->key, "policy") == 0) {
			char **slot = e->key[0] == 'h' ? &r->handler : &r->policy;
			free(*slot);
			if (!(*slot = strdup(e->value)))
				goto oom;
			if (!module_configured(cfg, e->value)) {
				snprintf(err, errlen,
				         "%s:%d: route '%s': %s '%s' is not a configured module (add "
				         "[module %s])",
				         e->file, e->line, r->name, e->key, e->value, e->value);
				return -1;
			}
		} else if (strcmp(e->key, "auth") == 0) {
			cfgval_list_free(r->auth);
			rc = cfgval_list(e->value, &r->auth, &r->n_auth, reason, sizeof(reason));
			for (size_t i = 0; rc == 0 && i < r->n_auth; i++) {
				if (!module_configured(cfg, r->auth[i])) {
					snprintf(err, errlen,
					         "%s:%d: route '%s': auth '%s' is not a configured "
					         "module (add [module %s])",
					         e->file, e->line, r->name, r->auth[i], r->auth[i]);
					return -1;
				}
			}
		} else {
			snprintf(err, errlen,
			         "%s:%d: unknown key '%s' in [route %s] (known: match_method, "
			         "match_path, match_command, handler, auth, policy)",
			         e->file, e->line, e->key, r->name);
			return -1;
		}
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: bad value for '%s': %s", e->file, e->line,
			         e->key, reason);
			return -1;
		}
	}
	if (!r->auth && !(r->auth = calloc(1, sizeof(char *))))
		goto oom;
	if (!r->handler) {
		snprintf(err, errlen, "%s:%d: route '%s' needs key 'handler'", sec->file, sec->line,
		         r->name);
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

const struct route_settings *route_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_routes; i++)
		if (strcmp(cfg->routes[i].name, name) == 0)
			return &cfg->routes[i];
	return NULL;
}

int route_build_all(struct config *cfg, char *err, size_t errlen)
{
	size_t n = 0;
	for (const struct cfg_section *s = cfg->sections; s; s = s->next)
		n += strcmp(s->kind, "route") == 0;
	cfg->routes = calloc(n + 1, sizeof(*cfg->routes));
	if (!cfg->routes) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (const struct cfg_section *s = cfg->sections; s; s = s->next)
		if (strcmp(s->kind, "route") == 0 &&
		    route_build(cfg, s, &cfg->routes[cfg->n_routes++], err, errlen) < 0)
			return -1;
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_settings *ls = &cfg->listeners[i];
		for (size_t k = 0; k < ls->n_routes; k++) {
			if (!route_find(cfg, ls->routes[k])) {
				snprintf(err, errlen,
				         "%s:%d: listener '%s': route '%s' is not configured (add "
				         "[route %s])",
				         ls->file, ls->line, ls->name, ls->routes[k], ls->routes[k]);
				return -1;
			}
		}
	}
	return 0;
}

void route_free_all(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_routes; i++) {
		struct route_settings *r = &cfg->routes[i];
		free(r->name);
		cfgval_list_free(r->methods);
		free(r->path_prefix);
		cfgval_list_free(r->commands);
		free(r->handler);
		cfgval_list_free(r->auth);
		free(r->policy);
	}
	free(cfg->routes);
	cfg->routes = NULL;
	cfg->n_routes = 0;
}
