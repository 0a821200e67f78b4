/* host/offload.h — the worker's thread pool for modules' blocking work
 * (the host table's offload, ABI 1.5).
 *
 * Owned by the worker process, made on the first job: [server]
 * offload_threads threads that block every signal, a FIFO of jobs not yet
 * started (at most offload_queue), and a list of finished ones that an
 * eventfd on the worker's loop empties, calling each job's done there.
 * The pool outlives generations (workers = 0 keeps it across reloads) and
 * is stopped once, after the worker's loop ends and before the modules'
 * worker_fini hooks. */
#ifndef MH_OFFLOAD_H
#define MH_OFFLOAD_H

#include <stdint.h>

struct mh_module;

/* Queue work for a thread; done(arg, status) follows on the loop.
 * Returns 0, or -1 (queue full, stopping, no loop, out of memory or
 * threads: nothing will be called). */
int offload_submit(struct mh_module *m, void (*work)(void *arg),
                   void (*done)(void *arg, int status), void *arg);

/* The worker is leaving: jobs not started are cancelled, running ones are
 * waited for up to wait_ms, and every done is called.  Returns 0, or the
 * number of jobs still running at the deadline (their threads are left
 * to die with the process; the caller must not unload what they use). */
unsigned offload_stop(uint64_t wait_ms);

#endif
