/* host/transport.h — how a connection moves bytes: an ops table on the
 * conn, so that TLS is one implementation beside plain TCP (DESIGN.md §3). */
#ifndef MH_TRANSPORT_H
#define MH_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

struct mh_conn;

/* Results of transport reads and writes. */
enum transport_result {
	TRANSPORT_OK = 0,     /* progress made (or nothing to do) */
	TRANSPORT_AGAIN = 1,  /* would block: wait for readiness */
	TRANSPORT_EOF = 2,    /* the peer closed its side cleanly */
	TRANSPORT_ERROR = -1, /* the connection is broken; errno or log says why */
};

struct transport_ops {
	const char *name;
	/* Read at most max bytes into c->in.  *n is set to the bytes added. */
	int (*read)(struct mh_conn *c, size_t max, size_t *n);
	/* Non-zero when read adds fewer than max bytes only once the socket
	 * is drained: the conn may then wait for edge-triggered readiness. */
	int edge_triggered;
	/* Write as much of c->out as the socket takes. */
	int (*write)(struct mh_conn *c);
	/* Start an orderly close of the sending side. */
	void (*shutdown)(struct mh_conn *c);

	/* Optional, NULL in the plain transport: a transport with a handshake
	 * (TLS).  open sets up per-connection state at accept (0, or -1 to
	 * refuse); the conn then stays in CONN_HANDSHAKE, calling handshake
	 * on every event until it returns TRANSPORT_OK (done: the transport
	 * has started the conn's codec with conn_codec_start), TRANSPORT_AGAIN
	 * (wait for events()) or TRANSPORT_ERROR (logged; close now).  A
	 * handshake longer than handshake_timeout_ms is ended by
	 * handshake_timed_out (logs and counts) and an abort. */
	int (*open)(struct mh_conn *c);
	int (*handshake)(struct mh_conn *c);
	uint64_t (*handshake_timeout_ms)(const struct mh_conn *c);
	void (*handshake_timed_out)(struct mh_conn *c);
	/* EV_READ / EV_WRITE the transport waits for on its own: the
	 * handshake's next step, or a record it must send before it can read
	 * on (read is then retried on EV_WRITE).  0 when nothing. */
	short (*events)(const struct mh_conn *c);
	/* Plaintext bytes already decrypted and held by the transport, which
	 * no socket readiness will announce: the conn reads again at once. */
	size_t (*pending)(const struct mh_conn *c);
	/* Release per-connection state before the socket is closed (TLS
	 * sends close_notify here when the session ended cleanly). */
	void (*close)(struct mh_conn *c);
};

extern const struct transport_ops transport_plain;

#endif
