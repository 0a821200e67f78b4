/* modules/kvstore.c — the kv store in a shared-memory zone: hash table with
 * incremental resizing, size-class allocator, per-class LRU lists, expiry
 * (see kvstore.h and doc/internals/resp-kv.md).
 *
 * Zone layout: the header (struct kvstore, with the lock), then the data
 * area of max_memory bytes that holds the items and the hash table's bucket
 * arrays.  An item reference is its offset in the data area divided by 8,
 * plus one (0 is "none"), so 32 bits reach 32 GiB.
 *
 * Allocation: item sizes are rounded up to a size class (64 bytes, then
 * about 1.25 times the previous).  A class takes a slot from its free list,
 * else carves a new one from the untouched end of the data area; freed
 * slots go back to their class.  Once the data area is carved, a class
 * that needs room first drops expired items, then (with the LRU policy)
 * evicts its least recently used item, then borrows a free or evictable
 * slot from the next few larger classes.  Nothing is ever coalesced: like
 * memcached's slabs, memory stays with the classes that used it, which is
 * simple, fast and fine for a cache of similar values.
 *
 * The hash table doubles when it holds more keys than buckets, as Redis's
 * does: a second bucket array is allocated like an item, and every lookup,
 * insert and delete moves one bucket of the old array to the new one until
 * none is left, so no command pays for the whole move. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "kvhash.h"
#include "kvstore.h"

#define KVSTORE_MAGIC       0x6b7673746f726533ull /* "kvstore3" */
#define KVSTORE_WATCH_SLOTS 8192                  /* a power of two */
#define KVSTORE_CLASSES  128
#define KVSTORE_SLOT_MIN 64
/* Buckets of a new store's table; the table never gets smaller. */
#define KVSTORE_TABLE_MIN 1024
/* Buckets searched for expired items before a write is refused or evicts. */
#define KVSTORE_REAP_BUCKETS 1024
/* Larger classes a class may borrow a slot from (up to ~2.4x the size). */
#define KVSTORE_BORROW 4
/* Spins on a taken lock between checks that its holder is alive. */
#define KVSTORE_SPINS 1024
/* Buckets kvstore_expire_some looks at per call. */
#define KVSTORE_EXPIRE_STEP 8
/* Empty buckets one rehash step may skip before it returns. */
#define KVSTORE_REHASH_EMPTY 16
#define KVSTORE_NO_REHASH    UINT32_MAX

typedef uint32_t ref_t;

struct kvstore_class {
	uint64_t size;    /* slot bytes */
	ref_t free;       /* free list (through item.next) */
	ref_t head, tail; /* LRU list of live items, most recent first */
	uint32_t pad;
	uint64_t items; /* live items in the class */
};

/* A bucket array: a slot holding an item header (so that it is freed like
 * one) followed by mask + 1 references. */
struct kvstore_table {
	ref_t array;
	uint32_t mask;
};

struct kvstore {
	uint64_t magic;
	uint64_t zone_size;
	uint64_t max_memory;
	uint32_t lock; /* the pid of the process holding it, or 0 */
	uint32_t policy;
	uint64_t hash_key[2];
	uint32_t n_classes;
	uint32_t expire_cursor;
	struct kvstore_table table[2]; /* [1] only while resizing */
	uint32_t rehash;               /* next bucket of table[0] to move, or KVSTORE_NO_REHASH */
	uint32_t pad;
	uint64_t data_off; /* from the zone's start */
	uint64_t data_size;
	uint64_t carved; /* bytes of the data area handed out to classes */
	uint64_t used;   /* bytes of slots in use: items and bucket arrays */
	uint64_t keys, expires;
	uint64_t hits, misses, expired, evicted, oom;
	int64_t created_unix;
	struct kvstore_class classes[KVSTORE_CLASSES];
	/* WATCH: while a connection watches (watchers > 0), a change of a key
	 * bumps the version of its slot (hash mod KVSTORE_WATCH_SLOTS);
	 * emptying the store bumps flushes. */
	uint64_t watchers;
	uint64_t flushes;
	uint64_t versions[KVSTORE_WATCH_SLOTS];
};

struct kvstore_item {
	ref_t hnext;      /* next in the hash bucket */
	ref_t prev, next; /* LRU list of the class; free list: next only */
	uint32_t hash;
	uint32_t klen;
	uint32_t vlen;
	uint8_t cls;
	uint8_t live;
	uint16_t pad16;
	uint32_t pad32;
	int64_t expire_at; /* 0: none */
	uint8_t data[];    /* key, then value (or a bucket array) */
};

static void kvstore_lru_push(struct kvstore *s, kvstore_item *it);
static void kvstore_reset(struct kvstore *s);

/* ---- layout ----------------------------------------------------------------- */

static uint64_t kvstore_align(uint64_t n, uint64_t a)
{
	return (n + a - 1) & ~(a - 1);
}

size_t kvstore_zone_size(uint64_t max_memory)
{
	return (size_t)(kvstore_align(sizeof(struct kvstore), 64) + (max_memory & ~(uint64_t)7));
}

static kvstore_item *kvstore_at(const struct kvstore *s, ref_t r)
{
	return r ? (kvstore_item *)((uint8_t *)s + s->data_off + (uint64_t)(r - 1) * 8) : NULL;
}

static ref_t kvstore_ref(const struct kvstore *s, const kvstore_item *it)
{
	return (ref_t)(((const uint8_t *)it - ((const uint8_t *)s + s->data_off)) / 8 + 1);
}

static ref_t *kvstore_buckets(const struct kvstore *s, int t)
{
	return (ref_t *)kvstore_at(s, s->table[t].array)->data;
}

static int kvstore_rehashing(const struct kvstore *s)
{
	return s->rehash != KVSTORE_NO_REHASH;
}

/* The bucket of table t that holds (or would hold) hash h. */
static ref_t *kvstore_bucket(const struct kvstore *s, int t, uint32_t h)
{
	return &kvstore_buckets(s, t)[h & s->table[t].mask];
}

/* The bucket where hash h lives now: table[0], unless a resize has moved
 * that bucket to table[1] already. */
static ref_t *kvstore_home(const struct kvstore *s, uint32_t h)
{
	if (kvstore_rehashing(s) && (h & s->table[0].mask) < s->rehash)
		return kvstore_bucket(s, 1, h);
	return kvstore_bucket(s, 0, h);
}

/* The hash of a key: SipHash-1-3 (kvhash.h) with the zone's random key. */
static uint32_t kvstore_hash(const struct kvstore *s, const uint8_t *p, size_t n)
{
	return kvhash_siphash13(s->hash_key, p, n);
}

/* ---- slots --------------------------------------------------------------------- */

/* The smallest class whose slots hold n bytes, or -1. */
static int kvstore_class_for(const struct kvstore *s, uint64_t n)
{
	for (uint32_t c = 0; c < s->n_classes; c++)
		if (s->classes[c].size >= n)
			return (int)c;
	return -1;
}

/* Pop a free slot of class c, or NULL. */
static kvstore_item *kvstore_pop_free(struct kvstore *s, int c)
{
	struct kvstore_class *k = &s->classes[c];
	if (!k->free)
		return NULL;
	kvstore_item *it = kvstore_at(s, k->free);
	k->free = it->next;
	it->cls = (uint8_t)c;
	return it;
}

/* Carve a new slot of class c from the untouched end of the data area. */
static kvstore_item *kvstore_carve(struct kvstore *s, int c)
{
	uint64_t size = s->classes[c].size;
	if (s->data_size - s->carved < size)
		return NULL;
	kvstore_item *it = (kvstore_item *)((uint8_t *)s + s->data_off + s->carved);
	s->carved += size;
	it->cls = (uint8_t)c;
	return it;
}

static void kvstore_slot_free(struct kvstore *s, kvstore_item *it)
{
	struct kvstore_class *k = &s->classes[it->cls];
	it->live = 0;
	it->next = k->free;
	k->free = kvstore_ref(s, it);
}

/* ---- the hash table ------------------------------------------------------------------- */

/* A zeroed bucket array of n buckets (a power of two) from free memory only:
 * growing the table never evicts.  Returns its slot, or 0. */
static ref_t kvstore_table_alloc(struct kvstore *s, uint32_t n)
{
	int c = kvstore_class_for(s, sizeof(kvstore_item) + (uint64_t)n * sizeof(ref_t));
	if (c < 0)
		return 0;
	int last =
	    c + KVSTORE_BORROW < (int)s->n_classes ? c + KVSTORE_BORROW : (int)s->n_classes - 1;
	kvstore_item *it = kvstore_pop_free(s, c);
	if (!it)
		it = kvstore_carve(s, c);
	for (int b = c + 1; !it && b <= last; b++)
		it = kvstore_pop_free(s, b);
	if (!it)
		return 0;
	uint8_t cls = it->cls;
	memset(it, 0, sizeof(*it) + (size_t)n * sizeof(ref_t));
	it->cls = cls;
	s->used += s->classes[cls].size;
	return kvstore_ref(s, it);
}

static void kvstore_table_free(struct kvstore *s, ref_t array)
{
	kvstore_item *it = kvstore_at(s, array);
	s->used -= s->classes[it->cls].size;
	kvstore_slot_free(s, it);
}

/* Move one non-empty bucket of table[0] (skipping at most a few empty
 * ones) to table[1]; when none is left, table[1] becomes table[0]. */
static void kvstore_rehash_step(struct kvstore *s)
{
	ref_t *old = kvstore_buckets(s, 0);
	for (int empty = 0; s->rehash <= s->table[0].mask; s->rehash++) {
		ref_t r = old[s->rehash];
		if (!r) {
			if (++empty == KVSTORE_REHASH_EMPTY)
				return;
			continue;
		}
		while (r) {
			kvstore_item *it = kvstore_at(s, r);
			ref_t next = it->hnext;
			ref_t *to = kvstore_bucket(s, 1, it->hash);
			it->hnext = *to;
			*to = r;
			r = next;
		}
		old[s->rehash++] = 0;
		break;
	}
	if (s->rehash > s->table[0].mask) {
		kvstore_table_free(s, s->table[0].array);
		s->table[0] = s->table[1];
		s->table[1].array = 0;
		s->table[1].mask = 0;
		s->rehash = KVSTORE_NO_REHASH;
	}
}

/* After an insert: start doubling the table when it holds more keys than
 * buckets (if memory allows; else the chains just grow longer). */
static void kvstore_maybe_grow(struct kvstore *s)
{
	uint64_t buckets = (uint64_t)s->table[0].mask + 1;
	if (kvstore_rehashing(s) || s->keys <= buckets || buckets >= (1u << 30))
		return;
	ref_t array = kvstore_table_alloc(s, (uint32_t)(buckets * 2));
	if (!array)
		return;
	s->table[1].array = array;
	s->table[1].mask = (uint32_t)(buckets * 2 - 1);
	s->rehash = 0;
}

/* Call fn on every linked item (for a policy switch). */
static void kvstore_each(struct kvstore *s, void (*fn)(struct kvstore *s, kvstore_item *it))
{
	for (int t = 0; t < 1 + kvstore_rehashing(s); t++) {
		ref_t *buckets = kvstore_buckets(s, t);
		for (uint32_t b = 0; b <= s->table[t].mask; b++)
			for (ref_t r = buckets[b]; r; r = kvstore_at(s, r)->hnext)
				fn(s, kvstore_at(s, r));
	}
}

/* ---- setting up ---------------------------------------------------------------- */

/* Everything gone: no items, no slots carved, a fresh smallest table. */
static void kvstore_reset(struct kvstore *s)
{
	s->flushes++; /* every watched key changed */
	for (uint32_t c = 0; c < s->n_classes; c++) {
		s->classes[c].free = s->classes[c].head = s->classes[c].tail = 0;
		s->classes[c].items = 0;
	}
	s->carved = s->used = s->keys = s->expires = 0;
	s->expire_cursor = 0;
	s->rehash = KVSTORE_NO_REHASH;
	s->table[1].array = 0;
	s->table[1].mask = 0;
	/* The data area is at least 64 KiB: the first slot always fits. */
	s->table[0].array = kvstore_table_alloc(s, KVSTORE_TABLE_MIN);
	s->table[0].mask = KVSTORE_TABLE_MIN - 1;
}

static void kvstore_make_classes(struct kvstore *s)
{
	uint64_t size = KVSTORE_SLOT_MIN;
	uint32_t n = 0;
	for (;;) {
		s->classes[n++].size = size;
		if (size >= s->data_size || n == KVSTORE_CLASSES)
			break;
		uint64_t next = kvstore_align(size + size / 4, 8);
		size = next > s->data_size ? (s->data_size & ~(uint64_t)7) : next;
	}
	s->n_classes = n;
}

/* The LRU lists are kept only under the LRU policy (they cost a few cache
 * misses per write and per read); switching to it links every item, in
 * no particular order. */
static void kvstore_set_policy(struct kvstore *s, int policy)
{
	if ((uint32_t)policy == s->policy)
		return;
	for (uint32_t c = 0; c < s->n_classes; c++)
		s->classes[c].head = s->classes[c].tail = 0;
	s->policy = (uint32_t)policy;
	if (policy == KVSTORE_LRU)
		kvstore_each(s, kvstore_lru_push);
}

struct kvstore *kvstore_attach(void *zone, size_t size, uint64_t max_memory, int policy, char *err,
                               size_t errlen)
{
	struct kvstore *s = zone;
	kvstore_process_init();
	if (size != kvstore_zone_size(max_memory)) {
		snprintf(err, errlen, "zone of %zu bytes does not fit max_memory %llu", size,
		         (unsigned long long)max_memory);
		return NULL;
	}
	if (s->magic == KVSTORE_MAGIC) {
		if (s->max_memory != max_memory || s->zone_size != size) {
			snprintf(err, errlen, "the zone holds a store of %llu bytes, not %llu",
			         (unsigned long long)s->max_memory, (unsigned long long)max_memory);
			return NULL;
		}
		kvstore_lock(s);
		kvstore_set_policy(s, policy);
		kvstore_unlock(s);
		return s;
	}
	/* A new zone is zeroed and no worker runs yet. */
	memset(s, 0, sizeof(*s));
	if (getrandom(s->hash_key, sizeof(s->hash_key), 0) != (ssize_t)sizeof(s->hash_key)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s->hash_key[0] =
		    (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)s;
		s->hash_key[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ull;
	}
	s->zone_size = size;
	s->max_memory = max_memory;
	s->policy = (uint32_t)policy;
	s->data_off = kvstore_align(sizeof(struct kvstore), 64);
	s->data_size = max_memory & ~(uint64_t)7;
	s->created_unix = (int64_t)time(NULL);
	kvstore_make_classes(s);
	kvstore_reset(s);
	s->magic = KVSTORE_MAGIC;
	return s;
}

/* ---- the lock ------------------------------------------------------------------- */

/* This process's pid, the lock's owner mark: getpid() is a system call,
 * so it is read once per process (kvstore_process_init). */
static uint32_t kvstore_self;

void kvstore_process_init(void)
{
	kvstore_self = (uint32_t)getpid();
}

static void kvstore_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* The lock is taken: spin a while, then yield; between rounds, check
 * whether its holder still exists, and take the lock over from a dead
 * one (a pid reused that fast would only make us wait). */
static int kvstore_lock_slow(struct kvstore *s)
{
	for (unsigned spins = 1;; spins++) {
		uint32_t owner = __atomic_load_n(&s->lock, __ATOMIC_RELAXED);
		if (owner == 0) {
			if (__atomic_compare_exchange_n(&s->lock, &owner, kvstore_self, 0,
			                                __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return 0;
			continue;
		}
		if (spins % KVSTORE_SPINS) {
			kvstore_cpu_relax();
			continue;
		}
		if (kill((pid_t)owner, 0) < 0 && errno == ESRCH &&
		    __atomic_compare_exchange_n(&s->lock, &owner, kvstore_self, 0, __ATOMIC_ACQUIRE,
		                                __ATOMIC_RELAXED)) {
			/* Its last change may be half done: nothing in the
			 * store can be trusted. */
			kvstore_reset(s);
			return 1;
		}
		sched_yield();
	}
}

int kvstore_lock(struct kvstore *s)
{
	uint32_t free = 0;
	if (kvstore_self == 0)
		kvstore_process_init();
	if (__atomic_compare_exchange_n(&s->lock, &free, kvstore_self, 0, __ATOMIC_ACQUIRE,
	                                __ATOMIC_RELAXED))
		return 0;
	return kvstore_lock_slow(s);
}

void kvstore_unlock(struct kvstore *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

/* ---- lists ---------------------------------------------------------------------- */

static void kvstore_lru_unlink(struct kvstore *s, kvstore_item *it)
{
	struct kvstore_class *k = &s->classes[it->cls];
	if (it->prev)
		kvstore_at(s, it->prev)->next = it->next;
	else
		k->head = it->next;
	if (it->next)
		kvstore_at(s, it->next)->prev = it->prev;
	else
		k->tail = it->prev;
	it->prev = it->next = 0;
}

static void kvstore_lru_push(struct kvstore *s, kvstore_item *it)
{
	struct kvstore_class *k = &s->classes[it->cls];
	ref_t r = kvstore_ref(s, it);
	it->prev = 0;
	it->next = k->head;
	if (k->head)
		kvstore_at(s, k->head)->prev = r;
	else
		k->tail = r;
	k->head = r;
}

/* Take a linked item out of its bucket, its LRU list and the counts, and
 * free its slot. */
/* A key with this hash was set, changed or removed. */
static void kvstore_changed(struct kvstore *s, uint32_t hash)
{
	if (s->watchers)
		s->versions[hash & (KVSTORE_WATCH_SLOTS - 1)]++;
}

void kvstore_modified(struct kvstore *s, kvstore_item *it)
{
	kvstore_changed(s, it->hash);
}

void kvstore_watchers_add(struct kvstore *s, int delta)
{
	if (delta > 0 || s->watchers >= (uint64_t)-delta)
		s->watchers += (uint64_t)(int64_t)delta;
}

uint32_t kvstore_watch_slot(const struct kvstore *s, const void *key, size_t klen)
{
	return kvstore_hash(s, key, klen) & (KVSTORE_WATCH_SLOTS - 1);
}

uint64_t kvstore_watch_version(const struct kvstore *s, uint32_t slot)
{
	return s->versions[slot & (KVSTORE_WATCH_SLOTS - 1)] + s->flushes;
}

static void kvstore_remove(struct kvstore *s, kvstore_item *it)
{
	kvstore_changed(s, it->hash);
	ref_t *slot = kvstore_home(s, it->hash);
	ref_t r = kvstore_ref(s, it);
	while (*slot && *slot != r)
		slot = &kvstore_at(s, *slot)->hnext;
	if (!*slot && kvstore_rehashing(s)) {
		/* Inserted into the new table before its old bucket moved. */
		slot = kvstore_bucket(s, 1, it->hash);
		while (*slot && *slot != r)
			slot = &kvstore_at(s, *slot)->hnext;
	}
	if (*slot)
		*slot = it->hnext;
	if (s->policy == KVSTORE_LRU)
		kvstore_lru_unlink(s, it);
	s->classes[it->cls].items--;
	s->keys--;
	if (it->expire_at)
		s->expires--;
	s->used -= s->classes[it->cls].size;
	kvstore_slot_free(s, it);
}

int64_t kvstore_now(int64_t *now)
{
	if (*now == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		*now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
	}
	return *now;
}

/* The clock is read only for items that have an expiry. */
static int kvstore_expired(const kvstore_item *it, int64_t *now)
{
	return it->expire_at && it->expire_at <= kvstore_now(now);
}

/* ---- finding -------------------------------------------------------------------- */

/* The linked item of key with hash h in the chain starting at r, or NULL. */
static kvstore_item *kvstore_chain_find(const struct kvstore *s, ref_t r, uint32_t h,
                                        const void *key, size_t klen)
{
	while (r) {
		kvstore_item *it = kvstore_at(s, r);
		if (it->hash == h && it->klen == klen && memcmp(it->data, key, klen) == 0)
			return it;
		r = it->hnext;
	}
	return NULL;
}

/* Key's item in either table, or NULL; expired items are returned too. */
static kvstore_item *kvstore_lookup(struct kvstore *s, uint32_t h, const void *key, size_t klen)
{
	if (kvstore_rehashing(s))
		kvstore_rehash_step(s);
	kvstore_item *it = kvstore_chain_find(s, *kvstore_home(s, h), h, key, klen);
	if (!it && kvstore_rehashing(s) && (h & s->table[0].mask) >= s->rehash)
		it = kvstore_chain_find(s, *kvstore_bucket(s, 1, h), h, key, klen);
	return it;
}

kvstore_item *kvstore_find(struct kvstore *s, const void *key, size_t klen, int64_t *now, int touch)
{
	kvstore_item *it = kvstore_lookup(s, kvstore_hash(s, key, klen), key, klen);
	if (it && kvstore_expired(it, now)) {
		kvstore_remove(s, it);
		s->expired++;
		it = NULL;
	}
	if (touch) {
		if (!it) {
			s->misses++;
			return NULL;
		}
		s->hits++;
		if (s->policy == KVSTORE_LRU && s->classes[it->cls].head != kvstore_ref(s, it)) {
			kvstore_lru_unlink(s, it);
			kvstore_lru_push(s, it);
		}
	}
	return it;
}

const uint8_t *kvstore_value(const kvstore_item *it, size_t *vlen)
{
	*vlen = it->vlen;
	return it->data + it->klen;
}

uint8_t *kvstore_value_w(kvstore_item *it)
{
	return it->data + it->klen;
}

int kvstore_set_length(struct kvstore *s, kvstore_item *it, size_t vlen)
{
	if (vlen > UINT32_MAX || sizeof(*it) + (uint64_t)it->klen + vlen > s->classes[it->cls].size)
		return -1;
	it->vlen = (uint32_t)vlen;
	if (it->live)
		kvstore_changed(s, it->hash);
	return 0;
}

int64_t kvstore_expire(const kvstore_item *it)
{
	return it->expire_at;
}

void kvstore_set_expire(struct kvstore *s, kvstore_item *it, int64_t at)
{
	if (it->live) {
		s->expires += (at != 0) - (it->expire_at != 0);
		kvstore_changed(s, it->hash);
	}
	it->expire_at = at;
}

/* ---- allocating ----------------------------------------------------------------- */

/* Remove the expired items of up to n buckets from the expiry cursor on;
 * returns how many were removed.  While the table is resizing, the steps
 * move buckets instead, and expired items wait for the next scan. */
static uint64_t kvstore_expire_scan(struct kvstore *s, uint32_t n, int64_t *now)
{
	uint64_t removed = 0;
	if (kvstore_rehashing(s)) {
		for (uint32_t i = 0; i < n && kvstore_rehashing(s); i++)
			kvstore_rehash_step(s);
		return 0;
	}
	ref_t *buckets = kvstore_buckets(s, 0);
	if (n > s->table[0].mask + 1)
		n = s->table[0].mask + 1;
	for (uint32_t i = 0; i < n && s->expires > 0; i++) {
		uint32_t b = s->expire_cursor++ & s->table[0].mask;
		for (ref_t r = buckets[b]; r;) {
			kvstore_item *it = kvstore_at(s, r);
			r = it->hnext;
			if (kvstore_expired(it, now)) {
				kvstore_remove(s, it);
				s->expired++;
				removed++;
			}
		}
	}
	return removed;
}

/* Evict the least recently used item of class c (LRU policy only);
 * returns 0, or -1 if the class holds none. */
static int kvstore_evict(struct kvstore *s, int c)
{
	kvstore_item *it = kvstore_at(s, s->classes[c].tail);
	if (!it)
		return -1;
	kvstore_remove(s, it);
	s->evicted++;
	return 0;
}

/* A slot of class c, or of a slightly larger class, following the order
 * in the file comment; NULL when the policy allows nothing more. */
static kvstore_item *kvstore_slot(struct kvstore *s, int c, int64_t *now)
{
	kvstore_item *it;
	if ((it = kvstore_pop_free(s, c)) || (it = kvstore_carve(s, c)))
		return it;
	int last =
	    c + KVSTORE_BORROW < (int)s->n_classes ? c + KVSTORE_BORROW : (int)s->n_classes - 1;
	/* Expired items first: they are garbage whatever the policy. */
	if (s->expires > 0 && kvstore_expire_scan(s, KVSTORE_REAP_BUCKETS, now) > 0)
		for (int b = c; b <= last; b++)
			if ((it = kvstore_pop_free(s, b)))
				return it;
	if (s->policy == KVSTORE_LRU && kvstore_evict(s, c) == 0)
		return kvstore_pop_free(s, c);
	for (int b = c + 1; b <= last; b++)
		if ((it = kvstore_pop_free(s, b)))
			return it;
	if (s->policy == KVSTORE_LRU)
		for (int b = c + 1; b <= last; b++)
			if (kvstore_evict(s, b) == 0)
				return kvstore_pop_free(s, b);
	return NULL;
}

kvstore_item *kvstore_alloc(struct kvstore *s, const void *key, size_t klen, size_t vlen,
                            int64_t *now)
{
	return kvstore_alloc_spare(s, key, klen, vlen, 0, now);
}

kvstore_item *kvstore_alloc_spare(struct kvstore *s, const void *key, size_t klen, size_t vlen,
                                  size_t spare, int64_t *now)
{
	uint64_t need = sizeof(kvstore_item) + (uint64_t)klen + (uint64_t)vlen;
	int c = klen > UINT32_MAX || vlen > UINT32_MAX ? -1 : kvstore_class_for(s, need);
	kvstore_item *it = NULL;
	/* The larger slot only when one is there for the taking. */
	int roomy =
	    c < 0 || !spare || vlen + spare > UINT32_MAX ? -1 : kvstore_class_for(s, need + spare);
	if (roomy > c && !(it = kvstore_pop_free(s, roomy)))
		it = kvstore_carve(s, roomy);
	if (!it && c >= 0)
		it = kvstore_slot(s, c, now);
	if (!it) {
		s->oom++;
		return NULL;
	}
	uint8_t cls = it->cls;
	memset(it, 0, sizeof(*it));
	it->cls = cls;
	it->klen = (uint32_t)klen;
	it->vlen = (uint32_t)vlen;
	it->hash = kvstore_hash(s, key, klen);
	memcpy(it->data, key, klen);
	return it;
}

void kvstore_discard(struct kvstore *s, kvstore_item *it)
{
	kvstore_slot_free(s, it);
}

int kvstore_link(struct kvstore *s, kvstore_item *it, int64_t expire_at)
{
	kvstore_item *old = kvstore_lookup(s, it->hash, it->data, it->klen);
	if (old)
		kvstore_remove(s, old);
	/* While resizing, new items go to the new table. */
	ref_t *head =
	    kvstore_rehashing(s) ? kvstore_bucket(s, 1, it->hash) : kvstore_bucket(s, 0, it->hash);
	it->expire_at = expire_at;
	it->live = 1;
	kvstore_changed(s, it->hash);
	it->hnext = *head;
	*head = kvstore_ref(s, it);
	if (s->policy == KVSTORE_LRU)
		kvstore_lru_push(s, it);
	s->classes[it->cls].items++;
	s->used += s->classes[it->cls].size;
	s->keys++;
	if (expire_at)
		s->expires++;
	kvstore_maybe_grow(s);
	return old != NULL;
}

int kvstore_delete(struct kvstore *s, const void *key, size_t klen, int64_t *now)
{
	kvstore_item *it = kvstore_find(s, key, klen, now, 0);
	if (!it)
		return 0;
	kvstore_remove(s, it);
	return 1;
}

uint64_t kvstore_item_bytes(const struct kvstore *s, const kvstore_item *it)
{
	return s->classes[it->cls].size;
}

const uint8_t *kvstore_key(const kvstore_item *it, size_t *klen)
{
	*klen = it->klen;
	return it->data;
}

/* ---- scanning ------------------------------------------------------------------- */

static uint64_t kvstore_reverse_bits(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
	v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
	v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
	v = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8);
	v = ((v >> 16) & 0x0000ffff0000ffffull) | ((v & 0x0000ffff0000ffffull) << 16);
	return (v >> 32) | (v << 32);
}

/* The cursor after v for a table of the given mask.  Cursors count with
 * their bits reversed: the next bucket flips the highest bit of the mask
 * first.  A bucket of a table twice the size splits into the buckets with
 * the same low bits, which are then the very next cursors, so growing
 * between two steps neither skips a bucket nor goes back. */
static uint64_t kvstore_cursor_next(uint64_t v, uint64_t mask)
{
	v |= ~mask;
	v = kvstore_reverse_bits(v);
	v++;
	return kvstore_reverse_bits(v);
}

static void kvstore_scan_chain(struct kvstore *s, ref_t r, int64_t *now,
                               void (*fn)(void *arg, const kvstore_item *it), void *arg)
{
	while (r) {
		kvstore_item *it = kvstore_at(s, r);
		r = it->hnext;
		if (kvstore_expired(it, now)) {
			kvstore_remove(s, it);
			s->expired++;
		} else {
			fn(arg, it);
		}
	}
}

uint64_t kvstore_scan(struct kvstore *s, uint64_t cursor, int64_t *now,
                      void (*fn)(void *arg, const kvstore_item *it), void *arg)
{
	uint64_t small = s->table[0].mask;
	kvstore_scan_chain(s, kvstore_buckets(s, 0)[cursor & small], now, fn, arg);
	if (!kvstore_rehashing(s))
		return kvstore_cursor_next(cursor, small);
	/* Doubling: the old bucket (empty once moved) and every bucket of the
	 * new table it splits into; they differ in the bits of large only. */
	uint64_t large = s->table[1].mask;
	do {
		kvstore_scan_chain(s, kvstore_buckets(s, 1)[cursor & large], now, fn, arg);
		cursor = kvstore_cursor_next(cursor, large);
	} while (cursor & (small ^ large));
	return cursor;
}

void kvstore_flush(struct kvstore *s)
{
	kvstore_reset(s);
}

void kvstore_expire_some(struct kvstore *s, int64_t *now)
{
	if (s->expires > 0 || kvstore_rehashing(s))
		kvstore_expire_scan(s, KVSTORE_EXPIRE_STEP, now);
}

void kvstore_get_stats(const struct kvstore *s, struct kvstore_stats *st)
{
	st->keys = s->keys;
	st->expires = s->expires;
	st->used = s->used;
	st->max_memory = s->max_memory;
	st->hits = s->hits;
	st->misses = s->misses;
	st->expired = s->expired;
	st->evicted = s->evicted;
	st->oom = s->oom;
	st->created_unix = s->created_unix;
	st->policy = (int)s->policy;
	st->buckets = (uint64_t)s->table[kvstore_rehashing(s)].mask + 1;
}
