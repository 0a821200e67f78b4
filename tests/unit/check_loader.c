/* tests/unit/check_loader.c — the module loader: each refusal's exact
 * message (each test module in tests/modules breaks one rule) and the
 * descriptor checks on hand-made descriptors.  check_modset.c loads whole
 * module sets from configuration files. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "config.h"
#include "loader.h"
#include "loaderenv.h"
#include "scratch.h"

#define DESC_SIZE_1_0 (offsetof(mh_module_desc, reserved) + sizeof(((mh_module_desc *)0)->reserved))

/* ---- helpers ------------------------------------------------------------- */

/* loader_open(name, test module file) must fail with exactly want. */
static void expect_open_refused(const char *name, const char *file, const char *want)
{
	struct module_lib *lib = NULL;
	lenv_err[0] = '\0';
	ck_assert_int_eq(loader_open(name, file, &lib, lenv_err, sizeof(lenv_err)), -1);
	ck_assert_str_eq(lenv_err, want);
	ck_assert_ptr_null(lib);
}

/* ---- refusals of real files ----------------------------------------------- */

START_TEST(test_refuses_other_major)
{
	char *path = lenv_test_module("abi_v2");
	char *want = lenv_fmt("module 'abi_v2' (%s): built for ABI 2.3, this host provides ABI %d.%d; "
	                 "rebuild the module against SDK %d.%d",
	                 path, MH_ABI_MAJOR, MH_ABI_MINOR, MH_ABI_MAJOR, MH_ABI_MINOR);
	expect_open_refused("abi_v2", path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_refuses_newer_minor)
{
	char *path = lenv_test_module("newer_minor");
	char *want =
	    lenv_fmt("module 'newer_minor' (%s): needs ABI %d.99, this host provides %d.%d; "
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
	char *path = lenv_test_module("small_desc");
	char *want = lenv_fmt("module 'sd' (%s): descriptor is 16 bytes, ABI %d.0 needs at least %zu; "
	                 "rebuild the module",
	                 path, MH_ABI_MAJOR, DESC_SIZE_1_0);
	expect_open_refused("sd", path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_refuses_file_without_descriptor)
{
	char *path = lenv_test_module("no_desc");
	char *want =
	    lenv_fmt("module 'no_desc' (%s): no modhost descriptor (symbol mh_module_v1); not a "
	        "modhost module, or built without MH_MODULE_DECLARE",
	        path);
	expect_open_refused("no_desc", path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_refuses_missing_file)
{
	lenv_make_dir();
	char *path = lenv_fmt("%s/ghost.so", lenv_dir);
	char *want =
	    lenv_fmt("module 'ghost' (%s): cannot open: %s; check the path or the [module ghost] "
	        "file = setting",
	        path, strerror(ENOENT));
	expect_open_refused("ghost", path, want);
	free(want);
	free(path);
	lenv_remove_dir();
}
END_TEST

START_TEST(test_refuses_file_that_is_not_elf)
{
	lenv_make_dir();
	char *path = scratch_write(lenv_dir, "junk.so", "this is not a shared object\n");
	struct module_lib *lib = NULL;
	ck_assert_int_eq(loader_open("junk", path, &lib, lenv_err, sizeof(lenv_err)), -1);
	char *head = lenv_fmt("module 'junk' (%s): cannot open: ", path);
	const char *tail = "; check the path or the [module junk] file = setting";
	ck_assert_msg(strncmp(lenv_err, head, strlen(head)) == 0, "got: %s", lenv_err);
	ck_assert_msg(strlen(lenv_err) > strlen(head) + strlen(tail) &&
	                  strcmp(lenv_err + strlen(lenv_err) - strlen(tail), tail) == 0,
	              "got: %s", lenv_err);
	/* The dynamic linker's reason, without the path printed twice. */
	ck_assert_msg(strstr(lenv_err + strlen(head), path) == NULL, "path repeated: %s", lenv_err);
	free(head);
	free(path);
	lenv_remove_dir();
}
END_TEST

START_TEST(test_old_minor_is_accepted)
{
	struct module_lib *lib = NULL;
	char *path = lenv_test_module("old_minor");
	ck_assert_msg(loader_open("old_minor", path, &lib, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
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
	char *path = lenv_test_module("req_b");
	lenv_make_dir();
	char *link = lenv_fmt("%s/other-name.so", lenv_dir);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_msg(loader_open("one", path, &a, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
	ck_assert_msg(loader_open("two", path, &b, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
	ck_assert_msg(loader_open("three", link, &c, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
	ck_assert_ptr_eq(a, b);
	ck_assert_ptr_eq(a, c);
	free(link);
	free(path);
	lenv_remove_dir();
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
	lenv_make_dir();
	char *path = lenv_fmt("%s/upgrade.so", lenv_dir), *next = lenv_fmt("%s/upgrade.so.new", lenv_dir);
	char *echo = lenv_bundled_module("echo"), *line = lenv_bundled_module("line");
	copy_file(echo, path);
	ck_assert_msg(loader_open("up", path, &a, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
	ck_assert_str_eq(a->desc.name, "echo");
	ck_assert_int_eq(a->copy_fd, -1);

	copy_file(line, next);
	ck_assert_int_eq(rename(next, path), 0);
	ck_assert_msg(loader_open("up", path, &b, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
	ck_assert_ptr_ne(a, b);
	ck_assert_str_eq(b->desc.name, "line");
	ck_assert_int_ge(b->copy_fd, 0);
	ck_assert_str_eq(a->desc.name, "echo"); /* the old code is still there */

	ck_assert_msg(loader_open("again", path, &c, lenv_err, sizeof(lenv_err)) == 0, "%s", lenv_err);
	ck_assert_ptr_eq(b, c);
	free(echo);
	free(line);
	free(next);
	free(path);
	lenv_remove_dir();
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
	char *out = lenv_fmt("%s", ""), *next;
	while (*want) {
		size_t k, n = 1;
		for (k = 0; k < 3; k++)
			if (strncmp(want, names[k], strlen(names[k])) == 0)
				break;
		if (k < 3) {
			next = lenv_fmt("%s%s", out, values[k]);
			n = strlen(names[k]);
		} else {
			next = lenv_fmt("%s%c", out, *want);
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
	char *want = lenv_fmt("module 't' (/x/t.so): %s", tail);
	ck_assert_int_eq(loader_check_desc("t", "/x/t.so", &d, sizeof(d), &copy, lenv_err, sizeof(lenv_err)),
	                 -1);
	ck_assert_str_eq(lenv_err, want);
	free(tail);
	free(want);
}
END_TEST

START_TEST(test_descriptor_good_is_copied)
{
	mh_module_desc d = good_desc(), copy;
	memset(&copy, 0xff, sizeof(copy));
	ck_assert_msg(loader_check_desc("t", "/x/t.so", &d, sizeof(d), &copy, lenv_err, sizeof(lenv_err)) ==
	                  0,
	              "%s", lenv_err);
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
	    loader_check_desc("t", "/x/t.so", &big, sizeof(big), &copy, lenv_err, sizeof(lenv_err)) == 0,
	    "%s", lenv_err);
	ck_assert_str_eq(copy.name, "t");
	ck_assert_uint_eq(copy.struct_size, sizeof(big));
}
END_TEST

START_TEST(test_descriptor_larger_than_its_symbol)
{
	mh_module_desc d = good_desc(), copy;
	d.struct_size = sizeof(d) + 64;
	ck_assert_int_eq(loader_check_desc("t", "/x/t.so", &d, sizeof(d), &copy, lenv_err, sizeof(lenv_err)),
	                 -1);
	char *want =
	    lenv_fmt("module 't' (/x/t.so): descriptor says it is %zu bytes but its symbol holds "
	        "%zu; the file is damaged: rebuild the module",
	        sizeof(d) + 64, sizeof(d));
	ck_assert_str_eq(lenv_err, want);
	free(want);
}
END_TEST

START_TEST(test_descriptor_symbol_too_small)
{
	uint32_t tiny[2] = {MH_MODULE_MAGIC, 0};
	mh_module_desc copy;
	ck_assert_int_eq(
	    loader_check_desc("t", "/x/t.so", tiny, sizeof(tiny), &copy, lenv_err, sizeof(lenv_err)), -1);
	ck_assert_str_eq(lenv_err,
	                 "module 't' (/x/t.so): descriptor symbol mh_module_v1 is 8 bytes, too "
	                 "small for a descriptor; not a modhost module");
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

	return s;
}

int main(void)
{
	return unit_run(loader_suite());
}
