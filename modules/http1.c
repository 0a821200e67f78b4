/* modules/http1.c — the HTTP/1.1 codec, over Debian's http-parser: keep-alive,
 * pipelining, Content-Length and chunked request bodies, Expect:
 * 100-continue, HTTP/1.0; replies framed with Content-Length (or chunked
 * when the handler asks), a Date header, and Connection when it matters.
 *
 * Decoding never holds a message across calls (the ABI cannot free one), so
 * a request stays in the input buffer until it is complete:
 *   - a "fill" pass parses the request from its first byte over contiguous
 *     input and builds the message (fields, headers, body);
 *   - when the request is not complete yet, the parser keeps its state and
 *     a "scan" pass feeds it only the bytes that arrived since, without
 *     building anything, until the head (or the chunked body) is complete;
 *     then one more fill pass builds the message.
 * A request that arrives whole is parsed once.  Content-Length bodies are
 * moved into the message without a copy and are not fed to the parser.
 * Limits are checked on what has arrived, never on what a peer announces:
 * a head is refused as soon as more bytes than its limit are buffered, a
 * Content-Length over max_body before any of the body is awaited.
 * This file is the module, its instances and decoding; replies are
 * modules/http1out.c's.  See doc/internals/http1.md. */
#include <http_parser.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static int h1_load(mh_module *m, const mh_host_api *api);
static void h1_unload(mh_module *m);
static uint64_t h1_max_message(mh_module *m);
static int h1_conn_init(mh_module *m, mh_conn *c, void *state);
static int h1_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out);

static const mh_config_key h1_keys[] = {
    {"max_request_line", MH_CONFIG_SIZE, "8KiB",
     "longest request line (method, target, version); longer gets 414 and a close"},
    {"max_header_size", MH_CONFIG_SIZE, "32KiB",
     "largest header section after the request line; larger gets 431 and a close"},
    {"max_headers", MH_CONFIG_INT, "100", "most header fields in a request; more gets 431"},
    {"max_body", MH_CONFIG_SIZE, "1MiB",
     "largest request body (Content-Length or chunked); larger gets 413 and a close"},
    {NULL, 0, NULL, NULL},
};

static int h1_on_url(http_parser *p, const char *at, size_t len);
static int h1_on_header_field(http_parser *p, const char *at, size_t len);
static int h1_on_header_value(http_parser *p, const char *at, size_t len);
static int h1_on_headers_complete(http_parser *p);
static int h1_on_body(http_parser *p, const char *at, size_t len);
static int h1_on_message_complete(http_parser *p);

static const http_parser_settings h1_settings = {
    .on_url = h1_on_url,
    .on_header_field = h1_on_header_field,
    .on_header_value = h1_on_header_value,
    .on_headers_complete = h1_on_headers_complete,
    .on_body = h1_on_body,
    .on_message_complete = h1_on_message_complete,
};

static const mh_codec_ops h1_codec = {
    .struct_size = sizeof(mh_codec_ops),
    .conn_state_size = sizeof(struct h1_conn),
    .max_message = h1_max_message,
    .conn_init = h1_conn_init,
    .decode = h1_decode,
    .encode = h1_encode,
    .encode_error = h1_encode_error,
};

MH_MODULE_DECLARE(.name = "http1", .version = "1.0", .license = "MIT",
                  .description = "HTTP/1.1 (and 1.0) over http-parser", .roles = MH_ROLE_CODEC,
                  .config_keys = h1_keys, .load = h1_load, .unload = h1_unload,
                  .codec = &h1_codec);

/* The host table, the same for every instance. */
static const mh_host_api *host;

/* Input a fill pass makes contiguous first (see h1_fill). */
#define H1_FIRST_WINDOW 4096

/* ---- instances ------------------------------------------------------------ */

static int h1_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	h1_out_init(api);
	struct h1_instance *inst = calloc(1, sizeof(*inst));
	if (!inst) {
		host->log(m, MH_LOG_ERROR, "out of memory");
		return -1;
	}
	inst->max_line = host->config_size(m, "max_request_line");
	inst->max_header = host->config_size(m, "max_header_size");
	inst->max_body = host->config_size(m, "max_body");
	int64_t n = host->config_int(m, "max_headers");
	if (inst->max_line < 16 || inst->max_line > (1u << 30) || inst->max_header > (1u << 30) ||
	    n < 1 || n > 100000 || inst->max_body > (UINT64_C(1) << 40)) {
		host->log(m, MH_LOG_ERROR,
		          "limits out of range: max_request_line 16 bytes to 1GiB, max_header_size "
		          "up to 1GiB, max_headers 1 to 100000, max_body up to 1TiB");
		free(inst);
		return -1;
	}
	inst->max_headers = (uint32_t)n;
	inst->max_head = inst->max_line + 2 + inst->max_header + 2;
	/* Chunk sizes, extensions and trailers may add half of max_body on
	 * the wire, and 64 KiB for small bodies. */
	inst->chunk_wire = inst->max_body + inst->max_body / 2 + 64 * 1024;
	/* http-parser's own header limit is one process-wide number; ours are
	 * checked first, so only make sure it never fires before them. */
	static uint64_t lib_limit = 80 * 1024;
	uint64_t want = inst->max_head > inst->chunk_wire ? inst->max_head : inst->chunk_wire;
	if (want > lib_limit) {
		lib_limit = want > UINT32_MAX - 1 ? UINT32_MAX - 1 : want;
		http_parser_set_max_header_size((uint32_t)lib_limit);
	}
	host->module_set_data(m, inst);
	return 0;
}

static void h1_unload(mh_module *m)
{
	free(host->module_data(m));
	host->module_set_data(m, NULL);
}

/* The largest input one request can make us hold: a head and a body at
 * their limits.  Our own checks fire first; this is the host's backstop. */
static uint64_t h1_max_message(mh_module *m)
{
	const struct h1_instance *inst = host->module_data(m);
	uint64_t body = inst->chunk_wire > inst->max_body ? inst->chunk_wire : inst->max_body;
	return inst->max_head + body + 1;
}

static int h1_conn_init(mh_module *m, mh_conn *c, void *state)
{
	struct h1_conn *st = state;
	st->inst = host->module_data(m);
	st->conn = c;
	http_parser_init(&st->parser, HTTP_REQUEST);
	st->parser.data = st;
	return 0;
}

/* ---- errors ------------------------------------------------------------------ */

static int h1_mh_status(int code)
{
	switch (code) {
	case 408: return MH_STATUS_TIMEOUT;
	case 413: case 414: case 431: return MH_STATUS_TOO_LARGE;
	case 500: return MH_STATUS_INTERNAL;
	default: return MH_STATUS_BAD_REQUEST;
	}
}

/* Report a protocol error: the host logs text, calls encode_error and
 * closes.  encode_error recognises the text by its hash and answers with
 * code (the mh_status alone cannot say 414 or 431).  Returns
 * MH_DECODE_ERROR, which is -1: a parser callback returns it as is to stop
 * the parser. */
static int h1_fail(struct h1_conn *st, int code, const char *fmt, ...) MH_PRINTF(3, 4);
static int h1_fail(struct h1_conn *st, int code, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	st->err_code = code;
	st->err_hash = h1_hash(text);
	host->conn_set_error(st->conn, h1_mh_status(code), "%s", text);
	return MH_DECODE_ERROR;
}

/* The parser stopped with an error: ours (from a callback), or its own. */
static int h1_parse_error(struct h1_conn *st)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&st->parser);
	if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete && st->err_code)
		return MH_DECODE_ERROR;
	const char *why = http_errno_description(e);
	switch (e) {
	case HPE_HEADER_OVERFLOW:
		return h1_fail(st, 431, "request header section too large");
	case HPE_INVALID_TRANSFER_ENCODING:
		return h1_fail(st, 501, "bad request: %s", why);
	default:
		return h1_fail(st, 400, "bad request: %s", why);
	}
}

/* ---- parser callbacks ---------------------------------------------------------- */

static int h1_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int h1_all_zero(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '0')
			return 0;
	return 1;
}

/* A W3C traceparent (version-traceid-parentid-flags, lowercase hex) gives
 * the message its trace id; an invalid one is ignored, as the spec says. */
static void h1_traceparent(struct h1_conn *st, const char *v, size_t n)
{
	if (n < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' || !h1_is_hex(v, 2) ||
	    (v[0] == 'f' && v[1] == 'f') || !h1_is_hex(v + 3, 32) || !h1_is_hex(v + 36, 16) ||
	    !h1_is_hex(v + 53, 2) || h1_all_zero(v + 3, 32) || h1_all_zero(v + 36, 16))
		return;
	if (n > 55 && (v[0] == '0' && v[1] == '0'))
		return; /* version 00 has exactly four parts */
	if (n > 55 && v[55] != '-')
		return;
	host->msg_set_field(st->msg, MH_FIELD_TRACE_ID, v + 3, 32);
}

/* Transfer-Encoding is a list of codings; only a single, final "chunked"
 * is served.  Count chunked and other codings over every TE header. */
static void h1_transfer_encoding(struct h1_conn *st, const char *v, size_t n)
{
	st->mflags |= H1_TE;
	size_t i = 0;
	while (i < n) {
		size_t start = i;
		while (i < n && v[i] != ',')
			i++;
		size_t end = i++;
		while (start < end && (v[start] == ' ' || v[start] == '\t'))
			start++;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end == start)
			continue; /* empty list element */
		if (h1_eq(v + start, end - start, "chunked")) {
			st->te_chunked++;
			st->mflags |= H1_TE_CHUNKED;
		} else {
			st->te_other++;
			st->mflags &= ~H1_TE_CHUNKED;
		}
	}
}

/* Content-Length: 1*DIGIT, once.  Lists ("5, 5") and signs are refused. */
static int h1_content_length(struct h1_conn *st, const char *v, size_t n)
{
	uint64_t cl = 0;
	if (++st->n_cl > 1)
		return h1_fail(st, 400, "bad request: %s", "more than one Content-Length");
	if (n == 0)
		return h1_fail(st, 400, "bad request: %s", "empty Content-Length");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || cl > (UINT64_MAX - 9) / 10)
			return h1_fail(st, 400, "bad request: %s", "invalid Content-Length");
		cl = cl * 10 + (uint64_t)(v[i] - '0');
	}
	st->content_length = cl;
	st->mflags |= H1_HAS_CL;
	return 0;
}

/* Store the header whose name and value are complete (fill pass only). */
static int h1_header_done(struct h1_conn *st)
{
	if (st->hname_len == SIZE_MAX)
		return 0;
	const char *name = st->base + st->hname_off;
	const char *v = st->hval_len == SIZE_MAX ? "" : st->base + st->hval_off;
	size_t nlen = st->hname_len, vlen = st->hval_len == SIZE_MAX ? 0 : st->hval_len;
	st->hname_len = st->hval_len = SIZE_MAX;
	/* http-parser takes a space as part of a name: "Host : x" would be a
	 * header named "Host " that proxies may read differently. */
	if (nlen == 0 || memchr(name, ' ', nlen))
		return h1_fail(st, 400, "bad request: %s", "space in a header name");
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	switch (nlen) {
	case 4:
		if (h1_eq(name, nlen, "host"))
			st->n_host++;
		break;
	case 6:
		if (h1_eq(name, nlen, "expect") && h1_eq(v, vlen, "100-continue"))
			st->mflags |= H1_EXPECT;
		break;
	case 11:
		if (h1_eq(name, nlen, "traceparent"))
			h1_traceparent(st, v, vlen);
		break;
	case 14:
		if (h1_eq(name, nlen, "content-length") && h1_content_length(st, v, vlen) < 0)
			return -1;
		break;
	case 17:
		if (h1_eq(name, nlen, "transfer-encoding"))
			h1_transfer_encoding(st, v, vlen);
		break;
	}
	/* msg_add_header wants a NUL-terminated name. */
	char small[128];
	char *z = nlen < sizeof(small) ? small : host->msg_alloc(st->msg, nlen + 1);
	if (!z)
		return h1_fail(st, 500, "%s", "out of memory");
	memcpy(z, name, nlen);
	z[nlen] = '\0';
	if (host->msg_add_header(st->msg, z, v, vlen) < 0)
		return h1_fail(st, 500, "%s", "out of memory");
	return 0;
}

/* A token may come in pieces (the parser reports what it has at the end
 * of its input: a fill pass that widens its window, a scan across reads);
 * the pieces of one token are contiguous. */
static int h1_on_url(http_parser *p, const char *at, size_t len)
{
	struct h1_conn *st = p->data;
	if (st->fill) {
		if (st->url_len == SIZE_MAX)
			st->url_off = (uint64_t)(at - st->base);
		st->url_len = (size_t)((uint64_t)(at + len - st->base) - st->url_off);
	}
	return 0;
}

static int h1_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct h1_conn *st = p->data;
	if (st->mflags & H1_IN_BODY)
		return 0; /* a trailer: not kept */
	if (!(st->mflags & H1_LAST_FIELD)) {
		if (st->line_end == 0)
			st->line_end = (uint64_t)(at - st->base);
		if (++st->n_headers > st->inst->max_headers)
			return h1_fail(st, 431, "more than max_headers %u header fields",
			               (unsigned)st->inst->max_headers);
		if (st->fill && h1_header_done(st) < 0)
			return -1;
		st->mflags |= H1_LAST_FIELD;
		if (st->fill)
			st->hname_off = (uint64_t)(at - st->base);
	}
	if (st->fill)
		st->hname_len = (size_t)((uint64_t)(at + len - st->base) - st->hname_off);
	return 0;
}

static int h1_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct h1_conn *st = p->data;
	if (st->mflags & H1_IN_BODY)
		return 0;
	st->mflags &= ~H1_LAST_FIELD;
	if (!st->fill)
		return 0;
	uint64_t off = (uint64_t)(at - st->base);
	if (st->hval_len == SIZE_MAX) {
		st->hval_off = off;
	} else if (off != st->hval_off + st->hval_len) {
		/* A second piece that does not follow the first: a value
		 * continued on the next line (obs-fold), which RFC 7230 lets
		 * a server refuse. */
		return h1_fail(st, 400, "bad request: %s", "folded header line");
	}
	st->hval_len = (size_t)(off + len - st->hval_off);
	return 0;
}

static int h1_on_headers_complete(http_parser *p)
{
	struct h1_conn *st = p->data;
	if (st->fill && h1_header_done(st) < 0)
		return -1;
	st->mflags |= H1_HEAD_DONE | H1_IN_BODY;
	/* Stop here: the body is framed by us (Content-Length) or parsed on
	 * its own (chunked), after the head has been checked. */
	http_parser_pause(p, 1);
	return 0;
}

static int h1_on_body(http_parser *p, const char *at, size_t len)
{
	struct h1_conn *st = p->data;
	st->body_seen += len;
	if (st->body_seen > st->inst->max_body)
		return h1_fail(st, 413, "chunked body larger than max_body %llu",
		               (unsigned long long)st->inst->max_body);
	if (st->fill && host->buf_add(host->msg_body(st->msg), at, len) < 0)
		return h1_fail(st, 500, "%s", "out of memory");
	return 0;
}

static int h1_on_message_complete(http_parser *p)
{
	struct h1_conn *st = p->data;
	st->mflags |= H1_MSG_DONE;
	http_parser_pause(p, 1);
	return 0;
}

/* ---- decoding ------------------------------------------------------------------- */

/* Run the parser over base[fed, end): the bytes it has not seen. */
static void h1_feed(struct h1_conn *st, const char *base, uint64_t end)
{
	st->base = base;
	if (HTTP_PARSER_ERRNO(&st->parser) == HPE_PAUSED)
		http_parser_pause(&st->parser, 0);
	st->fed += http_parser_execute(&st->parser, &h1_settings, base + st->fed,
	                               (size_t)(end - st->fed));
}

static int h1_parser_failed(const struct h1_conn *st)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&st->parser);
	return e != HPE_OK && e != HPE_PAUSED;
}

/* The head is still incomplete after the parser took every byte it was
 * given: refuse it once more than the limits allow has arrived. */
static int h1_head_incomplete(struct h1_conn *st, uint64_t have)
{
	const struct h1_instance *inst = st->inst;
	if (st->line_end == 0 && st->fed > inst->max_line + 2)
		return h1_fail(st, 414, "request line longer than max_request_line %llu",
		               (unsigned long long)inst->max_line);
	if (have >= inst->max_head || (st->line_end && st->fed - st->line_end > inst->max_header + 2))
		return h1_fail(st, 431, "request header section larger than max_header_size %llu",
		               (unsigned long long)inst->max_header);
	return MH_DECODE_NEED_MORE;
}

/* Where the path ends and the query starts in the request target. */
static int h1_set_target(struct h1_conn *st)
{
	const char *u = st->base + st->url_off;
	size_t n = st->url_len == SIZE_MAX ? 0 : st->url_len, plen, qoff = 0, qlen = 0;
	const char *path = u;
	if (n > 0 && u[0] != '/' && !(n == 1 && u[0] == '*')) {
		/* absolute-form (a request meant for a proxy): keep the path.
		 * http-parser's URL offsets are 16-bit. */
		struct http_parser_url pu;
		http_parser_url_init(&pu);
		if (n > UINT16_MAX || http_parser_parse_url(u, n, 0, &pu) != 0)
			return h1_fail(st, 400, "bad request: %s", "invalid request target");
		path = (pu.field_set & (1 << UF_PATH)) ? u + pu.field_data[UF_PATH].off : "/";
		plen = (pu.field_set & (1 << UF_PATH)) ? pu.field_data[UF_PATH].len : 1;
		if (pu.field_set & (1 << UF_QUERY)) {
			qoff = pu.field_data[UF_QUERY].off;
			qlen = pu.field_data[UF_QUERY].len;
			if (host->msg_set_field(st->msg, MH_FIELD_QUERY, u + qoff, qlen) < 0)
				return -1;
		}
	} else {
		const char *frag = memchr(u, '#', n);
		size_t end = frag ? (size_t)(frag - u) : n;
		const char *q = memchr(u, '?', end);
		plen = q ? (size_t)(q - u) : end;
		if (q && host->msg_set_field(st->msg, MH_FIELD_QUERY, q + 1, end - plen - 1) < 0)
			return -1;
	}
	return host->msg_set_field(st->msg, MH_FIELD_PATH, path, plen);
}

/* Checks on a complete head in a fill pass, then the message's fields.
 * Returns 0, or MH_DECODE_ERROR after h1_fail. */
static int h1_head_checks(struct h1_conn *st)
{
	const struct h1_instance *inst = st->inst;
	const http_parser *p = &st->parser;
	uint64_t line = st->line_end ? st->line_end : st->head_len;
	if (line > inst->max_line + 2)
		return h1_fail(st, 414, "request line longer than max_request_line %llu",
		               (unsigned long long)inst->max_line);
	if (st->head_len - line > inst->max_header + 2)
		return h1_fail(st, 431, "request header section larger than max_header_size %llu",
		               (unsigned long long)inst->max_header);
	if (p->http_major != 1)
		return h1_fail(st, 505, "HTTP version %u.%u not supported", p->http_major,
		               p->http_minor);
	if (p->method == HTTP_CONNECT)
		return h1_fail(st, 501, "%s", "CONNECT not implemented");
	if (st->n_host > 1 || (p->http_minor >= 1 && st->n_host == 0))
		return h1_fail(st, 400, "bad request: %s",
		               st->n_host ? "more than one Host" : "HTTP/1.1 without Host");
	if (st->mflags & H1_TE) {
		/* RFC 7230 3.3.3: with both, the length is ambiguous (smuggling). */
		if (st->mflags & H1_HAS_CL)
			return h1_fail(st, 400, "bad request: %s",
			               "both Transfer-Encoding and Content-Length");
		if (!(st->mflags & H1_TE_CHUNKED) || st->te_chunked != 1)
			return h1_fail(st, 400, "bad request: %s",
			               st->te_chunked > 1 ? "chunked applied more than once"
			                                  : "chunked is not the final transfer coding");
		if (st->te_other)
			return h1_fail(st, 501, "%s", "transfer coding not implemented");
	} else if ((st->mflags & H1_HAS_CL) && st->content_length > inst->max_body) {
		return h1_fail(st, 413, "body of %llu bytes larger than max_body %llu",
		               (unsigned long long)st->content_length,
		               (unsigned long long)inst->max_body);
	}
	mh_msg *msg = st->msg;
	const char *method = http_method_str((enum http_method)p->method);
	if (host->msg_set_field(msg, MH_FIELD_PROTOCOL, "http1", 5) < 0 ||
	    host->msg_set_field(msg, MH_FIELD_METHOD, method, strlen(method)) < 0 ||
	    host->msg_set_field(msg, MH_FIELD_VERSION, p->http_minor ? "HTTP/1.1" : "HTTP/1.0",
	                        8) < 0 ||
	    h1_set_target(st) < 0) {
		if (st->err_code)
			return MH_DECODE_ERROR;
		return h1_fail(st, 500, "%s", "out of memory");
	}
	return 0;
}

/* Expect: 100-continue and the body is not here yet: tell the client to
 * send it.  Interim bytes can only go out after the replies before them. */
static void h1_expect_continue(struct h1_conn *st)
{
	if (!(st->mflags & H1_EXPECT) || st->parser.http_minor < 1)
		return;
	if (st->answered < st->decoded) {
		st->continue_after = st->decoded; /* after the previous reply */
		return;
	}
#if MH_ABI_MINOR >= 2
	if (MH_HOST_HAS(host, conn_send_interim))
		host->conn_send_interim(st->conn, H1_CONTINUE, sizeof(H1_CONTINUE) - 1);
#endif
	/* Without a way to write between replies (ABI 1.1), the client goes
	 * on after its own wait (curl: 1 s). */
}

/* The request is complete and in *out: account for it, and end the
 * connection after it if it asked so (HTTP/1.0, Connection: close). */
static int h1_finish(struct h1_conn *st)
{
	uint64_t bit = UINT64_C(1) << (st->decoded & 63);
	/* With 64 requests or more in flight the slot may still be in use:
	 * then answer without a body, which is valid whatever the method. */
	if (st->parser.method == HTTP_HEAD || st->decoded - st->answered >= 64)
		st->no_body_ring |= bit;
	else
		st->no_body_ring &= ~bit;
	if (st->continue_after == st->decoded && st->continue_after)
		st->continue_after = 0; /* the body came without it: not needed */
	st->decoded++;
	if (!http_should_keep_alive(&st->parser)) {
		st->closing = 1;
		host->conn_close(st->conn);
	}
	st->phase = PH_START;
	st->fed = 0;
	return MH_DECODE_MESSAGE;
}

/* Parse the request from its first byte, building the message.  *out owns
 * the message whatever the result (the host frees it unless MESSAGE). */
static int h1_fill(struct h1_conn *st, mh_buf *in, uint64_t have, mh_msg **out)
{
	const struct h1_instance *inst = st->inst;
	void *data = st->parser.data;
	http_parser_init(&st->parser, HTTP_REQUEST);
	st->parser.data = data;
	st->fed = st->head_len = st->body_seen = st->line_end = 0;
	st->url_len = st->hname_len = st->hval_len = SIZE_MAX;
	st->n_headers = st->n_cl = st->n_host = st->te_chunked = st->te_other = 0;
	st->mflags = 0;
	st->fill = 1;
	if (!(st->msg = *out = host->msg_new(st->conn)))
		return h1_fail(st, 500, "%s", "out of memory");

	/* Most heads fit in the first few KiB: making only those contiguous
	 * spares copying a body that follows.  A longer head goes on over
	 * the whole window. */
	uint64_t full = have < inst->max_head ? have : inst->max_head;
	uint64_t window = full < H1_FIRST_WINDOW ? full : H1_FIRST_WINDOW;
	const char *p;
	for (;;) {
		if (!(p = (const char *)host->buf_pullup(in, (size_t)window)))
			return h1_fail(st, 500, "%s", "out of memory");
		h1_feed(st, p, window);
		if (h1_parser_failed(st))
			return h1_parse_error(st);
		if ((st->mflags & H1_HEAD_DONE) || window == full)
			break;
		window = full;
	}
	if (!(st->mflags & H1_HEAD_DONE)) {
		st->phase = PH_HEAD;
		st->fill = 0;
		return h1_head_incomplete(st, have);
	}
	st->head_len = st->fed + 1; /* the parser stopped before the last LF */
	if (h1_head_checks(st) < 0)
		return MH_DECODE_ERROR;

	if (st->mflags & H1_TE) {
		uint64_t limit = st->head_len + inst->chunk_wire;
		window = have < limit ? have : limit;
		if (!(p = (const char *)host->buf_pullup(in, (size_t)window)))
			return h1_fail(st, 500, "%s", "out of memory");
		h1_feed(st, p, window);
		if (h1_parser_failed(st))
			return h1_parse_error(st);
		if (st->mflags & H1_MSG_DONE) {
			host->buf_drain(in, (size_t)st->fed);
			return h1_finish(st);
		}
		if (window == limit)
			return h1_fail(st, 413, "chunked body larger than %llu bytes on the wire",
			               (unsigned long long)inst->chunk_wire);
		st->phase = PH_BODY_CHUNKED;
		st->fill = 0;
		h1_expect_continue(st);
		return MH_DECODE_NEED_MORE;
	}
	uint64_t body = (st->mflags & H1_HAS_CL) ? st->content_length : 0;
	if (have < st->head_len + body) {
		st->phase = PH_BODY_CL;
		st->fill = 0;
		h1_expect_continue(st);
		return MH_DECODE_NEED_MORE;
	}
	if (host->buf_drain(in, (size_t)st->head_len) < 0 ||
	    (body && host->buf_move(host->msg_body(st->msg), in, (size_t)body) < 0))
		return h1_fail(st, 500, "%s", "out of memory");
	return h1_finish(st);
}

/* Feed the bytes that arrived since the last call to the parser, without
 * building anything.  Returns MH_DECODE_MESSAGE when the part we wait for
 * (the head, or the chunked body) is complete, else NEED_MORE or ERROR. */
static int h1_scan(struct h1_conn *st, mh_buf *in, uint64_t have)
{
	const struct h1_instance *inst = st->inst;
	uint64_t limit = st->phase == PH_HEAD ? inst->max_head : st->head_len + inst->chunk_wire;
	uint64_t window = have < limit ? have : limit;
	if (window > st->fed) {
		const char *p = (const char *)host->buf_pullup(in, (size_t)window);
		if (!p)
			return h1_fail(st, 500, "%s", "out of memory");
		h1_feed(st, p, window);
		if (h1_parser_failed(st))
			return h1_parse_error(st);
	}
	if (st->phase == PH_HEAD)
		return (st->mflags & H1_HEAD_DONE) ? MH_DECODE_MESSAGE : h1_head_incomplete(st, have);
	if (st->mflags & H1_MSG_DONE)
		return MH_DECODE_MESSAGE;
	if (window == limit)
		return h1_fail(st, 413, "chunked body larger than %llu bytes on the wire",
		               (unsigned long long)inst->chunk_wire);
	return MH_DECODE_NEED_MORE;
}

/* Take one request from the front of in. */
static int h1_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out)
{
	struct h1_conn *st = state;
	uint64_t have = host->buf_length(in);
	st->conn = c;
	switch (st->phase) {
	case PH_BODY_CL:
		if (have < st->head_len + st->content_length)
			return MH_DECODE_NEED_MORE;
		break;
	case PH_HEAD:
	case PH_BODY_CHUNKED: {
		int r = h1_scan(st, in, have);
		if (r != MH_DECODE_MESSAGE)
			return r;
		break;
	}
	default: {
		/* Empty lines before a request are dropped (RFC 7230 3.5): a
		 * stray CRLF after a body must not count as a request begun,
		 * which read_timeout would then end with a 408. */
		const uint8_t *p = host->buf_pullup(in, 1);
		while (p && (*p == '\r' || *p == '\n')) {
			host->buf_drain(in, 1);
			p = --have ? host->buf_pullup(in, 1) : NULL;
		}
		if (have == 0)
			return MH_DECODE_NEED_MORE;
		break;
	}
	}
	return h1_fill(st, in, have, out);
}
