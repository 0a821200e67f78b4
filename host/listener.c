/* host/listener.c — opening, sharing and closing listening sockets. */
#include "build-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "log.h"

/* Text form of a bound address: "127.0.0.1:7000", "[::1]:7000". */
static void format_sockaddr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, outlen, "unix");
	}
}

/* A unix socket path may be left over from a previous run; remove it only
 * if it is a socket, so a mistyped path never deletes a file. */
static int unlink_stale_socket(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	unlink(path);
	return 0;
}

static struct listener_socket *socket_open(const struct listener_settings *ls, char *err,
                                           size_t errlen)
{
	int domain = ls->family == LISTENER_UNIX ? AF_UNIX : ls->addr.ss_family;
	char reason[256] = "";
	int fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(reason, sizeof(reason), "socket: %s", strerror(errno));
		goto fail;
	}
	int one = 1;
	if (domain != AF_UNIX) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (domain == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	} else if (unlink_stale_socket(ls->unix_path, reason, sizeof(reason)) < 0) {
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&ls->addr, ls->addrlen) < 0) {
		snprintf(reason, sizeof(reason), "%s", strerror(errno));
		goto fail;
	}
	if (listen(fd, ls->backlog) < 0) {
		snprintf(reason, sizeof(reason), "listen: %s", strerror(errno));
		goto fail;
	}
	struct listener_socket *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(reason, sizeof(reason), "out of memory");
		goto fail;
	}
	char bound[128];
	if (domain == AF_UNIX) {
		snprintf(bound, sizeof(bound), "unix:%s", ls->unix_path);
		s->unix_path = strdup(ls->unix_path);
	} else {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		format_sockaddr((struct sockaddr *)&ss, bound, sizeof(bound));
	}
	s->fd = fd;
	s->key = strdup(ls->listen);
	s->bound = strdup(bound);
	return s;
fail:
	if (fd >= 0)
		close(fd);
	snprintf(err, errlen, "%s:%d: listener '%s': cannot listen on %s: %s", ls->file, ls->line,
	         ls->name, ls->listen, reason);
	return NULL;
}

static void socket_unref(struct listener_socket *s)
{
	if (--s->refs > 0)
		return;
	close(s->fd);
	if (s->unix_path)
		unlink(s->unix_path);
	free(s->unix_path);
	free(s->key);
	free(s->bound);
	free(s);
}

/* The socket of previous that this listener keeps: the same listener name
 * with the same `listen` value, else (for a renamed listener) a socket with
 * the same fixed address that no listener of the new set took yet.  An
 * ephemeral port (":0") is only kept under the same name. */
static struct listener_socket *find_reusable(const struct listener_set *prev,
                                             const struct config *prev_cfg,
                                             const struct listener_set *taken,
                                             const struct listener_settings *ls)
{
	if (!prev)
		return NULL;
	for (size_t i = 0; i < prev->n; i++)
		if (strcmp(prev->socks[i]->key, ls->listen) == 0 && prev_cfg &&
		    strcmp(prev_cfg->listeners[i].name, ls->name) == 0)
			return prev->socks[i];
	size_t len = strlen(ls->listen);
	if (len >= 2 && strcmp(ls->listen + len - 2, ":0") == 0)
		return NULL;
	for (size_t i = 0; i < prev->n; i++) {
		if (strcmp(prev->socks[i]->key, ls->listen) != 0)
			continue;
		int used = 0;
		for (size_t k = 0; k < taken->n; k++)
			used |= taken->socks[k] == prev->socks[i];
		if (!used)
			return prev->socks[i];
	}
	return NULL;
}

int listener_open_all(const struct config *cfg, const struct listener_set *previous,
                      const struct config *prev_cfg, struct listener_set **out, char *err,
                      size_t errlen)
{
	struct listener_set *set = calloc(1, sizeof(*set));
	if (!set || !(set->socks = calloc(cfg->n_listeners + 1, sizeof(*set->socks)))) {
		free(set);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_settings *ls = &cfg->listeners[i];
		struct listener_socket *s = find_reusable(previous, prev_cfg, set, ls);
		if (!s && !(s = socket_open(ls, err, errlen))) {
			listener_release_all(set);
			return -1;
		}
		s->refs++;
		set->socks[set->n++] = s;
	}
	*out = set;
	return 0;
}

void listener_release_all(struct listener_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		socket_unref(set->socks[i]);
	free(set->socks);
	free(set);
}

void listener_close_fds(struct listener_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		if (set->socks[i]->fd >= 0) {
			close(set->socks[i]->fd);
			set->socks[i]->fd = -1;
		}
	}
}
