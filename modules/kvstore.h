/* modules/kvstore.h — the kv handler's store: a hash table of string keys
 * and values inside one shared-memory zone, with its own allocator, a
 * memory cap, lazy expiry and optional LRU eviction; the hash table grows
 * with the keys, a bucket at a time.  Every worker maps the same zone; one
 * lock in the zone guards all of it.
 *
 * Offsets, never pointers, link the structures, so the zone works at any
 * address.  Everything but kvstore_zone_size and kvstore_attach must be
 * called between kvstore_lock and kvstore_unlock.  Times are milliseconds
 * of CLOCK_MONOTONIC (the same in every process of the machine). */
#ifndef MH_KVSTORE_H
#define MH_KVSTORE_H

#include <stddef.h>
#include <stdint.h>

#define KVSTORE_MIN_MEMORY (64u * 1024)
#define KVSTORE_MAX_MEMORY (16ull << 30)

enum kvstore_policy {
	KVSTORE_NOEVICTION = 0, /* a write that does not fit is refused (OOM) */
	KVSTORE_LRU = 1,        /* the least recently used keys make room */
};

struct kvstore;                           /* the zone header */
typedef struct kvstore_item kvstore_item; /* one key and its value */

struct kvstore_stats {
	uint64_t keys, expires;    /* keys, and keys with a time to live */
	uint64_t used, max_memory; /* bytes of slots in use (items, hash table), and the cap */
	uint64_t buckets;          /* of the hash table */
	uint64_t hits, misses, expired, evicted, oom;
	int64_t created_unix; /* when the zone was first set up (seconds) */
	int policy;
};

/* Bytes of shared memory a store of max_memory bytes needs. */
size_t kvstore_zone_size(uint64_t max_memory);

/* The time in *now, reading the clock first if *now is 0. */
int64_t kvstore_now(int64_t *now);

/* Set up the store in a zone of size bytes from kvstore_zone_size(), or
 * find the one a previous generation left there (its keys are kept).
 * Applies policy either way.  Returns the store, or NULL with err set. */
struct kvstore *kvstore_attach(void *zone, size_t size, uint64_t max_memory, int policy, char *err,
                               size_t errlen);

/* The lock is a spinlock in the zone holding the owner's pid (commands
 * hold it for well under a microsecond and never across a system call).
 * Call kvstore_process_init once in every process that locks, after fork
 * (kvstore_attach does it for the process that attaches).
 *
 * kvstore_lock takes the lock.  Returns 0, or 1 when the previous holder
 * died holding it: the store was emptied (it may have been half-updated)
 * and the lock is held. */
void kvstore_process_init(void);
int kvstore_lock(struct kvstore *s);
void kvstore_unlock(struct kvstore *s);

/* The live item of key, or NULL (an expired one is removed first).  With
 * touch, it becomes the most recently used and counts as a hit or miss. */
kvstore_item *kvstore_find(struct kvstore *s, const void *key, size_t klen, int64_t *now,
                           int touch);
const uint8_t *kvstore_value(const kvstore_item *it, size_t *vlen);
/* Absolute expiry time, or 0 for none. */
int64_t kvstore_expire(const kvstore_item *it);
void kvstore_set_expire(struct kvstore *s, kvstore_item *it, int64_t at);

/* WATCH: the version slot of key, and that slot's version now.  A set,
 * change, expiry, eviction or removal of a key, and emptying the store,
 * raise the version of its slot; a key that shares the slot (1 in 8192)
 * raises it too, so a check can fail spuriously but never miss a change. */
uint32_t kvstore_watch_slot(const struct kvstore *s, const void *key, size_t klen);
uint64_t kvstore_watch_version(const struct kvstore *s, uint32_t slot);
/* Versions move only while some connection watches: add 1 before taking
 * the first versions of a connection's watches, and -1 when it drops them
 * (under the lock).  A worker that dies watching leaves the count up,
 * which costs only the bumps. */
void kvstore_watchers_add(struct kvstore *s, int delta);

/* A new, unlinked item holding key and room for vlen bytes of value (to
 * fill through kvstore_value_w), or NULL when it does not fit (after
 * evicting what the policy allows).  The caller links or discards it. */
kvstore_item *kvstore_alloc(struct kvstore *s, const void *key, size_t klen, size_t vlen,
                            int64_t *now);
/* kvstore_alloc, in a slot with room for spare bytes more when one is
 * free or the data area is not all handed out yet (nothing is expired or
 * evicted for the spare bytes). */
kvstore_item *kvstore_alloc_spare(struct kvstore *s, const void *key, size_t klen, size_t vlen,
                                  size_t spare, int64_t *now);
uint8_t *kvstore_value_w(kvstore_item *it);
/* Make the value of it vlen bytes long inside the slot it has, keeping
 * the bytes up to the shorter length; what is added is not cleared.  A
 * linked item counts as changed (as kvstore_modified).  Returns 0, or -1
 * when vlen does not fit the slot. */
int kvstore_set_length(struct kvstore *s, kvstore_item *it, size_t vlen);
/* After changing a linked item's value in place: what WATCH needs to see
 * the change. */
void kvstore_modified(struct kvstore *s, kvstore_item *it);
/* Make it the item of its key, replacing (and freeing) any previous one.
 * Returns 1 if a previous item was replaced, else 0. */
int kvstore_link(struct kvstore *s, kvstore_item *it, int64_t expire_at);
/* Free an item that was never linked. */
void kvstore_discard(struct kvstore *s, kvstore_item *it);
/* Remove key; returns 1 if it existed (and had not expired), else 0. */
int kvstore_delete(struct kvstore *s, const void *key, size_t klen, int64_t *now);
/* Bytes of the store an item takes (its slot). */
uint64_t kvstore_item_bytes(const struct kvstore *s, const kvstore_item *it);
/* The key of an item. */
const uint8_t *kvstore_key(const kvstore_item *it, size_t *klen);
/* One step of a scan over every key, as Redis's SCAN: calls fn(arg, it)
 * for each live item in the buckets cursor names (one bucket of the
 * table, and while it doubles, the buckets of the new table that bucket
 * splits into), removing the expired items it passes.  Returns the cursor
 * to continue from, 0 once every bucket has been visited.  A key present
 * from the first step to the last is visited at least once however much
 * the table grows in between (it never shrinks); one linked or removed in
 * between may or may not be.  Under one hold of the lock nothing moves,
 * so the same cursors visit the same items again. */
uint64_t kvstore_scan(struct kvstore *s, uint64_t cursor, int64_t *now,
                      void (*fn)(void *arg, const kvstore_item *it), void *arg);
/* Remove every key. */
void kvstore_flush(struct kvstore *s);
/* Look at the next few hash buckets and remove expired keys there, so that
 * keys nobody reads again do not hold memory for ever. */
void kvstore_expire_some(struct kvstore *s, int64_t *now);
void kvstore_get_stats(const struct kvstore *s, struct kvstore_stats *st);

#endif
