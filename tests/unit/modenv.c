/* tests/unit/modenv.c — a module instance built by hand for the unit
 * suites (check_codecs, check_http1, check_resp); see modenv.h. */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "conn.h"
#include "modconf.h"
#include "modenv.h"

void modenv_open_as(struct modenv *e, const char *file, const char *name,
                    const char *const *settings)
{
	char err[512], path[4096];
	const char *dir = getenv("MODHOST_MODULE_PATH");
	ck_assert_msg(dir != NULL, "MODHOST_MODULE_PATH is not set (run through make check)");
	snprintf(path, sizeof(path), "%s/%s.so", dir, file);

	struct module_lib *lib = NULL;
	ck_assert_msg(loader_open(file, path, &lib, err, sizeof(err)) == 0, "%s", err);

	memset(e, 0, sizeof(*e));
	size_t n = 0;
	for (; settings && settings[n]; n++) {
		ck_assert_uint_lt(n, MODENV_MAX_SETTINGS);
		char *kv = strdup(settings[n]);
		ck_assert_ptr_nonnull(kv);
		char *eq = strchr(kv, '=');
		ck_assert_ptr_nonnull(eq);
		*eq = '\0';
		e->entries[n] = (struct cfg_entry){
		    .key = kv, .value = eq + 1, .file = "test.ini", .line = (int)n + 2};
		if (n > 0)
			e->entries[n - 1].next = &e->entries[n];
	}
	struct cfg_section sec = {
	    .kind = "module",
	    .name = (char *)name,
	    .file = "test.ini",
	    .line = 1,
	    .entries = n ? e->entries : NULL,
	};
	ck_assert_msg(modconf_build(name, n ? &sec : NULL, lib->desc.config_keys, "/", &e->conf,
	                            err, sizeof(err)) == 0,
	              "%s", err);
	e->inst.name = (char *)name;
	e->inst.lib = lib;
	e->inst.desc = &lib->desc;
	e->inst.conf = e->conf;
	ck_assert_ptr_nonnull(lib->desc.load);
	ck_assert_int_eq(lib->desc.load(&e->inst, &hostapi_table), 0);
	e->inst.loaded = 1;

	e->conn = calloc(1, sizeof(*e->conn));
	ck_assert_ptr_nonnull(e->conn);
	memset(&e->sl, 0, sizeof(e->sl));
	memset(&e->ls, 0, sizeof(e->ls));
	e->ls.name = "unit";
	e->sl.ls = &e->ls;
	e->conn->sl = &e->sl;
	e->in = buf_new();
	ck_assert_ptr_nonnull(e->in);
	e->codec = lib->desc.codec;
	if (e->codec) {
		e->state = calloc(1, e->codec->conn_state_size ? e->codec->conn_state_size : 1);
		ck_assert_ptr_nonnull(e->state);
		if (e->codec->conn_init)
			ck_assert_int_eq(e->codec->conn_init(&e->inst, e->conn, e->state), 0);
	}
}

void modenv_open(struct modenv *e, const char *file, const char *const *settings)
{
	modenv_open_as(e, file, file, settings);
}

void modenv_close(struct modenv *e)
{
	if (e->codec && e->codec->conn_fini)
		e->codec->conn_fini(&e->inst, e->conn, e->state);
	free(e->state);
	conn_release_data(e->conn);
	arena_free(&e->conn->arena);
	free(e->conn);
	buf_free(e->in);
	if (e->inst.desc->unload)
		e->inst.desc->unload(&e->inst);
	modconf_free(e->conf);
	for (size_t i = 0; i < MODENV_MAX_SETTINGS; i++)
		free(e->entries[i].key);
}

void modenv_feed(struct modenv *e, const void *data, size_t len)
{
	ck_assert_int_eq(buf_add(e->in, data, len), 0);
}

void modenv_feed_str(struct modenv *e, const char *s)
{
	modenv_feed(e, s, strlen(s));
}

int modenv_decode(struct modenv *e, struct mh_msg **out)
{
	*out = NULL;
	return e->codec->decode(&e->inst, e->conn, e->state, (mh_buf *)e->in, out);
}

int modenv_encode(struct modenv *e, struct mh_msg *reply, struct mh_buf *wire)
{
	return e->codec->encode(&e->inst, e->conn, e->state, (mh_msg *)reply, (mh_buf *)wire);
}

void modenv_expect_need_more(struct modenv *e, const char *what)
{
	struct mh_msg *msg;
	int r = modenv_decode(e, &msg);
	ck_assert_msg(r == MH_DECODE_NEED_MORE, "%s: decode returned %d, want NEED_MORE", what, r);
	ck_assert_ptr_null(msg);
}

int modenv_buf_equals(struct mh_buf *b, const void *data, size_t len)
{
	if (buf_length(b) != len)
		return 0;
	return len == 0 || memcmp(buf_data(b), data, len) == 0;
}
