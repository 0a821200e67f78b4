/* tests/unit/loaderenv.c — see loaderenv.h. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loaderenv.h"
#include "scratch.h"

char lenv_err[1024];
char *lenv_dir;

char *lenv_fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	ck_assert_int_ge(vasprintf(&s, f, ap), 0);
	va_end(ap);
	return s;
}

char *lenv_test_module(const char *name)
{
	const char *dir = getenv("MH_TEST_MODULES");
	ck_assert_msg(dir && *dir, "MH_TEST_MODULES is not set (run through make check)");
	return lenv_fmt("%s/%s.so", dir, name);
}

char *lenv_bundled_module(const char *name)
{
	const char *dir = getenv("MODHOST_MODULE_PATH");
	ck_assert_msg(dir && *dir, "MODHOST_MODULE_PATH is not set (run through make check)");
	return lenv_fmt("%s/%s.so", dir, name);
}

void lenv_make_dir(void)
{
	lenv_dir = scratch_mkdtemp("loader");
	ck_assert_msg(lenv_dir != NULL, "mkdtemp loader-XXXXXX: %s", strerror(errno));
	char *confd = lenv_fmt("%s/conf.d", lenv_dir);
	ck_assert_int_eq(mkdir(confd, 0755), 0);
	free(confd);
	free(scratch_write(lenv_dir, "modhost.ini", "[server]\nworkers = 0\n"));
}

void lenv_remove_dir(void)
{
	scratch_remove(lenv_dir);
	free(lenv_dir);
	lenv_dir = NULL;
}
