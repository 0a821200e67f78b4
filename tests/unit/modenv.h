/* tests/unit/modenv.h — a module instance built by hand for unit suites
 * that drive a bundled module without sockets: the built .so loaded with
 * the host's own loader, a modconf made from the module's key table, a
 * zeroed connection on a listener named "unit" (codecs only hand it back
 * to host calls) and a host buffer as the connection's input.  Every helper fails the test on
 * error. */
#ifndef MH_TEST_MODENV_H
#define MH_TEST_MODENV_H

#include <stddef.h>

#include "config.h"
#include "loader.h"
#include "msg.h"
#include "worker.h"

/* How many "key=value" settings modenv_open takes. */
#define MODENV_MAX_SETTINGS 4

/* One loaded module instance with one connection.  Filled by modenv_open,
 * released by modenv_close; the fields are the test's to read. */
struct modenv {
	struct mh_module inst;
	struct modconf *conf;
	const mh_codec_ops *codec; /* NULL for a handler */
	struct mh_conn *conn;      /* calloc'ed: zero but for its listener */
	struct serve_listener sl;  /* the connection's: listener "unit" */
	struct listener_settings ls;
	void *state;               /* the codec's connection state */
	struct mh_buf *in;         /* the connection's input */
	struct cfg_entry entries[MODENV_MAX_SETTINGS];
};

/* Load $MODHOST_MODULE_PATH/FILE.so as instance NAME, with up to
 * MODENV_MAX_SETTINGS "key=value" settings (a NULL-terminated list, or
 * NULL for none; copied); every other key has its default.  Runs the load
 * hook and, for a codec, allocates its state and runs conn_init.  Fails
 * the test on any error.  Release with modenv_close. */
void modenv_open_as(struct modenv *e, const char *file, const char *name,
                    const char *const *settings);
/* modenv_open_as with the instance named after its file. */
void modenv_open(struct modenv *e, const char *file, const char *const *settings);
/* Run conn_fini (if any) and the unload hook, free what modenv_open made.
 * The loaded library itself stays open, as the host's loader keeps it. */
void modenv_close(struct modenv *e);

/* Append bytes (or a string) to the connection's input. */
void modenv_feed(struct modenv *e, const void *data, size_t len);
void modenv_feed_str(struct modenv *e, const char *s);
/* One call of the codec's decode on the input; *out is NULL unless a
 * message was decoded (the caller frees it).  Returns decode's result. */
int modenv_decode(struct modenv *e, struct mh_msg **out);
/* One call of the codec's encode: reply's wire bytes are appended to wire.
 * The caller keeps reply.  Returns encode's result. */
int modenv_encode(struct modenv *e, struct mh_msg *reply, struct mh_buf *wire);
/* Decode must return NEED_MORE and no message; what names the step in
 * the failure message. */
void modenv_expect_need_more(struct modenv *e, const char *what);

/* 1 if b holds exactly the len bytes at data, else 0. */
int modenv_buf_equals(struct mh_buf *b, const void *data, size_t len);

#endif
