/* modules/line.c — the line codec: each message is one line of text ending
 * in LF or CRLF; the terminator is not part of the message body, and an
 * empty line is a message with an empty body.
 *
 * Replies are the reply body followed by the terminator of the line they
 * answer ("\r\n" after a CRLF line, else "\n"), so telnet and netcat users
 * both see what they expect, also when a client pipelines lines with mixed
 * terminators (up to 64 lines in flight are tracked one by one; beyond that
 * a reply takes the latest line's).  Errors are sent as the line
 * "ERR <text>" with the same terminator:
 * after a protocol error (an over-long line) the host then closes the
 * connection; after a denial or a failed handler it keeps reading. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modhost.h"

static int line_load(mh_module *m, const mh_host_api *api);
static void line_unload(mh_module *m);
static uint64_t line_max_message(mh_module *m);
static int line_conn_init(mh_module *m, mh_conn *c, void *state);
static int line_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out);
static int line_encode(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out);
static void line_encode_error(mh_module *m, mh_conn *c, void *state, int status, const char *text,
                              mh_buf *out);

static const mh_config_key line_keys[] = {
    {"max_line", MH_CONFIG_SIZE, "64KiB",
     "longest line, terminator excluded; a longer line closes the connection"},
    {NULL, 0, NULL, NULL},
};

/* Per-connection state. */
struct line_conn {
	uint64_t max_line;  /* copied from the instance */
	size_t scanned;     /* bytes at the front of the input known to hold no LF */
	uint64_t crlf_bits; /* lines decoded, not yet answered: 1 = CRLF, oldest in bit 0 */
	uint8_t n_tracked;  /* how many lines crlf_bits holds (at most 64) */
	uint8_t last_crlf;  /* the latest line ended in CRLF */
	uint32_t untracked; /* lines decoded past the 64 tracked (they take last_crlf) */
};

static const mh_codec_ops line_codec = {
    .struct_size = sizeof(mh_codec_ops),
    .conn_state_size = sizeof(struct line_conn),
    .max_message = line_max_message,
    .conn_init = line_conn_init,
    .decode = line_decode,
    .encode = line_encode,
    .encode_error = line_encode_error,
};

MH_MODULE_DECLARE(.name = "line", .version = "1.0", .license = "MIT",
                  .description = "text lines ending in LF or CRLF", .roles = MH_ROLE_CODEC,
                  .config_keys = line_keys, .load = line_load, .unload = line_unload,
                  .codec = &line_codec);

/* The host table, the same for every instance. */
static const mh_host_api *host;

/* Instance settings, malloc'ed in load and freed in unload. */
struct line_instance {
	uint64_t max_line;
};

static int line_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	struct line_instance *inst = malloc(sizeof(*inst));
	if (!inst) {
		host->log(m, MH_LOG_ERROR, "out of memory");
		return -1;
	}
	inst->max_line = host->config_size(m, "max_line");
	host->module_set_data(m, inst);
	return 0;
}

static void line_unload(mh_module *m)
{
	free(host->module_data(m));
	host->module_set_data(m, NULL);
}

/* The longest line plus its longest terminator. */
static uint64_t line_max_message(mh_module *m)
{
	const struct line_instance *inst = host->module_data(m);
	if (inst->max_line > UINT64_MAX - 2)
		return UINT64_MAX;
	return inst->max_line + 2;
}

static int line_conn_init(mh_module *m, mh_conn *c, void *state)
{
	const struct line_instance *inst = host->module_data(m);
	struct line_conn *st = state;
	st->max_line = inst->max_line;
	st->scanned = 0;
	st->crlf_bits = 0;
	st->n_tracked = 0;
	st->last_crlf = 0;
	st->untracked = 0;
	return 0;
}

static int line_too_long(mh_conn *c, const struct line_conn *st)
{
	host->conn_set_error(c, MH_STATUS_TOO_LARGE, "line longer than max_line %llu",
	                     (unsigned long long)st->max_line);
	return MH_DECODE_ERROR;
}

/* No LF is buffered yet: wait for more, unless more than max_line bytes are
 * already waiting.  One byte past max_line is still fine when it is a CR,
 * since it may be the first half of the CRLF ending a line of exactly
 * max_line bytes. */
static int line_wait(mh_conn *c, struct line_conn *st, mh_buf *in, size_t have)
{
	st->scanned = have;
	if ((uint64_t)have <= st->max_line)
		return MH_DECODE_NEED_MORE;
	if ((uint64_t)have == st->max_line + 1 &&
	    host->buf_find(in, "\r", 1, (size_t)st->max_line) == (int64_t)st->max_line)
		return MH_DECODE_NEED_MORE;
	return line_too_long(c, st);
}

/* Take one line from the front of in.  Only bytes not searched by an earlier
 * call are searched for LF, so a line trickling in byte by byte costs linear
 * time.  Returns NEED_MORE, MESSAGE with *out owning the line without its
 * terminator, or ERROR after conn_set_error. */
static int line_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out)
{
	struct line_conn *st = state;
	size_t have = host->buf_length(in);
	if (st->scanned > have) /* the input was consumed behind our back */
		st->scanned = 0;
	if (have == st->scanned)
		return line_wait(c, st, in, have);
	int64_t lf = host->buf_find(in, "\n", 1, st->scanned);
	if (lf < 0)
		return line_wait(c, st, in, have);

	/* Even with a CR before the LF the body is at least lf - 1 bytes. */
	if (lf > 0 && (uint64_t)(lf - 1) > st->max_line)
		return line_too_long(c, st);

	size_t body_len = (size_t)lf;
	int crlf = 0;
	if (lf > 0) {
		/* Peek at the byte before LF; at most max_line + 2 bytes are
		 * made contiguous. */
		const uint8_t *p = host->buf_pullup(in, (size_t)lf + 1);
		if (!p) {
			host->conn_set_error(c, MH_STATUS_INTERNAL, "out of memory reading a line");
			return MH_DECODE_ERROR;
		}
		if (p[lf - 1] == '\r') {
			body_len--;
			crlf = 1;
		}
	}
	if ((uint64_t)body_len > st->max_line)
		return line_too_long(c, st);

	mh_msg *msg = host->msg_new(c);
	mh_buf *body = msg ? host->msg_body(msg) : NULL;
	if (!body || host->buf_move(body, in, body_len) < 0 ||
	    host->buf_drain(in, (size_t)lf + 1 - body_len) < 0) {
		/* Out of memory.  The host frees a message left in *out
		 * with an error result. */
		host->conn_set_error(c, MH_STATUS_INTERNAL, "out of memory reading a line");
		*out = msg;
		return MH_DECODE_ERROR;
	}
	st->scanned = 0;
	/* Replies leave in request order: the terminators queue up. */
	if (st->untracked == 0 && st->n_tracked < 64) {
		st->crlf_bits |= (uint64_t)crlf << st->n_tracked;
		st->n_tracked++;
	} else {
		st->untracked++;
	}
	st->last_crlf = (uint8_t)crlf;
	*out = msg;
	return MH_DECODE_MESSAGE;
}

/* The terminator for the next reply: that of the oldest line not answered
 * yet, or the latest line's (before any line, past the tracked ones, or for
 * an error that answers no line). */
static const char *line_terminator(struct line_conn *st)
{
	int crlf = st->last_crlf;
	if (st->n_tracked) {
		crlf = (int)(st->crlf_bits & 1);
		st->crlf_bits >>= 1;
		st->n_tracked--;
	} else if (st->untracked) {
		st->untracked--;
	}
	return crlf ? "\r\n" : "\n";
}

/* Append the reply body (moved, not copied) and the terminator of the line
 * it answers.  A body holding LFs goes out as is: it is the handler's to
 * keep one reply on one line.  Returns 0, or -1 when out of memory. */
static int line_encode(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out)
{
	struct line_conn *st = state;
	const char *term = line_terminator(st);
	mh_buf *body = host->msg_body(reply);
	if (!body || host->buf_move(out, body, host->buf_length(body)) < 0)
		return -1;
	return host->buf_add(out, term, strlen(term));
}

/* Append "ERR <text>" and the terminator of the line it answers.  The host always
 * names the status in text; control characters in it become
 * spaces so that it stays one line, and it is cut at 256 bytes. */
static void line_encode_error(mh_module *m, mh_conn *c, void *state, int status, const char *text,
                              mh_buf *out)
{
	struct line_conn *st = state;
	char clean[257];
	size_t n = 0;

	if (!text || !*text)
		text = "error";
	for (; text[n] && n < sizeof(clean) - 1; n++)
		clean[n] = (unsigned char)text[n] < 0x20 || text[n] == 0x7f ? ' ' : text[n];
	clean[n] = '\0';
	host->buf_printf(out, "ERR %s%s", clean, line_terminator(st));
}
