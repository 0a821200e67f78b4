/* modules/kvresp.h — what the Redis face (modules/kvresp.c) lends to the
 * commands on the store (modules/kvdb.c): the reply writer, the command
 * being run, and the argument parsers.  modules/kv.c calls kvresp.c
 * through kv.h alone. */
#ifndef MH_KVRESP_H
#define MH_KVRESP_H

#include <stddef.h>
#include <stdint.h>

#include "modhost.h"

struct kv_instance;
struct kvstore;

/* A reply under construction: small pieces gather in buf and go to the
 * reply body in one step; large values go straight to the body. */
struct kvresp_out {
	mh_buf *body;
	int proto; /* 2 or 3 */
	int failed;
	int error_status; /* an error reply was written: its mh_status, else 0 */
	size_t n;
	char buf[4096];
};

/* An argument kept apart from its request: a command queued by MULTI. */
struct kvresp_argref {
	const char *data;
	size_t len;
};

/* One command being run: the request, its arguments and the reply. */
struct kvresp_cmd {
	struct kv_instance *inst;
	struct kvstore *s;
	mh_msg *req, *reply;
	const char *name; /* upper case */
	size_t name_len;
	size_t argc; /* arguments after the command */
	const struct kvresp_argref *args; /* under EXEC: the queued ones; NULL: req's */
	struct kvresp_out *o;
	int close; /* QUIT: close after the reply */
};

/* How a command behaves inside MULTI (kvmulti.c). */
enum {
	KVRESP_NOW = 1,      /* runs at once, never queued: MULTI, EXEC, DISCARD, QUIT, ... */
	KVRESP_NO_MULTI = 2, /* refused inside MULTI, which then aborts: HELLO, AUTH */
};

/* Each command: its name, arity (Redis style: N = exactly N words with the
 * command, -N = at least N), function and KVRESP_NOW / KVRESP_NO_MULTI. */
struct kvresp_command {
	const char *name;
	size_t len;
	int arity;
	void (*run)(struct kvresp_cmd *c);
	int flags;
};

/* The command named name (upper case), or NULL. */
const struct kvresp_command *kvresp_lookup(const char *name, size_t len);
/* Whether c's argument count fits cmd's arity. */
int kvresp_arity_ok(const struct kvresp_cmd *c, const struct kvresp_command *cmd);
/* The replies to an unknown command and a wrong argument count. */
void kvresp_unknown_command(struct kvresp_cmd *c);

/* Writing RESP into o.  A write that fails sets o->failed; the command
 * goes on and kvresp_handle turns the reply into an error. */
void kvresp_raw(struct kvresp_out *o, const void *data, size_t len);
void kvresp_str(struct kvresp_out *o, const char *s);
void kvresp_line_int(struct kvresp_out *o, char prefix, int64_t v); /* "<prefix><v>\r\n" */
void kvresp_int(struct kvresp_out *o, int64_t v);
void kvresp_bulk(struct kvresp_out *o, const void *data, size_t len);
void kvresp_cbulk(struct kvresp_out *o, const char *s);
void kvresp_null(struct kvresp_out *o); /* RESP3 null, or a RESP2 nil bulk */
void kvresp_array(struct kvresp_out *o, int64_t n);
void kvresp_map(struct kvresp_out *o, int64_t n);          /* n pairs (a flat array in RESP2) */
void kvresp_error(struct kvresp_out *o, const char *text); /* text: one line */

/* The error texts more than one command writes. */
extern const char kvresp_err_int[];
extern const char kvresp_err_syntax[];

/* Argument i after the command (its bytes stay the request's), whether it
 * is word (case-insensitive), and it parsed as a Redis integer (0 or -1). */
const char *kvresp_arg(const struct kvresp_cmd *c, size_t i, size_t *len);
int kvresp_arg_is(const struct kvresp_cmd *c, size_t i, const char *word);
int kvresp_arg_ll(const struct kvresp_cmd *c, size_t i, int64_t *v);
/* len bytes parsed as a Redis integer (as INCR reads a stored value): 0 or -1. */
int kvresp_value_ll(const uint8_t *v, size_t len, int64_t *out);
/* The reply "ERR wrong number of arguments for '<command>' command". */
void kvresp_wrong_args(struct kvresp_cmd *c);

/* The reply "ERR unknown subcommand '<argument 0>'. Try <COMMAND> HELP." */
void kvresp_unknown_subcommand(struct kvresp_cmd *c);
/* The reply "ERR invalid expire time in '<command>' command". */
void kvresp_bad_expire(struct kvresp_cmd *c);

/* ---- transactions (modules/kvmulti.c) ---------------------------------------- */

/* From kv's load hook: whether the host keeps per-connection state. */
void kvmulti_init(const mh_host_api *api);
/* On a connection inside MULTI: queue c (+QUEUED) or refuse it (an error,
 * and EXEC will abort), and return 1; return 0 when c runs now (no MULTI,
 * or a KVRESP_NOW command).  cmd is NULL for an unknown command. */
int kvmulti_intercept(struct kvresp_cmd *c, const struct kvresp_command *cmd);
void kvmulti_cmd_multi(struct kvresp_cmd *c);
void kvmulti_cmd_exec(struct kvresp_cmd *c);
void kvmulti_cmd_discard(struct kvresp_cmd *c);
void kvmulti_cmd_watch(struct kvresp_cmd *c);
void kvmulti_cmd_unwatch(struct kvresp_cmd *c);

#endif
