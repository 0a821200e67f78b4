/* modules/kv.h — what the kv handler's files share: the instance, the lock
 * wrapper, and the Redis face (modules/kvresp.c, with modules/kvdb.c) that
 * modules/kv.c calls for requests from the resp codec. */
#ifndef MH_KV_H
#define MH_KV_H

#include <stddef.h>
#include <stdint.h>

#include "modhost.h"

struct kvstore;

/* Instance settings, malloc'ed in load and freed in unload.  The store
 * itself is in the shared zone, which outlives the instance. */
struct kv_instance {
	mh_module *m;
	struct kvstore *store;
	const char *http_prefix;
	size_t http_prefix_len;
	uint64_t max_transaction; /* bytes one MULTI may queue */
	int in_exec;              /* this worker runs an EXEC: it holds the lock already */
};

/* Take the store's lock; logs when a dead worker's half-done change made
 * the store empty itself (kvstore_lock).  Inside EXEC, which holds the
 * lock for the whole transaction, both do nothing. */
void kv_lock(struct kv_instance *inst);
void kv_unlock(struct kv_instance *inst);

/* Hand the host table to kvresp.c (from kv's load hook). */
void kvresp_init(const mh_host_api *api);
/* Run the Redis command in req and write its RESP reply (MH_REPLY_RAW).
 * Returns MH_HANDLE_DONE, MH_HANDLE_CLOSE (QUIT) or MH_HANDLE_ERROR. */
int kvresp_handle(struct kv_instance *inst, mh_msg *req, mh_msg *reply);

#endif
