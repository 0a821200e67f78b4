/* tests/unit/check_config.c — Check suite for the configuration subsystem:
 * the value parsers (cfgval.c), config_load over real INI files
 * (config.c), module key tables (modconf.c) and the log formats (log.c).
 * Fixtures live in $MH_SRCDIR/tests/fixtures/config; scratch files go in a
 * folder from tests/unit/scratch.c, removed after each test case. */
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

#include "cfgval.h"
#include "config.h"
#include "route.h"
#include "log.h"
#include "modconf.h"
#include "scratch.h"

/* ---- helpers ------------------------------------------------------------- */

static char *tmp_root; /* the test case's scratch folder */

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

static void tmp_setup(void)
{
	tmp_root = scratch_mkdtemp("mhcfg");
	if (!tmp_root)
		abort();
}

static void tmp_teardown(void)
{
	scratch_remove(tmp_root);
	free(tmp_root);
	tmp_root = NULL;
}

/* A fresh folder for one test; the caller frees it. */
static char *new_dir(void)
{
	char *d;
	ck_assert_int_ge(asprintf(&d, "%s/t.XXXXXX", tmp_root), 0);
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

/* Replace {F} with file and {D} with dir in tmpl. */
static char *expand(const char *tmpl, const char *file, const char *dir)
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
static void expect_load_error(const char *path, const char *msg)
{
	struct config *cfg = (struct config *)1;
	char err[1024] = "";

	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, msg);
}

static struct config *load_ok(const char *path)
{
	struct config *cfg = NULL;
	char err[1024] = "";

	if (config_load(path, &cfg, err, sizeof(err)) != 0)
		ck_abort_msg("config_load(%s) failed: %s", path, err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

static int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static const char *ip_of(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET
	                    ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
	                    : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	return inet_ntop(ss->ss_family, a, buf, (socklen_t)len);
}

/* ---- value parsers ------------------------------------------------------------ */

START_TEST(test_duration)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} ok[] = {
	    {"250ms", 250},  {"30s", 30000},   {"5m", 300000},
	    {"1h", 3600000}, {"1d", 86400000}, {"0", 0},
	    {"7", 7000},     {"0ms", 0},       {"18446744073709551615ms", UINT64_MAX},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		char err[256] = "";
		ck_assert_msg(cfgval_duration_ms(ok[i].s, &v, err, sizeof(err)) == 0, "%s: %s",
		              ok[i].s, err);
		ck_assert_uint_eq(v, ok[i].ms);
	}
}
END_TEST

START_TEST(test_duration_us)
{
	static const struct {
		const char *s;
		uint64_t us;
	} ok[] = {
	    {"200us", 200}, {"2ms", 2000}, {"1s", 1000000}, {"1", 1000000}, {"0", 0}, {"0us", 0},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		char err[256] = "";
		ck_assert_msg(cfgval_duration_us(ok[i].s, &v, err, sizeof(err)) == 0, "%s: %s",
		              ok[i].s, err);
		ck_assert_uint_eq(v, ok[i].us);
	}
	uint64_t v = 42;
	char err[256] = "";
	ck_assert_int_eq(cfgval_duration_us("1m", &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'1m' has an unknown unit 'm' (use e.g. 200us, 2ms, 1s)");
	ck_assert_uint_eq(v, 42);
}
END_TEST

START_TEST(test_duration_errors)
{
	static const struct {
		const char *s, *msg;
	} bad[] = {
	    {"", "'' is not a duration (use e.g. 250ms, 30s, 5m, 1h, 1d)"},
	    {"ms", "'ms' is not a duration (use e.g. 250ms, 30s, 5m, 1h, 1d)"},
	    {"-1s", "'-1s' is not a duration (use e.g. 250ms, 30s, 5m, 1h, 1d)"},
	    {"5x", "'5x' has an unknown unit 'x' (use e.g. 250ms, 30s, 5m, 1h, 1d)"},
	    {"1.5s", "'1.5s' has an unknown unit '.5s' (use e.g. 250ms, 30s, 5m, 1h, 1d)"},
	    {"18446744073709551615", "'18446744073709551615' is too large"},
	    {"213503982335d", "'213503982335d' is too large"},
	    {"99999999999999999999ms", "'99999999999999999999ms' is too large"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 42;
		char err[256] = "";
		ck_assert_int_eq(cfgval_duration_ms(bad[i].s, &v, err, sizeof(err)), -1);
		ck_assert_str_eq(err, bad[i].msg);
		ck_assert_uint_eq(v, 42);
	}
}
END_TEST

START_TEST(test_size)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
	    {"512", 512},
	    {"0", 0},
	    {"1B", 1},
	    {"64KiB", 65536},
	    {"1k", 1024},
	    {"1K", 1024},
	    {"10KB", 10000},
	    {"1kB", 1000},
	    {"1MiB", 1048576},
	    {"1m", 1048576},
	    {"2M", 2097152},
	    {"2MB", 2000000},
	    {"2GiB", 2147483648ull},
	    {"1g", 1073741824ull},
	    {"3GB", 3000000000ull},
	    {"1TiB", 1099511627776ull},
	    {"1TB", 1000000000000ull},
	    {"16777215TiB", 16777215ull << 40},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		char err[256] = "";
		ck_assert_msg(cfgval_size(ok[i].s, &v, err, sizeof(err)) == 0, "%s: %s", ok[i].s,
		              err);
		ck_assert_uint_eq(v, ok[i].v);
	}
}
END_TEST

START_TEST(test_size_errors)
{
	static const struct {
		const char *s, *msg;
	} bad[] = {
	    {"KiB", "'KiB' is not a size (use e.g. 512, 64KiB, 1MiB, 2GiB, 10MB)"},
	    {"1KIB", "'1KIB' has an unknown unit 'KIB' (use e.g. 512, 64KiB, 1MiB, 2GiB, 10MB)"},
	    {"1 KiB", "'1 KiB' has an unknown unit ' KiB' (use e.g. 512, 64KiB, 1MiB, 2GiB, 10MB)"},
	    {"16777216TiB", "'16777216TiB' is too large"},
	    {"18446744073709551616", "'18446744073709551616' is too large"},
	    {"18446744073709551615k", "'18446744073709551615k' is too large"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 42;
		char err[256] = "";
		ck_assert_int_eq(cfgval_size(bad[i].s, &v, err, sizeof(err)), -1);
		ck_assert_str_eq(err, bad[i].msg);
	}
	/* The largest value that fits is accepted. */
	uint64_t v;
	ck_assert_int_eq(cfgval_size("18446744073709551615", &v, NULL, 0), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(test_bool)
{
	static const char *const yes[] = {"yes", "YES", "on", "On", "true", "TRUE", "1"};
	static const char *const no[] = {"no", "No", "off", "OFF", "false", "False", "0"};
	static const char *const bad[] = {"", "2", "yess", "y", "enabled"};
	int v;
	char err[256];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v = -1;
		ck_assert_int_eq(cfgval_bool(yes[i], &v, err, sizeof(err)), 0);
		ck_assert_int_eq(v, 1);
		ck_assert_int_eq(cfgval_bool(no[i], &v, err, sizeof(err)), 0);
		ck_assert_int_eq(v, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[256];
		ck_assert_int_eq(cfgval_bool(bad[i], &v, err, sizeof(err)), -1);
		snprintf(want, sizeof(want),
		         "'%s' is not a boolean (use yes/no, on/off, true/false, 1/0)", bad[i]);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(test_int)
{
	int64_t v;
	char err[256];

	ck_assert_int_eq(cfgval_int("42", 0, 100, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(cfgval_int("-7", -10, 10, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, -7);
	ck_assert_int_eq(
	    cfgval_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v, err, sizeof(err)), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(cfgval_int("101", 0, 100, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "101 is out of range (0..100)");
	ck_assert_int_eq(
	    cfgval_int("9223372036854775808", INT64_MIN, INT64_MAX, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "9223372036854775808 is out of range "
	                      "(-9223372036854775808..9223372036854775807)");
	ck_assert_int_eq(cfgval_int("12abc", 0, 100, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'12abc' is not a whole number");
	ck_assert_int_eq(cfgval_int("", 0, 100, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'' is not a whole number");
	ck_assert_int_eq(cfgval_int(" 1", 0, 100, &v, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_list)
{
	char **items;
	size_t n;
	char err[256];

	ck_assert_int_eq(cfgval_list("a, b,c  d\tmod.x-1", &items, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(items[0], "a");
	ck_assert_str_eq(items[1], "b");
	ck_assert_str_eq(items[2], "c");
	ck_assert_str_eq(items[3], "d");
	ck_assert_str_eq(items[4], "mod.x-1");
	ck_assert_ptr_null(items[5]);
	cfgval_list_free(items);

	ck_assert_int_eq(cfgval_list("", &items, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(items);
	ck_assert_ptr_null(items[0]);
	cfgval_list_free(items);

	ck_assert_int_eq(cfgval_list(" ,, ,", &items, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	cfgval_list_free(items);

	ck_assert_int_eq(cfgval_list("single", &items, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(items[0], "single");
	cfgval_list_free(items);
}
END_TEST

START_TEST(test_env)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"plain", "plain"},
	    {"${MH_T_A}", "alpha"},
	    {"x${MH_T_A}y${MH_T_B}z", "xalphaybetaz"},
	    {"costs $$5", "costs $5"},
	    {"$$${MH_T_A}", "$alpha"},
	    {"$${MH_T_A}", "${MH_T_A}"},
	    {"a$b $", "a$b $"},
	    {"${MH_T_EMPTY}", ""},
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
	    {"${MH_T_UNSET}", "environment variable MH_T_UNSET is not set"},
	    {"ok ${MH_T_A} ${MH_T_UNSET}", "environment variable MH_T_UNSET is not set"},
	    {"${MH_T_A", "'${' without a closing '}'"},
	    {"${}", "'${}' is not a variable name (letters, digits, '_')"},
	    {"${1A}", "'${1A}' is not a variable name (letters, digits, '_')"},
	    {"${A-B}", "'${A-B}' is not a variable name (letters, digits, '_')"},
	};

	setenv("MH_T_A", "alpha", 1);
	setenv("MH_T_B", "beta", 1);
	setenv("MH_T_EMPTY", "", 1);
	unsetenv("MH_T_UNSET");
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *out = NULL, err[256] = "";
		ck_assert_msg(cfgval_expand_env(ok[i].in, &out, err, sizeof(err)) == 0, "%s: %s",
		              ok[i].in, err);
		ck_assert_str_eq(out, ok[i].out);
		free(out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = NULL, err[256] = "";
		ck_assert_int_eq(cfgval_expand_env(bad[i].in, &out, err, sizeof(err)), -1);
		ck_assert_ptr_null(out);
		ck_assert_str_eq(err, bad[i].msg);
	}
}
END_TEST

START_TEST(test_path)
{
	char *p, err[256];

	ck_assert_int_eq(cfgval_path("/abs/x", "/base", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p, "/abs/x");
	free(p);
	ck_assert_int_eq(cfgval_path("rel/x", "/base", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p, "/base/rel/x");
	free(p);
	ck_assert_int_eq(cfgval_path("./rel", "/base/", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p, "/base/rel");
	free(p);
	ck_assert_int_eq(cfgval_path("", "/base", &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "empty path");
}
END_TEST

START_TEST(test_address)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char *up, err[256], ip[64];

	ck_assert_int_eq(cfgval_address("127.0.0.1:7000", "/b", &ss, &len, &up, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_int_eq(len, sizeof(struct sockaddr_in));
	ck_assert_str_eq(ip_of(&ss, ip, sizeof(ip)), "127.0.0.1");
	ck_assert_int_eq(port_of(&ss), 7000);
	ck_assert_ptr_null(up);

	ck_assert_int_eq(cfgval_address("[::1]:65535", "/b", &ss, &len, &up, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(ip_of(&ss, ip, sizeof(ip)), "::1");
	ck_assert_int_eq(port_of(&ss), 65535);

	ck_assert_int_eq(cfgval_address("[::]:0", "/b", &ss, &len, &up, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_str_eq(ip_of(&ss, ip, sizeof(ip)), "::");

	ck_assert_int_eq(cfgval_address("*:0", "/b", &ss, &len, &up, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_str_eq(ip_of(&ss, ip, sizeof(ip)), "0.0.0.0");
	ck_assert_int_eq(port_of(&ss), 0);

	ck_assert_int_eq(cfgval_address("unix:run/s.sock", "/b", &ss, &len, &up, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(ss.ss_family, AF_UNIX);
	ck_assert_str_eq(up, "/b/run/s.sock");
	ck_assert_str_eq(((struct sockaddr_un *)&ss)->sun_path, "/b/run/s.sock");
	ck_assert_int_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen(up) + 1);
	free(up);

	ck_assert_int_eq(cfgval_address("unix:/abs.sock", "/b", &ss, &len, &up, err, sizeof(err)),
	                 0);
	ck_assert_str_eq(up, "/abs.sock");
	free(up);
}
END_TEST

START_TEST(test_address_errors)
{
	static const struct {
		const char *s, *msg;
	} bad[] = {
	    {"127.0.0.1", "'127.0.0.1' is not HOST:PORT, [IPv6]:PORT, *:PORT or unix:PATH"},
	    {"127.0.0.1:", "'127.0.0.1:' has no valid port (0..65535) after the last ':'"},
	    {"127.0.0.1:70000",
	     "'127.0.0.1:70000' has no valid port (0..65535) after the last ':'"},
	    {"127.0.0.1:http", "'127.0.0.1:http' has no valid port (0..65535) after the last ':'"},
	    {"localhost:80",
	     "'localhost' is not a numeric IP address (host names are not resolved)"},
	    {"[localhost]:80",
	     "'localhost' is not a numeric IP address (host names are not resolved)"},
	    {"[127.0.0.1]:80",
	     "'127.0.0.1' is not a numeric IP address (host names are not resolved)"},
	    {"::1:80", "put an IPv6 address in brackets: [::1]:80"},
	    {"[::1]80", "'[::1]80' is not [IPv6]:PORT"},
	    {":80", "':80' has no address before the port (use *:80 for all)"},
	    {"unix:", "empty path"},
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char *up, err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(cfgval_address(bad[i].s, "/b", &ss, &len, &up, err, sizeof(err)),
		                 -1);
		ck_assert_str_eq(err, bad[i].msg);
	}
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	char *s;
	ck_assert_int_ge(asprintf(&s, "unix:/%s", longpath), 0);
	ck_assert_int_eq(cfgval_address(s, "/b", &ss, &len, &up, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is longer than 107 bytes"));
	free(s);
}
END_TEST

/* ---- config_load: good files ----------------------------------------------------- */

START_TEST(test_good_config)
{
	char *main = fixture("good/modhost.ini");
	char *base = fixture("good");
	char *want;
	char ip[64];
	struct config *cfg;

	setenv("MH_TEST_GREETING", "hi", 1);
	cfg = load_ok(main);
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
	ck_assert_uint_eq(cfg->server.busy_poll_us, 250);
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
	ck_assert_str_eq(ip_of(&a->addr, ip, sizeof(ip)), "127.0.0.1");
	ck_assert_int_eq(port_of(&a->addr), 7000);
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

	const struct listener_settings *b = config_listener(cfg, "b");
	ck_assert_int_eq(b->family, LISTENER_TCP);
	ck_assert_int_eq(b->addr.ss_family, AF_INET6);
	ck_assert_str_eq(ip_of(&b->addr, ip, sizeof(ip)), "::1");
	ck_assert_int_eq(port_of(&b->addr), 0);
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
	ck_assert_str_eq(ip_of(&d->addr, ip, sizeof(ip)), "0.0.0.0");
	ck_assert_ptr_null(d->observers); /* absent: every observer */
	ck_assert_ptr_null(config_listener(cfg, "zz"));

	config_free(cfg);
	free(main);
	free(base);
}
END_TEST

START_TEST(test_defaults)
{
	char *dir = new_dir();
	char *main = scratch_write(dir, "modhost.ini", "; nothing but a comment\n");
	struct config *cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	setenv("MODHOST_MODULE_PATH", "/opt/mods", 1);
	cfg = load_ok(main);
	ck_assert_uint_eq(cfg->n_files, 1); /* no conf.d: fine */
	ck_assert_ptr_null(cfg->sections);
	ck_assert_int_eq(cfg->server.workers, ncpu < 1 ? 1 : ncpu > 512 ? 512 : ncpu);
	ck_assert_uint_eq(cfg->server.shutdown_timeout_ms, 30000);
	ck_assert_uint_eq(cfg->server.max_connections, 10000);
	ck_assert_uint_eq(cfg->server.busy_poll_us, 0);
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
	cfg = load_ok(main);
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
	cfg = load_ok(main);
	ck_assert_str_eq(cfg->server.module_path, "/usr/mods");
	ck_assert_str_eq(cfg->modules[0].path, "/usr/mods/x.so");
	ck_assert_int_eq(cfg->server.workers, ncpu < 1 ? 1 : ncpu > 512 ? 512 : ncpu);
	ck_assert_ptr_null(cfg->log.file);
	config_free(cfg);
	free(main);

	main = scratch_write(dir, "modhost.ini", "[server]\nworkers = 0\n");
	cfg = load_ok(main);
	ck_assert_int_eq(cfg->server.workers, 0);
	config_free(cfg);
	free(main);
	free(dir);
}
END_TEST

START_TEST(test_syntax_forms)
{
	char *dir = new_dir();
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
	cfg = load_ok(main);
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
	char *dir = new_dir();
	char *main = scratch_write(dir, "etc/modhost.ini", "[server]\ninclude = ../enabled\n");
	char *f1 = scratch_write(dir, "enabled/b.ini", "[module b]\n");
	char *f2 = scratch_write(dir, "enabled/a.ini", "[module a]\n");
	char *f3 = scratch_write(dir, "etc/conf.d/c.ini", "[module c]\n"); /* not the folder */
	struct config *cfg = load_ok(main);
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
	cfg = load_ok(main);
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
	msg = expand(bad_fixtures[_i].msg, path, dir);
	unsetenv("MH_TEST_UNSET_VAR");
	expect_load_error(path, msg);
	free(msg);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_duplicate_section_across_files)
{
	char *main = fixture("bad/dupsec/modhost.ini");
	char *dir = fixture("bad/dupsec");
	char *msg = expand("{D}/conf.d/b.ini:3: duplicate section [module echo] "
	                   "(first at {D}/conf.d/a.ini:1)",
	                   main, dir);

	expect_load_error(main, msg);
	free(msg);
	free(main);
	free(dir);
}
END_TEST

/* Names in messages are the paths as given: a relative main file gives
 * relative conf.d names. */
START_TEST(test_relative_names)
{
	char *dir = new_dir();
	char cwd[PATH_MAX];
	char *f[3];

	f[0] = scratch_write(dir, "modhost.ini", "[server]\n");
	f[1] = scratch_write(dir, "conf.d/a.ini", "[module echo]\n");
	f[2] = scratch_write(dir, "conf.d/b.ini", "; again\n\n[module echo]\n");
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	expect_load_error(
	    "modhost.ini",
	    "conf.d/b.ini:3: duplicate section [module echo] (first at conf.d/a.ini:1)");
	expect_load_error(
	    "./modhost.ini",
	    "./conf.d/b.ini:3: duplicate section [module echo] (first at ./conf.d/a.ini:1)");
	expect_load_error("nothere.ini", "nothere.ini: cannot open: No such file or directory");
	ck_assert_int_eq(chdir(cwd), 0);
	for (int i = 0; i < 3; i++)
		free(f[i]);
	free(dir);
}
END_TEST

START_TEST(test_confd_errors)
{
	char *dir = new_dir();
	char *main = scratch_write(dir, "modhost.ini", "[server]\nworkers = 1\n");
	char *f1 = scratch_write(dir, "conf.d/10-x.ini", "[server]\n");
	char *msg;

	/* [server] twice, in two files */
	ck_assert_int_ge(
	    asprintf(&msg, "%s:1: duplicate section [server] (first at %s:1)", f1, main), 0);
	expect_load_error(main, msg);
	free(msg);

	/* include is only honoured in the main file */
	free(main);
	main = scratch_write(dir, "modhost.ini", "[log]\n");
	free(scratch_write(dir, "conf.d/10-x.ini", "[server]\n\ninclude = elsewhere\n"));
	ck_assert_int_ge(asprintf(&msg, "%s:3: 'include' is only read from the main file", f1), 0);
	expect_load_error(main, msg);
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
	expect_load_error(main, msg);
	free(msg);

	/* a listener may name a module defined in a later file */
	free(scratch_write(dir, "conf.d/20-m.ini", "[module m2]\n"));
	free(scratch_write(dir, "conf.d/10-x.ini",
	                   "[listener l]\nlisten = 127.0.0.1:1\n"
	                   "codec = m2\nhandler = m2\n"));
	struct config *cfg = load_ok(main);
	ck_assert_uint_eq(cfg->n_listeners, 1);
	config_free(cfg);
	free(main);
	free(f1);
	free(dir);
}
END_TEST

START_TEST(test_long_line)
{
	char *dir = new_dir();
	size_t n = 9000;
	char *text = malloc(n + 64);
	char *main, *msg;

	strcpy(text, "[server]\nuser = ");
	memset(text + strlen(text), 'u', n);
	strcpy(text + 16 + n, "\n");
	main = scratch_write(dir, "modhost.ini", text);
	ck_assert_int_ge(asprintf(&msg, "%s:2: line too long (more than 8189 characters)", main),
	                 0);
	expect_load_error(main, msg);
	free(msg);
	free(main);

	/* Long but within the limit is fine. */
	memset(text + 16, 'u', 8000);
	strcpy(text + 16 + 8000, "\n");
	main = scratch_write(dir, "modhost.ini", text);
	struct config *cfg = load_ok(main);
	ck_assert_uint_eq(strlen(cfg->server.user), 8000);
	config_free(cfg);
	free(main);
	free(text);
	free(dir);
}
END_TEST

/* ---- modconf_build ----------------------------------------------------------------------- */

/* [route NAME]: parsed in the listener's order, match values normalised,
 * every reference checked with file:line. */
START_TEST(test_routes)
{
	char *dir = new_dir();
	char *main = scratch_write(dir, "modhost.ini",
	                           "[module c]\n[module h]\n[module a]\n"
	                           "[listener l]\nlisten = 127.0.0.1:1\ncodec = c\n"
	                           "routes = second, first\n"
	                           "[route first]\nmatch_method = get, put\nmatch_path = /kv/\n"
	                           "handler = h\nauth = a\n"
	                           "[route second]\nmatch_command = ping\nhandler = h\n");
	struct config *cfg = load_ok(main);
	ck_assert_uint_eq(cfg->n_routes, 2);
	const struct listener_settings *l = config_listener(cfg, "l");
	ck_assert_ptr_null(l->handler);
	ck_assert_uint_eq(l->n_routes, 2);
	ck_assert_str_eq(l->routes[0], "second");
	const struct route_settings *r = route_find(cfg, "first");
	ck_assert_uint_eq(r->n_methods, 2);
	ck_assert_str_eq(r->methods[0], "GET");
	ck_assert_str_eq(r->methods[1], "PUT");
	ck_assert_str_eq(r->path_prefix, "/kv/");
	ck_assert_uint_eq(r->n_auth, 1);
	ck_assert_str_eq(route_find(cfg, "second")->commands[0], "PING");
	config_free(cfg);

	struct {
		const char *text, *msg; /* {F} = the main file */
	} bad[] = {
		{"[module c]\n[listener l]\nlisten = 127.0.0.1:1\ncodec = c\n",
		 "{F}:2: listener 'l' needs key 'handler' or 'routes'"},
		{"[module c]\n[listener l]\nlisten = 127.0.0.1:1\ncodec = c\nroutes = nope\n",
		 "{F}:2: listener 'l': route 'nope' is not configured (add [route nope])"},
		{"[module c]\n[route r]\nmatch_path = /\n",
		 "{F}:2: route 'r' needs key 'handler'"},
		{"[module c]\n[route r]\nhandler = c\nmatch_host = x\n",
		 "{F}:4: unknown key 'match_host' in [route r] (known: match_method, match_path, "
		 "match_command, handler, auth, policy)"},
		{"[module c]\n[route r]\nhandler = c\nmatch_path = kv\n",
		 "{F}:4: bad value for 'match_path': a path prefix starts with '/'"},
		{"[module c]\n[route r]\nhandler = gone\n",
		 "{F}:3: route 'r': handler 'gone' is not a configured module (add [module gone])"},
		{"[module c]\n[route r]\nhandler = c\nauth = c, gone\n",
		 "{F}:4: route 'r': auth 'gone' is not a configured module (add [module gone])"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		free(main);
		main = scratch_write(dir, "modhost.ini", bad[i].text);
		char *msg = expand(bad[i].msg, main, dir);
		expect_load_error(main, msg);
		free(msg);
	}
	free(main);
	free(dir);
}
END_TEST

static const mh_config_key demo_keys[] = {
    {"greeting", MH_CONFIG_STRING, "hello", "what to say"},
    {"count", MH_CONFIG_INT, "3", "how often"},
    {"verbose", MH_CONFIG_BOOL, "no", "chatty"},
    {"limit", MH_CONFIG_SIZE, "64KiB", "largest message"},
    {"timeout", MH_CONFIG_DURATION, "250ms", "how long to wait"},
    {"tags", MH_CONFIG_LIST, "a b", "labels"},
    {"keyfile", MH_CONFIG_PATH, "keys/k.pem", "the key"},
    {"secret", MH_CONFIG_STRING, NULL, "required"},
    {NULL, 0, NULL, NULL},
};

/* Load text as the main file and build [module demo] against keys. */
static int demo_build(const char *text, const mh_config_key *keys, struct modconf **mc, char **path,
                      char *err, size_t errlen)
{
	char *dir = new_dir();
	struct config *cfg;
	int rc;

	*path = scratch_write(dir, "modhost.ini", text);
	cfg = load_ok(*path);
	rc = modconf_build("demo", config_module(cfg, "demo")->section, keys, cfg->base_dir, mc,
	                   err, errlen);
	config_free(cfg);
	free(dir);
	return rc;
}

START_TEST(test_modconf_values)
{
	struct modconf *mc;
	const struct modconf_value *v;
	char *path, err[1024] = "", *want;

	setenv("MH_TEST_SECRET", "s3cret", 1);
	ck_assert_msg(demo_build("[module demo]\nfile = demo.so\ncount = -5\nverbose = On\n"
	                         "limit = 1MiB\ntimeout = 5s\ntags = x, y z\n"
	                         "secret = ${MH_TEST_SECRET}\n",
	                         demo_keys, &mc, &path, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_uint_eq(mc->n, 8);
	ck_assert_str_eq(modconf_get(mc, "greeting")->text, "hello");
	ck_assert_int_eq(modconf_get(mc, "greeting")->type, MH_CONFIG_STRING);
	v = modconf_get(mc, "count");
	ck_assert_int_eq(v->i, -5);
	ck_assert_str_eq(v->text, "-5");
	ck_assert_int_eq(modconf_get(mc, "verbose")->i, 1);
	ck_assert_uint_eq(modconf_get(mc, "limit")->u, 1048576);
	ck_assert_uint_eq(modconf_get(mc, "timeout")->u, 5000);
	v = modconf_get(mc, "tags");
	ck_assert_uint_eq(v->n_items, 3);
	ck_assert_str_eq(v->items[0], "x");
	ck_assert_str_eq(v->items[2], "z");
	ck_assert_ptr_null(v->items[3]);
	*strrchr(path, '/') = '\0';
	ck_assert_int_ge(asprintf(&want, "%s/keys/k.pem", path), 0);
	ck_assert_str_eq(modconf_get(mc, "keyfile")->text, want);
	free(want);
	ck_assert_str_eq(modconf_get(mc, "secret")->text, "s3cret");
	ck_assert_ptr_null(modconf_get(mc, "file")); /* the host's key */
	ck_assert_ptr_null(modconf_get(mc, "nope"));
	modconf_free(mc);
	free(path);

	/* Defaults alone, with no section at all. */
	static const mh_config_key defaults_only[] = {
	    {"n", MH_CONFIG_INT, "7", ""}, {"d", MH_CONFIG_DURATION, "1m", ""},
	    {"l", MH_CONFIG_LIST, "", ""}, {"p", MH_CONFIG_PATH, "/abs/p", ""},
	    {NULL, 0, NULL, NULL},
	};
	ck_assert_int_eq(modconf_build("demo", NULL, defaults_only, "/base", &mc, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(modconf_get(mc, "n")->i, 7);
	ck_assert_uint_eq(modconf_get(mc, "d")->u, 60000);
	ck_assert_uint_eq(modconf_get(mc, "l")->n_items, 0);
	ck_assert_ptr_nonnull(modconf_get(mc, "l")->items);
	ck_assert_str_eq(modconf_get(mc, "p")->text, "/abs/p");
	modconf_free(mc);

	/* A module without keys accepts a section holding only host keys. */
	ck_assert_int_eq(
	    demo_build("[module demo]\nfile = x.so\n", NULL, &mc, &path, err, sizeof(err)), 0);
	ck_assert_uint_eq(mc->n, 0);
	modconf_free(mc);
	free(path);
}
END_TEST

START_TEST(test_modconf_errors)
{
	struct modconf *mc = (struct modconf *)1;
	char *path, err[1024], *want;

	setenv("MH_TEST_SECRET", "s3cret", 1);
	ck_assert_int_eq(demo_build("[module demo]\nsecret = x\ncolour = red\n", demo_keys, &mc,
	                            &path, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_null(mc);
	ck_assert_int_ge(
	    asprintf(&want,
	             "%s:3: module 'demo' has no key 'colour' (known: greeting, count, "
	             "verbose, limit, timeout, tags, keyfile, secret)",
	             path),
	    0);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);

	ck_assert_int_eq(demo_build("; header on line 2\n[module demo]\ncount = 1\n", demo_keys,
	                            &mc, &path, err, sizeof(err)),
	                 -1);
	ck_assert_int_ge(asprintf(&want, "%s:2: module 'demo' needs key 'secret'", path), 0);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);

	static const struct {
		const char *line, *msg;
	} bad[] = {
	    {"count = many", "'many' is not a whole number"},
	    {"verbose = maybe", "'maybe' is not a boolean (use yes/no, on/off, true/false, 1/0)"},
	    {"limit = 1PB",
	     "'1PB' has an unknown unit 'PB' (use e.g. 512, 64KiB, 1MiB, 2GiB, 10MB)"},
	    {"timeout = 1w", "'1w' has an unknown unit 'w' (use e.g. 250ms, 30s, 5m, 1h, 1d)"},
	    {"keyfile =", "empty path"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text, key[32];
		ck_assert_int_ge(asprintf(&text, "[module demo]\nsecret = s\n%s\n", bad[i].line),
		                 0);
		ck_assert_int_eq(demo_build(text, demo_keys, &mc, &path, err, sizeof(err)), -1);
		sscanf(bad[i].line, "%31s", key);
		ck_assert_int_ge(asprintf(&want, "%s:3: module 'demo': bad value for '%s': %s",
		                          path, key, bad[i].msg),
		                 0);
		ck_assert_str_eq(err, want);
		free(want);
		free(path);
		free(text);
	}

	static const mh_config_key bad_default[] = {
	    {"ok", MH_CONFIG_INT, "1", ""},
	    {"n", MH_CONFIG_SIZE, "lots", ""},
	    {NULL, 0, NULL, NULL},
	};
	ck_assert_int_eq(demo_build("[module demo]\n", bad_default, &mc, &path, err, sizeof(err)),
	                 -1);
	ck_assert_int_ge(
	    asprintf(&want,
	             "%s:1: module 'demo': bad default for 'n' in its key table: 'lots' "
	             "is not a size (use e.g. 512, 64KiB, 1MiB, 2GiB, 10MB)",
	             path),
	    0);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);

	static const mh_config_key reserved[] = {
	    {"file", MH_CONFIG_STRING, "", ""},
	    {NULL, 0, NULL, NULL},
	};
	ck_assert_int_eq(modconf_build("demo", NULL, reserved, "/b", &mc, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "module 'demo' declares key 'file', which the host reserves");

	static const mh_config_key twice[] = {
	    {"a", MH_CONFIG_STRING, "", ""},
	    {"a", MH_CONFIG_INT, "1", ""},
	    {NULL, 0, NULL, NULL},
	};
	ck_assert_int_eq(modconf_build("demo", NULL, twice, "/b", &mc, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "module 'demo' declares key 'a' twice");

	static const mh_config_key badtype[] = {
	    {"a", 99, "x", ""},
	    {NULL, 0, NULL, NULL},
	};
	ck_assert_int_eq(modconf_build("demo", NULL, badtype, "/b", &mc, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "module 'demo': bad default for 'a' in its key table: unknown key "
	                      "type 99");

	ck_assert_int_eq(modconf_build("demo", NULL, demo_keys, "/b", &mc, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "module 'demo' needs key 'secret'");

	ck_assert_int_eq(demo_build("[module demo]\nx = 1\n", NULL, &mc, &path, err, sizeof(err)),
	                 -1);
	ck_assert_int_ge(asprintf(&want, "%s:2: module 'demo' has no key 'x' (known: none)", path),
	                 0);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);
}
END_TEST

/* ---- log --------------------------------------------------------------------------------------
 */

/* Read the whole file; the caller frees. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int c;

	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Split buf into lines in place (each ended by '\n'); returns the count. */
static int split_lines(char *buf, char **lines, int max)
{
	int n = 0;
	for (char *p = buf; *p && n < max;) {
		char *nl = strchr(p, '\n');
		ck_assert_msg(nl != NULL, "line without newline: %s", p);
		*nl = '\0';
		lines[n++] = p;
		p = nl + 1;
	}
	return n;
}

static void assert_match(const char *re, const char *s)
{
	regex_t rx;
	ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&rx, s, 0, NULL, 0) == 0, "'%s' does not match /%s/", s, re);
	regfree(&rx);
}

static char *log_path(const char *dir, const char *name)
{
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static void open_log(const char *path, int level, int format)
{
	char err[256] = "";
	ck_assert_msg(log_open(path, level, format, err, sizeof(err)) == 0, "%s", err);
}

#define TS_RE "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

/* A small JSON reader for one flat object of strings and integers:
 * returns the number of members, or -1 if s is not exactly such an object.
 * The decoded value of member `want` goes to out. */
static int json_string(const char **pp, char *out, size_t outlen)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p++ != '"')
		return -1;
	while (*p != '"') {
		unsigned cp;
		if ((unsigned char)*p < 0x20)
			return -1; /* raw control characters are not allowed */
		if (*p != '\\') {
			cp = (unsigned char)*p++;
			if (n + 1 < outlen)
				out[n++] = (char)cp;
			continue;
		}
		p++;
		switch (*p++) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (sscanf(p, "%4x", &cp) != 1)
				return -1;
			p += 4;
			break;
		default: return -1;
		}
		char enc[4];
		size_t el;
		if (cp < 0x80) {
			enc[0] = (char)cp;
			el = 1;
		} else if (cp < 0x800) {
			enc[0] = (char)(0xc0 | (cp >> 6));
			enc[1] = (char)(0x80 | (cp & 0x3f));
			el = 2;
		} else {
			enc[0] = (char)(0xe0 | (cp >> 12));
			enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			enc[2] = (char)(0x80 | (cp & 0x3f));
			el = 3;
		}
		for (size_t i = 0; i < el && n + 1 < outlen; i++)
			out[n++] = enc[i];
	}
	if (outlen)
		out[n] = '\0';
	*pp = p + 1;
	return 0;
}

static int json_object(const char *s, const char *want, char *out, size_t outlen)
{
	const char *p = s;
	int n = 0;
	char key[64], val[8192];

	if (*p++ != '{')
		return -1;
	for (;;) {
		if (json_string(&p, key, sizeof(key)) < 0 || *p++ != ':')
			return -1;
		if (*p == '"') {
			if (json_string(&p, val, sizeof(val)) < 0)
				return -1;
		} else {
			size_t k = 0;
			if (*p == '-')
				val[k++] = *p++;
			if (*p < '0' || *p > '9')
				return -1;
			while (*p >= '0' && *p <= '9' && k + 1 < sizeof(val))
				val[k++] = *p++;
			val[k] = '\0';
		}
		if (want && strcmp(key, want) == 0)
			snprintf(out, outlen, "%s", val);
		n++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p++ != '}' || *p != '\0')
			return -1;
		return n;
	}
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80             ? 0
		        : (*p & 0xe0) == 0xc0 ? 1
		        : (*p & 0xf0) == 0xe0 ? 2
		        : (*p & 0xf8) == 0xf0 ? 3
		                              : -1;
		if (n < 0)
			return 0;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

START_TEST(test_log_parse)
{
	ck_assert_int_eq(log_level_parse("error"), MH_LOG_ERROR);
	ck_assert_int_eq(log_level_parse("warn"), MH_LOG_WARN);
	ck_assert_int_eq(log_level_parse("info"), MH_LOG_INFO);
	ck_assert_int_eq(log_level_parse("DEBUG"), MH_LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("trace"), -1);
	ck_assert_int_eq(log_format_parse("text"), LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_format_parse("logfmt"), LOG_FORMAT_LOGFMT);
	ck_assert_int_eq(log_format_parse("json"), LOG_FORMAT_JSON);
	ck_assert_int_eq(log_format_parse("xml"), -1);
	/* Before log_open: info and up. */
	ck_assert(log_enabled(MH_LOG_INFO));
	ck_assert(!log_enabled(MH_LOG_DEBUG));
}
END_TEST

START_TEST(test_log_text)
{
	char *dir = new_dir(), *path = log_path(dir, "text.log");
	char *buf, *lines[8], re[512];
	int pid = (int)getpid();

	open_log(path, MH_LOG_INFO, LOG_FORMAT_TEXT);
	log_set_process("worker", 3);
	log_write(MH_LOG_INFO, "echo", "hello %d", 42);
	log_debug("not shown at info");
	log_write(MH_LOG_DEBUG, NULL, "not shown either");
	log_set_process("master", -1);
	log_error("two\nlines\tand \"quotes\"");
	log_warn("warned");
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);

	buf = slurp(path);
	ck_assert_int_eq(split_lines(buf, lines, 8), 3);
	snprintf(re, sizeof(re), "^" TS_RE " INFO worker\\.3\\[%d\\]: module echo: hello 42$", pid);
	assert_match(re, lines[0]);
	snprintf(re, sizeof(re),
	         "^" TS_RE " ERROR master\\[%d\\]: two\\\\nlines\\\\tand \"quotes\"$", pid);
	assert_match(re, lines[1]);
	snprintf(re, sizeof(re), "^" TS_RE " WARN master\\[%d\\]: warned$", pid);
	assert_match(re, lines[2]);
	free(buf);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_log_logfmt)
{
	char *dir = new_dir(), *path = log_path(dir, "logfmt.log");
	char *buf, *lines[8], re[512];
	int pid = (int)getpid();

	open_log(path, MH_LOG_DEBUG, LOG_FORMAT_LOGFMT);
	log_set_process("worker", 1);
	log_write(MH_LOG_INFO, "echo", "say \"hi\" \\ done\nnext");
	log_debug("plain");
	log_write(MH_LOG_WARN, "odd name", "m");
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);

	buf = slurp(path);
	ck_assert_int_eq(split_lines(buf, lines, 8), 3);
	snprintf(re, sizeof(re),
	         "^ts=" TS_RE " level=info proc=worker\\.1 pid=%d module=echo "
	         "msg=\"say \\\\\"hi\\\\\" \\\\\\\\ done\\\\nnext\"$",
	         pid);
	assert_match(re, lines[0]);
	snprintf(re, sizeof(re), "^ts=" TS_RE " level=debug proc=worker\\.1 pid=%d msg=\"plain\"$",
	         pid);
	assert_match(re, lines[1]);
	snprintf(re, sizeof(re),
	         "^ts=" TS_RE " level=warn proc=worker\\.1 pid=%d module=\"odd name\" msg=\"m\"$",
	         pid);
	assert_match(re, lines[2]);
	free(buf);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_log_json)
{
	char *dir = new_dir(), *path = log_path(dir, "json.log");
	char *buf, *lines[8], val[8192], pidstr[32];
	const char *msg = "q\"b\\s/n\nt\tc\x01 caf\xc3\xa9 \xe2\x82\xac";

	open_log(path, MH_LOG_INFO, LOG_FORMAT_JSON);
	log_set_process("single", -1);
	log_write(MH_LOG_INFO, "echo", "%s", msg);
	log_error("bad byte \xff here");
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);

	buf = slurp(path);
	ck_assert_int_eq(split_lines(buf, lines, 8), 2);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)getpid());

	ck_assert_int_eq(json_object(lines[0], "msg", val, sizeof(val)), 6);
	ck_assert_str_eq(val, msg);
	json_object(lines[0], "level", val, sizeof(val));
	ck_assert_str_eq(val, "info");
	json_object(lines[0], "proc", val, sizeof(val));
	ck_assert_str_eq(val, "single");
	json_object(lines[0], "pid", val, sizeof(val));
	ck_assert_str_eq(val, pidstr);
	json_object(lines[0], "module", val, sizeof(val));
	ck_assert_str_eq(val, "echo");
	json_object(lines[0], "ts", val, sizeof(val));
	assert_match("^" TS_RE "$", val);
	/* Field order is fixed: ts, level, proc, pid, module, msg. */
	assert_match("^\\{\"ts\":\"[^\"]+\",\"level\":\"info\",\"proc\":\"single\",\"pid\":[0-9]+,"
	             "\"module\":\"echo\",\"msg\":\"",
	             lines[0]);

	/* No module member without a module; invalid UTF-8 becomes U+FFFD. */
	ck_assert_int_eq(json_object(lines[1], "msg", val, sizeof(val)), 5);
	ck_assert_str_eq(val, "bad byte \xef\xbf\xbd here");
	ck_assert(utf8_valid(lines[1]));
	free(buf);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_log_truncate)
{
	char *dir = new_dir(), *path = log_path(dir, "long.log");
	char *buf, *lines[8], *val = malloc(8192);
	char *big = malloc(10001), *wide = malloc(3 * 3000 + 1);

	memset(big, 'x', 10000);
	big[10000] = '\0';
	for (int i = 0; i < 3000; i++)
		memcpy(wide + 3 * i, "\xe2\x82\xac", 3); /* the euro sign */
	wide[9000] = '\0';

	for (int format = LOG_FORMAT_TEXT; format <= LOG_FORMAT_JSON; format++) {
		open_log(path, MH_LOG_INFO, format);
		log_write(MH_LOG_INFO, "m", "%s", big);
		log_write(MH_LOG_INFO, "m", "%s", wide);
	}
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);
	buf = slurp(path);
	ck_assert_int_eq(split_lines(buf, lines, 8), 6);
	for (int i = 0; i < 6; i++) {
		size_t len = strlen(lines[i]);
		ck_assert_uint_le(len + 1, 4096);
		ck_assert_uint_gt(len, 3900);
		ck_assert(utf8_valid(lines[i]));
	}
	ck_assert_str_eq(lines[0] + strlen(lines[0]) - 4, "x...");
	ck_assert_str_eq(lines[2] + strlen(lines[2]) - 5, "x...\"");
	for (int i = 4; i < 6; i++) {
		ck_assert_int_eq(json_object(lines[i], "msg", val, 8192), 6);
		ck_assert_str_eq(val + strlen(val) - 3, "...");
		ck_assert(utf8_valid(val));
	}
	free(val);
	free(big);
	free(wide);
	free(buf);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_log_files)
{
	char *dir = new_dir(), *path = log_path(dir, "r.log");
	char *rotated = log_path(dir, "r.log.1");
	char *buf, err[512];
	struct stat st;

	umask(022);
	open_log(path, MH_LOG_INFO, LOG_FORMAT_TEXT);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	log_info("first");

	/* A failed open keeps the old target. */
	ck_assert_int_eq(
	    log_open("/nonexistent-mh-dir/x.log", MH_LOG_DEBUG, LOG_FORMAT_JSON, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "cannot open log file /nonexistent-mh-dir/x.log: No such file or "
	                      "directory");
	ck_assert(!log_enabled(MH_LOG_DEBUG));
	log_info("second");

	/* Rotation: rename, reopen, and new lines go to the new file. */
	ck_assert_int_eq(rename(path, rotated), 0);
	ck_assert_int_eq(log_reopen(), 0);
	log_info("third");
	open_log("stderr", MH_LOG_INFO, LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_reopen(), 0); /* stderr: nothing to do */

	buf = slurp(rotated);
	ck_assert_ptr_nonnull(strstr(buf, ": first\n"));
	ck_assert_ptr_nonnull(strstr(buf, ": second\n"));
	ck_assert_ptr_null(strstr(buf, "third"));
	free(buf);
	buf = slurp(path);
	ck_assert_ptr_nonnull(strstr(buf, ": third\n"));
	ck_assert_ptr_null(strstr(buf, "first"));
	free(buf);

	/* Appending: reopening keeps what is there. */
	open_log(path, MH_LOG_INFO, LOG_FORMAT_TEXT);
	log_info("fourth");
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);
	buf = slurp(path);
	ck_assert_ptr_nonnull(strstr(buf, ": third\n"));
	ck_assert_ptr_nonnull(strstr(buf, ": fourth\n"));
	free(buf);
	free(path);
	free(rotated);
	free(dir);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------- */

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("values");
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_duration_us);
	tcase_add_test(tc, test_duration_errors);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_size_errors);
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_int);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_path);
	tcase_add_test(tc, test_address);
	tcase_add_test(tc, test_address_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_good_config);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_syntax_forms);
	tcase_add_test(tc, test_include_folder);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_loop_test(tc, test_bad_fixture, 0,
	                    (int)(sizeof(bad_fixtures) / sizeof(bad_fixtures[0])));
	tcase_add_test(tc, test_duplicate_section_across_files);
	tcase_add_test(tc, test_relative_names);
	tcase_add_test(tc, test_confd_errors);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_routes);
	suite_add_tcase(s, tc);

	tc = tcase_create("modconf");
	tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_modconf_values);
	tcase_add_test(tc, test_modconf_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("log");
	tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_log_parse);
	tcase_add_test(tc, test_log_text);
	tcase_add_test(tc, test_log_logfmt);
	tcase_add_test(tc, test_log_json);
	tcase_add_test(tc, test_log_truncate);
	tcase_add_test(tc, test_log_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
