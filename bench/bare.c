/* bench/bare.c — see bare.h. */
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
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
