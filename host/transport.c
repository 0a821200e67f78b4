/* host/transport.c — the plain TCP/Unix transport: evbuffer reads and
 * writes straight on the socket. */
#include "build-config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "conn.h"
#include "transport.h"

/* Read into the worker's scratch block, then append exactly what came:
 * one copy, but a connection holding a partial message keeps only the bytes
 * it sent, not a read-sized chunk (and no FIONREAD probe as evbuffer_read
 * would do). */
static int plain_read(struct mh_conn *c, size_t max, size_t *n)
{
	static unsigned char scratch[64 * 1024];
	*n = 0;
	ssize_t r = read(c->fd, scratch, max < sizeof(scratch) ? max : sizeof(scratch));
	if (r > 0) {
		if (evbuffer_add(c->in, scratch, (size_t)r) < 0)
			return TRANSPORT_ERROR;
		c->bytes_in += (uint64_t)r;
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
		c->bytes_out += (uint64_t)r;
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
