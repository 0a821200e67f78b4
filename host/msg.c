/* host/msg.c — message objects: a body buffer and an arena each. */
#include "build-config.h"

#include <stdlib.h>

#include <event2/buffer.h>

#include "arena.h"
#include "msg.h"

struct mh_msg *msg_new(struct mh_conn *c)
{
	struct mh_msg *m = calloc(1, sizeof(*m));
	if (m)
		m->conn = c;
	return m;
}

struct evbuffer *msg_body(struct mh_msg *m)
{
	if (!m->body)
		m->body = evbuffer_new();
	return m->body;
}

static void msg_free_one(struct mh_msg *m)
{
	if (m->body)
		evbuffer_free(m->body);
	arena_free(&m->arena);
	free(m);
}

void msg_free(struct mh_msg *m)
{
	if (m->reply)
		msg_free_one(m->reply);
	msg_free_one(m);
}
