/* modules/resp.c — the RESP codec: the Redis protocol, so that redis-cli,
 * redis-benchmark and every Redis client library can talk to a modhost
 * handler.  Requests are RESP2 multibulk arrays of bulk strings or inline
 * commands; replies are whatever RESP the handler wrote (MH_REPLY_RAW), or a
 * bulk string holding the reply body (MH_REPLY_BODY).
 *
 * A request carries MH_FIELD_PROTOCOL "resp", MH_FIELD_COMMAND (the first
 * argument, upper case), MH_FIELD_VERSION ("2" or "3": the protocol version
 * the connection speaks) and the other arguments (msg_arg); with
 * args_body = yes its body also holds those arguments joined by single
 * spaces, for body-oriented handlers such as echo.  The version switch
 * after HELLO is described in doc/internals/resp-kv.md: the codec switches
 * when it decodes `HELLO 2` or `HELLO 3`, and a reply that carries
 * MH_FIELD_VERSION has the last word.
 *
 * Every declared count and length is checked before the bytes behind it are
 * awaited or anything is allocated; a protocol error or a limit is answered
 * with "-ERR Protocol error: ..." and the host closes the connection. */

/* Message fields and arguments are ABI 1.1: load into any 1.1 host. */
#define MH_MODULE_ABI_MINOR 1

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modhost.h"

static int resp_load(mh_module *m, const mh_host_api *api);
static void resp_unload(mh_module *m);
static uint64_t resp_max_message(mh_module *m);
static int resp_conn_init(mh_module *m, mh_conn *c, void *state);
static int resp_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out);
static int resp_encode(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out);
static void resp_encode_error(mh_module *m, mh_conn *c, void *state, int status, const char *text,
                              mh_buf *out);

static const mh_config_key resp_keys[] = {
    {"max_args", MH_CONFIG_INT, "1048576",
     "most arguments (command included) one request may declare"},
    {"max_bulk", MH_CONFIG_SIZE, "16MiB",
     "longest bulk string (one argument) a request may declare"},
    {"max_inline", MH_CONFIG_SIZE, "64KiB", "longest inline command line"},
    {"max_request", MH_CONFIG_SIZE, "64MiB", "largest whole request, in bytes on the wire"},
    {"args_body", MH_CONFIG_BOOL, "no",
     "also put the arguments after the command, space-separated, in the request body"},
    {NULL, 0, NULL, NULL},
};

/* Instance settings, malloc'ed in load and freed in unload. */
struct resp_instance {
	uint64_t max_args, max_bulk, max_inline, max_request;
	int args_body;
};

/* Per-connection state.  While a multibulk request is incomplete, pos and
 * args_left say how far it has been checked, so that a request arriving in
 * pieces is scanned once, not once per piece; the bytes stay in the input
 * until the whole request is there. */
struct resp_conn {
	const struct resp_instance *inst;
	uint64_t pos;       /* bytes at the front checked so far (0: nothing yet) */
	uint64_t need;      /* do not look again before the input holds this many */
	uint64_t args_left; /* arguments still to check after pos */
	uint64_t argc;      /* arguments the request declared */
	uint64_t header;    /* bytes of its "*N\r\n" line */
	uint8_t proto;      /* 2 or 3 */
};

static const mh_codec_ops resp_codec = {
    .struct_size = sizeof(mh_codec_ops),
    .conn_state_size = sizeof(struct resp_conn),
    .max_message = resp_max_message,
    .conn_init = resp_conn_init,
    .decode = resp_decode,
    .encode = resp_encode,
    .encode_error = resp_encode_error,
};

MH_MODULE_DECLARE(.name = "resp", .version = "1.0", .license = "MIT",
                  .description = "the Redis protocol (RESP2, RESP3 after HELLO 3)",
                  .roles = MH_ROLE_CODEC, .config_keys = resp_keys, .load = resp_load,
                  .unload = resp_unload, .codec = &resp_codec);

/* The host table, the same for every instance. */
static const mh_host_api *host;

/* A count or length line ("*N" / "$N") longer than this is refused: no
 * valid one comes near it. */
#define RESP_COUNT_LINE_MAX 32
/* Requests of up to this many arguments, arriving whole, are parsed in
 * one pass. */
#define RESP_FAST_ARGS 8
/* Replies up to this long are copied into the output, not moved. */
#define RESP_COPY_MAX 512
/* Commands up to this long are upper-cased on the stack. */
#define RESP_COMMAND_MAX 64

/* What the internal parse steps return besides the MH_DECODE_* values: an
 * empty request (an empty inline line, "*0", "*-1") was skipped. */
#define RESP_SKIPPED 2

static int resp_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	int64_t max_args = host->config_int(m, "max_args");
	if (max_args < 1 || max_args > INT32_MAX) {
		host->log(m, MH_LOG_ERROR, "max_args must be between 1 and %d, not %lld", INT32_MAX,
		          (long long)max_args);
		return -1;
	}
	struct resp_instance *inst = malloc(sizeof(*inst));
	if (!inst) {
		host->log(m, MH_LOG_ERROR, "out of memory");
		return -1;
	}
	inst->max_args = (uint64_t)max_args;
	inst->max_bulk = host->config_size(m, "max_bulk");
	inst->max_inline = host->config_size(m, "max_inline");
	inst->max_request = host->config_size(m, "max_request");
	inst->args_body = host->config_bool(m, "args_body");
	if (inst->max_inline < 16 || inst->max_request < 16) {
		host->log(m, MH_LOG_ERROR, "max_inline and max_request must be at least 16 bytes");
		free(inst);
		return -1;
	}
	host->module_set_data(m, inst);
	return 0;
}

static void resp_unload(mh_module *m)
{
	free(host->module_data(m));
	host->module_set_data(m, NULL);
}

/* The host's backstop: no request is ever larger than max_request. */
static uint64_t resp_max_message(mh_module *m)
{
	const struct resp_instance *inst = host->module_data(m);
	return inst->max_request > inst->max_inline ? inst->max_request : inst->max_inline + 2;
}

static int resp_conn_init(mh_module *m, mh_conn *c, void *state)
{
	struct resp_conn *st = state;
	memset(st, 0, sizeof(*st));
	st->inst = host->module_data(m);
	st->proto = 2;
	return 0;
}

static void resp_reset(struct resp_conn *st)
{
	st->pos = 0;
	st->need = 0;
	st->args_left = 0;
	st->argc = 0;
	st->header = 0;
}

/* Report a protocol error (status BAD_REQUEST or TOO_LARGE) with the text
 * Redis uses ("Protocol error: ..."); the host replies with encode_error and
 * closes.  Returns MH_DECODE_ERROR. */
static int resp_fail(mh_conn *c, struct resp_conn *st, int status, const char *fmt, ...)
    MH_PRINTF(4, 5);
static int resp_fail(mh_conn *c, struct resp_conn *st, int status, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	host->conn_set_error(c, status, "%s", text);
	resp_reset(st);
	return MH_DECODE_ERROR;
}

/* Parse a count or length line at p[from..have): a decimal integer the
 * way Redis writes and reads them (an optional '-', no '+', no leading
 * zeros, no spaces) ended by CRLF, all within RESP_COUNT_LINE_MAX bytes.
 * Returns 1 with *v and *next (the offset just past the CRLF), 0 when the
 * line may still become valid with more bytes, or -1 when it cannot.  A
 * bad byte is refused as soon as it arrives, before any CRLF. */
static int resp_count_line(const uint8_t *p, uint64_t from, uint64_t have, int64_t *v,
                           uint64_t *next)
{
	uint64_t limit = have - from < RESP_COUNT_LINE_MAX ? have : from + RESP_COUNT_LINE_MAX;
	uint64_t i = from, acc = 0;
	int neg = i < limit && p[i] == '-';
	uint64_t digits = i + (uint64_t)neg;
	for (i = digits; i < limit && p[i] >= '0' && p[i] <= '9'; i++) {
		if (acc > (UINT64_MAX - 9) / 10)
			return -1;
		acc = acc * 10 + (uint64_t)(p[i] - '0');
	}
	if (i + 1 >= limit) /* the digits may go on, or the LF may come */
		return limit - from >= RESP_COUNT_LINE_MAX ? -1
		       : i < limit && p[i] != '\r'         ? -1
		                                           : 0;
	if (i == digits || p[i] != '\r' || p[i + 1] != '\n')
		return -1;
	if (p[digits] == '0' && (i - digits > 1 || neg))
		return -1;
	if (acc > (uint64_t)INT64_MAX + (uint64_t)neg)
		return -1;
	*v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	*next = i + 2;
	return 1;
}

/* One argument of a request, pointing into the input or into the
 * message's arena. */
struct resp_arg {
	const uint8_t *data;
	size_t len;
};

/* Set MH_FIELD_COMMAND to name, upper-cased.  Returns 0 or -1 (memory). */
static int resp_set_command(mh_msg *msg, const uint8_t *name, size_t len)
{
	char stackbuf[RESP_COMMAND_MAX];
	char *upper = len <= sizeof(stackbuf) ? stackbuf : host->msg_alloc(msg, len);
	if (!upper)
		return -1;
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = name[i];
		upper[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
	}
	return host->msg_set_field(msg, MH_FIELD_COMMAND, upper, len);
}

/* The fields every request carries, and the switch on HELLO 2 / HELLO 3
 * (the connection speaks the new version from the next request on; the
 * HELLO request itself still carries the version it arrived in). */
static int resp_request_fields(mh_msg *msg, struct resp_conn *st, const uint8_t *cmd,
                               size_t cmd_len, const struct resp_arg *first)
{
	static const char versions[] = "0123";
	if (host->msg_set_field(msg, MH_FIELD_PROTOCOL, "resp", 4) < 0 ||
	    host->msg_set_field(msg, MH_FIELD_VERSION, &versions[st->proto], 1) < 0 ||
	    resp_set_command(msg, cmd, cmd_len) < 0)
		return -1;
	if (cmd_len == 5 && first && first->len == 1 &&
	    (first->data[0] == '2' || first->data[0] == '3')) {
		static const char hello[] = "hello";
		size_t i = 0;
		for (; i < 5 && (cmd[i] | 0x20) == hello[i]; i++)
			;
		if (i == 5)
			st->proto = (uint8_t)(first->data[0] - '0');
	}
	return 0;
}

/* With args_body: the arguments after the command, joined by single
 * spaces, become the request body, in one buf_add.  Returns 0 or -1. */
static int resp_fill_body(mh_msg *msg)
{
	size_t argc = host->msg_argc(msg), total = 0, len;
	if (argc == 0)
		return 0;
	for (size_t i = 0; i < argc; i++) {
		host->msg_arg(msg, i, &len);
		total += len + 1;
	}
	char stackbuf[1024];
	char *text = total <= sizeof(stackbuf) ? stackbuf : host->msg_alloc(msg, total);
	mh_buf *body = host->msg_body(msg);
	if (!text || !body)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < argc; i++) {
		const char *a = host->msg_arg(msg, i, &len);
		if (i > 0)
			text[n++] = ' ';
		memcpy(text + n, a, len);
		n += len;
	}
	return host->buf_add(body, text, n);
}

/* The request in p[0..end) has been checked completely and holds argc bulk
 * strings: make its message and drain it from in.  args holds the
 * arguments when the check found them all in one call (the usual case);
 * else (NULL) they are found again from the checked count lines. */
static int resp_multibulk_message(mh_conn *c, struct resp_conn *st, mh_buf *in, const uint8_t *p,
                                  uint64_t end, const struct resp_arg *args, mh_msg **out)
{
	mh_msg *msg = host->msg_new(c);
	*out = msg;
	if (!msg)
		goto oom;
	uint64_t at = st->header;
	struct resp_arg cmd = {NULL, 0}, arg;
	for (uint64_t i = 0; i < st->argc; i++) {
		if (args) {
			arg = args[i];
		} else {
			/* "$LEN\r\n" was checked: digits only. */
			uint64_t len = 0;
			for (at++; p[at] != '\r'; at++)
				len = len * 10 + (uint64_t)(p[at] - '0');
			arg.data = p + at + 2;
			arg.len = (size_t)len;
			at += 2 + len + 2;
		}
		if (i == 0) {
			cmd = arg;
			continue;
		}
		if (i == 1 && resp_request_fields(msg, st, cmd.data, cmd.len, &arg) < 0)
			goto oom;
		if (host->msg_add_arg(msg, arg.data, arg.len) < 0)
			goto oom;
	}
	if (st->argc == 1 && resp_request_fields(msg, st, cmd.data, cmd.len, NULL) < 0)
		goto oom;
	if (st->inst->args_body && resp_fill_body(msg) < 0)
		goto oom;
	if (host->buf_drain(in, (size_t)end) < 0)
		goto oom;
	resp_reset(st);
	return MH_DECODE_MESSAGE;
oom:
	host->conn_set_error(c, MH_STATUS_INTERNAL, "out of memory reading a request");
	resp_reset(st);
	return MH_DECODE_ERROR;
}

/* A multibulk request at the front of p (have bytes, contiguous): check
 * what arrived since the last call, and make the message once it is all
 * there. */
static int resp_multibulk(mh_conn *c, struct resp_conn *st, mh_buf *in, const uint8_t *p,
                          uint64_t have, mh_msg **out)
{
	const struct resp_instance *inst = st->inst;
	struct resp_arg args[RESP_FAST_ARGS];
	int fresh = st->pos == 0; /* the whole request is checked in this call */
	int64_t n;
	uint64_t next;
	if (fresh) {
		int r = resp_count_line(p, 1, have, &n, &next);
		if (r == 0) {
			st->need = have + 1;
			return MH_DECODE_NEED_MORE;
		}
		if (r < 0)
			return resp_fail(c, st, MH_STATUS_BAD_REQUEST,
			                 "Protocol error: invalid multibulk length");
		if (n <= 0) {
			/* "*0" and "*-1" are no request at all (as in Redis). */
			if (host->buf_drain(in, (size_t)next) < 0)
				return resp_fail(c, st, MH_STATUS_INTERNAL, "out of memory");
			resp_reset(st);
			return RESP_SKIPPED;
		}
		if ((uint64_t)n > inst->max_args)
			return resp_fail(
			    c, st, MH_STATUS_TOO_LARGE,
			    "Protocol error: invalid multibulk length %llu (max_args is %llu)",
			    (unsigned long long)n, (unsigned long long)inst->max_args);
		st->argc = st->args_left = (uint64_t)n;
		st->pos = st->header = next;
	}
	while (st->args_left > 0) {
		uint64_t pos = st->pos;
		if (have <= pos) {
			st->need = pos + 1;
			return MH_DECODE_NEED_MORE;
		}
		if (p[pos] != '$') {
			char got[2] = {(char)p[pos], 0};
			if (got[0] < 0x21 || got[0] > 0x7e)
				got[0] = '?';
			return resp_fail(c, st, MH_STATUS_BAD_REQUEST,
			                 "Protocol error: expected '$', got '%s'", got);
		}
		int r = resp_count_line(p, pos + 1, have, &n, &next);
		if (r == 0) {
			st->need = have + 1;
			return MH_DECODE_NEED_MORE;
		}
		if (r < 0 || n < 0)
			return resp_fail(c, st, MH_STATUS_BAD_REQUEST,
			                 "Protocol error: invalid bulk length");
		if ((uint64_t)n > inst->max_bulk)
			return resp_fail(
			    c, st, MH_STATUS_TOO_LARGE,
			    "Protocol error: invalid bulk length %llu (max_bulk is %llu)",
			    (unsigned long long)n, (unsigned long long)inst->max_bulk);
		uint64_t end = next + (uint64_t)n + 2;
		if (end > inst->max_request)
			return resp_fail(c, st, MH_STATUS_TOO_LARGE,
			                 "Protocol error: request larger than max_request %llu",
			                 (unsigned long long)inst->max_request);
		if (have < end) {
			st->need = end; /* the count line is read again then: a few bytes */
			return MH_DECODE_NEED_MORE;
		}
		if (p[end - 2] != '\r' || p[end - 1] != '\n')
			return resp_fail(c, st, MH_STATUS_BAD_REQUEST,
			                 "Protocol error: bulk string not followed by CRLF");
		uint64_t i = st->argc - st->args_left;
		if (i < RESP_FAST_ARGS) {
			args[i].data = p + next;
			args[i].len = (size_t)n;
		}
		st->pos = end;
		st->args_left--;
	}
	return resp_multibulk_message(c, st, in, p, st->pos,
	                              fresh && st->argc <= RESP_FAST_ARGS ? args : NULL, out);
}

static int resp_hex(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int resp_space(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Split an inline command line into arguments the way redis-cli and Redis
 * do: words separated by spaces; "double quotes" with \n \r \t \b \a \\ \"
 * and \xHH escapes; 'single quotes' with \' only.  Unescaped bytes go to
 * dst (room for n bytes); args gets up to max entries.  Returns the number
 * of arguments, -1 for unbalanced quotes, -2 for more than max arguments. */
static int64_t resp_split_inline(const uint8_t *line, size_t n, uint8_t *dst, struct resp_arg *args,
                                 uint64_t max)
{
	size_t i = 0, o = 0;
	uint64_t argc = 0;
	for (;;) {
		while (i < n && resp_space(line[i]))
			i++;
		if (i >= n)
			return (int64_t)argc;
		if (argc == max)
			return -2;
		size_t start = o;
		int dq = 0, sq = 0;
		for (;;) {
			if (dq) {
				if (i >= n)
					return -1;
				if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' &&
				    resp_hex(line[i + 2]) >= 0 && resp_hex(line[i + 3]) >= 0) {
					dst[o++] = (uint8_t)(resp_hex(line[i + 2]) * 16 +
					                     resp_hex(line[i + 3]));
					i += 4;
				} else if (line[i] == '\\' && i + 1 < n) {
					uint8_t e = line[i + 1];
					dst[o++] = e == 'n'   ? '\n'
					           : e == 'r' ? '\r'
					           : e == 't' ? '\t'
					           : e == 'b' ? '\b'
					           : e == 'a' ? '\a'
					                      : e;
					i += 2;
				} else if (line[i] == '"') {
					/* The closing quote must end the argument. */
					if (i + 1 < n && !resp_space(line[i + 1]))
						return -1;
					i++;
					break;
				} else {
					dst[o++] = line[i++];
				}
			} else if (sq) {
				if (i >= n)
					return -1;
				if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
					dst[o++] = '\'';
					i += 2;
				} else if (line[i] == '\'') {
					if (i + 1 < n && !resp_space(line[i + 1]))
						return -1;
					i++;
					break;
				} else {
					dst[o++] = line[i++];
				}
			} else {
				if (i >= n || resp_space(line[i]))
					break;
				if (line[i] == '"') {
					dq = 1;
					i++;
				} else if (line[i] == '\'') {
					sq = 1;
					i++;
				} else {
					dst[o++] = line[i++];
				}
			}
		}
		args[argc].data = dst + start;
		args[argc].len = o - start;
		argc++;
	}
}

/* An inline command: one line ending in LF (a CR before it is dropped). */
static int resp_inline(mh_conn *c, struct resp_conn *st, mh_buf *in, const uint8_t *p,
                       uint64_t have, mh_msg **out)
{
	const struct resp_instance *inst = st->inst;
	uint64_t from = st->pos;
	uint64_t limit = have < inst->max_inline + 2 ? have : inst->max_inline + 2;
	const uint8_t *lf = from < limit ? memchr(p + from, '\n', (size_t)(limit - from)) : NULL;
	if (!lf) {
		if (have >= inst->max_inline + 2)
			return resp_fail(c, st, MH_STATUS_TOO_LARGE,
			                 "Protocol error: too big inline request");
		st->pos = have; /* searched: the next call starts here */
		st->need = have + 1;
		return MH_DECODE_NEED_MORE;
	}
	uint64_t eol = (uint64_t)(lf - p);
	uint64_t n = eol > 0 && p[eol - 1] == '\r' ? eol - 1 : eol;
	if (n > inst->max_inline)
		return resp_fail(c, st, MH_STATUS_TOO_LARGE,
		                 "Protocol error: too big inline request");
	/* A blank line is no request (as in Redis). */
	uint64_t k = 0;
	while (k < n && resp_space(p[k]))
		k++;
	if (k == n) {
		if (host->buf_drain(in, (size_t)eol + 1) < 0)
			return resp_fail(c, st, MH_STATUS_INTERNAL, "out of memory");
		resp_reset(st);
		return RESP_SKIPPED;
	}
	/* Each argument takes at least two bytes of the line (itself and a
	 * separator), so n / 2 + 1 entries always suffice. */
	uint64_t cap = n / 2 + 1;
	if (cap > inst->max_args)
		cap = inst->max_args;
	mh_msg *msg = host->msg_new(c);
	*out = msg;
	uint8_t *text = msg ? host->msg_alloc(msg, (size_t)n + 1) : NULL;
	struct resp_arg *args = text ? host->msg_alloc(msg, (size_t)cap * sizeof(*args)) : NULL;
	if (!args)
		goto oom;
	int64_t argc = resp_split_inline(p, (size_t)n, text, args, cap);
	if (argc == -1)
		return resp_fail(c, st, MH_STATUS_BAD_REQUEST,
		                 "Protocol error: unbalanced quotes in request");
	if (argc == -2)
		return resp_fail(
		    c, st, MH_STATUS_TOO_LARGE,
		    "Protocol error: more than max_args %llu arguments in an inline request",
		    (unsigned long long)inst->max_args);
	if (resp_request_fields(msg, st, args[0].data, args[0].len, argc > 1 ? &args[1] : NULL) < 0)
		goto oom;
	for (int64_t i = 1; i < argc; i++)
		if (host->msg_add_arg(msg, args[i].data, args[i].len) < 0)
			goto oom;
	if (inst->args_body && resp_fill_body(msg) < 0)
		goto oom;
	if (host->buf_drain(in, (size_t)eol + 1) < 0)
		goto oom;
	resp_reset(st);
	return MH_DECODE_MESSAGE;
oom:
	host->conn_set_error(c, MH_STATUS_INTERNAL, "out of memory reading a request");
	resp_reset(st);
	return MH_DECODE_ERROR;
}

/* Take one request from the front of in.  Empty requests are skipped
 * within the call.  Returns NEED_MORE, MESSAGE (*out owns the request) or
 * ERROR after conn_set_error (*out may hold a message for the host to
 * free). */
static int resp_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out)
{
	struct resp_conn *st = state;
	*out = NULL;
	for (;;) {
		uint64_t have = host->buf_length(in);
		if (st->pos > have) /* the input was consumed behind our back */
			resp_reset(st);
		if (have == 0 || have < st->need)
			return MH_DECODE_NEED_MORE;
		const uint8_t *p = host->buf_pullup(in, (size_t)have);
		if (!p) {
			host->conn_set_error(c, MH_STATUS_INTERNAL,
			                     "out of memory reading a request");
			return MH_DECODE_ERROR;
		}
		int r = p[0] == '*' ? resp_multibulk(c, st, in, p, have, out)
		                    : resp_inline(c, st, in, p, have, out);
		if (r != RESP_SKIPPED)
			return r;
	}
}

/* Write "<prefix><n>\r\n" (a RESP length line) into dst (room for 24
 * bytes); returns its length. */
static size_t resp_format_len(char *dst, char prefix, uint64_t n)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	size_t digits = sizeof(tmp) - i;
	dst[0] = prefix;
	memcpy(dst + 1, tmp + i, digits);
	memcpy(dst + 1 + digits, "\r\n", 2);
	return digits + 3;
}

/* Append the reply: its body as is when the handler wrote RESP
 * (MH_REPLY_RAW), else the body as one bulk string.  A reply carrying
 * MH_FIELD_VERSION "2" or "3" sets the version the connection speaks from
 * now on (a handler's answer to HELLO).  Returns 0, or -1 when out of
 * memory. */
static int resp_encode(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out)
{
	struct resp_conn *st = state;
	size_t vlen;
	const char *v = host->msg_field(reply, MH_FIELD_VERSION, &vlen);
	if (v && vlen == 1 && (v[0] == '2' || v[0] == '3'))
		st->proto = (uint8_t)(v[0] - '0');

	mh_buf *body = host->msg_body(reply);
	if (!body)
		return -1;
	size_t len = host->buf_length(body);
	int raw = host->msg_form(reply) == MH_REPLY_RAW;
	if (raw && len == 0) {
		/* An empty raw reply would leave the client waiting for ever. */
		static const char empty[] = "-ERR the handler sent an empty reply\r\n";
		return host->buf_add(out, empty, sizeof(empty) - 1);
	}
	if (len <= RESP_COPY_MAX) {
		/* Small replies are copied behind the previous one, so that a
		 * pipelined batch leaves in a few large writes rather than one
		 * buffer chain per reply. */
		char tmp[RESP_COPY_MAX + 32];
		size_t n = raw ? 0 : resp_format_len(tmp, '$', len);
		const uint8_t *data = len ? host->buf_pullup(body, len) : (const uint8_t *)"";
		if (!data)
			return -1;
		memcpy(tmp + n, data, len);
		n += len;
		if (!raw) {
			memcpy(tmp + n, "\r\n", 2);
			n += 2;
		}
		return host->buf_add(out, tmp, n);
	}
	if (raw)
		return host->buf_move(out, body, len);
	char head[24];
	size_t hn = resp_format_len(head, '$', len);
	if (host->buf_add(out, head, hn) < 0 || host->buf_move(out, body, len) < 0)
		return -1;
	return host->buf_add(out, "\r\n", 2);
}

/* Append an error reply.  Protocol errors and limits come with their
 * "Protocol error: ..." text from decode; denials get the codes Redis
 * clients know (-NOAUTH, -NOPERM); an unmatched route is an unknown
 * command.  Control characters in text become spaces, so the error stays
 * one line, and it is cut at 256 bytes. */
static void resp_encode_error(mh_module *m, mh_conn *c, void *state, int status, const char *text,
                              mh_buf *out)
{
	char clean[257];
	size_t n = 0;
	switch (status) {
	case MH_STATUS_UNAUTHORIZED:
		host->buf_printf(out, "-NOAUTH Authentication required.\r\n");
		return;
	case MH_STATUS_FORBIDDEN:
		host->buf_printf(out,
		                 "-NOPERM this user has no permissions to run this command\r\n");
		return;
	case MH_STATUS_NOT_FOUND:
		/* The host names the command when it knows it. */
		if (!text || strncmp(text, "unknown command", 15) != 0)
			text = "unknown command";
		break;
	default: break;
	}
	if (!text || !*text)
		text = "error";
	for (; text[n] && n < sizeof(clean) - 1; n++)
		clean[n] = (unsigned char)text[n] < 0x20 || text[n] == 0x7f ? ' ' : text[n];
	clean[n] = '\0';
	host->buf_printf(out, "-ERR %s\r\n", clean);
}
