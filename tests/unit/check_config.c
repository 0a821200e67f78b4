/* tests/unit/check_config.c — Check suite for config_load over real INI
 * files (config.c): good files, defaults, syntax, includes, and every
 * error with its file:line; routes and module key tables are
 * check_modconf's, the value parsers check_cfgval's, the log formats
 * check_log's.  Fixtures live in $MH_SRCDIR/tests/fixtures/config;
 * scratch files go in a folder from tests/unit/scratch.c, removed after
 * each test case. */
#include "build-config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit.h"
#include "cfgval.h"
#include "config.h"
#include "log.h"
#include "scratch.h"
#include "cfgload.h"

/* ---- helpers ------------------------------------------------------------- */

/* The source tree, made absolute so that paths in messages are known. */
static const char *srcdir(void)
{
	static char buf[PATH_MAX];
	const char *s = getenv("MH_SRCDIR");
	char cwd[PATH_MAX];

	if (!buf[0]) {
		if (!s || !*s)
			s = ".";
		if (s[0] == '/')
			snprintf(buf, sizeof(buf), "%s", s);
		else
			snprintf(buf, sizeof(buf), "%s/%s", getcwd(cwd, sizeof(cwd)), s);
	}
	return buf;
}

static char *fixture(const char *rel)
{
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/tests/fixtures/config/%s", srcdir(), rel), 0);
	return p;
}

/* A listener's address is what its `listen` text parses to (cfgval_address
 * itself is check_cfgval's). */
static void assert_addr(const struct sockaddr_storage *got, const char *text)
{
	struct sockaddr_storage want;
	socklen_t len;
	char *up = NULL, err[256];
	ck_assert_msg(cfgval_address(text, "/", &want, &len, &up, err, sizeof(err)) == 0, "%s: %s",
	              text, err);
	free(up);
	ck_assert_int_eq(got->ss_family, want.ss_family);
	ck_assert_msg(memcmp(got, &want, len) == 0, "the address is not %s", text);
}

/* ---- config_load: good files ----------------------------------------------------- */

START_TEST(test_good_config)
{
	char *main = fixture("good/modhost.ini");
	char *base = fixture("good");
	char *want;
	struct config *cfg;

	setenv("MH_TEST_GREETING", "hi", 1);
	cfg = cfgload_ok(main);
	ck_assert_str_eq(cfg->main_file, main);
	ck_assert_str_eq(cfg->base_dir, base);

	/* conf.d in strcmp order: "9-" after "50-"; dot files, README and
	 * *.ini.off are skipped. */
	static const char *const files[] = {"10-lenprefix.ini", "20-echo.ini", "50-listener-a.ini",
	                                    "50-listener-b.ini", "9-metrics.ini"};
	ck_assert_uint_eq(cfg->n_files, 6);
	ck_assert_str_eq(cfg->files[0], main);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_ge(asprintf(&want, "%s/conf.d/%s", base, files[i]), 0);
		ck_assert_str_eq(cfg->files[i + 1], want);
		free(want);
	}
	/* Sections in the order read. */
	static const char *const order[] = {"server",      "log",        "module lenprefix",
	                                    "module echo", "listener a", "listener b",
	                                    "listener c",  "listener d", "module metrics"};
	size_t i = 0;
	for (const struct cfg_section *s = cfg->sections; s; s = s->next, i++) {
		char name[128];
		snprintf(name, sizeof(name), "%s%s%s", s->kind, s->name ? " " : "",
		         s->name ? s->name : "");
		ck_assert_uint_lt(i, 9);
		ck_assert_str_eq(name, order[i]);
	}
	ck_assert_uint_eq(i, 9);

	/* [server] */
	ck_assert_int_eq(cfg->server.workers, 2);
	ck_assert_uint_eq(cfg->server.shutdown_timeout_ms, 10000);
	ck_assert_uint_eq(cfg->server.max_connections, 5000);
	ck_assert_int_eq(cfg->server.busy_poll_auto, 0);
	ck_assert_uint_eq(cfg->server.busy_poll_us, 250);
	ck_assert_uint_eq(cfg->server.busy_poll_nap_us, 50);
	ck_assert_int_ge(asprintf(&want, "%s/modules", base), 0);
	ck_assert_str_eq(cfg->server.module_path, want);
	free(want);
	ck_assert_int_ge(asprintf(&want, "%s/run/modhostd.pid", base), 0);
	ck_assert_str_eq(cfg->server.pid_file, want);
	free(want);
	ck_assert_str_eq(cfg->server.user, "nobody");
	ck_assert_str_eq(cfg->server.group, "nogroup");

	/* [log] */
	ck_assert_int_eq(cfg->log.level, MH_LOG_DEBUG);
	ck_assert_int_eq(cfg->log.format, LOG_FORMAT_JSON);
	ck_assert_int_ge(asprintf(&want, "%s/logs/modhost.log", base), 0);
	ck_assert_str_eq(cfg->log.file, want);
	free(want);

	/* modules, raw, in section order */
	ck_assert_uint_eq(cfg->n_modules, 3);
	ck_assert_str_eq(cfg->modules[0].name, "lenprefix");
	ck_assert_int_ge(asprintf(&want, "%s/modules/lenprefix.so", base), 0);
	ck_assert_str_eq(cfg->modules[0].path, want);
	free(want);
	ck_assert_str_eq(cfg->modules[1].name, "echo");
	ck_assert_int_ge(asprintf(&want, "%s/custom/echo.so", base), 0);
	ck_assert_str_eq(cfg->modules[1].path, want);
	free(want);
	ck_assert_ptr_eq(cfg->modules[1].file, cfg->files[2]);
	ck_assert_int_eq(cfg->modules[1].line, 1);
	ck_assert_str_eq(cfg->modules[2].name, "metrics");
	ck_assert_int_eq(cfg->modules[2].line, 2);
	const struct module_settings *echo = config_module(cfg, "echo");
	ck_assert_ptr_eq(echo, &cfg->modules[1]);
	const struct cfg_entry *e = echo->section->entries;
	ck_assert_str_eq(e->key, "file");
	ck_assert_str_eq(e->value, "custom/echo.so");
	e = e->next;
	ck_assert_str_eq(e->key, "greeting");
	ck_assert_str_eq(e->value, "hi costs $5");
	ck_assert_int_eq(e->line, 3);
	ck_assert_ptr_null(e->next);
	ck_assert_ptr_null(config_module(cfg, "nope"));

	/* listeners */
	ck_assert_uint_eq(cfg->n_listeners, 4);
	const struct listener_settings *a = config_listener(cfg, "a");
	ck_assert_ptr_eq(a, &cfg->listeners[0]);
	ck_assert_str_eq(a->listen, "127.0.0.1:7000");
	ck_assert_int_eq(a->family, LISTENER_TCP);
	assert_addr(&a->addr, "127.0.0.1:7000");
	ck_assert_ptr_eq(a->file, cfg->files[3]);
	ck_assert_int_eq(a->line, 1);
	ck_assert_int_eq(a->backlog, 128);
	ck_assert_uint_eq(a->max_connections, 100);
	ck_assert_str_eq(a->codec, "lenprefix");
	ck_assert_str_eq(a->handler, "echo");
	ck_assert_uint_eq(a->n_auth, 2);
	ck_assert_str_eq(a->auth[0], "echo");
	ck_assert_str_eq(a->auth[1], "lenprefix");
	ck_assert_ptr_null(a->auth[2]);
	ck_assert_str_eq(a->policy, "echo");
	ck_assert_uint_eq(a->n_observers, 1);
	ck_assert_str_eq(a->observers[0], "metrics");
	ck_assert_uint_eq(a->idle_timeout_ms, 300000);
	ck_assert_uint_eq(a->read_timeout_ms, 250);
	ck_assert_uint_eq(a->write_timeout_ms, 2000);
	ck_assert_uint_eq(a->max_inflight, 8);
	ck_assert_uint_eq(a->output_high_water, 1048576);
	ck_assert_uint_eq(a->output_low_water, 524288);
	ck_assert_uint_eq(a->send_buffer, 65536);
	ck_assert_uint_eq(a->max_connections_per_ip, 10);
	ck_assert_uint_eq(a->max_requests_per_connection, 1000);

	const struct listener_settings *b = config_listener(cfg, "b");
	ck_assert_int_eq(b->family, LISTENER_TCP);
	ck_assert_int_eq(b->addr.ss_family, AF_INET6);
	assert_addr(&b->addr, "[::1]:0");
	ck_assert_ptr_nonnull(b->observers); /* set, to nothing */
	ck_assert_uint_eq(b->n_observers, 0);
	ck_assert_ptr_nonnull(b->auth);
	ck_assert_uint_eq(b->n_auth, 0);
	ck_assert_ptr_null(b->policy);
	ck_assert_int_eq(b->backlog, 511);
	ck_assert_uint_eq(b->max_connections, 0);
	ck_assert_uint_eq(b->idle_timeout_ms, 60000);
	ck_assert_uint_eq(b->read_timeout_ms, 30000);
	ck_assert_uint_eq(b->write_timeout_ms, 30000);
	ck_assert_uint_eq(b->max_inflight, 64);
	ck_assert_uint_eq(b->output_high_water, 262144);
	ck_assert_uint_eq(b->output_low_water, 65536);
	ck_assert_uint_eq(b->send_buffer, 0);
	ck_assert_uint_eq(b->max_connections_per_ip, 0);
	ck_assert_uint_eq(b->max_requests_per_connection, 0);

	const struct listener_settings *c = config_listener(cfg, "c");
	ck_assert_int_eq(c->family, LISTENER_UNIX);
	ck_assert_int_eq(c->addr.ss_family, AF_UNIX);
	ck_assert_int_ge(asprintf(&want, "%s/run/c.sock", base), 0);
	ck_assert_str_eq(c->unix_path, want);
	ck_assert_str_eq(((const struct sockaddr_un *)&c->addr)->sun_path, want);
	free(want);
	ck_assert_int_eq(c->line, 7);

	const struct listener_settings *d = config_listener(cfg, "d");
	ck_assert_int_eq(d->addr.ss_family, AF_INET);
	assert_addr(&d->addr, "0.0.0.0:0");
	ck_assert_ptr_null(d->observers); /* absent: every observer */
	ck_assert_ptr_null(config_listener(cfg, "zz"));

	config_free(cfg);
	free(main);
	free(base);
}
END_TEST

START_TEST(test_defaults)
{
	char *dir = scratch_case_dir();
	char *main = scratch_write(dir, "modhost.ini", "; nothing but a comment\n");
	struct config *cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	setenv("MODHOST_MODULE_PATH", "/opt/mods", 1);
	cfg = cfgload_ok(main);
	ck_assert_uint_eq(cfg->n_files, 1); /* no conf.d: fine */
	ck_assert_ptr_null(cfg->sections);
	ck_assert_int_eq(cfg->server.workers, ncpu < 1 ? 1 : ncpu > 512 ? 512 : ncpu);
	ck_assert_uint_eq(cfg->server.shutdown_timeout_ms, 30000);
	ck_assert_uint_eq(cfg->server.max_connections, 10000);
	ck_assert_int_eq(cfg->server.busy_poll_auto, 1);
	ck_assert_uint_eq(cfg->server.busy_poll_us, 0);
	ck_assert_uint_eq(cfg->server.busy_poll_nap_us, 0);
	ck_assert_str_eq(cfg->server.module_path, "/opt/mods");
	ck_assert_ptr_null(cfg->server.pid_file);
	ck_assert_ptr_null(cfg->server.user);
	ck_assert_ptr_null(cfg->server.group);
	ck_assert_int_eq(cfg->log.level, MH_LOG_INFO);
	ck_assert_int_eq(cfg->log.format, LOG_FORMAT_TEXT);
	ck_assert_ptr_null(cfg->log.file);
	ck_assert_uint_eq(cfg->n_listeners, 0);
	ck_assert_uint_eq(cfg->n_modules, 0);
	config_free(cfg);

	/* Without the variable: the build's folder.  An explicit module_path
	 * beats the variable. */
	unsetenv("MODHOST_MODULE_PATH");
	cfg = cfgload_ok(main);
#ifdef MH_MODULE_DIR
	ck_assert_str_eq(cfg->server.module_path, MH_MODULE_DIR);
#else
	ck_assert_int_eq(cfg->server.module_path[0], '/');
#endif
	config_free(cfg);
	free(main);

	setenv("MODHOST_MODULE_PATH", "/opt/mods", 1);
	main = scratch_write(
	    dir, "modhost.ini",
	    "[server]\nmodule_path = /usr/mods\nworkers = auto\n[log]\nfile = stderr\n"
	    "[module x]\n");
	cfg = cfgload_ok(main);
	ck_assert_str_eq(cfg->server.module_path, "/usr/mods");
	ck_assert_str_eq(cfg->modules[0].path, "/usr/mods/x.so");
	ck_assert_int_eq(cfg->server.workers, ncpu < 1 ? 1 : ncpu > 512 ? 512 : ncpu);
	ck_assert_ptr_null(cfg->log.file);
	config_free(cfg);
	free(main);

	main = scratch_write(dir, "modhost.ini", "[server]\nworkers = 0\n");
	cfg = cfgload_ok(main);
	ck_assert_int_eq(cfg->server.workers, 0);
	config_free(cfg);
	free(main);
	free(dir);
}
END_TEST

START_TEST(test_syntax_forms)
{
	char *dir = scratch_case_dir();
	/* A UTF-8 BOM, CRLF line ends, indentation, both comment styles, an
	 * inline comment, "name: value", an empty section. */
	char *main = scratch_write(dir, "modhost.ini",
	                           "\xef\xbb\xbf; comment\r\n"
	                           "[server]  ; trailing comment\r\n"
	                           "   user = ${MH_T_USER}   ; inline\r\n"
	                           "# another comment\r\n"
	                           "group: staff\r\n"
	                           "\r\n"
	                           "[module  empty]\r\n"
	                           "[ log ]\r\n"
	                           "level=warn\r\n");
	struct config *cfg;

	setenv("MH_T_USER", "svc user", 1);
	cfg = cfgload_ok(main);
	ck_assert_str_eq(cfg->server.user, "svc user");
	ck_assert_str_eq(cfg->server.group, "staff");
	ck_assert_int_eq(cfg->log.level, MH_LOG_WARN);
	ck_assert_uint_eq(cfg->n_modules, 1);
	ck_assert_str_eq(cfg->modules[0].name, "empty");
	ck_assert_int_eq(cfg->modules[0].line, 7);
	ck_assert_ptr_null(cfg->modules[0].section->entries);
	ck_assert_int_eq(cfg->sections->entries->line, 3);
	config_free(cfg);
	free(main);
	free(dir);
}
END_TEST

START_TEST(test_include_folder)
{
	char *dir = scratch_case_dir();
	char *main = scratch_write(dir, "etc/modhost.ini", "[server]\ninclude = ../enabled\n");
	char *f1 = scratch_write(dir, "enabled/b.ini", "[module b]\n");
	char *f2 = scratch_write(dir, "enabled/a.ini", "[module a]\n");
	char *f3 = scratch_write(dir, "etc/conf.d/c.ini", "[module c]\n"); /* not the folder */
	struct config *cfg = cfgload_ok(main);
	char *want;

	ck_assert_uint_eq(cfg->n_modules, 2);
	ck_assert_str_eq(cfg->modules[0].name, "a");
	ck_assert_str_eq(cfg->modules[1].name, "b");
	ck_assert_int_ge(asprintf(&want, "%s/etc/../enabled/a.ini", dir), 0);
	ck_assert_str_eq(cfg->files[1], want);
	free(want);
	config_free(cfg);
	free(main);
	free(f1);
	free(f2);
	free(f3);

	/* The main file inside its own include folder is read once. */
	main = scratch_write(dir, "same/main.ini", "[server]\ninclude = .\n[module m]\n");
	f1 = scratch_write(dir, "same/other.ini", "[module o]\n");
	cfg = cfgload_ok(main);
	ck_assert_uint_eq(cfg->n_files, 2);
	ck_assert_uint_eq(cfg->n_modules, 2);
	config_free(cfg);
	free(main);
	free(f1);
	free(dir);
}
END_TEST

/* ---- config_load: errors -------------------------------------------------------------- */

static const struct {
	const char *file, *msg;
} bad_fixtures[] = {
    {"unknown-section.ini", "{F}:3: unknown section [foo]"},
    {"key-outside.ini",
     "{F}:2: key 'workers' outside any section (put it under a [section] header)"},
    {"dup-key.ini", "{F}:4: duplicate key 'workers' in [server] (first at {F}:2)"},
    {"bad-section-name.ini",
     "{F}:1: bad name 'a b' in [module a b] (use letters, digits, '_', '.', '-')"},
    {"module-no-name.ini", "{F}:3: section [module] needs a name: [module NAME]"},
    {"server-with-name.ini", "{F}:1: section [server] takes no name"},
    {"unclosed-section.ini", "{F}:3: section header without ']'"},
    {"trailing-text.ini", "{F}:1: unexpected text 'workers = 1' after section header"},
    {"syntax.ini", "{F}:3: syntax error: expected 'key = value', '[section]' or a comment"},
    {"dup-server.ini", "{F}:5: duplicate section [server] (first at {F}:1)"},
    {"unknown-server-key.ini", "{F}:2: unknown key 'workerz' in [server]"},
    {"unknown-listener-key.ini", "{F}:6: unknown key 'foo' in [listener x]"},
    {"bad-idle-timeout.ini", "{F}:6: bad value for 'idle_timeout': '5x' has an unknown unit 'x' "
                             "(use e.g. 250ms, 30s, 5m, 1h, 1d)"},
    {"listener-no-codec.ini", "{F}:3: listener 'x' needs key 'codec'"},
    {"listener-no-listen.ini", "{F}:2: listener 'x' needs key 'listen'"},
    {"listener-unknown-codec.ini",
     "{F}:4: listener 'x': codec 'foo' is not a configured module (add [module foo])"},
    {"listener-unknown-auth.ini",
     "{F}:6: listener 'x': auth 'jwt' is not a configured module (add [module jwt])"},
    {"listener-unknown-observer.ini", "{F}:6: listener 'x': observer 'prometheus' is not a "
                                      "configured module (add [module prometheus])"},
    {"low-water.ini", "{F}:6: bad value for 'output_low_water': output_low_water (1048576) must be "
                      "below output_high_water (262144)"},
    {"high-water.ini", "{F}:6: bad value for 'output_high_water': output_low_water (65536) must be "
                       "below output_high_water (65536)"},
    {"inflight-zero.ini", "{F}:6: bad value for 'max_inflight': 0 is out of range (1..1048576)"},
    {"send-buffer-small.ini",
     "{F}:6: bad value for 'send_buffer': '1KiB' is out of range (4096 to 268435456 bytes)"},
    {"per-ip-unix.ini",
     "{F}:6: max_connections_per_ip needs a TCP listener: 'x' listens on a unix socket, "
     "whose peers have no address"},
    {"env-unset.ini", "{F}:3: environment variable MH_TEST_UNSET_VAR is not set"},
    {"listen-hostname.ini", "{F}:3: bad value for 'listen': 'localhost' is not a numeric IP "
                            "address (host names are not resolved)"},
    {"listen-ipv6-bare.ini",
     "{F}:3: bad value for 'listen': put an IPv6 address in brackets: [::1]:80"},
    {"listen-bad-port.ini", "{F}:3: bad value for 'listen': '127.0.0.1:65536' has no valid port "
                            "(0..65535) after the last ':'"},
    {"workers-range.ini", "{F}:2: bad value for 'workers': 513 is out of range (0..512)"},
    {"log-level.ini",
     "{F}:2: bad value for 'level': 'loud' is not one of error, warn, info, debug"},
    {"log-format.ini", "{F}:2: bad value for 'format': 'xml' is not one of text, logfmt, json"},
    {"size-overflow.ini", "{F}:6: bad value for 'output_high_water': '16777216TiB' is too large"},
    {"busy-poll-long.ini", "{F}:2: bad value for 'busy_poll': '2s' is too long (at most 1s)"},
    {"busy-poll-unit.ini",
     "{F}:2: bad value for 'busy_poll': '5ns' has an unknown unit 'ns' (use e.g. 200us, 2ms, 1s)"},
    {"busy-poll-word.ini",
     "{F}:2: bad value for 'busy_poll': 'fast' is not auto, off or a duration (e.g. 200us)"},
    {"busy-poll-nap-off.ini", "{F}:3: bad value for 'busy_poll_nap': it naps between the polls "
                              "of busy_poll, which is off"},
    {"busy-poll-nap-auto.ini", "{F}:2: bad value for 'busy_poll_nap': '300us' is longer than the "
                               "200us that busy_poll = auto polls for"},
    {"busy-poll-nap-long.ini",
     "{F}:3: bad value for 'busy_poll_nap': '1ms' is longer than busy_poll (100us)"},
    {"duration-overflow.ini",
     "{F}:2: bad value for 'shutdown_timeout': '18446744073709551615s' is too large"},
    {"include-missing.ini",
     "{F}:2: bad value for 'include': cannot read folder {D}/nowhere: No such file or directory"},
    {"module-empty-file.ini", "{F}:2: bad value for 'file': empty path"},
};

START_TEST(test_bad_fixture)
{
	char *dir = fixture("bad");
	char *path, *msg;

	ck_assert_int_ge(asprintf(&path, "%s/%s", dir, bad_fixtures[_i].file), 0);
	msg = cfgload_expand(bad_fixtures[_i].msg, path, dir);
	unsetenv("MH_TEST_UNSET_VAR");
	cfgload_expect_error(path, msg);
	free(msg);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_duplicate_section_across_files)
{
	char *main = fixture("bad/dupsec/modhost.ini");
	char *dir = fixture("bad/dupsec");
	char *msg = cfgload_expand("{D}/conf.d/b.ini:3: duplicate section [module echo] "
	                   "(first at {D}/conf.d/a.ini:1)",
	                   main, dir);

	cfgload_expect_error(main, msg);
	free(msg);
	free(main);
	free(dir);
}
END_TEST

/* Names in messages are the paths as given: a relative main file gives
 * relative conf.d names. */
START_TEST(test_relative_names)
{
	char *dir = scratch_case_dir();
	char cwd[PATH_MAX];
	char *f[3];

	f[0] = scratch_write(dir, "modhost.ini", "[server]\n");
	f[1] = scratch_write(dir, "conf.d/a.ini", "[module echo]\n");
	f[2] = scratch_write(dir, "conf.d/b.ini", "; again\n\n[module echo]\n");
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	cfgload_expect_error(
	    "modhost.ini",
	    "conf.d/b.ini:3: duplicate section [module echo] (first at conf.d/a.ini:1)");
	cfgload_expect_error(
	    "./modhost.ini",
	    "./conf.d/b.ini:3: duplicate section [module echo] (first at ./conf.d/a.ini:1)");
	cfgload_expect_error("nothere.ini", "nothere.ini: cannot open: No such file or directory");
	ck_assert_int_eq(chdir(cwd), 0);
	for (int i = 0; i < 3; i++)
		free(f[i]);
	free(dir);
}
END_TEST

START_TEST(test_confd_errors)
{
	char *dir = scratch_case_dir();
	char *main = scratch_write(dir, "modhost.ini", "[server]\nworkers = 1\n");
	char *f1 = scratch_write(dir, "conf.d/10-x.ini", "[server]\n");
	char *msg;

	/* [server] twice, in two files */
	ck_assert_int_ge(
	    asprintf(&msg, "%s:1: duplicate section [server] (first at %s:1)", f1, main), 0);
	cfgload_expect_error(main, msg);
	free(msg);

	/* include is only honoured in the main file */
	free(main);
	main = scratch_write(dir, "modhost.ini", "[log]\n");
	free(scratch_write(dir, "conf.d/10-x.ini", "[server]\n\ninclude = elsewhere\n"));
	ck_assert_int_ge(asprintf(&msg, "%s:3: 'include' is only read from the main file", f1), 0);
	cfgload_expect_error(main, msg);
	free(msg);

	/* a bad value in a conf.d file names that file and line */
	free(scratch_write(dir, "conf.d/10-x.ini",
	                   "[module m]\n[listener l]\nlisten = 127.0.0.1:1\n"
	                   "codec = m\nhandler = m\nread_timeout = soon\n"));
	ck_assert_int_ge(asprintf(&msg,
	                          "%s:6: bad value for 'read_timeout': 'soon' is not a duration "
	                          "(use e.g. 250ms, 30s, 5m, 1h, 1d)",
	                          f1),
	                 0);
	cfgload_expect_error(main, msg);
	free(msg);

	/* a listener may name a module defined in a later file */
	free(scratch_write(dir, "conf.d/20-m.ini", "[module m2]\n"));
	free(scratch_write(dir, "conf.d/10-x.ini",
	                   "[listener l]\nlisten = 127.0.0.1:1\n"
	                   "codec = m2\nhandler = m2\n"));
	struct config *cfg = cfgload_ok(main);
	ck_assert_uint_eq(cfg->n_listeners, 1);
	config_free(cfg);
	free(main);
	free(f1);
	free(dir);
}
END_TEST

START_TEST(test_long_line)
{
	char *dir = scratch_case_dir();
	size_t n = 9000;
	char *text = malloc(n + 64);
	char *main, *msg;

	strcpy(text, "[server]\nuser = ");
	memset(text + strlen(text), 'u', n);
	strcpy(text + 16 + n, "\n");
	main = scratch_write(dir, "modhost.ini", text);
	ck_assert_int_ge(asprintf(&msg, "%s:2: line too long (more than 8189 characters)", main),
	                 0);
	cfgload_expect_error(main, msg);
	free(msg);
	free(main);

	/* Long but within the limit is fine. */
	memset(text + 16, 'u', 8000);
	strcpy(text + 16 + 8000, "\n");
	main = scratch_write(dir, "modhost.ini", text);
	struct config *cfg = cfgload_ok(main);
	ck_assert_uint_eq(strlen(cfg->server.user), 8000);
	config_free(cfg);
	free(main);
	free(text);
	free(dir);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------- */

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("load");
	tcase_add_unchecked_fixture(tc, scratch_case_setup, scratch_case_teardown);
	tcase_add_test(tc, test_good_config);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_syntax_forms);
	tcase_add_test(tc, test_include_folder);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_unchecked_fixture(tc, scratch_case_setup, scratch_case_teardown);
	tcase_add_loop_test(tc, test_bad_fixture, 0,
	                    (int)(sizeof(bad_fixtures) / sizeof(bad_fixtures[0])));
	tcase_add_test(tc, test_duplicate_section_across_files);
	tcase_add_test(tc, test_relative_names);
	tcase_add_test(tc, test_confd_errors);
	tcase_add_test(tc, test_long_line);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(config_suite());
}
