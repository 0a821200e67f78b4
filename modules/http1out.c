/* modules/http1out.c — the http1 codec's replies: the status line, the
 * handler's headers (framing and hop-by-hop ones are the codec's), Date,
 * Content-Length or chunked framing, Connection, the body; and the error
 * replies for denials, failed handlers and protocol errors.  The head is
 * gathered on the stack and added to the output in one piece, a small body
 * with it.  See doc/internals/http1.md. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http1.h"

/* The host table, the same for every instance. */
static const mh_host_api *host;

void h1_out_init(const mh_host_api *api)
{
	host = api;
}

/* Bytes gathered on the stack and added to the output in few calls. */
struct h1_out {
	mh_buf *out;
	size_t n;
	int failed;
	char buf[1024];
};

static void h1_flush(struct h1_out *o)
{
	if (o->n && host->buf_add(o->out, o->buf, o->n) < 0)
		o->failed = 1;
	o->n = 0;
}

static void h1_put(struct h1_out *o, const char *s, size_t len)
{
	if (o->n + len > sizeof(o->buf)) {
		h1_flush(o);
		if (len > sizeof(o->buf)) {
			if (host->buf_add(o->out, s, len) < 0)
				o->failed = 1;
			return;
		}
	}
	memcpy(o->buf + o->n, s, len);
	o->n += len;
}

static void h1_puts(struct h1_out *o, const char *s)
{
	h1_put(o, s, strlen(s));
}

static void h1_put_u64(struct h1_out *o, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	h1_put(o, d + i, sizeof(d) - i);
}

/* "HTTP/1.1 404 Not Found\r\n". */
static void h1_status_line(struct h1_out *o, int code)
{
	const char *reason = http_status_str((enum http_status)code);
	h1_put(o, "HTTP/1.1 ", 9);
	h1_put_u64(o, (uint64_t)code);
	h1_put(o, " ", 1);
	if (reason[0] != '<') /* "<unknown>": leave the reason empty */
		h1_puts(o, reason);
	h1_put(o, "\r\n", 2);
}

/* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", formatted once a second
 * (per worker process: it is not instance state). */
static void h1_date(struct h1_out *o)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static time_t cached = -1;
	static char line[48];
	static size_t len;
	time_t now = time(NULL);
	if (now != cached) {
		struct tm tm;
		gmtime_r(&now, &tm);
		len = (size_t)snprintf(line, sizeof(line),
		                       "Date: %.3s, %02d %.3s %04d %02d:%02d:%02d GMT\r\n",
		                       days + 3 * tm.tm_wday, tm.tm_mday, months + 3 * tm.tm_mon,
		                       tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached = now;
	}
	h1_put(o, line, len);
}

static int h1_field_is(const mh_msg *m, int field, const char *want, size_t wlen)
{
	size_t len;
	const char *v = host->msg_field(m, field, &len);
	return v && len == wlen && memcmp(v, want, wlen) == 0;
}

/* After answering a request: the "100 Continue" owed to the next one. */
static void h1_answered(struct h1_conn *st, struct h1_out *o)
{
	st->answered++;
	if (st->continue_after && st->answered == st->continue_after) {
		st->continue_after = 0;
		h1_put(o, H1_CONTINUE, sizeof(H1_CONTINUE) - 1);
	}
}

/* Append the reply: status line, the handler's headers (framing and
 * hop-by-hop ones are ours), Date, Content-Length or chunked framing,
 * Connection, then the body (copied beside the head when small, else
 * moved from the reply).  A handler's
 * "Connection: close" closes the connection after this reply (returns -1,
 * which the host reads as "close once written").  Returns 0 or -1. */
int h1_encode(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out)
{
	struct h1_conn *st = state;
	struct h1_out o = {.out = out};
	mh_buf *body = host->msg_body(reply);
	if (!body)
		return -1;
	if (host->msg_form(reply) == MH_REPLY_RAW) {
		if (host->buf_move(out, body, host->buf_length(body)) < 0)
			return -1;
		h1_answered(st, &o);
		h1_flush(&o);
		return o.failed ? -1 : 0;
	}
	const mh_msg *req = host->msg_request(reply);
	int code = host->msg_code(reply);
	if (code == 0)
		code = 200;
	else if (code < 100 || code > 999)
		code = 500;
	int http10 = req && h1_field_is(req, MH_FIELD_VERSION, "HTTP/1.0", 8);
	int no_body = (req && h1_field_is(req, MH_FIELD_METHOD, "HEAD", 4)) || code < 200 ||
	              code == 204 || code == 304;
	int chunked = 0, close = 0, has_date = 0;
#if MH_ABI_MINOR >= 3
	/* The host closes after this reply (the handler said so): say it. */
	close = h1_field_is(reply, MH_FIELD_CLOSING, "close", 5);
#endif
	uint64_t blen = host->buf_length(body);

	h1_status_line(&o, code);
	size_t n = host->msg_header_count(reply);
	for (size_t i = 0; i < n; i++) {
		const char *name, *value;
		size_t nl, vl;
		if (host->msg_header_at(reply, i, &name, &nl, &value, &vl) < 0 || nl == 0 ||
		    memchr(name, '\r', nl) || memchr(name, '\n', nl) || memchr(name, ':', nl) ||
		    memchr(value, '\r', vl) || memchr(value, '\n', vl))
			continue; /* never let a header split the response */
		if (h1_eq(name, nl, "content-length"))
			continue;
		if (h1_eq(name, nl, "transfer-encoding")) {
			chunked = h1_eq(value, vl, "chunked");
			continue;
		}
		if (h1_eq(name, nl, "connection")) {
			close |= h1_eq(value, vl, "close");
			continue;
		}
		has_date |= h1_eq(name, nl, "date");
		h1_put(&o, name, nl);
		h1_put(&o, ": ", 2);
		h1_put(&o, value, vl);
		h1_put(&o, "\r\n", 2);
	}
	if (!has_date)
		h1_date(&o);
	chunked = chunked && !http10 && !no_body;
	if (chunked) {
		h1_put(&o, "Transfer-Encoding: chunked\r\n", 28);
	} else if (code >= 200 && code != 204 && code != 304) {
		h1_put(&o, "Content-Length: ", 16);
		h1_put_u64(&o, blen);
		h1_put(&o, "\r\n", 2);
	}
	int last = st->closing && st->answered + 1 == st->decoded;
	if (close || last)
		h1_put(&o, "Connection: close\r\n", 19);
	else if (http10)
		h1_put(&o, "Connection: keep-alive\r\n", 24);
	h1_put(&o, "\r\n", 2);

	if (no_body) {
		host->buf_drain(body, (size_t)blen);
	} else if (chunked) {
		if (blen) {
			char size[24];
			h1_put(&o, size, (size_t)snprintf(size, sizeof(size), "%llx\r\n",
			                                 (unsigned long long)blen));
			h1_flush(&o);
			if (host->buf_move(out, body, (size_t)blen) < 0)
				return -1;
			h1_put(&o, "\r\n", 2);
		}
		h1_put(&o, "0\r\n\r\n", 5);
	} else if (blen && blen <= sizeof(o.buf) - o.n) {
		/* A small body joins the head: one piece of output, one write. */
		o.n += host->buf_peek(body, o.buf + o.n, (size_t)blen);
	} else if (blen) {
		h1_flush(&o);
		if (host->buf_move(out, body, (size_t)blen) < 0)
			return -1;
	}
	h1_answered(st, &o);
	h1_flush(&o);
	if (close) {
		st->closing = 1;
		return -1;
	}
	return o.failed ? -1 : 0;
}

static int h1_http_code(int status)
{
	switch (status) {
	case MH_STATUS_BAD_REQUEST: return 400;
	case MH_STATUS_UNAUTHORIZED: return 401;
	case MH_STATUS_FORBIDDEN: return 403;
	case MH_STATUS_NOT_FOUND: return 404;
	case MH_STATUS_TOO_LARGE: return 413;
	case MH_STATUS_TOO_MANY: return 429;
	case MH_STATUS_UNAVAILABLE: return 503;
	case MH_STATUS_TIMEOUT: return 408;
	default: return 500;
	}
}

/* An error reply: for a request that was denied or whose handler failed
 * (in its place in the reply order; the connection goes on), for the
 * protocol error we reported from decode (with its own status), or for
 * one of the host's own with no request waiting for its reply (a timeout,
 * a connection limit).  The last two say "Connection: close": the host
 * closes next.  The body is a short text:
 * the host's reason for a denial, the status's reason phrase for a
 * protocol error, with anything but printable ASCII replaced. */
void h1_encode_error(mh_module *m, mh_conn *c, void *state, int status, const char *text,
                     mh_buf *out)
{
	struct h1_conn *st = state;
	struct h1_out o = {.out = out};
	int protocol = st->err_code && text && h1_hash(text) == st->err_hash;
	int for_request = !protocol && st->answered < st->decoded;
	int code = protocol ? st->err_code : h1_http_code(status);
	int no_body = 0, close = !for_request;
	if (protocol) {
		st->err_code = 0;
		text = NULL;
	} else if (for_request) {
		no_body = (int)((st->no_body_ring >> (st->answered & 63)) & 1);
		close = st->closing && st->answered + 1 == st->decoded;
	}
	char clean[258];
	size_t n = 0;
	if (!text || !*text)
		text = http_status_str((enum http_status)code);
	for (; text[n] && n < sizeof(clean) - 2; n++)
		clean[n] = (text[n] < 0x20 || text[n] > 0x7e) ? ' ' : text[n];
	clean[n++] = '\n';

	h1_status_line(&o, code);
	h1_date(&o);
	h1_puts(&o, "Content-Type: text/plain\r\nContent-Length: ");
	h1_put_u64(&o, n);
	h1_puts(&o, close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
	if (!no_body)
		h1_put(&o, clean, n);
	if (for_request)
		h1_answered(st, &o);
	h1_flush(&o);
}
