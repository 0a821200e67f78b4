/* bench/uring-http.c — the HTTP floor of bench/epoll-echo --http over
 * io_uring instead of epoll: the same bytes for every request head, but no
 * readiness polling and no read or write system call per request.  Each
 * loop pass submits every recv and send it has queued and collects every
 * completion in one io_uring_enter (liburing, IORING_SETUP_DEFER_TASKRUN).
 * It answers one question: how much of a request's cost is the system
 * calls, as opposed to the TCP work they start.
 *
 * usage: uring-http [PORT]   (0 or nothing: any free port)
 * It prints "uring-http listening on 127.0.0.1:PORT" once it accepts. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bare.h"

#define URING_BUF 16384

enum uring_op { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };

/* in[in_off..in_len) is input whose requests are not answered yet;
 * out[out_off..out_len) replies not sent yet.  While a recv or send is in
 * flight its buffer is the kernel's: in is compacted only with no recv in
 * flight (the recv writes at in + in_len), out appended to or reset only
 * with no send in flight. */
struct uring_conn {
	int fd;
	int receiving, sending, closing;
	size_t in_off, in_len, out_off, out_len;
	char in[URING_BUF];
	char out[URING_BUF];
};

static struct io_uring ring;
static int listen_fd;
/* The reply to every request, taken once per loop pass (bare.h). */
static const char *http_reply;
static size_t http_reply_len;

/* A submission slot; when the queue is full, what is in it goes first. */
static struct io_uring_sqe *uring_sqe(void)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);
	while (!s) {
		io_uring_submit(&ring);
		s = io_uring_get_sqe(&ring);
	}
	return s;
}

/* Completions carry the connection's address with the operation in its
 * low bits (struct uring_conn is at least 8-byte aligned). */
static void uring_tag(struct io_uring_sqe *s, struct uring_conn *c, enum uring_op op)
{
	io_uring_sqe_set_data(s, (void *)((uintptr_t)c | (uintptr_t)op));
}

static void uring_arm_accept(void)
{
	struct io_uring_sqe *s = uring_sqe();
	io_uring_prep_multishot_accept(s, listen_fd, NULL, NULL, SOCK_CLOEXEC);
	uring_tag(s, NULL, OP_ACCEPT);
}

static void uring_arm_recv(struct uring_conn *c)
{
	if (c->receiving || c->closing)
		return;
	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_len == sizeof(c->in))
		return; /* a full input waits for replies to leave */
	struct io_uring_sqe *s = uring_sqe();
	io_uring_prep_recv(s, c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	uring_tag(s, c, OP_RECV);
	c->receiving = 1;
}

static void uring_arm_send(struct uring_conn *c)
{
	struct io_uring_sqe *s = uring_sqe();
	io_uring_prep_send(s, c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
	uring_tag(s, c, OP_SEND);
	c->sending = 1;
}

/* Close once nothing of c is in flight any more. */
static void uring_close(struct uring_conn *c)
{
	c->closing = 1;
	if (c->receiving || c->sending)
		return;
	close(c->fd);
	free(c);
}

/* Answer the whole request heads in the input, as many as the output
 * holds, and send.  Not while a send is in flight: its completion calls
 * this again. */
static void uring_answer(struct uring_conn *c)
{
	if (c->sending || c->closing)
		return;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	const char *end;
	while (c->out_len + http_reply_len <= sizeof(c->out) &&
	       (end = memmem(c->in + c->in_off, c->in_len - c->in_off, "\r\n\r\n", 4))) {
		c->in_off = (size_t)(end - c->in) + 4;
		memcpy(c->out + c->out_len, http_reply, http_reply_len);
		c->out_len += http_reply_len;
	}
	if (c->out_len > c->out_off)
		uring_arm_send(c);
}

static void uring_on_accept(int res, unsigned flags)
{
	if (res >= 0) {
		int one = 1;
		setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct uring_conn *c = malloc(sizeof(*c));
		if (!c) {
			close(res);
		} else {
			*c = (struct uring_conn){.fd = res};
			uring_arm_recv(c);
		}
	}
	if (!(flags & IORING_CQE_F_MORE))
		uring_arm_accept(); /* the multishot accept ended: start another */
}

static void uring_on_recv(struct uring_conn *c, int res)
{
	c->receiving = 0;
	if (res <= 0 || c->closing) {
		uring_close(c);
		return;
	}
	c->in_len += (size_t)res;
	uring_answer(c);
	uring_arm_recv(c);
}

static void uring_on_send(struct uring_conn *c, int res)
{
	c->sending = 0;
	if (res < 0 || c->closing) {
		uring_close(c);
		return;
	}
	c->out_off += (size_t)res;
	if (c->out_off < c->out_len) {
		uring_arm_send(c);
		return;
	}
	uring_answer(c); /* heads that waited for room */
	uring_arm_recv(c);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 0;
	listen_fd = bare_listen("uring-http", port, 0, &port);
	if (listen_fd < 0)
		return 1;
	struct io_uring_params params = {.flags = IORING_SETUP_SINGLE_ISSUER |
	                                          IORING_SETUP_DEFER_TASKRUN};
	int r = io_uring_queue_init_params(4096, &ring, &params);
	if (r < 0) {
		fprintf(stderr, "uring-http: io_uring: %s\n", strerror(-r));
		return 1;
	}
	http_reply = bare_http_reply(&http_reply_len);
	uring_arm_accept();
	printf("uring-http listening on 127.0.0.1:%d\n", port);
	fflush(stdout);

	for (;;) {
		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			fprintf(stderr, "uring-http: io_uring_enter: %s\n", strerror(-r));
			return 1;
		}
		http_reply = bare_http_reply(&http_reply_len);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			uintptr_t data = (uintptr_t)io_uring_cqe_get_data(cqe);
			struct uring_conn *c = (struct uring_conn *)(data & ~(uintptr_t)7);
			switch ((enum uring_op)(data & 7)) {
			case OP_ACCEPT: uring_on_accept(cqe->res, cqe->flags); break;
			case OP_RECV: uring_on_recv(c, cqe->res); break;
			case OP_SEND: uring_on_send(c, cqe->res); break;
			}
			seen++;
		}
		io_uring_cq_advance(&ring, seen);
	}
}
