/* tests/fuzz/fuzz_codec.c — one libFuzzer target for every codec module's
 * decoder (and encoder), driven the way host/conn.c drives it: the real .so
 * loaded with the host's loader, the input fed in chunks, decode called
 * until NEED_MORE or ERROR, each message answered like the echo handler
 * does and its reply encoded, an error answered with encode_error.
 *
 * Which codec: $FUZZ_CODEC_NAME, else FUZZ_CODEC (set per build target:
 * fuzz_lenprefix, fuzz_line, fuzz_http1, fuzz_resp), else the program's
 * name after "fuzz_".  The .so comes from $MODHOST_MODULE_PATH, else the
 * build's modules/.libs (FUZZ_MODULE_DIR).  The same file, linked with
 * tests/fuzz/replay.c instead of libFuzzer, replays the corpus in
 * `make check`.
 *
 * Input layout: byte 0 steers the run, the rest is the byte stream.
 *   bits 0-1  chunking: 0 all at once, 1 one byte at a time, 2 chunks of
 *             1..16 bytes, 3 chunks of 1..512 bytes (sizes from bits 2-6)
 *   bits 2-6  seed of the chunk sizes and of the reply choices
 *   bit 7     use the "tight" instance: FUZZ_TIGHT (per target, e.g.
 *             "max_frame=100") or $FUZZ_MODULE_CONF, small limits that
 *             short inputs can reach
 * So a seed file is one steering byte ('@' = all at once, 'A' = byte by
 * byte) followed by real protocol bytes.
 *
 * With FUZZ_HANDLER (fuzz_kv: resp and the kv handler), each message goes
 * to that handler module instead, loaded as two instances (FUZZ_HANDLER_CONF
 * and, for the tight runs, FUZZ_HANDLER_TIGHT); before each input the
 * command FUZZ_HANDLER_RESET (kv: FLUSHALL) runs through it, so every
 * input starts from the same state and a saved one replays alike.
 *
 * A broken codec contract (MESSAGE without a message or consuming nothing,
 * an unknown result) aborts, so the fuzzer saves the input; so does a
 * handler result that is not a result (or ASYNC: these handlers answer at
 * once). */
#include "build-config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "fuzz.h"
#include "loader.h"
#include "log.h"
#include "modconf.h"
#include "msg.h"
#include "transport.h"
#include "worker.h"

#ifndef FUZZ_MODULE_DIR
#define FUZZ_MODULE_DIR "modules/.libs"
#endif
#ifndef FUZZ_TIGHT
#define FUZZ_TIGHT ""
#endif

/* At most this many messages per chunk: the host stops at max_inflight. */
#define FUZZ_MAX_MSGS 256

/* One loaded codec instance and the fake listener a connection points at. */
struct fuzz_instance {
	struct mh_module inst;
	struct modconf *conf;
	struct cfg_entry *entries;
	struct listener_settings ls;
	struct serve_listener sl;
	uint64_t max_message;
};

static struct fuzz_instance fuzz_plain, fuzz_tight;
static int fuzz_have_tight;
static const mh_codec_ops *fuzz_codec;

#ifdef FUZZ_HANDLER
#ifndef FUZZ_HANDLER_CONF
#define FUZZ_HANDLER_CONF ""
#endif
#ifndef FUZZ_HANDLER_TIGHT
#define FUZZ_HANDLER_TIGHT FUZZ_HANDLER_CONF
#endif
/* The handler's instances, for plain and tight runs, and their settings
 * (never read again, but they must stay reachable for the leak checker:
 * volatile keeps the compiler from dropping the stores). */
static struct mh_module fuzz_handler_plain, fuzz_handler_tight;
static struct cfg_entry *volatile fuzz_handler_entries[2];
#endif

static void fuzz_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fuzz_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz_codec: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* The codec's name: $FUZZ_CODEC_NAME (fuzz another codec with any of
 * these binaries), else FUZZ_CODEC, else argv[0] after "fuzz_" or
 * "replay_".  NULL if none says. */
static const char *fuzz_codec_name(const char *argv0)
{
	const char *env = getenv("FUZZ_CODEC_NAME");
	if (env && *env)
		return env;
#ifdef FUZZ_CODEC
	return FUZZ_CODEC;
#endif
	const char *base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	const char *p = strstr(base, "fuzz_");
	if (p)
		return p + 5;
	p = strstr(base, "replay_");
	return p ? p + 7 : NULL;
}

/* Where the codec's .so is: room for PATH_MAX in out. */
static void fuzz_module_path(const char *name, char *out, size_t outlen)
{
	const char *dir = getenv("MODHOST_MODULE_PATH");
	if (!dir || !*dir)
		dir = FUZZ_MODULE_DIR;
	snprintf(out, outlen, "%s/%s.so", dir, name);
}

const char *fuzz_unavailable(const char *argv0)
{
	static char why[4200];
	char path[4096];
	const char *name = fuzz_codec_name(argv0);
	if (!name)
		return "no codec named: set FUZZ_CODEC_NAME or call the binary fuzz_NAME";
	fuzz_module_path(name, path, sizeof(path));
	if (access(path, R_OK) != 0) {
		snprintf(why, sizeof(why), "%s is not built", path);
		return why;
	}
#ifdef FUZZ_HANDLER
	fuzz_module_path(FUZZ_HANDLER, path, sizeof(path));
	if (access(path, R_OK) != 0) {
		snprintf(why, sizeof(why), "%s is not built", path);
		return why;
	}
#endif
	return NULL;
}

/* Parse "key=value key=value" into a section's entry list (allocated, kept
 * for the life of the process: the modconf points into it). */
static struct cfg_entry *fuzz_parse_keys(const char *spec)
{
	struct cfg_entry *head = NULL, **tail = &head;
	char *copy = strdup(spec);
	if (!copy)
		fuzz_die("out of memory");
	for (char *save = NULL, *tok = strtok_r(copy, " \t,", &save); tok;
	     tok = strtok_r(NULL, " \t,", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			fuzz_die("bad key '%s' in the instance settings (want key=value)", tok);
		*eq = '\0';
		struct cfg_entry *e = calloc(1, sizeof(*e));
		if (!e)
			fuzz_die("out of memory");
		e->key = tok;
		e->value = eq + 1;
		e->file = "fuzz.ini";
		e->line = 2;
		*tail = e;
		tail = &e->next;
	}
	if (!head)
		free(copy);
	return head;
}

/* Load module lib as instance inst named name, with settings spec ("" =
 * defaults), and run its load hook.  Returns the parsed settings, which
 * live as long as the instance. */
static struct cfg_entry *fuzz_module_open(struct mh_module *inst, struct module_lib *lib,
                                          const char *name, const char *spec)
{
	char err[1024];
	struct cfg_entry *entries = fuzz_parse_keys(spec);
	struct cfg_section sec = {
	    .kind = "module",
	    .name = (char *)name,
	    .file = "fuzz.ini",
	    .line = 1,
	    .entries = entries,
	};
	if (modconf_build(name, entries ? &sec : NULL, lib->desc.config_keys, "/", &inst->conf, err,
	                  sizeof(err)) < 0)
		fuzz_die("%s", err);
	inst->name = (char *)name;
	inst->lib = lib;
	inst->desc = &lib->desc;
	if (lib->desc.load && lib->desc.load(inst, &hostapi_table) != 0)
		fuzz_die("module '%s': the load hook failed (settings '%s')", name, spec);
	inst->loaded = 1;
	return entries;
}

/* Load the codec as instance fi with settings spec ("" = defaults). */
static void fuzz_instance_open(struct fuzz_instance *fi, struct module_lib *lib, const char *name,
                               const char *spec)
{
	fi->entries = fuzz_module_open(&fi->inst, lib, name, spec);
	fi->conf = fi->inst.conf;
	fi->max_message = lib->desc.codec->max_message(&fi->inst);
	fi->ls.name = "fuzz";
	fi->ls.codec = (char *)name;
	fi->ls.max_inflight = FUZZ_MAX_MSGS;
	fi->sl.ls = &fi->ls;
	fi->sl.codec = &fi->inst;
	fi->sl.max_message = fi->max_message;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[1024], path[4096];
	const char *name = fuzz_codec_name((*argv)[0]);
	if (!name)
		fuzz_die("name the codec: set FUZZ_CODEC_NAME or call the binary fuzz_NAME");
	fuzz_module_path(name, path, sizeof(path));
	/* Codec log lines would only slow the fuzzer down. */
	if (log_open(NULL, MH_LOG_ERROR, LOG_FORMAT_TEXT, err, sizeof(err)) < 0)
		fuzz_die("%s", err);
	struct module_lib *lib;
	if (loader_open(name, path, &lib, err, sizeof(err)) < 0)
		fuzz_die("%s", err);
	if (!lib->desc.codec)
		fuzz_die("module '%s' (%s) is not a codec", name, path);
	fuzz_codec = lib->desc.codec;
	fuzz_instance_open(&fuzz_plain, lib, name, "");
	/* The tight instance: $FUZZ_MODULE_CONF, else this target's own
	 * FUZZ_TIGHT when it fuzzes the codec it was built for. */
	const char *tight = getenv("FUZZ_MODULE_CONF");
	if (!tight || !*tight)
		tight = "";
#ifdef FUZZ_CODEC
	if (!*tight && strcmp(name, FUZZ_CODEC) == 0)
		tight = FUZZ_TIGHT;
#endif
	if (*tight) {
		fuzz_instance_open(&fuzz_tight, lib, name, tight);
		fuzz_have_tight = 1;
	}
#ifdef FUZZ_HANDLER
	struct module_lib *hlib;
	fuzz_module_path(FUZZ_HANDLER, path, sizeof(path));
	if (loader_open(FUZZ_HANDLER, path, &hlib, err, sizeof(err)) < 0)
		fuzz_die("%s", err);
	if (!hlib->desc.handler)
		fuzz_die("module '%s' (%s) is not a handler", FUZZ_HANDLER, path);
	fuzz_handler_entries[0] =
	    fuzz_module_open(&fuzz_handler_plain, hlib, FUZZ_HANDLER, FUZZ_HANDLER_CONF);
	fuzz_handler_entries[1] =
	    fuzz_module_open(&fuzz_handler_tight, hlib, FUZZ_HANDLER "-tight", FUZZ_HANDLER_TIGHT);
#endif
	return 0;
}

/* ---- one run ------------------------------------------------------------------ */

struct fuzz_run {
	struct fuzz_instance *fi;
	struct mh_conn *c;
	void *state;
	struct mh_buf *in, *out;
	uint32_t rng;
};

static uint32_t fuzz_rand(struct fuzz_run *r)
{
	r->rng = r->rng * 1103515245u + 12345u;
	return r->rng >> 8;
}

/* How many bytes the next chunk has, for chunking mode `mode`. */
static size_t fuzz_chunk(struct fuzz_run *r, unsigned mode, size_t left)
{
	switch (mode) {
	case 0: return left;
	case 1: return 1;
	case 2: return 1 + fuzz_rand(r) % 16;
	default: return 1 + fuzz_rand(r) % 512;
	}
}

static void fuzz_encode_error(struct fuzz_run *r, int status, const char *text)
{
	if (fuzz_codec->encode_error)
		fuzz_codec->encode_error(&r->fi->inst, r->c, r->state, status, text, (mh_buf *)r->out);
}

#ifdef FUZZ_HANDLER
/* The handler instance of this run. */
static struct mh_module *fuzz_handler(const struct fuzz_run *r)
{
	return r->fi == &fuzz_tight ? &fuzz_handler_tight : &fuzz_handler_plain;
}

/* Run req (its reply attached) through the handler and encode what it
 * answers, as host/pipeline.c and host/conn.c do. */
static void fuzz_handle(struct fuzz_run *r, struct mh_msg *req)
{
	struct mh_module *h = fuzz_handler(r);
	struct mh_msg *reply = req->reply;
	int rc = h->desc->handler->handle(h, (mh_msg *)req, (mh_msg *)reply);
	switch (rc) {
	case MH_HANDLE_DONE:
	case MH_HANDLE_CLOSE:
		fuzz_codec->encode(&r->fi->inst, r->c, r->state, (mh_msg *)reply, (mh_buf *)r->out);
		break;
	case MH_HANDLE_ERROR:
		fuzz_encode_error(r, reply->status ? reply->status : MH_STATUS_INTERNAL,
		                  reply->error_text);
		break;
	default: fuzz_die("handler '%s' returned %d, not an immediate result", h->name, rc);
	}
}

/* Run the command FUZZ_HANDLER_RESET through the handler, without bytes
 * or codec: the state every input starts from. */
static void fuzz_handler_reset(struct fuzz_run *r)
{
#ifdef FUZZ_HANDLER_RESET
	struct mh_msg *req = msg_new(r->c), *reply = msg_new(r->c);
	if (!req || !reply)
		fuzz_die("out of memory");
	req->reply = reply;
	reply->request = req;
	msg_field_set(req, MH_FIELD_PROTOCOL, "resp", 4);
	msg_field_set(req, MH_FIELD_VERSION, "2", 1);
	msg_field_set(req, MH_FIELD_COMMAND, FUZZ_HANDLER_RESET, strlen(FUZZ_HANDLER_RESET));
	fuzz_handle(r, req);
	msg_free(req);
	buf_drain(r->out, buf_length(r->out));
#else
	(void)r;
#endif
}
#endif

/* Answer req as a handler would: with FUZZ_HANDLER, that handler;
 * otherwise usually echo its body back (sometimes as a raw reply,
 * sometimes with a protocol status code), sometimes an error status; then
 * encode the reply and free both, as host/conn.c does. */
static void fuzz_reply(struct fuzz_run *r, struct mh_msg *req)
{
	static const int codes[] = {0, 200, 201, 204, 301, 304, 400, 404, 500, 101, 999};
	static const int statuses[] = {MH_STATUS_BAD_REQUEST, MH_STATUS_UNAUTHORIZED,
	                               MH_STATUS_FORBIDDEN,   MH_STATUS_NOT_FOUND,
	                               MH_STATUS_TOO_MANY,    MH_STATUS_INTERNAL,
	                               MH_STATUS_UNAVAILABLE, MH_STATUS_TIMEOUT};
	req->conn = r->c;
	struct mh_msg *reply = msg_new(r->c);
	if (!reply)
		fuzz_die("out of memory");
	req->reply = reply;
	reply->request = req;
	req->state = MSG_DONE;
#ifdef FUZZ_HANDLER
	fuzz_handle(r, req);
	msg_free(req);
	buf_drain(r->out, buf_length(r->out));
	return;
#endif
	uint32_t k = fuzz_rand(r);
	if ((k & 7) == 0) {
		reply->is_error = 1;
		reply->status = statuses[(k >> 3) % (sizeof(statuses) / sizeof(statuses[0]))];
		fuzz_encode_error(r, reply->status, "fuzz says no");
	} else {
		struct mh_buf *body = msg_body(reply);
		if (!body || buf_move(body, msg_body(req), buf_length(msg_body(req))) < 0)
			fuzz_die("out of memory");
		if ((k & 0x18) == 0x18)
			reply->form = MH_REPLY_RAW;
		if (k & 0x20)
			reply->code = codes[(k >> 6) % (sizeof(codes) / sizeof(codes[0]))];
		fuzz_codec->encode(&r->fi->inst, r->c, r->state, (mh_msg *)reply, (mh_buf *)r->out);
	}
	msg_free(req);
	buf_drain(r->out, buf_length(r->out));
}

/* Decode every message the input holds now.  Returns 1 when the
 * connection would be closed (a protocol error or the size backstop). */
static int fuzz_decode_all(struct fuzz_run *r)
{
	for (int i = 0; i < FUZZ_MAX_MSGS && buf_length(r->in) > 0; i++) {
		struct mh_msg *msg = NULL;
		size_t before = buf_length(r->in);
		int rc = fuzz_codec->decode(&r->fi->inst, r->c, r->state, (mh_buf *)r->in, &msg);
		switch (rc) {
		case MH_DECODE_NEED_MORE:
			if (msg)
				msg_free(msg);
			if (buf_length(r->in) > r->fi->max_message) {
				fuzz_encode_error(r, MH_STATUS_TOO_LARGE, "message too large");
				return 1;
			}
			return 0;
		case MH_DECODE_MESSAGE:
			if (!msg)
				fuzz_die("decode returned MESSAGE without a message");
			if (buf_length(r->in) >= before)
				fuzz_die("decode returned a message but consumed no input "
				         "(%zu bytes before, %zu after)",
				         before, buf_length(r->in));
			fuzz_reply(r, msg);
			break;
		case MH_DECODE_ERROR:
			if (msg)
				msg_free(msg);
			fuzz_encode_error(r, r->c->error_status ? r->c->error_status
			                                         : MH_STATUS_BAD_REQUEST,
			                  r->c->error_text ? r->c->error_text : "protocol error");
			return 1;
		default: fuzz_die("decode returned %d, not a decode result", rc);
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned ctl = data[0];
	data++;
	size--;
	struct fuzz_run r = {
	    .fi = (ctl & 0x80) && fuzz_have_tight ? &fuzz_tight : &fuzz_plain,
	    .rng = ((ctl >> 2) & 0x1f) * 2654435761u + 1,
	};
	r.c = calloc(1, sizeof(*r.c));
	r.in = buf_new();
	r.out = buf_new();
	size_t state_size = fuzz_codec->conn_state_size;
	/* Its own block, not conn->codec_inline: ASan sees any overrun. */
	r.state = calloc(1, state_size ? state_size : 1);
	if (!r.c || !r.in || !r.out || !r.state)
		fuzz_die("out of memory");
	r.c->fd = -1;
	r.c->id = 1;
	r.c->sl = &r.fi->sl;
	r.c->transport = &transport_plain;
	r.c->flags = CONN_IN_CALLBACK; /* never freed or rescheduled by the host */
	r.c->in = r.in;
	r.c->out = r.out;
	r.c->peer.in.sin_family = AF_INET;
	r.c->peer.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.c->peer.in.sin_port = htons(40000);
	r.c->codec_state = r.state;

	int ready = !fuzz_codec->conn_init ||
	            fuzz_codec->conn_init(&r.fi->inst, r.c, r.state) == 0;
#ifdef FUZZ_HANDLER
	if (ready)
		fuzz_handler_reset(&r);
#endif
	if (ready) {
		size_t off = 0;
		while (off < size) {
			size_t n = fuzz_chunk(&r, ctl & 3, size - off);
			if (n > size - off)
				n = size - off;
			if (buf_add(r.in, data + off, n) < 0)
				fuzz_die("out of memory");
			off += n;
			if (fuzz_decode_all(&r))
				break;
		}
		if (fuzz_codec->conn_fini)
			fuzz_codec->conn_fini(&r.fi->inst, r.c, r.state);
	}
	free(r.state);
	conn_release_data(r.c);
	arena_free(&r.c->arena);
	free(r.c);
	buf_free(r.in);
	buf_free(r.out);
	/* No pooled messages between runs: a use after free stays visible. */
	msg_pool_clear();
	return 0;
}
