/* bench/epoll-echo.c — the yardstick for lenprefix echo: a bare,
 * single-threaded, level-triggered epoll server on 127.0.0.1:PORT with no
 * framework at all.  What it does per message is the least any lenprefix
 * echo server must do: find the frame boundary and send the frame back.
 *
 * With --http it is the same yardstick for the HTTP hello benchmark: each
 * request head (up to its blank line; the benchmark's GETs have no body)
 * is answered with 200 "hello", Date, Content-Type and Content-Length,
 * pipelined requests in one send.  It parses nothing else, so it is the
 * least an HTTP server can do per request, not an HTTP server.
 *
 * usage: epoll-echo [--http] [PORT]   (0 or nothing: any free port)
 * It prints "epoll-echo listening on 127.0.0.1:PORT" once it accepts. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bare.h"

#define ECHO_MAX_FRAME   (1u << 20) /* the lenprefix module's default max_frame */
#define ECHO_INITIAL_CAP 16384

/* buf[0..len) is input not yet sent back; its first pend bytes are whole
 * frames, which are echoed byte for byte.  With --http, buf holds the
 * start of a request head and out the replies not sent yet. */
struct echo_conn {
	int fd;
	int writing; /* waiting for EPOLLOUT, not reading */
	uint8_t *buf;
	size_t len, pend, cap;
	char *out;
	size_t out_len, out_cap;
};

static int epfd;
static int http_mode;

static void echo_close(struct echo_conn *c)
{
	close(c->fd); /* also removes it from the epoll set */
	free(c->buf);
	free(c->out);
	free(c);
}

static void echo_watch(struct echo_conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Wait for EPOLLOUT while output is left, else for input: stop reading
 * while the peer is not. */
static void echo_want_out(struct echo_conn *c, int want_out)
{
	if (want_out != c->writing) {
		c->writing = want_out;
		echo_watch(c, want_out ? EPOLLOUT : EPOLLIN);
	}
}

/* Send the whole frames at the front of the buffer (with --http, the
 * replies).  Returns 0 (all sent, or the rest waits for EPOLLOUT) or -1
 * when the connection must close. */
static int echo_flush(struct echo_conn *c)
{
	if (http_mode) {
		ssize_t done = bare_send(c->fd, c->out, c->out_len);
		if (done < 0)
			return -1;
		memmove(c->out, c->out + done, c->out_len - (size_t)done);
		c->out_len -= (size_t)done;
		echo_want_out(c, c->out_len > 0);
		return 0;
	}
	ssize_t done = bare_send(c->fd, c->buf, c->pend);
	if (done < 0)
		return -1;
	memmove(c->buf, c->buf + done, c->len - (size_t)done);
	c->len -= (size_t)done;
	c->pend -= (size_t)done;
	echo_want_out(c, c->pend > 0);
	return 0;
}

/* --http: answer every whole request head in buf, drop it, send. */
static int http_answer(struct echo_conn *c)
{
	size_t used = 0;
	const uint8_t *end;
	while ((end = memmem(c->buf + used, c->len - used, "\r\n\r\n", 4))) {
		used = (size_t)(end - c->buf) + 4;
		if (bare_append_http_reply(&c->out, &c->out_len, &c->out_cap, ECHO_MAX_FRAME) < 0)
			return -1;
	}
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	return echo_flush(c);
}

/* Read what is there, find the whole frames, echo them.  Returns -1 at EOF,
 * on an error or on a frame over ECHO_MAX_FRAME. */
static int echo_read(struct echo_conn *c)
{
	if (c->len == c->cap) {
		size_t cap = c->cap * 2;
		uint8_t *p = cap <= 2 * (ECHO_MAX_FRAME + 4) ? realloc(c->buf, cap) : NULL;
		if (!p)
			return -1;
		c->buf = p;
		c->cap = cap;
	}
	ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	if (http_mode)
		return http_answer(c);
	while (c->len - c->pend >= 4) {
		const uint8_t *h = c->buf + c->pend;
		uint32_t flen =
		    (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		if (flen > ECHO_MAX_FRAME)
			return -1;
		if (c->len - c->pend - 4 < flen)
			break;
		c->pend += 4 + flen;
	}
	return echo_flush(c);
}

static void echo_accept(int lfd)
{
	for (;;) {
		int fd = bare_accept(lfd);
		if (fd < 0)
			return; /* EAGAIN, or out of descriptors: try at the next event */
		struct echo_conn *c = calloc(1, sizeof(*c));
		uint8_t *buf = malloc(ECHO_INITIAL_CAP);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!c || !buf || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			free(c);
			free(buf);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->buf = buf;
		c->cap = ECHO_INITIAL_CAP;
	}
}

int main(int argc, char **argv)
{
	int port = bare_args(argc, argv, "--http", &http_mode);
	int lfd = bare_listen("epoll-echo", port, SOCK_NONBLOCK, &port);
	if (lfd < 0)
		return 1;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
		perror("epoll-echo: epoll");
		return 1;
	}
	printf("epoll-echo listening on 127.0.0.1:%d\n", port);
	fflush(stdout);

	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(epfd, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			struct echo_conn *c = evs[i].data.ptr;
			if (!c) {
				echo_accept(lfd);
				continue;
			}
			/* Writing, any event is a chance to send (a hang-up
			 * makes send fail); reading, a chance to read. */
			int r = c->writing ? echo_flush(c) : 0;
			if (r == 0 && !c->writing)
				r = echo_read(c);
			if (r < 0)
				echo_close(c);
		}
		if (n < 0 && errno != EINTR) {
			perror("epoll-echo: epoll_wait");
			return 1;
		}
	}
}
