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
	/* Write as much of c->out as the socket takes. */
	int (*write)(struct mh_conn *c);
	/* Start an orderly close of the sending side. */
	void (*shutdown)(struct mh_conn *c);
};

extern const struct transport_ops transport_plain;

#endif
