/* host/main.c — modhostd's command line: serve, check (-t), version (-V),
 * describe a module (-M). */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <gnutls/gnutls.h>

#include "config.h"
#include "describe.h"
#include "generation.h"
#include "log.h"
#include "master.h"
#include "modhost.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: modhostd [-f] [-c FILE]   serve\n"
	        "       modhostd -t [-c FILE]     check the configuration and modules, then exit\n"
	        "       modhostd -T [-c FILE]     check, then print every configuration file read\n"
	        "       modhostd -V               print version, ABI version and build options\n"
	        "       modhostd -M FILE.so       print a module's descriptor\n"
	        "options:\n"
	        "  -c FILE  main configuration file (default %s)\n"
	        "  -f       stay in the foreground and log to stderr (systemd, tests)\n",
	        MH_CONFIG_FILE);
}

static void print_version(void)
{
	printf("modhostd %s\n", PACKAGE_VERSION);
	printf("module ABI %d.%d (descriptor symbol %s)\n", MH_ABI_MAJOR, MH_ABI_MINOR,
	       MH_MODULE_SYMBOL_NAME);
	printf("built with libevent %s, GnuTLS %s\n", event_get_version(),
	       gnutls_check_version(NULL));
	printf("build options: %s\n", MH_BUILD_OPTIONS);
	printf("module directory: %s\n", MH_MODULE_DIR);
	printf("configuration: %s\n", MH_CONFIG_FILE);
}

/* Detach from the terminal: the classic double fork, with stdio on
 * /dev/null.  Logging should then go to a file ([log] file). */
static int daemonize(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

/* Connections are file descriptors: take the hard limit the system allows
 * rather than the usual soft 1024, or max_connections could never be met. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Copy the file at path to stdout after a "# configuration file PATH:"
 * line.  Returns 0, or -1 after saying why on stderr. */
static int dump_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "modhostd: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("# configuration file %s:\n", path);
	char buf[8192];
	size_t n, last = 0;
	char end = '\n';
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		fwrite(buf, 1, n, stdout);
		last = n;
		end = buf[n - 1];
	}
	int failed = ferror(f);
	fclose(f);
	if (last && end != '\n')
		putchar('\n');
	putchar('\n');
	if (failed) {
		fprintf(stderr, "modhostd: cannot read %s\n", path);
		return -1;
	}
	return 0;
}

/* -t, and -T (dump): check path as a reload would, modules included; with
 * dump, then print every file that was read, in the order read. */
static int check_config(const char *path, int dump)
{
	char err[2048];
	struct generation *gen;
	if (generation_build(path, NULL, 1, 0, &gen, err, sizeof(err)) < 0) {
		fprintf(stderr, "modhostd: %s\n", err);
		fprintf(stderr, "modhostd: configuration %s test failed\n", path);
		return 1;
	}
	printf("modhostd: configuration %s is valid\n", path);
	int rc = 0;
	for (size_t i = 0; dump && i < gen->cfg->n_files && rc == 0; i++)
		rc = dump_file(gen->cfg->files[i]) < 0;
	generation_free(gen);
	fflush(stdout);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config_path = MH_CONFIG_FILE;
	const char *describe = NULL;
	int test = 0, dump = 0, foreground = 0, opt;

	while ((opt = getopt(argc, argv, "c:tTVfM:h")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 't': test = 1; break;
		case 'T': test = dump = 1; break;
		case 'f': foreground = 1; break;
		case 'M': describe = optarg; break;
		case 'V': print_version(); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (describe)
		return describe_module(describe, stdout, stderr);
	log_set_process("master", -1);
	if (test)
		return check_config(config_path, dump);
	raise_fd_limit();
	if (!foreground && daemonize() < 0) {
		fprintf(stderr, "modhostd: cannot daemonize: %s\n", strerror(errno));
		return 1;
	}
	return master_run(config_path);
}
