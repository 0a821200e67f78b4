/* tests/unit/check_abi.c — the ABI as the host provides it: the layout pins
 * of tests/abi/host-offsets.h (a moved or re-typed released slot fails the
 * build of this file), and at run time the host table's version, size and
 * completeness, MH_HOST_HAS, and what MH_MODULE_DECLARE fills in. */
#include "build-config.h"

#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "loader.h"
#include "modhost.h"

/* The pins were measured on an LP64 target (x86_64, aarch64, ...); other
 * data models have other, equally fixed, layouts. */
#if defined(__LP64__)
#include "../abi/host-offsets.h"
#endif

#define STR_(x) #x
#define STR(x)  STR_(x)

/* A descriptor declared exactly as a module does (the test program exports
 * it too, which is harmless here). */
static int abi_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static const mh_handler_ops abi_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = abi_handle,
};

MH_MODULE_DECLARE(.name = "abi", .version = "1.0", .license = "MIT", .roles = MH_ROLE_HANDLER,
                  .handler = &abi_ops);

START_TEST(test_host_table_version)
{
	ck_assert_uint_eq(hostapi_table.struct_size, sizeof(mh_host_api));
	ck_assert_uint_eq(hostapi_table.abi_major, MH_ABI_MAJOR);
	ck_assert_uint_eq(hostapi_table.abi_minor, MH_ABI_MINOR);
}
END_TEST

/* Every slot after the version header is a function pointer, and the host
 * fills every one: a module that sees struct_size large enough may call it. */
START_TEST(test_host_table_is_complete)
{
	typedef void (*any_fn)(void);
	size_t first = offsetof(mh_host_api, log);
	ck_assert_uint_eq((sizeof(mh_host_api) - first) % sizeof(any_fn), 0);
	size_t slots = (sizeof(mh_host_api) - first) / sizeof(any_fn);
	ck_assert_uint_ge(slots, 1);
	for (size_t i = 0; i < slots; i++) {
		any_fn fn;
		memcpy(&fn, (const char *)&hostapi_table + first + i * sizeof(fn), sizeof(fn));
		ck_assert_msg(fn != NULL, "host table slot %zu (offset %zu) is NULL", i,
		              first + i * sizeof(fn));
	}
}
END_TEST

/* A module probing a host that is older than the function it wants. */
START_TEST(test_host_has_reads_struct_size)
{
	mh_host_api older = hostapi_table;
	ck_assert(MH_HOST_HAS(&hostapi_table, log));
	ck_assert(MH_HOST_HAS(&hostapi_table, worker_id));
	older.struct_size = (uint32_t)offsetof(mh_host_api, worker_id);
	ck_assert(MH_HOST_HAS(&older, timer_cancel));
	ck_assert(!MH_HOST_HAS(&older, worker_id));
	older = hostapi_table;
	older.log = NULL;
	ck_assert(!MH_HOST_HAS(&older, log));
}
END_TEST

START_TEST(test_symbol_name_carries_the_major)
{
	ck_assert_str_eq(MH_MODULE_SYMBOL_NAME, STR(MH_MODULE_SYMBOL));
	ck_assert_str_eq(MH_MODULE_SYMBOL_NAME, "mh_module_v" STR(MH_ABI_MAJOR));
}
END_TEST

START_TEST(test_declare_fills_the_version_fields)
{
	const mh_module_desc *d = &MH_MODULE_SYMBOL;
	ck_assert_uint_eq(d->magic, MH_MODULE_MAGIC);
	ck_assert_uint_eq(d->abi_major, MH_ABI_MAJOR);
	ck_assert_uint_eq(d->abi_minor, MH_MODULE_ABI_MINOR);
	ck_assert_uint_eq(d->struct_size, sizeof(mh_module_desc));
	ck_assert_uint_eq(d->flags, 0);
	for (size_t i = 0; i < sizeof(d->reserved) / sizeof(d->reserved[0]); i++)
		ck_assert_ptr_null(d->reserved[i]);

	mh_module_desc copy;
	char err[512];
	ck_assert_msg(
	    loader_check_desc("abi", "check_abi", d, sizeof(*d), &copy, err, sizeof(err)) == 0,
	    "%s", err);
}
END_TEST

/* Each ops table and the event record start with their own size. */
START_TEST(test_tables_start_with_their_size)
{
	ck_assert_uint_eq(offsetof(mh_codec_ops, struct_size), 0);
	ck_assert_uint_eq(offsetof(mh_handler_ops, struct_size), 0);
	ck_assert_uint_eq(offsetof(mh_auth_ops, struct_size), 0);
	ck_assert_uint_eq(offsetof(mh_policy_ops, struct_size), 0);
	ck_assert_uint_eq(offsetof(mh_observer_ops, struct_size), 0);
	ck_assert_uint_eq(offsetof(mh_event, struct_size), 0);
	ck_assert_uint_eq(offsetof(mh_host_api, struct_size), 0);
	ck_assert_uint_eq(offsetof(mh_module_desc, magic), 0);
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("abi");
	tcase_add_test(tc, test_host_table_version);
	tcase_add_test(tc, test_host_table_is_complete);
	tcase_add_test(tc, test_host_has_reads_struct_size);
	tcase_add_test(tc, test_symbol_name_carries_the_major);
	tcase_add_test(tc, test_declare_fills_the_version_fields);
	tcase_add_test(tc, test_tables_start_with_their_size);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(abi_suite());
}
