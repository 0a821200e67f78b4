/* tests/unit/scratch.c — scratch folders and files for the unit suites;
 * see scratch.h. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scratch.h"

char *scratch_mkdtemp(const char *prefix)
{
	const char *build = getenv("MH_BUILDDIR"), *tmp = getenv("TMPDIR");
	char *base = NULL, *path = NULL;
	if (build && *build) {
		/* Its parent first: a fresh build tree has no tests/ folder yet. */
		if (asprintf(&base, "%s/tests", build) < 0)
			return NULL;
		mkdir(base, 0755);
		free(base);
		if (asprintf(&base, "%s/tests/tmp", build) < 0)
			return NULL;
		mkdir(base, 0755);
	} else if (!(base = strdup(tmp && *tmp ? tmp : "/tmp"))) {
		return NULL;
	}
	int n = asprintf(&path, "%s/%s-XXXXXX", base, prefix);
	free(base);
	if (n < 0)
		return NULL;
	if (!mkdtemp(path)) {
		int e = errno;
		free(path);
		errno = e;
		return NULL;
	}
	return path;
}

static int scratch_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void scratch_remove(const char *path)
{
	if (path)
		nftw(path, scratch_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *scratch_write(const char *dir, const char *rel, const char *text)
{
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/%s", dir, rel), 0);
	for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static char *scratch_case_root;

void scratch_case_setup(void)
{
	scratch_case_root = scratch_mkdtemp("mhcase");
	if (!scratch_case_root) {
		fprintf(stderr, "scratch: cannot make a folder: %s\n", strerror(errno));
		abort();
	}
}

void scratch_case_teardown(void)
{
	scratch_remove(scratch_case_root);
	free(scratch_case_root);
	scratch_case_root = NULL;
}

char *scratch_case_dir(void)
{
	char *d;
	ck_assert_ptr_nonnull(scratch_case_root);
	ck_assert_int_ge(asprintf(&d, "%s/t.XXXXXX", scratch_case_root), 0);
	ck_assert_msg(mkdtemp(d) != NULL, "mkdtemp %s: %s", d, strerror(errno));
	return d;
}
