/* host/msg.c — message objects (a body buffer and an arena each) and the
 * worker's free lists of messages and empty buffers, so that the message
 * path does not go to malloc for every request and reply. */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "arena.h"
#include "msg.h"

/* Enough to cover a busy worker's turnover; each pooled object is about
 * 100 bytes, so the pools cost at most ~200 KiB per worker. */
#define MSG_POOL_MAX 1024
#define BUF_POOL_MAX 1024

static struct mh_msg *msg_pool;
static size_t msg_pool_n;
static struct evbuffer *buf_pool[BUF_POOL_MAX];
static size_t buf_pool_n;

struct evbuffer *msg_buf_get(void)
{
	if (buf_pool_n > 0)
		return buf_pool[--buf_pool_n];
	return evbuffer_new();
}

void msg_buf_put(struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	if (buf_pool_n < BUF_POOL_MAX) {
		if (len)
			evbuffer_drain(b, len);
		buf_pool[buf_pool_n++] = b;
		return;
	}
	evbuffer_free(b);
}

struct mh_msg *msg_new(struct mh_conn *c)
{
	struct mh_msg *m = msg_pool;
	if (m) {
		msg_pool = m->next;
		msg_pool_n--;
		memset(m, 0, sizeof(*m));
	} else if (!(m = calloc(1, sizeof(*m)))) {
		return NULL;
	}
	m->conn = c;
	return m;
}

struct evbuffer *msg_body(struct mh_msg *m)
{
	if (!m->body)
		m->body = msg_buf_get();
	return m->body;
}

static void msg_free_one(struct mh_msg *m)
{
	if (m->body)
		msg_buf_put(m->body);
	arena_free(&m->arena);
	if (msg_pool_n < MSG_POOL_MAX) {
		m->next = msg_pool;
		msg_pool = m;
		msg_pool_n++;
		return;
	}
	free(m);
}

void msg_free(struct mh_msg *m)
{
	if (m->reply)
		msg_free_one(m->reply);
	msg_free_one(m);
}

void msg_pool_clear(void)
{
	while (msg_pool) {
		struct mh_msg *m = msg_pool;
		msg_pool = m->next;
		free(m);
	}
	msg_pool_n = 0;
	while (buf_pool_n > 0)
		evbuffer_free(buf_pool[--buf_pool_n]);
}
