/* tests/fuzz/fuzz_config.c — libFuzzer target for the configuration reader:
 * config_load on a main file and one conf.d file, both written from the
 * input, then config_free.  Everything config_load does runs: inih, value
 * parsing (sizes, durations, lists, ${VAR}), sections, listeners, routes,
 * the conf.d folder and every file:line error.
 *
 * Input layout: the main file's text, optionally followed by a line ";---"
 * and the text of conf.d/50-fuzz.ini (the marker is an INI comment, so
 * seeds stay readable, valid configuration files).
 *
 * The files live in a private folder made at start ($TMPDIR or /tmp) and
 * removed at exit. */
#include "build-config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

#define FUZZ_MARKER "\n;---\n"

static char fuzz_dir[4096], fuzz_main[4200], fuzz_confd[4200], fuzz_extra[4300];

static void fuzz_cleanup(void)
{
	unlink(fuzz_extra);
	unlink(fuzz_main);
	rmdir(fuzz_confd);
	rmdir(fuzz_dir);
}

const char *fuzz_unavailable(const char *argv0)
{
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/mh-fuzz-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fuzz_dir)) {
		perror("fuzz_config: mkdtemp");
		abort();
	}
	snprintf(fuzz_main, sizeof(fuzz_main), "%s/modhost.ini", fuzz_dir);
	snprintf(fuzz_confd, sizeof(fuzz_confd), "%s/conf.d", fuzz_dir);
	snprintf(fuzz_extra, sizeof(fuzz_extra), "%s/50-fuzz.ini", fuzz_confd);
	if (mkdir(fuzz_confd, 0700) < 0) {
		perror("fuzz_config: mkdir");
		abort();
	}
	atexit(fuzz_cleanup);
	/* config_load logs nothing itself, but keep stray lines out. */
	log_open(NULL, MH_LOG_ERROR, LOG_FORMAT_TEXT, err, sizeof(err));
	return 0;
}

/* Write exactly data[0..len) to path (truncating). */
static void fuzz_write(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n <= 0) {
			perror(path);
			abort();
		}
		data += n;
		len -= (size_t)n;
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *split = memmem(data, size, FUZZ_MARKER, strlen(FUZZ_MARKER));
	if (split) {
		size_t main_len = (size_t)(split - data) + 1; /* keep its newline */
		size_t skip = (size_t)(split - data) + strlen(FUZZ_MARKER);
		fuzz_write(fuzz_main, data, main_len);
		fuzz_write(fuzz_extra, data + skip, size - skip);
	} else {
		fuzz_write(fuzz_main, data, size);
		unlink(fuzz_extra);
	}
	struct config *cfg = NULL;
	char err[2048];
	if (config_load(fuzz_main, &cfg, err, sizeof(err)) == 0)
		config_free(cfg);
	return 0;
}
