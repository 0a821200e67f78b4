/* tests/unit/check_cfgval.c — Check suite for the configuration value
 * parsers (host/cfgval.c): durations, sizes, booleans, integers, lists,
 * ${VAR} expansion, paths and listen addresses, with the exact message of
 * every refusal. */
#include "build-config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "unit.h"
#include "cfgval.h"

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

/* ---- the suite ------------------------------------------------------------------------- */

static Suite *cfgval_suite(void)
{
	Suite *s = suite_create("cfgval");
	TCase *tc = tcase_create("values");
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
	return s;
}

int main(void)
{
	return unit_run(cfgval_suite());
}
