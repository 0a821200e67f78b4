/* host/listener.h — bound listening sockets.  The master opens them before
 * forking workers; a reload reuses a socket whose address is unchanged, so
 * the kernel's accept queue (and every connection in it) carries over to the
 * new generation. */
#ifndef MH_LISTENER_H
#define MH_LISTENER_H

#include <stddef.h>

struct config;
struct listener_settings;

struct listener_socket {
	char *key;     /* the `listen` value, as the identity for reuse */
	char *bound;   /* the actual address, e.g. "127.0.0.1:41233" */
	char *unix_path; /* unlinked when the socket is closed for good */
	int fd;
	int refs; /* generations using it */
};

struct listener_set {
	struct listener_socket **socks; /* indexed like cfg->listeners */
	size_t n;
};

/* Bind and listen for every listener of cfg, reusing sockets of previous
 * (may be NULL; prev_cfg is the configuration it was opened for) whose
 * `listen` value is the same.  Returns 0 and *out, or -1
 * with "file:line: listener 'x': cannot bind ADDR: reason" in err; nothing
 * new stays open on failure. */
int listener_open_all(const struct config *cfg, const struct listener_set *previous,
                      const struct config *prev_cfg, struct listener_set **out, char *err,
                      size_t errlen);
/* Drop a generation's references; sockets no generation uses are closed. */
void listener_release_all(struct listener_set *set);
/* In a worker: close the inherited fds of a set it does not serve. */
void listener_close_fds(struct listener_set *set);

#endif
