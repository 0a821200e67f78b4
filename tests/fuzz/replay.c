/* tests/fuzz/replay.c — runs a fuzz target's corpus without libFuzzer, so
 * that every `make check` (any compiler, and the sanitizer build) replays
 * the committed seeds and regression inputs through the same code the
 * fuzzer runs.
 *
 * usage: replay_NAME [FILE_OR_DIR...]
 * Without arguments it replays $MH_SRCDIR/tests/fuzz/corpus/FUZZ_CORPUS.
 * Exit: 0 all inputs ran, 77 (automake's "skipped") when the target cannot
 * run here (its module is not built), 1 when the corpus cannot be read.  A
 * crash or a sanitizer report ends the process, which fails the test. */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_CORPUS
#error "define FUZZ_CORPUS, the folder name under tests/fuzz/corpus"
#endif

/* Read a whole file into a new buffer (*len bytes; free it).  NULL on error. */
static uint8_t *replay_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static int replay_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay one file, or every regular file in a folder (sorted, so a run is
 * repeatable).  Adds to *count; returns 0, or -1 after saying what failed. */
static int replay_path(const char *path, unsigned *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		size_t len = 0;
		uint8_t *data = replay_read(path, &len);
		if (!data) {
			fprintf(stderr, "replay: cannot read %s\n", path);
			return -1;
		}
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		(*count)++;
		return 0;
	}
	DIR *dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **p = realloc(names, cap * sizeof(*names));
			if (!p) {
				rc = -1;
				break;
			}
			names = p;
		}
		if (asprintf(&names[n], "%s/%s", path, e->d_name) < 0) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), replay_name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			rc = replay_path(names[i], count);
		free(names[i]);
	}
	free(names);
	if (rc < 0)
		fprintf(stderr, "replay: reading %s failed\n", path);
	return rc;
}

int main(int argc, char **argv)
{
	const char *why = fuzz_unavailable(argv[0]);
	if (why) {
		printf("replay %s: skipped: %s\n", FUZZ_CORPUS, why);
		return 77;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	unsigned count = 0;
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay_path(argv[i], &count) < 0)
				return 1;
	} else {
		const char *src = getenv("MH_SRCDIR");
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", src && *src ? src : ".",
		         FUZZ_CORPUS);
		if (replay_path(dir, &count) < 0)
			return 1;
		if (count == 0) {
			fprintf(stderr, "replay: %s holds no inputs\n", dir);
			return 1;
		}
	}
	printf("replay %s: %u inputs ran\n", FUZZ_CORPUS, count);
	return 0;
}
