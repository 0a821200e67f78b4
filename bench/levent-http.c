/* bench/levent-http.c — the HTTP hello floor built on the two libraries
 * modhost must use for HTTP: libevent for the loop and Debian's
 * http-parser for the requests.  It answers every request with the same
 * 200 "hello" bytes as bench/epoll-echo --http, but each connection is a
 * libevent event (level-triggered, persistent) and every byte read goes
 * through http_parser_execute; a request is answered from the parser's
 * message-complete callback.  It has no timers, no limits, no modules and
 * no routes: the least a server on these two libraries can do per request,
 * not a server to deploy.
 *
 * With --scan it finds request heads with memmem instead of the parser,
 * which isolates what libevent's loop costs against bench/epoll-echo.
 *
 * usage: levent-http [--scan] [PORT]   (0 or nothing: any free port)
 * It prints "levent-http listening on 127.0.0.1:PORT" once it accepts. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <event2/event.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bare.h"

#define LEVENT_READ_SIZE 16384
#define LEVENT_MAX_OUT   (1u << 20)

struct levent_conn {
	int fd;
	struct event *ev;
	int writing; /* the event waits for EV_WRITE: output is pending */
	http_parser parser;
	char *out;
	size_t out_len, out_cap;
	char scan_tail[3]; /* --scan: the end of the last read, for a split "\r\n\r\n" */
	size_t scan_tail_len;
};

static struct event_base *base;
static int scan_mode;
static http_parser_settings parser_settings;

static void levent_close(struct levent_conn *c)
{
	event_free(c->ev);
	close(c->fd);
	free(c->out);
	free(c);
}

static int levent_queue_reply(struct levent_conn *c)
{
	return bare_append_http_reply(&c->out, &c->out_len, &c->out_cap, LEVENT_MAX_OUT);
}

static int on_message_complete(http_parser *p)
{
	return levent_queue_reply(p->data) < 0 ? -1 : 0;
}

/* --scan: one reply per "\r\n\r\n", also when it straddles two reads. */
static int levent_scan(struct levent_conn *c, const char *buf, size_t n)
{
	char joined[6];
	size_t t = c->scan_tail_len, k = n < 3 ? n : 3;
	memcpy(joined, c->scan_tail, t);
	memcpy(joined + t, buf, k);
	if (t && memmem(joined, t + k, "\r\n\r\n", 4) && levent_queue_reply(c) < 0)
		return -1;
	const char *at = buf, *end = buf + n, *hit;
	while ((hit = memmem(at, (size_t)(end - at), "\r\n\r\n", 4))) {
		if (levent_queue_reply(c) < 0)
			return -1;
		at = hit + 4;
	}
	c->scan_tail_len = n < 3 ? n : 3;
	memcpy(c->scan_tail, end - c->scan_tail_len, c->scan_tail_len);
	return 0;
}

/* Send what is queued; wait for EV_WRITE while some is left, for EV_READ
 * otherwise.  Returns -1 when the connection must close. */
static int levent_flush(struct levent_conn *c)
{
	ssize_t sent = bare_send(c->fd, c->out, c->out_len);
	if (sent < 0)
		return -1;
	size_t done = (size_t)sent;
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	int want_write = c->out_len > 0;
	if (want_write != c->writing) {
		c->writing = want_write;
		event_del(c->ev);
		event_assign(c->ev, base, c->fd, (want_write ? EV_WRITE : EV_READ) | EV_PERSIST,
		             event_get_callback(c->ev), c);
		event_add(c->ev, NULL);
	}
	return 0;
}

static void levent_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct levent_conn *c = arg;
	(void)what;
	if (c->writing) {
		if (levent_flush(c) < 0)
			levent_close(c);
		return;
	}
	char buf[LEVENT_READ_SIZE];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		levent_close(c);
		return;
	}
	int bad;
	if (scan_mode)
		bad = levent_scan(c, buf, (size_t)n) < 0;
	else
		bad =
		    http_parser_execute(&c->parser, &parser_settings, buf, (size_t)n) != (size_t)n;
	if (bad || levent_flush(c) < 0)
		levent_close(c);
}

static void levent_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	for (;;) {
		int fd = bare_accept(lfd);
		if (fd < 0)
			return; /* EAGAIN, or out of descriptors: try at the next event */
		struct levent_conn *c = calloc(1, sizeof(*c));
		if (c)
			c->ev = event_new(base, fd, EV_READ | EV_PERSIST, levent_on_event, c);
		if (!c || !c->ev || event_add(c->ev, NULL) < 0) {
			if (c && c->ev)
				event_free(c->ev);
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		http_parser_init(&c->parser, HTTP_REQUEST);
		c->parser.data = c;
	}
}

int main(int argc, char **argv)
{
	int port = bare_args(argc, argv, "--scan", &scan_mode);
	int lfd = bare_listen("levent-http", port, SOCK_NONBLOCK, &port);
	if (lfd < 0)
		return 1;
	parser_settings.on_message_complete = on_message_complete;
	base = event_base_new();
	struct event *lev =
	    base ? event_new(base, lfd, EV_READ | EV_PERSIST, levent_on_accept, NULL) : NULL;
	if (!lev || event_add(lev, NULL) < 0) {
		fprintf(stderr, "levent-http: libevent setup failed\n");
		return 1;
	}
	printf("levent-http listening on 127.0.0.1:%d\n", port);
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}
