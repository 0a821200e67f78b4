/* tests/unit/check_loader.c — the module loader: each refusal's exact
 * message (each test module in tests/modules breaks one rule), the
 * descriptor checks on hand-made descriptors, and modules_load on real
 * configuration files: ordering by requires, missing and cyclic
 * requirements, a failing load hook, hooks, duplicate names. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <ltdl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "config.h"
#include "loader.h"
#include "scratch.h"

#define DESC_SIZE_1_0 (offsetof(mh_module_desc, reserved) + sizeof(((mh_module_desc *)0)->reserved))

/* The counters tests/modules/req_b.c keeps. */
struct req_b_counts {
	int loads, reconfigures, worker_inits, worker_finis, unloads;
};

static char err[1024];
static char *tmpdir; /* the test's scratch folder: make_tmpdir */

/* ---- helpers ------------------------------------------------------------- */

/* A malloc'ed printf. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	ck_assert_int_ge(vasprintf(&s, f, ap), 0);
	va_end(ap);
	return s;
}

/* Path of test module NAME: $MH_TEST_MODULES/NAME.so (malloc'ed). */
static char *test_module(const char *name)
{
	const char *dir = getenv("MH_TEST_MODULES");
	ck_assert_msg(dir && *dir, "MH_TEST_MODULES is not set (run through make check)");
	return fmt("%s/%s.so", dir, name);
}

/* Path of bundled module NAME: $MODHOST_MODULE_PATH/NAME.so (malloc'ed). */
static char *bundled_module(const char *name)
{
	const char *dir = getenv("MODHOST_MODULE_PATH");
	ck_assert_msg(dir && *dir, "MODHOST_MODULE_PATH is not set (run through make check)");
	return fmt("%s/%s.so", dir, name);
}

/* A new scratch folder in tmpdir, holding modhost.ini ("[server]
 * workers = 0") and an empty conf.d; remove_tmpdir removes it. */
static void make_tmpdir(void)
{
	tmpdir = scratch_mkdtemp("loader");
	ck_assert_msg(tmpdir != NULL, "mkdtemp loader-XXXXXX: %s", strerror(errno));
	char *confd = fmt("%s/conf.d", tmpdir);
	ck_assert_int_eq(mkdir(confd, 0755), 0);
	free(confd);
	free(scratch_write(tmpdir, "modhost.ini", "[server]\nworkers = 0\n"));
}

static void remove_tmpdir(void)
{
	scratch_remove(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

/* Write conf.d/FILE: "[module NAME]\nfile = PATH\n" plus extra lines. */
static void add_module(const char *file, const char *name, const char *path, const char *extra)
{
	char *rel = fmt("conf.d/%s", file);
	char *text = fmt("[module %s]\nfile = %s\n%s", name, path, extra ? extra : "");
	free(scratch_write(tmpdir, rel, text));
	free(rel);
	free(text);
}

/* config_load + modules_load of the folder.  Returns modules_load's result;
 * *cfg must be freed by the caller. */
static int load_tmp_config(struct config **cfg, const struct module_set *previous,
                           struct module_set **out)
{
	char *main_ini = fmt("%s/modhost.ini", tmpdir);
	int rc = config_load(main_ini, cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "config_load: %s", err);
	free(main_ini);
	err[0] = '\0';
	return modules_load(*cfg, previous, out, err, sizeof(err));
}

/* The live counters of tests/modules/req_b.so in this process. */
static struct req_b_counts *req_b_counts(void)
{
	struct module_lib *lib;
	char *path = test_module("req_b");
	ck_assert_msg(loader_open("req_b", path, &lib, err, sizeof(err)) == 0, "%s", err);
	free(path);
	struct req_b_counts *c = lt_dlsym((lt_dlhandle)lib->handle, "req_b_counts");
	ck_assert_ptr_nonnull(c);
	return c;
}

/* loader_open(name, test module file) must fail with exactly want. */
static void expect_open_refused(const char *name, const char *file, const char *want)
{
	struct module_lib *lib = NULL;
	err[0] = '\0';
	ck_assert_int_eq(loader_open(name, file, &lib, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(lib);
}

/* ---- refusals of real files ----------------------------------------------- */

START_TEST(test_refuses_other_major)
{
	char *path = test_module("abi_v2");
	char *want = fmt("module 'abi_v2' (%s): built for ABI 2.3, this host provides ABI %d.%d; "
	                 "rebuild the module against SDK %d.%d",
	                 path, MH_ABI_MAJOR, MH_ABI_MINOR, MH_ABI_MAJOR, MH_ABI_MINOR);
	expect_open_refused("abi_v2", path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_refuses_newer_minor)
{
	char *path = test_module("newer_minor");
	char *want =
	    fmt("module 'newer_minor' (%s): needs ABI %d.99, this host provides %d.%d; "
	        "upgrade modhost or rebuild the module against SDK %d.%d",
	        path, MH_ABI_MAJOR, MH_ABI_MAJOR, MH_ABI_MINOR, MH_ABI_MAJOR, MH_ABI_MINOR);
	expect_open_refused("newer_minor", path, want);
	/* A refused file is not remembered as good: the second try says the
	 * same. */
	expect_open_refused("newer_minor", path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_refuses_small_descriptor)
{
	char *path = test_module("small_desc");
	char *want = fmt("module 'sd' (%s): descriptor is 16 bytes, ABI %d.0 needs at least %zu; "
	                 "rebuild the module",
	                 path, MH_ABI_MAJOR, DESC_SIZE_1_0);
	expect_open_refused("sd", path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_refuses_file_without_descriptor)
{
	char *path = test_module("no_desc");
	char *want =
	    fmt("module 'no_desc' (%s): no modhost descriptor (symbol mh_module_v1); not a "
	        "modhost module, or built without MH_MODULE_DECLARE",
	        path);
	expect_open_refused("no_desc", path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_refuses_missing_file)
{
	make_tmpdir();
	char *path = fmt("%s/ghost.so", tmpdir);
	char *want =
	    fmt("module 'ghost' (%s): cannot open: %s; check the path or the [module ghost] "
	        "file = setting",
	        path, strerror(ENOENT));
	expect_open_refused("ghost", path, want);
	free(want);
	free(path);
	remove_tmpdir();
}
END_TEST

START_TEST(test_refuses_file_that_is_not_elf)
{
	make_tmpdir();
	char *path = scratch_write(tmpdir, "junk.so", "this is not a shared object\n");
	struct module_lib *lib = NULL;
	ck_assert_int_eq(loader_open("junk", path, &lib, err, sizeof(err)), -1);
	char *head = fmt("module 'junk' (%s): cannot open: ", path);
	const char *tail = "; check the path or the [module junk] file = setting";
	ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "got: %s", err);
	ck_assert_msg(strlen(err) > strlen(head) + strlen(tail) &&
	                  strcmp(err + strlen(err) - strlen(tail), tail) == 0,
	              "got: %s", err);
	/* The dynamic linker's reason, without the path printed twice. */
	ck_assert_msg(strstr(err + strlen(head), path) == NULL, "path repeated: %s", err);
	free(head);
	free(path);
	remove_tmpdir();
}
END_TEST

START_TEST(test_old_minor_is_accepted)
{
	struct module_lib *lib = NULL;
	char *path = test_module("old_minor");
	ck_assert_msg(loader_open("old_minor", path, &lib, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(lib);
	ck_assert_str_eq(lib->path, path);
	ck_assert_str_eq(lib->desc.name, "old_minor");
	ck_assert_uint_eq(lib->desc.abi_major, MH_ABI_MAJOR);
	ck_assert_uint_eq(lib->desc.abi_minor, 0);
	ck_assert_ptr_nonnull(lib->desc.handler);
	ck_assert_ptr_nonnull(lib->desc.handler->handle);
	free(path);
}
END_TEST

START_TEST(test_same_file_is_one_library)
{
	struct module_lib *a = NULL, *b = NULL, *c = NULL;
	char *path = test_module("req_b");
	make_tmpdir();
	char *link = fmt("%s/other-name.so", tmpdir);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_msg(loader_open("one", path, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(loader_open("two", path, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(loader_open("three", link, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_eq(a, b);
	ck_assert_ptr_eq(a, c);
	free(link);
	free(path);
	remove_tmpdir();
}
END_TEST

/* Copy the file at from to to (created or truncated). */
static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	ck_assert_msg(in && out, "copy %s to %s: %s", from, to, strerror(errno));
	char block[8192];
	size_t n;
	while ((n = fread(block, 1, sizeof(block), in)) > 0)
		ck_assert_uint_eq(fwrite(block, 1, n, out), n);
	ck_assert_int_eq(ferror(in), 0);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

/* A module file replaced at a path loaded before (a new file renamed over
 * the old, as an upgrade installs it) is loaded anew on the next load (a
 * reload), not handed back as the old mapping; unchanged, it stays one
 * library. */
START_TEST(test_replaced_file_at_same_path_is_loaded_anew)
{
	struct module_lib *a = NULL, *b = NULL, *c = NULL;
	make_tmpdir();
	char *path = fmt("%s/upgrade.so", tmpdir), *next = fmt("%s/upgrade.so.new", tmpdir);
	char *echo = bundled_module("echo"), *line = bundled_module("line");
	copy_file(echo, path);
	ck_assert_msg(loader_open("up", path, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(a->desc.name, "echo");
	ck_assert_int_eq(a->copy_fd, -1);

	copy_file(line, next);
	ck_assert_int_eq(rename(next, path), 0);
	ck_assert_msg(loader_open("up", path, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_ne(a, b);
	ck_assert_str_eq(b->desc.name, "line");
	ck_assert_int_ge(b->copy_fd, 0);
	ck_assert_str_eq(a->desc.name, "echo"); /* the old code is still there */

	ck_assert_msg(loader_open("again", path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_eq(b, c);
	free(echo);
	free(line);
	free(next);
	free(path);
	remove_tmpdir();
}
END_TEST

/* ---- descriptor checks on hand-made descriptors ------------------------- */

static int stub_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static uint64_t stub_max(mh_module *m)
{
	return 1024;
}

static int stub_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out)
{
	return MH_DECODE_NEED_MORE;
}

static const mh_handler_ops good_handler = {.struct_size = sizeof(mh_handler_ops),
                                            .handle = stub_handle};
static const mh_handler_ops small_handler = {.struct_size = 4, .handle = stub_handle};
static const mh_handler_ops empty_handler = {.struct_size = sizeof(mh_handler_ops)};
static const mh_codec_ops codec_without_encode = {
    .struct_size = sizeof(mh_codec_ops), .max_message = stub_max, .decode = stub_decode};
static const mh_config_key keys_bad_type[] = {{"x", 42, "1", "help"}, {NULL, 0, NULL, NULL}};
static const mh_config_key keys_twice[] = {
    {"x", MH_CONFIG_INT, "1", "help"}, {"x", MH_CONFIG_INT, "2", "help"}, {NULL, 0, NULL, NULL}};
static const mh_config_key keys_host[] = {{"file", MH_CONFIG_PATH, "a", "help"},
                                          {NULL, 0, NULL, NULL}};

static mh_module_desc good_desc(void)
{
	mh_module_desc d = {
	    .magic = MH_MODULE_MAGIC,
	    .abi_major = MH_ABI_MAJOR,
	    .abi_minor = MH_ABI_MINOR,
	    .struct_size = sizeof(mh_module_desc),
	    .name = "t",
	    .roles = MH_ROLE_HANDLER,
	    .handler = &good_handler,
	};
	return d;
}

/* One broken descriptor and the reason the loader must give. */
struct desc_case {
	void (*breaks)(mh_module_desc *d);
	/* After "module 't' (/x/t.so): "; {ABI} is this host's major.minor,
	 * {MAJOR} its major, {HSIZE} sizeof(mh_handler_ops). */
	const char *want;
};

static void bad_magic(mh_module_desc *d)
{
	d->magic = 0x12345678;
}
static void major_zero(mh_module_desc *d)
{
	d->abi_major = 0;
	d->abi_minor = 5;
}
static void reserved_set(mh_module_desc *d)
{
	d->reserved[3] = d;
}
static void unknown_flag(mh_module_desc *d)
{
	d->flags = 0x4;
}
static void no_name(mh_module_desc *d)
{
	d->name = NULL;
}
static void empty_name(mh_module_desc *d)
{
	d->name = "";
}
static void unknown_role(mh_module_desc *d)
{
	d->roles |= 0x40;
}
static void role_without_ops(mh_module_desc *d)
{
	d->handler = NULL;
}
static void ops_without_role(mh_module_desc *d)
{
	d->roles = 0;
}
static void ops_too_small(mh_module_desc *d)
{
	d->handler = &small_handler;
}
static void handler_without_handle(mh_module_desc *d)
{
	d->handler = &empty_handler;
}
static void codec_without_encode_op(mh_module_desc *d)
{
	d->roles |= MH_ROLE_CODEC;
	d->codec = &codec_without_encode;
}
static void key_bad_type(mh_module_desc *d)
{
	d->config_keys = keys_bad_type;
}
static void key_twice(mh_module_desc *d)
{
	d->config_keys = keys_twice;
}
static void key_of_host(mh_module_desc *d)
{
	d->config_keys = keys_host;
}

static const struct desc_case desc_cases[] = {
    {bad_magic, "bad descriptor magic 0x12345678; not a modhost module"},
    {major_zero,
     "built for ABI 0.5, this host provides ABI {ABI}; rebuild the module against SDK {ABI}"},
    {reserved_set, "descriptor field reserved[3] is set; it must be NULL: declare the descriptor "
                   "with MH_MODULE_DECLARE"},
    {unknown_flag, "unknown descriptor flags 0x4 (ABI {ABI} defines none); rebuild the module "
                   "against SDK {ABI}"},
    {no_name, "descriptor has no name; set .name in MH_MODULE_DECLARE"},
    {empty_name, "descriptor has no name; set .name in MH_MODULE_DECLARE"},
    {unknown_role, "unknown role bits 0x40; ABI {ABI} defines codec, auth, policy, handler and "
                   "observer"},
    {role_without_ops, "declares the handler role but has no .handler ops table; set .handler "
                       "or drop MH_ROLE_HANDLER"},
    {ops_without_role, "has a .handler ops table but does not declare MH_ROLE_HANDLER in .roles; "
                       "add it or drop .handler"},
    {ops_too_small,
     "handler ops table is 4 bytes, ABI {MAJOR}.0 needs at least {HSIZE}; set .struct_size "
     "= sizeof(mh_handler_ops) and rebuild the module"},
    {handler_without_handle, "handler ops table has no handle; a handler must provide handle"},
    {codec_without_encode_op, "codec ops table has no encode; a codec must provide max_message, "
                              "decode and encode"},
    {key_bad_type, "config key 'x' has unknown type 42; ABI {ABI} defines types 1 to 7"},
    {key_twice, "config key 'x' is declared twice; fix its key table"},
    {key_of_host, "config key 'file' is reserved for the host; rename it"},
};

/* want with its {NAME} placeholders filled in (malloc'ed). */
static char *expand(const char *want)
{
	char abi[32], major[16], hsize[16];
	snprintf(abi, sizeof(abi), "%d.%d", MH_ABI_MAJOR, MH_ABI_MINOR);
	snprintf(major, sizeof(major), "%d", MH_ABI_MAJOR);
	snprintf(hsize, sizeof(hsize), "%zu", sizeof(mh_handler_ops));
	const char *names[] = {"{ABI}", "{MAJOR}", "{HSIZE}"};
	const char *values[] = {abi, major, hsize};
	char *out = fmt("%s", ""), *next;
	while (*want) {
		size_t k, n = 1;
		for (k = 0; k < 3; k++)
			if (strncmp(want, names[k], strlen(names[k])) == 0)
				break;
		if (k < 3) {
			next = fmt("%s%s", out, values[k]);
			n = strlen(names[k]);
		} else {
			next = fmt("%s%c", out, *want);
		}
		free(out);
		out = next;
		want += n;
	}
	return out;
}

START_TEST(test_descriptor_rule)
{
	mh_module_desc d = good_desc(), copy;
	desc_cases[_i].breaks(&d);
	char *tail = expand(desc_cases[_i].want);
	char *want = fmt("module 't' (/x/t.so): %s", tail);
	ck_assert_int_eq(loader_check_desc("t", "/x/t.so", &d, sizeof(d), &copy, err, sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, want);
	free(tail);
	free(want);
}
END_TEST

START_TEST(test_descriptor_good_is_copied)
{
	mh_module_desc d = good_desc(), copy;
	memset(&copy, 0xff, sizeof(copy));
	ck_assert_msg(loader_check_desc("t", "/x/t.so", &d, sizeof(d), &copy, err, sizeof(err)) ==
	                  0,
	              "%s", err);
	ck_assert_int_eq(memcmp(&d, &copy, sizeof(d)), 0);
}
END_TEST

/* A module built against a later 1.x SDK that still asks only for 1.0: its
 * descriptor is larger; the host reads its own part. */
START_TEST(test_descriptor_larger_is_accepted)
{
	struct {
		mh_module_desc d;
		void *later[4];
	} big = {.d = good_desc(), .later = {&big, &big, &big, &big}};
	mh_module_desc copy;
	big.d.struct_size = sizeof(big);
	ck_assert_msg(
	    loader_check_desc("t", "/x/t.so", &big, sizeof(big), &copy, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(copy.name, "t");
	ck_assert_uint_eq(copy.struct_size, sizeof(big));
}
END_TEST

START_TEST(test_descriptor_larger_than_its_symbol)
{
	mh_module_desc d = good_desc(), copy;
	d.struct_size = sizeof(d) + 64;
	ck_assert_int_eq(loader_check_desc("t", "/x/t.so", &d, sizeof(d), &copy, err, sizeof(err)),
	                 -1);
	char *want =
	    fmt("module 't' (/x/t.so): descriptor says it is %zu bytes but its symbol holds "
	        "%zu; the file is damaged: rebuild the module",
	        sizeof(d) + 64, sizeof(d));
	ck_assert_str_eq(err, want);
	free(want);
}
END_TEST

START_TEST(test_descriptor_symbol_too_small)
{
	uint32_t tiny[2] = {MH_MODULE_MAGIC, 0};
	mh_module_desc copy;
	ck_assert_int_eq(
	    loader_check_desc("t", "/x/t.so", tiny, sizeof(tiny), &copy, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	                 "module 't' (/x/t.so): descriptor symbol mh_module_v1 is 8 bytes, too "
	                 "small for a descriptor; not a modhost module");
}
END_TEST

/* ---- modules_load on configuration files ---------------------------------- */

static void teardown_tmp(void)
{
	remove_tmpdir();
}

START_TEST(test_requires_loads_requirement_first)
{
	struct config *cfg;
	struct module_set *set = NULL;
	struct req_b_counts *c = req_b_counts(), before = *c;
	char *a = test_module("req_a"), *b = test_module("req_b");
	add_module("10-req_a.ini", "req_a", a, NULL);
	add_module("20-req_b.ini", "req_b", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", err);
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
	char *a = test_module("req_a"), *b = test_module("req_b"), *o = test_module("old_minor");
	add_module("10-zz.ini", "zz", o, NULL);
	add_module("20-req_a.ini", "req_a", a, NULL);
	add_module("30-aa.ini", "aa", o, NULL);
	add_module("40-req_b.ini", "req_b", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", err);
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
	char *a = test_module("req_a");
	add_module("10-req_a.ini", "req_a", a, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *want = fmt("module 'req_a' (%s): requires module 'req_b', which is not configured; "
	                 "add [module req_b]",
	                 a);
	ck_assert_str_eq(err, want);
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
	char *a = test_module("req_a");
	add_module("10-req_a.ini", "req_a", a, NULL);
	add_module("20-req_b.ini", "req_b", a, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *want = fmt("module 'req_b' (%s): requirement cycle req_b -> req_b", a);
	ck_assert_str_eq(err, want);
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
	char *b = test_module("req_b"), *lf = test_module("load_fails");
	add_module("10-req_b.ini", "req_b", b, NULL);
	add_module("20-lf.ini", "lf", lf, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *want = fmt("module 'lf' (%s): load hook failed; see the lines above", lf);
	ck_assert_str_eq(err, want);
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
	char *b = test_module("req_b"), *nm = test_module("newer_minor");
	add_module("10-req_b.ini", "req_b", b, NULL);
	add_module("20-nm.ini", "nm", nm, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *head = fmt("%s/conf.d/20-nm.ini:1: module 'nm' (%s): needs ABI", tmpdir, nm);
	ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "got: %s", err);
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
	char *b = test_module("req_b");
	add_module("10-req_b.ini", "req_b", b, "bogus_key = 1\n");
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	ck_assert_msg(strstr(err, "10-req_b.ini:3") && strstr(err, "bogus_key"), "got: %s", err);
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
	char *b = test_module("req_b");
	add_module("10-b1.ini", "b1", b, NULL);
	add_module("20-b2.ini", "b2", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", err);
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
	char *echo = bundled_module("echo"), *dup = test_module("dup_name");
	add_module("10-echo.ini", "echo", echo, NULL);
	add_module("20-dup.ini", "dup", dup, NULL);
	ck_assert_int_eq(load_tmp_config(&cfg, NULL, &set), -1);
	char *want = fmt("%s/conf.d/20-dup.ini:1: module 'dup' (%s): a module named 'echo' is "
	                 "already loaded from %s",
	                 tmpdir, dup, echo);
	ck_assert_str_eq(err, want);
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
	char *o = test_module("old_minor");
	add_module("10-old.ini", "old", o, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", err);
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
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", err);
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
	char *b = test_module("req_b"), *o = test_module("old_minor");
	add_module("10-req_b.ini", "req_b", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg[0], NULL, &set[0]) == 0, "%s", err);
	ck_assert_int_eq(c->reconfigures, before.reconfigures);
	ck_assert_msg(load_tmp_config(&cfg[1], set[0], &set[1]) == 0, "%s", err);
	ck_assert_int_eq(c->reconfigures, before.reconfigures + 1);

	/* [module req_b] now names another file: that generation's 'req_b' is
	 * old_minor, whose state req_b must not be handed. */
	add_module("10-req_b.ini", "req_b", o, NULL);
	ck_assert_msg(load_tmp_config(&cfg[2], set[1], &set[2]) == 0, "%s", err);
	add_module("10-req_b.ini", "req_b", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg[3], set[2], &set[3]) == 0, "%s", err);
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
	char *b = test_module("req_b");
	add_module("10-b1.ini", "b1", b, NULL);
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", err);
	ck_assert_msg(modules_worker_init(set, err, sizeof(err)) == 0, "%s", err);
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
	ck_assert_msg(load_tmp_config(&cfg, NULL, &set) == 0, "%s", err);
	ck_assert_int_eq(modules_worker_init(set, err, sizeof(err)), -1);
	char *want = fmt("module 'b2' (%s): worker_init hook failed; see the lines above", b);
	ck_assert_str_eq(err, want);
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

static Suite *loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("refusals");
	tcase_add_test(tc, test_refuses_other_major);
	tcase_add_test(tc, test_refuses_newer_minor);
	tcase_add_test(tc, test_refuses_small_descriptor);
	tcase_add_test(tc, test_refuses_file_without_descriptor);
	tcase_add_test(tc, test_refuses_missing_file);
	tcase_add_test(tc, test_refuses_file_that_is_not_elf);
	tcase_add_test(tc, test_old_minor_is_accepted);
	tcase_add_test(tc, test_same_file_is_one_library);
	tcase_add_test(tc, test_replaced_file_at_same_path_is_loaded_anew);
	suite_add_tcase(s, tc);

	tc = tcase_create("descriptor");
	tcase_add_loop_test(tc, test_descriptor_rule, 0,
	                    (int)(sizeof(desc_cases) / sizeof(desc_cases[0])));
	tcase_add_test(tc, test_descriptor_good_is_copied);
	tcase_add_test(tc, test_descriptor_larger_is_accepted);
	tcase_add_test(tc, test_descriptor_larger_than_its_symbol);
	tcase_add_test(tc, test_descriptor_symbol_too_small);
	suite_add_tcase(s, tc);

	tc = tcase_create("set");
	tcase_add_checked_fixture(tc, make_tmpdir, teardown_tmp);
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
	return unit_run(loader_suite());
}
