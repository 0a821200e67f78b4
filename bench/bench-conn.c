/* bench/bench-conn.c — mh-bench's connections: non-blocking connects (a
 * window at a time), the TLS client handshake (GnuTLS), socket I/O,
 * pipelined requests and the check of every reply against its request.
 * The run that drives them, its options and its report are
 * bench/mh-bench.c. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/event.h>
#include <gnutls/gnutls.h>

#include "histogram.h"
#include "mh-bench.h"
#include "proto.h"

#define BENCH_CONNECT_WINDOW 256 /* connects in progress at once */

/* ---- payloads ---------------------------------------------------------------- */

/* The payload of request seq: the shared pattern with the first stamp_len
 * bytes replaced by seq in base 32, so each reply can be matched to its
 * request.  Written into b->scratch. */
static const uint8_t *bench_conn_payload(struct bench *b, uint64_t seq)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	memcpy(b->scratch, b->pattern, b->o.size);
	for (size_t i = 0; i < b->stamp_len; i++)
		b->scratch[i] = (uint8_t)digits[(seq >> (5 * i)) & 31];
	return b->scratch;
}

/* True when body[0..len) is what the protocol says the reply to request
 * seq must carry: a fixed text, or the payload of a request (a RESP nil,
 * body NULL, matches nothing). */
static bool bench_conn_reply_matches(struct bench *b, uint64_t seq, const uint8_t *body, size_t len)
{
	struct proto_want w;
	b->o.proto->want(seq, &w);
	if (!body)
		return false;
	if (w.text)
		return len == strlen(w.text) && memcmp(w.text, body, len) == 0;
	if (len != b->o.size)
		return false;
	return memcmp(bench_conn_payload(b, w.payload_seq), body, len) == 0;
}

/* ---- connections ---------------------------------------------------------------- */

/* Read what the socket has into buf.  Returns bytes read, 0 at EOF, or -1
 * (errno set; EAGAIN when nothing is there yet). */
static ssize_t bench_conn_recv(struct bench_conn *c, uint8_t *buf, size_t max)
{
	if (!c->tls)
		return recv(c->fd, buf, max, 0);
	ssize_t n = gnutls_record_recv(c->tls, buf, max);
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
		errno = n == GNUTLS_E_AGAIN ? EAGAIN : EINTR;
	else if (n == GNUTLS_E_PREMATURE_TERMINATION)
		return 0; /* closed without a close_notify: an EOF all the same */
	else
		errno = ECONNRESET;
	return -1;
}

/* Send from buf; same return convention as send(2).  A TLS record that
 * could not go out whole is resumed by the next call (GnuTLS wants it
 * finished before new data), which then reports its length. */
static ssize_t bench_conn_send(struct bench_conn *c, const uint8_t *buf, size_t len)
{
	if (!c->tls)
		return send(c->fd, buf, len, MSG_NOSIGNAL);
	ssize_t n = c->tls_again ? gnutls_record_send(c->tls, NULL, 0)
	                         : gnutls_record_send(c->tls, buf, len);
	if (n >= 0) {
		c->tls_again = 0;
		return n;
	}
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
		if (!c->tls_again)
			c->tls_again = len;
		errno = n == GNUTLS_E_AGAIN ? EAGAIN : EINTR;
		return -1;
	}
	errno = ECONNRESET;
	return -1;
}

void bench_conn_release(struct bench_conn *c)
{
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	if (c->hev)
		event_free(c->hev);
	c->rev = c->wev = c->hev = NULL;
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	if (c->fd > 0)
		close(c->fd);
	c->fd = -1;
	bytes_release(&c->in);
	bytes_release(&c->out);
	free(c->ring);
	c->ring = NULL;
}

/* Close c for good, counting its outstanding measured requests as lost. */
static void bench_conn_kill(struct bench_conn *c)
{
	struct bench *b = c->b;
	if (c->dead)
		return;
	bool was_connected = c->connected;
	c->dead = true;
	c->connected = false;
	for (uint32_t i = 0; i < c->n_total; i++) {
		struct bench_req *r = &c->ring[(c->head + i) & (c->ring_cap - 1)];
		if (r->measured) {
			b->st.lost++;
			b->outstanding_measured--;
		}
	}
	c->n_total = c->n_sent = 0;
	bench_conn_release(c);
	if (was_connected)
		b->alive--;
	if (b->started && b->alive == 0)
		bench_finish(b);
}

/* Append a request to c's ring.  Returns the entry, or NULL out of memory. */
static struct bench_req *bench_conn_push(struct bench_conn *c)
{
	if (c->n_total == c->ring_cap) {
		uint32_t cap = c->ring_cap ? c->ring_cap * 2 : 4;
		struct bench_req *ring = malloc(sizeof(*ring) * cap);
		if (!ring)
			return NULL;
		for (uint32_t i = 0; i < c->n_total; i++)
			ring[i] = c->ring[(c->head + i) & (c->ring_cap - 1)];
		free(c->ring);
		c->ring = ring;
		c->ring_cap = cap;
		c->head = 0;
	}
	struct bench_req *r = &c->ring[(c->head + c->n_total) & (c->ring_cap - 1)];
	c->n_total++;
	r->seq = c->next_seq++;
	return r;
}

struct bench_req *bench_conn_issue(struct bench_conn *c, uint64_t start_ns, bool measured)
{
	struct bench *b = c->b;
	struct bench_req *r = bench_conn_push(c);
	if (!r)
		bench_die("out of memory");
	r->start_ns = start_ns;
	r->measured = measured;
	if (measured) {
		b->issued_measured++;
		b->outstanding_measured++;
		if (b->o.total && b->issued_measured >= b->o.total)
			bench_stop_issuing(b);
	}
	return r;
}

/* Encode the request of entry r into c's output. */
int bench_conn_encode(struct bench_conn *c, const struct bench_req *r)
{
	struct bench *b = c->b;
	return b->o.proto->encode(&c->out, (unsigned)(c - b->conns), r->seq,
	                          bench_conn_payload(b, r->seq), b->o.size);
}

/* Put requests on the wire up to the pipeline depth: in the open loop the
 * waiting ones, in the closed loop new ones stamped now. */
void bench_conn_fill(struct bench_conn *c, uint64_t now)
{
	struct bench *b = c->b;
	while (!c->dead && c->n_sent < b->o.pipeline) {
		if (b->o.rate > 0) {
			if (c->n_sent == c->n_total)
				break;
		} else {
			if (b->stop_issuing)
				break;
			bool measured = now >= b->measure_start_ns;
			if (measured && b->o.duration > 0 && now >= b->measure_end_ns) {
				bench_stop_issuing(b);
				break;
			}
			bench_conn_issue(c, now, measured);
		}
		struct bench_req *r = &c->ring[(c->head + c->n_sent) & (c->ring_cap - 1)];
		if (bench_conn_encode(c, r) < 0)
			bench_die("out of memory");
		if (b->o.rate > 0 && r->measured)
			histogram_record(b->lag, now > r->start_ns ? now - r->start_ns : 0);
		c->n_sent++;
	}
	bench_conn_flush(c);
}

/* Write c's pending output; wait for writability if the socket is full. */
void bench_conn_flush(struct bench_conn *c)
{
	while (!c->dead && bytes_live(&c->out) > 0) {
		ssize_t n = bench_conn_send(c, c->out.data + c->out.off, bytes_live(&c->out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->wev_added) {
				event_add(c->wev, NULL);
				c->wev_added = true;
			}
			return;
		}
		if (n < 0) {
			c->b->st.closed++;
			bench_conn_kill(c);
			return;
		}
		c->out.off += (size_t)n;
	}
	if (!c->dead) {
		c->out.off = c->out.len = 0;
		if (c->wev_added) {
			event_del(c->wev);
			c->wev_added = false;
		}
	}
}

/* One reply arrived for the oldest sent request of c. */
static void bench_conn_reply(struct bench_conn *c, const uint8_t *body, size_t len, uint64_t now)
{
	struct bench *b = c->b;
	b->st.total_replies++;
	if (c->n_sent == 0) { /* a reply nobody asked for */
		b->st.protocol_errors++;
		return;
	}
	struct bench_req *r = &c->ring[c->head];
	c->head = (c->head + 1) & (c->ring_cap - 1);
	c->n_sent--;
	c->n_total--;
	bool good = bench_conn_reply_matches(b, r->seq, body, len);
	if (b->o.idle && good)
		b->pinged++;
	if (!r->measured)
		return;
	b->outstanding_measured--;
	if (!good) {
		b->st.mismatches++;
		return;
	}
	b->st.ok++;
	b->last_reply_ns = now;
	histogram_record(b->hist, now > r->start_ns ? now - r->start_ns : 0);
}

/* Parse whole replies from the front of buf[0..n); returns the bytes used,
 * or -1 after a protocol error killed the connection. */
static ssize_t bench_conn_parse(struct bench_conn *c, const uint8_t *buf, size_t n, uint64_t now)
{
	size_t used = 0;
	while (used < n) {
		const uint8_t *body;
		size_t len;
		ssize_t r = c->b->o.proto->parse(buf + used, n - used, &body, &len);
		if (r == 0)
			break;
		if (r < 0) {
			c->b->st.protocol_errors++;
			bench_conn_kill(c);
			return -1;
		}
		bench_conn_reply(c, body, len, now);
		used += (size_t)r;
	}
	return (ssize_t)used;
}

/* Read once and parse what came.  Returns 1 after handling bytes, 0 when
 * nothing was there, -1 when the connection is gone. */
static int bench_conn_read_once(struct bench_conn *c, uint64_t now)
{
	struct bench *b = c->b;
	ssize_t n = bench_conn_recv(c, b->readbuf, BENCH_READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		b->st.closed++;
		bench_conn_kill(c);
		return -1;
	}
	if (bytes_live(&c->in) == 0) {
		/* The common case: parse straight from the read buffer and
		 * keep only a partial reply. */
		ssize_t used = bench_conn_parse(c, b->readbuf, (size_t)n, now);
		if (used < 0)
			return -1;
		if ((size_t)used < (size_t)n &&
		    bytes_add(&c->in, b->readbuf + used, (size_t)n - (size_t)used) < 0)
			bench_die("out of memory");
	} else {
		if (bytes_add(&c->in, b->readbuf, (size_t)n) < 0)
			bench_die("out of memory");
		ssize_t used = bench_conn_parse(c, c->in.data + c->in.off, bytes_live(&c->in), now);
		if (used < 0)
			return -1;
		c->in.off += (size_t)used;
		if (bytes_live(&c->in) == 0)
			bytes_release(&c->in);
	}
	return c->dead ? -1 : 1;
}

static void bench_conn_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn *c = arg;
	struct bench *b = c->b;
	uint64_t now = bench_now_ns();
	int r;
	/* GnuTLS may hold decrypted records the socket no longer signals. */
	do
		r = bench_conn_read_once(c, now);
	while (r > 0 && c->tls && gnutls_record_check_pending(c->tls) > 0);
	if (r <= 0)
		return;
	if (b->o.idle) {
		if (b->pinged == b->st.connected)
			bench_begin(b);
		return;
	}
	if (b->started && !b->finished)
		bench_conn_fill(c, now);
	if (b->stop_issuing && b->outstanding_measured == 0)
		bench_finish(b);
}

static void bench_conn_on_write(evutil_socket_t fd, short what, void *arg)
{
	bench_conn_flush(arg);
}

/* c is up (TCP, and TLS when asked): count it, read its replies from now
 * on, and start the next connects. */
static void bench_conn_established(struct bench_conn *c)
{
	struct bench *b = c->b;
	b->connecting--;
	c->connected = true;
	b->alive++;
	b->st.connected++;
	c->rev = event_new(b->base, c->fd, EV_READ | EV_PERSIST, bench_conn_on_read, c);
	c->wev = event_new(b->base, c->fd, EV_WRITE | EV_PERSIST, bench_conn_on_write, c);
	if (!c->rev || !c->wev || event_add(c->rev, NULL) < 0)
		bench_die("cannot create events");
	bench_conn_start_connects(b);
}

/* The connect or the TLS handshake of c failed: count it (the first few
 * are printed), drop c, and start the next connects. */
static void bench_conn_failed(struct bench_conn *c, const char *what, const char *why)
{
	struct bench *b = c->b;
	b->connecting--;
	b->st.connect_errors++;
	if (b->st.connect_errors <= 3)
		fprintf(stderr, "mh-bench: %s: %s\n", what, why);
	c->dead = true;
	if (c->hev)
		event_free(c->hev);
	c->hev = NULL;
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	bench_conn_start_connects(b);
}

static void bench_conn_handshake(struct bench_conn *c);

static void bench_conn_on_handshake(evutil_socket_t fd, short what, void *arg)
{
	bench_conn_handshake(arg);
}

/* Drive c's TLS handshake: done, waiting for the socket (one-shot event
 * in the direction GnuTLS asks for), or failed. */
static void bench_conn_handshake(struct bench_conn *c)
{
	struct bench *b = c->b;
	int r;
	do
		r = gnutls_handshake(c->tls);
	while (r < 0 && r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r));
	if (r == GNUTLS_E_SUCCESS) {
		if (c->hev)
			event_free(c->hev);
		c->hev = NULL;
		bench_conn_established(c);
		return;
	}
	if (r == GNUTLS_E_AGAIN) {
		short ev = gnutls_record_get_direction(c->tls) ? EV_WRITE : EV_READ;
		if (c->hev)
			event_free(c->hev);
		c->hev = event_new(b->base, c->fd, ev, bench_conn_on_handshake, c);
		if (!c->hev || event_add(c->hev, NULL) < 0)
			bench_die("cannot create events");
		return;
	}
	char why[512];
	snprintf(why, sizeof(why), "%s", gnutls_strerror(r));
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t text;
		unsigned status = gnutls_session_get_verify_cert_status(c->tls);
		if (gnutls_certificate_verification_status_print(
		        status, gnutls_certificate_type_get(c->tls), &text, 0) == 0) {
			snprintf(why, sizeof(why), "%s: %s", gnutls_strerror(r), text.data);
			gnutls_free(text.data);
		}
	}
	bench_conn_failed(c, "TLS handshake", why);
}

/* Start TLS on c's connected socket: a client session with the shared
 * credentials and priorities, SNI and verification as the options say. */
static void bench_conn_tls_start(struct bench_conn *c)
{
	struct bench *b = c->b;
	if (gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0 ||
	    gnutls_priority_set(c->tls, b->prio) < 0 ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, b->cred) < 0)
		bench_die("cannot set up a TLS session");
	if (b->o.sni &&
	    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, b->o.sni, strlen(b->o.sni)) < 0)
		bench_die("bad --sni '%s'", b->o.sni);
	if (b->o.tls_ca) /* the chain, and the name when --sni gives one */
		gnutls_session_set_verify_cert(c->tls, b->o.sni, 0);
	gnutls_transport_set_int(c->tls, c->fd);
	bench_conn_handshake(c);
}

/* The non-blocking connect of c finished (or failed). */
static void bench_conn_on_connect(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	event_free(c->wev);
	c->wev = NULL;
	if (err)
		bench_conn_failed(c, "connect", strerror(err));
	else if (c->b->o.tls)
		bench_conn_tls_start(c);
	else
		bench_conn_established(c);
}

/* Start connects until BENCH_CONNECT_WINDOW are in progress; when every
 * connection has been tried and none is pending, the run begins.  The
 * window keeps the server's accept queue from overflowing, which would
 * turn into one-second SYN retransmits. */
void bench_conn_start_connects(struct bench *b)
{
	while (b->next_connect < b->n_conns && b->connecting < BENCH_CONNECT_WINDOW) {
		struct bench_conn *c = &b->conns[b->next_connect++];
		c->b = b;
		c->fd = socket(b->ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			b->st.connect_errors++;
			if (b->st.connect_errors <= 3)
				fprintf(stderr, "mh-bench: socket: %s\n", strerror(errno));
			c->dead = true;
			continue;
		}
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c->fd, b->ai->ai_addr, b->ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			b->st.connect_errors++;
			if (b->st.connect_errors <= 3)
				fprintf(stderr, "mh-bench: connect: %s\n", strerror(errno));
			close(c->fd);
			c->fd = -1;
			c->dead = true;
			continue;
		}
		c->wev = event_new(b->base, c->fd, EV_WRITE, bench_conn_on_connect, c);
		if (!c->wev || event_add(c->wev, NULL) < 0)
			bench_die("cannot create events");
		b->connecting++;
	}
	if (b->next_connect == b->n_conns && b->connecting == 0 && !b->started)
		bench_begin(b);
}
