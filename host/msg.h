/* host/msg.h — messages: what flows between codec and handler.  A request
 * is made by the codec (msg_new), owned by its connection's in-flight queue
 * once decoded, and freed with its reply when the reply has been encoded. */
#ifndef MH_MSG_H
#define MH_MSG_H

#include <stdint.h>

#include "modhost.h"

struct evbuffer;
struct arena;

enum msg_state {
	MSG_DECODED = 0, /* in the pipeline */
	MSG_ASYNC,       /* the handler will complete it */
	MSG_DONE,        /* the reply is ready to encode */
};

struct mh_msg {
	struct mh_conn *conn;  /* NULL once the connection is gone (async) */
	struct evbuffer *body; /* created on first use */
	struct arena *arena;
	struct mh_msg *reply;   /* for a request: its reply */
	struct mh_msg *request; /* for a reply: its request */
	struct mh_msg *next;    /* in-flight queue */
	uint64_t started_us;    /* when decoded */
	int status;
	uint8_t state; /* enum msg_state, on the request */
	uint8_t close_after; /* close the connection once this reply is out */
	uint8_t is_error;    /* encode with the codec's encode_error */
};

/* A new message on c (c may be NULL for a detached reply), or NULL. */
struct mh_msg *msg_new(struct mh_conn *c);
/* The body buffer, created on first use; NULL only when out of memory. */
struct evbuffer *msg_body(struct mh_msg *m);
/* Free a request and its reply (back to the worker's pool). */
void msg_free(struct mh_msg *m);
/* An empty evbuffer from the worker's pool (or a new one), or NULL. */
struct evbuffer *msg_buf_get(void);
/* Give a buffer back: emptied and pooled, or freed when the pool is full. */
void msg_buf_put(struct evbuffer *b);
/* Free the pools (at worker exit, so leak checkers see nothing). */
void msg_pool_clear(void);

#endif
