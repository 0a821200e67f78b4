/* tests/integration/harness_net.c — the integration suites' client side:
 * TCP connections to 127.0.0.1 and sends and receives with deadlines
 * (whole buffers, lenprefix frames, lines, waiting for a close).  See
 * harness.h for the contracts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* Connect to 127.0.0.1:port from source (an IPv4 address of the
 * loopback net, or NULL for the kernel's choice); to [::1]:port when
 * source is "::1". */
static int connect_from(int port, const char *source, int rcvbuf, int sndbuf)
{
	int six = source && strcmp(source, "::1") == 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6,
	                           .sin6_port = htons((uint16_t)port),
	                           .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(six ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (source && !six) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		if (inet_pton(AF_INET, source, &src.sin_addr) != 1) {
			errno = EINVAL;
			goto fail;
		}
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			goto fail;
	}
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if ((six ? connect(fd, (struct sockaddr *)&sa6, sizeof(sa6))
	         : connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, 5000) != 1) {
		errno = ETIMEDOUT;
		goto fail;
	}
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		errno = err ? err : errno;
		goto fail;
	}
	/* Back to blocking; every operation below uses MSG_DONTWAIT + poll. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

int harness_connect_buf(int port, int rcvbuf, int sndbuf)
{
	return connect_from(port, NULL, rcvbuf, sndbuf);
}

int harness_connect(int port)
{
	return connect_from(port, NULL, 0, 0);
}

int harness_connect_from(int port, const char *source)
{
	return connect_from(port, source, 0, 0);
}

int harness_connect6(int port)
{
	return connect_from(port, "::1", 0, 0);
}

int harness_connect_ok_at(const char *file, int line, int port)
{
	int fd = harness_connect(port);
	if (fd < 0)
		harness_fail_at(file, line, "fd >= 0", "connect to 127.0.0.1:%d: %s", port,
		                strerror(errno));
	return fd;
}

int harness_local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	return ntohs(sa.sin_port);
}

void harness_close_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out. */
static int harness_poll_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, harness_left(deadline));
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return 1; /* let the next call report the error */
	}
}

static int harness_errno_io(int e)
{
	return e == ECONNRESET || e == EPIPE ? HARNESS_RESET : HARNESS_ERROR;
}

int harness_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return harness_errno_io(errno);
		if (!harness_poll_fd(fd, POLLOUT, deadline))
			return HARNESS_TIMEOUT;
	}
	return HARNESS_OK;
}

/* One recv of up to len bytes into buf, waiting for input until deadline.
 * Returns HARNESS_OK with the count (at least 1) in *got, or HARNESS_EOF,
 * HARNESS_RESET, HARNESS_ERROR or HARNESS_TIMEOUT. */
static int harness_recv_some(int fd, void *buf, size_t len, uint64_t deadline, size_t *got)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n > 0) {
			*got = (size_t)n;
			return HARNESS_OK;
		}
		if (n == 0)
			return HARNESS_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return harness_errno_io(errno);
		if (!harness_poll_fd(fd, POLLIN, deadline))
			return HARNESS_TIMEOUT;
	}
}

int harness_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	char *p = buf;
	while (len > 0) {
		size_t n;
		int r = harness_recv_some(fd, p, len, deadline, &n);
		if (r != HARNESS_OK)
			return r;
		p += n;
		len -= n;
	}
	return HARNESS_OK;
}

int harness_send_frame(int fd, const void *payload, size_t len, int timeout_ms)
{
	char *buf = malloc(len + 4);
	if (!buf)
		return HARNESS_ERROR;
	buf[0] = (char)(len >> 24);
	buf[1] = (char)(len >> 16);
	buf[2] = (char)(len >> 8);
	buf[3] = (char)len;
	if (len)
		memcpy(buf + 4, payload, len);
	int r = harness_send_all(fd, buf, len + 4, timeout_ms);
	free(buf);
	return r;
}

int harness_recv_frame(int fd, char **payload, size_t *len, int timeout_ms)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	unsigned char hdr[4];
	*payload = NULL;
	*len = 0;
	int r = harness_recv_exact(fd, hdr, 4, timeout_ms);
	if (r != HARNESS_OK)
		return r;
	size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	char *buf = malloc(n + 1);
	if (!buf)
		return HARNESS_ERROR;
	r = harness_recv_exact(fd, buf, n, harness_left(deadline));
	if (r != HARNESS_OK) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*payload = buf;
	*len = n;
	return HARNESS_OK;
}

int harness_echo_frame(int fd, const void *payload, size_t len, int timeout_ms)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	int r = harness_send_frame(fd, payload, len, timeout_ms);
	if (r != HARNESS_OK)
		return r;
	char *got;
	size_t glen;
	r = harness_recv_frame(fd, &got, &glen, harness_left(deadline));
	if (r == HARNESS_OK && (glen != len || (len && memcmp(got, payload, len) != 0)))
		r = HARNESS_ERROR;
	free(got);
	return r;
}

int harness_recv_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;
	/* One byte at a time: lines in these tests are short, and this never
	 * takes bytes of the next line. */
	while (n + 1 < cap) {
		int r = harness_recv_exact(fd, buf + n, 1, timeout_ms);
		if (r != HARNESS_OK) {
			buf[n] = '\0';
			return r;
		}
		if (buf[n++] == '\n') {
			buf[n] = '\0';
			return HARNESS_OK;
		}
	}
	buf[n] = '\0';
	return HARNESS_ERROR;
}

int harness_http_get_at(const char *file, int line, int fd, const char *path, char *body,
                        size_t cap, int *closing)
{
	char req[512], head[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
	int r = harness_send_all(fd, req, (size_t)n, 10000);
	if (r != HARNESS_OK)
		harness_fail_at(file, line, "sent", "send GET %s: %s", path, harness_io_name(r));
	r = harness_recv_line(fd, head, sizeof(head), 10000);
	int code = 0;
	if (r != HARNESS_OK || sscanf(head, "HTTP/1.1 %d", &code) != 1)
		harness_fail_at(file, line, "status line", "GET %s: status line '%s' (%s)", path,
		                r == HARNESS_OK ? head : "", harness_io_name(r));
	size_t length = 0;
	int close_header = 0;
	while ((r = harness_recv_line(fd, head, sizeof(head), 10000)) == HARNESS_OK &&
	       strcmp(head, "\r\n") != 0) {
		close_header |= strcasecmp(head, "Connection: close\r\n") == 0;
		if (strncasecmp(head, "Content-Length:", 15) == 0)
			length = strtoul(head + 15, NULL, 10);
	}
	if (r != HARNESS_OK)
		harness_fail_at(file, line, "headers", "GET %s: headers: %s", path,
		                harness_io_name(r));
	char sink[4096];
	char *to = body ? body : sink;
	size_t room = body ? cap - 1 : sizeof(sink) - 1;
	if (length > room)
		harness_fail_at(file, line, "body fits", "GET %s: a body of %zu bytes", path,
		                length);
	r = harness_recv_exact(fd, to, length, 10000);
	if (r != HARNESS_OK)
		harness_fail_at(file, line, "body", "GET %s: body: %s", path, harness_io_name(r));
	to[length] = '\0';
	if (closing)
		*closing = close_header;
	return code;
}

void harness_send_frame_ok_at(const char *file, int line, int fd, const char *payload)
{
	int r = harness_send_frame(fd, payload, strlen(payload), 10000);
	if (r != HARNESS_OK)
		harness_fail_at(file, line, "sent", "send '%s': %s", payload, harness_io_name(r));
}

void harness_expect_frame_at(const char *file, int line, int fd, const char *want)
{
	char *got = NULL;
	size_t len = 0;
	int r = harness_recv_frame(fd, &got, &len, 10000);
	if (r != HARNESS_OK)
		harness_fail_at(file, line, "received", "reply '%s': %s", want, harness_io_name(r));
	if (len != strlen(want) || memcmp(got, want, len) != 0)
		harness_fail_at(file, line, "same", "reply '%s', expected '%s'", got, want);
	free(got);
}

void harness_expect_clean_close_at(const char *file, int line, int fd, const char *what)
{
	size_t more = 0;
	int r = harness_wait_closed(fd, 10000, &more);
	if (r != HARNESS_EOF && r != HARNESS_RESET)
		harness_fail_at(file, line, "closed", "%s: not closed (%s)", what,
		                harness_io_name(r));
	if (more)
		harness_fail_at(file, line, "more == 0", "%s: %zu bytes before the close", what,
		                more);
	close(fd);
}

int harness_wait_closed(int fd, int timeout_ms, size_t *discarded)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	char buf[65536];
	if (discarded)
		*discarded = 0;
	for (;;) {
		size_t n;
		int r = harness_recv_some(fd, buf, sizeof(buf), deadline, &n);
		if (r != HARNESS_OK)
			return r;
		if (discarded)
			*discarded += n;
	}
}

const char *harness_io_name(int r)
{
	switch (r) {
	case HARNESS_OK: return "ok";
	case HARNESS_EOF: return "eof";
	case HARNESS_RESET: return "reset";
	case HARNESS_TIMEOUT: return "timeout";
	default: return "error";
	}
}
