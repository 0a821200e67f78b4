/* bench/bare.c — see bare.h. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "bare.h"

int bare_listen(const char *name, int port, int type_flags, int *bound)
{
	signal(SIGPIPE, SIG_IGN);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0);
	int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t salen = sizeof(sa);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
		fprintf(stderr, "%s: listen on 127.0.0.1:%d: ", name, port);
		perror(NULL);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

const char *bare_http_reply(size_t *len)
{
	static char reply[160];
	static size_t reply_len;
	static time_t cached = -1;
	time_t now = time(NULL);
	if (now != cached) {
		struct tm tm;
		char date[64];
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		reply_len = (size_t)snprintf(reply, sizeof(reply),
		                             "HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: text/plain\r\n"
		                             "Content-Length: 5\r\n\r\nhello",
		                             date);
		cached = now;
	}
	*len = reply_len;
	return reply;
}

int bare_args(int argc, char **argv, const char *flag, int *flag_set)
{
	*flag_set = argc > 1 && strcmp(argv[1], flag) == 0;
	if (*flag_set) {
		argv++;
		argc--;
	}
	return argc > 1 ? atoi(argv[1]) : 0;
}

int bare_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

ssize_t bare_send(int fd, const void *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(fd, (const char *)p + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -1;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int bare_append_http_reply(char **out, size_t *len, size_t *cap, size_t max)
{
	size_t reply_len;
	const char *reply = bare_http_reply(&reply_len);
	if (*len + reply_len > *cap) {
		size_t want = *cap ? *cap * 2 : 4096;
		char *p = want <= max ? realloc(*out, want) : NULL;
		if (!p)
			return -1;
		*out = p;
		*cap = want;
	}
	memcpy(*out + *len, reply, reply_len);
	*len += reply_len;
	return 0;
}
