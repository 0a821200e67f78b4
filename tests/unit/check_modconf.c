/* tests/unit/check_modconf.c — Check suite for what config_load builds
 * beyond the host's own sections: [route NAME] sections (route.c) and
 * modules' key tables (modconf.c), with file:line errors.  Scratch files go
 * in a folder from tests/unit/scratch.c, removed after each test case. */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "config.h"
#include "modconf.h"
#include "route.h"
#include "scratch.h"
#include "cfgload.h"

/* ---- routes and modconf_build ----------------------------------------------------------------------- */

/* [route NAME]: parsed in the listener's order, match values normalised,
 * every reference checked with file:line. */
START_TEST(test_routes)
{
	char *dir = scratch_case_dir();
	char *main = scratch_write(dir, "modhost.ini",
	                           "[module c]\n[module h]\n[module a]\n"
	                           "[listener l]\nlisten = 127.0.0.1:1\ncodec = c\n"
	                           "routes = second, first\n"
	                           "[route first]\nmatch_method = get, put\nmatch_path = /kv/\n"
	                           "handler = h\nauth = a\n"
	                           "[route second]\nmatch_command = ping\nhandler = h\n");
	struct config *cfg = cfgload_ok(main);
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
		char *msg = cfgload_expand(bad[i].msg, main, dir);
		cfgload_expect_error(main, msg);
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
	char *dir = scratch_case_dir();
	struct config *cfg;
	int rc;

	*path = scratch_write(dir, "modhost.ini", text);
	cfg = cfgload_ok(*path);
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

/* ---- the suite ------------------------------------------------------------------------- */

static Suite *modconf_suite(void)
{
	Suite *s = suite_create("modconf");
	TCase *tc = tcase_create("modconf");
	tcase_add_unchecked_fixture(tc, scratch_case_setup, scratch_case_teardown);
	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_modconf_values);
	tcase_add_test(tc, test_modconf_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(modconf_suite());
}
