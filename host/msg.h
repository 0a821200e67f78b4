/* host/msg.h — messages: what flows between codec and handler.  A request
 * is made by the codec (msg_new), owned by its connection's in-flight queue
 * once decoded, and freed with its reply when the reply has been encoded. */
#ifndef MH_MSG_H
#define MH_MSG_H

#include <stdint.h>

#include "modhost.h"

struct mh_buf;
struct arena;

enum msg_state {
	MSG_DECODED = 0, /* in the pipeline */
	MSG_ASYNC,       /* the handler will complete it */
	MSG_DONE,        /* the reply is ready to encode */
};

#define MSG_FIELD_MAX 16 /* one past the largest enum mh_field this host knows */

struct msg_header {
	const char *name, *value;
	uint32_t name_len, value_len;
};

struct msg_arg {
	const char *data;
	size_t len;
};

/* What codecs and handlers attach to a message: fields, headers, args.
 * Made on first use, in the message's arena. */
struct msg_meta {
	const char *fields[MSG_FIELD_MAX];
	uint32_t field_len[MSG_FIELD_MAX];
	struct msg_header *headers;
	uint32_t n_headers, cap_headers;
	struct msg_arg *args;
	uint32_t n_args, cap_args;
};

/* A pooled message is reset field by field (msg_clear in msg.c): a field
 * added here must be added there too. */
struct mh_msg {
	struct mh_conn *conn;  /* NULL once the connection is gone (async) */
	struct mh_buf *body; /* created on first use */
	struct arena *arena;
	struct mh_msg *reply;   /* for a request: its reply */
	struct mh_msg *request; /* for a reply: its request */
	struct mh_msg *next;    /* in-flight queue */
	uint64_t started_us;    /* when decoded */
	int status;
	uint8_t state; /* enum msg_state, on the request */
	uint8_t close_after; /* close the connection once this reply is out */
	uint8_t is_error;    /* encode with the codec's encode_error */
	uint8_t form;        /* enum mh_reply_form */
	int code;            /* protocol status code, 0 = default */
	struct msg_meta *meta;
	struct mh_module *handler; /* on a request: the handler it went to */
	const char *error_text;    /* on an error reply: the host's words for it (arena), or NULL */
};

/* A new message on c (c may be NULL for a detached reply), or NULL. */
struct mh_msg *msg_new(struct mh_conn *c);
/* The body buffer, created on first use; NULL only when out of memory. */
struct mh_buf *msg_body(struct mh_msg *m);
/* Free a request and its reply (back to the worker's pool). */
void msg_free(struct mh_msg *m);
/* An empty buffer from the worker's pool (or a new one), or NULL. */
struct mh_buf *msg_buf_get(void);
/* Give a buffer back: emptied and pooled, or freed when the pool is full. */
void msg_buf_put(struct mh_buf *b);
/* Free the pools (at worker exit, so leak checkers see nothing). */
void msg_pool_clear(void);

/* Fields, headers and arguments (the ABI 1.1 message calls).  Setters copy
 * into the message's arena and return 0, or -1 when out of memory or the
 * field is unknown. */
const char *msg_field_get(const struct mh_msg *m, int field, size_t *len);
int msg_field_set(struct mh_msg *m, int field, const char *value, size_t len);
size_t msg_header_count(const struct mh_msg *m);
int msg_header_at(const struct mh_msg *m, size_t i, const char **name, size_t *name_len,
                  const char **value, size_t *value_len);
const char *msg_header_get(const struct mh_msg *m, const char *name, size_t *len);
int msg_header_add(struct mh_msg *m, const char *name, const char *value, size_t len);
size_t msg_argc(const struct mh_msg *m);
const char *msg_arg_get(const struct mh_msg *m, size_t i, size_t *len);
int msg_arg_add(struct mh_msg *m, const void *data, size_t len);

#endif
