/* host/msg.c — message objects (a body buffer and an arena each) and the
 * worker's free lists of messages and empty buffers, so that the message
 * path does not go to malloc for every request and reply. */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "buf.h"
#include "msg.h"

/* Enough to cover a busy worker's turnover.  A pooled message is about
 * 100 bytes plus its arena's first chunk; a pooled buffer keeps at most
 * BUF_POOL_KEEP of storage, so the pools hold at most ~5 MiB per worker. */
#define MSG_POOL_MAX 1024
#define BUF_POOL_MAX 1024

/* A pooled buffer keeps storage up to this size: enough for the frames of
 * a busy read or a typical reply, while a burst's big blocks go back. */
#define BUF_POOL_KEEP (4 * 1024)

static struct mh_msg *msg_pool;
static size_t msg_pool_n;
static struct mh_buf *buf_pool[BUF_POOL_MAX];
static size_t buf_pool_n;

struct mh_buf *msg_buf_get(void)
{
	if (buf_pool_n > 0)
		return buf_pool[--buf_pool_n];
	return buf_new();
}

void msg_buf_put(struct mh_buf *b)
{
	if (buf_pool_n < BUF_POOL_MAX) {
		buf_reset(b, BUF_POOL_KEEP);
		buf_pool[buf_pool_n++] = b;
		return;
	}
	buf_free(b);
}

struct mh_msg *msg_new(struct mh_conn *c)
{
	struct mh_msg *m = msg_pool;
	if (m) {
		msg_pool = m->next;
		msg_pool_n--;
		m->next = NULL;
	} else if (!(m = calloc(1, sizeof(*m)))) {
		return NULL;
	}
	m->conn = c;
	return m;
}

struct mh_buf *msg_body(struct mh_msg *m)
{
	if (!m->body)
		m->body = msg_buf_get();
	return m->body;
}

/* Trips when a field is added to struct mh_msg (on 64-bit builds), as a
 * reminder that msg_clear must reset it. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct mh_msg) == 96,
               "struct mh_msg changed: update msg_clear");

/* Every field but the arena (and next, which the caller sets) to zero. */
static void msg_clear(struct mh_msg *m)
{
	m->conn = NULL;
	m->body = NULL;
	m->reply = m->request = NULL;
	m->started_us = 0;
	m->status = 0;
	m->state = 0;
	m->close_after = 0;
	m->is_error = 0;
	m->form = 0;
	m->code = 0;
	m->meta = NULL;
	m->handler = NULL;
	m->error_text = NULL;
}

static void msg_free_one(struct mh_msg *m)
{
	if (m->body)
		msg_buf_put(m->body);
	if (msg_pool_n < MSG_POOL_MAX) {
		/* Keep the arena's first chunk: the next message reuses it.
		 * Field by field, not memset: this runs twice per message and
		 * a string instruction's start-up costs more than the stores. */
		if (m->arena)
			arena_reset(&m->arena);
		msg_clear(m);
		m->next = msg_pool;
		msg_pool = m;
		msg_pool_n++;
		return;
	}
	arena_free(&m->arena);
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
		arena_free(&m->arena);
		free(m);
	}
	msg_pool_n = 0;
	while (buf_pool_n > 0)
		buf_free(buf_pool[--buf_pool_n]);
}

/* ---- fields, headers, arguments ---------------------------------------- */

static struct msg_meta *meta_of(struct mh_msg *m)
{
	if (!m->meta)
		m->meta = arena_alloc(&m->arena, sizeof(*m->meta));
	return m->meta;
}

/* A NUL-terminated copy of len bytes in the message's arena. */
static char *copy_in(struct mh_msg *m, const char *s, size_t len)
{
	char *p = arena_alloc_raw(&m->arena, len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* Grow an arena array of elem-sized items to hold one more. */
static void *grow(struct mh_msg *m, void *items, uint32_t n, uint32_t *cap, size_t elem)
{
	if (n < *cap)
		return items;
	uint32_t ncap = *cap ? *cap * 2 : 8;
	void *p = arena_alloc_raw(&m->arena, ncap * elem);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, items, n * elem);
	*cap = ncap;
	return p;
}

const char *msg_field_get(const struct mh_msg *m, int field, size_t *len)
{
	if (!m->meta || field <= 0 || field >= MSG_FIELD_MAX || !m->meta->fields[field]) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = m->meta->field_len[field];
	return m->meta->fields[field];
}

int msg_field_set(struct mh_msg *m, int field, const char *value, size_t len)
{
	struct msg_meta *meta = meta_of(m);
	if (!meta || field <= 0 || field >= MSG_FIELD_MAX || len > UINT32_MAX)
		return -1;
	char *copy = copy_in(m, value, len);
	if (!copy)
		return -1;
	meta->fields[field] = copy;
	meta->field_len[field] = (uint32_t)len;
	return 0;
}

size_t msg_header_count(const struct mh_msg *m)
{
	return m->meta ? m->meta->n_headers : 0;
}

int msg_header_at(const struct mh_msg *m, size_t i, const char **name, size_t *name_len,
                  const char **value, size_t *value_len)
{
	if (!m->meta || i >= m->meta->n_headers)
		return -1;
	const struct msg_header *h = &m->meta->headers[i];
	*name = h->name;
	*value = h->value;
	if (name_len)
		*name_len = h->name_len;
	if (value_len)
		*value_len = h->value_len;
	return 0;
}

const char *msg_header_get(const struct mh_msg *m, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	for (uint32_t i = 0; m->meta && i < m->meta->n_headers; i++) {
		const struct msg_header *h = &m->meta->headers[i];
		if (h->name_len == nlen && strncasecmp(h->name, name, nlen) == 0) {
			if (len)
				*len = h->value_len;
			return h->value;
		}
	}
	if (len)
		*len = 0;
	return NULL;
}

int msg_header_add(struct mh_msg *m, const char *name, const char *value, size_t len)
{
	struct msg_meta *meta = meta_of(m);
	size_t nlen = strlen(name);
	if (!meta || nlen > UINT32_MAX || len > UINT32_MAX)
		return -1;
	struct msg_header *hs =
	    grow(m, meta->headers, meta->n_headers, &meta->cap_headers, sizeof(*hs));
	if (!hs)
		return -1;
	meta->headers = hs;
	struct msg_header *h = &hs[meta->n_headers];
	if (!(h->name = copy_in(m, name, nlen)) || !(h->value = copy_in(m, value, len)))
		return -1;
	h->name_len = (uint32_t)nlen;
	h->value_len = (uint32_t)len;
	meta->n_headers++;
	return 0;
}

size_t msg_argc(const struct mh_msg *m)
{
	return m->meta ? m->meta->n_args : 0;
}

const char *msg_arg_get(const struct mh_msg *m, size_t i, size_t *len)
{
	if (!m->meta || i >= m->meta->n_args) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = m->meta->args[i].len;
	return m->meta->args[i].data;
}

int msg_arg_add(struct mh_msg *m, const void *data, size_t len)
{
	struct msg_meta *meta = meta_of(m);
	if (!meta)
		return -1;
	struct msg_arg *as = grow(m, meta->args, meta->n_args, &meta->cap_args, sizeof(*as));
	if (!as)
		return -1;
	meta->args = as;
	char *copy = copy_in(m, data, len);
	if (!copy)
		return -1;
	as[meta->n_args].data = copy;
	as[meta->n_args].len = len;
	meta->n_args++;
	return 0;
}
