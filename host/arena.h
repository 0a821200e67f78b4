/* host/arena.h — a bump allocator tied to one lifetime (a connection, a
 * message): many small allocations, one free.  An arena pointer that is NULL
 * is an empty arena; the first allocation creates it. */
#ifndef MH_ARENA_H
#define MH_ARENA_H

#include <stddef.h>

struct arena;

/* Zeroed memory of size bytes, 16-byte aligned, valid until arena_free(*a).
 * Returns NULL when out of memory. */
void *arena_alloc(struct arena **a, size_t size);
/* The same, not zeroed: for memory the caller fills at once (copies). */
void *arena_alloc_raw(struct arena **a, size_t size);
/* Copy of s in the arena, or NULL. */
char *arena_strdup(struct arena **a, const char *s);
/* Free every allocation and set *a to NULL. */
void arena_free(struct arena **a);
/* Forget every allocation but keep the first chunk for reuse (pooled
 * objects); an arena that grew past one chunk shrinks back to it. */
void arena_reset(struct arena **a);

#endif
