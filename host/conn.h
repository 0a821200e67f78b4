/* host/conn.h — one accepted connection: its socket, buffers, one libevent
 * event that serves reading, writing and the current timeout, the codec
 * state, the in-flight queue, and an arena freed with it.
 *
 * States: reading (normal) → paused (output above the high-water mark, or
 * max_inflight requests waiting) → reading; any state → closing (flush what
 * is queued, then close) → freed.  A connection is never freed inside one
 * of its own callbacks: conn_close marks it, and it is freed when the
 * callback unwinds (or from the worker's reaper event). */
#ifndef MH_CONN_H
#define MH_CONN_H

#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event_struct.h>

#include "modhost.h"

struct mh_buf;
struct arena;
struct serve_listener;
struct transport_ops;

enum conn_flag {
	CONN_READ_PAUSED = 1u << 0,   /* backpressure: not reading */
	CONN_CLOSING = 1u << 1,       /* flush queued output, then close */
	CONN_CLOSE_NOW = 1u << 2,     /* close without flushing */
	CONN_IN_CALLBACK = 1u << 3,   /* freeing is deferred to the unwind */
	CONN_PEER_EOF = 1u << 4,      /* the peer finished sending */
	CONN_DRAINING = 1u << 5,      /* the worker is stopping */
	CONN_REAP = 1u << 6,          /* queued on the worker's reap list */
	CONN_CODEC_READY = 1u << 7,   /* codec conn_init ran */
	CONN_INFLIGHT_FULL = 1u << 8, /* decoding stopped at max_inflight */
	CONN_SERVED = 1u << 9,        /* at least one reply went out */
	CONN_HANDSHAKE = 1u << 10,    /* the transport's handshake runs; no codec yet */
	CONN_LINGERING = 1u << 11,    /* sent FIN; reading what the peer still sends */
	CONN_READ_MORE = 1u << 12,    /* edge-triggered: the socket may hold unannounced input */
	CONN_READ_QUEUED = 1u << 13,  /* on the worker's read-again list */
	CONN_PEER_HUP = 1u << 14,     /* epoll saw the peer's FIN (EV_CLOSED): read to EOF */
	CONN_PER_IP = 1u << 15,       /* counted for max_connections_per_ip (peerlimit.h) */
};

struct mh_conn {
	int fd;
	uint32_t flags;
	uint32_t n_inflight;
	short events; /* what ev is registered for */
	short error_status; /* from conn_set_error (an MH_STATUS_*) */
	struct event ev;
	struct mh_buf *in, *out; /* created on first use */
	struct serve_listener *sl;
	const struct transport_ops *transport;
	void *transport_state;   /* the transport's (TLS: struct tls_conn) */
	struct mh_module *codec; /* the listener's, or the one ALPN chose */
	void *codec_state;
	struct arena *arena;
	struct mh_msg *inflight_head, *inflight_tail;
	struct mh_conn *prev, *next; /* the worker's list */
	struct mh_conn *reap_next;
	struct mh_conn *read_next; /* the worker's read-again list */
	uint64_t id;
	uint64_t bytes_in, bytes_out; /* on the wire (after TLS) */
	uint64_t counted_in, counted_out; /* of those, already in the metrics */
	uint64_t msg_started_ms; /* when the unparsed input began; 0 = none;
	                          * in CONN_HANDSHAKE: when the handshake began */
	char *error_text;        /* from conn_set_error, in the arena */
	uint32_t io_window;      /* the worker's load window of its last I/O */
	uint32_t n_requests;     /* decoded so far (max_requests_per_connection) */
	char *peer_text;         /* formatted on first use, in the arena */
	struct conn_data *data;  /* modules' conn_data blocks, in the arena */
	union { /* unix peers keep only the family */
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;
	/* Codec state up to this size lives here instead of in its own block. */
	_Alignas(16) unsigned char codec_inline[32];
};

/* Take ownership of an accepted, non-blocking fd.  Returns the connection
 * (owned by the worker's list until closed), or NULL after closing fd. */
struct mh_conn *conn_new(struct serve_listener *sl, int fd, const struct sockaddr *peer,
                         socklen_t peerlen);
/* Start codec (a codec module) on c: its state and conn_init.  Called at
 * accept, or by a transport when its handshake is done (ALPN may have
 * chosen the codec); clears CONN_HANDSHAKE.  Returns 0, or -1 (the codec
 * refused or no memory: close c). */
int conn_codec_start(struct mh_conn *c, struct mh_module *codec);
/* Close after the output queued so far is written (deferred, safe inside
 * callbacks). */
void conn_close(struct mh_conn *c);
/* Close at once, dropping queued output. */
void conn_abort(struct mh_conn *c, const char *why);
/* The worker is draining: close now if idle, else after in-flight replies. */
void conn_drain(struct mh_conn *c);
/* A reply became ready or the queue moved: encode and write what can go. */
void conn_flush_replies(struct mh_conn *c);
/* Free a connection marked for reaping (called by the worker). */
void conn_reap(struct mh_conn *c);
/* The host table's conn_data (api/modhost.h): module m's block of size
 * bytes on c, made on first use (size 0: look only). */
void *conn_data(struct mh_conn *c, struct mh_module *m, size_t size,
                void (*release)(struct mh_module *m, void *data));
/* Call the release of every module block on c (once; conn_free does). */
void conn_release_data(struct mh_conn *c);
/* Stop counting c for max_connections_per_ip (when it was). */
void conn_uncount_peer(struct mh_conn *c);
/* Format of the peer address, cached in the arena. */
const char *conn_peer_text(struct mh_conn *c);
/* Monotonic milliseconds (the loop's cached time). */
uint64_t conn_now_ms(void);

#endif
