/* host/transport.c — the plain TCP/Unix transport: evbuffer reads and
 * writes straight on the socket. */
#include "build-config.h"

#include <errno.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "conn.h"
#include "transport.h"

static int plain_read(struct mh_conn *c, size_t max, size_t *n)
{
	*n = 0;
	int r = evbuffer_read(c->in, c->fd, (int)max);
	if (r > 0) {
		*n = (size_t)r;
		return TRANSPORT_OK;
	}
	if (r == 0)
		return TRANSPORT_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return TRANSPORT_AGAIN;
	return TRANSPORT_ERROR;
}

static int plain_write(struct mh_conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		int r = evbuffer_write(c->out, c->fd);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return TRANSPORT_AGAIN;
			if (errno == EINTR)
				continue;
			return TRANSPORT_ERROR;
		}
		if (r == 0)
			return TRANSPORT_AGAIN;
	}
	return TRANSPORT_OK;
}

static void plain_shutdown(struct mh_conn *c)
{
	shutdown(c->fd, SHUT_WR);
}

const struct transport_ops transport_plain = {
	.name = "plain",
	.read = plain_read,
	.write = plain_write,
	.shutdown = plain_shutdown,
};
