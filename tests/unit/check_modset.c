/* tests/unit/check_modset.c — modules_load on real configuration files:
 * ordering by requires, missing and cyclic requirements, a failing load
 * hook, refused modules running no hook, bad keys, one file under two
 * names, duplicate names, reconfiguration handing over the previous
 * instance, and the worker hooks in order and undone.  check_loader.c
 * has the refusals of single files. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "config.h"
#include "loader.h"
#include "loaderenv.h"
#include "scratch.h"

/* The counters tests/modules/req_b.c keeps. */
struct req_b_counts {
	int loads, reconfigures, worker_inits, worker_finis, unloads;
};

/* ---- helpers ------------------------------------------------------------- */

/* Write conf.d/FILE: "[module NAME]\nfile = PATH\n" plus extra lines. */
static void add_module(const char *file, const char *name, const char *path, const char *extra)
{
	char *rel = lenv_fmt("conf.d/%s", file);
	char *text = lenv_fmt("[module %s]\nfile = %s\n%s", name, path, extra ? extra : "");
	free(scratch_write(lenv_dir, rel, text));
	free(rel);
	free(text);
}

/* config_load + modules_load of the folder.  Returns modules_load's result;
 * *cfg must be freed by the caller. */
static int load_tmp_config(struct config **cfg, const struct module_set *previous,
                           struct module_set **out)
{
	char *main_ini = lenv_fmt("%s/modhost.ini", lenv_dir);
	int rc = config_load(main_ini, cfg, lenv_err, sizeof(lenv_err));
	ck_assert_msg(rc == 0, "config_load: %s", lenv_err);
	free(main_ini);
	lenv_err[0] = '\0';
	return modules_load(*cfg, previous, out, lenv_err, sizeof(lenv_err));
}

/* The live counters of tests/modules/req_b.so in this process. */
static struct req_b_counts *req_b_counts(void)
{
	struct module_lib *lib;
	char *path = lenv_test_module("req_b");
	ck_assert_msg(loader_open("req_b", path, &lib, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
	free(path);
	struct req_b_counts *c = lt_dlsym((lt_dlhandle)lib->handle, "req_b_counts");
	ck_assert_ptr_nonnull(c);
	return c;
}

/* ---- modules_load on configuration files ---------------------------------- */

static void teardown_tmp(void)
{
	lenv_remove_dir();
}

START_TEST(test_requires_loads_requirement_first)
{
	struct config *cfg;
	struct module_set *set = NULL;
	struct req_b_counts *c = req_b_counts(), before = *c;
	char *a = lenv_test_module("req_a"), *b = lenv_test_module("req_b");
	add_module("10-req_a.ini", "req_a", a, NULL);
	add_module("20-req_b.ini", "req_b", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", lenv_err);
	ck_assert_uint_eq(set->n, 2);
	ck_assert_str_eq(set->mods[0]->name, "req_b");
	ck_assert_str_eq(set->mods[1]->name, "req_a");
	for (size_t i = 0; i < set->n; i++) {
		ck_assert_int_eq(set->mods[i]->index, (int)i);
		ck_assert_int_eq(set->mods[i]->loaded, 1);
		ck_assert_ptr_eq(set->mods[i]->desc, &set->mods[i]->lib->desc);
		ck_assert_ptr_nonnull(set->mods[i]->conf);
	}
	ck_assert_ptr_eq(modules_find(set, "req_a"), set->mods[1]);
	ck_assert_ptr_null(modules_find(set, "req_c"));
	ck_assert_int_eq(c->loads, before.loads + 1);
	modules_free(set);
	ck_assert_int_eq(c->unloads, before.unloads + 1);
	config_free(cfg);
	free(a);
	free(b);
}
END_TEST

/* Modules that do not require each other load in configuration order (the
 * order of conf.d files), whatever their names. */
START_TEST(test_unrelated_modules_keep_configuration_order)
{
	struct config *cfg;
	struct module_set *set = NULL;
	char *a = lenv_test_module("req_a"), *b = lenv_test_module("req_b"), *o = lenv_test_module("old_minor");
	add_module("10-zz.ini", "zz", o, NULL);
	add_module("20-req_a.ini", "req_a", a, NULL);
	add_module("30-aa.ini", "aa", o, NULL);
	add_module("40-req_b.ini", "req_b", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", lenv_err);
	ck_assert_uint_eq(set->n, 4);
	ck_assert_str_eq(set->mods[0]->name, "zz");
	ck_assert_str_eq(set->mods[1]->name, "req_b");
	ck_assert_str_eq(set->mods[2]->name, "req_a");
	ck_assert_str_eq(set->mods[3]->name, "aa");
	modules_free(set);
	config_free(cfg);
	free(a);
	free(b);
	free(o);
}
END_TEST

START_TEST(test_missing_requirement_is_refused)
{
	struct config *cfg;
	struct module_set *set = NULL;
	char *a = lenv_test_module("req_a");
	add_module("10-req_a.ini", "req_a", a, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *want = lenv_fmt("module 'req_a' (%s): requires module 'req_b', which is not configured; "
	                 "add [module req_b]",
	                 a);
	ck_assert_str_eq(lenv_err, want);
	ck_assert_ptr_null(set);
	config_free(cfg);
	free(want);
	free(a);
}
END_TEST

/* req_a.so requires a module named req_b; configured as req_b itself, it
 * requires itself. */
START_TEST(test_requirement_cycle_is_refused)
{
	struct config *cfg;
	struct module_set *set = NULL;
	char *a = lenv_test_module("req_a");
	add_module("10-req_a.ini", "req_a", a, NULL);
	add_module("20-req_b.ini", "req_b", a, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *want = lenv_fmt("module 'req_b' (%s): requirement cycle req_b -> req_b", a);
	ck_assert_str_eq(lenv_err, want);
	config_free(cfg);
	free(want);
	free(a);
}
END_TEST

START_TEST(test_failing_load_hook_unloads_the_set)
{
	struct config *cfg;
	struct module_set *set = NULL;
	struct req_b_counts *c = req_b_counts(), before = *c;
	char *b = lenv_test_module("req_b"), *lf = lenv_test_module("load_fails");
	add_module("10-req_b.ini", "req_b", b, NULL);
	add_module("20-lf.ini", "lf", lf, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	/* The refusal names the instance's section, as configuration errors do. */
	const struct module_settings *ms = NULL;
	for (size_t i = 0; i < cfg->n_modules; i++)
		if (strcmp(cfg->modules[i].name, "lf") == 0)
			ms = &cfg->modules[i];
	ck_assert_ptr_nonnull(ms);
	char *want = lenv_fmt("%s:%d: module 'lf' (%s): load hook failed; see the lines above",
	                      ms->file, ms->line, lf);
	ck_assert_str_eq(lenv_err, want);
	ck_assert_ptr_null(set);
	ck_assert_int_eq(c->loads, before.loads + 1);
	ck_assert_int_eq(c->unloads, before.unloads + 1);
	config_free(cfg);
	free(want);
	free(b);
	free(lf);
}
END_TEST

/* Every module is opened and checked before any load hook runs. */
START_TEST(test_refused_module_runs_no_load_hook)
{
	struct config *cfg;
	struct module_set *set = NULL;
	struct req_b_counts *c = req_b_counts(), before = *c;
	char *b = lenv_test_module("req_b"), *nm = lenv_test_module("newer_minor");
	add_module("10-req_b.ini", "req_b", b, NULL);
	add_module("20-nm.ini", "nm", nm, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *head = lenv_fmt("%s/conf.d/20-nm.ini:1: module 'nm' (%s): needs ABI", lenv_dir, nm);
	ck_assert_msg(strncmp(lenv_err, head, strlen(head)) == 0, "got: %s", lenv_err);
	ck_assert_int_eq(c->loads, before.loads);
	ck_assert_int_eq(c->unloads, before.unloads);
	config_free(cfg);
	free(head);
	free(b);
	free(nm);
}
END_TEST

START_TEST(test_bad_module_key_is_refused_before_load)
{
	struct config *cfg;
	struct module_set *set = NULL;
	struct req_b_counts *c = req_b_counts(), before = *c;
	char *b = lenv_test_module("req_b");
	add_module("10-req_b.ini", "req_b", b, "bogus_key = 1\n");
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	ck_assert_msg(strstr(lenv_err, "10-req_b.ini:3") && strstr(lenv_err, "bogus_key"), "got: %s", lenv_err);
	ck_assert_int_eq(c->loads, before.loads);
	config_free(cfg);
	free(b);
}
END_TEST

START_TEST(test_same_file_under_two_names)
{
	struct config *cfg;
	struct module_set *set = NULL;
	struct req_b_counts *c = req_b_counts(), before = *c;
	char *b = lenv_test_module("req_b");
	add_module("10-b1.ini", "b1", b, NULL);
	add_module("20-b2.ini", "b2", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", lenv_err);
	ck_assert_uint_eq(set->n, 2);
	ck_assert_ptr_eq(set->mods[0]->lib, set->mods[1]->lib);
	ck_assert_ptr_ne(set->mods[0]->conf, set->mods[1]->conf);
	ck_assert_int_eq(c->loads, before.loads + 2);
	modules_free(set);
	ck_assert_int_eq(c->unloads, before.unloads + 2);
	config_free(cfg);
	free(b);
}
END_TEST

START_TEST(test_duplicate_descriptor_name_is_refused)
{
	struct config *cfg;
	struct module_set *set = NULL;
	char *echo = lenv_bundled_module("echo"), *dup = lenv_test_module("dup_name");
	add_module("10-echo.ini", "echo", echo, NULL);
	add_module("20-dup.ini", "dup", dup, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *want = lenv_fmt("%s/conf.d/20-dup.ini:1: module 'dup' (%s): a module named 'echo' is "
	                 "already loaded from %s",
	                 lenv_dir, dup, echo);
	ck_assert_str_eq(lenv_err, want);
	config_free(cfg);
	free(want);
	free(echo);
	free(dup);
}
END_TEST

START_TEST(test_old_minor_loads)
{
	struct config *cfg;
	struct module_set *set = NULL;
	char *o = lenv_test_module("old_minor");
	add_module("10-old.ini", "old", o, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", lenv_err);
	ck_assert_uint_eq(set->n, 1);
	ck_assert_int_eq(set->mods[0]->loaded, 1);
	ck_assert_uint_eq(set->mods[0]->desc->abi_minor, 0);
	modules_free(set);
	config_free(cfg);
	free(o);
}
END_TEST

START_TEST(test_no_modules_is_an_empty_set)
{
	struct config *cfg;
	struct module_set *set = NULL;
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", lenv_err);
	ck_assert_uint_eq(set->n, 0);
	ck_assert_ptr_null(modules_find(set, "x"));
	modules_free(set);
	config_free(cfg);
}
END_TEST

/* On reload, reconfigure receives the previous instance of the same name,
 * and only when it is the same module. */
START_TEST(test_reconfigure_gets_previous_instance)
{
	struct config *cfg[4];
	struct module_set *set[4] = {NULL};
	struct req_b_counts *c = req_b_counts(), before = *c;
	char *b = lenv_test_module("req_b"), *o = lenv_test_module("old_minor");
	add_module("10-req_b.ini", "req_b", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg[0], NULL, &set[0]) == 0, "%s", lenv_err);
	ck_assert_int_eq(c->reconfigures, before.reconfigures);
	ck_assert_msg(load_tmp_config(&cfg[1], set[0], &set[1]) == 0, "%s", lenv_err);
	ck_assert_int_eq(c->reconfigures, before.reconfigures + 1);

	/* [module req_b] now names another file: that generation's 'req_b' is
	 * old_minor, whose state req_b must not be handed. */
	add_module("10-req_b.ini", "req_b", o, NULL);
	ck_assert_msg(load_tmp_config(&cfg[2], set[1], &set[2]) == 0, "%s", lenv_err);
	add_module("10-req_b.ini", "req_b", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg[3], set[2], &set[3]) == 0, "%s", lenv_err);
	ck_assert_int_eq(c->reconfigures, before.reconfigures + 1);
	for (int i = 3; i >= 0; i--) {
		modules_free(set[i]);
		config_free(cfg[i]);
	}
	ck_assert_int_eq(c->unloads, before.unloads + 3);
	free(b);
	free(o);
}
END_TEST

START_TEST(test_worker_hooks_run_in_order_and_undo)
{
	struct config *cfg;
	struct module_set *set = NULL;
	struct req_b_counts *c = req_b_counts(), before = *c;
	char *b = lenv_test_module("req_b");
	add_module("10-b1.ini", "b1", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", lenv_err);
	ck_assert_msg(modules_worker_init(set, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
	ck_assert_int_eq(set->mods[0]->worker_ready, 1);
	ck_assert_int_eq(c->worker_inits, before.worker_inits + 1);
	modules_worker_fini(set);
	ck_assert_int_eq(set->mods[0]->worker_ready, 0);
	ck_assert_int_eq(c->worker_finis, before.worker_finis + 1);
	modules_worker_fini(set); /* twice: nothing more */
	ck_assert_int_eq(c->worker_finis, before.worker_finis + 1);
	modules_free(set);
	config_free(cfg);

	/* b2 fails its worker_init: b1, already done, is finished again. */
	before = *c;
	add_module("20-b2.ini", "b2", b, "fail_worker_init = yes\n");
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", lenv_err);
	ck_assert_int_eq(modules_worker_init(set, lenv_err, sizeof(lenv_err)), -1);
	char *want = lenv_fmt("module 'b2' (%s): worker_init hook failed; see the lines above", b);
	ck_assert_str_eq(lenv_err, want);
	ck_assert_int_eq(c->worker_inits, before.worker_inits + 1);
	ck_assert_int_eq(c->worker_finis, before.worker_finis + 1);
	ck_assert_int_eq(set->mods[0]->worker_ready, 0);
	ck_assert_int_eq(set->mods[1]->worker_ready, 0);
	modules_free(set);
	config_free(cfg);
	free(want);
	free(b);
}
END_TEST

static Suite *modset_suite(void)
{
	Suite *s = suite_create("modset");
	TCase *tc = tcase_create("set");
	tcase_add_checked_fixture(tc, lenv_make_dir, teardown_tmp);
	tcase_add_test(tc, test_requires_loads_requirement_first);
	tcase_add_test(tc, test_unrelated_modules_keep_configuration_order);
	tcase_add_test(tc, test_missing_requirement_is_refused);
	tcase_add_test(tc, test_requirement_cycle_is_refused);
	tcase_add_test(tc, test_failing_load_hook_unloads_the_set);
	tcase_add_test(tc, test_refused_module_runs_no_load_hook);
	tcase_add_test(tc, test_bad_module_key_is_refused_before_load);
	tcase_add_test(tc, test_same_file_under_two_names);
	tcase_add_test(tc, test_duplicate_descriptor_name_is_refused);
	tcase_add_test(tc, test_old_minor_loads);
	tcase_add_test(tc, test_no_modules_is_an_empty_set);
	tcase_add_test(tc, test_reconfigure_gets_previous_instance);
	tcase_add_test(tc, test_worker_hooks_run_in_order_and_undo);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(modset_suite());
}
