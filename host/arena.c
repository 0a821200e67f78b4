/* host/arena.c — bump allocator for per-connection and per-message memory. */
#include "build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_ALIGN 16
#define ARENA_CHUNK_MIN 512

/* Chunks form a list, newest first; allocations come from the newest. */
struct arena {
	struct arena *next;
	size_t used, size; /* bytes of data[] */
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

static size_t align_up(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

void *arena_alloc_raw(struct arena **a, size_t size)
{
	struct arena *chunk = *a;
	size = align_up(size ? size : 1);
	if (size < size - 1)
		return NULL;
	if (!chunk || chunk->size - chunk->used < size) {
		size_t cap = size > ARENA_CHUNK_MIN ? size : ARENA_CHUNK_MIN;
		chunk = malloc(sizeof(*chunk) + cap);
		if (!chunk)
			return NULL;
		chunk->size = cap;
		chunk->used = 0;
		chunk->next = *a;
		*a = chunk;
	}
	void *p = chunk->data + chunk->used;
	chunk->used += size;
	return p;
}

void *arena_alloc(struct arena **a, size_t size)
{
	void *p = arena_alloc_raw(a, size);
	if (p)
		memset(p, 0, size);
	return p;
}

char *arena_strdup(struct arena **a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc_raw(a, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

void arena_free(struct arena **a)
{
	struct arena *chunk = *a;
	while (chunk) {
		struct arena *next = chunk->next;
		free(chunk);
		chunk = next;
	}
	*a = NULL;
}

void arena_reset(struct arena **a)
{
	struct arena *chunk = *a;
	if (!chunk)
		return;
	/* The newest chunk is first; keep the oldest (the smallest, created
	 * at the first allocation) unless it is the only one. */
	while (chunk->next) {
		struct arena *next = chunk->next;
		free(chunk);
		chunk = next;
	}
	chunk->used = 0;
	*a = chunk;
}
