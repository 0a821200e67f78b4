/* host/pipeline.h — what happens to a decoded request: observers see it,
 * the listener's auth chain decides, policy decides, the handler replies.
 * Replies leave in request order even when completed out of order. */
#ifndef MH_PIPELINE_H
#define MH_PIPELINE_H

struct mh_conn;
struct mh_msg;

/* Run req (already queued on c's in-flight list) through auth, policy and
 * the handler.  On return the request is done, or async. */
void pipeline_run(struct mh_conn *c, struct mh_msg *req);
/* The handler finished an async reply (msg_complete). */
void pipeline_complete(struct mh_msg *reply);
/* Tell observers of the listener about an event. */
void pipeline_observe(struct mh_conn *c, int type, struct mh_msg *msg, const char *detail,
                      uint64_t value);

#endif
