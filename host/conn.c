/* host/conn.c — the connection lifecycle: reading through the transport,
 * decoding with the listener's codec, queueing requests in order, writing
 * replies, backpressure, timeouts and deferred close. */
#include "build-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "listener.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "peerlimit.h"
#include "pipeline.h"
#include "tls.h"
#include "transport.h"
#include "worker.h"

/* Bytes read per readiness event: large enough to batch pipelined
 * requests, small enough that one busy peer cannot starve the others. */
#define CONN_READ_CHUNK (64 * 1024)

static uint64_t conn_next_id;

/* Edge-triggered readiness for c: its transport reads the socket dry
 * (plain) and the worker's event backend can (epoll). */
static int conn_edge_triggered(const struct mh_conn *c)
{
	return c->transport->edge_triggered && worker_edge_triggered();
}

static void conn_event_cb(evutil_socket_t fd, short what, void *arg);
static void conn_update(struct mh_conn *c);
static void conn_free(struct mh_conn *c);

uint64_t conn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *conn_peer_text(struct mh_conn *c)
{
	if (c->peer_text)
		return c->peer_text;
	char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
	const struct sockaddr *sa = &c->peer.sa;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(text, sizeof(text), "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(text, sizeof(text), "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(text, sizeof(text), "unix");
	}
	c->peer_text = arena_strdup(&c->arena, text);
	return c->peer_text ? c->peer_text : "?";
}

static const mh_codec_ops *codec_of(const struct mh_conn *c)
{
	return c->codec->desc->codec;
}

/* The largest unparsed input the conn's codec accepts. */
static uint64_t conn_max_message(const struct mh_conn *c)
{
	if (c->codec == c->sl->codec)
		return c->sl->max_message;
	return codec_of(c)->max_message(c->codec);
}

int conn_codec_start(struct mh_conn *c, struct mh_module *m)
{
	const mh_codec_ops *codec = m->desc->codec;
	c->flags &= ~CONN_HANDSHAKE;
	c->msg_started_ms = 0;
	c->codec = m;
	if (codec->conn_state_size <= sizeof(c->codec_inline)) {
		c->codec_state = c->codec_inline;
	} else if (!(c->codec_state = calloc(1, codec->conn_state_size))) {
		return -1;
	}
	if (codec->conn_init) {
		shm_mark_running(m);
		int r = codec->conn_init(m, c, c->codec_state);
		shm_mark_running(NULL);
		if (r < 0)
			return -1;
	}
	c->flags |= CONN_CODEC_READY;
	return 0;
}

static void conn_fail(struct mh_conn *c, int status, const char *text, const char *limit);

/* max_connections_per_ip: count c under its address, or return 1 when the
 * address already has as many connections as the listener allows. */
static int conn_count_peer(struct mh_conn *c)
{
	uint64_t max = c->sl->ls->max_connections_per_ip;
	uint64_t key = max ? peerlimit_key(c->sl->ls->name, &c->peer.sa) : 0;
	if (!key)
		return 0;
	if (peerlimit_count(key) >= max)
		return 1;
	if (peerlimit_add(key) == 0)
		c->flags |= CONN_PER_IP;
	return 0;
}

/* Over max_connections_per_ip: a plain connection gets the codec's
 * "unavailable" reply (HTTP 503, RESP -ERR) and is closed; a TLS one is
 * closed at once, before a handshake that would cost more than the
 * refusal is worth. */
static void conn_refuse_peer(struct mh_conn *c)
{
	static const char text[] = "too many connections from this address";
	if (!c->transport->open && conn_codec_start(c, c->sl->codec) == 0) {
		conn_fail(c, MH_STATUS_UNAVAILABLE, text, "max_connections_per_ip");
		return;
	}
	log_info("listener '%s': closing connection from %s: %s", c->sl->ls->name,
	         conn_peer_text(c), text);
	pipeline_observe(c, MH_EVENT_LIMIT, NULL, "max_connections_per_ip", 0);
	c->flags |= CONN_CLOSE_NOW;
}

void conn_uncount_peer(struct mh_conn *c)
{
	if (c->flags & CONN_PER_IP) {
		peerlimit_remove(peerlimit_key(c->sl->ls->name, &c->peer.sa));
		c->flags &= ~CONN_PER_IP;
	}
}

struct mh_conn *conn_new(struct serve_listener *sl, int fd, const struct sockaddr *peer,
                         socklen_t peerlen)
{
	struct mh_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->sl = sl;
	c->transport = sl->tls ? &transport_tls : &transport_plain;
	c->codec = sl->codec;
	c->id = ((uint64_t)(worker_id() + 1) << 48) | ++conn_next_id;
	if (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)
		memcpy(&c->peer, peer, peerlen < sizeof(c->peer) ? peerlen : sizeof(c->peer));
	else
		c->peer.sa.sa_family = peer->sa_family;
	if (peer->sa_family == AF_INET || peer->sa_family == AF_INET6) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (sl->ls->send_buffer) {
		/* On the connection, not the listening socket, so that a reload
		 * that changes or drops the setting holds for every new one. */
		int size = (int)sl->ls->send_buffer;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	}

	int refuse = conn_count_peer(c);

	event_assign(&c->ev, worker_base(), fd, 0, conn_event_cb, c);
	worker_conn_added(c);
	pipeline_observe(c, MH_EVENT_CONN_OPEN, NULL, NULL, 0);
	if (refuse) {
		conn_refuse_peer(c);
	} else if (c->transport->open) {
		/* A transport with a handshake starts the codec when it is done. */
		c->flags |= CONN_HANDSHAKE;
		c->msg_started_ms = conn_now_ms();
		if (c->transport->open(c) < 0) {
			log_error("listener '%s': cannot set up %s for %s", sl->ls->name,
			          c->transport->name, conn_peer_text(c));
			c->flags |= CONN_CLOSE_NOW;
		}
	} else if (conn_codec_start(c, sl->codec) < 0) {
		c->flags |= CONN_CLOSE_NOW;
	}
	conn_update(c);
	return c;
}

/* ---- closing ------------------------------------------------------------ */

void conn_close(struct mh_conn *c)
{
	if (c->flags & (CONN_CLOSING | CONN_CLOSE_NOW))
		return;
	c->flags |= CONN_CLOSING;
	conn_update(c);
}

void conn_abort(struct mh_conn *c, const char *why)
{
	if (c->flags & CONN_CLOSE_NOW)
		return;
	if (why)
		log_debug("listener '%s': connection %s closed: %s", c->sl->ls->name,
		          conn_peer_text(c), why);
	c->flags |= CONN_CLOSE_NOW;
	conn_update(c);
}

static void conn_on_readable(struct mh_conn *c);
void conn_drain(struct mh_conn *c)
{
	c->flags |= CONN_DRAINING;
	if (!(c->flags & (CONN_CLOSING | CONN_CLOSE_NOW | CONN_READ_PAUSED | CONN_PEER_EOF | CONN_REAP |
	                  CONN_HANDSHAKE))) {
		c->flags |= CONN_IN_CALLBACK;
		conn_on_readable(c);
		c->flags &= ~CONN_IN_CALLBACK;
	}
	conn_update(c);
}

/* One module's block of a connection (conn_data), in its arena. */
struct conn_data {
	struct conn_data *next;
	struct mh_module *m;
	void (*release)(struct mh_module *m, void *data);
	size_t size;
	_Alignas(16) unsigned char bytes[];
};

void *conn_data(struct mh_conn *c, struct mh_module *m, size_t size,
                void (*release)(struct mh_module *m, void *data))
{
	for (struct conn_data *d = c->data; d; d = d->next)
		if (d->m == m)
			return size <= d->size ? d->bytes : NULL;
	if (size == 0)
		return NULL;
	struct conn_data *d = arena_alloc(&c->arena, sizeof(*d) + size);
	if (!d)
		return NULL;
	d->m = m;
	d->release = release;
	d->size = size;
	d->next = c->data;
	c->data = d;
	return d->bytes;
}

void conn_release_data(struct mh_conn *c)
{
	struct conn_data *d = c->data;
	c->data = NULL;
	for (; d; d = d->next) {
		if (!d->release)
			continue;
		shm_mark_running(d->m);
		d->release(d->m, d->bytes);
		shm_mark_running(NULL);
	}
}

/* Cancel async work, free queued messages, release codec and module
 * state. */
static void conn_free(struct mh_conn *c)
{
	event_del(&c->ev);
	worker_forget_read(c);
	while (c->inflight_head) {
		struct mh_msg *req = c->inflight_head;
		c->inflight_head = req->next;
		struct mh_module *hm = req->handler;
		if (req->state == MSG_ASYNC && hm && hm->desc->handler->cancel) {
			shm_mark_running(hm);
			hm->desc->handler->cancel(hm, req, req->reply);
			shm_mark_running(NULL);
		}
		msg_free(req);
	}
	pipeline_observe(c, MH_EVENT_CONN_CLOSE, NULL, NULL, 0);
	const mh_codec_ops *codec = codec_of(c);
	if ((c->flags & CONN_CODEC_READY) && codec->conn_fini) {
		shm_mark_running(c->codec);
		codec->conn_fini(c->codec, c, c->codec_state);
		shm_mark_running(NULL);
	}
	conn_release_data(c);
	worker_conn_removed(c);
	if (c->transport->close)
		c->transport->close(c);
	close(c->fd);
	if (c->in)
		msg_buf_put(c->in);
	if (c->out)
		msg_buf_put(c->out);
	if (c->codec_state != c->codec_inline)
		free(c->codec_state);
	arena_free(&c->arena);
	free(c);
}

void conn_reap(struct mh_conn *c)
{
	conn_free(c);
}

/* ---- replies ---------------------------------------------------------------- */

static const char *status_text(int status)
{
	switch (status) {
	case MH_STATUS_BAD_REQUEST: return "bad request";
	case MH_STATUS_UNAUTHORIZED: return "unauthorized";
	case MH_STATUS_FORBIDDEN: return "forbidden";
	case MH_STATUS_NOT_FOUND: return "not found";
	case MH_STATUS_TOO_LARGE: return "too large";
	case MH_STATUS_TOO_MANY: return "too many requests";
	case MH_STATUS_UNAVAILABLE: return "unavailable";
	case MH_STATUS_TIMEOUT: return "timeout";
	default: return "internal error";
	}
}

static int ensure_out(struct mh_conn *c)
{
	if (!c->out && !(c->out = msg_buf_get()))
		return -1;
	return 0;
}

/* Append the codec's error reply, if it has one. */
static void conn_encode_error(struct mh_conn *c, int status, const char *text)
{
	const mh_codec_ops *codec = codec_of(c);
	if (!codec->encode_error || ensure_out(c) < 0)
		return;
	shm_mark_running(c->codec);
	codec->encode_error(c->codec, c, c->codec_state, status, text, (mh_buf *)c->out);
	shm_mark_running(NULL);
}

/* Encode every finished reply at the head of the queue, in order. */
static void conn_encode_ready(struct mh_conn *c)
{
	const mh_codec_ops *codec = codec_of(c);
	struct mh_msg *req;
	uint32_t encoded = 0;
	while ((req = c->inflight_head) && req->state == MSG_DONE) {
		c->inflight_head = req->next;
		if (!c->inflight_head)
			c->inflight_tail = NULL;
		c->n_inflight--;
		struct mh_msg *reply = req->reply;
		c->flags |= CONN_SERVED;
		if (ensure_out(c) < 0) {
			msg_free(req);
			c->flags |= CONN_CLOSE_NOW;
			break;
		}
		/* Observers see the reply whole, before the codec takes its body:
		 * they can read its size and still add headers.  Without
		 * observers only an error reply has something to count (the
		 * replies themselves are counted per batch, below). */
		if (c->sl->n_observers || reply->is_error || reply->status != MH_STATUS_OK)
			pipeline_observe(c, MH_EVENT_MSG_OUT, reply, NULL, 0);
		if (reply->is_error) {
			/* A codec without an error form can only close. */
			if (!codec->encode_error)
				c->flags |= CONN_CLOSING;
			conn_encode_error(c, reply->status,
			                  reply->error_text ? reply->error_text
			                                    : status_text(reply->status));
		} else {
			msg_body(reply);
			/* Closing, or draining with no input left, the connection
			 * ends once this last reply is out: let the codec announce
			 * it (Connection: close). */
			if (c->n_inflight == 0 &&
			    ((c->flags & CONN_CLOSING) ||
			     ((c->flags & CONN_DRAINING) && (!c->in || buf_length(c->in) == 0))))
				msg_field_set(reply, MH_FIELD_CLOSING, "close", 5);
			shm_mark_running(c->codec);
			int r = codec->encode(c->codec, c, c->codec_state, reply, (mh_buf *)c->out);
			shm_mark_running(NULL);
			if (r < 0)
				c->flags |= CONN_CLOSING;
		}
		if (reply->close_after)
			c->flags |= CONN_CLOSING;
		msg_free(req);
		encoded++;
	}
	if (encoded)
		metrics_host_replies(c, encoded);
}

/* Write what the socket takes now; schedule the rest. */
static void conn_write_now(struct mh_conn *c)
{
	if (!c->out || buf_length(c->out) == 0)
		return;
	int r = c->transport->write(c);
	if (r == TRANSPORT_ERROR)
		conn_abort(c, strerror(errno));
}

void conn_flush_replies(struct mh_conn *c)
{
	conn_encode_ready(c);
	conn_write_now(c);
	conn_update(c);
}

/* ---- reading and decoding ------------------------------------------------------ */

/* A protocol error or a limit: reply if the codec can, then close. */
static void conn_fail(struct mh_conn *c, int status, const char *text, const char *limit)
{
	log_info("listener '%s': closing connection from %s: %s", c->sl->ls->name,
	         conn_peer_text(c), text);
	if (limit)
		pipeline_observe(c, MH_EVENT_LIMIT, NULL, limit, 0);
	else
		pipeline_observe(c, MH_EVENT_ERROR, NULL, text, 0);
	conn_encode_ready(c);
	conn_encode_error(c, status, text);
	if (c->in)
		buf_drain(c->in, buf_length(c->in));
	c->flags |= CONN_CLOSING;
	/* Requests still waiting for a handler are dropped with the conn. */
}

/* Decode and dispatch every complete message in c->in, up to the
 * listener's max_inflight. */
static void conn_decode(struct mh_conn *c)
{
	int decoded = 0;
	struct serve_listener *sl = c->sl;
	const mh_codec_ops *codec = codec_of(c);
	while (!(c->flags & (CONN_CLOSING | CONN_CLOSE_NOW)) && buf_length(c->in) > 0 &&
	       c->n_inflight < sl->ls->max_inflight) {
		struct mh_msg *msg = NULL;
		shm_mark_running(c->codec);
		int r = codec->decode(c->codec, c, c->codec_state, (mh_buf *)c->in, &msg);
		shm_mark_running(NULL);
		if (r == MH_DECODE_NEED_MORE) {
			if (msg)
				msg_free(msg);
			if (buf_length(c->in) > conn_max_message(c)) {
				char text[128];
				snprintf(text, sizeof(text), "message larger than %llu bytes",
				         (unsigned long long)conn_max_message(c));
				conn_fail(c, MH_STATUS_TOO_LARGE, text, "message_size");
			}
			break;
		}
		if (r != MH_DECODE_MESSAGE || !msg) {
			if (msg)
				msg_free(msg);
			int status = c->error_status ? c->error_status : MH_STATUS_BAD_REQUEST;
			const char *text = c->error_text ? c->error_text : "protocol error";
			conn_fail(c, status, text,
			          status == MH_STATUS_TOO_LARGE ? "message_size" : NULL);
			break;
		}
		msg->conn = c;
		if (c->inflight_tail)
			c->inflight_tail->next = msg;
		else
			c->inflight_head = msg;
		c->inflight_tail = msg;
		c->n_inflight++;
		decoded++;
		/* The last request this connection may make: nothing behind it
		 * is read, and its reply announces the close. */
		uint64_t max_requests = sl->ls->max_requests_per_connection;
		if (max_requests && ++c->n_requests >= max_requests)
			c->flags |= CONN_CLOSING;
		pipeline_run(c, msg);
	}
	if (c->n_inflight >= sl->ls->max_inflight && buf_length(c->in) > 0)
		c->flags |= CONN_INFLIGHT_FULL;
	/* The read timeout runs from the first byte of the unparsed input. */
	if (buf_length(c->in) == 0)
		c->msg_started_ms = 0;
	else if (decoded || !c->msg_started_ms)
		c->msg_started_ms = conn_now_ms();
}

static void conn_on_readable(struct mh_conn *c)
{
	if (!c->in && !(c->in = msg_buf_get())) {
		conn_abort(c, "out of memory");
		return;
	}
	size_t n = 0;
	c->flags &= ~CONN_READ_MORE;
	int r = c->transport->read(c, CONN_READ_CHUNK, &n);
	if (r == TRANSPORT_ERROR) {
		conn_abort(c, strerror(errno));
		return;
	}
	if (r == TRANSPORT_EOF) {
		c->flags |= CONN_PEER_EOF;
		if (buf_length(c->in) > 0 && c->n_inflight == 0) {
			/* The peer vanished mid-message: nothing to answer. */
			conn_abort(c, "peer closed mid-message");
			return;
		}
	}
	if (n == 0)
		return;
	conn_decode(c);
	conn_encode_ready(c);
	conn_write_now(c);
	/* Edge-triggered, the socket may hold what no edge will announce:
	 * more input after a read that filled its chunk; the end of file
	 * after the peer's FIN; and a reset that came with the last bytes
	 * (libevent does not tell it apart from input).  The reset matters
	 * while a message is incomplete, as nothing else would end the wait,
	 * and while a handler still works on a request, whose work it
	 * cancels. */
	if (conn_edge_triggered(c) &&
	    (n == CONN_READ_CHUNK || (c->flags & CONN_PEER_HUP) || buf_length(c->in) > 0 ||
	     c->n_inflight > 0))
		c->flags |= CONN_READ_MORE;
}

/* The transport's handshake made progress (or failed, or finished). */
static void conn_on_handshake(struct mh_conn *c)
{
	int r = c->transport->handshake(c);
	if (r == TRANSPORT_ERROR)
		c->flags |= CONN_CLOSE_NOW;
	else if (r == TRANSPORT_OK && !(c->flags & (CONN_CLOSING | CONN_CLOSE_NOW)))
		conn_on_readable(c); /* records may have come with the last flight */
}

static void conn_on_timeout(struct mh_conn *c)
{
	struct serve_listener *sl = c->sl;
	if (c->flags & CONN_HANDSHAKE) {
		if (conn_now_ms() - c->msg_started_ms + 5 < c->transport->handshake_timeout_ms(c))
			return; /* re-armed below with the time left */
		c->transport->handshake_timed_out(c);
		conn_abort(c, NULL);
	} else if (c->events & EV_WRITE) {
		log_info("listener '%s': write timeout for %s: peer not reading", sl->ls->name,
		         conn_peer_text(c));
		pipeline_observe(c, MH_EVENT_LIMIT, NULL, "write_timeout", 0);
		conn_abort(c, NULL);
	} else if (c->in && buf_length(c->in) > 0) {
		if (conn_now_ms() - c->msg_started_ms + 5 < sl->ls->read_timeout_ms)
			return; /* re-armed below with the time left */
		log_info("listener '%s': read timeout for %s: message incomplete after %llums",
		         sl->ls->name, conn_peer_text(c), (unsigned long long)sl->ls->read_timeout_ms);
		pipeline_observe(c, MH_EVENT_LIMIT, NULL, "read_timeout", 0);
		conn_fail(c, MH_STATUS_TIMEOUT, "read timeout", "read_timeout");
	} else if (c->n_inflight == 0) {
		pipeline_observe(c, MH_EVENT_LIMIT, NULL, "idle_timeout", 0);
		conn_abort(c, "idle timeout");
	}
}

/* A lingering close: after our FIN, read and drop what the peer still
 * sends until it closes too or the time is up.  Closing with unread input
 * would send a reset, which can destroy the error reply still in flight. */
#define CONN_LINGER_MS 2000

static void conn_on_lingering(struct mh_conn *c, short what)
{
	unsigned char sink[16384];
	if (what & EV_TIMEOUT || conn_now_ms() >= c->msg_started_ms) {
		c->flags |= CONN_CLOSE_NOW;
		return;
	}
	for (int i = 0; i < 4; i++) {
		ssize_t r = read(c->fd, sink, sizeof(sink));
		if (r > 0)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		c->flags |= CONN_CLOSE_NOW; /* EOF or error: done */
		return;
	}
}

/* Start a lingering close if it helps: a plain connection we close on our
 * side while the peer may still be sending.  Returns 1 if started. */
static int conn_start_lingering(struct mh_conn *c)
{
	static const struct timeval linger = { CONN_LINGER_MS / 1000, 0 };
	if ((c->flags & (CONN_CLOSE_NOW | CONN_LINGERING | CONN_PEER_EOF)) ||
	    !(c->flags & CONN_CLOSING) || c->transport != &transport_plain)
		return 0;
	c->flags |= CONN_LINGERING;
	c->transport->shutdown(c);
	c->msg_started_ms = conn_now_ms() + CONN_LINGER_MS; /* the deadline */
	event_del(&c->ev);
	event_assign(&c->ev, worker_base(), c->fd, EV_READ | EV_PERSIST, conn_event_cb, c);
	c->events = EV_READ;
	event_add(&c->ev, &linger);
	return 1;
}

static void conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mh_conn *c = arg;
	worker_io_events++;
	if (c->io_window != worker_load_window) {
		c->io_window = worker_load_window;
		worker_load_conns++;
	}
	c->flags |= CONN_IN_CALLBACK;
	if (what & EV_CLOSED)
		c->flags |= CONN_PEER_HUP;
	if (c->flags & CONN_LINGERING) {
		conn_on_lingering(c, what);
	} else if (what & EV_TIMEOUT) {
		conn_on_timeout(c);
	} else if (c->flags & CONN_HANDSHAKE) {
		conn_on_handshake(c);
	} else {
		/* A transport read blocked on sending goes on when writable. */
		short own = c->transport->events ? c->transport->events(c) : 0;
		if (what & EV_WRITE)
			conn_write_now(c);
		if (((what & EV_READ) || (what & own)) && !(c->flags & (CONN_CLOSING | CONN_CLOSE_NOW)))
			conn_on_readable(c);
	}
	c->flags &= ~CONN_IN_CALLBACK;
	conn_update(c);
}

/* ---- the state machine: which events and which timeout ---------------------- */

/* Register the conn's one event for want (EV_READ/EV_WRITE) with timeout
 * tv (NULL: none). */
static void conn_arm(struct mh_conn *c, short want, const struct timeval *tv)
{
	if (want != c->events) {
		/* Edge-triggered where the transport allows: a socket is then
		 * not reported again after a read that drained it.  Changing
		 * want re-registers the socket, and the kernel then reports
		 * input that is already there (so resuming reads misses none).
		 * EV_CLOSED tells a FIN that came with the last data apart. */
		short et = 0;
		if (conn_edge_triggered(c))
			et = (want & EV_READ) ? EV_ET | EV_CLOSED : EV_ET;
		event_del(&c->ev);
		event_assign(&c->ev, worker_base(), c->fd, want | EV_PERSIST | et, conn_event_cb, c);
		c->events = want;
	}
	if (want)
		event_add(&c->ev, tv);
	else
		event_del(&c->ev);
}

/* The transport's handshake: its own events, and the time left. */
static void conn_arm_handshake(struct mh_conn *c)
{
	uint64_t limit = c->transport->handshake_timeout_ms(c);
	uint64_t elapsed = conn_now_ms() - c->msg_started_ms;
	uint64_t rest = elapsed < limit ? limit - elapsed : 0;
	struct timeval left = {(time_t)(rest / 1000), (suseconds_t)((rest % 1000) * 1000)};
	conn_arm(c, c->transport->events(c), &left);
}

static int conn_finished(const struct mh_conn *c)
{
	size_t out = c->out ? buf_length(c->out) : 0;
	if (c->flags & CONN_CLOSE_NOW)
		return 1;
	if (out > 0 || c->n_inflight > 0)
		return 0;
	if (c->flags & CONN_CLOSING)
		return 1;
	if (c->flags & CONN_PEER_EOF)
		return 1;
	if ((c->flags & CONN_DRAINING) && (c->flags & CONN_SERVED) && (!c->in || buf_length(c->in) == 0))
		return 1;
	return 0;
}

/* Re-arm the connection's one event for what it waits for now, or free it
 * (at once from its own callback's unwind, otherwise via the worker's
 * reaper so that no caller up the stack holds a freed conn). */
static void conn_update(struct mh_conn *c)
{
	if (c->flags & CONN_IN_CALLBACK)
		return;
	if (c->flags & CONN_REAP)
		return;
	if (conn_finished(c)) {
		if (conn_start_lingering(c))
			return;
		if ((c->flags & CONN_LINGERING) && !(c->flags & CONN_CLOSE_NOW))
			return; /* still draining the peer */
		event_del(&c->ev);
		c->flags |= CONN_REAP;
		worker_reap_later(c);
		return;
	}
	if (c->flags & CONN_HANDSHAKE) {
		conn_arm_handshake(c);
		return;
	}
	struct serve_listener *sl = c->sl;
	const struct listener_settings *ls = sl->ls;
	size_t out = c->out ? buf_length(c->out) : 0;

	if (out > ls->output_high_water || c->n_inflight >= ls->max_inflight)
		c->flags |= CONN_READ_PAUSED;
	else if (out <= ls->output_low_water && c->n_inflight < ls->max_inflight)
		c->flags &= ~CONN_READ_PAUSED;
	/* Decoding stopped at max_inflight may continue once replies left. */
	if ((c->flags & CONN_INFLIGHT_FULL) && c->n_inflight < ls->max_inflight &&
	    !(c->flags & (CONN_CLOSING | CONN_CLOSE_NOW))) {
		c->flags &= ~CONN_INFLIGHT_FULL;
		c->flags |= CONN_IN_CALLBACK;
		conn_decode(c);
		conn_encode_ready(c);
		conn_write_now(c);
		c->flags &= ~CONN_IN_CALLBACK;
		conn_update(c);
		return;
	}

	/* An idle connection gives its buffers back to the worker's pool: a
	 * connection between requests then costs little more than its struct. */
	if (c->n_inflight == 0 && out == 0 && (!c->in || buf_length(c->in) == 0)) {
		if (c->in)
			msg_buf_put(c->in);
		if (c->out)
			msg_buf_put(c->out);
		c->in = c->out = NULL;
	}

	short want = 0;
	if (!(c->flags & (CONN_READ_PAUSED | CONN_CLOSING | CONN_PEER_EOF)))
		want |= EV_READ;
	if (out > 0)
		want |= EV_WRITE;
	if (c->transport->events)
		want |= c->transport->events(c);

	struct timeval left;
	const struct timeval *tv = NULL;
	if (want & EV_WRITE) {
		tv = sl->write_tv;
	} else if (c->in && buf_length(c->in) > 0 && c->msg_started_ms) {
		uint64_t elapsed = conn_now_ms() - c->msg_started_ms;
		uint64_t rest = elapsed < ls->read_timeout_ms ? ls->read_timeout_ms - elapsed : 0;
		left.tv_sec = (time_t)(rest / 1000);
		left.tv_usec = (suseconds_t)((rest % 1000) * 1000);
		tv = &left;
	} else if (c->n_inflight == 0) {
		tv = sl->idle_tv;
	}
	conn_arm(c, want, tv);
	/* Input no readiness will announce: plaintext the transport already
	 * holds (read at once), or, edge-triggered, what the last read may
	 * have left in the socket (read in the next pass, after the others
	 * ready then). */
	if (!(want & EV_READ))
		return;
	if (c->transport->pending && c->transport->pending(c) > 0)
		event_active(&c->ev, EV_READ, 0);
	else if (c->flags & CONN_READ_MORE)
		worker_read_later(c);
}
