/* host/status.h — the host's serving state and status report for health
 * and admin modules: starting / ready / draining, and a JSON document of
 * version, uptime, workers (from the shared-memory slots), modules and
 * listeners of the generation the calling worker serves. */
#ifndef MH_STATUS_H
#define MH_STATUS_H

struct mh_buf;
struct generation;

/* In the master, before any fork: remember when and as which pid the host
 * started (workers inherit it). */
void status_init(void);
/* In a worker (or the single process), once it serves gen, and again when
 * an in-process reload switches generations. */
void status_serving(const struct generation *gen);
/* enum mh_host_state, as seen from the calling worker: DRAINING while it
 * stops (or its generation retires); STARTING until every listener of its
 * generation is bound and every worker of it serves; else READY. */
int status_host_state(void);
/* Append the status JSON to out.  Returns 0, or -1 when out of memory. */
int status_render(struct mh_buf *out);

#endif
