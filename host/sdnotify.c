/* host/sdnotify.c — systemd's notification protocol: state lines such as
 * "READY=1\nSTATUS=..." sent as one datagram to the AF_UNIX socket named
 * by NOTIFY_SOCKET (a path, or "@name" for an abstract one).  See
 * sdnotify.h. */
#include "build-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

static int sdnotify_fd = -1;
static struct sockaddr_un sdnotify_addr;
static socklen_t sdnotify_addrlen;

void sdnotify_open(void)
{
	const char *name = getenv("NOTIFY_SOCKET");
	if (!name || !*name)
		return;
	size_t len = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || len >= sizeof(sdnotify_addr.sun_path)) {
		log_warn("NOTIFY_SOCKET '%s' is not a socket path or abstract name; not notifying",
		         name);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memset(&sdnotify_addr, 0, sizeof(sdnotify_addr));
	sdnotify_addr.sun_family = AF_UNIX;
	memcpy(sdnotify_addr.sun_path, name, len);
	if (name[0] == '@')
		sdnotify_addr.sun_path[0] = '\0'; /* abstract: no terminating NUL */
	sdnotify_addrlen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '@' ? 0 : 1));
	unsetenv("NOTIFY_SOCKET");
	sdnotify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sdnotify_fd < 0)
		log_warn("NOTIFY_SOCKET: cannot open a socket: %s", strerror(errno));
}

void sdnotify_close(void)
{
	if (sdnotify_fd >= 0)
		close(sdnotify_fd);
	sdnotify_fd = -1;
}

static void sdnotify_send(const char *text)
{
	if (sdnotify_fd < 0)
		return;
	if (sendto(sdnotify_fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&sdnotify_addr,
	           sdnotify_addrlen) < 0)
		log_warn("NOTIFY_SOCKET: cannot notify the service manager: %s", strerror(errno));
}

void sdnotify_ready(const char *status_fmt, ...)
{
	if (sdnotify_fd < 0)
		return;
	char status[256], text[320];
	va_list ap;
	va_start(ap, status_fmt);
	vsnprintf(status, sizeof(status), status_fmt, ap);
	va_end(ap);
	/* MAINPID: the master, also when a wrapper started it. */
	snprintf(text, sizeof(text), "READY=1\nMAINPID=%d\nSTATUS=%s", (int)getpid(), status);
	sdnotify_send(text);
}

void sdnotify_reloading(void)
{
	if (sdnotify_fd < 0)
		return;
	/* MONOTONIC_USEC: what a Type=notify-reload unit (systemd 253 and
	 * later) needs to match this reload with its request. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char text[128];
	snprintf(text, sizeof(text), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	         (unsigned long long)ts.tv_sec * 1000000ull +
	             (unsigned long long)ts.tv_nsec / 1000);
	sdnotify_send(text);
}

void sdnotify_stopping(void)
{
	sdnotify_send("STOPPING=1\nSTATUS=draining");
}
