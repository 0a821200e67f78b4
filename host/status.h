/* host/status.h — the host's state and status report for health and admin
 * modules: serving state, and a JSON document of version, uptime, workers,
 * modules and listeners read from the shared-memory zone. */
#ifndef MH_STATUS_H
#define MH_STATUS_H

struct evbuffer;

/* enum mh_host_state, as seen from the calling process. */
int status_host_state(void);
/* Append the status JSON to out.  Returns 0 or -1. */
int status_render(struct evbuffer *out);

#endif
