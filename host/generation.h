/* host/generation.h — one generation: a configuration, the module instances
 * it loaded, and the listening sockets it serves.  The master builds a new
 * one at start and at every reload; workers serve exactly one. */
#ifndef MH_GENERATION_H
#define MH_GENERATION_H

#include <stddef.h>

struct config;
struct module_set;
struct listener_set;
struct tls_listener;

struct generation {
	unsigned id;
	struct config *cfg;
	struct module_set *mods;
	struct listener_set *listeners;
	struct tls_listener **tls; /* per listener, NULL when plain (tlsconf.h) */
};

/* Read and check main_path and everything it names, load the modules
 * (passing previous's instances to reconfigure) and open the listeners
 * (reusing previous's sockets).  bind_sockets = 0 only checks (modhostd -t
 * binds nothing).  Returns 0 and *out, or -1 with the reason in err;
 * nothing of a failed generation stays. */
int generation_build(const char *main_path, const struct generation *previous, unsigned id,
                     int bind_sockets, struct generation **out, char *err, size_t errlen);
/* Unload the instances, release the sockets, free the config. */
void generation_free(struct generation *gen);

#endif
