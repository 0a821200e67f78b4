/* tests/unit/cfgload.c — config_load helpers shared by check_config and
 * check_modconf. */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgload.h"

/* Replace {F} with file and {D} with dir in tmpl. */
char *cfgload_expand(const char *tmpl, const char *file, const char *dir)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (const char *p = tmpl; *p; p++) {
		if (strncmp(p, "{F}", 3) == 0) {
			fputs(file, f);
			p += 2;
		} else if (strncmp(p, "{D}", 3) == 0) {
			fputs(dir, f);
			p += 2;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	return out;
}

/* config_load(path) must fail with exactly msg. */
void cfgload_expect_error(const char *path, const char *msg)
{
	struct config *cfg = (struct config *)1;
	char err[1024] = "";

	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, msg);
}

struct config *cfgload_ok(const char *path)
{
	struct config *cfg = NULL;
	char err[1024] = "";

	if (config_load(path, &cfg, err, sizeof(err)) != 0)
		ck_abort_msg("config_load(%s) failed: %s", path, err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}
