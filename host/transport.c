/* host/transport.c — the plain TCP/Unix transport: reads and writes
 * straight on the socket. */
#include "build-config.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "transport.h"
#include "worker.h"

/* Read into the room the input buffer's block already has, and what does
 * not fit into the worker's scratch block, then append that: a connection
 * holding a partial message keeps only the bytes it sent (no read-sized
 * block), and the usual small read costs no copy. */
static int plain_read(struct mh_conn *c, size_t max, size_t *n)
{
	static unsigned char scratch[64 * 1024];
	struct iovec iov[2];
	size_t room;
	*n = 0;
	iov[0].iov_base = buf_room(c->in, &room);
	iov[0].iov_len = room < max ? room : max;
	iov[1].iov_base = scratch;
	iov[1].iov_len = max - iov[0].iov_len < sizeof(scratch) ? max - iov[0].iov_len : sizeof(scratch);
	ssize_t r = iov[0].iov_len ? readv(c->fd, iov, 2) : read(c->fd, scratch, iov[1].iov_len);
	if (r > 0) {
		size_t direct = (size_t)r < iov[0].iov_len ? (size_t)r : iov[0].iov_len;
		buf_commit(c->in, direct);
		if (buf_add(c->in, scratch, (size_t)r - direct) < 0)
			return TRANSPORT_ERROR;
		c->bytes_in += (uint64_t)r;
		worker_io_bytes += (uint64_t)r;
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
	while (buf_length(c->out) > 0) {
		ssize_t r = write(c->fd, buf_data(c->out), buf_length(c->out));
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return TRANSPORT_AGAIN;
			if (errno == EINTR)
				continue;
			return TRANSPORT_ERROR;
		}
		if (r == 0)
			return TRANSPORT_AGAIN;
		buf_drain(c->out, (size_t)r);
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
	.edge_triggered = 1, /* plain_read asks the socket for max bytes */
	.write = plain_write,
	.shutdown = plain_shutdown,
};
