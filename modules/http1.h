/* modules/http1.h — what the http1 codec's two files share: the
 * per-connection state, the instance limits, and the encoder
 * (modules/http1out.c) that modules/http1.c's codec table points at. */
#ifndef MH_HTTP1_H
#define MH_HTTP1_H

#include <http_parser.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "modhost.h"

/* Per-message flags (struct h1_conn.mflags), reset by every fill pass. */
enum {
	H1_LAST_FIELD = 1u << 0, /* the last header callback was a field name */
	H1_HEAD_DONE = 1u << 1,
	H1_MSG_DONE = 1u << 2,
	H1_IN_BODY = 1u << 3,  /* header callbacks now are trailers: ignored */
	H1_HAS_CL = 1u << 4,
	H1_TE = 1u << 5,       /* a Transfer-Encoding header was seen */
	H1_TE_CHUNKED = 1u << 6, /* ... and its last coding is chunked */
	H1_EXPECT = 1u << 7,   /* Expect: 100-continue */
};

/* Where the current request is. */
enum h1_phase {
	PH_START = 0,        /* nothing of it parsed: the next decode runs a fill pass */
	PH_HEAD,             /* head incomplete: scan new bytes */
	PH_BODY_CL,          /* head complete, Content-Length body incomplete: count bytes */
	PH_BODY_CHUNKED,     /* head complete, chunked body incomplete: scan new bytes */
};

struct h1_instance {
	uint64_t max_line, max_header, max_body;
	uint64_t max_head;   /* request line + header section, terminators included */
	uint64_t chunk_wire; /* most bytes a chunked body may take on the wire */
	uint32_t max_headers;
};

/* Per-connection state (the host's zeroed block). */
struct h1_conn {
	http_parser parser; /* parser.data points back here */
	const struct h1_instance *inst;
	/* During one parser run: the first byte of the request, and in a fill
	 * pass the message being built. */
	const char *base;
	mh_msg *msg;
	mh_conn *conn;
	/* The current request. */
	uint64_t fed;            /* bytes of it the parser has consumed */
	uint64_t head_len;       /* once the head is complete */
	uint64_t content_length; /* with H1_HAS_CL */
	uint64_t body_seen;      /* chunked payload so far */
	uint64_t line_end;       /* request line length with its terminator; 0 = unknown */
	/* Fill pass: the target, and the header not stored yet, as offsets
	 * from base (the input may move when more of it is made contiguous);
	 * a length of SIZE_MAX means absent. */
	uint64_t url_off, hname_off, hval_off;
	size_t url_len, hname_len, hval_len;
	uint32_t n_headers, n_cl, n_host, te_chunked, te_other;
	uint16_t mflags;
	uint8_t phase;
	uint8_t fill;
	/* The connection. */
	uint8_t closing;        /* the last request decoded ends the connection */
	uint64_t decoded;       /* requests handed to the host */
	uint64_t answered;      /* replies encoded (encode and denials) */
	uint64_t continue_after; /* send "100 Continue" once this many are answered; 0 = no */
	uint64_t no_body_ring;  /* bit (n & 63): the answer to request n carries no body */
	uint32_t err_hash;      /* hash of the protocol error text we gave the host */
	int err_code;           /* its HTTP status */
};

#define H1_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"

/* Case-insensitive: is a[0..alen) the lowercase name lower? */
static inline int h1_eq(const char *a, size_t alen, const char *lower)
{
	size_t n = strlen(lower);
	return alen == n && strncasecmp(a, lower, n) == 0;
}

/* FNV-1a of a protocol error's text: how encode_error knows it (h1_fail). */
static inline uint32_t h1_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* modules/http1out.c: hand it the host table (from h1_load), and the
 * codec's encode and encode_error. */
void h1_out_init(const mh_host_api *api);
int h1_encode(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out);
void h1_encode_error(mh_module *m, mh_conn *c, void *state, int status, const char *text,
                     mh_buf *out);

#endif
