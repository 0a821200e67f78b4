/* tests/unit/cfgload.h — config_load helpers for the configuration suites
 * (check_config, check_modconf). */
#ifndef MH_TEST_CFGLOAD_H
#define MH_TEST_CFGLOAD_H

#include "config.h"

/* tmpl with {F} replaced by file and {D} by dir, malloc'ed. */
char *cfgload_expand(const char *tmpl, const char *file, const char *dir);
/* config_load(path) must fail with exactly msg. */
void cfgload_expect_error(const char *path, const char *msg);
/* config_load(path) must succeed; returns the configuration. */
struct config *cfgload_ok(const char *path);

#endif
