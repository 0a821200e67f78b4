/* host/generation.c — building and retiring generations. */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "generation.h"
#include "listener.h"
#include "loader.h"
#include "modhost.h"
#include "peerlimit.h"
#include "route.h"
#include "tlsconf.h"

static const char *role_name(uint32_t role)
{
	switch (role) {
	case MH_ROLE_CODEC: return "codec";
	case MH_ROLE_AUTH: return "auth module";
	case MH_ROLE_POLICY: return "policy module";
	case MH_ROLE_HANDLER: return "handler";
	default: return "observer";
	}
}

static int check_role(const struct generation *gen, const struct listener_settings *ls,
                      const char *name, uint32_t role, char *err, size_t errlen)
{
	struct mh_module *m = modules_find(gen->mods, name);
	if (m && (m->desc->roles & role))
		return 0;
	snprintf(err, errlen, "%s:%d: listener '%s': module '%s' is not a %s", ls->file, ls->line,
	         ls->name, name, role_name(role));
	return -1;
}

static int check_chain(const struct generation *gen, const struct listener_settings *ls,
                       const char *handler, char *const *auth, size_t n_auth, const char *policy,
                       char *err, size_t errlen)
{
	if ((handler && check_role(gen, ls, handler, MH_ROLE_HANDLER, err, errlen) < 0) ||
	    (policy && check_role(gen, ls, policy, MH_ROLE_POLICY, err, errlen) < 0))
		return -1;
	for (size_t k = 0; k < n_auth; k++)
		if (check_role(gen, ls, auth[k], MH_ROLE_AUTH, err, errlen) < 0)
			return -1;
	return 0;
}

/* Every module a listener (or one of its routes) names must play the role
 * it is named for. */
static int check_chains(const struct generation *gen, char *err, size_t errlen)
{
	for (size_t i = 0; i < gen->cfg->n_listeners; i++) {
		const struct listener_settings *ls = &gen->cfg->listeners[i];
		if (check_role(gen, ls, ls->codec, MH_ROLE_CODEC, err, errlen) < 0 ||
		    check_chain(gen, ls, ls->handler, ls->auth, ls->n_auth, ls->policy, err,
		                errlen) < 0)
			return -1;
		for (size_t k = 0; k < ls->n_routes; k++) {
			const struct route_settings *rs = route_find(gen->cfg, ls->routes[k]);
			if (check_chain(gen, ls, rs->handler, rs->auth, rs->n_auth, rs->policy, err,
			                errlen) < 0)
				return -1;
		}
		for (size_t k = 0; k < ls->n_observers; k++)
			if (check_role(gen, ls, ls->observers[k], MH_ROLE_OBSERVER, err, errlen) < 0)
				return -1;
	}
	return 0;
}

int generation_build(const char *main_path, const struct generation *previous, unsigned id,
                     int bind_sockets, struct generation **out, char *err, size_t errlen)
{
	struct generation *gen = calloc(1, sizeof(*gen));
	if (!gen) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gen->id = id;
	if (config_load(main_path, &gen->cfg, err, errlen) < 0)
		goto fail;
	if (modules_load(gen->cfg, previous ? previous->mods : NULL, &gen->mods, err, errlen) < 0)
		goto fail;
	if (check_chains(gen, err, errlen) < 0)
		goto fail;
	/* Certificates, keys, CRLs and OCSP files are read again on every
	 * build: a reload picks up replaced files, and a bad one fails the
	 * build (modhostd -t reports it; on reload the old generation serves). */
	if (tlsconf_build(gen, err, errlen) < 0)
		goto fail;
	if (bind_sockets && peerlimit_prepare(gen->cfg, err, errlen) < 0)
		goto fail;
	if (bind_sockets &&
	    listener_open_all(gen->cfg, previous ? previous->listeners : NULL,
	                      previous ? previous->cfg : NULL, &gen->listeners, err, errlen) < 0)
		goto fail;
	*out = gen;
	return 0;
fail:
	generation_free(gen);
	return -1;
}

void generation_free(struct generation *gen)
{
	if (!gen)
		return;
	if (gen->listeners)
		listener_release_all(gen->listeners);
	if (gen->cfg)
		tlsconf_free(gen);
	if (gen->mods)
		modules_free(gen->mods);
	if (gen->cfg)
		config_free(gen->cfg);
	free(gen);
}
