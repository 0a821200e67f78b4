/* host/modconf.h — a module instance's configuration: its [module NAME]
 * section checked against the module's declared key table, defaults applied,
 * values parsed to their types.  Serves the config_* calls of the host
 * table. */
#ifndef MH_MODCONF_H
#define MH_MODCONF_H

#include <stddef.h>
#include <stdint.h>

#include "modhost-t.h"

struct cfg_section;

struct modconf_value {
	char *key;
	int type;   /* enum mh_config_type */
	char *text; /* the value as written (after ${VAR}), or the default */
	int64_t i;  /* MH_CONFIG_INT, MH_CONFIG_BOOL */
	uint64_t u; /* MH_CONFIG_SIZE, MH_CONFIG_DURATION (ms) */
	char **items; /* MH_CONFIG_LIST: NULL-terminated */
	size_t n_items;
};

struct modconf {
	struct modconf_value *values;
	size_t n;
};

/* Keys of [module NAME] the host itself reads; never passed to the module. */
#define MODCONF_HOST_KEYS { "file", NULL }

/* Check sec (may be NULL: all defaults) against keys.  An unknown key, a
 * bad value or a missing required key is an error "file:line: message"
 * naming the module.  Returns 0 and *out (free with modconf_free), or -1. */
int modconf_build(const char *module_name, const struct cfg_section *sec,
                  const mh_config_key *keys, const char *base_dir,
                  struct modconf **out, char *err, size_t errlen);
const struct modconf_value *modconf_get(const struct modconf *mc, const char *key);
void modconf_free(struct modconf *mc);

#endif
